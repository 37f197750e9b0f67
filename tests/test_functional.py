"""Tests of spyketorch.functional against hand-built spike-waves with known answers."""
import itertools

import pytest
import torch

import spyketorch.functional as sf


def wave_from_times(times: torch.Tensor, t_steps: int, values: torch.Tensor = None) -> torch.Tensor:
    """Accumulating potentials [T, ...]: `values` (default 1) from step `times` on, else 0."""
    steps = torch.arange(t_steps).view(-1, *([1] * times.dim()))
    w = (steps >= times.unsqueeze(0)).float()
    return w if values is None else w * values.unsqueeze(0)


def brute_k_winners(pot: torch.Tensor, kwta: int, radius: int):
    """Literal, loop-based statement of the ranking rule (reference for the tests)."""
    t_steps, c, h, w = pot.shape
    cands = []
    for f, r, col in itertools.product(range(c), range(h), range(w)):
        fired = (pot[:, f, r, col] > 0).nonzero()
        if len(fired):
            t0 = int(fired[0])
            cands.append((t0, -float(pot[t0, f, r, col]), f * h * w + r * w + col, (f, r, col)))
    cands.sort()
    winners = []
    for _, _, _, (f, r, col) in cands:
        if len(winners) == kwta:
            break
        if any(f == wf or (radius > 0 and abs(r - wr) <= radius and abs(col - wc) <= radius) for wf, wr, wc in winners):
            continue
        winners.append((f, r, col))
    return winners


def random_potentials(seed: int, shape=(6, 4, 5, 5), density=0.4) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    t_steps, c, h, w = shape
    times = torch.randint(0, t_steps + 1, (c, h, w), generator=g)
    times[torch.rand(c, h, w, generator=g) > density] = t_steps  # most never fire
    # cumulative potentials that grow after the first spike; a few exact ties
    vals = torch.randint(1, 6, (c, h, w), generator=g).float()
    pot = wave_from_times(times, t_steps) * (vals + torch.arange(t_steps).view(-1, 1, 1, 1))
    return pot


# ---------------------------------------------------------------------------
# fire / threshold
# ---------------------------------------------------------------------------
def test_fire_threshold_strict_and_thresholded_values():
    pot = torch.tensor([0.5, 1.0, 1.5, 3.0]).view(4, 1, 1, 1)
    spk, thr = sf.fire(pot, 1.0, return_thresholded_potentials=True)
    assert spk.flatten().tolist() == [0.0, 0.0, 1.0, 1.0]  # 1.0 is not > 1.0
    assert thr.flatten().tolist() == [0.0, 0.0, 1.5, 3.0]
    assert torch.equal(sf.threshold(pot, 1.0), thr)
    assert spk.dtype == pot.dtype


def test_fire_none_threshold_fires_only_last_step_positive():
    pot = torch.tensor([[2.0, -1.0], [3.0, -2.0], [4.0, -3.0]]).view(3, 2, 1, 1)
    spk = sf.fire(pot)
    assert spk[:, :, 0, 0].tolist() == [[0, 0], [0, 0], [1, 0]]
    assert sf.threshold(pot)[:, :, 0, 0].tolist() == [[0, 0], [0, 0], [4, 0]]


def test_fire_per_feature_threshold_tensor():
    pot = torch.full((2, 2, 1, 1), 2.0)
    spk = sf.fire(pot, torch.tensor([1.0, 3.0]).view(2, 1, 1))
    assert spk[:, :, 0, 0].tolist() == [[1, 0], [1, 0]]


def test_inplace_variants_match():
    pot = torch.rand(3, 2, 4, 4) * 3
    p1 = pot.clone()
    sf.threshold_(p1, 1.0)
    assert torch.equal(p1, sf.threshold(pot, 1.0))
    p2 = pot.clone()
    sf.fire_(p2, 1.0)
    assert torch.equal(p2, sf.fire(pot, 1.0))


def test_fire_rejects_bad_input():
    with pytest.raises(ValueError, match="potentials"):
        sf.fire(torch.zeros(3, 3), 1.0)
    with pytest.raises(TypeError, match="threshold"):
        sf.fire(torch.zeros(2, 1, 1, 1), "1")


