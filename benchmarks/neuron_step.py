"""Time one step of every neuron layer: eager, fused (``layer.compile()``), native
(``layer.native()``, the C kernel) and the derived Euler step, as microseconds and as ratios
to one ``torch.add`` from the same run.

For every model of the registry :data:`spyketorch.neurons.MODELS` (with its input scale)
it prints, for the reference call without the winners list
(``layer(x, return_winners=False, n_winners=5)``: integrate, floor, fire, k-WTA,
inhibition and reset run, nothing is copied to the host):

* ``eager``/``fused``: microseconds per step at ``[1, 30, 24, 24]`` (``B1``) and
  ``[64, 30, 24, 24]`` (``B64``), and the batch-64 step as a multiple of one
  ``torch.add(x, x)`` over that tensor (``.../add``); ``add B1``/``add B64`` are the
  ``torch.add`` times themselves;
* ``native``: the same for ``layer.native()`` (``native B1`` in us, ``native/add`` at
  batch 64), checked against the eager step like the fused one (``native vs eager``);
* ``compile s``: wall time of the fused layer's first call at batch 1 plus at batch 64
  (``torch.compile`` traces and builds its kernels; inductor's on-disk cache makes a second
  run of the script faster);
* ``max|du|``: the fused step against the eager one over 20 steps of fresh random input at
  batch 1: ``ok`` when spikes and refractory state are identical, with the largest
  difference of the potentials (and ``w``), i.e. float rounding;
* ``derived``: for the forward-Euler models that keep a hand-fused ``_integrate``, the same
  step with the generic ``u + ts * rhs(u, w, I)`` instead (the base class's step, built here
  by a subclass), so the gain of the hand-fused step is measured in the same run.

Every group of figures (a model's eager, fused and derived steps and ``torch.add``) is timed
in interleaved blocks and the median block is kept, so a busy neighbour on a shared machine
moves all of them together; the ratios are the figures to compare, not the absolute times.
``uptime``'s load average is printed at the start and the end.

Run: ``python benchmarks/neuron_step.py [--models LIF EIF] [--no-fused] [--no-native] [--before] [--threads N]``.
``--before`` adds the eager step of the implementation before the model contract
(``benchmarks/_neurons_before.py``, the ``neurons.py`` of commit 988aea0).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout's package
import spyketorch.neurons as sn  # noqa: E402

#: forward-Euler models whose step is written hand-fused next to their ``rhs``.
HAND_FUSED_EULER = ("IF", "LIF_ode", "LIF_Simple", "EIF", "EIF_Simple", "QIF", "AdEx", "Izhikevich")


def derived_euler(cls: type) -> type:
    """``cls`` with the generic Euler step ``u + ts * rhs`` of the base class instead of its own."""
    return type(f"{cls.__name__}Derived", (cls,), {"_integrate": sn.Neuron._integrate})


def before_layers() -> Dict[str, Callable[[], object]]:
    """The models of the implementation before the contract, loaded from its file."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_neurons_before.py")
    spec = importlib.util.spec_from_file_location("_neurons_before", path)
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod.all_models()


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


def load() -> str:
    try:
        return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "load average unknown"


