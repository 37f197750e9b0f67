r"""Numerical analysis of neuron layers, importable without matplotlib.

Nullclines, fixed points and their stability (Jacobians), single-neuron copies of a
layer, the potential range worth looking at, and the reconstruction of deep features'
receptive fields. :mod:`spyketorch.plotting` draws what this module computes.

Imports flow one way: ``neurons`` <- ``analysis`` <- ``simulation`` <- ``plotting``.
"""
from __future__ import annotations

import math
from typing import Any, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from .. import neurons as sn

Number = Union[int, float]

__all__ = ["FixedPoint", "nullclines", "fixed_points", "deep_receptive_field", "receptive_field", "deep_feature",
           "reconstruct_features",
           "copy_layer", "single_neuron", "w_nullcline", "scalar_rest", "potential_range", "as_weights", "thresholds",
           "require_second_variable"]


def scalar_rest(layer: sn.Neuron) -> float:
    """The layer's resting potential as one float (the mean of a per-map or per-neuron value; 0 if unset).

    Example:
        >>> scalar_rest(LIF(threshold=10.0, resting_potential=-65.0))
        -65.0
    """
    r = layer.param("resting_potential")
    return float(r.mean()) if r is not None else 0.0


def w_nullcline(layer: sn.Neuron, u: Tensor) -> Tensor:
    """w on the adaptation nullcline (dw/dt = 0), exact because dw/dt is linear in w.

    Example:
        >>> w_nullcline(AdEx(threshold=10.0), torch.tensor([-10.0, 0.0], dtype=torch.float64))  # w = a (u - rest)
        tensor([-6.,  0.], dtype=torch.float64)
    """
    g0 = layer.ode_w(u, torch.zeros_like(u))
    g1 = layer.ode_w(u, torch.ones_like(u))
    return -g0 / (g1 - g0)


def copy_layer(layer: sn.Neuron) -> sn.Neuron:
    """A reset deep copy of a layer (without its ``torch.compile`` wrapper, which does not copy).

    Example:
        >>> layer = AdEx(threshold=10.0)
        >>> twin = copy_layer(layer)
        >>> type(twin).__name__, twin is layer, twin.param("b") == layer.param("b")
        ('AdEx', False, tensor(True))
    """
    return layer.fresh_copy()


def single_neuron(layer: sn.Neuron, feature: int = 0) -> sn.Neuron:
    """A reset deep copy of ``layer`` with every per-neuron parameter taken at one feature map.

    Heterogeneous layers whose time constants are not sampled yet use the middle of
    ``tau_range``.

    Example:
        >>> layer = UniformLIF(threshold=10.0, n_features=3, seed=0)
        >>> bool(single_neuron(layer, 1).param("tau_rc") == layer.param("tau_rc").flatten()[1])
        True
    """
    single = copy_layer(layer)
    if isinstance(single, sn.HeterogeneousNeuron) and single.taus is None:
        lo, hi = single.tau_range
        single.set_taus(torch.tensor(0.5 * (lo + hi), dtype=torch.float64))
    for name in single.param_names:
        t = single.param(name)
        if t is None or t.numel() == 1:
            continue
        if t.dim() == 3:
            t = t[min(feature, t.shape[0] - 1)]
        if isinstance(single, sn.HeterogeneousNeuron) and name == "tau_rc":
            single.set_taus(t.reshape(-1)[0].clone())
        else:
            setattr(single, name, t.reshape(-1)[0].clone())
    return single


def _name(layer: sn.Neuron) -> str:
    return type(layer).__name__


def thresholds(layer: sn.Neuron, limit: int = 8) -> List[float]:
    """Distinct thresholds of the layer (per-neuron ones included), at most ``limit``.

    Example:
        >>> thresholds(LIF(threshold=10.0))
        [10.0]
    """
    pnt = layer.param("per_neuron_thresh")
    if pnt is not None:
        vals = torch.unique(pnt.reshape(-1)).tolist()
        return [float(v) for v in vals[:limit]]
    return [] if layer.threshold is None else [float(layer.threshold)]


def _reset_scalar(layer: sn.Neuron) -> float:
    v = layer.reset_potential
    return float(torch.as_tensor(v, dtype=torch.float64).mean())


