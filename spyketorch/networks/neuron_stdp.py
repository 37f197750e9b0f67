"""Layer 1 of the Kheradpisheh network built from a stateful neuron layer, stepped one time step at a time.

Library code of ``examples/neuron_stdp.py`` and ``examples/compare_models.py`` (issue 9):
input spikes ``[B, T, 2, 28, 28]`` -> pad 2 -> Convolution 2 -> 32 (5x5) -> neuron layer
(any registered model) -> max pooling (2, stride 2, padding 1) -> linear readout on the
pooled spikes (``32 x 15 x 15``, 1 if the position spiked during the presentation). STDP
learns from the layer's winners (k = 5, inhibition radius 2, after pointwise inhibition)
with the rate schedule of :mod:`spyketorch.networks.kheradpisheh`, whose data coding and
layer-1 recipe it shares (its ``"spyketorch"`` configuration).

Inputs: ``latency`` (DoG on/off filters, local normalisation, intensity-to-latency
coding, 15 steps) or ``events`` (the N-MNIST-like saccade event stream of
:func:`spyketorch.coding.events.saccade_events`, 15 frames; a pixel spikes at a step when
it has at least one event in that frame).

Parameters: every model comes from :func:`spyketorch.neurons.all_models` (threshold 10),
with the same per-step lateral inhibition for all (default per input, :data:`INHIBITION`),
and the only tuned parameter is the input gain
(:func:`spyketorch.networks.blocks.calibrate_gain`): bisection so that, before learning,
the same fraction of the layer's neurons fires at least once as in the
accumulate-and-fire layer (threshold 10) on the same images. :data:`ACCUMULATE` runs the
accumulate-and-fire layer itself (latency domain).

Several processes (``torchrun``): see :func:`run_model`.

Example:
    >>> from spyketorch.networks import neuron_stdp, kheradpisheh
    >>> neuron_stdp.ACCUMULATE, neuron_stdp.INHIBITION, neuron_stdp.READOUT_L2
    ('accumulate', {'latency': 'none', 'events': 'feature'}, 0.0001)
    >>> net = neuron_stdp.build("LIF", kheradpisheh.Config(), seed=0)
    >>> type(net.blocks[0].neuron).__name__, tuple(net.blocks[0].conv.weight.shape)
    ('LIF', (32, 2, 5, 5))
"""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch
from tqdm.auto import tqdm

from .. import distributed as sd
from .. import neurons
from ..coding.events import saccade_events
from ..layers import Convolution
from ..learning.stdp import STDP
from . import kheradpisheh as kh
from .blocks import NeuronConvBlock, StepNetwork, calibrate_gain, strict_threshold

__all__ = ["ACCUMULATE", "INHIBITION", "READOUT_L2", "inhibition_for", "encode_inputs", "step_spikes",
           "first_times", "build", "run_model", "sharded_features", "ridge_readout", "prepare", "describe",
           "compare_row", "markdown"]

#: the name of the demo's accumulate-and-fire layer among the models of a comparison
ACCUMULATE = "accumulate"
#: L2 penalty of the softmax readout
READOUT_L2 = 1e-4
#: The neuron layers' per-step lateral inhibition (inhibition_mode), the same for every model, per input: chosen
#: with LIF on a validation split (STDP on 2,000 and readout on 10,000 training digits, validated on training
#: digits 50,000-59,999). Latency: none 97.31 %, neuron 97.31 %, location 97.26 %, feature 93.86 %, layer 87.89 %
#: (accumulate-and-fire 97.02 %); events: feature 86.58 %, none 83.10 % (accumulate-and-fire 87.11 %).
INHIBITION = {"latency": "none", "events": "feature"}


def inhibition_for(kind: str, inhibition: Optional[str] = None) -> str:
    """The layers' lateral inhibition for input ``kind``: ``inhibition`` if given, else :data:`INHIBITION`'s.

    Example:
        >>> inhibition_for("latency"), inhibition_for("events"), inhibition_for("events", "none")
        ('none', 'feature', 'none')
    """
    return INHIBITION[kind] if inhibition is None else inhibition


def encode_inputs(images: torch.Tensor, kind: str, cfg: kh.Config, batch: int = 1000) -> torch.Tensor:
    """First-spike steps uint8 ``[N, 2, 28, 28]`` (``T`` = never) of the chosen input.

    Latency input: one spike per pixel, at its step. Event input: a pixel spikes at every
    frame where it has an event; its first such frame is kept here and all frames are
    rebuilt by :func:`event_spikes` (from the cached event frames).

    Example:
        >>> cfg = kh.Config()
        >>> images = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
        >>> x = encode_inputs(images, "latency", cfg)
        >>> x.shape, x.dtype  # first-spike steps, 15 = never
        (torch.Size([4, 2, 28, 28]), torch.uint8)
    """
    if kind == "latency":
        return kh.encode(images, cfg)
    out = []
    for i in range(0, images.shape[0], batch):
        out.append((saccade_events(images[i : i + batch].float(), cfg.time_steps) > 0).to(torch.uint8))
    return torch.cat(out)  # [N, T, 2, H, W] 0/1


