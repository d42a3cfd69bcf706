"""Round 21, leftovers A: tensor hooks and grad mode inside ``mg.func`` transforms, against torch.func 2.13.

Hooks. torch.func wraps the tensors a transform's function makes in that transform's level: inside ``vmap``
(batched tensors), inside ``jvp``/``jacfwd`` (forward AD), and inside ``grad``/``vjp``/``jacrev`` for a tensor
computed only from tensors of outside (closed over), they do not require grad, so torch's ``register_hook``
raises there and the usual ``if t.requires_grad: t.register_hook(h)`` skips it. minigrad records one graph for
every level (such tensors require grad), so the hook used to run in a later backward (vmap: gradients 2x torch's;
grad: a hook on ``w * 3`` made inside ran in the outer backward), and a hook registered inside vmap on a tensor
from outside ran once per example (torch: once). Now such a hook is not registered (what the guard does in
torch), a hook on a tensor from outside is registered once, and a tensor of an enclosing level gets its hook in
that level's walks only.
"""

from typing import Any

import numpy as np
import pytest

import minigrad as mg
import minigrad.func as mf

torch = pytest.importorskip("torch", reason="no torch")
import torch.func as tf  # noqa: E402

X = np.random.RandomState(0).randn(3, 3)
W = np.array([0.5, 0.2, -0.4])


def _run_hooks(lib: Any, F: Any, case: str) -> list:
    """(outer loss, w.grad, x.grad, how many times the hook ran) for one program (minigrad's or torch's)."""
    x = lib.tensor(X, requires_grad=True)
    w = lib.tensor(W, requires_grad=True)
    outside = w * 2   # made before (outside) every transform
    calls = []

    def hook(g: Any) -> Any:   # not linear: running it once on a sum differs from once per example
        calls.append(1)
        return g / (g.norm() + 1.0)

    def guarded(t: Any) -> Any:   # the usual guard: torch's tensors of a transform's level skip it
        if t.requires_grad:
            t.register_hook(hook)
        return t

    if case == "vmap_guarded":   # the hook on a batched tensor: torch skips it (minigrad ran it: 2x gradients)
        out = F.vmap(lambda r: guarded(r * 1.0).sin() * r)(x).sum()
    elif case == "grad_of_vmap_guarded":
        out = F.grad(lambda y: F.vmap(lambda r: (guarded(r * w) ** 2).sum())(y).sum())(x).sum()
    elif case == "jacrev_of_vmap_guarded":
        out = F.jacrev(F.vmap(lambda r: guarded(r * 1.0).exp()))(x).sum()
    elif case == "vmap_outside_tensor":   # torch registers the hook once (minigrad: once per example)
        out = F.vmap(lambda r: (outside.register_hook(hook), (r * outside).sin())[1])(x).sum()
    elif case == "vmap_vmap_outside_tensor":
        inner = F.vmap(lambda s: (outside.register_hook(hook), (s * outside).sin())[1])
        out = F.vmap(inner)(x[:, :, None].expand(3, 3, 3)).sum()
    elif case == "grad_closed_over_guarded":   # made inside grad from w only: torch's does not require grad
        out = F.grad(lambda y: (guarded(w * 3) * y).sin().sum())(x).pow(2).sum()
    elif case == "vjp_closed_over_guarded":
        o, vjp_fn = F.vjp(lambda y: (guarded(w * 3) * y).sin(), x)
        out = o.sum() + vjp_fn(lib.ones_like(o))[0].pow(2).sum()
    elif case == "jvp_outside_tensor":   # a tensor from outside keeps its hook for the later backward (was lost)
        o, t = F.jvp(lambda y: (outside.register_hook(hook), (y * outside).sin())[1], (x,), (lib.ones_like(x),))
        out = (o + t).sum()
    elif case == "jacfwd_outside_tensor":
        out = F.jacfwd(lambda y: (outside.register_hook(hook), (y * outside).sin())[1])(x[0]).sum()
    elif case == "jacfwd_guarded":   # forward AD: torch's tensors do not require grad, the guard skips the hook
        out = F.jacfwd(lambda y: guarded(y * w).sin())(x[0]).sum()
    elif case == "grad_of_vmap_enclosing_tensor":   # z is grad's: its hook runs in grad's walk only, once
        def g(y: Any) -> Any:
            z = y * 2
            return F.vmap(lambda r: (z.register_hook(hook), (r * z).sin())[1])(x.detach()).sum()
        out = F.grad(g)(w).sum()
    else:   # grad_of_grad_enclosing_tensor: z is the outer grad's
        def outer(y: Any) -> Any:
            z = y * 2
            return F.grad(lambda v: (z.register_hook(hook), (v * z).sin().sum())[1])(y * 1.0).sum()
        out = F.grad(outer)(w).sum()
    out.backward()
    grads = [None if t.grad is None else t.grad.numpy() for t in (w, x)]
    return [out.detach().numpy(), *grads, len(calls)]


