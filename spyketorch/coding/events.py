r"""Event-camera input: static images turned into N-MNIST-like event streams, and ``tonic`` event arrays.

:func:`saccade_events` is an **approximation** of how N-MNIST (Orchard et al., 2015) was
recorded: there, an ATIS camera on a pan-tilt unit made three saccades in front of a
monitor showing each MNIST digit. Here the image itself is moved along three straight
saccades (a closed triangle) with bilinear interpolation, and an ideal event camera emits an
ON (OFF) event at a pixel each time its log intensity has risen (fallen) by the contrast
threshold since that pixel's last event:

.. math::
    L = \log(\epsilon + I/255), \qquad
    n^{\pm}_{x}(\tau) = \Big\lfloor \frac{\pm(L_x(\tau) - L^{ref}_x)}{C} \Big\rfloor_{+}, \qquad
    L^{ref}_x \leftarrow L^{ref}_x \pm n^{\pm}_x C

Events are counted in ``T`` equal time bins, giving frames ``[T, 2, H, W]`` in ``tonic``'s
channel order: channel 0 holds polarity 0 (OFF), channel 1 polarity 1 (ON), as
``tonic.transforms.ToFrame`` makes them. Unlike the real recordings there is no sensor noise, no refractory period
of the pixels, no latency jitter, no monitor flicker and the frame keeps the image size
(N-MNIST is 34 x 34). It is deterministic.

:func:`events_to_frames` bins structured event arrays in the format of the ``tonic``
package (fields ``x``, ``y``, ``t``, ``p``) into the same frames, so real N-MNIST or DVS
Gesture recordings feed the same networks; ``tonic`` itself is not needed, and frames made
by ``tonic.transforms.ToFrame(sensor_size, n_time_bins=T)`` (as a float tensor) can be used
in their place: the channel order is the same, and ``binning="tonic"`` reproduces its bins.
"""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .. import _validation as V

__all__ = ["saccade_path", "saccade_events", "events_to_frames"]


