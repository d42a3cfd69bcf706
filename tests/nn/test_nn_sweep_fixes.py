"""Differences a sweep of ``nn`` against PyTorch found, each pinned against the live torch.

- pooling refuses an empty input except a batched input's batch dim (PyTorch's rule for every max/avg pool);
- ``F.pdist(p=0)`` is PyTorch's min(⌈|d|⌉, 1) summed: a graph node whose gradient is 0, a NaN kept;
- the gradients of hardtanh, relu6, hardshrink and softshrink exactly at their thresholds are PyTorch's (0 at the
  bound itself), and gradcheck away from the kinks passes; hardsigmoid's float64 gradient is the exact 1/6
  (PyTorch's is 1/6 rounded to float32, 3e-8 off: a documented difference, pinned here).

The error-class rows (RuntimeError where minigrad raised a plain ValueError/TypeError) live in
tests/test_error_classes.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn as mnn

F = mnn.functional


@pytest.fixture(scope="module")
def torch() -> Any:
    return pytest.importorskip("torch", reason="PyTorch is not installed (optional test peer)")


EMPTY_POOLS = [
    ("max_pool1d", (1, 0, 4)), ("max_pool1d", (0, 4)), ("max_pool1d", (1, 1, 0)), ("max_pool1d", (0, 1, 4)),
    ("avg_pool1d", (1, 0, 4)), ("avg_pool1d", (0, 1, 4)),
    ("max_pool2d", (1, 0, 4, 4)), ("max_pool2d", (0, 4, 4)), ("max_pool2d", (0, 1, 4, 4)),
    ("avg_pool2d", (1, 0, 4, 4)),
    ("max_pool3d", (1, 0, 4, 4, 4)), ("max_pool3d", (0, 4, 4, 4)), ("max_pool3d", (1, 1, 0, 4, 4)),
    ("max_pool3d", (0, 1, 4, 4, 4)), ("avg_pool3d", (1, 0, 4, 4, 4)),
]


def _pool(lib: Any, name: str, shape: tuple) -> Any:
    functional = lib.nn.functional if lib is not mg else F
    try:
        return tuple(getattr(functional, name)(lib.zeros(*shape), 2).shape)
    except RuntimeError as error:
        return type(error)


@pytest.mark.parametrize(("name", "shape"), EMPTY_POOLS, ids=[f"{n}{s}" for n, s in EMPTY_POOLS])
def test_pool_of_empty_input(torch: Any, name: str, shape: tuple) -> None:
    """Only a batched input's batch dim may be 0: anything else is PyTorch's RuntimeError (also a ValueError)."""
    expected, got = _pool(torch, name, shape), _pool(mg, name, shape)
    if isinstance(expected, tuple):
        assert got == expected
    else:
        assert isinstance(got, type) and issubclass(got, ValueError), got


def test_pdist_p0_is_a_graph_node(torch: Any) -> None:
    rows = np.array([[1.0, np.nan], [1.0, 2.0], [np.inf, 2.0], [1.0, 2.5]], dtype=np.float32)
    results = []
    for lib, pdist in ((torch, torch.nn.functional.pdist), (mg, F.pdist)):
        x = lib.tensor(rows, requires_grad=True)
        y = pdist(x, 0)
        assert y.requires_grad
        y.sum().backward()
        results.append((np.asarray(y.tolist()), str(y.dtype).split(".")[-1], np.asarray(x.grad.tolist())))
    np.testing.assert_array_equal(results[1][0], results[0][0])
    assert results[1][1] == results[0][1]
    np.testing.assert_array_equal(results[1][2], results[0][2])
    assert F.pdist(mg.ones(1, 3, requires_grad=True), 0).requires_grad


KINKS = [
    ("hardtanh", [-1.0, 1.0, -2.0, 2.0, 0.0, float("nan")], {}),
    ("hardtanh", [-0.5, 0.25, 0.0, -1.0], {"min_val": -0.5, "max_val": 0.25}),
    ("relu6", [0.0, 6.0, -0.0, 3.0, 7.0, float("nan")], {}),
    ("hardshrink", [-0.5, 0.5, 0.0, 1.0, -1.0, float("nan")], {}),
    ("hardshrink", [-0.25, 0.25, 0.0, 1.0], {"lambd": 0.25}),
    ("softshrink", [-0.5, 0.5, 0.0, 1.0, -1.0, float("nan")], {}),
    ("softshrink", [-0.1, 0.1, 0.0, 1.0], {"lambd": 0.1}),
    ("hardsigmoid", [-3.0, 3.0, 0.0, -4.0, 4.0, float("nan")], {}),
]


def _value_and_grad(lib: Any, functional: Any, name: str, values: list, dtype: str, kwargs: dict) -> tuple:
    x = lib.tensor(values, dtype=getattr(lib, dtype), requires_grad=True)
    y = getattr(functional, name)(x, **kwargs)
    y.sum().backward()
    return np.asarray(y.tolist()), np.asarray(x.grad.tolist())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("name", "values", "kwargs"), KINKS, ids=[f"{c[0]}{c[2]}" for c in KINKS])
def test_gradient_at_the_thresholds(torch: Any, name: str, values: list, kwargs: dict, dtype: str) -> None:
    expected = _value_and_grad(torch, torch.nn.functional, name, values, dtype, kwargs)
    got = _value_and_grad(mg, F, name, values, dtype, kwargs)
    np.testing.assert_array_equal(got[0], expected[0])
    if name == "hardsigmoid" and dtype == "float64":   # ours is the exact 1/6; PyTorch's is float32's 1/6
        np.testing.assert_array_equal(got[1], np.where(expected[1] != 0, 1 / 6, 0.0))
        assert np.abs(got[1] - expected[1]).max() < 1e-7
    else:
        np.testing.assert_array_equal(got[1], expected[1])


@pytest.mark.parametrize(("name", "kwargs"), [(c[0], c[2]) for c in KINKS[::2]], ids=[c[0] for c in KINKS[::2]])
def test_gradcheck_away_from_the_kinks(name: str, kwargs: dict) -> None:
    x = mg.tensor([-4.2, -2.1, -0.8, -0.3, 0.2, 0.7, 1.6, 3.4, 6.5], dtype=mg.float64, requires_grad=True)
    assert mg.gradcheck(lambda t: getattr(F, name)(t, **kwargs), [x])
