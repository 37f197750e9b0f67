"""FFIAF against the closed-form first spike of a leaky integrator (with and without
refractoriness) and the Ornstein-Uhlenbeck variance of its membrane noise."""
import math

import pytest
import torch

from spyketorch.systems.iaf import FFIAF


def _first_spike_steps(v0, v_inf, thr, tau, dt):
    """Exact solution v(t) = v_inf + (v0 - v_inf) e^{-t/tau}: the first step whose end is past the crossing."""
    t_star = tau * math.log((v_inf - v0) / (v_inf - thr))
    k = t_star / dt
    assert abs(k - round(k)) > 1e-3, "choose parameters away from a step boundary"
    return math.ceil(k)


def _layer(currents, **kw):
    N = len(currents)
    params = dict(bias=0.0, dt=1e-4, tau_mem=torch.tensor([0.02, 0.01, 0.03], dtype=torch.float64)[:N],
                  v_thresh=-0.055, v_reset=-0.065, v_rest=torch.tensor([-0.065, -0.07, -0.06],
                                                                        dtype=torch.float64)[:N])
    params.update(kw)
    return FFIAF(torch.diag(torch.tensor(currents, dtype=torch.float64)), **params)


def test_first_spike_time_without_refractoriness():
    currents = [0.0237, 0.0311, 0.0119]
    layer = _layer(currents)
    T = 400
    out = layer.evolve(torch.ones(T, 3, dtype=torch.float64))
    for i, I in enumerate(currents):
        tau, rest = float(layer.tau_mem[i]), float(layer.v_rest[i])
        k = _first_spike_steps(-0.065, rest + I, -0.055, tau, 1e-4)
        spikes = out.spikes[:, i].nonzero().flatten()
        assert int(spikes[0]) == k - 1
        # no refractoriness: reset to v_reset and integrate again, so the train is periodic
        assert torch.equal(spikes, torch.arange(k - 1, T, k))
    assert torch.allclose(out.times[:3], torch.tensor([1e-4, 2e-4, 3e-4], dtype=torch.float64))


def test_first_spike_time_with_refractoriness():
    currents = [0.0237, 0.0311, 0.0119]
    refr = torch.tensor([0.0, 0.0025, 0.0041], dtype=torch.float64)  # 0, 25, 41 steps
    layer = _layer(currents, refractory=refr)
    T = 500
    out = layer.evolve(torch.ones(1, T, 3, dtype=torch.float64), record=True)
    for i, I in enumerate(currents):
        tau, rest = float(layer.tau_mem[i]), float(layer.v_rest[i])
        k = _first_spike_steps(-0.065, rest + I, -0.055, tau, 1e-4)
        n_ref = int(round(float(refr[i]) / 1e-4))
        spikes = out.spikes[0, :, i].nonzero().flatten()
        assert torch.equal(spikes, torch.arange(k - 1, T, k + n_ref))
        # held at v_reset for the refractory steps after the first spike
        assert bool((out.v[0, k - 1:k + n_ref, i] == -0.065).all())
        if n_ref:
            assert float(out.v[0, k + n_ref, i]) > -0.065


def test_membrane_trace_between_spikes_is_the_exact_solution():
    layer = _layer([0.0237])
    out = layer.evolve(torch.ones(60, 1, dtype=torch.float64), record=True)
    t = torch.arange(1, 61, dtype=torch.float64) * 1e-4
    v_inf = -0.065 + 0.0237
    expected = v_inf + (-0.065 - v_inf) * torch.exp(-t / 0.02)
    torch.testing.assert_close(out.v[:, 0], expected, rtol=0, atol=1e-12)


