r"""Recurrent rate networks and a recurrent spiking network, as batched torch modules.

* :class:`RateModel` – a discrete-time rate network with R-type or Z-type dynamics,
  optional read-in and read-out matrices, trainable by backpropagation through time.
* :class:`Conv2dRateModel` – the same with convolutions: a recurrent convolution
  with ``'same'`` padding and read-in / read-out convolutions.
* :class:`SpikingModel` – a recurrent network of exponential or leaky
  integrate-and-fire neurons coupled through low-pass filtered spike trains.

The constructor arguments and call signatures follow the NeuroRNNTools models
(``RateModel(recurrent, readin, readout, f, eta, rho_*, bias_*, Network_Type)``,
``model(x, Nt, initial_state, return_time_series, store_hidden_history)``,
``SpikingModel(recurrent, tausyn, readin, NeuronModel, NeuronParams)``,
``model(x0, dt, x, T, initial_V, initial_Y, dtRecord, Tburn, VIRecord)``); states
live on the input's device and dtype and move with ``.to()``.

Example:
    >>> from spyketorch.systems.recurrent import ACTIVATIONS
    >>> sorted(ACTIVATIONS)
    ['id', 'relu', 'tanh']
"""
from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

__all__ = ["RateModel", "Conv2dRateModel", "SpikingModel", "ACTIVATIONS"]

#: Activation functions accepted by name.
ACTIVATIONS: Dict[str, Callable[[Tensor], Tensor]] = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "id": lambda x: x,
}


def _activation(f: Union[str, Callable[[Tensor], Tensor]]) -> Callable[[Tensor], Tensor]:
    if isinstance(f, str):
        if f not in ACTIVATIONS:
            raise ValueError(f"f must be one of {tuple(ACTIVATIONS)} or a callable, got {f!r}")
        return ACTIVATIONS[f]
    if callable(f):
        return f
    raise TypeError(f"f must be one of {tuple(ACTIVATIONS)} or a callable, got {type(f).__name__}")


def _positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return value


def _network_type(value: Any) -> str:
    if value not in ("R", "Z"):
        raise ValueError(f"Network_Type must be 'R' or 'Z', got {value!r}")
    return value


def _matrix(name: str, value: Tensor) -> Tensor:
    if value.dim() != 2 or not value.is_floating_point():
        raise ValueError(f"{name} must be a 2-D floating tensor, got shape {tuple(value.shape)} and {value.dtype}")
    return value.detach().clone()


def _random_linear(n_in: int, n_out: int, scale: float, bias: bool, generator: Optional[torch.Generator]) -> nn.Linear:
    layer = nn.Linear(n_in, n_out, bias=bias)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(n_out, n_in, generator=generator) * scale)
        if bias:
            layer.bias.zero_()
    return layer


def _given_linear(weight: Tensor, bias: bool) -> nn.Linear:
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias, dtype=weight.dtype)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias:
            layer.bias.zero_()
    return layer


def _check_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


