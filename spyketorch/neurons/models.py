r"""The neuron models, each written once as a declaration.

Each class below declares its parameters, traits, after-spike jump, constructor order and
its equations (:meth:`rhs`, or an exact step) — nothing else. The step of every backend,
the constructor, the checks, the ODE plots and the exports follow from these lines (see
:mod:`spyketorch.neurons.model`). Constructor arguments, defaults, spike amplitudes and
return tuples are those of the extended SpykeTorch ``neurons`` module; its bugs are fixed
(each class docstring says what differs).

Example:
    >>> from spyketorch.neurons import IZHIKEVICH_PRESETS
    >>> sorted(IZHIKEVICH_PRESETS)
    ['chattering', 'fast_spiking', 'intrinsically_bursting', 'regular_spiking']
    >>> IZHIKEVICH_PRESETS["chattering"]
    {'a': 0.02, 'b': 0.2, 'c': -50.0, 'd': 2.0}
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Dict, Optional, Tuple, Union

from torch import Tensor

from .layer import Neuron
from .model import Jump, ModelTraits, cos, exp, sin
from .params import Param

__all__ = ["IF", "LIF", "LIF_ode", "LIF_Simple", "EIF", "EIF_Simple", "QIF", "AdEx", "Izhikevich", "AdaptiveLIF",
           "ResonateAndFire", "IZHIKEVICH_PRESETS"]

_LIF_ORDER = ("threshold", "tau_rc", "ts", "resting_potential", "refractory_timesteps", "C", "per_neuron_thresh",
              "inhibition_mode")
_SIMPLE_DEFAULTS = dict(ts=0.001, refractory_timesteps=2)


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

    PARAMS = (Param("tau_rc", 0.02, "positive"), Param("C", 0.281, "positive"))
    SIGNATURE = _LIF_ORDER
    DEFAULTS = _SIMPLE_DEFAULTS

    def rhs(self, u: Tensor, w: Optional[Tensor], I: Tensor, p: Any) -> Tuple[Tensor, Optional[Tensor]]:
        return I / p.C, None


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
        threshold: firing threshold.
        tau_rc: membrane time constant in s. Default: 0.02.
        ts: time step in s. Default: 0.001.
        resting_potential: resting potential. Default: 0.0.
        refractory_timesteps: refractory period in steps. Default: 2.
        C: capacitance. Default: 0.281.
        per_neuron_thresh: optional tensor of thresholds. Default: None.
        inhibition_mode: lateral inhibition of the winners. Default: ``"feature"``.

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

    def exact_step(self, u: Tensor, w: Optional[Tensor], I: Tensor, p: Any) -> Tuple[Tensor, Optional[Tensor]]:
        e = exp(-p.ts / p.tau_rc)
        return u * e + I * (p.ts / p.C) + p.resting_potential * (1 - e), None


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
    exact_step = None


class LIF_Simple(Neuron):
    r"""Simplified LIF: multiplicative decay toward rest, unscaled input and spikes of 1.

    .. math::
        u_{t+1} = u_{rest} + (u_t - u_{rest})\left(1 - \frac{t_s}{\tau_{rc}}\right) + I_t

    Spikes have amplitude 1 (not :math:`1/t_s`). Fix: the reference decayed toward 0;
    this decays toward the resting potential (identical when it is 0). Not floored at
    rest, as the reference. Requires ``ts < tau_rc``.

    Args:
        threshold: firing threshold.
        tau_rc: decay time constant in s. Default: 0.02.
        ts: time step in s. Default: 0.001.
        resting_potential: resting potential. Default: 0.0.
        refractory_timesteps: refractory period in steps. Default: 2.
        per_neuron_threshold: optional tensor of thresholds (the name ``per_neuron_thresh`` is
            accepted too). Default: None.
        inhibition_mode: lateral inhibition of the winners. Default: ``"feature"``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> layer = LIF_Simple(threshold=5.0)
        >>> spikes, potentials, winners = layer(torch.rand(1, 3, 4, 4, generator=g) * 6)
        >>> spikes.count_nonzero().item(), winners
        (6, [(1, 2, 2)])
    """

    PARAMS = (Param("tau_rc", 0.02, "positive"),)
    TRAITS = ModelTraits(ts_below=("tau_rc",), spike_amplitude="1", floored=False)
    SIGNATURE = ("threshold", "tau_rc", "ts", "resting_potential", "refractory_timesteps", "per_neuron_threshold",
                 "inhibition_mode", "per_neuron_thresh")
    DEFAULTS = _SIMPLE_DEFAULTS
    ALIASES = {"per_neuron_threshold": "per_neuron_thresh"}

    @property
    def decay(self) -> Union[float, Tensor]:
        """Per-step decay factor ``1 - ts/tau_rc``."""
        return 1 - self._ts / self._params().tau_rc

    def rhs(self, u: Tensor, w: Optional[Tensor], I: Tensor, p: Any) -> Tuple[Tensor, Optional[Tensor]]:
        return -(u - p.resting_potential) / p.tau_rc + I / p.ts, None


class EIF(Neuron):
    r"""Exponential integrate-and-fire layer (forward Euler).

    .. math::
        \tau_{rc}\frac{du}{dt} = -(u - u_{rest}) + \Delta_T
        \exp\!\left(\frac{u - \theta_{rh}}{\Delta_T}\right) + R\,I(t),\quad R = \tau_{rc}/C

    ``theta_rh=None`` follows the threshold: :math:`\vartheta - |\vartheta|/4`
    (3/4 of a positive threshold), per neuron when ``per_neuron_thresh`` is set.
    The exponent saturates (:func:`spyketorch.neurons.model.exp`) and the state is capped, so
    strong input never overflows; potentials are floored at rest. Requires ``ts < tau_rc``.

    Args:
        threshold: firing threshold.
        tau_rc: membrane time constant in s. Default: 0.02.
        ts: time step in s. Default: 0.001.
        delta_t: sharpness :math:`\Delta_T`. Default: 0.5.
        theta_rh: rheobase. Default: None.
        resting_potential: resting potential. Default: 0.0.
        refractory_timesteps: refractory period in steps. Default: 2.
        C: capacitance. Default: 0.281.
        v_reset: reset potential, None = rest. Default: None.
        per_neuron_thresh: optional tensor of thresholds. Default: None.
        inhibition_mode: lateral inhibition of the winners. Default: ``"feature"``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> layer = EIF(threshold=10.0)
        >>> out = layer.step(torch.rand(2, 4, 5, 5, generator=g) * 3000, n_winners=3)
        >>> out.spikes.count_nonzero().item(), out.winners[0].tolist()
        (11, [[2, 0, 1], [1, 0, 1], [3, 1, 1]])
    """

    PARAMS = (Param("tau_rc", 0.02, "positive"), Param("delta_t", 0.5, "positive"),
              Param("theta_rh", None, "optional", follows="threshold"), Param("C", 0.281, "positive"))
    TRAITS = ModelTraits(ts_below=("tau_rc",), capped=True)
    SIGNATURE = ("threshold", "tau_rc", "ts", "delta_t", "theta_rh", "resting_potential", "refractory_timesteps", "C",
                 "v_reset", "per_neuron_thresh", "inhibition_mode")
    DEFAULTS = _SIMPLE_DEFAULTS

    def rhs(self, u: Tensor, w: Optional[Tensor], I: Tensor, p: Any) -> Tuple[Tensor, Optional[Tensor]]:
        d = p.delta_t
        return (-(u - p.resting_potential) + d * exp((u - p.theta_rh) / d) + p.tau_rc / p.C * I) / p.tau_rc, None


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
        threshold: firing threshold.
        tau_rc: decay time constant in s. Default: 0.02.
        ts: time step in s. Default: 0.001.
        delta_t: sharpness :math:`\Delta_T`. Default: 0.5.
        theta_rh: rheobase. Default: None.
        resting_potential: resting potential. Default: 0.0.
        refractory_timesteps: refractory period in steps. Default: 2.
        v_reset: reset potential, None = rest. Default: None.
        per_neuron_threshold: optional tensor of thresholds (``per_neuron_thresh`` accepted too). Default: None.
        inhibition_mode: lateral inhibition of the winners. Default: ``"feature"``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> layer = EIF_Simple(threshold=5.0)
        >>> spikes, potentials, winners = layer(torch.rand(1, 3, 4, 4, generator=g) * 6)
        >>> spikes.count_nonzero().item(), winners
        (6, [(1, 2, 2)])
    """

    TRAITS = replace(EIF.TRAITS, spike_amplitude="1", floored=False, potentials_before_reset=True)
    SIGNATURE = ("threshold", "tau_rc", "ts", "delta_t", "theta_rh", "resting_potential", "refractory_timesteps",
                 "v_reset", "per_neuron_threshold", "inhibition_mode", "per_neuron_thresh")
    ALIASES = {"per_neuron_threshold": "per_neuron_thresh"}
    FIXED = {"C": 1.0}

    def rhs(self, u: Tensor, w: Optional[Tensor], I: Tensor, p: Any) -> Tuple[Tensor, Optional[Tensor]]:
        d = p.delta_t
        return -(u - p.resting_potential) / p.tau_rc + (d * exp((u - p.theta_rh) / d) + I) / p.ts, None