HOOK_CASES = ["vmap_guarded", "grad_of_vmap_guarded", "jacrev_of_vmap_guarded", "vmap_outside_tensor",
              "vmap_vmap_outside_tensor", "grad_closed_over_guarded", "vjp_closed_over_guarded", "jvp_outside_tensor",
              "jacfwd_outside_tensor", "jacfwd_guarded", "grad_of_vmap_enclosing_tensor",
              "grad_of_grad_enclosing_tensor"]


@pytest.mark.parametrize("case", HOOK_CASES)
def test_hooks_inside_transforms_run_where_torch_runs_them(case: str) -> None:
    ours, theirs = _run_hooks(mg, mf, case), _run_hooks(torch, tf, case)
    for a, b in zip(ours[:3], theirs[:3]):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert ours[3] == theirs[3]   # how many times the hook ran


@pytest.mark.parametrize("transform", ["vmap", "grad", "jvp"])
def test_a_hook_torch_refuses_is_not_registered(transform: str) -> None:
    """Unguarded, torch's register_hook raises on these tensors; minigrad registers nothing (the guarded program's
    result, which torch gives): the hook never runs and the gradients are the hook-free ones."""
    calls = []
    w = mg.tensor(W, requires_grad=True)

    def f(y: Any) -> Any:
        z = w * 3 if transform == "grad" else y * w
        z.register_hook(lambda g: calls.append(1) or g * 100)
        return (z * y).sin().sum()

    x = mg.tensor(X[0], requires_grad=True)
    if transform == "vmap":
        out = mf.vmap(f)(mg.tensor(X, requires_grad=True)).sum()
    elif transform == "grad":
        out = mf.grad(f)(x).sum()
    else:
        out = sum(mf.jvp(f, (x,), (mg.ones_like(x),)))
    out.backward()
    assert calls == []
    tw = torch.tensor(W, requires_grad=True)
    tx = torch.tensor(X if transform == "vmap" else X[0], requires_grad=True)

    def tf_f(y: Any) -> Any:
        return ((tw * 3 if transform == "grad" else y * tw) * y).sin().sum()
    t_out = (tf.vmap(tf_f)(tx).sum() if transform == "vmap" else tf.grad(tf_f)(tx).sum() if transform == "grad"
             else sum(tf.jvp(tf_f, (tx,), (torch.ones_like(tx),))))
    t_out.backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-10, atol=1e-12)
    with pytest.raises(RuntimeError):   # torch's, for the record: why nothing is registered
        tf.grad(lambda y: ((tw * 3).register_hook(lambda g: g), y.sum())[1])(tx)


# --- linearize: which products require grad --------------------------------------------------------------------

LINEARIZED = {   # the first four read the primal (torch's product requires grad), the others do not
    "exp": lambda lib, y: y.exp(), "square": lambda lib, y: y * y, "relu": lambda lib, y: y.relu(),
    "abs": lambda lib, y: y.abs(), "times_3": lambda lib, y: y * 3,
    "where": lambda lib, y: lib.where(y > 0, y, y * 0.1), "clamp": lambda lib, y: y.clamp(-0.5, 0.5),
}


@pytest.mark.parametrize("name, requires_grad", [(name, True) for name in LINEARIZED] + [("exp", False)])
def test_linearize_product_requires_grad_as_torch(name: str, requires_grad: bool) -> None:
    """With the primal requiring grad, torch's ``jvp_fn(t)`` requires grad where the linear map reads a value
    computed from the primal (a constant of its traced graph that requires grad), and a gradient w.r.t. the primal
    is None (unused); minigrad's products were always detached."""
    results = []
    for lib, F in ((mg, mf), (torch, tf)):
        x = lib.tensor(X[0], requires_grad=requires_grad)
        product = F.linearize(lambda y, lib=lib: LINEARIZED[name](lib, y), x)[1](lib.ones_like(x) * 0.3)
        unused = lib.autograd.grad(product.sum(), x, allow_unused=True)[0] if product.requires_grad else "no graph"
        results.append((product.detach().numpy(), product.requires_grad, unused))
    (ours, ours_rg, ours_unused), (theirs, theirs_rg, theirs_unused) = results
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    assert (ours_rg, ours_unused) == (theirs_rg, theirs_unused)


def test_linearize_of_jacrev_gives_the_jvp_where_torch_gives_zeros() -> None:
    """torch 2.13's ``linearize(jacrev(f))`` returns zeros (its traced graph loses jacrev's vmapped products;
    ``jvp(jacrev(f))`` gives the true values): minigrad's equals torch's jvp, the true derivative."""
    x, t = X[0], np.ones(3) * 0.3
    ours = mf.linearize(mf.jacrev(lambda y: y.exp()), mg.tensor(x))[1](mg.tensor(t))
    theirs = tf.jvp(tf.jacrev(lambda y: y.exp()), (torch.tensor(x),), (torch.tensor(t),))[1]
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.numpy(), np.diag(np.exp(x) * t), rtol=1e-12)


