"""Learning rules: STDP and R-STDP on convolutions, and the R-STDP decision layer."""
from .decision import DecisionLayer, earliest_inputs
from .stdp import RSTDP, STDP

__all__ = ["STDP", "RSTDP", "DecisionLayer", "earliest_inputs"]
