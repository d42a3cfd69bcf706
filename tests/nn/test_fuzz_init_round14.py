"""Round 14: nn.init fuzzed against torch.nn.init (bounds, dtypes, errors, warnings, in-place contract), and
three elementwise leftovers (``x - bool``, a non-bool ``where`` condition, ``bool ** True``)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn
from nn import init

torch = pytest.importorskip("torch", reason="no torch")
tinit = torch.nn.init

DTYPES = ["float16", "float32", "float64", "int64", "bool", "complex64"]
SHAPES = [(), (5,), (0,), (4, 6), (0, 3), (3, 0), (4, 3, 5), (2, 3, 0, 4), (4, 2, 3, 3), (6, 2, 3, 3, 3)]
CALLS = {
    "uniform_": lambda I, t: I.uniform_(t, -1, 2),
    "uniform_ a > b": lambda I, t: I.uniform_(t, 2, -1),
    "normal_": lambda I, t: I.normal_(t, 1, 2),
    "normal_ std < 0": lambda I, t: I.normal_(t, 1, -2),
    "constant_": lambda I, t: I.constant_(t, 3),
    "ones_": lambda I, t: I.ones_(t),
    "zeros_": lambda I, t: I.zeros_(t),
    "eye_": lambda I, t: I.eye_(t),
    "dirac_": lambda I, t: I.dirac_(t),
    "dirac_ groups=2": lambda I, t: I.dirac_(t, 2),
    "xavier_uniform_": lambda I, t: I.xavier_uniform_(t),
    "xavier_normal_": lambda I, t: I.xavier_normal_(t, 2.0),
    "kaiming_uniform_": lambda I, t: I.kaiming_uniform_(t, a=math.sqrt(5)),
    "kaiming_normal_": lambda I, t: I.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"),
    "kaiming_normal_ FAN_IN": lambda I, t: I.kaiming_normal_(t, mode="FAN_IN", nonlinearity="selu"),
    "kaiming_normal_ bad mode": lambda I, t: I.kaiming_normal_(t, mode="fan"),
    "kaiming_uniform_ bad nonlinearity": lambda I, t: I.kaiming_uniform_(t, nonlinearity="gelu"),
    "trunc_normal_": lambda I, t: I.trunc_normal_(t, 0, 1, -1, 1),
    "trunc_normal_ a > b": lambda I, t: I.trunc_normal_(t, 0, 1, 1, -1),
    "orthogonal_": lambda I, t: I.orthogonal_(t, 2.0),
    "sparse_": lambda I, t: I.sparse_(t, 0.3),
}
# where minigrad knowingly differs from PyTorch 2.13 on CPU (each lenient or stricter, never a different value)
KNOWN = {
    ("orthogonal_", "float16"): "PyTorch's CPU QR has no float16; minigrad computes it in float64",
    ("uniform_ a > b", "complex64"): "an empty complex tensor: PyTorch skips the bounds check",
    ("trunc_normal_", "int64"): "an empty integer tensor: PyTorch draws nothing when most of N(0, 1) is kept",
    ("trunc_normal_", "bool"): "the same",
}


def _outcome(fn: Any, *args: Any) -> tuple:
    """(kind, value or exception, warning categories) of ``fn(*args)``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = fn(*args)
            outcome: tuple = ("ok", result)
        except Exception as error:  # noqa: BLE001 - the outcome is compared, whatever it is
            outcome = ("error", error)
    return (*outcome, sorted({w.category.__name__ for w in caught}))


