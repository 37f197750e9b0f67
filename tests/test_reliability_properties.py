"""Property-based tests (hypothesis) of the public API of functional, snn and utils (issue 10).

Valid random input (including empty dimensions, T = 0, half precision and huge
numbers of winners) must give a finite result of the documented shape that
matches an independent reference (brute-force loops or closed forms); invalid
input must raise ``ValueError``/``TypeError`` whose message names the argument.
Examples are derandomised and bounded (see ``_hypothesis_profile.py``).
"""
import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

import spyketorch.functional as sf
import spyketorch.snn as snn
import spyketorch.utils as su
from _hypothesis_profile import RELIABLE

FLOAT_DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
dtypes = st.sampled_from(FLOAT_DTYPES)
bad_numbers = st.sampled_from([float("nan"), float("inf"), -float("inf")])
# values that are not a valid padding / kernel / stride spec
bad_pairs = st.one_of(
    st.integers(-5, -1),
    st.tuples(st.integers(-3, 3), st.integers(-5, -1)),
    st.lists(st.integers(0, 3), min_size=3, max_size=4).map(tuple),
    st.just((1,)),
    st.just("2"),
    st.just(1.5),
)


@st.composite
def waves(draw, min_hw=0, max_hw=6, batched=None, dtype=None):
    """A random cumulative potentials/spike tensor [T, C, H, W] or [B, T, C, H, W] (dims may be 0)."""
    b = draw(st.integers(0, 2)) if (batched if batched is not None else draw(st.booleans())) else None
    t = draw(st.integers(0, 4))
    c = draw(st.integers(0, 3))
    h = draw(st.integers(min_hw, max_hw))
    w = draw(st.integers(min_hw, max_hw))
    seed = draw(st.integers(0, 2**16))
    dt = dtype if dtype is not None else draw(dtypes)
    g = torch.Generator().manual_seed(seed)
    shape = (t, c, h, w) if b is None else (b, t, c, h, w)
    x = torch.rand(shape, generator=g) * 4 - 1  # some negative values: neurons that never fire
    # make the potentials cumulative over time (non-decreasing), like a conv of an accumulating wave
    tdim = 0 if b is None else 1
    x = x.clamp(min=0).cumsum(tdim)  # non-negative and non-decreasing in time; zeros never fire
    return x.to(dt)


def finite(x: torch.Tensor) -> bool:
    return bool(torch.isfinite(x.float()).all()) if x.numel() else True


# ----------------------------------------------------------------------------
# pooling
# ----------------------------------------------------------------------------
def brute_pool(x: torch.Tensor, k, s, p) -> torch.Tensor:
    """Max pooling of [N, C, H, W] with zero padding, by explicit loops over output positions."""
    n, c, h, w = x.shape
    xp = torch.zeros(n, c, h + 2 * p[0], w + 2 * p[1], dtype=torch.float64)
    xp[:, :, p[0]:p[0] + h, p[1]:p[1] + w] = x.double()
    ho, wo = (h + 2 * p[0] - k[0]) // s[0] + 1, (w + 2 * p[1] - k[1]) // s[1] + 1
    out = torch.zeros(n, c, ho, wo, dtype=torch.float64)
    for i, j in itertools.product(range(ho), range(wo)):
        win = xp[:, :, i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1]]
        out[:, :, i, j] = win.amax(dim=(-2, -1)) if win.numel() else 0
    return out


@RELIABLE
@given(x=waves(min_hw=1), k=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       s=st.tuples(st.integers(1, 3), st.integers(1, 3)), p=st.tuples(st.integers(0, 1), st.integers(0, 1)))
def test_pooling_valid_matches_brute_force(x, k, s, p):
    h, w = x.shape[-2:]
    assume(k[0] <= h + 2 * p[0] and k[1] <= w + 2 * p[1])
    out = sf.pooling(x, k, s, p)
    ref = brute_pool(x.reshape(-1, 1, h, w), k, s, p)
    ref = ref.reshape(*x.shape[:-2], *ref.shape[-2:])
    assert out.shape == ref.shape and out.dtype == x.dtype and finite(out)
    assert torch.equal(out.double(), ref)


