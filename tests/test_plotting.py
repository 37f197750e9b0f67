"""Tests of spyketorch.analysis.plotting: what is drawn (line data, fixed points, labels), headless."""
from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import subprocess  # noqa: E402
import sys  # noqa: E402

import matplotlib  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import spyketorch.neurons as sn  # noqa: E402
from spyketorch.analysis import plotting as sp  # noqa: E402
from spyketorch.analysis import simulation as sim  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def by_gid(ax, gid):
    """All artists of ``ax`` with this gid (lines, collections, images)."""
    arts = list(ax.get_lines()) + list(ax.collections) + list(ax.images)
    return [a for a in arts if a.get_gid() == gid]


def one(ax, gid):
    found = by_gid(ax, gid)
    assert len(found) == 1, (gid, [a.get_gid() for a in ax.get_lines()])
    return found[0]


def legend_texts(ax):
    leg = ax.get_legend()
    return [t.get_text() for t in leg.get_texts()] if leg is not None else []


ALL_MODELS = sn.all_models(n_features=2)


# ---------------------------------------------------------------------------- plot_ode
def check_lif_ode_axes(fig, ax, current):
    tau, C = 0.02, 0.281
    l0 = one(ax, "ode-I=0")
    l1 = one(ax, f"ode-I={current:g}")
    u = np.asarray(l0.get_xdata())
    assert u[0] == pytest.approx(-1.0) and u[-1] == pytest.approx(12.5)  # just below rest .. above threshold
    np.testing.assert_allclose(l0.get_ydata(), -u / tau, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(l1.get_ydata(), (-u + tau / C * current) / tau, rtol=1e-12)
    thr = one(ax, "threshold")
    assert list(thr.get_xdata()) == [10.0, 10.0]
    fp = one(ax, "fixed-point-stable")  # u = rest for I = 0
    assert fp.get_xdata()[0] == pytest.approx(0.0, abs=1e-9) and fp.get_ydata()[0] == 0.0
    labels = legend_texts(ax)
    assert "LIF, I = 0" in labels and f"LIF, I = {current:g}" in labels and "threshold ϑ = 10" in labels
    assert ax.get_xlabel() == "membrane potential u" and ax.get_ylabel().startswith("du/dt")
    assert isinstance(fig, matplotlib.figure.Figure)


def test_plot_ode_lif_draws_the_equation():
    fig, ax = sp.plot_ode(sn.LIF(threshold=10.0), current=300.0)
    check_lif_ode_axes(fig, ax, 300.0)


def test_layer_plot_ode_method():
    layer = sn.LIF(threshold=10.0)
    if not hasattr(layer, "plot_ode"):
        pytest.skip("Neuron.plot_ode is not added to spyketorch.neurons yet")
    fig, ax = layer.plot_ode(current=300.0)
    check_lif_ode_axes(fig, ax, 300.0)
    fig2, ax2 = plt.subplots()
    out = layer.plot_ode(figure=fig2, ax=ax2)
    assert out == (fig2, ax2)


@pytest.mark.parametrize("name", list(ALL_MODELS))
def test_plot_ode_every_model(name):
    layer = ALL_MODELS[name]()
    current = 0.5 * sim.default_current_range(layer)
    fig, ax = sp.plot_ode(layer, current=current)
    drawn = sp._drawable(layer)  # unsampled Uniform layers: the ends of tau_range
    w = sp._w_rest(drawn)
    l0 = one(ax, "ode-I=0")
    u = torch.as_tensor(np.asarray(l0.get_xdata()), dtype=torch.float64)
    rows0 = drawn.ode(u, 0.0, w).reshape(-1, u.numel())
    rows1 = drawn.ode(u, current, w).reshape(-1, u.numel())
    drawn0 = [np.asarray(l0.get_ydata())] + [np.asarray(a.get_ydata()) for a in ax.get_lines()
                                              if (a.get_gid() or "").startswith("ode-I=0-")]
    # every distinct curve of the layer is drawn, and nothing else
    assert len(drawn0) == len(torch.unique(rows0, dim=0))
    for y in drawn0:
        assert any(np.allclose(y, r.numpy(), rtol=1e-12, atol=1e-9) for r in rows0)
    l1 = one(ax, f"ode-I={current:.4g}")
    assert any(np.allclose(l1.get_ydata(), r.numpy(), rtol=1e-12) for r in rows1)
    # the drive adds the same du/dt everywhere: gain * I
    gain = float(drawn.ode(0.0, 1.0, w).reshape(-1)[0] - drawn.ode(0.0, 0.0, w).reshape(-1)[0])
    diff = np.asarray(l1.get_ydata()) - np.asarray(l0.get_ydata())
    np.testing.assert_allclose(diff, gain * current, rtol=1e-9)
    thr = one(ax, "threshold")
    assert thr.get_xdata()[0] == layer.threshold
    # fixed points drawn lie on du/dt = 0 and where the I = 0 curve changes sign
    for gid in ("fixed-point-stable", "fixed-point-unstable"):
        for m in by_gid(ax, gid):
            x0 = float(m.get_xdata()[0])
            assert m.get_ydata()[0] == 0.0
            y0 = drawn.ode(torch.tensor([x0 - 0.05, x0 + 0.05], dtype=torch.float64), 0.0, w).reshape(-1, 2)
            assert (y0[:, 0] * y0[:, 1] <= 0).any()
    lo, hi = ax.get_ylim()
    assert lo < 0.0 < hi  # du/dt = 0 is in view
    assert ax.get_title().startswith(name)


def test_plot_ode_izhikevich_fixed_points_and_units():
    fig, ax = sp.plot_ode(sn.Izhikevich())
    st = one(ax, "fixed-point-stable")
    un = one(ax, "fixed-point-unstable")
    # dv/dt = 0.04 v^2 + 5 v + 140 - u with u = b v_rest = -14: v = -70 (stable), -55 (unstable)
    assert st.get_xdata()[0] == pytest.approx(-70.0, abs=0.02)
    assert un.get_xdata()[0] == pytest.approx(-55.0, abs=0.02)
    assert ax.get_ylabel() == "dv/dt (mV/s)" and "mV" in ax.get_xlabel()
    assert "recovery u = -14 mV" in ax.get_title()


def test_plot_ode_unsampled_uniform_draws_tau_range_ends():
    layer = sn.UniformLIF(threshold=10.0, tau_range=(0.01, 0.05), seed=0)
    fig, ax = sp.plot_ode(layer)
    ys = [np.asarray(a.get_ydata()) for a in ax.get_lines() if (a.get_gid() or "").startswith("ode-I=0")]
    u = np.asarray(one(ax, "ode-I=0").get_xdata())
    expected = [-u / 0.01, -u / 0.05]
    assert len(ys) == 2
    for e in expected:
        assert any(np.allclose(y, e) for y in ys)
    assert layer.taus is None  # the layer itself is not sampled


def test_plot_ode_stacks_on_existing_axes():
    fig, ax = plt.subplots()
    out = sp.plot_ode(sn.LIF(threshold=10.0), ax=ax)
    assert out == (fig, ax)
    out = sp.plot_ode(sn.EIF(threshold=10.0), figure=fig, ax=ax, current=200.0)
    assert out == (fig, ax)
    labels = legend_texts(ax)
    assert {"LIF, I = 0", "EIF, I = 0", "EIF, I = 200"} <= set(labels)
    assert labels.count("stable fixed point") == 1 and labels.count("threshold ϑ = 10") == 1
    assert len(by_gid(ax, "ode-I=0")) == 2
    # a figure without axes gets a new one
    fig2 = plt.figure()
    f, a = sp.plot_ode(sn.QIF(threshold=10.0), figure=fig2)
    assert f is fig2 and a in fig2.axes


# ---------------------------------------------------------------------------- phase planes
def test_nullclines_are_the_analytic_ones():
    adex = sn.AdEx(threshold=10.0, a=0.6, delta_t=0.5, tau_rc=0.02, C=0.281)
    u = torch.linspace(-1.0, 12.0, 50, dtype=torch.float64)
    I = 120.0
    wu, ww = sp.nullclines(adex, u, I)
    R = 0.02 / 0.281
    theta = 7.5  # 3/4 of the threshold
    np.testing.assert_allclose(wu, (-u + 0.5 * torch.exp((u - theta) / 0.5) + R * I) / R, rtol=1e-9)
    np.testing.assert_allclose(ww, 0.6 * u, rtol=1e-12, atol=1e-15)
    izh = sn.Izhikevich()
    v = torch.linspace(-90.0, 30.0, 50, dtype=torch.float64)
    wu, ww = sp.nullclines(izh, v, 7.0)
    np.testing.assert_allclose(wu, 0.04 * v * v + 5 * v + 140 + 7.0, rtol=1e-12)
    np.testing.assert_allclose(ww, 0.2 * v, rtol=1e-12)
    with pytest.raises(ValueError, match="one-dimensional"):
        sp.nullclines(sn.LIF(threshold=1.0), v)


def test_fixed_points_izhikevich_and_adex():
    fps = sp.fixed_points(sn.Izhikevich())
    assert [round(p.u, 9) for p in fps] == [-70.0, -50.0]
    assert [p.w for p in fps] == pytest.approx([-14.0, -10.0], abs=1e-9)
    assert fps[0].stable and not fps[1].stable and fps[1].kind == "saddle"
    assert sp.fixed_points(sn.Izhikevich(), 10.0) == []  # above the rheobase of 4
    # fast spiking (a = 0.1) keeps the same resting point
    assert sp.fixed_points(sn.Izhikevich.preset("fast_spiking"))[0].u == pytest.approx(-70.0, abs=1e-9)
    adex = sn.AdEx(threshold=10.0)
    fps = sp.fixed_points(adex)
    assert len(fps) == 2 and fps[0].stable and fps[1].kind == "saddle"
    for p in fps:
        wu, ww = sp.nullclines(adex, torch.tensor([p.u], dtype=torch.float64))
        assert float(wu) == pytest.approx(p.w, abs=1e-6) and float(ww) == pytest.approx(p.w, abs=1e-9)
        rhs = adex.ode(p.u, 0.0, p.w), adex.ode_w(p.u, p.w)
        assert abs(float(rhs[0])) < 1e-5 and abs(float(rhs[1])) < 1e-9


def test_phase_plane_izhikevich_draws_nullclines_fixed_points_and_trajectory():
    layer = sn.Izhikevich(ts=0.0005, refractory_timesteps=0)
    fig, ax = sp.phase_plane(layer, current=0.0, initial_state=(-56.0, -12.0), steps=400)
    mem = one(ax, "membrane-nullcline")
    ad = one(ax, "adaptation-nullcline")
    v = np.asarray(mem.get_xdata())
    np.testing.assert_allclose(mem.get_ydata(), 0.04 * v * v + 5 * v + 140, rtol=1e-12)
    np.testing.assert_allclose(ad.get_ydata(), 0.2 * v, rtol=1e-12, atol=1e-12)
    st = one(ax, "fixed-point-stable")
    sd = one(ax, "fixed-point-unstable")
    assert (st.get_xdata()[0], st.get_ydata()[0]) == pytest.approx((-70.0, -14.0), abs=1e-9)
    assert (sd.get_xdata()[0], sd.get_ydata()[0]) == pytest.approx((-50.0, -10.0), abs=1e-9)
    # every marked fixed point lies on both drawn nullclines
    for m in (st, sd):
        x, y = m.get_xdata()[0], m.get_ydata()[0]
        assert np.interp(x, v, mem.get_ydata()) == pytest.approx(y, abs=0.01)
        assert np.interp(x, v, ad.get_ydata()) == pytest.approx(y, abs=1e-9)
    tr = one(ax, "trajectory")
    xs, ys = np.asarray(tr.get_xdata()), np.asarray(tr.get_ydata())
    assert (xs[0], ys[0]) == (-56.0, -12.0)
    assert not np.isnan(xs).any()  # left of the saddle: no spike, back to rest
    assert (xs[-1], ys[-1]) == pytest.approx((-70.0, -14.0), abs=0.5)
    assert by_gid(ax, "vector-field")
    assert ax.get_xlabel() == "membrane potential v (mV)" and ax.get_ylabel() == "recovery variable u (mV)"
    labels = legend_texts(ax)
    assert "v-nullcline (dv/dt = 0)" in labels and "u-nullcline (du/dt = 0)" in labels
    assert "unstable fixed point (saddle)" in labels and "stable fixed point" in labels


def test_phase_plane_trajectory_is_the_real_layer():
    layer = sn.Izhikevich.preset("chattering", ts=0.0005, refractory_timesteps=0)
    fig, ax = sp.phase_plane(layer, current=10.0, steps=300, vector_field="quiver")
    tr = one(ax, "trajectory")
    xs = np.asarray(tr.get_xdata())
    ys = np.asarray(tr.get_ydata())
    # step an independent copy and compare the path up to the first spike
    ref = sn.Izhikevich.preset("chattering", ts=0.0005, refractory_timesteps=0)
    x = torch.full((1, 1, 1, 1), 10.0, dtype=torch.float64)
    vs, ws = [-70.0], [-14.0]
    for _ in range(300):
        o = ref.step(x)
        if o.spikes.ne(0).any():
            break
        vs.append(float(o.potentials))
        ws.append(float(ref.w))
    n = len(vs)
    np.testing.assert_allclose(xs[:n], vs, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ys[:n], ws, rtol=0, atol=1e-9)
    assert xs[n] == pytest.approx(30.0)  # the spike is drawn up to the cut-off
    assert np.isnan(xs).sum() >= 3  # several spikes, each breaking the path
    jumps = one(ax, "reset-jumps")
    jx = np.asarray(jumps.get_xdata())
    assert np.nanmin(jx) == pytest.approx(-50.0)  # reset to c of the chattering type
    assert one(ax, "vector-field") is not None
    assert by_gid(ax, "fixed-point-stable") == [] and "no fixed point" in ax.get_title()


def test_phase_plane_adex_and_errors():
    fig, ax = plt.subplots()
    out = sp.phase_plane(sn.AdEx(threshold=10.0), current=0.0, ax=ax, steps=50, legend="best")
    assert out == (fig, ax)
    st = one(ax, "fixed-point-stable")
    assert st.get_xdata()[0] == pytest.approx(0.0, abs=1e-5)
    mem = one(ax, "membrane-nullcline")
    u = np.asarray(mem.get_xdata())
    R = 0.02 / 0.281
    np.testing.assert_allclose(mem.get_ydata(), (-u + 0.5 * np.exp((u - 7.5) / 0.5)) / R, rtol=1e-9)
    assert ax.get_ylabel() == "adaptation w"
    with pytest.raises(ValueError, match="one-dimensional"):
        sp.phase_plane(sn.LIF(threshold=10.0))
    with pytest.raises(ValueError, match="vector_field"):
        sp.phase_plane(sn.AdEx(threshold=10.0), vector_field="arrows", trajectory=False)


def test_phase_plane_uniform_layer_uses_one_feature():
    layer = sn.UniformIzhikevich(tau_range=(0.02, 0.1), seed=0, n_features=3)
    fig, ax = sp.phase_plane(layer, current=0.0, feature=2, steps=20)
    a2 = float(layer.a.flatten()[2])
    fps = sp.fixed_points(layer, feature=2)
    # the fixed points do not depend on a; the stability (eigenvalues) does
    assert [round(p.u, 6) for p in fps] == [-70.0, -50.0]
    ev = sp.fixed_points(sn.Izhikevich(a=a2))[0].eigenvalues
    assert fps[0].eigenvalues == pytest.approx(ev, rel=1e-6)


# ---------------------------------------------------------------------------- f-I curves
def test_plot_fi_curve_lif_with_analytic_overlay():
    layer = sn.LIF(threshold=10.0, ts=1e-4)
    currents = torch.linspace(0.0, 560.0, 12)
    fig, ax = sp.plot_fi_curve(layer, currents, steps=10000)
    simd = one(ax, "fi-simulated-0")
    ana = one(ax, "fi-analytic-0")
    I = np.asarray(ana.get_xdata())
    np.testing.assert_allclose(I, currents.double().numpy())
    expected = sim.lif_rate(torch.as_tensor(I), 0.02, 10.0, C=0.281, t_ref=2e-4).numpy()
    np.testing.assert_allclose(ana.get_ydata(), expected, rtol=1e-12)
    rates = np.asarray(simd.get_ydata())
    ok = expected > 20
    assert ok.sum() >= 8
    assert np.max(np.abs(rates[ok] - expected[ok]) / expected[ok]) < 0.04
    assert ax.get_xlabel() == "constant input current I" and ax.get_ylabel() == "firing rate (Hz)"
    assert legend_texts(ax) == ["LIF (simulated)", "analytic LIF"]


def test_plot_fi_curve_izhikevich_has_no_analytic_curve():
    fig, ax = sp.plot_fi_curve(sn.Izhikevich(), [0.0, 5.0, 10.0], steps=500)
    assert by_gid(ax, "fi-analytic-0") == []
    y = one(ax, "fi-simulated-0").get_ydata()
    assert y[0] == 0 and y[2] > y[1] > 0


# ---------------------------------------------------------------------------- traces and rasters
def test_plot_trace_draws_potentials_spikes_and_threshold():
    layer = sn.LIF(threshold=10.0, ts=1e-4, inhibition_mode="neuron")
    x = torch.tensor([120.0, 400.0], dtype=torch.float64).view(1, 1, 1, 2)
    rec = sim.simulate(layer, x, 300, record=("v", "spikes"), progress=False)
    fig, ax = sp.plot_trace(rec["v"], rec["spikes"], ts=layer.ts, threshold=10.0, neurons=(0, 1))
    t = np.arange(300) * 0.1
    for n in (0, 1):
        tr = one(ax, f"trace-{n}")
        np.testing.assert_allclose(tr.get_xdata(), t)
        np.testing.assert_allclose(tr.get_ydata(), rec["v"].reshape(300, 2)[:, n].numpy())
    assert by_gid(ax, "spikes-0") == []  # below rheobase: no spike
    strokes = one(ax, "spikes-1")
    spike_steps = torch.nonzero(rec["spikes"].reshape(300, 2)[:, 1]).reshape(-1).numpy()
    assert len(spike_steps) >= 3
    xs = sorted(seg[0][0] for seg in strokes.get_segments())
    np.testing.assert_allclose(xs, t[spike_steps])
    assert all(seg[1][1] > 10.0 for seg in strokes.get_segments())  # strokes rise above threshold
    assert one(ax, "threshold").get_ydata()[0] == 10.0
    assert ax.get_xlabel() == "time (ms)"
    assert legend_texts(ax) == ["neuron 0", "neuron 1", "threshold 10"]


def test_plot_raster_marks_every_spike():
    g = torch.Generator().manual_seed(0)
    spikes = (torch.rand(40, 2, 3, 2, 2, generator=g) > 0.8).float()
    fig, ax = plt.subplots()
    out = sp.plot_raster(spikes, ax=ax, ts=0.001, batch=1)
    assert out == (fig, ax)
    flat = spikes[:, 1].reshape(40, -1)
    expected = {(float(t), int(n)) for t, n in torch.nonzero(flat).tolist()}
    got = set()
    for c in range(3):
        sc = one(ax, f"raster-{c}")
        offs = sc.get_offsets()
        for tx, n in offs:
            assert int(n) // 4 == c  # coloured by feature map
            got.add((round(float(tx), 9), int(n)))
    assert got == {(round(t * 1.0, 9), n) for t, n in expected}
    assert ax.get_ylim() == (-0.5, 11.5)
    assert ax.get_xlabel() == "time (ms)" and "neuron" in ax.get_ylabel()
    fig, ax = sp.plot_raster(torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
    assert sorted(map(tuple, one(ax, "raster").get_offsets().tolist())) == [(0.0, 1.0), (1.0, 0.0)]


# ---------------------------------------------------------------------------- features
def test_plot_features_mosaic():
    g = torch.Generator().manual_seed(0)
    w = torch.rand(5, 2, 3, 3, generator=g)
    fig, ax = sp.plot_features(w)
    img = np.asarray(one(ax, "features").get_array(), dtype=float)
    assert img.shape == (2 * 3 + 1, 3 * 3 + 2)  # 3 columns, 2 rows, 1-pixel gaps
    diff = (w[:, 0] - w[:, 1]).double()
    for f in range(5):
        r, c = divmod(f, 3)
        tile = img[r * 4: r * 4 + 3, c * 4: c * 4 + 3]
        d = diff[f]
        np.testing.assert_allclose(tile, ((d - d.min()) / (d.max() - d.min())).numpy(), rtol=1e-12)
    assert np.isnan(img[3]).all() and np.isnan(img[:, 3]).all()  # separators
    assert np.isnan(img[4:, 8:]).all()  # the empty sixth tile
    assert ax.get_title() == "5 features (3x3)"

    class Conv:
        weight = torch.ones(2, 1, 2, 2)

    fig, ax = sp.plot_features(Conv(), combine=0, normalize=False)
    assert np.nanmax(np.asarray(one(ax, "features").get_array())) == 1.0


def test_deep_receptive_field_and_reconstruction():
    assert sp.deep_receptive_field([5, 2], [(2, 2)]) == 8
    # 3 -> pool (3, 3): (3-1)*3+3 = 9 -> conv 3: 11 -> pool 2: (11-1)*2+2 = 22 -> conv 5: 26
    assert sp.deep_receptive_field([5, 3, 3], [2, (3, 3)]) == 26
    ws = [torch.rand(2, 1, 5, 5), torch.rand(3, 2, 3, 3), torch.rand(4, 3, 3, 3)]
    assert sp.reconstruct_features(ws, [2, (3, 3)]).shape == (4, 1, 26, 26)
    g = torch.Generator().manual_seed(0)
    w1 = torch.rand(4, 2, 5, 5, generator=g, dtype=torch.float64)
    w2 = torch.rand(3, 4, 2, 2, generator=g, dtype=torch.float64)
    rec = sp.reconstruct_features([w1, w2], [(2, 2)])
    assert rec.shape == (3, 2, 8, 8)
    # for the linear network conv1 -> sum-pooling -> conv2 the reconstruction is the
    # input pattern whose inner product with any input gives the output at (0, 0)
    x = torch.rand(5, 2, 8, 8, generator=g, dtype=torch.float64)
    y = F.conv2d(F.avg_pool2d(F.conv2d(x, w1), 2, 2) * 4.0, w2)
    assert y.shape[-2:] == (1, 1)
    np.testing.assert_allclose(y[:, :, 0, 0].numpy(), torch.einsum("bchw,fchw->bf", x, rec).numpy(), rtol=1e-12)
    # through the input filters: the same, one level further
    k = torch.rand(2, 1, 3, 3, generator=g, dtype=torch.float64)
    pix = sp.reconstruct_features([w1, w2], [(2, 2)], input_kernels=k)
    img = torch.rand(5, 1, 10, 10, generator=g, dtype=torch.float64)
    y = F.conv2d(F.avg_pool2d(F.conv2d(F.conv2d(img, k), w1), 2, 2) * 4.0, w2)
    np.testing.assert_allclose(y[:, :, 0, 0].numpy(), torch.einsum("bchw,fchw->bf", img, pix).numpy(), rtol=1e-12)
    with pytest.raises(ValueError):
        sp.reconstruct_features([w1, w2], [])
    fig, ax = sp.plot_deep_features([w1, w2], [(2, 2)], input_kernels=k, normalize_input_kernels=True)
    assert np.asarray(one(ax, "features").get_array()).shape == (2 * 10 + 1, 2 * 10 + 1)
    assert "layer-2 features" in ax.get_title()


# ---------------------------------------------------------------------------- packaging
def test_matplotlib_is_imported_lazily():
    code = "import sys, spyketorch.analysis.plotting, spyketorch.analysis.simulation; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "False"


def test_every_plot_returns_figure_and_axes_headless(tmp_path):
    g = torch.Generator().manual_seed(30)
    layer = sn.AdEx(threshold=10.0)
    rec = sim.simulate(layer, torch.rand(1, 2, 2, 2, generator=g) * 3000, 20, record=("v", "spikes"), progress=False)
    calls = [
        lambda ax: sp.plot_ode(layer, ax=ax),
        lambda ax: sp.phase_plane(layer, ax=ax, steps=10, vector_field=None),
        lambda ax: sp.plot_fi_curve(sn.LIF(threshold=10.0), [0.0, 300.0], ax=ax, steps=100),
        lambda ax: sp.plot_trace(rec["v"], rec["spikes"], ax=ax),
        lambda ax: sp.plot_raster(rec["spikes"], ax=ax),
        lambda ax: sp.plot_features(torch.rand(3, 1, 3, 3, generator=g), ax=ax),
        lambda ax: sp.plot_deep_features([torch.rand(3, 1, 3, 3, generator=g)], ax=ax),
    ]
    fig, axes = plt.subplots(1, len(calls), figsize=(20, 3))
    for call, ax in zip(calls, axes):
        f, a = call(ax)
        assert f is fig and a is ax
    fig.savefig(tmp_path / "all.png")
    assert (tmp_path / "all.png").stat().st_size > 10000
    assert matplotlib.get_backend().lower() == "agg"
