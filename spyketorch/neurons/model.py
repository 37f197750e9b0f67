r"""What a neuron model declares, and what is derived from the declaration alone.

A model is a subclass of :class:`~spyketorch.neurons.Neuron` whose body declares, and does
nothing else:

* ``PARAMS`` – its parameters (:class:`~spyketorch.neurons.params.Param`: name, default, rule);
* ``TRAITS`` – how the shared pipeline treats it (:class:`ModelTraits`);
* ``JUMP`` – its after-spike jump (:class:`Jump`: the value the potential resets to, and
  what happens to the second variable);
* :meth:`NeuronModel.rhs` – every derivative, :math:`(du/dt, dw/dt)`, given the state, the
  input and the parameters; or, where the step has a closed form, :meth:`NeuronModel.exact_step`;
* optionally :meth:`NeuronModel.threshold_shift` (an adaptive threshold);
* ``SIGNATURE`` and ``DEFAULTS`` – the constructor's positional order and default settings
  (those of the reference SpykeTorch classes).

Everything else reads these: the step of every backend (eager, compiled, with gradients),
the Euler stability checks, the initial state, the resting state of models whose rest is an
equilibrium, the ODE plots and phase planes, the NIR export.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any, Dict, List, Literal, NamedTuple, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from .params import Param, params_type

#: settings every layer accepts, with their defaults (a model's DEFAULTS override them)
SETTINGS = dict(ts=0.01, threshold=None, refractory_timesteps=0, inhibition_mode="feature")
#: keyword-only settings of every layer
KEYWORDS = dict(clamp_at_rest=None, check_finite=None, noise_std=0.0, noise_generator=None, backend="eager",
                surrogate=None, alpha=None, slope=None, detach_reset=True, learn=())
_REQUIRED = inspect.Parameter.empty

Scalar = Union[float, Tensor]
#: Largest exponent :func:`exp` passes on: a potential this many slope factors past its
#: rheobase has long diverged, and ``exp(50)`` times any sensible constant stays finite in
#: float32, in the step and in its gradient.
EXP_CAP = 50.0


def exp(x: Scalar) -> Scalar:
    """``exp`` for declarations: ``math.exp`` of a Python float, ``torch.exp`` of a tensor
    with its argument capped at :data:`EXP_CAP`, so a divergent model saturates (and the
    pipeline's cap keeps its state finite) instead of producing ``inf`` and ``nan`` gradients.

    Example:
        >>> exp(0.0), exp(torch.tensor([1000.0])).isfinite().item()
        (1.0, True)
    """
    if isinstance(x, Tensor):
        return torch.exp(x.clamp(max=EXP_CAP))
    return math.exp(min(x, EXP_CAP))


def cos(x: Scalar) -> Scalar:
    """``cos`` of a Python float or a tensor."""
    return torch.cos(x) if isinstance(x, Tensor) else math.cos(x)


def sin(x: Scalar) -> Scalar:
    """``sin`` of a Python float or a tensor."""
    return torch.sin(x) if isinstance(x, Tensor) else math.sin(x)


def _f64(x: Any) -> Tensor:
    return torch.as_tensor(x, dtype=torch.float64)


@dataclass(frozen=True)
class ModelTraits:
    """How the shared step pipeline treats a model: one typed declaration per model class.

    Attributes:
        ts_below: names of the time-constant parameters the time step must stay below
            (the stability condition of a forward-Euler scheme, e.g. ``("tau_rc",)``):
            construction and every change refuse ``ts >= min(parameter)``. Default: ``()``.
        second_variable: the model has a second state variable ``w`` (adaptation,
            recovery, the ``x`` of resonate-and-fire). Default: False.
        spike_amplitude: ``"1/ts"`` or ``"1"`` (the ``_Simple`` models). Default: ``"1/ts"``.
        floored: default of ``clamp_at_rest`` (the potential is floored at rest every
            step). Default: True.
        capped: the dynamics can diverge (exponential, quadratic terms), so the state is
            clamped to a finite range every step. Default: False.
        potentials_before_reset: the step returns the potentials before the reset
            (EIF_Simple, as the reference). Default: False.
        w_reads_update: the forward-Euler step of ``w`` reads the potential after this
            step's integration and clamps, taken at most at the threshold (the spike apex),
            rather than the potential before the step. Default: False.
        max_ts: the largest time step the model's scheme accepts, in seconds (None: no
            limit besides ``ts_below``). Default: None.
        rest_is_equilibrium: ``resting_potential=None`` means the stable equilibrium of
            the equations for zero input (found from :meth:`NeuronModel.rhs`). Default: False.

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
    w_reads_update: bool = False
    max_ts: Optional[float] = None
    rest_is_equilibrium: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.ts_below, tuple) or not all(isinstance(n, str) for n in self.ts_below):
            raise TypeError(f"ts_below must be a tuple of parameter names, got {self.ts_below!r}")
        if self.spike_amplitude not in ("1/ts", "1"):
            raise ValueError(f"spike_amplitude must be '1/ts' or '1', got {self.spike_amplitude!r}")