@RELIABLE
@given(x=waves(min_hw=1, dtype=torch.float32), bad=bad_pairs, which=st.sampled_from(["kernel_size", "stride", "padding"]))
def test_pooling_refuses_bad_specs_naming_them(x, bad, which):
    kwargs = {"kernel_size": 1, "stride": None, "padding": 0}
    kwargs[which] = bad
    with pytest.raises((ValueError, TypeError), match=which):
        sf.pooling(x, **kwargs)
    if which != "stride":
        with pytest.raises((ValueError, TypeError), match=which):
            snn.Pooling(**{"kernel_size": 1, which: bad})(x)


@RELIABLE
@given(x=waves(dtype=torch.float32), extra=st.integers(1, 3))
def test_pooling_kernel_larger_than_input_is_refused(x, extra):
    h, w = x.shape[-2:]
    with pytest.raises(ValueError, match="kernel_size"):
        sf.pooling(x, (h + extra, max(w, 1)))


# ----------------------------------------------------------------------------
# fire / threshold / first_spike
# ----------------------------------------------------------------------------
@RELIABLE
@given(x=waves(), thr=st.floats(-2, 6, allow_nan=False))
def test_fire_and_threshold_match_numpy(x, thr):
    spikes, thresholded = sf.fire(x, thr, return_thresholded_potentials=True)
    mask = x.float().numpy() > np.float32(torch.tensor(thr, dtype=x.dtype).float().item())
    assert spikes.shape == x.shape and spikes.dtype == x.dtype
    assert np.array_equal(spikes.float().numpy(), mask.astype(np.float32))
    assert torch.equal(sf.threshold(x, thr), thresholded)
    assert np.array_equal(thresholded.float().numpy(), np.where(mask, x.float().numpy(), 0))


@RELIABLE
@given(x=waves(), bad=bad_numbers)
def test_fire_refuses_non_finite_threshold(x, bad):
    for fn in (sf.fire, sf.threshold, sf.first_spike):
        with pytest.raises(ValueError, match="threshold"):
            fn(x, bad)


@RELIABLE
@given(x=waves(), thr=st.floats(-0.5, 5, allow_nan=False))
def test_first_spike_is_count_of_firing_steps(x, thr):
    times, values = sf.first_spike(x, thr)
    tdim = 0 if x.dim() == 4 else 1
    t = x.shape[tdim]
    mask = x.float() > float(torch.tensor(thr, dtype=x.dtype).float())
    expected = t - mask.sum(dim=tdim)
    assert times.shape == expected.shape and torch.equal(times, expected)
    assert values.shape == expected.shape and finite(values)
    assert bool((values[times >= t] == 0).all())


# ----------------------------------------------------------------------------
# k winners
# ----------------------------------------------------------------------------
def brute_winners(pot: torch.Tensor, k: int, radius: int):
    """Reference winners of one [T, C, H, W] sample by explicit loops over neurons."""
    t, c, h, w = pot.shape
    cands = []
    for f, i, j in itertools.product(range(c), range(h), range(w)):
        n = int((pot[:, f, i, j] > 0).sum())
        if n:
            cands.append((-(t - n), float(pot[t - n, f, i, j]), -(f * h * w + i * w + j), (f, i, j)))
    cands.sort(reverse=True)
    out = []
    for _, _, _, (f, i, j) in cands:
        if len(out) == k:
            break
        if any(f == g or (radius > 0 and max(abs(i - a), abs(j - b)) <= radius) for g, a, b in out):
            continue
        out.append((f, i, j))
    return out


@RELIABLE
@given(x=waves(dtype=torch.float64), k=st.one_of(st.integers(0, 4), st.just(10**12)), r=st.integers(0, 2))
def test_k_winners_match_brute_force_and_clamp(x, k, r):
    got = sf.get_k_winners(x, n_winners=k, inhibition_radius=r)
    as_t = sf.get_k_winners(x, k, r, as_tensor=True)
    c = x.shape[-3]
    samples = [x] if x.dim() == 4 else list(x)
    ref = [brute_winners(s, k, r) for s in samples]
    assert got == (ref[0] if x.dim() == 4 else ref)
    assert as_t.shape[-2:] == (min(k, c), 3)
    assert sf.get_k_winners(x, kwta=k, inhibition_radius=r) == got  # the old keyword still works


