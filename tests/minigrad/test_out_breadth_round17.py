"""PyTorch's ``out=`` on the ~200 functions that take it through ``outputs.takes_out`` (minigrad/outputs.py's
OUT_RULES), a representative sample of each family against torch 2.13: the returned object is ``out`` itself
(each tensor of a tuple), with torch's values, dtype and shape, a resize warning exactly where torch gives one,
the dtypes torch refuses refused, autograd refused, out's version bumped and PyTorch's memory-overlap checks.
"""

from __future__ import annotations

import inspect
import pickle
import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
from minigrad.outputs import OUT_RULES

torch = pytest.importorskip("torch", reason="no torch")

RNG = np.random.default_rng(17)
X = RNG.uniform(0.1, 0.9, (3, 4)).astype(np.float32)
Y = RNG.uniform(0.1, 0.9, (3, 4)).astype(np.float32)
A = RNG.standard_normal((3, 3)) + 3 * np.eye(3)
SPD = A @ A.T
I34 = np.array([[3, 6, 2, 9], [4, 8, 5, 1], [7, 2, 6, 3]])
J34 = np.array([[1, 2, 3, 1], [2, 0, 1, 3], [1, 1, 2, 0]])


def _t(lib: Any, array: np.ndarray) -> Any:
    return lib.tensor(array.copy())


def _ns(lib: Any, where: str) -> Any:
    return lib if where in ("mg", "statistics") else getattr(lib, where)   # (statistics: mg's, as they are)


def _out(shape: tuple, dtype: str = "float32") -> Callable:
    return lambda lib: lib.empty(shape, dtype=getattr(lib, dtype))


def _outs(*specs: tuple) -> Callable:
    return lambda lib: tuple(lib.empty(shape, dtype=getattr(lib, dtype)) for shape, dtype in specs)


