r"""Heterogeneous layers: a base model whose time constant is drawn once per feature map.

:func:`heterogeneous` derives each ``Uniform*`` layer from its base model and one per-map
draw :math:`\tau_c \sim \mathcal{U}(\tau_{lo}, \tau_{hi})`, with the parameters the draw sets
(``tau_rc`` itself, Izhikevich's :math:`a = 1/(1000\tau)`, resonate-and-fire's
:math:`b = -1/\tau`). The drawn values are ``[C, 1, 1]`` buffers (in ``state_dict``, moved by
``.to``) that the dynamics really use (the reference sampled them per batch element and
then ignored them in UniformEIF/UniformQIF, which did not even construct).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from .. import _validation as _v
from . import params as _p
from .layer import Neuron
from .params import Param

__all__ = ["HeterogeneousNeuron", "heterogeneous"]


class HeterogeneousNeuron(Neuron):
    r"""Base of the layers whose time constant differs between feature maps.

    ``tau_rc`` is drawn once per feature map, uniformly from ``tau_range``, at construction
    when ``n_features`` is given, else on the first step; reproducibly from ``generator`` or
    ``seed`` (else the global torch RNG). :meth:`reset` keeps the drawn values;
    :meth:`resample` draws new ones, :meth:`set_taus` sets them by hand.

    Example:
        >>> layer = UniformLIF(threshold=10.0, tau_range=(0.01, 0.05), n_features=4, seed=0)
        >>> isinstance(layer, HeterogeneousNeuron), tuple(layer.param("tau_rc").flatten().shape)
        (True, (4,))
    """

    #: the parameters the draw sets: ``tau_rc`` (the drawn values) and those derived from it
    SAMPLED: Tuple[str, ...] = ("tau_rc",)
    EXTRA = dict(tau_range=(0.01, 0.03), generator=None, seed=None, n_features=None)

    @staticmethod
    def from_taus(taus: Tensor) -> Dict[str, Tensor]:
        """The parameters set by drawn time constants ``taus``."""
        return {"tau_rc": taus}

    def _pending(self, a: Dict[str, Any]) -> set:
        self._tau_request = (a.pop("tau_range"), a.pop("generator"), a.pop("seed"), a.pop("n_features"))
        return set(self.SAMPLED)

    def _setup(self, a: Dict[str, Any]) -> None:
        super()._setup(a)
        tau_range, generator, seed, n_features = self.__dict__.pop("_tau_request")
        self.tau_range = _p.tau_range(tau_range, self._ts, "tau_rc" in self.TRAITS.ts_below, type(self).__name__)
        self._generator = _p.seed_generator(generator, seed)
        if n_features is not None:
            self._sample(_v.positive_int(n_features, "n_features"))
        self._validate()

    def get_uniform_distribution(self, range: Sequence[float], size: Sequence[int]) -> Tensor:
        """Values drawn uniformly from ``range``, one per feature map: shape ``[size[-3], 1, 1]``."""
        n = int(size[-3]) if len(size) >= 3 else int(size[0])
        lo, hi = float(range[0]), float(range[1])
        u = torch.rand(n, dtype=torch.float64, generator=self._generator)
        return (lo + (hi - lo) * u).view(n, 1, 1)

    def _sample(self, n_features: int) -> None:
        self._set_taus(self.get_uniform_distribution(self.tau_range, (n_features, 1, 1)))

    def _set_taus(self, taus: Tensor) -> None:
        self._set_params_unchecked({"tau_rc": taus, **self.from_taus(taus)})
        self._settle_rest()

    def set_taus(self, taus: Union[float, Tensor]) -> None:
        """Set the time constants (and what they imply) by hand, e.g. one value for every map."""
        t = _p.check_param("taus", taus, "positive")
        _p.check_euler_taus(float(t.min()), self._ts, "tau_rc" in self.TRAITS.ts_below, type(self).__name__,
                            "min(taus)")
        self._set_taus(t)

    @property
    def generator(self) -> Optional[torch.Generator]:
        """The random generator the time constants are drawn from (None: torch's global one)."""
        return self._generator

    @generator.setter
    def generator(self, value: Optional[torch.Generator]) -> None:
        self._generator = _p.check_generator(value)

    @property
    def taus(self) -> Optional[Tensor]:
        """The drawn time constants ``[C, 1, 1]`` (None before the first step)."""
        return self.param_or_none("tau_rc")

    def resample(self, n_features: Optional[int] = None) -> None:
        """Draw new time constants (for ``n_features`` maps, default: the current number)."""
        n = n_features if n_features is not None else (None if self.taus is None else self.taus.shape[0])
        if n is None:
            raise ValueError("n_features is unknown before the first call; pass it")
        self._sample(n)

    def _validate(self) -> None:
        euler = "tau_rc" in self.TRAITS.ts_below
        if "tau_range" in self.__dict__:
            _p.check_euler_taus(self.tau_range[0], self._ts, euler, type(self).__name__, "tau_range[0]")
        taus = self.param_or_none("tau_rc")
        if taus is not None:
            _p.check_euler_taus(float(taus.detach().min()), self._ts, euler, type(self).__name__, "min(taus)")
        super()._validate()

    def on_input(self, x: Tensor) -> None:
        taus = self.param_or_none("tau_rc")
        if taus is None:
            self._sample(x.shape[1])
        elif taus.dim() == 3 and taus.shape[0] != x.shape[1]:
            raise ValueError(f"this layer sampled tau_rc for {taus.shape[0]} feature maps, got {x.shape[1]}")


_DOC = r"""Heterogeneous :class:`~spyketorch.neurons.{base}`: ``tau_rc`` drawn per feature map from ``tau_range``.

    .. math::
        \tau_c \sim \mathcal{{U}}(\tau_{{lo}}, \tau_{{hi}}) \text{{ for each feature map }} c

    and then exactly the dynamics of :class:`~spyketorch.neurons.{base}` with a per-map time
    constant (see :class:`HeterogeneousNeuron`). Arguments are those of
    :class:`~spyketorch.neurons.{base}` with ``tau_range`` (a ``(low, high)`` pair in seconds)
    in place of ``tau_rc``, plus the keyword-only ``generator``, ``seed`` and ``n_features``.

    Shape:
        input ``[B, C, H, W]``; ``taus`` is ``[C, 1, 1]``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> layer = {name}(threshold=10.0, tau_range=(0.01, 0.05), seed=0, n_features=4)
        >>> out = layer.step(torch.rand(2, 4, 5, 5, generator=g) * 500)
        >>> [round(tau, 4) for tau in layer.taus.flatten().tolist()]
        [0.0488, 0.0383, 0.0284, 0.0468]
        >>> out.spikes.shape
        torch.Size([2, 4, 5, 5])
    """


def heterogeneous(base: type, name: str, sets: Optional[Tuple[str, Callable[[Tensor], Tensor]]] = None,
                  tau_range: Tuple[float, float] = (0.01, 0.03), doc: Optional[str] = None) -> type:
    """The ``Uniform*`` layer of ``base``: its ``tau_rc`` (or, with ``sets = (param, law)``,
    the parameter ``param = law(tau)``) drawn per feature map from ``tau_range`` (the default
    of the layer's ``tau_range`` argument).

    Example:
        >>> MyUniformLIF = heterogeneous(LIF, "MyUniformLIF")
        >>> layer = MyUniformLIF(threshold=10.0, n_features=3, seed=0)
        >>> isinstance(layer, HeterogeneousNeuron), tuple(layer.param("tau_rc").flatten().shape)
        (True, (3,))
    """
    sampled = ("tau_rc",) if sets is None else ("tau_rc", sets[0])
    ns: Dict[str, Any] = {
        "SAMPLED": sampled,
        "EXTRA": dict(HeterogeneousNeuron.EXTRA, tau_range=tau_range),
        "SIGNATURE": ("threshold", "tau_range") + tuple(n for n in base.SIGNATURE
                                                        if n not in ("threshold", "tau_rc") + sampled),
        "__module__": "spyketorch.neurons",
        "__qualname__": name,
        "__doc__": doc if doc is not None else _DOC.format(base=base.__name__, name=name),
    }
    if sets is not None:
        param, law = sets
        ns["from_taus"] = staticmethod(lambda taus: {param: law(taus)})
        if not any(p.name == "tau_rc" for p in base.all_params()):
            ns["PARAMS"] = (Param("tau_rc", None, "positive"),)
    return type(name, (HeterogeneousNeuron, base), ns)
