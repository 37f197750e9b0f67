"""Functional operations on spike-wave tensors, batched.

A *spike-wave* is a tensor of shape ``[T, C, H, W]`` (time first). Spikes
accumulate: once a neuron has fired at step ``t`` it is also marked as firing at
every later step, so the number of non-zero steps encodes the latency (more
steps = earlier spike). Potentials computed from such waves are cumulative too.

Every operation in this module also accepts a batch ``[B, T, C, H, W]`` and
treats each sample independently: the result on a batch equals stacking the
results of its samples processed one by one. All work is vectorised over the
batch and the pixels; nothing leaves the input's device.

A 4-D input is always one sample ``[T, C, H, W]``, as in SpykeTorch: its
scripts also pass images ``[1, C, H, W]`` (the output of ``Filter``) to
``pointwise_inhibition`` or ``pooling``, which read them as one time step and
compute what SpykeTorch computes. The batched forms are extensions; on one
sample they give SpykeTorch's results.

Example:
    >>> import spyketorch.functional as sf
    >>> pot = torch.tensor([0.0, 2.0, 3.0]).view(3, 1, 1, 1)  # [T, C, H, W]: one neuron, 3 steps
    >>> sf.fire(pot, 1.0).flatten()
    tensor([0., 1., 1.])
"""
from __future__ import annotations

import math
from numbers import Real
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

from . import _validation as V

__all__ = [
    "pad",
    "pooling",
    "fire",
    "fire_",
    "threshold",
    "threshold_",
    "pointwise_inhibition",
    "feature_inhibition",
    "feature_inhibition_",
    "get_k_winners",
    "first_spike",
    "pointwise_inhibition_times",
    "get_k_winners_times",
    "intensity_lateral_inhibition",
    "local_normalization",
    "spike_times",
    "spike_wave",
]

Winner = Tuple[int, int, int]
IntPair = Union[int, Tuple[int, int]]


# ----------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------
def _check_tensor(x: object, name: str) -> torch.Tensor:
    """A real (non-complex) tensor."""
    return V.real_tensor(x, name)


def as_batch(x: torch.Tensor, name: str) -> Tuple[torch.Tensor, bool]:
    """A spike-wave as a batch: ``x`` as a 5-D ``[B, T, C, H, W]`` view and whether it was one.

    Args:
        x: a spike-wave ``[T, C, H, W]`` or a batch of them ``[B, T, C, H, W]``.
        name: the argument's name in error messages.

    Example:
        >>> xb, batched = as_batch(torch.zeros(3, 2, 4, 4), "input")
        >>> tuple(xb.shape), batched
        ((1, 3, 2, 4, 4), False)
    """
    _check_tensor(x, name)
    if x.dim() == 4:
        return x.unsqueeze(0), False
    if x.dim() == 5:
        return x, True
    raise ValueError(
        f"{name} must be a spike-wave [T, C, H, W] or a batch [B, T, C, H, W], "
        f"got shape {tuple(x.shape)}"
    )


def _time_dim(x: torch.Tensor, name: str) -> int:
    as_batch(x, name)
    return 0 if x.dim() == 4 else 1


def _check_threshold(threshold: object) -> None:
    """``None``, a finite number, or a real tensor (checked for NaN/inf when on the CPU)."""
    if threshold is None:
        return
    if isinstance(threshold, torch.Tensor):
        V.real_tensor(threshold, "threshold")
        if threshold.device.type == "cpu":  # no host sync for accelerator tensors
            V.finite_tensor(threshold, "threshold")
        return
    if isinstance(threshold, bool) or not isinstance(threshold, Real):
        raise TypeError(
            f"threshold must be None, a real number or a tensor, got {type(threshold).__name__}"
        )
    V.finite_real(threshold, "threshold")


def _check_threshold_shape(threshold: object, shape: torch.Size) -> None:
    """A tensor ``threshold`` must broadcast to the potentials' ``shape`` without enlarging it."""
    if not isinstance(threshold, torch.Tensor):
        return
    try:
        fits = torch.broadcast_shapes(threshold.shape, shape) == shape
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(
            f"threshold of shape {tuple(threshold.shape)} does not broadcast to the potentials' shape "
            f"{tuple(shape)} (give a number, one value per feature [C, 1, 1], or a tensor that broadcasts "
            "to the potentials)"
        )


def _firing_mask(potentials: torch.Tensor, threshold: Optional[Union[float, torch.Tensor]]) -> torch.Tensor:
    """Boolean mask of the (neuron, step) pairs that fire."""
    _check_threshold(threshold)
    tdim = _time_dim(potentials, "potentials")
    _check_threshold_shape(threshold, potentials.shape)
    if threshold is None:
        mask = potentials > 0
        steps = torch.arange(potentials.shape[tdim], device=potentials.device)
        last = (steps == potentials.shape[tdim] - 1).view(
            (-1,) + (1,) * (potentials.dim() - tdim - 1)
        )
        return mask & last
    if isinstance(threshold, torch.Tensor):
        threshold = threshold.to(device=potentials.device, dtype=potentials.dtype)
    return potentials > threshold