def potential_range(layer: sn.Neuron) -> Tuple[float, float]:
    """Default potential range: a little below rest/reset to a quarter span above threshold.

    Example:
        >>> potential_range(LIF(threshold=10.0))
        (-1.0, 12.5)
    """
    rest = scalar_rest(layer)
    low = min(rest, _reset_scalar(layer))
    thr = thresholds(layer)
    if not thr:  # no threshold: use the rheobase / critical potential when given
        marks = [float(t.max()) for t in (layer.param_or_none(n) for n in ("theta_rh", "u_c")) if t is not None]
        thr = [low + 1.25 * (max(marks) - low)] if marks and max(marks) > low else []
    top = max(thr) if thr else low + 1.0
    span = top - low if top > low else max(1.0, abs(low))
    return low - 0.1 * span, top + 0.25 * span


class FixedPoint(NamedTuple):
    """A fixed point of a two-dimensional model.

    Attributes:
        u: membrane potential.
        w: adaptation (recovery) variable.
        stable: whether both eigenvalues of the Jacobian have negative real parts.
        kind: ``"stable node"``, ``"stable focus"``, ``"unstable node"``,
            ``"unstable focus"``, ``"saddle"`` or ``"center"``.
        eigenvalues: the two eigenvalues (per second), complex.

    Example:
        >>> rest, saddle = fixed_points(AdEx(threshold=10.0), current=0.0)
        >>> rest.kind, rest.stable, saddle.kind
        ('stable node', True, 'saddle')
    """

    u: float
    w: float
    stable: bool
    kind: str
    eigenvalues: Tuple[complex, complex]


def require_second_variable(layer: sn.Neuron) -> None:
    """Raise ``ValueError`` unless the layer has a second variable (phase planes need two).

    Example:
        >>> require_second_variable(AdEx(threshold=10.0))  # passes
        >>> require_second_variable(LIF(threshold=10.0))
        Traceback (most recent call last):
        ...
        ValueError: LIF is one-dimensional: phase planes are drawn for AdEx and Izhikevich (use plot_ode for the others)
    """
    if not layer.has_second_variable:
        raise ValueError(f"{_name(layer)} is one-dimensional: phase planes are drawn for AdEx and Izhikevich "
                         "(use plot_ode for the others)")


def nullclines(layer: sn.Neuron, u: Union[Sequence[float], Tensor], current: Number = 0.0,
               feature: int = 0) -> Tuple[Tensor, Tensor]:
    r"""The two nullclines of a two-dimensional model, as :math:`w` against :math:`u`.

    Both right-hand sides are linear in :math:`w`, so the nullclines are exact:

    .. math::
        w_u(u) = -\frac{\dot u(u, I, 0)}{\dot u(u, I, 1) - \dot u(u, I, 0)}, \qquad
        w_w(u) = -\frac{\dot w(u, 0)}{\dot w(u, 1) - \dot w(u, 0)}

    i.e. for AdEx :math:`w_u = [-(u - u_{rest}) + \Delta_T e^{(u-\theta_{rh})/\Delta_T} + R I]/R`,
    :math:`w_w = a (u - u_{rest})`, and for Izhikevich :math:`w_u = 0.04 v^2 + 5 v + 140 + I`,
    :math:`w_w = b v`.

    Args:
        layer: an AdEx or Izhikevich layer (``Uniform*`` too: ``feature`` picks the map).
        u: potentials.
        current: constant input :math:`I`. Default: 0.0.
        feature: feature map whose parameters are used. Default: 0.

    Returns:
        ``(w_u, w_w)``: float64 tensors like ``u``: the :math:`du/dt = 0` and the
        :math:`dw/dt = 0` nullcline.

    Example:
        >>> wu, ww = nullclines(sn.Izhikevich(), torch.tensor([-70.0]))
        >>> round(float(wu), 9), round(float(ww), 9)
        (-14.0, -14.0)
    """
    require_second_variable(layer)
    L = single_neuron(layer, feature)
    u = torch.as_tensor(u, dtype=torch.float64)
    f0 = L.ode(u, float(current), torch.zeros_like(u))
    f1 = L.ode(u, float(current), torch.ones_like(u))
    return -f0 / (f1 - f0), w_nullcline(L, u)


def _jacobian(L: sn.Neuron, u: float, w: float, I: float) -> List[List[float]]:
    hu = 1e-6 * max(1.0, abs(u))
    hw = 1e-6 * max(1.0, abs(w))
    uu = torch.tensor([u + hu, u - hu, u, u], dtype=torch.float64)
    ww = torch.tensor([w, w, w + hw, w - hw], dtype=torch.float64)
    f = L.ode(uu, I, ww).reshape(-1)
    g = L.ode_w(uu, ww).reshape(-1)
    return [[float(f[0] - f[1]) / (2 * hu), float(f[2] - f[3]) / (2 * hw)],
            [float(g[0] - g[1]) / (2 * hu), float(g[2] - g[3]) / (2 * hw)]]


