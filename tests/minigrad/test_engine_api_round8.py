"""Round 8 of torch's engine API that minigrad lacked, against torch 2.13: the LU family (``linalg.lu_factor``,
``lu_factor_ex``, ``lu``, ``lu_solve``, ``lu_unpack``, the deprecated ``torch.lu``/``lu_solve``), ``histogram`` and
``histogramdd``, ``combinations``, ``vander``, ``cumulative_trapezoid``, ``chain_matmul``, the top-level in-place
functions (``torch.exp_``), ``unsafe_chunk``/``unsafe_split`` and the ``bfloat16`` refusal. Values, dtypes, shapes,
errors and (float64 gradcheck and torch's) gradients."""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest
from helpers import case_tests, gpu_case_tests, same_as_torch

import minigrad as mg
from minigrad.ops import spellings

pytestmark = pytest.mark.filterwarnings("ignore:torch.chain_matmul is deprecated")

RNG = np.random.default_rng(808)
SQUARE = RNG.standard_normal((4, 4))
BATCH = RNG.standard_normal((2, 3, 3))
WIDE = RNG.standard_normal((3, 5))
TALL = RNG.standard_normal((2, 5, 3))
B = RNG.standard_normal((4, 2))
BATCH_B = RNG.standard_normal((2, 3, 2))
POINTS = RNG.standard_normal(40)


def _packed(torch: Any, a: np.ndarray) -> tuple:
    """torch's (LU, pivots) of a, as arrays: the inputs of lu_solve and lu_unpack."""
    lu, pivots = torch.linalg.lu_factor(torch.from_numpy(a))
    return lu.numpy(), pivots.numpy()


# --- the LU family ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 3), (3, 5), (5, 3), (2, 1, 4, 2), (0, 3, 3), (0, 0), (1, 1)])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lu_factor_ex_and_lu_equal_torchs(shape: tuple, dtype: str, torch: Any) -> None:
    a = RNG.standard_normal(shape).astype(dtype)
    ours, theirs = mg.linalg.lu_factor_ex(mg.tensor(a)), torch.linalg.lu_factor_ex(torch.from_numpy(a))
    tolerance = {"rtol": 1e-10, "atol": 1e-12} if dtype == "float64" else {"rtol": 2e-5, "atol": 2e-6}
    np.testing.assert_allclose(ours.LU.numpy(), theirs.LU.numpy(), **tolerance)
    assert ours.LU.dtype == a.dtype and ours.pivots.dtype == np.int32 and ours.info.dtype == np.int32
    np.testing.assert_array_equal(ours.pivots.numpy(), theirs.pivots.numpy())
    np.testing.assert_array_equal(ours.info.numpy(), theirs.info.numpy())
    assert ours.info.shape == tuple(theirs.info.shape)
    for mine, torchs in zip(mg.linalg.lu(mg.tensor(a)), torch.linalg.lu(torch.from_numpy(a))):
        assert mine.shape == tuple(torchs.shape) and mine.dtype == a.dtype
        np.testing.assert_allclose(mine.numpy(), torchs.numpy(), **tolerance)


def test_a_singular_matrix_gives_lapacks_info_and_lu_factor_raises(torch: Any) -> None:
    a = np.array([[[1.0, 2.0], [2.0, 4.0]], [[1.0, 0.0], [0.0, 1.0]], [[0.0, 0.0], [0.0, 0.0]]])
    ours, theirs = mg.linalg.lu_factor_ex(mg.tensor(a)), torch.linalg.lu_factor_ex(torch.from_numpy(a))
    np.testing.assert_array_equal(ours.info.numpy(), theirs.info.numpy())
    np.testing.assert_array_equal(ours.pivots.numpy(), theirs.pivots.numpy())
    np.testing.assert_allclose(ours.LU.numpy(), theirs.LU.numpy())
    with pytest.raises(RuntimeError, match=r"lu_factor: \(Batch element 0\): U\[2,2\] is zero"):
        mg.linalg.lu_factor(mg.tensor(a))
    with pytest.raises(RuntimeError, match=r"U\[2,2\] is zero"):
        torch.linalg.lu_factor(torch.from_numpy(a))
    with pytest.raises(mg.linalg.LinAlgError, match=r"U\[1,1\] is zero"):
        mg.linalg.lu_factor_ex(mg.tensor(a[2]), check_errors=True)
    P, L, U = mg.linalg.lu(mg.tensor(a[2]))   # noqa: N806 - linalg.lu factors a singular matrix too
    np.testing.assert_array_equal(U.numpy(), np.zeros((2, 2)))


