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
   potential, at most one per feature map; among equal potentials the lowest feature
   index wins first, and within a map the lowest row-major location (as the
   reference's iterative argmax and :func:`spyketorch.functional.get_k_winners`);
7. **lateral inhibition** – the winners put their feature map (``"feature"``), their
   location across maps (``"location"``), the whole layer (``"layer"``), only the
   neurons that spiked (``"neuron"``) or nothing (``"none"``) into refractoriness
   for ``refractory_timesteps`` steps;
8. **reset** of every neuron that spiked (``v_reset``) and the model's after-spike
   jump (e.g. adaptation :math:`w \mathrel{+}= b`).

A model only declares its parameters (``PARAMS``), its traits (``TRAITS``, a
:class:`ModelTraits`), its right-hand side :meth:`Neuron.rhs`, its ``_integrate`` step and,
if any, the step of its second variable. :meth:`Neuron.compile` runs the whole composed
step through ``torch.compile`` and :meth:`Neuron.native` through a hand-written C kernel on
the CPU (the opt-in fused paths).

The call contract follows the SpykeTorch ``neurons`` module::

    spikes, [thresholded,] potentials, [dudt,] [winners,] [winning_spikes]
        = layer(potentials, return_thresholded_potentials=False, return_dudt=False,
                return_winners=True, n_winners=1, return_winning_spikes=False)

and :meth:`Neuron.step` returns a :class:`StepOutput` named tuple of tensors that
never leaves the device.

Differences from the reference implementation (on purpose, and documented on
each class): inputs are batches ``[B, C, H, W]`` of any size and every sample is
independent; state lives on the input's device and dtype (float16 and bfloat16 inputs
are stepped in float32, whose range and precision hold every model's state and the
refractory count, and the outputs returned in the input's dtype); refractoriness is an
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

import functools
import math
from dataclasses import replace
from typing import Any, Callable, ClassVar, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from . import _model as _m
from . import _stages as _st
from ._constants import StepConstantsCache
from ._fused import FusedStep
from ._native import NativeStep
from ._stages import StepOutput
from ._model import INHIBITION_MODES, LayerSettings, ModelTraits, Param, ParamValue
from ._ode import OdeConveniences
from ._ode import f64 as _f64
from .. import _validation as _v
from ._model import check_k, check_param, check_ts

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
    "AdaptiveLIF",
    "UniformAdaptiveLIF",
    "ResonateAndFire",
    "UniformResonateAndFire",
    "Param",
    "ModelTraits",
    "ModelSpec",
    "MODELS",
    "INHIBITION_MODES",
    "all_models",
]


# ---------------------------------------------------------------------- model constants (typed)
Scalar = Union[float, Tensor]


class _Lin(NamedTuple):   # u' = a u + k I + c0
    a: Scalar
    k: Scalar
    c0: Scalar


class _Exp(NamedTuple):   # _Lin plus the exponential term exp(u s + o)
    a: Scalar
    k: Scalar
    c0: Scalar
    s: Scalar
    o: Scalar


class _Quad(NamedTuple):  # u' = u + q (u - rest)(u - uc) + k I
    q: Scalar
    k: Scalar
    rest: Scalar
    uc: Scalar


class _AdExC(NamedTuple):
    a: Scalar
    k: Scalar
    c0: Scalar
    s: Scalar
    o: Scalar
    one_m_gw: Scalar
    aw: Scalar
    b: Scalar


class _IzhC(NamedTuple):
    dt: float
    ga: Scalar
    b_: Scalar
    d: Scalar
    k004: float
    five: float
    c140: float


class _ALIFC(NamedTuple):
    a: Scalar
    k: Scalar
    c0: Scalar
    ea: Scalar
    beta: Scalar


class _RFC(NamedTuple):   # exact rotation: E cos, E sin; input gain; x after a spike
    ec: Scalar
    es: Scalar
    k: Scalar
    x_reset: Scalar


