"""float32 ndtr and exact GELU by a three-piece kernel (round 23, float64 inside, rounded once): accuracy in float32
ulps against the float64 kernel (3e-15 relative, far below a float32 ulp) and against PyTorch's float32, the GPU form
of the kernel (every piece on every element, chosen by ``where``) bit for bit the host's, and gradients against
PyTorch's."""

from __future__ import annotations

import types
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn.functional as F
from minigrad.ops import error_function, special_functions

_RNG = np.random.default_rng(23)
RANGES = {
    "wide": _RNG.uniform(-15, 10, 2000),
    "center": _RNG.uniform(-2, 2, 2000),
    "middle_edge": _RNG.uniform(-1.8, -1.1, 2000),   # the pieces' edges at -0.84375√2 and -1.25√2
    "left": _RNG.uniform(-14, -1.7, 2000),
    "right": _RNG.uniform(1.1, 6, 2000),
    "normal": _RNG.standard_normal(2000),
}


def ulps(got: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """|got - reference| in float32 ulps at the reference (the smallest subnormal below it); NaN pairs count 0."""
    ulp = np.maximum(np.spacing(np.abs(reference.astype(np.float32))).astype(np.float64),
                     float(np.finfo(np.float32).smallest_subnormal))
    with np.errstate(invalid="ignore"):   # inf - inf: equal, counted 0 below
        error = np.abs(got.astype(np.float64) - reference) / ulp
    error[(got == reference) | (np.isnan(got) & np.isnan(reference))] = 0
    return error


def reference_ndtr(x32: np.ndarray) -> np.ndarray:
    return mg.special.ndtr(mg.tensor(x32.astype(np.float64))).numpy()


@pytest.mark.parametrize("name", list(RANGES))
def test_float32_ndtr_rounded_once(name: str) -> None:
    x = RANGES[name].astype(np.float32)
    error = ulps(mg.special.ndtr(mg.tensor(x)).numpy(), reference_ndtr(x))
    assert error.max() <= 0.501, f"ndtr float32 on {name}: {error.max():.2f} ulp at x = {x[error.argmax()]}"


@pytest.mark.parametrize("name", list(RANGES))
def test_float32_ndtr_and_gelu_not_worse_than_torch(name: str) -> None:
    torch = pytest.importorskip("torch", reason="needs torch")
    x = RANGES[name].astype(np.float32)
    reference = reference_ndtr(x)
    ours = ulps(mg.special.ndtr(mg.tensor(x)).numpy(), reference).max()
    theirs = ulps(torch.special.ndtr(torch.from_numpy(x)).numpy(), reference).max()
    assert ours <= theirs + 1, f"ndtr on {name}: ours {ours:.2f} ulp, torch {theirs:.2f}"
    gelu_reference = x.astype(np.float64) * reference
    ours = ulps(F.gelu(mg.tensor(x)).numpy(), gelu_reference).max()
    theirs = ulps(torch.nn.functional.gelu(torch.from_numpy(x)).numpy(), gelu_reference).max()
    assert ours <= theirs + 1, f"gelu on {name}: ours {ours:.2f} ulp, torch {theirs:.2f}"


def test_float32_ndtr_does_not_run_the_float64_erfc(monkeypatch: pytest.MonkeyPatch) -> None:
    # float32 Φ went through the float64 kernel's seven pieces and erfc's (18 ms at 1e6): three pieces now (10 ms)
    def refuse(xp: Any, x: Any) -> Any:
        raise AssertionError(f"float64 erfc kernel run on {x.size} values")
    monkeypatch.setattr(error_function, "erfc_unchunked", refuse)
    x = RANGES["wide"].astype(np.float32)
    out = special_functions._ndtr_array(np, x)
    assert out.dtype == np.float32
    monkeypatch.undo()
    assert ulps(out, reference_ndtr(x)).max() <= 0.501


def test_float32_ndtr_special_values() -> None:
    x = np.array([-np.inf, -40, -38, -14, -1e30, 0.0, -0.0, 1e30, 5.8, 40, np.inf, np.nan], dtype=np.float32)
    got = mg.special.ndtr(mg.tensor(x)).numpy()
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got[[0, 1, 2, 4]], 0)
    assert 0 < got[3] < 1e-40   # a float32 subnormal, from x itself
    np.testing.assert_array_equal(got[[5, 6]], 0.5)
    np.testing.assert_array_equal(got[7:11], 1)
    assert np.isnan(got[11])


