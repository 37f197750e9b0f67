"""The opt-in native step of a neuron layer on the CPU (private module).

:meth:`NativeStep.native` switches a layer to a hand-written C kernel
(``_native_step.c``, built with the system C compiler on first use and cached): one
pass over the potentials runs the stages after the model's integration (refractory
clamp, floor and cap, fire, the per-map best score of the k-WTA, the refractory decay
and, when nothing reads the potentials before it, the reset). Models that declare one
of the kernel's integrators (:meth:`NativeStep._native_integrator`) integrate, and
advance their second variable, inside the same pass, one feature map at a time while it
sits in cache: every registered model (IF, LIF, LIF_ode, LIF_Simple, QIF, Izhikevich,
ResonateAndFire, AdaptiveLIF, and EIF, EIF_Simple and AdEx in float32) and their Uniform
variants. These integrators are the models' hand-fused steps written once more in C,
operation for operation as their eager ``_integrate``/``_adapt`` (themselves tested
against ``rhs``); the exponential is a vectorised polynomial within 2 ulp of
``torch.exp``. A model without one (or with per-neuron parameters, or EIF/AdEx in
float64) integrates and adapts with its own eager ops around the pass. A second small
call picks the winners per sample and puts them into refractoriness.

The eager pipeline (:mod:`spyketorch._stages`) stays the reference: the native step
gives the same spikes, winners and refractory state, and potentials equal to float
rounding (``tests/test_native.py`` runs every registered model in every inhibition mode
against it). Inputs on other devices run the eager step (use
:meth:`~spyketorch._fused.FusedStep.compile` there).

The library is plain C (no Python or torch headers), so it builds in a few seconds; it
is loaded with :mod:`ctypes`. The compiler is ``$CC`` (default ``cc``), the cache
directory ``$SPYKETORCH_CACHE`` (default ``~/.cache/spyketorch``).
"""
from __future__ import annotations

import ctypes
import functools
import math
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import torch
from torch import Tensor

from . import _stages as _st
from ._fused import NATIVE

SOURCE = Path(__file__).with_name("_native_step.c")
#: Compiler flags, best first: without OpenMP (e.g. Apple's clang) the passes run on one
#: thread; without ``-march=native`` (an old compiler) with the baseline vector width.
FLAG_SETS = (
    ("-O3", "-march=native", "-fno-trapping-math", "-ffp-contract=off", "-fopenmp"),
    ("-O3", "-march=native", "-fno-trapping-math", "-ffp-contract=off"),
    ("-O3", "-fno-trapping-math", "-ffp-contract=off"),
)
#: Inputs with at least this many elements run the native passes on ``torch.get_num_threads()`` threads.
PARALLEL_MIN = 32768
#: Most feature maps a layer may have for the native step (the selection's bit set).
MAX_MAPS = 4096

_INHIBIT = {"feature": 1, "location": 2, "layer": 3}
#: The integrators of ``_native_step.c`` (``cfg.kind``), by the name a model declares.
KINDS = {"affine": 1, "quadratic": 2, "izhikevich": 3, "resonate": 4, "adaptive_lif": 5, "exponential": 6,
         "adex": 7}
#: Integrators written for float32 only (their exponential): float64 layers integrate eagerly.
FLOAT32_ONLY = (6, 7)
_p = ctypes.c_void_p
_i = ctypes.c_int64
_d = ctypes.c_double


class _Cfg(ctypes.Structure):
    """``struct cfg`` of ``_native_step.c`` (same fields, same order)."""

    _fields_ = [("B", _i), ("C", _i), ("HW", _i), ("a", _p), ("k", _p), ("c0", _p), ("rest", _p), ("thr", _p),
                ("vreset", _p), ("per_elem", _i), ("thr_bstride", _i), ("floor_mode", _i), ("cap", _d),
                ("refr_clamp", _i), ("r_mode", _i), ("R", _d), ("uniform_score", _i), ("big", _d),
                ("nthreads", _i), ("parallel_min", _i), ("kind", _i), ("kc", _p * 8), ("log_cap", _d)]


def _cache_dir() -> Path:
    return Path(os.environ.get("SPYKETORCH_CACHE") or Path.home() / ".cache" / "spyketorch")


def _build(cc: str, so: Path) -> None:
    """Compile the kernels into ``so`` with the first flag set that works (atomically:
    concurrent builders, e.g. test workers, each write their own file)."""
    if shutil.which(cc) is None:
        raise RuntimeError(f"the native step needs a C compiler: {cc!r} was not found (set $CC, or use "
                           "layer.compile() or the eager step)")
    so.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for flags in FLAG_SETS:
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=so.parent)
        os.close(fd)
        try:
            res = subprocess.run([cc, *flags, "-fPIC", "-shared", "-o", tmp, str(SOURCE), "-lm"],
                                 capture_output=True, text=True)
            if res.returncode == 0:
                os.replace(tmp, so)
                return
            errors.append(f"{' '.join(flags)}: {res.stderr.strip()}")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    raise RuntimeError(f"building the native step with {cc!r} failed:\n" + "\n".join(errors))


