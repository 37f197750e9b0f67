"""Input coding: image filters, latency coding, caching and the shipped MNIST subset.

Every transform here is a plain callable, so it composes with
``torchvision.transforms.Compose`` and works as the ``transform`` of a
``torchvision.datasets`` dataset. Transforms accept a single image ``[C, H, W]``
or a batch ``[B, C, H, W]``; a batch gives the same result as its images one by one.
"""
from __future__ import annotations

import math
import os
from numbers import Real
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

from . import _validation as V
from . import functional as sf

__all__ = [
    "FilterKernel",
    "DoGKernel",
    "GaborKernel",
    "Filter",
    "Intensity2Latency",
    "LateralIntensityInhibition",
    "generate_inhibition_kernel",
    "CacheDataset",
    "MNISTSubset",
    "load_mnist_subset",
    "load_mnist",
    "MNIST_SUBSET_PATH",
]

MNIST_SUBSET_PATH = Path(__file__).resolve().parent / "data" / "mnist_subset.npz"


def _positive_int(v: object, name: str) -> int:
    return V.positive_int(v, name)


def _positive_real(v: object, name: str) -> float:
    return V.positive(v, name)


# ----------------------------------------------------------------------------
# filter kernels
# ----------------------------------------------------------------------------
class FilterKernel:
    r"""Base class of square, odd-sized filter kernels; ``kernel()`` returns a ``[w, w]`` tensor.

    Args:
        window_size: side of the kernel (odd, positive).
    """

    def __init__(self, window_size: int) -> None:
        _positive_int(window_size, "window_size")
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
        self.sigma1 = _positive_real(sigma1, "sigma1")
        self.sigma2 = _positive_real(sigma2, "sigma2")
        if self.sigma1 == self.sigma2:
            raise ValueError("sigma1 and sigma2 must differ (their difference would be zero)")
        self()  # refuse a degenerate window (e.g. 1x1) here rather than at first use

    def __call__(self) -> torch.Tensor:
        y, x = self._grid()
        d2 = x * x + y * y
        s1, s2 = self.sigma1**2, self.sigma2**2
        with np.errstate(all="ignore"):
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
        self.div = _positive_real(div, "div")
        self()  # refuse a degenerate window (e.g. 1x1) here rather than at first use

    def __call__(self) -> torch.Tensor:
        x, y = self._grid()  # x: row offset, y: column offset
        lam = self.window_size * 2 / self.div
        sigma = 0.8 * lam
        gamma = 0.3
        th = math.radians(self.orientation)
        big_x = x * math.cos(th) + y * math.sin(th)
        big_y = -x * math.sin(th) + y * math.cos(th)
        with np.errstate(all="ignore"):
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
        - Output: ``[K, H', W']`` or ``[B, K, H', W']``.

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

    Args:
        number_of_spike_bins: number of time steps ``T``.
        to_spike: return a 0/1 spike-wave; otherwise each spike carries its
            intensity. Default: ``False``.

    Shape:
        - Input: ``[C, H, W]`` or a batch ``[B, C, H, W]``.
        - Output: ``[T, C, H, W]`` or ``[B, T, C, H, W]``.

    Example:
        >>> Intensity2Latency(2, to_spike=True)(torch.tensor([[[3.0, 0.0, 1.0]]]))[:, 0, 0]
        tensor([[1., 0., 0.],
                [1., 0., 1.]])
    """

    def __init__(self, number_of_spike_bins: int, to_spike: bool = False) -> None:
        self.time_steps = _positive_int(number_of_spike_bins, "number_of_spike_bins")
        self.to_spike = bool(to_spike)

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


class LateralIntensityInhibition:
    r"""Lateral inhibition of intensities (see :func:`spyketorch.functional.intensity_lateral_inhibition`).

    Args:
        inhibition_percents: fractions :math:`p_1, p_2, \dots` by which a pixel
            is weakened for each stronger neighbour at Chebyshev distance 1, 2, ...

    Shape:
        ``[..., H, W]`` -> same shape.

    Example:
        >>> LateralIntensityInhibition([0.5])(torch.tensor([[4.0, 2.0]]))
        tensor([[4., 1.]])
    """

    def __init__(self, inhibition_percents: Sequence[float]) -> None:
        self.inhibition_kernel = generate_inhibition_kernel(inhibition_percents)

    def __call__(self, intensities: torch.Tensor) -> torch.Tensor:
        return sf.intensity_lateral_inhibition(intensities, self.inhibition_kernel)


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


# ----------------------------------------------------------------------------
# datasets
# ----------------------------------------------------------------------------
class CacheDataset(torch.utils.data.Dataset):
    r"""Wrap a dataset and keep each transformed sample after its first access.

    Args:
        dataset: any map-style dataset returning ``(sample, target)``.
        cache_address: directory for an on-disk cache (created if missing);
            ``None`` keeps the cache in memory. Default: ``None``.

    Example:
        >>> ds = CacheDataset([(torch.zeros(1), 0)])
        >>> ds[0][1]
        0
    """

    def __init__(self, dataset: Any, cache_address: Optional[Union[str, os.PathLike]] = None) -> None:
        if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
            raise TypeError("dataset must be a map-style dataset (with __getitem__ and __len__)")
        self.dataset = dataset
        self.cache_address = None if cache_address is None else Path(cache_address)
        if self.cache_address is not None:
            self.cache_address.mkdir(parents=True, exist_ok=True)
        self.cache: List[Any] = [None] * len(dataset)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Tuple[Any, Any]:
        entry = self.cache[index]
        if entry is None:
            sample, target = self.dataset[index]
            if self.cache_address is None:
                self.cache[index] = (sample, target)
            else:
                path = self.cache_address / f"{index}.pt"
                torch.save((sample, target), path)
                self.cache[index] = path
            return sample, target
        if self.cache_address is None:
            return entry
        return tuple(torch.load(entry, weights_only=False))  # type: ignore[return-value]

    def reset_cache(self) -> None:
        r"""Forget every cached sample (and delete on-disk files)."""
        for entry in self.cache:
            if isinstance(entry, Path) and entry.exists():
                entry.unlink()
        self.cache = [None] * len(self.dataset)


def load_mnist_subset(train: bool = True, path: Optional[Union[str, os.PathLike]] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    r"""Load the real MNIST digits shipped with the package.

    The file holds 10,000 training and 2,000 test digits drawn from MNIST
    (class-balanced, seeded; see ``scripts/make_mnist_subset.py``).

    Args:
        train: training (``True``) or test digits. Default: ``True``.
        path: another ``.npz`` file of the same layout. Default: the shipped one.

    Returns:
        ``(images, labels)``: ``uint8 [N, 28, 28]`` and ``int64 [N]``.

    Example:
        >>> x, y = load_mnist_subset(train=False)
        >>> x.shape[1:], x.dtype
        (torch.Size([28, 28]), torch.uint8)
    """
    p = Path(path) if path is not None else MNIST_SUBSET_PATH
    if not p.exists():
        raise FileNotFoundError(f"MNIST subset not found at {p}")
    split = "train" if train else "test"
    with np.load(p) as d:
        images = torch.from_numpy(d[f"{split}_images"].copy())
        labels = torch.from_numpy(d[f"{split}_labels"].astype(np.int64))
    return images, labels


class MNISTSubset(torch.utils.data.Dataset):
    r"""The shipped MNIST digits as a torchvision-style dataset (PIL images, int labels).

    Args:
        train: training or test split. Default: ``True``.
        transform: applied to the PIL image. Default: ``None``.
        target_transform: applied to the label. Default: ``None``.

    Example:
        >>> ds = MNISTSubset(train=False)
        >>> img, label = ds[0]
        >>> len(ds), img.size, label
        (2000, (28, 28), 2)
    """

    def __init__(
        self,
        train: bool = True,
        transform: Optional[Callable] = None,
        target_transform: Optional[Callable] = None,
    ) -> None:
        self.train = train
        self.data, self.targets = load_mnist_subset(train)
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self) -> int:
        return self.data.shape[0]

    def __getitem__(self, index: int) -> Tuple[Any, Any]:
        from PIL import Image

        img = Image.fromarray(self.data[index].numpy(), mode="L")
        target = int(self.targets[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target


def load_mnist(data_root: Optional[Union[str, os.PathLike]] = None) -> Dict[str, torch.Tensor]:
    r"""MNIST as tensors: the shipped subset, or the full set from a torchvision root.

    Nothing is downloaded: with ``data_root`` the files must already be in
    torchvision's layout (``<data_root>/MNIST/raw``).

    Args:
        data_root: torchvision data root; ``None`` loads the shipped subset. Default: None.

    Returns:
        ``{"train_x", "train_y", "test_x", "test_y"}``: uint8 images ``[N, 28, 28]`` and long labels.

    Example:
        >>> data = load_mnist()
        >>> data["train_x"].shape, data["test_y"].dtype
        (torch.Size([10000, 28, 28]), torch.int64)
    """
    if data_root is None:
        xtr, ytr = load_mnist_subset(train=True)
        xte, yte = load_mnist_subset(train=False)
    else:
        import torchvision

        root = os.fspath(data_root)
        try:
            tr = torchvision.datasets.MNIST(root, train=True, download=False)
            te = torchvision.datasets.MNIST(root, train=False, download=False)
        except RuntimeError as exc:
            raise ValueError(f"data_root {root!r} holds no MNIST in torchvision's layout (MNIST/raw): {exc}") from None
        xtr, ytr, xte, yte = tr.data, tr.targets, te.data, te.targets
    return {"train_x": xtr, "train_y": ytr.long(), "test_x": xte, "test_y": yte.long()}

