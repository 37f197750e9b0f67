"""Tests of spyketorch.utils: filters, latency coding, inhibition, datasets."""
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from torchvision import transforms

import spyketorch.functional as sf
import spyketorch.utils as su

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


# ---------------------------------------------------------------------------
# kernels
# ---------------------------------------------------------------------------
def test_dog_kernel_formula():
    k = su.DoGKernel(7, 1.0, 2.0)()
    ref = np.zeros((7, 7))
    for i in range(7):
        for j in range(7):
            d2 = (i - 3) ** 2 + (j - 3) ** 2
            ref[i, j] = (math.exp(-d2 / 2) - math.exp(-d2 / 8) / 4) / (2 * math.pi)
    ref -= ref.mean()
    ref /= ref.max()
    assert torch.allclose(k, torch.from_numpy(ref).float(), atol=1e-6)
    assert k.sum().abs() < 1e-5 and k.max() == 1.0
    assert k[3, 3] == 1.0  # on-centre
    off = su.DoGKernel(7, 2.0, 1.0)()
    assert off[3, 3] < 0 and off.max() == pytest.approx(1.0)


def test_gabor_kernel_formula_and_orientation():
    k = su.GaborKernel(5, 30.0, div=4.0)()
    lam, sigma, gamma, th = 5 * 2 / 4, 0.8 * 5 * 2 / 4, 0.3, math.radians(30)
    ref = np.zeros((5, 5))
    for i in range(5):
        for j in range(5):
            x, y = i - 2, j - 2
            big_x = x * math.cos(th) + y * math.sin(th)
            big_y = -x * math.sin(th) + y * math.cos(th)
            ref[i, j] = math.exp(-(big_x**2 + gamma**2 * big_y**2) / (2 * sigma**2)) * math.cos(2 * math.pi * big_x / lam)
    ref -= ref.mean()
    ref /= ref.max()
    assert torch.allclose(k, torch.from_numpy(ref).float(), atol=1e-6)
    k0, k90 = su.GaborKernel(7, 0)(), su.GaborKernel(7, 90)()
    assert torch.allclose(k90, k0.T, atol=1e-6)


def test_kernel_argument_errors():
    with pytest.raises(ValueError, match="window_size"):
        su.DoGKernel(6, 1, 2)
    with pytest.raises(ValueError, match="sigma1"):
        su.DoGKernel(5, -1, 2)
    with pytest.raises(TypeError, match="orientation"):
        su.GaborKernel(5, "45")


# ---------------------------------------------------------------------------
# Filter
# ---------------------------------------------------------------------------
def test_filter_thresholds_number_and_per_kernel():
    img = torch.zeros(1, 5, 5)
    img[0, 2, 2] = 10.0
    ident = torch.zeros(3, 3)
    ident[1, 1] = 1.0
    kernels = [ident, 2 * ident]
    out = su.Filter(kernels, padding=1)(img)
    assert out.shape == (2, 5, 5) and out[0, 2, 2] == 10 and out[1, 2, 2] == 20
    assert su.Filter(kernels, padding=1, thresholds=15)(img)[:, 2, 2].tolist() == [0, 20]
    # per-kernel thresholds: list, tuple and tensor (the reference crashes on these)
    for th in ([5, 25], (5, 25), torch.tensor([5.0, 25.0])):
        assert su.Filter(kernels, padding=1, thresholds=th)(img)[:, 2, 2].tolist() == [10, 0]
    # a value equal to the threshold is kept
    assert su.Filter(kernels, padding=1, thresholds=[10, 20])(img)[:, 2, 2].tolist() == [10, 20]
    with pytest.raises(ValueError, match="thresholds"):
        su.Filter(kernels, thresholds=[1, 2, 3])