def test_state_and_time_carry_over_between_evolve_calls():
    x = torch.rand(3, 200, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 0.05
    W = torch.tensor([[1.0, 0.3], [0.2, 0.8]], dtype=torch.float64)
    whole = FFIAF(W, bias=0.0, refractory=0.001).evolve(x, record=True)
    layer = FFIAF(W, bias=0.0, refractory=0.001)
    a = layer.evolve(x[:, :120], record=True)
    b = layer.evolve(x[:, 120:], record=True)
    assert torch.equal(torch.cat((a.spikes, b.spikes), 1), whole.spikes)
    assert torch.equal(torch.cat((a.v, b.v), 1), whole.v)
    assert layer.t == pytest.approx(0.02) and float(b.times[0]) == pytest.approx(121e-4)
    assert whole.spikes.sum() > 0
    # batch = one by one
    for i in range(3):
        one = FFIAF(W, bias=0.0, refractory=0.001).evolve(x[i], record=True)
        assert torch.equal(one.spikes, whole.spikes[i]) and torch.equal(one.v, whole.v[i])


def test_duration_with_bias_only():
    layer = FFIAF(torch.zeros(1, 2), bias=torch.tensor([0.0137, 0.0]), dt=1e-4, record=True)
    out = layer.evolve(duration=0.04)
    assert out.spikes.shape == (400, 2)
    k = _first_spike_steps(-0.065, -0.065 + 0.0137, -0.055, 0.02, 1e-4)
    assert int(out.spikes[:, 0].nonzero()[0]) == k - 1 and out.spikes[:, 1].sum() == 0


@pytest.mark.parametrize("dt", [1e-4, 1e-3])
def test_noise_variance_is_the_ou_variance_for_any_dt(dt):
    sigma, tau, n = 0.02, 0.02, 4000
    layer = FFIAF(torch.zeros(1, n), bias=0.0, dt=dt, noise_std=sigma, tau_mem=tau, v_thresh=1.0,
                  v_reset=-0.065, v_rest=-0.065, seed=0)
    one = layer.evolve(num_timesteps=1, record=True).v[0]
    # one step: variance sigma^2 tau/2 (1 - e^{-2 dt/tau}) ~ sigma^2 dt
    var1 = sigma ** 2 * tau / 2 * (1 - math.exp(-2 * dt / tau))
    assert one.double().var().item() == pytest.approx(var1, rel=0.1)
    assert var1 == pytest.approx(sigma ** 2 * dt, rel=0.06)
    # after 10 ms (total) the variance is sigma^2 tau/2 (1 - e^{-2t/tau}), whatever dt
    steps = int(round(0.01 / dt)) - 1
    v = layer.evolve(num_timesteps=steps, record=True).v[-1]
    var_t = sigma ** 2 * tau / 2 * (1 - math.exp(-2 * 0.01 / tau))
    assert v.double().var().item() == pytest.approx(var_t, rel=0.1)
    assert v.double().mean().item() == pytest.approx(-0.065, abs=4 * math.sqrt(var_t / n))


def test_noise_is_reproducible_with_a_seed():
    a = FFIAF(torch.zeros(1, 5), bias=0.0, noise_std=0.05, seed=3).evolve(num_timesteps=50, record=True)
    b = FFIAF(torch.zeros(1, 5), bias=0.0, noise_std=0.05,
              generator=torch.Generator().manual_seed(3)).evolve(num_timesteps=50, record=True)
    assert torch.equal(a.v, b.v)
    c = FFIAF(torch.zeros(1, 5), bias=0.0).evolve(num_timesteps=50, record=True)
    assert bool((c.v == -0.065).all())  # noise_std = 0 (the default): no change


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="weights"):
        FFIAF(torch.zeros(3))
    with pytest.raises(TypeError, match="weights"):
        FFIAF([[1.0]])
    with pytest.raises(ValueError, match="tau_mem"):
        FFIAF(torch.zeros(1, 2), tau_mem=-0.01)
    with pytest.raises(ValueError, match="noise_std"):
        FFIAF(torch.zeros(1, 2), noise_std=-1.0)
    with pytest.raises(ValueError, match="v_reset"):
        FFIAF(torch.zeros(1, 2), v_reset=-0.05)
    with pytest.raises(ValueError, match="refractory"):
        FFIAF(torch.zeros(1, 2), refractory=-0.001)
    with pytest.raises(ValueError, match="bias"):
        FFIAF(torch.zeros(1, 2), bias=torch.zeros(3))
    with pytest.raises(ValueError, match="dt"):
        FFIAF(torch.zeros(1, 2), dt=0.0)
    layer = FFIAF(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="inputs"):
        layer.evolve(torch.zeros(10, 4))
    with pytest.raises(TypeError, match="inputs"):
        layer.evolve(torch.zeros(10, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match="longer than inputs"):
        layer.evolve(torch.zeros(10, 2), num_timesteps=11)
    with pytest.raises(ValueError, match="not both"):
        layer.evolve(duration=0.01, num_timesteps=3)
    with pytest.raises(ValueError, match="give inputs"):
        layer.evolve()
