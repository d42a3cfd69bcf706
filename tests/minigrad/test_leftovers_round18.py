"""Round 18: the leftovers of round 17 against torch (silu/mish gradients at the float32 extremes, ...).

Each test runs the same call on torch and on minigrad and compares values (NaNs in the same places), dtypes,
shapes, strides and exception classes."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn
import nn.functional as F
import nn.parameter

torch = pytest.importorskip("torch", reason="no torch")


def _np(t: Any) -> np.ndarray:
    return np.asarray(t.detach().numpy())


# --- 1. silu/mish: the gradient stays finite where g · x overflows ---------------------------------------------

@pytest.mark.parametrize("name", ["silu", "mish"])
@pytest.mark.parametrize("x, g", [(3e38, 3e38), (-3e38, 3e38), (1e38, 3e38), (100.0, 3e38), (-100.0, 3e38),
                                  (-10.0, 3e38), (5.0, 3e38), (2.0, 1.0), (float("inf"), 1.0)])
def test_silu_mish_gradient_does_not_overflow(name: str, x: float, g: float) -> None:
    ours = mg.tensor([x], dtype=mg.float32, requires_grad=True)
    getattr(F, name)(ours).backward(mg.tensor([g], dtype=mg.float32))
    theirs = torch.tensor([x], dtype=torch.float32, requires_grad=True)
    getattr(torch.nn.functional, name)(theirs).backward(torch.tensor([g]))
    np.testing.assert_allclose(_np(ours.grad), _np(theirs.grad), rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("name", ["silu", "mish"])
def test_silu_mish_higher_derivatives_and_name(name: str) -> None:
    values = np.array([-30.0, -3.0, -0.5, 0.0, 0.3, 2.0, 40.0])
    fn = getattr(F, name)
    x = mg.tensor(values[:5].reshape(5, 1) * np.ones((1, 2)), requires_grad=True)
    assert mg.autograd.gradgradcheck(fn, (x,))
    ours, theirs = mg.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    assert fn(ours).grad_fn.name() == getattr(torch.nn.functional, name)(theirs).grad_fn.name()
    g_ours, g_theirs = fn(ours).sum(), getattr(torch.nn.functional, name)(theirs).sum()
    for _ in range(3):   # first, second and third derivatives
        g_ours = mg.autograd.grad(g_ours, ours, create_graph=True)[0]
        g_theirs = torch.autograd.grad(g_theirs, theirs, create_graph=True)[0]
        np.testing.assert_allclose(_np(g_ours), _np(g_theirs), rtol=1e-10, atol=1e-300)
        g_ours, g_theirs = g_ours.sum(), g_theirs.sum()


# --- 2. a lazy module's placeholder given to an op: PyTorch's ValueError -----------------------------------------

_PLACEHOLDER_CALLS = {
    "sum": lambda lib, F, p: lib.sum(p),
    "add": lambda lib, F, p: lib.add(p, 1),
    "mul": lambda lib, F, p: lib.mul(lib.ones(1), p),
    "exp": lambda lib, F, p: lib.exp(p),
    "stack": lambda lib, F, p: lib.stack([p, p]),
    "matmul": lambda lib, F, p: lib.matmul(p, p),
    "clone": lambda lib, F, p: lib.clone(p),
    "relu": lambda lib, F, p: F.relu(p),
    "softmax": lambda lib, F, p: F.softmax(p, 0),
}


@pytest.mark.parametrize("kind", ["UninitializedParameter", "UninitializedBuffer"])
@pytest.mark.parametrize("call", list(_PLACEHOLDER_CALLS))
def test_ops_refuse_a_placeholder(kind: str, call: str) -> None:
    for lib, functional, module in ((torch, torch.nn.functional, torch.nn.parameter), (mg, F, nn.parameter)):
        with pytest.raises(ValueError, match="Attempted to use an uninitialized parameter"):
            _PLACEHOLDER_CALLS[call](lib, functional, getattr(module, kind)())


def test_placeholder_conversions_still_work() -> None:
    p, q = nn.parameter.UninitializedParameter(), torch.nn.parameter.UninitializedParameter()
    assert str(p.to(mg.float64).dtype) == str(q.to(torch.float64).dtype).replace("torch.", "")
    assert type(p.cpu()) is nn.parameter.UninitializedParameter
    model = nn.LazyLinear(3).double()
    assert model(mg.ones(2, 4, dtype=mg.float64)).shape == (2, 3)


# --- 3. positional arguments PyTorch takes only by keyword; bools among ints; dropout's p ------------------------

@pytest.mark.parametrize("call", [
    lambda lib, F: lib.ones_like(lib.zeros(2), lib.float64),
    lambda lib, F: lib.zeros_like(lib.zeros(2), lib.float64),
    lambda lib, F: lib.empty_like(lib.zeros(2), lib.float64),
    lambda lib, F: lib.full_like(lib.zeros(2), 3, lib.float64),
    lambda lib, F: lib.rand_like(lib.zeros(2), lib.float64),
    lambda lib, F: lib.randn_like(lib.zeros(2), lib.float64),
    lambda lib, F: lib.arange(0, 5, 1, lib.float64),
    lambda lib, F: F.gelu(lib.ones(2), "tanh"),
], ids=["ones_like", "zeros_like", "empty_like", "full_like", "rand_like", "randn_like", "arange", "gelu"])
def test_keyword_only_arguments_refuse_a_position(call: Any) -> None:
    with pytest.raises(TypeError):
        call(torch, torch.nn.functional)
    with pytest.raises(TypeError):
        call(mg, F)


@pytest.mark.parametrize("call", [
    lambda x: x.permute(2, 0, True), lambda x: x.sum((0, True)), lambda x: x.amax((1, False)),
    lambda x: x.reshape(2, True, 12), lambda x: x.flip((0, True)), lambda x: x.tile((1, True)),
    lambda x: x.permute(True, 0, 2), lambda x: x.sum(True), lambda x: x.flip(True),
    lambda x: x.new_zeros(2, True), lambda x: x.new_ones((2, False)),
], ids=["permute", "sum", "amax", "reshape", "flip", "tile", "permute_first", "sum_one", "flip_one", "new_zeros",
        "new_ones"])
def test_a_bool_after_the_first_int_of_a_list_is_an_int(call: Any) -> None:
    # PyTorch's parser tells an int list by its first element: later bools are 0 or 1, a first one is refused
    values = np.arange(24.0).reshape(2, 3, 4)
    try:
        expected = call(torch.tensor(values))
    except TypeError:
        with pytest.raises(TypeError):
            call(mg.tensor(values))
        return
    got = call(mg.tensor(values))
    assert tuple(got.shape) == tuple(expected.shape)
    np.testing.assert_array_equal(_np(got), _np(expected))


@pytest.mark.parametrize("call", [
    lambda L: L.zeros(2, True), lambda L: L.ones((3, False)), lambda L: L.full((2, True), 1.0),
    lambda L: L.rand(2, True), lambda L: L.zeros(True, 2), lambda L: L.zeros(True),
], ids=["zeros", "ones", "full", "rand", "zeros_first", "zeros_one"])
def test_a_bool_after_the_first_size_is_a_size(call: Any) -> None:
    try:
        expected = call(torch)
    except TypeError:
        with pytest.raises(TypeError):
            call(mg)
        return
    assert tuple(call(mg).shape) == tuple(expected.shape)


@pytest.mark.parametrize("p", [True, False])
@pytest.mark.parametrize("name", ["dropout", "alpha_dropout", "dropout2d", "feature_alpha_dropout"])
def test_dropout_takes_a_bool_probability(name: str, p: bool) -> None:
    x = np.ones((2, 3, 4, 4), dtype=np.float32)
    expected = getattr(torch.nn.functional, name)(torch.tensor(x), p, True)
    np.testing.assert_array_equal(_np(getattr(F, name)(mg.tensor(x), p, True)), _np(expected))
    assert repr(nn.Dropout(p)) == repr(torch.nn.Dropout(p))


@pytest.mark.parametrize("module", ["Dropout", "AlphaDropout", "Dropout2d"])
def test_dropout_module_keeps_a_nan_probability_and_its_call_refuses_it(module: str) -> None:
    theirs, ours = getattr(torch.nn, module)(float("nan")), getattr(nn, module)(float("nan"))
    assert repr(ours) == repr(theirs)
    with pytest.raises(RuntimeError):
        theirs(torch.ones(2, 3, 4, 4))
    with pytest.raises(RuntimeError, match="dropout probability"):
        ours(mg.ones(2, 3, 4, 4))
    with pytest.raises(RuntimeError, match="dropout probability"):
        F.dropout(mg.ones(3), float("nan"), False)


# --- 4. out= of another dtype where PyTorch computes -----------------------------------------------------------

_X = np.array([[1.5, -2.0, 0.0], [3.0, np.nan, 1.0]])


@pytest.mark.parametrize("x_dtype, out_dtype", [("float64", "float32"), ("float64", "float16"),
                                                ("float64", "complex64"), ("int64", "float64"), ("float32", "float32")])
@pytest.mark.parametrize("special", [False, True])
def test_logsumexp_into_another_floating_out(x_dtype: str, out_dtype: str, special: bool) -> None:
    x = np.nan_to_num(_X) if x_dtype == "int64" else _X
    fns = [(torch.special if special else torch).logsumexp, (mg.special if special else mg).logsumexp]
    theirs = fns[0](torch.tensor(x).to(getattr(torch, x_dtype)), 0, out=torch.empty(0, dtype=getattr(torch, out_dtype)))
    ours = fns[1](mg.tensor(x).to(getattr(mg, x_dtype)), 0, out=mg.empty(0, dtype=getattr(mg, out_dtype)))
    assert str(_np(ours).dtype) == str(_np(theirs).dtype)
    np.testing.assert_allclose(_np(ours), _np(theirs), rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("call", [
    lambda lib: lib.logsumexp(lib.tensor(_X), 0, out=lib.empty(0, dtype=lib.int64)),
    lambda lib: lib.mean(lib.tensor(_X + 1j), out=lib.empty(0, dtype=lib.float64)),   # no dim: refused
    lambda lib: lib.mean(lib.tensor(_X), 0, out=lib.empty(0, dtype=lib.int64)),
], ids=["logsumexp_into_long", "mean_complex_no_dim", "mean_into_long"])
def test_out_dtypes_torch_refuses(call: Any) -> None:
    with pytest.raises(RuntimeError):
        call(torch)
    with pytest.raises(RuntimeError):
        call(mg)


@pytest.mark.parametrize("out_dtype", ["int64", "bool", "complex128"])
@pytest.mark.parametrize("name", ["nansum", "nanmean"])
def test_nansum_out_without_a_kernel_is_not_implemented(name: str, out_dtype: str) -> None:
    with pytest.raises(NotImplementedError):
        getattr(torch, name)(torch.tensor(_X), 1, out=torch.empty(0, dtype=getattr(torch, out_dtype)))
    with pytest.raises(NotImplementedError):
        getattr(mg, name)(mg.tensor(_X), 1, out=mg.empty(0, dtype=getattr(mg, out_dtype)))


@pytest.mark.parametrize("dim", [0, 1, (0, 1)])
@pytest.mark.parametrize("out_dtype", ["float32", "float64"])
def test_mean_of_complex_along_a_dim_into_a_real_out_is_the_real_part(dim: Any, out_dtype: str) -> None:
    x = _X + 1j * _X[::-1]
    with warnings.catch_warnings():   # torch's "discards the imaginary part" (once per process)
        warnings.simplefilter("ignore")
        theirs = torch.mean(torch.tensor(x), dim, out=torch.empty(0, dtype=getattr(torch, out_dtype)))
    with pytest.warns(Warning, match="imaginary part"):   # (ours: NumPy's ComplexWarning of the cast)
        ours = mg.mean(mg.tensor(x), dim, out=mg.empty(0, dtype=getattr(mg, out_dtype)))
    assert str(_np(ours).dtype) == str(_np(theirs).dtype)
    np.testing.assert_allclose(_np(ours), _np(theirs), rtol=1e-6, equal_nan=True)


# --- 5. preserve_format copies keep PyTorch's strides, a size-1 dim's included --------------------------------

_LAYOUTS = [   # (base shape, permutation, index): dense with odd size-1 strides, and not dense
    ((3, 2, 1, 1), (2, 0, 3, 1), (slice(0, 1),)),                       # (1, 3, 1, 2) strides (1, 2, 1, 1)
    ((1, 1, 2), (2, 1, 0), (slice(None), slice(None), slice(0, 1))),     # (2, 1, 1) strides (1, 2, 2)
    ((2, 3, 1), (2, 1, 0), (slice(None), slice(None, None, 2))),         # (1, 2, 2) strides (1, 2, 3): not dense
    ((4, 1, 3, 4), (1, 3, 0, 2), (Ellipsis, slice(0, 1))),                # (1, 4, 4, 1) strides (12, 1, 12, 4)
    ((3, 4), (1, 0), ()),                                                # a transposed matrix
]


_PRESERVING = {
    "clone": lambda lib, x: x.clone(), "empty_like": lambda lib, x: lib.empty_like(x),
    "zeros_like": lambda lib, x: lib.zeros_like(x), "full_like": lambda lib, x: lib.full_like(x, 2.0),
    "to": lambda lib, x: x.to(lib.float64), "double": lambda lib, x: x.double(),
}


@pytest.mark.parametrize("name", list(_PRESERVING))
@pytest.mark.parametrize("layout", range(len(_LAYOUTS)))
def test_preserve_format_strides_as_torchs(name: str, layout: int) -> None:
    shape, perm, index = _LAYOUTS[layout]
    values = np.arange(float(np.prod(shape)), dtype=np.float32).reshape(shape)
    theirs = _PRESERVING[name](torch, torch.tensor(values).permute(perm)[index])
    ours = _PRESERVING[name](mg, mg.tensor(values).permute(*perm)[index])
    assert tuple(ours.stride()) == theirs.stride() and tuple(ours.shape) == tuple(theirs.shape)
    if name != "empty_like":   # (its values are whatever the memory held)
        np.testing.assert_array_equal(_np(ours), _np(theirs))


# --- 6. an index tensor in another order than C orders the result of a C-order x ------------------------------

@pytest.mark.parametrize("call", [
    lambda L, x, i: x[i.T], lambda L, x, i: x[:, i.T], lambda L, x, i: x[i.T, i.T], lambda L, x, i: x[i.T, None],
    lambda L, x, i: x[L.stack([i, i]).permute(2, 0, 1)], lambda L, x, i: x[i.T, 1:3], lambda L, x, i: x[i],
], ids=["rows", "columns", "both", "none", "permuted_3d", "with_slice", "c_order_index"])
def test_advanced_index_result_follows_the_index_order(call: Any) -> None:
    x, index = np.arange(20.0).reshape(5, 4), np.array([[0, 1, 2], [3, 0, 1]])
    theirs = call(torch, torch.tensor(x), torch.tensor(index))
    ours = call(mg, mg.tensor(x), mg.tensor(index))
    assert tuple(ours.stride()) == theirs.stride()
    np.testing.assert_array_equal(_np(ours), _np(theirs))
