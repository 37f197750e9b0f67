#!/usr/bin/env python
"""The layer-3 curve of a Mozafari run from its log: JSON and a plot.

    python scripts/mozafari_curve.py out/mozafari_full.log docs/mozafari_rstdp_full.json docs/mozafari_rstdp_curve.png
"""
from __future__ import annotations

import json
import re
import sys

LINE = re.compile(r"epoch (\d+): train ([\d.]+)% correct, test ([\d.]+)% \(wrong ([\d.]+)%, silent ([\d.]+)%\), ([\d.]+)s")


def main(log: str, out_json: str, out_png: str) -> None:
    text = open(log, errors="replace").read().replace("\r", "\n")
    rows = {}
    for m in LINE.finditer(text):  # a resumed run repeats no epoch; the last record of one wins
        e = int(m.group(1))
        rows[e] = {"epoch": e, "train": float(m.group(2)) / 100, "test": float(m.group(3)) / 100,
                   "test_wrong": float(m.group(4)) / 100, "test_silent": float(m.group(5)) / 100,
                   "seconds": float(m.group(6))}
    hist = [rows[e] for e in sorted(rows)]
    best = max(hist, key=lambda r: (r["train"], -r["epoch"]))  # selected on training accuracy, never on test
    summary = {"epochs_done": len(hist), "last": hist[-1], "best_train_epoch": best["epoch"],
               "test_at_best_train": best["test"], "history": hist}
    with open(out_json, "w") as f:
        json.dump(summary, f, indent=1)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot([r["epoch"] for r in hist], [100 * r["train"] for r in hist], label="train")
    ax.plot([r["epoch"] for r in hist], [100 * r["test"] for r in hist], label="test")
    ax.set_xlabel("layer-3 epoch")
    ax.set_ylabel("correct (%)")
    ax.set_title("Mozafari et al. 2019 recipe, full MNIST")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    print(f"{len(hist)} epochs; last: train {100 * hist[-1]['train']:.2f}%, test {100 * hist[-1]['test']:.2f}%; "
          f"best training epoch {best['epoch']}: test {100 * best['test']:.2f}%")


if __name__ == "__main__":
    main(*sys.argv[1:4])
