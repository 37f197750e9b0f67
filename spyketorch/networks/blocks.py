r"""Convolutional STDP networks built from the stateful neuron layers, stepped one time step at a time.

A :class:`NeuronConvBlock` is ``pad -> Convolution -> neuron layer -> pooling``. At every
time step it receives the spikes that arrive at that step (``[B, C_in, H, W]``, 0/1),
convolves them, hands the potentials to its neuron layer with
:meth:`~spyketorch.neurons.Neuron.step` (the structured call) and pools the spikes for the
next block. While stepping it keeps, on the input's device and with no host sync:

* the pre-synaptic first-spike step of every input neuron,
* the post-synaptic first-spike step of every neuron and its (pre-reset) potential then,
* the number of spikes per sample.

After a presentation the winners of each block come from one k-winners-take-all,
:func:`spyketorch.functional.get_k_winners_times` (earliest first spike, then the largest
potential at that step, then the lowest flat index; feature exclusion and an optional
inhibition radius), optionally after :func:`~spyketorch.functional.pointwise_inhibition_times`.
They feed :meth:`spyketorch.snn.STDP.forward_times` or :func:`rstdp_update`.

**The two worlds are one.** The potential of an accumulate-and-fire layer
(``functional.fire`` on the convolution of an accumulating spike-wave) is
:math:`V_t = \sum_{s \le t} W * \Delta S_s`, where :math:`\Delta S_s` are the input spikes
arriving at step :math:`s`. An :class:`~spyketorch.neurons.IF` layer with unit gain
(``ts / C = 1``), no refractoriness, stepped on :math:`W * \Delta S_t` holds the same
potential until its first spike, so first-spike steps, potentials then, winners and STDP
updates coincide. ``fire`` is strict (:math:`V > \theta`) and the layers fire at
:math:`u \ge \theta`; :func:`strict_threshold` gives the matching threshold.

**Two ways to run a block, same results.** :meth:`NeuronConvBlock.begin` then one
:meth:`NeuronConvBlock.step` per time step, for users who step the layers in their own loop;
or :meth:`NeuronConvBlock.present` (what :meth:`StepNetwork.run` uses): in a feed-forward
network the weights are constant during a presentation and the samples independent, so a
block takes its batch in chunks of images (cache-sized on the CPU, see ``chunk``), convolves
all ``T`` steps of a chunk in one call, runs its neuron layer over the whole presentation in
one :meth:`~spyketorch.neurons.Neuron.run` and pools the spikes of all steps in one call for
the next block (the last block only min-pools its first-spike steps). Tests check that both
give identical records.

Per-sample reset: every presentation (:meth:`StepNetwork.run`) starts by resetting every
neuron layer and tracker, so each sample of a batch starts from rest.

Example:
    >>> from spyketorch.networks.blocks import CPU_CONV_ELEMENTS, NeuronConvBlock
    >>> from spyketorch.layers import Convolution
    >>> block = NeuronConvBlock(Convolution(2, 4, 3), LIF(threshold=1.0))
    >>> block.chunk is None, CPU_CONV_ELEMENTS  # None: chunks of about CPU_CONV_ELEMENTS potentials on the CPU
    (True, 4194304)
"""
from __future__ import annotations

import math
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import _validation as V
from .. import functional as sf
from ..layers import Convolution
from ..learning.stdp import RSTDP, STDP
from ..neurons import Neuron

#: potentials per chunk of images (all their time steps) on the CPU when ``NeuronConvBlock.chunk`` is ``None``
CPU_CONV_ELEMENTS = 2 ** 22

__all__ = ["BlockRecord", "CPU_CONV_ELEMENTS", "NeuronConvBlock", "StepNetwork", "rstdp_update", "strict_threshold",
           "calibrate_gain", "winner_steps"]


