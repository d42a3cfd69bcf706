"""Indexing, in-place ops and views where minigrad once differed from PyTorch (regression tests).

As in ``test_pytorch_api_more.py``: each case is ``fn(lib, *tensors)`` in PyTorch's spelling, run with
``lib = minigrad`` and ``lib = torch`` on the same float64 values; outputs and input gradients must
agree, and every differentiable case passes ``mg.gradcheck``. The view and version-counter tests
below check aliasing (an in-place op on a view reaches its base) and backward's refusals.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest
from helpers import case_tests, gpu_case_tests

import minigrad as mg

RNG = np.random.default_rng(11)
X456 = RNG.standard_normal((4, 5, 6))
X34 = RNG.standard_normal((3, 4))
V52 = RNG.standard_normal((5, 2))
V4 = RNG.standard_normal(4)


def _i(lib: Any, values: Any) -> Any:
    """An int64 index tensor of ``lib``."""
    return lib.tensor(np.asarray(values, dtype=np.int64))


def _set(index: Callable) -> Callable:
    """``y = x * 1; y[index(lib)] = v`` (x and v require grad): the gradient reaches both."""
    def fn(lib: Any, x: Any, v: Any) -> Any:
        y = x * 1
        y[index(lib)] = v * 1
        return y
    return fn


CASES: dict[str, tuple[Callable, tuple]] = {
    # ints select before the advanced indices apply: x[1, :, [2, 3]] is (5, 2), not NumPy's (2, 5)
    "int_then_slice_then_list": (lambda t, x: x[1, :, [2, 3]], (X456,)),
    "int_then_slice_then_tensor": (lambda t, x: x[1, :, _i(t, [2, 3, 3])], (X456,)),
    "int_none_tensor": (lambda t, x: x[0, None, _i(t, [0, 1])], (X456,)),
    "int_ellipsis_tensor": (lambda t, x: x[2, ..., _i(t, [5, 0])], (X456,)),
    "int_slice_mask": (lambda t, x: x[1, :, t.tensor([True, False, True, True, False, True])], (X456,)),
    "0d_tensor_slice_tensor": (lambda t, x: x[_i(t, 1), :, _i(t, [2, 3])], (X456,)),
    "tensor_slice_int": (lambda t, x: x[_i(t, [0, 3]), :, 1], (X456,)),
    "0d_tensor_index": (lambda t, x: x[_i(t, 2)] * x[_i(t, -1), 1], (X456,)),
    "empty_list": (lambda t, x: x[[]], (X456,)),
    "empty_list_in_tuple": (lambda t, x: x[:, []], (X456,)),
    "setitem_int_slice_tensor": (_set(lambda t: (1, slice(None), _i(t, [2, 3]))), (X456, V52)),
    "setitem_0d_tensor": (_set(lambda t: (_i(t, 3), 2)), (X456, RNG.standard_normal(6))),
    "setitem_empty_list": (_set(lambda t: []), (X456, RNG.standard_normal(6))),
    # index_put / put (were missing)
    "index_put": (lambda t, x, v: x.index_put((_i(t, [0, 2]),), v), (X34, V4)),
    "index_put_accumulate_repeats": (lambda t, x, v: t.index_put(x, (_i(t, [0, 0, 2]), _i(t, [1, 1, 3])), v[:3],
                                                               accumulate=True), (X34, V4)),
    "index_put_mask_broadcast": (lambda t, x, v: x.index_put((t.tensor([True, False, True]),), v), (X34, V4)),
    "index_put_": (lambda t, x, v: (x * 1).index_put_((_i(t, [1]), _i(t, [-1])), v[0]), (X34, V4)),
    "put": (lambda t, x, v: t.put(x, _i(t, [[0, -1]]), v[:2]), (X34, V4)),
    "put_accumulate": (lambda t, x, v: (x * 1).put_(_i(t, [5, 5, 0]), v[:3], accumulate=True), (X34, V4)),
}
NO_GRADCHECK: set = set()

test_same_as_torch, test_gradcheck = case_tests(CASES, no_gradcheck=NO_GRADCHECK)
test_on_gpu_same_as_on_cpu = gpu_case_tests(CASES)


# --- PyTorch's deprecated spellings: the same result, with a warning ---------------------------------------

@pytest.mark.parametrize("make_index", [
    lambda t: [[0, 1], [1, 2]],                          # a list of lists is a tuple
    lambda t: [0, slice(None)],                          # a list holding a slice
    lambda t: [_i(t, 1), slice(None), [0, 2]],           # a list holding a Tensor
    lambda t: t.tensor(np.array([1, 0, 1, 1], dtype=np.uint8)),   # uint8: a mask
], ids=["list_of_lists", "list_with_slice", "list_with_tensor", "uint8_mask"])
def test_deprecated_index_spellings(make_index: Callable, torch: Any) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours = mg.tensor(X456)[make_index(mg)]
        theirs = torch.tensor(X456)[make_index(torch)]
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert any("deprecated" in str(w.message) for w in caught)


# --- views: an in-place op on the view reaches the base ---------------------------------------------------

def test_0d_tensor_index_is_a_view() -> None:
    x = mg.tensor(np.arange(6.0).reshape(2, 3))
    x[mg.tensor(1)].add_(10)
    x[np.int64(0), mg.tensor(2)] = -1.0
    np.testing.assert_array_equal(x.numpy(), [[0, 1, -1], [13, 14, 15]])


def test_view_of_a_view_follows_an_in_place_op_on_the_base(torch: Any) -> None:
    """x[1:][0] saved before x.mul_(2): its gradient is that of the new values (it was half of it)."""
    grads = []
    for lib in (mg, torch):
        leaf = lib.tensor(X34, requires_grad=True)
        x = leaf * 1
        w = x[1:][0]
        x.mul_(2)
        (w * w).sum().backward()
        grads.append(leaf.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1])


def test_in_place_on_a_view_of_a_view(torch: Any) -> None:
    results = []
    for lib in (mg, torch):
        leaf = lib.tensor(X34, requires_grad=True)
        x = leaf * 1
        v = x[1:]
        w = v[0]
        w.mul_(5)
        (x * x).sum().backward()
        results.append((x.detach().numpy(), v.detach().numpy(), leaf.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs)


def test_in_place_on_an_expanded_tensor_raises_naming_the_op() -> None:
    x = mg.tensor([[1.0], [2.0]]).expand(2, 3)
    with pytest.raises(RuntimeError, match=r"add_: .*more than one element.*\(2, 3\)"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="setitem: .*more than one element"):
        x[0] = 1.0
    x[0, 0] = 5.0   # one element has memory of its own: written through, as PyTorch (every copy reads it)
    assert x.tolist() == [[5.0, 5.0, 5.0], [2.0, 2.0, 2.0]]


def test_view_refuses_a_layout_it_cannot_view(torch: Any) -> None:
    x = mg.tensor(X34)
    with pytest.raises(RuntimeError, match=r"view: .*\(12,\).*\(4, 3\).*reshape"):
        x.t().view(12)
    with pytest.raises(RuntimeError):
        torch.tensor(X34).t().view(12)
    v = x.t().view(4, 3, 1)   # a layout it can view: the same memory
    v.add_(1)
    np.testing.assert_array_equal(x.numpy(), X34 + 1)
    np.testing.assert_array_equal(x[:, ::2].view(3, 2, 1).numpy(), X34[:, ::2, None] + 1)


def test_view_dtype(torch: Any) -> None:
    for dtype in ("int64", "float32", "int32", "float16"):
        x = mg.tensor(X34).float() if dtype != "int64" else mg.tensor(X34)
        ours = x.view(getattr(mg, dtype) if hasattr(mg, dtype) else dtype)
        theirs = torch.from_numpy(x.numpy()).view(getattr(torch, dtype))
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        assert not ours.requires_grad


@pytest.mark.parametrize("write", [
    lambda t, x: x.diagonal().fill_(1.0),
    lambda t, x: x.diagonal(1).mul_(10),
    lambda t, x: x.unfold(1, 2, 2).mul_(10),
    lambda t, x: x.unfold(0, 1, 2).add_(5),
], ids=["diagonal_fill_", "diagonal_offset_mul_", "unfold_mul_", "unfold_gaps_add_"])
def test_diagonal_and_unfold_are_views(write: Callable, torch: Any) -> None:
    ours, theirs = mg.tensor(X34), torch.tensor(X34)
    write(mg, ours)
    write(torch, theirs)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_overlapping_unfold_windows_refuse_in_place() -> None:
    with pytest.raises(RuntimeError, match=r"mul_: .*\(3, 2\).*unfold"):
        mg.tensor(X34[0]).unfold(0, 2, 1).mul_(2)
