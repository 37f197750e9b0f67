"""RectifiedSAM: closed-form expected counts, Poisson statistics, the activation recursion,
winners, batching, simulate/save/load and gradient tuning to a target rate."""
import math

import pytest
import torch

from spyketorch.neurons import StepOutput
from spyketorch.systems.sam import RectifiedSAM
from spyketorch.analysis.simulation import simulate


def _mu(x, lambda_0, theta, dt, r, b):
    """Independent closed form of the expected count of one step."""
    return lambda_0 * dt * torch.clamp(r * x + b - theta, min=0.0)


def test_expected_count_is_the_rectified_closed_form():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    layer = RectifiedSAM(lambda_0=40.0, theta=0.3, tau=0.02, dt=0.002, r=1.5, b=0.2, seed=0)
    out = layer.step(x)
    assert isinstance(out, StepOutput)
    expected = _mu(x, 40.0, 0.3, 0.002, 1.5, 0.2)
    torch.testing.assert_close(layer.mu, expected, rtol=1e-12, atol=0)
    torch.testing.assert_close(layer.expected_count(x), expected, rtol=1e-12, atol=0)
    # no spikes where the drive is below threshold
    assert bool((out.spikes[expected == 0] == 0).all())


def test_poisson_mean_and_variance_equal_mu_within_sampling_error():
    layer = RectifiedSAM(lambda_0=150.0, theta=0.0, tau=0.01, dt=0.001, b=2.0, seed=3)
    x = torch.zeros(4, 2, 8, 8)
    mu = 150.0 * 0.001 * 2.0  # 0.3
    counts = torch.stack([layer.step(x, n_winners=0).spikes for _ in range(200)])
    n = counts.numel()
    mean = counts.double().mean().item()
    var = counts.double().var().item()
    assert abs(mean - mu) < 4 * math.sqrt(mu / n)
    # Poisson: variance equals the mean (sampling sd of the variance ~ sqrt((mu + 2 mu^2) / n))
    assert abs(var - mu) < 4 * math.sqrt((mu + 2 * mu * mu) / n)
    assert counts.max() >= 2  # counts, not 0/1 spikes


def test_activation_follows_its_recursion_from_the_sampled_counts():
    dt, tau = 0.001, 0.005
    layer = RectifiedSAM(lambda_0=300.0, theta=0.0, tau=tau, dt=dt, b=1.0, seed=1)
    x = torch.rand(2, 2, 3, 3, dtype=torch.float64)
    s = torch.zeros_like(x)
    for _ in range(30):
        out = layer.step(x)
        s_expected = s * (1 - dt / tau) + out.spikes * dt
        torch.testing.assert_close(out.potentials, s_expected, rtol=0, atol=1e-15)
        torch.testing.assert_close(out.dudt, s_expected - s, rtol=0, atol=1e-15)
        s = s_expected
    assert out.potentials.dtype == torch.float64 and layer.s.dtype == torch.float64


def test_same_seed_same_counts_and_generator_argument():
    x = torch.rand(1, 2, 5, 5) * 3
    a = RectifiedSAM(lambda_0=100.0, dt=0.001, seed=7)
    b = RectifiedSAM(lambda_0=100.0, dt=0.001, generator=torch.Generator().manual_seed(7))
    for _ in range(5):
        assert torch.equal(a.step(x).spikes, b.step(x).spikes)


def test_batch_equals_one_by_one_with_a_shared_generator():
    # CPU Poisson sampling draws element after element, so a batch equals its samples
    # stepped in order with one generator.
    torch.manual_seed(0)
    x = torch.rand(3, 2, 4, 4, dtype=torch.float64) * 2
    batch = RectifiedSAM(lambda_0=200.0, theta=0.5, dt=0.001, b=0.3, generator=torch.Generator().manual_seed(5))
    gen = torch.Generator().manual_seed(5)
    singles = [RectifiedSAM(lambda_0=200.0, theta=0.5, dt=0.001, b=0.3, generator=gen) for _ in range(3)]
    for _ in range(10):
        ob = batch.step(x, n_winners=2)
        outs = [layer.step(x[i:i + 1], n_winners=2) for i, layer in enumerate(singles)]
        for field in StepOutput._fields:
            assert torch.equal(getattr(ob, field), torch.cat([getattr(o, field) for o in outs])), field


