"""Parameter declarations and the checks of a neuron layer's settings.

A model declares each of its parameters once, as a :class:`Param` (name, default, rule);
the layer stores the values as float64 buffers and checks every value against its rule
whenever it is set (construction, attribute assignment, ``load_state_dict``). The
functions here are the one place each rule is written.

Example:
    >>> from spyketorch.neurons import INHIBITION_MODES
    >>> INHIBITION_MODES
    ('feature', 'location', 'layer', 'neuron', 'none')
"""
from __future__ import annotations

import math
from typing import Any, Dict, NamedTuple, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from .. import _validation as _v

Number = Union[int, float]
ParamValue = Union[Number, Tensor, Sequence[float], None]

#: Accepted values of ``inhibition_mode``.
INHIBITION_MODES = ("feature", "location", "layer", "neuron", "none")
#: Rules a :class:`Param` may declare.
RULES = ("real", "positive", "nonnegative", "negative", "optional")
#: Input dtypes whose layer state is kept, and whose step is computed, in float32: float16
#: (largest value 65504) cannot hold the state of the nonlinear models, bfloat16 (8 significant
#: bits) cannot count refractory steps past 256, neither holds a refractory count past 2048.
HALF_DTYPES = (torch.float16, torch.bfloat16)


class Param(NamedTuple):
    """Declaration of one model parameter: its name, default and rule.

    Args:
        name: the parameter's name (constructor argument, attribute and ``state_dict`` key).
        default: its default value (``None`` only for ``"optional"`` parameters).
        rule: ``"real"`` (any finite number or tensor), ``"positive"`` (> 0),
            ``"nonnegative"`` (>= 0), ``"negative"`` (< 0) or ``"optional"`` (a real
            value or ``None``). Default: ``"real"``.
        follows: for an optional parameter, what ``None`` means: ``"threshold"`` (it
            follows the threshold, :math:`\\vartheta - |\\vartheta|/4`, per neuron when
            ``per_neuron_thresh`` is set). Default: None.

    Example:
        >>> Param("tau_rc", 0.02, "positive")
        Param(name='tau_rc', default=0.02, rule='positive', follows=None)
    """

    name: str
    default: Any
    rule: str = "real"
    follows: Optional[str] = None


_PARAMS_TYPES: Dict[Tuple[str, ...], type] = {}


def params_type(names: Tuple[str, ...]) -> type:
    """A named-tuple type ``Params`` with the fields ``names`` (one per set of names): the
    container a step reads its parameters from (``p.tau_rc``)."""
    t = _PARAMS_TYPES.get(names)
    if t is None:
        t = _PARAMS_TYPES[names] = NamedTuple("Params", [(n, Any) for n in names])  # type: ignore[misc]
    return t


def is_scalar(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def as_param_tensor(name: str, value: Any) -> Tensor:
    """``value`` as a float64 tensor, or ``TypeError``/``ValueError`` naming ``name``."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a real number or a tensor, got bool")
    if isinstance(value, Tensor):
        if value.dtype.is_complex or value.dtype == torch.bool:
            raise TypeError(f"{name} must be a real tensor, got dtype {value.dtype}")
        t = value.detach().to(torch.float64)
    elif is_scalar(value):
        t = torch.tensor(float(value), dtype=torch.float64)
    elif isinstance(value, (list, tuple)):
        try:
            t = torch.tensor(value, dtype=torch.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be a number or a tensor: {exc}") from None
    else:
        raise TypeError(f"{name} must be a number or a tensor, got {type(value).__name__}")
    if t.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return t


def check_param(name: str, value: Any, rule: str) -> Tensor:
    """A declared parameter's value as a float64 tensor, checked against its rule."""
    t = as_param_tensor(name, value)
    if rule == "positive" and not bool((t > 0).all()):
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if rule == "negative" and not bool((t < 0).all()):
        raise ValueError(f"{name} must be < 0, got {value!r}")
    if rule == "nonnegative" and not bool((t >= 0).all()):
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    if t.dim() > 4:
        raise ValueError(f"{name} must broadcast against [B, C, H, W], got shape {tuple(t.shape)}")
    return t


def check_ts(ts: Any) -> float:
    if isinstance(ts, Tensor):
        raise TypeError(f"ts must be a number, got {type(ts).__name__}")
    ts = _v.positive(ts, "ts")
    if not math.isfinite(1.0 / ts):
        raise ValueError(f"ts={ts!r} is too small: the spike amplitude 1/ts overflows float64")
    return ts


def check_threshold(value: Any) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, Tensor) and value.numel() != 1:
        raise ValueError("threshold must be a scalar; use per_neuron_thresh for a tensor of thresholds")
    return _v.finite_real(value, "threshold")