class QIF(Neuron):
    r"""Quadratic integrate-and-fire layer (forward Euler).

    .. math::
        \tau_{rc}\frac{du}{dt} = a_0 (u - u_{rest})(u - u_c) + R\,I(t),\quad R = \tau_{rc}/C

    Below the critical potential :math:`u_c` the potential relaxes to rest; above it
    it runs away. ``u_c=None`` follows the threshold (:math:`\vartheta - |\vartheta|/4`).
    The state is capped so the quadratic term never overflows; potentials are
    floored at rest. Requires ``ts < tau_rc``.

    Args:
        threshold: firing threshold.
        tau_rc: membrane time constant in s. Default: 0.02.
        ts: time step in s. Default: 0.001.
        u_c: critical potential. Default: None.
        a: sharpness :math:`a_0`. Default: 0.001.
        resting_potential: resting potential. Default: 0.0.
        refractory_timesteps: refractory period in steps. Default: 2.
        C: capacitance. Default: 0.281.
        v_reset: reset potential, None = rest. Default: None.
        per_neuron_thresh: optional tensor of thresholds. Default: None.
        inhibition_mode: lateral inhibition of the winners. Default: ``"feature"``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> layer = QIF(threshold=10.0)
        >>> spikes, potentials, winners = layer(torch.rand(1, 3, 4, 4, generator=g) * 3000)
        >>> spikes.count_nonzero().item(), winners
        (1, [(1, 2, 2)])
    """

    PARAMS = (Param("tau_rc", 0.02, "positive"), Param("u_c", None, "optional", follows="threshold"),
              Param("a", 0.001, "positive"), Param("C", 0.281, "positive"))
    TRAITS = ModelTraits(ts_below=("tau_rc",), capped=True)
    SIGNATURE = ("threshold", "tau_rc", "ts", "u_c", "a", "resting_potential", "refractory_timesteps", "C", "v_reset",
                 "per_neuron_thresh", "inhibition_mode")
    DEFAULTS = _SIMPLE_DEFAULTS

    def rhs(self, u: Tensor, w: Optional[Tensor], I: Tensor, p: Any) -> Tuple[Tensor, Optional[Tensor]]:
        return (p.a * (u - p.resting_potential) * (u - p.u_c) + p.tau_rc / p.C * I) / p.tau_rc, None


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
        threshold: firing threshold.
        tau_rc: membrane time constant in s. Default: 0.02.
        ts: time step in s. Default: 0.001.
        delta_t: sharpness :math:`\Delta_T`. Default: 0.5.
        theta_rh: rheobase (None: follows the threshold). Default: None.
        resting_potential: resting potential. Default: 0.0.
        refractory_timesteps: refractory period in steps. Default: 2.
        C: capacitance. Default: 0.281.
        v_reset: reset potential, None = rest. Default: None.
        a: subthreshold adaptation. Default: 0.6.
        b: spike-triggered adaptation. Default: 0.7.
        tau_w: adaptation time constant in s. Default: 1.
        per_neuron_thresh: optional tensor of thresholds. Default: None.
        inhibition_mode: lateral inhibition of the winners. Default: ``"layer"``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> layer = AdEx(threshold=10.0)
        >>> out = layer.step(torch.rand(1, 2, 4, 4, generator=g) * 3000)
        >>> out.spikes.count_nonzero().item(), out.winners.tolist()
        (1, [[[1, 2, 2]]])
    """

    PARAMS = (Param("a", 0.6), Param("b", 0.7), Param("tau_w", 1.0, "positive"))
    TRAITS = replace(EIF.TRAITS, ts_below=("tau_rc", "tau_w"), second_variable=True, w_reads_update=True)
    JUMP = Jump(w=("add", "b"))
    SIGNATURE = ("threshold", "tau_rc", "ts", "delta_t", "theta_rh", "resting_potential", "refractory_timesteps", "C",
                 "v_reset", "a", "b", "tau_w", "per_neuron_thresh", "inhibition_mode")
    DEFAULTS = dict(_SIMPLE_DEFAULTS, inhibition_mode="layer")

    @property
    def R(self) -> Union[float, Tensor]:
        """Membrane resistance ``tau_rc / C``."""
        p = self._params()
        return p.tau_rc / p.C

    def rhs(self, u: Tensor, w: Optional[Tensor], I: Tensor, p: Any) -> Tuple[Tensor, Optional[Tensor]]:
        return EIF.rhs(self, u, None, I - w, p)[0], (p.a * (u - p.resting_potential) - w) / p.tau_w


#: The classic Izhikevich (2003) neuron types, for :meth:`Izhikevich.preset`.
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

    (``u`` is stored as the second variable ``w``.) Forward Euler with
    :math:`\Delta t = 1000\, t_s` ms; the recovery variable is advanced from the updated
    potential, taken at most at the spike apex ``threshold``. The layer rests at the
    stable equilibrium of the equations for zero input (about -70 mV for the presets)
    unless ``resting_potential`` is given. Fixes with respect to the reference: the real
    model (the reference's default reset ``c=0`` lay far above rest and its state started
    away from the equilibrium), the time step honoured (the reference stepped 1 ms whatever
    ``ts``), ``c`` used as the reset. ``v_reset`` is the reset under its generic name, as
    in the extended fork: given alone it sets ``c``; given with a different ``c`` it is a
    ``ValueError``. Defaults are the regular-spiking preset with the model's 30 mV spike
    cut-off; :meth:`preset` builds the other classic types. ``tau_rc`` and ``C`` are
    accepted for compatibility and not used. By default the winners inhibit the whole
    layer, as in the reference. Requires ``ts <= 0.001``.

    Args:
        threshold: spike cut-off in mV. Default: 30.0.
        tau_rc: unused. Default: 0.02.
        ts: time step in seconds. Default: 0.001.
        a, b, c, d: model parameters (``c``: the reset potential). Defaults: 0.02, 0.2, -65.0, 8.0.
        refractory_timesteps: Default: 2.
        C: unused. Default: 0.281.
        v_reset: the reset potential under its generic name (see above). Default: None.
        resting_potential: potential of refractory neurons and initial state; None = the
            equilibrium. Default: None.
        per_neuron_thresh: Default: None.
        inhibition_mode: Default: ``"layer"``.

    Example:
        >>> layer = Izhikevich.preset("chattering", ts=0.0005)
        >>> spikes, v, winners = layer(torch.full((1, 1, 1, 1), 10.0))
        >>> n_spikes = [layer(torch.full((1, 1, 1, 1), 10.0))[0].count_nonzero().item() for _ in range(199)]
        >>> sum(n_spikes)  # spikes in 0.1 s (200 steps of 0.5 ms)
        11
    """

    PARAMS = (Param("tau_rc", 0.02, "positive"), Param("C", 0.281, "positive"), Param("a", 0.02),
              Param("b", 0.2), Param("c", -65.0), Param("d", 8.0))
    TRAITS = ModelTraits(second_variable=True, floored=False, capped=True, w_reads_update=True, max_ts=0.001,
                         rest_is_equilibrium=True)
    JUMP = Jump(u="c", w=("add", "d"))
    SIGNATURE = ("threshold", "tau_rc", "ts", "a", "b", "c", "d", "refractory_timesteps", "C", "v_reset",
                 "resting_potential", "per_neuron_thresh", "inhibition_mode")
    DEFAULTS = dict(threshold=30.0, ts=0.001, refractory_timesteps=2, inhibition_mode="layer", resting_potential=None)
    ALIASES = {"v_reset": ("c", "agree")}

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

    def rhs(self, u: Tensor, w: Optional[Tensor], I: Tensor, p: Any) -> Tuple[Tensor, Optional[Tensor]]:
        """dv/dt and du/dt (recovery) per second: the model's per-ms rates times 1000."""
        return (0.04 * u * u + 5 * u + 140 - w + I) * 1000.0, p.a * (p.b * u - w) * 1000.0


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
        threshold: base threshold :math:`\vartheta`.
        beta: threshold raise per unit of ``a`` (>= 0). Default: 1.0.
        tau_adapt: decay time constant of ``a`` in s. Default: 0.1.
        **kwargs: the other arguments as :class:`LIF`.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> layer = AdaptiveLIF(threshold=10.0, beta=2.0)
        >>> x = torch.rand(1, 2, 3, 3, generator=g) * 3000
        >>> [layer.step(x).spikes.count_nonzero().item() for _ in range(4)]  # adaptation stops firing
        [0, 9, 2, 0]
    """

    PARAMS = (Param("beta", 1.0, "nonnegative"), Param("tau_adapt", 0.1, "positive"))
    TRAITS = replace(LIF.TRAITS, second_variable=True)
    JUMP = Jump(w=("add", 1.0))
    SIGNATURE = ("threshold", "tau_rc", "ts", "beta", "tau_adapt")

    def rhs(self, u: Tensor, w: Optional[Tensor], I: Tensor, p: Any) -> Tuple[Tensor, Optional[Tensor]]:
        return LIF.rhs(self, u, None, I, p)[0], -w / p.tau_adapt

    def exact_step(self, u: Tensor, w: Optional[Tensor], I: Tensor, p: Any) -> Tuple[Tensor, Optional[Tensor]]:
        return LIF.exact_step(self, u, None, I, p)[0], w * exp(-p.ts / p.tau_adapt)

    def threshold_shift(self, w: Optional[Tensor], p: Any) -> Optional[Tensor]:
        return w * p.beta


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
        threshold: firing threshold of ``y``. Default: 1.0.
        b: damping in 1/s, < 0. Default: -5.0.
        omega: angular frequency in rad/s. Default: :math:`2\pi \cdot 10`.
        ts: time step in s. Default: 0.001.
        x_reset: ``x`` after a spike. Default: 0.0.
        **kwargs: the other arguments as :class:`Neuron` (``v_reset`` is ``y`` after a spike).

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
    JUMP = Jump(w=("set", "x_reset"))
    SIGNATURE = ("threshold", "b", "omega", "ts", "x_reset", "refractory_timesteps", "per_neuron_thresh")
    DEFAULTS = dict(threshold=1.0, ts=0.001)

    def rhs(self, u: Tensor, w: Optional[Tensor], I: Tensor, p: Any) -> Tuple[Tensor, Optional[Tensor]]:
        y = u - p.resting_potential
        return p.omega * w + p.b * y, p.b * w - p.omega * y + I

    def exact_step(self, u: Tensor, w: Optional[Tensor], I: Tensor, p: Any) -> Tuple[Tensor, Optional[Tensor]]:
        E, th = exp(p.b * p.ts), p.omega * p.ts
        ec, es = E * cos(th), E * sin(th)
        y, x = u - p.resting_potential, w + p.ts * I  # the input's kick at the start of the step
        return y * ec + x * es + p.resting_potential, x * ec - y * es