@RELIABLE
@given(x=waves(dtype=torch.float32), k=st.integers(0, 3))
def test_k_winners_times_agree_with_waves(x, k):
    times, values = sf.first_spike(x, 0.0)
    t = x.shape[0 if x.dim() == 4 else 1]
    assert sf.get_k_winners_times(times, values, t, k) == sf.get_k_winners(x, k)


@RELIABLE
@given(x=waves(dtype=torch.float32), bad=st.one_of(st.integers(-10, -1), st.floats(0.5, 2), st.just(True)))
def test_k_winners_refuse_bad_counts(x, bad):
    with pytest.raises((ValueError, TypeError), match="n_winners"):
        sf.get_k_winners(x, bad)
    with pytest.raises((ValueError, TypeError), match="kwta"):
        sf.get_k_winners(x, kwta=bad)


@RELIABLE
@given(x=waves(dtype=torch.float32), bad=bad_numbers)
def test_k_winners_refuse_non_finite_potentials(x, bad):
    assume(x.numel() > 0)
    x = x.clone()
    x.view(-1)[0] = bad
    with pytest.raises(ValueError, match="potentials"):
        sf.get_k_winners(x)


@RELIABLE
@given(x=waves())
def test_pointwise_inhibition_keeps_one_feature_per_position(x):
    out = sf.pointwise_inhibition(x)
    assert out.shape == x.shape and out.dtype == x.dtype and finite(out)
    alive = (out > 0).any(dim=-4 if x.dim() == 5 else 0)  # [.., C, H, W] over time
    assert bool((alive.sum(dim=-3) <= 1).all())
    assert bool(((out == x) | (out == 0)).all())  # kept maps are untouched


# ----------------------------------------------------------------------------
# intensity operations and latency helpers
# ----------------------------------------------------------------------------
@RELIABLE
@given(shape=st.tuples(st.integers(0, 2), st.integers(0, 5), st.integers(0, 5)), r=st.integers(0, 2),
       eps=st.floats(1e-12, 1.0), dtype=dtypes, seed=st.integers(0, 1000))
def test_local_normalization_matches_loops(shape, r, eps, dtype, seed):
    x = (torch.rand(shape, generator=torch.Generator().manual_seed(seed)) * 3).to(dtype)
    out = sf.local_normalization(x, r, eps)
    assert out.shape == x.shape and out.dtype == dtype and finite(out)
    xd = x.double()
    ref = torch.zeros_like(xd)
    for idx in itertools.product(*(range(n) for n in shape)):
        *lead, i, j = idx
        win = xd[tuple(lead)][max(i - r, 0):i + r + 1, max(j - r, 0):j + r + 1]
        ref[idx] = xd[idx] / (win.sum() / (2 * r + 1) ** 2 + eps)
    tol = 1e-5 if dtype in (torch.float32, torch.float64) else 2e-2
    assert torch.allclose(out.double(), ref, rtol=tol, atol=tol)


@RELIABLE
@given(eps=st.one_of(bad_numbers, st.floats(-1e3, 0)), r=st.integers(0, 2))
def test_local_normalization_refuses_bad_eps(eps, r):
    with pytest.raises(ValueError, match="eps"):
        sf.local_normalization(torch.ones(1, 3, 3), r, eps)


@RELIABLE
@given(shape=st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)), t=st.integers(1, 5),
       batched=st.booleans(), seed=st.integers(0, 1000))
def test_spike_wave_and_spike_times_round_trip(shape, t, batched, seed):
    shape = ((2,) if batched else ()) + shape
    times = torch.randint(0, t + 3, shape, generator=torch.Generator().manual_seed(seed))
    wave = sf.spike_wave(times, t)
    tdim = 1 if batched else 0
    assert wave.shape[tdim] == t and wave.dim() == len(shape) + 1
    assert torch.equal(sf.spike_times(wave, tdim), times.clamp(max=t))


