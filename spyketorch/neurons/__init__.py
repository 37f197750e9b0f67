r"""Stateful spiking-neuron layers for convolutional SNNs.

Every layer consumes the potentials of a convolution one time step at a time and runs the
same step, one pure function (:func:`spyketorch.neurons.step.neuron_step`):

1. **advance** – the model's equations move the membrane potential ``u`` (and its second
   variable ``w``) one step: its declared exact step, or forward Euler of its right-hand side;
2. **refractory clamp** – neurons that are still refractory sit at the resting potential;
3. **floor / cap** – most models never go below rest (``clamp_at_rest``); every
   nonlinear model is capped to a finite range so strong input never produces ``inf``/``NaN``;
4. **threshold** – a neuron spikes when ``u >= threshold`` (layer-wise, per neuron, or raised
   by adaptation);
5. **spikes** – amplitude :math:`1/t_s` (1 for the ``_Simple`` models);
6. **k-winners-take-all** per sample – the ``k`` spiking neurons with the highest
   potential, at most one per feature map; among equal potentials the lowest feature
   index wins first, and within a map the lowest row-major location;
7. **lateral inhibition** – the winners put their feature map (``"feature"``), their
   location across maps (``"location"``), the whole layer (``"layer"``), only the
   neurons that spiked (``"neuron"``) or nothing (``"none"``) into refractoriness
   for ``refractory_timesteps`` steps;
8. **reset** of every neuron that spiked and the model's after-spike jump (e.g. adaptation
   :math:`w \mathrel{+}= b`).

A model is one declaration (:mod:`spyketorch.neurons.models`): parameters with their
rules, its right-hand side or exact step, its after-spike jump and its traits. The eager
step, the compiled step (``backend="compiled"``: inductor's fused C++ or Triton kernels),
the surrogate-gradient step (``surrogate=``), the ODE plots and the NIR export all derive
from it.

The call contract follows the SpykeTorch ``neurons`` module::

    spikes, [thresholded,] potentials, [dudt,] [winners,] [winning_spikes]
        = layer(potentials, return_thresholded_potentials=False, return_dudt=False,
                return_winners=True, n_winners=1, return_winning_spikes=False)

and :meth:`Neuron.step` returns a :class:`StepOutput` named tuple of tensors that never
leaves the device.

Differences from the reference implementation (on purpose, and documented on each class):
inputs are batches ``[B, C, H, W]`` of any size and every sample is independent; state
lives on the input's device and dtype (float16 and bfloat16 inputs are stepped in float32
and the outputs returned in the input's dtype); refractoriness is an integer count of steps
(the reference's seconds counter could keep a neuron one step too long through rounding);
LIF really resets and integrates the exact exponential decay; ``_Simple`` models decay
toward rest; the ``Uniform*`` layers really use the time constants they draw; Izhikevich is
the 2003 model with the time step honoured.

Example:
    >>> import spyketorch.neurons as sn
    >>> layer = sn.LIF(threshold=10.0, inhibition_mode="feature")
    >>> out = layer.step(torch.full((1, 2, 3, 3), 5000.0), n_winners=1)
    >>> int(out.spikes.count_nonzero()), out.winners.tolist()
    (18, [[[0, 0, 0]]])
    >>> len(sn.MODELS)
    19
"""
from .heterogeneous import HeterogeneousNeuron
from .layer import BACKENDS, Neuron
from .model import Jump, ModelTraits, NeuronModel
from .models import (EIF, IF, IZHIKEVICH_PRESETS, LIF, QIF, AdaptiveLIF, AdEx, EIF_Simple, Izhikevich, LIF_ode,
                     LIF_Simple, ResonateAndFire)
from .params import INHIBITION_MODES, Param
from .registry import MODELS, ModelSpec, all_models
from .step import StepOutput
from .uniform import (UniformAdaptiveLIF, UniformAdEx, UniformEIF, UniformIzhikevich, UniformLIF, UniformLIF_Simple,
                      UniformQIF, UniformResonateAndFire)

__all__ = [
    "StepOutput", "Neuron", "NeuronModel", "IF", "LIF", "LIF_Simple", "LIF_ode", "EIF", "EIF_Simple", "QIF", "AdEx",
    "Izhikevich", "AdaptiveLIF", "ResonateAndFire", "HeterogeneousNeuron", "UniformLIF", "UniformLIF_Simple",
    "UniformEIF", "UniformQIF", "UniformAdEx", "UniformIzhikevich", "UniformAdaptiveLIF", "UniformResonateAndFire",
    "Param", "ModelTraits", "Jump", "ModelSpec", "MODELS", "INHIBITION_MODES", "BACKENDS", "IZHIKEVICH_PRESETS",
    "all_models",
]
