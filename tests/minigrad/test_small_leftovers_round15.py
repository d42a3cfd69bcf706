"""Round-15 fuzzing leftovers: custom Functions without Tensor outputs, optimizer argument errors and
forward-mode tangents at the edges of xlogy/atan2's domains, each compared with live PyTorch."""

from __future__ import annotations

from typing import Any

import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _no_tensor_functions(base: Any, value: Any) -> tuple[Any, Any]:
    """An old-style and a setup_context-style Function over ``base`` whose forward returns ``value``."""

    class OldStyle(base):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            return value

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            return grad

    class SetupStyle(base):
        @staticmethod
        def forward(x: Any) -> Any:
            return value

        @staticmethod
        def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
            pass

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            return grad

    return OldStyle, SetupStyle


@pytest.mark.parametrize("value", [3, (1, 2.0), None])
@pytest.mark.parametrize("grad_mode", [True, False])
def test_custom_function_without_tensor_output_returns_the_value(value: Any, grad_mode: bool) -> None:
    ours = _no_tensor_functions(mg.autograd.Function, value)
    theirs = _no_tensor_functions(torch.autograd.Function, value)
    x, tx = mg.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
    for op, top in zip(ours, theirs):
        with mg.set_grad_enabled(grad_mode):
            got = op.apply(x)
        with torch.set_grad_enabled(grad_mode):
            expected = top.apply(tx)
        assert got == expected and type(got) is type(expected)


def _raised(make: Any) -> type | None:
    try:
        make()
    except Exception as error:   # noqa: BLE001 - the class is what is compared
        return type(error)
    return None


@pytest.mark.parametrize("name, kwargs, group", [
    ("Adam", dict(betas=(0.9,)), None),                       # torch: IndexError reading betas[1]
    ("NAdam", dict(betas=[]), None),
    ("Rprop", dict(etas=(0.5,)), None),
    ("Adafactor", dict(eps=(1e-3,)), None),
    ("SGD", dict(weight_decay=True), None),                   # torch: RuntimeError (Boolean alpha)
    ("Adamax", dict(weight_decay=True), None),
    ("SGD", dict(lr=-1.0), dict(lr=0.1)),                     # torch checks the constructor's argument itself
    ("Adam", dict(betas=(2.0, 0.9)), dict(betas=(0.9, 0.99))),
    ("RMSprop", dict(alpha=-1.0), dict(alpha=0.99)),
    ("Adafactor", dict(beta2_decay=1.0), dict(beta2_decay=-0.8)),
    ("LBFGS", dict(lr=None), dict(lr=0.1)),
    ("LBFGS", dict(lr=True), None),                           # torch: RuntimeError (Boolean alpha)
])
def test_optimizer_argument_errors_are_torchs(name: str, kwargs: dict, group: dict | None) -> None:
    import nn.optim

    p, tp = mg.zeros(3, requires_grad=True), torch.zeros(3, requires_grad=True)

    def ours() -> None:
        opt = getattr(nn.optim, name)([dict(params=[p], **group)] if group else [p], **kwargs)
        p.grad = mg.ones(3)
        opt.step((lambda: p.sum()) if name == "LBFGS" else None)

    def theirs() -> None:
        opt = getattr(torch.optim, name)([dict(params=[tp], **group)] if group else [tp], **kwargs)
        tp.grad = torch.ones(3)
        opt.step((lambda: tp.sum()) if name == "LBFGS" else None)

    expected, got = _raised(theirs), _raised(ours)
    assert expected is not None and got is not None and issubclass(got, expected), (got, expected)
    assert issubclass(got, ValueError)   # minigrad's class for an invalid hyper-parameter, as before


@pytest.mark.parametrize("name, a, b", [
    ("xlogy", [1.0, 2.0, 0.0, 1.0, -1.0, 0.0], [-1.0, -0.5, -1.0, 0.0, 0.0, 0.0]),   # b <= 0: NaN/inf tangents
    ("atan2", [0.0, -0.0, 0.0, 1.0], [0.0, -0.0, -0.0, 0.0]),                          # the origin: 0/0 = NaN
])
@pytest.mark.parametrize("tangents", [(1.0, 0.0), (0.0, 1.0), (1.0, 1.0)])
def test_forward_mode_tangent_at_the_domain_edge_is_torchs(name: str, a: list, b: list,
                                                           tangents: tuple[float, float]) -> None:
    ta, tb = torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
    ma, mb = mg.tensor(a, dtype=mg.float64), mg.tensor(b, dtype=mg.float64)
    t_a, t_b = tangents
    _, expected = torch.func.jvp(getattr(torch, name), (ta, tb), (torch.full_like(ta, t_a), torch.full_like(tb, t_b)))
    _, got = mg.func.jvp(getattr(mg, name), (ma, mb), (mg.full_like(ma, t_a), mg.full_like(mb, t_b)))
    torch.testing.assert_close(torch.from_numpy(got.numpy()), expected, equal_nan=True)
    # reverse mode stays PyTorch's there (its backward masks what its jvp does not)
    ta.requires_grad_(), tb.requires_grad_(), ma.requires_grad_(), mb.requires_grad_()
    expected_grads = torch.autograd.grad(getattr(torch, name)(ta, tb).sum(), (ta, tb))
    got_grads = mg.autograd.grad(getattr(mg, name)(ma, mb).sum(), (ma, mb))
    for g, e in zip(got_grads, expected_grads):
        torch.testing.assert_close(torch.from_numpy(g.numpy()), e, equal_nan=True)
