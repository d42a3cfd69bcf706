"""Cases pinned by the differential sweep of ``mg.func.vmap`` against ``torch.func.vmap`` over PyTorch's op
database: each runs the same program with minigrad and torch on the same float64 values and compares
values, shapes, dtypes and gradients (or the error class and message).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg

X = np.arange(12.0).reshape(3, 4) * 0.5 - 1.0


def _run(lib: Any, program: Any, x: np.ndarray) -> tuple:
    """``program(lib, leaf)`` and the gradient of ``sum(out * w)`` with respect to the leaf."""
    leaf = lib.tensor(x, requires_grad=True)
    out = program(lib, leaf)
    weights = lib.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)))
    (out * weights).sum().backward()
    return out.detach().numpy(), leaf.grad.numpy()


def _error(lib: Any, program: Any, x: np.ndarray) -> tuple:
    with pytest.raises(Exception) as info:
        program(lib, lib.tensor(x))
    return type(info.value).__name__, str(info.value)


# as_strided under vmap: offsets count from example 0's place in the storage, example i is shifted by
# i * the batch dim's stride (a loop over x.select(0, i) read example 0 for every i)
@pytest.mark.parametrize("program", [
    lambda lib, x: lib.func.vmap(lambda a: lib.as_strided(a, (2,), (2,), 1))(x),
    lambda lib, x: lib.func.vmap(lambda a: lib.as_strided(a, (2,), (6,), 3), in_dims=1)(x.T.contiguous()),
    lambda lib, x: lib.func.vmap(lambda a: a.as_strided((2, 2), (1, 1), 0))(x),
    lambda lib, x: lib.func.vmap(lambda a: a.view(2, 2).as_strided((2,), (2,), 13))(
        lib.cat([x, x * 2]).reshape(2, 3, 4)[1]),
    lambda lib, x: lib.func.vmap(lambda a: lib.as_strided_copy(a, (3,), (1,), 1), out_dims=1)(x),
    lambda lib, x: lib.func.vmap(lambda a: a.as_strided((2,), (1,)))(x[:, 1:]),   # no offset: the example's own
], ids=["dim0", "dim1", "windows", "offset-base", "copy-out1", "no-offset"])
def test_vmap_as_strided_matches_torch(torch: Any, program: Any) -> None:
    ours, theirs = _run(mg, program, X), _run(torch, program, X)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=0)


def test_vmap_as_strided_reading_other_examples(torch: Any) -> None:
    """A result that reads other examples' elements: torch's values, its gradient refused (not built)."""
    def program(lib: Any, x: Any) -> Any:
        return lib.func.vmap(lambda a: lib.as_strided(a, (2,), (2,), 1), in_dims=1)(x.T.contiguous())
    with mg.no_grad():
        ours = program(mg, mg.tensor(X, requires_grad=True))
    np.testing.assert_array_equal(ours.numpy(), program(torch, torch.tensor(X)).numpy())
    with pytest.raises(NotImplementedError, match="reads elements of other examples"):
        program(mg, mg.tensor(X, requires_grad=True))


@pytest.mark.parametrize("program", [
    lambda lib, x: lib.func.vmap(lambda a: a.as_strided((4,), (1,), 2))(x),                      # past the example
    lambda lib, x: lib.func.vmap(lambda a: a.as_strided((2,), (2,), 1))(x.reshape(1, 3, 4)[0][1:]),  # before it
    lambda lib, x: lib.func.vmap(lambda a: a * 2, out_dims=2)(x),                                 # out_dims range
    lambda lib, x: lib.func.vmap(lambda a: a.sum(), out_dims=-2)(x),
    lambda lib, x: lib.func.vmap(lambda a: a * 2, out_dims=2)(x[:0]),                             # empty batch
], ids=["as-strided-past", "as-strided-before", "out-dims", "out-dims-neg", "out-dims-empty"])
def test_vmap_errors_as_torch(torch: Any, program: Any) -> None:
    assert _error(mg, program, X) == _error(torch, program, X)


# in-place writes inside the vmapped function: into a mapped input they reach it (as torch's); into an unmapped
# one, torch applies the write once (or refuses a mapped value), which a loop matches only for a write that gives
# the same value every call (zero_, fill_); another one raised nothing and was applied once per example
@pytest.mark.parametrize("program", [
    lambda lib, x, v: (lib.func.vmap(lambda a: a.add_(1))(x), x),
    lambda lib, x, v: (lib.func.vmap(lambda a, b: a.mul_(b), in_dims=(0, None))(x, v), x, v),
    lambda lib, x, v: (lib.func.vmap(lambda a: a[0:1].mul_(3))(x), x),
    lambda lib, x, v: (lib.func.vmap(lambda a, b: b.zero_() + a, in_dims=(0, None))(x, v), v),
    lambda lib, x, v: (lib.func.vmap(lambda a, b: b.fill_(2.0) * a, in_dims=(0, None))(x, v), v),
], ids=["mapped", "mapped-unmapped-other", "mapped-view", "unmapped-zero", "unmapped-fill"])
def test_vmap_inplace_matches_torch(torch: Any, program: Any) -> None:
    def run(lib: Any) -> list:
        return [t.numpy() for t in program(lib, lib.tensor(X[:, :2].copy()), lib.tensor(np.array([10.0, 20.0])))]
    for a, b in zip(run(mg), run(torch)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("program", [
    lambda lib, x, v: lib.func.vmap(lambda a, b: b.add_(a), in_dims=(0, None))(x, v),
    lambda lib, x, v: lib.func.vmap(lambda a, b: b.copy_(a), in_dims=(0, None))(x, v),
    lambda lib, x, v: lib.func.vmap(lambda a, b: b.add_(1) * a, in_dims=(0, None))(x, v),
], ids=["add-mapped", "copy-mapped", "add-once"])
def test_vmap_inplace_on_unmapped_input_raises(program: Any) -> None:
    v = mg.tensor(np.array([10.0, 20.0]))
    with pytest.raises(RuntimeError, match="changed an input that is not mapped"):
        program(mg, mg.tensor(X[:, :2].copy()), v)
