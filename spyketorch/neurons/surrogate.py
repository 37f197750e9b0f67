r"""Surrogate gradients of the spike: a Heaviside step forward, a smooth derivative backward.

A neuron layer built with ``surrogate=`` fires with :func:`spike` of :math:`x = u - \vartheta`:
the forward value is exactly the step :math:`H(x)` (1 where :math:`u \ge \vartheta`), so the
spikes are those of the plain layer; the backward pass uses the derivative of a smooth
stand-in :math:`\sigma'(x)`:

==================  ==========================================================  ===========
name                :math:`\sigma'(x)`                                          default
==================  ==========================================================  ===========
``"atan"``          :math:`\frac{\alpha/2}{1 + (\pi \alpha x / 2)^2}`            ``alpha=2``
``"fast_sigmoid"``  :math:`\frac{1}{(k |x| + 1)^2}` (SuperSpike)                 ``slope=25``
``"sigmoid"``       :math:`k\,s(kx)\,(1 - s(kx))`, :math:`s` the logistic         ``slope=25``
``"triangle"``      :math:`\alpha \max(0, 1 - \alpha |x|)`                       ``alpha=1``
==================  ==========================================================  ===========

``"atan"``, ``"fast_sigmoid"`` and ``"sigmoid"`` are snnTorch's ``surrogate.atan``,
``surrogate.fast_sigmoid`` and ``surrogate.sigmoid``: the same derivative and the same default
``alpha``/``slope``, so the same setting gives the same gradients (``fast_sigmoid`` is Norse's
SuperSpike ``"super"`` with ``alpha`` as its slope; Norse's default is 100). ``"triangle"`` is a
unit-area triangle of half-width :math:`1/\alpha` (SpikingJelly's ``PiecewiseQuadratic``); Norse's
``"triangle"`` is :math:`\alpha \max(0, 1 - |x|)` instead (``alpha`` a height only; snnTorch's
``triangular`` is another function again). The one difference from snnTorch's forward: a neuron
fires at :math:`u \ge \vartheta` here, at :math:`u > \vartheta` there (the layers' rule; the two
differ only where the potential equals the threshold exactly). The parameter is ``alpha`` (``a``
here), also accepted as ``slope`` (snnTorch's name for the sigmoids). Any callable that maps
:math:`x` to spikes with its own backward (for example ``snntorch.surrogate.atan()``) is accepted too.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Optional, Union

import torch
from torch import Tensor

from .. import _validation as _v

#: the names accepted by :func:`make_spike_fn` and their default parameter
SURROGATES = {"atan": 2.0, "fast_sigmoid": 25.0, "sigmoid": 25.0, "triangle": 1.0}


def derivative(name: str, x: Tensor, a: float) -> Tensor:
    """:math:`\\sigma'(x)` of the surrogate ``name`` with parameter ``a`` (``alpha`` or ``slope``)."""
    if name == "atan":
        return (a / 2) / (1 + (math.pi / 2 * a * x) ** 2)
    if name == "fast_sigmoid":
        return 1.0 / (a * x.abs() + 1.0) ** 2
    if name == "sigmoid":
        s = torch.sigmoid(a * x)
        return a * s * (1 - s)
    return a * (1 - a * x.abs()).clamp(min=0)  # triangle


class _Spike(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, name: str, a: float) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.name, ctx.a = name, a
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Any:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad * derivative(ctx.name, x, ctx.a), None, None


def spike(x: Tensor, name: str = "atan", a: Optional[float] = None) -> Tensor:
    """Heaviside spikes of ``x`` (1 where ``x >= 0``) with the surrogate ``name``'s gradient.

    Args:
        x: the potential minus the threshold.
        name: one of :data:`SURROGATES`. Default: ``"atan"``.
        a: its ``alpha`` or ``slope`` (None: the default of :data:`SURROGATES`). Default: None.

    Example:
        >>> x = torch.tensor([-1.0, 0.0, 0.5], requires_grad=True)
        >>> s = spike(x, "fast_sigmoid", 1.0)
        >>> s.tolist()
        [0.0, 1.0, 1.0]
        >>> s.sum().backward(); [round(g, 4) for g in x.grad.tolist()]
        [0.25, 1.0, 0.4444]
    """
    return _Spike.apply(x, name, SURROGATES[name] if a is None else float(a))


class SurrogateSpike:
    """A picklable spike function ``x -> spike(x, name, a)`` (what a layer keeps as ``surrogate``)."""

    def __init__(self, name: str, a: float) -> None:
        self.name, self.a = name, a

    def __call__(self, x: Tensor) -> Tensor:
        return _Spike.apply(x, self.name, self.a)

    def __repr__(self) -> str:
        return f"{self.name}({self.a:g})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SurrogateSpike) and (self.name, self.a) == (other.name, other.a)

    def __hash__(self) -> int:
        return hash((self.name, self.a))


def make_spike_fn(surrogate: Union[None, str, Callable[[Tensor], Tensor]], alpha: Optional[float] = None,
                  slope: Optional[float] = None) -> Optional[Callable[[Tensor], Tensor]]:
    """The spike function a layer uses: None (no surrogate), a named one with its ``alpha``
    (or ``slope``: the same parameter under snnTorch's other name; give one of them), or the
    callable given. ``ValueError``/``TypeError`` naming ``surrogate``, ``alpha`` or ``slope``
    otherwise.

    Example:
        >>> make_spike_fn("sigmoid", 10.0)
        sigmoid(10)
        >>> make_spike_fn("fast_sigmoid", slope=5.0)
        fast_sigmoid(5)
    """
    if slope is not None:
        if alpha is not None:
            raise TypeError("give either alpha or slope (the same parameter), not both")
        _v.positive(slope, "slope")
        alpha = slope
    if surrogate is None:
        if alpha is not None:
            raise ValueError("alpha (or slope) is given but surrogate is None")
        return None
    if isinstance(surrogate, str):
        if surrogate not in SURROGATES:
            raise ValueError(f"surrogate must be one of {sorted(SURROGATES)} or a callable, got {surrogate!r}")
        a = SURROGATES[surrogate] if alpha is None else _v.positive(alpha, "alpha")
        return SurrogateSpike(surrogate, a)
    if callable(surrogate):
        if alpha is not None:
            raise ValueError("alpha (or slope) applies to a named surrogate, not to a callable")
        return surrogate
    raise TypeError(f"surrogate must be None, a name or a callable, got {type(surrogate).__name__}")
