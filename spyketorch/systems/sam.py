r"""The rectified synaptic-activation model (SAM) as a stepped neuron layer.

A linear-nonlinear-Poisson neuron whose state is a synaptic *activation* ``s``
(a low-pass filtered spike count) instead of a membrane potential. Each step the
layer receives the potentials of a convolution ``x`` (the synaptic input, e.g. a
convolution of the previous step's activations) and computes

.. math::
    g &= r\,x + b + \mathcal{E}(t) \\
    \mu &= \lambda_0\,\Delta t\,[g - \theta]_+ \\
    X &\sim \operatorname{Poisson}(\mu) \\
    s &\leftarrow s\,(1 - \Delta t/\tau) + X\,\Delta t

where :math:`\mathcal{E}(t)` is an optional stimulus (a function of the step
index), :math:`\mu` the expected spike count of the step and :math:`X` the
sampled count. The expected rate is :math:`\mu/\Delta t` Hz and is differentiable
in :math:`r, b, \theta, \lambda_0`, which :meth:`RectifiedSAM.tune` uses to fit a
target firing rate by gradient descent.

Example:
    >>> from spyketorch.systems.sam import SAM_TUNABLE, STOCHASTIC_MODELS, RectifiedSAM
    >>> SAM_TUNABLE, sorted(STOCHASTIC_MODELS)
    (('r', 'b', 'theta', 'lambda_0'), ['RectifiedSAM'])
    >>> layer = RectifiedSAM(lambda_0=100.0, seed=0)
    >>> out = layer.step(torch.ones(1, 2, 3, 3))  # counts and the activation s, as a StepOutput
    >>> out.spikes.shape, out.potentials.shape
    (torch.Size([1, 2, 3, 3]), torch.Size([1, 2, 3, 3]))
"""
from __future__ import annotations

import math
import os
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from .._random import check_generator_seed, generator_on
from ..neurons import ModelSpec, StepOutput
from ..neurons.runner import check_input

__all__ = ["RectifiedSAM", "SAMTuneResult", "SAM_TUNABLE", "STOCHASTIC_MODELS", "tune_sam"]

#: Parameters of :class:`RectifiedSAM` that :meth:`RectifiedSAM.tune` can fit.
SAM_TUNABLE = ("r", "b", "theta", "lambda_0")

Stimulus = Callable[[int], Union[Tensor, float]]
InputSpec = Union[Tensor, Callable[[int], Tensor]]