@pytest.mark.parametrize("name", list(CALLS))
def test_errors_warnings_and_no_ops_match_torch_for_every_shape_and_dtype(name: str) -> None:
    call = CALLS[name]
    for dtype in DTYPES:
        if (name, dtype) in KNOWN:
            continue
        for shape in SHAPES:
            case = f"{name} {dtype}{shape}"
            theirs = _outcome(call, tinit, torch.zeros(shape, dtype=getattr(torch, dtype)))
            mine = mg.zeros(shape, dtype=dtype) if shape else mg.tensor(0, dtype=dtype)
            ours = _outcome(call, init, mine)
            assert ours[0] == theirs[0], f"{case}: torch {theirs[:2]}, minigrad {ours[:2]}"
            assert ours[2] == theirs[2], f"{case}: warnings torch {theirs[2]}, minigrad {ours[2]}"
            if ours[0] == "error":
                assert isinstance(ours[1], type(theirs[1])), f"{case}: torch {theirs[1]!r}, minigrad {ours[1]!r}"
                continue
            assert ours[1] is mine and mine.dtype == getattr(mg, dtype) and mine.shape == shape, case
            if "constant" in name or "ones" in name or "zeros" in name or "eye" in name or "dirac" in name:
                np.testing.assert_array_equal(mine.numpy(), theirs[1].numpy(), err_msg=case)   # exact fills


def _moments(values: np.ndarray) -> tuple:
    values = values.astype(np.float64).ravel()
    return values.min(), values.max(), values.mean(), values.std()


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_bounds_and_spread_match_torch_statistically(dtype: str) -> None:
    rng = np.random.default_rng(14)
    cases = [
        ("uniform_", (-0.5, 2.0), True), ("normal_", (1.0, 0.5), False),
        ("xavier_uniform_", (1.5,), True), ("xavier_normal_", (0.7,), False),
        ("kaiming_uniform_", (0.2, "fan_out"), True), ("kaiming_normal_", (0, "fan_in", "tanh"), False),
        ("kaiming_normal_", (0, "fan_out", "selu"), False), ("kaiming_uniform_", (0, "fan_in", "conv2d"), True),
        ("trunc_normal_", (0.0, 1.0, -2.0, 2.0), True), ("trunc_normal_", (1.0, 2.0, 0.0, 3.0), True),
        ("trunc_normal_", (0.0, 0.02, -0.04, 0.04), True), ("orthogonal_", (2.0,), False),
    ]
    for name, args, bounded in cases:
        if name == "orthogonal_" and dtype == "float16":
            continue   # no float16 QR in PyTorch on CPU
        shape = [(60, 40, 3, 3), (300, 70), (50, 20, 9, 2)][int(rng.integers(3))]
        theirs = getattr(tinit, name)(torch.zeros(shape, dtype=getattr(torch, dtype)), *args).float().numpy()
        ours = getattr(init, name)(mg.zeros(shape, dtype=dtype), *args).numpy()
        lo, hi, mean, std = _moments(theirs)
        o_lo, o_hi, o_mean, o_std = _moments(ours)
        case = f"{name}{args} {dtype}{shape}"
        assert abs(o_std - std) < 0.03 * std, f"{case}: std {o_std} vs torch {std}"
        assert abs(o_mean - mean) < 0.05 * std + 0.01 * abs(mean), f"{case}: mean {o_mean} vs torch {mean}"
        if bounded:   # the same bounds, reached on a large tensor
            assert o_lo >= lo - 0.01 * std and o_hi <= hi + 0.01 * std, f"{case}: [{o_lo}, {o_hi}] vs [{lo}, {hi}]"
            assert o_lo <= lo + 0.05 * std and o_hi >= hi - 0.05 * std, f"{case}: [{o_lo}, {o_hi}] vs [{lo}, {hi}]"


