"""NIR export and import: spyketorch -> NIR -> spyketorch, Norse and snnTorch, and back.

Every round trip compares spikes at every neuron and step with the network that was exported
(or, for graphs exported by snnTorch and Norse, with the network of that library).
"""
from __future__ import annotations

import contextlib
import io
import math
import sys
import warnings

import numpy as np
import pytest
import torch

import spyketorch
from spyketorch.interop.nir import NIRNetwork, norse_module
from spyketorch.layers import Convolution, Pooling
from spyketorch.networks import NeuronConvBlock, StepNetwork
from spyketorch.neurons import (EIF, IF, LIF, QIF, AdaptiveLIF, AdEx, Izhikevich, LIF_ode, LIF_Simple,
                                ResonateAndFire, UniformLIF, UniformLIF_Simple)

nir = pytest.importorskip("nir")

T = 12


def _spikes(shape, p=0.3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < p).float()


def _conv(c_in, c_out, k, seed, signed=False):
    torch.manual_seed(seed)
    conv = Convolution(c_in, c_out, k)
    with torch.no_grad():
        w = torch.rand(conv.weight.shape)
        conv.weight.copy_(w - 0.3 if signed else w)
    return conv


def _input_factor(layer):
    """Charge per unit of input per step (``ts / C``, or 1 for LIF_Simple)."""
    return 1.0 if isinstance(layer, LIF_Simple) else layer.ts / float(layer.param("C").flatten()[0])


def _two_blocks(make, seed=0, signed=False, pool=(2, 2, 1)):
    """conv 2->4 (3x3, pad 1) -> neuron -> pool -> conv 4->3 (2x2) -> neuron, gains set for some activity."""
    blocks = []
    for i, (c_in, c_out, k, pad, pl) in enumerate(((2, 4, 3, 1, pool), (4, 3, 2, 0, None))):
        layer = make()
        # about a third of a threshold per step from a typical input
        rest = float(layer.param("resting_potential").flatten()[0])
        gain = (float(layer.threshold) - rest) / (3.0 * 0.3 * c_in * k * k * 0.5 * _input_factor(layer))
        blocks.append(NeuronConvBlock(_conv(c_in, c_out, k, seed + i, signed), layer, padding=pad, pool=pl,
                                      gain=gain))
    return StepNetwork(blocks)


def _present(net, x):
    """Per-step outputs of every block, time-major: x ``[T, B, ...]``."""
    outs = []
    for blk in net.blocks:
        _, x = blk.present(x)
        outs.append(x)
    return outs


def _run_norse(module, x):
    state, outs = None, []
    for t in range(x.shape[0]):
        out, state = module(x[t], state)
        outs.append(out)
    return torch.stack(outs)


def _nonneg(**kw):
    return dict(refractory_timesteps=0, inhibition_mode="none", **kw)


#: layers NIR expresses exactly: (name, constructor)
EXACT = {
    "IF": lambda: IF(threshold=2.0, ts=1.0, C=1.0, **_nonneg()),
    "LIF": lambda: LIF(threshold=10.0, **_nonneg()),
    "LIF_ode": lambda: LIF_ode(threshold=10.0, **_nonneg()),
    "LIF_Simple": lambda: LIF_Simple(threshold=5.0, **_nonneg()),
    "UniformLIF": lambda: UniformLIF(threshold=10.0, tau_range=(0.005, 0.05), seed=1, n_features=4, **_nonneg()),
    "UniformLIF_Simple": lambda: UniformLIF_Simple(threshold=5.0, tau_range=(0.005, 0.05), seed=2, n_features=4,
                                                   **_nonneg()),
    "LIF_rest_reset": lambda: LIF(threshold=-60.0, resting_potential=-70.0, v_reset=-75.0, **_nonneg(clamp_at_rest=False)),
}


def _fix_features(net):
    """Uniform* layers drew for 4 maps; the second block has 3: redraw there."""
    for blk in net.blocks:
        layer = blk.neuron
        if hasattr(layer, "resample") and layer.taus is not None and layer.taus.shape[0] != blk.conv.out_channels:
            layer.resample(blk.conv.out_channels)
    return net


# ---------------------------------------------------------------------------- the mapping itself
def test_missing_nir_names_pip_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "nir", None)
    with pytest.raises(ImportError, match="pip install nir"):
        spyketorch.to_nir(torch.nn.Linear(2, 2), torch.zeros(1, 2))
    with pytest.raises(ImportError, match="pip install nir"):
        spyketorch.from_nir("graph.nir")


