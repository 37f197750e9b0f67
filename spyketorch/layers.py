"""Convolution and pooling of spike-waves ``[T, C, H, W]`` or batches ``[B, T, C, H, W]``.

Weights are not trained by gradients (``requires_grad=False``); the learning rules of
:mod:`spyketorch.learning` change them.

Example:
    >>> from spyketorch.layers import Convolution, Pooling
    >>> conv, pool = Convolution(2, 4, 5), Pooling(2, 2)
    >>> pool(conv(torch.ones(15, 2, 28, 28))).shape  # [T, C, H, W] spike-waves
    torch.Size([15, 4, 12, 12])
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import _validation as V
from . import functional as sf

__all__ = ["Convolution", "Pooling"]

IntPair = Union[int, Tuple[int, int]]
Winners = Union[Sequence[Tuple[int, int, int]], Sequence[Sequence[Tuple[int, int, int]]], torch.Tensor]
RatePair = Tuple[float, float]

def _pair(v: IntPair, name: str) -> Tuple[int, int]:
    return V.int_pair(v, name, minimum=1)


def _check_real(v: object, name: str) -> float:
    """A finite real number."""
    return V.finite_real(v, name)


class Convolution(nn.Module):
    r"""2-D convolution of a spike-wave (stride 1, no padding, no bias).

    .. math::
        V_{t,f,h,w} = \sum_{c,i,j} W_{f,c,i,j}\, S_{t,c,h+i,w+j}

    Weights are drawn from :math:`\mathcal N(\mu, \sigma^2)`. Pad the input with
    :func:`spyketorch.functional.pad` if needed: a kernel larger than the
    input's ``H, W`` raises ``ValueError``. Inputs are cast to the weight dtype
    (float16/bfloat16 weights work; a float64 input on the CPU whose values lie
    beyond the weights' range is refused rather than turned into inf); ``B`` or
    ``T`` of 0 give an empty output.

    Args:
        in_channels: input feature maps.
        out_channels: output feature maps.
        kernel_size: int or ``(kh, kw)``.
        weight_mean: :math:`\mu`. Default: ``0.8``.
        weight_std: :math:`\sigma`. Default: ``0.02``.
        device: weight device. Default: ``None`` (CPU).
        dtype: weight dtype. Default: ``None`` (``float32``).

    Shape:
        - Input: ``[T, C_in, H, W]`` or ``[B, T, C_in, H, W]``.
        - Output: ``[T, C_out, H-kh+1, W-kw+1]`` (with ``B`` first if batched).

    Example:
        >>> conv = Convolution(2, 4, 3)
        >>> conv(torch.ones(5, 2, 8, 8)).shape
        torch.Size([5, 4, 6, 6])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        weight_mean: float = 0.8,
        weight_std: float = 0.02,
        device: Optional[Union[str, torch.device]] = None,
        dtype: Optional[torch.dtype] = None,
    ) -> None:
        super().__init__()
        self.in_channels = V.positive_int(in_channels, "in_channels")
        self.out_channels = V.positive_int(out_channels, "out_channels")
        self.kernel_size = V.kernel_size(kernel_size, "kernel_size")
        if dtype is not None and (not isinstance(dtype, torch.dtype) or not dtype.is_floating_point):
            raise TypeError(f"dtype must be a real floating torch.dtype, got {dtype!r}")
        V.allocation(self.out_channels * self.in_channels * self.kernel_size[0] * self.kernel_size[1],
                     torch.empty((), dtype=dtype or torch.float32).element_size(), "kernel_size", kernel_size)
        self.weight = nn.Parameter(
            torch.empty(out_channels, in_channels, *self.kernel_size, device=device, dtype=dtype or torch.float32),
            requires_grad=False,
        )
        self.reset_weight(weight_mean, weight_std)

    @torch.no_grad()
    def reset_weight(self, weight_mean: float = 0.8, weight_std: float = 0.02) -> None:
        r"""Redraw the weights from :math:`\mathcal N(\mu, \sigma^2)`.

        Args:
            weight_mean: :math:`\mu`. Default: ``0.8``.
            weight_std: :math:`\sigma` (>= 0). Default: ``0.02``.
        """
        mean = V.finite_real(weight_mean, "weight_mean")
        std = V.non_negative(weight_std, "weight_std")
        big = torch.finfo(self.weight.dtype).max / 16  # room for the draws' tails
        if abs(mean) > big or std > big:
            raise ValueError(f"weight_mean={mean} and weight_std={std} overflow the weights' dtype {self.weight.dtype}")
        self.weight.normal_(mean, std)

    @torch.no_grad()
    def load_weight(self, target: torch.Tensor) -> None:
        r"""Copy ``target`` (shape ``[C_out, C_in, kh, kw]``, real and finite) into the weights."""
        V.finite_tensor(target, "target")
        if target.shape != self.weight.shape:
            raise ValueError(f"target must have shape {tuple(self.weight.shape)}, got {tuple(target.shape)}")
        self.weight.copy_(target)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        x, batched = sf.as_batch(input, "input")
        b, t, c, h, w = x.shape
        if c != self.in_channels:
            raise ValueError(f"input has {c} channels, expected in_channels={self.in_channels}")
        V.kernel_fits(self.kernel_size, (h, w), "kernel_size")
        if b * t == 0:  # no sample or no time step: an empty result of the right shape
            out = x.new_zeros(b, t, self.out_channels, h - self.kernel_size[0] + 1, w - self.kernel_size[1] + 1,
                              dtype=self.weight.dtype)
            return out if batched else out[0]
        wdt = self.weight.dtype
        if x.is_floating_point() and torch.finfo(x.dtype).max > torch.finfo(wdt).max and x.device.type == "cpu":
            # a wider input (float64 into float32 weights) would turn values beyond the weights' range into
            # inf: refused (one reduction, on the CPU only: accelerators get no host sync in forward)
            big = float(x.abs().amax()) if x.numel() else 0.0
            if math.isfinite(big) and big > torch.finfo(wdt).max:
                raise ValueError(f"input holds {big:.3g}, beyond the weights' dtype {wdt} (cast the layer to {x.dtype})")
        x = x.reshape(b * t, c, h, w).to(wdt)
        out = F.conv2d(x, self.weight)
        out = out.reshape(b, t, self.out_channels, out.shape[-2], out.shape[-1])
        return out if batched else out[0]

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"


class Pooling(nn.Module):
    r"""2-D max pooling of a spike-wave (earliest spike of each window).

    Args:
        kernel_size: window size.
        stride: stride. Default: ``None`` (= ``kernel_size``).
        padding: zero padding. Default: ``0``.

    Shape:
        ``[T, C, H, W]`` or ``[B, T, C, H, W]`` -> same rank, pooled ``H, W``.

    Example:
        >>> Pooling(2)(torch.ones(3, 1, 4, 4)).shape
        torch.Size([3, 1, 2, 2])
    """

    def __init__(self, kernel_size: IntPair, stride: Optional[IntPair] = None, padding: IntPair = 0) -> None:
        super().__init__()
        self.kernel_size = V.kernel_size(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else V.int_pair(stride, "stride", minimum=1)
        self.padding = V.padding(padding, "padding")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return sf.pooling(input, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
