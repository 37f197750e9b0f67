"""STDP convolutional layer built from a stateful neuron layer, stepped one time step at a time, on MNIST.

A thin command line over :mod:`spyketorch.networks.neuron_stdp` (the network, the
calibration, the STDP loop and the readout live there).

Architecture (layer 1 of the accumulate-and-fire demo ``examples/mnist_stdp.py``, same
data coding): input spikes ``[B, T, 2, 28, 28]`` -> pad 2 -> Convolution
2 -> 32 (5x5) -> neuron layer NAME (any registered model) -> max pooling (2, stride 2,
padding 1) -> linear softmax readout on the pooled spikes (``32 x 15 x 15``, 1 if the
position spiked during the presentation). STDP learns from the layer's winners (k = 5,
inhibition radius 2, after pointwise inhibition) as in the demo, with its rate schedule.

Inputs: ``latency`` (DoG on/off filters, local normalisation, intensity-to-latency
coding, 15 steps: the demo's coding) or ``events`` (the N-MNIST-like saccade event
stream of :func:`spyketorch.coding.events.saccade_events`, 15 frames; a pixel spikes at a step
when it has at least one event in that frame).

Parameters: every model comes from :func:`spyketorch.neurons.all_models` (threshold 10),
with the same per-step lateral inhibition for all, ``--inhibition`` (default: per input,
:data:`INHIBITION`, chosen with LIF on a validation split of the MNIST training digits:
``"none"`` for latency input, where the k-winners-take-all acts on learning only, as in
the demo, and each neuron keeps its own refractoriness; ``"feature"`` for event input,
where a winner's whole map is refractory for 2 steps; AdEx and Izhikevich default to
``"layer"``), and the only tuned
parameter is the input gain (:func:`spyketorch.networks.blocks.calibrate_gain`): bisection so that, before learning, the same fraction of the layer's neurons fires at
least once as in the accumulate-and-fire layer (threshold 10) on the same images.
``--model accumulate`` runs the demo's accumulate-and-fire layer itself (latency domain).

Usage::

    python examples/neuron_stdp.py --model LIF --train-limit 2000 --test-limit 1000
    python examples/neuron_stdp.py --model all --json out/compare.json   # every model, table in JSON
    python examples/neuron_stdp.py --model LIF --device cuda                # on a GPU
    torchrun --standalone --nproc_per_node=2 examples/neuron_stdp.py --model LIF --batch-size 16

Prints ``test accuracy: XX.XX%``, the mean spikes per image and the wall time;
``--out-dir DIR`` also saves each trained layer (``neuron_stdp_MODEL_INPUT.pt``).

Several processes (``torchrun``; gloo on CPU, NCCL with ``--device cuda``, one GPU per
process): ``--batch-size`` is the per-process STDP mini-batch. Every rank draws the same
shuffled order and walks the same global batches (``batch-size x world size`` digits),
trains on its contiguous block of each (:func:`spyketorch.distributed.shard`) and the
STDP rule all-reduces the summed update, so every rank applies the update of the whole
global batch; the rate schedule counts global digits. Input coding and the readout
features are sharded and gathered (all ranks get all of them, in order); the gain
calibration runs on every rank on the same images (replicated, identical); every rank
fits the same readout; rank 0 alone prints, shows progress bars and writes files. The
weights equal those of one process with ``--batch-size`` = per-process batch x world
size up to float rounding (the sum is added in another order), and so does the accuracy.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's spyketorch first
import spyketorch.distributed as sd  # noqa: E402
from spyketorch import neurons  # noqa: E402
from spyketorch.networks import kheradpisheh as kh  # noqa: E402
from spyketorch.networks import neuron_stdp as ns  # noqa: E402


def main(argv: Optional[List[str]] = None) -> List[Dict[str, float]]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True,
                    help=f"a registered model ({', '.join(neurons.all_models())}), '{ns.ACCUMULATE}', "
                         "a comma-separated list of these, or 'all'")
    ap.add_argument("--data-root", default=None, help="torchvision MNIST root; default: the shipped subset")
    ap.add_argument("--input", choices=("latency", "events"), default="latency")
    ap.add_argument("--train-limit", type=int, default=None, help="first N training digits (STDP and readout)")
    ap.add_argument("--test-limit", type=int, default=None, help="first N test digits")
    ap.add_argument("--batch-size", type=int, default=32,
                    help="STDP mini-batch per process (default 32); global batch = this x world size under torchrun")
    ap.add_argument("--stdp-limit", type=int, default=None, help="STDP on N of the training digits (default all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--calib-images", type=int, default=32, help="images of the gain calibration (default 32)")
    ap.add_argument("--calib-iters", type=int, default=12, help="bisection steps of the calibration (default 12)")
    ap.add_argument("--json", default=None, help="write the results (a list of dicts) to this file")
    ap.add_argument("--readout", choices=("softmax", "ridge"), default="softmax",
                    help="softmax: the demo's L-BFGS softmax regression; ridge: closed-form ridge (fast)")
    ap.add_argument("--both-inputs", action="store_true", help="with --model all: latency and events")
    ap.add_argument("--device", default="cpu",
                    help="torch device (default cpu; e.g. cuda: under torchrun, one GPU per process, NCCL)")
    ap.add_argument("--out-dir", default=None, help="save each trained layer here (default: nothing saved)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bars")
    ap.add_argument("--compiled", action="store_true",
                    help="step the neuron layer with its compiled step (backend='compiled'; same spikes)")
    ap.add_argument("--inhibition", choices=neurons.INHIBITION_MODES, default=None,
                    help="the layers' per-step lateral inhibition, inhibition_mode (default: none for latency input, "
                         "feature for events; chosen on a validation split)")
    ap.add_argument("--validate", type=int, default=None, metavar="N",
                    help="score on the last N training digits (a validation split) instead of the test digits")
    args = ap.parse_args(argv)
    names = args.model.split(",")
    if args.model == "all":
        names = [ns.ACCUMULATE] + list(neurons.all_models())
    for name in names:
        if name != ns.ACCUMULATE and name not in neurons.all_models():
            ap.error(f"unknown model {name!r}")
    if args.batch_size < 1:
        ap.error(f"--batch-size must be >= 1, got {args.batch_size}")
    with sd.process_group_from_env(args.device) as device:  # torchrun: gloo (CPU) or NCCL (CUDA) group
        return _main(args, names, device)


def _main(args: argparse.Namespace, names: List[str], device: torch.device) -> List[Dict[str, float]]:
    say = print if sd.is_main_process() else (lambda *a, **k: None)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = kh.Config(seed=args.seed)
    kinds = ["latency", "events"] if args.both_inputs else [args.input]
    out_dir = Path(args.out_dir) if args.out_dir else None
    progress = sd.is_main_process() and not args.no_progress
    if sd.world_size() > 1:
        say(f"{sd.world_size()} processes on {device.type}, STDP batch {args.batch_size} per process "
            f"({args.batch_size * sd.world_size()} global)")
    results = []
    for kind in kinds:
        data = ns.prepare(cfg, kind, args.data_root, args.train_limit, args.test_limit, args.stdp_limit,
                          args.validate, device)
        for name in names:
            res = ns.run_model(name, kind, data, cfg, args.batch_size, args.seed, args.calib_images,
                               args.calib_iters, progress=progress, readout=args.readout, out_dir=out_dir,
                               compiled=args.compiled, inhibition=args.inhibition)
            results.append(res)
            say(f"[{name} / {kind}] gain {res['gain']:.4g}")
            say(f"test accuracy: {100 * res['test_accuracy']:.2f}%")
            say(f"mean spikes per image: {res['mean_spikes_per_image']:.1f}  "
                f"(silent test images {100 * res['silent_test_images']:.1f}%)")
            say(f"wall time: {res['wall_s']:.1f}s (STDP {res['stdp_images_per_s']:.0f} img/s, all processes)", flush=True)
            if args.json and sd.is_main_process():
                Path(args.json).parent.mkdir(parents=True, exist_ok=True)
                Path(args.json).write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
