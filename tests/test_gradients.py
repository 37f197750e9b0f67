"""Gradients through the neuron layers (surrogate spikes, BPTT, learnable parameters).

* every registered model: the gradient of a loss over several steps, to the input and to
  learnable parameters, equals that of an independent autograd implementation of the same
  step written here from the models' documented equations (not calling ``neuron_step``),
  with the reset detached and kept;
* refractory and k-WTA masks are constants (the reference computes them without a graph);
* ``torch.autograd.gradcheck`` where the step is smooth (below threshold, float64);
* parity with snnTorch's ``Leaky`` (atan surrogate, reset to zero) for LIF_Simple;
* learnable parameters: rules checked after an optimizer changes them, clear errors where
  no gradient could reach them, the compiled backend's gradients equal the eager ones;
* a small conv + LIF network trained by BPTT on shipped digits beats chance.
"""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import spyketorch.neurons as sn
from spyketorch.neurons import surrogate as sg

NAMES = sorted(sn.MODELS)
#: the base model whose equations a layer integrates, most specific first
KINDS = ("LIF_ode", "AdaptiveLIF", "LIF_Simple", "EIF_Simple", "AdEx", "LIF", "IF", "EIF", "QIF", "Izhikevich",
         "ResonateAndFire")
#: parameters learned in the comparison, per base model ("threshold": per_neuron_thresh)
LEARN = {
    "IF": ("threshold", "C", "resting_potential"),
    "LIF": ("threshold", "tau_rc", "C", "resting_potential"),
    "LIF_ode": ("tau_rc", "C"),
    "LIF_Simple": ("threshold", "tau_rc"),
    "EIF": ("tau_rc", "delta_t", "theta_rh", "C", "v_reset"),
    "EIF_Simple": ("tau_rc", "delta_t", "theta_rh"),
    "QIF": ("tau_rc", "u_c", "a", "C"),
    "AdEx": ("threshold", "tau_rc", "a", "b", "tau_w"),
    "Izhikevich": ("threshold", "a", "b", "c", "d"),
    "AdaptiveLIF": ("threshold", "tau_rc", "beta", "tau_adapt"),
    "ResonateAndFire": ("threshold", "b", "omega", "x_reset"),
}
UNIFORM_LEARN = {"UniformIzhikevich": ("a", "d"), "UniformResonateAndFire": ("b", "omega")}
ALPHA = 0.5


def kind_of(cls: type) -> str:
    return next(c.__name__ for c in cls.__mro__ if c.__name__ in KINDS)


class RefSpike(torch.autograd.Function):
    """Heaviside forward, arctan derivative backward (written here, not the library's)."""

    @staticmethod
    def forward(ctx, x, alpha):
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        a = ctx.alpha
        return g * (a / 2) / (1 + (math.pi / 2 * a * x) ** 2), None


def xexp(x):
    return torch.exp(torch.clamp(x, max=50.0))


