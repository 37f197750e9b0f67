"""RateModel, Conv2dRateModel and SpikingModel against fixed points, hand-computed steps
and the closed-form first spike of the Euler-integrated LIF neuron."""
import math

import pytest
import torch
import torch.nn.functional as F

from spyketorch.systems.recurrent import Conv2dRateModel, RateModel, SpikingModel


def _stable_matrix(n, gen, radius=0.5):
    J = torch.randn(n, n, generator=gen, dtype=torch.float64)
    return J * radius / torch.linalg.eigvals(J).abs().max()


@pytest.mark.parametrize("kind", ["R", "Z"])
def test_linear_rate_model_converges_to_its_fixed_point(kind):
    g = torch.Generator().manual_seed(0)
    N, Nx = 6, 3
    J = _stable_matrix(N, g)
    Jx = torch.randn(N, Nx, generator=g, dtype=torch.float64)
    model = RateModel(J, readin=Jx, f="id", eta=0.3, Network_Type=kind)
    with torch.no_grad():
        model.recurrent_layer.bias.copy_(torch.linspace(-0.5, 0.5, N, dtype=torch.float64))
    x = torch.randn(2, Nx, generator=g, dtype=torch.float64)
    y = model(x, Nt=300, return_time_series=False)
    # fixed point of r = J r + b + Jx x (the same equation for both types when f = id)
    rhs = (x @ Jx.T + model.recurrent_layer.bias.detach()).T
    expected = torch.linalg.solve(torch.eye(N, dtype=torch.float64) - J, rhs).T
    torch.testing.assert_close(y, expected, rtol=1e-9, atol=1e-9)


def test_first_steps_by_hand_for_both_types():
    g = torch.Generator().manual_seed(1)
    J = torch.randn(4, 4, generator=g, dtype=torch.float64)
    Jo = torch.randn(2, 4, generator=g, dtype=torch.float64)
    x = torch.randn(1, 2, 4, generator=g, dtype=torch.float64)
    eta = 0.4
    r = RateModel(J, readout=Jo, f="tanh", eta=eta, bias_recurrent=False, bias_output=False)
    z = RateModel(J, readout=Jo, f="tanh", eta=eta, bias_recurrent=False, bias_output=False, Network_Type="Z")
    yr, yz = r(x), z(x)
    h1 = eta * torch.tanh(x[:, 0])
    h2 = h1 + eta * (torch.tanh(h1 @ J.T + x[:, 1]) - h1)
    torch.testing.assert_close(yr, torch.stack((h1, h2), 1) @ Jo.T)
    z1 = eta * x[:, 0]
    z2 = z1 + eta * (torch.tanh(z1) @ J.T + x[:, 1] - z1)
    torch.testing.assert_close(yz, torch.tanh(torch.stack((z1, z2), 1)) @ Jo.T)
    torch.testing.assert_close(r.hidden_state_history, torch.stack((h1, h2), 1))


def test_constant_input_keep_history_and_batch():
    torch.manual_seed(0)
    model = RateModel(5, readin=3, readout=2, f="relu", eta=0.2, generator=torch.Generator().manual_seed(3))
    x = torch.randn(4, 3)
    series = model(x.unsqueeze(1).expand(4, 12, 3))
    const = model(x, Nt=12)
    torch.testing.assert_close(series, const)
    last = model(x, Nt=12, return_time_series=False, store_hidden_history=False)
    torch.testing.assert_close(last, const[:, -1])
    assert model.hidden_state_history is None
    # 'keep' continues: 6 + 6 steps equal 12
    model(x, Nt=6)
    cont = model(x, Nt=6, initial_state="keep")
    torch.testing.assert_close(cont, const[:, 6:])
    # batch = one by one
    ones = torch.cat([model(x[i:i + 1], Nt=12) for i in range(4)])
    torch.testing.assert_close(ones, const)
    # an explicit initial state
    h0 = torch.randn(4, 5)
    a = model(x, Nt=3, initial_state=h0)
    b = model(x, Nt=3, initial_state="zero")
    assert not torch.allclose(a, b)


def test_rate_model_trains_by_backprop_through_time():
    torch.manual_seed(0)
    model = RateModel(8, readin=2, readout=1, eta=0.5, generator=torch.Generator().manual_seed(0))
    x = torch.randn(16, 10, 2)
    loss = model(x).pow(2).mean()
    loss.backward()
    assert model.recurrent_layer.weight.grad is not None and model.recurrent_layer.weight.grad.abs().sum() > 0