# name: (fn(lib, out), make_out(lib)); an empty or wrong-shaped out checks the resize and its warning
CASES: dict[str, tuple[Callable, Callable]] = {
    # elementwise, cast into out
    "sin": (lambda t, o: t.sin(_t(t, X), out=o), _out((3, 4))),
    "acos_into_float64": (lambda t, o: t.acos(_t(t, X), out=o), _out((3, 4), "float64")),
    "arccos_resized": (lambda t, o: t.arccos(_t(t, X), out=o), _out((2,))),
    "sigmoid_from_empty": (lambda t, o: t.sigmoid(_t(t, X), out=o), _out((0,))),
    "sin_long_into_complex": (lambda t, o: t.sin(_t(t, I34), out=o), _out((3, 4), "complex64")),
    "eq_into_float": (lambda t, o: t.eq(_t(t, X), _t(t, Y), out=o), _out((3, 4))),
    "lt_broadcast": (lambda t, o: t.lt(_t(t, X), _t(t, Y[0]), out=o), _out((3, 4), "bool")),
    "logical_and_into_long": (lambda t, o: t.logical_and(_t(t, X > 0.5), _t(t, Y > 0.5), out=o), _out((3, 4), "int64")),
    "hypot": (lambda t, o: t.hypot(_t(t, X), _t(t, Y), out=o), _out((3, 4))),
    "fmod_scalar": (lambda t, o: t.fmod(_t(t, X), 0.3, out=o), _out((3, 4), "float64")),
    "remainder_ints": (lambda t, o: t.remainder(_t(t, I34), _t(t, J34 + 1), out=o), _out((3, 4), "int64")),
    "bitwise_xor": (lambda t, o: t.bitwise_xor(_t(t, I34), _t(t, J34), out=o), _out((3, 4), "int64")),
    "gcd_into_float": (lambda t, o: t.gcd(_t(t, I34), _t(t, J34), out=o), _out((3, 4))),
    "addcdiv": (lambda t, o: t.addcdiv(_t(t, X), _t(t, Y), _t(t, X + 1), value=0.5, out=o), _out((3, 4))),
    "polygamma": (lambda t, o: t.polygamma(1, _t(t, X), out=o), _out((3, 4))),
    "xlogy": (lambda t, o: t.xlogy(_t(t, X), _t(t, Y), out=o), _out((3, 4), "float64")),
    "special_zeta": (lambda t, o: t.special.zeta(_t(t, X + 1), _t(t, Y + 1), out=o), _out((3, 4))),
    "special_expit": (lambda t, o: t.special.expit(_t(t, X), out=o), _out((3, 4), "float64")),
    "special_bessel_j0": (lambda t, o: t.special.bessel_j0(_t(t, X), out=o), _out((0,))),
    # elementwise, out of the result's own dtype
    "neg": (lambda t, o: t.neg(_t(t, X), out=o), _out((3, 4))),
    "floor_long": (lambda t, o: t.floor(_t(t, I34), out=o), _out((3, 4), "int64")),
    "clamp_min": (lambda t, o: t.clamp_min(_t(t, X), 0.5, out=o), _out((3, 4))),
    "nan_to_num": (lambda t, o: t.nan_to_num(_t(t, np.array([np.nan, np.inf, 1.0])), out=o), _out((3,), "float64")),
    "signbit": (lambda t, o: t.signbit(_t(t, X - 0.5), out=o), _out((3, 4), "bool")),
    "polar": (lambda t, o: t.polar(_t(t, X), _t(t, Y), out=o), _out((3, 4), "complex64")),
    # reductions, scans and sorts
    "argmax": (lambda t, o: t.argmax(_t(t, X), 1, out=o), _out((3,), "int64")),
    "all_dim": (lambda t, o: t.all(_t(t, X > 0.3), 1, out=o), _out((0,), "bool")),
    "std_into_float64": (lambda t, o: t.std(_t(t, X), 1, out=o), _out((3,), "float64")),
    "var_correction": (lambda t, o: t.var(_t(t, X), 0, correction=0, out=o), _out((4,))),
    "norm": (lambda t, o: t.norm(_t(t, X), 2, 1, out=o), _out((3,))),
    "logsumexp": (lambda t, o: t.logsumexp(_t(t, X), 1, out=o), _out((3,))),
    "prod_into_float64": (lambda t, o: t.prod(_t(t, X), 1, out=o), _out((3,), "float64")),
    "prod_into_long": (lambda t, o: t.prod(_t(t, X * 4), 1, out=o), _out((3,), "int64")),
    "cumprod_into_long": (lambda t, o: t.cumprod(_t(t, X * 4), 1, out=o), _out((3, 4), "int64")),
    "nansum_into_float64": (lambda t, o: t.nansum(_t(t, X), 1, out=o), _out((3,), "float64")),
    "nanmean": (lambda t, o: t.nanmean(_t(t, X), 0, out=o), _out((4,))),
    "median_dim": (lambda t, o: t.median(_t(t, X), 1, out=o), _outs(((3,), "float32"), ((3,), "int64"))),
    "cummax_resized": (lambda t, o: t.cummax(_t(t, X), 1, out=o), _outs(((2,), "float32"), ((0,), "int64"))),
    "mode": (lambda t, o: t.mode(_t(t, I34 % 3), 1, out=o), _outs(((3,), "int64"), ((3,), "int64"))),
    "argsort": (lambda t, o: t.argsort(_t(t, X), stable=True, out=o), _out((3, 4), "int64")),
    "quantile": (lambda t, o: t.quantile(_t(t, X), 0.3, dim=1, out=o), _out((3,))),
    # shapes, indexing, products, linear algebra
    "hstack": (lambda t, o: t.hstack([_t(t, X), _t(t, Y)], out=o), _out((3, 8))),
    "vstack_into_float64": (lambda t, o: t.vstack([_t(t, X), _t(t, Y)], out=o), _out((6, 4), "float64")),
    "tril": (lambda t, o: t.tril(_t(t, X), -1, out=o), _out((3, 4))),
    "diff": (lambda t, o: t.diff(_t(t, X), dim=1, out=o), _out((0,))),
    "index_add": (lambda t, o: t.index_add(_t(t, X), 0, t.tensor([2, 0]), _t(t, Y[:2]), alpha=2, out=o),
                  _out((3, 4))),
    "scatter_reduce": (lambda t, o: t.scatter_reduce(_t(t, X), 1, _t(t, I34 % 4), _t(t, Y), "amax", out=o),
                       _out((3, 4))),
    "take_along_dim": (lambda t, o: t.take_along_dim(_t(t, X), _t(t, I34 % 4), dim=1, out=o), _out((3, 4))),
    "searchsorted": (lambda t, o: t.searchsorted(_t(t, np.sort(X[0])), _t(t, Y), out=o), _out((3, 4), "int64")),
    "nonzero": (lambda t, o: t.nonzero(_t(t, X > 0.5), out=o), _out((0,), "int64")),
    "histc": (lambda t, o: t.histc(_t(t, X), bins=4, out=o), _out((4,))),
    "addmm": (lambda t, o: t.addmm(_t(t, X), _t(t, X[:, :3]), _t(t, Y[:3]), beta=0.5, out=o), _out((3, 4))),
    "addbmm_resized_silently": (lambda t, o: t.addbmm(_t(t, X), _t(t, np.stack([X[:, :3], Y[:, :3]])),
                                                      _t(t, np.stack([Y, X])[:, :3]), out=o), _out((5,))),
    "outer_into_float64": (lambda t, o: t.outer(_t(t, X[0]), _t(t, Y[0]), out=o), _out((4, 4), "float64")),
    "kron": (lambda t, o: t.kron(_t(t, X[:2, :2]), _t(t, Y[:2, :3]), out=o), _out((4, 6))),
    "inverse": (lambda t, o: t.inverse(_t(t, A), out=o), _out((3, 3), "float64")),
    "cholesky": (lambda t, o: t.cholesky(_t(t, SPD), out=o), _out((0,), "float64")),
    "slogdet": (lambda t, o: t.slogdet(_t(t, A), out=o), _outs(((), "float64"), ((), "float64"))),
    "frexp": (lambda t, o: t.frexp(_t(t, X * 10), out=o), _outs(((3, 4), "float32"), ((3, 4), "int32"))),
    "narrow_copy_resized_silently": (lambda t, o: t.narrow_copy(_t(t, X), 1, 1, 2, out=o), _out((7,))),
    "view_copy": (lambda t, o: t.view_copy(_t(t, X), (4, 3), out=o), _out((4, 3))),
    # creation, fft
    "range_long_silently_resized": (lambda t, o: t.range(0, 4, out=o), _out((2,), "int64")),
    "fft_rfft": (lambda t, o: t.fft.rfft(_t(t, X), out=o), _out((3, 3), "complex128")),
    "fft_irfft": (lambda t, o: t.fft.irfft(_t(t, X).to(t.complex64), out=o), _out((3, 6))),
    "fft_fftfreq_float64": (lambda t, o: t.fft.fftfreq(5, out=o), _out((5,), "float64")),
}


