"""Cases pinned by the round-20 differential fuzz of nested function transforms (vmap, grad, jacrev, jacfwd,
jvp, linearize, hessian, checkpoint, mg.compile, no_grad/enable_grad/inference_mode, tensor hooks) against
torch.func (torch 2.13): each runs one program with minigrad and with torch and compares the values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg

X = np.array([0.3, -1.2, 0.7])


def _numpy(t: Any) -> np.ndarray:
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


# --- 1. forward-mode transforms (jacfwd, linearize) under inference_mode ---------------------------------------------


def _no_grad_inside(lib: Any) -> Any:
    def f(y: Any) -> Any:
        with lib.no_grad():   # forward AD differentiates through it, as torch's
            s = y.sin()
        return y * s
    return f


FORWARD_UNDER_INFERENCE = {
    "jacfwd": lambda lib, x: lib.func.jacfwd(_no_grad_inside(lib))(x),
    "jacfwd_vmap": lambda lib, x: lib.func.vmap(lib.func.jacfwd(_no_grad_inside(lib)))(x[:, None]),
    "jvp": lambda lib, x: lib.func.jvp(_no_grad_inside(lib), (x,), (lib.ones_like(x),))[1],
}


@pytest.mark.parametrize("name", sorted(FORWARD_UNDER_INFERENCE))
def test_forward_transforms_under_inference_mode_match_torch(torch: Any, name: str) -> None:
    """jacfwd inside ``inference_mode()`` lost the tangents of ops ``func`` runs under no_grad (a silently
    wrong Jacobian); torch.func's transforms ignore the mode."""
    program = FORWARD_UNDER_INFERENCE[name]
    with mg.inference_mode():
        ours = program(mg, mg.tensor(X))
    with torch.inference_mode():
        theirs = program(torch, torch.tensor(X))
    np.testing.assert_allclose(_numpy(ours), _numpy(theirs), rtol=1e-10, atol=1e-12)


def test_linearize_under_inference_mode_gives_the_jvp() -> None:
    """linearize under ``inference_mode()`` gave the Jacobian-vector product without the no_grad ops' part;
    it now gives jvp's (torch 2.13's linearize traced there returns zeros, a torch bug)."""
    x, t = mg.tensor(X), mg.ones(3, dtype=mg.float64)
    with mg.inference_mode():
        _, jvp_fn = mg.func.linearize(_no_grad_inside(mg), x)
        product = jvp_fn(t)
    expected = mg.func.jvp(_no_grad_inside(mg), (x,), (t,))[1]
    np.testing.assert_allclose(product.numpy(), expected.numpy(), rtol=1e-12)


# --- 2. tensor hooks registered inside forward-mode transforms ------------------------------------------------------


def _hooked(lib: Any) -> Any:
    def f(y: Any) -> Any:
        z = y * 1.0
        if z.requires_grad:   # minigrad's forward AD records a graph: z requires grad inside jacfwd
            z.register_hook(lambda g: g * 2)
        z.retain_grad() if z.requires_grad else None
        return z.sin() * y
    return f


HOOKED = {
    "jacfwd": lambda lib, x: lib.func.jacfwd(_hooked(lib))(x),
    "jvp": lambda lib, x: lib.func.jvp(_hooked(lib), (x,), (lib.ones_like(x) * 0.5,))[1],
    "linearize": lambda lib, x: lib.func.linearize(_hooked(lib), x)[1](lib.ones_like(x) * 0.5),
    "vmap_jacfwd": lambda lib, x: lib.func.vmap(lib.func.jacfwd(_hooked(lib)))(x[:, None]),
    "jacfwd_of_grad": lambda lib, x: lib.func.jacfwd(lib.func.grad(lambda y: (y.exp() * y).sum()))(x),
}


@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize("name", sorted(HOOKED))
def test_forward_mode_transforms_ignore_tensor_hooks(torch: Any, name: str, requires_grad: bool) -> None:
    """A hook registered on a tensor inside jacfwd/jvp/linearize changed the tangents (minigrad computes them from
    the reverse-mode graph, whose walk ran the hook): PyTorch's forward AD never calls gradient hooks."""
    ours = HOOKED[name](mg, mg.tensor(X, requires_grad=requires_grad))
    theirs = HOOKED[name](torch, torch.tensor(X, requires_grad=requires_grad))
    np.testing.assert_allclose(_numpy(ours), _numpy(theirs), rtol=1e-10, atol=1e-12)


