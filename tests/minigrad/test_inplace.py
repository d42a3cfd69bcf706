"""In-place ops, PyTorch's way: same object, same array, exact gradients, PyTorch's errors.

Programs are written once in PyTorch's spelling and run with ``lib = minigrad``
and ``lib = torch``; values and the gradients of the leaves must agree (float64).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from helpers import assert_close

import minigrad as mg
import nn

LEAF_MESSAGE = "a leaf Variable that requires grad is being used in an in-place operation."


def _run(lib: Any, program: Callable, arrays: list, device: str = "cpu") -> tuple:
    leaves = [lib.tensor(a, requires_grad=True, device=device) for a in arrays]
    out = program(lib, *leaves)
    weights = np.random.default_rng(3).standard_normal(tuple(out.shape))
    weight = mg.tensor(weights, device=device) if lib is mg else lib.from_numpy(weights)
    (out * weight).sum().backward()
    return out, leaves


def same_as_torch(torch: Any, program: Callable, *shapes: tuple) -> None:
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal(s) for s in shapes]
    out, leaves = _run(mg, program, arrays)
    t_out, t_leaves = _run(torch, program, arrays)
    assert_close(out, t_out, what="output")
    for i, (leaf, t_leaf) in enumerate(zip(leaves, t_leaves)):
        assert_close(leaf.grad, t_leaf.grad, what=f"grad of leaf {i}")


PROGRAMS: dict[str, tuple[Callable, tuple]] = {
    "iadd_imul_on_non_leaf": (lambda t, x: _chain(x * 2, lambda y: (y.__iadd__(1), y.mul_(x))), ((3, 4),)),
    "augmented_operators": (lambda t, x, w: _augmented(x * 1, w), ((3, 4), (3, 4))),
    "add_sub_alpha_div": (lambda t, x, w: _chain(x * 1, lambda y: (y.add_(w, alpha=2), y.sub_(w.cos(), alpha=0.5),
                                                                    y.div_(w.exp()))), ((3, 4), (3, 4))),
    "buffer_setitem_and_slice_iadd": (lambda t, x: _buffer(t, x), ((3, 4),)),
    "setitem_advanced_and_mask": (lambda t, x: _setitem_advanced(t, x), ((3, 4),)),
    "masked_fill_clamp": (lambda t, x: _chain(x * 2, lambda y: (y.masked_fill_(x > 0.5, 2.0),
                                                                 y.clamp_(-0.3, 1.5))) ** 2, ((3, 4),)),
    "copy_fill_zero": (lambda t, x, w: _copy_fill_zero(x, w), ((3, 4), (4,))),
    "fill_with_tensor_value": (lambda t, x, w: _chain(x * 1, lambda y: (y[0].fill_(w.sum()),)) * x, ((3, 4), (2,))),
    "view_in_place_rewrites_base": (lambda t, x: _view_of_view(x), ((3, 4),)),
    "base_in_place_repoints_views": (lambda t, x: _base_then_view(x), ((3, 4),)),
    "leaf_without_grad_becomes_non_leaf": (lambda t, w: _accumulate(t, w), ((2, 3),)),
    "unary_math_in_place": (lambda t, x: _unary_in_place(x), ((3, 4),)),
}


def _unary_in_place(x: Any) -> Any:
    # each on a fresh tensor: PyTorch refuses to change an output that its op saved (exp, tanh, ...)
    parts = [(x * 0.5).exp_(), (x.abs() + 1).log_(), (x * 1).tanh_(), (x * 1).sigmoid_(), (x * 1).relu_(),
             (x * 1).neg_(), (x * 1).abs_(), (x.abs() + 0.1).sqrt_(), (x * 1).pow_(3)]
    y = x * 1
    y **= 2
    return sum(parts) + y


def _chain(y: Any, ops: Callable) -> Any:
    ops(y)
    return y


def _augmented(y: Any, w: Any) -> Any:
    y += w
    y *= w.sin()
    y -= 0.5
    y /= w.exp()
    return y


def _buffer(t: Any, x: Any) -> Any:
    b = t.zeros(3, 4, dtype=t.float64)
    b[0] = x[1]
    b[1:] += x[:2] * 3
    b[:, 2] *= x[:, 0]
    return b * x


def _setitem_advanced(t: Any, x: Any) -> Any:
    b = x * 1
    b[[0, 2]] = x[1] * 2
    b[x > 1.0] = 0.0
    b[1, [1, 3]] = x[0, :2].exp()
    return b


def _copy_fill_zero(x: Any, w: Any) -> Any:
    y = x * 1
    y.copy_(w)            # broadcast (4,) into (3, 4)
    y[1].zero_()
    y[2, :2].fill_(3.0)
    return y * x


def _view_of_view(x: Any) -> Any:
    y = x * 2
    row = y[1]
    tail = row[2:]
    tail.mul_(5)
    return y + row.sum()


def _base_then_view(x: Any) -> Any:
    y = x * 2
    first = y[0]
    y.mul_(3)          # `first` is y's memory: its value and its gradient follow, as in PyTorch
    return first * 1.5 + y.sum()


def _accumulate(t: Any, w: Any) -> Any:
    total = t.zeros(2, 3, dtype=t.float64)
    for k in range(3):
        total += w * k
    return total


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_in_place_programs_match_torch(name: str, torch: Any) -> None:
    program, shapes = PROGRAMS[name]
    same_as_torch(torch, program, *shapes)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_in_place_programs_gradcheck(name: str) -> None:
    program, shapes = PROGRAMS[name]
    rng = np.random.default_rng(8)
    leaves = [mg.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    assert mg.gradcheck(lambda *xs: program(mg, *xs), leaves)


# --- the silent traps of issue 12 --------------------------------------------------------------

def test_sgd_under_no_grad_updates_the_parameter_in_place(torch: Any) -> None:
    """`with no_grad(): p -= lr * p.grad` changed nothing (it rebound p); now it updates p's array."""
    w = mg.tensor([1.0, -2.0, 0.5], requires_grad=True)
    array = w.data
    tw = torch.tensor([1.0, -2.0, 0.5], requires_grad=True)
    for p, lib in ((w, mg), (tw, torch)):
        (p * p).sum().backward()
        with lib.no_grad():
            before = p
            p -= 0.1 * p.grad
            assert p is before
    assert w.data is array and w.is_leaf and w.requires_grad
    assert_close(w, tw.detach(), what="after one step")


