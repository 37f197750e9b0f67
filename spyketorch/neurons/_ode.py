"""The model's right-hand side as a float64 function, and its plot (private module).

:class:`OdeConveniences` is the part of :class:`spyketorch.neurons.Neuron` that lets
analysis and plots read the one right-hand side a model declares (``rhs``): ``ode``,
``ode_w`` and ``plot_ode`` (which imports :mod:`spyketorch.plotting` only when called).
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import torch
from torch import Tensor


def f64(x: Any) -> Tensor:
    """``x`` as a float64 tensor."""
    return torch.as_tensor(x, dtype=torch.float64)


class OdeConveniences:
    """Mixin of :class:`spyketorch.neurons.Neuron`: the right-hand side in float64 and its plot."""

    def _params64(self) -> Any:
        return self._params(torch.device("cpu"), torch.float64)

    def ode(self, u: Any, I: Any = 0.0, w: Any = None) -> Tensor:
        r"""Right-hand side :math:`du/dt` (units of ``u`` per second) for potentials ``u``,
        input ``I`` (and second variable ``w``), in float64: the first output of :meth:`rhs`."""
        u, I = f64(u), f64(I)
        if self.has_second_variable:
            w = torch.zeros_like(u) if w is None else f64(w)
        else:
            w = None
        return self.rhs(u, w, I, self._params64())[0]

    def ode_w(self, u: Any, w: Any, I: Any = 0.0) -> Tensor:
        r""":math:`dw/dt` of the second variable per second, in float64 (second output of :meth:`rhs`)."""
        if not self.has_second_variable:
            raise ValueError(f"{type(self).__name__} has no second state variable")
        return self.rhs(f64(u), f64(w), f64(I), self._params64())[1]

    def plot_ode(self, figure: Any = None, ax: Any = None, current: Optional[float] = None) -> Tuple[Any, Any]:
        """Plot :math:`du/dt` against :math:`u` (with and without ``current``); see
        :func:`spyketorch.plotting.plot_ode`. Returns ``(figure, axes)``."""
        from ..analysis.plotting import plot_ode as _plot_ode  # lazy: matplotlib only when plotting

        return _plot_ode(self, figure=figure, ax=ax, current=current)
