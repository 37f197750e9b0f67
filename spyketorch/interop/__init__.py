"""Interchange with other tools: :mod:`spyketorch.interop.nir` (the Neuromorphic Intermediate Representation).

The optional packages these need (``nir``; ``norse`` for :func:`~spyketorch.interop.nir.norse_module`)
are imported only when a function that needs them is called, so ``import spyketorch`` works without them.
"""
from .nir import NIRNetwork, from_nir, norse_module, to_nir

__all__ = ["NIRNetwork", "from_nir", "norse_module", "to_nir"]
