#!/usr/bin/env python
"""One convolutional SNN trained three ways: STDP, BPTT from scratch, and STDP then BPTT.

(a) the STDP network of the demos (two LIF blocks) with a linear readout of its spike counts;
(b) the same architecture trained by backpropagation through time through the LIF layers'
surrogate-gradient spikes; (c) the STDP network fine-tuned by BPTT. The network and the
trainings are :mod:`spyketorch.networks.hybrid`. Prints ``test accuracy: XX.XX%`` and the wall
time of each.

    python examples/hybrid_stdp_bptt.py                                  # the shipped subset
    python examples/hybrid_stdp_bptt.py --data-root ../shared/data       # full MNIST
    python examples/hybrid_stdp_bptt.py --device cuda --epochs 8
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Optional

import torch

from spyketorch.coding.data import load_mnist
from spyketorch.networks import hybrid


def main(argv: Optional[List[str]] = None) -> Dict[str, Dict[str, float]]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-root", default=None, help="torchvision MNIST root (default: the shipped subset)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--train-limit", type=int, default=None, help="first N training digits (default: all)")
    ap.add_argument("--test-limit", type=int, default=None, help="first N test digits (default: all)")
    ap.add_argument("--epochs", type=int, default=hybrid.HybridConfig.epochs, help="BPTT epochs")
    ap.add_argument("--batch-size", type=int, default=hybrid.HybridConfig.batch_size, help="BPTT mini-batch")
    ap.add_argument("--stdp-images", type=int, default=None, help="images each block learns from by STDP (default: all)")
    ap.add_argument("--only", default="stdp,bptt,stdp+bptt", help="comma-separated trainings to run")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--backend", default=hybrid.HybridConfig.backend, choices=("eager", "compiled"),
                    help="the neuron layers' step backend")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = replace(hybrid.HybridConfig(), epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, backend=args.backend,
                  stdp_images=(args.stdp_images, args.stdp_images))
    raw = load_mnist(args.data_root)
    dev = torch.device(args.device)
    data = {"train_t": hybrid.encode(raw["train_x"][: args.train_limit], cfg).to(dev),
            "train_y": raw["train_y"][: args.train_limit].to(dev),
            "test_t": hybrid.encode(raw["test_x"][: args.test_limit], cfg).to(dev),
            "test_y": raw["test_y"][: args.test_limit].to(dev)}
    print(f"{data['train_t'].shape[0]} training and {data['test_t'].shape[0]} test digits on {dev}", flush=True)
    res = hybrid.compare(cfg, data, args.only.split(","), progress=lambda s: print(s, flush=True))
    for name, r in res.items():
        print(f"{name:>10}: test accuracy: {100 * r['test_accuracy']:.2f}%  ({r['wall_s']:.0f} s)", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
