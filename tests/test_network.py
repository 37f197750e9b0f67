"""Tests of spyketorch.networks.blocks: the per-time-step conv network built from neuron layers."""
import copy

import pytest
import torch

import spyketorch.functional as sf
from spyketorch import neurons
from spyketorch.networks.blocks import NeuronConvBlock, StepNetwork, rstdp_update, strict_threshold, winner_steps
from spyketorch.snn import RSTDP, STDP, Convolution


def _dyadic_conv(seed: int, cin: int = 2, cout: int = 5, k: int = 3) -> Convolution:
    """A convolution whose weights are multiples of 1/64: every partial sum is exact in float32."""
    g = torch.Generator().manual_seed(seed)
    conv = Convolution(cin, cout, k)
    conv.load_weight(torch.randint(8, 64, conv.weight.shape, generator=g).float() / 64.0)
    return conv


def _times(seed: int, b: int = 4, c: int = 2, h: int = 10, w: int = 10, t: int = 6) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, t + 2, (b, c, h, w), generator=g).clamp(max=t)  # t = never


def _events(times: torch.Tensor, t: int) -> torch.Tensor:
    """[B, T, C, H, W] spikes arriving at each step (one per neuron, at its first-spike step)."""
    steps = torch.arange(t).view(1, t, 1, 1, 1)
    return (times.unsqueeze(1) == steps).float()


@pytest.mark.parametrize("radius", [0, 1])
def test_if_stepped_equals_accumulate_and_fire(radius):
    """IF per step (unit gain, no leak, no refractoriness, strict threshold) == fire on the wave."""
    t_steps, theta, k = 6, 3.0, 3
    times = _times(0, t=t_steps)
    conv_ref = _dyadic_conv(1)
    conv_net = copy.deepcopy(conv_ref)
    # accumulate-and-fire world: spike waves, functional ops, STDP.forward on waves
    wave = sf.spike_wave(times, t_steps)
    pot = conv_ref(wave)
    _, thr = sf.fire(pot, theta, return_thresholded_potentials=True)
    thr = sf.pointwise_inhibition(thr)
    win_ref = sf.get_k_winners(thr, k, radius, as_tensor=True)
    t_ref, v_ref = sf.first_spike(pot, theta)
    STDP(conv_ref, (0.05, -0.04)).forward(wave, thr, (thr > 0).float(), winners=win_ref)
    # per-time-step world
    layer = neurons.IF(threshold=strict_threshold(theta), ts=1.0, C=1.0, refractory_timesteps=0)
    net = StepNetwork([NeuronConvBlock(conv_net, layer, kwta=k, inhibition_radius=radius)])
    rec = net.stdp_step(_events(times, t_steps), 0, STDP(conv_net, (0.05, -0.04)))
    win, steps = net.blocks[0].winners(rec)
    assert torch.equal(rec.post_times, t_ref)
    assert torch.equal(rec.post_values, v_ref)
    assert torch.equal(win, win_ref)
    assert (win[..., 0] >= 0).sum() >= 8  # the comparison is not vacuous
    assert torch.equal(rec.pre_times, times)
    assert torch.equal(conv_net.weight, conv_ref.weight)
    assert not torch.equal(conv_net.weight, _dyadic_conv(1).weight)  # STDP changed something
    # winners' steps: the first-spike step at each winner
    for b in range(times.shape[0]):
        for j in range(k):
            f, r, c = win_ref[b, j].tolist()
            assert steps[b, j].item() == (t_ref[b, f, r, c].item() if f >= 0 else -1)


@pytest.mark.parametrize("name", sorted(neurons.all_models()))
def test_per_step_winners_agree_with_get_k_winners(name):
    """Each model's own per-step k-WTA picks what functional.get_k_winners picks on that step.

    Inputs have distinct potentials (no ties), so the result does not depend on the tie rule.
    """
    torch.manual_seed(3)
    layer = neurons.all_models(n_features=6)[name]()
    b, c, h, w = 5, 6, 4, 4
    # distinct, strong inputs: a random permutation of a grid of values
    vals = (torch.randperm(b * c * h * w).float() + 1.0).view(b, c, h, w)
    out = layer.step(vals * 50.0, n_winners=3)
    ref = sf.get_k_winners(out.thresholded.unsqueeze(1), 3, 0, spikes=(out.spikes > 0).float().unsqueeze(1),
                           as_tensor=True)
    assert (ref[..., 0] >= 0).any()
    assert torch.equal(out.winners, ref)


