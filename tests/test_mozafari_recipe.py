"""The Mozafari et al. 2019 recipe against the reference's rules (SpykeTorch's ``MozafariDeep.py``
and ``Intensity2Latency``), and the C kernels against the eager paths they replace."""
from __future__ import annotations

import copy

import pytest
import torch

import spyketorch.functional as sf
from spyketorch import _latency_native as native
from spyketorch.coding.latency import Intensity2Latency
from spyketorch.learning.decision import DecisionLayer
from spyketorch.networks import mozafari as moz

T = 15
needs_native = pytest.mark.skipif(not native.available(), reason="no C compiler for the latency kernels")


@pytest.fixture(scope="module")
def coded():
    """Coded subset digits, an untrained network and its layer inputs (first 300 digits)."""
    data = moz.load_mnist(None)
    cfg = moz.MozafariConfig()
    net = moz.MozafariNet(cfg)
    x = moz.encode(data["train_x"][:300], cfg)
    x2 = net.layer2_input(x)
    x3 = net.layer3_input(x2)
    return cfg, net, x, x2, x3, data["train_y"][:300]


# ----------------------------------------------------------------------------- latency bins
def _reference_bins(x: torch.Tensor, steps: int) -> torch.Tensor:
    """SpykeTorch's binning, written from its rule: sort the values (descending), cut the
    sorted list into bins of n // T, step i fires bin i; the rest never fires."""
    flat = x.flatten().tolist()
    n = sum(v != 0 for v in flat)
    size = n // steps
    ranked = sorted(range(len(flat)), key=lambda i: (-flat[i], i))   # ties: lowest index first
    out = [steps] * len(flat)
    for step in range(steps):
        for i in ranked[step * size:(step + 1) * size]:
            out[i] = step
    return torch.tensor(out).view(x.shape)