# ---------------------------------------------------------------------------
# pad / pooling
# ---------------------------------------------------------------------------
def test_pad_and_pooling_earliest_spike():
    times = torch.tensor([[[3, 1], [2, 3]]])  # one map 2x2, T=3 -> fires at 1 and 2
    wave = wave_from_times(times, 3)
    pooled = sf.pooling(wave, 2)
    assert pooled.shape == (3, 1, 1, 1)
    assert pooled.flatten().tolist() == [0.0, 1.0, 1.0]  # earliest spike of the window (t=1)
    padded = sf.pad(wave, (1, 0, 0, 2))
    assert padded.shape == (3, 1, 4, 3)
    assert padded[:, :, :, 0].sum() == 0 and padded[:, :, 2:].sum() == 0
    with pytest.raises(ValueError, match="pad"):
        sf.pad(wave, (1, 1))


def test_pooling_with_padding_zero_fill():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    out = sf.pooling(x, 2, 2, 1)
    assert out.shape == (1, 1, 3, 3)
    assert out[0, 0].tolist() == [[0, 2, 3], [8, 10, 11], [12, 14, 15]]


# ---------------------------------------------------------------------------
# pointwise inhibition
# ---------------------------------------------------------------------------
def test_pointwise_inhibition_earliest_then_strongest():
    t_steps = 4
    # position (0,0): f0 fires at 2 (big), f1 at 1 (small) -> f1 wins (earliest)
    # position (0,1): f0 and f2 fire at 1, f2 stronger at that step -> f2 wins
    # position (1,0): tie in time and potential between f1 and f2 -> lowest index f1
    # position (1,1): nothing fires -> all zero
    times = torch.full((3, 2, 2), t_steps)
    vals = torch.zeros(3, 2, 2)
    times[0, 0, 0], vals[0, 0, 0] = 2, 9.0
    times[1, 0, 0], vals[1, 0, 0] = 1, 1.0
    times[0, 0, 1], vals[0, 0, 1] = 1, 2.0
    times[2, 0, 1], vals[2, 0, 1] = 1, 5.0
    times[1, 1, 0], vals[1, 1, 0] = 0, 3.0
    times[2, 1, 0], vals[2, 1, 0] = 0, 3.0
    pot = wave_from_times(times, t_steps, vals)
    out = sf.pointwise_inhibition(pot)
    alive = (out > 0).any(0)
    assert alive[:, 0, 0].tolist() == [False, True, False]
    assert alive[:, 0, 1].tolist() == [False, False, True]
    assert alive[:, 1, 0].tolist() == [False, True, False]
    assert not alive[:, 1, 1].any()
    # the survivor keeps its potentials at every step
    assert torch.equal(out[:, 1, 0, 0], pot[:, 1, 0, 0])
    assert torch.equal(out[:, 2, 0, 1], pot[:, 2, 0, 1])


def test_pointwise_inhibition_times_matches_wave_version():
    for seed in range(5):
        pot = random_potentials(seed)
        t, v = sf.first_spike(pot, 0.0)
        ti, vi = sf.pointwise_inhibition_times(t, v, pot.shape[0])
        ref_t, ref_v = sf.first_spike(sf.pointwise_inhibition(pot), 0.0)
        assert torch.equal(ti, ref_t) and torch.equal(vi, ref_v)


# ---------------------------------------------------------------------------
# k winners
# ---------------------------------------------------------------------------
def test_k_winners_earliest_first_then_potential():
    t_steps = 5
    times = torch.full((3, 1, 6), t_steps)
    vals = torch.zeros(3, 1, 6)
    times[0, 0, 0], vals[0, 0, 0] = 3, 100.0  # strong but late
    times[1, 0, 2], vals[1, 0, 2] = 1, 2.0  # early, weaker
    times[2, 0, 4], vals[2, 0, 4] = 1, 7.0  # early, stronger -> first
    pot = wave_from_times(times, t_steps, vals)
    assert sf.get_k_winners(pot, kwta=3) == [(2, 0, 4), (1, 0, 2), (0, 0, 0)]
    assert sf.get_k_winners(pot, kwta=1) == [(2, 0, 4)]


