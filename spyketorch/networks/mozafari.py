r"""Mozafari et al. (2019): STDP and reward-modulated STDP in a deep convolutional SNN.

"Bio-inspired digit recognition using reward-modulated spike-timing-dependent plasticity in
deep convolutional networks", Pattern Recognition 94:87-95. Three convolutional layers and
no external classifier: the decision is the class of the winning feature of layer 3 (20
features per digit), as in SpykeTorch's ``MozafariDeep.py``, the reference this recipe
follows step for step by default:

* input: six DoG filters (windows 3, 7, 13; on and off; threshold 50), local normalisation
  (radius 8), latency coding in ``T = 15`` steps with SpykeTorch's equal bins (every step
  gets :math:`\lfloor n/T \rfloor` values, the :math:`n \bmod T` weakest never fire:
  :class:`~spyketorch.coding.latency.Intensity2Latency` with ``binning="equal"``);
* layer 1: conv 30 (5x5, threshold 15), pointwise inhibition, 5 winners (radius 3), STDP;
  pool 2 (stride 2), pad 1. Layer 2: conv 250 (3x3, threshold 10), 8 winners (radius 1),
  STDP; pool 3 (stride 3), pad 2. STDP with the stabiliser, weights in [0, 1],
  :math:`a^+` from 0.004 doubling at every 500th image up to 0.15, :math:`a^- = -0.75 a^+`;
  2 and 4 epochs;
* layer 3 (:class:`~spyketorch.learning.decision.DecisionLayer`, ``fire="last"``): conv 200
  (5x5) without threshold, one winner, R-STDP (reward 0.004 / -0.003, punishment
  -0.004 / 0.0005, no stabiliser, weights clamped to [0.2, 0.8] as a whole), 680 epochs.
  The rates adapt after every 1,000 images from that chunk's outcome: the reward rates are
  scaled by its miss rate and the punishment rates by its hit rate (silence counts as
  neither); the first chunk trains at the raw rates;
* the training digits in their natural order for every layer and epoch (``order="shuffle"``
  draws a new order every epoch instead).

The layers work on first-spike steps (uint8, ``T`` = never fired): frozen layers are
computed once and cached, and on the CPU the per-image work runs in C
(:mod:`spyketorch._latency_native`): the layer-1/2 potentials event by event, their STDP
image after image with the same winners and float32 updates as the spike-wave ops, and the
decision layer's sequential R-STDP (exact, see :mod:`spyketorch.learning.decision`).

Not exact, by choice: ``batch > 1`` sums the layer-1/2 STDP updates of ``batch`` images
computed against the same weights; ``rstdp_batch > 1`` (or any run under ``torchrun``) uses
:meth:`~spyketorch.learning.decision.DecisionLayer.train_batch` for layer 3, the batched
variant of the paper's sequential rule. Under ``torchrun`` every rank walks the same global
batches and trains on its block of each; updates and counts are summed over the ranks.

Example:
    >>> cfg = MozafariConfig(epochs1=0, epochs2=0, epochs3=1)
    >>> net = MozafariNet(cfg)
    >>> x = encode(load_mnist()["test_x"][:4], cfg)
    >>> net.decide(net.layer3_input(net.layer2_input(x))).shape
    torch.Size([4])
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import _latency_native as _native
from .. import distributed as sd
from .. import functional as sf
from ..coding.data import load_mnist
from ..coding.filters import DoGKernel, Filter
from ..coding.latency import Intensity2Latency
from ..layers import Convolution
from ..learning.decision import DecisionLayer
from ..learning.stdp import STDP

__all__ = ["MozafariConfig", "MozafariNet", "encode", "train_stdp", "train_rstdp", "evaluate", "run",
           "best_train_epoch", "save_curve", "load_mnist"]


def _progress(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled, leave=False)


@dataclass
class MozafariConfig:
    """Hyper-parameters of the network and the recipe (defaults: the reference's).

    Args:
        time_steps: latency steps ``T``. Default: 15.
        dog: ``(window, sigma1, sigma2)`` of the six DoG filters.
        dog_threshold: DoG output threshold. Default: 50.
        norm_radius: local normalisation radius. Default: 8.
        latency_binning: ``"equal"`` (SpykeTorch's) or ``"spread"``
            (:class:`~spyketorch.coding.latency.Intensity2Latency`). Default: ``"equal"``.
        conv1, conv2: ``(features, kernel, threshold, winners, inhibition radius)``.
        conv3: ``(features, kernel)`` of the decision layer.
        learning_rate: initial layer-1/2 ``(a+, a-)``. Default: ``(0.004, -0.003)``.
        max_ap: cap of the doubling layer-1/2 ``a+``. Default: 0.15.
        lr_every: ``a+`` doubles at every ``lr_every``-th image of a layer. Default: 500.
        reward, punish: layer-3 ``(a+, a-)`` before adaptation.
        rate_every: layer-3 rates adapt after every ``rate_every`` images. Default: 1000.
        adaptive_min, adaptive_int: the reward rates are scaled by ``adaptive_min +
            adaptive_int * miss`` and the punishment rates by ``adaptive_min + adaptive_int *
            hit``. Default: 0 and 1 (the reference; Mozafari et al. 2018 used 0.2 and 0.8).
        dropout: probability that a layer-3 feature cannot win during a training epoch (drawn
            every epoch, as SpykeTorch's ``MozafariShallow.py`` for Mozafari et al. 2018).
            Default: 0.
        epochs1, epochs2, epochs3: epochs of the three layers. Default: 2, 4, 680.
        order: ``"natural"`` (the reference) or ``"shuffle"`` (a new order every epoch).
        patience: stop layer 3 after this many epochs without a better training hit
            rate (0: never). Default: 0.
        batch: layer-1/2 STDP mini-batch per process (1: image after image). Default: 1.
        rstdp_batch: layer-3 mini-batch per process (1 in one process: the sequential
            rule). Default: 1.
        seed: initial weights and shuffled orders. Default: 0.
        decision_fire: ``"last"`` (the reference) or ``"first"`` (earliest spike).
        device: torch device. Default: ``"cpu"``.

    Example:
        >>> cfg = MozafariConfig(epochs3=10)
        >>> cfg.time_steps, cfg.conv1, cfg.conv3, cfg.epochs3
        (15, (30, 5, 15.0, 5, 3), (200, 5), 10)
    """

    time_steps: int = 15
    dog: Tuple[Tuple[int, float, float], ...] = (
        (3, 3 / 9, 6 / 9), (3, 6 / 9, 3 / 9), (7, 7 / 9, 14 / 9), (7, 14 / 9, 7 / 9),
        (13, 13 / 9, 26 / 9), (13, 26 / 9, 13 / 9))
    dog_threshold: float = 50.0
    norm_radius: int = 8
    latency_binning: str = "equal"
    conv1: Tuple[int, int, float, int, int] = (30, 5, 15.0, 5, 3)
    conv2: Tuple[int, int, float, int, int] = (250, 3, 10.0, 8, 1)
    conv3: Tuple[int, int] = (200, 5)
    learning_rate: Tuple[float, float] = (0.004, -0.003)
    max_ap: float = 0.15
    lr_every: int = 500
    reward: Tuple[float, float] = (0.004, -0.003)
    punish: Tuple[float, float] = (-0.004, 0.0005)
    rate_every: int = 1000
    adaptive_min: float = 0.0
    adaptive_int: float = 1.0
    dropout: float = 0.0
    epochs1: int = 2
    epochs2: int = 4
    epochs3: int = 680
    order: str = "natural"
    patience: int = 0
    batch: int = 1
    rstdp_batch: int = 1
    seed: int = 0
    decision_fire: str = "last"
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.order not in ("natural", "shuffle"):
            raise ValueError(f"order must be 'natural' or 'shuffle', got {self.order!r}")
        for name in ("time_steps", "lr_every", "rate_every", "batch", "rstdp_batch"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        for name in ("epochs1", "epochs2", "epochs3", "patience"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be an int >= 0, got {v!r}")


# ----------------------------------------------------------------------------- network
class MozafariNet(nn.Module):
    """The three layers of Mozafari et al. 2019; every pass takes first-spike steps ``[B, C, H, W]``
    (uint8, ``T`` = never fired).

    Args:
        cfg: the configuration.

    Shape:
        ``layer2_input``: ``[B, 6, 28, 28]`` -> ``[B, 30, 16, 16]``; ``layer3_input``:
        ``[B, 30, 16, 16]`` -> ``[B, 250, 8, 8]``; ``decide``: ``[B, 250, 8, 8]`` -> ``[B]``
        (``-1`` = silent).

    Example:
        >>> cfg = MozafariConfig()
        >>> net = MozafariNet(cfg)
        >>> images = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
        >>> x3 = net.layer3_input(net.layer2_input(encode(images, cfg)))
        >>> x3.shape, net.decide(x3).shape
        (torch.Size([4, 250, 8, 8]), torch.Size([4]))
    """

    def __init__(self, cfg: MozafariConfig) -> None:
        super().__init__()
        self.cfg = cfg
        g = torch.Generator().manual_seed(cfg.seed)
        f1, k1 = cfg.conv1[:2]
        f2, k2 = cfg.conv2[:2]
        f3, k3 = cfg.conv3
        self.conv1 = Convolution(len(cfg.dog), f1, k1, 0.8, 0.05)
        self.conv2 = Convolution(f1, f2, k2, 0.8, 0.05)
        for conv in (self.conv1, self.conv2):
            conv.weight.data.normal_(0.8, 0.05, generator=g)
        self.stdp1 = STDP(self.conv1, cfg.learning_rate)
        self.stdp2 = STDP(self.conv2, cfg.learning_rate)
        if f3 % 10:
            raise ValueError(f"conv3 features must be a multiple of the 10 classes, got {f3}")
        dmap = [c for c in range(10) for _ in range(f3 // 10)]
        self.decision = DecisionLayer(f2, f3, k3, dmap, 0.8, 0.05, cfg.reward, cfg.punish, 0.2, 0.8, generator=g,
                                      fire=cfg.decision_fire)

    def _pad(self, t: Tensor, p: int) -> Tensor:
        return F.pad(t, (p, p, p, p), value=self.cfg.time_steps)

    @staticmethod
    def _min_pool(t: Tensor, k: int) -> Tensor:
        """Max pooling of a spike wave is min pooling of its first-spike steps."""
        return (-F.max_pool2d(-t.float(), k, k)).to(torch.uint8)

    def _native_ok(self, conv: Convolution, x: Tensor) -> bool:
        return _native.usable(conv.weight, x, time_steps=self.cfg.time_steps)

    def _layer(self, conv: Convolution, t_in: Tensor, threshold: float,
               values: bool = True) -> Tuple[Tensor, Optional[Tensor]]:
        """First-spike steps (uint8, ``T`` = never) and, when ``values``, the potentials then."""
        T = self.cfg.time_steps
        if self._native_ok(conv, t_in):
            return _native.forward(t_in, conv.weight, threshold, T, values=values)
        t, v = sf.first_spike(conv(sf.spike_wave(t_in, T)), threshold)
        return t.clamp(max=T).to(torch.uint8), v

    def layer1(self, times: Tensor) -> Tuple[Tensor, Tensor]:
        """Layer 1 (no inhibition): first-spike steps and potentials from the coded input."""
        return self._layer(self.conv1, self._pad(times, 2), self.cfg.conv1[2])

    def layer2_input(self, times: Tensor) -> Tensor:
        """Pooled, padded layer-1 steps: the input of layer 2."""
        t = self._layer(self.conv1, self._pad(times, 2), self.cfg.conv1[2], values=False)[0]
        return self._pad(self._min_pool(t, 2), 1)

    def layer2(self, x2: Tensor) -> Tuple[Tensor, Tensor]:
        """Layer 2 (no inhibition) from its input."""
        return self._layer(self.conv2, x2, self.cfg.conv2[2])

    def layer3_input(self, x2: Tensor) -> Tensor:
        """Pooled, padded layer-2 steps: the input of the decision layer."""
        t = self._layer(self.conv2, x2, self.cfg.conv2[2], values=False)[0]
        return self._pad(self._min_pool(t, 3), 2)

    def decide(self, x3: Tensor) -> Tensor:
        """Decisions ``[B]`` (``-1`` = silent) from layer-3 inputs."""
        return self.decision.decide(x3, self.cfg.time_steps)

    def _stdp_parts(self, layer: int) -> Tuple[Convolution, STDP, Tuple[int, int, float, int, int]]:
        if layer not in (1, 2):
            raise ValueError(f"layer must be 1 or 2, got {layer!r}")
        return (self.conv1, self.stdp1, self.cfg.conv1) if layer == 1 else (self.conv2, self.stdp2, self.cfg.conv2)

    def stdp_step(self, layer: int, x: Tensor) -> None:
        """One STDP update of layer 1 or 2 from its (padded) input steps ``x`` (a batch sums its
        images' updates, computed against the same weights)."""
        conv, stdp, (_, _, thr, k, r) = self._stdp_parts(layer)
        T = self.cfg.time_steps
        t, v = sf.first_spike(conv(sf.spike_wave(x, T)), thr)
        t, v = sf.pointwise_inhibition_times(t, v, T)
        winners = sf.get_k_winners_times(t, v, T, k, r, as_tensor=True)
        stdp.forward_times(x, t, winners)

    def stdp_sequence(self, layer: int, x: Tensor, order: Tensor, record: bool = False) -> Optional[Tensor]:
        """STDP of layer 1 or 2 over ``x[order]``, image after image, at the current rates.

        On the CPU it runs in C (same winners and float32 updates as :meth:`stdp_step` per
        image); elsewhere it calls :meth:`stdp_step` image by image. Returns the winners
        ``[n, k, 3]`` (``-1`` rows) when ``record`` (native path only; else ``None``).
        """
        conv, stdp, (_, _, thr, k, r) = self._stdp_parts(layer)
        w = conv.weight
        if self._native_ok(conv, x) and w.is_contiguous() and stdp.learning_rate.dtype == torch.float32:
            return _native.stdp(x, order, w.data, stdp.learning_rate, thr, self.cfg.time_steps, k, r,
                                stdp.use_stabilizer, stdp.lower_bound, stdp.upper_bound, record=record)
        for i in order.tolist():
            self.stdp_step(layer, x[i:i + 1])
        return None


# ----------------------------------------------------------------------------- data
def encode(images: Tensor, cfg: MozafariConfig, batch: int = 1000) -> Tensor:
    """DoG filtering, local normalisation, latency coding: uint8 first-spike steps ``[N, 6, 28, 28]``.

    Args:
        images: ``[N, 28, 28]`` intensities (0-255).
        cfg: the configuration (filters, normalisation radius, ``T``, binning).
        batch: images per filtering pass. Default: 1000.

    Example:
        >>> images = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
        >>> steps = encode(images, MozafariConfig())
        >>> steps.shape, steps.dtype, int(steps.max())  # 15 = never fired
        (torch.Size([4, 6, 28, 28]), torch.uint8, 15)
    """
    filt = Filter([DoGKernel(*k) for k in cfg.dog], padding=6, thresholds=cfg.dog_threshold)
    coder = Intensity2Latency(cfg.time_steps, binning=cfg.latency_binning, batched=True)
    out = []
    for i in range(0, images.shape[0], batch):
        x = sf.local_normalization(filt(images[i:i + batch].float().unsqueeze(1)), cfg.norm_radius)
        out.append(coder.spike_times(x).clamp(max=cfg.time_steps).to(torch.uint8))
    if not out:
        return torch.empty(0, len(cfg.dog), images.shape[-2], images.shape[-1], dtype=torch.uint8)
    return torch.cat(out)


def extract(fn: Callable[[Tensor], Tensor], data: Tensor, desc: str, progress: bool, batch: int = 500) -> Tensor:
    """``fn`` over ``data`` in chunks; under ``torchrun`` each rank does its block and all get the whole result."""
    if sd.world_size() > 1:
        data = data[sd.shard(data.shape[0])]
    with torch.no_grad(), _progress(max(data.shape[0], 1), desc, progress) as bar:
        parts = []
        for i in range(0, max(data.shape[0], 1), batch):  # an empty block still gives fn's empty result
            parts.append(fn(data[i:i + batch]))
            bar.update(min(batch, data.shape[0] - i))
        return sd.all_gather_cat(torch.cat(parts))


def _epoch_order(n: int, cfg: MozafariConfig, gen: torch.Generator) -> Tensor:
    return torch.arange(n) if cfg.order == "natural" else torch.randperm(n, generator=gen)


# ----------------------------------------------------------------------------- training
def _ap(cfg: MozafariConfig, seen: int) -> float:
    """Layer-1/2 ``a+`` of the image after ``seen`` others: doubled at every ``lr_every``-th image
    (the reference's counter doubles the rate on the 500th image itself), capped at ``max_ap``."""
    ap = cfg.learning_rate[0]
    for _ in range((seen + 1) // cfg.lr_every):  # as the reference: double, then cap, until it stays put
        nxt = min(ap * 2, cfg.max_ap)
        if nxt == ap:
            break
        ap = nxt
    return ap


def train_stdp(net: MozafariNet, layer: int, x: Tensor, epochs: int, gen: torch.Generator,
               progress: bool) -> None:
    """Unsupervised STDP of layer 1 or 2 on its input steps ``x`` for ``epochs`` epochs.

    ``a+`` follows :func:`_ap` over the images seen by this layer, ``a- = -0.75 a+``. With
    ``batch`` 1 in one process the images are learnt one after the other (in C on the CPU:
    :meth:`MozafariNet.stdp_sequence`); otherwise in global batches of ``batch`` x world size,
    each rank on its block (the updates summed over the ranks), at the rate of the batch's
    first image.

    Example:
        >>> cfg = MozafariConfig()
        >>> net = MozafariNet(cfg)
        >>> images = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
        >>> w0 = net.conv1.weight.clone()
        >>> train_stdp(net, 1, encode(images, cfg), 1, torch.Generator().manual_seed(0), False)
        >>> bool((net.conv1.weight != w0).any())
        True
    """
    cfg = net.cfg
    stdp = net.stdp1 if layer == 1 else net.stdp2
    seen = 0
    n = x.shape[0]
    global_batch = cfg.batch * sd.world_size()
    for epoch in range(epochs):
        order = _epoch_order(n, cfg, gen)
        with _progress(n, f"layer {layer} STDP, epoch {epoch + 1}/{epochs}", progress) as bar:
            if global_batch == 1:
                i = 0
                while i < n:  # segments of constant a+
                    ap = _ap(cfg, seen)
                    exponent = (seen + 1) // cfg.lr_every
                    settled = min(ap * 2, cfg.max_ap) == ap  # no later doubling changes it
                    nxt = n if settled else i + (exponent + 1) * cfg.lr_every - 1 - seen
                    j = min(n, nxt, i + 2000)  # a bounded piece: the progress bar moves
                    stdp.update_all_learning_rate(ap, -0.75 * ap)
                    net.stdp_sequence(layer, x, order[i:j])
                    seen += j - i
                    bar.update(j - i)
                    i = j
                continue
            for i in range(0, n, global_batch):
                ap = _ap(cfg, seen)  # global image count
                stdp.update_all_learning_rate(ap, -0.75 * ap)
                idx = order[i:i + global_batch]
                net.stdp_step(layer, x[idx[sd.shard(idx.numel())]])  # an empty block joins with a zero update
                seen += idx.numel()
                bar.update(idx.numel())


def evaluate(net: MozafariNet, x3: Tensor, y: Tensor) -> Tuple[float, float, float]:
    """Fractions of correct, wrong and silent decisions (under ``torchrun``: sharded, decisions gathered).

    Example:
        >>> cfg = MozafariConfig()
        >>> net = MozafariNet(cfg)
        >>> images = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
        >>> x3 = net.layer3_input(net.layer2_input(encode(images, cfg)))
        >>> correct, wrong, silent = evaluate(net, x3, torch.tensor([0, 1, 2, 3]))
        >>> round(correct + wrong + silent, 6)
        1.0
    """
    d = extract(net.decide, x3, "evaluate", False, 2000)
    y = y.to(d.device)
    silent = d < 0
    correct = (d == y) & ~silent
    n = float(max(y.numel(), 1))
    return correct.sum().item() / n, (~correct & ~silent).sum().item() / n, silent.sum().item() / n


def best_train_epoch(history: List[Dict]) -> Optional[Dict]:
    """The epoch with the highest training hit rate (the latest of equals, as the reference's ``<=``).

    Example:
        >>> history = [{"epoch": 1, "train": [0.5, 0.5, 0.0]}, {"epoch": 2, "train": [0.7, 0.3, 0.0]},
        ...            {"epoch": 3, "train": [0.7, 0.3, 0.0]}]
        >>> best_train_epoch(history)["epoch"]  # the latest of equals
        3
    """
    best = None
    for h in history:
        if best is None or h["train"][0] >= best["train"][0]:
            best = h
    return best


def train_rstdp(net: MozafariNet, x3: Tensor, y: Tensor, x3_test: Tensor, y_test: Tensor,
                gen: torch.Generator, progress: bool, state: Dict, ckpt: Optional[Path],
                on_epoch: Optional[Callable[[Dict], None]] = None,
                val: Optional[Tuple[Tensor, Tensor]] = None) -> Dict:
    """Layer-3 R-STDP epochs with the adaptive rates; returns ``state`` (resumable).

    The rates adapt after every ``rate_every`` images (a chunk, in the epoch's order): the
    reward rates are the configured ones times ``adaptive_min + adaptive_int * miss`` and the
    punishment rates times ``adaptive_min + adaptive_int * hit``, the miss and hit rates of
    the chunk before; the first chunk of a run trains at the configured rates. Global
    batch 1 (one process, ``rstdp_batch`` 1): the sequential rule
    (:meth:`~spyketorch.learning.decision.DecisionLayer.train_step`); otherwise batches of
    ``rstdp_batch`` x world size within each chunk, each rank on its block
    (:meth:`~spyketorch.learning.decision.DecisionLayer.train_batch`; no dropout there).
    Each epoch appends ``{"epoch", "train", "test", "seconds", "train_seconds"}`` (and
    ``"val"`` with a validation set ``val``) to ``state["history"]`` (fractions correct /
    wrong / silent), saved with the layer in ``ckpt``.

    Example:
        >>> cfg = MozafariConfig(epochs3=2)
        >>> net = MozafariNet(cfg)
        >>> images = torch.randint(0, 256, (8, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
        >>> labels = torch.arange(8) % 10
        >>> x3 = net.layer3_input(net.layer2_input(encode(images, cfg)))
        >>> state = train_rstdp(net, x3, labels, x3, labels, torch.Generator().manual_seed(0), False, {}, None)
        >>> len(state["history"]), sorted(state["history"][0])
        (2, ['epoch', 'seconds', 'test', 'train', 'train_seconds'])
    """
    cfg = net.cfg
    T = cfg.time_steps
    global_batch = cfg.rstdp_batch * sd.world_size()
    hist = state.setdefault("history", [])
    miss, hit = state.get("rate_scale", (None, None))  # None: the first chunk, at the configured rates
    if "generator" in state:  # a resumed run draws the orders it would have drawn without the stop
        gen.set_state(state["generator"])
    best, stale = state.get("best_train", -1.0), state.get("stale", 0)
    n = x3.shape[0]
    for epoch in range(len(hist), cfg.epochs3):
        if cfg.patience and stale >= cfg.patience:
            break
        t0 = time.perf_counter()
        order = _epoch_order(n, cfg, gen)
        dropped = (torch.rand(cfg.conv3[0], generator=gen) < cfg.dropout) if cfg.dropout > 0 else None
        stats = torch.zeros(3, dtype=torch.long, device=x3.device)
        with _progress(n, f"layer 3 R-STDP, epoch {epoch + 1}", progress) as bar:
            for c0 in range(0, n, cfg.rate_every):
                idx = order[c0:c0 + cfg.rate_every]
                r = 1.0 if miss is None else cfg.adaptive_min + cfg.adaptive_int * miss
                p = 1.0 if hit is None else cfg.adaptive_min + cfg.adaptive_int * hit
                net.decision.set_rates((cfg.reward[0] * r, cfg.reward[1] * r), (cfg.punish[0] * p, cfg.punish[1] * p))
                if global_batch == 1:  # the paper's rule: image after image
                    sel = slice(c0, c0 + idx.numel()) if cfg.order == "natural" else idx  # a view, not a copy
                    counts = net.decision.train_step(x3[sel], y[sel], T, dropped=dropped)
                else:                  # batched variant; this rank's block, summed over the ranks (counts too)
                    counts = torch.zeros(3, dtype=torch.long, device=x3.device)
                    for b0 in range(0, idx.numel(), global_batch):
                        batch = idx[b0:b0 + global_batch]
                        mine = batch[sd.shard(batch.numel())]
                        counts += net.decision.train_batch(x3[mine], y[mine], T)
                stats += counts
                hit, miss = (counts.double() / idx.numel())[:2].tolist()
                bar.update(idx.numel())
        tr = (stats.double() / max(n, 1)).tolist()
        train_seconds = time.perf_counter() - t0
        te = evaluate(net, x3_test, y_test)
        rec = {"epoch": epoch + 1, "train": tr, "test": list(te)}
        if val is not None:
            rec["val"] = list(evaluate(net, *val))
        rec.update(seconds=time.perf_counter() - t0, train_seconds=train_seconds)
        hist.append(rec)
        if tr[0] > best:
            best, stale = tr[0], 0
        else:
            stale += 1
        state.update(rate_scale=(miss, hit), best_train=best, stale=stale, generator=gen.get_state())
        if progress:
            v = f", validation {100 * rec['val'][0]:.2f}%" if val is not None else ""
            print(f"epoch {epoch + 1}: train {100 * tr[0]:.2f}% correct{v}, test {100 * te[0]:.2f}% "
                  f"(wrong {100 * te[1]:.2f}%, silent {100 * te[2]:.2f}%), {train_seconds:.1f}s", flush=True)
        if ckpt is not None and sd.is_main_process():
            tmp = ckpt.with_suffix(".tmp")
            torch.save({"decision": net.decision.state_dict(), "state": state}, tmp)
            tmp.replace(ckpt)  # a stop while saving keeps the previous checkpoint
            save_curve(hist, ckpt.parent / "rstdp_curve.png")  # a stopped run keeps its curve so far
        if on_epoch is not None:
            on_epoch(hist[-1])
    return state


def _resume(path: Optional[Path], device: torch.device) -> bool:
    """Whether to resume from checkpoint ``path``: it must be visible to every rank, or to none."""
    if path is None:
        return False
    seen = sd.all_reduce_sum_(torch.tensor([float(path.exists())], device=device))
    k = int(seen.item())
    if 0 < k < sd.world_size():
        raise RuntimeError(f"checkpoint {path} is visible to {k} of {sd.world_size()} processes: use an --out-dir "
                           "that every process sees (or an empty one)")
    return k > 0


def save_curve(hist: List[Dict], path: Path, title: str = "Mozafari et al. 2019: R-STDP learning curve") -> None:
    """Per-epoch training and test accuracy of layer 3 as a PNG; the best training epoch is marked.

    Example:
        >>> import tempfile
        >>> history = [{"epoch": 1, "train": [0.5, 0.5, 0.0], "test": [0.4, 0.6, 0.0]},
        ...            {"epoch": 2, "train": [0.7, 0.3, 0.0], "test": [0.6, 0.4, 0.0]}]
        >>> with tempfile.TemporaryDirectory() as d:
        ...     save_curve(history, Path(d) / "curve.png")
        ...     (Path(d) / "curve.png").exists()
        True
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [h["epoch"] for h in hist]
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    ax.plot(ep, [100 * h["train"][0] for h in hist], label="train (during R-STDP)")
    ax.plot(ep, [100 * h["test"][0] for h in hist], label="test")
    if hist and "val" in hist[0]:
        ax.plot(ep, [100 * h["val"][0] for h in hist], label="validation")
    b = best_train_epoch(hist)
    if b is not None:
        ax.plot([b["epoch"]], [100 * b["test"][0]], "o", color="C1",
                label=f"test at the best training epoch ({b['epoch']}): {100 * b['test'][0]:.2f}%")
    ax.set_xlabel("layer-3 epoch")
    ax.set_ylabel("correct decisions (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _save(path: Path, obj: Dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def _digest(*tensors: Tensor) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(str((tuple(t.shape), str(t.dtype))).encode())
        h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _cache_key(cfg: MozafariConfig, net: MozafariNet, data: Dict[str, Tensor]) -> Dict:
    """What the cached layer-3 inputs depend on: the coding, layers 1-2 and the images."""
    coding = {k: getattr(cfg, k) for k in ("time_steps", "dog", "dog_threshold", "norm_radius", "latency_binning",
                                           "conv1", "conv2")}
    return {"coding": json.loads(json.dumps(coding)), "layers": _digest(net.conv1.weight, net.conv2.weight),
            "images": _digest(*(data[k] for k in ("train_x", "test_x", "val_x") if k in data))}


def run(cfg: MozafariConfig, data: Dict[str, Tensor], out_dir: Optional[Path] = None, progress: bool = True,
        on_epoch: Optional[Callable[[Dict], None]] = None) -> Dict:
    """The whole recipe; resumes from the checkpoints in ``out_dir`` when they exist.

    Args:
        cfg: the configuration.
        data: ``{"train_x", "train_y", "test_x", "test_y"}`` (uint8 images, long labels; see
            :func:`~spyketorch.coding.data.load_mnist`), optionally ``"val_x", "val_y"``: a
            validation set evaluated after every layer-3 epoch (and the one to select on).
        out_dir: checkpoints ``layer1.pt``, ``layer2.pt``, ``layer3.pt``, the layer-3 inputs
            ``layer3_inputs.pt`` (one process only; a resumed run reuses them when layers 1-2,
            the coding and the images are the same), the curve ``rstdp_curve.png`` and
            ``mozafari_result.json``. Default: None (nothing saved).
        progress: progress bars and per-epoch lines. Default: True.
        on_epoch: called with each new layer-3 epoch's record. Default: None.

    Returns:
        The result: final test fractions, the history, the best training epoch and the test
        accuracy there (and the best validation epoch with a validation set), wall times and
        training throughputs (images per second).

    Example:
        A tiny run (1 + 1 + 2 epochs on 8 random images):

        >>> g = torch.Generator().manual_seed(0)
        >>> images = torch.randint(0, 256, (8, 28, 28), dtype=torch.uint8, generator=g)
        >>> labels = torch.arange(8) % 10
        >>> data = {"train_x": images, "train_y": labels, "test_x": images[:4], "test_y": labels[:4]}
        >>> res = run(MozafariConfig(epochs1=1, epochs2=1, epochs3=2), data, progress=False)
        >>> len(res["history"]), 0.0 <= res["test_accuracy"] <= 1.0
        (2, True)
    """
    t_start = time.perf_counter()
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    device = torch.device(cfg.device)
    net = MozafariNet(cfg).to(device)
    timings: Dict[str, float] = {}
    ck = {n: (out_dir / f"{n}.pt" if out_dir is not None else None) for n in ("layer1", "layer2", "layer3")}
    cache = out_dir / "layer3_inputs.pt" if out_dir is not None and sd.world_size() == 1 else None
    if out_dir is not None and sd.is_main_process():
        out_dir.mkdir(parents=True, exist_ok=True)
    n_train = data["train_x"].shape[0]
    y_train, y_test = data["train_y"].to(device), data["test_y"].to(device)
    has_val = "val_x" in data

    resume1, resume2 = _resume(ck["layer1"], device), _resume(ck["layer2"], device)
    trained1, trained2 = not resume1, not resume2
    cached = None
    if resume1 and resume2 and cache is not None and cache.exists():
        for name in ("layer1", "layer2"):  # the generator state of the later one is the one layer 3 starts from
            saved = torch.load(ck[name], map_location=device)
            getattr(net, "conv" + name[-1]).load_state_dict(saved["conv" + name[-1]])
            if "generator" in saved:
                gen.set_state(saved["generator"])
        blob = torch.load(cache, map_location=device)
        if blob.get("key") == _cache_key(cfg, net, data):
            cached = blob
    t_cache2 = 0.0
    if cached is not None:
        x3, x3_test, x3_val = cached["x3"], cached["x3_test"], cached.get("x3_val")
        for k in ("encode_s", "layer1_s", "layer2_s", "cache3_s"):
            timings[k] = 0.0
    else:
        t0 = time.perf_counter()
        code = lambda x: encode(x.to(device), cfg)  # noqa: E731
        train_t = extract(code, data["train_x"], "encode (train)", False, 1000)
        test_t = extract(code, data["test_x"], "encode (test)", False, 1000)
        val_t = extract(code, data["val_x"], "encode (validation)", False, 1000) if has_val else None
        timings["encode_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        if resume1:
            saved = torch.load(ck["layer1"], map_location=device)
            net.conv1.load_state_dict(saved["conv1"])
            if "generator" in saved:  # the orders of the later layers as in an uninterrupted run
                gen.set_state(saved["generator"])
        else:
            train_stdp(net, 1, net._pad(train_t, 2), cfg.epochs1, gen, progress)
            if ck["layer1"] is not None and sd.is_main_process():
                _save(ck["layer1"], {"conv1": net.conv1.state_dict(), "generator": gen.get_state()})
        timings["layer1_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        x2 = extract(net.layer2_input, train_t, "layer 1 -> cache", progress)
        t_cache2 = time.perf_counter() - t0
        if resume2:
            saved = torch.load(ck["layer2"], map_location=device)
            net.conv2.load_state_dict(saved["conv2"])
            if "generator" in saved:
                gen.set_state(saved["generator"])
        else:
            train_stdp(net, 2, x2, cfg.epochs2, gen, progress)
            if ck["layer2"] is not None and sd.is_main_process():
                _save(ck["layer2"], {"conv2": net.conv2.state_dict(), "generator": gen.get_state()})
        timings["layer2_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        x3 = extract(net.layer3_input, x2, "layer 2 -> cache", progress)
        del x2
        full = lambda t: net.layer3_input(net.layer2_input(t))  # noqa: E731
        x3_test = extract(full, test_t, "test -> cache", progress)
        x3_val = extract(full, val_t, "validation -> cache", progress) if has_val else None
        timings["cache3_s"] = time.perf_counter() - t0
        if cache is not None:
            blob = {"key": _cache_key(cfg, net, data), "x3": x3, "x3_test": x3_test}
            if has_val:
                blob["x3_val"] = x3_val
            _save(cache, blob)

    t0 = time.perf_counter()
    state: Dict = {}
    if _resume(ck["layer3"], device):
        saved = torch.load(ck["layer3"], weights_only=False, map_location=device)
        net.decision.load_state_dict(saved["decision"])
        state = saved["state"]
    done = len(state.get("history", []))
    val = (x3_val, data["val_y"].to(device)) if has_val else None
    state = train_rstdp(net, x3, y_train, x3_test, y_test, gen, progress, state, ck["layer3"], on_epoch, val)
    timings["layer3_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - t_start

    correct, wrong, silent = evaluate(net, x3_test, y_test)
    hist = state["history"]
    best = best_train_epoch(hist)
    result = {"test_accuracy": correct, "test_wrong": wrong, "test_silent": silent, "epochs3": len(hist),
              "best_train_epoch": best["epoch"] if best else None,
              "test_accuracy_at_best_train": best["test"][0] if best else None}
    if has_val and hist:
        bv = max(hist, key=lambda h: (h["val"][0], h["epoch"]))  # the latest of equals
        result.update(best_val_epoch=bv["epoch"], val_accuracy_at_best_val=bv["val"][0],
                      test_accuracy_at_best_val=bv["test"][0], val_accuracy=hist[-1]["val"][0])
    result.update(history=hist, world_size=sd.world_size(), **timings)
    # training throughput, global images per second (all processes); layer 2 without its layer-1 cache pass
    if trained1 and cached is None and cfg.epochs1 and timings["layer1_s"] > 0:
        result["layer1_images_per_sec"] = cfg.epochs1 * n_train / timings["layer1_s"]
    if trained2 and cached is None and cfg.epochs2 and timings["layer2_s"] > t_cache2:
        result["layer2_images_per_sec"] = cfg.epochs2 * n_train / (timings["layer2_s"] - t_cache2)
    new_epochs = hist[done:]
    if new_epochs:
        result["layer3_images_per_sec"] = len(new_epochs) * n_train / sum(h["train_seconds"] for h in new_epochs)
    if out_dir is not None and hist and sd.is_main_process():
        save_curve(hist, out_dir / "rstdp_curve.png")
        (out_dir / "mozafari_result.json").write_text(json.dumps({"config": asdict(cfg), **result}, indent=1))
        result["figure_path"] = str(out_dir / "rstdp_curve.png")
    return result
