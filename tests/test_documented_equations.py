"""Every documented decision of the neuron layers, pinned against independent expectations.

Each expectation here is computed from the equations in the docstrings (float64,
written out again below), by hand, or in closed form -- never by running a layer
against itself. Where a decision chooses between models (floor at rest, pre/post
reset potentials) it is pinned in both directions. Only public API is used.
"""
from __future__ import annotations

import math
from typing import Callable, Dict, List, Tuple

import pytest
import torch

import spyketorch.functional as sf
import spyketorch.neurons as sn
import spyketorch.snn as snn

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


# ----------------------------------------------------------------------------- spike rule
@pytest.mark.parametrize("name", ALL)
def test_spike_at_exact_equality_and_not_just_below(name):
    """A neuron spikes when u >= threshold: equality spikes (and wins), one ulp below does not."""
    layer, p = _build(name)
    I = torch.full((1, 2, 3, 3), 2.0 if name == "Izhikevich" else 5.0, dtype=F64)
    if name in MODELS and MODELS[name][3][1] > 100:
        I = I * 300.0
    u0 = torch.full_like(I, p["rest"])
    w0 = p["b"] * u0 if name == "Izhikevich" else torch.zeros_like(u0)
    u1 = _reference_potential(name, p, u0, w0, I)
    if FLOORED[name]:
        u1 = torch.clamp(u1, min=p["rest"])
    # the exact level the layer reaches (its own rounding), close to the reference
    probe, _ = _build(name, threshold=None)
    reached = probe.step(I, n_winners=1).potentials
    torch.testing.assert_close(reached, u1, rtol=1e-12, atol=1e-9)
    level = float(reached[0, 0, 0, 0])
    assert level > p["rest"] + 0.5, "the test input must move the neuron"
    for thr, fires in ((level, True), (math.nextafter(level, math.inf), False)):
        layer, _ = _build(name, threshold=thr)
        out = layer.step(I, n_winners=1)
        assert bool(out.spikes.ne(0).all()) is fires
        assert bool(out.spikes.eq(0).all()) is (not fires)
        if fires:
            assert out.winners[0, 0].tolist() == [0, 0, 0]   # ties: lowest index
        else:
            assert out.winners[0, 0].tolist() == [-1, -1, -1]


def test_threshold_none_never_fires():
    layer = sn.LIF(threshold=None)
    out = layer.step(torch.full((1, 1, 2, 2), 1e6), n_winners=1)
    assert out.spikes.eq(0).all() and out.winners.eq(-1).all()
    assert torch.allclose(out.potentials, torch.full((1, 1, 2, 2), 1e6 * 0.001 / 0.281))