def _real_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def _param_tensor(name: str, value: Any) -> Tensor:
    """A float64 tensor of a scalar or a tensor broadcastable to one sample ``[C, H, W]``."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a real number or a tensor, got bool")
    if isinstance(value, Tensor):
        if not (value.is_floating_point() or value.dtype in (torch.int8, torch.int16, torch.int32, torch.int64,
                                                             torch.uint8)):
            raise TypeError(f"{name} must be a real tensor, got dtype {value.dtype}")
        t = value.detach().to(torch.float64).clone()
    elif isinstance(value, (int, float)):
        t = torch.tensor(float(value), dtype=torch.float64)
    else:
        raise TypeError(f"{name} must be a real number or a tensor, got {type(value).__name__}")
    if t.dim() > 3:
        raise ValueError(f"{name} must broadcast against one sample [C, H, W], got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} must be finite")
    return t


class SAMTuneResult(NamedTuple):
    """Result of :meth:`RectifiedSAM.tune`.

    Attributes:
        rate: expected rate (Hz) of the last epoch, mean over neurons and samples.
        target: the target rate (Hz).
        losses: relative squared error :math:`((\\bar r - r^*)/r^*)^2` of every epoch ``[epochs]``.
        epochs: epochs run.
        converged: whether the last relative error is within ``tol``.

    Example:
        >>> res = RectifiedSAM(seed=0).tune(torch.ones(2, 4, 3, 3), 20.0, steps=20, epochs=5)
        >>> res.target, res.epochs, res.losses.shape
        (20.0, 5, torch.Size([5]))
    """

    rate: float
    target: float
    losses: Tensor
    epochs: int
    converged: bool


class RectifiedSAM(nn.Module):
    r"""Rectified synaptic-activation neurons with Poisson spike counts, stepped one time step at a time.

    .. math::
        g = r\,x + b + \mathcal{E}(t), \qquad
        \mu = \lambda_0 \Delta t\, [g - \theta]_+, \qquad
        X \sim \operatorname{Poisson}(\mu), \qquad
        s \leftarrow s\,(1 - \Delta t/\tau) + X \Delta t

    ``x`` are the convolution potentials of the step ``[B, C, H, W]`` (the synaptic
    input :math:`\sum_j W_{ji} s_j`; a recurrent network convolves the layer's own
    activation :attr:`s` to make it). The layer follows the step contract of the
    other neuron layers:

    * :meth:`step` returns a :class:`~spyketorch.neurons.StepOutput` whose
      ``spikes`` are the sampled counts :math:`X` (0, 1, 2, ...; not scaled by
      ``1/ts``), ``potentials`` the activation :math:`s` after the step (the state
      the next convolution reads), ``thresholded`` the drive :math:`g` of the
      neurons that spiked (0 elsewhere), ``dudt`` the change of :math:`s`,
      ``winners`` the ``k`` spiking neurons with the largest drive :math:`g` per
      sample, at most one per feature map (``-1`` rows where fewer spiked; ties to
      the lowest feature), and ``winning_spikes`` the winners' counts.
    * ``layer(x, ...)`` returns the reference tuple ``spikes, [thresholded,]
      potentials, [dudt,] [winners,] [winning_spikes]`` as a named tuple, so that
      :func:`spyketorch.simulate` records its fields by name.

    The SAM has no membrane to clamp, so winners do not put other neurons into
    refractoriness; they are reported for learning rules. The drive :math:`g` and
    the expected count :math:`\mu` of the last step are kept as :attr:`g` and
    :attr:`mu`.

    With :func:`spyketorch.simulate`: ``simulate(layer, x, T, record=("spikes",
    "potentials"), equilibration_steps=..., stimulus=f)`` records the fields of the
    named tuple; ``simulate(layer.step, ...)`` also records ``winners`` without a
    host sync. ``simulate(..., reset=True)`` calls :meth:`reset`, and its
    ``spike_count`` sums the Poisson counts (``spikes / spike_amplitude`` with
    :attr:`spike_amplitude` = 1). The stimulus of ``simulate`` is added to
    ``x`` (scaled by :math:`r`); the layer's own ``stimulus`` is :math:`\mathcal{E}(t)`.
    The layer is registered in :data:`STOCHASTIC_MODELS`, so
    :func:`spyketorch.save_layer` / :func:`spyketorch.load_layer` save and rebuild
    it like the :mod:`spyketorch.neurons` layers (as do :meth:`save` / :meth:`load`).

    Sampling draws from a ``torch.Generator`` on the input's device: pass one
    (``generator=``), or a ``seed`` from which one is made on first use. State
    (:attr:`s`, :attr:`g`, :attr:`mu`) is created on the input's device and dtype;
    the step never synchronises with the host.

    Args:
        lambda_0: gain of the rectification :math:`\lambda_0` (Hz per unit of
            drive, >= 0). Default: 1.0.
        theta: threshold of the rectification :math:`\theta`. Default: 0.0.
        tau: time constant of the activation :math:`\tau` (s, >= dt). Default: 0.01.
        dt: time step :math:`\Delta t` (s). Default: 0.001.
        r: scaling of the synaptic input :math:`r`. Default: 1.0.
        b: background input :math:`b` (scalar, or a tensor broadcasting to
            ``[C, H, W]`` for one value per map or neuron). Default: 0.0.
        stimulus: optional :math:`\mathcal{E}(t)`, a callable of the step index
            returning a number or a tensor broadcasting to the input. Default: None.
        generator: random generator for the Poisson counts. Default: None.
        seed: seed of the generator made on first use when ``generator`` is None
            (None: a nondeterministic seed). Default: None.
        rng: spikeometric's name of ``generator`` (give one of the two). Default: None.

    Shape:
        input ``[B, C, H, W]``; every output ``[B, C, H, W]`` except ``winners`` ``[B, K, 3]``,
        ``K = min(n_winners, C)``.

    Example:
        >>> layer = RectifiedSAM(lambda_0=100.0, theta=0.0, tau=0.01, dt=0.001, b=2.0, seed=0)
        >>> out = layer.step(torch.zeros(2, 3, 4, 4))
        >>> round(float(layer.mu[0, 0, 0, 0]), 6)  # 100 Hz/unit * 1 ms * [2 - 0]+
        0.2
        >>> out.spikes.shape, out.winners.shape
        (torch.Size([2, 3, 4, 4]), torch.Size([2, 1, 3]))
    """

    def __init__(
        self,
        lambda_0: float = 1.0,
        theta: Union[float, Tensor] = 0.0,
        tau: float = 0.01,
        dt: float = 0.001,
        r: Union[float, Tensor] = 1.0,
        b: Union[float, Tensor] = 0.0,
        *,
        stimulus: Optional[Stimulus] = None,
        generator: Optional[torch.Generator] = None,
        seed: Optional[int] = None,
        rng: Optional[torch.Generator] = None,
    ) -> None:
        super().__init__()
        if rng is not None:  # spikeometric's name of the generator
            if generator is not None:
                raise TypeError("give either generator or its spikeometric name rng, not both")
            if not isinstance(rng, torch.Generator):
                raise TypeError(f"rng must be a torch.Generator, got {type(rng).__name__}")
            generator = rng
        dt_f = _real_number("dt", dt)
        tau_f = _real_number("tau", tau)
        if dt_f <= 0:
            raise ValueError(f"dt must be > 0, got {dt!r}")
        if tau_f < dt_f:
            raise ValueError(f"tau must be >= dt (the decay factor 1 - dt/tau must not be negative), got tau={tau!r}, dt={dt!r}")
        self.dt = dt_f
        self.tau = tau_f
        lam = _param_tensor("lambda_0", lambda_0)
        if bool((lam < 0).any()):
            raise ValueError(f"lambda_0 must be >= 0, got {lambda_0!r}")
        for name, value in (("lambda_0", lam), ("theta", _param_tensor("theta", theta)),
                            ("r", _param_tensor("r", r)), ("b", _param_tensor("b", b))):
            self.register_parameter(name, nn.Parameter(value, requires_grad=False))
        if stimulus is not None and not callable(stimulus):
            raise TypeError("stimulus must be a callable t -> tensor or number")
        self.stimulus = stimulus
        check_generator_seed(generator, seed)
        self.generator = generator
        self.seed = seed
        self.t = 0
        for name in ("s", "g", "mu"):
            self.register_buffer(name, None, persistent=False)

    @property
    def spike_amplitude(self) -> float:
        """Amplitude of one spike in :attr:`StepOutput.spikes`: 1 (the outputs are counts)."""
        return 1.0

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget the activation and restart the stimulus clock at ``t = 0`` (the generator keeps its state)."""
        self.s = None
        self.g = None
        self.mu = None
        self.t = 0

    def get_state(self) -> Dict[str, Any]:
        """The state: activation ``s`` (cloned), step index ``t`` and the generator state."""
        gen = self.generator
        return {"s": None if self.s is None else self.s.clone(), "t": self.t,
                "generator": None if gen is None else gen.get_state()}

    def load_state(self, state: Dict[str, Any]) -> None:
        """Restore a state returned by :meth:`get_state`."""
        s = state.get("s")
        if s is not None and (not isinstance(s, Tensor) or s.dim() != 4):
            raise ValueError("state['s'] must be a [B, C, H, W] tensor or None")
        self.s = None if s is None else s.clone()
        self.g = None
        self.mu = None
        self.t = int(state.get("t", 0))
        gs = state.get("generator")
        if gs is not None:
            dev = s.device if s is not None else torch.device("cpu")
            self.generator = torch.Generator(device=dev).set_state(gs)

    def save(self, path: Union[str, os.PathLike], include_state: bool = False) -> None:
        """Save settings, parameters and optionally the state to ``path`` (``torch.save`` format).

        The stimulus callable is not saved; pass it again to :meth:`load`.
        """
        torch.save(self.to_payload(include_state), os.fspath(path))

    def to_payload(self, include_state: bool = False) -> Dict[str, Any]:
        """The content :meth:`save` writes: settings, parameters (on the CPU) and optionally the state."""
        payload: Dict[str, Any] = {
            "format": "spyketorch.RectifiedSAM", "version": 1,
            "settings": {"dt": self.dt, "tau": self.tau, "seed": self.seed},
            "parameters": {k: v.detach().cpu().clone() for k, v in self.named_parameters()},
            "state": None,
        }
        if include_state:
            st = self.get_state()
            st["s"] = None if st["s"] is None else st["s"].cpu()
            payload["state"] = st
        return payload

    @classmethod
    def load(cls, path: Union[str, os.PathLike], map_location: Union[str, torch.device, None] = "cpu",
             stimulus: Optional[Stimulus] = None) -> "RectifiedSAM":
        """Rebuild a layer written by :meth:`save`; the next steps equal those of the saved layer."""
        payload = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
        if not isinstance(payload, dict) or payload.get("format") != "spyketorch.RectifiedSAM":
            raise ValueError(f"{path} is not a RectifiedSAM file")
        return cls.from_payload(payload, map_location, stimulus)

    @classmethod
    def from_payload(cls, payload: Dict[str, Any], map_location: Union[str, torch.device, None] = "cpu",
                     stimulus: Optional[Stimulus] = None) -> "RectifiedSAM":
        """Rebuild a layer from the content of :meth:`to_payload` on ``map_location``."""
        if not isinstance(payload, dict) or payload.get("format") != "spyketorch.RectifiedSAM":
            raise ValueError("payload is not a RectifiedSAM payload")
        st = payload["settings"]
        p = payload["parameters"]
        layer = cls(lambda_0=p["lambda_0"], theta=p["theta"], tau=st["tau"], dt=st["dt"], r=p["r"], b=p["b"],
                    stimulus=stimulus, seed=st["seed"])
        if map_location is not None:
            layer.to(map_location)
        state = payload.get("state")
        if state is not None:
            if state["s"] is not None and map_location is not None:
                state = dict(state, s=state["s"].to(map_location))
            layer.load_state(state)
        return layer

    # ------------------------------------------------------------------ the step
    def _check_input(self, x: Any) -> None:
        check_input(x)
        if x.device.type == "cpu" and not math.isfinite(float(x.sum())) and not bool(torch.isfinite(x).all()):
            raise ValueError("potentials contain NaN or inf")

    def _generator_for(self, device: torch.device) -> torch.Generator:
        self.generator = generator_on(self.generator, self.seed, device)
        return self.generator

    def _stimulus(self, t: int, x: Tensor) -> Union[Tensor, float]:
        if self.stimulus is None:
            return 0.0
        e = self.stimulus(t)
        return e.to(device=x.device, dtype=x.dtype) if isinstance(e, Tensor) else float(e)

    def drive(self, potentials: Tensor, t: Optional[int] = None) -> Tensor:
        r"""The drive :math:`g = r x + b + \mathcal{E}(t)` (differentiable in ``r`` and ``b``).

        Args:
            potentials: synaptic input ``[B, C, H, W]``.
            t: step index of the stimulus; None: the layer's clock. Default: None.
        """
        x = potentials
        dt = x.dtype
        return (self.r.to(dt) * x + self.b.to(dt)) + self._stimulus(self.t if t is None else t, x)

    def expected_count(self, potentials: Tensor, t: Optional[int] = None) -> Tensor:
        r"""Expected spike count of a step, :math:`\mu = \lambda_0 \Delta t [g - \theta]_+`.

        Differentiable in ``r``, ``b``, ``theta`` and ``lambda_0``; the rate in Hz is
        ``mu / dt``.

        Example:
            >>> layer = RectifiedSAM(lambda_0=50.0, theta=1.0, dt=0.002, b=3.0)
            >>> layer.expected_count(torch.zeros(1, 1, 1, 2))
            tensor([[[[0.2000, 0.2000]]]])
        """
        g = self.drive(potentials, t)
        return self._mu(g)

    def _mu(self, g: Tensor) -> Tensor:
        dt = g.dtype
        return torch.relu(g - self.theta.to(dt)) * (self.lambda_0.to(dt) * self.dt)

    def _advance(self, x: Tensor, k: int) -> StepOutput:
        self._check_input(x)
        if isinstance(k, bool) or not isinstance(k, int):
            raise TypeError(f"n_winners must be an int, got {type(k).__name__}")
        if k < 0:
            raise ValueError(f"n_winners must be >= 0, got {k}")
        s = self.s
        if s is None:
            s = torch.zeros_like(x)
        elif s.shape != x.shape:
            raise ValueError(f"potentials changed shape from {tuple(s.shape)} to {tuple(x.shape)}; call reset() first")
        elif s.device != x.device or s.dtype != x.dtype:
            raise ValueError(f"potentials moved from {s.device}/{s.dtype} to {x.device}/{x.dtype}; call reset() first")
        gen = self._generator_for(x.device)
        with torch.no_grad():
            g = self.drive(x)
            mu = self._mu(g)
            counts = torch.poisson(mu, generator=gen)
            s_new = s * (1.0 - self.dt / self.tau) + counts * self.dt
        fired = counts > 0
        thresholded = g * fired
        winners, ws = self._winners(g, fired, counts, k)
        self.s, self.g, self.mu = s_new, g, mu
        self.t += 1
        return StepOutput(counts, s_new, thresholded, s_new - s, winners, ws)

    @staticmethod
    def _winners(g: Tensor, fired: Tensor, counts: Tensor, k: int) -> Tuple[Tensor, Tensor]:
        """Up to ``k`` spiking neurons per sample with the largest drive, one per map."""
        B, C, H, W = g.shape
        kk = min(k, C)
        ws = torch.zeros_like(counts)
        if kk == 0 or H * W == 0:
            return torch.full((B, kk, 3), -1, dtype=torch.long, device=g.device), ws
        score = torch.where(fired, g, torch.full_like(g, -math.inf)).reshape(B, C, H * W)
        best, loc_all = score.max(dim=2)  # [B, C]
        order = torch.sort(best, dim=1, descending=True, stable=True).indices[:, :kk]  # ties: lowest map
        topv = torch.gather(best, 1, order)
        loc = torch.gather(loc_all, 1, order)
        valid = topv > -math.inf
        winners = torch.stack((order, torch.div(loc, W, rounding_mode="floor"), loc.remainder(W)), dim=2)
        winners = torch.where(valid.unsqueeze(2), winners, -1)
        flat = (order * (H * W) + loc)
        vals = torch.gather(counts.reshape(B, -1), 1, flat) * valid
        ws.reshape(B, -1).scatter_(1, flat, vals)
        return winners, ws

    def step(self, potentials: Tensor, n_winners: int = 1) -> StepOutput:
        """Advance one step; every output as tensors on the input's device (no host sync).

        Args:
            potentials: synaptic input ``[B, C, H, W]`` (floating dtype).
            n_winners: winners ``k`` per sample. Default: 1.

        Returns:
            StepOutput: ``(spikes, potentials, thresholded, dudt, winners, winning_spikes)``
            with the meanings given in the class docstring.

        Example:
            >>> layer = RectifiedSAM(lambda_0=1000.0, dt=0.001, b=5.0, seed=1)
            >>> out = layer.step(torch.zeros(1, 2, 3, 3), n_winners=2)
            >>> torch.equal(out.potentials, out.spikes * 0.001)  # s = 0 * (1 - dt/tau) + X dt
            True
        """
        return self._advance(potentials, n_winners)

    def forward(
        self,
        potentials: Tensor,
        return_thresholded_potentials: bool = False,
        return_dudt: bool = False,
        return_winners: bool = True,
        n_winners: int = 1,
        return_winning_spikes: bool = False,
    ) -> Tuple[Any, ...]:
        """Advance one step; returns ``spikes, [thresholded,] potentials, [dudt,] [winners,] [winning_spikes]``.

        The tuple is a named tuple (fields ``spikes``, ``thresholded``, ``potentials``,
        ``dudt``, ``winners``, ``winning_spikes``, those requested), so
        :func:`spyketorch.simulate` records it by name. ``winners`` is the reference's
        list of ``(feature, row, col)`` for a batch of one (one list per sample
        otherwise), which costs one host sync; :meth:`step` stays on the device.

        Example:
            >>> layer = RectifiedSAM(lambda_0=1000.0, dt=0.001, b=5.0, seed=0)
            >>> spikes, potentials, winners = layer(torch.zeros(1, 2, 3, 3))
            >>> len(winners)
            1
        """
        out = self._advance(potentials, n_winners)
        names: List[str] = ["spikes"]
        vals: List[Any] = [out.spikes]
        if return_thresholded_potentials:
            names.append("thresholded")
            vals.append(out.thresholded)
        names.append("potentials")
        vals.append(out.potentials)
        if return_dudt:
            names.append("dudt")
            vals.append(out.dudt)
        if return_winners:
            names.append("winners")
            rows = out.winners.tolist()
            lists = [[tuple(w) for w in sample if w[0] >= 0] for sample in rows]
            vals.append(lists[0] if len(lists) == 1 else lists)
        if return_winning_spikes:
            names.append("winning_spikes")
            vals.append(out.winning_spikes)
        return _result_type(tuple(names))(*vals)

    def extra_repr(self) -> str:
        def show(p: Tensor) -> str:
            return f"{float(p):g}" if p.numel() == 1 else f"tensor{tuple(p.shape)}"
        return (f"lambda_0={show(self.lambda_0)}, theta={show(self.theta)}, tau={self.tau:g}, dt={self.dt:g}, "
                f"r={show(self.r)}, b={show(self.b)}")

    # ------------------------------------------------------------------ tuning
    def tune(self, inputs: InputSpec, target_rate: float, **kwargs: Any) -> SAMTuneResult:
        """Fit parameters so that the layer fires at ``target_rate`` Hz: :func:`tune_sam` (its
        arguments and example)."""
        return tune_sam(self, inputs, target_rate, **kwargs)


