"""Every decision the README or a neuron docstring states, pinned with an independent expectation.

Only the public API is used (constructors, ``layer(...)``, ``layer.step(...)``, ``reset()``,
``get_state()``, ``taus``), so these tests survive a rewrite of the layer internals.
Expectations are hand-built or closed forms evaluated here in float64, never the layer
compared with itself.
"""
import math

import pytest
import torch

import spyketorch as st
from spyketorch import functional as sf

F64 = torch.float64
TS = 0.001


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def full(value, shape=(1, 3, 2, 2)):
    return torch.full(shape, float(value), dtype=F64)


# ------------------------------------------------------------------ spike rule at equality
# With C = ts the linear models map an input I at rest (0) to u = I exactly.
EXACT_LINEAR = {
    "IF": lambda thr, **kw: st.IF(threshold=thr, C=TS, **kw),
    "LIF": lambda thr, **kw: st.LIF(threshold=thr, C=TS, **kw),
    "LIF_ode": lambda thr, **kw: st.LIF_ode(threshold=thr, C=TS, **kw),
    "LIF_Simple": lambda thr, **kw: st.LIF_Simple(threshold=thr, **kw),
}


@pytest.mark.parametrize("name", sorted(EXACT_LINEAR))
def test_spike_when_potential_equals_threshold(name):
    thr = 10.0
    layer = EXACT_LINEAR[name](thr)
    out = layer.step(full(thr), n_winners=1)
    assert bool((out.spikes > 0).all()), "u == threshold must spike (rule u >= threshold)"
    assert out.winners[0, 0].tolist() == [0, 0, 0]
    below = math.nextafter(thr, 0.0)
    layer = EXACT_LINEAR[name](thr)
    out = layer.step(full(below), n_winners=1)
    assert not bool((out.spikes > 0).any())
    assert out.winners[0, 0].tolist() == [-1, -1, -1], "a neuron that did not spike cannot win"
    assert torch.equal(out.potentials, full(below))


def test_spike_at_equality_with_per_neuron_threshold():
    thr = torch.tensor([[[4.0]], [[6.0]], [[8.0]]], dtype=F64)
    layer = st.IF(threshold=100.0, C=TS, per_neuron_thresh=thr, inhibition_mode="none")
    out = layer.step(full(6.0), n_winners=3)
    assert (out.spikes[0, :, 0, 0] > 0).tolist() == [True, True, False]
    # both spiking maps have potential 6: the lower feature index ranks first
    assert out.winners[0].tolist() == [[0, 0, 0], [1, 0, 0], [-1, -1, -1]]


def test_threshold_none_never_fires():
    layer = st.IF(threshold=None, C=TS)
    out = layer.step(full(1e6), n_winners=2)
    assert not bool(out.spikes.any())
    assert torch.equal(out.potentials, full(1e6))


# ------------------------------------------------------------------ floor at rest, per model
FLOORED = ["IF", "LIF", "LIF_ode", "EIF", "QIF", "AdEx", "UniformLIF", "UniformEIF", "UniformQIF", "UniformAdEx",
           "AdaptiveLIF", "UniformAdaptiveLIF"]
NOT_FLOORED = ["LIF_Simple", "EIF_Simple", "Izhikevich", "UniformLIF_Simple", "UniformIzhikevich",
               "ResonateAndFire", "UniformResonateAndFire"]
REST = -2.0


def make(name, **kw):
    """Layer ``name`` with threshold 10 (Izhikevich: 30 mV; ResonateAndFire, whose potential
    is the oscillator's y, 1 as in the model registry) and non-default keywords."""
    cls = getattr(st, name)
    if name.startswith("Uniform"):
        kw.setdefault("seed", 0)
        kw.setdefault("tau_range", (0.02, 0.1) if "Izhikevich" in name else (0.01, 0.05))
    if "Izhikevich" in name:
        return cls(**kw)
    if "ResonateAndFire" in name:
        return cls(threshold=1.0, **kw)
    return cls(threshold=10.0, **kw)