def test_k_winners_exclude_own_feature_and_radius():
    t_steps = 3
    times = torch.full((2, 1, 7), t_steps)
    vals = torch.zeros(2, 1, 7)
    times[0, 0, 3], vals[0, 0, 3] = 0, 5.0  # best
    times[0, 0, 6], vals[0, 0, 6] = 0, 4.0  # same feature: excluded
    times[1, 0, 4], vals[1, 0, 4] = 0, 3.0  # other feature, 1 column away
    times[1, 0, 0], vals[1, 0, 0] = 1, 1.0  # other feature, far, later
    pot = wave_from_times(times, t_steps, vals)
    assert sf.get_k_winners(pot, kwta=3, inhibition_radius=0) == [(0, 0, 3), (1, 0, 4)]
    assert sf.get_k_winners(pot, kwta=3, inhibition_radius=1) == [(0, 0, 3), (1, 0, 0)]
    assert sf.get_k_winners(pot, kwta=3, inhibition_radius=3) == [(0, 0, 3)]


def test_k_winners_stops_when_nothing_fires():
    pot = torch.zeros(4, 2, 3, 3)
    assert sf.get_k_winners(pot, kwta=3) == []
    out = sf.get_k_winners(pot, kwta=2, as_tensor=True)
    assert out.tolist() == [[-1, -1, -1], [-1, -1, -1]]


def test_k_winners_uses_given_spikes_for_timing():
    pot = torch.ones(2, 2, 1, 1)
    spikes = torch.zeros(2, 2, 1, 1)
    spikes[1:, 0] = 1
    spikes[:, 1] = 1
    assert sf.get_k_winners(pot, kwta=2, spikes=spikes) == [(1, 0, 0), (0, 0, 0)]


@pytest.mark.parametrize("radius", [0, 1, 2])
def test_k_winners_matches_brute_force(radius):
    for seed in range(6):
        pot = random_potentials(seed, shape=(6, 4, 6, 5))
        assert sf.get_k_winners(pot, 5, radius) == brute_k_winners(pot, 5, radius)


def test_k_winners_times_matches_wave_version():
    pot = random_potentials(3)
    t, v = sf.first_spike(pot, 0.0)
    assert sf.get_k_winners_times(t, v, pot.shape[0], 4, 1) == sf.get_k_winners(pot, 4, 1)


def test_k_winners_rejects_bad_arguments():
    with pytest.raises(ValueError, match="kwta"):
        sf.get_k_winners(torch.zeros(2, 1, 2, 2), kwta=-1)
    with pytest.raises(ValueError, match="inhibition_radius"):
        sf.get_k_winners(torch.zeros(2, 1, 2, 2), inhibition_radius=-1)
    with pytest.raises(ValueError, match="spikes"):
        sf.get_k_winners(torch.zeros(2, 1, 2, 2), spikes=torch.zeros(2, 1, 2, 3))


# ---------------------------------------------------------------------------
# batch == one by one
# ---------------------------------------------------------------------------
def test_batch_equals_one_by_one():
    pots = [random_potentials(s, shape=(5, 3, 6, 6)) for s in range(4)]
    batch = torch.stack(pots)
    ops = [
        lambda x: sf.fire(x, 2.0),
        lambda x: sf.threshold(x, 2.0),
        lambda x: sf.threshold(x),
        lambda x: sf.pointwise_inhibition(x),
        lambda x: sf.pooling(x, 2, 2, 1),
        lambda x: sf.pad(x, (1, 2, 0, 1)),
        lambda x: sf.feature_inhibition(x, [0, 2]),
        lambda x: sf.local_normalization(x, 1),
        lambda x: sf.first_spike(x, 1.0)[0],
        lambda x: sf.first_spike(x, 1.0)[1],
    ]
    for op in ops:
        assert torch.equal(op(batch), torch.stack([op(p) for p in pots]))
    assert sf.get_k_winners(batch, 4, 1) == [sf.get_k_winners(p, 4, 1) for p in pots]
    tb = sf.get_k_winners(batch, 4, 1, as_tensor=True)
    assert torch.equal(tb, torch.stack([sf.get_k_winners(p, 4, 1, as_tensor=True) for p in pots]))
    kernel = torch.rand(3, 3)
    imgs = torch.rand(4, 2, 6, 6)
    assert torch.equal(
        sf.intensity_lateral_inhibition(imgs, kernel),
        torch.stack([sf.intensity_lateral_inhibition(i, kernel) for i in imgs]),
    )


def test_feature_inhibition_list_and_per_sample_mask():
    x = torch.ones(2, 3, 3, 1, 1)
    out = sf.feature_inhibition(x, [1])
    assert out[:, :, :, 0, 0].sum(dim=(0, 1)).tolist() == [6.0, 0.0, 6.0]
    mask = torch.tensor([[True, False, False], [False, False, True]])
    out = sf.feature_inhibition(x, mask)
    assert out[0, 0, :, 0, 0].tolist() == [0, 1, 1]
    assert out[1, 0, :, 0, 0].tolist() == [1, 1, 0]
    assert x.sum() == 18  # out of place
    sf.feature_inhibition_(x, [])
    assert x.sum() == 18
    with pytest.raises(ValueError, match="inhibited_features"):
        sf.feature_inhibition(x, [3])


