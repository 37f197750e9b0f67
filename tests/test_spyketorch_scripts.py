"""SpykeTorch's own scripts, ported by changing their imports only, compute what they compute there.

The pipelines of ``KheradpishehDeep.py``, ``MozafariDeep.py``, ``MozafariShallow.py`` and the
tutorial notebook (github miladmozafari/SpykeTorch) are replayed on a few shipped digits, call
for call as the scripts make them (``sf.*``, ``snn.*``, ``utils.*``, ``vis.*``), and every stage
(transform, convolution, fire, inhibition, winners, STDP update, feature pictures) is checked
against the reference's rule written here independently, with loops or plain tensor arithmetic.

The one stage that differs on purpose is the latency *binning*: SpykeTorch gives each of the
``T`` steps ``n // T`` values and never fires the weakest ``n mod T``, spyketorch spreads all
``n`` (see ``Intensity2Latency``); ``test_latency_bins_relate_to_the_reference`` pins the exact
relation. Every later stage is fed the port's own wave, so it is compared on the same input.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms

import spyketorch.functional as sf
import spyketorch.snn as snn
import spyketorch.utils as utils
import spyketorch.visualization as vis


# ----------------------------------------------------------------------------- the reference's rules
def ref_dog(window: int, s1: float, s2: float) -> np.ndarray:
    r = window // 2
    x, y = np.mgrid[-r:r + 1, -r:r + 1].astype(np.float64)
    d2 = x * x + y * y
    g = (np.exp(-d2 / (2 * s1 * s1)) / (s1 * s1) - np.exp(-d2 / (2 * s2 * s2)) / (s2 * s2)) / (2 * math.pi)
    g = g - g.mean()
    return g / g.max()


def ref_gabor(window: int, orientation: float, div: float = 4.0) -> np.ndarray:
    r = window // 2
    x, y = np.mgrid[-r:r + 1, -r:r + 1].astype(np.float64)   # x: row, y: column
    lam = window * 2 / div
    sigma = 0.8 * lam
    th = orientation * math.pi / 180
    big_y = y * math.cos(th) - x * math.sin(th)
    big_x = y * math.sin(th) + x * math.cos(th)
    g = np.exp(-(big_x ** 2 + 0.09 * big_y ** 2) / (2 * sigma * sigma)) * np.cos(2 * math.pi * big_x / lam)
    g = g - g.mean()
    return g / g.max()


def ref_correlate(img: np.ndarray, kernels: list, padding: int) -> np.ndarray:
    """[H, W] image with each [k, k] kernel (centred in the largest), zero padding: [K, H', W'] float64."""
    kmax = max(k.shape[0] for k in kernels)
    xp = np.pad(img.astype(np.float64), padding)
    ho, wo = xp.shape[0] - kmax + 1, xp.shape[1] - kmax + 1
    out = np.zeros((len(kernels), ho, wo))
    for n, k in enumerate(kernels):
        off = (kmax - k.shape[0]) // 2
        kk = np.zeros((kmax, kmax))
        kk[off:off + k.shape[0], off:off + k.shape[0]] = k
        for i, j in itertools.product(range(kmax), range(kmax)):
            out[n] += kk[i, j] * xp[i:i + ho, j:j + wo]
    return out


def ref_local_norm(x: np.ndarray, r: int, eps: float = 1e-12) -> np.ndarray:
    """Each value over the mean of its (2r+1)^2 window, zero padding counted."""
    c, h, w = x.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (r, r), (r, r)))
    s = np.zeros_like(x, dtype=np.float64)
    for i, j in itertools.product(range(2 * r + 1), range(2 * r + 1)):
        s += xp[:, i:i + h, j:j + w]
    return x / (s / (2 * r + 1) ** 2 + eps)


def ref_latency_steps(x: np.ndarray, T: int) -> np.ndarray:
    """SpykeTorch's bins: sort all values descending (stable), T bins of n // T values; the rest never fire."""
    flat = x.reshape(-1)
    n = int(np.count_nonzero(flat))
    size = n // T
    order = np.argsort(-flat, kind="stable")
    steps = np.full(flat.shape, T)
    for t in range(T):
        steps[order[t * size:(t + 1) * size]] = t
    return steps.reshape(x.shape)