def _classify(J: List[List[float]]) -> Tuple[bool, str, Tuple[complex, complex]]:
    (a, b), (c, d) = J
    tr, det = a + d, a * d - b * c
    disc = tr * tr - 4 * det
    if disc >= 0:
        s = math.sqrt(disc)
        ev = (complex((tr + s) / 2), complex((tr - s) / 2))
    else:
        s = math.sqrt(-disc)
        ev = (complex(tr / 2, s / 2), complex(tr / 2, -s / 2))
    if det < 0:
        return False, "saddle", ev
    if tr < 0:
        return True, ("stable node" if disc >= 0 else "stable focus"), ev
    if tr > 0:
        return False, ("unstable node" if disc >= 0 else "unstable focus"), ev
    return False, "center", ev


def fixed_points(layer: sn.Neuron, current: Number = 0.0, *, u_range: Optional[Tuple[float, float]] = None,
                 feature: int = 0, n_grid: int = 20001) -> List[FixedPoint]:
    r"""Fixed points of a two-dimensional model: the crossings of its nullclines.

    The difference :math:`h(u) = w_u(u) - w_w(u)` of the nullclines
    (:func:`nullclines`) is sampled on a fine grid; every sign change is refined by
    bisection to machine precision, and the fixed point is classified from the
    eigenvalues of the Jacobian of :math:`(\dot u, \dot w)` there.

    Args:
        layer: an AdEx or Izhikevich layer.
        current: constant input :math:`I`. Default: 0.0.
        u_range: search interval; default: a wide interval around rest and threshold.
            Default: None.
        feature: feature map whose parameters are used. Default: 0.
        n_grid: grid points of the search. Default: 20001.

    Returns:
        list of :class:`FixedPoint`, by increasing :math:`u` (empty when the
        nullclines do not cross, e.g. above the rheobase).

    Example:
        >>> fps = fixed_points(sn.Izhikevich())
        >>> [round(p.u, 6) for p in fps], [p.kind for p in fps]
        ([-70.0, -50.0], ['stable node', 'saddle'])
    """
    require_second_variable(layer)
    L = single_neuron(layer, feature)
    I = float(current)
    if u_range is None:
        lo, hi = potential_range(L)
        lo -= hi - lo
    else:
        lo, hi = (float(v) for v in u_range)

    def h(x: Tensor) -> Tensor:
        wu, ww = nullclines(L, x, I)
        return wu - ww

    u = torch.linspace(lo, hi, int(n_grid), dtype=torch.float64)
    hv = h(u)
    out: List[FixedPoint] = []
    for i in range(u.numel() - 1):
        a, b = float(hv[i]), float(hv[i + 1])
        if not (math.isfinite(a) and math.isfinite(b)):
            continue
        if a == 0.0:
            root = float(u[i])
        elif a * b < 0:
            x0, x1, fa = float(u[i]), float(u[i + 1]), a
            for _ in range(200):
                xm = 0.5 * (x0 + x1)
                if xm in (x0, x1):
                    break
                fm = float(h(torch.tensor([xm], dtype=torch.float64)))
                if fm == 0.0:
                    x0 = x1 = xm
                    break
                if (fm < 0) == (fa < 0):
                    x0, fa = xm, fm
                else:
                    x1 = xm
            root = 0.5 * (x0 + x1)
        else:
            continue
        w_star = float(w_nullcline(L, torch.tensor([root], dtype=torch.float64)))
        stable, kind, ev = _classify(_jacobian(L, root, w_star, I))
        out.append(FixedPoint(root, w_star, stable, kind, ev))
    return out


def _pool_spec(p: Union[int, Tuple[int, int], None]) -> Tuple[int, int]:
    if p is None:
        return 1, 1
    if isinstance(p, int):
        return p, p
    k, s = p
    return int(k), int(s)


