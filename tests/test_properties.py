"""Property tests: Hypothesis draws shapes, broadcasting patterns, indices and whole random graphs of
ops; the engine must agree with NumPy on the values and with central finite differences
(``mg.gradcheck``, float64) on the gradients.

Examples are derandomized so CI is reproducible; MINIGRAD_PROPERTY_EXAMPLES=200 searches harder.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import minigrad as mg

EXAMPLES = int(os.environ.get("MINIGRAD_PROPERTY_EXAMPLES", "20"))
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


def leaf(array: np.ndarray) -> mg.Tensor:
    return mg.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


def values(seed: int, shape: tuple) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


SHAPES = st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple)
SEEDS = st.integers(0, 2**16)


@st.composite
def broadcast_pair(draw: Any) -> tuple:
    """Two shapes that broadcast together: some axes dropped from the front, some sizes set to 1."""
    full = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple))

    def shrink(shape: tuple) -> tuple:
        drop = draw(st.integers(0, len(shape)))
        return tuple(1 if draw(st.booleans()) else s for s in shape[drop:])

    return shrink(full), shrink(full)


# --- broadcasting -------------------------------------------------------------------

BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / (b * b + 1.0), lambda a, b: a / (b * b + 1.0)),
    "pow": (lambda a, b: (a * a + 1.0) ** mg.tanh(b), lambda a, b: (a * a + 1.0) ** np.tanh(b)),
    "maximum": (mg.maximum, np.maximum),
    "minimum": (mg.minimum, np.minimum),
    "where": (lambda a, b: mg.where(a > 0, a, b), lambda a, b: np.where(a > 0, a, b)),
}


@pytest.mark.parametrize("op", sorted(BINARY))
@PROPERTY
@given(shapes=broadcast_pair(), seed=SEEDS)
def test_binary_ops_broadcast_and_sum_gradients_back(op: str, shapes: tuple, seed: int) -> None:
    fn, reference = BINARY[op]
    a, b = leaf(values(seed, shapes[0])), leaf(values(seed + 1, shapes[1]))
    out = fn(a, b)
    np.testing.assert_allclose(out.numpy(), reference(a.numpy(), b.numpy()), rtol=1e-12)
    assert out.shape == np.broadcast_shapes(a.shape, b.shape)
    assert mg.gradcheck(fn, [a, b])
    out.sum().backward()
    assert a.grad.shape == a.shape and b.grad.shape == b.shape


@PROPERTY
@given(shape=SHAPES, target=SHAPES, seed=SEEDS)
def test_broadcast_to_sums_back(shape: tuple, target: tuple, seed: int) -> None:
    big = tuple(target) + tuple(shape)
    x = leaf(values(seed, shape))
    np.testing.assert_array_equal(mg.broadcast_to(x, big).numpy(), np.broadcast_to(x.numpy(), big))
    assert mg.gradcheck(lambda t: mg.broadcast_to(t, big), [x])


# --- indexing -----------------------------------------------------------------------

@st.composite
def index_for(draw: Any, shape: tuple) -> Any:
    """A valid index for ``shape``: ints, slices (any step), None, Ellipsis, integer arrays with
    repeats, or a boolean mask."""
    kind = draw(st.sampled_from(["basic", "int_array", "mask"]))
    if kind == "mask" and shape:
        return draw(st.lists(st.booleans(), min_size=shape[0], max_size=shape[0]).map(np.array))
    if kind == "int_array" and shape:
        return draw(st.lists(st.integers(-shape[0], shape[0] - 1), min_size=1, max_size=5).map(np.array))
    parts: list = []
    for size in shape:
        parts.append(draw(st.one_of(
            st.integers(-size, size - 1),
            st.builds(slice, st.none() | st.integers(-4, 4), st.none() | st.integers(-4, 4),
                      st.sampled_from([None, 1, 2, -1, -2])),
        )))
    if draw(st.booleans()):
        parts.insert(draw(st.integers(0, len(parts))), None)
    if parts and draw(st.booleans()):
        parts = parts[:draw(st.integers(0, len(parts) - 1))] + [Ellipsis]
    return tuple(parts)


@PROPERTY
@given(data=st.data(), shape=SHAPES, seed=SEEDS)
def test_indexing_values_and_gradients(data: Any, shape: tuple, seed: int) -> None:
    index = data.draw(index_for(shape))
    x = leaf(values(seed, shape))
    expected = x.numpy()[index]
    out = x[index]
    np.testing.assert_array_equal(out.numpy(), expected)
    assume(out.numel() > 0)
    assert mg.gradcheck(lambda t: t[index], [x])
    # repeated indices accumulate: the gradient of sum(w * x[index]) is w scattered with np.add.at
    w = values(seed + 7, out.shape)
    (out * mg.tensor(w)).sum().backward()
    scattered = np.zeros(shape)
    np.add.at(scattered, index, w)
    np.testing.assert_allclose(x.grad.numpy(), scattered, rtol=1e-12, atol=1e-12)


# --- reductions -----------------------------------------------------------------------

REDUCTIONS = {
    "sum": (mg.sum, np.sum), "mean": (mg.mean, np.mean), "max": (mg.max, np.max), "min": (mg.min, np.min),
    "var": (mg.var, np.var),
    "logsumexp": (mg.logsumexp, lambda a, axis, keepdims: np.log(np.exp(a).sum(axis=axis, keepdims=keepdims))),
}


@pytest.mark.parametrize("op", sorted(REDUCTIONS))
@PROPERTY
@given(data=st.data(), shape=SHAPES.filter(bool), seed=SEEDS, keepdims=st.booleans())
def test_reductions_over_random_axes(op: str, data: Any, shape: tuple, seed: int, keepdims: bool) -> None:
    fn, reference = REDUCTIONS[op]
    axes = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1),
                               st.sets(st.integers(0, len(shape) - 1), min_size=1).map(tuple)))
    x = leaf(values(seed, shape))
    out = fn(x, axis=axes, keepdims=keepdims)
    np.testing.assert_allclose(out.numpy(), reference(x.numpy(), axis=axes, keepdims=keepdims), rtol=1e-12)
    assert mg.gradcheck(lambda t: fn(t, axis=axes, keepdims=keepdims), [x])


# --- random graphs ----------------------------------------------------------------------

class Program:
    """A random straight-line program over a pool of tensors, replayable on fresh leaves.

    Each step is (name, function on Tensors, the same function on NumPy arrays, the pool slots it
    reads); the result is appended to the pool. Unary ops are composed so that values stay finite
    (exp of tanh, log of x² + 1 ...): the point is the gradient plumbing, not overflow.
    """

    def __init__(self) -> None:
        self.steps: list = []

    def run(self, inputs: list, engine: bool) -> list:
        pool = list(inputs)
        for _, mg_fn, np_fn, slots in self.steps:
            args = [pool[i] for i in slots]
            pool.append(mg_fn(*args) if engine else np_fn(*args))
        return pool

    def near_a_kink(self, inputs: list) -> bool:
        """True when a non-smooth op (relu, abs, where, clip, max ...) sees an input within 1e-4 of its
        kink: finite differences with eps=1e-6 are meaningless there, so such examples are skipped."""
        pool = list(inputs)
        for name, _, np_fn, slots in self.steps:
            args = [pool[i] for i in slots]
            if name in KINKS and np.any(KINKS[name](*args) < 1e-4):
                return True
            pool.append(np_fn(*args))
        return False

    def __repr__(self) -> str:
        return "; ".join(f"{name}{slots}" for name, _, _, slots in self.steps)


UNARY = {
    "tanh": (mg.tanh, np.tanh),
    "sigmoid": (mg.sigmoid, lambda a: 1 / (1 + np.exp(-a))),
    "exp_tanh": (lambda t: mg.exp(mg.tanh(t)), lambda a: np.exp(np.tanh(a))),
    "log1p_sq": (lambda t: mg.log(t * t + 1.0), lambda a: np.log(a * a + 1.0)),
    "sqrt1p_sq": (lambda t: mg.sqrt(t * t + 1.0), lambda a: np.sqrt(a * a + 1.0)),
    "relu": (mg.relu, lambda a: np.maximum(a, 0)),
    "abs": (mg.abs, np.abs),
    "neg": (lambda t: -t, np.negative),
    "square": (lambda t: t ** 2, lambda a: a ** 2),
    "scale": (lambda t: 0.5 * t - 1.0, lambda a: 0.5 * a - 1.0),
    "clip": (lambda t: mg.clip(t, -0.7, 0.9), lambda a: np.clip(a, -0.7, 0.9)),
}


def _top_two_gap(a: np.ndarray) -> np.ndarray:
    """Distance between the largest and the next distinct value (exact ties are fine: they share)."""
    flat = np.sort(np.unique(np.round(a, 14)))
    return np.array([1.0]) if flat.size < 2 else np.diff(flat)


KINKS = {
    "relu": lambda a: np.abs(a), "abs": lambda a: np.abs(a), "where": lambda a, b: np.abs(a),
    "clip": lambda a: np.minimum(np.abs(a + 0.7), np.abs(a - 0.9)),
    "maximum": lambda a, b: np.where(a == b, 1.0, np.abs(a - b)),
    "minimum": lambda a, b: np.where(a == b, 1.0, np.abs(a - b)),
    "max": _top_two_gap,
}


def _axis_ops(ndim: int, draw: Any) -> list:
    """Ops whose parameters depend on the rank of their input."""
    ops = []
    if ndim >= 1:
        axis = draw(st.integers(-ndim, ndim - 1))
        ops += [
            ("softmax", lambda t: mg.softmax(t, axis=axis), lambda a: np.exp(a - a.max(axis, keepdims=True))
             / np.exp(a - a.max(axis, keepdims=True)).sum(axis, keepdims=True)),
            ("log_softmax", lambda t: mg.log_softmax(t, axis=axis),
             lambda a: (a - a.max(axis, keepdims=True))
             - np.log(np.exp(a - a.max(axis, keepdims=True)).sum(axis, keepdims=True))),
            ("sum_keep", lambda t: t.sum(axis=axis, keepdims=True), lambda a: a.sum(axis, keepdims=True)),
            ("max", lambda t: t.max(axis=axis), lambda a: a.max(axis)),
            ("mean", lambda t: t.mean(axis=axis), lambda a: a.mean(axis)),
            ("flip", lambda t: t[(slice(None),) * (axis % ndim) + (slice(None, None, -1),)],
             lambda a: a[(slice(None),) * (axis % ndim) + (slice(None, None, -1),)]),
            ("unbind_stack", lambda t: mg.stack(mg.unbind(t, axis)[::-1], axis),
             lambda a: np.flip(a, axis)),
            # chunk(2) cuts after ceil(n/2) rows; swapping the two parts is a roll by that much
            ("chunk_concat", lambda t: mg.concat(t.chunk(2, axis)[::-1], axis),
             lambda a: np.roll(a, -a.shape[axis] // 2, axis)),
            ("repeat_index", lambda t: t[np.array([0, 0, -1])], lambda a: a[np.array([0, 0, -1])]),
            ("expand_squeeze", lambda t: mg.squeeze(mg.expand_dims(t, axis), axis % (ndim + 1)),
             lambda a: a),
        ]
        perm = tuple(draw(st.permutations(range(ndim))))
        ops.append(("transpose", lambda t: t.transpose(perm), lambda a: a.transpose(perm)))
        ops.append(("reshape_flat", lambda t: t.reshape(-1), lambda a: a.reshape(-1)))
    if ndim >= 2:
        ops.append(("swapaxes", lambda t: mg.swapaxes(t, 0, -1), lambda a: np.swapaxes(a, 0, -1)))
    ops.append(("expand", lambda t: mg.expand_dims(t, 0), lambda a: a[None]))
    return ops


@st.composite
def programs(draw: Any) -> tuple:
    """(leaf arrays, Program) with 1-3 leaves of broadcastable shapes and 2-7 steps."""
    base = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple))
    n_leaves = draw(st.integers(1, 3))
    arrays = []
    for i in range(n_leaves):
        drop = draw(st.integers(0, len(base) - 1))
        shape = tuple(1 if draw(st.booleans()) else s for s in base[drop:])
        arrays.append(values(draw(SEEDS) + i, shape))
    program = Program()
    shapes = [a.shape for a in arrays]
    for _ in range(draw(st.integers(2, 7))):
        i = draw(st.integers(0, len(shapes) - 1))
        ndim = len(shapes[i])
        kind = draw(st.sampled_from(["unary", "axis", "binary", "binary", "matmul"]))
        if kind == "unary":
            name = draw(st.sampled_from(sorted(UNARY)))
            step = (name, *UNARY[name], (i,))
        elif kind == "axis":
            name, mg_fn, np_fn = draw(st.sampled_from(_axis_ops(ndim, draw)))
            step = (name, mg_fn, np_fn, (i,))
        else:
            partners = [j for j, s in enumerate(shapes) if _broadcastable(s, shapes[i])]
            j = draw(st.sampled_from(partners))
            if kind == "matmul" and ndim >= 1 and len(shapes[j]) >= 1 and shapes[i][-1] == shapes[j][0] \
                    and len(shapes[j]) <= 2:
                step = ("matmul", lambda a, b: a @ b, np.matmul, (i, j))
            else:
                name = draw(st.sampled_from(sorted(BINARY)))
                step = (name, *BINARY[name], (i, j))
        try:
            out = step[2](*[np.zeros(shapes[k]) + 0.5 for k in step[3]])
        except (ValueError, IndexError):
            continue        # a step that does not fit these shapes (e.g. matmul mismatch): draw another
        program.steps.append(step)
        shapes.append(np.shape(out))
    assume(program.steps)
    return arrays, program


def _broadcastable(a: tuple, b: tuple) -> bool:
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


@settings(PROPERTY, max_examples=EXAMPLES * 3)
@given(case=programs())
def test_random_graphs_match_numpy_and_finite_differences(case: tuple) -> None:
    arrays, program = case
    assume(not program.near_a_kink(arrays))
    leaves = [leaf(a) for a in arrays]
    with np.errstate(all="ignore"):
        expected = program.run(arrays, engine=False)
    assume(all(np.all(np.abs(e) < 1e6) for e in expected))   # finite differences need moderate values
    got = program.run(leaves, engine=True)
    for k, (g, e) in enumerate(zip(got, expected)):
        assert g.shape == np.shape(e), f"step {k} of {program}: shape {g.shape} vs NumPy {np.shape(e)}"
        np.testing.assert_allclose(g.numpy(), e, rtol=1e-10, atol=1e-12, err_msg=f"value {k} of {program}")

    def fn(*xs: mg.Tensor) -> list:
        # every intermediate is an output: a wrong gradient anywhere in the graph shows up
        return program.run(list(xs), engine=True)[len(xs):]

    assert mg.gradcheck(fn, leaves, atol=1e-6, rtol=1e-4)


# --- structure ----------------------------------------------------------------------------

@PROPERTY
@given(shape=SHAPES.filter(bool), seed=SEEDS, data=st.data())
def test_split_then_concat_is_identity_with_identity_gradient(shape: tuple, seed: int, data: Any) -> None:
    axis = data.draw(st.integers(0, len(shape) - 1))
    points = sorted(data.draw(st.lists(st.integers(0, shape[axis]), max_size=3)))
    x = leaf(values(seed, shape))
    parts = mg.split(x, points, axis=axis)
    assert [p.shape for p in parts] == [a.shape for a in np.split(x.numpy(), points, axis=axis)]
    back = mg.concat(parts, axis=axis)
    np.testing.assert_array_equal(back.numpy(), x.numpy())
    w = values(seed + 3, shape)
    (back * mg.tensor(w)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), w)


@PROPERTY
@given(shape=SHAPES, seed=SEEDS, steps=st.integers(1, 40))
def test_shared_subexpression_gradients_accumulate(shape: tuple, seed: int, steps: int) -> None:
    """x used by many consumers (a deep chain plus skip connections): d/dx agrees with gradcheck."""
    x = leaf(values(seed, shape) * 0.3)

    def chain(t: mg.Tensor) -> mg.Tensor:
        h = t
        for k in range(steps):
            h = mg.tanh(h * 0.9 + t * (0.1 if k % 2 else -0.1))
        return h

    assert mg.gradcheck(chain, [x])

