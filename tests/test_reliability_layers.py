"""Neuron layers and simulation work or refuse clearly (issue 10, part 2).

One case per bug class of the issue for ``neurons`` and ``simulation``: odd but
plausible input either gives a valid, finite result (checked against a hand-built
expectation) or raises ``ValueError``/``TypeError`` whose message names the
offending argument (for files: the file). Half precision is checked against
float32 for every registered model. Property-based tests of the same API are in
``test_reliability_layer_properties.py``.
"""
from typing import Any, Callable, Dict, List, Tuple

import pytest
import torch

import spyketorch.neurons as sn
import spyketorch.analysis.simulation as sim

NAN, INF = float("nan"), float("inf")
HALF = [torch.float16, torch.bfloat16]


def refuses(exc, *words: str):
    """Expectation: ``exc`` is raised and its message contains every one of ``words``."""
    return ("raises", exc, words)


def gives(check: Callable[[Any], bool]):
    """Expectation: a result for which ``check(result)`` holds."""
    return ("ok", check)


def _x(value: float = 2000.0, shape=(1, 1, 2, 2), dtype=torch.float32) -> torch.Tensor:
    return torch.full(shape, value, dtype=dtype)


def _spikes_max(layer: sn.Neuron, x: torch.Tensor) -> float:
    return float(layer.step(x).spikes.max())


def _refractory_after(dtype: torch.dtype, R: int, steps: int) -> float:
    """One IF neuron driven to fire at every free step, inhibited for ``R`` steps."""
    layer = sn.IF(threshold=1.0, refractory_timesteps=R, inhibition_mode="neuron")
    for _ in range(steps):
        layer.step(_x(2000.0, (1, 1, 1, 1), dtype))
    return float(layer.get_state()["refractory"])


def _uniform_ts_then_set(value: float) -> None:
    layer = sn.UniformEIF(threshold=1.0, tau_range=(0.01, 0.05))
    layer.ts = value


def _load_state(**state) -> None:
    sn.AdEx(threshold=1.0).load_state(state)


def _load_state_dict(**changes) -> sn.LIF:
    layer = sn.LIF(threshold=1.0)
    sd = layer.state_dict()
    sd.update(changes)
    layer.load_state_dict(sd)
    return layer


def _tune(**kwargs) -> sim.TuneResult:
    args: Dict[str, Any] = dict(layer=sn.LIF(threshold=10.0, inhibition_mode="neuron"),
                                inputs=torch.full((1, 1, 2, 2), 400.0), target_rate=50.0, steps=40)
    args.update(kwargs)
    return sim.tune_threshold(args.pop("layer"), args.pop("inputs"), args.pop("target_rate"), **args)


def _simulate(**kwargs) -> Dict[str, torch.Tensor]:
    args: Dict[str, Any] = dict(steps=3, progress=False)
    args.update(kwargs)
    return sim.simulate(sn.LIF(threshold=10.0), torch.full((1, 1, 2, 2), 400.0), **args)


