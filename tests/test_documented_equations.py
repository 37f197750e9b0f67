"""Every model's whole trajectory against its documented equations, written out again here.

Forty steps of random input (float64), with a non-zero rest and a reset potential, for
every model: potentials, spikes (amplitude ``1/ts``, 1 for ``_Simple``), the floor at rest
where the model has it, the adaptation variable taken at most at the threshold, and the
pre-reset potentials EIF_Simple returns. The reference below is an independent float64
implementation of each docstring's equation; single decisions are pinned one by one in
``test_decisions.py``. Only public API is used.
"""
from __future__ import annotations

import math
from typing import Callable, Dict, List, Tuple

import pytest
import torch

import spyketorch.neurons as sn

F64 = torch.float64
REST = -2.0       # a non-zero resting potential for every model
V_RESET = -1.0    # a reset potential different from rest
THR = 10.0
TS = 0.001


# ----------------------------------------------------------------------------- independent reference
def _exp_term(u, delta, theta):
    return delta * torch.exp((u - theta) / delta)


def _reference_potential(name: str, p: Dict[str, float], u, w, I):
    """One step of each model, written from its docstring (float64, before floor and reset)."""
    ts, rest = p["ts"], p["rest"]
    if name == "IF":
        return u + ts / p["C"] * I
    if name == "LIF":
        return rest + (u - rest) * math.exp(-ts / p["tau"]) + ts / p["C"] * I
    if name == "LIF_ode":
        return u + ts / p["tau"] * (rest - u) + ts / p["C"] * I
    if name == "LIF_Simple":
        return rest + (u - rest) * (1 - ts / p["tau"]) + I
    if name == "EIF":
        return u + ts / p["tau"] * (-(u - rest) + _exp_term(u, p["delta"], p["theta"])) + ts / p["C"] * I
    if name == "EIF_Simple":
        return rest + (u - rest) * (1 - ts / p["tau"]) + _exp_term(u, p["delta"], p["theta"]) + I
    if name == "QIF":
        return u + ts / p["tau"] * p["a"] * (u - rest) * (u - p["uc"]) + ts / p["C"] * I
    if name == "AdEx":
        return u + ts / p["tau"] * (-(u - rest) + _exp_term(u, p["delta"], p["theta"])) + ts / p["C"] * (I - w)
    if name == "Izhikevich":
        dt = 1000.0 * ts
        return u + dt * (0.04 * u * u + 5 * u + 140 - w + I)
    raise KeyError(name)


def _reference_adaptation(name: str, p: Dict[str, float], u_pre, w, spiked):
    """Adaptation from the potential taken at most at the threshold (the spike apex)."""
    apex = torch.clamp(u_pre, max=p["thr"])
    if name == "AdEx":
        return w + p["ts"] / p["tau_w"] * (p["a"] * (apex - p["rest"]) - w) + p["b"] * spiked
    if name == "Izhikevich":
        dt = 1000.0 * p["ts"]
        return w + p["a"] * dt * (p["b"] * apex - w) + p["d"] * spiked
    return w


FLOORED = {"IF": True, "LIF": True, "LIF_ode": True, "EIF": True, "QIF": True, "AdEx": True,
           "LIF_Simple": False, "EIF_Simple": False, "Izhikevich": False}
AMPLITUDE_ONE = {"LIF_Simple", "EIF_Simple"}