class Jump(NamedTuple):
    """The after-spike jump of a model.

    Attributes:
        u: the parameter the potential is set to after a spike: ``"v_reset"`` (the
            resting potential when ``v_reset`` is None) or another declared parameter
            (Izhikevich's ``"c"``). Default: ``"v_reset"``.
        w: what a spike does to the second variable: ``None`` (nothing), ``("add", name)``
            (``w += p.name``), ``("add", number)``, or ``("set", name)`` (``w = p.name``).
            Default: None.

    Example:
        >>> Jump(w=("add", "b"))
        Jump(u='v_reset', w=('add', 'b'))
    """

    u: str = "v_reset"
    w: Optional[Tuple[str, Union[str, float]]] = None


def _signature(cls: type) -> inspect.Signature:
    """The constructor signature derived from a model's declaration."""
    declared = {p.name: p.default for p in cls.BASE_PARAMS + tuple(cls.all_params())}
    defaults = {**declared, **SETTINGS, **getattr(cls, "EXTRA", {}), **cls.DEFAULTS}
    if cls.SIGNATURE[:1] == ("threshold",) and "threshold" not in cls.DEFAULTS:
        defaults["threshold"] = _REQUIRED  # the reference's models take it first and without default
    excluded = set(getattr(cls, "FIXED", {})) | set(getattr(cls, "SAMPLED", ()))
    aliases = dict(getattr(cls, "ALIASES", {}))
    P = inspect.Parameter
    params, seen = [], set()
    for name in cls.SIGNATURE:
        params.append(P(name, P.POSITIONAL_OR_KEYWORD, default=None if name in aliases else defaults[name]))
        seen.add(name)
    for name in list(defaults) + list(aliases):
        if name not in seen and name not in excluded:
            params.append(P(name, P.KEYWORD_ONLY, default=None if name in aliases else defaults[name]))
            seen.add(name)
    params += [P(k, P.KEYWORD_ONLY, default=v) for k, v in KEYWORDS.items()]
    return inspect.Signature(params)