CASES: List[Tuple[str, Callable[[], Any], Tuple]] = [
    # ---- parameters that overflow the input dtype (checked at the first call)
    ("ts=1e-300, float32 input", lambda: _spikes_max(sn.LIF(threshold=1.0, ts=1e-300), _x()),
     refuses(ValueError, "ts", "torch.float32")),
    ("ts=1e-5, float16 input", lambda: _spikes_max(sn.IF(threshold=1.0, ts=1e-5), _x(dtype=torch.float16)),
     refuses(ValueError, "ts", "torch.float16")),
    ("ts=1e-5, float32 input works", lambda: _spikes_max(sn.IF(threshold=0.01, ts=1e-5), _x()),
     gives(lambda m: m == pytest.approx(1e5))),
    ("ts=1e-300, float64 input works", lambda: _spikes_max(sn.IF(threshold=1.0, ts=1e-300, C=1e-300),
                                                           _x(dtype=torch.float64)),
     gives(lambda m: m == pytest.approx(1e300))),
    ("ts whose 1/ts overflows float64", lambda: sn.LIF(threshold=1.0, ts=1e-310), refuses(ValueError, "ts")),
    ("C=1e-300, float32 input", lambda: sn.IF(threshold=1.0, C=1e-300).step(_x()),
     refuses(ValueError, "C=1e-300", "torch.float32")),
    ("refractory count past float32's integers", lambda: sn.IF(threshold=1.0, refractory_timesteps=2**25).step(_x()),
     refuses(ValueError, "refractory_timesteps", "torch.float32")),
    ("refractory count past float32's integers, float64 input",
     lambda: _refractory_after(torch.float64, 2**25, 3), gives(lambda r: r == 2**25 - 2)),
    # ---- half precision: counters and state in float32
    ("bfloat16 refractory counts down from 300", lambda: _refractory_after(torch.bfloat16, 300, 305),
     gives(lambda r: r == 297.0)),
    ("float16 refractory of 70000 steps", lambda: _refractory_after(torch.float16, 70000, 3),
     gives(lambda r: r == 69998.0)),
    ("float16 IF reaches threshold 30", lambda: _spikes_max(sn.IF(threshold=30.0, C=0.01), _x(400.0, dtype=torch.float16)),
     gives(lambda m: m == 1000.0)),
    ("float16 input gives float16 outputs", lambda: sn.LIF(threshold=1.0).step(_x(dtype=torch.float16)).potentials.dtype,
     gives(lambda t: t == torch.float16)),
    # ---- Izhikevich reset: c and its alias v_reset
    # issue 25: zero-size maps step like empty batches; parameters whose step overflows are refused
    ("zero-size map [2, 2, 0, 3], k=1", lambda: [tuple(t.shape) for t in sn.LIF(threshold=1.0).step(
        torch.zeros(2, 2, 0, 3), n_winners=1)],
     gives(lambda shapes: shapes == [(2, 2, 0, 3)] * 4 + [(2, 1, 3), (2, 2, 0, 3)])),
    ("zero-size map, location mode", lambda: sn.AdEx(threshold=1.0, inhibition_mode="location").step(
        torch.zeros(2, 2, 3, 0), n_winners=2).winners.tolist(), gives(lambda w: w == [[[-1, -1, -1]] * 2] * 2)),
    ("Izhikevich a=1e30 (its Euler step of u overshoots)", lambda: sn.Izhikevich(a=1e30),
     refuses(ValueError, "second variable", "ts")),
    ("Izhikevich resting_potential=1e30, float32 input", lambda: sn.Izhikevich(resting_potential=1e30).step(_x(1.0)),
     refuses(ValueError, "resting_potential=1e+30", "torch.float32")),
    ("UniformIzhikevich tau_range=(1e-30, 1e-29)", lambda: sn.UniformIzhikevich(tau_range=(1e-30, 1e-29)).step(_x(1.0)),
     refuses(ValueError, "second variable")),
    ("Izhikevich b that does not broadcast names b", lambda: sn.Izhikevich(b=torch.tensor([0.2, 0.2, 0.2])).step(
        _x(1.0, (1, 2, 2, 2))), refuses(ValueError, "b has shape")),
    ("Izhikevich v_reset=nan with c", lambda: sn.Izhikevich(c=-65.0, v_reset=NAN), refuses(ValueError, "v_reset")),
    ("Izhikevich v_reset='a'", lambda: sn.Izhikevich(v_reset="a"), refuses(TypeError, "v_reset")),
    ("Izhikevich v_reset alone sets the reset (the fork's experiments.py)",
     lambda: sn.Izhikevich(threshold=-40.0, resting_potential=-65.0, v_reset=-55.0, d=4.0).get_params()["c"],
     gives(lambda c: c == -55.0)),
    ("Izhikevich v_reset disagrees with c", lambda: sn.Izhikevich(c=-65.0, v_reset=-50.0),
     refuses(ValueError, "v_reset", "c=")),
    ("Izhikevich v_reset with c=None", lambda: sn.Izhikevich(c=None, v_reset=-50.0).get_params()["c"],
     gives(lambda c: c == -50.0)),
    ("Izhikevich v_reset equal to c", lambda: sn.Izhikevich(c=-60.0, v_reset=-60.0).get_params()["c"],
     gives(lambda c: c == -60.0)),
    # ---- Uniform layers: every check at construction, naming what the user passed
    ("UniformIzhikevich ts=0.01", lambda: sn.UniformIzhikevich(ts=0.01), refuses(ValueError, "ts=0.01")),
    ("UniformAdEx tau_w < ts", lambda: sn.UniformAdEx(threshold=1.0, ts=0.002, tau_w=0.001),
     refuses(ValueError, "tau_w")),
    ("UniformEIF ts >= tau_range[0]", lambda: sn.UniformEIF(threshold=1.0, ts=0.02, tau_range=(0.01, 0.05)),
     refuses(ValueError, "tau_range")),
    ("UniformEIF ts set past tau_range[0]", lambda: _uniform_ts_then_set(0.05), refuses(ValueError, "tau_range")),
    ("UniformEIF set_taus below ts", lambda: sn.UniformEIF(threshold=1.0, n_features=2).set_taus(1e-4),
     refuses(ValueError, "taus")),
    ("tau_range=('a', 'b')", lambda: sn.UniformLIF(threshold=1.0, tau_range=("a", "b")), refuses(TypeError, "tau_range")),
    ("tau_range reversed", lambda: sn.UniformLIF(threshold=1.0, tau_range=(0.05, 0.01)), refuses(ValueError, "tau_range")),
    ("tau_range nan", lambda: sn.UniformLIF(threshold=1.0, tau_range=(NAN, 0.01)), refuses(ValueError, "tau_range")),
    ("tau_range inf", lambda: sn.UniformLIF(threshold=1.0, tau_range=(0.01, INF)), refuses(ValueError, "tau_range")),
    ("tau_range from 0", lambda: sn.UniformLIF(threshold=1.0, tau_range=(0.0, 0.01)), refuses(ValueError, "tau_range")),
    ("tau_range of one value", lambda: sn.UniformLIF(threshold=1.0, tau_range=(0.01,)), refuses(TypeError, "tau_range")),
    ("seed=10**30", lambda: sn.UniformLIF(threshold=1.0, seed=10**30, n_features=2), refuses(ValueError, "seed")),
    ("seed=-1", lambda: sn.UniformLIF(threshold=1.0, seed=-1, n_features=2), refuses(ValueError, "seed")),
    ("seed=1.5", lambda: sn.UniformLIF(threshold=1.0, seed=1.5, n_features=2), refuses(TypeError, "seed")),
    ("seed='1'", lambda: sn.UniformLIF(threshold=1.0, seed="1", n_features=2), refuses(TypeError, "seed")),
    ("seed=2**64-1 works", lambda: sn.UniformLIF(threshold=1.0, seed=2**64 - 1, n_features=2).taus.shape,
     gives(lambda s: s == (2, 1, 1))),
    ("generator=3", lambda: sn.UniformLIF(threshold=1.0, generator=3, n_features=2), refuses(TypeError, "generator")),
    ("n_features=0", lambda: sn.UniformLIF(threshold=1.0, n_features=0), refuses(ValueError, "n_features")),
    ("n_features=2.0", lambda: sn.UniformLIF(threshold=1.0, n_features=2.0), refuses(TypeError, "n_features")),
    # ---- empty parameter tensors
    ("tau_rc=tensor([])", lambda: sn.LIF(threshold=1.0, tau_rc=torch.tensor([])), refuses(ValueError, "tau_rc", "empty")),
    ("per_neuron_thresh=empty", lambda: sn.IF(threshold=1.0, per_neuron_thresh=torch.empty(0, 1, 1)),
     refuses(ValueError, "per_neuron_thresh")),
    ("set_taus(tensor([]))", lambda: sn.UniformLIF(threshold=1.0).set_taus(torch.tensor([])), refuses(ValueError, "taus")),
    # ---- derived parameters name what the user passed
    ("EIF theta_rh without threshold", lambda: sn.EIF(threshold=None).step(_x()), refuses(ValueError, "threshold")),
    ("LIF_Simple per_neuron_threshold=nan", lambda: sn.LIF_Simple(threshold=1.0, per_neuron_threshold=torch.tensor([NAN])),
     refuses(ValueError, "per_neuron_threshold")),
    ("LIF_Simple both threshold names", lambda: sn.LIF_Simple(threshold=1.0, per_neuron_threshold=1.0,
                                                              per_neuron_thresh=1.0),
     refuses(TypeError, "per_neuron_threshold")),
    # ---- huge n_winners allocates nothing by it
    ("n_winners=10**15", lambda: sn.LIF(threshold=1.0).step(_x(shape=(2, 3, 2, 2)), n_winners=10**15).winners.shape,
     gives(lambda s: s == (2, 3, 3))),
    ("n_winners=10**15, reference call", lambda: sn.LIF(threshold=1.0)(_x(shape=(1, 3, 2, 2)), n_winners=10**15)[2],
     gives(lambda w: w == [(0, 0, 0), (1, 0, 0), (2, 0, 0)])),
    # ---- load_state and load_state_dict
    ("load_state NaN v", lambda: _load_state(v=torch.full((1, 1, 2, 2), NAN)), refuses(ValueError, "state['v']")),
    ("load_state integer v", lambda: _load_state(v=torch.zeros(1, 1, 2, 2, dtype=torch.long)),
     refuses(TypeError, "state['v']")),
    ("load_state 3-D v", lambda: _load_state(v=torch.zeros(1, 2, 2)), refuses(ValueError, "state['v']")),
    ("load_state refractory shape", lambda: _load_state(v=torch.zeros(1, 1, 2, 2), refractory=torch.zeros(3)),
     refuses(ValueError, "state['refractory']")),
    ("load_state negative refractory", lambda: _load_state(v=torch.zeros(1, 1, 2, 2), refractory=-torch.ones(1, 1, 2, 2)),
     refuses(ValueError, "state['refractory']")),
    ("load_state fractional refractory", lambda: _load_state(v=torch.zeros(1, 1, 2, 2),
                                                             refractory=torch.full((1, 1, 2, 2), 0.5)),
     refuses(ValueError, "state['refractory']")),
    ("load_state inf w", lambda: _load_state(v=torch.zeros(1, 1, 2, 2), w=torch.full((1, 1, 2, 2), INF)),
     refuses(ValueError, "state['w']")),
    ("load_state not a dict", lambda: sn.LIF(threshold=1.0).load_state([1]),
     refuses(TypeError, "state")),
    ("load_state float16 v kept in float32", lambda: _state_dtype_after_half_load(),
     gives(lambda d: d == torch.float32)),
    ("load_state_dict negative tau_rc", lambda: _load_state_dict(tau_rc=torch.tensor(-1.0, dtype=torch.float64)),
     refuses(ValueError, "tau_rc")),
    ("load_state_dict C=0", lambda: _load_state_dict(C=torch.tensor(0.0, dtype=torch.float64)), refuses(ValueError, "C")),
    ("load_state_dict NaN rest", lambda: _load_state_dict(resting_potential=torch.tensor(NAN, dtype=torch.float64)),
     refuses(ValueError, "resting_potential")),
    ("load_state_dict keeps the layer on refusal", lambda: _refused_load_keeps_layer(), gives(lambda ok: ok)),
    # ---- tune_threshold
    ("tune tol=nan", lambda: _tune(tol=NAN), refuses(ValueError, "tol")),
    ("tune tol=0", lambda: _tune(tol=0.0), refuses(ValueError, "tol")),
    ("tune tol='0.1'", lambda: _tune(tol="0.1"), refuses(TypeError, "tol")),
    ("tune iters=-1", lambda: _tune(iters=-1), refuses(ValueError, "iters")),
    ("tune iters=1.5", lambda: _tune(iters=1.5), refuses(TypeError, "iters")),
    ("tune steps=0", lambda: _tune(steps=0), refuses(ValueError, "steps")),
    ("tune target nan", lambda: _tune(target_rate=NAN), refuses(ValueError, "target_rate")),
    ("tune target -inf", lambda: _tune(target_rate=-INF), refuses(ValueError, "target_rate")),
    ("tune target True", lambda: _tune(target_rate=True), refuses(TypeError, "target_rate")),
    ("tune of a non-layer", lambda: _tune(layer=torch.nn.Identity()), refuses(TypeError, "layer")),
    ("tune on an empty sequence", lambda: _tune(inputs=torch.zeros(0, 1, 1, 2, 2), steps=None),
     refuses(ValueError, "inputs")),
    ("tune iters=0 works", lambda: _tune(iters=0), gives(lambda r: r.iterations >= 1 and r.threshold == r.threshold)),
    # ---- simulate
    ("simulate steps=-1", lambda: _simulate(steps=-1), refuses(ValueError, "steps")),
    ("simulate steps=1.5", lambda: _simulate(steps=1.5), refuses(TypeError, "steps")),
    ("simulate steps=True", lambda: _simulate(steps=True), refuses(TypeError, "steps")),
    ("simulate equilibration_steps=-2", lambda: _simulate(equilibration_steps=-2),
     refuses(ValueError, "equilibration_steps")),
    ("simulate n_winners=-1", lambda: _simulate(n_winners=-1), refuses(ValueError, "n_winners")),
    ("simulate record=5", lambda: _simulate(record=5), refuses(TypeError, "record")),
    ("simulate record=[1]", lambda: _simulate(record=[1]), refuses(TypeError, "record")),
    ("simulate spikes_dtype='bool'", lambda: _simulate(spikes_dtype="bool"), refuses(TypeError, "spikes_dtype")),
    ("simulate equilibration_input=nan", lambda: _simulate(equilibration_steps=1, equilibration_input=NAN),
     refuses(ValueError, "equilibration_input")),
    ("simulate sequence='yes'", lambda: _simulate(sequence="yes"), refuses(TypeError, "sequence")),
    ("simulate steps=0", lambda: _simulate(steps=0, record=("spikes", "v")),
     gives(lambda rec: rec == {} or all(v.shape[0] == 0 for v in rec.values()))),
]