def test_filter_pads_small_kernels_centred_and_abs_and_batch():
    img = torch.rand(3, 1, 9, 9)
    small = torch.zeros(3, 3)
    small[1, 1] = -1.0
    f = su.Filter([su.DoGKernel(5, 1, 2), small], padding=2, use_abs=True)
    assert f.kernels.shape == (2, 1, 5, 5) and f.kernels[1, 0, 2, 2] == -1.0
    out = f(img)
    assert out.shape == (3, 2, 9, 9)
    assert torch.allclose(out[:, 1], img[:, 0])  # |-x| of a centred identity
    assert torch.equal(out, torch.stack([f(i) for i in img]))
    with pytest.raises(ValueError, match="grey"):
        f(torch.rand(3, 9, 9))


# ---------------------------------------------------------------------------
# latency coding
# ---------------------------------------------------------------------------
def test_intensity_to_latency_known_image():
    img = torch.tensor([[[5.0, 0.0, 3.0], [1.0, 4.0, 2.0]]])  # 5 non-zero values, T = 3
    coder = su.Intensity2Latency(3)
    times = coder.spike_times(img)
    # ranks 5:0 4:1 3:2 2:3 1:4 -> floor(rank * 3 / 5)
    assert times.tolist() == [[[0, 3, 1], [2, 0, 1]]]
    wave = coder(img)
    assert wave.shape == (3, 1, 2, 3)
    assert wave[0].tolist() == [[[5, 0, 0], [0, 4, 0]]]
    assert torch.equal(wave[-1], img)  # every non-zero value has fired by the end
    spikes = su.Intensity2Latency(3, to_spike=True)(img)
    assert torch.equal(spikes, (wave > 0).float())
    assert spikes.sum(dim=(1, 2, 3)).tolist() == [2, 4, 5]  # nearly equal bins, accumulating


def test_intensity_to_latency_fewer_values_than_steps_and_ties():
    img = torch.zeros(1, 4, 4)
    img[0, 1, 1], img[0, 3, 0] = 2.0, 7.0
    times = su.Intensity2Latency(15).spike_times(img)
    assert times[0, 3, 0] == 0 and times[0, 1, 1] == 7  # floor(1 * 15 / 2)
    assert (times == 15).sum() == 14  # zeros never fire
    tied = torch.full((1, 1, 4), 1.0)
    assert su.Intensity2Latency(2).spike_times(tied).flatten().tolist() == [0, 0, 1, 1]
    empty = su.Intensity2Latency(4, to_spike=True)(torch.zeros(2, 3, 3))
    assert empty.shape == (4, 2, 3, 3) and empty.sum() == 0


def test_intensity_to_latency_batch_equals_single():
    imgs = torch.rand(4, 2, 6, 6) * (torch.rand(4, 2, 6, 6) > 0.5)
    coder = su.Intensity2Latency(7)
    assert torch.equal(coder(imgs), torch.stack([coder(i) for i in imgs]))
    with pytest.raises(ValueError, match="number_of_spike_bins"):
        su.Intensity2Latency(0)


# ---------------------------------------------------------------------------
# lateral inhibition
# ---------------------------------------------------------------------------
def test_inhibition_kernel_and_transform():
    k = su.generate_inhibition_kernel([0.5, 0.25])
    assert k.shape == (5, 5)
    assert k[2, 2] == 0 and k[1, 2] == 0.5 and k[3, 3] == 0.5 and k[0, 4] == 0.25 and k[2, 0] == 0.25
    lii = su.LateralIntensityInhibition([0.5, 0.25], mode="weaken")
    img = torch.tensor([[[4.0, 2.0, 1.0]]])
    # 2: one stronger neighbour at distance 1; 1: stronger at distances 1 (0.5) and 2 (0.25)
    assert lii(img).tolist() == [[[4.0, 1.0, 0.25]]]
    # SpykeTorch's computation, under SpykeTorch's spelling: each pixel gains p_d for every weaker
    # pixel at distance d, the zeros beyond the border included; e.g. 4 outranks all 8 pixels at
    # distance 1 and all 16 at distance 2: 4 * (1 + 8 * 0.5 + 16 * 0.25) = 36
    spyke = su.LateralIntencityInhibition([0.5, 0.25])
    assert spyke.mode == "strengthen" and su.LateralIntencityInhibition is su.LateralIntensityInhibition
    out = spyke(img)
    ref = []
    for j, v in enumerate([4.0, 2.0, 1.0]):
        gain = 0.0
        for di in range(-2, 3):
            for dj in range(-2, 3):
                d = max(abs(di), abs(dj))
                if d == 0:
                    continue
                other = [4.0, 2.0, 1.0][j + dj] if di == 0 and 0 <= j + dj < 3 else 0.0
                gain += [0.5, 0.25][d - 1] * (v > other)
        ref.append(v * (1 + gain))
    assert out.tolist() == [[ref]] and ref[0] == 36.0
    with pytest.raises(ValueError, match="inhibition_percents"):
        su.generate_inhibition_kernel([1.5])


