r"""The step of a neuron layer as one pure function of torch operations.

:func:`neuron_step` runs, for a model's declaration and a state, every stage of one time step::

    advance (the model: exact step or forward Euler of rhs)  ->  noise  ->  refractory clamp
        ->  floor / cap  ->  fire  ->  second variable and its jump  ->  k-winners-take-all
        ->  lateral inhibition  ->  reset  ->  outputs

and returns the new state next to the outputs. It reads no layer, mutates none of its
inputs and syncs with no host, so every backend runs this one function: the eager step
calls it, the compiled step traces it into fused kernels (C++ on the CPU, Triton on a GPU),
a user's ``torch.compile`` inlines it, and autograd differentiates it when the spike has a
surrogate gradient.

k-WTA tie rule: winners rank by potential, highest first; among equal potentials the
lowest feature index wins first, and within a map the lowest row-major location (the order
of the reference's iterative argmax and of :func:`spyketorch.functional.get_k_winners`).

The refractory counter ``r`` holds whole numbers of steps. It has the shape its inhibition
needs and broadcasts against the potentials: ``[B, C, 1, 1]`` for ``"feature"``,
``[B, 1, H, W]`` for ``"location"``, ``[B, 1, 1, 1]`` for ``"layer"`` (and ``"none"``),
``[B, C, H, W]`` for ``"neuron"`` (or any broadcastable shape, e.g. after
:meth:`~spyketorch.neurons.Neuron.load_state`).
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional, Tuple, Union

import torch
from torch import Tensor

Scalar = Union[float, Tensor]


class StepOutput(NamedTuple):
    """Everything one step of a neuron layer produces, as tensors on the input's device.

    Attributes:
        spikes: spike tensor ``[B, C, H, W]``; ``1/ts`` where a neuron fired (1 for
            the ``_Simple`` models), 0 elsewhere.
        potentials: membrane potentials after the step (after reset), ``[B, C, H, W]``.
            :class:`~spyketorch.neurons.EIF_Simple` returns the potentials before reset, as the reference.
        thresholded: potentials of the neurons that fired (before reset), 0 elsewhere.
        dudt: change of the potential over the step, before reset, ``[B, C, H, W]``.
        winners: ``[B, K, 3]`` long tensor of ``(feature, row, col)``, best first,
            ``K = min(k, C)``, ``-1`` rows where fewer than ``K`` neurons won.
        winning_spikes: spikes of the winners only, ``[B, C, H, W]``.

    Fields the caller did not ask :meth:`~spyketorch.neurons.Neuron.step` for are ``None``.

    Example:
        >>> out = LIF(threshold=10.0).step(torch.full((1, 2, 3, 3), 5000.0), n_winners=1)
        >>> out._fields
        ('spikes', 'potentials', 'thresholded', 'dudt', 'winners', 'winning_spikes')
        >>> out.spikes.max().item(), out.winners.tolist()
        (1000.0, [[[0, 0, 0]]])
    """

    spikes: Tensor
    potentials: Tensor
    thresholded: Optional[Tensor]
    dudt: Optional[Tensor]
    winners: Optional[Tensor]
    winning_spikes: Optional[Tensor]


class StepConfig(NamedTuple):
    """The settings of one step that shape its computation (hashable: a compiled step is
    specialised on them)."""

    mode: str                 #: inhibition mode
    R: float                  #: refractory steps given to inhibited neurons
    refractory: bool          #: refractoriness is on (``R > 0`` and a mode other than ``"none"``)
    k: int                    #: winners per sample (at most the number of maps)
    want_thresholded: bool
    want_dudt: bool
    want_winners: bool
    want_winning_spikes: bool
    amp: float                #: spike amplitude
    clamp_at_rest: bool       #: floor the potential at rest
    capped: bool              #: clamp the state to ``[-cap, cap]``
    cap: float                #: largest state magnitude kept
    before_reset: bool        #: return the potentials before reset
    uniform_thr: bool         #: one threshold for every neuron and no adaptive shift
    detach_reset: bool        #: the reset passes no gradient through the spike
    check_finite: bool        #: compute the flag of non-finite input inside the step
    fused: bool               #: the step is traced into fused kernels (ranks maps instead of sorting)


class StepConstants(NamedTuple):
    """Values of one step that may be per-neuron tensors (Python floats otherwise)."""

    rest: Scalar      #: resting potential (refractory neurons sit here; the floor)
    v_reset: Scalar   #: potential after a spike
    thr: Scalar       #: threshold (``inf``: never fires)
    thr_min: float    #: lowest threshold (a winner must reach it)
    big: float        #: a score offset larger than any potential


class StepPlan(NamedTuple):
    """What a layer prepares once per input shape, dtype and setting, and every step reads."""

    p: Any                   #: the parameters (:meth:`~spyketorch.neurons.model.NeuronModel._params`)
    c: StepConstants
    cfg: StepConfig
    check: bool              #: refuse non-finite input
    pooled: bool             #: write large outputs into recycled buffers
    initial_w: Any           #: ``v -> w`` at rest (None for one-variable models)
    serial: int              #: distinguishes plans (a compiled step is cached per plan)
    live: bool = False       #: ``p`` and ``c`` were read from learnable parameters for this step


class StepResult(NamedTuple):
    """What :func:`neuron_step` returns: the outputs, the new state, and (when asked) a
    0-dim bool that is True if the input held NaN or inf."""

    out: StepOutput
    v: Tensor
    r: Tensor
    w: Optional[Tensor]
    bad: Optional[Tensor]
    pre: Optional[Tensor] = None  #: the potentials before the reset


class Winners(NamedTuple):
    """k-WTA result: winning maps ``feat`` ``[B, k]``, ``valid`` ``[B, k]`` (bool) and the
    flat location ``loc`` ``[B, k]`` in each map (None when nothing reads it)."""

    feat: Tensor
    valid: Tensor
    loc: Optional[Tensor]


def refractory_shape(mode: str, shape: Tuple[int, int, int, int]) -> Tuple[int, int, int, int]:
    """Shape of the refractory counter an inhibition mode needs for potentials ``shape``."""
    B, C, H, W = shape
    return {"feature": (B, C, 1, 1), "location": (B, 1, H, W), "neuron": (B, C, H, W)}.get(mode, (B, 1, 1, 1))


# ---------------------------------------------------------------------------- stages
def set_where(x: Tensor, mask: Tensor, value: Scalar) -> Tensor:
    """``value`` where the float 0/1 ``mask`` is 1, ``x`` elsewhere, exactly (``x - x*mask``
    is exactly 0 where the mask is 1): arithmetic on float masks, which is several times
    cheaper than ``torch.where`` or ``masked_fill`` on small CPU tensors and differentiates the
    same way (gradient ``1 - mask`` to ``x``)."""
    out = torch.addcmul(x, x, mask, value=-1.0)
    if isinstance(value, Tensor):
        return out + mask * value
    return out if value == 0.0 else torch.add(out, mask, alpha=value)


def clamp_and_floor(u: Tensor, r: Tensor, rest: Scalar, cfg: StepConfig) -> Tensor:
    r"""Refractory neurons (``r >= 1``) to rest, then the floor at rest and the finite cap:
    :math:`\min(\max(u, u_{rest}), cap)` for floored models, :math:`\operatorname{clamp}(u, -cap, cap)`
    for capped ones."""
    if cfg.clamp_at_rest and not isinstance(rest, Tensor):
        if cfg.refractory:  # pushed far below rest, then floored back to it
            u = torch.add(u, r, alpha=-4.0 * cfg.cap)
        return u.clamp(rest, cfg.cap)
    if cfg.refractory:
        u = set_where(u, r.clamp(max=1.0), rest)
    if cfg.clamp_at_rest:
        return torch.maximum(u, rest).clamp(max=cfg.cap)
    if cfg.capped:
        return u.clamp(-cfg.cap, cfg.cap)
    return u


def fire(u: Tensor, thr: Scalar, spike_fn: Optional[Callable[[Tensor], Tensor]]) -> Tensor:
    """The float 0/1 spikes ``u >= thr``; through ``spike_fn`` (a surrogate-gradient spike of
    ``u - thr``) when one is given."""
    if spike_fn is None:
        return torch.ge(u, thr, out=torch.empty_like(u))  # a float mask: bool tensors cost far more
    return spike_fn(u - thr)


#: up to this many maps the k best are ranked by comparing every pair (element-wise work a
#: compiled step fuses into one kernel); more maps are sorted
RANK_MAPS = 256


def top_maps(best: Tensor, k: int, rank: bool = True) -> Tuple[Tensor, Tensor]:
    """The ``k`` largest values of ``best`` ``[B, C]`` per row and their indices, largest first,
    ties to the lowest index (a stable descending sort, truncated). ``rank``: compare every pair
    of maps (fuses into one kernel when compiled) instead of sorting (one op, eager)."""
    B, C = best.shape
    if k == 1:
        return best.max(dim=1, keepdim=True)  # first maximal index: lowest feature
    if C > RANK_MAPS or not rank:
        topv, topf = torch.sort(best, dim=1, descending=True, stable=True)
        return topv[:, :k], topf[:, :k]
    a, b = best.unsqueeze(2), best.unsqueeze(1)  # [B, C, 1] against [B, 1, C]
    idx = torch.arange(C, device=best.device)
    ahead = (b > a) | ((b == a) & (idx.view(1, 1, C) < idx.view(1, C, 1)))
    rank = ahead.sum(dim=2)  # maps ranked before map c: its position in the sorted order
    slot = rank.unsqueeze(2) == torch.arange(k, device=best.device).view(1, 1, k)  # [B, C, k]
    topf = (slot * idx.view(1, C, 1)).sum(dim=1)
    topv = torch.where(slot, a, 0.0).sum(dim=1)
    return topv, topf


def k_winners(u: Tensor, spiked: Tensor, k: int, uniform: bool, thr_min: float, big: float,
              need_loc: bool, rank: bool = True) -> Optional[Winners]:
    """The ``k`` spiking neurons with the highest potential, at most one per map, per sample.

    Best neuron of each map, then the ``k`` best maps by a stable descending sort (ties:
    lowest feature first), then the argmax inside the winning maps only (ties: lowest
    row-major location). Without a uniform threshold, neurons that did not spike are
    pushed ``big`` below any that did. Maps without neurons (``H * W == 0``) have no winner.
    """
    B, C, H, W = u.shape
    if H * W == 0:
        return None
    score = u if uniform else u + (spiked - 1.0) * big
    sview = score.reshape(B, C, H * W)
    best = sview.amax(dim=2)
    topv, topf = top_maps(best, k, rank)
    valid = topv >= thr_min
    loc = None
    if need_loc:
        rows = (topf + torch.arange(B, device=u.device).unsqueeze(1) * C).reshape(-1)
        loc = sview.reshape(B * C, H * W).index_select(0, rows).argmax(dim=1).view(B, k)
    return Winners(topf, valid, loc)


def inhibit(r: Tensor, spiked: Tensor, win: Optional[Winners], mode: str, R: float, shape: Tuple[int, ...]) -> Tensor:
    r"""The refractory counter after lateral inhibition:

    .. math::
        r \leftarrow \max(r - 1,\; R \cdot \text{inhibited})

    ``inhibited`` is the winners' maps (``"feature"``), their locations across maps
    (``"location"``), the whole sample when any neuron won (``"layer"``) or the neurons
    that spiked (``"neuron"``). ``R`` exceeds anything that remains, so inhibition restarts
    the count."""
    if mode == "neuron":
        return torch.maximum(r - 1.0, spiked * R)
    if win is None:
        return (r - 1.0).clamp(min=0.0)
    B, C, H, W = shape
    vals = win.valid.to(r.dtype) * R
    if mode == "feature":
        lim = torch.zeros(B, C, dtype=r.dtype, device=r.device).scatter(1, win.feat, vals).view(B, C, 1, 1)
    elif mode == "location":
        assert win.loc is not None
        lim = torch.zeros(B, H * W, dtype=r.dtype, device=r.device).scatter_reduce(
            1, win.loc, vals, reduce="amax").view(B, 1, H, W)
    else:  # layer
        lim = vals.amax(dim=1).view(B, 1, 1, 1)
    return torch.maximum(r - 1.0, lim)


def winners_tensor(win: Optional[Winners], B: int, k: int, W: int, device: torch.device) -> Tensor:
    """``[B, k, 3]`` long ``(feature, row, col)``, ``-1`` rows where fewer won."""
    if win is None:
        return torch.full((B, k, 3), -1, dtype=torch.long, device=device)
    assert win.loc is not None
    w = torch.stack((win.feat, torch.div(win.loc, W, rounding_mode="floor"), win.loc.remainder(W)), dim=2)
    return w.masked_fill(~win.valid.unsqueeze(2), -1)


def winning_spikes(win: Optional[Winners], like: Tensor, amp: float) -> Tensor:
    """Spikes of the winners only, ``[B, C, H, W]``."""
    B, C, H, W = like.shape
    ws = torch.zeros(B, C * H * W, dtype=like.dtype, device=like.device)
    if win is not None:
        assert win.loc is not None
        ws = ws.scatter(1, win.feat * (H * W) + win.loc, win.valid.to(like.dtype) * amp)
    return ws.view(B, C, H, W)


def apex(u: Tensor, thr: Scalar) -> Tensor:
    """The potential taken at most at the threshold (the spike apex)."""
    if isinstance(thr, Tensor):
        return torch.minimum(u, thr)
    return u if thr == float("inf") else u.clamp(max=thr)


def jump_w(model: Any, w: Tensor, spiked: Tensor, p: Any) -> Tensor:
    """The second variable after the spikes of this step (the model's ``JUMP.w``)."""
    jump = model.JUMP.w
    if jump is None:
        return w
    op, what = jump
    value = getattr(p, what) if isinstance(what, str) else what
    if op == "add":
        return w + spiked * value
    return set_where(w, spiked.detach(), value)  # "set"


# ---------------------------------------------------------------------------- the step
def neuron_step(model: Any, p: Any, c: StepConstants, cfg: StepConfig, v: Tensor, r: Tensor, w: Optional[Tensor],
                I: Tensor, noise: Optional[Tensor] = None,
                spike_fn: Optional[Callable[[Tensor], Tensor]] = None) -> StepResult:
    """One time step of a neuron layer, as a pure function.

    Args:
        model: the layer (its declaration: ``advance``, ``advance_w``, ``threshold_shift``, ``JUMP``).
        p: the model's parameters (namespace of floats and tensors).
        c: thresholds, rest and reset values (:class:`StepConstants`).
        cfg: the static settings (:class:`StepConfig`).
        v: potentials before the step ``[B, C, H, W]``.
        r: refractory counter (broadcasts against ``v``).
        w: second variable (None for one-variable models).
        I: input ``[B, C, H, W]``.
        noise: membrane noise to add after the integration (or None).
        spike_fn: surrogate-gradient spike of ``u - threshold`` (None: a plain step, no graph).

    Returns:
        :class:`StepResult`: outputs, new ``v``, ``r``, ``w`` and the non-finite-input flag.
    """
    bad = None
    if cfg.check_finite:  # reduced per map, as the k-WTA's scores are, so a compiled step fuses the two
        B_, C_ = I.shape[0], I.shape[1]
        bad = ~torch.isfinite(I).reshape(B_ * C_, -1).all(dim=1).all() if I.numel() else torch.zeros((), dtype=torch.bool)
    u, w1 = model.advance(v, w, I, p)
    if noise is not None:
        u = u + noise
    u = clamp_and_floor(u, r, c.rest, cfg)
    shift = model.threshold_shift(w, p) if w is not None else None
    thr = c.thr if shift is None else shift + c.thr
    spiked = fire(u, thr, spike_fn)
    if w is not None:
        if w1 is None:  # the Euler step of w reads the updated potential, at most at the spike apex
            w1 = model.advance_w(apex(u, c.thr), w, I, p)
        w1 = jump_w(model, w1, spiked, p)
    B, C, H, W = u.shape
    win = None
    if cfg.k > 0 and (cfg.refractory or cfg.want_winners or cfg.want_winning_spikes):
        need_loc = cfg.want_winners or cfg.want_winning_spikes or cfg.mode == "location"
        s_det = spiked.detach()
        win = k_winners(u.detach(), s_det, cfg.k, cfg.uniform_thr and shift is None, c.thr_min, c.big, need_loc,
                        cfg.fused)
    r1 = inhibit(r, spiked.detach(), win, cfg.mode, cfg.R, (B, C, H, W)) if cfg.refractory else r
    thresholded = u * spiked if cfg.want_thresholded else None
    dudt = u - v if cfg.want_dudt else None
    u_post = set_where(u, spiked.detach() if cfg.detach_reset else spiked, c.v_reset)
    spikes = spiked * cfg.amp if cfg.amp != 1.0 else spiked
    out = StepOutput(
        spikes=spikes,
        potentials=u if cfg.before_reset else u_post,
        thresholded=thresholded,
        dudt=dudt,
        winners=winners_tensor(win, B, cfg.k, W, u.device) if cfg.want_winners else None,
        winning_spikes=winning_spikes(win, u, cfg.amp) if cfg.want_winning_spikes else None)
    return StepResult(out, u_post, r1, w1, bad, u)


class RunRecord(NamedTuple):
    """What :func:`neuron_run` records over a presentation of ``T`` steps.

    Attributes:
        spikes: which neurons fired at each step, 0/1 ``[T, B, C, H, W]`` in the input's dtype
            (None when not asked for).
        first_step: the step each neuron first fired, ``T`` where it never did, ``[B, C, H, W]``
            (float, exact integers).
        first_value: its potential (before the reset) at that step, 0 where it never fired
            (None when not asked for).
        count: the spikes of each neuron, ``[B, C, H, W]`` (float, exact integers).
    """

    spikes: Optional[Tensor]
    first_step: Tensor
    first_value: Optional[Tensor]
    count: Tensor


class RunResult(NamedTuple):
    """What :func:`neuron_run` returns: the record, the state after the last step, the flag of
    non-finite input (when asked)."""

    record: RunRecord
    v: Tensor
    r: Tensor
    w: Optional[Tensor]
    bad: Optional[Tensor]


def neuron_run(model: Any, p: Any, c: StepConstants, cfg: StepConfig, v: Tensor, r: Tensor, w: Optional[Tensor],
               X: Tensor, noise: Optional[Tensor] = None, want_spikes: bool = True,
               want_values: bool = True) -> RunResult:
    """:func:`neuron_step` over every step of ``X`` ``[T, B, C, H, W]``, recording first spikes.

    One pure function of the whole presentation: compiled, its ``T`` steps fuse into as few
    passes as the k-WTA allows (a single pass without lateral inhibition: the state stays in
    registers from one step to the next and only the record is written).
    """
    T = X.shape[0]
    off = torch.ones_like(X[0])
    before = torch.zeros_like(X[0])
    count = torch.zeros_like(X[0])
    val = torch.zeros_like(X[0]) if want_values else None
    fired = []
    bad = None
    for t in range(T):
        res = neuron_step(model, p, c, cfg, v, r, w, X[t], None if noise is None else noise[t])
        f = res.out.spikes if cfg.amp == 1.0 else torch.gt(res.out.spikes, 0, out=torch.empty_like(res.out.spikes))
        if val is not None:  # the potential at the first spike: added once, while the neuron is still off
            val = val + res.pre * f * off
        off = off - off * f
        before = before + off
        count = count + f
        if want_spikes:
            fired.append(f)
        if res.bad is not None:
            bad = res.bad if bad is None else bad | res.bad
        v, r, w = res.v, res.r, res.w
    spikes = torch.stack(fired) if want_spikes else None
    return RunResult(RunRecord(spikes, before, val, count), v, r, w, bad)