def test_winners_are_the_spiking_neurons_with_the_largest_drive_one_per_map():
    layer = RectifiedSAM(lambda_0=1e5, theta=0.0, dt=0.001, r=1.0, b=0.0, seed=0)
    x = torch.zeros(1, 3, 2, 2)
    x[0, 0, 1, 0] = 5.0   # map 0: best at (1, 0)
    x[0, 0, 0, 1] = 4.0
    x[0, 1, 0, 0] = 9.0   # map 1: best overall
    x[0, 2] = -1.0        # map 2: nothing fires (mu = 0)
    out = layer.step(x, n_winners=3)
    assert out.winners.tolist() == [[[1, 0, 0], [0, 1, 0], [-1, -1, -1]]]
    ws = torch.zeros_like(x)
    ws[0, 1, 0, 0] = out.spikes[0, 1, 0, 0]
    ws[0, 0, 1, 0] = out.spikes[0, 0, 1, 0]
    assert torch.equal(out.winning_spikes, ws)
    torch.testing.assert_close(out.thresholded, x * (out.spikes > 0))
    spikes, potentials, winners = layer(x, n_winners=2)
    assert winners == [(1, 0, 0), (0, 1, 0)]


def test_own_stimulus_is_added_unscaled_and_follows_the_step_index():
    layer = RectifiedSAM(lambda_0=10.0, theta=0.0, dt=0.01, r=0.0, b=0.0,
                         stimulus=lambda t: float(t), seed=0)
    x = torch.full((1, 1, 1, 2), 100.0)
    for t in range(4):
        layer.step(x)
        torch.testing.assert_close(layer.mu, torch.full_like(x, 10.0 * 0.01 * t))
    layer.reset()
    layer.step(x)
    assert float(layer.mu.sum()) == 0.0


def test_simulate_drives_it_with_equilibration_stimulus_and_progress_bar():
    layer = RectifiedSAM(lambda_0=500.0, theta=0.0, tau=0.005, dt=0.001, r=1.0, b=-1.0, seed=2)
    x = torch.zeros(2, 3, 4, 4)
    stim = lambda t: torch.full((2, 3, 4, 4), 5.0 if t < 10 else 0.0)  # noqa: E731
    rec = simulate(layer, x, 30, stimulus=stim, equilibration_steps=5,
                   record=("spikes", "potentials"), progress=True)
    assert rec["spikes"].shape == (30, 2, 3, 4, 4) and rec["potentials"].shape == (30, 2, 3, 4, 4)
    assert layer.t == 35
    assert rec["spikes"][:10].sum() > 0          # mu = 0.5 * 4 = 2 per neuron and step
    assert rec["spikes"][10:].sum() == 0         # drive -1 < theta: mu = 0
    # recorded activations follow the recursion of the recorded counts (from the
    # activation left by the equilibration steps)
    s = rec["potentials"][0]
    for t in range(1, 30):
        s = s * (1 - 0.2) + rec["spikes"][t] * 0.001
        torch.testing.assert_close(rec["potentials"][t], s)
    # the step method as the network keeps everything on the device, winners included
    layer.reset()
    rec = simulate(layer.step, x + 5.0, 4, record=("spikes", "winners"), progress=False)
    assert rec["winners"].shape == (4, 2, 1, 3)


def test_save_and_load_continue_bit_identically(tmp_path):
    layer = RectifiedSAM(lambda_0=80.0, theta=0.1, tau=0.02, dt=0.001, r=0.7,
                         b=torch.linspace(0.5, 2.0, 3).reshape(3, 1, 1), seed=11)
    x = torch.rand(2, 3, 4, 4)
    for _ in range(5):
        layer.step(x)
    path = tmp_path / "sam.pt"
    layer.save(path, include_state=True)
    clone = RectifiedSAM.load(path)
    assert torch.equal(clone.b, layer.b) and clone.tau == layer.tau and clone.t == layer.t
    for _ in range(5):
        a, b = layer.step(x), clone.step(x)
        assert torch.equal(a.spikes, b.spikes) and torch.equal(a.potentials, b.potentials)
    # the parameters are ordinary module state too
    assert set(layer.state_dict()) == {"lambda_0", "theta", "r", "b"}