# ----------------------------------------------------------------------------
# padding and pooling
# ----------------------------------------------------------------------------
def pad(input: torch.Tensor, pad: Union[int, Sequence[int]], value: float = 0.0) -> torch.Tensor:
    r"""Pad the two spatial (last) dimensions of a spike-wave or potentials.

    Args:
        input: tensor whose last two dimensions are ``H, W``.
        pad: ``(left, right, top, bottom)`` or a single int used on all four sides.
        value: fill value. Default: ``0.0``.

    Shape:
        - Input: ``[..., H, W]`` (e.g. ``[T, C, H, W]`` or ``[B, T, C, H, W]``).
        - Output: ``[..., H + top + bottom, W + left + right]``.

    Example:
        >>> pad(torch.ones(2, 1, 3, 3), (1, 1, 2, 0)).shape
        torch.Size([2, 1, 5, 5])
    """
    _check_tensor(input, "input")
    if input.dim() < 2:
        raise ValueError(f"input must have at least 2 dimensions, got {input.dim()}")
    if isinstance(pad, int) and not isinstance(pad, bool):
        pad = (pad, pad, pad, pad)
    if isinstance(pad, (str, bytes)) or not isinstance(pad, Sequence):
        raise TypeError(f"pad must be an int or four ints (left, right, top, bottom), got {type(pad).__name__}")
    pad = tuple(pad)
    if len(pad) != 4 or not all(isinstance(p, int) and not isinstance(p, bool) and p >= 0 for p in pad):
        raise ValueError(f"pad must be four non-negative ints (left, right, top, bottom), got {pad}")
    value = V.real(value, "value")
    if input.is_floating_point() and math.isfinite(value) and abs(value) > torch.finfo(input.dtype).max:
        raise ValueError(f"value={value!r} overflows the input's dtype {input.dtype}")
    h, w = input.shape[-2:]
    V.allocation(math.prod(input.shape[:-2]) * (h + pad[2] + pad[3]) * (w + pad[0] + pad[1]), input.element_size(),
                 "pad", pad)
    return F.pad(input, pad, mode="constant", value=value)


def pooling(
    input: torch.Tensor,
    kernel_size: IntPair,
    stride: Optional[IntPair] = None,
    padding: IntPair = 0,
) -> torch.Tensor:
    r"""2-D max pooling of every time step and feature map.

    On an accumulating spike-wave this propagates the earliest spike of each
    window. As in SpykeTorch (``torch.nn.functional.max_pool2d``), padding never
    wins: each window takes the maximum of its values inside the map (for
    spike-waves and thresholded potentials, which are non-negative, this equals
    zero padding). A window that lies wholly in the padding (possible when
    ``padding`` exceeds half the window, which ``max_pool2d`` refuses) gives 0.

    Args:
        input: spike-wave or potentials.
        kernel_size: pooling window.
        stride: window stride. Default: ``None`` (= ``kernel_size``).
        padding: implicit zero padding on both sides. Default: ``0``.

    Shape:
        - Input: ``[T, C, H, W]`` or ``[B, T, C, H, W]``.
        - Output: ``[T, C, H', W']`` or ``[B, T, C, H', W']``.

    Example:
        >>> pooling(torch.rand(3, 2, 8, 8), 2).shape
        torch.Size([3, 2, 4, 4])
    """
    x, batched = as_batch(input, "input")
    ks = V.kernel_size(kernel_size, "kernel_size")
    st = ks if stride is None else V.int_pair(stride, "stride", minimum=1)
    p = V.padding(padding, "padding")
    b, t, c, h, w = x.shape
    V.kernel_fits(ks, (h + 2 * p[0], w + 2 * p[1]), "kernel_size", "padded input")
    # a stride beyond the padded map fits one window either way (and would overflow max_pool2d's ints)
    st = (min(st[0], h + 2 * p[0]), min(st[1], w + 2 * p[1]))
    ho, wo = (h + 2 * p[0] - ks[0]) // st[0] + 1, (w + 2 * p[1] - ks[1]) // st[1] + 1
    V.allocation(b * t * c * ho * wo, x.element_size(), "padding", padding)
    if x.numel() == 0:  # B, T or C is 0: nothing to pool
        out = x.new_zeros(b, t, c, ho, wo)
        return out if batched else out[0]
    flat = x.reshape(b * t, c, h, w)
    if flat.dtype == torch.bool:  # max of a bool wave = any: pool it as bytes
        return pooling(input.to(torch.uint8), ks, st, p).bool()
    if p != (0, 0):
        if 2 * p[0] <= ks[0] and 2 * p[1] <= ks[1]:  # every window meets the map: max_pool2d pads itself
            out = F.max_pool2d(flat, ks, st, p)
        else:
            low = float("-inf") if flat.is_floating_point() else torch.iinfo(flat.dtype).min
            out = F.max_pool2d(F.pad(flat, (p[1], p[1], p[0], p[0]), value=low), ks, st)
            inside = F.max_pool2d(F.pad(flat.new_ones(1, 1, h, w), (p[1], p[1], p[0], p[0]), value=0), ks, st)
            out = torch.where(inside > 0, out, torch.zeros((), dtype=out.dtype, device=out.device))
    else:
        out = F.max_pool2d(flat, ks, st)
    out = out.reshape(b, t, c, out.shape[-2], out.shape[-1])
    return out if batched else out[0]


# ----------------------------------------------------------------------------
# thresholding and firing
# ----------------------------------------------------------------------------
def threshold(
    potentials: torch.Tensor, threshold: Optional[Union[float, torch.Tensor]] = None
) -> torch.Tensor:
    r"""Keep the potentials of the neurons that fire, zero the rest.

    .. math::
        \tilde V_t = \begin{cases} V_t & V_t > \theta \\ 0 & \text{otherwise}\end{cases}

    With ``threshold=None`` the threshold is infinite until the last time step,
    where every positive potential fires (``theta = 0`` on the last step only).

    Args:
        potentials: potentials over time.
        threshold: firing threshold :math:`\theta` (number, or a tensor that
            broadcasts against the potentials, e.g. one per feature
            ``[C, 1, 1]``). Default: ``None``.

    Shape:
        ``[T, C, H, W]`` or ``[B, T, C, H, W]``; the output has the input's shape.

    Example:
        >>> threshold(torch.tensor([0.5, 2.0, 3.0]).view(3, 1, 1, 1), 1.0).flatten()
        tensor([0., 2., 3.])
    """
    mask = _firing_mask(potentials, threshold)
    return torch.where(mask, potentials, torch.zeros((), dtype=potentials.dtype, device=potentials.device))


