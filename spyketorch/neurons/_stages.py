r"""The stages of one neuron-layer step, as small pure functions (private module).

:class:`spyketorch.neurons.Neuron` composes them, in this order::

    integrate (the model)  ->  clamp_and_floor  ->  fire  ->  (adapt, the model)
        ->  k_winners  ->  inhibit  ->  reset  ->  outputs

Each stage takes tensors and the typed per-step constants :class:`StepConstants`
and returns new tensors; the only in-place update is the one documented on
:func:`inhibit` (the refractory counter, internal state of the layer). Nothing here
syncs with the host or loops over neurons, winners or samples.

k-WTA tie rule: winners rank by potential, highest first; among equal potentials the
lowest feature index wins first, and within a map the lowest row-major location (the
order of the reference's iterative argmax and of ``functional.get_k_winners``).
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple, Optional, Sequence, TypeVar, Union

import torch
from torch import Tensor

Scalar = Union[float, Tensor]
NT = TypeVar("NT", bound=tuple)

_compiling = getattr(getattr(torch, "compiler", None), "is_compiling", lambda: False)


class StepConstants(NamedTuple):
    """Per-step constants of the base pipeline, computed once per device and dtype.

    Python floats where the parameter is a scalar (usable as ``alpha=``), tensors on the
    input's device and dtype otherwise. Model constants live in their own NamedTuple
    (:attr:`Prepared.model`), so a model's names can never clash with these.
    """

    rest: Scalar          #: resting potential
    rest_t: Tensor        #: resting potential as a tensor (operand of ``maximum``)
    v_reset: Scalar       #: potential after a spike
    thr: Scalar           #: threshold (``inf``: never fires), per neuron when a tensor
    thr_min: float        #: lowest threshold (winners must reach it)
    uniform_thr: bool     #: the threshold is one number
    cap: float            #: largest finite state magnitude kept
    log_cap: float        #: ``log(cap)``, the cap of exponents
    amp: float            #: spike amplitude (``1/ts`` or 1)
    big: float            #: a score offset larger than any potential
    nbig: float           #: ``-big``
    one: float            #: 1.0, cached as an operand
    fast_floor: bool      #: floor at a scalar rest (one ``clamp``)
    clamp_at_rest: bool   #: floor the potential at rest
    nonlinear: bool       #: cap the state at ``±cap``
    R: float              #: refractory steps given to inhibited neurons


class Prepared(NamedTuple):
    """Everything one step reads: base and model constants, as values and as operands.

    ``*_ops`` hold the same fields with every float replaced by a cached 0-dim tensor
    (a binary op with a cached operand skips wrapping a Python number, about 1 us per
    call on CPU); use :func:`ops` to pick the right one (under ``torch.compile`` the
    floats themselves are baked into the kernel).
    """

    base: StepConstants
    base_ops: StepConstants
    model: Any
    model_ops: Any
    params: Any           #: the model's parameters on the device/dtype (floats for scalars)


def as_operands(nt: NT, device: torch.device, dtype: torch.dtype) -> NT:
    """The same NamedTuple with every float field as a 0-dim tensor (bools kept)."""
    return type(nt)(*[torch.tensor(v, dtype=dtype, device=device) if isinstance(v, float) else v for v in nt])


def ops(values: NT, operands: NT) -> NT:
    """``operands`` in eager mode, ``values`` while ``torch.compile`` traces."""
    return values if _compiling() else operands


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

    ``thresholded``, ``dudt``, ``winners`` and ``winning_spikes`` are ``None`` when
    :meth:`spyketorch.neurons.Neuron.step` was asked not to compute them.
    """

    spikes: Tensor
    potentials: Tensor
    thresholded: Tensor
    dudt: Tensor
    winners: Tensor
    winning_spikes: Tensor


StepOutput.__module__ = "spyketorch.neurons"  # its public home (re-exported there)


