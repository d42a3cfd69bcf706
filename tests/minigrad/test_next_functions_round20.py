"""grad_fn.next_functions has PyTorch's structure (round 20): one edge per input PyTorch's node differentiates.

Found by /tmp/fuzz20_nextfn.py, which compares, for ~150 ops and every pattern of inputs requiring grad, the
length of ``next_functions``, which entries are ``(None, 0)``, the indices and the next nodes' names.
"""

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")

A = np.random.default_rng(0).standard_normal((3, 4))
B = np.random.default_rng(1).standard_normal((3, 4))
MASK = A > 0
IDX = np.array([0, 2])
SCATTER_IDX = np.array([[0, 1, 2, 0], [2, 1, 0, 1], [1, 1, 1, 1]])


def structure(y):
    """(node name, ((next node's name or None, index), ...)) of ``y.grad_fn``."""
    pairs = []
    for fn, index in y.grad_fn.next_functions:
        pairs.append((None if fn is None else fn.name(), index))
    return y.grad_fn.name(), tuple(pairs)


# the op with a on the grad path; b: a tensor that requires grad when `b_grad`
OPS = {
    "where": lambda L, a, b: L.where(a > 0, a, b),
    "where_number": lambda L, a, b: L.where(L.tensor(MASK), 1.0, a),
    "tensor_where": lambda L, a, b: a.where(L.tensor(MASK), b),
    "masked_fill": lambda L, a, b: a.masked_fill(L.tensor(MASK), 1.0),
    "masked_fill_tensor": lambda L, a, b: a.masked_fill(L.tensor(MASK), b.sum()),
    "masked_scatter": lambda L, a, b: a.masked_scatter(L.tensor(MASK), b),
    "index_fill": lambda L, a, b: a.index_fill(0, L.tensor(IDX), 2.0),
    "index_fill_tensor": lambda L, a, b: a.index_fill(0, L.tensor(IDX), b.sum()),
    "scatter_number": lambda L, a, b: a.scatter(0, L.tensor(SCATTER_IDX), 1.5),
    "pow_number": lambda L, a, b: a ** 2,
    "number_pow": lambda L, a, b: 2 ** a,
    "square": lambda L, a, b: a.square(),
    "rsub": lambda L, a, b: 2 - a,
    "remainder_number": lambda L, a, b: L.remainder(a, 1.5),
    "fmod_number": lambda L, a, b: L.fmod(a, 1.5),
    "clamp_numbers": lambda L, a, b: a.clamp(-0.5, 0.5),
    "clamp_min_number": lambda L, a, b: a.clamp_min(0.0),
    "clamp_tensor_min": lambda L, a, b: a.clamp(b, None),
    "clamp_tensor_max": lambda L, a, b: a.clamp(None, b),
}


@pytest.mark.parametrize("b_grad", [True, False])
@pytest.mark.parametrize("op", sorted(OPS))
def test_non_differentiable_inputs_have_no_edge(op, b_grad):
    """A condition, a mask, an index or a Python number has no entry in PyTorch's next_functions
    (mg.where(c, a, b) gave ((None, 0), a's, b's) where torch gives (a's, b's))."""
    ours = OPS[op](mg, mg.tensor(A, requires_grad=True), mg.tensor(B, requires_grad=b_grad))
    theirs = OPS[op](torch, torch.tensor(A, requires_grad=True), torch.tensor(B, requires_grad=b_grad))
    assert structure(ours) == structure(theirs)


def test_next_functions_leaf_is_the_variable():
    a, b = mg.tensor(A, requires_grad=True), mg.tensor(B, requires_grad=True)
    (fa, ia), (fb, ib) = mg.where(a > 0, a, b).grad_fn.next_functions
    assert fa.variable is a and fb.variable is b and (ia, ib) == (0, 0)


@pytest.mark.parametrize("exponent_grad", [True, False])
def test_pow_by_a_tensor_is_overload_1(exponent_grad):
    """x ** y with y a tensor that needs no grad is PyTorch's PowBackward1 with (x's, (None, 0)); it was
    PowBackward0 (the number overload)."""
    ours = mg.tensor(A, requires_grad=True) ** mg.tensor(B, requires_grad=exponent_grad)
    theirs = torch.tensor(A, requires_grad=True) ** torch.tensor(B, requires_grad=exponent_grad)
    assert structure(ours) == structure(theirs)


def walk(fn):
    """The graph below ``fn`` as nested (name, children) tuples."""
    if fn is None:
        return None
    return fn.name(), tuple((walk(f), i) for f, i in fn.next_functions)


@pytest.mark.parametrize("func", [lambda L: lambda t: (t * t).sum(), lambda L: lambda t: (t.sin() * 2).sum()])
def test_func_grad_has_no_stand_in_view(func):
    """mg.func.grad(f)(x), x requiring grad, had an extra ViewBackward0 (the transform's view_as stand-in)
    between the gradient's graph and x's AccumulateGrad; the gradient of it is unchanged."""
    x = mg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    tx = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    ours, theirs = mg.func.grad(func(mg))(x), torch.func.grad(func(torch))(tx)
    assert walk(ours.grad_fn) == walk(theirs.grad_fn)
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
