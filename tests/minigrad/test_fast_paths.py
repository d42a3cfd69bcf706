"""Fast paths taken for speed (issue #14) give the same values and gradients as PyTorch.

Each case here exercises a branch that exists only to do less array work: a stack of matrices
times one matrix runs as one GEMM over all rows, and so on. Inputs include zero-size and
non-contiguous arrays, where a reshape copies or has nothing to infer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from helpers import check_op

import minigrad as mg


def leaf(shape: tuple, seed: int = 0, transpose: tuple | None = None) -> mg.Tensor:
    array = np.random.default_rng(seed).standard_normal(shape)
    if transpose is not None:
        array = array.transpose(transpose)   # a non-contiguous view
    return mg.tensor(array, requires_grad=True)


@pytest.mark.parametrize(("shape_a", "shape_b", "transpose"), [
    ((2, 3, 4), (4, 5), None),
    ((2, 2, 3, 4), (4, 5), None),
    ((4, 3, 2), (4, 5), (2, 1, 0)),     # a permuted view: its rows cannot merge without a copy
    ((2, 0, 4), (4, 5), None),
    ((2, 3, 0), (0, 5), None),
    ((2, 3, 4), (4, 0), None),
])
def test_stack_times_matrix_is_one_gemm_with_torch_gradients(torch: Any, shape_a: tuple, shape_b: tuple,
                                                             transpose: tuple | None) -> None:
    a, b = leaf(shape_a, 0, transpose), leaf(shape_b, 1)
    check_op(lambda x, w: x @ w, [a, b], torch, lambda x, w: x @ w)


def test_stack_times_matrix_weight_gradient_sums_with_other_uses(torch: Any) -> None:
    # the weight's gradient from the stack is a lazy product sum; it must add to a plain use's
    x, v, w = leaf((3, 2, 4), 0), leaf((5, 4), 1), leaf((4, 6), 2)
    check_op(lambda x, v, w: (x @ w).sum() + (v @ w).sum() * 2, [x, v, w], torch,
             lambda x, v, w: (x @ w).sum() + (v @ w).sum() * 2)


@pytest.mark.parametrize("x_shape", [(5, 4), (2, 5, 4)])
def test_weight_gradient_of_x_at_w_transposed_is_row_major_like_the_weight(torch: Any, x_shape: tuple) -> None:
    # linear's x @ W.T: W's gradient comes out in W's (row-major) layout, summed over two uses
    x, w = leaf(x_shape, 0), leaf((6, 4), 1)
    ((x @ w.T).sum() + (x @ w.T * 2).sum()).backward()
    tx, tw = torch.tensor(x.detach().numpy(), requires_grad=True), torch.tensor(w.detach().numpy(), requires_grad=True)
    ((tx @ tw.T).sum() + (tx @ tw.T * 2).sum()).backward()
    assert w.grad.numpy().flags.c_contiguous
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("method", ["add_", "sub_"])
@pytest.mark.parametrize("alpha", [1, -0.1, 3])
def test_optimizer_update_in_place_rounds_as_the_out_of_place_ops(method: str, alpha: float) -> None:
    # p.add_(p.grad, alpha=-lr) under no_grad writes straight into p: the same float32 roundings as
    # p + alpha * g (PyTorch's value up to its fused multiply-add), the same object, a new version
    rng = np.random.default_rng(0)
    p = mg.tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    g = mg.tensor(np.asfortranarray(rng.standard_normal((4, 3)).astype(np.float32)))   # any layout
    expected = p.detach().numpy() + np.float32(alpha) * g.numpy() * (1 if method == "add_" else -1)
    saved = p * p                                   # a graph that saved p's old value (p * 2 keeps none, as torch)
    data = p.data
    with mg.no_grad():
        assert getattr(p, method)(g, alpha=alpha) is p
    assert p.data is data
    np.testing.assert_array_equal(p.numpy(), expected)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        saved.sum().backward()                      # the version check still sees the update


def test_in_place_add_through_a_view_changes_the_base_and_plain_cases_only() -> None:
    base = mg.zeros(4, 3)
    view = base[1]
    with mg.no_grad():
        view.add_(mg.ones(3), alpha=2.0)
    np.testing.assert_array_equal(base.numpy()[1], [2.0, 2.0, 2.0])
    ints = mg.tensor(np.arange(3))
    with pytest.raises(TypeError):                  # int tensor += float: the general path's error
        ints.add_(mg.tensor([0.5, 0.5, 0.5]), alpha=1.0)
    np.testing.assert_array_equal(ints.numpy(), [0, 1, 2])


@pytest.mark.parametrize("rows", [1, 3, 48, 49])
def test_few_rows_times_transposed_weight_is_row_major_and_equal_to_torch(torch: Any, rows: int) -> None:
    # h @ W.T with a small batch runs as (W @ h.T).T: still row-major, same values and gradients
    h, w = leaf((rows, 5), 0), leaf((7, 5), 1)
    y = h @ w.T
    assert y.numpy().flags.c_contiguous
    check_op(lambda h, w: h @ w.T, [h, w], torch, lambda h, w: h @ w.T)


@pytest.mark.parametrize("rows", [1, 3, 49])
def test_step_matmul_is_h_times_the_transposed_weight_with_its_gradients(torch: Any, rows: int) -> None:
    # the recurrent step's product runs from a row-major copy of Wᵀ; values and gradients are those of h @ W.T
    h, w = leaf((rows, 5), 0), leaf((7, 5), 1)

    def step(h: mg.Tensor, w: mg.Tensor) -> mg.Tensor:
        transposed = w.T
        return mg.step_matmul(h, transposed, transposed.detach().contiguous())

    y = step(h, w)
    assert y.numpy().flags.c_contiguous
    np.testing.assert_array_equal(y.numpy(), h.numpy() @ np.ascontiguousarray(w.numpy().T))
    check_op(step, [h, w], torch, lambda h, w: h @ w.T)
    y.sum().backward()
    assert w.grad.numpy().flags.c_contiguous   # W's gradient in W's layout, as for h @ W.T


@pytest.mark.parametrize("addend_shape", [(3, 7), (7,)])
def test_step_addmm_is_the_addend_plus_step_matmul_bit_for_bit(torch: Any, addend_shape: tuple) -> None:
    # a recurrent step's gates_x + h Wᵀ (or h Wᵀ + b_hh) as one op: the two ops' values to the last bit,
    # their gradients, torch.addmm's values
    h, w, c = leaf((3, 5), 0), leaf((7, 5), 1), leaf(addend_shape, 2)

    def step(c: mg.Tensor, h: mg.Tensor, w: mg.Tensor) -> mg.Tensor:
        transposed = w.T
        return mg.step_addmm(c, h, transposed, transposed.detach().contiguous())

    for dtype in (mg.float32, mg.float64):
        args = [x.to(dtype).detach().requires_grad_() for x in (c, h, w)]
        fused, separate = step(*args), args[0] + args[1] @ args[2].T
        np.testing.assert_array_equal(fused.numpy(), separate.numpy())
        assert fused.dtype == separate.dtype
    check_op(step, [c, h, w], torch, lambda c, h, w: torch.addmm(c, h, w.T))
    mixed = step(c.float(), h, w)      # a float32 addend to a float64 product: promoted, not added in place
    assert mixed.dtype == mg.float64
    np.testing.assert_array_equal(mixed.numpy(), (c.float() + h @ w.T).numpy())


@pytest.mark.parametrize("shapes", [((3, 4), (3, 4), (3, 4)), ((4,), (3, 4), (3, 1)), ((2, 3, 4), (3, 1), (4,)),
                                    ((), (3,), (3,))])
def test_addcmul_is_one_op_with_the_values_of_add_and_mul(torch: Any, shapes: tuple) -> None:
    # a + b * c as one node (a recurrent cell's f * c + i * g): the two ops' values to the last bit, their
    # gradients (broadcast shapes summed back), torch.addcmul's values; float32 inputs stay float32
    a, b, c = (leaf(shape, seed) for seed, shape in enumerate(shapes))
    y = mg.addcmul(a, b, c)
    assert y.grad_fn.name == "addcmul"
    np.testing.assert_array_equal(y.numpy(), (a.detach() + b.detach() * c.detach()).numpy())
    check_op(mg.addcmul, [a, b, c], torch, torch.addcmul)
    assert mg.addcmul(a.float(), b.float(), c.float()).dtype == mg.float32


def test_step_addmm_refuses_an_addend_of_another_shape_naming_it() -> None:
    h, w = mg.randn(3, 5), mg.randn(7, 5)
    with pytest.raises(ValueError, match=r"step_addmm: the addend must be \(3, 7\) or \(7,\).*got \(3, 1\)"):
        mg.step_addmm(mg.randn(3, 1), h, w.T, w.T.contiguous())
    with pytest.raises(ValueError, match=r"step_addmm: .*\(3, 4\)"):
        mg.step_addmm(mg.randn(3, 7), mg.randn(3, 4), w.T, w.T.contiguous())


def test_step_matmul_refuses_mismatched_shapes_naming_them() -> None:
    h, w = mg.randn(3, 5), mg.randn(7, 5)
    with pytest.raises(ValueError, match=r"step_matmul: .*\(3, 5\), \(5, 7\), \(7, 5\)"):
        mg.step_matmul(h, w.T, w)
    with pytest.raises(ValueError, match=r"step_matmul: .*\(3, 4\)"):
        mg.step_matmul(mg.randn(3, 4), w.T, w.T.contiguous())
