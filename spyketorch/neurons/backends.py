"""Ways of running the one step function: eager, and compiled into fused kernels.

Both backends run :func:`spyketorch.neurons.step.neuron_step`, so they give the same
spikes, winners and refractory state, and potentials equal to float rounding.

* :class:`Eager` calls it op by op (autograd records it when the spike has a surrogate).
* :class:`Compiled` traces it, for each input shape, dtype, device and setting, into one
  graph and hands it to inductor (C++/OpenMP kernels on the CPU, Triton on a GPU), which
  fuses the model's integration with every stage after it: one pass over the potentials
  and a small k-WTA. The compiled step writes its large outputs into buffers the layer
  recycles (:class:`OutputPool`), so a step allocates no multi-megabyte tensors once the
  caller drops its references to earlier outputs. When a gradient is needed it runs the
  same function through ``torch.compile`` (which compiles a backward too); inside a user's
  own ``torch.compile`` region the layer calls the function directly, so it is inlined
  into the user's graph.

Example:
    >>> from spyketorch.neurons import BACKENDS
    >>> BACKENDS
    ('eager', 'compiled')
    >>> LIF(threshold=10.0, backend="eager").backend
    'eager'
"""
from __future__ import annotations

import sys
import types
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

import torch
from torch import Tensor

from .step import (RunRecord, RunResult, StepConstants, StepOutput, StepPlan, StepResult, neuron_run,
                   neuron_step)

#: Inputs with fewer elements than this run a single-threaded compiled build: a
#: multi-threaded kernel on a few thousand elements waits for its slowest thread far longer
#: than it computes (ATen's own element-wise ops keep such sizes on one thread too).
SMALL = 32768
#: the ways of running a layer's step (the ``backend=`` of every neuron layer)
BACKENDS = ("eager", "compiled")


def compiling() -> bool:
    """Whether ``torch.compile`` is tracing the caller (the step then runs as plain torch code)."""
    fn = getattr(getattr(torch, "compiler", None), "is_compiling", None)
    return bool(fn()) if fn is not None else False


# ---------------------------------------------------------------------------- recycled outputs
def _storage_uses(t: Tensor) -> int:
    return torch._C._storage_Use_Count(t.untyped_storage()._cdata)


def _reference_counts() -> Optional[Tuple[int, int]]:
    """``(python refcount, storage use count)`` of a tensor held once, as this module's own
    checks see it; None where the private counters are missing (then nothing is recycled)."""
    try:
        probe = [torch.empty(1)]
        return sys.getrefcount(probe[0]), _storage_uses(probe[0])
    except Exception:  # pragma: no cover - an interpreter or torch without the counters
        return None


_BASELINE = _reference_counts()


class OutputPool:
    """Large output tensors handed back for reuse once nothing else references them.

    The compiled step writes its multi-megabyte outputs (new potentials, spikes, ...) into
    tensors from this pool instead of allocating them. A tensor is reused only when the
    pool holds the one reference left: not when the caller still holds it (or a view of
    its storage, or autograd saved it). The pool keeps at most ``depth`` tensors per
    output, so a loop that drops each step's outputs by the next step reuses memory and a
    loop that keeps them (a list of spikes) simply gets fresh tensors.
    """

    def __init__(self, depth: int = 2) -> None:
        self.depth = depth
        self._free: Dict[Any, List[Tensor]] = {}

    def clear(self) -> None:
        self._free.clear()

    def take(self, name: str, shape: torch.Size, stride: Tuple[int, ...], dtype: torch.dtype,
             device: torch.device) -> Tensor:
        """A tensor of ``shape``, ``stride``, ``dtype`` and ``device``, recycled if one is free."""
        bucket = self._free.get((name, shape, stride, dtype))
        if bucket:  # (empty when the counters are missing: give() keeps nothing then)
            for i in range(len(bucket)):
                # the same expression as the probe of _reference_counts: the bucket's reference
                # and getrefcount's argument are all there is when nothing else holds it (and
                # no other tensor, view or numpy array shares its storage)
                if sys.getrefcount(bucket[i]) == _BASELINE[0] and _storage_uses(bucket[i]) == _BASELINE[1]:
                    return bucket.pop(i)
        return torch.empty_strided(shape, stride, dtype=dtype, device=device)

    def give(self, name: str, t: Optional[Tensor]) -> None:
        """Offer ``t`` for reuse by a later step (the oldest offer is dropped past ``depth``).
        (Tensors of one device only: a layer's pool is cleared when it moves.)"""
        if t is None or _BASELINE is None:
            return
        bucket = self._free.setdefault((name, t.shape, t.stride(), t.dtype), [])
        bucket.append(t)
        if len(bucket) > self.depth:
            del bucket[0]

    def give_all(self, v: Tensor, r: Tensor, w: Optional[Tensor], out: StepOutput, before_reset: bool) -> None:
        """Offer the state a step replaced and the large outputs it returned."""
        self.give("v", v)
        if r.shape == v.shape:
            self.give("r", r)
        self.give("w", w)
        self.give("spikes", out.spikes)
        self.give("thresholded", out.thresholded)
        self.give("dudt", out.dudt)
        self.give("winning_spikes", out.winning_spikes)
        if before_reset:
            self.give("potentials", out.potentials)


