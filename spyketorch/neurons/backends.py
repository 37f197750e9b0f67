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
"""
from __future__ import annotations

import sys
import types
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import torch
from torch import Tensor

from .step import StepConfig, StepConstants, StepOutput, StepPlan, StepResult, neuron_step

#: Inputs with fewer elements than this run a single-threaded compiled build: a
#: multi-threaded kernel on a few thousand elements waits for its slowest thread far longer
#: than it computes (ATen's own element-wise ops keep such sizes on one thread too).
SMALL = 32768
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
        self._free: Dict[str, List[Tensor]] = {}

    def clear(self) -> None:
        self._free.clear()

    def take(self, name: str, like: Tensor) -> Tensor:
        """A tensor shaped like ``like`` (same dtype and device), recycled if one is free."""
        bucket = self._free.get(name)
        if bucket:  # (empty when the counters are missing: give() keeps nothing then)
            for i in range(len(bucket)):
                # the same expression as the probe of _reference_counts: the bucket's reference
                # and getrefcount's argument are all there is when nothing else holds it (and
                # no other tensor, view or numpy array shares its storage)
                if (sys.getrefcount(bucket[i]) == _BASELINE[0] and _storage_uses(bucket[i]) == _BASELINE[1]
                        and bucket[i].shape == like.shape and bucket[i].dtype == like.dtype
                        and bucket[i].device == like.device):
                    return bucket.pop(i)
        return torch.empty_like(like, memory_format=torch.contiguous_format)

    def give(self, name: str, t: Optional[Tensor]) -> None:
        """Offer ``t`` for reuse by a later step (the oldest offer is dropped past ``depth``)."""
        if t is None or _BASELINE is None:
            return
        bucket = self._free.setdefault(name, [])
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
    """One compiled configuration: the callable, the names of its large outputs, the tensors of
    the plan it reads."""

    fn: Callable[..., Any]
    big: Tuple[str, ...]
    tensors: List[Tensor]


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
        key = (plan.serial, r.shape, w is not None, noise is not None, grad, v.requires_grad)
        build = self._cache.get(key)
        if build is None:
            if len(self._cache) > 64:  # plans of shapes long gone
                self._cache.clear()
            build = self._cache[key] = self._build(model, plan, v, r, w, I, noise, spike_fn, grad, pool)
        if grad:
            return build.fn(v, r, w, I, noise, *build.tensors)
        cfg = plan.cfg
        outs = [pool.take(name, v) for name in build.big] if pool is not None else \
            [torch.empty_like(v, memory_format=torch.contiguous_format) for _ in build.big]
        ins = [v, r] + ([w] if w is not None else []) + [I] + ([noise] if noise is not None else []) + build.tensors
        return _assemble(cfg, build.big, outs, build.fn(*ins, *outs))

    def _build(self, model: Any, plan: StepPlan, v: Tensor, r: Tensor, w: Optional[Tensor], I: Tensor,
               noise: Optional[Tensor], spike_fn: Any, grad: bool, pool: Optional[OutputPool]) -> _Build:
        # (the raw compiled call below needs no grad mode: its kernels build no graph)
        pstatic, pnames, ptensors = _split(plan.p)
        cstatic, cidx, ctensors = _const_split(plan.c)
        tensors = ptensors + ctensors
        if grad:
            fn = _autograd_step(model, type(plan.p), pstatic, pnames, cstatic, cidx, plan.cfg, spike_fn, self.options)
            return _Build(fn, (), tensors)
        ins = [t for t in (v, r, w, I, noise) if t is not None] + tensors
        big = _big_outputs(plan.cfg, v, r, w)
        graph = _inference_graph(model, type(plan.p), pstatic, pnames, cstatic, cidx, plan.cfg,
                                 (w is not None, noise is not None), big, len(ptensors))
        outs = [torch.empty_like(v, memory_format=torch.contiguous_format) for _ in big]
        with torch.no_grad():
            fn = _inductor(graph, ins + outs, v.numel(), self.options)
        return _Build(fn, big, tensors)


def _big_outputs(cfg: StepConfig, v: Tensor, r: Tensor, w: Optional[Tensor]) -> Tuple[str, ...]:
    names = ["v", "spikes"]
    if w is not None:
        names.append("w")
    if cfg.refractory and r.shape == v.shape:
        names.append("r")
    if cfg.before_reset:
        names.append("potentials")
    for flag, name in ((cfg.want_thresholded, "thresholded"), (cfg.want_dudt, "dudt"),
                       (cfg.want_winning_spikes, "winning_spikes")):
        if flag:
            names.append(name)
    return tuple(names)


def _inference_graph(model: Any, ptype: type, pstatic: Any, pnames: Sequence[str], cstatic: Sequence[Any],
                     cidx: Sequence[int], cfg: StepConfig, present: Tuple[bool, bool], big: Sequence[str],
                     n_p: int) -> Callable[..., Any]:
    """The step as a function of flat tensors that writes its large outputs into the last
    ``len(big)`` arguments and returns the small ones (refractory count, winners, flag)."""
    has_w, has_noise = present

    def graph(*args: Tensor) -> Tuple[Tensor, ...]:
        it = iter(args)
        v, r = next(it), next(it)
        w = next(it) if has_w else None
        I = next(it)
        noise = next(it) if has_noise else None
        ptens = [next(it) for _ in range(n_p)]
        p = ptype(**dict(pstatic), **dict(zip(pnames, ptens)))
        cvals = list(cstatic)
        for i in cidx:
            cvals[i] = next(it)
        res = neuron_step(model, p, StepConstants(*cvals), cfg, v, r, w, I, noise, None)
        values = {"v": res.v, "w": res.w, "r": res.r, **res.out._asdict()}
        for name in big:
            next(it).copy_(values[name])
        small = [] if "r" in big else [res.r]
        if cfg.want_winners:
            small.append(res.out.winners)
        if res.bad is not None:
            small.append(res.bad)
        return tuple(small)

    return graph


def _assemble(cfg: StepConfig, big: Sequence[str], outs: Sequence[Tensor], small: Sequence[Tensor]) -> StepResult:
    """The step's result from the large outputs ``outs`` (named ``big``) and the small ones."""
    got = dict(zip(big, outs))
    i = 0
    if "r" in got:
        r1 = got["r"]
    else:
        r1, i = small[0], 1
    winners = small[i] if cfg.want_winners else None
    bad = small[-1] if cfg.check_finite else None
    v = got["v"]
    out = StepOutput(got["spikes"], got.get("potentials", v), got.get("thresholded"), got.get("dudt"), winners,
                     got.get("winning_spikes"))
    return StepResult(out, v, r1, got.get("w"), bad)


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


def _autograd_step(model: Any, ptype: type, pstatic: Any, pnames: Sequence[str], cstatic: Sequence[Any],
                   cidx: Sequence[int], cfg: StepConfig, spike_fn: Any, options: Dict[str, Any],
                   ) -> Callable[..., StepResult]:
    """The step through ``torch.compile`` (forward and backward compiled), for one configuration.

    Each configuration compiles its own copy of the function, so that the builds of one
    layer never count against another's recompile limit."""
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