# ---------------------------------------------------------------------------- stages
def set_where(x: Tensor, mask: Tensor, value: Scalar) -> Tensor:
    """New tensor: ``value`` where the float 0/1 ``mask`` is 1, ``x`` elsewhere (exact)."""
    out = torch.addcmul(x, x, mask, value=-1.0)
    if isinstance(value, Tensor):
        return out.addcmul_(mask, value)
    if value != 0.0:
        out.add_(mask, alpha=value)
    return out


def clamp_and_floor(u: Tensor, r: Tensor, c: StepConstants, refractory: bool) -> Tensor:
    r"""Refractory neurons (``r >= 1``) to rest, then the floor at rest and the finite cap.

    .. math::
        u \leftarrow u_{rest} \text{ where } r \ge 1;\quad
        u \leftarrow \min(\max(u, u_{rest}), cap) \text{ (floored models) or }
        \operatorname{clamp}(u, -cap, cap) \text{ (nonlinear models)}

    Updates ``u`` (a tensor the integrate stage just made) in place and returns it.
    """
    if c.fast_floor:
        if refractory:  # pushed far below rest, then floored back to rest
            u.add_(r, alpha=c.nbig)
        return u.clamp_(c.rest, c.cap)
    if refractory:
        u = set_where(u, r.clamp(max=1.0), c.rest)
    if c.clamp_at_rest:
        torch.maximum(u, c.rest_t, out=u).clamp_(max=c.cap)
    elif c.nonlinear:
        u.clamp_(-c.cap, c.cap)
    return u


def add_noise(u: Tensor, std: float, generator: Optional[torch.Generator] = None) -> Tensor:
    r"""``u + std * N(0, 1)`` in place in ``u`` (the step's own tensor)."""
    return u.add_(torch.empty_like(u).normal_(0.0, std, generator=generator))


def fire(u: Tensor, thr: Scalar) -> Tensor:
    """Float 0/1 mask of the neurons with ``u >= thr`` (a new tensor)."""
    return torch.ge(u, thr, out=torch.empty_like(u))


class Winners(NamedTuple):
    """k-WTA result: the winning maps ``feat`` ``[B, k]``, ``valid`` ``[B, k]`` (bool) and
    the flat location ``loc`` ``[B, k]`` in each map (None when nothing needs it)."""

    feat: Tensor
    valid: Tensor
    loc: Optional[Tensor]


def k_winners(u: Tensor, spiked: Tensor, k: int, c: StepConstants, thr_min: Scalar, uniform: bool,
              need_loc: bool, row_offsets: Tensor) -> Winners:
    """The ``k`` spiking neurons with the highest potential, at most one per map, per sample.

    Best neuron of each map (``amax``), then the ``k`` best maps by a stable descending
    sort (ties: lowest feature first), then ``argmax`` inside the winning maps only
    (ties: lowest row-major location). With per-neuron thresholds, neurons that did not
    spike are pushed ``big`` below any that did.
    """
    B, C, H, W = u.shape
    score = u if uniform else torch.add(u, spiked - 1.0, alpha=c.big)
    sview = score.view(B, C, H * W)
    best = sview.amax(dim=2)
    if k == 1:
        topv, topf = best.max(dim=1, keepdim=True)  # first maximal index: lowest feature
    else:
        topv, topf = torch.sort(best, dim=1, descending=True, stable=True)
        topv, topf = topv[:, :k], topf[:, :k]
    valid = topv >= thr_min
    loc = None
    if need_loc:
        rows = (topf + row_offsets).view(-1)
        loc = sview.view(B * C, H * W).index_select(0, rows).argmax(dim=1).view(B, k)
    return Winners(topf, valid, loc)


