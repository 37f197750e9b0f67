"""The opt-in fused step of a neuron layer: the composed pipeline through ``torch.compile``
(private module).

:class:`FusedStep` is the part of :class:`spyketorch.neurons.Neuron` that compiles its step
(every stage, composed, with the model's own integrate and adapt steps) into fused
kernels. The eager step stays the reference: the fused one runs the same code, so it
gives the same spikes, winners and refractory state, and potentials equal to float
rounding (tested in ``tests/test_neurons.py``).

Two details make the compiled step usable for many layers and small inputs:

* each call of :meth:`FusedStep.compile` compiles its own copy of the step function, so
  the compiled code of one layer never counts against another's recompile limit
  (``torch.compile`` caches per function code object);
* inputs smaller than :data:`SMALL` elements run a single-threaded build (the threshold
  below which ATen's own element-wise ops stay on one thread): on a busy CPU a
  multi-threaded kernel on a few thousand elements waits for the slowest thread far
  longer than it computes.
"""
from __future__ import annotations

import types
from typing import Any, Callable, Dict, Optional, Tuple

import torch
from torch import Tensor

#: Inputs with fewer elements than this run the single-threaded compiled step.
SMALL = 32768
#: Marks the native step in place of the compiled functions.
NATIVE = "native"


def _own_copy(method: Any) -> Callable[..., Any]:
    """``method`` bound to its object again, through a new code object (a separate compile cache)."""
    fn = method.__func__
    code = fn.__code__.replace()
    copy = types.FunctionType(code, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
    copy.__kwdefaults__ = fn.__kwdefaults__
    return types.MethodType(copy, method.__self__)


class FusedStep:
    """Mixin of :class:`spyketorch.neurons.Neuron`: the opt-in compiled step."""

    _compiled: Optional[Tuple[Optional[Callable[..., Any]], Callable[..., Any]]]

    def compile(self, **kwargs: Any) -> Any:  # type: ignore[override]
        """Run the whole step (every stage, composed) through ``torch.compile``: the fused path.

        The first call for each input shape, device and dtype compiles (seconds to a
        minute on a small CPU); later steps run the fused kernels. Results equal the eager
        step's (spikes, winners and refractory state exactly, potentials to float
        rounding). Keyword arguments go to ``torch.compile`` (``options`` to inductor);
        inputs under 32768 elements use a single-threaded build unless ``options`` sets
        ``"cpp.threads"``. :meth:`eager` undoes it.

        Args:
            **kwargs: arguments of ``torch.compile`` (e.g. ``dynamic=False``, ``mode``,
                ``options``).

        Returns:
            the layer itself.

        Example:
            >>> from spyketorch.neurons import LIF
            >>> layer = LIF(threshold=10.0).compile(dynamic=False)  # compiles on the first step
            >>> layer.fused
            True
            >>> layer.eager().fused
            False
        """
        options: Dict[str, Any] = dict(kwargs.pop("options", None) or {})
        small = None
        if "cpp.threads" not in options:
            small = torch.compile(_own_copy(self._kernel), options={**options, "cpp.threads": 1}, **kwargs)
        large = torch.compile(_own_copy(self._kernel), options=options or None, **kwargs)
        self._compiled = (small, large)
        return self

    def native(self) -> Any:
        """Run the step through the hand-written C kernel on CPU inputs: the native fused path.

        One pass over the potentials, one feature map at a time, integrates the model
        (every registered model has its integrator in the kernel; EIF, EIF_Simple and AdEx
        in float32) and runs every later stage; a second small call picks the winners and
        inhibits. With per-neuron parameters, noise, or float64 EIF/AdEx, the model's own
        eager integrate runs around the pass. The kernel is built with the system C
        compiler (``$CC``, default ``cc``) in a few seconds on first use and cached
        (``$SPYKETORCH_CACHE``, default ``~/.cache/spyketorch``). Results equal the eager
        step's (spikes, winners and refractory state exactly, potentials to float
        rounding). Inputs on other devices run the eager step (half-precision inputs are
        stepped in float32, as always). :meth:`eager` undoes it.

        Returns:
            the layer itself.

        Raises:
            RuntimeError: no working C compiler.

        Example:
            >>> from spyketorch.neurons import LIF
            >>> layer = LIF(threshold=10.0).native()
            >>> layer.backend
            'native'
            >>> layer.eager().backend
            'eager'
        """
        from ._native import library

        library()  # build or load now, so a missing compiler shows here and not mid-run
        self._compiled = (NATIVE, NATIVE)
        return self

    def eager(self) -> Any:
        """Go back to the eager step (drops the compiled or native one). Returns the layer itself."""
        self._compiled = None
        return self

    @property
    def fused(self) -> bool:
        """Whether the step runs fused: through ``torch.compile`` (:meth:`compile`) or the
        native kernel (:meth:`native`)."""
        return self._compiled is not None

    @property
    def backend(self) -> str:
        """``"eager"``, ``"compiled"`` (:meth:`compile`) or ``"native"`` (:meth:`native`)."""
        if self._compiled is None:
            return "eager"
        return "native" if self._compiled[1] == NATIVE else "compiled"

    def _step_function(self, x: Tensor) -> Callable[..., Any]:
        """The step to run on input ``x``: the eager ``_kernel``, its compiled build or the native one."""
        if self._compiled is None:
            return self._kernel
        small, large = self._compiled
        if large == NATIVE:
            return self._native_kernel  # type: ignore[attr-defined]
        return small if small is not None and x.numel() < SMALL else large
