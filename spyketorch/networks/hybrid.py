r"""One convolutional SNN trained three ways: STDP, backpropagation through time, and both.

The network is the STDP network of :mod:`spyketorch.networks.blocks` (a stack of
:class:`~spyketorch.networks.blocks.NeuronConvBlock`: pad, convolution, a neuron layer,
max pooling) on intensity-to-latency coded digits (DoG on/off filters, local normalisation,
one spike per pixel in ``T`` steps, as the STDP demos), with a linear readout of the spike
counts of the last block:

.. math::
    I^{(l)}_t = g_l\,(W_l * S^{(l-1)}_t), \qquad
    S^{(l)}_t = \operatorname{maxpool}\big(\text{neuron}_l.\text{step}(I^{(l)}_t).\text{spikes} / a_l\big),
    \qquad y = A \sum_{t<T} S^{(L)}_t + b

(:math:`a_l` the spike amplitude of layer :math:`l`, so :math:`S^{(l)}_t \in \{0, 1\}`). The same
modules train three ways:

* :func:`train_stdp`: each convolution learns with STDP from its block's winners (k-WTA with
  an inhibition radius after pointwise inhibition; the rate schedule of the STDP demos),
  layer by layer, the input gain :math:`g_l` set beforehand by bisection so that as many
  neurons fire as in the accumulate-and-fire layer of the demo
  (:func:`calibrate`); then :func:`fit_readout` fits the readout (softmax regression) on the
  frozen spike counts;
* :func:`train_bptt`: every convolution and the readout learn by backpropagation through
  time, through the neuron layers' surrogate-gradient spikes (``surrogate=``), from a
  random start (a zero-mean draw, same calibration of the gains) or from the STDP weights;
* STDP then BPTT: :func:`train_stdp` and :func:`fit_readout`, then :func:`train_bptt` from there.

The BPTT pass is :meth:`HybridNet.forward`: the convolution of every block runs over all
``T`` steps in one call, the neuron layer is stepped ``T`` times with the graph recorded,
the pooling runs once over all steps.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import functional as sf
from ..coding.filters import DoGKernel, Filter
from ..coding.latency import Intensity2Latency
from ..layers import Convolution
from ..learning.stdp import STDP
from ..neurons import IF, MODELS, Neuron
from .blocks import NeuronConvBlock, StepNetwork, calibrate_gain, strict_threshold

__all__ = ["BlockSpec", "HybridConfig", "HybridNet", "encode", "step_spikes", "shift_times", "build", "calibrate",
           "train_stdp", "counts", "fit_readout", "train_bptt", "evaluate", "compare"]


@dataclass(frozen=True)
class BlockSpec:
    """One block: ``features`` maps of a ``kernel`` x ``kernel`` convolution of the input padded by
    ``padding``, a neuron layer of firing threshold ``threshold``, max pooling ``pool`` =
    ``(kernel, stride, padding)``; STDP learns from ``kwta`` winners with exclusion radius ``radius``
    at the rates ``lr_max`` (the top of the schedule).

    Example:
        >>> spec = BlockSpec(features=32, kernel=5, padding=2, threshold=10.0, kwta=5, radius=2)
        >>> spec.pool, spec.lr_max
        ((2, 2, 1), 0.15)
    """

    features: int
    kernel: int
    padding: int
    threshold: float
    kwta: int
    radius: int
    pool: Tuple[int, int, int] = (2, 2, 1)
    lr_max: float = 0.15


@dataclass(frozen=True)
class HybridConfig:
    """Every hyper-parameter of the network and of its three trainings.

    The defaults are the two STDP layers of Kheradpisheh et al. (2018) as the STDP demos
    set them (32 maps 5x5, threshold 10, k = 5, r = 2; 150 maps 2x2, threshold 1, k = 8,
    r = 1; pooling 2 stride 2 padding 1), with the LIF layer of :mod:`spyketorch.neurons`
    (each neuron keeps its own state: ``inhibition_mode="none"``; the k-WTA acts on STDP only).

    Example:
        >>> cfg = HybridConfig()
        >>> [(b.features, b.kernel, b.threshold) for b in cfg.blocks], cfg.neuron, cfg.surrogate
        ([(32, 5, 10.0), (150, 2, 1.0)], 'LIF', 'atan')
    """

    time_steps: int = 15
    dog: Tuple[Tuple[int, float, float], ...] = ((7, 1.0, 2.0), (7, 2.0, 1.0))
    dog_threshold: float = 50.0
    norm_radius: int = 8
    blocks: Tuple[BlockSpec, ...] = (BlockSpec(32, 5, 2, 10.0, 5, 2, lr_max=0.15),
                                     BlockSpec(150, 2, 1, 1.0, 8, 1, lr_max=0.05))
    neuron: str = "LIF"
    inhibition: str = "none"
    surrogate: str = "atan"
    #: the neuron layers' step backend (``"compiled"``: the step and its backward fused by inductor)
    backend: str = "compiled"
    #: surrogate ``alpha`` of each block, relative to its threshold: ``alpha = alpha_scale / threshold``
    alpha_scale: float = 2.0
    # STDP
    weight_mean: float = 0.8
    weight_std: float = 0.05
    stdp_lr: Tuple[float, float] = (0.004, -0.003)
    lr_every: int = 500
    stdp_images: Tuple[Optional[int], ...] = (None, None)  #: images each block learns from (None: all)
    stdp_batch: int = 16
    calib_images: int = 64
    calib_iters: int = 14
    # readout of the STDP features
    readout_l2: float = 1e-4
    readout_iters: int = 150
    # BPTT
    epochs: int = 4
    batch_size: int = 64
    lr: float = 2e-3
    lr_readout: float = 2e-3
    weight_decay: float = 0.0
    shift: int = 2  #: random shifts of up to this many pixels (training augmentation)
    seed: int = 0


# ---------------------------------------------------------------------------- data
def encode(images: Tensor, cfg: HybridConfig, batch: int = 2000) -> Tensor:
    """DoG on/off filtering, local normalisation and latency coding of raw 0..255 images
    ``[N, H, W]``: first-spike steps, uint8 ``[N, 2, H, W]`` (``T`` = never).

    Example:
        A one-block network of 4 maps on 8 random images:

        >>> cfg = HybridConfig(blocks=(BlockSpec(4, 5, 2, 10.0, 2, 1),), epochs=1, batch_size=4,
        ...                    calib_images=4, calib_iters=4, stdp_batch=4, readout_iters=5)
        >>> images = torch.randint(0, 256, (8, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
        >>> labels = torch.arange(8) % 10
        >>> times = encode(images, cfg)
        >>> times.shape, times.dtype, int(times.max())  # 15 = never
        (torch.Size([8, 2, 28, 28]), torch.uint8, 15)
    """
    filt = Filter([DoGKernel(*k) for k in cfg.dog], padding=cfg.dog[0][0] // 2, thresholds=cfg.dog_threshold)
    coder = Intensity2Latency(cfg.time_steps, batched=True)  # a last chunk of one image stays a batch
    out = []
    for i in range(0, images.shape[0], batch):
        x = filt(images[i : i + batch].float().unsqueeze(1))
        x = sf.local_normalization(x, cfg.norm_radius)
        out.append(coder.spike_times(x).to(torch.uint8))
    return torch.cat(out) if out else torch.zeros(0, 2, *images.shape[1:], dtype=torch.uint8)


def step_spikes(times: Tensor, time_steps: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """The spikes arriving at each step, ``[B, T, C, H, W]`` 0/1, of first-spike steps ``[B, C, H, W]``.

    Example:
        >>> times = torch.tensor([[[[0, 2]]]])  # one pixel firing at step 0, one at step 2
        >>> step_spikes(times, 3)[0, :, 0, 0].tolist()  # [T, W]
        [[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]]
    """
    steps = torch.arange(time_steps, device=times.device).view(1, time_steps, 1, 1, 1)
    return (times.long().unsqueeze(1) == steps).to(dtype)


def shift_times(times: Tensor, shift: int, generator: Optional[torch.Generator] = None) -> Tensor:
    """Each image of ``times`` ``[B, C, H, W]`` moved by its own random offset of at most
    ``shift`` pixels per axis (what enters the border never fires: step ``T`` = 255 here).

    Example:
        >>> times = torch.zeros(2, 1, 4, 4, dtype=torch.uint8)
        >>> shifted = shift_times(times, 1, torch.Generator().manual_seed(0))
        >>> shifted.shape, shifted.dtype
        (torch.Size([2, 1, 4, 4]), torch.uint8)
    """
    if shift <= 0:
        return times
    b, _, h, w = times.shape
    pad = F.pad(times, (shift, shift, shift, shift), value=255)
    off = torch.randint(0, 2 * shift + 1, (2, b), generator=generator)
    rows = (off[0].view(b, 1) + torch.arange(h).view(1, h)).to(times.device)  # [B, H]
    cols = (off[1].view(b, 1) + torch.arange(w).view(1, w)).to(times.device)  # [B, W]
    idx_r = rows.view(b, 1, h, 1).expand(b, pad.shape[1], h, pad.shape[3])
    out = pad.gather(2, idx_r)
    idx_c = cols.view(b, 1, 1, w).expand(b, pad.shape[1], h, w)
    return out.gather(3, idx_c)


# ---------------------------------------------------------------------------- the network
class HybridNet(nn.Module):
    r"""The blocks of a :class:`~spyketorch.networks.blocks.StepNetwork` and a linear readout of
    the spike counts of the last one, trainable by STDP (:attr:`stepnet`) and by BPTT
    (:meth:`forward`).

    Args:
        blocks: the blocks, first to last (their neuron layers need a ``surrogate`` for BPTT).
        in_shape: ``(C, H, W)`` of one input image.
        n_classes: readout outputs. Default: 10.

    Shape:
        input: first-spike steps ``[B, C, H, W]`` (``T`` or more: never); output ``[B, n_classes]``.

    Example:
        >>> from spyketorch.neurons import LIF
        >>> blk = NeuronConvBlock(Convolution(2, 4, 3), LIF(threshold=1.0, surrogate="atan"), pool=(2, 2, 0))
        >>> net = HybridNet([blk], (2, 8, 8), time_steps=5)
        >>> net(torch.randint(0, 6, (3, 2, 8, 8))).shape
        torch.Size([3, 10])
    """

    def __init__(self, blocks: Sequence[NeuronConvBlock], in_shape: Tuple[int, int, int], time_steps: int,
                 n_classes: int = 10) -> None:
        super().__init__()
        self.stepnet = StepNetwork(blocks)
        self.time_steps = int(time_steps)
        with torch.no_grad():
            n = self._counts_shape(in_shape)
        self.readout = nn.Linear(n, n_classes)

    @property
    def blocks(self) -> List[NeuronConvBlock]:
        return list(self.stepnet.blocks)

    def _counts_shape(self, in_shape: Tuple[int, int, int]) -> int:
        x = torch.zeros(1, 1, *in_shape)
        for blk in self.blocks:
            x = blk.pool_spikes(F.conv2d(blk.pad(x[0]), blk.conv.weight)).unsqueeze(0)
        return int(x[0].numel())

    def counts(self, times: Tensor) -> Tensor:
        """Spikes of the last block's pooled output summed over the ``T`` steps, ``[B, n]``,
        differentiable through every neuron layer with a surrogate (when grad is enabled)."""
        t_steps = self.time_steps
        b = times.shape[0]
        x = step_spikes(times, t_steps, self.readout.weight.dtype).transpose(0, 1)  # [T, B, C, H, W]
        h = x.reshape((t_steps * b,) + tuple(x.shape[2:]))
        for blk in self.blocks:
            pot = F.conv2d(blk.pad(h), blk.conv.weight)
            if blk.gain != 1.0:
                pot = pot * blk.gain
            layer = blk.neuron
            layer.reset()
            amp = layer.spike_amplitude
            pot = pot.view((t_steps, b) + tuple(pot.shape[1:]))
            # (unbind, not pot[t]: one backward for all steps instead of a zero-filled [T, ...] each)
            spikes = [layer.step(p, blk.kwta, thresholded=False, dudt=False, winners=False,
                                 winning_spikes=False).spikes for p in pot.unbind(0)]
            s = torch.stack(spikes)
            if amp != 1.0:
                s = s * (1.0 / amp)
            h = blk.pool_spikes(s.view((t_steps * b,) + tuple(s.shape[2:])))
            layer.reset()  # the graph stays with the spikes, not in the layer
        return h.view(t_steps, b, -1).sum(0)

    def forward(self, times: Tensor) -> Tensor:
        """Readout logits of first-spike steps ``times`` ``[B, C, H, W]``."""
        return self.readout(self.counts(times))

    def conv_parameters(self) -> List[nn.Parameter]:
        """The convolution weights (what STDP and BPTT both learn)."""
        return [blk.conv.weight for blk in self.blocks]


def _neuron(cfg: HybridConfig, spec: BlockSpec, seed: int) -> Neuron:
    layer = MODELS[cfg.neuron].build(spec.threshold, None, seed, spec.features)
    layer.inhibition_mode = cfg.inhibition
    layer.set_surrogate(cfg.surrogate, cfg.alpha_scale / spec.threshold)
    layer.backend = cfg.backend
    return layer


def build(cfg: HybridConfig, in_shape: Tuple[int, int, int] = (2, 28, 28), init: str = "stdp",
          seed: Optional[int] = None) -> HybridNet:
    """The network of ``cfg``: weights drawn as STDP starts them (``init="stdp"``: normal of mean
    ``weight_mean``, std ``weight_std``) or zero-mean for gradient training from scratch
    (``init="random"``: PyTorch's default convolution init, uniform in
    :math:`\\pm 1/\\sqrt{\\text{fan-in}}`); gains 1 until :func:`calibrate`.

    Example:
        >>> net = build(HybridConfig(), init="random")
        >>> len(net.blocks), [tuple(w.shape) for w in net.conv_parameters()]
        (2, [(32, 2, 5, 5), (150, 32, 2, 2)])
    """
    if init not in ("stdp", "random"):
        raise ValueError(f"init must be 'stdp' or 'random', got {init!r}")
    seed = cfg.seed if seed is None else seed
    torch.manual_seed(seed)
    blocks, c_in = [], in_shape[0]
    for spec in cfg.blocks:
        conv = Convolution(c_in, spec.features, spec.kernel, cfg.weight_mean, cfg.weight_std)
        if init == "random":
            with torch.no_grad():
                bound = 1.0 / math.sqrt(c_in * spec.kernel * spec.kernel)
                conv.weight.uniform_(-bound, bound)
        blocks.append(NeuronConvBlock(conv, _neuron(cfg, spec, seed), padding=spec.padding, pool=spec.pool,
                                      kwta=spec.kwta, inhibition_radius=spec.radius))
        c_in = spec.features
    return HybridNet(blocks, in_shape, cfg.time_steps)


# ---------------------------------------------------------------------------- STDP
@torch.no_grad()
def calibrate(net: HybridNet, times: Tensor, cfg: HybridConfig, index: int) -> float:
    """Set block ``index``'s gain so that as many of its neurons fire at least once as in the
    accumulate-and-fire network of the demos on ``times`` (an IF layer with unit gain and the
    strict threshold, no refractoriness, the same weights); returns the gain.

    Example:
        A one-block network of 4 maps on 8 random images:

        >>> cfg = HybridConfig(blocks=(BlockSpec(4, 5, 2, 10.0, 2, 1),), epochs=1, batch_size=4,
        ...                    calib_images=4, calib_iters=4, stdp_batch=4, readout_iters=5)
        >>> images = torch.randint(0, 256, (8, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
        >>> labels = torch.arange(8) % 10
        >>> times = encode(images, cfg)
        >>> net = build(cfg)
        >>> gain = calibrate(net, times[:4], cfg, 0)
        >>> gain == net.blocks[0].gain, gain > 1.0
        (True, True)
    """
    blocks = net.blocks[: index + 1]
    ref = StepNetwork([NeuronConvBlock(b.conv, IF(threshold=strict_threshold(s.threshold), ts=1.0, C=1.0,
                                                  refractory_timesteps=0), padding=b.padding, pool=b.pool)
                       for b, s in zip(blocks, cfg.blocks)])
    spikes = step_spikes(times, cfg.time_steps)
    target = float((ref.run(spikes)[index].post_times < cfg.time_steps).float().mean())
    return calibrate_gain(net.stepnet, index, spikes, min(max(target, 1e-3), 0.999), lo=1e-3, hi=1e5,
                          iters=cfg.calib_iters)


def _rates(stdp: STDP, seen: int, every: int, start: float, top: float) -> None:
    ap = min(start * 2 ** (seen // every), top) if top > start else start
    stdp.update_all_learning_rate(ap, -0.75 * ap)


@torch.no_grad()
def train_stdp(net: HybridNet, times: Tensor, cfg: HybridConfig, progress: Optional[Callable[[str], None]] = None
               ) -> Dict[str, float]:
    """Calibrate then train each block with STDP in turn on ``times`` (shuffled, mini-batches of
    ``cfg.stdp_batch``); the rate :math:`a^+` doubles every ``cfg.lr_every`` images up to the
    block's ``lr_max`` (:math:`a^- = -0.75 a^+`). Returns the gains and the time taken.

    Example:
        A one-block network of 4 maps on 8 random images:

        >>> cfg = HybridConfig(blocks=(BlockSpec(4, 5, 2, 10.0, 2, 1),), epochs=1, batch_size=4,
        ...                    calib_images=4, calib_iters=4, stdp_batch=4, readout_iters=5)
        >>> images = torch.randint(0, 256, (8, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
        >>> labels = torch.arange(8) % 10
        >>> times = encode(images, cfg)
        >>> net = build(cfg)
        >>> w0 = net.conv_parameters()[0].clone()
        >>> sorted(train_stdp(net, times, cfg))
        ['gain0', 'stdp_s']
        >>> bool((net.conv_parameters()[0] != w0).any())
        True
    """
    gen = torch.Generator().manual_seed(cfg.seed)
    out: Dict[str, float] = {}
    calib = times[torch.randperm(times.shape[0], generator=gen)[: cfg.calib_images]]
    t0 = time.perf_counter()
    for i, (blk, spec) in enumerate(zip(net.blocks, cfg.blocks)):
        out[f"gain{i}"] = calibrate(net, calib, cfg, i)
        stdp = STDP(blk.conv, cfg.stdp_lr)
        n = times.shape[0] if i >= len(cfg.stdp_images) or cfg.stdp_images[i] is None else min(
            cfg.stdp_images[i], times.shape[0])
        order = torch.randperm(times.shape[0], generator=gen)[:n]
        for j in range(0, n, cfg.stdp_batch):
            _rates(stdp, j, cfg.lr_every, cfg.stdp_lr[0], spec.lr_max)
            idx = order[j : j + cfg.stdp_batch]
            net.stepnet.stdp_step(step_spikes(times[idx], cfg.time_steps), i, stdp)
            if progress is not None and (j // cfg.stdp_batch) % 200 == 0:
                progress(f"STDP block {i}: {j}/{n} images")
        blk.track_values = True
    out["stdp_s"] = time.perf_counter() - t0
    return out


# ---------------------------------------------------------------------------- readout and BPTT
@torch.no_grad()
def counts(net: HybridNet, times: Tensor, batch: int = 256) -> Tensor:
    """Spike counts of the last block for every image (no graph), ``[N, n]``.

    Example:
        A one-block network of 4 maps on 8 random images:

        >>> cfg = HybridConfig(blocks=(BlockSpec(4, 5, 2, 10.0, 2, 1),), epochs=1, batch_size=4,
        ...                    calib_images=4, calib_iters=4, stdp_batch=4, readout_iters=5)
        >>> images = torch.randint(0, 256, (8, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
        >>> labels = torch.arange(8) % 10
        >>> times = encode(images, cfg)
        >>> counts(build(cfg), times).shape  # 4 maps x 15 x 15 pooled neurons
        torch.Size([8, 900])
    """
    return torch.cat([net.counts(times[i : i + batch]) for i in range(0, times.shape[0], batch)])


def fit_readout(net: HybridNet, features: Tensor, labels: Tensor, l2: float, iters: int) -> None:
    """Fit ``net.readout`` to frozen ``features`` (softmax regression, L2 ``l2`` on the weights,
    full-batch L-BFGS for ``iters`` iterations), starting from zero.

    Example:
        A one-block network of 4 maps on 8 random images:

        >>> cfg = HybridConfig(blocks=(BlockSpec(4, 5, 2, 10.0, 2, 1),), epochs=1, batch_size=4,
        ...                    calib_images=4, calib_iters=4, stdp_batch=4, readout_iters=5)
        >>> images = torch.randint(0, 256, (8, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
        >>> labels = torch.arange(8) % 10
        >>> times = encode(images, cfg)
        >>> net = build(cfg)
        >>> _ = train_stdp(net, times, cfg)
        >>> fit_readout(net, counts(net, times), labels, l2=1e-4, iters=5)
        >>> 0.0 <= evaluate(net, times, labels) <= 1.0
        True
    """
    lin = net.readout
    with torch.no_grad():
        lin.weight.zero_()
        lin.bias.zero_()
    opt = torch.optim.LBFGS(lin.parameters(), lr=1.0, max_iter=iters, history_size=20, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(lin(features), labels) + 0.5 * l2 * lin.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)


@torch.no_grad()
def evaluate(net: HybridNet, times: Tensor, labels: Tensor, batch: int = 256) -> float:
    """Accuracy of the readout on ``times``.

    Example:
        A one-block network of 4 maps on 8 random images:

        >>> cfg = HybridConfig(blocks=(BlockSpec(4, 5, 2, 10.0, 2, 1),), epochs=1, batch_size=4,
        ...                    calib_images=4, calib_iters=4, stdp_batch=4, readout_iters=5)
        >>> images = torch.randint(0, 256, (8, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
        >>> labels = torch.arange(8) % 10
        >>> times = encode(images, cfg)
        >>> net = build(cfg)
        >>> net(times[:2]).shape  # logits
        torch.Size([2, 10])
        >>> 0.0 <= evaluate(net, times, labels) <= 1.0
        True
    """
    correct = 0
    for i in range(0, times.shape[0], batch):
        correct += int((net(times[i : i + batch]).argmax(1) == labels[i : i + batch]).sum())
    return correct / max(times.shape[0], 1)


def train_bptt(net: HybridNet, times: Tensor, labels: Tensor, cfg: HybridConfig,
               test: Optional[Tuple[Tensor, Tensor]] = None,
               progress: Optional[Callable[[str], None]] = None) -> List[Dict[str, float]]:
    """Backpropagation through time of the cross-entropy of the readout through every block:
    Adam on the convolution weights (rate ``cfg.lr``) and the readout (``cfg.lr_readout``),
    cosine decay over ``cfg.epochs`` epochs of shuffled mini-batches, each image shifted by up
    to ``cfg.shift`` pixels. Returns per epoch the mean loss, training accuracy, wall time
    (and the accuracy on ``test``, when given).

    Example:
        A one-block network of 4 maps on 8 random images:

        >>> cfg = HybridConfig(blocks=(BlockSpec(4, 5, 2, 10.0, 2, 1),), epochs=1, batch_size=4,
        ...                    calib_images=4, calib_iters=4, stdp_batch=4, readout_iters=5)
        >>> images = torch.randint(0, 256, (8, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
        >>> labels = torch.arange(8) % 10
        >>> times = encode(images, cfg)
        >>> net = build(cfg, init="random")
        >>> _ = calibrate(net, times[:4], cfg, 0)
        >>> history = train_bptt(net, times, labels, cfg)
        >>> len(history), sorted(history[0])
        (1, ['epoch', 'loss', 'train_accuracy', 'wall_s'])
    """
    for w in net.conv_parameters():
        w.requires_grad_(True)
    opt = torch.optim.Adam([{"params": net.conv_parameters(), "lr": cfg.lr},
                            {"params": net.readout.parameters(), "lr": cfg.lr_readout}],
                           weight_decay=cfg.weight_decay)
    n = times.shape[0]
    steps = cfg.epochs * math.ceil(n / cfg.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s / steps, 1.0))))
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    history = []
    t0 = time.perf_counter()
    for epoch in range(cfg.epochs):
        order = torch.randperm(n, generator=gen)
        tot_loss, tot_ok = 0.0, 0
        for j in range(0, n, cfg.batch_size):
            idx = order[j : j + cfg.batch_size]
            x = shift_times(times[idx], cfg.shift, gen)
            logits = net(x)
            loss = F.cross_entropy(logits, labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot_loss += float(loss.detach()) * idx.numel()
            tot_ok += int((logits.argmax(1) == labels[idx]).sum())
            if progress is not None and (j // cfg.batch_size) % 100 == 0:
                progress(f"BPTT epoch {epoch + 1}: {j}/{n} images, loss {float(loss.detach()):.4f}")
        rec = {"epoch": epoch + 1, "loss": tot_loss / n, "train_accuracy": tot_ok / n,
               "wall_s": time.perf_counter() - t0}
        if test is not None:
            rec["test_accuracy"] = evaluate(net, *test)
        history.append(rec)
        if progress is not None:
            progress(f"epoch {epoch + 1}: " + ", ".join(f"{k} {v:.4g}" for k, v in rec.items() if k != "epoch"))
    for w in net.conv_parameters():
        w.requires_grad_(False)
    return history


# ---------------------------------------------------------------------------- the three trainings
def compare(cfg: HybridConfig, data: Dict[str, Tensor], which: Sequence[str] = ("stdp", "bptt", "stdp+bptt"),
            progress: Optional[Callable[[str], None]] = None) -> Dict[str, Dict[str, float]]:
    """Train the network of ``cfg`` each way of ``which`` on coded digits and score it.

    ``"stdp"``: STDP layer by layer, then the readout on the frozen spike counts; ``"bptt"``: the
    same architecture from a zero-mean start, every weight trained by BPTT; ``"stdp+bptt"``: the
    STDP network (trained once, shared with ``"stdp"``) fine-tuned by BPTT.

    Args:
        cfg: the network and the trainings.
        data: ``{"train_t", "train_y", "test_t", "test_y"}``: first-spike steps from :func:`encode`
            and labels, on the device to train on.
        which: the trainings to run. Default: all three.
        progress: called with a line of progress now and then. Default: None.

    Returns:
        per training: ``test_accuracy``, ``wall_s`` (and ``epochs``: the BPTT history).

    Example:
        A one-block network of 4 maps on 8 random images:

        >>> cfg = HybridConfig(blocks=(BlockSpec(4, 5, 2, 10.0, 2, 1),), epochs=1, batch_size=4,
        ...                    calib_images=4, calib_iters=4, stdp_batch=4, readout_iters=5)
        >>> images = torch.randint(0, 256, (8, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
        >>> labels = torch.arange(8) % 10
        >>> times = encode(images, cfg)
        >>> data = {"train_t": times, "train_y": labels, "test_t": times[:4], "test_y": labels[:4]}
        >>> result = compare(cfg, data, which=("stdp",))
        >>> sorted(result), sorted(result["stdp"])[:2]
        (['stdp'], ['test_accuracy', 'wall_s'])
    """
    unknown = set(which) - {"stdp", "bptt", "stdp+bptt"}
    if unknown:
        raise ValueError(f"which must name 'stdp', 'bptt' or 'stdp+bptt', got {sorted(unknown)}")
    dev = data["train_t"].device
    test = (data["test_t"], data["test_y"])
    out: Dict[str, Dict[str, float]] = {}
    if "stdp" in which or "stdp+bptt" in which:
        t0 = time.perf_counter()
        net = build(cfg, tuple(data["train_t"].shape[1:])).to(dev)
        train_stdp(net, data["train_t"], cfg, progress)
        fit_readout(net, counts(net, data["train_t"]), data["train_y"], cfg.readout_l2, cfg.readout_iters)
        stdp_s = time.perf_counter() - t0
        out["stdp"] = {"test_accuracy": evaluate(net, *test), "wall_s": stdp_s}
        if "stdp+bptt" in which:
            t0 = time.perf_counter()
            hist = train_bptt(net, data["train_t"], data["train_y"], cfg, test, progress)
            out["stdp+bptt"] = {"test_accuracy": evaluate(net, *test), "wall_s": stdp_s + time.perf_counter() - t0,
                                "epochs": hist}  # type: ignore[dict-item]
    if "bptt" in which:
        t0 = time.perf_counter()
        net = build(cfg, tuple(data["train_t"].shape[1:]), init="random").to(dev)
        for i in range(len(net.blocks)):  # the same gains as the STDP network would get
            calibrate(net, data["train_t"][: cfg.calib_images], cfg, i)
        hist = train_bptt(net, data["train_t"], data["train_y"], cfg, test, progress)
        out["bptt"] = {"test_accuracy": evaluate(net, *test), "wall_s": time.perf_counter() - t0,
                       "epochs": hist}  # type: ignore[dict-item]
    return {k: out[k] for k in which}
