"""spyketorch.visualization: SpykeTorch's drawing and deep-feature functions, under their names.

The deep-feature rule is checked against loops written from SpykeTorch's description; the
receptive field against the shape of what the convolutions really see; the drawing functions
headless (Agg), with matplotlib imported only when one is called.
"""
from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import itertools  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import spyketorch.visualization as vis  # noqa: E402
from spyketorch.analysis import deep_receptive_field  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_matplotlib_is_imported_only_when_drawing():
    code = ("import sys, spyketorch.visualization as v, torch; a = 'matplotlib' in sys.modules; "
            "v.get_deep_feature(torch.ones(1, 2, 2), (1, 1), (2, 2), (2, 2)); print(a, 'matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy())
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def test_show_tensor_and_plot_tensor_in_image(tmp_path):
    x = torch.arange(12.0).view(3, 4)
    fig, ax = vis.show_tensor(x)
    img = ax.images[0]
    assert img.get_array().shape == (3, 4) and img.get_clim() == (0.0, 11.0) and img.get_cmap().name == "gray"
    assert len(fig.axes) == 2                                   # the image and its colour bar
    _, ax = vis.show_tensor(x.int(), _vmin=2, _vmax=5)
    assert ax.images[0].get_clim() == (2.0, 5.0)
    path = tmp_path / "x.png"
    vis.plot_tensor_in_image(str(path), x, 0, 11)
    saved = plt.imread(str(path))
    assert saved.shape[:2] == (3, 4)
    assert saved[0, 0, 0] == 0.0 and saved[-1, -1, 0] == 1.0      # black to white, one pixel per value
    with pytest.raises(ValueError, match="aTensor"):
        vis.show_tensor(torch.zeros(2, 2, 2))
    with pytest.raises(TypeError, match="aTensor"):
        vis.plot_tensor_in_image(str(path), [[1.0]])
    with pytest.raises(ValueError, match="_vmin"):
        vis.show_tensor(x, float("nan"))


def _support(weights_per_layer, pools):
    """Side of the input patch that moves one neuron of the last layer, measured by autograd."""
    x = torch.zeros(1, 1, 64, 64, requires_grad=True)
    h = x
    for i, k in enumerate(weights_per_layer):
        h = F.conv2d(h, torch.ones(1, 1, k, k))
        if i < len(pools):
            h = F.avg_pool2d(h, pools[i][0], pools[i][1])  # every input of a window moves the output
    h[0, 0, h.shape[-2] // 2, h.shape[-1] // 2].backward()
    rows = x.grad[0, 0].abs().sum(1).nonzero()
    return int(rows.max() - rows.min() + 1)


@pytest.mark.parametrize("kernels, pools", [([5, 2], [(2, 2)]), ([5, 3, 3], [(2, 2), (3, 3)]), ([7], []),
                                            ([3, 3], [(3, 2)])])
def test_get_deep_receptive_field_is_what_the_neuron_sees(kernels, pools):
    layers = []
    for i, k in enumerate(kernels):
        layers.append((k, k, 1, 1))
        if i < len(pools):
            layers.append((pools[i][0], pools[i][0], pools[i][1], pools[i][1]))
    side = vis.get_deep_receptive_field(*layers)
    assert side == (_support(kernels, pools),) * 2
    assert side[0] == deep_receptive_field(kernels, pools)
    # rows and columns apart: 2 x 2 units 1 row and 2 columns apart, each 3 x 5 pixels
    assert vis.get_deep_receptive_field((3, 5, 1, 2), (2, 2, 1, 1)) == (4, 7)
    assert vis.get_deep_receptive_field() == (1, 1)


def test_get_deep_receptive_field_refuses_bad_layers():
    with pytest.raises(ValueError, match="layers"):
        vis.get_deep_receptive_field((3, 3, 1))
    with pytest.raises(ValueError, match="layers"):
        vis.get_deep_receptive_field((3, 3, 0, 1))


def _deep_feature_loops(pre, cstride, window, stride, weights=None):
    c, h, w = pre.shape
    size = (h + (window[0] - 1) * cstride[0], w + (window[1] - 1) * cstride[1])
    if weights is None:
        out = torch.zeros(c, *size, dtype=pre.dtype)
        for ci, i, j in itertools.product(range(c), range(h), range(w)):
            out[ci, size[0] // 2 - h // 2 + i, size[1] // 2 - w // 2 + j] = pre[ci, i, j]
        return out, (cstride[0] * stride[0], cstride[1] * stride[1])
    out = torch.zeros(weights.shape[0], *size, dtype=pre.dtype)
    for f, r, col, i, j in itertools.product(range(weights.shape[0]), range(window[0]), range(window[1]),
                                             range(h), range(w)):
        out[f, r * cstride[0] + i, col * cstride[1] + j] += max(
            float(pre[ci, i, j] * weights[f, ci, r, col]) for ci in range(c))
    return out.clamp(min=0), (cstride[0] * stride[0], cstride[1] * stride[1])


def test_get_deep_feature_follows_the_reference_rule():
    g = torch.Generator().manual_seed(0)
    pre = torch.randn(3, 4, 3, generator=g)                      # signed pictures, non-square
    pooled, cs = vis.get_deep_feature(pre, (1, 2), (3, 2), (2, 3))
    ref, rcs = _deep_feature_loops(pre, (1, 2), (3, 2), (2, 3))
    assert cs == rcs == (2, 6) and torch.equal(pooled, ref) and pooled.shape == (3, 6, 5)
    w = torch.randn(5, 3, 2, 3, generator=g)
    feat, cs2 = vis.get_deep_feature(pooled, cs, (2, 3), (1, 1), w)
    ref2, rcs2 = _deep_feature_loops(ref, rcs, (2, 3), (1, 1), w)
    assert cs2 == rcs2 == (2, 6) and feat.shape == (5, 8, 17)
    torch.testing.assert_close(feat, ref2)
    assert bool((feat >= 0).all()) and feat.max() > 0


def test_get_deep_feature_refuses_mismatched_weights():
    with pytest.raises(ValueError, match="weights"):
        vis.get_deep_feature(torch.ones(2, 3, 3), (1, 1), (3, 3), (1, 1), torch.ones(4, 3, 3, 3))
    with pytest.raises(ValueError, match="weights"):
        vis.get_deep_feature(torch.ones(2, 3, 3), (1, 1), (2, 2), (1, 1), torch.ones(4, 2, 3, 3))
    with pytest.raises(ValueError, match="pre_feature"):
        vis.get_deep_feature(torch.ones(3, 3), (1, 1), (2, 2), (1, 1))
    with pytest.raises(ValueError, match="stride"):
        vis.get_deep_feature(torch.ones(1, 3, 3), (1, 1), (2, 2), (0, 1))
    empty, _ = vis.get_deep_feature(torch.ones(0, 3, 3), (1, 1), (2, 2), (1, 1), torch.ones(4, 0, 2, 2))
    assert empty.shape == (4, 4, 4) and empty.sum() == 0
