"""Gallery of neuron dynamics: ODE plots, phase planes, f-I curves, traces, rasters, features.

Writes PNG files for every neuron model of :mod:`spyketorch.neurons`:

* ``ode_<Model>.png`` and ``ode_overview.png`` – du/dt against u with and without
  an input current (every model, the ``Uniform*`` ones included);
  ``ode_stacked.png`` – several models on one axes;
* ``phase_adex_<below|above>.png`` – AdEx phase planes below and above the rheobase;
  ``phase_izhikevich_<preset>.png`` – the four classic Izhikevich types under
  ``I = 10``; ``phase_izhikevich_rest.png`` – both fixed points at ``I = 0``;
* ``izhikevich_presets_traces.png`` – membrane traces of the four types;
* ``resonate_and_fire.png`` – ResonateAndFire phase plane, and its response to two
  pulses one period apart (it fires: resonance) and half a period apart (it does not);
  ``adaptive_lif.png`` – AdaptiveLIF under constant drive: potential, threshold
  ``theta + beta a`` and lengthening inter-spike intervals;
* ``fi_lif.png`` – f-I curve of LIF against the analytic curve;
  ``fi_curves.png`` – f-I curves of every model;
* ``trace_lif.png`` – LIF membrane potentials with spikes and threshold;
  ``raster.png`` – spike raster of a heterogeneous convolutional layer;
* ``features_layer1.png`` / ``features_deep.png`` – kernels of two convolutions
  trained for a few seconds with STDP on the shipped MNIST digits, and the
  layer-2 kernels reconstructed through layer 1 and the DoG input filters.

Usage::

    python examples/neuron_odes.py --out out/gallery
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Callable, Dict, List

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

import spyketorch.neurons as sn  # noqa: E402
import spyketorch.utils as su  # noqa: E402
from spyketorch.analysis import plotting as sp  # noqa: E402
from spyketorch.analysis import simulation as sim  # noqa: E402

#: every model, built with the package defaults (threshold 10 where one is needed)
MODELS: Dict[str, Callable[[], sn.Neuron]] = sn.all_models(n_features=3)


def adex_adapting(**kw) -> sn.AdEx:
    """AdEx with spike-triggered adaptation strong enough to see (Naud et al. 2008 style).

    Potentials in mV, currents in pA, C in nF-like units with R = tau_rc / C in GOhm.
    """
    params = dict(threshold=0.0, resting_potential=-70.0, theta_rh=-50.0, delta_t=2.0, tau_rc=0.2 / 12.0, C=0.2,
                  a=2.0, b=60.0, tau_w=0.3, v_reset=-58.0, ts=1e-4, refractory_timesteps=0, clamp_at_rest=False)
    params.update(kw)
    return sn.AdEx(**params)


def save(fig: plt.Figure, out: Path, name: str, written: List[Path]) -> None:
    path = out / name
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    written.append(path)


def ode_plots(out: Path, written: List[Path]) -> None:
    fig_all, axes = plt.subplots(4, 5, figsize=(26, 18))
    for (name, make), ax in zip(MODELS.items(), axes.flat):
        layer = make()
        current = 0.5 * sim.default_current_range(layer)
        fig, _ = sp.plot_ode(layer, current=current)
        save(fig, out, f"ode_{name}.png", written)
        sp.plot_ode(layer, ax=ax, current=current)
    fig_all.tight_layout()
    save(fig_all, out, "ode_overview.png", written)
    fig, ax = plt.subplots(figsize=(7, 5))
    for name in ("LIF", "EIF", "QIF"):
        sp.plot_ode(MODELS[name](), ax=ax, current=300.0)
    save(fig, out, "ode_stacked.png", written)


def phase_planes(out: Path, written: List[Path]) -> None:
    layer = adex_adapting()
    rh = sim.rheobase(layer)
    fig, _ = sp.phase_plane(layer, current=0.8 * rh, initial_state=(-48.0, 0.0))
    save(fig, out, "phase_adex_below.png", written)
    fig, _ = sp.phase_plane(layer, current=1.2 * rh)
    save(fig, out, "phase_adex_above.png", written)
    for preset in sn.IZHIKEVICH_PRESETS:
        layer = sn.Izhikevich.preset(preset, ts=0.0005, refractory_timesteps=0)
        fig, ax = sp.phase_plane(layer, current=10.0, steps=400)
        ax.set_title(f"Izhikevich ({preset.replace('_', ' ')}) phase plane, I = 10, 200 ms")
        save(fig, out, f"phase_izhikevich_{preset}.png", written)
    layer = sn.Izhikevich(ts=0.0005, refractory_timesteps=0)
    fig, ax = sp.phase_plane(layer, current=0.0, initial_state=(-56.0, -12.0), steps=400,
                             u_range=(-80.0, -35.0), w_range=(-20.0, -5.0))
    ax.set_title("Izhikevich (regular spiking) at I = 0: a perturbation left of the saddle returns to rest")
    save(fig, out, "phase_izhikevich_rest.png", written)


def izhikevich_traces(out: Path, written: List[Path]) -> None:
    fig, axes = plt.subplots(4, 1, figsize=(9, 10), sharex=True)
    for preset, ax in zip(sn.IZHIKEVICH_PRESETS, axes):
        layer = sn.Izhikevich.preset(preset, ts=0.0005, refractory_timesteps=0)
        steps = 600

        def stimulus(t: int) -> torch.Tensor:  # step current switched on at 20 ms
            return torch.full((1, 1, 1, 1), 10.0 if t * layer.ts >= 0.02 else 0.0, dtype=torch.float64)

        rec = sim.simulate(layer, None, steps, stimulus=stimulus, record=("v", "spikes"), progress=False)
        sp.plot_trace(rec["v"], rec["spikes"], ax=ax, ts=layer.ts, threshold=layer.threshold, peak=30.0,
                      labels=[preset.replace("_", " ")], ylabel="v (mV)")
        ax.set_ylim(-85, 40)
        ax.set_xlabel("")
    axes[0].set_title("Izhikevich presets: step current I = 10 from 20 ms (ts = 0.5 ms)")
    axes[-1].set_xlabel("time (ms)")
    fig.tight_layout()
    save(fig, out, "izhikevich_presets_traces.png", written)


def new_models(out: Path, written: List[Path]) -> None:
    """The two models written on the model contract: resonance and threshold adaptation."""
    fig, axes = plt.subplots(1, 2, figsize=(14, 5))
    sp.phase_plane(sn.ResonateAndFire(threshold=1.0), current=20.0, ax=axes[0])
    ts, period = 0.001, 100  # omega = 2 pi 10 rad/s: one period is 100 steps of 1 ms
    for gap, label in ((period, "pulses one period apart"), (period // 2, "half a period apart")):
        layer = sn.ResonateAndFire(threshold=1.0, ts=ts)
        ys, spikes = [], []
        for n in range(300):
            o = layer.step(torch.full((1, 1, 1, 1), (1.0 / ts) if n in (0, gap) else 0.0))
            ys.append(o.potentials.item())
            if o.spikes.item() > 0:
                spikes.append(n)
        line, = axes[1].plot([n * ts * 1000 for n in range(300)], ys, label=f"{label} ({len(spikes)} spikes)")
        for n in spikes:
            axes[1].axvline(n * ts * 1000, color=line.get_color(), ls=":")
    axes[1].axhline(1.0, color="k", lw=0.8, label="threshold")
    axes[1].set(xlabel="time (ms)", ylabel="y", title="ResonateAndFire: two pulses of x")
    axes[1].legend()
    save(fig, out, "resonate_and_fire.png", written)

    layer = sn.AdaptiveLIF(threshold=10.0, beta=4.0, tau_adapt=0.2, ts=1e-4, refractory_timesteps=0,
                           inhibition_mode="none")
    us, thr, spikes = [], [], []
    for n in range(4000):
        a = layer.get_state()["w"]
        thr.append(10.0 + 4.0 * (0.0 if a is None else a.item()))
        o = layer.step(torch.full((1, 1, 1, 1), 400.0))
        us.append(o.potentials.item())
        if o.spikes.item() > 0:
            spikes.append(n)
    t_ms = [n * 0.1 for n in range(4000)]
    fig, axes = plt.subplots(1, 2, figsize=(14, 5))
    axes[0].plot(t_ms, us, label="potential u")
    axes[0].plot(t_ms, thr, label="threshold θ + β a")
    axes[0].set(xlabel="time (ms)", ylabel="u", title="AdaptiveLIF under constant drive")
    axes[0].legend()
    isis = [(b - a) * 0.1 for a, b in zip(spikes, spikes[1:])]
    axes[1].plot(range(1, len(isis) + 1), isis, "o-")
    axes[1].set(xlabel="interval #", ylabel="inter-spike interval (ms)", title="intervals lengthen")
    save(fig, out, "adaptive_lif.png", written)


def fi_curves(out: Path, written: List[Path]) -> Dict[str, float]:
    layer = sn.LIF(threshold=10.0, ts=1e-4)
    res = sim.fi_curve(layer)
    ok = res.analytic[0] > 20.0
    rel = ((res.rates[0] - res.analytic[0]).abs() / res.analytic[0])[ok]
    err, mean = float(rel.max()), float(rel.mean())
    fig, ax = sp.plot_fi_curve(layer)
    ax.set_title(f"LIF f-I curve, ts = 0.1 ms, 1 s per current\n"
                 f"deviation from the analytic rate above 20 Hz: mean {100 * mean:.1f}%, max {100 * err:.1f}%")
    save(fig, out, "fi_lif.png", written)
    fig, axes = plt.subplots(3, 5, figsize=(26, 14))
    for (name, make), ax in zip(MODELS.items(), axes.flat):
        sp.plot_fi_curve(make(), ax=ax)
    fig.tight_layout()
    save(fig, out, "fi_curves.png", written)
    return {"lif_fi_max_rel_error": err, "lif_fi_mean_rel_error": mean}


def trace_and_raster(out: Path, written: List[Path]) -> None:
    layer = sn.LIF(threshold=10.0, ts=1e-4, inhibition_mode="neuron")
    currents = torch.tensor([120.0, 200.0, 400.0], dtype=torch.float64).view(1, 1, 1, 3)
    rec = sim.simulate(layer, currents, 600, record=("v", "spikes"), progress=False)
    fig, ax = sp.plot_trace(rec["v"], rec["spikes"], ts=layer.ts, threshold=10.0, neurons=(0, 1, 2),
                            labels=["I = 120 (below rheobase)", "I = 200", "I = 400"])
    ax.set_title("LIF membrane potentials (ts = 0.1 ms, t_ref = 0.2 ms)")
    save(fig, out, "trace_lif.png", written)

    g = torch.Generator().manual_seed(0)
    layer = sn.UniformLIF(threshold=10.0, tau_range=(0.01, 0.05), seed=0, n_features=4, ts=1e-3,
                          refractory_timesteps=3, inhibition_mode="location")
    x = torch.rand(1, 4, 6, 6, generator=g) * 500.0
    rec = sim.simulate(layer, x, 300, record=("spikes",), n_winners=4, progress=False)
    fig, ax = sp.plot_raster(rec["spikes"], ts=layer.ts)
    ax.set_title(f"UniformLIF 4 x 6 x 6, random constant input, location inhibition: "
                 f"{int(rec['spikes'].ne(0).sum())} spikes")
    save(fig, out, "raster.png", written)


def train_features(n_images: int = 800, batch: int = 16, seed: int = 0):
    """Two convolutions trained briefly with STDP on the shipped MNIST digits (seconds).

    DoG on/off filtering and latency coding (15 steps) -> conv 16 (5x5, threshold 15,
    5 winners) -> pointwise inhibition, pooling 2 -> conv 24 (3x3, threshold 10,
    8 winners); the a+ rate doubles every 10 batches up to 0.15, as in SpykeTorch's
    recipe. Returns ``(conv1, conv2, dog_kernels)``.
    """
    import spyketorch.functional as sf
    import spyketorch.snn as snn

    torch.manual_seed(seed)
    images, _ = su.load_mnist_subset(train=True)
    dog = [su.DoGKernel(7, 1.0, 2.0), su.DoGKernel(7, 2.0, 1.0)]
    filt = su.Filter(dog, padding=3, thresholds=50)
    coder = su.Intensity2Latency(15, to_spike=True, batched=True)
    waves = coder(sf.local_normalization(filt(images[:n_images].float().unsqueeze(1)), 8))  # [N, T, 2, 28, 28]
    conv1, conv2 = snn.Convolution(2, 16, 5, 0.8, 0.05), snn.Convolution(16, 24, 3, 0.8, 0.05)
    for layer in (1, 2):
        stdp = snn.STDP(conv1 if layer == 1 else conv2, (0.004, -0.003))
        ap = 0.004
        for i in range(0, n_images, batch):
            x = sf.pad(waves[i:i + batch], (2, 2, 2, 2))
            with torch.no_grad():
                spk, pot = sf.fire(conv1(x), 15.0, True)
            if layer == 2:
                x = sf.pad(sf.pooling(sf.pointwise_inhibition(pot).sign(), 2, 2, 1), (1, 1, 1, 1))
                spk, pot = sf.fire(conv2(x), 10.0, True)
            winners = sf.get_k_winners(pot, 5 if layer == 1 else 8, 3 if layer == 1 else 1, spk, as_tensor=True)
            stdp(x, pot, spk, winners)
            if (i // batch) % 10 == 9 and ap < 0.15:
                ap *= 2
                stdp.update_all_learning_rate(ap, -0.75 * ap)
    return conv1, conv2, torch.stack([k() for k in dog]).unsqueeze(1)


def features(out: Path, written: List[Path]) -> None:
    conv1, conv2, dog = train_features()
    fig, axes = plt.subplots(1, 2, figsize=(10, 5.5))
    sp.plot_features(conv1, ax=axes[0], title="layer 1 weights (on - off channel)")
    sp.plot_deep_features([conv1], input_kernels=dog, normalize_input_kernels=True, ax=axes[1],
                          title="layer 1 through the DoG filters (pixels)")
    fig.suptitle("16 layer-1 features after STDP on 800 MNIST digits")
    fig.tight_layout()
    save(fig, out, "features_layer1.png", written)
    fig, _ = sp.plot_deep_features([conv1, conv2], [(2, 2)], input_kernels=dog, normalize_input_kernels=True,
                                   title="24 layer-2 features through layer 1\nand the DoG filters (pixels)")
    save(fig, out, "features_deep.png", written)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/gallery", help="output folder (default: out/gallery)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written: List[Path] = []
    t0 = time.time()
    ode_plots(out, written)
    phase_planes(out, written)
    izhikevich_traces(out, written)
    new_models(out, written)
    metrics = fi_curves(out, written)
    trace_and_raster(out, written)
    features(out, written)
    for p in written:
        print(p)
    print(f"{len(written)} images in {time.time() - t0:.1f} s; "
          f"LIF f-I deviation from the analytic curve (rates > 20 Hz): "
          f"mean {100 * metrics['lif_fi_mean_rel_error']:.2f}%, max {100 * metrics['lif_fi_max_rel_error']:.2f}%")


if __name__ == "__main__":
    main()
