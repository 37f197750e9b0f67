"""Latency (time-to-first-spike) coding of intensities."""
from __future__ import annotations

from typing import Optional, Tuple

import torch

from .. import _validation as V
from .. import functional as sf


class Intensity2Latency:
    r"""Intensity-to-latency coding: stronger values spike earlier.

    The non-zero values of each image are ranked from the most to the least
    intense (ties: lowest flat index first) and spread over the ``T`` steps in
    nearly equal bins: the value of rank :math:`\rho` among :math:`n` non-zero
    values fires at step

    .. math::
        t = \left\lfloor \frac{\rho\, T}{n} \right\rfloor ,\qquad \rho = 0, \dots, n-1

    Every non-zero value fires (none is dropped) and zeros never fire. With
    fewer non-zero values than steps, the values are spread over the steps and
    some steps add no new spike. Spikes accumulate.

    **How the input is read.** ``[C, H, W]`` is one image. A 4-D input is read
    as SpykeTorch reads it when ``batched`` is ``None`` (the default): SpykeTorch's
    transforms carry one image as ``[1, C, H, W]`` (``Filter`` returns that for a
    ``[1, 1, H, W]`` image), so ``[1, C, H, W]`` is **one image** and gives
    ``[T, C, H, W]``, as in SpykeTorch; ``[B, C, H, W]`` with ``B != 1`` is a batch
    of ``B`` images, each ranked on its own, and gives ``[B, T, C, H, W]``. Code
    that encodes batches whose size may be 1 (the last chunk of a data set)
    passes ``batched=True``: then every 4-D input is a batch and ``[1, C, H, W]``
    gives ``[1, T, C, H, W]``. ``batched=False`` accepts one image only
    (``[C, H, W]`` or ``[1, C, H, W]``) and refuses a batch.

    ``binning="equal"`` is SpykeTorch's own rule (its ``Intensity2Latency``, used
    by the reference recipes): every step gets exactly :math:`b = \lfloor n / T
    \rfloor` values and the :math:`n \bmod T` weakest never fire,

    .. math::
        t = \left\lfloor \frac{\rho}{b} \right\rfloor \ \text{if}\ \rho < bT,
        \qquad \text{never otherwise}

    (with fewer non-zero values than steps, :math:`b = 0`: nothing fires, where
    SpykeTorch's code raises an error).

    Args:
        number_of_spike_bins: number of time steps ``T`` (>= 1).
        to_spike: return a 0/1 spike-wave; otherwise each spike carries its
            intensity. Default: ``False``.
        binning: ``"spread"`` (the formula above, every non-zero value fires) or
            ``"equal"`` (SpykeTorch's equal bins). Default: ``"spread"``.
        batched: how a 4-D input is read (see above): ``None``, ``True`` or
            ``False``. Default: ``None``.

    Shape:
        - Input: ``[C, H, W]``, ``[1, C, H, W]`` (one image) or a batch ``[B, C, H, W]``.
        - Output: ``[T, C, H, W]`` for one image, ``[B, T, C, H, W]`` for a batch.
          The 0/1 wave is float32; the intensities keep a float64 input's dtype
          (float32 otherwise, as in SpykeTorch).

    Example:
        >>> Intensity2Latency(2, to_spike=True)(torch.tensor([[[3.0, 0.0, 1.0]]]))[:, 0, 0]
        tensor([[1., 0., 0.],
                [1., 0., 1.]])
        >>> img = torch.rand(1, 2, 5, 5)   # SpykeTorch's one image, as Filter returns it
        >>> Intensity2Latency(15)(img).shape
        torch.Size([15, 2, 5, 5])
        >>> Intensity2Latency(15, batched=True)(img).shape
        torch.Size([1, 15, 2, 5, 5])
    """

    def __init__(self, number_of_spike_bins: int, to_spike: bool = False, binning: str = "spread", *,
                 batched: Optional[bool] = None) -> None:
        self.time_steps = V.positive_int(number_of_spike_bins, "number_of_spike_bins")
        self.to_spike = bool(to_spike)
        if binning not in ("spread", "equal"):
            raise ValueError(f"binning must be 'spread' or 'equal', got {binning!r}")
        self.binning = binning
        if batched is not None and not isinstance(batched, bool):
            raise TypeError(f"batched must be None, True or False, got {type(batched).__name__}")
        self.batched = batched

    def _as_batch(self, intensities: torch.Tensor) -> Tuple[torch.Tensor, bool]:
        """The input as ``[B, C, H, W]`` and whether the output keeps a batch dimension."""
        V.finite_tensor(intensities, "intensities", dims=(3, 4))
        if intensities.dim() == 3:
            if self.batched:
                raise ValueError(
                    f"intensities must be a batch [B, C, H, W] with batched=True, got shape {tuple(intensities.shape)}"
                )
            return intensities.unsqueeze(0), False
        one = intensities.shape[0] == 1
        if self.batched is False and not one:
            raise ValueError(
                "intensities must be one image [C, H, W] or [1, C, H, W] with batched=False, got shape "
                f"{tuple(intensities.shape)}"
            )
        return intensities, not (one and not self.batched)

    def spike_times(self, intensities: torch.Tensor) -> torch.Tensor:
        r"""First-spike step of every value (``T`` for zeros), ``torch.long``.

        Shaped like one step of :meth:`__call__`'s output: ``[C, H, W]`` for one
        image (``[C, H, W]``, or ``[1, C, H, W]`` read as one image), ``[B, C, H, W]``
        for a batch.
        """
        x, batched = self._as_batch(intensities)
        b = x.shape[0]
        if x.numel() == 0:  # an empty batch or image: no value fires
            times = torch.full(x.shape, self.time_steps, dtype=torch.long, device=x.device)
            return times if batched else times[0]
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
        return times if batched else times[0]

    def __call__(self, intensities: torch.Tensor) -> torch.Tensor:
        V.real_tensor(intensities, "intensities")
        V.allocation(intensities.numel() * self.time_steps, 8, "number_of_spike_bins", self.time_steps)
        times = self.spike_times(intensities)
        wave = sf.spike_wave(times, self.time_steps, dtype=torch.float32)
        if self.to_spike:
            return wave
        x = intensities if times.dim() == intensities.dim() else intensities.reshape(times.shape)
        dtype = torch.float64 if x.dtype == torch.float64 else torch.float32  # float64 values overflow float32
        return wave.to(dtype) * x.unsqueeze(times.dim() - 3).to(dtype)
