"""Interchange with other tools: :mod:`spyketorch.interop.nir` (the Neuromorphic Intermediate Representation).

The optional packages these need (``nir``; ``norse`` for :func:`~spyketorch.interop.nir.norse_module`)
are imported only when a function that needs them is called, so ``import spyketorch`` works without them.

Example:
    >>> import spyketorch
    >>> graph = spyketorch.to_nir(LIF_ode(threshold=1.0, refractory_timesteps=0), torch.zeros(1, 2, 4, 4))
    >>> sorted(graph.nodes)
    ['input', 'lif_ode', 'lif_ode_amplitude', 'output']
    >>> type(spyketorch.from_nir(graph)).__name__
    'NIRNetwork'
"""
from .nir import NIRNetwork, from_nir, norse_module, to_nir

__all__ = ["NIRNetwork", "from_nir", "norse_module", "to_nir"]
