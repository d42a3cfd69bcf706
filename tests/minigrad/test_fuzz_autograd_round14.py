"""Differential fuzzing of the autograd API against torch 2.13 (round 14), float64: the cases where minigrad
differed — ``autograd.grad(is_grads_batched=True)`` with no, 0-d or empty-batch grad_outputs."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

A = np.random.default_rng(14).standard_normal((3, 4))


# torch's is_grads_batched runs through vmap (~1 s of start-up on first use), so these tests state torch 2.13's
# answers, checked by hand: IndexError for an empty batch or a 0-d grad_output ("index 0 is out of bounds for
# dimension 0 with size 0"), ValueError for a scalar output without grad_outputs, RuntimeError for a non-scalar one,
# and row b of the result = autograd.grad with row b of each grad_output.
def test_batched_grad_with_an_empty_batch_raises_not_an_empty_tuple() -> None:
    """An empty batch (0, *shape) made ``grad`` return ``()`` (no gradient at all); torch raises IndexError."""
    x = mg.tensor(A, requires_grad=True)
    with pytest.raises(IndexError, match=r"is_grads_batched=True .* at least one row \(got shapes \[\(0, 3, 4\)\]\)"):
        mg.autograd.grad(x.exp(), x, mg.zeros(0, 3, 4, dtype=mg.float64), is_grads_batched=True)
    with pytest.raises(IndexError, match=r"got shapes \[\(\)\]"):   # a 0-d grad_output has no batch dim
        mg.autograd.grad(x.exp(), x, mg.tensor(1.0), is_grads_batched=True)


def test_batched_grad_without_grad_outputs_raises_torchs_classes() -> None:
    """No grad_outputs: torch raises ValueError for a scalar output, RuntimeError for a non-scalar one."""
    x = mg.tensor(A, requires_grad=True)
    with pytest.raises(ValueError, match="needs grad_outputs"):
        mg.autograd.grad(x.exp().sum(), x, is_grads_batched=True)
    with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs"):
        mg.autograd.grad(x.exp(), x, is_grads_batched=True)


def test_batched_grad_rows_match_torch(torch: object) -> None:
    """The non-error path still gives torch's (B, *input shape) gradients, two outputs and two inputs."""
    rows = np.random.default_rng(1).standard_normal((2, 3, 4))
    got = []
    for lib in (torch, mg):
        x = lib.tensor(A, requires_grad=True)
        z = lib.tensor(A * 2, requires_grad=True)
        outs = [(x * z).sin(), (x * x).sum(1)]
        if lib is torch:   # torch's rows one by one (what is_grads_batched vmaps)
            per_row = [lib.autograd.grad(outs, [x, z], [lib.tensor(r), lib.tensor(r[:, 0])], retain_graph=True)
                       for r in rows]
            got.append([np.stack([g[i].numpy() for g in per_row]) for i in range(2)])
        else:
            got.append([g.numpy() for g in lib.autograd.grad(
                outs, [x, z], [lib.tensor(rows), lib.tensor(rows[:, :, 0])], is_grads_batched=True)])
    for a, b in zip(*got):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)


def _structure(value: object) -> object:
    """Nested list/tuple types of a result, with the leaves' dtypes (str), to compare across libraries."""
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_structure(v) for v in value])
    return str(value.dtype).replace("torch.", "")


def _flat(value: object) -> list:
    return [a for v in value for a in _flat(v)] if isinstance(value, (list, tuple)) else [value.detach().numpy()]


