"""Every public entry point of functional, snn and utils works or refuses clearly (issue 10).

One case per bug class of the issue: odd but plausible input either gives a
valid, finite result (checked against a hand-built expectation) or raises
``ValueError``/``TypeError`` whose message names the offending argument.
Property-based tests of the same API are in ``test_reliability_properties.py``.
"""
from typing import Callable, List, Tuple

import pytest
import torch

import spyketorch.functional as sf
import spyketorch.snn as snn
import spyketorch.utils as su
from spyketorch import _validation as V

NAN, INF = float("nan"), float("inf")


def refuses(exc, arg: str):
    """Expectation: ``exc`` is raised and its message names ``arg``."""
    return ("raises", exc, arg)


def gives(check: Callable):
    """Expectation: a result for which ``check(result)`` holds."""
    return ("ok", check)


def shape_is(*shape):
    return gives(lambda out: tuple(out.shape) == shape and bool(torch.isfinite(out.float()).all()))


def equals(expected):
    return gives(lambda out: out == expected)


def tensor_equals(expected: torch.Tensor):
    return gives(lambda out: out.dtype == expected.dtype and torch.equal(out, expected))


def _conv(c_in=1, c_out=2, k=3, dtype=None):
    torch.manual_seed(0)
    return snn.Convolution(c_in, c_out, k, dtype=dtype)


def _stdp_setup(T=3, H=5, W=5):
    """A 1 -> 2 feature, 3x3 convolution with STDP, an input wave and its output."""
    conv = _conv()
    stdp = snn.STDP(conv, (0.05, -0.05))
    torch.manual_seed(1)
    x = (torch.rand(T, 1, H, W) > 0.5).float()
    pot = conv(x)
    spk = sf.fire(pot, 2.0)
    return conv, stdp, x, pot, spk


def _stdp_weights_after(**kwargs):
    conv, stdp, x, pot, spk = _stdp_setup()
    stdp(x, pot, spk, **kwargs)
    return conv.weight.clone()


def _rstdp(reward):
    conv, _, x, pot, spk = _stdp_setup()
    snn.RSTDP(conv)(x, pot, spk, reward)


def _winners_case(winners):
    conv, stdp, x, pot, spk = _stdp_setup()
    stdp(x, pot, spk, winners=winners)


def _k_winners_clamped():
    torch.manual_seed(2)
    pot = torch.rand(4, 3, 5, 5)
    return sf.get_k_winners(pot, n_winners=10**12), sf.get_k_winners(pot, n_winners=3)


def _lin_float16_zeros():
    out = sf.local_normalization(torch.zeros(1, 4, 4, dtype=torch.float16), 1)
    return out.dtype == torch.float16 and torch.equal(out, torch.zeros(1, 4, 4, dtype=torch.float16))


_P = torch.zeros(3, 2, 1, 1)
_P[1:, 0] = 1.0  # feature 0 fires at step 1
_X = torch.ones(3, 1, 5, 5)

