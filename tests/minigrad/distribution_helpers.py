"""Checks shared by the distribution tests (test_distributions.py, _round8.py, _round8b.py).

A case there is ``make(lib, *leaves)``: the same distribution built from ``mg`` or ``torch``, so each check runs
both libraries on the same parameter arrays (float64) and compares values, dtypes, shapes and gradients.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest
from helpers import assert_close

import minigrad as mg


def as_leaves(lib: Any, arrays: tuple) -> list:
    """The arrays as tensors of ``lib`` that require grad."""
    return [lib.tensor(np.ascontiguousarray(a), requires_grad=True) for a in arrays]


def evaluate(dist: Any, attribute: str, lib: Any, value: np.ndarray, icdf_probs: np.ndarray) -> Any:
    """``dist.attribute``: log_prob and cdf at ``value``, icdf at ``icdf_probs``, a method called, a property read."""
    member = getattr(dist, attribute)
    if attribute in ("log_prob", "cdf"):
        return member(lib.tensor(np.ascontiguousarray(value)))
    if attribute == "icdf":
        return member(lib.tensor(icdf_probs))
    return member() if callable(member) else member


def agree(torch: Any, ours: Any, theirs: Any, ours_leaves: list, torch_leaves: list, rtol: float, what: str) -> None:
    """Equal values (NaN and inf where torch has them), shapes and dtypes, and equal gradients of a weighted sum
    of the finite entries w.r.t. the leaves (where torch's are finite)."""
    assert_close(ours, theirs, rtol, 1e-12, what)
    assert ours.dtype == theirs.detach().numpy().dtype, what
    if theirs.requires_grad:
        weights = np.random.default_rng(2).standard_normal(ours.shape)
        finite = np.isfinite(theirs.detach().numpy())
        (mg.where(mg.tensor(finite), ours, 0.0) * mg.tensor(weights)).sum().backward()
        (torch.where(torch.tensor(finite), theirs, 0.0) * torch.from_numpy(weights)).sum().backward()
        for i, (o, t) in enumerate(zip(ours_leaves, torch_leaves)):
            if t.grad is not None and np.isfinite(t.grad.numpy()).all():
                assert o.grad is not None, f"{what}: leaf {i} got no gradient"
                assert_close(o.grad, t.grad, rtol, 1e-12, f"{what}: gradient of leaf {i}")


def gradcheck_scores(make: Callable, arrays: tuple, value: np.ndarray, with_entropy: bool) -> None:
    """Finite differences of log_prob at ``value`` (and of the entropy) in the parameters, without PyTorch."""
    def scores(*params: mg.Tensor) -> list:
        dist = make(mg, *params)
        return [dist.log_prob(mg.tensor(value))] + ([dist.entropy()] if with_entropy else [])
    assert mg.gradcheck(scores, as_leaves(mg, arrays))


def gradcheck_rsample(make: Callable, arrays: tuple) -> None:
    """rsample is a smooth function of the parameters once the noise is fixed (the same seed in every call)."""
    def draw(*params: mg.Tensor) -> mg.Tensor:
        mg.manual_seed(5)
        return make(mg, *params).rsample((3,))
    assert mg.gradcheck(draw, as_leaves(mg, arrays))


def check_sample_shapes(ours: Any, theirs: Any, batch_shape: tuple, event_shape: tuple, sample_shape: tuple) -> None:
    """Batch and event shapes, has_rsample, and sample/rsample shapes and dtypes as torch's."""
    assert tuple(ours.batch_shape) == tuple(theirs.batch_shape) == batch_shape
    assert tuple(ours.event_shape) == tuple(theirs.event_shape) == event_shape
    assert ours.has_rsample == theirs.has_rsample
    expected = sample_shape + batch_shape + event_shape
    sample = ours.sample(sample_shape)
    assert sample.shape == expected and not sample.requires_grad
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # torch 2.13's Wishart warns "Singular sample detected." on every draw
        assert sample.dtype == theirs.sample(sample_shape).numpy().dtype
    if ours.has_rsample:
        assert ours.rsample(sample_shape).shape == expected
    else:
        with pytest.raises(NotImplementedError):
            ours.rsample(sample_shape)


def check_moments(dist: Any, draws: np.ndarray, what: str, variance_rtol: float = 0.15) -> None:
    """The draws' mean within 5 standard errors of ``dist.mean``, their variance near ``dist.variance``."""
    mean, variance = dist.mean.numpy(), dist.variance.numpy()
    assert (np.abs(draws.mean(0) - mean) < 5 * np.sqrt(variance / draws.shape[0]) + 1e-12).all(), what
    np.testing.assert_allclose(draws.var(0), variance, rtol=variance_rtol)


def check_pit(dist: Any, draws: mg.Tensor) -> None:
    """The cdf of the draws is uniform (mean ½, variance 1/12): the check for heavy tails."""
    u = dist.cdf(draws).numpy()
    np.testing.assert_allclose(u.mean(0), 0.5, atol=0.01)
    np.testing.assert_allclose(u.var(0), 1 / 12, atol=0.005)


def check_manual_seed_repeats(dist: Any) -> None:
    """The same seed gives the same draws."""
    mg.manual_seed(7)
    first = dist.sample((4,)).numpy()
    mg.manual_seed(7)
    np.testing.assert_array_equal(dist.sample((4,)).numpy(), first)


def expand_both(make: Callable, batch_shape: tuple, event_shape: tuple, torch: Any) -> tuple:
    """``make(mg)`` and ``make(torch)`` expanded to (4,) + batch_shape, their shapes checked: (ours, theirs)."""
    new_batch = (4,) + batch_shape
    ours, theirs = make(mg).expand(new_batch), make(torch).expand(new_batch)
    assert tuple(ours.batch_shape) == tuple(theirs.batch_shape) == new_batch
    assert tuple(ours.event_shape) == tuple(theirs.event_shape)
    assert ours.sample().shape == new_batch + event_shape
    assert type(ours) is type(make(mg)) and ours._validate_args
    return ours, theirs
