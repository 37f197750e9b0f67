"""Spike-timing-dependent plasticity (STDP) and reward-modulated STDP on a
:class:`~spyketorch.layers.Convolution`."""
from __future__ import annotations

import math
from numbers import Real
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from .. import _validation as V
from .. import distributed as _dist
from .. import functional as sf
from ..layers import Convolution

__all__ = ["STDP", "RSTDP"]

IntPair = Union[int, Tuple[int, int]]
Winners = Union[Sequence[Tuple[int, int, int]], Sequence[Sequence[Tuple[int, int, int]]], torch.Tensor]
RatePair = Tuple[float, float]

def _winners_tensor(winners: Winners, batched: bool, b: int, device: torch.device) -> torch.Tensor:
    """Normalise winners to a long tensor ``[B, K, 3]`` padded with -1 (shape and type checked)."""
    if isinstance(winners, torch.Tensor):
        if winners.dtype.is_complex or winners.dtype == torch.bool:
            raise TypeError(f"winners must be an integer tensor, got dtype {winners.dtype}")
        if winners.is_floating_point() and not bool((winners == winners.round()).all()):
            raise TypeError(f"winners must hold integer indices, got a {winners.dtype} tensor with fractions")
        w = winners.to(device=device, dtype=torch.long)
        if not batched:
            w = w.unsqueeze(0)
        if w.dim() != 3 or w.shape[0] != b or w.shape[2] != 3:
            raise ValueError(f"winners tensor must have shape [K, 3] (or [B, K, 3] for a batch), got {tuple(winners.shape)}")
        return w
    try:
        per_sample = [list(winners)] if not batched else [list(s) for s in winners]
        rows = [[tuple(V.integer(v, "winners") for v in wn) for wn in s] for s in per_sample]
    except TypeError as e:
        raise TypeError(f"winners must be (feature, row, column) int triples{' per sample' if batched else ''}: {e}") from None
    if len(per_sample) != b:
        raise ValueError(f"winners must hold one list per sample ({b}), got {len(per_sample)}")
    if any(len(wn) != 3 for s in rows for wn in s):
        raise ValueError("winners must be (feature, row, column) triples")
    k = max([len(s) for s in rows] + [1])
    rows = [s + [(-1, -1, -1)] * (k - len(s)) for s in rows]
    return torch.tensor(rows, dtype=torch.long, device=device).reshape(b, k, 3)


def _check_winner_range(wt: torch.Tensor, c_out: int, ho: int, wo: int) -> None:
    """Every row of ``wt`` ``[B, K, 3]`` is ``(-1, -1, -1)`` or a neuron inside ``[C_out, H', W']``.

    One host synchronisation (only for winners the caller passed in).
    """
    if wt.numel() == 0:
        return
    pad = (wt == -1).all(dim=-1)
    hi = torch.tensor([c_out, ho, wo], device=wt.device)
    inside = ((wt >= 0) & (wt < hi)).all(dim=-1)
    if not bool((pad | inside).all()):
        bad = wt[~(pad | inside)][0].tolist()
        raise ValueError(
            f"winners must be (feature, row, column) inside [0, {c_out}) x [0, {ho}) x [0, {wo}) "
            f"or (-1, -1, -1) padding, got {tuple(bad)}"
        )


