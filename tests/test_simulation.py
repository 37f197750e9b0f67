"""Tests of spyketorch.analysis.simulation: simulate/run, f-I curves, threshold tuning, save/load."""
from __future__ import annotations

import copy
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

import spyketorch.neurons as sn
from spyketorch.analysis import simulation as sim


def manual_run(layer, xs, n_winners=1):
    """Reference loop: step() once per input, collecting every output and the state."""
    out = {k: [] for k in ("spikes", "potentials", "winners", "v", "refractory", "w")}
    for x in xs:
        o = layer.step(x, n_winners=n_winners)
        out["spikes"].append(o.spikes.clone())
        out["potentials"].append(o.potentials.clone())
        out["winners"].append(o.winners.clone())
        out["v"].append(layer.v.clone())
        out["refractory"].append(layer.refractory.clone())
        if layer.w is not None:
            out["w"].append(layer.w.clone())
    return {k: torch.stack(v) for k, v in out.items() if v}


def rand_input(shape, scale, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=g) * scale


# ---------------------------------------------------------------------------- simulate
def test_simulate_constant_input_matches_manual_loop():
    layer = sn.LIF(threshold=10.0, ts=1e-3, refractory_timesteps=2, inhibition_mode="feature")
    ref = copy.deepcopy(layer)
    x = rand_input((2, 3, 4, 4), 900.0)
    rec = sim.simulate(layer, x, 40, record=("spikes", "potentials", "v", "refractory", "winners"),
                       n_winners=2, progress=False)
    exp = manual_run(ref, [x] * 40, n_winners=2)
    assert set(rec) == {"spikes", "potentials", "v", "refractory", "winners"}
    for k in rec:
        assert rec[k].shape[0] == 40
        assert torch.equal(rec[k], exp[k]), k
    assert rec["winners"].dtype == torch.long and rec["winners"].shape == (40, 2, 2, 3)
    assert rec["spikes"].ne(0).any()  # the run really fired
    # the layer keeps its state: a further run continues (as Rockpool's evolve)
    rec2 = sim.simulate(layer, x, 5, record=("v",), n_winners=2, progress=False)
    exp2 = manual_run(ref, [x] * 5, n_winners=2)
    assert torch.equal(rec2["v"], exp2["v"])


def test_run_is_simulate():
    assert sim.run is sim.simulate


def test_simulate_sequence_and_stimulus():
    seq = rand_input((25, 1, 2, 3, 3), 1500.0, seed=1)
    layer = sn.AdEx(threshold=10.0)
    ref = copy.deepcopy(layer)
    rec = sim.simulate(layer, seq, record=("spikes", "v", "adaptation"), progress=False)
    exp = manual_run(ref, list(seq))
    assert rec["v"].shape == (25, 1, 2, 3, 3)
    assert "w" in rec and "adaptation" not in rec  # alias stored under the state's name
    for k in ("spikes", "v", "w"):
        assert torch.equal(rec[k], exp[k]), k
    # a stimulus function of t, alone or added to a constant input
    base = rand_input((1, 2, 3, 3), 500.0, seed=2)

    def stim(t):
        return base * (1.0 + 0.1 * t)

    a = sim.simulate(sn.LIF(threshold=10.0), None, 20, stimulus=stim, record=("v",), progress=False)
    b = sim.simulate(sn.LIF(threshold=10.0), stim, 20, record=("v",), progress=False)
    exp = manual_run(sn.LIF(threshold=10.0), [stim(t) for t in range(20)])
    assert torch.equal(a["v"], exp["v"]) and torch.equal(b["v"], exp["v"])
    c = sim.simulate(sn.LIF(threshold=10.0), base, 20, stimulus=stim, record=("v",), progress=False)
    exp = manual_run(sn.LIF(threshold=10.0), [base + stim(t) for t in range(20)])
    assert torch.equal(c["v"], exp["v"])
    # part of a sequence
    d = sim.simulate(sn.AdEx(threshold=10.0), seq, 10, record=("v",), progress=False)
    assert d["v"].shape[0] == 10