# ---------------------------------------------------------------------------- backends
class Eager:
    """The step function called op by op."""

    name = "eager"

    def run(self, model: Any, plan: StepPlan, v: Tensor, r: Tensor, w: Optional[Tensor], I: Tensor,
            noise: Optional[Tensor], spike_fn: Any, pool: Optional[OutputPool]) -> StepResult:
        return neuron_step(model, plan.p, plan.c, plan.cfg, v, r, w, I, noise, spike_fn)

    def run_many(self, model: Any, plan: StepPlan, v: Tensor, r: Tensor, w: Optional[Tensor], X: Tensor,
                 noise: Optional[Tensor], want: Tuple[bool, bool], pool: Optional[OutputPool]) -> RunResult:
        return neuron_run(model, plan.p, plan.c, plan.cfg, v, r, w, X, noise, *want)


def _split(ns: Any) -> Tuple[Tuple[Tuple[str, Any], ...], Tuple[str, ...], List[Tensor]]:
    """A named tuple's static items (floats, None, ...) and its tensors, in a stable order."""
    static, names, tensors = [], [], []
    for k, v in ns._asdict().items():
        if isinstance(v, Tensor):
            names.append(k)
            tensors.append(v)
        else:
            static.append((k, v))
    return tuple(static), tuple(names), tensors


def _const_split(c: StepConstants) -> Tuple[Tuple[Any, ...], Tuple[int, ...], List[Tensor]]:
    static, idx, tensors = [], [], []
    for i, v in enumerate(c):
        if isinstance(v, Tensor):
            idx.append(i)
            tensors.append(v)
            static.append(None)
        else:
            static.append(v)
    return tuple(static), tuple(idx), tensors


class _Build(NamedTuple):
    """One compiled configuration: the callable, its large outputs (name, shape, dtype), the
    names of its small outputs, and the tensors of the plan it reads."""

    fn: Callable[..., Any]
    big: Tuple[Tuple[str, torch.Size, Tuple[int, ...], torch.dtype], ...]
    small: Tuple[str, ...]
    tensors: List[Tensor]


#: the outputs written into recycled buffers when they are as large as the potentials
_RECYCLED = ("v", "w", "r", "spikes", "potentials", "thresholded", "dudt", "winning_spikes", "first_step",
             "first_value", "count")


