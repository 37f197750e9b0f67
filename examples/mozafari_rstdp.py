"""Reward-modulated STDP on MNIST (Mozafari et al., 2019, Pattern Recognition 94:87-95).

Three convolutional layers, no external classifier: the decision is the class of the
winning feature of layer 3 (20 features per digit), the one with the highest potential at
the last step, as in SpykeTorch's ``MozafariDeep.py``.

Pipeline (the paper's, as SpykeTorch's MozafariDeep reimplements it):
six DoG filters (windows 3, 7, 13; on and off; threshold 50) -> local normalisation
(radius 8) -> latency coding (15 steps) -> conv 30 (5x5, threshold 15, k = 5, r = 3,
STDP) -> pool 2 (stride 2) + pad 1 -> conv 250 (3x3, threshold 10, k = 8, r = 1, STDP)
-> pool 3 (stride 3) + pad 2 -> conv 200 (5x5, no threshold: as in SpykeTorch's recipe its
neurons fire at the last step, so the winner has the highest potential from all the inputs
that fired; ``--decision-fire first`` takes the earliest-spiking neuron instead)
trained with reward (STDP 0.004/-0.003) and punishment (anti-STDP -0.004/0.0005), no
stabiliser, weights in [0.2, 0.8]. Layers 1 and 2: a+ doubles every 500 images up to
0.15, a- = -0.75 a+. Layer 3: the reward rates are scaled by the previous epoch's miss
rate and the punishment rates by its hit rate (the first epoch uses 0.9 and 0.1, the
figures of chance); silence counts as neither correct nor wrong.

What is exact and what is not (see also the README):

* exact: latency-domain layers (first-spike step and potential of each neuron, the
  same values as the spike-wave ops); frozen layers computed once and cached;
  batched evaluation; layer 3 computed in one convolution from the inputs that fired
  (:class:`spyketorch.learning.decision.DecisionLayer` with ``fire="last"``: same winners and
  updates as the reference's spike-wave ops, sample after sample);
* not exact, by choice: ``--batch-size B > 1`` sums the STDP updates of B images of
  layers 1-2 computed against the same weights (:class:`spyketorch.snn.STDP`); the
  default 1 applies them image after image like the reference; the layer-3 rates adapt
  once per epoch (the reference adapts them after every 1,000 images);
* ``--rstdp-batch B > 1`` (layer 3): the R-STDP updates of B images are computed
  against the same weights, summed and applied once
  (:meth:`spyketorch.learning.decision.DecisionLayer.train_batch`), a batched variant of the
  paper's rule; the default 1 is the paper's sequential rule (exact).

Several processes (``torchrun``; gloo on CPU, NCCL with ``--device cuda``, one GPU per
process): ``--batch-size`` and ``--rstdp-batch`` are per process; every rank walks the
same shuffled global batches (per-process batch x world size) and trains on its
contiguous block of each; the layer-1/2 STDP and the layer-3 R-STDP updates and the
layer-3 correct/wrong/silent counts (which scale the next epoch's rates) are summed over
the ranks; the a+ schedule counts global images; coding, the layer caches and the
evaluation are sharded and gathered; rank 0 alone prints and writes. The weights of all
three layers then equal one process run with the global batches (``--batch-size`` and
``--rstdp-batch`` x world size) up to float rounding, with the same accuracy. The
sequential layer-3 rule cannot be split over processes: under ``torchrun`` layer 3 is
always the batched variant (global batch ``--rstdp-batch`` x world size >= 2).

Usage::

    python examples/mozafari_rstdp.py                             # shipped subset
    python examples/mozafari_rstdp.py --data-root ../shared/data  # full MNIST recipe
    python examples/mozafari_rstdp.py --device cuda               # on a GPU
    torchrun --standalone --nproc_per_node=2 examples/mozafari_rstdp.py --batch-size 1 --rstdp-batch 8

Checkpoints (``layer1.pt``, ``layer2.pt``, ``layer3.pt`` in ``--out-dir``) let a run
resume where it stopped; ``rstdp_curve.png`` shows the per-epoch accuracies.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

import spyketorch.distributed as sd
import spyketorch.functional as sf
import spyketorch.snn as snn
import spyketorch.utils as su
from spyketorch.learning.decision import DecisionLayer


@dataclass
class Config:
    """Hyper-parameters of the network and the recipe."""

    time_steps: int = 15
    dog: Tuple[Tuple[int, float, float], ...] = (
        (3, 3 / 9, 6 / 9), (3, 6 / 9, 3 / 9), (7, 7 / 9, 14 / 9), (7, 14 / 9, 7 / 9),
        (13, 13 / 9, 26 / 9), (13, 26 / 9, 13 / 9))
    dog_threshold: float = 50.0
    norm_radius: int = 8
    conv1: Tuple[int, int, float, int, int] = (30, 5, 15.0, 5, 3)    # features, kernel, threshold, k, r
    conv2: Tuple[int, int, float, int, int] = (250, 3, 10.0, 8, 1)
    conv3: Tuple[int, int] = (200, 5)
    learning_rate: Tuple[float, float] = (0.004, -0.003)
    max_ap: float = 0.15
    lr_every: int = 500
    reward: Tuple[float, float] = (0.004, -0.003)
    punish: Tuple[float, float] = (-0.004, 0.0005)
    epochs1: int = 2
    epochs2: int = 4
    epochs3: int = 680
    patience: int = 0      # stop layer 3 after this many epochs without a better train hit rate (0: never)
    batch: int = 1         # layers 1-2 STDP mini-batch per process (1: image after image)
    seed: int = 0
    rstdp_batch: int = 1   # layer-3 R-STDP mini-batch per process (1 in one process: the paper's sequential rule)
    decision_fire: str = "last"  # layer 3 fires at the last step, as SpykeTorch's recipe ("first": earliest spike)
    device: str = "cpu"


# ----------------------------------------------------------------------------- network
class MozafariNet(torch.nn.Module):
    """The three layers; every pass takes first-spike steps (``T`` = never fired)."""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.cfg = cfg
        g = torch.Generator().manual_seed(cfg.seed)
        f1, k1 = cfg.conv1[:2]
        f2, k2 = cfg.conv2[:2]
        f3, k3 = cfg.conv3
        self.conv1 = snn.Convolution(len(cfg.dog), f1, k1, 0.8, 0.05)
        self.conv2 = snn.Convolution(f1, f2, k2, 0.8, 0.05)
        for conv in (self.conv1, self.conv2):
            conv.weight.data.normal_(0.8, 0.05, generator=g)
        self.stdp1 = snn.STDP(self.conv1, cfg.learning_rate)
        self.stdp2 = snn.STDP(self.conv2, cfg.learning_rate)
        dmap = [c for c in range(10) for _ in range(f3 // 10)]
        self.decision = DecisionLayer(f2, f3, k3, dmap, 0.8, 0.05, cfg.reward, cfg.punish, 0.2, 0.8, generator=g,
                                      fire=cfg.decision_fire)

    def _pad(self, t: torch.Tensor, p: int) -> torch.Tensor:
        return F.pad(t, (p, p, p, p), value=self.cfg.time_steps)

    @staticmethod
    def _min_pool(t: torch.Tensor, k: int) -> torch.Tensor:
        """Max pooling of a spike wave is min pooling of its first-spike steps."""
        return (-F.max_pool2d(-t.float(), k, k)).to(torch.uint8)

    def _layer(self, conv: snn.Convolution, t_in: torch.Tensor, threshold: float) -> Tuple[torch.Tensor, torch.Tensor]:
        t, v = sf.first_spike(conv(sf.spike_wave(t_in, self.cfg.time_steps)), threshold)
        return t.clamp(max=self.cfg.time_steps).to(torch.uint8), v

    def layer1(self, times: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return self._layer(self.conv1, self._pad(times, 2), self.cfg.conv1[2])

    def layer2_input(self, times: torch.Tensor) -> torch.Tensor:
        return self._pad(self._min_pool(self.layer1(times)[0], 2), 1)

    def layer2(self, x2: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return self._layer(self.conv2, x2, self.cfg.conv2[2])

    def layer3_input(self, x2: torch.Tensor) -> torch.Tensor:
        return self._pad(self._min_pool(self.layer2(x2)[0], 3), 2)

    def stdp_step(self, layer: int, x: torch.Tensor) -> None:
        """One STDP update of layer 1 or 2 from its (padded) input steps ``x``."""
        conv, stdp, (_, _, thr, k, r) = ((self.conv1, self.stdp1, self.cfg.conv1) if layer == 1
                                         else (self.conv2, self.stdp2, self.cfg.conv2))
        t, v = sf.first_spike(conv(sf.spike_wave(x, self.cfg.time_steps)), thr)
        t, v = sf.pointwise_inhibition_times(t, v, self.cfg.time_steps)
        winners = sf.get_k_winners_times(t, v, self.cfg.time_steps, k, r, as_tensor=True)
        stdp.forward_times(x, t, winners)


# ----------------------------------------------------------------------------- data
def encode(images: torch.Tensor, cfg: Config, batch: int = 1000) -> torch.Tensor:
    """DoG filtering, local normalisation, latency coding: uint8 first-spike steps ``[N, 6, 28, 28]``."""
    filt = su.Filter([su.DoGKernel(*k) for k in cfg.dog], padding=6, thresholds=cfg.dog_threshold)
    coder = su.Intensity2Latency(cfg.time_steps, batched=True)  # a last chunk of one image stays a batch
    out = []
    for i in range(0, images.shape[0], batch):
        x = sf.local_normalization(filt(images[i:i + batch].float().unsqueeze(1)), cfg.norm_radius)
        out.append(coder.spike_times(x).clamp(max=cfg.time_steps).to(torch.uint8))
    return torch.cat(out)


load_data = su.load_mnist  # the shipped subset, or full MNIST from a torchvision root


def _batches(n: int, size: int):
    return range(0, n, size)


def extract(fn, data: torch.Tensor, desc: str, progress: bool, batch: int = 500) -> torch.Tensor:
    """``fn`` over ``data`` in chunks; under ``torchrun`` each rank does its block and all get the whole result."""
    data = data[sd.shard(data.shape[0])]
    with torch.no_grad():  # an empty block (fewer items than ranks) still gives fn's empty result
        return sd.all_gather_cat(torch.cat([fn(data[i:i + batch]) for i in tqdm(
            _batches(max(data.shape[0], 1), batch), desc=desc, disable=not progress, leave=False)]))


# ----------------------------------------------------------------------------- training
def train_stdp(net: MozafariNet, layer: int, x: torch.Tensor, epochs: int, gen: torch.Generator,
               progress: bool) -> None:
    """Unsupervised STDP of layer 1 or 2; a+ doubles every ``lr_every`` images up to ``max_ap``."""
    cfg = net.cfg
    stdp = net.stdp1 if layer == 1 else net.stdp2
    seen = 0
    global_batch = cfg.batch * sd.world_size()  # under torchrun: cfg.batch per rank, the update of the global batch
    for epoch in range(epochs):
        order = torch.randperm(x.shape[0], generator=gen)
        with tqdm(total=x.shape[0], desc=f"layer {layer} STDP, epoch {epoch + 1}/{epochs}",
                  disable=not progress, leave=False) as bar:
            for i in _batches(x.shape[0], global_batch):
                ap = min(cfg.learning_rate[0] * 2 ** (seen // cfg.lr_every), cfg.max_ap)  # global image count
                stdp.update_all_learning_rate(ap, -0.75 * ap)
                idx = order[i:i + global_batch]
                net.stdp_step(layer, x[idx[sd.shard(idx.numel())]])  # an empty block joins with a zero update
                seen += idx.numel()
                bar.update(idx.numel())


def evaluate(net: MozafariNet, x3: torch.Tensor, y: torch.Tensor) -> Tuple[float, float, float]:
    """Fractions of correct, wrong and silent decisions (under ``torchrun``: sharded, decisions gathered)."""
    d = extract(lambda t: net.decision.decide(t, net.cfg.time_steps), x3, "evaluate", False, 1000)
    y = y.to(d.device)
    silent = d < 0
    correct = (d == y) & ~silent
    n = float(y.numel())
    return correct.sum().item() / n, (~correct & ~silent).sum().item() / n, silent.sum().item() / n


def train_rstdp(net: MozafariNet, x3: torch.Tensor, y: torch.Tensor, x3_test: torch.Tensor, y_test: torch.Tensor,
                gen: torch.Generator, progress: bool, state: Dict, ckpt: Optional[Path]) -> Dict:
    """Layer-3 R-STDP epochs with adaptive rates; returns the history (resumable via ``state``).

    Global batch 1 (one process, ``rstdp_batch`` 1): the sequential rule
    (:meth:`~spyketorch.learning.decision.DecisionLayer.train_step`). Otherwise global batches of
    ``rstdp_batch`` x world size, each rank on its block, updates and counts summed over
    the ranks (:meth:`~spyketorch.learning.decision.DecisionLayer.train_batch`).
    """
    cfg = net.cfg
    global_batch = cfg.rstdp_batch * sd.world_size()
    hist = state.setdefault("history", [])
    miss, hit = state.get("last_rates", (0.9, 0.1))
    if "generator" in state:  # a resumed run draws the orders it would have drawn without the stop
        gen.set_state(state["generator"])
    best, stale = state.get("best_train", -1.0), state.get("stale", 0)
    for epoch in range(len(hist), cfg.epochs3):
        if cfg.patience and stale >= cfg.patience:
            break
        t0 = time.perf_counter()
        net.decision.set_rates((cfg.reward[0] * miss, cfg.reward[1] * miss), (cfg.punish[0] * hit, cfg.punish[1] * hit))
        order = torch.randperm(x3.shape[0], generator=gen)
        stats = torch.zeros(3, dtype=torch.long, device=x3.device)
        chunk = 1000 if global_batch == 1 else global_batch
        with tqdm(total=x3.shape[0], desc=f"layer 3 R-STDP, epoch {epoch + 1}", disable=not progress,
                  leave=False) as bar:
            for i in _batches(x3.shape[0], chunk):
                idx = order[i:i + chunk]
                if global_batch == 1:  # the paper's rule: image after image
                    stats += net.decision.train_step(x3[idx], y[idx], cfg.time_steps)
                else:                  # batched variant; this rank's block, summed over the ranks (counts too)
                    mine = idx[sd.shard(idx.numel())]
                    stats += net.decision.train_batch(x3[mine], y[mine], cfg.time_steps)
                bar.update(idx.numel())
        tr = (stats.double() / x3.shape[0]).tolist()
        train_seconds = time.perf_counter() - t0
        te = evaluate(net, x3_test, y_test)
        hit, miss = tr[0], tr[1]
        hist.append({"epoch": epoch + 1, "train": tr, "test": list(te), "seconds": time.perf_counter() - t0,
                     "train_seconds": train_seconds})
        if tr[0] > best:
            best, stale = tr[0], 0
        else:
            stale += 1
        state.update(last_rates=(miss, hit), best_train=best, stale=stale, generator=gen.get_state())
        if progress:
            print(f"epoch {epoch + 1}: train {100 * tr[0]:.2f}% correct, test {100 * te[0]:.2f}% "
                  f"(wrong {100 * te[1]:.2f}%, silent {100 * te[2]:.2f}%)")
        if ckpt is not None and sd.is_main_process():
            torch.save({"decision": net.decision.state_dict(), "state": state}, ckpt)
            save_curve(hist, ckpt.parent / "rstdp_curve.png")  # a stopped run keeps its curve so far
    return state


def _resume(path: Optional[Path], device: torch.device) -> bool:
    """Whether to resume from checkpoint ``path``: it must be visible to every rank, or to none."""
    if path is None:
        return False
    seen = sd.all_reduce_sum_(torch.tensor([float(path.exists())], device=device))
    n = int(seen.item())
    if 0 < n < sd.world_size():
        raise RuntimeError(f"checkpoint {path} is visible to {n} of {sd.world_size()} processes: use an --out-dir "
                           "that every process sees (or an empty one)")
    return n > 0


def save_curve(hist: List[Dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [h["epoch"] for h in hist]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(ep, [100 * h["train"][0] for h in hist], label="train (during R-STDP)")
    ax.plot(ep, [100 * h["test"][0] for h in hist], label="test")
    ax.set_xlabel("layer-3 epoch")
    ax.set_ylabel("correct decisions (%)")
    ax.set_title("Mozafari et al. 2019: R-STDP learning curve")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(cfg: Config, data: Dict[str, torch.Tensor], out_dir: Optional[Path] = None, progress: bool = True) -> Dict:
    """The whole recipe; resumes from the checkpoints in ``out_dir`` when they exist."""
    t_start = time.perf_counter()
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    device = torch.device(cfg.device)
    net = MozafariNet(cfg).to(device)
    timings: Dict[str, float] = {}
    ck = {n: (out_dir / f"{n}.pt" if out_dir is not None else None) for n in ("layer1", "layer2", "layer3")}
    if out_dir is not None and sd.is_main_process():
        out_dir.mkdir(parents=True, exist_ok=True)
    n_train = data["train_x"].shape[0]
    y_train, y_test = data["train_y"].to(device), data["test_y"].to(device)

    t0 = time.perf_counter()
    code = lambda x: encode(x.to(device), cfg)  # noqa: E731
    train_t = extract(code, data["train_x"], "encode (train)", False, 1000)
    test_t = extract(code, data["test_x"], "encode (test)", False, 1000)
    timings["encode_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    trained1 = not _resume(ck["layer1"], device)
    if not trained1:
        saved = torch.load(ck["layer1"], map_location=device)
        net.conv1.load_state_dict(saved["conv1"])
        if "generator" in saved:  # the orders of the later layers as in an uninterrupted run
            gen.set_state(saved["generator"])
    else:
        train_stdp(net, 1, net._pad(train_t, 2), cfg.epochs1, gen, progress)
        if ck["layer1"] is not None and sd.is_main_process():
            torch.save({"conv1": net.conv1.state_dict(), "generator": gen.get_state()}, ck["layer1"])
    timings["layer1_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    x2 = extract(net.layer2_input, train_t, "layer 1 -> cache", progress)
    t_cache2 = time.perf_counter() - t0
    trained2 = not _resume(ck["layer2"], device)
    if not trained2:
        saved = torch.load(ck["layer2"], map_location=device)
        net.conv2.load_state_dict(saved["conv2"])
        if "generator" in saved:
            gen.set_state(saved["generator"])
    else:
        train_stdp(net, 2, x2, cfg.epochs2, gen, progress)
        if ck["layer2"] is not None and sd.is_main_process():
            torch.save({"conv2": net.conv2.state_dict(), "generator": gen.get_state()}, ck["layer2"])
    timings["layer2_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    x3 = extract(net.layer3_input, x2, "layer 2 -> cache", progress)
    del x2
    x3_test = extract(lambda t: net.layer3_input(net.layer2_input(t)), test_t, "test -> cache", progress)
    state: Dict = {}
    if _resume(ck["layer3"], device):
        saved = torch.load(ck["layer3"], weights_only=False, map_location=device)
        net.decision.load_state_dict(saved["decision"])
        state = saved["state"]
    done = len(state.get("history", []))
    state = train_rstdp(net, x3, y_train, x3_test, y_test, gen, progress, state, ck["layer3"])
    timings["layer3_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - t_start

    correct, wrong, silent = evaluate(net, x3_test, y_test)
    hist = state["history"]
    result = {"test_accuracy": correct, "test_wrong": wrong, "test_silent": silent, "epochs3": len(hist),
              "history": hist, "world_size": sd.world_size(), **timings}
    # training throughput, global images per second (all processes); layer 2 without its layer-1 cache pass
    if trained1 and cfg.epochs1 and timings["layer1_s"] > 0:
        result["layer1_images_per_sec"] = cfg.epochs1 * n_train / timings["layer1_s"]
    if trained2 and cfg.epochs2 and timings["layer2_s"] > t_cache2:
        result["layer2_images_per_sec"] = cfg.epochs2 * n_train / (timings["layer2_s"] - t_cache2)
    new_epochs = hist[done:]
    if new_epochs:
        result["layer3_images_per_sec"] = len(new_epochs) * n_train / sum(h["train_seconds"] for h in new_epochs)
    if out_dir is not None and hist and sd.is_main_process():
        save_curve(hist, out_dir / "rstdp_curve.png")
        (out_dir / "mozafari_result.json").write_text(json.dumps({"config": asdict(cfg), **result}, indent=1))
        result["figure_path"] = str(out_dir / "rstdp_curve.png")
    return result


def main(argv: Optional[List[str]] = None) -> Dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", default=None, help="torchvision root with MNIST/raw (default: shipped subset)")
    ap.add_argument("--out-dir", default="out/mozafari", help="checkpoints, curve and result (default: out/mozafari)")
    ap.add_argument("--train-limit", type=int, default=None, help="use only the first N training digits")
    ap.add_argument("--test-limit", type=int, default=None, help="use only the first N test digits")
    ap.add_argument("--epochs1", type=int, default=None, help="layer-1 STDP epochs (default 2)")
    ap.add_argument("--epochs2", type=int, default=None, help="layer-2 STDP epochs (default 4)")
    ap.add_argument("--epochs3", type=int, default=None,
                    help="layer-3 R-STDP epochs (default: 680 on full MNIST as the paper, 40 on the subset)")
    ap.add_argument("--patience", type=int, default=None,
                    help="stop layer 3 after N epochs without a better train hit rate (default 0: never)")
    ap.add_argument("--batch-size", type=int, default=None,
                    help="STDP mini-batch of layers 1-2 per process (default 1: exact in one process)")
    ap.add_argument("--rstdp-batch", type=int, default=None,
                    help="layer-3 R-STDP mini-batch per process (default 1: the paper's sequential rule in one "
                         "process; > 1, or any value under torchrun: updates summed against the same weights)")
    ap.add_argument("--device", default="cpu",
                    help="torch device (default cpu; e.g. cuda: under torchrun, one GPU per process, NCCL)")
    ap.add_argument("--decision-fire", choices=("last", "first"), default=None,
                    help="layer-3 firing: at the last step, SpykeTorch's recipe (default), or at the first positive "
                         "potential (earliest-spike winner)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    for name in ("batch_size", "rstdp_batch"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    with sd.process_group_from_env(args.device) as device:  # torchrun: gloo (CPU) or NCCL (CUDA) group
        return _main(args, device)


def _main(args: argparse.Namespace, device: torch.device) -> Dict:
    say = print if sd.is_main_process() else (lambda *a, **k: None)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = Config(seed=args.seed, epochs3=680 if args.data_root else 40, device=str(device))
    if args.decision_fire is not None:
        cfg.decision_fire = args.decision_fire
    for name in ("epochs1", "epochs2", "epochs3", "patience"):
        if getattr(args, name) is not None:
            setattr(cfg, name, getattr(args, name))
    if args.batch_size is not None:
        cfg.batch = args.batch_size
    if args.rstdp_batch is not None:
        cfg.rstdp_batch = args.rstdp_batch
    data = load_data(args.data_root)
    for split, limit in (("train", args.train_limit), ("test", args.test_limit)):
        if limit is not None:
            data[f"{split}_x"], data[f"{split}_y"] = data[f"{split}_x"][:limit], data[f"{split}_y"][:limit]
    say(f"data: {'MNIST at ' + args.data_root if args.data_root else 'shipped MNIST subset'} "
        f"({data['train_x'].shape[0]} train, {data['test_x'].shape[0]} test digits)")
    if sd.world_size() > 1:
        say(f"{sd.world_size()} processes on {device.type}: STDP batch {cfg.batch} and R-STDP batch {cfg.rstdp_batch} "
            f"per process ({cfg.batch * sd.world_size()} and {cfg.rstdp_batch * sd.world_size()} global)")
    res = run(cfg, data, Path(args.out_dir), progress=sd.is_main_process() and not args.no_progress)
    say("wall time: " + ", ".join(f"{k[:-2]} {v:.1f}s" for k, v in res.items() if k.endswith("_s")))
    say("training (all processes): " + ", ".join(
        f"layer {i} {res[f'layer{i}_images_per_sec']:.0f} images/s" for i in (1, 2, 3)
        if f"layer{i}_images_per_sec" in res))
    say(f"test accuracy: {100 * res['test_accuracy']:.2f}%")
    say(f"correct / wrong / silent: {100 * res['test_accuracy']:.2f}% / {100 * res['test_wrong']:.2f}% / "
        f"{100 * res['test_silent']:.2f}%")
    return res


if __name__ == "__main__":
    main()
