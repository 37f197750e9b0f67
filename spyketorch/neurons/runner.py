"""How a neuron layer's steps run: its backend, cached step plans, recycled buffers and state.

A :class:`Runner` is the execution half of a :class:`~spyketorch.neurons.Neuron`: the layer
holds the model's declaration, parameters and settings and gives them to its runner through
its public interface; the runner prepares a :class:`~spyketorch.neurons.step.StepPlan` once
per input shape and setting, keeps the state, and runs
:func:`~spyketorch.neurons.step.neuron_step` (or :func:`~spyketorch.neurons.step.neuron_run`)
through the backend.
"""
from __future__ import annotations

import math
from typing import Any, Dict, Optional, Tuple

import torch
from torch import Tensor

from . import params as _p
from .backends import OutputPool, compiling, make_backend
from .state import NeuronState
from .step import RunRecord, StepConfig, StepConstants, StepOutput, StepPlan

Want = Tuple[bool, bool, bool, bool]


class Runner:
    """Backend, plans, recycled buffers and state of one layer.

    Example:
        >>> runner = Runner("eager")
        >>> runner.backend.name, runner.state.v is None
        ('eager', True)
    """

    def __init__(self, backend: str = "eager") -> None:
        self.backend = make_backend(backend)
        self.pool = OutputPool()
        self.state = NeuronState()
        self.plans: Dict[Any, StepPlan] = {}
        self._consts: Optional[Tuple[Any, Any]] = None
        self._serial = 0

    def set_backend(self, name: str) -> None:
        if name != self.backend.name:
            self.backend = make_backend(name)
            self.forget()

    def forget(self) -> None:
        """Drop the plans, constants and recycled buffers (after any change of the layer)."""
        self.plans.clear()
        self._consts = None
        self.pool.clear()

    def reset(self) -> None:
        self.state.clear()
        self.pool.clear()

    def apply(self, fn: Any) -> None:
        """Move the state as ``nn.Module._apply`` moves the layer."""
        self.state.apply(fn)
        self.forget()

    def fresh(self) -> "Runner":
        """A runner of the same backend with nothing cached (for copies and unpickling)."""
        return Runner(self.backend.name)

    def __getstate__(self) -> Dict[str, Any]:
        return {"backend": self.backend.name, "state": self.state}

    def __setstate__(self, d: Dict[str, Any]) -> None:
        self.__init__(d["backend"])  # type: ignore[misc]
        self.state = d["state"]

    # ------------------------------------------------------------------ a step, a presentation
    def step(self, layer: Any, x: Tensor, k: int, want: Want) -> StepOutput:
        """Validate, look up the plan and the state, run the backend and keep the new state."""
        spike_fn = layer.surrogate if layer.surrogate is not None and torch.is_grad_enabled() else None
        I = x.detach() if spike_fn is None and isinstance(x, Tensor) and x.requires_grad else x
        check_input(I)
        in_dtype = I.dtype
        if in_dtype in _p.HALF_DTYPES:  # half precision: state and step in float32
            I = I.to(torch.float32)
        key = (I.shape, I.stride(), I.dtype, I.device, in_dtype, k, want, spike_fn is not None, compiling())
        learned = bool(layer.learned)
        if learned:  # rules checked again after an optimizer changed a learnable parameter
            layer.check_learned()
        plan = self.plans.get(key)
        if plan is None:
            plan = self.plans[key] = self._plan(layer, I, in_dtype, k, want, spike_fn is not None)
        if learned:  # the parameters as they are now, each step (an optimizer changes them in place)
            plan = _live(layer, plan, I)
        v, r, w, noise, pool = self._begin(layer, plan, I, I)
        res = self.backend.run(layer, plan, v, r, w, I, noise, spike_fn, pool)
        if res.bad is not None and bool(res.bad):
            raise ValueError("potentials contain NaN or inf")
        self.state.keep(res.v, res.r, res.w)
        out = res.out
        if pool is not None:  # what the caller drops is written over by a later step
            pool.give_all(v, r, w, out, plan.cfg.before_reset)
        if I.dtype != in_dtype:  # spikes are 0 or the amplitude, which _prepare checked against the dtype
            top = torch.finfo(in_dtype).max
            out = StepOutput(*[(t.to(in_dtype) if f in ("spikes", "winning_spikes") else t.clamp(-top, top).to(in_dtype))
                               if isinstance(t, Tensor) and t.is_floating_point() else t
                               for f, t in zip(out._fields, out)])
        return out

    def run(self, layer: Any, potentials: Tensor, k: int, spikes: bool, first_values: bool) -> RunRecord:
        """A presentation ``[T, B, C, H, W]`` through :func:`~spyketorch.neurons.step.neuron_run`."""
        if not isinstance(potentials, Tensor) or potentials.dim() != 5:
            got = f"shape {tuple(potentials.shape)}" if isinstance(potentials, Tensor) else type(potentials).__name__
            raise ValueError(f"potentials must be [T, B, C, H, W] (5-D), got {got}")
        X = potentials.detach()
        if X.shape[0] == 0:
            raise ValueError("potentials must have at least one time step")
        check_input(X[0])
        in_dtype = X.dtype
        if in_dtype in _p.HALF_DTYPES:
            X = X.to(torch.float32)
        key = (X.shape, X.stride(), X.dtype, X.device, in_dtype, k, (False,) * 4, False, compiling())
        learned = bool(layer.learned)
        if learned:
            layer.check_learned()
        plan = self.plans.get(key)
        if plan is None:
            plan = self.plans[key] = self._plan(layer, X[0], in_dtype, k, key[6], False)
        if learned:
            plan = _live(layer, plan, X[0])
        v, r, w, noise, pool = self._begin(layer, plan, X[0], X)
        res = self.backend.run_many(layer, plan, v, r, w, X, noise, (bool(spikes), bool(first_values)), pool)
        if res.bad is not None and bool(res.bad):
            raise ValueError("potentials contain NaN or inf")
        self.state.keep(res.v, res.r, res.w)
        rec = res.record
        if pool is not None:
            pool.give("v", v)
            pool.give("w", w)
            for name in ("spikes", "first_step", "first_value", "count"):
                pool.give(name, getattr(rec, name))
        if X.dtype != in_dtype:
            rec = rec._replace(spikes=None if rec.spikes is None else rec.spikes.to(in_dtype))
        return rec

    def _begin(self, layer: Any, plan: StepPlan, x: Tensor, inputs: Tensor) -> Tuple[
            Tensor, Tensor, Optional[Tensor], Optional[Tensor], Optional[OutputPool]]:
        """The state for a step (or run) on ``inputs`` (one step shaped like ``x``), the input
        check where the compiled step does not fuse it, the membrane noise and the pool."""
        v, r, w = self.state.for_input(x, plan.c.rest, plan.initial_w, layer.inhibition_mode)
        if plan.check and not plan.cfg.check_finite and inputs.numel():
            lo, hi = torch.aminmax(inputs.detach())  # NaN propagates into both; one pass instead of isfinite + all
            if not (-math.inf < float(lo) and float(hi) < math.inf):
                raise ValueError("potentials contain NaN or inf")
        noise = None
        if layer.noise_std > 0.0:
            noise = torch.empty_like(inputs).normal_(0.0, layer.noise_std * math.sqrt(layer.ts),
                                                     generator=layer.noise_generator)
        return v, r, w, noise, self.pool if plan.pooled else None

    # ------------------------------------------------------------------ plans
    def _plan(self, layer: Any, I: Tensor, in_dtype: torch.dtype, k: int, want: Tuple[bool, ...],
              grad: bool) -> StepPlan:
        """Everything a step on inputs like ``I`` reads that does not change between steps:
        parameters, constants and settings (rebuilt after any change of them)."""
        p, c, cap = self._prepare(layer, I, in_dtype)
        cf = layer.check_finite
        check = not compiling() and (bool(cf) or (cf is None and I.device.type == "cpu"))
        fused = self.backend.name == "compiled" and not compiling()
        R, mode = float(layer.refractory_timesteps), layer.inhibition_mode
        cfg = StepConfig(mode=mode, R=R, refractory=R > 0 and mode != "none", k=min(k, I.shape[1]),
                         want_thresholded=want[0], want_dudt=want[1], want_winners=want[2],
                         want_winning_spikes=want[3], amp=layer.spike_amplitude, clamp_at_rest=layer.clamp_at_rest,
                         capped=layer.TRAITS.capped, cap=cap, before_reset=layer.TRAITS.potentials_before_reset,
                         uniform_thr=isinstance(c.thr, float), detach_reset=layer.detach_reset,
                         check_finite=check and fused and not grad, fused=fused or compiling())
        initial_w = (lambda v0: layer.initial_w(v0, p)) if layer.has_second_variable else None
        self._serial += 1
        return StepPlan(p, c, cfg, check, fused, initial_w, self._serial)

    def _prepare(self, layer: Any, x: Tensor, out_dtype: torch.dtype) -> Tuple[Any, StepConstants, float]:
        """The parameters and constants of a step on ``x`` (cached per device, dtype and map
        shape). Parameters and settings the dtypes cannot represent raise ``ValueError``."""
        layer.on_input(x)
        key = (x.device, x.dtype, out_dtype, tuple(x.shape[1:]))
        if self._consts is not None and self._consts[0] == key:
            return self._consts[1]
        p = layer.params(x.device, x.dtype)
        names = layer.param_names
        own = [n for n in names if n not in ("resting_potential", "v_reset", "per_neuron_thresh")]
        _p.check_for_input(type(layer).__name__, {n: layer.param_or_none(n) for n in own + list(names)}, p,
                           tuple(x.shape[1:]), x.dtype, out_dtype, layer.threshold, layer.spike_amplitude,
                           layer.refractory_timesteps, values=not compiling())
        if not compiling():
            check_step_finite(layer, p, x.dtype)
        cap = _p.state_cap(x.dtype, out_dtype)
        thr = p.threshold
        pnt = layer.param_or_none("per_neuron_thresh")
        # learnable thresholds change without a host sync: a winner is any neuron that spiked
        # (the k-WTA scores the others at least 3 cap below it)
        thr_min = thr if isinstance(thr, float) else -2.0 * cap if "per_neuron_thresh" in layer.learned \
            else float(pnt.detach().min())
        c = StepConstants(rest=p.resting_potential, v_reset=p.v_reset, thr=thr, thr_min=thr_min, big=4.0 * cap)
        self._consts = (key, (p, c, cap))
        return p, c, cap


