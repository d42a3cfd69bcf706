"""Differential fuzzing of the autograd API against torch 2.13 (round 14), float64: the cases where minigrad
differed — ``autograd.grad(is_grads_batched=True)`` with no, 0-d or empty-batch grad_outputs."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

A = np.random.default_rng(14).standard_normal((3, 4))


def test_batched_grad_with_an_empty_batch_raises_not_an_empty_tuple(torch: object) -> None:
    """An empty batch (0, *shape) made ``grad`` return ``()`` (no gradient at all); torch raises IndexError."""
    x = torch.tensor(A, requires_grad=True)
    with pytest.raises(IndexError):
        torch.autograd.grad(x.exp(), x, torch.zeros(0, 3, 4, dtype=torch.float64), is_grads_batched=True)
    x = mg.tensor(A, requires_grad=True)
    with pytest.raises(IndexError, match=r"is_grads_batched=True .* at least one row \(got shapes \[\(0, 3, 4\)\]\)"):
        mg.autograd.grad(x.exp(), x, mg.zeros(0, 3, 4, dtype=mg.float64), is_grads_batched=True)
    with pytest.raises(IndexError, match=r"got shapes \[\(\)\]"):   # a 0-d grad_output has no batch dim
        mg.autograd.grad(x.exp(), x, mg.tensor(1.0), is_grads_batched=True)


def test_batched_grad_without_grad_outputs_raises_torchs_classes(torch: object) -> None:
    """No grad_outputs: torch raises ValueError for a scalar output, RuntimeError for a non-scalar one."""
    for lib in (torch, mg):
        x = lib.tensor(A, requires_grad=True)
        with pytest.raises(ValueError):
            lib.autograd.grad(x.exp().sum(), x, is_grads_batched=True)
        with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs"):
            lib.autograd.grad(x.exp(), x, is_grads_batched=True)


def test_batched_grad_rows_match_torch(torch: object) -> None:
    """The non-error path still gives torch's (B, *input shape) gradients, two outputs and two inputs."""
    rows = np.random.default_rng(1).standard_normal((2, 3, 4))
    got = []
    for lib in (torch, mg):
        x = lib.tensor(A, requires_grad=True)
        z = lib.tensor(A * 2, requires_grad=True)
        got.append([g.detach().numpy() for g in lib.autograd.grad(
            [(x * z).sin(), (x * x).sum(1)], [x, z], [lib.tensor(rows), lib.tensor(rows[:, :, 0])],
            is_grads_batched=True)])
    for a, b in zip(*got):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)


def _structure(value: object) -> object:
    """Nested list/tuple types of a result, with the leaves' dtypes (str), to compare across libraries."""
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_structure(v) for v in value])
    return str(value.dtype).replace("torch.", "")


def _flat(value: object) -> list:
    return [a for v in value for a in _flat(v)] if isinstance(value, (list, tuple)) else [value.detach().numpy()]


@pytest.mark.parametrize("case", ["one", "tuple_in", "tuple_out", "both", "upcast"])
def test_jacobian_forward_mode_matches_torch(torch: object, case: str) -> None:
    """``strategy="forward-mode"`` (vectorize=True) raised NotImplementedError; torch gives the Jacobian, in the
    output's dtype, and lists (by output, then input) when the inputs are a tuple."""
    funcs = {"one": (lambda a: a.sin() * a.sum(), 1), "tuple_in": (lambda a, b: (a * b).exp(), 2),
             "tuple_out": (lambda a: (a.tanh(), a.sum()), 1), "both": (lambda a, b: (a @ b.T, b.sum()), 2),
             "upcast": (lambda a: a.double() ** 2, 1)}
    func, n = funcs[case]
    got = []
    for lib in (torch, mg):
        args = tuple(lib.tensor(A + k) for k in range(n))
        if case == "upcast":
            args = (args[0].float(),)
        jac = lib.autograd.functional.jacobian(func, args if n > 1 else args[0], vectorize=True,
                                               strategy="forward-mode")
        got.append((_structure(jac), _flat(jac)))
    assert got[1][0] == got[0][0]
    for ours, theirs in zip(got[1][1], got[0][1]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-12)


def test_hessian_forward_mode_and_torchs_limits(torch: object) -> None:
    """``hessian(outer_jacobian_strategy="forward-mode")`` works with vectorize=True; torch's limits raise its
    classes: no vectorize, create_graph (NotImplementedError), strict (RuntimeError), a bad name (AssertionError)."""
    def f(a: object, b: object) -> object:
        return (a ** 3 * b).sum()

    got = []
    for lib in (torch, mg):
        args = (lib.tensor(A), lib.tensor(A * 2))
        hess = lib.autograd.functional.hessian(f, args, vectorize=True, outer_jacobian_strategy="forward-mode")
        got.append((_structure(hess), _flat(hess)))
        fns = lib.autograd.functional
        for kw, cls in [({}, NotImplementedError), ({"vectorize": True, "create_graph": True}, NotImplementedError),
                        ({"vectorize": True, "strict": True}, RuntimeError)]:
            with pytest.raises(cls, match="forward"):
                fns.jacobian(lambda a: a * 2, args[0], strategy="forward-mode", **kw)
        with pytest.raises(AssertionError, match="reverse-mode"):
            fns.hessian(f, args, outer_jacobian_strategy="sideways")
    assert got[1][0] == got[0][0]
    for ours, theirs in zip(got[1][1], got[0][1]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