@pytest.mark.parametrize(("a", "b"), [(5.0, 6.0), (10.0, 11.0), (-12.0, -9.0), (3.0, 1e6), (-1.0, 40.0)])
def test_trunc_normal_draws_far_tails_exactly(a: float, b: float) -> None:
    """Was: the inverse CDF rounds to 1 beyond ~8 std, so [10, 11] gave 11 everywhere; now the moments of the
    truncated normal (exact formulas) hold in every tail."""
    t = mg.zeros(200, 500, dtype=mg.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # PyTorch's "mean is more than 2 std from [a, b]"
        values = init.trunc_normal_(t, 0.0, 1.0, a, b).numpy()
    def pdf(x: float) -> float:
        return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)

    def upper_tail(x: float) -> float:   # P(N > x), exact far out (erfc, not 1 - Φ)
        return 0.5 * math.erfc(x / math.sqrt(2))

    mass = upper_tail(-b) - upper_tail(-a) if b <= 0 else upper_tail(a) - upper_tail(b)
    expected = (pdf(a) - pdf(b)) / mass   # the mean of N(0, 1) truncated to [a, b]
    assert values.min() >= a and values.max() <= b
    assert abs(values.mean() - expected) < 0.01 * max(1.0, abs(expected)), (values.mean(), expected)
    assert len(np.unique(values)) > 0.99 * values.size   # not collapsed onto a bound


def test_trunc_normal_mirrors_torch_warning_and_a_equal_b() -> None:
    with pytest.warns(UserWarning, match="mean is more than 2 std from"):
        init.trunc_normal_(mg.zeros(10), 0.0, 1.0, 3.0, 4.0)
    t = init.trunc_normal_(mg.zeros(8), 0.0, 1.0, 0.5, 0.5)
    assert (t.numpy() == 0.5).all()   # torch's too: every draw is a
    np.testing.assert_array_equal(t.numpy(), tinit.trunc_normal_(torch.zeros(8), 0.0, 1.0, 0.5, 0.5).numpy())


def test_in_place_contract_version_and_no_graph() -> None:
    """Each initialiser bumps the version counter, as PyTorch's, so a backward that saved the old weight
    refuses it instead of silently using the new values."""
    for name, args in [("uniform_", ()), ("normal_", ()), ("constant_", (0.5,)), ("zeros_", ()), ("ones_", ()),
                       ("eye_", ()), ("xavier_uniform_", ()), ("xavier_normal_", ()), ("kaiming_uniform_", ()),
                       ("kaiming_normal_", ()), ("orthogonal_", ()), ("sparse_", (0.2,)), ("trunc_normal_", ())]:
        w = nn.Parameter(mg.ones(3, 4))
        x = mg.ones(4, 2)
        y = (w @ x).sum()   # saves w for x's ... and x for w's gradient; w * w saves w itself
        z = (w * w).sum()
        before = w._version
        assert getattr(init, name)(w, *args) is w
        assert w._version > before, name
        assert w.is_leaf and w.requires_grad and w.grad_fn is None, name
        t = torch.nn.Parameter(torch.ones(3, 4))
        tz = (t * t).sum()
        getattr(tinit, name)(t, *args)
        with pytest.raises(RuntimeError) as theirs:
            tz.backward()
        with pytest.raises(RuntimeError) as ours:
            z.backward()
        assert "modified by an inplace operation" in str(theirs.value), name
        assert "in place" in str(ours.value) or "inplace" in str(ours.value), (name, ours.value)
        y.backward()   # only x's gradient saved w: x needs none, so this one is fine
        del y


def test_generator_keyword_reproduces_and_leaves_the_global_stream() -> None:
    for name, args in [("uniform_", ()), ("normal_", ()), ("xavier_uniform_", ()), ("xavier_normal_", ()),
                       ("kaiming_uniform_", ()), ("kaiming_normal_", ()), ("trunc_normal_", ()),
                       ("trunc_normal_", (0.0, 1.0, 4.0, 5.0)), ("orthogonal_", ()), ("sparse_", (0.3,))]:
        a, b = mg.zeros(6, 7), mg.zeros(6, 7)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mg.manual_seed(1)
            getattr(init, name)(a, *args, generator=mg.Generator().manual_seed(5))
            after_a = mg.rand(3).numpy()
            mg.manual_seed(1)
            getattr(init, name)(b, *args, generator=mg.Generator().manual_seed(5))
            after_b = mg.rand(3).numpy()
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
        np.testing.assert_array_equal(after_a, after_b, err_msg=name)


