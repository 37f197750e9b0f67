r"""Export to and import from NIR, the Neuromorphic Intermediate Representation.

NIR (the ``nir`` package) describes a spiking network as a graph of nodes: linear maps
(``Conv2d``, ``Affine``, ``Scale``, ``Flatten``, ``SumPool2d``, ``Threshold``) and neurons
written as continuous-time equations (``IF``, ``LIF``, ...). snnTorch, Norse, SpikingJelly,
Lava, Rockpool, Sinabs and several chip toolchains read and write it.
:func:`to_nir` writes a spyketorch network as such a graph; :func:`from_nir` builds a
network of spyketorch layers from one.

**Our step as NIR's equations.** Every layer NIR can express advances its potential with an
affine map per step of :math:`t_s` seconds,

.. math::
    u_{t+1} = \alpha\,u_t + \beta\,I_t + \gamma, \qquad
    u_{t+1} \ge \vartheta \Rightarrow \text{spike},\; u_{t+1} \leftarrow v_{reset},

read off the model's own step (its declared exact step or forward Euler of its ``rhs``), so
nothing is written per class. NIR's LIF is :math:`\tau\,\dot v = (v_{leak} - v) + R\,I`, its
IF :math:`\dot v = R\,I`, both firing when :math:`v > v_{thr}` and resetting to
:math:`v_{reset}`. The mapping, with the graph's time step ``dt`` = :math:`t_s`:

* ``IF`` (:math:`\alpha = 1`, :math:`\beta = t_s/C`): ``nir.IF`` with :math:`R = \beta/t_s = 1/C`
  (forward Euler of :math:`\dot v = R I` over one step is exactly our step). NIR's IF has no
  leak potential, so the potentials are written relative to rest: :math:`v = u - u_{rest}`.
* ``LIF``, ``LIF_ode``, ``LIF_Simple`` (:math:`0 < \alpha < 1`): ``nir.LIF`` with
  :math:`v_{leak} = \gamma / (1 - \alpha)` (the resting potential) and

  - exact exponential models (``LIF``): :math:`\tau = -t_s / \ln\alpha` (that is ``tau_rc``) and
    :math:`R = \beta\tau/t_s = \tau_{rc}/C`: the input of a step arrives as a charge
    :math:`t_s I_t` at its end, which the exact solution of NIR's equation turns into the jump
    :math:`R\,t_s I_t/\tau = t_s I_t/C` of our step;
  - forward-Euler models (``LIF_ode``: :math:`\alpha = 1 - t_s/\tau_{rc}`, :math:`\beta = t_s/C`;
    ``LIF_Simple``: :math:`\beta = 1`): :math:`\tau = t_s/(1 - \alpha) = \tau_{rc}` and
    :math:`R = \beta\tau/t_s` (``tau_rc / C``, and ``tau_rc / ts`` for ``LIF_Simple``), so that
    forward Euler of NIR's equation at ``dt`` is our step.

  Norse and snnTorch integrate NIR's LIF with forward Euler,
  :math:`v \leftarrow v + \tfrac{dt}{\tau}(v_{leak} - v + R\,x)` (Norse assumes :math:`R = 1`;
  snnTorch steps at ``dt = 1e-4`` s whatever the graph says, as
  :math:`m \leftarrow (1 - dt/\tau)\,m + x` with :math:`v = m\,R\,dt/\tau`). They reproduce
  ``LIF_ode`` and ``LIF_Simple`` exactly. For ``LIF`` pass ``euler=True``: the graph then
  holds :math:`\tau = t_s/(1 - e^{-t_s/\tau_{rc}})` (and :math:`R = \beta\tau/t_s`), the
  time constant whose Euler step decays by exactly :math:`e^{-t_s/\tau_{rc}}`.

* **Threshold rule.** Our layers fire at :math:`u \ge \vartheta`, computed in the input's
  dtype; NIR fires at :math:`v > v_{thr}`. The graph holds
  :math:`v_{thr}` = the float32 number just below :math:`\vartheta` (float32 is what NIR
  consumers compute in), so :math:`v > v_{thr} \Leftrightarrow u \ge \vartheta` for every
  float32 potential; :func:`from_nir` inverts it exactly. A layer without threshold writes
  :math:`+\infty`.
* **Reset.** :math:`v_{reset}` is the model's reset potential (``v_reset``, or rest).
* **Spike amplitude.** NIR's neurons emit unit spikes. A layer whose spikes have amplitude
  :math:`1/t_s` is followed by ``Scale(1/ts)`` where the amplitude reaches a later node; in a
  :class:`~spyketorch.networks.NeuronConvBlock` it never does (the block passes on 0/1 spikes).
* **Time step.** The graph's metadata holds ``dt`` (seconds); every layer must share it.

Per-map or per-neuron parameters (``Uniform*`` time constants, ``per_neuron_thresh``) become
per-neuron arrays of the layer's shape. Blocks and the other modules map as:
``Convolution`` (and a block's padding) -> ``Conv2d``; a block's gain -> ``Scale``; max
pooling of spikes (:class:`~spyketorch.layers.Pooling`, a block's ``pool``) -> ``SumPool2d``
then ``Threshold(0)`` (a window holds a spike iff the sum of its non-negative spikes is
positive); ``torch.nn.Flatten`` -> ``Flatten``; ``torch.nn.Linear`` -> ``Affine``.

**What NIR cannot express** raises ``ValueError`` naming the layer and the feature; with
``approximate=True`` the nearest node is written instead and what was dropped is listed in
the graph's metadata (``spyketorch_dropped``) and in a warning:

* a refractory period or k-WTA lateral inhibition (``refractory_timesteps > 0`` with an
  ``inhibition_mode`` other than ``"none"``);
* the dynamics of EIF, QIF, AdEx, Izhikevich, AdaptiveLIF and ResonateAndFire (a step not
  affine in the potential, or a second state variable): the nearest node is the LIF (or IF)
  of the step linearised at rest with the second variable held at its resting value;
* membrane noise;
* the floor at rest (``clamp_at_rest=True``, the default of IF and the LIFs) where the layer's
  input can be negative. Where every weight on the way from the input is non-negative (STDP
  weights are), the input is non-negative (``sample_data >= 0``, e.g. spikes) and the reset is
  not below rest, the potential never goes below rest and the floor never acts, so it is
  exported as is.

**The stepping contract of** :func:`from_nir`: the returned :class:`NIRNetwork` maps one time
step ``[B, *input_shape]`` to ``[B, *output_shape]`` with :meth:`NIRNetwork.step` (keeping its
neurons' state), and a presentation ``[T, B, *input_shape]`` to ``[T, B, *output_shape]`` with
``forward`` (which resets every neuron first, so each sample starts at rest). Its neurons emit
unit spikes, as NIR's do.
"""
from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..layers import Convolution, Pooling
from ..networks.blocks import NeuronConvBlock, StepNetwork
from ..neurons import IF, LIF, LIF_ode, LIF_Simple, Neuron

__all__ = ["NIRNetwork", "SpikingNode", "from_nir", "norse_module", "to_nir"]

