r"""Running, recording, tuning and saving neuron layers.

* :func:`simulate` (alias :func:`run`) drives a neuron layer, or any callable
  network of layers, for ``T`` steps with a constant input, a ``[T, B, C, H, W]``
  sequence or a stimulus function of the step index, optionally after
  unrecorded equilibration steps, and returns the chosen variables stacked over
  time as tensors on the device.
* :func:`fi_curve` measures the firing rate of a layer against constant input
  currents; :func:`lif_rate` and :func:`analytic_lif_rate` give the closed-form
  rate of the leaky integrate-and-fire neuron for comparison.
* :func:`tune_threshold` finds, by bisection, the threshold (one for the layer or
  one per feature map) at which a layer fires at a target rate on given input.
* :func:`save_layer` / :func:`load_layer` store a layer with its parameters and,
  on request, its state, so that a fresh process continues bit-identically.

Firing rates are in spikes per second of simulated time: a neuron that fires
``n`` times in ``T`` steps of ``ts`` seconds has the rate :math:`n / (T t_s)`.

Example:
    >>> from spyketorch.analysis.simulation import LAYER_VARIABLES, simulate
    >>> LAYER_VARIABLES[:4]
    ('spikes', 'potentials', 'thresholded', 'dudt')
    >>> rec = simulate(AdEx(threshold=10.0), torch.full((1, 1, 1, 1), 500.0), steps=10, record=("v", "w"),
    ...                progress=False)
    >>> sorted(rec), rec["w"].shape
    (['v', 'w'], torch.Size([10, 1, 1, 1, 1]))
"""
from __future__ import annotations

import copy
import math
import os
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from .. import _validation as _v
from .. import neurons as sn
from .dynamics import copy_layer, scalar_rest, single_neuron, w_nullcline
from ..systems.sam import STOCHASTIC_MODELS, RectifiedSAM

__all__ = [
    "LAYER_VARIABLES",
    "simulate",
    "run",
    "firing_rate",
    "FICurve",
    "fi_curve",
    "lif_rate",
    "analytic_lif_rate",
    "rheobase",
    "default_current_range",
    "TuneResult",
    "tune_threshold",
    "save_layer",
    "load_layer",
]

#: Variables :func:`simulate` can record from a :class:`~spyketorch.neurons.Neuron` layer.
#: ``adaptation`` is an alias of ``w``; ``spike_count`` is accumulated (no time axis).
LAYER_VARIABLES = (
    "spikes",
    "potentials",
    "thresholded",
    "dudt",
    "winners",
    "winning_spikes",
    "v",
    "refractory",
    "w",
    "adaptation",
    "input",
    "spike_count",
)

_ALIASES = {"adaptation": "w"}
_STATE_VARS = ("v", "refractory", "w")

InputSpec = Union[Tensor, Callable[[int], Tensor], None]


# ---------------------------------------------------------------------------- simulate
def _input_source(inputs: InputSpec, stimulus: Optional[Callable[[int], Tensor]], steps: Optional[int],
                  sequence: Optional[bool]) -> Tuple[Callable[[int], Tensor], int]:
    """Turn the input specification into ``f(t) -> Tensor`` and the number of steps."""
    if steps is not None:
        steps = _v.non_negative_int(steps, "steps")
    if sequence is not None and not isinstance(sequence, bool):
        raise TypeError(f"sequence must be None, True or False, got {type(sequence).__name__}")
    base: Optional[Callable[[int], Tensor]]
    n: Optional[int] = steps
    if inputs is None:
        base = None
    elif isinstance(inputs, Tensor):
        is_seq = inputs.dim() == 5 if sequence is None else bool(sequence)
        if is_seq:
            if n is None:
                n = inputs.shape[0]
            elif n > inputs.shape[0]:
                raise ValueError(f"steps={n} exceeds the length {inputs.shape[0]} of the input sequence")
            seq = inputs
            base = lambda t: seq[t]  # noqa: E731
        else:
            const = inputs
            base = lambda t: const  # noqa: E731
    elif callable(inputs):
        base = inputs
    else:
        raise TypeError(f"inputs must be a tensor, a callable t -> tensor or None, got {type(inputs).__name__}")
    if stimulus is not None and not callable(stimulus):
        raise TypeError("stimulus must be a callable t -> tensor")
    if base is None and stimulus is None:
        raise ValueError("give inputs, a stimulus, or both")
    if n is None:
        raise ValueError("steps is required unless inputs is a [T, ...] sequence")
    if base is None:
        fn = stimulus  # type: ignore[assignment]
    elif stimulus is None:
        fn = base
    else:
        b, s = base, stimulus
        fn = lambda t: b(t) + s(t)  # noqa: E731
    return fn, n  # type: ignore[return-value]


#: The layer classes :func:`simulate` steps, resets and records as layers: the
#: :class:`~spyketorch.neurons.Neuron` layers and the stochastic ones of
#: :data:`spyketorch.sam.STOCHASTIC_MODELS` (``step``/``reset``, ``StepOutput``, ``spike_amplitude``).
_LAYER_TYPES: Tuple[type, ...] = (sn.Neuron, RectifiedSAM)


def _is_layer(obj: Any) -> bool:
    return isinstance(obj, _LAYER_TYPES)


def _neuron_layers(network: Any) -> Dict[str, Any]:
    if _is_layer(network):
        return {"": network}
    if isinstance(network, nn.Module):
        return {name: m for name, m in network.named_modules() if _is_layer(m)}
    return {}


def _spike_amplitude(network: Any) -> Optional[float]:
    """Amplitude of one spike of a layer or of a layer's bound method (e.g. ``layer.step``); None otherwise."""
    owner = network if _is_layer(network) else getattr(network, "__self__", None)
    return float(owner.spike_amplitude) if _is_layer(owner) else None


def _reset_network(network: Any) -> None:
    for layer in _neuron_layers(network).values():
        layer.reset()


