"""Differential fuzzing of second and third derivatives against torch 2.13 (round 15), float64: the ops whose
``create_graph=True`` backward raised "no higher-order gradient" where PyTorch computes.

- ``nanmedian()`` (no dim) and ``fake_quantize_per_tensor/per_channel_affine``: no rule (the median's rule and a
  straight-through mask);
- ``utils.checkpoint(use_reentrant=False)``: no rule; torch's non-reentrant checkpoint differentiates any number of
  times (a gradient penalty through a checkpointed block);
- ``special.zeta`` in q: torch's gradient -s·ζ(s + 1, q) is differentiable again; and ``grad(y, q)`` raised when s
  required grad too (torch raises only where s's gradient is asked for);
- ``cdist``: torch's first derivative under ``create_graph=True`` works (its second raises); ours raised at once.
  Ours now differentiates any number of times (checked against torch's derivatives of cdist written with
  primitive ops);
- ``addmm``/``addmv``/``addr``/``baddbmm`` with ``beta=0``, ``normal(mean, std)`` with tensors that require grad
  (a zero gradient, no reparameterisation) and ``cond``: no rule for their zero-gradient nodes;
- ops PyTorch cannot differentiate at all (heaviside, floor_divide, geqrf, ldl_factor/ldl_solve, the Bessel
  functions): under ``create_graph=True`` the message said "no higher-order gradient … its first-order backward
  works: leave create_graph=False", which was false; now the op's own error (a NotImplementedError, which is a
  RuntimeError as PyTorch's);
- ``embedding(scale_grad_by_freq=True)``: the create_graph rule scaled the gradient by 1/count with a Mul whose
  derivative scaled again, so a second derivative through the looked-up rows had the scale twice; PyTorch's double
  backward ignores the frequency scale (the lookup's backward applies it once), which matches the finite
  differences of the first derivative;
- ``ctc_loss`` and ``_standard_gamma``: ours raised at once; torch gives the first derivative and raises only when
  a derivative runs through its backward (ours now does the same, with RuntimeError as torch).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

RNG = np.random.default_rng(15)


def _checkpoint(lib: Any, function: Callable, *args: Any) -> Any:
    """minigrad's non-reentrant checkpoint of ``function``; for torch the plain call, whose derivatives torch's
    checkpoint gives (its first call takes seconds of set-up)."""
    if lib is mg:
        return mg.utils.checkpoint.checkpoint(function, *args, use_reentrant=False)
    return function(*args)


def _derivatives(lib: Any, fn: Callable, arrays: list, order: int = 3, seed: int = 0) -> list:
    """[first gradients, Hessian-vector products, third derivatives] of sum(fn(*xs) * w) for each input, with
    fixed random w and directions; a gradient that is None counts as zeros."""
    rng = np.random.default_rng(seed)
    xs = [lib.tensor(a.copy(), requires_grad=True) for a in arrays]
    out = fn(lib, *xs)
    scalar = (out * lib.tensor(rng.standard_normal(tuple(out.shape)))).sum()
    results = []
    for k in range(order):
        grads = lib.autograd.grad(scalar, xs, create_graph=k < order - 1, allow_unused=True)
        results.append([np.zeros_like(a) if g is None else g.detach().numpy() for g, a in zip(grads, arrays)])
        if k < order - 1:
            scalar = sum((g * lib.tensor(rng.standard_normal(a.shape))).sum()
                         for g, a in zip(grads, arrays) if g is not None and g.requires_grad)
    return results


def _assert_same(got: list, want: list, what: str) -> None:
    for k, (mine, theirs) in enumerate(zip(got, want)):
        for i, (a, b) in enumerate(zip(mine, theirs)):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10, err_msg=f"{what}: derivative {k + 1}, input {i}")


NO_RULE_CASES = {
    "nanmedian_all": (lambda L, x: x.nanmedian() ** 3 * x, [RNG.standard_normal((3, 5))]),
    "nanmedian_all_with_nan": (
        lambda L, x: (x + L.tensor(np.where(np.arange(15).reshape(3, 5) % 4 == 1, np.nan, 0.0))).nanmedian() ** 3 * x,
        [RNG.standard_normal((3, 5))]),
    "fake_quantize_per_tensor": (lambda L, x: L.fake_quantize_per_tensor_affine(x * 3, 0.1, 0, -10, 10) ** 3 * x,
                                 [RNG.standard_normal((3, 4))]),
    "fake_quantize_per_channel": (
        lambda L, x: L.fake_quantize_per_channel_affine(
            x * 3, L.tensor(np.array([0.1, 0.2, 0.3], np.float32)), L.tensor(np.array([0, 1, -1], np.int32)), 0, -10, 10
        ) ** 3 * x, [RNG.standard_normal((3, 4))]),
    "checkpoint": (lambda L, x, w: _checkpoint(L, lambda a, b: L.tanh(a @ b) * a.sum(), x, w),
                   [RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4))]),
    "checkpoint_of_non_leaves_and_a_closure": (
        lambda L, x, w: _checkpoint(L, lambda a: L.sin(a @ w) * w[0], x.exp()) * w[1],
        [RNG.standard_normal((2, 3)), RNG.standard_normal((3, 3))]),
    "checkpoint_nested": (
        lambda L, x: _checkpoint(L, lambda a: _checkpoint(L, lambda b: b.sin() * b, a * a).exp(), x),
        [RNG.standard_normal(4)]),
    "addmm_beta0": (lambda L, a, x, y: L.addmm(a, x, y, beta=0) ** 2,
                    [RNG.standard_normal((3, 2)), RNG.standard_normal((3, 4)), RNG.standard_normal((4, 2))]),
    "addmv_beta0": (lambda L, a, x, y: L.addmv(a, x, y, beta=0, alpha=2) ** 2,
                    [RNG.standard_normal(3), RNG.standard_normal((3, 4)), RNG.standard_normal(4)]),
    "addr_beta0": (lambda L, a, x, y: L.addr(a, x, y, beta=0) ** 2,
                   [RNG.standard_normal((3, 4)), RNG.standard_normal(3), RNG.standard_normal(4)]),
    "baddbmm_beta0": (lambda L, a, x, y: L.baddbmm(a, x, y, beta=0, alpha=0.5) ** 2,
                      [RNG.standard_normal((2, 3, 2)), RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 4, 2))]),
    "normal_of_tensors": (lambda L, m, s: L.normal(m, s.exp()) * 0 + m ** 3 + s ** 2,
                          [RNG.standard_normal(3), RNG.standard_normal(3)]),
    "embedding_scale_grad_by_freq": (
        lambda L, w: L.nn.functional.embedding(L.tensor(np.array([[0, 2, 2], [3, 0, 4]])), w, scale_grad_by_freq=True)
        ** 3, [RNG.standard_normal((5, 3))]),
    "embedding_scale_grad_by_freq_padding": (
        lambda L, w, a: (L.nn.functional.embedding(L.tensor(np.array([[0, 2, 2], [3, 0, 4]])), w, padding_idx=3,
                                                   scale_grad_by_freq=True) * a).tanh(),
        [RNG.standard_normal((5, 3)), RNG.standard_normal((2, 3, 3))]),
    "zeta_in_q": (lambda L, q: L.special.zeta(L.tensor(np.array([2.5, 3.0, 4.5])), q), [RNG.uniform(1, 2, 3)]),
}


@pytest.mark.parametrize("name", sorted(NO_RULE_CASES))
def test_ops_without_a_create_graph_rule_now_match_torch(name: str, torch: Any) -> None:
    fn, arrays = NO_RULE_CASES[name]
    _assert_same(_derivatives(mg, fn, arrays), _derivatives(torch, fn, arrays), name)


NEVER_DIFFERENTIABLE = {
    "heaviside": (lambda a, b: mg.heaviside(a, b), "derivative for heaviside is not implemented"),
    "floor_divide": (lambda a, b: mg.floor_divide(a, b), "derivative for floor_divide is not implemented"),
    "geqrf": (lambda a, b: mg.geqrf(a)[0], "the derivative for 'geqrf' is not implemented"),
    "ldl_solve": (lambda a, b: mg.linalg.ldl_solve(*mg.linalg.ldl_factor(a @ a.mT + 3 * mg.eye(3)), b),
                  "the derivative for 'linalg_ldl_solve' is not implemented"),
    "bessel_j0": (lambda a, b: mg.special.bessel_j0(a), "the derivative of torch.special.bessel_j0 is not implemented"),
}


@pytest.mark.parametrize("name", sorted(NEVER_DIFFERENTIABLE))
def test_an_op_without_any_derivative_says_so_under_create_graph(name: str) -> None:
    fn, message = NEVER_DIFFERENTIABLE[name]
    a, b = (mg.tensor(RNG.standard_normal((3, 3)), requires_grad=True) for _ in range(2))
    for create_graph in (False, True):
        with pytest.raises(RuntimeError, match=message):
            mg.autograd.grad(fn(a, b).sum(), [a], create_graph=create_graph)


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_embedding_bag_scale_grad_by_freq_differentiates_as_torchs_embedding_then_reduce(mode: str, torch: Any) -> None:
    """torch refuses embedding_bag's double backward; ours is torch's embedding (scale_grad_by_freq) then the bag's
    reduction, to the third derivative (the frequency scale was applied twice in the second)."""
    index, w = np.array([0, 2, 2, 3, 0, 4]), RNG.standard_normal((5, 3))
    got = _derivatives(mg, lambda L, a: L.nn.functional.embedding_bag(
        L.tensor(index), a, L.tensor(np.array([0, 3])), mode=mode, scale_grad_by_freq=True) ** 3, [w])
    want = _derivatives(torch, lambda L, a: getattr(L.nn.functional.embedding(
        L.tensor(index), a, scale_grad_by_freq=True).reshape(2, 3, 3), mode)(1) ** 3, [w])
    _assert_same(got, want, f"embedding_bag {mode}")


def test_cond_differentiates_as_its_taken_branch(torch: Any) -> None:
    """torch.cond's gradient is not differentiable again (its second derivative through the branch is silently
    missing); ours equals torch's derivatives of the branch it takes."""
    x = np.abs(RNG.standard_normal(3))
    got = _derivatives(mg, lambda L, a: L.cond(a.sum() > 0, lambda b: b.sin() * b, lambda b: b.cos(), (a,)) * a, [x])
    _assert_same(got, _derivatives(torch, lambda L, a: a.sin() * a * a, [x]), "cond")