def test_reverse_mode_inside_forward_mode_still_runs_hooks(torch: Any) -> None:
    """jacfwd(grad(f)) where f's hook doubles the gradient: the inner reverse-mode grad runs the hook (its
    result is doubled), the outer forward walk does not run it again."""
    def program(lib: Any, x: Any) -> Any:
        def f(y: Any) -> Any:
            z = y * 1.0
            z.register_hook(lambda g: g * 2)
            return (z.sin() * z).sum()
        return lib.func.jacfwd(lib.func.grad(f))(x)
    np.testing.assert_allclose(program(mg, mg.tensor(X)).numpy(), program(torch, torch.tensor(X)).numpy(),
                               rtol=1e-10, atol=1e-12)


# --- 3. reverse mode through jvp's tangent where func runs ops under no_grad ---------------------------------------


def _sigmoid_under_no_grad(lib: Any, y: Any) -> Any:
    with lib.no_grad():
        return y.sigmoid()


XB = np.array([[0.3, -1.2, 0.7], [1.1, 0.4, -0.5]])


def _tangent_and_gradient(lib: Any, name: str) -> tuple:
    x = lib.tensor(XB, requires_grad=True)
    t = lib.ones_like(x) * 0.5
    if name == "all_under_no_grad":   # the whole function: its tangent is computed under no_grad (no graph)
        tangent = lib.func.jvp(lambda y: _sigmoid_under_no_grad(lib, y), (x,), (t,))[1]
    elif name == "vmap_all_under_no_grad":
        tangent = lib.func.vmap(lambda y: lib.func.jvp(lambda z: _sigmoid_under_no_grad(lib, z), (y,), (t[0],))[1])(x)
    else:   # "closure": the no_grad op depends on the dual only; the gradient reaches x through a closure
        tangent = lib.func.jvp(lambda y: (x * 2) * _sigmoid_under_no_grad(lib, y), (lib.tensor(XB),), (t,))[1]
    try:
        gradient = lib.autograd.grad(tangent.sum(), x)[0].detach().numpy()
    except RuntimeError as error:
        gradient = type(error).__name__
    return tangent.detach().numpy(), tangent.requires_grad, gradient


@pytest.mark.parametrize("name", ["all_under_no_grad", "vmap_all_under_no_grad", "closure"])
def test_jvp_tangent_of_ops_under_no_grad_is_constant_for_reverse_mode(torch: Any, name: str) -> None:
    """jvp's tangent of a function run under no_grad required grad (a gradient through it gave numbers where
    torch's tangent has no graph: RuntimeError); a closure's gradient through the tangent stays torch's."""
    ours, theirs = _tangent_and_gradient(mg, name), _tangent_and_gradient(torch, name)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12)
    assert ours[1] == theirs[1]
    if isinstance(theirs[2], str):
        assert ours[2] == theirs[2]
    else:
        np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-12)


def test_gradient_through_a_tangent_that_torch_takes_as_constant_raises(torch: Any) -> None:
    """x requires grad and ``func`` runs ``sin`` on it under no_grad: torch differentiates jvp's tangent
    t·s + x·ts with s = sin(x) and ts = cos(x)·t constants; minigrad's double-vjp would differentiate ts too (a
    different gradient), so it raises NotImplementedError; the tangent's values are torch's."""
    def f(lib: Any) -> Any:
        def g(y: Any) -> Any:
            with lib.no_grad():
                s = y.sin()
            return y * s
        return g
    tangents = []
    for lib in (mg, torch):
        x = lib.tensor(XB, requires_grad=True)
        tangents.append(lib.func.jvp(f(lib), (x,), (lib.ones_like(x) * 0.5,))[1])
    np.testing.assert_allclose(tangents[0].detach().numpy(), tangents[1].detach().numpy(), rtol=1e-12)
    with pytest.raises(NotImplementedError, match="under no_grad"):
        tangents[0].sum().backward()


def test_nested_forward_transforms_ignore_tensor_hooks(torch: Any) -> None:
    """jacfwd(jacfwd(f)): the inner transform, inside the outer's dual level, is computed in reverse
    mode; its walks ran a hook ``f`` registers (a doubled Hessian). PyTorch's forward AD never calls it."""
    def programs(lib: Any) -> list:
        f = _hooked(lib)
        return [lib.func.jacfwd(lib.func.jacfwd(f))(lib.tensor(X)),
                lib.func.vmap(lib.func.jacfwd(lib.func.jacfwd(f)))(lib.tensor(XB))]
    for ours, theirs in zip(programs(mg), programs(torch)):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10, atol=1e-12)
