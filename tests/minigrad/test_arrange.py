"""PyTorch's rearranging, indexing, stacking/splitting and product ops (minigrad/ops/arrange.py, combine.py).

As in ``test_pytorch_api_more.py``: each case is ``fn(lib, *tensors)`` in PyTorch's spelling, run with
``lib = minigrad`` and ``lib = torch`` on the same float64 values; outputs (values, dtypes, shapes) and
input gradients must agree, and every differentiable case passes ``mg.gradcheck`` (repeated indices
included). Then: random shapes and dims (Hypothesis), in-place variants, errors, and the GPU path.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest
from helpers import case_tests, drawn_case_tests, flat_outputs, gpu_case_tests

import minigrad as mg

RNG = np.random.default_rng(11)


def _normal(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


X34, X234, X4, X3, X33 = _normal(3, 4), _normal(2, 3, 4), _normal(4), _normal(3), _normal(3, 3)
X233, S = _normal(2, 3, 3), np.array(1.5)
E04, E0 = np.zeros((0, 4)), np.zeros((0,))
I34 = np.arange(12).reshape(3, 4)
MASK = np.array([[True, False, True, True]])
REPEATS = np.array([0, 2, 0, -1])           # repeated and negative indices
UNIQUE = np.array([2, 0])


def _linalg_cross(t: Any) -> Callable:
    return t.linalg.cross if t is not mg else mg.linalg_cross


CASES: dict[str, tuple[Callable, tuple]] = {
    # moving dims
    "movedim": (lambda t, x: [x.movedim(0, -1), t.movedim(x, (0, 1), (2, 0)), x.movedim((-1,), (0,))], (X234,)),
    "moveaxis": (lambda t, x: [t.moveaxis(x, 1, 0), x.moveaxis((0, 2), (1, 0))], (X234,)),
    "movedim_0d": (lambda t, x: t.movedim(x, 0, -1) * 2, (S,)),
    "swapdims": (lambda t, x: [x.swapdims(0, -1), t.swapdims(x, 1, 2)], (X234,)),
    "select": (lambda t, x: [x.select(1, -1), t.select(x, 0, 1), x.select(-1, 0)], (X234,)),
    "tile": (lambda t, x: [x.tile(2), t.tile(x, (2, 1, 3)), x.tile(()), x.tile(1, 2)], (X34,)),
    "ravel": (lambda t, x: [x.ravel(), t.ravel(x.transpose(0, 2)), t.ravel(x[0, 0, 0])], (X234,)),
    "unflatten": (lambda t, x: [x.unflatten(1, (3, -1)), t.unflatten(x, -1, (2, 1, 2)), x.unflatten(0, [2])],
                  (X234[:, :, :4],)),
    # diagonals
    "diagonal": (lambda t, x: [x.diagonal(), x.diagonal(1), t.diagonal(x, -2), x.diagonal(5), x.diagonal(-3)],
                 (X34,)),
    "diagonal_dims": (lambda t, x: [t.diagonal(x, 0, 0, 2), x.diagonal(1, -1, 0), x.diagonal(-1, 2, 1),
                                    x.diagonal(dim1=1, dim2=0)], (X234,)),
    "diag_embed": (lambda t, x: [x.diag_embed(), t.diag_embed(x, 1, 0, 2), x.diag_embed(-2, -1, 0),
                                 x.diag_embed(offset=1, dim1=1, dim2=0)], (X34,)),
    "diag_embed_1d": (lambda t, x: [t.diag_embed(x), x.diag_embed(-1)], (X4,)),
    "diag_embed_diagonal_round_trip": (lambda t, x: x.diag_embed(2, 0, 2).diagonal(2, 0, 2), (X34,)),
    "trace": (lambda t, x, y: [x.trace(), t.trace(y)], (X34, X33)),
    # picking by index
    "take_repeated_negative": (lambda t, x, i: x.take(i), (X34, np.array([[0, -1, 5], [5, 5, -12]]))),
    "take_0d_index": (lambda t, x, i: t.take(x, i), (X234, np.array(7))),
    "take_0d_input": (lambda t, x, i: x.take(i), (S, np.array([0, 0, -1]))),
    "take_along_dim_flat": (lambda t, x, i: t.take_along_dim(x, i), (X34, np.array([[0, 11], [3, 3]]))),
    "take_along_dim": (lambda t, x, i: x.take_along_dim(i, 1), (X34, np.array([[0, 3, 3], [1, 1, 0], [2, 0, 2]]))),
    "take_along_dim_broadcast": (lambda t, x, i: [x.take_along_dim(i, 1), t.take_along_dim(x[:1], i, dim=-1)],
                                 (X34, np.array([[0], [3], [1]]))),
    "take_along_dim_negative": (lambda t, x, i: x.take_along_dim(i, 0), (X234, np.array([[[-1]], [[0]]]))),
    "take_along_dim_sort": (lambda t, x: x.take_along_dim(x.argsort(1), 1), (X34,)),
    # writing by index
    "index_add_repeats": (lambda t, x, s, i: x.index_add(1, i, s), (X34, _normal(3, 4), np.array([0, 2, 0, 3]))),
    "index_add_alpha": (lambda t, x, s, i: t.index_add(x, 0, i, s, alpha=-2.5), (X34, _normal(4, 4),
                                                                              np.array([1, 1, 1, 0]))),
    "index_add_negative_dim": (lambda t, x, s, i: x.index_add(-1, i, s), (X234, _normal(2, 3, 2), UNIQUE)),
    "index_add_0d_index": (lambda t, x, s, i: x.index_add(1, i, s), (X34, _normal(3, 1), np.array(3))),
    "index_add_0d": (lambda t, x, s, i: x.index_add(0, i, s), (S, np.array(2.0), np.array(0))),
    "index_copy": (lambda t, x, s, i: [x.index_copy(1, i, s), t.index_copy(x, -1, i, s * 2)],
                   (X34, _normal(3, 2), UNIQUE)),
    "index_copy_dim0": (lambda t, x, s, i: x.index_copy(0, i, s), (X234, _normal(1, 3, 4), np.array([1]))),
    "index_fill": (lambda t, x, i: [x.index_fill(1, i, 2.5), t.index_fill(x, 0, i[:1] + 2, -1)], (X34, REPEATS)),
    # no negative index: PyTorch's own backward fails on one for a tensor value
    "index_fill_tensor_value": (lambda t, x, v, i: x.index_fill(1, i, v), (X34, S, np.array([0, 2, 0]))),
    "index_fill_0d_index": (lambda t, x, i: x.index_fill(-1, i, 0.0), (X234, np.array(-1))),
    "masked_scatter": (lambda t, x, s, m: x.masked_scatter(m, s), (X34, _normal(4, 5), MASK)),
    "masked_scatter_exact": (lambda t, x, s, m: t.masked_scatter(x, m, s), (X34, _normal(9), MASK)),
    "masked_scatter_broadcast_input": (lambda t, x, s, m: x[:1].masked_scatter(m.expand(3, 4), s),
                                       (X34, _normal(12), MASK)),
    "masked_scatter_none": (lambda t, x, s, m: x.masked_scatter(m.logical_xor(m), s), (X34, _normal(2), MASK)),
    # flips, rotations, windows
    "rot90": (lambda t, x: [x.rot90(), t.rot90(x, 2), x.rot90(3), x.rot90(-1), t.rot90(x, 0), x.rot90(1, (1, 0))],
              (X34,)),
    "rot90_3d": (lambda t, x: [x.rot90(1, (2, 0)), t.rot90(x, 5, [-1, 1])], (X234,)),
    "fliplr_flipud": (lambda t, x: [x.fliplr(), t.flipud(x), t.fliplr(x[0]), x[0, 0].flipud()], (X234,)),
    "narrow_copy": (lambda t, x: [x.narrow_copy(1, 2, 2), t.narrow_copy(x, 0, 1, 0)], (X34,)),
    # a negative start: PyTorch's own backward fails on it (values compared, gradient by gradcheck)
    "narrow_copy_negative_start": (lambda t, x: t.narrow_copy(x, -1, -3, 2), (X234,)),
    "unfold_overlapping": (lambda t, x: x.unfold(1, 2, 1), (X34,)),
    "unfold_gaps": (lambda t, x: [x.unfold(-1, 1, 3), x.unfold(0, 2, 2), x.unfold(2, 0, 1)], (X234,)),
    "unfold_whole": (lambda t, x: x.unfold(0, 4, 5), (X4,)),
    "unfold_0d": (lambda t, x: [x.unfold(0, 1, 1), x.unfold(-1, 0, 2)], (S,)),
    # stacks
    "hstack": (lambda t, a, b: [t.hstack([a, b]), t.hstack((a[0], b[0], a[1, :1]))], (X34, _normal(3, 2))),
    "hstack_0d": (lambda t, a: t.hstack([a, a * 2]), (S,)),
    "vstack": (lambda t, a, b: [t.vstack([a, b[0]]), t.row_stack((b, b)), t.vstack([a[0, 0], a[1, 1]])],
               (X34, _normal(2, 4))),
    "dstack": (lambda t, a, b: [t.dstack([a, b]), t.dstack((a[0], b[0])), t.dstack([a[0, 0]])],
               (X34, _normal(3, 4))),
    "column_stack": (lambda t, a, b: t.column_stack([a[:, 0], b, a[:, 1:], a[0, 0].expand(3)]), (X34, X3[:, None])),
    "atleast": (lambda t, a: [t.atleast_1d(a[0, 0]), t.atleast_2d(a[0]), t.atleast_3d(a), t.atleast_3d(a[0]),
                              t.atleast_2d([a[0, 0], a]), t.atleast_1d(a[0], a[1, 1])], (X34,)),
    # splits
    "tensor_split_sections": (lambda t, x: [t.tensor_split(x, 3, 1), x.tensor_split(4, dim=-1), x.tensor_split(5)],
                              (X234,)),
    "tensor_split_indices": (lambda t, x: [x.tensor_split([1, 3], 1), t.tensor_split(x, (-2, 9), dim=-1),
                                           x.tensor_split([3, 1, 4], dim=2), x.tensor_split([])], (X234,)),
    "tensor_split_tensor": (lambda t, x, i: [x.tensor_split(i, 1), x.tensor_split(i[0], -1)], (X34, np.array([1, 3]))),
    "hsplit_vsplit_dsplit": (lambda t, x: [t.hsplit(x, 3), x.hsplit([2]), x.vsplit(2), t.vsplit(x, [1]),
                                           x.dsplit(2), t.dsplit(x, [1, 1, 3]), t.hsplit(x[0, 0], 2)], (X234,)),
    "split_with_sizes": (lambda t, x: [x.split_with_sizes([1, 0, 2], 1), t.split_with_sizes(x, [2, 2], dim=-1)],
                         (X234[:, :, :4],)),
    # products
    "mv": (lambda t, m, v: [t.mv(m, v), m.mv(v * 2)], (X34, X4)),
    "vdot": (lambda t, a, b: [t.vdot(a, b), a.vdot(a)], (X4, X4[::-1].copy())),
    "inner": (lambda t, a, b, c: [t.inner(a, b), a.inner(c), t.inner(c, c), t.inner(a, a[0, 0]), a[0, 0].inner(c)],
              (X34, X234, X4)),
    "tensordot_int": (lambda t, a, b, c: [t.tensordot(a, b, 1), t.tensordot(a, c, 2), t.tensordot(a, b, 0)],
                      (X234, _normal(4, 2), _normal(3, 4, 2))),
    "tensordot_lists": (lambda t, a, b: [t.tensordot(a, b, dims=([1, 2], [1, 0])), t.tensordot(a, b, ([-1], [0])),
                                         t.tensordot(a, b, [[0], [2]]), t.tensordot(a, b, ([], []))],
                        (X234, _normal(4, 3, 2))),
    "kron": (lambda t, a, b: [t.kron(a, b), a.kron(b[0]), t.kron(a[0], a), t.kron(b, a[0, 0]), t.kron(b[0], b[1])],
             (X34, _normal(2, 3))),
    "kron_3d": (lambda t, a, b: t.kron(a, b), (X234[:, :2, :2], _normal(3, 1))),
    "cross": (lambda t, a, b: [t.cross(a, b, dim=1), a.cross(b, -1), t.cross(a.t(), b.t(), 0)],
              (X33[:, :3], _normal(3, 3))),
    "cross_broadcast": (lambda t, a, b: [t.cross(a, b, dim=-1), _linalg_cross(t)(a, b)], (X233, _normal(1, 3, 3))),
    "linalg_cross_dim": (lambda t, a, b: _linalg_cross(t)(a, b, dim=0), (_normal(3, 5), _normal(3, 1))),
    "diff": (lambda t, x: [x.diff(), t.diff(x, 2, 0), x.diff(n=3, dim=-1), x.diff(0), x.diff(9)], (X34,)),
    "diff_prepend_append": (lambda t, x, p, a, r: [t.diff(x, prepend=p, append=a), x.diff(2, prepend=p),
                                                   x.diff(dim=0, append=r)], (X34, _normal(3, 1), _normal(3, 2),
                                                                              _normal(2, 4))),
    "addmv": (lambda t, x, m, v: [t.addmv(x, m, v), x.addmv(m, v, beta=0.5, alpha=2), t.addmv(x[:1], m, v, beta=0)],
              (X3, X34, X4)),
    "addr": (lambda t, x, a, b: [t.addr(x, a, b), x.addr(a, b, alpha=-1), t.addr(x[0], a, b, beta=2)], (X34, X3, X4)),
    "addbmm": (lambda t, x, a, b: [t.addbmm(x, a, b), x.addbmm(a, b, beta=0.5, alpha=3)],
               (_normal(3, 5), X234, _normal(2, 4, 5))),
    "matrix_power": (lambda t, x: [t.matrix_power(x, 1), x.matrix_power(2), x.matrix_power(5)], (X33 / 2,)),
    "matrix_power_batched": (lambda t, x: [x.matrix_power(3), t.matrix_power(x, 4)], (X233 / 2,)),
    "matrix_power_zero": (lambda t, x: x.matrix_power(0) * x, (X233,)),
    # zero-size shapes
    "empty_rearranging": (lambda t, x: [x.movedim(0, 1), x.diagonal(), x.diag_embed(), x.take(x.long().ravel()),
                                        x.tile(2), x.rot90(), x.unfold(1, 2, 1), x.unflatten(1, (2, 2))], (E04,)),
    "empty_splits_and_products": (lambda t, x, v: [x.tensor_split(2, 1), t.hstack([x, x]), t.kron(x, x), x.diff(),
                                                   t.inner(x, x), t.mv(x, x.new_zeros(4)),
                                                   t.vdot(v, v), t.tensordot(x, x, ([0], [0]))], (E04, E0)),
    "empty_index_writes": (lambda t, x, s, i: [x.index_add(0, i, s), x.index_copy(0, i, s), x.index_fill(1, i, 3.0),
                                               x.take(i)], (X34, np.zeros((0, 4)), np.zeros(0, dtype=np.int64))),
}


NO_TORCH_GRADIENT = {"narrow_copy_negative_start"}   # values compared in test_values_where_torch_has_no_gradient
test_same_as_torch, test_gradcheck = case_tests(CASES, not_in_torch=NO_TORCH_GRADIENT)


@pytest.mark.parametrize("name", sorted(NO_TORCH_GRADIENT))
def test_values_where_torch_has_no_gradient(name: str, torch: Any) -> None:
    fn, arrays = CASES[name]
    ours, theirs = fn(mg, *(mg.tensor(a) for a in arrays)), fn(torch, *(torch.from_numpy(a) for a in arrays))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


# --- integer and bool tensors: PyTorch's result dtypes -------------------------------------------------

INTEGER_CASES: dict[str, Callable] = {
    "trace": lambda t, x: x[:, :3].trace(),
    "diff": lambda t, x: [x.diff(), t.diff(x > 4), (x > 4).diff(dim=0)],
    "cross": lambda t, x: t.cross(x[:, :3], x[:, 1:], dim=1),
    "matrix_power": lambda t, x: [x[:, :3].matrix_power(3), x[:, :3].matrix_power(0)],
    "index_add": lambda t, x: [x.index_add(1, t.tensor([0, 0]), x[:, :2], alpha=3), x.index_add(0, t.tensor([2]),
                                                                                               x[:1], alpha=-2.0),
                               (x > 4).index_add(
        0, t.tensor([1]), (x > 8)[:1])],
    "index_fill": lambda t, x: [x.index_fill(1, t.tensor([1]), 2.7), x.index_fill(0, t.tensor([0]), True)],
    "kron": lambda t, x: t.kron(x, x[:2]),
    "take": lambda t, x: [x.take(t.tensor([3, 3])), (x > 2).take_along_dim(t.tensor([[1]]), 0)],
    "diagonal_and_stacks": lambda t, x: [x.diagonal(1), t.hstack([x, x]), x.diag_embed(), x.unfold(0, 2, 1)],
    "products": lambda t, x: [t.mv(x, x[0]), t.inner(x, x), t.tensordot(x, x.t(), 1),
                              t.addmv(x[:, 0], x, x[0], alpha=2)],
}


@pytest.mark.parametrize("dtype", ["int64", "int32"])
@pytest.mark.parametrize("name", sorted(INTEGER_CASES))
def test_integer_dtypes_as_torch(name: str, dtype: str, torch: Any) -> None:
    fn = INTEGER_CASES[name]
    ours = flat_outputs(fn(mg, mg.tensor(I34.astype(dtype))))
    theirs = flat_outputs(fn(torch, torch.from_numpy(I34.astype(dtype))))
    for k, (a, b) in enumerate(zip(ours, theirs)):
        assert a.dtype == b.numpy().dtype, f"{name} output {k}: {a.dtype} != {b.dtype}"
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=f"{name} output {k}")


def test_trace_of_bool_refused_as_torch(torch: Any) -> None:
    with pytest.raises(NotImplementedError):
        torch.ones(2, 2, dtype=torch.bool).trace()
    with pytest.raises(TypeError, match="trace"):
        mg.ones(2, 2, dtype=mg.bool_).trace()


# --- random shapes and dims (Hypothesis) ---------------------------------------------------------------

DRAWN_CASES: dict[str, Callable] = {
    "movedim": lambda t, x, d, k: x.movedim(d[0], d[1]),
    "select": lambda t, x, d, k: x.select(d[0], -1 if k else 0),
    "tile": lambda t, x, d, k: x.tile((2, 1) if k else (3,)),
    "diagonal": lambda t, x, d, k: x.diagonal(1 if k else -1, d[0], d[1]) if d[0] % x.ndim != d[1] % x.ndim else x,
    "diag_embed": lambda t, x, d, k: x.diag_embed(-1 if k else 0, d[0], d[0] - 1),
    "unfold": lambda t, x, d, k: x.unfold(d[0], (x.shape[d[0]] + 1) // 2, 1 if k else 2),
    "take_along_dim": lambda t, x, d, k: x.take_along_dim(x.argsort(d[1], descending=k), d[1]),
    "tensor_split": lambda t, x, d, k: x.tensor_split(3 if k else [1, -1], d[0]),
    "diff": lambda t, x, d, k: x.diff(2 if k else 1, d[0]),
    "rot90": lambda t, x, d, k: x.rot90(3 if k else 1, d) if x.ndim > 1 and d[0] % x.ndim != d[1] % x.ndim else x,
    "index_add": lambda t, x, d, k: x.index_add(d[0], t.zeros(3, dtype=t.int64), x.narrow(d[0], 0, 1).repeat_interleave(
        3, d[0])),
    "tensordot": lambda t, x, d, k: t.tensordot(x, x, ([d[0]], [d[0]])),
    "kron": lambda t, x, d, k: t.kron(x, x.select(d[0], 0)),
}


test_drawn_shapes_same_as_torch = drawn_case_tests(DRAWN_CASES)


# --- PyTorch's other spellings --------------------------------------------------------------------------

def test_cross_without_dim_takes_the_first_dim_of_size_3_and_warns(torch: Any) -> None:
    a, b = _normal(4, 3, 3), _normal(4, 3, 3)
    with pytest.warns(UserWarning, match="cross"):
        ours = mg.cross(mg.tensor(a), mg.tensor(b))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch.cross(torch.from_numpy(a), torch.from_numpy(b))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="cross: no dim of size 3"), pytest.warns(UserWarning):
        mg.tensor(_normal(2, 4)).cross(mg.tensor(_normal(2, 4)))


def test_methods_and_functions_as_torch_has_them(torch: Any) -> None:
    from minigrad.ops import arrange  # noqa: PLC0415 - the module's own tables

    for name in arrange.__all__:
        assert hasattr(mg, name), name
        assert hasattr(torch, name) or hasattr(torch.linalg, name.removeprefix("linalg_")), name
    for name in arrange.METHODS:
        assert hasattr(mg.Tensor, name) and hasattr(torch.Tensor, name), name
    assert mg.moveaxis is mg.movedim and mg.row_stack is mg.vstack


def test_splits_return_tuples_of_views_sharing_one_node() -> None:
    x = mg.tensor(X234, requires_grad=True)
    parts = x.tensor_split([1, 3], dim=2)
    assert type(parts) is tuple and len({id(p._node) for p in parts}) == 1
    assert all(np.shares_memory(p.data, x.data) for p in parts)
    assert type(mg.hsplit(x, [1])) is tuple and type(x.split_with_sizes([1, 2], 1)) is tuple


def test_select_is_a_view_while_narrow_copy_and_matrix_power_copy() -> None:
    x = mg.tensor(X34)
    assert np.shares_memory(x.select(1, 2).data, x.data)
    assert not np.shares_memory(x.narrow_copy(1, 0, 2).data, x.data)
    square = mg.tensor(X33)
    assert square.matrix_power(1) is not square and not np.shares_memory(square.matrix_power(1).data, square.data)


def test_split_with_sizes_of_an_empty_dim_into_no_parts(torch: Any) -> None:
    assert mg.zeros(0).split_with_sizes([]) == () == torch.zeros(0).split_with_sizes([])


def test_index_ops_replay_each_calls_indices_under_compile() -> None:
    """Masks and index tensors are arguments (data): a compiled call uses each call's, without running eagerly."""
    def step(x: mg.Tensor, mask: mg.Tensor, index: mg.Tensor, rows: mg.Tensor) -> mg.Tensor:
        return (x.masked_scatter(mask, x * 10).sum() + x.take(index).sum() + x.index_add(0, rows, x[:2]).sum()
                + x.take_along_dim(index.reshape(1, -1) % 3 - 1, 1).sum() + x.take_along_dim(index).sum()
                + x.index_copy(1, rows[:1] % 3, x[:, :1]).sum())

    compiled = mg.compile(step)
    x = mg.tensor(np.arange(12.0).reshape(4, 3), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", mg.CompileWarning)
        for k in range(5):
            rng = np.random.default_rng(k)
            args = (mg.tensor(rng.random((4, 3)) > 0.5), mg.tensor(rng.integers(0, 12, 5)),
                    mg.tensor(rng.integers(0, 4, 2)))
            x.grad = None
            out = compiled(x, *args)
            out.backward()
            replayed = x.grad.numpy().copy()
            x.grad = None
            eager = step(x, *args)
            eager.backward()
            assert out.item() == eager.item() and (replayed == x.grad.numpy()).all(), k


# --- in place ------------------------------------------------------------------------------------------

IN_PLACE: dict[str, Callable] = {   # indices and masks on x's device (a GPU run too)
    "index_add_": lambda t, x, s: x.index_add_(1, t.tensor([0, 3, 0], device=x.device), s, alpha=2),
    "index_copy_": lambda t, x, s: x.index_copy_(1, t.tensor([2, 0, 1], device=x.device), s),
    "index_fill_": lambda t, x, s: x.index_fill_(0, t.tensor([2, 0], device=x.device), s[0, 0]),
    "masked_scatter_": lambda t, x, s: x.masked_scatter_(t.tensor([[True, False, True, True]], device=x.device), s),
}


@pytest.mark.parametrize("name", sorted(IN_PLACE))
def test_in_place_keeps_the_object_bumps_the_version_and_records_the_gradient(name: str, torch: Any) -> None:
    fn, s = IN_PLACE[name], _normal(3, 3)
    x = mg.tensor(X34)
    version = x._version
    assert fn(mg, x, mg.tensor(s)) is x and x._version > version
    tx = torch.from_numpy(X34.copy())
    fn(torch, tx, torch.from_numpy(s))
    np.testing.assert_allclose(x.numpy(), tx.numpy(), rtol=1e-12)
    # on a non-leaf: recorded, gradients to the leaf and to the source as PyTorch's
    leaf, source = mg.tensor(X34, requires_grad=True), mg.tensor(s, requires_grad=True)
    y = leaf * 2
    fn(mg, y, source)
    weights = _normal(3, 4)
    (y * mg.tensor(weights)).sum().backward()
    t_leaf, t_source = torch.tensor(X34, requires_grad=True), torch.tensor(s, requires_grad=True)
    t_y = t_leaf * 2
    fn(torch, t_y, t_source)
    (t_y * torch.from_numpy(weights)).sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), t_leaf.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(source.grad.numpy(), t_source.grad.numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match="leaf"):
        fn(mg, mg.tensor(X34, requires_grad=True), mg.tensor(s))


