"""STDP convolutional layer built from a stateful neuron layer, stepped one time step at a time, on MNIST.

Architecture (layer 1 of the accumulate-and-fire demo ``examples/mnist_stdp.py``, same
data coding and readout): input spikes ``[B, T, 2, 28, 28]`` -> pad 2 -> Convolution
2 -> 32 (5x5) -> neuron layer NAME (any registered model) -> max pooling (2, stride 2,
padding 1) -> linear softmax readout on the pooled spikes (``32 x 15 x 15``, 1 if the
position spiked during the presentation). STDP learns from the layer's winners (k = 5,
inhibition radius 2, after pointwise inhibition) as in the demo, with its rate schedule.

Inputs: ``latency`` (DoG on/off filters, local normalisation, intensity-to-latency
coding, 15 steps: the demo's coding) or ``events`` (the N-MNIST-like saccade event
stream of :func:`spyketorch.coding.events.saccade_events`, 15 frames; a pixel spikes at a step
when it has at least one event in that frame).

Parameters: every model comes from :func:`spyketorch.neurons.all_models` (threshold 10),
with the same per-step lateral inhibition for all, ``--inhibition`` (default: per input,
:data:`INHIBITION`, chosen with LIF on a validation split of the MNIST training digits:
``"none"`` for latency input, where the k-winners-take-all acts on learning only, as in
the demo, and each neuron keeps its own refractoriness; ``"feature"`` for event input,
where a winner's whole map is refractory for 2 steps; AdEx and Izhikevich default to
``"layer"``), and the only tuned
parameter is the input gain (:func:`spyketorch.networks.blocks.calibrate_gain`): bisection so that, before learning, the same fraction of the layer's neurons fires at
least once as in the accumulate-and-fire layer (threshold 10) on the same images.
``--model accumulate`` runs the demo's accumulate-and-fire layer itself (latency domain).

Usage::

    python examples/neuron_stdp.py --model LIF --train-limit 2000 --test-limit 1000
    python examples/neuron_stdp.py --model all --json out/compare.json   # every model, table in JSON
    python examples/neuron_stdp.py --model LIF --device cuda                # on a GPU
    torchrun --standalone --nproc_per_node=2 examples/neuron_stdp.py --model LIF --batch-size 16

Prints ``test accuracy: XX.XX%``, the mean spikes per image and the wall time;
``--out-dir DIR`` also saves each trained layer (``neuron_stdp_MODEL_INPUT.pt``).

Several processes (``torchrun``; gloo on CPU, NCCL with ``--device cuda``, one GPU per
process): ``--batch-size`` is the per-process STDP mini-batch. Every rank draws the same
shuffled order and walks the same global batches (``batch-size x world size`` digits),
trains on its contiguous block of each (:func:`spyketorch.distributed.shard`) and the
STDP rule all-reduces the summed update, so every rank applies the update of the whole
global batch; the rate schedule counts global digits. Input coding and the readout
features are sharded and gathered (all ranks get all of them, in order); the gain
calibration runs on every rank on the same images (replicated, identical); every rank
fits the same readout; rank 0 alone prints, shows progress bars and writes files. The
weights equal those of one process with ``--batch-size`` = per-process batch x world
size up to float rounding (the sum is added in another order), and so does the accuracy.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import torch
from tqdm.auto import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's spyketorch first
import mnist_stdp as demo  # noqa: E402  (same data coding, layer-1 recipe and readout)

import spyketorch.distributed as sd  # noqa: E402
from spyketorch import neurons  # noqa: E402
from spyketorch.coding.events import saccade_events  # noqa: E402
from spyketorch.networks.blocks import NeuronConvBlock, StepNetwork, calibrate_gain, strict_threshold  # noqa: E402
from spyketorch.snn import STDP, Convolution  # noqa: E402

ACCUMULATE = "accumulate"
# The neuron layers' per-step lateral inhibition (inhibition_mode), the same for every model, per input: chosen
# with LIF on a validation split (STDP on 2,000 and readout on 10,000 training digits, validated on training
# digits 50,000-59,999). Latency: none 97.31 %, neuron 97.31 %, location 97.26 %, feature 93.86 %, layer 87.89 %
# (accumulate-and-fire 97.02 %); events: feature 86.58 %, none 83.10 % (accumulate-and-fire 87.11 %).
INHIBITION = {"latency": "none", "events": "feature"}


def inhibition_for(kind: str, inhibition: Optional[str] = None) -> str:
    """The layers' lateral inhibition for input ``kind``: ``inhibition`` if given, else :data:`INHIBITION`'s."""
    return INHIBITION[kind] if inhibition is None else inhibition


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


def build(name: str, cfg: demo.Config, seed: int, device: torch.device = torch.device("cpu"),
          native: bool = False, inhibition: str = INHIBITION["latency"]) -> StepNetwork:
    torch.manual_seed(seed)
    conv = Convolution(2, cfg.conv1_features, cfg.conv1_kernel, cfg.weight_mean, cfg.weight_std)
    if name == "IF_exact":  # the IF layer that reproduces the accumulate-and-fire layer exactly
        layer = neurons.IF(threshold=strict_threshold(cfg.conv1_threshold), ts=1.0, C=1.0, refractory_timesteps=0)
    else:
        layer = neurons.all_models(threshold=cfg.conv1_threshold, seed=seed, n_features=cfg.conv1_features)[name]()
        # one lateral inhibition for every model (AdEx and Izhikevich default to "layer", which
        # clamps the whole layer to rest for 2 steps after each winner and scores 25 % / 46 %)
        layer.inhibition_mode = inhibition
    if native:  # the compiled step (same spikes, fused kernels)
        layer.backend = "compiled"
    block = NeuronConvBlock(conv, layer, padding=2, pool=(2, 2, 1), kwta=cfg.k1, inhibition_radius=cfg.r1)
    return StepNetwork([block]).to(device)


def run_model(name: str, kind: str, data: Dict[str, torch.Tensor], cfg: demo.Config, batch: int,
              seed: int = 0, calib: int = 32, calib_iters: int = 12, progress: bool = False,
              readout: str = "softmax", out_dir: Optional[Path] = None, native: bool = False,
              inhibition: Optional[str] = None) -> Dict[str, float]:
    """Calibrate, train with STDP, read out; returns the measured figures.

    ``batch`` is the STDP mini-batch per process (the global batch is ``batch`` x world
    size under ``torchrun``); the tensors of ``data`` may live on any device (the
    network follows them). With ``out_dir``, rank 0 saves the layer's weights there.
    ``native`` steps the neuron layer with its compiled step (``backend="compiled"``);
    ``inhibition`` is the layers' per-step lateral inhibition (default: :data:`INHIBITION` of ``kind``).
    """
    t_start = time.perf_counter()
    t_steps = cfg.time_steps
    xtr, xte = data["train_in"], data["test_in"]
    device = xtr.device
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(xtr.shape[0], generator=gen)
    stdp_n = min(xtr.shape[0], data.get("stdp_limit", xtr.shape[0]))
    res: Dict[str, float] = {"model": name, "input": kind}
    if name == ACCUMULATE:
        torch.manual_seed(seed)
        net = demo.KheradpishehNet(cfg).to(device)
        conv = net.conv1
        stdp = net.stdp1
        train_step = lambda x: net.stdp_step1(first_times(x, kind, t_steps))  # noqa: E731

        def features(x: torch.Tensor) -> torch.Tensor:
            tf = first_times(x, kind, t_steps)
            t1, _ = net.layer1(tf)
            feats = (net._pool_times(t1) < t_steps).flatten(1).to(torch.uint8)
            return feats, (t1 < t_steps).flatten(1).sum(1).float()  # spikes: one per firing neuron
        res["gain"] = 1.0
    else:
        snet = build(name, cfg, seed, device, native, inhibition_for(kind, inhibition))
        block = snet.blocks[0]
        conv = block.conv
        # target activity: the accumulate-and-fire layer (= exact IF) on the calibration images
        # (every rank calibrates on the same images: replicated, identical gains)
        ref = build("IF_exact", cfg, seed, device)
        cal = step_spikes(xtr[order[:calib]], kind, t_steps)
        target = float((ref.run(cal)[0].post_times < t_steps).float().mean())
        res["target_active"] = target
        res["gain"] = calibrate_gain(snet, 0, cal, min(max(target, 1e-3), 0.999), lo=1e-2, hi=1e5, iters=calib_iters)
        res["calibrated_active"] = float((snet.run(cal)[0].post_times < t_steps).float().mean())
        stdp = STDP(block.conv, cfg.learning_rate)

        def train_step(x: torch.Tensor) -> None:
            spikes = step_spikes(x, kind, t_steps)
            if x.shape[0] == 0:  # empty block of a short last global batch: join the all-reduce with a zero update
                rec = snet.run(spikes, upto=0)[0]  # (StepNetwork.stdp_step's winner lookup needs >= 1 sample)
                no_winners = torch.zeros(0, block.kwta, 3, dtype=torch.long, device=x.device)
                stdp.forward_times(rec.pre_times, block.post_times_for_stdp(rec), no_winners)
            else:
                snet.stdp_step(spikes, 0, stdp)

        def features(x: torch.Tensor) -> torch.Tensor:
            block.track_values = False  # only the pooled spikes and counts are read
            rec = snet.run(step_spikes(x, kind, t_steps))[0]
            return (rec.output_times < t_steps).flatten(1).to(torch.uint8), rec.spike_count
    t0 = time.perf_counter()
    lr0 = cfg.learning_rate[0]
    seen = 0
    global_batch = batch * sd.world_size()
    with tqdm(total=stdp_n, desc=f"{name} STDP", disable=not progress, unit="img", leave=False) as bar:
        for i in range(0, stdp_n, global_batch):
            demo._lr_schedule(stdp, seen, cfg.lr1_every, lr0, cfg.lr1_max)  # counts global digits
            idx = order[i : min(i + global_batch, stdp_n)]
            train_step(xtr[idx[sd.shard(idx.numel())]])  # this rank's block; STDP sums the ranks' updates
            seen += idx.numel()
            bar.update(idx.numel())
    res["stdp_s"] = time.perf_counter() - t0
    res["stdp_images_per_s"] = stdp_n / res["stdp_s"]  # global digits per second (all processes)
    res["world_size"] = sd.world_size()
    t0 = time.perf_counter()
    ftr, _ = sharded_features(features, xtr, progress, "features (train)")
    fte, cte = sharded_features(features, xte, progress, "features (test)")
    ftr, fte = ftr.float(), fte.float()
    res["features_s"] = time.perf_counter() - t0
    spikes = cte
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
    if out_dir is not None and sd.is_main_process():
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"neuron_stdp_{name}_{kind}.pt"
        torch.save({"weight": conv.weight.detach().cpu(), "readout": {k: v.cpu() for k, v in lin.state_dict().items()},
                    "result": dict(res)}, path)
        res["weights_path"] = str(path)
    return res


def sharded_features(features, x: torch.Tensor, progress: bool, desc: str, batch: int = 256):
    """``features`` over this rank's block of ``x`` in chunks, gathered from all ranks (in order).

    Returns the pooled-spike features (uint8) and the spike counts of all of ``x``.
    """
    mine = x[sd.shard(x.shape[0])]
    feats, counts = [], []
    with torch.no_grad():  # an empty block still gives empty results of the right shape
        for i in tqdm(range(0, max(mine.shape[0], 1), batch), desc=desc, disable=not progress, leave=False):
            f, c = features(mine[i : i + batch])
            feats.append(f)
            counts.append(c)
    return sd.all_gather_cat(torch.cat(feats)), sd.all_gather_cat(torch.cat(counts))


def ridge_readout(x: torch.Tensor, y: torch.Tensor, l2: float = 1.0) -> torch.nn.Linear:
    """Ridge regression onto one-hot labels, closed form in the dual (fast when samples < features)."""
    xc = torch.cat([x, torch.ones(x.shape[0], 1, device=x.device)], 1).double()
    yy = torch.nn.functional.one_hot(y, 10).double()
    w = xc.t() @ torch.linalg.solve(xc @ xc.t() + l2 * torch.eye(x.shape[0], dtype=torch.float64, device=x.device), yy)
    lin = torch.nn.Linear(x.shape[1], 10, device=x.device)
    with torch.no_grad():
        lin.weight.copy_(w[:-1].t())
        lin.bias.copy_(w[-1])
    return lin


def prepare(args: argparse.Namespace, cfg: demo.Config, kind: str,
            device: torch.device = torch.device("cpu")) -> Dict[str, torch.Tensor]:
    """Load, limit and code the digits on ``device`` (under ``torchrun``: each rank codes its block, all get all)."""
    raw = demo.load_data(args.data_root)
    n_val = getattr(args, "validate", None)
    if n_val:  # score on the last n_val training digits (a validation split) instead of the test digits
        if n_val < 0 or n_val + max(args.train_limit or 0, 1) > raw["train_x"].shape[0]:
            raise ValueError(f"validate: {n_val} validation digits leave too few of the "
                             f"{raw['train_x'].shape[0]} training digits for train_limit={args.train_limit}")
        raw["test_x"], raw["test_y"] = raw["train_x"][-n_val:], raw["train_y"][-n_val:]
        raw["train_x"], raw["train_y"] = raw["train_x"][:-n_val], raw["train_y"][:-n_val]
    for split, limit in (("train", args.train_limit), ("test", args.test_limit)):
        if limit is not None:
            raw[f"{split}_x"], raw[f"{split}_y"] = raw[f"{split}_x"][:limit], raw[f"{split}_y"][:limit]
    code = lambda x: encode_inputs(x.to(device), kind, cfg)  # noqa: E731
    data = {"train_in": demo.extract(code, raw["train_x"], 1000, "code (train)", False),
            "test_in": demo.extract(code, raw["test_x"], 1000, "code (test)", False),
            "train_y": raw["train_y"].to(device), "test_y": raw["test_y"].to(device)}
    if args.stdp_limit is not None:
        data["stdp_limit"] = args.stdp_limit
    return data


def main(argv: Optional[List[str]] = None) -> List[Dict[str, float]]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True,
                    help=f"a registered model ({', '.join(neurons.all_models())}), '{ACCUMULATE}', "
                         "a comma-separated list of these, or 'all'")
    ap.add_argument("--data-root", default=None, help="torchvision MNIST root; default: the shipped subset")
    ap.add_argument("--input", choices=("latency", "events"), default="latency")
    ap.add_argument("--train-limit", type=int, default=None, help="first N training digits (STDP and readout)")
    ap.add_argument("--test-limit", type=int, default=None, help="first N test digits")
    ap.add_argument("--batch-size", type=int, default=32,
                    help="STDP mini-batch per process (default 32); global batch = this x world size under torchrun")
    ap.add_argument("--stdp-limit", type=int, default=None, help="STDP on N of the training digits (default all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--calib-images", type=int, default=32, help="images of the gain calibration (default 32)")
    ap.add_argument("--calib-iters", type=int, default=12, help="bisection steps of the calibration (default 12)")
    ap.add_argument("--json", default=None, help="write the results (a list of dicts) to this file")
    ap.add_argument("--readout", choices=("softmax", "ridge"), default="softmax",
                    help="softmax: the demo's L-BFGS softmax regression; ridge: closed-form ridge (fast)")
    ap.add_argument("--both-inputs", action="store_true", help="with --model all: latency and events")
    ap.add_argument("--device", default="cpu",
                    help="torch device (default cpu; e.g. cuda: under torchrun, one GPU per process, NCCL)")
    ap.add_argument("--out-dir", default=None, help="save each trained layer here (default: nothing saved)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bars")
    ap.add_argument("--native", action="store_true",
                    help="step the neuron layer with its compiled step (backend='compiled'; same spikes)")
    ap.add_argument("--inhibition", choices=neurons.INHIBITION_MODES, default=None,
                    help="the layers' per-step lateral inhibition, inhibition_mode (default: none for latency input, "
                         "feature for events; chosen on a validation split)")
    ap.add_argument("--validate", type=int, default=None, metavar="N",
                    help="score on the last N training digits (a validation split) instead of the test digits")
    args = ap.parse_args(argv)
    names = args.model.split(",")
    if args.model == "all":
        names = [ACCUMULATE] + list(neurons.all_models())
    for name in names:
        if name != ACCUMULATE and name not in neurons.all_models():
            ap.error(f"unknown model {name!r}")
    if args.batch_size < 1:
        ap.error(f"--batch-size must be >= 1, got {args.batch_size}")
    with sd.process_group_from_env(args.device) as device:  # torchrun: gloo (CPU) or NCCL (CUDA) group
        return _main(args, names, device)


def _main(args: argparse.Namespace, names: List[str], device: torch.device) -> List[Dict[str, float]]:
    say = print if sd.is_main_process() else (lambda *a, **k: None)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = demo.Config(seed=args.seed)
    kinds = ["latency", "events"] if args.both_inputs else [args.input]
    out_dir = Path(args.out_dir) if args.out_dir else None
    progress = sd.is_main_process() and not args.no_progress
    if sd.world_size() > 1:
        say(f"{sd.world_size()} processes on {device.type}, STDP batch {args.batch_size} per process "
            f"({args.batch_size * sd.world_size()} global)")
    results = []
    for kind in kinds:
        data = prepare(args, cfg, kind, device)
        for name in names:
            res = run_model(name, kind, data, cfg, args.batch_size, args.seed, args.calib_images, args.calib_iters,
                            progress=progress, readout=args.readout, out_dir=out_dir, native=args.native,
                            inhibition=args.inhibition)
            results.append(res)
            say(f"[{name} / {kind}] gain {res['gain']:.4g}")
            say(f"test accuracy: {100 * res['test_accuracy']:.2f}%")
            say(f"mean spikes per image: {res['mean_spikes_per_image']:.1f}  "
                f"(silent test images {100 * res['silent_test_images']:.1f}%)")
            say(f"wall time: {res['wall_s']:.1f}s (STDP {res['stdp_images_per_s']:.0f} img/s, all processes)", flush=True)
            if args.json and sd.is_main_process():
                Path(args.json).parent.mkdir(parents=True, exist_ok=True)
                Path(args.json).write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
