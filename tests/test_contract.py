"""The model contract: the step's stages one by one, declared parameters, the registry, and the
two models written on the contract (ResonateAndFire, AdaptiveLIF) against closed forms / scipy."""
from __future__ import annotations

import inspect
import math

import pytest
import torch

import spyketorch.neurons as sn
from spyketorch.neurons import step as st


def cfg(floor: bool = True, capped: bool = False, cap: float = 1e6) -> st.StepConfig:
    return st.StepConfig(mode="feature", R=2.0, refractory=True, k=1, want_thresholded=False, want_dudt=False,
                         want_winners=True, want_winning_spikes=False, amp=1.0, clamp_at_rest=floor, capped=capped,
                         cap=cap, before_reset=False, uniform_thr=True, detach_reset=True, check_finite=False,
                         fused=False)


def fire(u, thr=1.0):
    return st.fire(u, thr, None)


def winners(u, k):
    win = st.k_winners(u, fire(u), k, True, 1.0, 4e6, True)
    return st.winners_tensor(win, u.shape[0], k, u.shape[3], u.device)


# ----------------------------------------------------------------------------- stages
def test_clamp_and_floor_sends_refractory_neurons_to_rest_and_floors():
    u = torch.tensor([[[[-3.0, 5.0, 7.0, 2e7]]]])
    r = torch.tensor([[[[0.0, 1.0, 0.0, 0.0]]]])
    got = st.clamp_and_floor(u, r, 0.5, cfg())
    assert got.flatten().tolist() == [0.5, 0.5, 7.0, 1e6]
    # not floored, linear: refractory to rest only
    got = st.clamp_and_floor(u, r, 0.5, cfg(floor=False))
    assert got.flatten().tolist() == [-3.0, 0.5, 7.0, 2e7]
    got = st.clamp_and_floor(u, torch.zeros_like(r), 0.5, cfg(floor=False, capped=True))
    assert got.flatten().tolist() == [-3.0, 5.0, 7.0, 1e6]
    # a per-neuron rest takes the general path
    got = st.clamp_and_floor(u, r, torch.full_like(u, 0.5), cfg())
    assert got.flatten().tolist() == [0.5, 0.5, 7.0, 1e6]


def test_fire_and_reset():
    u = torch.tensor([[[[0.5, 1.0, 3.0]]]])
    s = st.fire(u, 1.0, None)
    assert s.flatten().tolist() == [0.0, 1.0, 1.0]
    assert st.set_where(u, s, -2.0).flatten().tolist() == [0.5, -2.0, -2.0]
    assert st.set_where(u, s, torch.tensor(0.25)).flatten().tolist() == [0.5, 0.25, 0.25]


def test_k_winners_tie_rule_lowest_feature_then_lowest_location():
    # maps 0..3 of one sample; maps 1 and 3 tie at 5.0 (map 1 has it at two places), map 2 has 9
    u = torch.zeros(1, 4, 2, 2)
    u[0, 1, 0, 1] = 5.0
    u[0, 1, 1, 0] = 5.0
    u[0, 3, 0, 0] = 5.0
    u[0, 2, 1, 1] = 9.0
    assert winners(u, 3)[0].tolist() == [[2, 1, 1], [1, 0, 1], [3, 0, 0]]
    # k = 1 path: among equal potentials the lowest feature wins
    u[0, 2] = 0.0
    assert winners(u, 1)[0].tolist() == [[1, 0, 1]]


def test_k_winners_marks_non_spiking_maps_invalid():
    u = torch.tensor([[[[2.0]], [[0.5]]]])
    assert winners(u, 2)[0].tolist() == [[0, 0, 0], [-1, -1, -1]]


def test_k_winners_of_maps_without_neurons_are_empty():
    u = torch.zeros(2, 3, 0, 4)
    assert st.k_winners(u, fire(u), 2, True, 1.0, 4e6, True) is None
    assert winners(u, 2).tolist() == [[[-1, -1, -1]] * 2] * 2