def _fans(module: Any, weight: Any) -> tuple:
    return module._calculate_fan_in_and_fan_out(weight), module._calculate_correct_fan(weight, "FAN_OUT")


def test_calculate_gain_and_fans_match_torch() -> None:
    for nonlinearity in ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                         "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu", "identity", "gelu"]:
        for param in [None, 0.2, 3, True, "x", -0.5]:
            theirs = _outcome(tinit.calculate_gain, nonlinearity, param)
            ours = _outcome(init.calculate_gain, nonlinearity, param)
            case = f"calculate_gain({nonlinearity!r}, {param!r})"
            assert ours[0] == theirs[0], f"{case}: torch {theirs[:2]}, minigrad {ours[:2]}"
            if ours[0] == "ok":
                assert ours[1] == theirs[1] and type(ours[1]) is type(theirs[1]), case
            else:
                assert isinstance(ours[1], type(theirs[1])), case
    for shape in [(3,), (4, 5), (4, 5, 3), (2, 0, 3), (0, 2), (6, 2, 3, 3, 3)]:
        theirs = _outcome(_fans, tinit, torch.zeros(shape))
        ours = _outcome(_fans, init, mg.zeros(shape))
        assert ours[0] == theirs[0] and (ours[0] == "error" or ours[1] == theirs[1]), shape


def test_int_and_bool_fills_as_torch() -> None:
    for dtype, val in [("int64", 3.7), ("int64", -2.5), ("bool", 0.5), ("float32", True)]:
        theirs = tinit.constant_(torch.zeros(2, dtype=getattr(torch, dtype)), val)
        ours = init.constant_(mg.zeros(2, dtype=dtype), val)
        assert ours.tolist() == theirs.tolist() and ours.dtype == getattr(mg, dtype)
    np.testing.assert_array_equal(init.dirac_(mg.zeros(4, 2, 3, dtype=mg.int64), 2).numpy(),
                                  tinit.dirac_(torch.zeros(4, 2, 3, dtype=torch.int64), 2).numpy())
    np.testing.assert_array_equal(init.eye_(mg.zeros(3, 5, dtype=mg.bool_)).numpy(),
                                  tinit.eye_(torch.zeros(3, 5, dtype=torch.bool)).numpy())


def test_sparse_fills_complex_as_torch() -> None:
    t = init.sparse_(mg.zeros(10, 4, dtype=mg.complex64), 0.3, std=1.0)
    assert t.dtype == mg.complex64 and ((t.numpy() == 0).sum(0) == 3).all()


# --- part 2: elementwise leftovers -------------------------------------------------------------------------------

SUBTRACTIONS = {
    "float - True": lambda m: m.tensor([1.0, 2.0]) - True,
    "True - float": lambda m: True - m.tensor([1.0, 2.0]),
    "float - bool": lambda m: m.tensor([1.0, 2.0]) - m.tensor([True, False]),
    "bool - float": lambda m: m.tensor([True, False]) - m.tensor([1.0, 2.0]),
    "bool - bool": lambda m: m.tensor([True, False]) - m.tensor([True, True]),
    "bool - 1": lambda m: m.tensor([True, False]) - 1,
    "int - 0-d bool": lambda m: m.tensor([1, 2]) - m.tensor(True),
    "sub(float, True)": lambda m: m.sub(m.tensor([1.0, 2.0]), True),
    "rsub(bool, float)": lambda m: m.rsub(m.tensor([True]), m.tensor([1.0])),
    "x.sub(True)": lambda m: m.tensor([1.0, 2.0]).sub(True),
    "x.sub_(bool)": lambda m: m.tensor([1.0, 2.0]).sub_(m.tensor([True, False])),
    "x -= True": lambda m: m.tensor([1.0, 2.0]).__isub__(True),
}


