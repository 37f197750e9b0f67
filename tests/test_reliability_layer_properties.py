"""Property-based tests (hypothesis) of the neuron layers and of simulation (issue 10, part 2).

For every registered model (:data:`spyketorch.neurons.MODELS`): random valid parameters,
inputs (any of the four floating dtypes) and numbers of winners give finite outputs of the
documented form, a batch gives what its samples give one by one, and half precision fires
as float32; invalid parameters and inputs raise ``ValueError``/``TypeError`` naming the
argument. For :mod:`spyketorch.analysis.simulation`: ``simulate`` records what stepping by hand
gives, ``save_layer``/``load_layer`` continue bit-identically, ``tune_threshold`` reports a
rate that a re-run reproduces, and damaged files are refused naming the file. Examples
are derandomised and bounded (see ``_hypothesis_profile.py``).
"""
import functools
import os
import tempfile
from typing import Any, Dict, List, Tuple

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import spyketorch.neurons as sn
import spyketorch.analysis.simulation as sim
from _hypothesis_profile import RELIABLE

MODELS = list(sn.MODELS)
DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
NAN, INF = float("nan"), float("inf")
# per model (19 of them) a few examples each; whole-API properties a few more
FEW = settings(RELIABLE, max_examples=max(1, RELIABLE.max_examples // 6))
SOME = settings(RELIABLE, max_examples=max(1, RELIABLE.max_examples // 2))


@functools.lru_cache(maxsize=None)
def accepted_params(name: str) -> Tuple[Tuple[str, Any, str], ...]:
    """The declared parameters (name, default, rule) that the constructor of ``name`` accepts,
    found by building it with each one at its default."""
    spec = sn.MODELS[name]
    out = []
    seen = set()
    for klass in spec.cls.__mro__:
        for p in vars(klass).get("PARAMS", ()):
            if p.name in seen or p.default is None:
                continue
            seen.add(p.name)
            try:
                spec.cls(**_base_kwargs(name), **{p.name: p.default})
            except TypeError:
                continue
            out.append((p.name, p.default, p.rule))
    return tuple(out)


def _base_kwargs(name: str) -> Dict[str, Any]:
    spec = sn.MODELS[name]
    kw: Dict[str, Any] = {"threshold": 30.0 if "Izhikevich" in name else 1.0 if "Resonate" in name else 10.0}
    if issubclass(spec.cls, sn.HeterogeneousNeuron):
        kw["tau_range"] = (0.1, 0.5) if "Resonate" in name else (0.02, 0.1) if "Izhikevich" in name else (0.01, 0.05)
        kw["seed"] = 0
    return kw


@st.composite
def layer_kwargs(draw, name: str) -> Dict[str, Any]:
    """Valid constructor arguments of model ``name``: every accepted parameter within
    25 % of its default, a time step, refractoriness, inhibition mode and threshold."""
    kw = _base_kwargs(name)
    for pname, default, _rule in accepted_params(name):
        if draw(st.booleans()):
            kw[pname] = float(default) * draw(st.floats(0.75, 1.25))
    kw["ts"] = draw(st.sampled_from([1e-4, 2.5e-4, 5e-4, 1e-3]))
    kw["refractory_timesteps"] = draw(st.integers(0, 3))
    kw["inhibition_mode"] = draw(st.sampled_from(sn.INHIBITION_MODES))
    kw["threshold"] = kw["threshold"] * draw(st.floats(0.5, 1.5))
    if "tau_range" in kw:
        lo, hi = kw["tau_range"]
        lo = lo * draw(st.floats(0.5, 1.0))
        kw["tau_range"] = (lo, lo + (hi - lo) * draw(st.floats(0.0, 1.0)))
        kw["seed"] = draw(st.integers(0, 2**32))
    return kw


@st.composite
def drives(draw, name: str, dtypes=DTYPES) -> torch.Tensor:
    """A constant drive ``[B, C, H, W]`` that makes the model fire some neurons, in a random dtype."""
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    scale = sn.MODELS[name].input_scale * draw(st.floats(0.0, 1.5))
    x = torch.rand(shape, generator=g, dtype=torch.float64) * scale
    return x.to(draw(st.sampled_from(dtypes)))


def _build(name: str, kw: Dict[str, Any]) -> sn.Neuron:
    return sn.MODELS[name].cls(**kw)


def _finite(t: torch.Tensor) -> bool:
    return bool(torch.isfinite(t.float()).all())


# ----------------------------------------------------------------------------
# valid input: finite, well formed, batch == one by one
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", MODELS)
@FEW
@given(data=st.data())
def test_valid_layers_give_finite_outputs_and_batch_equals_samples(name, data):
    kw = data.draw(layer_kwargs(name), label="kwargs")
    x = data.draw(drives(name), label="x")
    steps = data.draw(st.integers(1, 5), label="steps")
    k = data.draw(st.one_of(st.integers(0, 4), st.just(10**12)), label="n_winners")
    B, C, H, W = x.shape
    batch = _build(name, kw)
    singles = [_build(name, kw) for _ in range(B)]
    amp = batch.spike_amplitude
    for _ in range(steps):
        o = batch.step(x, n_winners=k)
        for field in ("spikes", "potentials", "thresholded", "dudt", "winning_spikes"):
            t = getattr(o, field)
            assert t.shape == x.shape and t.dtype == x.dtype and _finite(t), field
        assert bool(((o.spikes == 0) | (o.spikes == torch.tensor(amp, dtype=x.dtype))).all())
        K = min(k, C)
        assert o.winners.shape == (B, K, 3) and o.winners.dtype == torch.long
        valid = o.winners[..., 0] >= 0
        for b, j in valid.nonzero().tolist():  # every winner spiked, at most one per map
            f, r, c = o.winners[b, j].tolist()
            assert 0 <= f < C and 0 <= r < H and 0 <= c < W and o.spikes[b, f, r, c] != 0
        feats = o.winners[..., 0]
        for b in range(B):
            got = feats[b][feats[b] >= 0].tolist()
            assert len(got) == len(set(got))
        for b, layer in enumerate(singles):  # samples are independent
            ob = layer.step(x[b:b + 1], n_winners=k)
            assert torch.equal(ob.spikes[0], o.spikes[b])
            assert torch.equal(ob.winners[0], o.winners[b])
            torch.testing.assert_close(ob.potentials[0], o.potentials[b], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
@FEW
@given(data=st.data())
def test_half_precision_fires_as_float32_for_random_parameters(name, data):
    kw = data.draw(layer_kwargs(name), label="kwargs")
    x = data.draw(drives(name, dtypes=[torch.float64]), label="x").to(torch.bfloat16).float()  # held by every dtype
    dtype = data.draw(st.sampled_from([torch.float16, torch.bfloat16]), label="dtype")
    ref, half = _build(name, kw), _build(name, kw)
    for _ in range(data.draw(st.integers(1, 8), label="steps")):
        a, b = ref.step(x, n_winners=2), half.step(x.to(dtype), n_winners=2)
        assert b.spikes.dtype == dtype and torch.equal(a.spikes, b.spikes.float())
        assert torch.equal(a.winners, b.winners) and _finite(b.potentials)


# ----------------------------------------------------------------------------
# invalid parameters and inputs: an error naming the argument
# ----------------------------------------------------------------------------
def _bad_values(rule: str) -> List[Any]:
    bad: List[Any] = [NAN, INF, -INF, "x", True, torch.tensor([]), torch.zeros(2, dtype=torch.complex64)]
    bad += {"positive": [0.0, -1.0], "negative": [0.0, 1.0], "nonnegative": [-1e-9]}.get(rule, [])
    return bad


@pytest.mark.parametrize("name", MODELS)
@SOME
@given(data=st.data())
def test_invalid_parameters_are_refused_naming_them(name, data):
    kw = _base_kwargs(name)
    uniform = issubclass(sn.MODELS[name].cls, sn.HeterogeneousNeuron)
    choices = [(p, _bad_values(rule)) for p, _d, rule in accepted_params(name)]
    choices += [("ts", [0.0, -1e-3, NAN, INF, "x", True, 1e-310, torch.tensor(1e-3)]),
                ("refractory_timesteps", [-1, 1.5, "x", None]),
                ("inhibition_mode", ["x", 3]),
                ("threshold", [NAN, INF, "x", torch.ones(2)]),
                ("noise_std", [-1.0, NAN, "x"])]
    if uniform:
        choices += [("tau_range", [("a", "b"), (0.05, 0.01), (NAN, 0.1), (0.0, 0.1), (0.1,), "ab", (0.1, INF)]),
                    ("seed", [-1, 2**64, 1.5, "1", True]),
                    ("n_features", [0, -2, 1.5, True])]
    arg, values = data.draw(st.sampled_from(choices), label="argument")
    value = data.draw(st.sampled_from(values), label="value")
    kw[arg] = value
    with pytest.raises((ValueError, TypeError)) as info:
        layer = _build(name, kw)
        layer.step(torch.full((1, 2, 2, 2), 1.0))  # a refusal may come at the first call
    assert arg in str(info.value), f"{arg}={value!r}: {info.value}"


@pytest.mark.parametrize("name", MODELS)
@FEW
@given(data=st.data())
def test_invalid_inputs_are_refused_naming_them(name, data):
    layer = _build(name, _base_kwargs(name))
    x = torch.ones(2, 2, 3, 3)
    bad_x = [x[0], x.long(), x.to(torch.complex64), x.tolist(), x.clone().fill_(NAN),
             torch.where(torch.arange(36).view(2, 2, 3, 3) == data.draw(st.integers(0, 35)), INF, x)]
    which = data.draw(st.sampled_from(["potentials", "n_winners"]))
    if which == "potentials":
        with pytest.raises((ValueError, TypeError), match="potentials"):
            layer.step(data.draw(st.sampled_from(bad_x)))
    else:
        with pytest.raises((ValueError, TypeError), match="n_winners"):
            layer.step(x, n_winners=data.draw(st.sampled_from([-1, 1.5, True, "2", None])))


# ----------------------------------------------------------------------------
# simulation: simulate, save/load, tune_threshold
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", MODELS)
@FEW
@given(data=st.data())
def test_simulate_records_what_stepping_by_hand_gives(name, data):
    kw = data.draw(layer_kwargs(name), label="kwargs")
    x = data.draw(drives(name, dtypes=[torch.float32, torch.float64]), label="x")
    steps = data.draw(st.integers(0, 4), label="steps")
    eq = data.draw(st.integers(0, 2), label="equilibration_steps")
    layer = _build(name, kw)
    names = ["spikes", "potentials", "v", "refractory", "winners", "spike_count"]
    if layer.has_second_variable:
        names.append("w")
    record = data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=4, unique=True), label="record")
    rec = sim.simulate(layer, x, steps, equilibration_steps=eq, record=record, n_winners=2, progress=False)
    ref = _build(name, kw)
    for _ in range(eq):
        ref.step(x, n_winners=2)
    outs = []
    for _ in range(steps):
        o = ref.step(x, n_winners=2)
        outs.append(dict(o._asdict(), **{k: v for k, v in ref.get_state().items() if v is not None}))
    for r in record:
        if r == "spike_count":
            expected = sum((o["spikes"] != 0).long() for o in outs) if outs else None
            if expected is not None:
                assert torch.equal(rec[r], expected)
            continue
        if steps == 0:
            assert r not in rec or rec[r].shape[0] == 0
            continue
        expected = torch.stack([o[r] for o in outs])
        assert rec[r].shape == expected.shape and torch.equal(rec[r], expected), r


@pytest.mark.parametrize("name", MODELS)
@FEW
@given(data=st.data())
def test_save_load_round_trip_continues_identically(name, data):
    kw = data.draw(layer_kwargs(name), label="kwargs")
    x = data.draw(drives(name, dtypes=[torch.float32, torch.float64]), label="x")
    layer = _build(name, kw)
    for _ in range(data.draw(st.integers(0, 3), label="steps before")):
        layer.step(x)
    include_state = data.draw(st.booleans(), label="include_state")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "layer.pt")
        sim.save_layer(layer, path, include_state=include_state)
        clone = sim.load_layer(path)
    assert type(clone) is type(layer)
    a, b = layer.get_params(), clone.get_params()
    assert a.keys() == b.keys()
    for key in a:
        assert (torch.equal(a[key], b[key]) if isinstance(a[key], torch.Tensor) else a[key] == b[key]), key
    if not include_state:
        layer.reset()
    for _ in range(3):
        oa, ob = layer.step(x, n_winners=2), clone.step(x, n_winners=2)
        assert torch.equal(oa.spikes, ob.spikes) and torch.equal(oa.potentials, ob.potentials)
        assert torch.equal(oa.winners, ob.winners)


@FEW
@given(model=st.sampled_from(["IF", "LIF", "LIF_ode", "AdaptiveLIF"]), drive=st.floats(100.0, 3000.0),
       target=st.floats(5.0, 400.0), per_feature=st.booleans(), tol=st.floats(0.02, 0.3))
def test_tune_threshold_reports_a_rate_a_rerun_reproduces(model, drive, target, per_feature, tol):
    layer = sn.MODELS[model].cls(threshold=10.0, inhibition_mode="neuron")
    x = torch.full((1, 2, 2, 2), drive)
    res = sim.tune_threshold(layer, x, target, steps=40, tol=tol, iters=10, per_feature=per_feature)
    thr = res.threshold
    assert bool(torch.isfinite(torch.as_tensor(thr)).all()) and res.iterations >= 1
    rec = sim.simulate(layer, x, 40, record="spike_count", progress=False)
    rates = rec["spike_count"].double() / (40 * layer.ts)
    rate = rates.mean(dim=(0, 2, 3)) if per_feature else rates.mean()
    torch.testing.assert_close(torch.as_tensor(res.rate, dtype=torch.float64), rate)
    if res.converged:
        assert bool(((torch.as_tensor(res.rate) - target).abs() <= tol * target + 1e-9).all())


@SOME
@given(arg=st.sampled_from(["tol", "iters", "steps", "target_rate", "n_winners", "equilibration_steps"]),
       data=st.data())
def test_tune_threshold_refuses_bad_arguments_naming_them(arg, data):
    bad = {"tol": [NAN, 0.0, -0.1, INF, "x"], "iters": [-1, 1.5, "3"], "steps": [0, -1, 2.5, True],
           "target_rate": [NAN, INF, 0.0, -5.0, True, "50"], "n_winners": [-1, 0.5],
           "equilibration_steps": [-1, 1.5]}[arg]
    kw: Dict[str, Any] = dict(steps=20)
    value = data.draw(st.sampled_from(bad))
    target = value if arg == "target_rate" else 50.0
    if arg != "target_rate":
        kw[arg] = value
    with pytest.raises((ValueError, TypeError), match=arg):
        sim.tune_threshold(sn.LIF(threshold=10.0), torch.full((1, 1, 2, 2), 400.0), target, **kw)


@SOME
@given(data=st.data())
def test_damaged_files_load_validly_or_are_refused_naming_the_file(data):
    name = data.draw(st.sampled_from(MODELS), label="model")
    layer = _build(name, _base_kwargs(name))
    x = torch.full((1, 2, 2, 2), sn.MODELS[name].input_scale * 0.5)
    layer.step(x)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "layer.pt")
        sim.save_layer(layer, path, include_state=True)
        raw = bytearray(open(path, "rb").read())
        how = data.draw(st.sampled_from(["truncate", "flip", "garbage"]), label="damage")
        if how == "truncate":
            raw = raw[:data.draw(st.integers(0, len(raw) - 1), label="cut")]
        elif how == "flip":
            for i in data.draw(st.lists(st.integers(0, len(raw) - 1), min_size=1, max_size=8), label="at"):
                raw[i] ^= 0xFF
        else:
            raw = bytearray(data.draw(st.binary(min_size=0, max_size=256), label="bytes"))
        with open(path, "wb") as f:
            f.write(bytes(raw))
        try:
            clone = sim.load_layer(path)
        except ValueError as exc:
            assert path in str(exc)
            return
    # the damage left a loadable file: it must hold a valid layer
    o = clone.step(x)
    assert _finite(o.potentials) and _finite(o.spikes)
