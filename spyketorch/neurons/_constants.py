"""The per-step constants of a neuron layer, built once per device and dtype (private module).

:class:`StepConstantsCache` is the part of :class:`spyketorch.neurons.Neuron` that turns the
declared float64 parameters into what one step reads: the model's parameters as a
NamedTuple (Python floats for scalars, tensors on the input's device and dtype otherwise),
the base pipeline's :class:`spyketorch._stages.StepConstants` and the model's own constants
(its ``_coefficients``), cached until a parameter, a setting or the device changes.
"""
from __future__ import annotations

import math
from typing import Any, Dict, NamedTuple, Optional, Tuple, Union

import torch
from torch import Tensor

from . import _model as _m
from . import _stages as _st

_PARAMS_TYPES: Dict[Tuple[type, Tuple[str, ...]], type] = {}


def params_type(cls: type, names: Tuple[str, ...]) -> type:
    """A NamedTuple type ``<Model>Params`` with the given fields (cached)."""
    key = (cls, names)
    t = _PARAMS_TYPES.get(key)
    if t is None:
        t = NamedTuple(f"{cls.__name__}Params", [(n, Any) for n in names])  # type: ignore[misc]
        _PARAMS_TYPES[key] = t
    return t


class StepConstantsCache:
    """Mixin of :class:`spyketorch.neurons.Neuron`: parameters and constants for the step."""

    def __getstate__(self) -> Dict[str, Any]:
        """Pickle without the per-device constant caches (rebuilt on the next step), whose
        NamedTuple types are made per model at run time and cannot be pickled."""
        state = dict(self.__dict__)
        state.update(_coef=None, _coef_key=None)
        return state

    def _params(self, device: torch.device, dtype: torch.dtype) -> Any:
        """The declared parameters (plus ``ts`` and derived ones) as a NamedTuple: Python
        floats for scalars, tensors on ``device``/``dtype`` otherwise."""
        values: Dict[str, Any] = {"ts": self._ts}
        for name in self._param_names:
            t = self._buffers.get(name)
            values[name] = None if t is None else (float(t.item()) if t.numel() == 1 else t.to(device, dtype))
        for name in self.DERIVED:
            if values[name] is None:
                thr = values["per_neuron_thresh"]
                thr = (math.inf if self._threshold is None else self._threshold) if thr is None else thr
                if isinstance(thr, float) and math.isinf(thr):
                    raise ValueError(f"{name}=None follows the threshold, but threshold is None (and no "
                                     f"per_neuron_thresh is set): give threshold, per_neuron_thresh or {name}")
                values[name] = thr - abs(thr) * 0.25
        return params_type(type(self), tuple(values))(**values)

    def _effective_threshold(self, device: torch.device, dtype: torch.dtype) -> Union[float, Tensor]:
        """Per-neuron thresholds if set, else the layer threshold (``inf`` for None)."""
        t = self._buffers.get("per_neuron_thresh")
        if t is not None:
            return float(t.item()) if t.numel() == 1 else t.to(device, dtype)
        return math.inf if self._threshold is None else self._threshold

    def _reset_value(self, device: torch.device, dtype: torch.dtype) -> Union[float, Tensor]:
        """Potential after a spike: ``v_reset``, or rest when it is None."""
        p = self._params(device, dtype)
        return p.resting_potential if p.v_reset is None else p.v_reset

    @property
    def reset_potential(self) -> Union[float, Tensor]:
        """Potential after a spike (float64; a number when scalar)."""
        return self._reset_value(torch.device("cpu"), torch.float64)

    @property
    def effective_threshold(self) -> Union[float, Tensor]:
        """Per-neuron thresholds if set, else the layer threshold (``inf`` when None), float64."""
        return self._effective_threshold(torch.device("cpu"), torch.float64)

    def _coefficients(self, p: Any) -> Any:
        """The model's per-step constants (a NamedTuple) from its parameters ``p``."""
        return ()

    def _prepare(self, x: Tensor, out_dtype: Optional[torch.dtype] = None) -> _st.Prepared:
        """The constants of a step on ``x``'s device and dtype (cached), for outputs in
        ``out_dtype`` (default: ``x``'s dtype; a half dtype when ``x`` is its float32 copy).
        Parameters and settings the dtypes cannot represent raise ``ValueError`` here."""
        out_dtype = x.dtype if out_dtype is None else out_dtype
        key = (x.device, x.dtype, out_dtype)
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
                    raise ValueError(f"{name} has shape {tuple(t.shape)}, which does not broadcast to one sample {shape}")
        p = self._params(dev, dt)
        name = type(self).__name__
        given = dict(p._asdict(), threshold=self._threshold)
        _m.check_params_fit(name, given, dt, out_dtype)
        _m.check_dtype_range(name, self._ts, self.spike_amplitude, self._refractory_timesteps, dt, out_dtype)
        rest = p.resting_potential
        thr = self._effective_threshold(dev, dt)
        cap = _m.state_cap(dt, out_dtype)
        base = _st.StepConstants(
            rest=rest, rest_t=torch.as_tensor(rest, dtype=dt, device=dev),
            v_reset=self._reset_value(dev, dt), thr=thr,
            thr_min=thr if isinstance(thr, float) else float(self._buffers["per_neuron_thresh"].min().item()),
            uniform_thr=isinstance(thr, float), cap=cap, log_cap=math.log(cap),
            amp=self.spike_amplitude, big=4.0 * cap, nbig=-4.0 * cap, one=1.0,
            fast_floor=self.clamp_at_rest and not isinstance(rest, Tensor),
            clamp_at_rest=self.clamp_at_rest, nonlinear=self.TRAITS.capped,
            R=float(self._refractory_timesteps))
        model = self._coefficients(p)
        model_ops = _st.as_operands(model, dev, dt)
        _m.check_constants_finite(name, model_ops, getattr(model, "_fields", ()), dt, given)
        self._coef = _st.Prepared(base, _st.as_operands(base, dev, dt), model, model_ops, p)
        self._coef_key = key
        return self._coef
