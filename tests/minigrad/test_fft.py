"""``mg.fft`` against ``torch.fft``: values, dtypes, shapes and gradients of every transform, over one, two and
three dims, with ``n``/``s`` padding and cropping, negative dims and every norm; frequencies and shifts; errors;
the GPU path on the strict CuPy stand-in.

A complex input is built from two real float64 leaves (``complex(re, im)``) and a complex output is read through
real views (``view_as_real``, ``.abs()``, ``.real``, ``.imag``), so each case's gradient reaches real leaves and
:func:`helpers.same_as_torch` compares it with torch's and runs ``mg.gradcheck`` on it.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from helpers import same_as_torch, same_on_gpu_as_on_cpu

import minigrad as mg

torch = pytest.importorskip("torch", reason="PyTorch is the reference for these tests")

RNG = np.random.default_rng(5)
A2 = RNG.standard_normal((3, 5))
B2 = RNG.standard_normal((3, 5))
A3 = RNG.standard_normal((2, 3, 4))
B3 = RNG.standard_normal((2, 3, 4))

C2C = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn"]
R2C = ["rfft", "ihfft", "rfft2", "ihfft2", "rfftn", "ihfftn"]
C2R = ["irfft", "hfft", "irfft2", "hfft2", "irfftn", "hfftn"]

ONE_DIM = [{}, {"n": 7, "norm": "ortho"}, {"n": 3, "dim": 0, "norm": "forward"}, {"dim": -2, "norm": "backward"}]
TWO_DIMS = [{}, {"s": (4, 6), "norm": "ortho"}, {"s": (2, 3), "dim": (0, -1), "norm": "forward"}, {"dim": (-1, -3)}]
N_DIMS = [{}, {"s": (3, 5), "norm": "ortho"}, {"s": (1, -1, 6), "norm": "forward"}, {"dim": (2, 0)}, {"dim": -1}]


def _kwargs_for(name: str) -> list[dict]:
    return ONE_DIM if name[-1] not in "2n" else TWO_DIMS if name.endswith("2") else N_DIMS


def _read(lib: Any, y: Any) -> tuple:
    """Real views of a transform's output: the output itself when real, else its parts, modulus and pairs."""
    if not y.is_complex():
        return (y,)
    y = y.resolve_conj()
    return lib.view_as_real(y), y.abs(), y.real * 2, y.imag.sin()


def _case(name: str, kwargs: dict) -> Callable:
    def run(lib: Any, re: Any, im: Any = None) -> tuple:
        x = re if im is None else lib.complex(re, im)
        return _read(lib, getattr(lib.fft, name)(x, **kwargs))
    return run


CASES = [(name, i) for name in C2C + R2C + C2R for i in range(len(_kwargs_for(name)))]


@pytest.mark.parametrize(("name", "i"), CASES, ids=[f"{n}-{i}" for n, i in CASES])
def test_transform_same_as_torch(name: str, i: int) -> None:
    """float64 values, dtypes, shapes and gradients against torch, and mg.gradcheck (real leaves)."""
    kwargs = _kwargs_for(name)[i]
    a, b = (A2, B2) if _kwargs_for(name) is ONE_DIM else (A3, B3)
    arrays = (a,) if name in R2C else (a, b)
    same_as_torch(torch, _case(name, kwargs), *arrays)


@pytest.mark.parametrize("name", C2C + R2C + C2R)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "complex64"])
def test_dtypes_and_values_same_as_torch(name: str, dtype: str) -> None:
    """float32 → complex64, float64 → complex128, integers → the default float first; complex in, for the
    transforms that take it; values in the input's precision."""
    if name in R2C and dtype.startswith("complex"):
        with pytest.raises(TypeError, match="real input"):
            getattr(mg.fft, name)(mg.tensor(A3.astype(dtype)))
        return
    data = (A3 * 4).astype(dtype) if dtype != "complex64" else (A3 + 1j * B3).astype(dtype)
    for kwargs in _kwargs_for(name):
        ours = getattr(mg.fft, name)(mg.tensor(data), **kwargs)
        theirs = getattr(torch.fft, name)(torch.tensor(data), **kwargs).resolve_conj()
        assert ours.shape == tuple(theirs.shape) and str(theirs.dtype) == f"torch.{ours.dtype}", (kwargs, ours.dtype)
        tight = ours.dtype in ("float64", "complex128")
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12 if tight else 2e-5,
                                   atol=1e-12 if tight else 2e-5, err_msg=str(kwargs))