class STDP(nn.Module):
    r"""Spike-timing-dependent plasticity on a :class:`Convolution` layer.

    For every winner neuron (feature :math:`f`, position :math:`(r, c)`), each
    synapse of its receptive field is potentiated if the presynaptic neuron
    fired before or at the same step as the winner, and depressed otherwise
    (including when it never fired):

    .. math::
        \Delta W_{f,i} = \begin{cases}
            a^+_f\,(W_{f,i}-W_{lo})(W_{hi}-W_{f,i}) & t_i \le t_f \\
            a^-_f\,(W_{f,i}-W_{lo})(W_{hi}-W_{f,i}) & t_i > t_f
        \end{cases}
        \qquad W \leftarrow \operatorname{clamp}(W + \Delta W, W_{lo}, W_{hi})

    Without the stabiliser the factor :math:`(W-W_{lo})(W_{hi}-W)` is replaced by 1.
    Only the winners' feature maps change. As in SpykeTorch, when the winners
    of one sample name a feature more than once (only winners passed in can),
    the last of them sets that feature's update. The per-feature rates
    :math:`(a^+_f, a^-_f)` are the buffer ``learning_rate`` ``[C_out, 2]``
    (saved in ``state_dict``). Negative rates give anti-STDP.

    **Batches.** For a batch, every sample's winners and spike orderings are
    computed against the *same* current weights and their signed rates are
    summed; the stabiliser is evaluated once at the current weights and the
    clamp applied once:

    .. math::
        W \leftarrow \operatorname{clamp}\Big(W + S(W) \odot \sum_b L_b,\ W_{lo}, W_{hi}\Big)

    where :math:`L_b` is the rate map sample :math:`b` alone would produce
    (:math:`a^\pm` at its winners' synapses, 0 elsewhere). With a batch of one
    this is exactly the per-sample rule; for a larger batch it differs from
    feeding the samples one at a time only in that later samples do not see
    the earlier samples' updates (first order in the rates: same result).

    .. note:: The stabiliser moves weights geometrically towards the bounds. A
        weight closer to a bound than the smallest normal float of its dtype
        (a denormal, which would slow CPU convolutions down a lot) is set to
        the bound, where the stabiliser keeps it anyway.

    Args:
        conv_layer: the layer whose weights learn.
        learning_rate: ``(a+, a-)`` for every feature, a sequence of such pairs
            (one per feature), or a ``[C_out, 2]`` tensor.
        use_stabilizer: use the multiplicative stabiliser. Default: ``True``.
        lower_bound: :math:`W_{lo}`. Default: ``0.0``.
        upper_bound: :math:`W_{hi}`. Default: ``1.0``.

    Shape:
        - ``input_spikes``: ``[T, C_in, H, W]`` or ``[B, T, C_in, H, W]``.
        - ``output_spikes``/``potentials``: ``[T, C_out, H', W']`` (or batched).
        - ``winners``: list of ``(f, r, c)`` / tensor ``[K, 3]``; batched: a list
          of lists or ``[B, K, 3]`` (rows of ``-1`` are ignored). Every other
          row must name a neuron inside ``[C_out, H', W']`` (``ValueError``
          otherwise; checking the winners you pass costs one host sync).

    Example:
        >>> _ = torch.manual_seed(0)
        >>> conv = Convolution(1, 2, 3)
        >>> stdp = STDP(conv, (0.004, -0.003))
        >>> x = torch.ones(4, 1, 5, 5)
        >>> pot = conv(x); spk = sf.fire(pot, 5.0)
        >>> sf.get_k_winners(pot, 1, 0, spk)
        [(1, 0, 0)]
        >>> w0 = conv.weight.clone()
        >>> stdp(x, pot, spk, kwta=1)
        >>> (conv.weight != w0).flatten(1).any(1).tolist()   # only the winner's map learns
        [False, True]
    """

    def __init__(
        self,
        conv_layer: Convolution,
        learning_rate: Union[RatePair, Sequence[RatePair], torch.Tensor],
        use_stabilizer: bool = True,
        lower_bound: float = 0.0,
        upper_bound: float = 1.0,
    ) -> None:
        super().__init__()
        if not isinstance(conv_layer, Convolution):
            raise TypeError(f"conv_layer must be a spyketorch.snn.Convolution, got {type(conv_layer).__name__}")
        self.conv_layer = conv_layer
        c = conv_layer.out_channels
        w = conv_layer.weight
        lr = self._rates_tensor(learning_rate, c).to(device=w.device, dtype=w.dtype)
        V.finite_tensor(lr, "learning_rate (in the weights' dtype)")
        self.register_buffer("learning_rate", lr)
        self.use_stabilizer = bool(use_stabilizer)
        self.lower_bound, self.upper_bound = V.ordered_bounds(lower_bound, upper_bound, "lower_bound", "upper_bound")
        big = torch.finfo(w.dtype).max
        span = self.upper_bound - self.lower_bound
        if self.use_stabilizer and not span * span / 4 < big:  # the stabiliser's (W-lo)(hi-W) must stay finite
            raise ValueError(
                f"lower_bound={self.lower_bound} and upper_bound={self.upper_bound} are too far apart for the "
                f"stabiliser in the weights' dtype {w.dtype}: (upper_bound - lower_bound)**2 / 4 must be < {big:.3g}"
            )

    @staticmethod
    def _rates_tensor(learning_rate: Union[RatePair, Sequence[RatePair], torch.Tensor], c: int) -> torch.Tensor:
        if isinstance(learning_rate, torch.Tensor):
            V.real_tensor(learning_rate, "learning_rate")
            lr = learning_rate.detach().clone().double()
        else:
            try:
                lr = torch.tensor(learning_rate, dtype=torch.float64)
            except (TypeError, ValueError, RuntimeError) as e:
                raise TypeError("learning_rate must be a pair (a+, a-), a list of pairs or a tensor") from e
        if lr.shape == (2,):
            lr = lr.unsqueeze(0).repeat(c, 1)
        if lr.shape != (c, 2):
            raise ValueError(f"learning_rate must be a pair or {c} pairs (one per feature), got shape {tuple(lr.shape)}")
        V.finite_tensor(lr, "learning_rate")
        return lr

    # ------------------------------------------------------------------
    def update_learning_rate(self, feature: int, ap: float, an: float) -> None:
        r"""Set :math:`(a^+, a^-)` of one feature map."""
        c = self.learning_rate.shape[0]
        if isinstance(feature, bool) or not isinstance(feature, int) or not -c <= feature < c:
            raise ValueError(f"feature must be an int in [0, {c}), got {feature!r}")
        ap, an = self._rate(ap, "ap"), self._rate(an, "an")
        self.learning_rate[feature, 0] = ap
        self.learning_rate[feature, 1] = an

    def update_all_learning_rate(self, ap: float, an: float) -> None:
        r"""Set :math:`(a^+, a^-)` of every feature map."""
        ap, an = self._rate(ap, "ap"), self._rate(an, "an")
        self.learning_rate[:, 0] = ap
        self.learning_rate[:, 1] = an

    def _rate(self, v: object, name: str) -> float:
        """A finite rate that stays finite in the rates' dtype."""
        f = V.finite_real(v, name)
        if abs(f) > torch.finfo(self.learning_rate.dtype).max:
            raise ValueError(f"{name}={f} overflows the learning rates' dtype {self.learning_rate.dtype}")
        return f

    # ------------------------------------------------------------------
    def _resolve(
        self,
        input_spikes: torch.Tensor,
        potentials: torch.Tensor,
        output_spikes: torch.Tensor,
        winners: Optional[Winners],
        n_winners: int,
        inhibition_radius: int,
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, bool]:
        xin, batched = sf.as_batch(input_spikes, "input_spikes")
        xout, batched_out = sf.as_batch(output_spikes, "output_spikes")
        if batched != batched_out or xin.shape[:2] != xout.shape[:2]:
            raise ValueError(
                f"input_spikes {tuple(input_spikes.shape)} and output_spikes {tuple(output_spikes.shape)} "
                "must share batch and time dimensions"
            )
        kh, kw = self.conv_layer.kernel_size
        c_in = self.conv_layer.in_channels
        exp = (xin.shape[3] - kh + 1, xin.shape[4] - kw + 1)
        if xin.shape[2] != c_in or tuple(xout.shape[3:]) != exp or xout.shape[2] != self.conv_layer.out_channels:
            raise ValueError(
                f"input_spikes {tuple(input_spikes.shape)} and output_spikes {tuple(output_spikes.shape)} "
                f"do not match the layer ({c_in} -> {self.conv_layer.out_channels}, kernel {self.conv_layer.kernel_size})"
            )
        if winners is None:
            wt = sf.get_k_winners(potentials, n_winners, inhibition_radius, output_spikes, as_tensor=True)
            if not batched:
                wt = wt.unsqueeze(0)
        else:
            wt = _winners_tensor(winners, batched, xin.shape[0], xin.device)
            _check_winner_range(wt, self.conv_layer.out_channels, *exp)
        return xin, xout, wt, batched

    def get_pre_post_ordering(
        self, input_spikes: torch.Tensor, output_spikes: torch.Tensor, winners: Winners
    ) -> torch.Tensor:
        r"""Pre-before-or-with-post ordering in each winner's receptive field.

        Args:
            input_spikes: input spike-wave.
            output_spikes: output spike-wave.
            winners: winners (see class doc).

        Returns:
            Bool tensor ``[K, C_in, kh, kw]`` (``[B, K, C_in, kh, kw]`` batched):
            True where the presynaptic first spike is not later than the
            winner's. Rows of padding winners are False.
        """
        xin, xout, wt, batched = self._resolve(input_spikes, None, output_spikes, winners, 1, 0)  # type: ignore[arg-type]
        pairing, _ = self._pairing(xin, xout, wt)
        kh, kw = self.conv_layer.kernel_size
        pairing = pairing.reshape(*pairing.shape[:2], self.conv_layer.in_channels, kh, kw)
        return pairing if batched else pairing[0]

    def _pairing(self, xin: torch.Tensor, xout: torch.Tensor, wt: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Pairing ``[B, K, P]`` and validity ``[B, K]`` from 5-D waves."""
        t = xin.shape[1]
        in_times = t - (xin > 0).sum(dim=1, dtype=torch.int32)
        out_times = t - (xout > 0).sum(dim=1, dtype=torch.int32)
        return self._pairing_times(in_times, out_times, wt)

    def _pairing_times(
        self, in_times: torch.Tensor, out_times: torch.Tensor, wt: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Pairing ``[B, K, P]`` (pre not later than post) and validity ``[B, K]``."""
        b, c_in, h, w = in_times.shape
        _, c_out, ho, wo = out_times.shape
        kh, kw = self.conv_layer.kernel_size
        dev = in_times.device
        in_t = in_times.reshape(b, c_in * h * w).to(torch.int32)  # explicit sizes: an empty batch works
        out_t = out_times.reshape(b, c_out * ho * wo).to(torch.int32)
        valid = wt[..., 0] >= 0
        f = wt[..., 0].clamp(min=0)
        r = wt[..., 1].clamp(min=0)
        c = wt[..., 2].clamp(min=0)
        post = out_t.gather(1, f * ho * wo + r * wo + c)  # [B, K]
        ci = torch.arange(c_in, device=dev).view(-1, 1, 1) * (h * w)
        di = torch.arange(kh, device=dev).view(1, -1, 1) * w
        dj = torch.arange(kw, device=dev).view(1, 1, -1)
        offs = (ci + di + dj).reshape(-1)  # [P]
        k, p = wt.shape[1], offs.numel()
        idx = ((r * w + c).unsqueeze(-1) + offs).reshape(b, k * p)
        pre = in_t.gather(1, idx).reshape(b, k, p)  # [B, K, P]
        pairing = (pre <= post.unsqueeze(-1)) & valid.unsqueeze(-1)
        return pairing, valid

    def _rate_map_from_pairing(
        self, pairing: torch.Tensor, valid: torch.Tensor, wt: torch.Tensor, rates: torch.Tensor,
        sample_gain: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        f = wt[..., 0].clamp(min=0)  # [B, K]
        if wt.shape[1] > 1:  # a feature named twice in one sample: its last winner sets the rates, as in SpykeTorch
            same = (f.unsqueeze(2) == f.unsqueeze(1)) & valid.unsqueeze(1)  # [B, K, K']: row k' names k's feature
            later = torch.ones(wt.shape[1], wt.shape[1], dtype=torch.bool, device=wt.device).triu(1)
            valid = valid & ~(same & later).any(dim=2)
        ap = rates[f, 0].unsqueeze(-1)  # [B, K, 1]
        an = rates[f, 1].unsqueeze(-1)
        vals = torch.where(pairing, ap, an) * valid.unsqueeze(-1).to(ap.dtype)
        if sample_gain is not None:
            vals = vals * sample_gain.view(-1, 1, 1).to(vals.dtype)
        w = self.conv_layer.weight
        lr = torch.zeros(w.shape[0], vals.shape[-1], dtype=w.dtype, device=w.device)
        lr.index_add_(0, f.reshape(-1), vals.reshape(-1, vals.shape[-1]).to(w.dtype))
        return lr.view_as(w)

    def _rate_map(
        self, xin: torch.Tensor, xout: torch.Tensor, wt: torch.Tensor, rates: torch.Tensor,
        sample_gain: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """Sum over samples and winners of the signed rates, shaped like the weights."""
        pairing, valid = self._pairing(xin, xout, wt)
        return self._rate_map_from_pairing(pairing, valid, wt, rates, sample_gain)

    @torch.no_grad()
    def _update_weights(self, lr: torch.Tensor) -> None:
        w = self.conv_layer.weight
        _dist.all_reduce_sum_(lr)  # with a process group: the sum over all ranks' samples (see spyketorch.distributed)
        if self.use_stabilizer:  # the product in SpykeTorch's order, so that one update is the same to the bit
            w.add_(lr * ((w - self.lower_bound) * (self.upper_bound - w)))
        else:
            w.add_(lr)
        w.clamp_(self.lower_bound, self.upper_bound)
        # flush-to-bound: weights closer to a bound than the smallest normal float
        # (denormals, reached by the geometric approach under the stabiliser) would
        # slow every later CPU convolution down by an order of magnitude
        tiny = torch.finfo(w.dtype).tiny
        w.masked_fill_(w - self.lower_bound < tiny, self.lower_bound)
        w.masked_fill_(self.upper_bound - w < tiny, self.upper_bound)

    @torch.no_grad()
    def forward(
        self,
        input_spikes: torch.Tensor,
        potentials: torch.Tensor,
        output_spikes: torch.Tensor,
        winners: Optional[Winners] = None,
        n_winners: Optional[int] = None,
        inhibition_radius: int = 0,
        *,
        kwta: Optional[int] = None,
    ) -> None:
        r"""Apply one STDP update.

        Args:
            input_spikes: presynaptic spike-wave (the convolution's input).
            potentials: postsynaptic potentials (used to pick winners if
                ``winners`` is ``None``).
            output_spikes: postsynaptic spike-wave.
            winners: precomputed winners. Default: ``None`` (use
                :func:`~spyketorch.functional.get_k_winners`).
            n_winners: winners per sample when ``winners`` is ``None`` (int >= 0,
                clamped to ``C_out``). Default: ``1``.
            inhibition_radius: exclusion radius when ``winners`` is ``None``. Default: ``0``.
            kwta: old name of ``n_winners``, still accepted.

        Raises:
            ValueError: a winner outside the output's ``[C_out, H', W']`` (rows
                of ``-1`` are padding), or mismatched shapes.
        """
        k = V.resolve_alias(n_winners, kwta, "n_winners", "kwta", 1)
        xin, xout, wt, _ = self._resolve(input_spikes, potentials, output_spikes, winners, k, inhibition_radius)
        self._update_weights(self._rate_map(xin, xout, wt, self.learning_rate))

    def _resolve_times(self, input_times: torch.Tensor, output_times: torch.Tensor,
                       winners: Winners) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Validated batched first-spike steps and the winners tensor ``[B, K, 3]``."""
        for name, v in (("input_times", input_times), ("output_times", output_times)):
            if not isinstance(v, torch.Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got {type(v).__name__}")
        if input_times.dim() not in (3, 4) or output_times.dim() != input_times.dim():
            raise ValueError(
                f"input_times {tuple(input_times.shape)} and output_times {tuple(output_times.shape)} "
                "must both be [C, H, W] or both [B, C, H, W]"
            )
        batched = input_times.dim() == 4
        it = input_times if batched else input_times.unsqueeze(0)
        ot = output_times if batched else output_times.unsqueeze(0)
        kh, kw = self.conv_layer.kernel_size
        if (
            it.shape[0] != ot.shape[0]
            or it.shape[1] != self.conv_layer.in_channels
            or ot.shape[1] != self.conv_layer.out_channels
            or tuple(ot.shape[2:]) != (it.shape[2] - kh + 1, it.shape[3] - kw + 1)
        ):
            raise ValueError(
                f"input_times {tuple(input_times.shape)} and output_times {tuple(output_times.shape)} "
                f"do not match the layer ({self.conv_layer.in_channels} -> {self.conv_layer.out_channels}, "
                f"kernel {self.conv_layer.kernel_size})"
            )
        wt = _winners_tensor(winners, batched, it.shape[0], it.device)
        _check_winner_range(wt, self.conv_layer.out_channels, ot.shape[2], ot.shape[3])
        return it, ot, wt

    @torch.no_grad()
    def forward_times(self, input_times: torch.Tensor, output_times: torch.Tensor, winners: Winners) -> None:
        r"""Apply one STDP update given first-spike steps instead of spike-waves.

        Equivalent to :meth:`forward` on the accumulating waves these steps
        describe (see :func:`~spyketorch.functional.spike_times` and
        :func:`~spyketorch.functional.first_spike`): a synapse is potentiated
        iff its presynaptic step is ``<=`` the winner's step. Steps ``>= T``
        mean "never fired" (any value works as long as it is larger than every
        firing step).

        Args:
            input_times: presynaptic first-spike steps ``[C_in, H, W]`` or ``[B, C_in, H, W]``.
            output_times: postsynaptic first-spike steps ``[C_out, H', W']`` (or batched).
            winners: winners, as for :meth:`forward`.
        """
        it, ot, wt = self._resolve_times(input_times, output_times, winners)
        pairing, valid = self._pairing_times(it, ot, wt)
        self._update_weights(self._rate_map_from_pairing(pairing, valid, wt, self.learning_rate))


class RSTDP(nn.Module):
    r"""Reward-modulated STDP: STDP on reward, anti-STDP on punishment.

    As in Mozafari et al. (2019), a rewarded sample applies STDP with rates
    :math:`(a_r^+, a_r^-)` and a punished one applies anti-STDP with rates
    :math:`(a_p^+, a_p^-)` (typically :math:`a_p^+ < 0 < a_p^-`: pre-before-post
    synapses are depressed, the others potentiated). The rates live in
    ``self.stdp.learning_rate`` and ``self.anti_stdp.learning_rate``; adapt them
    with ``update_all_learning_rate`` on either.

    .. math::
        \Delta W_{f,i} = S(W_{f,i}) \begin{cases}
            a_r^{\pm}  & \text{reward} \\
            a_p^{\pm}  & \text{punishment}
        \end{cases}

    The sign is chosen by the pre/post order exactly as in :class:`STDP`. For a
    batch, each sample carries its own reward signal (``> 0`` reward, ``< 0``
    punishment, ``0`` no change) and the updates combine as in :class:`STDP`
    (summed against the same weights, one stabiliser and clamp).

    Args:
        conv_layer: the layer whose weights learn.
        reward_rate: ``(a_r+, a_r-)``. Default: ``(0.004, -0.003)``.
        punish_rate: ``(a_p+, a_p-)``. Default: ``(-0.004, 0.0005)``.
        use_stabilizer: stabiliser on or off. Default: ``False``.
        lower_bound: :math:`W_{lo}`. Default: ``0.2``.
        upper_bound: :math:`W_{hi}`. Default: ``0.8``.

    Shape:
        as :class:`STDP`; ``reward`` is a number (unbatched) or ``[B]``.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> conv = Convolution(1, 2, 3)
        >>> rstdp = RSTDP(conv)
        >>> x = torch.ones(4, 1, 5, 5); pot = conv(x); spk = sf.fire(pot, 5.0)
        >>> w0 = conv.weight.clone()
        >>> rstdp(x, pot, spk, reward=-1.0, kwta=1)   # punish: every input fired first
        >>> bool((conv.weight <= w0).all())
        True
    """

    def __init__(
        self,
        conv_layer: Convolution,
        reward_rate: Union[RatePair, Sequence[RatePair], torch.Tensor] = (0.004, -0.003),
        punish_rate: Union[RatePair, Sequence[RatePair], torch.Tensor] = (-0.004, 0.0005),
        use_stabilizer: bool = False,
        lower_bound: float = 0.2,
        upper_bound: float = 0.8,
    ) -> None:
        super().__init__()
        self.stdp = STDP(conv_layer, reward_rate, use_stabilizer, lower_bound, upper_bound)
        self.anti_stdp = STDP(conv_layer, punish_rate, use_stabilizer, lower_bound, upper_bound)

    @staticmethod
    def _reward_signs(reward: Union[float, bool, torch.Tensor], b: int, device: torch.device) -> torch.Tensor:
        """Sign of the reward per sample ``[b]`` (+1 reward, -1 punishment, 0 nothing), validated."""
        if isinstance(reward, bool):
            reward = 1.0 if reward else -1.0
        if isinstance(reward, torch.Tensor):
            V.real_tensor(reward, "reward")
            if reward.is_floating_point() and not bool((~torch.isnan(reward)).all()):
                raise ValueError("reward must not be NaN (> 0 reward, < 0 punishment, 0 nothing)")
            r = torch.sign(reward).to(device=device, dtype=torch.float32).reshape(-1)  # only the sign counts
        elif isinstance(reward, Real):
            if math.isnan(float(reward)):
                raise ValueError("reward must not be NaN (> 0 reward, < 0 punishment, 0 nothing)")
            r = torch.full((1,), float(reward > 0) - float(reward < 0), device=device)
        else:
            raise TypeError(f"reward must be a number, a bool or a tensor, got {type(reward).__name__}")
        if r.numel() == 1:
            r = r.expand(b)
        if r.numel() != b:
            raise ValueError(f"reward must hold one value per sample ({b}), got {r.numel()}")
        return r

    @torch.no_grad()
    def forward(
        self,
        input_spikes: torch.Tensor,
        potentials: torch.Tensor,
        output_spikes: torch.Tensor,
        reward: Union[float, bool, torch.Tensor],
        winners: Optional[Winners] = None,
        n_winners: Optional[int] = None,
        inhibition_radius: int = 0,
        *,
        kwta: Optional[int] = None,
    ) -> None:
        r"""Apply one reward-modulated update.

        Args:
            input_spikes: presynaptic spike-wave.
            potentials: postsynaptic potentials.
            output_spikes: postsynaptic spike-wave.
            reward: ``> 0`` (or ``True``) reward, ``< 0`` (or ``False``)
                punishment, ``0`` nothing; one per sample for a batch. Must not
                be NaN.
            winners: precomputed winners. Default: ``None``.
            n_winners: winners per sample when ``winners`` is ``None``. Default: ``1``.
            inhibition_radius: exclusion radius. Default: ``0``.
            kwta: old name of ``n_winners``, still accepted.
        """
        st = self.stdp
        k = V.resolve_alias(n_winners, kwta, "n_winners", "kwta", 1)
        xin, xout, wt, batched = st._resolve(input_spikes, potentials, output_spikes, winners, k, inhibition_radius)
        r = self._reward_signs(reward, xin.shape[0], xin.device)
        pos = (r > 0).float()
        neg = (r < 0).float()
        lr = st._rate_map(xin, xout, wt, st.learning_rate, pos) + st._rate_map(
            xin, xout, wt, self.anti_stdp.learning_rate, neg
        )
        st._update_weights(lr)

    @torch.no_grad()
    def forward_times(self, input_times: torch.Tensor, output_times: torch.Tensor, winners: Winners,
                      reward: Union[float, bool, torch.Tensor]) -> None:
        r"""Reward-modulated update from first-spike steps, as :meth:`STDP.forward_times` for STDP.

        Same update as :meth:`forward` on the accumulating waves these steps describe.

        Args:
            input_times: presynaptic first-spike steps ``[C_in, H, W]`` or ``[B, C_in, H, W]``.
            output_times: postsynaptic first-spike steps (same batching).
            winners: winners, as for :meth:`forward`.
            reward: as for :meth:`forward`.
        """
        st = self.stdp
        it, ot, wt = st._resolve_times(input_times, output_times, winners)
        r = self._reward_signs(reward, it.shape[0], it.device)
        pairing, valid = st._pairing_times(it, ot, wt)
        lr = st._rate_map_from_pairing(pairing, valid, wt, st.learning_rate, (r > 0).float()) + \
            st._rate_map_from_pairing(pairing, valid, wt, self.anti_stdp.learning_rate, (r < 0).float())
        st._update_weights(lr)