def deep_receptive_field(kernel_sizes: Sequence[int], pooling: Optional[Sequence[Union[int, Tuple[int, int], None]]] = None) -> int:
    r"""Side of the input patch a neuron of the last convolution sees.

    For square kernels :math:`k_l` of stride-1 convolutions separated by poolings
    of window :math:`p_l` and stride :math:`s_l`, going back from the last layer:

    .. math::
        n \leftarrow k_L, \qquad n \leftarrow (n - 1)\, s_l + p_l, \quad n \leftarrow n + k_l - 1
        \quad (l = L-1, \dots, 1)

    Args:
        kernel_sizes: kernel side of each convolution, first layer first.
        pooling: pooling after each convolution but the last: an int (window =
            stride), a ``(window, stride)`` pair or None. Default: None (no pooling).

    Returns:
        int: the receptive-field side in input pixels.

    Example:
        >>> deep_receptive_field([5, 2], [(2, 2)])
        8
    """
    ks = [int(k) for k in kernel_sizes]
    pools = list(pooling) if pooling is not None else [None] * (len(ks) - 1)
    if len(pools) != len(ks) - 1:
        raise ValueError(f"pooling needs {len(ks) - 1} entries (between the convolutions), got {len(pools)}")
    layers: List[Tuple[int, int, int, int]] = []
    for l, k in enumerate(ks):  # stride-1 convolutions, each but the last followed by its pooling
        layers.append((k, k, 1, 1))
        if l < len(ks) - 1:
            pk, ps = _pool_spec(pools[l])
            layers.append((pk, pk, ps, ps))
    return receptive_field(layers)[0]


def receptive_field(layers: Sequence[Tuple[int, int, int, int]]) -> Tuple[int, int]:
    r"""Height and width of the input patch one neuron of the last layer sees.

    Each layer (convolution or pooling) is ``(height, width, row_stride,
    column_stride)`` of its window, first layer first. Going back from the last
    layer, a patch of :math:`n` units of a layer's output covers

    .. math::
        n \leftarrow k + (n - 1)\, s, \qquad n = 1 \text{ at the last layer}

    units of its input (per axis). This is SpykeTorch's
    ``visualization.get_deep_receptive_field`` (see :mod:`spyketorch.visualization`).

    Args:
        layers: ``(height, width, row_stride, column_stride)`` per layer, each an int >= 1.

    Returns:
        ``(height, width)`` in input pixels (``(1, 1)`` for no layer).

    Example:
        >>> receptive_field([(5, 5, 1, 1), (2, 2, 2, 2), (2, 2, 1, 1)])   # conv 5, pool 2/2, conv 2
        (8, 8)
    """
    h, w = 1, 1
    for i, layer in enumerate(layers):
        if isinstance(layer, (str, bytes)) or not isinstance(layer, Sequence) or len(layer) != 4:
            raise ValueError(f"layers[{i}] must be (height, width, row_stride, column_stride), got {layer!r}")
        for v in layer:
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"layers[{i}] must hold ints >= 1, got {tuple(layer)}")
    for kh, kw, sh, sw in reversed([tuple(int(v) for v in layer) for layer in layers]):
        h = kh + (h - 1) * sh
        w = kw + (w - 1) * sw
    return h, w