class Neuron(StepConstantsCache, OdeConveniences, FusedStep, NativeStep, LayerSettings):
    r"""Base class of all neuron layers: declared parameters, state and the step pipeline.

    A model declares its parameters in ``PARAMS`` (a tuple of :class:`Param`), how the
    pipeline treats it in ``TRAITS`` (a :class:`ModelTraits`), the right-hand side of its
    equations in :meth:`rhs` (every derivative, given the state *and the input*), one step
    of them in :meth:`_integrate` (default: forward Euler ``u + ts * rhs``; a model gives
    an exact step, or a hand-fused Euler step where the benchmark shows a gain) and, for
    two-variable models, :meth:`_adapt` (the second variable after the step, with its
    after-spike jump). The pipeline stages are the pure functions of
    :mod:`spyketorch._stages`; parameters, settings and state, the per-step constants, the
    float64 ODE and the fused (compiled) step live in the mixins ``LayerSettings``,
    ``StepConstantsCache``, ``OdeConveniences`` and ``FusedStep`` (private modules).

    Parameters are registered as float64 buffers, so ``.to(device)``, ``.double()``
    and ``state_dict()`` carry them; any of them may be a scalar or a tensor that
    broadcasts against one sample ``[C, H, W]`` (e.g. ``[C, 1, 1]`` for one value per
    feature map). The layer threshold is a plain number (or ``None``: the layer never
    fires); ``per_neuron_thresh`` is an optional tensor that overrides it.

    Membrane state is created lazily on the first call with the input's shape,
    device and dtype (parameters are cast once to that dtype); a later call with
    another shape, device or dtype raises ``ValueError`` until :meth:`reset`.
    float16 and bfloat16 inputs are stepped in float32 (state and refractory count in
    float32, so they fire on the same steps as float32 input) and the outputs are
    returned in the input's dtype. Settings the dtype cannot represent (a spike
    amplitude ``1/ts`` above its largest value, per-step constants that overflow it, a
    refractory count past its exact integers) raise ``ValueError`` at the first call.

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
        noise_std: membrane noise :math:`\sigma`: every step adds
            :math:`\sigma\sqrt{t_s}\,\mathcal{N}(0, 1)` to the integrated potential (before
            the refractory clamp and the floor), a Wiener process of variance
            :math:`\sigma^2 t` over time :math:`t`. 0 draws nothing. Default: 0.0.
        noise_generator: ``torch.Generator`` on the input's device for the noise
            (reproducible runs); None uses torch's global generator. Default: None.
    """

    #: the model's own parameters (the base ones are declared by :class:`Neuron`).
    PARAMS: Tuple[Param, ...] = ()
    #: parameters that follow the threshold when None (``thr - |thr|/4``).
    DERIVED: Tuple[str, ...] = ()
    #: how the pipeline treats the model (see :class:`ModelTraits`).
    TRAITS: ClassVar[ModelTraits] = ModelTraits()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not isinstance(cls.TRAITS, ModelTraits):
            raise TypeError(f"{cls.__name__}.TRAITS must be a ModelTraits, got {type(cls.TRAITS).__name__}")
        if cls.TRAITS.second_variable and cls._adapt is Neuron._adapt:
            raise TypeError(f"{cls.__name__} declares a second variable but no _adapt step for it")

    def __init__(self, ts: float = 0.01, resting_potential: ParamValue = 0.0, v_reset: ParamValue = None,
                 threshold: Optional[float] = None, refractory_timesteps: int = 0,
                 inhibition_mode: str = "feature", *, clamp_at_rest: Optional[bool] = None,
                 check_finite: Optional[bool] = None, noise_std: float = 0.0,
                 noise_generator: Optional[torch.Generator] = None) -> None:
        super().__init__()
        self._param_names: List[str] = []
        self._param_rules: Dict[str, str] = {}
        self._coef: Optional[_st.Prepared] = None
        self._coef_key: Optional[Tuple[Any, ...]] = None
        self._shape_consts: Optional[Tuple[Any, ...]] = None
        self._ts = check_ts(ts)
        self.refractory_timesteps = refractory_timesteps
        self.inhibition_mode = inhibition_mode
        self.clamp_at_rest = self.TRAITS.floored if clamp_at_rest is None else bool(clamp_at_rest)
        self.check_finite = check_finite
        self.noise_std = noise_std
        if noise_generator is not None and not isinstance(noise_generator, torch.Generator):
            raise TypeError(f"noise_generator must be a torch.Generator, got {type(noise_generator).__name__}")
        self.noise_generator = noise_generator
        self._threshold: Optional[float] = None
        self.threshold = threshold
        self._declare("resting_potential", resting_potential)
        self._declare("v_reset", v_reset, "optional")
        self._declare("per_neuron_thresh", None, "optional")
        for name in ("v", "refractory", "w"):  # state: not in state_dict (see get_state)
            self.register_buffer(name, None, persistent=False)
        self._compiled = None

    @property
    def has_second_variable(self) -> bool:
        """Whether the model has a second state variable ``w`` (adaptation, recovery, ...)."""
        return self.TRAITS.second_variable

    @property
    def spike_amplitude(self) -> float:
        """Amplitude of a spike: ``1/ts``, or 1 for the ``_Simple`` models."""
        return 1.0 / self._ts if self.TRAITS.spike_amplitude == "1/ts" else 1.0

    def _validate(self) -> None:
        """Check the relations between the parameters declared so far (on every change)."""
        for name in self.TRAITS.ts_below:
            tau = self._buffers.get(name)
            if tau is not None and not bool((tau > self._ts).all()):
                raise ValueError(
                    f"ts={self._ts} is too large for the forward-Euler scheme of {type(self).__name__}: "
                    f"it needs ts < {name} (min {name} = {float(tau.min()):g})")

    # ------------------------------------------------------------------ the model
    def rhs(self, u: Tensor, w: Optional[Tensor], I: Tensor, p: Any) -> Tuple[Tensor, Optional[Tensor]]:
        r"""Every derivative of the model: :math:`(du/dt, dw/dt)` per second, given the
        state ``u`` (and ``w``), the input ``I`` and the parameters ``p`` (see
        :meth:`_params`). ``dw/dt`` is None for one-variable models."""
        raise NotImplementedError

    def _integrate(self, u: Tensor, I: Tensor, w: Optional[Tensor], c: _st.Prepared) -> Tensor:
        """A new tensor: the potential one step after ``u`` with input ``I``. Default:
        forward Euler of :meth:`rhs`."""
        return u + self._ts * self.rhs(u, w, I, c.params)[0]

    def _adapt(self, u_prev: Tensor, u: Tensor, spiked: Tensor, w: Tensor, I: Tensor, c: _st.Prepared) -> Tensor:
        """A new tensor: the second variable after the step (``u_prev``: potential before
        the step, ``u``: after, clamped, before reset), with its after-spike jump."""
        raise NotImplementedError

    def _initial_w(self, v: Tensor, c: _st.Prepared) -> Tensor:
        return torch.zeros_like(v)

    def _initial_v(self, x: Tensor, c: _st.Prepared) -> Tensor:
        return c.base.rest_t.expand_as(x).clone()

    def _threshold_shift(self, w: Optional[Tensor], c: _st.Prepared) -> Optional[Tensor]:
        """How much the threshold is raised per neuron this step (None: not at all)."""
        return None

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
            if not self._all_finite(potentials):
                raise ValueError("potentials contain NaN or inf")

    def _ensure_state(self, x: Tensor, c: _st.Prepared) -> None:
        v = self._buffers["v"]
        if v is None:
            v = self._initial_v(x, c)
            self._buffers["v"] = v
            self._buffers["refractory"] = torch.zeros_like(x)
            if self.TRAITS.second_variable:
                self._buffers["w"] = self._initial_w(v, c)
        elif v.shape != x.shape:
            raise ValueError(f"potentials changed shape from {tuple(v.shape)} to {tuple(x.shape)}; call reset() first")
        elif v.device != x.device or v.dtype != x.dtype:
            raise ValueError(f"potentials moved from {v.device}/{v.dtype} to {x.device}/{x.dtype}; call reset() first")
        sc = self._shape_consts
        if sc is None or sc[0] != (x.shape, x.device, x.dtype):
            B, C, H, W = x.shape
            self._shape_consts = ((x.shape, x.device, x.dtype),
                                  torch.arange(B, device=x.device).mul_(C).unsqueeze(1),
                                  x.new_zeros((B, C)), x.new_zeros((B, H * W)))

    def _advance(self, potentials: Tensor, k: int, want: Tuple[bool, bool, bool, bool]) -> Tuple[Any, ...]:
        """Validate, create state, run :meth:`_kernel` and store the new state."""
        I = potentials.detach() if isinstance(potentials, Tensor) and potentials.requires_grad else potentials
        self._check_input(I)
        in_dtype, cdt = I.dtype, _m.compute_dtype(I.dtype)  # half precision: state and step in float32
        if cdt != in_dtype:
            I = I.to(cdt)
        c = self._prepare(I, in_dtype)
        self._ensure_state(I, c)
        kernel = self._step_function(I)
        u_post, r_new, w_new, out = kernel(self._buffers["v"], self._buffers["refractory"], self._buffers["w"],
                                           I, c, self._shape_consts[1:], min(k, I.shape[1]), want)
        self._buffers["v"], self._buffers["refractory"], self._buffers["w"] = u_post, r_new, w_new
        # spikes are 0 or the amplitude, which the first call checked against the dtype
        return out if cdt == in_dtype else _st.cast_floats(out, in_dtype, ("spikes", "winning_spikes"))

    def _kernel(self, u_prev: Tensor, r: Tensor, w: Optional[Tensor], I: Tensor, c: _st.Prepared,
                sc: Tuple[Tensor, Tensor, Tensor], kk: int,
                want: Tuple[bool, bool, bool, bool]) -> Tuple[Tensor, Tensor, Optional[Tensor], "StepOutput"]:
        """The stages composed: returns ``(v, refractory, w, StepOutput)``; mutates nothing it
        was given except the refractory counter ``r`` (internal state, updated in place)."""
        want_thr, want_dudt, want_ws, want_winners = want
        b, bo = c.base, _st.ops(c.base, c.base_ops)
        mode = self._inhibition_mode
        refractory = b.R > 0 and mode != "none"
        u = self._integrate(u_prev, I, w, c)
        if self._noise_std > 0.0:
            u = _st.add_noise(u, self._noise_std * math.sqrt(self._ts), self.noise_generator)
        u = _st.clamp_and_floor(u, r, b, refractory)
        shift = self._threshold_shift(w, c)
        thr = bo.thr if shift is None else shift + b.thr
        spiked = _st.fire(u, thr)
        w_new = self._adapt(u_prev, u, spiked, w, I, c) if w is not None else None
        win = None
        if kk > 0 and (refractory or want_winners or want_ws):  # otherwise nothing reads the winners
            need_loc = want_winners or want_ws or mode == "location"
            win = _st.k_winners(u, spiked, kk, b, bo.thr_min, b.uniform_thr and shift is None, need_loc, sc[0])
        if refractory:
            r = _st.inhibit(r, spiked, win, mode, bo.R, bo.one, sc[1], sc[2])
        thresholded = u * spiked if want_thr else None
        dudt = u - u_prev if want_dudt else None
        pre = u.clone() if self.TRAITS.potentials_before_reset else None
        u_post = _st.reset_(u, spiked, b.v_reset)  # in place: u is this step's own tensor
        B, C, H, W = I.shape
        out = StepOutput(
            spikes=spiked if b.amp == 1.0 else spiked.mul_(bo.amp),  # in place: nothing reads the mask after
            potentials=u_post if pre is None else pre,
            thresholded=thresholded,  # type: ignore[arg-type]
            dudt=dudt,  # type: ignore[arg-type]
            winners=_st.winners_tensor(win, B, W, I.device) if want_winners else None,  # type: ignore[arg-type]
            winning_spikes=_st.winning_spikes(win, u_post, b.amp) if want_ws else None)  # type: ignore[arg-type]
        return u_post, r, w_new, out

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
        return self._advance(potentials, check_k(n_winners),
                             (bool(thresholded), bool(dudt), bool(winning_spikes), bool(winners)))

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
        o = self._advance(potentials, check_k(n_winners), (return_thresholded_potentials, return_dudt,
                                                            return_winning_spikes, return_winners))
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


