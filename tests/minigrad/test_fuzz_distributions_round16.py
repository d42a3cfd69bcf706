"""Differential fuzzing of mg.distributions against torch.distributions (round 16): the cases that differed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
import minigrad.distributions as md


def _same(ours: mg.Tensor, theirs: Any, what: str, rtol: float = 1e-6) -> None:
    """Equal shape, dtype and values (NaN and inf where torch has them)."""
    expected = theirs.detach().numpy()
    got = np.asarray(ours.detach().numpy())
    assert got.shape == expected.shape, what
    assert got.dtype == expected.dtype, f"{what}: {got.dtype} vs {expected.dtype}"
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-10, equal_nan=True, err_msg=what)


@pytest.mark.parametrize("p_shapes, q_shapes", [(((3,), ()), ((), ())),          # p batched, q not
                                                (((), (2, 1)), ((2, 3), ())),     # df and matrices broadcast
                                                (((), ()), ((), (3,)))])          # q batched by its df only
def test_wishart_kl_between_different_batch_shapes_is_elementwise(p_shapes: tuple, q_shapes: tuple,
                                                                    torch: Any) -> None:
    """kl_divergence(Wishart, Wishart) summed the matrix terms over q's batch dims when p had fewer (a sum of
    three KLs for p batch () and q batch (3,)), and raised a broadcast error when p had more; each element is now
    PyTorch's KL of the unbatched pair (PyTorch's batched Wishart KL sums over batch dims, so compare one by one)."""
    def make(lib: Any, family: Any, shapes: tuple, seed: int) -> Any:
        matrix_batch, df_batch = shapes
        a = np.random.default_rng(seed).normal(size=matrix_batch + (2, 2))
        cov = a @ np.swapaxes(a, -1, -2) + 2 * np.eye(2)
        df = 2.5 + np.random.default_rng(seed + 1).uniform(0, 3, size=df_batch)
        return family.Wishart(lib.tensor(df), covariance_matrix=lib.tensor(cov)), df, cov

    p, p_df, p_cov = make(mg, md, p_shapes, 1)
    q, q_df, q_cov = make(mg, md, q_shapes, 2)
    ours = md.kl_divergence(p, q)
    shape = tuple(np.broadcast_shapes(p_shapes[0], p_shapes[1], q_shapes[0], q_shapes[1]))
    assert tuple(ours.shape) == shape
    def pick(df: np.ndarray, cov: np.ndarray, index: tuple) -> Any:
        return torch.distributions.Wishart(torch.tensor(np.broadcast_to(df, shape)[index]),
                                           covariance_matrix=torch.tensor(np.broadcast_to(cov, shape + (2, 2))[index]))

    for index in np.ndindex(shape):
        theirs = torch.distributions.kl_divergence(pick(p_df, p_cov, index), pick(q_df, q_cov, index))
        _same(ours[index], theirs, f"KL at {index}", rtol=1e-9)


@pytest.mark.parametrize("name", ["Bernoulli", "ContinuousBernoulli"])
def test_infinite_value_without_validation_scores_as_torch(name: str, torch: Any) -> None:
    """Bernoulli/ContinuousBernoulli(validate_args=False).log_prob(±inf) was NaN (inf - inf in the two-term BCE);
    PyTorch's (1 - t) l + softplus(-l) gives ±inf by the sign of the logit. Finite values keep their scores."""
    logits = np.array([-3.8, -0.6, 0.0, 2.0, 50.0])
    values = np.array([[np.inf], [-np.inf], [0.0], [1.0], [0.3]])
    ours = getattr(md, name)(logits=mg.tensor(logits), validate_args=False).log_prob(mg.tensor(values))
    theirs = getattr(torch.distributions, name)(logits=torch.tensor(logits), validate_args=False).log_prob(
        torch.tensor(values))
    _same(ours, theirs, f"{name}.log_prob", rtol=1e-9)


@pytest.mark.parametrize("make", [lambda D: D.Normal(True, 1.0), lambda D: D.Bernoulli(True),
                                  lambda D: D.Uniform(False, True), lambda D: D.Exponential(True),
                                  lambda D: D.Gamma(True, 2.0)],
                         ids=["Normal", "Bernoulli", "Uniform", "Exponential", "Gamma"])
def test_bool_parameters_are_numbers(make: Any, torch: Any) -> None:
    """A Python bool parameter raised "Input arguments must all be instances of Number"; PyTorch takes it as a
    number (bool is a numbers.Number: Bernoulli(True) is probs 1.0, batch shape ())."""
    ours, theirs = make(md), make(torch.distributions)
    assert tuple(ours.batch_shape) == tuple(theirs.batch_shape) == ()
    _same(ours.mean, theirs.mean, "mean")
    assert ours.sample((2,)).dtype == theirs.sample((2,)).numpy().dtype


@pytest.mark.parametrize("sample_shape", [(2.5,), (2, 1.0)])
def test_float_sample_shape_raises_type_error(sample_shape: tuple, torch: Any) -> None:
    """sample((2.5,)) drew 2 samples (int() truncated the size); torch.Size refuses a float size with a TypeError."""
    with pytest.raises(TypeError):
        torch.distributions.Normal(0.0, 1.0).sample(sample_shape)
    with pytest.raises(TypeError, match="sample_shape"):
        md.Normal(0.0, 1.0).sample(sample_shape)
    assert md.Normal(0.0, 1.0).sample((np.int64(2), 3)).shape == (2, 3)


@pytest.mark.parametrize("name", ["Multinomial", "LowRankMultivariateNormal"])
def test_integer_values_score_in_the_float32_parameters_dtype(name: str, torch: Any) -> None:
    """Multinomial and LowRankMultivariateNormal scored int64 values by float32 parameters in float64 (NumPy's
    promotion); PyTorch gives float32, as the other distributions here do (round 14)."""
    def make(lib: Any, family: Any) -> Any:
        if name == "Multinomial":
            return family.Multinomial(3, probs=lib.tensor(np.array([[0.2, 0.8], [0.5, 0.5]], np.float32)))
        return family.LowRankMultivariateNormal(lib.tensor(np.zeros(2, np.float32)),
                                                lib.tensor(np.array([[1.0], [0.5]], np.float32)),
                                                lib.tensor(np.ones(2, np.float32)))
    value = np.array([[1, 2], [3, 0]])
    _same(make(mg, md).log_prob(mg.tensor(value)), make(torch, torch.distributions).log_prob(torch.tensor(value)),
          f"{name}.log_prob", rtol=1e-5)
