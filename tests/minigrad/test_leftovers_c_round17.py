"""Small leftovers of round 17, each against live torch: max/min with a 0-d int tensor dim and keepdim given,
constructor/shape corner cases, allocation errors, channels-last suggestions, lazy state dicts, list out=."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from helpers import same_as_torch

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("call", [
    lambda lib, f, x: getattr(x, f)(lib.tensor(1), keepdim=False),
    lambda lib, f, x: getattr(x, f)(lib.tensor(0), False),
    lambda lib, f, x: getattr(lib, f)(x, lib.tensor(1), keepdim=False),
    lambda lib, f, x: getattr(lib, f)(x, lib.tensor(1), keepdim=True),
    lambda lib, f, x: getattr(lib, f)(x, lib.tensor(1)),   # no keepdim: the elementwise form
])
def test_max_min_tensor_dim_with_keepdim(name: str, call: Any) -> None:
    """A 0-d int tensor with keepdim given (even False) is the dim, as torch's (int dim, bool keepdim) overload."""
    x = np.random.default_rng(0).standard_normal((3, 4))
    same_as_torch(torch, lambda lib, a: call(lib, name, a), x, gradcheck=False)


def test_max_other_with_keepdim_refused() -> None:
    x = np.ones((2, 3))
    for lib in (mg, torch):
        with pytest.raises(TypeError):
            lib.max(lib.tensor(x), other=lib.tensor(1), keepdim=False)


@pytest.mark.parametrize("case", [
    lambda lib: lib.trapezoid(lib.zeros(0, dtype=lib.int64)),
    lambda lib: lib.trapezoid(lib.zeros((2, 0), dtype=lib.int32)),
    lambda lib: lib.trapezoid(lib.zeros(0, dtype=lib.uint8), dx=0.5),
    lambda lib: lib.trapezoid(lib.zeros(0, dtype=lib.bool)),
    lambda lib: lib.trapezoid(lib.zeros((0, 3), dtype=lib.int64), lib.zeros(0), dim=0),
])
def test_trapezoid_of_no_samples_keeps_the_dtype(case: Any) -> None:
    """No samples along dim: zeros of y's dtype (integer and bool too), as torch's, not the default float dtype."""
    ours, theirs = case(mg), case(torch)
    assert ours.dtype == theirs.numpy().dtype and ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("data", [None, [1, None], object(), {1: 2}])
def test_tensor_of_an_object_raises_runtime_error(data: Any) -> None:
    """torch.tensor(None) raises RuntimeError ("Could not infer dtype"); ours too (still a TypeError as well)."""
    with pytest.raises(RuntimeError):
        torch.tensor(data)
    with pytest.raises(RuntimeError, match="tensor: cannot make a tensor"):
        mg.tensor(data)


def _functional(lib: Any) -> Any:
    import nn
    return nn.functional if lib is mg else torch.nn.functional


