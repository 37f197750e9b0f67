"""Time one step of every registered neuron layer, eager and compiled, against ``torch.add``.

Each model runs in a fresh process (default allocator, ``--threads`` threads, no grad), so
one model's warm heap does not flatter the next. For ``[1, 30, 24, 24]`` (``B1``) and
``[64, 30, 24, 24]`` (``B64``), ``k = 5``, the registry's default layer and input scale, it
times, interleaved in blocks (the median block is kept, so a busy neighbour moves every
figure together):

* ``add``: one ``torch.add(x, x, out=o)`` over the input tensor (the reference of the ratios);
* ``fast``: the reference call without winners, ``layer(x, return_winners=False, n_winners=5)``
  (integrate, floor, fire, k-WTA, inhibition, reset: nothing else is returned), eager and
  compiled (``backend="compiled"``);
* ``step``: the structured call with its default arguments, ``layer.step(x, n_winners=5)``
  (every output), eager and compiled.

It prints, per model, microseconds at batch 1, the batch-64 figures as multiples of ``add``,
the best backend's figures against the targets (batch 1 <= 60 us, batch 64 <= 4x add,
structured/fastest <= 1.3 at batch 1), the compile time, and a check that the compiled step
gives the eager spikes, winners and refractory state over 20 steps. ``--json FILE`` writes
every figure.

Run: ``python benchmarks/neuron_step.py [--models LIF EIF] [--threads 2] [--json out.json]``
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

import torch

ROOT = Path(__file__).resolve().parents[1]


def interleaved_us(fns: Dict[str, Callable[[], object]], steps: int, blocks: int) -> Dict[str, float]:
    """Median microseconds per call of each function, timed in alternating blocks."""
    for fn in fns.values():
        for _ in range(max(3, steps // 5)):
            fn()
    times: Dict[str, List[float]] = {k: [] for k in fns}
    for _ in range(blocks):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(steps):
                fn()
            times[k].append((time.perf_counter() - t0) / steps * 1e6)
    return {k: statistics.median(v) for k, v in times.items()}


def one_model(name: str, steps1: int, steps64: int, blocks: int) -> Dict[str, object]:
    """Every figure of one model (run in its own process)."""
    import spyketorch.neurons as sn

    spec = sn.MODELS[name]
    make = sn.all_models(n_features=30)[name]
    g = torch.Generator().manual_seed(0)
    res: Dict[str, object] = {"model": name}
    with torch.no_grad():
        for tag, batch, steps in (("B1", 1, steps1), ("B64", 64, steps64)):
            base = torch.rand(batch, 30, 24, 24, generator=g)
            x, out = base * spec.input_scale, torch.empty_like(base)
            layers = {"eager": make(), "compiled": make()}
            layers["compiled"].backend = "compiled"
            t0 = time.perf_counter()
            layers["compiled"](x, return_winners=False, n_winners=5)
            layers["compiled"].step(x, n_winners=5)
            res[f"compile_s_{tag}"] = time.perf_counter() - t0
            fns: Dict[str, Callable[[], object]] = {"add": lambda: torch.add(base, base, out=out)}
            for b, layer in layers.items():
                layer.reset()
                fns[f"fast_{b}"] = lambda layer=layer: layer(x, return_winners=False, n_winners=5)
                fns[f"step_{b}"] = lambda layer=layer: layer.step(x, n_winners=5)
            res[tag] = interleaved_us(fns, steps, blocks)
        res["same"] = check(make, spec.input_scale)
    return res


def check(make: Callable[[], object], scale: float, steps: int = 20) -> str:
    """The compiled step against the eager one over ``steps`` fresh inputs at batch 1."""
    eager, fused = make(), make()
    fused.backend = "compiled"
    g = torch.Generator().manual_seed(1)
    worst = 0.0
    for _ in range(steps):
        x = torch.rand(1, 30, 24, 24, generator=g) * scale
        a, b = eager.step(x, n_winners=5), fused.step(x, n_winners=5)
        sa, sb = eager.get_state(), fused.get_state()
        if not (torch.equal(a.spikes, b.spikes) and torch.equal(a.winners, b.winners)
                and torch.equal(sa["refractory"], sb["refractory"])):
            return "DIFFERENT"
        worst = max(worst, float((a.potentials - b.potentials).abs().max()))
    return f"ok {worst:.0e}"


def load() -> str:
    try:
        return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "load average unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=None, help="subset of the registry (default: every model)")
    parser.add_argument("--steps", type=int, default=300, help="steps per block at batch 1")
    parser.add_argument("--steps64", type=int, default=20, help="steps per block at batch 64")
    parser.add_argument("--blocks", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--json", type=Path, default=None, help="write every figure here")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.one:
        print(json.dumps(one_model(args.one, args.steps, args.steps64, args.blocks)))
        return
    sys.path.insert(0, str(ROOT))
    import spyketorch.neurons as sn

    names = args.models or list(sn.MODELS)
    print(f"torch {torch.__version__}, {args.threads} threads, {load()}; n_winners=5; a fresh process per model")
    print(f"{'model':22s} {'add B1':>7s} {'fast eager':>10s} {'fast comp':>9s} {'step comp':>9s} "
          f"{'add B64':>8s} {'fast/add eager':>14s} {'fast/add comp':>13s} {'step/add comp':>13s} "
          f"{'best B1 us':>10s} {'best B64/add':>12s} {'step/fast B1':>12s} {'compile s':>9s} {'compiled vs eager':>17s}")
    rows = []
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for name in names:
        cmd = [sys.executable, __file__, "--one", name, "--steps", str(args.steps), "--steps64", str(args.steps64),
               "--blocks", str(args.blocks), "--threads", str(args.threads)]
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            print(f"{name:22s} failed: {done.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        b1, b64 = r["B1"], r["B64"]
        best1 = min(b1["fast_eager"], b1["fast_compiled"])
        best64 = min(b64["fast_eager"], b64["fast_compiled"]) / b64["add"]
        step_ratio = min(b1["step_eager"], b1["step_compiled"]) / best1
        r.update(best_B1_us=best1, best_B64_over_add=best64, step_over_fastest_B1=step_ratio)
        rows.append(r)
        print(f"{name:22s} {b1['add']:7.1f} {b1['fast_eager']:10.1f} {b1['fast_compiled']:9.1f} "
              f"{b1['step_compiled']:9.1f} {b64['add']:8.1f} {b64['fast_eager'] / b64['add']:14.2f} "
              f"{b64['fast_compiled'] / b64['add']:13.2f} {b64['step_compiled'] / b64['add']:13.2f} "
              f"{best1:10.1f} {best64:12.2f} {step_ratio:12.2f} "
              f"{r['compile_s_B1'] + r['compile_s_B64']:9.1f} {r['same']:>17s}", flush=True)
    print(load())
    if rows:
        print(f"targets: batch 1 <= 60 us: {sum(r['best_B1_us'] <= 60 for r in rows)}/{len(rows)} models; "
              f"batch 64 <= 4x add: {sum(r['best_B64_over_add'] <= 4 for r in rows)}/{len(rows)}; "
              f"structured/fastest <= 1.3: {sum(r['step_over_fastest_B1'] <= 1.3 for r in rows)}/{len(rows)}")
    if args.json:
        args.json.write_text(json.dumps({"torch": torch.__version__, "threads": args.threads, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