def test_equilibration_steps_are_run_but_not_recorded():
    x = rand_input((1, 2, 3, 3), 800.0)
    layer = sn.LIF(threshold=10.0, inhibition_mode="neuron")
    rec = sim.simulate(layer, x, 30, equilibration_steps=20, record=("v", "spikes"), progress=False)
    exp = manual_run(sn.LIF(threshold=10.0, inhibition_mode="neuron"), [x] * 50)
    assert rec["v"].shape[0] == 30
    assert torch.equal(rec["v"], exp["v"][20:])
    # explicit equilibration input (relax without drive)
    rec0 = sim.simulate(sn.LIF(threshold=10.0), x, 10, equilibration_steps=5, equilibration_input=0.0,
                        record=("v",), progress=False)
    exp0 = manual_run(sn.LIF(threshold=10.0), [torch.zeros_like(x)] * 5 + [x] * 10)
    assert torch.equal(rec0["v"], exp0["v"][5:])


def test_record_only_what_is_asked_and_spike_count():
    x = rand_input((2, 2, 4, 4), 900.0)
    layer = sn.LIF(threshold=10.0, inhibition_mode="neuron")
    rec = sim.simulate(layer, x, 50, record=("spike_count",), progress=False)
    assert set(rec) == {"spike_count"} and rec["spike_count"].shape == (2, 2, 4, 4)
    full = sim.simulate(sn.LIF(threshold=10.0, inhibition_mode="neuron"), x, 50, record=("spikes",),
                        spikes_dtype=torch.bool, progress=False)
    assert full["spikes"].dtype == torch.bool
    assert torch.equal(full["spikes"].sum(0), rec["spike_count"])
    assert int(rec["spike_count"].sum()) > 0


def test_record_validation():
    x = torch.ones(1, 1, 2, 2)
    with pytest.raises(ValueError, match="no adaptation"):
        sim.simulate(sn.LIF(threshold=1.0), x, 3, record=("w",), progress=False)
    with pytest.raises(ValueError, match="cannot record"):
        sim.simulate(sn.LIF(threshold=1.0), x, 3, record=("nonsense",), progress=False)
    with pytest.raises(ValueError, match="steps is required"):
        sim.simulate(sn.LIF(threshold=1.0), x, progress=False)
    with pytest.raises(ValueError, match="exceeds"):
        sim.simulate(sn.LIF(threshold=1.0), torch.ones(3, 1, 1, 2, 2), 5, progress=False)
    with pytest.raises(TypeError):
        sim.simulate(sn.LIF(threshold=1.0), "x", 5, progress=False)


def test_callable_network_and_submodule_state():
    torch.manual_seed(0)
    weight = torch.rand(3, 2, 3, 3)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lif = sn.LIF(threshold=5.0, inhibition_mode="neuron")

        def forward(self, x):
            o = self.lif.step(torch.nn.functional.conv2d(x, weight) * 200.0)
            return {"spikes": o.spikes, "potentials": o.potentials}

    x = (torch.rand(1, 2, 6, 6) > 0.5).float()
    net = Net()
    rec = sim.simulate(net, x, 12, record=("spikes", "lif.v", "lif.refractory", "spike_count"), progress=False)
    assert rec["spikes"].shape == (12, 1, 3, 4, 4)
    assert torch.equal(rec["lif.v"][-1], net.lif.v)
    assert torch.equal(rec["spike_count"], rec["spikes"].ne(0).sum(0))
    # record everything a plain function returns
    lif = sn.LIF(threshold=5.0)
    rec = sim.simulate(lambda z: lif.step(z), x, 4, record=None, progress=False)
    assert set(rec) == {"spikes", "potentials", "thresholded", "dudt", "winners", "winning_spikes"}
    rec = sim.simulate(lambda z: z * 2, x, 3, record="all", progress=False)
    assert torch.equal(rec["output"], (x * 2).expand(3, *x.shape))
    with pytest.raises(KeyError):
        sim.simulate(net, x, 2, record=("missing",), progress=False)


