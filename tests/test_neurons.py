"""Generic tests of every neuron layer, plus the inhibition / refractoriness contract."""
from __future__ import annotations

import functools
import math
from typing import Callable, Dict, List, Tuple

import pytest
import torch

import spyketorch.neurons as sn

# name -> (factory, input scale that makes a few neurons spike per step): the package registry
REGISTRY: Dict[str, Tuple[Callable[[], sn.Neuron], float]] = {
    name: (functools.partial(spec.build, seed=3), spec.input_scale) for name, spec in sn.MODELS.items()
}
NAMES = list(REGISTRY)


def make(name: str) -> Tuple[sn.Neuron, float]:
    factory, scale = REGISTRY[name]
    return factory(), scale


def inputs(scale: float, T: int = 6, shape=(2, 5, 6, 6), seed: int = 0, dtype=torch.float32) -> List[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [(torch.rand(shape, generator=g, dtype=torch.float64) * scale).to(dtype) for _ in range(T)]


def run(layer: sn.Neuron, xs: List[torch.Tensor], k: int = 2):
    return [layer.step(x, n_winners=k) for x in xs]


def amp_of(layer: sn.Neuron) -> float:
    return layer.spike_amplitude


# ----------------------------------------------------------------------------- generic suite
@pytest.mark.parametrize("name", NAMES)
def test_shapes_dtypes_and_spike_values(name):
    layer, scale = make(name)
    outs = run(layer, inputs(scale), k=3)
    amp = amp_of(layer)
    total = 0.0
    for o in outs:
        for t in (o.spikes, o.potentials, o.thresholded, o.dudt, o.winning_spikes):
            assert t.shape == (2, 5, 6, 6) and t.dtype == torch.float32
        assert o.winners.shape == (2, 3, 3) and o.winners.dtype == torch.long
        vals = set(o.spikes.unique().tolist())
        assert vals <= {0.0, amp}, vals
        total += o.spikes.sum().item()
    assert total > 0, "the registry input should make the layer spike"


@pytest.mark.parametrize("name", NAMES)
def test_winners_are_the_best_spiking_neurons_one_per_map(name):
    """k-WTA per sample: the reference's iterative argmax over thresholded potentials."""
    layer, scale = make(name)
    for x in inputs(scale, T=5, seed=1):
        o = layer.step(x, n_winners=3)
        for b in range(x.shape[0]):
            spiking = o.spikes[b] != 0
            expected = []
            score = torch.where(spiking, o.thresholded[b], torch.tensor(-math.inf))
            for _ in range(3):
                m = score.max()
                if not torch.isfinite(m):
                    break
                f, rem = divmod(int(score.argmax()), 36)
                r, c = divmod(rem, 6)
                expected.append((f, r, c))
                score[f] = -math.inf
            got = [tuple(w) for w in o.winners[b].tolist() if w[0] >= 0]
            assert got == expected
            assert len(got) <= 3 and len({w[0] for w in got}) == len(got)
            for f, r, c in got:
                assert spiking[f, r, c]
                assert o.winning_spikes[b, f, r, c] == amp_of(layer)
            assert o.winning_spikes[b].ne(0).sum() == len(got)


@pytest.mark.parametrize("name", NAMES)
def test_refractory_neurons_are_silent_and_at_rest(name):
    layer, scale = make(name)
    layer.inhibition_mode = "feature"
    R = layer.refractory_timesteps
    xs = inputs(scale * 3, T=8, seed=2)
    o = layer.step(xs[0], n_winners=2)
    inhibited = [(b, int(w[0])) for b in range(2) for w in o.winners[b] if w[0] >= 0]
    assert inhibited
    rest = layer.resting_potential
    for t in range(1, R + 1):
        o2 = layer.step(xs[t], n_winners=2)
        for b, f in inhibited:
            assert o2.spikes[b, f].abs().sum() == 0
            if layer.resting_potential.numel() == 1:
                assert torch.all(o2.potentials[b, f] == rest.float())


@pytest.mark.parametrize("name", NAMES)
def test_reset_equals_fresh_layer(name):
    layer, scale = make(name)
    xs = inputs(scale, T=5, seed=4)
    run(layer, inputs(scale, T=3, seed=9))
    layer.reset()
    a = run(layer, xs)
    fresh, _ = make(name)
    b = run(fresh, xs)
    for oa, ob in zip(a, b):
        for ta, tb in zip(oa, ob):
            assert torch.equal(ta, tb)


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip(name):
    layer, scale = make(name)
    layer.threshold = 9.0 if "Izhikevich" not in name else 25.0
    layer.per_neuron_thresh = torch.linspace(8.0, 12.0, 5).view(5, 1, 1) if "Izhikevich" not in name else None
    layer.refractory_timesteps = 3
    layer.inhibition_mode = "location"
    xs = inputs(scale, T=5, seed=5)
    layer.step(xs[0])  # materialise lazily sampled parameters
    layer.reset()
    sd = layer.state_dict()
    other, _ = make(name)
    if isinstance(other, sn.HeterogeneousNeuron):
        other = type(other)(threshold=other.threshold, tau_range=(0.1, 0.2), seed=77)
    other.load_state_dict(sd)
    assert other.threshold == layer.threshold and other.refractory_timesteps == 3
    assert other.inhibition_mode == "location"
    for oa, ob in zip(run(layer, xs), run(other, xs)):
        for ta, tb in zip(oa, ob):
            assert torch.equal(ta, tb)


@pytest.mark.parametrize("name", NAMES)
def test_batch_equals_separate_runs(name):
    layer, scale = make(name)
    xs = inputs(scale, T=6, shape=(3, 4, 5, 5), seed=6)
    batched = run(layer, xs, k=2)
    for b in range(3):
        single, _ = make(name)
        outs = run(single, [x[b:b + 1] for x in xs], k=2)
        for ob, os_ in zip(batched, outs):
            for tb, ts_ in zip(ob, os_):
                assert torch.equal(tb[b:b + 1], ts_), name


@pytest.mark.parametrize("name", NAMES)
def test_float64_and_dtype_following(name):
    layer, scale = make(name)
    xs = inputs(scale, T=4, seed=7, dtype=torch.float64)
    outs = run(layer, xs)
    assert all(o.potentials.dtype == torch.float64 and o.spikes.dtype == torch.float64 for o in outs)
    assert layer.v.dtype == torch.float64
    with pytest.raises(ValueError, match="reset"):
        layer.step(xs[0].float())
    layer.reset()
    layer.step(xs[0].float())
    layer.double()
    assert layer.resting_potential.dtype == torch.float64


@pytest.mark.parametrize("name", NAMES)
def test_reference_tuple_contract(name):
    layer, scale = make(name)
    x = inputs(scale, T=1, shape=(1, 4, 5, 5), seed=8)[0] * 3
    out = layer(x)
    assert len(out) == 3 and isinstance(out[2], list)
    assert all(isinstance(w, tuple) and len(w) == 3 for w in out[2])
    layer.reset()
    out = layer(x, return_thresholded_potentials=True, return_dudt=True, return_winners=True,
                n_winners=2, return_winning_spikes=True)
    spikes, thr, pot, dudt, winners, ws = out
    assert len(winners) <= 2
    assert torch.equal((thr != 0), (spikes != 0)) or layer.threshold is None
    layer.reset()
    out = layer(x.repeat(2, 1, 1, 1), return_winners=True, n_winners=2)
    assert isinstance(out[2], list) and len(out[2]) == 2 and all(isinstance(s, list) for s in out[2])
    assert out[2][0] == out[2][1]


@pytest.mark.parametrize("name", NAMES)
def test_strong_input_never_overflows(name):
    layer, _ = make(name)
    x = torch.full((1, 3, 4, 4), 1e30)
    for _ in range(5):
        o = layer.step(x)
        assert torch.isfinite(o.potentials).all() and torch.isfinite(o.spikes).all()
    layer.reset()
    x = torch.full((1, 3, 4, 4), -1e30)
    for _ in range(5):
        o = layer.step(x)
        assert torch.isfinite(o.potentials).all()
        if layer.clamp_at_rest:
            assert torch.all(o.potentials >= layer.resting_potential.float())


@pytest.mark.parametrize("name", NAMES)
def test_input_requiring_grad_is_accepted_and_not_tracked(name):
    g = torch.Generator().manual_seed(20)
    layer, scale = make(name)
    x = (torch.rand(1, 2, 3, 3, generator=g) * scale).requires_grad_()
    o = layer.step(x)
    assert not o.potentials.requires_grad


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", NAMES)
def test_cuda_matches_cpu(name):  # pragma: no cover - runs only where a GPU exists
    layer, scale = make(name)
    xs = inputs(scale, T=4, seed=10, dtype=torch.float64)
    cpu = run(layer, xs)
    gpu_layer, _ = make(name)
    gpu_layer.cuda()
    gpu = run(gpu_layer, [x.cuda() for x in xs])
    for oc, og in zip(cpu, gpu):
        assert og.spikes.is_cuda
        torch.testing.assert_close(og.potentials.cpu(), oc.potentials)


# ----------------------------------------------------------------------------- inhibition modes
def _strong(shape=(2, 3, 4, 4), value=5000.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return value * (1 + torch.rand(shape, generator=g))


def test_feature_inhibition_silences_whole_maps_only():
    layer = sn.IF(threshold=1.0, refractory_timesteps=2, inhibition_mode="feature")
    x = _strong()
    o = layer.step(x, n_winners=1)
    f = [int(o.winners[b, 0, 0]) for b in range(2)]
    o2 = layer.step(x, n_winners=1)
    for b in range(2):
        assert o2.spikes[b, f[b]].sum() == 0
        others = [c for c in range(3) if c != f[b]]
        assert torch.all(o2.spikes[b, others] > 0)


def test_location_inhibition_silences_the_location_across_maps():
    layer = sn.IF(threshold=1.0, refractory_timesteps=2, inhibition_mode="location")
    x = _strong()
    o = layer.step(x, n_winners=2)
    o2 = layer.step(x, n_winners=2)
    for b in range(2):
        locs = {(int(w[1]), int(w[2])) for w in o.winners[b]}
        mask = torch.zeros(4, 4, dtype=torch.bool)
        for r, c in locs:
            mask[r, c] = True
            assert o2.spikes[b, :, r, c].sum() == 0
        assert torch.all(o2.spikes[b][:, ~mask] > 0)


def test_layer_inhibition_is_per_sample():
    layer = sn.IF(threshold=1.0, refractory_timesteps=2, inhibition_mode="layer")
    x = _strong()
    x[1] = 0.0  # sample 1 never spikes, so it is never inhibited
    layer.step(x, n_winners=1)
    o2 = layer.step(x * 0 + _strong(), n_winners=1)
    assert o2.spikes[0].sum() == 0 and torch.all(o2.spikes[1] > 0)


def test_neuron_mode_and_none_mode():
    layer = sn.IF(threshold=1.0, refractory_timesteps=1, inhibition_mode="neuron")
    x = torch.zeros(1, 1, 1, 4)
    x[..., :2] = 5000.0
    o = layer.step(x, n_winners=0)
    assert o.winners.shape == (1, 0, 3)
    assert o.spikes[0, 0, 0].tolist() == [1000.0, 1000.0, 0.0, 0.0]
    x2 = torch.full((1, 1, 1, 4), 5000.0)
    o2 = layer.step(x2, n_winners=0)
    assert o2.spikes[0, 0, 0].tolist() == [0.0, 0.0, 1000.0, 1000.0]
    free = sn.IF(threshold=1.0, refractory_timesteps=3, inhibition_mode="none")
    assert all(free.step(x2).spikes.sum() == 4000.0 for _ in range(4))


@pytest.mark.parametrize("R", [0, 1, 2, 5])
def test_refractory_period_lasts_exactly_R_steps(R):
    layer = sn.IF(threshold=1.0, refractory_timesteps=R)
    x = torch.full((1, 1, 1, 1), 1e5)
    fired = [bool(layer.step(x).spikes.item()) for _ in range(3 * (R + 1))]
    assert fired == ([True] + [False] * R) * 3
    assert layer.refractoriness == pytest.approx(R * layer.ts)


def test_per_neuron_threshold_and_none_threshold():
    layer = sn.IF(threshold=100.0, refractory_timesteps=0)
    layer.per_neuron_thresh = torch.tensor([1.0, 3.0, 1e9]).view(3, 1, 1)
    x = torch.full((1, 3, 2, 2), 600.0)  # +2.135 per step
    o = layer.step(x, n_winners=3)
    assert o.spikes[0, 0].bool().all() and not o.spikes[0, 1:].bool().any()
    assert [int(w[0]) for w in o.winners[0] if w[0] >= 0] == [0]
    layer.reset()  # per-neuron thresholds are parameters: reset keeps them
    assert layer.per_neuron_thresh is not None
    o = layer.step(x, n_winners=3)
    assert o.spikes[0, 0].bool().all()
    layer.per_neuron_thresh = None
    silent = sn.IF(threshold=None)
    for _ in range(3):
        o = silent.step(x)
        assert o.spikes.sum() == 0 and o.winners.eq(-1).all()
    assert silent.v.min() > 6.0


def test_per_neuron_threshold_ranking_uses_potential_not_margin():
    layer = sn.IF(threshold=1.0, refractory_timesteps=0, C=1.0, ts=1.0)
    layer.per_neuron_thresh = torch.tensor([5.0, 1.0]).view(2, 1, 1)
    x = torch.tensor([[[[6.0]], [[3.0]]]])  # map 0: u=6 >= 5, map 1: u=3 >= 1 (bigger margin)
    o = layer.step(x, n_winners=1)
    assert o.winners[0, 0].tolist() == [0, 0, 0]


def test_more_winners_than_maps_are_cut_to_the_maps():
    # at most one winner per map: K = min(n_winners, C), as functional.get_k_winners, so a
    # huge n_winners allocates nothing by it
    layer = sn.IF(threshold=1.0)
    o = layer.step(torch.full((2, 2, 3, 3), 5000.0), n_winners=4)
    assert o.winners.shape == (2, 2, 3) and o.winners.tolist() == [[[0, 0, 0], [1, 0, 0]]] * 2
    layer.reset()
    assert torch.equal(layer.step(torch.full((2, 2, 3, 3), 5000.0), n_winners=10**15).winners, o.winners)


# ----------------------------------------------------------------------------- validation
def test_bad_inputs_raise_clear_errors():
    g = torch.Generator().manual_seed(21)
    layer = sn.LIF(threshold=1.0)
    with pytest.raises(TypeError, match="potentials"):
        layer.step([[1.0]])
    with pytest.raises(ValueError, match=r"\[B, C, H, W\]"):
        layer.step(torch.rand(3, 4, 4, generator=g))
    with pytest.raises(TypeError, match="floating"):
        layer.step(torch.ones(1, 1, 2, 2, dtype=torch.int64))
    with pytest.raises(TypeError, match="floating"):
        layer.step(torch.ones(1, 1, 2, 2, dtype=torch.complex64))
    x = torch.rand(1, 2, 3, 3, generator=g)
    x[0, 1, 1, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf"):
        layer.step(x)
    x[0, 1, 1, 1] = float("inf")
    with pytest.raises(ValueError, match="NaN or inf"):
        layer.step(x)
    layer.step(torch.rand(1, 2, 3, 3, generator=g))
    with pytest.raises(ValueError, match="reset"):
        layer.step(torch.rand(1, 2, 4, 4, generator=g))
    with pytest.raises(ValueError, match="n_winners"):
        layer.step(torch.rand(1, 2, 3, 3, generator=g), n_winners=-1)
    with pytest.raises(TypeError, match="n_winners"):
        layer.step(torch.rand(1, 2, 3, 3, generator=g), n_winners=1.5)
    # a huge finite input whose sum overflows is not mistaken for inf
    big = torch.full((1, 2, 3, 3), 3e38)
    sn.LIF(threshold=1.0).step(big)


@pytest.mark.parametrize("kwargs, match", [
    (dict(threshold=1.0, ts=0.0), "ts"),
    (dict(threshold=1.0, ts=-1e-3), "ts"),
    (dict(threshold=1.0, tau_rc=0.0), "tau_rc"),
    (dict(threshold=1.0, tau_rc=-0.02), "tau_rc"),
    (dict(threshold=1.0, C=0.0), "C"),
    (dict(threshold=1.0, inhibition_mode="columns"), "inhibition_mode"),
    (dict(threshold=float("nan")), "threshold"),
    (dict(threshold=1.0, refractory_timesteps=-1), "refractory_timesteps"),
    (dict(threshold=1.0, tau_rc=float("inf")), "tau_rc"),
])
def test_bad_parameters_raise(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        sn.LIF(**kwargs)


def test_euler_stability_checks():
    with pytest.raises(ValueError, match="ts"):
        sn.LIF_ode(threshold=1.0, tau_rc=0.001, ts=0.001)
    with pytest.raises(ValueError, match="ts"):
        sn.EIF(threshold=1.0, tau_rc=0.005, ts=0.01)
    with pytest.raises(ValueError, match="ts"):
        sn.AdEx(threshold=1.0, tau_w=0.0005, ts=0.001)
    with pytest.raises(ValueError, match="ts"):
        sn.Izhikevich(ts=0.002)
    with pytest.raises(ValueError, match="ts"):
        sn.UniformEIF(threshold=1.0, tau_range=(0.0005, 0.01), ts=0.001)
    layer = sn.QIF(threshold=1.0)
    with pytest.raises(ValueError, match="ts"):
        layer.ts = 0.05
    with pytest.raises(ValueError, match="tau_rc"):
        layer.tau_rc = -1.0
    sn.LIF(threshold=1.0, tau_rc=0.001, ts=0.01)  # exact decay: any ts is stable


def test_heterogeneous_range_validation():
    g = torch.Generator().manual_seed(22)
    with pytest.raises(ValueError, match="tau_range"):
        sn.UniformLIF(threshold=1.0, tau_range=(0.05, 0.01), seed=0)
    with pytest.raises(TypeError, match="tau_range"):
        sn.UniformLIF(threshold=1.0, tau_range=0.02, seed=0)
    with pytest.raises(ValueError, match="does not broadcast|sampled"):
        layer = sn.UniformLIF(threshold=1.0, tau_range=(0.01, 0.02), n_features=3, seed=0)
        layer.step(torch.rand(1, 4, 2, 2, generator=g))


def test_tensor_parameters_broadcast_and_are_checked():
    g = torch.Generator().manual_seed(23)
    layer = sn.LIF(threshold=1.0, tau_rc=torch.tensor([0.01, 0.02]).view(2, 1, 1))
    layer.step(torch.rand(1, 2, 3, 3, generator=g))
    with pytest.raises(ValueError, match="tau_rc"):
        sn.LIF(threshold=1.0, tau_rc=torch.ones(3, 1, 1) * 0.02).step(torch.rand(1, 2, 3, 3, generator=g))


def test_get_params_repr_and_reference_properties():
    g = torch.Generator().manual_seed(24)
    layer = sn.EIF(threshold=8.0, delta_t=0.4)
    p = layer.get_params()
    assert p["threshold"] == 8.0 and p["delta_t"] == pytest.approx(0.4) and p["theta_rh"] is None
    assert "EIF(" in repr(layer) and "delta_t=0.4" in repr(layer)
    layer.step(torch.rand(1, 1, 2, 2, generator=g) * 100)
    assert layer.previous_state is layer.v
    assert torch.equal(layer.refractory_periods, layer.refractory * layer.ts)
    layer.threshold = 9.0
    assert layer.threshold == 9.0
    with pytest.raises(ValueError):
        layer.threshold = torch.ones(3)


def test_state_save_and_load_state():
    layer = sn.AdEx(threshold=10.0)
    xs = inputs(2000.0, T=6, seed=11)
    run(layer, xs[:3])
    st = layer.get_state()
    a = run(layer, xs[3:])
    other = sn.AdEx(threshold=10.0)
    other.load_state(st)
    b = run(other, xs[3:])
    for oa, ob in zip(a, b):
        assert torch.equal(oa.potentials, ob.potentials) and torch.equal(oa.spikes, ob.spikes)


def test_returned_tensors_are_not_mutated_by_later_steps():
    layer = sn.LIF(threshold=10.0)
    xs = inputs(2000.0, T=3, seed=12)
    o1 = layer.step(xs[0])
    saved = o1.potentials.clone(), o1.spikes.clone()
    layer.step(xs[1])
    assert torch.equal(o1.potentials, saved[0]) and torch.equal(o1.spikes, saved[1])


@pytest.mark.parametrize("name,kwargs", [
    ("LIF", dict(inhibition_mode="feature", refractory_timesteps=2)),     # k-WTA, refractory, reset
    ("AdEx", dict(inhibition_mode="location", refractory_timesteps=1)),   # second variable, capped exp
])
def test_fused_step_equals_eager(name, kwargs):
    """backend="compiled" runs the same step function fused by inductor: the same spikes,
    winners, winning spikes and refractory state, potentials and w to float rounding, over
    several steps of a stateful run (every model: tests/test_backends.py)."""
    cls = getattr(sn, name)
    eager = cls(threshold=10.0, **kwargs)
    fused = cls(threshold=10.0, **kwargs, backend="compiled")
    assert fused.backend == "compiled" and eager.backend == "eager"
    n_spikes = n_refractory = 0
    for x in inputs(2500.0, T=6, shape=(3, 5, 6, 6), seed=13):
        a, b = eager.step(x, n_winners=3), fused.step(x, n_winners=3)
        assert torch.equal(a.spikes, b.spikes) and torch.equal(a.winners, b.winners)
        assert torch.equal(a.winning_spikes, b.winning_spikes)
        torch.testing.assert_close(a.potentials, b.potentials, rtol=1e-5, atol=1e-4)
        torch.testing.assert_close(a.dudt, b.dudt, rtol=1e-5, atol=1e-4)
        sa, sb = eager.get_state(), fused.get_state()
        assert torch.equal(sa["refractory"], sb["refractory"])
        if sa["w"] is not None:
            torch.testing.assert_close(sa["w"], sb["w"], rtol=1e-5, atol=1e-4)
        n_spikes += int(a.spikes.count_nonzero())
        n_refractory += int(sa["refractory"].count_nonzero())
    assert n_spikes > 0 and n_refractory > 0, "the run must exercise firing, k-WTA and refractoriness"
    fused.backend = "eager"
    assert fused.backend == "eager"