def _outputs_as_dict(out: Any) -> Dict[str, Any]:
    if isinstance(out, Tensor):
        return {"output": out}
    if isinstance(out, dict):
        return dict(out)
    if isinstance(out, tuple) and hasattr(out, "_asdict"):
        return dict(out._asdict())
    if isinstance(out, (tuple, list)):
        return {f"output{i}": o for i, o in enumerate(out)}
    raise TypeError(f"the network returned {type(out).__name__}; return a tensor, a tuple or a dict of tensors")


class _Recorder:
    """Preallocated ``[T, ...]`` buffers, created at the first recorded step."""

    def __init__(self, names: Sequence[str], steps: int, spikes_dtype: Optional[torch.dtype],
                 spike_amplitude: Optional[float] = None) -> None:
        self.names = list(names)
        self.spike_amplitude = spike_amplitude
        self.steps = steps
        self.spikes_dtype = spikes_dtype
        self.buf: Dict[str, Tensor] = {}
        self.count: Optional[Tensor] = None

    def put(self, t: int, values: Dict[str, Tensor]) -> None:
        for name in self.names:
            if name == "spike_count":
                s = values["spikes"]
                if self.count is None:
                    self.count = torch.zeros(s.shape, dtype=torch.int64, device=s.device)
                if self.spike_amplitude is None:  # unknown amplitude: count steps with a spike
                    self.count += s.ne(0)
                else:  # spikes are multiples of the amplitude (Poisson counts of a stochastic layer)
                    self.count += torch.round(s / self.spike_amplitude).to(torch.int64)
                continue
            x = values[name]
            if name == "spikes" and self.spikes_dtype is not None:
                x = x.ne(0)
            buf = self.buf.get(name)
            if buf is None:
                dt = self.spikes_dtype if (name == "spikes" and self.spikes_dtype is not None) else x.dtype
                buf = torch.empty((self.steps,) + tuple(x.shape), dtype=dt, device=x.device)
                self.buf[name] = buf
            buf[t].copy_(x)

    def result(self) -> Dict[str, Tensor]:
        out = dict(self.buf)
        if "spike_count" in self.names:
            out["spike_count"] = self.count if self.count is not None else torch.zeros(0, dtype=torch.int64)
        return out


def _layer_step(layer: Any, x: Tensor, n_winners: int, needed: set) -> Dict[str, Tensor]:
    """One step of a neuron layer, computing only the outputs that are needed."""
    if "winners" in needed:
        o = layer.step(x, n_winners=n_winners)
        vals: Dict[str, Tensor] = dict(o._asdict())
    else:
        want_thr = "thresholded" in needed
        want_dudt = "dudt" in needed
        want_ws = "winning_spikes" in needed
        ret = layer(x, return_thresholded_potentials=want_thr, return_dudt=want_dudt, return_winners=False,
                    n_winners=n_winners, return_winning_spikes=want_ws)
        it = iter(ret)
        vals = {"spikes": next(it)}
        if want_thr:
            vals["thresholded"] = next(it)
        vals["potentials"] = next(it)
        if want_dudt:
            vals["dudt"] = next(it)
        if want_ws:
            vals["winning_spikes"] = next(it)
    for name in _STATE_VARS:
        if name in needed:
            state = getattr(layer, name, None)
            if state is None:
                raise KeyError(f"{type(layer).__name__} has no state variable {name!r}")
            vals[name] = state
    if "input" in needed:
        vals["input"] = x
    return vals


