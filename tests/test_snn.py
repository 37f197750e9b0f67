"""Tests of spyketorch.snn: convolution, pooling, STDP and reward-modulated STDP."""
import pytest
import torch

import spyketorch.functional as sf
import spyketorch.snn as snn

T = 5


def wave(times: torch.Tensor, t_steps: int = T) -> torch.Tensor:
    return sf.spike_wave(times, t_steps)


def crafted_case():
    """1 input channel 3x3 receptive field, winner (feature 1, row 1, col 1) firing at t=2.

    Input first-spike steps in the winner's field (rows 1..3, cols 1..3 of a 5x5 map):
        [[0, 2, 3],
         [5, 1, 4],      (5 = never fires)
         [2, 5, 0]]
    pre <= post (2) -> LTP; otherwise LTD.
    """
    in_times = torch.full((1, 5, 5), T)
    in_times[0, 1:4, 1:4] = torch.tensor([[0, 2, 3], [5, 1, 4], [2, 5, 0]])
    out_times = torch.full((2, 3, 3), T)
    out_times[1, 1, 1] = 2
    out_times[0, 0, 0] = 0  # a non-winner that fired: must not learn
    ltp = torch.tensor([[1, 1, 0], [0, 1, 0], [1, 0, 1]], dtype=torch.bool)
    return in_times, out_times, ltp


def make_layer(w0: float = 0.5):
    conv = snn.Convolution(1, 2, 3)
    conv.load_weight(torch.full((2, 1, 3, 3), w0))
    return conv


def test_stdp_sign_and_magnitude_with_stabilizer():
    in_times, out_times, ltp = crafted_case()
    conv = make_layer(0.5)
    stdp = snn.STDP(conv, (0.1, -0.05))
    x, y = wave(in_times), wave(out_times)
    stdp(x, y, y, winners=[(1, 1, 1)])
    stab = 0.5 * 0.5
    expected = torch.where(ltp, 0.5 + 0.1 * stab, 0.5 - 0.05 * stab)
    assert torch.allclose(conv.weight[1, 0], expected)
    assert torch.equal(conv.weight[0], torch.full((1, 3, 3), 0.5))  # not a winner


def test_stdp_ordering_tensor():
    in_times, out_times, ltp = crafted_case()
    stdp = snn.STDP(make_layer(), (0.1, -0.05))
    order = stdp.get_pre_post_ordering(wave(in_times), wave(out_times), [(1, 1, 1)])
    assert order.shape == (1, 1, 3, 3)
    assert torch.equal(order[0, 0], ltp)


def test_stdp_bounds_and_stabilizer_use_bounds():
    in_times, out_times, ltp = crafted_case()
    conv = make_layer(0.5)
    stdp = snn.STDP(conv, (0.2, -0.1), lower_bound=0.3, upper_bound=0.9)
    x, y = wave(in_times), wave(out_times)
    stdp(x, y, y, winners=[(1, 1, 1)])
    stab = (0.5 - 0.3) * (0.9 - 0.5)
    expected = torch.where(ltp, 0.5 + 0.2 * stab, 0.5 - 0.1 * stab)
    assert torch.allclose(conv.weight[1, 0], expected)
    # no stabiliser, huge rates: clamped to the bounds
    conv2 = make_layer(0.5)
    stdp2 = snn.STDP(conv2, (5.0, -5.0), use_stabilizer=False, lower_bound=0.3, upper_bound=0.9)
    stdp2(x, y, y, winners=[(1, 1, 1)])
    assert torch.equal(conv2.weight[1, 0], torch.where(ltp, 0.9, 0.3))
    # no stabiliser, small rates: additive
    conv3 = make_layer(0.5)
    snn.STDP(conv3, (0.01, -0.02), use_stabilizer=False)(x, y, y, winners=[(1, 1, 1)])
    assert torch.allclose(conv3.weight[1, 0], torch.where(ltp, 0.51, 0.48))


