"""Round 24: ``mg.autograd.functional`` and ``mg.func`` over modules against PyTorch 2.13 (float64).

Where PyTorch 2.13 itself is wrong the reference is another of its spellings that agrees with finite
differences: ``torch.func.jacfwd(jacfwd(f))`` of layer_norm, instance_norm and batch_norm in training is off
(forward-over-forward), and so is ``torch.func.jacrev(jacrev(f))``'s mixed weight/input term of layer_norm, so
Hessians here are compared with ``torch.autograd.functional.hessian`` (plain double backward).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
import minigrad.func as mf
import nn

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(24)


def _np(t: Any) -> np.ndarray:
    return t.detach().numpy() if isinstance(t, mg.Tensor) else t.detach().numpy(force=True)


NORMS = {
    "layer_norm": lambda F, x: F.layer_norm(x, (3,)),
    "group_norm": lambda F, x: F.group_norm(x, 2),
    "instance_norm": lambda F, x: F.instance_norm(x),
    "batch_norm_train": lambda F, x: F.batch_norm(x, None, None, training=True),
}


@pytest.mark.parametrize("name", NORMS)
def test_forward_over_forward_hessian_of_normalisation(name: str) -> None:
    """jacfwd(jacfwd(f)) through the normalisations: their mean for the running statistics was computed under
    no_grad from a tensor carrying tangents, so forward-over-forward refused with NotImplementedError."""
    x, weights = RNG.standard_normal((2, 4, 3)), RNG.standard_normal((2, 4, 3))
    norm = NORMS[name]

    def f_mg(x: mg.Tensor) -> mg.Tensor:
        return (norm(nn.functional, x) * mg.tensor(weights)).tanh().sum()

    def f_torch(x: Any) -> Any:
        return (norm(torch.nn.functional, x) * torch.tensor(weights)).tanh().sum()

    expected = _np(torch.autograd.functional.hessian(f_torch, torch.tensor(x)))
    np.testing.assert_allclose(_np(mf.jacfwd(mf.jacfwd(f_mg))(mg.tensor(x))), expected, rtol=1e-9, atol=1e-11)


# --- strict=True: PyTorch's checks, in its order and with its messages -------------------------------------------

STRICT_FUNCS = {
    "linear": lambda L, x, y: (x * 2).sum() + (y * 3).sum(),
    "quad": lambda L, x, y: (x * x * y).sum(),
    "const": lambda L, x, y: L.ones((), dtype=L.float64),
    "abs": lambda L, x, y: x.abs().sum() + y.abs().sum(),
    "vec_two": lambda L, x, y: (x * y, x * 2),
    "vec_indep": lambda L, x, y: (x * x, (x * 2).detach()),
    "empty": lambda L, x, y: x[:0] * y[:0],
}
# (api, function, create_graph, vectorize, one input): each raised another error than PyTorch's, or none, or
# raised where PyTorch computes
STRICT_CASES = [
    ("vjp", "linear", True, False, False),           # a result without a graph under create_graph
    ("jacobian", "linear", True, False, True),
    ("jacobian", "vec_two", True, False, False),     # PyTorch's message names the output's index
    ("jacobian", "const", False, True, False),       # the outputs are checked before vectorize=True is refused
    ("hessian", "vec_indep", False, False, False),   # every output is checked, not only the first
    ("hessian", "linear", False, False, False),      # "While computing the hessian, ..."
    ("hessian", "quad", True, False, True),
    ("hvp", "abs", False, False, False),             # the double-backward trick finds no Hessian
    ("hvp", "linear", False, False, True),
    ("vhp", "linear", True, False, False),
    ("vhp", "quad", True, False, True),
    ("jvp", "linear", True, False, False),
    ("jvp", "empty", False, False, False),           # PyTorch computes: an empty output is no independent one
]


def _strict_outcome(lib: Any, module: Any, api: str, fname: str, create_graph: bool, vectorize: bool,
                    single: bool) -> str:
    a, b = np.array([0.5, -1.5, 2.0]), np.array([1.5, 0.25, -3.0])
    x, y = lib.tensor(a, dtype=lib.float64), lib.tensor(b, dtype=lib.float64)
    f = STRICT_FUNCS[fname]
    inputs: Any = x if single else (x, y)
    kwargs: dict = {"strict": True, "create_graph": create_graph}
    if vectorize:
        kwargs["vectorize"] = True
    args: tuple = ()
    if api in ("jvp", "hvp", "vhp"):
        args = (lib.tensor(b, dtype=lib.float64) if single else (y, x),)
    if api == "vjp":
        args = (lib.ones((), dtype=lib.float64),)
    try:
        getattr(module, api)((lambda x: f(lib, x, lib.tensor(b, dtype=lib.float64))) if single
                             else (lambda x, y: f(lib, x, y)), inputs, *args, **kwargs)
    except RuntimeError as error:
        return f"RuntimeError: {error}"
    return "computed"


@pytest.mark.parametrize("case", STRICT_CASES, ids=lambda c: "-".join(str(v) for v in c))
def test_strict_mode_errors_as_pytorch(case: tuple) -> None:
    expected = _strict_outcome(torch, torch.autograd.functional, *case)
    assert _strict_outcome(mg, mg.autograd.functional, *case) == expected


def test_jvp_of_an_integer_output_raises_as_pytorch() -> None:
    """PyTorch's double-backward trick makes a zero that requires grad like each output: an integer one raises."""
    def f(lib: Any) -> Any:
        return lambda x: (x > 0).long()
    x = np.array([1.0, -2.0])
    with pytest.raises(RuntimeError, match="floating point and complex"):
        torch.autograd.functional.jvp(f(torch), torch.tensor(x), torch.ones(2, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="floating point and complex"):
        mg.autograd.functional.jvp(f(mg), mg.tensor(x), mg.ones(2, dtype=mg.float64))


# --- create_graph=True under no_grad: PyTorch turns grad mode on for it -------------------------------------------

SECOND_ORDER_APIS = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _under_no_grad(lib: Any, api: str) -> tuple:
    """``api`` of f(x) = Σ sin(x)·x² with create_graph=True under no_grad, x requiring grad: (the results, the
    gradient of their sum w.r.t. x)."""
    x = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
    args: tuple = {"vjp": (lib.ones((), dtype=lib.float64),), "jacobian": (), "hessian": ()}.get(
        api, (lib.ones(3, dtype=lib.float64),))
    with lib.no_grad():
        result = getattr(lib.autograd.functional, api)(lambda x: (x.sin() * x ** 2).sum(), x, *args, create_graph=True)
    flat = result if isinstance(result, tuple) else (result,)
    assert all(t.requires_grad for t in flat), f"{api}: a result without its graph"
    total = sum(t.sum() for t in flat)
    return flat, lib.autograd.grad(total, x)[0]


@pytest.mark.parametrize("api", SECOND_ORDER_APIS)
def test_create_graph_under_no_grad(api: str) -> None:
    """The input's view (create_graph's stand-in for an input that requires grad) was made under the caller's
    no_grad, so it had no graph: vjp/jvp/jacobian/hvp/vhp returned zeros without an error, hessian raised."""
    flat, grad_x = _under_no_grad(mg, api)
    expected_flat, expected_grad = _under_no_grad(torch, api)
    for actual, expected in zip(flat, expected_flat):
        np.testing.assert_allclose(_np(actual), _np(expected), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(_np(grad_x), _np(expected_grad), rtol=1e-12, atol=1e-14)