@RELIABLE
@given(h=st.integers(0, 5), w=st.integers(0, 5), seed=st.integers(0, 1000), p=st.floats(0, 1))
def test_intensity_lateral_inhibition_matches_formula(h, w, seed, p):
    x = torch.rand(1, h, w, generator=torch.Generator().manual_seed(seed))
    k = su.generate_inhibition_kernel([p])
    out = sf.intensity_lateral_inhibition(x, k, mode="weaken")
    assert out.shape == x.shape and finite(out)
    ref = torch.zeros_like(x)
    for i, j in itertools.product(range(h), range(w)):
        stronger = sum(1 for a, b in itertools.product(range(i - 1, i + 2), range(j - 1, j + 2))
                       if (a, b) != (i, j) and 0 <= a < h and 0 <= b < w and x[0, a, b] > x[0, i, j])
        ref[0, i, j] = x[0, i, j] * max(0.0, 1 - float(k[0, 0]) * stronger)
    assert torch.allclose(out, ref, atol=1e-6)
    out = sf.intensity_lateral_inhibition(x, k)  # SpykeTorch's rule: weaker neighbours, border zeros included
    for i, j in itertools.product(range(h), range(w)):
        weaker = sum(1 for a, b in itertools.product(range(i - 1, i + 2), range(j - 1, j + 2))
                     if (a, b) != (i, j) and x[0, i, j] > (x[0, a, b] if 0 <= a < h and 0 <= b < w else 0.0))
        ref[0, i, j] = x[0, i, j] * (1 + float(k[0, 0]) * weaker)
    assert torch.allclose(out, ref, atol=1e-6) and finite(out)


# ----------------------------------------------------------------------------
# snn
# ----------------------------------------------------------------------------
@RELIABLE
@given(b=st.one_of(st.none(), st.integers(0, 2)), t=st.integers(0, 3), c_in=st.integers(1, 2), c_out=st.integers(1, 3),
       k=st.tuples(st.integers(1, 3), st.integers(1, 3)), h=st.integers(0, 5), w=st.integers(0, 5),
       seed=st.integers(0, 1000))
def test_convolution_matches_loops_or_refuses_kernel(b, t, c_in, c_out, k, h, w, seed):
    torch.manual_seed(seed)
    conv = snn.Convolution(c_in, c_out, k)
    shape = (t, c_in, h, w) if b is None else (b, t, c_in, h, w)
    x = (torch.rand(shape) > 0.5).float()
    if k[0] > h or k[1] > w:
        with pytest.raises(ValueError, match="kernel_size"):
            conv(x)
        return
    out = conv(x)
    ho, wo = h - k[0] + 1, w - k[1] + 1
    assert out.shape == shape[:-3] + (c_out, ho, wo) and finite(out)
    ref = torch.zeros(out.shape, dtype=torch.float64)
    xd, wd = x.double(), conv.weight.double()
    for i, j in itertools.product(range(ho), range(wo)):
        patch = xd[..., i:i + k[0], j:j + k[1]]  # [..., C_in, kh, kw]
        ref[..., i, j] = torch.einsum("...cab,fcab->...f", patch, wd)
    assert torch.allclose(out.double(), ref, atol=1e-4)


@st.composite
def stdp_case(draw):
    t = draw(st.integers(1, 3))
    h, w = draw(st.integers(3, 6)), draw(st.integers(3, 6))
    seed = draw(st.integers(0, 1000))
    torch.manual_seed(seed)
    conv = snn.Convolution(1, 2, 3)
    x = (torch.rand(t, 1, h, w) > 0.5).float()
    return conv, x, (h - 2, w - 2)


@RELIABLE
@given(case=stdp_case(), data=st.data())
def test_stdp_valid_winners_keep_weights_in_bounds(case, data):
    conv, x, (ho, wo) = case
    pot = conv(x)
    spk = sf.fire(pot, 1.0)
    n = data.draw(st.integers(0, 2))
    winners = [(f, data.draw(st.integers(0, ho - 1)), data.draw(st.integers(0, wo - 1)))
               for f in range(n)]
    lr = data.draw(st.tuples(st.floats(-0.5, 0.5), st.floats(-0.5, 0.5)))
    stdp = snn.STDP(conv, lr, use_stabilizer=data.draw(st.booleans()))
    before = conv.weight.clone()
    stdp(x, pot, spk, winners=winners)
    wgt = conv.weight
    assert finite(wgt) and bool((wgt >= 0).all()) and bool((wgt <= 1).all())
    untouched = [f for f in range(2) if f not in {wn[0] for wn in winners}]
    for f in untouched:  # only the winners' feature maps learn
        assert torch.equal(wgt[f], before[f])