class Reference:
    """One step of each model from its documented equations, with its own state."""

    def __init__(self, layer: sn.Neuron, P: dict, detach_reset: bool, mode: str = "none", R: int = 0, k: int = 1):
        self.kind = kind_of(type(layer))
        self.P, self.detach_reset, self.mode, self.R, self.k = P, detach_reset, mode, R, k
        self.ts = layer.ts
        self.floored = layer.clamp_at_rest
        self.amp = layer.spike_amplitude
        self.u = self.w = self.r = None

    def thr(self):
        P = self.P
        return P["per_neuron_thresh"] if P.get("per_neuron_thresh") is not None else P["threshold"]

    def follows(self, name):
        v = self.P.get(name)
        if v is not None:
            return v
        t = self.thr()
        return t - abs(t) * 0.25

    def rest(self):
        return self.P["resting_potential"]

    def v_reset(self):
        if self.kind == "Izhikevich":
            return self.P["c"]
        v = self.P.get("v_reset")
        return self.rest() if v is None else v

    def start(self, shape, dtype):
        P, rest = self.P, self.rest()
        self.u = torch.zeros(shape, dtype=dtype) + rest
        self.r = torch.zeros(shape, dtype=dtype)
        if self.kind == "Izhikevich":
            self.w = P["b"] * self.u
        elif self.kind in ("AdEx", "AdaptiveLIF", "ResonateAndFire"):
            self.w = torch.zeros(shape, dtype=dtype)

    def integrate(self, u, w, I):
        P, ts, rest = self.P, self.ts, self.rest()
        kind = self.kind
        if kind == "IF":
            return u + ts / P["C"] * I, None
        if kind in ("LIF", "AdaptiveLIF"):
            e = torch.exp(-ts / torch.as_tensor(P["tau_rc"]))
            u1 = rest + (u - rest) * e + ts / P["C"] * I
            return u1, (w * torch.exp(-ts / torch.as_tensor(P["tau_adapt"])) if kind == "AdaptiveLIF" else None)
        if kind == "LIF_ode":
            return u + ts / P["tau_rc"] * (rest - u) + ts / P["C"] * I, None
        if kind == "LIF_Simple":
            return rest + (u - rest) * (1 - ts / P["tau_rc"]) + I, None
        if kind in ("EIF", "AdEx"):
            d, tau, R = P["delta_t"], P["tau_rc"], P["tau_rc"] / P["C"]
            drive = I - w if kind == "AdEx" else I
            return u + ts / tau * (-(u - rest) + d * xexp((u - self.follows("theta_rh")) / d) + R * drive), None
        if kind == "EIF_Simple":
            d = P["delta_t"]
            return rest + (u - rest) * (1 - ts / P["tau_rc"]) + d * xexp((u - self.follows("theta_rh")) / d) + I, None
        if kind == "QIF":
            return u + ts / P["tau_rc"] * (P["a"] * (u - rest) * (u - self.follows("u_c")) + P["tau_rc"] / P["C"] * I), None
        if kind == "Izhikevich":
            return u + 1000.0 * ts * (0.04 * u * u + 5 * u + 140 - w + I), None
        # resonate-and-fire: a damped rotation of (x, y), the input a kick of x
        E = torch.exp(torch.as_tensor(P["b"]) * ts)
        th = torch.as_tensor(P["omega"]) * ts
        y, x = u - rest, w + ts * I
        return y * E * torch.cos(th) + x * E * torch.sin(th) + rest, x * E * torch.cos(th) - y * E * torch.sin(th)

    def step(self, I):
        P, u, w, r = self.P, self.u, self.w, self.r
        u1, w1 = self.integrate(u, w, I)
        rest = self.rest()
        refr = (r >= 1).to(u1.dtype)  # a constant: computed from detached spikes
        u1 = u1 * (1 - refr) + refr * rest
        if self.floored:
            u1 = torch.maximum(u1, torch.as_tensor(rest, dtype=u1.dtype))
        thr = self.thr()
        if self.kind == "AdaptiveLIF":
            thr = thr + P["beta"] * w  # raised by the adaptation before this step's decay
        s = RefSpike.apply(u1 - thr, ALPHA)
        base = self.thr()
        if self.kind == "AdEx":
            w1 = w + self.ts * (P["a"] * (torch.minimum(u1, torch.as_tensor(base, dtype=u1.dtype)) - rest) - w) / P["tau_w"]
            w1 = w1 + s * P["b"]
        elif self.kind == "Izhikevich":
            w1 = w + 1000.0 * self.ts * P["a"] * (P["b"] * torch.minimum(u1, torch.as_tensor(base, dtype=u1.dtype)) - w)
            w1 = w1 + s * P["d"]
        elif self.kind == "AdaptiveLIF":
            w1 = w1 + s
        elif self.kind == "ResonateAndFire":
            m = s.detach()
            w1 = w1 * (1 - m) + m * P["x_reset"]
        m = s.detach() if self.detach_reset else s
        post = u1 * (1 - m) + m * self.v_reset()
        sd = s.detach()
        if self.mode == "neuron":
            self.r = torch.maximum(r - 1, sd * self.R)
        elif self.mode == "feature":  # k = 1: the map of the highest potential, if it reached the threshold
            flat = u1.detach().flatten(1)
            top, idx = flat.max(1)
            hw = u1.shape[2] * u1.shape[3]
            lim = torch.zeros(u1.shape[0], u1.shape[1], dtype=u1.dtype)
            lim[torch.arange(u1.shape[0]), idx // hw] = (top >= self.thr()).to(u1.dtype) * self.R
            self.r = torch.maximum(r - 1, lim.view(u1.shape[0], u1.shape[1], 1, 1))
        self.u, self.w = post, w1
        pots = u1 if self.kind == "EIF_Simple" else post
        return s * self.amp, pots


def build(name, detach_reset, learn=None, C=3, **kw):
    spec = sn.MODELS[name]
    layer = spec.build(10.0, None, 0, C)
    for k, v in kw.items():
        setattr(layer, k, v)
    layer.set_surrogate("atan", ALPHA, detach_reset)
    kind = kind_of(spec.cls)
    names = learn if learn is not None else UNIFORM_LEARN.get(name, LEARN[kind])
    layer.set_learn(names)
    return layer.double(), spec


def reference_params(layer):
    """The layer's parameters as float64 leaves (the learnable ones requiring grad)."""
    P = {"threshold": layer.threshold}
    for n in layer.param_names:
        t = layer.param(n)
        P[n] = None if t is None else t.detach().clone().to(torch.float64).requires_grad_(n in layer.learned)
    return P


def run_both(name, detach_reset, mode="none", R=0, T=6, shape=(2, 3, 4, 4), seed=0, learn=None):
    layer, spec = build(name, detach_reset, learn, C=shape[1], inhibition_mode=mode, refractory_timesteps=R)
    P = reference_params(layer)
    ref = Reference(layer, P, detach_reset, mode, R)
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand((T,) + shape, generator=g, dtype=torch.float64) * spec.input_scale * 0.6).requires_grad_()
    wa = torch.randn((T,) + shape, generator=g, dtype=torch.float64)
    wb = torch.randn((T,) + shape, generator=g, dtype=torch.float64)
    loss_l = loss_r = 0.0
    ref.start(shape, torch.float64)
    fired = 0
    for t in range(T):
        out = layer.step(x[t], thresholded=False, dudt=False, winners=False, winning_spikes=False)
        s, u = ref.step(x[t])
        assert torch.equal(out.spikes.detach(), s.detach()), f"{name}: spikes differ at step {t}"
        torch.testing.assert_close(out.potentials.detach(), u.detach(), rtol=1e-9, atol=1e-9)
        fired += int(s.detach().count_nonzero())
        loss_l = loss_l + (out.spikes * wa[t]).sum() / ref.amp + (out.potentials * wb[t]).sum()
        loss_r = loss_r + (s * wa[t]).sum() / ref.amp + (u * wb[t]).sum()
    learned = [layer.param(n) for n in layer.learned]
    mine = [P[n] for n in layer.learned]
    gl = torch.autograd.grad(loss_l, [x] + learned)
    gr = torch.autograd.grad(loss_r, [x] + mine)
    return layer, fired, gl, gr


