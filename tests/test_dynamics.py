"""Neuron dynamics against closed forms and an independent integration of each ODE.

The equations are written out again here, from the papers, rather than taken from
the package, and integrated with scipy's adaptive Runge-Kutta (or, for the discrete
``_Simple`` maps, with a plain float64 loop).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

import spyketorch.neurons as sn

D = torch.float64


def const(value: float, shape=(1, 1, 1, 1)) -> torch.Tensor:
    return torch.full(shape, value, dtype=D)


def trace(layer: sn.Neuron, x: torch.Tensor, steps: int):
    us, ws, spikes = [], [], []
    for _ in range(steps):
        o = layer.step(x)
        us.append(o.potentials.clone())
        spikes.append(o.spikes.clone())
        if layer.w is not None:
            ws.append(layer.w.clone())
    return torch.stack(us), (torch.stack(ws) if ws else None), torch.stack(spikes)


def ivp(rhs, y0, t_end, t_eval):
    sol = solve_ivp(rhs, (0.0, t_end), y0, t_eval=t_eval, rtol=1e-10, atol=1e-12, method="RK45")
    assert sol.success
    return sol.y


# ----------------------------------------------------------------------------- closed forms
def test_if_reaches_threshold_after_ceil_steps():
    ts, C, I, thr = 0.001, 0.25, 100.0, 1.9  # +0.4 per step -> spike on step 5
    layer = sn.IF(threshold=thr, ts=ts, C=C, refractory_timesteps=0)
    us, _, spikes = trace(layer, const(I), 12)
    fired = spikes.flatten().nonzero().flatten().tolist()
    n_star = math.ceil(thr * C / (ts * I))
    assert fired[0] == n_star - 1
    # after each reset it needs n_star steps again
    assert fired == list(range(n_star - 1, 12, n_star))
    assert us[0].item() == pytest.approx(ts * I / C)


@pytest.mark.parametrize("rest", [0.0, -0.5])
def test_lif_decay_is_exact_exponential(rest):
    tau, ts, u0 = 0.02, 0.001, 3.0
    layer = sn.LIF(threshold=100.0, tau_rc=tau, ts=ts, resting_potential=rest)
    layer.load_state({"v": const(u0)})
    us, _, _ = trace(layer, const(0.0), 50)
    n = torch.arange(1, 51, dtype=D)
    expected = rest + (u0 - rest) * torch.exp(-n * ts / tau)
    torch.testing.assert_close(us.flatten(), expected, rtol=1e-12, atol=1e-12)


def test_lif_resets_after_spike():
    layer = sn.LIF(threshold=1.0, refractory_timesteps=0)
    o = layer.step(const(1000.0))
    assert o.spikes.item() == 1000.0 and o.potentials.item() == 0.0


def _discrete_lif_period(I, tau, ts, C, thr):
    a, k = math.exp(-ts / tau), ts / C
    n, u = 0, 0.0
    while True:
        n += 1
        u = u * a + k * I
        if u >= thr:
            return n


def test_lif_firing_rate_matches_analytic_rate():
    tau, ts, C, thr, R = 0.02, 0.0001, 0.281, 10.0, 20
    currents = torch.linspace(200.0, 1500.0, 14, dtype=D)
    layer = sn.LIF(threshold=thr, tau_rc=tau, ts=ts, C=C, refractory_timesteps=R, inhibition_mode="neuron")
    x = currents.view(1, 1, 1, -1)
    T = 20000
    count = torch.zeros_like(currents)
    for _ in range(T):
        count += layer.step(x, n_winners=0).spikes.flatten() * ts
    Rm = tau / C
    for I, cnt in zip(currents.tolist(), count.tolist()):
        if Rm * I <= thr * 1.02:
            assert cnt <= 1  # at (or just above) rheobase: no steady firing
            continue
        # exact count for the discrete scheme
        n_star = _discrete_lif_period(I, tau, ts, C, thr)
        expected = (T - n_star) // (n_star + R) + 1
        assert cnt == expected
        # continuous-time LIF rate: 1 / (t_ref + tau ln(RI / (RI - theta)))
        rate = 1.0 / (R * ts + tau * math.log(Rm * I / (Rm * I - thr)))
        assert cnt / (T * ts) == pytest.approx(rate, rel=0.05)


def test_lif_ode_is_forward_euler_and_close_to_exact():
    tau, ts, C, I, rest = 0.02, 0.0002, 0.281, 200.0, -1.0
    layer = sn.LIF_ode(threshold=1e6, tau_rc=tau, ts=ts, C=C, resting_potential=rest)
    us, _, _ = trace(layer, const(I), 200)
    u, ref = rest, []
    for _ in range(200):
        u = u + ts * ((rest - u) / tau + I / C)
        ref.append(u)
    torch.testing.assert_close(us.flatten(), torch.tensor(ref, dtype=D), rtol=1e-12, atol=1e-12)
    t = ts * np.arange(1, 201)
    exact = rest + tau * I / C * (1 - np.exp(-t / tau))
    # forward Euler's error is O(ts/tau) of the amplitude tau I / C
    np.testing.assert_allclose(us.flatten().numpy(), exact, rtol=0, atol=0.005 * tau * I / C)


# ----------------------------------------------------------------------------- independent ODEs
def test_eif_matches_scipy_below_and_above_rheobase():
    tau, ts, C, d, thr = 0.02, 0.00005, 0.281, 0.5, 10.0
    theta = thr - abs(thr) / 4
    # rheobase: the minimum of -u + d exp((u - theta)/d) + R I (at u = theta) is
    # positive, i.e. no fixed point, when R I > theta - d
    rheobase = (theta - d) * C / tau  # 98.35

    def rhs_for(I):
        def rhs(t, y):
            return [(-(y[0]) + d * math.exp((y[0] - theta) / d) + tau / C * I) / tau]
        return rhs

    # below rheobase: no spike, and the whole trace follows the ODE
    for I, steps in [(25.0, 800), (45.0, 2000)]:
        assert I < rheobase
        layer = sn.EIF(threshold=thr, tau_rc=tau, ts=ts, C=C, delta_t=d, refractory_timesteps=0)
        us, _, spikes = trace(layer, const(I), steps)
        assert spikes.sum() == 0
        t_eval = ts * np.arange(1, steps + 1)
        y = ivp(rhs_for(I), [0.0], t_eval[-1], t_eval)[0]
        np.testing.assert_allclose(us.flatten().numpy(), y, rtol=5e-3, atol=1e-3)

    # above rheobase: the first spike comes when the exact solution reaches threshold
    I = 150.0
    assert I > rheobase
    layer = sn.EIF(threshold=thr, tau_rc=tau, ts=ts, C=C, delta_t=d, refractory_timesteps=0)
    _, _, spikes = trace(layer, const(I), 1000)
    fired = spikes.flatten().nonzero().flatten()
    assert len(fired) > 0

    def hit(t, y):
        return y[0] - thr
    hit.terminal = True
    sol = solve_ivp(rhs_for(I), (0, 1.0), [0.0], events=hit, rtol=1e-10, atol=1e-12)
    assert sol.success and len(sol.t_events[0]) == 1
    t_spike = sol.t_events[0][0]  # about 30.7 ms
    assert abs((int(fired[0]) + 1) * ts - t_spike) <= 3 * ts


def test_qif_matches_scipy_subthreshold():
    tau, ts, C, a, thr, uc = 0.02, 0.0001, 0.281, 0.5, 10.0, 7.5
    I = 30.0  # R I = 2.14 < a uc^2 / 4 = 7.03: relaxes to a stable fixed point
    layer = sn.QIF(threshold=thr, tau_rc=tau, ts=ts, C=C, a=a, u_c=uc)
    us, _, spikes = trace(layer, const(I), 1000)
    assert spikes.sum() == 0

    def rhs(t, y):
        return [(a * y[0] * (y[0] - uc) + tau / C * I) / tau]

    t_eval = ts * np.arange(1, 1001)
    y = ivp(rhs, [0.0], t_eval[-1], t_eval)[0]
    np.testing.assert_allclose(us.flatten().numpy(), y, rtol=5e-3, atol=1e-3)
    # fixed point of a u (u - uc) + R I = 0 (lower root)
    RI = tau / C * I
    u_star = (uc - math.sqrt(uc * uc - 4 * RI / a)) / 2
    assert us[-1].item() == pytest.approx(u_star, rel=1e-3)


def test_adex_matches_scipy_and_adapts():
    tau, ts, C, d, a, b, tw, thr = 0.02, 0.0001, 0.281, 0.5, 0.6, 0.7, 0.2, 10.0
    theta = thr - abs(thr) / 4
    R = tau / C
    I = 80.0
    layer = sn.AdEx(threshold=thr, tau_rc=tau, ts=ts, C=C, delta_t=d, a=a, b=b, tau_w=tw)
    us, ws, spikes = trace(layer, const(I), 1500)
    assert spikes.sum() == 0

    def rhs(t, y):
        u, w = y
        return [(-u + d * math.exp((u - theta) / d) - R * w + R * I) / tau, (a * u - w) / tw]

    t_eval = ts * np.arange(1, 1501)
    y = ivp(rhs, [0.0, 0.0], t_eval[-1], t_eval)
    np.testing.assert_allclose(us.flatten().numpy(), y[0], rtol=5e-3, atol=1e-3)
    # w is advanced from the updated u (as the reference does): an O(ts) lead
    np.testing.assert_allclose(ws.flatten().numpy(), y[1], rtol=0, atol=2e-3 * float(y[1].max()))
    # suprathreshold: spike-triggered adaptation lengthens the inter-spike intervals
    layer = sn.AdEx(threshold=thr, a=0.0, b=5.0, tau_w=0.1, ts=ts, refractory_timesteps=0)
    _, _, spikes = trace(layer, const(300.0), 5000)
    t = spikes.flatten().nonzero().flatten()
    isi = (t[1:] - t[:-1]).tolist()
    assert len(isi) > 10 and isi[-1] > isi[0]


def test_izhikevich_matches_scipy_and_rests_at_fixed_point():
    ts = 0.0001
    layer = sn.Izhikevich(ts=ts)
    assert layer.resting_potential.item() == pytest.approx(-70.0)
    us, ws, _ = trace(layer, const(0.0), 200)
    torch.testing.assert_close(us.flatten(), torch.full((200,), -70.0, dtype=D), rtol=0, atol=1e-9)
    torch.testing.assert_close(ws.flatten(), torch.full((200,), -14.0, dtype=D), rtol=0, atol=1e-9)
    a, b, I = 0.02, 0.2, 1.0  # below the ~1.6 that makes v escape before u catches up
    layer = sn.Izhikevich(ts=ts)
    us, ws, spikes = trace(layer, const(I), 3000)
    assert spikes.sum() == 0

    def rhs(t, y):  # t in ms
        v, u = y
        return [0.04 * v * v + 5 * v + 140 - u + I, a * (b * v - u)]

    t_eval = 1000 * ts * np.arange(1, 3001)
    y = ivp(rhs, [-70.0, -14.0], t_eval[-1], t_eval)
    np.testing.assert_allclose(us.flatten().numpy(), y[0], atol=0.05)
    np.testing.assert_allclose(ws.flatten().numpy(), y[1], atol=0.01)
    # suprathreshold: first spike time agrees with the exact solution
    layer = sn.Izhikevich(ts=ts, refractory_timesteps=0)
    _, _, spikes = trace(layer, const(10.0), 1000)
    first = int(spikes.flatten().nonzero()[0]) + 1

    def rhs10(t, y):
        v, u = y
        return [0.04 * v * v + 5 * v + 140 - u + 10.0, a * (b * v - u)]

    def hit(t, y):
        return y[0] - 30.0
    hit.terminal = True
    sol = solve_ivp(rhs10, (0, 200.0), [-70.0, -14.0], events=hit, rtol=1e-10, atol=1e-12)
    assert abs(first * ts * 1000 - sol.t_events[0][0]) < 0.5  # ms


def test_izhikevich_honours_the_time_step():
    """The first Euler step from rest is dt (ms) times dv/dt (the reference stepped 1 ms whatever ts was)."""
    x = const(5.0)
    for ts in (0.001, 0.0005, 0.0001):
        layer = sn.Izhikevich(ts=ts)
        dv = layer.step(x).potentials.item() - (-70.0)
        assert dv == pytest.approx(1000 * ts * 5.0, rel=1e-9)  # dv/dt at the fixed point is I


def _isis(preset: str, I: float = 10.0, steps: int = 5000, ts: float = 0.0001):
    layer = sn.Izhikevich.preset(preset, ts=ts, refractory_timesteps=0)
    _, _, spikes = trace(layer, const(I), steps)
    t = spikes.flatten().nonzero().flatten() * ts * 1000
    return (t[1:] - t[:-1]).tolist()


def test_izhikevich_presets_fire_like_the_paper():
    rs, ib, ch, fs = (_isis(p) for p in ("regular_spiking", "intrinsically_bursting", "chattering", "fast_spiking"))
    assert rs[0] < 0.6 * rs[-1]                      # adaptation
    assert ib[0] < 5 and ib[1] < 5 and min(ib[3:]) > 20  # initial burst, then tonic spiking
    assert sum(i < 5 for i in ch) > 10 and sum(i > 30 for i in ch) >= 3  # repeated bursts
    assert len(fs) > 2 * len(rs) and max(fs[2:]) < 10   # fast tonic spiking
    layer = sn.Izhikevich.preset("chattering")
    assert layer.c.item() == -50.0 and layer.d.item() == 2.0
    with pytest.raises(ValueError, match="preset"):
        sn.Izhikevich.preset("bursting_fast")


def test_izhikevich_reset_is_c_and_recovery_jumps_by_d():
    layer = sn.Izhikevich(c=-60.0, d=3.0, refractory_timesteps=0)
    o = layer.step(const(1000.0))
    assert o.spikes.item() > 0 and o.potentials.item() == -60.0
    w_before = -14.0
    assert layer.w.item() > w_before + 3.0 - 1.0


# ----------------------------------------------------------------------------- discrete maps
@pytest.mark.parametrize("rest", [0.0, 2.0])
def test_lif_simple_map_decays_toward_rest(rest):
    tau, ts = 0.02, 0.001
    layer = sn.LIF_Simple(threshold=100.0, tau_rc=tau, ts=ts, resting_potential=rest)
    layer.load_state({"v": const(7.0)})
    xs = [0.0] * 5 + [1.5] * 5
    got = [layer.step(const(x)).potentials.item() for x in xs]
    u, ref = 7.0, []
    for x in xs:
        u = rest + (u - rest) * (1 - ts / tau) + x
        ref.append(u)
    np.testing.assert_allclose(got, ref, rtol=1e-13)
    layer.reset()
    layer.load_state({"v": const(7.0)})
    for _ in range(400):
        o = layer.step(const(0.0))
    assert o.potentials.item() == pytest.approx(rest, abs=1e-6)


def test_eif_simple_map_and_pre_reset_potentials():
    tau, ts, d, thr, rest = 0.02, 0.001, 0.5, 5.0, 1.0
    theta = thr - abs(thr) / 4
    layer = sn.EIF_Simple(threshold=thr, tau_rc=tau, ts=ts, delta_t=d, resting_potential=rest,
                          refractory_timesteps=0)
    xs = [0.4] * 12
    got = []
    for x in xs:
        got.append(layer.step(const(x)).potentials.item())
    u, ref = rest, []
    for x in xs:
        u = rest + (u - rest) * (1 - ts / tau) + d * math.exp((u - theta) / d) + x
        ref.append(u)
        if u >= thr:
            u = rest
    assert any(r >= thr for r in ref)
    np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_euler_steps_equal_the_ode_right_hand_side():
    """For the Euler models one step is exactly u + ts * ode(u, I) (before clamping)."""
    u0, I = 3.0, 50.0
    for layer in (sn.LIF_ode(threshold=1e6), sn.EIF(threshold=1e6, theta_rh=4.0), sn.QIF(threshold=1e6, u_c=2.0),
                  sn.LIF_Simple(threshold=1e6), sn.EIF_Simple(threshold=1e6, theta_rh=4.0)):
        layer.load_state({"v": const(u0)})
        got = layer.step(const(I)).potentials.item()
        expected = u0 + layer.ts * layer.ode(u0, I).item()
        assert got == pytest.approx(expected, rel=1e-12), type(layer).__name__


# ----------------------------------------------------------------------------- heterogeneous
def test_uniform_layers_really_use_their_sampled_taus():
    ts = 0.001
    layer = sn.UniformLIF(threshold=100.0, tau_range=(0.005, 0.05), ts=ts, seed=0, n_features=4)
    taus = layer.taus.flatten()
    assert taus.shape == (4,) and torch.all((taus >= 0.005) & (taus <= 0.05))
    assert taus.unique().numel() == 4
    layer.load_state({"v": torch.ones(1, 4, 2, 2, dtype=D)})
    for _ in range(10):
        o = layer.step(torch.zeros(1, 4, 2, 2, dtype=D))
    expected = torch.exp(-10 * ts / taus).view(4, 1, 1).expand(4, 2, 2)
    torch.testing.assert_close(o.potentials[0], expected, rtol=1e-12, atol=0)
    # the Euler variants use them too: one step from u0 decays by (1 - ts/tau_c)
    for cls in (sn.UniformEIF, sn.UniformQIF, sn.UniformLIF_Simple, sn.UniformAdEx):
        het = cls(threshold=1e6, tau_range=(0.005, 0.05), ts=ts, seed=1, n_features=3, theta_rh=1e5) \
            if cls in (sn.UniformEIF, sn.UniformAdEx) else \
            cls(threshold=1e6, tau_range=(0.005, 0.05), ts=ts, seed=1, n_features=3)
        het.load_state({"v": torch.full((1, 3, 1, 1), 2.0, dtype=D)})
        u1 = het.step(torch.zeros(1, 3, 1, 1, dtype=D)).potentials.flatten()
        t = het.taus.flatten()
        if cls is sn.UniformQIF:
            exp_u = 2.0 + ts / t * 0.001 * 2.0 * (2.0 - 7.5e5)
            exp_u = exp_u.clamp(min=0.0)
        else:
            exp_u = 2.0 * (1 - ts / t)
        torch.testing.assert_close(u1, exp_u, rtol=1e-6, atol=1e-9)
        assert u1.unique().numel() == 3 or cls is sn.UniformQIF


def test_uniform_izhikevich_samples_recovery_time_constants():
    layer = sn.UniformIzhikevich(tau_range=(0.01, 0.1), seed=2, n_features=3)
    torch.testing.assert_close(layer.a.flatten(), 1 / (1000 * layer.taus.flatten()))
    fast = sn.UniformIzhikevich(tau_range=(0.01, 0.01), seed=0, n_features=1, refractory_timesteps=0, ts=0.0001)
    slow = sn.UniformIzhikevich(tau_range=(0.2, 0.2), seed=0, n_features=1, refractory_timesteps=0, ts=0.0001)
    n_fast = sum(fast.step(const(10.0)).spikes.item() > 0 for _ in range(5000))
    n_slow = sum(slow.step(const(10.0)).spikes.item() > 0 for _ in range(5000))
    assert n_fast != n_slow


def test_uniform_sampling_is_reproducible_and_lazy():
    a = sn.UniformEIF(threshold=10.0, tau_range=(0.01, 0.05), seed=7)
    assert a.taus is None
    a.step(torch.rand(1, 6, 3, 3))
    b = sn.UniformEIF(threshold=10.0, tau_range=(0.01, 0.05), generator=torch.Generator().manual_seed(7))
    b.step(torch.rand(1, 6, 3, 3))
    assert torch.equal(a.taus, b.taus) and a.taus.shape == (6, 1, 1)
    torch.manual_seed(0)
    c = sn.UniformQIF(threshold=10.0, tau_range=(0.01, 0.05), n_features=6)
    torch.manual_seed(0)
    d = sn.UniformQIF(threshold=10.0, tau_range=(0.01, 0.05), n_features=6)
    assert torch.equal(c.taus, d.taus)
    a.reset()
    assert a.taus is not None  # reset keeps sampled parameters
    old = a.taus.clone()
    a.resample()
    assert not torch.equal(old, a.taus)
    assert "tau_rc" in a.state_dict()
