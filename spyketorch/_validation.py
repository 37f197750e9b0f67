"""Shared argument validators: one rule per concept, used by every public entry point.

Each validator checks one kind of argument, returns the value in a normal form
(``float``, ``int``, a tuple, the tensor itself) and otherwise raises

- ``TypeError`` when the argument has the wrong type (``bool`` is never
  accepted where a number is expected, complex tensors never where a real one is),
- ``ValueError`` when the type is right but the value breaks the constraint,

with a message that names the argument and states the constraint, e.g.
``"eps must be a finite number >= 0, got nan"``.

The validators are host-side checks of Python scalars and tensor *metadata*
(shape, dtype). Only :func:`finite_tensor` reads tensor values; call it where
a host synchronisation is acceptable (construction, loading, learning-rule
updates), not inside a per-step path.
"""
from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any, Iterable, Optional, Sequence, Tuple, Union

import torch

__all__ = [
    "tensor",
    "real_tensor",
    "float_tensor",
    "finite_tensor",
    "real",
    "finite_real",
    "positive",
    "non_negative",
    "probability",
    "integer",
    "positive_int",
    "non_negative_int",
    "n_winners",
    "resolve_alias",
    "int_pair",
    "kernel_size",
    "padding",
    "kernel_fits",
    "real_pair",
    "ordered_bounds",
    "allocation",
]

_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _describe(v: Any) -> str:
    return type(v).__name__


