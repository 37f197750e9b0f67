"""Latency (time-to-first-spike) coding of intensities."""
from __future__ import annotations


import torch

from .. import _validation as V
from .. import functional as sf


class Intensity2Latency:
    r"""Intensity-to-latency coding: stronger values spike earlier.

    The non-zero values of each sample are ranked from the most to the least
    intense (ties: lowest flat index first) and spread over the ``T`` steps in
    nearly equal bins: the value of rank :math:`\rho` among :math:`n` non-zero
    values fires at step

    .. math::
        t = \left\lfloor \frac{\rho\, T}{n} \right\rfloor ,\qquad \rho = 0, \dots, n-1

    Every non-zero value fires (none is dropped) and zeros never fire. With
    fewer non-zero values than steps, the values are spread over the steps and
    some steps add no new spike. Spikes accumulate.

    ``binning="equal"`` is SpykeTorch's own rule (its ``Intensity2Latency``, used
    by the reference recipes): every step gets exactly :math:`b = \lfloor n / T
    \rfloor` values and the :math:`n \bmod T` weakest never fire,

    .. math::
        t = \left\lfloor \frac{\rho}{b} \right\rfloor \ \text{if}\ \rho < bT,
        \qquad \text{never otherwise}

    (with fewer non-zero values than steps, :math:`b = 0`: nothing fires, where
    SpykeTorch's code raises an error).

    Args:
        number_of_spike_bins: number of time steps ``T``.
        to_spike: return a 0/1 spike-wave; otherwise each spike carries its
            intensity. Default: ``False``.
        binning: ``"spread"`` (the formula above, every non-zero value fires) or
            ``"equal"`` (SpykeTorch's equal bins). Default: ``"spread"``.

    Shape:
        - Input: ``[C, H, W]`` or a batch ``[B, C, H, W]``.
        - Output: ``[T, C, H, W]`` or ``[B, T, C, H, W]``.

    Example:
        >>> Intensity2Latency(2, to_spike=True)(torch.tensor([[[3.0, 0.0, 1.0]]]))[:, 0, 0]
        tensor([[1., 0., 0.],
                [1., 0., 1.]])
    """

    def __init__(self, number_of_spike_bins: int, to_spike: bool = False, binning: str = "spread") -> None:
        self.time_steps = V.positive_int(number_of_spike_bins, "number_of_spike_bins")
        self.to_spike = bool(to_spike)
        if binning not in ("spread", "equal"):
            raise ValueError(f"binning must be 'spread' or 'equal', got {binning!r}")
        self.binning = binning

    def spike_times(self, intensities: torch.Tensor) -> torch.Tensor:
        r"""First-spike step of every value (``T`` for zeros), ``torch.long``, the input's shape."""
        V.finite_tensor(intensities, "intensities", dims=(3, 4))
        x = intensities if intensities.dim() == 4 else intensities.unsqueeze(0)
        b = x.shape[0]
        if x.numel() == 0:  # an empty batch or image: no value fires
            times = torch.full(x.shape, self.time_steps, dtype=torch.long, device=x.device)
            return times if intensities.dim() == 4 else times[0]
        flat = x.reshape(b, -1)
        nz = flat != 0
        n = nz.sum(dim=1, keepdim=True)
        # rank of every value (descending, stable): position in the sorted order
        key = torch.where(nz, flat.double(), torch.tensor(float("-inf"), dtype=torch.float64, device=x.device))
        order = torch.sort(key, dim=1, descending=True, stable=True).indices
        rank = torch.empty_like(order)
        rank.scatter_(1, order, torch.arange(flat.shape[1], device=x.device).expand(b, -1))
        times = torch.div(rank * self.time_steps, n.clamp(min=1), rounding_mode="floor")
        if self.binning == "equal":  # n // T values per step, the n mod T weakest never
            per_step = torch.div(n, self.time_steps, rounding_mode="floor")
            times = torch.where(rank < per_step * self.time_steps,
                                torch.div(rank, per_step.clamp(min=1), rounding_mode="floor"), self.time_steps)
        times = torch.where(nz, times, torch.full_like(times, self.time_steps))
        times = times.reshape(x.shape)
        return times if intensities.dim() == 4 else times[0]

    def __call__(self, intensities: torch.Tensor) -> torch.Tensor:
        times = self.spike_times(intensities)
        wave = sf.spike_wave(times, self.time_steps, dtype=torch.float32)
        if self.to_spike:
            return wave
        tdim = 0 if intensities.dim() == 3 else 1
        return wave * intensities.unsqueeze(tdim).float()