@pytest.mark.parametrize("mode,expected", [
    ("feature", [[2, 2], [0, 0]]),           # map 0 inhibited everywhere
    ("location", [[2, 0], [2, 0]]),          # location (0, 0) in every map
    ("layer", [[2, 2], [2, 2]]),
    ("neuron", [[2, 0], [0, 2]]),            # the neurons that spiked
])
def test_inhibit_modes(mode, expected):
    # one sample, 2 maps of 1x2; winner: map 0 at location 0; neuron (1, 0, 1) spiked too
    r = torch.tensor([[[[1.0, 0.0]], [[0.0, 0.0]]]])
    before = r.clone()
    spiked = torch.tensor([[[[1.0, 0.0]], [[0.0, 1.0]]]])
    win = st.Winners(torch.tensor([[0]]), torch.tensor([[True]]), torch.tensor([[0]]))
    got = st.inhibit(r, spiked, win, mode, 2.0, (1, 2, 1, 2))
    assert got.expand(1, 2, 1, 2).reshape(2, 2).tolist() == expected
    assert torch.equal(r, before)  # a pure stage: the counter it was given is untouched


def test_inhibit_without_winners_counts_down():
    r = torch.tensor([[[[2.0, 0.0]]]])
    assert st.inhibit(r, torch.zeros_like(r), None, "feature", 2.0, (1, 1, 1, 2)).flatten().tolist() == [1.0, 0.0]


# ----------------------------------------------------------------------------- declarations, registry
@pytest.mark.parametrize("name", list(sn.MODELS))
def test_declared_defaults_match_constructor_signatures(name):
    """The constructor is derived from the declaration: every declared parameter it accepts
    defaults to its declared default (or the model's DEFAULTS override)."""
    cls = sn.MODELS[name].cls
    sig = inspect.signature(cls).parameters
    assert list(sig)[:len(cls.SIGNATURE)] == list(cls.SIGNATURE)
    for p in cls.all_params():
        if p.name in sig and p.name not in getattr(cls, "ALIASES", {}).values():
            assert sig[p.name].default == cls.DEFAULTS.get(p.name, p.default), (cls.__name__, p.name)


def test_registry_covers_every_exported_layer_and_builds():
    layers = {n for n in sn.__all__ if isinstance(getattr(sn, n), type) and issubclass(getattr(sn, n), sn.Neuron)}
    layers -= {"Neuron", "HeterogeneousNeuron"}
    assert layers == set(sn.MODELS)
    for name, make in sn.all_models(n_features=2).items():
        layer = make()
        assert type(layer).__name__ == name and sn.MODELS[name].input_scale > 0


def test_params_and_public_accessors():
    layer = sn.AdEx(threshold=10.0, a=0.3)
    assert float(layer.param("a")) == 0.3 and "tau_w" in layer.param_names
    assert layer.has_second_variable and not sn.LIF(threshold=1.0).has_second_variable
    assert layer.reset_potential == 0.0 and layer.effective_threshold == 10.0
    with pytest.raises(ValueError, match="no parameter"):
        layer.param("nope")
    with pytest.raises(ValueError, match="beta"):
        sn.AdaptiveLIF(threshold=1.0, beta=-1.0)
    with pytest.raises(ValueError, match="b must be < 0"):
        sn.ResonateAndFire(b=1.0)


# ----------------------------------------------------------------------------- ResonateAndFire
def test_resonate_and_fire_damped_oscillation_closed_form():
    ts, b, omega, q = 1e-3, -5.0, 2 * math.pi * 10.0, 0.3
    layer = sn.ResonateAndFire(threshold=None, b=b, omega=omega, ts=ts)
    ys = [layer.step(torch.full((1, 1, 1, 1), q / ts, dtype=torch.float64)).potentials.item()]
    for _ in range(250):
        ys.append(layer.step(torch.zeros(1, 1, 1, 1, dtype=torch.float64)).potentials.item())
    # a kick q of x at the start of step 0: y after step n is q e^{b t} sin(w t), t = (n + 1) ts
    for n, y in enumerate(ys):
        t = (n + 1) * ts
        assert y == pytest.approx(q * math.exp(b * t) * math.sin(omega * t), abs=1e-12)
    # the subthreshold oscillation has period 2 pi / omega: sign changes every half period
    crossings = [n for n in range(1, len(ys)) if ys[n - 1] > 0 >= ys[n] or ys[n - 1] < 0 <= ys[n]]
    assert crossings[:4] == [49, 99, 149, 199]