@functools.lru_cache(maxsize=None)
def library() -> Tuple[Any, Any]:
    """The native kernels ``(float32 functions, float64 functions)``, built on first use.

    Raises:
        RuntimeError: no working C compiler (``$CC``, default ``cc``).
    """
    cc = os.environ.get("CC", "cc")
    src = SOURCE.read_bytes()
    tag = hashlib.sha256(src + repr((cc, FLAG_SETS)).encode() + platform.platform().encode()
                         + platform.processor().encode()).hexdigest()[:16]
    so = _cache_dir() / f"native_step_{tag}.so"
    if not so.exists():
        _build(cc, so)
    lib = ctypes.CDLL(str(so))
    if lib.st_abi_version() != 1:
        raise RuntimeError(f"{so} is not the native step this package expects; delete it to rebuild")
    out = []
    for sfx in ("f32", "f64"):
        p1, sel, rs = (getattr(lib, f"st_{n}_{sfx}") for n in ("pass1", "select", "reset"))
        p1.argtypes = [_p, _p, _p, _p, _p, _p, _p, _p, _p, _d, _i, _i, _p, _p]
        sel.argtypes = [_p, _p, _i, _d, _p, _p, _p, _p, _p, _p, _i]
        rs.argtypes = [_p, _p, _p]
        for f in (sel, rs):
            f.restype = None
        p1.restype = _i
        out.append((p1, sel, rs))
    return out[0], out[1]


def _flat(v: Any, C: int, H: int, W: int, per_elem: bool, dtype: torch.dtype) -> Tensor:
    """A constant (float, or tensor broadcast to ``[C, H, W]``) as a contiguous ``[C]`` (per
    map) or ``[C * H * W]`` (per element) array."""
    full = torch.broadcast_to(torch.as_tensor(v, dtype=dtype), (C, H, W))
    return (full.reshape(C * H * W) if per_elem else full[:, 0, 0]).contiguous()


def _per_map(v: Any) -> bool:
    """Whether a constant (float, or tensor broadcast to ``[C, H, W]``) is one value per map."""
    if not isinstance(v, Tensor) or v.numel() == 1:
        return True
    shape = (1,) * max(0, 3 - v.dim()) + tuple(v.shape)
    return shape[-1] == 1 and shape[-2] == 1


def _no_plan() -> None:
    return None