def _live(layer: Any, plan: StepPlan, I: Tensor) -> StepPlan:
    """``plan`` with parameters and constants read from the learnable parameters now: their
    conversion to the input's dtype, and what is derived from them, are recorded by autograd in
    this step's graph."""
    p = layer.params(I.device, I.dtype)
    c = plan.c._replace(rest=p.resting_potential, v_reset=p.v_reset, thr=p.threshold)
    initial_w = (lambda v0: layer.initial_w(v0, p)) if layer.has_second_variable else None
    return plan._replace(p=p, c=c, initial_w=initial_w, live=True)


@torch.no_grad()
def check_step_finite(model: Any, p: Any, dtype: torch.dtype) -> None:
    """Refuse parameters finite in float64 whose step is not finite in ``dtype`` (e.g. ``ts/C``
    with ``C=1e-300`` in float32): one step of ``model`` from rest, with no input and a unit input."""
    rest = torch.zeros((), dtype=dtype) + torch.as_tensor(p.resting_potential, dtype=dtype)
    for drive in (0.0, 1.0):
        I = torch.full_like(rest, drive)
        w0 = model.initial_w(rest, p) if model.has_second_variable else None
        u1, w1 = model.advance(rest, w0, I, p)
        if w0 is not None and w1 is None:
            w1 = model.advance_w(u1, w0, I, p)
        if not (bool(torch.isfinite(u1).all()) and (w1 is None or bool(torch.isfinite(w1).all()))):
            shown = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}=tensor{tuple(v.shape)}"
                              for k, v in p._asdict().items() if v is not None)
            raise ValueError(f"the parameters of {type(model).__name__} ({shown}) give a step that is not "
                             f"finite in {dtype}; use a wider dtype or parameters of a smaller range")


def check_input(potentials: Any) -> None:
    """``TypeError``/``ValueError`` naming ``potentials`` unless it is a floating ``[B, C, H, W]`` tensor."""
    if not isinstance(potentials, Tensor):
        raise TypeError(f"potentials must be a torch.Tensor, got {type(potentials).__name__}")
    if not potentials.is_floating_point():
        raise TypeError(f"potentials must have a floating dtype, got {potentials.dtype}")
    if potentials.dim() != 4:
        raise ValueError(f"potentials must be [B, C, H, W] (4-D), got shape {tuple(potentials.shape)}")