def test_lif_fields_are_the_closed_forms():
    layer = LIF(threshold=0.1, tau_rc=0.03, ts=0.002, C=0.5, resting_potential=-0.2, v_reset=-0.3,
                **_nonneg(clamp_at_rest=False))  # a reset below rest: the floor would act
    g = spyketorch.to_nir(NeuronConvBlock(_conv(1, 2, 1, 0), layer), torch.zeros(1, 1, 2, 2))
    node = g.nodes["neuronconvblock_lif"]
    assert isinstance(node, nir.LIF) and node.tau.shape == (2, 2, 2)
    np.testing.assert_allclose(node.tau, 0.03, rtol=1e-12)
    np.testing.assert_allclose(node.r, 0.03 / 0.5, rtol=1e-12)
    np.testing.assert_allclose(node.v_leak, -0.2, rtol=1e-12)
    np.testing.assert_array_equal(node.v_reset, -0.3)
    # strict threshold just below float32(0.1): v > v_thr  <=>  v >= float32(0.1) in float32
    below = np.nextafter(np.float32(0.1), np.float32(-1))
    np.testing.assert_array_equal(node.v_threshold, float(below))
    assert g.metadata["dt"] == 0.002
    # for forward-Euler simulators: the time constant whose Euler step decays by exp(-ts/tau_rc)
    ge = spyketorch.to_nir(NeuronConvBlock(_conv(1, 2, 1, 0), layer), torch.zeros(1, 1, 2, 2), euler=True)
    tau_e = 0.002 / (1 - math.exp(-0.002 / 0.03))
    np.testing.assert_allclose(ge.nodes["neuronconvblock_lif"].tau, tau_e, rtol=1e-12)
    np.testing.assert_allclose(ge.nodes["neuronconvblock_lif"].r, tau_e / 0.5, rtol=1e-12)


def test_if_lif_simple_and_uniform_fields():
    x = torch.zeros(1, 3, 2, 2)
    node = spyketorch.to_nir(IF(threshold=3.0, ts=0.5, C=0.25, resting_potential=1.0, **_nonneg()), x).nodes["if"]
    assert isinstance(node, nir.IF)
    np.testing.assert_allclose(node.r, 1 / 0.25, rtol=1e-12)  # Euler of dv/dt = R I over ts is our step
    np.testing.assert_array_equal(node.v_threshold, float(np.nextafter(np.float32(2.0), np.float32(0))))  # - rest
    np.testing.assert_array_equal(node.v_reset, 0.0)
    node = spyketorch.to_nir(LIF_Simple(threshold=1.0, tau_rc=0.01, ts=0.001, **_nonneg()), x).nodes["lif_simple"]
    np.testing.assert_allclose(node.tau, 0.01, rtol=1e-12)
    np.testing.assert_allclose(node.r, 0.01 / 0.001, rtol=1e-12)
    layer = UniformLIF(threshold=1.0, tau_range=(0.01, 0.05), seed=0, n_features=3, **_nonneg())
    node = spyketorch.to_nir(layer, x).nodes["uniformlif"]
    np.testing.assert_allclose(node.tau, layer.taus.expand(3, 2, 2).numpy(), rtol=1e-12)  # per neuron
    assert node.metadata["spyketorch_model"] == "LIF"


def test_spike_amplitude_is_a_scale_where_it_matters():
    layer = LIF_ode(threshold=1.0, **_nonneg())
    g = spyketorch.to_nir(torch.nn.Sequential(layer, torch.nn.Flatten(), torch.nn.Linear(12, 2)), torch.zeros(1, 3, 2, 2))
    kinds = [type(n).__name__ for n in g.nodes.values()]
    assert kinds == ["Input", "LIF", "Scale", "Flatten", "Affine", "Output"]
    np.testing.assert_allclose(g.nodes["0_amplitude"].scale, 1 / layer.ts)
    # in a block the next layer gets 0/1 spikes: no Scale
    g = spyketorch.to_nir(NeuronConvBlock(_conv(3, 2, 1, 0), LIF_ode(threshold=1.0, **_nonneg())), torch.zeros(1, 3, 2, 2))
    assert not any(isinstance(n, nir.Scale) for n in g.nodes.values())


