"""Round 15: leftovers of round 14's casts, strides and dtype objects, compared with PyTorch 2.13."""
import warnings

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")

# float values of every kind: beyond int64, beyond int32 (where NumPy's direct cast to uint8 gave 0), fractions, -0.0
FLOATS = [-1.2654214700e10, 3.5151007e9, 2.0 ** 40 + 7, -2.0 ** 31 - 1, 4294967299.0, 1e20, -1e20, 2.0 ** 63,
          -1.5, 255.9, 300.5, -0.0, 0.5, float("nan"), float("inf"), float("-inf")]


@pytest.mark.parametrize("source", ["float64", "float32", "complex128"])
@pytest.mark.parametrize("make", ["tensor", "as_tensor"])
def test_creation_with_an_integer_dtype_casts_floats_as_torch(make, source):
    # mg.tensor(array, dtype=mg.uint8) cast with NumPy's direct cast (0 past 2**31) where .to(uint8) went through
    # int64 as PyTorch's
    array = np.array(FLOATS, dtype=source)
    for name in ("uint8", "int8", "int16", "int32", "int64", "bool"):
        dtype = mg.bool_ if name == "bool" else getattr(mg, name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # complex to real
            expected = getattr(torch, make)(array, dtype=getattr(torch, name)).numpy()
            warnings.simplefilter("error")
            warnings.filterwarnings("ignore", message=".*discards the imaginary part")
            warnings.filterwarnings("ignore", category=np.exceptions.ComplexWarning)
            got = getattr(mg, make)(array, dtype=dtype).numpy()
        assert got.dtype == expected.dtype and got.tolist() == expected.tolist(), (make, source, name)