LU_GRADIENT_CASES: dict[str, tuple[Callable, tuple]] = {
    "lu_square": (lambda lib, a: lib.linalg.lu(a)[1:], (SQUARE,)),
    "lu_batch": (lambda lib, a: lib.linalg.lu(a)[1:], (BATCH,)),
    "lu_wide": (lambda lib, a: lib.linalg.lu(a)[1:], (WIDE,)),
    "lu_tall": (lambda lib, a: lib.linalg.lu(a)[1:], (TALL,)),
    "lu_only_U": (lambda lib, a: lib.linalg.lu(a).U, (WIDE,)),
    "lu_factor": (lambda lib, a: lib.linalg.lu_factor(a).LU, (BATCH,)),
    "lu_factor_wide": (lambda lib, a: lib.linalg.lu_factor(a).LU, (WIDE,)),
    "lu_factor_tall": (lambda lib, a: lib.linalg.lu_factor(a).LU, (TALL,)),
    "lu_unpack": (lambda lib, a: lib.lu_unpack(*lib.linalg.lu_factor(a))[1:], (TALL,)),
}


@pytest.mark.parametrize("name", sorted(LU_GRADIENT_CASES))
def test_lu_gradients_equal_torchs(name: str, torch: Any) -> None:
    same_as_torch(torch, *LU_GRADIENT_CASES[name][:1], *LU_GRADIENT_CASES[name][1])


@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("adjoint", [False, True])
@pytest.mark.parametrize("shapes", [((4, 4), (4, 2)), ((2, 3, 3), (3, 3)), ((3, 3), (2, 1, 3, 3))])
def test_lu_solve_values_and_gradients_equal_torchs(left: bool, adjoint: bool, shapes: tuple, torch: Any) -> None:
    a_shape, b_shape = shapes
    lu, pivots = _packed(torch, RNG.standard_normal(a_shape) + 3 * np.eye(a_shape[-1]))
    b = RNG.standard_normal(b_shape if left else b_shape[:-2] + b_shape[-2:][::-1])

    def solve(lib: Any, lu: Any, b: Any) -> Any:
        return lib.linalg.lu_solve(lu, lib.from_numpy(pivots), b, left=left, adjoint=adjoint)

    same_as_torch(torch, solve, lu, b)


