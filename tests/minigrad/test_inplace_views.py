"""In-place ops on views made by reshape, view, flatten, unsqueeze, squeeze, transpose, permute, ``t`` and ``T``
while gradients are recorded: the write reaches the base's graph, and a view made before an in-place op on
its base follows the base's new graph, as PyTorch's view tracking does.

Each case is ``fn(lib, *tensors)`` in PyTorch's spelling, run with ``lib = minigrad`` and ``lib = torch`` on the
same float64 values (leaves that require grad); the base, the views and every leaf's gradient must agree, and
every case passes ``mg.gradcheck``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from helpers import case_tests, gpu_case_tests

import minigrad as mg

RNG = np.random.default_rng(7)
X34 = RNG.standard_normal((3, 4))
W34 = RNG.standard_normal((3, 4))
X322 = RNG.standard_normal((3, 2, 2))


def _view_add(t: Any, leaf: Any) -> Any:
    x = leaf * 1
    x.view(12).add_(1)
    return x * x


def _t_mul(t: Any, leaf: Any) -> Any:
    x = leaf * 1
    x.t().mul_(2)
    return x * x


def _unsqueeze_sigmoid(t: Any, leaf: Any) -> Any:
    x = leaf * 1
    x.unsqueeze(0).sigmoid_()
    return x * x


def _index_of_reshape(t: Any, leaf: Any) -> Any:
    x = leaf * 1
    x.reshape(2, 6)[0].zero_()
    return x * x


def _view_of_a_view(t: Any, leaf: Any) -> Any:
    x = leaf * 1
    w = x.transpose(0, 1)
    w[1:].fill_(0)
    return x * x, w * 3


def _base_changed_after_the_view(t: Any, leaf: Any) -> Any:
    x = leaf * 1
    v = x.view(12)
    x.add_(1)
    return v * 2, v * v


def _operand_requires_grad(t: Any, leaf: Any, weight: Any) -> Any:
    x = leaf * 1
    x.t().mul_(weight.t())
    return x * x


def _base_without_grad(t: Any, leaf: Any, weight: Any) -> Any:
    """The base requires no grad: the write through its view makes it require grad (PyTorch's CopySlices)."""
    x = t.zeros_like(leaf)
    x.t().add_(weight.t())
    x.t()[1:].mul_(weight.t()[1:])
    return x * leaf


def _two_views_of_one_base(t: Any, leaf: Any, weight: Any) -> Any:
    x = leaf * 1
    flat, turned = x.view(12), x.t()
    flat.mul_(weight.view(12))
    return turned * turned, flat * 3


def _chain_of_views(t: Any, leaf: Any, weight: Any) -> Any:
    x = leaf * 1
    chain = x.view(2, 6).t().unsqueeze(0)
    chain.mul_(3)
    chain.exp_()
    return x * weight, chain * 1


def _reshape_that_copies(t: Any, leaf: Any, weight: Any) -> Any:
    """reshape of a transposed tensor is a copy, not a view: the base keeps its values."""
    x = leaf * 1
    copied = x.t().reshape(12)
    copied.add_(1)
    return x * weight, copied * copied


def _view_used_after_its_write(t: Any, leaf: Any, weight: Any) -> Any:
    x = leaf * 1
    v = x.t()
    v.mul_(2)
    return v * weight.t()


def _interleaved(t: Any, leaf: Any, weight: Any) -> Any:
    x = leaf * 1
    v = x.t()
    x.mul_(weight)
    v.add_(1)
    x.mul_(2)
    row = v[0]
    x.t()[0].mul_(5)
    return v * v, row * 1


def _squeeze_flatten(t: Any, leaf: Any, weight: Any) -> Any:
    x = (leaf * 1).unsqueeze(1)
    x.squeeze(1).mul_(weight)
    x.squeeze().add_(1)
    x.flatten().tanh_()
    return x * x


def _permute(t: Any, cube: Any, scale: Any) -> Any:
    x = cube * 1
    x.permute(2, 0, 1).mul_(scale)
    x.flatten(1).sub_(0.5)
    return x * x


def _transposes(t: Any, leaf: Any, weight: Any) -> Any:
    x = leaf * 1
    x.T.mul_(weight.T)
    x.mT.add_(1)
    x.swapaxes(0, 1).relu_()
    return x * x


def _copy_fill_setitem(t: Any, leaf: Any, weight: Any) -> Any:
    x = leaf * 1
    x.t().copy_(weight.t() * 2)
    x.view(12)[::2].fill_(3)
    v = x.t()
    v[1] = weight[:, 1]
    return x * x, v * 2


def _ravel_unflatten(t: Any, leaf: Any, weight: Any) -> Any:
    x = leaf * 1
    x.ravel().mul_(weight.ravel())
    x.unflatten(1, (2, 2)).add_(1)
    return x * x


CASES: dict[str, tuple[Callable, tuple]] = {
    # the examples of the request, one by one
    "view_add_": (_view_add, (X34,)),
    "t_mul_": (_t_mul, (X34,)),
    "unsqueeze_sigmoid_": (_unsqueeze_sigmoid, (X34,)),
    "index_of_a_reshape_zero_": (_index_of_reshape, (X34,)),
    "index_of_a_transpose_fill_": (_view_of_a_view, (X34,)),
    "base_changed_after_the_view": (_base_changed_after_the_view, (X34,)),
    # around them
    "operand_requires_grad": (_operand_requires_grad, (X34, W34)),
    "base_without_grad": (_base_without_grad, (X34, W34)),
    "two_views_of_one_base": (_two_views_of_one_base, (X34, W34)),
    "chain_of_views": (_chain_of_views, (X34, W34)),
    "reshape_that_copies": (_reshape_that_copies, (X34, W34)),
    "view_used_after_its_write": (_view_used_after_its_write, (X34, W34)),
    "interleaved_writes": (_interleaved, (X34, W34)),
    "squeeze_flatten": (_squeeze_flatten, (X34, W34)),
    "permute": (_permute, (X322, RNG.standard_normal((2, 3, 2)))),
    "T_mT_swapaxes": (_transposes, (X34, W34)),
    "copy_fill_setitem": (_copy_fill_setitem, (X34, W34)),
    "ravel_unflatten": (_ravel_unflatten, (X34, W34)),
}

test_same_as_torch, test_gradcheck = case_tests(CASES)
test_on_gpu_same_as_on_cpu = gpu_case_tests(CASES)


def test_the_view_sees_the_write_and_the_base_its_graph(torch: Any) -> None:
    """The request's examples spelled out: values of the base and the view, and the leaf's gradient."""
    results = []
    for lib in (mg, torch):
        leaf = lib.tensor(X34, requires_grad=True)
        x = leaf * 1
        v = x.view(12)
        x.add_(1)
        x.t().mul_(2)
        (v * v).sum().backward()
        assert x.grad_fn is not None and v.grad_fn is not None
        results.append((x.detach().numpy(), v.detach().numpy(), leaf.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    np.testing.assert_allclose(results[0][0], (X34 + 1) * 2)


def test_reshaped_view_written_while_recording(torch: Any) -> None:
    """Was refused ("view of another tensor"); now recorded, as in PyTorch. Without recording it writes too."""
    for lib in (mg, torch):
        x = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        y = x * 2
        y.t().mul_(2)
        y.sum().backward()
        assert x.grad.numpy().tolist() == [[4.0, 4.0], [4.0, 4.0]]
        assert y.detach().numpy().tolist() == [[4.0, 8.0], [12.0, 16.0]]
        with lib.no_grad():
            y.t().mul_(2)
        assert y.detach().numpy().tolist() == [[8.0, 16.0], [24.0, 32.0]]


@pytest.mark.parametrize("write", [
    lambda t, p: p.t().add_(1),
    lambda t, p: p.view(12).mul_(2),
    lambda t, p: p.unsqueeze(0).zero_(),
    lambda t, p: p.t()[0].add_(1),
    lambda t, p: p[1:].t().add_(1),
    lambda t, p: p.T.unsqueeze(0)[0, 1].fill_(1),
], ids=["t", "view", "unsqueeze", "index_of_t", "t_of_index", "index_of_unsqueeze_of_T"])
def test_view_of_a_leaf_that_requires_grad_raises_as_torch(write: Callable, torch: Any) -> None:
    for lib in (mg, torch):
        p = lib.tensor(X34, requires_grad=True)
        with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
            write(lib, p)
        np.testing.assert_array_equal(p.detach().numpy(), X34)


@pytest.mark.parametrize("write", [
    lambda x: x.split(2, dim=1)[0].mul_(2),
    lambda x: x.chunk(3)[1].add_(1),
    lambda x: x.unbind(0)[0].zero_(),
], ids=["split", "chunk", "unbind"])   # diagonal, unfold, as_strided, tensor_split write through: test_view_writes.py
def test_untracked_views_still_refuse_while_recording(write: Callable) -> None:
    x = mg.tensor(X34, requires_grad=True) * 1
    with pytest.raises(RuntimeError, match="in-place op on a view of another tensor"):
        write(x)
    np.testing.assert_array_equal(x.numpy(), X34)


def test_saved_base_changed_through_a_view_makes_backward_raise(torch: Any) -> None:
    for lib in (mg, torch):
        x = lib.tensor(X34, requires_grad=True) * 1
        y = x * x   # keeps x for backward
        x.t().add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_no_grad_writes_through_every_view() -> None:
    x = mg.tensor(X34, requires_grad=True) * 1
    with mg.no_grad():
        x.view(12).add_(1)
        x.t().mul_(2)
        x.unsqueeze(0)[0, 1:].zero_()
    expected = (X34 + 1) * 2
    expected[1:] = 0
    np.testing.assert_array_equal(x.numpy(), expected)


def test_a_view_made_under_no_grad_is_refused_in_place_with_grad_on_as_torch(torch: Any) -> None:
    # it used to write into the base silently, leaving the base's graph stale
    for lib in (mg, torch):
        x = lib.tensor(X34, requires_grad=True) * 1
        with lib.no_grad():
            transposed, row = x.t(), x[0]
            transposed.mul_(2)                     # inside no_grad: allowed, as torch
        with pytest.raises(RuntimeError, match="(?i)a view was created in no_grad mode"):
            transposed.mul_(2)
        with pytest.raises(RuntimeError, match="(?i)a view was created in no_grad mode"):
            row.add_(1)