def threshold_(
    potentials: torch.Tensor, threshold: Optional[Union[float, torch.Tensor]] = None
) -> torch.Tensor:
    r"""In-place version of :func:`threshold`; returns ``potentials``.

    Example:
        >>> p = torch.tensor([0.5, 2.0, 3.0]).view(3, 1, 1, 1)
        >>> threshold_(p, 1.0) is p, p.flatten()
        (True, tensor([0., 2., 3.]))
    """
    mask = _firing_mask(potentials, threshold)
    potentials.masked_fill_(~mask, 0)
    return potentials


def fire(
    potentials: torch.Tensor,
    threshold: Optional[Union[float, torch.Tensor]] = None,
    return_thresholded_potentials: bool = False,
) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
    r"""Spikes of the neurons whose potential exceeds the threshold.

    .. math::
        S_t = \mathbb{1}[V_t > \theta]

    Args:
        potentials: potentials over time.
        threshold: firing threshold (see :func:`threshold`). Default: ``None``
            (fire on the last time step if the potential is positive).
        return_thresholded_potentials: also return :func:`threshold` of the
            potentials. Default: ``False``.

    Returns:
        The spike-wave (0/1, the potentials' dtype), and the thresholded
        potentials if requested.

    Shape:
        ``[T, C, H, W]`` or ``[B, T, C, H, W]``; outputs have the input's shape.

    Example:
        >>> fire(torch.tensor([0.5, 2.0, 3.0]).view(3, 1, 1, 1), 1.0).flatten()
        tensor([0., 1., 1.])
    """
    mask = _firing_mask(potentials, threshold)
    spikes = mask.to(potentials.dtype)
    if return_thresholded_potentials:
        zero = torch.zeros((), dtype=potentials.dtype, device=potentials.device)
        return spikes, torch.where(mask, potentials, zero)
    return spikes


def fire_(potentials: torch.Tensor, threshold: Optional[Union[float, torch.Tensor]] = None) -> torch.Tensor:
    r"""In-place version of :func:`fire`: ``potentials`` becomes the 0/1 spike-wave.

    Example:
        >>> p = torch.tensor([0.5, 2.0, 3.0]).view(3, 1, 1, 1)
        >>> fire_(p, 1.0) is p, p.flatten()
        (True, tensor([0., 1., 1.]))
    """
    mask = _firing_mask(potentials, threshold)
    potentials.copy_(mask)
    return potentials