def test_stdp_stabilizer_freezes_weights_at_bounds():
    in_times, out_times, _ = crafted_case()
    conv = make_layer(1.0)
    snn.STDP(conv, (0.5, -0.5))(wave(in_times), wave(out_times), wave(out_times), winners=[(1, 1, 1)])
    assert torch.equal(conv.weight, torch.ones(2, 1, 3, 3))


def test_stdp_per_feature_rates_and_state_dict():
    conv = make_layer()
    stdp = snn.STDP(conv, [(0.1, -0.1), (0.2, -0.3)])
    assert torch.allclose(stdp.learning_rate, torch.tensor([[0.1, -0.1], [0.2, -0.3]]))
    stdp.update_learning_rate(0, 0.05, -0.04)
    assert stdp.learning_rate[0].tolist() == pytest.approx([0.05, -0.04])
    sd = stdp.state_dict()
    assert "learning_rate" in sd
    other = snn.STDP(make_layer(), (0.0, 0.0))
    other.load_state_dict(sd)
    assert torch.equal(other.learning_rate, stdp.learning_rate)
    stdp.update_all_learning_rate(0.3, -0.2)
    assert torch.allclose(stdp.learning_rate, torch.tensor([[0.3, -0.2]] * 2))
    with pytest.raises(ValueError, match="feature"):
        stdp.update_learning_rate(2, 0.1, -0.1)
    with pytest.raises(ValueError, match="learning_rate"):
        snn.STDP(conv, [(0.1, -0.1)] * 3)
    with pytest.raises(ValueError, match="lower_bound"):
        snn.STDP(conv, (0.1, -0.1), lower_bound=1.0, upper_bound=0.5)


def test_stdp_winners_from_potentials_and_forward_times_equivalence():
    torch.manual_seed(0)
    conv = snn.Convolution(2, 4, 3, 0.7, 0.1)
    g = torch.Generator().manual_seed(1)
    in_times = torch.randint(0, T + 2, (2, 9, 9), generator=g).clamp(max=T)
    x = wave(in_times)
    pot = conv(x)
    spk, pot = sf.fire(pot, 3.0, True)
    pot = sf.pointwise_inhibition(pot)
    spk = (pot > 0).float()
    w0 = conv.weight.clone()
    a = snn.STDP(conv, (0.05, -0.04))
    a(x, pot, spk, kwta=3, inhibition_radius=1)
    w_wave = conv.weight.clone()
    conv.load_weight(w0)
    t, v = sf.first_spike(pot, 0.0)
    winners = sf.get_k_winners_times(t, v, T, 3, 1)
    assert len(winners) == 3
    a.forward_times(in_times, t, winners)
    assert torch.equal(conv.weight, w_wave)
    changed = (w_wave != w0).flatten(1).any(1)
    assert changed.tolist() == [f in {w[0] for w in winners} for f in range(4)]


def _random_sample(seed):
    g = torch.Generator().manual_seed(seed)
    in_times = torch.randint(0, T + 3, (1, 6, 6), generator=g).clamp(max=T)
    out_times = torch.full((2, 4, 4), T)
    f, r, c = seed % 2, seed % 4, (seed * 3) % 4
    out_times[f, r, c] = int(torch.randint(0, T, (1,), generator=g))
    return in_times, out_times, [(f, r, c)]


