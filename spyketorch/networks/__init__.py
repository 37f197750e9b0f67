"""Networks: convolutional blocks of neuron layers stepped per time step, and the published
STDP networks as library code."""
from .blocks import (BlockRecord, NeuronConvBlock, StepNetwork, calibrate_gain, rstdp_update, strict_threshold,
                     winner_steps)
from .mozafari import MozafariConfig, MozafariNet

__all__ = ["BlockRecord", "NeuronConvBlock", "StepNetwork", "calibrate_gain", "rstdp_update", "strict_threshold",
           "winner_steps", "MozafariConfig", "MozafariNet"]
