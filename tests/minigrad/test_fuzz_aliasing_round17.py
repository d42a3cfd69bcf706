"""Aliasing and layout against PyTorch (round 17 differential fuzzing): which results share memory with their
input (a write into one must show in the other exactly when it does in PyTorch), their strides, and whether the
result is the input object itself."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _np(t: Any) -> np.ndarray:
    return np.array(t.detach().numpy(), copy=True)


def _writes(make_x: Callable, op: Callable) -> dict:
    """For torch and minigrad: ``op(x)`` written into (``copy_``), then x's values; and x written into, then the
    result's values; and the result's strides."""
    seen = {}
    for L in (torch, mg):
        x = make_x(L)
        y = op(x)
        strides = y.stride()
        y.copy_(L.full(tuple(y.shape), 7.0))
        after_out = _np(x)
        x = make_x(L)
        y = op(x)
        x.fill_(-1.0)
        seen[L] = (strides, after_out, _np(y))
    return seen


def _ramp(L: Any, *shape: int) -> Any:
    return L.arange(float(np.prod(shape))).reshape(*shape)


@pytest.mark.parametrize("make_x", [
    lambda L: _ramp(L, 3, 4)[:, ::2],        # a 2-D strided view
    lambda L: _ramp(L, 8)[1::2],             # a 1-D strided view: NumPy's ravel views it, PyTorch's copies
    lambda L: _ramp(L, 3, 4).T,
    lambda L: _ramp(L, 1).expand(3),         # stride 0
    lambda L: _ramp(L, 3, 4),                # contiguous: a view in both
])
def test_ravel_views_only_contiguous_input_as_torch(make_x: Callable) -> None:
    """ravel of a non-contiguous 1-D tensor viewed its memory: writes into the result reached x (PyTorch's is a
    copy, ``contiguous().view(-1)``), and x's later writes changed the result."""
    if make_x(torch).stride() == (0,):   # writing into an expanded tensor is not the point here
        seen = {L: (L.ravel(make_x(L)).stride(), L.ravel(make_x(L)).is_contiguous()) for L in (torch, mg)}
        assert seen[mg] == seen[torch]
        return
    seen = _writes(make_x, lambda x: x.ravel())
    assert seen[mg][0] == seen[torch][0]
    np.testing.assert_array_equal(seen[mg][1], seen[torch][1])
    np.testing.assert_array_equal(seen[mg][2], seen[torch][2])


@pytest.mark.parametrize("op", [
    lambda L, x: x.expand(-1, -1),
    lambda L, x: x.expand(1, 2, 3),
    lambda L, x: x.expand_as(L.zeros(2, 3)),
    lambda L, x: L.broadcast_to(x, (1, 1, 2, 3)),
    lambda L, x: x.T.expand(3, 2),
    lambda L, x: L.broadcast_tensors(x, L.zeros(2, 3))[0],
])
def test_expand_that_repeats_nothing_is_writable_as_torch(op: Callable) -> None:
    """An expand that repeats no element (same sizes, or only new dims of size 1) gave NumPy's read-only view:
    every in-place op on it raised where PyTorch writes through to the base."""
    seen = {}
    for L in (torch, mg):
        base = _ramp(L, 2, 3)
        y = op(L, base)
        y.mul_(2).add_(1)
        after = _np(base)
        base.zero_()
        seen[L] = (after, _np(y), y.stride())
    np.testing.assert_array_equal(seen[mg][0], seen[torch][0])
    np.testing.assert_array_equal(seen[mg][1], seen[torch][1])
    assert seen[mg][2] == seen[torch][2]


def test_write_through_an_expand_that_repeats_nothing_keeps_gradients_as_torch() -> None:
    grads = {}
    for L in (torch, mg):
        a = L.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
        b = a * 1
        b.expand(1, 1, 3).mul_(L.tensor([2.0, 3.0, 4.0]))
        (b * L.tensor([1.0, 10.0, 100.0])).sum().backward()
        grads[L] = (_np(a.grad), _np(b))
    np.testing.assert_array_equal(grads[mg][0], grads[torch][0])
    np.testing.assert_array_equal(grads[mg][1], grads[torch][1])


def test_expand_that_repeats_elements_still_refuses_general_writes() -> None:
    y = mg.tensor([1.0, 2.0]).expand(3, 2)
    with pytest.raises(RuntimeError):
        y.mul_(2)


@pytest.mark.parametrize("make_x", [
    lambda L: _ramp(L, 3, 4).T,
    lambda L: _ramp(L, 2, 3, 2, 2).contiguous(memory_format=L.channels_last),
    lambda L: _ramp(L, 2, 3, 4).permute(2, 0, 1),
])
def test_narrow_copy_is_c_contiguous_as_torch(make_x: Callable) -> None:
    """narrow_copy kept a transposed input's layout (clone's preserve_format); PyTorch's is C order, so .view(-1)
    raised here."""
    seen = {}
    for L in (torch, mg):
        y = make_x(L).narrow_copy(1, 0, 2)
        seen[L] = (y.stride(), y.is_contiguous(), tuple(y.view(-1).shape), _np(y))
    assert seen[mg][:3] == seen[torch][:3]
    np.testing.assert_array_equal(seen[mg][3], seen[torch][3])