def test_stdp_batch_sums_updates_against_the_same_weights():
    samples = [_random_sample(s) for s in range(4)]
    conv = make_layer(0.6)
    stdp = snn.STDP(conv, (0.03, -0.02), lower_bound=0.1, upper_bound=0.95)
    # per-sample rate maps L_b (a+ / a- at the winner's synapses), computed without touching W
    rate_maps = []
    for it, ot, win in samples:
        tmp = make_layer(0.6)
        snn.STDP(tmp, (0.03, -0.02), use_stabilizer=False, lower_bound=-10, upper_bound=10).forward_times(it, ot, win)
        rate_maps.append(tmp.weight - 0.6)
    w0 = conv.weight.clone()
    xb = torch.stack([wave(s[0]) for s in samples])
    yb = torch.stack([wave(s[1]) for s in samples])
    stdp(xb, yb, yb, winners=[s[2] for s in samples])
    expected = (w0 + sum(rate_maps) * (w0 - 0.1) * (0.95 - w0)).clamp(0.1, 0.95)
    assert torch.allclose(conv.weight, expected, atol=1e-7)
    # a batch of one is exactly the per-sample rule
    conv1 = make_layer(0.6)
    s1 = snn.STDP(conv1, (0.03, -0.02), lower_bound=0.1, upper_bound=0.95)
    s1(xb[:1], yb[:1], yb[:1], winners=[samples[0][2]])
    conv2 = make_layer(0.6)
    snn.STDP(conv2, (0.03, -0.02), lower_bound=0.1, upper_bound=0.95)(xb[0], yb[0], yb[0], winners=samples[0][2])
    assert torch.equal(conv1.weight, conv2.weight)
    # sequential feeding differs only at second order in the rates
    conv3 = make_layer(0.6)
    s3 = snn.STDP(conv3, (0.03, -0.02), lower_bound=0.1, upper_bound=0.95)
    for b in range(4):
        s3(xb[b], yb[b], yb[b], winners=samples[b][2])
    diff = (conv3.weight - conv.weight).abs().max().item()
    assert 0 < diff < 1e-3


def test_stdp_batched_tensor_winners_with_padding_rows():
    in_times, out_times, ltp = crafted_case()
    conv = make_layer(0.5)
    stdp = snn.STDP(conv, (0.1, -0.05))
    xb = torch.stack([wave(in_times), wave(in_times)])
    yb = torch.stack([wave(out_times), wave(out_times)])
    winners = torch.tensor([[[1, 1, 1], [-1, -1, -1]], [[-1, -1, -1], [-1, -1, -1]]])
    stdp(xb, yb, yb, winners=winners)
    expected = torch.where(ltp, 0.5 + 0.1 * 0.25, 0.5 - 0.05 * 0.25)
    assert torch.allclose(conv.weight[1, 0], expected)


def test_stdp_rejects_mismatched_shapes():
    conv = make_layer()
    stdp = snn.STDP(conv, (0.1, -0.1))
    with pytest.raises(ValueError, match="do not match"):
        stdp(torch.zeros(T, 1, 5, 5), torch.zeros(T, 2, 4, 4), torch.zeros(T, 2, 4, 4), winners=[])
    with pytest.raises(TypeError, match="conv_layer"):
        snn.STDP("conv", (0.1, -0.1))


def test_rstdp_reward_is_stdp_and_punishment_is_anti_stdp():
    in_times, out_times, ltp = crafted_case()
    x, y = wave(in_times), wave(out_times)
    conv = make_layer(0.5)
    r = snn.RSTDP(conv, reward_rate=(0.1, -0.05), punish_rate=(-0.08, 0.02))
    r(x, y, y, reward=1.0, winners=[(1, 1, 1)])
    assert torch.allclose(conv.weight[1, 0], torch.where(ltp, 0.6, 0.45))
    conv.load_weight(torch.full((2, 1, 3, 3), 0.5))
    r(x, y, y, reward=False, winners=[(1, 1, 1)])
    assert torch.allclose(conv.weight[1, 0], torch.where(ltp, 0.42, 0.52))
    conv.load_weight(torch.full((2, 1, 3, 3), 0.5))
    # batch: reward, punishment and neutral samples add up
    xb, yb = torch.stack([x, x, x]), torch.stack([y, y, y])
    r(xb, yb, yb, reward=torch.tensor([1.0, -1.0, 0.0]), winners=[[(1, 1, 1)]] * 3)
    assert torch.allclose(conv.weight[1, 0], torch.where(ltp, 0.5 + 0.1 - 0.08, 0.5 - 0.05 + 0.02))
    assert torch.equal(conv.weight[0], torch.full((1, 3, 3), 0.5))
    with pytest.raises(ValueError, match="reward"):
        r(xb, yb, yb, reward=torch.ones(2), winners=[[(1, 1, 1)]] * 3)