class _RateDynamics(nn.Module):
    r"""The time loop shared by :class:`RateModel` and :class:`Conv2dRateModel`.

    R-type: :math:`r_{n+1} = r_n + \eta(-r_n + f(J r_n + J_x x_n))`, output
    :math:`J_{out} r`; Z-type: :math:`z_{n+1} = z_n + \eta(-z_n + J f(z_n) + J_x x_n)`,
    output :math:`J_{out} f(z)`.
    """

    recurrent_layer: nn.Module
    input_layer: nn.Module
    output_layer: nn.Module
    _sample_dims: int  # dimensions of one time step of one sample (1: vectors, 3: images)

    def _init_dynamics(self, f: Union[str, Callable[[Tensor], Tensor]], eta: float, Network_Type: str) -> None:
        self.f = _activation(f)
        self.eta = _positive("eta", eta)
        self.Network_Type = _network_type(Network_Type)
        self.register_buffer("hidden_state", None, persistent=False)
        self.register_buffer("hidden_state_history", None, persistent=False)

    def _split_time(self, x: Any, Nt: Optional[int]) -> Tuple[Tensor, int, bool]:
        if not isinstance(x, Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"x must have a floating dtype, got {x.dtype}")
        d = self._sample_dims
        if x.dim() == d + 2:
            if Nt is not None and Nt != x.shape[1]:
                raise ValueError(f"Nt={Nt} disagrees with the time axis of x ({x.shape[1]}); pass Nt=None")
            return x, x.shape[1], True
        if x.dim() == d + 1:
            if Nt is None:
                raise ValueError("x has no time axis: pass Nt, the number of time steps")
            return x, _check_count("Nt", Nt), False
        raise ValueError(f"x must be {d + 2}-D (batch, time, ...) or {d + 1}-D (batch, ...) with Nt, "
                         f"got shape {tuple(x.shape)}")

    def _input_drive(self, x: Tensor, Nt: int, dynamical: bool) -> Tensor:
        if dynamical:
            B = x.shape[0]
            flat = x.reshape((B * Nt,) + tuple(x.shape[2:]))
            u = self.input_layer(flat)
            return u.reshape((B, Nt) + tuple(u.shape[1:]))
        return self.input_layer(x)

    def _initial(self, initial_state: Any, like: Tensor) -> Tensor:
        if isinstance(initial_state, Tensor):
            if initial_state.shape != like.shape:
                raise ValueError(f"initial_state must have shape {tuple(like.shape)}, got {tuple(initial_state.shape)}")
            return initial_state.to(device=like.device, dtype=like.dtype)
        if initial_state == "zero":
            return torch.zeros_like(like)
        if initial_state in ("keep", "auto"):
            h = self.hidden_state
            if isinstance(h, Tensor) and h.shape == like.shape:
                return h.to(device=like.device, dtype=like.dtype)
            return torch.zeros_like(like)
        raise ValueError(f"initial_state must be 'zero', 'keep' or a tensor, got {initial_state!r}")

    def _run(self, x: Any, Nt: Optional[int], initial_state: Any, return_time_series: bool,
             store_hidden_history: bool) -> Tensor:
        x, Nt, dynamical = self._split_time(x, Nt)
        u = self._input_drive(x, Nt, dynamical)
        like = u[:, 0] if dynamical else u
        h = self._initial(initial_state, like)
        eta, f, rec = self.eta, self.f, self.recurrent_layer
        keep = return_time_series or store_hidden_history
        history: List[Tensor] = []
        for n in range(Nt):
            drive = u[:, n] if dynamical else u
            if self.Network_Type == "R":
                h = h + eta * (f(rec(h) + drive) - h)
            else:
                h = h + eta * (rec(f(h)) + drive - h)
            if keep:
                history.append(h)
        self.hidden_state = h
        hist = torch.stack(history, dim=1) if keep else None
        self.hidden_state_history = hist if store_hidden_history else None
        out_src = f if self.Network_Type == "Z" else (lambda v: v)
        if return_time_series:
            assert hist is not None
            B = hist.shape[0]
            y = self.output_layer(out_src(hist.reshape((B * Nt,) + tuple(hist.shape[2:]))))
            return y.reshape((B, Nt) + tuple(y.shape[1:]))
        return self.output_layer(out_src(h))