# name -> (constructor keyword arguments, reference parameters, input (low, high))
COMMON = dict(threshold=THR, ts=TS, resting_potential=REST, inhibition_mode="none")
MODELS: Dict[str, Tuple[Callable[..., sn.Neuron], dict, dict, Tuple[float, float]]] = {
    "IF": (sn.IF, dict(C=0.281), dict(C=0.281), (-800.0, 2500.0)),
    "LIF": (sn.LIF, dict(tau_rc=0.02, C=0.281), dict(tau=0.02, C=0.281), (-800.0, 2500.0)),
    "LIF_ode": (sn.LIF_ode, dict(tau_rc=0.02, C=0.281), dict(tau=0.02, C=0.281), (-800.0, 2500.0)),
    "LIF_Simple": (sn.LIF_Simple, dict(tau_rc=0.02), dict(tau=0.02), (-3.0, 8.0)),
    "EIF": (sn.EIF, dict(tau_rc=0.02, C=0.281, delta_t=0.5, theta_rh=7.0),
            dict(tau=0.02, C=0.281, delta=0.5, theta=7.0), (-800.0, 2500.0)),
    "EIF_Simple": (sn.EIF_Simple, dict(tau_rc=0.02, delta_t=0.5, theta_rh=7.0),
                   dict(tau=0.02, delta=0.5, theta=7.0), (-3.0, 6.0)),
    "QIF": (sn.QIF, dict(tau_rc=0.02, C=0.281, a=0.5, u_c=7.5), dict(tau=0.02, C=0.281, a=0.5, uc=7.5),
            (-800.0, 2500.0)),
    "AdEx": (sn.AdEx, dict(tau_rc=0.02, C=0.281, delta_t=0.5, theta_rh=7.0, a=0.6, b=0.7, tau_w=0.5),
             dict(tau=0.02, C=0.281, delta=0.5, theta=7.0, a=0.6, b=0.7, tau_w=0.5), (-800.0, 2500.0)),
}


def _build(name: str, v_reset: bool = True, **over) -> Tuple[sn.Neuron, Dict[str, float]]:
    if name == "Izhikevich":
        kw = dict(threshold=30.0, ts=TS, a=0.02, b=0.2, c=-60.0, d=8.0, resting_potential=-68.0,
                  inhibition_mode="none")
        kw.update(over)
        p = dict(ts=TS, rest=-68.0, thr=30.0, a=0.02, b=0.2, d=8.0, v_reset=-60.0)
        return sn.Izhikevich(**kw), p
    cls, kw, p, _ = MODELS[name]
    kw = {**COMMON, **kw, **over}
    if v_reset:
        kw["v_reset"] = V_RESET
    p = {**p, "ts": TS, "rest": REST, "thr": THR, "v_reset": V_RESET if v_reset else REST}
    return cls(**kw), p


def _inputs(name: str, steps: int, shape=(2, 3, 4, 4), seed: int = 0) -> List[torch.Tensor]:
    lo, hi = (0.0, 25.0) if name == "Izhikevich" else MODELS[name][3]
    g = torch.Generator().manual_seed(seed)
    return [lo + (hi - lo) * torch.rand(shape, generator=g, dtype=F64) for _ in range(steps)]


ALL = list(MODELS) + ["Izhikevich"]


@pytest.mark.parametrize("name,with_v_reset", [(n, True) for n in ALL] + [(n, False) for n in MODELS])
def test_trajectory_equals_the_documented_equations(name, with_v_reset):
    """Non-zero rest, v_reset (or rest; Izhikevich: c) after a spike, floor per model, amplitude,
    adaptation, over 40 steps of random input in float64."""
    layer, p = _build(name, v_reset=with_v_reset)
    xs = _inputs(name, 40)
    u = torch.full(xs[0].shape, p["rest"], dtype=F64)
    w = p["b"] * u if name == "Izhikevich" else torch.zeros_like(u)
    amp = 1.0 if name in AMPLITUDE_ONE else 1.0 / TS
    n_spikes = 0
    n_floored = 0
    for t, I in enumerate(xs):
        pre = _reference_potential(name, p, u, w, I)
        if FLOORED[name]:
            n_floored += int((pre < p["rest"]).sum())
            pre = torch.clamp(pre, min=p["rest"])
        spiked = (pre >= p["thr"]).to(F64)
        w = _reference_adaptation(name, p, pre, w, spiked)
        u = torch.where(spiked.bool(), torch.full_like(pre, p["v_reset"]), pre)
        out = layer.step(I, n_winners=0)
        assert torch.equal(out.spikes, spiked * amp), f"step {t}"
        expected = pre if name == "EIF_Simple" else u   # EIF_Simple returns pre-reset potentials
        torch.testing.assert_close(out.potentials, expected, rtol=1e-12, atol=1e-9)
        torch.testing.assert_close(layer.get_state()["v"], u, rtol=1e-12, atol=1e-9)
        if name in ("AdEx", "Izhikevich"):
            torch.testing.assert_close(layer.get_state()["w"], w, rtol=1e-12, atol=1e-9)
        n_spikes += int(spiked.sum())
    assert n_spikes > 0, "the input must make the reference spike"
    if FLOORED[name]:
        assert n_floored > 0, "the input must drive the reference below rest"


