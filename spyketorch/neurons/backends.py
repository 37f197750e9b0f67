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
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from .step import StepConfig, StepConstants, StepResult, StepOutput, neuron_step

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
        if bucket and _BASELINE is not None:
            for i in range(len(bucket)):
                # the same expression as the probe of _reference_counts: a list's reference
                # and getrefcount's argument are all there is when nothing else holds it
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
            bucket.pop(0)


# ---------------------------------------------------------------------------- backends
class Eager:
    """The step function called op by op."""

    name = "eager"

    def run(self, model: Any, p: Any, c: StepConstants, cfg: StepConfig, v: Tensor, r: Tensor, w: Optional[Tensor],
            I: Tensor, noise: Optional[Tensor], spike_fn: Any, pool: Optional[OutputPool]) -> StepResult:
        return neuron_step(model, p, c, cfg, v, r, w, I, noise, spike_fn)

    def clear(self) -> None:
        pass


#: outputs written into recycled buffers (when as large as the potentials)
_BIG = ("v", "w", "r", "spikes", "potentials", "thresholded", "dudt", "winning_spikes")


def _split(ns: Any) -> Tuple[Tuple[Tuple[str, Any], ...], Tuple[str, ...], List[Tensor]]:
    """A namespace's static items (floats, None, ...) and its tensors, in a stable order."""
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


def _meta(t: Optional[Tensor]) -> Any:
    return None if t is None else (tuple(t.shape), t.dtype, t.device, t.requires_grad)


class Compiled:
    """The step function compiled into fused kernels, one build per shape, dtype and setting.

    The first step of each new configuration compiles (seconds on a small CPU; inductor's
    on-disk cache makes later processes faster); later steps run the kernels.
    """

    name = "compiled"

    def __init__(self, options: Optional[Dict[str, Any]] = None) -> None:
        self.options = dict(options or {})
        self._cache: Dict[Any, Callable[..., Any]] = {}

    def clear(self) -> None:
        self._cache.clear()

    def run(self, model: Any, p: Any, c: StepConstants, cfg: StepConfig, v: Tensor, r: Tensor, w: Optional[Tensor],
            I: Tensor, noise: Optional[Tensor], spike_fn: Any, pool: Optional[OutputPool]) -> StepResult:
        if compiling():  # inside a user's torch.compile: be inlined into their graph
            return neuron_step(model, p, c, cfg, v, r, w, I, noise, spike_fn)
        pstatic, pnames, ptensors = _split(p)
        cstatic, cidx, ctensors = _const_split(c)
        grad = torch.is_grad_enabled() and spike_fn is not None and (
            I.requires_grad or v.requires_grad or (w is not None and w.requires_grad)
            or any(t.requires_grad for t in ptensors + ctensors))
        key = (type(model), grad, cfg, pstatic, pnames, cstatic, cidx, spike_fn if grad else None,
               _meta(v), _meta(r), _meta(w), _meta(I), _meta(noise),
               tuple(_meta(t) for t in ptensors + ctensors))
        fn = self._cache.get(key)
        if grad:
            if fn is None:
                fn = self._cache[key] = _autograd_step(model, type(p), pstatic, pnames, cstatic, cidx, cfg,
                                                      spike_fn, self.options)
            return fn(v, r, w, I, noise, *ptensors, *ctensors)
        return self._run_inference(key, fn, model, p, pstatic, pnames, ptensors, cstatic, cidx, ctensors, cfg,
                                   v, r, w, I, noise, pool)

    def _run_inference(self, key: Any, fn: Optional[Callable[..., Any]], model: Any, p: Any, pstatic: Any, pnames: Any,
                       ptensors: List[Tensor], cstatic: Any, cidx: Any, ctensors: List[Tensor], cfg: StepConfig,
                       v: Tensor, r: Tensor, w: Optional[Tensor], I: Tensor, noise: Optional[Tensor],
                       pool: Optional[OutputPool]) -> StepResult:
        pool = pool if pool is not None else OutputPool(0)
        big = _big_outputs(cfg, v, r, w)
        outs = [pool.take(name, v) for name in big]
        ins = [t for t in (v, r, w, I, noise) if t is not None] + ptensors + ctensors
        present = tuple(t is not None for t in (w, noise))
        if fn is None:
            graph = _inference_graph(model, type(p), pstatic, pnames, cstatic, cidx, cfg, present, big, len(ptensors))
            with torch.no_grad():
                fn = self._cache[key] = _inductor(graph, ins + outs, v.numel(), self.options)
        with torch.no_grad():
            small = fn(*ins, *outs)
        return _assemble(cfg, big, outs, small, r, w)


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


def _assemble(cfg: StepConfig, big: Sequence[str], outs: Sequence[Tensor], small: Sequence[Tensor], r: Tensor,
              w: Optional[Tensor]) -> StepResult:
    got = dict(zip(big, outs))
    it = iter(small)
    r1 = got["r"] if "r" in got else next(it)
    winners = next(it) if cfg.want_winners else None
    bad = next(it) if cfg.check_finite else None
    out = StepOutput(spikes=got["spikes"], potentials=got.get("potentials", got["v"]),
                     thresholded=got.get("thresholded"), dudt=got.get("dudt"), winners=winners,
                     winning_spikes=got.get("winning_spikes"))
    return StepResult(out, got["v"], r1, got.get("w"), bad)


def _inductor(graph: Callable[..., Any], example: List[Tensor], numel: int, options: Dict[str, Any]) -> Callable[..., Any]:
    """``graph`` traced with ``make_fx`` and compiled by inductor (no dynamo guards: the layer
    keys its own cache on everything the trace specialised on)."""
    from torch._inductor.compile_fx import compile_fx
    from torch.fx.experimental.proxy_tensor import make_fx

    patches = dict(options)
    if numel < SMALL and example[0].device.type == "cpu":
        patches.setdefault("cpp.threads", 1)
    gm = make_fx(graph)(*[t.clone() for t in example])
    compiled = compile_fx(gm, example, config_patches=patches or None)

    def call(*args: Tensor) -> Tuple[Tensor, ...]:
        return compiled(*args)

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