class RateModel(_RateDynamics):
    r"""Recurrent rate network with R-type or Z-type dynamics.

    .. math::
        \text{R-type:}\quad r_{n+1} &= r_n + \eta\,\bigl(-r_n + f(J r_n + b + J_x x_n)\bigr),
        \qquad y_n = J_{out} r_n + b_{out} \\
        \text{Z-type:}\quad z_{n+1} &= z_n + \eta\,\bigl(-z_n + J f(z_n) + b + J_x x_n\bigr),
        \qquad y_n = J_{out} f(z_n) + b_{out}

    With :math:`\eta = \Delta t/\tau` these are forward-Euler steps of
    :math:`\tau\,\dot r = -r + f(Jr + J_x x)` and :math:`\tau\,\dot z = -z + J f(z) + J_x x`;
    :math:`\eta = 1` gives a standard (Elman) RNN. The recorded state ``n`` is the
    state after ``n + 1`` steps from the initial state.

    Args:
        recurrent: the number of units ``N`` (then :math:`J` is drawn with entries
            :math:`\mathcal N(0, \rho_{rec}^2/N)`) or an ``[N, N]`` matrix :math:`J`.
        readin: None (no read-in, :math:`J_x = I`, input width ``N``), the input width
            ``Nx`` (entries :math:`\mathcal N(0, \rho_{in}^2/N_x)`) or an ``[N, Nx]`` matrix.
            Default: None.
        readout: None (output is the state), the output width ``Nout`` (entries
            :math:`\mathcal N(0, \rho_{out}^2/N)`) or an ``[Nout, N]`` matrix. Default: None.
        f: ``'tanh'``, ``'relu'``, ``'id'`` or a callable. Default: ``'tanh'``.
        eta: step size :math:`\eta = \Delta t/\tau` (> 0). Default: 1.
        rho_recurrent: scale of a drawn :math:`J`. Default: 1.
        rho_input: scale of a drawn :math:`J_x`. Default: 1.
        rho_output: scale of a drawn :math:`J_{out}`. Default: 1.
        bias_recurrent: learnable bias :math:`b` in the recurrent layer (starts at 0).
            Default: True.
        bias_output: learnable bias :math:`b_{out}` of the read-out (starts at 0).
            Default: True.
        Network_Type: ``'R'`` or ``'Z'``. Default: ``'R'``.
        generator: random generator for drawn matrices (keyword only). Default: None.

    Shape:
        ``x``: ``[B, Nt, Nx]`` (a time series) or ``[B, Nx]`` with ``Nt`` (constant);
        output ``[B, Nt, Nout]`` or, with ``return_time_series=False``, ``[B, Nout]``.

    Attributes:
        hidden_state: state after the last step ``[B, N]``.
        hidden_state_history: states of the last call ``[B, Nt, N]`` (or None).
        N_recurrent, N_input, N_output: layer widths; readin, readout: flags.

    Example:
        >>> model = RateModel(8, readin=3, readout=2, generator=torch.Generator().manual_seed(0))
        >>> model(torch.randn(5, 20, 3)).shape
        torch.Size([5, 20, 2])
        >>> model(torch.randn(5, 3), Nt=20, return_time_series=False).shape
        torch.Size([5, 2])
    """

    _sample_dims = 1

    def __init__(
        self,
        recurrent: Union[int, Tensor],
        readin: Union[int, Tensor, None] = None,
        readout: Union[int, Tensor, None] = None,
        f: Union[str, Callable[[Tensor], Tensor]] = "tanh",
        eta: float = 1,
        rho_recurrent: float = 1,
        rho_input: float = 1,
        rho_output: float = 1,
        bias_recurrent: bool = True,
        bias_output: bool = True,
        Network_Type: str = "R",
        *,
        generator: Optional[torch.Generator] = None,
    ) -> None:
        super().__init__()
        self._init_dynamics(f, eta, Network_Type)
        self.bias_recurrent = bool(bias_recurrent)
        self.bias_output = bool(bias_output)
        if isinstance(recurrent, Tensor):
            J = _matrix("recurrent", recurrent)
            if J.shape[0] != J.shape[1]:
                raise ValueError(f"recurrent must be a square matrix, got shape {tuple(J.shape)}")
            self.N_recurrent = J.shape[0]
            self.rho_recurrent = None
            self.recurrent_layer = _given_linear(J, self.bias_recurrent)
        elif isinstance(recurrent, int) and not isinstance(recurrent, bool):
            N = _check_count("recurrent", recurrent)
            self.N_recurrent = N
            self.rho_recurrent = rho_recurrent
            self.recurrent_layer = _random_linear(N, N, rho_recurrent / math.sqrt(N), self.bias_recurrent, generator)
        else:
            raise TypeError(f"recurrent must be an int or a square 2-D tensor, got {type(recurrent).__name__}")
        N = self.N_recurrent
        if readin is None or readin is False:
            self.readin, self.N_input, self.rho_input = False, N, None
            self.input_layer = nn.Identity()
        elif isinstance(readin, Tensor):
            Jx = _matrix("readin", readin)
            if Jx.shape[0] != N:
                raise ValueError(f"readin must be [N_recurrent={N}, N_input], got shape {tuple(Jx.shape)}")
            self.readin, self.N_input, self.rho_input = True, Jx.shape[1], None
            self.input_layer = _given_linear(Jx, False)
        elif isinstance(readin, int) and not isinstance(readin, bool):
            Nx = _check_count("readin", readin)
            self.readin, self.N_input, self.rho_input = True, Nx, rho_input
            self.input_layer = _random_linear(Nx, N, rho_input / math.sqrt(Nx), False, generator)
        else:
            raise TypeError(f"readin must be None, an int or a 2-D tensor, got {type(readin).__name__}")
        if readout is None or readout is False:
            self.readout, self.N_output, self.rho_output = False, N, None
            self.output_layer = nn.Identity()
        elif isinstance(readout, Tensor):
            Jo = _matrix("readout", readout)
            if Jo.shape[1] != N:
                raise ValueError(f"readout must be [N_output, N_recurrent={N}], got shape {tuple(Jo.shape)}")
            self.readout, self.N_output, self.rho_output = True, Jo.shape[0], None
            self.output_layer = _given_linear(Jo, self.bias_output)
        elif isinstance(readout, int) and not isinstance(readout, bool):
            No = _check_count("readout", readout)
            self.readout, self.N_output, self.rho_output = True, No, rho_output
            self.output_layer = _random_linear(N, No, rho_output / math.sqrt(N), self.bias_output, generator)
        else:
            raise TypeError(f"readout must be None, an int or a 2-D tensor, got {type(readout).__name__}")

    def forward(self, x: Tensor, Nt: Optional[int] = None, initial_state: Union[str, Tensor] = "zero",
                return_time_series: bool = True, store_hidden_history: bool = True) -> Tensor:
        """Run the network over ``Nt`` steps.

        Args:
            x: ``[B, Nt, N_input]`` time series, or ``[B, N_input]`` held for ``Nt`` steps.
            Nt: number of steps for a constant ``x``; None for a time series. Default: None.
            initial_state: ``'zero'``, ``'keep'`` (continue from :attr:`hidden_state`;
                zeros when it is missing or has another batch size) or a ``[B, N]``
                tensor. Default: ``'zero'``.
            return_time_series: return every step (``[B, Nt, N_output]``) or only the
                last (``[B, N_output]``). Default: True.
            store_hidden_history: keep the states in :attr:`hidden_state_history`. Default: True.

        Returns:
            Tensor: the read-out.
        """
        if isinstance(x, Tensor) and x.dim() >= 2 and x.shape[-1] != self.N_input:
            raise ValueError(f"the last dimension of x must be N_input={self.N_input}, got {x.shape[-1]}")
        return self._run(x, Nt, initial_state, return_time_series, store_hidden_history)