# ---------------------------------------------------------------------------
# datasets
# ---------------------------------------------------------------------------
class CountingDataset(torch.utils.data.Dataset):
    def __init__(self):
        self.calls = 0

    def __len__(self):
        return 3

    def __getitem__(self, i):
        self.calls += 1
        return torch.full((2,), float(i)), i


def test_cache_dataset_in_memory_and_on_disk(tmp_path):
    base = CountingDataset()
    ds = su.CacheDataset(base)
    assert ds[1][1] == 1 and ds[1][1] == 1 and base.calls == 1
    ds.reset_cache()
    ds[1]
    assert base.calls == 2
    disk_base = CountingDataset()
    disk = su.CacheDataset(disk_base, cache_address=tmp_path / "cache")
    x, y = disk[2]
    x2, y2 = disk[2]
    assert disk_base.calls == 1 and torch.equal(x, x2) and y2 == 2
    assert (tmp_path / "cache" / "2.pt").exists()
    disk.reset_cache()
    assert not (tmp_path / "cache" / "2.pt").exists()
    assert len(disk) == 3


def test_shipped_subset_shapes_and_balance():
    x, y = su.load_mnist_subset(train=True)
    assert x.shape == (10000, 28, 28) and x.dtype == torch.uint8 and y.dtype == torch.int64
    assert torch.bincount(y).tolist() == [1000] * 10
    xt, yt = su.load_mnist_subset(train=False)
    assert xt.shape == (2000, 28, 28) and torch.bincount(yt).tolist() == [200] * 10
    assert su.MNIST_SUBSET_PATH.stat().st_size < 5_000_000


@pytest.mark.skipif(not (SHARED_DATA / "MNIST" / "raw").exists(), reason="full MNIST not available")
def test_shipped_subset_is_real_mnist():
    with np.load(su.MNIST_SUBSET_PATH) as d:
        idx = d["test_indices"][:50]
    mnist = torchvision.datasets.MNIST(SHARED_DATA, train=False, download=False)
    xt, yt = su.load_mnist_subset(train=False)
    assert torch.equal(xt[:50], mnist.data[idx])
    assert torch.equal(yt[:50], mnist.targets[idx])


def test_transforms_compose_with_torchvision_dataset():
    filt = su.Filter([su.DoGKernel(7, 1, 2), su.DoGKernel(7, 2, 1)], padding=3, thresholds=50)
    pipeline = transforms.Compose([
        transforms.ToTensor(),
        transforms.Lambda(lambda t: t * 255),
        filt,
        transforms.Lambda(lambda t: sf.local_normalization(t, 8)),
        su.Intensity2Latency(15, to_spike=True),
    ])
    ds = su.CacheDataset(su.MNISTSubset(train=False, transform=pipeline))
    wave, label = ds[0]
    assert wave.shape == (15, 2, 28, 28) and label == int(su.load_mnist_subset(False)[1][0])
    assert wave[0].sum() > 0 and (wave[1:] >= wave[:-1]).all()  # spikes accumulate
    loader = torch.utils.data.DataLoader(ds, batch_size=4)
    xb, yb = next(iter(loader))
    assert xb.shape == (4, 15, 2, 28, 28) and yb.shape == (4,)
