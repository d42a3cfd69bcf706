"""Second derivatives (``create_graph=True``) that a differential sweep against PyTorch's OpInfo database found
wrong, each pinned on small values: a Hessian-vector product against torch's on the same values, and
``mg.gradgradcheck`` in float64.

- quantile / nanquantile with a ``q`` that wants a gradient: the create_graph rule took the interpolation weight
  as a constant and gave q no gradient (None), so q's first derivative was lost and the second derivatives
  through the weight (x's gradient depends on q) and through q's slope (q's gradient depends on x) were 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg

# (function name, x shape, q shape, dim)
QUANTILE_CASES = {
    "quantile_flat": ("quantile", (2,), (2,), None),
    "nanquantile_rows": ("nanquantile", (3, 4), (3,), 1),
    "quantile_scalar_q": ("quantile", (3, 4), (), 0),
}


def _hvp(lib: Any, fn: str, x0: np.ndarray, q0: np.ndarray, dim: Any, w: np.ndarray, v: list) -> tuple:
    """(first gradients, Hessian-vector product) of sum(quantile(x, q) * w) for x and q."""
    x, q = lib.tensor(x0, requires_grad=True), lib.tensor(q0, requires_grad=True)
    y = getattr(lib, fn)(x, q, dim=dim)
    g = lib.autograd.grad((y * lib.tensor(w)).sum(), [x, q], create_graph=True)
    h = lib.autograd.grad(sum((gi * lib.tensor(vi)).sum() for gi, vi in zip(g, v)), [x, q])
    return [gi.detach().numpy() for gi in g], [hi.detach().numpy() for hi in h]


@pytest.mark.parametrize("name", sorted(QUANTILE_CASES))
def test_quantile_with_a_q_that_wants_a_gradient(name: str, torch: Any) -> None:
    fn, x_shape, q_shape, dim = QUANTILE_CASES[name]
    rng = np.random.default_rng(3)
    x0, q0 = rng.standard_normal(x_shape), rng.uniform(0.1, 0.9, q_shape)
    w = rng.standard_normal((*q_shape, *(() if dim is None else np.delete(x_shape, dim))))
    v = [rng.standard_normal(x_shape), rng.standard_normal(q_shape)]
    got, want = _hvp(mg, fn, x0, q0, dim, w, v), _hvp(torch, fn, x0, q0, dim, w, v)
    for kind, mine, theirs in zip(("first gradient", "Hessian-vector product"), got, want):
        for leaf, a, b in zip(("x", "q"), mine, theirs):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, err_msg=f"{name}: {kind} of {leaf}")
    assert np.abs(want[1][1]).max() > 0.1   # q's second derivative is not 0: the case tests the q path
    args = [mg.tensor(x0, requires_grad=True), mg.tensor(q0, requires_grad=True)]
    assert mg.gradgradcheck(lambda a, b: getattr(mg, fn)(a, b, dim=dim), args)
