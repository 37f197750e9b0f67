"""Extract the small MNIST subset shipped in ``spyketorch/data/mnist_subset.npz``.

Reproducible: a seeded, class-balanced draw from the official MNIST files in
torchvision's layout (``<root>/MNIST/raw``). Nothing is downloaded.

Usage::

    python scripts/make_mnist_subset.py --root ../shared/data
"""
from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np
import torchvision

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "spyketorch" / "data" / "mnist_subset.npz"


def balanced_indices(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """``per_class`` random indices of each digit, sorted (keeps MNIST's order)."""
    picks = [rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in range(10)]
    return np.sort(np.concatenate(picks))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"),
                    help="torchvision data root holding MNIST/raw (default: ../shared/data)")
    ap.add_argument("--train-per-class", type=int, default=1000)
    ap.add_argument("--test-per-class", type=int, default=200)
    ap.add_argument("--seed", type=int, default=2018)
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    arrays = {}
    for split, per_class in (("train", args.train_per_class), ("test", args.test_per_class)):
        ds = torchvision.datasets.MNIST(args.root, train=split == "train", download=False)
        labels = ds.targets.numpy()
        idx = balanced_indices(labels, per_class, rng)
        arrays[f"{split}_images"] = ds.data.numpy()[idx].astype(np.uint8)
        arrays[f"{split}_labels"] = labels[idx].astype(np.uint8)
        arrays[f"{split}_indices"] = idx.astype(np.int32)  # positions in the official MNIST split
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()[:16]
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, sha256 {digest}): "
          f"{len(arrays['train_labels'])} train, {len(arrays['test_labels'])} test digits")


if __name__ == "__main__":
    main()
