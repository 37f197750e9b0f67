"""Reward-modulated STDP on MNIST (Mozafari et al., 2019, Pattern Recognition 94:87-95).

A command line over :mod:`spyketorch.networks.mozafari` (the network, the recipe and what
is exact: see its docstring). On full MNIST (``--data-root``) the defaults are the
reference recipe (SpykeTorch's ``MozafariDeep.py``): 2 + 4 + 680 epochs, natural order,
layer-3 rates adapted after every 1,000 images. On the shipped subset (no ``--data-root``)
the defaults are a shorter run that learns visibly within minutes (see ``SUBSET_DEFAULTS``).

Usage::

    python examples/mozafari_rstdp.py                             # shipped subset
    python examples/mozafari_rstdp.py --data-root ../shared/data  # full MNIST, the reference recipe
    python examples/mozafari_rstdp.py --device cuda               # on a GPU
    torchrun --standalone --nproc_per_node=2 examples/mozafari_rstdp.py --batch-size 1 --rstdp-batch 8

Checkpoints (``layer1.pt``, ``layer2.pt``, ``layer3.pt`` in ``--out-dir``) let a run resume
where it stopped (run the same command again); ``rstdp_curve.png`` shows the per-epoch
accuracies and ``mozafari_result.json`` holds every epoch.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Dict, List, Optional

import torch

import spyketorch.distributed as sd
from spyketorch.networks.mozafari import MozafariConfig, load_mnist, run

#: Defaults on the shipped 10,000-digit subset (the reference's 680 layer-3 epochs are for 60,000 digits).
SUBSET_DEFAULTS = {"epochs3": 30}


def main(argv: Optional[List[str]] = None) -> Dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", default=None, help="torchvision root with MNIST/raw (default: shipped subset)")
    ap.add_argument("--out-dir", default="out/mozafari", help="checkpoints, curve and result (default: out/mozafari)")
    ap.add_argument("--train-limit", type=int, default=None, help="use only the first N training digits")
    ap.add_argument("--test-limit", type=int, default=None, help="use only the first N test digits")
    ap.add_argument("--epochs1", type=int, default=None, help="layer-1 STDP epochs (default 2)")
    ap.add_argument("--epochs2", type=int, default=None, help="layer-2 STDP epochs (default 4)")
    ap.add_argument("--epochs3", type=int, default=None,
                    help="layer-3 R-STDP epochs (default: 680 on full MNIST as the paper, "
                         f"{SUBSET_DEFAULTS['epochs3']} on the subset)")
    ap.add_argument("--order", choices=("natural", "shuffle"), default=None,
                    help="training order of every layer: natural, as the reference (default), or a new "
                         "shuffle every epoch")
    ap.add_argument("--latency-binning", choices=("equal", "spread"), default=None,
                    help="latency bins: SpykeTorch's equal bins (default) or spread over the steps")
    ap.add_argument("--time-steps", type=int, default=None, help="latency steps T (default 15)")
    ap.add_argument("--rate-every", type=int, default=None,
                    help="layer-3 rates adapt after every N images (default 1000, as the reference)")
    ap.add_argument("--adaptive-min", type=float, default=None,
                    help="layer-3 rates scaled by MIN + INT x (miss or hit rate) (default 0; Mozafari et al. 2018: 0.2)")
    ap.add_argument("--adaptive-int", type=float, default=None, help="see --adaptive-min (default 1; 2018: 0.8)")
    ap.add_argument("--dropout", type=float, default=None,
                    help="probability that a layer-3 feature cannot win in a training epoch (default 0)")
    ap.add_argument("--validation", type=int, default=0,
                    help="hold out the last N training digits as a validation set, evaluated every epoch (default 0)")
    ap.add_argument("--patience", type=int, default=None,
                    help="stop layer 3 after N epochs without a better train hit rate (default 0: never)")
    ap.add_argument("--batch-size", type=int, default=None,
                    help="STDP mini-batch of layers 1-2 per process (default 1: exact in one process)")
    ap.add_argument("--rstdp-batch", type=int, default=None,
                    help="layer-3 R-STDP mini-batch per process (default 1: the paper's sequential rule in one "
                         "process; > 1, or any value under torchrun: updates summed against the same weights)")
    ap.add_argument("--device", default="cpu",
                    help="torch device (default cpu; e.g. cuda: under torchrun, one GPU per process, NCCL)")
    ap.add_argument("--decision-fire", choices=("last", "first"), default=None,
                    help="layer-3 firing: at the last step, SpykeTorch's recipe (default), or at the first positive "
                         "potential (earliest-spike winner)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    for name in ("batch_size", "rstdp_batch", "rate_every", "time_steps"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    with sd.process_group_from_env(args.device) as device:  # torchrun: gloo (CPU) or NCCL (CUDA) group
        return _main(args, device)


def _main(args: argparse.Namespace, device: torch.device) -> Dict:
    say = print if sd.is_main_process() else (lambda *a, **k: None)
    if args.threads:
        torch.set_num_threads(args.threads)
    fields = {} if args.data_root else dict(SUBSET_DEFAULTS)
    for name in ("epochs1", "epochs2", "epochs3", "patience", "order", "time_steps", "rate_every", "decision_fire",
                 "latency_binning", "adaptive_min", "adaptive_int", "dropout"):
        if getattr(args, name) is not None:
            fields[name] = getattr(args, name)
    if args.batch_size is not None:
        fields["batch"] = args.batch_size
    if args.rstdp_batch is not None:
        fields["rstdp_batch"] = args.rstdp_batch
    cfg = MozafariConfig(seed=args.seed, device=str(device), **fields)
    data = load_mnist(args.data_root)
    for split, limit in (("train", args.train_limit), ("test", args.test_limit)):
        if limit is not None:
            data[f"{split}_x"], data[f"{split}_y"] = data[f"{split}_x"][:limit], data[f"{split}_y"][:limit]
    if args.validation:
        if not 0 < args.validation < data["train_x"].shape[0]:
            raise SystemExit(f"--validation must be between 1 and the training digits - 1, got {args.validation}")
        n = data["train_x"].shape[0] - args.validation
        data["val_x"], data["val_y"] = data["train_x"][n:], data["train_y"][n:]
        data["train_x"], data["train_y"] = data["train_x"][:n], data["train_y"][:n]
    val = f", {args.validation} validation" if args.validation else ""
    say(f"data: {'MNIST at ' + args.data_root if args.data_root else 'shipped MNIST subset'} "
        f"({data['train_x'].shape[0]} train{val}, {data['test_x'].shape[0]} test digits); epochs "
        f"{cfg.epochs1} + {cfg.epochs2} + {cfg.epochs3}, {cfg.order} order")
    if sd.world_size() > 1:
        say(f"{sd.world_size()} processes on {device.type}: STDP batch {cfg.batch} and R-STDP batch {cfg.rstdp_batch} "
            f"per process ({cfg.batch * sd.world_size()} and {cfg.rstdp_batch * sd.world_size()} global)")
    res = run(cfg, data, Path(args.out_dir), progress=sd.is_main_process() and not args.no_progress)
    say("wall time: " + ", ".join(f"{k[:-2]} {v:.1f}s" for k, v in res.items() if k.endswith("_s")))
    say("training (all processes): " + ", ".join(
        f"layer {i} {res[f'layer{i}_images_per_sec']:.0f} images/s" for i in (1, 2, 3)
        if f"layer{i}_images_per_sec" in res))
    say(f"test accuracy: {100 * res['test_accuracy']:.2f}%")
    say(f"correct / wrong / silent: {100 * res['test_accuracy']:.2f}% / {100 * res['test_wrong']:.2f}% / "
        f"{100 * res['test_silent']:.2f}%")
    if "best_val_epoch" in res:
        say(f"at the best validation epoch ({res['best_val_epoch']}): {100 * res['val_accuracy_at_best_val']:.2f}% "
            f"validation, {100 * res['test_accuracy_at_best_val']:.2f}% test")
    if res["best_train_epoch"] is not None:
        say(f"at the best training epoch ({res['best_train_epoch']}): {100 * res['test_accuracy_at_best_train']:.2f}% "
            "test")
    return res


if __name__ == "__main__":
    main()