# ----------------------------------------------------------------------------- floor at rest
@pytest.mark.parametrize("name", ALL)
def test_floor_at_rest_is_the_documented_default(name):
    layer, p = _build(name)
    I = torch.full((1, 1, 2, 2), -50.0 if name in ("LIF_Simple", "EIF_Simple", "Izhikevich") else -5000.0,
                   dtype=F64)
    out = layer.step(I, n_winners=0)
    u0 = torch.full_like(I, p["rest"])
    w0 = p["b"] * u0 if name == "Izhikevich" else torch.zeros_like(u0)
    raw = _reference_potential(name, p, u0, w0, I)
    assert bool((raw < p["rest"] - 1).all())
    if FLOORED[name]:
        assert torch.equal(out.potentials, torch.full_like(I, p["rest"]))
    else:
        torch.testing.assert_close(out.potentials, raw, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("name", ALL)
def test_clamp_at_rest_override_in_both_directions(name):
    """``clamp_at_rest=`` flips the documented default of every model."""
    layer, p = _build(name, clamp_at_rest=not FLOORED[name])
    assert layer.clamp_at_rest is (not FLOORED[name])
    I = torch.full((1, 1, 2, 2), -50.0 if name in ("LIF_Simple", "EIF_Simple", "Izhikevich") else -5000.0,
                   dtype=F64)
    out = layer.step(I, n_winners=0)
    u0 = torch.full_like(I, p["rest"])
    w0 = p["b"] * u0 if name == "Izhikevich" else torch.zeros_like(u0)
    raw = _reference_potential(name, p, u0, w0, I)
    if FLOORED[name]:   # now not floored
        torch.testing.assert_close(out.potentials, raw, rtol=1e-12, atol=1e-9)
    else:               # now floored
        assert torch.equal(out.potentials, torch.full_like(I, p["rest"]))


# ----------------------------------------------------------------------------- refractoriness
def _drive(mode: str, R: int, steps: int, k: int = 1):
    """IF with strong input: every free neuron fires every step. Returns the spike masks."""
    layer = sn.IF(threshold=1.0, refractory_timesteps=R, inhibition_mode=mode, resting_potential=-0.5)
    x = torch.full((1, 3, 2, 3), 1000.0, dtype=F64)
    x[0, 1, 1, 2] = 2000.0          # the unique best neuron: feature 1, row 1, col 2
    return [layer.step(x, n_winners=k) for _ in range(steps)]


def _inhibited_set(mode: str, spiked: torch.Tensor) -> torch.Tensor:
    """Hand-built: which neurons the step-0 winner (1, 1, 2) silences."""
    m = torch.zeros(1, 3, 2, 3, dtype=torch.bool)
    if mode == "feature":
        m[0, 1] = True
    elif mode == "location":
        m[0, :, 1, 2] = True
    elif mode == "layer":
        m[:] = True
    elif mode == "neuron":
        m = spiked.clone()
    return m


@pytest.mark.parametrize("mode", ["feature", "location", "layer", "neuron", "none"])
@pytest.mark.parametrize("R", [1, 3])
def test_refractory_length_is_exact_in_every_mode(mode, R):
    outs = _drive(mode, R, R + 3)
    assert outs[0].winners[0, 0].tolist() == [1, 1, 2]
    silenced = _inhibited_set(mode, outs[0].spikes.ne(0))
    if mode == "none":
        assert not silenced.any()
    for t in range(1, R + 1):
        s = outs[t].spikes.ne(0)
        assert not (s & silenced).any(), f"step {t}: an inhibited neuron fired"
        # an inhibited neuron sits at rest
        assert torch.equal(outs[t].potentials[silenced], torch.full_like(outs[t].potentials[silenced], -0.5))
    if mode in ("feature", "location"):
        assert outs[1].spikes.ne(0)[~silenced].any(), "neurons outside the inhibited set keep firing"
    # exactly R steps: at step R+1 every silenced neuron is free and fires again
    assert outs[R + 1].spikes.ne(0)[silenced].all(), f"refractoriness lasted longer than {R} steps"
    if mode == "none":
        assert all(o.spikes.ne(0).all() for o in outs)


def test_refractoriness_only_from_winners_outside_neuron_mode():
    """Without winners (k = 0) no inhibition happens, except in "neuron" mode."""
    for mode, silent in (("feature", False), ("layer", False), ("neuron", True)):
        outs = _drive(mode, 2, 2, k=0)
        assert bool(outs[1].spikes.eq(0).all()) == silent, mode


# ----------------------------------------------------------------------------- adaptation at the apex
@pytest.mark.parametrize("name", ["AdEx", "Izhikevich"])
def test_adaptation_takes_the_potential_at_most_at_the_threshold(name):
    layer, p = _build(name)
    I = torch.full((1, 1, 1, 2), 0.0, dtype=F64)
    I[0, 0, 0, 0] = 1e5 if name == "AdEx" else 2000.0       # spikes, far beyond the threshold
    I[0, 0, 0, 1] = 900.0 if name == "AdEx" else 1.0         # stays below the threshold
    u0 = torch.full_like(I, p["rest"])
    w0 = p["b"] * u0 if name == "Izhikevich" else torch.zeros_like(u0)
    pre = _reference_potential(name, p, u0, w0, I)
    if FLOORED[name]:
        pre = pre.clamp(min=p["rest"])
    assert pre[0, 0, 0, 0] > 10 * p["thr"] and pre[0, 0, 0, 1] < p["thr"]
    layer.step(I, n_winners=0)
    w = layer.get_state()["w"]
    spiked = torch.tensor([1.0, 0.0], dtype=F64).view(1, 1, 1, 2)
    if name == "AdEx":
        g = TS / p["tau_w"]
        expected = torch.stack([torch.tensor(g * p["a"] * (p["thr"] - p["rest"]) + p["b"], dtype=F64),
                                g * p["a"] * (pre[0, 0, 0, 1] - p["rest"])]).view(1, 1, 1, 2)
    else:
        expected = w0 + p["a"] * 1.0 * (p["b"] * torch.stack([torch.tensor(p["thr"], dtype=F64), pre[0, 0, 0, 1]])
                                         .view(1, 1, 1, 2) - w0) + p["d"] * spiked
    torch.testing.assert_close(w, expected, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- heterogeneous layers
UNIFORM = ["UniformLIF", "UniformLIF_Simple", "UniformEIF", "UniformQIF", "UniformAdEx"]


@pytest.mark.parametrize("uname", UNIFORM)
def test_uniform_layers_use_their_per_map_time_constant(uname):
    base = uname[len("Uniform"):]
    cls = getattr(sn, uname)
    _, kw, p, _ = MODELS[base]
    kw = {k: v for k, v in kw.items() if k != "tau_rc"}
    layer = cls(threshold=THR, tau_range=(0.005, 0.05), seed=7, n_features=4, ts=TS, resting_potential=REST,
                inhibition_mode="none", **kw)
    taus = layer.taus.flatten()
    assert taus.shape == (4,) and bool(((taus >= 0.005) & (taus <= 0.05)).all())
    assert len(set(taus.tolist())) == 4, "one time constant per map"
    # a second seed draws other values; the same seed the same ones
    again = cls(threshold=THR, tau_range=(0.005, 0.05), seed=7, n_features=4, ts=TS, resting_potential=REST, **kw)
    assert torch.equal(again.taus, layer.taus)
    # two steps below threshold: the second with zero input shows the per-map decay
    I1 = torch.full((1, 4, 1, 1), 5.0 if base.endswith("Simple") else 1500.0, dtype=F64)
    if base == "QIF":
        I1 = torch.full((1, 4, 1, 1), 1900.0, dtype=F64)
    u1 = layer.step(I1, n_winners=0).potentials
    assert bool((u1 < THR).all()) and bool((u1 > REST + 1).all())
    w1 = layer.get_state()["w"]
    u2 = layer.step(torch.zeros_like(I1), n_winners=0).potentials
    for c in range(4):
        pc = {**p, "tau": float(taus[c]), "ts": TS, "rest": REST}
        wc = w1[:, c:c + 1] if w1 is not None else torch.zeros(1, 1, 1, 1, dtype=F64)
        exp = _reference_potential(base, pc, u1[:, c:c + 1], wc, torch.zeros(1, 1, 1, 1, dtype=F64))
        if FLOORED[base]:
            exp = exp.clamp(min=REST)
        torch.testing.assert_close(u2[:, c:c + 1], exp, rtol=1e-12, atol=1e-10)
    assert len(set(torch.round(u2.flatten(), decimals=9).tolist())) == 4


def test_uniform_izhikevich_per_map_recovery_rate():
    layer = sn.UniformIzhikevich(tau_range=(0.02, 0.1), seed=3, n_features=3, resting_potential=-68.0,
                                 inhibition_mode="none")
    taus = layer.taus.flatten()
    assert len(set(taus.tolist())) == 3
    I = torch.full((1, 3, 1, 1), 3.0, dtype=F64)
    out = layer.step(I, n_winners=0)
    w = layer.get_state()["w"].flatten()
    v0, b, dt = -68.0, 0.2, 1.0
    v1 = v0 + dt * (0.04 * v0 * v0 + 5 * v0 + 140 - b * v0 + 3.0)
    torch.testing.assert_close(out.potentials.flatten(), torch.full((3,), v1, dtype=F64))
    a = 1.0 / (1000.0 * taus)                      # a = 1/(1000 tau) per map
    torch.testing.assert_close(w, b * v0 + a * dt * (b * v1 - b * v0), rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- k-WTA tie rule
@pytest.mark.parametrize("mode", ["feature", "location", "layer", "neuron", "none"])
def test_kwta_ties_go_to_the_lowest_feature_then_location(mode):
    layer = sn.IF(threshold=1.0, inhibition_mode=mode, refractory_timesteps=1)
    x = torch.full((2, 7, 3, 3), 400.0)
    out = layer.step(x, n_winners=3)
    assert out.winners.tolist() == [[[0, 0, 0], [1, 0, 0], [2, 0, 0]]] * 2
    # a tie inside one map: the first row-major location; across maps with unequal best
    y = torch.zeros(1, 4, 3, 3)
    y[0, 2, 1, 1] = y[0, 2, 2, 0] = 900.0        # map 2: tie between (1,1) and (2,0)
    y[0, 3, 0, 2] = y[0, 1, 2, 2] = 900.0        # maps 1 and 3 tie with map 2
    y[0, 0, 0, 0] = 500.0
    layer = sn.IF(threshold=1.0, inhibition_mode=mode)
    out = layer.step(y, n_winners=4)
    assert out.winners[0].tolist() == [[1, 2, 2], [2, 1, 1], [3, 0, 2], [0, 0, 0]]


def test_functional_get_k_winners_breaks_ties_the_same_way():
    y = torch.zeros(1, 4, 3, 3)
    y[0, 2, 1, 1] = y[0, 2, 2, 0] = 900.0
    y[0, 3, 0, 2] = y[0, 1, 2, 2] = 900.0
    y[0, 0, 0, 0] = 500.0
    wave = y.expand(3, 4, 3, 3).clone()          # fired at every step: only the potential ranks
    assert sf.get_k_winners(wave, 4) == [(1, 2, 2), (2, 1, 1), (3, 0, 2), (0, 0, 0)]
    layer = sn.IF(threshold=1.0, inhibition_mode="feature")
    out = layer.step(y * (0.281 / 0.001) / 900.0 * 2, n_winners=4)
    assert [tuple(w) for w in out.winners[0].tolist()] == sf.get_k_winners(wave, 4)


# ----------------------------------------------------------------------------- STDP per-feature rates
def test_stdp_uses_each_features_own_rates():
    torch.manual_seed(0)
    conv = snn.Convolution(1, 2, 2, weight_mean=0.5, weight_std=0.0)
    stdp = snn.STDP(conv, [(0.1, -0.05), (0.02, -0.01)], use_stabilizer=False)
    x = torch.zeros(3, 1, 2, 2)
    x[0:, 0, 0, 0] = 1.0         # pre first fires at step 0, before post: LTP (waves accumulate)
    x[2:, 0, 1, 1] = 1.0         # pre first fires at step 2, after post: LTD
    post = torch.zeros(3, 2, 1, 1)
    post[1:, :, 0, 0] = 1.0      # both features fire at step 1
    w0 = conv.weight.clone()
    stdp(x, post, post, winners=[(0, 0, 0), (1, 0, 0)])
    dw = conv.weight - w0
    expected = torch.zeros(2, 1, 2, 2)
    for f, (ap, an) in enumerate([(0.1, -0.05), (0.02, -0.01)]):
        expected[f, 0] = torch.tensor([[ap, an], [an, an]])
    torch.testing.assert_close(dw, expected)
    # changing one feature's rates changes only that feature's update
    stdp.update_learning_rate(1, 0.3, -0.2)
    conv.load_weight(w0)
    stdp(x, post, post, winners=[(1, 0, 0)])
    dw = conv.weight - w0
    assert torch.equal(dw[0], torch.zeros(1, 2, 2))
    torch.testing.assert_close(dw[1, 0], torch.tensor([[0.3, -0.2], [-0.2, -0.2]]))