@pytest.mark.parametrize("case", list(SUBTRACTIONS))
def test_subtracting_a_bool_raises_torchs_runtime_error(case: str) -> None:
    with pytest.raises(RuntimeError, match="Subtraction, the `-` operator") as theirs:
        SUBTRACTIONS[case](torch)
    with pytest.raises(RuntimeError, match="Subtraction, the `-` operator") as ours:
        SUBTRACTIONS[case](mg)
    assert ("two bool" in str(ours.value)) == ("two bool" in str(theirs.value))
    assert isinstance(ours.value, TypeError)   # NumPy's class too: code that caught NumPy's bool - bool still works


def test_subtraction_without_bools_is_unchanged() -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x - 1.0).sum() + (2 - x).sum() + (x - mg.tensor([[1.0], [2.0]])).sum() + (x - mg.tensor(1)).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])   # 1 - 1 + 2 (two rows) + 1
    assert (mg.tensor([3, 4], dtype=mg.uint8) - mg.tensor([1, 1], dtype=mg.int8)).dtype == mg.int16


def test_where_takes_a_bool_condition_only_as_torch() -> None:
    a, b = [1.0, 2.0], [3.0, 4.0]
    for dtype in ["float32", "int64", "float64", "int8"]:
        cond = np.array([1, 0], dtype=dtype)
        with pytest.raises(RuntimeError, match="where expected condition to be a boolean tensor"):
            torch.where(torch.tensor(cond), torch.tensor(a), torch.tensor(b))
        with pytest.raises(RuntimeError, match="where expected condition to be a boolean tensor"):
            mg.where(mg.tensor(cond), mg.tensor(a), mg.tensor(b))
        with pytest.raises(RuntimeError, match="where expected condition to be a boolean tensor"):
            mg.tensor(a).where(mg.tensor(cond), 0.0)
    with warnings.catch_warnings():   # torch's warning is once per process (TORCH_WARN_ONCE): not asserted
        warnings.simplefilter("ignore")
        theirs = torch.where(torch.tensor([1, 0], dtype=torch.uint8), torch.tensor(a), torch.tensor(b))
    with pytest.warns(UserWarning, match="uint8 condition tensor"):
        ours = mg.where(mg.tensor([1, 0], dtype=mg.uint8), mg.tensor(a), mg.tensor(b))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    ok = mg.where(mg.tensor([True, False]), mg.tensor(a), mg.tensor(b))
    np.testing.assert_array_equal(ok.numpy(), [1.0, 4.0])
    assert mg.where(mg.tensor([1.0, 0.0]))[0].tolist() == [0]   # the one-argument form is nonzero: any dtype


def test_bool_to_the_power_true_keeps_numpys_documented_promotion() -> None:
    """PyTorch gives bool for ``bool_tensor ** True``; minigrad keeps NumPy 2's int8 (the promotion rule
    tests/minigrad/test_promotion_round13.py documents: only ``bool ** int`` follows PyTorch, in int64)."""
    got = mg.tensor([True, False]) ** True
    assert got.dtype == mg.int8 and got.tolist() == [1, 0]
    assert torch.tensor([True, False]).__pow__(True).tolist() == [True, False]   # the same values


def test_trunc_normal_is_fast_and_exact_in_the_usual_case() -> None:
    """ViT's ``trunc_normal_(w, std=0.02)``: N(0, 1) proposals kept inside [a, b] (was an erfinv of 1e6 numbers
    through mg.erf, about a second); the truncated moments hold."""
    t = init.trunc_normal_(mg.zeros(1000, 1000, dtype=mg.float64), std=0.02, a=-0.04, b=0.04)
    values = t.numpy() / 0.02   # N(0, 1) truncated to [-2, 2]
    pdf2 = math.exp(-2.0) / math.sqrt(2 * math.pi)
    mass = math.erf(2 / math.sqrt(2))
    assert values.min() >= -2 and values.max() <= 2
    assert abs(values.mean()) < 0.005 and abs(values.var() - (1 - 4 * pdf2 / mass)) < 0.005