# ---------------------------------------------------------------------- helpers
# Hand-fused forward-Euler steps. IF, LIF_ode, LIF_Simple, EIF, EIF_Simple, QIF, AdEx and
# Izhikevich write ``u + ts * rhs`` rearranged (constants folded in ``_coefficients``, ops in
# place) instead of inheriting the generic ``Neuron._integrate``: benchmarks/neuron_step.py
# ("derived" columns, 1 thread, load average 5-12 on 2 cores, two runs on 2026-12-04)
# measured the generic step at 1.02-1.79x the hand-fused one at [1, 30, 24, 24] and
# 1.26-1.85x at [64, 30, 24, 24], each model against its own step in the same run. tests/test_contract.py checks each equals u + ts * rhs to rounding, so
# the equation itself is still written once (in ``rhs``). LIF, AdaptiveLIF and
# ResonateAndFire integrate exactly (a different, closed-form step).
def _lin(u: Tensor, I: Tensor, m: Any, mo: Any) -> Tensor:
    """``a*u + k*I + c0`` (fields ``a``, ``k``, ``c0`` of the model constants) with few kernels."""
    out = u * mo.a
    b, c0 = m.k, m.c0
    if isinstance(b, Tensor):
        out.addcmul_(I, b)
    elif b == 1.0:
        out.add_(I)
    else:
        out.add_(I, alpha=b)
    if isinstance(c0, Tensor) or c0 != 0.0:
        out.add_(mo.c0)
    return out


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
        >>> spikes.count_nonzero().item(), winners
        (18, [(0, 0, 0)])
    """

    def __init__(self, threshold: Optional[float], tau_rc: ParamValue = 0.02, ts: float = 0.001,
                 resting_potential: ParamValue = 0.0, refractory_timesteps: int = 2, C: ParamValue = 0.281,
                 per_neuron_thresh: ParamValue = None, inhibition_mode: str = "feature", **kwargs: Any) -> None:
        super().__init__(ts=ts, resting_potential=resting_potential, threshold=threshold,
                         refractory_timesteps=refractory_timesteps, inhibition_mode=inhibition_mode, **kwargs)
        self._declare_params(IF, tau_rc=tau_rc, C=C)
        self.per_neuron_thresh = per_neuron_thresh

    PARAMS = (Param("tau_rc", 0.02, "positive"), Param("C", 0.281, "positive"))

    def rhs(self, u: Tensor, w: Optional[Tensor], I: Tensor, p: Any) -> Tuple[Tensor, Optional[Tensor]]:
        return torch.zeros_like(u) + I / p.C, None

    def _coefficients(self, p: Any) -> _Lin:
        return _Lin(a=1.0, k=p.ts / p.C, c0=0.0)

    def _integrate(self, u: Tensor, I: Tensor, w: Optional[Tensor], c: _st.Prepared) -> Tensor:
        k = c.model.k
        return torch.add(u, I, alpha=k) if not isinstance(k, Tensor) else torch.addcmul(u, I, k)

    def _native_integrator(self, c: _st.Prepared) -> Tuple[str, Tuple[Any, ...]]:
        return "affine", (1.0, c.model.k, 0.0)


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
        >>> g = torch.Generator().manual_seed(0)
        >>> layer = LIF(threshold=10.0, tau_rc=0.02)
        >>> out = layer.step(torch.rand(4, 8, 5, 5, generator=g) * 3000, n_winners=2)
        >>> out.spikes.count_nonzero().item(), out.winners[0].tolist()
        (55, [[2, 0, 1], [5, 3, 2]])
    """

    def rhs(self, u: Tensor, w: Optional[Tensor], I: Tensor, p: Any) -> Tuple[Tensor, Optional[Tensor]]:
        return (-(u - p.resting_potential) + p.tau_rc / p.C * I) / p.tau_rc, None

    def _coefficients(self, p: Any) -> _Lin:  # the exact decay over one step
        e = math.exp(-p.ts / p.tau_rc) if isinstance(p.tau_rc, float) else torch.exp(-p.ts / p.tau_rc)
        return _Lin(a=e, k=p.ts / p.C, c0=p.resting_potential * (1 - e))

    def _integrate(self, u: Tensor, I: Tensor, w: Optional[Tensor], c: _st.Prepared) -> Tensor:
        return _lin(u, I, c.model, _st.ops(c.model, c.model_ops))

    def _native_integrator(self, c: _st.Prepared) -> Tuple[str, Tuple[Any, ...]]:
        return "affine", (c.model.a, c.model.k, c.model.c0)


