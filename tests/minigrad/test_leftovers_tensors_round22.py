"""Round 22 leftovers, tensors: PyTorch's ``axis=`` alias of ``dim=`` where NumPy has no function of the name,
NumPy's ``axis=`` result where it has one (DESIGN §3), and the dtypes and values of the rarer factories.

Each case is compared with live PyTorch 2.13 (and NumPy where NumPy's result is the contract)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="PyTorch is the reference for these tests")

RNG = np.random.default_rng(22)
X = RNG.standard_normal((3, 4, 5)).astype(np.float32)
X2 = RNG.standard_normal((3, 4, 5)).astype(np.float32)
V3 = RNG.standard_normal((3, 3, 3)).astype(np.float32)
SQ = RNG.standard_normal((3, 1, 5)).astype(np.float32)
I4 = RNG.integers(0, 4, (3, 2, 5)).astype(np.int64)
IDX = np.array([0, 2, 1], dtype=np.int64)


def _t(value: Any) -> Any:
    """An array argument, converted by each library (marks the arrays of a case's keywords)."""
    return ("array", value)


def _lib(value: Any, make: Any) -> Any:
    return make(value[1].copy()) if isinstance(value, tuple) and value[:1] == ("array",) else value


def _arrays(result: Any) -> list:
    if isinstance(result, (tuple, list)):
        return [a for part in result for a in _arrays(part)]
    if isinstance(result, (int, float)):
        return [np.asarray(result)]
    return [result.detach().resolve_conj().numpy() if hasattr(result, "detach") else result.numpy()]


def _same(ours: Any, theirs: Any) -> None:
    a, b = _arrays(ours), _arrays(theirs)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.shape == y.shape and x.dtype == y.dtype, (x.dtype, x.shape, y.dtype, y.shape)
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)


# name, self, keywords besides the dim, dim: torch takes each of these with axis= (NumPy has no such function)
AXIS_CASES = [
    ("gather", X, {"index": _t(I4)}, 1),
    ("index_select", X, {"index": _t(IDX)}, 1),
    ("index_add", X, {"index": _t(IDX), "source": _t(X2[:, :3])}, 1),
    ("index_add_", X, {"index": _t(IDX), "source": _t(X2[:, :3])}, 1),
    ("index_copy", X, {"index": _t(IDX), "source": _t(X2[:, :3])}, 1),
    ("index_copy_", X, {"index": _t(IDX), "source": _t(X2[:, :3])}, 1),
    ("index_fill", X, {"index": _t(IDX), "value": 2.0}, 1),
    ("index_fill_", X, {"index": _t(IDX), "value": 2.0}, 1),
    ("index_reduce", X, {"index": _t(IDX), "source": _t(X2[:, :3]), "reduce": "amax"}, 1),
    ("index_reduce_", X, {"index": _t(IDX), "source": _t(X2[:, :3]), "reduce": "amax"}, 1),
    ("scatter", X, {"index": _t(I4), "src": _t(X2)}, 1),
    ("scatter", X, {"index": _t(I4), "value": 3.0}, 1),
    ("scatter_", X, {"index": _t(I4), "src": _t(X2)}, 1),
    ("scatter_add", X, {"index": _t(I4), "src": _t(X2)}, 1),
    ("scatter_add_", X, {"index": _t(I4), "src": _t(X2)}, 1),
    ("scatter_reduce", X, {"index": _t(I4), "src": _t(X2), "reduce": "amax"}, 1),
    ("scatter_reduce_", X, {"index": _t(I4), "src": _t(X2), "reduce": "amax"}, 1),
    ("narrow", X, {"start": 1, "length": 2}, 1),
    ("narrow_copy", X, {"start": 1, "length": 2}, 1),
    ("select", X, {"index": 2}, 1),
    ("select_copy", X, {"index": 2}, 1),
    ("slice_copy", X, {"start": 1, "end": 3}, 1),
    ("slice_scatter", X, {"src": _t(X2[:, 1:3]), "start": 1, "end": 3}, 1),
    ("select_scatter", X, {"src": _t(X2[:, 2]), "index": 2}, 1),
    ("split_copy", X, {"split_size": 2}, 1),
    ("split_with_sizes", X, {"split_sizes": [1, 3]}, 1),
    ("split_with_sizes_copy", X, {"split_sizes": [1, 3]}, 1),
    ("unsafe_split", X, {"split_size": 2}, 1),
    ("unsafe_split_with_sizes", X, {"split_sizes": [1, 3]}, 1),
    ("unsafe_chunk", X, {"chunks": 2}, 1),
    ("squeeze_copy", SQ, {}, 1),
    ("squeeze_copy", X, {}, 1),            # a dim of length 4 stays, as PyTorch's (no NumPy squeeze_copy)
    ("squeeze_", SQ, {}, 1),
    ("squeeze_", X, {}, 1),
    ("unsqueeze_", X, {}, 1),
    ("unsqueeze_copy", X, {}, 1),
    ("unbind_copy", X, {}, 1),
    ("unflatten", X, {"sizes": (2, 2)}, 1),
    ("renorm", X, {"p": 2, "maxnorm": 1.0}, 1),
    ("renorm_", X, {"p": 2, "maxnorm": 1.0}, 1),
    ("cross", V3, {"other": _t(V3[::-1].copy())}, 1),
    ("cosine_similarity", X, {"x2": _t(X2)}, 1),
    ("frobenius_norm", X, {}, (0, 1)),
    ("nuclear_norm", X, {}, (0, 1)),
    ("var_mean", X, {}, 1),
    ("std_mean", X, {}, 1),
    ("var_mean", X, {"correction": 0}, (0, 2)),
    ("std_mean", X, {"unbiased": False}, 1),
    ("size", X, {}, 1),
    ("stride", X, {}, 1),
    ("cumsum_", X, {}, 1),
    ("cumprod_", X, {}, 1),
]