@RELIABLE
@given(case=stdp_case(), data=st.data())
def test_stdp_refuses_out_of_range_winners(case, data):
    conv, x, (ho, wo) = case
    pot = conv(x)
    spk = sf.fire(pot, 1.0)
    which = data.draw(st.integers(0, 2))
    limit = (2, ho, wo)[which]
    bad_value = data.draw(st.one_of(st.integers(limit, limit + 5), st.integers(-5, -2)))
    good = [0, 0, 0]
    good[which] = bad_value
    before = conv.weight.clone()
    with pytest.raises(ValueError, match="winners"):
        snn.STDP(conv, (0.1, -0.1))(x, pot, spk, winners=[tuple(good)])
    assert torch.equal(conv.weight, before)  # nothing learned from a refused call


@RELIABLE
@given(bad=bad_numbers, where=st.sampled_from(["ap", "an", "lower_bound", "upper_bound"]))
def test_stdp_refuses_non_finite_rates_and_bounds(bad, where):
    conv = snn.Convolution(1, 2, 3)
    if where in ("ap", "an"):
        lr = (bad, -0.1) if where == "ap" else (0.1, bad)
        with pytest.raises(ValueError, match="learning_rate"):
            snn.STDP(conv, lr)
        stdp = snn.STDP(conv, (0.1, -0.1))
        with pytest.raises(ValueError, match=where):
            stdp.update_all_learning_rate(*lr)
        with pytest.raises(ValueError, match="learning_rate"):
            snn.RSTDP(conv, reward_rate=lr)
    else:
        with pytest.raises(ValueError, match=where):
            snn.STDP(conv, (0.1, -0.1), **{where: bad})


@RELIABLE
@given(case=stdp_case(), reward=st.one_of(st.floats(allow_nan=False), st.booleans()))
def test_rstdp_valid_reward_keeps_weights_finite(case, reward):
    conv, x, _ = case
    pot = conv(x)
    rstdp = snn.RSTDP(conv)
    rstdp(x, pot, sf.fire(pot, 1.0), reward)
    assert finite(conv.weight)
    assert bool(((conv.weight >= 0.2) & (conv.weight <= 0.8)).all())


@RELIABLE
@given(case=stdp_case())
def test_rstdp_refuses_nan_reward(case):
    conv, x, _ = case
    pot = conv(x)
    with pytest.raises(ValueError, match="reward"):
        snn.RSTDP(conv)(x, pot, sf.fire(pot, 1.0), float("nan"))


# ----------------------------------------------------------------------------
# utils
# ----------------------------------------------------------------------------
@RELIABLE
@given(window=st.integers(0, 6).map(lambda n: 2 * n + 1), s1=st.floats(0.05, 20), s2=st.floats(0.05, 20))
def test_dog_kernel_is_zero_mean_unit_max_or_refused(window, s1, s2):
    assume(s1 != s2)
    try:
        k = su.DoGKernel(window, s1, s2)()
    except ValueError as e:
        assert "window_size" in str(e)
        return
    assert k.shape == (window, window) and finite(k)
    assert abs(float(k.max()) - 1.0) < 1e-6 and abs(float(k.double().mean())) < 1e-5


@RELIABLE
@given(window=st.integers(0, 6).map(lambda n: 2 * n + 1), theta=st.floats(-360, 360), div=st.floats(0.1, 20))
def test_gabor_kernel_is_zero_mean_unit_max_or_refused(window, theta, div):
    try:
        k = su.GaborKernel(window, theta, div)()
    except ValueError as e:
        assert "window_size" in str(e)
        return
    assert k.shape == (window, window) and finite(k)
    assert abs(float(k.max()) - 1.0) < 1e-6 and abs(float(k.double().mean())) < 1e-5


@RELIABLE
@given(bad=bad_numbers, which=st.sampled_from(["sigma1", "sigma2", "orientation", "div"]))
def test_kernels_refuse_non_finite_parameters(bad, which):
    with pytest.raises(ValueError, match=which):
        if which.startswith("sigma"):
            su.DoGKernel(5, **{"sigma1": 1.0, "sigma2": 2.0, which: bad})
        else:
            su.GaborKernel(5, **{"orientation": 0.0, "div": 4.0, which: bad})


