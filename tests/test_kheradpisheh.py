"""The Kheradpisheh et al. (2018) network (spyketorch.networks.kheradpisheh) and its CLI
(examples/mnist_stdp.py), on a few dozen digits."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import spyketorch.functional as sf
import spyketorch.utils as su
from spyketorch.networks import kheradpisheh as demo

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def digits():
    x, y = su.load_mnist_subset(train=True)
    return x[:48], y[:48]


def _subsets(n_train, n_test, seed=0):
    xtr, ytr = su.load_mnist_subset(train=True)
    xte, yte = su.load_mnist_subset(train=False)
    g = torch.Generator().manual_seed(seed)
    itr = torch.randperm(xtr.shape[0], generator=g)[:n_train]
    ite = torch.randperm(xte.shape[0], generator=g)[:n_test]
    return {"train_x": xtr[itr], "train_y": ytr[itr], "test_x": xte[ite], "test_y": yte[ite]}


# ----------------------------------------------------------------------------
# the latency-domain paths against the spike-wave ops
# ----------------------------------------------------------------------------
def test_encode_matches_transform_pipeline(digits):
    cfg = demo.Config()
    times = demo.encode(digits[0][:3], cfg)
    filt = su.Filter([su.DoGKernel(7, 1, 2), su.DoGKernel(7, 2, 1)], padding=3, thresholds=50)
    for i in range(3):
        img = digits[0][i].float().unsqueeze(0)
        wave = su.Intensity2Latency(15, to_spike=True)(sf.local_normalization(filt(img), 8))
        assert torch.equal(sf.spike_wave(times[i], 15), wave)


@pytest.mark.parametrize("arch", demo.ARCHS)
def test_layer1_fast_path_equals_spike_wave_ops(digits, arch):
    """Latency-domain training step == SpykeTorch-style ops on spike-waves."""
    cfg = demo.arch_config(arch)
    torch.manual_seed(0)
    net = demo.KheradpishehNet(cfg)
    times = demo.encode(digits[0][:6], cfg)
    w0 = net.conv1.weight.clone()
    net.stdp1.update_all_learning_rate(0.05, -0.04)
    net.stdp_step1(times)
    fast = net.conv1.weight.clone()
    net.conv1.load_weight(w0)
    x = sf.pad(sf.spike_wave(times, 15), (2, 2, 2, 2))
    pot = net.conv1(x)
    spk, pot = sf.fire(pot, cfg.conv1_threshold, True)
    pot = sf.pointwise_inhibition(pot)
    spk = pot.sign()
    winners = sf.get_k_winners(pot, cfg.k1, cfg.r1, spk)
    assert all(len(w) == cfg.k1 for w in winners)
    net.stdp1(x, pot, spk, winners)
    assert torch.equal(net.conv1.weight, fast)
    assert not torch.equal(fast, w0)


@pytest.mark.parametrize("arch", demo.ARCHS)
def test_layer2_fast_path_equals_dense_convolution(digits, arch):
    cfg = demo.arch_config(arch)
    torch.manual_seed(1)
    net = demo.KheradpishehNet(cfg)
    compact = net.layer2_input(demo.encode(digits[0][:4], cfg))
    # layer-2 input == pooled, padded, pointwise-inhibited layer-1 spike-wave
    t1, _ = net.layer1(demo.encode(digits[0][:4], cfg))
    k, s, p = cfg.pool1
    q = cfg.conv2_padding
    wave = sf.pad(sf.pooling(sf.spike_wave(t1, 15), k, s, p), (q, q, q, q))
    wave = sf.pointwise_inhibition(wave)
    assert torch.equal(sf.spike_wave(net.dense_input(compact), 15), wave)
    t_fast, v_fast = net.layer2(compact)
    t_ref, v_ref = sf.first_spike(net.conv2(wave), cfg.conv2_threshold)
    assert torch.equal(t_fast, t_ref)
    assert torch.allclose(v_fast, v_ref, atol=1e-5)
    # the readout's potentials: those of the last step without a threshold, of the inhibited input or not
    pooled = net.layer1_pooled(demo.encode(digits[0][:4], cfg))
    assert torch.equal(net.compact(pooled), compact)
    full_wave = sf.spike_wave(pooled, 15)
    assert torch.equal(full_wave, sf.pad(sf.pooling(sf.spike_wave(t1, 15), k, s, p), (q, q, q, q)))
    for inhibit, ref in ((True, wave), (False, full_wave)):
        net.cfg.eval_inhibition = inhibit
        assert torch.allclose(net.layer2_potentials(pooled), net.conv2(ref)[:, -1], atol=1e-4)


# ----------------------------------------------------------------------------
# the paper's architecture
# ----------------------------------------------------------------------------
def test_paper_architecture_shapes_and_global_max_pooling_of_potentials(digits):
    """conv 30 5x5 (threshold 15) -> pool 2x2 -> conv 100 5x5 (threshold 10) -> global max of the potentials."""
    cfg = demo.arch_config("paper")
    assert (cfg.conv1_threshold, cfg.conv2_threshold) == (15.0, 10.0)
    torch.manual_seed(2)
    net = demo.KheradpishehNet(cfg)
    assert net.conv1.weight.shape == (30, 2, 5, 5) and net.conv2.weight.shape == (100, 30, 5, 5)
    times = demo.encode(digits[0][:5], cfg)
    t1, _ = net.layer1(times)
    assert t1.shape == (5, 30, 28, 28)
    compact = net.layer2_input(times)
    assert compact.shape == (5, 2, 18, 18)  # 28 -> pool 2x2 -> 14, padded by 2 for the 5x5 kernel
    t2, _ = net.layer2(compact)
    assert t2.shape == (5, 100, 14, 14)
    feats = net.readout_features(times, (2,))
    assert feats.shape == (5, 100) and net.feature_sizes() == {1: 30 * 14 * 14, 2: 100}
    # reference: spike-waves through the layers (lateral inhibition in evaluation too), the last step's
    # potentials (no threshold), max over positions
    assert cfg.eval_inhibition
    wave1 = sf.spike_wave(t1, 15)
    wave2 = sf.pointwise_inhibition(sf.pad(sf.pooling(wave1, 2, 2), (2, 2, 2, 2)))
    pot = net.conv2(wave2)[:, -1]  # [B, 100, 14, 14]
    assert torch.allclose(feats, pot.amax(dim=(2, 3)), atol=1e-4)
    # the potential of a neuron, not its spike: values beyond 1, and different across maps
    assert feats.max() > cfg.conv2_threshold and feats.std(dim=1).min() > 0
    spikes = demo.KheradpishehNet(demo.arch_config("paper", readout_values="spike"))
    spikes.load_state_dict(net.state_dict())
    s = spikes.readout_features(times, (2,))
    assert torch.equal(s, (t2 < 15).flatten(2).any(2).float())


# ----------------------------------------------------------------------------
# readout layers
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("arch", demo.ARCHS)
def test_readout_layer_selection(digits, arch):
    """``(2,)``: the last layer alone (the paper); ``(1, 2)``: the pooled layer-1 spikes before it."""
    cfg = demo.arch_config(arch)
    torch.manual_seed(0)
    net = demo.KheradpishehNet(cfg)
    times = demo.encode(digits[0][:4], cfg)
    last = net.readout_features(times, (2,))
    both = net.readout_features(times, (1, 2))
    sizes = net.feature_sizes()
    assert last.shape == (4, sizes[2]) and both.shape == (4, sizes[1] + sizes[2])
    assert torch.equal(both[:, sizes[1]:], last)
    assert torch.equal(both[:, : sizes[1]], net.layer1_features(times).float())
    assert torch.equal(last, net.features(times))
    for bad in ((1,), (3,), (2, 1, 1), ()):
        with pytest.raises(ValueError, match="layers"):
            net.readout_features(times, bad)
    with pytest.raises(ValueError, match="readout_layers"):
        demo.Config(readout_layers=(1,))


def test_layer1_readout_features(digits):
    """Extra readout input (``readout_layers=(1, 2)``): pooled layer-1 spikes, binary."""
    cfg = demo.Config()
    torch.manual_seed(0)
    net = demo.KheradpishehNet(cfg)
    times = demo.encode(digits[0][:4], cfg)
    f1 = net.layer1_features(times)
    t1, _ = net.layer1(times)
    ref = sf.pooling(sf.spike_wave(t1, 15), 2, 2, 1)[:, -1].flatten(1)  # spiked by the last step
    assert f1.shape == (4, 32 * 15 * 15) and f1.dtype == torch.uint8
    assert torch.equal(f1, (ref > 0).to(torch.uint8))
    # the paper reads out the last layer only: the default everywhere, full MNIST included
    assert demo.preset("spyketorch", full=True).readout_layers == (2,) == demo.Config().readout_layers
    assert demo.preset("paper", full=True, readout_layers=(1, 2)).readout_layers == (1, 2)


# ----------------------------------------------------------------------------
# convergence index
# ----------------------------------------------------------------------------
def test_convergence_index_closed_form():
    w = torch.tensor([[0.0, 1.0], [0.5, 0.8]])
    assert demo.convergence_index(w) == pytest.approx((0 + 0 + 0.25 + 0.16) / 4)
    assert demo.convergence_index(torch.full((3, 4), 0.8)) == pytest.approx(0.16)
    with pytest.raises(TypeError, match="weight"):
        demo.convergence_index([0.5])
    with pytest.raises(ValueError, match="weight"):
        demo.convergence_index(torch.zeros(0))


def test_stdp_stops_once_the_convergence_index_is_below_the_target():
    """The layer stops after the first global batch that leaves C below the target (and not before)."""
    cfg = demo.Config()
    net = demo.KheradpishehNet(cfg)
    steps = []

    def step(x):  # each batch pushes 1/10 of the weights to 0 or 1
        i = len(steps)
        steps.append(x.shape[0])
        with torch.no_grad():
            flat = net.conv1.weight.view(-1)
            n = flat.numel()
            flat[i * n // 10 : (i + 1) * n // 10] = float(i % 2)

    data = torch.zeros(200, 1)
    c0 = demo.convergence_index(net.conv1.weight)
    target = c0 * 0.35  # reached once 7 of the 10 chunks are binary
    res = demo.train_stdp_layer(step, data, 1.0, 10, torch.Generator().manual_seed(0), net.stdp1, 500, 0.004,
                                0.15, convergence=target)
    assert len(steps) == 7 and res["images"] == 70 and res["converged"] == 1.0
    assert res["convergence"] < target <= demo.convergence_index(torch.full((1,), 0.8)) * 0.4
    steps.clear()
    net = demo.KheradpishehNet(cfg)
    res = demo.train_stdp_layer(step, data, 1.0, 10, torch.Generator().manual_seed(0), net.stdp1, 500, 0.004, 0.15)
    assert len(steps) == 20 and res["images"] == 200 and res["converged"] == 0.0  # no target: the whole epoch


def test_real_stdp_drives_the_convergence_index_down():
    """Measured (seed 0): 0.156 at the initial weights, 0.115 after 200 digits (a+ doubling every 10)."""
    cfg = demo.Config()
    torch.manual_seed(0)
    net = demo.KheradpishehNet(cfg)
    times = demo.encode(su.load_mnist_subset(train=True)[0][:200], cfg)
    c0 = demo.convergence_index(net.conv1.weight)
    res = demo.train_stdp_layer(net.stdp_step1, times, 1.0, 8, torch.Generator().manual_seed(0), net.stdp1, 10,
                                0.004, 0.15)
    assert c0 == pytest.approx(0.16, abs=0.01) and res["convergence"] < 0.8 * c0


# ----------------------------------------------------------------------------
# readout and its validation split
# ----------------------------------------------------------------------------
def test_validation_split_is_a_disjoint_partition_of_the_training_digits():
    fit, val = demo.validation_split(60, 1 / 6, seed=3)
    assert val.numel() == 10 and fit.numel() == 50
    assert not set(fit.tolist()) & set(val.tolist())
    assert sorted(fit.tolist() + val.tolist()) == list(range(60))
    assert torch.equal(val, demo.validation_split(60, 1 / 6, seed=3)[1])  # deterministic
    assert not torch.equal(val, demo.validation_split(60, 1 / 6, seed=4)[1])
    assert demo.validation_split(7, 0.0)[1].numel() == 0
    with pytest.raises(ValueError, match="fraction"):
        demo.validation_split(10, 1.0)


@pytest.mark.parametrize("kind", ["svm", "softmax"])
def test_readout_separates_separable_data(kind):
    g = torch.Generator().manual_seed(0)
    y = torch.arange(200) % 10
    x = torch.nn.functional.one_hot(y, 10).float() * 5 + 0.5 * torch.randn(200, 10, generator=g)
    lin = demo.train_readout(x, y, 1e-3, 100, kind)
    assert (lin(x).argmax(1) == y).float().mean() == 1.0


def test_readout_penalty_is_chosen_on_the_validation_split():
    """A huge penalty flattens the classifier (chance on the validation digits): the small one is chosen,
    and the scores are those of the fit split's classifiers on the validation digits."""
    g = torch.Generator().manual_seed(0)
    y = torch.arange(300) % 10
    x = torch.nn.functional.one_hot(y, 10).float() + 0.3 * torch.randn(300, 10, generator=g)
    lin, info = demo.fit_readout(x, y, (1e3, 1e-3), 60, "svm", validation=0.2, seed=0)
    assert info["l2"] == 1e-3 and set(info["validation"]) == {1e3, 1e-3}
    assert info["validation"][1e-3] > 0.9 > info["validation"][1e3]
    fit, val = demo.validation_split(300, 0.2, 0)
    ref = demo.train_readout(x[fit], y[fit], 1e3, 60, "svm")
    assert info["validation"][1e3] == pytest.approx(float((ref(x[val]).argmax(1) == y[val]).float().mean()))
    one, info1 = demo.fit_readout(x, y, (1e-3,), 60, "svm")
    assert info1 == {"l2": 1e-3, "validation": {}}


