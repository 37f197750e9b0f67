"""SpykeTorch's ``snn`` module: convolution, pooling, STDP and R-STDP under their reference names.

The classes live in :mod:`spyketorch.layers` and :mod:`spyketorch.learning`; this module keeps
the import path that code ported from SpykeTorch uses (``from spyketorch import snn``).

Example:
    >>> import spyketorch
    >>> from spyketorch import snn
    >>> snn.Convolution is spyketorch.layers.Convolution, snn.STDP is spyketorch.learning.STDP
    (True, True)
"""
from .layers import Convolution, Pooling
from .learning.stdp import RSTDP, STDP

__all__ = ["Convolution", "Pooling", "STDP", "RSTDP"]