# ---------------------------------------------------------------------------- spyketorch -> file -> spyketorch
@pytest.mark.parametrize("name", sorted(EXACT))
def test_round_trip_through_a_file_gives_identical_spikes(name, tmp_path):
    net = _fix_features(_two_blocks(EXACT[name], seed=3, signed=name.startswith("LIF_Simple")))
    x = _spikes((T, 4, 2, 8, 8), seed=1)
    ref = _present(net, x)
    assert 0 < ref[0].sum() < ref[0].numel() and 0 < ref[1].sum() < ref[1].numel()
    path = tmp_path / "net.nir"
    nir.write(path, spyketorch.to_nir(net, x[0]))
    back = spyketorch.from_nir(nir.read(path))
    out = back.run(x, ["block0_pool_threshold"])
    assert torch.equal(out["block0_pool_threshold"], ref[0])  # every neuron, every step
    assert torch.equal(out["output"], ref[1])
    for layer, orig in zip(back.neurons.values(), [b.neuron for b in net.blocks]):  # the very same model
        assert isinstance(orig, type(layer)) and not layer.clamp_at_rest


def test_round_trip_of_a_sequential_with_readout():
    conv, layer = _conv(2, 3, 3, 0), LIF_ode(threshold=10.0, **_nonneg(clamp_at_rest=False))
    pool, lin = Pooling(2, 2, 1), torch.nn.Linear(3 * 4 * 4, 5)
    model = torch.nn.Sequential(conv, layer, pool, torch.nn.Flatten(), lin)
    x = _spikes((T, 3, 2, 8, 8), seed=2) * 300.0  # currents, not spikes
    ref = []
    with torch.no_grad():
        for t in range(T):
            s = layer.step(conv(x[t]), 1).spikes  # amplitude 1/ts
            ref.append(lin(pool(s).flatten(1)))
    ref = torch.stack(ref)
    layer.reset()
    out = spyketorch.from_nir(spyketorch.to_nir(model, x[0]))(x)
    assert torch.equal(out, ref)
    assert ref.abs().sum() > 0


def test_fold_scales_keeps_the_spikes():
    net = _two_blocks(EXACT["LIF_ode"], seed=4)
    x = _spikes((T, 3, 2, 8, 8), seed=3)
    g = spyketorch.to_nir(net, x[0], fold_scales=True)
    assert not any(isinstance(n, nir.Scale) for n in g.nodes.values())
    assert all(np.all(n.r == 1) for n in g.nodes.values() if isinstance(n, nir.LIF))
    assert torch.equal(spyketorch.from_nir(g)(x), _present(net, x)[1])


# ---------------------------------------------------------------------------- spyketorch -> NIR -> Norse
norse = None


def _norse():
    global norse
    norse = pytest.importorskip("norse.torch")
    return norse


@pytest.mark.parametrize("name", ["IF", "LIF", "LIF_ode", "LIF_Simple", "UniformLIF"])
def test_norse_gives_the_same_spikes(name):
    _norse()
    net = _fix_features(_two_blocks(EXACT[name], seed=5))
    x = _spikes((T, 3, 2, 8, 8), seed=4)
    ref = _present(net, x)[1]
    g = spyketorch.to_nir(net, x[0], euler=True, fold_scales=True)
    out = _run_norse(norse_module(g), x)
    assert torch.equal(out, ref)