def strict_threshold(threshold: float, dtype: torch.dtype = torch.float32) -> float:
    r"""The threshold ``u >= t'`` that equals ``V > threshold`` in ``dtype``.

    ``t'`` is the next representable value above ``threshold`` in ``dtype``.

    Args:
        threshold: threshold of :func:`spyketorch.functional.fire` (strict).
        dtype: floating dtype of the potentials. Default: ``torch.float32``.

    Example:
        >>> strict_threshold(1.0) > 1.0
        True
    """
    t = torch.tensor(float(threshold), dtype=dtype)
    return float(torch.nextafter(t, torch.tensor(math.inf, dtype=dtype)))


class BlockRecord(NamedTuple):
    """What one block recorded during a presentation (tensors on the input's device).

    Attributes:
        pre_times: first-spike step of every (padded) input neuron, ``T`` = never, long ``[B, C_in, H, W]``.
        post_times: first-spike step of every neuron, ``T`` = never, long ``[B, C, H', W']``.
        post_values: potential (before reset) at that step, 0 where it never fired.
        spike_count: spikes of the layer per sample, ``[B]``.
        output_times: first-spike step of the pooled output, long ``[B, C, H'', W'']``.

    Example:
        >>> net = StepNetwork([NeuronConvBlock(Convolution(2, 4, 3), LIF(threshold=1.0))])
        >>> rec = net.run(torch.ones(2, 5, 2, 8, 8))[0]
        >>> rec.pre_times.shape, rec.post_times.shape, rec.post_times.dtype
        (torch.Size([2, 2, 8, 8]), torch.Size([2, 4, 6, 6]), torch.int64)
    """

    pre_times: Tensor
    post_times: Tensor
    post_values: Tensor
    spike_count: Tensor
    output_times: Tensor