def _state_dtype_after_half_load() -> torch.dtype:
    layer = sn.LIF(threshold=1.0)
    layer.load_state({"v": torch.zeros(1, 1, 2, 2, dtype=torch.float16)})
    layer.step(_x(dtype=torch.float16))
    return layer.get_state()["v"].dtype


def _refused_load_keeps_layer() -> bool:
    layer = sn.LIF(threshold=1.0, tau_rc=0.03, C=0.5)
    sd = layer.state_dict()
    sd.update(tau_rc=torch.tensor(0.05, dtype=torch.float64), C=torch.tensor(-1.0, dtype=torch.float64))
    with pytest.raises(ValueError, match="C"):
        layer.load_state_dict(sd)
    return float(layer.tau_rc) == 0.03 and float(layer.C) == 0.5


@pytest.mark.parametrize("name, call, expectation", CASES, ids=[c[0] for c in CASES])
def test_layer_entry_point_works_or_refuses_clearly(name, call, expectation):
    if expectation[0] == "raises":
        _, exc, words = expectation
        with pytest.raises(exc) as info:
            call()
        for word in words:
            assert word in str(info.value), f"message does not name {word!r}: {info.value}"
    else:
        assert expectation[1](call()), f"{name}: unexpected result"


# ----------------------------------------------------------------------------
# half precision: every registered model fires as in float32
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", HALF, ids=str)
@pytest.mark.parametrize("name", list(sn.MODELS))
def test_half_precision_fires_as_float32(name, dtype):
    spec = sn.MODELS[name]
    g = torch.Generator().manual_seed(3)
    # a drive that every dtype holds exactly (bfloat16 has the fewest significant bits)
    x = (torch.rand(2, 3, 3, 3, generator=g) * spec.input_scale).to(torch.bfloat16).float()
    runs = {}
    for dt in (torch.float32, dtype):
        layer = spec.build(n_features=3)
        outs = [layer.step(x.to(dt), n_winners=2) for _ in range(40)]
        runs[dt] = outs
        assert all(o.spikes.dtype == dt and o.potentials.dtype == dt for o in outs)
        assert all(bool(torch.isfinite(o.potentials.float()).all()) for o in outs)
    ref, half = runs[torch.float32], runs[dtype]
    n_spikes = sum(int(o.spikes.count_nonzero()) for o in ref)
    assert n_spikes > 0, "the drive must make the layer fire"
    for t, (a, b) in enumerate(zip(ref, half)):
        assert torch.equal(a.spikes, b.spikes.float()), f"spike steps differ at step {t}"
        assert torch.equal(a.winners, b.winners)
        # potentials agree to the precision of the output dtype
        tol = 2 * torch.finfo(dtype).eps * (1 + a.potentials.abs())
        assert bool(((a.potentials - b.potentials.float()).abs() <= tol).all())