#: the spyketorch models NIR expresses exactly, most derived first
EXACT_MODELS = (LIF_ode, LIF_Simple, LIF, IF)
#: relative tolerance of the affine fit of a step and of the consistency checks of from_nir
_RTOL = 1e-9


def _require_nir() -> Any:
    try:
        import nir
    except ImportError as e:  # pragma: no cover - exercised by a test that hides the module
        raise ImportError("spyketorch.to_nir and spyketorch.from_nir need the 'nir' package: "
                          "pip install nir (or pip install spyketorch[nir])") from e
    return nir


def _as4(shape: Sequence[int]) -> Tuple[int, int, int]:
    """The ``[C, H, W]`` view a neuron layer steps on for one sample of ``shape``."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 0:
        return (1, 1, 1)
    if len(shape) > 3:
        raise ValueError(f"neuron layers take up to 3 dimensions per sample, got shape {shape}")
    return shape + (1,) * (3 - len(shape))


def _strict_below(theta: np.ndarray) -> np.ndarray:
    """NIR's strict threshold for our ``u >= theta``: the float32 number just below ``float32(theta)``."""
    t32 = np.asarray(theta, dtype=np.float64).astype(np.float32)
    below = np.nextafter(t32, np.float32(-np.inf)).astype(np.float64)
    return np.where(np.isposinf(theta), np.inf, below)


def _at_least(v_threshold: np.ndarray) -> np.ndarray:
    """Our ``u >= theta`` for NIR's ``v > v_threshold`` (inverse of :func:`_strict_below`)."""
    v = np.asarray(v_threshold, dtype=np.float64)
    above = np.nextafter(v.astype(np.float32), np.float32(np.inf)).astype(np.float64)
    return np.where(np.isposinf(v), np.inf, above)