def test_floor_lists_cover_every_model():
    assert sorted(FLOORED + NOT_FLOORED) == sorted(st.neurons.all_models())


@pytest.mark.parametrize("name", FLOORED)
def test_floored_models_never_go_below_rest(name):
    layer = make(name, resting_potential=REST)
    out = layer.step(full(-1e4), n_winners=0)
    assert torch.equal(out.potentials, full(REST))


@pytest.mark.parametrize("name", FLOORED)
def test_floor_can_be_switched_off(name):
    layer = make(name, resting_potential=REST, clamp_at_rest=False)
    out = layer.step(full(-1e4), n_winners=0)
    assert bool((out.potentials < REST - 1.0).all())


@pytest.mark.parametrize("name", NOT_FLOORED)
def test_unfloored_models_go_below_rest(name):
    rest = -70.0 if "Izhikevich" in name else REST
    layer = make(name, resting_potential=rest)
    out = layer.step(full(-5.0), n_winners=0)
    if name in ("LIF_Simple", "UniformLIF_Simple"):
        # u1 = rest + (u0 - rest)(1 - ts/tau) + I with u0 = rest
        assert torch.allclose(out.potentials, full(rest - 5.0), rtol=0, atol=1e-12)
    elif name in ("ResonateAndFire", "UniformResonateAndFire"):
        # y1 = rest + e^{b ts} sin(omega ts) ts I (x kicked by ts I, then one damped rotation)
        b = layer.param("b").view(-1, 1, 1).to(F64)
        expected = rest + torch.exp(b * TS) * math.sin(2 * math.pi * 10.0 * TS) * TS * -5.0
        assert torch.allclose(out.potentials, expected.expand_as(out.potentials).unsqueeze(0), rtol=0, atol=1e-12)
        assert bool((out.potentials < rest).all())
    else:
        assert bool((out.potentials < rest - 1e-3).all())
    layer = make(name, resting_potential=rest, clamp_at_rest=True)
    out = layer.step(full(-5.0), n_winners=0)
    assert torch.equal(out.potentials, full(rest))


def test_izhikevich_below_rest_closed_form():
    # at the fixed point v* (0.04 v*^2 + 5 v* + 140 - b v* = 0, w0 = b v*), one Euler step of
    # dt = 1 ms gives v1 = v* + I
    b = 0.2
    vstar = (-(5 - b) - math.sqrt((5 - b) ** 2 - 4 * 0.04 * 140)) / (2 * 0.04)
    layer = st.Izhikevich(ts=0.001)
    out = layer.step(full(-5.0), n_winners=0)
    assert torch.allclose(out.potentials, full(vstar - 5.0), rtol=0, atol=1e-9)


# ------------------------------------------------------------------ refractory length, every mode
PROBE = (1, 1, 1)  # the neuron that wins at step 0
INHIBITED = {  # a neuron the winner's inhibition reaches, and one it does not
    "feature": ((1, 0, 0), (0, 1, 1)),
    "location": ((0, 1, 1), (1, 0, 0)),
    "layer": ((0, 0, 0), None),
    "neuron": ((1, 1, 1), (1, 0, 0)),
    "none": (None, (1, 1, 1)),
}


def _refractory_run(mode, R, target, steps, cls=st.IF):
    """Win at PROBE at step 0, then drive only ``target``: returns its spikes and potentials."""
    layer = cls(threshold=1.0, C=TS, refractory_timesteps=R, inhibition_mode=mode)
    x = torch.zeros(1, 2, 3, 3, dtype=F64)
    x[(0,) + PROBE] = 5.0
    first = layer.step(x, n_winners=1)
    assert first.winners[0].tolist() == [list(PROBE)]
    x = torch.zeros(1, 2, 3, 3, dtype=F64)
    x[(0,) + target] = 5.0
    spikes, pots = [], []
    for _ in range(steps):
        out = layer.step(x, n_winners=1)
        spikes.append(bool(out.spikes[(0,) + target] > 0))
        pots.append(float(out.potentials[(0,) + target]))
    return spikes, pots


