r"""SpykeTorch's ``visualization`` module: show tensors and picture deep features.

Code ported from SpykeTorch (``from SpykeTorch import visualization as vis``) works
with ``from spyketorch import visualization as vis``:

* :func:`show_tensor` and :func:`plot_tensor_in_image` draw a 2-D tensor in grey;
* :func:`get_deep_receptive_field` is :func:`spyketorch.analysis.receptive_field`;
* :func:`get_deep_feature` is :func:`spyketorch.analysis.deep_feature` (SpykeTorch's
  max-over-maps picture; :func:`spyketorch.analysis.reconstruct_features` and
  :func:`spyketorch.analysis.plotting.plot_deep_features` give the linear one).

matplotlib is imported only when a drawing function is called, so the module imports
without it.
"""
from __future__ import annotations

import os
from typing import Any, Optional, Tuple, Union

import torch
from torch import Tensor

from . import _validation as V
from .analysis.dynamics import deep_feature, receptive_field

__all__ = ["show_tensor", "plot_tensor_in_image", "get_deep_receptive_field", "get_deep_feature"]


def _image(aTensor: Any) -> Any:
    """A 2-D real tensor as a numpy array on the CPU."""
    V.real_tensor(aTensor, "aTensor")
    if aTensor.dim() != 2:
        raise ValueError(f"aTensor must be a 2-D tensor [H, W], got shape {tuple(aTensor.shape)}")
    x = aTensor.detach().cpu()
    return (x.float() if not x.is_floating_point() or x.dtype == torch.bfloat16 else x).numpy()


def _limit(v: Optional[float], name: str) -> Optional[float]:
    return None if v is None else V.finite_real(v, name)


def show_tensor(aTensor: Tensor, _vmin: Optional[float] = None, _vmax: Optional[float] = None) -> Tuple[Any, Any]:
    r"""Draw a 2-D tensor in grey with a colour bar, in a new figure, and show it.

    Args:
        aTensor: ``[H, W]`` real tensor (any device).
        _vmin: value drawn black; ``None`` scales to the data. Default: ``None``.
        _vmax: value drawn white; ``None`` scales to the data. Default: ``None``.

    Returns:
        ``(figure, axes)`` (SpykeTorch returns nothing; the image is ``axes.images[0]``).

    Example:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> fig, ax = show_tensor(torch.eye(3), 0, 1)
        >>> ax.images[0].get_array().shape, ax.images[0].get_clim()
        ((3, 3), (0.0, 1.0))
    """
    img = _image(aTensor)
    vmin, vmax = _limit(_vmin, "_vmin"), _limit(_vmax, "_vmax")
    import matplotlib.pyplot as plt

    fig = plt.figure()
    ax = fig.add_subplot()
    im = ax.imshow(img, cmap="gray", vmin=vmin, vmax=vmax)
    fig.colorbar(im, ax=ax)
    plt.show()
    return fig, ax


def plot_tensor_in_image(fname: Union[str, os.PathLike], aTensor: Tensor, _vmin: Optional[float] = None,
                         _vmax: Optional[float] = None) -> None:
    r"""Save a 2-D tensor as a grey image file (one pixel per value; the format follows ``fname``).

    Args:
        fname: file name, e.g. ``"feature.png"``.
        aTensor: ``[H, W]`` real tensor (any device).
        _vmin: value saved black; ``None`` scales to the data. Default: ``None``.
        _vmax: value saved white; ``None`` scales to the data. Default: ``None``.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "eye.png")
        >>> plot_tensor_in_image(path, torch.eye(4))
        >>> os.path.getsize(path) > 0
        True
    """
    img = _image(aTensor)
    vmin, vmax = _limit(_vmin, "_vmin"), _limit(_vmax, "_vmax")
    import matplotlib.pyplot as plt

    plt.imsave(os.fspath(fname), img, cmap="gray", vmin=vmin, vmax=vmax)


def get_deep_receptive_field(*layers_details: Tuple[int, int, int, int]) -> Tuple[int, int]:
    r"""Height and width of the input patch a neuron of the last layer sees.

    Each argument is one layer, first layer first: ``(height, width, row_stride,
    column_stride)`` of its window. See :func:`spyketorch.analysis.receptive_field`.

    .. math::
        n \leftarrow k + (n - 1)\, s, \qquad n = 1 \text{ at the last layer}

    Example:
        >>> get_deep_receptive_field((5, 5, 1, 1), (2, 2, 2, 2), (2, 2, 1, 1))
        (8, 8)
    """
    return receptive_field(layers_details)


def get_deep_feature(pre_feature: Tensor, feature_stride: Tuple[int, int], window_size: Tuple[int, int],
                     stride: Tuple[int, int], weights: Optional[Tensor] = None) -> Tuple[Tensor, Tuple[int, int]]:
    r"""The features of a layer pictured in input space, from the pictures of the maps below.

    See :func:`spyketorch.analysis.deep_feature` (the rule, as SpykeTorch computes it):

    .. math::
        P_f = \Big[\sum_{r, c} \operatorname{shift}_{(r s_{cum}, c s_{cum})}
              \max_{c'} W_{f, c', r, c}\, P_{c'}\Big]_+

    for a convolution, a centred copy in a larger field for a pooling layer
    (``weights=None``).

    Args:
        pre_feature: ``[C, h, w]`` pictures of the maps below.
        feature_stride: cumulative stride of the maps below.
        window_size: the layer's window ``(kh, kw)``.
        stride: the layer's stride.
        weights: ``[F, C, kh, kw]`` convolution weights, ``None`` for pooling. Default: ``None``.

    Returns:
        ``(pictures, cumulative_stride)``.

    Example:
        >>> kernels = torch.stack([torch.eye(3), torch.eye(3).flip(1)])   # two 3x3 input filters
        >>> feature, cstride = get_deep_feature(kernels, (1, 1), (2, 2), (2, 2))   # a 2x2/2 pooling
        >>> feature, cstride = get_deep_feature(feature, cstride, (3, 3), (1, 1), torch.rand(5, 2, 3, 3))
        >>> feature.shape, cstride
        (torch.Size([5, 8, 8]), (2, 2))
    """
    return deep_feature(pre_feature, feature_stride, window_size, stride, weights)
