"""spyketorch: convolutional spiking neural networks with STDP in PyTorch.

Subpackages by area, imports flowing one way (each imports only those above it):

* :mod:`spyketorch.functional` – stateless spike-wave operations;
* :mod:`spyketorch.neurons` – neuron models (one declaration each), their step and the layers;
* :mod:`spyketorch.layers` – convolution and pooling of spike-waves;
* :mod:`spyketorch.learning` – STDP, R-STDP and the decision layer;
* :mod:`spyketorch.coding` – filters, latency and event coding, datasets;
* :mod:`spyketorch.networks` – blocks stepped per time step and the published networks;
* :mod:`spyketorch.systems` – the other reference systems (SAM, recurrent models, FFIAF);
* :mod:`spyketorch.analysis` – nullclines, simulation, f–I curves, plots (matplotlib lazily);
* :mod:`spyketorch.distributed` – data-parallel training over ``torch.distributed``;
* :mod:`spyketorch.interop` – NIR export and import (:func:`to_nir`, :func:`from_nir`; ``nir`` imported lazily).

:mod:`spyketorch.snn` and :mod:`spyketorch.utils` keep SpykeTorch's module names for ported code.
"""
from . import functional, neurons
from .neurons import (
    IF, LIF, LIF_ode, LIF_Simple, EIF, EIF_Simple, QIF, AdEx, Izhikevich, AdaptiveLIF, ResonateAndFire,
    UniformLIF, UniformLIF_Simple, UniformEIF, UniformQIF, UniformAdEx, UniformIzhikevich, UniformAdaptiveLIF,
    UniformResonateAndFire, MODELS, Neuron, StepOutput,
)
from . import layers, learning, coding, networks, systems, analysis, distributed, interop, snn, utils
from .layers import Convolution, Pooling
from .learning import RSTDP, STDP, DecisionLayer
from .coding import DoGKernel, Filter, GaborKernel, Intensity2Latency
from .networks import NeuronConvBlock, StepNetwork
from .analysis import simulate, fi_curve, load_layer, save_layer
from .interop import from_nir, to_nir

__version__ = "0.2.0.dev0"

__all__ = [
    # modules
    "functional", "neurons", "layers", "learning", "coding", "networks", "systems", "analysis", "distributed",
    "interop", "snn", "utils",
    # neuron layers
    "Neuron", "StepOutput", "MODELS",
    "IF", "LIF", "LIF_ode", "LIF_Simple", "EIF", "EIF_Simple", "QIF", "AdEx", "Izhikevich", "AdaptiveLIF",
    "ResonateAndFire", "UniformLIF", "UniformLIF_Simple", "UniformEIF", "UniformQIF", "UniformAdEx",
    "UniformIzhikevich", "UniformAdaptiveLIF", "UniformResonateAndFire",
    # layers, learning, coding, networks
    "Convolution", "Pooling", "STDP", "RSTDP", "DecisionLayer", "DoGKernel", "GaborKernel", "Filter",
    "Intensity2Latency", "NeuronConvBlock", "StepNetwork",
    # analysis
    "simulate", "fi_curve", "save_layer", "load_layer",
    # interchange (NIR)
    "to_nir", "from_nir",
]
