r"""Plots of neuron dynamics, recorded runs and learned features.

* :func:`plot_ode` – :math:`du/dt` against :math:`u` for any neuron layer, with and
  without an input current, the threshold and the fixed points marked.
* :func:`phase_plane` – for the two-dimensional models (AdEx, Izhikevich): both
  nullclines, the vector field, the fixed points (:func:`fixed_points`) and a
  trajectory of the real layer.
* :func:`plot_fi_curve` – firing rate against constant input with the analytic
  LIF curve for comparison.
* :func:`plot_trace`, :func:`plot_raster` – membrane potentials with spikes and
  threshold, and spike rasters, from runs recorded with
  :func:`spyketorch.simulation.simulate`.
* :func:`plot_features`, :func:`reconstruct_features`, :func:`plot_deep_features`,
  :func:`deep_receptive_field` – learned convolution kernels, and deeper kernels
  reconstructed through the earlier layers in input space (as SpykeTorch's
  visualisation module does).

Every plotting function returns ``(figure, axes)``, draws into ``ax`` when one is
given (else into a new axes of ``figure``, else of a new figure) and imports
matplotlib only when called, so the package imports without it and works
headless (with the ``Agg`` backend). Artists carry a ``gid`` (e.g.
``"membrane-nullcline"``, ``"fixed-point"``, ``"trajectory"``, ``"threshold"``) so
that scripts and tests can find what was drawn.

Units: time in seconds (traces and rasters in ms), rates in Hz, :math:`du/dt` in
units of the potential per second (mV/s for Izhikevich).
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from .. import neurons as sn
from .dynamics import (FixedPoint, as_weights, copy_layer, deep_receptive_field, fixed_points, nullclines,
                       potential_range, reconstruct_features, require_second_variable, scalar_rest,
                       single_neuron, thresholds, w_nullcline)
from .simulation import fi_curve, simulate

__all__ = [
    "plot_ode",
    "FixedPoint",
    "nullclines",
    "fixed_points",
    "phase_plane",
    "plot_fi_curve",
    "plot_trace",
    "plot_raster",
    "plot_features",
    "reconstruct_features",
    "deep_receptive_field",
    "plot_deep_features",
]

Number = Union[int, float]


# ---------------------------------------------------------------------------- helpers
def _fig_ax(figure: Any = None, ax: Any = None, figsize: Optional[Tuple[float, float]] = None) -> Tuple[Any, Any]:
    """The figure and axes to draw into (matplotlib imported here, lazily)."""
    if ax is not None:
        return ax.figure, ax
    import matplotlib.pyplot as plt

    if figure is None:
        figure = plt.figure(figsize=figsize)
    return figure, figure.add_subplot()


def _name(layer: sn.Neuron) -> str:
    return type(layer).__name__


def _is_izhikevich(layer: sn.Neuron) -> bool:
    return isinstance(layer, sn.Izhikevich)


def _drawable(layer: sn.Neuron) -> sn.Neuron:
    """The layer, or for an unsampled ``Uniform*`` layer a copy whose two feature maps
    take the ends of ``tau_range`` (so the ODE can be drawn)."""
    if isinstance(layer, sn.HeterogeneousNeuron) and layer.taus is None:
        lo, hi = layer.tau_range
        out = copy_layer(layer)
        out.set_taus(torch.tensor([lo, hi], dtype=torch.float64).view(2, 1, 1))
        return out
    return layer


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _potential_label(layer: sn.Neuron) -> str:
    return "membrane potential v (mV)" if _is_izhikevich(layer) else "membrane potential u"


def _rows(y: Tensor, n: int, limit: int = 8) -> Tensor:
    """Distinct curves of a broadcast ODE evaluation ``[..., n]`` as ``[k, n]`` rows."""
    rows = y.reshape(-1, n)
    if rows.shape[0] > 1:
        rows = torch.unique(rows, dim=0)
    return rows[:limit]


def _zero_crossings(x: Tensor, y: Tensor) -> List[Tuple[float, bool]]:
    """Zeros of a sampled function (linear interpolation) and whether it falls through them."""
    out: List[Tuple[float, bool]] = []
    ys = y.tolist()
    xs = x.tolist()
    for i in range(len(ys) - 1):
        a, b = ys[i], ys[i + 1]
        if not (math.isfinite(a) and math.isfinite(b)):
            continue
        if a * b < 0:
            out.append((xs[i] + (xs[i + 1] - xs[i]) * a / (a - b), b < a))
        elif a == 0.0 and 0 < i and ys[i - 1] != 0.0 and b != 0.0 and ys[i - 1] * b < 0:
            out.append((xs[i], b < 0))  # an exact zero on the grid (isolated)
    return out


def _w_rest(layer: sn.Neuron) -> Optional[float]:
    """Adaptation of the resting state (on its nullcline at rest), None for 1-D models."""
    if not layer.has_second_variable:
        return None
    rest = torch.tensor(scalar_rest(layer), dtype=torch.float64)
    return float(w_nullcline(layer, rest).mean())


# ---------------------------------------------------------------------------- plot_ode
def plot_ode(
    layer: sn.Neuron,
    figure: Any = None,
    ax: Any = None,
    current: Optional[Number] = None,
    *,
    u_range: Optional[Tuple[float, float]] = None,
    w: Optional[Number] = None,
    n_points: int = 400,
    show_fixed_points: bool = True,
) -> Tuple[Any, Any]:
    r"""Draw the right-hand side :math:`du/dt` of a layer against the potential :math:`u`.

    The curve of :meth:`~spyketorch.neurons.Neuron.ode` is drawn for :math:`I = 0`
    and, when ``current`` is given, for :math:`I` = ``current``; e.g. for LIF

    .. math::
        \frac{du}{dt} = \frac{-(u - u_{rest}) + R I}{\tau_{rc}}, \qquad R = \tau_{rc}/C .

    The threshold is a dashed red line, :math:`du/dt = 0` a black line, and the
    zeros of each curve are marked (filled: stable, open: unstable). For the
    two-dimensional models the adaptation is held at ``w`` (default: its resting
    value, :math:`w = a(u_{rest} - u_{rest}) = 0` for AdEx and :math:`b\,v_{rest}` for
    Izhikevich); use :func:`phase_plane` for the full picture. Layers with
    per-feature parameters draw one curve per distinct feature (an unsampled
    ``Uniform*`` layer: the two ends of ``tau_range``). Several layers can be
    stacked on one axes by passing it again; the legend collects them all.

    Args:
        layer: any neuron layer.
        figure: figure to draw in (a new one if None). Default: None.
        ax: axes to draw in (a new one in ``figure`` if None). Default: None.
        current: input current of the second curve; None or 0 draws only
            :math:`I = 0`. Default: None.
        u_range: ``(low, high)`` potentials; default from just below rest/reset to a
            quarter of the rest-threshold span above the threshold. Default: None.
        w: adaptation value for two-dimensional models. Default: None (resting value).
        n_points: samples of the curve. Default: 400.
        show_fixed_points: mark the zeros of the curves. Default: True.

    Returns:
        ``(figure, axes)``.

    Example:
        >>> fig, ax = plot_ode(sn.LIF(threshold=10.0), current=300.0)
        >>> [t.get_text() for t in ax.get_legend().get_texts()]
        ['LIF, I = 0', 'stable fixed point', 'LIF, I = 300', 'threshold ϑ = 10']
    """
    figure, ax = _fig_ax(figure, ax)
    L = _drawable(layer)
    name = _name(layer)
    lo, hi = u_range if u_range is not None else potential_range(L)
    u = torch.linspace(float(lo), float(hi), int(n_points), dtype=torch.float64)
    w_val = (float(w) if w is not None else _w_rest(L)) if L.has_second_variable else None
    stacked = len(ax.get_lines()) > 0
    prev_ylim = ax.get_ylim() if stacked else None
    prev_xlim = ax.get_xlim() if stacked else None
    thr = thresholds(L)
    currents: List[float] = [0.0]
    if current is not None and float(current) != 0.0:
        currents.append(float(current))
    below = u <= (max(thr) if thr else float(hi))
    ymin, ymax = 0.0, 0.0
    at_rest = 0.0  # largest |du/dt| at rest over the curves
    i_rest = int(torch.argmin((u - scalar_rest(L)).abs()))
    have = {h.get_label() for h in ax.get_lines()}
    marked = {True: "stable fixed point" in have, False: "unstable fixed point" in have}
    for I in currents:
        rows = _rows(L.ode(u, I, w_val), u.numel())
        color = None
        for k, y in enumerate(rows):
            label = f"{name}, I = {_fmt(I)}" if k == 0 else "_nolegend_"
            (line,) = ax.plot(u.numpy(), y.numpy(), color=color, lw=1.6 if k == 0 else 1.0,
                              alpha=1.0 if k == 0 else 0.6, label=label)
            line.set_gid(f"ode-I={_fmt(I)}" if k == 0 else f"ode-I={_fmt(I)}-{k}")
            color = line.get_color()
            fin = y[below & torch.isfinite(y)]
            if fin.numel():
                ymin = min(ymin, float(fin.min()))
                ymax = max(ymax, float(fin.max()))
            if math.isfinite(float(y[i_rest])):
                at_rest = max(at_rest, abs(float(y[i_rest])))
            if show_fixed_points and k == 0:
                for x0, stable in _zero_crossings(u, y):
                    lab = ("stable fixed point" if stable else "unstable fixed point") if not marked[stable] else "_nolegend_"
                    marked[stable] = True
                    (m,) = ax.plot([x0], [0.0], "o", ms=7, color=color, mec=color, mfc=color if stable else "white",
                                   mew=1.5, zorder=5, label=lab)
                    m.set_gid("fixed-point-stable" if stable else "fixed-point-unstable")
    for i, t in enumerate(thr):
        lab = f"spike cut-off v = {_fmt(t)} mV" if _is_izhikevich(L) else f"threshold ϑ = {_fmt(t)}"
        if i > 0 or lab in have:
            lab = "_nolegend_"  # one legend entry per threshold value
        ln = ax.axvline(t, color="tab:red", ls="--", lw=1.0, label=lab)
        ln.set_gid("threshold")
    zl = ax.axhline(0.0, color="black", lw=0.8)
    zl.set_gid("zero")
    # superlinear models (Izhikevich) rise by orders of magnitude towards the cut-off:
    # keep the part around du/dt = 0, where the fixed points are, readable
    ymax = min(ymax, max(8.0 * abs(ymin), 1.5 * at_rest)) if (ymin < 0 or at_rest > 0) else ymax
    pad = 0.08 * (ymax - ymin if ymax > ymin else 1.0)
    y0, y1 = ymin - pad, ymax + pad
    x0, x1 = float(lo), float(hi)
    if prev_ylim is not None:
        y0, y1 = min(y0, prev_ylim[0]), max(y1, prev_ylim[1])
        x0, x1 = min(x0, prev_xlim[0]), max(x1, prev_xlim[1])
    ax.set_ylim(y0, y1)
    ax.set_xlim(x0, x1)
    ax.set_xlabel(_potential_label(L))
    ax.set_ylabel("dv/dt (mV/s)" if _is_izhikevich(L) else "du/dt (potential per second)")
    title = f"{name}: dv/dt against v" if _is_izhikevich(L) else f"{name}: du/dt against u"
    if w_val is not None:
        title += f" (recovery u = {_fmt(w_val)} mV)" if _is_izhikevich(L) else f" (adaptation w = {_fmt(w_val)})"
    ax.set_title(title if not stacked else "du/dt against u (several models)")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4))
    ax.legend(fontsize="small", loc="best")
    return figure, ax


# ---------------------------------------------------------------------------- phase plane


def _trajectory(L: sn.Neuron, current: float, steps: int,
                initial_state: Optional[Tuple[float, float]]) -> Dict[str, Tensor]:
    """Step a single-neuron layer and return v, w (with the initial point first), spikes and pre-reset v."""
    L.reset()
    if initial_state is not None:
        u0, w0 = (float(v) for v in initial_state)
    else:
        rest = scalar_rest(L)
        u0 = rest
        w0 = float(w_nullcline(L, torch.tensor([rest], dtype=torch.float64)))
    one = torch.ones(1, 1, 1, 1, dtype=torch.float64)
    L.load_state({"v": one * u0, "refractory": one * 0.0, "w": one * w0})
    rec = simulate(L, one * float(current), steps, record=("v", "w", "spikes", "thresholded"), n_winners=1,
                   progress=False)
    v = torch.cat((one.reshape(1) * u0, rec["v"].reshape(-1)))
    w = torch.cat((one.reshape(1) * w0, rec["w"].reshape(-1)))
    L.reset()
    return {"v": v, "w": w, "spiked": rec["spikes"].reshape(-1).ne(0), "pre": rec["thresholded"].reshape(-1)}


def phase_plane(
    layer: sn.Neuron,
    current: Number = 0.0,
    figure: Any = None,
    ax: Any = None,
    *,
    u_range: Optional[Tuple[float, float]] = None,
    w_range: Optional[Tuple[float, float]] = None,
    steps: Optional[int] = None,
    initial_state: Optional[Tuple[float, float]] = None,
    vector_field: Optional[str] = "stream",
    grid: int = 30,
    feature: int = 0,
    trajectory: bool = True,
    legend: Optional[str] = "outside",
) -> Tuple[Any, Any]:
    r"""Phase plane of a two-dimensional model (AdEx, Izhikevich) under a constant input.

    Draws, in the :math:`(u, w)` plane (for Izhikevich :math:`(v, u)`):

    * the nullclines of :func:`nullclines` (:math:`\dot u = 0` and :math:`\dot w = 0`);
    * the vector field :math:`(\dot u, \dot w)` of :meth:`~spyketorch.neurons.Neuron.ode`
      and :meth:`ode_w` as stream lines (``"stream"``) or direction arrows (``"quiver"``);
    * the fixed points of :func:`fixed_points` (filled: stable, open: unstable or saddle);
    * a trajectory of the real layer: a reset copy with one neuron ``[1, 1, 1, 1]``
      stepped with the input ``current`` from rest (or ``initial_state``); each spike
      is drawn up to the threshold and its reset (and jump of :math:`w`) as a dotted
      line;
    * the threshold (spike cut-off) as a dashed red line.

    Args:
        layer: an AdEx or Izhikevich layer (``Uniform*`` too; ``feature`` picks the map).
        current: constant input :math:`I`. Default: 0.0.
        figure: figure to draw in. Default: None.
        ax: axes to draw in. Default: None.
        u_range: potential axis range; default from below rest/reset to above threshold.
            Default: None.
        w_range: adaptation axis range; default covers the adaptation nullcline, the
            bottom of the other one, the fixed points and the trajectory. Default: None.
        steps: trajectory steps; default 0.3 s of simulated time, or two adaptation
            time constants :math:`\tau_w` (at most 3 s) for AdEx. Default: None.
        initial_state: ``(u0, w0)`` of the trajectory. Default: None (resting state).
        vector_field: ``"stream"``, ``"quiver"`` or None. Default: ``"stream"``.
        grid: vector-field grid points per axis. Default: 30.
        feature: feature map whose parameters are used. Default: 0.
        trajectory: draw the trajectory. Default: True.
        legend: ``"outside"`` (right of the axes), a matplotlib ``loc`` such as
            ``"best"``, or None for no legend. Default: ``"outside"``.

    Returns:
        ``(figure, axes)``.

    Example:
        >>> fig, ax = phase_plane(sn.Izhikevich(ts=0.0005, refractory_timesteps=0), current=10.0)
        >>> ax.get_title()
        'Izhikevich phase plane, I = 10 (no fixed point: tonic firing)'
    """
    require_second_variable(layer)
    own = ax is None
    figure, ax = _fig_ax(figure, ax, figsize=(9.5, 5.5))
    L = single_neuron(layer, feature)
    I = float(current)
    izh = _is_izhikevich(L)
    name = _name(layer)
    thr = thresholds(L)
    lo, hi = u_range if u_range is not None else potential_range(L)
    lo, hi = float(lo), float(hi)
    u = torch.linspace(lo, hi, 1200, dtype=torch.float64)
    wu, ww = nullclines(L, u, I)
    fps = [p for p in fixed_points(L, I) if lo <= p.u <= hi]
    traj = None
    if trajectory:
        if steps is None:
            # long enough for the adaptation to build up: 0.3 s, or two tau_w (at most 3 s)
            tw = L.param_or_none("tau_w")
            dur = 0.3 if tw is None else min(3.0, max(0.3, 2.0 * float(tw.max())))
            steps = max(1, int(round(dur / L.ts)))
        n = steps
        traj = _trajectory(L, I, n, initial_state)
    if w_range is None:
        vals = [ww[torch.isfinite(ww)]]
        fin = wu[torch.isfinite(wu)]
        if fin.numel():
            vals.append(fin.min().reshape(1))
        if fps:
            vals.append(torch.tensor([p.w for p in fps], dtype=torch.float64))
        if traj is not None:
            vals.append(traj["w"])
        allw = torch.cat(vals)
        w0, w1 = float(allw.min()), float(allw.max())
        span = w1 - w0 if w1 > w0 else max(1.0, abs(w0))
        w_lo, w_hi = w0 - 0.12 * span, w1 + 0.12 * span
    else:
        w_lo, w_hi = (float(v) for v in w_range)
    # vector field
    if vector_field is not None:
        gu = torch.linspace(lo, hi, grid, dtype=torch.float64)
        gw = torch.linspace(w_lo, w_hi, grid, dtype=torch.float64)
        WW, UU = torch.meshgrid(gw, gu, indexing="ij")
        du = L.ode(UU, I, WW)
        dw = L.ode_w(UU, WW)
        if vector_field == "stream":
            sp = ax.streamplot(gu.numpy(), gw.numpy(), du.numpy(), dw.numpy(), color="0.72", density=1.1,
                               linewidth=0.6, arrowsize=0.8, zorder=1)
            sp.lines.set_gid("vector-field")
        elif vector_field == "quiver":
            # arrows show the direction on screen: components scaled by the axis spans
            a = du / (hi - lo)
            b = dw / (w_hi - w_lo)
            norm = torch.sqrt(a * a + b * b).clamp(min=1e-300)
            q = ax.quiver(gu.numpy(), gw.numpy(), (a / norm).numpy(), (b / norm).numpy(), color="0.6",
                          angles="xy", pivot="mid", scale=grid * 1.3, width=0.002, zorder=1)
            q.set_gid("vector-field")
        else:
            raise ValueError(f"vector_field must be 'stream', 'quiver' or None, got {vector_field!r}")
    mem, ad = ("v", "u") if izh else ("u", "w")
    (l1,) = ax.plot(u.numpy(), wu.numpy(), color="tab:blue", lw=2.0, label=f"{mem}-nullcline (d{mem}/dt = 0)", zorder=3)
    l1.set_gid("membrane-nullcline")
    (l2,) = ax.plot(u.numpy(), ww.numpy(), color="tab:green", lw=2.0, label=f"{ad}-nullcline (d{ad}/dt = 0)", zorder=3)
    l2.set_gid("adaptation-nullcline")
    for t in [t for t in thr if lo <= t <= hi][:1]:  # only when in view
        ln = ax.axvline(t, color="tab:red", ls="--", lw=1.0,
                        label=f"spike cut-off {_fmt(t)} mV" if izh else f"threshold ϑ = {_fmt(t)}")
        ln.set_gid("threshold")
    if traj is not None:
        v, w, spiked, pre = traj["v"], traj["w"], traj["spiked"], traj["pre"]
        xs: List[float] = [float(v[0])]
        ys: List[float] = [float(w[0])]
        jx: List[float] = []
        jy: List[float] = []
        peak = thr[0] if thr else hi
        for t in range(spiked.numel()):
            if bool(spiked[t]):
                top = min(float(pre[t]), peak, hi)
                xs += [top, math.nan]
                ys += [float(w[t]), math.nan]  # at the adaptation before this step
                jx += [top, float(v[t + 1]), math.nan]
                jy += [float(w[t]), float(w[t + 1]), math.nan]
                xs.append(float(v[t + 1]))
                ys.append(float(w[t + 1]))
            else:
                xs.append(float(v[t + 1]))
                ys.append(float(w[t + 1]))
        dur_ms = spiked.numel() * L.ts * 1000.0
        (tl,) = ax.plot(xs, ys, color="tab:orange", lw=1.4, zorder=4,
                        label=f"trajectory, I = {_fmt(I)} ({_fmt(dur_ms)} ms)")
        tl.set_gid("trajectory")
        if jx:
            (jl,) = ax.plot(jx, jy, color="tab:orange", lw=0.9, ls=":", zorder=4, label="spike and reset")
            jl.set_gid("reset-jumps")
        (st,) = ax.plot([xs[0]], [ys[0]], "s", color="tab:orange", ms=6, zorder=5, label="start")
        st.set_gid("trajectory-start")
    stable = [p for p in fps if p.stable]
    unstable = [p for p in fps if not p.stable]
    if stable:
        (fs,) = ax.plot([p.u for p in stable], [p.w for p in stable], "o", color="black", ms=8, zorder=6,
                        label="stable fixed point")
        fs.set_gid("fixed-point-stable")
    if unstable:
        kinds = sorted({p.kind for p in unstable})
        (fu,) = ax.plot([p.u for p in unstable], [p.w for p in unstable], "o", mfc="white", mec="black", mew=1.5,
                        ms=8, zorder=6, label=f"unstable fixed point ({', '.join(kinds)})")
        fu.set_gid("fixed-point-unstable")
    ax.set_xlim(lo, hi)
    ax.set_ylim(w_lo, w_hi)
    ax.set_xlabel(_potential_label(L))
    ax.set_ylabel("recovery variable u (mV)" if izh else "adaptation w")
    ax.set_title(f"{name} phase plane, I = {_fmt(I)}" + ("" if fps else " (no fixed point: tonic firing)"))
    if legend == "outside":
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
        if own:
            figure.tight_layout()
    elif legend is not None:
        ax.legend(fontsize="small", loc=legend, framealpha=0.9)
    return figure, ax


# ---------------------------------------------------------------------------- f-I curve
def plot_fi_curve(
    layer: sn.Neuron,
    currents: Union[Sequence[float], Tensor, None] = None,
    figure: Any = None,
    ax: Any = None,
    *,
    steps: Optional[int] = None,
    analytic: bool = True,
    max_features: int = 8,
    progress: bool = False,
) -> Tuple[Any, Any]:
    r"""Firing rate against constant input current (f–I curve), with the analytic LIF curve.

    The rates are measured by :func:`spyketorch.simulation.fi_curve` on a copy of
    the layer; the dashed curve is :func:`spyketorch.simulation.analytic_lif_rate`

    .. math::
        r(I) = \left[t_{ref} + \tau_{rc} \ln\frac{R I}{R I - (\vartheta - u_{rest})}\right]^{-1}

    with the layer's constants (none for Izhikevich). Per-feature layers draw one
    curve per feature map (at most ``max_features``).

    Args:
        layer: the neuron layer.
        currents: constant inputs; default 0 to 4 times the rheobase. Default: None.
        figure: figure to draw in. Default: None.
        ax: axes to draw in. Default: None.
        steps: simulated steps per current (default 1 s). Default: None.
        analytic: draw the analytic LIF curve. Default: True.
        max_features: most feature maps drawn. Default: 8.
        progress: show a progress bar. Default: False.

    Returns:
        ``(figure, axes)``.

    Example:
        >>> fig, ax = plot_fi_curve(sn.LIF(threshold=10.0, ts=1e-4))
        >>> ax.get_title(), ax.get_ylabel()
        ('LIF: f–I curve (ts = 0.1 ms, t_ref = 0.2 ms)', 'firing rate (Hz)')
    """
    figure, ax = _fig_ax(figure, ax)
    res = fi_curve(layer, currents, steps=steps, progress=progress)
    I = res.currents.numpy()
    name = _name(layer)
    C = res.rates.shape[0]
    for c in range(min(C, max_features)):
        lab = f"{name} (simulated)" if C == 1 else f"{name} feature {c} (simulated)"
        (ln,) = ax.plot(I, res.rates[c].numpy(), "o-", ms=3, lw=1.2, label=lab)
        ln.set_gid(f"fi-simulated-{c}")
        if analytic and res.analytic is not None:
            al = "analytic LIF" if c == 0 else "_nolegend_"
            (an,) = ax.plot(I, res.analytic[c].numpy(), "--", lw=1.2, color="black" if C == 1 else ln.get_color(),
                            label=al)
            an.set_gid(f"fi-analytic-{c}")
    ax.set_xlabel("constant input current I")
    ax.set_ylabel("firing rate (Hz)")
    ax.set_xlim(float(I.min()), float(I.max()))
    ax.set_ylim(bottom=0.0)
    t_ref = layer.refractory_timesteps * layer.ts
    ax.set_title(f"{name}: f–I curve (ts = {_fmt(layer.ts * 1000)} ms, t_ref = {_fmt(t_ref * 1000)} ms)")
    ax.legend(fontsize="small", loc="upper left")
    return figure, ax


# ---------------------------------------------------------------------------- recorded runs
def _time_axis(T: int, ts: Optional[float]) -> Tuple[Tensor, str]:
    if ts is None:
        return torch.arange(T, dtype=torch.float64), "time step"
    return torch.arange(T, dtype=torch.float64) * (ts * 1000.0), "time (ms)"


def plot_trace(
    potentials: Tensor,
    spikes: Optional[Tensor] = None,
    figure: Any = None,
    ax: Any = None,
    *,
    ts: Optional[float] = None,
    threshold: Optional[float] = None,
    neurons: Sequence[int] = (0,),
    labels: Optional[Sequence[str]] = None,
    peak: Optional[float] = None,
    ylabel: str = "membrane potential",
) -> Tuple[Any, Any]:
    r"""Membrane-potential traces of recorded neurons, with their spikes and the threshold.

    ``potentials`` (and ``spikes``) are recordings ``[T, ...]`` from
    :func:`~spyketorch.simulation.simulate` (e.g. ``rec["v"]``); the neurons are the
    flat indices into the non-time dimensions. Recorded potentials are those after
    reset, so each spike is drawn as a vertical stroke from the potential at the
    spike step up to ``peak``.

    Args:
        potentials: recorded potentials ``[T, ...]``.
        spikes: recorded spikes ``[T, ...]`` (non-zero = spike). Default: None.
        figure: figure to draw in. Default: None.
        ax: axes to draw in. Default: None.
        ts: time step in seconds (time axis in ms); None: steps. Default: None.
        threshold: draw this threshold as a dashed red line. Default: None.
        neurons: flat indices of the neurons to draw. Default: ``(0,)``.
        labels: legend labels, one per neuron. Default: None (``"neuron i"``).
        peak: top of the spike strokes; default a little above the threshold (or
            the highest potential). Default: None.
        ylabel: y-axis label. Default: ``"membrane potential"``.

    Returns:
        ``(figure, axes)``.

    Example:
        >>> layer = sn.LIF(threshold=10.0, ts=1e-4)
        >>> rec = simulate(layer, torch.full((1, 1, 1, 1), 300.0), 500, record=("v", "spikes"), progress=False)
        >>> fig, ax = plot_trace(rec["v"], rec["spikes"], ts=layer.ts, threshold=10.0)
        >>> rec["spikes"].count_nonzero().item(), ax.get_xlabel()
        (3, 'time (ms)')
    """
    figure, ax = _fig_ax(figure, ax, figsize=(8.0, 3.5))
    V = potentials.detach().to("cpu", torch.float64)
    T = V.shape[0]
    V = V.reshape(T, -1)
    S = None if spikes is None else spikes.detach().to("cpu").reshape(T, -1).ne(0)
    t, xlabel = _time_axis(T, ts)
    vmax = float(V[:, list(neurons)].max()) if T else 0.0
    vmin = float(V[:, list(neurons)].min()) if T else 0.0
    if peak is None:
        top = threshold if threshold is not None else vmax
        peak = top + 0.15 * max(top - vmin, 1e-12)
    for k, n in enumerate(neurons):
        lab = labels[k] if labels is not None else f"neuron {n}"
        (ln,) = ax.plot(t.numpy(), V[:, n].numpy(), lw=1.2, label=lab)
        ln.set_gid(f"trace-{n}")
        if S is not None:
            idx = torch.nonzero(S[:, n]).reshape(-1)
            if idx.numel():
                vl = ax.vlines(t[idx].numpy(), V[idx, n].numpy(), peak, colors=ln.get_color(), lw=1.2)
                vl.set_gid(f"spikes-{n}")
    if threshold is not None:
        th = ax.axhline(float(threshold), color="tab:red", ls="--", lw=1.0, label=f"threshold {_fmt(float(threshold))}")
        th.set_gid("threshold")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if T:
        ax.set_xlim(float(t[0]), float(t[-1]))
    ax.legend(fontsize="small", loc="upper right")
    return figure, ax


def plot_raster(
    spikes: Tensor,
    figure: Any = None,
    ax: Any = None,
    *,
    ts: Optional[float] = None,
    batch: int = 0,
    color_by_feature: bool = True,
    marker_size: float = 12.0,
) -> Tuple[Any, Any]:
    r"""Spike raster of a recorded run: one row per neuron, one mark per spike.

    ``spikes`` is a recording ``[T, B, C, H, W]`` (sample ``batch`` is drawn),
    ``[T, C, H, W]``, ``[T, C, N]`` or ``[T, N]``. Neuron :math:`(c, h, w)` is row
    :math:`c H W + h W + w`; rows are coloured by feature map and the maps separated
    by thin lines.

    Args:
        spikes: recorded spikes (non-zero = spike).
        figure: figure to draw in. Default: None.
        ax: axes to draw in. Default: None.
        ts: time step in seconds (time axis in ms); None: steps. Default: None.
        batch: sample drawn from a 5-D recording. Default: 0.
        color_by_feature: one colour per feature map. Default: True.
        marker_size: size of the spike marks. Default: 12.0.

    Returns:
        ``(figure, axes)``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> rec = simulate(sn.LIF(threshold=10.0, ts=1e-4, inhibition_mode="neuron"),
        ...                torch.rand(1, 2, 4, 4, generator=g) * 600, 500, progress=False)
        >>> fig, ax = plot_raster(rec["spikes"], ts=1e-4)
        >>> ax.get_title()
        'spike raster: 102 spikes of 32 neurons in 500 steps'
    """
    figure, ax = _fig_ax(figure, ax, figsize=(8.0, 4.0))
    S = spikes.detach().to("cpu")
    if S.dim() == 5:
        S = S[:, batch]
    if S.dim() == 4:
        C = S.shape[1]
    elif S.dim() == 3:
        C = S.shape[1]
    elif S.dim() == 2:
        C = 1
    else:
        raise ValueError(f"spikes must be [T, B, C, H, W], [T, C, H, W], [T, C, N] or [T, N], got {tuple(S.shape)}")
    T = S.shape[0]
    flat = S.reshape(T, -1).ne(0)
    N = flat.shape[1]
    per = N // C
    t, xlabel = _time_axis(T, ts)
    ti, ni = torch.nonzero(flat, as_tuple=True)
    groups = range(C) if (color_by_feature and C > 1) else [None]
    for c in groups:
        sel = torch.ones_like(ni, dtype=torch.bool) if c is None else (ni // per == c)
        sc = ax.scatter(t[ti[sel]].numpy(), ni[sel].numpy(), marker="|", s=marker_size, linewidths=1.0,
                        color="black" if c is None else f"C{c % 10}",
                        label=None if c is None or C > 10 else f"feature {c}")
        sc.set_gid("raster" if c is None else f"raster-{c}")
    if C > 1:
        for c in range(1, C):
            ax.axhline(c * per - 0.5, color="0.85", lw=0.6, zorder=0)
    ax.set_xlim(float(t[0]) - 0.5 * float(t[1] - t[0]) if T > 1 else -0.5, float(t[-1]) + 0.5 * float(t[1] - t[0]) if T > 1 else 0.5)
    ax.set_ylim(-0.5, N - 0.5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("neuron (feature-major index)")
    ax.set_title(f"spike raster: {int(flat.sum())} spikes of {N} neurons in {T} steps")
    if color_by_feature and 1 < C <= 10:
        ax.legend(fontsize="x-small", loc="upper right", markerscale=1.5)
    return figure, ax


# ---------------------------------------------------------------------------- features


def _combine(w: Tensor, combine: Union[str, int]) -> Tensor:
    """``[F, C, kh, kw]`` -> ``[F, kh, kw]``."""
    C = w.shape[1]
    if isinstance(combine, int) and not isinstance(combine, bool):
        return w[:, combine]
    if combine == "auto":
        combine = "first" if C == 1 else ("diff" if C == 2 else "mean")
    if combine == "first":
        return w[:, 0]
    if combine == "diff":
        if C != 2:
            raise ValueError("combine='diff' needs two input channels (on and off)")
        return w[:, 0] - w[:, 1]
    if combine == "sum":
        return w.sum(dim=1)
    if combine == "mean":
        return w.mean(dim=1)
    if combine == "max":
        return w.amax(dim=1)
    raise ValueError(f"combine must be 'auto', 'first', 'diff', 'sum', 'mean', 'max' or a channel index, got {combine!r}")


def plot_features(
    weights: Any,
    figure: Any = None,
    ax: Any = None,
    *,
    combine: Union[str, int] = "auto",
    ncols: Optional[int] = None,
    normalize: bool = True,
    cmap: str = "gray",
    pad: int = 1,
    title: Optional[str] = None,
    separator_color: str = "#8fb3e0",
) -> Tuple[Any, Any]:
    r"""Learned convolution kernels as a mosaic of images, one tile per feature.

    The input channels of each kernel ``[C, kh, kw]`` are combined into one image
    (``"auto"``: the channel itself for one channel, on minus off for two (the DoG
    on/off channels), the mean otherwise). With ``normalize`` every tile is scaled
    to :math:`[0, 1]`:

    .. math::
        \hat K = \frac{K - \min K}{\max K - \min K}

    Args:
        weights: ``[F, C, kh, kw]`` (or ``[F, kh, kw]``) tensor, or a layer with a
            ``weight`` (e.g. :class:`spyketorch.snn.Convolution`).
        figure: figure to draw in. Default: None.
        ax: axes to draw in (the mosaic is one image). Default: None.
        combine: ``"auto"``, ``"first"``, ``"diff"``, ``"sum"``, ``"mean"``, ``"max"`` or a
            channel index. Default: ``"auto"``.
        ncols: tiles per row; default :math:`\lceil\sqrt F\rceil`. Default: None.
        normalize: scale each tile to [0, 1]; else one colour scale for all. Default: True.
        cmap: colour map. Default: ``"gray"``.
        pad: pixels between tiles. Default: 1.
        title: axes title; default ``"<F> features (<kh>x<kw>)"``. Default: None.
        separator_color: colour of the gaps between tiles (a colour that neither end
            of a grey scale takes). Default: light blue.

    Returns:
        ``(figure, axes)``; the mosaic is ``axes.images[0]`` (NaN between tiles).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> fig, ax = plot_features(torch.rand(8, 2, 5, 5, generator=g))
        >>> ax.get_title(), ax.images[0].get_array().shape  # 3 x 3 tiles of 5 x 5, 1 pixel apart
        ('8 features (5x5)', (17, 17))
    """
    w = as_weights(weights)
    imgs = _combine(w, combine)
    Fn, kh, kw = imgs.shape
    if normalize:
        mn = imgs.amin(dim=(1, 2), keepdim=True)
        mx = imgs.amax(dim=(1, 2), keepdim=True)
        rng = mx - mn
        imgs = torch.where(rng > 0, (imgs - mn) / torch.where(rng > 0, rng, torch.ones_like(rng)),
                           torch.full_like(imgs, 0.5))
    cols = ncols if ncols is not None else max(1, math.ceil(math.sqrt(Fn)))
    rows = math.ceil(Fn / cols)
    mosaic = torch.full((rows * (kh + pad) - pad, cols * (kw + pad) - pad), math.nan, dtype=torch.float64)
    for f in range(Fn):
        r, c = divmod(f, cols)
        mosaic[r * (kh + pad): r * (kh + pad) + kh, c * (kw + pad): c * (kw + pad) + kw] = imgs[f]
    figsize = (max(3.5, 0.9 * cols + 1.0), max(3.5, 0.9 * rows + 1.0))
    figure, ax = _fig_ax(figure, ax, figsize=figsize)
    import matplotlib

    cm = matplotlib.colormaps[cmap].with_extremes(bad=separator_color)
    kwargs: Dict[str, Any] = {"vmin": 0.0, "vmax": 1.0} if normalize else {}
    im = ax.imshow(mosaic.numpy(), cmap=cm, interpolation="nearest", **kwargs)
    im.set_gid("features")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title if title is not None else f"{Fn} features ({kh}x{kw})")
    return figure, ax


def plot_deep_features(
    weights: Sequence[Any],
    pooling: Optional[Sequence[Union[int, Tuple[int, int], None]]] = None,
    input_kernels: Any = None,
    figure: Any = None,
    ax: Any = None,
    *,
    normalize_input_kernels: bool = False,
    **kwargs: Any,
) -> Tuple[Any, Any]:
    r"""Draw the features of the last convolution reconstructed in input space.

    :func:`reconstruct_features` followed by :func:`plot_features` (keyword
    arguments go to the latter).

    .. math::
        R_{l-1} = \operatorname{unpool}(R_l) \star^{\top} K_{l-1}

    Args:
        weights: convolution weights, first layer first.
        pooling: pooling between the convolutions. Default: None.
        input_kernels: input filter kernels. Default: None.
        figure: figure to draw in. Default: None.
        ax: axes to draw in. Default: None.
        normalize_input_kernels: see :func:`reconstruct_features`. Default: False.
        **kwargs: passed to :func:`plot_features`.

    Returns:
        ``(figure, axes)``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> weights = [torch.rand(4, 2, 5, 5, generator=g), torch.rand(6, 4, 2, 2, generator=g)]
        >>> fig, ax = plot_deep_features(weights, [(2, 2)])
        >>> ax.get_title()
        '6 layer-2 features in input space (8x8)'
    """
    rec = reconstruct_features(weights, pooling, input_kernels, normalize_input_kernels)
    if "title" not in kwargs:
        kwargs["title"] = f"{rec.shape[0]} layer-{len(weights)} features in input space ({rec.shape[-2]}x{rec.shape[-1]})"
    return plot_features(rec, figure, ax, **kwargs)