@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_izhikevich_and_if_with_threshold_30_fire_in_half_precision(dtype):
    # the 2003 model with the 30 mV cut-off: one spike every ~4 ms under this drive
    layer = sn.Izhikevich()
    spikes = [float(layer.step(torch.full((1, 1, 1, 1), 40.0, dtype=dtype)).spikes) for _ in range(40)]
    ref = sn.Izhikevich()
    expected = [float(ref.step(torch.full((1, 1, 1, 1), 40.0)).spikes) for _ in range(40)]
    assert spikes == expected and sum(s > 0 for s in expected) >= 5
    # IF: u rises by ts/C * I = 0.001/0.01 * 100 = 10 per step, so it reaches 30 at the 3rd step
    if_layer = sn.IF(threshold=30.0, C=0.01, refractory_timesteps=0)
    fired = [float(if_layer.step(torch.full((1, 1, 1, 1), 100.0, dtype=dtype)).spikes) for _ in range(6)]
    assert fired == [0.0, 0.0, 1000.0, 0.0, 0.0, 1000.0]


@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_half_precision_refractory_counter_counts_exactly(dtype):
    # a neuron that fires whenever it is free, inhibited for R steps: period R + 1
    R = 300
    layer = sn.IF(threshold=1.0, refractory_timesteps=R, inhibition_mode="neuron")
    x = torch.full((1, 1, 1, 1), 2000.0, dtype=dtype)
    steps = [t for t in range(2 * R + 4) if float(layer.step(x).spikes) > 0]
    assert steps == [0, R + 1, 2 * (R + 1)]


