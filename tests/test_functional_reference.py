"""Spike-wave ops against brute-force references written with Python loops on small,
deliberately asymmetric tensors (non-square maps, kernels, strides and paddings), batched and
unbatched, and their edge cases (T = 0, T >= 256, empty dimensions, never-firing neurons).

Added after a mutation-testing run (mutmut) showed that symmetric test shapes let swapped
axes and off-by-one edge paths go unnoticed.
"""
from __future__ import annotations

import itertools

import pytest
import torch

import spyketorch.functional as sf


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- pooling
def _pool_ref(x, ks, st, p):
    """Max over each window of the zero-padded map ([N, H, W] -> [N, Ho, Wo])."""
    n, h, w = x.shape
    xp = torch.zeros(n, h + 2 * p[0], w + 2 * p[1], dtype=x.dtype)
    xp[:, p[0]:p[0] + h, p[1]:p[1] + w] = x
    ho = (h + 2 * p[0] - ks[0]) // st[0] + 1
    wo = (w + 2 * p[1] - ks[1]) // st[1] + 1
    out = torch.zeros(n, ho, wo, dtype=x.dtype)
    for i, j in itertools.product(range(ho), range(wo)):
        win = xp[:, i * st[0]:i * st[0] + ks[0], j * st[1]:j * st[1] + ks[1]]
        out[:, i, j] = win.reshape(n, -1).max(dim=1).values
    return out


@pytest.mark.parametrize("ks,st,p", [((2, 3), (1, 2), (1, 0)), ((3, 2), (2, 1), (0, 1)), ((2, 2), None, (1, 1)),
                                     ((3, 1), (3, 1), (2, 0))])
def test_pooling_matches_windows_of_the_padded_map(ks, st, p):
    x = torch.rand(2, 3, 2, 5, 7, generator=_g())          # [B, T, C, H, W], H != W
    got = sf.pooling(x, ks, st, p)
    ref = _pool_ref(x.reshape(-1, 5, 7), ks, ks if st is None else st, p)
    assert got.shape == (2, 3, 2) + ref.shape[1:]
    torch.testing.assert_close(got.reshape(ref.shape), ref)
    torch.testing.assert_close(sf.pooling(x[1], ks, st, p), got[1])       # unbatched = one sample
    b = sf.pooling(x > 0.5, ks, st, p)                                    # bool wave: any in window
    assert b.dtype == torch.bool and torch.equal(b, sf.pooling((x > 0.5).float(), ks, st, p) > 0)


@pytest.mark.parametrize("shape", [(0, 3, 2, 5, 7), (2, 0, 2, 5, 7), (2, 3, 0, 5, 7), (3, 0, 5, 7)])
def test_pooling_of_empty_waves_has_the_pooled_shape(shape):
    got = sf.pooling(torch.zeros(shape), (2, 3), (1, 2), (1, 0))
    assert got.shape == shape[:-2] + (6, 3) and got.numel() == 0


def test_pad_is_left_right_top_bottom():
    x = torch.arange(2 * 3 * 4, dtype=torch.float32).view(1, 2, 3, 4)
    got = sf.pad(x, (1, 2, 0, 3), value=-1.0)
    ref = torch.full((1, 2, 6, 7), -1.0)
    ref[:, :, 0:3, 1:5] = x
    assert torch.equal(got, ref)
    assert torch.equal(sf.pad(x, 2), sf.pad(x, (2, 2, 2, 2)))


# ----------------------------------------------------------------------------- firing and latency
def test_threshold_none_fires_on_the_last_step_where_positive():
    """``threshold=None`` (the decision layer's rule): only the last step fires, where the
    potential is strictly positive; a threshold fires strictly above it (SpykeTorch's
    functional rule; the neuron layers fire at equality)."""
    pot = torch.zeros(2, 1, 1, 4)
    pot[0] = 5.0
    pot[1, 0, 0] = torch.tensor([-1.0, 0.0, 0.5, 2.0])
    assert sf.fire(pot)[0].flatten().tolist() == [0.0] * 4
    assert sf.fire(pot)[1].flatten().tolist() == [0.0, 0.0, 1.0, 1.0]
    t, v = sf.first_spike(pot)
    assert t.flatten().tolist() == [2, 2, 1, 1] and v.flatten().tolist() == [0.0, 0.0, 0.5, 2.0]
    at = torch.tensor([0.5, 1.0, 1.0, 1.5]).view(4, 1, 1, 1)
    assert sf.fire(at, 1.0).flatten().tolist() == [0.0, 0.0, 0.0, 1.0]
    assert sf.first_spike(at, torch.tensor(1.0))[0].item() == 3