class LIF_ode(LIF):
    r"""Leaky integrate-and-fire layer integrated with forward Euler.

    .. math::
        u_{t+1} = u_t + \frac{t_s}{\tau_{rc}}(u_{rest} - u_t) + \frac{t_s}{C} I_t

    Requires ``ts < tau_rc`` (``ValueError`` otherwise). Potentials are floored at
    rest. Same arguments as :class:`LIF`.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> layer = LIF_ode(threshold=10.0)
        >>> spikes, potentials, winners = layer(torch.rand(1, 4, 6, 6, generator=g) * 3000)
        >>> spikes.count_nonzero().item(), winners
        (9, [(1, 2, 3)])
    """

    TRAITS = ModelTraits(ts_below=("tau_rc",))

    def _coefficients(self, p: Any) -> _Lin:  # u + ts * rhs, rearranged
        g = p.ts / p.tau_rc
        return _Lin(a=1 - g, k=p.ts / p.C, c0=p.resting_potential * g)


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
        >>> g = torch.Generator().manual_seed(0)
        >>> layer = LIF_Simple(threshold=5.0)
        >>> spikes, potentials, winners = layer(torch.rand(1, 3, 4, 4, generator=g) * 6)
        >>> spikes.count_nonzero().item(), winners
        (6, [(1, 2, 2)])
    """

    TRAITS = ModelTraits(ts_below=("tau_rc",), spike_amplitude="1", floored=False)

    def __init__(self, threshold: Optional[float], tau_rc: ParamValue = 0.02, ts: float = 0.001,
                 resting_potential: ParamValue = 0.0, refractory_timesteps: int = 2,
                 per_neuron_threshold: ParamValue = None, inhibition_mode: str = "feature",
                 per_neuron_thresh: ParamValue = None, **kwargs: Any) -> None:
        super().__init__(ts=ts, resting_potential=resting_potential, threshold=threshold,
                         refractory_timesteps=refractory_timesteps, inhibition_mode=inhibition_mode, **kwargs)
        self._declare_params(LIF_Simple, tau_rc=tau_rc)
        self.per_neuron_thresh = _m.alias_param(per_neuron_thresh, per_neuron_threshold, "per_neuron_thresh",
                                                "per_neuron_threshold")

    PARAMS = (Param("tau_rc", 0.02, "positive"),)

    @property
    def decay(self) -> Union[float, Tensor]:
        """Per-step decay factor ``1 - ts/tau_rc``."""
        return 1 - self._ts / self._params64().tau_rc

    def rhs(self, u: Tensor, w: Optional[Tensor], I: Tensor, p: Any) -> Tuple[Tensor, Optional[Tensor]]:
        return -(u - p.resting_potential) / p.tau_rc + I / p.ts, None

    def _coefficients(self, p: Any) -> _Lin:
        g = p.ts / p.tau_rc
        return _Lin(a=1 - g, k=1.0, c0=p.resting_potential * g)

    def _integrate(self, u: Tensor, I: Tensor, w: Optional[Tensor], c: _st.Prepared) -> Tensor:
        return _lin(u, I, c.model, _st.ops(c.model, c.model_ops))

    def _native_integrator(self, c: _st.Prepared) -> Tuple[str, Tuple[Any, ...]]:
        return "affine", (c.model.a, c.model.k, c.model.c0)


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
        >>> g = torch.Generator().manual_seed(0)
        >>> layer = EIF(threshold=10.0)
        >>> out = layer.step(torch.rand(2, 4, 5, 5, generator=g) * 3000, n_winners=3)
        >>> out.spikes.count_nonzero().item(), out.winners[0].tolist()
        (11, [[2, 0, 1], [1, 0, 1], [3, 1, 1]])
    """

    TRAITS = ModelTraits(ts_below=("tau_rc",), capped=True)

    def __init__(self, threshold: Optional[float], tau_rc: ParamValue = 0.02, ts: float = 0.001,
                 delta_t: ParamValue = 0.5, theta_rh: ParamValue = None, resting_potential: ParamValue = 0.0,
                 refractory_timesteps: int = 2, C: ParamValue = 0.281, v_reset: ParamValue = None,
                 per_neuron_thresh: ParamValue = None, inhibition_mode: str = "feature", **kwargs: Any) -> None:
        super().__init__(ts=ts, resting_potential=resting_potential, threshold=threshold, v_reset=v_reset,
                         refractory_timesteps=refractory_timesteps, inhibition_mode=inhibition_mode, **kwargs)
        self._declare_params(EIF, tau_rc=tau_rc, delta_t=delta_t, theta_rh=theta_rh, C=C)
        self.per_neuron_thresh = per_neuron_thresh

    PARAMS = (Param("tau_rc", 0.02, "positive"), Param("delta_t", 0.5, "positive"),
              Param("theta_rh", None, "optional"), Param("C", 0.281, "positive"))
    DERIVED = ("theta_rh",)

    def rhs(self, u: Tensor, w: Optional[Tensor], I: Tensor, p: Any) -> Tuple[Tensor, Optional[Tensor]]:
        d = p.delta_t
        return (-(u - p.resting_potential) + d * torch.exp((u - p.theta_rh) / d) + p.tau_rc / p.C * I) / p.tau_rc, None

    @staticmethod
    def _exp_coefficients(p: Any, scale: Union[float, Tensor]) -> Tuple[Any, Any]:
        """``scale*Delta*exp((u-theta)/Delta) = exp(u*s + o)``: returns ``(s, o)``."""
        delta, theta = p.delta_t, p.theta_rh
        inv = 1.0 / delta
        if isinstance(delta, float) and isinstance(scale, float):
            log_sd = math.log(scale * delta)
        else:
            log_sd = torch.log(torch.as_tensor(scale * delta))
            if isinstance(theta, Tensor):
                log_sd = log_sd.to(theta)
        return inv, log_sd - theta * inv

    def _coefficients(self, p: Any) -> _Exp:  # u + ts * rhs, rearranged
        g = p.ts / p.tau_rc
        s, o = self._exp_coefficients(p, g)
        return _Exp(a=1 - g, k=p.ts / p.C, c0=p.resting_potential * g, s=s, o=o)

    def _native_integrator(self, c: _st.Prepared) -> Tuple[str, Tuple[Any, ...]]:
        m = c.model
        return "exponential", (m.a, m.k, m.c0, m.s, m.o)

    def _integrate(self, u: Tensor, I: Tensor, w: Optional[Tensor], c: _st.Prepared) -> Tensor:
        m, mo = c.model, _st.ops(c.model, c.model_ops)
        out = u * mo.s
        out.add_(mo.o)
        out = _st.capped_exp(out, c.base.log_cap)
        _st.scale_add(out, u, m.a)
        _st.scale_add(out, I, m.k)
        if isinstance(m.c0, Tensor) or m.c0 != 0.0:
            out.add_(mo.c0)
        return out


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
        >>> g = torch.Generator().manual_seed(0)
        >>> layer = EIF_Simple(threshold=5.0)
        >>> spikes, potentials, winners = layer(torch.rand(1, 3, 4, 4, generator=g) * 6)
        >>> spikes.count_nonzero().item(), winners
        (6, [(1, 2, 2)])
    """

    TRAITS = replace(EIF.TRAITS, spike_amplitude="1", floored=False, potentials_before_reset=True)

    def __init__(self, threshold: Optional[float], tau_rc: ParamValue = 0.02, ts: float = 0.001,
                 delta_t: ParamValue = 0.5, theta_rh: ParamValue = None, resting_potential: ParamValue = 0.0,
                 refractory_timesteps: int = 2, v_reset: ParamValue = None,
                 per_neuron_threshold: ParamValue = None, inhibition_mode: str = "feature",
                 per_neuron_thresh: ParamValue = None, **kwargs: Any) -> None:
        pnt = _m.alias_param(per_neuron_thresh, per_neuron_threshold, "per_neuron_thresh", "per_neuron_threshold")
        super().__init__(threshold=threshold, tau_rc=tau_rc, ts=ts, delta_t=delta_t, theta_rh=theta_rh,
                         resting_potential=resting_potential, refractory_timesteps=refractory_timesteps,
                         C=1.0, v_reset=v_reset, per_neuron_thresh=pnt, inhibition_mode=inhibition_mode, **kwargs)

    def _coefficients(self, p: Any) -> _Exp:
        g = p.ts / p.tau_rc
        s, o = self._exp_coefficients(p, 1.0)
        return _Exp(a=1 - g, k=1.0, c0=p.resting_potential * g, s=s, o=o)

    def rhs(self, u: Tensor, w: Optional[Tensor], I: Tensor, p: Any) -> Tuple[Tensor, Optional[Tensor]]:
        d = p.delta_t
        return -(u - p.resting_potential) / p.tau_rc + (d * torch.exp((u - p.theta_rh) / d) + I) / p.ts, None


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
        >>> g = torch.Generator().manual_seed(0)
        >>> layer = QIF(threshold=10.0)
        >>> spikes, potentials, winners = layer(torch.rand(1, 3, 4, 4, generator=g) * 3000)
        >>> spikes.count_nonzero().item(), winners
        (1, [(1, 2, 2)])
    """

    TRAITS = ModelTraits(ts_below=("tau_rc",), capped=True)

    def __init__(self, threshold: Optional[float], tau_rc: ParamValue = 0.02, ts: float = 0.001,
                 u_c: ParamValue = None, a: ParamValue = 0.001, resting_potential: ParamValue = 0.0,
                 refractory_timesteps: int = 2, C: ParamValue = 0.281, v_reset: ParamValue = None,
                 per_neuron_thresh: ParamValue = None, inhibition_mode: str = "feature", **kwargs: Any) -> None:
        super().__init__(ts=ts, resting_potential=resting_potential, threshold=threshold, v_reset=v_reset,
                         refractory_timesteps=refractory_timesteps, inhibition_mode=inhibition_mode, **kwargs)
        self._declare_params(QIF, tau_rc=tau_rc, u_c=u_c, a=a, C=C)
        self.per_neuron_thresh = per_neuron_thresh

    PARAMS = (Param("tau_rc", 0.02, "positive"), Param("u_c", None, "optional"),
              Param("a", 0.001, "positive"), Param("C", 0.281, "positive"))
    DERIVED = ("u_c",)

    def rhs(self, u: Tensor, w: Optional[Tensor], I: Tensor, p: Any) -> Tuple[Tensor, Optional[Tensor]]:
        return (p.a * (u - p.resting_potential) * (u - p.u_c) + p.tau_rc / p.C * I) / p.tau_rc, None

    def _coefficients(self, p: Any) -> _Quad:  # u + ts * rhs, fused
        return _Quad(q=p.a * p.ts / p.tau_rc, k=p.ts / p.C, rest=p.resting_potential, uc=p.u_c)

    def _integrate(self, u: Tensor, I: Tensor, w: Optional[Tensor], c: _st.Prepared) -> Tensor:
        m, mo = c.model, _st.ops(c.model, c.model_ops)
        d1 = u - mo.rest
        d2 = u - mo.uc
        out = torch.addcmul(u, d1, d2, value=m.q) if not isinstance(m.q, Tensor) else u + d1 * d2 * m.q
        return _st.scale_add(out, I, m.k)

    def _native_integrator(self, c: _st.Prepared) -> Tuple[str, Tuple[Any, ...]]:
        m = c.model
        return "quadratic", (m.q, m.k, m.rest, m.uc)


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
        >>> g = torch.Generator().manual_seed(0)
        >>> layer = AdEx(threshold=10.0)
        >>> out = layer.step(torch.rand(1, 2, 4, 4, generator=g) * 3000)
        >>> out.spikes.count_nonzero().item(), out.winners.tolist()
        (1, [[[1, 2, 2]]])
    """

    TRAITS = replace(EIF.TRAITS, ts_below=("tau_rc", "tau_w"), second_variable=True)

    def __init__(self, threshold: Optional[float], tau_rc: ParamValue = 0.02, ts: float = 0.001,
                 delta_t: ParamValue = 0.5, theta_rh: ParamValue = None, resting_potential: ParamValue = 0.0,
                 refractory_timesteps: int = 2, C: ParamValue = 0.281, v_reset: ParamValue = None,
                 a: ParamValue = 0.6, b: ParamValue = 0.7, tau_w: ParamValue = 1.0,
                 per_neuron_thresh: ParamValue = None, inhibition_mode: str = "layer", **kwargs: Any) -> None:
        super().__init__(threshold=threshold, tau_rc=tau_rc, ts=ts, delta_t=delta_t, theta_rh=theta_rh,
                         resting_potential=resting_potential, refractory_timesteps=refractory_timesteps, C=C,
                         v_reset=v_reset, per_neuron_thresh=per_neuron_thresh, inhibition_mode=inhibition_mode,
                         **kwargs)
        self._declare_params(AdEx, a=a, b=b, tau_w=tau_w)

    PARAMS = (Param("a", 0.6), Param("b", 0.7), Param("tau_w", 1.0, "positive"))

    @property
    def R(self) -> Union[float, Tensor]:
        """Membrane resistance ``tau_rc / C``."""
        p = self._params64()
        return p.tau_rc / p.C

    def rhs(self, u: Tensor, w: Optional[Tensor], I: Tensor, p: Any) -> Tuple[Tensor, Optional[Tensor]]:
        du = EIF.rhs(self, u, None, I - w, p)[0]
        return du, (p.a * (u - p.resting_potential) - w) / p.tau_w

    def _coefficients(self, p: Any) -> _AdExC:
        gw = p.ts / p.tau_w
        return _AdExC(*EIF._coefficients(self, p), one_m_gw=1 - gw, aw=p.a * gw, b=p.b)

    def _integrate(self, u: Tensor, I: Tensor, w: Optional[Tensor], c: _st.Prepared) -> Tensor:
        return super()._integrate(u, I - w, None, c)

    def _native_integrator(self, c: _st.Prepared) -> Tuple[str, Tuple[Any, ...]]:
        m = c.model
        return "adex", (m.a, m.k, m.c0, m.s, m.o, m.one_m_gw, m.aw, m.b)

    def _adapt(self, u_prev: Tensor, u: Tensor, spiked: Tensor, w: Tensor, I: Tensor, c: _st.Prepared) -> Tensor:
        # w += ts/tau_w * (a (min(u, thr) - rest) - w) + b * spiked; the potential is taken
        # at most at the spike apex (the threshold): within a step the exponential can
        # carry a spiking neuron's Euler estimate orders of magnitude beyond it.
        # w is internal state (never returned): updated in place
        m, mo = c.model, _st.ops(c.model, c.model_ops)
        a = _st.apex(u, c.base.thr)
        rest = _st.ops(c.base, c.base_ops).rest
        a = a - rest if a is u else a.sub_(rest)
        _st.scale_add(w.mul_(mo.one_m_gw), a, m.aw)
        return _st.scale_add(w, spiked, m.b)


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
        a, b, c, d: model parameters (``c``: the reset potential; None: ``v_reset``).
            Defaults: 0.02, 0.2, -65.0, 8.0.
        resting_potential: potential of refractory neurons and initial state; None =
            fixed point. Default: None.
        refractory_timesteps: Default: 2.
        C: unused. Default: 0.281.
        v_reset: the reset potential under its generic name: used when ``c`` is None, and
            otherwise must equal ``c`` (``ValueError``). Default: None.
        per_neuron_thresh: Default: None.
        inhibition_mode: Default: ``"layer"``.

    Example:
        >>> layer = Izhikevich.preset("chattering", ts=0.0005)
        >>> spikes, v, winners = layer(torch.full((1, 1, 1, 1), 10.0))
        >>> n_spikes = [layer(torch.full((1, 1, 1, 1), 10.0))[0].count_nonzero().item() for _ in range(199)]
        >>> sum(n_spikes)  # spikes in 0.1 s (200 steps of 0.5 ms)
        11
    """

    TRAITS = ModelTraits(second_variable=True, floored=False, capped=True)  # Euler, ts <= 1 ms (_validate)

    def __init__(self, threshold: Optional[float] = 30.0, tau_rc: ParamValue = 0.02, ts: float = 0.001,
                 a: ParamValue = 0.02, b: ParamValue = 0.2, c: ParamValue = -65.0, d: ParamValue = 8.0,
                 resting_potential: ParamValue = None, refractory_timesteps: int = 2, C: ParamValue = 0.281,
                 v_reset: ParamValue = None, per_neuron_thresh: ParamValue = None,
                 inhibition_mode: str = "layer", **kwargs: Any) -> None:
        c = _m.izhikevich_reset(c, v_reset)
        super().__init__(ts=ts, resting_potential=0.0, threshold=threshold, v_reset=None,
                         refractory_timesteps=refractory_timesteps, inhibition_mode=inhibition_mode, **kwargs)
        self._declare_params(Izhikevich, tau_rc=tau_rc, C=C, a=a, b=b, c=c, d=d)
        self._rest_given = resting_potential is not None
        if resting_potential is None:
            resting_potential = self._fixed_point()
        self.resting_potential = resting_potential
        self.per_neuron_thresh = per_neuron_thresh

    PARAMS = (Param("tau_rc", 0.02, "positive"), Param("C", 0.281, "positive"), Param("a", 0.02),
              Param("b", 0.2), Param("c", -65.0), Param("d", 8.0))

    @property
    def rest_given(self) -> bool:
        """Whether ``resting_potential`` was given (else it is the fixed point of the equations)."""
        return self._rest_given

    @rest_given.setter
    def rest_given(self, value: bool) -> None:
        self._rest_given = bool(value)

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
        bt = _f64(self._params64().b)
        disc = (5.0 - bt) ** 2 - 4 * 0.04 * 140.0
        if not bool((disc >= 0).all()):
            raise ValueError("Izhikevich: no resting state for this b (no fixed point); give resting_potential")
        v = (-(5.0 - bt) - torch.sqrt(disc)) / (2 * 0.04)
        return float(v) if v.numel() == 1 else v

    def _validate(self) -> None:
        super()._validate()
        if self._ts > 0.001 + 1e-12:
            raise ValueError(f"ts={self._ts} s is too large for the Euler scheme of the Izhikevich model: use ts <= 0.001 s (1 ms)")

    def rhs(self, u: Tensor, w: Optional[Tensor], I: Tensor, p: Any) -> Tuple[Tensor, Optional[Tensor]]:
        """dv/dt and du/dt (recovery) per second: the model's per-ms rates times 1000."""
        return (0.04 * u * u + 5 * u + 140 - w + I) * 1000.0, p.a * (p.b * u - w) * 1000.0

    def _coefficients(self, p: Any) -> _IzhC:
        dtm = p.ts * 1000.0
        return _IzhC(dt=dtm, ga=p.a * dtm, b_=p.b, d=p.d, k004=0.04, five=5.0, c140=140.0 * dtm)

    def _reset_value(self, device: torch.device, dtype: torch.dtype) -> Union[float, Tensor]:
        return self._params(device, dtype).c

    def _initial_w(self, v: Tensor, c: _st.Prepared) -> Tensor:
        return v * c.model.b_

    def _integrate(self, u: Tensor, I: Tensor, w: Optional[Tensor], c: _st.Prepared) -> Tensor:
        m, mo = c.model, _st.ops(c.model, c.model_ops)
        f = u * mo.k004
        f.add_(mo.five)
        out = torch.addcmul(u, u, f, value=m.dt)  # v + dt (0.04 v^2 + 5 v)
        out.add_(I - w, alpha=m.dt)
        out.add_(mo.c140)
        return out

    def _adapt(self, u_prev: Tensor, u: Tensor, spiked: Tensor, w: Tensor, I: Tensor, c: _st.Prepared) -> Tensor:
        # w += a dt (b min(v, thr) - w) + d * spiked  (v at most the spike apex)
        # w is internal state (never returned): updated in place
        m, mo = c.model, _st.ops(c.model, c.model_ops)
        a = _st.apex(u, c.base.thr)
        a = a * mo.b_ if a is u else a.mul_(mo.b_)
        w.add_(a.sub_(w).mul_(mo.ga))
        return _st.scale_add(w, spiked, m.d)

    def _native_integrator(self, c: _st.Prepared) -> Tuple[str, Tuple[Any, ...]]:
        m = c.model
        return "izhikevich", (m.dt, m.k004, m.five, m.c140, m.ga, m.b_, m.d)