class NeuronModel:
    """The declaration half of a neuron layer: what a model writes, and what follows from it.

    Subclasses override :meth:`rhs` (and, for a closed-form step, :meth:`exact_step`); every
    method here reads only the declaration and the parameters ``p`` (a namespace of the
    declared parameters, ``ts``, ``resting_potential``, ``v_reset`` and ``threshold``:
    Python floats for scalars, tensors otherwise), never the layer's state.

    Example:
        A one-variable model declares its parameters and its right-hand side; the step, the
        checks and the ODE helpers follow:

        >>> class Leaky(Neuron):
        ...     # du/dt = -u / tau_rc + I
        ...     PARAMS = (Param("tau_rc", 0.02, "positive"),)
        ...     def rhs(self, u, w, I, p):
        ...         return -u / p.tau_rc + I, None
        >>> layer = Leaky(threshold=1.0)
        >>> layer.ode(torch.tensor([0.5]), I=10.0)
        tensor([-15.], dtype=torch.float64)
        >>> [layer.step(torch.full((1, 1, 1, 1), 60.0)).spikes.item() for _ in range(3)]
        [0.0, 0.0, 100.0]
    """

    #: the model's parameters (the base ones, ``resting_potential`` and ``v_reset``, are the layer's)
    PARAMS: Tuple[Any, ...] = ()
    TRAITS: ModelTraits = ModelTraits()
    JUMP: Jump = Jump()
    #: the constructor's positional arguments, in order (keyword-only settings follow)
    SIGNATURE: Tuple[str, ...] = ("ts", "resting_potential", "v_reset", "threshold", "refractory_timesteps",
                                  "inhibition_mode")
    #: defaults of the layer settings that differ from :class:`~spyketorch.neurons.Neuron`'s
    DEFAULTS: dict = {}

    #: the parameters every model has, declared before its own
    BASE_PARAMS: Tuple[Param, ...] = (Param("resting_potential", 0.0), Param("v_reset", None, "optional"),
                                      Param("per_neuron_thresh", None, "optional"))

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not isinstance(cls.TRAITS, ModelTraits):
            raise TypeError(f"{cls.__name__}.TRAITS must be a ModelTraits, got {type(cls.TRAITS).__name__}")
        cls.__signature__ = _signature(cls)

    @classmethod
    def all_params(cls) -> Tuple[Param, ...]:
        """The model's declared parameters, those of its base models first."""
        out: Dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            for p in vars(klass).get("PARAMS", ()):
                out[p.name] = p
        return tuple(out.values())

    def rhs(self, u: Tensor, w: Optional[Tensor], I: Tensor, p: Any) -> Tuple[Tensor, Optional[Tensor]]:
        r"""Every derivative of the model: :math:`(du/dt, dw/dt)` per second, given the
        state ``u`` (and ``w``), the input ``I`` and the parameters ``p``. ``dw/dt`` is None
        for one-variable models."""
        raise NotImplementedError(f"{type(self).__name__} declares no rhs")

    #: a closed-form step ``exact_step(u, w, I, p) -> (u_next, w_next)`` replaces forward Euler
    exact_step: Any = None

    def threshold_shift(self, w: Optional[Tensor], p: Any) -> Optional[Tensor]:
        """How much the threshold is raised per neuron (None: not at all)."""
        return None

    # ------------------------------------------------------------------ the parameters the equations read
    def _params(self, device: torch.device = torch.device("cpu"), dtype: torch.dtype = torch.float64) -> Any:
        """The parameters as a named tuple (floats for scalars, tensors on ``device``/``dtype``),
        with ``ts``, ``threshold`` (per neuron when set; ``inf`` when None) and every optional
        parameter that follows the threshold. Reads no tensor value on the host (scalars come
        from the mirror :meth:`_changed` keeps), so ``torch.compile`` traces it."""
        values: Dict[str, Any] = {"ts": self.ts, "threshold": self.threshold, **self.param_values(device, dtype)}
        thr = values["per_neuron_thresh"]
        thr = (math.inf if self.threshold is None else self.threshold) if thr is None else thr
        for p in self.declarations:
            if p.follows == "threshold" and values[p.name] is None:
                if isinstance(thr, float) and math.isinf(thr):
                    raise ValueError(f"{p.name}=None follows the threshold, but threshold is None (and no "
                                     f"per_neuron_thresh is set): give threshold, per_neuron_thresh or {p.name}")
                values[p.name] = thr - abs(thr) * 0.25
        if self.JUMP.u != "v_reset":
            values["v_reset"] = values.get(self.JUMP.u)
        if values["v_reset"] is None:
            values["v_reset"] = values["resting_potential"]
        values["threshold"] = thr
        return params_type(tuple(values))(**values)

    def _settle_rest(self) -> None:
        """Set a pending equilibrium rest once every parameter it depends on is known."""
        if not self.__dict__.get("_rest_pending") or any(
                self.param_or_none(p.name) is None for p in self.declarations
                if p.rule != "optional" and p.name != "resting_potential"):
            return
        with torch.no_grad():  # a value, not a function of learnable parameters
            rest = self.equilibrium(self._params())
        self._rest_pending = False
        self.resting_potential = rest.flatten()[0] if bool((rest == rest.flatten()[0]).all()) else rest

    def _validate(self) -> None:
        """Check the relations between parameters: the Euler stability bound and ``max_ts``."""
        for name in self.TRAITS.ts_below:
            tau = self.param_or_none(name)
            if tau is not None and not bool((tau > self.ts).all()):
                raise ValueError(
                    f"ts={self.ts} is too large for the forward-Euler scheme of {type(self).__name__}: "
                    f"it needs ts < {name} (min {name} = {float(tau.detach().min()):g})")
        self._check_euler_w()
        top = self.TRAITS.max_ts
        if top is not None and self.ts > top * (1 + 1e-9):
            raise ValueError(f"ts={self.ts} s is too large for the scheme of {type(self).__name__}: "
                             f"use ts <= {top:g} s")


    def _check_euler_w(self) -> None:
        r"""The forward-Euler step of the second variable must not overshoot its nullcline:
        :math:`1 + t_s\,\partial(dw/dt)/\partial w > 0` (for AdEx this is ``ts < tau_w``; for
        Izhikevich :math:`a < 1/(1000\,t_s)`). Checked once every parameter is known."""
        declared = {p.name for p in self.declarations}
        if not self.TRAITS.second_variable or self.exact_step is not None or any(
                p.name not in declared or (p.rule != "optional" and self.param_or_none(p.name) is None)
                for p in self.BASE_PARAMS + self.all_params()):
            return
        p = self._params()
        v = torch.zeros((), dtype=torch.float64) + p.resting_potential
        slope = self.rhs(v, v * 0 + 1.0, v * 0, p)[1] - self.rhs(v, v * 0, v * 0, p)[1]
        if not bool((1 + p.ts * slope > 0).all()):
            worst = float((p.ts * slope).min())
            raise ValueError(
                f"ts={p.ts:g} is too large for the forward-Euler step of the second variable of "
                f"{type(self).__name__} with these parameters: it needs 1 + ts * d(dw/dt)/dw > 0, got "
                f"ts * d(dw/dt)/dw = {worst:g}; use a smaller ts or a slower second variable")

    # ------------------------------------------------------------------ derived from the declaration
    @property
    def has_second_variable(self) -> bool:
        """Whether the model has a second state variable ``w`` (adaptation, recovery, ...)."""
        return self.TRAITS.second_variable

    @property
    def spike_amplitude(self) -> float:
        """Amplitude of a spike: ``1/ts``, or 1 for the ``_Simple`` models."""
        return 1.0 / self._params().ts if self.TRAITS.spike_amplitude == "1/ts" else 1.0

    @property
    def reset_potential(self) -> Union[float, Tensor]:
        """Potential after a spike (float64; a number when scalar)."""
        return self._params().v_reset

    @property
    def effective_threshold(self) -> Union[float, Tensor]:
        """Per-neuron thresholds if set, else the layer threshold (``inf`` when None), float64."""
        return self._params().threshold

    def ode(self, u: Any, I: Any = 0.0, w: Any = None) -> Tensor:
        r"""Right-hand side :math:`du/dt` (units of ``u`` per second) for potentials ``u``,
        input ``I`` (and second variable ``w``), in float64: the first output of :meth:`rhs`."""
        u, I = _f64(u), _f64(I)
        w = (torch.zeros_like(u) if w is None else _f64(w)) if self.has_second_variable else None
        du = self.rhs(u, w, I, self._params())[0]
        return du.expand(torch.broadcast_shapes(du.shape, u.shape, I.shape))

    def ode_w(self, u: Any, w: Any, I: Any = 0.0) -> Tensor:
        r""":math:`dw/dt` of the second variable per second, in float64 (second output of :meth:`rhs`)."""
        if not self.has_second_variable:
            raise ValueError(f"{type(self).__name__} has no second state variable")
        return self.rhs(_f64(u), _f64(w), _f64(I), self._params())[1]

    def plot_ode(self, figure: Any = None, ax: Any = None, current: Optional[float] = None) -> Tuple[Any, Any]:
        """Plot :math:`du/dt` against :math:`u` (with and without ``current``); see
        :func:`spyketorch.analysis.plotting.plot_ode`. Returns ``(figure, axes)``."""
        import importlib  # the plots live above the models: matplotlib and analysis only when plotting

        return importlib.import_module("spyketorch.analysis.plotting").plot_ode(
            self, figure=figure, ax=ax, current=current)

    @property
    def exact(self) -> bool:
        """Whether the model integrates with its declared closed-form step (else forward Euler)."""
        return self.exact_step is not None

    def advance(self, u: Tensor, w: Optional[Tensor], I: Tensor, p: Any) -> Tuple[Tensor, Optional[Tensor]]:
        """One step of the equations from ``(u, w)`` with input ``I``: the declared exact step,
        or forward Euler of :meth:`rhs`. The second variable is None here when its Euler step
        reads the updated potential (``TRAITS.w_reads_update``): :meth:`advance_w` gives it."""
        if self.exact_step is not None:
            return self.exact_step(u, w, I, p)
        du, dw = self.rhs(u, w, I, p)
        u1 = u + p.ts * du
        if w is None or self.TRAITS.w_reads_update:
            return u1, None
        return u1, w + p.ts * dw

    def advance_w(self, u_at: Tensor, w: Tensor, I: Tensor, p: Any) -> Tensor:
        """Forward Euler of the second variable reading the potential ``u_at``."""
        return w + p.ts * self.rhs(u_at, w, I, p)[1]

    def initial_w(self, v: Tensor, p: Any) -> Tensor:
        r"""The second variable at rest: on its nullcline :math:`dw/dt = 0` for the potential
        ``v`` and no input (the models' :math:`dw/dt` is affine in :math:`w`)."""
        zero = torch.zeros_like(v)
        d0 = self.rhs(v, zero, zero, p)[1]
        if d0 is None:
            raise TypeError(f"{type(self).__name__} declares a second variable but its rhs gives no dw/dt")
        d1 = self.rhs(v, zero + 1.0, zero, p)[1]
        slope = d1 - d0
        return torch.where(slope != 0, -d0 / torch.where(slope != 0, slope, 1.0), zero)

    def equilibrium(self, p: Any, lo: float = -1000.0, hi: float = 1000.0, points: int = 4001) -> Tensor:
        r"""The stable resting state of the equations for zero input: the lowest potential
        where :math:`du/dt`, with :math:`w` on its nullcline, crosses zero downwards, in
        ``[lo, hi]`` (float64, per element of the parameters' shape).

        A grid of ``points`` potentials finds the crossing, bisection refines it to float64
        precision. ``ValueError`` when there is none (no resting state).
        """
        grid = torch.linspace(lo, hi, points, dtype=torch.float64)
        shape = torch.broadcast_shapes(*[torch.as_tensor(v).shape for v in p
                                         if isinstance(v, Tensor)] or [()])
        g = self._reduced(grid.view(-1, *([1] * len(shape))).expand(points, *shape), p)
        down = (g[:-1] > 0) & (g[1:] <= 0)
        if not bool(down.any(0).all()):
            raise ValueError(f"{type(self).__name__}: no resting state for these parameters (du/dt never "
                             f"crosses zero downwards in [{lo:g}, {hi:g}]); give resting_potential")
        first = down.to(torch.int64).argmax(0)
        a = grid[first].clone()
        b = grid[first + 1].clone()
        for _ in range(80):
            m = (a + b) / 2
            pos = self._reduced(m, p) > 0
            a = torch.where(pos, m, a)
            b = torch.where(pos, b, m)
        return (a + b) / 2

    def _reduced(self, v: Tensor, p: Any) -> Tensor:
        """:math:`du/dt` at ``v`` with no input and the second variable on its nullcline."""
        w = self.initial_w(v, p) if self.TRAITS.second_variable else None
        return self.rhs(v, w, torch.zeros_like(v), p)[0]

    # ------------------------------------------------------------------ learnable parameters
    def set_learn(self, names: Union[str, Sequence[str]]) -> None:
        r"""Make the parameters ``names`` learnable: each becomes an ``nn.Parameter`` (listed by
        ``parameters()``, in ``state_dict`` under its name) that receives the gradient of a loss
        through every step, as snnTorch's ``learn_beta``/``learn_threshold``.

        ``"threshold"`` learns the thresholds as ``per_neuron_thresh`` (from the layer
        ``threshold`` when none is set: one learnable scalar; give ``per_neuron_thresh`` a
        ``[C, 1, 1]`` tensor for one per map). Other names are the model's parameters
        (:attr:`param_names`), learned with the shape they have (a scalar, or e.g.
        ``tau_rc=torch.full((C, 1, 1), 0.02)`` for one per map); an optional parameter left
        ``None`` starts at the value it stands for (``v_reset``: the resting potential). Each
        is kept in torch's default dtype (``layer.double()`` moves it) and its rule is still
        checked: when set, and after an optimizer changed it, before the next step
        (``ValueError`` naming it, e.g. a time constant pushed to 0 or below, or below ``ts``
        for a forward-Euler model). Parameters already learnable stay so.

        ``ValueError`` for a name the model does not have, a parameter its equations do not
        read (so no gradient could reach it: IF's ``tau_rc``, Izhikevich's ``tau_rc``, ``C``
        and ``v_reset`` — it resets to ``c``), the drawn time constants of a ``Uniform*``
        layer before they are drawn (give ``n_features``), or a layer without a surrogate.

        Example:
            >>> layer = LIF(threshold=10.0, surrogate="atan", learn=("tau_rc", "threshold"))
            >>> sorted(name for name, _ in layer.named_parameters())
            ['per_neuron_thresh', 'tau_rc']
            >>> out = layer.step(torch.full((1, 2, 3, 3), 9000.0))
            >>> out.spikes.sum().backward()
            >>> layer.tau_rc.grad is not None, layer.per_neuron_thresh.grad.item() < 0
            (True, True)
        """
        names = (names,) if isinstance(names, str) else tuple(names)
        if not all(isinstance(n, str) for n in names):
            raise TypeError(f"learn must be a parameter name or a sequence of names, got {names!r}")
        if not names:
            return
        if self.surrogate is None:
            raise ValueError(f"learn={names!r} needs a surrogate (surrogate='atan', ...): without one the step "
                             f"builds no graph and the parameters would get no gradient")
        fixed = getattr(self, "FIXED", {})
        targets = []
        for n in names:
            target = "per_neuron_thresh" if n == "threshold" else n
            if target not in self._param_rules or target in fixed:
                raise ValueError(f"learn: {type(self).__name__} has no parameter {n!r} to learn "
                                 f"(its parameters: threshold, {', '.join(self.param_names)})")
            if self._tensor(target) is None and target in getattr(self, "SAMPLED", ()):
                raise ValueError(f"learn: {type(self).__name__} draws {target} on its first step; give "
                                 f"n_features to draw it at construction and learn it")
            targets.append(target)
        p = self._params()
        for target in targets:
            if target in self._learned:
                continue
            value = self._tensor(target)
            if value is None:
                value = p.threshold if target == "per_neuron_thresh" else getattr(p, target)
                if isinstance(value, float) and math.isinf(value):
                    raise ValueError(f"learn: {type(self).__name__} has no threshold to learn (threshold=None and "
                                     f"no per_neuron_thresh); give threshold or per_neuron_thresh")
            self._make_learnable(target, torch.as_tensor(value, dtype=torch.float64))
        unused = self._unread(targets)
        if unused:
            for target in targets:  # nothing changes on error
                self._buffers[target] = self._parameters.pop(target).detach().to(torch.float64)
                del self._learned[target]
            self._changed()
            raise ValueError(f"learn: the equations of {type(self).__name__} do not read {', '.join(unused)}, so "
                             f"no gradient can reach {'it' if len(unused) == 1 else 'them'}")

    def _unread(self, names: Sequence[str]) -> List[str]:
        """Those of the parameters ``names`` that nothing in a step reads: not the equations
        (checked by autograd on a probe step), the threshold, the reset or the jump."""
        read = {"per_neuron_thresh", "resting_potential"}  # the spike; the initial state
        read.update(n for n in (self.JUMP.u, self.JUMP.w[1] if self.JUMP.w else None) if isinstance(n, str))
        rest = [n for n in names if n not in read]
        if not rest:
            return []
        with torch.enable_grad():
            p = self._params()
            u0 = torch.zeros((), dtype=torch.float64) + p.resting_potential + 0.25
            w0 = self.initial_w(u0, p) + 0.5 if self.has_second_variable else None
            I = torch.ones((), dtype=torch.float64)
            u1, w1 = self.advance(u0, w0, I, p)
            outs = [u1]
            if w0 is not None:
                outs.append(w1 if w1 is not None else self.advance_w(u0, w0, I, p))
                shift = self.threshold_shift(w0, p)
                if shift is not None:
                    outs.append(shift)
            total = sum(o.sum() for o in outs)
            tensors = [self._parameters[n] for n in rest]
            grads = torch.autograd.grad(total, tensors, allow_unused=True) if total.requires_grad else [None] * len(rest)
        return [n for n, g in zip(rest, grads) if g is None]