@pytest.mark.parametrize("create_graph", [False, True])
def test_zeta_gradient_in_q_while_s_requires_grad(create_graph: bool, torch: Any) -> None:
    s0, q0 = np.array([2.5, 3.0]), np.array([1.5, 2.0])
    got = []
    for lib in (torch, mg):
        s, q = lib.tensor(s0, requires_grad=True), lib.tensor(q0, requires_grad=True)
        (g,) = lib.autograd.grad(lib.special.zeta(s, q).sum(), q, create_graph=create_graph)
        got.append(g.detach().numpy())
        with pytest.raises(NotImplementedError, match="derivative"):
            lib.autograd.grad(lib.special.zeta(s, q).sum(), [s, q], create_graph=create_graph)
    np.testing.assert_allclose(got[1], got[0], rtol=1e-12)


def _cdist_by_primitives(lib: Any, x1: Any, x2: Any, p: float) -> Any:
    d = x1[..., :, None, :] - x2[..., None, :, :]
    return ((d * d) ** (p / 2)).sum(-1) ** (1 / p)   # no abs: its torch double backward takes seconds to set up


@pytest.mark.parametrize("p", [2.0, 1.5, 3.0, 0.5])
@pytest.mark.parametrize("shapes", [((3, 4), (5, 4)), ((3, 4), (2, 1, 5, 4))])
def test_cdist_differentiates_any_number_of_times(p: float, shapes: tuple, torch: Any) -> None:
    """torch's cdist refuses a second derivative ("derivative for '_cdist_backward' is not implemented"); ours
    equals torch's derivatives of the same distances written with primitive ops, to the third."""
    arrays = [RNG.standard_normal(shapes[0]), RNG.standard_normal(shapes[1])]
    got = _derivatives(mg, lambda L, a, b: L.cdist(a, b, p), arrays)
    _assert_same(got, _derivatives(torch, lambda L, a, b: _cdist_by_primitives(L, a, b, p), arrays), f"cdist p={p}")
    _assert_same(got[:1], _derivatives(torch, lambda L, a, b: L.cdist(a, b, p), arrays, order=1), "cdist (torch's)")