# ----------------------------------------------------------------------------
# inhibition
# ----------------------------------------------------------------------------
def _first_and_value(x: torch.Tensor, s: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """First firing step (``T`` if none) and the value of ``x`` at that step, for 5-D waves.

    Spikes accumulate, so the first firing step is ``T - (number of firing steps)``,
    the latency SpykeTorch uses. Returns long ``[B, C, H, W]`` and ``x``'s dtype.
    """
    t = x.shape[1]
    if x.numel() == 0:  # T = 0 (nothing ever fires) or an empty B, C, H or W
        shape = x.shape[:1] + x.shape[2:]
        return torch.full(shape, t, dtype=torch.long, device=x.device), x.new_zeros(shape)
    if t < 256:  # count in uint8: far cheaper than a cast of the whole wave
        count = s.view(torch.uint8).sum(dim=1, dtype=torch.uint8).long()
    else:
        count = s.sum(dim=1, dtype=torch.int64)
    first = t - count
    val = x.gather(1, first.clamp(max=t - 1).unsqueeze(1)).squeeze(1)
    val = torch.where(count > 0, val, torch.zeros((), dtype=val.dtype, device=val.device))
    return first, val


def _rank_key(
    first: torch.Tensor, val: torch.Tensor, time_steps: int, finite: Optional[torch.Tensor] = None,
    name: str = "potentials",
) -> torch.Tensor:
    """One float64 score per neuron: larger = earlier first spike, then larger potential.

    ``key = 4 (T - first) + value / 2**e`` with ``2**e`` the power of two just
    above the largest ``|value|``, so the value term lies in ``(-1, 1)`` and
    earlier spikes always rank higher, for any finite potentials (float64's
    whole range included); neurons that never fire get ``-inf``. Potentials whose
    difference is below about ``2**-50 T`` of the largest one may compare as equal
    (then the lowest index wins). ``finite`` (a bool tensor: are the whole
    potentials finite?) is read in the same host transfer as the largest value.
    """
    v = val.to(torch.float64)
    vmax = v.abs().max() if v.numel() else v.new_zeros(())
    if finite is not None:
        vmax = torch.where(finite, vmax, vmax.new_tensor(float("nan")))
    vmax = float(vmax)  # the one host sync of the winner selection
    if not math.isfinite(vmax):
        raise ValueError(f"{name} must be finite to rank winners (got NaN or inf)")
    if vmax > 0:
        # scale by 2**-e in two exact steps: 2**-e alone overflows for subnormal vmax (e < -1022)
        e = math.frexp(vmax)[1]  # vmax < 2**e
        half = -e // 2
        v = v * 2.0 ** half * 2.0 ** (-e - half)
    key = (time_steps - first).to(torch.float64) * 4.0 + v
    return key.masked_fill_(first >= time_steps, float("-inf"))


def _pointwise_keep(first: torch.Tensor, val: torch.Tensor, time_steps: int, name: str) -> torch.Tensor:
    """``[B, C, H, W]`` mask of the feature that wins each position (earliest, then largest)."""
    key = _rank_key(first, val, time_steps, name=name)
    winner = key.argmax(dim=1, keepdim=True)
    feats = torch.arange(first.shape[1], device=first.device).view(1, -1, 1, 1)
    return (feats == winner) & (first < time_steps)


def pointwise_inhibition(thresholded_potentials: torch.Tensor) -> torch.Tensor:
    r"""Winner-take-all across features at every position.

    At each position ``(h, w)`` only one feature keeps its potentials: the one
    that fires first; among the features firing at that earliest step, the one
    with the largest potential at that step (ties: the lowest feature index).
    All other features at that position are set to zero for all time steps.
    A neuron fires at the steps where its (thresholded) potential is > 0; as
    everywhere in this package, firing is assumed to accumulate over time.

    Args:
        thresholded_potentials: output of :func:`threshold` / :func:`fire`.

    Shape:
        ``[T, C, H, W]`` or ``[B, T, C, H, W]``; the output has the input's shape.

    Example:
        >>> p = torch.zeros(2, 2, 1, 1); p[1, 0] = 5.0; p[:, 1] = 1.0
        >>> pointwise_inhibition(p)[:, :, 0, 0]   # feature 1 fired first
        tensor([[0., 1.],
                [0., 1.]])
    """
    x, batched = as_batch(thresholded_potentials, "thresholded_potentials")
    if x.numel() == 0:
        return thresholded_potentials.clone()
    first, val = _first_and_value(x, x > 0)
    keep = _pointwise_keep(first, val, x.shape[1], "thresholded_potentials")
    out = x * keep.unsqueeze(1).to(x.dtype)
    return out if batched else out[0]


def first_spike(
    potentials: torch.Tensor, threshold: Optional[Union[float, torch.Tensor]] = None
) -> Tuple[torch.Tensor, torch.Tensor]:
    r"""Latency form of :func:`fire`: each neuron's first firing step and its potential then.

    For cumulative potentials (an accumulating input wave through non-negative
    weights) this holds everything the wave-based ops use, at ``1/T`` of the
    size: :func:`pointwise_inhibition_times`, :func:`get_k_winners_times` and
    :meth:`spyketorch.snn.STDP.forward_times` give the same results as their
    wave counterparts.

    .. math::
        t_i = T - \#\{t : V_{t,i} > \theta\},\qquad v_i = V_{t_i, i}

    Args:
        potentials: potentials over time.
        threshold: as in :func:`fire`. Default: ``None``.

    Returns:
        ``(times, values)``: ``times`` (long, ``T`` where the neuron never
        fires) and ``values`` (0 where it never fires), shaped like one time
        step of the input.

    Shape:
        ``[T, C, H, W]`` -> ``[C, H, W]``; ``[B, T, C, H, W]`` -> ``[B, C, H, W]``.

    Example:
        >>> first_spike(torch.tensor([0.5, 2.0, 3.0]).view(3, 1, 1, 1), 1.0)
        (tensor([[[1]]]), tensor([[[2.]]]))
    """
    x, batched = as_batch(potentials, "potentials")
    _check_threshold_shape(threshold, potentials.shape)  # against the caller's shape, before batching
    mask = _firing_mask(x, threshold)
    first, val = _first_and_value(x, mask)
    return (first, val) if batched else (first[0], val[0])


def _as_times(times: torch.Tensor, values: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, bool]:
    _check_tensor(times, "times")
    _check_tensor(values, "values")
    if times.shape != values.shape:
        raise ValueError(f"times {tuple(times.shape)} and values {tuple(values.shape)} must have the same shape")
    if times.dim() == 3:
        return times.unsqueeze(0).long(), values.unsqueeze(0), False
    if times.dim() == 4:
        return times.long(), values, True
    raise ValueError(f"times must be [C, H, W] or [B, C, H, W], got {tuple(times.shape)}")


def pointwise_inhibition_times(
    times: torch.Tensor, values: torch.Tensor, time_steps: int
) -> Tuple[torch.Tensor, torch.Tensor]:
    r"""Latency form of :func:`pointwise_inhibition` (see :func:`first_spike`).

    Losers get time ``time_steps`` (never) and value 0.

    Args:
        times: first firing steps (``>= time_steps`` = never).
        values: potentials at those steps.
        time_steps: ``T``.

    Shape:
        ``[C, H, W]`` or ``[B, C, H, W]``, both outputs alike.

    Example:
        >>> t, v = pointwise_inhibition_times(torch.tensor([[[1]], [[0]]]), torch.tensor([[[5.]], [[1.]]]), 2)
        >>> t.flatten().tolist(), v.flatten().tolist()
        ([2, 0], [0.0, 1.0])
    """
    time_steps = V.non_negative_int(time_steps, "time_steps")
    t, v, batched = _as_times(times, values)
    if t.numel() == 0:
        return (t, v.clone()) if batched else (t[0], v[0].clone())
    t = t.clamp(0, time_steps)  # a step before 0 means firing from the start, as in spike_wave
    keep = _pointwise_keep(t, v, time_steps, "values")
    t = torch.where(keep, t, torch.full_like(t, time_steps))
    v = torch.where(keep, v, torch.zeros((), dtype=v.dtype, device=v.device))
    return (t, v) if batched else (t[0], v[0])


def _k_winners_compact(
    first: torch.Tensor, val: torch.Tensor, time_steps: int, kwta: int, inhibition_radius: int,
    finite: Optional[torch.Tensor] = None, name: str = "potentials",
) -> torch.Tensor:
    """Winners ``[B, min(kwta, C), 3]`` (``-1`` padded) from first times and values ``[B, C, H, W]``.

    One argmax over the batch per winner; exclusions are written in place
    (the feature's map, and a window of the padded score map), with no host sync.
    Every winner excludes its feature map, so there are never more than ``C``.
    """
    b, c, h, w = first.shape
    kwta = min(kwta, c)
    if kwta == 0 or first.numel() == 0:
        return torch.full((b, kwta, 3), -1, dtype=torch.long, device=first.device)
    rad = min(inhibition_radius, max(h, w))  # a larger radius excludes nothing more: no giant padding
    key = _rank_key(first, val, time_steps, finite, name)
    if rad > 0:
        key = F.pad(key, (rad, rad, rad, rad), value=float("-inf"))
    hp, wp = h + 2 * rad, w + 2 * rad
    flat = key.view(b, c, hp * wp)
    dev = first.device
    bidx = torch.arange(b, device=dev)
    win = torch.arange(2 * rad + 1, device=dev)
    out = torch.full((b, kwta, 3), -1, dtype=torch.long, device=dev)
    for k in range(kwta):
        best, idx = flat.view(b, -1).max(dim=1)
        valid = best > float("-inf")
        f = idx // (hp * wp)
        r = (idx // wp) % hp
        col = idx % wp
        found = torch.stack((f, r - rad, col - rad), dim=1)
        out[:, k] = torch.where(valid.unsqueeze(1), found, out[:, k])
        if k == kwta - 1:
            break
        flat[bidx, f] = float("-inf")  # the winner's feature map
        if rad > 0:  # every feature within the window (padded rows/cols absorb the overflow)
            rr = (r - rad).view(b, -1, 1) + win.view(1, -1, 1)
            cc = (col - rad).view(b, 1, -1) + win.view(1, 1, -1)
            key[bidx.view(b, 1, 1, 1), :, rr.unsqueeze(-1), cc.unsqueeze(-1)] = float("-inf")
    return out


def _winners_output(out: torch.Tensor, batched: bool, as_tensor: bool):
    if as_tensor:
        return out if batched else out[0]
    rows_list = out.tolist()  # one host transfer
    result = [[tuple(wn) for wn in sample if wn[0] >= 0] for sample in rows_list]
    return result if batched else result[0]


def _check_k(n_winners: object, kwta: object, inhibition_radius: object) -> Tuple[int, int]:
    """Resolve ``n_winners`` (old name ``kwta``) and check both counts; returns ``(k, radius)``."""
    name = "kwta" if kwta is not None else "n_winners"
    k = V.n_winners(V.resolve_alias(n_winners, kwta, "n_winners", "kwta", 1), name)
    return k, V.non_negative_int(inhibition_radius, "inhibition_radius")


def get_k_winners_times(
    times: torch.Tensor,
    values: torch.Tensor,
    time_steps: int,
    n_winners: Optional[int] = None,
    inhibition_radius: int = 0,
    *,
    as_tensor: bool = False,
    kwta: Optional[int] = None,
) -> Union[List[Winner], List[List[Winner]], torch.Tensor]:
    r"""Latency form of :func:`get_k_winners` (see :func:`first_spike`).

    Args:
        times: first firing steps (``>= time_steps`` = never).
        values: potentials at those steps.
        time_steps: ``T``.
        n_winners: maximum number of winners (>= 0; at most ``C`` are
            returned). Default: ``1``.
        inhibition_radius: exclusion radius. Default: ``0``.
        as_tensor: return a ``-1``-padded long tensor. Default: ``False``.
        kwta: old name of ``n_winners``, still accepted.

    Shape:
        ``times``/``values``: ``[C, H, W]`` or ``[B, C, H, W]``.

    Example:
        >>> times = torch.tensor([[[2]], [[0]]])   # feature 1 fires first
        >>> get_k_winners_times(times, torch.tensor([[[9.0]], [[1.0]]]), 3, kwta=2)
        [(1, 0, 0), (0, 0, 0)]
    """
    k, rad = _check_k(n_winners, kwta, inhibition_radius)
    time_steps = V.non_negative_int(time_steps, "time_steps")
    t, v, batched = _as_times(times, values)
    out = _k_winners_compact(t.clamp(0, time_steps), v, time_steps, k, rad, name="values")
    return _winners_output(out, batched, as_tensor)


def _feature_mask(
    inhibited_features: Union[Sequence[int], torch.Tensor], b: int, c: int, device: torch.device
) -> torch.Tensor:
    """``[B, C]`` boolean mask of the features to inhibit."""
    f = inhibited_features
    if not isinstance(f, torch.Tensor):
        if isinstance(f, (str, bytes)):
            raise TypeError(f"inhibited_features must be feature indices or a bool mask, got {type(f).__name__}")
        try:
            items = f if isinstance(f, (Sequence, np.ndarray)) else list(f)
            f = torch.as_tensor(items) if len(items) else torch.zeros(0, dtype=torch.long)
        except (TypeError, ValueError, RuntimeError) as e:
            raise TypeError(
                "inhibited_features must be a sequence of ints (or of bools: a mask), a long tensor or a bool mask"
            ) from e
    V.real_tensor(f, "inhibited_features")
    f = f.to(device)
    if f.dtype == torch.bool:
        if f.shape == (c,):
            return f.unsqueeze(0).expand(b, c)
        if f.shape == (b, c):
            return f
        raise ValueError(
            f"inhibited_features as a bool mask must have shape [C]={c} or [B, C]=({b}, {c}), "
            f"got {tuple(f.shape)}"
        )
    if f.is_floating_point():  # a fractional index has no meaning; an integral float is a typo to report
        raise TypeError(
            f"inhibited_features must be integer indices or a bool mask, got dtype {f.dtype} "
            f"(values {f.flatten()[:8].tolist()})"
        )
    f = f.long().flatten()
    if f.numel() and (int(f.min()) < -c or int(f.max()) >= c):
        raise ValueError(f"inhibited_features must index features in [0, {c}), got {f.tolist()}")
    mask = torch.zeros(c, dtype=torch.bool, device=device)
    if f.numel():
        mask[f % c] = True
    return mask.unsqueeze(0).expand(b, c)


def feature_inhibition_(
    potentials: torch.Tensor, inhibited_features: Union[Sequence[int], torch.Tensor]
) -> torch.Tensor:
    r"""Zero whole feature maps in place, so they cannot fire or win.

    Args:
        potentials: potentials or spike-wave.
        inhibited_features: feature indices (a sequence of ints, e.g. a list, or
            an integer tensor of any shape, such as the ``[n, 1]`` of
            ``torch.nonzero``; the same for every sample), or a bool mask ``[C]``
            or ``[B, C]`` (per sample; a list of bools is a mask too, as in
            SpykeTorch's indexing). Fractional (floating) indices are refused.

    Shape:
        ``[T, C, H, W]`` or ``[B, T, C, H, W]``.

    Example:
        >>> p = torch.ones(1, 3, 1, 1)
        >>> feature_inhibition_(p, [0, 2]).flatten()
        tensor([0., 1., 0.])
    """
    x, _ = as_batch(potentials, "potentials")
    b, _, c, _, _ = x.shape
    mask = _feature_mask(inhibited_features, b, c, x.device)
    x.masked_fill_(mask.view(b, 1, c, 1, 1), 0)
    return potentials


def feature_inhibition(
    potentials: torch.Tensor, inhibited_features: Union[Sequence[int], torch.Tensor]
) -> torch.Tensor:
    r"""Out-of-place version of :func:`feature_inhibition_`.

    Example:
        >>> p = torch.ones(1, 3, 1, 1)
        >>> feature_inhibition(p, [1]).flatten(), p.flatten()  # p itself is unchanged
        (tensor([1., 0., 1.]), tensor([1., 1., 1.]))
    """
    as_batch(potentials, "potentials")
    return feature_inhibition_(potentials.clone(), inhibited_features)


def get_k_winners(
    potentials: torch.Tensor,
    n_winners: Optional[int] = None,
    inhibition_radius: int = 0,
    spikes: Optional[torch.Tensor] = None,
    *,
    as_tensor: bool = False,
    kwta: Optional[int] = None,
) -> Union[List[Winner], List[List[Winner]], torch.Tensor]:
    r"""Select up to ``n_winners`` winner neurons (feature, row, column).

    Neurons are ranked by their earliest spike, then by their potential at
    that step, then by the lowest flat index ``(feature, row, column)``. After a
    neuron wins, its whole feature map is excluded, and so is every neuron of
    every feature within Chebyshev distance ``inhibition_radius`` of its
    position (if the radius is > 0). Selection stops early when no neuron that
    fired remains. Only neurons that fired at least once can win.

    Each winner excludes its feature map, so at most ``C`` neurons win: a
    larger ``n_winners`` is clamped to ``C`` (``K = min(n_winners, C)``).
    SpykeTorch ranks by one score per neuron in the potentials' dtype,
    ``count * (value + T * max value)``, which makes potentials closer than its
    rounding tie (then the lowest index wins); here they are told apart, so the
    two can differ only on such near-ties (none in 1,200 training steps of
    KheradpishehDeep's two layers on MNIST digits). The
    loop runs ``K`` times over the whole batch; there is no host
    synchronisation inside it. Empty inputs (``T``, ``B``, ``C``, ``H`` or
    ``W`` of 0) have no winners.

    Args:
        potentials: (thresholded) potentials, finite.
        n_winners: maximum number of winners (int >= 0). Default: ``1``.
        inhibition_radius: radius of the spatial exclusion. Default: ``0``.
        spikes: spike-wave of the same shape; default ``potentials > 0``.
        as_tensor: return a long tensor instead of Python lists. Default: ``False``.
        kwta: old name of ``n_winners``, still accepted.

    Returns:
        Unbatched: a list of ``(feature, row, column)`` tuples, best first.
        Batched: a list (one per sample) of such lists. With ``as_tensor=True``
        a long tensor ``[K, 3]`` (``[B, K, 3]``) whose unused rows are ``-1``.

    Shape:
        ``potentials``: ``[T, C, H, W]`` or ``[B, T, C, H, W]``.

    Example:
        >>> p = torch.zeros(3, 2, 1, 4)
        >>> p[2, 0, 0, 1] = 9.0; p[1:, 1, 0, 3] = 1.0   # feature 1 fires first
        >>> get_k_winners(p, kwta=2)
        [(1, 0, 3), (0, 0, 1)]
    """
    x, batched = as_batch(potentials, "potentials")
    k, rad = _check_k(n_winners, kwta, inhibition_radius)
    if spikes is None:
        s = x > 0
    else:
        s5, _ = as_batch(spikes, "spikes")
        if s5.shape != x.shape:
            raise ValueError(
                f"spikes must have the shape of potentials {tuple(potentials.shape)}, got {tuple(spikes.shape)}"
            )
        s = s5 > 0
    first, val = _first_and_value(x, s)
    finite = torch.isfinite(x).all() if x.is_floating_point() else None
    out = _k_winners_compact(first, val, x.shape[1], k, rad, finite)
    return _winners_output(out, batched, as_tensor)


# ----------------------------------------------------------------------------
# intensity-domain operations (images, not spike-waves)
# ----------------------------------------------------------------------------
_LATERAL_MODES = ("strengthen", "weaken")


def intensity_lateral_inhibition(
    intensities: torch.Tensor, inhibition_kernel: torch.Tensor, mode: str = "strengthen"
) -> torch.Tensor:
    r"""Lateral inhibition between the intensities of neighbouring pixels.

    Every pixel is compared with its neighbours in the same map; the kernel
    gives the fraction :math:`K_{q-p}` of each offset. ``mode="strengthen"``
    (the default) computes what SpykeTorch's code computes: every pixel gains
    that fraction of itself for each neighbour that is strictly *weaker*

    .. math::
        I'_p = I_p \Big(1 + \sum_{q \ne p} K_{q-p}\,\mathbb{1}[I_p > I_q]\Big)

    and pixels beyond the border count as zero intensity (so they are weaker
    than any positive pixel). ``mode="weaken"`` computes what SpykeTorch's
    documentation describes: every pixel loses that fraction of itself for each
    neighbour that is strictly *stronger* (never below zero; pixels beyond the
    border never inhibit):

    .. math::
        I'_p = I_p \,\max\Big(0,\; 1 - \sum_{q \ne p} K_{q-p}\,\mathbb{1}[I_q > I_p]\Big)

    Both raise the contrast between a local maximum and its surround. Maps are
    processed independently, so any leading dimensions (channels, batch) are
    allowed: SpykeTorch's ``[1, C, H, W]`` gives ``[1, C, H, W]``.

    Args:
        intensities: intensities.
        inhibition_kernel: ``[k, k]`` (``k`` odd) non-negative, finite
            fractions; the centre is ignored. See
            :func:`spyketorch.utils.generate_inhibition_kernel`.
        mode: ``"strengthen"`` or ``"weaken"``. Default: ``"strengthen"``.

    Shape:
        - Input: ``[..., H, W]``.
        - Output: same as input.

    Example:
        >>> k = torch.tensor([[0., 0., 0.], [0.5, 0., 0.], [0., 0., 0.]])   # left neighbour, half
        >>> intensity_lateral_inhibition(torch.tensor([[4.0, 2.0]]), k)   # 4 > 0 (border), 2 < 4
        tensor([[6., 2.]])
        >>> intensity_lateral_inhibition(torch.tensor([[4.0, 2.0]]), k, mode="weaken")
        tensor([[4., 1.]])
    """
    _check_tensor(intensities, "intensities")
    _check_tensor(inhibition_kernel, "inhibition_kernel")
    if mode not in _LATERAL_MODES:
        raise ValueError(f"mode must be one of {_LATERAL_MODES}, got {mode!r}")
    if intensities.dim() < 2:
        raise ValueError(f"intensities must have at least 2 dimensions, got {intensities.dim()}")
    k = inhibition_kernel.squeeze() if inhibition_kernel.numel() > 1 else inhibition_kernel.reshape(1, 1)
    if k.dim() != 2 or k.shape[0] != k.shape[1] or k.shape[0] % 2 == 0:
        raise ValueError(f"inhibition_kernel must be a square [k, k] tensor with odd k, got {tuple(inhibition_kernel.shape)}")
    V.finite_tensor(inhibition_kernel, "inhibition_kernel")
    if bool((k < 0).any()):
        raise ValueError("inhibition_kernel must hold fractions >= 0 (a negative fraction turns inhibition around)")
    size = k.shape[0]
    rad = size // 2
    lead = intensities.shape[:-2]
    h, w = intensities.shape[-2:]
    if intensities.numel() == 0:
        return intensities.clone()
    x = intensities.reshape(-1, 1, h, w)
    if not x.is_floating_point():  # the kernel holds fractions: an integer dtype would zero them
        x = x.float()
    k = k.to(device=x.device, dtype=x.dtype).clone()
    k[rad, rad] = 0
    patches = F.unfold(x, size, padding=rad)  # [N, k*k, H*W]; beyond the border: 0
    centre = x.reshape(-1, 1, h * w)
    if mode == "strengthen":
        weaker = (centre > patches).to(x.dtype)
        factor = torch.einsum("npl,p->nl", weaker, k.reshape(-1))
        out = x.reshape(-1, h * w) * (1 + factor)
        if x.is_floating_point() and not bool(torch.isfinite(out).all()) and bool(torch.isfinite(x).all()):
            raise ValueError(
                f"intensities times (1 + the inhibition_kernel's fractions) overflow {x.dtype} (largest "
                f"|intensity| {float(x.abs().max()):.3g}, fractions summing to {float(k.sum()):.3g}); "
                "use smaller values or float64"
            )
    else:
        if rad > 0:  # border pixels never inhibit: mark them as not stronger than anything
            inside = F.unfold(torch.ones(1, 1, h, w, dtype=x.dtype, device=x.device), size, padding=rad) > 0
        else:
            inside = torch.ones(1, 1, h * w, dtype=torch.bool, device=x.device)
        stronger = ((patches > centre) & inside).to(x.dtype)
        factor = torch.einsum("npl,p->nl", stronger, k.reshape(-1))
        out = x.reshape(-1, h * w) * (1 - factor).clamp_(min=0)
    return out.reshape(*lead, h, w)


def local_normalization(input: torch.Tensor, normalization_radius: int, eps: float = 1e-12) -> torch.Tensor:
    r"""Divide every value by the mean of its local square window.

    .. math::
        y_{h,w} = \frac{x_{h,w}}{\frac{1}{(2r+1)^2}\sum_{|i|,|j| \le r} x_{h+i,w+j} + \epsilon}

    Values beyond the border count as zero (the divisor is always
    :math:`(2r+1)^2`). Each map (last two dimensions) is normalised on its own.

    Args:
        input: intensities.
        normalization_radius: window radius :math:`r` (>= 0).
        eps: added to the mean to avoid division by zero (finite, > 0).
            Default: ``1e-12``. Half-precision input is normalised in
            float32 (where ``eps`` does not underflow) and returned in its dtype.

    Shape:
        - Input: ``[..., H, W]``.
        - Output: same as input.

    Example:
        >>> local_normalization(torch.full((1, 3, 3), 2.0), 0)
        tensor([[[1., 1., 1.],
                 [1., 1., 1.],
                 [1., 1., 1.]]])
    """
    _check_tensor(input, "input")
    radius = V.non_negative_int(normalization_radius, "normalization_radius")
    eps = V.positive(eps, "eps")
    if input.dim() < 2:
        raise ValueError(f"input must have at least 2 dimensions, got {input.dim()}")
    h, w = input.shape[-2:]
    out_dtype = input.dtype if input.is_floating_point() else torch.float32
    if input.numel() == 0:
        return input.to(out_dtype).clone()
    x = input.reshape(-1, 1, h, w)
    if x.dtype not in (torch.float32, torch.float64):
        x = x.float()
    size = 2 * radius + 1
    if radius >= max(h, w):  # every window holds the whole map: its sum, without a giant kernel
        inv = 1 / size  # exact int division: 0.0 for a side beyond float's range, never OverflowError
        means = x.sum(dim=(-2, -1), keepdim=True) * inv * inv
    else:
        # the mean as SpykeTorch computes it (a convolution with 1/(2r+1)^2), so that the
        # normalised values, and the latency order built on them, are the same to the last bit
        kernel = torch.ones(1, 1, size, size, dtype=x.dtype, device=x.device) / (size * size)
        means = F.conv2d(x, kernel, padding=radius)
    return (x / (means + eps)).reshape(input.shape).to(out_dtype)


# ----------------------------------------------------------------------------
# latency helpers
# ----------------------------------------------------------------------------
def spike_times(spikes: torch.Tensor, time_dim: int = 0) -> torch.Tensor:
    r"""First-spike step of every neuron of an accumulating spike-wave (``T`` if it never fires).

    Computed as ``T`` minus the number of firing steps (SpykeTorch's latency).

    Args:
        spikes: spike-wave (any dtype; non-zero = spike).
        time_dim: the time dimension. Default: ``0`` (use ``1`` for a batch).

    Shape:
        - Input: ``[..., T, ...]``.
        - Output: the input's shape without ``time_dim`` (``torch.long``).

    Example:
        >>> spike_times(torch.tensor([[0., 1.], [1., 1.], [1., 1.]]))
        tensor([1, 0])
    """
    _check_tensor(spikes, "spikes")
    time_dim = V.integer(time_dim, "time_dim")
    if not -spikes.dim() <= time_dim < spikes.dim():
        raise ValueError(f"time_dim must index a dimension of spikes (rank {spikes.dim()}), got {time_dim}")
    t = spikes.shape[time_dim]
    return t - (spikes != 0).sum(dim=time_dim, dtype=torch.int64)


def spike_wave(times: torch.Tensor, time_steps: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    r"""Accumulating spike-wave from first-spike steps (inverse of :func:`spike_times`).

    .. math::
        S_{t, i} = \mathbb{1}[t \ge t_i]

    Args:
        times: first-spike step of every neuron; values ``>= time_steps`` never fire.
        time_steps: number of steps ``T`` (>= 1: a wave without a step could
            hold none of the spikes).
        dtype: output dtype. Default: ``torch.float32``.

    Shape:
        - Input: ``[C, H, W]`` or ``[B, C, H, W]`` (any shape ``S``).
        - Output: ``[T, *S]`` for 3-D input, ``[B, T, ...]`` for 4-D input.

    Example:
        >>> spike_wave(torch.tensor([[[1, 3]]]), 3)[:, 0, 0]
        tensor([[0., 0.],
                [1., 0.],
                [1., 0.]])
    """
    _check_tensor(times, "times")
    time_steps = V.positive_int(time_steps, "time_steps")
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be a torch.dtype, got {type(dtype).__name__}")
    V.allocation(times.numel() * time_steps, torch.empty((), dtype=dtype).element_size(), "time_steps", time_steps)
    if times.is_floating_point():  # a cast of NaN/inf to an integer is undefined
        V.finite_tensor(times, "times")
        times = times.clamp(min=-1, max=time_steps)
    tdtype = times.dtype if times.dtype in (torch.uint8, torch.int16, torch.int32, torch.int64) else torch.int64
    steps = torch.arange(time_steps, device=times.device).clamp_(max=torch.iinfo(tdtype).max).to(tdtype)
    times = times.to(tdtype)
    if times.dim() == 4:
        wave = steps.view(1, -1, 1, 1, 1) >= times.unsqueeze(1)
    else:
        wave = steps.view((-1,) + (1,) * times.dim()) >= times.unsqueeze(0)
    return wave.to(dtype)
