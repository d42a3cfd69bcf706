"""``mg.autograd.functional`` (jacobian, vjp, jvp) against ``torch.autograd.functional`` in float64.

Each case is ``fn(lib, *tensors)`` in PyTorch's spelling, run with ``lib = minigrad`` and ``lib = torch``
on the same values: results agree to 1e-10 in value, shape and structure (a Tensor, a tuple, or a tuple
of tuples), and so do the errors of ``strict=True`` and of a badly shaped ``v``. Forward mode is refused;
second derivatives (hessian, hvp, vhp, ``create_graph=True``) are tested in test_higher_order.py.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn
from minigrad.autograd.functional import hessian, hvp, jacobian, jvp, vhp, vjp

RNG = np.random.default_rng(11)
A, B, W, M = RNG.standard_normal(4), RNG.standard_normal(4), RNG.standard_normal((3, 4)), RNG.standard_normal((2, 3))


def _linear(lib: Any, x: Any) -> Any:
    torch_like = lib.__name__ == "torch"
    layer = (lib.nn if torch_like else nn).Linear(4, 3, dtype=lib.float64)
    with lib.no_grad():
        layer.weight.copy_(lib.tensor(W))
        layer.bias.copy_(lib.tensor(W[:, 0]))
    return layer(x)


def _lstm(lib: Any, x: Any, h: Any, c: Any) -> Any:
    torch_like = lib.__name__ == "torch"
    cell = (lib.nn if torch_like else nn).LSTMCell(4, 2, dtype=lib.float64)
    weights = np.random.default_rng(3)
    with lib.no_grad():
        for p in cell.parameters():
            p.copy_(lib.tensor(weights.standard_normal(tuple(p.shape))))
    return cell(x, (h, c))


CASES: dict[str, tuple[Callable, tuple]] = {
    "elementwise": (lambda lib, x: (x.tanh() * x.exp()), (A,)),
    "matmul": (lambda lib, m, x: m @ x.reshape(4, 1).tanh(), (W, A)),
    "reduction": (lambda lib, x: (x.sigmoid() * x).sum(), (A,)),
    "reduction_dim": (lambda lib, m: m.exp().sum(dim=1), (W,)),
    "multi_in_out": (lambda lib, x, y, m: (x * y, (m @ y).sum(), x.sin() + 0 * y), (A, B, W)),
    "one_out_tuple": (lambda lib, x, y: ((x * y).sum(),), (A, B)),
    "independent": (lambda lib, x, y: (x ** 2, x.sum() * 2), (A, B)),
    "linear": (_linear, (M.reshape(2, 3).repeat(2, axis=1)[:, :4],)),
    "lstm_cell": (_lstm, (M[:, :2].repeat(2, axis=1), M[:, :2] * 0.5, M[:, 1:])),
    "one_element_input": (lambda lib, x: (x * 3, x.exp().sum()), (np.array([0.7]),)),
    # zeros where an output does not depend on an input, or does not require grad
    "zeros": (lambda lib, a, b: (a * 2, (a + 1).detach(), lib.ones(2, dtype=lib.float64)), (A, B)),
}
TUPLE_INPUT = {"matmul", "multi_in_out", "one_out_tuple", "independent", "lstm_cell", "zeros"}


def _inputs(lib: Any, arrays: tuple, as_tuple: bool) -> Any:
    tensors = tuple(lib.tensor(a, dtype=lib.float64) for a in arrays)
    return tensors if as_tuple else tensors[0]


def _same(actual: Any, expected: Any, what: str = "result") -> None:
    """Same nesting of tuples and the same Tensors (shape, dtype, values to 1e-10), none requiring grad."""
    if isinstance(expected, tuple):
        assert isinstance(actual, tuple) and len(actual) == len(expected), f"{what}: structure {actual!r}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            _same(a, e, f"{what}[{i}]")
        return
    assert isinstance(actual, mg.Tensor), f"{what}: {type(actual).__name__} is not a Tensor"
    assert not actual.requires_grad and actual.is_leaf, f"{what}: not detached"
    e = expected.detach().numpy()
    assert actual.shape == e.shape, f"{what}: shape {actual.shape} != {e.shape}"
    assert str(actual.dtype) == str(e.dtype), f"{what}: dtype {actual.dtype} != {e.dtype}"
    np.testing.assert_allclose(actual.numpy(), e, rtol=1e-10, atol=1e-12, err_msg=what)


def _both(torch: Any, name: str, call: Callable) -> None:
    """``call(lib, fn, inputs)`` with minigrad and with torch gives the same structure and values."""
    fn, arrays = CASES[name]
    as_tuple = name in TUPLE_INPUT
    expected = call(torch, lambda *xs: fn(torch, *xs), _inputs(torch, arrays, as_tuple))
    actual = call(mg, lambda *xs: fn(mg, *xs), _inputs(mg, arrays, as_tuple))
    _same(actual, expected)


def _like_outputs(lib: Any, fn: Callable, inputs: Any) -> Any:
    """Fixed random tensors shaped as ``fn``'s outputs (a ``v`` for vjp)."""
    out = fn(*inputs) if isinstance(inputs, tuple) else fn(inputs)
    rng = np.random.default_rng(5)
    if isinstance(out, tuple):
        return tuple(lib.tensor(rng.standard_normal(tuple(o.shape)), dtype=lib.float64) for o in out)
    return lib.tensor(rng.standard_normal(tuple(out.shape)), dtype=lib.float64)


