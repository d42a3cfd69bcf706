"""More of PyTorch's tensor surface (math, scans, indexing, products, sampling) against PyTorch.

As in ``test_pytorch_api.py``: each case is ``fn(lib, *tensors)`` in PyTorch's spelling, run with
``lib = minigrad`` and ``lib = torch`` on the same float64 values; outputs (values, dtypes, indices)
and input gradients must agree, and every differentiable case passes ``mg.gradcheck``. Random
functions are tested for shape, dtype, range, seeding and distribution, not values.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from helpers import case_tests, drawn_case_tests, gpu_case_tests

import minigrad as mg

RNG = np.random.default_rng(7)


def _normal(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


def _positive(*shape: int) -> np.ndarray:
    return RNG.uniform(0.5, 2.0, shape)


X34, X234, X4, X3, P34 = _normal(3, 4), _normal(2, 3, 4), _normal(4), _normal(3), _positive(3, 4)
X14, X31 = _normal(1, 4), _normal(3, 1)
E04, E0 = np.zeros((0, 4)), np.zeros((0,))
# no value near a rounding boundary (finite differences of a step function are 0 there)
STEPS = np.array([[1.3, -2.7, 0.2, -0.4], [2.6, 3.1, -1.2, 4.4], [-3.3, 0.7, 5.8, -0.1]])
ZEROS = np.array([[1.5, 0.0, 2.0, -1.0], [0.0, 0.0, 3.0, 2.0], [1.2, -0.5, 2.0, 0.8]])
INDEX = np.array([[0, 1, 2, 0], [2, 0, 1, 1]])
MASK = np.array([[True, False, False, True]])

CASES: dict[str, tuple[Callable, tuple]] = {
    # rounding: zero gradients, dtype kept
    "sign": (lambda t, x: x.sign() + t.sign(x), (STEPS,)),
    "sign_at_zero": (lambda t, x: x.sign() * x, (ZEROS,)),
    "sign_of_nan_inf": (lambda t, x: (x / x.round()).sign(), (ZEROS,)),
    "floor": (lambda t, x: t.floor(x) * x, (STEPS,)),
    "ceil": (lambda t, x: x.ceil() * x, (STEPS,)),
    "round": (lambda t, x: t.round(x) + x.round(), (STEPS,)),
    "round_decimals": (lambda t, x: t.round(x * 10, decimals=1) * x, (STEPS,)),
    "round_negative_decimals": (lambda t, x: t.round(x * 100, decimals=-1), (STEPS,)),
    "trunc": (lambda t, x: x.trunc() * x, (STEPS,)),
    "round_half_to_even": (lambda t, x: (x * 0 + t.tensor([0.5, 1.5, 2.5, -0.5], dtype=t.float64)).round(), (X4,)),
    # logs and exps
    "log1p": (lambda t, x: x.log1p() + t.log1p(x * 1e-9), (P34,)),
    "expm1": (lambda t, x: t.expm1(x) + x.expm1(), (X34,)),
    "log2": (lambda t, x: x.log2(), (P34,)),
    "log10": (lambda t, x: t.log10(x), (P34,)),
    "exp2": (lambda t, x: x.exp2(), (X34,)),
    "rsqrt": (lambda t, x: t.rsqrt(x), (P34,)),
    "square": (lambda t, x: x.square() + t.square(x), (X34,)),
    "reciprocal": (lambda t, x: x.reciprocal(), (P34,)),
    "erf": (lambda t, x: t.erf(x * 2) + x.erf(), (X34,)),
    "erf_tails": (lambda t, x: t.erf(x * 4), (X34,)),
    # binary math with broadcasting
    "lerp_number": (lambda t, a, b: t.lerp(a, b, 0.3), (X34, X14)),
    "lerp_tensor_weight": (lambda t, a, b, w: a.lerp(b, w.sigmoid()), (X34, X14, X31)),
    "remainder": (lambda t, a, b: t.remainder(a * 3, b), (X34, P34[:1])),
    "remainder_number": (lambda t, a: a.remainder(0.7) + (a % 0.3), (X34,)),
    "fmod": (lambda t, a, b: t.fmod(a * 3, b), (X34, P34[:1] * -1)),
    "atan2": (lambda t, a, b: t.atan2(a, b), (X34, X31)),
    "atan2_method": (lambda t, a, b: a.atan2(b), (X34, X14)),
    "logaddexp": (lambda t, a, b: t.logaddexp(a * 300, b), (X34, X31)),
    "clamp_min": (lambda t, x: x.clamp_min(0.1) + t.clamp_min(x, -0.2), (X34,)),
    "clamp_max": (lambda t, x: x.clamp_max(0.1) + t.clamp_max(x, -0.2), (X34,)),
    # bool results
    "isnan_isinf_isfinite": (lambda t, x: [t.isnan(x / x.abs().round()), (x / 0).isinf(), (x / 0).isfinite()],
                             (ZEROS,)),
    "logical": (lambda t, a, b: [t.logical_not(a), a.logical_and(b), t.logical_or(a, b > 0), t.logical_xor(a, b)],
                (ZEROS, X34)),
    "isclose": (lambda t, a, b: [t.isclose(a, a + b * 1e-6), a.isclose(a + b * 1e-4, rtol=1e-3, atol=1e-9)],
                (X34, X34)),
    "count_nonzero": (lambda t, x: [t.count_nonzero(x), x.count_nonzero(dim=1), t.count_nonzero(x, dim=(0, 1))],
                      (ZEROS,)),
    # reductions and scans
    "prod_all": (lambda t, x: x.prod() + t.prod(x), (X34,)),
    "prod_dim": (lambda t, x: x.prod(1), (X34,)),
    "prod_keepdim": (lambda t, x: t.prod(x, dim=0, keepdim=True), (X234,)),
    "prod_one_zero": (lambda t, x: x.prod(1), (ZEROS,)),
    "prod_two_zeros": (lambda t, x: x.prod(0) + x.prod(), (ZEROS,)),
    "cumsum": (lambda t, x: x.cumsum(1) + t.cumsum(x, dim=0), (X34,)),
    "cumsum_negative_dim": (lambda t, x: x.cumsum(-1), (X234,)),
    "cumprod": (lambda t, x: x.cumprod(1), (X34,)),
    "cumprod_zeros": (lambda t, x: t.cumprod(x, dim=1) + x.cumprod(0), (ZEROS,)),
    "logcumsumexp": (lambda t, x: t.logcumsumexp(x * 50, dim=1) + x.logcumsumexp(0), (X34,)),
    "median_all": (lambda t, x: x.median(), (X34,)),
    "median_all_ties": (lambda t, x: t.median(x), (ZEROS,)),
    "median_dim": (lambda t, x: x.median(1), (X34,)),
    "median_dim_ties_and_nan": (lambda t, x: x.median(1), (np.array([[1.0, 2, 2, 2, 3], [5, 5, 5, 5, 5],
                                                                    [3, 1, 3, 1, 3], [1, np.nan, 2, np.nan, 0]]),)),
    "median_dim_keepdim": (lambda t, x: t.median(x, dim=0, keepdim=True), (X234,)),
    # shape and selection
    "flip": (lambda t, x: x.flip(0) + t.flip(x, [1]), (X34,)),
    "flip_dims": (lambda t, x: x.flip(0, 2), (X234,)),
    "roll": (lambda t, x: x.roll(1, 1) + t.roll(x, shifts=(1, -2), dims=(0, 1)), (X34,)),
    "roll_flat": (lambda t, x: t.roll(x, 5), (X34,)),
    "tril_triu": (lambda t, x: [x.tril(), t.triu(x, 1), t.tril(x, diagonal=-1), x.triu(-2)], (X34,)),
    "tril_batched": (lambda t, x: t.tril(x), (X234,)),
    "diag_of_vector": (lambda t, x: [t.diag(x), x.diag(1), t.diag(x, -2)], (X4,)),
    "diag_of_matrix": (lambda t, x: [x.diag(), t.diag(x, 1), t.diag(x, -1), t.diag(x, 5)], (X34,)),
    "nonzero": (lambda t, x: x.nonzero(), (ZEROS,)),
    "nonzero_as_tuple": (lambda t, x: t.nonzero(x, as_tuple=True), (ZEROS,)),
    "index_with_nonzero": (lambda t, x: x[(x > 0.5).nonzero(as_tuple=True)], (X34,)),
    "masked_select": (lambda t, x, m: t.masked_select(x, m) + 0, (X34, MASK)),
    "masked_select_method": (lambda t, x: x.masked_select(x > 0), (X234,)),
    "scatter": (lambda t, x, s, i: t.scatter(x, 1, i, s), (X34, _normal(2, 2), np.array([[3, 1], [0, 2]]))),
    "scatter_dim0": (lambda t, x, s, i: x.scatter(0, i, s), (X34, _normal(2, 4), INDEX)),
    # a src larger than index: PyTorch's own backward fails on it (its src gradient has index's shape)
    "scatter_src_larger": (lambda t, x, s, i: t.scatter(x, 1, i, s), (X34, _normal(2, 4), np.array([[3, 1], [0, 2]]))),
    "scatter_add_src_larger": (lambda t, x, s, i: t.scatter_add(x, 0, i, s), (X34, _normal(2, 5), INDEX)),
    "scatter_value": (lambda t, x, i: x.scatter(0, i, 2.5), (X34, INDEX)),
    "scatter_add": (lambda t, x, s, i: t.scatter_add(x, 0, i, s), (X34, _normal(2, 4), INDEX)),
    "scatter_add_method_repeats": (lambda t, x, s, i: x.scatter_add(1, i, s), (X34, _normal(2, 4), INDEX)),
    "repeat_interleave": (lambda t, x: x.repeat_interleave(2), (X34,)),
    "repeat_interleave_dim": (lambda t, x: t.repeat_interleave(x, 3, dim=1), (X34,)),
    "repeat_interleave_tensor": (lambda t, x, r: x.repeat_interleave(r, dim=0), (X34, np.array([2, 0, 1]))),
    "broadcast_tensors": (lambda t, a, b, c: t.broadcast_tensors(a, b, c), (X14, X31, X3[:1])),
    "meshgrid_ij": (lambda t, a, b: t.meshgrid(a, b, indexing="ij"), (X3, X4)),
    "meshgrid_xy": (lambda t, a, b, c: t.meshgrid([a, b, c], indexing="xy"), (X3, X4, X3[:2])),
    # products
    "dot": (lambda t, a, b: t.dot(a, b) + a.dot(b), (X4, X4[::-1].copy())),
    "outer": (lambda t, a, b: t.outer(a, b) + a.outer(b), (X3, X4)),
    "mm": (lambda t, a, b: t.mm(a, b) + a.mm(b), (X34, _normal(4, 2))),
    "addmm": (lambda t, x, a, b: t.addmm(x, a, b) + x.addmm(a, b, beta=0.5, alpha=2), (_normal(3, 2), X34,
                                                                                         _normal(4, 2))),
    "addmm_broadcast_bias": (lambda t, x, a, b: t.addmm(x, a, b, beta=2), (_normal(2), X34, _normal(4, 2))),
    "addmm_beta_zero": (lambda t, x, a, b: t.addmm(x, a, b, beta=0), (_normal(3, 2), X34, _normal(4, 2))),
    "baddbmm": (lambda t, x, a, b: t.baddbmm(x, a, b, alpha=0.5), (_normal(2, 3, 5), X234, _normal(2, 4, 5))),
    "einsum_matmul": (lambda t, a, b: t.einsum("ij,jk->ik", a, b), (X34, _normal(4, 2))),
    "einsum_batched": (lambda t, a, b: t.einsum("bij,bjk->bik", a, b), (X234, _normal(2, 4, 5))),
    "einsum_sum_only_in_one": (lambda t, a, b: t.einsum("ij,k->i", a, b), (X34, X3)),
    "einsum_outer_transpose": (lambda t, a, b: t.einsum("i,j->ji", a, b), (X3, X4)),
    "einsum_implicit": (lambda t, a, b: t.einsum("ij,jk", a, b), (X34, _normal(4, 2))),
    "einsum_list": (lambda t, a, b, c: t.einsum("ij,jk,kl->il", [a, b, c]), (X34, _normal(4, 2), _normal(2, 3))),
    "einsum_ellipsis": (lambda t, a, b: t.einsum("...ij,jk->...ik", a, b), (X234, _normal(4, 2))),
    "einsum_ellipsis_broadcast": (lambda t, a, b: t.einsum("...ij,...jk->...ik", a, b),
                                  (_normal(1, 3, 4), _normal(2, 4, 5))),
    "einsum_capitals_and_ellipsis": (lambda t, a, b: t.einsum("...Ij,jA", a, b), (X234, _normal(4, 2))),
    "einsum_trace_free_sum": (lambda t, a: t.einsum("ijk->", a), (X234,)),
    # zero-size shapes
    "empty_math": (lambda t, x: [x.log1p(), x.floor(), x.erf(), t.atan2(x, x), x.isnan(), x.square()], (E04,)),
    "empty_prod_cumsum": (lambda t, x: [x.prod(), x.prod(0), x.prod(1), x.cumsum(0), x.cumprod(1),
                                        x.logcumsumexp(0)], (E04,)),
    "empty_shape_ops": (lambda t, x: [x.flip(0), x.roll(1, 0), x.tril(), x.nonzero(), x.masked_select(x > 0),
                                      x.repeat_interleave(2, dim=0)], (E04,)),
    "empty_products": (lambda t, a, b: [t.outer(a, b), t.dot(a, a), t.einsum("i,j->ij", a, b)], (E0, X3)),
    "empty_median": (lambda t, x: x.median(), (E0,)),
}
NO_GRADCHECK = {"empty_median", "sign_at_zero", "sign_of_nan_inf", "median_dim_ties_and_nan"}
NOT_IN_TORCH = {"scatter_src_larger", "scatter_add_src_larger"}


test_same_as_torch, test_gradcheck = case_tests(CASES, no_gradcheck=NO_GRADCHECK, not_in_torch=NOT_IN_TORCH)


# --- random shapes and dims (Hypothesis) ---------------------------------------------------------------

DRAWN_CASES: dict[str, Callable] = {
    "prod": lambda t, x, d, k: x.prod(d[0], keepdim=k),
    "prod_with_zeros": lambda t, x, d, k: (x * (x.abs() > 0.5)).prod(d[1]),
    "cumsum": lambda t, x, d, k: x.cumsum(d[0]),
    "cumprod": lambda t, x, d, k: t.cumprod(x * (x.abs() > 0.3) if k else x, dim=d[1]),
    "logcumsumexp": lambda t, x, d, k: x.logcumsumexp(d[0]),
    "median": lambda t, x, d, k: x.median(d[0], keepdim=k),
    "flip": lambda t, x, d, k: x.flip(sorted({a % x.ndim for a in d})),
    "roll": lambda t, x, d, k: x.roll(3 if k else -1, d[0]),
    "count_nonzero": lambda t, x, d, k: (x * (x > 0)).count_nonzero(d[0]),
    "tril_triu": lambda t, x, d, k: (x.tril(d[0]) if k else x.triu(d[1])) if x.ndim > 1 else x,
    "repeat_interleave": lambda t, x, d, k: x.repeat_interleave(2, dim=d[0]),
    "scatter_add_gather": lambda t, x, d, k: x.scatter_add(d[0], (x.abs() * 10).long() % x.shape[d[0]], x * 2),
}


test_drawn_shapes_same_as_torch = drawn_case_tests(DRAWN_CASES)


# --- dtypes: integers and bools as PyTorch promotes them -----------------------------------------------

@pytest.mark.parametrize("name", ["sign", "floor", "ceil", "round", "trunc", "log1p", "expm1", "log2", "log10",
                                  "exp2", "rsqrt", "square", "reciprocal", "erf", "isnan", "isfinite",
                                  "logical_not", "count_nonzero", "prod", "cumsum", "cumprod", "median", "flip",
                                  "nonzero", "tril"])
@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "float32"])
def test_result_dtypes_match_torch(name: str, dtype: str, torch: Any) -> None:
    values = np.array([[1, 0, 3], [2, 5, 1]]).astype(dtype)
    extra = {"cumsum": (1,), "cumprod": (0,), "flip": ((0,),)}.get(name, ())
    try:
        theirs = getattr(torch, name)(torch.from_numpy(values), *extra)
    except (RuntimeError, TypeError, NotImplementedError):   # e.g. floor of a bool tensor
        with pytest.raises(TypeError, match=name):
            getattr(mg, name)(mg.tensor(values), *extra)
        return
    ours = getattr(mg, name)(mg.tensor(values), *extra)
    assert ours.dtype == theirs.numpy().dtype, f"{name}({dtype}): {ours.dtype} != {theirs.dtype}"
    np.testing.assert_allclose(ours.numpy().astype("float64"), theirs.numpy().astype("float64"), rtol=1e-6)


def test_allclose_is_a_python_bool(torch: Any) -> None:
    a = mg.tensor([1.0, 2.0])
    assert mg.allclose(a, a + 1e-9) is True and a.allclose(a + 1e-3) is False
    assert mg.allclose(a, mg.tensor([1.0, float("nan")]), equal_nan=True) is False
    nan = mg.tensor([float("nan")])
    assert mg.allclose(nan, nan, equal_nan=True) is torch.allclose(torch.tensor([float("nan")]),
                                                                   torch.tensor([float("nan")]), equal_nan=True)


def test_addmm_with_beta_zero_ignores_nan_in_input(torch: Any) -> None:
    x = np.full((3, 2), np.nan)
    a, b = _normal(3, 4), _normal(4, 2)
    ours = mg.addmm(mg.tensor(x), mg.tensor(a), mg.tensor(b), beta=0)
    theirs = torch.addmm(torch.from_numpy(x), torch.from_numpy(a), torch.from_numpy(b), beta=0)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy())
    assert not np.isnan(ours.numpy()).any()


def test_prod_gradient_with_zeros_is_the_product_of_the_others() -> None:
    x = mg.tensor([2.0, 0.0, 3.0, 4.0], dtype=mg.float64, requires_grad=True)
    x.prod().backward()
    assert x.grad.numpy().tolist() == [0.0, 24.0, 0.0, 0.0]


def test_numpy_keywords_keep_numpy_meaning() -> None:
    x = mg.tensor(X234)
    np.testing.assert_allclose(mg.prod(x, axis=(0, 2)).numpy(), X234.prod(axis=(0, 2)))
    np.testing.assert_allclose(x.prod(axis=1, keepdims=True).numpy(), X234.prod(axis=1, keepdims=True))
    np.testing.assert_allclose(mg.cumsum(x, axis=2).numpy(), X234.cumsum(axis=2))
    np.testing.assert_array_equal(mg.count_nonzero(mg.tensor(ZEROS), axis=0).numpy(), np.count_nonzero(ZEROS, axis=0))


# --- in place ------------------------------------------------------------------------------------------

def test_in_place_variants_keep_the_object_and_bump_the_version(torch: Any) -> None:
    for name, args in [("floor_", ()), ("round_", ()), ("sign_", ()), ("log1p_", ()), ("square_", ()),
                       ("clamp_min_", (0.2,)), ("clamp_max_", (0.2,)), ("remainder_", (0.3,)),
                       ("lerp_", (mg.tensor(X14), 0.25)), ("scatter_", (1, mg.tensor(INDEX[:, :2]), 9.0)),
                       ("scatter_add_", (0, mg.tensor(INDEX), mg.tensor(_normal(2, 4))))]:
        values = np.abs(STEPS)
        x = mg.tensor(values)
        version = x._version
        out = getattr(x, name)(*args)
        assert out is x and x._version > version, name
        targs = [torch.from_numpy(a.numpy()) if isinstance(a, mg.Tensor) else a for a in args]
        expected = getattr(torch.from_numpy(values.copy()), name)(*targs)
        np.testing.assert_allclose(x.numpy(), expected.numpy(), err_msg=name)


def test_in_place_on_a_non_leaf_records_the_gradient(torch: Any) -> None:
    x = mg.tensor(X34, requires_grad=True)
    y = x * 2
    y.clamp_min_(0.0)
    y.scatter_(1, mg.tensor(INDEX[:, :2]), mg.tensor(_normal(2, 2)))
    y.sum().backward()
    tx = torch.tensor(X34, requires_grad=True)
    ty = tx * 2
    ty.clamp_min_(0.0)
    ty.scatter_(1, torch.from_numpy(INDEX[:, :2]), torch.from_numpy(_normal(2, 2)))
    ty.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    with pytest.raises(RuntimeError, match="leaf"):
        mg.tensor(X34, requires_grad=True).floor_()


# --- small spellings ----------------------------------------------------------------------------------

def test_tensor_facts_and_small_functions(torch: Any) -> None:
    x = mg.tensor(X34)
    assert x.type() == "float64" and x.type(mg.float32).dtype == mg.float32 and x.type("int64").dtype == mg.int64
    assert x.is_contiguous() and not x.t().is_contiguous() and x.t().contiguous().is_contiguous()
    assert x.nelement() == 12 == torch.zeros(3, 4).nelement()
    assert mg.is_tensor(x) and not mg.is_tensor(X34) and not mg.is_tensor(3.0)
    w = mg.tensor(X34, requires_grad=True)
    assert not mg.detach(w).requires_grad and np.shares_memory(mg.detach(w).data, w.data)
    for args in [(3,), (2, 4), (4, 2), (0,)]:
        assert mg.eye(*args).dtype == mg.float32
        np.testing.assert_array_equal(mg.eye(*args).numpy(), torch.eye(*args).numpy())
    assert mg.eye(3, dtype=mg.int64).dtype == mg.int64
    e = mg.empty_like(x, dtype=mg.int64)
    assert e.shape == x.shape and e.dtype == mg.int64 and e.device == x.device


def test_inference_mode_records_nothing() -> None:
    w = mg.tensor([1.0], requires_grad=True)
    with mg.inference_mode():
        assert not (w * 2).requires_grad and not mg.is_grad_enabled()
    assert mg.is_grad_enabled()
    with mg.inference_mode(False):
        assert (w * 2).requires_grad

    @mg.inference_mode()
    def predict(v: mg.Tensor) -> mg.Tensor:
        return v * 3

    assert not predict(w).requires_grad


def test_scatter_add_is_still_the_array_interop() -> None:
    target = np.zeros(3)
    mg.scatter_add(np, target, np.array([0, 0, 2]), np.ones(3))
    assert target.tolist() == [2.0, 0.0, 1.0]


# --- random: shape, dtype, range, seeding, distribution -------------------------------------------------

def _seeded(fn: Callable[[], mg.Tensor]) -> tuple:
    mg.manual_seed(3)
    first = fn().numpy()
    mg.manual_seed(3)
    return first, fn().numpy()


def test_randperm() -> None:
    p = mg.randperm(10)
    assert p.dtype == mg.int64 and p.shape == (10,) and sorted(p.numpy().tolist()) == list(range(10))
    a, b = _seeded(lambda: mg.randperm(50))
    np.testing.assert_array_equal(a, b)
    assert mg.randperm(0).shape == (0,)
    assert mg.randperm(5, dtype=mg.int32).dtype == mg.int32


def test_multinomial_shapes_seeding_and_frequencies() -> None:
    probs = mg.tensor([[0.1, 0.0, 0.6, 0.3], [1.0, 1.0, 1.0, 1.0]])
    draw = mg.multinomial(probs, 3)
    assert draw.shape == (2, 3) and draw.dtype == mg.int64
    for row in draw.numpy():
        assert len(set(row.tolist())) == 3   # without replacement: distinct
    assert 1 not in draw.numpy()[0]          # a zero weight is never drawn
    assert probs[0].multinomial(2).shape == (2,)
    a, b = _seeded(lambda: mg.multinomial(probs, 20, replacement=True))
    np.testing.assert_array_equal(a, b)
    mg.manual_seed(0)
    many = mg.multinomial(mg.tensor([0.2, 0.0, 0.5, 0.3]), 20000, replacement=True).numpy()
    np.testing.assert_allclose(np.bincount(many, minlength=4) / 20000, [0.2, 0.0, 0.5, 0.3], atol=0.02)
    first = np.array([mg.multinomial(mg.tensor([0.2, 0.0, 0.5, 0.3]), 1).item() for _ in range(3000)])
    np.testing.assert_allclose(np.bincount(first, minlength=4) / 3000, [0.2, 0.0, 0.5, 0.3], atol=0.04)
    with pytest.raises(ValueError, match="multinomial"):
        mg.multinomial(mg.tensor([0.5, 0.0]), 2)
    with pytest.raises(ValueError, match="multinomial"):
        mg.multinomial(mg.tensor([0.5, -1.0]), 1)


def test_bernoulli_and_bernoulli_() -> None:
    mg.manual_seed(1)
    p = mg.full((20000,), 0.3, dtype=mg.float64)
    sample = mg.bernoulli(p)
    assert sample.dtype == mg.float64 and set(np.unique(sample.numpy())) <= {0.0, 1.0}
    assert abs(sample.numpy().mean() - 0.3) < 0.02
    assert p.bernoulli().shape == p.shape
    x = mg.zeros(20000)
    assert x.bernoulli_(0.8) is x and abs(x.numpy().mean() - 0.8) < 0.02 and x.dtype == mg.float32
    a, b = _seeded(lambda: mg.bernoulli(mg.full((100,), 0.5)))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="bernoulli"):
        mg.bernoulli(mg.tensor([1.5]))


def test_normal() -> None:
    mg.manual_seed(2)
    s = mg.normal(2.0, 3.0, size=(40000,))
    assert s.dtype == mg.float32 and s.shape == (40000,)
    assert abs(s.numpy().mean() - 2.0) < 0.05 and abs(s.numpy().std() - 3.0) < 0.05
    mean = mg.tensor(np.array([[0.0], [10.0]]))
    t = mg.normal(mean, mg.tensor(np.full(5000, 0.5)))
    assert t.shape == (2, 5000) and t.dtype == mg.float64
    np.testing.assert_allclose(t.numpy().mean(axis=1), [0.0, 10.0], atol=0.05)
    assert mg.normal(mean, 1.0).shape == (2, 1)
    a, b = _seeded(lambda: mg.normal(0.0, 1.0, (5,)))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="normal"):
        mg.normal(0.0, 1.0)


# --- bad input: clear errors naming the op -------------------------------------------------------------

@pytest.mark.parametrize("call, error, words", [
    (lambda: mg.flip(mg.zeros(2, 3), 2), IndexError, ("flip",)),
    (lambda: mg.flip(mg.zeros(2, 3), 0, 0), ValueError, ("flip",)),
    (lambda: mg.roll(mg.zeros(2, 3), (1, 2), 0), ValueError, ("roll",)),
    (lambda: mg.tril(mg.zeros(3)), ValueError, ("tril",)),
    (lambda: mg.diag(mg.zeros(2, 2, 2)), ValueError, ("diag",)),
    (lambda: mg.dot(mg.zeros(3), mg.zeros(4)), ValueError, ("dot",)),
    (lambda: mg.mm(mg.zeros(3), mg.zeros(3, 2)), ValueError, ("mm",)),
    (lambda: mg.addmm(mg.zeros(4, 4), mg.zeros(3, 2), mg.zeros(2, 5)), ValueError, ("addmm",)),
    (lambda: mg.einsum("ij,jk->ik", mg.zeros(2, 3), mg.zeros(4, 5)), ValueError, ("einsum",)),
    (lambda: mg.einsum("ij,jj->i", mg.zeros(2, 3), mg.zeros(3, 4)), ValueError, ("einsum", "repeated")),
    (lambda: mg.einsum("ij->k", mg.zeros(2, 2)), ValueError, ("einsum",)),
    (lambda: mg.scatter(mg.zeros(2, 3), 1, mg.tensor([[5]]), mg.ones(1, 1)), IndexError, ("scatter",)),
    (lambda: mg.scatter(mg.zeros(2, 3), 1, mg.tensor([[0.5]]), mg.ones(1, 1)), TypeError, ("scatter",)),
    (lambda: mg.scatter_add(mg.zeros(2, 3), 0, mg.tensor([[0, 1]]), 1.0), TypeError, ("scatter_add",)),
    (lambda: mg.masked_select(mg.zeros(2, 3), mg.zeros(2, 3)), TypeError, ("masked_select",)),
    (lambda: mg.masked_select(mg.zeros(2, 3), mg.zeros(4, dtype=mg.bool)), ValueError, ("masked_select",)),
    (lambda: mg.repeat_interleave(mg.zeros(3), mg.tensor([1, 2])), ValueError, ("repeat_interleave",)),
    (lambda: mg.repeat_interleave(mg.zeros(3), -1), ValueError, ("repeat_interleave",)),
    (lambda: mg.cumsum(mg.zeros(3)), TypeError, ("cumsum", "dim")),
    (lambda: mg.meshgrid(mg.zeros(3), indexing="yx"), ValueError, ("meshgrid",)),
    (lambda: mg.broadcast_tensors(mg.zeros(2), mg.zeros(3)), ValueError, ("broadcast_tensors",)),
    (lambda: mg.median(mg.zeros(0, 2), dim=0), IndexError, ("median",)),
    (lambda: mg.randperm(-1), ValueError, ("randperm",)),
    (lambda: mg.eye(2.5), TypeError, ("eye",)),
    (lambda: mg.round(mg.zeros(2), decimals=1.5), TypeError, ("round",)),
    (lambda: mg.lerp(mg.zeros(2), mg.ones(2), "a"), TypeError, ("lerp",)),
    (lambda: mg.isclose(mg.zeros(2), mg.zeros(3)), ValueError, ("isclose",)),
    (lambda: mg.remainder(1.0, 2.0), TypeError, ("remainder",)),
])
def test_bad_arguments_raise_naming_the_op(call: Callable, error: type, words: tuple) -> None:
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value), str(info.value)


def test_compiled_sampling_draws_fresh_samples_in_eager_order() -> None:
    """An mg.compile replay draws again (not the capture's frozen samples), in eager's order."""
    def sample(x: mg.Tensor) -> mg.Tensor:
        return (mg.bernoulli(x) * 2 + mg.normal(x, 1.0)
                + mg.multinomial(x.abs() + 0.1, 2, replacement=True).sum() + mg.randperm(64)[0])

    compiled = mg.compile(sample)
    x = mg.full((64,), 0.5, dtype=mg.float64)
    mg.manual_seed(0)
    replays = [compiled(x).numpy() for _ in range(3)]
    mg.manual_seed(0)
    eager = [sample(x).numpy() for _ in range(3)]
    assert not np.array_equal(replays[1], replays[2])
    for r, e in zip(replays, eager):
        np.testing.assert_array_equal(r, e)


# --- GPU: the same cases on cuda as on cpu (the strict CuPy stand-in where there is no GPU) ------------

# round_half_to_even makes its constant on the cpu
test_on_gpu_same_as_on_cpu = gpu_case_tests(CASES, leave_out={"round_half_to_even"}, rtol=1e-9)


@pytest.mark.gpu
def test_sampling_on_gpu() -> None:
    probs = mg.tensor([[0.1, 0.0, 0.6, 0.3]], device="cuda")
    for out in (mg.randperm(8, device="cuda"), mg.multinomial(probs, 2), mg.multinomial(probs, 5, True),
                mg.bernoulli(probs), mg.normal(probs, 1.0), mg.normal(0.0, 1.0, (3,), device="cuda"),
                mg.eye(3, device="cuda"), mg.zeros(4, device="cuda").bernoulli_(0.5)):
        assert out.device == mg.device("cuda")
