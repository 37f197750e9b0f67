"""Every registered neuron model in the per-time-step STDP network: same data, same readout (issue 9).

For each input (``latency`` and/or ``events``) and each model of
:data:`spyketorch.neurons.MODELS` (plus ``accumulate``, the accumulate-and-fire layer of the
latency-domain demo), this trains layer 1 of ``examples/mnist_stdp.py`` with STDP and reads
the pooled spikes out with the same linear readout, with the pieces of
``examples/neuron_stdp.py`` (network, input coding, gain calibration, readout). It writes
``compare.json`` (every figure) and ``compare.md`` (the table) into ``--out``.

How parameters are chosen: each model is ``neurons.all_models(threshold=10)``'s (Izhikevich
keeps its 30 mV cut-off, ``Uniform*`` draw their time constants with the seed), with the same
lateral inhibition for every model (``inhibition_mode="feature"``, refractory 2 steps); the
only tuned parameter is the input gain, bisected (``network.calibrate_gain``) so that before
learning the same fraction of layer-1 neurons fires at least once as in the accumulate-and-fire
layer on the same calibration images. A row is flagged ``silent`` when more than half of the
test images give no spike, ``saturated`` when more than 95 % of the neurons fire on test images.

Device: ``--device cuda`` runs the networks, STDP and feature extraction on the GPU (codes go
to the device once per batch; nothing leaves the device per time step); the input coding
and the readout run on the CPU.

Usage::

    python examples/compare_models.py --out out/compare --train-limit 1000 --test-limit 500
    python examples/compare_models.py --device cuda --data-root ../shared/data --out out/full
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's spyketorch first
import mnist_stdp as demo  # noqa: E402
import neuron_stdp as ex  # noqa: E402

from spyketorch import neurons  # noqa: E402
from spyketorch.network import calibrate_gain  # noqa: E402
from spyketorch.snn import STDP  # noqa: E402

ACCUMULATE = ex.ACCUMULATE


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def describe(layer: torch.nn.Module) -> str:
    """The layer's settings as its repr shows them, less those shared by every row; per-map tensors as ``per map``."""
    text = re.sub(r"tensor\([^)]*\)", "per map", repr(layer))
    inner = text[text.index("(") + 1 : -1] if text.endswith(")") else text
    shared = ("inhibition_mode='feature'", "clamp_at_rest=True", "noise_std=0", "resting_potential=0")
    return ", ".join(p for p in inner.split(", ") if p not in shared)


def run_one(name: str, kind: str, data: Dict[str, Any], cfg: demo.Config, args: argparse.Namespace,
            device: torch.device) -> Dict[str, Any]:
    """Calibrate, train layer 1 with STDP, extract features, read out; every figure in a dict."""
    _sync(device)
    t_start = time.perf_counter()
    t_steps = cfg.time_steps
    xtr, xte = data["train_in"], data["test_in"]
    order = torch.randperm(xtr.shape[0], generator=torch.Generator().manual_seed(args.seed))
    stdp_n = xtr.shape[0] if args.stdp_limit is None else min(args.stdp_limit, xtr.shape[0])
    res: Dict[str, Any] = {"model": name, "input": kind}
    if name == ACCUMULATE:
        torch.manual_seed(args.seed)
        net = demo.KheradpishehNet(cfg).to(device)
        stdp = net.stdp1
        res.update(gain=1.0, parameters=f"threshold {cfg.conv1_threshold:g} (fire, no reset, no leak)")

        def train_step(x: torch.Tensor) -> None:
            net.stdp_step1(ex.first_times(x, kind, t_steps))

        def features(x: torch.Tensor):
            t1, _ = net.layer1(ex.first_times(x, kind, t_steps))
            fired = t1 < t_steps
            return (net._pool_times(t1) < t_steps).flatten(1), fired.flatten(1).sum(1).float(), fired.float().mean()
    else:
        snet = ex.build(name, cfg, args.seed).to(device)
        block = snet.blocks[0]
        ref = ex.build("IF_exact", cfg, args.seed).to(device)
        cal = ex.step_spikes(xtr[order[: args.calib_images]].to(device), kind, t_steps)
        target = float((ref.run(cal)[0].post_times < t_steps).float().mean())
        res["target_active"] = target
        res["gain"] = calibrate_gain(snet, 0, cal, min(max(target, 1e-3), 0.999), lo=1e-2, hi=1e5,
                                     iters=args.calib_iters)
        res["calibrated_active"] = float((snet.run(cal)[0].post_times < t_steps).float().mean())
        res["parameters"] = describe(block.neuron)
        stdp = STDP(block.conv, cfg.learning_rate)

        def train_step(x: torch.Tensor) -> None:
            block.track_values = True
            snet.stdp_step(ex.step_spikes(x, kind, t_steps), 0, stdp)

        def features(x: torch.Tensor):
            block.track_values = False  # only the pooled spikes and counts are read
            rec = snet.run(ex.step_spikes(x, kind, t_steps))[0]
            return (rec.output_times < t_steps).flatten(1), rec.spike_count, (rec.post_times < t_steps).float().mean()
    _sync(device)
    t0 = time.perf_counter()
    lr0, seen = cfg.learning_rate[0], 0
    for i in range(0, stdp_n, args.batch_size):
        demo._lr_schedule(stdp, seen, cfg.lr1_every, lr0, cfg.lr1_max)
        idx = order[i : min(i + args.batch_size, stdp_n)]
        train_step(xtr[idx].to(device, non_blocking=True))
        seen += idx.numel()
    _sync(device)
    res["stdp_s"] = time.perf_counter() - t0
    res["stdp_images_per_s"] = stdp_n / res["stdp_s"]
    t0 = time.perf_counter()
    out: Dict[str, List[torch.Tensor]] = {}
    with torch.no_grad():
        for split, x in (("train", xtr), ("test", xte)):
            feats, counts, active = [], [], []
            for i in range(0, x.shape[0], args.feature_batch):
                f, c, a = features(x[i : i + args.feature_batch].to(device, non_blocking=True))
                feats.append(f.to(torch.uint8))
                counts.append(c)
                active.append(a * f.shape[0])
            out[split] = [torch.cat(feats).cpu(), torch.cat(counts).cpu(), torch.stack(active).sum().cpu() / x.shape[0]]
    res["features_s"] = time.perf_counter() - t0
    ftr, fte = out["train"][0].float(), out["test"][0].float()
    spikes = out["test"][1]
    res["mean_spikes_per_image"] = float(spikes.mean())
    res["silent_test_images"] = float((spikes == 0).float().mean())
    res["test_active"] = float(out["test"][2])
    res["active_features"] = float(fte.mean())
    res["status"] = ("silent" if res["silent_test_images"] > 0.5 else
                     "saturated" if res["test_active"] > 0.95 else "ok")
    t0 = time.perf_counter()
    if args.readout == "ridge":
        lin = ex.ridge_readout(ftr, data["train_y"])
    else:
        lin = demo.train_readout(ftr, data["train_y"], cfg.readout_l2, cfg.readout_iters, False)
    with torch.no_grad():
        res["train_accuracy"] = float((lin(ftr).argmax(1) == data["train_y"]).float().mean())
        res["test_accuracy"] = float((lin(fte).argmax(1) == data["test_y"]).float().mean())
    res["readout_s"] = time.perf_counter() - t0
    res["wall_s"] = time.perf_counter() - t_start
    return res


