"""Input coding and data: image filters, latency coding, event input and datasets."""
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