def test_legacy_lu_and_lu_solve_warn_and_give_torchs_results(torch: Any) -> None:
    a = mg.tensor(SQUARE)
    with pytest.warns(UserWarning, match="torch.lu is deprecated in favor of torch.linalg.lu_factor"):
        packed, pivots = mg.lu(a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch.lu(torch.from_numpy(SQUARE), get_infos=True)
        with_info = a.lu(get_infos=True)
        solved = mg.lu_solve(mg.tensor(B), packed, pivots)
        method = mg.tensor(B).lu_solve(packed, pivots)
        torch_solved = torch.lu_solve(torch.from_numpy(B), theirs[0], theirs[1])
        plain = mg.lu(a)
    assert type(plain) is tuple and type(with_info) is mg.return_types._lu_with_info
    assert with_info._fields == type(theirs).__match_args__
    np.testing.assert_allclose(with_info.LU.numpy(), theirs.LU.numpy(), rtol=1e-12)
    np.testing.assert_array_equal(with_info.pivots.numpy(), theirs.pivots.numpy())
    np.testing.assert_allclose(solved.numpy(), torch_solved.numpy(), rtol=1e-10)
    np.testing.assert_allclose(method.numpy(), torch_solved.numpy(), rtol=1e-10)
    with pytest.warns(UserWarning, match="torch.lu_solve is deprecated in favor of torch.linalg.lu_solve"):
        mg.lu_solve(mg.tensor(B), packed, pivots)


@pytest.mark.parametrize("unpack_data", [True, False])
@pytest.mark.parametrize("unpack_pivots", [True, False])
@pytest.mark.parametrize("array", [SQUARE, WIDE, TALL], ids=["square", "wide", "tall"])
def test_lu_unpack_equals_torchs(unpack_data: bool, unpack_pivots: bool, array: np.ndarray, torch: Any) -> None:
    lu, pivots = _packed(torch, array)
    ours = mg.lu_unpack(mg.tensor(lu), mg.tensor(pivots), unpack_data, unpack_pivots=unpack_pivots)
    theirs = torch.lu_unpack(torch.from_numpy(lu), torch.from_numpy(pivots), unpack_data, unpack_pivots=unpack_pivots)
    assert type(ours) is mg.return_types.lu_unpack and ours._fields == type(theirs).__match_args__
    for mine, torchs in zip(ours, theirs):
        assert mine.shape == tuple(torchs.shape) and mine.dtype == torchs.numpy().dtype
        np.testing.assert_allclose(mine.numpy(), torchs.numpy(), rtol=1e-12)


@pytest.mark.parametrize("case", ["linalg_lu_factor", "linalg_lu_factor_ex", "linalg_lu", "lu_unpack", "histogram",
                                  "histogramdd"])
def test_the_named_tuples_are_torchs(case: str, torch: Any) -> None:
    calls = {"linalg_lu_factor": lambda lib, a: lib.linalg.lu_factor(a),
             "linalg_lu_factor_ex": lambda lib, a: lib.linalg.lu_factor_ex(a),
             "linalg_lu": lambda lib, a: lib.linalg.lu(a),
             "lu_unpack": lambda lib, a: lib.lu_unpack(*lib.linalg.lu_factor(a)),
             "histogram": lambda lib, a: lib.histogram(a, 3),
             "histogramdd": lambda lib, a: lib.histogramdd(a, [2, 3])}
    array = np.array([[3.0, 1.0], [0.5, 4.0]], dtype=np.float32)
    ours, theirs = calls[case](mg, mg.tensor(array)), calls[case](torch, torch.from_numpy(array))
    assert type(ours) is getattr(mg.return_types, case) and type(theirs).__name__ == case
    assert ours._fields == type(theirs).__match_args__
    assert repr(ours) == repr(theirs).replace("torch.return_types.", "minigrad.return_types.").replace(
        "torch.int32", "int32")


LU_ERRORS: dict[str, tuple[Callable, type, str]] = {
    "integer": (lambda: mg.linalg.lu_factor(mg.ones(2, 2, dtype=mg.int64)), TypeError, "floating-point"),
    "vector": (lambda: mg.linalg.lu_factor(mg.ones(2)), ValueError, "at least 2 dims"),
    "no_pivoting": (lambda: mg.linalg.lu_factor(mg.eye(2), pivot=False), NotImplementedError, "without pivoting"),
    "pivots_dtype": (lambda: mg.linalg.lu_solve(mg.eye(2).double(), mg.tensor([1, 2]), mg.ones(2, 1).double()),
                     TypeError, "int32"),
    "pivots_range": (lambda: mg.linalg.lu_solve(mg.eye(2).double(), mg.tensor(np.array([1, 3], np.int32)),
                                                mg.ones(2, 1).double()), ValueError, "between 1 and"),
    "pivots_count": (lambda: mg.linalg.lu_solve(mg.eye(2).double(), mg.tensor(np.array([1], np.int32)),
                                                mg.ones(2, 1).double()), ValueError, "number of pivots"),
    "B_vector": (lambda: mg.linalg.lu_solve(*mg.linalg.lu_factor(mg.eye(2)), mg.ones(2)), ValueError, "at least 2"),
    "B_rows": (lambda: mg.linalg.lu_solve(*mg.linalg.lu_factor(mg.eye(2)), mg.ones(3, 1)), ValueError,
               r"AX = B \(2x2 and 3x1\)"),
    "B_dtype": (lambda: mg.linalg.lu_solve(*mg.linalg.lu_factor(mg.eye(2)), mg.ones(2, 1).double()), TypeError,
                "same dtype"),
    "unpack_dtype": (lambda: mg.lu_unpack(mg.eye(2), mg.tensor([1, 2])), TypeError, "int32"),
    "unpack_range": (lambda: mg.lu_unpack(mg.eye(2), mg.tensor(np.array([0, 2], np.int32))), ValueError,
                     "between 1 and"),
}


@pytest.mark.parametrize("name", sorted(LU_ERRORS))
def test_lu_errors_name_the_function(name: str) -> None:
    call, kind, message = LU_ERRORS[name]
    with pytest.raises(kind, match=message):
        call()


# --- histograms ---------------------------------------------------------------------------------------------------

HISTOGRAMS: dict[str, Callable] = {
    "count": lambda lib, x: lib.histogram(x, 7),
    "range": lambda lib, x: lib.histogram(x, 4, range=(0.0, 1.0)),
    "density": lambda lib, x: lib.histogram(x, 3, density=True),
    "edges_weight_density": lambda lib, x: lib.histogram(x, lib.tensor([-1.0, 0, 0.5, 2], dtype=x.dtype),
                                                         weight=x.abs(), density=True),
    "empty": lambda lib, x: lib.histogram(x[:0], 3),
    "one_value": lambda lib, x: lib.histogram(x[:1], 2),
    "equal_range": lambda lib, x: lib.histogram(x, 2, range=(1.0, 1.0)),
    "matrix_weight": lambda lib, x: lib.histogram(x.reshape(4, 10), 5, weight=x),
    "float32": lambda lib, x: lib.histogram(x.float(), 9),
    "right_edges": lambda lib, x: lib.histogram(lib.tensor([0.1, 0.2, 0.3, 0.4, 0.7]), 3, range=(0.1, 0.7)),
    "method": lambda lib, x: x.histogram(5),
    "dd": lambda lib, x: lib.histogramdd(x.reshape(20, 2), bins=[3, 4]),
    "dd_batch_density": lambda lib, x: lib.histogramdd(x.reshape(4, 5, 2), 3, density=True,
                                                       weight=x[:20].reshape(4, 5).abs()),
    "dd_range": lambda lib, x: lib.histogramdd(x.reshape(8, 5), 2, range=[-1.0, 1.0] * 5),
    "dd_edges": lambda lib, x: lib.histogramdd(x.reshape(20, 2), [lib.tensor([-1.0, 0, 1], dtype=x.dtype),
                                                                 lib.tensor([-3.0, 3], dtype=x.dtype)]),
}


@pytest.mark.parametrize("name", sorted(HISTOGRAMS))
def test_histograms_equal_torchs(name: str, torch: Any) -> None:
    ours, theirs = HISTOGRAMS[name](mg, mg.tensor(POINTS)), HISTOGRAMS[name](torch, torch.from_numpy(POINTS))
    assert type(ours).__name__ == type(theirs).__name__
    mine = [ours.hist, *(ours.bin_edges if isinstance(ours.bin_edges, tuple) else [ours.bin_edges])]
    torchs = [theirs.hist, *(theirs.bin_edges if isinstance(theirs.bin_edges, tuple) else [theirs.bin_edges])]
    for a, b in zip(mine, torchs, strict=True):
        assert a.shape == tuple(b.shape) and a.dtype == b.numpy().dtype
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)
    assert not ours.hist.requires_grad