def test_convolution_weights_shapes_and_batch():
    torch.manual_seed(0)
    conv = snn.Convolution(3, 64, (5, 3), weight_mean=0.8, weight_std=0.05)
    assert conv.weight.shape == (64, 3, 5, 3) and not conv.weight.requires_grad
    assert conv.weight.mean().item() == pytest.approx(0.8, abs=0.01)
    assert conv.weight.std().item() == pytest.approx(0.05, abs=0.01)
    conv.reset_weight(0.2, 0.0)
    assert torch.equal(conv.weight, torch.full_like(conv.weight, 0.2))
    x = (torch.rand(2, 4, 3, 9, 7) > 0.5).to(torch.uint8)
    out = conv(x)
    assert out.shape == (2, 4, 64, 5, 5)
    assert torch.equal(out, torch.stack([conv(s) for s in x]))
    # every output is 0.2 * number of input spikes in the 5x3 window
    ref = torch.nn.functional.conv2d(x[0].float(), torch.ones(1, 3, 5, 3)) * 0.2
    assert torch.allclose(out[0, :, :1], ref)
    with pytest.raises(ValueError, match="target"):
        conv.load_weight(torch.zeros(1))
    with pytest.raises(ValueError, match="channels"):
        conv(torch.zeros(2, 2, 9, 9))


def test_pooling_module():
    pool = snn.Pooling(2, padding=1)
    x = torch.arange(16.0).view(1, 1, 4, 4)
    assert pool(x)[0, 0].tolist() == [[0, 2, 3], [8, 10, 11], [12, 14, 15]]
    assert pool(torch.stack([x, x])).shape == (2, 1, 1, 3, 3)


def test_stdp_update_uses_each_features_own_rates():
    """Two winners in two maps, each map with its own (a+, a-): hand-built expected weights."""
    conv = snn.Convolution(1, 2, 2)
    w0 = torch.tensor([[[[0.2, 0.4], [0.6, 0.8]]], [[[0.3, 0.5], [0.7, 0.9]]]])
    conv.load_weight(w0.clone())
    rates = [(0.1, -0.05), (0.02, -0.3)]
    stdp = snn.STDP(conv, rates, use_stabilizer=True)
    # input [T=3, 1, 2, 2]: pixel (0,0) fires at t=0, (0,1) at t=2, (1,0) never, (1,1) at t=1
    first = torch.tensor([[0, 2], [3, 1]])
    x = (torch.arange(3).view(3, 1, 1, 1) >= first.view(1, 1, 2, 2)).float()
    pot = torch.zeros(3, 2, 1, 1)
    spk = torch.zeros(3, 2, 1, 1)
    spk[1:, 0] = 1.0  # feature 0 fires at t=1
    spk[2:, 1] = 1.0  # feature 1 fires at t=2
    pot[:, 0] = 5.0 * spk[:, 0]
    pot[:, 1] = 5.0 * spk[:, 1]
    stdp(x, pot, spk, winners=[(0, 0, 0), (1, 0, 0)])
    before_or_with = {0: torch.tensor([[1, 0], [0, 1]]), 1: torch.tensor([[1, 1], [0, 1]])}  # t_i <= t_f
    expected = w0.clone()
    for f, (ap, an) in enumerate(rates):
        rate = torch.where(before_or_with[f].bool(), torch.tensor(ap), torch.tensor(an))
        expected[f, 0] = (w0[f, 0] + rate * w0[f, 0] * (1 - w0[f, 0])).clamp(0, 1)
    assert torch.allclose(conv.weight, expected, rtol=0, atol=1e-7)
    # the same update with feature 1's rates swapped in for feature 0 differs
    assert not torch.allclose(expected[0, 0], (w0[0, 0] + torch.where(before_or_with[0].bool(),
                              torch.tensor(0.02), torch.tensor(-0.3)) * w0[0, 0] * (1 - w0[0, 0])))