def test_parameter_updated_in_place_stays_registered() -> None:
    """`model.w -= ...` replaced the Parameter by a plain Tensor and dropped it from parameters()."""
    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(mg.ones(3))
            self.linear = nn.Linear(3, 2)

    model = Model()
    w, weight = model.w, model.linear.weight
    with mg.no_grad():
        model.w -= 0.5
        model.linear.weight *= 2
        model.w.add_(mg.ones(3), alpha=0.25)
    assert model.w is w and isinstance(model.w, nn.Parameter) and model.linear.weight is weight
    assert [name for name, _ in model.named_parameters()] == ["w", "linear.weight", "linear.bias"]
    assert model.w.numpy().tolist() == [0.75, 0.75, 0.75]


def test_manual_sgd_loop_learns_like_torch(torch: Any) -> None:
    """The char-RNN tutorial's update, `p.add_(p.grad, alpha=-lr)` under no_grad, trains as in PyTorch."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 3)), rng.standard_normal((16, 1))
    w0 = rng.standard_normal((3, 1))
    losses = {}
    for lib in (mg, torch):
        w = lib.tensor(w0.copy(), requires_grad=True)
        xs, ys = lib.tensor(x), lib.tensor(y)
        history = []
        for _ in range(20):
            loss = ((xs @ w - ys) ** 2).mean()
            loss.backward()
            with lib.no_grad():
                w.add_(w.grad, alpha=-0.1)
                w.grad.zero_()
            history.append(loss.item())
        losses[lib.__name__] = history
    np.testing.assert_allclose(losses["minigrad"], losses["torch"], rtol=1e-10)
    assert losses["minigrad"][-1] < 0.5 * losses["minigrad"][0]


# --- errors, as PyTorch ------------------------------------------------------------------------

IN_PLACE_CALLS = {
    "add_": lambda p: p.add_(1.0), "sub_": lambda p: p.sub_(1.0), "mul_": lambda p: p.mul_(2.0),
    "div_": lambda p: p.div_(2.0), "zero_": lambda p: p.zero_(), "fill_": lambda p: p.fill_(1.0),
    "copy_": lambda p: p.copy_(mg.zeros(3)), "clamp_": lambda p: p.clamp_(0.0, 0.5),
    "masked_fill_": lambda p: p.masked_fill_(mg.tensor([True, False, True]), 0.0),
    "setitem": lambda p: p.__setitem__(0, 5.0), "iadd": lambda p: p.__iadd__(1.0),
    "isub": lambda p: p.__isub__(1.0), "imul": lambda p: p.__imul__(2.0), "itruediv": lambda p: p.__itruediv__(2.0),
}


@pytest.mark.parametrize("name", sorted(IN_PLACE_CALLS))
def test_in_place_on_a_leaf_that_requires_grad_raises_and_changes_nothing(name: str, torch: Any) -> None:
    p = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=LEAF_MESSAGE):
        IN_PLACE_CALLS[name](p)
    assert p.numpy().tolist() == [1.0, 2.0, 3.0] and p._version == 0
    with pytest.raises(RuntimeError, match=LEAF_MESSAGE):   # PyTorch's own words
        torch.tensor([1.0, 2.0, 3.0], requires_grad=True).add_(1.0)
    with mg.no_grad():   # allowed under no_grad, as in PyTorch
        assert IN_PLACE_CALLS[name](p) is p or name == "setitem"
    assert p._version == 1 and p.is_leaf and p.requires_grad


def test_every_in_place_op_bumps_the_version() -> None:
    x = mg.zeros(3)
    for k, call in enumerate(IN_PLACE_CALLS.values(), start=1):
        call(x)
        assert x._version == k


def test_in_place_on_a_saved_array_makes_backward_raise(torch: Any) -> None:
    for lib in (mg, torch):
        x = lib.tensor([0.5, 1.0], requires_grad=True)
        y = x.exp()   # exp keeps its output for backward
        y.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_in_place_on_a_view_of_a_leaf_raises(torch: Any) -> None:
    w = mg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        w[0].add_(1)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)[0].add_(1)
    assert w.numpy().tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_in_place_dtype_and_shape_errors_as_torch(torch: Any) -> None:
    n = mg.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="can't be cast"):
        n += 1.5
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2, 3]).add_(1.5)
    with pytest.raises(TypeError, match="can't be cast"):
        n.div_(2)   # true division gives floats
    assert n.numpy().tolist() == [1, 2, 3]
    x = mg.zeros(3)
    with pytest.raises(RuntimeError, match="shape"):
        x += mg.ones(2, 3)
    f = mg.zeros(2, dtype=mg.float32)
    f += mg.ones(2, dtype=mg.float64)   # a float64 operand is cast into the float32 tensor, as PyTorch
    assert f.dtype == mg.float32 and f.numpy().tolist() == [1.0, 1.0]


def test_setitem_without_grad_matches_numpy() -> None:
    array = np.arange(12.0).reshape(3, 4)
    x = mg.tensor(array)
    expected = array.copy()
    for index, value in [(0, 7.0), ((slice(None), 1), mg.tensor([1.0, 2.0, 3.0])), ([0, 2], np.ones(4)),
                         (array > 8, -1.0), ((1, mg.tensor([0, 3])), 9.0), (Ellipsis, x * 1)]:
        x[index] = value
        expected[index] = value.numpy() if isinstance(value, mg.Tensor) else value
        np.testing.assert_array_equal(x.numpy(), expected)


def test_random_fills_in_place(torch: Any) -> None:
    w = mg.zeros(200, 50, requires_grad=True)
    with pytest.raises(RuntimeError, match=LEAF_MESSAGE):
        w.uniform_(-0.1, 0.1)
    with mg.no_grad():
        assert w.uniform_(-0.1, 0.1) is w
        assert float(w.min()) >= -0.1 and float(w.max()) < 0.1 and abs(float(w.mean())) < 0.01
        assert w.normal_(2.0, 0.5) is w
        assert abs(float(w.mean()) - 2.0) < 0.02 and abs(float(w.std()) - 0.5) < 0.02
    mg.manual_seed(3)
    first = mg.zeros(5).uniform_()
    mg.manual_seed(3)
    assert first.numpy().tolist() == mg.zeros(5).uniform_().numpy().tolist()


def test_in_place_ops_return_self_and_requires_grad_() -> None:
    x = mg.zeros(2, 2)
    for result in (x.add_(1), x.mul_(2), x.sub_(1, alpha=0.5), x.div_(4), x.clamp_(min=0.2), x.zero_(),
                   x.fill_(2.0), x.copy_(mg.ones(2)), x.masked_fill_(mg.tensor([True, False]), 5.0),
                   x.requires_grad_()):
        assert result is x
    assert x.requires_grad and x.numpy().tolist() == [[5.0, 1.0], [5.0, 1.0]]
    g = mg.tensor([1.0, 2.0], requires_grad=True)
    (g * 3).sum().backward()
    grad = g.grad
    assert grad.zero_() is grad and g.grad.numpy().tolist() == [0.0, 0.0]


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_in_place_programs_on_gpu_equal_cpu(name: str) -> None:
    program, shapes = PROGRAMS[name]
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal(s) for s in shapes]
    results = {}
    previous = mg.get_default_device()
    for device in ("cpu", "cuda"):
        mg.set_default_device(device)   # the programs' own constructors (zeros) follow
        try:
            out, leaves = _run(mg, program, arrays, device)
        finally:
            mg.set_default_device(previous)
        assert out.device == mg.device(device)
        results[device] = [out.numpy()] + [leaf.grad.numpy() for leaf in leaves]
    for k, (a, b) in enumerate(zip(results["cuda"], results["cpu"])):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=f"item {k}")


def test_in_place_casts_follow_pytorchs_rule_not_numpys(torch: Any) -> None:
    # PyTorch lets an in-place op write an int64 result into uint8 (NumPy's same_kind refuses signed to unsigned)
    for ours_fn, theirs_fn in [(lambda t: t.add_(mg.tensor([10, -5])), lambda t: t.add_(torch.tensor([10, -5]))),
                               (lambda t: t.add_(2, alpha=3), lambda t: t.add_(2, alpha=3))]:
        ours = ours_fn(mg.tensor(np.array([250, 3], dtype=np.uint8)))
        theirs = theirs_fn(torch.tensor([250, 3], dtype=torch.uint8))
        assert ours.dtype == np.uint8 and ours.numpy().tolist() == theirs.tolist()
    with pytest.raises(TypeError, match="add_: result type float64 can't be cast"):
        mg.tensor([1, 2]).add_(1.5)
    with pytest.raises(TypeError, match="add_: result type int64 can't be cast"):
        mg.tensor([True, False]).add_(1)
