"""Datasets: an on-disk/in-memory cache of transformed samples, the shipped MNIST subset and
MNIST in torchvision's layout.

Example:
    >>> from spyketorch.coding.data import MNIST_SUBSET_PATH
    >>> MNIST_SUBSET_PATH.name, MNIST_SUBSET_PATH.exists()
    ('mnist_subset.npz', True)
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import numpy as np
import torch


MNIST_SUBSET_PATH = Path(__file__).resolve().parents[1] / "data" / "mnist_subset.npz"

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
