"""Learning rules: STDP and R-STDP on convolutions, and the R-STDP decision layer.

Example:
    >>> from spyketorch.learning import STDP
    >>> from spyketorch.layers import Convolution
    >>> stdp = STDP(Convolution(2, 4, 5), learning_rate=(0.004, -0.003))
    >>> stdp.conv_layer.weight.shape
    torch.Size([4, 2, 5, 5])
"""
from .decision import DecisionLayer, earliest_inputs
from .stdp import RSTDP, STDP

__all__ = ["STDP", "RSTDP", "DecisionLayer", "earliest_inputs"]