def simulate(
    network: Union[sn.Neuron, Callable[..., Any]],
    inputs: InputSpec = None,
    steps: Optional[int] = None,
    *,
    stimulus: Optional[Callable[[int], Tensor]] = None,
    equilibration_steps: int = 0,
    equilibration_input: Union[Tensor, float, None] = None,
    record: Union[str, Sequence[str], None] = ("spikes",),
    n_winners: int = 1,
    reset: bool = False,
    sequence: Optional[bool] = None,
    spikes_dtype: Optional[torch.dtype] = None,
    progress: bool = True,
) -> Dict[str, Tensor]:
    r"""Drive a layer (or a network of layers) for ``steps`` steps and record variables.

    The drive of recorded step :math:`t = 0, \dots, T-1` is

    .. math::
        x_t = \text{inputs}(t) + \text{stimulus}(t)

    where ``inputs`` is a constant tensor, the ``t``-th frame of a sequence, or a
    callable of ``t``. Before the recorded steps, ``equilibration_steps`` steps are
    run and discarded (as spikeometric's ``simulate``), driven by
    ``equilibration_input`` (default: the drive of step 0 held constant; pass
    ``0.0`` to let the network relax without input).

    For a :class:`~spyketorch.neurons.Neuron` layer the recordable variables are
    :data:`LAYER_VARIABLES`: the step outputs (``spikes``, ``potentials``,
    ``thresholded``, ``dudt``, ``winners``, ``winning_spikes``), the state after
    the step (``v``, ``refractory`` in steps, ``w`` / ``adaptation``), the
    ``input`` and ``spike_count`` (number of spikes of each neuron over the
    recorded steps, no time axis: the sum of ``spikes / spike_amplitude``, i.e. the
    Poisson counts of a :class:`~spyketorch.sam.RectifiedSAM`). Only the outputs that
    are recorded are requested from the layer. A ``RectifiedSAM`` (registered in
    :data:`spyketorch.sam.STOCHASTIC_MODELS`) is driven and reset like any layer; it has
    no ``v``/``refractory``/``w`` state to record.

    Any other callable is called as ``network(x)``; what it returns (a tensor,
    a tuple, a named tuple or a dict of tensors) is recordable under the names
    ``output`` / ``output0, output1, ...`` / the field names / the keys. If it is an
    :class:`torch.nn.Module`, the state of each neuron layer inside is recordable
    as ``"<submodule name>.v"``, ``".refractory"`` and ``".w"``; ``spike_count``
    counts a returned ``spikes`` entry.

    Memory grows only with what is recorded: each variable is preallocated once as
    a ``[T, ...]`` tensor on its device and filled step by step; nothing is
    copied to the host.

    Args:
        network: a neuron layer or a callable ``x -> outputs``.
        inputs: constant input (e.g. ``[B, C, H, W]``), a sequence ``[T, B, C, H, W]``
            (a 5-D tensor, or any tensor with ``sequence=True``), a callable
            ``t -> tensor``, or None (then ``stimulus`` alone drives). Default: None.
        steps: number of recorded steps; defaults to the sequence length. Default: None.
        stimulus: callable ``t -> tensor`` added to the input. Default: None.
        equilibration_steps: unrecorded steps before the recording. Default: 0.
        equilibration_input: drive of the equilibration steps (tensor or number;
            None = the drive of step 0). Default: None.
        record: a name, a list of names, or None / ``"all"`` for every returned
            output of a callable (for a layer: spikes and potentials). Default: ``("spikes",)``.
        n_winners: winners per sample given to a neuron layer. Default: 1.
        reset: reset every neuron layer before running (otherwise the run continues
            from the current state, as Rockpool's ``evolve``). Default: False.
        sequence: force a tensor input to be read as a sequence (True) or constant
            (False); None: 5-D tensors are sequences. Default: None.
        spikes_dtype: store recorded ``spikes`` as ``spikes != 0`` in this dtype
            (e.g. ``torch.bool`` to save memory). Default: None (as produced).
        progress: show a tqdm progress bar. Default: True.

    Returns:
        dict mapping each recorded name to a tensor ``[T, ...]`` (``spike_count``:
        the layer shape) on the device of the network's outputs.

    Example:
        >>> layer = sn.LIF(threshold=10.0, ts=1e-4, inhibition_mode="neuron")
        >>> rec = simulate(layer, torch.full((1, 1, 1, 4), 300.0), 1000,
        ...                record=("spikes", "v"), progress=False)
        >>> rec["v"].shape
        torch.Size([1000, 1, 1, 1, 4])
    """
    from tqdm.auto import tqdm

    equilibration_steps = _v.non_negative_int(equilibration_steps, "equilibration_steps")
    n_winners = _v.n_winners(n_winners)
    if spikes_dtype is not None and not isinstance(spikes_dtype, torch.dtype):
        raise TypeError(f"spikes_dtype must be a torch.dtype or None, got {type(spikes_dtype).__name__}")
    if equilibration_input is not None and not isinstance(equilibration_input, Tensor):
        _v.finite_real(equilibration_input, "equilibration_input")
    if record is not None and not isinstance(record, str):
        if not isinstance(record, (list, tuple)) or not all(isinstance(r, str) for r in record):
            raise TypeError(f"record must be a name, a sequence of names, 'all' or None, got {record!r}")
    fn, n = _input_source(inputs, stimulus, steps, sequence)
    is_layer = _is_layer(network)
    if not is_layer and not callable(network):
        raise TypeError(f"network must be a Neuron layer or a callable, got {type(network).__name__}")
    if isinstance(record, str):
        names: Optional[List[str]] = None if record == "all" else [record]
    else:
        names = None if record is None else list(record)
    if names is None and is_layer:
        names = ["spikes", "potentials"]
    if names is not None:
        names = [_ALIASES.get(r, r) for r in names]
        if len(set(names)) != len(names):
            raise ValueError(f"record lists a variable twice: {record!r}")
        if is_layer:
            bad = [r for r in names if r not in LAYER_VARIABLES]
            if bad:
                raise ValueError(f"cannot record {bad} from a neuron layer; choose from {LAYER_VARIABLES}")
            if not isinstance(network, sn.Neuron):
                bad = [r for r in names if r in _STATE_VARS]
                if bad:
                    raise ValueError(f"{type(network).__name__} has no membrane state {bad}; record 'potentials'")
            elif "w" in names and not network.has_second_variable:
                raise ValueError(f"{type(network).__name__} has no adaptation variable w to record")
    layers = _neuron_layers(network)
    if reset:
        _reset_network(network)

    needed = set(names or ())
    if "spike_count" in needed:
        needed.add("spikes")

    def one_step(x: Tensor) -> Dict[str, Any]:
        if is_layer:
            return _layer_step(network, x, n_winners, needed)  # type: ignore[arg-type]
        vals = _outputs_as_dict(network(x))
        for name in needed:
            if name in vals or name == "spike_count":
                continue
            mod, _, var = name.rpartition(".")
            if mod in layers and var in _STATE_VARS:
                vals[name] = getattr(layers[mod], var)
            else:
                raise KeyError(f"{name!r} is neither an output of the network ({sorted(vals)}) "
                               f"nor '<neuron layer>.v|refractory|w' (layers: {sorted(layers)})")
        return vals

    amplitude = _spike_amplitude(network)
    recorder: Optional[_Recorder] = None if names is None else _Recorder(names, n, spikes_dtype, amplitude)
    bar = tqdm(total=equilibration_steps + n, disable=not progress, desc="simulate", leave=False)
    try:
        with torch.no_grad():
            if equilibration_steps:
                if equilibration_input is None:
                    x_eq = fn(0)
                elif isinstance(equilibration_input, Tensor):
                    x_eq = equilibration_input
                else:
                    x_eq = torch.full_like(fn(0), float(equilibration_input))
                for _ in range(equilibration_steps):
                    if is_layer:
                        network(x_eq, return_winners=False, n_winners=n_winners)
                    else:
                        network(x_eq)
                    bar.update(1)
            for t in range(n):
                vals = one_step(fn(t))
                if recorder is None:  # record everything the callable returns
                    keep = [k for k, v in vals.items() if isinstance(v, Tensor)]
                    recorder = _Recorder(keep, n, spikes_dtype, amplitude)
                    if "spike_count" in needed:
                        recorder.names.append("spike_count")
                recorder.put(t, vals)
                bar.update(1)
    finally:
        bar.close()
    if recorder is None:
        return {}
    return recorder.result()


