r"""A feed-forward layer of leaky integrate-and-fire neurons driven by input currents.

The layer of Rockpool's ``FFIAFBrian`` in this package's idiom: weights
``[N_in, N]``, a bias, per-neuron time constants and potentials, white membrane
noise, refractoriness in seconds, and :meth:`FFIAF.evolve` over an input
sequence or a duration, batched and on any device. Units are SI (seconds,
volts; the membrane resistance is 1, so currents are in volts).
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple, Optional, Union

import torch
from torch import Tensor, nn

from .._random import check_generator_seed, generator_on

__all__ = ["FFIAF", "FFIAFOutput"]

ParamLike = Union[float, Tensor]


class FFIAFOutput(NamedTuple):
    """Result of :meth:`FFIAF.evolve`.

    Attributes:
        spikes: 0/1 spikes ``[T, N]`` (or ``[B, T, N]`` for batched input), in the
            computation dtype.
        v: membrane potential after each step (after reset), same shape, when
            recorded; else None.
        times: time in seconds at the end of each step ``[T]``.

    Example:
        >>> out = FFIAF(torch.ones(1, 2), bias=0.0).evolve(torch.full((100, 1), 0.02), record=True)
        >>> out._fields, out.spikes.shape, out.times.shape
        (('spikes', 'v', 'times'), torch.Size([100, 2]), torch.Size([100]))
    """

    spikes: Tensor
    v: Optional[Tensor]
    times: Tensor


def _vector(name: str, value: Any, N: int, *, positive: bool = False, nonneg: bool = False) -> Tensor:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number or a tensor, got bool")
    if isinstance(value, Tensor):
        if not value.is_floating_point():
            raise TypeError(f"{name} must be a floating tensor, got {value.dtype}")
        t = value.detach().to(torch.float64).reshape(-1).clone()
    elif isinstance(value, (int, float)):
        t = torch.tensor([float(value)], dtype=torch.float64)
    else:
        raise TypeError(f"{name} must be a number or a tensor, got {type(value).__name__}")
    if t.numel() not in (1, N):
        raise ValueError(f"{name} must be a number or have N={N} values, got {t.numel()}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} must be finite")
    if positive and not bool((t > 0).all()):
        raise ValueError(f"{name} must be > 0")
    if nonneg and not bool((t >= 0).all()):
        raise ValueError(f"{name} must be >= 0")
    return t.expand(N).clone()


class FFIAF(nn.Module):
    r"""Feed-forward integrate-and-fire neurons with current inputs, membrane noise and refractoriness.

    Each neuron :math:`i` integrates its input current :math:`I_i = \sum_j x_j W_{ji} + b_i`
    (membrane resistance 1):

    .. math::
        \tau_i\, dv_i = \bigl(v_{rest,i} - v_i + I_i(t)\bigr)\,dt + \tau_i\,\sigma\, dW_i(t)

    with :math:`\sigma` = ``noise_std`` in volts per :math:`\sqrt{\text{s}}` (the
    noise of one step has standard deviation :math:`\approx\sigma\sqrt{\Delta t}`).
    With the input held over a step the update is exact (an Ornstein–Uhlenbeck step):

    .. math::
        v \leftarrow v_\infty + (v - v_\infty)\,e^{-\Delta t/\tau}
              + \sigma \sqrt{\tfrac{\tau}{2}\bigl(1 - e^{-2\Delta t/\tau}\bigr)}\;\xi,
        \qquad v_\infty = v_{rest} + I,\ \xi \sim \mathcal N(0, 1)

    so the membrane statistics do not depend on ``dt``. A neuron with
    :math:`v \ge v_{thresh}` spikes, is set to :math:`v_{reset}` and is held there
    for ``round(refractory / dt)`` steps (no integration, no noise). The state
    starts at :math:`v_{reset}` and carries over between calls of :meth:`evolve`
    (as Rockpool's ``evolve``) until :meth:`reset_state`.

    Args:
        weights: ``[N_in, N]`` input weights.
        bias: bias current (a number or ``[N]``). Default: 0.01 (10 mA into 1 ohm).
        dt: time step in seconds. Default: 1e-4.
        noise_std: :math:`\sigma`, noise per :math:`\sqrt{\text{s}}` (>= 0). Default: 0.0.
        tau_mem: membrane time constants ``[N]`` or a number (s). Default: 0.02.
        v_thresh: thresholds (V). Default: -0.055.
        v_reset: reset potentials (V). Default: -0.065.
        v_rest: resting potentials (V). Default: -0.065.
        refractory: refractory period in seconds (a number or ``[N]``). Default: 0.0.
        record: record the membrane potential by default in :meth:`evolve`. Default: False.
        generator: random generator for the noise (keyword only). Default: None.
        seed: seed of a generator made on first use when ``generator`` is None
            (keyword only). Default: None.

    Shape:
        input ``[T, N_in]`` or ``[B, T, N_in]``; spikes ``[T, N]`` or ``[B, T, N]``.

    Example:
        >>> layer = FFIAF(torch.ones(1, 2), bias=0.0, dt=1e-3, tau_mem=0.02,
        ...               v_thresh=-0.055, v_reset=-0.065, v_rest=-0.065)
        >>> out = layer.evolve(torch.full((100, 1), 0.02), record=True)
        >>> out.spikes.shape, out.v.shape
        (torch.Size([100, 2]), torch.Size([100, 2]))
        >>> int(out.spikes[:, 0].argmax())  # first step at which v >= v_thresh
        13
    """

    def __init__(
        self,
        weights: Tensor,
        bias: ParamLike = 0.01,
        dt: float = 1e-4,
        noise_std: float = 0.0,
        tau_mem: ParamLike = 0.02,
        v_thresh: ParamLike = -0.055,
        v_reset: ParamLike = -0.065,
        v_rest: ParamLike = -0.065,
        refractory: ParamLike = 0.0,
        record: bool = False,
        *,
        generator: Optional[torch.Generator] = None,
        seed: Optional[int] = None,
    ) -> None:
        super().__init__()
        if not isinstance(weights, Tensor):
            raise TypeError(f"weights must be an [N_in, N] tensor, got {type(weights).__name__}")
        if weights.dim() != 2 or not weights.is_floating_point():
            raise ValueError(f"weights must be a floating [N_in, N] tensor, got shape {tuple(weights.shape)}")
        if not bool(torch.isfinite(weights).all()):
            raise ValueError("weights must be finite")
        self.size_in, self.size_out = weights.shape
        N = self.size_out
        self.weights = nn.Parameter(weights.detach().to(torch.float64).clone(), requires_grad=False)
        self.dt = self._check_dt(dt)
        if isinstance(noise_std, bool) or not isinstance(noise_std, (int, float)):
            raise TypeError(f"noise_std must be a number, got {type(noise_std).__name__}")
        if not math.isfinite(noise_std) or noise_std < 0:
            raise ValueError(f"noise_std must be >= 0, got {noise_std!r}")
        self.noise_std = float(noise_std)
        self.register_buffer("bias", _vector("bias", bias, N))
        self.register_buffer("tau_mem", _vector("tau_mem", tau_mem, N, positive=True))
        self.register_buffer("v_thresh", _vector("v_thresh", v_thresh, N))
        self.register_buffer("v_reset", _vector("v_reset", v_reset, N))
        self.register_buffer("v_rest", _vector("v_rest", v_rest, N))
        self.register_buffer("refractory", _vector("refractory", refractory, N, nonneg=True))
        if bool((self.v_reset >= self.v_thresh).any()):
            raise ValueError("v_reset must be below v_thresh for every neuron")
        self.record = bool(record)
        check_generator_seed(generator, seed)
        self.generator = generator
        self.seed = seed
        self.register_buffer("v", None, persistent=False)
        self.register_buffer("refractory_steps", None, persistent=False)
        self.timestep = 0

    @staticmethod
    def _check_dt(dt: Any) -> float:
        if isinstance(dt, bool) or not isinstance(dt, (int, float)):
            raise TypeError(f"dt must be a number, got {type(dt).__name__}")
        if not math.isfinite(dt) or dt <= 0:
            raise ValueError(f"dt must be > 0, got {dt!r}")
        return float(dt)

    @property
    def t(self) -> float:
        """Time evolved since the last :meth:`reset_time`, in seconds."""
        return self.timestep * self.dt

    def reset_state(self) -> None:
        """Forget the membrane potentials and refractoriness (next evolve starts at ``v_reset``)."""
        self.v = None
        self.refractory_steps = None

    def reset_time(self) -> None:
        """Set the clock back to 0."""
        self.timestep = 0

    def reset_all(self) -> None:
        """:meth:`reset_state` and :meth:`reset_time`."""
        self.reset_state()
        self.reset_time()

    def _generator_for(self, device: torch.device) -> torch.Generator:
        self.generator = generator_on(self.generator, self.seed, device)
        return self.generator

    def evolve(
        self,
        inputs: Optional[Tensor] = None,
        duration: Optional[float] = None,
        num_timesteps: Optional[int] = None,
        record: Optional[bool] = None,
        *,
        batch_size: int = 1,
    ) -> FFIAFOutput:
        """Evolve the layer over an input sequence or for a duration.

        Args:
            inputs: input currents ``[T, N_in]`` or ``[B, T, N_in]``; None: no input
                (bias and noise only). Default: None.
            duration: time to evolve in seconds (rounded to steps); None: the length
                of ``inputs``. Default: None.
            num_timesteps: steps to evolve (instead of ``duration``). Default: None.
            record: also return the membrane traces; None: the layer's ``record``. Default: None.
            batch_size: samples when ``inputs`` is None (keyword only). Default: 1.

        Returns:
            FFIAFOutput: ``(spikes, v, times)``.
        """
        rec = self.record if record is None else bool(record)
        batched = True
        if inputs is not None:
            if not isinstance(inputs, Tensor):
                raise TypeError(f"inputs must be a torch.Tensor or None, got {type(inputs).__name__}")
            if not inputs.is_floating_point():
                raise TypeError(f"inputs must have a floating dtype, got {inputs.dtype}")
            if inputs.dim() == 2:
                batched = False
                inputs = inputs.unsqueeze(0)
            if inputs.dim() != 3 or inputs.shape[-1] != self.size_in:
                raise ValueError(f"inputs must be [T, N_in={self.size_in}] or [B, T, N_in], "
                                 f"got shape {tuple(inputs.shape)}")
            B, T_in = inputs.shape[0], inputs.shape[1]
            device, dtype = inputs.device, inputs.dtype
        else:
            if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
                raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
            batched = batch_size > 1
            B, T_in = batch_size, None
            device = self.weights.device
            dtype = torch.get_default_dtype() if self.v is None else self.v.dtype
        if duration is not None and num_timesteps is not None:
            raise ValueError("give duration or num_timesteps, not both")
        if duration is not None:
            if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not duration >= 0:
                raise ValueError(f"duration must be a non-negative number of seconds, got {duration!r}")
            n = int(round(duration / self.dt))
        elif num_timesteps is not None:
            if isinstance(num_timesteps, bool) or not isinstance(num_timesteps, int) or num_timesteps < 0:
                raise ValueError(f"num_timesteps must be a non-negative int, got {num_timesteps!r}")
            n = num_timesteps
        elif T_in is not None:
            n = T_in
        else:
            raise ValueError("give inputs, duration or num_timesteps")
        if T_in is not None and n > T_in:
            raise ValueError(f"the evolution ({n} steps) is longer than inputs ({T_in} steps)")

        N = self.size_out
        v, r = self.v, self.refractory_steps
        if v is None:
            v = self.v_reset.to(device=device, dtype=dtype).expand(B, N).clone()
            r = torch.zeros((B, N), device=device, dtype=dtype)
        elif v.shape != (B, N) or v.device != device or v.dtype != dtype:
            raise ValueError(f"the state is {tuple(v.shape)} on {v.device}/{v.dtype} but this input needs "
                             f"{(B, N)} on {device}/{dtype}; call reset_state() first")
        p = {k: getattr(self, k).to(device=device, dtype=dtype)
             for k in ("bias", "tau_mem", "v_thresh", "v_reset", "v_rest", "refractory")}
        decay = torch.exp(-self.dt / p["tau_mem"])
        n_ref = torch.round(p["refractory"] / self.dt)
        noise_scale = self.noise_std * torch.sqrt(p["tau_mem"] / 2 * (1 - decay * decay))
        v_inf_const = p["v_rest"] + p["bias"]
        if inputs is not None:
            drive = torch.matmul(inputs[:, :n], self.weights.to(device=device, dtype=dtype))  # [B, n, N]
        gen = self._generator_for(device) if self.noise_std > 0 else None
        spikes = torch.zeros((B, n, N), device=device, dtype=dtype)
        trace = torch.empty((B, n, N), device=device, dtype=dtype) if rec else None
        for k in range(n):
            v_inf = v_inf_const if inputs is None else v_inf_const + drive[:, k]
            v_new = v_inf + (v - v_inf) * decay
            if gen is not None:
                v_new = v_new + noise_scale * torch.randn((B, N), generator=gen, device=device, dtype=dtype)
            held = r > 0
            v = torch.where(held, v, v_new)
            fired = v >= p["v_thresh"]
            v = torch.where(fired, p["v_reset"].expand_as(v), v)
            r = torch.where(fired, n_ref.expand_as(r), (r - 1).clamp_(min=0))
            spikes[:, k] = fired.to(dtype)
            if trace is not None:
                trace[:, k] = v
        self.v, self.refractory_steps = v, r
        times = (torch.arange(1, n + 1, device=device, dtype=torch.float64) + self.timestep) * self.dt
        self.timestep += n
        if not batched:
            spikes = spikes[0]
            trace = None if trace is None else trace[0]
        return FFIAFOutput(spikes, trace, times)

    def forward(self, inputs: Optional[Tensor] = None, duration: Optional[float] = None,
                num_timesteps: Optional[int] = None, record: Optional[bool] = None) -> FFIAFOutput:
        """Same as :meth:`evolve`."""
        return self.evolve(inputs, duration, num_timesteps, record)

    def extra_repr(self) -> str:
        return f"size_in={self.size_in}, size_out={self.size_out}, dt={self.dt:g}, noise_std={self.noise_std:g}"
