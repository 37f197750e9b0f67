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
from typing import Any, Dict, List, Optional, Tuple, Union

import torch
from torch import Tensor

from .. import _validation as _v
from . import params as _p
from .backends import BACKENDS
from .model import _REQUIRED, NeuronModel
from .parametrized import ParamModule
from .settings import Setting
from .runner import Runner
from .step import RunRecord, StepOutput
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
        slope: another name of ``alpha`` (as snnTorch calls it for ``"fast_sigmoid"`` and
            ``"sigmoid"``). Default: None.
        detach_reset: the reset passes no gradient through the spike. Default: True.
        learn: names of parameters to learn by gradient descent (as snnTorch's ``learn_beta`` /
            ``learn_threshold``), e.g. ``("tau_rc", "threshold")``: each becomes an
            ``nn.Parameter`` (see :meth:`set_learn`). Needs a ``surrogate``. A parameter given
            as an ``nn.Parameter`` is learned too (shared with the caller). Default: ``()``.

    Example:
        >>> layer = LIF(threshold=10.0, inhibition_mode="feature")
        >>> out = layer.step(torch.full((2, 3, 4, 4), 5000.0), n_winners=2)  # one step of a batch
        >>> out.spikes.shape, out.winners.shape
        (torch.Size([2, 3, 4, 4]), torch.Size([2, 2, 3]))
        >>> out.winners[0, 0].tolist()  # (feature, row, col) of the best winner of sample 0
        [0, 0, 0]
        >>> layer.reset()  # before the next, unrelated input
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
        learn = a.pop("learn")
        self._setup(a)
        self.set_learn(learn)  # once every parameter has its value (a Uniform* layer draws in _setup)

    def _setup(self, a: Dict[str, Any]) -> None:
        """Settings, parameters and state from the bound constructor arguments ``a``."""
        self._runner = Runner()  # backend, plans, recycled buffers, state (not in state_dict; moved by _apply)
        for name in ("ts", "threshold", "refractory_timesteps", "inhibition_mode", "check_finite", "noise_std",
                     "noise_generator"):
            setattr(self, name, a.pop(name))
        cr = a.pop("clamp_at_rest")
        self.clamp_at_rest = self.TRAITS.floored if cr is None else cr
        self._runner.set_backend(a.pop("backend"))
        self.set_surrogate(a.pop("surrogate"), a.pop("alpha"), a.pop("detach_reset"), slope=a.pop("slope"))
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
        return self._runner.backend.name

    @backend.setter
    def backend(self, value: str) -> None:
        self._runner.set_backend(value)

    @property
    def surrogate(self) -> Any:
        """The surrogate-gradient spike function (None: the step builds no graph)."""
        return self._spike_fn

    def set_surrogate(self, surrogate: Any, alpha: Optional[float] = None, detach_reset: bool = True, *,
                      slope: Optional[float] = None) -> None:
        """Set the surrogate gradient of the spike (see the class arguments of the same names)."""
        spike_fn = make_spike_fn(surrogate, alpha, slope)
        if spike_fn is None and self.__dict__.get("_learned"):
            raise ValueError(f"{type(self).__name__} learns {', '.join(self.learned)}: it needs a surrogate "
                             f"(without one the step builds no graph and they would get no gradient)")
        self._spike_fn = spike_fn
        self.detach_reset = detach_reset

    def _take_parameter(self, name: str, value: Tensor) -> None:
        if self.__dict__.get("_spike_fn") is None:
            raise ValueError(f"{name} is given as a tensor with requires_grad, to be learned: that needs a surrogate "
                             f"(surrogate='atan', ...); without one the step builds no graph and it would get no "
                             f"gradient")
        super()._take_parameter(name, value)

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
        runner = self.__dict__.get("_runner")
        if runner is not None:
            runner.forget()
        pnt = self.param_or_none("per_neuron_thresh")
        self.__dict__["_thr_min"] = None if pnt is None else float(pnt.detach().min())
        if "per_neuron_thresh" in self.param_names:
            self._validate()

    def _after_learned_change(self) -> None:
        with torch.no_grad():
            self._validate()

    def get_params(self) -> Dict[str, Any]:
        """Parameters and settings as a dict (numbers for scalars, tensors otherwise)."""
        params: Dict[str, Any] = {k: getattr(self, k) for k in SAVED}
        for name in self.param_names:
            t = self._tensor(name)
            params[name] = None if t is None else (float(t.item()) if t.numel() == 1 else t.detach().clone())
        return params

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget the state (potentials, refractoriness, adaptation): the next call starts fresh.

        Parameters, including ``per_neuron_thresh`` and sampled time constants, are kept.
        """
        self._runner.reset()

    @property
    def v(self) -> Optional[Tensor]:
        """Membrane potentials after the last step (None before the first)."""
        return self._runner.state.v

    @property
    def w(self) -> Optional[Tensor]:
        """Second variable after the last step (None without one, or before the first step)."""
        return self._runner.state.w

    previous_state = v  # the reference's name

    @property
    def refractory(self) -> Optional[Tensor]:
        """Remaining refractory steps ``[B, C, H, W]``."""
        return self._runner.state.refractory

    @property
    def refractory_periods(self) -> Optional[Tensor]:
        """Remaining refractoriness in seconds, ``[B, C, H, W]`` (reference name and unit)."""
        r = self._runner.state.refractory
        return None if r is None else r * self.ts

    def get_state(self) -> Dict[str, Optional[Tensor]]:
        """The layer's state tensors (``v``, ``refractory`` in steps, ``w``), cloned, ``[B, C, H, W]``."""
        return self._runner.state.get()

    def load_state(self, state: Dict[str, Optional[Tensor]]) -> None:
        """Restore a state returned by :meth:`get_state` (see
        :func:`spyketorch.neurons.state.checked_state`: bad entries raise ``ValueError``/``TypeError``
        naming them, and the layer keeps its state)."""
        self._runner.pool.clear()
        self._runner.state.load(state, self.has_second_variable)

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
        return self._runner.step(self, potentials, _p.check_k(n_winners),
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
        return self._runner.run(self, potentials, _p.check_k(n_winners), spikes, first_values)

    def on_input(self, x: Tensor) -> None:
        """Called before the constants of a step on ``x`` are prepared (a heterogeneous layer
        draws its parameters here)."""

    def params(self, device: torch.device = torch.device("cpu"), dtype: torch.dtype = torch.float64) -> Any:
        """The parameters the equations read, on ``device`` in ``dtype`` (see
        :meth:`~spyketorch.neurons.model.NeuronModel._params`)."""
        return self._params(device, dtype)

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
            new.__dict__[k] = v.fresh() if k == "_runner" else copy.deepcopy(v, memo)
        new._runner.state = copy.deepcopy(self._runner.state, memo)
        return new

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
        for name in self._learned:  # (a learnable parameter moved: its rule is checked again)
            self._learned[name] = -1
        self._runner.apply(fn)
        return out


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


__all__ = ["Neuron", "BACKENDS"]