def _call(lib: Any, kind: str, name: str, selfv: np.ndarray, kw: dict, dim_kw: dict) -> Any:
    make = torch.tensor if lib is torch else mg.tensor
    args = {k: _lib(v, make) for k, v in kw.items()}
    if kind == "function":
        return getattr(lib, name)(make(selfv.copy()), **args, **dim_kw)
    return getattr(make(selfv.copy()), name)(**args, **dim_kw)


# every (kind, case) torch has: torch.Tensor.unflatten (a Python method) alone takes no axis=
AXIS_PARAMS = [(kind, *case) for kind in ("function", "method") for case in AXIS_CASES
               if hasattr(torch if kind == "function" else torch.Tensor, case[0])
               and (kind, case[0]) != ("method", "unflatten")]


@pytest.mark.parametrize(("kind", "name", "selfv", "kw", "dim"), AXIS_PARAMS,
                         ids=[f"{p[0]}-{p[1]}-{i}" for i, p in enumerate(AXIS_PARAMS)])
def test_axis_is_dims_alias_where_numpy_has_no_such_function(kind: str, name: str, selfv: np.ndarray, kw: dict,
                                                               dim: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # frobenius_norm/nuclear_norm's deprecation
        with torch.no_grad():
            expected = _call(torch, kind, name, selfv, kw, {"axis": dim})
        _same(_call(mg, kind, name, selfv, kw, {"axis": dim}), expected)
        _same(_call(mg, kind, name, selfv, kw, {"dim": dim}), expected)


def test_axis_alias_refuses_both_and_neither() -> None:
    x, index = mg.tensor(X), mg.tensor(I4)
    with pytest.raises(TypeError, match="gather"):
        mg.gather(x, 1, index, axis=1)
    with pytest.raises(TypeError, match="dim"):
        mg.gather(x, index=index)
    with pytest.raises(TypeError, match="index"):
        mg.gather(x, axis=1)
    with pytest.raises(TypeError, match="maxnorm"):
        mg.renorm(x, 2, axis=1)
    with pytest.raises(TypeError):
        torch.gather(torch.tensor(X), index=torch.tensor(I4))   # torch: a TypeError too


@pytest.mark.parametrize(("name", "kw"), [("frobenius_norm", {"dim": (0, 1)}), ("frobenius_norm", {"axis": (0, 1)}),
                                          ("nuclear_norm", {"dim": (0, 1)}), ("nuclear_norm", {"axis": (1, 2)})])
def test_legacy_norms_take_keepdims(name: str, kw: dict) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _same(getattr(mg, name)(mg.tensor(X), keepdims=True, **kw), getattr(torch, name)(torch.tensor(X),
                                                                                           keepdims=True, **kw))


@pytest.mark.parametrize("keep", [{}, {"keepdims": True}, {"keepdim": True}])
@pytest.mark.parametrize("name", ["var_mean", "std_mean"])
def test_var_mean_axis_is_pytorchs_alias_with_correction_1(name: str, keep: dict) -> None:
    """NumPy has no var_mean: axis= is PyTorch's alias of dim=, so correction=1 (var(axis=) keeps ddof=0)."""
    ours = getattr(mg, name)(mg.tensor(X), axis=1, **keep)
    _same(ours, getattr(torch, name)(torch.tensor(X), axis=1, **keep))
    assert not np.allclose(ours[0].numpy(), np.var(X, axis=1) if name == "var_mean" else np.std(X, axis=1))


def test_nn_functional_cosine_similarity_takes_axis() -> None:
    _same(nn.functional.cosine_similarity(mg.tensor(X), mg.tensor(X2), axis=2),
          torch.nn.functional.cosine_similarity(torch.tensor(X), torch.tensor(X2), axis=2))


@pytest.mark.parametrize("axis", [1, -1, (1,), (0, 1), None])
@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_gradient_axis_is_numpys(axis: Any, dtype: Any) -> None:
    """NumPy has gradient: its axis= gives np.gradient's result (one array for one axis; ints in float64); dim=
    keeps PyTorch's tuple."""
    f = (np.arange(20).reshape(4, 5) ** 2).astype(dtype) if axis is not None else np.arange(6).astype(dtype) ** 2
    ours, expected = mg.gradient(mg.tensor(f), axis=axis), np.gradient(f, axis=axis)
    if isinstance(expected, np.ndarray):
        assert isinstance(ours, mg.Tensor) and ours.dtype == expected.dtype
        np.testing.assert_allclose(ours.numpy(), expected)
    else:
        assert isinstance(ours, tuple) and len(ours) == len(expected)
        for a, b in zip(ours, expected):
            assert a.dtype == b.dtype
            np.testing.assert_allclose(a.numpy(), b)
    if axis is not None:
        _same(mg.gradient(mg.tensor(f), dim=axis), torch.gradient(torch.tensor(f), dim=axis))


# --- float16 local_response_norm, complex logspace/normal, Multinomial.entropy's dtype -------------------------

@pytest.mark.parametrize("shape", [(2, 3, 4, 4), (1, 3, 2, 2, 2)])
def test_float16_local_response_norm_of_4d_and_more_is_refused_on_the_cpu_as_torch(shape: tuple) -> None:
    a = RNG.random(shape).astype(np.float16)
    with pytest.raises(NotImplementedError):   # torch: its avg_pool3d has no Half CPU kernel
        torch.nn.functional.local_response_norm(torch.tensor(a), 2)
    with pytest.raises(NotImplementedError, match="float16"):
        nn.functional.local_response_norm(mg.tensor(a), 2)
    # 3-D float16 (avg_pool2d) and empty inputs still work, as torch's
    _same(nn.functional.local_response_norm(mg.tensor(a.reshape(shape[0], shape[1], -1)), 2),
          torch.nn.functional.local_response_norm(torch.tensor(a.reshape(shape[0], shape[1], -1)), 2))
    empty = np.zeros((0,) + shape[1:], np.float16)
    _same(nn.functional.local_response_norm(mg.tensor(empty), 2),
          torch.nn.functional.local_response_norm(torch.tensor(empty), 2))


@pytest.mark.parametrize(("args", "kw"), [
    ((0, 2j, 3), {}), ((1 + 1j, 2, 1), {}), ((True, 2j, 2), {}), ((0, 2j, 0), {}),
    ((0, 2, 3), {"dtype": "complex64"}), ((0, 2, 3), {"base": -2.0, "dtype": "complex64"}),
    ((-3, 4.5, 7), {"base": 2.0, "dtype": "complex128"}), ((0.5 - 1j, -2 + 3j, 9), {"base": 3.7}),
    ((1, 3 + 1j, 6), {"dtype": "complex128"}),
])
@pytest.mark.parametrize("default", ["float32", "float64"])
def test_complex_logspace_as_torch(args: tuple, kw: dict, default: str) -> None:
    """It raised for complex ends (TypeError) and gave NaN for a negative base in a complex dtype (torch's pow is
    complex there)."""
    tkw = {k: getattr(torch, v) if k == "dtype" else v for k, v in kw.items()}
    torch.set_default_dtype(getattr(torch, default))
    mg.set_default_dtype(getattr(mg, default))
    try:
        ours, theirs = mg.logspace(*args, **kw), torch.logspace(*args, **tkw)
    finally:
        torch.set_default_dtype(torch.float32)
        mg.set_default_dtype(mg.float32)
    a, b = ours.numpy(), theirs.numpy()
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=1e-5 if a.dtype == np.complex64 else 1e-13, atol=1e-30)


