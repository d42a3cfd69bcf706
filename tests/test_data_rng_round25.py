"""Round 25: utils.data, nn.init and RNG semantics against PyTorch (deterministic results exactly, random ones by
their distribution, with fixed seeds and generous bounds)."""

from __future__ import annotations

import warnings

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
