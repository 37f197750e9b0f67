"""Image filters of the input layer: DoG and Gabor kernels, :class:`Filter`, and the
intensity-domain lateral inhibition of the reference."""
from __future__ import annotations

import math
from numbers import Real
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

from .. import _validation as V
from .. import functional as sf


# ----------------------------------------------------------------------------
# filter kernels
# ----------------------------------------------------------------------------
class FilterKernel:
    r"""Base class of square, odd-sized filter kernels; ``kernel()`` returns a ``[w, w]`` tensor.

    Args:
        window_size: side of the kernel (odd, positive).

    Example:
        >>> k = DoGKernel(3, 1 / 3, 2 / 3)
        >>> isinstance(k, FilterKernel), k().shape
        (True, torch.Size([3, 3]))
    """

    def __init__(self, window_size: int) -> None:
        V.positive_int(window_size, "window_size")
        if window_size % 2 == 0:
            raise ValueError(f"window_size must be odd, got {window_size}")
        self.window_size = window_size

    def _grid(self) -> Tuple[np.ndarray, np.ndarray]:
        r = self.window_size // 2
        return np.mgrid[-r : r + 1, -r : r + 1].astype(np.float64)  # (row, column)

    def __call__(self) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


def _zero_mean_unit_max(k: np.ndarray, what: str) -> torch.Tensor:
    """Centre ``k`` on zero and scale its maximum to 1; refuse a constant or non-finite ``k``.

    ``what`` names the arguments that produced ``k``, for the error message.
    """
    with np.errstate(all="ignore"):
        k = k - k.mean()
        peak = k.max() if np.isfinite(k).all() else np.nan
    if not (np.isfinite(peak) and peak > 0):
        raise ValueError(
            f"{what} give a kernel that is constant or not finite, so it has no zero-mean, "
            "unit-maximum form (use a larger window_size or other parameters)"
        )
    out = torch.from_numpy(k / peak).float()
    if not bool(torch.isfinite(out).all()):
        raise ValueError(f"{what} give a kernel that is not finite in float32")
    return out


class DoGKernel(FilterKernel):
    r"""Difference-of-Gaussians kernel, zero mean and maximum 1.

    .. math::
        g(x, y) = \frac{1}{2\pi}\left(\frac{1}{\sigma_1^2} e^{-\frac{x^2+y^2}{2\sigma_1^2}}
                  - \frac{1}{\sigma_2^2} e^{-\frac{x^2+y^2}{2\sigma_2^2}}\right),\qquad
        K = \frac{g - \bar g}{\max(g - \bar g)}

    ``sigma1 < sigma2`` gives an on-centre cell, ``sigma1 > sigma2`` off-centre.

    Args:
        window_size: odd kernel side.
        sigma1: :math:`\sigma_1` (> 0).
        sigma2: :math:`\sigma_2` (> 0, != ``sigma1``).

    Example:
        >>> DoGKernel(7, 1, 2)().shape
        torch.Size([7, 7])
    """

    def __init__(self, window_size: int, sigma1: float, sigma2: float) -> None:
        super().__init__(window_size)
        self.sigma1 = V.positive(sigma1, "sigma1")
        self.sigma2 = V.positive(sigma2, "sigma2")
        if self.sigma1 == self.sigma2:
            raise ValueError("sigma1 and sigma2 must differ (their difference would be zero)")
        self()  # refuse a degenerate window (e.g. 1x1) here rather than at first use

    def __call__(self) -> torch.Tensor:
        y, x = self._grid()
        d2 = x * x + y * y
        with np.errstate(all="ignore"):  # squares beyond float64 become inf: refused below, never OverflowError
            s1, s2 = np.float64(self.sigma1) ** 2, np.float64(self.sigma2) ** 2
            g = (np.exp(-d2 / (2 * s1)) / s1 - np.exp(-d2 / (2 * s2)) / s2) / (2 * math.pi)
        what = f"window_size={self.window_size}, sigma1={self.sigma1}, sigma2={self.sigma2}"
        return _zero_mean_unit_max(g, what)


