"""The other reference systems: stochastic synaptic-activation neurons (:mod:`~spyketorch.systems.sam`),
recurrent rate and spiking networks (:mod:`~spyketorch.systems.recurrent`) and a noisy feed-forward
IAF layer (:mod:`~spyketorch.systems.iaf`).

Example:
    >>> from spyketorch.systems import FFIAF
    >>> layer = FFIAF(torch.ones(1, 2), bias=0.0)
    >>> layer.evolve(torch.full((100, 1), 0.02), record=True).spikes.shape
    torch.Size([100, 2])
"""
from .iaf import FFIAF, FFIAFOutput
from .recurrent import Conv2dRateModel, RateModel, SpikingModel
from .sam import STOCHASTIC_MODELS, RectifiedSAM, SAMTuneResult

__all__ = ["RectifiedSAM", "SAMTuneResult", "STOCHASTIC_MODELS", "RateModel", "Conv2dRateModel", "SpikingModel",
           "FFIAF", "FFIAFOutput"]