def test_drawn_weights_have_the_documented_scale():
    model = RateModel(400, readin=100, readout=50, rho_recurrent=2.0, rho_input=0.5, rho_output=3.0,
                      generator=torch.Generator().manual_seed(0))
    assert model.recurrent_layer.weight.std().item() == pytest.approx(2.0 / math.sqrt(400), rel=0.02)
    assert model.input_layer.weight.std().item() == pytest.approx(0.5 / math.sqrt(100), rel=0.03)
    assert model.output_layer.weight.std().item() == pytest.approx(3.0 / math.sqrt(400), rel=0.03)
    assert (model.N_recurrent, model.N_input, model.N_output) == (400, 100, 50)


def test_conv_rate_model_steps_by_hand():
    torch.manual_seed(0)
    model = Conv2dRateModel(3, 3, in_channels=2, readin_kernel_size=3, out_channels=1, readout_kernel_size=1,
                            eta=0.5, bias_recurrent=True).double()
    x = torch.rand(2, 3, 2, 6, 6, dtype=torch.float64)
    y = model(x)
    Wr, br = model.recurrent_layer.weight, model.recurrent_layer.bias
    Wi, Wo = model.input_layer.weight, model.output_layer.weight
    h = torch.zeros(2, 3, 6, 6, dtype=torch.float64)
    outs = []
    for n in range(3):
        h = h + 0.5 * (torch.tanh(F.conv2d(h, Wr, br, padding=1) + F.conv2d(x[:, n], Wi, padding=1)) - h)
        outs.append(F.conv2d(h, Wo))
    torch.testing.assert_close(y, torch.stack(outs, 1))
    const = model(x[:, 0], Nt=3, return_time_series=False)
    assert const.shape == (2, 1, 6, 6)


def test_conv_linear_fixed_point_and_strided_readin():
    torch.manual_seed(0)
    model = Conv2dRateModel(2, 3, f="id", eta=0.5, Network_Type="Z").double()
    with torch.no_grad():
        model.recurrent_layer.weight.mul_(0.1)
    x = torch.rand(1, 2, 5, 5, dtype=torch.float64)
    z = model(x, Nt=200, return_time_series=False)
    # fixed point: z = J * z + x
    torch.testing.assert_close(z, F.conv2d(z, model.recurrent_layer.weight, padding=1) + x)
    strided = Conv2dRateModel(2, 3, in_channels=1, readin_kernel_size=2, readin_stride=2, readin_padding=0)
    assert strided(torch.rand(3, 1, 8, 8), Nt=2).shape == (3, 2, 2, 4, 4)


def _lif_first_spike_steps(V0, I, EL, Vth, taum, dt):
    """Euler LIF from V0: V_n - Vinf = (V0 - Vinf)(1 - dt/taum)^n; first n with V_n >= Vth."""
    Vinf = EL + I
    return math.ceil(math.log((Vinf - Vth) / (Vinf - V0)) / math.log(1 - dt / taum))


def test_spiking_lif_first_spike_and_period_match_the_euler_closed_form():
    p = {"taum": 10.0, "EL": -72.0, "Vth": -55.0, "Vre": -72.0, "Vlb": -85.0}
    I = torch.tensor([[20.0, 25.0, 40.0]], dtype=torch.float64)
    dt, T = 0.1, 200.0
    model = SpikingModel(torch.zeros(3, 3, dtype=torch.float64), tausyn=5.0, NeuronModel="LIF", NeuronParams=p)
    with torch.no_grad():
        res = model(I, dt, T=T, initial_V="zero", VIRecord=[0, 1, 2])
    Nt = int(round(T / dt))
    for j in range(3):
        n1 = _lif_first_spike_steps(p["Vre"], float(I[0, j]), p["EL"], p["Vth"], p["taum"], dt)
        times = res["spike_times"][res["spike_index"][:, 1] == j]
        expected = torch.arange(n1, Nt + 1, n1, dtype=torch.float64) * dt  # reset to Vre: periodic
        torch.testing.assert_close(times, expected)
        assert float(res["r"][0, j]) == pytest.approx(len(expected) / T)
        # the recorded trace shows the spike at Vth and the input equals x0 (no coupling)
        assert float(res["V"][0, n1 - 1, j]) == p["Vth"]
        assert bool((res["I"][0, :, j] == I[0, j]).all())