# ----------------------------------------------------------------------------
# corrupted files
# ----------------------------------------------------------------------------
@pytest.fixture
def saved(tmp_path):
    """A valid AdEx file with state, and a writer of variants of it."""
    g = torch.Generator().manual_seed(4)
    layer = sn.AdEx(threshold=10.0)
    layer.step(torch.rand(1, 2, 3, 3, generator=g) * 3000)
    path = tmp_path / "good.pt"
    sim.save_layer(layer, path, include_state=True)

    def variant(name: str, edit=None, data: bytes = None) -> str:
        p = tmp_path / name
        if data is not None:
            p.write_bytes(data)
        else:
            payload = torch.load(path, weights_only=True)
            edit(payload)
            torch.save(payload, p)
        return str(p)

    return str(path), variant


def _pop(*keys):
    def edit(payload):
        d = payload
        for k in keys[:-1]:
            d = d[k]
        d.pop(keys[-1])
    return edit


def _set(value, *keys):
    def edit(payload):
        d = payload
        for k in keys[:-1]:
            d = d[k]
        d[keys[-1]] = value(d[keys[-1]]) if callable(value) else value
    return edit


FILE_CASES = [
    ("empty", dict(data=b""), "not a readable"),
    ("text", dict(data=b"threshold = 10\nts = 0.001\n"), "not a readable"),
    ("random bytes", dict(data=bytes(torch.randint(0, 256, (2048,), generator=torch.Generator().manual_seed(5),
                                                  dtype=torch.uint8).tolist())), "not a readable"),
    ("not a layer file", dict(edit=_set("other", "format")), "not a spyketorch layer file"),
    ("newer version", dict(edit=_set(99, "version")), "version"),
    ("version not a number", dict(edit=_set("1", "version")), "version"),
    ("no class", dict(edit=_pop("class")), "class"),
    ("abstract class Neuron", dict(edit=_set("Neuron", "class")), "Neuron"),
    ("abstract HeterogeneousNeuron", dict(edit=_set("HeterogeneousNeuron", "class")), "HeterogeneousNeuron"),
    ("class not a string", dict(edit=_set(3, "class")), "class"),
    ("no state_dict", dict(edit=_pop("state_dict")), "state_dict"),
    ("state_dict missing tau_rc", dict(edit=_pop("state_dict", "tau_rc")), "tau_rc"),
    ("settings missing ts", dict(edit=_pop("state_dict", "_extra_state", "ts")), "ts"),
    ("NaN state", dict(edit=_set(lambda v: torch.full_like(v, NAN), "state", "v")), "state['v']"),
    ("state of another shape", dict(edit=_set(torch.zeros(3), "state", "w")), "state['w']"),
    ("negative tau_rc", dict(edit=_set(torch.tensor(-0.02, dtype=torch.float64), "state_dict", "tau_rc")), "tau_rc"),
    ("C=0", dict(edit=_set(torch.tensor(0.0, dtype=torch.float64), "state_dict", "C")), "C"),
    ("negative C (issue 25)", dict(edit=_set(torch.tensor(-0.281, dtype=torch.float64), "state_dict", "C")), "C must be > 0"),
    ("per-map tau_rc with a negative entry", dict(edit=_set(torch.tensor([[[0.02]], [[-0.01]]], dtype=torch.float64),
                                                            "state_dict", "tau_rc")), "tau_rc must be > 0"),
    ("NaN threshold", dict(edit=_set(NAN, "state_dict", "_extra_state", "threshold")), "threshold"),
    ("tau_w below ts", dict(edit=_set(torch.tensor(1e-4, dtype=torch.float64), "state_dict", "tau_w")), "tau_w"),
]