@pytest.mark.parametrize("cls", [st.IF, st.LIF])
@pytest.mark.parametrize("mode", sorted(INHIBITED))
@pytest.mark.parametrize("R", [1, 2, 3])
def test_refractory_lasts_exactly_R_steps_in_every_mode(cls, mode, R):
    inhibited, free = INHIBITED[mode]
    if inhibited is not None:
        spikes, pots = _refractory_run(mode, R, inhibited, R + 1, cls)
        assert spikes == [False] * R + [True]
        assert pots[:R] == [0.0] * R  # held at rest while refractory, despite the input
    if free is not None:
        spikes, _ = _refractory_run(mode, R, free, 1, cls)
        assert spikes == [True]


def test_refractory_holds_at_non_zero_rest():
    layer = st.LIF(threshold=1.0, C=TS, resting_potential=REST, refractory_timesteps=2, inhibition_mode="layer")
    layer.step(full(5.0), n_winners=1)
    out = layer.step(full(5.0), n_winners=1)
    assert torch.equal(out.potentials, full(REST))
    assert not bool(out.spikes.any())


# ------------------------------------------------------------------ v_reset and non-zero rest
ALL = sorted(FLOORED + NOT_FLOORED)


@pytest.mark.parametrize("name", ALL)
def test_spike_resets_to_v_reset_or_rest(name):
    if "Izhikevich" in name:
        rest, reset = -70.0, -50.0
        layer = make(name, resting_potential=rest, c=reset)
    else:
        rest, reset = REST, -1.0
        layer = make(name, resting_potential=rest, v_reset=reset, inhibition_mode="none")
    out = layer.step(full(1e5), n_winners=0)
    assert bool((out.spikes > 0).all())
    assert torch.equal(layer.get_state()["v"], full(reset))
    if "Izhikevich" not in name:
        layer = make(name, resting_potential=rest, inhibition_mode="none")
        layer.step(full(1e5), n_winners=0)
        assert torch.equal(layer.get_state()["v"], full(rest)), "v_reset=None means the resting potential"


@pytest.mark.parametrize("name", ["IF", "LIF", "LIF_ode", "LIF_Simple", "UniformLIF", "UniformLIF_Simple"])
def test_linear_models_stay_at_non_zero_rest_without_input(name):
    layer = make(name, resting_potential=REST)
    for _ in range(3):
        out = layer.step(full(0.0), n_winners=0)
    assert torch.allclose(out.potentials, full(REST), rtol=0, atol=1e-12)


def test_lif_decays_toward_non_zero_rest_closed_form():
    tau, rest = 0.02, 3.0
    layer = st.LIF(threshold=100.0, tau_rc=tau, C=TS, resting_potential=rest)
    layer.step(full(7.0), n_winners=0)  # u1 = rest + 7 (rest decays to rest)
    out = layer.step(full(0.0), n_winners=0)
    assert torch.allclose(out.potentials, full(rest + 7.0 * math.exp(-TS / tau)), rtol=0, atol=1e-12)


# ------------------------------------------------------------------ adaptation at the apex
def test_adex_adaptation_uses_at_most_the_threshold():
    a, b, tau_w, thr, rest = 0.6, 0.7, 1.0, 10.0, 0.0
    layer = st.AdEx(threshold=thr, a=a, b=b, tau_w=tau_w, inhibition_mode="none")
    out = layer.step(full(1e6), n_winners=0)  # Euler estimate far beyond the threshold
    assert bool((out.spikes > 0).all())
    expected = TS / tau_w * a * (thr - rest) + b
    assert torch.allclose(layer.get_state()["w"], full(expected), rtol=1e-12, atol=0)


def test_adex_adaptation_below_threshold_uses_the_potential():
    a, tau_w = 0.6, 1.0
    layer = st.AdEx(threshold=10.0, a=a, tau_w=tau_w, inhibition_mode="none")
    out = layer.step(full(1000.0), n_winners=0)
    assert not bool(out.spikes.any()) and bool((out.potentials > 1.0).all())
    assert torch.allclose(layer.get_state()["w"], TS / tau_w * a * out.potentials, rtol=1e-12, atol=0)


