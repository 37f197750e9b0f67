"""Train the neuron-layer STDP network briefly, export it to NIR, and rerun it in Norse.

The network is the recipe of ``examples/neuron_stdp.py`` (latency input) on the digits shipped
with the package: DoG on/off filters, local normalisation and intensity-to-latency coding over
15 steps -> pad 2 -> Convolution 2 -> 32 (5x5) -> LIF layer (threshold 10, input gain calibrated
to the accumulate-and-fire layer's activity) -> max pooling (2, stride 2, padding 1) -> linear
readout. STDP learns the convolution from the block's winners (k = 5, radius 2), with the
demo's learning-rate schedule.

What NIR can hold decides two choices here:

* NIR has no k-WTA lateral inhibition and no refractory period, so the LIF layer runs with
  ``inhibition_mode="none"`` and ``refractory_timesteps=0`` (the latency recipe's inhibition
  anyway: there the k winners act on learning only, and the block's winners are not part of
  the exported network, which is used for inference). The LIF's floor at rest is exported as
  is: STDP keeps every weight in [0, 1], so the potentials never go below rest and the floor
  never acts.
* NIR's graph runs step by step; a readout on "has this pooled neuron fired" is no per-step
  operation, so the readout is trained on the pooled spike *counts* and exported as
  ``Flatten -> Affine`` with the bias divided by ``T``: its outputs summed over the ``T`` steps
  are the trained readout's logits.

Exports, checks and runs:

1. the faithful graph, through a NIR file and back with :func:`spyketorch.from_nir`: its pooled
   spikes and readout outputs must equal spyketorch's at every neuron and step;
2. the graph for forward-Euler simulators (``euler=True``: the time constant whose Euler step
   decays by ``exp(-ts/tau_rc)``; ``fold_scales=True``: the gain and ``R`` folded into the
   convolution, since Norse reads neither) in Norse, through
   :func:`spyketorch.interop.nir.norse_module` (Norse's own importer; the ``Threshold`` of the
   pooling and the padded ``SumPool2d``, which Norse 1.1 drops, and ``Flatten``, which it
   flattens over the batch, filled in as the torch operations NIR defines).

Prints the agreement of Norse's pooled spikes and predictions with spyketorch's, and both
test accuracies.

Usage::

    python examples/export_nir.py                       # 1,000 STDP digits, readout on 2,000, test on 1,000
    python examples/export_nir.py --train-limit 10000 --test-limit 2000 --out lif_stdp.nir
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's spyketorch first

import spyketorch  # noqa: E402
import spyketorch.functional as sf  # noqa: E402
from spyketorch.coding import DoGKernel, Filter, Intensity2Latency  # noqa: E402
from spyketorch.coding.data import load_mnist  # noqa: E402
from spyketorch.interop.nir import norse_module  # noqa: E402
from spyketorch.learning import STDP  # noqa: E402
from spyketorch.layers import Convolution  # noqa: E402
from spyketorch.networks import NeuronConvBlock, StepNetwork, calibrate_gain, strict_threshold  # noqa: E402
from spyketorch.neurons import IF, LIF  # noqa: E402

T = 15  # time steps of the latency code
THRESHOLD = 10.0


def encode(images: torch.Tensor, batch: int = 2000) -> torch.Tensor:
    """DoG on/off filters, local normalisation, latency coding: first-spike steps uint8 ``[N, 2, 28, 28]``."""
    filt = Filter([DoGKernel(7, 1.0, 2.0), DoGKernel(7, 2.0, 1.0)], padding=3, thresholds=50.0)
    coder = Intensity2Latency(T, batched=True)  # a last chunk of one image stays a batch
    out = []
    for i in range(0, images.shape[0], batch):
        x = sf.local_normalization(filt(images[i : i + batch].float().unsqueeze(1)), 8)
        out.append(coder.spike_times(x).to(torch.uint8))
    return torch.cat(out)


def step_spikes(times: torch.Tensor) -> torch.Tensor:
    """The spikes arriving at each step, time-major ``[T, B, 2, 28, 28]`` (float 0/1)."""
    steps = torch.arange(T).view(T, 1, 1, 1, 1)
    return (times.long().unsqueeze(0) == steps).float()


def build(seed: int, layer_kind: str = "LIF") -> StepNetwork:
    torch.manual_seed(seed)
    conv = Convolution(2, 32, 5, 0.8, 0.05)
    if layer_kind == "IF_exact":  # the accumulate-and-fire layer, as an IF layer (the calibration target)
        layer = IF(threshold=strict_threshold(THRESHOLD), ts=1.0, C=1.0, refractory_timesteps=0)
    else:  # no lateral inhibition, no refractoriness: what NIR can hold
        layer = LIF(threshold=THRESHOLD, inhibition_mode="none", refractory_timesteps=0)
    return StepNetwork([NeuronConvBlock(conv, layer, padding=2, pool=(2, 2, 1), kwta=5, inhibition_radius=2)])


def train_readout(x: torch.Tensor, y: torch.Tensor, l2: float = 1e-4, iters: int = 150) -> torch.nn.Linear:
    """Multinomial logistic regression (L2-regularised), full-batch L-BFGS."""
    lin = torch.nn.Linear(x.shape[1], 10)
    torch.nn.init.zeros_(lin.weight)
    torch.nn.init.zeros_(lin.bias)
    opt = torch.optim.LBFGS(lin.parameters(), lr=1.0, max_iter=iters, history_size=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(lin(x), y) + 0.5 * l2 * lin.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return lin


@torch.no_grad()
def pooled_spikes(net: StepNetwork, times: torch.Tensor, batch: int = 200) -> torch.Tensor:
    """spyketorch's pooled spikes of every step, ``[T, N, 32, 15, 15]`` (uint8)."""
    blk = net.blocks[0]
    blk.track_values = False
    out = [blk.present(step_spikes(times[i : i + batch]))[1].to(torch.uint8) for i in range(0, times.shape[0], batch)]
    return torch.cat(out, dim=1)