def test_update_learning_rate_indexes_features_python_style():
    stdp = snn.STDP(snn.Convolution(1, 3, 2), (0.1, -0.1))
    stdp.update_learning_rate(2, 0.3, -0.2)  # last feature (3 features, 2 rates each)
    stdp.update_learning_rate(-3, 0.5, -0.4)  # -C is feature 0
    assert torch.allclose(stdp.learning_rate, torch.tensor([[0.5, -0.4], [0.1, -0.1], [0.3, -0.2]]))
    for bad in (3, -4):
        with pytest.raises(ValueError, match="feature"):
            stdp.update_learning_rate(bad, 0.1, -0.1)


@pytest.mark.parametrize("method", ["update_learning_rate", "update_all_learning_rate"])
def test_rate_setters_name_the_bad_argument(method):
    stdp = snn.STDP(snn.Convolution(1, 2, 2), (0.1, -0.1))
    call = getattr(stdp, method)
    head = (0,) if method == "update_learning_rate" else ()
    with pytest.raises(TypeError, match=r"^ap must be a real number"):
        call(*head, "0.1", -0.1)
    with pytest.raises(TypeError, match=r"^an must be a real number"):
        call(*head, 0.1, None)


def test_rstdp_defaults_bound_both_rules_to_0_2_and_0_8_without_stabilizer():
    conv = snn.Convolution(1, 1, 2)
    r = snn.RSTDP(conv)
    for rule, rates in ((r.stdp, [0.004, -0.003]), (r.anti_stdp, [-0.004, 0.0005])):
        assert (rule.lower_bound, rule.upper_bound, rule.use_stabilizer) == (0.2, 0.8, False)
        assert rule.learning_rate[0].tolist() == pytest.approx(rates)
    r = snn.RSTDP(conv, use_stabilizer=True, lower_bound=0.1, upper_bound=0.9)
    for rule in (r.stdp, r.anti_stdp):
        assert (rule.lower_bound, rule.upper_bound, rule.use_stabilizer) == (0.1, 0.9, True)


def test_rstdp_reward_clamps_to_its_upper_bound():
    conv = snn.Convolution(1, 1, 2)
    conv.load_weight(torch.full((1, 1, 2, 2), 0.79))
    r = snn.RSTDP(conv, reward_rate=(0.5, -0.5))
    x = torch.ones(2, 1, 2, 2)  # every input fires first: potentiation
    spk = torch.ones(2, 1, 1, 1)
    r(x, spk * 4.0, spk, reward=1.0, winners=[(0, 0, 0)])
    assert torch.equal(conv.weight, torch.full((1, 1, 2, 2), 0.8))  # 0.79 + 0.5 clamped to 0.8


def test_pre_post_ordering_keeps_the_batch_dimension():
    stdp = snn.STDP(snn.Convolution(1, 1, 2), (0.1, -0.1))
    x = torch.ones(3, 2, 1, 2, 2)  # [B, T, C, H, W]
    spk = torch.ones(3, 2, 1, 1, 1)
    order = stdp.get_pre_post_ordering(x, spk, [[(0, 0, 0)]] * 3)
    assert order.shape == (3, 1, 1, 2, 2) and bool(order.all())
    assert stdp.get_pre_post_ordering(x[0], spk[0], [(0, 0, 0)]).shape == (1, 1, 2, 2)


def test_stdp_constructor_errors_name_the_argument():
    conv = snn.Convolution(1, 2, 2)
    with pytest.raises(TypeError, match=r"conv_layer must be a spyketorch.snn.Convolution, got int"):
        snn.STDP(3, (0.1, -0.1))
    with pytest.raises(TypeError, match=r"^lower_bound must be a real number, got str"):
        snn.STDP(conv, (0.1, -0.1), lower_bound="0")
    with pytest.raises(TypeError, match=r"^upper_bound must be a real number, got str"):
        snn.STDP(conv, (0.1, -0.1), upper_bound="1")
    with pytest.raises(ValueError, match=r"lower_bound \(0.5\) must be < upper_bound \(0.5\)"):
        snn.STDP(conv, (0.1, -0.1), lower_bound=0.5, upper_bound=0.5)


