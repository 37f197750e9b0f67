"""SpykeTorch's ``utils`` module: input coding under its reference names.

Filters, latency coding and datasets live in :mod:`spyketorch.coding`; this module keeps the
import path that code ported from SpykeTorch uses (``from spyketorch import utils``).

Example:
    >>> import spyketorch
    >>> from spyketorch import utils
    >>> utils.Intensity2Latency is spyketorch.coding.Intensity2Latency
    True
"""
from .coding.data import MNIST_SUBSET_PATH, CacheDataset, MNISTSubset, load_mnist, load_mnist_subset
from .coding.filters import (DoGKernel, Filter, FilterKernel, GaborKernel, LateralIntencityInhibition,
                             LateralIntensityInhibition, generate_inhibition_kernel)
from .coding.latency import Intensity2Latency

__all__ = [
    "FilterKernel", "DoGKernel", "GaborKernel", "Filter", "Intensity2Latency", "LateralIntensityInhibition",
    "LateralIntencityInhibition",
    "generate_inhibition_kernel", "CacheDataset", "MNISTSubset", "load_mnist_subset", "load_mnist",
    "MNIST_SUBSET_PATH",
]