def ref_conv(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """[T, C, H, W] (*) [F, C, kh, kw], stride 1, float64 sums of products."""
    t, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    out = torch.zeros(t, f, h - kh + 1, wd - kw + 1, dtype=torch.float64)
    for ci, i, j in itertools.product(range(c), range(kh), range(kw)):
        out += w[:, ci, i, j].double().view(1, f, 1, 1) * x[:, ci:ci + 1, i:i + h - kh + 1, j:j + wd - kw + 1].double()
    return out


def ref_pool(x: torch.Tensor, k: int, s: int, p: int = 0) -> torch.Tensor:
    """max_pool2d: the maximum of each window's values inside the map (padding never wins)."""
    *lead, h, w = x.shape
    ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    out = torch.empty(*lead, ho, wo, dtype=x.dtype)
    for i, j in itertools.product(range(ho), range(wo)):
        r0, c0 = max(i * s - p, 0), max(j * s - p, 0)
        out[..., i, j] = x[..., r0:i * s - p + k, c0:j * s - p + k].amax(dim=(-2, -1))
    return out


def ref_fire(pot: torch.Tensor, thr=None):
    """Keep the potentials above the threshold (all but the last step zeroed without one), spikes = sign."""
    out = pot.clone()
    if thr is None:
        out[:-1] = 0
    else:
        out = torch.where(pot > thr, pot, torch.zeros(()))
    return out.sign(), out


def ref_pointwise(tp: torch.Tensor) -> torch.Tensor:
    """At each position, the feature of largest value at the first step any feature fires keeps its potentials."""
    T, C, H, W = tp.shape
    out = torch.zeros_like(tp)
    for i, j in itertools.product(range(H), range(W)):
        col = tp[:, :, i, j]                                   # [T, C]
        fired = [t for t in range(T) if float(col[t].max()) > 0]
        if not fired or float(col[-1].max()) <= 0:
            continue
        t0 = fired[0]
        best = max(range(C), key=lambda c: (float(col[t0, c]), -c))
        out[:, best, i, j] = tp[:, best, i, j]
    return out


def ref_winners(pot: torch.Tensor, kwta: int, radius: int, spikes: torch.Tensor):
    """Earliest spike, then the reference's score count * (value + T max) in the potentials' dtype."""
    T = spikes.shape[0]
    count = spikes.sum(0)
    first = (T - count).long().clamp(0, T - 1)
    value = pot.gather(0, first.unsqueeze(0))[0] * (count > 0)
    v = value.max() * T
    total = count * (value + v)                                # the reference's score, same dtype
    out = []
    for _ in range(kwta):
        best = int(total.reshape(-1).argmax())
        if float(total.reshape(-1)[best]) == 0:
            break
        f, r, c = np.unravel_index(best, total.shape)
        out.append((int(f), int(r), int(c)))
        total[f] = 0
        if radius:
            total[:, max(0, r - radius):r + radius + 1, max(0, c - radius):c + radius + 1] = 0
    return out


def ref_stdp(w: torch.Tensor, inp: torch.Tensor, out_spk: torch.Tensor, winners, ap: float, an: float,
             stabilizer: bool = True, lo: float = 0.0, hi: float = 1.0) -> torch.Tensor:
    """Pre not after post (more accumulated input steps than the winner's) -> a+, else a-; one clamp."""
    kh, kw = w.shape[2:]
    pre = inp.sum(0)
    post = out_spk.sum(0)
    lr = torch.zeros_like(w)
    for f, r, c in winners:
        ge = pre[:, r:r + kh, c:c + kw] >= post[f, r, c]
        lr[f] = torch.where(ge, torch.tensor(ap, dtype=w.dtype), torch.tensor(an, dtype=w.dtype))
    new = w + (lr * ((w - lo) * (hi - w)) if stabilizer else lr)
    return new.clamp(lo, hi)


def ref_lateral(x: np.ndarray, percents) -> np.ndarray:
    """Each value gains p_d of itself for every strictly weaker pixel at distance d (outside: 0)."""
    n = len(percents)
    c, h, w = x.shape
    out = x.astype(np.float64).copy()
    for ch, i, j in itertools.product(range(c), range(h), range(w)):
        gain = 0.0
        for di, dj in itertools.product(range(-n, n + 1), range(-n, n + 1)):
            d = max(abs(di), abs(dj))
            if d == 0:
                continue
            ii, jj = i + di, j + dj
            other = x[ch, ii, jj] if 0 <= ii < h and 0 <= jj < w else 0.0
            if x[ch, i, j] > other:
                gain += percents[d - 1]
        out[ch, i, j] = x[ch, i, j] * (1 + gain)
    return out


def ref_deep_feature(pre: torch.Tensor, cstride, window, stride, weights=None):
    c, h, w = pre.shape
    size = (h + (window[0] - 1) * cstride[0], w + (window[1] - 1) * cstride[1])
    new_stride = (cstride[0] * stride[0], cstride[1] * stride[1])
    if weights is None:
        out = torch.zeros(c, *size)
        r0, c0 = size[0] // 2 - h // 2, size[1] // 2 - w // 2
        out[:, r0:r0 + h, c0:c0 + w] = pre
        return out, new_stride
    out = torch.zeros(weights.shape[0], *size)
    for f, r, col in itertools.product(range(weights.shape[0]), range(window[0]), range(window[1])):
        best = torch.stack([pre[ci] * weights[f, ci, r, col] for ci in range(c)]).max(dim=0).values
        out[f, r * cstride[0]:r * cstride[0] + h, col * cstride[1]:col * cstride[1] + w] += best
    return out.clamp(min=0), new_stride


# ----------------------------------------------------------------------------- shared pieces
@pytest.fixture(scope="module")
def digits():
    x, y = utils.load_mnist_subset(train=True)
    return [Image.fromarray(x[i].numpy(), mode="L") for i in range(6)], y[:6]


def _check_stage_fire(pot, thr):
    spk, tp = sf.fire(pot, thr, True)
    rs, rt = ref_fire(pot, thr)
    assert torch.equal(spk, rs) and torch.equal(tp, rt)
    return spk, tp


def _check_winners(pot, k, r, spk):
    winners = sf.get_k_winners(pot, k, r, spk)
    assert winners == ref_winners(pot, k, r, spk)
    return winners


def _check_update(stdp, conv, inp, pot, spk, winners, ap, an, **kw):
    w0 = conv.weight.clone()
    stdp(inp, pot, spk, winners)
    expect = ref_stdp(w0, inp, spk, winners, ap, an, **kw)
    assert torch.equal(conv.weight, expect)
    if winners:
        assert not torch.equal(conv.weight, w0)


# ----------------------------------------------------------------------------- KheradpishehDeep.py
class S1Transform:
    """The script's transform, verbatim but for the print."""

    def __init__(self, filter, timesteps=15):
        self.to_tensor = transforms.ToTensor()
        self.filter = filter
        self.temporal_transform = utils.Intensity2Latency(timesteps)

    def __call__(self, image):
        image = self.to_tensor(image) * 255
        image.unsqueeze_(0)
        image = self.filter(image)
        image = sf.local_normalization(image, 8)
        temporal_image = self.temporal_transform(image)
        return temporal_image.sign().byte()


def _kherad_filter():
    return utils.Filter([utils.DoGKernel(7, 1, 2), utils.DoGKernel(7, 2, 1)], padding=3, thresholds=50)


def test_kheradpisheh_s1_transform_stages(digits):
    images, _ = digits
    filt = _kherad_filter()
    kernels = [ref_dog(7, 1, 2), ref_dog(7, 2, 1)]
    for img in images[:3]:
        x = transforms.ToTensor()(img) * 255
        x.unsqueeze_(0)                                         # SpykeTorch's one image: [1, 1, 28, 28]
        f = filt(x)
        assert f.shape == (1, 2, 28, 28)
        raw = ref_correlate(x[0, 0].numpy(), kernels, 3)
        ref_f = np.where(raw < 50, 0.0, raw)
        np.testing.assert_allclose(f[0].numpy(), ref_f, rtol=1e-5, atol=1e-3)
        n = sf.local_normalization(f, 8)
        assert n.shape == (1, 2, 28, 28)
        np.testing.assert_allclose(n[0].numpy(), ref_local_norm(f[0].numpy(), 8), rtol=1e-5, atol=1e-6)
        lat = utils.Intensity2Latency(15)(n)
        assert lat.shape == (15, 2, 28, 28) and lat.dtype == torch.float32   # as SpykeTorch: time first
        wave = S1Transform(filt)(img)
        assert wave.shape == (15, 2, 28, 28) and wave.dtype == torch.uint8
        assert torch.equal(wave, lat.sign().byte())
        # intensities ride on the spikes, spikes accumulate, every non-zero value fires by the end
        assert torch.equal(lat, n[0].unsqueeze(0) * wave.float())
        assert bool((wave[1:] >= wave[:-1]).all()) and torch.equal(wave[-1].bool(), n[0] != 0)


def test_latency_bins_relate_to_the_reference(digits):
    """Here every non-zero value fires, at floor(rank T / n); the reference fires rank < T (n // T) at
    floor(rank / (n // T)). So each value fires here no later than there, and at the same step when T divides n."""
    images, _ = digits
    filt = _kherad_filter()
    for img in images:
        x = (transforms.ToTensor()(img) * 255).unsqueeze(0)
        n = sf.local_normalization(filt(x), 8)
        here = sf.spike_times(utils.Intensity2Latency(15)(n).sign())
        there = torch.from_numpy(ref_latency_steps(n[0].numpy(), 15))
        fired = there < 15
        assert bool((here[fired] <= there[fired]).all())
        assert bool((here[n[0] != 0] < 15).all()) and bool((here[n[0] == 0] == 15).all())
        if int((n != 0).sum()) % 15 == 0:
            assert torch.equal(here, there)
    g = torch.Generator().manual_seed(3)
    x = torch.rand(1, 2, 6, 5, generator=g) * (torch.rand(1, 2, 6, 5, generator=g) < 0.75)
    x = x.flatten()
    x[(x != 0).nonzero()[:(int((x != 0).sum()) % 5)]] = 0.0    # n divisible by T = 5
    x = x.view(1, 2, 6, 5)
    here = sf.spike_times(utils.Intensity2Latency(5)(x).sign())
    assert torch.equal(here, torch.from_numpy(ref_latency_steps(x[0].numpy(), 5)))


def test_kheradpisheh_training_and_features_replay(digits):
    images, _ = digits
    s1 = S1Transform(_kherad_filter())
    data = torch.stack([s1(img) for img in images[:4]])           # DataLoader(batch_size=len(dataset))
    assert data.shape == (4, 15, 2, 28, 28)
    torch.manual_seed(0)
    conv1 = snn.Convolution(2, 32, 5, 0.8, 0.05)
    conv2 = snn.Convolution(32, 150, 2, 0.8, 0.05)
    stdp1 = snn.STDP(conv1, (0.004, -0.003))
    stdp2 = snn.STDP(conv2, (0.004, -0.003))
    max_ap = torch.nn.Parameter(torch.Tensor([0.15]))
    # the script's learning-rate doubling reads learning_rate[0][0] as a tensor with .item() and .device
    ap = torch.tensor(stdp1.learning_rate[0][0].item(), device=stdp1.learning_rate[0][0].device) * 2
    ap = torch.min(ap, max_ap)
    an = ap * -0.75
    stdp1.update_all_learning_rate(ap.item(), an.item())
    assert stdp1.learning_rate.shape == (32, 2) and torch.allclose(stdp1.learning_rate[5], torch.tensor([0.008, -0.006]))
    rates1 = (stdp1.learning_rate[0][0].item(), stdp1.learning_rate[0][1].item())
    for x in data[:2]:                                            # layer 1: forward(input, 1) then stdp(1)
        inp = sf.pad(x.float(), (2, 2, 2, 2), 0)
        pot = conv1(inp)
        assert pot.shape == (15, 32, 28, 28)
        torch.testing.assert_close(pot.double(), ref_conv(inp, conv1.weight), rtol=1e-5, atol=1e-4)
        spk, pot = _check_stage_fire(pot, 10)
        pot = sf.pointwise_inhibition(pot)
        assert torch.equal(pot, ref_pointwise(_check_stage_fire(conv1(inp), 10)[1]))
        spk = pot.sign()
        winners = _check_winners(pot, 5, 2, spk)
        assert len(winners) == 5
        _check_update(stdp1, conv1, inp, pot, spk, winners, *rates1)
    for x in data[2:]:                                            # layer 2: forward(input, 2) then stdp(2)
        inp = sf.pad(x.float(), (2, 2, 2, 2), 0)
        spk, pot = sf.fire(conv1(inp), 10, True)
        pooled = sf.pooling(spk, 2, 2, 1)
        assert torch.equal(pooled, ref_pool(spk, 2, 2, 1)) and pooled.shape == (15, 32, 15, 15)
        spk_in = sf.pad(pooled, (1, 1, 1, 1))
        spk_in = sf.pointwise_inhibition(spk_in)
        assert torch.equal(spk_in, ref_pointwise(sf.pad(pooled, (1, 1, 1, 1))))
        pot = conv2(spk_in)
        assert pot.shape == (15, 150, 16, 16)
        torch.testing.assert_close(pot.double(), ref_conv(spk_in, conv2.weight), rtol=1e-5, atol=1e-4)
        spk, pot = _check_stage_fire(pot, 1)
        pot = sf.pointwise_inhibition(pot)
        spk = pot.sign()
        winners = _check_winners(pot, 8, 1, spk)
        _check_update(stdp2, conv2, spk_in, pot, spk, winners, 0.004, -0.003)
    # test(): eval forward, then .max(dim=0) reduces *time*: 150 x 9 x 9 = 12,150 features per digit
    feats = []
    for x in data:
        inp = sf.pad(x.float(), (2, 2, 2, 2), 0)
        spk, pot = sf.fire(conv1(inp), 10, True)
        pot = conv2(sf.pad(sf.pooling(spk, 2, 2, 1), (1, 1, 1, 1)))
        spk, pot = sf.fire(pot, 1, True)
        spk = sf.pooling(spk, 2, 2, 1)
        assert spk.shape == (15, 150, 9, 9)
        output, _ = spk.max(dim=0)
        assert torch.equal(output, spk[-1])                      # accumulated spikes: the last step
        feats.append(output.reshape(-1).numpy())
    assert np.array(feats).shape == (4, 12150)


# ----------------------------------------------------------------------------- MozafariDeep.py
def test_mozafari_deep_replay(digits):
    images, targets = digits
    kernels = [utils.DoGKernel(3, 3 / 9, 6 / 9), utils.DoGKernel(3, 6 / 9, 3 / 9),
               utils.DoGKernel(7, 7 / 9, 14 / 9), utils.DoGKernel(7, 14 / 9, 7 / 9),
               utils.DoGKernel(13, 13 / 9, 26 / 9), utils.DoGKernel(13, 26 / 9, 13 / 9)]
    filt = utils.Filter(kernels, padding=6, thresholds=50)
    s1c1 = S1Transform(filt)
    x0 = (transforms.ToTensor()(images[0]) * 255).unsqueeze(0)
    ref_k = [ref_dog(3, 3 / 9, 6 / 9), ref_dog(3, 6 / 9, 3 / 9), ref_dog(7, 7 / 9, 14 / 9), ref_dog(7, 14 / 9, 7 / 9),
             ref_dog(13, 13 / 9, 26 / 9), ref_dog(13, 26 / 9, 13 / 9)]
    raw = ref_correlate(x0[0, 0].numpy(), ref_k, 6)
    np.testing.assert_allclose(filt(x0)[0].numpy(), np.where(raw < 50, 0.0, raw), rtol=1e-5, atol=1e-3)
    data = torch.stack([s1c1(img) for img in images[:4]])
    assert data.shape == (4, 15, 6, 28, 28)
    torch.manual_seed(1)
    conv1 = snn.Convolution(6, 30, 5, 0.8, 0.05)
    conv2 = snn.Convolution(30, 250, 3, 0.8, 0.05)
    conv3 = snn.Convolution(250, 200, 5, 0.8, 0.05)
    stdp1 = snn.STDP(conv1, (0.004, -0.003))
    stdp2 = snn.STDP(conv2, (0.004, -0.003))
    stdp3 = snn.STDP(conv3, (0.004, -0.003), False, 0.2, 0.8)
    anti_stdp3 = snn.STDP(conv3, (-0.004, 0.0005), False, 0.2, 0.8)
    decision_map = []
    for i in range(10):
        decision_map.extend([i] * 20)
    x = data[0]
    inp = sf.pad(x.float(), (2, 2, 2, 2), 0)                     # layer 1
    spk, pot = _check_stage_fire(conv1(inp), 15)
    pot = sf.pointwise_inhibition(pot)
    assert torch.equal(pot, ref_pointwise(ref_fire(conv1(inp), 15)[1]))
    spk = pot.sign()
    winners = _check_winners(pot, 5, 3, spk)
    _check_update(stdp1, conv1, inp, pot, spk, winners, 0.004, -0.003)
    x = data[1]                                                   # layer 2
    inp = sf.pad(x.float(), (2, 2, 2, 2), 0)
    spk, pot = sf.fire(conv1(inp), 15, True)
    spk_in = sf.pad(sf.pooling(spk, 2, 2), (1, 1, 1, 1))
    assert torch.equal(spk_in[:, :, 1:-1, 1:-1], ref_pool(spk, 2, 2)) and spk_in.shape == (15, 30, 16, 16)
    spk, pot = _check_stage_fire(conv2(spk_in), 10)
    pot = sf.pointwise_inhibition(pot)
    spk = pot.sign()
    winners = _check_winners(pot, 8, 1, spk)
    _check_update(stdp2, conv2, spk_in, pot, spk, winners, 0.004, -0.003)
    # initial adaptive rates, read as the script reads them
    apr, anr = stdp3.learning_rate[0][0].item(), stdp3.learning_rate[0][1].item()
    app, anp = anti_stdp3.learning_rate[0][1].item(), anti_stdp3.learning_rate[0][0].item()
    assert (apr, app) == (pytest.approx(0.004), pytest.approx(0.0005))
    stdp3.update_all_learning_rate(apr * 0.9, anr * 0.9)
    anti_stdp3.update_all_learning_rate(anp * 0.1, app * 0.1)
    decided = 0
    for x, target in zip(data[2:], targets[2:4]):                 # layer 3: R-STDP
        inp = sf.pad(x.float(), (2, 2, 2, 2), 0)
        spk, pot = sf.fire(conv1(inp), 15, True)
        spk, pot = sf.fire(conv2(sf.pad(sf.pooling(spk, 2, 2), (1, 1, 1, 1))), 10, True)
        spk_in = sf.pad(sf.pooling(spk, 3, 3), (2, 2, 2, 2))
        assert spk_in.shape == (15, 250, 8, 8)
        pot = conv3(spk_in)
        assert pot.shape == (15, 200, 4, 4)
        spk = sf.fire(pot)
        assert torch.equal(spk, ref_fire(pot)[0])
        winners = _check_winners(pot, 1, 0, spk)
        if winners:
            decided += 1
            output = decision_map[winners[0][0]]
            rule, rates = ((stdp3, (apr * 0.9, anr * 0.9)) if output == target
                           else (anti_stdp3, (anp * 0.1, app * 0.1)))
            rates = tuple(float(torch.tensor(r, dtype=torch.float32)) for r in rates)
            _check_update(rule, conv3, spk_in, pot, spk, winners, *rates, stabilizer=False, lo=0.2, hi=0.8)
    assert decided == 2


# ----------------------------------------------------------------------------- MozafariShallow.py
class S1C1Transform:
    """The script's transform, verbatim."""

    def __init__(self, filter, pooling_size, pooling_stride, lateral_inhibition=None, timesteps=15):
        self.grayscale = transforms.Grayscale()
        self.to_tensor = transforms.ToTensor()
        self.filter = filter
        self.pooling_size = pooling_size
        self.pooling_stride = pooling_stride
        self.lateral_inhibition = lateral_inhibition
        self.temporal_transform = utils.Intensity2Latency(timesteps)

    def __call__(self, image):
        image = self.to_tensor(self.grayscale(image))
        image.unsqueeze_(0)
        image = self.filter(image)
        image = sf.pooling(image, self.pooling_size, self.pooling_stride, padding=self.pooling_size // 2)
        if self.lateral_inhibition is not None:
            image = self.lateral_inhibition(image)
        temporal_image = self.temporal_transform(image)
        temporal_image = sf.pointwise_inhibition(temporal_image)
        return temporal_image.sign().byte()


def test_mozafari_shallow_replay(digits):
    images, targets = digits
    orientations = [45 + 22.5, 90 + 22.5, 135 + 22.5, 180 + 22.5]
    kernels = [utils.GaborKernel(5, o) for o in orientations]
    for k, o in zip(kernels, orientations):
        np.testing.assert_allclose(k().numpy(), ref_gabor(5, o), rtol=1e-5, atol=1e-6)
    filt = utils.Filter(kernels, use_abs=True)
    lateral = utils.LateralIntencityInhibition([0.15, 0.12, 0.1, 0.07, 0.05])   # SpykeTorch's spelling
    s1c1 = S1C1Transform(filt, 5, 4, lateral)
    img = images[0]
    x = transforms.ToTensor()(transforms.Grayscale()(img)).unsqueeze(0)
    f = filt(x)
    assert f.shape == (1, 4, 24, 24)
    np.testing.assert_allclose(f[0].numpy(), np.abs(ref_correlate(x[0, 0].numpy(), [ref_gabor(5, o) for o in orientations], 0)),
                               rtol=1e-5, atol=1e-6)
    p = sf.pooling(f, 5, 4, padding=2)
    assert p.shape == (1, 4, 6, 6) and torch.equal(p, ref_pool(f, 5, 4, 2))
    before = p.clone()
    li = lateral(p)
    assert torch.equal(p, before) and li.shape == (1, 4, 6, 6)   # the input is left as it was
    np.testing.assert_allclose(li[0].numpy(), ref_lateral(p[0].numpy(), [0.15, 0.12, 0.1, 0.07, 0.05]), rtol=1e-6)
    lat = utils.Intensity2Latency(15)(li)
    assert lat.shape == (15, 4, 6, 6)
    inhibited = sf.pointwise_inhibition(lat)
    assert torch.equal(inhibited, ref_pointwise(lat))
    assert torch.equal(s1c1(img), inhibited.sign().byte())
    data = torch.stack([s1c1(im) for im in images[:4]])
    assert data.shape == (4, 15, 4, 6, 6)
    # Mozafari2018(4, 10, 2, (3, 3), threshold, ...) on these small maps, with its dropout
    torch.manual_seed(2)
    s2 = snn.Convolution(4, 20, (3, 3), 0.8, 0.05)
    stdp = snn.STDP(s2, (0.005, -0.0025))
    anti_stdp = snn.STDP(s2, (-0.005, 0.0005))
    decision_map = [0] * 10 + [1] * 10
    to_be_dropped = torch.bernoulli(torch.ones(20) * 0.5).nonzero()   # [n, 1] long, as the script makes it
    assert to_be_dropped.dim() == 2 and to_be_dropped.numel() > 0
    for x, target in zip(data, targets[:4] % 2):
        inp = x.float()
        pot = s2(inp)
        sf.feature_inhibition_(pot, to_be_dropped)
        assert float(pot[:, to_be_dropped.flatten()].abs().sum()) == 0
        spk, pot = _check_stage_fire(pot, 3.0)
        winners = _check_winners(pot, 1, 0, spk)
        assert winners and winners[0][0] not in to_be_dropped.flatten().tolist()
        rule, rates = (stdp, (0.005, -0.0025)) if decision_map[winners[0][0]] == target else (anti_stdp, (-0.005, 0.0005))
        rates = tuple(float(torch.tensor(r, dtype=torch.float32)) for r in rates)
        _check_update(rule, s2, inp, pot, spk, winners, *rates)
    # the script's closing feature pictures: S1 kernels, C1 pooling, S2 weights
    feature, cstride = vis.get_deep_feature(torch.tensor([[[1]]]).float(), (1, 1), (filt.max_window_size,) * 2,
                                            (1, 1), filt.kernels)
    ref, rstride = ref_deep_feature(torch.tensor([[[1.0]]]), (1, 1), (5, 5), (1, 1), filt.kernels)
    assert cstride == rstride and torch.allclose(feature, ref)
    feature, cstride = vis.get_deep_feature(feature, cstride, (5, 5), (4, 4))
    ref, rstride = ref_deep_feature(ref, rstride, (5, 5), (4, 4))
    assert cstride == rstride == (4, 4) and torch.equal(feature, ref)
    feature, cstride = vis.get_deep_feature(feature, cstride, (3, 3), (1, 1), s2.weight)
    ref, rstride = ref_deep_feature(ref, rstride, (3, 3), (1, 1), s2.weight)
    assert feature.shape == (20, 17, 17) and cstride == rstride
    torch.testing.assert_close(feature, ref, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- tutorial.ipynb
def test_tutorial_replay(tmp_path, digits):
    images, targets = digits
    kernels = [utils.GaborKernel(window_size=3, orientation=45 + 22.5), utils.GaborKernel(3, 90 + 22.5),
               utils.GaborKernel(3, 135 + 22.5), utils.GaborKernel(3, 180 + 22.5)]
    filter = utils.Filter(kernels, use_abs=True)

    def time_dim(input):
        return input.unsqueeze(0)

    transform = transforms.Compose([transforms.Grayscale(), transforms.ToTensor(), time_dim, filter,
                                    sf.pointwise_inhibition,
                                    utils.Intensity2Latency(number_of_spike_bins=15, to_spike=True)])
    sw = transform(images[0])
    assert sw.shape == (15, 4, 26, 26)                             # sw[t, f] as the notebook plots it
    f = filter(time_dim(transforms.ToTensor()(images[0])))
    assert torch.equal(sf.pointwise_inhibition(f), ref_pointwise(f))
    dataset = utils.CacheDataset(list(zip(images, targets.tolist())))
    dataset.dataset = [(transform(im), t) for im, t in dataset.dataset]
    loader = torch.utils.data.DataLoader(dataset, batch_size=1)
    pool = snn.Pooling(kernel_size=3, stride=2)
    torch.manual_seed(3)
    conv = snn.Convolution(in_channels=4, out_channels=20, kernel_size=12)
    stdp = snn.STDP(conv_layer=conv, learning_rate=(0.05, -0.015))
    updates = 0
    for data, _ in loader:
        assert data.shape == (1, 15, 4, 26, 26)
        for x in data:
            x = pool(x)
            assert x.shape == (15, 4, 12, 12) and torch.equal(x, ref_pool(data[0], 3, 2))
            p = conv(x)
            assert p.shape == (15, 20, 1, 1)
            o, p = sf.fire(p, 20, return_thresholded_potentials=True)
            winners = sf.get_k_winners(p, kwta=1, inhibition_radius=0, spikes=o)
            assert winners == ref_winners(p, 1, 0, o)
            w0 = conv.weight.clone()
            stdp(x, p, o, winners)
            assert torch.equal(conv.weight, ref_stdp(w0, x, o, winners, 0.05, float(torch.tensor(-0.015))))
            updates += bool(winners)
    assert updates == len(dataset)
    feature = torch.stack([k() for k in kernels])
    cstride = (1, 1)
    feature, cstride = vis.get_deep_feature(feature, cstride, (3, 3), (2, 2))
    ref, rstride = ref_deep_feature(torch.stack([k() for k in kernels]), (1, 1), (3, 3), (2, 2))
    assert feature.shape == (4, 5, 5) and torch.equal(feature, ref)
    feature, cstride = vis.get_deep_feature(feature, cstride, (12, 12), (1, 1), conv.weight)
    ref, rstride = ref_deep_feature(ref, rstride, (12, 12), (1, 1), conv.weight)
    assert feature.shape == (20, 27, 27) and cstride == rstride == (2, 2)
    torch.testing.assert_close(feature, ref, rtol=1e-5, atol=1e-6)
    vis.plot_tensor_in_image(str(tmp_path / "feature_s2_0000.png"), feature[0])
    assert (tmp_path / "feature_s2_0000.png").stat().st_size > 0
