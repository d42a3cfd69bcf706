"""Regression tests of the round-15 sweep: the earlier rounds' offline fuzzers re-run on the round's tree."""
import warnings
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")


class _Scale(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(mg.tensor(np.linspace(-1, 1, 4).astype(np.float32)))

    def forward(self, x: mg.Tensor, mask: mg.Tensor) -> mg.Tensor:
        y = x * self.w
        y[mask] = 0.25
        return y


@pytest.mark.parametrize("check", [False, True])
def test_compile_after_module_double_captures_afresh(check: bool) -> None:
    # fuzz_compile ("double" mutation): model.double() between calls with the same float32 input; the new
    # capture was compared with the float32 one (its 0.25 constant became float64), a spurious CompileError
    # with check=True and a CompileWarning (eager from then on) on the calls that verify a capture
    model = _Scale()
    step = mg.compile(model, check=check)
    x = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    mask = np.arange(12).reshape(3, 4) % 3 == 0
    step(mg.tensor(x), mg.tensor(mask))
    model.double()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = step(mg.tensor(x), mg.tensor(mask))
    want = torch.tensor(x) * torch.tensor(np.linspace(-1, 1, 4).astype(np.float32)).double()
    want[torch.tensor(mask)] = 0.25
    assert got.dtype == mg.float64
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("dtype,value", [("uint8", -1), ("uint8", 257), ("int8", 200), ("int32", 2**40),
                                         ("int64", 2**63), ("int16", -5), ("bool", 2)])
def test_integer_comparison_casts_the_number_as_torch(dtype: str, value: int) -> None:
    # fuzz_elementwise: uint8 >= -1 was True (NumPy compares the values), PyTorch casts -1 into uint8 (255) first,
    # as the arithmetic does: False; the operators, the methods, the functions and the in-place forms
    array = np.array([0, 1, 4, 100 if dtype != "bool" else 1], dtype=dtype)
    for op in ("__lt__", "__ge__", "__eq__", "ne", "gt", "le", "lt_"):
        want = getattr(torch.tensor(array), op)(value)
        got = getattr(mg.tensor(array), op)(value)
        assert got.tolist() == want.tolist(), op
    assert mg.lt(mg.tensor(array), value).tolist() == torch.lt(torch.tensor(array), value).tolist()
    assert (value < mg.tensor(array)).tolist() == (value < torch.tensor(array)).tolist()


def test_integer_comparison_number_outside_64_bits_raises() -> None:
    with pytest.raises(OverflowError):
        torch.tensor([1]).eq(2**64)
    with pytest.raises(OverflowError, match="eq"):
        mg.tensor([1]).eq(2**64)


@pytest.mark.parametrize("case", ["broadcast", "mask", "out_of_range"])
def test_index_put_of_another_dtype_checks_the_index_shapes_first(case: str) -> None:
    # fuzz_index: indices that do not broadcast (or a mask of another shape) with a value of another dtype raised
    # round 15's dtype RuntimeError; PyTorch raises the index's IndexError first (an index out of range: later)
    def write(lib):
        x = lib.zeros((2, 3))
        index = {"broadcast": (lib.tensor([[0, 1]]), lib.tensor([0, 1, 2])),
                 "mask": (lib.tensor([True, False, True]),),
                 "out_of_range": (lib.tensor([5]), 0)}[case]
        x[index] = lib.tensor(3)
    with pytest.raises(Exception) as want:
        write(torch)
    with pytest.raises(want.type):
        write(mg)


@pytest.mark.gpu
@pytest.mark.parametrize("output_size", [1, (2, 3), (6, 1)])
def test_adaptive_avg_pool_of_tiling_windows_copies_nothing_to_the_gpu(output_size: Any) -> None:
    # fuzz_standin_mod: round 15's gathered windows (NaN kept in its windows) copied an index, a mask and the
    # counts to the device per dim (AdaptiveAvgPool2d: 6 host-to-device copies a call, 2 in round 14); windows
    # that tile the dims copy none, with the same sums
    from tests.support import strict_cupy  # noqa: PLC0415

    x = np.random.default_rng(3).standard_normal((2, 3, 6, 9)).astype(np.float32)
    x[0, 0, 0, 0] = np.nan
    want = torch.nn.functional.adaptive_avg_pool2d(torch.tensor(x), output_size).numpy()
    cpu = nn.functional.adaptive_avg_pool2d(mg.tensor(x), output_size).numpy()
    np.testing.assert_allclose(cpu, want, rtol=1e-6, atol=1e-7)   # (the mean of the rows' means: last bits)
    if not getattr(mg.backend._cupy, "is_strict_stand_in", False):
        pytest.skip("copies are counted by the strict CuPy stand-in, used on machines without a GPU")
    gpu = mg.tensor(x, device="cuda")
    strict_cupy.reset_copies()
    out = nn.AdaptiveAvgPool2d(output_size)(gpu)
    assert strict_cupy.copies == {"to_host": 0, "to_device": 0}
    np.testing.assert_array_equal(out.cpu().numpy(), cpu)