def test_izhikevich_adaptation_uses_at_most_the_apex():
    a, b, d, thr = 0.02, 0.2, 8.0, 30.0
    vstar = (-(5 - b) - math.sqrt((5 - b) ** 2 - 4 * 0.04 * 140)) / (2 * 0.04)
    w0 = b * vstar
    layer = st.Izhikevich(a=a, b=b, d=d, inhibition_mode="none")
    out = layer.step(full(1e4), n_winners=0)
    assert bool((out.spikes > 0).all())
    expected = w0 + a * 1.0 * (b * thr - w0) + d  # dt = 1 ms
    assert torch.allclose(layer.get_state()["w"], full(expected), rtol=1e-12, atol=0)


def test_izhikevich_preset_has_no_refractoriness_class_default_has():
    assert st.Izhikevich.preset("chattering").refractory_timesteps == 0
    assert st.Izhikevich().refractory_timesteps == 2


# ------------------------------------------------------------------ per-map parameters of Uniform models
def _two_steps(layer, I1):
    x = torch.full((1, 4, 1, 1), float(I1), dtype=F64)
    layer.step(x, n_winners=0)
    out = layer.step(torch.zeros_like(x), n_winners=0)
    return out.potentials.flatten(), layer.get_state()


def _taus(layer):
    taus = layer.taus.flatten().double()
    assert taus.unique().numel() == 4, "sampled time constants must differ between maps"
    return taus


def test_uniform_lif_uses_its_taus():
    layer = st.UniformLIF(threshold=100.0, tau_range=(0.005, 0.05), C=TS, seed=1, n_features=4)
    u2, _ = _two_steps(layer, 7.0)
    assert torch.allclose(u2, 7.0 * torch.exp(-TS / _taus(layer)), rtol=1e-12, atol=0)


def test_uniform_lif_simple_uses_its_taus():
    layer = st.UniformLIF_Simple(threshold=100.0, tau_range=(0.005, 0.05), seed=1, n_features=4)
    u2, _ = _two_steps(layer, 7.0)
    assert torch.allclose(u2, 7.0 * (1 - TS / _taus(layer)), rtol=1e-12, atol=0)


def _eif_step(u, tau, I, thr, delta=0.5, C=0.281):
    theta = 0.75 * thr
    return u + TS / tau * (-u + delta * torch.exp((u - theta) / delta)) + TS / C * I


def test_uniform_eif_uses_its_taus():
    layer = st.UniformEIF(threshold=10.0, tau_range=(0.005, 0.05), seed=1, n_features=4)
    u2, _ = _two_steps(layer, 1000.0)
    taus = _taus(layer)
    expected = _eif_step(_eif_step(torch.zeros(4, dtype=F64), taus, 1000.0, 10.0), taus, 0.0, 10.0)
    assert torch.allclose(u2, expected, rtol=1e-10, atol=0)


def test_uniform_qif_uses_its_taus():
    a, thr = 1.0, 10.0
    uc = 0.75 * thr
    layer = st.UniformQIF(threshold=thr, tau_range=(0.005, 0.05), a=a, C=TS, seed=1, n_features=4)
    u2, _ = _two_steps(layer, 5.0)
    taus = _taus(layer)
    expected = 5.0 + a * TS / taus * 5.0 * (5.0 - uc)  # u1 = 5 exactly (C = ts, u0 = rest = 0)
    assert torch.allclose(u2, expected, rtol=1e-12, atol=0)
    assert bool((expected < 4.5).all()) and float(expected.max() - expected.min()) > 0.5  # tau matters


def test_uniform_adex_uses_its_taus():
    a, thr, tau_w = 0.6, 10.0, 1.0
    layer = st.UniformAdEx(threshold=thr, tau_range=(0.005, 0.05), a=a, tau_w=tau_w, seed=1, n_features=4)
    u2, state = _two_steps(layer, 1000.0)
    taus = _taus(layer)
    u1 = _eif_step(torch.zeros(4, dtype=F64), taus, 1000.0, thr)
    w1 = TS / tau_w * a * u1
    expected_u2 = _eif_step(u1, taus, -w1, thr)
    assert torch.allclose(u2, expected_u2, rtol=1e-10, atol=0)
    w2 = w1 * (1 - TS / tau_w) + TS / tau_w * a * expected_u2
    assert torch.allclose(state["w"].flatten(), w2, rtol=1e-10, atol=0)