class AdaptiveLIF(LIF):
    r"""LIF with an adaptive threshold (Diehl & Cook 2015; Bellec et al. 2018).

    .. math::
        \tau_{rc}\frac{du}{dt} = -(u - u_{rest}) + R\,I,\quad
        \tau_a\frac{da}{dt} = -a + \tau_a\sum_f \delta(t - t^f),\quad
        u \ge \vartheta + \beta a \Rightarrow \text{spike}

    ``u`` decays exactly as in :class:`LIF`; ``a`` (the second variable ``w``) decays
    exactly, :math:`a \leftarrow a\,e^{-t_s/\tau_a}`, and jumps by 1 at each spike, so
    inter-spike intervals lengthen under constant drive.

    Args:
        threshold: base threshold :math:`\vartheta`. beta: threshold raise per unit of
        ``a`` (>= 0, default 1.0); tau_adapt: decay time constant of ``a`` in s (default 0.1);
        other arguments as :class:`LIF`.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> layer = AdaptiveLIF(threshold=10.0, beta=2.0)
        >>> x = torch.rand(1, 2, 3, 3, generator=g) * 3000
        >>> [layer.step(x).spikes.count_nonzero().item() for _ in range(4)]  # adaptation stops firing
        [0, 9, 2, 0]
    """

    PARAMS = (Param("beta", 1.0, "nonnegative"), Param("tau_adapt", 0.1, "positive"))
    TRAITS = replace(LIF.TRAITS, second_variable=True)

    def __init__(self, threshold: Optional[float], tau_rc: ParamValue = 0.02, ts: float = 0.001,
                 beta: ParamValue = 1.0, tau_adapt: ParamValue = 0.1, **kwargs: Any) -> None:
        super().__init__(threshold, tau_rc, ts, **kwargs)
        self._declare_params(AdaptiveLIF, beta=beta, tau_adapt=tau_adapt)

    def rhs(self, u: Tensor, w: Optional[Tensor], I: Tensor, p: Any) -> Tuple[Tensor, Optional[Tensor]]:
        return LIF.rhs(self, u, None, I, p)[0], -w / p.tau_adapt

    def _coefficients(self, p: Any) -> _ALIFC:
        e = math.exp(-p.ts / p.tau_adapt) if isinstance(p.tau_adapt, float) else torch.exp(-p.ts / p.tau_adapt)
        return _ALIFC(*LIF._coefficients(self, p), ea=e, beta=p.beta)

    def _threshold_shift(self, w: Optional[Tensor], c: _st.Prepared) -> Optional[Tensor]:
        return w * _st.ops(c.model, c.model_ops).beta

    def _adapt(self, u_prev: Tensor, u: Tensor, spiked: Tensor, w: Tensor, I: Tensor, c: _st.Prepared) -> Tensor:
        return w.mul_(_st.ops(c.model, c.model_ops).ea).add_(spiked)  # internal state: in place

    def _native_integrator(self, c: _st.Prepared) -> Tuple[str, Tuple[Any, ...]]:
        m = c.model
        return "adaptive_lif", (m.a, m.k, m.c0, m.ea, m.beta)