class _Plan:
    """The ctypes struct and constant arrays of one layer on one input shape and dtype.

    A cache: copies and pickles of a layer drop it (it is rebuilt on their first step).
    """

    def __deepcopy__(self, memo: Dict[int, Any]) -> None:
        return None

    def __reduce__(self) -> Tuple[Any, Tuple[()]]:
        return _no_plan, ()

    def __init__(self, spec: Optional[Tuple[str, Tuple[Any, ...]]], mode: str, second_variable: bool,
                 c: _st.Prepared, x: Tensor) -> None:
        B, C, H, W = x.shape
        b = c.base
        self.prepared, self.shape, self.dtype = c, tuple(x.shape), x.dtype
        kind, coef = (KINDS[spec[0]], tuple(spec[1])) if spec is not None else (0, ())
        consts = dict(rest=b.rest, thr=b.thr, vreset=b.v_reset)
        a, k, c0 = coef[:3] if kind in (1, 5) else (0.0, 0.0, 0.0)
        consts.update(a=a, k=k, c0=c0)
        per_elem = not all(_per_map(v) for v in consts.values())
        if kind >= 2 and (per_elem or not all(_per_map(v) for v in coef)
                          or (kind in FLOAT32_ONLY and x.dtype != torch.float32)):
            kind, coef = 0, ()  # the model's loops take constants per map: integrate eagerly instead
        self.kind = kind
        self.arrays = {n: _flat(v.cpu() if isinstance(v, Tensor) else v, C, H, W, per_elem, x.dtype)
                       for n, v in consts.items()}
        self.coef = [_flat(v.cpu() if isinstance(v, Tensor) else v, C, H, W, False, x.dtype) for v in coef]
        refractory = b.R > 0 and mode != "none"
        self.refractory, self.mode = refractory, mode
        self.inhibit = _INHIBIT.get(mode, 0) if refractory else 0
        self.cfg = _Cfg(B=B, C=C, HW=H * W, **{n: t.data_ptr() for n, t in self.arrays.items()},
                        per_elem=int(per_elem), thr_bstride=0,
                        floor_mode=1 if b.clamp_at_rest else (2 if b.nonlinear else 0), cap=b.cap,
                        refr_clamp=int(refractory), r_mode=(2 if mode == "neuron" else 1) if refractory else 0,
                        R=b.R, uniform_score=1, big=b.big, nthreads=1, parallel_min=PARALLEL_MIN, kind=kind,
                        kc=(_p * 8)(*([t.data_ptr() for t in self.coef] + [None] * (8 - len(self.coef)))),
                        log_cap=b.log_cap)
        self.ref = ctypes.byref(self.cfg)
        self.fns = library()[0 if x.dtype == torch.float32 else 1]
        self.best = torch.empty(B * C, dtype=x.dtype)  # scratch of the k-WTA, reused every step
        self.best_ptr = self.best.data_ptr()
        self.scratch: Dict[int, Tuple[Tensor, Tensor]] = {}  # k -> winners' maps and validity nobody returns
        self.native = C <= MAX_MAPS and x.dtype in (torch.float32, torch.float64)
        # the refractory counter is written into a second buffer and the two swap every
        # step, so that a refused (non-finite) input leaves the layer's counter untouched
        self.r_spare = torch.empty(self.shape, dtype=x.dtype) if self.cfg.r_mode else None
        # likewise the second variable of the models whose adapt step runs here
        self.w_spare = torch.empty(self.shape, dtype=x.dtype) if kind >= 2 and second_variable else None
        # the adaptive threshold, written by the kernel's adaptive_lif loop (per neuron)
        self.thr_buf = torch.empty(self.shape, dtype=x.dtype) if kind == KINDS["adaptive_lif"] else None

    def winners_scratch(self, kk: int) -> Tuple[Tensor, Tensor]:
        """Reused ``[B, kk]`` buffers for the winners when the step does not return them."""
        if kk not in self.scratch:
            self.scratch[kk] = (torch.empty((self.shape[0], kk), dtype=torch.long),
                                torch.empty((self.shape[0], kk), dtype=torch.bool))
        return self.scratch[kk]