def test_cdist_second_derivative_at_a_zero_distance_is_finite() -> None:
    a = RNG.standard_normal((3, 4))
    b = np.concatenate([a[:1], RNG.standard_normal((2, 4))])
    for grads in _derivatives(mg, lambda L, x, y: L.cdist(x, y), [a, b]):
        assert all(np.isfinite(g).all() for g in grads)


def _ctc(lib: Any, x: Any) -> Any:
    return lib.nn.functional.ctc_loss(x.log_softmax(2), lib.tensor(np.array([[1, 2, 2], [3, 1, 0]])),
                                      lib.tensor(np.array([6, 5])), lib.tensor(np.array([3, 2])))


def test_ctc_loss_first_derivative_under_create_graph_and_a_second_raises(torch: Any) -> None:
    """As torch's: create_graph=True gives the first derivative; a derivative through it raises RuntimeError."""
    lp = RNG.standard_normal((6, 2, 5))
    got = []
    for lib in (mg, torch):
        x = lib.tensor(lp, requires_grad=True)
        (g,) = lib.autograd.grad(_ctc(lib, x), x, create_graph=True)
        got.append(g.detach().numpy())
        assert g.requires_grad
        with pytest.raises(RuntimeError, match="derivative for .*ctc_loss.*backward is not implemented"):
            lib.autograd.grad((g * g).sum(), x)
    np.testing.assert_allclose(got[0], got[1], rtol=1e-10, atol=1e-12)