def test_uniform_izhikevich_uses_its_recovery_time_constants():
    b = 0.2
    layer = st.UniformIzhikevich(tau_range=(0.01, 0.1), b=b, seed=1, n_features=4)
    vstar = (-(5 - b) - math.sqrt((5 - b) ** 2 - 4 * 0.04 * 140)) / (2 * 0.04)
    I = 5.0
    layer.step(torch.full((1, 4, 1, 1), I, dtype=F64), n_winners=0)
    taus = _taus(layer)
    a = 1.0 / (1000.0 * taus)
    v1 = vstar + I  # one 1 ms Euler step from the fixed point
    w1 = b * vstar + a * (b * v1 - b * vstar)
    assert torch.allclose(layer.get_state()["v"].flatten(), torch.full((4,), v1, dtype=F64), rtol=0, atol=1e-9)
    assert torch.allclose(layer.get_state()["w"].flatten(), w1, rtol=1e-10, atol=0)


# ------------------------------------------------------------------ k-WTA tie rule
MODES = ["feature", "location", "layer", "neuron", "none"]


@pytest.mark.parametrize("mode", MODES)
def test_kwta_ties_go_to_the_lowest_feature_then_lowest_location(mode):
    layer = st.IF(threshold=1.0, C=TS, inhibition_mode=mode)
    out = layer.step(torch.full((1, 8, 2, 2), 5.0, dtype=F64), n_winners=3)
    assert out.winners[0].tolist() == [[0, 0, 0], [1, 0, 0], [2, 0, 0]]
    assert layer(torch.full((1, 8, 2, 2), 5.0, dtype=F64), n_winners=0)[2] == []


@pytest.mark.parametrize("mode", MODES)
def test_kwta_ranks_by_potential_before_index(mode):
    x = torch.full((1, 6, 3, 3), 2.0, dtype=F64)
    x[0, 5, 2, 1] = 9.0
    x[0, 3, 1, 2] = 7.0
    x[0, 3, 2, 0] = 7.0  # tie inside map 3: row-major (1, 2) comes first
    x[0, 4, 0, 2] = 7.0  # tie with map 3 at 7: map 3 first
    layer = st.IF(threshold=1.0, C=TS, inhibition_mode=mode)
    out = layer.step(x, n_winners=4)
    expected = [[5, 2, 1], [3, 1, 2], [4, 0, 2], [0, 0, 0]]
    assert out.winners[0].tolist() == expected
    assert out.winning_spikes[0].nonzero().tolist() == sorted(expected)


def test_functional_get_k_winners_follows_the_same_tie_rule():
    x = torch.full((1, 6, 3, 3), 2.0)
    x[0, 5, 2, 1] = 9.0
    x[0, 3, 1, 2] = 7.0
    x[0, 3, 2, 0] = 7.0
    x[0, 4, 0, 2] = 7.0
    assert sf.get_k_winners(x, kwta=4) == [(5, 2, 1), (3, 1, 2), (4, 0, 2), (0, 0, 0)]
    assert sf.get_k_winners(torch.full((1, 8, 2, 2), 5.0), kwta=3) == [(0, 0, 0), (1, 0, 0), (2, 0, 0)]


def test_neuron_layer_and_functional_agree_on_random_ties():
    g = torch.Generator().manual_seed(3)
    for _ in range(20):
        x = torch.randint(0, 4, (1, 5, 3, 3), generator=g).double()  # many ties
        layer = st.IF(threshold=1.0, C=TS, inhibition_mode="feature")
        got = [tuple(w) for w in layer.step(x, n_winners=3).winners[0].tolist() if w[0] >= 0]
        ref = sf.get_k_winners((x * (x >= 1)).float(), kwta=3)
        assert got == ref
