"""DecisionLayer (R-STDP earliest-spike layer) against the spike-wave ops it replaces."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

import spyketorch.functional as sf
import spyketorch.snn as snn
import spyketorch.utils as su
from spyketorch.decision import DecisionLayer, earliest_inputs

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


def test_sequential_rstdp_equals_the_reference_update_sample_after_sample():
    layer = _layer(seed=2)
    conv = snn.Convolution(4, 20, 3)
    conv.weight.data.copy_(layer.weight.data)
    reward = snn.STDP(conv, (0.05, -0.03), use_stabilizer=False, lower_bound=0.2, upper_bound=0.8)
    punish = snn.STDP(conv, (-0.05, 0.01), use_stabilizer=False, lower_bound=0.2, upper_bound=0.8)
    layer.set_rates((0.05, -0.03), (-0.05, 0.01))
    times = _times(3, b=24, sparsity=0.8)
    times[5] = T
    targets = torch.randint(0, 10, (24,), generator=torch.Generator().manual_seed(4))
    counts = [0, 0, 0]
    for i in range(24):
        wave, pot, spk, win = _reference_winner(conv, times[i])
        if not win:
            counts[2] += 1
            continue
        ok = win[0][0] // 2 == int(targets[i])
        counts[0 if ok else 1] += 1
        (reward if ok else punish)(wave, pot, spk, win)
    stats = layer.train_step(times, targets, T)
    assert stats.tolist() == counts and counts[0] > 0 and counts[1] > 0
    torch.testing.assert_close(layer.weight.data, conv.weight.data, rtol=0, atol=1e-6)


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


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mozafari_rstdp.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("mozafari_example", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_mozafari_layers_equal_the_spike_wave_ops(example):
    """The example's latency-domain layers == SpykeTorch-style wave ops (layer-2 input)."""
    cfg = example.Config()
    net = example.MozafariNet(cfg)
    x, _ = su.load_mnist_subset(train=True)
    times = example.encode(x[:3], cfg)
    x2 = net.layer2_input(times)
    for i in range(3):
        wave = sf.pad(sf.spike_wave(times[i], T), (2, 2, 2, 2))
        spk, _ = sf.fire(net.conv1(wave), cfg.conv1[2], True)
        ref = sf.pad(sf.pooling(spk, 2, 2), (1, 1, 1, 1))
        assert torch.equal(sf.spike_wave(x2[i], T), ref)
