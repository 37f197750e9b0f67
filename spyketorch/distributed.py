"""Data-parallel helpers on :mod:`torch.distributed` that do nothing without a process group.

Every function here behaves as on a single process (rank 0 of a world of size 1)
unless :func:`torch.distributed.init_process_group` has been called, e.g. by a
script started with ``torchrun``. With a process group:

* :func:`all_reduce_sum_` sums a tensor over all ranks, in place. The STDP
  rules (:class:`~spyketorch.snn.STDP`, :class:`~spyketorch.snn.RSTDP`) call it
  on their summed per-batch update, so that a global mini-batch split over
  ranks updates every rank's weights by the sum of all its samples' updates.
* :func:`shard` gives a rank its contiguous block of an in-memory dataset
  (block sizes differ by at most one; nothing dropped, nothing repeated,
  unlike :class:`torch.utils.data.DistributedSampler` which pads by repeating
  samples), and :func:`all_gather_cat` puts the blocks back together in order.
* :func:`process_group_from_env` starts (and ends) the default group in a script
  launched by ``torchrun``: NCCL for a CUDA device, gloo otherwise.

Example:
    Without a process group every helper is a no-op for one process:

    >>> from spyketorch import distributed as sd
    >>> sd.rank(), sd.world_size(), sd.shard(5).tolist()
    (0, 1, [0, 1, 2, 3, 4])
"""
from __future__ import annotations

import contextlib
import os
from typing import Iterator, List, Optional, Union

import torch
import torch.distributed as dist

__all__ = ["is_distributed", "rank", "world_size", "is_main_process", "all_reduce_sum_", "shard", "all_gather_cat",
           "process_group_from_env"]


