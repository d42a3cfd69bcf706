"""PyTorch-style custom autograd Functions (``class Op(mg.autograd.Function)`` with static forward/backward,
called as ``Op.apply``): the same classes, written once for both libraries, give the same values and
gradients as in PyTorch; misuse fails as PyTorch's does, naming the Function."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import minigrad as mg


def define(lib: Any) -> dict:
    """The same custom Functions, defined against ``lib`` (minigrad or torch)."""

    class Exp(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            (y,) = ctx.saved_tensors
            return grad * y

    class ScaledPair(lib.autograd.Function):
        """Two outputs and a non-Tensor argument; the argmax output is not differentiable."""

        @staticmethod
        def forward(ctx: Any, a: Any, b: Any, k: float) -> Any:
            ctx.k = k
            ctx.save_for_backward(a, b)
            index = a.argmax()
            ctx.mark_non_differentiable(index)
            ctx.needs = tuple(ctx.needs_input_grad)
            return a * b * k, a + b, index

        @staticmethod
        def backward(ctx: Any, g_product: Any, g_sum: Any, g_index: Any) -> Any:
            a, b = ctx.saved_tensors
            return g_product * b * ctx.k + g_sum, g_product * a * ctx.k + g_sum, None

    class ReverseGradient(lib.autograd.Function):
        """The domain-adaptation gradient reversal layer: identity forward, -λ·g backward."""

        @staticmethod
        def forward(x: Any, strength: float) -> Any:   # the setup_context form
            return x.clone()

        @staticmethod
        def setup_context(ctx: Any, inputs: tuple, output: Any) -> None:
            ctx.strength = inputs[1]

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            return -ctx.strength * grad, None

    class Unmaterialized(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx: Any, g1: Any, g2: Any) -> Any:
            ctx.got_none = (g1 is None, g2 is None)
            return (0 if g1 is None else g1 * 2) + (0 if g2 is None else g2 * 3)

    return {"Exp": Exp, "ScaledPair": ScaledPair, "ReverseGradient": ReverseGradient, "Unmaterialized": Unmaterialized}


def leaves(lib: Any, *arrays: np.ndarray) -> list:
    return [lib.tensor(a, requires_grad=True) for a in arrays]


RNG = np.random.default_rng(0)
A, B = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))


@pytest.mark.parametrize("case", ["exp", "pair", "reverse", "unmaterialized"])
def test_custom_functions_give_pytorchs_values_and_gradients(torch: Any, case: str) -> None:
    results = {}
    for lib in (mg, torch):
        ops = define(lib)
        a, b = leaves(lib, A, B)
        if case == "exp":
            out = ops["Exp"].apply(a) * b
        elif case == "pair":
            product, total, index = ops["ScaledPair"].apply(a, b, 2.5)
            assert not index.requires_grad and product.requires_grad
            out = product * total
        elif case == "reverse":
            out = ops["ReverseGradient"].apply(a * b, 0.3).tanh()
        else:
            first, _ = ops["Unmaterialized"].apply(a)   # the second output gets no gradient
            out = first * b
        out.sum().backward()
        results[lib] = [out.detach().numpy(), a.grad.numpy(), b.grad.numpy()]
    for ours, theirs in zip(results[mg], results[torch]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


def test_ctx_reports_needs_input_grad_and_unmaterialized_grads_as_pytorch(torch: Any) -> None:
    got_none = []
    for lib in (mg, torch):
        first, _ = define(lib)["Unmaterialized"].apply(lib.tensor(A, requires_grad=True))
        first.sum().backward()
        got_none.append((first.grad_fn.ctx if lib is mg else first.grad_fn).got_none)
    assert got_none == [(False, True), (False, True)]   # the unused output's gradient came as None
    x = mg.tensor(A, requires_grad=True)
    pair = define(mg)["ScaledPair"]
    # forward sees which arguments want gradients: (a, b, k)
    ctx_needs = []

    class Spy(pair):
        @staticmethod
        def forward(ctx: Any, a: Any, b: Any, k: float) -> Any:
            ctx_needs.append(tuple(ctx.needs_input_grad))
            return pair.forward(ctx, a, b, k)

    Spy.apply(x, mg.tensor(B), 1.0)
    with mg.no_grad():
        Spy.apply(x, mg.tensor(B), 1.0)
    assert ctx_needs == [(True, False, False), (True, False, False)]   # as torch: also under no_grad


def test_gradcheck_of_custom_functions() -> None:
    ops = define(mg)
    a, b = (mg.tensor(x, requires_grad=True) for x in (A, B))
    assert mg.gradcheck(lambda a, b: ops["Exp"].apply(a) * b, [a, b])
    assert mg.gradcheck(lambda a, b: ops["ScaledPair"].apply(a, b, 1.5)[0], [a, b])


def test_forward_records_nothing_inside_and_no_grad_mode_records_nothing_at_all() -> None:
    ops = define(mg)
    x = mg.tensor(A, requires_grad=True)
    y = ops["Exp"].apply(x * 2)
    assert y.grad_fn.name == "Exp"
    assert y.grad_fn.edges[0][0].name == "mul"   # straight to the input's node: exp inside left no node
    with mg.no_grad():
        assert not ops["Exp"].apply(x).requires_grad


def test_misuse_fails_naming_the_function(torch: Any) -> None:
    class WrongShape(mg.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            return x * 2

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            return grad.sum()

    class TooFew(mg.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any, y: Any) -> Any:
            return x * y

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            return grad

    x = mg.tensor(A, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"WrongShape.backward returned an invalid gradient at index 0"):
        WrongShape.apply(x).sum().backward()
    with pytest.raises(RuntimeError, match=r"TooFew.backward returned an incorrect number of gradients"):
        TooFew.apply(x, x).sum().backward()
    with pytest.raises(RuntimeError, match=r"call WrongShape.apply"):   # as torch
        WrongShape()(x)
    with pytest.raises(TypeError, match="save_for_backward can only save Tensors"):
        mg.autograd.FunctionCtx(()).save_for_backward(np.zeros(2))


def test_once_differentiable_and_engine_ops_apply() -> None:
    class Square(mg.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @mg.autograd.once_differentiable
        def backward(ctx: Any, grad: Any) -> Any:
            (x,) = ctx.saved_tensors
            return 2 * x * grad

    x = mg.tensor(A, requires_grad=True)
    Square.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * A)

    class Double(mg.Function):   # one of the engine's own ops (forward/backward on arrays): apply calls it
        def forward(self, a: Any) -> Any:
            return a * 2

        def backward(self, g: Any) -> Any:
            return g * 2

    y = mg.tensor(A, requires_grad=True)
    Double.apply(y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), np.full_like(A, 2.0))


def test_inside_mg_compile_the_call_runs_eagerly_with_a_warning() -> None:
    ops = define(mg)
    f = mg.compile(lambda t: ops["Exp"].apply(t) * 2)
    x = mg.tensor(A, requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = [f(x) for _ in range(3)]
    assert any("custom autograd Function Exp" in str(w.message) for w in caught)
    for r in results:
        np.testing.assert_allclose(r.numpy(), 2 * np.exp(A))
    results[-1].sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(A))


def test_autograd_gradcheck_is_torchs_spelling_and_takes_one_tensor() -> None:
    x = mg.tensor(A, requires_grad=True)
    assert mg.autograd.gradcheck(lambda t: define(mg)["Exp"].apply(t), x)
    assert mg.autograd.gradcheck is mg.gradcheck