@pytest.mark.parametrize("name, how, word", FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_load_layer_refuses_bad_files_naming_file_and_fault(saved, name, how, word):
    good, variant = saved
    path = variant(name.replace(" ", "_") + ".pt", **how)
    with pytest.raises(ValueError) as info:
        sim.load_layer(path)
    assert path in str(info.value) and word in str(info.value), str(info.value)


def test_load_layer_refuses_every_truncation_of_a_valid_file(saved):
    good, variant = saved
    data = open(good, "rb").read()
    for i, cut in enumerate(range(0, len(data), max(1, len(data) // 23))):
        path = variant(f"cut{i}.pt", data=data[:cut])
        with pytest.raises(ValueError, match="not a readable"):
            sim.load_layer(path)
    assert isinstance(sim.load_layer(good), sn.AdEx)  # the file itself is fine


def test_load_layer_of_a_uniform_layer_without_tau_range(tmp_path):
    path = str(tmp_path / "u.pt")
    sim.save_layer(sn.UniformLIF(threshold=1.0, seed=0, n_features=2), path)
    payload = torch.load(path, weights_only=True)
    payload["attrs"].pop("tau_range")
    torch.save(payload, path)
    with pytest.raises(ValueError, match="tau_range") as info:
        sim.load_layer(path)
    assert path in str(info.value)


def test_load_layer_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        sim.load_layer(tmp_path / "nope.pt")


@pytest.mark.parametrize("kwargs, dtype, word", [
    (dict(resting_potential=1e300), torch.float32, "resting_potential"),
    (dict(v_reset=torch.full((2, 1, 1), -1e300, dtype=torch.float64)), torch.float32, "v_reset"),
    (dict(threshold=1e300), torch.float32, "threshold"),
    (dict(resting_potential=1e5), torch.float16, "resting_potential"),
    (dict(per_neuron_thresh=torch.full((2, 1, 1), 3e4, dtype=torch.float64)), torch.float16, "per_neuron_thresh"),
])
def test_parameters_beyond_the_dtype_are_refused_at_the_first_call(kwargs, dtype, word):
    layer = sn.LIF(**{"threshold": 1.0, **kwargs})  # valid in float64: construction accepts them
    with pytest.raises(ValueError, match=word) as info:
        layer.step(torch.ones(1, 2, 2, 2, dtype=dtype))
    assert str(dtype) in str(info.value)
    out = layer.step(torch.ones(1, 2, 2, 2, dtype=torch.float64))  # float64 holds them
    assert bool(torch.isfinite(out.potentials).all())
