"""Regressions from differential fuzzing of ``out=`` against PyTorch (round 14).

Every public function that takes ``out=`` was called with outs of the right and wrong shape, empty, of each
dtype, requiring grad, an input itself, and a view of an input; the cases that differed from torch 2.13 are
pinned here: PyTorch's memory-overlap checks, max/min's elementwise form casting into ``out``, and the dtypes
some functions cannot write (bool cumsum, complex arange/bernoulli/randint, bool randperm).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")

X33 = np.arange(1, 10, dtype=np.float32).reshape(3, 3) / 4
Y33 = np.arange(9, 0, -1, dtype=np.float32).reshape(3, 3) / 3
I33 = np.array([[2, 0, 1], [1, 1, 0], [0, 2, 2]])
B33 = np.arange(9).reshape(3, 3) % 2 == 0


def _run(lib: Any, call: Callable) -> Any:
    """``call(lib, x, y, i, b)`` on fresh tensors: (x, i) afterwards as arrays, or the exception raised."""
    x, y, i, b = (lib.tensor(a.copy()) for a in (X33, Y33, I33, B33))
    try:
        call(lib, x, y, i, b)
    except Exception as error:   # noqa: BLE001 - compared with torch's below
        return error
    return x.detach().numpy().copy(), i.numpy().copy()


def _long(lib: Any, *shape: int) -> Any:
    return lib.zeros(shape, dtype=lib.int64)


# out partly overlapping an input (or, for "any", sharing memory with it at all): PyTorch refuses
REFUSED = {
    "mul_transposed": lambda T, x, y, i, b: T.mul(x.T, y, out=x),
    "add_transposed": lambda T, x, y, i, b: T.add(x, x.T, out=x),
    "sub_transposed": lambda T, x, y, i, b: T.sub(x.T, y, out=x),
    "div_transposed": lambda T, x, y, i, b: T.div(x.T, y, out=x),
    "addcmul_transposed": lambda T, x, y, i, b: T.addcmul(y, x.T, y, out=x),
    "atan2_transposed": lambda T, x, y, i, b: T.atan2(x.T, y, out=x),
    "lerp_transposed": lambda T, x, y, i, b: T.lerp(x.T, y, 0.5, out=x),
    "exp_transposed": lambda T, x, y, i, b: T.exp(x.T, out=x),
    "sqrt_shifted": lambda T, x, y, i, b: T.sqrt(x.reshape(9)[1:4], out=x[0]),
    "pow_0d": lambda T, x, y, i, b: T.pow(x, x[0, 0], out=x),
    "clamp_bound": lambda T, x, y, i, b: T.clamp(x, min=x.T, out=x),
    "maximum": lambda T, x, y, i, b: T.maximum(x.T, y, out=x),
    "max_other": lambda T, x, y, i, b: T.max(x.T, other=y, out=x),
    "where_transposed": lambda T, x, y, i, b: T.where(b, x.T, y, out=x),
    "cumsum_transposed": lambda T, x, y, i, b: T.cumsum(x.T, 0, out=x),
    "sort_shifted": lambda T, x, y, i, b: T.sort(x.reshape(9)[1:4], out=(x.reshape(9)[0:3], _long(T, 3))),
    "topk_shifted": lambda T, x, y, i, b: T.topk(x.reshape(9)[1:4], 3, out=(x.reshape(9)[0:3], _long(T, 3))),
    "max_dim_row": lambda T, x, y, i, b: T.max(x, 1, out=(x[0], _long(T, 3))),
    "aminmax_rows": lambda T, x, y, i, b: T.aminmax(x, dim=1, out=(x[0], x[1])),
    "kthvalue_same": lambda T, x, y, i, b: T.kthvalue(x[0], 1, 0, out=(x[0, 0], _long(T))),
    "gather": lambda T, x, y, i, b: T.gather(x, 0, i, out=x),
    "index_select": lambda T, x, y, i, b: T.index_select(x, 0, i[0], out=x),
    "index_select_index": lambda T, x, y, i, b: T.index_select(i.reshape(9), 0, i[0], out=i[0]),
    "take": lambda T, x, y, i, b: T.take(x, i, out=x),
    "take_index": lambda T, x, y, i, b: T.take(i, i[0], out=i[0]),
    "masked_select": lambda T, x, y, i, b: T.masked_select(x[0], b[0] | True, out=x[0]),
    "cat_its_parts": lambda T, x, y, i, b: T.cat([x[:1], x[1:]], 0, out=x),
    "stack_its_rows": lambda T, x, y, i, b: T.stack([x[0], x[1], x[2]], 0, out=x),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_an_out_overlapping_an_input_is_refused_as_torch(name: str) -> None:
    expected = _run(torch, REFUSED[name])
    assert isinstance(expected, RuntimeError) and "single memory location" in str(expected)
    got = _run(mg, REFUSED[name])
    assert isinstance(got, RuntimeError) and "single memory location" in str(got), got


# out exactly an input (same memory, same layout), or views PyTorch cannot check (not dense): computed
ALLOWED = {
    "add": lambda T, x, y, i, b: T.mul(x, y, out=x),
    "exp": lambda T, x, y, i, b: T.exp(x, out=x),
    "pow_second": lambda T, x, y, i, b: T.pow(y, x, out=x),
    "clamp": lambda T, x, y, i, b: T.clamp(x, 0.5, 1, out=x),
    "where": lambda T, x, y, i, b: T.where(b, y, x, out=x),
    "cumsum": lambda T, x, y, i, b: T.cumsum(x, 0, out=x),
    "sort": lambda T, x, y, i, b: T.sort(x, 0, descending=True, out=(x, _long(T, 3, 3))),
    "topk": lambda T, x, y, i, b: T.topk(x, 3, 0, out=(x, _long(T, 3, 3))),
    "max_keepdim_column": lambda T, x, y, i, b: T.max(x[:, :1], 1, keepdim=True, out=(x[:, :1], _long(T, 3, 1))),
    "abs_column_into_row": lambda T, x, y, i, b: T.abs(x[:, 0], out=x[0]),
    "gather_into_its_index": lambda T, x, y, i, b: T.gather(i.clone(), 0, i, out=i),
}


@pytest.mark.parametrize("name", list(ALLOWED))
def test_an_out_that_is_an_input_works_as_torch(name: str) -> None:
    expected = _run(torch, ALLOWED[name])
    got = _run(mg, ALLOWED[name])
    assert not isinstance(expected, Exception) and not isinstance(got, Exception), (expected, got)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-6)
    np.testing.assert_array_equal(got[1], expected[1])


@pytest.mark.filterwarnings("ignore:An output with one or more elements was resized")
def test_an_out_that_is_an_input_needing_a_resize_is_refused_by_cat() -> None:
    for lib in (torch, mg):
        x = lib.tensor(X33.copy())
        with pytest.raises(RuntimeError, match="single memory location"):
            lib.cat([x, x], 0, out=x)


def test_out_overlap_check_on_a_dense_slice_of_a_bigger_out() -> None:
    """A disjoint part of the same buffer is no overlap: both write it."""
    for lib in (torch, mg):
        x = lib.tensor(np.arange(6.0, dtype=np.float32))
        assert lib.exp(x[:3], out=x[3:]) is not None
        np.testing.assert_allclose(x.numpy()[3:], np.exp(np.arange(3.0)), rtol=1e-6)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_elementwise_cast_into_out_as_torch(name: str) -> None:
    a, b = np.array([1, 5]), np.array([3, 2])
    for dtype in ("float32", "float64", "complex64"):
        expected = getattr(torch, name)(torch.tensor(a), other=torch.tensor(b),
                                        out=torch.zeros(2, dtype=getattr(torch, dtype)))
        got_out = mg.zeros(2, dtype=getattr(mg, dtype))
        assert getattr(mg, name)(mg.tensor(a), other=mg.tensor(b), out=got_out) is got_out
        assert getattr(mg, name)(mg.tensor(a), mg.tensor(b), out=got_out) is got_out   # max(a, b) form
        np.testing.assert_array_equal(got_out.numpy(), expected.numpy())
    with pytest.raises(RuntimeError, match="can't be cast"):   # torch: result type Float can't be cast to Long
        torch.max(torch.ones(2), other=torch.ones(2), out=torch.zeros(2, dtype=torch.long))
    with pytest.raises(RuntimeError, match="can't be cast"):
        getattr(mg, name)(mg.ones(2), other=mg.ones(2), out=mg.zeros(2, dtype=mg.int64))
    with pytest.raises(RuntimeError):   # values along a dim still need out of their own dtype, as torch
        getattr(mg, name)(mg.ones(2, 2), 1, out=(mg.zeros(2, dtype=mg.float64), mg.zeros(2, dtype=mg.int64)))


CANNOT = {
    "cumsum_bool_out": lambda T: T.cumsum(T.tensor([[1.0, 2.0]]), 1, out=T.zeros(1, 2, dtype=T.bool)),
    "cumsum_bool_dtype": lambda T: T.cumsum(T.tensor([True, False]), 0, dtype=T.bool),
    "arange_complex_out": lambda T: T.arange(0, 2, out=T.zeros(2, dtype=T.complex64)),
    "arange_complex_dtype": lambda T: T.arange(0, 2, dtype=T.complex64),
    "bernoulli_complex_out": lambda T: T.bernoulli(T.tensor([0.5, 0.5]), out=T.zeros(2, dtype=T.complex64)),
    "randint_complex_out": lambda T: T.randint(0, 5, (2,), out=T.zeros(2, dtype=T.complex64)),
    "randperm_bool_out": lambda T: T.randperm(3, out=T.zeros(3, dtype=T.bool)),
    "randperm_complex_dtype": lambda T: T.randperm(3, dtype=T.complex64),
}


@pytest.mark.parametrize("name", list(CANNOT))
def test_dtypes_a_function_cannot_write_raise_torchs_class(name: str) -> None:
    with pytest.raises(RuntimeError) as expected:
        CANNOT[name](torch)
    with pytest.raises(type(expected.value)):
        CANNOT[name](mg)


def test_bool_inputs_still_cumsum_to_int64() -> None:
    got = mg.cumsum(mg.tensor([True, False, True]), 0)
    expected = torch.cumsum(torch.tensor([True, False, True]), 0)
    assert str(got.dtype) == "int64" and got.numpy().tolist() == expected.tolist()


SINGLE_STEP_BOOL = {
    "linspace_out": lambda T: T.linspace(3, 1, 1, out=T.zeros(1, dtype=T.bool)),
    "linspace_zero_start_out": lambda T: T.linspace(0, 1, 1, out=T.zeros(1, dtype=T.bool)),
    "logspace_out": lambda T: T.logspace(-5, 1, 1, out=T.zeros(1, dtype=T.bool)),
    "linspace_dtype": lambda T: T.linspace(0.5, 1, 1, dtype=T.bool),
    "linspace_no_steps": lambda T: T.linspace(0, 1, 0, dtype=T.bool),
    "logspace_base_0": lambda T: T.logspace(1, 1, 1, base=0.0, dtype=T.bool),
}


@pytest.mark.parametrize("name", list(SINGLE_STEP_BOOL))
def test_linspace_logspace_of_one_step_fill_a_bool_out_as_torch(name: str) -> None:
    expected, got = SINGLE_STEP_BOOL[name](torch), SINGLE_STEP_BOOL[name](mg)
    assert str(got.dtype) == "bool" and got.numpy().tolist() == expected.tolist()
    for lib in (torch, mg):   # more steps still raise, as torch's
        with pytest.raises(NotImplementedError):
            lib.linspace(0, 1, 2, out=lib.zeros(2, dtype=lib.bool))
        with pytest.raises(NotImplementedError):
            lib.logspace(0, 1, 2, dtype=lib.bool)


RESIZED_SHARED = {
    "out_a_row": lambda T, big: T.exp(T.zeros(2, 2), out=big[0]),
    "out_transposed": lambda T, big: T.add(T.ones(5), 1, out=big.T),
    "out_with_a_view": lambda T, big: (lambda view: T.exp(T.zeros(2, 2), out=big))(big[0]),
}


@pytest.mark.filterwarnings("ignore:An output with one or more elements was resized")
@pytest.mark.parametrize("name", list(RESIZED_SHARED))
def test_resizing_an_out_that_shares_memory_refuses_where_torch_writes_into_it(name: str) -> None:
    """PyTorch resizes out inside its storage, so the base (or view) sees the result: a silent difference if
    minigrad gave out new memory, so it raises."""
    before = torch.zeros(3, 4)
    RESIZED_SHARED[name](torch, before)
    assert before.abs().sum() > 0   # torch wrote into the shared memory
    with pytest.raises(RuntimeError, match="shares its memory with another tensor"):
        RESIZED_SHARED[name](mg, mg.zeros(3, 4))


def test_resizing_an_out_whose_views_are_gone_or_empty_works() -> None:
    out = mg.zeros(3, 4)
    assert float(out[0].sum()) == 0   # a view made and dropped
    empty = mg.zeros(0)
    view_of_empty = empty[:0]
    assert mg.exp(mg.zeros(2, 2), out=empty) is empty and view_of_empty.shape == (0,)
    with pytest.warns(UserWarning, match="was resized"):
        assert mg.exp(mg.zeros(2, 2), out=out) is out
    np.testing.assert_array_equal(out.numpy(), np.ones((2, 2)))