# ----------------------------------------------------------------------------
# tensors
# ----------------------------------------------------------------------------
def tensor(x: Any, name: str, *, dims: Optional[Union[int, Iterable[int]]] = None) -> torch.Tensor:
    """A ``torch.Tensor`` (of one of the ranks ``dims``, if given)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {_describe(x)}")
    if dims is not None:
        allowed = (dims,) if isinstance(dims, int) else tuple(dims)
        if x.dim() not in allowed:
            ranks = " or ".join(str(d) for d in allowed)
            raise ValueError(f"{name} must have {ranks} dimensions, got shape {tuple(x.shape)}")
    return x


def real_tensor(x: Any, name: str, *, dims: Optional[Union[int, Iterable[int]]] = None) -> torch.Tensor:
    """A tensor with a real dtype (bool, integer or floating; never complex)."""
    tensor(x, name, dims=dims)
    if x.dtype.is_complex:
        raise TypeError(f"{name} must be a real tensor, got complex dtype {x.dtype}")
    return x


def float_tensor(x: Any, name: str, *, dims: Optional[Union[int, Iterable[int]]] = None) -> torch.Tensor:
    """A tensor with a real floating dtype (float16, bfloat16, float32 or float64)."""
    real_tensor(x, name, dims=dims)
    if not x.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype, got {x.dtype}")
    return x


def finite_tensor(x: Any, name: str, *, dims: Optional[Union[int, Iterable[int]]] = None) -> torch.Tensor:
    """A real tensor without NaN or inf (reads the values: one host sync)."""
    real_tensor(x, name, dims=dims)
    if x.is_floating_point() and x.numel() and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return x


# ----------------------------------------------------------------------------
# scalars
# ----------------------------------------------------------------------------
def real(v: Any, name: str) -> float:
    """A real number (not ``bool``), NaN and inf allowed; returns ``float``."""
    if isinstance(v, torch.Tensor) and v.numel() == 1 and not v.dtype.is_complex and v.dtype != torch.bool:
        v = v.item()
    if isinstance(v, bool) or not isinstance(v, Real):
        raise TypeError(f"{name} must be a real number, got {_describe(v)}")
    try:
        return float(v)
    except OverflowError:
        raise ValueError(f"{name} must be a finite number, got {v!r}") from None


def finite_real(v: Any, name: str) -> float:
    """A finite real number."""
    f = real(v, name)
    if not math.isfinite(f):
        raise ValueError(f"{name} must be a finite number, got {v!r}")
    return f


def positive(v: Any, name: str) -> float:
    """A finite number ``> 0``."""
    f = real(v, name)
    if not (math.isfinite(f) and f > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
    return f


def non_negative(v: Any, name: str) -> float:
    """A finite number ``>= 0``."""
    f = real(v, name)
    if not (math.isfinite(f) and f >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
    return f


def probability(v: Any, name: str) -> float:
    """A number in ``[0, 1]``."""
    f = real(v, name)
    if not 0.0 <= f <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {v!r}")
    return f


def integer(v: Any, name: str, *, minimum: Optional[int] = None) -> int:
    """A Python (or numpy) integer, not ``bool``, optionally ``>= minimum``."""
    if isinstance(v, bool) or not isinstance(v, Integral):
        raise TypeError(f"{name} must be an int, got {_describe(v)}")
    i = int(v)
    if minimum is not None and i < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {i}")
    return i


def positive_int(v: Any, name: str) -> int:
    """An int ``>= 1``."""
    return integer(v, name, minimum=1)


def non_negative_int(v: Any, name: str) -> int:
    """An int ``>= 0``."""
    return integer(v, name, minimum=0)


def n_winners(v: Any, name: str = "n_winners") -> int:
    """The number of winners of a k-winners-take-all: an int ``>= 0``.

    Callers clamp it to the number of candidates that exist, so a huge value
    is valid and allocates nothing extra.
    """
    return non_negative_int(v, name)


_UNSET: Any = object()


def resolve_alias(value: Any, alias_value: Any, name: str, alias: str, default: Any) -> Any:
    """Merge a renamed keyword with its old name (e.g. ``n_winners`` / ``kwta``).

    ``value`` is what was passed under ``name`` (``None`` = not passed) and
    ``alias_value`` under ``alias``. Passing both is a ``TypeError``.
    """
    if alias_value is None:
        return default if value is None else value
    if value is not None:
        raise TypeError(f"give either {name} or its old name {alias}, not both")
    return alias_value


def int_pair(v: Any, name: str, *, minimum: int = 1) -> Tuple[int, int]:
    """An int or a pair of ints, each ``>= minimum``; returns the pair."""
    if isinstance(v, Integral) and not isinstance(v, bool):
        v = (v, v)
    if isinstance(v, (str, bytes)) or not isinstance(v, Sequence):
        raise TypeError(f"{name} must be an int or a pair of ints, got {_describe(v)}")
    if len(v) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {len(v)} values {tuple(v)}")
    for i in v:
        if isinstance(i, bool) or not isinstance(i, Integral):
            raise TypeError(f"{name} must be an int or a pair of ints, got {tuple(v)}")
    if any(int(i) < minimum for i in v):
        raise ValueError(f"{name} must hold ints >= {minimum}, got {tuple(v)}")
    return int(v[0]), int(v[1])


def kernel_size(v: Any, name: str = "kernel_size") -> Tuple[int, int]:
    """A positive int or a pair of positive ints ``(kh, kw)``."""
    return int_pair(v, name, minimum=1)


def padding(v: Any, name: str = "padding") -> Tuple[int, int]:
    """A non-negative int or a pair of non-negative ints ``(ph, pw)``."""
    return int_pair(v, name, minimum=0)


def kernel_fits(kernel: Tuple[int, int], size: Tuple[int, int], name: str, what: str = "input") -> None:
    """Refuse a window ``kernel`` larger than the (padded) spatial ``size`` of the input."""
    if kernel[0] > size[0] or kernel[1] > size[1]:
        raise ValueError(
            f"{name} {tuple(kernel)} is larger than the {what}'s spatial size {tuple(size)}"
        )


#: Results larger than this (4 TiB) are refused before they are allocated: no machine holds them,
#: and the allocator's own error would not say which argument asked for them.
MAX_RESULT_BYTES = 2 ** 42


def allocation(n_elements: int, element_size: int, name: str, value: Any) -> None:
    """Refuse a result of ``n_elements`` elements of ``element_size`` bytes above :data:`MAX_RESULT_BYTES`."""
    nbytes = int(n_elements) * int(element_size)
    if nbytes > MAX_RESULT_BYTES:
        raise ValueError(
            f"{name}={value!r} asks for a result of {nbytes / 2 ** 40:.3g} TiB (more than "
            f"{MAX_RESULT_BYTES / 2 ** 40:.0f} TiB); use a smaller {name}"
        )


def real_pair(v: Any, name: str) -> Tuple[float, float]:
    """A pair of finite real numbers."""
    if isinstance(v, (str, bytes)) or not isinstance(v, Sequence) or len(v) != 2:
        raise TypeError(f"{name} must be a pair of numbers, got {v!r}")
    return finite_real(v[0], f"{name}[0]"), finite_real(v[1], f"{name}[1]")


def ordered_bounds(lower: Any, upper: Any, lower_name: str, upper_name: str) -> Tuple[float, float]:
    """Two finite numbers with ``lower < upper``."""
    lo = finite_real(lower, lower_name)
    hi = finite_real(upper, upper_name)
    if not lo < hi:
        raise ValueError(f"{lower_name} ({lo}) must be < {upper_name} ({hi})")
    return lo, hi