class GaborKernel(FilterKernel):
    r"""Gabor kernel, zero mean and maximum 1.

    With :math:`\lambda = 2w/\mathrm{div}`, :math:`\sigma = 0.8\lambda`,
    :math:`\gamma = 0.3` and :math:`\theta` the orientation in degrees:

    .. math::
        X = x\cos\theta + y\sin\theta,\quad Y = -x\sin\theta + y\cos\theta,\\
        g = \exp\!\left(-\frac{X^2 + \gamma^2 Y^2}{2\sigma^2}\right)\cos\!\left(\frac{2\pi X}{\lambda}\right),
        \qquad K = \frac{g - \bar g}{\max(g - \bar g)}

    where :math:`x` is the row offset and :math:`y` the column offset.

    Args:
        window_size: odd kernel side :math:`w`.
        orientation: :math:`\theta` in degrees.
        div: divisor of the wavelength. Default: ``4.0``.

    Example:
        >>> GaborKernel(5, 45)().shape
        torch.Size([5, 5])
    """

    def __init__(self, window_size: int, orientation: float, div: float = 4.0) -> None:
        super().__init__(window_size)
        self.orientation = V.finite_real(orientation, "orientation")
        self.div = V.positive(div, "div")
        self()  # refuse a degenerate window (e.g. 1x1) here rather than at first use

    def __call__(self) -> torch.Tensor:
        x, y = self._grid()  # x: row offset, y: column offset
        gamma = 0.3
        th = math.radians(self.orientation)
        big_x = x * math.cos(th) + y * math.sin(th)
        big_y = -x * math.sin(th) + y * math.cos(th)
        with np.errstate(all="ignore"):  # a tiny div overflows the wavelength: refused below, never OverflowError
            lam = np.float64(self.window_size * 2) / np.float64(self.div)
            sigma = 0.8 * lam
            g = np.exp(-(big_x**2 + gamma**2 * big_y**2) / (2 * sigma**2)) * np.cos(2 * math.pi * big_x / lam)
        what = f"window_size={self.window_size}, orientation={self.orientation}, div={self.div}"
        return _zero_mean_unit_max(g, what)