#: Alias of :func:`simulate`.
run = simulate


def firing_rate(spikes: Tensor, ts: float, dim: int = 0) -> Tensor:
    r"""Firing rate in Hz of recorded spikes: :math:`r = n_{spikes} / (T\, t_s)`.

    Args:
        spikes: recorded spikes ``[T, ...]`` (any non-zero value is a spike).
        ts: time step in seconds.
        dim: the time dimension. Default: 0.

    Returns:
        Tensor: rates with ``dim`` removed, float64.

    Example:
        >>> firing_rate(torch.tensor([[1.0], [0.0], [1.0], [0.0]]), ts=0.001)
        tensor([500.], dtype=torch.float64)
    """
    T = spikes.shape[dim]
    return spikes.ne(0).sum(dim=dim).to(torch.float64) / (T * ts)


# ---------------------------------------------------------------------------- f-I curves
class FICurve(NamedTuple):
    """Result of :func:`fi_curve`.

    Attributes:
        currents: the constant inputs, ``[N]`` float64.
        rates: measured rates in Hz, ``[C, N]`` (one row per feature map of the layer;
            ``C = 1`` for homogeneous layers).
        analytic: the analytic LIF rates of :func:`analytic_lif_rate`, ``[C, N]``, or
            None for models without a membrane time constant (Izhikevich).

    Example:
        >>> fi = fi_curve(LIF(threshold=10.0), currents=torch.tensor([0.0, 500.0, 1000.0]), steps=200)
        >>> fi.rates.tolist(), fi.analytic.shape
        ([[0.0, 110.0, 200.0]], torch.Size([1, 3]))
    """

    currents: Tensor
    rates: Tensor
    analytic: Optional[Tensor]


def _n_features(layer: sn.Neuron) -> int:
    """Number of feature maps the layer's per-feature parameters imply (1 if none)."""
    c = 1
    for name in layer.param_names:
        t = layer.param(name)
        if t is None or t.numel() == 1:
            continue
        if t.dim() == 3 and t.shape[1] == 1 and t.shape[2] == 1:
            c = max(c, t.shape[0])
        else:
            raise ValueError(
                f"{name} has shape {tuple(t.shape)}: only scalar or per-feature [C, 1, 1] parameters are supported here")
    return c


def _per_feature(value: Union[float, Tensor], C: int) -> Tensor:
    """A scalar or a ``[C, 1, 1]``/``[C]`` tensor as a float64 ``[C, 1]`` column."""
    t = torch.as_tensor(value, dtype=torch.float64)
    if t.numel() == 1:
        return t.reshape(1, 1).expand(C, 1)
    return t.reshape(-1, 1).expand(C, 1) if t.numel() == C else t.reshape(C, 1)


def lif_rate(current: Union[float, Tensor], tau_rc: Union[float, Tensor], threshold: Union[float, Tensor],
             C: Union[float, Tensor] = 1.0, resting_potential: Union[float, Tensor] = 0.0,
             t_ref: Union[float, Tensor] = 0.0) -> Tensor:
    r"""Analytic firing rate (Hz) of a leaky integrate-and-fire neuron under a constant current.

    With :math:`\tau \dot u = -(u - u_{rest}) + R I`, :math:`R = \tau / C`, reset to
    rest and a refractory period :math:`t_{ref}`:

    .. math::
        r(I) = \begin{cases}
        \left[t_{ref} + \tau \ln\dfrac{R I}{R I - (\vartheta - u_{rest})}\right]^{-1}
            & R I > \vartheta - u_{rest} \\
        0 & \text{otherwise}
        \end{cases}

    ``tau_rc = inf`` gives the perfect integrator (IF):
    :math:`r = [t_{ref} + C (\vartheta - u_{rest}) / I]^{-1}`. A threshold at or
    below rest gives :math:`1/t_{ref}` (infinite without refractoriness).

    Args:
        current: input current(s) :math:`I`.
        tau_rc: membrane time constant :math:`\tau` in seconds (``math.inf`` for IF).
        threshold: firing threshold :math:`\vartheta`.
        C: capacitance (the potential rises by :math:`I/C` per second). Default: 1.0.
        resting_potential: :math:`u_{rest}`. Default: 0.0.
        t_ref: refractory period in seconds. Default: 0.0.

    Returns:
        Tensor: rates in Hz (float64), broadcast over the arguments.

    Example:
        >>> float(lif_rate(250.0, 0.02, 10.0, C=0.281))  # doctest: +ELLIPSIS
        60.5...
    """
    I = torch.as_tensor(current, dtype=torch.float64)
    tau = torch.as_tensor(tau_rc, dtype=torch.float64)
    gap = torch.as_tensor(threshold, dtype=torch.float64) - torch.as_tensor(resting_potential, dtype=torch.float64)
    Cm = torch.as_tensor(C, dtype=torch.float64)
    t_ref = torch.as_tensor(t_ref, dtype=torch.float64)
    I, tau, gap, Cm, t_ref = torch.broadcast_tensors(I, tau, gap, Cm, t_ref)
    leaky = torch.isfinite(tau)
    one = torch.ones_like(I)
    # time to climb from rest to threshold; inf where the neuron never gets there
    drive = torch.where(leaky, tau, one) * I / Cm  # R I of the leaky neuron
    fires_lif = drive > gap
    d = torch.where(fires_lif, drive, gap + 1.0)
    t_lif = torch.where(fires_lif, torch.where(leaky, tau, one) * torch.log(d / (d - gap)), math.inf)
    fires_if = I > 0
    t_if = torch.where(fires_if, Cm * gap / torch.where(fires_if, I, one), math.inf)
    climb = torch.where(leaky, t_lif, t_if)
    climb = torch.where(gap <= 0, torch.zeros_like(climb), climb)  # threshold at or below rest
    return 1.0 / (t_ref + climb)