def test_norse_own_importer_on_conv_lif():
    nt = _norse()
    blk = NeuronConvBlock(_conv(2, 4, 3, 6), LIF(threshold=10.0, tau_rc=0.004, **_nonneg()), padding=1, gain=2000.0)
    x = _spikes((T, 3, 2, 8, 8), seed=5)
    _, ref = blk.present(x)
    g = spyketorch.to_nir(blk, x[0], euler=True, fold_scales=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = nt.from_nir(g, dt=g.metadata["dt"])  # Norse's importer alone: Conv2d and LIFBoxCell
    out = _run_norse(module, x)
    assert 0 < ref.sum() < ref.numel()
    assert torch.equal(out, ref)
    # without euler=True Norse's Euler step differs from the exact exponential decay
    g_exact = spyketorch.to_nir(blk, x[0], fold_scales=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert not torch.equal(_run_norse(nt.from_nir(g_exact, dt=g.metadata["dt"]), x), ref)


def test_strict_threshold_matters_for_exact_ties():
    """IF with unit charges reaches its threshold exactly: v_thr = threshold would miss those spikes."""
    _norse()
    blk = NeuronConvBlock(_conv(1, 1, 1, 0), IF(threshold=2.0, ts=1.0, C=1.0, **_nonneg()))
    with torch.no_grad():
        blk.conv.weight.fill_(1.0)
    x = _spikes((T, 2, 1, 4, 4), p=0.5, seed=6)
    _, ref = blk.present(x)
    g = spyketorch.to_nir(blk, x[0])
    assert ref.sum() > 0 and torch.equal(_run_norse(norse_module(g), x), ref)
    g.nodes["neuronconvblock_if"].v_threshold = np.full((1, 4, 4), 2.0)  # the naive mapping
    assert not torch.equal(_run_norse(norse_module(g), x), ref)


# ---------------------------------------------------------------------------- spyketorch -> NIR -> snnTorch
def _snntorch_import(g):
    pytest.importorskip("snntorch")
    from snntorch.import_nir import import_from_nir

    with contextlib.redirect_stdout(io.StringIO()):  # it prints progress
        return import_from_nir(g)


def _run_snntorch(module, x):
    import snntorch.utils as su

    su.reset(module)
    outs = []
    for t in range(x.shape[0]):
        o = module(x[t])
        outs.append(o[0] if isinstance(o, tuple) else o)
    return torch.stack(outs).detach()


@pytest.mark.parametrize("name", ["LIF", "LIF_ode", "LIF_Simple"])
def test_snntorch_gives_the_same_spikes(name):
    # snnTorch's importer steps at dt = 1e-4 s whatever the graph says: export layers of that step
    make = {"LIF": lambda: LIF(threshold=1.0, ts=1e-4, tau_rc=2e-3, C=2e-4, **_nonneg()),
            "LIF_ode": lambda: LIF_ode(threshold=1.0, ts=1e-4, tau_rc=2e-3, C=2e-4, **_nonneg()),
            "LIF_Simple": lambda: LIF_Simple(threshold=1.0, ts=1e-4, tau_rc=2e-3, **_nonneg())}[name]
    blk = NeuronConvBlock(_conv(2, 4, 3, 7), make(), padding=1)
    x = _spikes((T, 3, 2, 8, 8), seed=7)
    _, ref = blk.present(x)
    assert 0 < ref.sum() < ref.numel()
    out = _run_snntorch(_snntorch_import(spyketorch.to_nir(blk, x[0], euler=True)), x)
    assert torch.equal(out, ref)


def test_snntorch_conv_lif_affine_lif():
    blk = NeuronConvBlock(_conv(2, 4, 3, 8), LIF_ode(threshold=1.0, ts=1e-4, tau_rc=2e-3, C=2e-4, **_nonneg()))
    head = LIF_Simple(threshold=2.0, ts=1e-4, tau_rc=1e-3, **_nonneg())
    torch.manual_seed(0)
    lin = torch.nn.Linear(4 * 6 * 6, 5)
    model = torch.nn.Sequential(blk, torch.nn.Flatten(), lin, head)
    x = _spikes((T, 1, 2, 8, 8), seed=8)  # snnTorch's importer flattens over the batch: one sample
    _, s = blk.present(x)
    with torch.no_grad():
        ref = torch.stack([head.step(lin(s[t].flatten(1)).view(1, 5, 1, 1), 1).spikes.view(1, 5) for t in range(T)])
    assert ref.sum() > 0
    out = _run_snntorch(_snntorch_import(spyketorch.to_nir(model, x[0])), x)
    assert torch.equal(out.reshape(ref.shape), ref)


# ---------------------------------------------------------------------------- snnTorch / Norse -> NIR -> spyketorch
def test_graph_exported_by_snntorch_gives_its_spikes():
    snn = pytest.importorskip("snntorch")
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(0)
    # per-neuron beta/threshold tensors: snnTorch writes scalar ones that fail NIR's type check;
    # reset to zero: NIR's reset (snnTorch's default subtracts the threshold, which NIR cannot say)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, bias=False),
        snn.Leaky(beta=torch.full((4, 6, 6), 0.9), threshold=torch.full((4, 6, 6), 1.0), init_hidden=True,
                  reset_mechanism="zero"),
        torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 5),
        snn.Leaky(beta=torch.full((5,), 0.8), threshold=torch.full((5,), 0.5), init_hidden=True,
                  reset_mechanism="zero", output=True))
    with torch.no_grad():
        net[0].weight.uniform_(0.0, 0.4)
        net[3].weight.uniform_(0.0, 0.1)
    x = _spikes((T, 3, 2, 8, 8), seed=9)
    with contextlib.redirect_stdout(io.StringIO()):
        g = export_to_nir(net, x[0], ignore_dims=[0])
    ref = _run_snntorch(net, x)
    assert ref.sum() > 0
    with pytest.raises(ValueError, match="dt"):
        spyketorch.from_nir(g)  # the graph does not say its step
    out = spyketorch.from_nir(g, dt=1e-4)(x)  # snnTorch's step
    assert torch.equal(out, ref)