def test_deprecated_sparse_spelling_warns_as_torch() -> None:
    with pytest.warns(FutureWarning, match="nn.init.sparse_"):
        init.sparse(mg.zeros(4, 3), 0.5)
    with pytest.warns(FutureWarning, match="nn.init.sparse_"):
        tinit.sparse(torch.zeros(4, 3), 0.5)


ARGUMENT_ERRORS = {
    "xavier_uniform_ gain < 0": lambda I, m: I.xavier_uniform_(m.zeros(3, 4), gain=-1.0),
    "xavier_normal_ gain < 0": lambda I, m: I.xavier_normal_(m.zeros(3, 4), gain=-1.0),
    "constant_ complex into float": lambda I, m: I.constant_(m.zeros(2), 1 + 2j),
    "constant_ 1-d tensor value": lambda I, m: I.constant_(m.zeros(2), m.tensor([3.0])),
    "uniform_ nan bound": lambda I, m: I.uniform_(m.zeros(2), float("nan"), 1.0),
    "uniform_ inf bound": lambda I, m: I.uniform_(m.zeros(2), 0.0, float("inf")),
    "normal_ nan std": lambda I, m: I.normal_(m.zeros(2), 0.0, float("nan")),
    "sparse_ std < 0": lambda I, m: I.sparse_(m.zeros(4, 3), 0.5, -1.0),
}


@pytest.mark.parametrize("case", list(ARGUMENT_ERRORS))
def test_arguments_torch_refuses_raise_its_runtime_error(case: str) -> None:
    """Were: filled anyway (inf or NaN values, a sign-flipped bound, a broadcast 1-d value)."""
    with pytest.raises(RuntimeError):
        ARGUMENT_ERRORS[case](tinit, torch)
    with pytest.raises(RuntimeError, match=r"nn\.init\."):
        ARGUMENT_ERRORS[case](init, mg)
    assert init.constant_(mg.zeros(2), mg.tensor(3.0)).tolist() == [3.0, 3.0]   # a 0-d value fills, as torch


@pytest.mark.gpu
def test_every_initialiser_runs_on_the_gpu() -> None:
    """Device-agnostic paths (the strict CuPy stand-in without a GPU): each fills the device array in place."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, args in [("uniform_", (-1.0, 2.0)), ("normal_", ()), ("constant_", (0.5,)), ("zeros_", ()),
                           ("ones_", ()), ("eye_", ()), ("xavier_uniform_", ()), ("xavier_normal_", ()),
                           ("kaiming_uniform_", ()), ("kaiming_normal_", ()), ("orthogonal_", ()),
                           ("sparse_", (0.3,)), ("trunc_normal_", ()), ("trunc_normal_", (0.0, 1.0, 3.0, 9.0)),
                           ("trunc_normal_", (0.0, 1.0, -9.0, -3.0)), ("trunc_normal_", (0.0, 1.0, -0.1, 0.2))]:
            w = mg.zeros(6, 5, device="cuda")
            before = w._version
            assert getattr(init, name)(w, *args) is w and w.device.type == "cuda", name
            assert w._version > before and np.isfinite(w.numpy()).all(), name
        w = init.dirac_(mg.zeros(4, 2, 3, 3, device="cuda"), 2)
        np.testing.assert_array_equal(w.numpy(), tinit.dirac_(torch.zeros(4, 2, 3, 3), 2).numpy())
        lo, hi = init.trunc_normal_(mg.zeros(6, 5, device="cuda"), 0.0, 1.0, 3.0, 9.0).numpy()[[0, 0], [0, 1]]
        assert 3.0 <= lo <= 9.0 and 3.0 <= hi <= 9.0