HISTOGRAM_ERRORS: dict[str, tuple[Callable, type, str]] = {
    "zero_bins": (lambda x: mg.histogram(x, 0), ValueError, "bins must be > 0"),
    "reversed_range": (lambda x: mg.histogram(x, 2, range=(3.0, 1.0)), ValueError, "min should not exceed max"),
    "infinite_range": (lambda x: mg.histogram(x, 2, range=(0.0, float("inf"))), ValueError, "is not finite"),
    "nan_data": (lambda x: mg.histogram(mg.tensor([1.0, float("nan")]), 2), ValueError, "is not finite"),
    "edges_dtype": (lambda x: mg.histogram(x.float(), mg.tensor([0.0, 1.0], dtype=mg.float64)), TypeError,
                    "same dtype"),
    "weight_size": (lambda x: mg.histogram(x, 3, weight=x[:4]), ValueError, "weight"),
    "integer": (lambda x: mg.histogram(mg.tensor([1, 2]), 2), TypeError, "float32 and float64"),
    "one_edge": (lambda x: mg.histogram(x, mg.tensor([1.0], dtype=mg.float64)), ValueError, "bins must be > 0"),
    "dd_vector": (lambda x: mg.histogramdd(x, 2), ValueError, "at least 2 dimensions"),
    "dd_bins": (lambda x: mg.histogramdd(x.reshape(20, 2), [2]), ValueError, "innermost dimension"),
    "dd_range": (lambda x: mg.histogramdd(x.reshape(20, 2), 2, range=[0.0, 1.0]), ValueError, "4 elements"),
}


