"""Time one step of every neuron layer.

Prints, for every model:

* microseconds per step at ``[1, 30, 24, 24]`` with ``n_winners=5`` for the reference
  call without the winners list (``layer(x, return_winners=False, n_winners=5)``:
  k-WTA and inhibition run, nothing is copied to the host), for the same call with
  the winners list (one host copy), and for :meth:`Neuron.step` (every output,
  winners as a tensor);
* at ``[64, 30, 24, 24]`` the ratio of one step (the reference call without the
  winners list, and :meth:`Neuron.step`) to one ``torch.add`` over the same tensor,
  both measured in this run.

Large CPU batches allocate several fresh multi-megabyte tensors per step; glibc
returns freed memory to the OS between steps and the next step pays page faults.
Setting ``MALLOC_TRIM_THRESHOLD_=1000000000 MALLOC_MMAP_THRESHOLD_=1000000000`` in the
environment keeps that memory; the script prints whether they are set.

Every figure is also taken, in the same run, for the implementation before the model
contract (``benchmarks/_neurons_before.py``, the ``neurons.py`` of commit 988aea0), so
the two can be compared as ratios from one run ("before" columns; ``-`` for models it
did not have). Models and their input scales come from the registry
:data:`spyketorch.neurons.MODELS`.

Timings are medians over blocks of steps, so a busy neighbour on the machine moves
them less. Run: ``python benchmarks/neuron_step.py [--compile] [--no-before] [--models LIF EIF]``.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import time
from typing import Callable, Dict, List

import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout's package
import spyketorch.neurons as sn  # noqa: E402


def make_layers() -> Dict[str, Callable[[], sn.Neuron]]:
    """Every registered model (see :data:`spyketorch.neurons.MODELS`)."""
    return sn.all_models()


def scale_for(name: str) -> float:
    """Input scale giving a few spikes per step, from the registry."""
    return sn.MODELS[name].input_scale


def before_layers() -> Dict[str, Callable[[], object]]:
    """The models of the implementation before the contract, loaded from its file."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_neurons_before.py")
    spec = importlib.util.spec_from_file_location("_neurons_before", path)
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod.all_models()


def median_us(fn: Callable[[], object], steps: int, blocks: int) -> float:
    for _ in range(max(10, steps // 5)):
        fn()
    times: List[float] = []
    for _ in range(blocks):
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        times.append((time.perf_counter() - t0) / steps * 1e6)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=None, help="subset of models")
    parser.add_argument("--compile", action="store_true", help="also time layer.compile()")
    parser.add_argument("--steps", type=int, default=400, help="steps per block at batch 1")
    parser.add_argument("--blocks", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--no-before", action="store_true", help="skip the implementation before the contract")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    layers = make_layers()
    names = args.models or list(layers)
    x1 = torch.rand(1, 30, 24, 24)
    x64 = torch.rand(64, 30, 24, 24)
    add_us = median_us(lambda: torch.add(x64, x64), 20, args.blocks)
    tuned = all(k in os.environ for k in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"))
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, glibc trim/mmap tunables "
          f"{'set' if tuned else 'not set'}; torch.add at [64,30,24,24]: {add_us:.1f} us")
    old = {} if args.no_before else before_layers()
    header = (f"{'model':22s} {'tuple us':>9s} {'before':>7s} {'+list us':>9s} {'step us':>9s} {'before':>7s} "
              f"{'B64 tuple/add':>13s} {'before':>7s} {'B64 step/add':>12s} {'before':>7s}")
    if args.compile:
        header += f" {'cmp tuple us':>12s} {'cmp B64 tuple/add':>17s}"
    print(header)

    def timings(layer: object, xa: torch.Tensor, xb: torch.Tensor) -> List[float]:
        t_tuple = median_us(lambda: layer(xa, return_winners=False, n_winners=5), args.steps, args.blocks)
        layer.reset()
        t_step = median_us(lambda: layer.step(xa, n_winners=5), args.steps, args.blocks)
        layer.reset()
        t64 = median_us(lambda: layer(xb, return_winners=False, n_winners=5), 10, args.blocks)
        layer.reset()
        s64 = median_us(lambda: layer.step(xb, n_winners=5), 10, args.blocks)
        return [t_tuple, t_step, t64 / add_us, s64 / add_us]

    for name in names:
        s = scale_for(name)
        xa, xb = x1 * s, x64 * s
        layer = layers[name]()
        t_tuple, t_step, r64, rs64 = timings(layer, xa, xb)
        layer.reset()
        t_list = median_us(lambda: layer(xa, n_winners=5), args.steps, args.blocks)
        b = timings(old[name](), xa, xb) if name in old else None

        def fmt(v: float, ndig: int = 1) -> str:
            return f"{v:7.{ndig}f}"

        bt = [fmt(b[0]), fmt(b[1]), fmt(b[2], 2), fmt(b[3], 2)] if b else ["      -"] * 4
        line = (f"{name:22s} {t_tuple:9.1f} {bt[0]} {t_list:9.1f} {t_step:9.1f} {bt[1]} "
                f"{r64:13.2f} {bt[2]} {rs64:12.2f} {bt[3]}")
        if args.compile:
            cl = layers[name]().compile(dynamic=False)
            tc = median_us(lambda: cl(xa, return_winners=False, n_winners=5), args.steps, args.blocks)
            cl.reset()
            tc64 = median_us(lambda: cl(xb, return_winners=False, n_winners=5), 10, args.blocks)
            line += f" {tc:12.1f} {tc64 / add_us:17.2f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