def check_fused(make: Callable[[], sn.Neuron], fused: sn.Neuron, scale: float, steps: int = 20) -> str:
    """Fused (compiled or native) against eager over ``steps`` fresh random inputs at batch 1
    (same shape as timed)."""
    eager = make()
    fused.reset()
    g = torch.Generator().manual_seed(1)
    worst = 0.0
    for _ in range(steps):
        x = torch.rand(1, 30, 24, 24, generator=g) * scale
        a = eager(x, return_winners=False, n_winners=5)
        b = fused(x, return_winners=False, n_winners=5)
        sa, sb = eager.get_state(), fused.get_state()
        if not (torch.equal(a[0], b[0]) and torch.equal(sa["refractory"], sb["refractory"])):
            return "DIFFERENT"
        worst = max(worst, float((a[1] - b[1]).abs().max()))
        if sa["w"] is not None:
            worst = max(worst, float((sa["w"] - sb["w"]).abs().max()))
    return f"ok {worst:.1e}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=None, help="subset of models")
    parser.add_argument("--no-fused", action="store_true", help="skip the fused (compiled) step")
    parser.add_argument("--no-native", action="store_true", help="skip the native (C kernel) step")
    parser.add_argument("--before", action="store_true", help="also time the implementation before the contract")
    parser.add_argument("--steps", type=int, default=200, help="steps per block at batch 1")
    parser.add_argument("--steps64", type=int, default=8, help="steps per block at batch 64")
    parser.add_argument("--blocks", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    layers = sn.all_models()
    names = args.models or list(layers)
    old = before_layers() if args.before else {}
    x1 = torch.rand(1, 30, 24, 24)
    x64 = torch.rand(64, 30, 24, 24)
    tuned = all(k in os.environ for k in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"))
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, glibc trim/mmap tunables "
          f"{'set' if tuned else 'not set'}, {load()}")
    print("per model: us per step at [1,30,24,24] and steps at [64,30,24,24] as multiples of one torch.add "
          "over that tensor (timed interleaved with the model); n_winners=5, registry defaults")
    header = (f"{'model':22s} {'add B1':>7s} {'eager B1':>8s} {'fused B1':>8s} {'add B64':>8s} {'eager B64':>9s} "
              f"{'fused B64':>9s} {'eager/add':>9s} {'fused/add':>9s} {'compile s':>9s} {'fused vs eager':>15s} "
              f"{'derived B1':>10s} {'derived/add':>11s} {'native B1':>9s} {'native/add':>10s} {'native vs eager':>15s}")
    if old:
        header += f" {'before B1':>9s} {'before/add':>10s}"
    print(header, flush=True)

    def call(layer: object, x: torch.Tensor) -> Callable[[], object]:
        return lambda: layer(x, return_winners=False, n_winners=5)

    for name in names:
        spec = sn.MODELS[name]
        make = layers[name]
        xa, xb = x1 * spec.input_scale, x64 * spec.input_scale
        eager = make()
        fused: Optional[sn.Neuron] = None if args.no_fused else make().compile(dynamic=False)
        native: Optional[sn.Neuron] = None if args.no_native else make().native()
        derived = None
        if name in HAND_FUSED_EULER:
            derived = derived_euler(spec.cls)(**({"threshold": 30.0} if name == "Izhikevich" else {"threshold": 10.0}))
        before = old[name]() if name in old else None
        compile_s = 0.0
        res: Dict[str, Dict[str, float]] = {}
        for tag, x, add_x, steps in (("B1", xa, x1, args.steps), ("B64", xb, x64, args.steps64)):
            fns: Dict[str, Callable[[], object]] = {"add": lambda a=add_x: torch.add(a, a), "eager": call(eager, x)}
            if fused is not None:
                fused.reset()
                t0 = time.perf_counter()
                fused(x, return_winners=False, n_winners=5)
                compile_s += time.perf_counter() - t0
                fns["fused"] = call(fused, x)
            if derived is not None:
                derived.reset()
                fns["derived"] = call(derived, x)
            if native is not None:
                native.reset()
                fns["native"] = call(native, x)
            if before is not None:
                before.reset()
                fns["before"] = call(before, x)
            eager.reset()
            res[tag] = interleaved_us(fns, steps, args.blocks)
        b1, b64 = res["B1"], res["B64"]

        def cell(d: Dict[str, float], key: str, width: int, ratio: bool = False) -> str:
            if key not in d:
                return f"{'-':>{width}s}"
            return f"{d[key] / d['add']:{width}.2f}" if ratio else f"{d[key]:{width}.1f}"

        same = "-" if fused is None else check_fused(make, fused, spec.input_scale)
        line = (f"{name:22s} {b1['add']:7.1f} {cell(b1, 'eager', 8)} {cell(b1, 'fused', 8)} {b64['add']:8.1f} "
                f"{cell(b64, 'eager', 9)} {cell(b64, 'fused', 9)} "
                f"{cell(b64, 'eager', 9, True)} {cell(b64, 'fused', 9, True)} "
                f"{(f'{compile_s:9.1f}' if fused is not None else f'{chr(45):>9s}')} {same:>15s} "
                f"{cell(b1, 'derived', 10)} {cell(b64, 'derived', 11, True)} "
                f"{cell(b1, 'native', 9)} {cell(b64, 'native', 10, True)} "
                f"{('-' if native is None else check_fused(make, native, spec.input_scale)):>15s}")
        if old:
            line += f" {cell(b1, 'before', 9)} {cell(b64, 'before', 10, True)}"
        print(line, flush=True)
    print(load())


if __name__ == "__main__":
    main()
