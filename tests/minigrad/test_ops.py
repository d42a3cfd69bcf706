"""Every op two ways: finite differences (``mg.gradcheck`` in float64) and PyTorch.

Each op is a *case*: a function that draws shapes, values and parameters with
Hypothesis and returns ``(arrays, minigrad_fn, torch_fn)``. The same case
feeds ``test_gradcheck`` (no PyTorch needed) and ``test_matches_torch``
(values and input gradients equal PyTorch's to 1e-10 relative in float64).
Shapes include 0-d tensors, broadcasting pairs and repeated indices.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np
import pytest
from helpers import assert_close, check_against_torch, to_torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg

SETTINGS = settings(max_examples=15, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.filter_too_much])

CASES: dict[str, Callable[[Callable], tuple]] = {}


def case(name: str) -> Callable:
    def register(draw_case: Callable) -> Callable:
        CASES[name] = draw_case
        return draw_case
    return register


# --- drawing helpers -----------------------------------------------------------

def shape(draw: Callable, min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4) -> tuple:
    return draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side))


def normal(draw: Callable, shape: tuple) -> np.ndarray:
    seed = draw(st.integers(0, 2**32 - 1))
    return np.random.default_rng(seed).standard_normal(shape)


def positive(draw: Callable, shape: tuple) -> np.ndarray:
    """Values in [0.5, 2.5): away from the poles of log, sqrt, 1/x."""
    return np.abs(normal(draw, shape)) % 2.0 + 0.5


def broadcast_pair(draw: Callable) -> tuple:
    return draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)).input_shapes


def axis_arg(draw: Callable, ndim: int) -> Any:
    """None, one axis (maybe negative) or a tuple of axes."""
    choices = [st.none()]
    if ndim:
        choices += [st.integers(-ndim, ndim - 1), hnp.valid_tuple_axes(ndim, min_size=1)]
    return draw(st.one_of(*choices))


def torch_dims(axis: Any, ndim: int) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    return (axis,) if isinstance(axis, int) else tuple(axis)


# --- elementwise, binary ----------------------------------------------------------

@case("add")
def _add(draw):
    sa, sb = broadcast_pair(draw)
    return [normal(draw, sa), normal(draw, sb)], lambda a, b: a + b, lambda t, a, b: a + b


@case("sub")
def _sub(draw):
    sa, sb = broadcast_pair(draw)
    return [normal(draw, sa), normal(draw, sb)], lambda a, b: a - b, lambda t, a, b: a - b


@case("mul")
def _mul(draw):
    sa, sb = broadcast_pair(draw)
    return [normal(draw, sa), normal(draw, sb)], lambda a, b: a * b, lambda t, a, b: a * b


@case("div")
def _div(draw):
    sa, sb = broadcast_pair(draw)
    sign = np.where(normal(draw, sb) < 0, -1.0, 1.0)
    return [normal(draw, sa), sign * positive(draw, sb)], lambda a, b: a / b, lambda t, a, b: a / b


@case("pow_tensor_tensor")
def _pow(draw):
    sa, sb = broadcast_pair(draw)
    return [positive(draw, sa), normal(draw, sb)], lambda a, b: a ** b, lambda t, a, b: a ** b


@case("pow_tensor_scalar")
def _pow_scalar(draw):
    exponent = draw(st.sampled_from([2, 3, 0.5, -1.5, 2.5, 0]))
    return [positive(draw, shape(draw))], lambda a: a ** exponent, lambda t, a: a ** exponent


@case("pow_scalar_tensor")
def _rpow(draw):
    base = draw(st.sampled_from([2, 0.5, 3.0]))
    return [normal(draw, shape(draw))], lambda a: base ** a, lambda t, a: base ** a


@case("scalar_arithmetic")
def _scalars(draw):
    """Python numbers on either side: 2.5 - x, x / 3, 2 / x, 1 + x * 4."""
    return ([positive(draw, shape(draw))], lambda a: (2.5 - a) * (a / 3) + 2 / a + (1 + a * 4) - a,
            lambda t, a: (2.5 - a) * (a / 3) + 2 / a + (1 + a * 4) - a)


@case("matmul")
def _matmul(draw):
    sa, sb = draw(hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=2, max_side=3)).input_shapes
    return [normal(draw, sa), normal(draw, sb)], lambda a, b: a @ b, lambda t, a, b: a @ b


@case("maximum")
def _maximum(draw):
    sa, sb = broadcast_pair(draw)
    return [normal(draw, sa), normal(draw, sb)], mg.maximum, lambda t, a, b: t.maximum(a, b)


@case("minimum")
def _minimum(draw):
    sa, sb = broadcast_pair(draw)
    return [normal(draw, sa), normal(draw, sb)], mg.minimum, lambda t, a, b: t.minimum(a, b)


@case("where")
def _where(draw):
    sc, sa = broadcast_pair(draw)
    sb = draw(st.sampled_from([(), sa]))
    condition = normal(draw, sc) > 0
    return [condition, normal(draw, sa), normal(draw, sb)], mg.where, lambda t, c, a, b: t.where(c, a, b)


# --- elementwise, unary -------------------------------------------------------------

def _unary(name: str, mg_fn: Callable, torch_fn: Callable, values: Callable = normal) -> None:
    @case(name)
    def draw_case(draw):
        return [values(draw, shape(draw))], mg_fn, torch_fn


_unary("neg", lambda a: -a, lambda t, a: -a)
_unary("exp", mg.exp, lambda t, a: a.exp())
_unary("log", mg.log, lambda t, a: a.log(), positive)
_unary("tanh", mg.tanh, lambda t, a: a.tanh())
_unary("sigmoid", mg.sigmoid, lambda t, a: a.sigmoid())
_unary("relu", mg.relu, lambda t, a: a.relu())
_unary("abs", mg.abs, lambda t, a: a.abs())
_unary("sqrt", mg.sqrt, lambda t, a: a.sqrt(), positive)
_unary("method_spellings", lambda a: a.tanh().sigmoid().exp().relu().abs(),
       lambda t, a: a.tanh().sigmoid().exp().relu().abs())


@case("clip")
def _clip(draw):
    low, high = draw(st.sampled_from([(-0.5, 0.5), (None, 0.3), (-0.3, None)]))
    return [normal(draw, shape(draw))], lambda a: mg.clip(a, low, high), lambda t, a: t.clamp(a, low, high)


# --- reductions -----------------------------------------------------------------------

def _reduction(name: str, mg_fn: Callable, torch_fn: Callable) -> None:
    @case(name)
    def draw_case(draw):
        s = shape(draw)
        axis, keepdims = axis_arg(draw, len(s)), draw(st.booleans())
        return ([normal(draw, s)], lambda a: mg_fn(a, axis=axis, keepdims=keepdims),
                lambda t, a: torch_fn(t, a, torch_dims(axis, a.ndim), keepdims))


_reduction("sum", mg.sum, lambda t, a, dims, k: a.sum(dim=dims, keepdim=k) if dims else a)
_reduction("mean", mg.mean, lambda t, a, dims, k: a.mean(dim=dims, keepdim=k) if dims else a)
_reduction("max", mg.max, lambda t, a, dims, k: t.amax(a, dim=dims, keepdim=k) if dims else a)
_reduction("min", mg.min, lambda t, a, dims, k: t.amin(a, dim=dims, keepdim=k) if dims else a)
_reduction("logsumexp", mg.logsumexp, lambda t, a, dims, k: t.logsumexp(a, dim=dims, keepdim=k) if dims else a)
_reduction("sum_method", lambda a, axis, keepdims: a.sum(axis, keepdims=keepdims),
           lambda t, a, dims, k: a.sum(dim=dims, keepdim=k) if dims else a)


@case("var")
def _var(draw):
    s = shape(draw, min_dims=1, min_side=2)
    axis, keepdims, ddof = axis_arg(draw, len(s)), draw(st.booleans()), draw(st.sampled_from([0, 1]))
    return ([normal(draw, s)], lambda a: mg.var(a, axis=axis, keepdims=keepdims, ddof=ddof),
            lambda t, a: t.var(a, dim=torch_dims(axis, a.ndim), keepdim=keepdims, correction=ddof))


def _softmax_like(name: str, mg_fn: Callable, torch_fn: Callable) -> None:
    @case(name)
    def draw_case(draw):
        s = shape(draw, min_dims=1)
        axis = draw(st.integers(-len(s), len(s) - 1))
        return [normal(draw, s)], lambda a: mg_fn(a, axis=axis), lambda t, a: torch_fn(a, axis)


_softmax_like("softmax", mg.softmax, lambda a, axis: a.softmax(dim=axis))
_softmax_like("log_softmax", mg.log_softmax, lambda a, axis: a.log_softmax(dim=axis))


# --- shapes -------------------------------------------------------------------------------

@case("reshape")
def _reshape(draw):
    s = shape(draw)
    size = int(np.prod(s))
    target = draw(st.sampled_from([(-1,), (size,), (1, *s), tuple(reversed(s)), (size, 1)]))
    return [normal(draw, s)], lambda a: a.reshape(target), lambda t, a: a.reshape(target)


@case("transpose")
def _transpose(draw):
    s = shape(draw)
    axes = tuple(draw(st.permutations(range(len(s)))))
    return [normal(draw, s)], lambda a: a.transpose(axes), lambda t, a: a.permute(axes)   # a tuple: NumPy's


@case("transpose_T")
def _transpose_T(draw):
    s = shape(draw)
    return [normal(draw, s)], lambda a: a.T * 1, lambda t, a: a.permute(tuple(reversed(range(a.ndim)))) * 1


@case("swapaxes")
def _swapaxes(draw):
    s = shape(draw, min_dims=1)
    a1, a2 = draw(st.integers(-len(s), len(s) - 1)), draw(st.integers(-len(s), len(s) - 1))
    return [normal(draw, s)], lambda a: mg.swapaxes(a, a1, a2), lambda t, a: t.swapaxes(a, a1, a2)


@case("expand_dims")
def _expand_dims(draw):
    s = shape(draw)
    axis = draw(st.integers(-len(s) - 1, len(s)))
    return [normal(draw, s)], lambda a: mg.expand_dims(a, axis), lambda t, a: a.unsqueeze(axis)


@case("squeeze")
def _squeeze(draw):
    s = shape(draw, max_side=2)
    ones = [i for i, n in enumerate(s) if n == 1]
    axis = draw(st.sampled_from([None, *ones, tuple(ones)])) if ones else None
    dims = tuple(range(len(s))) if axis is None else axis
    return [normal(draw, s)], lambda a: mg.squeeze(a, axis=axis), lambda t, a: a.squeeze(dims) if s else a


@case("broadcast_to")
def _broadcast_to(draw):
    s = shape(draw)
    other = draw(hnp.broadcastable_shapes(s, max_dims=4, max_side=3))
    target = np.broadcast_shapes(s, other)
    return [normal(draw, s)], lambda a: mg.broadcast_to(a, target), lambda t, a: a.broadcast_to(target)


@case("concat")
def _concat(draw):
    s = shape(draw, min_dims=1)
    axis = draw(st.integers(-len(s), len(s) - 1))
    sizes = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    shapes = [tuple(n if i == axis % len(s) else d for i, d in enumerate(s)) for n in sizes]
    return ([normal(draw, p) for p in shapes], lambda *xs: mg.concat(list(xs), axis=axis),
            lambda t, *xs: t.cat(xs, dim=axis))


@case("stack")
def _stack(draw):
    s = shape(draw)
    axis = draw(st.integers(-len(s) - 1, len(s)))
    count = draw(st.integers(1, 3))
    return ([normal(draw, s) for _ in range(count)], lambda *xs: mg.stack(list(xs), axis=axis),
            lambda t, *xs: t.stack(xs, dim=axis))


def _joined(parts: list, cat: Callable) -> Any:
    """Several outputs as one (flattened and concatenated), so the checks see every part."""
    return cat([p.reshape(-1) for p in parts])


@case("split_points")
def _split_points(draw):
    """numpy.split with a list of points: negative, past the end, repeated or out of order."""
    s = shape(draw, min_dims=1)
    axis = draw(st.integers(-len(s), len(s) - 1))
    size = s[axis]
    points = draw(st.lists(st.integers(-size - 1, size + 1), min_size=1, max_size=3))
    return ([normal(draw, s)], lambda a: _joined(mg.split(a, points, axis=axis), mg.concat),
            lambda t, a: _joined(t.tensor_split(a, points, dim=axis), t.cat))


@case("split_sections")
def _split_sections(draw):
    s = shape(draw, min_dims=1)
    axis = draw(st.integers(-len(s), len(s) - 1))
    sections = draw(st.sampled_from([n for n in range(1, s[axis] + 1) if s[axis] % n == 0]))
    return ([normal(draw, s)], lambda a: _joined(mg.split(a, sections, axis=axis), mg.concat),
            lambda t, a: _joined(t.tensor_split(a, sections, dim=axis), t.cat))


@case("chunk")
def _chunk(draw):
    s = shape(draw, min_dims=1, max_side=5)
    axis = draw(st.integers(-len(s), len(s) - 1))
    chunks = draw(st.integers(1, 6))
    return ([normal(draw, s)], lambda a: _joined(a.chunk(chunks, axis), mg.concat),
            lambda t, a: _joined(a.chunk(chunks, dim=axis), t.cat))


@case("unbind")
def _unbind(draw):
    s = shape(draw, min_dims=1)
    axis = draw(st.integers(-len(s), len(s) - 1))
    return ([normal(draw, s)], lambda a: _joined(mg.unbind(a, axis), mg.concat),
            lambda t, a: _joined(t.unbind(a, dim=axis), t.cat))


@case("split_some_outputs_unused")
def _split_unused(draw):
    """Only some parts reach the output: the others send no gradient (zeros in their place)."""
    s = shape(draw, min_dims=1)
    n = s[0]
    keep = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=2, unique=True))
    return ([normal(draw, s)], lambda a: _joined([mg.unbind(a)[i] for i in keep], mg.concat),
            lambda t, a: _joined([t.unbind(a)[i] for i in keep], t.cat))


# --- indexing -------------------------------------------------------------------------------

def _torch_index(torch: Any, index: Any) -> Any:
    def convert(p: Any) -> Any:
        return torch.from_numpy(p) if isinstance(p, np.ndarray) else p
    return tuple(convert(p) for p in index) if isinstance(index, tuple) else convert(index)


def _no_negative_steps(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(not isinstance(p, slice) or p.step is None or p.step > 0 for p in parts)


@case("getitem_basic")
def _getitem_basic(draw):
    """ints, slices, None and Ellipsis (PyTorch has no negative steps, so none here; see below)."""
    s = shape(draw, min_dims=1)
    index = draw(hnp.basic_indices(s, allow_newaxis=True, allow_ellipsis=True).filter(_no_negative_steps))
    return [normal(draw, s)], lambda a: a[index], lambda t, a: a[index]


@case("getitem_negative_step")
def _getitem_negative_step(draw):
    s = shape(draw, min_dims=1)
    index = draw(hnp.basic_indices(s, allow_newaxis=True, allow_ellipsis=True))
    return [normal(draw, s)], lambda a: a[index], None   # gradcheck only


@case("getitem_repeated_int_array")
def _getitem_ints(draw):
    """An integer array with repeats along axis 0 (and a mixed basic/advanced form): gradients accumulate."""
    s = shape(draw, min_dims=1)
    n = s[0]
    idx = np.array(draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=6)))
    mixed = draw(st.booleans()) and len(s) > 1
    index = (slice(None), idx % s[1]) if mixed else idx
    return [normal(draw, s)], lambda a: a[index], lambda t, a: a[_torch_index(t, index)]


@case("getitem_two_int_arrays")
def _getitem_pairs(draw):
    s = shape(draw, min_dims=2)
    count = draw(st.integers(1, 5))
    rows = np.array([draw(st.integers(0, s[0] - 1)) for _ in range(count)])
    cols = np.array([draw(st.integers(0, s[1] - 1)) for _ in range(count)])
    return [normal(draw, s)], lambda a: a[rows, cols], lambda t, a: a[_torch_index(t, (rows, cols))]


@case("getitem_bool_mask")
def _getitem_mask(draw):
    s = shape(draw, min_dims=1)
    full = draw(st.booleans())
    mask = normal(draw, s if full else s[:1]) > 0
    return [normal(draw, s)], lambda a: a[mask], lambda t, a: a[t.from_numpy(mask)]


@case("getitem_tensor_index")
def _getitem_tensor(draw):
    """A minigrad integer Tensor (with repeats) as the index."""
    s = shape(draw, min_dims=1)
    idx = np.array(draw(st.lists(st.integers(0, s[0] - 1), min_size=1, max_size=5)))
    return [normal(draw, s)], lambda a: a[mg.tensor(idx)], lambda t, a: a[t.from_numpy(idx)]


# --- the tests ------------------------------------------------------------------------------

def _inputs(arrays: list) -> list:
    """float arrays become float64 leaves that require grad; bool/int arrays are plain tensors."""
    return [mg.tensor(a, dtype=mg.float64, requires_grad=True) if a.dtype.kind == "f" else mg.tensor(a)
            for a in arrays]


@pytest.mark.parametrize("name", sorted(CASES))
@SETTINGS
@given(data=st.data())
def test_gradcheck(name: str, data: Any) -> None:
    arrays, fn, _ = CASES[name](data.draw)
    assert mg.gradcheck(fn, _inputs(arrays))


NO_TORCH_PEER = {"getitem_negative_step"}   # PyTorch slicing has no negative steps


@pytest.mark.parametrize("name", sorted(set(CASES) - NO_TORCH_PEER))
@SETTINGS
@given(data=st.data())
def test_matches_torch(name: str, data: Any, torch: Any) -> None:
    arrays, fn, torch_fn = CASES[name](data.draw)
    check_against_torch(torch, fn, functools.partial(torch_fn, torch), _inputs(arrays))


# --- special values: ties, kinks, huge logits ------------------------------------------------

def _grads_vs_torch(torch: Any, fn: Callable, torch_fn: Callable, *arrays: np.ndarray) -> None:
    check_against_torch(torch, fn, torch_fn, _inputs(list(arrays)))


def test_max_min_ties_share_gradient_like_amax(torch: Any) -> None:
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    for axis in (None, 0, 1, (0, 1)):
        dims = torch_dims(axis, 2)
        _grads_vs_torch(torch, lambda a, ax=axis: mg.max(a, axis=ax), lambda a, d=dims: torch.amax(a, dim=d), x)
        _grads_vs_torch(torch, lambda a, ax=axis: mg.min(a, axis=ax), lambda a, d=dims: torch.amin(a, dim=d), x)
    a = mg.tensor(x, requires_grad=True)
    a.max().backward()
    assert a.grad.numpy().tolist() == [[0, 0.5, 0.5], [0, 0, 0]]


def test_maximum_minimum_ties_split_gradient_like_torch(torch: Any) -> None:
    a = np.array([1.0, 2.0, 3.0, -1.0])
    b = np.array([1.0, 0.0, 3.0, 5.0])
    _grads_vs_torch(torch, mg.maximum, torch.maximum, a, b)
    _grads_vs_torch(torch, mg.minimum, torch.minimum, a, b)
    x, y = _inputs([a, b])
    mg.maximum(x, y).sum().backward()
    assert x.grad.numpy().tolist() == [0.5, 1.0, 0.5, 0.0]
    assert y.grad.numpy().tolist() == [0.5, 0.0, 0.5, 1.0]


def test_kinks_match_torch(torch: Any) -> None:
    """At 0, relu and abs have gradient 0; clip passes the gradient at its bounds (as torch.clamp)."""
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.0])
    _grads_vs_torch(torch, mg.relu, torch.relu, x)
    _grads_vs_torch(torch, mg.abs, torch.abs, x)
    _grads_vs_torch(torch, lambda a: mg.clip(a, 0.0, 1.0), lambda a: torch.clamp(a, 0.0, 1.0), x)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_pow_at_zero_and_negative_bases_matches_torch(torch: Any) -> None:
    """0 ** 0, 0 ** b, a ** 0 and (-1.5) ** 0.5: the same values, infs, NaNs and zero gradients as PyTorch."""
    base = np.array([0.0, 0.0, 0.0, 2.0, -1.5, 0.0, -2.0])
    exponent = np.array([0.0, 2.0, 0.5, 0.0, 2.0, -1.0, 3.0])
    _grads_vs_torch(torch, lambda a, b: a ** b, lambda a, b: a ** b, base, exponent)
    for e in (0, 0.5, 2, 3, -1):
        _grads_vs_torch(torch, lambda a, e=e: a ** e, lambda a, e=e: a ** e, base)
    for b in (0.0, 2.0):
        _grads_vs_torch(torch, lambda x, b=b: b ** x, lambda x, b=b: b ** x, exponent)


HUGE_LOGITS = np.array([[1000.0, 999.0, -1000.0], [-1000.0, -1001.0, -999.0], [1e3, 1e3, 1e3]])
SOFTMAX_FAMILY = {
    "softmax": (lambda a: mg.softmax(a), lambda a: a.softmax(-1)),
    "log_softmax": (lambda a: mg.log_softmax(a), lambda a: a.log_softmax(-1)),
    "logsumexp": (lambda a: mg.logsumexp(a, axis=-1), lambda a: a.logsumexp(-1)),
}


@pytest.mark.parametrize("name", sorted(SOFTMAX_FAMILY))
@pytest.mark.parametrize("dtype", [mg.float32, mg.float64])
def test_softmax_family_finite_for_huge_logits(name: str, dtype: np.dtype) -> None:
    x = mg.tensor(HUGE_LOGITS, dtype=dtype, requires_grad=True)
    y = SOFTMAX_FAMILY[name][0](x)
    y.backward(mg.tensor(np.linspace(-1, 1, y.numel()).reshape(y.shape), dtype=dtype))
    assert np.isfinite(y.numpy()).all(), f"{name} {dtype}: {y}"
    assert np.isfinite(x.grad.numpy()).all(), f"{name} {dtype} grad: {x.grad}"


@pytest.mark.parametrize("name", sorted(SOFTMAX_FAMILY))
def test_softmax_family_for_huge_logits_matches_torch(name: str, torch: Any) -> None:
    _grads_vs_torch(torch, *SOFTMAX_FAMILY[name], HUGE_LOGITS)


def test_float32_matches_torch_to_float32_precision(torch: Any) -> None:
    """The same graph in float32: values and gradients agree with PyTorch to 1e-5 relative."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((4, 5)).astype(np.float32), rng.standard_normal((5, 3)).astype(np.float32)
    a, b = mg.tensor(x, requires_grad=True), mg.tensor(w, requires_grad=True)
    ta, tb = to_torch(torch, a), to_torch(torch, b)
    y = mg.log_softmax((a @ b).tanh() * 2.5, axis=1).sum()
    ty = torch.log_softmax((ta @ tb).tanh() * 2.5, dim=1).sum()
    y.backward()
    ty.backward()
    assert y.dtype == mg.float32 and a.grad.dtype == mg.float32
    assert_close(y, ty, rtol=1e-5, atol=1e-6, what="value")
    assert_close(a.grad, ta.grad, rtol=1e-5, atol=1e-6, what="grad a")
    assert_close(b.grad, tb.grad, rtol=1e-5, atol=1e-6, what="grad b")