@pytest.mark.parametrize("name", sorted(HISTOGRAM_ERRORS))
def test_histogram_errors_as_torchs(name: str) -> None:
    call, kind, message = HISTOGRAM_ERRORS[name]
    with pytest.raises(kind, match=message):
        call(mg.tensor(POINTS))


def test_histogram_replays_with_new_values_under_compile() -> None:
    compiled = mg.compile(lambda x: mg.histogram(x, 4).hist * 1)
    for values in ([0.0, 1.0, 1.0, 3.0], [5.0, 5.0, 6.0, 9.0], [0.0, 0.0, 0.0, 4.0]):
        x = mg.tensor(values, dtype=mg.float64)
        np.testing.assert_array_equal(compiled(x).numpy(), mg.histogram(x, 4).hist.numpy())


# --- combinations, vander, cumulative_trapezoid, chain_matmul ------------------------------------------------------

VECTOR = RNG.standard_normal(4)
Y = RNG.standard_normal((3, 4))
SEQUENCE_CASES: dict[str, tuple[Callable, tuple]] = {
    "combinations": (lambda lib, x: lib.combinations(x), (VECTOR,)),
    "combinations_3_replacement": (lambda lib, x: lib.combinations(x, r=3, with_replacement=True), (VECTOR,)),
    "combinations_0": (lambda lib, x: lib.combinations(x, 0), (VECTOR,)),
    "combinations_1": (lambda lib, x: lib.combinations(x, 1), (VECTOR,)),
    "combinations_too_many": (lambda lib, x: lib.combinations(x, 5), (VECTOR,)),
    "combinations_int": (lambda lib, x: lib.combinations(x, 2), (np.arange(4),)),
    "combinations_bool": (lambda lib, x: lib.combinations(x), (np.array([True, False]),)),
    "combinations_empty": (lambda lib, x: lib.combinations(x, 2), (VECTOR[:0],)),
    "cumulative_trapezoid": (lambda lib, y: lib.cumulative_trapezoid(y), (Y,)),
    "cumulative_trapezoid_dim0": (lambda lib, y: lib.cumulative_trapezoid(y, dim=0), (Y,)),
    "cumulative_trapezoid_dx": (lambda lib, y: lib.cumulative_trapezoid(y, dx=0.5), (Y,)),
    "cumulative_trapezoid_x": (lambda lib, y, x: lib.cumulative_trapezoid(y, x), (Y, np.array([0.0, 1.5, 2, 4]))),
    "cumulative_trapezoid_x_row": (lambda lib, y, x: lib.cumulative_trapezoid(y, x.reshape(1, 4)),
                                   (Y, np.array([0.0, 1.5, 2, 4]))),
    "cumulative_trapezoid_x_full": (lambda lib, y, x: lib.cumulative_trapezoid(y, x, dim=0), (Y, Y * 2)),
    "cumulative_trapezoid_int": (lambda lib, y: lib.cumulative_trapezoid(y), (np.arange(5),)),
    "cumulative_trapezoid_int_x": (lambda lib, y, x: lib.cumulative_trapezoid(y, x),
                                   (np.arange(3), np.array([0, 1, 3]))),
    "cumulative_trapezoid_int_y_float_x": (lambda lib, y, x: lib.cumulative_trapezoid(y, x),
                                           (np.arange(3), np.array([0.0, 1, 3]))),
    "cumulative_trapezoid_one": (lambda lib, y: lib.cumulative_trapezoid(y), (VECTOR[:1],)),
    "chain_matmul": (lambda lib, a, b, c: lib.chain_matmul(a, b, c), (Y, Y.T, Y)),
    "chain_matmul_one": (lambda lib, a: lib.chain_matmul(a), (Y,)),
    "chain_matmul_int": (lambda lib, a, b: lib.chain_matmul(a, b), (np.ones((2, 3), np.int64), np.ones((3, 2),
                                                                                                        np.int64))),
}
_sequences_same_as_torch, test_sequences_gradcheck = case_tests(SEQUENCE_CASES)