def markdown(results: List[Dict[str, Any]]) -> str:
    """The README table: one row per model and input, gap to the accumulate-and-fire layer."""
    base = {r["input"]: r["test_accuracy"] for r in results if r["model"] == ACCUMULATE}
    lines = ["| model | input | parameters | gain (tuned) | active before STDP (target) | active on test "
             "| test acc. | gap to accumulate | wall s | STDP img/s | mean spikes / image | silent test images "
             "| status |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        gap = f"{100 * (r['test_accuracy'] - base[r['input']]):+.2f}" if r["input"] in base else "—"
        act = (f"{100 * r['calibrated_active']:.1f} % ({100 * r['target_active']:.1f} %)"
               if "calibrated_active" in r else "—")
        lines.append(f"| {r['model']} | {r['input']} | {r['parameters']} | {r['gain']:.4g} | {act} "
                     f"| {100 * r['test_active']:.1f} % | {100 * r['test_accuracy']:.2f} % | {gap} "
                     f"| {r['wall_s']:.0f} | {r['stdp_images_per_s']:.1f} | {r['mean_spikes_per_image']:.0f} "
                     f"| {100 * r['silent_test_images']:.1f} % | {r['status']} |")
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> List[Dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="all",
                    help=f"comma-separated names ({ACCUMULATE}, {', '.join(neurons.MODELS)}) or 'all' (default)")
    ap.add_argument("--input", choices=("latency", "events", "both"), default="both")
    ap.add_argument("--device", default="cpu", help="torch device of the networks (default cpu)")
    ap.add_argument("--data-root", default=None, help="torchvision MNIST root; default: the shipped subset")
    ap.add_argument("--train-limit", type=int, default=None, help="first N training digits (STDP and readout)")
    ap.add_argument("--test-limit", type=int, default=None, help="first N test digits")
    ap.add_argument("--stdp-limit", type=int, default=None, help="STDP on N of the training digits (default all)")
    ap.add_argument("--batch-size", type=int, default=32, help="STDP mini-batch (default 32)")
    ap.add_argument("--feature-batch", type=int, default=256, help="batch of the feature extraction (default 256)")
    ap.add_argument("--readout", choices=("softmax", "ridge"), default="softmax",
                    help="softmax: the demo's L-BFGS softmax regression (default); ridge: closed form")
    ap.add_argument("--calib-images", type=int, default=32, help="images of the gain calibration (default 32)")
    ap.add_argument("--calib-iters", type=int, default=12, help="bisection steps of the calibration (default 12)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--out", default="out/compare", help="directory of compare.json and compare.md")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    names = [ACCUMULATE] + list(neurons.MODELS) if args.models == "all" else args.models.split(",")
    for n in names:
        if n != ACCUMULATE and n not in neurons.MODELS:
            ap.error(f"unknown model {n!r}")
    kinds = ["latency", "events"] if args.input == "both" else [args.input]
    cfg = demo.Config(seed=args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: List[Dict[str, Any]] = []
    for kind in kinds:
        data = ex.prepare(argparse.Namespace(data_root=args.data_root, train_limit=args.train_limit,
                                             test_limit=args.test_limit, stdp_limit=None), cfg, kind)
        for name in names:
            res = run_one(name, kind, data, cfg, args, device)
            res.update(device=str(device), threads=torch.get_num_threads(), train_images=int(data["train_in"].shape[0]),
                       test_images=int(data["test_in"].shape[0]))
            results.append(res)
            print(f"[{name} / {kind}] gain {res['gain']:.4g}  test accuracy: {100 * res['test_accuracy']:.2f}%  "
                  f"mean spikes per image: {res['mean_spikes_per_image']:.0f}  wall time: {res['wall_s']:.1f}s  "
                  f"({res['status']})", flush=True)
            (out / "compare.json").write_text(json.dumps(results, indent=1))
            (out / "compare.md").write_text(markdown(results))
    return results


if __name__ == "__main__":
    main()