def _first_ref(pot, thr):
    """Python reference: the first step t with pot[t] > thr (the documented rule), T if none."""
    tsteps = pot.shape[0]
    flat = pot.reshape(tsteps, -1)
    times, vals = [], []
    for i in range(flat.shape[1]):
        hit = [t for t in range(tsteps) if flat[t, i] > thr]
        times.append(hit[0] if hit else tsteps)
        vals.append(float(flat[hit[0], i]) if hit else 0.0)
    shape = pot.shape[1:]
    return torch.tensor(times).view(shape), torch.tensor(vals, dtype=pot.dtype).view(shape)


@pytest.mark.parametrize("tsteps", [1, 7, 255, 256, 300])
def test_first_spike_of_cumulative_potentials_any_length(tsteps):
    inc = torch.rand(tsteps, 2, 3, 4, generator=_g(tsteps)) * (3.0 / tsteps)
    pot = inc.cumsum(0)
    t, v = sf.first_spike(pot, 1.0)
    rt, rv = _first_ref(pot, 1.0)
    assert torch.equal(t, rt)
    torch.testing.assert_close(v, rv)
    assert torch.equal(sf.spike_times(sf.fire(pot, 1.0)), rt)


def test_first_spike_value_of_silent_neurons_is_zero():
    pot = torch.full((4, 1, 2, 2), 0.75)
    pot[:, 0, 0, 0] = torch.tensor([0.2, 0.9, 1.5, 2.0])
    t, v = sf.first_spike(pot, 1.0)
    assert t.tolist() == [[[2, 4], [4, 4]]]
    assert v.tolist() == [[[1.5, 0.0], [0.0, 0.0]]]


@pytest.mark.parametrize("shape", [(0, 2, 3, 3), (2, 0, 2, 3, 3), (0, 0, 2, 3, 3), (2, 4, 0, 3, 3)])
def test_first_spike_of_empty_input(shape):
    t, v = sf.first_spike(torch.zeros(shape), 1.0)
    tsteps = shape[0] if len(shape) == 4 else shape[1]
    expect = shape[1:] if len(shape) == 4 else shape[:1] + shape[2:]
    assert t.shape == expect and v.shape == expect and t.dtype == torch.long
    assert bool((t == tsteps).all()) and bool((v == 0).all())


def test_spike_times_along_any_dimension():
    wave = (torch.rand(3, 5, 4, generator=_g(1)) > 0.5).float().cumsum(1).clamp(max=1)   # time on dim 1
    ref = torch.tensor([[next((t for t in range(5) if wave[i, t, j] > 0), 5) for j in range(4)] for i in range(3)])
    assert torch.equal(sf.spike_times(wave, time_dim=1), ref)
    assert torch.equal(sf.spike_times(wave, time_dim=-2), ref)
    with pytest.raises(ValueError, match="time_dim"):
        sf.spike_times(wave, time_dim=3)
    assert torch.equal(sf.spike_times(wave.movedim(1, 2), time_dim=-1), ref)


@pytest.mark.parametrize("batched", [False, True])
def test_spike_wave_is_the_inverse_of_spike_times(batched):
    times = torch.randint(0, 7, (2, 3, 4, 5) if batched else (3, 4, 5), generator=_g(2))
    wave = sf.spike_wave(times, 6)
    tdim = 1 if batched else 0
    assert wave.shape[tdim] == 6 and wave.dtype == torch.float32
    for t in range(6):
        assert torch.equal(wave.select(tdim, t), (times <= t).float())
    assert torch.equal(sf.spike_times(wave, tdim), times.clamp(max=6))
    with pytest.raises(ValueError, match="time_steps"):  # a wave without a step holds no spike
        sf.spike_wave(times, 0)