def test_reset_flag_and_progress_bar(capsys):
    x = torch.full((1, 1, 1, 1), 400.0)
    layer = sn.LIF(threshold=10.0)
    a = sim.simulate(layer, x, 5, record=("v",), progress=False)
    b = sim.simulate(layer, x, 5, record=("v",), reset=True, progress=False)
    assert torch.equal(a["v"], b["v"])
    capsys.readouterr()
    sim.simulate(layer, x, 5, record=("v",), progress=False)
    assert capsys.readouterr().err == ""
    sim.simulate(layer, x, 5, record=("v",), progress=True)
    assert "simulate" in capsys.readouterr().err


def test_firing_rate():
    s = torch.tensor([[1.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert torch.equal(sim.firing_rate(s, ts=0.001), torch.tensor([500.0, 250.0], dtype=torch.float64))


# ---------------------------------------------------------------------------- f-I curves
def test_lif_rate_formula():
    tau, C, thr, t_ref = 0.02, 0.281, 10.0, 0.002
    I = torch.tensor([0.0, 100.0, 140.0, 300.0], dtype=torch.float64)
    r = sim.lif_rate(I, tau, thr, C=C, t_ref=t_ref)
    RI = tau / C * 300.0
    assert r[:3].eq(0).all()  # at or below rheobase C*thr/tau = 140.5
    assert r[3].item() == pytest.approx(1.0 / (t_ref + tau * math.log(RI / (RI - thr))), rel=1e-12)
    # the perfect integrator (IF): tau -> inf
    r_if = sim.lif_rate(I, math.inf, thr, C=C, t_ref=t_ref)
    assert r_if[0] == 0
    assert r_if[3].item() == pytest.approx(1.0 / (t_ref + C * thr / 300.0), rel=1e-12)
    # a huge tau tends to the IF rate
    assert sim.lif_rate(300.0, 1e6, thr, C=C, t_ref=t_ref).item() == pytest.approx(r_if[3].item(), rel=1e-4)
    # the resting potential shifts the gap
    assert sim.lif_rate(300.0, tau, thr + 5.0, C=C, resting_potential=5.0).item() == pytest.approx(
        sim.lif_rate(300.0, tau, thr, C=C).item(), rel=1e-12)


def test_rheobase():
    assert sim.rheobase(sn.LIF(threshold=10.0)) == pytest.approx(0.281 * 10.0 / 0.02, rel=1e-9)
    assert sim.rheobase(sn.LIF_Simple(threshold=10.0)) == pytest.approx(10.0 * 0.001 / 0.02, rel=1e-9)
    assert sim.rheobase(sn.Izhikevich()) == pytest.approx(4.0, abs=1e-3)
    assert sim.rheobase(sn.IF(threshold=10.0)) == 0.0


def test_fi_curve_lif_matches_analytic_curve():
    layer = sn.LIF(threshold=10.0, ts=1e-4)
    currents = torch.linspace(0.0, 560.0, 15, dtype=torch.float64)
    res = sim.fi_curve(layer, currents, steps=10000)
    assert res.rates.shape == (1, 15) and res.analytic.shape == (1, 15)
    expected = sim.lif_rate(currents, 0.02, 10.0, C=0.281, t_ref=2 * 1e-4)
    assert torch.allclose(res.analytic[0], expected)
    below = currents < 140.5 * 0.98
    assert res.rates[0][below].eq(0).all()
    ok = expected > 20.0
    rel = ((res.rates[0] - expected).abs() / expected)[ok]
    assert ok.sum() >= 10 and rel.max() < 0.04, rel
    # rate rises with the current
    assert (res.rates[0][1:] >= res.rates[0][:-1]).all()
    # the layer itself was not touched
    assert layer.v is None and layer.inhibition_mode == "feature"


def test_fi_curve_per_feature_and_models():
    layer = sn.UniformLIF(threshold=10.0, tau_range=(0.01, 0.05), seed=0, n_features=3)
    res = sim.fi_curve(layer, [100.0, 200.0, 400.0], steps=500)
    assert res.rates.shape == (3, 3)
    taus = layer.taus.flatten()
    # a longer membrane time constant integrates more: higher rate at the same current
    order = torch.argsort(taus)
    assert (res.rates[order[-1]] >= res.rates[order[0]]).all()
    assert res.rates[order[-1]].sum() > res.rates[order[0]].sum()
    izh = sim.fi_curve(sn.Izhikevich(), [0.0, 2.0, 10.0, 20.0], steps=1000)
    assert izh.analytic is None
    assert izh.rates[0, 0] == 0 and izh.rates[0, 1] == 0  # below the rheobase of ~4
    assert 0 < izh.rates[0, 2] < izh.rates[0, 3]


# ---------------------------------------------------------------------------- tuning
def test_tune_threshold_layerwise_reaches_target():
    x = rand_input((2, 3, 5, 5), 800.0)
    layer = sn.LIF(threshold=10.0, ts=1e-3, inhibition_mode="neuron")
    res = sim.tune_threshold(layer, x, 50.0, steps=400)
    assert res.converged
    assert abs(res.rate - 50.0) <= 0.05 * 50.0
    assert layer.threshold == res.threshold and res.threshold > 10.0
    # the reported rate is what the layer now does
    cnt = sim.simulate(layer, x, 400, record=("spike_count",), progress=False)["spike_count"]
    assert float(cnt.double().mean()) / (400 * 1e-3) == pytest.approx(res.rate, rel=1e-12)


def test_tune_threshold_per_feature():
    x = rand_input((1, 3, 6, 6), 1.0)
    x = x * torch.tensor([300.0, 700.0, 1500.0]).view(1, 3, 1, 1)
    layer = sn.LIF(threshold=10.0, ts=1e-3, inhibition_mode="neuron")
    res = sim.tune_threshold(layer, x, 30.0, per_feature=True, steps=300)
    assert res.converged
    assert res.threshold.shape == (3, 1, 1) and torch.equal(layer.per_neuron_thresh, res.threshold)
    assert ((res.rate - 30.0).abs() <= 0.05 * 30.0).all()
    t = res.threshold.flatten()
    assert t[0] < t[1] < t[2]  # stronger input needs a higher threshold for the same rate


def test_tune_threshold_reports_unreachable_target():
    layer = sn.LIF(threshold=10.0, ts=1e-3, refractory_timesteps=2, inhibition_mode="neuron")
    res = sim.tune_threshold(layer, torch.full((1, 1, 2, 2), 500.0), 1000.0, steps=90, iters=15)
    assert not res.converged
    assert res.rate == pytest.approx(1000.0 / 3.0, rel=0.02)  # one spike every 1 + 2 refractory steps
    with pytest.raises(ValueError):
        sim.tune_threshold(layer, torch.ones(1, 1, 2, 2), -1.0, steps=10)


# ---------------------------------------------------------------------------- save / load
def _models():
    return {
        "lif_pnt": sn.LIF(threshold=10.0, per_neuron_thresh=torch.tensor([8.0, 12.0]).view(2, 1, 1),
                          refractory_timesteps=3, inhibition_mode="location"),
        "adex": sn.AdEx(threshold=10.0, b=torch.tensor([0.5, 2.0]).view(2, 1, 1)),
        "izh": sn.Izhikevich.preset("chattering", ts=0.0005),
        "eif_simple": sn.EIF_Simple(threshold=5.0, tau_rc=0.03),
        "uniform_lif": sn.UniformLIF(threshold=10.0, tau_range=(0.01, 0.05), seed=3),
        "uniform_izh": sn.UniformIzhikevich(tau_range=(0.02, 0.1), seed=1, n_features=2),
        "qif_none": sn.QIF(threshold=None, u_c=5.0),
    }


_SCALE = {"izh": 12.0, "eif_simple": 3.0}


def test_save_load_fresh_process_is_bit_identical(tmp_path: Path):
    g = torch.Generator().manual_seed(0)
    inputs = {}
    expected = {}
    for name, layer in _models().items():
        scale = _SCALE.get(name, 1500.0)
        xs = torch.rand(12, 2, 2, 3, 3, generator=g) * scale
        if name == "uniform_lif":  # saved before its time constants are sampled
            sim.save_layer(layer, tmp_path / f"{name}.pt", include_state=True)
            warm = []
        else:
            warm = [layer.step(x) for x in xs[:6]]
            sim.save_layer(layer, tmp_path / f"{name}.pt", include_state=True)
        outs = [layer.step(x, n_winners=2) for x in xs[6:]]
        inputs[name] = xs[6:]
        expected[name] = (torch.stack([o.spikes for o in outs]), torch.stack([o.potentials for o in outs]))
        assert len(warm) in (0, 6)
    torch.save(inputs, tmp_path / "inputs.pt")
    script = textwrap.dedent(f"""
        import torch
        from spyketorch.analysis.simulation import load_layer
        inputs = torch.load({str(tmp_path / 'inputs.pt')!r})
        out = {{}}
        for name, xs in inputs.items():
            layer = load_layer({str(tmp_path)!r} + '/' + name + '.pt')
            steps = [layer.step(x, n_winners=2) for x in xs]
            out[name] = (torch.stack([o.spikes for o in steps]), torch.stack([o.potentials for o in steps]),
                         type(layer).__name__)
        torch.save(out, {str(tmp_path / 'out.pt')!r})
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    got = torch.load(tmp_path / "out.pt")
    for name, (spikes, pots) in expected.items():
        s, p, cls = got[name]
        assert cls == type(_models()[name]).__name__
        assert torch.equal(s, spikes), name
        assert torch.equal(p, pots), name
        assert s.ne(0).any() or name == "qif_none", name


def test_save_load_parameters_without_state(tmp_path: Path):
    g = torch.Generator().manual_seed(31)
    layer = sn.UniformEIF(threshold=10.0, tau_range=(0.01, 0.04), seed=0, n_features=3, theta_rh=7.0,
                          refractory_timesteps=4, inhibition_mode="layer")
    layer.per_neuron_thresh = torch.tensor([9.0, 10.0, 11.0]).view(3, 1, 1)
    layer.step(torch.rand(1, 3, 2, 2, generator=g) * 900)
    sim.save_layer(layer, tmp_path / "l.pt")
    back = sim.load_layer(tmp_path / "l.pt")
    assert type(back) is sn.UniformEIF
    assert back.v is None  # no state unless asked
    assert back.tau_range == layer.tau_range
    pa, pb = layer.get_params(), back.get_params()
    assert pa.keys() == pb.keys()
    for k in pa:
        if isinstance(pa[k], torch.Tensor):
            assert torch.equal(pa[k], pb[k]), k
        else:
            assert pa[k] == pb[k], k
    x = torch.rand(1, 3, 2, 2, generator=g) * 900
    layer.reset()
    assert torch.equal(layer.step(x).potentials, back.step(x).potentials)


def test_load_rejects_other_files(tmp_path: Path):
    torch.save({"hello": 1}, tmp_path / "x.pt")
    with pytest.raises(ValueError, match="not a spyketorch layer"):
        sim.load_layer(tmp_path / "x.pt")
    with pytest.raises(TypeError):
        sim.save_layer(nn.Linear(2, 2), tmp_path / "y.pt")
