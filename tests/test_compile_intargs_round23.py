"""Tensor-valued int arguments under ``mg.compile`` (round 23): a replay must not reuse the capture's value."""

import warnings

import numpy as np
import pytest

import minigrad as mg


def _compiled_pairs(fn, values):
    x = mg.tensor(np.arange(6.0).reshape(2, 3))
    compiled = mg.compile(fn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [(fn(x, mg.tensor(v)).numpy(), compiled(x, mg.tensor(v)).numpy()) for v in values]


@pytest.mark.parametrize("inside", [False, True])
def test_numpy_style_repeat_count_tensor_is_read_again(inside):
    # x.repeat(t, axis=0) (np.repeat's form) read t's value without telling the capture: the replay for t=2 reused
    # the count 1 of the capture (shape (2, 3) instead of (4, 3))
    def fn(x, t):
        if inside:
            t = (t.sum() > 0).long() * t
        return x.repeat(t, axis=0)

    for eager, compiled in _compiled_pairs(fn, [1, 2, 1, 3]):
        assert compiled.shape == eager.shape
        np.testing.assert_array_equal(compiled, eager)


@pytest.mark.parametrize("op", [
    lambda x, t: x.roll(t, 1), lambda x, t: x.narrow(1, 0, t), lambda x, t: x.tril(t),
    lambda x, t: x.add(x, alpha=t), lambda x, t: x.std(correction=t).reshape(1), lambda x, t: x[:, :t],
])
def test_int_tensor_arguments_follow_the_value(op):
    for eager, compiled in _compiled_pairs(op, [1, 2, 1]):
        assert compiled.shape == eager.shape
        np.testing.assert_allclose(compiled, eager, rtol=1e-12)


def test_distribution_validation_is_not_replayed_away():
    """A replay never skips a distribution's argument check: an invalid scale raises eager's ValueError."""
    def fn(scale):
        return mg.distributions.Normal(mg.zeros(3, dtype=mg.float64), scale).log_prob(mg.zeros(3, dtype=mg.float64))

    compiled = mg.compile(fn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(3):
            compiled(mg.ones(3, dtype=mg.float64))
        with pytest.raises(ValueError):
            fn(-mg.ones(3, dtype=mg.float64))
        with pytest.raises(ValueError):
            compiled(-mg.ones(3, dtype=mg.float64))


def test_binomial_kl_refusal_is_not_replayed_away():
    """A replay never skips kl_divergence's refusal of Binomials with q.total_count > p.total_count."""
    def fn(n):
        p = mg.distributions.Binomial(n, probs=mg.tensor([0.3, 0.4], dtype=mg.float64))
        q = mg.distributions.Binomial(mg.tensor([5.0, 5.0], dtype=mg.float64),
                                      probs=mg.tensor([0.5, 0.5], dtype=mg.float64))
        return mg.distributions.kl_divergence(p, q)

    compiled = mg.compile(fn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(3):
            compiled(mg.tensor([6.0, 7.0], dtype=mg.float64))
        with pytest.raises(NotImplementedError):
            compiled(mg.tensor([4.0, 7.0], dtype=mg.float64))