class NeuronConvBlock(nn.Module):
    r"""``pad -> Convolution -> neuron layer -> max pooling``, stepped one time step at a time.

    .. math::
        I_t = g\, (W * \Delta S_t), \qquad
        (S^{out}_t, u_t) = \text{neuron.step}(I_t, k), \qquad
        S^{next}_t = \operatorname{maxpool}(S^{out}_t > 0)

    Args:
        conv: the convolution (its weights learn with STDP).
        neuron: any registered neuron layer (:func:`spyketorch.neurons.all_models`).
        padding: zero padding of the input spikes. Default: 0.
        pool: ``(kernel, stride, padding)`` of the max pooling, or ``None``. Default: ``None``.
        kwta: winners per sample, also given to the layer's own per-step k-WTA. Default: 1.
        inhibition_radius: radius of the winners' spatial exclusion. Default: 0.
        gain: input gain :math:`g` (``float``). Default: 1.0.
        pointwise: pointwise inhibition (one feature per position) before choosing winners.
            Default: ``True``.

    Attributes:
        track_values: record the potentials at the first spikes (needed for the winners;
            ``False`` saves time when only spikes are read). Default: ``True``.
        chunk: images per chunk of :meth:`present`. ``None`` chooses: the whole batch on an
            accelerator; on the CPU as many images as keep a chunk's potentials over all its
            steps within :data:`CPU_CONV_ELEMENTS` elements (cache-sized). Default: ``None``.

    Shape:
        step input ``[B, C_in, H, W]`` (0/1) -> pooled spikes ``[B, C, H'', W'']`` (0/1).

    Example:
        >>> from spyketorch.neurons import IF
        >>> block = NeuronConvBlock(Convolution(2, 4, 3), IF(threshold=2.0, ts=1.0, C=1.0), pool=(2, 2, 0))
        >>> block.begin(torch.zeros(3, 2, 6, 6), time_steps=5)
        >>> block.step(torch.ones(3, 2, 6, 6)).shape
        torch.Size([3, 4, 2, 2])
    """

    def __init__(
        self,
        conv: Convolution,
        neuron: Neuron,
        padding: int = 0,
        pool: Optional[Tuple[int, int, int]] = None,
        kwta: int = 1,
        inhibition_radius: int = 0,
        gain: float = 1.0,
        pointwise: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(conv, Convolution):
            raise TypeError(f"conv must be a spyketorch.snn.Convolution, got {type(conv).__name__}")
        if not isinstance(neuron, Neuron):
            raise TypeError(f"neuron must be a spyketorch.neurons.Neuron, got {type(neuron).__name__}")
        if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
            raise ValueError(f"padding must be a non-negative int, got {padding!r}")
        if pool is not None and (len(pool) != 3 or any(isinstance(p, bool) or not isinstance(p, int) for p in pool)):
            raise ValueError(f"pool must be (kernel, stride, padding) ints or None, got {pool!r}")
        V.n_winners(kwta, "kwta")
        V.non_negative_int(inhibition_radius, "inhibition_radius")
        if not isinstance(gain, (int, float)) or isinstance(gain, bool) or not gain > 0 or not math.isfinite(gain):
            raise ValueError(f"gain must be a positive finite number, got {gain!r}")
        self.conv = conv
        self.neuron = neuron
        self.padding = padding
        self.pool = pool
        self.kwta = kwta
        self.inhibition_radius = inhibition_radius
        self.gain = float(gain)
        self.pointwise = bool(pointwise)
        self._state: Dict[str, Tensor] = {}
        self._record: Optional[BlockRecord] = None
        self.time_steps = 0
        #: record the potentials at the first spikes (needed for winners; off to save time)
        self.track_values = True
        #: images per chunk of :meth:`present` (``None``: the whole batch on an accelerator, a
        #: cache-sized chunk on the CPU, see :data:`CPU_CONV_ELEMENTS`)
        self.chunk: Optional[int] = None

    def pad(self, x: Tensor) -> Tensor:
        """``x`` zero-padded by the block's ``padding`` on each side of its last two dimensions."""
        p = self.padding
        return F.pad(x, (p, p, p, p)) if p else x

    def pool_spikes(self, s: Tensor) -> Tensor:
        """The block's max pooling ``(kernel, stride, padding)`` of spikes ``s`` (unchanged without one)."""
        if self.pool is None:
            return s
        k, st, p = self.pool
        if p:
            s = F.pad(s, (p, p, p, p))
        return F.max_pool2d(s, k, st)

    def begin(self, example: Tensor, time_steps: int) -> None:
        """Reset the neuron layer and the trackers for a new presentation shaped like ``example``."""
        if isinstance(time_steps, bool) or not isinstance(time_steps, int) or not 1 <= time_steps < 2 ** 15:
            raise ValueError(f"time_steps must be an int in [1, 32767], got {time_steps!r}")
        self.neuron.reset()
        self.time_steps = time_steps
        self._record = None
        x = self.pad(example)
        b, _, h, w = x.shape
        kh, kw = self.conv.kernel_size
        c = self.conv.out_channels
        dev, dt = x.device, self.conv.weight.dtype
        self._state = {
            "pre_cnt": torch.zeros(x.shape, dtype=torch.int16, device=dev),
            "pre_on": torch.zeros(x.shape, dtype=torch.bool, device=dev),
            "cnt": torch.zeros(b, c, h - kh + 1, w - kw + 1, dtype=torch.int16, device=dev),
            "on": torch.zeros(b, c, h - kh + 1, w - kw + 1, dtype=torch.bool, device=dev),
            "val": torch.zeros(b, c, h - kh + 1, w - kw + 1, dtype=dt, device=dev),
            "spk": torch.zeros(b, c, h - kh + 1, w - kw + 1, dtype=torch.int16, device=dev),
        }
        pooled = self.pool_spikes(self._state["val"])
        self._state["out_cnt"] = torch.zeros(pooled.shape, dtype=torch.int16, device=dev)
        self._state["out_on"] = torch.zeros(pooled.shape, dtype=torch.bool, device=dev)

    def step(self, spikes: Tensor) -> Tensor:
        """Advance one step with the input ``spikes`` arriving at this step; return the pooled 0/1 spikes."""
        st = self._state
        if not st:
            raise ValueError("call begin() before step()")
        x = self.pad(spikes.to(self.conv.weight.dtype))
        if x.shape != st["pre_on"].shape:
            raise ValueError(f"spikes must have shape {tuple(st['pre_on'].shape)} after padding, got {tuple(x.shape)}")
        # first-spike steps by counting: a neuron that first fired at step t has been "on"
        # for T - t steps at the end, so its first step is T - count (no per-step index writes)
        torch.logical_or(st["pre_on"], x > 0, out=st["pre_on"])
        st["pre_cnt"] += st["pre_on"]
        pot = F.conv2d(x, self.conv.weight)
        if self.gain != 1.0:
            pot = pot * self.gain
        out = self.neuron.step(pot, n_winners=self.kwta, thresholded=self.track_values, dudt=False, winners=False,
                               winning_spikes=False)
        s = out.spikes > 0
        if self.track_values:
            st["val"] = torch.where(s > st["on"], out.thresholded, st["val"])
        torch.logical_or(st["on"], s, out=st["on"])
        st["cnt"] += st["on"]
        st["spk"] += s
        pooled = self.pool_spikes(s.to(x.dtype))
        torch.logical_or(st["out_on"], pooled > 0, out=st["out_on"])
        st["out_cnt"] += st["out_on"]
        return pooled

    def record(self) -> BlockRecord:
        """The trackers of the current presentation (stepped with :meth:`step` or run with :meth:`present`)."""
        if self._record is not None:
            return self._record
        st = self._state
        t = self.time_steps
        return BlockRecord(t - st["pre_cnt"].long(), t - st["cnt"].long(), st["val"],
                           st["spk"].flatten(1).sum(1, dtype=st["val"].dtype), t - st["out_cnt"].long())

    def present(self, spikes: Tensor, pooled: bool = True) -> Tuple[BlockRecord, Optional[Tensor]]:
        r"""Run all ``T`` steps of a presentation; same results as :meth:`begin` + ``T`` :meth:`step`.

        The weights do not change during a presentation and the samples are independent, so
        the batch is taken in chunks of images (cache-sized on the CPU, see :attr:`chunk`):
        for each chunk one convolution over all its ``T`` steps, then one
        :meth:`~spyketorch.neurons.Neuron.run` of the neuron layer over the presentation
        (with ``backend="compiled"`` its steps fuse into a few passes) recording first-spike
        steps, potentials and counts, and one pooling. The first step of a pooled output is the
        earliest first step in its window, :math:`t^{pool}_j = \min_{i \in \text{window}(j)} t_i`,
        so the last block of a network needs no pooling per step.

        Args:
            spikes: time-major input ``[T, B, C_in, H, W]`` (0/1, the spikes arriving at each step).
            pooled: also return the pooled spikes of every step (the next block's input).
                Default: ``True``.

        Returns:
            ``(record, pooled spikes [T, B, C, H'', W''] or None)``.

        Shape:
            ``[T, B, C_in, H, W]`` -> ``[T, B, C, H'', W'']``.

        Example:
            >>> from spyketorch.neurons import IF
            >>> block = NeuronConvBlock(Convolution(2, 4, 3), IF(threshold=2.0, ts=1.0, C=1.0), pool=(2, 2, 0))
            >>> rec, out = block.present(torch.ones(5, 3, 2, 6, 6))
            >>> out.shape, rec.post_times.shape
            (torch.Size([5, 3, 4, 2, 2]), torch.Size([3, 4, 4, 4]))
        """
        if not isinstance(spikes, Tensor):
            raise TypeError(f"spikes must be a torch.Tensor, got {type(spikes).__name__}")
        if spikes.dim() != 5:
            raise ValueError(f"spikes must be [T, B, C, H, W], got {tuple(spikes.shape)}")
        t_steps, b = spikes.shape[0], spikes.shape[1]
        if not 1 <= t_steps < 2 ** 15:
            raise ValueError(f"spikes must have 1 to 32767 time steps, got {t_steps}")
        cs = self.chunk
        if cs is not None and (isinstance(cs, bool) or not isinstance(cs, int) or cs < 1):
            raise ValueError(f"chunk must be None or a positive int, got {cs!r}")
        self.neuron.reset()
        self._state = {}
        self.time_steps = t_steps
        dt, w, p = self.conv.weight.dtype, self.conv.weight, self.padding
        pre = _first_steps(spikes)  # pre-synaptic first-spike steps; the padding never fires
        if p:
            pre = F.pad(pre, (p, p, p, p), value=t_steps)
        kh, kw = self.conv.kernel_size
        hp, wp = spikes.shape[-2] + 2 * p, spikes.shape[-1] + 2 * p
        shape = (self.conv.out_channels, hp - kh + 1, wp - kw + 1)
        cpu = spikes.device.type == "cpu"
        if cs is None:
            cs = b if not cpu else max(1, CPU_CONV_ELEMENTS // max(t_steps * math.prod(shape), 1))
        # oneDNN convolves channels-last images several times faster on the CPU (and the layer's
        # run keeps that layout: no pass transposes it)
        fmt = torch.channels_last if cpu else torch.contiguous_format
        wi = w.contiguous(memory_format=fmt)
        layer, k, tv = self.neuron, self.kwta, self.track_values
        posts, vals, counts, outs = [], [], [], []
        for i in range(0, b, cs) if b else [0]:
            si = spikes[:, i : i + cs]
            bi = si.shape[1]
            xi = torch.empty((t_steps * bi, spikes.shape[2], hp, wp), dtype=dt, device=spikes.device,
                             memory_format=fmt).zero_()  # the padded input of every step of the chunk, in one copy
            xi[:, :, p : hp - p, p : wp - p] = si.reshape((t_steps * bi,) + tuple(si.shape[2:]))
            pot = F.conv2d(xi, wi)  # every step of the chunk at once
            if self.gain != 1.0:
                pot.mul_(self.gain)
            layer.reset()
            rec = layer.run(pot.view((t_steps, bi) + shape), k, spikes=pooled, first_values=tv)
            posts.append(rec.first_step)
            vals.append(rec.first_value if tv else torch.zeros_like(rec.first_step))
            counts.append(rec.count.flatten(1).sum(1))
            if pooled:
                nxt = self.pool_spikes(rec.spikes.to(dt).view((t_steps * bi,) + shape))
                outs.append(nxt.view((t_steps, bi) + tuple(nxt.shape[1:])))
        first = torch.cat(posts) if len(posts) > 1 else posts[0]
        val = (torch.cat(vals) if len(vals) > 1 else vals[0]).to(dt)
        count = (torch.cat(counts) if len(counts) > 1 else counts[0]).to(dt)
        nxt = (torch.cat(outs, dim=1) if len(outs) > 1 else outs[0]) if pooled else None
        post = first.long()
        self._record = BlockRecord(pre, post, val, count, self._pool_times(first, t_steps))
        return self._record, nxt

    def _pool_times(self, times: Tensor, t_steps: int) -> Tensor:
        """First-spike steps of the pooled output: the earliest step in each window (padding never fires)."""
        if self.pool is None:
            return times.long()
        k, st, p = self.pool
        late = t_steps - times.to(torch.float32)  # 0 = never; exact integers in float32 (T < 2**15)
        if p:
            late = F.pad(late, (p, p, p, p))
        return t_steps - F.max_pool2d(late, k, st).long()

    def winners(self, record: Optional[BlockRecord] = None) -> Tuple[Tensor, Tensor]:
        r"""Winners ``[B, k, 3]`` (``-1`` padded) and their first-spike steps ``[B, k]`` (``-1`` padded).

        One k-WTA for the whole package: :func:`~spyketorch.functional.get_k_winners_times` on
        the first-spike steps and potentials (after pointwise inhibition if enabled).
        """
        rec = self.record() if record is None else record
        t, v = rec.post_times, rec.post_values
        if self.pointwise:
            t, v = sf.pointwise_inhibition_times(t, v, self.time_steps)
        win = sf.get_k_winners_times(t, v, self.time_steps, self.kwta, self.inhibition_radius, as_tensor=True)
        return win, winner_steps(t, win)

    def post_times_for_stdp(self, record: BlockRecord) -> Tensor:
        """Post-synaptic first-spike steps as STDP sees them (after pointwise inhibition if enabled)."""
        if not self.pointwise:
            return record.post_times
        return sf.pointwise_inhibition_times(record.post_times, record.post_values, self.time_steps)[0]

    def extra_repr(self) -> str:
        return (f"padding={self.padding}, pool={self.pool}, kwta={self.kwta}, "
                f"inhibition_radius={self.inhibition_radius}, gain={self.gain:g}, pointwise={self.pointwise}")


def _first_steps(spikes: Tensor) -> Tensor:
    """First step ``t`` along dim 0 where ``spikes[t] > 0``, ``T`` where never (long).

    Counts the steps before the first spike in place, one pass per step on float 0/1 masks
    (on CPU much faster than a reduction along the time dimension or boolean writes).
    """
    t_steps = spikes.shape[0]
    off = torch.ones(spikes.shape[1:], dtype=torch.float32, device=spikes.device)
    before = torch.zeros_like(off)
    fired = torch.empty_like(off)
    for t in range(t_steps):
        off.addcmul_(off, torch.gt(spikes[t], 0, out=fired), value=-1.0)
        before.add_(off)
    return before.long()


def winner_steps(times: Tensor, winners: Tensor) -> Tensor:
    """First-spike step of each winner ``[B, k]`` (``-1`` where the row is padding).

    Example:
        >>> times = torch.tensor([[[[3, 1]], [[0, 2]]]])  # [B=1, C=2, H=1, W=2]
        >>> winner_steps(times, torch.tensor([[[1, 0, 0], [0, 0, 1], [-1, -1, -1]]]))
        tensor([[ 0,  1, -1]])
    """
    b, c, h, w = times.shape
    f, r, col = winners.unbind(-1)
    idx = (f.clamp(min=0) * h + r.clamp(min=0)) * w + col.clamp(min=0)
    steps = times.reshape(b, -1).gather(1, idx)
    return torch.where(f >= 0, steps, torch.full_like(steps, -1))


class StepNetwork(nn.Module):
    r"""A stack of :class:`NeuronConvBlock` run one time step at a time on batched spike input.

    Args:
        blocks: the blocks, first to last.

    Shape:
        input ``[B, T, C, H, W]`` 0/1 spikes arriving at each step (not accumulated).

    :meth:`run` presents the batch block after block, each block over all ``T`` steps at once
    (:meth:`NeuronConvBlock.present`).

    Example:
        >>> from spyketorch.neurons import IF
        >>> net = StepNetwork([NeuronConvBlock(Convolution(2, 4, 3), IF(threshold=2.0, ts=1.0, C=1.0))])
        >>> recs = net.run(torch.ones(2, 5, 2, 6, 6))
        >>> recs[0].post_times.shape
        torch.Size([2, 4, 4, 4])
    """

    def __init__(self, blocks: Sequence[NeuronConvBlock]) -> None:
        super().__init__()
        if len(blocks) == 0 or not all(isinstance(b, NeuronConvBlock) for b in blocks):
            raise TypeError("blocks must be a non-empty sequence of NeuronConvBlock")
        self.blocks = nn.ModuleList(blocks)

    @torch.no_grad()
    def run(self, spikes: Tensor, upto: Optional[int] = None) -> List[BlockRecord]:
        """Present a batch: reset every block, step ``T`` times, return each block's record.

        Args:
            spikes: ``[B, T, C, H, W]`` input spikes (events of each step).
            upto: run the blocks ``0..upto`` only. Default: ``None`` (all).
        """
        if not isinstance(spikes, Tensor):
            raise TypeError(f"spikes must be a torch.Tensor, got {type(spikes).__name__}")
        if spikes.dim() != 5:
            raise ValueError(f"spikes must be [B, T, C, H, W], got {tuple(spikes.shape)}")
        blocks = list(self.blocks)[: (len(self.blocks) if upto is None else upto + 1)]
        x: Optional[Tensor] = spikes.transpose(0, 1)  # time-major: each step's slice is contiguous
        recs = []
        for i, blk in enumerate(blocks):
            rec, x = blk.present(x, pooled=i + 1 < len(blocks))
            recs.append(rec)
        return recs

    @torch.no_grad()
    def stdp_step(self, spikes: Tensor, index: int, stdp: STDP) -> BlockRecord:
        """Present ``spikes`` and apply one STDP update to block ``index`` from its winners."""
        blk = self.blocks[index]
        blk.track_values = True
        rec = self.run(spikes, upto=index)[index]
        win, _ = blk.winners(rec)
        stdp.forward_times(rec.pre_times, blk.post_times_for_stdp(rec), win)
        return rec


@torch.no_grad()
def rstdp_update(rstdp: RSTDP, pre_times: Tensor, post_times: Tensor, winners: Tensor, reward: Tensor) -> None:
    r"""R-STDP from first-spike steps and winners: STDP where ``reward > 0``, anti-STDP where ``< 0``.

    Same update as :class:`spyketorch.snn.RSTDP` on the waves these steps describe.

    Args:
        rstdp: the :class:`~spyketorch.snn.RSTDP` module.
        pre_times: ``[B, C_in, H, W]`` pre-synaptic first-spike steps.
        post_times: ``[B, C_out, H', W']`` post-synaptic first-spike steps.
        winners: ``[B, k, 3]`` (``-1`` padded).
        reward: ``[B]`` (> 0 reward, < 0 punishment, 0 nothing).

    Example:
        >>> from spyketorch.learning import RSTDP
        >>> net = StepNetwork([NeuronConvBlock(Convolution(2, 4, 3), LIF(threshold=10.0, inhibition_mode="none"),
        ...                                    gain=200.0)])
        >>> blk = net.blocks[0]
        >>> rec = net.run(torch.ones(2, 5, 2, 8, 8))[0]
        >>> winners, _ = blk.winners(rec)
        >>> w0 = blk.conv.weight.clone()
        >>> rstdp = RSTDP(blk.conv, (0.004, -0.003), (-0.004, 0.0005))
        >>> rstdp_update(rstdp, rec.pre_times, blk.post_times_for_stdp(rec), winners, torch.tensor([1.0, -1.0]))
        >>> bool((blk.conv.weight != w0).any())
        True
    """
    if not isinstance(reward, Tensor) or reward.dim() != 1 or reward.shape[0] != pre_times.shape[0]:
        raise ValueError("reward must be a [B] tensor, one value per sample")
    rstdp.forward_times(pre_times, post_times, winners.to(device=pre_times.device, dtype=torch.long), reward)


@torch.no_grad()
def calibrate_gain(
    net: StepNetwork, index: int, spikes: Tensor, target: float, lo: float = 1e-3, hi: float = 1e6, iters: int = 24,
) -> float:
    r"""Set block ``index``'s input gain so that a fraction ``target`` of its neurons fires at least once.

    Bisection on :math:`\log g` (the fraction grows with the gain for every registered model).
    Returns the gain (also stored in the block).

    Args:
        net: the network.
        index: the block to calibrate.
        spikes: calibration input ``[B, T, C, H, W]``.
        target: wanted fraction of neurons that fire, in ``(0, 1)``.
        lo: smallest gain tried. Default: 1e-3.
        hi: largest gain tried. Default: 1e6.
        iters: bisection steps. Default: 24.

    Example:
        >>> net = StepNetwork([NeuronConvBlock(Convolution(2, 4, 3), LIF(threshold=10.0, inhibition_mode="none"))])
        >>> x = (torch.rand(4, 5, 2, 8, 8, generator=torch.Generator().manual_seed(0)) < 0.2).float()
        >>> gain = calibrate_gain(net, 0, x, target=0.5)
        >>> gain == net.blocks[0].gain, gain > 1.0
        (True, True)
    """
    if not 0.0 < target < 1.0:
        raise ValueError(f"target must be in (0, 1), got {target!r}")
    blk = net.blocks[index]
    a, b = math.log(lo), math.log(hi)
    keep, blk.track_values = blk.track_values, False
    for _ in range(iters):
        m = 0.5 * (a + b)
        blk.gain = math.exp(m)
        rec = net.run(spikes, upto=index)[index]
        frac = float((rec.post_times < blk.time_steps).float().mean())
        if frac < target:
            a = m
        else:
            b = m
    blk.gain = math.exp(0.5 * (a + b))
    blk.track_values = keep
    return blk.gain