CASES: List[Tuple[str, Callable, tuple]] = [
    # ---------------- shapes: empty dimensions and T = 0 ----------------
    ("pooling T=0", lambda: sf.pooling(torch.zeros(0, 2, 4, 4), 2), shape_is(0, 2, 2, 2)),
    ("pooling B=0", lambda: sf.pooling(torch.zeros(0, 3, 2, 4, 4), 2), shape_is(0, 3, 2, 2, 2)),
    ("pooling C=0", lambda: sf.pooling(torch.zeros(3, 0, 4, 4), 2), shape_is(3, 0, 2, 2)),
    ("pooling H=0", lambda: sf.pooling(torch.zeros(3, 1, 0, 4), 2), refuses(ValueError, "kernel_size")),
    ("pooling kernel > input", lambda: sf.pooling(torch.zeros(3, 1, 3, 3), 5), refuses(ValueError, "kernel_size")),
    ("pooling padding -1", lambda: sf.pooling(torch.zeros(3, 1, 4, 4), 2, padding=-1), refuses(ValueError, "padding")),
    ("pooling padding 3 values", lambda: sf.pooling(torch.zeros(3, 1, 4, 4), 2, padding=(1, 1, 1)),
     refuses(ValueError, "padding")),
    ("pooling stride 0", lambda: sf.pooling(torch.zeros(3, 1, 4, 4), 2, stride=0), refuses(ValueError, "stride")),
    ("threshold T=0", lambda: sf.threshold(torch.zeros(0, 2, 3, 3)), shape_is(0, 2, 3, 3)),
    ("fire T=0", lambda: sf.fire(torch.zeros(0, 2, 3, 3), 1.0), shape_is(0, 2, 3, 3)),
    ("pointwise_inhibition T=0", lambda: sf.pointwise_inhibition(torch.zeros(0, 2, 3, 3)), shape_is(0, 2, 3, 3)),
    ("pointwise_inhibition C=0", lambda: sf.pointwise_inhibition(torch.zeros(3, 0, 3, 3)), shape_is(3, 0, 3, 3)),
    ("pointwise_inhibition B=0", lambda: sf.pointwise_inhibition(torch.zeros(0, 3, 2, 3, 3)), shape_is(0, 3, 2, 3, 3)),
    ("first_spike T=0", lambda: sf.first_spike(torch.zeros(0, 2, 1, 1), 0.5)[0],
     tensor_equals(torch.zeros(2, 1, 1, dtype=torch.long))),
    ("get_k_winners T=0", lambda: sf.get_k_winners(torch.zeros(0, 2, 3, 3), 2), equals([])),
    ("get_k_winners C=0", lambda: sf.get_k_winners(torch.zeros(3, 0, 3, 3), 2), equals([])),
    ("get_k_winners H=0", lambda: sf.get_k_winners(torch.zeros(3, 2, 0, 3), 2), equals([])),
    ("get_k_winners B=0", lambda: sf.get_k_winners(torch.zeros(0, 3, 2, 3, 3), 2), equals([])),
    ("get_k_winners n=0", lambda: sf.get_k_winners(_P, 0), equals([])),
    ("get_k_winners_times T=0", lambda: sf.get_k_winners_times(torch.zeros(2, 1, 1, dtype=torch.long),
                                                                torch.zeros(2, 1, 1), 0, 2), equals([])),
    ("pointwise_inhibition_times C=0", lambda: sf.pointwise_inhibition_times(
        torch.zeros(0, 2, 2, dtype=torch.long), torch.zeros(0, 2, 2), 3)[1], shape_is(0, 2, 2)),
    ("intensity_lateral_inhibition H=0", lambda: sf.intensity_lateral_inhibition(
        torch.zeros(1, 0, 4), torch.zeros(3, 3)), shape_is(1, 0, 4)),
    ("local_normalization H=0", lambda: sf.local_normalization(torch.zeros(2, 0, 4), 1), shape_is(2, 0, 4)),
    ("spike_wave T=0", lambda: sf.spike_wave(torch.zeros(2, 1, 1, dtype=torch.long), 0),
     refuses(ValueError, "time_steps")),
    ("Convolution T=0", lambda: _conv()(torch.zeros(0, 1, 5, 5)), shape_is(0, 2, 3, 3)),
    ("Convolution B=0", lambda: _conv()(torch.zeros(0, 4, 1, 5, 5)), shape_is(0, 4, 2, 3, 3)),
    ("Convolution H=0", lambda: _conv()(torch.zeros(4, 1, 0, 5)), refuses(ValueError, "kernel_size")),
    ("Convolution kernel > input", lambda: _conv(k=5)(torch.zeros(4, 1, 3, 3)), refuses(ValueError, "kernel_size")),
    ("Pooling kernel > input", lambda: snn.Pooling(4)(torch.zeros(2, 1, 3, 3)), refuses(ValueError, "kernel_size")),
    ("Pooling padding -1", lambda: snn.Pooling(2, padding=-1), refuses(ValueError, "padding")),
    ("Pooling padding 3 values", lambda: snn.Pooling(2, padding=(1, 2, 3)), refuses(ValueError, "padding")),
    ("STDP T=0 leaves weights", lambda: _stdp_t0_unchanged(), equals(True)),
    ("Filter B=0", lambda: su.Filter([su.DoGKernel(3, 1, 2)])(torch.zeros(0, 1, 5, 5)), shape_is(0, 1, 3, 3)),
    ("Filter kernel > input", lambda: su.Filter([su.DoGKernel(7, 1, 2)])(torch.zeros(1, 5, 5)),
     refuses(ValueError, "kernel")),
    ("Intensity2Latency B=0", lambda: su.Intensity2Latency(3)(torch.zeros(0, 1, 4, 4)), shape_is(0, 3, 1, 4, 4)),
    ("Intensity2Latency H=0", lambda: su.Intensity2Latency(3)(torch.zeros(1, 0, 4)), shape_is(3, 1, 0, 4)),
    # ---------------- a huge number of winners ----------------
    ("get_k_winners n=1e12 clamps", lambda: (lambda a, b: a == b and len(a) == 3)(*_k_winners_clamped()), equals(True)),
    ("get_k_winners n=1e12 as_tensor", lambda: sf.get_k_winners(_P, 10**12, as_tensor=True),
     tensor_equals(torch.tensor([[0, 0, 0], [-1, -1, -1]]))),
    ("get_k_winners_times n=1e12", lambda: sf.get_k_winners_times(torch.tensor([[[2]], [[0]]]),
                                                                   torch.ones(2, 1, 1), 3, 10**12),
     equals([(1, 0, 0), (0, 0, 0)])),
    ("STDP n_winners=1e12", lambda: torch.equal(_stdp_weights_after(n_winners=10**12), _stdp_weights_after(n_winners=2)),
     equals(True)),
    ("get_k_winners radius=1e12", lambda: sf.get_k_winners(torch.rand(3, 2, 4, 4), 2, 10**12),
     gives(lambda out: len(out) == 1)),
    ("get_k_winners_times negative time = step 0", lambda: sf.get_k_winners_times(
        torch.tensor([[[-5]], [[0]]]), torch.tensor([[[1.0]], [[2.0]]]), 3, 2), equals([(1, 0, 0), (0, 0, 0)])),
    ("feature_inhibition float indices", lambda: sf.feature_inhibition(_P, torch.tensor([0.7])),
     refuses(TypeError, "inhibited_features")),
    ("get_k_winners n=-1", lambda: sf.get_k_winners(_P, -1), refuses(ValueError, "n_winners")),
    ("get_k_winners n=1.5", lambda: sf.get_k_winners(_P, 1.5), refuses(TypeError, "n_winners")),
    ("get_k_winners kwta and n_winners", lambda: sf.get_k_winners(_P, 1, kwta=1), refuses(TypeError, "kwta")),
    ("get_k_winners old kwta name", lambda: sf.get_k_winners(_P, kwta=2), equals([(0, 0, 0)])),
    ("STDP old kwta name", lambda: torch.equal(_stdp_weights_after(kwta=2), _stdp_weights_after(n_winners=2)),
     equals(True)),
    # ---------------- learning ----------------
    ("STDP winner column past edge", lambda: _winners_case([(0, 0, 3)]), refuses(ValueError, "winners")),
    ("STDP winner row past edge", lambda: _winners_case([(0, 3, 0)]), refuses(ValueError, "winners")),
    ("STDP winner negative index", lambda: _winners_case([(0, -2, 0)]), refuses(ValueError, "winners")),
    ("STDP winner feature past edge", lambda: _winners_case(torch.tensor([[2, 0, 0]])), refuses(ValueError, "winners")),
    ("STDP winner float tensor", lambda: _winners_case(torch.tensor([[0.0, 0.5, 0.0]])), refuses(TypeError, "winners")),
    ("STDP winner pair", lambda: _winners_case([(0, 1)]), refuses(ValueError, "winners")),
    ("STDP winner strings", lambda: _winners_case([("a", 0, 0)]), refuses(TypeError, "winners")),
    ("STDP forward_times winner past edge", lambda: snn.STDP(_conv(), (0.1, -0.1)).forward_times(
        torch.zeros(1, 5, 5, dtype=torch.long), torch.zeros(2, 3, 3, dtype=torch.long), [(1, 1, 3)]),
     refuses(ValueError, "winners")),
    ("STDP valid winner with -1 padding", lambda: _winners_case(torch.tensor([[1, 2, 2], [-1, -1, -1]])), equals(None)),
    ("STDP NaN learning rate", lambda: snn.STDP(_conv(), (NAN, -0.1)), refuses(ValueError, "learning_rate")),
    ("STDP inf learning rate", lambda: snn.STDP(_conv(), torch.tensor([[0.1, -INF], [0.1, 0.1]])),
     refuses(ValueError, "learning_rate")),
    ("STDP rate overflows float16", lambda: snn.STDP(_conv(dtype=torch.float16), (1e6, -0.1)),
     refuses(ValueError, "learning_rate")),
    ("STDP complex learning rate", lambda: snn.STDP(_conv(), torch.tensor([1j, 0.1])), refuses(TypeError, "learning_rate")),
    ("STDP NaN lower bound", lambda: snn.STDP(_conv(), (0.1, -0.1), lower_bound=NAN), refuses(ValueError, "lower_bound")),
    ("STDP inf upper bound", lambda: snn.STDP(_conv(), (0.1, -0.1), upper_bound=INF), refuses(ValueError, "upper_bound")),
    ("STDP bounds overflow the stabiliser", lambda: snn.STDP(_conv(), (0.1, -0.1), lower_bound=-1e30, upper_bound=1e30),
     refuses(ValueError, "upper_bound")),
    ("STDP wide bounds without stabiliser", lambda: _wide_bounds_stay_finite(), equals(True)),
    ("Convolution weight_mean overflows float16", lambda: snn.Convolution(1, 2, 3, weight_mean=1e6, dtype=torch.float16),
     refuses(ValueError, "weight_mean")),
    ("STDP update_all NaN", lambda: snn.STDP(_conv(), (0.1, -0.1)).update_all_learning_rate(NAN, 0.1),
     refuses(ValueError, "ap")),
    ("STDP update inf", lambda: snn.STDP(_conv(), (0.1, -0.1)).update_learning_rate(0, 0.1, INF),
     refuses(ValueError, "an")),
    ("RSTDP NaN reward", lambda: _rstdp(NAN), refuses(ValueError, "reward")),
    ("RSTDP NaN reward tensor", lambda: _rstdp(torch.tensor([NAN])), refuses(ValueError, "reward")),
    ("RSTDP complex reward", lambda: _rstdp(torch.tensor([1j])), refuses(TypeError, "reward")),
    ("load_weight NaN", lambda: _conv().load_weight(torch.full((2, 1, 3, 3), NAN)), refuses(ValueError, "target")),
    ("load_weight inf", lambda: _conv().load_weight(torch.full((2, 1, 3, 3), INF)), refuses(ValueError, "target")),
    ("load_weight complex", lambda: _conv().load_weight(torch.zeros(2, 1, 3, 3, dtype=torch.complex64)),
     refuses(TypeError, "target")),
    ("Convolution NaN weight_mean", lambda: snn.Convolution(1, 2, 3, weight_mean=NAN), refuses(ValueError, "weight_mean")),
    ("Convolution inf weight_std", lambda: snn.Convolution(1, 2, 3, weight_std=INF), refuses(ValueError, "weight_std")),
    ("Convolution int dtype", lambda: snn.Convolution(1, 2, 3, dtype=torch.int32), refuses(TypeError, "dtype")),
    # ---------------- functional and utils ----------------
    ("fire NaN threshold", lambda: sf.fire(_P, NAN), refuses(ValueError, "threshold")),
    ("fire inf threshold", lambda: sf.fire(_P, -INF), refuses(ValueError, "threshold")),
    ("threshold NaN tensor threshold", lambda: sf.threshold(_P, torch.tensor([NAN, 1.0]).view(2, 1, 1)),
     refuses(ValueError, "threshold")),
    ("first_spike NaN threshold", lambda: sf.first_spike(_P, NAN), refuses(ValueError, "threshold")),
    ("fire complex potentials", lambda: sf.fire(_P.to(torch.complex64), 0.5), refuses(TypeError, "potentials")),
    ("pooling complex input", lambda: sf.pooling(torch.zeros(3, 1, 4, 4, dtype=torch.complex64), 2),
     refuses(TypeError, "input")),
    ("get_k_winners complex", lambda: sf.get_k_winners(_P.to(torch.complex64)), refuses(TypeError, "potentials")),
    ("get_k_winners NaN potentials", lambda: sf.get_k_winners(torch.full((2, 2, 1, 1), NAN)),
     refuses(ValueError, "potentials")),
    ("get_k_winners inf potentials", lambda: sf.get_k_winners(torch.full((2, 2, 1, 1), INF)),
     refuses(ValueError, "potentials")),
    ("Convolution complex input", lambda: _conv()(_X.to(torch.complex64)), refuses(TypeError, "input")),
    ("intensity_lateral_inhibition complex", lambda: sf.intensity_lateral_inhibition(
        torch.zeros(1, 2, dtype=torch.complex64), torch.zeros(3, 3)), refuses(TypeError, "intensities")),
    ("intensity_lateral_inhibition NaN kernel", lambda: sf.intensity_lateral_inhibition(
        torch.ones(1, 2), torch.full((3, 3), NAN)), refuses(ValueError, "inhibition_kernel")),
    ("intensity_lateral_inhibition int input keeps fractions", lambda: sf.intensity_lateral_inhibition(
        torch.tensor([[4, 2]]), su.generate_inhibition_kernel([0.5]), mode="weaken"),
     tensor_equals(torch.tensor([[4.0, 1.0]]))),
    ("intensity_lateral_inhibition int input, SpykeTorch's rule", lambda: sf.intensity_lateral_inhibition(
        torch.tensor([[4, 2]]), su.generate_inhibition_kernel([0.5])), tensor_equals(torch.tensor([[20.0, 9.0]]))),
    ("local_normalization NaN eps", lambda: sf.local_normalization(torch.ones(1, 3, 3), 1, eps=NAN),
     refuses(ValueError, "eps")),
    ("local_normalization negative eps", lambda: sf.local_normalization(torch.ones(1, 3, 3), 1, eps=-1.0),
     refuses(ValueError, "eps")),
    ("local_normalization float16 zeros", _lin_float16_zeros, equals(True)),
    ("local_normalization complex", lambda: sf.local_normalization(torch.ones(1, 3, 3, dtype=torch.complex64), 1),
     refuses(TypeError, "input")),
    ("spike_wave NaN times", lambda: sf.spike_wave(torch.tensor([NAN, 1.0]), 3), refuses(ValueError, "times")),
    ("spike_wave float times", lambda: sf.spike_wave(torch.tensor([1.0, 5.0]), 2),
     tensor_equals(torch.tensor([[0.0, 0.0], [1.0, 0.0]]))),
    ("spike_times bad time_dim", lambda: sf.spike_times(torch.zeros(3, 2), 5), refuses(ValueError, "time_dim")),
    ("pad value string", lambda: sf.pad(torch.zeros(1, 1, 2, 2), 1, value="a"), refuses(TypeError, "value")),
    ("DoGKernel 1x1", lambda: su.DoGKernel(1, 1, 2), refuses(ValueError, "window_size")),
    ("GaborKernel 1x1", lambda: su.GaborKernel(1, 0), refuses(ValueError, "window_size")),
    ("DoGKernel NaN sigma", lambda: su.DoGKernel(5, NAN, 2), refuses(ValueError, "sigma1")),
    ("DoGKernel inf sigma", lambda: su.DoGKernel(5, 1, INF), refuses(ValueError, "sigma2")),
    ("DoGKernel underflowing sigma", lambda: su.DoGKernel(5, 1e-200, 2), refuses(ValueError, "sigma1")),
    ("GaborKernel NaN orientation", lambda: su.GaborKernel(5, NAN), refuses(ValueError, "orientation")),
    ("GaborKernel inf div", lambda: su.GaborKernel(5, 0, INF), refuses(ValueError, "div")),
    ("Filter NaN threshold", lambda: su.Filter([su.DoGKernel(3, 1, 2)], thresholds=NAN),
     refuses(ValueError, "thresholds")),
    ("Filter NaN in thresholds", lambda: su.Filter([su.DoGKernel(3, 1, 2), su.DoGKernel(3, 2, 1)],
                                                   thresholds=[1.0, NAN]), refuses(ValueError, "thresholds")),
    ("Filter NaN kernel tensor", lambda: su.Filter([torch.full((3, 3), NAN)]), refuses(ValueError, "filter_kernels")),
    ("Filter complex input", lambda: su.Filter([su.DoGKernel(3, 1, 2)])(torch.zeros(1, 4, 4, dtype=torch.complex64)),
     refuses(TypeError, "input")),
    ("Filter 1x1 tensor kernel", lambda: su.Filter([torch.ones(1, 1) * 2])(torch.ones(1, 2, 2)),
     tensor_equals(torch.full((1, 2, 2), 2.0))),
    ("Intensity2Latency NaN", lambda: su.Intensity2Latency(3)(torch.tensor([[[NAN, 1.0]]])),
     refuses(ValueError, "intensities")),
    ("Intensity2Latency complex", lambda: su.Intensity2Latency(3)(torch.zeros(1, 2, 2, dtype=torch.complex64)),
     refuses(TypeError, "intensities")),
    ("generate_inhibition_kernel NaN", lambda: su.generate_inhibition_kernel([NAN]),
     refuses(ValueError, "inhibition_percents")),
    ("LateralIntensityInhibition NaN", lambda: su.LateralIntensityInhibition([0.5, NAN]),
     refuses(ValueError, "inhibition_percents")),
    # ---------------- half precision: works ----------------
    ("fire float16", lambda: sf.fire(torch.tensor([0.5, 2.0, 3.0], dtype=torch.float16).view(3, 1, 1, 1), 1.0).flatten(),
     tensor_equals(torch.tensor([0.0, 1.0, 1.0], dtype=torch.float16))),
    ("get_k_winners bfloat16", lambda: sf.get_k_winners(_P.bfloat16(), 2), equals([(0, 0, 0)])),
    ("pooling bool wave", lambda: sf.pooling(torch.eye(4, dtype=torch.bool).view(1, 1, 4, 4), 2).flatten(),
     tensor_equals(torch.tensor([True, False, False, True]))),
    ("pooling bfloat16", lambda: sf.pooling(torch.arange(16.0).view(1, 1, 4, 4).bfloat16(), 2).flatten(),
     tensor_equals(torch.tensor([5.0, 7.0, 13.0, 15.0], dtype=torch.bfloat16))),
    ("Convolution float16", lambda: _conv(dtype=torch.float16)(_X.half()), shape_is(3, 2, 3, 3)),
    ("Convolution bfloat16 input cast", lambda: _conv(dtype=torch.bfloat16)(_X.bfloat16()).dtype,
     equals(torch.bfloat16)),
    ("Intensity2Latency float16", lambda: su.Intensity2Latency(2, to_spike=True)(
        torch.tensor([[[3.0, 0.0, 1.0]]], dtype=torch.float16))[:, 0, 0],
     tensor_equals(torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 1.0]]))),
]


