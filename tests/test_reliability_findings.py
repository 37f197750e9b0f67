"""The robustness run's findings outside the neuron layers (issue 25), one test each.

Each finding was an unclear error (an exception other than ``ValueError``/``TypeError``
naming the argument) or a silent NaN/inf/empty result. The fix either computes a valid,
finite result (checked against an independent expectation) or refuses naming the argument.
The property-based versions of these families are in ``test_reliability_properties.py``.
"""

import numpy as np
import pytest
import torch

import spyketorch.functional as sf
import spyketorch.snn as snn
import spyketorch.utils as su
from spyketorch.systems.sam import RectifiedSAM


# ----------------------------------------------------------------------------- threshold shapes
@pytest.mark.parametrize("op", [
    lambda p, t: sf.fire(p, t), lambda p, t: sf.fire(p, t, True), lambda p, t: sf.threshold(p, t),
    lambda p, t: sf.fire_(p, t), lambda p, t: sf.threshold_(p, t), lambda p, t: sf.first_spike(p, t),
])
@pytest.mark.parametrize("thr_shape", [(3,), (2, 1, 1, 5, 1), (4, 2, 1, 3, 5)])
def test_threshold_that_does_not_broadcast_is_refused_with_both_shapes(op, thr_shape):
    pot = torch.ones(2, 1, 3, 5)
    with pytest.raises(ValueError) as info:
        op(pot, torch.ones(thr_shape))
    msg = str(info.value)
    assert "threshold" in msg and str(tuple(thr_shape)) in msg and "(2, 1, 3, 5)" in msg
    assert torch.equal(pot, torch.ones(2, 1, 3, 5))   # the in-place forms left it alone


def test_thresholds_that_broadcast_still_work_batched_and_unbatched():
    g = torch.Generator().manual_seed(0)
    pot = torch.rand(2, 3, 4, 2, 5, generator=g).cumsum(1)
    thr = torch.tensor([0.5, 1.0, 1.5, 2.0]).view(4, 1, 1)       # one per feature
    full = torch.rand(3, 4, 2, 5, generator=g) * 2               # one per neuron and step
    for t in (thr, full, torch.tensor(1.0)):
        batched = sf.fire(pot, t)
        for b in range(2):
            assert torch.equal(sf.fire(pot[b], t), batched[b])
            assert torch.equal(batched[b], (pot[b] > t).float())
        times, values = sf.first_spike(pot, t)
        assert torch.equal(times[1], sf.first_spike(pot[1], t)[0])


# ----------------------------------------------------------------------------- winners of huge potentials
@pytest.mark.parametrize("scale", [1e308, 1e-300, 5e-324])
def test_get_k_winners_ranks_huge_and_tiny_float64_potentials(scale):
    """Same winners as the same potentials at scale 1 (a power-of-two-free scale may round ties)."""
    base = torch.zeros(4, 3, 2, 3, dtype=torch.float64)
    base[1:, 0, 0, 1] = 1.0           # feature 0 fires first (step 1), small value
    base[2:, 1, 1, 2] = 1.75          # feature 1 fires at step 2
    base[2:, 2, 0, 0] = 1.5           # feature 2 too, with a smaller value
    base[3:, 2, 1, 1] = 1.7           # later spike of feature 2 (x 1e308 stays below float64's 1.797e308)
    expect = [(0, 0, 1), (1, 1, 2), (2, 0, 0)]
    pot = base * scale
    assert torch.isfinite(pot).all() and pot.max() > 0
    assert sf.get_k_winners(pot, 3) == expect
    assert sf.get_k_winners(pot.unsqueeze(0).repeat(2, 1, 1, 1, 1), 3) == [expect, expect]
    inhibited = sf.pointwise_inhibition(pot)
    assert torch.equal(inhibited, sf.pointwise_inhibition(base) * scale)
    assert bool(torch.isfinite(inhibited).all())


def test_get_k_winners_near_the_float64_limit_tells_values_apart():
    pot = torch.zeros(2, 3, 1, 1, dtype=torch.float64)
    pot[1, :, 0, 0] = torch.tensor([1.0e308, 1.7e308, 1.5e308], dtype=torch.float64)
    assert sf.get_k_winners(pot, 3) == [(1, 0, 0), (2, 0, 0), (0, 0, 0)]
    with pytest.raises(ValueError, match="potentials"):
        sf.get_k_winners(pot * 10, 1)   # inf