@pytest.mark.parametrize("name", sorted(SEQUENCE_CASES))
def test_sequences_same_as_torch(name: str, torch: Any) -> None:
    same_as_torch(torch, SEQUENCE_CASES[name][0], *SEQUENCE_CASES[name][1])


@pytest.mark.parametrize("kwargs", [{}, {"N": 6, "increasing": True}, {"N": 0}, {"N": 1}, {"increasing": True}])
@pytest.mark.parametrize("array", [VECTOR, np.array([0.0, 2.0, -1.0]), np.arange(3, dtype=np.int32),
                                   np.array([True, False]), VECTOR.astype(np.float32)],
                         ids=["float64", "zero", "int32", "bool", "float32"])
def test_vander_equals_torchs(kwargs: dict, array: np.ndarray, torch: Any) -> None:
    ours, theirs = mg.vander(mg.tensor(array), **kwargs), torch.vander(torch.from_numpy(array), **kwargs)
    assert ours.shape == tuple(theirs.shape) and ours.dtype == theirs.numpy().dtype
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


@pytest.mark.parametrize("increasing", [False, True])
def test_vander_gradient_is_linalg_vanders(increasing: bool, torch: Any) -> None:
    """torch.vander's own backward fails in torch 2.13 (a saved tensor changed in place): compare with
    torch.linalg.vander's, the same matrix up to the order of the columns."""
    x = np.array([0.5, 0.0, -2.0])

    def ours(lib: Any, v: Any) -> Any:
        return lib.vander(v, N=4, increasing=increasing)

    def theirs(lib: Any, v: Any) -> Any:
        columns = lib.linalg.vander(v, N=4)
        return columns if increasing else columns.flip(-1)

    mine, torchs = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    weights = RNG.standard_normal((3, 4))
    (ours(mg, mine) * mg.tensor(weights)).sum().backward()
    (theirs(torch, torchs) * torch.from_numpy(weights)).sum().backward()
    np.testing.assert_allclose(mine.grad.numpy(), torchs.grad.numpy(), rtol=1e-12)
    assert mg.gradcheck(lambda v: ours(mg, v), [mg.tensor(x, requires_grad=True)])