@pytest.mark.parametrize("name", ["LIF", "AdEx", "UniformQIF"])
def test_batch_equals_one_by_one(name):
    t_steps = 8
    times = _times(5, b=4, t=t_steps)
    conv = _dyadic_conv(6)
    make = neurons.all_models(threshold=2.0, n_features=5)[name]

    def net():
        return StepNetwork([NeuronConvBlock(conv, make(), padding=1, pool=(2, 2, 1), kwta=2, inhibition_radius=1,
                                            gain=4000.0)])

    batch = net().run(_events(times, t_steps))[0]
    n = net()
    for i in range(times.shape[0]):
        one = n.run(_events(times[i : i + 1], t_steps))[0]
        for a, bb in zip(one, batch):
            assert torch.equal(a[0], bb[i])
    assert (batch.post_times < t_steps).any() and (batch.post_times == t_steps).any()


def test_winner_steps_and_rstdp_reward_sign():
    times = torch.tensor([[[[0, 5], [5, 5]]]])
    win = torch.tensor([[[0, 1, 0], [-1, -1, -1]]])
    assert winner_steps(times, win).tolist() == [[5, -1]]
    # R-STDP: reward potentiates a pre-before-post synapse, punishment depresses it
    for reward, sign in ((1.0, 1), (-1.0, -1)):
        conv = Convolution(1, 1, 1, 0.5, 0.0)
        r = RSTDP(conv, (0.1, -0.1), (-0.1, 0.1), lower_bound=0.0, upper_bound=1.0)
        pre = torch.zeros(1, 1, 2, 2, dtype=torch.long)
        post = torch.full((1, 1, 2, 2), 3)
        rstdp_update(r, pre, post, torch.tensor([[[0, 0, 0]]]), torch.tensor([reward]))
        assert torch.sign(conv.weight - 0.5).item() == sign
        assert conv.weight.item() == pytest.approx(0.5 + sign * 0.1)  # no stabiliser by default


def test_bad_arguments():
    conv = Convolution(1, 2, 3)
    with pytest.raises(TypeError):
        NeuronConvBlock(conv, object())
    with pytest.raises(ValueError):
        NeuronConvBlock(conv, neurons.IF(1.0), gain=-1.0)
    with pytest.raises(ValueError):
        StepNetwork([NeuronConvBlock(conv, neurons.IF(1.0))]).run(torch.zeros(2, 3, 1, 5))


def test_short_stdp_run_learns_above_chance():
    """A few STDP batches on the shipped subset make features that read out better than untrained ones.

    Same seed, same network, same ridge readout on coarsely pooled spikes; chance is 10 %.
    Untrained weights (0.8 +- 0.05) give nearly identical feature maps, so the margin comes
    from what STDP learned.
    """
    import torch.nn.functional as F

    from spyketorch import utils as su

    t_steps, ntr, nte = 15, 300, 150
    xtr, ytr = su.load_mnist_subset(True)
    xte, yte = su.load_mnist_subset(False)
    filt = su.Filter([su.DoGKernel(7, 1.0, 2.0), su.DoGKernel(7, 2.0, 1.0)], padding=3, thresholds=50.0)

    def spikes(x):
        t = su.Intensity2Latency(t_steps).spike_times(sf.local_normalization(filt(x.float().unsqueeze(1)), 8))
        return _events(t, t_steps)

    tr, te = spikes(xtr[:ntr]), spikes(xte[:nte])
    torch.manual_seed(0)
    conv = Convolution(2, 8, 5, 0.8, 0.05)
    net = StepNetwork([NeuronConvBlock(conv, neurons.LIF(threshold=10.0), padding=2, pool=(7, 7, 0), kwta=2,
                                       inhibition_radius=2, gain=400.0)])

    def accuracy():
        ftr = (net.run(tr)[0].output_times < t_steps).flatten(1).float()
        fte = (net.run(te)[0].output_times < t_steps).flatten(1).float()
        x = torch.cat([ftr, torch.ones(ntr, 1)], 1)
        w = torch.linalg.solve(x.T @ x + torch.eye(x.shape[1]), x.T @ F.one_hot(ytr[:ntr], 10).float())
        pred = (torch.cat([fte, torch.ones(nte, 1)], 1) @ w).argmax(1)
        return (pred == yte[:nte]).float().mean().item()

    untrained = accuracy()
    stdp = STDP(conv, (0.05, -0.0375))
    for i in range(0, 200, 25):
        net.stdp_step(tr[i : i + 25], 0, stdp)
    trained = accuracy()
    # measured: untrained 40.7 %, trained 52.7 % (150 test digits: one digit is 0.67 %)
    assert trained > 0.4
    assert trained > untrained + 0.08, (untrained, trained)


