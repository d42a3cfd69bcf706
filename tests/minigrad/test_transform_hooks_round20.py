"""Round 20: tensor hooks registered inside reverse-mode ``mg.func`` transforms (grad, grad_and_value, vjp, jacrev,
nested grad(grad), hessian, jacfwd(grad)) act only in the transform's own walk, as torch.func's levels.

Root cause: minigrad has one graph for every level, so such a hook also ran in a later backward outside the
transform (through its result, or through the function's graph) and in an enclosing transform's walk, giving
gradients 2x PyTorch's. A hook on a tensor computed outside (closed over) still runs outside, as torch's.
"""

import numpy as np
import pytest

import minigrad as mg
import minigrad.func as mf

torch = pytest.importorskip("torch", reason="no torch")
import torch.func as tf  # noqa: E402

CASES = ["grad", "grad_and_value_grad", "grad_and_value_value", "vjp_output", "vjp_product", "jacrev",
         "grad_of_grad", "closure_only", "hessian", "jacfwd_of_grad", "hook_on_outside_tensor"]


def _run(lib, F, case: str, x0: np.ndarray, w0: np.ndarray) -> list:
    """The case's outer loss, x.grad, w.grad and how many times the hook ran (for minigrad or torch)."""
    x, w = lib.tensor(x0, requires_grad=True), lib.tensor(w0, requires_grad=True)
    calls = []

    def hook(g):
        calls.append(1)
        return 2 * g

    def f(y):   # 0-d output; the hook is on a tensor of the transform's level
        z = y * y * w
        z.register_hook(hook)
        return z.sin().sum()

    def fv(y):   # vector output
        z = (y * w).exp()
        z.register_hook(hook)
        return z * y

    outside = w * 3

    def f_outside(y):   # the hooked tensor was computed outside: its hook runs in the outer backward (torch too)
        outside.register_hook(hook)
        return (outside * y).sin().sum()

    if case == "grad":
        r = F.grad(f)(x)
        out = (r * r).sum()
    elif case == "grad_and_value_grad":
        out = (F.grad_and_value(f)(x)[0] ** 2).sum()
    elif case == "grad_and_value_value":
        out = F.grad_and_value(f)(x)[1]
    elif case == "vjp_output":
        out = F.vjp(fv, x)[0].sum()
    elif case == "vjp_product":
        o, vjp_fn = F.vjp(fv, x)
        out = (vjp_fn(lib.ones_like(o))[0] ** 2).sum()
    elif case == "jacrev":
        out = (F.jacrev(fv)(x) ** 2).sum()
    elif case == "grad_of_grad":
        out = (F.grad(lambda y: F.grad(f)(y).sum())(x) ** 2).sum()
    elif case == "closure_only":
        out = (F.grad(f)(x.detach()) ** 2).sum()
    elif case == "hessian":
        out = (F.hessian(f)(x) ** 2).sum()
    elif case == "jacfwd_of_grad":
        out = (F.jacfwd(F.grad(f))(x) ** 2).sum()
    else:
        out = (F.grad(f_outside)(x) ** 2).sum()
    out.backward()
    return [out.detach().numpy(), None if x.grad is None else x.grad.numpy(), w.grad.numpy(), len(calls)]


@pytest.mark.parametrize("case", CASES)
def test_hooks_inside_a_transform_act_only_in_its_walk(case: str) -> None:
    rng = np.random.default_rng(CASES.index(case))
    x0, w0 = rng.standard_normal(3), rng.standard_normal(3)
    ours, theirs = _run(mg, mf, case, x0, w0), _run(torch, tf, case, x0, w0)
    for a, b in zip(ours[:3], theirs[:3]):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    if case != "jacrev":   # torch's jacrev runs it once on a vmapped batch of rows, minigrad's once per row
        assert ours[3] == theirs[3]   # how many times the hook ran