def test_spiking_synaptic_output_is_the_filtered_spike_train():
    # neuron 0 is driven; neuron 1 only receives J[1, 0] * Y_0 (far below threshold)
    J = torch.tensor([[0.0, 0.0], [3.0, 0.0]], dtype=torch.float64)
    dt, tausyn = 0.1, 4.0
    model = SpikingModel(J, tausyn=tausyn, NeuronModel="EIF")
    res = model(torch.tensor([[30.0, 0.0]], dtype=torch.float64), dt, T=50.0, initial_V="zero",
                dtRecord=dt, VIRecord=[1])
    S = res["S"][0]  # bin = one step: S is the spike train (1/dt per spike)
    Y = torch.zeros(2, dtype=torch.float64)
    Ys = []
    for n in range(S.shape[0]):
        Y = Y + dt / tausyn * (S[n] - Y)
        Ys.append(Y)
    Ys = torch.stack(Ys)
    torch.testing.assert_close(res["Y"][0], Ys)
    assert S[:, 0].sum() > 0 and S[:, 1].sum() == 0
    # input of neuron 1 at step n is J[1, 0] * Y_0 after step n - 1
    torch.testing.assert_close(res["I"][0, 1:, 0], 3.0 * Ys[:-1, 0])


def test_spiking_batch_equals_one_by_one_and_tburn_rates():
    g = torch.Generator().manual_seed(0)
    N = 20
    J = torch.randn(N, N, generator=g) * 2.0 / math.sqrt(N)
    Jx = torch.rand(N, 3, generator=g)
    model = SpikingModel(J, tausyn=torch.full((N,), 3.0), readin=Jx)
    x0 = torch.full((3, N), 15.0)
    x = torch.rand(3, 150, 3, generator=g) * 10
    V0 = torch.full((3, N), -70.0) + torch.rand(3, N, generator=g) * 10
    res = model(x0, 0.1, x=x, initial_V=V0, Tburn=5.0)
    for b in range(3):
        one = model(x0[b:b + 1], 0.1, x=x[b:b + 1], initial_V=V0[b:b + 1], Tburn=5.0)
        torch.testing.assert_close(one["r"], res["r"][b:b + 1])
    # r counts only spikes after Tburn = 50 steps (end-of-step times > 5)
    late = res["spike_times"] > 5.0 + 1e-9
    counts = torch.zeros(3, N)
    counts.index_put_((res["spike_index"][late, 0], res["spike_index"][late, 1]), torch.ones(int(late.sum())),
                      accumulate=True)
    assert counts.sum() > 0
    torch.testing.assert_close(res["r"], counts / 10.0)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="recurrent"):
        RateModel(torch.zeros(3, 4))
    with pytest.raises(TypeError, match="recurrent"):
        RateModel("ten")
    with pytest.raises(ValueError, match="f must"):
        RateModel(3, f="sigmoid")
    with pytest.raises(ValueError, match="Network_Type"):
        RateModel(3, Network_Type="Q")
    with pytest.raises(ValueError, match="eta"):
        RateModel(3, eta=0)
    with pytest.raises(ValueError, match="readin"):
        RateModel(3, readin=torch.zeros(4, 2))
    model = RateModel(3, readin=2)
    with pytest.raises(ValueError, match="N_input"):
        model(torch.zeros(1, 5, 3))
    with pytest.raises(ValueError, match="Nt"):
        model(torch.zeros(1, 2))
    with pytest.raises(ValueError, match="initial_state"):
        model(torch.zeros(1, 2), Nt=2, initial_state="ones")
    with pytest.raises(TypeError, match="x must"):
        model([[0.0, 0.0]], Nt=2)
    with pytest.raises(ValueError, match="readin_kernel_size"):
        Conv2dRateModel(2, 3, in_channels=1)
    with pytest.raises(ValueError, match="in_channels"):
        Conv2dRateModel(2, 3)(torch.zeros(1, 3, 4, 4), Nt=2)
    sm = SpikingModel(torch.zeros(2, 2), tausyn=1.0)
    with pytest.raises(ValueError, match="x0"):
        sm(torch.zeros(1, 3), 0.1, T=1.0)
    with pytest.raises(TypeError, match="x0"):
        sm(torch.zeros(1, 2, dtype=torch.float64), 0.1, T=1.0)
    with pytest.raises(ValueError, match="T is required"):
        sm(torch.zeros(1, 2), 0.1)
    with pytest.raises(ValueError, match="dtRecord"):
        sm(torch.zeros(1, 2), 0.1, T=1.0, dtRecord=0.15)
    with pytest.raises(ValueError, match="Tburn"):
        sm(torch.zeros(1, 2), 0.1, T=1.0, Tburn=2.0)
    with pytest.raises(ValueError, match="NeuronParams"):
        SpikingModel(torch.zeros(2, 2), tausyn=1.0, NeuronParams={"tau": 3.0})
    with pytest.raises(ValueError, match="tausyn"):
        SpikingModel(torch.zeros(2, 2), tausyn=-1.0)