def test_complex_logspace_refuses_a_real_dtype_as_torch() -> None:
    with pytest.raises(RuntimeError):
        torch.logspace(0, 2j, 3, dtype=torch.float32)
    with pytest.raises(RuntimeError, match="complex"):
        mg.logspace(0, 2j, 3, dtype=mg.float32)


def test_float16_logspace_overflows_to_inf_as_torch() -> None:
    for args in [(0, 6, 5), (-10, 10, 5), (0, 20, 3)]:
        _same(mg.logspace(*args, dtype=mg.float16), torch.logspace(*args, dtype=torch.float16))


def test_complex_normal_as_torch() -> None:
    """A complex mean (or dtype) draws complex samples, each part with variance std²/2 (it raised)."""
    mean = np.full(20000, 1 + 2j, np.complex64)
    mg.manual_seed(0)
    z = mg.normal(mg.tensor(mean), 2.0)
    t = torch.normal(torch.tensor(mean), 2.0)
    assert z.dtype == np.complex64 and str(t.dtype) == "torch.complex64" and z.shape == tuple(t.shape)
    for part in (np.real, np.imag):
        assert abs(part(z.numpy()).std() - 2 / np.sqrt(2)) < 0.05
        assert abs(part(z.numpy()).mean() - part(mean[0])) < 0.05
    drawn = mg.normal(0.0, 3.0, (20000,), dtype=mg.complex128)
    assert drawn.dtype == np.complex128 == torch.normal(0.0, 3.0, (2,), dtype=torch.complex128).numpy().dtype
    assert abs(np.real(drawn.numpy()).std() - 3 / np.sqrt(2)) < 0.08
    with pytest.raises(RuntimeError, match="non-complex"):
        torch.normal(0.0, torch.ones(2, dtype=torch.complex64))
    with pytest.raises(RuntimeError, match="non-complex"):
        mg.normal(0.0, mg.ones(2, dtype=mg.complex64))