def _input_gain(layer: sn.Neuron) -> float:
    """d(du/dt)/dI of the layer (per second per unit input), e.g. 1/C or 1/ts."""
    rest = float(torch.as_tensor(scalar_rest(layer)))
    g = layer.ode(rest, 1.0) - layer.ode(rest, 0.0)
    return float(g.reshape(-1)[0])


def analytic_lif_rate(layer: sn.Neuron, currents: Union[Sequence[float], Tensor]) -> Optional[Tensor]:
    r"""The analytic LIF rate (:func:`lif_rate`) with the parameters of ``layer``.

    Uses the layer's :math:`\tau_{rc}` (``inf`` for :class:`~spyketorch.neurons.IF`),
    its threshold, resting potential, refractory period
    :math:`t_{ref} = \text{refractory\_timesteps}\cdot t_s` and its input gain
    :math:`1/C = \partial \dot u / \partial I` (``1/ts`` for the ``_Simple`` models,
    whose input is a potential per step). For a LIF layer this is the rate of the
    same neuron in continuous time; for the nonlinear models it is the LIF with the
    same constants, drawn for comparison. Returns None for Izhikevich layers (no
    membrane time constant).

    Args:
        layer: a neuron layer with a threshold.
        currents: constant inputs ``[N]``.

    Returns:
        Tensor ``[C, N]`` of rates in Hz (one row per feature map), or None.

    Example:
        >>> analytic_lif_rate(sn.LIF(threshold=10.0), [0.0, 250.0]).shape
        torch.Size([1, 2])
    """
    if isinstance(layer, sn.Izhikevich):
        return None
    I = torch.as_tensor(currents, dtype=torch.float64).reshape(1, -1)
    C = _n_features(layer)
    thr = layer.effective_threshold
    if isinstance(thr, float) and math.isinf(thr):
        return torch.zeros(C, I.shape[1], dtype=torch.float64)
    if isinstance(layer, sn.IF) and not isinstance(layer, sn.LIF):  # no leak
        tau: Union[float, Tensor] = math.inf
    else:
        tau_b = layer.param_or_none("tau_rc")
        if tau_b is None:
            return None
        tau = _per_feature(tau_b, C)
    gain = _input_gain(layer)
    rest = _per_feature(layer.param("resting_potential"), C)
    return lif_rate(I, tau, _per_feature(thr, C), C=1.0 / gain, resting_potential=rest,
                    t_ref=layer.refractory_timesteps * layer.ts).expand(C, I.shape[1]).clone()


def rheobase(layer: sn.Neuron, n_points: int = 2001) -> float:
    r"""Smallest constant input for which the potential cannot rest below threshold.

    .. math::
        I_{rh} = \max_{u_{rest} \le u \le \vartheta} \frac{-\dot u(u, I{=}0, w^*(u))}{\partial \dot u / \partial I}

    where :math:`w^*(u)` is the adaptation on its nullcline for two-dimensional
    models (zero otherwise). For LIF this is :math:`C(\vartheta - u_{rest})/\tau`;
    for the regular-spiking Izhikevich neuron about 4.

    Args:
        layer: a neuron layer (scalar parameters; per-feature ones are averaged).
        n_points: grid points between rest and threshold. Default: 2001.

    Returns:
        float: the rheobase current (0 if the layer has no threshold).

    Example:
        >>> round(rheobase(sn.LIF(threshold=10.0)), 2)
        140.5
    """
    layer = single_neuron(layer)
    thr = layer.threshold
    if thr is None:
        return 0.0
    rest = scalar_rest(layer)
    u = torch.linspace(min(rest, thr), max(rest, thr), n_points, dtype=torch.float64)
    w = w_nullcline(layer, u) if layer.has_second_variable else None
    f0 = layer.ode(u, 0.0, w)
    gain = layer.ode(u, 1.0, w) - f0
    return max(0.0, float((-f0 / gain).max()))


def default_current_range(layer: sn.Neuron) -> float:
    r"""Top of the default current axis of f–I curves.

    The larger of four times the :func:`rheobase` and the current whose drive
    alone climbs from rest to threshold in 10 ms,

    .. math::
        I_{top} = \max\left(4 I_{rh},\; \frac{\vartheta - u_{rest}}{0.01\,\mathrm{s} \cdot \partial\dot u/\partial I}\right)

    so that leak-free (IF) and weakly nonlinear (QIF) layers reach some 100 Hz.

    Args:
        layer: a neuron layer.

    Returns:
        float: the current (1.0 if the layer has no threshold).

    Example:
        >>> round(default_current_range(sn.LIF(threshold=10.0)), 1)
        562.0
    """
    single = single_neuron(layer)
    thr = single.threshold
    if thr is None:
        return 1.0
    gap = thr - scalar_rest(single)
    gain = _input_gain(single)
    drive = gap / (0.01 * gain) if gain > 0 and gap > 0 else 0.0
    top = max(4.0 * rheobase(single), drive)
    return top if top > 0 else 1.0