def test_run_never_looks_at_the_test_digits_before_scoring():
    """The penalty and the readout come from training digits only: other test digits, same choice and weights."""
    data = _subsets(60, 20)
    cfg = demo.Config(seed=0, epochs1=1.0, epochs2=1.0, lr1_every=20, lr2_every=20, readout_iters=20,
                      readout_penalties=(1e-2, 1e-4))
    a = demo.run(cfg, data, progress=False)
    other = dict(data, test_x=data["test_x"].flip(0)[:11], test_y=torch.zeros(11, dtype=torch.long))
    b = demo.run(cfg, other, progress=False)
    assert a["readout_l2"] == b["readout_l2"] and a["validation_accuracy"] == b["validation_accuracy"]
    assert a["train_accuracy"] == b["train_accuracy"]
    assert set(a["validation_accuracy"]) == {"0.01", "0.0001"}


# ----------------------------------------------------------------------------
# the whole recipe and the CLI
# ----------------------------------------------------------------------------
def test_demo_end_to_end_on_a_few_dozen_digits(tmp_path):
    data = _subsets(60, 30)
    cfg = demo.Config(seed=0, epochs1=2.0, epochs2=2.0, lr1_every=20, lr2_every=20, lr2_max=0.15, readout_iters=50)
    res = demo.run(cfg, data, out_dir=tmp_path, progress=False)
    # the readout fits its 60 training digits; whether the features beat chance is
    # tests/test_learning.py's job (untrained weights also reach ~40 % test accuracy here)
    assert res["train_accuracy"] >= 0.9
    saved = torch.load(tmp_path / "mnist_stdp.pt", weights_only=False)
    assert saved["network"]["conv1.weight"].shape == (32, 2, 5, 5)
    assert saved["network"]["conv2.weight"].shape == (150, 32, 2, 2)
    assert "stdp1.learning_rate" in saved["network"]
    assert (tmp_path / "layer1_features.png").stat().st_size > 1000
    torch.manual_seed(cfg.seed)
    w0 = demo.KheradpishehNet(cfg).conv1.weight  # the run's initial weights (same seed)
    w = saved["network"]["conv1.weight"]
    assert (w - w0).abs().max() > 0.3  # STDP moved layer 1 (init: 0.8 +- 0.05)
    assert res["layer1_convergence"] == pytest.approx(demo.convergence_index(w))
    assert res["layer2_convergence"] == pytest.approx(demo.convergence_index(saved["network"]["conv2.weight"]))