# --- grad mode: a transform called under no_grad inside another ------------------------------------------------


def _under_no_grad(lib: Any, fn: Any) -> Any:
    with lib.no_grad():
        return fn()


NO_GRAD_NESTED = {   # the inner transform runs under no_grad inside the outer one's function
    "grad_of_grad": lambda lib, F, f, x: F.grad(lambda y: _under_no_grad(lib, lambda: F.grad(f)(y)).sum())(x),
    "grad_of_grad_times_y": lambda lib, F, f, x: F.grad(
        lambda y: (_under_no_grad(lib, lambda: F.grad(f)(y)) * y).sum())(x),
    "jacrev_of_jacrev": lambda lib, F, f, x: F.jacrev(
        lambda y: _under_no_grad(lib, lambda: F.jacrev(lambda z: z.exp() * z)(y)))(x),
    "grad_of_vjp": lambda lib, F, f, x: F.grad(
        lambda y: _under_no_grad(lib, lambda: F.vjp(lambda z: z.exp() * z, y)[1](lib.ones_like(y))[0]).sum())(x),
    "grad_of_vmap_grad": lambda lib, F, f, x: F.grad(
        lambda y: _under_no_grad(lib, lambda: F.vmap(F.grad(f))(y[None]))[0].sum())(x),
    "jacfwd_of_grad": lambda lib, F, f, x: F.jacfwd(   # forward AD sees through no_grad: the true Jacobian
        lambda y: _under_no_grad(lib, lambda: F.grad(f)(y)))(x),
}


@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize("name", sorted(NO_GRAD_NESTED))
def test_no_grad_around_a_nested_transform_hides_it_from_the_outer_one(name: str, requires_grad: bool) -> None:
    """torch.func respects ``no_grad`` inside a transform's function: a grad/vjp/jacrev called there is not
    differentiated by the enclosing grad (its result is a constant there: zeros). minigrad's nested transform always
    kept its graph, so ``grad(lambda y: no_grad(grad(f))(y).sum())`` gave the second derivative."""
    results = []
    for lib, F in ((mg, mf), (torch, tf)):
        x = lib.tensor(X[0], requires_grad=requires_grad)
        results.append(NO_GRAD_NESTED[name](lib, F, lambda z: (z.exp() * z).sum(), x).detach().numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-10, atol=1e-12)


def _retain_inside(lib: Any, F: Any, transform: str) -> tuple:
    """("ok", x.grad, the .grad of tensors retained inside) or ("RuntimeError", None, [])."""
    x = lib.tensor(X[0], requires_grad=True)
    kept: list = []

    def f(y: Any) -> Any:
        z = y * 2.0
        if z.requires_grad:
            z.retain_grad()
            kept.append(z)
        return (z * z).sum()
    calls = {"grad": lambda: F.grad(f)(x), "vjp": lambda: F.vjp(f, x)[0], "jacrev": lambda: F.jacrev(f)(x),
             "vmap": lambda: F.vmap(f)(x[None]), "jvp": lambda: F.jvp(f, (x,), (lib.ones_like(x),))[1],
             "jacfwd": lambda: F.jacfwd(f)(x), "jacfwd_of_jacfwd": lambda: F.jacfwd(F.jacfwd(f))(x),
             "jacfwd_of_jvp": lambda: F.jacfwd(lambda y: F.jvp(f, (y,), (lib.ones_like(y),))[1])(x)}
    try:
        calls[transform]().sum().backward()
    except RuntimeError:
        return "RuntimeError", None, []
    return "ok", x.grad.numpy(), [k.grad for k in kept if k.grad is not None]


@pytest.mark.parametrize("transform", ["grad", "vjp", "jacrev", "vmap", "jvp", "jacfwd", "jacfwd_of_jacfwd",
                                       "jacfwd_of_jvp"])
def test_retain_grad_inside_transforms_as_torch(transform: str) -> None:
    """torch.func refuses ``retain_grad()`` on a tensor of a grad/vjp/jacrev level (RuntimeError), and inside
    vmap/jvp/jacfwd its tensors do not require grad (``if t.requires_grad: t.retain_grad()`` skips it). minigrad
    retained it: a later backward filled its ``.grad``."""
    (ours, ours_grad, ours_kept) = _retain_inside(mg, mf, transform)
    (theirs, theirs_grad, theirs_kept) = _retain_inside(torch, tf, transform)
    assert ours == theirs and ours_kept == theirs_kept == []
    if ours == "ok":
        np.testing.assert_allclose(ours_grad, theirs_grad, rtol=1e-10, atol=1e-12)
