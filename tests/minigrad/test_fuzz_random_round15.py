"""Differential fuzzing of the random-number API against torch (round 15): the cases that differed.

The numbers cannot match PyTorch's (other generators); what must match is the semantics: shapes, dtypes,
ranges and the class of the error raised.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

import minigrad as mg
from minigrad.utils import data as mdata


def _outcome(call: Callable[[Any], Any], lib: Any) -> tuple:
    """("ok", shape, dtype name) of ``call(lib)``'s tensor, or ("raises", the exception)."""
    try:
        out = call(lib)
    except Exception as error:  # noqa: BLE001 - the class is what is compared
        return "raises", error
    return "ok", tuple(out.shape), str(out.dtype).replace("torch.", "")


def _as_torch(call: Callable[[Any], Any], torch: Any) -> None:
    """Our call gives torch's shape and dtype, or raises where torch raises, an instance of torch's class."""
    theirs, ours = _outcome(call, torch), _outcome(call, mg)
    if theirs[0] == "raises":
        assert ours[0] == "raises", f"torch raises {theirs[1]!r}, ours gives {ours}"
        assert isinstance(ours[1], type(theirs[1])), f"torch raises {theirs[1]!r}, ours {ours[1]!r}"
    else:
        assert ours == theirs


@pytest.mark.parametrize("call", [
    lambda m: m.multinomial(m.ones(0, 3), 2),
    lambda m: m.multinomial(m.ones(0, 3), 5, True),
    lambda m: m.multinomial(m.ones(0, 0), 4, True),
    lambda m: m.multinomial(m.ones(0, 3), 4),          # more samples than categories, without replacement
    lambda m: m.multinomial(m.ones(0, 0), 1),
    lambda m: m.multinomial(m.ones(0), 1, True),       # no categories
    lambda m: m.multinomial(m.ones(2, 0), 1, True),
], ids=["0x3", "0x3-replacement", "0x0-replacement", "0x3-k4", "0x0", "no-categories-1d", "no-categories-2d"])
def test_multinomial_of_zero_rows_or_no_categories_as_torch(call: Callable, torch: Any) -> None:
    """multinomial of a (0, C) matrix crashed inside NumPy (a reduction over zero rows); PyTorch returns (0, k).
    No categories raised a ValueError; PyTorch raises RuntimeError."""
    _as_torch(call, torch)


@pytest.mark.parametrize("call", [
    lambda m: m.bernoulli(m.tensor([1, 0, 1]), 0.5),
    lambda m: m.bernoulli(m.tensor([True, False]), 0.25),
    lambda m: m.bernoulli(m.zeros(2, 3, dtype=m.uint8), 1.0),
    lambda m: m.tensor([3, 4]).bernoulli(0.5),
    lambda m: m.bernoulli(m.tensor([1, 0, 1])),               # no p: integer probabilities are refused
    lambda m: m.tensor([True]).bernoulli(),
], ids=["int64-p", "bool-p", "uint8-p", "method-p", "int64", "bool"])
def test_bernoulli_of_integer_tensors_as_torch(call: Callable, torch: Any) -> None:
    """bernoulli(int_tensor, p) draws in the tensor's dtype in PyTorch (ours raised); without p PyTorch raises
    NotImplementedError (ours a TypeError that was not one)."""
    _as_torch(call, torch)


@pytest.mark.parametrize("call", [
    lambda m: m.zeros(3).bernoulli_(m.tensor([1, 0, 1])),
    lambda m: m.zeros(2).bernoulli_(m.tensor([True, False])),
    lambda m: m.zeros(3).bernoulli_(m.full((2,), 0.5)),          # p does not broadcast to x
    lambda m: m.zeros(3, 1).bernoulli_(m.full((3, 2), 0.5)),     # p broadcasts, but not to x's shape
    lambda m: m.zeros(2, 3).bernoulli_(m.full((3,), 0.5)),       # p broadcasts to x
], ids=["int64-p", "bool-p", "2-into-3", "3x2-into-3x1", "3-into-2x3"])
def test_bernoulli__tensor_p_dtype_and_shape_as_torch(call: Callable, torch: Any) -> None:
    """x.bernoulli_(p) took an integer or bool tensor p (PyTorch: NotImplementedError), and a p that does not
    broadcast to x raised NumPy's ValueError (PyTorch: RuntimeError)."""
    _as_torch(call, torch)