SEQUENCE_ERRORS: dict[str, tuple[Callable, type, str]] = {
    "combinations_matrix": (lambda: mg.combinations(mg.ones(2, 2)), ValueError, "1-D"),
    "combinations_negative": (lambda: mg.combinations(mg.ones(3), -1), ValueError, "non-negative"),
    "vander_matrix": (lambda: mg.vander(mg.ones(2, 2)), ValueError, "one-dimensional"),
    "vander_negative": (lambda: mg.vander(mg.ones(2), N=-1), ValueError, "non-negative"),
    "trapezoid_bool": (lambda: mg.cumulative_trapezoid(mg.tensor([True, False])), TypeError, "bool"),
    "trapezoid_0d": (lambda: mg.cumulative_trapezoid(mg.tensor(1.0)), IndexError, "0-d"),
    "trapezoid_dim": (lambda: mg.cumulative_trapezoid(mg.ones(2, 3), dim=2), IndexError, "out of range"),
    "trapezoid_x_length": (lambda: mg.cumulative_trapezoid(mg.ones(2, 3), mg.tensor([0.0, 1.0])), ValueError,
                           "one `x` value for each sample point"),
    "trapezoid_x_and_dx": (lambda: mg.cumulative_trapezoid(mg.ones(3), mg.ones(3), dx=1), TypeError, "not both"),
    "chain_matmul_none": (lambda: mg.chain_matmul(), ValueError, "one or more matrices"),
    "chain_matmul_vector": (lambda: mg.chain_matmul(mg.ones(2, 2), mg.ones(2)), ValueError, "2-D"),
    "chain_matmul_dtypes": (lambda: mg.chain_matmul(mg.ones(2, 2), mg.ones(2, 2).double()), TypeError, "dtype"),
}


@pytest.mark.parametrize("name", sorted(SEQUENCE_ERRORS))
def test_sequence_errors(name: str) -> None:
    call, kind, message = SEQUENCE_ERRORS[name]
    with pytest.raises(kind, match=message):
        call()


def test_chain_matmul_warns_as_torch() -> None:
    with pytest.warns(UserWarning, match="torch.chain_matmul is deprecated and will be removed"):
        mg.chain_matmul(mg.ones(2, 2), mg.ones(2, 2))


# --- the top-level in-place functions, unsafe_chunk/unsafe_split, bfloat16 -----------------------------------------

INPLACE_ARGUMENTS: dict[str, tuple] = {
    "addmv_": (np.ones((2, 3)), np.arange(3.0)), "clamp_": ((), {"min": 0.3, "max": 0.6}),
    "clamp_max_": (0.4,), "clamp_min_": (0.4,), "clip_": ((), {"min": 0.3}), "fill_": (2.5,),
    "ldexp_": (np.array([1.0, 2.0]),), "xlogy_": (np.array([2.0, 3.0]),), "index_put_": ((np.array([0]),),
                                                                                         np.array([9.0])),
    "resize_as_": (np.zeros((1, 2)),), "nan_to_num_": ((), {"nan": 0.0}),
}
INTEGER_INPLACE = {"gcd_": (np.array([4, 6]),), "lcm_": (np.array([4, 6]),)}


def _call(lib: Any, name: str, x: Any, spec: tuple) -> Any:
    args, kwargs = (spec[0], spec[1]) if len(spec) == 2 and isinstance(spec[1], dict) else (spec, {})
    args = tuple(tuple(lib.from_numpy(i) for i in a) if isinstance(a, tuple) else
                 lib.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args)
    return getattr(lib, name)(x, *args, **kwargs)


@pytest.mark.parametrize("name", spellings.INPLACE)
def test_each_top_level_inplace_function_changes_its_input_as_torchs(name: str, torch: Any) -> None:
    assert hasattr(torch, name)
    spec = INTEGER_INPLACE.get(name) or INPLACE_ARGUMENTS.get(name, ())
    array = np.array([12, 8]) if name in INTEGER_INPLACE else np.array([0.25, 0.75])
    ours, theirs = mg.tensor(array.copy()), torch.from_numpy(array.copy())
    result = _call(mg, name, ours, spec)
    _call(torch, name, theirs, spec)
    assert result is ours
    assert ours.shape == tuple(theirs.shape) and ours.dtype == theirs.numpy().dtype
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