def test_graph_exported_by_norse_gives_its_spikes():
    nt = _norse()
    torch.manual_seed(0)
    # Norse 1.1 writes tau = dt / tau_mem_inv (dt times the real tau): right only at dt = 1
    dt = 1.0
    net = nt.SequentialState(
        torch.nn.Conv2d(2, 4, 3),
        nt.LIFBoxCell(nt.LIFBoxParameters(tau_mem_inv=torch.tensor(0.2), v_th=torch.tensor(0.4)), dt=dt),
        torch.nn.Conv2d(4, 3, 2),
        nt.IAFCell(nt.IAFParameters(v_th=torch.tensor(0.3)), dt=dt))
    with torch.no_grad():
        net[0].weight.uniform_(0.0, 0.5)
        net[2].weight.uniform_(0.0, 0.5)
    x = _spikes((T, 3, 2, 8, 8), seed=10)
    state, ref = None, []
    with torch.no_grad():
        for t in range(T):
            out, state = net(x[t], state)
            ref.append(out)
    ref = torch.stack(ref)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = nt.to_nir(net, x[0], dt=dt)
    assert 0 < ref.sum() < ref.numel()
    out = spyketorch.from_nir(g, dt=dt)(x)
    assert torch.equal(out, ref)


# ---------------------------------------------------------------------------- what NIR cannot express
NOT_EXPRESSIBLE = {
    "refractory period": lambda: LIF(threshold=10.0, refractory_timesteps=2, inhibition_mode="neuron"),
    "k-WTA lateral inhibition": lambda: LIF(threshold=10.0, refractory_timesteps=2, inhibition_mode="feature"),
    "nonlinear dynamics of EIF": lambda: EIF(threshold=10.0, **_nonneg()),
    "nonlinear dynamics of QIF": lambda: QIF(threshold=10.0, **_nonneg()),
    "second state variable of AdEx": lambda: AdEx(threshold=10.0, **_nonneg()),
    "second state variable of Izhikevich": lambda: Izhikevich(**_nonneg()),
    "second state variable of ResonateAndFire": lambda: ResonateAndFire(threshold=1.0, **_nonneg()),
    "second state variable of AdaptiveLIF": lambda: AdaptiveLIF(threshold=10.0, **_nonneg()),
    "membrane noise": lambda: LIF(threshold=10.0, noise_std=0.1, **_nonneg()),
}


@pytest.mark.parametrize("feature", sorted(NOT_EXPRESSIBLE))
def test_what_nir_cannot_express_raises_or_is_dropped(feature):
    layer = NOT_EXPRESSIBLE[feature]()
    blk = NeuronConvBlock(_conv(2, 3, 3, 0), layer)
    x = torch.zeros(1, 2, 6, 6)
    with pytest.raises(ValueError, match=f"neuronconvblock_{type(layer).__name__.lower()}.*{feature}"):
        spyketorch.to_nir(blk, x)
    with pytest.warns(UserWarning, match=feature):
        g = spyketorch.to_nir(blk, x, approximate=True)
    assert feature in g.metadata["spyketorch_dropped"]
    node = g.nodes[f"neuronconvblock_{type(layer).__name__.lower()}"]
    assert isinstance(node, (nir.LIF, nir.IF)) and np.all(np.isfinite(node.r))
    assert spyketorch.from_nir(g)(torch.zeros(2, 1, 2, 6, 6)).shape == (2, 1, 3, 4, 4)


def test_approximate_drops_only_the_inhibition():
    """A LIF with k-WTA exported with approximate=True runs as the same LIF without it."""
    blk = NeuronConvBlock(_conv(2, 3, 3, 0), LIF(threshold=10.0, refractory_timesteps=2, inhibition_mode="feature"),
                          gain=1500.0)
    x = _spikes((T, 2, 2, 6, 6), seed=11)
    with pytest.warns(UserWarning):
        g = spyketorch.to_nir(blk, x[0], approximate=True)
    blk.neuron.inhibition_mode = "none"
    _, ref = blk.present(x)
    assert ref.sum() > 0 and torch.equal(spyketorch.from_nir(g)(x), ref)