@pytest.mark.parametrize("call", [
    lambda m: m.zeros(3, dtype=m.complex64).geometric_(0.5),
    lambda m: m.zeros(3, dtype=m.bool).geometric_(0.5),
    lambda m: m.zeros(3, dtype=m.int64).exponential_(),
    lambda m: m.zeros(3, dtype=m.int32).log_normal_(),
    lambda m: m.zeros(3, dtype=m.uint8).cauchy_(),
    lambda m: m.zeros(3, dtype=m.complex64).exponential_(),
    lambda m: m.zeros(3, dtype=m.int64).geometric_(0.5),        # integers are fine
], ids=["geometric-complex", "geometric-bool", "exponential-int", "log_normal-int", "cauchy-uint8",
        "exponential-complex", "geometric-int"])
def test_in_place_fills_refuse_dtypes_as_torch(call: Callable, torch: Any) -> None:
    """geometric_ filled a complex tensor (PyTorch raises NotImplementedError); the other fills refused integer
    tensors with a TypeError where PyTorch raises NotImplementedError."""
    _as_torch(call, torch)


@pytest.mark.parametrize("call", [
    lambda m: m.randperm(257, dtype=m.uint8),
    lambda m: m.randperm(129, dtype=m.int8),
    lambda m: m.randperm(2050, dtype=m.float16),
    lambda m: m.normal(0.0, 1.0, (2, -1)),
    lambda m: m.normal(0.0, 1.0, size=(-1,)),
    lambda m: m.normal(m.zeros(3), m.ones(2)),
], ids=["randperm-uint8", "randperm-int8", "randperm-float16", "normal-negative-size", "normal-negative-size-kw",
        "normal-shapes"])
def test_randperm_and_normal_argument_errors_are_torchs_class(call: Callable, torch: Any) -> None:
    """randperm(n) too large for the dtype, normal with a negative size, and mean/std that do not broadcast raised
    ValueError only (NumPy's, for the size); PyTorch raises RuntimeError."""
    _as_torch(call, torch)


def test_random_sampler_with_replacement_of_an_empty_dataset_as_torch(torch: Any) -> None:
    """Iterating RandomSampler(empty, replacement=True, num_samples=n) raised NumPy's 'high <= 0' ValueError;
    PyTorch raises RuntimeError."""
    from torch.utils import data as tdata

    with pytest.raises(RuntimeError):
        list(tdata.RandomSampler(range(0), replacement=True, num_samples=3))
    with pytest.raises(RuntimeError, match="RandomSampler"):
        list(mdata.RandomSampler(range(0), replacement=True, num_samples=3))


@pytest.mark.parametrize("call", [
    lambda m: m.normal(0.0, float("nan"), (2,)),
    lambda m: m.normal(m.zeros(2), m.tensor([float("nan"), 1.0])),
    lambda m: m.normal(1.0, m.tensor([1.0, float("nan")])),
], ids=["number", "tensors", "number-and-tensor"])
def test_normal_refuses_a_nan_std_as_torch(call: Callable, torch: Any) -> None:
    """normal with a NaN std returned NaN samples; PyTorch raises RuntimeError (std >= 0.0)."""
    _as_torch(call, torch)


@pytest.mark.parametrize("dtype", ["float16", "float32", "complex64"])
def test_init_uniform_never_returns_the_upper_bound(dtype: str) -> None:
    """nn.init.uniform_ drew float64 numbers and cast them: in float16 about 1 draw in 4000 rounded up to b (PyTorch
    draws on the dtype's grid k / 2**11 and never returns b). 200 000 draws hit b ~50 times before."""
    import nn

    x = mg.zeros(200_000, dtype=getattr(mg, dtype))
    values = nn.init.uniform_(x, 0.0, 1.0, generator=mg.Generator().manual_seed(0)).numpy()
    parts = [values.real, values.imag] if dtype.startswith("complex") else [values]
    for part in parts:
        assert part.min() >= 0.0 and part.max() < 1.0


def test_a_new_generator_starts_from_torchs_fixed_seed(torch: Any) -> None:
    """mg.Generator() was seeded from the OS, so an unseeded generator= (random_split, DataLoader, rand) gave
    another stream in every run; torch.Generator() starts from the fixed seed 67280421310721."""
    assert mg.Generator().initial_seed() == torch.Generator().initial_seed() == 67280421310721
    assert mg.rand(4, generator=mg.Generator()).tolist() == mg.rand(4, generator=mg.Generator()).tolist()
    first = [list(s.indices) for s in mdata.random_split(range(20), [0.5, 0.5], generator=mg.Generator())]
    again = [list(s.indices) for s in mdata.random_split(range(20), [0.5, 0.5], generator=mg.Generator())]
    assert first == again
    assert mg.Generator().seed() != 67280421310721   # seed() still draws a fresh nondeterministic seed