def test_standard_gamma_first_derivative_under_create_graph(torch: Any) -> None:
    """g · dx/dα: differentiable in g (a weight's gradient), not in α (dx/dα has no derivative, as torch's)."""
    a, w = mg.tensor([1.5, 2.5], requires_grad=True), mg.tensor([1.0, 2.0], requires_grad=True)
    mg.manual_seed(0)
    x = mg.distributions.Gamma(a, 1.0).rsample()
    (plain,) = mg.autograd.grad((x * w).sum(), a, retain_graph=True)
    (g,) = mg.autograd.grad((x * w).sum(), a, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), plain.numpy())
    (gw,) = mg.autograd.grad(g.sum(), w, retain_graph=True)
    np.testing.assert_allclose(gw.numpy() * w.detach().numpy(), plain.numpy())   # dx/dα
    with pytest.raises(RuntimeError, match="derivative for standard_gamma's backward is not implemented"):
        mg.autograd.grad(g.sum(), a)


@pytest.mark.parametrize("leaf", [True, False])
def test_checkpoint_under_create_graph_runs_an_input_hook_once(leaf: bool, torch: Any) -> None:
    """A hook on the checkpointed function's input (a leaf or not) doubles its gradient once, as torch's."""
    x0 = RNG.standard_normal(3)
    got = []
    for lib in (torch, mg):
        calls: list = []
        x = lib.tensor(x0, requires_grad=True)
        source = x if leaf else x * 1.0
        source.register_hook(lambda g, calls=calls: (calls.append(1), g * 2)[1])
        y = _checkpoint(lib, lambda a: a.sin() * a, source)
        (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        (h,) = lib.autograd.grad(g.sum(), x)
        got.append((len(calls), g.detach().numpy(), h.numpy()))
    assert got[1][0] == got[0][0]
    for mine, theirs in zip(got[1][1:], got[0][1:]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12)


def test_gradient_penalty_through_a_checkpointed_module(torch: Any) -> None:
    """WGAN-GP: the gradient of ||dD/dx|| with respect to the parameters of a checkpointed block."""
    import nn as mnn
    x0 = RNG.standard_normal((4, 3))
    torch.manual_seed(0)
    layers = [torch.nn.Linear(3, 5).double(), mnn.Linear(3, 5).double()]
    for name, p in layers[1].named_parameters():
        p.data[...] = getattr(layers[0], name).detach().numpy()
    got = []
    for lib, layer in zip((torch, mg), layers):
        x = lib.tensor(x0, requires_grad=True)
        y = _checkpoint(lib, lambda a, f=layer: f(a).tanh() * a.sum(), x)
        (d,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        ((d.norm(dim=1) - 1) ** 2).mean().backward()
        got.append([layer.weight.grad.numpy(), layer.bias.grad.numpy(), x.grad.numpy()])
    for theirs, mine in zip(*got):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)