def step_spikes(x: torch.Tensor, kind: str, t_steps: int) -> torch.Tensor:
    """Spikes arriving at each step ``[B, T, 2, H, W]`` (float 0/1).

    Example:
        >>> cfg = kh.Config()
        >>> images = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
        >>> x = encode_inputs(images, "latency", cfg)
        >>> s = step_spikes(x, "latency", cfg.time_steps)
        >>> s.shape, bool((s.sum(1) <= 1).all())  # latency input: at most one spike per pixel
        (torch.Size([4, 15, 2, 28, 28]), True)
    """
    if kind == "latency":
        steps = torch.arange(t_steps, device=x.device).view(1, t_steps, 1, 1, 1)
        return (x.long().unsqueeze(1) == steps).float()
    return x.float()


def first_times(x: torch.Tensor, kind: str, t_steps: int) -> torch.Tensor:
    """First-spike steps ``[B, 2, H, W]`` for the accumulate-and-fire layer.

    Example:
        >>> cfg = kh.Config()
        >>> images = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
        >>> x = encode_inputs(images, "latency", cfg)
        >>> torch.equal(first_times(x, "latency", cfg.time_steps), x.long())
        True
    """
    if kind == "latency":
        return x
    s = x.bool()
    first = s.float().argmax(dim=1)
    return torch.where(s.any(dim=1), first, torch.full_like(first, t_steps)).to(torch.uint8)


def build(name: str, cfg: kh.Config, seed: int, device: torch.device = torch.device("cpu"),
          compiled: bool = False, inhibition: str = INHIBITION["latency"]) -> StepNetwork:
    """The one-block network of model ``name`` (or ``"IF_exact"``, the IF layer that reproduces the
    accumulate-and-fire layer exactly) with layer 1's convolution (seeded by ``seed``), padding 2,
    pooling 2/2/1 and k-winners ``cfg.k1``, radius ``cfg.r1``; ``inhibition`` is the layer's
    per-step lateral inhibition; ``compiled`` gives it the compiled step (``backend="compiled"``).

    Example:
        >>> net = build("AdEx", kh.Config(), seed=0, inhibition="feature")
        >>> block = net.blocks[0]
        >>> type(block.neuron).__name__, block.neuron.inhibition_mode, block.kwta
        ('AdEx', 'feature', 5)
    """
    torch.manual_seed(seed)
    conv = Convolution(2, cfg.conv1_features, cfg.conv1_kernel, cfg.weight_mean, cfg.weight_std)
    if name == "IF_exact":  # the IF layer that reproduces the accumulate-and-fire layer exactly
        layer = neurons.IF(threshold=strict_threshold(cfg.conv1_threshold), ts=1.0, C=1.0, refractory_timesteps=0)
    else:
        layer = neurons.all_models(threshold=cfg.conv1_threshold, seed=seed, n_features=cfg.conv1_features)[name]()
        # one lateral inhibition for every model (AdEx and Izhikevich default to "layer", which
        # clamps the whole layer to rest for 2 steps after each winner and scores 25 % / 46 %)
        layer.inhibition_mode = inhibition
    if compiled:  # the compiled step (same spikes, fused kernels)
        layer.backend = "compiled"
    block = NeuronConvBlock(conv, layer, padding=2, pool=(2, 2, 1), kwta=cfg.k1, inhibition_radius=cfg.r1)
    return StepNetwork([block]).to(device)


