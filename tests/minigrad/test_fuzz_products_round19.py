"""Products and contractions against torch: the cases a differential fuzzer found (round 19).

Each case runs the same call on torch and on minigrad and compares values, dtypes, shapes and layout, or the
class of the error both raise (never a hard-coded outcome)."""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")

rng = np.random.default_rng(19)


def _np(t: Any) -> np.ndarray:
    return np.asarray(t.detach().resolve_conj().numpy() if isinstance(t, torch.Tensor) else t.numpy())


def _array(shape: tuple, dtype: str) -> np.ndarray:
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype.startswith("int"):
        return rng.integers(-4, 5, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _same(call: Callable, *arrays: np.ndarray) -> tuple:
    """call(lib, *tensors) on both libraries: the same shape, dtype and values; returns (torch's, minigrad's)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = call(torch, *[torch.tensor(a) for a in arrays])
        m = call(mg, *[mg.tensor(a) for a in arrays])
    assert tuple(t.shape) == tuple(m.shape) and str(t.dtype).replace("torch.", "") == str(m.dtype)
    np.testing.assert_allclose(_np(m), _np(t), rtol=1e-6, atol=1e-9)
    return t, m


def _same_error(call: Callable, *arrays: np.ndarray) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # chain_matmul's deprecation
        with pytest.raises(Exception) as theirs:
            call(torch, *[torch.tensor(a) for a in arrays])
        expected = RuntimeError if isinstance(theirs.value, RuntimeError) else type(theirs.value)
        with pytest.raises(expected):
            call(mg, *[mg.tensor(a) for a in arrays])


# --- einsum of an integer operand with a floating one promotes (it cast the floats to int64: 0.5 became 0) ---------

@pytest.mark.parametrize("equation, shapes, dtypes", [   # PyTorch sums the float operand alone, then multiplies
    ("i,ij->i", [(2,), (2, 3)], ["int32", "float64"]),
    ("ij,i->i", [(2, 3), (2,)], ["float64", "int32"]),
    ("i,ij->i", [(3,), (3, 2)], ["bool", "float32"]),
    ("i,ij->i", [(3,), (3, 2)], ["int64", "complex128"]),
    (",cae->", [(), (2, 3, 4)], ["int32", "float64"]),
])
def test_einsum_integer_beside_float_promotes(equation: str, shapes: list, dtypes: list) -> None:
    arrays = [_array(s, d) if d[0] in "bi" else (_array(s, "float64") + (0.25j if d[0] == "c" else 0.25)).astype(d)
              for s, d in zip(shapes, dtypes)]
    _same(lambda lib, *ts: lib.einsum(equation, *ts), *arrays)


# --- bool products with an empty operand: PyTorch returns (all False) before it looks for a bool kernel ---------

@pytest.mark.parametrize("call, shapes", [
    (lambda lib, a, b: lib.matmul(a, b), [(2, 3), (3, 0)]),
    (lambda lib, a, b: a @ b, [(3, 0), (0, 4)]),
    (lambda lib, a, b: lib.matmul(a, b), [(3, 0), (0,)]),
    (lambda lib, a, b: lib.matmul(a, b), [(0,), (2, 0, 3)]),
    (lambda lib, a, b: lib.matmul(a, b), [(3,), (3, 3, 0)]),
    (lambda lib, a, b: lib.mm(a, b), [(0, 2), (2, 4)]),
    (lambda lib, a, b: lib.bmm(a, b), [(2, 4, 0), (2, 0, 3)]),
    (lambda lib, a, b: lib.mv(a, b), [(2, 0), (0,)]),
    (lambda lib, a, b: lib.tensordot(a, b, 0), [(0, 3), (2, 1, 3)]),
    (lambda lib, a, b: lib.linalg.multi_dot([a, b, a]), [(2, 0), (0, 2)]),
    (lambda lib, x, a, b: lib.addmm(x, a, b, beta=True, alpha=True), [(3, 4), (3, 0), (0, 4)]),
    (lambda lib, x, a, b: lib.addmv(x, a, b), [(3,), (3, 0), (0,)]),
    (lambda lib, x, a, b: lib.baddbmm(x, a, b, beta=False), [(2, 3, 4), (2, 3, 0), (2, 0, 4)]),
])
def test_bool_product_with_an_empty_operand(call: Callable, shapes: list) -> None:
    _same(call, *[_array(s, "bool") for s in shapes])


@pytest.mark.parametrize("call, shapes", [
    (lambda lib, a, b: lib.matmul(a, b), [(0,), (0,)]),   # a dot product: PyTorch has no bool kernel even empty
    (lambda lib, a, b: lib.matmul(a, b), [(2, 3), (3,)]),
    (lambda lib, a, b: lib.mm(a, b), [(2, 3), (3, 2)]),
])
def test_bool_product_still_refused(call: Callable, shapes: list) -> None:
    _same_error(call, *[_array(s, "bool") for s in shapes])


# --- addr: a bool beta/alpha needs bool tensors; a float one with integer tensors is PyTorch's RuntimeError --------

@pytest.mark.parametrize("dtype, kwargs", [
    ("float64", {"alpha": True}), ("float32", {"beta": False}), ("int64", {"beta": True}),
    ("int64", {"beta": 1.5}), ("int32", {"alpha": 0.5}), ("bool", {"beta": 0.5}),
])
def test_addr_scalar_refusals(dtype: str, kwargs: dict) -> None:
    _same_error(lambda lib, x, a, b: lib.addr(x, a, b, **kwargs), _array((3, 2), dtype), _array((3,), dtype),
                _array((2,), dtype))


@pytest.mark.parametrize("dtype, kwargs", [("bool", {"alpha": True, "beta": False}), ("float64", {"alpha": 2})])
def test_addr_scalars_it_takes(dtype: str, kwargs: dict) -> None:
    _same(lambda lib, x, a, b: lib.addr(x, a, b, **kwargs), _array((3, 2), dtype), _array((3,), dtype),
          _array((2,), dtype))


# --- cdist's result is C-ordered whatever its inputs' layout, as PyTorch's --------------------------------------

@pytest.mark.parametrize("p", [0.0, 1.0, 1.5, 2.0, float("inf")])
@pytest.mark.parametrize("shapes", [[(3, 2), (4, 3)], [(2, 4, 3), (3, 4)]])
def test_cdist_result_is_contiguous(p: float, shapes: list) -> None:
    a, b = _array(shapes[0], "float64"), _array(shapes[1], "float64")
    t, m = _same(lambda lib, x, y: lib.cdist(x.transpose(-1, -2), y, p=p), a, b)
    assert t.is_contiguous() and m.is_contiguous() and m.stride() == t.stride()
    assert m.view(-1).shape == (m.numel(),)


# --- linalg.vecdot of two vectors of different lengths: PyTorch's dot, no broadcasting ---------------------------

@pytest.mark.parametrize("shapes", [[(3,), (1,)], [(1,), (3,)]])
def test_vecdot_vectors_of_different_lengths(shapes: list) -> None:
    _same_error(lambda lib, x, y: lib.linalg.vecdot(x, y), *[_array(s, "float64") for s in shapes])


@pytest.mark.parametrize("shapes", [[(2, 3), (2, 1)], [(2, 3), (1,)], [(2, 1), (3,)]])
def test_vecdot_batches_still_broadcast(shapes: list) -> None:
    _same(lambda lib, x, y: lib.linalg.vecdot(x, y), *[_array(s, "float64") for s in shapes])


# --- F.bilinear of integer tensors: PyTorch's kernel computes them (wrapping in the dtype); bools only empty ------

@pytest.mark.parametrize("dtype", ["int8", "int32", "int64"])
@pytest.mark.parametrize("bias", [False, True])
def test_bilinear_integer_tensors(dtype: str, bias: bool) -> None:
    import nn

    functional = {torch: torch.nn.functional, mg: nn.functional}
    shapes = [(4, 2), (4, 3), (5, 2, 3)] + [(5,)] * bias
    arrays = [_array(s, dtype) * (50 if dtype == "int8" else 1) for s in shapes]   # int8 wraps around
    _same(lambda lib, *ts: functional[lib].bilinear(*ts), *[a.astype(dtype) for a in arrays])


def test_bilinear_bool_tensors() -> None:
    import nn

    functional = {torch: torch.nn.functional, mg: nn.functional}
    _same(lambda lib, *ts: functional[lib].bilinear(*ts), *[_array(s, "bool") for s in [(0, 3), (0, 2), (4, 3, 2)]])
    _same_error(lambda lib, *ts: functional[lib].bilinear(*ts), *[_array(s, "bool") for s in [(2, 3), (2, 2),
                                                                                                (4, 3, 2)]])


# --- tensordot's dims as two ints ([1, 0]) is PyTorch's TypeError, not ([1], [0]); cdist refuses compute_mode=None -

@pytest.mark.parametrize("dims", [[1, 0], ([1], 0), (1, [0])])
def test_tensordot_dims_pairs_need_lists(dims: Any) -> None:
    _same_error(lambda lib, a, b: lib.tensordot(a, b, dims=dims), _array((2, 3), "float64"), _array((3, 2), "float64"))


@pytest.mark.parametrize("dims", [([1], [0]), [[1], [0]], ((1,), (0,)), "tensor"])
def test_tensordot_dims_lists_still_taken(dims: Any) -> None:
    _same(lambda lib, a, b: lib.tensordot(a, b, dims=lib.tensor([[1], [0]]) if dims == "tensor" else dims),
          _array((2, 3), "float64"), _array((3, 2), "float64"))


def test_cdist_compute_mode_none_refused() -> None:
    _same_error(lambda lib, a, b: lib.cdist(a, b, compute_mode=None), _array((2, 3), "float64"),
                _array((4, 3), "float64"))
    _same(lambda lib, a, b: lib.cdist(a, b, 2.0, "use_mm_for_euclid_dist_if_necessary"), _array((2, 3), "float64"),
          _array((4, 3), "float64"))


# --- integer einsum: PyTorch sums (to int64) an index that only one operand has at a size other than 1; a bool
# --- einsum over indices of size 1 only squeezes them (no bmm) -----------------------------------------------------

@pytest.mark.parametrize("equation, shapes, dtype", [
    ("...,...,e,...a->e", [(1, 1), (1, 3), (2,), (1,)], "int32"),
    ("ab,b->a", [(2, 3), (1,)], "int32"),
    ("ab,b->a", [(2, 1), (3,)], "int16"),
    ("ab,cb->a", [(2, 3), (1, 3)], "int32"),
    ("Bc...,Bc...->", [(1, 1), (1, 1)], "bool"),
    (",a,->", [(), (1,), ()], "bool"),
    ("cCe,Bea", [(1, 2, 1), (1, 1, 2)], "bool"),
])
def test_einsum_integer_and_bool_sizes_of_one(equation: str, shapes: list, dtype: str) -> None:
    _same(lambda lib, *ts: lib.einsum(equation, *ts), *[_array(s, dtype) for s in shapes])


def test_einsum_bool_contraction_still_refused() -> None:
    _same_error(lambda lib, a, b: lib.einsum("ij,jk->ik", a, b), _array((2, 3), "bool"), _array((3, 2), "bool"))


# --- error classes: as PyTorch's (a RuntimeError where PyTorch raises one, a TypeError for a number) -------------

@pytest.mark.parametrize("call", [
    lambda lib, a: lib.einsum("i...j...->", a),              # two ellipses in one operand
    lambda lib, a: lib.einsum("...ij->......", a),
    lambda lib, a: lib.tensordot(a, a.T, ([1, 0], [0])),     # lists of different lengths
    lambda lib, a: lib.tensordot(a, a.T, 1.0),               # a float dims
    lambda lib, a: lib.chain_matmul(),
    lambda lib, a: lib.matmul(a[0], a.sum()),                # a 0-d operand: RuntimeError
    lambda lib, a: a @ 2,                                    # a Python number: TypeError
    lambda lib, a: 2.5 @ a,
    lambda lib, a: lib.matmul(a, 2),
])
def test_product_error_classes(call: Callable) -> None:
    _same_error(call, _array((2, 3), "float64"))


def test_tensordot_bool_dims_is_an_int() -> None:   # PyTorch's isinstance(dims, int) takes True as 1
    _same(lambda lib, a, b: lib.tensordot(a, b, True), _array((2, 3), "float64"), _array((3, 2), "float64"))


# --- the same fixes on a GPU (the strict CuPy stand-in without one): values as on the CPU -------------------------

@pytest.mark.gpu
@pytest.mark.parametrize("call, shapes, dtypes", [
    (lambda lib, a, b: lib.cdist(a.transpose(-1, -2), b, p=1.5), [(3, 2), (4, 3)], ["float64", "float64"]),
    (lambda lib, a, b: lib.einsum("i,ij->i", a, b), [(2,), (2, 3)], ["int32", "float64"]),
    (lambda lib, a, b: lib.einsum("ab,b->a", a, b), [(2, 3), (1,)], ["int32", "int32"]),
    (lambda lib, a, b: lib.matmul(a, b), [(3, 0), (0, 4)], ["bool", "bool"]),
    (lambda lib, x, a, b: lib.addr(x, a, b, beta=True, alpha=False), [(3, 2), (3,), (2,)], ["bool"] * 3),
    (lambda lib, a, b: lib.tensordot(a, b, ([1], [0])), [(2, 3), (3, 2)], ["float64", "float64"]),
])
def test_fixed_products_on_a_gpu(call: Callable, shapes: list, dtypes: list) -> None:
    arrays = [_array(s, d) for s, d in zip(shapes, dtypes)]
    cpu = call(mg, *[mg.tensor(a) for a in arrays])
    gpu = call(mg, *[mg.tensor(a, device="cuda") for a in arrays])
    assert gpu.device.type == "cuda" and gpu.dtype == cpu.dtype and gpu.shape == cpu.shape
    np.testing.assert_allclose(gpu.cpu().numpy(), cpu.numpy(), rtol=1e-12)
    assert gpu.is_contiguous() == cpu.is_contiguous()


@pytest.mark.gpu
def test_bilinear_integer_on_a_gpu() -> None:
    import nn

    arrays = [_array(s, "int32") for s in [(4, 2), (4, 3), (5, 2, 3), (5,)]]
    cpu = nn.functional.bilinear(*[mg.tensor(a) for a in arrays])
    gpu = nn.functional.bilinear(*[mg.tensor(a, device="cuda") for a in arrays])
    assert gpu.dtype == cpu.dtype and np.array_equal(gpu.cpu().numpy(), cpu.numpy())


# --- einsum's sublist form takes any integer subscript (NumPy's, True as 1), a TypeError for others ---------------

@pytest.mark.parametrize("sublist", [[np.int64(0), np.int64(1)], [0, True], (np.int32(27), 3)])
def test_einsum_sublist_integer_kinds(sublist: list) -> None:
    _same(lambda lib, a: lib.einsum(a, sublist), _array((2, 3), "float64"))


@pytest.mark.parametrize("sublist", [[0.0, 1], [0, "a"], [0, 52], [-1, 0]])
def test_einsum_sublist_refusals(sublist: list) -> None:
    _same_error(lambda lib, a: lib.einsum(a, sublist), _array((2, 3), "float64"))


# --- alpha = 0: PyTorch's addmm/addmv/addbmm never read the product (BLAS), so its NaN and inf do not leak; its
# --- addr and (small) baddbmm compute 0 · product; the gradients are alpha times the product's either way ----------

@pytest.mark.parametrize("call, shapes", [
    (lambda lib, x, a, b: lib.addmm(x, a, b, alpha=0), [(2, 2), (2, 3), (3, 2)]),
    (lambda lib, x, a, b: lib.addmm(x, a, b, alpha=0, beta=0.5), [(2,), (2, 3), (3, 2)]),
    (lambda lib, x, a, b: lib.addmv(x, a, b, alpha=0.0), [(2,), (2, 3), (3,)]),
    (lambda lib, x, a, b: lib.addbmm(x, a, b, alpha=0), [(2, 2), (4, 2, 3), (4, 3, 2)]),
    (lambda lib, x, a, b: lib.addr(x, a, b, alpha=0), [(2, 3), (2,), (3,)]),
    (lambda lib, x, a, b: lib.baddbmm(x, a, b, alpha=0), [(1, 2, 2), (1, 2, 3), (1, 3, 2)]),
])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_alpha_zero_and_a_nan_operand(call: Callable, shapes: list, bad: float) -> None:
    arrays = [_array(s, "float64") for s in shapes]
    arrays[1].flat[0] = bad
    g = None
    grads = []
    for lib in (torch, mg):
        tensors = [lib.tensor(a.copy(), requires_grad=True) for a in arrays]
        with np.errstate(invalid="ignore"):   # inf · 0 in NumPy's products
            out = call(lib, *tensors)
            g = _array(tuple(out.shape), "float64") if g is None else g
            out.backward(lib.tensor(g))
        grads.append([_np(out)] + [_np(t.grad) for t in tensors])
    for theirs, ours in zip(*grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12, equal_nan=True)
