"""Run the other reference systems and plot what they computed.

* ``sam_network.png`` – a recurrent network of :class:`~spyketorch.RectifiedSAM`
  neurons (activations convolved back as synaptic input) driven through
  :func:`spyketorch.simulate` with equilibration steps and a stimulus pulse:
  spike raster, population rate against the expected rate, and activations;
  ``sam_tune.png`` – gradient tuning of its parameters to a target rate;
* ``rate_models.png`` – a linear R-type :class:`~spyketorch.RateModel` relaxing to
  its fixed point :math:`(I - J)^{-1} J_x x`, a tanh Z-type network, and a
  :class:`~spyketorch.Conv2dRateModel` activity map;
* ``spiking_model.png`` – a random excitatory-inhibitory network of EIF neurons
  (:class:`~spyketorch.SpikingModel`): raster, recorded V and input of two
  neurons, binned population rates;
* ``ffiaf.png`` – a :class:`~spyketorch.FFIAF` layer: membrane traces of neurons
  with and without refractoriness against the closed-form first-spike time, and
  noisy traces.

Each section prints what it measured. Usage::

    python examples/reference_systems.py --out out/reference_systems [--threads 1] [--device cuda]
"""
from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from spyketorch.systems.iaf import FFIAF  # noqa: E402
from spyketorch.systems.recurrent import Conv2dRateModel, RateModel, SpikingModel  # noqa: E402
from spyketorch.systems.sam import RectifiedSAM  # noqa: E402
from spyketorch.analysis.simulation import simulate  # noqa: E402


