"""Round 22 small leftovers, each compared with live torch 2.13: binary_cross_entropy's mixed float dtypes,
MultiheadAttention(batch_first=True)'s error shapes, StepLR(step_size=0), int dtypes from NumPy float/bool scalars,
and 0-d integer tensors where torch's parser reads an int."""

from __future__ import annotations

import numpy
import pytest

import minigrad as mg
import nn
from nn import functional as F

torch = pytest.importorskip("torch", reason="no torch")


def _raised(call) -> type[BaseException] | None:
    try:
        call()
    except Exception as error:   # noqa: BLE001 - the class is the point
        return type(error)
    return None


@pytest.mark.parametrize("dtypes", [("float64", "float32"), ("float32", "float64"), ("float16", "float32")])
def test_binary_cross_entropy_refuses_a_target_of_another_float_dtype(dtypes: tuple[str, str]) -> None:
    x, y = [0.3, 0.6], [0.0, 1.0]
    expected = _raised(lambda: torch.nn.functional.binary_cross_entropy(
        torch.tensor(x, dtype=getattr(torch, dtypes[0])), torch.tensor(y, dtype=getattr(torch, dtypes[1]))))
    assert expected is RuntimeError
    with pytest.raises(RuntimeError, match="found dtype"):
        F.binary_cross_entropy(mg.tensor(x, dtype=getattr(mg, dtypes[0])), mg.tensor(y, dtype=getattr(mg, dtypes[1])))
    with pytest.raises(RuntimeError, match="found dtype"):
        nn.BCELoss()(mg.tensor(x, dtype=getattr(mg, dtypes[0])), mg.tensor(y, dtype=getattr(mg, dtypes[1])))


@pytest.mark.parametrize("shapes", [
    ((2, 3, 5), (2, 3, 5), (2, 3, 5)),   # embedding dim
    ((2, 3, 4), (2, 6, 4), (2, 5, 4)),   # key and value lengths
    ((2, 3, 4), (3, 6, 4), (3, 6, 4)),   # batch sizes
    ((2, 3, 4), (2, 6, 4), (2, 6, 3)),   # value features
])
def test_multihead_attention_batch_first_errors_name_the_shapes_passed(shapes) -> None:
    mha, reference = nn.MultiheadAttention(4, 2, batch_first=True), torch.nn.MultiheadAttention(4, 2, batch_first=True)
    expected = _raised(lambda: reference(*(torch.randn(*s) for s in shapes)))
    with pytest.raises(Exception) as info:
        mha(*(mg.randn(*s) for s in shapes))
    assert isinstance(info.value, expected)
    message = str(info.value)
    for what, shape in zip(("query", "key", "value"), shapes):
        assert f"{what} {shape}" in message


def test_steplr_step_size_zero_raises_zero_division_as_torch_does_at_its_first_step() -> None:
    # torch constructs and raises ZeroDivisionError at step(); ours refuses earlier, with a ZeroDivisionError too
    reference = torch.optim.lr_scheduler.StepLR(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1), 0)
    expected = _raised(reference.step)
    assert expected is ZeroDivisionError
    with pytest.raises(expected, match="step_size"):
        nn.optim.lr_scheduler.StepLR(nn.optim.SGD([mg.zeros(1, requires_grad=True)], lr=0.1), step_size=0)


def _same_outcome(torch_call, mg_call) -> None:
    """Both raise (ours a subclass of torch's class) or both give the same values and dtype name."""
    try:
        expected = torch_call()
    except Exception as error:   # noqa: BLE001 - the class is the point
        with pytest.raises(type(error)):
            mg_call()
        return
    got = mg_call()
    assert got.tolist() == expected.tolist() and str(got.dtype) == str(expected.dtype).removeprefix("torch.")


@pytest.mark.parametrize("data", [
    lambda np: np.float32(2.5), lambda np: np.float16(2.5), lambda np: np.bool_(True), lambda np: np.complex64(1),
    lambda np: np.complex128(1), lambda np: 1j, lambda np: np.float64(2.5), lambda np: np.int32(3),
    lambda np: [np.float32(2.5), 1], lambda np: [[1, 2], (3, np.float16(1))],
], ids=["f32", "f16", "bool", "c64", "c128", "complex", "f64", "i32", "list", "nested"])
@pytest.mark.parametrize("dtype", ["int64", "uint8", "bool", "float32"])
def test_tensor_of_numpy_scalars_into_int_and_bool_dtypes_as_torch(data, dtype: str) -> None:
    _same_outcome(lambda: torch.tensor(data(numpy), dtype=getattr(torch, dtype)),
                  lambda: mg.tensor(data(numpy), dtype=getattr(mg, dtype)))


@pytest.mark.parametrize("data", [[[1j], [2, 3]], [[1, 2j], [3]]])
@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_ragged_list_with_a_complex_number_into_a_real_dtype_is_a_type_error(data, dtype: str) -> None:
    _same_outcome(lambda: torch.tensor(data, dtype=getattr(torch, dtype)),
                  lambda: mg.tensor(data, dtype=getattr(mg, dtype)))


@pytest.mark.parametrize("args", [(0, 3j), (0, 3, 1j), (1j, 3), (0, "a"), (0, 3.0)])
@pytest.mark.parametrize("dtype", ["bool", "complex64", "int64", None])
def test_arange_refuses_the_dtype_before_a_complex_bound(args, dtype) -> None:
    _same_outcome(lambda: torch.arange(*args, dtype=dtype and getattr(torch, dtype)),
                  lambda: mg.arange(*args, dtype=dtype and getattr(mg, dtype)))


def _int_argument_calls(lib):
    x, m = lib.tensor([1.2345, 2.5, 3.7, 0.1]), lib.ones(3, 3)
    return {
        "round": lambda v: lib.round(x, decimals=v), "Tensor.round": lambda v: x.round(decimals=v),
        "diag 2-D": lambda v: lib.diag(m, v), "diag 1-D": lambda v: lib.diag(x, diagonal=v),
        "std": lambda v: x.std(correction=v), "var": lambda v: lib.var(x, correction=v),
        "tril": lambda v: m.tril(v), "topk": lambda v: x.topk(v)[0],
    }


@pytest.mark.parametrize("call", list(_int_argument_calls(torch)))
@pytest.mark.parametrize("value", [(2, None), (-1, None), (1, "uint8"), (1, "int32"), (2.0, None), (True, None)])
def test_zero_dim_tensors_where_torch_reads_an_int_or_number(call: str, value: tuple) -> None:
    def make(lib):
        return lib.tensor(value[0], dtype=value[1] and getattr(lib, value[1]))
    expected_call = _int_argument_calls(torch)[call]
    got_call = _int_argument_calls(mg)[call]
    try:
        expected = expected_call(make(torch))
    except Exception as error:   # noqa: BLE001 - the class is the point
        with pytest.raises(type(error)):
            got_call(make(mg))
        return
    np_expected = expected.detach().numpy()
    numpy.testing.assert_allclose(got_call(make(mg)).numpy(), np_expected, rtol=1e-6)
