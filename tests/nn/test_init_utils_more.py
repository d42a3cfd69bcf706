"""nn.init's eye_, dirac_, trunc_normal_, sparse_ and nn.utils' total norm, clipping with a given norm and
parameter vectors, against torch (values where deterministic, distributions where random)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="PyTorch is the reference for these tests")


@pytest.mark.parametrize("shape", [(3, 3), (2, 5), (4, 1)])
def test_eye_as_pytorch(shape: tuple) -> None:
    ours, theirs = mg.empty(*shape), torch.empty(*shape)
    assert nn.init.eye_(ours) is ours
    np.testing.assert_array_equal(ours.numpy(), torch.nn.init.eye_(theirs).numpy())
    with pytest.raises(ValueError, match="2-D"):
        nn.init.eye_(mg.empty(2, 2, 2))


@pytest.mark.parametrize(("shape", "groups"), [((4, 3, 5), 1), ((6, 2, 3, 3), 2), ((2, 4, 3, 3, 3), 1), ((4, 2, 4), 4)])
def test_dirac_as_pytorch(shape: tuple, groups: int) -> None:
    ours, theirs = mg.empty(*shape), torch.empty(*shape)
    nn.init.dirac_(ours, groups)
    np.testing.assert_array_equal(ours.numpy(), torch.nn.init.dirac_(theirs, groups).numpy())
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.init.dirac_(mg.empty(5, 2, 3), 2)


def test_trunc_normal_stays_in_bounds_with_pytorchs_distribution() -> None:
    mg.manual_seed(0)
    ours = nn.init.trunc_normal_(mg.empty(400, 500, dtype=mg.float64), mean=0.5, std=2.0, a=-1.0, b=3.0).numpy()
    theirs = torch.nn.init.trunc_normal_(torch.empty(400, 500, dtype=torch.float64), 0.5, 2.0, -1.0, 3.0).numpy()
    assert -1.0 <= ours.min() and ours.max() <= 3.0
    assert abs(ours.mean() - theirs.mean()) < 0.02 and abs(ours.std() - theirs.std()) < 0.02
    # the truncated normal's exact mean: μ + σ (φ(α) - φ(β)) / (Φ(β) - Φ(α))
    alpha, beta = (-1.0 - 0.5) / 2.0, (3.0 - 0.5) / 2.0
    phi = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    assert abs(ours.mean() - (0.5 + 2.0 * (phi(alpha) - phi(beta)) / (cdf(beta) - cdf(alpha)))) < 0.01
    with pytest.raises(ValueError, match="a < b"):
        nn.init.trunc_normal_(mg.empty(2), a=1.0, b=0.0)


def test_sparse_zeroes_that_many_entries_per_column() -> None:
    mg.manual_seed(1)
    w = nn.init.sparse_(mg.empty(10, 30, dtype=mg.float64), sparsity=0.3, std=0.5).numpy()
    assert ((w == 0).sum(axis=0) == math.ceil(0.3 * 10)).all()
    assert 0.3 < w[w != 0].std() < 0.7


def _with_grads(seed: int) -> list:
    rng = np.random.default_rng(seed)
    params = []
    for shape in ((3, 4), (5,), (2, 2, 2)):
        p = nn.Parameter(mg.tensor(rng.standard_normal(shape)))
        p.grad = mg.tensor(rng.standard_normal(shape) * 3)
        params.append(p)
    return params


def _torch_copy(params: list) -> list:
    out = []
    for p in params:
        t = torch.nn.Parameter(torch.from_numpy(p.numpy().copy()))
        t.grad = torch.from_numpy(p.grad.numpy().copy())
        out.append(t)
    return out


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_total_norm_and_clipping_with_it_as_pytorch(norm_type: float) -> None:
    ours = _with_grads(0)
    theirs = _torch_copy(ours)
    total = nn.utils.get_total_norm([p.grad for p in ours], norm_type)
    expected = torch.nn.utils.get_total_norm([p.grad for p in theirs], norm_type)
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-12)
    nn.utils.clip_grads_with_norm_(ours, 1.5, total)
    torch.nn.utils.clip_grads_with_norm_(theirs, 1.5, expected)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)
    ours, theirs = _with_grads(1), None
    theirs = _torch_copy(ours)
    np.testing.assert_allclose(nn.utils.clip_grad_norm_(ours, 2.0, norm_type, foreach=True).item(),
                               torch.nn.utils.clip_grad_norm_(theirs, 2.0, norm_type, foreach=True).item(),
                               rtol=1e-12)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)


def test_parameters_to_vector_and_back_as_pytorch() -> None:
    ours = _with_grads(2)
    theirs = _torch_copy(ours)
    vec = nn.utils.parameters_to_vector(ours)
    np.testing.assert_array_equal(vec.numpy(), torch.nn.utils.parameters_to_vector(theirs).detach().numpy())
    for p in ours:
        p.grad = None
    (vec * vec).sum().backward()   # differentiable, as PyTorch's
    for p in ours:
        np.testing.assert_array_equal(p.grad.numpy(), 2 * p.numpy())
    new = np.arange(vec.shape[0], dtype=np.float64)
    nn.utils.vector_to_parameters(mg.tensor(new), ours)
    torch.nn.utils.vector_to_parameters(torch.from_numpy(new), theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a.numpy(), b.detach().numpy())
    with pytest.raises(ValueError, match="hold 25 numbers, the vector 3"):
        nn.utils.vector_to_parameters(mg.zeros(3), ours)