@pytest.mark.parametrize("steps", [1, 3, 7, 15])
def test_equal_latency_bins_follow_the_reference_rule(steps):
    g = torch.Generator().manual_seed(steps)
    x = torch.rand(4, 2, 5, 6, generator=g)
    x[torch.rand(x.shape, generator=g) < 0.4] = 0
    x[1, 0, 0, :3] = x[1, 0, 1, 0]                    # ties
    got = Intensity2Latency(steps, binning="equal").spike_times(x)
    for i in range(4):
        assert torch.equal(got[i], _reference_bins(x[i], steps))
        n = int((x[i] != 0).sum())
        counts = torch.bincount(got[i].flatten(), minlength=steps + 1)
        assert counts[:steps].tolist() == [n // steps] * steps         # every step: exactly n // T values
        assert int(counts[steps]) == x[i].numel() - n + n % steps       # zeros and the n mod T weakest: never
    assert not torch.equal(got, Intensity2Latency(steps).spike_times(x)) or steps == 1


def test_equal_bins_with_fewer_values_than_steps_fire_nothing_and_bad_binning():
    x = torch.tensor([[[3.0, 0.0, 1.0]]])
    assert Intensity2Latency(4, binning="equal").spike_times(x).tolist() == [[[4, 4, 4]]]
    with pytest.raises(ValueError, match="binning"):
        Intensity2Latency(4, binning="even")


def test_the_recipe_codes_digits_with_the_reference_bins(coded):
    cfg, _, x, *_ = coded
    for i in range(5):
        counts = torch.bincount(x[i].flatten().long(), minlength=T + 1)
        assert len(set(counts[:T].tolist())) == 1      # equal bins
    assert cfg.latency_binning == "equal" and cfg.order == "natural" and cfg.rate_every == 1000


# ----------------------------------------------------------------------------- layer-1/2 schedule
def test_ap_doubles_on_the_500th_image_as_the_reference_counter():
    cfg = moz.MozafariConfig()
    assert moz._ap(cfg, 0) == 0.004 and moz._ap(cfg, 498) == 0.004   # images 1..499
    assert moz._ap(cfg, 499) == 0.008 and moz._ap(cfg, 998) == 0.008  # the 500th image is the first doubled
    assert moz._ap(cfg, 999) == 0.016
    assert moz._ap(cfg, 10 ** 6) == 0.15


@needs_native
@pytest.mark.parametrize("layer", [1, 2])
def test_train_stdp_equals_the_eager_image_after_image_rule(coded, layer):
    """train_stdp (natural order, constant-rate segments in C) == stdp_step image after image with
    the reference's a+ schedule, bit for bit (lr_every 7 so that 45 images cross several doublings)."""
    cfg0, net0, x, x2, *_ = coded
    cfg = moz.MozafariConfig(lr_every=7)
    a, b = moz.MozafariNet(cfg), moz.MozafariNet(cfg)
    xin = net0._pad(x, 2)[:45] if layer == 1 else x2[:45]
    moz.train_stdp(a, layer, xin, 2, torch.Generator().manual_seed(0), False)
    stdp = b.stdp1 if layer == 1 else b.stdp2
    seen = 0
    for _ in range(2):
        for i in range(45):
            ap = min(0.004 * 2 ** ((seen + 1) // 7), 0.15)
            stdp.update_all_learning_rate(ap, -0.75 * ap)
            b.stdp_step(layer, xin[i:i + 1])
            seen += 1
    wa, wb = (a.conv1.weight, b.conv1.weight) if layer == 1 else (a.conv2.weight, b.conv2.weight)
    assert torch.equal(wa, wb)
    assert (wa - moz.MozafariNet(cfg).state_dict()[f"conv{layer}.weight"]).abs().max() > 0.05


@needs_native
def test_native_stdp_clamps_the_whole_layer_at_the_first_image_even_without_winners(coded):
    """As the torch update (a zero update still clamps the weight): weights drawn above the upper
    bound are capped by the first image, a silent one included, before the next image's potentials."""
    cfg, net0, x, *_ = coded
    a, b = moz.MozafariNet(cfg), moz.MozafariNet(cfg)
    for net in (a, b):   # feature 5 beats feature 3 until clamped (mean 1.05 > 0.9), then loses (0.75 < 0.9)
        net.conv1.weight.data[3] = 0.9
        net.conv1.weight.data[5].view(-1)[0::2] = 1.6   # above the upper bound 1
        net.conv1.weight.data[5].view(-1)[1::2] = 0.5
    xin = net0._pad(x[:6], 2).clone()
    xin[0] = T                                          # a silent first image: no winner
    a.stdp_sequence(1, xin, torch.arange(6))
    for i in range(6):
        b.stdp_step(1, xin[i:i + 1])
    assert torch.equal(a.conv1.weight, b.conv1.weight) and float(a.conv1.weight.max()) <= 1.0


@needs_native
def test_native_stdp_winners_are_the_latency_ops_winners(coded):
    """The kernel's k winners of each image (after pointwise inhibition) == get_k_winners_times on
    the eager first spikes, for the weights the image saw."""
    cfg, net0, x, x2, *_ = coded
    net = moz.MozafariNet(cfg)
    eager = moz.MozafariNet(cfg)
    for i in range(8):
        wins = net.stdp_sequence(2, x2, torch.tensor([i]), record=True)[0]
        t, v = sf.first_spike(eager.conv2(sf.spike_wave(x2[i:i + 1], T)), 10.0)
        t, v = sf.pointwise_inhibition_times(t, v, T)
        ref = sf.get_k_winners_times(t, v, T, 8, 1, as_tensor=True)[0]
        assert torch.equal(wins, ref) and int((wins[:, 0] >= 0).sum()) > 0
        eager.stdp_step(2, x2[i:i + 1])
    assert torch.equal(net.conv2.weight, eager.conv2.weight)


@needs_native
def test_native_forward_equals_the_spike_wave_first_spikes(coded):
    cfg, net, x, x2, *_ = coded
    for conv, xin, thr in ((net.conv1, net._pad(x[:20], 2), 15.0), (net.conv2, x2[:20], 10.0)):
        t_ref, v_ref = sf.first_spike(conv(sf.spike_wave(xin, T)), thr)
        t, v = native.forward(xin, conv.weight, thr, T, values=True)
        assert torch.equal(t, t_ref.clamp(max=T).to(torch.uint8))
        torch.testing.assert_close(v, v_ref, rtol=1e-5, atol=1e-4)
        assert 0 < int((t < T).sum()) < t.numel()


# ----------------------------------------------------------------------------- layer 3
def _layer(fire: str = "last") -> DecisionLayer:
    dmap = [c for c in range(10) for _ in range(20)]
    return DecisionLayer(250, 200, 5, dmap, generator=torch.Generator().manual_seed(0), fire=fire)


@needs_native
@pytest.mark.parametrize("fire", ["last", "first"])
def test_native_sequential_rstdp_equals_the_eager_rule_bit_for_bit(coded, fire):
    """300 digits, sample after sample, from unclamped initial weights: same counts, same weights."""
    *_, x3, y = coded
    a, b = _layer(fire), _layer(fire)
    assert not bool(((a.weight >= 0.2) & (a.weight <= 0.8)).all())    # the whole-layer clamp is exercised
    sa = a._train_step_torch(a.active_inputs(x3, T), y)
    sb = b.train_step(x3, y, T)
    assert sa.tolist() == sb.tolist() and sa[0] > 0 and sa[1] > 0
    assert torch.equal(a.weight, b.weight)
    pot = a.potentials_at_first_step(a.active_inputs(x3, T)).flatten(1)
    best, idx = pot.max(dim=1)
    assert torch.equal(a.winners(x3, T)[:, 0], torch.where(best > 0, idx // 16, -1))


@needs_native
def test_learning_with_several_threads_is_the_same_sequential_rule(coded):
    """The kernel splits the features over threads (one barrier per image): same counts and weights
    as one thread, from unclamped initial weights and from clamped ones."""
    *_, x3, y = coded
    before = torch.get_num_threads()
    try:
        out = []
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            layer = _layer()
            stats = layer.train_step(x3[:120], y[:120], T).tolist()
            stats += layer.train_step(x3[120:], y[120:], T).tolist()
            out.append((stats, layer.weight.detach().clone()))
    finally:
        torch.set_num_threads(before)
    for stats, w in out[1:]:
        assert stats == out[0][0] and torch.equal(w, out[0][1])


@pytest.mark.parametrize("path", ["native", "eager"])
def test_the_first_update_clamps_the_whole_layer_as_the_reference(path):
    """The reference's STDP clamps its whole weight after each update: rows that did not win, drawn
    outside [0.2, 0.8], are capped by the first (live) update and by nothing before it."""
    if path == "native" and not native.available():
        pytest.skip("no C compiler")
    layer = DecisionLayer(1, 4, 3, [0, 1, 2, 3])
    layer.weight.data.fill_(0.5)
    layer.weight.data[0, 0, 1, 1] = 0.79                 # feature 0 wins (only the centre input fires)
    layer.weight.data[2] = 0.95                          # above the upper bound, but its centre weight
    layer.weight.data[2, 0, 1, 1] = 0.1                  # (0.1, below the lower bound) loses
    layer.weight.data[3, 0, 0, 0] = 0.05                 # below the lower bound
    silent = torch.full((1, 1, 3, 3), T, dtype=torch.uint8)
    times = silent.clone()
    times[0, 0, 1, 1] = 3
    step = layer.train_step if path == "native" else (
        lambda t, tg, s: layer._train_step_torch(layer.active_inputs(t, s), tg))
    w0 = layer.weight.detach().clone()
    assert step(silent, torch.tensor([0]), T).tolist() == [0, 0, 1]
    assert torch.equal(layer.weight, w0)                 # no update, no clamp
    assert step(times, torch.tensor([0]), T).tolist() == [1, 0, 0]
    assert float(layer.weight[0, 0, 1, 1]) == pytest.approx(0.794)
    assert torch.equal(layer.weight[2, 0, 0, 0], torch.tensor(0.8))
    assert float(layer.weight[2, 0, 1, 1]) == pytest.approx(0.2)
    assert float(layer.weight[3, 0, 0, 0]) == pytest.approx(0.2)
    assert bool(((layer.weight >= 0.2) & (layer.weight <= 0.8)).all())


@pytest.mark.parametrize("adaptive", [(0.0, 1.0), (0.2, 0.8)])
def test_layer3_rates_adapt_after_every_chunk_from_that_chunk(coded, adaptive):
    """train_rstdp == a replay of the reference's loop: natural order, chunks of rate_every images,
    the first at the raw rates, each next one at reward x (miss rate) and punishment x (hit rate)
    of the chunk before (across epochs too; (0.2, 0.8): Mozafari et al. 2018's
    ``0.2 + 0.8 x rate``); per-epoch training fractions = counts / N."""
    *_, x3, y = coded
    x3, y = x3[:95], y[:95]
    lo, gain = adaptive
    cfg = moz.MozafariConfig(rate_every=20, epochs3=2, reward=(0.04, -0.03), punish=(-0.04, 0.005),
                             adaptive_min=lo, adaptive_int=gain)
    net = moz.MozafariNet(cfg)
    ref = copy.deepcopy(net.decision)
    calls = []
    set_rates = net.decision.set_rates
    net.decision.set_rates = lambda r, p: (calls.append((r, p)), set_rates(r, p))[1]
    state = moz.train_rstdp(net, x3, y, x3[:10], y[:10], torch.Generator().manual_seed(0), False, {}, None)
    assert calls[0] == ((0.04, -0.03), (-0.04, 0.005)) and len(calls) == 10
    miss, hit, k = None, None, 0
    for epoch in range(2):
        total = torch.zeros(3, dtype=torch.long)
        for c0 in range(0, 95, 20):
            sr = 1.0 if miss is None else lo + gain * miss
            sp = 1.0 if hit is None else lo + gain * hit
            r, p = (0.04 * sr, -0.03 * sr), (-0.04 * sp, 0.005 * sp)
            assert calls[k] == (r, p)
            k += 1
            ref.set_rates(r, p)
            counts = ref.train_step(x3[c0:c0 + 20], y[c0:c0 + 20], T)
            n = min(20, 95 - c0)
            hit, miss = counts[0].item() / n, counts[1].item() / n
            total += counts
        assert state["history"][epoch]["train"] == (total.double() / 95).tolist()
    assert torch.equal(net.decision.weight, ref.weight)
    assert state["rate_scale"] == (miss, hit)
    assert len({c for c in calls}) > 3                                     # the rates did move


def test_best_training_epoch_never_looks_at_the_test_set():
    hist = [{"epoch": 1, "train": [0.5, 0.5, 0], "test": [0.9, 0.1, 0]},
            {"epoch": 2, "train": [0.7, 0.3, 0], "test": [0.6, 0.4, 0]},
            {"epoch": 3, "train": [0.7, 0.3, 0], "test": [0.65, 0.35, 0]},   # equal train: the later one
            {"epoch": 4, "train": [0.6, 0.4, 0], "test": [0.99, 0.01, 0]}]
    assert moz.best_train_epoch(hist)["epoch"] == 3
    assert moz.best_train_epoch([]) is None


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="order"):
        moz.MozafariConfig(order="random")
    with pytest.raises(ValueError, match="rate_every"):
        moz.MozafariConfig(rate_every=0)
    with pytest.raises(ValueError, match="epochs3"):
        moz.MozafariConfig(epochs3=-1)


@needs_native
def test_dropout_features_never_win_and_the_kernel_equals_the_eager_rule(coded):
    """A dropped feature (Mozafari et al. 2018's dropout) cannot win: its row never changes, and
    the kernel and the eager rule agree bit for bit."""
    *_, x3, y = coded
    a, b = _layer(), _layer()
    for layer in (a, b):
        layer.weight.data.clamp_(0.2, 0.8)
    w0 = a.weight.detach().clone()
    dropped = torch.rand(200, generator=torch.Generator().manual_seed(3)) < 0.5
    sa = a._train_step_torch(a.active_inputs(x3[:150], T), y[:150], dropped)
    sb = b.train_step(x3[:150], y[:150], T, dropped=dropped)
    assert sa.tolist() == sb.tolist() and sa[2] == 0
    assert torch.equal(a.weight, b.weight)
    assert torch.equal(a.weight[dropped], w0[dropped])
    assert not torch.equal(a.weight[~dropped], w0[~dropped])
    everything = torch.ones(200, dtype=torch.bool)
    assert b.train_step(x3[:5], y[:5], T, dropped=everything).tolist() == [0, 0, 5]   # nobody may fire
    with pytest.raises(ValueError, match="dropped"):
        b.train_step(x3[:5], y[:5], T, dropped=torch.zeros(3, dtype=torch.bool))


def test_validation_split_and_cached_layer3_inputs(tmp_path):
    """A validation set is evaluated every epoch; a second run reuses the cached layer-3 inputs
    (layers 1-2 from their checkpoints) and continues as the uninterrupted run."""
    data = moz.load_mnist(None)
    data = {"train_x": data["train_x"][:30], "train_y": data["train_y"][:30], "val_x": data["train_x"][30:40],
            "val_y": data["train_y"][30:40], "test_x": data["test_x"][:10], "test_y": data["test_y"][:10]}
    cfg = dict(epochs1=1, epochs2=1, rate_every=10, dropout=0.3, order="shuffle")
    full = moz.run(moz.MozafariConfig(epochs3=3, **cfg), data, tmp_path / "a", progress=False)
    moz.run(moz.MozafariConfig(epochs3=1, **cfg), data, tmp_path / "b", progress=False)
    assert (tmp_path / "b" / "layer3_inputs.pt").exists()
    again = moz.run(moz.MozafariConfig(epochs3=3, **cfg), data, tmp_path / "b", progress=False)
    assert again["encode_s"] == 0.0                       # nothing recomputed before layer 3
    assert [h["val"] for h in again["history"]] == [h["val"] for h in full["history"]]
    assert [h["train"] for h in again["history"]] == [h["train"] for h in full["history"]]
    assert again["best_val_epoch"] == full["best_val_epoch"]
    assert torch.equal(torch.load(tmp_path / "a" / "layer3.pt", weights_only=False)["decision"]["weight"],
                       torch.load(tmp_path / "b" / "layer3.pt", weights_only=False)["decision"]["weight"])
