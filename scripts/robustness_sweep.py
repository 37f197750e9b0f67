"""Robustness sweep of the entry points outside the neuron layers: odd input, one argument at a time.

Every case starts from a valid call and replaces one argument by an odd value (empty and
zero-size tensors, huge and tiny float64, NaN/inf, integer/bool/complex/half dtypes, lists
instead of tensors, shapes that do not broadcast, 0/negative/fractional counts, ...). Each
outcome is classified:

* ``ok``      - a result, finite wherever the input was finite;
* ``refused`` - ``ValueError``/``TypeError`` whose message names one of the call's arguments;
* ``unclear`` - any other exception, or a refusal that names no argument;
* ``silent``  - a result with NaN/inf from finite input.

Run: ``PYTHONPATH=. python scripts/robustness_sweep.py`` (``-v`` lists every unclear/silent case).
The target is 0 unclear and 0 silent.
"""
from __future__ import annotations

import sys
import warnings
from typing import Any, Callable, Dict, List, Sequence, Tuple

import numpy as np
import torch

import spyketorch.functional as sf
import spyketorch.snn as snn
import spyketorch.utils as su
import spyketorch.visualization as vis
from spyketorch.coding.events import events_to_frames
from spyketorch.systems.sam import RectifiedSAM

NAN, INF = float("nan"), float("inf")


def _wave(*shape, dtype=torch.float32, scale=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=g).clamp(min=0.3).sub(0.3).cumsum(0 if len(shape) == 4 else 1)
    return x.to(dtype) * scale if dtype.is_floating_point else x.to(dtype)


# odd values, each as (label, value, input_is_finite)
ODD_WAVES = [
    ("T=0", torch.zeros(0, 2, 3, 4), True), ("C=0", torch.zeros(3, 0, 3, 4), True),
    ("H=0", torch.zeros(3, 2, 0, 4), True), ("W=0", torch.zeros(3, 2, 3, 0), True),
    ("B=0", torch.zeros(0, 3, 2, 3, 4), True), ("batch", _wave(2, 3, 2, 3, 4), True),
    ("f64 1e308", _wave(3, 2, 3, 4, dtype=torch.float64, scale=1.7e308 / 6), True),
    ("f64 tiny", _wave(3, 2, 3, 4, dtype=torch.float64, scale=5e-324 * 64), True),
    ("f32 3e38", _wave(3, 2, 3, 4, scale=3e38 / 6), True), ("f16", _wave(3, 2, 3, 4, dtype=torch.float16), True),
    ("bf16", _wave(3, 2, 3, 4, dtype=torch.bfloat16), True), ("int", (_wave(3, 2, 3, 4) * 4).long(), True),
    ("bool", _wave(3, 2, 3, 4) > 0, True), ("NaN", torch.full((3, 2, 3, 4), NAN), False),
    ("inf", torch.full((3, 2, 3, 4), INF), False), ("complex", torch.zeros(3, 2, 3, 4, dtype=torch.complex64), True),
    ("3-D", torch.zeros(2, 3, 4), True), ("6-D", torch.zeros(1, 1, 3, 2, 3, 4), True),
    ("list", [[[[0.0]]]], True), ("None", None, True),
]
ODD_THRESHOLDS = [
    ("0", 0.0, True), ("-1", -1.0, True), ("1e308", 1e308, True), ("NaN", NAN, False), ("inf", INF, False),
    ("[3]", torch.ones(3), True), ("[2,1,1]", torch.ones(2, 1, 1), True), ("[5,2,3,4]", torch.ones(5, 2, 3, 4), True),
    ("[1,3,2,3,4]", torch.ones(1, 3, 2, 3, 4), True), ("list", [1.0], True), ("str", "1", True), ("bool", True, True),
    ("NaN tensor", torch.tensor(NAN), False),
]
ODD_INTS = [("0", 0, True), ("-1", -1, True), ("1e12", 10**12, True), ("1.5", 1.5, True), ("True", True, True),
            ("None", None, True), ("str", "2", True), ("np.int64", np.int64(2), True)]
ODD_FEATURES = [("[0.5]", [0.5], True), ("[1.0]", [1.0], True), ("[]", [], True), ("[[0],[1]]", [[0], [1]], True),
                ("bool list", [True, False], True), ("bool list 3", [True, False, True], True), ("[5]", [5], True),
                ("[-3]", [-3], True), ("str", "01", True), ("float tensor", torch.tensor([0.5]), True),
                ("nonzero", torch.tensor([[1]]), True), ("set", {0}, True), ("None", None, True), ("np", np.array([1]), True)]
ODD_FLOATS = [("0", 0.0, True), ("-1", -1.0, True), ("1e-300", 1e-300, True), ("1e300", 1e300, True),
              ("NaN", NAN, False), ("inf", INF, False), ("True", True, True), ("str", "1", True), ("None", None, True)]