def test_resonate_and_fire_matches_scipy():
    scipy_integrate = pytest.importorskip("scipy.integrate")
    ts, b, omega, I = 1e-4, -8.0, 2 * math.pi * 5.0, 40.0
    layer = sn.ResonateAndFire(threshold=None, b=b, omega=omega, ts=ts)
    x = torch.full((1, 1, 1, 1), I, dtype=torch.float64)
    n = 1500
    ys = [layer.step(x).potentials.item() for _ in range(n)]

    def f(t, s):
        return [b * s[0] - omega * s[1] + I, omega * s[0] + b * s[1]]

    sol = scipy_integrate.solve_ivp(f, (0, n * ts), [0.0, 0.0], t_eval=[n * ts], rtol=1e-10, atol=1e-12)
    # constant input as kicks of ts*I: the exact solution of the ODE to O(ts)
    assert ys[-1] == pytest.approx(sol.y[1, -1], rel=2e-3)


def test_resonate_and_fire_resonance():
    ts, q = 1e-3, 1.0
    period = 100  # 2 pi / omega in steps for omega = 2 pi 10 rad/s

    def spikes_for(gap: int) -> float:
        layer = sn.ResonateAndFire(threshold=1.0, b=-5.0, ts=ts)
        total = 0.0
        for n in range(400):
            drive = q / ts if n in (0, gap) else 0.0
            total += layer.step(torch.full((1, 1, 1, 1), drive, dtype=torch.float64)).spikes.sum().item()
        return total

    assert spikes_for(10 ** 6) == 0.0          # one pulse: subthreshold
    assert spikes_for(period) > 0.0            # two pulses one period apart: resonance
    assert spikes_for(period // 2) == 0.0      # half a period apart: they cancel


def test_resonate_and_fire_resets_x_and_y():
    layer = sn.ResonateAndFire(threshold=0.5, x_reset=0.25, v_reset=-0.1)
    o = layer.step(torch.full((1, 1, 1, 1), 1e5, dtype=torch.float64))
    assert o.spikes.item() > 0 and o.potentials.item() == -0.1
    assert layer.get_state()["w"].item() == 0.25


def test_uniform_resonate_and_fire_uses_sampled_damping():
    layer = sn.UniformResonateAndFire(threshold=None, tau_range=(0.1, 0.5), seed=1, n_features=3)
    assert torch.allclose(layer.param("b"), -1.0 / layer.taus)
    q, ts = 0.2, layer.ts
    x = torch.zeros(1, 3, 1, 1, dtype=torch.float64)
    layer.step(x + q / ts)
    for _ in range(30):
        y = layer.step(x).potentials
    t = 31 * ts
    expected = q * torch.exp(-t / layer.taus.view(3)) * math.sin(2 * math.pi * 10.0 * t)
    assert torch.allclose(y.view(3), expected, atol=1e-12)


# ----------------------------------------------------------------------------- AdaptiveLIF
def test_adaptive_lif_intervals_lengthen_and_match_closed_form():
    brentq = pytest.importorskip("scipy.optimize").brentq
    ts, tau, C, thr, beta, tau_a, I = 1e-4, 0.02, 0.281, 10.0, 4.0, 0.2, 400.0
    layer = sn.AdaptiveLIF(threshold=thr, tau_rc=tau, ts=ts, C=C, beta=beta, tau_adapt=tau_a,
                           refractory_timesteps=0, inhibition_mode="none")
    x = torch.full((1, 1, 1, 1), I, dtype=torch.float64)
    times = [n for n in range(6000) if layer.step(x).spikes.item() > 0]
    isis = [b - a for a, b in zip(times, times[1:])]
    assert len(isis) >= 4 and all(b >= a for a, b in zip(isis, isis[1:])) and isis[-1] > isis[0]
    # closed form between spikes: u(t) = R I (1 - e^{-t/tau}) reaches thr + beta a0 e^{-t/tau_a}
    RI = tau / C * I
    a = 0.0
    prev = -1
    for n_spike in times[:5]:
        def g(t):
            return RI * (1 - math.exp(-t / tau)) - thr - beta * a * math.exp(-t / tau_a)
        t_star = brentq(g, 1e-9, 1.0)
        assert abs((n_spike - prev) - t_star / ts) <= 2.0
        a = a * math.exp(-(n_spike - prev) * ts / tau_a) + 1.0
        prev = n_spike


def test_adaptive_lif_with_beta_zero_is_lif():
    xs = [torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(i)) * 2000 for i in range(8)]
    a, b = sn.AdaptiveLIF(threshold=10.0, beta=0.0), sn.LIF(threshold=10.0)
    for x in xs:
        oa, ob = a.step(x, n_winners=2), b.step(x, n_winners=2)
        assert torch.equal(oa.spikes, ob.spikes) and torch.equal(oa.potentials, ob.potentials)
        assert torch.equal(oa.winners, ob.winners)