def fi_curve(
    layer: sn.Neuron,
    currents: Union[Sequence[float], Tensor, None] = None,
    *,
    steps: Optional[int] = None,
    equilibration_steps: Optional[int] = None,
    dtype: torch.dtype = torch.float64,
    device: Union[str, torch.device, None] = None,
    progress: bool = False,
) -> FICurve:
    r"""Firing rate of a layer's neurons against a constant input current.

    A reset copy of ``layer`` (the layer itself is not touched) with
    ``inhibition_mode="neuron"`` is driven with one neuron per current laid along
    the width, ``[1, C, 1, N]`` (one row per feature map, so per-feature parameters
    such as the sampled time constants of the ``Uniform*`` layers give one curve
    each). Every neuron is refractory after its own spike for
    ``refractory_timesteps`` steps and nothing else couples them. The rate is

    .. math::
        r(I) = \frac{n_{spikes}(I)}{T\, t_s}

    Args:
        layer: the neuron layer to measure.
        currents: constant inputs ``[N]``; None: 61 values from 0 to
            :func:`default_current_range`. Default: None.
        steps: recorded steps; None: 1 s of simulated time (at most 20000 steps).
            Default: None.
        equilibration_steps: unrecorded steps first, so that transients (the first
            spike from rest, the build-up of adaptation) are left out; None: 0.2 s
            (at most 5000 steps). Default: None.
        dtype: dtype of the simulation. Default: ``torch.float64``.
        device: device of the simulation. Default: None (CPU).
        progress: show a progress bar. Default: False.

    Returns:
        FICurve: ``(currents [N], rates [C, N], analytic [C, N] or None)``.

    Example:
        >>> res = fi_curve(sn.LIF(threshold=10.0, ts=1e-4), [0.0, 250.0, 500.0], steps=2000)
        >>> res.rates.shape
        torch.Size([1, 3])
    """
    C = _n_features(layer)
    if currents is None:
        I = torch.linspace(0.0, default_current_range(layer), 61, dtype=torch.float64)
    else:
        I = torch.as_tensor(currents, dtype=torch.float64).reshape(-1)
    if steps is None:
        steps = min(20000, max(1, int(round(1.0 / layer.ts))))
    if equilibration_steps is None:
        equilibration_steps = min(5000, int(round(0.2 / layer.ts)))
    probe = copy_layer(layer)
    probe.inhibition_mode = "neuron"
    x = I.to(dtype=dtype, device=device).reshape(1, 1, 1, -1).expand(1, C, 1, I.numel()).contiguous()
    rec = simulate(probe, x, steps, equilibration_steps=equilibration_steps, record=("spike_count",),
                   n_winners=0, progress=progress)
    rates = rec["spike_count"][0, :, 0, :].to(torch.float64).cpu() / (steps * layer.ts)
    return FICurve(I, rates, analytic_lif_rate(probe, I))


# ---------------------------------------------------------------------------- tuning
class TuneResult(NamedTuple):
    """Result of :func:`tune_threshold`.

    Attributes:
        threshold: the tuned threshold (float) or per-feature thresholds ``[C, 1, 1]``.
        rate: the rate reached in Hz with the tuned threshold (float, or ``[C]`` per
            feature).
        target: the target rate in Hz.
        iterations: simulations run (bracketing and bisection).
        converged: whether every rate is within ``tol`` (relative) of the target.

    Example:
        >>> res = tune_threshold(LIF(threshold=10.0, inhibition_mode="neuron"), torch.full((1, 1, 2, 2), 800.0),
        ...                      target_rate=50.0, steps=200)
        >>> res.target, res.converged, abs(res.rate - 50.0) <= 0.05 * 50.0
        (50.0, True, True)
    """

    threshold: Union[float, Tensor]
    rate: Union[float, Tensor]
    target: float
    iterations: int
    converged: bool


