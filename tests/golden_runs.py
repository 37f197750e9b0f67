"""The fixed runs that pin the neuron layers' behaviour (shared by the test and its generator).

Each run builds a registered model, sets one inhibition mode, steps it ``T`` times on fixed
inputs (alternating weak and strong steps, so neurons fire and sit refractory) and records
every output of :meth:`step` and the final state.
"""
from __future__ import annotations

from typing import Any, Dict, Iterator, NamedTuple

import torch

MODES = ("feature", "location", "layer", "neuron", "none")


class Case(NamedTuple):
    key: str
    model: str
    mode: str
    dtype: torch.dtype
    variant: str  # "plain", "per_neuron", "v_reset", "noise"


def RUNS() -> Iterator[Case]:
    from spyketorch.neurons import MODELS

    for name in sorted(MODELS):
        for mode in MODES:
            yield Case(f"{name}/{mode}/f64", name, mode, torch.float64, "plain")
        yield Case(f"{name}/feature/f32", name, "feature", torch.float32, "plain")
        yield Case(f"{name}/location/per_neuron", name, "location", torch.float64, "per_neuron")
        yield Case(f"{name}/neuron/noise", name, "neuron", torch.float64, "noise")


def inputs(scale: float, dtype: torch.dtype, T: int = 6, shape=(2, 4, 3, 5), seed: int = 7):
    g = torch.Generator().manual_seed(seed)
    return [(torch.rand(shape, generator=g, dtype=torch.float64) * scale * (3.0 if t % 2 else 1.0)).to(dtype)
            for t in range(T)]


def build(case: Case, sn: Any):
    spec = sn.MODELS[case.model]
    layer = sn.all_models(n_features=4)[case.model]()
    layer.inhibition_mode = case.mode
    if case.variant == "per_neuron":
        g = torch.Generator().manual_seed(11)
        thr = layer.threshold
        layer.per_neuron_thresh = thr * (0.5 + torch.rand(4, 3, 5, generator=g, dtype=torch.float64))
    if case.variant == "noise":
        layer.noise_std = 0.5 * abs(layer.threshold)
        layer.noise_generator = torch.Generator().manual_seed(5)
    return layer, spec


def run_case(case: Case, sn: Any) -> Dict[str, Any]:
    layer, spec = build(case, sn)
    rec: Dict[str, Any] = {k: [] for k in ("spikes", "potentials", "thresholded", "dudt", "winners", "winning_spikes")}
    for x in inputs(spec.input_scale, case.dtype):
        o = layer.step(x, n_winners=3, thresholded=True, dudt=True, winners=True, winning_spikes=True)
        for k in rec:
            v = getattr(o, k)
            rec[k].append(v != 0 if k in ("spikes", "winning_spikes") else v.clone())
    out = {k: torch.stack(v) for k, v in rec.items()}
    out["amplitude"] = float(layer.spike_amplitude)
    st = layer.get_state()
    out.update({f"state_{k}": (None if v is None else v.clone()) for k, v in st.items()})
    return out