def is_distributed() -> bool:
    """Whether a :mod:`torch.distributed` process group is initialised.

    Example:
        >>> is_distributed()   # plain python, no torchrun
        False
    """
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's rank in the default group, ``0`` without one.

    Example:
        >>> rank()
        0
    """
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """Number of processes in the default group, ``1`` without one.

    Example:
        >>> world_size()
        1
    """
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    """Whether this process is rank 0 (the one that writes files, prints and shows progress bars).

    Example:
        >>> is_main_process()
        True
    """
    return rank() == 0


def all_reduce_sum_(tensor: torch.Tensor) -> torch.Tensor:
    r"""Sum ``tensor`` over all ranks, in place, and return it.

    .. math::
        x \leftarrow \sum_{r=0}^{R-1} x^{(r)}

    Without a process group (or with a world of size 1) the tensor is returned
    untouched. Every rank must call it the same number of times with tensors
    of the same shape and dtype (a collective operation).

    Args:
        tensor: the tensor to reduce (on a device the backend supports: CPU for
            gloo, CUDA for NCCL).

    Shape:
        any; unchanged.

    Example:
        >>> x = torch.tensor([1.0, 2.0])
        >>> all_reduce_sum_(x) is x, x
        (True, tensor([1., 2.]))
    """
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"tensor must be a torch.Tensor, got {type(tensor).__name__}")
    if is_distributed() and world_size() > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def _check_count(v: object, name: str, minimum: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{name} must be an int, got {type(v).__name__}")
    if v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    return v


def shard_bounds(n: int, rank_: Optional[int] = None, world_size_: Optional[int] = None) -> tuple:
    r"""``(start, stop)`` of the contiguous block of ``n`` items that belongs to a rank.

    The first :math:`n \bmod R` ranks get :math:`\lceil n/R \rceil` items, the
    others :math:`\lfloor n/R \rfloor`:

    .. math::
        \text{start}_r = r \lfloor n/R \rfloor + \min(r, n \bmod R)

    Args:
        n: number of items (``>= 0``).
        rank_: the rank. Default: ``None`` (this process's :func:`rank`).
        world_size_: the number of ranks. Default: ``None`` (:func:`world_size`).

    Example:
        >>> [shard_bounds(10, r, 3) for r in range(3)]
        [(0, 4), (4, 7), (7, 10)]
    """
    n = _check_count(n, "n", 0)
    w = _check_count(world_size() if world_size_ is None else world_size_, "world_size_", 1)
    r = _check_count(rank() if rank_ is None else rank_, "rank_", 0)
    if r >= w:
        raise ValueError(f"rank_ must be < world_size_ ({w}), got {r}")
    q, extra = divmod(n, w)
    start = r * q + min(r, extra)
    return start, start + q + (1 if r < extra else 0)


def shard(n: int, rank_: Optional[int] = None, world_size_: Optional[int] = None) -> torch.Tensor:
    """Indices (``long``) of the items of an in-memory dataset of ``n`` items that belong to a rank.

    Contiguous, balanced blocks (see :func:`shard_bounds`): concatenating the
    blocks of ranks ``0 .. R-1`` gives ``0 .. n-1`` in order, every item exactly
    once, so :func:`all_gather_cat` of per-block results equals the result on
    the whole dataset. With ``n < R`` some ranks get an empty block.

    Args:
        n: number of items (``>= 0``).
        rank_: the rank. Default: ``None`` (this process's :func:`rank`).
        world_size_: the number of ranks. Default: ``None`` (:func:`world_size`).

    Shape:
        output ``[stop - start]``.

    Example:
        >>> shard(5, 0, 2), shard(5, 1, 2)
        (tensor([0, 1, 2]), tensor([3, 4]))
        >>> shard(5)   # without a process group: everything
        tensor([0, 1, 2, 3, 4])
    """
    start, stop = shard_bounds(n, rank_, world_size_)
    return torch.arange(start, stop)


def all_gather_cat(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate along dim 0, in rank order, every rank's ``tensor`` (first dims may differ).

    Other dimensions and the dtype must agree on all ranks. Without a process
    group the tensor is returned as is. Each rank's block is padded to the
    largest one for the collective and trimmed afterwards.

    Args:
        tensor: this rank's block, ``[n_r, *]``.

    Shape:
        output ``[sum_r n_r, *]``, the same on every rank.

    Example:
        >>> all_gather_cat(torch.arange(3))
        tensor([0, 1, 2])
    """
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"tensor must be a torch.Tensor, got {type(tensor).__name__}")
    if tensor.dim() == 0:
        raise ValueError("tensor must have at least one dimension")
    if not is_distributed() or world_size() == 1:
        return tensor
    w = world_size()
    tensor = tensor.contiguous()
    n = torch.tensor([tensor.shape[0]], dtype=torch.long, device=tensor.device)
    sizes: List[torch.Tensor] = [torch.zeros_like(n) for _ in range(w)]
    dist.all_gather(sizes, n)
    counts = [int(s) for s in sizes]  # one host sync per gather, not per step
    m = max(counts)
    padded = tensor.new_zeros((m, *tensor.shape[1:]))
    padded[: tensor.shape[0]] = tensor
    blocks = [torch.empty_like(padded) for _ in range(w)]
    dist.all_gather(blocks, padded)
    return torch.cat([b[:c] for b, c in zip(blocks, counts)])


@contextlib.contextmanager
def process_group_from_env(device: Union[str, torch.device] = "cpu") -> Iterator[torch.device]:
    """Run a block inside the default process group when launched by ``torchrun``; yield this rank's device.

    ``torchrun`` (or SLURM + ``torchrun``) sets ``WORLD_SIZE``, ``RANK``,
    ``LOCAL_RANK`` and the rendezvous variables. If ``WORLD_SIZE`` is set and no
    group exists yet, the default group is initialised on entry (backend NCCL
    for a CUDA ``device``, gloo otherwise) and destroyed on exit. A bare
    ``"cuda"`` becomes ``cuda:LOCAL_RANK`` (one GPU per process) and is made the
    current CUDA device. Without ``WORLD_SIZE`` nothing is started and the
    device is returned as given.

    Args:
        device: the device asked for (``"cpu"``, ``"cuda"``, ``"cuda:1"``...). Default: ``"cpu"``.

    Example:
        >>> with process_group_from_env("cpu") as dev:   # plain python: no group
        ...     dev, is_distributed()
        (device(type='cpu'), False)
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"device must name a torch device, got {device!r}") from e
    launched = "WORLD_SIZE" in os.environ
    if dev.type == "cuda" and dev.index is None and launched:
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    if dev.type == "cuda" and dev.index is not None:
        torch.cuda.set_device(dev)
    started = launched and dist.is_available() and not is_distributed()
    if started:
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    try:
        yield dev
    finally:
        if started and is_distributed():
            dist.destroy_process_group()