class ResonateAndFire(Neuron):
    r"""Resonate-and-fire layer (Izhikevich 2001): a damped oscillator that fires on its
    imaginary part.

    .. math::
        \frac{dx}{dt} = b\,x - \omega\,(y - y_{rest}) + I,\qquad
        \frac{dy}{dt} = \omega\,x + b\,(y - y_{rest}),\qquad
        y \ge \vartheta \Rightarrow (x, y) \leftarrow (x_{reset}, v_{reset})

    Integrated exactly (a rotation by :math:`\omega t_s` damped by :math:`e^{b t_s}`),
    the input arriving as a kick :math:`t_s I` of ``x`` at the start of the step. ``y`` is
    the layer's potential, ``x`` its second variable ``w``. Subthreshold input makes a
    damped oscillation at :math:`\omega/2\pi`; pulses one period apart add up (resonance),
    half a period apart cancel. Not floored at rest.

    Args:
        threshold: firing threshold of ``y`` (default 1.0). b: damping in 1/s, < 0
        (default -5.0); omega: angular frequency in rad/s (default :math:`2\pi \cdot 10`);
        ts: time step in s (default 0.001); x_reset: ``x`` after a spike (default 0.0);
        other arguments as :class:`Neuron` (``v_reset`` is ``y`` after a spike).

    Example:
        >>> layer = ResonateAndFire(threshold=1.0)
        >>> out = layer.step(torch.full((1, 1, 1, 1), 1000.0))
        >>> round(out.potentials.item(), 4)
        0.0625
        >>> [layer.step(torch.full((1, 1, 1, 1), 1000.0)).spikes.count_nonzero().item() for _ in range(11)]
        [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]
    """

    PARAMS = (Param("b", -5.0, "negative"), Param("omega", 2 * math.pi * 10.0, "positive"), Param("x_reset", 0.0))
    TRAITS = ModelTraits(second_variable=True, floored=False)

    def __init__(self, threshold: Optional[float] = 1.0, b: ParamValue = -5.0,
                 omega: ParamValue = 2 * math.pi * 10.0, ts: float = 0.001, x_reset: ParamValue = 0.0,
                 refractory_timesteps: int = 0, per_neuron_thresh: ParamValue = None, **kwargs: Any) -> None:
        super().__init__(ts=ts, threshold=threshold, refractory_timesteps=refractory_timesteps, **kwargs)
        self._declare_params(ResonateAndFire, b=b, omega=omega, x_reset=x_reset)
        self.per_neuron_thresh = per_neuron_thresh

    def rhs(self, u: Tensor, w: Optional[Tensor], I: Tensor, p: Any) -> Tuple[Tensor, Optional[Tensor]]:
        y = u - p.resting_potential
        return p.omega * w + p.b * y, p.b * w - p.omega * y + I

    def _coefficients(self, p: Any) -> _RFC:
        E = math.exp(p.b * p.ts) if isinstance(p.b, float) else torch.exp(p.b * p.ts)
        th = p.omega * p.ts
        cos, sin = (math.cos(th), math.sin(th)) if isinstance(th, float) else (torch.cos(th), torch.sin(th))
        return _RFC(ec=E * cos, es=E * sin, k=p.ts, x_reset=p.x_reset)

    def _kicked(self, I: Tensor, w: Tensor, c: _st.Prepared) -> Tensor:
        """``x + ts I``: the input's kick at the start of the step."""
        return _st.scale_add(w.clone(), I, c.model.k)

    def _integrate(self, u: Tensor, I: Tensor, w: Optional[Tensor], c: _st.Prepared) -> Tensor:
        mo, rest = _st.ops(c.model, c.model_ops), _st.ops(c.base, c.base_ops).rest
        out = (u - rest) * mo.ec
        return _st.scale_add(out, self._kicked(I, w, c), c.model.es).add_(rest)

    def _adapt(self, u_prev: Tensor, u: Tensor, spiked: Tensor, w: Tensor, I: Tensor, c: _st.Prepared) -> Tensor:
        mo, rest = _st.ops(c.model, c.model_ops), _st.ops(c.base, c.base_ops).rest
        x = self._kicked(I, w, c).mul_(mo.ec)
        _st.scale_add(x, u_prev - rest, -c.model.es)
        return _st.set_where(x, spiked, c.model.x_reset)

    def _native_integrator(self, c: _st.Prepared) -> Tuple[str, Tuple[Any, ...]]:
        m = c.model
        return "resonate", (m.ec, m.es, m.k, m.x_reset)


