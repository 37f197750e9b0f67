"""Throughput of the per-time-step STDP network (issue 9): the three figures from one run.

Same architecture as layer 1 of :mod:`spyketorch.networks.kheradpisheh` (2 -> 32 features, 5x5, pad 2,
k = 5, r = 2, T = 15, pooling 2/2/1, latency-coded shipped MNIST digits), the neuron layer
being ``--model`` (default LIF) with its input gain calibrated as in
:mod:`spyketorch.networks.neuron_stdp`:

a. STDP training images/s of the per-time-step network (:class:`spyketorch.networks.blocks.StepNetwork`,
   ``stdp_step``) at batch ``--batch`` (default 32);
b. STDP training images/s of the latency-domain demo (``KheradpishehNet.stdp_step1``) at the
   same batch, and the ratio b / a (target <= 3);
c. forward images/s (all ``T`` steps, no learning) of the network at batch ``--fwd-batch``
   (default 256), against the same network stepped at batch 1 with the reference fork's
   neuron layer (daevem/SpykeTorch-Extended, same class and parameters, same convolution and
   pooling, its ``__call__`` per step) (target >= 50). The fork is imported from
   ``--fork-path`` or ``$SPYKETORCH_FORK_PATH`` (the directory holding its ``SpykeTorch/``
   package; it is never copied into this repository); without it the line says
   "fork not available". The same network stepped at batch 1 with our own layer is printed
   too.

Every figure is the best of ``--repeat`` rounds (rounds interleave the measurements), so
that a shared, loaded machine disturbs the ratios less; the load is printed before and
after. Run::

    python benchmarks/neuron_network.py [--model LIF] [--batch 32] [--fwd-batch 256] \\
        [--fork-path /tmp/fork] [--device cpu|cuda] [--threads N] [--repeat 3] [--compiled]
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path
from typing import Callable, Optional

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's spyketorch first
import spyketorch.utils as su  # noqa: E402
from spyketorch.networks import kheradpisheh as demo  # noqa: E402
from spyketorch.networks import neuron_stdp as ex  # noqa: E402

from spyketorch.networks.blocks import calibrate_gain  # noqa: E402
from spyketorch.snn import STDP  # noqa: E402


def load_fork(path: Optional[str]):
    """The fork's ``SpykeTorch.neurons`` module, or ``None`` (with the reason printed)."""
    if not path:
        print("fork not available (give --fork-path or SPYKETORCH_FORK_PATH)")
        return None
    if not (Path(path) / "SpykeTorch" / "neurons.py").is_file():
        print(f"fork not available ({path}/SpykeTorch/neurons.py not found)")
        return None
    os.environ.setdefault("MPLBACKEND", "Agg")
    sys.path.insert(0, str(Path(path).resolve()))
    try:
        return importlib.import_module("SpykeTorch.neurons")
    except Exception as e:  # noqa: BLE001 - any import failure means "not available"
        print(f"fork not available ({type(e).__name__}: {e})")
        return None


