"""The native (C) step, ``layer.native()``, against the eager pipeline it reproduces.

Every registered model, every inhibition mode, batch 1 and several, map sizes that are and
are not multiples of the vector width, per-map and per-neuron constants, float64, half
inputs, noise, and the reference call and the structured one: the same spikes, winners,
winning spikes and refractory state exactly, potentials (and ``w``) to float rounding.
"""
from __future__ import annotations

import copy
import io
import os
import shutil

import pytest
import torch

import spyketorch.neurons as sn
from spyketorch.neurons import _native

pytestmark = pytest.mark.skipif(shutil.which(os.environ.get("CC", "cc")) is None,
                                reason="the native step needs a C compiler")

MODES = ("feature", "location", "layer", "neuron", "none")


def inputs(scale, T, shape, seed, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    # alternate weak and strong steps, so some neurons fire and some sit refractory
    return [(torch.rand(shape, generator=g, dtype=torch.float64) * scale * (3.0 if t % 2 else 1.0)).to(dtype)
            for t in range(T)]


def assert_same_run(eager, native, xs, k, structured=True):
    """Step both layers through ``xs``; compare everything; return how much happened."""
    fired = refractory = 0
    for x in xs:
        if structured:
            a, b = eager.step(x, n_winners=k), native.step(x, n_winners=k)
            assert torch.equal(a.winners, b.winners)
            assert torch.equal(a.winning_spikes, b.winning_spikes)
            torch.testing.assert_close(a.thresholded, b.thresholded, rtol=1e-5, atol=1e-4)
            torch.testing.assert_close(a.dudt, b.dudt, rtol=1e-5, atol=1e-4)
            spikes_a, spikes_b, pot_a, pot_b = a.spikes, b.spikes, a.potentials, b.potentials
        else:  # the reference call without winners: the native step's fully fused path
            spikes_a, pot_a = eager(x, return_winners=False, n_winners=k)
            spikes_b, pot_b = native(x, return_winners=False, n_winners=k)
        assert spikes_b.dtype == spikes_a.dtype and pot_b.dtype == pot_a.dtype
        assert torch.equal(spikes_a, spikes_b)
        torch.testing.assert_close(pot_a, pot_b, rtol=1e-5, atol=1e-4)
        sa, sb = eager.get_state(), native.get_state()
        assert torch.equal(sa["refractory"], sb["refractory"])
        if sa["w"] is not None:
            torch.testing.assert_close(sa["w"], sb["w"], rtol=1e-5, atol=1e-4)
        fired += int(spikes_a.count_nonzero())
        refractory += int(sa["refractory"].count_nonzero())
    return fired, refractory


@pytest.mark.parametrize("name", sorted(sn.MODELS))
@pytest.mark.parametrize("mode", MODES)
def test_native_step_equals_eager_for_every_model_and_mode(name, mode):
    spec = sn.MODELS[name]
    make = sn.all_models()[name]
    eager, native = make(), make().native()
    eager.inhibition_mode = native.inhibition_mode = mode
    assert native.backend == "native" and native.fused and eager.backend == "eager"
    # a 5x7 map (35 elements: not a multiple of the vector width), batch 3, then batch 1
    fired, refr = assert_same_run(eager, native, inputs(spec.input_scale, 8, (3, 6, 5, 7), seed=3), k=3)
    eager.reset(), native.reset()
    f1, r1 = assert_same_run(eager, native, inputs(spec.input_scale, 6, (1, 6, 8, 8), seed=4), k=2,
                             structured=False)
    assert fired + f1 > 0, "the run must make neurons fire"
    if mode != "none" and eager.refractory_timesteps > 0:
        assert refr + r1 > 0, "the run must put neurons into refractoriness"


@pytest.mark.parametrize("name", ["LIF", "IF", "AdEx", "Izhikevich", "AdaptiveLIF", "EIF_Simple"])
def test_native_step_equals_eager_in_float64_and_for_half_inputs(name):
    spec = sn.MODELS[name]
    make = sn.all_models()[name]
    for dtype in (torch.float64, torch.float16):
        eager, native = make(), make().native()
        xs = inputs(spec.input_scale if dtype == torch.float64 else min(spec.input_scale, 600.0), 6,
                    (2, 4, 6, 6), seed=5, dtype=dtype)
        fired, _ = assert_same_run(eager, native, xs, k=2)
        assert fired > 0 or name in ("Izhikevich",)


def test_native_per_neuron_thresholds_rest_and_reset_run_the_per_element_path():
    g = torch.Generator().manual_seed(0)
    thr = 5.0 + 10.0 * torch.rand(4, 5, 6, generator=g, dtype=torch.float64)
    rest = torch.linspace(-1.0, 1.0, 30, dtype=torch.float64).view(1, 5, 6)  # per location: not per map
    kwargs = dict(threshold=10.0, per_neuron_thresh=thr, resting_potential=rest)
    for mode in MODES:
        eager, native = sn.LIF(**kwargs, inhibition_mode=mode), sn.LIF(**kwargs, inhibition_mode=mode).native()
        fired, _ = assert_same_run(eager, native, inputs(2000.0, 8, (3, 4, 5, 6), seed=6), k=2)
        assert fired > 0
        plan = native._native_plan
        assert plan.cfg.per_elem == 1
    # per-map constants stay on the per-map path
    uni = sn.all_models(n_features=4)["UniformLIF"]().native()
    uni.step(torch.rand(1, 4, 5, 6) * 2000)
    assert uni._native_plan.cfg.per_elem == 0


def test_native_noise_draws_the_same_numbers():
    mk = lambda: sn.LIF(threshold=10.0, noise_std=3.0, noise_generator=torch.Generator().manual_seed(9))  # noqa: E731
    fired, _ = assert_same_run(mk(), mk().native(), inputs(2000.0, 6, (2, 4, 6, 6), seed=7), k=2)
    assert fired > 0


def test_native_layer_refuses_non_finite_input_and_keeps_its_state():
    layer = sn.LIF(threshold=10.0).native()
    x = torch.rand(2, 3, 4, 4) * 3000
    layer(x)
    before = {k: v.clone() for k, v in layer.get_state().items() if v is not None}
    for bad in (float("nan"), float("inf"), -float("inf")):
        y = x.clone()
        y[1, 2, 3, 3] = bad
        with pytest.raises(ValueError, match="potentials contain NaN or inf"):
            layer(y)
        after = layer.get_state()
        assert all(torch.equal(before[k], after[k]) for k in before)
    quiet = sn.LIF(threshold=10.0, check_finite=False).native()
    y = x.clone()
    y[0, 0, 0, 0] = float("nan")
    quiet(y)  # not checked when the user turns the check off


def test_native_integrator_declarations():
    """Which models integrate inside the native pass; an affine declaration must integrate
    the way the model's own ``_integrate`` does (the others are covered by the run tests)."""
    declared = {}
    for name, make in sn.all_models(n_features=4).items():
        layer = make()
        x = torch.rand(2, 4, 3, 5, dtype=torch.float64) * sn.MODELS[name].input_scale
        layer.step(x)
        c = layer._prepare(x)
        spec = layer._native_integrator(c)
        if spec is None:
            continue
        declared[name] = spec[0]
        if spec[0] == "affine":
            u = torch.randn(2, 4, 3, 5, dtype=torch.float64) * 5
            a, k, c0 = spec[1]
            torch.testing.assert_close(layer._integrate(u, x, layer.get_state()["w"], c), a * u + k * x + c0)
    assert declared == {
        "IF": "affine", "LIF": "affine", "LIF_ode": "affine", "LIF_Simple": "affine", "UniformLIF": "affine",
        "UniformLIF_Simple": "affine", "QIF": "quadratic", "UniformQIF": "quadratic", "Izhikevich": "izhikevich",
        "UniformIzhikevich": "izhikevich", "ResonateAndFire": "resonate", "UniformResonateAndFire": "resonate",
        "AdaptiveLIF": "adaptive_lif", "UniformAdaptiveLIF": "adaptive_lif", "EIF": "exponential",
        "EIF_Simple": "exponential", "UniformEIF": "exponential", "AdEx": "adex", "UniformAdEx": "adex"}


def test_models_integrated_in_the_kernel_run_their_own_loops():
    for name in ("QIF", "Izhikevich", "ResonateAndFire", "AdaptiveLIF", "LIF", "EIF", "AdEx"):
        layer = sn.all_models()[name]().native()
        layer.step(torch.rand(1, 3, 4, 4) * sn.MODELS[name].input_scale)
        assert layer._native_plan.kind == _native.KINDS[layer._native_integrator(layer._prepare(
            torch.zeros(1, 3, 4, 4)))[0]]
    # EIF in float64 and a per-neuron time constant: the eager integrate around the pass
    eif = sn.EIF(threshold=10.0).native()
    eif.step(torch.rand(1, 3, 4, 4, dtype=torch.float64) * 2000)
    assert eif._native_plan.kind == 0
    per_neuron = sn.QIF(threshold=10.0, tau_rc=0.01 + 0.02 * torch.rand(3, 4, 4, dtype=torch.float64)).native()
    per_neuron.step(torch.rand(1, 3, 4, 4) * 2000)
    assert per_neuron._native_plan.kind == 0


def test_backend_switches_copies_and_pickles():
    layer = sn.LIF(threshold=10.0).native()
    x = torch.rand(1, 3, 4, 4) * 3000
    out = layer(x, return_winners=False)
    assert layer.backend == "native"
    assert layer.fresh_copy().backend == "eager"
    twin = copy.deepcopy(layer)
    assert twin.backend == "native" and twin._native_plan is None  # the plan is a cache, rebuilt
    buf = io.BytesIO()
    torch.save(layer, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=False)
    assert loaded.backend == "native"
    assert torch.equal(loaded(x, return_winners=False)[0], layer(x, return_winners=False)[0])
    assert layer.eager().backend == "eager" and not layer.fused
    assert out[0].shape == x.shape


def test_native_step_allocates_only_what_it_returns():
    """The refractory counter alternates between two buffers (the step writes the new count
    into the spare one, so a refused input leaves the old one intact), the new potentials
    are the returned ones, and the winners' scratch is reused when not returned."""
    layer = sn.LIF(threshold=10.0).native()
    x = torch.rand(2, 4, 6, 6) * 3000
    layer(x, return_winners=False, n_winners=2)
    scratch = layer._native_plan.winners_scratch(2)[0].data_ptr()
    ptrs = []
    for _ in range(4):
        spikes, pot = layer(x, return_winners=False, n_winners=2)
        assert layer._buffers["v"] is pot
        ptrs.append(layer._buffers["refractory"].data_ptr())
    assert ptrs[0] == ptrs[2] and ptrs[1] == ptrs[3] and ptrs[0] != ptrs[1]
    assert layer._native_plan.winners_scratch(2)[0].data_ptr() == scratch


def test_missing_compiler_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    monkeypatch.setenv("SPYKETORCH_CACHE", str(tmp_path / "cache"))
    _native.library.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="needs a C compiler"):
            sn.LIF(threshold=10.0).native()
    finally:
        _native.library.cache_clear()


@pytest.mark.parametrize("inhibition", ["none", "feature"])
def test_neuron_stdp_example_with_native_layers_learns_the_same(inhibition):
    """``examples/neuron_stdp.py --native`` (:func:`spyketorch.networks.neuron_stdp.run_model` with
    ``native=True``): the same gain, features, accuracy and spike counts as the eager step (LIF
    integrates inside the native pass), with the example's default inhibition and with the per-step
    k-WTA silencing the winners' maps."""
    from spyketorch.networks import kheradpisheh, neuron_stdp as ex

    cfg = kheradpisheh.Config()
    data = ex.prepare(cfg, "latency", train_limit=48, test_limit=24)
    args = dict(calib=8, calib_iters=4, readout="ridge", inhibition=inhibition)
    eager = ex.run_model("LIF", "latency", data, cfg, 16, **args)
    native = ex.run_model("LIF", "latency", data, cfg, 16, native=True, **args)
    for key in ("gain", "test_accuracy", "mean_spikes_per_image", "silent_test_images"):
        assert native[key] == eager[key], key
    assert eager["mean_spikes_per_image"] > 0
