#!/usr/bin/env python
"""Forward + backward through a LIF layer, per step, against snnTorch and SpikingJelly.

One layer of ``[64, 30, 24, 24]`` neurons stepped ``T`` times on random input that requires a
gradient, then ``backward`` of the summed spikes: the time per step (forward + its share of the
backward) and the memory autograd holds for the backward per step (the bytes of the distinct
tensors saved for backward, counted with ``torch.autograd.graph.saved_tensors_hooks``).

* spyketorch ``LIF(surrogate="atan")`` (eager and compiled backends), no refractoriness or
  lateral inhibition (as the others);
* snnTorch ``Leaky(beta, spike_grad=atan)`` (reset by subtraction, its default);
* SpikingJelly ``LIFNode(surrogate_function=ATan(), backend="torch")``, single-step mode.

    python benchmarks/gradients.py [--steps 20] [--repeat 5] [--threads N] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from typing import Callable, Dict, List

import torch

SHAPE = (64, 30, 24, 24)


def _ours(backend: str) -> Callable[[torch.Tensor], torch.Tensor]:
    from spyketorch.neurons import LIF

    layer = LIF(threshold=1.0, ts=1e-3, tau_rc=0.02, C=1e-3, refractory_timesteps=0, surrogate="atan",
                backend=backend)
    layer.inhibition_mode = "none"

    def run(x: torch.Tensor) -> torch.Tensor:
        layer.reset()
        out = [layer.step(x[t], thresholded=False, dudt=False, winners=False, winning_spikes=False).spikes
               for t in range(x.shape[0])]
        return torch.stack(out)
    return run


def _snntorch() -> Callable[[torch.Tensor], torch.Tensor]:
    import snntorch as snn
    from snntorch import surrogate

    lif = snn.Leaky(beta=float(torch.exp(torch.tensor(-1e-3 / 0.02))), threshold=1.0, spike_grad=surrogate.atan())

    def run(x: torch.Tensor) -> torch.Tensor:
        mem = lif.init_leaky()
        out = []
        for t in range(x.shape[0]):
            spk, mem = lif(x[t], mem)
            out.append(spk)
        return torch.stack(out)
    return run


def _spikingjelly() -> Callable[[torch.Tensor], torch.Tensor]:
    from spikingjelly.activation_based import functional, neuron, surrogate

    node = neuron.LIFNode(tau=20.0, v_threshold=1.0, surrogate_function=surrogate.ATan(), backend="torch",
                          step_mode="s")

    def run(x: torch.Tensor) -> torch.Tensor:
        functional.reset_net(node)
        return torch.stack([node(x[t]) for t in range(x.shape[0])])
    return run


def measure(run: Callable[[torch.Tensor], torch.Tensor], steps: int, repeat: int) -> Dict[str, float]:
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand((steps,) + SHAPE, generator=gen) * 0.3).requires_grad_(True)
    for _ in range(2):  # warm-up (and compilation)
        run(x).sum().backward()
    times: List[float] = []
    for _ in range(repeat):
        x.grad = None
        t0 = time.perf_counter()
        run(x).sum().backward()
        times.append(time.perf_counter() - t0)
    seen: Dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.untyped_storage().data_ptr() != x.untyped_storage().data_ptr():  # not the input itself
            seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = run(x)
    held = sum(seen.values())
    del out
    return {"ms_per_step": 1e3 * statistics.median(times) / steps, "saved_MB_per_step": held / steps / 2 ** 20}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = {"spyketorch LIF (eager)": lambda: _ours("eager"), "spyketorch LIF (compiled)": lambda: _ours("compiled"),
            "snnTorch Leaky": _snntorch, "SpikingJelly LIFNode (torch)": _spikingjelly}
    res = {}
    for name, make in rows.items():
        try:
            res[name] = measure(make(), args.steps, args.repeat)
        except ImportError as e:
            print(f"{name}: skipped ({e})")
    base = res.get("spyketorch LIF (eager)", {}).get("ms_per_step")
    print(f"forward + backward per step, {list(SHAPE)}, T = {args.steps}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, {platform.processor() or platform.machine()}")
    for name, r in res.items():
        ratio = f"{r['ms_per_step'] / base:5.2f}x ours (eager)" if base else ""
        print(f"  {name:30s} {r['ms_per_step']:8.2f} ms/step  {r['saved_MB_per_step']:7.1f} MB saved/step  {ratio}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