def test_tune_b_converges_to_the_target_rate():
    x = torch.full((2, 2, 3, 3), 0.5)
    layer = RectifiedSAM(lambda_0=20.0, theta=1.0, tau=0.01, dt=0.001, r=2.0, b=0.5, seed=0)
    res = layer.tune(x, 40.0, steps=5, epochs=400, lr=0.1, tol=0.005)
    assert res.converged and res.losses[0] > 100 * res.losses[-1]
    # closed form: rate = lambda_0 [r x + b - theta]+ = 40  =>  b = 2
    assert float(layer.b) == pytest.approx(2.0, rel=0.01)
    assert not layer.b.requires_grad
    # the sampled counts agree with the tuned rate
    counts = torch.stack([layer.step(x, n_winners=0).spikes for _ in range(300)])
    rate = counts.double().mean().item() / 0.001
    assert abs(rate - 40.0) < 4 * math.sqrt(0.04 / counts.numel()) / 0.001


def test_tune_all_parameters_reaches_the_target_in_a_recurrent_network():
    torch.manual_seed(0)
    W = torch.rand(2, 2, 3, 3) * 0.2
    rec = lambda s: torch.nn.functional.conv2d(s, W, padding=1) * 50.0  # noqa: E731
    layer = RectifiedSAM(lambda_0=30.0, theta=0.2, tau=0.01, dt=0.001, r=1.0, b=0.4, seed=1)
    res = layer.tune(torch.zeros(1, 2, 6, 6), 40.0, parameters="all", steps=10, epochs=100, lr=0.05,
                     recurrent=rec, tol=0.02)
    assert res.converged and res.epochs > 3 and res.losses[0] > 100 * res.losses[-1]
    assert abs(res.rate - 40.0) <= 0.02 * 40.0


@pytest.mark.parametrize("bad, exc, word", [
    ("x", TypeError, "potentials"),
    (torch.zeros(2, 3, 4), ValueError, "potentials"),
    (torch.zeros(1, 1, 2, 2, dtype=torch.int64), TypeError, "potentials"),
    (torch.full((1, 1, 2, 2), float("nan")), ValueError, "NaN"),
])
def test_bad_input_is_refused(bad, exc, word):
    with pytest.raises(exc, match=word):
        RectifiedSAM(seed=0).step(bad)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="tau"):
        RectifiedSAM(tau=0.001, dt=0.002)
    with pytest.raises(ValueError, match="lambda_0"):
        RectifiedSAM(lambda_0=-1.0)
    with pytest.raises(TypeError, match="dt"):
        RectifiedSAM(dt="1")
    with pytest.raises(TypeError, match="generator"):
        RectifiedSAM(generator=3)
    with pytest.raises(ValueError, match="b"):
        RectifiedSAM(b=torch.zeros(1, 1, 1, 1, 1))
    layer = RectifiedSAM(seed=0)
    with pytest.raises(ValueError, match="n_winners"):
        layer.step(torch.zeros(1, 1, 2, 2), n_winners=-1)
    layer.step(torch.zeros(1, 1, 2, 2))
    with pytest.raises(ValueError, match="reset"):
        layer.step(torch.zeros(1, 1, 3, 3))
    with pytest.raises(ValueError, match="target_rate"):
        layer.tune(torch.zeros(1, 1, 2, 2), -5.0)
    with pytest.raises(ValueError, match="parameters"):
        layer.tune(torch.zeros(1, 1, 2, 2), 5.0, parameters=("tau",))


# ---------------------------------------------------------------- the package tools (issue 13)
import ast  # noqa: E402
import pathlib  # noqa: E402

from spyketorch import neurons as sn  # noqa: E402
from spyketorch.systems.sam import STOCHASTIC_MODELS  # noqa: E402
from spyketorch.analysis.simulation import load_layer, save_layer  # noqa: E402

ALL_SPECS = {**sn.MODELS, **STOCHASTIC_MODELS}


def test_stochastic_registry_is_separate_and_neurons_does_not_import_sam():
    assert set(STOCHASTIC_MODELS) == {"RectifiedSAM"}
    assert STOCHASTIC_MODELS["RectifiedSAM"].cls is RectifiedSAM
    assert not set(STOCHASTIC_MODELS) & set(sn.MODELS)  # the deterministic generic tests stay as they were
    tree = ast.parse(pathlib.Path(sn.__file__).read_text())
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m.endswith("sam")]


