"""End-to-end test of the MNIST STDP demo (examples/mnist_stdp.py) on a few dozen digits."""

import pytest
import torch

import spyketorch.functional as sf
import spyketorch.utils as su
from _examples import load_example



@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def demo():
    mod = load_example("mnist_stdp.py", "mnist_stdp_demo")
    return mod


@pytest.fixture(scope="module")
def digits():
    x, y = su.load_mnist_subset(train=True)
    return x[:48], y[:48]


def test_encode_matches_transform_pipeline(demo, digits):
    cfg = demo.Config()
    times = demo.encode(digits[0][:3], cfg)
    filt = su.Filter([su.DoGKernel(7, 1, 2), su.DoGKernel(7, 2, 1)], padding=3, thresholds=50)
    for i in range(3):
        img = digits[0][i].float().unsqueeze(0)
        wave = su.Intensity2Latency(15, to_spike=True)(sf.local_normalization(filt(img), 8))
        assert torch.equal(sf.spike_wave(times[i], 15), wave)


def test_layer1_fast_path_equals_spike_wave_ops(demo, digits):
    """Latency-domain training step == SpykeTorch-style ops on spike-waves."""
    cfg = demo.Config()
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


def test_layer2_fast_path_equals_dense_convolution(demo, digits):
    cfg = demo.Config()
    torch.manual_seed(1)
    net = demo.KheradpishehNet(cfg)
    compact = net.layer2_input(demo.encode(digits[0][:4], cfg))
    # layer-2 input == pooled, padded, pointwise-inhibited layer-1 spike-wave
    t1, _ = net.layer1(demo.encode(digits[0][:4], cfg))
    wave = sf.pad(sf.pooling(sf.spike_wave(t1, 15), 2, 2, 1), (1, 1, 1, 1))
    wave = sf.pointwise_inhibition(wave)
    assert torch.equal(sf.spike_wave(net.dense_input(compact), 15), wave)
    t_fast, v_fast = net.layer2(compact)
    t_ref, v_ref = sf.first_spike(net.conv2(wave), cfg.conv2_threshold)
    assert torch.equal(t_fast, t_ref)
    assert torch.allclose(v_fast, v_ref, atol=1e-5)


def test_demo_end_to_end_on_a_few_dozen_digits(demo, tmp_path):
    xtr, ytr = su.load_mnist_subset(train=True)
    xte, yte = su.load_mnist_subset(train=False)
    g = torch.Generator().manual_seed(0)
    itr = torch.randperm(xtr.shape[0], generator=g)[:60]
    ite = torch.randperm(xte.shape[0], generator=g)[:30]
    data = {"train_x": xtr[itr], "train_y": ytr[itr], "test_x": xte[ite], "test_y": yte[ite]}
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


def test_layer1_readout_features(demo, digits):
    """Extra readout input of the full-MNIST recipe: pooled layer-1 spikes, binary."""
    cfg = demo.Config()
    torch.manual_seed(0)
    net = demo.KheradpishehNet(cfg)
    times = demo.encode(digits[0][:4], cfg)
    f1 = net.layer1_features(times)
    t1, _ = net.layer1(times)
    ref = sf.pooling(sf.spike_wave(t1, 15), 2, 2, 1)[:, -1].flatten(1)  # spiked by the last step
    assert f1.shape == (4, 32 * 15 * 15) and f1.dtype == torch.uint8
    assert torch.equal(f1, (ref > 0).to(torch.uint8))
    assert demo.FULL_CONFIG["readout_layer1"] and not demo.Config().readout_layer1


def test_demo_cli(demo, tmp_path, capsys):
    res = demo.main(["--train-limit", "40", "--test-limit", "20", "--out-dir", str(tmp_path), "--no-progress",
                     "--epochs1", "1", "--epochs2", "1"])
    out = capsys.readouterr().out
    assert "(40 train, 20 test digits)" in out
    assert f"test accuracy: {100 * res['test_accuracy']:.2f}%" in out and "wall time" in out
    assert abs(res["test_accuracy"] * 20 - round(res["test_accuracy"] * 20)) < 1e-4  # k of the 20 digits
    saved = torch.load(tmp_path / "mnist_stdp.pt", weights_only=False)
    assert saved["config"]["epochs1"] == 1.0 and saved["config"]["seed"] == 0
    torch.manual_seed(0)
    w0 = demo.KheradpishehNet(demo.Config()).conv1.weight
    assert not torch.equal(saved["network"]["conv1.weight"], w0)  # the CLI trained layer 1