def saccade_path(steps: int, amplitude: float = 2.0, device: Optional[torch.device] = None) -> Tensor:
    r"""Image displacement ``[steps, 2]`` (dx, dy in pixels) along three saccades.

    The three saccades go ``(0, 0) -> (A/2, A) -> (A, 0) -> (0, 0)`` at constant speed,
    each taking a third of the ``steps`` (the last position closes the triangle).

    Args:
        steps: number of sub-steps (>= 3).
        amplitude: :math:`A` in pixels. Default: 2.0.
        device: device of the result. Default: ``None`` (CPU).

    Example:
        >>> saccade_path(6, 2.0)[[0, 2, 4]].tolist()
        [[0.0, 0.0], [1.0, 2.0], [2.0, 0.0]]
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 3:
        raise ValueError(f"steps must be an int >= 3, got {steps!r}")
    if not isinstance(amplitude, (int, float)) or not math.isfinite(amplitude) or amplitude <= 0:
        raise ValueError(f"amplitude must be a positive number, got {amplitude!r}")
    a = float(amplitude)
    verts = torch.tensor([[0.0, 0.0], [a / 2, a], [a, 0.0], [0.0, 0.0]], device=device, dtype=torch.float64)
    tau = torch.arange(steps, device=device, dtype=torch.float64) * 3.0 / steps  # in [0, 3)
    seg = tau.floor().long().clamp(max=2)
    frac = (tau - seg).unsqueeze(1)
    return (verts[seg] + frac * (verts[seg + 1] - verts[seg])).float()


def _shift(images: Tensor, dx: float, dy: float) -> Tensor:
    """Images ``[B, 1, H, W]`` translated by (dx, dy) pixels, bilinear, zero outside."""
    b, _, h, w = images.shape
    theta = images.new_tensor([[1.0, 0.0, -2.0 * dx / w], [0.0, 1.0, -2.0 * dy / h]]).expand(b, 2, 3)
    grid = F.affine_grid(theta, (b, 1, h, w), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def saccade_events(
    images: Tensor,
    time_steps: int = 15,
    contrast: float = 0.2,
    amplitude: float = 2.0,
    substeps: int = 4,
    eps: float = 0.05,
) -> Tensor:
    r"""N-MNIST-like event frames of static images (an approximation; see the module doc).

    Args:
        images: intensities in ``[0, 255]``, ``[H, W]``, ``[B, H, W]`` or ``[B, 1, H, W]``.
        time_steps: number of frames ``T``. Default: 15.
        contrast: log-intensity contrast threshold :math:`C`. Default: 0.2.
        amplitude: saccade amplitude in pixels. Default: 2.0.
        substeps: simulated camera samples per frame. Default: 4.
        eps: offset :math:`\epsilon` of the log (dark pixels). Default: 0.05.

    Returns:
        Event counts ``[B, T, 2, H, W]`` (``[T, 2, H, W]`` for one ``[H, W]`` image), float32,
        channel 0 OFF and channel 1 ON (``tonic``'s order: polarity 0 first).

    Example:
        >>> img = torch.zeros(8, 8); img[3:5, 3:5] = 255.0
        >>> ev = saccade_events(img, time_steps=3)
        >>> ev.shape, bool(ev[:, 0].sum() > 0), bool(ev[:, 1].sum() > 0)   # OFF and ON events
        (torch.Size([3, 2, 8, 8]), True, True)
    """
    if not isinstance(images, Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    single = images.dim() == 2
    x = images.unsqueeze(0).unsqueeze(0) if single else images.unsqueeze(1) if images.dim() == 3 else images
    if x.dim() != 4 or x.shape[1] != 1:
        raise ValueError(f"images must be [H, W], [B, H, W] or [B, 1, H, W], got {tuple(images.shape)}")
    for name, v in (("time_steps", time_steps), ("substeps", substeps)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    for name, v in (("contrast", contrast), ("eps", eps)):
        if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            raise ValueError(f"{name} must be a positive number, got {v!r}")
    x = x.float()
    if not torch.isfinite(x).all():
        raise ValueError("images must be finite")
    n = time_steps * substeps
    path = saccade_path(max(n, 3), amplitude).tolist()
    b, _, h, w = x.shape
    log_ref = torch.log(eps + x / 255.0)
    frames = x.new_zeros(b, time_steps, 2, h, w)
    for i in range(1, n + 1):  # the last sample closes the triangle (back at the start)
        dx, dy = path[i] if i < len(path) else path[0]
        log_now = torch.log(eps + _shift(x, dx, dy).clamp(min=0.0) / 255.0)
        diff = log_now - log_ref
        # the 1e-4 slack absorbs rounding: a pixel back at a level it left by n contrasts counts n
        count = torch.floor(diff.abs() / contrast + 1e-4)
        on = torch.where(diff > 0, count, torch.zeros_like(count))
        off = count - on
        log_ref = log_ref + torch.sign(diff) * count * contrast
        frames[:, (i - 1) // substeps, 0:1] += off
        frames[:, (i - 1) // substeps, 1:2] += on
    return frames[0] if single else frames


_BINNINGS = ("span", "tonic")


def events_to_frames(
    events: Any,
    sensor_size: Sequence[int],
    time_steps: int,
    t_range: Optional[Tuple[float, float]] = None,
    binning: str = "span",
) -> Tensor:
    r"""Bin a structured event array (``tonic`` format) into frames ``[T, 2, H, W]``.

    Channels follow ``tonic.transforms.ToFrame``: channel 0 holds polarity 0
    (OFF; also ``False`` and the ``-1`` of the ``{-1, 1}`` convention: every
    ``p <= 0``), channel 1 polarity 1 (ON, every ``p > 0``). Events outside the
    sensor are dropped. The time span is ``t_range`` (default: from the first
    to the last event), cut into ``T`` bins:

    * ``binning="span"`` (default): ``T`` equal bins that cover the span
      exactly, :math:`b = \lfloor T (t - t_0) / (t_1 - t_0) \rfloor`, the last
      bin including its end, so every event inside the span is counted.
    * ``binning="tonic"``: the bins of ``ToFrame(sensor_size, n_time_bins=T)``:
      width :math:`w = \lfloor (t_1 - t_0) / T \rfloor` (floor division in the
      unit of ``t``), bin :math:`i` holding :math:`t_0 + i w \le t < t_0 + (i+1) w`.
      Like tonic, this leaves out every event at or after :math:`t_0 + T w`:
      always the last event of the span (``t = t_1``), and, when ``T`` does not
      divide the span, the events of the remainder; a span shorter than ``T``
      units gives empty frames. tonic takes :math:`t_0, t_1` from the first and
      last events of the array (it expects them sorted by time); here they are
      the smallest and largest ``t``, the same for a sorted array.

    For a span that ``T`` divides, the two binnings differ only in the events at
    :math:`t = t_1`, which ``"span"`` puts into the last bin and ``"tonic"`` drops.

    Args:
        events: numpy structured array with fields ``x``, ``y``, ``t``, ``p``.
        sensor_size: ``(W, H)`` or ``(W, H, 2)`` as in ``tonic`` (two polarities).
        time_steps: number of frames ``T``.
        t_range: ``(t_start, t_end)``. Default: ``None``.
        binning: ``"span"`` or ``"tonic"``. Default: ``"span"``.

    Returns:
        float32 event counts ``[T, 2, H, W]``.

    Example:
        >>> ev = np.array([(1, 0, 0.0, 1), (1, 0, 10.0, 0)],
        ...               dtype=[("x", "<i2"), ("y", "<i2"), ("t", "<f8"), ("p", "<i1")])
        >>> events_to_frames(ev, (3, 2), 2)[:, :, 0, 1].tolist()   # [T, (OFF, ON)] at x=1, y=0
        [[0.0, 1.0], [1.0, 0.0]]
        >>> events_to_frames(ev, (3, 2), 2, binning="tonic")[:, :, 0, 1].tolist()   # the end event is left out
        [[0.0, 1.0], [0.0, 0.0]]
    """
    if not isinstance(events, np.ndarray) or events.dtype.names is None:
        raise TypeError("events must be a numpy structured array with fields x, y, t, p")
    missing = {"x", "y", "t", "p"} - set(events.dtype.names)
    if missing:
        raise ValueError(f"events lack the fields {sorted(missing)}")
    if len(sensor_size) not in (2, 3) or any(int(s) < 1 for s in sensor_size[:2]):
        raise ValueError(f"sensor_size must be (W, H) or (W, H, P), got {tuple(sensor_size)}")
    if len(sensor_size) == 3 and int(sensor_size[2]) != 2:
        raise ValueError(f"sensor_size must have two polarities (W, H, 2): the frames hold OFF and ON, got {tuple(sensor_size)}")
    if isinstance(time_steps, bool) or not isinstance(time_steps, int) or time_steps < 1:
        raise ValueError(f"time_steps must be a positive int, got {time_steps!r}")
    if binning not in _BINNINGS:
        raise ValueError(f"binning must be one of {_BINNINGS}, got {binning!r}")
    w, h = int(sensor_size[0]), int(sensor_size[1])
    V.allocation(time_steps * 2 * h * w, 4, "time_steps", time_steps)
    frames = torch.zeros(time_steps * 2 * h * w, dtype=torch.float32)
    if events.size == 0:
        return frames.view(time_steps, 2, h, w)
    x = torch.from_numpy(np.ascontiguousarray(events["x"], dtype=np.int64))
    y = torch.from_numpy(np.ascontiguousarray(events["y"], dtype=np.int64))
    t = torch.from_numpy(np.ascontiguousarray(events["t"], dtype=np.float64))
    p = torch.from_numpy(np.ascontiguousarray(events["p"]).astype(np.float64) > 0)
    t0, t1 = (float(t.min()), float(t.max())) if t_range is None else (float(t_range[0]), float(t_range[1]))
    if not (math.isfinite(t0) and math.isfinite(t1)) or not t1 >= t0:
        raise ValueError(f"t_range must be finite with t_end >= t_start, got {(t0, t1)}")
    if binning == "span":
        span = t1 - t0 if t1 > t0 else 1.0
        b = torch.floor((t - t0) / span * time_steps).long()
        b = torch.where(t == t1, torch.full_like(b, time_steps - 1), b)
        in_time = (t >= t0) & (t <= t1)
    else:
        width = (t1 - t0) // time_steps
        starts = torch.arange(time_steps, dtype=torch.float64) * width + t0  # tonic's window starts
        b = torch.searchsorted(starts, t, right=True) - 1
        in_time = (b >= 0) & (t < starts[b.clamp(min=0)] + width)
    keep = in_time & (b >= 0) & (b < time_steps) & (x >= 0) & (x < w) & (y >= 0) & (y < h)
    ch = p.long()
    idx = ((b * 2 + ch) * h + y) * w + x
    frames.index_add_(0, idx[keep], torch.ones(int(keep.sum()), dtype=torch.float32))
    return frames.view(time_steps, 2, h, w)