def _run(lib: Any, fn: Callable, make_out: Callable) -> tuple[Any, Any, list]:
    out = make_out(lib)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(lib, out)
    return out, result, [w for w in caught if "resized" in str(w.message)]


@pytest.mark.parametrize("name", sorted(CASES))
def test_out_gets_torchs_result(name: str) -> None:
    fn, make_out = CASES[name]
    out, result, resized = _run(mg, fn, make_out)
    torch_out, _, torch_resized = _run(torch, fn, make_out)
    if isinstance(out, tuple):
        assert isinstance(result, tuple) and all(mine is theirs for mine, theirs in zip(result, out))
    else:
        assert result is out
    assert bool(resized) == bool(torch_resized), f"resize warnings: {resized} vs torch's {torch_resized}"
    for mine, theirs in zip(out if isinstance(out, tuple) else (out,),
                            torch_out if isinstance(torch_out, tuple) else (torch_out,)):
        assert (str(mine.dtype), mine.shape) == (str(theirs.dtype).replace("torch.", ""), tuple(theirs.shape))
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-7)


def test_accumulating_functions_compute_in_outs_dtype_as_torch() -> None:
    """prod, cumprod, nansum and nanmean accumulate in out's dtype (float64 bits, not float32's cast)."""
    x = RNG.uniform(0.5, 1.5, (4, 50)).astype(np.float32)
    for name in ("prod", "cumprod", "nansum", "nanmean"):
        ours, theirs = mg.empty(0, dtype=mg.float64), torch.empty(0, dtype=torch.float64)
        getattr(mg, name)(mg.tensor(x), 1, out=ours)
        getattr(torch, name)(torch.tensor(x), 1, out=theirs)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-14)   # float32's cast: 1e-8 off
        with pytest.raises(RuntimeError):   # an explicit dtype must be out's, as torch's
            getattr(torch, name)(torch.tensor(x), 1, dtype=torch.float32, out=theirs)
        with pytest.raises(RuntimeError, match="does not match"):
            getattr(mg, name)(mg.tensor(x), 1, dtype=mg.float32, out=ours)


