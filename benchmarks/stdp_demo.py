"""Time one STDP training step per image: SpykeTorch-style loop vs the demo's batched path.

The reference style feeds one spike-wave at a time through the wave ops
(conv -> fire -> pointwise inhibition -> k winners -> STDP); the demo's path
runs mini-batches in the latency domain. Both give the same weights for a
batch of one (see tests/test_kheradpisheh.py).

Usage::

    python benchmarks/stdp_demo.py [--images 256] [--batch 16]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's spyketorch first
import spyketorch.functional as sf  # noqa: E402
import spyketorch.utils as su  # noqa: E402
from spyketorch.networks import kheradpisheh as demo  # noqa: E402


def reference_step1(net, times: torch.Tensor) -> None:
    cfg = net.cfg
    x = sf.pad(sf.spike_wave(times, cfg.time_steps), (2, 2, 2, 2))
    spk, pot = sf.fire(net.conv1(x), cfg.conv1_threshold, True)
    pot = sf.pointwise_inhibition(pot)
    spk = pot.sign()
    net.stdp1(x, pot, spk, sf.get_k_winners(pot, cfg.k1, cfg.r1, spk))


def reference_step2(net, compact: torch.Tensor) -> None:
    cfg = net.cfg
    x = sf.spike_wave(net.dense_input(compact.unsqueeze(0))[0], cfg.time_steps)
    spk, pot = sf.fire(net.conv2(x), cfg.conv2_threshold, True)
    pot = sf.pointwise_inhibition(pot)
    spk = pot.sign()
    net.stdp2(x, pot, spk, sf.get_k_winners(pot, cfg.k2, cfg.r2, spk))


def timed(fn, items, batch: int) -> float:
    t0 = time.perf_counter()
    for i in range(0, items.shape[0], batch):
        fn(items[i] if batch == 1 else items[i : i + batch])
    return 1000 * (time.perf_counter() - t0) / items.shape[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    args = ap.parse_args()
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    cfg = demo.Config()
    net = demo.KheradpishehNet(cfg)
    times = demo.encode(su.load_mnist_subset(train=True)[0][: args.images], cfg)
    compact = net.layer2_input(times)
    rows = [
        ("layer-1 STDP, reference style (1 image)", timed(lambda t: reference_step1(net, t), times, 1)),
        (f"layer-1 STDP, batched latency path (B={args.batch})", timed(net.stdp_step1, times, args.batch)),
        ("layer-2 STDP, reference style (1 image)", timed(lambda c: reference_step2(net, c), compact, 1)),
        (f"layer-2 STDP, batched latency path (B={args.batch})", timed(net.stdp_step2, compact, args.batch)),
    ]
    for name, ms in rows:
        print(f"{name:52s} {ms:7.2f} ms/image")


if __name__ == "__main__":
    main()
