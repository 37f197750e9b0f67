"""Native (C) latency-domain kernels of SpykeTorch-style layers on the CPU (private module).

``_latency_native.c`` holds three kernels over first-spike steps (``uint8``, ``>= T`` =
never fired), built with the system C compiler on first use, cached, and loaded with
:mod:`ctypes` (no Python or torch headers):

* :func:`forward`: the first-spike step of every neuron of a convolution with a threshold,
  event-driven (every input adds its weights once, at its step), in parallel over images;
* :func:`stdp`: sequential STDP of such a layer (forward, pointwise inhibition, k winners
  with an exclusion radius, the update), image after image;
* :func:`decision`: the decision layer of :class:`spyketorch.learning.decision.DecisionLayer`:
  decide a batch (threads over images), or decide and learn with R-STDP image after image
  (threads over features, up to 4, meeting once per image; on a machine busy with other
  work one thread, ``torch.set_num_threads(1)``, is faster).

Every kernel uses ``torch.get_num_threads()`` threads; the results do not depend on it.

Each has an eager torch counterpart that stays the reference (the spike-wave ops, the
``*_times`` ops, :meth:`DecisionLayer._train_step_torch`); the tests check them against it.
The compiler is ``$CC`` (default ``cc``), the cache directory ``$SPYKETORCH_CACHE``
(default ``~/.cache/spyketorch``); ``SPYKETORCH_NATIVE=0`` turns the kernels off (the
callers then run their eager paths).
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Optional

import torch
from torch import Tensor

SOURCE = Path(__file__).with_name("_latency_native.c")
FLAG_SETS = (
    ("-O3", "-march=native", "-fno-trapping-math", "-ffp-contract=off", "-fopenmp"),
    ("-O3", "-march=native", "-fno-trapping-math", "-ffp-contract=off"),
    ("-O3", "-fno-trapping-math", "-ffp-contract=off"),
)
_p, _i, _d, _f = ctypes.c_void_p, ctypes.c_int64, ctypes.c_double, ctypes.c_float


def _cache_dir() -> Path:
    return Path(os.environ.get("SPYKETORCH_CACHE") or Path.home() / ".cache" / "spyketorch")


def _build(cc: str, so: Path) -> None:
    """Compile into ``so`` with the first flag set that works (atomically: concurrent builders
    each write their own file)."""
    if shutil.which(cc) is None:
        raise RuntimeError(f"the latency kernels need a C compiler: {cc!r} was not found (set $CC)")
    so.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for flags in FLAG_SETS:
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=so.parent)
        os.close(fd)
        try:
            res = subprocess.run([cc, *flags, "-fPIC", "-shared", "-o", tmp, str(SOURCE), "-lm", "-pthread"],
                                 capture_output=True, text=True)
            if res.returncode == 0:
                os.replace(tmp, so)
                return
            errors.append(f"{' '.join(flags)}: {res.stderr.strip()}")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    raise RuntimeError(f"building the latency kernels with {cc!r} failed:\n" + "\n".join(errors))


@functools.lru_cache(maxsize=None)
def _library() -> Any:
    cc = os.environ.get("CC", "cc")
    src = SOURCE.read_bytes()
    tag = hashlib.sha256(src + repr((cc, FLAG_SETS)).encode() + platform.platform().encode()
                         + platform.processor().encode()).hexdigest()[:16]
    so = _cache_dir() / f"latency_native_{tag}.so"
    if not so.exists():
        _build(cc, so)
    lib = ctypes.CDLL(str(so))
    lib.lt_abi_version.restype = _i
    if lib.lt_abi_version() != 2:
        raise RuntimeError(f"{so} is not the kernel library this package expects; delete it to rebuild")
    lib.lt_forward.argtypes = [_p, _i, _i, _i, _i, _p, _i, _i, _d, _i, _p, _p, _i]
    lib.lt_stdp.argtypes = [_p, _i, _i, _i, _p, _i, _p, _i, _i, _d, _i, _i, _i, _p, _i, _f, _f, _p]
    lib.lt_decision.argtypes = [_p, _i, _i, _i, _i, _i, _i, _p, _i, _p, _p, _p, _i, _p, _f, _f, _i, _p, _p, _i, _p]
    for fn in (lib.lt_forward, lib.lt_stdp, lib.lt_decision):
        fn.restype = _i
    return lib


@functools.lru_cache(maxsize=None)
def available() -> bool:
    """Whether the kernels can run here (a working C compiler, and not turned off by
    ``SPYKETORCH_NATIVE=0``)."""
    if os.environ.get("SPYKETORCH_NATIVE", "1") == "0":
        return False
    try:
        _library()
    except (RuntimeError, OSError):
        return False
    return True


def usable(*tensors: Tensor, time_steps: int) -> bool:
    """Whether the kernels apply: CPU float32 weights (and CPU inputs), ``T <= 254`` and :func:`available`."""
    if not 1 <= time_steps <= 254:
        return False
    for t in tensors:
        if t.device.type != "cpu" or (t.is_floating_point() and t.dtype != torch.float32):
            return False
    return available()


def steps_u8(times: Tensor, time_steps: int) -> Tensor:
    """First-spike steps as contiguous ``uint8`` (the kernels read any value ``>= T`` as never;
    other dtypes are clamped to ``[0, T]`` first: a step before 0 fires from the start)."""
    if times.dtype != torch.uint8:
        times = times.clamp(0, time_steps).to(torch.uint8)
    return times.contiguous()


def _ptr(t: Optional[Tensor]) -> Optional[int]:
    return None if t is None else t.data_ptr()


def _check(status: int, what: str) -> None:
    if status != 0:
        raise MemoryError(f"the native {what} kernel could not allocate its buffers")


def forward(times: Tensor, weight: Tensor, threshold: float, time_steps: int,
            values: bool = False) -> tuple:
    """First-spike steps ``uint8 [B, F, H', W']`` (``T`` = never) of a convolution with threshold
    (fires when the potential exceeds it), and the potentials then (float32, 0 where never) when
    ``values``; ``times`` ``[B, C, H, W]``, ``weight`` ``[F, C, k, k]`` float32 on the CPU."""
    x = steps_u8(times, time_steps)
    w = weight.detach().contiguous()
    b, c, h, wd = x.shape
    f, k = w.shape[0], w.shape[-1]
    out = torch.empty(b, f, h - k + 1, wd - k + 1, dtype=torch.uint8)
    val = torch.empty(out.shape, dtype=torch.float32) if values else None
    _check(_library().lt_forward(x.data_ptr(), b, c, h, wd, w.data_ptr(), f, k, float(threshold), time_steps,
                                 out.data_ptr(), _ptr(val), torch.get_num_threads()), "forward")
    return out, val


def stdp(times: Tensor, order: Tensor, weight: Tensor, rates: Tensor, threshold: float, time_steps: int,
         n_winners: int, radius: int, stabilizer: bool, lower: float, upper: float,
         record: bool = False) -> Optional[Tensor]:
    """Sequential STDP, in place on ``weight`` (contiguous float32 CPU), over ``times[order]``;
    returns the winners ``[n, n_winners, 3]`` (``-1`` rows) when ``record``."""
    x = steps_u8(times, time_steps)
    if not weight.is_contiguous():
        raise ValueError("weight must be contiguous for the native STDP kernel")
    order = order.to(torch.int64).contiguous()
    r = rates.detach().to(torch.float32).contiguous()
    _, c, h, wd = x.shape
    f, k = weight.shape[0], weight.shape[-1]
    wins = torch.empty(order.numel(), n_winners, 3, dtype=torch.int64) if record else None
    _check(_library().lt_stdp(x.data_ptr(), c, h, wd, order.data_ptr(), order.numel(), weight.data_ptr(), f, k,
                              float(threshold), time_steps, n_winners, radius, r.data_ptr(), int(stabilizer),
                              float(lower), float(upper), _ptr(wins)), "STDP")
    return wins


def decision(times: Tensor, order: Tensor, weight: Tensor, time_steps: int, first: bool, *,
             targets: Optional[Tensor] = None, decision_map: Optional[Tensor] = None,
             rates: Optional[Tensor] = None, lower: float = 0.0, upper: float = 0.0,
             record: bool = True, dropped: Optional[Tensor] = None) -> tuple:
    """The decision layer over ``times[order]``: decide (``targets is None``) or learn (in place on
    ``weight``; ``dropped``, a bool ``[F]`` mask, marks features that cannot win). Returns
    ``(winners, stats)``: flat ``f * H'W' + p`` per image (``-1`` silent) and the correct / wrong /
    silent counts (zeros when only deciding)."""
    x = steps_u8(times, time_steps)
    order = order.to(torch.int64).contiguous()
    _, c, h, wd = x.shape
    f, k = weight.shape[0], weight.shape[-1]
    learn = targets is not None
    if learn and not weight.is_contiguous():
        raise ValueError("weight must be contiguous for the native decision kernel")
    w = weight if learn else weight.detach().contiguous()
    stats = torch.zeros(3, dtype=torch.int64)
    wins = torch.empty(order.numel(), dtype=torch.int64) if (record or not learn) else None
    tg = targets.to(torch.int64).contiguous() if learn else None
    dm = decision_map.to(torch.int64).contiguous() if learn else None
    rt = rates.detach().to(torch.float32).reshape(-1).contiguous() if learn else None
    drop = dropped.to(device="cpu", dtype=torch.uint8).contiguous() if dropped is not None else None
    _check(_library().lt_decision(x.data_ptr(), c, h, wd, k, time_steps, int(first), order.data_ptr(), order.numel(),
                                  _ptr(tg), _ptr(dm), w.data_ptr(), f, _ptr(rt), float(lower), float(upper),
                                  int(learn), stats.data_ptr(), _ptr(wins), torch.get_num_threads(), _ptr(drop)),
           "decision")
    return wins, stats