def tune_sam(
    layer: RectifiedSAM,
    inputs: InputSpec,
    target_rate: float,
    *,
    parameters: Union[str, Sequence[str]] = ("b",),
    steps: int = 100,
    epochs: int = 100,
    lr: float = 0.1,
    recurrent: Optional[Callable[[Tensor], Tensor]] = None,
    equilibration_steps: int = 0,
    tol: float = 0.01,
    progress: bool = False,
) -> SAMTuneResult:
    r"""Fit ``parameters`` of ``layer`` by gradient descent so that it fires at ``target_rate`` Hz.

    Each epoch resets the layer and runs ``steps`` steps (after
    ``equilibration_steps`` unrecorded ones); the counts are sampled as in
    :meth:`RectifiedSAM.step` and drive the activation, while the expected rate of the epoch

    .. math::
        \bar r = \frac{1}{T N} \sum_{t, n} \frac{\mu_{t,n}}{\Delta t}

    stays differentiable in the tuned parameters. Adam minimises
    :math:`((\bar r - r^*)/r^*)^2`. The synaptic input of step ``t`` is
    ``inputs(t)`` plus, if given, ``recurrent(s)`` of the previous activation
    (e.g. a convolution of ``s``: a recurrent SAM network). The rectification
    has no gradient where :math:`g < \theta`: start from parameters at which
    some neurons fire, or the tuning cannot move (it then ends unconverged).

    Args:
        inputs: constant input ``[B, C, H, W]``, a sequence ``[T, B, C, H, W]`` or a
            callable ``t -> [B, C, H, W]``.
        target_rate: target rate in Hz (> 0).
        parameters: names among :data:`SAM_TUNABLE`, or ``"all"``. Default: ``("b",)``.
        steps: steps per epoch. Default: 100.
        epochs: maximum epochs. Default: 100.
        lr: Adam learning rate. Default: 0.1.
        recurrent: map from the activation ``s`` to synaptic input. Default: None.
        equilibration_steps: unrecorded steps before each epoch. Default: 0.
        tol: stop when :math:`|\bar r - r^*| \le \text{tol}\, r^*`. Default: 0.01.
        progress: show a progress bar. Default: False.

    Returns:
        SAMTuneResult: ``(rate, target, losses, epochs, converged)``. The layer keeps
        the tuned parameters (gradients off again) and is reset.

    Example:
        >>> layer = RectifiedSAM(lambda_0=10.0, theta=0.0, dt=0.001, b=1.0, seed=0)
        >>> res = layer.tune(torch.zeros(1, 1, 2, 2), 30.0, steps=10, epochs=300, lr=0.05)
        >>> res.converged, round(float(layer.b), 1)  # rate = lambda_0 * b
        (True, 3.0)
    """
    from tqdm.auto import tqdm

    if not (isinstance(target_rate, (int, float)) and not isinstance(target_rate, bool)
            and math.isfinite(target_rate) and target_rate > 0):
        raise ValueError(f"target_rate must be a positive number of Hz, got {target_rate!r}")
    names = list(SAM_TUNABLE) if parameters == "all" else ([parameters] if isinstance(parameters, str)
                                                            else list(parameters))
    bad = [n for n in names if n not in SAM_TUNABLE]
    if bad or not names:
        raise ValueError(f"parameters must be 'all' or names among {SAM_TUNABLE}, got {parameters!r}")
    for name, value in (("steps", steps), ("epochs", epochs)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if isinstance(equilibration_steps, bool) or not isinstance(equilibration_steps, int) or equilibration_steps < 0:
        raise ValueError(f"equilibration_steps must be a non-negative int, got {equilibration_steps!r}")
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise ValueError(f"lr must be > 0, got {lr!r}")
    if isinstance(inputs, Tensor):
        if inputs.dim() == 5:
            if inputs.shape[0] < equilibration_steps + steps:
                raise ValueError(f"inputs has {inputs.shape[0]} steps, fewer than "
                                 f"equilibration_steps + steps = {equilibration_steps + steps}")
            seq = inputs
            fn: Callable[[int], Tensor] = lambda t: seq[t]  # noqa: E731
        else:
            const = inputs
            fn = lambda t: const  # noqa: E731
    elif callable(inputs):
        fn = inputs
    else:
        raise TypeError(f"inputs must be a tensor or a callable t -> tensor, got {type(inputs).__name__}")
    if recurrent is not None and not callable(recurrent):
        raise TypeError("recurrent must be a callable s -> tensor")

    params = [getattr(layer, n) for n in names]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=lr)
    target = float(target_rate)
    losses: List[float] = []
    rate = math.nan
    bar = tqdm(total=epochs, disable=not progress, desc="tune", leave=False)
    try:
        for _ in range(epochs):
            layer.reset()
            opt.zero_grad()
            total: Optional[Tensor] = None
            for t in range(equilibration_steps + steps):
                x = fn(t)
                if recurrent is not None and layer.s is not None:
                    x = x + recurrent(layer.s)
                if t >= equilibration_steps:
                    mu = layer.expected_count(x).mean()  # differentiable, before the step advances t
                    total = mu if total is None else total + mu
                layer._advance(x, 0)
            assert total is not None
            mean_rate = total / (steps * layer.dt)
            loss = ((mean_rate - target) / target) ** 2
            loss.backward()
            rate = float(mean_rate.detach())
            losses.append(float(loss.detach()))
            bar.update(1)
            if abs(rate - target) <= tol * target:
                break
            opt.step()
            with torch.no_grad():
                layer.lambda_0.clamp_(min=0.0)
    finally:
        bar.close()
        for p in params:
            p.requires_grad_(False)
            p.grad = None
        layer.reset()
    return SAMTuneResult(rate, target, torch.tensor(losses, dtype=torch.float64), len(losses),
                         abs(rate - target) <= tol * target)