def test_uniform_adaptive_lif_samples_tau_rc():
    layer = sn.UniformAdaptiveLIF(threshold=10.0, tau_range=(0.01, 0.05), seed=0, n_features=2)
    assert layer.taus.shape == (2, 1, 1)
    assert torch.equal(layer.param("tau_rc"), layer.taus)


def test_rhs_of_new_models_is_what_ode_reads():
    rf = sn.ResonateAndFire(b=-3.0, omega=7.0)
    assert rf.ode(0.5, 2.0, w=0.25).item() == pytest.approx(7.0 * 0.25 - 3.0 * 0.5)
    assert rf.ode_w(0.5, 0.25, I=2.0).item() == pytest.approx(-3.0 * 0.25 - 7.0 * 0.5 + 2.0)
    al = sn.AdaptiveLIF(threshold=1.0, tau_adapt=0.5)
    assert al.ode_w(0.0, 2.0).item() == pytest.approx(-4.0)


# ----------------------------------------------------------------------------- membrane noise
@pytest.mark.parametrize("ts", [1e-4, 4e-4])
def test_noise_variance_scales_with_ts(ts):
    sigma = 3.0
    layer = sn.IF(threshold=None, ts=ts, noise_std=sigma, clamp_at_rest=False,
                  noise_generator=torch.Generator().manual_seed(0))
    x = torch.zeros(1, 4, 50, 50, dtype=torch.float64)
    n = 25
    for _ in range(n):
        v = layer.step(x).potentials
    # a Wiener process: after n steps the variance is sigma^2 n ts (10000 samples: 3 % tolerance)
    assert v.var().item() == pytest.approx(sigma ** 2 * n * ts, rel=0.05)
    assert abs(v.mean().item()) < 4 * sigma * math.sqrt(n * ts / v.numel())


def test_noise_is_reproducible_off_by_default_and_validated():
    def run(seed):
        layer = sn.LIF(threshold=10.0, noise_std=50.0, noise_generator=torch.Generator().manual_seed(seed))
        return [layer.step(torch.full((1, 2, 3, 3), 500.0)).potentials for _ in range(5)]

    a, b, c = run(1), run(1), run(2)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, c))
    quiet, plain = sn.LIF(threshold=10.0), sn.LIF(threshold=10.0, noise_std=0.0)
    x = torch.full((1, 2, 3, 3), 500.0)
    assert torch.equal(quiet.step(x).potentials, plain.step(x).potentials)
    with pytest.raises(ValueError, match="noise_std"):
        sn.LIF(threshold=1.0, noise_std=-1.0)
    with pytest.raises(TypeError, match="noise_generator"):
        sn.LIF(threshold=1.0, noise_generator=3)
    for spec in sn.MODELS.values():  # every layer takes the parameter
        assert spec.cls(threshold=1.0, noise_std=2.0).noise_std == 2.0, spec.name