# ----------------------------------------------------------------------------- winners
def test_get_k_winners_times_edge_counts():
    t = torch.tensor([[[0, 1], [2, 3]], [[1, 0], [3, 3]]])
    v = torch.tensor([[[0.9, 0.2], [0.3, 0.4]], [[0.6, 0.5], [0.7, 0.8]]])
    none = sf.get_k_winners_times(t, v, 3, n_winners=0, as_tensor=True)
    assert none.shape == (0, 3)
    # the earliest (step 0) neurons of features 0 and 1, larger potential first; one per feature
    w = sf.get_k_winners_times(t.unsqueeze(0), v.unsqueeze(0), 3, n_winners=2, inhibition_radius=0, as_tensor=True)
    assert w.shape == (1, 2, 3)
    assert w[0].tolist() == [[0, 0, 0], [1, 0, 1]]
    v2 = v.clone()
    v2[0, 0, 0] = 0.1
    w2 = sf.get_k_winners_times(t, v2, 3, n_winners=2, inhibition_radius=0, as_tensor=True)
    assert w2.tolist() == [[1, 0, 1], [0, 0, 0]]
    empty = sf.get_k_winners_times(torch.zeros(0, 2, 2, 2, dtype=torch.long), torch.zeros(0, 2, 2, 2), 3,
                                   n_winners=2, as_tensor=True)
    assert empty.shape == (0, 2, 3)


# ----------------------------------------------------------------------------- normalisation, inhibition
def test_local_normalization_divides_by_the_zero_padded_window_mean():
    x = torch.rand(2, 4, 6, generator=_g(4)) + 0.1
    r = 1
    got = sf.local_normalization(x, r)
    ref = torch.empty_like(x)
    for c, i, j in itertools.product(range(2), range(4), range(6)):
        s = sum(float(x[c, a, b]) for a in range(i - r, i + r + 1) for b in range(j - r, j + r + 1)
                if 0 <= a < 4 and 0 <= b < 6)
        ref[c, i, j] = x[c, i, j] / (s / (2 * r + 1) ** 2 + 1e-12)
    torch.testing.assert_close(got, ref)
    assert sf.local_normalization(torch.ones(2, 3, dtype=torch.uint8), 1).dtype == torch.float32


def test_intensity_lateral_inhibition_by_strictly_stronger_neighbours():
    x = torch.rand(2, 4, 5, generator=_g(5))
    x[0, 1, 1] = x[0, 1, 2]                                   # a tie: equals do not inhibit
    k = torch.tensor([[0.1, 0.2, 0.3], [0.4, 9.0, 0.5], [0.6, 0.7, 0.8]])
    got = sf.intensity_lateral_inhibition(x, k, mode="weaken")
    ref = torch.empty_like(x)
    for c, i, j in itertools.product(range(2), range(4), range(5)):
        f = 0.0
        for di, dj in itertools.product((-1, 0, 1), (-1, 0, 1)):
            a, b = i + di, j + dj
            if (di, dj) != (0, 0) and 0 <= a < 4 and 0 <= b < 5 and x[c, a, b] > x[c, i, j]:
                f += float(k[di + 1, dj + 1])
        ref[c, i, j] = x[c, i, j] * max(0.0, 1.0 - f)
    torch.testing.assert_close(got, ref)
    one = sf.intensity_lateral_inhibition(x, torch.tensor(0.5))   # a 1x1 kernel: nothing to inhibit
    torch.testing.assert_close(one, x)


