"""Round 24: ``mg.masked`` against ``torch.masked``.

A differential fuzz (21,000 random cases: every masked reduction and normalization, masks with all-False rows
and broadcast masks, dims/keepdim/dtype/correction keywords, transposed inputs, float64 gradients) and the
cases below found differences in var/std only: an integer ``dtype=`` (an integer mean: a wrong variance), a
float64 input with a float32 ``dtype=`` (deviations from the float32 mean in float32 instead of float64), a
complex input with a real ``dtype=`` (PyTorch keeps the input complex and subtracts the real parts' mean; we
dropped the imaginary parts first) and a bool input (PyTorch refuses it; we computed).
"""
import math

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")

_X = np.array([[1 + 2j, 2 - 1j, 4 + 0.5j], [0.5 - 3j, 1j, -2 + 1j]])
_MASK = np.array([[True, False, True], [True, True, True]])


@pytest.mark.filterwarnings("ignore:Casting complex values to real")   # (PyTorch's own, from its masked sum)
@pytest.mark.parametrize("op", ["var", "std"])
@pytest.mark.parametrize("keywords", [dict(dim=1), dict(dim=0, keepdim=True), dict(dim=None, correction=0),
                                      dict(dim=1, unbiased=False)])
@pytest.mark.parametrize("masked", [True, False])
def test_var_std_of_complex_input_with_a_real_dtype(op, keywords, masked):
    keywords = dict(keywords)
    dim = keywords.pop("dim")
    unbiased = keywords.pop("unbiased", None)
    ours = getattr(mg.masked, op)(mg.tensor(_X), dim, unbiased, dtype=mg.float64,
                                  mask=mg.tensor(_MASK) if masked else None, **keywords)
    theirs = getattr(torch.masked, op)(torch.tensor(_X), dim, unbiased, dtype=torch.float64,
                                       mask=torch.tensor(_MASK) if masked else None, **keywords)
    assert str(ours.dtype) == "float64" and tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


@pytest.mark.filterwarnings("ignore:Casting complex values to real")
def test_var_of_complex_input_with_real_dtype_and_one_element_is_inf():
    # one masked-in element, correction 1: PyTorch's |imaginary part|² / 0 is inf, not NaN
    x, mask = np.array([0.5 + 2j, 1 - 1j]), np.array([True, False])
    ours = mg.masked.var(mg.tensor(x), 0, dtype=mg.float64, mask=mg.tensor(mask))
    theirs = torch.masked.var(torch.tensor(x), 0, dtype=torch.float64, mask=torch.tensor(mask))
    assert math.isinf(theirs.item()) and math.isinf(ours.item())


@pytest.mark.parametrize("op", ["var", "std"])
def test_var_std_refuse_bool_input(op):
    x, mask = np.array([True, False, True]), np.array([True, True, False])
    with pytest.raises(RuntimeError):
        getattr(torch.masked, op)(torch.tensor(x), 0, mask=torch.tensor(mask))
    with pytest.raises(RuntimeError, match=f"masked.{op}: a bool input"):
        getattr(mg.masked, op)(mg.tensor(x), 0, mask=mg.tensor(mask))


@pytest.mark.parametrize("dtype", ["int64", "uint8", "float32"])
def test_var_of_integer_and_float32_input_keeps_pytorchs_dtype(dtype):
    x, mask = np.array([[1, 2, 4], [3, 3, 9]], dtype=dtype), np.array([[True, True, True], [False, True, True]])
    ours = mg.masked.var(mg.tensor(x), 1, mask=mg.tensor(mask))
    theirs = torch.masked.var(torch.tensor(x), 1, mask=torch.tensor(mask))
    assert str(theirs.dtype) == f"torch.{ours.dtype}"
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


@pytest.mark.parametrize("op", ["var", "std"])
@pytest.mark.parametrize("dtype", ["int64", "int32", "float32", "float16"])
@pytest.mark.parametrize("correction", [None, 0])
def test_var_std_with_dtype_follow_pytorchs_promotion(op, dtype, correction):
    # the mean in the default dtype for an integer dtype= (it was an integer mean: var 6 for torch's 7), the
    # deviations in the input's and the mean's promoted dtype (float64 input, float32 mean: float64)
    x = np.array([[1, 2, 4, 7], [3, 3, 5, 6]], dtype=np.int64 if dtype.startswith("int") else np.float64)
    mask = np.array([[True, True, True, True], [False, True, True, True]])
    ours = getattr(mg.masked, op)(mg.tensor(x), 1, correction=correction, dtype=getattr(mg, dtype),
                                  mask=mg.tensor(mask))
    theirs = getattr(torch.masked, op)(torch.tensor(x), 1, correction=correction, dtype=getattr(torch, dtype),
                                       mask=torch.tensor(mask))
    assert str(theirs.dtype) == f"torch.{ours.dtype}"
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_std_of_one_float64_element_with_float32_dtype_is_inf():
    # PyTorch subtracts the float32 mean from the float64 input: a rounding residue over count 0 is inf, not NaN
    x = np.array([0.1])
    ours = mg.masked.std(mg.tensor(x), 0, dtype=mg.float32, mask=mg.tensor(np.array(True)))
    theirs = torch.masked.std(torch.tensor(x), 0, dtype=torch.float32, mask=torch.tensor(True))
    assert math.isinf(theirs.item()) and math.isinf(ours.item())
