r"""The STDP-trained convolutional network of Kheradpisheh et al. (2018) on MNIST, as library code.

Kheradpisheh, Ganjtabesh, Thorpe and Masquelier, "STDP-based spiking deep convolutional
neural networks for object recognition", *Neural Networks* 99:56-67 (2018). The digits
go through DoG on/off filters and intensity-to-latency coding (one spike per pixel, at
most ``T`` steps), two convolutional layers of non-leaky integrate-and-fire neurons that
fire at most once, each trained in turn with unsupervised STDP (k winners per image,
lateral inhibition), and a linear classifier trained on the last layer's output.

Two architectures (:data:`ARCHS`, :func:`arch_config`):

``"paper"``
    The paper's MNIST network as we read it: conv 30 maps 5x5 (threshold 15) -> max
    pooling 2x2 stride 2 -> conv 100 maps 5x5 (threshold 10) -> global max pooling of
    the layer-2 *potentials* (the readout sees, per map, the largest potential any of its
    neurons reaches over the whole presentation: 100 values) -> linear SVM.
``"spyketorch"``
    The variant of SpykeTorch's ``KheradpishehDeep.py``: conv 32 maps 5x5 (threshold 10,
    k = 5 winners, radius 2) -> pooling 2/2/1 -> conv 150 maps 2x2 (threshold 1, k = 8,
    radius 1) -> pooling 2/2/1; the readout sees the pooled layer-2 values (150 x 9 x 9).

**Readout.** ``readout_layers`` picks the layers whose features the classifier sees:
``(2,)`` is the last layer only, as in the paper; ``(1, 2)`` adds the pooled layer-1
spikes (an extension the paper does not use). ``readout_values`` is what a layer-2 unit
reports: ``"potential"`` (the largest final potential in its pooling window, the
potentials being those of the neurons without a firing threshold, i.e. the sum of the
weights of all inputs that spiked) or ``"spike"`` (1 if any neuron of the window fired).
The classifier is a linear SVM (one-vs-rest, squared hinge, as scikit-learn's
``LinearSVC``) or a softmax regression, on standardised features, trained by full-batch
L-BFGS. Its L2 penalty is chosen on a validation split of the *training* digits (never
on the test digits; :func:`validation_split`), then it is refitted on all training
digits with the chosen penalty.

**Convergence.** Each layer learns until its convergence index (paper, eq. 4)

.. math::
    C_l = \frac{1}{n_w} \sum_{f,i} w_{f,i} (1 - w_{f,i})

falls below ``convergence`` (0.01 in the paper; :func:`convergence_index`) or it has seen
its budget of digits (``epochs*`` and ``stdp_samples*``), whichever comes first; the
figure reached is reported. The STDP rule's stabiliser ``w(1 - w)`` pushes every weight
to 0 or 1, so ``C`` falls as the features settle.

**What we could not verify** against the paper's text (no copy was at hand; the
architecture above is the issue's reading of the paper's MNIST table, checked against
the reimplementations we could read, SpykeTorch's ``KheradpishehDeep.py`` and
Perez-Nieves' ``SDNN_python`` (Caltech setup, whose readout is the global maximum of the
last layer's potentials with an infinite threshold)): the padding of the convolutions
and of the pooling (we pad the convolutions to keep the map size, and do not pad the
2x2 pooling), the number of winners and the inhibition radius per layer (we use
SpykeTorch's k = 5, r = 2 and k = 8, r = 1), the STDP rates and their schedule (we use
SpykeTorch's: a+ = 0.004 doubling every 500 digits up to ``lr*_max``, a- = -0.75 a+),
whether the pooled layer-1 spikes are inhibited pointwise before layer 2 (we do, as
SpykeTorch does), the DoG sizes and the intensity threshold (SpykeTorch's 7x7, sigmas
1 and 2, threshold 50, local normalisation radius 8) and the SVM's penalty (chosen here
on a validation split).

**Speed.** The layers run in the latency domain (first-spike step and potential of
each neuron), which gives exactly what the spike-wave ops give (tested), every pass is
batched, the frozen parts are computed once (input coding, layer-1 output for layer-2
training, readout features), and STDP is applied to mini-batches (updates computed
against the same weights and summed, see :class:`spyketorch.snn.STDP`). Under
``torchrun`` the STDP updates are all-reduced and the coding and feature passes sharded
(:mod:`spyketorch.distributed`); the readout is fitted on every rank on the same
gathered features.

Example:
    >>> cfg = arch_config("paper")
    >>> net = KheradpishehNet(cfg)
    >>> times = encode(load_data()["test_x"][:2], cfg)
    >>> times.shape, net.readout_features(times, (2,)).shape
    (torch.Size([2, 2, 28, 28]), torch.Size([2, 100]))
    >>> ARCHS
    ('spyketorch', 'paper')
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .. import distributed as sd
from .. import functional as sf
from ..coding.data import load_mnist
from ..coding.filters import DoGKernel, Filter
from ..coding.latency import Intensity2Latency
from ..layers import Convolution
from ..learning.stdp import STDP

__all__ = ["ARCHS", "Config", "arch_config", "preset", "KheradpishehNet", "encode", "load_data", "convergence_index",
           "train_stdp_layer", "extract", "validation_split", "standardize", "train_readout", "fit_readout",
           "run", "layer1_feature_images", "save_feature_figure"]

#: the two architectures, see :func:`arch_config`
ARCHS = ("spyketorch", "paper")
PoolSpec = Optional[Tuple[int, int, int]]  # (kernel, stride, padding); None = global pooling


# ----------------------------------------------------------------------------
# configuration
# ----------------------------------------------------------------------------
@dataclass
class Config:
    """Hyper-parameters of the network and of the training recipe (defaults: the ``"spyketorch"`` variant).

    Args:
        arch: the architecture's name (informative; :func:`arch_config` fills the fields). Default: ``"spyketorch"``.
        time_steps: latency-coding steps ``T``. Default: ``15``.
        dog: DoG kernels ``(size, sigma1, sigma2)``. Default: on and off centre, 7x7, sigmas 1 and 2.
        dog_threshold: DoG output threshold. Default: ``50``.
        norm_radius: local normalisation radius. Default: ``8``.
        conv1_features, conv1_kernel, conv1_threshold, conv1_padding: layer 1. Default: 32, 5, 10, 2.
        k1, r1: layer-1 STDP winners and inhibition radius. Default: 5, 2.
        pool1: layer-1 pooling ``(kernel, stride, padding)``. Default: ``(2, 2, 1)``.
        conv2_features, conv2_kernel, conv2_threshold, conv2_padding: layer 2. Default: 150, 2, 1, 1.
        k2, r2: layer-2 STDP winners and inhibition radius. Default: 8, 1.
        pool2: layer-2 pooling for the readout, ``None`` for global max pooling. Default: ``(2, 2, 1)``.
        eval_inhibition: whether the layer-2 input is inhibited pointwise when the readout
            features are computed too (it always is during layer-2 STDP). Default: ``False``.
        weight_mean, weight_std: initial weights. Default: 0.8, 0.05.
        learning_rate: initial ``(a+, a-)``. Default: ``(0.004, -0.003)``.
        lr1_max, lr1_every: layer-1 a+ doubles every ``lr1_every`` digits up to ``lr1_max``. Default: 0.15, 500.
        lr2_max, lr2_every: the same for layer 2. Default: 0.05, 500.
        epochs1, epochs2: STDP epochs (the most each layer gets). Default: 1, 1.
        batch1, batch2: STDP mini-batches (per process). Default: 16, 16.
        stdp_samples1, stdp_samples2: cap of STDP digits per epoch. Default: ``None`` (all).
        convergence: stop a layer's STDP once its convergence index is below this; ``None``
            never stops early. Default: ``0.01``.
        readout_layers: layers whose features the classifier sees, ``(2,)`` or ``(1, 2)``. Default: ``(2,)``.
        readout_values: layer-2 readout values, ``"potential"`` or ``"spike"``. Default: ``"potential"``.
        readout: ``"svm"`` (linear, one-vs-rest squared hinge) or ``"softmax"``. Default: ``"svm"``.
        readout_penalties: L2 penalties tried on the validation split (the first one alone:
            no selection). Default: ``(1e-3, 1e-4, 1e-5)``.
        readout_validation: fraction of the training digits held out to choose the penalty. Default: ``1/6``.
        readout_iters: L-BFGS iterations of each fit. Default: ``150``.
        seed: seed of the weights, the STDP order and the validation split. Default: ``0``.

    Example:
        >>> cfg = Config()
        >>> cfg.arch, cfg.conv1_features, cfg.conv2_features, cfg.readout
        ('spyketorch', 32, 150, 'svm')
        >>> arch_config("paper").conv2_features
        100
    """

    arch: str = "spyketorch"
    time_steps: int = 15
    dog: Tuple[Tuple[int, float, float], ...] = ((7, 1.0, 2.0), (7, 2.0, 1.0))
    dog_threshold: float = 50.0
    norm_radius: int = 8
    conv1_features: int = 32
    conv1_kernel: int = 5
    conv1_threshold: float = 10.0
    conv1_padding: int = 2
    k1: int = 5
    r1: int = 2
    pool1: Tuple[int, int, int] = (2, 2, 1)
    conv2_features: int = 150
    conv2_kernel: int = 2
    conv2_threshold: float = 1.0
    conv2_padding: int = 1
    k2: int = 8
    r2: int = 1
    pool2: PoolSpec = (2, 2, 1)
    eval_inhibition: bool = False
    weight_mean: float = 0.8
    weight_std: float = 0.05
    learning_rate: Tuple[float, float] = (0.004, -0.003)
    lr1_max: float = 0.15
    lr1_every: int = 500
    lr2_max: float = 0.05
    lr2_every: int = 500
    epochs1: float = 1.0
    epochs2: float = 1.0
    batch1: int = 16
    batch2: int = 16
    stdp_samples1: Optional[int] = None
    stdp_samples2: Optional[int] = None
    convergence: Optional[float] = 0.01
    readout_layers: Tuple[int, ...] = (2,)
    readout_values: str = "potential"
    readout: str = "svm"
    readout_penalties: Tuple[float, ...] = (1e-3, 1e-4, 1e-5)
    readout_validation: float = 1 / 6
    readout_iters: int = 150
    seed: int = 0

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        self.readout_layers = tuple(int(v) for v in self.readout_layers)
        if not self.readout_layers or not set(self.readout_layers) <= {1, 2} or 2 not in self.readout_layers:
            raise ValueError(f"readout_layers must be (2,) or (1, 2), got {self.readout_layers}")
        if self.readout_values not in ("potential", "spike"):
            raise ValueError(f"readout_values must be 'potential' or 'spike', got {self.readout_values!r}")
        if self.readout not in ("svm", "softmax"):
            raise ValueError(f"readout must be 'svm' or 'softmax', got {self.readout!r}")
        if not self.readout_penalties or any(not (p >= 0 and math.isfinite(p)) for p in self.readout_penalties):
            raise ValueError(f"readout_penalties must be finite numbers >= 0, got {self.readout_penalties}")
        if not 0 <= self.readout_validation < 1:
            raise ValueError(f"readout_validation must be in [0, 1), got {self.readout_validation}")
        if self.convergence is not None and not self.convergence > 0:
            raise ValueError(f"convergence must be > 0 or None, got {self.convergence}")
        self.dog = tuple(tuple(k) for k in self.dog)
        self.learning_rate = tuple(self.learning_rate)
        self.pool1 = tuple(self.pool1)
        self.readout_penalties = tuple(self.readout_penalties)
        if self.pool2 is not None:
            self.pool2 = tuple(self.pool2)


# the paper's MNIST network (see the module docstring for what could not be verified)
_PAPER = dict(arch="paper", conv1_features=30, conv1_kernel=5, conv1_threshold=15.0, conv1_padding=2,
              pool1=(2, 2, 0), conv2_features=100, conv2_kernel=5, conv2_threshold=10.0, conv2_padding=2,
              pool2=None, eval_inhibition=True, readout_values="potential")


def arch_config(arch: str = "spyketorch", **overrides) -> Config:
    """The :class:`Config` of architecture ``arch`` (:data:`ARCHS`), with ``overrides``.

    Example:
        >>> c = arch_config("paper")
        >>> c.conv1_features, c.conv1_threshold, c.conv2_features, c.conv2_threshold, c.pool2
        (30, 15.0, 100, 10.0, None)
    """
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")
    base = dict(_PAPER) if arch == "paper" else {}
    base.update(overrides)
    return Config(**base)


def preset(arch: str = "spyketorch", full: bool = False, **overrides) -> Config:
    """The recipe the example runs: ``arch`` on the shipped subset, or on full MNIST (``full``).

    On the shipped subset (10,000 training digits) each layer gets one epoch at most; on
    full MNIST layer 1 gets at most 30,000 digits and layer 2 two epochs (layer 2 with a+
    capped at 0.02), both stopping earlier once converged.

    Example:
        >>> preset("spyketorch", full=True).epochs2
        2.0
    """
    settings: Dict[str, object] = dict(epochs1=1.0, epochs2=1.0)
    if full:
        settings.update(stdp_samples1=30000, epochs2=2.0, lr2_max=0.02)
    settings.update(overrides)
    return arch_config(arch, **settings)


# ----------------------------------------------------------------------------
# network
# ----------------------------------------------------------------------------
def _pool_out(size: int, spec: Tuple[int, int, int]) -> int:
    k, s, p = spec
    return (size + 2 * p - k) // s + 1


class KheradpishehNet(torch.nn.Module):
    """Two STDP convolutional layers; every pass takes first-spike steps ``[B, 2, 28, 28]`` (``T`` = no spike).

    Layer 2 sees the pooled layer-1 spikes with one feature per position (pointwise
    inhibition: the earliest, lowest index on ties), held in a compact form
    (:meth:`layer2_input`).

    Args:
        cfg: the hyper-parameters. Default: ``Config()`` (the ``"spyketorch"`` variant).

    Shape:
        - coded images: uint8 ``[B, 2, 28, 28]``;
        - :meth:`readout_features`: ``[B, D]`` float.

    Example:
        >>> net = KheradpishehNet(arch_config("spyketorch"))
        >>> net.conv1.weight.shape, net.conv2.weight.shape
        (torch.Size([32, 2, 5, 5]), torch.Size([150, 32, 2, 2]))
    """

    def __init__(self, cfg: Optional[Config] = None) -> None:
        super().__init__()
        cfg = Config() if cfg is None else cfg
        self.cfg = cfg
        self.conv1 = Convolution(2, cfg.conv1_features, cfg.conv1_kernel, cfg.weight_mean, cfg.weight_std)
        self.conv2 = Convolution(cfg.conv1_features, cfg.conv2_features, cfg.conv2_kernel, cfg.weight_mean,
                                 cfg.weight_std)
        self.stdp1 = STDP(self.conv1, cfg.learning_rate)
        self.stdp2 = STDP(self.conv2, cfg.learning_rate)

    # -- helpers on first-spike steps (T = never) -------------------------
    def _pad_times(self, t: torch.Tensor, p: int) -> torch.Tensor:
        return F.pad(t, (p, p, p, p), value=self.cfg.time_steps) if p else t

    def pool_times(self, t: torch.Tensor, spec: Tuple[int, int, int]) -> torch.Tensor:
        """Max pooling of a spike-wave = min pooling of its first-spike steps (padding never spikes)."""
        k, s, p = spec
        t = self._pad_times(t, p).float()
        return (-F.max_pool2d(-t, k, s)).to(torch.uint8)

    def _layer(self, conv: Convolution, in_times: torch.Tensor, threshold: float) -> Tuple[torch.Tensor, torch.Tensor]:
        pot = conv(sf.spike_wave(in_times, self.cfg.time_steps))
        return sf.first_spike(pot, threshold)

    # -- layer 1 -----------------------------------------------------------
    def layer1_input(self, times: torch.Tensor) -> torch.Tensor:
        """Padded coded images."""
        return self._pad_times(times, self.cfg.conv1_padding)

    def layer1(self, times: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Layer-1 first-spike steps and potentials of coded images ``[B, 2, 28, 28]``."""
        return self._layer(self.conv1, self.layer1_input(times), self.cfg.conv1_threshold)

    def layer1_pooled(self, times: torch.Tensor) -> torch.Tensor:
        """Pooled, padded layer-1 first-spike steps of coded images, uint8 ``[B, C1, H, W]`` (``T`` = silent).

        The padding (``conv2_padding``) is layer 2's; no inhibition across features.
        """
        t1, _ = self.layer1(times)
        return self._pad_times(self.pool_times(t1, self.cfg.pool1), self.cfg.conv2_padding)

    @staticmethod
    def compact(pooled: torch.Tensor) -> torch.Tensor:
        """Pointwise inhibition of :meth:`layer1_pooled`'s output, in compact form uint8 ``[B, 2, H, W]``.

        Channel 0: the first-spike step of each position (``T`` = silent); channel 1: the
        feature that spiked there (the earliest one, lowest index on ties).
        """
        t_min, ch = pooled.min(dim=1)
        return torch.stack((t_min, ch.to(torch.uint8)), dim=1)

    def layer2_input(self, times: torch.Tensor) -> torch.Tensor:
        """Layer-2 input: pooled, padded layer-1 spikes with one feature per position (:meth:`compact`)."""
        return self.compact(self.layer1_pooled(times))

    def dense_input(self, compact: torch.Tensor) -> torch.Tensor:
        """uint8 ``[B, C1, H, W]`` first-spike steps from :meth:`layer2_input`'s compact form."""
        b, _, h, w = compact.shape
        x = torch.full((b, self.cfg.conv1_features, h, w), self.cfg.time_steps, dtype=torch.uint8,
                       device=compact.device)
        return x.scatter_(1, compact[:, 1:2].long(), compact[:, 0:1])

    def layer2(self, compact: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Layer-2 first-spike steps and potentials ``[B, C2, H', W']``.

        With one input feature per position, each neuron sees at most ``kh*kw``
        input spikes, so its potential is a step function with that many steps:
        it is evaluated at those steps only (instead of a dense convolution at
        all ``T`` steps). Same values as ``first_spike(conv2(wave), threshold)``
        up to float rounding.
        """
        cfg = self.cfg
        t_steps = cfg.time_steps
        w = self.conv2.weight  # [F, C, kh, kw]
        kh, kw = self.conv2.kernel_size
        t_in, ch = compact[:, 0].long(), compact[:, 1].long()
        b, h, wd = t_in.shape
        ho, wo = h - kh + 1, wd - kw + 1
        ts, contribs = [], []
        for i in range(kh):
            for j in range(kw):
                t_ij = t_in[:, i : i + ho, j : j + wo]
                c_ij = ch[:, i : i + ho, j : j + wo]
                contrib = F.embedding(c_ij, w[:, :, i, j].t())  # [B, Ho, Wo, F]
                ts.append(t_ij)
                contribs.append(contrib * (t_ij < t_steps).unsqueeze(-1).to(contrib.dtype))
        t_ev = torch.stack(ts, dim=-1).reshape(-1, kh * kw)  # [N, K] event steps
        c_ev = torch.stack(contribs, dim=-2).reshape(-1, kh * kw, w.shape[0])  # [N, K, F]
        before = (t_ev.unsqueeze(1) <= t_ev.unsqueeze(2)).to(c_ev.dtype)  # [N, K(at), K(event)]
        pot = torch.bmm(before, c_ev)  # potential right after each event: [N, K, F]
        fires = (pot > cfg.conv2_threshold) & (t_ev < t_steps).unsqueeze(-1)
        t_fire = torch.where(fires, t_ev.unsqueeze(-1), torch.full_like(t_ev, t_steps).unsqueeze(-1))
        first, k = t_fire.min(dim=1)  # [N, F]
        val = pot.gather(1, k.unsqueeze(1)).squeeze(1) * (first < t_steps).to(pot.dtype)
        first = first.reshape(b, ho, wo, w.shape[0]).permute(0, 3, 1, 2).contiguous()
        val = val.reshape(b, ho, wo, w.shape[0]).permute(0, 3, 1, 2).contiguous()
        return first, val

    def layer2_dense(self, compact: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Reference path of :meth:`layer2`: dense convolution of the spike-wave at every step."""
        return self._layer(self.conv2, self.dense_input(compact), self.cfg.conv2_threshold)

    def layer2_potentials(self, pooled: torch.Tensor) -> torch.Tensor:
        """Final layer-2 potentials ``[B, C2, H', W']`` of :meth:`layer1_pooled`'s output.

        Non-leaky neurons with non-negative weights: the potential only grows, so the
        final one (the sum of the weights of every input that spiked) is also the largest,
        and a neuron fires at some step iff its final potential exceeds the threshold.
        With ``cfg.eval_inhibition`` the input is first inhibited pointwise (one feature
        per position, as during layer-2 training); otherwise every pooled layer-1 spike
        reaches layer 2 (SpykeTorch's evaluation).
        """
        if self.cfg.eval_inhibition:
            pooled = self.dense_input(self.compact(pooled))
        spiked = (pooled < self.cfg.time_steps).to(self.conv2.weight.dtype)
        return F.conv2d(spiked, self.conv2.weight)

    # -- readout features ---------------------------------------------------
    def _pool_values(self, v: torch.Tensor) -> torch.Tensor:
        spec = self.cfg.pool2
        if spec is None:  # global max pooling: one value per map
            return v.amax(dim=(2, 3))
        k, s, p = spec
        return F.max_pool2d(F.pad(v, (p, p, p, p)), k, s).flatten(1)  # values >= 0: zero padding is neutral

    def features_from_pooled(self, pooled: torch.Tensor) -> torch.Tensor:
        """Layer-2 readout features ``[B, D2]`` (float) of :meth:`layer1_pooled`'s output.

        ``cfg.readout_values``: ``"potential"``, the pooled final potentials; ``"spike"``,
        1 where a neuron of the pooling window fired.
        """
        pot = self.layer2_potentials(pooled)
        if self.cfg.readout_values == "spike":
            pot = (pot > self.cfg.conv2_threshold).to(pot.dtype)
        return self._pool_values(pot)

    def layer1_features_from_pooled(self, pooled: torch.Tensor) -> torch.Tensor:
        """Pooled layer-1 spikes ``[B, C1 * H1 * W1]`` in {0, 1} (uint8) from :meth:`layer1_pooled`'s output."""
        q = self.cfg.conv2_padding
        if q:
            pooled = pooled[..., q:-q, q:-q]
        return (pooled < self.cfg.time_steps).flatten(1).to(torch.uint8)

    def features(self, times: torch.Tensor) -> torch.Tensor:
        """Layer-2 readout features of coded images ``[B, D2]`` (float)."""
        return self.features_from_pooled(self.layer1_pooled(times))

    def layer1_features(self, times: torch.Tensor) -> torch.Tensor:
        """Pooled layer-1 spikes of coded images ``[B, C1 * H1 * W1]`` in {0, 1} (uint8)."""
        return self.layer1_features_from_pooled(self.layer1_pooled(times))

    def readout_features_from_pooled(self, pooled: torch.Tensor, layers: Sequence[int] = (2,)) -> torch.Tensor:
        """Features of the layers ``layers`` (``(2,)`` or ``(1, 2)``), concatenated ``[B, D]`` (float)."""
        layers = tuple(layers)
        if layers not in ((2,), (1, 2)):
            raise ValueError(f"layers must be (2,) or (1, 2), got {layers}")
        out = self.features_from_pooled(pooled)
        if 1 in layers:
            out = torch.cat([self.layer1_features_from_pooled(pooled).to(out.dtype), out], dim=1)
        return out

    def readout_features(self, times: torch.Tensor, layers: Sequence[int] = (2,)) -> torch.Tensor:
        """Features of the layers ``layers`` of coded images (:meth:`readout_features_from_pooled`)."""
        return self.readout_features_from_pooled(self.layer1_pooled(times), layers)

    def feature_sizes(self) -> Dict[int, int]:
        """Number of readout features of each layer, from the configuration."""
        cfg = self.cfg
        h1 = 28 + 2 * cfg.conv1_padding - cfg.conv1_kernel + 1
        p1 = _pool_out(h1, cfg.pool1)
        h2 = p1 + 2 * cfg.conv2_padding - cfg.conv2_kernel + 1
        d2 = cfg.conv2_features * (1 if cfg.pool2 is None else _pool_out(h2, cfg.pool2) ** 2)
        return {1: cfg.conv1_features * p1 * p1, 2: d2}

    # -- learning ----------------------------------------------------------
    def stdp_step1(self, times: torch.Tensor) -> None:
        """One layer-1 STDP update from a mini-batch of coded images."""
        x = self.layer1_input(times)
        t, v = self._layer(self.conv1, x, self.cfg.conv1_threshold)
        t, v = sf.pointwise_inhibition_times(t, v, self.cfg.time_steps)
        winners = sf.get_k_winners_times(t, v, self.cfg.time_steps, self.cfg.k1, self.cfg.r1, as_tensor=True)
        self.stdp1.forward_times(x, t, winners)

    def stdp_step2(self, compact: torch.Tensor) -> None:
        """One layer-2 STDP update from a mini-batch of :meth:`layer2_input` outputs."""
        t, v = self.layer2(compact)
        t, v = sf.pointwise_inhibition_times(t, v, self.cfg.time_steps)
        winners = sf.get_k_winners_times(t, v, self.cfg.time_steps, self.cfg.k2, self.cfg.r2, as_tensor=True)
        self.stdp2.forward_times(self.dense_input(compact), t, winners)


# ----------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------
def encode(images: torch.Tensor, cfg: Config, batch: int = 2000) -> torch.Tensor:
    """DoG on/off filtering, local normalisation and latency coding: uint8 steps ``[N, 2, 28, 28]``.

    Args:
        images: raw intensities (0..255) ``[N, 28, 28]``.
        cfg: the coding's settings (``dog``, ``dog_threshold``, ``norm_radius``, ``time_steps``).
        batch: images coded at once. Default: ``2000``.

    Example:
        >>> encode(load_data()["test_x"][:3], Config()).shape
        torch.Size([3, 2, 28, 28])
    """
    filt = Filter([DoGKernel(*k) for k in cfg.dog], padding=cfg.dog[0][0] // 2, thresholds=cfg.dog_threshold)
    coder = Intensity2Latency(cfg.time_steps, batched=True)  # a last chunk of one image stays a batch
    out = []
    for i in range(0, images.shape[0], batch):
        x = filt(images[i : i + batch].float().unsqueeze(1))  # raw 0..255 intensities
        x = sf.local_normalization(x, cfg.norm_radius)
        out.append(coder.spike_times(x).to(torch.uint8))
    if not out:
        return torch.zeros(0, 2, *images.shape[1:], dtype=torch.uint8)
    return torch.cat(out)


load_data = load_mnist  # the shipped subset, or full MNIST from a torchvision root


# ----------------------------------------------------------------------------
# STDP training
# ----------------------------------------------------------------------------
def convergence_index(weight: torch.Tensor) -> float:
    r"""The paper's convergence index of a layer: :math:`C = \frac{1}{n_w}\sum w (1 - w)`.

    0 when every weight is 0 or 1; 0.25 when all are 0.5; ``0.8 * 0.2 = 0.16`` at the
    initial weights 0.8.

    Example:
        >>> convergence_index(torch.tensor([0.0, 1.0, 0.5, 0.5]))
        0.125
    """
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"weight must be a torch.Tensor, got {type(weight).__name__}")
    if weight.numel() == 0:
        raise ValueError("weight must not be empty")
    w = weight.detach().double()
    return float((w * (1 - w)).mean())


def lr_schedule(stdp: STDP, seen: int, every: int, start: float, max_ap: float) -> None:
    """Set ``stdp``'s rates for the ``seen``-th digit: :math:`a^+` doubles every ``every`` digits
    from ``start`` up to ``max_ap`` (constant when ``max_ap <= start``); :math:`a^- = -0.75 a^+`."""
    ap = min(start * 2 ** (seen // every), max_ap) if max_ap > start else start
    stdp.update_all_learning_rate(ap, -0.75 * ap)


def train_stdp_layer(
    step: Callable[[torch.Tensor], None], data: torch.Tensor, epochs: float, batch: int, gen: torch.Generator,
    stdp: STDP, every: int, start: float, max_ap: float, desc: str = "STDP", progress: bool = False,
    cap: Optional[int] = None, convergence: Optional[float] = None,
) -> Dict[str, float]:
    """STDP on shuffled mini-batches until converged or out of digits.

    ``batch`` is per process (global batch = ``batch`` x world size): every rank draws
    the same order and walks the same global batches; it trains on its contiguous
    block of each (:func:`spyketorch.distributed.shard`) and the STDP rule sums the
    ranks' updates. A rank whose block is empty (short last batch) still joins the
    all-reduce with a zero update. With ``convergence``, training stops after the
    first global batch that leaves the layer's :func:`convergence_index` below it (the
    same on every rank: the weights are).

    Args:
        step: one STDP update from a mini-batch of ``data``.
        data: the layer's inputs ``[N, ...]``.
        epochs: passes over ``data`` (or over ``cap`` digits of it, redrawn every epoch).
        batch: mini-batch per process.
        gen: the order's generator.
        stdp: the layer's rule (its rates follow the schedule).
        every, start, max_ap: a+ starts at ``start`` and doubles every ``every`` global digits up to ``max_ap``.
        desc, progress: progress bar. Default: ``"STDP"``, ``False``.
        cap: digits per epoch. Default: ``None`` (all).
        convergence: stop once the convergence index is below this. Default: ``None``.

    Returns:
        ``{"images": digits seen, "convergence": index at the end, "converged": 0 or 1}``.

    Example:
        A step that only records the size of its mini-batches:

        >>> from spyketorch.layers import Convolution
        >>> stdp = STDP(Convolution(2, 4, 5), (0.004, -0.003))
        >>> sizes = []
        >>> info = train_stdp_layer(lambda batch: sizes.append(len(batch)), torch.zeros(10, 2, 8, 8), epochs=1,
        ...                         batch=4, gen=torch.Generator().manual_seed(0), stdp=stdp, every=500,
        ...                         start=0.004, max_ap=0.15)
        >>> sizes, info["images"]
        ([4, 4, 2], 10)
    """
    n = data.shape[0] if cap is None else min(cap, data.shape[0])
    total = int(round(epochs * n))
    order = torch.cat([torch.randperm(data.shape[0], generator=gen)[:n] for _ in range(max(1, math.ceil(epochs)))])[:total]
    global_batch = batch * sd.world_size()
    seen = 0
    weight = stdp.conv_layer.weight
    c = convergence_index(weight)
    with tqdm(total=total, desc=desc, disable=not progress, unit="img", leave=False) as bar:
        for i in range(0, total, global_batch):
            if convergence is not None and c < convergence:
                break
            lr_schedule(stdp, seen, every, start, max_ap)  # counts global digits
            idx = order[i : i + global_batch]
            local = idx[sd.shard(idx.numel())]
            step(data[local])  # an empty shard still joins the all-reduce with a zero update
            seen += idx.numel()
            bar.update(idx.numel())
            if convergence is not None:
                c = convergence_index(weight)
    c = convergence_index(weight)
    return {"images": seen, "convergence": c, "converged": float(convergence is not None and c < convergence)}


def extract(fn: Callable[[torch.Tensor], torch.Tensor], data: torch.Tensor, batch: int, desc: str = "",
            progress: bool = False) -> torch.Tensor:
    """``fn`` over ``data`` in chunks; under ``torchrun`` each rank does its block and all get the whole result.

    Example:
        >>> images = torch.arange(8.0).view(8, 1)
        >>> extract(lambda chunk: chunk * 2, images, batch=3).flatten().tolist()
        [0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0]
    """
    # ranks share out whole chunks of ``batch`` items, so every item is computed in the same chunk
    # as in one process: float features (potentials) then agree to the bit whatever the world size
    n_chunks = -(-data.shape[0] // batch)
    lo, hi = sd.shard_bounds(n_chunks)
    data = data[lo * batch : hi * batch]
    outs = []
    with torch.no_grad():  # an empty block (fewer chunks than ranks) still gives fn's empty result
        for i in tqdm(range(0, max(data.shape[0], 1), batch), desc=desc, disable=not progress, leave=False):
            outs.append(fn(data[i : i + batch]))
    return sd.all_gather_cat(torch.cat(outs))


# ----------------------------------------------------------------------------
# readout
# ----------------------------------------------------------------------------
def validation_split(n: int, fraction: float, seed: int = 0) -> Tuple[torch.Tensor, torch.Tensor]:
    """Disjoint (fit, validation) indices of ``n`` training items; ``round(fraction * n)`` in validation.

    Both index sets are sorted; together they are ``0 .. n-1``, each once.

    Example:
        >>> fit, val = validation_split(6, 1 / 3)
        >>> sorted(fit.tolist() + val.tolist()), val.numel()
        ([0, 1, 2, 3, 4, 5], 2)
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be an int >= 0, got {n!r}")
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    n_val = int(round(fraction * n))
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[n_val:].sort().values, perm[:n_val].sort().values


def standardize(train: torch.Tensor, *others: torch.Tensor, inplace: bool = False) -> List[torch.Tensor]:
    """Centre and scale every column by the training rows' mean and standard deviation (constant columns: 1).

    Args:
        train: the rows that set the statistics ``[N, D]`` (float).
        others: more ``[M, D]`` tensors to transform alike (e.g. the test features).
        inplace: overwrite the inputs instead of allocating new tensors. Default: ``False``.

    Example:
        >>> a, b = standardize(torch.tensor([[0.0, 5.0], [2.0, 5.0]]), torch.tensor([[1.0, 6.0]]))
        >>> a.tolist(), b.tolist()
        ([[-1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0]])
    """
    mean = train.mean(0)
    std = train.std(0, unbiased=False)
    std = torch.where(std > 1e-6, std, torch.ones_like(std))
    if inplace:
        return [x.sub_(mean).div_(std) for x in (train, *others)]
    return [(x - mean) / std for x in (train, *others)]


def _readout_loss(kind: str, scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if kind == "softmax":
        return F.cross_entropy(scores, y)
    sign = torch.full_like(scores, -1.0).scatter_(1, y.unsqueeze(1), 1.0)  # one-vs-rest targets
    return F.relu(1 - sign * scores).pow(2).sum(1).mean()  # squared hinge, as LinearSVC


def train_readout(x: torch.Tensor, y: torch.Tensor, l2: float, iters: int, kind: str = "softmax",
                  init: Optional[torch.nn.Linear] = None, progress: bool = False,
                  n_classes: int = 10) -> torch.nn.Linear:
    r"""A linear classifier by full-batch L-BFGS: softmax regression or linear SVM, L2-penalised.

    .. math::
        \min_{W, b}\ \frac{1}{N}\sum_n \ell(W x_n + b, y_n) + \frac{\lambda}{2}\lVert W\rVert^2

    with :math:`\ell` the cross-entropy (``"softmax"``) or the one-vs-rest squared
    hinge :math:`\sum_c \max(0, 1 - s_{nc} z_c)^2`, :math:`s_{nc} = \pm 1` (``"svm"``,
    the objective of scikit-learn's ``LinearSVC`` with ``C = 1 / (\lambda N)``).

    Args:
        x: features ``[N, D]`` (float).
        y: labels ``[N]`` (long).
        l2: :math:`\lambda`.
        iters: L-BFGS iterations.
        kind: ``"softmax"`` or ``"svm"``. Default: ``"softmax"``.
        init: start from this classifier's weights (warm start). Default: zeros.
        progress: progress bar. Default: ``False``.
        n_classes: number of classes. Default: ``10``.

    Example:
        >>> x = torch.tensor([[0.0], [1.0], [2.0], [3.0]]); y = torch.tensor([0, 0, 1, 1])
        >>> lin = train_readout(x, y, 1e-3, 50, "svm", n_classes=2)
        >>> lin(x).argmax(1).tolist()
        [0, 0, 1, 1]
    """
    if kind not in ("softmax", "svm"):
        raise ValueError(f"kind must be 'softmax' or 'svm', got {kind!r}")
    lin = torch.nn.Linear(x.shape[1], n_classes, device=x.device, dtype=x.dtype)
    with torch.no_grad():
        if init is None:
            lin.weight.zero_()
            lin.bias.zero_()
        else:
            lin.weight.copy_(init.weight)
            lin.bias.copy_(init.bias)
    opt = torch.optim.LBFGS(lin.parameters(), lr=1.0, max_iter=iters, history_size=20, line_search_fn="strong_wolfe")
    bar = tqdm(total=iters, desc=f"readout ({kind}, l2 {l2:g})", disable=not progress, leave=False)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = _readout_loss(kind, lin(x), y) + 0.5 * l2 * lin.weight.pow(2).sum()
        loss.backward()
        bar.update(1)
        return loss

    with torch.enable_grad():
        opt.step(closure)
    bar.close()
    return lin


def _accuracy(lin: torch.nn.Linear, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((lin(x).argmax(1) == y).float().mean()) if y.numel() else float("nan")


def fit_readout(x: torch.Tensor, y: torch.Tensor, penalties: Sequence[float], iters: int, kind: str = "svm",
                validation: float = 1 / 6, seed: int = 0, progress: bool = False
                ) -> Tuple[torch.nn.Linear, Dict[str, object]]:
    """Choose the L2 penalty on a validation split of ``(x, y)``, then refit on all of it.

    The penalties are fitted on the fit split in the order given, each warm-started from
    the previous solution (largest penalty first is fastest); the one with the best
    validation accuracy (the first on ties) is refitted on all rows, warm-started from
    its fit-split solution. With one penalty, or ``validation == 0``, there is no
    selection: one fit on all rows. Only ``(x, y)`` (training digits) are seen.

    Returns:
        the classifier and ``{"l2": chosen penalty, "validation": {penalty: accuracy}}``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> x, y = torch.randn(20, 5, generator=g), torch.arange(20) % 2
        >>> classifier, info = fit_readout(x, y, penalties=[1e-2, 1e-3], iters=10)
        >>> classifier.weight.shape, sorted(info), sorted(info["validation"])  # 10 classes
        (torch.Size([10, 5]), ['l2', 'validation'], [0.001, 0.01])
    """
    penalties = tuple(float(p) for p in penalties)
    fit_idx, val_idx = validation_split(x.shape[0], validation, seed)
    scores: Dict[float, float] = {}
    best, best_lin = penalties[0], None
    if len(penalties) > 1 and val_idx.numel() > 0:
        # one reordered copy (fit rows first): the fit and validation sets are views of it, and the
        # final fit on all rows uses it too (the row order does not matter to a full-batch fit)
        order = torch.cat([fit_idx, val_idx]).to(x.device)
        x, y = x[order], y[order]
        n_fit = fit_idx.numel()
        xf, yf, xv, yv = x[:n_fit], y[:n_fit], x[n_fit:], y[n_fit:]
        best_acc = -1.0
        lin = None
        for p in penalties:
            lin = train_readout(xf, yf, p, iters, kind, init=lin, progress=progress)
            scores[p] = _accuracy(lin, xv, yv)
            if scores[p] > best_acc:
                best, best_acc, best_lin = p, scores[p], lin
    lin = train_readout(x, y, best, iters, kind, init=best_lin, progress=progress)
    return lin, {"l2": best, "validation": scores}


# ----------------------------------------------------------------------------
# the whole recipe
# ----------------------------------------------------------------------------
def run(cfg: Config, data: Dict[str, torch.Tensor], out_dir: Optional[Path] = None, progress: bool = True,
        log: Optional[Callable[[str], None]] = None) -> Dict[str, object]:
    """Train the whole network on ``data`` and return the accuracies, convergence figures and timings.

    Args:
        cfg: the recipe.
        data: ``{"train_x", "train_y", "test_x", "test_y"}`` as :func:`load_data` gives.
        out_dir: rank 0 writes ``mnist_stdp.pt`` (configuration, weights, readout,
            result) and ``layer1_features.png`` there. Default: ``None`` (nothing written).
        progress: progress bars. Default: ``True``.
        log: called with one line per finished stage (e.g. ``print``). Default: silent.

    The test digits are used once, at the end, to score the readout.

    Example:
        A tiny run on 12 random images (readout: one penalty, 5 iterations):

        >>> images = torch.randint(0, 256, (12, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
        >>> labels = torch.arange(12) % 10
        >>> data = {"train_x": images, "train_y": labels, "test_x": images[:4], "test_y": labels[:4]}
        >>> result = run(arch_config("spyketorch", readout_iters=5, readout_penalties=(1e-3,)), data, progress=False)
        >>> 0.0 <= result["test_accuracy"] <= 1.0, result["layer1_images"]
        (True, 12)
    """
    say = log or (lambda s: None)
    t_start = time.perf_counter()
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    net = KheradpishehNet(cfg)
    timings: Dict[str, float] = {}

    t0 = time.perf_counter()
    train_t = extract(lambda x: encode(x, cfg), data["train_x"], 2000)
    test_t = extract(lambda x: encode(x, cfg), data["test_x"], 2000)
    timings["encode_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    lr0 = cfg.learning_rate[0]
    l1 = train_stdp_layer(net.stdp_step1, train_t, cfg.epochs1, cfg.batch1, gen, net.stdp1, cfg.lr1_every, lr0,
                          cfg.lr1_max, "layer 1 STDP", progress, cfg.stdp_samples1, cfg.convergence)
    timings["layer1_s"] = time.perf_counter() - t0
    say(f"layer 1: {l1['images']} digits, convergence index C = {l1['convergence']:.4f}"
        + ("" if cfg.convergence is None else f" ({'<' if l1['converged'] else '>='} {cfg.convergence:g})"))

    t0 = time.perf_counter()
    pooled = extract(net.layer1_pooled, train_t, 256, "layer 1 -> cache", progress)  # frozen layer 1, once
    l2_in = torch.cat([net.compact(pooled[i : i + 4096]) for i in range(0, pooled.shape[0], 4096)])
    l2 = train_stdp_layer(net.stdp_step2, l2_in, cfg.epochs2, cfg.batch2, gen, net.stdp2, cfg.lr2_every, lr0,
                          cfg.lr2_max, "layer 2 STDP", progress, cfg.stdp_samples2, cfg.convergence)
    del l2_in
    timings["layer2_s"] = time.perf_counter() - t0
    say(f"layer 2: {l2['images']} digits, convergence index C = {l2['convergence']:.4f}"
        + ("" if cfg.convergence is None else f" ({'<' if l2['converged'] else '>='} {cfg.convergence:g})"))

    t0 = time.perf_counter()
    layers = cfg.readout_layers
    f_train = extract(lambda x: net.readout_features_from_pooled(x, layers), pooled, 512, "features (train)", progress)
    del pooled
    f_test = extract(lambda x: net.readout_features(x, layers), test_t, 256, "features (test)", progress)
    timings["features_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    silent_test = float((f_test.abs().sum(1) == 0).float().mean())
    f_train, f_test = standardize(f_train, f_test, inplace=True)
    lin, chosen = fit_readout(f_train, data["train_y"], cfg.readout_penalties, cfg.readout_iters, cfg.readout,
                              cfg.readout_validation, cfg.seed, progress)
    train_acc = _accuracy(lin, f_train, data["train_y"])
    test_acc = _accuracy(lin, f_test, data["test_y"])
    timings["readout_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - t_start
    say(f"readout: {cfg.readout}, {f_train.shape[1]} features of layer(s) "
        f"{','.join(map(str, cfg.readout_layers))}, l2 {chosen['l2']:g} chosen on the validation split "
        + " ".join(f"[{p:g}: {100 * a:.2f}%]" for p, a in chosen["validation"].items()))

    result: Dict[str, object] = {
        "arch": cfg.arch, "readout_layers": list(cfg.readout_layers), "train_accuracy": train_acc,
        "test_accuracy": test_acc, "silent_test": silent_test, "readout_l2": chosen["l2"],
        "validation_accuracy": {str(k): v for k, v in chosen["validation"].items()},
        "n_features": int(f_train.shape[1]),
        "layer1_images": l1["images"], "layer2_images": l2["images"],
        "layer1_convergence": l1["convergence"], "layer2_convergence": l2["convergence"],
        "layer1_images_per_sec": l1["images"] / max(timings["layer1_s"], 1e-9),
        "layer2_images_per_sec": l2["images"] / max(timings["layer2_s"], 1e-9),
        "world_size": sd.world_size(), **timings}
    if out_dir is not None and sd.is_main_process():
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        torch.save({"config": asdict(cfg), "network": net.state_dict(), "readout": lin.state_dict(),
                    "result": result}, out_dir / "mnist_stdp.pt")
        save_feature_figure(net, cfg, out_dir / "layer1_features.png")
        result["weights_path"] = str(out_dir / "mnist_stdp.pt")
        result["figure_path"] = str(out_dir / "layer1_features.png")
    return result


def layer1_feature_images(net: KheradpishehNet, cfg: Config) -> torch.Tensor:
    """Layer-1 features back-projected through the DoG filters: ``[C1, k + 6, k + 6]``.

    Example:
        >>> cfg = Config()
        >>> layer1_feature_images(KheradpishehNet(cfg), cfg).shape  # 32 features, 5 + 6 pixels a side
        torch.Size([32, 11, 11])
    """
    dogs = torch.stack([DoGKernel(*k)() for k in cfg.dog]).unsqueeze(1)  # [2, 1, 7, 7]
    w = net.conv1.weight.detach()  # [C1, 2, k, k]
    return F.conv_transpose2d(w, dogs).squeeze(1)


def save_feature_figure(net: KheradpishehNet, cfg: Config, path: Path) -> None:
    """Save the layer-1 features (:func:`layer1_feature_images`) as a grid image.

    Example:
        >>> import tempfile
        >>> cfg = Config()
        >>> with tempfile.TemporaryDirectory() as d:
        ...     save_feature_figure(KheradpishehNet(cfg), cfg, Path(d) / "features.png")
        ...     (Path(d) / "features.png").exists()
        True
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    imgs = layer1_feature_images(net, cfg)
    n = imgs.shape[0]
    cols = 8
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.2, rows * 1.2))
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(imgs[i].numpy(), cmap="gray")
    fig.suptitle("Layer-1 STDP features (through the DoG filters)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