class Filter:
    r"""Convolve a grey image with a bank of kernels, then threshold.

    .. math::
        O_k = \begin{cases} (I * K_k) & (I * K_k) \ge \theta_k \\ 0 & \text{otherwise}\end{cases}

    (then :math:`|O_k|` if ``use_abs``). Smaller kernels are zero-padded to the
    largest size, centred.

    Args:
        filter_kernels: :class:`FilterKernel` objects or ``[w, w]`` tensors (odd ``w``).
        padding: zero padding of the convolution. Default: ``0``.
        thresholds: ``None``, one number for all kernels, or one per kernel
            (sequence or tensor). Default: ``None``.
        use_abs: take the absolute value of the output. Default: ``False``.

    Shape:
        - Input: ``[1, H, W]`` or ``[B, 1, H, W]`` (grey images).
        - Output: ``[K, H', W']`` or ``[B, K, H', W']``. SpykeTorch's scripts pass one
          image as ``[1, 1, H, W]`` and get ``[1, K, H', W']``, as there;
          :class:`~spyketorch.utils.Intensity2Latency` reads that as one image.

    Example:
        >>> f = Filter([DoGKernel(7, 1, 2), DoGKernel(7, 2, 1)], padding=3, thresholds=50)
        >>> f(torch.rand(1, 28, 28) * 255).shape
        torch.Size([2, 28, 28])
    """

    def __init__(
        self,
        filter_kernels: Sequence[Union[FilterKernel, torch.Tensor]],
        padding: int = 0,
        thresholds: Optional[Union[float, Sequence[float], torch.Tensor]] = None,
        use_abs: bool = False,
    ) -> None:
        kernels: List[torch.Tensor] = []
        if isinstance(filter_kernels, (FilterKernel, torch.Tensor)):
            filter_kernels = [filter_kernels]
        for i, k in enumerate(filter_kernels):
            if isinstance(k, torch.Tensor):
                V.finite_tensor(k, f"filter_kernels[{i}]")
            t = k.detach().float() if isinstance(k, torch.Tensor) else (k() if isinstance(k, FilterKernel) else None)
            if t is None:
                raise TypeError(f"filter_kernels[{i}] must be a FilterKernel or a tensor, got {type(k).__name__}")
            t = t.squeeze() if t.numel() > 1 else t.reshape(1, 1)
            if t.dim() != 2 or t.shape[0] != t.shape[1] or t.shape[0] % 2 == 0:
                raise ValueError(f"filter_kernels[{i}] must be square with an odd side, got {tuple(t.shape)}")
            kernels.append(t)
        if not kernels:
            raise ValueError("filter_kernels must not be empty")
        self.max_window_size = max(k.shape[0] for k in kernels)
        padded = [F.pad(k, [(self.max_window_size - k.shape[0]) // 2] * 4) for k in kernels]
        self.kernels = torch.stack(padded).unsqueeze(1)  # [K, 1, w, w]
        self.number_of_kernels = len(kernels)
        self.padding = V.non_negative_int(padding, "padding")
        if thresholds is None:
            self.thresholds: Optional[torch.Tensor] = None
        elif isinstance(thresholds, Real) and not isinstance(thresholds, bool):
            self.thresholds = torch.tensor(V.finite_real(thresholds, "thresholds"))
        else:
            if isinstance(thresholds, torch.Tensor):
                V.real_tensor(thresholds, "thresholds")
            try:
                th = torch.as_tensor(thresholds, dtype=torch.float32).flatten()
            except (TypeError, ValueError) as e:
                raise TypeError("thresholds must be None, a number or one number per kernel") from e
            V.finite_tensor(th, "thresholds")
            if th.numel() == 1:
                th = th.reshape(())
            elif th.numel() != self.number_of_kernels:
                raise ValueError(
                    f"thresholds must be one number or {self.number_of_kernels} (one per kernel), got {th.numel()}"
                )
            else:
                th = th.view(-1, 1, 1)
            self.thresholds = th
        self.use_abs = bool(use_abs)

    def __call__(self, input: torch.Tensor) -> torch.Tensor:
        V.real_tensor(input, "input")
        if input.dim() not in (3, 4) or input.shape[-3] != 1:
            raise ValueError(f"input must be a grey image [1, H, W] or a batch [B, 1, H, W], got {tuple(input.shape)}")
        x = input if input.dim() == 4 else input.unsqueeze(0)
        x = x.float() if not x.is_floating_point() else x
        w = self.max_window_size
        p = self.padding
        V.kernel_fits((w, w), (x.shape[-2] + 2 * p, x.shape[-1] + 2 * p), "the kernel window", "padded input")
        if x.shape[0] == 0:
            out = x.new_zeros(0, self.number_of_kernels, x.shape[-2] + 2 * p - w + 1, x.shape[-1] + 2 * p - w + 1)
            return out
        out = F.conv2d(x, self.kernels.to(device=x.device, dtype=x.dtype), padding=self.padding)
        if self.thresholds is not None:
            th = self.thresholds.to(device=out.device, dtype=out.dtype)
            out = torch.where(out < th, torch.zeros((), dtype=out.dtype, device=out.device), out)
        if self.use_abs:
            out = out.abs()
        return out if input.dim() == 4 else out[0]


# ----------------------------------------------------------------------------
# latency coding
# ----------------------------------------------------------------------------
class LateralIntensityInhibition:
    r"""Lateral inhibition of intensities (see :func:`spyketorch.functional.intensity_lateral_inhibition`).

    SpykeTorch spells this class ``LateralIntencityInhibition``; both names
    work. By default it computes what SpykeTorch computes (``mode="strengthen"``:
    each pixel gains the fraction :math:`p_d` of itself for every weaker pixel at
    Chebyshev distance :math:`d`); ``mode="weaken"`` applies the decrease that
    SpykeTorch's documentation describes. The input is never changed (SpykeTorch
    reshapes it in place and back).

    Args:
        inhibition_percents: fractions :math:`p_1, p_2, \dots` for the
            neighbours at Chebyshev distance 1, 2, ... (each in ``[0, 1]``).
        mode: ``"strengthen"`` or ``"weaken"``. Default: ``"strengthen"``.

    Shape:
        ``[..., H, W]`` (e.g. SpykeTorch's ``[1, C, H, W]``) -> same shape.

    Example:
        >>> # 4 outranks its 7 border zeros and the 2: 4 (1 + 8/2); the 2 outranks the 7 zeros: 2 (1 + 7/2)
        >>> LateralIntensityInhibition([0.5])(torch.tensor([[4.0, 2.0]]))
        tensor([[20.,  9.]])
        >>> LateralIntensityInhibition([0.5], mode="weaken")(torch.tensor([[4.0, 2.0]]))
        tensor([[4., 1.]])
    """

    def __init__(self, inhibition_percents: Sequence[float], mode: str = "strengthen") -> None:
        self.inhibition_kernel = generate_inhibition_kernel(inhibition_percents)
        if mode not in sf._LATERAL_MODES:
            raise ValueError(f"mode must be one of {sf._LATERAL_MODES}, got {mode!r}")
        self.mode = mode

    def __call__(self, intensities: torch.Tensor) -> torch.Tensor:
        return sf.intensity_lateral_inhibition(intensities, self.inhibition_kernel, self.mode)


#: SpykeTorch's spelling of :class:`LateralIntensityInhibition`.
LateralIntencityInhibition = LateralIntensityInhibition


def generate_inhibition_kernel(inhibition_percents: Sequence[float]) -> torch.Tensor:
    r"""Square kernel ``[2n+1, 2n+1]`` holding :math:`p_d` at Chebyshev distance :math:`d` (0 at the centre).

    Example:
        >>> generate_inhibition_kernel([0.5])
        tensor([[0.5000, 0.5000, 0.5000],
                [0.5000, 0.0000, 0.5000],
                [0.5000, 0.5000, 0.5000]])
    """
    if isinstance(inhibition_percents, torch.Tensor):
        V.real_tensor(inhibition_percents, "inhibition_percents")
    try:
        p = torch.as_tensor(list(inhibition_percents), dtype=torch.float64)  # checked before rounding
    except (TypeError, ValueError, RuntimeError) as e:
        raise TypeError("inhibition_percents must be a sequence of numbers") from e
    if p.dim() != 1 or p.numel() == 0:
        raise ValueError("inhibition_percents must be a non-empty sequence of numbers")
    if not bool(((p >= 0) & (p <= 1)).all()):  # also refuses NaN
        raise ValueError(f"inhibition_percents must lie in [0, 1], got {p.tolist()}")
    p = p.float()
    n = p.numel()
    r = torch.arange(-n, n + 1).abs()
    dist = torch.maximum(r.view(-1, 1), r.view(1, -1))
    table = torch.cat([torch.zeros(1), p])
    return table[dist]
