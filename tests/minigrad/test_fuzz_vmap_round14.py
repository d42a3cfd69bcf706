"""Cases pinned by the round-14 differential fuzz of ``mg.func.vmap`` against ``torch.func.vmap`` (torch 2.13):
each runs the same program with minigrad and torch on the same float64 values and compares values, shapes and
dtypes, or the error class.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg

X = np.arange(12.0).reshape(3, 4) * 0.5 - 1.0
V = np.array([0.5, -1.0, 2.0, 0.25])


def _run(lib: Any, program: Any, *arrays: np.ndarray) -> Any:
    return program(lib, *[lib.tensor(a) for a in arrays])


def _error_class(lib: Any, program: Any, *arrays: np.ndarray) -> type:
    with pytest.raises(Exception) as info:
        _run(lib, program, *arrays)
    return type(info.value)


def _same(ours: Any, theirs: Any) -> None:
    if isinstance(ours, (tuple, list)):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _same(a, b)
        return
    if isinstance(ours, dict):
        assert list(ours) == list(theirs)
        for k in ours:
            _same(ours[k], theirs[k])
        return
    assert ours.shape == tuple(theirs.shape) and ours.dtype.name == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-12, atol=0)


# a dict in in_dims/out_dims whose keys come in another order than the inputs'/outputs' dict: torch pairs the
# entries by position (here it maps "a" with b's in_dim 0 and "b" with a's None), minigrad paired them by key,
# so the two gave different values, silently; now it raises, and the same order gives torch's values
@pytest.mark.parametrize("program", [
    lambda lib, x, v: lib.func.vmap(lambda d: d["a"] + d["b"], in_dims=({"b": 0, "a": None},))({"a": x, "b": x * 2}),
    lambda lib, x, v: lib.func.vmap(lambda d, w: d["a"] * w + d["b"], in_dims=({"b": None, "a": 0}, None))(
        {"a": x, "b": v}, v),
    lambda lib, x, v: lib.func.vmap(lambda a: {"x": a, "y": a[:2]}, out_dims={"y": 0, "x": 1})(x),
], ids=["in-dims", "in-dims-nested", "out-dims"])
def test_vmap_dict_dims_in_another_key_order_raise(torch: Any, program: Any) -> None:
    with pytest.raises(ValueError, match="another order"):
        _run(mg, program, X, V)


def test_vmap_dict_dims_in_the_same_key_order_match_torch(torch: Any) -> None:
    def program(lib: Any, x: Any, v: Any) -> Any:
        inner = lib.func.vmap(lambda d: d["a"] * d["b"], in_dims=({"a": 0, "b": None},))({"a": x, "b": v})
        return inner, lib.func.vmap(lambda a: {"x": a, "y": a.sum()}, out_dims={"x": 1, "y": 0})(x)
    _same(_run(mg, program, X, V), _run(torch, program, X, V))


# chunk_size: not an int (a float, a bool) raises torch's TypeError at the call; an output with out_dim None and
# a chunk_size raises its TypeError too (torch concatenates the chunks' outputs along each out_dim)
@pytest.mark.parametrize("program", [
    lambda lib, x, v: lib.func.vmap(lambda a: a.sum(), chunk_size=1.5)(x),
    lambda lib, x, v: lib.func.vmap(lambda a: a.sum(), chunk_size=2.0)(x),
    lambda lib, x, v: lib.func.vmap(lambda a: a.sum(), chunk_size=True)(x),
    lambda lib, x, v: lib.func.vmap(lambda a, b: (a * b, b), in_dims=(0, None), out_dims=(0, None), chunk_size=2)(x, v),
    lambda lib, x, v: lib.func.vmap(lambda a: (a, 3), out_dims=(0, None), chunk_size=1)(x),
], ids=["float", "float-int-valued", "bool", "out-dims-none", "out-dims-none-python"])
def test_vmap_chunk_size_errors_as_torch(torch: Any, program: Any) -> None:
    assert _error_class(torch, program, X, V) is TypeError
    assert _error_class(mg, program, X, V) is TypeError


@pytest.mark.parametrize("program", [
    lambda lib, x, v: lib.func.vmap(lambda a: a.sin(), chunk_size=2)(x),
    lambda lib, x, v: lib.func.vmap(lambda a, b: (a * b, a.sum()), in_dims=(0, None), out_dims=(1, 0), chunk_size=5)(
        x, v),
], ids=["chunks", "one-chunk"])
def test_vmap_chunk_size_matches_torch(torch: Any, program: Any) -> None:
    _same(_run(mg, program, X, V), _run(torch, program, X, V))


# an in-place write into a tensor the function captures from outside (not an input): torch refuses writing a
# mapped value into it; the loop wrote once per example (acc ended as the sum of the rows), silently
@pytest.mark.parametrize("program", [
    lambda lib, x, v, acc: lib.func.vmap(lambda a: acc.add_(a))(x),
    lambda lib, x, v, acc: lib.func.vmap(lambda a: acc.copy_(a) * 2)(x),
    lambda lib, x, v, acc: lib.func.vmap(lambda a: acc[1:].mul_(a[1:]).sum())(x),
    lambda lib, x, v, acc: lib.func.vmap(lambda a, b: (acc.__setitem__(0, a[0]), a * b)[1], in_dims=(0, None))(x, v),
], ids=["add", "copy", "view-mul", "setitem"])
def test_vmap_write_of_a_mapped_value_into_a_captured_tensor_raises(torch: Any, program: Any) -> None:
    def run(lib: Any) -> None:
        program(lib, lib.tensor(X), lib.tensor(V), lib.tensor(V + 1.0))
    with pytest.raises(RuntimeError):
        run(torch)
    with pytest.raises(RuntimeError, match="not an input"):
        run(mg)


@pytest.mark.parametrize("program", [
    lambda lib, x, v, acc: (lib.func.vmap(lambda a: acc.zero_() + a)(x), acc),          # the same value each call
    lambda lib, x, v, acc: (lib.func.vmap(lambda a: acc.copy_(v) * a)(x), acc),
    lambda lib, x, v, acc: lib.func.vmap(lambda a: acc.clone().mul_(2) * a)(x),        # a new tensor each call
    lambda lib, x, v, acc: (lib.func.vmap(lambda a: a.mul_(acc))(x), x),                # into the mapped input
    lambda lib, x, v, acc: lib.func.vmap(lambda a, b: lib.func.vmap(lambda c: c.clone().add_(b))(a),
                                         in_dims=(0, None))(x.reshape(3, 2, 2), v[:2]),
], ids=["zero", "copy-unmapped", "clone", "mapped", "nested"])
def test_vmap_other_in_place_writes_match_torch(torch: Any, program: Any) -> None:
    def run(lib: Any) -> Any:
        return program(lib, lib.tensor(X), lib.tensor(V), lib.tensor(V + 1.0))
    _same(run(mg), run(torch))


# a batch of size 0: the function runs once on a stand-in example to learn the output shapes; zeros made inv,
# cholesky and integer division raise where torch (ops on empty tensors) gives empty results; a draw in "error"
# mode was not seen; the output did not require grad where torch's does
@pytest.mark.parametrize("program", [
    lambda lib, x: lib.func.vmap(lib.linalg.inv)(x.reshape(3, 2, 2)[:0]),
    lambda lib, x: lib.func.vmap(lib.linalg.cholesky)(x.reshape(3, 2, 2)[:0]),
    lambda lib, x: lib.func.vmap(lambda a: (a.long() // a.long(), a.sum()), out_dims=(1, 0))(x[:0]),
], ids=["inv", "cholesky", "int-div"])
def test_vmap_empty_batch_matches_torch(torch: Any, program: Any) -> None:
    _same(_run(mg, program, X), _run(torch, program, X))


def test_vmap_empty_batch_draw_in_error_mode_raises(torch: Any) -> None:
    def program(lib: Any, x: Any) -> Any:
        return lib.func.vmap(lambda a: a + lib.rand(4, dtype=lib.float64))(x[:0])
    assert _error_class(torch, program, X) is RuntimeError
    with pytest.raises(RuntimeError, match="randomness error mode"):
        _run(mg, program, X)
    assert mg.func.vmap(lambda a: a + mg.rand(4), randomness="different")(mg.zeros(0, 4)).shape == (0, 4)


def test_vmap_empty_batch_output_requires_grad_as_torch(torch: Any) -> None:
    def program(lib: Any, x: Any) -> Any:
        leaf = x[:0].clone().requires_grad_()
        out = lib.func.vmap(lambda a: (a * 2, a.detach()))(leaf)
        out[0].sum().backward()
        return out[0].requires_grad, out[1].requires_grad, tuple(leaf.grad.shape)
    assert _run(mg, program, X) == _run(torch, program, X) == (True, False, (0, 4))


def test_vmap_unmapped_output_with_nan_matches_torch(torch: Any) -> None:
    """An output with out_dim None computed anew each call from unmapped inputs: NaN counted as a different value
    on each call (torch's ValueError for a mapped output) where torch returns it."""
    def program(lib: Any, x: Any, v: Any) -> Any:
        return lib.func.vmap(lambda a, b: (a * b, (b - 0.5) / (b - 0.5)), in_dims=(0, None), out_dims=(0, None))(
            x, v * 0 + 0.5)
    _same(_run(mg, program, X, V), _run(torch, program, X, V))


# an input passed twice, mapped and with in_dim None (or mapped along two dims), written in place through the
# mapped one: torch writes every example at once, so the other input read all examples written (b.sum() was 30
# for every example); the loop wrote one example per call and read 16, 21, 30, silently
@pytest.mark.parametrize("program", [
    lambda lib, x: lib.func.vmap(lambda a, b: (a.mul_(2), b.sum()), in_dims=(0, None))(x, x),
    lambda lib, x: lib.func.vmap(lambda a, b: (b, a.add_(1)), in_dims=(None, 0))(x[0], x),
    lambda lib, x: lib.func.vmap(lambda a, b: a.mul_(2) + b, in_dims=(0, 1))(x[:2, :2], x[:2, :2]),
], ids=["unmapped-alias", "unmapped-view-alias", "two-dims"])
def test_vmap_write_into_memory_two_inputs_share_raises(program: Any) -> None:
    with pytest.raises(RuntimeError, match="share"):
        program(mg, mg.tensor(np.arange(6.0).reshape(3, 2)))


def test_vmap_write_into_an_input_passed_twice_the_same_way_matches_torch(torch: Any) -> None:
    def program(lib: Any, x: Any) -> Any:
        return lib.func.vmap(lambda a, b: a.mul_(2) + b)(x, x), x
    _same(_run(mg, program, X), _run(torch, program, X))


@pytest.mark.parametrize("program", [
    lambda lib, x: lib.func.vmap(lambda a: a.split([1, 3], dim=-1), out_dims=(0, 1))(x),
    lambda lib, x: lib.func.vmap(lambda a: (a.chunk(2), a.sum()), out_dims=((1, 0), 0))(x),
    lambda lib, x: lib.func.vmap(lambda a: a.unbind(), out_dims=(0, -1, 0, 0))(x),
], ids=["split", "chunk-nested", "unbind"])
def test_vmap_tuple_out_dims_for_split_outputs_as_torch(torch: Any, program: Any) -> None:
    """split/chunk/unbind give lists here (tuples in torch): a tuple out_dims torch code passes for them works
    (it raised 'out_dims is not compatible with the structure of `outputs`')."""
    ours, theirs = _run(mg, program, X), _run(torch, program, X)
    _same(ours, theirs)
