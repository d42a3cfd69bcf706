"""Tensor creation and conversion against PyTorch: the places where minigrad used to differ.

Each case is ``fn(lib)`` in PyTorch's spelling, run with ``lib = minigrad`` and ``lib = torch``; the
results must have the same values, dtype, shape and ``requires_grad``. Random constructors are
compared by shape and dtype (and range), not values.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg


def _same(torch: Any, fn: Callable[[Any], Any]) -> None:
    ours, theirs = fn(mg), fn(torch)
    assert ours.shape == tuple(theirs.shape)
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    assert ours.requires_grad == theirs.requires_grad
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())


INFERRED: dict[str, Callable[[Any], Any]] = {
    "numpy_int32_scalars": lambda t: t.tensor([np.int32(1), np.int32(0)]),
    "numpy_uint8_and_int8": lambda t: t.tensor([np.uint8(1), np.int8(2)]),
    "numpy_float64_with_float": lambda t: t.tensor([np.float64(1), 2.5]),
    "numpy_float16_with_int": lambda t: t.tensor([np.float16(1), 2]),
    "numpy_int32_with_float": lambda t: t.tensor([np.int32(1), 2.5]),
    "numpy_complex128": lambda t: t.tensor([np.complex128(1), 0]),
    "bool_with_int": lambda t: t.tensor([[True, 2], [3, 4]]),
    "float64_0d_tensors": lambda t: t.tensor([t.tensor(1.5, dtype=t.float64), t.tensor(2.0, dtype=t.float64)]),
    "int32_0d_tensor_with_int": lambda t: t.tensor([t.tensor(1, dtype=t.int32), 2]),
    "int32_0d_tensor_with_float": lambda t: t.tensor([t.tensor(1, dtype=t.int32), 2.5]),
    "empty_nested": lambda t: t.tensor([[], []]),
}


@pytest.mark.parametrize("name", sorted(INFERRED))
def test_tensor_infers_the_dtype_of_a_list_as_torch(torch: Any, name: str) -> None:
    _same(torch, INFERRED[name])


def test_tensor_refuses_an_int_beyond_int64_in_a_list() -> None:
    with pytest.raises(OverflowError, match="tensor: the integer 9223372036854775808 does not fit in int64"):
        mg.tensor([1, 2 ** 63])


CREATED: dict[str, Callable[[Any], Any]] = {
    "full_numpy_int_fill": lambda t: t.full((2,), np.int32(2)),
    "full_numpy_bool_fill": lambda t: t.full((2,), np.bool_(True)),
    "full_size_keyword": lambda t: t.full(size=(2,), fill_value=1),
    "zeros_size_keyword": lambda t: t.zeros(size=(2, 3)),
    "ones_size_keyword": lambda t: t.ones(size=(2,), dtype=t.int32),
    "new_zeros_size_keyword": lambda t: t.tensor([1.0], dtype=t.float64).new_zeros(size=(2,)),
    "new_full_bool_fill": lambda t: t.tensor([1.0]).new_full((2,), True),
    "arange_end_keyword": lambda t: t.arange(end=5),
    "arange_start_end_keywords": lambda t: t.arange(start=1, end=5),
    "arange_int32_float_step": lambda t: t.arange(1, 0, -0.1, dtype=t.int32),
    "arange_int32_float_bounds": lambda t: t.arange(0.5, 5.7, 1.5, dtype=t.int32),
    "arange_int64_float_bounds": lambda t: t.arange(-2.5, 3, 1.5, dtype=t.int64),
    "arange_uint8_wraps": lambda t: t.arange(-1, 2, dtype=t.uint8),
    "arange_float16": lambda t: t.arange(0, 3000, 0.7, dtype=t.float16)[-3:],
    "short": lambda t: t.tensor([1.5, -2.7]).short(),
    "char": lambda t: t.tensor([1.5, -2.7]).char(),
    "byte": lambda t: t.tensor([1.5, 3.7]).byte(),
    "cfloat": lambda t: t.tensor([1.5, -2.7]).cfloat(),
    "cdouble": lambda t: t.tensor([1.5, -2.7]).cdouble(),
}


@pytest.mark.parametrize("name", sorted(CREATED))
def test_constructors_and_casts_as_torch(torch: Any, name: str) -> None:
    _same(torch, CREATED[name])


@pytest.mark.parametrize("args", [(0, 1, 0.1), (1, 0, -0.1), (-1, 1, 0.2), (0, 2.2, 0.2), (0, 1, 0.3)])
def test_arange_float_steps_round_once(torch: Any, args: tuple) -> None:
    """float32 values are PyTorch's, bit for bit: start + i * step fused and rounded once (NumPy's float32 steps
    drift by an ulp; PyTorch's arange(-1, 1, 0.2)[5] is 5.55e-17, not 0)."""
    ours, theirs = mg.arange(*args), torch.arange(*args)
    assert ours.shape == tuple(theirs.shape) and ours.dtype == mg.float32
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert mg.arange(0, 1, 0.1)[-1].item() == np.float32(0.9)


def test_arange_errors_name_it() -> None:
    with pytest.raises(ValueError, match="arange: step must be nonzero"):
        mg.arange(0, 5, 0.9, dtype=mg.int64)   # PyTorch's int64 path truncates the step to 0
    with pytest.raises(TypeError, match="arange\\(\\): give end"):
        mg.arange(0, 5, stop=5)
    assert mg.arange(stop=3).tolist() == [0, 1, 2]   # NumPy's keyword still works