def _like_inputs(lib: Any, inputs: Any) -> Any:
    rng = np.random.default_rng(6)
    if isinstance(inputs, tuple):
        return tuple(lib.tensor(rng.standard_normal(tuple(x.shape)), dtype=lib.float64) for x in inputs)
    return lib.tensor(rng.standard_normal(tuple(inputs.shape)), dtype=lib.float64)


@pytest.mark.parametrize("name", sorted(CASES))
def test_jacobian_matches_torch(torch: Any, name: str) -> None:
    _both(torch, name, lambda lib, fn, x: lib.autograd.functional.jacobian(fn, x))
    _both(torch, name, lambda lib, fn, x: lib.autograd.functional.jacobian(fn, x, vectorize=True))


@pytest.mark.parametrize("name", sorted(CASES))
def test_vjp_matches_torch(torch: Any, name: str) -> None:
    _both(torch, name, lambda lib, fn, x: lib.autograd.functional.vjp(fn, x, _like_outputs(lib, fn, x)))


@pytest.mark.parametrize("name", sorted(CASES))
def test_jvp_matches_torch(torch: Any, name: str) -> None:
    _both(torch, name, lambda lib, fn, x: lib.autograd.functional.jvp(fn, x, _like_inputs(lib, x)))


def test_default_v_for_one_element(torch: Any) -> None:
    _both(torch, "reduction", lambda lib, fn, x: lib.autograd.functional.vjp(fn, x))
    _both(torch, "one_element_input", lambda lib, fn, x: lib.autograd.functional.jvp(fn, x))