# ---------------------------------------------------------------------------
# intensity ops
# ---------------------------------------------------------------------------
def test_intensity_lateral_inhibition_known_values():
    kernel = torch.tensor([[0.1, 0.1, 0.1], [0.1, 0.0, 0.1], [0.1, 0.1, 0.1]])
    img = torch.tensor([[[1.0, 4.0, 2.0], [0.0, 3.0, 0.0]]])
    out = sf.intensity_lateral_inhibition(img, kernel, mode="weaken")
    # (0,0)=1: stronger neighbours 4 and 3 -> 1 * (1 - 0.2); (0,1)=4: none stronger
    # (0,2)=2: stronger 4 and 3 -> 2 * 0.8; (1,1)=3: stronger 4 -> 3 * 0.9; zeros stay 0
    expected = torch.tensor([[[0.8, 4.0, 1.6], [0.0, 2.7, 0.0]]])
    assert torch.allclose(out, expected)
    strong = sf.intensity_lateral_inhibition(img, torch.ones(3, 3), mode="weaken")
    assert strong[0, 0, 0] == 0.0  # clipped at zero, never negative
    # SpykeTorch's computation (the default): every weaker neighbour, the border's zeros too, adds 0.1
    # (0,0)=1: 5 border zeros + the 0 below -> 1.6; (0,1)=4: 3 border + 1, 2, 0, 3, 0 -> 1.8 * 4
    # (0,2)=2: 5 border + the 0 below -> 1.6 * 2; (1,1)=3: 3 border + 1, 2, 0, 0 -> 1.7 * 3
    got = sf.intensity_lateral_inhibition(img, kernel)
    assert torch.allclose(got, torch.tensor([[[1.6, 7.2, 3.2], [0.0, 5.1, 0.0]]]))


def test_local_normalization_known_values():
    x = torch.tensor([[[0.0, 0.0, 0.0], [0.0, 9.0, 0.0], [0.0, 0.0, 0.0]]])
    out = sf.local_normalization(x, 1)
    assert out[0, 1, 1].item() == pytest.approx(9.0)  # mean of the 3x3 window is 1
    assert out[0, 0, 0].item() == 0.0
    y = torch.full((1, 4, 4), 2.0)
    corner = sf.local_normalization(y, 1)[0, 0, 0].item()
    assert corner == pytest.approx(2.0 / (8.0 / 9.0))  # zero padding counts in the mean
    with pytest.raises(ValueError, match="normalization_radius"):
        sf.local_normalization(y, -1)


def test_spike_times_and_wave_roundtrip():
    times = torch.tensor([[[0, 2], [4, 1]]])
    wave = sf.spike_wave(times, 4)
    assert wave.shape == (4, 1, 2, 2)
    assert torch.equal(sf.spike_times(wave), times.clamp(max=4))
    batch = sf.spike_wave(torch.stack([times, times]), 4)
    assert batch.shape == (2, 4, 1, 2, 2)
    assert torch.equal(sf.spike_times(batch, time_dim=1)[1], times)


@pytest.mark.parametrize("radius", [1, 2])
def test_batched_k_winners_match_brute_force_per_sample(radius):
    pots = torch.stack([random_potentials(seed, shape=(6, 4, 7, 5)) for seed in (10, 11, 12)])
    got = sf.get_k_winners(pots, 4, radius)
    assert got == [brute_k_winners(p, 4, radius) for p in pots]


def test_k_winners_default_is_one_winner_and_errors_name_the_argument():
    pot = torch.zeros(1, 3, 2, 2)
    pot[0, :, 0, 0] = torch.tensor([1.0, 3.0, 2.0])
    assert sf.get_k_winners(pot) == [(1, 0, 0)]
    with pytest.raises(ValueError, match=r"^potentials must be a spike-wave"):
        sf.get_k_winners(torch.zeros(2, 2))
    with pytest.raises(ValueError, match=r"^spikes must be a spike-wave"):
        sf.get_k_winners(pot, spikes=torch.zeros(2, 2))