def test_float32_ndtr_gpu_form_gives_the_host_bits() -> None:
    # on a GPU every piece runs on every element (no boolean-index read-backs); a stand-in module that is not NumPy
    # takes that route on the host: the same bits, and no error from the junk outside each piece
    gpu_like = types.SimpleNamespace(**{name: getattr(np, name) for name in dir(np) if not name.startswith("__")})
    x = np.concatenate([RANGES["wide"], RANGES["normal"], [np.inf, -np.inf, np.nan, 0.0, -0.0]]).astype(np.float32)
    host = special_functions._ndtr_float32(np, x)
    with np.errstate(all="ignore"):
        device = special_functions._ndtr_float32(gpu_like, x)
    np.testing.assert_array_equal(device.view(np.int32), host.view(np.int32))


def test_float32_gelu_and_ndtr_gradients_not_worse_than_torch() -> None:
    # against float64 gradients, in float32 ulps of the terms' size (gelu's Φ + x·φ cancels near x = -0.75)
    torch = pytest.importorskip("torch", reason="needs torch")
    x = np.concatenate([RANGES["normal"] * 3, RANGES["middle_edge"]]).astype(np.float32)
    cdf = reference_ndtr(x)
    density = np.exp(-0.5 * x.astype(np.float64) ** 2) / np.sqrt(2 * np.pi)
    for ours_fn, torch_fn, size in ((F.gelu, torch.nn.functional.gelu, cdf + np.abs(x) * density),
                                    (mg.special.ndtr, torch.special.ndtr, density)):
        grads = []
        for dtype in (np.float32, np.float64):
            leaf = mg.tensor(x.astype(dtype), requires_grad=True)
            ours_fn(leaf).sum().backward()
            grads.append(leaf.grad.numpy())
        t = torch.from_numpy(x.copy()).requires_grad_()
        torch_fn(t).sum().backward()
        assert grads[0].dtype == np.float32
        ulp = np.spacing(size.astype(np.float32)).astype(np.float64)
        ours = (np.abs(grads[0] - grads[1]) / ulp).max()
        theirs = (np.abs(t.grad.numpy() - grads[1]) / ulp).max()
        assert ours <= theirs + 2, f"{ours_fn.__name__} gradient: ours {ours:.2f} ulp, torch {theirs:.2f}"


def test_float16_ndtr_and_gelu_within_one_float16_ulp() -> None:
    x = RANGES["wide"].astype(np.float16)
    for fn, reference in ((mg.special.ndtr, reference_ndtr(x)),
                          (F.gelu, x.astype(np.float64) * reference_ndtr(x))):
        got = fn(mg.tensor(x)).numpy()
        assert got.dtype == np.float16
        ulp = np.maximum(np.spacing(np.abs(reference.astype(np.float16))).astype(np.float64), 2.0 ** -24)
        assert (np.abs(got - reference) / ulp).max() <= 1.0


_ERFINV_POINTS = np.concatenate([_RNG.uniform(-1, 1, 3000), _RNG.uniform(0.7, 0.8, 1000), 1 - 10.0 ** _RNG.uniform(
    -7.5, -0.5, 1000), 10.0 ** _RNG.uniform(-45, -1, 1000), [0.0, -0.0, 1.0, -1.0, 1.5, np.nan]]).astype(np.float32)


def test_float32_erfinv_rounded_once_and_as_torch() -> None:
    reference = mg.erfinv(mg.tensor(_ERFINV_POINTS.astype(np.float64))).numpy()
    got = mg.erfinv(mg.tensor(_ERFINV_POINTS)).numpy()
    assert got.dtype == np.float32
    error = ulps(got, reference)
    assert error.max() <= 0.501, (error.max(), _ERFINV_POINTS[error.argmax()])
    assert np.signbit(got[-5]) and got[-4] == np.inf and got[-3] == -np.inf and np.isnan(got[-2:]).all()
    torch = pytest.importorskip("torch", reason="needs torch")
    theirs = ulps(torch.erfinv(torch.from_numpy(_ERFINV_POINTS)).numpy(), reference)
    assert error.max() <= theirs.max() + 1


def test_float32_erfinv_runs_the_float64_core_beyond_erf_0_84375_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # float32 erfinv went through the float64 core whole (19 ms at 1e6, now 13): below erf(0.84375) in float32
    core = special_functions._inverse_erf_core
    seen = []

    def spy(xp: Any, a: Any, r: Any, exact_a: bool) -> Any:
        seen.append(a)
        return core(xp, a, r, exact_a)
    monkeypatch.setattr(special_functions, "_inverse_erf_core", spy)
    x = np.linspace(-1, 1, 2001, dtype=np.float32)
    mg.erfinv(mg.tensor(x))
    assert len(seen) == 1 and seen[0].size == np.count_nonzero(np.abs(x) >= special_functions._ERFINV_NEAR)