# ----------------------------------------------------------------------------- the right-hand side
def _documented_rhs(name: str, p: Dict[str, float], u, w, I):
    """du/dt per second from each docstring: the Euler models' step is ``u + ts * du/dt``, so
    their derivative is the reference step's increment over ``ts``; LIF's exact step
    integrates ``(rest - u)/tau + I/C``."""
    if name in ("LIF", "AdaptiveLIF"):
        return (p["rest"] - u) / p["tau"] + I / p["C"]
    return (_reference_potential(name, p, u, w, I) - u) / p["ts"]


def _documented_rhs_w(name: str, p: Dict[str, float], u, w):
    if name == "AdEx":
        return (p["a"] * (u - p["rest"]) - w) / p["tau_w"]
    if name == "Izhikevich":
        return 1000.0 * p["a"] * (p["b"] * u - w)
    raise KeyError(name)


@pytest.mark.parametrize("name", ALL + ["AdaptiveLIF"])
def test_ode_is_the_documented_right_hand_side(name):
    """``layer.ode`` (what plots and analysis read) against the docstring equation, away from
    the floor and the threshold, at random potentials, inputs and second variables."""
    if name == "AdaptiveLIF":
        layer = sn.AdaptiveLIF(threshold=THR, tau_rc=0.03, C=0.5, ts=TS, resting_potential=REST)
        p = dict(tau=0.03, C=0.5, ts=TS, rest=REST)
    else:
        layer, p = _build(name)
    g = torch.Generator().manual_seed(3)
    u = p["rest"] + 8.0 * torch.rand(50, generator=g, dtype=F64)
    I = -50.0 + 300.0 * torch.rand(50, generator=g, dtype=F64)
    w = 2.0 * torch.rand(50, generator=g, dtype=F64)
    has_w = name in ("AdEx", "Izhikevich")
    got = layer.ode(u, I, w=w if has_w else None)
    torch.testing.assert_close(got, _documented_rhs(name, p, u, w if has_w else torch.zeros_like(u), I),
                               rtol=1e-9, atol=1e-6)
    if has_w:
        torch.testing.assert_close(layer.ode_w(u, w, I), _documented_rhs_w(name, p, u, w), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", ["UniformLIF", "UniformLIF_Simple", "UniformEIF", "UniformQIF", "UniformAdEx"])
def test_ode_of_uniform_models_uses_each_maps_time_constant(name):
    """The sampled per-map ``tau_rc`` enters the right-hand side: ode of the Uniform layer at
    map c equals ode of the homogeneous model built with that map's tau."""
    layer = getattr(sn, name)(threshold=THR, tau_range=(0.01, 0.05), seed=4, n_features=3, ts=TS)
    base = getattr(sn, name[len("Uniform"):])
    u = torch.full((3, 1, 1), 3.0, dtype=F64)
    I = torch.full((3, 1, 1), 40.0, dtype=F64)
    got = layer.ode(u, I)
    taus = layer.taus.flatten().tolist()
    assert len(set(taus)) == 3
    for c, tau in enumerate(taus):
        ref = base(threshold=THR, tau_rc=tau, ts=TS).ode(u[c], I[c])
        torch.testing.assert_close(got[c], ref, rtol=1e-12, atol=1e-12)
