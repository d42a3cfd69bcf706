"""Round-20 leftovers H: grad mode inside inference_mode, and transform / create_graph results that require grad,
compared with live PyTorch."""

import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _inference_case(lib, requires_grad: bool, switch: str) -> tuple:
    x = lib.ones(3, requires_grad=requires_grad)
    with lib.inference_mode():
        with lib.enable_grad() if switch == "enable_grad" else lib.set_grad_enabled(True):
            y = x * 2
            leaf = lib.ones(2, requires_grad=True)
            z = leaf * 2
            x_leaf = lib.ones(3, requires_grad=True)
            x_leaf.add_(1)   # an in-place op on a leaf that requires grad: allowed, nothing is recorded
            return (lib.is_grad_enabled(), lib.is_inference_mode_enabled(), y.requires_grad, y.grad_fn is None,
                    z.requires_grad, z.grad_fn is None, x_leaf.tolist())


@pytest.mark.parametrize("switch", ["enable_grad", "set_grad_enabled"])
@pytest.mark.parametrize("requires_grad", [True, False])
def test_enable_grad_inside_inference_mode_records_nothing(requires_grad: bool, switch: str) -> None:
    assert _inference_case(mg, requires_grad, switch) == _inference_case(torch, requires_grad, switch)


def test_library_graphs_still_work_inside_inference_mode() -> None:
    values = {}
    for lib in (mg, torch):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        with lib.inference_mode(), lib.enable_grad():
            grad = lib.func.grad(lambda t: (t * t * t).sum())(x)
            jac = lib.func.jacfwd(lambda t: t.sin())(x)
        values[lib] = (grad.tolist(), jac.reshape(-1).tolist(), grad.requires_grad, jac.requires_grad)
    assert values[mg][2:] == values[torch][2:]
    for ours, theirs in zip(values[mg][:2], values[torch][:2]):
        assert ours == pytest.approx(theirs)
    # nn.grad's own graph too (PyTorch's refuses its inference tensors here; its plain result is the reference)
    with mg.inference_mode(), mg.enable_grad():
        ours = mg.nn.grad.conv2d_weight(mg.ones(1, 1, 3, 3), (1, 1, 2, 2), mg.ones(1, 1, 2, 2))
    theirs = torch.nn.grad.conv2d_weight(torch.ones(1, 1, 3, 3), (1, 1, 2, 2), torch.ones(1, 1, 2, 2))
    assert ours.tolist() == theirs.tolist() and not ours.requires_grad


_forward_cases = {
    "linear": lambda lib: lambda y: y * 3,
    "detached_part": lambda lib: lambda y: y.detach() * 3 + y * 0,
    "sum": lambda lib: lambda y: (y * 2).sum(),
    "grad_of_relu": lambda lib: lib.func.grad(lambda y: lib.relu(y).sum()),
    "grad_of_square": lambda lib: lib.func.grad(lambda y: (y * y).sum()),
    "grad_of_linear": lambda lib: lib.func.grad(lambda y: (y * 3).sum()),
    "step": lambda lib: lambda y: (y > 0).double(),
    "grad_of_abs": lambda lib: lib.func.grad(lambda y: y.abs().sum()),
    "matmul": lambda lib: lambda y: lib.ones(2, 3, dtype=lib.float64) @ y,
    # linear in the tangent alone: PyTorch's results do not require grad
    "max": lambda lib: lambda y: y.max(-1)[0],
    "index": lambda lib: lambda y: y[..., [0, 2, 0]],
    "neg_add_flip": lambda lib: lambda y: (-y + 1).flip(0),
    "cat_sum": lambda lib: lambda y: lib.cat([y, y]).sum(),
}


def _forward_results(lib, case: str) -> tuple:
    x = lib.tensor([1.0, -2.0, 3.0], dtype=lib.float64, requires_grad=True)
    f = _forward_cases[case](lib)
    jac = lib.func.jacfwd(f)(x)
    _, tangent = lib.func.jvp(f, (x,), (lib.ones(3, dtype=lib.float64),))
    result = [jac.requires_grad, tangent.requires_grad, jac.tolist(), tangent.tolist()]
    for value in (jac, tangent):   # a gradient penalty through them: zeros for a constant Jacobian, as PyTorch's
        if value.requires_grad:
            gradient = lib.autograd.grad(value.sum(), x, allow_unused=True)[0]
            result.append((lib.zeros(3, dtype=lib.float64) + gradient).tolist())   # (torch: maybe a lazy zero tensor)
    return tuple(result)


@pytest.mark.parametrize("case", list(_forward_cases))
def test_forward_transform_results_require_grad_as_torch(case: str) -> None:
    assert _forward_results(mg, case) == _forward_results(torch, case)


def test_enable_grad_inside_a_transform_inside_inference_mode_records() -> None:
    results = {}
    for lib in (mg, torch):
        x = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
        seen = []

        def f(y, lib=lib, seen=seen):
            seen.append(lib.is_inference_mode_enabled())
            with lib.enable_grad():   # torch.func's transforms run func with inference mode off
                return y.clone().mul_(2).add_(y).sum()

        with lib.inference_mode():
            gradient, value = lib.func.grad_and_value(f)(x)
        results[lib] = (gradient.tolist(), value.item(), seen)
    assert results[mg] == results[torch]
