"""The backends of the one step function: the compiled step (inductor's fused kernels) against
the eager one, a user's ``torch.compile`` over a step, and declarations driving every backend.

Every registered model (in turn through every inhibition mode), batch 1 and several, map
sizes that are and are not multiples of the vector width, per-map and per-neuron constants,
float64, half inputs, noise, and the reference call and the structured one: the same spikes,
winners, winning spikes and refractory state exactly, potentials (and ``w``) to float rounding.
"""
from __future__ import annotations

import copy
import io
import math

import pytest
import torch

import spyketorch.neurons as sn

MODES = ("feature", "location", "layer", "neuron", "none")
NAMES = sorted(sn.MODELS)


def inputs(scale, T, shape, seed, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    # alternate weak and strong steps, so some neurons fire and some sit refractory
    return [(torch.rand(shape, generator=g, dtype=torch.float64) * scale * (3.0 if t % 2 else 1.0)).to(dtype)
            for t in range(T)]


def compiled(layer):
    layer.backend = "compiled"
    return layer


def assert_same_run(eager, other, xs, k, structured=True):
    """Step both layers through ``xs``; compare everything; return how much happened."""
    fired = refractory = 0
    for x in xs:
        if structured:
            a = eager.step(x, n_winners=k, thresholded=True, dudt=True, winning_spikes=True)
            b = other.step(x, n_winners=k, thresholded=True, dudt=True, winning_spikes=True)
            assert torch.equal(a.winners, b.winners)
            assert torch.equal(a.winning_spikes, b.winning_spikes)
            torch.testing.assert_close(a.thresholded, b.thresholded, rtol=1e-5, atol=1e-4)
            torch.testing.assert_close(a.dudt, b.dudt, rtol=1e-5, atol=1e-4)
            spikes_a, spikes_b, pot_a, pot_b = a.spikes, b.spikes, a.potentials, b.potentials
        else:  # the reference call without winners
            spikes_a, pot_a = eager(x, return_winners=False, n_winners=k)
            spikes_b, pot_b = other(x, return_winners=False, n_winners=k)
        assert spikes_b.dtype == spikes_a.dtype and pot_b.dtype == pot_a.dtype
        assert torch.equal(spikes_a, spikes_b)
        torch.testing.assert_close(pot_a, pot_b, rtol=1e-5, atol=1e-4)
        sa, sb = eager.get_state(), other.get_state()
        assert torch.equal(sa["refractory"], sb["refractory"])
        if sa["w"] is not None:
            torch.testing.assert_close(sa["w"], sb["w"], rtol=1e-5, atol=1e-4)
        fired += int(spikes_a.count_nonzero())
        refractory += int(sa["refractory"].count_nonzero())
    return fired, refractory


@pytest.mark.parametrize("name", NAMES)
def test_compiled_step_equals_eager_for_every_model(name):
    spec = sn.MODELS[name]
    make = sn.all_models()[name]
    mode = MODES[NAMES.index(name) % len(MODES)]  # every mode, over the models
    eager, fused = make(), compiled(make())
    eager.inhibition_mode = fused.inhibition_mode = mode
    assert fused.backend == "compiled" and eager.backend == "eager"
    # a 5x7 map (35 elements: not a multiple of the vector width), batch 3, then batch 1
    fired, refr = assert_same_run(eager, fused, inputs(spec.input_scale, 8, (3, 6, 5, 7), seed=3), k=3)
    eager.reset(), fused.reset()
    f1, r1 = assert_same_run(eager, fused, inputs(spec.input_scale, 6, (1, 6, 8, 8), seed=4), k=2,
                             structured=False)
    assert fired + f1 > 0, "the run must make neurons fire"
    if mode != "none" and eager.refractory_timesteps > 0:
        assert refr + r1 > 0, "the run must put neurons into refractoriness"


@pytest.mark.parametrize("mode", MODES)
def test_compiled_lif_in_every_inhibition_mode(mode):
    eager, fused = sn.LIF(threshold=10.0, inhibition_mode=mode), compiled(sn.LIF(threshold=10.0, inhibition_mode=mode))
    fired, refr = assert_same_run(eager, fused, inputs(2000.0, 8, (3, 6, 5, 7), seed=13), k=3)
    assert fired > 0 and (refr > 0 or mode == "none")


@pytest.mark.parametrize("name", ["LIF", "AdEx", "Izhikevich", "EIF_Simple"])
def test_compiled_step_equals_eager_in_float64_and_for_half_inputs(name):
    spec = sn.MODELS[name]
    make = sn.all_models()[name]
    for dtype in (torch.float64, torch.float16):
        eager, fused = make(), compiled(make())
        xs = inputs(spec.input_scale if dtype == torch.float64 else min(spec.input_scale, 600.0), 6,
                    (2, 4, 6, 6), seed=5, dtype=dtype)
        fired, _ = assert_same_run(eager, fused, xs, k=2)
        assert fired > 0 or name in ("Izhikevich",)


def test_compiled_per_neuron_thresholds_rest_and_reset():
    g = torch.Generator().manual_seed(0)
    thr = 5.0 + 10.0 * torch.rand(4, 5, 6, generator=g, dtype=torch.float64)
    rest = torch.linspace(-1.0, 1.0, 30, dtype=torch.float64).view(1, 5, 6)  # per location: not per map
    kwargs = dict(threshold=10.0, per_neuron_thresh=thr, resting_potential=rest)
    for mode in ("feature", "location"):
        eager, fused = sn.LIF(**kwargs, inhibition_mode=mode), compiled(sn.LIF(**kwargs, inhibition_mode=mode))
        fired, _ = assert_same_run(eager, fused, inputs(2000.0, 8, (3, 4, 5, 6), seed=6), k=2)
        assert fired > 0


def test_compiled_noise_draws_the_same_numbers():
    mk = lambda: sn.LIF(threshold=10.0, noise_std=3.0, noise_generator=torch.Generator().manual_seed(9))  # noqa: E731
    fired, _ = assert_same_run(mk(), compiled(mk()), inputs(2000.0, 6, (2, 4, 6, 6), seed=7), k=2)
    assert fired > 0


@pytest.mark.parametrize("backend", ["eager", "compiled"])
def test_layer_refuses_non_finite_input_and_keeps_its_state(backend):
    layer = sn.LIF(threshold=10.0, backend=backend)
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
    quiet = sn.LIF(threshold=10.0, check_finite=False, backend=backend)
    y = x.clone()
    y[0, 0, 0, 0] = float("nan")
    quiet(y)  # not checked when the user turns the check off


def test_backend_switches_copies_and_pickles():
    layer = sn.LIF(threshold=10.0, backend="compiled")
    x = torch.rand(1, 3, 4, 4) * 3000
    out = layer(x, return_winners=False)
    assert layer.backend == "compiled"
    assert layer.fresh_copy().backend == "compiled"
    twin = copy.deepcopy(layer)
    assert twin.backend == "compiled"
    buf = io.BytesIO()
    torch.save(layer, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=False)
    assert loaded.backend == "compiled"
    assert torch.equal(loaded(x, return_winners=False)[0], layer(x, return_winners=False)[0])
    layer.backend = "eager"
    assert layer.backend == "eager"
    assert out[0].shape == x.shape
    with pytest.raises(ValueError, match="backend"):
        layer.backend = "native"
    # nn.Module.compile keeps its torch meaning (a compiled forward), it is not a backend switch
    assert sn.LIF.compile is torch.nn.Module.compile


def test_compiled_step_reuses_dropped_outputs_and_keeps_held_ones():
    """Once warm, a loop that drops each step's outputs allocates no large tensor: the new
    potentials and spikes go into the buffers of two steps ago. Outputs the caller keeps are
    never overwritten."""
    layer = sn.LIF(threshold=10.0, backend="compiled")
    xs = inputs(2000.0, 8, (2, 4, 6, 6), seed=8)
    for x in xs[:3]:
        out = layer.step(x)
    ptrs = []
    for x in xs[3:7]:
        out = layer.step(x)
        ptrs.append((out.spikes.data_ptr(), out.potentials.data_ptr()))
    assert ptrs[0] == ptrs[2] and ptrs[1] == ptrs[3] and ptrs[0] != ptrs[1]
    layer.reset()
    kept = [layer.step(x) for x in xs]
    ref = sn.LIF(threshold=10.0)
    for x, o in zip(xs, kept):
        r = ref.step(x)
        assert torch.equal(o.spikes, r.spikes)
        torch.testing.assert_close(o.potentials, r.potentials)
    assert len({o.spikes.data_ptr() for o in kept}) == len(kept)


def test_user_torch_compile_fullgraph_over_a_step_equals_eager():
    """A user's own ``torch.compile(fullgraph=True)`` over a function that steps the layer
    (with the fastest CPU backend selected) compiles in one graph and gives the eager results."""
    torch._dynamo.reset()
    layer, ref = sn.LIF(threshold=10.0, backend="compiled"), sn.LIF(threshold=10.0)
    weights = torch.rand(6, 2, 3, 3) * 0.5

    def run(spikes_in, lay):
        out = lay.step(torch.nn.functional.conv2d(spikes_in, weights), n_winners=2)
        return out.spikes, out.potentials, out.winners

    fn = torch.compile(run, fullgraph=True)
    g = torch.Generator().manual_seed(3)
    for t in range(6):
        s = (torch.rand(2, 2, 8, 8, generator=g) < 0.3).float() * 1000.0
        got, want = fn(s, layer), run(s, ref)
        assert torch.equal(got[0], want[0]) and torch.equal(got[2], want[2])
        torch.testing.assert_close(got[1], want[1])
    assert torch.equal(layer.get_state()["refractory"], ref.get_state()["refractory"])


def _changed_declaration(cls):
    """A subclass that overrides only the model's declaration: its exact step (for models that
    have one) or its right-hand side, here by doubling every derivative's input drive."""
    if cls.exact_step is not None:
        base = cls.exact_step

        def exact_step(self, u, w, I, p):
            return base(self, u, w, 2.0 * I, p)

        return type(f"Changed{cls.__name__}", (cls,), {"exact_step": exact_step})
    base_rhs = cls.rhs

    def rhs(self, u, w, I, p):
        return base_rhs(self, u, w, 2.0 * I, p)

    return type(f"Changed{cls.__name__}", (cls,), {"rhs": rhs})


@pytest.mark.parametrize("name", NAMES)
def test_overriding_only_the_declaration_changes_every_backend_identically(name):
    spec = sn.MODELS[name]
    make = sn.all_models(n_features=4)[name]
    plain = make()
    kwargs = {"threshold": plain.threshold}
    if isinstance(plain, sn.HeterogeneousNeuron):
        kwargs.update(tau_range=plain.tau_range, seed=0, n_features=4)
    changed_cls = _changed_declaration(spec.cls)
    xs = inputs(spec.input_scale / 2, 5, (2, 4, 5, 5), seed=21, dtype=torch.float64)
    runs = {}
    for label, layer in (("plain", plain), ("eager", changed_cls(**kwargs)),
                         ("compiled", compiled(changed_cls(**kwargs)))):
        runs[label] = [layer.step(x, n_winners=2) for x in xs]
    # the new declaration changes the dynamics ...
    assert any(not torch.allclose(a.potentials, b.potentials) for a, b in zip(runs["plain"], runs["eager"]))
    # ... identically in every backend
    for a, b in zip(runs["eager"], runs["compiled"]):
        assert torch.equal(a.spikes, b.spikes) and torch.equal(a.winners, b.winners)
        torch.testing.assert_close(a.potentials, b.potentials, rtol=1e-9, atol=1e-9)
    # ... and in the float64 ODE the plots and analysis read (for rhs declarations)
    if spec.cls.exact_step is None:
        u = torch.linspace(-1.0, 1.0, 5, dtype=torch.float64)
        assert torch.allclose(changed_cls(**kwargs).ode(u, 3.0), plain.ode(u, 6.0))


def test_surrogate_gradient_is_the_same_through_the_compiled_backend():
    torch.manual_seed(0)
    x = (torch.rand(2, 3, 5, 5, dtype=torch.float64) * 3000).requires_grad_()
    grads = []
    for backend in ("eager", "compiled"):
        layer = sn.LIF(threshold=10.0, surrogate="atan", inhibition_mode="none", backend=backend)
        total = 0.0
        for t in range(4):
            total = total + layer.step(x * (1 + t % 2)).spikes.sum() * 1e-3
        (g,) = torch.autograd.grad(total, x)
        grads.append(g)
    assert grads[0].abs().sum() > 0
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-9, atol=1e-12)
    assert not math.isnan(float(grads[0].sum()))


@pytest.mark.parametrize("inhibition", ["none", "feature"])
def test_neuron_stdp_network_learns_the_same_with_the_compiled_step(inhibition):
    """:func:`spyketorch.networks.neuron_stdp.run_model` with ``compiled=True`` (``examples/neuron_stdp.py
    --compiled``): the same gain, accuracy and spike counts as the eager step, with the default
    inhibition and with the per-step k-WTA silencing the winners' maps."""
    from spyketorch.networks import kheradpisheh, neuron_stdp as ex

    cfg = kheradpisheh.Config()
    data = ex.prepare(cfg, "latency", train_limit=48, test_limit=24)
    args = dict(calib=8, calib_iters=4, readout="ridge", inhibition=inhibition)
    eager = ex.run_model("LIF", "latency", data, cfg, 16, **args)
    compiled = ex.run_model("LIF", "latency", data, cfg, 16, compiled=True, **args)
    for key in ("gain", "test_accuracy", "mean_spikes_per_image", "silent_test_images"):
        assert compiled[key] == eager[key], key
    assert eager["mean_spikes_per_image"] > 0