class SAMNetwork(torch.nn.Module):
    """A recurrent SAM network: the layer's own activation, convolved, is its synaptic input."""

    def __init__(self, layer: RectifiedSAM, weight: torch.Tensor) -> None:
        super().__init__()
        self.layer = layer
        self.register_buffer("weight", weight)

    def forward(self, x: torch.Tensor):
        s = self.layer.s
        if s is not None:
            x = x + F.conv2d(s, self.weight, padding=self.weight.shape[-1] // 2)
        return self.layer.step(x, n_winners=0)


def sam_section(out: Path, device: str) -> None:
    torch.manual_seed(0)
    C, H, W, T = 4, 12, 12, 600
    dt = 1e-3
    weight = (torch.rand(C, C, 3, 3) - 0.45) * 40.0  # mostly excitatory, some inhibition
    layer = RectifiedSAM(lambda_0=20.0, theta=0.5, tau=0.01, dt=dt, r=1.0, b=0.9,
                         generator=torch.Generator(device=device).manual_seed(0))
    net = SAMNetwork(layer, weight.to(device))
    x = torch.zeros(1, C, H, W, device=device)
    pulse = lambda t: torch.full((1, C, H, W), 1.0 if 200 <= t < 300 else 0.0, device=device)  # noqa: E731
    t0 = time.perf_counter()
    rec = simulate(net, x, T, stimulus=pulse, equilibration_steps=100, record=("spikes", "potentials"),
                   progress=False)
    secs = time.perf_counter() - t0
    spikes = rec["spikes"][:, 0].cpu()  # [T, C, H, W] counts
    s = rec["potentials"][:, 0].cpu()
    rate = spikes.sum(dim=(1, 2, 3)) / (C * H * W * dt)
    print(f"[SAM] {C * H * W} neurons, {T} steps after 100 equilibration steps in {secs:.2f} s; "
          f"mean rate {float(rate[:200].mean()):.1f} Hz before, {float(rate[200:300].mean()):.1f} Hz "
          f"during the stimulus pulse")

    fig, axes = plt.subplots(3, 1, figsize=(8, 8), sharex=True)
    flat = spikes.reshape(T, -1)[:, :200]
    tt, nn_ = flat.nonzero(as_tuple=True)
    axes[0].scatter(tt.numpy() * dt, nn_.numpy(), s=1, c="k")
    axes[0].set_ylabel("neuron (first 200)")
    axes[0].set_title("Recurrent RectifiedSAM network (stimulus 200-300 ms)")
    axes[1].plot(torch.arange(T) * dt, rate.numpy(), lw=0.8)
    axes[1].set_ylabel("population rate (Hz)")
    axes[2].plot(torch.arange(T) * dt, s.reshape(T, -1)[:, :5].numpy(), lw=0.8)
    axes[2].set_ylabel("activation s")
    axes[2].set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(out / "sam_network.png", dpi=110)
    plt.close(fig)

    # gradient tuning of (r, b, theta, lambda_0) to a target rate in the recurrent network
    layer.reset()
    rec_fn = lambda s: F.conv2d(s, weight.to(device), padding=1)  # noqa: E731
    target = 10.0
    res = layer.tune(x, target, parameters="all", steps=50, epochs=200, lr=0.02, recurrent=rec_fn, tol=0.01)
    print(f"[SAM tune] target {target} Hz: reached {res.rate:.2f} Hz in {res.epochs} epochs "
          f"(converged={res.converged}); b={float(layer.b):.3f}, theta={float(layer.theta):.3f}, "
          f"r={float(layer.r):.3f}, lambda_0={float(layer.lambda_0):.2f}")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.semilogy(res.losses.numpy())
    ax.set_xlabel("epoch")
    ax.set_ylabel("((rate - target) / target)^2")
    ax.set_title(f"RectifiedSAM.tune to {target} Hz")
    fig.tight_layout()
    fig.savefig(out / "sam_tune.png", dpi=110)
    plt.close(fig)


def rate_section(out: Path, device: str) -> None:
    g = torch.Generator().manual_seed(1)
    N, Nx, Nt = 10, 3, 400
    J = torch.randn(N, N, generator=g, dtype=torch.float64)
    J = 0.8 * J / torch.linalg.eigvals(J).abs().max()
    Jx = torch.randn(N, Nx, generator=g, dtype=torch.float64)
    x = torch.randn(1, Nx, generator=g, dtype=torch.float64)
    lin = RateModel(J, readin=Jx, f="id", eta=0.1, bias_recurrent=False, bias_output=False).to(device)
    with torch.no_grad():
        y = lin(x.to(device), Nt=Nt).cpu()[0]
    fixed = torch.linalg.solve(torch.eye(N, dtype=torch.float64) - J, Jx @ x[0])
    err = float((y[-1] - fixed).abs().max())
    print(f"[RateModel] linear R-type, eta=0.1: distance to the fixed point after {Nt} steps {err:.2e}")

    zmodel = RateModel(50, readin=2, f="tanh", eta=0.1, rho_recurrent=1.8, Network_Type="Z",
                       generator=torch.Generator().manual_seed(2)).to(device)
    xt = torch.zeros(1, 300, 2, device=device)
    xt[:, 20:40] = 1.0
    with torch.no_grad():
        z = zmodel(xt).cpu()[0]
    conv = Conv2dRateModel(2, 5, in_channels=1, readin_kernel_size=5, f="relu", eta=0.2).to(device)
    img = torch.zeros(1, 1, 24, 24, device=device)
    img[..., 8:16, 8:16] = 1.0
    with torch.no_grad():
        cmap = conv(img, Nt=30, return_time_series=False).cpu()[0]
    print(f"[RateModel] tanh Z-type (rho=1.8, 50 units): final |f(z)| mean {float(z[-1].abs().mean()):.3f}; "
          f"[Conv2dRateModel] activity map {tuple(cmap.shape)}, max {float(cmap.max()):.3f}")

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    axes[0].plot(y.numpy(), lw=0.8)
    axes[0].plot([Nt - 1] * N, fixed.numpy(), "k_", ms=10, label="(I - J)^-1 Jx x")
    axes[0].set_title("linear R-type: relaxation to the fixed point")
    axes[0].set_xlabel("step")
    axes[0].legend(fontsize=7)
    axes[1].plot(z[:, :8].numpy(), lw=0.8)
    axes[1].axvspan(20, 40, color="0.9")
    axes[1].set_title("tanh Z-type (pulse 20-40): f(z)")
    axes[1].set_xlabel("step")
    im = axes[2].imshow(cmap[0].numpy(), cmap="viridis")
    axes[2].set_title("Conv2dRateModel: channel 0 after 30 steps")
    fig.colorbar(im, ax=axes[2])
    fig.tight_layout()
    fig.savefig(out / "rate_models.png", dpi=110)
    plt.close(fig)


def spiking_section(out: Path, device: str) -> None:
    g = torch.Generator().manual_seed(3)
    Ne, Ni = 160, 40
    N = Ne + Ni
    p = 0.1
    conn = (torch.rand(N, N, generator=g) < p).float()
    J = conn.clone()
    J[:, :Ne] *= 25.0 / math.sqrt(N)
    J[:, Ne:] *= -100.0 / math.sqrt(N)
    model = SpikingModel(J, tausyn=torch.cat((torch.full((Ne,), 8.0), torch.full((Ni,), 4.0))),
                         NeuronModel="EIF").to(device)
    x0 = torch.full((1, N), 20.0, device=device)
    dt, T = 0.1, 500.0
    t0 = time.perf_counter()
    with torch.no_grad():
        res = model(x0, dt, T=T, dtRecord=5.0, Tburn=100.0, VIRecord=[0, Ne],
                    generator=torch.Generator(device=device).manual_seed(0))
    secs = time.perf_counter() - t0
    r = res["r"][0].cpu() * 1000.0  # spikes per ms -> Hz
    print(f"[SpikingModel] EIF E-I network, {N} neurons, {T:.0f} ms in {secs:.2f} s: "
          f"E rate {float(r[:Ne].mean()):.1f} Hz, I rate {float(r[Ne:].mean()):.1f} Hz, "
          f"{res['spike_times'].numel()} spikes")
    st, si = res["spike_times"].cpu(), res["spike_index"][:, 1].cpu()
    fig, axes = plt.subplots(3, 1, figsize=(8, 8), sharex=True)
    axes[0].scatter(st.numpy(), si.numpy(), s=1, c=["tab:red" if i >= Ne else "tab:blue" for i in si.tolist()])
    axes[0].set_ylabel("neuron (E blue, I red)")
    axes[0].set_title("SpikingModel: random E-I network of EIF neurons")
    t = (torch.arange(res["V"].shape[1]) + 1) * dt
    axes[1].plot(t.numpy(), res["V"][0].cpu().numpy(), lw=0.6)
    axes[1].set_ylabel("V (mV), neurons 0 and Ne")
    tb = (torch.arange(res["S"].shape[1]) + 0.5) * 5.0
    axes[2].plot(tb.numpy(), res["S"][0, :, :Ne].mean(1).cpu().numpy() * 1000, label="E")
    axes[2].plot(tb.numpy(), res["S"][0, :, Ne:].mean(1).cpu().numpy() * 1000, label="I")
    axes[2].set_ylabel("rate (Hz), 5 ms bins")
    axes[2].set_xlabel("time (ms)")
    axes[2].legend()
    fig.tight_layout()
    fig.savefig(out / "spiking_model.png", dpi=110)
    plt.close(fig)


def iaf_section(out: Path, device: str) -> None:
    dt = 1e-4
    W = torch.eye(2, dtype=torch.float64)
    layer = FFIAF(W, bias=0.0, dt=dt, refractory=torch.tensor([0.0, 0.005], dtype=torch.float64)).to(device)
    I = 0.0237
    res = layer.evolve(torch.full((600, 2), I, dtype=torch.float64, device=device), record=True)
    v_inf = -0.065 + I
    t_star = 0.02 * math.log((v_inf + 0.065) / (v_inf + 0.055))
    first = [int(res.spikes[:, i].nonzero()[0]) for i in range(2)]
    isi = [float(torch.diff(res.spikes[:, i].nonzero().flatten()).double().mean()) * dt for i in range(2)]
    print(f"[FFIAF] closed-form first spike {t_star * 1e3:.3f} ms -> step {math.ceil(t_star / dt)}; "
          f"simulated steps {[f + 1 for f in first]}; mean ISI {isi[0] * 1e3:.2f} ms without and "
          f"{isi[1] * 1e3:.2f} ms with 5 ms refractoriness")
    noisy = FFIAF(torch.eye(3, dtype=torch.float64), bias=0.0, dt=dt, noise_std=0.05, seed=0).to(device)
    nres = noisy.evolve(torch.full((600, 3), 0.0095, dtype=torch.float64, device=device), record=True)
    print(f"[FFIAF] noise_std=0.05 V/sqrt(s), subthreshold drive: {int(nres.spikes.sum())} noise-driven spikes")
    t = res.times.cpu().numpy() * 1e3
    fig, axes = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    axes[0].plot(t, res.v[:, 0].cpu().numpy() * 1e3, label="no refractoriness")
    axes[0].plot(t, res.v[:, 1].cpu().numpy() * 1e3, label="5 ms refractory")
    axes[0].axvline(t_star * 1e3, color="k", ls=":", label="closed-form first spike")
    axes[0].axhline(-55, color="0.5", lw=0.5)
    axes[0].set_ylabel("v (mV)")
    axes[0].legend(fontsize=7)
    axes[0].set_title("FFIAF under constant current")
    axes[1].plot(t, nres.v.cpu().numpy() * 1e3, lw=0.6)
    axes[1].axhline(-55, color="0.5", lw=0.5)
    axes[1].set_ylabel("v (mV), noisy")
    axes[1].set_xlabel("time (ms)")
    fig.tight_layout()
    fig.savefig(out / "ffiaf.png", dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/reference_systems",
                        help="output folder (default: out/reference_systems)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="device (default: cuda if available)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's choice; 1 is fastest for these small "
                             "tensors on a busy machine)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for section in (sam_section, rate_section, spiking_section, iaf_section):
        section(out, args.device)
    print(f"wrote {', '.join(sorted(p.name for p in out.glob('*.png')))} to {out}")


if __name__ == "__main__":
    main()
