"""``x[idx]`` and ``x[idx] = v`` drawn adversarially and compared with PyTorch (float64), plus the differences
that comparison found, pinned one by one.

The drawn indices mix ints (negative and out of range), slices, None, Ellipsis, bool scalars, int64/int32/uint8
index tensors, bool masks of full and partial rank, lists, nested lists, 0-d and empty index tensors, with
advanced indices separated by a slice (the rule that moves the broadcast dims to the front). Each case compares
values, shape, dtype, whether the result is a view (a write through it reaches x), the error class, and the
gradient of ``sum(w * x[idx])`` (repeated indices accumulate).
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minigrad as mg

DRAWN = settings(max_examples=150, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
ERRORS = (IndexError, ValueError, TypeError, RuntimeError)


@st.composite
def index_parts(draw: Any, shape: tuple) -> list:
    """A list of index parts, as ``(kind, payload)`` pairs that either library can build."""
    parts = []
    for i in range(draw(st.integers(1, 3))):
        n = shape[i] if i < len(shape) else 2
        kind = draw(st.sampled_from(["int", "int", "slice", "none", "ellipsis", "bool", "tensor", "tensor",
                                     "mask", "list", "nested", "zero_d", "empty"]))
        if kind == "int":
            payload: Any = draw(st.integers(-n - 1, n))   # one past each end: IndexError in both
        elif kind == "slice":
            payload = slice(draw(st.none() | st.integers(-4, 4)), draw(st.none() | st.integers(-4, 4)),
                            draw(st.sampled_from([None, 1, 2, 3, -1])))
        elif kind == "bool":
            payload = draw(st.booleans())
        elif kind == "tensor":
            dtype = draw(st.sampled_from(["int64", "int32", "uint8"]))
            ishape = draw(st.sampled_from([(2,), (3,), (2, 1), (1, 3)]))
            top = 2 if dtype == "uint8" else max(n, 1)
            low = 0 if dtype == "uint8" else -top
            values = draw(st.lists(st.integers(low, top - 1), min_size=int(np.prod(ishape)),
                                   max_size=int(np.prod(ishape))))
            payload = (np.array(values).reshape(ishape), dtype)
        elif kind == "mask":
            rank = draw(st.sampled_from([1, 1, 2]))
            mshape = tuple(shape[i:i + rank]) if len(shape) >= i + rank else (n,)
            if draw(st.integers(0, 5)) == 0:
                mshape = tuple(m + 1 for m in mshape)   # a mismatched mask: IndexError in both
            bits = draw(st.lists(st.booleans(), min_size=int(np.prod(mshape)), max_size=int(np.prod(mshape))))
            payload = np.array(bits, dtype=bool).reshape(mshape)
        elif kind == "list":
            payload = draw(st.lists(st.integers(-n, max(n - 1, 0)), min_size=1, max_size=3))
        elif kind == "nested":
            payload = [draw(st.lists(st.integers(-n, max(n - 1, 0)), min_size=2, max_size=2)) for _ in range(2)]
        elif kind == "zero_d":
            payload = (np.array(draw(st.integers(-n, max(n - 1, 0)))), "int64")
        elif kind == "empty":
            payload = (np.zeros(0, dtype=np.int64), draw(st.sampled_from(["int64", "uint8", "bool"])))
        else:
            payload = None if kind == "none" else Ellipsis
        parts.append((kind, payload))
    return parts


def build(lib: Any, parts: list) -> tuple:
    out = []
    for kind, payload in parts:
        if kind in ("tensor", "zero_d", "empty"):
            values, dtype = payload
            out.append(lib.tensor(values.astype(dtype)))
        elif kind == "mask":
            out.append(lib.tensor(payload))
        else:
            out.append(payload)
    return tuple(out)


def outcome(fn: Callable) -> tuple:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # uint8 indices and list-of-slices indices warn in both
        try:
            return True, fn()
        except ERRORS as error:
            return False, error


def same_error(theirs: BaseException, ours: BaseException) -> None:
    assert isinstance(ours, type(theirs)), (type(theirs), theirs, type(ours), ours)


def negative_step(parts: list) -> bool:
    """PyTorch refuses a negative slice step; minigrad keeps NumPy's meaning (a reversed view), tested below."""
    return any(kind == "slice" and payload.step is not None and payload.step < 0 for kind, payload in parts)


