"""The model comparison runner (examples/compare_models.py) on a handful of shipped digits."""
import json

import pytest
import torch
from _examples import load_example


@pytest.fixture(scope="module")
def cmp():
    mod = load_example("compare_models.py", "compare_models_example")
    return mod


def test_markdown_gap_and_status(cmp):
    rows = [dict(model="accumulate", input="latency", parameters="p", gain=1.0, active_features=0.5, test_accuracy=0.6,
                 wall_s=3.0, stdp_images_per_s=10.0, mean_spikes_per_image=100.0, silent_test_images=0.0, status="ok"),
            dict(model="LIF", input="latency", parameters="q", gain=700.0, calibrated_active=0.51, target_active=0.5,
                 active_features=0.4, test_accuracy=0.625, wall_s=5.0, stdp_images_per_s=8.0,
                 mean_spikes_per_image=200.0, silent_test_images=0.25, status="ok")]
    lines = cmp.markdown(rows).splitlines()
    assert len(lines) == 4
    assert "| +2.50 |" in lines[3] and "| 51.0 % (50.0 %) |" in lines[3] and "| 25.0 % |" in lines[3]
    assert "| +0.00 |" in lines[2] and "| — |" in lines[2]


def test_runner_writes_json_and_table(cmp, tmp_path):
    res = cmp.main(["--models", "accumulate,AdEx", "--input", "latency", "--train-limit", "40",
                    "--test-limit", "20", "--stdp-limit", "16", "--batch-size", "8", "--calib-images", "4",
                    "--calib-iters", "3", "--readout", "ridge", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "compare.json").read_text())
    assert [r["model"] for r in saved] == ["accumulate", "AdEx"] == [r["model"] for r in res]
    table = (tmp_path / "compare.md").read_text().splitlines()
    assert len(table) == 2 + 2
    for r in saved:
        assert 0.0 <= r["test_accuracy"] <= 1.0 and r["mean_spikes_per_image"] > 0
        assert r["train_images"] == 40 and r["test_images"] == 20 and r["device"] == "cpu"
    # every model with the same lateral inhibition (the default), shown nowhere as a difference
    assert all("inhibition_mode" not in r["parameters"] and r["status"] == "ok" for r in saved[1:])
    assert [r["inhibition"] for r in saved] == [None, "none"]
    other = cmp.main(["--models", "AdEx", "--input", "latency", "--train-limit", "8", "--test-limit", "4",
                      "--stdp-limit", "4", "--batch-size", "4", "--calib-images", "2", "--calib-iters", "1",
                      "--readout", "ridge", "--inhibition", "feature", "--out", str(tmp_path / "f")])
    assert other[0]["inhibition"] == "feature" and "inhibition_mode" not in other[0]["parameters"]
    with pytest.raises(SystemExit):
        cmp.main(["--models", "NoSuchModel", "--out", str(tmp_path)])


def test_validation_split_scores_on_held_out_training_digits(cmp):
    """``--validate N``: the scored digits are the last N training digits, disjoint from those
    that train STDP and the readout; too many of them is an error naming the option."""
    import argparse

    ex = cmp.ex
    cfg = cmp.demo.Config()
    raw = cmp.demo.load_data(None)
    n_train = raw["train_x"].shape[0]
    args = argparse.Namespace(data_root=None, train_limit=30, test_limit=None, stdp_limit=None, validate=12)
    data = ex.prepare(args, cfg, "latency")
    assert data["train_in"].shape[0] == 30 and data["test_in"].shape[0] == 12
    assert torch.equal(data["test_y"], raw["train_y"][-12:])
    assert torch.equal(data["test_in"], ex.encode_inputs(raw["train_x"][-12:], "latency", cfg))
    assert torch.equal(data["train_y"], raw["train_y"][:30])
    with pytest.raises(ValueError, match="validate"):
        ex.prepare(argparse.Namespace(data_root=None, train_limit=30, test_limit=None, stdp_limit=None,
                                      validate=n_train - 29), cfg, "latency")
