"""Networks: convolutional blocks of neuron layers stepped per time step, and the published
STDP networks as library code (:mod:`.kheradpisheh`: Kheradpisheh et al. 2018; :mod:`.neuron_stdp`:
its first layer built from any neuron model).

Example:
    >>> from spyketorch.layers import Convolution
    >>> from spyketorch.networks import NeuronConvBlock, StepNetwork
    >>> net = StepNetwork([NeuronConvBlock(Convolution(2, 4, 3), LIF(threshold=1.0), pool=(2, 2, 0))])
    >>> records = net.run(torch.ones(2, 5, 2, 6, 6))  # [B, T, C, H, W]
    >>> records[0].post_times.shape  # first-spike step of every neuron
    torch.Size([2, 4, 4, 4])
"""
from . import kheradpisheh, neuron_stdp
from .blocks import (BlockRecord, NeuronConvBlock, StepNetwork, calibrate_gain, rstdp_update, strict_threshold,
                     winner_steps)
from .kheradpisheh import KheradpishehNet
from .mozafari import MozafariConfig, MozafariNet

__all__ = ["BlockRecord", "NeuronConvBlock", "StepNetwork", "calibrate_gain", "rstdp_update", "strict_threshold",
           "winner_steps", "KheradpishehNet", "MozafariConfig", "MozafariNet", "kheradpisheh", "neuron_stdp"]