def _build_sam(threshold: float = 0.0, tau_range: Optional[Tuple[float, float]] = None, seed: int = 0,
               n_features: Optional[int] = None) -> RectifiedSAM:
    """A demonstration :class:`RectifiedSAM` (the :class:`~spyketorch.neurons.ModelSpec` ``build``).

    ``threshold`` is :math:`\theta`; ``seed`` seeds the Poisson generator; ``tau_range``
    and ``n_features`` (meaningful for heterogeneous neuron layers) are accepted and unused.
    With inputs ``rand * 1`` the expected count is 0.1-0.3 per neuron and step.
    """
    return RectifiedSAM(lambda_0=100.0, theta=threshold, tau=0.01, dt=0.001, r=2.0, b=1.0, seed=seed)


#: Registry of the stochastic neuron layers, in the form of :data:`spyketorch.neurons.MODELS`
#: (``ModelSpec(name, cls, build, input_scale)``). It lives here and not in
#: :mod:`spyketorch.neurons` because imports flow one way (``sam`` imports ``neurons``).
#: :func:`spyketorch.save_layer`, :func:`spyketorch.load_layer` and :func:`spyketorch.simulate`
#: read it next to ``MODELS``; the deterministic generic tests of ``MODELS`` do not apply to it
#: (its spikes are random counts), ``tests/test_sam.py`` covers it.
STOCHASTIC_MODELS: Dict[str, ModelSpec] = {s.name: s for s in (
    ModelSpec("RectifiedSAM", RectifiedSAM, _build_sam, 1.0),
)}


_RESULT_TYPES: Dict[Tuple[str, ...], Any] = {}


def _result_type(names: Tuple[str, ...]) -> Any:
    """The named-tuple class of a field combination of :meth:`RectifiedSAM.forward` (cached)."""
    cls = _RESULT_TYPES.get(names)
    if cls is None:
        cls = NamedTuple("SAMOutput", [(n, Any) for n in names])  # type: ignore[misc]
        _RESULT_TYPES[names] = cls
    return cls
