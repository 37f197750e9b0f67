"""STDP-trained convolutional SNN on MNIST (Kheradpisheh et al., 2018, Neural Networks 99:56-67).

A thin command line over :mod:`spyketorch.networks.kheradpisheh` (the network, the
STDP recipe with its convergence index, the readout and what could not be checked
against the paper are documented there). Two architectures:

* ``--arch spyketorch`` (default): SpykeTorch's variant (conv 32 maps 5x5 -> pooling
  -> conv 150 maps 2x2 -> pooling), the readout on the pooled layer-2 potentials;
* ``--arch paper``: the paper's network (conv 30 maps 5x5, threshold 15 -> pooling 2x2
  -> conv 100 maps 5x5, threshold 10 -> global max pooling of the potentials).

``--readout-layers 2`` reads out the last layer only, as the paper does (default);
``--readout-layers 1,2`` adds the pooled layer-1 spikes. The readout is a linear SVM
whose L2 penalty is chosen on a validation split of the training digits. Each layer
learns until its convergence index falls below 0.01 (printed per layer) or its digit
budget runs out.

Usage::

    python examples/mnist_stdp.py                                   # shipped subset, a few minutes
    python examples/mnist_stdp.py --data-root ../shared/data        # full MNIST recipe
    python examples/mnist_stdp.py --data-root ../shared/data --arch paper
    torchrun --standalone --nproc_per_node=2 examples/mnist_stdp.py --batch-size 8   # 2 processes

Prints progress, ``test accuracy: XX.XX%`` and the wall time, and writes
``OUT/mnist_stdp.pt`` (configuration, weights, readout, result) and
``OUT/layer1_features.png``.

Several processes (``torchrun``): ``--batch-size`` is the per-process STDP mini-batch;
each global mini-batch of ``batch-size x world size`` digits is split into contiguous
blocks, one per rank, and the STDP rules all-reduce their summed update
(:mod:`spyketorch.distributed`), so every rank applies the update of the whole global
batch. The rate schedule counts global digits. Input coding and feature extraction
are sharded and gathered; the readout is trained on every rank on the same gathered
features (identical); rank 0 alone prints, shows progress bars and writes the
checkpoint and figure. The result equals a single-process run with ``--batch-size`` =
per-process batch x world size.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's spyketorch first
import spyketorch.distributed as sd  # noqa: E402
from spyketorch.networks import kheradpisheh as kh  # noqa: E402


def _layers(text: str) -> tuple:
    try:
        layers = tuple(sorted({int(v) for v in text.split(",")}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 2 or 1,2, got {text!r}") from None
    if layers not in ((2,), (1, 2)):
        raise argparse.ArgumentTypeError(f"expected 2 or 1,2, got {text!r}")
    return layers


def main(argv: Optional[List[str]] = None) -> Dict[str, object]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", default=None,
                    help="torchvision data root holding MNIST/raw (full recipe); default: the shipped subset")
    ap.add_argument("--arch", choices=kh.ARCHS, default="spyketorch",
                    help="spyketorch: SpykeTorch's variant (default); paper: the paper's architecture and readout")
    ap.add_argument("--readout-layers", type=_layers, default=(2,),
                    help="2: the last layer only, as the paper (default); 1,2: also the pooled layer-1 spikes")
    ap.add_argument("--readout", choices=("svm", "softmax"), default=None,
                    help="linear SVM (default) or softmax regression")
    ap.add_argument("--out-dir", default="out", help="where weights and the figure go (default: out/)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs1", type=float, default=None, help="most layer-1 STDP epochs")
    ap.add_argument("--epochs2", type=float, default=None, help="most layer-2 STDP epochs")
    ap.add_argument("--convergence", type=float, default=None,
                    help="stop a layer's STDP once its convergence index is below this (default 0.01; 0: never)")
    ap.add_argument("--batch-size", type=int, default=None,
                    help="STDP mini-batch per process (both layers); global batch = this x world size under torchrun")
    ap.add_argument("--train-limit", type=int, default=None, help="use only the first N training digits")
    ap.add_argument("--test-limit", type=int, default=None, help="use only the first N test digits")
    ap.add_argument("--readout-iters", type=int, default=None, help="L-BFGS iterations of each readout fit")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = ap.parse_args(argv)
    with sd.process_group_from_env("cpu"):  # started by torchrun (or SLURM + torchrun): gloo group
        return _main(args)


def _main(args: argparse.Namespace) -> Dict[str, object]:
    main_rank = sd.is_main_process()
    say = print if main_rank else (lambda *a, **k: None)
    if args.threads:
        torch.set_num_threads(args.threads)

    overrides: Dict[str, object] = dict(seed=args.seed, readout_layers=args.readout_layers)
    for name in ("epochs1", "epochs2", "readout_iters", "readout"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    if args.batch_size is not None:
        overrides.update(batch1=args.batch_size, batch2=args.batch_size)
    if args.convergence is not None:
        overrides["convergence"] = args.convergence if args.convergence > 0 else None
    cfg = kh.preset(args.arch, full=args.data_root is not None, **overrides)

    data = kh.load_data(args.data_root)
    for split, limit in (("train", args.train_limit), ("test", args.test_limit)):
        if limit is not None:
            data[f"{split}_x"], data[f"{split}_y"] = data[f"{split}_x"][:limit], data[f"{split}_y"][:limit]
    say(f"data: {'MNIST at ' + args.data_root if args.data_root else 'shipped MNIST subset'} "
        f"({data['train_x'].shape[0]} train, {data['test_x'].shape[0]} test digits); arch {cfg.arch}, "
        f"readout layer(s) {','.join(map(str, cfg.readout_layers))}", flush=True)
    res = kh.run(cfg, data, Path(args.out_dir), progress=main_rank and not args.no_progress,
                 log=lambda s: say(s, flush=True))
    if sd.world_size() > 1:
        say(f"{sd.world_size()} processes, STDP batch {cfg.batch1} per process ({cfg.batch1 * sd.world_size()} global)")
    say(f"test accuracy: {100 * res['test_accuracy']:.2f}%  (train {100 * res['train_accuracy']:.2f}%, "
        f"silent test digits {100 * res['silent_test']:.2f}%)")
    say(f"STDP (all processes): layer 1 {res['layer1_images_per_sec']:.0f} images/s, "
        f"layer 2 {res['layer2_images_per_sec']:.0f} images/s (with its layer-1 cache pass)")
    say("wall time: " + ", ".join(f"{k[:-2]} {v:.1f}s" for k, v in res.items() if k.endswith("_s")))
    if "weights_path" in res:
        say(f"saved {res['weights_path']} and {res['figure_path']}")
    return res


if __name__ == "__main__":
    main()
