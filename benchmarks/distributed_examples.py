"""Training images per second of the three STDP examples in 1 and 2 processes, and the bytes sent per update.

Each example runs twice with the same global batch: one process with batch ``2 b``,
then ``torchrun --nproc_per_node=2`` with ``b`` per process (gloo on the CPU, or NCCL
with ``--device cuda`` on a machine with 2 GPUs). The runs are sequential, each process
limited to ``--threads`` CPU threads. Throughput is global images per second of the
STDP / R-STDP training passes (all processes together), as the examples report it.

Bytes per update: every STDP / R-STDP update all-reduces one float32 tensor of the
layer's weight shape (the summed update), whatever the batch; the Mozafari layer-3
update also all-reduces its 3 int64 counts. One-off gathers (coded inputs, caches,
features, decisions) are not per update and are not counted.

Usage::

    python benchmarks/distributed_examples.py [--train 512] [--test 128] [--batch 16] [--threads 1]
        [--examples mnist,neuron,mozafari]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import torch

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"


def _bytes_per_update() -> Dict[str, List[tuple]]:
    """(layer, weight shape, bytes per all-reduce) of every learning layer, from the examples' own nets."""
    from spyketorch.networks import kheradpisheh as demo  # noqa: E402
    from spyketorch.networks.mozafari import MozafariConfig, MozafariNet  # noqa: E402

    k = demo.KheradpishehNet(demo.Config())
    m = MozafariNet(MozafariConfig())
    f = lambda w: 4 * w.numel()  # noqa: E731  float32 sum
    return {
        "mnist": [("layer 1", tuple(k.conv1.weight.shape), f(k.conv1.weight)),
                  ("layer 2", tuple(k.conv2.weight.shape), f(k.conv2.weight))],
        "neuron": [("layer 1", tuple(k.conv1.weight.shape), f(k.conv1.weight))],
        "mozafari": [("layer 1", tuple(m.conv1.weight.shape), f(m.conv1.weight)),
                     ("layer 2", tuple(m.conv2.weight.shape), f(m.conv2.weight)),
                     ("layer 3 (+ 3 int64 counts)", tuple(m.decision.weight.shape), f(m.decision.weight) + 3 * 8)],
    }


def _run(cmd: List[str], threads: int) -> float:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS=str(threads))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return time.perf_counter() - t0


def measure(name: str, procs: int, batch: int, args: argparse.Namespace, out: Path) -> Dict[str, float]:
    """Images/s of one run of example ``name`` with ``procs`` processes of ``batch`` images each."""
    launcher = [sys.executable] if procs == 1 else [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}"]
    common = ["--train-limit", str(args.train), "--test-limit", str(args.test), "--threads", str(args.threads),
              "--no-progress"]
    dev = ["--device", args.device] if name != "mnist" else []
    if name == "mnist":
        cmd = [str(EX / "mnist_stdp.py"), *common, "--batch-size", str(batch), "--readout-iters", "20",
               "--out-dir", str(out)]
        wall = _run(launcher + cmd, args.threads)
        r = torch.load(out / "mnist_stdp.pt", weights_only=False)["result"]
        return {"layer 1": r["layer1_images_per_sec"], "layer 2": r["layer2_images_per_sec"], "wall_s": wall}
    if name == "neuron":
        cmd = [str(EX / "neuron_stdp.py"), "--model", args.neuron_model, *common, *dev, "--batch-size", str(batch),
               "--readout", "ridge", "--calib-images", "8", "--calib-iters", "4", "--json", str(out / "r.json")]
        wall = _run(launcher + cmd, args.threads)
        r = json.loads((out / "r.json").read_text())[0]
        return {"layer 1": r["stdp_images_per_s"], "wall_s": wall}
    cmd = [str(EX / "mozafari_rstdp.py"), *common, *dev, "--batch-size", str(batch), "--rstdp-batch", str(batch),
           "--epochs1", "1", "--epochs2", "1", "--epochs3", "1", "--out-dir", str(out)]
    wall = _run(launcher + cmd, args.threads)
    r = json.loads((out / "mozafari_result.json").read_text())
    return {f"layer {i}": r[f"layer{i}_images_per_sec"] for i in (1, 2, 3)} | {"wall_s": wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", type=int, default=512, help="training digits (default 512)")
    ap.add_argument("--test", type=int, default=128, help="test digits (default 128)")
    ap.add_argument("--batch", type=int, default=16, help="per-process batch of the 2-process run (default 16)")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads per process (default 1)")
    ap.add_argument("--device", default="cpu", help="device of the neuron and Mozafari examples (default cpu)")
    ap.add_argument("--neuron-model", default="LIF", help="neuron_stdp model (default LIF)")
    ap.add_argument("--examples", default="mnist,neuron,mozafari")
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} at start, {os.cpu_count()} CPUs, {args.threads} thread(s) per "
          f"process, {args.train} training digits, global batch {2 * args.batch}")
    sizes = _bytes_per_update()
    for name in args.examples.split(","):
        res = {}
        for procs in (1, 2):
            with tempfile.TemporaryDirectory() as d:
                res[procs] = measure(name, procs, args.batch * 2 // procs, args, Path(d))
        print(f"\n{name}: images/s, 1 process x {2 * args.batch} -> 2 processes x {args.batch} "
              f"(load average now {os.getloadavg()[0]:.2f})")
        for key in res[1]:
            unit = "s" if key == "wall_s" else "img/s"
            print(f"  {key:8s} {res[1][key]:9.1f} -> {res[2][key]:9.1f} {unit}  (x{res[2][key] / res[1][key]:.2f})")
        for layer, shape, nbytes in sizes[name]:
            print(f"  bytes per update, {layer} {shape}: {nbytes:,}")


if __name__ == "__main__":
    main()