# calls torch refuses for out's dtype
REFUSED: dict[str, Callable] = {
    "sin_into_long": lambda t: t.sin(_t(t, X), out=t.empty(3, 4, dtype=t.int64)),
    "sin_long_into_long": lambda t: t.sin(_t(t, I34), out=t.empty(3, 4, dtype=t.int64)),
    "eq_bool_into_nothing_narrower": lambda t: t.hypot(_t(t, X), _t(t, Y), out=t.empty(3, 4, dtype=t.bool)),
    "neg_into_float64": lambda t: t.neg(_t(t, X), out=t.empty(3, 4, dtype=t.float64)),
    "argmax_into_int32": lambda t: t.argmax(_t(t, X), 1, out=t.empty(3, dtype=t.int32)),
    "cummax_other_indices": lambda t: t.cummax(_t(t, X), 1, out=(t.empty(0), t.empty(0))),
    "all_into_float": lambda t: t.all(_t(t, X > 0.3), 1, out=t.empty(3)),
    "nansum_into_long": lambda t: t.nansum(_t(t, X), 1, out=t.empty(3, dtype=t.int64)),
    "cumprod_into_bool": lambda t: t.cumprod(_t(t, X), 1, out=t.empty(3, 4, dtype=t.bool)),
    "addmm_into_float64": lambda t: t.addmm(_t(t, X), _t(t, X[:, :3]), _t(t, Y[:3]), out=t.empty(3, 4).double()),
    "irfft_into_complex": lambda t: t.fft.irfft(_t(t, X).to(t.complex64), out=t.empty(0, dtype=t.complex64)),
    "fftfreq_into_long": lambda t: t.fft.fftfreq(5, out=t.empty(5, dtype=t.int64)),
    "range_into_bool": lambda t: t.range(0, 4, out=t.empty(5, dtype=t.bool)),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_dtype_torch_refuses_for_out_is_refused(name: str) -> None:
    with warnings.catch_warnings(), pytest.raises(RuntimeError):
        warnings.simplefilter("ignore")
        REFUSED[name](torch)
    with warnings.catch_warnings(), pytest.raises(RuntimeError):
        warnings.simplefilter("ignore")
        REFUSED[name](mg)


def test_all_any_refuse_the_uint8_out_torch_fills_inconsistently() -> None:
    """torch.all(x, out=uint8) over every element gives 0 for an x with no zero (along a dim it is right): no
    uint8 out here, a clear error instead."""
    x = np.array([[3.0, 0.5], [2.0, 5.0]], dtype=np.float32)
    assert torch.all(torch.tensor(x)).item() and torch.all(torch.tensor(x), out=torch.empty((), dtype=torch.uint8)) == 0
    for name in ("all", "any"):
        for dim in ((), (1,)):
            with pytest.raises(RuntimeError, match="may not have dtype uint8"):
                getattr(mg, name)(mg.tensor(x), *dim, out=mg.empty(2, dtype=mg.uint8))


@pytest.mark.parametrize("lib", [torch, mg], ids=["torch", "mg"])
def test_autograd_refused_and_outs_version_bumped(lib: Any) -> None:
    x = lib.tensor(X.copy(), requires_grad=True)
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        lib.sin(x, out=lib.empty(3, 4))
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        lib.cummax(x, 1, out=(lib.empty(0), lib.empty(0, dtype=lib.int64)))
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        lib.sin(x.detach(), out=lib.empty(3, 4, requires_grad=True))
    out = lib.empty(3, 4)
    before = out._version
    with lib.no_grad():
        assert lib.sin(x, out=out) is out and not out.requires_grad
    assert out._version > before
    np.testing.assert_allclose(out.numpy(), np.sin(X), rtol=1e-6)


# fn(lib, x) writing into x (3 x 3) itself or from its transpose; PyTorch refuses, or computes a wrong result
OVERLAPS: dict[str, Callable] = {
    "sin_transposed": lambda t, x: t.sin(x.T, out=x),
    "cross_itself": lambda t, x: t.cross(x, x.flip(0), dim=1, out=x),
    "take_along_dim_itself": lambda t, x: t.take_along_dim(x, t.zeros(3, 3, dtype=t.int64), dim=1, out=x),
    "tril_transposed": lambda t, x: t.tril(x.T, out=x),
    "matrix_power_transposed": lambda t, x: t.matrix_power(x.T, 3, out=x),
}
WRONG_IN_TORCH = {"tril_transposed": lambda a: np.tril(a.T), "matrix_power_transposed": lambda a: a.T @ a.T @ a.T}
SHARED_FINE: dict[str, Callable] = {
    "sin_itself": lambda t, x: t.sin(x, out=x),
    "tril_itself": lambda t, x: t.tril(x, out=x),
    "inverse_transposed": lambda t, x: t.inverse(x.T, out=x),
    "cholesky_inverse_transposed": lambda t, x: t.cholesky_inverse(x.T.tril(), out=x),
    "index_add_itself": lambda t, x: t.index_add(x, 0, t.tensor([2, 0]), x[:2].clone(), out=x),
}


@pytest.mark.parametrize("name", sorted(OVERLAPS))
def test_an_out_overlapping_an_input_is_refused(name: str) -> None:
    with pytest.raises(RuntimeError, match="single memory location"):
        OVERLAPS[name](mg, _t(mg, A))
    if name in WRONG_IN_TORCH:   # torch writes out while it reads the input: refused here, never a wrong value
        theirs = _t(torch, A)
        OVERLAPS[name](torch, theirs)
        assert not np.allclose(theirs.numpy(), WRONG_IN_TORCH[name](A))
    else:
        with pytest.raises(RuntimeError, match="single memory location"):
            OVERLAPS[name](torch, _t(torch, A))


@pytest.mark.parametrize("name", sorted(SHARED_FINE))
def test_an_out_sharing_an_inputs_memory_where_torch_allows_it(name: str) -> None:
    ours, theirs = _t(mg, A), _t(torch, A)
    SHARED_FINE[name](mg, ours)
    SHARED_FINE[name](torch, theirs)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10)


