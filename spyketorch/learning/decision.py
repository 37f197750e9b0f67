r"""Decision layer trained with reward-modulated STDP (Mozafari et al. 2019).

The last layer of the Mozafari et al. network is a convolution without threshold, through
weights kept in :math:`[W_{lo}, W_{hi}]` with :math:`W_{lo} > 0`. SpykeTorch's recipe
(``MozafariDeep.py``) lets its neurons fire at the last step of the presentation, so the
winner is the neuron with the highest potential from every input that fired:
:class:`DecisionLayer` with ``fire="last"``, one convolution of the inputs that fired at
all (the same winners and updates as the spike-wave ops, see its docstring). The rest of
this docstring describes ``fire="first"``, a literal reading of "earliest spike": the
neurons fire as soon as their potential is positive, through weights kept in
:math:`[W_{lo}, W_{hi}]` with :math:`W_{lo} > 0`. Its decision is the class assigned to
the feature of the single winner: the neuron that fires first, ties broken by the
highest potential at that step, then by the lowest ``(feature, row, col)`` index
(the rule of :func:`spyketorch.functional.get_k_winners` with ``k = 1``).

Because every weight is positive, everything this layer computes follows from the
**earliest input step** :math:`t_0 = \min_j t_j` of a sample alone:

* a neuron fires at :math:`t_0` iff an input of its receptive field fired at
  :math:`t_0`, and then its potential is the sum of those inputs' weights, so the
  winner is the arg-max of :math:`\sum_{j \in RF,\, t_j = t_0} W_{f,j}` (no neuron
  can fire before :math:`t_0`, and one that fires later never wins);
* the winner fires at :math:`t_0`, so the synapses whose input fired no later than
  the winner are exactly those with :math:`t_j = t_0`: STDP potentiates them and
  depresses the rest of the receptive field.

:class:`DecisionLayer` therefore computes one potential map per sample (the inputs
that fired at :math:`t_0` through the weights) instead of convolving a spike wave at
every step -- exactly the reference algorithm (the same winners and the same updates,
up to float rounding of the potential sums) at about :math:`1/T` of the cost, with no
host synchronisation in the per-sample loop.

Reward-modulated STDP (no stabiliser, weights clipped to the bounds):

.. math::
    \Delta W_{f^*, j} = \begin{cases} a^+ & t_j \le t_{f^*} \\ a^- & \text{otherwise}\end{cases}
    \qquad (a^+, a^-) = \begin{cases} (a^+_r, a^-_r) & \text{decision correct (reward)} \\
    (a^+_p, a^-_p) & \text{decision wrong (punishment, anti-STDP)} \end{cases}

and nothing changes when the layer is silent. As the reference's STDP clamps its whole
weight tensor after every update, the first update also clamps the rows that did not win
(initial weights drawn above :math:`W_{hi}` are capped at once).

Potentials are computed in float64: the weights are float32 values of at least
:math:`W_{lo} > 0`, so their sums are exact in any order, and the winner (the first
maximum) is the one of the real-number rule, ties included. On the CPU (float32 weights,
``T <= 254``) :meth:`DecisionLayer.train_step` and the decisions run a C kernel
(:mod:`spyketorch._latency_native`): per sample it sums, at each output position, the rows
of the smaller of the inputs that count and those that do not (a potential is then the
all-inputs sum minus the latter), first in reduced precision and then exactly for every
value within the first pass's error bound of the maximum, so it picks the same winner as
the eager float64 path; the weight updates are the same float32 operations. Elsewhere
(another device or dtype, no C compiler, ``SPYKETORCH_NATIVE=0``) the eager path runs.

:meth:`DecisionLayer.train_step` applies this rule sample after sample (the paper's
order). :meth:`DecisionLayer.train_batch` is a mini-batch variant: every sample of the
batch decides against the same weights and the sum of their updates is applied once
(then clipped); with a :mod:`torch.distributed` process group the sum and the counts are
all-reduced, so a batch split over ranks gives the update of the whole batch.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import _latency_native as _native
from .. import distributed as _dist

__all__ = ["earliest_inputs", "DecisionLayer"]


def _check_times(times: Tensor, time_steps: int) -> None:
    """``ValueError``/``TypeError`` naming the argument unless ``times`` is ``[B, C, H, W]`` integer
    first-spike steps and ``time_steps`` a positive int."""
    if not isinstance(times, Tensor) or times.dim() != 4:
        raise ValueError(f"times must be a [B, C, H, W] tensor, got {getattr(times, 'shape', type(times))}")
    if times.is_floating_point() or times.dtype == torch.bool or times.is_complex():
        raise TypeError(f"times must have an integer dtype, got {times.dtype}")
    if isinstance(time_steps, bool) or not isinstance(time_steps, int) or time_steps < 1:
        raise ValueError(f"time_steps must be a positive int, got {time_steps!r}")


def earliest_inputs(times: Tensor, time_steps: int) -> Tuple[Tensor, Tensor]:
    r"""The earliest input step of each sample and the inputs that fired then.

    Args:
        times: first-spike steps ``[B, C, H, W]`` (integer; ``>= time_steps`` = never fired).
        time_steps: number of steps ``T``.

    Returns:
        ``(t0, active)``: ``t0`` ``[B]`` long (``time_steps`` for a silent sample) and
        ``active`` ``[B, C, H, W]`` bool, True where an input fired at ``t0``.

    Example:
        >>> t = torch.tensor([[[[3, 1], [1, 15]]]])
        >>> t0, active = earliest_inputs(t, 15)
        >>> t0, active.flatten().tolist()
        (tensor([1]), [False, True, True, False])
    """
    _check_times(times, time_steps)
    t = times.long().clamp(max=time_steps)
    t0 = t.flatten(1).amin(dim=1) if t.shape[1] * t.shape[2] * t.shape[3] else t.new_full((t.shape[0],), time_steps)
    active = (t == t0.view(-1, 1, 1, 1)) & (t0 < time_steps).view(-1, 1, 1, 1)
    return t0, active


class DecisionLayer(nn.Module):
    r"""Convolutional decision layer: one winner per sample, class by decision map, R-STDP.

    ``fire="first"`` (default): the neurons fire as soon as their potential is positive,
    and the winner is the earliest one; see the module docstring for the equations and why
    the earliest input step is all the layer needs. ``fire="last"``: SpykeTorch's rule for
    a layer without threshold (``functional.fire(potentials)`` keeps only the last step,
    as its ``MozafariDeep.py`` does for layer 3): every neuron with a positive potential
    fires at the last step, so the winner is the neuron with the highest potential from
    all the inputs that fired during the presentation, and R-STDP potentiates every
    synapse whose input fired at all (depresses the others):

    .. math::
        V_{f,p} = \sum_{j \in RF(p),\, t_j < T} W_{f,j}, \qquad
        (f^*, p^*) = \arg\max V, \qquad
        \Delta W_{f^*, j} = a^+ \text{ if } t_j < T \text{ else } a^-.

    Args:
        in_channels: input feature maps.
        out_channels: decision features (``len(decision_map)``).
        kernel_size: square kernel size.
        decision_map: the class of every feature, a sequence of ``out_channels`` ints.
        weight_mean: mean of the initial normal weights. Default: 0.8.
        weight_std: standard deviation of the initial weights. Default: 0.05.
        reward: ``(a+, a-)`` on a correct decision. Default: ``(0.004, -0.003)``.
        punish: ``(a+, a-)`` on a wrong decision (anti-STDP). Default: ``(-0.004, 0.0005)``.
        lower_bound: :math:`W_{lo}` (must be > 0). Default: 0.2.
        upper_bound: :math:`W_{hi}`. Default: 0.8.
        generator: random generator of the initial weights. Default: None (global RNG).
        fire: ``"first"`` (earliest-spike winner) or ``"last"`` (SpykeTorch's last-step
            rule, the reference recipe's). Default: ``"first"``.

    Shape:
        input first-spike steps ``[B, in_channels, H, W]``; decisions ``[B]`` (``-1`` = silent).

    Example:
        >>> layer = DecisionLayer(4, 20, 3, [c for c in range(10) for _ in range(2)],
        ...                       generator=torch.Generator().manual_seed(0))
        >>> times = torch.randint(0, 16, (5, 4, 6, 6), generator=torch.Generator().manual_seed(1))
        >>> layer.decide(times, 15).shape
        torch.Size([5])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        decision_map: Sequence[int],
        weight_mean: float = 0.8,
        weight_std: float = 0.05,
        reward: Tuple[float, float] = (0.004, -0.003),
        punish: Tuple[float, float] = (-0.004, 0.0005),
        lower_bound: float = 0.2,
        upper_bound: float = 0.8,
        generator: Optional[torch.Generator] = None,
        fire: str = "first",
    ) -> None:
        super().__init__()
        if fire not in ("first", "last"):
            raise ValueError(f"fire must be 'first' or 'last', got {fire!r}")
        self.fire = fire
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels), ("kernel_size", kernel_size)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        dmap = torch.as_tensor(list(decision_map), dtype=torch.long)
        if dmap.shape != (out_channels,):
            raise ValueError(f"decision_map must have out_channels={out_channels} entries, got {dmap.numel()}")
        if not (0.0 < float(lower_bound) < float(upper_bound)):
            raise ValueError(f"need 0 < lower_bound < upper_bound, got {lower_bound}, {upper_bound}")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.lower_bound, self.upper_bound = float(lower_bound), float(upper_bound)
        w = torch.empty(out_channels, in_channels, kernel_size, kernel_size)
        w.normal_(weight_mean, weight_std, generator=generator)
        self.weight = nn.Parameter(w, requires_grad=False)
        self.register_buffer("decision_map", dmap)
        self.register_buffer("rates", torch.tensor([list(reward), list(punish)], dtype=torch.float32))

    # ------------------------------------------------------------------ rates
    def set_rates(self, reward: Tuple[float, float], punish: Tuple[float, float]) -> None:
        """Set the reward ``(a+, a-)`` and punishment ``(a+, a-)`` rates."""
        r = torch.tensor([list(reward), list(punish)], dtype=torch.float64)
        if r.shape != (2, 2) or not bool(torch.isfinite(r).all()):
            raise ValueError(f"reward and punish must be finite (a+, a-) pairs, got {reward}, {punish}")
        self.rates.copy_(r)

    # ------------------------------------------------------------------ inference
    def active_inputs(self, times: Tensor, time_steps: int) -> Tensor:
        """The inputs that count for the decision and the update, ``[B, C, H, W]`` bool:
        those that fired at the earliest step (``fire="first"``) or at all (``"last"``)."""
        if self.fire == "last":
            _check_times(times, time_steps)
            return times.long() < time_steps  # long: uint8 steps compared with T > 255 would wrap
        return earliest_inputs(times, time_steps)[1]

    def potentials_at_first_step(self, active: Tensor) -> Tensor:
        """Potentials ``[B, F, H', W']`` (float64: exact sums of the weights) at the deciding step,
        from :meth:`active_inputs`' mask."""
        return F.conv2d(active.to(torch.float64), self.weight.to(torch.float64))

    def _native_ok(self, times: Tensor, time_steps: int) -> bool:
        return _native.usable(self.weight, times, time_steps=time_steps) and self.weight.dim() == 4

    def winners(self, times: Tensor, time_steps: int) -> Tensor:
        """Winner ``(feature, row, col)`` of each sample, ``[B, 3]`` long, ``-1`` rows when silent."""
        _check_times(times, time_steps)
        k = self.kernel_size
        h, w = times.shape[2] - k + 1, times.shape[3] - k + 1
        if self._native_ok(times, time_steps) and times.shape[1] == self.in_channels and h > 0 and w > 0:
            flat, _ = _native.decision(times, torch.arange(times.shape[0]), self.weight.data, time_steps,
                                       self.fire == "first")
            idx = flat.clamp(min=0)
            win = torch.stack((idx // (h * w), (idx % (h * w)) // w, idx % w), dim=1)
            return torch.where((flat >= 0).unsqueeze(1), win, torch.full_like(win, -1))
        pot = self.potentials_at_first_step(self.active_inputs(times, time_steps))
        b, f, h, w = pot.shape
        best, idx = pot.flatten(1).max(dim=1)          # first maximum: lowest (feature, row, col)
        win = torch.stack((idx // (h * w), (idx % (h * w)) // w, idx % w), dim=1)
        return torch.where((best > 0).unsqueeze(1), win, torch.full_like(win, -1))

    def decide(self, times: Tensor, time_steps: int) -> Tensor:
        """Class decided for each sample ``[B]`` (``-1`` when the layer stays silent)."""
        win = self.winners(times, time_steps)
        f = win[:, 0]
        return torch.where(f >= 0, self.decision_map[f.clamp(min=0)], f)

    # ------------------------------------------------------------------ learning
    @torch.no_grad()
    def train_step(self, times: Tensor, targets: Tensor, time_steps: int, dropped: Optional[Tensor] = None) -> Tensor:
        """Decide and learn sample after sample (each sees the previous one's update).

        Args:
            times: first-spike steps ``[B, C, H, W]``.
            targets: classes ``[B]``.
            time_steps: ``T``.
            dropped: bool ``[out_channels]``, features that cannot win in this call (dropout, as
                SpykeTorch's ``MozafariShallow.py``: their potentials count as 0). Default: None.

        Returns:
            ``[3]`` long tensor: the numbers of correct, wrong and silent decisions.

        Example:
            >>> layer = DecisionLayer(1, 2, 3, [0, 1], generator=torch.Generator().manual_seed(0))
            >>> _ = layer.weight.data.fill_(0.5)
            >>> times = torch.full((2, 1, 3, 3), 15); times[:, 0, 1, 1] = 2   # same input twice
            >>> layer.train_step(times, torch.tensor([0, 1]), 15)   # feature 0 wins twice: right, then wrong
            tensor([1, 1, 0])
            >>> layer.weight[0, 0, 1]   # centre: 0.5 + 0.004 - 0.004; sides: 0.5 - 0.003 + 0.0005
            tensor([0.4975, 0.5000, 0.4975])
        """
        if not isinstance(targets, Tensor) or targets.shape != (times.shape[0],):
            raise ValueError(f"targets must be a [B] tensor, got {getattr(targets, 'shape', type(targets))}")
        if dropped is not None and (not isinstance(dropped, Tensor) or dropped.shape != (self.out_channels,)
                                    or dropped.dtype != torch.bool):
            raise ValueError(f"dropped must be a bool [{self.out_channels}] tensor, got "
                             f"{getattr(dropped, 'shape', type(dropped))}")
        _check_times(times, time_steps)
        k = self.kernel_size
        b, c, h, w = times.shape
        if c != self.in_channels:
            raise ValueError(f"times must have in_channels={self.in_channels} channels, got {c}")
        if h - k + 1 < 1 or w - k + 1 < 1:
            raise ValueError(f"input {h}x{w} is smaller than the kernel {k}x{k}")
        if self._native_ok(times, time_steps) and targets.device.type == "cpu" and self.weight.is_contiguous():
            _, stats = _native.decision(times, torch.arange(b), self.weight.data, time_steps, self.fire == "first",
                                        targets=targets, decision_map=self.decision_map, rates=self.rates,
                                        lower=self.lower_bound, upper=self.upper_bound, record=False,
                                        dropped=dropped)
            return stats
        return self._train_step_torch(self.active_inputs(times, time_steps), targets, dropped)

    def _train_step_torch(self, active: Tensor, targets: Tensor, dropped: Optional[Tensor] = None) -> Tensor:
        """The eager sequential rule (any device): float64 potentials, float32 updates."""
        k = self.kernel_size
        b, c, h, w = active.shape
        ho, wo = h - k + 1, w - k + 1
        # receptive fields of the inputs that count: 0/1 [B, C*k*k, Ho*Wo] (one unfold per batch)
        dtype = self.weight.dtype
        patches = F.unfold(active.to(torch.float64), k)
        wflat = self.weight.view(self.out_channels, -1)
        w64 = wflat.to(torch.float64)
        n_pos = ho * wo
        stats = torch.zeros(3, dtype=torch.long, device=active.device)
        targets = targets.to(active.device)
        lo, hi = self.lower_bound, self.upper_bound
        # the reference clamps the whole weight at every update: only the first one can change other rows
        pending_clamp = not bool(((wflat >= lo) & (wflat <= hi)).all())
        keep = None if dropped is None else (~dropped.to(active.device)).to(torch.float64).unsqueeze(1)
        for i in range(b):                      # sequential by definition: each sample sees the last update
            pot = w64 @ patches[i]              # [F, Ho*Wo] exact potentials
            if keep is not None:
                pot = pot * keep                # dropped features: potential 0, never fire
            best, idx = pot.view(-1).max(dim=0)  # first maximum: lowest (feature, position)
            f, p = idx // n_pos, idx % n_pos
            correct = self.decision_map[f] == targets[i]
            live = best > 0
            stats[0] += correct & live
            stats[1] += ~correct & live
            stats[2] += ~live
            ap, an = self.rates[(~correct).long()].to(dtype)           # reward or punishment
            fired = patches[i].index_select(1, p.view(1)).view(-1) > 0
            row = (wflat[f] + torch.where(fired, ap, an)).clamp_(lo, hi)  # w + a, one rounding, as the reference
            wflat[f] = torch.where(live, row, wflat[f])
            w64[f] = wflat[f].to(torch.float64)
            if pending_clamp and bool(live):   # a host sync only until the first update
                wflat.clamp_(lo, hi)
                w64.copy_(wflat)
                pending_clamp = False
        return stats

    @torch.no_grad()
    def train_batch(self, times: Tensor, targets: Tensor, time_steps: int) -> Tensor:
        r"""Decide a mini-batch against the same weights and apply the sum of its R-STDP updates.

        .. math::
            W \leftarrow \operatorname{clip}\Big(W + \sum_{b=1}^{B} \Delta W^{(b)},\ W_{lo}, W_{hi}\Big)

        where :math:`\Delta W^{(b)}` is the update sample :math:`b` alone would make from
        the current weights (on its winner's feature: :math:`a^+` on the synapses whose
        input fired at :math:`t_0`, :math:`a^-` on the others; reward or punishment rates;
        zero when silent). With one sample this is :meth:`train_step`; with more, later
        samples do not see the earlier samples' updates and the clip is applied once
        (a batched variant of the paper's sequential rule, not the same trajectory).

        With a :mod:`torch.distributed` process group the summed update and the counts
        are summed over all ranks (:func:`spyketorch.distributed.all_reduce_sum_`: two
        collectives per call, every rank must call it, an empty block included): every
        rank applies the update of the global batch and gets the global counts.

        Args:
            times: first-spike steps ``[B, C, H, W]`` (``B`` may be 0).
            targets: classes ``[B]``.
            time_steps: ``T``.

        Returns:
            ``[3]`` long tensor: the numbers of correct, wrong and silent decisions
            (over all ranks with a process group).

        Shape:
            ``times`` ``[B, in_channels, H, W]``, ``targets`` ``[B]``; output ``[3]``.

        Example:
            >>> layer = DecisionLayer(1, 2, 3, [0, 1], generator=torch.Generator().manual_seed(0))
            >>> _ = layer.weight.data.fill_(0.5)
            >>> times = torch.full((2, 1, 3, 3), 15); times[:, 0, 1, 1] = 2   # same input twice
            >>> layer.train_batch(times, torch.tensor([0, 1]), 15)   # feature 0 wins: right, then wrong
            tensor([1, 1, 0])
            >>> layer.weight[0, 0]   # centre: 0.004 - 0.004; the rest: -0.003 + 0.0005
            tensor([[0.4975, 0.4975, 0.4975],
                    [0.4975, 0.5000, 0.4975],
                    [0.4975, 0.4975, 0.4975]])
        """
        if not isinstance(targets, Tensor) or targets.shape != (times.shape[0],):
            raise ValueError(f"targets must be a [B] tensor, got {getattr(targets, 'shape', type(targets))}")
        active = self.active_inputs(times, time_steps)
        k = self.kernel_size
        b, c, h, w = active.shape
        if c != self.in_channels:
            raise ValueError(f"times must have in_channels={self.in_channels} channels, got {c}")
        ho, wo = h - k + 1, w - k + 1
        if ho < 1 or wo < 1:
            raise ValueError(f"input {h}x{w} is smaller than the kernel {k}x{k}")
        dtype = self.weight.dtype
        wflat = self.weight.view(self.out_channels, -1)
        patches = F.unfold(active.to(dtype), k)                  # [B, C*k*k, Ho*Wo] 0/1
        pot = torch.matmul(wflat.to(torch.float64), patches.to(torch.float64))  # [B, F, Ho*Wo] exact, same W
        idx = pot.flatten(1).argmax(dim=1)                        # first maximum: lowest (feature, position)
        n_pos = ho * wo
        f, p = idx // n_pos, idx % n_pos
        live = active.flatten(1).any(dim=1)
        right = self.decision_map[f] == targets.to(device=times.device, dtype=torch.long)
        rates = self.rates[(~right).long()].to(dtype) * live.unsqueeze(1).to(dtype)   # [B, 2]: (a+, a-) or 0
        fired = patches.gather(2, p.view(b, 1, 1).expand(b, patches.shape[1], 1)).squeeze(2) > 0
        rows = torch.where(fired, rates[:, :1], rates[:, 1:])     # [B, C*k*k] each sample's winner-row update
        delta = torch.zeros_like(wflat).index_add_(0, f, rows)
        counts = torch.stack(((right & live).sum(), (~right & live).sum(), (~live).sum()))
        _dist.all_reduce_sum_(delta)
        _dist.all_reduce_sum_(counts)
        wflat.add_(delta).clamp_(self.lower_bound, self.upper_bound)
        return counts

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, out_channels={self.out_channels}, kernel_size={self.kernel_size}, "
                f"bounds=({self.lower_bound}, {self.upper_bound}), fire={self.fire!r}")