# ----------------------------------------------------------------------------- traits and construction
def test_model_traits_are_one_typed_declaration_per_class():
    assert sn.LIF.TRAITS == sn.ModelTraits()
    assert sn.AdEx.TRAITS.ts_below == ("tau_rc", "tau_w") and sn.AdEx.TRAITS.second_variable
    assert sn.EIF_Simple.TRAITS.potentials_before_reset and sn.EIF_Simple.TRAITS.spike_amplitude == "1"
    assert not sn.EIF.TRAITS.potentials_before_reset  # a derived declaration leaves its parent alone
    with pytest.raises(ValueError, match="spike_amplitude"):
        sn.ModelTraits(spike_amplitude="2")
    with pytest.raises(TypeError, match="ts_below"):
        sn.ModelTraits(ts_below="tau_rc")
    with pytest.raises(AttributeError):
        sn.LIF.TRAITS.capped = True  # frozen


def test_a_model_declaring_a_second_variable_needs_its_step():
    class Broken(sn.LIF):  # declares w, but its rhs gives no dw/dt
        TRAITS = sn.ModelTraits(second_variable=True)
    with pytest.raises(TypeError, match="second variable"):
        Broken(threshold=1.0).step(torch.ones(1, 1, 1, 1))
    with pytest.raises(TypeError, match="TRAITS"):
        class Untyped(sn.LIF):  # noqa: F841
            TRAITS = {"capped": True}


def test_euler_limit_is_checked_for_every_declared_time_constant_at_any_time():
    with pytest.raises(ValueError, match="tau_w"):
        sn.AdEx(threshold=1.0, tau_w=0.0005, ts=0.001)
    layer = sn.AdEx(threshold=1.0)
    with pytest.raises(ValueError, match="tau_w"):
        layer.tau_w = 0.001           # on a change after construction too
    with pytest.raises(ValueError, match="tau_rc"):
        layer.ts = 0.05
    # before its time constants are sampled, a heterogeneous layer still checks the others
    with pytest.raises(ValueError, match="tau_w"):
        sn.UniformAdEx(threshold=1.0, tau_w=0.0005, ts=0.001)
    sn.UniformEIF(threshold=1.0, tau_range=(2.0, 3.0), ts=1.5)  # ts above 1 s but below every tau


# ----------------------------------------------------------------------------- each equation once
@pytest.mark.parametrize("name", ["IF", "LIF_ode", "LIF_Simple", "EIF", "EIF_Simple", "QIF", "AdEx", "Izhikevich"])
def test_hand_fused_euler_step_is_u_plus_ts_times_rhs(name):
    """The forward-Euler models keep a hand-fused step for speed (see benchmarks/neuron_step.py,
    "derived" columns); it must be the step derived from the one right-hand side: every neuron,
    random state u (and w) and input, no floor, no spike."""
    g = torch.Generator().manual_seed(31)
    thr = 1e6
    extra = {"EIF": dict(theta_rh=3.0), "EIF_Simple": dict(theta_rh=3.0), "AdEx": dict(theta_rh=3.0),
             "QIF": dict(u_c=2.0, a=0.5)}.get(name, {})  # the nonlinear terms matter in [0, 4]
    layer = getattr(sn, name)(threshold=thr, clamp_at_rest=False, inhibition_mode="none", **extra)
    base = -65.0 if name == "Izhikevich" else 0.0
    u0 = base + 4.0 * torch.rand(2, 3, 4, 4, generator=g, dtype=torch.float64)
    w0 = torch.rand(2, 3, 4, 4, generator=g, dtype=torch.float64) * 3.0
    I = (torch.rand(2, 3, 4, 4, generator=g, dtype=torch.float64) - 0.3) * (20.0 if name == "Izhikevich" else 500.0)
    layer.load_state({"v": u0, "w": w0})
    got = layer.step(I, n_winners=0).potentials
    expected = u0 + layer.ts * layer.ode(u0, I, w=w0 if layer.has_second_variable else None)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
