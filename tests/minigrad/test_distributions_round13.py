"""Regression tests for an adversarial sweep of ``mg.distributions`` against torch 2.13 at the edges of the
parameter space (logits ±inf, probabilities 0 and 1, tiny/huge scales, out-of-support values).

- The stable max(x, 0) behind every softplus was (|x| + x) / 2: NaN at x = -inf, so NegativeBinomial(logits=-inf)
  scored NaN (PyTorch: -inf) and TransformedDistribution(…, SoftplusTransform()) gave NaN for log_prob(inf) and
  icdf(0) (PyTorch: -inf and 0).
- Bernoulli(logits=+inf).log_prob(0) was NaN (softplus(l) - l t is inf - inf; PyTorch: -inf).
- Binomial.mode sent a gradient to total_count where (n + 1) p rounds down to n (PyTorch's clamp: none).
- constraints.independent(…, k).check of a value with fewer than k dims reduced a 0-d result instead of raising
  PyTorch's ValueError.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from helpers import assert_close

import minigrad as mg

INF, NAN = math.inf, math.nan


def _leaf(lib: Any, array: Any, dtype: Any = np.float64) -> Any:
    return lib.tensor(np.array(array, dtype=dtype), requires_grad=True)


def _same(ours: mg.Tensor, theirs: Any, what: str) -> None:
    """Equal values (to float32's or float64's rounding), NaN and ±inf in the same places, and the same dtype."""
    expected = theirs.detach().numpy()
    rtol = 1e-6 if expected.dtype == np.float32 else 1e-10
    np.testing.assert_allclose(ours.detach().numpy(), expected, rtol=rtol, atol=1e-12, err_msg=what)
    assert ours.dtype == expected.dtype, what


def test_clamp_by_zero_and_softplus_at_infinities() -> None:
    """max(x, 0) is 0 at -inf (not NaN) and keeps PyTorch's gradient ½ at 0 (so softplus' is sigmoid)."""
    from minigrad.distributions.utils import clamp_by_zero, softplus
    x = _leaf(mg, [-INF, -2.0, 0.0, 3.0, INF])
    np.testing.assert_array_equal(clamp_by_zero(x).numpy(), [0.0, 0.0, 0.0, 3.0, INF])
    clamp_by_zero(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.5, 1.0, 1.0])
    x.grad = None
    np.testing.assert_array_equal(softplus(x).numpy()[[0, 2, 4]], [0.0, math.log(2.0), INF])
    softplus(x).sum().backward()
    assert_close(x.grad, 1 / (1 + np.exp(-x.detach().numpy())))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bernoulli_infinite_logits_as_torch(dtype: Any, torch: Any) -> None:
    """Logits ±inf × value 0/1: -inf at (+inf, 0) and NaN at (+inf, 1) and (-inf, 0), as PyTorch; at (-inf, 1)
    the true -inf (PyTorch: NaN). The gradient σ(l) - t at finite logits, to its last digits for hard targets."""
    logits = [-INF, -INF, INF, INF, 0.0, -30.0, 30.0, 2.5]
    value = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.5], dtype=dtype)
    results = []
    for lib in (mg, torch):
        leaf = _leaf(lib, logits, dtype)
        score = lib.distributions.Bernoulli(logits=leaf, validate_args=False).log_prob(lib.tensor(value))
        score[4:].sum().backward()
        results.append((score, leaf.grad))
    (ours, our_grad), (theirs, their_grad) = results
    assert np.isneginf(ours.numpy()[1]) and np.isnan(theirs.detach().numpy()[1])
    keep = [0, 2, 3, 4, 5, 6, 7]
    _same(ours[keep], theirs[keep], "log_prob")
    assert np.isneginf(ours.numpy()[2])
    # PyTorch's σ(l) - t cancels at l = 30, t = 1 (1 - σ(30)); ours is -σ(-30) there
    expected = np.array([0.5, -1 / (1 + math.exp(30.0)), 1 / (1 + math.exp(30.0)), 0.5 - 1 / (1 + math.exp(-2.5))])
    np.testing.assert_allclose(our_grad.numpy()[4:], expected, rtol=1e-6)
    np.testing.assert_allclose(their_grad.numpy()[4:][[0, 1, 3]], expected[[0, 1, 3]], rtol=1e-6)


def test_negative_binomial_logits_minus_infinity_as_torch(torch: Any) -> None:
    """probs = σ(-inf) = 0: a count of 1 is impossible (-inf, as PyTorch); the finite entries' gradients match."""
    results = []
    for lib in (mg, torch):
        count, logits = _leaf(lib, [0.5, 2.0, 3.0]), _leaf(lib, [-INF, -INF, 0.3])
        score = lib.distributions.NegativeBinomial(count, logits=logits, validate_args=False).log_prob(
            lib.tensor(np.array([0.0, 1.0, 2.0])))
        score[2].backward()
        results.append((score, count.grad, logits.grad))
    (ours, *our_grads), (theirs, *their_grads) = results
    _same(ours, theirs, "log_prob")
    assert np.isneginf(ours.detach().numpy()[1])   # (k = 0 is 0 · inf = NaN in both)
    for o, t in zip(our_grads, their_grads):
        assert_close(o, t.numpy(), 1e-10, 1e-12, "gradient")


def test_softplus_transform_at_infinities_as_torch(torch: Any) -> None:
    """log_prob at +inf is -inf and icdf(0) is 0 (softplus(-inf)), as PyTorch."""
    results = []
    for lib in (mg, torch):
        D = lib.distributions  # noqa: N806
        dist = D.TransformedDistribution(D.Normal(lib.tensor(np.array([0.0, 1.0])), lib.tensor(np.array([1.0, 2.0]))),
                                         D.transforms.SoftplusTransform())
        results.append((dist.log_prob(lib.tensor(np.array([INF, 0.7]))),
                        dist.icdf(lib.tensor(np.array([[0.0, 0.0], [0.3, 0.9]]))),
                        D.transforms.SoftplusTransform()(lib.tensor(np.array([-INF, -800.0, 0.0, INF])))))
    for what, o, t in zip(("log_prob", "icdf", "softplus"), *results):
        _same(o, t, what)


def test_binomial_mode_gradient_as_torch(torch: Any) -> None:
    """mode = min(floor((n + 1) p), n): where the floor equals n the gradient stays off n, as PyTorch's clamp."""
    grads = []
    for lib in (mg, torch):
        count, probs = _leaf(lib, [0.0, 5.0, 4.0]), _leaf(lib, [0.5, 1.0, 0.3])
        mode = lib.distributions.Binomial(count, probs=probs).mode
        (mode * lib.tensor(np.array([2.0, 3.0, 5.0]))).sum().backward()
        grads.append((mode, count.grad))
    _same(grads[0][0], grads[1][0], "mode")
    _same(grads[0][1], grads[1][1], "gradient of total_count")


def test_independent_constraint_needs_enough_dims(torch: Any) -> None:
    """check of a value with fewer dims than reinterpreted_batch_ndims raises PyTorch's ValueError."""
    for lib in (mg, torch):
        D = lib.distributions  # noqa: N806
        dist = D.Independent(D.Normal(lib.tensor(np.zeros((2, 2))), lib.tensor(np.ones((2, 2)))), 2)
        with pytest.raises(ValueError, match=r"Expected value.dim\(\) >= 2 but got 1"):
            dist.support.check(lib.tensor(np.array([0.0, 1.0])))
        assert bool(dist.support.check(lib.tensor(np.zeros((2, 2)))))
        assert dist.support.check(lib.tensor(np.zeros((3, 2, 2)))).shape == (3,)