def test_roundtrips_and_default_sizes() -> None:
    x = mg.tensor(A3)
    np.testing.assert_allclose(mg.fft.ifftn(mg.fft.fftn(x)).real.numpy(), A3, atol=1e-14)
    np.testing.assert_allclose(mg.fft.irfftn(mg.fft.rfftn(x), s=A3.shape).numpy(), A3, atol=1e-14)
    assert mg.fft.irfft(mg.fft.rfft(x)).shape == (2, 3, 4) and mg.fft.rfft(x, n=5).shape == (2, 3, 3)
    assert mg.fft.irfft(mg.fft.rfft(x), n=5).shape == (2, 3, 5)


@pytest.mark.parametrize("n", [1, 4, 5])
@pytest.mark.parametrize("dtype", [None, "float64"])
def test_frequencies_same_as_torch(n: int, dtype: str | None) -> None:
    for name in ("fftfreq", "rfftfreq"):
        kwargs = {} if dtype is None else {"dtype": getattr(mg, dtype)}
        torch_kwargs = {} if dtype is None else {"dtype": getattr(torch, dtype)}
        ours, theirs = getattr(mg.fft, name)(n, 0.3, **kwargs), getattr(torch.fft, name)(n, d=0.3, **torch_kwargs)
        assert ours.dtype == theirs.numpy().dtype and ours.shape == tuple(theirs.shape)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert mg.fft.fftfreq(4, requires_grad=True).requires_grad


@pytest.mark.parametrize("name", ["fftshift", "ifftshift"])
@pytest.mark.parametrize("dim", [None, 1, (0, -1)])
def test_shifts_same_as_torch(name: str, dim: Any) -> None:
    same_as_torch(torch, lambda lib, x: getattr(lib.fft, name)(x, dim=dim), RNG.standard_normal((3, 4, 5)))


def test_errors_name_the_function() -> None:
    x = mg.tensor(A3)
    with pytest.raises(ValueError, match="fft.fft: invalid number of data points"):
        mg.fft.fft(x, n=0)
    with pytest.raises(ValueError, match="irfft: invalid number of data points"):
        mg.fft.irfft(mg.tensor(np.ones((2, 1))))
    with pytest.raises(ValueError, match="fft.fftn: when given, dim and shape"):
        mg.fft.fftn(x, s=(2, 2), dim=(0,))
    with pytest.raises(ValueError, match="normalization mode"):
        mg.fft.fft(x, norm="none")
    with pytest.raises(ValueError, match="unique"):
        mg.fft.fft2(x, dim=(1, -2))
    with pytest.raises(ValueError, match="rfftn: must transform at least one dim"):
        mg.fft.rfftn(x, dim=())
    np.testing.assert_array_equal(mg.fft.fftn(x, dim=()).numpy(), torch.fft.fftn(torch.tensor(A3), dim=()).numpy())
    with pytest.raises(NotImplementedError, match="float16"):
        mg.fft.fft(mg.tensor(A3.astype("float16")))


GPU_CASES = {name: (_case(name, _kwargs_for(name)[1]), (A3,) if name in R2C else (A3, B3))
             for name in ("fftn", "ifft2", "rfft", "ihfftn", "irfft2", "hfft")}


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(GPU_CASES))
def test_same_on_gpu_as_on_cpu(name: str) -> None:
    same_on_gpu_as_on_cpu(*GPU_CASES[name])
