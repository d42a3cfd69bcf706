"""Round 20 leftovers, batch E: binary_cross_entropy_with_logits' gradients at infinities and its result dtype
(PyTorch's own backward formulas, not the derivative of the forward), and a second backward through the index
ops, which PyTorch refuses once their saved index was freed. Each compared with live torch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")

INF = np.inf


def _bce_grads(lib: Any, x: list, y: list, weight: list | None, pos_weight: list | None,
               create_graph: bool) -> list:
    """The loss, x's and y's gradients (and, with ``create_graph``, the second derivatives of their sum) as NumPy."""
    if lib is torch:
        make, f, grad = torch.tensor, torch.nn.functional.binary_cross_entropy_with_logits, torch.autograd.grad
    else:
        make, f, grad = mg.tensor, nn.functional.binary_cross_entropy_with_logits, mg.autograd.grad
    xs, ys = make(np.array(x), requires_grad=True), make(np.array(y), requires_grad=True)
    loss = f(xs, ys, weight=None if weight is None else make(np.array(weight)),
             pos_weight=None if pos_weight is None else make(np.array(pos_weight)), reduction="sum")
    gx, gy = grad(loss, (xs, ys), create_graph=create_graph)
    out = [loss.detach().numpy(), gx.detach().numpy(), gy.detach().numpy()]
    if create_graph:
        out += [g.detach().numpy() for g in grad(gx.sum() * 0.7 + gy.sum() * 1.3, (xs, ys))]
    return out


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize(("x", "y", "weight", "pos_weight"), [
    ([-1.0], [1.0], None, [INF]),          # x.grad: torch NaN (was -inf)
    ([-1.0, 2.0], [1.0, 0.5], [INF], None),  # x.grad: torch ±inf (was NaN)
    ([-INF], [1.0], None, [1.0]),          # y.grad: torch inf (was NaN)
    ([-INF, INF, 0.5], [0.3, 0.7, 1.0], [2.0, 0.5, 1.0], [1.5, 0.25, 3.0]),
    ([0.3, -2.0, 4.5], [1.0, 0.0, 0.25], None, None),
])
def test_bce_with_logits_gradients_are_torchs_formulas(x: list, y: list, weight: list | None,
                                                       pos_weight: list | None, create_graph: bool) -> None:
    ours = _bce_grads(mg, x, y, weight, pos_weight, create_graph)
    theirs = _bce_grads(torch, x, y, weight, pos_weight, create_graph)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("x_dtype", ["float32", "float64"])
@pytest.mark.parametrize("y_dtype", ["float32", "float64"])
def test_bce_with_logits_takes_the_targets_dtype(x_dtype: str, y_dtype: str) -> None:
    x = np.array([[0.3, -2.0], [4.5, -0.1]], dtype=x_dtype)
    y = np.array([[1.0, 0.0], [0.25, 1.0]], dtype=y_dtype)
    ours_x, theirs_x = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours = nn.functional.binary_cross_entropy_with_logits(ours_x, mg.tensor(y), reduction="none")
    theirs = torch.nn.functional.binary_cross_entropy_with_logits(theirs_x, torch.tensor(y), reduction="none")
    assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
    ours.sum().backward()
    theirs.sum().backward()
    assert ours_x.grad.dtype == x.dtype
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=1e-6)


# --- a second backward through the index ops ------------------------------------------------------------------

def _index_cases(lib: Any) -> dict:
    """name -> f(x) for x of shape (5, 3) that requires grad; each op saves its index for backward in PyTorch."""
    idx = lib.tensor([0, 2, 2])
    row = lib.tensor([[0, 1, 2]])
    embedding = torch.nn.functional.embedding if lib is torch else nn.functional.embedding
    return {
        "gather": lambda x: lib.gather(x, 0, row),
        "take_along_dim": lambda x: lib.take_along_dim(x, row, 0),
        "take_along_dim_flat": lambda x: lib.take_along_dim(x, lib.tensor([0, 4, 7])),
        "max_dim": lambda x: x.max(0).values,
        "sort": lambda x: x.sort(0).values,
        "topk": lambda x: x.topk(2, 0).values,
        "cummax": lambda x: x.cummax(0).values,
        "embedding": lambda x: embedding(idx, x),
        "scatter": lambda x: x.scatter(0, row, 1.0),
        "scatter_src": lambda x: lib.zeros(5, 3).scatter(0, row, x[:1]),
        "scatter_add_src": lambda x: lib.zeros(5, 3).scatter_add(0, row, x[:1]),
        "index_put": lambda x: x.index_put((idx,), lib.ones(3)),
        "index_put_accumulate": lambda x: x.index_put((idx,), lib.ones(3), accumulate=True),
        "index_put_values": lambda x: lib.zeros(5, 3).index_put((idx,), x[0]),
        "put": lambda x: x.put(lib.tensor([0, 1]), lib.ones(2), accumulate=True),
        "setitem_values": lambda x: _set(lib.zeros(5, 3), idx, x[0]),
        "getitem_tensor": lambda x: x[idx],
        "getitem_list": lambda x: x[[0, 2]],
        "getitem_bool": lambda x: x[lib.tensor([True, False, True, False, True])],
        "getitem_mixed": lambda x: x[idx, 1:],
        "index_select": lambda x: lib.index_select(x, 0, idx),
        "take": lambda x: lib.take(x, idx),
        "masked_select": lambda x: lib.masked_select(x, x > 0),
        "repeat_interleave": lambda x: x.repeat_interleave(lib.tensor([1, 2, 1, 0, 1]), 0),
        "getitem_int": lambda x: x[1],   # no saved index: a second backward runs in both
        "getitem_slices": lambda x: x[None, 1:3, ...],
    }


def _set(a: Any, index: Any, value: Any) -> Any:
    a[index] = value
    return a


def _backward_twice(lib: Any, name: str, retain_graph: bool = False) -> tuple:
    """The error class of a second backward (None: none), and x's gradient after it or the first."""
    x = (torch.from_numpy if lib is torch else mg.tensor)((np.arange(15.0).reshape(5, 3) % 4 - 1.5).astype(np.float32))
    x.requires_grad_(True)
    y = _index_cases(lib)[name](x)
    y.sum().backward(retain_graph=retain_graph)
    try:
        y.sum().backward()
    except Exception as error:  # noqa: BLE001 - the class is what is compared
        return type(error), x.grad.numpy().copy()
    return None, x.grad.numpy().copy()


