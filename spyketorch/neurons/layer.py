r"""The neuron layer: settings, parameters and state around the one pure step.

:class:`Neuron` is a ``torch.nn.Module`` that owns a model's settings (time step,
threshold, refractoriness, inhibition mode, ...), its declared parameters (float64
buffers, checked against their rules on every change) and its state (potentials, the
refractory counter and the second variable). Each :meth:`Neuron.step` gathers them and
calls :func:`spyketorch.neurons.step.neuron_step` through the layer's backend
(:mod:`spyketorch.neurons.backends`), then keeps the new state.
"""
from __future__ import annotations

import copy
import math
from typing import Any, Dict, List, Optional, Tuple, Union

import torch
from torch import Tensor

from .. import _validation as _v
from . import params as _p
from .backends import BACKENDS, OutputPool, compiling, make_backend
from .model import _REQUIRED, NeuronModel
from .parametrized import ParamModule
from .settings import Setting
from .state import NeuronState
from .step import RunRecord, StepConfig, StepConstants, StepOutput, StepPlan
from .surrogate import make_spike_fn

#: the settings saved with ``state_dict`` (its extra state) and shown by ``get_params``
SAVED = ("threshold", "ts", "refractory_timesteps", "inhibition_mode", "clamp_at_rest", "noise_std")


def _check_optional_generator(value: Any) -> Optional[torch.Generator]:
    return _p.check_generator(value, "noise_generator", cpu=False)


def _check_finite_flag(value: Any) -> Optional[bool]:
    return None if value is None else bool(value)