@RELIABLE
@given(b=st.one_of(st.none(), st.integers(0, 2)), c=st.integers(0, 2), h=st.integers(0, 5), w=st.integers(0, 5),
       t=st.integers(1, 4), dtype=dtypes, seed=st.integers(0, 1000), zeros=st.floats(0, 1))
def test_intensity_to_latency_is_a_valid_wave(b, c, h, w, t, dtype, seed, zeros):
    shape = (c, h, w) if b is None else (b, c, h, w)
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=g)
    x = torch.where(torch.rand(shape, generator=g) < zeros, torch.zeros(()), x).to(dtype)
    wave = su.Intensity2Latency(t, to_spike=True, batched=b is not None)(x)
    tdim = 0 if b is None else 1
    if b == 1:  # by default SpykeTorch's [1, C, H, W] is one image: the same wave without the batch
        assert torch.equal(su.Intensity2Latency(t, to_spike=True)(x), wave[0])
    assert wave.shape == shape[:tdim] + (t,) + shape[tdim:]
    assert bool(((wave == 0) | (wave == 1)).all())
    assert bool((wave.diff(dim=tdim) >= 0).all())  # spikes accumulate
    last = wave.select(tdim, t - 1) if t else None
    assert torch.equal(last.bool(), x != 0)  # every non-zero value fires, zeros never


@RELIABLE
@given(percents=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=3))
def test_generate_inhibition_kernel_valid_or_refused(percents):
    if all(0 <= p <= 1 for p in percents):
        k = su.generate_inhibition_kernel(percents)
        n = len(percents)
        assert k.shape == (2 * n + 1, 2 * n + 1) and float(k[n, n]) == 0.0
        for d, p in enumerate(percents, start=1):
            assert float(k[n - d, n]) == pytest.approx(p, rel=1e-6, abs=1e-30)
    else:
        with pytest.raises(ValueError, match="inhibition_percents"):
            su.generate_inhibition_kernel(percents)


@RELIABLE
@given(thresholds=st.one_of(bad_numbers, st.lists(st.one_of(st.floats(-1, 1), bad_numbers), min_size=2, max_size=2)))
def test_filter_thresholds_finite_or_refused(thresholds):
    kernels = [su.DoGKernel(3, 1, 2), su.DoGKernel(3, 2, 1)]
    if isinstance(thresholds, list) and all(math.isfinite(v) for v in thresholds):
        out = su.Filter(kernels, padding=1, thresholds=thresholds)(torch.rand(2, 1, 4, 4))
        assert out.shape == (2, 2, 4, 4) and finite(out)
    else:
        with pytest.raises(ValueError, match="thresholds"):
            su.Filter(kernels, thresholds=thresholds)


# ----------------------------------------------------------------------------
# issue 25: broadcast thresholds, huge and tiny floats, zero-size dimensions, lists vs tensors
# ----------------------------------------------------------------------------
def _clear(exc: BaseException, arg: str) -> bool:
    """A clear refusal: ValueError/TypeError whose message names ``arg``."""
    return isinstance(exc, (ValueError, TypeError)) and arg in str(exc)


@st.composite
def threshold_shapes(draw, shape):
    """A threshold shape for potentials of ``shape``: one that broadcasts (trailing dims, some set to 1)
    or, half of the time, one that does not (a wrong size, or extra leading dims)."""
    n = draw(st.integers(0, len(shape)))
    good = tuple(1 if draw(st.booleans()) else s for s in shape[len(shape) - n:])
    if draw(st.booleans()):
        return good, True
    if draw(st.booleans()) or not shape:
        return (draw(st.integers(2, 3)),) + tuple(shape), False          # enlarges the result
    i = draw(st.integers(0, len(shape) - 1))
    bad = list(shape)
    bad[i] = shape[i] + draw(st.integers(1, 2)) if shape[i] >= 1 else 2   # a size 1 would broadcast to 0
    return tuple(bad[i:]), False