# ----------------------------------------------------------------------------- feature_inhibition
def test_feature_inhibition_forms():
    p = torch.ones(2, 4, 1, 1)
    expect = torch.tensor([0.0, 1.0, 0.0, 1.0])
    for feats in ([0, 2], (0, 2), np.array([0, 2]), torch.tensor([[0], [2]]), [[0], [2]],
                  [True, False, True, False], torch.tensor([True, False, True, False]),
                  [np.int64(0), np.int64(2)], range(0, 3, 2)):
        assert torch.equal(sf.feature_inhibition(p, feats)[0, :, 0, 0], expect), feats
    assert torch.equal(sf.feature_inhibition(p, []), p)
    with pytest.raises(TypeError, match="potentials"):
        sf.feature_inhibition([[1.0]], [0])
    with pytest.raises(TypeError, match="inhibited_features"):
        sf.feature_inhibition(p, [0.5])
    with pytest.raises(TypeError, match="inhibited_features"):
        sf.feature_inhibition(p, [1.0])                       # an integral float is refused too
    with pytest.raises(TypeError, match="inhibited_features"):
        sf.feature_inhibition(p, "02")
    with pytest.raises(TypeError, match="inhibited_features"):
        sf.feature_inhibition(p, [[0, 1], [2]])
    with pytest.raises(ValueError, match="inhibited_features"):
        sf.feature_inhibition(p, [True, False])               # a mask of the wrong length
    with pytest.raises(ValueError, match="inhibited_features"):
        sf.feature_inhibition(p, [4])


# ----------------------------------------------------------------------------- filters
@pytest.mark.parametrize("make, word", [
    (lambda: su.GaborKernel(5, 0, div=1e-300), "div"), (lambda: su.GaborKernel(5, 30, div=1e300), "div"),
    (lambda: su.DoGKernel(5, 1e-300, 1.0), "sigma1"),
])
def test_overflowing_kernel_parameters_are_refused(make, word):
    with pytest.raises(ValueError, match=word):
        make()