def test_masked_scatter_in_place_does_not_grow_the_tensor() -> None:
    with pytest.raises(RuntimeError, match="masked_scatter_"):
        mg.tensor(X34[:1]).masked_scatter_(mg.ones(3, 4, dtype=mg.bool_), mg.tensor(_normal(12)))


# --- bad arguments: errors that name the op and the shapes ---------------------------------------------

x34, x234, s0 = mg.tensor(X34), mg.tensor(X234), mg.tensor(S)
ERRORS: list[tuple[Callable, type, str]] = [
    (lambda: x234.movedim((0, 0), (1, 2)), ValueError, r"movedim: repeated dim in source \[0, 0\]"),
    (lambda: x234.movedim((0, 1), 1), ValueError, "movedim: source .* same number"),
    (lambda: x234.movedim(3, 0), IndexError, "movedim: axis 3 is out of range"),
    (lambda: s0.select(0, 0), IndexError, "select: cannot be applied to a 0-d"),
    (lambda: x34.select(1, 4), IndexError, r"select: index 4 is out of range for dim 1 of size 4 \(shape \(3, 4\)\)"),
    (lambda: x34.select(1, 1.0), TypeError, "select: index must be an int"),
    (lambda: x34.tile(-1, 2), ValueError, r"tile: counts must be non-negative, got \[-1, 2\] \(shape \(3, 4\)\)"),
    (lambda: x34.unflatten(1, (3, -1)), ValueError, r"unflatten: sizes \[3, -1\] .* size 4 of dim 1 \(shape \(3, 4\)"),
    (lambda: x34.unflatten(1, ()), ValueError, "unflatten: sizes"),
    (lambda: x34.unflatten(1, (-1, -1)), ValueError, "unflatten: sizes"),
    (lambda: s0.unflatten(0, (1,)), IndexError, "unflatten: a 0-d tensor"),
    (lambda: x34.diagonal(0, 0, 0), ValueError, "diagonal: the two dims must differ"),
    (lambda: x34.diagonal(0, 0, 2), IndexError, "diagonal: axis 2 is out of range"),
    (lambda: x34[0].diagonal(), IndexError, r"diagonal: expects .* at least 2 dims, got shape \(4,\)"),
    (lambda: x34.diagonal(1.5), TypeError, "diagonal: offset must be an int"),
    (lambda: s0.diag_embed(), IndexError, "diag_embed: expects a tensor with at least 1 dim"),
    (lambda: x34.diag_embed(0, 0, -3), ValueError, "diag_embed: the two dims must differ"),
    (lambda: x234.trace(), ValueError, r"trace: expects a 2-D tensor .* shape \(2, 3, 4\)"),
    (lambda: x34.take(mg.tensor([12])), IndexError, r"take: index 12 is out of range for a tensor of shape \(3, 4\)"),
    (lambda: x34.take(mg.tensor([-13])), IndexError, "take: index -13"),
    (lambda: x34.take(mg.tensor([0.0])), TypeError, "take: index must be an integer tensor, got dtype float"),
    (lambda: x34.take_along_dim(mg.tensor([0]), 1), ValueError, r"take_along_dim: .* shapes \(3, 4\) and \(1,\)"),
    (lambda: x34.take_along_dim(mg.tensor([[4]]), 1), IndexError, "take_along_dim: index 4 is out of range for dim 1"),
    (lambda: x34.take_along_dim(mg.tensor([[-1]])), IndexError, "take_along_dim: index -1"),
    (lambda: x34.take_along_dim(mg.tensor([[0], [1]]), 1), ValueError, "take_along_dim: shapes .* do not broadcast"),
    (lambda: x34.index_add(1, mg.tensor([-1, 0]), mg.tensor(_normal(3, 2))), IndexError, "index_add: index -1"),
    (lambda: x34.index_add(1, mg.tensor([4]), mg.tensor(_normal(3, 1))), IndexError,
     r"index_add: index 4 is out of range for dim 1 \(shape \(3, 4\)\) of size 4"),
    (lambda: x34.index_add(1, mg.tensor([[1, 0]]), mg.tensor(_normal(3, 2))), ValueError,
     r"index_add: index must be a vector .* shape \(1, 2\)"),
    (lambda: x34.index_add(1, mg.tensor([1, 0]), mg.tensor(_normal(2, 2))), ValueError,
     r"index_add: source of shape \(2, 2\) must have the shape \(3, 2\)"),
    (lambda: x34.index_add(1, mg.tensor([1]), mg.tensor(_normal(3, 1)).float()), TypeError,
     "index_add: the tensor .float64. and source .float32. must have the same dtype"),
    (lambda: mg.tensor(I34).index_add(1, mg.tensor([1]), mg.tensor(I34[:, :1]), alpha=[2]), TypeError,
     r"index_add"),   # a float alpha on integers truncates as PyTorch's (test_fuzz_ints_round19)
    (lambda: x34.index_copy(0, mg.tensor([0.5]), x34[:1]), TypeError, "index_copy: index must be an integer"),
    (lambda: x34.index_fill(1, mg.tensor([4]), 1.0), IndexError, "index_fill: index 4"),
    (lambda: x34.index_fill(1, mg.tensor([1]), mg.tensor([1.0])), ValueError, "index_fill: value must be .* 0-d"),
    (lambda: x34.index_fill(1, mg.tensor([1]), "a"), TypeError, "index_fill: value must be a number"),
    (lambda: x34.masked_scatter(mg.tensor(MASK), mg.tensor(_normal(8))), ValueError,
     "masked_scatter: the mask has 9 True elements but source has only 8"),
    (lambda: x34.masked_scatter(mg.tensor(MASK.astype(np.uint8)), x34), TypeError,
     "masked_scatter: mask must be a bool tensor, got dtype uint8"),
    (lambda: x34.masked_scatter(mg.tensor(MASK), x34.float()), TypeError, "masked_scatter: .* same dtype"),
    (lambda: x34.masked_scatter(mg.ones(2, 4, dtype=mg.bool_), x34), ValueError,
     r"masked_scatter: mask of shape \(2, 4\) does not broadcast with shape \(3, 4\)"),
    (lambda: x34.rot90(1, (0, 1, 1)), ValueError, "rot90: dims must be two dims"),
    (lambda: x34.rot90(1, (1, -1)), ValueError, "rot90: the two dims must differ"),
    (lambda: x34[0].rot90(), ValueError, r"rot90: .* at least 2 dims, got shape \(4,\)"),
    (lambda: x34[0].fliplr(), ValueError, r"fliplr: .* shape \(4,\)"),
    (lambda: s0.flipud(), ValueError, "flipud: .* at least 1 dim"),
    (lambda: x34.narrow_copy(1, 3, 2), IndexError, "narrow_copy: start 3 and length 2 do not fit dim 1 of size 4"),
    (lambda: x34.unfold(1, 5, 1), ValueError, r"unfold: size 5 must be in 0..4, the size of dim 1 \(shape \(3, 4\)\)"),
    (lambda: x34.unfold(1, 2, 0), ValueError, "unfold: step must be positive"),
    (lambda: x34.unfold(2, 2, 1), IndexError, "unfold: axis 2 is out of range"),
    (lambda: mg.hstack([]), ValueError, "hstack: expects a non-empty list"),
    (lambda: mg.vstack(x34), TypeError, "vstack: expected a list or tuple of tensors"),
    (lambda: mg.column_stack([x34, x234[0, :2]]), ValueError, "concat"),
    (lambda: s0.tensor_split(1), IndexError, "tensor_split: expects a tensor with at least 1 dim"),
    (lambda: x34.tensor_split(0), ValueError, "tensor_split: the number of sections must be positive, got 0"),
    (lambda: x34.tensor_split(mg.tensor([0.5])), TypeError, "tensor_split: a tensor of sections"),
    (lambda: x34.tensor_split(1.5), TypeError, "tensor_split: sections .* must be an int"),
    (lambda: x34.hsplit(3), ValueError, r"hsplit: dim 1 of size 4 does not divide into 3 equal parts \(shape \(3, 4\)"),
    (lambda: x34[0].vsplit(2), ValueError, r"vsplit: expects a tensor with at least 2 dims, got shape \(4,\)"),
    (lambda: x34.dsplit(2), ValueError, "dsplit: expects a tensor with at least 3 dims"),
    (lambda: s0.hsplit(1), ValueError, "hsplit: expects a tensor with at least 1 dims"),
    (lambda: x34.split_with_sizes([1, 2], 1), ValueError,
     r"split_with_sizes: split_sizes \[1, 2\] .* sum exactly to the size 4 of dim 1 \(shape \(3, 4\)\)"),
    (lambda: x34.split_with_sizes([5, -1], 1), ValueError, "split_with_sizes: split_sizes .* non-negative"),
    (lambda: mg.mv(x34, mg.tensor(X3)), ValueError, r"mv: expects .* got shapes \(3, 4\) and \(3,\)"),
    (lambda: mg.mv(mg.tensor(X4), mg.tensor(X4)), ValueError, "mv: expects a matrix"),
    (lambda: mg.vdot(x34, x34), ValueError, r"vdot: expects two 1-D tensors .* \(3, 4\) and \(3, 4\)"),
    (lambda: mg.inner(x34, mg.tensor(X3)), ValueError, r"inner: expects the same size in the last dim, got shapes"),
    (lambda: mg.tensordot(x34, mg.tensor(X4), -1), ValueError, "tensordot: dims must be in 0..1"),
    (lambda: mg.tensordot(x34, mg.tensor(X4), 2), ValueError, r"tensordot: dims must be in 0..1 for shapes \(3, 4\)"),
    (lambda: mg.tensordot(x234, x234, ([1], [0])), ValueError,
     r"tensordot: contracted dims need the same size, but dim 1 of shape \(2, 3, 4\) has 3 and dim 0"),
    (lambda: mg.tensordot(x234, x234, ([1, 1], [1, 2])), ValueError, "tensordot: a dim appears more than once"),
    (lambda: mg.tensordot(x234, x234, ([1, 2], [1])), ValueError, "tensordot: the two lists of dims must have"),
    (lambda: mg.tensordot(x234, x234, 1.5), TypeError, "tensordot: dims must be an int"),
    (lambda: mg.cross(x34, x34, dim=1), ValueError, r"cross: expects length 3 in dim 1 .* \(3, 4\) and \(3, 4\)"),
    (lambda: mg.cross(mg.tensor(X33), mg.tensor(X3), dim=-1), ValueError, "cross: expects inputs with the same number"),
    (lambda: mg.cross(mg.tensor(X33), mg.tensor(X33[:1]), dim=0), ValueError, "cross: expects length 3 in dim 0"),
    (lambda: mg.linalg_cross(x34, x34), ValueError, "linalg.cross: expects length 3 in dim -1"),
    (lambda: mg.diff(s0), ValueError, "diff expects input to be at least one-dimensional"),
    (lambda: x34.diff(-1), ValueError, "diff: the order n must be non-negative, got -1"),
    (lambda: x34.diff(prepend=1.0), TypeError, "diff: prepend must be a Tensor"),
    (lambda: x34.diff(dim=0, prepend=mg.zeros(3, 1, dtype=mg.float64)), ValueError,
     r"diff: prepend of shape \(3, 1\) must have the shape \(3, 4\) of the input outside dim 0"),
    (lambda: x34.diff(append=mg.tensor(1.0)), ValueError, "diff: append of shape"),
    (lambda: mg.addmv(mg.tensor(X4), x34, mg.tensor(X4)), ValueError,
     r"addmv: input of shape \(4,\) does not broadcast to the product's shape \(3,\)"),
    (lambda: mg.addr(mg.tensor(I34), mg.tensor(I34[0, :3]), mg.tensor(I34[0]), alpha=0.5), TypeError,
     "addr: for integer tensors alpha must be an int"),
    (lambda: mg.addbmm(x34, x234, mg.tensor(_normal(3, 4, 5))), ValueError,
     r"addbmm: expects \(B, n, k\) and \(B, k, m\) with the same B and k, got shapes \(2, 3, 4\) and \(3, 4, 5\)"),
    (lambda: x34.matrix_power(2), ValueError, r"matrix_power: expects square matrices .* shape \(3, 4\)"),
    (lambda: mg.tensor(I34[:3, :3]).matrix_power(-1), TypeError, "matrix_power: a negative power inverts x"),
    (lambda: mg.tensor(X33).matrix_power(2.0), TypeError, "matrix_power: n must be an int"),
]


@pytest.mark.parametrize("case", range(len(ERRORS)))
def test_bad_arguments_raise_errors_naming_the_op(case: int) -> None:
    fn, kind, pattern = ERRORS[case]
    with pytest.raises(kind, match=pattern):
        fn()


# --- on the GPU (a real one, or the strict CuPy stand-in of tests/conftest.py) -------------------------

test_same_on_gpu_as_on_cpu = gpu_case_tests(CASES)


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(IN_PLACE))
def test_in_place_on_gpu_as_on_cpu(name: str) -> None:
    fn, s = IN_PLACE[name], _normal(3, 3)
    results = []
    for device in ("cpu", "cuda"):
        x = mg.tensor(X34, device=device)
        fn(mg, x, mg.tensor(s, device=device))
        results.append(x.numpy())
    np.testing.assert_allclose(results[1], results[0], rtol=1e-12)