def test_astype_is_differentiable_and_casts_gradient_back() -> None:
    x = mg.tensor([1.5, -2.0], requires_grad=True)
    y = x.astype(mg.float64)
    assert y.dtype == mg.float64 and y.requires_grad
    (y * mg.tensor([2.0, 3.0], dtype=mg.float64)).sum().backward()
    assert x.grad.dtype == mg.float32
    assert x.grad.numpy().tolist() == [2.0, 3.0]
    # a cast to an integer dtype leaves the graph (no gradient through integers)
    assert not x.astype(mg.int64).requires_grad


def test_to_device_cpu_is_identity() -> None:
    x = mg.randn(3, requires_grad=True)
    assert x.to("cpu") is x
    assert mg.ops.to_device(x, "cpu").device == "cpu"


def test_where_with_python_numbers_and_no_grad_to_condition() -> None:
    condition = mg.tensor([True, False, True])
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = mg.where(condition, x, 0.0)
    assert y.numpy().tolist() == [1.0, 0.0, 3.0]
    y.sum().backward()
    assert x.grad.numpy().tolist() == [1.0, 0.0, 1.0]
    assert mg.where(condition, 1.0, -1.0).numpy().tolist() == [1.0, -1.0, 1.0]
    x.grad = None
    x.where(condition, 5.0).sum().backward()             # PyTorch's method spelling: where(condition, x, 5)
    assert x.grad.numpy().tolist() == [1.0, 0.0, 1.0]