class Neuron(NeuronModel, ParamModule):
    r"""Base class of all neuron layers: declared parameters, state and the step.

    A model subclass declares only its equations and parameters (see
    :mod:`spyketorch.neurons.model`); the constructor, validation, state handling and every
    step backend follow from that declaration.

    Parameters are registered as float64 buffers, so ``.to(device)``, ``.double()``
    and ``state_dict()`` carry them; any of them may be a scalar or a tensor that
    broadcasts against one sample ``[C, H, W]`` (e.g. ``[C, 1, 1]`` for one value per
    feature map). The layer threshold is a plain number (or ``None``: the layer never
    fires); ``per_neuron_thresh`` is an optional tensor that overrides it.

    State is created on the first call with the input's shape, device and dtype; a later
    call with another shape, device or dtype raises ``ValueError`` until :meth:`reset`.
    float16 and bfloat16 inputs are stepped in float32 and the outputs returned in the
    input's dtype. Settings the dtype cannot represent raise ``ValueError`` at the first call.

    Args:
        ts: time step in seconds. Default: 0.01 (each model sets its own).
        resting_potential: resting potential :math:`u_{rest}`. Default: 0.0.
        v_reset: potential after a spike; ``None`` means the resting potential. Default: None.
        threshold: firing threshold; ``None`` means the layer never fires. Default: None.
        refractory_timesteps: steps of refractoriness given to inhibited neurons. Default: 0.
        inhibition_mode: ``"feature"``, ``"location"``, ``"layer"``, ``"neuron"`` or
            ``"none"``. Default: ``"feature"``.
        clamp_at_rest: floor the potential at rest every step; ``None`` uses the model's
            default. Default: None.
        check_finite: raise ``ValueError`` on NaN/inf input. ``None`` checks on CPU and
            skips on accelerators (where the check costs a host sync). Default: None.
        noise_std: membrane noise :math:`\sigma`: every step adds
            :math:`\sigma\sqrt{t_s}\,\mathcal{N}(0, 1)` to the integrated potential.
            Default: 0.0.
        noise_generator: ``torch.Generator`` on the input's device for the noise. Default: None.
        backend: ``"eager"`` or ``"compiled"`` (see :attr:`backend`). Default: ``"eager"``.
        surrogate: surrogate gradient of the spike: ``None`` (no gradient, the fastest),
            ``"atan"``, ``"fast_sigmoid"``, ``"sigmoid"``, ``"triangle"`` or a callable
            (see :mod:`spyketorch.neurons.surrogate`). Default: None.
        alpha: the surrogate's ``alpha``/``slope`` (None: its default). Default: None.
        detach_reset: the reset passes no gradient through the spike. Default: True.
    """


    ts = Setting(_p.check_ts, "Time step in seconds.")
    threshold = Setting(_p.check_threshold, "Layer-wise firing threshold (``None``: never fires).")
    refractory_timesteps = Setting(_p.check_steps, "Number of steps an inhibited neuron stays at rest.")
    inhibition_mode = Setting(_p.check_mode, "Which neurons the k winners put into refractoriness.")
    clamp_at_rest = Setting(bool, "Whether the potential is floored at the resting potential every step.")
    noise_std = Setting(lambda v: float(_v.non_negative(v, "noise_std")),
                        r"Membrane noise :math:`\sigma` (per-step std :math:`\sigma\sqrt{t_s}`).")
    noise_generator = Setting(_check_optional_generator, "Generator of the membrane noise (None: torch's global one).")
    check_finite = Setting(_check_finite_flag, "Refuse NaN/inf input (None: on the CPU only).")
    detach_reset = Setting(bool, "The reset passes no gradient through the spike (with a surrogate).")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        bound = self.__signature__.bind(*args, **kwargs)
        given = set(bound.arguments)
        bound.apply_defaults()
        a = dict(bound.arguments)
        if a["threshold"] is _REQUIRED:
            raise TypeError(f"{type(self).__name__}() missing required argument: 'threshold'")
        ParamModule.__init__(self)
        for alias, target in getattr(self, "ALIASES", {}).items():
            name, agree = (target, False) if isinstance(target, str) else (target[0], True)
            a[name] = _resolve_alias(a.pop(alias), a.get(name), name in given, agree, name, alias, type(self).__name__)
        a.update(getattr(self, "FIXED", {}))
        self._setup(a)

    def _setup(self, a: Dict[str, Any]) -> None:
        """Settings, parameters and state from the bound constructor arguments ``a``."""
        self._consts: Optional[Tuple[Any, Any]] = None
        self._plans: Dict[Any, StepPlan] = {}
        self._serial = 0
        for name in ("ts", "threshold", "refractory_timesteps", "inhibition_mode", "check_finite", "noise_std",
                     "noise_generator"):
            setattr(self, name, a.pop(name))
        cr = a.pop("clamp_at_rest")
        self.clamp_at_rest = self.TRAITS.floored if cr is None else cr
        self._pool = OutputPool()
        self._backend = make_backend(a.pop("backend"))
        self.set_surrogate(a.pop("surrogate"), a.pop("alpha"), a.pop("detach_reset"))
        self._state = NeuronState()  # not in state_dict (see get_state); moved by _apply
        rest_pending = self.TRAITS.rest_is_equilibrium and a.get("resting_potential") is None
        self._rest_given = self.TRAITS.rest_is_equilibrium and not rest_pending
        pending = self._pending(a) | ({"resting_potential"} if rest_pending else set())
        for p in self.BASE_PARAMS + self.all_params():  # pending ones are set below, or drawn on the first step
            self._declare(p, a.pop(p.name, p.default), pending=p.name in pending)
        if a:
            raise TypeError(f"{type(self).__name__} got unexpected arguments {sorted(a)}")
        self._rest_pending = rest_pending
        self._settle_rest()
        self._changed()

    def _pending(self, a: Dict[str, Any]) -> set:
        """Names of parameters whose value the constructor does not set from ``a`` (a
        heterogeneous layer draws them); they stay None until then."""
        return set()

    # ------------------------------------------------------------------ settings
    @property
    def backend(self) -> str:
        """How the step runs: ``"eager"`` (op by op; the default) or ``"compiled"`` (the same
        step function fused by inductor into C++ kernels on the CPU or Triton kernels on a
        GPU, compiled on the first step of each shape, dtype and setting; see
        :mod:`spyketorch.neurons.backends`). Assign to switch.

        Example:
            >>> layer = LIF(threshold=10.0, backend="compiled")
            >>> layer.backend
            'compiled'
            >>> layer.backend = "eager"
        """
        return self._backend.name

    @backend.setter
    def backend(self, value: str) -> None:
        if value != self._backend.name:
            self._backend = make_backend(value)
            self._pool.clear()
            self._plans.clear()

    @property
    def surrogate(self) -> Any:
        """The surrogate-gradient spike function (None: the step builds no graph)."""
        return self._spike_fn

    def set_surrogate(self, surrogate: Any, alpha: Optional[float] = None, detach_reset: bool = True) -> None:
        """Set the surrogate gradient of the spike (see the class arguments of the same names)."""
        self._spike_fn = make_spike_fn(surrogate, alpha)
        self.detach_reset = detach_reset

    @property
    def refractoriness(self) -> float:
        """Refractory period in seconds (``refractory_timesteps * ts``)."""
        return self.refractory_timesteps * self.ts

    @property
    def rest_given(self) -> bool:
        """Whether ``resting_potential`` was given (for models whose rest is otherwise their equilibrium)."""
        return self._rest_given

    @rest_given.setter
    def rest_given(self, value: bool) -> None:
        self._rest_given = bool(value)

    # ------------------------------------------------------------------ parameters
    def _after_change(self) -> None:
        """After any change of a parameter or setting: drop cached constants and plans and check
        the relations between parameters."""
        self._consts = None
        self.__dict__.setdefault("_plans", {}).clear()
        pnt = self._buffers.get("per_neuron_thresh")
        self.__dict__["_thr_min"] = None if pnt is None else float(pnt.min())
        if "per_neuron_thresh" in self.param_names:
            self._validate()

    def get_params(self) -> Dict[str, Any]:
        """Parameters and settings as a dict (numbers for scalars, tensors otherwise)."""
        params: Dict[str, Any] = {k: getattr(self, k) for k in SAVED}
        for name in self.param_names:
            t = self._buffers[name]
            params[name] = None if t is None else (float(t.item()) if t.numel() == 1 else t.clone())
        return params

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget the state (potentials, refractoriness, adaptation): the next call starts fresh.

        Parameters, including ``per_neuron_thresh`` and sampled time constants, are kept.
        """
        self._state.clear()
        self._pool.clear()

    @property
    def v(self) -> Optional[Tensor]:
        """Membrane potentials after the last step (None before the first)."""
        return self._state.v

    @property
    def w(self) -> Optional[Tensor]:
        """Second variable after the last step (None without one, or before the first step)."""
        return self._state.w

    previous_state = v  # the reference's name

    @property
    def refractory(self) -> Optional[Tensor]:
        """Remaining refractory steps ``[B, C, H, W]``."""
        return self._state.refractory

    @property
    def refractory_periods(self) -> Optional[Tensor]:
        """Remaining refractoriness in seconds, ``[B, C, H, W]`` (reference name and unit)."""
        r = self._state.refractory
        return None if r is None else r * self.ts

    def get_state(self) -> Dict[str, Optional[Tensor]]:
        """The layer's state tensors (``v``, ``refractory`` in steps, ``w``), cloned, ``[B, C, H, W]``."""
        return self._state.get()

    def load_state(self, state: Dict[str, Optional[Tensor]]) -> None:
        """Restore a state returned by :meth:`get_state` (see
        :func:`spyketorch.neurons.state.checked_state`: bad entries raise ``ValueError``/``TypeError``
        naming them, and the layer keeps its state)."""
        self._pool.clear()
        self._state.load(state, self.has_second_variable)

    # ------------------------------------------------------------------ the step
    def step(self, potentials: Tensor, n_winners: int = 1, *, thresholded: bool = True, dudt: bool = True,
             winners: bool = True, winning_spikes: bool = True) -> StepOutput:
        """Advance one time step and return every output as tensors (no host sync).

        The keyword flags skip outputs the caller does not read (their fields are ``None``);
        the state after the step is the same whatever they are.

        Args:
            potentials: input potentials ``[B, C, H, W]`` (floating dtype).
            n_winners: number of winners ``k`` per sample. Default: 1.
            thresholded: compute ``thresholded``. Default: True.
            dudt: compute ``dudt``. Default: True.
            winners: compute ``winners``. Default: True.
            winning_spikes: compute ``winning_spikes``. Default: True.

        Returns:
            StepOutput: ``(spikes, potentials, thresholded, dudt, winners, winning_spikes)``
            with ``winners`` as a ``[B, K, 3]`` long tensor, ``K = min(n_winners, C)`` (at most
            one winner per map), ``-1`` rows where fewer won.

        Shape:
            input ``[B, C, H, W]``; every output ``[B, C, H, W]`` except ``winners``.

        Example:
            >>> layer = LIF(threshold=10.0)
            >>> out = layer.step(torch.rand(8, 4, 6, 6) * 3000, n_winners=2)
            >>> out.winners.shape
            torch.Size([8, 2, 3])
        """
        return self._advance(potentials, _p.check_k(n_winners),
                             (bool(thresholded), bool(dudt), bool(winners), bool(winning_spikes)))

    def forward(self, potentials: Tensor, return_thresholded_potentials: bool = False, return_dudt: bool = False,
                return_winners: bool = True, n_winners: int = 1,
                return_winning_spikes: bool = False) -> Tuple[Any, ...]:
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
        o = self.step(potentials, n_winners, thresholded=return_thresholded_potentials, dudt=return_dudt,
                      winners=return_winners, winning_spikes=return_winning_spikes)
        ret: Tuple[Any, ...] = (o.spikes,)
        if return_thresholded_potentials:
            ret += (o.thresholded,)
        ret += (o.potentials,)
        if return_dudt:
            ret += (o.dudt,)
        if return_winners:
            ret += (self.winners_to_list(o.winners),)
        if return_winning_spikes:
            ret += (o.winning_spikes,)
        return ret

    @staticmethod
    def winners_to_list(winners: Tensor) -> Union[List[Tuple[int, int, int]], List[List[Tuple[int, int, int]]]]:
        """Convert ``[B, k, 3]`` winners to the reference's list(s) of ``(feature, row, col)``."""
        lists = [[tuple(w) for w in sample if w[0] >= 0] for sample in winners.tolist()]
        return lists[0] if len(lists) == 1 else lists

    def _advance(self, x: Tensor, k: int, want: Tuple[bool, bool, bool, bool]) -> StepOutput:
        """Validate, look up the step's plan and state, run the backend and keep the new state."""
        spike_fn = self._spike_fn if self._spike_fn is not None and torch.is_grad_enabled() else None
        I = x.detach() if spike_fn is None and isinstance(x, Tensor) and x.requires_grad else x
        check_input(I)
        in_dtype = I.dtype
        if in_dtype in _p.HALF_DTYPES:  # half precision: state and step in float32
            I = I.to(torch.float32)
        key = (I.shape, I.stride(), I.dtype, I.device, in_dtype, k, want, spike_fn is not None, compiling())
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._plan(I, in_dtype, k, want, spike_fn is not None)
        c, cfg = plan.c, plan.cfg
        v, r, w = self._state.for_input(I, c.rest, plan.initial_w, self.inhibition_mode)
        if plan.check and not cfg.check_finite and I.numel():
            lo, hi = torch.aminmax(I)  # NaN propagates into both; one pass instead of isfinite + all
            if not (-math.inf < float(lo) and float(hi) < math.inf):
                raise ValueError("potentials contain NaN or inf")
        noise = None
        if self.noise_std > 0.0:
            noise = torch.empty_like(I).normal_(0.0, self.noise_std * math.sqrt(self.ts), generator=self.noise_generator)
        pool = self._pool if plan.pooled else None
        res = self._backend.run(self, plan, v, r, w, I, noise, spike_fn, pool)
        if res.bad is not None and bool(res.bad):
            raise ValueError("potentials contain NaN or inf")
        self._state.keep(res.v, res.r, res.w)
        out = res.out
        if pool is not None:  # what the caller drops is written over by a later step
            pool.give_all(v, r, w, out, cfg.before_reset)
        if I.dtype != in_dtype:  # spikes are 0 or the amplitude, which _prepare checked against the dtype
            top = torch.finfo(in_dtype).max
            out = StepOutput(*[(t.to(in_dtype) if f in ("spikes", "winning_spikes") else t.clamp(-top, top).to(in_dtype))
                               if isinstance(t, Tensor) and t.is_floating_point() else t
                               for f, t in zip(out._fields, out)])
        return out

    def run(self, potentials: Tensor, n_winners: int = 1, *, spikes: bool = True,
            first_values: bool = True) -> RunRecord:
        """Step through a whole presentation ``[T, B, C, H, W]`` and record first spikes.

        The same steps as ``T`` calls of :meth:`step` (continuing from the current state; call
        :meth:`reset` first for a fresh presentation), as one call: with
        ``backend="compiled"`` its ``T`` steps fuse into as few passes as the lateral inhibition
        allows (one pass without it), and nothing but the record is written.

        Args:
            potentials: input potentials of every step ``[T, B, C, H, W]`` (floating dtype).
            n_winners: winners ``k`` of the per-step k-WTA. Default: 1.
            spikes: record which neurons fired at each step. Default: True.
            first_values: record the potential (before reset) at each neuron's first spike.
                Default: True.

        Returns:
            :class:`~spyketorch.neurons.step.RunRecord`: ``spikes`` (0/1, ``[T, B, C, H, W]``),
            ``first_step`` (``T`` where a neuron never fired), ``first_value`` and ``count``
            (``[B, C, H, W]``).

        Example:
            >>> layer = IF(threshold=1.0, ts=1.0, C=1.0, refractory_timesteps=0)
            >>> rec = layer.run(torch.tensor([0.4, 0.4, 0.4, 0.0]).view(4, 1, 1, 1, 1))
            >>> rec.first_step.item(), rec.count.item(), rec.spikes.flatten().tolist()
            (2.0, 1.0, [0.0, 0.0, 1.0, 0.0])
        """
        if not isinstance(potentials, Tensor) or potentials.dim() != 5:
            got = f"shape {tuple(potentials.shape)}" if isinstance(potentials, Tensor) else type(potentials).__name__
            raise ValueError(f"potentials must be [T, B, C, H, W] (5-D), got {got}")
        k = _p.check_k(n_winners)
        X = potentials.detach()
        check_input(X[0] if X.shape[0] else X.new_empty((0, 0, 0, 0)))
        if X.shape[0] == 0:
            raise ValueError("potentials must have at least one time step")
        in_dtype = X.dtype
        if in_dtype in _p.HALF_DTYPES:
            X = X.to(torch.float32)
        key = (X.shape, X.stride(), X.dtype, X.device, in_dtype, k, (False,) * 4, False, compiling())
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._plan(X[0], in_dtype, k, key[6], False)
        v, r, w = self._state.for_input(X[0], plan.c.rest, plan.initial_w, self.inhibition_mode)
        if plan.check and not plan.cfg.check_finite and X.numel():
            lo, hi = torch.aminmax(X)
            if not (-math.inf < float(lo) and float(hi) < math.inf):
                raise ValueError("potentials contain NaN or inf")
        noise = None
        if self.noise_std > 0.0:
            noise = torch.empty_like(X).normal_(0.0, self.noise_std * math.sqrt(self.ts), generator=self.noise_generator)
        pool = self._pool if plan.pooled else None
        res = self._backend.run_many(self, plan, v, r, w, X, noise, (bool(spikes), bool(first_values)), pool)
        if res.bad is not None and bool(res.bad):
            raise ValueError("potentials contain NaN or inf")
        self._state.keep(res.v, res.r, res.w)
        rec = res.record
        if pool is not None:
            pool.give("v", v)
            pool.give("w", w)
            for name in ("spikes", "first_step", "first_value", "count"):
                pool.give(name, getattr(rec, name))
        if X.dtype != in_dtype:
            rec = RunRecord(*[None if t is None else t.to(in_dtype) if f in ("spikes",) else t for f, t in zip(rec._fields, rec)])
        return rec

    def _plan(self, I: Tensor, in_dtype: torch.dtype, k: int, want: Tuple[bool, ...], grad: bool) -> StepPlan:
        """Everything a step on inputs like ``I`` reads that does not change between steps:
        parameters, constants and settings (rebuilt after any change of them)."""
        p, c, cap = self._prepare(I, in_dtype)
        cf = self.check_finite
        check = not compiling() and (bool(cf) or (cf is None and I.device.type == "cpu"))
        fused = self._backend.name == "compiled" and not compiling()
        R, mode = float(self.refractory_timesteps), self.inhibition_mode
        cfg = StepConfig(mode=mode, R=R, refractory=R > 0 and mode != "none", k=min(k, I.shape[1]),
                         want_thresholded=want[0], want_dudt=want[1], want_winners=want[2],
                         want_winning_spikes=want[3], amp=self.spike_amplitude, clamp_at_rest=self.clamp_at_rest,
                         capped=self.TRAITS.capped, cap=cap, before_reset=self.TRAITS.potentials_before_reset,
                         uniform_thr=isinstance(c.thr, float), detach_reset=self.detach_reset,
                         check_finite=check and fused and not grad, fused=fused or compiling())
        initial_w = (lambda v0: self.initial_w(v0, p)) if self.has_second_variable else None
        self._serial += 1
        return StepPlan(p, c, cfg, check, fused, initial_w, self._serial)

    def _check_step_finite(self, p: Any, dtype: torch.dtype) -> None:
        """Refuse parameters finite in float64 whose step is not finite in ``dtype`` (e.g.
        ``ts/C`` with ``C=1e-300`` in float32): one step from rest with no input and a unit input."""
        rest = torch.zeros((), dtype=dtype) + torch.as_tensor(p.resting_potential, dtype=dtype)
        for drive in (0.0, 1.0):
            I = torch.full_like(rest, drive)
            w0 = self.initial_w(rest, p) if self.has_second_variable else None
            u1, w1 = self.advance(rest, w0, I, p)
            if w0 is not None and w1 is None:
                w1 = self.advance_w(u1, w0, I, p)
            if not (bool(torch.isfinite(u1).all()) and (w1 is None or bool(torch.isfinite(w1).all()))):
                shown = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}=tensor{tuple(v.shape)}"
                                  for k, v in p._asdict().items() if v is not None)
                raise ValueError(f"the parameters of {type(self).__name__} ({shown}) give a step that is not "
                                 f"finite in {dtype}; use a wider dtype or parameters of a smaller range")

    def _on_input(self, x: Tensor) -> None:
        """Hook before the constants of a step on ``x`` are prepared (heterogeneous layers
        draw their parameters here)."""

    def _prepare(self, x: Tensor, out_dtype: torch.dtype) -> Tuple[Any, StepConstants, float]:
        """The parameters and constants of a step on ``x`` (cached per device, dtype and map
        shape). Parameters and settings the dtypes cannot represent raise ``ValueError``."""
        self._on_input(x)
        key = (x.device, x.dtype, out_dtype, tuple(x.shape[1:]))
        if self._consts is not None and self._consts[0] == key:
            return self._consts[1]
        p = self._params(x.device, x.dtype)
        own = [n for n in self.param_names if n not in ("resting_potential", "v_reset", "per_neuron_thresh")]
        _p.check_for_input(type(self).__name__, {n: self.param_or_none(n) for n in own + list(self.param_names)}, p,
                           tuple(x.shape[1:]), x.dtype, out_dtype, self.threshold, self.spike_amplitude,
                           self.refractory_timesteps, values=not compiling())
        if not compiling():
            self._check_step_finite(p, x.dtype)
        cap = _p.state_cap(x.dtype, out_dtype)
        thr = p.threshold
        c = StepConstants(rest=p.resting_potential, v_reset=p.v_reset, thr=thr,
                          thr_min=thr if isinstance(thr, float) else self._thr_min, big=4.0 * cap)
        self._consts = (key, (p, c, cap))
        return p, c, cap

    # ------------------------------------------------------------------ module plumbing
    def fresh_copy(self) -> "Neuron":
        """A deep copy of the layer with its state reset (its compiled kernels are rebuilt)."""
        out = copy.deepcopy(self)
        out.reset()
        return out

    def __deepcopy__(self, memo: Dict[int, Any]) -> "Neuron":
        new = self.__class__.__new__(self.__class__)
        memo[id(self)] = new
        for k, v in self.__dict__.items():
            new.__dict__[k] = None if k == "_consts" else {} if k == "_plans" else copy.deepcopy(v, memo) if k not in (
                "_backend", "_pool") else v
        new.__dict__.update(_backend=make_backend(self.backend), _pool=OutputPool())
        return new

    def __getstate__(self) -> Dict[str, Any]:
        """Pickle without compiled kernels, recycled buffers and cached constants."""
        return dict(self.__dict__, _backend=self.backend, _pool=None, _consts=None, _plans={})

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.update(_backend=make_backend(state["_backend"]), _pool=OutputPool())

    def extra_repr(self) -> str:
        return ", ".join(f"{k}=tensor{tuple(v.shape)}" if isinstance(v, Tensor) else f"{k}={v:g}"
                         if isinstance(v, float) else f"{k}={v!r}" for k, v in self.get_params().items() if v is not None)

    def get_extra_state(self) -> Dict[str, Any]:
        return {k: getattr(self, k) for k in SAVED}

    def set_extra_state(self, state: Dict[str, Any]) -> None:
        self.__dict__["_ts"] = _p.check_ts(state["ts"])
        for k in SAVED[2:]:
            setattr(self, k, state.get(k, 0.0))
        self.threshold = state["threshold"]

    def _apply(self, fn: Any, recurse: bool = True) -> "Neuron":  # type: ignore[override]
        out = super()._apply(fn, recurse)
        self._state.apply(fn)
        self._consts = None
        self._plans.clear()
        self._pool.clear()
        return out