def tune_threshold(
    layer: sn.Neuron,
    inputs: InputSpec,
    target_rate: float,
    *,
    per_feature: bool = False,
    steps: Optional[int] = None,
    equilibration_steps: int = 0,
    n_winners: int = 1,
    iters: int = 40,
    tol: float = 0.05,
    stimulus: Optional[Callable[[int], Tensor]] = None,
    progress: bool = False,
) -> TuneResult:
    r"""Set the threshold(s) of ``layer`` so that it fires at ``target_rate`` on ``inputs``.

    The mean rate of a layer (or of each feature map) over the neurons and samples,

    .. math::
        r(\vartheta) = \frac{1}{N} \sum_{n} \frac{n_{spikes,n}}{T\, t_s},

    decreases with the threshold :math:`\vartheta`, so the threshold is found by
    bisection between the resting potential (every neuron at rest fires) and a
    threshold high enough to fire below the target (doubled until it is), as
    spikeometric's ``tune`` adjusts its parameters to a target rate. Each
    evaluation resets the layer and runs :func:`simulate` for ``steps`` steps. With
    ``per_feature=True`` one threshold per feature map is searched at once through
    ``per_neuron_thresh`` ``[C, 1, 1]``; maps interact through lateral inhibition,
    so the result is the best jointly evaluated set of thresholds (largest relative
    error over the maps smallest). If the target is above what the input can
    drive at the resting potential, the closest rate found is returned with
    ``converged=False``.

    Args:
        layer: the layer to tune (its threshold is changed and its state reset).
        inputs: as for :func:`simulate` (``[B, C, H, W]`` constant, ``[T, B, C, H, W]``
            sequence, or callable of ``t``).
        target_rate: target rate in Hz (> 0).
        per_feature: one threshold per feature map instead of one for the layer.
            Default: False.
        steps: steps per evaluation; required unless ``inputs`` is a sequence. Default: None.
        equilibration_steps: unrecorded steps before each evaluation. Default: 0.
        n_winners: winners per step. Default: 1.
        iters: maximum bisection steps. Default: 40.
        tol: relative tolerance :math:`|r - r^*| \le \text{tol}\cdot r^*`. Default: 0.05.
        stimulus: optional stimulus added to the input (see :func:`simulate`). Default: None.
        progress: show a progress bar over the evaluations. Default: False.

    Returns:
        TuneResult: ``(threshold, rate, target, iterations, converged)``; the layer
        keeps the tuned threshold (and is reset).

    Example:
        >>> layer = sn.LIF(threshold=10.0, ts=1e-3, inhibition_mode="neuron")
        >>> res = tune_threshold(layer, torch.full((1, 1, 4, 4), 400.0), 50.0, steps=400)
        >>> res.converged
        True
    """
    from tqdm.auto import tqdm

    if not isinstance(layer, sn.Neuron):
        raise TypeError(f"layer must be a spyketorch Neuron layer, got {type(layer).__name__}")
    _v.positive(target_rate, "target_rate")
    tol = _v.positive(tol, "tol")
    iters = _v.non_negative_int(iters, "iters")
    if steps is not None:
        _v.positive_int(steps, "steps")
    if not isinstance(per_feature, bool):
        raise TypeError(f"per_feature must be True or False, got {type(per_feature).__name__}")
    if not per_feature and layer.per_neuron_thresh is not None:
        raise ValueError("layer has per_neuron_thresh set; use per_feature=True or clear it (per_neuron_thresh = None)")
    fn, n = _input_source(inputs, stimulus, steps, None)
    if n == 0:
        raise ValueError("inputs is a sequence of 0 steps: a rate needs at least one step")
    x0 = fn(0)
    C = x0.shape[-3] if x0.dim() >= 3 else 1
    K = C if per_feature else 1
    rest = float(scalar_rest(layer))
    if per_feature:
        pnt = layer.per_neuron_thresh
        start = (_per_feature(pnt, C)[:, 0].clone() if pnt is not None
                 else torch.full((C,), rest + 1.0 if layer.threshold is None else layer.threshold, dtype=torch.float64))
    else:
        start = torch.tensor([rest + 1.0 if layer.threshold is None else layer.threshold], dtype=torch.float64)
    bar = tqdm(total=None, disable=not progress, desc="tune", leave=False)
    evals = 0

    def apply(thr: Tensor) -> None:
        if per_feature:
            layer.per_neuron_thresh = thr.reshape(C, 1, 1).clone()
        else:
            layer.threshold = float(thr[0])

    def rate_of(thr: Tensor) -> Tensor:
        nonlocal evals
        apply(thr)
        layer.reset()
        rec = simulate(layer, inputs, n, stimulus=stimulus, equilibration_steps=equilibration_steps,
                       record=("spike_count",), n_winners=n_winners, progress=False)
        cnt = rec["spike_count"].to(torch.float64).cpu()
        evals += 1
        bar.update(1)
        if per_feature:
            return cnt.transpose(0, 1).reshape(C, -1).mean(dim=1) / (n * layer.ts)
        return cnt.mean().reshape(1) / (n * layer.ts)

    target = float(target_rate)
    best: Optional[Tensor] = None
    best_rate: Optional[Tensor] = None
    best_err = math.inf

    def evaluate(thr: Tensor) -> Tensor:
        # keep the best evaluated *configuration* (features interact through inhibition)
        nonlocal best, best_rate, best_err
        r = rate_of(thr)
        err = float(((r - target).abs() / target).max())
        if err < best_err:
            best, best_rate, best_err = thr.clone(), r.clone(), err
        return r

    lo = torch.full((K,), rest, dtype=torch.float64)
    hi = torch.where(start > rest, start, torch.full_like(start, rest + max(1.0, abs(rest))))
    r_hi = evaluate(hi)
    for _ in range(30):  # grow the upper end until every feature fires at or below the target
        too_fast = r_hi > target
        if not bool(too_fast.any()) or best_err <= tol:
            break
        lo = torch.where(too_fast, hi, lo)
        hi = torch.where(too_fast, rest + 2.0 * (hi - rest), hi)
        r_hi = evaluate(hi)
    for _ in range(iters):
        if best_err <= tol:
            break
        mid = 0.5 * (lo + hi)
        fast = evaluate(mid) > target
        lo = torch.where(fast, mid, lo)
        hi = torch.where(fast, hi, mid)
        if per_feature:
            # maps are coupled by inhibition, so a bracket found with other thresholds
            # may stop holding; reopen a collapsed bracket on the side the rate points to
            shut = (hi - lo) <= 1e-4 * (hi - rest).abs()
            hi = torch.where(shut & fast, rest + 1.5 * (hi - rest), hi)
            lo = torch.where(shut & ~fast, rest + (lo - rest) / 1.5, lo)
    bar.close()
    assert best is not None and best_rate is not None
    apply(best)
    layer.reset()
    converged = best_err <= tol
    if per_feature:
        return TuneResult(best.reshape(C, 1, 1).clone(), best_rate, target, evals, converged)
    return TuneResult(float(best[0]), float(best_rate[0]), target, evals, converged)


# ---------------------------------------------------------------------------- save / load
_FORMAT = "spyketorch.neuron_layer"
_VERSION = 1


def save_layer(layer: Union[sn.Neuron, RectifiedSAM], path: Union[str, os.PathLike],
               include_state: bool = False) -> None:
    r"""Save a neuron layer: its class, parameters (per-neuron tensors included) and settings.

    The file holds the class name, ``layer.state_dict()`` (every parameter buffer
    and the settings ``threshold``, ``ts``, ``refractory_timesteps``,
    ``inhibition_mode``, ``clamp_at_rest``), the attributes a constructor would
    otherwise set (``tau_range`` and the random generator's state of the
    ``Uniform*`` layers, ``check_finite``) and, with ``include_state=True``, the
    state of :meth:`~spyketorch.neurons.Neuron.get_state` (``v``, ``refractory``,
    ``w``). :func:`load_layer` rebuilds it without the constructor's arguments.
    Stochastic layers registered in :data:`spyketorch.sam.STOCHASTIC_MODELS`
    (:class:`~spyketorch.sam.RectifiedSAM`) are saved in the same file format from
    their own payload (parameters, generator and, with ``include_state``, activation).

    Args:
        layer: the layer to save.
        path: file path (``torch.save`` format).
        include_state: also store the membrane state. Default: False.

    Returns:
        None

    Example:
        >>> import os, tempfile
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.rand(1, 2, 3, 3, generator=g) * 3000
        >>> layer = sn.AdEx(threshold=10.0)
        >>> _ = layer.step(x)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     save_layer(layer, os.path.join(tmp, "adex.pt"), include_state=True)
        ...     clone = load_layer(os.path.join(tmp, "adex.pt"))
        >>> type(clone).__name__, sorted(clone.get_state())
        ('AdEx', ['refractory', 'v', 'w'])
        >>> torch.equal(clone.step(x).potentials, layer.step(x).potentials)  # continues identically
        True
    """
    cls = type(layer)
    stochastic = STOCHASTIC_MODELS.get(cls.__name__)
    if stochastic is not None and stochastic.cls is cls:  # a registered stochastic layer saves its own payload
        torch.save({"format": _FORMAT, "version": _VERSION, "class": cls.__name__,
                    "layer": layer.to_payload(include_state)}, os.fspath(path))
        return
    if not isinstance(layer, sn.Neuron):
        raise TypeError(f"layer must be a spyketorch Neuron or a layer of spyketorch.sam.STOCHASTIC_MODELS, "
                        f"got {type(layer).__name__}")
    if cls.__name__ not in sn.MODELS or sn.MODELS[cls.__name__].cls is not cls:
        raise TypeError(f"{cls.__name__} is not a layer class of spyketorch.neurons; it cannot be reloaded by name")
    attrs: Dict[str, Any] = {"check_finite": layer.check_finite}
    if isinstance(layer, sn.HeterogeneousNeuron):
        attrs["tau_range"] = tuple(float(v) for v in layer.tau_range)
        gen = layer.generator
        attrs["generator_state"] = None if gen is None else gen.get_state()
    if isinstance(layer, sn.Izhikevich):
        attrs["rest_given"] = layer.rest_given
    sd = {k: (v.detach().cpu().clone() if isinstance(v, Tensor) else copy.deepcopy(v))
          for k, v in layer.state_dict().items()}
    payload: Dict[str, Any] = {
        "format": _FORMAT,
        "version": _VERSION,
        "class": cls.__name__,
        "state_dict": sd,
        "attrs": attrs,
        "state": None,
    }
    if include_state:
        payload["state"] = {k: (None if v is None else v.detach().cpu()) for k, v in layer.get_state().items()}
    torch.save(payload, os.fspath(path))