def test_getitem_out_of_range_names_index_and_shape() -> None:
    x = mg.randn(2, 3)
    with pytest.raises(IndexError, match=r"getitem.*index 5.*size 2.*\(2, 3\)"):
        x[5]
    with pytest.raises(IndexError, match=r"index 7.*axis 1.*size 3"):
        x[0, 7]
    with pytest.raises(IndexError, match=r"index -4"):
        x[mg.tensor([0, -4])]


def test_repeated_indices_accumulate_exact_values() -> None:
    x = mg.tensor([10.0, 20.0, 30.0], requires_grad=True)
    y = x[[0, 0, 2, 0]]
    assert y.numpy().tolist() == [10.0, 10.0, 30.0, 10.0]
    (y * mg.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert x.grad.numpy().tolist() == [7.0, 0.0, 3.0]


def test_tensors_inside_an_index_and_bool_tensor_masks() -> None:
    data = np.arange(12.0).reshape(3, 4)
    x = mg.tensor(data, requires_grad=True)
    y = x[1:, mg.tensor([3, 3, 0])]
    np.testing.assert_array_equal(y.numpy(), data[1:, [3, 3, 0]])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0, 0, 0], [1, 0, 0, 2], [1, 0, 0, 2]])
    x.grad = None
    z = x[x > 5.5]
    np.testing.assert_array_equal(z.numpy(), data[data > 5.5])
    (z * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2.0 * (data > 5.5))
    assert x[mg.tensor(2)].shape == (4,) and x[None, ..., 1].shape == (1, 3)


