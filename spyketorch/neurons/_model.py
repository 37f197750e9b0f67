"""Parameters, settings, state and serialization of a neuron layer (private module).

:class:`LayerSettings` is the part of :class:`spyketorch.neurons.Neuron` that is not the
step: declared parameters as float64 buffers with one validation rule each, the scalar
settings (``ts``, ``threshold``, refractoriness, inhibition mode, noise), the state
tensors, ``state_dict`` hooks and copies. One rule per concept lives here.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Dict, List, Literal, NamedTuple, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from .. import _validation as _v

Number = Union[int, float]
ParamValue = Union[Number, Tensor, Sequence[float], None]

#: Accepted values of ``inhibition_mode``.
INHIBITION_MODES = ("feature", "location", "layer", "neuron", "none")


class Param(NamedTuple):
    """Declaration of one model parameter: its name, default and constraint.

    ``rule`` is ``"real"`` (any finite number or tensor), ``"positive"`` (> 0),
    ``"nonnegative"`` (>= 0), ``"negative"`` (< 0) or ``"optional"`` (a real value or ``None``).
    """

    name: str
    default: Any
    rule: str = "real"


@dataclass(frozen=True)
class ModelTraits:
    """How the shared step pipeline treats a model: one typed declaration per model class.

    A model class sets ``TRAITS = ModelTraits(...)`` (a subclass may derive its own with
    :func:`dataclasses.replace`); the base class reads nothing else to decide how to
    construct, validate and step the layer.

    Attributes:
        ts_below: names of the time-constant parameters the time step must stay below
            (the stability condition of a forward-Euler scheme, e.g. ``("tau_rc",)``):
            construction and every change refuse ``ts >= min(parameter)``. Empty for exact
            steps. Default: ``()``.
        second_variable: the model has a second state variable ``w`` (adaptation,
            recovery, the ``x`` of resonate-and-fire) advanced by its ``_adapt``.
            Default: False.
        spike_amplitude: ``"1/ts"`` or ``"1"`` (the ``_Simple`` models). Default: ``"1/ts"``.
        floored: default of ``clamp_at_rest`` (the potential is floored at rest every
            step). Default: True.
        capped: the dynamics can diverge (exponential, quadratic terms), so the state is
            clamped to a finite range every step. Default: False.
        potentials_before_reset: the step returns the potentials before the reset
            (EIF_Simple, as the reference). Default: False.

    Example:
        >>> ModelTraits(ts_below=("tau_rc",), capped=True).spike_amplitude
        '1/ts'
    """

    ts_below: Tuple[str, ...] = ()
    second_variable: bool = False
    spike_amplitude: Literal["1/ts", "1"] = "1/ts"
    floored: bool = True
    capped: bool = False
    potentials_before_reset: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.ts_below, tuple) or not all(isinstance(n, str) for n in self.ts_below):
            raise TypeError(f"ts_below must be a tuple of parameter names, got {self.ts_below!r}")
        if self.spike_amplitude not in ("1/ts", "1"):
            raise ValueError(f"spike_amplitude must be '1/ts' or '1', got {self.spike_amplitude!r}")


def is_scalar(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def as_param_tensor(name: str, value: Any) -> Tensor:
    """Convert a parameter value to a float64 tensor, with clear errors."""
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


class LayerSettings(nn.Module):
    """Declared parameters (float64 buffers), settings and state of a layer; the subclass
    (:class:`spyketorch.neurons.Neuron`) sets them up in its ``__init__`` and provides
    ``_validate`` and the step.

    Every change of a parameter, ``ts`` or the threshold calls ``_validate``, which checks
    the relations between the parameters declared so far (a constructor declares them one
    after another; the last declaration completes the check), so construction needs no
    "ready" flag."""

    #: whether the layer has a second state variable ``w`` (the subclass derives it from its traits).
    has_second_variable: bool = False

    def _validate(self) -> None:
        """Check relations between the parameters declared so far (nothing by default)."""

    def _declare_params(self, owner: type, **values: ParamValue) -> None:
        """Register the :attr:`PARAMS` declared by class ``owner`` from the constructor's values."""
        for p in owner.PARAMS:
            self._declare(p.name, values.pop(p.name, p.default), p.rule)
        if values:
            raise TypeError(f"{type(self).__name__} got undeclared parameters {sorted(values)}")

    def _declare(self, name: str, value: ParamValue, rule: str = "real") -> None:
        """Register one parameter as a float64 buffer with its validation rule."""
        self._param_names.append(name)
        self._param_rules[name] = rule
        self.register_buffer(name, None)
        self._set_param(name, value)

    def _set_param(self, name: str, value: ParamValue) -> None:
        rule = self._param_rules[name]
        if value is None:
            if rule != "optional":
                raise ValueError(f"{name} must not be None")
            self._buffers[name] = None
        else:
            t = check_param(name, value, rule)
            old = self._buffers.get(name)
            self._buffers[name] = t if old is None else t.to(old.device)
        self._coef = None
        self._validate()

    def __setattr__(self, name: str, value: Any) -> None:
        rules = self.__dict__.get("_param_rules")
        if rules is not None and name in rules:
            self._set_param(name, value)
        else:
            super().__setattr__(name, value)

    def param(self, name: str) -> Optional[Tensor]:
        """The float64 tensor of parameter ``name`` (None where unset)."""
        if name not in self._param_rules:
            raise ValueError(f"{type(self).__name__} has no parameter {name!r}")
        return self._buffers[name]

    def param_or_none(self, name: str) -> Optional[Tensor]:
        """The float64 tensor of parameter ``name``, None where unset or not declared."""
        return self._buffers.get(name) if name in self._param_rules else None

    def fresh_copy(self) -> "LayerSettings":
        """A deep copy of the layer with its state reset and without a ``torch.compile`` wrapper."""
        compiled = self.__dict__.get("_compiled")
        out = copy.deepcopy(self, {} if compiled is None else {id(compiled): None})
        out._compiled = None
        out.reset()
        return out

    @property
    def param_names(self) -> Tuple[str, ...]:
        """Names of every declared parameter, base ones first."""
        return tuple(self._param_names)

    @property
    def ts(self) -> float:
        """Time step in seconds."""
        return self._ts

    @ts.setter
    def ts(self, value: float) -> None:
        self._ts = check_ts(value)
        self._coef = None
        self._validate()

    @property
    def threshold(self) -> Optional[float]:
        """Layer-wise firing threshold (``None``: never fires)."""
        return self._threshold

    @threshold.setter
    def threshold(self, value: Optional[float]) -> None:
        self._threshold = check_threshold(value)
        self._coef = None
        self._validate()

    @property
    def refractory_timesteps(self) -> int:
        """Number of steps an inhibited neuron stays at rest."""
        return self._refractory_timesteps

    @refractory_timesteps.setter
    def refractory_timesteps(self, value: int) -> None:
        self._refractory_timesteps = check_steps(value)
        self._coef = None

    @property
    def clamp_at_rest(self) -> bool:
        """Whether the potential is floored at the resting potential every step."""
        return self._clamp_at_rest

    @clamp_at_rest.setter
    def clamp_at_rest(self, value: bool) -> None:
        self._clamp_at_rest = bool(value)
        self._coef = None

    @property
    def refractoriness(self) -> float:
        """Refractory period in seconds (``refractory_timesteps * ts``)."""
        return self._refractory_timesteps * self._ts

    @property
    def inhibition_mode(self) -> str:
        """Which neurons the k winners put into refractoriness."""
        return self._inhibition_mode

    @inhibition_mode.setter
    def inhibition_mode(self, value: str) -> None:
        value = "none" if value is None else value
        if value not in INHIBITION_MODES:
            raise ValueError(f"inhibition_mode must be one of {INHIBITION_MODES}, got {value!r}")
        self._inhibition_mode = value

    @property
    def noise_std(self) -> float:
        r"""Membrane noise :math:`\sigma` (per-step std :math:`\sigma\sqrt{t_s}`)."""
        return self._noise_std

    @noise_std.setter
    def noise_std(self, value: float) -> None:
        value = _v.non_negative(value, "noise_std")
        self._noise_std = float(value)

    def reset(self) -> None:
        """Forget the state (potentials, refractoriness, adaptation): the next call starts fresh.

        Parameters, including ``per_neuron_thresh`` and sampled time constants, are kept.
        """
        self._buffers["v"] = None
        self._buffers["refractory"] = None
        self._buffers["w"] = None

    @property
    def previous_state(self) -> Optional[Tensor]:
        """Membrane potentials after the last step (reference name)."""
        return self._buffers["v"]

    @property
    def refractory_periods(self) -> Optional[Tensor]:
        """Remaining refractoriness in seconds (reference name and unit)."""
        r = self._buffers["refractory"]
        return None if r is None else r * self._ts

    def get_state(self) -> Dict[str, Optional[Tensor]]:
        """The layer's state tensors (``v``, ``refractory`` in steps, ``w``), cloned."""
        return {k: (None if self._buffers[k] is None else self._buffers[k].clone()) for k in ("v", "refractory", "w")}

    def load_state(self, state: Dict[str, Optional[Tensor]]) -> None:
        """Restore a state returned by :meth:`get_state`.

        ``state['v']`` is a finite floating ``[B, C, H, W]`` tensor (float16/bfloat16 are kept
        in float32, as the layer does); ``refractory`` (steps: whole numbers >= 0) and ``w``
        (finite) are None or of the same shape. Anything else raises ``ValueError``/``TypeError``
        naming the entry, and the layer keeps its state.
        """
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict as returned by get_state(), got {type(state).__name__}")
        v = state.get("v")
        if v is None:
            self.reset()
            return
        if not isinstance(v, Tensor) or v.dim() != 4:
            got = f"shape {tuple(v.shape)}" if isinstance(v, Tensor) else type(v).__name__
            raise ValueError(f"state['v'] must be a [B, C, H, W] tensor, got {got}")
        _v.float_tensor(v, "state['v']")
        _v.finite_tensor(v, "state['v']")
        v = v.to(compute_dtype(v.dtype))
        r = state.get("refractory")
        w = state.get("w")
        for key, t in (("refractory", r), ("w", w)):
            if t is not None:
                _v.real_tensor(t, f"state[{key!r}]")
                if t.shape != v.shape:
                    raise ValueError(f"state[{key!r}] has shape {tuple(t.shape)}, state['v'] {tuple(v.shape)}: "
                                     f"they must agree")
                _v.finite_tensor(t, f"state[{key!r}]")
        if r is not None:
            r = r.to(v)
            if not bool(((r >= 0) & (r == r.round())).all()):
                raise ValueError("state['refractory'] must hold whole numbers of steps >= 0")
        self._buffers["v"] = v.clone()
        self._buffers["refractory"] = (torch.zeros_like(v) if r is None else r.clone())
        if self.has_second_variable:
            self._buffers["w"] = (torch.zeros_like(v) if w is None else w.to(v).clone())

    def get_params(self) -> Dict[str, Any]:
        """Parameters and settings as a dict (numbers for scalars, tensors otherwise)."""
        params: Dict[str, Any] = {
            "threshold": self._threshold,
            "ts": self._ts,
            "refractory_timesteps": self._refractory_timesteps,
            "inhibition_mode": self._inhibition_mode,
            "clamp_at_rest": self.clamp_at_rest,
            "noise_std": self._noise_std,
        }
        for name in self._param_names:
            t = self._buffers[name]
            params[name] = None if t is None else (float(t.item()) if t.numel() == 1 else t.clone())
        return params

    def extra_repr(self) -> str:
        parts = []
        for k, v in self.get_params().items():
            if v is None:
                continue
            if isinstance(v, Tensor):
                parts.append(f"{k}=tensor{tuple(v.shape)}")
            elif isinstance(v, float):
                parts.append(f"{k}={v:g}")
            else:
                parts.append(f"{k}={v!r}")
        return ", ".join(parts)

    def get_extra_state(self) -> Dict[str, Any]:
        return {
            "threshold": self._threshold,
            "ts": self._ts,
            "refractory_timesteps": self._refractory_timesteps,
            "inhibition_mode": self._inhibition_mode,
            "clamp_at_rest": self.clamp_at_rest,
            "noise_std": self._noise_std,
        }

    def set_extra_state(self, state: Dict[str, Any]) -> None:
        self._ts = check_ts(state["ts"])
        self.threshold = state["threshold"]
        self.refractory_timesteps = state["refractory_timesteps"]
        self.inhibition_mode = state["inhibition_mode"]
        self.clamp_at_rest = state["clamp_at_rest"]
        self.noise_std = state.get("noise_std", 0.0)
        self._validate()

    def _load_from_state_dict(self, state_dict: Dict[str, Any], prefix: str, local_metadata: Any, strict: bool,
                              missing_keys: List[str], unexpected_keys: List[str],
                              error_msgs: List[str]) -> None:  # type: ignore[override]
        # Parameters may change between scalar, tensor and None: shape our buffers
        # like the incoming ones before the generic loader copies values in.
        # the values bypass the setters: each must obey its rule (the relations are checked
        # after loading), all checked before anything is changed
        checked = {name: check_param(name, state_dict[prefix + name], self._param_rules[name])
                   for name in self._param_names if prefix + name in state_dict}
        for name in self._param_names:
            key = prefix + name
            if key in state_dict:
                src = checked[name]
                cur = self._buffers.get(name)
                dev = cur.device if cur is not None else torch.device("cpu")
                self._buffers[name] = torch.empty(src.shape, dtype=torch.float64, device=dev)
            elif self._param_rules[name] == "optional":
                self._buffers[name] = None
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)
        self._coef = None
        self._validate()

    def _apply(self, fn: Any, recurse: bool = True) -> "LayerSettings":  # type: ignore[override]
        out = super()._apply(fn, recurse)
        self._coef = None
        return out