def test_stdp_rates_follow_the_weights_dtype():
    stdp = snn.STDP(snn.Convolution(1, 2, 2).double(), (0.1, -0.1))
    assert stdp.learning_rate.dtype == torch.float64


def test_stdp_input_errors_name_the_argument():
    stdp = snn.STDP(snn.Convolution(1, 1, 2), (0.1, -0.1))
    x = torch.ones(3, 1, 2, 2)
    spk = torch.ones(3, 1, 1, 1)
    with pytest.raises(ValueError, match=r"^input_spikes must be a spike-wave"):
        stdp(torch.ones(1, 2, 2), spk, spk, winners=[(0, 0, 0)])
    with pytest.raises(ValueError, match=r"^output_spikes must be a spike-wave"):
        stdp(x, spk, torch.ones(1, 1, 1), winners=[(0, 0, 0)])
    with pytest.raises(ValueError, match=r"^input_spikes \(3, 1, 2, 2\) and output_spikes \(2, 1, 1, 1\) must share"):
        stdp(x, spk[:2], spk[:2], winners=[(0, 0, 0)])  # same rank, different T
    with pytest.raises(ValueError, match=r"winners tensor must have shape \[K, 3\].*got \(1, 2\)"):
        stdp(x, spk, spk, winners=torch.zeros(1, 2))
    with pytest.raises(ValueError, match=r"winners must hold one list per sample \(2\), got 1"):
        stdp(x.expand(2, 3, 1, 2, 2), spk.expand(2, 3, 1, 1, 1), spk.expand(2, 3, 1, 1, 1), winners=[[(0, 0, 0)]])


def test_stdp_float_winner_tensor_equals_winner_list():
    w0 = torch.tensor([[[[0.3, 0.5], [0.6, 0.7]]]])
    first = torch.tensor([[0, 2], [3, 1]])
    x = (torch.arange(3).view(3, 1, 1, 1) >= first.view(1, 1, 2, 2)).float()
    spk = torch.zeros(3, 1, 1, 1)
    spk[1:] = 1.0
    out = []
    for winners in ([(0, 0, 0)], torch.tensor([[0.0, 0.0, 0.0]])):
        conv = snn.Convolution(1, 1, 2)
        conv.load_weight(w0.clone())
        snn.STDP(conv, (0.1, -0.2), use_stabilizer=False)(x, spk, spk, winners=winners)
        out.append(conv.weight.clone())
    # t_i <= t_f = 1 at (0,0) and (1,1): +0.1; later or never: -0.2
    assert torch.allclose(out[0], w0 + torch.tensor([[0.1, -0.2], [-0.2, 0.1]]), atol=1e-7)
    assert torch.equal(out[0], out[1])


def test_stdp_batch_with_fewer_winners_in_one_sample_ignores_the_padding():
    conv = snn.Convolution(1, 2, 2)
    w0 = torch.full((2, 1, 2, 2), 0.5)
    conv.load_weight(w0.clone())
    x = torch.ones(2, 3, 1, 2, 2)
    spk = torch.ones(2, 3, 2, 1, 1)
    snn.STDP(conv, (0.1, -0.2), use_stabilizer=False)(x, spk, spk, winners=[[(0, 0, 0), (1, 0, 0)], []])
    # only sample 0 learns; every input fired first: both maps potentiated once by 0.1
    assert torch.allclose(conv.weight, torch.full((2, 1, 2, 2), 0.6), atol=1e-7)


def test_forward_times_with_an_empty_batch_changes_nothing():
    """An empty shard (data-parallel training) still calls the update, with a zero sum."""
    torch.manual_seed(0)
    conv = snn.Convolution(2, 3, 3, weight_mean=0.5, weight_std=0.1)
    stdp = snn.STDP(conv, (0.05, -0.04))
    w0 = conv.weight.clone()
    stdp.forward_times(torch.zeros(0, 2, 6, 6, dtype=torch.long), torch.zeros(0, 3, 4, 4, dtype=torch.long),
                       torch.zeros(0, 2, 3, dtype=torch.long))
    assert torch.equal(conv.weight, w0)
