"""Round 17 regression sweep: what re-running round 16's offline differential fuzzers on round 17's tree found,
each case compared with live PyTorch."""
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _raises(fn):
    try:
        fn()
    except Exception as e:   # noqa: BLE001 - the class is the comparison
        return type(e)
    return None


@pytest.mark.parametrize("name", ["get_autocast_dtype", "is_autocast_enabled", "set_autocast_dtype"])
@pytest.mark.parametrize("device_type", [1, "tensor"])
def test_autocast_functions_refuse_a_non_string_device_type_with_type_error(name, device_type):
    def call(lib):
        arg = lib.tensor(1.0) if device_type == "tensor" else device_type
        if name == "set_autocast_dtype":
            return lib.set_autocast_dtype(arg, lib.float16)
        return getattr(lib, name)(arg)

    assert _raises(lambda: call(torch)) is TypeError
    assert issubclass(_raises(lambda: call(mg)), TypeError)


def test_autocast_block_refuses_a_non_string_device_type_with_value_error():
    assert _raises(lambda: torch.autocast(3)) is ValueError
    assert issubclass(_raises(lambda: mg.autocast(3)), ValueError)


@pytest.mark.parametrize("name", ["std", "var"])
@pytest.mark.parametrize("dtype,out_dtype", [("float16", "float32"), ("float16", "float64"), ("float32", "float64"),
                                             ("complex64", "float64"), ("complex64", "complex128")])
def test_std_var_out_of_a_wider_dtype_compute_in_outs_dtype(name, dtype, out_dtype):
    # round 17's out= wrapper computed in the input's dtype and cast: std(float16, out=float32) was 1.4140625
    values = [[0.1, 3.3], [2.7, -1.2]]
    scale = (1 + 1j) if dtype.startswith("complex") else 1
    want = torch.zeros(2, dtype=getattr(torch, out_dtype))
    getattr(torch, name)(torch.tensor(values, dtype=getattr(torch, dtype)) * scale, 1, out=want)
    got = mg.zeros(2, dtype=getattr(mg, out_dtype))
    result = getattr(mg, name)(mg.tensor(values, dtype=getattr(mg, dtype)) * scale, 1, out=got)
    assert result is got and got.dtype == getattr(mg, out_dtype)
    assert (got.numpy() == want.numpy()).all()


def test_std_of_a_real_input_into_a_complex_out_raises_as_pytorch():
    assert _raises(lambda: torch.std(torch.ones(2, 2), 1, out=torch.zeros(2, dtype=torch.complex64))) \
        is NotImplementedError
    assert issubclass(_raises(lambda: mg.std(mg.ones(2, 2), 1, out=mg.zeros(2, dtype=mg.complex64))),
                      NotImplementedError)


@pytest.mark.parametrize("perm", [(1, 0, 2), (2, 0, 1), (0, 2, 1)])
def test_complex_of_permuted_parts_takes_pytorchs_layout(perm):
    # complex() was C-contiguous whatever its parts' layout, so view_as_real(complex(x.T, y.T)).view(-1) worked where
    # PyTorch refuses it (and a later .view of the result differed)
    def strides(lib):
        x = lib.arange(24.0).reshape(2, 3, 4).permute(*perm)
        z = lib.complex(x, x * 2)
        return z.stride(), z.is_contiguous(), lib.view_as_real(z).stride()

    assert strides(mg) == strides(torch)
    x = mg.arange(24.0).reshape(2, 3, 4).permute(*perm)
    assert (mg.complex(x, x * 2).numpy() == x.numpy() + 2j * x.numpy()).all()