class Compiled:
    """The step function compiled into fused kernels, one build per plan (shape, dtype and
    settings) and state layout.

    The first step of each new configuration compiles (seconds on a small CPU; inductor's
    on-disk cache makes later processes faster); later steps run the kernels.
    """

    name = "compiled"

    def __init__(self, options: Optional[Dict[str, Any]] = None) -> None:
        self.options = dict(options or {})
        self._cache: Dict[Any, _Build] = {}

    def run(self, model: Any, plan: StepPlan, v: Tensor, r: Tensor, w: Optional[Tensor], I: Tensor,
            noise: Optional[Tensor], spike_fn: Any, pool: Optional[OutputPool]) -> StepResult:
        if not plan.pooled and compiling():  # inside a user's torch.compile: be inlined into their graph
            return neuron_step(model, plan.p, plan.c, plan.cfg, v, r, w, I, noise, spike_fn)
        grad = spike_fn is not None and (I.requires_grad or v.requires_grad or (w is not None and w.requires_grad)
                                         or any(isinstance(t, Tensor) and t.requires_grad for t in plan.p))
        if grad:
            key = ("grad", plan.serial, r.shape, w is not None, noise is not None, v.requires_grad)
            build = self._cache.get(key) or self._remember(key, _Build(
                _autograd_step(model, plan, spike_fn, self.options), (), (), _tensors(plan)))
            return build.fn(v, r, w, I, noise, *_live_tensors(plan, build))
        got = self._call("step", model, plan, (v, r, w, I, noise), pool)
        out = StepOutput(got["spikes"], got.get("potentials", got["v"]), got.get("thresholded"), got.get("dudt"),
                         got.get("winners"), got.get("winning_spikes"))
        return StepResult(out, got["v"], got["r"], got.get("w"), got.get("bad"))

    def run_many(self, model: Any, plan: StepPlan, v: Tensor, r: Tensor, w: Optional[Tensor], X: Tensor,
                 noise: Optional[Tensor], want: Tuple[bool, bool], pool: Optional[OutputPool]) -> RunResult:
        """:func:`~spyketorch.neurons.step.neuron_run` compiled (one build per plan and ``T``)."""
        if not plan.pooled and compiling():
            return neuron_run(model, plan.p, plan.c, plan.cfg, v, r, w, X, noise, *want)
        got = self._call(("run", want), model, plan, (v, r, w, X, noise), pool)
        rec = RunRecord(got.get("spikes"), got["first_step"], got.get("first_value"), got["count"])
        return RunResult(rec, got["v"], got["r"], got.get("w"), got.get("bad"))

    def _remember(self, key: Any, build: _Build) -> _Build:
        if len(self._cache) > 64:  # builds of plans long gone
            self._cache.clear()
        self._cache[key] = build
        return build

    def _call(self, kind: Any, model: Any, plan: StepPlan, state: Tuple[Optional[Tensor], ...],
              pool: Optional[OutputPool]) -> Dict[str, Tensor]:
        v, r, w, x, noise = state
        key = (kind, plan.serial, r.shape, w is not None, noise is not None, x.shape[0])
        build = self._cache.get(key)
        if build is None:
            build = self._remember(key, self._build(kind, model, plan, state))
        outs = [pool.take(name, shape, stride, dtype, v.device) if pool is not None else
                torch.empty_strided(shape, stride, dtype=dtype, device=v.device)
                for name, shape, stride, dtype in build.big]
        ins = [t for t in state if t is not None] + _live_tensors(plan, build)
        got = dict(zip(build.small, build.fn(*ins, *outs)))
        got.update((b[0], t) for b, t in zip(build.big, outs))
        return got

    def _build(self, kind: Any, model: Any, plan: StepPlan, state: Tuple[Optional[Tensor], ...]) -> _Build:
        v = state[0]
        present = tuple(t is not None for t in state)
        tensors = _tensors(plan)
        pure = _pure(kind, model, plan, present)
        ins = [t for t in state if t is not None] + tensors
        with torch.no_grad():
            example = pure(*[t.clone() for t in ins])
        # large outputs go into buffers laid out as the eager step lays them out (channels-last
        # input: channels-last state and outputs, so no pass transposes them)
        big = tuple((name, t.shape, t.stride(), t.dtype) for name, t in example.items()
                    if t is not None and name in _RECYCLED and t.shape[-v.dim():] == v.shape)
        names = [b[0] for b in big]
        small = tuple(name for name, t in example.items() if t is not None and name not in names)

        def graph(*args: Tensor) -> Tuple[Tensor, ...]:
            vals = pure(*args[:len(ins)])
            for name, buf in zip(names, args[len(ins):]):
                buf.copy_(vals[name])
            return tuple(vals[name] for name in small)

        outs = [torch.empty_strided(shape, stride, dtype=dtype, device=v.device) for _, shape, stride, dtype in big]
        with torch.no_grad():
            fn = _inductor(graph, ins + outs, v.numel(), self.options)
        return _Build(fn, big, small, tensors)


def _tensors(plan: StepPlan) -> List[Tensor]:
    """The tensors among a plan's parameters and constants, in a stable order."""
    return _split(plan.p)[2] + _const_split(plan.c)[2]


def _live_tensors(plan: StepPlan, build: "_Build") -> List[Tensor]:
    """The tensors a build is called with: those it was built with, or, for a live plan (learnable
    parameters read as they are at this step, their conversion recorded by autograd), the plan's."""
    return _tensors(plan) if plan.live else build.tensors


