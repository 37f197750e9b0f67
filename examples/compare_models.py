"""Every registered neuron model in the per-time-step STDP network: same data, same readout (issue 9).

For each input (``latency`` and/or ``events``) and each model of
:data:`spyketorch.neurons.MODELS` (plus ``accumulate``, the accumulate-and-fire layer of the
latency-domain demo), this runs :func:`spyketorch.networks.neuron_stdp.run_model`: layer 1 of
``examples/mnist_stdp.py`` trained with STDP, its pooled spikes read out by the same linear
readout. It writes ``compare.json`` (every figure) and ``compare.md`` (the table) into ``--out``.

How parameters are chosen: each model is ``neurons.all_models(threshold=10)``'s (Izhikevich
keeps its 30 mV cut-off, ``Uniform*`` draw their time constants with the seed), with the same
per-step lateral inhibition for every model (``--inhibition``; default per input, chosen
with LIF on a validation split of the training digits: ``"none"`` for latency input, where
the k-winners-take-all acts on learning only, as in the demo, and each neuron is refractory
for 2 steps after its own spike; ``"feature"`` for events, where a winner's whole map is
refractory for 2 steps); the
only tuned parameter is the input gain, bisected (``network.calibrate_gain``) so that before
learning the same fraction of layer-1 neurons fires at least once as in the accumulate-and-fire
layer on the same calibration images. A row is flagged ``silent`` when more than half of the
test images give no spike, ``saturated`` when more than 95 % of the pooled outputs fire on
test images.

Device: ``--device cuda`` codes the digits and runs the networks, STDP, feature extraction
and readout on the GPU (nothing leaves the device per time step).

Usage::

    python examples/compare_models.py --out out/compare --train-limit 1000 --test-limit 500
    python examples/compare_models.py --device cuda --data-root ../shared/data --out out/full
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's spyketorch first
from spyketorch import neurons  # noqa: E402
from spyketorch.networks import kheradpisheh as kh  # noqa: E402
from spyketorch.networks import neuron_stdp as ns  # noqa: E402

ACCUMULATE = ns.ACCUMULATE


def main(argv: Optional[List[str]] = None) -> List[Dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="all",
                    help=f"comma-separated names ({ACCUMULATE}, {', '.join(neurons.MODELS)}) or 'all' (default)")
    ap.add_argument("--input", choices=("latency", "events", "both"), default="both")
    ap.add_argument("--device", default="cpu", help="torch device of the networks (default cpu)")
    ap.add_argument("--data-root", default=None, help="torchvision MNIST root; default: the shipped subset")
    ap.add_argument("--train-limit", type=int, default=None, help="first N training digits (STDP and readout)")
    ap.add_argument("--test-limit", type=int, default=None, help="first N test digits")
    ap.add_argument("--stdp-limit", type=int, default=None, help="STDP on N of the training digits (default all)")
    ap.add_argument("--batch-size", type=int, default=32, help="STDP mini-batch (default 32)")
    ap.add_argument("--readout", choices=("softmax", "ridge"), default="softmax",
                    help="softmax: the demo's L-BFGS softmax regression (default); ridge: closed form")
    ap.add_argument("--calib-images", type=int, default=32, help="images of the gain calibration (default 32)")
    ap.add_argument("--calib-iters", type=int, default=12, help="bisection steps of the calibration (default 12)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--inhibition", choices=neurons.INHIBITION_MODES, default=None,
                    help="the layers' per-step lateral inhibition, the same for every model (default: per input, "
                         f"{ns.INHIBITION})")
    ap.add_argument("--validate", type=int, default=None, metavar="N",
                    help="score on the last N training digits (a validation split) instead of the test digits")
    ap.add_argument("--compiled", action="store_true",
                    help="step the neuron layers with their compiled step (backend='compiled'; same results, faster)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--out", default="out/compare", help="directory of compare.json and compare.md")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    names = [ACCUMULATE] + list(neurons.MODELS) if args.models == "all" else args.models.split(",")
    for n in names:
        if n != ACCUMULATE and n not in neurons.MODELS:
            ap.error(f"unknown model {n!r}")
    kinds = ["latency", "events"] if args.input == "both" else [args.input]
    cfg = kh.Config(seed=args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: List[Dict[str, Any]] = []
    for kind in kinds:
        data = ns.prepare(cfg, kind, args.data_root, args.train_limit, args.test_limit, args.stdp_limit,
                          args.validate, device)
        for name in names:
            res = ns.compare_row(name, kind, data, cfg, args.batch_size, args.seed, args.calib_images, args.calib_iters,
                                 readout=args.readout, compiled=args.compiled, inhibition=args.inhibition)
            res.update(device=str(device), threads=torch.get_num_threads(), train_images=int(data["train_in"].shape[0]),
                       test_images=int(data["test_in"].shape[0]))
            results.append(res)
            print(f"[{name} / {kind}] gain {res['gain']:.4g}  test accuracy: {100 * res['test_accuracy']:.2f}%  "
                  f"mean spikes per image: {res['mean_spikes_per_image']:.0f}  wall time: {res['wall_s']:.1f}s  "
                  f"({res['status']})", flush=True)
            (out / "compare.json").write_text(json.dumps(results, indent=1))
            (out / "compare.md").write_text(ns.markdown(results))
    return results


if __name__ == "__main__":
    main()