@RELIABLE
@given(x=waves(dtype=torch.float32), data=st.data(), seed=st.integers(0, 1000))
def test_tensor_thresholds_broadcast_or_are_refused_naming_them(x, data, seed):
    tshape, fits = data.draw(threshold_shapes(tuple(x.shape)))
    thr = torch.rand(tshape, generator=torch.Generator().manual_seed(seed)) * 4
    ops = {"fire": lambda p: sf.fire(p, thr), "threshold": lambda p: sf.threshold(p, thr),
           "fire_": lambda p: sf.fire_(p, thr), "threshold_": lambda p: sf.threshold_(p, thr),
           "first_spike": lambda p: sf.first_spike(p, thr)[0], "pair": lambda p: sf.fire(p, thr, True)[1]}
    if not fits:
        for name, op in ops.items():
            p = x.clone()
            with pytest.raises(ValueError) as info:
                op(p)
            assert "threshold" in str(info.value) and str(tuple(x.shape)) in str(info.value), name
            assert torch.equal(p, x), name  # an in-place form refused before writing
        return
    mask = x > thr
    assert torch.equal(ops["fire"](x), mask.float())
    assert torch.equal(ops["threshold"](x), torch.where(mask, x, torch.zeros(())))
    assert torch.equal(ops["pair"](x), ops["threshold"](x))
    assert torch.equal(ops["fire_"](x.clone()), mask.float())
    tdim = 0 if x.dim() == 4 else 1
    assert torch.equal(ops["first_spike"](x), x.shape[tdim] - mask.sum(tdim))


@st.composite
def exact_potentials(draw, batched=None):
    """Cumulative float64 potentials on a grid of multiples of 1/8 in [0, 2], whose scaling by 2**e is exact."""
    b = draw(st.integers(1, 2)) if (batched if batched is not None else draw(st.booleans())) else None
    t, c, h, w = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    shape = (t, c, h, w) if b is None else (b, t, c, h, w)
    steps = torch.randint(0, 3, shape, generator=g).double() / 8 * (torch.rand(shape, generator=g) < 0.6)
    return steps.cumsum(0 if b is None else 1).clamp(max=2.0)


@RELIABLE
@given(x=exact_potentials(), e=st.integers(-1000, 1022), k=st.integers(0, 4), r=st.integers(0, 2))
def test_winners_and_inhibition_of_huge_and_tiny_potentials_equal_the_unscaled(x, e, k, r):
    scale = 2.0 ** e
    big = x * scale
    assert bool(torch.isfinite(big).all())
    assert sf.get_k_winners(big, k, r) == sf.get_k_winners(x, k, r)
    assert torch.equal(sf.pointwise_inhibition(big), sf.pointwise_inhibition(x) * scale)
    assert torch.equal(sf.fire(big, 0.5 * scale), sf.fire(x, 0.5))
    times, values = sf.first_spike(big, 0.5 * scale)
    t0, v0 = sf.first_spike(x, 0.5)
    assert torch.equal(times, t0) and torch.equal(values, v0 * scale)


@RELIABLE
@given(b=st.one_of(st.none(), st.integers(0, 3)), c=st.integers(0, 2), h=st.integers(0, 4), w=st.integers(0, 4),
       e=st.integers(-1000, 1020), seed=st.integers(0, 1000), batched=st.sampled_from([None, True]))
def test_latency_of_huge_and_tiny_intensities_is_finite_and_scale_free(b, c, h, w, e, seed, batched):
    shape = (c, h, w) if b is None else (b, c, h, w)
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 9, shape, generator=g).double() / 4                   # exact multiples of 1/4
    coder = su.Intensity2Latency(5, batched=batched if b is not None else None)
    out = coder(x * 2.0 ** e)
    ref = coder(x)
    assert out.dtype == torch.float64 and bool(torch.isfinite(out).all()) and out.shape == ref.shape
    assert torch.equal(out, ref * 2.0 ** e)
    one_image = b is None or (b == 1 and batched is None)
    assert out.dim() == (4 if one_image else 5)