def test_the_floor_at_rest_is_exported_only_where_it_never_acts():
    x = torch.zeros(1, 2, 6, 6)
    layer = LIF(threshold=10.0, **_nonneg())
    assert layer.clamp_at_rest
    spyketorch.to_nir(NeuronConvBlock(_conv(2, 3, 3, 0), layer), x)  # non-negative weights: the floor never acts
    with pytest.raises(ValueError, match="floor at rest"):
        spyketorch.to_nir(NeuronConvBlock(_conv(2, 3, 3, 0, signed=True), layer), x)
    with pytest.raises(ValueError, match="floor at rest"):
        spyketorch.to_nir(NeuronConvBlock(_conv(2, 3, 3, 0), layer), -torch.ones(1, 2, 6, 6))
    layer.clamp_at_rest = False
    spyketorch.to_nir(NeuronConvBlock(_conv(2, 3, 3, 0, signed=True), layer), x)


def test_export_refuses_bad_arguments():
    with pytest.raises(TypeError, match="sample_data"):
        spyketorch.to_nir(torch.nn.Linear(2, 2), [[0.0, 0.0]])
    with pytest.raises(ValueError, match="sample_data"):
        spyketorch.to_nir(torch.nn.Linear(2, 2), torch.zeros(2))
    with pytest.raises(TypeError, match="ReLU"):
        spyketorch.to_nir(torch.nn.ReLU(), torch.zeros(1, 2))
    with pytest.raises(ValueError, match="max pooling"):
        spyketorch.to_nir(torch.nn.Sequential(_conv(2, 3, 3, 0), Pooling(2)), torch.zeros(1, 2, 6, 6))
    two = torch.nn.Sequential(LIF_ode(threshold=1.0, ts=0.001, **_nonneg()), LIF_ode(threshold=1.0, ts=0.002, **_nonneg()))
    with pytest.raises(ValueError, match="different time steps"):
        spyketorch.to_nir(two, torch.zeros(1, 2, 3, 3))


def test_import_refuses_what_it_cannot_run():
    lif = dict(tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2))
    cuba = nir.NIRGraph.from_list(nir.Input(input_type=np.array([2])),
                                  nir.CubaLIF(tau_syn=np.ones(2), tau_mem=np.ones(2), r=np.ones(2), v_leak=np.zeros(2),
                                              v_threshold=np.ones(2)))
    with pytest.raises(ValueError, match="cubalif.*CubaLIF"):
        spyketorch.from_nir(cuba, dt=0.1)
    g = nir.NIRGraph.from_list(nir.Input(input_type=np.array([2])), nir.LIF(**lif))
    with pytest.raises(ValueError, match="dt"):
        spyketorch.from_nir(g)
    with pytest.raises(ValueError, match="lif"):
        spyketorch.from_nir(g, dt=2.0)  # tau <= dt: no forward-Euler step
    rec = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([2])), "lif": nir.LIF(**lif),
                              "w": nir.Linear(weight=np.eye(2)), "output": nir.Output(output_type=np.array([2]))},
                       edges=[("input", "lif"), ("lif", "w"), ("w", "lif"), ("lif", "output")])
    with pytest.raises(ValueError, match="recurrent"):
        spyketorch.from_nir(rec, dt=0.1)
    with pytest.raises(TypeError, match="graph"):
        spyketorch.from_nir(42)


def test_stepping_contract():
    layer = LIF_ode(threshold=1.0, **_nonneg(clamp_at_rest=False))
    net = spyketorch.from_nir(spyketorch.to_nir(layer, torch.zeros(1, 2, 2, 2)))
    assert isinstance(net, NIRNetwork) and net.dt == layer.ts
    x = _spikes((T, 3, 2, 2, 2), seed=12) * 400.0
    whole = net(x)
    net.reset()
    steps = torch.stack([net.step(x[t]) for t in range(T)])
    assert torch.equal(whole, steps) and whole.sum() > 0
    assert torch.equal(net(x), whole)  # forward starts from rest every time


def test_float64_network_round_trips_exactly():
    net = _two_blocks(EXACT["LIF"], seed=13).double()
    x = _spikes((T, 2, 2, 8, 8), seed=13).double()
    back = spyketorch.from_nir(spyketorch.to_nir(net, x[0]))
    assert back.node_modules["block0_conv"].weight.dtype == torch.float64
    assert torch.equal(back(x), _present(net, x)[1])