def test_split_is_numpy_split() -> None:
    data = np.arange(24.0).reshape(4, 6)
    x = mg.tensor(data)
    for spec, axis in [(3, 1), ([1, 4], 1), ([-1], 0), ([5, 2], 1), ([0, 0, 9], 1), (np.int64(2), 0), ((1,), 0),
                       (np.array([1, 4]), 1), (np.array(3), 1)]:
        got = [p.numpy() for p in mg.split(x, spec, axis=axis)]
        want = np.split(data, spec, axis=axis)
        assert [g.shape for g in got] == [w.shape for w in want], spec
        assert all(np.array_equal(g, w) for g, w in zip(got, want)), spec
    with pytest.raises(ValueError, match=r"split.*size 6.*4 equal parts"):
        mg.split(x, 4, axis=1)


def test_chunk_is_torch_chunk(torch: Any) -> None:
    for size in range(0, 8):
        for chunks in range(1, 6):
            got = [p.shape for p in mg.chunk(mg.zeros(size, 2), chunks)]
            want = [tuple(p.shape) for p in torch.chunk(torch.zeros(size, 2), chunks)]
            assert got == want, (size, chunks)


def test_shape_errors_name_the_op_and_both_shapes() -> None:
    a, b = mg.randn(2, 3), mg.randn(4, 5)
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(4, 5\)"):
        a @ b
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(2,\)"):
        a @ mg.randn(2)
    for op, name in [(mg.add, "add"), (mg.sub, "sub"), (mg.mul, "mul"), (mg.div, "div"), (mg.maximum, "maximum")]:
        with pytest.raises(ValueError, match=rf"{name}.*\(2, 3\).*\(4, 5\)"):
            op(a, b)
    with pytest.raises(ValueError, match=r"broadcast_to.*\(2, 3\)"):
        mg.broadcast_to(a, (4, 3))
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3\)"):
        a.reshape(4)
    with pytest.raises(ValueError, match=r"concat.*\(2, 3\).*\(4, 5\)"):
        mg.concat([a, b])