class Conv2dRateModel(_RateDynamics):
    r"""Convolutional rate network: :class:`RateModel` with multi-channel 2-D convolutions.

    .. math::
        \text{R-type:}\quad r_{n+1} = r_n + \eta\,\bigl(-r_n + f(J * r_n + J_x * x_n)\bigr),
        \qquad
        \text{Z-type:}\quad z_{n+1} = z_n + \eta\,\bigl(-z_n + J * f(z_n) + J_x * x_n\bigr)

    where :math:`J *` is a convolution ``rec_channels -> rec_channels`` with
    ``padding='same'`` and stride 1, :math:`J_x *` the read-in convolution
    (identity when ``in_channels`` is None) and the output is :math:`J_{out} * r`
    (:math:`J_{out} * f(z)` for Z-type), identity when ``out_channels`` is None.

    Args:
        rec_channels: channels of the recurrent layer.
        rec_kernel_size: kernel size of the recurrent convolution.
        in_channels: input channels; None: no read-in (input has ``rec_channels``). Default: None.
        readin_kernel_size: kernel of the read-in convolution (needed with ``in_channels``). Default: None.
        out_channels: output channels; None: no read-out. Default: None.
        readout_kernel_size: kernel of the read-out convolution (needed with ``out_channels``). Default: None.
        f: ``'tanh'``, ``'relu'``, ``'id'`` or a callable. Default: ``'tanh'``.
        eta: step size (> 0). Default: 1.
        bias_recurrent: bias of the recurrent convolution. Default: False.
        bias_output: bias of the read-out convolution. Default: False.
        readin_padding: padding of the read-in convolution. Default: ``'same'``.
        readin_stride: stride of the read-in convolution. Default: 1.
        readout_padding: padding of the read-out convolution. Default: ``'same'``.
        readout_stride: stride of the read-out convolution. Default: 1.
        Network_Type: ``'R'`` or ``'Z'``. Default: ``'R'``.

    Shape:
        ``x``: ``[B, Nt, C_in, H, W]`` or ``[B, C_in, H, W]`` with ``Nt``; output
        ``[B, Nt, C_out, H', W']`` or ``[B, C_out, H', W']``.

    Example:
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> model = Conv2dRateModel(4, 3, in_channels=1, readin_kernel_size=5, out_channels=2, readout_kernel_size=1)
        >>> model(torch.rand(2, 6, 1, 8, 8)).shape
        torch.Size([2, 6, 2, 8, 8])
    """

    _sample_dims = 3

    def __init__(
        self,
        rec_channels: int,
        rec_kernel_size: Union[int, Tuple[int, int]],
        in_channels: Optional[int] = None,
        readin_kernel_size: Union[int, Tuple[int, int], None] = None,
        out_channels: Optional[int] = None,
        readout_kernel_size: Union[int, Tuple[int, int], None] = None,
        f: Union[str, Callable[[Tensor], Tensor]] = "tanh",
        eta: float = 1,
        bias_recurrent: bool = False,
        bias_output: bool = False,
        readin_padding: Union[str, int, Tuple[int, int]] = "same",
        readin_stride: Union[int, Tuple[int, int]] = 1,
        readout_padding: Union[str, int, Tuple[int, int]] = "same",
        readout_stride: Union[int, Tuple[int, int]] = 1,
        Network_Type: str = "R",
    ) -> None:
        super().__init__()
        self._init_dynamics(f, eta, Network_Type)
        self.rec_channels = _check_count("rec_channels", rec_channels)
        self.bias_recurrent = bool(bias_recurrent)
        self.bias_output = bool(bias_output)
        self.recurrent_layer = nn.Conv2d(rec_channels, rec_channels, rec_kernel_size, bias=self.bias_recurrent,
                                         padding="same")
        if in_channels is None:
            if readin_kernel_size is not None:
                raise ValueError("readin_kernel_size is given but in_channels is None (no read-in layer)")
            self.readin, self.in_channels = False, rec_channels
            self.input_layer = nn.Identity()
        else:
            self.in_channels = _check_count("in_channels", in_channels)
            if readin_kernel_size is None:
                raise ValueError("readin_kernel_size is required with in_channels")
            if readin_padding == "same" and readin_stride not in (1, (1, 1)):
                raise ValueError("readin_padding='same' needs readin_stride=1; give an explicit padding")
            self.readin = True
            self.input_layer = nn.Conv2d(in_channels, rec_channels, readin_kernel_size, bias=False,
                                         padding=readin_padding, stride=readin_stride)
        if out_channels is None:
            if readout_kernel_size is not None:
                raise ValueError("readout_kernel_size is given but out_channels is None (no read-out layer)")
            self.readout, self.out_channels = False, rec_channels
            self.output_layer = nn.Identity()
        else:
            self.out_channels = _check_count("out_channels", out_channels)
            if readout_kernel_size is None:
                raise ValueError("readout_kernel_size is required with out_channels")
            if readout_padding == "same" and readout_stride not in (1, (1, 1)):
                raise ValueError("readout_padding='same' needs readout_stride=1; give an explicit padding")
            self.readout = True
            self.output_layer = nn.Conv2d(rec_channels, out_channels, readout_kernel_size, bias=self.bias_output,
                                          padding=readout_padding, stride=readout_stride)

    def forward(self, x: Tensor, Nt: Optional[int] = None, initial_state: Union[str, Tensor] = "zero",
                return_time_series: bool = True, store_hidden_history: bool = True) -> Tensor:
        """Run the network over ``Nt`` steps (arguments as :meth:`RateModel.forward`).

        ``initial_state`` also accepts ``'auto'``, the reference's spelling of ``'keep'``.
        """
        if isinstance(x, Tensor) and x.dim() >= 4 and x.shape[-3] != self.in_channels:
            raise ValueError(f"x must have in_channels={self.in_channels} channels, got {x.shape[-3]}")
        return self._run(x, Nt, initial_state, return_time_series, store_hidden_history)


