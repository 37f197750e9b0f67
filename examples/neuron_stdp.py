"""STDP convolutional layer built from a stateful neuron layer, stepped one time step at a time, on MNIST.

Architecture (layer 1 of the accumulate-and-fire demo ``examples/mnist_stdp.py``, same
data coding and readout): input spikes ``[B, T, 2, 28, 28]`` -> pad 2 -> Convolution
2 -> 32 (5x5) -> neuron layer NAME (any registered model) -> max pooling (2, stride 2,
padding 1) -> linear softmax readout on the pooled spikes (``32 x 15 x 15``, 1 if the
position spiked during the presentation). STDP learns from the layer's winners (k = 5,
inhibition radius 2, after pointwise inhibition) as in the demo, with its rate schedule.

Inputs: ``latency`` (DoG on/off filters, local normalisation, intensity-to-latency
coding, 15 steps: the demo's coding) or ``events`` (the N-MNIST-like saccade event
stream of :func:`spyketorch.events.saccade_events`, 15 frames; a pixel spikes at a step
when it has at least one event in that frame).

Parameters: every model comes from :func:`spyketorch.neurons.all_models` (threshold 10),
with the same lateral inhibition for all (``inhibition_mode="feature"``: a winner's map is
refractory for 2 steps; AdEx and Izhikevich default to ``"layer"``), and the only tuned parameter is the input gain (:func:`spyketorch.network.calibrate_gain`):
bisection so that, before learning, the same fraction of the layer's neurons fires at
least once as in the accumulate-and-fire layer (threshold 10) on the same images.
``--model accumulate`` runs the demo's accumulate-and-fire layer itself (latency domain).

Usage::

    python examples/neuron_stdp.py --model LIF --train-limit 2000 --test-limit 1000
    python examples/neuron_stdp.py --model all --json out/compare.json   # every model, table in JSON

Prints ``test accuracy: XX.XX%``, the mean spikes per image and the wall time.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's spyketorch first
import mnist_stdp as demo  # noqa: E402  (same data coding, layer-1 recipe and readout)

from spyketorch import neurons  # noqa: E402
from spyketorch.events import saccade_events  # noqa: E402
from spyketorch.network import NeuronConvBlock, StepNetwork, calibrate_gain, strict_threshold  # noqa: E402
from spyketorch.snn import STDP, Convolution  # noqa: E402

ACCUMULATE = "accumulate"


def encode_inputs(images: torch.Tensor, kind: str, cfg: demo.Config, batch: int = 1000) -> torch.Tensor:
    """First-spike steps uint8 ``[N, 2, 28, 28]`` (``T`` = never) of the chosen input.

    Latency input: one spike per pixel, at its step. Event input: a pixel spikes at every
    frame where it has an event; its first such frame is kept here and all frames are
    rebuilt by :func:`event_spikes` (from the cached event frames).
    """
    if kind == "latency":
        return demo.encode(images, cfg)
    out = []
    for i in range(0, images.shape[0], batch):
        out.append((saccade_events(images[i : i + batch].float(), cfg.time_steps) > 0).to(torch.uint8))
    return torch.cat(out)  # [N, T, 2, H, W] 0/1


def step_spikes(x: torch.Tensor, kind: str, t_steps: int) -> torch.Tensor:
    """Spikes arriving at each step ``[B, T, 2, H, W]`` (float 0/1)."""
    if kind == "latency":
        steps = torch.arange(t_steps, device=x.device).view(1, t_steps, 1, 1, 1)
        return (x.long().unsqueeze(1) == steps).float()
    return x.float()


def first_times(x: torch.Tensor, kind: str, t_steps: int) -> torch.Tensor:
    """First-spike steps ``[B, 2, H, W]`` for the accumulate-and-fire layer."""
    if kind == "latency":
        return x
    s = x.bool()
    first = s.float().argmax(dim=1)
    return torch.where(s.any(dim=1), first, torch.full_like(first, t_steps)).to(torch.uint8)


def build(name: str, cfg: demo.Config, seed: int) -> StepNetwork:
    torch.manual_seed(seed)
    conv = Convolution(2, cfg.conv1_features, cfg.conv1_kernel, cfg.weight_mean, cfg.weight_std)
    if name == "IF_exact":  # the IF layer that reproduces the accumulate-and-fire layer exactly
        layer = neurons.IF(threshold=strict_threshold(cfg.conv1_threshold), ts=1.0, C=1.0, refractory_timesteps=0)
    else:
        layer = neurons.all_models(threshold=cfg.conv1_threshold, seed=seed, n_features=cfg.conv1_features)[name]()
        # one lateral inhibition for every model (AdEx and Izhikevich default to "layer", which
        # clamps the whole layer to rest for 2 steps after each winner and scores 25 % / 46 %)
        layer.inhibition_mode = "feature"
    block = NeuronConvBlock(conv, layer, padding=2, pool=(2, 2, 1), kwta=cfg.k1, inhibition_radius=cfg.r1)
    return StepNetwork([block])


def run_model(name: str, kind: str, data: Dict[str, torch.Tensor], cfg: demo.Config, batch: int,
              seed: int = 0, calib: int = 32, calib_iters: int = 12, progress: bool = False,
              readout: str = "softmax") -> Dict[str, float]:
    """Calibrate, train with STDP, read out; returns the measured figures."""
    t_start = time.perf_counter()
    t_steps = cfg.time_steps
    xtr, xte = data["train_in"], data["test_in"]
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(xtr.shape[0], generator=gen)
    stdp_n = min(xtr.shape[0], data.get("stdp_limit", xtr.shape[0]))
    res: Dict[str, float] = {"model": name, "input": kind}
    if name == ACCUMULATE:
        torch.manual_seed(seed)
        net = demo.KheradpishehNet(cfg)
        stdp = net.stdp1
        train_step = lambda x: net.stdp_step1(first_times(x, kind, t_steps))  # noqa: E731

        def features(x: torch.Tensor) -> torch.Tensor:
            tf = first_times(x, kind, t_steps)
            t1, _ = net.layer1(tf)
            feats = (net._pool_times(t1) < t_steps).flatten(1)
            return feats, (t1 < t_steps).flatten(1).sum(1).float()  # spikes: one per firing neuron
        res["gain"] = 1.0
    else:
        snet = build(name, cfg, seed)
        block = snet.blocks[0]
        # target activity: the accumulate-and-fire layer (= exact IF) on the calibration images
        ref = build("IF_exact", cfg, seed)
        cal = step_spikes(xtr[order[:calib]], kind, t_steps)
        target = float((ref.run(cal)[0].post_times < t_steps).float().mean())
        res["target_active"] = target
        res["gain"] = calibrate_gain(snet, 0, cal, min(max(target, 1e-3), 0.999), lo=1e-2, hi=1e5, iters=calib_iters)
        res["calibrated_active"] = float((snet.run(cal)[0].post_times < t_steps).float().mean())
        stdp = STDP(block.conv, cfg.learning_rate)
        train_step = lambda x: snet.stdp_step(step_spikes(x, kind, t_steps), 0, stdp)  # noqa: E731

        def features(x: torch.Tensor) -> torch.Tensor:
            block.track_values = False  # only the pooled spikes and counts are read
            rec = snet.run(step_spikes(x, kind, t_steps))[0]
            return (rec.output_times < t_steps).flatten(1), rec.spike_count
    t0 = time.perf_counter()
    lr0 = cfg.learning_rate[0]
    seen = 0
    for i in range(0, stdp_n, batch):
        demo._lr_schedule(stdp, seen, cfg.lr1_every, lr0, cfg.lr1_max)
        idx = order[i : min(i + batch, stdp_n)]
        train_step(xtr[idx])
        seen += idx.numel()
    res["stdp_s"] = time.perf_counter() - t0
    res["stdp_images_per_s"] = stdp_n / res["stdp_s"]
    t0 = time.perf_counter()
    with torch.no_grad():
        ftr, ctr = zip(*[features(xtr[i : i + 256]) for i in range(0, xtr.shape[0], 256)])
        fte, cte = zip(*[features(xte[i : i + 256]) for i in range(0, xte.shape[0], 256)])
    ftr, fte = torch.cat(ftr).float(), torch.cat(fte).float()
    res["features_s"] = time.perf_counter() - t0
    spikes = torch.cat(cte)
    res["mean_spikes_per_image"] = float(spikes.mean())
    res["silent_test_images"] = float((spikes == 0).float().mean())
    res["active_features"] = float(fte.mean())
    t0 = time.perf_counter()
    if readout == "ridge":
        lin = ridge_readout(ftr, data["train_y"])
    else:
        lin = demo.train_readout(ftr, data["train_y"], cfg.readout_l2, cfg.readout_iters, progress)
    with torch.no_grad():
        res["train_accuracy"] = float((lin(ftr).argmax(1) == data["train_y"]).float().mean())
        res["test_accuracy"] = float((lin(fte).argmax(1) == data["test_y"]).float().mean())
    res["readout_s"] = time.perf_counter() - t0
    res["wall_s"] = time.perf_counter() - t_start
    return res


def ridge_readout(x: torch.Tensor, y: torch.Tensor, l2: float = 1.0) -> torch.nn.Linear:
    """Ridge regression onto one-hot labels, closed form in the dual (fast when samples < features)."""
    xc = torch.cat([x, torch.ones(x.shape[0], 1)], 1).double()
    yy = torch.nn.functional.one_hot(y, 10).double()
    w = xc.t() @ torch.linalg.solve(xc @ xc.t() + l2 * torch.eye(x.shape[0], dtype=torch.float64), yy)
    lin = torch.nn.Linear(x.shape[1], 10)
    with torch.no_grad():
        lin.weight.copy_(w[:-1].t())
        lin.bias.copy_(w[-1])
    return lin


def prepare(args: argparse.Namespace, cfg: demo.Config, kind: str) -> Dict[str, torch.Tensor]:
    raw = demo.load_data(args.data_root)
    for split, limit in (("train", args.train_limit), ("test", args.test_limit)):
        if limit is not None:
            raw[f"{split}_x"], raw[f"{split}_y"] = raw[f"{split}_x"][:limit], raw[f"{split}_y"][:limit]
    data = {"train_in": encode_inputs(raw["train_x"], kind, cfg), "test_in": encode_inputs(raw["test_x"], kind, cfg),
            "train_y": raw["train_y"], "test_y": raw["test_y"]}
    if args.stdp_limit is not None:
        data["stdp_limit"] = args.stdp_limit
    return data


def main(argv: Optional[List[str]] = None) -> List[Dict[str, float]]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True,
                    help=f"a registered model ({', '.join(neurons.all_models())}), '{ACCUMULATE}' or 'all'")
    ap.add_argument("--data-root", default=None, help="torchvision MNIST root; default: the shipped subset")
    ap.add_argument("--input", choices=("latency", "events"), default="latency")
    ap.add_argument("--train-limit", type=int, default=None, help="first N training digits (STDP and readout)")
    ap.add_argument("--test-limit", type=int, default=None, help="first N test digits")
    ap.add_argument("--batch-size", type=int, default=32, help="STDP mini-batch (default 32)")
    ap.add_argument("--stdp-limit", type=int, default=None, help="STDP on N of the training digits (default all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--calib-images", type=int, default=32, help="images of the gain calibration (default 32)")
    ap.add_argument("--calib-iters", type=int, default=12, help="bisection steps of the calibration (default 12)")
    ap.add_argument("--json", default=None, help="write the results (a list of dicts) to this file")
    ap.add_argument("--readout", choices=("softmax", "ridge"), default="softmax",
                    help="softmax: the demo's L-BFGS softmax regression; ridge: closed-form ridge (fast)")
    ap.add_argument("--both-inputs", action="store_true", help="with --model all: latency and events")
    args = ap.parse_args(argv)
    cfg = demo.Config(seed=args.seed)
    names = [args.model]
    if args.model == "all":
        names = [ACCUMULATE] + list(neurons.all_models())
    elif args.model != ACCUMULATE and args.model not in neurons.all_models():
        ap.error(f"unknown model {args.model!r}")
    kinds = ["latency", "events"] if args.both_inputs else [args.input]
    results = []
    for kind in kinds:
        data = prepare(args, cfg, kind)
        for name in names:
            res = run_model(name, kind, data, cfg, args.batch_size, args.seed, args.calib_images, args.calib_iters,
                            readout=args.readout)
            results.append(res)
            print(f"[{name} / {kind}] gain {res['gain']:.4g}")
            print(f"test accuracy: {100 * res['test_accuracy']:.2f}%")
            print(f"mean spikes per image: {res['mean_spikes_per_image']:.1f}  "
                  f"(silent test images {100 * res['silent_test_images']:.1f}%)")
            print(f"wall time: {res['wall_s']:.1f}s (STDP {res['stdp_images_per_s']:.0f} img/s)", flush=True)
            if args.json:
                Path(args.json).parent.mkdir(parents=True, exist_ok=True)
                Path(args.json).write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
