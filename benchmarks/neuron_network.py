"""Throughput of the per-time-step STDP network (issue 9), three figures from one run.

Same architecture as layer 1 of ``examples/mnist_stdp.py`` (2 -> 32 features, 5x5, pad 2,
k = 5, r = 2, T = 15, latency-coded shipped MNIST digits):

1. STDP training images/s of the per-time-step network (:mod:`spyketorch.network`, a neuron
   layer stepped 15 times per batch) at batch ``B`` (default 32), against the
   latency-domain demo (``KheradpishehNet.stdp_step1``) at the same batch: target ratio <= 3.
2. Forward images/s (all time steps, no learning) of the per-time-step network at batch ``B``,
   against the same network stepped at batch 1 with the layers' tuple-returning call that
   hands the winners to Python every step (the reference fork's calling pattern; the fork
   itself is not runnable here), and against the fork's measured 0.9-2.0 ms per
   ``[1, 30, 24, 24]`` step quoted in the issue (15 steps per image): target >= 50x.

Timing figures on a shared machine are noisy; take final figures on a quiet one.
Run: ``python benchmarks/neuron_network.py [--model LIF] [--batch 32] [--images 128]``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(ROOT))
import mnist_stdp as demo  # noqa: E402
import neuron_stdp as ex  # noqa: E402

from spyketorch.snn import STDP  # noqa: E402


def per_s(n: int, fn) -> float:
    t0 = time.perf_counter()
    fn()
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="LIF")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--images", type=int, default=128)
    ap.add_argument("--batch1-images", type=int, default=8)
    args = ap.parse_args()
    cfg = demo.Config()
    t_steps, b = cfg.time_steps, args.batch
    x, _ = demo.su.load_mnist_subset(True)
    times = demo.encode(x[: args.images], cfg)
    n = times.shape[0] - times.shape[0] % b

    net = ex.build(args.model, cfg, 0)
    net.blocks[0].gain = 700.0
    stdp = STDP(net.blocks[0].conv, cfg.learning_rate)
    net.stdp_step(ex.step_spikes(times[:b], "latency", t_steps), 0, stdp)  # warm-up
    step_train = per_s(n, lambda: [net.stdp_step(ex.step_spikes(times[i : i + b], "latency", t_steps), 0, stdp)
                                   for i in range(0, n, b)])
    ref = demo.KheradpishehNet(cfg)
    ref.stdp_step1(times[:b])
    demo_train = per_s(n, lambda: [ref.stdp_step1(times[i : i + b]) for i in range(0, n, b)])

    net.blocks[0].track_values = False
    fwd = per_s(n, lambda: [net.run(ex.step_spikes(times[i : i + b], "latency", t_steps)) for i in range(0, n, b)])

    layer = net.blocks[0].neuron
    w = net.blocks[0].conv.weight
    gain = net.blocks[0].gain

    def batch1_reference_calls() -> None:
        for i in range(args.batch1_images):
            layer.reset()
            s = ex.step_spikes(times[i : i + 1], "latency", t_steps)
            for t in range(t_steps):
                pot = F.conv2d(F.pad(s[:, t], (2, 2, 2, 2)), w) * gain
                spikes, _, winners = layer(pot, return_winners=True, n_winners=cfg.k1)  # winners: a Python list

    batch1 = per_s(args.batch1_images, batch1_reference_calls)
    fork_best, fork_worst = 1.0 / (t_steps * 0.9e-3), 1.0 / (t_steps * 2.0e-3)

    print(f"model {args.model}, batch {b}, {n} images, T = {t_steps}, threads {torch.get_num_threads()}")
    print(f"1. STDP training: per-time-step network {step_train:8.1f} img/s, latency-domain demo {demo_train:8.1f} img/s"
          f"  -> demo / network = {demo_train / step_train:.2f}x (target <= 3x)")
    print(f"2. forward, all steps: per-time-step network at batch {b} {fwd:8.1f} img/s; same network at batch 1 with "
          f"the reference-style call {batch1:8.1f} img/s -> {fwd / batch1:.1f}x")
    print(f"3. against the fork's quoted 0.9-2.0 ms per [1,30,24,24] step ({fork_worst:.0f}-{fork_best:.0f} img/s "
          f"at T = {t_steps}, convolution not counted): {fwd / fork_best:.2f}x-{fwd / fork_worst:.2f}x (target >= 50x)")


if __name__ == "__main__":
    main()