#: Default neuron parameters of :class:`SpikingModel` (ms, mV), per model.
NEURON_DEFAULTS: Dict[str, Dict[str, float]] = {
    "EIF": {"taum": 10.0, "EL": -72.0, "Vth": 0.0, "Vre": -72.0, "VT": -55.0, "DT": 1.0, "Vlb": -85.0},
    "LIF": {"taum": 10.0, "EL": -72.0, "Vth": -55.0, "Vre": -72.0, "Vlb": -85.0},
}


class SpikingModel(nn.Module):
    r"""Recurrent network of integrate-and-fire neurons coupled through filtered spike trains.

    With time in ms and potentials in mV (the defaults), each of the ``N`` neurons obeys

    .. math::
        \frac{dV}{dt} &= F(V, Z), \qquad V \ge V_{th} \Rightarrow \text{spike},\ V \leftarrow V_{re} \\
        \text{EIF:}\quad F &= \bigl(-(V - E_L) + \Delta_T e^{(V - V_T)/\Delta_T} + Z\bigr)/\tau_m,
        \qquad \text{LIF:}\quad F = \bigl(-(V - E_L) + Z\bigr)/\tau_m \\
        \tau_{syn} \frac{dY}{dt} &= -Y + S, \qquad Z = J Y + J_x x + x_0

    where :math:`S = \sum_k \delta(t - t_k)` are the spike trains (``1/dt`` in the
    step of a spike). Forward Euler with step ``dt``: the input of a step uses the
    synaptic outputs :math:`Y` of the previous step, :math:`V` is floored at
    :math:`V_{lb}`, then neurons at or above :math:`V_{th}` spike and reset, then
    :math:`Y \leftarrow Y + \frac{dt}{\tau_{syn}}(-Y + S)`.

    As in the reference, the run is recorded by autograd when the weights require
    gradients; wrap long simulations in ``torch.no_grad()`` to keep memory flat.

    Args:
        recurrent: ``[N, N]`` connectivity :math:`J` (``J[i, j]``: from ``j`` to ``i``).
        tausyn: synaptic time constant :math:`\tau_{syn}`: a number or ``[N]`` per neuron.
        readin: ``[N, Nx]`` feed-forward matrix :math:`J_x`, or None (the input ``x``
            then has width ``N``). Default: None.
        NeuronModel: ``'EIF'``, ``'LIF'`` or a callable ``F(V, Z)`` (then
            ``NeuronParams`` must give ``Vth``, ``Vre`` and ``Vlb``). Default: ``'EIF'``.
        NeuronParams: overrides of :data:`NEURON_DEFAULTS` (``taum``, ``EL``, ``Vth``,
            ``Vre``, ``VT``, ``DT``, ``Vlb``). Default: {}.

    Example:
        >>> model = SpikingModel(torch.zeros(3, 3), tausyn=5.0, NeuronModel="LIF")
        >>> res = model(torch.full((1, 3), 20.0), dt=0.1, T=100.0, initial_V="zero")
        >>> res["r"].shape, int(res["spike_times"].numel()) > 0
        (torch.Size([1, 3]), True)
    """

    def __init__(self, recurrent: Tensor, tausyn: Union[float, Tensor], readin: Optional[Tensor] = None,
                 NeuronModel: Union[str, Callable[[Tensor, Tensor], Tensor]] = "EIF",
                 NeuronParams: Optional[Dict[str, float]] = None) -> None:
        super().__init__()
        if not isinstance(recurrent, Tensor):
            raise TypeError(f"recurrent must be an [N, N] tensor, got {type(recurrent).__name__}")
        J = _matrix("recurrent", recurrent)
        if J.shape[0] != J.shape[1]:
            raise ValueError(f"recurrent must be square, got shape {tuple(J.shape)}")
        N = J.shape[0]
        self.N_recurrent = N
        self.recurrent_layer = _given_linear(J, False)
        if readin is None or readin is False:
            self.Readin, self.N_input = False, N
            self.input_layer: nn.Module = nn.Identity()
        elif isinstance(readin, Tensor):
            Jx = _matrix("readin", readin)
            if Jx.shape[0] != N:
                raise ValueError(f"readin must be [N={N}, N_input], got shape {tuple(Jx.shape)}")
            self.Readin, self.N_input = True, Jx.shape[1]
            self.input_layer = _given_linear(Jx, False)
        else:
            raise TypeError(f"readin must be None or an [N, N_input] tensor, got {type(readin).__name__}")
        if isinstance(tausyn, Tensor):
            ts = tausyn.detach().to(torch.float64).reshape(-1)
            if ts.numel() not in (1, N) or not bool((ts > 0).all()):
                raise ValueError(f"tausyn must be > 0, a number or [N={N}] values")
            self.register_buffer("tausyn", ts if ts.numel() == N else ts.reshape(()))
        else:
            self.register_buffer("tausyn", torch.tensor(_positive("tausyn", tausyn), dtype=torch.float64))
        params = dict(NeuronParams or {})
        if isinstance(NeuronModel, str):
            if NeuronModel not in NEURON_DEFAULTS:
                raise ValueError(f"NeuronModel must be 'EIF', 'LIF' or a callable F(V, Z), got {NeuronModel!r}")
            unknown = set(params) - set(NEURON_DEFAULTS[NeuronModel])
            if unknown:
                raise ValueError(f"NeuronParams has unknown keys {sorted(unknown)} for {NeuronModel}")
            full = dict(NEURON_DEFAULTS[NeuronModel], **params)
            self.NeuronModel = NeuronModel
            self._F: Optional[Callable[[Tensor, Tensor], Tensor]] = None
        elif callable(NeuronModel):
            missing = {"Vth", "Vre", "Vlb"} - set(params)
            if missing:
                raise ValueError(f"NeuronParams must give {sorted(missing)} with a callable NeuronModel")
            full = params
            self.NeuronModel = "custom"
            self._F = NeuronModel
        else:
            raise TypeError(f"NeuronModel must be 'EIF', 'LIF' or a callable, got {type(NeuronModel).__name__}")
        for k, v in full.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"NeuronParams[{k!r}] must be a finite number, got {v!r}")
        if "taum" in full and full["taum"] <= 0:
            raise ValueError("NeuronParams['taum'] must be > 0")
        if "DT" in full and full["DT"] <= 0:
            raise ValueError("NeuronParams['DT'] must be > 0")
        if not full["Vre"] < full["Vth"]:
            raise ValueError("NeuronParams needs Vre < Vth")
        self.NeuronParams = {k: float(v) for k, v in full.items()}
        for k, v in self.NeuronParams.items():
            setattr(self, k, v)
        self.register_buffer("V", None, persistent=False)
        self.register_buffer("Y", None, persistent=False)

    def F(self, V: Tensor, Z: Tensor) -> Tensor:
        r"""Right-hand side :math:`dV/dt` of the neuron model for potentials ``V`` and input ``Z``."""
        if self._F is not None:
            return self._F(V, Z)
        p = self.NeuronParams
        out = p["EL"] - V + Z
        if self.NeuronModel == "EIF":
            out = out + p["DT"] * torch.exp((V - p["VT"]) / p["DT"])
        return out / p["taum"]

    def _state(self, spec: Any, name: str, B: int, like: Tensor, generator: Optional[torch.Generator]) -> Tensor:
        N = self.N_recurrent
        p = self.NeuronParams
        old = getattr(self, name)
        if isinstance(spec, Tensor):
            if spec.shape != (B, N):
                raise ValueError(f"initial_{name} must have shape {(B, N)}, got {tuple(spec.shape)}")
            return spec.to(device=like.device, dtype=like.dtype).clone()
        if spec == "keep" and isinstance(old, Tensor) and old.shape == (B, N):
            return old.to(device=like.device, dtype=like.dtype)
        if name == "V" and spec in ("random", "keep"):
            top = p.get("VT", p["Vth"])
            u = torch.rand((B, N), generator=generator, device=like.device, dtype=like.dtype)
            return p["Vre"] + (top - p["Vre"]) * u
        if spec in ("zero", "keep"):
            return torch.full((B, N), p["Vre"] if name == "V" else 0.0, device=like.device, dtype=like.dtype)
        opts = "'random', 'zero', 'keep'" if name == "V" else "'zero', 'keep'"
        raise ValueError(f"initial_{name} must be {opts} or a [B, N] tensor, got {spec!r}")

    def forward(
        self,
        x0: Tensor,
        dt: float,
        x: Optional[Tensor] = None,
        T: Optional[float] = None,
        initial_V: Union[str, Tensor] = "random",
        initial_Y: Union[str, Tensor] = "zero",
        dtRecord: Optional[float] = None,
        Tburn: float = 0,
        VIRecord: Union[Sequence[int], Tensor, None] = (),
        *,
        generator: Optional[torch.Generator] = None,
        record_spike_times: bool = True,
    ) -> Dict[str, Optional[Tensor]]:
        r"""Simulate for ``T`` (or the length of the time series ``x`` times ``dt``).

        Args:
            x0: constant input :math:`x_0` added to every neuron ``[B, N]``.
            dt: time step (ms with the default parameters).
            x: time series ``[B, Nt, N_input]`` (then ``T = Nt dt``), constant input
                ``[B, N_input]``, or None. Default: None.
            T: duration; required unless ``x`` is a time series. Default: None.
            initial_V: ``'random'`` (uniform between ``Vre`` and ``VT``, or ``Vth``
                without ``VT``), ``'zero'`` (all at ``Vre``), ``'keep'`` or a ``[B, N]``
                tensor. Default: ``'random'``.
            initial_Y: ``'zero'``, ``'keep'`` or a ``[B, N]`` tensor. Default: ``'zero'``.
            dtRecord: bin width of the recorded ``S`` and ``Y`` (a multiple of ``dt``);
                None: not recorded. Default: None.
            Tburn: time left out of the rates ``r``. Default: 0.
            VIRecord: indices of the neurons whose ``V`` and input ``Z`` are recorded
                every step. Default: ().
            generator: random generator for ``initial_V='random'`` (keyword only). Default: None.
            record_spike_times: return the spike times (keeps a ``[Nt, B, N]`` boolean
                raster during the run; keyword only). Default: True.

        Returns:
            dict with ``'r'`` ``[B, N]`` rates (spikes per unit of time after
            ``Tburn``), ``'S'``, ``'Y'`` ``[B, T/dtRecord, N]`` bin means (None without
            ``dtRecord``), ``'V'`` and ``'I'`` ``[B, Nt, len(VIRecord)]`` (None without
            ``VIRecord``; a spike shows as ``V = Vth``), ``'spike_times'`` ``[K]`` (end of
            the step of each spike, sorted by time) and ``'spike_index'`` ``[K, 2]``
            (sample, neuron), or None.
        """
        if not isinstance(x0, Tensor) or not x0.is_floating_point():
            raise TypeError("x0 must be a floating torch.Tensor [B, N]")
        N = self.N_recurrent
        if x0.dim() != 2 or x0.shape[1] != N:
            raise ValueError(f"x0 must be [B, N={N}], got shape {tuple(x0.shape)}")
        w_dtype = self.recurrent_layer.weight.dtype
        if x0.dtype != w_dtype:
            raise TypeError(f"x0 has dtype {x0.dtype} but the weights are {w_dtype}; convert one of them "
                            f"(e.g. model.to({w_dtype}) or x0.to({w_dtype}))")
        B = x0.shape[0]
        dt = _positive("dt", dt)
        dynamical = False
        if x is not None:
            if not isinstance(x, Tensor) or not x.is_floating_point():
                raise TypeError("x must be a floating torch.Tensor or None")
            if x.dim() == 3:
                dynamical = True
                if T is not None and abs(T - x.shape[1] * dt) > 1e-9 * max(1.0, abs(T)):
                    raise ValueError(f"T={T} disagrees with the time series x ({x.shape[1]} steps of {dt})")
                Nt = x.shape[1]
                T = Nt * dt
            elif x.dim() != 2:
                raise ValueError(f"x must be [B, Nt, N_input] or [B, N_input], got shape {tuple(x.shape)}")
            if x.shape[0] != B or x.shape[-1] != self.N_input:
                raise ValueError(f"x must have batch {B} and width N_input={self.N_input}, got shape {tuple(x.shape)}")
        if T is None:
            raise ValueError("T is required unless x is a time series")
        T = _positive("T", T)
        if not dynamical:
            Nt = int(round(T / dt))
        if Nt < 1:
            raise ValueError(f"T={T} is shorter than one step dt={dt}")
        Tburn = _positive("Tburn", Tburn, allow_zero=True)
        if Tburn >= T:
            raise ValueError(f"Tburn={Tburn} must be < T={T}")
        n_burn = int(math.ceil(Tburn / dt - 1e-9))
        if dtRecord is not None:
            n_rec = int(round(_positive("dtRecord", dtRecord) / dt))
            if n_rec < 1 or n_rec > Nt or abs(n_rec * dt - dtRecord) > 1e-6 * dtRecord:
                raise ValueError(f"dtRecord must be a multiple of dt between dt and T, got {dtRecord}")
            n_bins = Nt // n_rec
        idx = torch.as_tensor(list(VIRecord) if not isinstance(VIRecord, Tensor) else VIRecord,
                              dtype=torch.long).reshape(-1) if VIRecord is not None else torch.zeros(0, dtype=torch.long)
        if idx.numel() and (int(idx.min()) < -N or int(idx.max()) >= N):
            raise ValueError(f"VIRecord indices must be in [0, {N})")
        idx = idx.to(x0.device)

        V = self._state(initial_V, "V", B, x0, generator)
        Y = self._state(initial_Y, "Y", B, x0, generator)
        p = self.NeuronParams
        Vth, Vre, Vlb = p["Vth"], p["Vre"], p["Vlb"]
        a = (dt / self.tausyn).to(device=x0.device, dtype=x0.dtype)
        const = x0 if x is None or dynamical else x0 + self.input_layer(x)
        drive = self.input_layer(x.reshape(B * Nt, -1)).reshape(B, Nt, N) if dynamical else None
        count = torch.zeros_like(x0)
        S_rec = x0.new_zeros((B, n_bins, N)) if dtRecord is not None else None
        Y_rec = x0.new_zeros((B, n_bins, N)) if dtRecord is not None else None
        V_rec = x0.new_zeros((B, Nt, idx.numel())) if idx.numel() else None
        I_rec = x0.new_zeros((B, Nt, idx.numel())) if idx.numel() else None
        raster = torch.zeros((Nt, B, N), dtype=torch.bool, device=x0.device) if record_spike_times else None
        for i in range(Nt):
            Z = self.recurrent_layer(Y) + (const if drive is None else const + drive[:, i])
            V = torch.clamp(V + dt * self.F(V, Z), min=Vlb)
            fired = V >= Vth
            V = torch.where(fired, torch.full_like(V, Vre), V)
            S = fired.to(V.dtype) / dt
            if i >= n_burn:
                count = count + fired.to(V.dtype)
            Y = Y + a * (S - Y)
            if V_rec is not None:
                V_rec[:, i] = torch.where(fired[:, idx], torch.full_like(V[:, idx], Vth), V[:, idx])
                I_rec[:, i] = Z[:, idx]
            if S_rec is not None and i < n_bins * n_rec:
                S_rec[:, i // n_rec] += S
                Y_rec[:, i // n_rec] += Y
            if raster is not None:
                raster[i] = fired
        self.V, self.Y = V, Y
        out: Dict[str, Optional[Tensor]] = {
            "r": count / ((Nt - n_burn) * dt),
            "S": None if S_rec is None else S_rec / n_rec,
            "Y": None if Y_rec is None else Y_rec / n_rec,
            "V": V_rec,
            "I": I_rec,
            "spike_times": None,
            "spike_index": None,
        }
        if raster is not None:
            nz = raster.nonzero()  # [K, 3] (step, sample, neuron), sorted by step
            out["spike_times"] = (nz[:, 0] + 1).to(x0.dtype) * dt
            out["spike_index"] = nz[:, 1:]
        return out
