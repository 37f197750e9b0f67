"""The one registry of neuron models, read by the generic tests, the benchmarks, the gallery,
the plots and :func:`spyketorch.analysis.load_layer`. A new model adds one line.

Example:
    >>> from spyketorch.neurons import MODELS
    >>> sorted(MODELS)[:4], MODELS["AdEx"].cls.__name__
    (['AdEx', 'AdaptiveLIF', 'EIF', 'EIF_Simple'], 'AdEx')
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Dict, NamedTuple, Optional, Tuple

from .heterogeneous import HeterogeneousNeuron
from .layer import Neuron
from .models import (EIF, IF, LIF, QIF, AdaptiveLIF, AdEx, EIF_Simple, Izhikevich, LIF_ode, LIF_Simple,
                     ResonateAndFire)
from .uniform import (UniformAdaptiveLIF, UniformAdEx, UniformEIF, UniformIzhikevich, UniformLIF, UniformLIF_Simple,
                      UniformQIF, UniformResonateAndFire)

__all__ = ["ModelSpec", "MODELS", "all_models"]


class ModelSpec(NamedTuple):
    """One registered model: its class, how to build a demonstration layer, and an input
    scale that makes that layer fire a few neurons per step (inputs ``rand * scale``).

    Example:
        >>> spec = MODELS["LIF"]
        >>> spec.cls is LIF, spec.input_scale
        (True, 2000.0)
        >>> layer = spec.build()  # the demonstration layer
        >>> x = torch.rand(1, 4, 5, 5, generator=torch.Generator().manual_seed(0)) * spec.input_scale
        >>> layer.step(x).spikes.shape
        torch.Size([1, 4, 5, 5])
    """

    name: str
    cls: type
    build: Callable[..., Neuron]
    input_scale: float


def _build(cls: type, fixed: Dict[str, Any], threshold: float = 10.0,
           tau_range: Optional[Tuple[float, float]] = None, seed: int = 0,
           n_features: Optional[int] = None) -> Neuron:
    """A demonstration layer of ``cls``: the registry entry's fixed arguments win, then
    ``threshold``; ``Uniform*`` layers also get ``tau_range`` (default (0.01, 0.05) s),
    ``seed`` and ``n_features``."""
    kw: Dict[str, Any] = dict(fixed)
    if "threshold" not in kw:
        kw["threshold"] = threshold
    if issubclass(cls, HeterogeneousNeuron):
        kw.setdefault("tau_range", (0.01, 0.05) if tau_range is None else tau_range)
        kw.update(seed=seed, n_features=n_features)
    return cls(**kw)


def _spec(cls: type, scale: float, **fixed: Any) -> ModelSpec:
    return ModelSpec(cls.__name__, cls, functools.partial(_build, cls, fixed), scale)


#: Every registered model, by name.
MODELS: Dict[str, ModelSpec] = {s.name: s for s in (
    _spec(IF, 2000.0), _spec(LIF, 2000.0), _spec(LIF_ode, 2000.0), _spec(LIF_Simple, 12.0),
    _spec(EIF, 2000.0), _spec(EIF_Simple, 12.0), _spec(QIF, 2000.0), _spec(AdEx, 2000.0),
    _spec(Izhikevich, 40.0, threshold=30.0), _spec(AdaptiveLIF, 2000.0), _spec(ResonateAndFire, 8000.0, threshold=1.0),
    _spec(UniformLIF, 2000.0), _spec(UniformLIF_Simple, 12.0), _spec(UniformEIF, 2000.0),
    _spec(UniformQIF, 2000.0), _spec(UniformAdEx, 2000.0),
    _spec(UniformIzhikevich, 40.0, threshold=30.0, tau_range=(0.02, 0.1)),
    _spec(UniformAdaptiveLIF, 2000.0), _spec(UniformResonateAndFire, 8000.0, threshold=1.0, tau_range=(0.1, 0.5)),
)}


def all_models(threshold: float = 10.0, tau_range: Tuple[float, float] = (0.01, 0.05), seed: int = 0,
               n_features: Optional[int] = None) -> Dict[str, Any]:
    """A constructor for every registered model (:data:`MODELS`), by name.

    The layers get ``threshold`` (Izhikevich keeps its 30 mV cut-off), the ``Uniform*``
    layers draw their time constants from ``tau_range`` with ``seed`` (UniformIzhikevich
    from ``(0.02, 0.1)`` s, UniformResonateAndFire from ``(0.1, 0.5)`` s) for
    ``n_features`` maps (``None``: on the first call).

    Args:
        threshold: firing threshold. Default: 10.0.
        tau_range: range of the sampled ``tau_rc``. Default: (0.01, 0.05).
        seed: seed of the sampled time constants. Default: 0.
        n_features: number of feature maps of the ``Uniform*`` layers. Default: None.

    Returns:
        ``{name: zero-argument constructor}`` for every registered model.

    Example:
        >>> layers = {name: make() for name, make in all_models().items()}
        >>> sorted(layers)[:3]
        ['AdEx', 'AdaptiveLIF', 'EIF']
    """
    return {name: functools.partial(spec.build, threshold, tau_range, seed, n_features)
            for name, spec in MODELS.items()}