def load_avg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="LIF")
    ap.add_argument("--batch", type=int, default=32, help="STDP training batch (default 32)")
    ap.add_argument("--fwd-batch", type=int, default=256, help="forward batch (default 256)")
    ap.add_argument("--train-images", type=int, default=128, help="images per training measurement (default 128)")
    ap.add_argument("--batch1-images", type=int, default=4, help="images per batch-1 measurement (default 4)")
    ap.add_argument("--fork-path", default=os.environ.get("SPYKETORCH_FORK_PATH"))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=3, help="rounds; each figure is the best one (default 3)")
    ap.add_argument("--compiled", action="store_true",
                    help="run our neuron layers with backend='compiled' (inductor-fused step)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    cfg = demo.Config()
    t_steps, b = cfg.time_steps, args.batch
    print(f"load before: {load_avg()}")

    def timed(n: int, fn: Callable[[], None]) -> float:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        t0 = time.perf_counter()
        fn()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        return n / (time.perf_counter() - t0)

    x, _ = su.load_mnist_subset(True)
    n_img = max(args.train_images, args.fwd_batch)
    times = demo.encode(x[:n_img], cfg).to(dev)
    ntr = args.train_images - args.train_images % b

    net = ex.build(args.model, cfg, 0).to(dev)
    block = net.blocks[0]
    if args.compiled:
        block.neuron.backend = "compiled"
    ref_if = ex.build("IF_exact", cfg, 0).to(dev)
    cal = ex.step_spikes(times[:32].cpu(), "latency", t_steps).to(dev)
    target = float((ref_if.run(cal)[0].post_times < t_steps).float().mean())
    gain = calibrate_gain(net, 0, cal, min(max(target, 1e-3), 0.999), lo=1e-2, hi=1e5, iters=10)
    stdp = STDP(block.conv, cfg.learning_rate)
    batches = [ex.step_spikes(times[i : i + b].cpu(), "latency", t_steps).to(dev) for i in range(0, ntr, b)]
    fwd_in = ex.step_spikes(times[: args.fwd_batch].cpu(), "latency", t_steps).to(dev)
    ref = demo.KheradpishehNet(cfg).to(dev)

    fork = load_fork(args.fork_path)
    fork_cls = getattr(fork, args.model, None) if fork is not None else None
    if fork is not None and fork_cls is None:
        print(f"fork not available for {args.model} (no such class in the fork)")
    w = block.conv.weight
    k = block.kwta

    def batch1(layer_call: Callable[[torch.Tensor], torch.Tensor], reset: Callable[[], None]) -> None:
        for i in range(args.batch1_images):
            reset()
            s = fwd_in[i : i + 1]
            for t in range(t_steps):
                pot = F.conv2d(F.pad(s[:, t], (2, 2, 2, 2)), w) * gain
                F.max_pool2d(F.pad(layer_call(pot), (1, 1, 1, 1)), 2, 2)

    own = ex.build(args.model, cfg, 0).blocks[0].neuron.to(dev)
    if args.compiled:
        own.backend = "compiled"

    def own_call(pot: torch.Tensor) -> torch.Tensor:
        return own.step(pot, n_winners=k).spikes

    fork_layer = None
    if fork_cls is not None:
        kw = {"threshold": cfg.conv1_threshold}
        fork_layer = fork_cls(**kw)

        def fork_call(pot: torch.Tensor) -> torch.Tensor:
            return fork_layer(pot, n_winners=k)[0]  # (spikes, potentials, winners as a Python list)

    best = {"net_train": 0.0, "demo_train": 0.0, "net_fwd": 0.0, "own_b1": 0.0, "fork_b1": 0.0}
    for r in range(args.repeat + 1):  # round 0 warms up
        net_train = timed(ntr, lambda: [net.stdp_step(s, 0, stdp) for s in batches])
        demo_train = timed(ntr, lambda: [ref.stdp_step1(times[i : i + b]) for i in range(0, ntr, b)])
        block.track_values = False  # forward only: the pooled spikes and counts
        net_fwd = timed(args.fwd_batch, lambda: net.run(fwd_in))
        block.track_values = True
        own_b1 = timed(args.batch1_images, lambda: batch1(own_call, own.reset))
        fork_b1 = 0.0
        if fork_layer is not None:
            try:
                fork_b1 = timed(args.batch1_images, lambda: batch1(fork_call, fork_layer.reset))
            except Exception as e:  # noqa: BLE001
                print(f"fork failed: {type(e).__name__}: {e}")
                fork_layer = None
        if r:
            for key, v in zip(best, (net_train, demo_train, net_fwd, own_b1, fork_b1)):
                best[key] = max(best[key], v)

    print(f"load after: {load_avg()}")
    print(f"model {args.model} (gain {gain:.4g}, {block.neuron.backend} step), T = {t_steps}, device {dev}, "
          f"threads {torch.get_num_threads()}, best of {args.repeat} rounds")
    bt = best
    print(f"a. STDP training, per-time-step network, batch {b}: {bt['net_train']:9.1f} img/s")
    print(f"b. STDP training, latency-domain demo,    batch {b}: {bt['demo_train']:9.1f} img/s"
          f"  -> demo / network = {bt['demo_train'] / bt['net_train']:.2f}x (target <= 3x)")
    print(f"c. forward (all {t_steps} steps), network at batch {args.fwd_batch}: {bt['net_fwd']:9.1f} img/s")
    print(f"   same network at batch 1, our {args.model} layer:        {bt['own_b1']:9.1f} img/s"
          f"  -> {bt['net_fwd'] / bt['own_b1']:.1f}x")
    if bt["fork_b1"] > 0:
        print(f"   same network at batch 1, the fork's {args.model} layer: {bt['fork_b1']:9.1f} img/s"
              f" ({1e3 / (bt['fork_b1'] * t_steps):.2f} ms per step incl. convolution)"
              f"  -> {bt['net_fwd'] / bt['fork_b1']:.1f}x (target >= 50x)")
    else:
        print("   the fork's layer at batch 1: fork not available")


if __name__ == "__main__":
    main()