def _np(x: Any) -> np.ndarray:
    if isinstance(x, Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _full(x: Any, shape: Tuple[int, ...]) -> np.ndarray:
    """``x`` (number or tensor broadcasting against the 4-D view of ``shape``) as a float64 array of ``shape``."""
    a = _np(x).astype(np.float64)
    view = _as4(shape)
    return np.ascontiguousarray(np.broadcast_to(a, (1,) + view).reshape(shape))


# ---------------------------------------------------------------------------- neurons -> NIR
@dataclass
class _Fields:
    """The NIR fields of one neuron layer on inputs of one shape."""

    kind: str                      # "IF" or "LIF"
    r: np.ndarray
    v_threshold: np.ndarray
    v_reset: np.ndarray
    tau: Optional[np.ndarray]      # LIF only
    v_leak: Optional[np.ndarray]   # LIF only
    integrator: str                # "exact" or "euler": how tau was derived
    features: List[str] = field(default_factory=list)  # what NIR cannot express


def _neuron_fields(layer: Neuron, shape: Tuple[int, ...], euler: bool, nonneg_input: bool) -> _Fields:
    """Derive the NIR node of ``layer`` from its one step (see the module docstring)."""
    name = type(layer).__name__
    feats: List[str] = []
    R, mode = layer.refractory_timesteps, layer.inhibition_mode
    if R > 0 and mode == "neuron":
        feats.append(f"refractory period (refractory_timesteps={R}, inhibition_mode='neuron')")
    elif R > 0 and mode != "none":
        feats.append(f"k-WTA lateral inhibition (inhibition_mode={mode!r}, refractory_timesteps={R})")
    if layer.noise_std > 0:
        feats.append(f"membrane noise (noise_std={layer.noise_std:g})")
    if layer.has_second_variable:
        feats.append(f"the second state variable of {name} (adaptation, recovery or oscillation)")
    for p_ in layer.declarations:
        if p_.rule != "optional" and layer.param_or_none(p_.name) is None:
            raise ValueError(f"{name}: parameter {p_.name} is not set yet (a Uniform* layer draws its time "
                             f"constants on its first step: pass n_features or run one step before exporting)")
    f64 = torch.float64
    p = layer.params()
    ts = float(p.ts)
    view = (1,) + _as4(shape)
    zero = torch.zeros(view, dtype=f64)
    rest = zero + p.resting_potential
    w0 = layer.initial_w(rest, p) if layer.has_second_variable else None

    def adv(u: Tensor, i: Tensor) -> Tensor:
        return layer.advance(u, w0, i, p)[0].expand(view)

    g0 = adv(zero, zero)
    beta = adv(zero, zero + 1.0) - g0
    alpha = adv(zero + 1.0, zero) - g0
    thr = torch.as_tensor(p.threshold, dtype=f64)
    scale = max(1.0, float(rest.abs().max()), float(thr[torch.isfinite(thr)].abs().max()) if bool(
        torch.isfinite(thr).any()) else 1.0)
    gen = torch.Generator().manual_seed(0)
    uu = rest + (torch.rand(view, generator=gen, dtype=f64) - 0.5) * 2 * scale
    ii = (torch.rand(view, generator=gen, dtype=f64) - 0.5) * 2 * scale / beta.abs().clamp(min=1e-300)
    fit = alpha * uu + beta * ii + g0
    affine = bool(torch.isfinite(fit).all()) and bool(
        ((adv(uu, ii) - fit).abs() <= _RTOL * (fit.abs() + scale)).all())
    if not affine:
        feats.append(f"the nonlinear dynamics of {name} (its step is not affine in the potential)")
        h = 1e-4 * scale
        alpha = (adv(rest + h, zero) - adv(rest - h, zero)) / (2 * h)
        g0 = adv(rest, zero) - alpha * rest
    if not bool((beta >= 0).all()) or not bool((beta > 0).any()):
        raise ValueError(f"{name}: no NIR neuron matches a step whose input factor is {float(beta.min()):g}")
    v_reset = torch.as_tensor(p.v_reset, dtype=f64) + zero
    if layer.clamp_at_rest and not (nonneg_input and bool((v_reset >= rest).all()) and bool((alpha >= 0).all())):
        feats.append("the floor at rest (clamp_at_rest=True) on an input that can be negative (NIR neurons have "
                     "no floor; set clamp_at_rest=False, or keep every weight feeding the layer non-negative)")
    a = alpha.numpy().reshape(shape)
    if np.all(np.abs(a - 1.0) <= 1e-12) and float(g0.abs().max()) <= 1e-12 * scale:
        kind, tau, v_leak, integ = "IF", None, None, "exact"
        r = beta.numpy().reshape(shape) / ts
        shift = rest.numpy().reshape(shape)
    elif np.all((a > 0) & (a < 1)):
        kind = "LIF"
        integ = "euler" if (euler or not layer.exact) else "exact"
        tau = ts / (1.0 - a) if integ == "euler" else -ts / np.log(a)
        r = beta.numpy().reshape(shape) * tau / ts
        v_leak = g0.numpy().reshape(shape) / (1.0 - a)
        shift = np.zeros(shape)
    else:
        raise ValueError(f"{name}: no NIR neuron matches a step that multiplies the potential by "
                         f"{float(alpha.min()):g} to {float(alpha.max()):g} (needs a factor in (0, 1], at rest)")
    # the step's coefficients carry rounding (1 - (1 - ts/tau) is not ts/tau): where a value is
    # the declared parameter it was computed from, up to that rounding, write the parameter
    named = {k: _full(getattr(p, k), shape) for k in ("tau_rc", "C") if k in p._fields}
    cands_r = [1.0 / named["C"]] if "C" in named else []
    if "tau_rc" in named:
        cands_r += [named["tau_rc"] / ts] + ([named["tau_rc"] / named["C"]] if "C" in named else [])
    r = _snap(r, cands_r)
    if tau is not None:
        tau = _snap(tau, [named["tau_rc"]] if "tau_rc" in named else [])
        v_leak = _snap(v_leak, [rest.numpy().reshape(shape)])
    return _Fields(kind, r, _strict_below(_full(thr, shape) - shift), _full(v_reset, shape) - shift, tau, v_leak,
                   integ, feats)


def _snap(value: np.ndarray, candidates: List[np.ndarray], rtol: float = 1e-12) -> np.ndarray:
    """``value`` with each element replaced by the first candidate within ``rtol`` of it."""
    out = value.copy()
    done = np.zeros(value.shape, dtype=bool)
    for c in candidates:
        hit = ~done & (np.abs(value - c) <= rtol * np.abs(c))
        out[hit] = c[hit]
        done |= hit
    return out


def _exact_base(layer: Neuron) -> Optional[type]:
    for cls in EXACT_MODELS:
        if isinstance(layer, cls):
            return cls
    return None


def _param_record(layer: Neuron) -> Dict[str, Any]:
    """The layer's declared parameters and settings, to rebuild it exactly (numbers and arrays)."""
    rec: Dict[str, Any] = {"ts": float(layer.ts)}
    if layer.threshold is not None:
        rec["threshold"] = float(layer.threshold)
    for name in layer.param_names:
        v = layer.param_or_none(name)
        if v is not None:
            rec[name] = float(v.item()) if v.numel() == 1 else v.detach().cpu().numpy().astype(np.float64)
    return rec


# ---------------------------------------------------------------------------- the export
@dataclass
class _Chain:
    """The graph being written: a chain of nodes and what is known of the signal at its end."""

    nir: Any
    shape: Tuple[int, ...]
    nonneg: bool                     # the signal is never negative
    amp: Optional[float]             # the signal is 0 or amp (spikes), else None
    approximate: bool
    euler: bool
    nodes: List[Tuple[str, Any]] = field(default_factory=list)
    dropped: List[str] = field(default_factory=list)
    dts: Dict[str, float] = field(default_factory=dict)

    def add(self, name: str, node: Any) -> None:
        base, i = name, 1
        taken = {n for n, _ in self.nodes}
        while name in taken:
            i += 1
            name = f"{base}_{i}"
        self.nodes.append((name, node))


def _emit_conv(ch: _Chain, weight: Tensor, padding: Tuple[int, int], name: str) -> None:
    nir = ch.nir
    if len(ch.shape) != 3 or ch.shape[0] != weight.shape[1]:
        raise ValueError(f"{name}: a convolution of {weight.shape[1]} input channels cannot take a signal of "
                         f"shape {ch.shape}")
    w = _weights(weight)
    c, h, wd = ch.shape
    ph, pw = padding
    out = (weight.shape[0], h + 2 * ph - w.shape[2] + 1, wd + 2 * pw - w.shape[3] + 1)
    if out[1] < 1 or out[2] < 1:
        raise ValueError(f"{name}: kernel {tuple(w.shape[2:])} is larger than its padded input {(h + 2 * ph, wd + 2 * pw)}")
    ch.add(name, nir.Conv2d(input_shape=(h, wd), weight=w, stride=1, padding=(ph, pw), dilation=1, groups=1,
                            bias=np.zeros(w.shape[0], dtype=w.dtype)))
    ch.shape, ch.nonneg, ch.amp = out, ch.nonneg and bool((w >= 0).all()), None


def _emit_scale(ch: _Chain, s: float, name: str) -> None:
    ch.add(name, ch.nir.Scale(scale=np.full(ch.shape, float(s))))
    ch.nonneg = ch.nonneg and s >= 0
    ch.amp = ch.amp * s if ch.amp is not None and s > 0 else None


def _emit_neuron(ch: _Chain, layer: Neuron, name: str, binarise: bool) -> None:
    nir = ch.nir
    cls = type(layer).__name__
    f = _neuron_fields(layer, ch.shape, ch.euler, ch.nonneg)
    base = _exact_base(layer)
    meta: Dict[str, Any] = {"spyketorch_model": cls, "spyketorch_integrator": f.integrator,
                            "spyketorch_ts": float(layer.ts), "spyketorch_threshold_rule": "u >= threshold"}
    if f.features:
        if not ch.approximate:
            raise ValueError(f"{name} ({cls}): NIR cannot express {'; '.join(f.features)}. Pass approximate=True "
                             f"to export the nearest NIR node without it.")
        ch.dropped += [f"{name} ({cls}): {feat}" for feat in f.features]
        meta["spyketorch_dropped"] = "; ".join(f.features)
    elif base is not None:
        meta["spyketorch_model"] = base.__name__
        meta["spyketorch_params"] = _param_record(layer)
    if f.kind == "IF":
        node = nir.IF(r=f.r, v_threshold=f.v_threshold, v_reset=f.v_reset, metadata=meta)
    else:
        node = nir.LIF(tau=f.tau, r=f.r, v_leak=f.v_leak, v_threshold=f.v_threshold, v_reset=f.v_reset,
                       metadata=meta)
    ch.add(name, node)
    ch.dts[name] = float(layer.ts)
    ch.nonneg, ch.amp = True, 1.0
    amp = float(layer.spike_amplitude)
    if not binarise and amp != 1.0:
        _emit_scale(ch, amp, f"{name}_amplitude")


def _emit_pool(ch: _Chain, kernel: Tuple[int, int], stride: Tuple[int, int], padding: Tuple[int, int],
               name: str) -> None:
    nir = ch.nir
    if ch.amp is None or not ch.nonneg:
        raise ValueError(f"{name}: max pooling is exported as SumPool2d + Threshold, which needs a signal of "
                         f"spikes (0 or one positive amplitude); this one is not")
    if len(ch.shape) != 3:
        raise ValueError(f"{name}: pooling needs a [C, H, W] signal, got shape {ch.shape}")
    c, h, w = ch.shape
    oh = (h + 2 * padding[0] - kernel[0]) // stride[0] + 1
    ow = (w + 2 * padding[1] - kernel[1]) // stride[1] + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"{name}: window {kernel} is larger than its padded input {(h + 2 * padding[0], w + 2 * padding[1])}")
    amp = ch.amp
    ch.add(name, nir.SumPool2d(kernel_size=np.array(kernel), stride=np.array(stride), padding=np.array(padding)))
    ch.shape = (c, oh, ow)
    ch.add(f"{name}_threshold", nir.Threshold(threshold=np.zeros(ch.shape)))
    ch.amp = 1.0
    if amp != 1.0:
        _emit_scale(ch, amp, f"{name}_amplitude")


def _emit(module: nn.Module, ch: _Chain, path: str) -> None:
    """Append the nodes of ``module`` (stepped once per time step) to the chain."""
    nir = ch.nir
    name = path or type(module).__name__.lower()
    if isinstance(module, StepNetwork):
        for i, blk in enumerate(module.blocks):
            _emit(blk, ch, f"{path}block{i}" if not path else f"{path}_block{i}")
    elif isinstance(module, NeuronConvBlock):
        p = module.padding
        _emit_conv(ch, module.conv.weight, (p, p), f"{name}_conv")
        if module.gain != 1.0:
            _emit_scale(ch, module.gain, f"{name}_gain")
        _emit_neuron(ch, module.neuron, f"{name}_{type(module.neuron).__name__.lower()}", binarise=True)
        if module.pool is not None:
            k, s, pp = module.pool
            _emit_pool(ch, (k, k), (s, s), (pp, pp), f"{name}_pool")
    elif isinstance(module, Convolution):
        _emit_conv(ch, module.weight, (0, 0), name)
    elif isinstance(module, Pooling):
        _emit_pool(ch, module.kernel_size, module.stride, module.padding, name)
    elif isinstance(module, Neuron):
        _emit_neuron(ch, module, name, binarise=False)
    elif isinstance(module, nn.Flatten):
        nd = len(ch.shape) + 1
        if module.start_dim % nd == 0 or module.end_dim % nd == 0:
            raise ValueError(f"{name}: Flatten over the batch dimension cannot be exported (start_dim={module.start_dim})")
        # NIR counts the dimensions of one sample: a non-negative index moves down by one, a negative one stays
        start, end = (d - 1 if d >= 0 else d for d in (module.start_dim, module.end_dim))
        node = nir.Flatten(input_type={"input": np.array(ch.shape)}, start_dim=start, end_dim=end)
        ch.add(name, node)
        ch.shape = tuple(int(s) for s in node.output_type["output"])
    elif isinstance(module, nn.Linear):
        if ch.shape != (module.in_features,):
            raise ValueError(f"{name}: Linear({module.in_features}, {module.out_features}) cannot take a signal of "
                             f"shape {ch.shape} (flatten it first)")
        w = _weights(module.weight)
        b = np.zeros(w.shape[0], w.dtype) if module.bias is None else _weights(module.bias)
        ch.add(name, nir.Affine(weight=w, bias=b))
        ch.shape, ch.nonneg, ch.amp = (module.out_features,), ch.nonneg and bool((w >= 0).all() and (b >= 0).all()), None
    elif isinstance(module, nn.Identity):
        return
    elif isinstance(module, nn.Sequential):
        for key, sub in module.named_children():
            _emit(sub, ch, f"{path}_{key}" if path else str(key))
    else:
        raise TypeError(f"to_nir cannot export {name} ({type(module).__name__}): supported are StepNetwork, "
                        f"NeuronConvBlock, Convolution, Pooling, the neuron layers, torch.nn.Flatten, torch.nn.Linear "
                        f"and torch.nn.Sequential of these")


def _weights(w: Tensor) -> np.ndarray:
    """Weights as written to the graph: float64 stays float64 (a float64 network round-trips
    exactly), every other dtype becomes float32."""
    a = _np(w)
    return a if a.dtype == np.float64 else a.astype(np.float32)


def _per_channel(s: np.ndarray) -> Optional[np.ndarray]:
    """The per-channel values of a ``[C, H, W]`` array constant over each map, else None."""
    if s.ndim != 3:
        return None
    c = s.reshape(s.shape[0], -1)
    return c[:, 0].copy() if np.all(c == c[:, :1]) else None


def _fold_scales(ch: _Chain) -> None:
    """Fold Scale nodes and neurons' R into the weights of neighbouring Conv2d/Affine nodes (exact)."""
    nir = ch.nir
    seq = ch.nodes
    changed = True
    while changed:
        changed = False
        for i, (name, node) in enumerate(seq):
            prev = seq[i - 1][1] if i > 0 else None
            nxt = seq[i + 1][1] if i + 1 < len(seq) else None
            if isinstance(node, nir.Scale):
                s = np.asarray(node.scale, dtype=np.float64)
                pc = _per_channel(s)
                if isinstance(prev, nir.Conv2d) and pc is not None and len(pc) == prev.weight.shape[0]:
                    prev.weight = (prev.weight * pc[:, None, None, None]).astype(prev.weight.dtype)
                    prev.bias = (prev.bias * pc).astype(prev.bias.dtype)
                elif isinstance(prev, nir.Affine) and s.ndim == 1:
                    prev.weight = (prev.weight * s[:, None]).astype(prev.weight.dtype)
                    prev.bias = (prev.bias * s).astype(prev.bias.dtype)
                elif isinstance(nxt, nir.Conv2d) and pc is not None and nxt.groups == 1:
                    nxt.weight = (nxt.weight * pc[None, :, None, None]).astype(nxt.weight.dtype)
                elif isinstance(nxt, nir.Affine) and s.ndim == 1:
                    nxt.weight = (nxt.weight * s[None, :]).astype(nxt.weight.dtype)
                elif isinstance(nxt, nir.Flatten):
                    moved = nir.Scale(scale=s.reshape(tuple(int(d) for d in nxt.output_type["output"])))
                    seq[i], seq[i + 1] = seq[i + 1], (name, moved)
                    changed = True
                    break
                elif (isinstance(nxt, nir.SumPool2d) and i + 2 < len(seq) and isinstance(seq[i + 2][1], nir.Threshold)
                      and np.all(np.asarray(seq[i + 2][1].threshold) == 0) and np.all(s > 0)
                      and isinstance(prev, (nir.IF, nir.LIF, nir.Threshold))):
                    pass  # positive scale of 0/1 spikes before "any spike in the window": dropped
                else:
                    continue
                del seq[i]
                changed = True
                break
            if isinstance(node, (nir.IF, nir.LIF)) and not np.all(node.r == 1.0):
                r = np.asarray(node.r, dtype=np.float64)
                pc = _per_channel(r)
                if isinstance(prev, nir.Conv2d) and pc is not None:
                    prev.weight = (prev.weight * pc[:, None, None, None]).astype(prev.weight.dtype)
                    prev.bias = (prev.bias * pc).astype(prev.bias.dtype)
                elif isinstance(prev, nir.Affine) and r.ndim == 1:
                    prev.weight = (prev.weight * r[:, None]).astype(prev.weight.dtype)
                    prev.bias = (prev.bias * r).astype(prev.bias.dtype)
                else:
                    continue
                node.r = np.ones_like(r)
                changed = True
                break


def to_nir(module: nn.Module, sample_data: Tensor, *, approximate: bool = False, euler: bool = False,
           fold_scales: bool = False) -> Any:
    r"""Export a spyketorch network, stepped once per time step, as a NIR graph.

    See :mod:`spyketorch.interop.nir` for the mapping of each layer. The graph has one
    ``Input`` (the shape of one sample of ``sample_data``), the nodes of ``module`` in order,
    and one ``Output``; its metadata holds ``dt`` (the layers' time step, seconds) and, with
    ``approximate=True``, ``spyketorch_dropped`` (what was left out, one entry per layer and
    feature, separated by ``"; "``). Each neuron node's metadata names the spyketorch model,
    the integrator its ``tau`` was derived for, and, for the models NIR expresses exactly,
    their parameters (which :func:`from_nir` uses to rebuild the very same layer).

    Args:
        module: a :class:`~spyketorch.networks.StepNetwork`, :class:`~spyketorch.networks.NeuronConvBlock`,
            :class:`~spyketorch.layers.Convolution`, :class:`~spyketorch.layers.Pooling`, a neuron layer,
            ``torch.nn.Flatten``, ``torch.nn.Linear``, or a ``torch.nn.Sequential`` of these (applied
            in order at every time step).
        sample_data: one time step of input with a batch dimension, ``[B, *input_shape]``. Only
            its shape and sign are read: non-negative data (spikes) lets the export prove that the
            floor at rest never acts, and 0/1 data is taken as spikes (poolable).
        approximate: write the nearest node for what NIR cannot express, and list what was
            dropped, instead of raising ``ValueError``. Default: False.
        euler: write the time constants a forward-Euler simulator stepping at ``dt`` needs to
            reproduce the exponential decay of ``LIF`` exactly (Norse, snnTorch). The other models
            already step with forward Euler and are written the same either way. Default: False.
        fold_scales: fold every ``Scale`` node and every neuron's ``R`` into the weights of the
            neighbouring ``Conv2d``/``Affine`` node where that is exact (for tools that ignore ``R``
            or read no ``Scale``, such as Norse). Default: False.

    Returns:
        ``nir.NIRGraph``.

    Raises:
        ValueError: a feature NIR cannot express (naming the layer and the feature), layers
            with different time steps, or shapes that do not fit.
        TypeError: a module that cannot be exported.
        ImportError: the ``nir`` package is missing (``pip install nir``).

    Example:
        >>> import spyketorch
        >>> from spyketorch.networks import NeuronConvBlock
        >>> block = NeuronConvBlock(spyketorch.Convolution(2, 4, 3), LIF_ode(threshold=1.0, refractory_timesteps=0),
        ...                         pool=(2, 2, 0))
        >>> graph = spyketorch.to_nir(block, torch.zeros(1, 2, 8, 8))
        >>> list(graph.nodes)
        ['input', 'neuronconvblock_conv', 'neuronconvblock_lif_ode', 'neuronconvblock_pool', 'neuronconvblock_pool_threshold', 'output']
        >>> float(graph.nodes["neuronconvblock_lif_ode"].tau[0, 0, 0]), graph.metadata["dt"]
        (0.02, 0.001)
    """
    nir = _require_nir()
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    if not isinstance(sample_data, Tensor):
        raise TypeError(f"sample_data must be a torch.Tensor, got {type(sample_data).__name__}")
    if sample_data.dim() < 2 or sample_data.shape[0] < 1:
        raise ValueError(f"sample_data must be one time step [B, *input_shape] with B >= 1, got "
                         f"{tuple(sample_data.shape)}")
    x = sample_data.detach()
    binary = bool(((x == 0) | (x == 1)).all())
    ch = _Chain(nir, tuple(int(s) for s in x.shape[1:]), bool((x >= 0).all()), 1.0 if binary else None,
                bool(approximate), bool(euler))
    in_shape = ch.shape
    with torch.no_grad():
        _emit(module, ch, "")
    if fold_scales:
        _fold_scales(ch)
    dts = sorted(set(ch.dts.values()))
    if len(dts) > 1:
        raise ValueError(f"the neuron layers have different time steps {dts}: a NIR graph is stepped with one dt")
    nodes: Dict[str, Any] = {"input": nir.Input(input_type=np.array(in_shape))}
    nodes.update(dict(ch.nodes))
    nodes["output"] = nir.Output(output_type=np.array(ch.shape))
    names = list(nodes)
    edges = [(names[i], names[i + 1]) for i in range(len(names) - 1)]
    meta: Dict[str, Any] = {"spyketorch_version": _version(), "spyketorch_folded": bool(fold_scales),
                            "spyketorch_euler": bool(euler)}
    if dts:
        meta["dt"] = dts[0]
    if ch.dropped:
        meta["spyketorch_dropped"] = "; ".join(ch.dropped)
        warnings.warn("to_nir(approximate=True) dropped what NIR cannot express: " + "; ".join(ch.dropped),
                      stacklevel=2)
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def _version() -> str:
    from .. import __version__

    return __version__


# ---------------------------------------------------------------------------- NIR -> modules
class _Scale(nn.Module):
    def __init__(self, scale: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("scale", torch.as_tensor(np.array(scale, dtype=np.float64)))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale.to(x.dtype)


class _Threshold(nn.Module):
    def __init__(self, threshold: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("threshold", torch.as_tensor(np.array(threshold, dtype=np.float64)))

    def forward(self, x: Tensor) -> Tensor:
        return (x > self.threshold.to(x.dtype)).to(x.dtype)


class _SumPool2d(nn.Module):
    def __init__(self, kernel: Sequence[int], stride: Sequence[int], padding: Sequence[int]) -> None:
        super().__init__()
        self.kernel = tuple(int(k) for k in np.broadcast_to(np.asarray(kernel), (2,)))
        self.stride = tuple(int(k) for k in np.broadcast_to(np.asarray(stride), (2,)))
        self.padding = tuple(int(k) for k in np.broadcast_to(np.asarray(padding), (2,)))

    def forward(self, x: Tensor) -> Tensor:
        ph, pw = self.padding
        if ph or pw:
            x = F.pad(x, (pw, pw, ph, ph))
        return F.avg_pool2d(x, self.kernel, self.stride, divisor_override=1)


class _Flatten(nn.Module):
    """NIR's Flatten: ``start_dim``/``end_dim`` count the dimensions of one sample (no batch)."""

    def __init__(self, start_dim: int, end_dim: int) -> None:
        super().__init__()
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def forward(self, x: Tensor) -> Tensor:
        nd = x.dim() - 1
        return x.flatten(self.start_dim % nd + 1, self.end_dim % nd + 1)


class SpikingNode(nn.Module):
    """One NIR neuron node as a spyketorch neuron layer, emitting unit spikes (NIR's convention).

    Args:
        layer: the neuron layer (no lateral inhibition).
        shape: the node's shape per sample (``None``: taken from the input).

    Shape:
        ``[B, *shape]`` -> ``[B, *shape]`` (0/1 spikes in the input's dtype).

    Example:
        >>> node = SpikingNode(LIF_ode(threshold=1.0, refractory_timesteps=0, inhibition_mode="none"))
        >>> node(torch.full((2, 3), 2000.0))  # unit spikes, whatever the layer's amplitude
        tensor([[1., 1., 1.],
                [1., 1., 1.]])
    """

    def __init__(self, layer: Neuron, shape: Optional[Tuple[int, ...]] = None) -> None:
        super().__init__()
        self.layer = layer
        self.shape = None if shape is None else tuple(int(s) for s in shape)

    def forward(self, x: Tensor) -> Tensor:
        view = (x.shape[0],) + _as4(x.shape[1:])
        out = self.layer.step(x.reshape(view), 1, thresholded=False, dudt=False, winners=False, winning_spikes=False)
        return (out.spikes > 0).to(x.dtype).reshape(x.shape)

    def reset(self) -> None:
        """Forget the neurons' state."""
        self.layer.reset()


class NIRNetwork(nn.Module):
    r"""A NIR graph as spyketorch modules, stepped one time step at a time.

    **Stepping contract.** :meth:`step` takes one time step ``[B, *input_shape]`` and returns the
    graph's output at that step ``[B, *output_shape]``, keeping its neurons' state between calls;
    :meth:`reset` forgets it. ``forward`` runs a presentation ``[T, B, *input_shape]`` from rest
    (it resets first) and returns ``[T, B, *output_shape]``. A node's input is the sum of the
    outputs of the nodes with an edge into it, at the same step (NIR's convention); neurons emit
    unit spikes.

    Attributes:
        dt: the time step of the neurons (seconds).
        node_modules: ``torch.nn.ModuleDict`` of the node modules (NIR names with ``.`` as ``_``).
        metadata: the graph's metadata.

    Example:
        >>> import spyketorch
        >>> layer = LIF_ode(threshold=1.0, refractory_timesteps=0, clamp_at_rest=False)
        >>> net = spyketorch.from_nir(spyketorch.to_nir(layer, torch.zeros(1, 3, 2, 2)))
        >>> net(torch.full((4, 1, 3, 2, 2), 600.0)).shape
        torch.Size([4, 1, 3, 2, 2])
    """

    def __init__(self, node_modules: Dict[str, nn.Module], order: List[str], inputs: Dict[str, List[str]],
                 input_name: str, output_name: str, dt: Optional[float], metadata: Dict[str, Any]) -> None:
        super().__init__()
        self.node_modules = nn.ModuleDict(node_modules)
        self.order = list(order)
        self.inputs = {k: list(v) for k, v in inputs.items()}
        self.input_name, self.output_name = input_name, output_name
        self.dt = dt
        self.metadata = dict(metadata)

    @property
    def neurons(self) -> Dict[str, Neuron]:
        """The spyketorch neuron layer of each neuron node, by (sanitised) node name."""
        return {k: m.layer for k, m in self.node_modules.items() if isinstance(m, SpikingNode)}

    def reset(self) -> None:
        """Forget every neuron's state: the next step starts from rest."""
        for m in self.node_modules.values():
            if isinstance(m, SpikingNode):
                m.reset()

    def _step_all(self, x: Tensor) -> Dict[str, Tensor]:
        vals: Dict[str, Tensor] = {}
        for name in self.order:
            if name == self.input_name:
                v = x
            else:
                srcs = self.inputs[name]
                v = vals[srcs[0]]
                for s in srcs[1:]:
                    v = v + vals[s]
            vals[name] = self.node_modules[name](v)
        return vals

    def step(self, x: Tensor) -> Tensor:
        """One time step: input ``[B, *input_shape]`` -> output ``[B, *output_shape]``."""
        return self._step_all(x)[self.output_name]

    def run(self, x: Tensor, nodes: Sequence[str] = ()) -> Dict[str, Tensor]:
        """A presentation from rest, ``[T, B, ...]``: the output (key ``"output"``) and the per-step
        outputs of the named nodes, each ``[T, B, ...]``."""
        if not isinstance(x, Tensor) or x.dim() < 2:
            raise ValueError("x must be a [T, B, *input_shape] tensor")
        names = [n.replace(".", "_") for n in nodes]
        for n in names:
            if n not in self.node_modules:
                raise ValueError(f"no node {n!r} in this network (nodes: {list(self.node_modules)})")
        self.reset()
        outs: Dict[str, List[Tensor]] = {n: [] for n in ["output"] + names}
        for t in range(x.shape[0]):
            vals = self._step_all(x[t])
            outs["output"].append(vals[self.output_name])
            for n in names:
                outs[n].append(vals[n])
        return {k: torch.stack(v) for k, v in outs.items()}

    def forward(self, x: Tensor) -> Tensor:
        """A presentation from rest: ``[T, B, *input_shape]`` -> ``[T, B, *output_shape]``."""
        return self.run(x)["output"]


def _scalar_or_tensor(a: np.ndarray, view: Optional[Tuple[int, int, int]]) -> Union[float, Tensor]:
    a = np.asarray(a, dtype=np.float64)
    if a.size == 0:
        raise ValueError("empty parameter array")
    if np.all(a == a.flat[0]):
        return float(a.flat[0])
    t = torch.as_tensor(a, dtype=torch.float64)
    return t.reshape(view) if view is not None else t


def _node_shape(node: Any) -> Optional[Tuple[int, ...]]:
    arr = np.asarray(node.v_threshold)
    return tuple(int(s) for s in arr.shape) if arr.size > 1 else None


def _layer_from_fields(node: Any, kind: str, dt: float, integrator: str, label: str) -> Neuron:
    shape = _node_shape(node)
    view = _as4(shape) if shape is not None else None
    thr = _at_least(np.asarray(node.v_threshold, dtype=np.float64))
    v_reset = np.zeros_like(thr) if node.v_reset is None else np.asarray(node.v_reset, dtype=np.float64)
    r = np.asarray(node.r, dtype=np.float64)
    if not np.all(r > 0):
        raise ValueError(f"node {label!r}: R must be positive, got min {r.min():g}")
    settings = dict(refractory_timesteps=0, inhibition_mode="none", clamp_at_rest=False)
    t = _scalar_or_tensor(thr, view)
    thr_kw = dict(threshold=t) if isinstance(t, float) and math.isfinite(t) else (
        dict(threshold=None) if isinstance(t, float) else dict(threshold=float(thr.min()), per_neuron_thresh=t))
    try:
        if kind == "IF":
            return IF(ts=dt, C=_scalar_or_tensor(1.0 / r, view), v_reset=_scalar_or_tensor(v_reset, view),
                      resting_potential=0.0, **thr_kw, **settings)
        tau = np.asarray(node.tau, dtype=np.float64)
        cls = LIF if integrator == "exact" else LIF_ode
        return cls(tau_rc=_scalar_or_tensor(tau, view), ts=dt, C=_scalar_or_tensor(tau / r, view),
                   resting_potential=_scalar_or_tensor(np.asarray(node.v_leak, dtype=np.float64), view),
                   v_reset=_scalar_or_tensor(v_reset, view), **thr_kw, **settings)
    except ValueError as e:
        raise ValueError(f"node {label!r} (nir.{type(node).__name__}) at dt={dt:g}: {e}") from e


def _meta_str(meta: Dict[str, Any], key: str) -> Optional[str]:
    v = meta.get(key)
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, np.ndarray) and v.shape == ():
        v = v.item()
    return v if isinstance(v, str) else None


def _rebuild(node: Any, dt: float, label: str) -> Optional[Neuron]:
    """The spyketorch layer a node was exported from, when its metadata describes one and the
    node's fields are still those of that layer (else None)."""
    meta = getattr(node, "metadata", None) or {}
    model = _meta_str(meta, "spyketorch_model")
    params = meta.get("spyketorch_params")
    cls = {c.__name__: c for c in EXACT_MODELS}.get(model or "")
    if cls is None or not isinstance(params, dict):
        return None
    kw: Dict[str, Any] = {}
    for k, v in params.items():
        a = np.asarray(v)
        kw[k] = float(a) if a.shape == () else torch.as_tensor(a, dtype=torch.float64)
    if not math.isclose(float(kw.get("ts", math.nan)), dt, rel_tol=1e-12):
        return None
    try:
        layer = cls(**kw, refractory_timesteps=0, inhibition_mode="none", clamp_at_rest=False)
    except (TypeError, ValueError):
        return None
    shape = _node_shape(node) or tuple(np.asarray(node.v_threshold).shape)
    euler = _meta_str(meta, "spyketorch_integrator") == "euler"
    try:
        f = _neuron_fields(layer, shape, euler, nonneg_input=True)
    except ValueError:
        return None
    want = {"r": f.r, "v_threshold": f.v_threshold, "v_reset": f.v_reset}
    if f.kind == "LIF":
        want.update(tau=f.tau, v_leak=f.v_leak)
    if (f.kind == "LIF") != (type(node).__name__ == "LIF"):
        return None
    for k, v in want.items():
        got = np.asarray(getattr(node, k), dtype=np.float64)
        if got.shape != v.shape or not np.allclose(got, v, rtol=1e-12, atol=0.0, equal_nan=False):
            return None
    return layer


def _graph_dt(graph: Any, dt: Optional[float], needed: bool) -> Optional[float]:
    if dt is None:
        v = (getattr(graph, "metadata", None) or {}).get("dt")
        dt = None if v is None else float(np.asarray(v))
    if dt is None and needed:
        raise ValueError("the graph does not record its time step (metadata 'dt'): pass dt= in seconds "
                         "(snnTorch's importer steps at 1e-4 s, Norse's at its dt argument, 1e-3 s by default)")
    if dt is not None and not (dt > 0 and math.isfinite(dt)):
        raise ValueError(f"dt must be a positive number of seconds, got {dt!r}")
    return dt


def _node_module(nir: Any, node: Any, label: str, dt: Optional[float], dtype: Any) -> nn.Module:
    if isinstance(node, (nir.Input, nir.Output)):
        return nn.Identity()
    if isinstance(node, nir.Conv2d):
        w = torch.as_tensor(np.array(_np(node.weight), dtype=dtype))
        pad = node.padding if isinstance(node.padding, str) else tuple(int(p) for p in np.broadcast_to(
            np.asarray(node.padding), (2,)))
        m = nn.Conv2d(w.shape[1] * int(node.groups), w.shape[0], tuple(w.shape[2:]),
                      stride=tuple(int(s) for s in np.broadcast_to(np.asarray(node.stride), (2,))), padding=pad,
                      dilation=tuple(int(s) for s in np.broadcast_to(np.asarray(node.dilation), (2,))),
                      groups=int(node.groups), bias=True, dtype=w.dtype)
        with torch.no_grad():
            m.weight.copy_(w)
            b = np.zeros(w.shape[0]) if node.bias is None else np.broadcast_to(_np(node.bias), (w.shape[0],))
            m.bias.copy_(torch.as_tensor(np.array(b, dtype=dtype)))
        return m
    if isinstance(node, (nir.Affine, nir.Linear)):
        w = torch.as_tensor(np.array(_np(node.weight), dtype=dtype))
        if w.dim() != 2:
            raise ValueError(f"node {label!r}: only 2-D Affine/Linear weights are supported, got {tuple(w.shape)}")
        bias = getattr(node, "bias", None)
        m = nn.Linear(w.shape[1], w.shape[0], bias=bias is not None, dtype=w.dtype)
        with torch.no_grad():
            m.weight.copy_(w)
            if bias is not None:
                m.bias.copy_(torch.as_tensor(np.array(np.broadcast_to(_np(bias).astype(dtype), (w.shape[0],)))))
        return m
    if isinstance(node, nir.Scale):
        return _Scale(node.scale)
    if isinstance(node, nir.Threshold):
        return _Threshold(node.threshold)
    if isinstance(node, nir.SumPool2d):
        return _SumPool2d(node.kernel_size, node.stride, node.padding)
    if isinstance(node, nir.AvgPool2d):
        k = tuple(int(v) for v in np.broadcast_to(np.asarray(node.kernel_size), (2,)))
        return nn.AvgPool2d(k, tuple(int(v) for v in np.broadcast_to(np.asarray(node.stride), (2,))),
                            tuple(int(v) for v in np.broadcast_to(np.asarray(node.padding), (2,))))
    if isinstance(node, nir.Flatten):
        return _Flatten(node.start_dim, node.end_dim)
    if isinstance(node, (nir.IF, nir.LIF)):
        assert dt is not None
        layer = _rebuild(node, dt, label)
        if layer is None:
            meta = getattr(node, "metadata", None) or {}
            integ = _meta_str(meta, "spyketorch_integrator") or "euler"
            layer = _layer_from_fields(node, "IF" if isinstance(node, nir.IF) else "LIF", dt, integ, label)
        return SpikingNode(layer, _node_shape(node))
    raise ValueError(f"from_nir has no spyketorch module for node {label!r} (nir.{type(node).__name__}); "
                     f"supported: Input, Output, Conv2d, Affine, Linear, Scale, Threshold, SumPool2d, AvgPool2d, "
                     f"Flatten, IF, LIF")


def from_nir(graph: Any, *, dt: Optional[float] = None) -> NIRNetwork:
    r"""Build a network of spyketorch modules from a NIR graph.

    ``LIF`` nodes become :class:`~spyketorch.neurons.LIF_ode` layers (forward Euler at ``dt``,
    as Norse and snnTorch step them: :math:`\tau_{rc} = \tau`, :math:`C = \tau/R`,
    :math:`u_{rest} = v_{leak}`), ``IF`` nodes :class:`~spyketorch.neurons.IF` layers
    (:math:`C = 1/R`, rest 0), with the threshold :math:`v > v_{thr}` as :math:`u \ge \vartheta`,
    no floor, no refractoriness and no lateral inhibition. A node written by :func:`to_nir`
    whose fields are still those of the exported layer becomes that very layer (same model,
    parameters and arithmetic: identical spikes); a ``LIF`` it wrote for the exact model
    (without ``euler``) becomes a :class:`~spyketorch.neurons.LIF`. ``Conv2d``, ``Affine``,
    ``Linear``, ``Scale``, ``Threshold``, ``SumPool2d``, ``AvgPool2d`` and ``Flatten`` become
    the matching torch operations. See :class:`NIRNetwork` for how to step the result.

    Args:
        graph: a ``nir.NIRGraph`` or the path of a NIR file.
        dt: time step in seconds; ``None`` reads the graph's metadata ``dt`` (written by
            :func:`to_nir`; a graph without it needs ``dt``). Default: None.

    Returns:
        :class:`NIRNetwork`.

    Raises:
        ValueError: a node type without a spyketorch module (CubaLIF, LI, I, Delay, subgraphs),
            a recurrent graph, not exactly one input and one output, a missing ``dt``, or
            parameters a layer refuses (e.g. ``tau <= dt``).
        ImportError: the ``nir`` package is missing (``pip install nir``).

    Example:
        >>> import spyketorch
        >>> net = spyketorch.from_nir(spyketorch.to_nir(torch.nn.Linear(4, 2), torch.zeros(1, 4)))
        >>> net(torch.zeros(3, 5, 4)).shape
        torch.Size([3, 5, 2])
    """
    nir = _require_nir()
    if isinstance(graph, (str, os.PathLike)):
        graph = nir.read(graph)
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"graph must be a nir.NIRGraph or a file path, got {type(graph).__name__}")
    nodes = graph.nodes
    has_neurons = any(isinstance(n, (nir.IF, nir.LIF)) for n in nodes.values())
    step_dt = _graph_dt(graph, dt, has_neurons)
    inputs = [k for k, n in nodes.items() if isinstance(n, nir.Input)]
    outputs = [k for k, n in nodes.items() if isinstance(n, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(f"from_nir needs exactly one Input and one Output node, got inputs {inputs}, "
                         f"outputs {outputs}")
    preds: Dict[str, List[str]] = {k: [] for k in nodes}
    for src, dst in graph.edges:
        if src not in nodes or dst not in nodes:
            raise ValueError(f"edge ({src!r}, {dst!r}) names a node that is not in the graph")
        preds[dst].append(src)
    order: List[str] = []
    state: Dict[str, int] = {}

    def visit(k: str) -> None:  # depth-first topological order; a cycle is a recurrent graph
        if state.get(k) == 2:
            return
        if state.get(k) == 1:
            raise ValueError(f"the graph is recurrent (a cycle through node {k!r}); from_nir supports "
                             f"feed-forward graphs")
        state[k] = 1
        for s in preds[k]:
            visit(s)
        state[k] = 2
        order.append(k)

    visit(outputs[0])
    if inputs[0] not in order:
        raise ValueError("the output is not connected to the input")
    for k in order:
        if k != inputs[0] and not preds[k]:
            raise ValueError(f"node {k!r} has no input edge")
    safe = {k: k.replace(".", "_") for k in order}
    if len(set(safe.values())) != len(safe):
        raise ValueError("node names collide once '.' is replaced by '_'")
    # float64 when every weight of the graph is (a float64 network round-trips exactly), else float32
    weights = [np.asarray(n.weight) for n in nodes.values() if isinstance(n, (nir.Conv2d, nir.Affine, nir.Linear))]
    dtype = np.float64 if weights and all(w.dtype == np.float64 for w in weights) else np.float32
    mods = {safe[k]: _node_module(nir, nodes[k], k, step_dt, dtype) for k in order}
    return NIRNetwork(mods, [safe[k] for k in order], {safe[k]: [safe[s] for s in preds[k]] for k in order},
                      safe[inputs[0]], safe[outputs[0]], step_dt, dict(getattr(graph, "metadata", None) or {}))


# ---------------------------------------------------------------------------- Norse
def norse_module(graph: Any, dt: Optional[float] = None) -> nn.Module:
    r"""Norse's NIR importer with the stateless nodes Norse 1.1 drops or misreads filled in.

    ``norse.torch.from_nir`` builds Norse's own ``LIFBoxCell``, ``IAFCell``, ``Conv2d``,
    ``Linear`` and ``LPPool2d`` modules, and silently skips ``Threshold`` and ``Scale`` nodes,
    ignores ``SumPool2d`` padding and flattens ``Flatten`` nodes over the batch. This calls the
    same importer (Norse's ``_import_norse_module``, through ``nirtorch``) for every node except
    those four, which become the torch operations NIR defines. Norse's LIF ignores ``R`` and
    ``v_reset``, and its IF adds its input unscaled (:math:`v \leftarrow v + x`): a graph whose
    ``LIF`` nodes have :math:`R \ne 1` or whose ``IF`` nodes have :math:`R\,dt \ne 1`, or with a
    non-zero reset, raises ``ValueError`` (export with ``fold_scales=True``).

    Args:
        graph: a ``nir.NIRGraph``.
        dt: Norse's time step in seconds (``None``: the graph's ``dt``). Default: None.

    Returns:
        Norse's graph executor: call it as ``out, state = module(x_t, state)`` once per time
        step, with ``state=None`` at the first step of each presentation.

    Example:
        >>> import spyketorch
        >>> from spyketorch.networks import NeuronConvBlock
        >>> blk = NeuronConvBlock(spyketorch.Convolution(2, 4, 3),
        ...                       LIF(threshold=10.0, refractory_timesteps=0, inhibition_mode="none"),
        ...                       padding=1, gain=2000.0)
        >>> x = (torch.rand(5, 1, 2, 8, 8) < 0.3).float()  # [T, B, C, H, W]
        >>> module = norse_module(spyketorch.to_nir(blk, x[0], euler=True, fold_scales=True))
        >>> state = None
        >>> for t in range(5):
        ...     out, state = module(x[t], state)
        >>> out.shape
        torch.Size([1, 4, 8, 8])
    """
    nir = _require_nir()
    try:
        import nirtorch
        from norse.torch.utils.import_nir import _import_norse_module
    except ImportError as e:
        raise ImportError("spyketorch.interop.nir.norse_module needs Norse: pip install norse") from e
    step_dt = _graph_dt(graph, dt, True)
    assert step_dt is not None

    def model_map(node: Any) -> Optional[nn.Module]:
        if isinstance(node, nir.Threshold):
            return _Threshold(node.threshold)
        if isinstance(node, nir.Scale):
            return _Scale(node.scale)
        if isinstance(node, nir.SumPool2d) and np.any(np.asarray(node.padding) != 0):
            return _SumPool2d(node.kernel_size, node.stride, node.padding)
        if isinstance(node, nir.Flatten):
            return _Flatten(node.start_dim, node.end_dim)
        if isinstance(node, (nir.LIF, nir.IF)):
            kind = type(node).__name__
            gain = np.asarray(node.r, dtype=np.float64) * (step_dt if kind == "IF" else 1.0)
            if not np.allclose(gain, 1.0, rtol=1e-12, atol=0.0):
                raise ValueError(f"Norse's {kind} ignores R{' and dt' if kind == 'IF' else ''}: this node has "
                                 f"{'R dt' if kind == 'IF' else 'R'} = {float(gain.min()):g}..{float(gain.max()):g}; "
                                 f"export with fold_scales=True")
            if node.v_reset is not None and np.any(np.asarray(node.v_reset) != 0):
                raise ValueError(f"Norse's {kind} resets to 0, this node to {float(np.min(node.v_reset)):g}")
        if isinstance(node, (nir.Input, nir.Output)):
            return None
        mod = _import_norse_module(node, ignore_warnings=True, dt=step_dt)
        if mod is None:
            raise ValueError(f"Norse has no module for nir.{type(node).__name__}")
        return mod

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return nirtorch.load(graph, model_map)