def _stepped(blocks, spikes):
    """Reference: the per-step API (begin + one step() per time step), block after block in time."""
    t_steps = spikes.shape[1]
    ex = spikes[:, 0]
    for blk in blocks:
        blk.begin(ex, t_steps)
        ex = torch.zeros_like(blk.record().output_times, dtype=spikes.dtype)
    for t in range(t_steps):
        x = spikes[:, t]
        for blk in blocks:
            x = blk.step(x)
    return [blk.record() for blk in blocks]


@pytest.mark.parametrize("name,chunk", [("IF", None), ("LIF", 1), ("AdEx", None), ("AdEx", 2),
                                        ("Izhikevich", None), ("UniformQIF", 2)])
def test_present_equals_per_step_api(name, chunk):
    """All steps at once (one convolution and pooling over T * B) == begin + step() per time step.

    Two blocks, so the pooled spikes of every step feed the second block; event input (several
    spikes per pixel); records of both blocks identical, winners too.
    """
    t_steps = 9
    g = torch.Generator().manual_seed(11)
    spikes = (torch.rand(3, t_steps, 2, 12, 12, generator=g) < 0.3).float()
    make = neurons.all_models(threshold=2.0, n_features=5)[name]
    make2 = neurons.all_models(threshold=2.0, n_features=4)[name]
    g1, g2 = (10.0, 20.0) if name == "Izhikevich" else (100.0, 200.0)  # both layers partly active

    def blocks():
        return [NeuronConvBlock(_dyadic_conv(6), make(), padding=1, pool=(2, 2, 1), kwta=2, inhibition_radius=1,
                                gain=g1),
                NeuronConvBlock(_dyadic_conv(7, cin=5, cout=4), make2(), padding=1, pool=(3, 2, 1), kwta=1, gain=g2)]

    ref_blocks = blocks()
    ref = _stepped(ref_blocks, spikes)
    net = StepNetwork(blocks())
    for blk in net.blocks:
        blk.chunk = chunk
    got = net.run(spikes)
    for r, gt, rb, gb in zip(ref, got, ref_blocks, net.blocks):
        for a, b in zip(r, gt):
            assert a.dtype == b.dtype and torch.equal(a, b)
        assert torch.equal(rb.winners(r)[0], gb.winners(gt)[0])
        assert gb.record() is gt
    for r in ref:  # neither silent nor saturated: the comparison means something
        assert (r.post_times < t_steps).any() and (r.post_times == t_steps).any()
        assert (r.output_times < t_steps).any()
    assert (ref[1].spike_count > 0).all()