@pytest.mark.parametrize("detach_reset", [True, False], ids=["detached", "kept"])
@pytest.mark.parametrize("name", NAMES)
def test_gradients_equal_an_independent_implementation(name, detach_reset):
    layer, fired, gl, gr = run_both(name, detach_reset)
    assert fired > 0, "the comparison must cover spikes and resets"
    assert gl[0].abs().sum() > 0
    for n, a, b in zip(("input",) + layer.learned, gl, gr):
        assert a.shape == b.shape, n
        torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-9, msg=lambda m: f"{name} d/d{n}: {m}")
        assert torch.isfinite(a).all()
    # every learned parameter gets a gradient (no silently missing one)
    assert all(g is not None and g.abs().sum() > 0 for g in gl[1:]) or name.endswith("Izhikevich")


def test_keeping_the_reset_changes_the_gradient():
    _, _, detached, _ = run_both("LIF", True)
    _, _, kept, _ = run_both("LIF", False)
    assert not torch.allclose(detached[0], kept[0])


@pytest.mark.parametrize("mode", ["neuron", "feature"])
@pytest.mark.parametrize("name", ["LIF", "AdEx", "LIF_Simple"])
def test_refractory_and_kwta_masks_are_constants(name, mode):
    layer, fired, gl, gr = run_both(name, True, mode=mode, R=2, T=8)
    assert fired > 0
    assert layer.refractory is not None and not layer.refractory.requires_grad
    for a, b in zip(gl, gr):
        torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name, kw, learn", [
    ("LIF", dict(threshold=None), "tau_rc"),
    ("LIF_Simple", dict(threshold=None), "tau_rc"),
    ("AdEx", dict(threshold=1e6, theta_rh=20.0), "tau_w"),
    ("AdaptiveLIF", dict(threshold=None), "tau_rc"),
    ("ResonateAndFire", dict(threshold=None), "omega"),
    ("Izhikevich", dict(threshold=1e6), "a"),
])
def test_gradcheck_below_threshold(name, kw, learn):
    cls = sn.MODELS[name].cls
    value = sn.MODELS[name].build(10.0, None, 0, 2).param(learn)
    param = torch.nn.Parameter(value.detach().clone().double().expand(2, 1, 1).contiguous())
    layer = cls(**{**kw, learn: param}, surrogate="atan", refractory_timesteps=0, inhibition_mode="none")
    scale = sn.MODELS[name].input_scale * 0.05
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(4, 1, 2, 2, 2, generator=g, dtype=torch.float64) * scale).requires_grad_()

    def run(x, p):
        layer.reset()
        states = []
        for t in range(x.shape[0]):
            out = layer.step(x[t], winners=False, winning_spikes=False, thresholded=False, dudt=False)
            assert out.spikes.count_nonzero() == 0
            states.append(out.potentials if layer.w is None else torch.stack((out.potentials, layer.w)))
        return torch.stack(states)

    assert torch.autograd.gradcheck(run, (x, param), eps=1e-6, atol=1e-5, rtol=1e-4)


