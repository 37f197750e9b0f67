"""Data-parallel STDP (spyketorch.distributed): helpers alone, and 2 gloo processes on the CPU via torchrun."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import spyketorch.distributed as sd
import spyketorch.snn as snn
from spyketorch.networks.mozafari import MozafariConfig, MozafariNet

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "mnist_stdp.py"
NEURON_EXAMPLE = ROOT / "examples" / "neuron_stdp.py"
MOZAFARI_EXAMPLE = ROOT / "examples" / "mozafari_rstdp.py"


# ----------------------------------------------------------------------------
# world size 1 (no process group)
# ----------------------------------------------------------------------------
def test_without_process_group_everything_is_single_process():
    assert not sd.is_distributed()
    assert (sd.rank(), sd.world_size(), sd.is_main_process()) == (0, 1, True)
    x = torch.tensor([1.5, -2.0, 3.25])
    assert sd.all_reduce_sum_(x) is x
    assert torch.equal(x, torch.tensor([1.5, -2.0, 3.25]))
    assert torch.equal(sd.shard(7), torch.arange(7))
    y = torch.arange(6).reshape(3, 2)
    assert torch.equal(sd.all_gather_cat(y), y)
    with sd.process_group_from_env("cpu") as dev:  # no WORLD_SIZE: no group, the device as given
        assert dev == torch.device("cpu") and not sd.is_distributed()
    with pytest.raises(ValueError, match="device"):
        with sd.process_group_from_env("no-such-device"):
            pass


@pytest.mark.parametrize("n,w", [(0, 3), (1, 2), (5, 2), (10, 3), (16, 4), (17, 5)])
def test_shards_partition_the_range_in_order_and_balanced(n, w):
    blocks = [sd.shard(n, r, w) for r in range(w)]
    assert torch.equal(torch.cat(blocks), torch.arange(n))  # every item once, in order
    sizes = [b.numel() for b in blocks]
    assert max(sizes) - min(sizes) <= 1
    assert sizes == sorted(sizes, reverse=True)  # the larger blocks first


def test_shard_bad_arguments():
    with pytest.raises(TypeError, match="n"):
        sd.shard(3.0)
    with pytest.raises(ValueError, match="n"):
        sd.shard(-1)
    with pytest.raises(ValueError, match="rank_"):
        sd.shard(4, 2, 2)
    with pytest.raises(ValueError, match="world_size_"):
        sd.shard(4, 0, 0)
    with pytest.raises(TypeError, match="tensor"):
        sd.all_reduce_sum_([1.0])
    with pytest.raises(ValueError, match="tensor"):
        sd.all_gather_cat(torch.tensor(1.0))


# ----------------------------------------------------------------------------
# 2 processes
# ----------------------------------------------------------------------------
def _torchrun(args, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *args]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


WORKER = textwrap.dedent(
    """
    import json, sys
    import torch, torch.distributed as dist
    import spyketorch.distributed as sd
    import spyketorch.snn as snn
    from spyketorch.learning.decision import DecisionLayer

    dist.init_process_group("gloo")
    r, w = sd.rank(), sd.world_size()
    out = {"rank": r, "world": w, "distributed": sd.is_distributed(), "main": sd.is_main_process()}
    x = torch.tensor([1.0, 10.0]) * (r + 1)
    sd.all_reduce_sum_(x)
    out["reduced"] = x.tolist()
    # uneven blocks: rank 0 has 3 rows, rank 1 has 1 row
    rows = torch.arange(8, dtype=torch.uint8).reshape(4, 2)
    block = rows[:3] if r == 0 else rows[3:]
    out["gathered"] = sd.all_gather_cat(block).tolist()

    # STDP and R-STDP: each rank trains on its half of a batch of 6 -> weights of one process on all 6
    torch.manual_seed(0)
    conv = snn.Convolution(2, 3, 3, 0.5, 0.05)
    stdp = snn.STDP(conv, (0.05, -0.04), use_stabilizer=True)
    rstdp = snn.RSTDP(conv, (0.03, -0.02), (-0.02, 0.01))
    gen = torch.Generator().manual_seed(1)
    it = torch.randint(0, 6, (6, 2, 7, 7), generator=gen)
    ot = torch.randint(0, 6, (6, 3, 5, 5), generator=gen)
    win = torch.stack([torch.randint(0, 3, (6, 2), generator=gen), torch.randint(0, 5, (6, 2), generator=gen),
                       torch.randint(0, 5, (6, 2), generator=gen)], dim=-1)
    mine = sd.shard(6)
    stdp.forward_times(it[mine], ot[mine], win[mine])
    spk = (torch.rand(6, 4, 2, 7, 7, generator=gen) > 0.6).float().cumsum(1).clamp(max=1)
    pot = conv(spk)
    reward = torch.tensor([1.0, -1.0, 0.0, -1.0, 1.0, 1.0])
    rstdp(spk[mine], pot[mine], pot[mine].sign(), reward[mine], kwta=2)
    out["weight"] = conv.weight.flatten().tolist()
    # batched layer-3 R-STDP: 7 samples split 4 / 3
    layer = DecisionLayer(3, 10, 3, list(range(10)), generator=torch.Generator().manual_seed(2))
    gen3 = torch.Generator().manual_seed(3)
    times = torch.randint(0, 16, (7, 3, 6, 6), generator=gen3)
    targets = torch.randint(0, 10, (7,), generator=gen3)
    out["counts"] = layer.train_batch(times[sd.shard(7)], targets[sd.shard(7)], 15).tolist()
    out["decision_weight"] = layer.weight.flatten().tolist()
    json.dump(out, open(sys.argv[1] + f"/rank{r}.json", "w"))
    dist.destroy_process_group()
    """
)


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    d = tmp_path_factory.mktemp("dist")
    (d / "worker.py").write_text(WORKER)
    _torchrun([str(d / "worker.py"), str(d)], cwd=d)
    return [json.loads((d / f"rank{r}.json").read_text()) for r in range(2)]


def test_two_ranks_helpers(two_ranks):
    for r, out in enumerate(two_ranks):
        assert (out["rank"], out["world"], out["distributed"], out["main"]) == (r, 2, True, r == 0)
        assert out["reduced"] == [3.0, 30.0]  # 1 * [1, 10] + 2 * [1, 10]
        assert out["gathered"] == [[0, 1], [2, 3], [4, 5], [6, 7]]


def test_two_ranks_stdp_equals_one_process_on_the_whole_batch(two_ranks):
    """Summed updates across ranks == the batched update of one process on the 6 samples."""
    torch.manual_seed(0)
    conv = snn.Convolution(2, 3, 3, 0.5, 0.05)
    stdp = snn.STDP(conv, (0.05, -0.04), use_stabilizer=True)
    rstdp = snn.RSTDP(conv, (0.03, -0.02), (-0.02, 0.01))
    gen = torch.Generator().manual_seed(1)
    it = torch.randint(0, 6, (6, 2, 7, 7), generator=gen)
    ot = torch.randint(0, 6, (6, 3, 5, 5), generator=gen)
    win = torch.stack([torch.randint(0, 3, (6, 2), generator=gen), torch.randint(0, 5, (6, 2), generator=gen),
                       torch.randint(0, 5, (6, 2), generator=gen)], dim=-1)
    w0 = conv.weight.clone()
    stdp.forward_times(it, ot, win)
    spk = (torch.rand(6, 4, 2, 7, 7, generator=gen) > 0.6).float().cumsum(1).clamp(max=1)
    pot = conv(spk)
    rstdp(spk, pot, pot.sign(), torch.tensor([1.0, -1.0, 0.0, -1.0, 1.0, 1.0]), kwta=2)
    expected = conv.weight.flatten()
    assert not torch.equal(expected, w0.flatten())
    for out in two_ranks:
        got = torch.tensor(out["weight"])
        assert torch.allclose(got, expected, atol=1e-6, rtol=0), (got - expected).abs().max()
    assert two_ranks[0]["weight"] == two_ranks[1]["weight"]  # the ranks agree bit for bit


def test_two_ranks_batched_rstdp_equals_one_process_on_the_whole_batch(two_ranks):
    """DecisionLayer.train_batch on 4 + 3 samples of 2 ranks == on the 7 in one process (weights and counts)."""
    from spyketorch.learning.decision import DecisionLayer

    layer = DecisionLayer(3, 10, 3, list(range(10)), generator=torch.Generator().manual_seed(2))
    w0 = layer.weight.clone()
    gen3 = torch.Generator().manual_seed(3)  # the worker's draws
    times = torch.randint(0, 16, (7, 3, 6, 6), generator=gen3)
    targets = torch.randint(0, 10, (7,), generator=gen3)
    counts = layer.train_batch(times, targets, 15).tolist()
    assert sum(counts) == 7 and not torch.equal(layer.weight, w0)
    for out in two_ranks:
        assert out["counts"] == counts  # every rank gets the global counts
        got = torch.tensor(out["decision_weight"])
        assert (got - layer.weight.flatten()).abs().max() <= 1e-6


def test_torchrun_example_equals_single_process_with_the_global_batch(tmp_path):
    """2 ranks x batch 6 == 1 process x batch 12: weights (<= 1e-6) and accuracy.

    97 training digits: the last global batch holds 1 digit, so rank 1 joins it
    with an empty block (zero update); 41 test digits: uneven gathered blocks.
    """
    common = ["--train-limit", "97", "--test-limit", "41", "--readout-iters", "30", "--no-progress", "--threads", "1"]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    single = subprocess.Popen(  # runs while torchrun runs: the test's wall time is the slower of the two
        [sys.executable, str(EXAMPLE), *common, "--batch-size", "12", "--out-dir", str(tmp_path / "B")],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        run_a = _torchrun([str(EXAMPLE), *common, "--batch-size", "6", "--out-dir", str(tmp_path / "A")], cwd=tmp_path)
        _, err = single.communicate(timeout=240)
    finally:
        single.kill()
    assert single.returncode == 0, err[-3000:]
    assert run_a.stdout.count("test accuracy") == 1  # rank 0 alone prints
    a = torch.load(tmp_path / "A" / "mnist_stdp.pt", weights_only=False)
    b = torch.load(tmp_path / "B" / "mnist_stdp.pt", weights_only=False)
    torch.manual_seed(0)  # the example's initial layer-1 weights (seed 0, conv1 drawn first)
    w_init = snn.Convolution(2, 32, 5, 0.8, 0.05).weight
    assert (a["network"]["conv1.weight"] - w_init).abs().max() > 0.01  # STDP did move them
    for k in ("conv1.weight", "conv2.weight"):
        assert (a["network"][k] - b["network"][k]).abs().max() <= 1e-6, k
    assert a["result"]["world_size"] == 2 and b["result"]["world_size"] == 1
    # the weights agree to float rounding of the all-reduce (above), not to the bit; the readout
    # (an SVM over the last layer's features, fitted by L-BFGS) may then move one digit
    assert abs(a["result"]["test_accuracy"] - b["result"]["test_accuracy"]) <= 1 / 41 + 1e-6
    assert abs(a["result"]["train_accuracy"] - b["result"]["train_accuracy"]) <= 1 / 97 + 1e-6
    assert sorted(p.name for p in (tmp_path / "A").iterdir()) == ["layer1_features.png", "mnist_stdp.pt"]


def _run_both(script: Path, common, single_args, dist_args, tmp_path: Path):
    """One process (``single_args``, out-dir B) concurrently with 2 torchrun ranks (``dist_args``, out-dir A)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    single = subprocess.Popen(
        [sys.executable, str(script), *common, *single_args, "--out-dir", str(tmp_path / "B")],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        run_a = _torchrun([str(script), *common, *dist_args, "--out-dir", str(tmp_path / "A")], cwd=tmp_path)
        out, err = single.communicate(timeout=240)
    finally:
        single.kill()
    assert single.returncode == 0, err[-3000:]
    return run_a.stdout, out


def test_torchrun_neuron_stdp_equals_single_process_with_the_global_batch(tmp_path):
    """neuron_stdp, 2 ranks x batch 6 == 1 process x batch 12, for the accumulate-and-fire and a LIF layer.

    37 training digits: the last global batch holds 1 digit (rank 1: empty block);
    21 test digits: uneven gathered blocks.
    """
    common = ["--model", "accumulate,LIF", "--train-limit", "37", "--test-limit", "21", "--calib-images", "8",
              "--calib-iters", "4", "--readout", "ridge", "--no-progress", "--threads", "1"]
    out_a, out_b = _run_both(NEURON_EXAMPLE, common, ["--batch-size", "12"], ["--batch-size", "6"], tmp_path)
    assert out_a.count("test accuracy") == 2 and out_b.count("test accuracy") == 2  # rank 0 alone prints
    torch.manual_seed(0)  # the example's initial weights (seed 0, the convolution drawn first)
    w_init = snn.Convolution(2, 32, 5, 0.8, 0.05).weight
    for name in ("accumulate", "LIF"):
        a = torch.load(tmp_path / "A" / f"neuron_stdp_{name}_latency.pt", weights_only=False)
        b = torch.load(tmp_path / "B" / f"neuron_stdp_{name}_latency.pt", weights_only=False)
        assert (a["weight"] - w_init).abs().max() > 0.01, name  # STDP did move them
        assert (a["weight"] - b["weight"]).abs().max() <= 1e-6, name
        assert a["result"]["world_size"] == 2 and b["result"]["world_size"] == 1
        for key in ("test_accuracy", "train_accuracy", "gain", "mean_spikes_per_image"):
            assert a["result"][key] == b["result"][key], (name, key)
    assert sorted(p.name for p in (tmp_path / "A").iterdir()) == [
        "neuron_stdp_LIF_latency.pt", "neuron_stdp_accumulate_latency.pt"]


def test_torchrun_mozafari_equals_single_process_with_the_global_batches(tmp_path):
    """mozafari_rstdp, 2 ranks x (STDP batch 2, R-STDP batch 3) == 1 process x (4, 6): all three layers and accuracy.

    37 training digits: the last global batches hold 1 digit (rank 1: empty blocks);
    two layer-3 epochs, so the second epoch's rates come from the first one's
    all-reduced hit and miss counts.
    """
    common = ["--train-limit", "37", "--test-limit", "21", "--epochs1", "1", "--epochs2", "1", "--epochs3", "2",
              "--no-progress", "--threads", "1"]
    out_a, _ = _run_both(MOZAFARI_EXAMPLE, common, ["--batch-size", "4", "--rstdp-batch", "6"],
                         ["--batch-size", "2", "--rstdp-batch", "3"], tmp_path)
    assert out_a.count("test accuracy") == 1  # rank 0 alone prints
    init = MozafariNet(MozafariConfig())
    a3 = torch.load(tmp_path / "A" / "layer3.pt", weights_only=False)
    b3 = torch.load(tmp_path / "B" / "layer3.pt", weights_only=False)
    pairs = {"conv1": (torch.load(tmp_path / "A" / "layer1.pt")["conv1"]["weight"],
                       torch.load(tmp_path / "B" / "layer1.pt")["conv1"]["weight"], init.conv1.weight),
             "conv2": (torch.load(tmp_path / "A" / "layer2.pt")["conv2"]["weight"],
                       torch.load(tmp_path / "B" / "layer2.pt")["conv2"]["weight"], init.conv2.weight),
             "layer3": (a3["decision"]["weight"], b3["decision"]["weight"], init.decision.weight)}
    for name, (wa, wb, w0) in pairs.items():
        assert (wa - w0).abs().max() > 0.003, name  # learning did move them
        assert (wa - wb).abs().max() <= 1e-6, name
    ha, hb = a3["state"]["history"], b3["state"]["history"]
    assert [h["train"] for h in ha] == [h["train"] for h in hb]  # global hit / miss / silent counts
    assert [h["test"] for h in ha] == [h["test"] for h in hb]
    ra = json.loads((tmp_path / "A" / "mozafari_result.json").read_text())
    rb = json.loads((tmp_path / "B" / "mozafari_result.json").read_text())
    assert ra["test_accuracy"] == rb["test_accuracy"] and ra["world_size"] == 2 and rb["world_size"] == 1
    assert sorted(p.name for p in (tmp_path / "A").iterdir()) == [
        "layer1.pt", "layer2.pt", "layer3.pt", "mozafari_result.json", "rstdp_curve.png"]
