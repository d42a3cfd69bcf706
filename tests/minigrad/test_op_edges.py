"""The edges of the ops (issue #13): masks, ties, Tensor clip bounds, and every zero-size case.

- Masks select, never multiply: where an op's gradient does not flow (relu below 0, clip outside its
  bounds, the smaller side of maximum, abs at 0, the non-max elements of a max reduction) it is
  exactly 0, even when inf or NaN arrives from above. Ties and NaN follow PyTorch.
- Tensor bounds of clip get torch.clamp's gradients.
- Every zero-size case of every op works as in PyTorch (forward and backward), or raises a clear
  error where PyTorch raises.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from helpers import assert_ieee_close, check_op

import minigrad as mg

INF, NAN = float("inf"), float("nan")


def pair(torch: Any, values: Any) -> tuple:
    """A float64 leaf in each framework holding ``values``."""
    array = np.asarray(values, dtype=np.float64)
    return mg.tensor(array, requires_grad=True), torch.tensor(array, requires_grad=True)


def backward_both(torch: Any, ours: mg.Tensor, theirs: Any, upstream: Any) -> None:
    upstream = np.asarray(upstream, dtype=np.float64)
    ours.backward(mg.tensor(upstream))
    theirs.backward(torch.tensor(upstream))


# --- masks select (issue #13, "Why" 2) ------------------------------------------------

def test_sqrt_of_relu_gives_zero_below_zero_not_nan(torch):
    # the example: d sqrt / dy = inf at y = relu(-1) = 0, and inf * 0 was NaN
    x, tx = pair(torch, [-1.0, 4.0])
    mg.sqrt(mg.relu(x)).sum().backward()
    torch.sqrt(torch.relu(tx)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.25])
    assert_ieee_close(x.grad, tx.grad)


SELECTING_OPS = {   # op: (minigrad, torch, input); PyTorch selects in each of these too
    "relu": (mg.relu, lambda t: t.relu(), [-1.0, 0.0, -0.0, 2.0, NAN]),
    "clip": (lambda x: mg.clip(x, -1.0, 1.0), lambda t: t.clamp(-1.0, 1.0), [-2.0, -1.0, 0.0, 1.0, 2.0, NAN]),
    "clip_min": (lambda x: mg.clip(x, min=0.0), lambda t: t.clamp(min=0.0), [-1.0, 0.0, 1.0, NAN]),
    "clip_max": (lambda x: mg.clip(x, max=0.0), lambda t: t.clamp(max=0.0), [-1.0, 0.0, 1.0, NAN]),
    "maximum": (lambda x: mg.maximum(x, mg.tensor(np.zeros(5))), lambda t: torch_maximum_zero(t),
                [-1.0, 0.0, 1.0, NAN, -INF]),
    "minimum": (lambda x: mg.minimum(x, mg.tensor(np.zeros(5))), lambda t: torch_minimum_zero(t),
                [-1.0, 0.0, 1.0, NAN, INF]),
    "max_all": (lambda x: x.max(), lambda t: t.max(), [1.0, 3.0, 3.0, -INF]),
    "min_all": (lambda x: x.min(), lambda t: t.min(), [1.0, -3.0, -3.0, INF]),
    "max_nan": (lambda x: x.max(), lambda t: t.max(), [1.0, NAN, 3.0, NAN]),
}


def torch_maximum_zero(t: Any) -> Any:
    import torch

    return torch.maximum(t, torch.zeros(5, dtype=torch.float64))


def torch_minimum_zero(t: Any) -> Any:
    import torch

    return torch.minimum(t, torch.zeros(5, dtype=torch.float64))


@pytest.mark.parametrize("name", sorted(SELECTING_OPS))
@pytest.mark.parametrize("upstream", [1.0, INF, -INF, NAN])
def test_masking_backward_selects_like_pytorch(torch, name, upstream):
    ours_fn, torch_fn, values = SELECTING_OPS[name]
    x, tx = pair(torch, values)
    y, ty = ours_fn(x), torch_fn(tx)
    assert_ieee_close(y, ty, f"{name} forward")
    backward_both(torch, y, ty, np.full(y.shape, upstream))
    assert_ieee_close(x.grad, tx.grad, f"{name} gradient for {upstream} from above")


@pytest.mark.parametrize("upstream", [INF, NAN])
def test_masked_elements_get_exactly_zero_whatever_arrives(upstream):
    """Where the gradient does not flow it is exactly 0 (abs: g·0 at x = 0, as PyTorch); where it flows it is what
    arrived (or its share)."""
    x = mg.tensor([-2.0, 0.0, 3.0], dtype=mg.float64, requires_grad=True)
    cases = {
        "relu": (mg.relu(x), [0.0, 0.0, upstream]),
        "clip": (mg.clip(x, -1.0, 1.0), [0.0, upstream, 0.0]),
        "maximum": (mg.maximum(x, mg.tensor(np.ones(3))), [0.0, 0.0, upstream]),
        "minimum": (mg.minimum(x, mg.tensor(np.ones(3))), [upstream, upstream, 0.0]),
        "abs": (mg.abs(x), [-upstream, upstream * 0.0, upstream]),   # PyTorch's g·sgn(x): inf·0 is NaN
        "max": (mg.max(x, axis=0), [0.0, 0.0, upstream]),
        "min": (mg.min(x, axis=0, keepdims=True), [upstream, 0.0, 0.0]),
        "amax": (mg.amax(x, 0), [0.0, 0.0, upstream]),
    }
    for name, (y, expected) in cases.items():
        x.grad = None
        y.backward(mg.tensor(np.full(y.shape, upstream)))
        np.testing.assert_array_equal(x.grad.numpy(), expected, err_msg=name)


def test_ties_follow_pytorch(torch):
    a, ta = pair(torch, [1.0, 2.0, 0.0, -0.0])
    b, tb = pair(torch, [1.0, 3.0, -0.0, 0.0])
    for ours_fn, torch_fn in ((mg.maximum, torch.maximum), (mg.minimum, torch.minimum)):
        a.grad = b.grad = ta.grad = tb.grad = None
        y, ty = ours_fn(a, b), torch_fn(ta, tb)
        # at a tie of 0 and -0 PyTorch returns the first argument: the sign of the zero matters to 1/y
        np.testing.assert_array_equal(np.signbit(y.numpy()), np.signbit(ty.detach().numpy()))
        backward_both(torch, y, ty, np.ones(4))
        assert_ieee_close(a.grad, ta.grad)
        assert_ieee_close(b.grad, tb.grad)
    np.testing.assert_array_equal(a.grad.numpy(), [0.5, 1.0, 0.5, 0.5])   # minimum: ties split evenly
    x, tx = pair(torch, [[3.0, 1.0, 3.0], [2.0, 2.0, 2.0]])
    for ours_fn, torch_fn in ((lambda v: v.max(), lambda t: t.max()), (lambda v: v.amax(1), lambda t: t.amax(1)),
                              (lambda v: v.min(axis=0), lambda t: t.amin(0))):
        x.grad = tx.grad = None
        y, ty = ours_fn(x), torch_fn(tx)
        backward_both(torch, y, ty, np.ones(y.shape))
        assert_ieee_close(x.grad, tx.grad)
    z, tz = pair(torch, [-1.0, 0.0, -0.0, 1.0])
    for ours_fn, torch_fn in ((mg.relu, torch.relu), (mg.abs, torch.abs),
                              (lambda v: mg.clip(v, 0.0, 1.0), lambda t: t.clamp(0.0, 1.0))):
        z.grad = tz.grad = None
        y, ty = ours_fn(z), torch_fn(tz)
        np.testing.assert_array_equal(np.signbit(y.numpy()), np.signbit(ty.detach().numpy()))
        backward_both(torch, y, ty, np.ones(4))
        assert_ieee_close(z.grad, tz.grad)
    np.testing.assert_array_equal(z.grad.numpy(), [0.0, 1.0, 1.0, 1.0])   # clamp: bounds inclusive


# --- clip with Tensor bounds (issue #13, "Why" 3) ----------------------------------------

CLIP_SHAPES = [((4,), (4,), (4,)), ((2, 3), (3,), (2, 1)), ((3,), (2, 3), ()), ((2, 1), (1, 3), None),
               ((3,), None, (2, 3)), ((0, 3), (3,), (1, 3)), ((1,), (0,), None)]


@pytest.mark.parametrize("shapes", CLIP_SHAPES)
def test_clip_tensor_bounds_get_torch_clamp_gradients(torch, shapes):
    rng = np.random.default_rng(len(str(shapes)))
    x_shape, low_shape, high_shape = shapes
    x = mg.tensor(rng.standard_normal(x_shape), requires_grad=True)
    low = None if low_shape is None else mg.tensor(rng.standard_normal(low_shape) - 0.5, requires_grad=True)
    high = None if high_shape is None else mg.tensor(rng.standard_normal(high_shape) + 0.5, requires_grad=True)
    inputs = [t for t in (x, low, high) if t is not None]

    def clip(*args: mg.Tensor) -> mg.Tensor:
        it = iter(args[1:])
        return mg.clip(args[0], None if low is None else next(it), None if high is None else next(it))

    def clamp(*args: Any) -> Any:
        import torch

        it = iter(args[1:])
        bounds = [None if low is None else next(it), None if high is None else next(it)]
        full = np.broadcast_shapes(*(tuple(a.shape) for a in args))
        # torch.clamp's backward needs x at the full shape (it ANDs its two masks in place)
        return torch.clamp(args[0].expand(full), *bounds)

    check_op(clip, inputs, torch, clamp)   # gradcheck, then values and every input's gradient against torch


def test_clip_tensor_bounds_at_ties_and_crossed_bounds_match_torch(torch):
    x, tx = pair(torch, [0.0, 1.0, 2.0, -1.0, 0.5, 3.0, 0.5, NAN, 1.0])
    lo, tlo = pair(torch, [0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 1.0, 0.0, NAN])
    hi, thi = pair(torch, [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0])
    y, ty = mg.clip(x, lo, hi), torch.clamp(tx, tlo, thi)
    assert_ieee_close(y, ty)
    backward_both(torch, y, ty, np.full(9, INF))
    for ours, theirs, name in ((x, tx, "x"), (lo, tlo, "min"), (hi, thi, "max")):
        assert_ieee_close(ours.grad, theirs.grad, name)
    np.testing.assert_array_equal(hi.grad.numpy()[[2, 5]], [INF, INF])   # above max; crossed bounds: max wins


def test_clip_with_tensor_bounds_records_when_only_a_bound_requires_grad():
    low = mg.tensor([0.5, -5.0], dtype=mg.float64, requires_grad=True)
    mg.clip(mg.tensor([0.0, 0.0], dtype=mg.float64), low).sum().backward()
    np.testing.assert_array_equal(low.grad.numpy(), [1.0, 0.0])


# --- matmul with an inner dimension of 0 (issue #13, "Why" 4) ------------------------------

MATMUL_SHAPES = [((3, 2, 0), (0, 4)), ((2, 3, 3), (3, 0)), ((2, 0, 3), (3, 4)), ((3, 2, 0), (3, 0, 4)),
                 ((2, 0), (0, 3)), ((0,), (0,)), ((0,), (0, 4)), ((2, 3, 0), (0,)), ((4, 0), (2, 0, 3)),
                 ((0, 2), (2, 3)), ((1, 2, 0), (3, 0, 1))]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES)
def test_matmul_with_empty_dims_matches_torch(torch, shapes):
    (a, ta), (b, tb) = pair(torch, np.ones(shapes[0])), pair(torch, np.ones(shapes[1]))
    y, ty = a @ b, ta @ tb
    assert_ieee_close(y, ty)
    backward_both(torch, y, ty, np.ones(y.shape))
    assert_ieee_close(a.grad, ta.grad)
    assert_ieee_close(b.grad, tb.grad)


# --- every zero-size case (issue #13, "Why" 9) ------------------------------------------------

EMPTY_SHAPES = [(0,), (0, 3), (3, 0), (2, 0, 3), (0, 0)]


def reductions() -> dict:
    """name(axis, keepdims): (minigrad, torch) over every axis choice of a 2-3 dim tensor."""
    import torch

    def torch_dims(axis: Any, ndim: int) -> tuple:
        return tuple(range(ndim)) if axis is None else (axis,) if isinstance(axis, int) else axis

    table = {}
    for axis in (None, 0, -1, (0, 1)):
        for keep in (False, True):
            tag = f"(axis={axis}, keepdims={keep})"
            for name in ("sum", "mean", "logsumexp", "amax", "amin"):
                table[name + tag] = (
                    lambda x, n=name, a=axis, k=keep: getattr(mg, n)(x, axis=a, keepdims=k),
                    lambda t, n=name, a=axis, k=keep: getattr(torch, n)(t, dim=torch_dims(a, t.ndim), keepdim=k))
            for name, torch_name in (("max", "amax"), ("min", "amin")):
                table[name + tag] = (
                    lambda x, n=name, a=axis, k=keep: getattr(mg, n)(x, axis=a, keepdims=k),
                    lambda t, n=torch_name, a=axis, k=keep: getattr(torch, n)(t, dim=torch_dims(a, t.ndim), keepdim=k))
            for ddof in (0, 1):
                table[f"var{tag} ddof={ddof}"] = (
                    lambda x, a=axis, k=keep, d=ddof: mg.var(x, axis=a, keepdims=k, ddof=d),
                    lambda t, a=axis, k=keep, d=ddof: torch.var(t, dim=torch_dims(a, t.ndim), correction=d, keepdim=k))
    for dim in (0, -1):
        for name in ("softmax", "log_softmax"):
            table[f"{name}(dim={dim})"] = (lambda x, n=name, d=dim: getattr(mg, n)(x, dim=d),
                                           lambda t, n=name, d=dim: getattr(torch, n)(t, dim=d))
        for name in ("max", "min"):   # PyTorch's max(dim): values, indices
            table[f"{name}(dim={dim}).values"] = (lambda x, n=name, d=dim: getattr(mg, n)(x, dim=d).values,
                                                  lambda t, n=name, d=dim: getattr(torch, n)(t, dim=d).values)
    table["max()"] = (lambda x: x.max(), lambda t: t.max())
    table["min()"] = (lambda x: x.min(), lambda t: t.min())
    return table


def elementwise_and_shape_ops() -> dict:
    import torch

    ops = {name: (getattr(mg, name), getattr(torch, name))
           for name in ("exp", "log", "tanh", "sigmoid", "relu", "abs", "sqrt", "neg", "sin", "cos")}
    ops.update({
        "pow 2": (lambda x: x ** 2, lambda t: t ** 2),
        "rpow": (lambda x: 2.0 ** x, lambda t: 2.0 ** t),
        "clip": (lambda x: mg.clip(x, -0.5, 0.5), lambda t: t.clamp(-0.5, 0.5)),
        "reshape(-1)": (lambda x: x.reshape(-1), lambda t: t.reshape(-1)),
        "reshape(0, -1)": (lambda x: x.reshape(0, -1), lambda t: t.reshape(0, -1)),
        "swapaxes": (lambda x: mg.swapaxes(x, 0, -1), lambda t: torch.swapaxes(t, 0, -1)),
        "expand_dims": (lambda x: mg.expand_dims(x, 1), lambda t: t.unsqueeze(1)),
        "slice": (lambda x: x[1:], lambda t: t[1:]),
        "index mask": (lambda x: x[x > 0], lambda t: t[t > 0]),
        "cat": (lambda x: mg.cat([x, x], dim=0), lambda t: torch.cat([t, t], dim=0)),
        "stack": (lambda x: mg.stack([x, x], dim=-1), lambda t: torch.stack([t, t], dim=-1)),
        "broadcast_to": (lambda x: mg.broadcast_to(x, (2,) + x.shape), lambda t: t.broadcast_to((2,) + t.shape)),
        "add self": (lambda x: x + x, lambda t: t + t),
        "mul row": (lambda x: x * mg.tensor(np.ones(x.shape[-1:])),
                    lambda t: t * torch.ones(t.shape[-1:], dtype=t.dtype)),
        "div": (lambda x: x / (x + 2.0), lambda t: t / (t + 2.0)),
        "pow tensor": (lambda x: x ** x, lambda t: t ** t),
        "maximum": (lambda x: mg.maximum(x, x * 2), lambda t: torch.maximum(t, t * 2)),
        "minimum": (lambda x: mg.minimum(x, x * 2), lambda t: torch.minimum(t, t * 2)),
        "where": (lambda x: mg.where(x > 0, x, -x), lambda t: torch.where(t > 0, t, -t)),
        "matmul xᵀx": (lambda x: x.mT @ x if x.ndim > 1 else x @ x, lambda t: t.mT @ t if t.ndim > 1 else t @ t),
    })
    return ops


def run_both(torch: Any, shape: tuple, ours_fn: Callable, torch_fn: Callable, name: str) -> None:
    """Both raise (ours a clear ValueError naming the op), or values and gradients agree."""
    x, tx = pair(torch, np.ones(shape))
    try:
        theirs = torch_fn(tx)
    except (RuntimeError, IndexError, ValueError) as torch_error:
        with pytest.raises((ValueError, IndexError)) as ours_error:
            ours_fn(x)
        assert name.split("(")[0].split(" ")[0] in str(ours_error.value), (str(ours_error.value), str(torch_error))
        return
    ours = ours_fn(x)
    assert_ieee_close(ours, theirs, f"{name} on {shape}")
    if not theirs.requires_grad:
        return
    backward_both(torch, ours, theirs, np.ones(ours.shape))
    assert x.grad is not None and x.grad.shape == x.shape
    assert_ieee_close(x.grad, tx.grad, f"gradient of {name} on {shape}")


@pytest.mark.parametrize("shape", EMPTY_SHAPES)
@pytest.mark.parametrize("name", sorted(reductions()))
def test_reductions_of_empty_tensors_match_torch(torch, name, shape):
    ours_fn, torch_fn = reductions()[name]
    run_both(torch, shape, ours_fn, torch_fn, name)


@pytest.mark.parametrize("shape", EMPTY_SHAPES)
@pytest.mark.parametrize("name", sorted(elementwise_and_shape_ops()))
def test_elementwise_and_shape_ops_of_empty_tensors_match_torch(torch, name, shape):
    ours_fn, torch_fn = elementwise_and_shape_ops()[name]
    run_both(torch, shape, ours_fn, torch_fn, name)


def test_empty_reductions_give_the_identity_or_nan_without_warnings():
    x = mg.zeros((0, 3), dtype=mg.float64, requires_grad=True)
    with np.errstate(all="raise"):   # NumPy's warnings would raise here
        np.testing.assert_array_equal(mg.logsumexp(x, axis=0).numpy(), [-INF] * 3)
        assert np.isnan(mg.mean(x).item()) and np.isnan(mg.var(x, axis=0).numpy()).all()
        assert mg.max(x, axis=-1).shape == (0,) and mg.softmax(x, dim=0).shape == (0, 3)
        mg.mean(x, axis=0).sum().backward()
    assert x.grad.shape == (0, 3)


def test_max_over_an_empty_axis_names_the_axis():
    with pytest.raises(ValueError, match=r"max: cannot reduce axis 0, which has size 0,.*\(0, 3\)"):
        mg.max(mg.zeros((0, 3)), axis=0)
    with pytest.raises(ValueError, match=r"min: cannot reduce an empty tensor of shape \(0,\)"):
        mg.zeros(0).min()


# --- found by tests/test_fuzz_torch.py ------------------------------------------------------------

def test_std_of_constant_values_has_zero_gradient_like_torch(torch):
    # sqrt(var) would give inf * 0 = NaN; PyTorch masks the zero deviation
    x, tx = pair(torch, [[2.0, 2.0, 2.0], [1.0, 2.0, 3.0]])
    y, ty = mg.std(x, dim=1, correction=0), torch.std(tx, dim=1, correction=0)
    backward_both(torch, y, ty, [INF, 1.0])
    assert_ieee_close(x.grad, tx.grad)
    np.testing.assert_array_equal(x.grad.numpy()[0], [0.0, 0.0, 0.0])


@pytest.mark.parametrize("order", [0, 1, 2, 3, 0.5, INF, -INF])
def test_norm_gradient_at_zeros_nan_and_ties_matches_torch(torch, order):
    x, tx = pair(torch, [[0.0, 0.0, 0.0], [1.0, -1.0, 0.5], [NAN, 2.0, -2.0], [0.0, -3.0, 1.0]])
    y, ty = mg.norm(x, order, dim=1), torch.linalg.vector_norm(tx, ord=order, dim=1)
    assert_ieee_close(y, ty)
    backward_both(torch, y, ty, [1.0, -2.0, 1.0, 0.5])
    if tx.grad is None:   # ord=0 has no backward in PyTorch: no gradient at all (round 16)
        assert x.grad is None
    else:
        assert_ieee_close(x.grad, tx.grad)


# --- the same edges on the GPU (a real one, or the strict CuPy stand-in in CI) ---------------------

GPU_CASES = {
    "masks": (lambda x, b: [mg.relu(x), mg.abs(x), mg.clip(x, -1.0, 1.0), mg.maximum(x, b), mg.minimum(x, b),
                            x.max(), mg.amax(x, 1), mg.min(x, axis=0)],
              [[[-1.0, 0.0, 2.0], [2.0, -0.0, NAN]], [[0.0, 0.0, 2.0], [1.0, 0.0, 0.0]]]),
    "clip_tensor_bounds": (lambda x, low, high: [mg.clip(x, low, high), mg.clip(x, low), mg.clip(x, max=high)],
                           [[[0.0, 1.0, 2.0], [-1.0, 0.5, 3.0]], [[0.0, 0.0, 0.0]], [[1.0], [0.0]]]),
    "empty_reductions": (lambda x: [mg.logsumexp(x, axis=0), mg.softmax(x, dim=0), mg.mean(x, axis=0),
                                    mg.var(x, axis=0), mg.max(x, axis=-1), mg.std(x, dim=0)], [np.ones((0, 3))]),
    "empty_matmul": (lambda a, b: [a @ b], [np.ones((3, 2, 0)), np.ones((0, 4))]),
    "std_norm": (lambda x: [mg.std(x, dim=1, correction=0), mg.norm(x, INF, dim=1), mg.norm(x, 3, dim=1)],
                 [[[2.0, 2.0, 2.0], [1.0, -3.0, 3.0]]]),
}


def _run_on(device: str, fn: Callable, arrays: list, upstream: float) -> tuple:
    leaves = [mg.tensor(np.asarray(a, dtype=np.float64), requires_grad=True, device=device) for a in arrays]
    outputs = fn(*leaves)
    total = None
    for y in outputs:
        term = (y * mg.full(y.shape, upstream, dtype=mg.float64, device=device)).sum()
        total = term if total is None else total + term
    total.backward()
    return [y.numpy() for y in outputs], [x.grad.numpy() for x in leaves]


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(GPU_CASES))
def test_edges_on_gpu_equal_cpu(name):
    fn, arrays = GPU_CASES[name]
    for upstream in (1.0, 0.5):
        cpu, gpu = _run_on("cpu", fn, arrays, upstream), _run_on("cuda", fn, arrays, upstream)
        for a, b in zip(cpu[0] + cpu[1], gpu[0] + gpu[1]):
            assert_ieee_close(b, a, name, rtol=1e-12, atol=1e-14)