def test_inplace_functions_refuse_what_is_not_a_tensor_and_name_a_wrong_argument() -> None:
    with pytest.raises(TypeError, match="exp_\\(\\): argument 'input' must be a Tensor"):
        mg.exp_(np.ones(2))
    with pytest.raises(TypeError, match="xlogy_\\(\\): missing a required argument: 'other'"):
        mg.xlogy_(mg.ones(2))
    with pytest.raises(TypeError, match="exp_\\(\\): got an unexpected keyword argument 'axis'"):
        mg.exp_(mg.ones(2), axis=0)


@pytest.mark.parametrize("call", [
    lambda lib, x: lib.unsafe_chunk(x, 2), lambda lib, x: x.unsafe_chunk(3, dim=1),
    lambda lib, x: lib.unsafe_split(x, 3, 1), lambda lib, x: x.unsafe_split(1),
    lambda lib, x: lib.unsafe_split_with_sizes(x, [1, 3], dim=1), lambda lib, x: x.unsafe_split_with_sizes([2, 1]),
], ids=["chunk", "chunk_method", "split", "split_method", "with_sizes", "with_sizes_method"])
def test_unsafe_chunk_and_split_are_chunk_and_split(call: Callable, torch: Any) -> None:
    same_as_torch(torch, call, RNG.standard_normal((3, 4)))


def test_unsafe_split_takes_an_int_as_torchs() -> None:
    with pytest.raises(TypeError, match="split_size must be an int"):
        mg.unsafe_split(mg.ones(4), [1, 3])


@pytest.mark.parametrize("call", [
    lambda torch: mg.tensor([1.0], dtype=mg.bfloat16), lambda torch: mg.ones(2).to(mg.bfloat16),
    lambda torch: mg.zeros(2, dtype="bfloat16"), lambda torch: mg.ones(2).bfloat16(),
    lambda torch: mg.ones(2, dtype=torch.bfloat16), lambda torch: mg.bfloat16(),
    lambda torch: mg.set_default_dtype(mg.bfloat16),
], ids=["tensor", "to", "string", "method", "torch_dtype", "call", "default"])
def test_bfloat16_is_refused_with_a_clear_type_error(call: Callable, torch: Any) -> None:
    with pytest.raises(TypeError, match="NumPy .* has no bfloat16 dtype"):
        call(torch)


# --- on the GPU (a real one, or the strict CuPy stand-in) -----------------------------------------------------------

GPU_CASES: dict[str, tuple[Callable, tuple]] = {
    "lu_factor_ex": (lambda lib, a: lib.linalg.lu_factor_ex(a), (BATCH,)),
    "lu": (lambda lib, a: lib.linalg.lu(a), (TALL,)),
    "lu_solve": (lambda lib, a, b: lib.linalg.lu_solve(*lib.linalg.lu_factor(a), b, adjoint=True), (BATCH, BATCH_B)),
    # (detached: histograms of an x that requires grad require grad, and backward raises, as PyTorch's)
    "histogram": (lambda lib, x: lib.histogram(x.detach(), 5, weight=x.detach().abs()), (POINTS,)),
    "histogramdd": (lambda lib, x: lib.histogramdd(x.detach().reshape(20, 2), 3, density=True), (POINTS,)),
    "combinations": (lambda lib, x: lib.combinations(x, 3), (VECTOR,)),
    "vander": (lambda lib, x: lib.vander(x, 5), (VECTOR,)),
    "cumulative_trapezoid": (lambda lib, y: lib.cumulative_trapezoid(y, dim=0), (Y,)),
}
test_same_on_gpu_as_on_cpu = gpu_case_tests(GPU_CASES)