def deep_feature(
    pre_feature: Tensor,
    feature_stride: Tuple[int, int],
    window_size: Tuple[int, int],
    stride: Tuple[int, int],
    weights: Optional[Tensor] = None,
) -> Tuple[Tensor, Tuple[int, int]]:
    r"""One step of SpykeTorch's deep-feature picture: what a layer's features look like in input space.

    ``pre_feature`` ``[C, h, w]`` holds the picture of each of the ``C`` maps
    below, ``feature_stride`` how far apart (in input pixels) neighbouring units of
    those maps are. A layer with a ``window_size`` window and ``stride`` makes
    pictures of side :math:`h + (k - 1)\,s_{cum}` and cumulative stride
    :math:`s_{cum}\, s`:

    * a pooling layer (``weights=None``) puts each map's picture in the middle of
      the larger field (zeros around it);
    * a convolution with ``weights`` ``[F, C, kh, kw]`` adds, for every kernel
      offset :math:`(r, c)`, the strongest weighted picture among the maps
      below, shifted by :math:`(r, c)\, s_{cum}`, and keeps the positive part:

    .. math::
        P_f = \Big[\sum_{r, c} \operatorname{shift}_{(r s_{cum}, c s_{cum})}
              \max_{c'} W_{f, c', r, c}\, P_{c'}\Big]_+

    This is the rule of SpykeTorch's ``visualization.get_deep_feature``
    (:mod:`spyketorch.visualization` keeps that name); the linear picture
    (sums, transposed convolutions) is :func:`reconstruct_features`. The loop runs
    over the kernel offsets; each offset is one vectorised step over the
    features, maps and pixels.

    Args:
        pre_feature: ``[C, h, w]`` pictures of the maps below (e.g. the stacked
            input filter kernels, or ``[[[1.]]]`` for raw pixels).
        feature_stride: cumulative stride ``(rows, columns)`` of the maps below.
        window_size: the layer's window ``(kh, kw)``.
        stride: the layer's stride ``(rows, columns)``.
        weights: the convolution's weights ``[F, C, kh, kw]``; ``None`` for a
            pooling layer. Default: ``None``.

    Returns:
        ``(pictures, cumulative_stride)``: ``[F, h', w']`` (``[C, h', w']`` for a
        pooling layer) on ``pre_feature``'s device, and the new cumulative stride.

    Example:
        >>> pics, cs = deep_feature(torch.ones(2, 3, 3), (1, 1), (2, 2), (2, 2))   # a 2x2/2 pooling
        >>> pics.shape, cs
        (torch.Size([2, 4, 4]), (2, 2))
        >>> w = torch.tensor([[[[1.0, 0.5]], [[0.25, 2.0]]]])   # one feature, 2 maps, a 1x2 kernel
        >>> deep_feature(torch.ones(2, 1, 1), (1, 1), (1, 2), (1, 1), w)[0]
        tensor([[[1., 2.]]])
    """
    if not isinstance(pre_feature, Tensor) or pre_feature.dim() != 3 or pre_feature.dtype.is_complex:
        raise ValueError(f"pre_feature must be a real [C, h, w] tensor, got {getattr(pre_feature, 'shape', pre_feature)!r}")
    fs = _positive_pair(feature_stride, "feature_stride")
    ws = _positive_pair(window_size, "window_size")
    st = _positive_pair(stride, "stride")
    pre = pre_feature if pre_feature.is_floating_point() else pre_feature.float()
    c, h, w = pre.shape
    new_stride = (fs[0] * st[0], fs[1] * st[1])
    size = (h + (ws[0] - 1) * fs[0], w + (ws[1] - 1) * fs[1])
    depth = c if weights is None or not isinstance(weights, Tensor) else weights.shape[0]
    if depth * size[0] * size[1] * pre.element_size() > 2 ** 42:
        raise ValueError(f"window_size={ws} and feature_stride={fs} make pictures of {size[0]} x {size[1]} "
                         "pixels per feature, more than memory holds")
    if weights is None:
        out = pre.new_zeros(c, *size)
        r0, c0 = size[0] // 2 - h // 2, size[1] // 2 - w // 2
        out[:, r0:r0 + h, c0:c0 + w] = pre
        return out, new_stride
    if not isinstance(weights, Tensor) or weights.dim() != 4 or weights.dtype.is_complex:
        raise ValueError(f"weights must be a real [F, C, kh, kw] tensor, got {getattr(weights, 'shape', weights)!r}")
    if weights.shape[1] != c or tuple(weights.shape[2:]) != ws:
        raise ValueError(
            f"weights {tuple(weights.shape)} must be [F, {c}, {ws[0]}, {ws[1]}] for {c} maps below and window {ws}"
        )
    wt = weights.detach().to(device=pre.device, dtype=pre.dtype)
    out = pre.new_zeros(wt.shape[0], *size)
    if c == 0 or h * w == 0:  # no map below, or empty pictures: nothing to add
        return out, new_stride
    for r in range(ws[0]):
        for col in range(ws[1]):
            best = (pre.unsqueeze(0) * wt[:, :, r, col, None, None]).amax(dim=1)  # [F, h, w]
            out[:, r * fs[0]:r * fs[0] + h, col * fs[1]:col * fs[1] + w] += best
    return out.clamp_(min=0), new_stride


def _positive_pair(v: Any, name: str) -> Tuple[int, int]:
    if isinstance(v, int) and not isinstance(v, bool):
        v = (v, v)
    if isinstance(v, (str, bytes)) or not isinstance(v, Sequence) or len(v) != 2 or any(
            isinstance(i, bool) or not isinstance(i, int) or i < 1 for i in v):
        raise ValueError(f"{name} must be an int >= 1 or a pair of them, got {v!r}")
    return int(v[0]), int(v[1])