def inhibit(r: Tensor, spiked: Tensor, win: Optional[Winners], mode: str, R_t: Tensor, one: Any,
            zeros_bc: Tensor, zeros_bhw: Tensor) -> Tensor:
    r"""Refractory counter after lateral inhibition, updated **in place** in ``r``.

    .. math::
        r \leftarrow \max(r - 1,\; R \cdot \text{inhibited})

    ``inhibited`` is the winners' maps (``"feature"``), their locations across maps
    (``"location"``), the whole sample when any neuron won (``"layer"``) or the neurons
    that spiked (``"neuron"``). The new value ``R`` always exceeds what remains.
    """
    B, C, H, W = r.shape
    if mode == "neuron":
        return r.sub_(one).clamp_(min=spiked * R_t)
    if win is None:
        return r.sub_(one).clamp_(min=0.0)
    vals = win.valid * R_t if isinstance(R_t, Tensor) else win.valid.to(r.dtype).mul_(R_t)
    if mode == "feature":
        lim = torch.scatter(zeros_bc, 1, win.feat, vals).view(B, C, 1, 1)
    elif mode == "location":
        lim = torch.scatter_reduce(zeros_bhw, 1, win.loc, vals, reduce="amax").view(B, 1, H, W)
    else:  # layer
        lim = vals.amax(dim=1).view(B, 1, 1, 1)
    return r.sub_(one).clamp_(min=lim)


def reset(u: Tensor, spiked: Tensor, v_reset: Scalar) -> Tensor:
    """Potential after the step: ``v_reset`` where a neuron spiked (a new tensor)."""
    return set_where(u, spiked, v_reset)


def reset_(u: Tensor, spiked: Tensor, v_reset: Scalar) -> Tensor:
    """:func:`reset` in place in ``u`` (the step's own fresh tensor): no new allocation."""
    u.addcmul_(u, spiked, value=-1.0)
    if isinstance(v_reset, Tensor):
        return u.addcmul_(spiked, v_reset)
    return u if v_reset == 0.0 else u.add_(spiked, alpha=v_reset)


def winners_tensor(win: Optional[Winners], B: int, W: int, device: torch.device) -> Tensor:
    """``[B, k, 3]`` long ``(feature, row, col)``, ``-1`` rows where fewer won."""
    if win is None:
        return torch.full((B, 0, 3), -1, dtype=torch.long, device=device)
    assert win.loc is not None
    w = torch.stack((win.feat, torch.div(win.loc, W, rounding_mode="floor"), win.loc.remainder(W)), dim=2)
    return torch.where(win.valid.unsqueeze(2), w, -1)


def winning_spikes(win: Optional[Winners], like: Tensor, amp: float) -> Tensor:
    """Spikes of the winners only, ``[B, C, H, W]``."""
    B, C, H, W = like.shape
    ws = like.new_zeros((B, C * H * W))
    if win is not None:
        assert win.loc is not None
        ws.scatter_(1, win.feat * (H * W) + win.loc, win.valid.to(like.dtype) * amp)
    return ws.view(B, C, H, W)


def cast_floats(nt: NT, dtype: torch.dtype, in_range: Sequence[str] = ()) -> NT:
    """The same NamedTuple with every floating tensor converted to ``dtype``; values beyond
    its range are clamped to its largest finite magnitude, except in the fields ``in_range``
    (known to fit: converted only). Other fields are kept."""
    top = torch.finfo(dtype).max
    return type(nt)(*[(v.to(dtype) if f in in_range else v.clamp(-top, top).to(dtype))
                      if isinstance(v, Tensor) and v.is_floating_point() else v
                      for f, v in zip(nt._fields, nt)])


def capped_exp(z: Tensor, log_cap: float) -> Tensor:
    """``exp(min(z, log_cap))`` in place in ``z``."""
    return z.clamp_(max=log_cap).exp_()


def apex(u: Tensor, thr: Scalar) -> Tensor:
    """The potential taken at most at the threshold (the spike apex)."""
    if isinstance(thr, Tensor):
        return torch.minimum(u, thr)
    return u if math.isinf(thr) else u.clamp(max=thr)


def scale_add(out: Tensor, x: Tensor, b: Scalar) -> Tensor:
    """``out += b * x`` in place."""
    if isinstance(b, Tensor):
        return out.addcmul_(x, b)
    return out.add_(x, alpha=b)