def test_parity_with_snntorch_leaky():
    snn = pytest.importorskip("snntorch", reason="snnTorch (the dev extra) is needed for the parity test")
    from snntorch import surrogate

    torch.manual_seed(0)
    T, shape = 20, (4, 3, 6, 6)
    g = torch.Generator().manual_seed(3)
    x = (torch.rand((T,) + shape, generator=g) * 0.7).requires_grad_()
    wa = torch.randn((T,) + shape, generator=g)
    ours = sn.LIF_Simple(threshold=1.0, tau_rc=0.005, ts=0.001, refractory_timesteps=0, inhibition_mode="none",
                         surrogate="atan")
    theirs = snn.Leaky(beta=0.8, threshold=1.0, spike_grad=surrogate.atan(), reset_mechanism="zero")
    mem = theirs.reset_mem()
    loss_o = loss_t = 0.0
    n_spikes = 0
    for t in range(T):
        s_o = ours.step(x[t]).spikes
        s_t, mem = theirs(x[t], mem)
        assert torch.equal(s_o, s_t), f"spikes differ at step {t}"
        n_spikes += int(s_o.count_nonzero())
        loss_o = loss_o + (s_o * wa[t]).sum()
        loss_t = loss_t + (s_t * wa[t]).sum()
    (go,) = torch.autograd.grad(loss_o, x)
    (gt,) = torch.autograd.grad(loss_t, x)
    assert n_spikes > 100 and gt.abs().sum() > 0
    torch.testing.assert_close(go, gt, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------- surrogates
def test_surrogates_match_snntorch_definitions():
    snn_surrogate = pytest.importorskip("snntorch.surrogate", reason="snnTorch (the dev extra) is needed")
    x = torch.linspace(-2, 2, 40, dtype=torch.float64)  # not 0: snnTorch fires at x > 0, the layers at x >= 0
    for name, theirs in (("atan", snn_surrogate.atan), ("fast_sigmoid", snn_surrogate.fast_sigmoid),
                         ("sigmoid", snn_surrogate.sigmoid)):
        for a in (None, 0.7):
            xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
            fn = theirs() if a is None else theirs(a)
            sa = sg.spike(xa, name, a)
            sb = fn(xb)
            assert torch.equal(sa, sb.to(sa.dtype))
            (sa * torch.arange(40.0, dtype=torch.float64)).sum().backward()
            (sb * torch.arange(40.0, dtype=torch.float64)).sum().backward()
            torch.testing.assert_close(xa.grad, xb.grad.to(xa.grad.dtype), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", sorted(sg.SURROGATES))
def test_surrogate_derivative_integrates_to_one_step(name):
    # each derivative is that of a smooth step from 0 to 1 (its integral over the line is 1)
    x = torch.linspace(-400, 400, 800001, dtype=torch.float64)
    # (snnTorch's fast sigmoid has area 2/k for slope k: 1 at k = 2)
    total = torch.trapezoid(sg.derivative(name, x, 2.0), x)
    assert abs(float(total) - 1.0) < 2e-2


def test_slope_is_alpha():
    a = sn.LIF(threshold=1.0, surrogate="fast_sigmoid", slope=5.0)
    b = sn.LIF(threshold=1.0, surrogate="fast_sigmoid", alpha=5.0)
    assert a.surrogate == b.surrogate and a.surrogate.a == 5.0
    with pytest.raises(TypeError, match="alpha or slope"):
        sn.LIF(threshold=1.0, surrogate="atan", alpha=2.0, slope=2.0)
    with pytest.raises(ValueError, match="slope"):
        sn.LIF(threshold=1.0, surrogate="atan", slope=-1.0)


def test_spikes_are_the_same_with_and_without_a_surrogate():
    for name in NAMES:
        spec = sn.MODELS[name]
        g = torch.Generator().manual_seed(0)
        xs = [torch.rand(2, 3, 4, 4, generator=g) * spec.input_scale for _ in range(5)]
        plain, grad = spec.build(10.0, None, 0, 3), spec.build(10.0, None, 0, 3)
        grad.set_surrogate("sigmoid", 3.0)
        for x in xs:
            a, b = plain.step(x, 2), grad.step(x.clone().requires_grad_(), 2)
            assert torch.equal(a.spikes, b.spikes) and torch.equal(a.winners, b.winners)
            torch.testing.assert_close(a.potentials, b.potentials.detach())


# ---------------------------------------------------------------------------- learnable parameters
def test_learnable_parameters_are_registered_and_trained():
    layer = sn.LIF(threshold=10.0, surrogate="atan", alpha=0.5, learn=("tau_rc", "threshold"),
                   tau_rc=torch.full((3, 1, 1), 0.02), inhibition_mode="none")
    assert layer.learned == ("per_neuron_thresh", "tau_rc")  # declaration order
    assert {n for n, _ in layer.named_parameters()} == {"tau_rc", "per_neuron_thresh"}
    assert layer.tau_rc.shape == (3, 1, 1) and layer.per_neuron_thresh.shape == ()
    assert layer.tau_rc.dtype == torch.float32 and "tau_rc" in layer.state_dict()
    opt = torch.optim.SGD(layer.parameters(), lr=1e-9)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 5, 5, generator=g) * 2000
    before = layer.tau_rc.detach().clone()
    for _ in range(2):  # the plan is reused, the parameters are read as they are now
        layer.reset()
        loss = sum(layer.step(x * (1 + t % 2)).spikes.sum() for t in range(4))
        opt.zero_grad()
        loss.backward()
        assert layer.tau_rc.grad.abs().sum() > 0 and layer.per_neuron_thresh.grad != 0
        opt.step()
    assert not torch.equal(before, layer.tau_rc.detach())
    # a state_dict round trip keeps the parameters learnable, in place
    other = sn.LIF(threshold=10.0, surrogate="atan", learn=("tau_rc", "threshold"))
    keep = other.tau_rc
    other.load_state_dict(layer.state_dict())
    assert other.tau_rc.shape == (3, 1, 1) and torch.equal(other.tau_rc, layer.tau_rc)
    assert keep is not other.tau_rc  # (a new shape needs a new parameter)
    same = sn.LIF(threshold=10.0, surrogate="atan", learn=("tau_rc", "threshold"), tau_rc=torch.full((3, 1, 1), 0.1))
    keep = same.tau_rc
    same.load_state_dict(layer.state_dict())
    assert keep is same.tau_rc and torch.equal(keep, layer.tau_rc)


def test_a_parameter_given_as_nn_parameter_is_shared_and_learned():
    tau = torch.nn.Parameter(torch.full((2, 1, 1), 0.02, dtype=torch.float64))
    layer = sn.LIF(threshold=10.0, surrogate="atan", tau_rc=tau)
    assert layer.tau_rc is tau and layer.learned == ("tau_rc",)
    x = torch.rand(1, 2, 3, 3, dtype=torch.float64) * 2000
    loss = sum(layer.step(x).potentials.sum() for _ in range(3))
    loss.backward()
    assert tau.grad is not None and tau.grad.abs().sum() > 0


def test_rules_are_checked_after_an_optimizer_step():
    layer = sn.LIF_Simple(threshold=1.0, surrogate="atan", learn="tau_rc")
    x = torch.rand(1, 2, 3, 3)
    layer.step(x)
    with torch.no_grad():
        layer.tau_rc.fill_(0.0005)  # below ts: the forward-Euler step is unstable
    layer.reset()
    with pytest.raises(ValueError, match="ts=0.001 is too large"):
        layer.step(x)
    with torch.no_grad():
        layer.tau_rc.fill_(-1.0)
    with pytest.raises(ValueError, match="learnable tau_rc must be > 0"):
        layer.step(x)
    with pytest.raises(ValueError, match="tau_rc must be > 0"):
        layer.tau_rc = -2.0
    layer.tau_rc = 0.05  # in place: an optimizer holding it keeps training it
    assert layer.tau_rc.item() == pytest.approx(0.05) and layer.step(x).spikes.shape == x.shape


def test_no_silently_missing_gradient():
    with pytest.raises(ValueError, match="needs a surrogate"):
        sn.LIF(threshold=1.0, learn="tau_rc")
    with pytest.raises(ValueError, match="needs a surrogate"):
        sn.LIF(threshold=1.0, tau_rc=torch.nn.Parameter(torch.tensor(0.02)))
    with pytest.raises(TypeError, match="would not reach it"):
        sn.LIF(threshold=1.0, surrogate="atan", tau_rc=torch.tensor(0.02, requires_grad=True))
    with pytest.raises(ValueError, match="do not read tau_rc"):
        sn.IF(threshold=1.0, surrogate="atan", learn="tau_rc")
    with pytest.raises(ValueError, match="do not read v_reset"):
        sn.Izhikevich(surrogate="atan", learn="v_reset")
    with pytest.raises(ValueError, match="do not read tau_rc"):
        sn.UniformIzhikevich(surrogate="atan", learn="tau_rc", n_features=2)
    with pytest.raises(ValueError, match="give n_features"):
        sn.UniformLIF(threshold=1.0, surrogate="atan", learn="tau_rc")
    with pytest.raises(ValueError, match="no parameter 'C'"):
        sn.EIF_Simple(threshold=1.0, surrogate="atan", learn="C")
    with pytest.raises(ValueError, match="no threshold to learn"):
        sn.LIF(threshold=None, surrogate="atan", learn="threshold")
    layer = sn.LIF(threshold=1.0, surrogate="atan", learn="tau_rc")
    with pytest.raises(ValueError, match="needs a surrogate"):
        layer.set_surrogate(None)
    # the failed learn left the layer as it was
    layer = sn.IF(threshold=1.0, surrogate="atan")
    with pytest.raises(ValueError):
        layer.set_learn(("C", "tau_rc"))
    assert layer.learned == () and list(layer.parameters()) == []


def test_learned_threshold_winners_follow_the_spikes():
    # a winner is a neuron that spiked, whatever the learned thresholds became
    layer = sn.LIF(threshold=10.0, surrogate="atan", learn="threshold", per_neuron_thresh=torch.full((3, 1, 1), 10.0))
    x = torch.rand(2, 3, 4, 4) * 3000
    with torch.no_grad():
        layer.per_neuron_thresh.fill_(5.0)
    out = layer.step(x, 2)
    spiked = out.spikes > 0
    for b in range(2):
        for f, r, c in out.winners[b].tolist():
            if f >= 0:
                assert spiked[b, f, r, c]
    plain = sn.LIF(threshold=5.0)
    assert torch.equal(plain.step(x, 2).winners, out.winners)


def test_compiled_backend_gives_the_eager_gradients_of_learnable_parameters():
    grads = []
    for backend in ("eager", "compiled"):
        layer = sn.LIF(threshold=10.0, surrogate="atan", alpha=0.5, learn=("tau_rc", "threshold"),
                       tau_rc=torch.full((3, 1, 1), 0.02), inhibition_mode="none", backend=backend)
        # (float32 parameters, float64 input: each step converts them, in its own graph)
        g = torch.Generator().manual_seed(0)
        x = (torch.rand(2, 3, 5, 5, generator=g, dtype=torch.float64) * 2000).requires_grad_()
        run = []
        for rep in range(2):  # the second pass after an optimizer-like change in place
            layer.reset()
            loss = sum(layer.step(x * (1 + t % 2)).spikes.sum() for t in range(4)) * 1e-3
            run.append(torch.autograd.grad(loss, [x, layer.tau_rc, layer.per_neuron_thresh]))
            with torch.no_grad():
                layer.tau_rc.mul_(1.5)
        grads.append(run)
    for a, b in zip(grads[0], grads[1]):
        for ga, gb in zip(a, b):
            torch.testing.assert_close(ga, gb, rtol=1e-9, atol=1e-12)
    assert not torch.equal(grads[0][0][1], grads[0][1][1])  # the change was seen


# ---------------------------------------------------------------------------- learning
def test_bptt_through_a_lif_layer_learns_digits():
    from spyketorch.coding.data import load_mnist_subset

    xtr, ytr = load_mnist_subset(train=True)
    xte, yte = load_mnist_subset(train=False)
    xtr, ytr, xte, yte = xtr[:400].float() / 255, ytr[:400], xte[:300].float() / 255, yte[:300]
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(1, 8, 5, stride=2)
    layer = sn.LIF(threshold=1.0, tau_rc=0.005, ts=0.001, C=0.001, refractory_timesteps=0, inhibition_mode="none",
                   surrogate="atan")
    readout = torch.nn.Linear(8 * 12 * 12, 10)
    opt = torch.optim.Adam(list(conv.parameters()) + list(readout.parameters()), lr=5e-3)
    T = 5

    def logits(x):
        cur = conv(x.unsqueeze(1))
        layer.reset()
        count = sum(layer.step(cur).spikes for _ in range(T)) * layer.ts  # 0/1 spikes
        return readout(count.flatten(1))

    for epoch in range(3):
        for i in range(0, 400, 50):
            loss = F.cross_entropy(logits(xtr[i : i + 50]), ytr[i : i + 50])
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert conv.weight.grad.abs().sum() > 0
    with torch.no_grad():
        acc = float((logits(xte).argmax(1) == yte).float().mean())
    assert acc > 0.6, acc  # chance is 0.1