@pytest.mark.parametrize("n", [2**50, 2**62])   # past the address space (NumPy's MemoryError), past intp ("too big")
@pytest.mark.parametrize("call", [
    lambda lib, n: lib.randperm(n),
    lambda lib, n: lib.linspace(0, 1, n),
    lambda lib, n: lib.logspace(0, 1, n),
    lambda lib, n: _functional(lib).one_hot(lib.tensor([0]), n),
    lambda lib, n: lib.bincount(lib.tensor([1]), minlength=n),
    lambda lib, n: lib.bincount(lib.tensor([n // 8])),
    lambda lib, n: lib.histc(lib.tensor([1.0]), bins=n),
    lambda lib, n: lib.multinomial(lib.ones(3), n, replacement=True),
    lambda lib, n: lib.tril_indices(2**25, 2**25) if n < 2**60 else lib.tril_indices(2**31, 2**31),
    lambda lib, n: lib.triu_indices(2**25, 2**25) if n < 2**60 else lib.triu_indices(2**31, 2**31),
])
def test_impossible_sizes_raise_runtime_error(call: Any, n: int) -> None:
    """A result too large to allocate: torch's RuntimeError, ours too (AllocationError is also a MemoryError)."""
    with pytest.raises(RuntimeError):
        call(torch, n)
    with pytest.raises(RuntimeError) as error:
        call(mg, n)
    assert isinstance(error.value, MemoryError) or "too big" in str(error.value)


def _laid_out(lib: Any, shape: tuple, order: tuple) -> Any:
    """A dense tensor of ``shape`` whose dims lie in memory in ``order`` (outermost first), as torch lays it out."""
    data = np.arange(int(np.prod(shape)), dtype=np.float32).reshape([shape[d] for d in order])
    return lib.tensor(data).permute(*np.argsort(order).tolist())


@pytest.mark.parametrize("shape,order,call", [
    ((1, 3, 1, 4), (0, 2, 3, 1), lambda lib, a: lib.cat([a, a], 1)),   # a size-1 dim's stride: torch's 24, not 1
    ((1, 3, 1, 4), (0, 2, 3, 1), lambda lib, a: lib.cat([a, a], 3)),
    ((3, 1, 2, 4), (0, 2, 3, 1), lambda lib, a: lib.cat([a, a], 1)),   # C = 1: C-contiguous and channels-last
    ((3, 2, 1, 1, 1), (0, 2, 3, 4, 1), lambda lib, a: lib.cat([a, a], -1)),
    ((3, 2, 1, 1, 1), (0, 2, 3, 4, 1), lambda lib, a: lib.stack([a, a], 2)),
    ((3, 2, 1, 1, 1), (0, 2, 3, 4, 1), lambda lib, a: lib.roll(a, 1, 1)),
    ((2, 1, 3, 1), (0, 2, 3, 1), lambda lib, a: lib.roll(a, 1, 2)),
])
def test_cat_stack_roll_strides_of_channels_last_inputs(shape: tuple, order: tuple, call: Any) -> None:
    """cat/stack/roll lay out their result as torch's suggest_memory_format says, with torch's strides (a size-1
    dim's too): NumPy's C-contiguous flag ignores size-1 dims, so a channels-last input with C = 1 looked C-order."""
    ours, theirs = call(mg, _laid_out(mg, shape, order)), call(torch, _laid_out(torch, shape, order))
    assert ours.stride() == theirs.stride()
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("make", [
    lambda nn: nn.LazyLinear(3),
    lambda nn: nn.LazyConv2d(4, 3),
    lambda nn: nn.LazyBatchNorm1d(),
    lambda nn: nn.Sequential(nn.LazyLinear(3), nn.ReLU()),
])
def test_lazy_state_dict_loads_into_a_lazy_module(make: Any) -> None:
    """A lazy module's placeholders load into another lazy module (nothing to copy; it stays lazy), as torch's."""
    import nn
    for lib_nn in (nn, torch.nn):
        target = make(lib_nn)
        result = target.load_state_dict(make(lib_nn).state_dict())
        assert not result.missing_keys and not result.unexpected_keys
        assert isinstance(next(iter(target.parameters())), lib_nn.parameter.UninitializedParameter)


@pytest.mark.parametrize("call,shapes", [
    (lambda lib, x, out: lib.unbind_copy(x, 0, out=out), [(3,), (3,)]),
    (lambda lib, x, out: lib.unbind_copy(x, 1, out=tuple(out)), [(2,), (0,), (2,)]),   # one resized (empty)
    (lambda lib, x, out: lib.split_copy(x, 1, 0, out=out), [(1, 3), (1, 3)]),
    (lambda lib, x, out: lib.split_with_sizes_copy(x, [1, 2], 1, out=out), [(2, 1), (2, 2)]),
])
def test_copy_functions_with_a_list_out(call: Any, shapes: list) -> None:
    """unbind_copy/split_copy/split_with_sizes_copy(out=[...]) write each piece into its tensor and return None."""
    data = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    ours = [mg.zeros(s) for s in shapes]
    theirs = [torch.zeros(s) for s in shapes]
    assert call(mg, mg.tensor(data), ours) is None
    assert call(torch, torch.tensor(data), theirs) is None
    for o, t in zip(ours, theirs):
        np.testing.assert_array_equal(o.numpy(), t.numpy())


def test_copy_functions_list_out_errors() -> None:
    """A wrong count of outs and a wrong dtype raise RuntimeError, as torch's."""
    for lib in (mg, torch):
        x = lib.ones(2, 3)
        with pytest.raises(RuntimeError):
            lib.unbind_copy(x, 0, out=[lib.empty(3)])
        with pytest.raises(RuntimeError):
            lib.unbind_copy(x, 0, out=[lib.empty(3, dtype=lib.float64), lib.empty(3, dtype=lib.float64)])
