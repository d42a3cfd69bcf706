"""Round 25's missing-API sweep: keywords torch 2.13 takes that minigrad refused (``layout=``/``pin_memory=`` on
the window functions, ``tril_indices``/``triu_indices``, ``scalar_tensor``, ``fft.fftfreq``/``rfftfreq``; ``out=``
on ``mg.linalg``), and names it lacked, each checked against torch."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="PyTorch is the reference for these tests")


def _lib_call(lib, name: str, args, kwargs):
    fn = lib
    for part in name.split("."):
        fn = getattr(fn, part)
    return fn(*args(lib), **kwargs(lib))


# --- layout= / pin_memory= where torch takes them -------------------------------------------------------------

def _options(lib) -> dict:
    return {"dtype": lib.float64, "layout": lib.strided, "device": "cpu"}


@pytest.mark.parametrize(("name", "args", "extra"), [
    ("hann_window", (5,), {"periodic": False, "requires_grad": True}),
    ("hamming_window", (5,), {"requires_grad": False, "pin_memory": False}),
    ("bartlett_window", (6,), {}),
    ("blackman_window", (4,), {"pin_memory": False}),
    ("kaiser_window", (5,), {"periodic": True, "beta": 8.0}),
    ("tril_indices", (3, 4), {"offset": 1, "dtype": None}),
    ("triu_indices", (4, 3), {"offset": -1, "dtype": None, "pin_memory": False}),
    ("scalar_tensor", (2.5,), {"requires_grad": True, "pin_memory": False}),
    ("fft.fftfreq", (5,), {"d": 0.5}),
    ("fft.rfftfreq", (6,), {"requires_grad": True, "pin_memory": False}),
])
def test_creation_functions_take_layout_and_pin_memory(name: str, args: tuple, extra: dict) -> None:
    # the windows refused layout=mg.strided itself (they compared str(layout) with "strided", and str(mg.strided)
    # is "mg.strided"); the others had no layout= / pin_memory= at all
    def kwargs(lib):
        options = {**_options(lib), **extra}
        if "dtype" in extra and extra["dtype"] is None:
            del options["dtype"]
        return options

    got = _lib_call(mg, name, lambda lib: args, kwargs)
    expected = _lib_call(torch, name, lambda lib: args, kwargs)
    np.testing.assert_allclose(got.numpy(), expected.detach().numpy(), rtol=1e-12)
    assert str(got.dtype) == str(expected.dtype).removeprefix("torch.")
    assert got.requires_grad == expected.requires_grad


@pytest.mark.parametrize("name", ["hann_window", "tril_indices", "scalar_tensor", "fft.fftfreq"])
def test_pin_memory_true_without_a_gpu_is_torch_runtime_error(name: str) -> None:
    if mg.cuda.is_available() or torch.cuda.is_available():
        pytest.skip("pin_memory=True is taken where a GPU exists")
    args = {"hann_window": (4,), "tril_indices": (3, 3), "scalar_tensor": (1.0,), "fft.fftfreq": (4,)}[name]
    for lib in (mg, torch):
        with pytest.raises(RuntimeError, match="pin"):
            _lib_call(lib, name, lambda lib: args, lambda lib: {"pin_memory": True})


def test_a_layout_that_is_not_strided_is_refused() -> None:
    with pytest.raises(TypeError, match="layout"):
        mg.hann_window(4, layout="sparse")
    with pytest.raises(TypeError, match="layout"):
        mg.tril_indices(3, 3, layout=0)


# --- out= on mg.linalg ------------------------------------------------------------------------------------------

def _matrices(lib, dtype):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    return lib.tensor(a, dtype=dtype), lib.tensor(a @ a.T, dtype=dtype), lib.tensor(rng.standard_normal(3), dtype=dtype)


_LINALG = {   # name: (args from (A, SPD, b), keywords)
    "inv": (lambda a, s, b: (a,), {}), "inv_ex": (lambda a, s, b: (a,), {}), "solve": (lambda a, s, b: (a, b), {}),
    "solve_ex": (lambda a, s, b: (a, b), {}), "det": (lambda a, s, b: (a,), {}),
    "slogdet": (lambda a, s, b: (a,), {}), "cholesky": (lambda a, s, b: (s,), {}),
    "cholesky_ex": (lambda a, s, b: (s,), {}), "qr": (lambda a, s, b: (a,), {}),
    "eigh": (lambda a, s, b: (s,), {}), "eigvalsh": (lambda a, s, b: (s,), {}), "eigvals": (lambda a, s, b: (s,), {}),
    "svdvals": (lambda a, s, b: (a,), {}), "pinv": (lambda a, s, b: (a,), {}),
    "matrix_norm": (lambda a, s, b: (a,), {}), "vector_norm": (lambda a, s, b: (a,), {"ord": 3}),
    "norm": (lambda a, s, b: (a,), {}), "matrix_power": (lambda a, s, b: (a, 3), {}),
    "matrix_rank": (lambda a, s, b: (a,), {}), "cond": (lambda a, s, b: (a,), {}),
    "multi_dot": (lambda a, s, b: ([a, s, a],), {}), "cross": (lambda a, s, b: (a, s), {}),
    "vecdot": (lambda a, s, b: (a, s), {}), "lu_factor": (lambda a, s, b: (a,), {}),
    "lu": (lambda a, s, b: (a,), {}), "solve_triangular": (lambda a, s, b: (a, s), {"upper": True}),
    "tensorsolve": (lambda a, s, b: (a, b), {}), "lstsq": (lambda a, s, b: (a, s), {}),
}


def _empty_like_result(lib, result, dtype):
    """Empty outs for ``result`` (a tensor or a tuple), floating ones of ``dtype`` (complex of its precision)."""
    def one(t):
        if t.dtype.is_floating_point if lib is torch else t.dtype.kind == "f":
            return lib.empty(0, dtype=dtype)
        if t.dtype.is_complex if lib is torch else t.dtype.kind == "c":
            return lib.empty(0, dtype=lib.complex128 if dtype == lib.float64 else lib.complex64)
        return lib.empty(0, dtype=t.dtype)
    return tuple(one(t) for t in result) if isinstance(result, tuple) else one(result)


@pytest.mark.parametrize("out_dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(_LINALG))
def test_linalg_out(name: str, out_dtype: str) -> None:
    # every one raised TypeError for out=; now written as torch writes it: out of the result's dtype, or (those
    # torch casts: eigvals, pinv, cond, lstsq, tensorsolve...) a wider one; torch's RuntimeError otherwise
    make, keywords = _LINALG[name]
    results, errors = [], []
    for lib in (mg, torch):
        args = make(*_matrices(lib, lib.float32))
        fn = getattr(lib.linalg, name)
        out = _empty_like_result(lib, fn(*args, **keywords), getattr(lib, out_dtype))
        try:
            returned = fn(*args, **keywords, out=out)
        except RuntimeError as error:
            errors.append(error)
            continue
        assert returned is out or all(r is o for r, o in zip(returned, out))
        results.append(out)
    assert len(errors) in (0, 2), f"{name}: minigrad {errors or 'wrote'}, torch wrote"
    if results:
        ours, theirs = (r if isinstance(r, tuple) else (r,) for r in results)
        for a, b in zip(ours, theirs):
            assert str(a.dtype) == str(b.dtype).removeprefix("torch.") and tuple(a.shape) == tuple(b.shape)
            if name not in ("qr", "lu", "lu_factor", "eigh", "eigvals"):   # (signs, order may differ by LAPACK call)
                np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=2e-4, atol=1e-5)


def test_linalg_out_is_refused_under_autograd() -> None:
    a = mg.eye(3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="out"):
        mg.linalg.inv(a, out=mg.empty(3, 3))


def test_matrix_rank_of_one_matrix_is_a_writable_tensor() -> None:
    # its data was NumPy's int64 scalar (a reduction over the last axis of one matrix), which add_ and out= could
    # not write through (lstsq's rank too)
    for lib in (mg, torch):
        rank = lib.linalg.matrix_rank(lib.eye(3))
        rank.add_(1)
        assert int(rank) == 4
    assert int(mg.linalg.lstsq(mg.eye(3), mg.eye(3)).rank.add_(1)) == 4


# --- names torch has that minigrad lacked ---------------------------------------------------------------------

def test_set_anomaly_enabled_and_check_nan_query() -> None:
    for lib in (mg, torch):
        assert lib.is_anomaly_check_nan_enabled() is True and not lib.is_anomaly_enabled()
        lib.set_anomaly_enabled(True)
        try:
            assert lib.is_anomaly_enabled() and lib.is_anomaly_check_nan_enabled()
        finally:
            lib.set_anomaly_enabled(False)
        assert not lib.is_anomaly_enabled()
    with pytest.raises(NotImplementedError, match="check_nan"):
        mg.set_anomaly_enabled(True, check_nan=False)
    assert not mg.is_anomaly_enabled()


def test_const_data_ptr_is_the_data_address() -> None:
    for lib in (mg, torch):
        base = lib.arange(6.0, dtype=lib.float64)
        view = base[2:]
        assert view.const_data_ptr() == view.data_ptr() == base.const_data_ptr() + 16


@pytest.mark.parametrize("kwargs", [None, {}, {"device": "cpu", "dtype": "float64"},
                                    {"device": "cpu", "factory_kwargs": {"dtype": "float64"}},
                                    {"device": "cpu", "factory_kwargs": {"device": "cpu"}}, {"foo": 1},
                                    {"memory_format": "contiguous_format"}])
def test_nn_factory_kwargs_as_torch(kwargs) -> None:
    import nn

    def run(fn):
        try:
            return fn(kwargs)
        except TypeError as error:
            return type(error)
    assert run(nn.factory_kwargs) == run(torch.nn.factory_kwargs)


def test_nn_common_types_is_an_attribute() -> None:
    import nn

    assert nn.common_types.__name__ == "nn.common_types" and hasattr(torch.nn, "common_types")


def test_top_level_as_strided_is_the_in_place_method() -> None:
    for lib in (mg, torch):
        x = lib.arange(6.0, dtype=lib.float64)
        assert lib.as_strided_(x, (2, 2), (1, 2), 1) is x
        np.testing.assert_array_equal(x.numpy(), [[1, 3], [2, 4]])
