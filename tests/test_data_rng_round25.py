"""Round 25: utils.data, nn.init and RNG semantics against PyTorch (deterministic results exactly, random ones by
their distribution, with fixed seeds and generous bounds)."""

from __future__ import annotations

import math
import warnings

import numpy
import pytest

import minigrad as mg
from minigrad.utils import data as md

torch = pytest.importorskip("torch")
from torch.utils import data as td  # noqa: E402


def _split_lengths(lib, data_lib, n, fractions, dtype):
    """The split's lengths, or ValueError where the fractions (summed in their dtype) do not sum to 1."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return [len(s) for s in data_lib.random_split(range(n), lib.tensor(fractions, dtype=getattr(lib, dtype)))]
        except ValueError:
            return ValueError


@pytest.mark.parametrize("dtype", ["float32", "float16", "float64"])
def test_random_split_tensor_fractions_in_their_dtype(dtype):
    # PyTorch floors n * fraction in the tensor's dtype: 10 * float32(0.7) is 7.0 (float64 reading: 6.99999988)
    cases = [(n, f) for n in range(25) for f in ([0.3, 0.7], [0.1] * 10, [0.7, 0.2, 0.1], [0.6, 0.4], [0.15, 0.85])]
    for n, fractions in cases:
        assert _split_lengths(mg, md, n, fractions, dtype) == _split_lengths(torch, td, n, fractions, dtype), \
            (n, fractions)
    assert _split_lengths(mg, md, 10, [0.3, 0.7], "float32") == [3, 7]


def test_random_split_warns_for_an_empty_fraction_split():
    with pytest.warns(UserWarning, match="Length of split at index 2 is 0"):
        subsets = md.random_split(range(2), [0.5, 0.5, 0.0])
    assert [len(s) for s in subsets] == [1, 1, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        md.random_split(range(4), [2, 2])   # counts: no warning


def _uniform_fills():
    from nn import init

    return {"Tensor.uniform_": lambda x, a, b: x.uniform_(a, b), "nn.init.uniform_": init.uniform_}


@pytest.mark.parametrize("fill", ["Tensor.uniform_", "nn.init.uniform_"])
def test_uniform_never_draws_the_upper_bound(fill):
    # a sample rounded up to b in the tensor's dtype was b (up to 44% of the samples in a narrow range); PyTorch's
    # [a, b) holds: each number of the dtype in [a, b) as likely
    draw = _uniform_fills()[fill]
    mg.manual_seed(0)
    cases = [("float16", 1000.0, 1001.0), ("float32", 1.0, 1.0000001), ("float32", -330.9440953, -330.9437520),
             ("float16", -2.883571709909171, 2.883571709909171), ("float32", 320.00481417, 320.01477789),
             ("float64", 1.0, 1.0 + 2 ** -50)]
    for dtype, a, b in cases:
        values = draw(mg.empty(20000, dtype=dtype), a, b).numpy()
        low, high = numpy.asarray(a, dtype), numpy.asarray(b, dtype)
        assert values.dtype == dtype and values.min() >= low and values.max() < high, (dtype, a, b)
        expected = torch.empty(20000, dtype=getattr(torch, dtype)).uniform_(a, b).numpy()
        grid = numpy.unique(numpy.concatenate([values, expected]))
        if len(grid) <= 16:   # a few numbers of the dtype: each as likely as in PyTorch's draw
            ours = numpy.array([(values == v).mean() for v in grid])
            theirs = numpy.array([(expected == v).mean() for v in grid])
            assert numpy.abs(ours - theirs).max() < 0.03, (dtype, a, b, grid, ours, theirs)
    two = draw(mg.empty(40000, dtype="float16"), 1000.0, 1001.0).numpy()
    assert abs((two == 1000).mean() - 0.5) < 0.02
    # the bounds rounded to the dtype first, as PyTorch's: float32(1000.0001) is 1000.000122, so [1000, 1000.000122)
    # holds 1000 and 1000.000061, half the time each (each part of a complex tensor too)
    for dtype in ("float32", "complex64"):
        values = draw(mg.empty(40000, dtype=dtype), 1000.0, 1000.0001).numpy()
        for part in (values.real, values.imag) if dtype == "complex64" else (values,):
            assert set(numpy.unique(part)) == {numpy.float32(1000.0), numpy.float32(1000.000061)}
            assert abs((part == 1000).mean() - 0.5) < 0.02, dtype


def test_constant_converts_the_value_as_pytorchs_fill():
    # was NumPy's assignment: OverflowError for -2 into uint8 (PyTorch: 254), OverflowError/ValueError for inf/NaN
    # into integers (PyTorch: RuntimeError), a refusal of a complex value into bool (PyTorch: True)
    from nn import init

    cases = [("uint8", -2), ("uint8", -129), ("int32", 300), ("int8", 300), ("int64", math.nan), ("int32", math.inf),
             ("uint8", 1e10), ("bool", 2 + 1j), ("bool", 0.0), ("int64", 2.7), ("float16", 1e40), ("float32", -0.0)]
    for dtype, value in cases:
        try:
            expected = torch.nn.init.constant_(torch.zeros(2, dtype=getattr(torch, dtype)), value).tolist()
        except RuntimeError:
            with pytest.raises(RuntimeError):
                init.constant_(mg.zeros(2, dtype=dtype), value)
            continue
        tensor = mg.zeros(2, dtype=dtype)
        version = tensor._version
        assert init.constant_(tensor, value) is tensor and tensor._version == version + 1
        assert str(tensor.tolist()) == str(expected), (dtype, value)


def test_init_errors_are_pytorchs_classes():
    from nn import init

    for library, module in ((torch, torch.nn.init), (mg, init)):
        # the dtype first, as PyTorch's uniform_ (was the ValueError/RuntimeError of the negative gain)
        with pytest.raises(NotImplementedError):
            module.xavier_uniform_(library.zeros(3, 4, dtype=library.uint8), gain=-1.0)
        with pytest.raises(ZeroDivisionError):   # size % groups (was a ValueError only)
            module.dirac_(library.zeros(4, 2, 3), groups=0)
        with pytest.raises(RuntimeError):   # normal_'s std check before minigrad's sparsity check (was ValueError)
            module.sparse_(library.zeros(3, 4), sparsity=-0.5, std=-1.0)