def run_norse(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Norse's graph executor over a presentation ``[T, B, ...]`` from rest."""
    state, outs = None, []
    for t in range(x.shape[0]):
        out, state = module(x[t], state)
        outs.append(out)
    return torch.stack(outs)


def main(argv: Optional[List[str]] = None) -> Dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stdp-limit", type=int, default=1000, help="STDP on the first N training digits (default 1000)")
    ap.add_argument("--train-limit", type=int, default=2000, help="readout on the first N training digits (default 2000)")
    ap.add_argument("--test-limit", type=int, default=1000, help="first N test digits (default 1000)")
    ap.add_argument("--batch-size", type=int, default=32, help="STDP mini-batch (default 32)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="write the exported (faithful) graph to this .nir file")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    raw = load_mnist()
    xtr, ytr = encode(raw["train_x"][: args.train_limit]), raw["train_y"][: args.train_limit]
    xte, yte = encode(raw["test_x"][: args.test_limit]), raw["test_y"][: args.test_limit]
    res: Dict[str, float] = {}

    # --- the network, its gain and STDP (the neuron_stdp recipe)
    net = build(args.seed)
    blk = net.blocks[0]
    gen = torch.Generator().manual_seed(args.seed)
    order = torch.randperm(xtr.shape[0], generator=gen)
    cal = step_spikes(xtr[order[:32]]).transpose(0, 1)  # StepNetwork.run takes [B, T, ...]
    ref = build(args.seed, "IF_exact")
    target = float((ref.run(cal)[0].post_times < T).float().mean())
    res["gain"] = calibrate_gain(net, 0, cal, min(max(target, 1e-3), 0.999), lo=1e-2, hi=1e5, iters=12)
    stdp = STDP(blk.conv, (0.004, -0.003))
    n_stdp = min(args.stdp_limit, xtr.shape[0])
    for i in range(0, n_stdp, args.batch_size):
        ap_ = min(0.004 * 2 ** (i // 500), 0.15)  # the demo's schedule: a+ doubles every 500 digits
        stdp.update_all_learning_rate(ap_, -0.75 * ap_)
        net.stdp_step(step_spikes(xtr[order[i : i + args.batch_size]]).transpose(0, 1), 0, stdp)
    print(f"STDP on {n_stdp} digits (gain {res['gain']:.4g}): {time.perf_counter() - t0:.1f}s", flush=True)

    # --- readout on the pooled spike counts, scored in spyketorch
    s_tr, s_te = pooled_spikes(net, xtr), pooled_spikes(net, xte)
    lin = train_readout(s_tr.sum(0, dtype=torch.float32).flatten(1), ytr)
    with torch.no_grad():
        pred_st = lin(s_te.sum(0, dtype=torch.float32).flatten(1)).argmax(1)
    res["spyketorch_test_accuracy"] = float((pred_st == yte).float().mean())

    # --- export: per step, Flatten -> Affine with bias / T (summed over the steps: the readout's logits)
    step_readout = torch.nn.Linear(lin.in_features, 10)
    with torch.no_grad():
        step_readout.weight.copy_(lin.weight)
        step_readout.bias.copy_(lin.bias / T)
    model = torch.nn.Sequential(net, torch.nn.Flatten(), step_readout)
    sample = step_spikes(xte[:1])[0]
    graph = spyketorch.to_nir(model, sample)
    import nir

    path = Path(args.out) if args.out else Path(tempfile.mkdtemp()) / "neuron_stdp_lif.nir"
    nir.write(path, graph)
    back = spyketorch.from_nir(nir.read(path))
    x_chk = step_spikes(xte[:100])
    chk = back.run(x_chk, ["0_block0_pool_threshold"])
    same_spikes = torch.equal(chk["0_block0_pool_threshold"], s_te[:, :100].float())
    with torch.no_grad():
        logits_st = torch.stack([step_readout(s_te[t, :100].float().flatten(1)) for t in range(T)])
    same_logits = torch.equal(chk["output"], logits_st)
    print(f"exported {len(graph.nodes)} NIR nodes to {path}; read back with spyketorch.from_nir: pooled spikes "
          f"identical {same_spikes}, readout outputs identical {same_logits} (100 test digits, every step)")

    # --- Norse: the graph for forward-Euler simulators, stepped by Norse
    norse_graph = spyketorch.to_nir(model, sample, euler=True, fold_scales=True)
    spike_graph = spyketorch.to_nir(net, sample, euler=True, fold_scales=True)  # up to the pooled spikes
    norse_net, norse_spk = norse_module(norse_graph), norse_module(spike_graph)
    agree = total = 0
    pred_norse = []
    with torch.no_grad():
        for i in range(0, xte.shape[0], 200):
            x = step_spikes(xte[i : i + 200])
            spk = run_norse(norse_spk, x)
            agree += int((spk == s_te[:, i : i + 200].float()).sum())
            total += spk.numel()
            pred_norse.append(run_norse(norse_net, x).sum(0).argmax(1))
    pred_norse = torch.cat(pred_norse)
    res["spike_agreement"] = agree / total
    res["prediction_agreement"] = float((pred_norse == pred_st).float().mean())
    res["norse_test_accuracy"] = float((pred_norse == yte).float().mean())
    res["wall_s"] = time.perf_counter() - t0
    print(f"Norse vs spyketorch: pooled spikes agree at {100 * res['spike_agreement']:.4f}% of {total} "
          f"neuron-steps ({total - agree} differ); predictions agree on {100 * res['prediction_agreement']:.2f}% "
          f"of {yte.numel()} test digits")
    print(f"test accuracy: spyketorch {100 * res['spyketorch_test_accuracy']:.2f}%, "
          f"Norse {100 * res['norse_test_accuracy']:.2f}%  ({res['wall_s']:.1f}s)")
    return res


if __name__ == "__main__":
    main()