# ---------------------------------------------------------------------- heterogeneous layers
#: ``tau_rc`` of a heterogeneous layer until its time constants are sampled: larger than any
#: time step, so the relations checked while the base model is built hold.
_PLACEHOLDER_TAU = 1e300

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

    def __init__(self, threshold: Optional[float] = None, tau_range: Sequence[float] = (0.01, 0.03), *args: Any,
                 generator: Optional[torch.Generator] = None, seed: Optional[int] = None,
                 n_features: Optional[int] = None, **kwargs: Any) -> None:
        name = type(self).__name__
        if threshold is None:
            raise TypeError(f"{name}() missing required argument: 'threshold'")
        if "tau_rc" in kwargs:
            raise TypeError(f"{name} samples tau_rc from tau_range; do not pass tau_rc")
        super().__init__(threshold, _PLACEHOLDER_TAU, *args, **kwargs)  # the base model; tau_rc sampled below
        self._finish_heterogeneous(tau_range, generator, seed, n_features)

    def _finish_heterogeneous(self, tau_range: Sequence[float], generator: Optional[torch.Generator],
                              seed: Optional[int], n_features: Optional[int]) -> None:
        self._init_heterogeneous(tau_range, generator, seed, n_features)
        self._validate()

    def _init_heterogeneous(self, tau_range: Sequence[float], generator: Optional[torch.Generator],
                            seed: Optional[int], n_features: Optional[int]) -> None:
        self.tau_range = _m.tau_range(tau_range, self._ts, "tau_rc" in self.TRAITS.ts_below, type(self).__name__)
        self._generator = _m.seed_generator(generator, seed)
        if n_features is not None:
            self._sample(_v.positive_int(n_features, "n_features"))
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
        for name, value in self._from_taus(taus).items():
            self._buffers[name] = value
        self._coef = None

    def _from_taus(self, taus: Tensor) -> Dict[str, Tensor]:
        """Other parameters set by the sampled time constants (none by default)."""
        return {}

    def set_taus(self, taus: Union[float, Tensor]) -> None:
        """Set the time constants (and what they imply) by hand, e.g. one value for every map."""
        t = check_param("taus", taus, "positive")
        _m.check_euler_taus(float(t.min()), self._ts, "tau_rc" in self.TRAITS.ts_below, type(self).__name__, "min(taus)")
        self._buffers["tau_rc"] = t
        for name, value in self._from_taus(t).items():
            self._buffers[name] = value
        self._coef = None

    @property
    def generator(self) -> Optional[torch.Generator]:
        """The random generator the time constants are drawn from (None: torch's global one)."""
        return self._generator

    @generator.setter
    def generator(self, value: Optional[torch.Generator]) -> None:
        self._generator = _m.check_generator(value)

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
        euler = "tau_rc" in self.TRAITS.ts_below
        # the checks of the base model run at construction, sampled or not; the forward-Euler
        # bound is stated on what the user gave (tau_range, or taus given to set_taus)
        if "tau_range" in self.__dict__:
            _m.check_euler_taus(self.tau_range[0], self._ts, euler, type(self).__name__, "tau_range[0]")
        taus = self._buffers.get("tau_rc")
        if taus is not None:
            _m.check_euler_taus(float(taus.min()), self._ts, euler, type(self).__name__, "min(taus)")
        super()._validate()

    def _prepare(self, x: Tensor, out_dtype: Optional[torch.dtype] = None) -> _st.Prepared:
        taus = self._buffers.get("tau_rc")
        if taus is None or (taus.dim() == 3 and taus.shape[0] != x.shape[1]):
            if taus is not None:
                raise ValueError(f"this layer sampled tau_rc for {taus.shape[0]} feature maps, got {x.shape[1]}")
            self._sample(x.shape[1])
        return super()._prepare(x, out_dtype)


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
        >>> g = torch.Generator().manual_seed(0)
        >>> layer = {name}(threshold=10.0, tau_range=(0.01, 0.05), seed=0, n_features=4)
        >>> out = layer.step(torch.rand(2, 4, 5, 5, generator=g) * 500)
        >>> [round(tau, 4) for tau in layer.taus.flatten().tolist()]
        [0.0488, 0.0383, 0.0284, 0.0468]
        >>> out.spikes.shape
        torch.Size([2, 4, 5, 5])
    """


class UniformLIF(HeterogeneousNeuron, LIF):
    __doc__ = _UNIFORM_DOC.format(base="LIF", name="UniformLIF")


class UniformLIF_Simple(HeterogeneousNeuron, LIF_Simple):
    __doc__ = _UNIFORM_DOC.format(base="LIF_Simple", name="UniformLIF_Simple")


class UniformEIF(HeterogeneousNeuron, EIF):
    __doc__ = _UNIFORM_DOC.format(base="EIF", name="UniformEIF")


class UniformQIF(HeterogeneousNeuron, QIF):
    __doc__ = _UNIFORM_DOC.format(base="QIF", name="UniformQIF")


class UniformAdEx(HeterogeneousNeuron, AdEx):
    __doc__ = _UNIFORM_DOC.format(base="AdEx", name="UniformAdEx")


class UniformAdaptiveLIF(HeterogeneousNeuron, AdaptiveLIF):
    __doc__ = _UNIFORM_DOC.format(base="AdaptiveLIF", name="UniformAdaptiveLIF")


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
        >>> [round(a, 4) for a in layer.a.flatten().tolist()]  # a = 1 / (1000 tau)
        [0.0103, 0.0136, 0.0195]
    """

    def __init__(self, threshold: Optional[float] = 30.0, tau_range: Sequence[float] = (0.02, 0.1),
                 ts: float = 0.001, b: ParamValue = 0.2, c: ParamValue = -65.0, d: ParamValue = 8.0,
                 resting_potential: ParamValue = None, refractory_timesteps: int = 2, C: ParamValue = 0.281,
                 v_reset: ParamValue = None, per_neuron_thresh: ParamValue = None, inhibition_mode: str = "layer",
                 *, generator: Optional[torch.Generator] = None, seed: Optional[int] = None,
                 n_features: Optional[int] = None, **kwargs: Any) -> None:
        Izhikevich.__init__(self, threshold, 1.0, ts, a=0.02, b=b, c=c, d=d, resting_potential=resting_potential,
                            refractory_timesteps=refractory_timesteps, C=C, v_reset=v_reset,
                            per_neuron_thresh=per_neuron_thresh, inhibition_mode=inhibition_mode, **kwargs)
        self._finish_heterogeneous(tau_range, generator, seed, n_features)

    def _from_taus(self, taus: Tensor) -> Dict[str, Tensor]:
        return {"a": 1.0 / (1000.0 * taus)}