def test_intensity_lateral_inhibition_by_strictly_weaker_neighbours():
    """SpykeTorch's computation (the default): a pixel gains K for every strictly weaker neighbour,
    pixels beyond the border counting as zeros; negative intensities are not special."""
    x = torch.rand(2, 4, 5, generator=_g(6)) - 0.2
    x[1, 2, 2] = x[1, 2, 3]                                   # a tie: equals do not count
    k = torch.tensor([[0.1, 0.2, 0.3], [0.4, 9.0, 0.5], [0.6, 0.7, 0.8]])
    got = sf.intensity_lateral_inhibition(x, k)
    ref = torch.empty_like(x)
    for c, i, j in itertools.product(range(2), range(4), range(5)):
        f = 0.0
        for di, dj in itertools.product((-1, 0, 1), (-1, 0, 1)):
            a, b = i + di, j + dj
            other = float(x[c, a, b]) if 0 <= a < 4 and 0 <= b < 5 else 0.0
            if (di, dj) != (0, 0) and float(x[c, i, j]) > other:
                f += float(k[di + 1, dj + 1])
        ref[c, i, j] = x[c, i, j] * (1.0 + f)
    torch.testing.assert_close(got, ref)


# ----------------------------------------------------------------------------- k-WTA with a radius
def _k_winners_ref(t, v, tsteps, k, rad):
    """Greedy k-WTA, one sample: earliest first spike, then larger potential; a winner
    inhibits its whole feature map and, for ``rad > 0``, every map within ``rad`` of its
    location (radius 0: no spatial inhibition, SpykeTorch's rule)."""
    c, h, w = t.shape
    alive = torch.ones(c, h, w, dtype=torch.bool)
    out = []
    for _ in range(k):
        best = None
        for f, i, j in itertools.product(range(c), range(h), range(w)):
            if not alive[f, i, j] or t[f, i, j] >= tsteps:
                continue
            key = (-int(t[f, i, j]), float(v[f, i, j]))
            if best is None or key > best[0]:
                best = (key, (f, i, j))
        if best is None:
            break
        f, i, j = best[1]
        out.append([f, i, j])
        alive[f] = False
        if rad > 0:
            alive[:, max(0, i - rad):i + rad + 1, max(0, j - rad):j + rad + 1] = False
    return out


@pytest.mark.parametrize("rad", [0, 1, 2])
def test_get_k_winners_times_with_radius_matches_greedy_reference(rad):
    g = _g(10 + rad)
    b, c, h, w, tsteps, k = 3, 4, 5, 6, 5, 4
    t = torch.randint(0, tsteps + 2, (b, c, h, w), generator=g)
    v = torch.rand(b, c, h, w, generator=g, dtype=torch.float64)
    got = sf.get_k_winners_times(t, v, tsteps, n_winners=k, inhibition_radius=rad, as_tensor=True)
    assert got.shape == (b, k, 3)
    for s in range(b):
        ref = _k_winners_ref(t[s], v[s], tsteps, k, rad)
        assert got[s, :len(ref)].tolist() == ref, s
        assert bool((got[s, len(ref):] == -1).all())
        assert got[s].tolist()[:len(ref)] == sf.get_k_winners_times(t[s], v[s], tsteps, n_winners=k,
                                                                   inhibition_radius=rad, as_tensor=True).tolist()[:len(ref)]


def test_feature_inhibition_accepts_indices_and_masks_per_sample():
    x = torch.rand(2, 3, 4, 2, 2, generator=_g(11))
    by_index = sf.feature_inhibition(x, [1, 3])
    mask = torch.tensor([False, True, False, True])
    assert torch.equal(sf.feature_inhibition(x, mask), by_index)
    assert torch.equal(by_index[:, :, [1, 3]], torch.zeros(2, 3, 2, 2, 2))
    assert torch.equal(by_index[:, :, [0, 2]], x[:, :, [0, 2]])
    per = torch.tensor([[True, False, False, False], [False, False, True, False]])
    got = sf.feature_inhibition(x, per)
    assert torch.equal(got[0, :, 0], torch.zeros(3, 2, 2)) and torch.equal(got[0, :, 2], x[0, :, 2])
    assert torch.equal(got[1, :, 2], torch.zeros(3, 2, 2)) and torch.equal(got[1, :, 0], x[1, :, 0])
    assert torch.equal(sf.feature_inhibition(x, [-1]), sf.feature_inhibition(x, [3]))
    with pytest.raises(ValueError, match="inhibited_features"):
        sf.feature_inhibition(x, [-5])
    with pytest.raises(ValueError, match="inhibited_features"):
        sf.feature_inhibition(x, torch.ones(3, 4, dtype=torch.bool))