@pytest.mark.parametrize("fn", [mg.rand, mg.randn])
@pytest.mark.parametrize("dtype", [mg.int64, mg.int32, mg.bool_])
def test_rand_and_randn_refuse_integer_dtypes(fn: Callable, dtype: Any) -> None:
    """They used to cast float samples: rand gave all zeros, randn truncated normals."""
    with pytest.raises(TypeError, match=f"{fn.__name__}: samples must be floating point or complex, got dtype"):
        fn(3, dtype=dtype)
    with pytest.raises(TypeError, match="rand: samples must be floating point"):
        mg.rand_like(mg.tensor([1, 2]))


def test_complex_samples_draw_both_parts() -> None:
    mg.manual_seed(0)
    x = mg.randn(20000, dtype=mg.complex64)
    assert x.dtype == mg.complex64 and x.shape == (20000,)
    values = x.numpy()
    assert abs(values.real.var() - 0.5) < 0.05 and abs(values.imag.var() - 0.5) < 0.05
    u = mg.rand(1000, dtype=mg.complex128).numpy()
    assert (u.real >= 0).all() and (u.real < 1).all() and (u.imag >= 0).all() and u.imag.max() > 0.5


def test_size_keyword_of_random_constructors(torch: Any) -> None:
    for name in ("rand", "randn"):
        ours, theirs = getattr(mg, name)(size=(2, 3)), getattr(torch, name)(size=(2, 3))
        assert ours.shape == tuple(theirs.shape) and str(ours.dtype) == "float32"
    with pytest.raises(TypeError, match="randn\\(\\): give the shape once"):
        mg.randn(2, size=(3,))


def test_randint_forms_ranges_and_dtypes(torch: Any) -> None:
    x = mg.randint(high=5, size=(300,))
    assert x.shape == (300,) and x.dtype == mg.int64 and 0 <= x.min().item() and x.max().item() < 5
    y = mg.randint(3, 6, (300,), dtype=mg.float32, requires_grad=True)
    assert y.requires_grad and y.dtype == mg.float32 and set(y.detach().numpy().tolist()) <= {3.0, 4.0, 5.0}
    assert mg.randint(0, 2, (4,), dtype=mg.bool_).dtype == mg.bool_
    assert mg.randint(0, 256, (50,), dtype=mg.uint8).dtype == mg.uint8
    with pytest.raises(ValueError, match="randint: \\[low, high\\) = \\[0, 300\\) does not fit in dtype uint8"):
        mg.randint(0, 300, (3,), dtype=mg.uint8)   # used to wrap silently
    with pytest.raises(ValueError, match="randint: expects low < high"):
        mg.randint(5, 5, (3,))
    with pytest.raises(TypeError, match="randint: integer tensors cannot require grad"):
        mg.randint(5, (3,), requires_grad=True)
    for args in [(0, 300, (3,)), (5, 5, (3,))]:
        with pytest.raises(RuntimeError):
            torch.randint(*args, dtype=torch.uint8 if args[1] == 300 else torch.int64)


def test_randperm_refuses_dtypes_that_cannot_hold_it() -> None:
    assert sorted(mg.randperm(256, dtype=mg.uint8).tolist()) == list(range(256))
    assert mg.randperm(2049, dtype=mg.float16).shape == (2049,)
    with pytest.raises(ValueError, match="randperm: n = 257 is too large for dtype uint8"):
        mg.randperm(257, dtype=mg.uint8)   # used to wrap silently
    with pytest.raises(ValueError, match="randperm: n = 2050 is too large for dtype float16"):
        mg.randperm(2050, dtype=mg.float16)
    with pytest.raises(TypeError, match="randperm: not implemented for dtype bool"):
        mg.randperm(3, dtype=mg.bool_)


def test_asarray_copy_and_requires_grad(torch: Any) -> None:
    array = np.zeros(2)
    shared, copied = mg.asarray(array), mg.asarray(array, copy=True)
    array[0] = 7.0
    assert shared.tolist() == [7.0, 0.0] and copied.tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="asarray: copy=False cannot alias"):
        mg.asarray(array, dtype=mg.float32, copy=False)
    with pytest.raises(ValueError, match="asarray: copy=False cannot alias a list"):
        mg.asarray([1, 2], copy=False)
    x = mg.ones(2, requires_grad=True)
    assert mg.asarray(x) is x and mg.asarray(x, copy=False) is x
    clone = mg.asarray(x, copy=True)
    assert clone is not x and clone.requires_grad and not clone.is_leaf
    assert mg.asarray([1.0, 2.0], requires_grad=True).requires_grad
    assert not mg.asarray(x, requires_grad=False).requires_grad and x.requires_grad
    _same(torch, lambda t: t.asarray([1.0, 2.0], requires_grad=True))


def test_numpy_force_keyword() -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    np.testing.assert_array_equal(x.numpy(force=True), [1.0, 2.0])


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32"])
def test_linspace_bit_for_bit_as_torch(torch: Any, dtype: str) -> None:
    """PyTorch computes the first half from start, the second from end, with a fused multiply-add; NumPy's
    formula differs in the last bit for a fifth of float32 values."""
    rng = np.random.default_rng(2)
    for _ in range(60):
        a, b = rng.standard_normal(2) * rng.choice([1.0, 10.0, 1000.0])
        if dtype.startswith("int"):
            a, b = float(int(a)), float(int(b))
        steps = int(rng.integers(0, 200))
        want = torch.linspace(float(a), float(b), steps, dtype=getattr(torch, dtype)).numpy()
        got = mg.linspace(float(a), float(b), steps, dtype=getattr(mg, dtype)).numpy()
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