class UniformResonateAndFire(HeterogeneousNeuron, ResonateAndFire):
    r"""Heterogeneous :class:`ResonateAndFire`: the damping time constant drawn per feature map.

    .. math::
        \tau_c \sim \mathcal{U}(\tau_{lo}, \tau_{hi}), \qquad b_c = -1/\tau_c

    Other arguments are those of :class:`ResonateAndFire` without ``b``, plus the
    keyword-only ``generator``, ``seed`` and ``n_features`` (see :class:`HeterogeneousNeuron`).

    Shape:
        input ``[B, C, H, W]``; ``taus`` and ``b`` are ``[C, 1, 1]``.

    Example:
        >>> layer = UniformResonateAndFire(threshold=1.0, tau_range=(0.1, 0.5), seed=0, n_features=3)
        >>> out = layer.step(torch.full((1, 3, 2, 2), 500.0))
        >>> [round(b, 4) for b in layer.b.flatten().tolist()]  # b = -1 / tau
        [-2.0491, -2.6101, -3.5242]
    """

    def __init__(self, threshold: Optional[float] = 1.0, tau_range: Sequence[float] = (0.1, 0.5), *,
                 generator: Optional[torch.Generator] = None, seed: Optional[int] = None,
                 n_features: Optional[int] = None, **kwargs: Any) -> None:
        if "b" in kwargs or "tau_rc" in kwargs:
            raise TypeError("UniformResonateAndFire samples b from tau_range; do not pass b")
        ResonateAndFire.__init__(self, threshold, **kwargs)
        self._declare("tau_rc", None, "optional")
        self._finish_heterogeneous(tau_range, generator, seed, n_features)

    def _from_taus(self, taus: Tensor) -> Dict[str, Tensor]:
        return {"b": -1.0 / taus}


class ModelSpec(NamedTuple):
    """One registered model: its class, how to build a demonstration layer, and an input
    scale that makes that layer fire a few neurons per step (inputs ``rand * scale``)."""

    name: str
    cls: type
    build: Callable[..., Neuron]
    input_scale: float


def _build(cls: type, fixed: Dict[str, Any], threshold: float = 10.0,
           tau_range: Optional[Tuple[float, float]] = None, seed: int = 0,
           n_features: Optional[int] = None) -> Neuron:
    """A demonstration layer of ``cls``: the registry entry's fixed arguments win, then
    ``threshold``; ``Uniform*`` layers also get ``tau_range`` (default (0.01, 0.05) s),
    ``seed`` and ``n_features``."""
    kw: Dict[str, Any] = dict(fixed)
    if "threshold" not in kw:
        kw["threshold"] = threshold
    if issubclass(cls, HeterogeneousNeuron):
        kw.setdefault("tau_range", (0.01, 0.05) if tau_range is None else tau_range)
        kw.update(seed=seed, n_features=n_features)
    return cls(**kw)


def _spec(cls: type, scale: float, **fixed: Any) -> ModelSpec:
    return ModelSpec(cls.__name__, cls, functools.partial(_build, cls, fixed), scale)


#: The one registry of models, read by the generic tests, the benchmark, the gallery,
#: the plots and :func:`spyketorch.simulation.load_layer`. A new model adds one line.
MODELS: Dict[str, ModelSpec] = {s.name: s for s in (
    _spec(IF, 2000.0), _spec(LIF, 2000.0), _spec(LIF_ode, 2000.0), _spec(LIF_Simple, 12.0),
    _spec(EIF, 2000.0), _spec(EIF_Simple, 12.0), _spec(QIF, 2000.0), _spec(AdEx, 2000.0),
    _spec(Izhikevich, 40.0, threshold=30.0), _spec(AdaptiveLIF, 2000.0), _spec(ResonateAndFire, 8000.0, threshold=1.0),
    _spec(UniformLIF, 2000.0), _spec(UniformLIF_Simple, 12.0), _spec(UniformEIF, 2000.0),
    _spec(UniformQIF, 2000.0), _spec(UniformAdEx, 2000.0),
    _spec(UniformIzhikevich, 40.0, threshold=30.0, tau_range=(0.02, 0.1)),
    _spec(UniformAdaptiveLIF, 2000.0), _spec(UniformResonateAndFire, 8000.0, threshold=1.0, tau_range=(0.1, 0.5)),
)}


def all_models(threshold: float = 10.0, tau_range: Tuple[float, float] = (0.01, 0.05), seed: int = 0,
               n_features: Optional[int] = None) -> Dict[str, Any]:
    """A constructor for every registered model (:data:`MODELS`), by name.

    The layers get ``threshold`` (Izhikevich keeps its 30 mV cut-off), the ``Uniform*``
    layers draw their time constants from ``tau_range`` with ``seed`` (UniformIzhikevich
    from ``(0.02, 0.1)`` s, UniformResonateAndFire from ``(0.1, 0.5)`` s) for
    ``n_features`` maps (``None``: on the first call).

    Args:
        threshold: firing threshold. Default: 10.0.
        tau_range: range of the sampled ``tau_rc``. Default: (0.01, 0.05).
        seed: seed of the sampled time constants. Default: 0.
        n_features: number of feature maps of the ``Uniform*`` layers. Default: None.

    Returns:
        ``{name: zero-argument constructor}`` for every registered model.

    Example:
        >>> layers = {name: make() for name, make in all_models().items()}
        >>> sorted(layers)[:3]
        ['AdEx', 'AdaptiveLIF', 'EIF']
    """
    return {name: functools.partial(spec.build, threshold, tau_range, seed, n_features)
            for name, spec in MODELS.items()}