class NativeStep:
    """Mixin of :class:`spyketorch.neurons.Neuron`: the opt-in native (C) step on the CPU."""

    _native_plan: Optional[_Plan] = None

    def _native_integrator(self, c: _st.Prepared) -> Optional[Tuple[str, Tuple[Any, ...]]]:
        """The model's step as one of the native kernel's integrators, or None.

        ``("affine", (a, k, c0))`` for ``u' = a u + k I + c0`` (integrated inside the generic
        pass); ``("quadratic", (q, k, rest, uc))``, ``("izhikevich", (dt, k004, five, c140, ga,
        b, d))``, ``("resonate", (ec, es, k, x_reset))``, ``("adaptive_lif", (a, k, c0, ea, beta))``,
        ``("exponential", (a, k, c0, s, o))`` or ``("adex", (a, k, c0, s, o, 1 - gw, aw, b))``
        for the models whose integrate and adapt steps ``_native_step.c`` also writes out
        (floats, or tensors that broadcast to one sample). None: the model integrates and
        adapts with its own eager ops around the native pass. A model that overrides
        ``_integrate`` or ``_adapt`` must override this too (``tests/test_native.py``
        compares every registered model with the eager step).
        """
        return None

    def _all_finite(self, x: Tensor) -> bool:
        """Whether every element of ``x`` is finite (the input check of every step).

        One reduction (its sum; the exact element-wise test only when the sum is not
        finite, since a sum can overflow). A native layer on a float32/float64 CPU input
        leaves the check to its kernel, which tests every element in its pass and writes
        the new state into buffers that it discards on a refused input (so a refused input
        still changes no state).
        """
        if (self._compiled is not None and self._compiled[1] == NATIVE and x.device.type == "cpu"  # type: ignore[attr-defined]
                and x.dtype in (torch.float32, torch.float64) and x.shape[1] <= MAX_MAPS):
            return True
        return math.isfinite(float(x.sum())) or bool(torch.isfinite(x).all())

    def _plan(self, x: Tensor, c: _st.Prepared) -> _Plan:
        plan = self._native_plan
        if (plan is None or plan.prepared is not c or plan.shape != tuple(x.shape) or plan.dtype != x.dtype
                or plan.mode != self._inhibition_mode):  # type: ignore[attr-defined]
            plan = self._native_plan = _Plan(self._native_integrator(c), self._inhibition_mode,  # type: ignore[attr-defined]
                                             self.TRAITS.second_variable, c, x)  # type: ignore[attr-defined]
        return plan

    def _native_kernel(self, u_prev: Tensor, r: Tensor, w: Optional[Tensor], I: Tensor, c: _st.Prepared,
                       sc: Any, kk: int, want: Tuple[bool, bool, bool, bool]) -> Tuple[Tensor, Tensor, Optional[Tensor], Any]:
        """The native counterpart of ``Neuron._kernel`` (same arguments and results)."""
        if I.device.type != "cpu":
            return self._kernel(u_prev, r, w, I, c, sc, kk, want)  # type: ignore[attr-defined]
        plan = self._plan(I, c)
        if not plan.native:
            return self._kernel(u_prev, r, w, I, c, sc, kk, want)  # type: ignore[attr-defined]
        want_thr, want_dudt, want_ws, want_winners = want
        b = c.base
        pass1, select, reset = plan.fns
        I = I.contiguous()
        own = plan.kind >= 1 and self._noise_std == 0.0  # type: ignore[attr-defined]
        cfg = plan.cfg
        cfg.kind = plan.kind if own else 0
        native_w = own and w is not None  # the second variable advances in the kernel too
        if own:
            u, up = torch.empty_like(I), u_prev.data_ptr()
        else:
            u = self._integrate(u_prev, I, w, c)  # type: ignore[attr-defined]
            if self._noise_std > 0.0:  # type: ignore[attr-defined]
                u = _st.add_noise(u, self._noise_std * math.sqrt(self._ts), self.noise_generator)  # type: ignore[attr-defined]
            u, up = u.contiguous(), None
        if native_w and plan.thr_buf is not None:  # the kernel raises the threshold itself
            shift, thr_step, uniform = None, plan.thr_buf, False
        else:
            shift = self._threshold_shift(w, c)  # type: ignore[attr-defined]
            thr_step = None if shift is None else torch.add(shift, b.thr).contiguous()
            uniform = b.uniform_thr and shift is None
        need_win = kk > 0 and (plan.refractory or want_winners or want_ws)
        need_loc = want_winners or want_ws or plan.mode == "location"
        defer = ((w is not None and not native_w) or want_thr or want_dudt or need_loc
                 or self.TRAITS.potentials_before_reset)  # type: ignore[attr-defined]
        cfg.nthreads = torch.get_num_threads()
        cfg.uniform_score = uniform
        spk = torch.empty_like(I)
        check = self.check_finite is not False  # type: ignore[attr-defined]  # None: checked on the CPU
        r_new = r if plan.r_spare is None else plan.r_spare
        w_new = plan.w_spare if native_w else None
        if pass1(plan.ref, up, I.data_ptr(), u.data_ptr(), r.data_ptr(), r_new.data_ptr(), spk.data_ptr(),
                 plan.best_ptr if need_win else None, None if thr_step is None else thr_step.data_ptr(),
                 1.0 if defer else b.amp, not defer, check,
                 w.data_ptr() if native_w else None, w_new.data_ptr() if native_w else None):
            raise ValueError("potentials contain NaN or inf")  # nothing of the layer's state was written
        if r_new is not r:
            plan.r_spare, r = r, r_new
        if native_w:
            plan.w_spare = w
        win = None
        if need_win:
            B = I.shape[0]
            if want_winners or want_ws:
                feat, valid = torch.empty((B, kk), dtype=torch.long), torch.empty((B, kk), dtype=torch.bool)
            else:
                feat, valid = plan.winners_scratch(kk)
            loc = torch.empty((B, kk), dtype=torch.long) if need_loc else None
            select(plan.ref, plan.best_ptr, kk, b.thr_min, feat.data_ptr(), valid.data_ptr(), u.data_ptr(),
                   spk.data_ptr(), None if loc is None else loc.data_ptr(), r.data_ptr(), plan.inhibit)
            win = _st.Winners(feat, valid, loc)
        thresholded = dudt = pre = None
        if defer:
            if w is not None and not native_w:
                w_new = self._adapt(u_prev, u, spk, w, I, c)  # type: ignore[attr-defined]
            thresholded = u * spk if want_thr else None
            dudt = u - u_prev if want_dudt else None
            pre = u.clone() if self.TRAITS.potentials_before_reset else None  # type: ignore[attr-defined]
            reset(plan.ref, u.data_ptr(), spk.data_ptr())
            if b.amp != 1.0:
                spk.mul_(b.amp)
        out = _st.StepOutput(
            spikes=spk, potentials=u if pre is None else pre, thresholded=thresholded, dudt=dudt,
            winners=_st.winners_tensor(win, I.shape[0], I.shape[3], I.device) if want_winners else None,
            winning_spikes=_st.winning_spikes(win, u, b.amp) if want_ws else None)
        return u, r, w_new, out
