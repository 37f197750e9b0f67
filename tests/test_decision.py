"""DecisionLayer (R-STDP earliest-spike layer) against the spike-wave ops it replaces."""
from __future__ import annotations


import pytest
import torch

import spyketorch.functional as sf
import spyketorch.snn as snn
import spyketorch.utils as su
from spyketorch.learning.decision import DecisionLayer, earliest_inputs
from spyketorch.networks import mozafari

T = 15


def _layer(seed: int = 0, c_in: int = 4, feats: int = 20, k: int = 3) -> DecisionLayer:
    layer = DecisionLayer(c_in, feats, k, [f // 2 for f in range(feats)], generator=torch.Generator().manual_seed(seed))
    layer.weight.data.clamp_(0.2, 0.8)
    return layer


def _times(seed: int, b: int = 8, c: int = 4, hw: int = 6, sparsity: float = 0.7) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    t = torch.randint(0, T, (b, c, hw, hw), generator=g)
    t[torch.rand(t.shape, generator=g) < sparsity] = T
    return t.to(torch.uint8)


def _reference_winner(conv: snn.Convolution, times: torch.Tensor):
    """SpykeTorch's layer-3 recipe on the spike wave: fire when positive, k = 1 winner."""
    wave = sf.spike_wave(times, T)              # [T, C, H, W]
    pot = conv(wave)
    spk = (pot > 0).float()
    return wave, pot, spk, sf.get_k_winners(pot, 1, 0, spk)


def _replay_reference(winner_fn, conv, reward, punish, times, targets):
    """The reference R-STDP sample after sample; returns the correct / wrong / silent counts."""
    counts = [0, 0, 0]
    for i in range(times.shape[0]):
        wave, pot, spk, win = winner_fn(conv, times[i])
        if not win:
            counts[2] += 1
            continue
        ok = win[0][0] // 2 == int(targets[i])
        counts[0 if ok else 1] += 1
        (reward if ok else punish)(wave, pot, spk, win)
    return counts


def test_earliest_inputs_by_hand():
    t = torch.tensor([[[[3, 1], [1, 15]]], [[[15, 15], [15, 15]]]], dtype=torch.uint8)
    t0, active = earliest_inputs(t, 15)
    assert t0.tolist() == [1, 15]
    assert active[0].flatten().tolist() == [False, True, True, False]
    assert not active[1].any()


def test_winners_equal_the_spike_wave_recipe():
    layer = _layer()
    conv = snn.Convolution(4, 20, 3)
    conv.weight.data.copy_(layer.weight.data)
    times = _times(1, b=12)
    times[3] = T                                  # a silent sample
    got = layer.winners(times, T)
    for i in range(times.shape[0]):
        *_, ref = _reference_winner(conv, times[i])
        assert [tuple(w) for w in got[i:i + 1].tolist() if w[0] >= 0] == ref
    assert got[3].tolist() == [-1, -1, -1]
    assert (layer.decide(times, T) == torch.where(got[:, 0] >= 0, got[:, 0] // 2, -1)).all()


def _assert_train_step_replays_reference(layer, conv, reference_winner, seed):
    """``layer.train_step`` on 24 random samples (one silent) == the reference R-STDP replayed
    sample after sample on ``conv`` (same starting weights): hit/miss/silent counts and weights."""
    reward = snn.STDP(conv, (0.05, -0.03), use_stabilizer=False, lower_bound=0.2, upper_bound=0.8)
    punish = snn.STDP(conv, (-0.05, 0.01), use_stabilizer=False, lower_bound=0.2, upper_bound=0.8)
    layer.set_rates((0.05, -0.03), (-0.05, 0.01))
    times = _times(seed, b=24, sparsity=0.8)
    times[5] = T
    targets = torch.randint(0, 10, (24,), generator=torch.Generator().manual_seed(seed + 1))
    counts = _replay_reference(reference_winner, conv, reward, punish, times, targets)
    stats = layer.train_step(times, targets, T)
    assert stats.tolist() == counts and counts[0] > 0 and counts[1] > 0
    torch.testing.assert_close(layer.weight.data, conv.weight.data, rtol=0, atol=1e-6)
    return times, targets


def test_sequential_rstdp_equals_the_reference_update_sample_after_sample():
    layer = _layer(seed=2)
    conv = snn.Convolution(4, 20, 3)
    conv.weight.data.copy_(layer.weight.data)
    _assert_train_step_replays_reference(layer, conv, _reference_winner, seed=3)


def test_reward_moves_the_winner_toward_the_input_and_punishment_away():
    for correct in (True, False):
        layer = _layer(seed=5, c_in=1, feats=2, k=3)
        layer.weight.data.fill_(0.5)
        times = torch.full((1, 1, 3, 3), T, dtype=torch.uint8)
        times[0, 0, 1, 1] = 2
        times[0, 0, 0, 0] = 2
        times[0, 0, 2, 2] = 9                     # fires later than the winner: LTD
        target = torch.tensor([0 if correct else 5])
        layer.train_step(times, target, T)
        w = layer.weight.data[0, 0]               # feature 0 wins the tie (lowest index)
        assert torch.equal(layer.weight.data[1], torch.full((1, 3, 3), 0.5))
        ap, an = (0.004, -0.003) if correct else (-0.004, 0.0005)
        expected = torch.full((3, 3), 0.5 + an)
        expected[1, 1] = expected[0, 0] = 0.5 + ap
        torch.testing.assert_close(w, expected)


def _reference_single_update(conv0: snn.Convolution, times_i: torch.Tensor, target: int, rates):
    """Update (W_after - W_before) and outcome of one sample through the spike-wave recipe, from conv0's weights."""
    conv = snn.Convolution(conv0.in_channels, conv0.out_channels, conv0.kernel_size)
    conv.weight.data.copy_(conv0.weight.data)
    wave, pot, spk, win = _reference_winner(conv, times_i)
    if not win:
        return torch.zeros_like(conv.weight), 2
    ok = win[0][0] // 2 == target
    rule = snn.STDP(conv, rates[0] if ok else rates[1], use_stabilizer=False, lower_bound=0.2, upper_bound=0.8)
    rule(wave, pot, spk, win)
    return conv.weight.data - conv0.weight.data, 0 if ok else 1


def test_batched_rstdp_equals_the_sum_of_single_sample_updates():
    """train_batch == W0 + sum of the per-sample reference updates (each from W0), clipped once."""
    rates = ((0.05, -0.03), (-0.05, 0.01))
    layer = _layer(seed=6)
    layer.weight.data.clamp_(0.3, 0.7)           # no per-sample clip: each update is the pure rate map
    layer.set_rates(*rates)
    conv0 = snn.Convolution(4, 20, 3)
    conv0.weight.data.copy_(layer.weight.data)
    times = _times(7, b=24, sparsity=0.8)
    times[9] = T                                  # a silent sample
    targets = torch.randint(0, 10, (24,), generator=torch.Generator().manual_seed(8))
    total, counts = torch.zeros_like(conv0.weight), [0, 0, 0]
    for i in range(24):
        d, outcome = _reference_single_update(conv0, times[i], int(targets[i]), rates)
        total += d
        counts[outcome] += 1
    feats = layer.winners(times, T)[:, 0]
    live = feats[feats >= 0]
    assert live.unique().numel() < live.numel()   # some feature wins twice: its updates add up
    stats = layer.train_batch(times, targets, T)
    assert stats.tolist() == counts and counts[0] > 0 and counts[1] > 0 and counts[2] == 1
    expected = (conv0.weight.data + total).clamp(0.2, 0.8)
    torch.testing.assert_close(layer.weight.data, expected, rtol=0, atol=1e-6)


def test_batched_rstdp_of_one_sample_is_the_sequential_rule():
    seq, bat = _layer(seed=9), _layer(seed=9)
    times = _times(10, b=1, sparsity=0.6)
    target = torch.tensor([int(bat.decide(times, T)[0])])   # rewarded
    for tgt in (target, (target + 1) % 10):                 # then punished
        assert seq.train_step(times, tgt, T).tolist() == bat.train_batch(times, tgt, T).tolist()
        torch.testing.assert_close(bat.weight.data, seq.weight.data, rtol=0, atol=1e-7)
    assert not torch.equal(bat.weight.data, _layer(seed=9).weight.data)


def test_batched_rstdp_clips_the_sum_once_by_hand():
    """Same input twice, rewarded then punished: the centre gets +0.004 - 0.004 = 0 (0.798 stays),
    where the sequential rule clips 0.802 to 0.8 first and ends at 0.796."""
    times = torch.full((2, 1, 3, 3), T, dtype=torch.uint8)
    times[:, 0, 1, 1] = 4
    targets = torch.tensor([0, 3])                 # feature 0 (class 0) wins: right, then wrong
    ends = []
    for method in ("train_batch", "train_step"):
        layer = _layer(seed=11, c_in=1, feats=2, k=3)
        layer.weight.data.fill_(0.5)
        layer.weight.data[0, 0, 1, 1] = 0.798
        layer.weight.data[1].fill_(0.3)            # feature 0 wins every time
        assert getattr(layer, method)(times, targets, T).tolist() == [1, 1, 0]
        ends.append(layer.weight.data.clone())
        expected = torch.full((3, 3), 0.5 - 0.003 + 0.0005)
        assert torch.equal(layer.weight.data[1], torch.full((1, 3, 3), 0.3))
        torch.testing.assert_close(layer.weight.data[0, 0, [0, 2]], expected[[0, 2]], rtol=0, atol=1e-7)
    assert abs(float(ends[0][0, 0, 1, 1]) - 0.798) < 1e-7
    assert abs(float(ends[1][0, 0, 1, 1]) - 0.796) < 1e-7


def test_batched_rstdp_empty_batch_and_bad_input():
    layer = _layer(seed=12)
    w0 = layer.weight.data.clone()
    stats = layer.train_batch(torch.zeros(0, 4, 6, 6, dtype=torch.uint8), torch.zeros(0, dtype=torch.long), T)
    assert stats.tolist() == [0, 0, 0] and torch.equal(layer.weight.data, w0)
    with pytest.raises(ValueError, match="targets"):
        layer.train_batch(_times(1, b=2), torch.zeros(3, dtype=torch.long), T)
    with pytest.raises(ValueError, match="in_channels"):
        layer.train_batch(_times(1, b=2, c=3), torch.zeros(2, dtype=torch.long), T)
    with pytest.raises(ValueError, match="kernel"):
        layer.train_batch(_times(1, b=2, hw=2), torch.zeros(2, dtype=torch.long), T)


def test_decision_map_and_bad_input():
    layer = DecisionLayer(2, 200, 5, [c for c in range(10) for _ in range(20)])
    assert layer.decision_map[19] == 0 and layer.decision_map[20] == 1 and layer.decision_map[199] == 9
    with pytest.raises(ValueError, match="decision_map"):
        DecisionLayer(2, 20, 5, [0] * 19)
    with pytest.raises(ValueError, match="lower_bound"):
        DecisionLayer(2, 20, 5, [0] * 20, lower_bound=0.0)
    with pytest.raises(TypeError, match="times"):
        earliest_inputs(torch.zeros(1, 1, 2, 2), 15)
    with pytest.raises(ValueError, match="targets"):
        layer.train_step(torch.zeros(2, 2, 5, 5, dtype=torch.uint8), torch.zeros(3, dtype=torch.long), 15)




@pytest.fixture(scope="module")
def example():
    return mozafari


def test_mozafari_layers_equal_the_spike_wave_ops(example):
    """The network's latency-domain layers == SpykeTorch-style wave ops (layer-2 input)."""
    cfg = example.MozafariConfig()
    net = example.MozafariNet(cfg)
    x, _ = su.load_mnist_subset(train=True)
    times = example.encode(x[:3], cfg)
    x2 = net.layer2_input(times)
    for i in range(3):
        wave = sf.pad(sf.spike_wave(times[i], T), (2, 2, 2, 2))
        spk, _ = sf.fire(net.conv1(wave), cfg.conv1[2], True)
        ref = sf.pad(sf.pooling(spk, 2, 2), (1, 1, 1, 1))
        assert torch.equal(sf.spike_wave(x2[i], T), ref)


def _reference_winner_last(conv: snn.Convolution, times: torch.Tensor):
    """SpykeTorch's MozafariDeep layer 3 as written: ``fire(pot)`` without threshold keeps
    only the last step, then one winner."""
    wave = sf.spike_wave(times, T)
    pot = conv(wave)
    spk = sf.fire(pot)
    return wave, pot, spk, sf.get_k_winners(pot, 1, 0, spk)


def test_last_step_rule_equals_the_reference_recipe_winners_and_updates():
    """``fire="last"``: the winner from every input that fired (the potential at the last
    step), and R-STDP on all of them, sample after sample, as the reference recipe."""
    layer = DecisionLayer(4, 20, 3, [f // 2 for f in range(20)], generator=torch.Generator().manual_seed(5),
                          fire="last")
    layer.weight.data.clamp_(0.2, 0.8)
    conv = snn.Convolution(4, 20, 3)
    conv.weight.data.copy_(layer.weight.data)
    times = _times(6, b=12)
    times[3] = T
    got = layer.winners(times, T)
    for i in range(times.shape[0]):
        *_, ref = _reference_winner_last(conv, times[i])
        assert [tuple(w) for w in got[i:i + 1].tolist() if w[0] >= 0] == ref
    assert got[3].tolist() == [-1, -1, -1]
    # the two rules differ on these inputs (the last step sees every input, the first only the earliest)
    first = DecisionLayer(4, 20, 3, [f // 2 for f in range(20)], fire="first")
    first.weight.data.copy_(layer.weight.data)
    assert not torch.equal(first.winners(times, T), got)

    times, targets = _assert_train_step_replays_reference(layer, conv, _reference_winner_last, seed=7)
    # the batched variant of one sample is the sequential rule here too
    one = DecisionLayer(4, 20, 3, [f // 2 for f in range(20)], generator=torch.Generator().manual_seed(9), fire="last")
    two = DecisionLayer(4, 20, 3, [f // 2 for f in range(20)], generator=torch.Generator().manual_seed(9), fire="last")
    one.weight.data.clamp_(0.2, 0.8), two.weight.data.clamp_(0.2, 0.8)  # train_batch clips every row
    for i in range(6):
        assert torch.equal(one.train_step(times[i:i + 1], targets[i:i + 1], T),
                           two.train_batch(times[i:i + 1], targets[i:i + 1], T))
    torch.testing.assert_close(one.weight.data, two.weight.data, rtol=0, atol=1e-7)
    with pytest.raises(ValueError, match="fire"):
        DecisionLayer(4, 20, 3, [f // 2 for f in range(20)], fire="middle")
