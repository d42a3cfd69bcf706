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


@pytest.mark.parametrize("step", [lambda v: v.view(3, 3), lambda v: v[:], lambda v: v.unsqueeze(0)[0], lambda v: v.t()],
                         ids=["view", "slice", "unsqueeze-select", "t"])
def test_an_in_place_write_through_a_long_view_chain_checks_its_root_once(monkeypatch: pytest.MonkeyPatch,
                                                                          step) -> None:
    """The write into a view of a view of ... asked at every level whether the chain's root is a leaf, walking
    the whole chain each time (100,000 views took minutes); the root is one, so it is asked once."""
    from minigrad.ops import inplace

    calls = []
    original = inplace._views_a_leaf
    monkeypatch.setattr(inplace, "_views_a_leaf", lambda x: calls.append(x) or original(x))
    grads = []
    for lib in (torch, mg):
        x = lib.tensor(np.ones((3, 3)), requires_grad=True)
        y = x.clone()
        v = y
        for _ in range(300):
            v = step(v)
        v.mul_(2.0)
        (y * lib.tensor(np.arange(9.0).reshape(3, 3))).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_array_equal(grads[1], grads[0])
    assert len(calls) <= 1


def test_an_in_place_write_into_a_view_chain_of_a_leaf_is_still_refused() -> None:
    """Checking the root once still refuses what PyTorch refuses: the chain of views of a leaf that requires grad."""
    for lib in (torch, mg):
        v = lib.tensor(np.ones(3), requires_grad=True)
        for _ in range(5):
            v = v.view(3)
        with pytest.raises(RuntimeError, match="view of a leaf Variable"):
            v.mul_(2.0)


@pytest.mark.parametrize("shapes, dims", [
    (((0, 3), (0, 3)), 2),                 # a full contraction of empty bools: PyTorch's dot, no bool kernel
    (((1, 0), (0, 1)), 1),                 # one row and one column: dot too
    (((0, 1), (0, 1)), ([0], [0])),
    (((0,), (0, 1)), 1),
    (((0,), (0,)), 1),                     # two empty vectors: inner too
])
def test_tensordot_of_bools_that_pytorch_reduces_to_dot_is_refused(shapes: tuple, dims) -> None:
    """Since matmul gives False for an empty bool product (round 19), tensordot and inner returned False where
    PyTorch's tensordot takes dot, which refuses bools even when empty; the zero-size sweep of round 18 saw it."""
    for lib in (torch, mg):
        a, b = (lib.zeros(s, dtype=lib.bool) for s in shapes)
        with pytest.raises(NotImplementedError):
            lib.tensordot(a, b, dims=dims)
        if len(shapes[0]) == 1 and shapes[0] == shapes[1]:
            with pytest.raises(NotImplementedError):
                lib.inner(a, b)


def test_tensordot_of_empty_bools_with_a_real_matrix_result_is_false() -> None:
    """Where PyTorch's tensordot is a matrix product (more than one row or column) empty bools still give False."""
    results = [lib.tensordot(lib.zeros((0, 3), dtype=lib.bool), lib.zeros((0, 3), dtype=lib.bool), dims=([0], [0]))
               for lib in (torch, mg)]
    np.testing.assert_array_equal(results[1].numpy(), results[0].numpy())
    assert results[1].dtype == mg.bool
