"""spyketorch: convolutional spiking neural networks with STDP in PyTorch.

Batched, device-agnostic neuron layers (:mod:`spyketorch.neurons`), stateless spike
operations (:mod:`spyketorch.functional`), learning layers (:mod:`spyketorch.snn`),
input coding (:mod:`spyketorch.utils`), plots (:mod:`spyketorch.plotting`) and
recorded simulations (:mod:`spyketorch.simulation`), the earliest-spike R-STDP decision
layer (:mod:`spyketorch.decision`), data-parallel helpers (:mod:`spyketorch.distributed`)
and the other reference systems: Poisson synaptic-activation neurons
(:mod:`spyketorch.sam`), recurrent rate and spiking networks (:mod:`spyketorch.recurrent`)
and a feed-forward IAF layer (:mod:`spyketorch.iaf`).
"""
from . import neurons
from .neurons import (
    EIF,
    EIF_Simple,
    IF,
    LIF,
    LIF_ode,
    LIF_Simple,
    QIF,
    AdEx,
    HeterogeneousNeuron,
    Izhikevich,
    Neuron,
    StepOutput,
    UniformAdEx,
    UniformEIF,
    UniformIzhikevich,
    UniformLIF,
    UniformLIF_Simple,
    UniformQIF,
    AdaptiveLIF,
    UniformAdaptiveLIF,
    ResonateAndFire,
    UniformResonateAndFire,
    MODELS,
    ModelSpec,
    all_models,
)

from . import analysis, functional, simulation, snn, utils
from .snn import RSTDP, STDP, Convolution, Pooling
from .utils import (
    CacheDataset,
    DoGKernel,
    Filter,
    GaborKernel,
    Intensity2Latency,
    LateralIntensityInhibition,
    MNISTSubset,
    load_mnist,
    load_mnist_subset,
)
from .simulation import (
    FICurve,
    TuneResult,
    analytic_lif_rate,
    fi_curve,
    firing_rate,
    load_layer,
    run,
    save_layer,
    simulate,
    tune_threshold,
)
from . import decision, distributed, events, iaf, network, recurrent, sam
from .decision import DecisionLayer
from .sam import STOCHASTIC_MODELS, RectifiedSAM, SAMTuneResult
from .recurrent import Conv2dRateModel, RateModel, SpikingModel
from .iaf import FFIAF, FFIAFOutput

__version__ = "0.1.0"


def __getattr__(name: str):  # ``spyketorch.plotting`` on first use: nothing imports plotting eagerly
    if name == "plotting":
        import importlib

        return importlib.import_module(".plotting", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "neurons",
    "Neuron", "StepOutput", "IF", "LIF", "LIF_Simple", "LIF_ode", "EIF", "EIF_Simple", "QIF", "AdEx",
    "Izhikevich", "HeterogeneousNeuron", "UniformLIF", "UniformLIF_Simple", "UniformEIF", "UniformQIF",
    "UniformAdEx", "UniformIzhikevich", "AdaptiveLIF", "UniformAdaptiveLIF", "ResonateAndFire",
    "UniformResonateAndFire", "MODELS", "ModelSpec", "all_models", "analysis",
    "functional", "snn", "utils", "Convolution", "Pooling", "STDP", "RSTDP", "DoGKernel", "GaborKernel",
    "Filter", "Intensity2Latency", "LateralIntensityInhibition", "CacheDataset", "MNISTSubset",
    "load_mnist_subset", "load_mnist",
    "plotting", "simulation", "simulate", "run", "firing_rate", "fi_curve", "FICurve", "analytic_lif_rate",
    "tune_threshold", "TuneResult", "save_layer", "load_layer",
    "decision", "DecisionLayer", "distributed", "events", "network", "sam", "recurrent", "iaf",
    "RectifiedSAM", "SAMTuneResult", "STOCHASTIC_MODELS",
    "RateModel", "Conv2dRateModel", "SpikingModel", "FFIAF", "FFIAFOutput",
]