def test_float32_erfinv_gpu_form_gives_the_host_bits() -> None:
    gpu_like = types.SimpleNamespace(**{name: getattr(np, name) for name in dir(np) if not name.startswith("__")})
    a = np.abs(_ERFINV_POINTS)
    with np.errstate(all="ignore"):
        device = special_functions._erfinv_float32(gpu_like, a)
    host = special_functions._erfinv_float32(np, a)
    np.testing.assert_array_equal(device.view(np.int32), host.view(np.int32))


def test_float32_erfinv_gradient_as_torch() -> None:
    torch = pytest.importorskip("torch", reason="needs torch")
    x = _ERFINV_POINTS[np.abs(_ERFINV_POINTS) < 0.999]
    leaf = mg.tensor(x, requires_grad=True)
    mg.erfinv(leaf).sum().backward()
    t = torch.from_numpy(x.copy()).requires_grad_()
    torch.erfinv(t).sum().backward()
    assert leaf.grad.dtype == mg.float32
    np.testing.assert_allclose(leaf.grad.numpy(), t.grad.numpy(), rtol=4e-6)   # exp(w²) of a rounded w: w²·ulp


_NDTRI_POINTS = np.concatenate([_RNG.uniform(0, 1, 3000), 10.0 ** _RNG.uniform(-45, 0, 1000), 1 - 10.0 ** _RNG.uniform(
    -7, 0, 1000), [0.0, 1.0, 0.5, -0.5, 1.5, np.nan]]).astype(np.float32)


def test_float32_ndtri_rounded_once_and_as_torch() -> None:
    reference = mg.special.ndtri(mg.tensor(_NDTRI_POINTS.astype(np.float64))).numpy()
    got = mg.special.ndtri(mg.tensor(_NDTRI_POINTS)).numpy()
    assert got.dtype == np.float32
    error = ulps(got, reference)
    assert error.max() <= 0.501, (error.max(), _NDTRI_POINTS[error.argmax()])
    assert got[-6] == -np.inf and got[-5] == np.inf and got[-4] == 0 and np.isnan(got[-3:]).all()
    torch = pytest.importorskip("torch", reason="needs torch")
    theirs = ulps(torch.special.ndtri(torch.from_numpy(_NDTRI_POINTS)).numpy(), reference)
    assert error.max() <= theirs.max() + 1


def test_float32_ndtri_runs_the_float64_core_on_the_tails_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # float32 ndtri (and its gradient's float64 ndtri) went through the float64 core whole: 1e6 values 24 -> 17 ms
    core = special_functions._inverse_erf_core
    seen = []

    def spy(xp: Any, a: Any, r: Any, exact_a: bool) -> Any:
        seen.append(a.size)
        return core(xp, a, r, exact_a)
    monkeypatch.setattr(special_functions, "_inverse_erf_core", spy)
    p = np.linspace(0, 1, 2001, dtype=np.float32)
    leaf = mg.tensor(p, requires_grad=True)
    mg.special.ndtri(leaf).sum().backward()
    tails = np.count_nonzero(np.abs(2 * p.astype(np.float64) - 1) >= special_functions._ERFINV_NEAR)
    assert seen == [tails, tails]


def test_float32_ndtri_gpu_form_and_gradient() -> None:
    gpu_like = types.SimpleNamespace(**{name: getattr(np, name) for name in dir(np) if not name.startswith("__")})
    with np.errstate(all="ignore"):
        device = special_functions._ndtri_float32(gpu_like, _NDTRI_POINTS)
    host = special_functions._ndtri_float32(np, _NDTRI_POINTS)
    np.testing.assert_array_equal(device.view(np.int32), host.view(np.int32))
    p = _NDTRI_POINTS[(_NDTRI_POINTS > 1e-30) & (_NDTRI_POINTS < 1)]
    grads = []
    for dtype in (np.float32, np.float64):
        leaf = mg.tensor(p.astype(dtype), requires_grad=True)
        mg.special.ndtri(leaf).sum().backward()
        grads.append(leaf.grad.numpy())
    assert ulps(grads[0], grads[1]).max() <= 0.501   # from the unrounded float64 quantile, as before