def _cli(tmp_path, *args):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "mnist_stdp.py"), "--out-dir", str(tmp_path),
                           "--no-progress", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, torch.load(tmp_path / "mnist_stdp.pt", weights_only=False)


def test_demo_cli(tmp_path):
    out, saved = _cli(tmp_path, "--train-limit", "40", "--test-limit", "20", "--epochs1", "1", "--epochs2", "1",
                      "--readout-iters", "30")
    res = saved["result"]
    assert "(40 train, 20 test digits)" in out
    assert f"test accuracy: {100 * res['test_accuracy']:.2f}%" in out and "wall time" in out
    assert "layer 1: 40 digits, convergence index C = " in out and "layer 2: 40 digits" in out
    assert abs(res["test_accuracy"] * 20 - round(res["test_accuracy"] * 20)) < 1e-4  # k of the 20 digits
    assert saved["config"]["epochs1"] == 1.0 and saved["config"]["seed"] == 0
    assert saved["config"]["arch"] == "spyketorch" and saved["config"]["readout_layers"] == (2,)
    torch.manual_seed(0)
    w0 = demo.KheradpishehNet(demo.Config()).conv1.weight
    assert not torch.equal(saved["network"]["conv1.weight"], w0)  # the CLI trained layer 1
    assert (tmp_path / "layer1_features.png").is_file()


def test_demo_cli_paper_arch_with_both_readout_layers(tmp_path):
    out, saved = _cli(tmp_path, "--arch", "paper", "--readout-layers", "1,2", "--train-limit", "30", "--test-limit",
                      "10", "--readout-iters", "20")
    assert saved["config"]["arch"] == "paper" and saved["config"]["pool2"] is None
    assert saved["network"]["conv2.weight"].shape == (100, 30, 5, 5)
    assert saved["result"]["n_features"] == 30 * 14 * 14 + 100
    assert "readout layer(s) 1,2" in out and "test accuracy: " in out