@pytest.mark.parametrize("default", ["float32", "float64"])
@pytest.mark.parametrize("probs_dtype", ["float32", "float64"])
@pytest.mark.parametrize("probs", [[0.2, 0.3, 0.5], [[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]]])
def test_multinomial_entropy_dtype_under_the_default_dtype(default: str, probs_dtype: str, probs: list) -> None:
    """Unbatched, PyTorch's entropy promotes with a 0-d tensor of the default dtype (ours stayed float32)."""
    torch.set_default_dtype(getattr(torch, default))
    mg.set_default_dtype(getattr(mg, default))
    try:
        ours = mg.distributions.Multinomial(3, probs=mg.tensor(probs, dtype=probs_dtype)).entropy()
        theirs = torch.distributions.Multinomial(3, probs=torch.tensor(probs, dtype=getattr(torch, probs_dtype)))
        theirs = theirs.entropy()
    finally:
        torch.set_default_dtype(torch.float32)
        mg.set_default_dtype(mg.float32)
    _same(ours, theirs)


def test_float16_polar_raises_pytorchs_not_implemented_error() -> None:
    half = np.array([1.5, 2.0], np.float16)
    with pytest.raises(NotImplementedError):   # torch: "polar_cpu" not implemented for 'Half'
        torch.polar(torch.tensor(half), torch.tensor(half))
    with pytest.raises(NotImplementedError, match="float16"):   # (it raised TypeError/RuntimeError)
        mg.polar(mg.tensor(half), mg.tensor(half))