def check_k(n_winners: Any) -> int:
    return _v.n_winners(n_winners)


# ---------------------------------------------------------------------------- half precision
#: Input dtypes whose layer state is kept, and whose step is computed, in float32: float16
#: (largest value 65504) cannot hold the state of the nonlinear models, bfloat16 (8 significant
#: bits) cannot count refractory steps past 256, neither holds a refractory count past 2048.
HALF_DTYPES = (torch.float16, torch.bfloat16)


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
    """Refuse settings the dtypes cannot represent (checked once per device and dtype).

    The spike amplitude (``1/ts``) must be finite in the output dtype and the refractory
    count an exact integer in the state dtype (``2**24`` steps for float32).
    """
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
    state cap of :func:`state_cap` (the largest potential the output dtype returns).
    ``params`` maps names to values on the device: Python floats for scalars, tensors
    already in ``dtype``. One host sync, once per device and dtype."""
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


def check_constants_finite(layer: str, operands: Sequence[Any], fields: Sequence[str], dtype: torch.dtype,
                           params: Dict[str, Any]) -> None:
    """Refuse per-step constants (``operands``, tensors in ``dtype`` named ``fields``) that
    overflow ``dtype`` although every parameter fits (e.g. ``ts/C`` with ``C=1e-300``); the
    message lists the parameters (``params``) they come from."""
    top = torch.finfo(dtype).max
    bad = [f for f, v in zip(fields, operands) if not _fits(v, top)]
    if bad:
        shown = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}=tensor{tuple(v.shape)}"
                          for k, v in params.items() if v is not None)
        raise ValueError(f"the parameters of {layer} ({shown}) give per-step constants {bad} that are not finite "
                         f"in {dtype}; use a wider dtype or parameters of a smaller range")


# ---------------------------------------------------------------------------- checked arguments
def izhikevich_reset(c: Any, v_reset: Any) -> Any:
    """The reset potential ``c`` of an Izhikevich layer given ``c`` and/or its alias ``v_reset``
    (both checked; None and None: -65 mV)."""
    if v_reset is not None:
        rv = as_param_tensor("v_reset", v_reset)
        if c is None:
            return v_reset
        rc = as_param_tensor("c", c)
        if rc.shape != rv.shape or not torch.equal(rc, rv):
            raise ValueError(f"c={c!r} and v_reset={v_reset!r} disagree: both are the reset potential of the "
                             f"Izhikevich model (c defaults to -65.0); give c, or v_reset with c=None")
    return -65.0 if c is None else c


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


def seed_generator(generator: Any, seed: Any) -> Optional[torch.Generator]:
    """The CPU generator the sampled parameters are drawn from: ``generator``, one seeded
    with ``seed`` (an int in ``[0, 2**64)``), or None (torch's global generator)."""
    if generator is not None and seed is not None:
        raise ValueError("give either generator or seed, not both")
    if seed is not None:
        s = _v.non_negative_int(seed, "seed")
        if s >= 2 ** 64:
            raise ValueError(f"seed must be an int in [0, 2**64), got {s}")
        return torch.Generator().manual_seed(s)
    return check_generator(generator)


def check_generator(generator: Any) -> Optional[torch.Generator]:
    if generator is None:
        return None
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if generator.device.type != "cpu":
        raise ValueError(f"generator must be a CPU generator (time constants are drawn on the CPU), "
                         f"got one on {generator.device}")
    return generator