@pytest.mark.parametrize("shape, call", [
    ((2, 3), lambda L, x: x.flatten(1, 1)), ((2, 3), lambda L, x: L.flatten(x, -1, -1)),
    ((3,), lambda L, x: x.flatten()), ((2, 3), lambda L, x: x.flatten(0, 1)),
    ((3,), lambda L, x: x.t()), ((), lambda L, x: L.t(x)), ((2, 3), lambda L, x: x.t()),
])
def test_identity_of_the_result_as_torch(shape: tuple, call: Callable) -> None:
    """flatten with start_dim == end_dim is x itself in PyTorch (it made a new view here), and t() of a 0-d or
    1-D tensor is a new view in PyTorch (it was x itself here: requires_grad_() on the result changed x)."""
    seen = {}
    for L in (torch, mg):
        x = L.zeros(shape)
        y = call(L, x)
        y.requires_grad_()
        seen[L] = (y is x, x.requires_grad)
    assert seen[mg] == seen[torch]


@pytest.mark.parametrize("shape, make, index", [
    ((3, 4), lambda L, x: x, lambda L: (None, slice(None), L.tensor([3, -2]))),
    ((2, 4, 3), lambda L, x: x, lambda L: (slice(None), slice(0, None, 2), L.tensor([-3, 0]))),
    ((4, 4), lambda L, x: x.T, lambda L: (slice(0, None, 3), L.tensor([2, -1]))),
    ((2, 2, 4, 2), lambda L, x: x, lambda L: (slice(None), slice(1, None, 2), L.tensor([-3, 3]), slice(1, None))),
    ((3, 3, 1, 3), lambda L, x: x.contiguous(memory_format=L.channels_last),
     lambda L: (slice(None), slice(1, 3), slice(0, 1), L.tensor([-1, -2]))),
    ((2, 3, 4), lambda L, x: x.permute(2, 0, 1), lambda L: (L.tensor([0, 1]), slice(None), L.tensor([2, 0]))),
    ((2, 3, 4), lambda L, x: x, lambda L: (L.tensor([[True, False, True], [False, True, True]]), slice(1, 3))),
])
def test_advanced_index_result_has_torch_strides(shape: tuple, make: Callable, index: Callable) -> None:
    """An advanced index kept NumPy's result layout (often a transposed temporary), so ``.view(-1)`` of
    ``x[None, :, t]`` raised where PyTorch's (laid out by its TensorIterator) works."""
    seen = {}
    for L in (torch, mg):
        x = make(L, L.arange(float(np.prod(shape))).reshape(shape))
        y = x[index(L)]
        strides = tuple(s for s, n in zip(y.stride(), y.shape) if n != 1)   # size-1 dims' may differ (README)
        seen[L] = (strides, y.is_contiguous(), _np(y), _np(y.view(-1)) if y.is_contiguous() else None)
    assert seen[mg][:2] == seen[torch][:2]
    np.testing.assert_array_equal(seen[mg][2], seen[torch][2])
    np.testing.assert_array_equal(seen[mg][3], seen[torch][3])


@pytest.mark.parametrize("make", [
    lambda L: L.arange(12.0).reshape(2, 2, 3)[1:, 1:, 1:],      # size-1 dims of odd stride: PyTorch views
    lambda L: L.arange(12.0).reshape(6, 2)[::2],
    lambda L: L.arange(8.0).reshape(2, 2, 2).permute(1, 0, 2),
    lambda L: L.arange(6.0).reshape(1, 3, 2).expand(2, 3, 2),
])
def test_view_as_complex_shares_memory_as_torch(make: Callable) -> None:
    """view_as_complex copied a layout PyTorch views (size-1 dims with odd strides): a write into the result did
    not reach x."""
    seen = {}
    for L in (torch, mg):
        x = make(L)
        y = L.view_as_complex(x)
        if not x.stride()[0] == 0:
            y.copy_(L.full(tuple(y.shape), 5 - 7j, dtype=y.dtype))
        strides = tuple(s for s, n in zip(y.stride(), y.shape) if n != 1)   # size-1 dims' may differ (README)
        seen[L] = (strides, y.storage_offset(), _np(x))
    assert seen[mg][:2] == seen[torch][:2]
    np.testing.assert_array_equal(seen[mg][2], seen[torch][2])


@pytest.mark.parametrize("make", [
    lambda L: L.zeros(4, 3)[:, :2], lambda L: L.zeros(3, 4)[1:, 1:3], lambda L: L.zeros(2, 2).T,
    lambda L: L.zeros(6)[1:5].view(2, 2),
])
def test_view_as_complex_refuses_layouts_torch_refuses(make: Callable) -> None:
    """These layouts gave a copy (writes into it were lost) where PyTorch raises."""
    with pytest.raises(RuntimeError):
        torch.view_as_complex(make(torch))
    with pytest.raises(RuntimeError, match="view_as_complex"):
        mg.view_as_complex(make(mg))


@pytest.mark.parametrize("view", [lambda x: x.as_strided((1,), (1,)), lambda x: x.as_strided((), ())])
def test_write_into_a_view_of_a_0d_non_leaf_then_backward_as_torch(view: Callable) -> None:
    """The scatter node's backward copied a 0-d gradient that came as a NumPy scalar and raised TypeError
    ("'numpy.float32' object does not support item assignment")."""
    seen = {}
    for L in (torch, mg):
        a = L.tensor(2.0, requires_grad=True)
        r = a * 1
        view(r).mul_(3)
        (r * 2).sum().backward()
        seen[L] = (a.grad.item(), r.item())
    assert seen[mg] == seen[torch]
