"""The Tensor object's everyday Python behaviour against PyTorch's (probe round: bool/len/iter/contains,
number conversions, ``==`` with None, clone's strides, the error classes of refused ops).

Each test pins one difference found and fixed; the classes of the errors are PyTorch's *and* the ones
minigrad raised before (NumPy's), so code written against either still catches them.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg


@pytest.fixture(scope="module")
def torch() -> Any:
    return pytest.importorskip("torch", reason="comparisons with PyTorch need torch")


# --- bool(), item(): PyTorch's RuntimeError, NumPy's ValueError -------------------------------------------

@pytest.mark.parametrize("call", [bool, lambda t: t.item()], ids=["bool", "item"])
@pytest.mark.parametrize("data", [[1.0, 2.0], []], ids=["two", "empty"])
def test_not_one_element_raises_runtime_and_value_error(call: Callable, data: list, torch: Any) -> None:
    with pytest.raises(RuntimeError):
        call(torch.tensor(data))
    for kind in (RuntimeError, ValueError):
        with pytest.raises(kind, match="one-element"):
            call(mg.tensor(data))


# --- iteration, reversed, in ----------------------------------------------------------------------------

def test_iterating_a_0d_tensor_says_so_when_iter_is_called(torch: Any) -> None:
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(torch.tensor(1.0))
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(mg.tensor(1.0))


def test_rows_are_views_sharing_memory() -> None:
    x = mg.tensor([[1, 2], [3, 4]])
    rows = list(x)
    assert rows[0].data_ptr() == x.data_ptr()
    rows[1].fill_(9)
    assert x.tolist() == [[1, 2], [9, 9]]


@pytest.mark.parametrize("data", [[1, 2, 3], 3, [[1.0, 2.0], [3.0, 4.0]]])
def test_reversed_flips_dim_0_as_torch(data: Any, torch: Any) -> None:
    expected = reversed(torch.tensor(data))
    got = reversed(mg.tensor(data))
    assert isinstance(got, mg.Tensor)
    assert got.tolist() == expected.tolist()


@pytest.mark.parametrize("element, data", [
    (2, [1, 2, 3]), (5, [1, 2, 3]), (2.0, [1, 2, 3]), (True, [True, False]), (2, 2), (np.int64(3), [1, 2, 3]),
    ("tensor2", [1, 2, 3]), ("row", [[1, 2], [3, 4]]), ("row", [[1, 3], [2, 4]]),
])
def test_contains_as_torch(element: Any, data: Any, torch: Any) -> None:
    def make(lib: Any) -> Any:
        return {"tensor2": lib.tensor(2), "row": lib.tensor([1, 2])}.get(element, element) \
            if isinstance(element, str) else element
    assert (make(mg) in mg.tensor(data)) == (make(torch) in torch.tensor(data))


@pytest.mark.parametrize("element", ["a", None, [1, 2]])
def test_contains_refuses_other_objects_as_torch(element: Any, torch: Any) -> None:
    with pytest.raises(RuntimeError, match="only supports Tensor or scalar"):
        element in torch.tensor([1, 2])  # noqa: B015
    for kind in (RuntimeError, TypeError):
        with pytest.raises(kind, match="only supports Tensor or scalar"):
            element in mg.tensor([1, 2])  # noqa: B015


# --- conversions to Python numbers ------------------------------------------------------------------------

@pytest.mark.parametrize("value, dtype", [(1 + 2j, None), (3, None), (2.5, None), (True, None), (1.5, "float16"),
                                          (1 - 1j, "complex64")])
def test_complex_of_a_one_element_tensor(value: Any, dtype: str | None, torch: Any) -> None:
    expected = complex(torch.tensor(value, dtype=getattr(torch, dtype) if dtype else None))
    assert complex(mg.tensor([value], dtype=dtype)) == expected
    assert type(complex(mg.tensor(value, dtype=dtype))) is complex


# --- == and != with objects that are not numbers -----------------------------------------------------------

@pytest.mark.parametrize("other", [None, "a"])
def test_eq_with_none_or_str_is_python_identity_as_torch(other: Any, torch: Any) -> None:
    for data in ([1, 2], 2):
        x, t = mg.tensor(data), torch.tensor(data)
        assert (x == other) is (t == other) is False
        assert (x != other) is (t != other) is True
        assert (other == x) is False
    with pytest.raises(TypeError, match="lt: "):   # PyTorch: a TypeError too
        mg.tensor([1, 2]) < other  # noqa: B015
    with pytest.raises(TypeError, match="eq"):
        mg.tensor([1, 2]).eq(other)
    with pytest.raises(TypeError, match="ne"):
        mg.ne(mg.tensor([1, 2]), other)


def test_tensor_in_a_list_with_none_as_torch() -> None:
    """``t in [None, t]`` compares with None first: that is False now, not an ambiguous truth value."""
    x = mg.tensor([1.0, 2.0])
    assert x in [None, x]   # identity of the second element


def test_comparisons_with_numbers_and_tensors_unchanged() -> None:
    x = mg.tensor([1, 2])
    assert (x == 2).tolist() == [False, True]
    assert x.eq(mg.tensor([1, 0])).tolist() == [True, False]
    assert mg.eq(x, 1).tolist() == [True, False]
    assert (x != 2).dtype == mg.bool_


# --- error classes of refused ops: PyTorch's RuntimeError as well as NumPy's class --------------------------

@pytest.mark.parametrize("call, numpy_kind, torch_match", [
    (lambda T: -T.tensor([True, False]), TypeError, "bool tensor"),
    (lambda T: T.neg(T.tensor(True)), TypeError, "bool tensor"),
    (lambda T: +T.tensor([True]), TypeError, "bool tensor"),
    (lambda T: T.tensor([2, 3]) ** -1, ValueError, "negative integer powers"),
    (lambda T: T.tensor([2, 3]).pow(-2), ValueError, "negative integer powers"),
    (lambda T: T.tensor([1.0, 2.0]) @ T.tensor(3.0), ValueError, "1D"),
    (lambda T: T.tensor(3.0) @ T.tensor(3.0), ValueError, "1D"),
    (lambda T: T.ones(2, 3) @ T.ones(2, 3), ValueError, "cannot be multiplied"),
])
def test_refusals_raise_runtime_error_too(call: Callable, numpy_kind: type, torch_match: str, torch: Any) -> None:
    with pytest.raises(RuntimeError, match=torch_match):
        call(torch)
    for kind in (RuntimeError, numpy_kind):
        with pytest.raises(kind):
            call(mg)


def test_negation_of_other_dtypes_unchanged() -> None:
    assert (-mg.tensor([1, -2])).tolist() == [-1, 2]
    assert (mg.tensor([2, 3]) ** 2).tolist() == [4, 9]
    assert (mg.tensor([2.0, 4.0]) ** -1).tolist() == [0.5, 0.25]


# --- clone keeps a transposed input's strides (preserve_format), as PyTorch's --------------------------------

@pytest.mark.parametrize("make", [
    lambda T: T.zeros(3, 4).t(),
    lambda T: T.zeros(2, 3, 4).permute(2, 0, 1),
    lambda T: T.zeros(3, 4)[:, ::2],
    lambda T: T.zeros(3, 4)[:, ::2].t(),
    lambda T: T.zeros(4, 5).t()[::2],
    lambda T: T.zeros(4, 5).t()[:, None],
    lambda T: T.zeros(3, 1).expand(3, 4),
    lambda T: T.zeros(3, 4, 5).transpose(0, 2)[1:],
    lambda T: T.zeros(2, 3, 4, 5).permute(0, 2, 3, 1),
    lambda T: T.zeros(2, 3, 4, 5).contiguous(memory_format=T.channels_last),
])
def test_clone_strides_as_torch(make: Callable, torch: Any) -> None:
    expected = make(torch).clone()
    got = make(mg).clone()
    assert got.stride() == expected.stride()
    assert got.is_contiguous() == expected.is_contiguous()
    assert make(mg).clone(memory_format=mg.preserve_format).stride() == expected.stride()
    assert make(mg).clone(memory_format=mg.contiguous_format).is_contiguous()


def test_clone_of_a_transpose_keeps_values_and_gradient() -> None:
    x = mg.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    y = x.t().clone()
    assert y.tolist() == x.t().tolist()
    assert y.reshape(-1).tolist() == x.t().reshape(-1).tolist()
    (y * mg.tensor(np.arange(12.0).reshape(4, 3))).sum().backward()
    assert x.grad.tolist() == np.arange(12.0).reshape(4, 3).T.tolist()


@pytest.mark.parametrize("expr", ["x.max()", "x.amin()", "x.argmax()", "x.aminmax()", "x.max(0)", "x.amax(0)"])
def test_an_empty_reduction_raises_torchs_class_too(torch: Any, expr: str) -> None:
    # torch: RuntimeError (max, amax, aminmax) or IndexError (argmax, a dim); ours is both, and a ValueError
    errors = []
    for x in (torch.empty(0), mg.empty(0)):
        with pytest.raises(Exception) as info:
            eval(expr, {}, {"x": x})  # noqa: S307 - a fixed expression
        errors.append(info.value)
    assert isinstance(errors[1], type(errors[0])) and isinstance(errors[1], ValueError)