def check_steps(value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 2.0 steps is 2 steps
    return _v.non_negative_int(value, "refractory_timesteps")


def check_mode(value: Any) -> str:
    value = "none" if value is None else value
    if value not in INHIBITION_MODES:
        raise ValueError(f"inhibition_mode must be one of {INHIBITION_MODES}, got {value!r}")
    return value


def check_k(n_winners: Any) -> int:
    return _v.n_winners(n_winners)


def check_generator(generator: Any, name: str = "generator", cpu: bool = True) -> Optional[torch.Generator]:
    if generator is None:
        return None
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"{name} must be a torch.Generator, got {type(generator).__name__}")
    if cpu and generator.device.type != "cpu":
        raise ValueError(f"{name} must be a CPU generator (time constants are drawn on the CPU), "
                         f"got one on {generator.device}")
    return generator


def seed_generator(generator: Any, seed: Any) -> Optional[torch.Generator]:
    """The CPU generator sampled parameters are drawn from: ``generator``, one seeded with
    ``seed`` (an int in ``[0, 2**64)``), or None (torch's global generator)."""
    if generator is not None and seed is not None:
        raise ValueError("give either generator or seed, not both")
    if seed is not None:
        s = _v.non_negative_int(seed, "seed")
        if s >= 2 ** 64:
            raise ValueError(f"seed must be an int in [0, 2**64), got {s}")
        return torch.Generator().manual_seed(s)
    return check_generator(generator)


def alias_param(value: Any, alias_value: Any, name: str, alias: str) -> Any:
    """A parameter given under its name or its alias (not both); checked under the name used."""
    if alias_value is None:
        return value
    if value is not None:
        raise TypeError(f"give either {name} or {alias}, not both")
    as_param_tensor(alias, alias_value)
    return alias_value


def tau_range(value: Any, ts: float, euler: bool, layer: str) -> Tuple[float, float]:
    """The ``(low, high)`` range of sampled time constants: ``0 < low <= high`` and, for a
    forward-Euler model, ``ts < low``."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) or len(value) != 2:
        raise TypeError(f"tau_range must be a (low, high) pair, got {value!r}")
    lo, hi = _v.real_pair(value, "tau_range")
    if not 0 < lo <= hi:
        raise ValueError(f"tau_range must satisfy 0 < low <= high, got {tuple(value)!r}")
    check_euler_taus(lo, ts, euler, layer, "tau_range[0]")
    return lo, hi


def check_euler_taus(tau_min: float, ts: float, euler: bool, layer: str, name: str) -> None:
    """A forward-Euler model needs ``ts`` below its smallest time constant ``tau_min`` (named ``name``)."""
    if euler and not ts < tau_min:
        raise ValueError(f"ts={ts:g} is too large for the forward-Euler scheme of {layer}: "
                         f"it needs ts < {name} = {tau_min:g}")


def check_for_input(layer: str, tensors: Dict[str, Optional[Tensor]], p: Any, sample: Tuple[int, ...],
                    dtype: torch.dtype, out_dtype: torch.dtype, threshold: Optional[float], amplitude: float,
                    refractory_timesteps: int, values: bool = True) -> None:
    """Refuse a layer's parameters for input of one-sample shape ``sample`` in ``dtype``
    (outputs in ``out_dtype``): per-neuron parameters that do not broadcast to a sample, and
    (with ``values``: reads tensor values on the host) parameters or settings the dtypes
    cannot represent. ``tensors`` are the float64 parameters, ``p`` their values in ``dtype``."""
    for name, t in tensors.items():
        if t is not None and t.numel() > 1:
            try:
                ok = torch.broadcast_shapes(tuple(t.shape), sample) == sample
            except RuntimeError:
                ok = False
            if not ok:
                raise ValueError(f"{name} has shape {tuple(t.shape)}, which does not broadcast to one sample {sample}")
    if values:
        given = {k: v for k, v in p._asdict().items() if k in tensors}
        check_params_fit(layer, dict(given, threshold=threshold), dtype, out_dtype)
    check_dtype_range(layer, p.ts, amplitude, refractory_timesteps, dtype, out_dtype)


# ---------------------------------------------------------------------------- dtypes
def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype a layer keeps its state in and steps in for inputs of ``dtype``."""
    return torch.float32 if dtype in HALF_DTYPES else dtype


