"""Round 19 regression sweep: rounds 18-19's fuzzers rerun on the tree, and what they newly found, against torch."""

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("p", [0.0, 1.0, 2.0, 3.0, INF])
@pytest.mark.parametrize("x1, x2", [
    ([[NAN, 1.0]], [[0.0, 2.0]]),                           # a NaN difference beside a finite one
    ([[1.0, 2.0], [0.0, 5.0]], [[NAN, 1.0]]),               # NaN in x2, every pair
    ([[NAN, NAN]], [[0.0, 1.0]]),                           # nothing but NaN: p = inf's max starts at 0
    ([[0.0, INF, -INF], [INF, -2.0, 1.0]], [[0.0, 1.0, 3.0], [0.0, 3.0, INF]]),   # infinite differences
])
def test_cdist_with_nan_or_inf_differences_is_pytorchs(p: float, x1: list, x2: list) -> None:
    """cdist's p = 0 count is NaN for a NaN difference (it counted it as nonzero), its p = inf max skips it as
    PyTorch's CPU kernel (it gave NaN), and the gradients keep PyTorch's NaNs (sign(NaN), |inf - inf|)."""
    results = []
    for lib in (torch, mg):
        a = lib.tensor(np.array(x1), requires_grad=True)
        b = lib.tensor(np.array(x2), requires_grad=True)
        out = lib.cdist(a, b, p=p)
        out.sum().backward()
        results.append([v.detach().numpy() for v in (out, a.grad, b.grad)])
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0, equal_nan=True)