@pytest.mark.parametrize("name", [
    "gather", "take_along_dim", "take_along_dim_flat", "max_dim", "sort", "topk", "cummax", "embedding", "scatter",
    "scatter_src", "scatter_add_src", "index_put", "index_put_accumulate", "index_put_values", "put",
    "setitem_values", "getitem_tensor", "getitem_list", "getitem_bool", "getitem_mixed", "index_select", "take",
    "masked_select", "repeat_interleave", "getitem_int", "getitem_slices"])
def test_a_second_backward_through_an_index_op_raises_as_torch(name: str) -> None:
    ours, theirs = _backward_twice(mg, name), _backward_twice(torch, name)
    assert ours[0] is theirs[0] and theirs[0] is (None if name in ("getitem_int", "getitem_slices") else RuntimeError)
    np.testing.assert_allclose(ours[1], theirs[1])
    ours, theirs = _backward_twice(mg, name, retain_graph=True), _backward_twice(torch, name, retain_graph=True)
    assert ours[0] is None and theirs[0] is None   # retain_graph=True keeps the index: the gradients add up
    np.testing.assert_allclose(ours[1], theirs[1])


@pytest.mark.parametrize("op", ["scatter_add", "index_add"])
def test_a_second_backward_through_x_alone_of_an_add_at_an_index_runs_as_torch(op: str) -> None:
    """PyTorch saves scatter_add's and index_add's index for the source's gradient only: a second backward to x
    alone runs (minigrad's index_add raised)."""
    grads = []
    for lib in (mg, torch):
        x = lib.ones(5, 3, requires_grad=True)
        if op == "scatter_add":
            y = x.scatter_add(0, lib.tensor([[0, 1, 2]]), lib.ones(1, 3))
        else:
            y = x.index_add(0, lib.tensor([0, 1]), lib.ones(2, 3))
        y.sum().backward()
        y.sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_array_equal(*grads)
