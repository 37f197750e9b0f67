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
Each kernel is a torch operator (``torch.ops.spyketorch.latency_*``, with a fake
implementation). The build is portable (no ``-march=native``, no OpenMP runtime beside torch's:
loops over images run on a small thread pool) and cached under a key holding this CPU's feature
flags. The compiler is ``$CC`` (default ``cc``), the cache directory ``$SPYKETORCH_CACHE``
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
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Optional, Tuple

import torch
from torch import Tensor

SOURCE = Path(__file__).with_name("_latency_native.c")
# Portable flags: no -march=native and no -fopenmp (torch brings its own OpenMP runtime; the
# kernels' parallel loops over images run on a small Python thread pool instead, as ctypes
# releases the GIL). AVX + F16C are added only when this CPU has them, and the cache key holds
# this CPU's feature flags, so a build is never loaded by a CPU it was not built for.
FLAGS = ("-O3", "-fno-trapping-math", "-ffp-contract=off")
_p, _i, _d, _f = ctypes.c_void_p, ctypes.c_int64, ctypes.c_double, ctypes.c_float


def _cpu_flags() -> Tuple[str, ...]:
    """This CPU's feature flags (Linux ``/proc/cpuinfo``; empty elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return tuple(sorted(line.split(":", 1)[1].split()))
    except OSError:
        pass
    return ()


def _isa_flags() -> Tuple[str, ...]:
    have = set(_cpu_flags())
    return ("-mavx", "-mf16c") if platform.machine() in ("x86_64", "AMD64") and {"avx", "f16c"} <= have else ()


def _cache_dir() -> Path:
    return Path(os.environ.get("SPYKETORCH_CACHE") or Path.home() / ".cache" / "spyketorch")


def _build(cc: str, so: Path) -> None:
    """Compile into ``so`` (atomically: concurrent builders each write their own file), with the
    ISA flags when they work, else without."""
    if shutil.which(cc) is None:
        raise RuntimeError(f"the latency kernels need a C compiler: {cc!r} was not found (set $CC)")
    so.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for flags in ((*FLAGS, *_isa_flags()), FLAGS):
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
    key = repr((cc, FLAGS, _isa_flags(), platform.machine(), _cpu_flags())).encode()
    tag = hashlib.sha256(src + key).hexdigest()[:16]
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
def _pool(n: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=n, thread_name_prefix="spyketorch-latency")


def _parallel(n: int, run: Callable[[int, int], int], what: str) -> None:
    """``run(start, stop)`` over ``[0, n)`` in up to ``torch.get_num_threads()`` pieces."""
    threads = max(1, min(torch.get_num_threads(), n))
    if threads == 1:
        _check(run(0, n), what)
        return
    bounds = [n * j // threads for j in range(threads + 1)]
    for status in _pool(threads).map(lambda j: run(bounds[j], bounds[j + 1]), range(threads)):
        _check(status, what)


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


# ---------------------------------------------------------------------------- torch operators
# Each kernel is a torch operator (``torch.ops.spyketorch.*``) with a fake implementation, so
# it shows in the profiler, traces under ``torch.compile`` and refuses autograd clearly (the
# latency-domain rules learn by STDP, not by gradients).


@torch.library.custom_op("spyketorch::latency_forward", mutates_args=())
def _forward_op(times: Tensor, weight: Tensor, threshold: float, time_steps: int,
                values: bool) -> Tuple[Tensor, Tensor]:
    b, c, h, wd = times.shape
    f, k = weight.shape[0], weight.shape[-1]
    out = torch.empty(b, f, h - k + 1, wd - k + 1, dtype=torch.uint8)
    val = torch.empty(out.shape if values else (0,), dtype=torch.float32)
    if b == 0:
        return out, val
    lib, n_in, n_out = _library(), c * h * wd, out[0].numel()

    def run(i0: int, i1: int) -> int:
        return lib.lt_forward(times.data_ptr() + i0 * n_in, i1 - i0, c, h, wd, weight.data_ptr(), f, k,
                              float(threshold), time_steps, out.data_ptr() + i0 * n_out,
                              val.data_ptr() + 4 * i0 * n_out if values else None, 1)

    _parallel(b, run, "forward")
    return out, val


@_forward_op.register_fake
def _(times: Tensor, weight: Tensor, threshold: float, time_steps: int, values: bool) -> Tuple[Tensor, Tensor]:
    b, _, h, wd = times.shape
    f, k = weight.shape[0], weight.shape[-1]
    shape = (b, f, h - k + 1, wd - k + 1)
    return times.new_empty(shape, dtype=torch.uint8), times.new_empty(shape if values else (0,), dtype=torch.float32)


@torch.library.custom_op("spyketorch::latency_stdp", mutates_args=("weight",))
def _stdp_op(times: Tensor, order: Tensor, weight: Tensor, rates: Tensor, threshold: float, time_steps: int,
             n_winners: int, radius: int, stabilizer: bool, lower: float, upper: float, record: bool) -> Tensor:
    _, c, h, wd = times.shape
    f, k = weight.shape[0], weight.shape[-1]
    wins = torch.empty(order.numel() if record else 0, n_winners, 3, dtype=torch.int64)
    _check(_library().lt_stdp(times.data_ptr(), c, h, wd, order.data_ptr(), order.numel(), weight.data_ptr(), f, k,
                              float(threshold), time_steps, n_winners, radius, rates.data_ptr(), int(stabilizer),
                              float(lower), float(upper), wins.data_ptr() if record else None), "STDP")
    return wins


@_stdp_op.register_fake
def _(times: Tensor, order: Tensor, weight: Tensor, rates: Tensor, threshold: float, time_steps: int,
      n_winners: int, radius: int, stabilizer: bool, lower: float, upper: float, record: bool) -> Tensor:
    return times.new_empty((order.numel() if record else 0, n_winners, 3), dtype=torch.int64)


@torch.library.custom_op("spyketorch::latency_decision", mutates_args=("weight",))
def _decision_op(times: Tensor, order: Tensor, weight: Tensor, time_steps: int, first: bool,
                 targets: Optional[Tensor], decision_map: Optional[Tensor], rates: Optional[Tensor],
                 lower: float, upper: float, record: bool, dropped: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
    _, c, h, wd = times.shape
    f, k = weight.shape[0], weight.shape[-1]
    learn, n = targets is not None, order.numel()
    lib = _library()
    stats = torch.zeros(3, dtype=torch.int64)
    wins = torch.empty(n if (record or not learn) else 0, dtype=torch.int64)
    if learn:  # sequential over images; the kernel's own threads split the features
        _check(lib.lt_decision(times.data_ptr(), c, h, wd, k, time_steps, int(first), order.data_ptr(), n,
                               _ptr(targets), _ptr(decision_map), weight.data_ptr(), f, _ptr(rates), float(lower),
                               float(upper), 1, stats.data_ptr(), wins.data_ptr() if wins.numel() else None,
                               torch.get_num_threads(), _ptr(dropped)), "decision")
    elif n:
        def run(i0: int, i1: int) -> int:
            return lib.lt_decision(times.data_ptr(), c, h, wd, k, time_steps, int(first), order.data_ptr() + 8 * i0,
                                   i1 - i0, None, None, weight.data_ptr(), f, None, float(lower), float(upper), 0,
                                   stats.data_ptr(), wins.data_ptr() + 8 * i0, 1, _ptr(dropped))

        _parallel(n, run, "decision")
    return wins, stats


@_decision_op.register_fake
def _(times: Tensor, order: Tensor, weight: Tensor, time_steps: int, first: bool,
      targets: Optional[Tensor], decision_map: Optional[Tensor], rates: Optional[Tensor],
      lower: float, upper: float, record: bool, dropped: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
    n = order.numel() if (record or targets is None) else 0
    return times.new_empty((n,), dtype=torch.int64), times.new_empty((3,), dtype=torch.int64)


def forward(times: Tensor, weight: Tensor, threshold: float, time_steps: int,
            values: bool = False) -> tuple:
    """First-spike steps ``uint8 [B, F, H', W']`` (``T`` = never) of a convolution with threshold
    (fires when the potential exceeds it), and the potentials then (float32, 0 where never) when
    ``values``; ``times`` ``[B, C, H, W]``, ``weight`` ``[F, C, k, k]`` float32 on the CPU."""
    out, val = torch.ops.spyketorch.latency_forward(steps_u8(times, time_steps), weight.detach().contiguous(),
                                                    float(threshold), int(time_steps), bool(values))
    return out, (val if values else None)


def stdp(times: Tensor, order: Tensor, weight: Tensor, rates: Tensor, threshold: float, time_steps: int,
         n_winners: int, radius: int, stabilizer: bool, lower: float, upper: float,
         record: bool = False) -> Optional[Tensor]:
    """Sequential STDP, in place on ``weight`` (contiguous float32 CPU), over ``times[order]``;
    returns the winners ``[n, n_winners, 3]`` (``-1`` rows) when ``record``."""
    if not weight.is_contiguous():
        raise ValueError("weight must be contiguous for the native STDP kernel")
    wins = torch.ops.spyketorch.latency_stdp(
        steps_u8(times, time_steps), order.to(torch.int64).contiguous(), weight,
        rates.detach().to(torch.float32).contiguous(), float(threshold), int(time_steps), int(n_winners),
        int(radius), bool(stabilizer), float(lower), float(upper), bool(record))
    return wins if record else None


def decision(times: Tensor, order: Tensor, weight: Tensor, time_steps: int, first: bool, *,
             targets: Optional[Tensor] = None, decision_map: Optional[Tensor] = None,
             rates: Optional[Tensor] = None, lower: float = 0.0, upper: float = 0.0,
             record: bool = True, dropped: Optional[Tensor] = None) -> tuple:
    """The decision layer over ``times[order]``: decide (``targets is None``) or learn (in place on
    ``weight``; ``dropped``, a bool ``[F]`` mask, marks features that cannot win). Returns
    ``(winners, stats)``: flat ``f * H'W' + p`` per image (``-1`` silent) and the correct / wrong /
    silent counts (zeros when only deciding)."""
    learn = targets is not None
    if learn and not weight.is_contiguous():
        raise ValueError("weight must be contiguous for the native decision kernel")
    w = weight if learn else weight.detach().contiguous()
    wins, stats = torch.ops.spyketorch.latency_decision(
        steps_u8(times, time_steps), order.to(torch.int64).contiguous(), w, int(time_steps), bool(first),
        targets.to(torch.int64).contiguous() if learn else None,
        decision_map.to(torch.int64).contiguous() if learn else None,
        rates.detach().to(torch.float32).reshape(-1).contiguous() if learn else None,
        float(lower), float(upper), bool(record),
        dropped.to(device="cpu", dtype=torch.uint8).contiguous() if dropped is not None else None)
    return (wins if (record or not learn) else None), stats
