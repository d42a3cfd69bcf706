"""Tensor construction, dtypes (NumPy 2 promotion), attributes, conversions, comparisons, repr and errors."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

# --- constructors and dtypes -------------------------------------------------------------


@pytest.mark.parametrize("data, dtype", [
    (1.5, mg.float32), ([1.0, 2.0], mg.float32), ([1, 2.5], mg.float32), ([[1, 2], [3, 4]], mg.int64),
    (3, mg.int64), (True, mg.bool_), ([True, False], mg.bool_),
    (np.arange(3, dtype=np.int32), mg.int32), (np.ones(2), mg.float64), (np.ones(2, np.float16), mg.float16),
    (np.float64(1.5), mg.float64), (np.float32(1.5), mg.float32), (np.int64(2), mg.int64),
])
def test_tensor_infers_dtype_like_the_design(data: object, dtype: np.dtype) -> None:
    """Python scalars and lists: float32 / int64 / bool; NumPy arrays and scalars keep their dtype."""
    t = mg.tensor(data)
    assert t.dtype == dtype
    assert t.shape == np.shape(data)
    np.testing.assert_array_equal(t.numpy(), np.asarray(data, dtype=dtype))


def test_dtype_names_are_numpys_and_strings_work() -> None:
    assert (mg.float32, mg.float64, mg.int64, mg.bool_) == tuple(np.dtype(n) for n in ("float32", "float64",
                                                                                         "int64", "bool"))
    assert mg.tensor([1, 2], dtype="float64").dtype == mg.float64
    assert mg.zeros(2, dtype="int64").dtype == mg.int64
    assert mg.tensor([1.7, -2.2], dtype=mg.int64).numpy().tolist() == [1, -2]


def test_tensor_copies_its_input_and_makes_a_leaf() -> None:
    array = np.array([1.0, 2.0])
    t = mg.tensor(array, requires_grad=True)
    array[0] = 99.0
    assert t.numpy().tolist() == [1.0, 2.0]
    assert t.is_leaf and t.requires_grad and t.grad is None
    u = mg.tensor(t * 2)
    assert u.is_leaf and not u.requires_grad and u.numpy().tolist() == [2.0, 4.0]
    direct = mg.Tensor([1.0, 2.0], requires_grad=True)
    assert direct.dtype == mg.float32 and direct.requires_grad
    assert mg.tensor([mg.tensor(1.0), mg.tensor(2.0)]).numpy().tolist() == [1.0, 2.0]


def test_as_tensor_does_not_copy() -> None:
    array = np.zeros(3)
    t = mg.as_tensor(array)
    assert t.data is array and t.dtype == mg.float64
    assert mg.as_tensor(t) is t


def test_filled_constructors() -> None:
    for make in (mg.zeros, mg.ones, mg.empty, mg.randn, mg.rand):
        assert make(2, 3).shape == (2, 3) and make((2, 3)).shape == (2, 3) and make([4]).shape == (4,)
        assert make(2).dtype == mg.float32 and make(2, dtype=mg.float64).dtype == mg.float64
        with pytest.raises(TypeError):   # as PyTorch's: the size is required (zeros(()) is 0-d)
            make()
        assert make(()).shape == ()
        t = make(2, requires_grad=True)
        assert t.requires_grad and t.is_leaf
    for make in (mg.zeros, mg.ones, mg.empty):   # DESIGN: zeros/ones/full/empty(shape, ...)
        assert make(shape=(2, 3)).shape == (2, 3) and make(shape=4).shape == (4,)
    assert mg.zeros(2, 2).numpy().tolist() == [[0, 0], [0, 0]]
    assert mg.ones(3).numpy().tolist() == [1, 1, 1]
    assert mg.full((2,), 7).dtype == mg.int64 and mg.full((2,), 7.0).dtype == mg.float32
    assert mg.full(3, True).dtype == mg.bool_ and mg.full((2, 2), 0.5).numpy().tolist() == [[0.5, 0.5]] * 2
    x = mg.randn(2, 3, dtype=mg.float64)
    for like, value in ((mg.zeros_like, 0), (mg.ones_like, 1), (lambda t: mg.full_like(t, 4), 4)):
        y = like(x)
        assert y.shape == (2, 3) and y.dtype == mg.float64 and (y.numpy() == value).all()
    assert mg.zeros_like(x, dtype=mg.float32).dtype == mg.float32


def test_arange_like_numpy() -> None:
    assert mg.arange(5).dtype == mg.int64 and mg.arange(5).numpy().tolist() == [0, 1, 2, 3, 4]
    assert mg.arange(2, 8, 3).numpy().tolist() == [2, 5]
    assert mg.arange(np.int64(3)).dtype == mg.int64
    r = mg.arange(0, 1, 0.25)
    assert r.dtype == mg.float32 and r.numpy().tolist() == [0.0, 0.25, 0.5, 0.75]
    assert mg.arange(3, dtype=mg.float64).dtype == mg.float64


def test_random_constructors_ranges_and_dtypes() -> None:
    u = mg.rand(1000)
    assert 0.0 <= u.numpy().min() and u.numpy().max() < 1.0
    n = mg.randn(4000, dtype=mg.float64)
    assert abs(n.numpy().mean()) < 0.1 and abs(n.numpy().std() - 1) < 0.1
    k = mg.randint(2, 5, (3, 100))
    assert k.dtype == mg.int64 and k.shape == (3, 100) and set(np.unique(k.numpy())) == {2, 3, 4}
    with pytest.raises(RuntimeError, match="floating-point"):
        mg.zeros(2, dtype=mg.int64, requires_grad=True)


def test_manual_seed_makes_random_numbers_reproducible() -> None:
    def draw() -> list:
        return [mg.randn(3).numpy(), mg.rand(2, 2).numpy(), mg.randint(0, 100, (5,)).numpy()]

    mg.manual_seed(123)
    first = draw()
    mg.manual_seed(123)
    second = draw()
    mg.manual_seed(124)
    third = draw()
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert not np.array_equal(first[0], third[0])


# --- NumPy 2 promotion ---------------------------------------------------------------------

@pytest.mark.parametrize("make_a, other, expected", [
    (lambda: mg.randn(2), lambda: 2.5, mg.float32),                  # a Python float does not upcast float32
    (lambda: mg.randn(2), lambda: 3, mg.float32),
    (lambda: mg.randn(2), lambda: mg.randn(2, dtype=mg.float64), mg.float64),
    (lambda: mg.randn(2), lambda: mg.tensor(2.0, dtype=mg.float64), mg.float64),   # 0-d arrays are not weak
    (lambda: mg.randn(2), lambda: np.float64(2.0), mg.float64),      # NumPy scalars are not weak either
    (lambda: mg.tensor([1, 2]), lambda: 2.5, mg.float64),
    (lambda: mg.tensor([1, 2]), lambda: mg.randn(2), mg.float64),
    (lambda: mg.tensor([1, 2]), lambda: 3, mg.int64),
    (lambda: mg.randn(2, dtype=mg.float64), lambda: 2.5, mg.float64),
])
def test_mixed_dtypes_follow_numpy2_promotion(make_a: object, other: object, expected: np.dtype) -> None:
    a, b = make_a(), other()
    b_np = b.numpy() if isinstance(b, mg.Tensor) else b
    for result, reference in [(a + b, a.numpy() + b_np), (a * b, a.numpy() * b_np), (b - a, b_np - a.numpy())]:
        assert result.dtype == expected == reference.dtype


def test_float32_stays_float32_through_python_scalars() -> None:
    x = mg.randn(3, requires_grad=True)
    y = (2.0 * x + 1.5) / 3.0 - x ** 2 + 2 ** x
    assert y.dtype == mg.float32
    y.sum().backward()
    assert x.grad.dtype == mg.float32
    with pytest.raises(RuntimeError, match="could not infer output dtype"):   # as torch.mean of int64
        mg.tensor([1, 2]).mean()
    assert mg.tensor([1, 2]).mean(axis=0).dtype == mg.float64   # NumPy's keyword: as numpy.mean of int64


# --- attributes and conversions ----------------------------------------------------------------

def test_attributes() -> None:
    x = mg.randn(2, 3, 4)
    assert x.shape == (2, 3, 4) and isinstance(x.shape, tuple) and x.ndim == 3 and x.numel() == 24
    assert x.device == "cpu" and x.dtype == mg.float32
    assert isinstance(x.data, np.ndarray)
    assert x.T.shape == (4, 3, 2)
    np.testing.assert_array_equal(x.T.numpy(), x.numpy().T)
    m = mg.randn(2, 3, requires_grad=True)
    m.T.sum().backward()
    assert m.grad.shape == (2, 3)
    assert len(x) == 2 and [t.shape for t in x] == [(3, 4), (3, 4)]


def test_item_numpy_tolist_and_python_conversions() -> None:
    assert mg.tensor([[2.5]]).item() == 2.5 and isinstance(mg.tensor(2.5).item(), float)
    assert mg.tensor([7]).item() == 7 and isinstance(mg.tensor(7).item(), int)
    assert float(mg.tensor(1.5)) == 1.5 and int(mg.tensor(3)) == 3
    assert [10, 11, 12][mg.tensor(1)] == 11
    assert bool(mg.tensor(1.0)) and not bool(mg.tensor(0.0))
    x = mg.tensor([[1.0, 2.0]])
    assert x.tolist() == [[1.0, 2.0]]
    array = x.numpy()
    assert type(array) is np.ndarray and array.dtype == np.float32
    assert array is x.data                     # the same memory on the CPU
    assert np.asarray(x).tolist() == [[1.0, 2.0]]
    with pytest.raises(ValueError, match=r"item.*one-element.*\(1, 2\)"):
        x.item()
    with pytest.raises(ValueError, match="ambiguous"):
        bool(mg.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match="0-d"):
        len(mg.tensor(1.0))


def test_to_casts_and_moves() -> None:
    x = mg.tensor([1.5, 2.5], requires_grad=True)
    assert x.to("cpu") is x and x.cpu() is x and x.to(dtype=mg.float32) is x
    for y in (x.to(dtype=mg.float64), x.to(mg.float64), x.double(), x.to(device="cpu", dtype="float64")):
        assert y.dtype == mg.float64 and y.requires_grad and not y.is_leaf
    assert x.double().float().dtype == mg.float32
    (x.double() * 2).sum().backward()
    assert x.grad.dtype == mg.float32 and x.grad.numpy().tolist() == [2.0, 2.0]
    assert x.long().numpy().tolist() == [1, 2] and not x.long().requires_grad


# --- comparisons ----------------------------------------------------------------------------------

def test_comparisons_return_bool_tensors_without_grad() -> None:
    a = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = mg.tensor([3.0, 2.0, 1.0])
    results = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}
    expected = {"<": [1, 0, 0], "<=": [1, 1, 0], ">": [0, 0, 1], ">=": [0, 1, 1], "==": [0, 1, 0], "!=": [1, 0, 1]}
    for op, result in results.items():
        assert isinstance(result, mg.Tensor) and result.dtype == mg.bool_, op
        assert not result.requires_grad and result._node is None, op
        assert result.numpy().astype(int).tolist() == expected[op], op
    assert (2.0 < a).numpy().tolist() == [False, False, True]              # reflected: a > 2
    assert (np.array([2.0, 2.0, 2.0]) >= a).numpy().tolist() == [True, True, False]
    assert (mg.randn(2, 1) < mg.randn(3)).shape == (2, 3)                   # broadcasting
    with pytest.raises(ValueError, match=r"lt.*\(2,\).*\(3,\)"):
        _ = mg.randn(2) < mg.randn(3)
    assert len({a, b}) == 2                                                 # still hashable


# --- repr ---------------------------------------------------------------------------------------------

def test_repr_is_pytorch_like() -> None:
    assert repr(mg.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(mg.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(mg.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    assert repr(mg.tensor([1.0], requires_grad=True) * 2) == "tensor([2.], grad_fn=<MulBackward0>)"
    assert repr(mg.tensor([0.5], dtype=mg.float64)) == "tensor([0.5000], dtype=float64)"
    assert repr(mg.zeros(2, 2)) == "tensor([[0., 0.],\n        [0., 0.]])"


# --- errors -------------------------------------------------------------------------------------------------

def test_constructor_errors_name_the_problem() -> None:
    with pytest.raises(RuntimeError, match=r"only floating-point tensors can require gradients.*int64"):
        mg.tensor([1, 2], requires_grad=True)
    with pytest.raises(ValueError, match=r"unknown device 'tpu'"):
        mg.tensor([1.0], device="tpu")
    with pytest.raises(ValueError, match=r"unknown device 'cuda:x'"):
        mg.zeros(2, device="cuda:x")
    with pytest.raises(TypeError, match="tensor"):
        mg.tensor(object())
    with pytest.raises(TypeError, match="zeros"):
        mg.zeros(2.5)
    with pytest.raises(ValueError, match="negative"):
        mg.ones(-1)


def test_nn_is_reachable_from_minigrad_as_the_same_module() -> None:
    import nn
    from minigrad import nn as nn_again

    assert nn is nn_again and mg.nn is nn


def test_as_tensor_takes_pytorch_dtype_and_device_and_copies_only_when_needed(torch) -> None:
    array = np.arange(3.0)
    shared = mg.as_tensor(array)
    assert shared.data is array                                     # no copy: writes show in both, as torch's
    converted = mg.as_tensor(array, mg.float32)                     # PyTorch's positional dtype
    expected = torch.as_tensor(array, dtype=torch.float32)
    assert converted.dtype == np.float32 and converted.data is not array
    np.testing.assert_array_equal(converted.numpy(), expected.numpy())
    x = mg.tensor([1.0, 2.0])
    assert mg.as_tensor(x) is x and mg.as_tensor(x, dtype=mg.float32, device="cpu") is x
    assert mg.as_tensor(x, dtype=mg.float64).dtype == np.float64
    assert mg.as_tensor([1, 2], dtype=mg.float64).dtype == np.float64
    with pytest.raises(TypeError, match="as_tensor"):
        mg.as_tensor(np.array(["a"]))