def test_strict_and_v_errors_match_torch(torch: Any) -> None:
    def raised(lib: Any, call: Callable) -> str:
        with pytest.raises(RuntimeError) as info:
            call(lib)
        return str(info.value)

    calls = [
        lambda lib, x, y: lib.autograd.functional.jacobian(lambda a, b: (a * 2, b.sum()), (x, y), strict=True),
        lambda lib, x, y: lib.autograd.functional.jacobian(lambda a, b: a * 2, (x, y), strict=True),
        lambda lib, x, y: lib.autograd.functional.vjp(lambda a, b: a * 2, (x, y), lib.ones(4, dtype=lib.float64),
                                                      strict=True),
        lambda lib, x, y: lib.autograd.functional.jvp(lambda a, b: a * 2, (x, y), (x, y), strict=True),
        lambda lib, x, y: lib.autograd.functional.jvp(lambda a, b: (a * 2, y.sum()), (x, x), (x, y), strict=True),
        lambda lib, x, y: lib.autograd.functional.jvp(lambda a: (a * 2, y.requires_grad_().sum()), x, x, strict=True),
        lambda lib, x, y: lib.autograd.functional.vjp(lambda a: a.detach(), x, x, strict=True),
        lambda lib, x, y: lib.autograd.functional.jacobian(lambda a: a, x, strict=True, vectorize=True),
        lambda lib, x, y: lib.autograd.functional.vjp(lambda a: a, x),
        lambda lib, x, y: lib.autograd.functional.vjp(lambda a: a, x, (x, x)),
        lambda lib, x, y: lib.autograd.functional.vjp(lambda a, b: (a, b), (x, y), (x, x[:2])),
        lambda lib, x, y: lib.autograd.functional.jvp(lambda a: a, x),
        lambda lib, x, y: lib.autograd.functional.jvp(lambda a: a, x, y[:3]),
    ]
    for k, call in enumerate(calls):
        t = tuple(torch.tensor(a) for a in (A, B))
        m = tuple(mg.tensor(a) for a in (A, B))
        expected = raised(torch, lambda lib, call=call, t=t: call(lib, *t))
        expected = re.sub(r"torch\.Size\(\[(\d+)\]\)", r"(\1,)", expected)   # shapes as tuples, same words
        assert raised(mg, lambda lib, call=call, m=m: call(lib, *m)) == expected, f"call {k}"


def test_type_errors_match_torch(torch: Any) -> None:
    for lib in (mg, torch):
        x = lib.tensor(A)
        with pytest.raises(TypeError, match="must be either a Tensor or a tuple of Tensors"):
            lib.autograd.functional.jacobian(lambda a: a, [x])
        with pytest.raises(TypeError, match="outputs of the user-provided function"):
            lib.autograd.functional.vjp(lambda a: [a], x, x)


def test_inputs_are_copies_and_no_grad_callers_work() -> None:
    x = mg.tensor(A)                 # does not require grad: a requires-grad copy is made, x is left alone
    seen = []

    def f(a: mg.Tensor) -> mg.Tensor:
        seen.append(a)
        return (a * x).sum()         # x captured from outside is a constant, as in PyTorch

    with mg.no_grad():
        out, g = vjp(f, x)
        jac = jacobian(lambda a: a ** 2, x)
    assert seen[0] is not x and seen[0].requires_grad and not x.requires_grad and x.grad is None
    np.testing.assert_allclose(g.numpy(), A)
    np.testing.assert_allclose(out.numpy(), (A * A).sum())
    np.testing.assert_allclose(jac.numpy(), np.diag(2 * A))
    y = mg.tensor(A, requires_grad=True)
    jvp(lambda a: a * 2, y, y)
    assert y.grad is None


def test_second_derivatives_work_and_forward_mode_is_refused() -> None:
    x, f = mg.tensor(A), (lambda a: (a ** 3).sum())
    np.testing.assert_allclose(hessian(f, x).numpy(), np.diag(6 * A))
    for name, call in [("hvp", hvp), ("vhp", vhp)]:
        np.testing.assert_allclose(call(f, x, x)[1].numpy(), 6 * A * A, err_msg=name)
    np.testing.assert_allclose(jacobian(f, x, create_graph=True).detach().numpy(), 3 * A * A)
    np.testing.assert_allclose(vjp(f, x, create_graph=True)[1].detach().numpy(), 3 * A * A)
    np.testing.assert_allclose(jvp(f, x, x, create_graph=True)[1].detach().numpy(), (3 * A ** 3).sum())
    with pytest.raises(NotImplementedError, match="forward-mode.*reverse-mode"):   # torch's limit (round 14)
        jacobian(f, x, strategy="forward-mode", vectorize=True, create_graph=True)
    with pytest.raises(AssertionError, match="reverse-mode"):
        jacobian(f, x, strategy="sideways")