def _wide_bounds_stay_finite() -> bool:
    conv, _, x, pot, spk = _stdp_setup()
    snn.STDP(conv, (0.1, -0.1), use_stabilizer=False, lower_bound=-1e30, upper_bound=1e30)(x, pot, spk)
    return bool(torch.isfinite(conv.weight).all())


def _stdp_t0_unchanged() -> bool:
    conv = _conv()
    before = conv.weight.clone()
    stdp = snn.STDP(conv, (0.1, -0.1))
    x = torch.zeros(0, 1, 5, 5)
    pot = conv(x)
    stdp(x, pot, sf.fire(pot, 1.0))
    return torch.equal(conv.weight, before)


@pytest.mark.parametrize("name, call, expectation", CASES, ids=[c[0] for c in CASES])
def test_entry_point_works_or_refuses_clearly(name, call, expectation):
    if expectation[0] == "raises":
        _, exc, arg = expectation
        with pytest.raises(exc) as info:
            call()
        assert arg in str(info.value), f"message does not name {arg!r}: {info.value}"
    else:
        assert expectation[1](call()), f"{name}: unexpected result"


# ----------------------------------------------------------------------------
# the shared validators themselves
# ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "validator, value, exc",
    [
        (V.positive, 0.0, ValueError), (V.positive, NAN, ValueError), (V.positive, INF, ValueError),
        (V.positive, True, TypeError), (V.positive, "1", TypeError), (V.non_negative, -1e-30, ValueError),
        (V.probability, 1.0000001, ValueError), (V.probability, NAN, ValueError), (V.finite_real, 10**400, ValueError),
        (V.positive_int, 0, ValueError), (V.positive_int, 2.0, TypeError), (V.n_winners, -1, ValueError),
        (V.kernel_size, (3, 0), ValueError), (V.kernel_size, (3, 3, 3), ValueError), (V.padding, -1, ValueError),
        (V.padding, "1", TypeError), (V.real_tensor, torch.zeros(1, dtype=torch.complex64), TypeError),
        (V.float_tensor, torch.zeros(1, dtype=torch.int64), TypeError), (V.finite_tensor, torch.tensor([NAN]), ValueError),
        (V.tensor, [1.0], TypeError),
    ],
)
def test_validators_refuse_and_name_the_argument(validator, value, exc):
    with pytest.raises(exc, match="the_arg"):
        validator(value, "the_arg")


def test_validators_return_normal_forms():
    assert V.positive(2, "a") == 2.0 and isinstance(V.positive(2, "a"), float)
    assert V.kernel_size(3) == (3, 3) and V.padding((0, 2)) == (0, 2)
    assert V.n_winners(0) == 0 and V.probability(1, "p") == 1.0
    assert V.resolve_alias(None, None, "n_winners", "kwta", 1) == 1
    assert V.resolve_alias(None, 4, "n_winners", "kwta", 1) == 4
    assert V.ordered_bounds(0, 1, "lo", "hi") == (0.0, 1.0)
    with pytest.raises(ValueError, match="lo"):
        V.ordered_bounds(1, 1, "lo", "hi")