def _as_lists(value: object) -> object:
    """torch's forward-mode structure for tuple inputs: lists by output, then by input (checked on torch 2.13; the
    tests compare against torch's reverse mode, since torch's forward mode costs ~2 s of vmap start-up)."""
    return [_as_lists(v) for v in value] if isinstance(value, (list, tuple)) else value


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
        inputs = args if n > 1 else args[0]
        if lib is torch:   # reverse mode, in the outputs' dtypes: torch's forward-mode numbers
            jac = lib.autograd.functional.jacobian(func, inputs)
            jac = _as_lists(jac) if n > 1 else jac
            if case == "upcast":
                jac = jac.double()
        else:
            jac = lib.autograd.functional.jacobian(func, inputs, vectorize=True, strategy="forward-mode")
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
        fns = lib.autograd.functional
        if lib is torch:
            hess = _as_lists(fns.hessian(f, args))
        else:
            hess = fns.hessian(f, args, vectorize=True, outer_jacobian_strategy="forward-mode")
        got.append((_structure(hess), _flat(hess)))
        for kw, cls in [({}, NotImplementedError), ({"vectorize": True, "create_graph": True}, NotImplementedError),
                        ({"vectorize": True, "strict": True}, RuntimeError)]:
            with pytest.raises(cls, match="forward"):
                fns.jacobian(lambda a: a * 2, args[0], strategy="forward-mode", **kw)
        with pytest.raises(AssertionError, match="reverse-mode"):
            fns.hessian(f, args, outer_jacobian_strategy="sideways")
    assert got[1][0] == got[0][0]
    for ours, theirs in zip(got[1][1], got[0][1]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


SAVES_NOTHING = {"sum": lambda lib, x, z: x.sum(), "add": lambda lib, x, z: (x + z).sum(),
                 "neg_view": lambda lib, x, z: (-x).T[1:].sum(), "getitem": lambda lib, x, z: x[0].sum(),
                 "cat_mean": lambda lib, x, z: lib.cat([x, z]).mean()}
SAVES_ARRAYS = {"mul": lambda lib, x, z: (x * z).sum(), "tanh": lambda lib, x, z: x.tanh().sum(),
                "exp_then_sum": lambda lib, x, z: x.exp().sum()}


@pytest.mark.parametrize("name", sorted(SAVES_NOTHING) + sorted(SAVES_ARRAYS))
def test_second_backward_without_retain_graph_as_torch(torch: object, name: str) -> None:
    """A second ``backward()`` raised for every graph; torch refuses only one whose nodes saved tensors (sum, add,
    views, cat... save none, so it runs again and accumulates)."""
    build = {**SAVES_NOTHING, **SAVES_ARRAYS}[name]
    grads = []
    for lib in (torch, mg):
        x, z = lib.tensor(A, requires_grad=True), lib.tensor(A * 2, requires_grad=True)
        y = build(lib, x, z)
        y.backward()
        if name in SAVES_ARRAYS:
            with pytest.raises(RuntimeError, match="(?i)backward through the graph a second time"):
                y.backward()
            continue
        y.backward()
        g, = lib.autograd.grad(build(lib, x, z), x)   # autograd.grad twice likewise
        grads.append((x.grad.numpy(), g.numpy()))
    if grads:
        for ours, theirs in zip(grads[1], grads[0]):
            np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_second_grad_after_create_graph_without_retain(torch: object) -> None:
    """``create_graph=True, retain_graph=False`` frees what the walk saved; a sum-only graph still runs again."""
    for lib in (torch, mg):
        x = lib.tensor(A, requires_grad=True)
        y = (x * x).sum()
        lib.autograd.grad(y, x, create_graph=True, retain_graph=False)
        with pytest.raises(RuntimeError, match="(?i)second time"):
            lib.autograd.grad(y, x)
        s = x.sum()
        lib.autograd.grad(s, x, create_graph=True, retain_graph=False)
        np.testing.assert_allclose(lib.autograd.grad(s, x)[0].numpy(), np.ones_like(A))


def test_materialized_zero_gradient_with_create_graph_requires_grad(torch: object) -> None:
    """``materialize_grads=True, create_graph=True``: torch's zeros for an unused input are
    ``zeros_like(input, requires_grad=True)``, so a Hessian loop can differentiate them again (None, or zeros
    materialized once more); ours did not require grad, and the next ``grad`` raised."""
    got = []
    for lib in (torch, mg):
        x, z = lib.tensor(A, requires_grad=True), lib.tensor(A * 2, requires_grad=True)
        gx, gz = lib.autograd.grad((x ** 3).sum(), [x, z], materialize_grads=True, create_graph=True)
        assert gz.requires_grad and gz.is_leaf and not gz.abs().sum().item()
        s = (gx ** 2).sum() + (gz ** 2).sum()
        again = lib.autograd.grad(s, [x, z], materialize_grads=True)
        got.append([g.numpy() for g in again])
    for ours, theirs in zip(got[1], got[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    x = mg.tensor(A, requires_grad=True)
    g, = mg.autograd.grad(x.sum(), mg.tensor(A, requires_grad=True), materialize_grads=True)
    assert not g.requires_grad   # without create_graph: a plain zero tensor, as torch


@pytest.mark.parametrize("real_output", [True, False])
def test_gradient_of_other_complexness_than_output_raises(torch: object, real_output: bool) -> None:
    """A complex gradient for a real output was cast (its imaginary part silently dropped, a NumPy ComplexWarning);
    torch refuses a grad_output whose complex-ness differs from the output's, either way round."""
    for lib in (torch, mg):
        x = lib.tensor(A[0] if real_output else A[0] + 1j, requires_grad=True)
        y = x.exp()
        g = lib.tensor(A[1] + 2j) if real_output else lib.tensor(A[1])
        with pytest.raises(RuntimeError, match="(?i)complex tensors, both grad"):
            lib.autograd.grad(y, x, g, retain_graph=True)
        with pytest.raises(RuntimeError, match="(?i)complex tensors, both grad"):
            lib.autograd.grad(y, x, g, create_graph=True)
        with pytest.raises(RuntimeError, match="(?i)complex tensors, both grad"):
            y.backward(g, retain_graph=True)
    x = mg.tensor(A[0] + 1j, requires_grad=True)   # complex128 output, complex64 grad: cast, as torch
    g, = mg.autograd.grad(x * 2, x, mg.tensor(A[1] + 1j).to(mg.complex64))
    assert g.dtype == mg.complex128


@pytest.mark.parametrize("create_graph", [False, True])
def test_functional_jvp_complex_v_for_real_input_raises(torch: object, create_graph: bool) -> None:
    """``autograd.functional.jvp`` with a complex ``v`` for a real input dropped v's imaginary part (a ComplexWarning);
    torch's double-backward trick refuses it."""
    for lib in (torch, mg):
        with pytest.raises(RuntimeError, match="(?i)complex tensors, both"):
            lib.autograd.functional.jvp(lambda a: a.exp(), lib.tensor(A[0]), lib.tensor(A[1] + 1j),
                                        create_graph=create_graph)


@pytest.mark.parametrize("name", ["vjp", "jvp", "hvp", "vhp"])
def test_functional_create_graph_keeps_the_graph_to_v(torch: object, name: str) -> None:
    """``create_graph=True``: torch keeps ``v``'s graph (``_grad_preprocess``), so the product can be differentiated
    w.r.t. ``v``; ours detached v, so ``grad(result, v)`` raised and ``backward()`` left ``v.grad`` None."""
    scalar = name in ("hvp", "vhp")
    got = []
    for lib in (torch, mg):
        x, v = lib.tensor(A[0], requires_grad=True), lib.tensor(A[1], requires_grad=True)
        fn = (lambda a: (a.exp() * a).sum()) if scalar else (lambda a: a.exp() * a)
        _, r = getattr(lib.autograd.functional, name)(fn, x, v, create_graph=True)
        (r ** 2).sum().backward()
        _, plain = getattr(lib.autograd.functional, name)(fn, x, v)
        assert not plain.requires_grad   # without create_graph the result is detached, as torch
        got.append((x.grad.numpy(), v.grad.numpy()))
    for ours, theirs in zip(got[1], got[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_linearize_is_differentiable_wrt_tangents_that_require_grad(torch: object) -> None:
    """torch's ``linearize`` jvp_fn is differentiable w.r.t. tangents that require grad; ours returned a detached
    result, so ``t.grad`` silently missed its term (round 14 made it raise; round 15 computes torch's gradient,
    and its derivative again)."""
    got = []
    for lib in (torch, mg):
        x, t = lib.tensor(A[0]), lib.tensor(A[1], requires_grad=True)
        _, jvp_fn = lib.func.linearize(lambda a: (a.sin() * a).sum() * a.exp(), x)
        jv = jvp_fn(t)
        assert jv.requires_grad
        (g,) = lib.autograd.grad((jv ** 2).sum(), t, create_graph=True)
        (h,) = lib.autograd.grad(g.sum(), t)
        with lib.no_grad():
            assert not jvp_fn(t).requires_grad
        got.append((jv.detach().numpy(), g.detach().numpy(), h.numpy()))
    for ours, theirs in zip(got[1], got[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_func_jvp_is_differentiable_wrt_tangents_of_a_constant_primal(torch: object) -> None:
    """``func.jvp`` with a primal that does not require grad and a tangent that does: J·t had no graph (the tangent
    was computed without create_graph unless the primal required grad), so ``t.grad`` stayed None; torch's has one."""
    got = []
    for lib in (torch, mg):
        x, t = lib.tensor(A[0]), lib.tensor(A[1], requires_grad=True)
        _, jv = lib.func.jvp(lambda a: (a.exp() * a).sin(), (x,), (t,))
        assert jv.requires_grad
        (jv ** 2).sum().backward()
        got.append(t.grad.numpy())
    np.testing.assert_allclose(got[1], got[0], rtol=1e-12)