def two_ellipses(parts: list) -> bool:
    """PyTorch takes several ``...`` (each spans the unnamed dims); NumPy's rule, ours, refuses them."""
    return sum(kind == "ellipsis" for kind, _ in parts) > 1


SHAPES = st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple) | st.sampled_from([(), (2, 0, 3)])


@DRAWN
@given(data=st.data(), shape=SHAPES)
def test_getitem_drawn_against_torch(torch: Any, data: Any, shape: tuple) -> None:
    parts = data.draw(index_parts(shape))
    if two_ellipses(parts) or negative_step(parts):
        return
    x = np.random.default_rng(len(shape)).standard_normal(shape)
    tx, mx = torch.tensor(x, requires_grad=True), mg.tensor(x, requires_grad=True)
    ok_t, t = outcome(lambda: tx[build(torch, parts)])
    ok_m, m = outcome(lambda: mx[build(mg, parts)])
    assert ok_t == ok_m, (parts, t, m)
    if not ok_t:
        same_error(t, m)
        return
    assert tuple(m.shape) == tuple(t.shape) and m.dtype == mg.float64
    np.testing.assert_array_equal(m.detach().numpy(), t.detach().numpy())
    w = np.random.default_rng(1).standard_normal(tuple(t.shape))
    (t * torch.tensor(w)).sum().backward()
    (m * mg.tensor(w)).sum().backward()
    np.testing.assert_allclose(mx.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    # a view in one is a view in the other: the write reaches x exactly as it does in PyTorch
    tb, mb = torch.tensor(x), mg.tensor(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tb[build(torch, parts)].add_(100.0)
        mb[build(mg, parts)].add_(100.0)
    np.testing.assert_array_equal(mb.numpy(), tb.numpy())


@DRAWN
@given(data=st.data(), shape=SHAPES, value_kind=st.sampled_from(["scalar", "full", "tail", "lead1", "lead11", "bad"]))
def test_setitem_drawn_against_torch(torch: Any, data: Any, shape: tuple, value_kind: str) -> None:
    parts = data.draw(index_parts(shape))
    if two_ellipses(parts) or negative_step(parts):
        return
    x = np.random.default_rng(2).standard_normal(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            target = tuple(torch.tensor(x)[build(torch, parts)].shape)
        except ERRORS:
            target = (2,)
    vshape = {"scalar": (), "full": target, "tail": target[1:], "lead1": (1,) + target, "lead11": (1, 1) + target,
              "bad": target[:-1] + (target[-1] + 1,) if target else (2,)}[value_kind]
    v = np.random.default_rng(3).standard_normal(vshape)
    tx, mx = torch.tensor(x), mg.tensor(x)

    def write_torch() -> None:
        tx[build(torch, parts)] = torch.tensor(v)

    def write_ours() -> None:
        mx[build(mg, parts)] = mg.tensor(v)
    ok_t, t = outcome(write_torch)
    ok_m, m = outcome(write_ours)
    assert ok_t == ok_m, (parts, vshape, t, m)
    if not ok_t:
        same_error(t, m)
        return
    picks = [np.asarray(p[0] if kind == "tensor" else p) for kind, p in parts if kind in ("tensor", "list", "nested")]
    repeated = any(len(np.unique(p)) < p.size for p in picks)
    if not repeated or not vshape:   # PyTorch writes repeated indices in an unspecified order
        np.testing.assert_array_equal(mx.numpy(), tx.numpy())


# --- the differences the drawn tests found, pinned ----------------------------------------------------

def test_an_all_int_index_is_a_0d_view(torch: Any) -> None:
    """NumPy's x[0] is a scalar copy: a write into it was lost (PyTorch's reaches x)."""
    for lib in (torch, mg):
        x = lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=lib.float64)
        x[1, -1].mul_(10)
        x[0][0].add_(1)
        x[True, 0, 1].sub_(2)   # a bool scalar is an advanced index: a copy, the write does not reach x
        assert x.tolist() == [[2.0, 2.0, 3.0], [4.0, 5.0, 60.0]]
        x[-1, 0] = 7.0
        assert x[1, 0].item() == 7.0
    # the gradient of a 0-d view written in place flows as PyTorch's
    got = []
    for lib in (torch, mg):
        a = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
        y = a * 2
        y[1].mul_(3)
        (y * lib.tensor([1.0, 10.0, 100.0], dtype=lib.float64)).sum().backward()
        got.append(a.grad.tolist())
        y = a * 2
        y[1].mul_(y[0])   # y[0] is saved by mul_ and then changed with y: backward refuses, as PyTorch's
        with pytest.raises(RuntimeError):
            y.sum().backward()
    assert got[0] == got[1] == [2.0, 60.0, 200.0]
    # an expanded tensor: one element is written through, into the memory every copy reads, as PyTorch's
    for lib in (torch, mg):
        base = lib.tensor([[1.0], [2.0]])
        base.expand(2, 3)[0, 0] = 7.0
        assert base.tolist() == [[7.0], [2.0]]


def test_negative_steps_keep_numpys_meaning_where_torch_refuses(torch: Any) -> None:
    """PyTorch raises for a negative slice step, so no PyTorch program reads it otherwise: minigrad keeps NumPy's
    reversed view (README, "NumPy's meaning kept"), with gradients and writes through the view."""
    with pytest.raises(ValueError):
        torch.arange(6.0).reshape(2, 3)[:, ::-1]
    x = mg.arange(6.0, requires_grad=True)
    y = x * 1
    r = y.reshape(2, 3)[:, ::-2]
    assert r.tolist() == [[2.0, 0.0], [5.0, 3.0]]
    (r * mg.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    assert x.grad.tolist() == [2.0, 0.0, 1.0, 4.0, 0.0, 3.0]
    z = mg.zeros(4)
    z[::-1][0] = 7.0   # a write through the reversed view reaches the base
    assert z.tolist() == [0.0, 0.0, 0.0, 7.0]


def test_empty_masks_must_match_their_dims(torch: Any) -> None:
    """NumPy takes an empty bool mask for a dim of any length; PyTorch raises IndexError."""
    x = np.arange(6.0).reshape(2, 3)
    for index in (np.zeros(0, bool), (Ellipsis, np.zeros(0, bool)), (np.zeros(0, np.uint8),)):
        with pytest.raises(IndexError):
            torch.tensor(x)[index if not isinstance(index, tuple) else tuple(
                torch.tensor(p) if isinstance(p, np.ndarray) else p for p in index)]
        wrap = mg.tensor(index) if isinstance(index, np.ndarray) else tuple(
            mg.tensor(p) if isinstance(p, np.ndarray) else p for p in index)
        with warnings.catch_warnings(), pytest.raises(IndexError, match="mask"):
            warnings.simplefilter("ignore")
            mg.tensor(x)[wrap]
        if not any(getattr(p, "dtype", None) == np.uint8 for p in (index if isinstance(index, tuple) else (index,))):
            # (a uint8 mask refuses a one-element value before that, as PyTorch's fill)
            with pytest.raises(IndexError, match="mask"):
                mg.tensor(x)[wrap] = 1.0
    assert mg.zeros(0, 3)[mg.zeros(0, dtype=mg.bool)].shape == (0, 3)   # matching empty dims: fine


def test_setitem_drops_a_values_leading_ones(torch: Any) -> None:
    """PyTorch strips a value's leading 1s before broadcasting; NumPy's masked write refused (1, k)."""
    mask = np.array([True, False, True, True])
    v = np.array([[1.0, 2.0, 3.0]])
    for lib in (torch, mg):
        x = lib.zeros(4, dtype=lib.float64)
        x[lib.tensor(mask)] = lib.tensor(v)
        y = lib.zeros(2, 4, dtype=lib.float64)
        y[1, lib.tensor(mask)] = lib.tensor(v[None])
        assert x.tolist() == [1.0, 0.0, 2.0, 3.0] and y[1].tolist() == x.tolist()
    for lib in (torch, mg):
        for needs_grad in (False, True):   # a 2 is not a 1: a shape error (NumPy's was a TypeError)
            x = lib.zeros(4, dtype=lib.float64) * lib.ones(1, dtype=lib.float64, requires_grad=needs_grad)
            with pytest.raises(RuntimeError):
                x[lib.tensor(mask)] = lib.ones(2, 3, dtype=lib.float64)


def test_setitem_overflow_and_uint8_mask_fill_raise_runtime_error(torch: Any) -> None:
    for lib in (torch, mg):
        for dtype, value in ((lib.uint8, 300.0), (lib.uint8, -1.0), (lib.int8, 200)):
            with pytest.raises(RuntimeError):
                lib.zeros(3, dtype=dtype)[1:] = value
        x = lib.zeros(3, 2, dtype=lib.float64)
        mask = lib.tensor([1, 0, 1], dtype=lib.uint8)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for value in (1.0, lib.tensor(2.0, dtype=lib.float64)):
                with pytest.raises(RuntimeError):   # the fill path refuses a uint8 mask
                    x[mask] = value
            x[mask] = lib.ones(2, dtype=lib.float64)   # a full value takes index_put: fine
            x[lib.tensor(1, dtype=lib.uint8)] = 3.0   # a 0-d uint8 is not refused
        assert x.tolist() == [[3.0, 3.0], [3.0, 3.0], [3.0, 3.0]]
        z = lib.zeros(3, dtype=lib.int64)
        z[0:2] = lib.tensor([1.7, -1.7], dtype=lib.float64)   # float into int: truncated
        z[2] = -2.7
        assert z.tolist() == [1, -1, -2]


def test_setitem_and_autograd(torch: Any) -> None:
    for lib in (torch, mg):
        leaf = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
        with pytest.raises(RuntimeError):
            leaf[0] = 5.0
        with pytest.raises(RuntimeError):
            leaf[[0, 1]] = lib.tensor([5.0, 6.0], dtype=lib.float64)
    grads = []
    for lib in (torch, mg):
        x = lib.tensor([1.0, 2.0, 3.0, 4.0], dtype=lib.float64, requires_grad=True)
        v = lib.tensor([7.0, 8.0], dtype=lib.float64, requires_grad=True)
        y = x * 2
        y[lib.tensor([3, 0])] = v * 3   # the unwritten part of x keeps its gradient, v gets the written one
        y[lib.tensor([False, True, False, False])] = v[:1] ** 2
        (y * lib.tensor([1.0, 10.0, 100.0, 1000.0], dtype=lib.float64)).sum().backward()
        grads.append((x.grad.tolist(), v.grad.tolist()))
    assert grads[0] == grads[1]

    def written(x: mg.Tensor, v: mg.Tensor) -> mg.Tensor:
        y = x * 1
        y[1, :, mg.tensor([2, 0])] = v
        return y[:, [0, 0, 1]]   # repeated picks accumulate
    assert mg.gradcheck(written, (mg.randn(2, 3, 4, dtype=mg.float64, requires_grad=True),
                                  mg.randn(3, 2, dtype=mg.float64, requires_grad=True)))


def test_index_select_of_a_0d_index_keeps_the_dim(torch: Any) -> None:
    x = np.arange(24.0).reshape(2, 3, 4)
    for dim in (-1, 0, 1):
        t = torch.index_select(torch.tensor(x), dim, torch.tensor(1))
        m = mg.index_select(mg.tensor(x), dim, mg.tensor(1))
        assert m.shape == tuple(t.shape) and m.tolist() == t.tolist()
    for lib in (torch, mg):
        with pytest.raises(IndexError):   # negative entries are out of range for index_select
            lib.index_select(lib.tensor(x), 0, lib.tensor(-1))
    assert mg.gradcheck(lambda a: mg.index_select(a, -2, mg.tensor(1)), (mg.randn(2, 3, dtype=mg.float64,
                                                                                   requires_grad=True),))


def test_take_along_dim_errors_and_negative_dims(torch: Any) -> None:
    x = np.random.default_rng(4).standard_normal((3, 4, 5))
    index = np.random.default_rng(5).integers(-3, 3, size=(3, 1, 5))
    for dim in (-3, -2, 0):
        t = torch.take_along_dim(torch.tensor(x), torch.tensor(index), dim)
        m = mg.take_along_dim(mg.tensor(x), mg.tensor(index), dim)
        np.testing.assert_array_equal(m.numpy(), t.numpy())
    for lib in (torch, mg):
        with pytest.raises(RuntimeError):   # int32 indices along a dim: PyTorch wants int64
            lib.take_along_dim(lib.tensor(x), lib.tensor(index.astype(np.int32)), 1)
        with pytest.raises(RuntimeError):   # not broadcastable outside dim
            lib.take_along_dim(lib.tensor(x), lib.tensor(np.zeros((2, 4, 5), np.int64)), -1)
        with pytest.raises(RuntimeError):   # a different number of dims
            lib.take_along_dim(lib.tensor(x), lib.tensor(np.zeros((3, 4), np.int64)), 0)
        flat = lib.take_along_dim(lib.tensor(x), lib.tensor(np.array([0, 59], np.int32)))   # no dim: int32 is fine
        assert flat.tolist() == [x.flat[0], x.flat[59]]


@pytest.mark.parametrize("dim", [-3, -2, -1])
def test_gather_scatter_index_put_negative_dims(torch: Any, dim: int) -> None:
    rng = np.random.default_rng(6 - dim)
    x, src = rng.standard_normal((3, 4, 5)), rng.standard_normal((3, 4, 5))
    index = rng.integers(-3, 3, size=(2, 3, 4))   # negative entries: refused by both gather and scatter
    positive = np.abs(index) % 3
    for ix in (positive, index):
        outs = []
        for lib in (torch, mg):
            ok, out = outcome(lambda lib=lib, ix=ix: (lib.gather(lib.tensor(x), dim, lib.tensor(ix)),
                                                      lib.tensor(x).scatter_add(dim, lib.tensor(ix), lib.tensor(src)),
                                                      lib.tensor(x).scatter(dim, lib.tensor(ix), 2.5)))
            outs.append((ok, out))
        assert outs[0][0] == outs[1][0]
        if outs[0][0]:
            for t, m in zip(*(o[1] for o in outs)):
                np.testing.assert_allclose(m.numpy(), t.numpy(), rtol=1e-12)
        else:
            same_error(outs[0][1], outs[1][1])
    xs = mg.tensor(x, requires_grad=True)
    assert mg.gradcheck(lambda a: mg.gather(a, dim, mg.tensor(positive)), (xs,))
    rows, cols = np.array([0, 0, -1, 2]), np.array([1, 1, -4, 3])   # repeated and negative
    outs = []
    for lib in (torch, mg):
        base = lib.tensor(x[:, :, 0])
        base.index_put_((lib.tensor(rows), lib.tensor(cols)), lib.tensor(src[0, :, 0]), accumulate=True)
        outs.append(base.tolist())
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-12)