def check_input(potentials: Any) -> None:
    """``TypeError``/``ValueError`` naming ``potentials`` unless it is a floating ``[B, C, H, W]`` tensor."""
    if not isinstance(potentials, Tensor):
        raise TypeError(f"potentials must be a torch.Tensor, got {type(potentials).__name__}")
    if not potentials.is_floating_point():
        raise TypeError(f"potentials must have a floating dtype, got {potentials.dtype}")
    if potentials.dim() != 4:
        raise ValueError(f"potentials must be [B, C, H, W] (4-D), got shape {tuple(potentials.shape)}")


def _resolve_alias(alias_value: Any, value: Any, given: bool, agree: bool, name: str, alias: str, layer: str) -> Any:
    """A parameter given under its name and/or its alias (``given``: the name was passed, not
    defaulted): the alias alone sets it; both given is a ``TypeError``, or, for aliases that
    may ``agree``, a ``ValueError`` when they differ."""
    if alias_value is None:
        return value
    if given and value is not None and not agree:
        raise TypeError(f"give either {name} or {alias}, not both")
    if not given or value is None:
        _p.as_param_tensor(alias, alias_value)
        return alias_value
    a, b = _p.as_param_tensor(alias, alias_value), _p.as_param_tensor(name, value)
    if a.shape != b.shape or not torch.equal(a, b):
        raise ValueError(f"{name}={value!r} and {alias}={alias_value!r} disagree: both set the same parameter "
                         f"of {layer}; give one of them")
    return value


__all__ = ["Neuron", "BACKENDS", "check_input"]