def test_every_listed_function_takes_out_and_keeps_its_signature_and_aliases() -> None:
    for where, rules in OUT_RULES.items():
        for name in rules:
            fn = getattr(_ns(mg, where), name)
            parameters = inspect.signature(fn).parameters
            assert parameters["out"].kind is inspect.Parameter.KEYWORD_ONLY, (where, name)
            assert list(parameters)[:-1] == list(inspect.signature(fn.__wrapped__).parameters), (where, name)
            assert callable(getattr(_ns(torch, where), name)), (where, name)
    assert mg.acos is mg.arccos and mg.special.expit is mg.sigmoid and mg.special.psi is mg.special.digamma
    x = mg.tensor(X)
    assert mg.sin(x).requires_grad is False and mg.cummax(x, 1).indices.dtype == mg.int64   # no out: as before


def test_the_deprecation_warnings_of_wrapped_functions_name_the_callers_line() -> None:
    """takes_out's wrapper is one more frame: a warning inside the wrapped function still points at the user's
    line, with out= and without."""
    a = mg.tensor(A)
    calls = [lambda: mg.qr(a), lambda: mg.cholesky(mg.tensor(SPD)), lambda: mg.range(0, 3),
             lambda: mg.chain_matmul(a, a), lambda: a.qr(),
             lambda: mg.qr(a, out=(mg.empty(0, dtype=mg.float64), mg.empty(0, dtype=mg.float64)))]
    for call in calls:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        assert [w.filename for w in caught] == [__file__], [(w.filename, str(w.message)) for w in caught]


def test_wrapped_functions_pickle_by_their_public_names() -> None:
    for fn in (mg.sin, mg.arccos, mg.special.expit, mg.special.psi, mg.fft.rfft, mg.nansum, mg.cummax):
        assert pickle.loads(pickle.dumps(fn)) is fn
