"""Networks: convolutional blocks of neuron layers stepped per time step, and the published
STDP networks as library code (:mod:`.kheradpisheh`: Kheradpisheh et al. 2018; :mod:`.neuron_stdp`:
its first layer built from any neuron model)."""
from . import kheradpisheh, neuron_stdp
from .blocks import (BlockRecord, NeuronConvBlock, StepNetwork, calibrate_gain, rstdp_update, strict_threshold,
                     winner_steps)
from .kheradpisheh import KheradpishehNet
from .mozafari import MozafariConfig, MozafariNet

__all__ = ["BlockRecord", "NeuronConvBlock", "StepNetwork", "calibrate_gain", "rstdp_update", "strict_threshold",
           "winner_steps", "KheradpishehNet", "MozafariConfig", "MozafariNet", "kheradpisheh", "neuron_stdp"]
