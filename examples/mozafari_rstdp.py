"""Reward-modulated STDP on MNIST (Mozafari et al., 2019, Pattern Recognition 94:87-95).

Three convolutional layers, no external classifier: the decision is the class of the
earliest-spiking feature of layer 3 (20 features per digit).

Pipeline (the paper's, as SpykeTorch's MozafariDeep reimplements it):
six DoG filters (windows 3, 7, 13; on and off; threshold 50) -> local normalisation
(radius 8) -> latency coding (15 steps) -> conv 30 (5x5, threshold 15, k = 5, r = 3,
STDP) -> pool 2 (stride 2) + pad 1 -> conv 250 (3x3, threshold 10, k = 8, r = 1, STDP)
-> pool 3 (stride 3) + pad 2 -> conv 200 (5x5, fires when its potential is positive)
trained with reward (STDP 0.004/-0.003) and punishment (anti-STDP -0.004/0.0005), no
stabiliser, weights in [0.2, 0.8]. Layers 1 and 2: a+ doubles every 500 images up to
0.15, a- = -0.75 a+. Layer 3: the reward rates are scaled by the previous epoch's miss
rate and the punishment rates by its hit rate (the first epoch uses 0.9 and 0.1, the
figures of chance); silence counts as neither correct nor wrong.

What is exact and what is not (see also the README):

* exact: latency-domain layers (first-spike step and potential of each neuron, the
  same values as the spike-wave ops); frozen layers computed once and cached;
  batched evaluation; layer 3 computed from the inputs that fire at the earliest step
  (:class:`spyketorch.decision.DecisionLayer`: same winners and updates as the wave
  ops, sample after sample as in the reference);
* not exact, by choice: ``--batch-size B > 1`` sums the STDP updates of B images of
  layers 1-2 computed against the same weights (:class:`spyketorch.snn.STDP`); the
  default 1 applies them image after image like the reference; the layer-3 rates adapt
  once per epoch (the reference adapts them after every 1,000 images).

Usage::

    python examples/mozafari_rstdp.py                             # shipped subset
    python examples/mozafari_rstdp.py --data-root ../shared/data  # full MNIST recipe

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

import spyketorch.functional as sf
import spyketorch.snn as snn
import spyketorch.utils as su
from spyketorch.decision import DecisionLayer


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
    batch: int = 1
    seed: int = 0


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
        self.decision = DecisionLayer(f2, f3, k3, dmap, 0.8, 0.05, cfg.reward, cfg.punish, 0.2, 0.8, generator=g)

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
    coder = su.Intensity2Latency(cfg.time_steps)
    out = []
    for i in range(0, images.shape[0], batch):
        x = sf.local_normalization(filt(images[i:i + batch].float().unsqueeze(1)), cfg.norm_radius)
        out.append(coder.spike_times(x).clamp(max=cfg.time_steps).to(torch.uint8))
    return torch.cat(out)


load_data = su.load_mnist  # the shipped subset, or full MNIST from a torchvision root


def _batches(n: int, size: int):
    return range(0, n, size)


def extract(fn, data: torch.Tensor, desc: str, progress: bool, batch: int = 500) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([fn(data[i:i + batch]) for i in
                          tqdm(_batches(data.shape[0], batch), desc=desc, disable=not progress, leave=False)])


# ----------------------------------------------------------------------------- training
def train_stdp(net: MozafariNet, layer: int, x: torch.Tensor, epochs: int, gen: torch.Generator,
               progress: bool) -> None:
    """Unsupervised STDP of layer 1 or 2; a+ doubles every ``lr_every`` images up to ``max_ap``."""
    cfg = net.cfg
    stdp = net.stdp1 if layer == 1 else net.stdp2
    seen = 0
    for epoch in range(epochs):
        order = torch.randperm(x.shape[0], generator=gen)
        with tqdm(total=x.shape[0], desc=f"layer {layer} STDP, epoch {epoch + 1}/{epochs}",
                  disable=not progress, leave=False) as bar:
            for i in _batches(x.shape[0], cfg.batch):
                ap = min(cfg.learning_rate[0] * 2 ** (seen // cfg.lr_every), cfg.max_ap)
                stdp.update_all_learning_rate(ap, -0.75 * ap)
                idx = order[i:i + cfg.batch]
                net.stdp_step(layer, x[idx])
                seen += idx.numel()
                bar.update(idx.numel())


def evaluate(net: MozafariNet, x3: torch.Tensor, y: torch.Tensor) -> Tuple[float, float, float]:
    """Fractions of correct, wrong and silent decisions."""
    d = torch.cat([net.decision.decide(x3[i:i + 1000], net.cfg.time_steps) for i in _batches(x3.shape[0], 1000)])
    silent = d < 0
    correct = (d == y) & ~silent
    n = float(y.numel())
    return correct.sum().item() / n, (~correct & ~silent).sum().item() / n, silent.sum().item() / n


def train_rstdp(net: MozafariNet, x3: torch.Tensor, y: torch.Tensor, x3_test: torch.Tensor, y_test: torch.Tensor,
                gen: torch.Generator, progress: bool, state: Dict, ckpt: Optional[Path]) -> Dict:
    """Layer-3 R-STDP epochs with adaptive rates; returns the history (resumable via ``state``)."""
    cfg = net.cfg
    hist = state.setdefault("history", [])
    miss, hit = state.get("last_rates", (0.9, 0.1))
    best, stale = state.get("best_train", -1.0), state.get("stale", 0)
    for epoch in range(len(hist), cfg.epochs3):
        if cfg.patience and stale >= cfg.patience:
            break
        t0 = time.perf_counter()
        net.decision.set_rates((cfg.reward[0] * miss, cfg.reward[1] * miss), (cfg.punish[0] * hit, cfg.punish[1] * hit))
        order = torch.randperm(x3.shape[0], generator=gen)
        stats = torch.zeros(3, dtype=torch.long)
        for i in tqdm(_batches(x3.shape[0], 1000), desc=f"layer 3 R-STDP, epoch {epoch + 1}", disable=not progress,
                      leave=False):
            idx = order[i:i + 1000]
            stats += net.decision.train_step(x3[idx], y[idx], cfg.time_steps)
        tr = (stats.double() / x3.shape[0]).tolist()
        te = evaluate(net, x3_test, y_test)
        hit, miss = tr[0], tr[1]
        hist.append({"epoch": epoch + 1, "train": tr, "test": list(te), "seconds": time.perf_counter() - t0})
        if tr[0] > best:
            best, stale = tr[0], 0
        else:
            stale += 1
        state.update(last_rates=(miss, hit), best_train=best, stale=stale)
        if progress:
            print(f"epoch {epoch + 1}: train {100 * tr[0]:.2f}% correct, test {100 * te[0]:.2f}% "
                  f"(wrong {100 * te[1]:.2f}%, silent {100 * te[2]:.2f}%)")
        if ckpt is not None:
            torch.save({"decision": net.decision.state_dict(), "state": state}, ckpt)
    return state


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
    net = MozafariNet(cfg)
    timings: Dict[str, float] = {}
    ck = {n: (out_dir / f"{n}.pt" if out_dir is not None else None) for n in ("layer1", "layer2", "layer3")}
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    train_t, test_t = encode(data["train_x"], cfg), encode(data["test_x"], cfg)
    timings["encode_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if ck["layer1"] is not None and ck["layer1"].exists():
        net.conv1.load_state_dict(torch.load(ck["layer1"])["conv1"])
    else:
        train_stdp(net, 1, net._pad(train_t, 2), cfg.epochs1, gen, progress)
        if ck["layer1"] is not None:
            torch.save({"conv1": net.conv1.state_dict()}, ck["layer1"])
    timings["layer1_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    x2 = extract(net.layer2_input, train_t, "layer 1 -> cache", progress)
    if ck["layer2"] is not None and ck["layer2"].exists():
        net.conv2.load_state_dict(torch.load(ck["layer2"])["conv2"])
    else:
        train_stdp(net, 2, x2, cfg.epochs2, gen, progress)
        if ck["layer2"] is not None:
            torch.save({"conv2": net.conv2.state_dict()}, ck["layer2"])
    timings["layer2_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    x3 = extract(net.layer3_input, x2, "layer 2 -> cache", progress)
    del x2
    x3_test = extract(lambda t: net.layer3_input(net.layer2_input(t)), test_t, "test -> cache", progress)
    state: Dict = {}
    if ck["layer3"] is not None and ck["layer3"].exists():
        saved = torch.load(ck["layer3"], weights_only=False)
        net.decision.load_state_dict(saved["decision"])
        state = saved["state"]
    state = train_rstdp(net, x3, data["train_y"], x3_test, data["test_y"], gen, progress, state, ck["layer3"])
    timings["layer3_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - t_start

    correct, wrong, silent = evaluate(net, x3_test, data["test_y"])
    hist = state["history"]
    result = {"test_accuracy": correct, "test_wrong": wrong, "test_silent": silent, "epochs3": len(hist),
              "history": hist, **timings}
    if out_dir is not None and hist:
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
    ap.add_argument("--batch-size", type=int, default=None, help="STDP mini-batch of layers 1-2 (default 1: exact)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = Config(seed=args.seed, epochs3=680 if args.data_root else 40)
    for name in ("epochs1", "epochs2", "epochs3", "patience"):
        if getattr(args, name) is not None:
            setattr(cfg, name, getattr(args, name))
    if args.batch_size is not None:
        cfg.batch = args.batch_size
    data = load_data(args.data_root)
    for split, limit in (("train", args.train_limit), ("test", args.test_limit)):
        if limit is not None:
            data[f"{split}_x"], data[f"{split}_y"] = data[f"{split}_x"][:limit], data[f"{split}_y"][:limit]
    print(f"data: {'MNIST at ' + args.data_root if args.data_root else 'shipped MNIST subset'} "
          f"({data['train_x'].shape[0]} train, {data['test_x'].shape[0]} test digits)")
    res = run(cfg, data, Path(args.out_dir), progress=not args.no_progress)
    print("wall time: " + ", ".join(f"{k[:-2]} {v:.1f}s" for k, v in res.items() if k.endswith("_s")))
    print(f"test accuracy: {100 * res['test_accuracy']:.2f}%")
    print(f"correct / wrong / silent: {100 * res['test_accuracy']:.2f}% / {100 * res['test_wrong']:.2f}% / "
          f"{100 * res['test_silent']:.2f}%")
    return res


if __name__ == "__main__":
    main()
