"""Record the outputs of every registered neuron model for the behaviour-pinning test.

Runs every model of :data:`spyketorch.neurons.MODELS` in every inhibition mode on fixed
float64 inputs (and a float32 run, a per-neuron-threshold run, a v_reset run and a noise
run), and saves spikes, potentials, winners, thresholded potentials, dudt, winning spikes
and the final state to ``tests/data/golden_neurons.pt.gz``. ``tests/test_golden.py`` replays the
same runs and compares. Rerun only when a behaviour change is intended and documented.

Run: ``python scripts/make_golden_neurons.py``
"""
from __future__ import annotations

import gzip
import io
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import spyketorch.neurons as sn  # noqa: E402
from golden_runs import RUNS, run_case  # noqa: E402


def main() -> None:
    out = {}
    for case in RUNS():
        out[case.key] = run_case(case, sn)
    path = ROOT / "tests" / "data" / "golden_neurons.pt.gz"
    buf = io.BytesIO()
    torch.save(out, buf)
    path.write_bytes(gzip.compress(buf.getvalue(), 9, mtime=0))
    print(f"{len(out)} runs -> {path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
