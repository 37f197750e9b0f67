"""The state of a neuron layer: potentials, refractory counter and second variable.

:class:`NeuronState` is a small module the layer owns (so ``.to()`` moves the state with the
layer, and ``state_dict`` leaves it out): it creates the state at rest on the first step,
checks later inputs against it, keeps each step's new state and restores a saved one.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

import torch
from torch import Tensor

from .. import _validation as _v
from . import params as _p
from .step import refractory_shape

State = Tuple[Tensor, Tensor, Optional[Tensor]]


class NeuronState:
    """The potentials ``v``, refractory counter (in steps) and second variable ``w`` of a layer
    (the layer moves them with itself: :meth:`apply`).

    The refractory counter has the shape its inhibition needs (see
    :mod:`spyketorch.neurons.step`); :attr:`refractory` shows it as ``[B, C, H, W]``.

    Example:
        >>> s = NeuronState()
        >>> v, r, w = s.for_input(torch.zeros(2, 3, 4, 4), 0.0, None, "feature")
        >>> tuple(v.shape), tuple(r.shape), w is None, tuple(s.refractory.shape)
        ((2, 3, 4, 4), (2, 3, 1, 1), True, (2, 3, 4, 4))
    """

    def __init__(self) -> None:
        self.v: Optional[Tensor] = None
        self.r: Optional[Tensor] = None
        self.w: Optional[Tensor] = None

    def apply(self, fn: Callable[[Tensor], Tensor]) -> None:
        """Apply ``fn`` (a device or dtype move, as ``nn.Module._apply`` gives) to the state."""
        self.v, self.r, self.w = (None if t is None else fn(t) for t in (self.v, self.r, self.w))

    def __repr__(self) -> str:
        return "NeuronState()" if self.v is None else f"NeuronState({tuple(self.v.shape)})"

    def clear(self) -> None:
        """Forget the state."""
        self.v = self.r = self.w = None

    @property
    def refractory(self) -> Optional[Tensor]:
        """Remaining refractory steps ``[B, C, H, W]`` (a broadcast view of the counter)."""
        return None if self.r is None else self.r.expand_as(self.v)

    def for_input(self, x: Tensor, rest: Any, initial_w: Optional[Callable[[Tensor], Tensor]], mode: str) -> State:
        """The state a step on ``x`` starts from: created at ``rest`` (``w`` from ``initial_w``)
        on the first step, else checked against ``x``'s shape, device and dtype."""
        if self.v is None:
            v = torch.empty_like(x)  # (in the input's memory format: channels-last stays channels-last)
            v.copy_(torch.as_tensor(rest, dtype=x.dtype, device=x.device).expand_as(x))
            r = torch.zeros(refractory_shape(mode, tuple(x.shape)), dtype=x.dtype, device=x.device)
            self.keep(v, r, None if initial_w is None else initial_w(v).contiguous())
        elif self.v.shape != x.shape:
            raise ValueError(f"potentials changed shape from {tuple(self.v.shape)} to {tuple(x.shape)}; "
                             f"call reset() first")
        elif self.v.device != x.device or self.v.dtype != x.dtype:
            raise ValueError(f"potentials moved from {self.v.device}/{self.v.dtype} to {x.device}/{x.dtype}; "
                             f"call reset() first")
        return self.v, self.r, self.w

    def keep(self, v: Tensor, r: Tensor, w: Optional[Tensor]) -> None:
        """Make ``(v, r, w)`` the state."""
        self.v, self.r, self.w = v, r, w

    def get(self) -> Dict[str, Optional[Tensor]]:
        """``v``, ``refractory`` and ``w``, cloned, ``[B, C, H, W]``."""
        return {k: None if t is None else t.clone() for k, t in (("v", self.v), ("refractory", self.refractory),
                                                                 ("w", self.w))}

    def load(self, state: Any, has_w: bool) -> None:
        """Restore a state from :meth:`get` (checked, see :func:`checked_state`; nothing changes on error)."""
        v, r, w = checked_state(state, has_w)
        self.clear()
        if v is not None:
            self.keep(v, r, w)


def checked_state(state: Any, has_w: bool) -> Tuple[Optional[Tensor], Optional[Tensor], Optional[Tensor]]:
    """``(v, refractory, w)`` from a dict as :meth:`NeuronState.get` returns, checked; ``v`` None
    means no state.

    ``state['v']`` must be a finite floating ``[B, C, H, W]`` tensor (float16/bfloat16 are kept
    in float32); ``refractory`` (whole numbers of steps >= 0) and ``w`` (finite) None or of the
    same shape. Anything else raises ``ValueError``/``TypeError`` naming the entry.
    """
    if not isinstance(state, dict):
        raise TypeError(f"state must be a dict as returned by get_state(), got {type(state).__name__}")
    v = state.get("v")
    if v is None:
        return None, None, None
    if not isinstance(v, Tensor) or v.dim() != 4:
        got = f"shape {tuple(v.shape)}" if isinstance(v, Tensor) else type(v).__name__
        raise ValueError(f"state['v'] must be a [B, C, H, W] tensor, got {got}")
    _v.float_tensor(v, "state['v']")
    _v.finite_tensor(v, "state['v']")
    v = v.to(_p.compute_dtype(v.dtype))
    r, w = state.get("refractory"), state.get("w")
    for key, t in (("refractory", r), ("w", w)):
        if t is not None:
            _v.real_tensor(t, f"state[{key!r}]")
            if t.shape != v.shape:
                raise ValueError(f"state[{key!r}] has shape {tuple(t.shape)}, state['v'] {tuple(v.shape)}: "
                                 f"they must agree")
            _v.finite_tensor(t, f"state[{key!r}]")
    if r is not None:
        r = r.to(v)
        if not bool(((r >= 0) & (r == r.round())).all()):
            raise ValueError("state['refractory'] must hold whole numbers of steps >= 0")
    r = torch.zeros_like(v) if r is None else r.clone()
    w = (torch.zeros_like(v) if w is None else w.to(v).clone()) if has_w else None
    return v.clone(), r, w