@RELIABLE
@given(x=waves(), data=st.data())
def test_feature_inhibition_lists_tuples_arrays_and_tensors_agree(x, data):
    c = x.shape[-3]
    feats = data.draw(st.lists(st.integers(-c, c - 1), max_size=4)) if c else []
    expect = x.clone()
    for f in feats:
        expect.select(-3, f % c).zero_()
    forms = [feats, tuple(feats), np.array(feats, dtype=np.int64), torch.tensor(feats, dtype=torch.long),
             torch.tensor(feats, dtype=torch.long).view(-1, 1), [[f] for f in feats]]
    mask = [i in {f % c for f in feats} for i in range(c)]
    forms += [mask, torch.tensor(mask, dtype=torch.bool)] if c else []
    for form in forms:
        assert torch.equal(sf.feature_inhibition(x, form), expect), form
    if feats:
        for bad in ([f + 0.5 for f in feats], [float(f) for f in feats], torch.tensor(feats, dtype=torch.float32)):
            with pytest.raises(TypeError, match="inhibited_features"):
                sf.feature_inhibition(x, bad)
    with pytest.raises(ValueError, match="inhibited_features"):
        sf.feature_inhibition(x, [c])


@RELIABLE
@given(case=stdp_case(), data=st.data())
def test_stdp_winners_as_lists_or_tensors_give_the_same_update(case, data):
    conv, x, (ho, wo) = case
    pot = conv(x)
    spk = sf.fire(pot, 1.0)
    stdp = snn.STDP(conv, (0.05, -0.04), use_stabilizer=data.draw(st.booleans()))
    c = pot.shape[-3]
    k = data.draw(st.integers(0, 3))
    winners = [(data.draw(st.integers(0, c - 1)), data.draw(st.integers(0, ho - 1)), data.draw(st.integers(0, wo - 1)))
               for _ in range(k)]
    w0 = conv.weight.clone()
    results = []
    for form in (winners, torch.tensor(winners, dtype=torch.long).view(k, 3),
                 [tuple(np.int64(v) for v in wn) for wn in winners]):
        conv.load_weight(w0)
        stdp(x, pot, spk, form)
        results.append(conv.weight.clone())
    assert torch.equal(results[0], results[1]) and torch.equal(results[0], results[2])
    assert finite(results[0])


@RELIABLE
@given(shape=st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 3), st.integers(0, 3)),
       batched=st.booleans(), k=st.integers(0, 3), seed=st.integers(0, 100))
def test_zero_size_dimensions_work_through_every_functional_op(shape, batched, k, seed):
    assume(0 in shape)
    full = ((2,) if batched else ()) + shape
    x = torch.rand(full, generator=torch.Generator().manual_seed(seed)).cumsum(1 if batched else 0)
    thr = torch.full(full[-3:-2] + (1, 1), 0.5)                                 # per feature, C may be 0
    for name, call in {"fire": lambda: sf.fire(x, thr), "threshold": lambda: sf.threshold(x, 0.5),
                       "pointwise_inhibition": lambda: sf.pointwise_inhibition(x),
                       "feature_inhibition": lambda: sf.feature_inhibition(x, []),
                       "first_spike": lambda: sf.first_spike(x, thr)[1]}.items():
        out = call()
        assert out.numel() == 0 or finite(out), name
    winners = sf.get_k_winners(x, k, as_tensor=True)
    assert winners.shape[-1] == 3 and bool((winners == -1).all())
    times = sf.spike_times(x, 1 if batched else 0)
    assert sf.spike_wave(times.clamp(max=3), 3).shape[-3:] == full[-3:]


@RELIABLE
@given(kernel=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=9, max_size=9),
       mode=st.sampled_from(["strengthen", "weaken"]), seed=st.integers(0, 100))
def test_lateral_inhibition_kernels_are_valid_or_refused(kernel, mode, seed):
    k = torch.tensor(kernel).view(3, 3)
    x = torch.rand(2, 4, 5, generator=torch.Generator().manual_seed(seed))
    valid = bool(torch.isfinite(k).all()) and bool((k >= 0).all())
    try:
        out = sf.intensity_lateral_inhibition(x, k, mode)
    except Exception as exc:  # noqa: BLE001 - the property is about which exceptions occur
        assert not valid and _clear(exc, "inhibition_kernel"), repr(exc)
        return
    assert valid and out.shape == x.shape
    assert finite(out) or not bool(torch.isfinite(x * (1 + k.sum())).all())   # only a kernel of ~1e38 overflows
