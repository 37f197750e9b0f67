"""Seeing and measuring the dynamics: nullclines, fixed points and receptive fields
(:mod:`~spyketorch.analysis.dynamics`), recorded simulations, f–I curves and threshold tuning
(:mod:`~spyketorch.analysis.simulation`) and figures (:mod:`~spyketorch.analysis.plotting`,
imported on first use: nothing else imports matplotlib).

Example:
    >>> from spyketorch.analysis import simulate
    >>> rec = simulate(LIF(threshold=10.0), torch.full((1, 1, 1, 1), 500.0), steps=50,
    ...                record=("spikes", "potentials"), progress=False)
    >>> rec["spikes"].shape, int(rec["spikes"].count_nonzero())  # [T, B, C, H, W]
    (torch.Size([50, 1, 1, 1, 1]), 5)
"""
from .dynamics import (FixedPoint, as_weights, deep_feature, deep_receptive_field, fixed_points, nullclines,
                       receptive_field, reconstruct_features)
from .simulation import (FICurve, TuneResult, analytic_lif_rate, fi_curve, firing_rate, lif_rate, load_layer,
                         rheobase, run, save_layer, simulate, tune_threshold)


def __getattr__(name: str):  # ``spyketorch.analysis.plotting`` on first use (matplotlib lazily)
    if name == "plotting":
        import importlib

        return importlib.import_module(".plotting", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FixedPoint", "nullclines", "fixed_points", "deep_receptive_field", "receptive_field", "deep_feature",
    "reconstruct_features", "as_weights",
    "simulate", "run", "firing_rate", "FICurve", "fi_curve", "lif_rate", "analytic_lif_rate", "rheobase",
    "TuneResult", "tune_threshold", "save_layer", "load_layer",
]