def test_a_huge_dog_sigma_is_the_limit_of_one_gaussian():
    """sigma1 -> inf: its Gaussian vanishes; the kernel is -G(sigma2), zero mean and maximum 1, finite."""
    k = su.DoGKernel(7, 1e300, 1.0)()
    r = np.arange(-3, 4, dtype=np.float64)
    g = -np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / 2)
    g = g - g.mean()
    assert bool(torch.isfinite(k).all())
    torch.testing.assert_close(k, torch.from_numpy(g / g.max()).float(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_lateral_inhibition_refuses_negative_or_non_finite_kernels(bad):
    k = su.generate_inhibition_kernel([0.2])
    k[0, 1] = bad
    for mode in ("strengthen", "weaken"):
        with pytest.raises(ValueError, match="inhibition_kernel"):
            sf.intensity_lateral_inhibition(torch.rand(1, 4, 4), k, mode)
    with pytest.raises(ValueError, match="mode"):
        sf.intensity_lateral_inhibition(torch.rand(1, 4, 4), su.generate_inhibition_kernel([0.2]), "suppress")
    with pytest.raises(ValueError, match="mode"):
        su.LateralIntensityInhibition([0.2], mode="x")


# ----------------------------------------------------------------------------- latency coding
def test_spike_wave_needs_a_step():
    with pytest.raises(ValueError, match="time_steps"):
        sf.spike_wave(torch.zeros(2, 3, 3, dtype=torch.long), 0)
    assert sf.spike_wave(torch.zeros(0, 3, 3, dtype=torch.long), 1).shape == (1, 0, 3, 3)


def test_intensity_to_latency_keeps_float64_intensities_finite():
    x = torch.tensor([[[1e308, 0.0], [1.5e308, 2.0]]], dtype=torch.float64)
    out = su.Intensity2Latency(3)(x)
    assert out.dtype == torch.float64 and bool(torch.isfinite(out).all())
    assert torch.equal(out[-1], x) and out[0, 0, 1, 0] == 1.5e308   # the strongest fires first
    assert su.Intensity2Latency(3)(torch.tensor([[[2.0]]], dtype=torch.float16)).dtype == torch.float32
    assert su.Intensity2Latency(3, to_spike=True)(x).dtype == torch.float32


def test_intensity_to_latency_reading_of_four_dimensions():
    g = torch.Generator().manual_seed(1)
    one = torch.rand(2, 4, 5, generator=g)
    batch = torch.rand(3, 2, 4, 5, generator=g)
    coder = su.Intensity2Latency(6)
    assert torch.equal(coder(one.unsqueeze(0)), coder(one))                       # SpykeTorch's one image
    assert coder(one.unsqueeze(0)).shape == (6, 2, 4, 5)
    assert torch.equal(coder.spike_times(one.unsqueeze(0)), coder.spike_times(one))
    out = coder(batch)
    assert out.shape == (3, 6, 2, 4, 5)
    for b in range(3):
        assert torch.equal(out[b], coder(batch[b]))
    batched = su.Intensity2Latency(6, batched=True)
    assert torch.equal(batched(one.unsqueeze(0)), coder(one).unsqueeze(0))
    assert torch.equal(batched(batch), out)
    assert batched(torch.zeros(0, 2, 4, 5)).shape == coder(torch.zeros(0, 2, 4, 5)).shape == (0, 6, 2, 4, 5)
    with pytest.raises(ValueError, match="batched=True"):
        batched(one)
    single = su.Intensity2Latency(6, batched=False)
    assert torch.equal(single(one.unsqueeze(0)), coder(one))
    with pytest.raises(ValueError, match="batched=False"):
        single(batch)
    with pytest.raises(TypeError, match="batched"):
        su.Intensity2Latency(6, batched=1)


# ----------------------------------------------------------------------------- porting from spikeometric
def test_rectified_sam_accepts_spikeometrics_rng():
    x = torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    # spikeometric's positional order: lambda_0, theta, tau, dt, r, b, then rng
    a = RectifiedSAM(100.0, 0.0, 0.01, 0.001, 2.0, 1.0, rng=torch.Generator().manual_seed(7))
    b = RectifiedSAM(100.0, 0.0, 0.01, 0.001, 2.0, 1.0, generator=torch.Generator().manual_seed(7))
    for _ in range(3):
        assert torch.equal(a.step(x).spikes, b.step(x).spikes)
    assert isinstance(a.generator, torch.Generator)
    with pytest.raises(TypeError, match="rng"):
        RectifiedSAM(rng=torch.Generator(), generator=torch.Generator())
    with pytest.raises(TypeError, match="rng"):
        RectifiedSAM(rng=7)


# ----------------------------------------------------------------------------- STDP and the reference
def test_stdp_winners_naming_a_feature_twice_use_the_last_as_spykeTorch():
    torch.manual_seed(0)
    conv = snn.Convolution(1, 2, 2)
    stdp = snn.STDP(conv, (0.1, -0.1))
    x = torch.zeros(3, 1, 3, 3)
    x[1:, 0, 0, 0] = 1.0
    x[2:, 0, 2, 2] = 1.0
    pot = conv(x)
    spk = sf.fire(pot, 0.5)
    w0 = conv.weight.clone()
    stdp(x, pot, spk, [(0, 0, 0), (0, 1, 1)])
    twice = conv.weight.clone()
    conv.load_weight(w0)
    stdp(x, pot, spk, [(0, 1, 1)])
    assert torch.equal(twice, conv.weight)
    conv.load_weight(w0)   # a batch of two samples, each naming feature 0 once, sums both
    both = torch.stack([x, x])
    stdp(both, torch.stack([pot, pot]), torch.stack([spk, spk]), [[(0, 0, 0)], [(0, 1, 1)]])
    assert not torch.equal(conv.weight, twice)


# ----------------------------------------------------------------------------- huge counts and sizes
def test_huge_sizes_are_refused_naming_them_before_allocating():
    x = torch.rand(3, 2, 4, 5)
    for call, word in [(lambda: sf.spike_wave(torch.zeros(2, 3, 4, dtype=torch.long), 10**12), "time_steps"),
                       (lambda: su.Intensity2Latency(10**12)(x[0]), "number_of_spike_bins"),
                       (lambda: sf.pooling(x, 2, 1, 10**12), "padding"),
                       (lambda: sf.pad(x, 10**12), "pad"),
                       (lambda: snn.Convolution(2, 3, 10**12), "kernel_size"),
                       (lambda: events_to_frames_one(10**12), "time_steps")]:
        with pytest.raises(ValueError, match=word):
            call()


def events_to_frames_one(steps):
    from spyketorch.coding.events import events_to_frames

    ev = np.array([(0, 0, 0, 1)], dtype=[("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")])
    return events_to_frames(ev, (4, 4, 2), steps)


def test_a_stride_or_radius_beyond_the_map_gives_the_same_result_as_the_largest_useful_one():
    x = torch.rand(3, 2, 4, 5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(sf.pooling(x, 2, 10**12, 1), sf.pooling(x, 2, 7, 1))
    # radius >= the map: every window holds the whole map, divided by (2r + 1)^2
    for r in (5, 7, 10**12):
        expect = x / (x.sum(dim=(-2, -1), keepdim=True) / float(2 * r + 1) ** 2 + 1e-12)
        torch.testing.assert_close(sf.local_normalization(x, r), expect)
    torch.testing.assert_close(sf.local_normalization(x, 4), x / (x.sum(dim=(-2, -1), keepdim=True) / 81 + 1e-12))


def test_values_beyond_the_dtype_are_refused_not_turned_into_inf():
    with pytest.raises(ValueError, match="value"):
        sf.pad(torch.zeros(1, 1, 2, 2), 1, value=1e300)
    assert sf.pad(torch.zeros(1, 1, 2, 2, dtype=torch.float64), 1, value=1e300).max() == 1e300
    conv = snn.Convolution(1, 1, 1)
    with pytest.raises(ValueError, match="input"):
        conv(torch.full((1, 1, 2, 2), 1e300, dtype=torch.float64))
    assert torch.isfinite(conv(torch.full((1, 1, 2, 2), 1e30, dtype=torch.float64))).all()
    assert torch.isinf(conv(torch.full((1, 1, 2, 2), float("inf"), dtype=torch.float64))).all()  # inf in, inf out
    with pytest.raises(ValueError, match="inhibition_kernel"):   # SpykeTorch's gain overflows float32
        sf.intensity_lateral_inhibition(torch.full((1, 3, 3), 3e38), su.generate_inhibition_kernel([0.5]))
    big = sf.intensity_lateral_inhibition(torch.full((1, 3, 3), 3e38, dtype=torch.float64),
                                          su.generate_inhibition_kernel([0.5]))
    assert bool(torch.isfinite(big).all())
