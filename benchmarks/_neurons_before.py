r"""Stateful spiking-neuron layers for convolutional SNNs.

Every layer consumes the potentials of a convolution one time step at a time and
runs the same pipeline, written once in :class:`Neuron`:

1. **integrate** – the model's hook advances the membrane potential ``u`` (and any
   adaptation variable ``w``) by one step of its ODE;
2. **refractory clamp** – neurons that are still refractory sit at the resting
   potential;
3. **floor / cap** – most models never go below rest (``clamp_at_rest``); every
   nonlinear model is capped to a finite range so strong input never produces
   ``inf``/``NaN``;
4. **threshold** – a neuron spikes when ``u >= threshold`` (layer-wise or per neuron);
5. **spikes** – amplitude :math:`1/t_s` (1 for the ``_Simple`` models);
6. **k-winners-take-all** per sample – the ``k`` spiking neurons with the highest
   potential, at most one per feature map;
7. **lateral inhibition** – the winners put their feature map (``"feature"``), their
   location across maps (``"location"``), the whole layer (``"layer"``), only the
   neurons that spiked (``"neuron"``) or nothing (``"none"``) into refractoriness
   for ``refractory_timesteps`` steps;
8. **reset** of every neuron that spiked (``v_reset``) and the model's after-spike
   jump (e.g. adaptation :math:`w \mathrel{+}= b`).

A model only adds its parameters, its right-hand side :meth:`Neuron.ode`, its
``_integrate`` step and, if any, its adaptation update.

The call contract follows the SpykeTorch ``neurons`` module::

    spikes, [thresholded,] potentials, [dudt,] [winners,] [winning_spikes]
        = layer(potentials, return_thresholded_potentials=False, return_dudt=False,
                return_winners=True, n_winners=1, return_winning_spikes=False)

and :meth:`Neuron.step` returns a :class:`StepOutput` named tuple of tensors that
never leaves the device.

Differences from the reference implementation (on purpose, and documented on
each class): inputs are batches ``[B, C, H, W]`` of any size and every sample is
independent; state lives on the input's device and dtype; refractoriness is an
integer count of steps (the reference's seconds counter could keep a neuron one
step too long through rounding); LIF really resets and integrates the exact
exponential decay; ``_Simple`` models decay toward rest; the ``Uniform*`` layers
really use the time constants they sample; Izhikevich is the 2003 model with the
time step honoured.

Performance notes: the per-step path uses float 0/1 masks, ``lerp`` and
``maximum`` rather than boolean indexing, ``where`` or ``masked_fill`` (far slower
on CPU), never calls ``.item()`` and allocates only the tensors it returns.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

__all__ = [
    "StepOutput",
    "Neuron",
    "IF",
    "LIF",
    "LIF_Simple",
    "LIF_ode",
    "EIF",
    "EIF_Simple",
    "QIF",
    "AdEx",
    "Izhikevich",
    "HeterogeneousNeuron",
    "UniformLIF",
    "UniformLIF_Simple",
    "UniformEIF",
    "UniformQIF",
    "UniformAdEx",
    "UniformIzhikevich",
    "INHIBITION_MODES",
    "all_models",
]

Number = Union[int, float]
ParamValue = Union[Number, Tensor, Sequence[float], None]

#: Accepted values of ``inhibition_mode``.
INHIBITION_MODES = ("feature", "location", "layer", "neuron", "none")


class StepOutput(NamedTuple):
    """Everything one step of a neuron layer produces, as tensors on the input's device.

    Attributes:
        spikes: spike tensor ``[B, C, H, W]``; ``1/ts`` where a neuron fired (1 for
            the ``_Simple`` models), 0 elsewhere.
        potentials: membrane potentials after the step (after reset), ``[B, C, H, W]``.
            :class:`EIF_Simple` returns the potentials before reset, as the reference.
        thresholded: potentials of the neurons that fired (before reset), 0 elsewhere.
        dudt: change of the potential over the step, before reset, ``[B, C, H, W]``.
        winners: ``[B, k, 3]`` long tensor of ``(feature, row, col)``, best first,
            ``-1`` rows where fewer than ``k`` neurons won.
        winning_spikes: spikes of the winners only, ``[B, C, H, W]``.
    """

    spikes: Tensor
    potentials: Tensor
    thresholded: Tensor
    dudt: Tensor
    winners: Tensor
    winning_spikes: Tensor


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _as_param_tensor(name: str, value: Any) -> Tensor:
    """Convert a parameter value to a float64 tensor, with clear errors."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a real number or a tensor, got bool")
    if isinstance(value, Tensor):
        if value.dtype.is_complex or value.dtype == torch.bool:
            raise TypeError(f"{name} must be a real tensor, got dtype {value.dtype}")
        t = value.detach().to(torch.float64)
    elif _is_scalar(value):
        t = torch.tensor(float(value), dtype=torch.float64)
    elif isinstance(value, (list, tuple)):
        try:
            t = torch.tensor(value, dtype=torch.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be a number or a tensor: {exc}") from None
    else:
        raise TypeError(f"{name} must be a number or a tensor, got {type(value).__name__}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return t


class Neuron(nn.Module):
    r"""Base class of all neuron layers: parameters, state and the one step pipeline.

    Subclasses declare their parameters with :meth:`_declare`, implement
    :meth:`_integrate` (one step of their dynamics), :meth:`ode` (the right-hand side
    :math:`du/dt`, used by plots and tests) and, for two-dimensional models,
    :meth:`_adapt` and :meth:`ode_w`.

    Parameters are registered as float64 buffers, so ``.to(device)``, ``.double()``
    and ``state_dict()`` carry them; any of them may be a scalar or a tensor that
    broadcasts against one sample ``[C, H, W]`` (e.g. ``[C, 1, 1]`` for one value per
    feature map). The layer threshold is a plain number (or ``None``: the layer never
    fires); ``per_neuron_thresh`` is an optional tensor that overrides it.

    Membrane state is created lazily on the first call with the input's shape,
    device and dtype (parameters are cast once to that dtype); a later call with
    another shape, device or dtype raises ``ValueError`` until :meth:`reset`.

    Args:
        ts: time step in seconds. Default: 0.01.
        resting_potential: resting potential :math:`u_{rest}`. Default: 0.0.
        v_reset: potential after a spike; ``None`` means the resting potential.
            Default: None.
        threshold: firing threshold; ``None`` means the layer never fires (it only
            integrates). Default: None.
        refractory_timesteps: steps of refractoriness given to inhibited neurons.
            Default: 0.
        inhibition_mode: ``"feature"``, ``"location"``, ``"layer"``, ``"neuron"`` or
            ``"none"``. Default: ``"feature"``.
        clamp_at_rest: floor the potential at rest every step; ``None`` uses the
            model's default. Default: None.
        check_finite: raise ``ValueError`` on NaN/inf input. ``None`` checks on CPU
            (free) and skips on accelerators, where the check would cost a host sync
            every step. Default: None.
    """

    #: spike amplitude is ``1/ts`` unless the class sets this to False.
    _scaled_spikes: bool = True
    #: default of ``clamp_at_rest``.
    _default_clamp_at_rest: bool = True
    #: whether the dynamics can diverge (exponential/quadratic): cap the state.
    _nonlinear: bool = False
    #: whether the model has an adaptation variable ``w``.
    _has_adaptation: bool = False
    #: return the potentials before reset (EIF_Simple, as the reference).
    _returns_pre_reset: bool = False
    #: the model integrates with forward Euler and needs ``ts < tau_rc``.
    _euler: bool = False

    def __init__(
        self,
        ts: float = 0.01,
        resting_potential: ParamValue = 0.0,
        v_reset: ParamValue = None,
        threshold: Optional[float] = None,
        refractory_timesteps: int = 0,
        inhibition_mode: str = "feature",
        *,
        clamp_at_rest: Optional[bool] = None,
        check_finite: Optional[bool] = None,
    ) -> None:
        super().__init__()
        object.__setattr__(self, "_ready", False)
        self._param_names: List[str] = []
        self._param_rules: Dict[str, Tuple[bool, bool]] = {}
        self._coef: Optional[Dict[str, Any]] = None
        self._coef_key: Optional[Tuple[Any, ...]] = None
        self._ts = self._check_ts(ts)
        self.refractory_timesteps = refractory_timesteps
        self.inhibition_mode = inhibition_mode
        self.clamp_at_rest = self._default_clamp_at_rest if clamp_at_rest is None else bool(clamp_at_rest)
        self.check_finite = check_finite
        self._threshold: Optional[float] = None
        self.threshold = threshold
        self._declare("resting_potential", resting_potential)
        self._declare("v_reset", v_reset, allow_none=True)
        self._declare("per_neuron_thresh", None, allow_none=True)
        # state (not part of state_dict; see get_state / load_state)
        for name in ("v", "refractory", "w"):
            self.register_buffer(name, None, persistent=False)
        self._compiled: Any = None

    # ------------------------------------------------------------------ parameters
    def _declare(self, name: str, value: ParamValue, *, positive: bool = False, allow_none: bool = False) -> None:
        """Register a model parameter as a float64 buffer with its validation rule."""
        self._param_names.append(name)
        self._param_rules[name] = (positive, allow_none)
        self.register_buffer(name, None)
        self._set_param(name, value)

    def _set_param(self, name: str, value: ParamValue) -> None:
        positive, allow_none = self._param_rules[name]
        if value is None:
            if not allow_none:
                raise ValueError(f"{name} must not be None")
            self._buffers[name] = None
        else:
            t = _as_param_tensor(name, value)
            if positive and not bool((t > 0).all()):
                raise ValueError(f"{name} must be > 0, got {value!r}")
            if t.dim() > 4:
                raise ValueError(f"{name} must broadcast against [B, C, H, W], got shape {tuple(t.shape)}")
            old = self._buffers.get(name)
            if old is not None:
                t = t.to(old.device)
            self._buffers[name] = t
        self._coef = None
        if self._ready:
            self._validate()

    def __setattr__(self, name: str, value: Any) -> None:
        rules = self.__dict__.get("_param_rules")
        if rules is not None and name in rules:
            self._set_param(name, value)
        else:
            super().__setattr__(name, value)

    @staticmethod
    def _check_ts(ts: Any) -> float:
        if isinstance(ts, bool) or not _is_scalar(ts):
            raise TypeError(f"ts must be a number, got {type(ts).__name__}")
        if not math.isfinite(ts) or ts <= 0:
            raise ValueError(f"ts must be > 0, got {ts!r}")
        return float(ts)

    @property
    def ts(self) -> float:
        """Time step in seconds."""
        return self._ts

    @ts.setter
    def ts(self, value: float) -> None:
        self._ts = self._check_ts(value)
        self._coef = None
        if self._ready:
            self._validate()

    @property
    def threshold(self) -> Optional[float]:
        """Layer-wise firing threshold (``None``: never fires)."""
        return self._threshold

    @threshold.setter
    def threshold(self, value: Optional[float]) -> None:
        if value is not None:
            if isinstance(value, Tensor):
                if value.numel() != 1:
                    raise ValueError("threshold must be a scalar; use per_neuron_thresh for a tensor of thresholds")
                value = float(value.item())
            if isinstance(value, bool) or not _is_scalar(value):
                raise TypeError(f"threshold must be a number or None, got {type(value).__name__}")
            if not math.isfinite(value):
                raise ValueError(f"threshold must be finite, got {value!r}")
            value = float(value)
        self._threshold = value
        self._coef = None
        if self._ready:
            self._validate()

    @property
    def refractory_timesteps(self) -> int:
        """Number of steps an inhibited neuron stays at rest."""
        return self._refractory_timesteps

    @refractory_timesteps.setter
    def refractory_timesteps(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise TypeError(f"refractory_timesteps must be an int, got {value!r}")
        if value < 0:
            raise ValueError(f"refractory_timesteps must be >= 0, got {value}")
        self._refractory_timesteps = value

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
        if value is None:
            value = "none"
        if value not in INHIBITION_MODES:
            raise ValueError(f"inhibition_mode must be one of {INHIBITION_MODES}, got {value!r}")
        self._inhibition_mode = value

    def _validate(self) -> None:
        """Check parameter relations (called after construction and on every change)."""
        if self._euler:
            tau = self._buffers.get("tau_rc")
            if tau is not None and not bool((tau > self._ts).all()):
                raise ValueError(
                    f"ts={self._ts} is too large for the forward-Euler scheme of {type(self).__name__}: "
                    f"it needs ts < tau_rc (min tau_rc = {float(tau.min()):g})"
                )

    def _finish_init(self) -> None:
        object.__setattr__(self, "_ready", True)
        self._validate()

    # ------------------------------------------------------------------ state
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
        """Restore a state returned by :meth:`get_state` (shapes must agree with each other)."""
        v = state.get("v")
        if v is None:
            self.reset()
            return
        if not isinstance(v, Tensor) or v.dim() != 4:
            raise ValueError("state['v'] must be a [B, C, H, W] tensor")
        r = state.get("refractory")
        w = state.get("w")
        self._buffers["v"] = v.clone()
        self._buffers["refractory"] = (torch.zeros_like(v) if r is None else r.to(v).clone())
        if self._has_adaptation:
            self._buffers["w"] = (torch.zeros_like(v) if w is None else w.to(v).clone())

    def get_params(self) -> Dict[str, Any]:
        """Parameters and settings as a dict (numbers for scalars, tensors otherwise)."""
        params: Dict[str, Any] = {
            "threshold": self._threshold,
            "ts": self._ts,
            "refractory_timesteps": self._refractory_timesteps,
            "inhibition_mode": self._inhibition_mode,
            "clamp_at_rest": self.clamp_at_rest,
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
        }

    def set_extra_state(self, state: Dict[str, Any]) -> None:
        object.__setattr__(self, "_ready", False)
        self._ts = self._check_ts(state["ts"])
        self.threshold = state["threshold"]
        self.refractory_timesteps = state["refractory_timesteps"]
        self.inhibition_mode = state["inhibition_mode"]
        self.clamp_at_rest = state["clamp_at_rest"]
        self._finish_init()

    def _load_from_state_dict(self, state_dict: Dict[str, Any], prefix: str, local_metadata: Any, strict: bool,
                              missing_keys: List[str], unexpected_keys: List[str],
                              error_msgs: List[str]) -> None:  # type: ignore[override]
        # Parameters may change between scalar, tensor and None: shape our buffers
        # like the incoming ones before the generic loader copies values in.
        for name in self._param_names:
            key = prefix + name
            if key in state_dict:
                src = state_dict[key]
                cur = self._buffers.get(name)
                dev = cur.device if cur is not None else torch.device("cpu")
                self._buffers[name] = torch.empty(src.shape, dtype=torch.float64, device=dev)
            elif self._param_rules[name][1]:
                self._buffers[name] = None
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)
        self._coef = None

    def _apply(self, fn: Any, recurse: bool = True) -> "Neuron":  # type: ignore[override]
        out = super()._apply(fn, recurse)
        self._coef = None
        return out

    # ------------------------------------------------------------------ coefficients
    def _p(self, name: str, device: torch.device, dtype: torch.dtype) -> Union[float, Tensor, None]:
        """A parameter for the step: a Python float if scalar, else a tensor on device/dtype."""
        t = self._buffers.get(name)
        if t is None:
            return None
        if t.numel() == 1:
            return float(t.item())
        return t.to(device=device, dtype=dtype)

    def _effective_threshold(self, device: torch.device, dtype: torch.dtype) -> Union[float, Tensor]:
        pnt = self._p("per_neuron_thresh", device, dtype)
        if pnt is not None:
            return pnt
        return math.inf if self._threshold is None else self._threshold

    def _derived_from_threshold(self, name: str, device: torch.device, dtype: torch.dtype) -> Union[float, Tensor]:
        """``theta_rh``/``u_c`` when not given: 3/4 of a positive threshold (thr - |thr|/4)."""
        value = self._p(name, device, dtype)
        if value is not None:
            return value
        thr = self._effective_threshold(device, dtype)
        if isinstance(thr, float) and math.isinf(thr):
            raise ValueError(f"{name} is None and there is no threshold to derive it from; give {name} explicitly")
        return thr - abs(thr) * 0.25

    def _reset_value(self, device: torch.device, dtype: torch.dtype) -> Union[float, Tensor]:
        """Potential after a spike: ``v_reset``, or rest when it is None."""
        v_reset = self._p("v_reset", device, dtype)
        return self._p("resting_potential", device, dtype) if v_reset is None else v_reset

    def _coefficients(self, device: torch.device, dtype: torch.dtype) -> Dict[str, Any]:
        """Model-specific constants for :meth:`_integrate` (computed once per dtype/device)."""
        return {}

    def _prepare(self, x: Tensor) -> Dict[str, Any]:
        key = (x.device, x.dtype)
        if self._coef is not None and self._coef_key == key:
            return self._coef
        dev, dt = x.device, x.dtype
        shape = tuple(x.shape[1:])
        for name in self._param_names:
            t = self._buffers.get(name)
            if t is not None and t.numel() > 1:
                try:
                    ok = torch.broadcast_shapes(tuple(t.shape), shape) == shape
                except RuntimeError:
                    ok = False
                if not ok:
                    raise ValueError(
                        f"{name} has shape {tuple(t.shape)}, which does not broadcast to one sample {shape}"
                    )
        c: Dict[str, Any] = {}
        c["rest"] = self._p("resting_potential", dev, dt)
        c["v_reset"] = self._reset_value(dev, dt)
        thr = self._effective_threshold(dev, dt)
        c["thr"] = thr
        # lowest threshold: winners are the top potentials among neurons above it.
        c["thr_min"] = thr if isinstance(thr, float) else float(self._buffers["per_neuron_thresh"].min().item())
        c["uniform_thr"] = isinstance(thr, float)
        finfo = torch.finfo(dt)
        cap = math.sqrt(finfo.max) / 16.0
        c["cap"] = cap
        c["log_cap"] = math.log(cap)
        c["amp"] = 1.0 / self._ts if self._scaled_spikes else 1.0
        c["big"] = 4.0 * cap
        c["nbig"] = -4.0 * cap
        c["fast_floor"] = self.clamp_at_rest and not isinstance(c["rest"], Tensor)
        # tensors used as lerp/maximum operands must be tensors on the device
        c["rest_t"] = torch.as_tensor(c["rest"], dtype=dt, device=dev)
        c["one"] = 1.0
        c.update(self._coefficients(dev, dt))
        # 0-dim tensors of every scalar coefficient: a binary op with a cached 0-dim
        # operand skips wrapping a Python number on every call (about 1 us each on CPU)
        c["T"] = {k: torch.tensor(v, dtype=dt, device=dev) for k, v in c.items() if isinstance(v, float)}
        self._coef = c
        self._coef_key = key
        return c

    # ------------------------------------------------------------------ model hooks
    def _integrate(self, u: Tensor, I: Tensor, w: Optional[Tensor], c: Dict[str, Any]) -> Tensor:
        """Return a new tensor: the potential after one step from ``u`` with input ``I``
        (and adaptation ``w`` for two-dimensional models)."""
        raise NotImplementedError

    def _adapt(self, u: Tensor, spiked: Tensor, w: Tensor, c: Dict[str, Any]) -> Tensor:
        """Return the new adaptation variable from the clamped pre-reset potential ``u``."""
        raise NotImplementedError

    def _initial_w(self, v: Tensor, c: Dict[str, Any]) -> Tensor:
        return torch.zeros_like(v)

    def _initial_v(self, x: Tensor, c: Dict[str, Any]) -> Tensor:
        return c["rest_t"].expand_as(x).clone()

    def ode(self, u: Any, I: Any = 0.0, w: Any = None) -> Tensor:
        r"""Right-hand side :math:`du/dt` (units of ``u`` per second) for potentials ``u``
        and input ``I``, in float64; the step of the layer integrates this equation."""
        raise NotImplementedError

    def _f_ode(self, x: Any, I: Any = 0.0) -> Tensor:
        """Reference helper: :math:`\\tau_{rc}\\, du/dt` (the ODE in units of potential)."""
        tau = self._buffers.get("tau_rc")
        scale = float(tau.mean()) if tau is not None else 1.0
        return self.ode(x, I) * scale

    @staticmethod
    def _f64(x: Any) -> Tensor:
        return torch.as_tensor(x, dtype=torch.float64)

    def _param64(self, name: str) -> Union[float, Tensor]:
        t = self._buffers.get(name)
        if t is None:
            raise ValueError(f"{name} is not set")
        return float(t.item()) if t.numel() == 1 else t.to(torch.float64)

    # ------------------------------------------------------------------ the pipeline
    def _check_input(self, potentials: Tensor) -> None:
        if not isinstance(potentials, Tensor):
            raise TypeError(f"potentials must be a torch.Tensor, got {type(potentials).__name__}")
        if not potentials.is_floating_point():
            raise TypeError(f"potentials must have a floating dtype, got {potentials.dtype}")
        if potentials.dim() != 4:
            raise ValueError(f"potentials must be [B, C, H, W] (4-D), got shape {tuple(potentials.shape)}")
        cf = self.check_finite
        if cf or (cf is None and potentials.device.type == "cpu"):
            # one reduction; the exact check only runs if the sum is not finite (it can overflow)
            if not math.isfinite(float(potentials.sum())) and not bool(torch.isfinite(potentials).all()):
                raise ValueError("potentials contain NaN or inf")

    def _ensure_state(self, x: Tensor, c: Dict[str, Any]) -> None:
        v = self._buffers["v"]
        if v is None:
            v = self._initial_v(x, c)
            self._buffers["v"] = v
            self._buffers["refractory"] = torch.zeros_like(x)
            if self._has_adaptation:
                self._buffers["w"] = self._initial_w(v, c)
        elif v.shape != x.shape:
            raise ValueError(
                f"potentials changed shape from {tuple(v.shape)} to {tuple(x.shape)}; call reset() first"
            )
        elif v.device != x.device or v.dtype != x.dtype:
            raise ValueError(
                f"potentials moved from {v.device}/{v.dtype} to {x.device}/{x.dtype}; call reset() first"
            )
        if c.get("shape") != x.shape:  # shape-specific constants (index offsets, zero tensors)
            B, C, H, W = x.shape
            c["row_offsets"] = torch.arange(B, device=x.device).mul_(C).unsqueeze(1)
            c["zeros_bc"] = x.new_zeros((B, C))
            c["zeros_bhw"] = x.new_zeros((B, H * W))
            c["shape"] = x.shape

    @staticmethod
    def _check_k(n_winners: Any) -> int:
        if isinstance(n_winners, bool) or not isinstance(n_winners, int):
            raise TypeError(f"n_winners must be an int, got {type(n_winners).__name__}")
        if n_winners < 0:
            raise ValueError(f"n_winners must be >= 0, got {n_winners}")
        return n_winners

    def _advance(self, potentials: Tensor, k: int, want_thr: bool, want_dudt: bool, want_ws: bool,
                 want_winners: bool) -> Tuple[Tensor, Tensor, Optional[Tensor], Optional[Tensor],
                                              Optional[Tensor], Optional[Tensor]]:
        """Validate, create state, run :meth:`_kernel` and store the new state."""
        I = potentials.detach() if isinstance(potentials, Tensor) and potentials.requires_grad else potentials
        self._check_input(I)
        c = self._prepare(I)
        self._ensure_state(I, c)
        kernel = self._compiled if self._compiled is not None else self._kernel
        u_post, r_new, w_new, spikes, u_pre, thresholded, dudt, winners, ws = kernel(
            self._buffers["v"], self._buffers["refractory"], self._buffers["w"], I, c,
            min(k, I.shape[1]), want_thr, want_dudt, want_ws, want_winners)
        self._buffers["v"] = u_post
        self._buffers["refractory"] = r_new
        self._buffers["w"] = w_new
        if want_winners and k > I.shape[1]:
            winners = torch.cat((winners, winners.new_full((I.shape[0], k - I.shape[1], 3), -1)), dim=1)
        return spikes, (u_pre if self._returns_pre_reset else u_post), thresholded, dudt, winners, ws

    @staticmethod
    def _set_where(x: Tensor, mask: Tensor, value: Union[float, Tensor]) -> Tensor:
        """New tensor equal to ``value`` where the 0/1 float ``mask`` is 1 and ``x`` elsewhere (exactly)."""
        out = torch.addcmul(x, x, mask, value=-1.0)
        if isinstance(value, Tensor):
            return out.addcmul_(mask, value)
        if value != 0.0:
            out.add_(mask, alpha=value)
        return out

    def _kernel(self, u_prev: Tensor, r: Tensor, w: Optional[Tensor], I: Tensor, c: Dict[str, Any], kk: int,
                want_thr: bool, want_dudt: bool, want_ws: bool, want_winners: bool) -> Tuple[Any, ...]:
        """The step pipeline on tensors only: returns new tensors and mutates nothing it was
        given except the refractory counter ``r`` (internal state, updated in place).

        Written for few kernel launches: on CPU a small step is dominated by the
        per-call cost of each torch operation, so every saved call counts.
        """
        B, C, H, W = I.shape
        R = self._refractory_timesteps
        mode = self._inhibition_mode
        refractory = R > 0 and mode != "none"
        # 1. integrate (a new tensor)
        u = self._integrate(u_prev, I, w, c)
        # 2.+3. refractory clamp, floor at rest, finite cap
        if c["fast_floor"]:
            if refractory:  # r >= 1 where refractory: pushed far below rest, then floored to rest
                u.add_(r, alpha=c["nbig"])
            u.clamp_(c["rest"], c["cap"])
        else:
            if refractory:
                u = self._set_where(u, r.clamp(max=1.0), c["rest"])
            if self.clamp_at_rest:
                torch.maximum(u, c["rest_t"], out=u).clamp_(max=c["cap"])
            elif self._nonlinear:
                u.clamp_(-c["cap"], c["cap"])
        # 4. threshold as a float 0/1 mask (comparisons into a float tensor are fast)
        spiked = torch.ge(u, _o(c, "thr"), out=torch.empty_like(u))
        # 5. adaptation from the clamped, pre-reset potential
        w_new = self._adapt(u, spiked, w, c) if w is not None else None
        # 6. k-WTA: best spiking neuron of each map, then the k best maps
        loc = None
        if kk > 0:
            # with per-neuron thresholds, non-spiking neurons are pushed far below any spiking one
            score = u if c["uniform_thr"] else torch.add(u, spiked - 1.0, alpha=c["big"])
            sview = score.view(B, C, H * W)
            topv, topf = sview.amax(dim=2).topk(kk, dim=1)
            valid = topv >= _o(c, "thr_min")  # [B, k] bool
            if want_winners or want_ws or mode == "location":  # where in its map each winner is
                rows = (topf + c["row_offsets"]).view(-1)
                loc = sview.view(B * C, H * W).index_select(0, rows).argmax(dim=1).view(B, kk)
        # 7. lateral inhibition as refractoriness: r <- max(r - 1, R * inhibited); the new
        #    value R always exceeds what remains (r - 1 <= R - 1). clamp(min=tensor)
        #    broadcasts far faster on CPU than maximum.
        r_new = r
        if refractory:
            if kk == 0 and mode != "neuron":
                r_new = r.sub_(_o(c, "one")).clamp_(min=0.0)
            else:
                if mode == "neuron":
                    lim = spiked * float(R)
                else:
                    if c.get("R_val") != R:  # 0-dim R in the input dtype (bool * R keeps that dtype)
                        c["R_t"] = torch.tensor(float(R), dtype=u.dtype, device=u.device)
                        c["R_val"] = R
                    vals = valid * c["R_t"]
                    if mode == "feature":
                        lim = torch.scatter(c["zeros_bc"], 1, topf, vals).view(B, C, 1, 1)
                    elif mode == "location":
                        lim = torch.scatter_reduce(c["zeros_bhw"], 1, loc, vals, reduce="amax").view(B, 1, H, W)
                    else:  # layer
                        lim = vals.amax(dim=1).view(B, 1, 1, 1)
                r_new = r.sub_(_o(c, "one")).clamp_(min=lim)
        # 8. reset every neuron that spiked (exact: u - u*1 = 0, then + v_reset)
        u_post = self._set_where(u, spiked, c["v_reset"])
        thresholded = u * spiked if want_thr else None
        dudt = u - u_prev if want_dudt else None
        amp = c["amp"]
        spikes = spiked if amp == 1.0 else spiked.mul_(_o(c, "amp"))
        winners = None
        if want_winners:
            if kk > 0:
                winners = torch.stack((topf, torch.div(loc, W, rounding_mode="floor"), loc.remainder(W)), dim=2)
                winners = torch.where(valid.unsqueeze(2), winners, -1)
            else:
                winners = I.new_full((B, 0, 3), -1, dtype=torch.long)
        ws = None
        if want_ws:
            ws = I.new_zeros((B, C * H * W))
            if kk > 0:
                ws.scatter_(1, topf * (H * W) + loc, valid.to(u.dtype) * amp)
            ws = ws.view(B, C, H, W)
        return u_post, r_new, w_new, spikes, u, thresholded, dudt, winners, ws

    def step(self, potentials: Tensor, n_winners: int = 1) -> StepOutput:
        """Advance one time step and return every output as tensors (no host sync).

        Args:
            potentials: input potentials ``[B, C, H, W]`` (floating dtype).
            n_winners: number of winners ``k`` per sample. Default: 1.

        Returns:
            StepOutput: ``(spikes, potentials, thresholded, dudt, winners, winning_spikes)``
            with ``winners`` as a ``[B, k, 3]`` long tensor, ``-1`` padded.

        Shape:
            input ``[B, C, H, W]``; every output ``[B, C, H, W]`` except ``winners``.

        Example:
            >>> layer = LIF(threshold=10.0)
            >>> out = layer.step(torch.rand(8, 4, 6, 6) * 3000, n_winners=2)
            >>> out.winners.shape
            torch.Size([8, 2, 3])
        """
        k = self._check_k(n_winners)
        return StepOutput(*self._advance(potentials, k, True, True, True, True))

    def forward(
        self,
        potentials: Tensor,
        return_thresholded_potentials: bool = False,
        return_dudt: bool = False,
        return_winners: bool = True,
        n_winners: int = 1,
        return_winning_spikes: bool = False,
    ) -> Tuple[Any, ...]:
        """Advance one time step; returns the reference tuple.

        ``(spikes, [thresholded,] potentials, [dudt,] [winners,] [winning_spikes])``.
        ``winners`` is a list of ``(feature, row, col)`` tuples for a batch of one, and
        one such list per sample otherwise (converting it to Python costs one host
        sync; use :meth:`step` to stay on the device).

        Args:
            potentials: input potentials ``[B, C, H, W]``.
            return_thresholded_potentials: also return the thresholded potentials. Default: False.
            return_dudt: also return the change of potential over the step. Default: False.
            return_winners: also return the winners. Default: True.
            n_winners: winners per sample. Default: 1.
            return_winning_spikes: also return the winners' spikes. Default: False.

        Shape:
            input ``[B, C, H, W]``; tensors returned ``[B, C, H, W]``.

        Example:
            >>> layer = IF(threshold=1.0)
            >>> spikes, potentials, winners = layer(torch.full((1, 2, 3, 3), 400.0))
            >>> winners
            [(0, 0, 0)]
        """
        k = self._check_k(n_winners)
        spikes, u, thr, dudt, winners, ws = self._advance(
            potentials, k, return_thresholded_potentials, return_dudt, return_winning_spikes, return_winners)
        ret: Tuple[Any, ...] = (spikes,)
        if return_thresholded_potentials:
            ret += (thr,)
        ret += (u,)
        if return_dudt:
            ret += (dudt,)
        if return_winners:
            ret += (self.winners_to_list(winners),)
        if return_winning_spikes:
            ret += (ws,)
        return ret

    @staticmethod
    def winners_to_list(winners: Tensor) -> Union[List[Tuple[int, int, int]], List[List[Tuple[int, int, int]]]]:
        """Convert ``[B, k, 3]`` winners to the reference's list(s) of ``(feature, row, col)``."""
        rows = winners.tolist()
        lists = [[tuple(w) for w in sample if w[0] >= 0] for sample in rows]
        return lists[0] if len(lists) == 1 else lists

    def plot_ode(self, figure: Any = None, ax: Any = None, current: Optional[float] = None) -> Tuple[Any, Any]:
        """Plot :math:`du/dt` against :math:`u` (with and without ``current``); see
        :func:`spyketorch.plotting.plot_ode`. Returns ``(figure, axes)``."""
        from .plotting import plot_ode as _plot_ode  # lazy: matplotlib only when plotting

        return _plot_ode(self, figure=figure, ax=ax, current=current)

    def compile(self, **kwargs: Any) -> "Neuron":  # type: ignore[override]
        """Run the step pipeline through ``torch.compile`` (fuses its kernels).

        The first calls compile (seconds to a minute); later steps are faster, most of
        all for large batches. Keyword arguments go to ``torch.compile``. Returns self.
        """
        self._compiled = torch.compile(self._kernel, **kwargs)
        return self


# ---------------------------------------------------------------------- helpers for models
_compiling = getattr(getattr(torch, "compiler", None), "is_compiling", lambda: False)


def _o(c: Dict[str, Any], name: str) -> Tensor:
    """Coefficient ``name`` as an operand: its cached 0-dim tensor if it is a scalar (eager),
    the Python number itself under ``torch.compile`` (baked into the compiled kernel)."""
    T = c["T"]
    if name in T and not _compiling():
        return T[name]
    return c[name]


def _lin(u: Tensor, I: Tensor, c: Dict[str, Any]) -> Tensor:
    """``a*u + k*I + c0`` (coefficients ``a``, ``k``, ``c0`` of ``c``) with the fewest kernels."""
    out = u * _o(c, "a")
    b, c0 = c["k"], c["c0"]
    if isinstance(b, Tensor):
        out.addcmul_(I, b)
    elif b == 1.0:
        out.add_(I)
    else:
        out.add_(I, alpha=b)
    if isinstance(c0, Tensor) or c0 != 0.0:
        out.add_(_o(c, "c0"))
    return out


def _apex(u: Tensor, c: Dict[str, Any]) -> Tensor:
    """The potential capped at the threshold (the spike apex)."""
    thr = c["thr"]
    if isinstance(thr, Tensor):
        return torch.minimum(u, thr)
    return u if math.isinf(thr) else u.clamp(max=thr)


def _scale_add(out: Tensor, x: Tensor, b: Union[float, Tensor]) -> Tensor:
    """``out += b * x`` in place."""
    if isinstance(b, Tensor):
        return out.addcmul_(x, b)
    return out.add_(x, alpha=b)


# ---------------------------------------------------------------------- models
class IF(Neuron):
    r"""Integrate-and-fire layer (no leak).

    .. math::
        u_{t+1} = u_t + \frac{t_s}{C} I_t, \qquad u \ge \vartheta \Rightarrow
        \text{spike of amplitude } 1/t_s,\; u \leftarrow u_{rest}

    The input is the potential of a convolution of spikes of amplitude :math:`1/t_s`,
    so :math:`t_s I / C` is the charge it brings. ``tau_rc`` is accepted for
    compatibility with the reference and not used (there is no leak). The potential
    is floored at rest (the reference's ``clip`` did nothing; we apply it).

    Args:
        threshold: firing threshold (``None``: never fires).
        tau_rc: unused (kept for signature compatibility). Default: 0.02.
        ts: time step in seconds. Default: 0.001.
        resting_potential: resting and reset potential. Default: 0.0.
        refractory_timesteps: refractory steps of inhibited neurons. Default: 2.
        C: membrane capacitance. Default: 0.281.
        per_neuron_thresh: optional tensor of thresholds (overrides ``threshold``). Default: None.
        inhibition_mode: see :class:`Neuron`. Default: ``"feature"``.

    Shape:
        input ``[B, C, H, W]``; every output the same (winners ``[B, k, 3]``).

    Example:
        >>> layer = IF(threshold=1.0)
        >>> spikes, potentials, winners = layer(torch.full((1, 2, 3, 3), 400.0))
    """

    def __init__(self, threshold: Optional[float], tau_rc: ParamValue = 0.02, ts: float = 0.001,
                 resting_potential: ParamValue = 0.0, refractory_timesteps: int = 2, C: ParamValue = 0.281,
                 per_neuron_thresh: ParamValue = None, inhibition_mode: str = "feature", **kwargs: Any) -> None:
        super().__init__(ts=ts, resting_potential=resting_potential, threshold=threshold,
                         refractory_timesteps=refractory_timesteps, inhibition_mode=inhibition_mode, **kwargs)
        self._declare("tau_rc", tau_rc, positive=True)
        self._declare("C", C, positive=True)
        self.per_neuron_thresh = per_neuron_thresh
        self._finish_init()

    def _coefficients(self, dev: torch.device, dt: torch.dtype) -> Dict[str, Any]:
        return {"k": self._ts / self._p("C", dev, dt)}

    def _integrate(self, u: Tensor, I: Tensor, w: Optional[Tensor], c: Dict[str, Any]) -> Tensor:
        k = c["k"]
        return torch.add(u, I, alpha=k) if not isinstance(k, Tensor) else torch.addcmul(u, I, k)

    def ode(self, u: Any, I: Any = 0.0, w: Any = None) -> Tensor:
        return torch.zeros_like(self._f64(u)) + self._f64(I) / self._param64("C")

    def _f_ode(self, x: Any, I: Any = 0.0) -> Tensor:
        return self.ode(x, I) * self._param64("tau_rc")


class LIF(IF):
    r"""Leaky integrate-and-fire layer with the exact exponential decay toward rest.

    .. math::
        \tau_{rc}\frac{du}{dt} = -(u - u_{rest}) + R\,I(t), \quad R = \tau_{rc}/C

    integrated exactly for input spikes arriving as charges :math:`t_s I_t` at the end
    of each step:

    .. math::
        u_{t+1} = u_{rest} + (u_t - u_{rest})\,e^{-t_s/\tau_{rc}} + \frac{t_s}{C} I_t

    Fixes with respect to the reference: a spike resets the membrane to rest (the
    reference lost the reset by recomputing the potential from its last injection);
    the decay is applied every step to the real state. Potentials are floored at rest.

    Args:
        threshold: firing threshold. tau_rc: membrane time constant in s (default 0.02);
        ts: time step in s (default 0.001); resting_potential (default 0.0);
        refractory_timesteps (default 2); C: capacitance (default 0.281);
        per_neuron_thresh: optional tensor of thresholds (default None);
        inhibition_mode (default ``"feature"``).

    Shape:
        input ``[B, C, H, W]``; outputs the same.

    Example:
        >>> layer = LIF(threshold=10.0, tau_rc=0.02)
        >>> out = layer.step(torch.rand(4, 8, 5, 5) * 500, n_winners=2)
    """

    def _coefficients(self, dev: torch.device, dt: torch.dtype) -> Dict[str, Any]:
        tau = self._p("tau_rc", dev, dt)
        rest = self._p("resting_potential", dev, dt)
        e = math.exp(-self._ts / tau) if isinstance(tau, float) else torch.exp(-self._ts / tau)
        return {"a": e, "k": self._ts / self._p("C", dev, dt), "c0": rest * (1 - e)}

    def _integrate(self, u: Tensor, I: Tensor, w: Optional[Tensor], c: Dict[str, Any]) -> Tensor:
        return _lin(u, I, c)

    def ode(self, u: Any, I: Any = 0.0, w: Any = None) -> Tensor:
        u = self._f64(u)
        return (-(u - self._param64("resting_potential")) + self._param64("tau_rc") / self._param64("C") * self._f64(I)) / self._param64("tau_rc")


class LIF_ode(LIF):
    r"""Leaky integrate-and-fire layer integrated with forward Euler.

    .. math::
        u_{t+1} = u_t + \frac{t_s}{\tau_{rc}}(u_{rest} - u_t) + \frac{t_s}{C} I_t

    Requires ``ts < tau_rc`` (``ValueError`` otherwise). Potentials are floored at
    rest. Same arguments as :class:`LIF`.

    Example:
        >>> layer = LIF_ode(threshold=10.0)
        >>> spikes, potentials, winners = layer(torch.rand(1, 4, 6, 6) * 800)
    """

    _euler = True

    def _coefficients(self, dev: torch.device, dt: torch.dtype) -> Dict[str, Any]:
        tau = self._p("tau_rc", dev, dt)
        rest = self._p("resting_potential", dev, dt)
        g = self._ts / tau
        return {"a": 1 - g, "k": self._ts / self._p("C", dev, dt), "c0": rest * g}


class LIF_Simple(Neuron):
    r"""Simplified LIF: multiplicative decay toward rest, unscaled input and spikes of 1.

    .. math::
        u_{t+1} = u_{rest} + (u_t - u_{rest})\left(1 - \frac{t_s}{\tau_{rc}}\right) + I_t

    Spikes have amplitude 1 (not :math:`1/t_s`). Fix: the reference decayed toward 0;
    this decays toward the resting potential (identical when it is 0). Not floored at
    rest, as the reference. Requires ``ts < tau_rc``.

    Args:
        threshold: firing threshold. tau_rc (default 0.02); ts (default 0.001);
        resting_potential (default 0.0); refractory_timesteps (default 2);
        per_neuron_threshold: optional tensor of thresholds (default None; the name
        ``per_neuron_thresh`` is accepted too); inhibition_mode (default ``"feature"``).

    Example:
        >>> layer = LIF_Simple(threshold=5.0)
        >>> spikes, potentials, winners = layer(torch.rand(1, 3, 4, 4) * 6)
    """

    _scaled_spikes = False
    _default_clamp_at_rest = False
    _euler = True

    def __init__(self, threshold: Optional[float], tau_rc: ParamValue = 0.02, ts: float = 0.001,
                 resting_potential: ParamValue = 0.0, refractory_timesteps: int = 2,
                 per_neuron_threshold: ParamValue = None, inhibition_mode: str = "feature",
                 per_neuron_thresh: ParamValue = None, **kwargs: Any) -> None:
        super().__init__(ts=ts, resting_potential=resting_potential, threshold=threshold,
                         refractory_timesteps=refractory_timesteps, inhibition_mode=inhibition_mode, **kwargs)
        self._declare("tau_rc", tau_rc, positive=True)
        self.per_neuron_thresh = per_neuron_threshold if per_neuron_threshold is not None else per_neuron_thresh
        self._finish_init()

    @property
    def decay(self) -> Union[float, Tensor]:
        """Per-step decay factor ``1 - ts/tau_rc``."""
        return 1 - self._ts / self._param64("tau_rc")

    def _coefficients(self, dev: torch.device, dt: torch.dtype) -> Dict[str, Any]:
        tau = self._p("tau_rc", dev, dt)
        rest = self._p("resting_potential", dev, dt)
        g = self._ts / tau
        return {"a": 1 - g, "k": 1.0, "c0": rest * g}

    def _integrate(self, u: Tensor, I: Tensor, w: Optional[Tensor], c: Dict[str, Any]) -> Tensor:
        return _lin(u, I, c)

    def ode(self, u: Any, I: Any = 0.0, w: Any = None) -> Tensor:
        u = self._f64(u)
        return -(u - self._param64("resting_potential")) / self._param64("tau_rc") + self._f64(I) / self._ts

    def _f_ode(self, x: Any, I: Any = 0.0) -> Tensor:
        return self.ode(x, I) * self._param64("tau_rc")


class EIF(Neuron):
    r"""Exponential integrate-and-fire layer (forward Euler).

    .. math::
        \tau_{rc}\frac{du}{dt} = -(u - u_{rest}) + \Delta_T
        \exp\!\left(\frac{u - \theta_{rh}}{\Delta_T}\right) + R\,I(t),\quad R = \tau_{rc}/C

    ``theta_rh=None`` follows the threshold: :math:`\vartheta - |\vartheta|/4`
    (3/4 of a positive threshold), per neuron when ``per_neuron_thresh`` is set.
    The exponent is capped so strong input never overflows; potentials are floored
    at rest. Requires ``ts < tau_rc``.

    Args:
        threshold: firing threshold. tau_rc (default 0.02); ts (default 0.001);
        delta_t: sharpness :math:`\Delta_T` (default 0.5); theta_rh: rheobase (default None);
        resting_potential (default 0.0); refractory_timesteps (default 2);
        C (default 0.281); v_reset: reset potential, None = rest (default None);
        per_neuron_thresh (default None); inhibition_mode (default ``"feature"``).

    Example:
        >>> layer = EIF(threshold=10.0)
        >>> out = layer.step(torch.rand(2, 4, 5, 5) * 3000, n_winners=3)
    """

    _nonlinear = True
    _euler = True

    def __init__(self, threshold: Optional[float], tau_rc: ParamValue = 0.02, ts: float = 0.001,
                 delta_t: ParamValue = 0.5, theta_rh: ParamValue = None, resting_potential: ParamValue = 0.0,
                 refractory_timesteps: int = 2, C: ParamValue = 0.281, v_reset: ParamValue = None,
                 per_neuron_thresh: ParamValue = None, inhibition_mode: str = "feature", **kwargs: Any) -> None:
        super().__init__(ts=ts, resting_potential=resting_potential, threshold=threshold, v_reset=v_reset,
                         refractory_timesteps=refractory_timesteps, inhibition_mode=inhibition_mode, **kwargs)
        self._declare("tau_rc", tau_rc, positive=True)
        self._declare("delta_t", delta_t, positive=True)
        self._declare("theta_rh", theta_rh, allow_none=True)
        self._declare("C", C, positive=True)
        self.per_neuron_thresh = per_neuron_thresh
        self._finish_init()

    def _exp_coefficients(self, dev: torch.device, dt: torch.dtype, scale: Union[float, Tensor]) -> Dict[str, Any]:
        """exp-term constants: ``scale*Delta*exp((u-theta)/Delta) = exp(u*s + o)``."""
        delta = self._p("delta_t", dev, dt)
        theta = self._derived_from_threshold("theta_rh", dev, dt)
        inv = 1.0 / delta
        if isinstance(delta, float) and isinstance(scale, float):
            log_sd = math.log(scale * delta)
        else:
            log_sd = torch.log(torch.as_tensor(scale * delta, dtype=dt, device=dev))
        return {"s": inv, "o": log_sd - theta * inv}

    def _exp_term(self, u: Tensor, c: Dict[str, Any]) -> Tensor:
        z = u * _o(c, "s")
        z.add_(_o(c, "o"))
        return z.clamp_(max=c["log_cap"]).exp_()

    def _coefficients(self, dev: torch.device, dt: torch.dtype) -> Dict[str, Any]:
        tau = self._p("tau_rc", dev, dt)
        rest = self._p("resting_potential", dev, dt)
        g = self._ts / tau
        c = {"a": 1 - g, "k": self._ts / self._p("C", dev, dt), "c0": rest * g}
        c.update(self._exp_coefficients(dev, dt, g))
        return c

    def _integrate(self, u: Tensor, I: Tensor, w: Optional[Tensor], c: Dict[str, Any]) -> Tensor:
        out = self._exp_term(u, c)
        _scale_add(out, u, c["a"])
        _scale_add(out, I, c["k"])
        if isinstance(c["c0"], Tensor) or c["c0"] != 0.0:
            out.add_(_o(c, "c0"))
        return out

    def _theta64(self) -> Union[float, Tensor]:
        return self._derived_from_threshold("theta_rh", torch.device("cpu"), torch.float64)

    def ode(self, u: Any, I: Any = 0.0, w: Any = None) -> Tensor:
        u = self._f64(u)
        d = self._param64("delta_t")
        tau = self._param64("tau_rc")
        rest = self._param64("resting_potential")
        return (-(u - rest) + d * torch.exp((u - self._theta64()) / d) + tau / self._param64("C") * self._f64(I)) / tau


class EIF_Simple(EIF):
    r"""Simplified EIF: multiplicative decay toward rest, exponential kick, unscaled input.

    .. math::
        u_{t+1} = u_{rest} + (u_t - u_{rest})\left(1 - \frac{t_s}{\tau_{rc}}\right)
        + \Delta_T \exp\!\left(\frac{u_t - \theta_{rh}}{\Delta_T}\right) + I_t

    As in the reference the exponential kick is applied per step (not scaled by
    :math:`t_s/\tau_{rc}`), spikes have amplitude 1, the potential is not floored at
    rest, and the returned potentials are those before reset. Fix: decays toward the
    resting potential instead of 0. ``theta_rh=None`` follows the (per-neuron)
    threshold. Requires ``ts < tau_rc``.

    Args:
        threshold: firing threshold. tau_rc (default 0.02); ts (default 0.001);
        delta_t (default 0.5); theta_rh (default None); resting_potential (default 0.0);
        refractory_timesteps (default 2); v_reset (default None);
        per_neuron_threshold (default None; ``per_neuron_thresh`` accepted too);
        inhibition_mode (default ``"feature"``).

    Example:
        >>> layer = EIF_Simple(threshold=5.0)
        >>> spikes, potentials, winners = layer(torch.rand(1, 3, 4, 4) * 6)
    """

    _scaled_spikes = False
    _default_clamp_at_rest = False
    _returns_pre_reset = True

    def __init__(self, threshold: Optional[float], tau_rc: ParamValue = 0.02, ts: float = 0.001,
                 delta_t: ParamValue = 0.5, theta_rh: ParamValue = None, resting_potential: ParamValue = 0.0,
                 refractory_timesteps: int = 2, v_reset: ParamValue = None,
                 per_neuron_threshold: ParamValue = None, inhibition_mode: str = "feature",
                 per_neuron_thresh: ParamValue = None, **kwargs: Any) -> None:
        pnt = per_neuron_threshold if per_neuron_threshold is not None else per_neuron_thresh
        super().__init__(threshold=threshold, tau_rc=tau_rc, ts=ts, delta_t=delta_t, theta_rh=theta_rh,
                         resting_potential=resting_potential, refractory_timesteps=refractory_timesteps,
                         C=1.0, v_reset=v_reset, per_neuron_thresh=pnt, inhibition_mode=inhibition_mode, **kwargs)

    def _coefficients(self, dev: torch.device, dt: torch.dtype) -> Dict[str, Any]:
        tau = self._p("tau_rc", dev, dt)
        rest = self._p("resting_potential", dev, dt)
        g = self._ts / tau
        c = {"a": 1 - g, "k": 1.0, "c0": rest * g}
        c.update(self._exp_coefficients(dev, dt, 1.0))
        return c

    def ode(self, u: Any, I: Any = 0.0, w: Any = None) -> Tensor:
        u = self._f64(u)
        d = self._param64("delta_t")
        return (-(u - self._param64("resting_potential")) / self._param64("tau_rc")
                + (d * torch.exp((u - self._theta64()) / d) + self._f64(I)) / self._ts)


class QIF(Neuron):
    r"""Quadratic integrate-and-fire layer (forward Euler).

    .. math::
        \tau_{rc}\frac{du}{dt} = a_0 (u - u_{rest})(u - u_c) + R\,I(t),\quad R = \tau_{rc}/C

    Below the critical potential :math:`u_c` the potential relaxes to rest; above it
    it runs away. ``u_c=None`` follows the threshold (:math:`\vartheta - |\vartheta|/4`).
    The state is capped so the quadratic term never overflows; potentials are
    floored at rest. Requires ``ts < tau_rc``.

    Args:
        threshold: firing threshold. tau_rc (default 0.02); ts (default 0.001);
        u_c: critical potential (default None); a: sharpness :math:`a_0` (default 0.001);
        resting_potential (default 0.0); refractory_timesteps (default 2);
        C (default 0.281); v_reset (default None); per_neuron_thresh (default None);
        inhibition_mode (default ``"feature"``).

    Example:
        >>> layer = QIF(threshold=10.0)
        >>> spikes, potentials, winners = layer(torch.rand(1, 3, 4, 4) * 3000)
    """

    _nonlinear = True
    _euler = True

    def __init__(self, threshold: Optional[float], tau_rc: ParamValue = 0.02, ts: float = 0.001,
                 u_c: ParamValue = None, a: ParamValue = 0.001, resting_potential: ParamValue = 0.0,
                 refractory_timesteps: int = 2, C: ParamValue = 0.281, v_reset: ParamValue = None,
                 per_neuron_thresh: ParamValue = None, inhibition_mode: str = "feature", **kwargs: Any) -> None:
        super().__init__(ts=ts, resting_potential=resting_potential, threshold=threshold, v_reset=v_reset,
                         refractory_timesteps=refractory_timesteps, inhibition_mode=inhibition_mode, **kwargs)
        self._declare("tau_rc", tau_rc, positive=True)
        self._declare("u_c", u_c, allow_none=True)
        self._declare("a", a, positive=True)
        self._declare("C", C, positive=True)
        self.per_neuron_thresh = per_neuron_thresh
        self._finish_init()

    def _coefficients(self, dev: torch.device, dt: torch.dtype) -> Dict[str, Any]:
        tau = self._p("tau_rc", dev, dt)
        return {"q": self._p("a", dev, dt) * self._ts / tau, "k": self._ts / self._p("C", dev, dt),
                "uc": self._derived_from_threshold("u_c", dev, dt)}

    def _integrate(self, u: Tensor, I: Tensor, w: Optional[Tensor], c: Dict[str, Any]) -> Tensor:
        q = c["q"]
        d1 = u - _o(c, "rest")
        d2 = u - _o(c, "uc")
        out = torch.addcmul(u, d1, d2, value=q) if not isinstance(q, Tensor) else u + d1 * d2 * q
        return _scale_add(out, I, c["k"])

    def ode(self, u: Any, I: Any = 0.0, w: Any = None) -> Tensor:
        u = self._f64(u)
        uc = self._derived_from_threshold("u_c", torch.device("cpu"), torch.float64)
        tau = self._param64("tau_rc")
        return (self._param64("a") * (u - self._param64("resting_potential")) * (u - uc)
                + tau / self._param64("C") * self._f64(I)) / tau


class AdEx(EIF):
    r"""Adaptive exponential integrate-and-fire layer (forward Euler).

    .. math::
        \tau_{rc}\frac{du}{dt} &= -(u - u_{rest}) + \Delta_T
            \exp\!\left(\frac{u - \theta_{rh}}{\Delta_T}\right) - R\,w + R\,I(t) \\
        \tau_w\frac{dw}{dt} &= a (u - u_{rest}) - w + b \sum_f \delta(t - t^f)

    with :math:`R = \tau_{rc}/C`. As in the reference, ``w`` is advanced from the
    clamped potential before reset, taken at most at the threshold (the spike apex:
    within one step the exponential can carry the Euler estimate of a spiking neuron
    far beyond it), and jumps by ``b`` at each spike; by default the
    winners inhibit the whole layer (``inhibition_mode="layer"``). Requires
    ``ts < tau_rc`` and ``ts < tau_w``.

    Args:
        threshold: firing threshold. tau_rc (default 0.02); ts (default 0.001);
        delta_t (default 0.5); theta_rh (default None: follows the threshold);
        resting_potential (default 0.0); refractory_timesteps (default 2); C (default 0.281);
        v_reset (default None); a: subthreshold adaptation (default 0.6);
        b: spike-triggered adaptation (default 0.7); tau_w: adaptation time constant in s
        (default 1); per_neuron_thresh (default None); inhibition_mode (default ``"layer"``).

    Example:
        >>> layer = AdEx(threshold=10.0)
        >>> out = layer.step(torch.rand(1, 2, 4, 4) * 3000)
    """

    _has_adaptation = True

    def __init__(self, threshold: Optional[float], tau_rc: ParamValue = 0.02, ts: float = 0.001,
                 delta_t: ParamValue = 0.5, theta_rh: ParamValue = None, resting_potential: ParamValue = 0.0,
                 refractory_timesteps: int = 2, C: ParamValue = 0.281, v_reset: ParamValue = None,
                 a: ParamValue = 0.6, b: ParamValue = 0.7, tau_w: ParamValue = 1.0,
                 per_neuron_thresh: ParamValue = None, inhibition_mode: str = "layer", **kwargs: Any) -> None:
        super().__init__(threshold=threshold, tau_rc=tau_rc, ts=ts, delta_t=delta_t, theta_rh=theta_rh,
                         resting_potential=resting_potential, refractory_timesteps=refractory_timesteps, C=C,
                         v_reset=v_reset, per_neuron_thresh=per_neuron_thresh, inhibition_mode=inhibition_mode,
                         **kwargs)
        object.__setattr__(self, "_ready", False)
        self._declare("a", a)
        self._declare("b", b)
        self._declare("tau_w", tau_w, positive=True)
        self._finish_init()

    @property
    def R(self) -> Union[float, Tensor]:
        """Membrane resistance ``tau_rc / C``."""
        return self._param64("tau_rc") / self._param64("C")

    def _validate(self) -> None:
        super()._validate()
        tw = self._buffers.get("tau_w")
        if tw is not None and not bool((tw > self._ts).all()):
            raise ValueError(f"ts={self._ts} is too large for the forward-Euler scheme of AdEx: it needs ts < tau_w")

    def _coefficients(self, dev: torch.device, dt: torch.dtype) -> Dict[str, Any]:
        c = super()._coefficients(dev, dt)
        gw = self._ts / self._p("tau_w", dev, dt)
        c["gw"] = gw
        c["one_m_gw"] = 1 - gw
        c["aw"] = self._p("a", dev, dt) * gw
        c["b"] = self._p("b", dev, dt)
        return c

    def _integrate(self, u: Tensor, I: Tensor, w: Optional[Tensor], c: Dict[str, Any]) -> Tensor:
        return super()._integrate(u, I - w, None, c)

    def _adapt(self, u: Tensor, spiked: Tensor, w: Tensor, c: Dict[str, Any]) -> Tensor:
        # w += ts/tau_w * (a (min(u, thr) - rest) - w) + b * spiked; the potential is taken
        # at most at the spike apex (the threshold): within a step the exponential can
        # carry a spiking neuron's Euler estimate orders of magnitude beyond it.
        w_new = w * _o(c, "one_m_gw")
        _scale_add(w_new, _apex(u, c) - _o(c, "rest"), c["aw"])
        return _scale_add(w_new, spiked, c["b"])

    def ode(self, u: Any, I: Any = 0.0, w: Any = None) -> Tensor:
        w = 0.0 if w is None else self._f64(w)
        return super().ode(u, self._f64(I) - w)

    def ode_w(self, u: Any, w: Any) -> Tensor:
        r""":math:`dw/dt = (a (u - u_{rest}) - w)/\tau_w` in float64."""
        return (self._param64("a") * (self._f64(u) - self._param64("resting_potential")) - self._f64(w)) / self._param64("tau_w")


IZHIKEVICH_PRESETS: Dict[str, Dict[str, float]] = {
    "regular_spiking": {"a": 0.02, "b": 0.2, "c": -65.0, "d": 8.0},
    "intrinsically_bursting": {"a": 0.02, "b": 0.2, "c": -55.0, "d": 4.0},
    "chattering": {"a": 0.02, "b": 0.2, "c": -50.0, "d": 2.0},
    "fast_spiking": {"a": 0.1, "b": 0.2, "c": -65.0, "d": 2.0},
}


class Izhikevich(Neuron):
    r"""Izhikevich (2003) simple model, time in milliseconds derived from ``ts``.

    .. math::
        \frac{dv}{dt} &= 0.04 v^2 + 5 v + 140 - u + I \\
        \frac{du}{dt} &= a (b v - u), \qquad v \ge \vartheta \Rightarrow v \leftarrow c,\; u \leftarrow u + d

    (``u`` is stored as the adaptation variable ``w``.) Forward Euler with
    :math:`\Delta t = 1000\, t_s` ms; the recovery variable is advanced from the
    updated potential, taken at most at the spike apex ``threshold``. The layer rests at the stable fixed point of the equations
    for zero input (about -70 mV for the presets) unless ``resting_potential`` is
    given. Fixes with respect to the reference: the real model (the reference's
    default reset ``c=0`` lay far above rest and its state started away from the
    fixed point), the time step honoured (the reference stepped 1 ms whatever ``ts``),
    ``c`` used as the reset. Defaults are the regular-spiking preset with the
    model's 30 mV spike cut-off; :meth:`preset` builds the other classic types.
    ``tau_rc`` and ``C`` are accepted for compatibility and not used. By default the
    winners inhibit the whole layer, as in the reference. Requires ``ts <= 0.001``.

    Args:
        threshold: spike cut-off in mV. Default: 30.0.
        tau_rc: unused. Default: 0.02.
        ts: time step in seconds. Default: 0.001.
        a, b, c, d: model parameters. Defaults: 0.02, 0.2, -65.0, 8.0.
        resting_potential: potential of refractory neurons and initial state; None =
            fixed point. Default: None.
        refractory_timesteps: Default: 2.
        C: unused. Default: 0.281.
        v_reset: used as ``c`` when ``c`` is None. Default: None.
        per_neuron_thresh: Default: None.
        inhibition_mode: Default: ``"layer"``.

    Example:
        >>> layer = Izhikevich.preset("chattering", ts=0.0005)
        >>> spikes, v, winners = layer(torch.full((1, 1, 1, 1), 10.0))
    """

    _scaled_spikes = True
    _default_clamp_at_rest = False
    _nonlinear = True
    _has_adaptation = True

    def __init__(self, threshold: Optional[float] = 30.0, tau_rc: ParamValue = 0.02, ts: float = 0.001,
                 a: ParamValue = 0.02, b: ParamValue = 0.2, c: ParamValue = -65.0, d: ParamValue = 8.0,
                 resting_potential: ParamValue = None, refractory_timesteps: int = 2, C: ParamValue = 0.281,
                 v_reset: ParamValue = None, per_neuron_thresh: ParamValue = None,
                 inhibition_mode: str = "layer", **kwargs: Any) -> None:
        if c is None:
            c = v_reset if v_reset is not None else -65.0
        super().__init__(ts=ts, resting_potential=0.0, threshold=threshold, v_reset=None,
                         refractory_timesteps=refractory_timesteps, inhibition_mode=inhibition_mode, **kwargs)
        self._declare("tau_rc", tau_rc, positive=True)
        self._declare("C", C, positive=True)
        self._declare("a", a)
        self._declare("b", b)
        self._declare("c", c)
        self._declare("d", d)
        self._rest_given = resting_potential is not None
        if resting_potential is None:
            resting_potential = self._fixed_point()
        self.resting_potential = resting_potential
        self.per_neuron_thresh = per_neuron_thresh
        self._finish_init()

    @classmethod
    def preset(cls, name: str, **kwargs: Any) -> "Izhikevich":
        """A layer of one of the classic types: ``regular_spiking``, ``intrinsically_bursting``,
        ``chattering`` or ``fast_spiking`` (other keyword arguments pass through).

        The 2003 types have no refractory period (a refractory neuron is held at rest,
        which suppresses bursting), so presets default to ``refractory_timesteps=0``.
        """
        if name not in IZHIKEVICH_PRESETS:
            raise ValueError(f"preset must be one of {sorted(IZHIKEVICH_PRESETS)}, got {name!r}")
        return cls(**{"refractory_timesteps": 0, **IZHIKEVICH_PRESETS[name], **kwargs})

    def _fixed_point(self) -> Union[float, Tensor]:
        """Stable fixed point of v for I = 0: 0.04 v^2 + (5 - b) v + 140 = 0 (lower root)."""
        b = self._param64("b")
        bt = self._f64(b)
        disc = (5.0 - bt) ** 2 - 4 * 0.04 * 140.0
        if not bool((disc >= 0).all()):
            raise ValueError("Izhikevich: no resting state for this b (no fixed point); give resting_potential")
        v = (-(5.0 - bt) - torch.sqrt(disc)) / (2 * 0.04)
        return float(v) if v.numel() == 1 else v

    def _validate(self) -> None:
        super()._validate()
        if self._ts > 0.001 + 1e-12:
            raise ValueError(f"ts={self._ts} s is too large for the Euler scheme of the Izhikevich model: use ts <= 0.001 s (1 ms)")

    def _coefficients(self, dev: torch.device, dt: torch.dtype) -> Dict[str, Any]:
        dtm = self._ts * 1000.0
        a = self._p("a", dev, dt)
        return {"dt": dtm, "ga": a * dtm, "b_": self._p("b", dev, dt), "d": self._p("d", dev, dt),
                "k004": 0.04, "five": 5.0, "c140": 140.0 * dtm}

    def _reset_value(self, device: torch.device, dtype: torch.dtype) -> Union[float, Tensor]:
        return self._p("c", device, dtype)

    def _initial_w(self, v: Tensor, c: Dict[str, Any]) -> Tensor:
        return v * c["b_"]

    def _integrate(self, u: Tensor, I: Tensor, w: Optional[Tensor], c: Dict[str, Any]) -> Tensor:
        dtm = c["dt"]
        f = u * _o(c, "k004")
        f.add_(_o(c, "five"))
        out = torch.addcmul(u, u, f, value=dtm)  # v + dt (0.04 v^2 + 5 v)
        out.add_(I - w, alpha=dtm)
        out.add_(_o(c, "c140"))
        return out

    def _adapt(self, u: Tensor, spiked: Tensor, w: Tensor, c: Dict[str, Any]) -> Tensor:
        # w += a dt (b min(v, thr) - w) + d * spiked  (v at most the spike apex)
        w_new = w + (_apex(u, c) * _o(c, "b_") - w) * _o(c, "ga")
        return _scale_add(w_new, spiked, c["d"])

    def ode(self, u: Any, I: Any = 0.0, w: Any = None) -> Tensor:
        """dv/dt in mV per second (the model's mV/ms times 1000)."""
        v = self._f64(u)
        w = self._f64(0.0 if w is None else w)
        return (0.04 * v * v + 5 * v + 140 - w + self._f64(I)) * 1000.0

    def ode_w(self, u: Any, w: Any) -> Tensor:
        """du/dt of the recovery variable, per second."""
        return self._param64("a") * (self._param64("b") * self._f64(u) - self._f64(w)) * 1000.0

    def _f_ode(self, x: Any, I: Any = 0.0) -> Tensor:
        return self.ode(x, I) / 1000.0


# ---------------------------------------------------------------------- heterogeneous layers
class HeterogeneousNeuron(Neuron):
    r"""Mixin for layers whose membrane time constant differs between feature maps.

    ``tau_rc`` is drawn once per feature map, uniformly from ``tau_range``:
    :math:`\tau_c \sim \mathcal{U}(\tau_{lo}, \tau_{hi})`, stored as a ``[C, 1, 1]``
    buffer (so it is in ``state_dict`` and moves with ``.to``) and really used by the
    dynamics (the reference sampled it per batch element and then ignored it in
    UniformEIF/UniformQIF, which did not even construct). Sampling happens at
    construction when ``n_features`` is given, else on the first call; it is
    reproducible from ``generator`` or ``seed`` (else the global torch RNG).
    :meth:`reset` keeps the sampled values; :meth:`resample` draws new ones.
    """

    def _init_heterogeneous(self, tau_range: Sequence[float], generator: Optional[torch.Generator],
                            seed: Optional[int], n_features: Optional[int]) -> None:
        if not isinstance(tau_range, (list, tuple)) or len(tau_range) != 2:
            raise TypeError(f"tau_range must be a (low, high) pair, got {tau_range!r}")
        lo, hi = (float(v) for v in tau_range)
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo <= 0 or hi < lo:
            raise ValueError(f"tau_range must satisfy 0 < low <= high, got {tau_range!r}")
        if self._euler and lo <= self._ts:
            raise ValueError(f"ts={self._ts} is too large for the forward-Euler scheme: it needs ts < tau_range[0]={lo}")
        self.tau_range = (lo, hi)
        if generator is not None and seed is not None:
            raise ValueError("give either generator or seed, not both")
        if seed is not None:
            generator = torch.Generator().manual_seed(int(seed))
        self._generator = generator
        if n_features is not None:
            if isinstance(n_features, bool) or not isinstance(n_features, int) or n_features <= 0:
                raise ValueError(f"n_features must be a positive int, got {n_features!r}")
            self._sample(n_features)
        else:
            self._buffers["tau_rc"] = None

    def get_uniform_distribution(self, range: Sequence[float], size: Sequence[int]) -> Tensor:
        """Values drawn uniformly from ``range``, one per feature map: shape ``[size[-3], 1, 1]``."""
        n = int(size[-3]) if len(size) >= 3 else int(size[0])
        lo, hi = float(range[0]), float(range[1])
        u = torch.rand(n, dtype=torch.float64, generator=self._generator)
        return (lo + (hi - lo) * u).view(n, 1, 1)

    def _sample(self, n_features: int) -> None:
        taus = self.get_uniform_distribution(self.tau_range, (n_features, 1, 1))
        old = self._buffers.get("tau_rc")
        if old is not None:
            taus = taus.to(old.device)
        self._buffers["tau_rc"] = taus
        self._coef = None

    @property
    def taus(self) -> Optional[Tensor]:
        """The sampled time constants ``[C, 1, 1]`` (None before the first call)."""
        return self._buffers.get("tau_rc")

    def resample(self, n_features: Optional[int] = None) -> None:
        """Draw new time constants (for ``n_features`` maps, default: the current number)."""
        n = n_features if n_features is not None else (None if self.taus is None else self.taus.shape[0])
        if n is None:
            raise ValueError("n_features is unknown before the first call; pass it")
        self._sample(n)

    def _validate(self) -> None:
        if not self.__dict__.get("_hetero_pending", False) and self._buffers.get("tau_rc") is not None:
            super()._validate()

    def _prepare(self, x: Tensor) -> Dict[str, Any]:
        taus = self._buffers.get("tau_rc")
        if taus is None or (taus.dim() == 3 and taus.shape[0] != x.shape[1]):
            if taus is not None:
                raise ValueError(f"this layer sampled tau_rc for {taus.shape[0]} feature maps, got {x.shape[1]}")
            self._sample(x.shape[1])
        return super()._prepare(x)


def _heterogeneous(base: type, name: str, doc: str) -> type:
    """Build ``Uniform<base>``: the base model with ``tau_rc`` drawn per feature map."""

    def __init__(self, threshold: Optional[float] = None, tau_range: Sequence[float] = (0.01, 0.03),
                 *args: Any, generator: Optional[torch.Generator] = None, seed: Optional[int] = None,
                 n_features: Optional[int] = None, **kwargs: Any) -> None:
        if threshold is None and base is not Izhikevich:
            raise TypeError(f"{name}() missing required argument: 'threshold'")
        if "tau_rc" in kwargs:
            raise TypeError(f"{name} samples tau_rc from tau_range; do not pass tau_rc")
        object.__setattr__(self, "_hetero_pending", True)
        base.__init__(self, 30.0 if threshold is None else threshold, 1.0, *args, **kwargs)
        object.__setattr__(self, "_ready", False)
        object.__setattr__(self, "_hetero_pending", False)
        self._init_heterogeneous(tau_range, generator, seed, n_features)
        self._finish_init()

    cls = type(name, (HeterogeneousNeuron, base), {"__init__": __init__, "__doc__": doc, "__module__": __name__})
    return cls


_UNIFORM_DOC = r"""Heterogeneous :class:`{base}`: ``tau_rc`` drawn per feature map from ``tau_range``.

    .. math::
        \tau_c \sim \mathcal{{U}}(\tau_{{lo}}, \tau_{{hi}}) \text{{ for each feature map }} c

    and then exactly the dynamics of :class:`{base}` with a per-map time constant
    (see :class:`HeterogeneousNeuron`). Arguments are those of :class:`{base}` with
    ``tau_range`` (a ``(low, high)`` pair in seconds) in place of ``tau_rc``, plus the
    keyword-only ``generator``, ``seed`` and ``n_features``.

    Shape:
        input ``[B, C, H, W]``; ``taus`` is ``[C, 1, 1]``.

    Example:
        >>> layer = {name}(threshold=10.0, tau_range=(0.01, 0.05), seed=0, n_features=4)
        >>> out = layer.step(torch.rand(2, 4, 5, 5) * 500)
    """

UniformLIF = _heterogeneous(LIF, "UniformLIF", _UNIFORM_DOC.format(base="LIF", name="UniformLIF"))
UniformLIF_Simple = _heterogeneous(LIF_Simple, "UniformLIF_Simple",
                                   _UNIFORM_DOC.format(base="LIF_Simple", name="UniformLIF_Simple"))
UniformEIF = _heterogeneous(EIF, "UniformEIF", _UNIFORM_DOC.format(base="EIF", name="UniformEIF"))
UniformQIF = _heterogeneous(QIF, "UniformQIF", _UNIFORM_DOC.format(base="QIF", name="UniformQIF"))
UniformAdEx = _heterogeneous(AdEx, "UniformAdEx", _UNIFORM_DOC.format(base="AdEx", name="UniformAdEx"))


class UniformIzhikevich(HeterogeneousNeuron, Izhikevich):
    r"""Heterogeneous :class:`Izhikevich`: the recovery time constant drawn per feature map.

    The 2003 equations have no membrane time constant; their time scale of
    recovery is :math:`\tau_u = 1/a` (ms). Here :math:`\tau_u` is drawn per feature
    map from ``tau_range`` (seconds) and sets :math:`a = 1 / (1000\,\tau_u)`:

    .. math::
        \tau_c \sim \mathcal{U}(\tau_{lo}, \tau_{hi}), \qquad a_c = \frac{1}{1000\,\tau_c}

    (the regular-spiking :math:`a = 0.02` is :math:`\tau_u = 0.05` s). Other arguments
    are those of :class:`Izhikevich` without ``a``, plus the keyword-only
    ``generator``, ``seed`` and ``n_features`` (see :class:`HeterogeneousNeuron`).

    Shape:
        input ``[B, C, H, W]``; ``taus`` and ``a`` are ``[C, 1, 1]``.

    Example:
        >>> layer = UniformIzhikevich(tau_range=(0.01, 0.1), seed=0, n_features=3)
        >>> out = layer.step(torch.full((1, 3, 2, 2), 10.0))
    """

    def __init__(self, threshold: Optional[float] = 30.0, tau_range: Sequence[float] = (0.02, 0.1),
                 ts: float = 0.001, b: ParamValue = 0.2, c: ParamValue = -65.0, d: ParamValue = 8.0,
                 resting_potential: ParamValue = None, refractory_timesteps: int = 2, C: ParamValue = 0.281,
                 v_reset: ParamValue = None, per_neuron_thresh: ParamValue = None, inhibition_mode: str = "layer",
                 *, generator: Optional[torch.Generator] = None, seed: Optional[int] = None,
                 n_features: Optional[int] = None, **kwargs: Any) -> None:
        object.__setattr__(self, "_hetero_pending", True)
        Izhikevich.__init__(self, threshold, 1.0, ts, a=0.02, b=b, c=c, d=d, resting_potential=resting_potential,
                            refractory_timesteps=refractory_timesteps, C=C, v_reset=v_reset,
                            per_neuron_thresh=per_neuron_thresh, inhibition_mode=inhibition_mode, **kwargs)
        object.__setattr__(self, "_ready", False)
        object.__setattr__(self, "_hetero_pending", False)
        self._init_heterogeneous(tau_range, generator, seed, n_features)
        self._finish_init()

    def _sample(self, n_features: int) -> None:
        super()._sample(n_features)
        self._buffers["a"] = 1.0 / (1000.0 * self._buffers["tau_rc"])


def all_models(threshold: float = 10.0, tau_range: Tuple[float, float] = (0.01, 0.05), seed: int = 0,
               n_features: Optional[int] = None) -> Dict[str, Any]:
    """A constructor for every model, by name, with one set of demonstration parameters.

    Handy for galleries, benchmarks and tests that visit every model: the layers
    get ``threshold`` (Izhikevich keeps its 30 mV cut-off), the ``Uniform*`` layers
    draw their time constants from ``tau_range`` with ``seed`` (UniformIzhikevich
    draws recovery time constants from ``(0.02, 0.1)`` s) for ``n_features`` maps
    (``None``: on the first call).

    Args:
        threshold: firing threshold. Default: 10.0.
        tau_range: range of the sampled ``tau_rc``. Default: (0.01, 0.05).
        seed: seed of the sampled time constants. Default: 0.
        n_features: number of feature maps of the ``Uniform*`` layers. Default: None.

    Returns:
        ``{name: zero-argument constructor}`` for the 15 models.

    Example:
        >>> layers = {name: make() for name, make in all_models().items()}
        >>> sorted(layers)[:3]
        ['AdEx', 'EIF', 'EIF_Simple']
    """
    het = dict(tau_range=tau_range, seed=seed, n_features=n_features)
    return {
        "IF": lambda: IF(threshold=threshold),
        "LIF": lambda: LIF(threshold=threshold),
        "LIF_ode": lambda: LIF_ode(threshold=threshold),
        "LIF_Simple": lambda: LIF_Simple(threshold=threshold),
        "EIF": lambda: EIF(threshold=threshold),
        "EIF_Simple": lambda: EIF_Simple(threshold=threshold),
        "QIF": lambda: QIF(threshold=threshold),
        "AdEx": lambda: AdEx(threshold=threshold),
        "Izhikevich": lambda: Izhikevich(),
        "UniformLIF": lambda: UniformLIF(threshold=threshold, **het),
        "UniformLIF_Simple": lambda: UniformLIF_Simple(threshold=threshold, **het),
        "UniformEIF": lambda: UniformEIF(threshold=threshold, **het),
        "UniformQIF": lambda: UniformQIF(threshold=threshold, **het),
        "UniformAdEx": lambda: UniformAdEx(threshold=threshold, **het),
        "UniformIzhikevich": lambda: UniformIzhikevich(tau_range=(0.02, 0.1), seed=seed, n_features=n_features),
    }