def _pure(kind: Any, model: Any, plan: StepPlan, present: Tuple[bool, ...]) -> Callable[..., Dict[str, Any]]:
    """The step (``kind == "step"``) or the run (``("run", want)``) as a function of flat tensors
    (the state and input present, then the plan's tensors) returning every output by name."""
    pstatic, pnames, ptensors = _split(plan.p)
    cstatic, cidx, _ = _const_split(plan.c)
    ptype, cfg = type(plan.p), plan.cfg

    def pure(*args: Tensor) -> Dict[str, Any]:
        it = iter(args)
        v, r, w, x, noise = (next(it) if has else None for has in present)
        p = ptype(**dict(pstatic), **{n: next(it) for n in pnames})
        cvals = list(cstatic)
        for i in cidx:
            cvals[i] = next(it)
        c = StepConstants(*cvals)
        if kind == "step":
            res = neuron_step(model, p, c, cfg, v, r, w, x, noise, None)
            out = res.out._asdict()
            if not cfg.before_reset:
                del out["potentials"]  # the new state v itself: not written twice
            return {"v": res.v, "w": res.w, "r": res.r, "bad": res.bad, **out}
        run = neuron_run(model, p, c, cfg, v, r, w, x, noise, *kind[1])
        return {"v": run.v, "w": run.w, "r": run.r, "bad": run.bad, **run.record._asdict()}

    return pure


def _inductor(graph: Callable[..., Any], example: List[Tensor], numel: int, options: Dict[str, Any]) -> Callable[..., Any]:
    """``graph`` traced with ``make_fx`` and compiled by inductor (no dynamo guards: the layer
    keys its own cache on everything the trace specialised on)."""
    from torch._inductor.compile_fx import compile_fx
    from torch.fx.experimental.proxy_tensor import make_fx

    patches = dict(options)
    if numel < SMALL and example[0].device.type == "cpu":
        patches.setdefault("cpp.threads", 1)
    gm = make_fx(graph)(*[t.clone() for t in example])
    wrapped = compile_fx(gm, example, config_patches=patches or None)
    return _unwrapped(wrapped, [t.clone() for t in example])


def _inner(wrapped: Callable[..., Any]) -> Any:
    """The compiled graph inside the wrappers ``compile_fx`` returns (None if not found)."""
    inner: Any = wrapped
    for _ in range(4):
        inner = getattr(inner, "__wrapped__", None)
        if inner is None or hasattr(inner, "current_callable"):
            return inner
    return None


def _unwrapped(wrapped: Callable[..., Any], example: List[Tensor]) -> Callable[..., Any]:
    """The compiled graph's own entry point, without the AOT-autograd and dynamo wrappers
    around it (about 25 us a call on a small CPU): used only where the graph keeps its input
    mutations itself and gives the same results as the wrapped call on ``example``."""
    inner = _inner(wrapped)
    if inner is None or not callable(getattr(inner, "current_callable", None)) or not getattr(inner, "_boxed_call", False):
        return wrapped
    raw = inner.current_callable
    a, b = [t.clone() for t in example], [t.clone() for t in example]
    try:
        got, want = raw(list(a)), wrapped(*b)
    except Exception:  # pragma: no cover - an inductor whose entry point works otherwise
        return wrapped
    same = all(torch.equal(x, y) for x, y in zip(a, b)) and len(got) == len(want) and all(
        torch.equal(x, y) for x, y in zip(got, want))
    if not same:  # pragma: no cover
        return wrapped

    def call(*args: Tensor) -> Any:
        return raw(list(args))

    return call


def _autograd_step(model: Any, plan: StepPlan, spike_fn: Any, options: Dict[str, Any]) -> Callable[..., StepResult]:
    """The step through ``torch.compile`` (forward and backward compiled), for one configuration.

    Each configuration compiles its own copy of the function, so that the builds of one
    layer never count against another's recompile limit."""
    pstatic, pnames, _ = _split(plan.p)
    cstatic, cidx, _ = _const_split(plan.c)
    ptype, cfg = type(plan.p), plan.cfg

    def fn(v: Tensor, r: Tensor, w: Optional[Tensor], I: Tensor, noise: Optional[Tensor], *tens: Tensor) -> StepResult:
        p = ptype(**dict(pstatic), **dict(zip(pnames, tens[:len(pnames)])))
        cvals = list(cstatic)
        for j, i in enumerate(cidx):
            cvals[i] = tens[len(pnames) + j]
        return neuron_step(model, p, StepConstants(*cvals), cfg, v, r, w, I, noise, spike_fn)

    own = types.FunctionType(fn.__code__.replace(), fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
    return torch.compile(own, dynamic=False, options=options or None)


def make_backend(name: str, options: Optional[Dict[str, Any]] = None) -> Any:
    """The backend called ``name`` (``"eager"`` or ``"compiled"``)."""
    if name == "eager":
        if options:
            raise ValueError("the eager backend takes no options")
        return Eager()
    if name == "compiled":
        return Compiled(options)
    raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