def load_layer(path: Union[str, os.PathLike],
               map_location: Union[str, torch.device, None] = "cpu") -> Union[sn.Neuron, RectifiedSAM]:
    r"""Load a layer saved by :func:`save_layer` (in this or any other process).

    The layer is built from its class with placeholder arguments and then takes
    every saved parameter and setting from the file; the saved state, if any, is
    restored on ``map_location``. The next steps are bit-identical to those the
    saved layer would have made.

    Args:
        path: file written by :func:`save_layer`.
        map_location: device for the parameters and the state. Default: ``"cpu"``.

    Returns:
        Neuron: the rebuilt layer.

    Raises:
        ValueError: naming the file and what is wrong with it: not readable by
            ``torch.load`` (empty, truncated, random bytes, text), not a layer file, a
            newer format, an unknown class, a missing entry, or parameters or a state
            that the layer refuses (e.g. a NaN state, a negative ``tau_rc``, ``C=0``).
        FileNotFoundError: there is no file at ``path``.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "layer.pt")
        >>> save_layer(sn.UniformLIF(threshold=10.0, tau_range=(0.01, 0.05), seed=0), path)
        >>> load_layer(path).tau_range
        (0.01, 0.05)
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path must be a file path, got {type(path).__name__}")
    try:
        payload = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise  # no file to read: the OS error names it
    except Exception as exc:  # truncated, empty, random or text: torch/pickle/zip/OS errors of many types
        raise ValueError(f"{path} is not a readable spyketorch layer file (torch.load failed: "
                         f"{type(exc).__name__}: {_one_line(exc)})") from None
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise ValueError(f"{path} is not a spyketorch layer file")
    version = payload.get("version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValueError(f"{path} has an invalid format version {version!r}")
    if version > _VERSION:
        raise ValueError(f"{path} has format version {version}, newer than this spyketorch ({_VERSION})")
    if "class" not in payload:
        raise ValueError(f"{path} names no layer class (missing key 'class')")
    name = payload["class"]
    if not isinstance(name, str) or (name not in sn.MODELS and name not in STOCHASTIC_MODELS):
        raise ValueError(f"unknown neuron class {name!r} in {path}: not one of spyketorch.neurons.MODELS "
                         f"or spyketorch.sam.STOCHASTIC_MODELS")
    try:
        return _layer_from_payload(payload, name, path, map_location)
    except (KeyError, IndexError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        what = f"missing entry {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {_one_line(exc)}"
        raise ValueError(f"{path} does not hold a valid {name} layer ({what})") from None


def _one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line, at most 300 characters."""
    text = " ".join(str(exc).split())
    return (text[:297] + "...") if len(text) > 300 else (text or "no message")


def _layer_from_payload(payload: Dict[str, Any], name: Any, path: Any,
                        map_location: Union[str, torch.device, None]) -> Union[sn.Neuron, RectifiedSAM]:
    """Rebuild the layer of a checked file payload (errors are reported by :func:`load_layer`)."""
    stochastic = STOCHASTIC_MODELS.get(name)
    if stochastic is not None:
        return stochastic.cls.from_payload(payload["layer"], map_location)
    cls = sn.MODELS[name].cls
    attrs = payload.get("attrs", {})
    if not isinstance(attrs, dict):
        raise TypeError(f"attrs must be a dict, got {type(attrs).__name__}")
    sd = payload["state_dict"]
    if not isinstance(sd, dict):
        raise TypeError(f"state_dict must be a dict, got {type(sd).__name__}")
    kwargs: Dict[str, Any] = {}
    if issubclass(cls, sn.HeterogeneousNeuron):
        kwargs["tau_range"] = attrs["tau_range"]
    layer = cls(threshold=1.0, **kwargs)
    layer.load_state_dict(sd, strict=True)
    layer.check_finite = attrs.get("check_finite")
    if isinstance(layer, sn.HeterogeneousNeuron):
        gs = attrs.get("generator_state")
        layer.generator = None if gs is None else torch.Generator().set_state(gs)
    if "rest_given" in attrs:
        layer.rest_given = attrs["rest_given"]
    if map_location is not None:
        layer.to(map_location)
    state = payload.get("state")
    if state is not None:
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict, got {type(state).__name__}")
        if map_location is not None:
            state = {k: (v.to(map_location) if isinstance(v, Tensor) else v) for k, v in state.items()}
        layer.load_state(state)
    return layer