# --- axis=/keepdims= in mg.linalg, mg.special and mg.fft (torch's C functions take them) --------------------

C3 = (RNG.standard_normal((3, 4, 5)) + 1j * RNG.standard_normal((3, 4, 5))).astype(np.complex64)
NAMESPACE_CASES = [
    ("linalg", "norm", X, {}, 1, {}), ("linalg", "norm", X, {}, (1, 2), {"keepdims": True}),
    ("linalg", "matrix_norm", X, {}, (0, 1), {"keepdims": True}),
    ("linalg", "vector_norm", X, {}, 1, {"keepdims": True}),
    ("linalg", "cross", V3, {"other": V3[::-1].copy()}, 1, {}), ("linalg", "vecdot", X, {"y": X2}, 1, {}),
    ("special", "softmax", X, {}, 1, {}), ("special", "log_softmax", X, {}, -1, {}),
    ("special", "logsumexp", X, {}, (0, 2), {"keepdims": True}),
    ("fft", "fft", C3, {}, 1, {}), ("fft", "rfft", X, {}, 1, {}), ("fft", "ihfft", X, {}, 0, {}),
    ("fft", "fft2", C3, {}, (0, 2), {}), ("fft", "irfftn", C3, {}, (1, 2), {}), ("fft", "fftshift", X, {}, (0, 1), {}),
]


@pytest.mark.parametrize(("ns", "name", "a", "others", "axis", "keep"), NAMESPACE_CASES,
                         ids=[f"{c[0]}.{c[1]}-{i}" for i, c in enumerate(NAMESPACE_CASES)])
def test_axis_alias_in_linalg_special_fft(ns: str, name: str, a: np.ndarray, others: dict, axis: Any,
                                          keep: dict) -> None:
    """They raised TypeError. NumPy's twins (linalg.norm/cross/vecdot, the one-dim ffts) give the same result."""
    ours = getattr(getattr(mg, ns), name)(mg.tensor(a), axis=axis, **{k: mg.tensor(v) for k, v in others.items()},
                                          **keep)
    theirs = getattr(getattr(torch, ns), name)(torch.tensor(a), axis=axis,
                                                **{k: torch.tensor(v) for k, v in others.items()}, **keep)
    _same(ours, theirs)
    with pytest.raises(TypeError):
        getattr(getattr(mg, ns), name)(mg.tensor(a), dim=axis, axis=axis,
                                       **{k: mg.tensor(v) for k, v in others.items()})


@pytest.mark.parametrize("start", [True, 2, 1.5, 1 + 1j])
def test_logspace_takes_a_0d_tensor_start_of_any_dtype(start: Any) -> None:
    # a 0-d bool tensor raised TypeError ("start must be a number, got bool")
    ours, theirs = mg.logspace(mg.tensor(start), 3, 4), torch.logspace(torch.tensor(start), 3, 4)
    a, b = ours.numpy(), theirs.numpy()
    assert a.dtype == b.dtype
    np.testing.assert_allclose(a, b, rtol=1e-5)


def test_pairwise_distance_takes_keepdims() -> None:
    for fn in (mg.pairwise_distance, nn.functional.pairwise_distance):   # (it raised TypeError)
        _same(fn(mg.tensor(X), mg.tensor(X2), keepdims=True),
              torch.nn.functional.pairwise_distance(torch.tensor(X), torch.tensor(X2), keepdims=True))
