"""Layer-3 R-STDP of Mozafari et al. 2019 (the sequential rule): images per second, before and now.

Both run the paper's rule sample after sample on the same layer-3 inputs, from the same
weights and rates:

* before: the eager loop this package had (per image a dense ``[200 x 6,250] x [6,250 x 16]``
  float32 product and about fifteen small tensor ops; kept here verbatim as the baseline);
* now: :meth:`spyketorch.learning.decision.DecisionLayer.train_step` (the C kernel on the CPU).

The layer-3 inputs come from layers 1-2 trained with the recipe's 2 + 4 epochs on ``--train``
digits of the shipped subset (about 40 % of the 4,000 inputs fire per image), or loaded from
``--layers-from`` (a run's ``--out-dir``; the full-MNIST layers: about 29 %). The cost per
image grows with the smaller of the fired and silent input sets, so the figure depends on them. Both start from
the same clamped weights; their counts and weights agree up to float rounding, not bit for bit:
the old loop added ``(w + a-) + (a+ - a-)`` (the reference and the new code: ``w + a+``) and
summed its potentials in float32, so after a few hundred images a near-tie may go the other
way (the new code's winners are the exact ones; ``tests/test_mozafari_recipe.py`` checks it
bit for bit against the eager float64 rule).

Usage::

    python benchmarks/mozafari_layer3.py [--train 2000] [--images 1000] [--threads N] [--layers-from DIR] [--warmup 1]
    python benchmarks/mozafari_layer3.py --layers-from out/mozafari_full   # the full-MNIST layers
"""
from __future__ import annotations

import argparse
import copy
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from spyketorch.networks.mozafari import MozafariConfig, MozafariNet, encode, extract, load_mnist, train_stdp


@torch.no_grad()
def old_train_step(layer, times: torch.Tensor, targets: torch.Tensor, time_steps: int) -> torch.Tensor:
    """The sequential rule as DecisionLayer.train_step computed it before the kernel (fire="last")."""
    active = times.long() < time_steps
    k = layer.kernel_size
    b, c, h, w = active.shape
    ho, wo = h - k + 1, w - k + 1
    dtype = layer.weight.dtype
    patches = F.unfold(active.to(dtype), k)
    wflat = layer.weight.view(layer.out_channels, -1)
    n_pos = ho * wo
    stats = torch.zeros(3, dtype=torch.long)
    silent = ~active.flatten(1).any(dim=1)
    for i in range(b):
        pot = wflat @ patches[i]
        idx = pot.view(-1).argmax()
        f, p = idx // n_pos, idx % n_pos
        correct = layer.decision_map[f] == targets[i]
        live = ~silent[i]
        stats[0] += correct & live
        stats[1] += ~correct & live
        stats[2] += silent[i]
        ap, an = layer.rates[(~correct).long()] * live.to(dtype)
        row = torch.addcmul(wflat[f] + an, patches[i].index_select(1, p.view(1)).view(-1), ap - an)
        wflat[f] = torch.where(live, row.clamp_(layer.lower_bound, layer.upper_bound), wflat[f])
    return stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", type=int, default=2000, help="subset digits for layers 1-2 and layer 3 (default 2000)")
    ap.add_argument("--images", type=int, default=1000, help="layer-3 images timed per implementation (default 1000)")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch CPU threads (default: torch's; the kernel learns on up to 4, the old loop's "
                         "products use them all)")
    ap.add_argument("--layers-from", default=None, help="load layer1.pt / layer2.pt from this directory")
    ap.add_argument("--warmup", type=int, default=1,
                    help="passes over the images (with the kernel) before timing, from which both start (default 1)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = MozafariConfig()
    net = MozafariNet(cfg)
    data = load_mnist(None)
    n = min(args.train, data["train_x"].shape[0])
    x = encode(data["train_x"][:n], cfg)
    gen = torch.Generator().manual_seed(0)
    if args.layers_from:
        net.conv1.load_state_dict(torch.load(Path(args.layers_from) / "layer1.pt")["conv1"])
        net.conv2.load_state_dict(torch.load(Path(args.layers_from) / "layer2.pt")["conv2"])
        x3 = extract(lambda t: net.layer3_input(net.layer2_input(t)), x, "", False)
    else:
        train_stdp(net, 1, net._pad(x, 2), cfg.epochs1, gen, False)
        x2 = extract(net.layer2_input, x, "", False)
        train_stdp(net, 2, x2, cfg.epochs2, gen, False)
        x3 = extract(net.layer3_input, x2, "", False)
    y = data["train_y"][:n]
    m = min(args.images, n)
    fired = (x3[:m] < cfg.time_steps).flatten(1).sum(1).double().mean().item()
    print(f"load average {os.getloadavg()[0]:.2f} at start, {os.cpu_count()} CPUs, {torch.get_num_threads()} "
          f"thread(s); "
          f"{m} layer-3 images ({fired:.0f} of {x3[0].numel()} inputs fired per image on average)")
    # both start from the same weights: the initial ones after one pass over the images (the first
    # updates of near-equal initial rows leave many near-ties for the kernel's exact check; the
    # 680 epochs of the recipe run past them)
    start = MozafariNet(cfg).decision
    start.weight.data.clamp_(start.lower_bound, start.upper_bound)
    for _ in range(args.warmup):
        start.train_step(x3[:m], y[:m], cfg.time_steps)
    results = {}
    for name in ("before", "now"):
        layer = copy.deepcopy(start)
        step = (lambda t, tg: old_train_step(layer, t, tg, cfg.time_steps)) if name == "before" else \
            (lambda t, tg: layer.train_step(t, tg, cfg.time_steps))
        step(x3[:2], y[:2])  # warm-up (the kernel builds once)
        layer = copy.deepcopy(start)
        w0, c0 = time.perf_counter(), time.process_time()
        stats = step(x3[:m], y[:m])
        results[name] = (m / (time.perf_counter() - w0), m / (time.process_time() - c0), stats.tolist(),
                         layer.weight.detach().clone())
    (bw, bc, bs, bwt), (nw, nc, ns, nwt) = results["before"], results["now"]
    print(f"before: {bw:8.0f} images/s wall ({bc:8.0f} per CPU second), counts {bs}")
    print(f"now:    {nw:8.0f} images/s wall ({nc:8.0f} per CPU second), counts {ns}")
    print(f"speed-up x{nw / bw:.1f} (wall), x{nc / bc:.1f} (CPU); largest weight difference "
          f"{(bwt - nwt).abs().max().item():.2e}; load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
