"""STDP, R-STDP, convolution and pooling against brute-force references on asymmetric shapes
(T, C, H, W and both kernel sides all different), winners on the map's last row and column,
and the reward's sign rule.

Added after a mutation-testing run (mutmut) showed that square, symmetric test cases let
swapped axes and off-by-one edges go unnoticed.
"""
from __future__ import annotations

import itertools

import pytest
import torch

import spyketorch.functional as sf
import spyketorch.snn as snn

T, CIN, COUT, H, W, KH, KW = 6, 2, 3, 5, 7, 3, 2
HO, WO = H - KH + 1, W - KW + 1
LO, HI = 0.1, 0.9


def _case(seed=0):
    g = torch.Generator().manual_seed(seed)
    in_times = torch.randint(0, T + 2, (CIN, H, W), generator=g).clamp(max=T)   # T = never
    out_times = torch.randint(0, T, (COUT, HO, WO), generator=g)
    weights = LO + (HI - LO) * torch.rand(COUT, CIN, KH, KW, generator=g)
    return in_times, out_times, weights


def _stdp_ref(w0, in_times, out_times, winners, ap, am, stabilizer=True):
    """Python loops over every synapse of every winner (the documented rule)."""
    w = w0.clone()
    for f, r, c in winners:
        post = int(out_times[f, r, c])
        for ci, i, j in itertools.product(range(CIN), range(KH), range(KW)):
            pre = int(in_times[ci, r + i, c + j])
            rate = ap if pre <= post else am
            stab = (w0[f, ci, i, j] - LO) * (HI - w0[f, ci, i, j]) if stabilizer else 1.0
            w[f, ci, i, j] = w0[f, ci, i, j] + rate * stab
    return w.clamp(LO, HI)


@pytest.mark.parametrize("stabilizer", [True, False])
def test_stdp_matches_synapse_by_synapse_reference(stabilizer):
    in_times, out_times, w0 = _case()
    winners = [(2, HO - 1, WO - 1), (0, 0, 3), (1, 2, 0)]      # last row and column included
    ref = _stdp_ref(w0, in_times, out_times, winners, 0.05, -0.03, stabilizer)
    for api in ("wave", "times"):
        conv = snn.Convolution(CIN, COUT, (KH, KW))
        conv.load_weight(w0)
        stdp = snn.STDP(conv, (0.05, -0.03), use_stabilizer=stabilizer, lower_bound=LO, upper_bound=HI)
        if api == "wave":
            y = sf.spike_wave(out_times, T)
            stdp(sf.spike_wave(in_times, T), y, y, winners=winners)
        else:
            stdp.forward_times(in_times, out_times, winners)
        torch.testing.assert_close(conv.weight, ref, msg=api)


def test_stdp_refuses_a_winner_one_past_the_edge():
    in_times, out_times, w0 = _case()
    conv = snn.Convolution(CIN, COUT, (KH, KW))
    stdp = snn.STDP(conv, (0.05, -0.03))
    for bad in [(0, HO, 0), (0, 0, WO), (COUT, 0, 0)]:
        with pytest.raises(ValueError, match="winners"):
            stdp.forward_times(in_times, out_times, [bad])


@pytest.mark.parametrize("reward,sign", [(True, 1), (1.0, 1), (7.5, 1), (False, -1), (-1.0, -1), (-0.2, -1),
                                         (0.0, 0), (torch.tensor(3.0), 1), (torch.tensor(-0.5), -1)])
def test_rstdp_only_the_sign_of_the_reward_counts(reward, sign):
    in_times, out_times, w0 = _case(1)
    winners = [(1, 1, 2)]
    conv = snn.Convolution(CIN, COUT, (KH, KW))
    conv.load_weight(w0)
    rs = snn.RSTDP(conv, reward_rate=(0.04, -0.03), punish_rate=(-0.02, 0.01), lower_bound=LO, upper_bound=HI)
    y = sf.spike_wave(out_times, T)
    rs(sf.spike_wave(in_times, T), y, y, reward=reward, winners=winners)
    if sign == 0:
        assert torch.equal(conv.weight, w0)
        return
    ap, am = (0.04, -0.03) if sign > 0 else (-0.02, 0.01)
    torch.testing.assert_close(conv.weight, _stdp_ref(w0, in_times, out_times, winners, ap, am, stabilizer=False))


def test_rstdp_batch_rewards_by_sign():
    in_times, out_times, w0 = _case(2)
    x = sf.spike_wave(in_times, T)
    y = sf.spike_wave(out_times, T)
    winners = [(1, 1, 2)]

    def run(rewards):
        conv = snn.Convolution(CIN, COUT, (KH, KW))
        conv.load_weight(w0)
        rs = snn.RSTDP(conv, reward_rate=(0.04, -0.03), punish_rate=(-0.02, 0.01), lower_bound=LO, upper_bound=HI)
        rs(torch.stack([x] * 3), torch.stack([y] * 3), torch.stack([y] * 3), reward=rewards, winners=[winners] * 3)
        return conv.weight

    assert torch.equal(run(torch.tensor([2.5, -3.0, 0.0])), run(torch.tensor([1.0, -1.0, 0.0])))
    assert not torch.equal(run(torch.tensor([1.0, 1.0, 0.0])), run(torch.tensor([1.0, -1.0, 0.0])))


# ----------------------------------------------------------------------------- convolution, pooling
def test_convolution_default_weights_are_normal_0_8_0_02():
    torch.manual_seed(0)
    w = snn.Convolution(4, 200, (5, 3)).weight
    assert w.mean().item() == pytest.approx(0.8, abs=0.003)
    assert w.std().item() == pytest.approx(0.02, abs=0.002)
    assert w.dtype == torch.float32


def test_convolution_against_loops_and_empty_shapes():
    in_times, _, w0 = _case(3)
    conv = snn.Convolution(CIN, COUT, (KH, KW))
    conv.load_weight(w0)
    x = sf.spike_wave(in_times, T)
    out = conv(x)
    assert out.shape == (T, COUT, HO, WO)
    for t, f, i, j in [(0, 0, 0, 0), (T - 1, COUT - 1, HO - 1, WO - 1), (3, 1, 2, 4)]:
        ref = (x[t, :, i:i + KH, j:j + KW] * w0[f]).sum()
        torch.testing.assert_close(out[t, f, i, j], ref)
    for shape in [(0, T, CIN, H, W), (2, 0, CIN, H, W)]:
        e = conv(torch.zeros(shape))
        assert e.shape == shape[:2] + (COUT, HO, WO) and e.dtype == torch.float32
    assert conv(torch.zeros(0, CIN, H, W)).shape == (0, COUT, HO, WO)


def test_pooling_module_passes_kernel_stride_padding():
    x = torch.rand(2, 3, 2, 6, 7, generator=torch.Generator().manual_seed(4))
    pool = snn.Pooling((2, 3), stride=(1, 2), padding=(1, 0))
    assert torch.equal(pool(x), sf.pooling(x, (2, 3), (1, 2), (1, 0)))
    assert torch.equal(snn.Pooling(3)(x), sf.pooling(x, 3, 3, 0))
    assert "kernel_size=(2, 3), stride=(1, 2), padding=(1, 0)" in repr(pool)
