"""Input coding and data: image filters, latency coding, event input and datasets.

Example:
    >>> from spyketorch.coding import DoGKernel, Filter, Intensity2Latency
    >>> dog = Filter([DoGKernel(3, 3 / 9, 6 / 9), DoGKernel(3, 6 / 9, 3 / 9)], padding=1, thresholds=50)
    >>> latency = Intensity2Latency(15, to_spike=True)
    >>> latency(dog(torch.rand(1, 1, 28, 28) * 255)).shape  # one image -> [T, C, H, W]
    torch.Size([15, 2, 28, 28])
"""
from .data import MNIST_SUBSET_PATH, CacheDataset, MNISTSubset, load_mnist, load_mnist_subset
from .events import events_to_frames, saccade_events, saccade_path
from .filters import (DoGKernel, Filter, FilterKernel, GaborKernel, LateralIntensityInhibition,
                      generate_inhibition_kernel)
from .latency import Intensity2Latency

__all__ = [
    "FilterKernel", "DoGKernel", "GaborKernel", "Filter", "LateralIntensityInhibition",
    "generate_inhibition_kernel", "Intensity2Latency", "events_to_frames", "saccade_events", "saccade_path",
    "CacheDataset", "MNISTSubset", "load_mnist_subset", "load_mnist", "MNIST_SUBSET_PATH",
]