def as_weights(weights: Any) -> Tensor:
    """Convolution weights as a float64 CPU tensor ``[F, C, kh, kw]``, from a tensor or a layer
    with ``.weight`` (``[F, kh, kw]`` and ``[kh, kw]`` gain the missing dimensions).

    Raises:
        TypeError: neither a tensor nor a layer with ``.weight``.
        ValueError: a tensor of another rank.

    Example:
        >>> as_weights(torch.ones(3, 5, 5)).shape
        torch.Size([3, 1, 5, 5])
    """
    w = getattr(weights, "weight", weights)
    if not isinstance(w, Tensor):
        raise TypeError(f"expected a weight tensor or a layer with .weight, got {type(weights).__name__}")
    w = w.detach().to("cpu", torch.float64)
    if w.dim() == 2:
        w = w[None, None]
    elif w.dim() == 3:
        w = w[:, None]
    elif w.dim() != 4:
        raise ValueError(f"weights must be [F, C, kh, kw], [F, kh, kw] or [kh, kw], got {tuple(w.shape)}")
    return w


def reconstruct_features(
    weights: Sequence[Any],
    pooling: Optional[Sequence[Union[int, Tuple[int, int], None]]] = None,
    input_kernels: Any = None,
    normalize_input_kernels: bool = False,
) -> Tensor:
    r"""Project the kernels of the last convolution back to the input, through the earlier layers.

    A kernel :math:`K_L` of the last layer weights the feature maps of layer
    :math:`L-1`; each of those units stands for a pooling window of its map, and
    each map unit for its kernel :math:`K_{L-1}` on the maps below. The
    reconstruction undoes both with transposed convolutions, layer by layer:

    .. math::
        R_{l-1} = \big(\operatorname{unpool}_{p_{l-1}, s_{l-1}}(R_l)\big) \star^{\top} K_{l-1},
        \qquad R_L = K_L

    and finally through ``input_kernels`` (e.g. the DoG filters of
    :class:`spyketorch.utils.Filter`) into pixels. This is the linear picture of
    what a deep feature responds to (SpykeTorch's deep-feature visualisation).

    Args:
        weights: the convolution weights ``[F_l, F_{l-1}, k, k]`` (or layers with
            ``weight``), first layer first.
        pooling: pooling after each convolution but the last (see
            :func:`deep_receptive_field`). Default: None.
        input_kernels: ``[C_0, 1, k, k]`` filter kernels of the input coding (or an
            object with ``kernels``), to reconstruct in pixels. Default: None.
        normalize_input_kernels: scale each input kernel to a largest magnitude of 1
            first (the on/off DoG kernels of :class:`~spyketorch.utils.DoGKernel` are
            scaled to a maximum of 1, which makes the off-centre one about 8 times
            stronger; its filter output is thresholded, so the scale carries no
            meaning for the picture). Default: False.

    Returns:
        Tensor ``[F_L, C_0, n, n]`` (``[F_L, 1, n', n']`` with ``input_kernels``), float64,
        ``n`` the :func:`deep_receptive_field`.

    Example:
        >>> r = reconstruct_features([torch.rand(4, 2, 5, 5), torch.rand(6, 4, 2, 2)], [(2, 2)])
        >>> r.shape
        torch.Size([6, 2, 8, 8])
    """
    ws = [as_weights(w) for w in weights]
    if not ws:
        raise ValueError("weights must not be empty")
    pools = list(pooling) if pooling is not None else [None] * (len(ws) - 1)
    if len(pools) != len(ws) - 1:
        raise ValueError(f"pooling needs {len(ws) - 1} entries (between the convolutions), got {len(pools)}")
    for l in range(1, len(ws)):
        if ws[l].shape[1] != ws[l - 1].shape[0]:
            raise ValueError(f"layer {l} expects {ws[l].shape[1]} input maps, layer {l - 1} has {ws[l - 1].shape[0]}")
    feat = ws[-1]
    for l in range(len(ws) - 2, -1, -1):
        pk, ps = _pool_spec(pools[l])
        C = feat.shape[1]
        if pk > 1 or ps > 1:
            feat = F.conv_transpose2d(feat, torch.ones(C, 1, pk, pk, dtype=feat.dtype), stride=ps, groups=C)
        feat = F.conv_transpose2d(feat, ws[l])
    if input_kernels is not None:
        k = getattr(input_kernels, "kernels", input_kernels)
        k = torch.as_tensor(k).detach().to("cpu", torch.float64)
        if k.dim() == 3:
            k = k[:, None]
        if normalize_input_kernels:
            k = k / k.abs().amax(dim=(1, 2, 3), keepdim=True).clamp(min=1e-300)
        if k.shape[0] != feat.shape[1]:
            raise ValueError(f"input_kernels has {k.shape[0]} kernels, the first layer {feat.shape[1]} input channels")
        feat = F.conv_transpose2d(feat, k)
    return feat