@pytest.mark.parametrize("name", sorted(ALL_SPECS))
def test_every_registered_layer_round_trips_through_save_layer_and_simulate(name, tmp_path):
    spec = ALL_SPECS[name]
    torch.manual_seed(5)
    layer = spec.build(seed=3)
    xs = torch.rand(30, 2, 3, 5, 5) * spec.input_scale
    for t in range(5):
        layer.step(xs[t])
    path = tmp_path / f"{name}.pt"
    save_layer(layer, path, include_state=True)
    clone = load_layer(path)
    assert type(clone) is spec.cls
    rec = [simulate(m, xs[5:], record=("spikes", "potentials", "spike_count"), progress=False)
           for m in (layer, clone)]
    for key in ("spikes", "potentials", "spike_count"):
        assert torch.equal(rec[0][key], rec[1][key]), key
    spikes, count = rec[0]["spikes"], rec[0]["spike_count"]
    if spec.cls is RectifiedSAM:  # Poisson counts: the total of the counts
        expected = spikes.sum(0).to(torch.int64)
    else:  # one spike (of amplitude 1/ts or 1) per step at most
        expected = spikes.ne(0).sum(0)
    assert torch.equal(count, expected)
    # reset=True restarts both from rest: the same records again (the SAM generator continues, so
    # compare its activations with the recursion of its own counts from s = 0 instead)
    again = simulate(clone, xs[5:], record=("spikes", "potentials"), reset=True, progress=False)
    if spec.cls is RectifiedSAM:
        torch.testing.assert_close(again["potentials"][0], again["spikes"][0] * clone.dt, rtol=0, atol=0)
    else:
        fresh = load_layer(path)
        fresh.reset()
        ref = simulate(fresh, xs[5:], record=("spikes", "potentials"), progress=False)
        assert torch.equal(again["spikes"], ref["spikes"]) and torch.equal(again["potentials"], ref["potentials"])


def test_simulate_reset_resets_the_activation_and_the_stimulus_clock():
    dt = 0.001
    layer = RectifiedSAM(lambda_0=100.0, theta=0.0, tau=0.01, dt=dt, b=1.0, seed=4,
                         stimulus=lambda t: 0.5 * t)  # own stimulus E(t) = t / 2
    x = torch.zeros(1, 2, 3, 3, dtype=torch.float64)
    simulate(layer, x, 7, progress=False)
    assert layer.t == 7 and float(layer.s.abs().sum()) > 0
    rec = simulate(layer, x, 1, record=("spikes", "potentials"), reset=True, progress=False)
    assert layer.t == 1  # the clock restarted at 0
    torch.testing.assert_close(layer.mu, torch.full_like(x, 100.0 * dt * 1.0), rtol=1e-12, atol=0)  # E(0) = 0
    torch.testing.assert_close(rec["potentials"][0], rec["spikes"][0] * dt, rtol=0, atol=0)  # from s = 0
    # without reset the clock and the activation carry on
    simulate(layer, x, 2, progress=False)
    assert layer.t == 3
    torch.testing.assert_close(layer.mu, torch.full_like(x, 100.0 * dt * (1.0 + 0.5 * 2)), rtol=1e-12, atol=0)


def test_spike_count_is_the_sum_of_the_poisson_counts():
    layer = RectifiedSAM(lambda_0=1000.0, theta=0.0, dt=0.001, b=3.0, seed=6)  # mu = 3 per step
    x = torch.zeros(2, 2, 4, 4)
    rec = simulate(layer, x, 40, record=("spikes", "spike_count"), progress=False)
    total = rec["spikes"].sum(0).to(torch.int64)
    assert torch.equal(rec["spike_count"], total)
    assert bool((total > rec["spikes"].ne(0).sum(0)).any())  # differs from counting steps with a spike
    n = total.numel() * 40
    assert abs(float(total.sum()) / n - 3.0) < 4 * math.sqrt(3.0 / n)
    # the bound step method as the network counts the same way
    layer.reset()
    rec = simulate(layer.step, x, 40, record=("spikes", "spike_count"), progress=False)
    assert torch.equal(rec["spike_count"], rec["spikes"].sum(0).to(torch.int64))
    assert layer.spike_amplitude == 1.0


def test_tools_refuse_what_the_sam_lacks(tmp_path):
    layer = RectifiedSAM(seed=0)
    for var in ("v", "refractory", "adaptation"):
        with pytest.raises(ValueError, match="membrane state"):
            simulate(layer, torch.zeros(1, 1, 2, 2), 2, record=("spikes", var), progress=False)

    class Unregistered(RectifiedSAM):
        pass

    with pytest.raises(TypeError, match="STOCHASTIC_MODELS"):
        save_layer(Unregistered(seed=0), tmp_path / "x.pt")