def run_model(name: str, kind: str, data: Dict[str, torch.Tensor], cfg: kh.Config, batch: int,
              seed: int = 0, calib: int = 32, calib_iters: int = 12, progress: bool = False,
              readout: str = "softmax", out_dir: Optional[Path] = None, compiled: bool = False,
              inhibition: Optional[str] = None) -> Dict[str, float]:
    """Calibrate, train with STDP, read out; returns the measured figures.

    ``batch`` is the STDP mini-batch per process (the global batch is ``batch`` x world
    size under ``torchrun``); the tensors of ``data`` may live on any device (the
    network follows them). With ``out_dir``, rank 0 saves the layer's weights there.
    ``compiled`` steps the neuron layer with its compiled step (``backend="compiled"``);
    ``inhibition`` is the layers' per-step lateral inhibition (default: :data:`INHIBITION` of ``kind``).

    Example:
        A tiny run (4 training and 2 test digits of the shipped subset, ridge readout):

        >>> cfg = kh.Config()
        >>> data = prepare(cfg, "latency", train_limit=4, test_limit=2, stdp_limit=2)
        >>> result = run_model("IF", "latency", data, cfg, batch=2, calib=2, calib_iters=1, readout="ridge")
        >>> result["model"], 0.0 <= result["test_accuracy"] <= 1.0
        ('IF', True)
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
        net = kh.KheradpishehNet(cfg).to(device)
        conv = net.conv1
        stdp = net.stdp1
        train_step = lambda x: net.stdp_step1(first_times(x, kind, t_steps))  # noqa: E731

        def features(x: torch.Tensor) -> torch.Tensor:
            tf = first_times(x, kind, t_steps)
            t1, _ = net.layer1(tf)
            feats = (net.pool_times(t1, cfg.pool1) < t_steps).flatten(1).to(torch.uint8)
            return feats, (t1 < t_steps).flatten(1).sum(1).float()  # spikes: one per firing neuron
        res["gain"] = 1.0
    else:
        snet = build(name, cfg, seed, device, compiled, inhibition_for(kind, inhibition))
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
            kh.lr_schedule(stdp, seen, cfg.lr1_every, lr0, cfg.lr1_max)  # counts global digits
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
        lin = kh.train_readout(ftr, data["train_y"], READOUT_L2, cfg.readout_iters, "softmax", progress=progress)
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

    Example:
        Without ``torchrun`` the one process computes every chunk:

        >>> x = torch.ones(5, 3)
        >>> feats, counts = sharded_features(lambda chunk: (chunk.to(torch.uint8), chunk.sum(1)), x, False, "", batch=2)
        >>> feats.shape, counts.tolist()
        (torch.Size([5, 3]), [3.0, 3.0, 3.0, 3.0, 3.0])
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
    """Ridge regression onto one-hot labels, closed form in the dual (fast when samples < features).

    Example:
        >>> x = torch.eye(4)
        >>> readout = ridge_readout(x, torch.tensor([0, 1, 2, 3]), l2=1e-3)
        >>> readout(x).argmax(1).tolist()
        [0, 1, 2, 3]
    """
    xc = torch.cat([x, torch.ones(x.shape[0], 1, device=x.device)], 1).double()
    yy = torch.nn.functional.one_hot(y, 10).double()
    w = xc.t() @ torch.linalg.solve(xc @ xc.t() + l2 * torch.eye(x.shape[0], dtype=torch.float64, device=x.device), yy)
    lin = torch.nn.Linear(x.shape[1], 10, device=x.device)
    with torch.no_grad():
        lin.weight.copy_(w[:-1].t())
        lin.bias.copy_(w[-1])
    return lin


def prepare(cfg: kh.Config, kind: str, data_root: Optional[str] = None, train_limit: Optional[int] = None,
            test_limit: Optional[int] = None, stdp_limit: Optional[int] = None, validate: Optional[int] = None,
            device: torch.device = torch.device("cpu")) -> Dict[str, torch.Tensor]:
    """Load, limit and code the digits on ``device`` (under ``torchrun``: each rank codes its block, all get all).

    Args:
        cfg: the coding's settings.
        kind: ``"latency"`` or ``"events"``.
        data_root: torchvision MNIST root. Default: ``None`` (the shipped subset).
        train_limit, test_limit: keep the first N training / test digits. Default: ``None`` (all).
        stdp_limit: STDP on the first N (shuffled) training digits only. Default: ``None`` (all).
        validate: score on the last N training digits (a validation split, disjoint from
            the digits that train) instead of the test digits. Default: ``None``.
        device: where the coded digits go. Default: CPU.

    Returns:
        ``{"train_in", "test_in", "train_y", "test_y"}`` (and ``"stdp_limit"`` if given).

    Example:
        >>> data = prepare(kh.Config(), "latency", train_limit=4, test_limit=2)
        >>> sorted(data), data["train_in"].shape
        (['test_in', 'test_y', 'train_in', 'train_y'], torch.Size([4, 2, 28, 28]))
    """
    raw = kh.load_data(data_root)
    n_val = validate
    if n_val:  # score on the last n_val training digits (a validation split) instead of the test digits
        if n_val < 0 or n_val + max(train_limit or 0, 1) > raw["train_x"].shape[0]:
            raise ValueError(f"validate: {n_val} validation digits leave too few of the "
                             f"{raw['train_x'].shape[0]} training digits for train_limit={train_limit}")
        raw["test_x"], raw["test_y"] = raw["train_x"][-n_val:], raw["train_y"][-n_val:]
        raw["train_x"], raw["train_y"] = raw["train_x"][:-n_val], raw["train_y"][:-n_val]
    for split, limit in (("train", train_limit), ("test", test_limit)):
        if limit is not None:
            raw[f"{split}_x"], raw[f"{split}_y"] = raw[f"{split}_x"][:limit], raw[f"{split}_y"][:limit]
    code = lambda x: encode_inputs(x.to(device), kind, cfg)  # noqa: E731
    data = {"train_in": kh.extract(code, raw["train_x"], 1000, "code (train)", False),
            "test_in": kh.extract(code, raw["test_x"], 1000, "code (test)", False),
            "train_y": raw["train_y"].to(device), "test_y": raw["test_y"].to(device)}
    if stdp_limit is not None:
        data["stdp_limit"] = stdp_limit
    return data


# ----------------------------------------------------------------------------
# the model comparison (examples/compare_models.py)
# ----------------------------------------------------------------------------
def describe(layer: torch.nn.Module, inhibition: str) -> str:
    """The layer's settings as its repr shows them, less those shared by every row; per-map tensors as ``per map``.

    Example:
        >>> describe(neurons.LIF(threshold=10.0), "feature")  # the row's inhibition is not repeated
        'threshold=10, ts=0.001, refractory_timesteps=2, tau_rc=0.02, C=0.281'
    """
    text = re.sub(r"tensor\([^)]*\)", "per map", repr(layer))
    inner = text[text.index("(") + 1 : -1] if text.endswith(")") else text
    shared = (f"inhibition_mode={inhibition!r}", "clamp_at_rest=True", "noise_std=0", "resting_potential=0")
    return ", ".join(p for p in inner.split(", ") if p not in shared)


def compare_row(name: str, kind: str, data: Dict[str, Any], cfg: kh.Config, batch: int = 32, seed: int = 0,
                calib: int = 32, calib_iters: int = 12, readout: str = "softmax", compiled: bool = False,
                inhibition: Optional[str] = None) -> Dict[str, Any]:
    """One model on one input: :func:`run_model` (calibrate, STDP, features, readout) plus the row's
    parameters, lateral inhibition and status (``silent`` when more than half of the test images give
    no spike, ``saturated`` when more than 95 % of the pooled outputs fire on test images).

    Example:
        >>> cfg = kh.Config()
        >>> data = prepare(cfg, "latency", train_limit=4, test_limit=2, stdp_limit=2)
        >>> row = compare_row("IF", "latency", data, cfg, batch=2, calib=2, calib_iters=1, readout="ridge")
        >>> row["status"], row["inhibition"], row["parameters"]
        ('ok', 'none', 'threshold=10, ts=0.001, refractory_timesteps=2, tau_rc=0.02, C=0.281')
    """
    mode = inhibition_for(kind, inhibition)
    res: Dict[str, Any] = run_model(name, kind, data, cfg, batch, seed, calib, calib_iters, readout=readout,
                                    compiled=compiled, inhibition=mode)
    if name == ACCUMULATE:
        res["parameters"] = f"threshold {cfg.conv1_threshold:g} (fire, no reset, no leak)"
    else:
        res["parameters"] = describe(build(name, cfg, seed, inhibition=mode).blocks[0].neuron, mode)
    res["inhibition"] = None if name == ACCUMULATE else mode
    res["status"] = ("silent" if res["silent_test_images"] > 0.5 else
                     "saturated" if res["active_features"] > 0.95 else "ok")
    return res


def markdown(results: List[Dict[str, Any]]) -> str:
    """The comparison table: one row per model and input, gap to the accumulate-and-fire layer.

    Example:
        >>> cfg = kh.Config()
        >>> data = prepare(cfg, "latency", train_limit=4, test_limit=2, stdp_limit=2)
        >>> table = markdown([compare_row("IF", "latency", data, cfg, batch=2, calib=2, calib_iters=1, readout="ridge")])
        >>> table.splitlines()[2].startswith("| IF | latency | none | threshold=10")
        True
    """
    base = {r["input"]: r["test_accuracy"] for r in results if r["model"] == ACCUMULATE}
    lines = ["| model | input | lateral inhibition | parameters | gain (tuned) | active before STDP (target) "
             "| pooled outputs active (test) | test acc. | gap to accumulate | wall s | STDP img/s | mean spikes / image | silent test images "
             "| status |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        gap = f"{100 * (r['test_accuracy'] - base[r['input']]):+.2f}" if r["input"] in base else "—"
        act = (f"{100 * r['calibrated_active']:.1f} % ({100 * r['target_active']:.1f} %)"
               if "calibrated_active" in r else "—")
        lines.append(f"| {r['model']} | {r['input']} | {r.get('inhibition') or '—'} | {r['parameters']} "
                     f"| {r['gain']:.4g} | {act} "
                     f"| {100 * r['active_features']:.1f} % | {100 * r['test_accuracy']:.2f} % | {gap} "
                     f"| {r['wall_s']:.0f} | {r['stdp_images_per_s']:.1f} | {r['mean_spikes_per_image']:.0f} "
                     f"| {100 * r['silent_test_images']:.1f} % | {r['status']} |")
    return "\n".join(lines) + "\n"