def test_present_cpu_chunks_by_size(monkeypatch):
    """chunk=None on the CPU groups the images by CPU_CONV_ELEMENTS (all steps of a chunk in one
    convolution); every grouping gives the same record and the same pooled spikes."""
    import spyketorch.networks.blocks as network

    t_steps = 7
    spikes = _events(_times(8, t=t_steps), t_steps).transpose(0, 1)
    blk = NeuronConvBlock(_dyadic_conv(3), neurons.LIF(threshold=2.0), pool=(2, 2, 0), kwta=2, gain=500.0)
    calls = []
    real_conv = network.F.conv2d
    monkeypatch.setattr(network.F, "conv2d", lambda x, w: calls.append(x.shape[0]) or real_conv(x, w))
    ref, ref_out = blk.present(spikes)
    assert calls == [t_steps * 4]  # tiny input: the whole batch in one call
    monkeypatch.setattr(network, "CPU_CONV_ELEMENTS", 2 * t_steps * 5 * 8 * 8 + 1)  # two images per call
    calls.clear()
    got, got_out = blk.present(spikes)
    assert calls == [t_steps * 2, t_steps * 2]
    for a, b in zip(ref, got):
        assert torch.equal(a, b)
    assert torch.equal(ref_out, got_out)
    blk.chunk = 3  # a last chunk smaller than the others
    calls.clear()
    got, got_out = blk.present(spikes)
    assert calls == [t_steps * 3, t_steps * 1]
    assert all(torch.equal(a, b) for a, b in zip(ref, got)) and torch.equal(ref_out, got_out)
    assert (ref.post_times < t_steps).any() and (ref.post_times == t_steps).any()
    blk.chunk = 0
    with pytest.raises(ValueError):
        blk.present(spikes)


def test_present_without_values_and_pooling():
    """track_values off gives zero values and the same times; pooled=False returns no spikes."""
    t_steps = 6
    times = _times(2, t=t_steps)
    blk = NeuronConvBlock(_dyadic_conv(3), neurons.LIF(threshold=2.0), pool=(2, 2, 0), kwta=2, gain=500.0)
    full, pooled = blk.present(_events(times, t_steps).transpose(0, 1))
    assert pooled.shape == (t_steps, 4, 5, 4, 4)
    # first pooled step from the pooled spikes themselves
    first = torch.where(pooled.bool().any(0), pooled.argmax(0), t_steps)
    assert torch.equal(first, full.output_times)
    blk.track_values = False
    rec, none = blk.present(_events(times, t_steps).transpose(0, 1), pooled=False)
    assert none is None
    assert torch.equal(rec.post_times, full.post_times) and torch.equal(rec.spike_count, full.spike_count)
    assert not rec.post_values.any() and full.post_values.any()
    empty, pooled = blk.present(torch.zeros(t_steps, 0, 2, 10, 10))  # an empty batch (a rank's empty shard)
    assert pooled.shape == (t_steps, 0, 5, 4, 4) and empty.spike_count.shape == (0,)
    assert empty.post_times.shape == (0, 5, 8, 8) and empty.output_times.shape == (0, 5, 4, 4)
    with pytest.raises(ValueError):
        blk.present(torch.zeros(3, 2, 6, 6))
    with pytest.raises(TypeError):
        blk.present([0.0])


def test_step_output_flags_leave_the_state_alone():
    """Skipping outputs of Neuron.step changes nothing else (same state, spikes, potentials)."""
    g = torch.Generator().manual_seed(4)
    x = torch.rand(6, 2, 4, 5, 5, generator=g) * 3000
    for name in ("LIF", "AdEx", "AdaptiveLIF"):
        a = neurons.all_models(n_features=4)[name]()
        b = neurons.all_models(n_features=4)[name]()
        inhibited = False
        for t in range(x.shape[0]):
            oa = a.step(x[t], n_winners=2)
            ob = b.step(x[t], n_winners=2, thresholded=False, dudt=False, winners=False, winning_spikes=False)
            assert torch.equal(oa.spikes, ob.spikes) and torch.equal(oa.potentials, ob.potentials)
            assert ob.thresholded is None and ob.dudt is None and ob.winners is None and ob.winning_spikes is None
            assert torch.equal(a.v, b.v) and torch.equal(a.refractory, b.refractory)
            inhibited = inhibited or bool(a.refractory.any())
        assert inhibited  # the per-step k-WTA did inhibit (refractory steps), in both