ODD_KERNELS = [("negative", -torch.ones(3, 3), True), ("NaN", torch.full((3, 3), NAN), False),
               ("inf", torch.full((3, 3), INF), False), ("even", torch.ones(2, 2), True), ("1x1", torch.ones(1, 1), True),
               ("huge", torch.full((3, 3), 3e38), True), ("int", torch.ones(3, 3, dtype=torch.long), True),
               ("list", [[0.1]], True)]


def _finite(out: Any) -> bool:
    if isinstance(out, torch.Tensor):
        return not (out.is_floating_point() or out.is_complex()) or bool(torch.isfinite(out).all())
    if isinstance(out, (tuple, list)):
        return all(_finite(o) for o in out)
    return True


def sweep() -> Tuple[Dict[str, int], List[str]]:
    counts = {"ok": 0, "refused": 0, "unclear": 0, "silent": 0}
    bad: List[str] = []
    w = _wave(3, 2, 3, 4)
    conv = snn.Convolution(2, 2, 2)
    pot = conv(w)
    spk = sf.fire(pot, 0.5)
    stdp = snn.STDP(conv, (0.01, -0.01))
    ev = np.array([(0, 0, 0, 1), (1, 1, 10, 0)], dtype=[("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")])

    # (name, function, valid arguments as a dict, {argument: odd values})
    cases: List[Tuple[str, Callable, Dict[str, Any], Dict[str, Sequence]]] = [
        ("fire", sf.fire, {"potentials": w, "threshold": 0.5}, {"potentials": ODD_WAVES, "threshold": ODD_THRESHOLDS}),
        ("threshold", sf.threshold, {"potentials": w, "threshold": 0.5},
         {"potentials": ODD_WAVES, "threshold": ODD_THRESHOLDS}),
        ("fire_", lambda potentials, threshold: sf.fire_(potentials.clone() if isinstance(potentials, torch.Tensor)
                                                         else potentials, threshold),
         {"potentials": w, "threshold": 0.5}, {"potentials": ODD_WAVES, "threshold": ODD_THRESHOLDS}),
        ("first_spike", sf.first_spike, {"potentials": w, "threshold": 0.5},
         {"potentials": ODD_WAVES, "threshold": ODD_THRESHOLDS}),
        ("get_k_winners", sf.get_k_winners, {"potentials": w, "n_winners": 2, "inhibition_radius": 1},
         {"potentials": ODD_WAVES, "n_winners": ODD_INTS, "inhibition_radius": ODD_INTS}),
        ("pointwise_inhibition", sf.pointwise_inhibition, {"thresholded_potentials": w},
         {"thresholded_potentials": ODD_WAVES}),
        ("feature_inhibition", sf.feature_inhibition, {"potentials": w, "inhibited_features": [0]},
         {"potentials": ODD_WAVES, "inhibited_features": ODD_FEATURES}),
        ("pooling", sf.pooling, {"input": w, "kernel_size": 2, "stride": 1, "padding": 1},
         {"input": ODD_WAVES, "kernel_size": ODD_INTS, "stride": ODD_INTS, "padding": ODD_INTS}),
        ("local_normalization", sf.local_normalization, {"input": w, "normalization_radius": 1},
         {"input": ODD_WAVES, "normalization_radius": ODD_INTS}),
        ("intensity_lateral_inhibition", sf.intensity_lateral_inhibition,
         {"intensities": w[0], "inhibition_kernel": su.generate_inhibition_kernel([0.2])},
         {"intensities": ODD_WAVES, "inhibition_kernel": ODD_KERNELS}),
        ("spike_wave", sf.spike_wave, {"times": torch.randint(0, 4, (2, 3, 4)), "time_steps": 3},
         {"times": ODD_WAVES, "time_steps": ODD_INTS}),
        ("Intensity2Latency", lambda intensities, number_of_spike_bins: su.Intensity2Latency(number_of_spike_bins)(intensities),
         {"intensities": w[0], "number_of_spike_bins": 4}, {"intensities": ODD_WAVES, "number_of_spike_bins": ODD_INTS}),
        ("GaborKernel", lambda window_size, orientation, div: su.GaborKernel(window_size, orientation, div)(),
         {"window_size": 5, "orientation": 30.0, "div": 4.0},
         {"window_size": ODD_INTS, "orientation": ODD_FLOATS, "div": ODD_FLOATS}),
        ("DoGKernel", lambda window_size, sigma1, sigma2: su.DoGKernel(window_size, sigma1, sigma2)(),
         {"window_size": 5, "sigma1": 1.0, "sigma2": 2.0},
         {"window_size": ODD_INTS, "sigma1": ODD_FLOATS, "sigma2": ODD_FLOATS}),
        ("STDP", lambda input_spikes, winners: stdp(input_spikes, pot, spk, winners),
         {"input_spikes": w, "winners": [(0, 0, 0)]},
         {"input_spikes": ODD_WAVES, "winners": ODD_FEATURES}),
        ("get_deep_feature", vis.get_deep_feature,
         {"pre_feature": torch.ones(2, 3, 3), "feature_stride": (1, 1), "window_size": (2, 2), "stride": (1, 1),
          "weights": torch.ones(4, 2, 2, 2)},
         {"pre_feature": ODD_WAVES, "feature_stride": ODD_INTS, "window_size": ODD_INTS, "stride": ODD_INTS,
          "weights": ODD_KERNELS}),
        ("events_to_frames", events_to_frames, {"events": ev, "sensor_size": (2, 2, 2), "time_steps": 2},
         {"time_steps": ODD_INTS, "events": [("list", [1], True), ("None", None, True)]}),
        ("spike_times", sf.spike_times, {"spikes": w, "time_dim": 0}, {"spikes": ODD_WAVES, "time_dim": ODD_INTS}),
        ("pad", sf.pad, {"input": w, "pad": (1, 1, 1, 1), "value": 0.0},
         {"input": ODD_WAVES, "pad": ODD_INTS, "value": ODD_FLOATS}),
        ("get_k_winners_times", sf.get_k_winners_times,
         {"times": torch.randint(0, 4, (2, 3, 4)), "values": torch.rand(2, 3, 4), "time_steps": 3, "n_winners": 2},
         {"times": ODD_WAVES, "values": ODD_WAVES, "time_steps": ODD_INTS, "n_winners": ODD_INTS}),
        ("pointwise_inhibition_times", sf.pointwise_inhibition_times,
         {"times": torch.randint(0, 4, (2, 3, 4)), "values": torch.rand(2, 3, 4), "time_steps": 3},
         {"times": ODD_WAVES, "values": ODD_WAVES, "time_steps": ODD_INTS}),
        ("Convolution", lambda input, kernel_size: snn.Convolution(2, 3, kernel_size)(input),
         {"input": w, "kernel_size": 2}, {"input": ODD_WAVES, "kernel_size": ODD_INTS}),
        ("Pooling", lambda input, kernel_size, stride: snn.Pooling(kernel_size, stride)(input),
         {"input": w, "kernel_size": 2, "stride": 1}, {"input": ODD_WAVES, "kernel_size": ODD_INTS, "stride": ODD_INTS}),
        ("Filter", lambda input, thresholds: su.Filter([su.DoGKernel(3, 1, 2)], padding=1, thresholds=thresholds)(input),
         {"input": torch.rand(1, 1, 6, 6), "thresholds": 0.1},
         {"input": ODD_WAVES, "thresholds": ODD_THRESHOLDS}),
        ("LateralIntensityInhibition", lambda intensities, inhibition_percents:
         su.LateralIntensityInhibition(inhibition_percents)(intensities),
         {"intensities": torch.rand(1, 2, 5, 5), "inhibition_percents": [0.2, 0.1]},
         {"intensities": ODD_WAVES, "inhibition_percents": ODD_FEATURES + ODD_KERNELS}),
        ("STDP.update_all_learning_rate", lambda ap, an: snn.STDP(conv, (0.01, -0.01)).update_all_learning_rate(ap, an),
         {"ap": 0.01, "an": -0.01}, {"ap": ODD_FLOATS, "an": ODD_FLOATS}),
        ("RSTDP", lambda input_spikes, reward: snn.RSTDP(conv)(input_spikes, pot, spk, reward),
         {"input_spikes": w, "reward": 1.0}, {"input_spikes": ODD_WAVES, "reward": ODD_FLOATS + ODD_WAVES}),
        ("get_deep_receptive_field", lambda layers: vis.get_deep_receptive_field(*layers),
         {"layers": [(2, 2, 1, 1)]}, {"layers": [(n, [v], f) for n, v, f in ODD_INTS] + [("4-tuple of odd", [(0, 1, 1, 1)], True)]}),
        ("RectifiedSAM", lambda rng, tau: RectifiedSAM(tau=tau, rng=rng),
         {"rng": torch.Generator(), "tau": 0.01}, {"rng": [("int", 3, True), ("None", None, True)], "tau": ODD_FLOATS}),
    ]
    for name, fn, valid, odd in cases:
        for arg, values in odd.items():
            for label, value, finite_input in values:
                kwargs = dict(valid)
                kwargs[arg] = value
                tag = f"{name}({arg}={label})"
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        out = fn(**kwargs)
                except (ValueError, TypeError) as exc:
                    if any(a in str(exc) for a in valid) or arg in str(exc):
                        counts["refused"] += 1
                    else:
                        counts["unclear"] += 1
                        bad.append(f"unclear {tag}: {type(exc).__name__}: {exc}")
                except Exception as exc:  # noqa: BLE001 - classifying every exception is the point
                    counts["unclear"] += 1
                    bad.append(f"unclear {tag}: {type(exc).__name__}: {exc}")
                else:
                    if finite_input and not _finite(out):
                        counts["silent"] += 1
                        bad.append(f"silent {tag}")
                    else:
                        counts["ok"] += 1
    return counts, bad


if __name__ == "__main__":
    counts, bad = sweep()
    print(f"{sum(counts.values())} cases: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if "-v" in sys.argv:
        print("\n".join(bad))
