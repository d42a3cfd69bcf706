"""Round 17, leftovers (second batch): complex signed zeros and infinities, writes from real/imag views, igamma and
mvlgamma dtypes, out= of hardshrink/threshold, uninitialised parameters, extreme-input gradients; each against live
PyTorch."""
import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")

_PARTS = [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e308]


def _grid(dtype: str) -> np.ndarray:
    """The 8 x 8 grid of {±0, ±1, ±inf, nan, 1e308} real and imaginary parts (signs kept), flattened."""
    z = np.empty(64, dtype=dtype)
    z.real, z.imag = np.repeat(_PARTS, 8), np.tile(_PARTS, 8)
    return z


def _assert_same_bits(ours: np.ndarray, theirs: np.ndarray) -> None:
    """Equal part by part: NaN where NaN, the sign of zeros and infinities, close elsewhere."""
    for a, b in ((ours.real, theirs.real), (ours.imag, theirs.imag)):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        ok = ~np.isnan(a)
        np.testing.assert_allclose(a[ok], b[ok], rtol=1e-6)
        np.testing.assert_array_equal(np.signbit(a[ok & (a == 0)]), np.signbit(b[ok & (b == 0)]))


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
@pytest.mark.parametrize("name", ["sgn", "log1p"])
def test_complex_signed_zeros_and_infinities_as_torch(name, dtype):
    """sgn divides each part by |z| (sgn(-0+1j) = -0+1j, sgn(inf·1j) = 0+nan·1j); log1p keeps -0.0 parts and is
    NaN + NaN·1j where a part is NaN (both were built from magnitude + 1j·angle, losing the signs)."""
    z = _grid(dtype)
    ours = getattr(mg, name)(mg.tensor(z.copy())).numpy()
    theirs = getattr(torch, name)(torch.from_numpy(z.copy())).numpy()
    _assert_same_bits(ours, theirs)
