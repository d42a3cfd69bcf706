"""Scans, sorting and counting against torch: the cases a differential fuzzer found (round 19).

Each case runs the same call on torch and on minigrad and compares values, dtypes, shapes, exception classes
and gradients (never a hard-coded outcome)."""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")

inf, nan = math.inf, math.nan


def _np(t: Any) -> np.ndarray:
    return np.asarray(t.detach().numpy() if isinstance(t, torch.Tensor) else t.numpy())


def _raised(lib: Any, call: Callable) -> type | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call(lib)
    except Exception as error:  # noqa: BLE001 - the class is what is compared
        return type(error)
    return None


# --- histogram: a bins tensor of one edge is PyTorch's RuntimeError (it was a bare ValueError) ---

@pytest.mark.parametrize("name", ["histogram", "histogram_density", "histogramdd"])
def test_histogram_one_edge_raises_torch_error_class(name: str) -> None:
    calls = {
        "histogram": lambda lib: lib.histogram(lib.tensor([1.0, 2.0]), lib.tensor([0.5])),
        "histogram_density": lambda lib: lib.histogram(lib.tensor([[1.0], [2.0]], dtype=lib.float64),
                                                       lib.tensor([0.0], dtype=lib.float64), density=True),
        "histogramdd": lambda lib: lib.histogramdd(lib.zeros(3, 2), bins=[lib.tensor([1.0]), lib.tensor([0.0, 1.0])]),
    }
    expected = _raised(torch, calls[name])
    assert expected is RuntimeError
    got = _raised(mg, calls[name])
    assert got is not None and issubclass(got, expected)


# --- quantile's gradient to q: NaN where a one-element line is infinite (inf - inf times a slope 0), as PyTorch ---

QUANTILE_Q_CASES = {
    "inf_0d": ("quantile", inf),
    "minus_inf_0d_nanquantile": ("nanquantile", -inf),
    "inf_one": ("quantile", [inf]),
    "inf_and_nan_nanquantile": ("nanquantile", [inf, nan]),
    "inf_and_nan_quantile": ("quantile", [inf, nan]),
    "rows_one_column": ("nanquantile", [[inf], [2.0], [-inf]]),
}


@pytest.mark.parametrize("case", list(QUANTILE_Q_CASES))
def test_quantile_q_gradient_of_infinite_single_value_as_torch(case: str) -> None:
    name, x = QUANTILE_Q_CASES[case]
    results = []
    for lib in (torch, mg):
        t = lib.tensor(np.array(x, dtype=np.float64), requires_grad=True)
        q = lib.tensor(np.array([0.5, 0.0, 0.25]), requires_grad=True)
        y = getattr(lib, name)(t, q, dim=-1 if np.ndim(x) == 2 else None)
        y.sum().backward()
        results.append((_np(y), _np(t.grad), _np(q.grad)))
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, theirs, equal_nan=True)
