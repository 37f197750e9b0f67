"""The model comparison (spyketorch.networks.neuron_stdp, run by examples/compare_models.py) on a handful
of shipped digits."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from spyketorch.networks import kheradpisheh, neuron_stdp

ROOT = Path(__file__).resolve().parents[1]


def _runner(args):
    """``examples/compare_models.py ARGS`` in a subprocess; returns the completed process."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, str(ROOT / "examples" / "compare_models.py"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def test_markdown_gap_and_status():
    rows = [dict(model="accumulate", input="latency", parameters="p", gain=1.0, active_features=0.5, test_accuracy=0.6,
                 wall_s=3.0, stdp_images_per_s=10.0, mean_spikes_per_image=100.0, silent_test_images=0.0, status="ok"),
            dict(model="LIF", input="latency", parameters="q", gain=700.0, calibrated_active=0.51, target_active=0.5,
                 active_features=0.4, test_accuracy=0.625, wall_s=5.0, stdp_images_per_s=8.0,
                 mean_spikes_per_image=200.0, silent_test_images=0.25, status="ok")]
    lines = neuron_stdp.markdown(rows).splitlines()
    assert len(lines) == 4
    assert "| +2.50 |" in lines[3] and "| 51.0 % (50.0 %) |" in lines[3] and "| 25.0 % |" in lines[3]
    assert "| +0.00 |" in lines[2] and "| — |" in lines[2]


def test_runner_writes_json_and_table(tmp_path):
    proc = _runner(["--models", "accumulate,AdEx", "--input", "latency", "--train-limit", "40",
                    "--test-limit", "20", "--stdp-limit", "16", "--batch-size", "8", "--calib-images", "4",
                    "--calib-iters", "3", "--readout", "ridge", "--out", str(tmp_path)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    saved = json.loads((tmp_path / "compare.json").read_text())
    printed = [line.split("]")[0].split(" / ")[0].lstrip("[") for line in proc.stdout.splitlines() if line.startswith("[")]
    assert [r["model"] for r in saved] == ["accumulate", "AdEx"] == printed
    table = (tmp_path / "compare.md").read_text().splitlines()
    assert len(table) == 2 + 2
    for r in saved:
        assert 0.0 <= r["test_accuracy"] <= 1.0 and r["mean_spikes_per_image"] > 0
        assert r["train_images"] == 40 and r["test_images"] == 20 and r["device"] == "cpu"
    # every model with the same lateral inhibition (the default), shown nowhere as a difference
    assert all("inhibition_mode" not in r["parameters"] and r["status"] == "ok" for r in saved[1:])
    assert [r["inhibition"] for r in saved] == [None, "none"]
    cfg = kheradpisheh.Config()
    data = neuron_stdp.prepare(cfg, "latency", train_limit=8, test_limit=4, stdp_limit=4)
    other = [neuron_stdp.compare_row("AdEx", "latency", data, cfg, batch=4, calib=2, calib_iters=1, readout="ridge",
                                     inhibition="feature")]
    assert other[0]["inhibition"] == "feature" and "inhibition_mode" not in other[0]["parameters"]
    bad = _runner(["--models", "NoSuchModel", "--out", str(tmp_path)])
    assert bad.returncode == 2 and "unknown model 'NoSuchModel'" in bad.stderr  # argparse's error exit


def test_validation_split_scores_on_held_out_training_digits():
    """``--validate N``: the scored digits are the last N training digits, disjoint from those
    that train STDP and the readout; too many of them is an error naming the option."""
    ex = neuron_stdp
    cfg = kheradpisheh.Config()
    raw = kheradpisheh.load_data(None)
    n_train = raw["train_x"].shape[0]
    data = ex.prepare(cfg, "latency", train_limit=30, validate=12)
    assert data["train_in"].shape[0] == 30 and data["test_in"].shape[0] == 12
    assert torch.equal(data["test_y"], raw["train_y"][-12:])
    assert torch.equal(data["test_in"], ex.encode_inputs(raw["train_x"][-12:], "latency", cfg))
    assert torch.equal(data["train_y"], raw["train_y"][:30])
    with pytest.raises(ValueError, match="validate"):
        ex.prepare(cfg, "latency", train_limit=30, validate=n_train - 29)