def state_cap(dtype: torch.dtype, out_dtype: torch.dtype) -> float:
    """Largest state magnitude kept: squares of it stay finite in ``dtype`` (the nonlinear
    models), and the potentials and their change over a step stay finite in ``out_dtype``."""
    cap = math.sqrt(torch.finfo(dtype).max) / 16.0
    return min(cap, torch.finfo(out_dtype).max / 4.0)


def check_dtype_range(layer: str, ts: float, amplitude: float, refractory_timesteps: int,
                      dtype: torch.dtype, out_dtype: torch.dtype) -> None:
    """Refuse settings the dtypes cannot represent: the spike amplitude (``1/ts``) must be
    finite in the output dtype and the refractory count an exact integer in the state dtype."""
    top = torch.finfo(out_dtype).max
    if not amplitude <= top:
        raise ValueError(
            f"ts={ts:g} is too small for {out_dtype} input to {layer}: the spike amplitude 1/ts = {amplitude:g} "
            f"exceeds the largest {out_dtype} ({top:g}); use ts >= {1.0 / top:.3g} or a wider dtype")
    exact = 2.0 / torch.finfo(dtype).eps  # every integer up to this is exact
    if refractory_timesteps > exact:
        raise ValueError(
            f"refractory_timesteps={refractory_timesteps} is too large for {layer} with {dtype} state: "
            f"counts above {int(exact)} are not exact; use float64 input")


def _fits(v: Any, top: float) -> bool:
    if isinstance(v, Tensor):
        return not (v.is_floating_point() and v.numel()) or bool(torch.isfinite(v).all())
    return not isinstance(v, float) or abs(v) <= top


def check_params_fit(layer: str, params: Dict[str, Any], dtype: torch.dtype, out_dtype: torch.dtype) -> None:
    """Refuse parameters finite in float64 that overflow the state dtype ``dtype`` (e.g.
    ``resting_potential=1e300`` with float32 input) or, for half-precision input, exceed the
    state cap of :func:`state_cap`. ``params`` maps names to values on the device: Python
    floats for scalars, tensors already in ``dtype``."""
    top = torch.finfo(dtype).max
    limit = state_cap(dtype, out_dtype) if out_dtype in HALF_DTYPES else top

    def fits(v: Any) -> bool:
        if isinstance(v, Tensor):
            return _fits(v, top) and (limit == top or not v.numel() or bool((v.abs() <= limit).all()))
        return not isinstance(v, float) or abs(v) <= limit

    bad = [k for k, v in params.items() if v is not None and not fits(v)]
    if bad:
        what = (f"overflow {dtype} (largest finite value {top:g})" if limit == top
                else f"exceed {limit:g}, the largest state kept for {out_dtype} input")
        raise ValueError(f"{', '.join(bad)} of {layer} {what}; use a wider dtype or smaller values")
