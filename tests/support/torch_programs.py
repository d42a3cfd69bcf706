"""Random op programs run in minigrad and in PyTorch side by side (for tests/test_fuzz_torch.py).

A program starts from one leaf; each op takes the current value (and maybe an earlier value or a
fresh leaf that broadcasts with it) and gives the next. ``run_program`` runs one program in both
frameworks and raises an AssertionError naming the program at the first disagreement.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from helpers import assert_ieee_close

import minigrad as mg
from tests.support import torch_program_ops
from tests.support.torch_references import reference_ops

INF, NAN = float("inf"), float("nan")
SPECIALS = np.array([0.0, -0.0, INF, -INF, NAN, 1.0, -1.0, 2.0])


# --- programs ----------------------------------------------------------------------

class Program:
    """One program run in both frameworks; ``values`` holds (minigrad, torch) pairs."""

    def __init__(self, torch: Any, seed: int) -> None:
        self.torch = torch
        self.rng = np.random.default_rng(seed)
        self.refs = reference_ops(torch)
        self.leaves: list = []
        self.values: list = []
        self.text: list = []

    def data(self, shape: tuple) -> np.ndarray:
        """Values of one of four kinds: normal, small integers (ties, zeros), specials mixed in, positive."""
        rng = self.rng
        kind = rng.integers(8)
        if kind < 3:
            return rng.standard_normal(shape) * 1.5
        if kind < 5:
            return rng.integers(-2, 3, shape).astype(np.float64)
        if kind < 7:
            x = rng.standard_normal(shape)
            special = rng.random(shape) < 0.3
            return np.where(special, rng.choice(SPECIALS, shape), x)
        return rng.uniform(0.1, 3.0, shape)

    def leaf(self, shape: tuple, array: np.ndarray | None = None) -> tuple:
        """A fresh leaf of ``shape`` in both frameworks: ``array``, else values drawn by :meth:`data`."""
        array = self.data(shape) if array is None else array
        pair = (mg.tensor(array, requires_grad=True), self.torch.tensor(array, requires_grad=True))
        self.text.append(f"  leaf {len(self.leaves)} {shape}: {array.tolist()}")
        self.leaves.append(pair)
        return pair

    def partner_shape(self, shape: tuple) -> tuple:
        """A shape that broadcasts with ``shape``: the same, fewer leading dims, 1s, or one more dim."""
        rng = self.rng
        pick = rng.integers(6)
        if pick < 2:
            return shape
        if pick == 2:
            return shape[rng.integers(len(shape) + 1):]
        if pick == 3:
            return tuple(1 if rng.random() < 0.5 else s for s in shape)
        if pick == 4:
            return (int(rng.integers(1, 3)),) + shape
        return ()

    def partner(self, shape: tuple) -> tuple:
        """An earlier value that broadcasts with ``shape`` (a shared node), else a fresh leaf."""
        if self.values and self.rng.random() < 0.3:
            earlier = self.values[self.rng.integers(len(self.values))]
            try:
                np.broadcast_shapes(earlier[0].shape, shape)
                return earlier
            except ValueError:
                pass
        return self.leaf(self.partner_shape(shape))

    def axes(self, ndim: int) -> Any:
        """None, one axis (maybe negative) or a tuple of two."""
        pick = self.rng.integers(4)
        if ndim == 0 or pick == 0:
            return None
        if pick == 3 and ndim >= 2:
            return tuple(int(a) for a in self.rng.choice(ndim, 2, replace=False))
        return int(self.rng.integers(-ndim, ndim))

    def choose(self, options: list) -> Any:
        return options[self.rng.integers(len(options))]


def _torch_dims(axes: Any, ndim: int) -> tuple:
    if axes is None:
        return tuple(range(ndim))
    return (axes,) if isinstance(axes, int) else axes


# Each op: (program, (m, t)) -> two thunks that compute the minigrad and the PyTorch result, or None
# where the op does not apply to this input. Its random choices and new leaves are made before that,
# once for both sides, and each side runs alone so that one raising does not hide the other.

def unary(mg_fn: Callable, torch_name: str) -> Callable:
    def op(p: Program, x: tuple) -> tuple:
        return lambda: mg_fn(x[0]), lambda: getattr(p.torch, torch_name)(x[1])
    return op


def op_abs(p: Program, x: tuple) -> tuple:
    return lambda: mg.abs(x[0]), lambda: p.torch.abs(x[1])


def op_pow_scalar(p: Program, x: tuple) -> tuple:
    e = p.choose([2, 3, -1, -2, 0, 1, 0.5, -0.5, 2.5, 1 / 3])
    p.text.append(f"  exponent {e}")
    return lambda: x[0] ** e, lambda: p.torch.pow(x[1], e)


def op_rpow(p: Program, x: tuple) -> tuple:
    base = p.choose([2.0, 0.5, 0.0, -1.0])
    p.text.append(f"  base {base}")
    return lambda: base ** x[0], lambda: p.torch.pow(base, x[1])


def op_scalar_arith(p: Program, x: tuple) -> tuple:
    c = p.choose([0.0, 1.0, -2.0, 0.5, INF, -0.0])
    kind = p.choose(["+", "-", "r-", "*", "/", "r/"])
    p.text.append(f"  {kind} {c}")
    fns = {"+": lambda v: v + c, "-": lambda v: v - c, "r-": lambda v: c - v,
           "*": lambda v: v * c, "/": lambda v: v / c, "r/": lambda v: c / v}
    return lambda: fns[kind](x[0]), lambda: fns[kind](x[1])


def op_clip_scalar(p: Program, x: tuple) -> tuple:
    low, high = p.choose([(-1.0, 1.0), (0.0, None), (None, 0.5), (1.0, -1.0), (0.0, 0.0), (-INF, 2.0)])
    p.text.append(f"  bounds {low}, {high}")
    return lambda: mg.clip(x[0], low, high), lambda: p.torch.clamp(x[1], min=low, max=high)


def op_clip_tensor(p: Program, x: tuple) -> tuple:
    """Tensor bounds (fresh leaves or earlier values), a scalar or no bound on one side."""
    bounds_m, bounds_t = [], []
    kinds = p.choose([("t", "t"), ("t", None), (None, "t"), ("t", "s"), ("s", "t")])
    for kind in kinds:
        if kind == "t":
            b = p.partner(x[0].shape)
            bounds_m.append(b[0])
            bounds_t.append(b[1])
        elif kind == "s":
            c = p.choose([-0.5, 0.0, 1.0])
            bounds_m.append(c)
            bounds_t.append(p.torch.tensor(c, dtype=p.torch.float64))   # torch.clamp takes no mix
        else:
            bounds_m.append(None)
            bounds_t.append(None)
    p.text.append(f"  bound kinds {kinds}")
    # torch.clamp's backward crashes when x broadcasts to a larger shape with one bound than with both
    # (it ANDs the two masks in place), so the reference clamps x expanded to the result's shape
    try:
        t = x[1].expand(np.broadcast_shapes(*(tuple(b.shape) for b in [x[1]] + bounds_t if b is not None)))
    except ValueError:   # the bounds do not broadcast together: both sides must raise
        t = x[1]
    return lambda: mg.clip(x[0], *bounds_m), lambda: p.torch.clamp(t, min=bounds_t[0], max=bounds_t[1])


def binary(kind: str) -> Callable:
    def op(p: Program, x: tuple) -> tuple:
        other = p.partner(x[0].shape)
        swap = kind in ("-", "/", "**") and p.rng.random() < 0.3
        a, b = (other, x) if swap else (x, other)
        p.text.append(f"  other {tuple(other[0].shape)}{' (swapped)' if swap else ''}")
        fns = {"+": lambda u, v: u + v, "-": lambda u, v: u - v, "*": lambda u, v: u * v,
               "/": lambda u, v: u / v, "**": lambda u, v: u ** v}
        if kind in fns:
            return lambda: fns[kind](a[0], b[0]), lambda: fns[kind](a[1], b[1])
        if kind == "where":
            return lambda: mg.where(a[0] > b[0], a[0], b[0]), lambda: p.torch.where(a[1] > b[1], a[1], b[1])
        return lambda: getattr(mg, kind)(a[0], b[0]), lambda: getattr(p.torch, kind)(a[1], b[1])
    return op


def op_matmul(p: Program, x: tuple) -> tuple | None:
    shape = x[0].shape
    if not shape:
        return None
    n = int(p.rng.integers(0, 3))
    form = p.rng.integers(4)
    if form == 0:
        w = p.leaf((shape[-1], n))                                    # x @ W
    elif form == 1:
        w = p.leaf((shape[-1],))                                       # x @ v
    elif form == 2 and len(shape) >= 2:
        w = p.leaf(shape[:-2] + (shape[-1], n))                        # batched x @ W
    else:
        w = p.leaf((n, shape[-2]) if len(shape) >= 2 else (n, shape[-1]))   # W @ x
        p.text.append(f"  W {w[0].shape} @ x")
        return lambda: w[0] @ x[0], lambda: w[1] @ x[1]
    p.text.append(f"  x @ W {w[0].shape}")
    return lambda: x[0] @ w[0], lambda: x[1] @ w[1]


def reduction(name: str) -> Callable:
    """NumPy spellings in minigrad (axis=, keepdims=, ddof=) against torch's dim= forms."""
    def op(p: Program, x: tuple) -> tuple:
        m, t = x
        axes, keep = p.axes(m.ndim), bool(p.rng.integers(2))
        dims = _torch_dims(axes, m.ndim)
        p.text.append(f"  axis={axes} keepdims={keep}")
        torch = p.torch
        if name in ("sum", "mean", "logsumexp"):
            ours = lambda: getattr(mg, name)(m, axis=axes, keepdims=keep)  # noqa: E731
            if m.ndim == 0:
                return ours, lambda: getattr(torch, name)(t, dim=0)
            return ours, lambda: getattr(torch, name)(t, dim=dims, keepdim=keep)
        if name == "var":
            ddof = int(p.rng.integers(2)) if m.ndim else 0
            p.text.append(f"  ddof={ddof}")
            if m.ndim == 0:
                return lambda: mg.var(m, axis=axes, keepdims=keep, ddof=0), lambda: torch.var(t, correction=0)
            # axis=None is PyTorch's dim=None (whose gradient with no degrees of freedom is inf, NaN at the mean;
            # naming every dim gives NaN for a NaN input)
            return (lambda: mg.var(m, axis=axes, keepdims=keep, ddof=ddof),
                    lambda: torch.var(t, dim=None if axes is None else dims, correction=ddof, keepdim=keep))
        smallest = name == "min"
        ours = lambda: (mg.min if smallest else mg.max)(m, axis=axes, keepdims=keep)  # noqa: E731
        if axes is None and not keep:
            return ours, lambda: (torch.min if smallest else torch.max)(t)   # torch.max() itself: it selects
        if m.ndim == 0:
            return ours, lambda: t.clone()
        return ours, lambda: p.refs.selecting_amax.apply(t, dims, keep, smallest)
    return op


def op_norm(p: Program, x: tuple) -> tuple:
    """The vector p-norm (PyTorch's own backward, masks multiplied, is the reference)."""
    m, t = x
    order, axes, keep = p.choose([1, 2, 3, INF, -INF, 0, 0.5]), p.axes(m.ndim), bool(p.rng.integers(2))
    p.text.append(f"  p={order} axis={axes} keepdims={keep}")
    dims = _torch_dims(axes, m.ndim) if m.ndim else None
    return (lambda: mg.norm(m, order, axis=axes, keepdims=keep),
            lambda: p.torch.linalg.vector_norm(t, ord=order, dim=dims, keepdim=keep))


def op_torch_reduction(p: Program, x: tuple) -> tuple | None:
    """PyTorch's spellings: var/std(dim=, correction=), amax/amin(dim), mean(dim=, keepdim=)."""
    m, t = x
    name = p.choose(["var", "std", "amax", "amin", "mean"])
    axes, keep = p.axes(m.ndim), bool(p.rng.integers(2))
    dims = _torch_dims(axes, m.ndim) if m.ndim else None
    p.text.append(f"  {name}(dim={axes}, keepdim={keep})")
    if name == "std" and torch_program_ops.constant_lines(m.numpy(), _torch_dims(axes, m.ndim)):
        return None   # its std is rounding noise, and the gradient noise / noise (see constant_lines)
    if name in ("var", "std"):
        correction = int(p.rng.integers(2)) if m.ndim else 0
        p.text.append(f"  correction={correction}")
        return (lambda: getattr(mg, name)(m, dim=axes, keepdim=keep, correction=correction),
                lambda: getattr(p.torch, name)(t, dim=dims, keepdim=keep, correction=correction))
    if name == "mean":
        return lambda: mg.mean(m, dim=axes, keepdim=keep), lambda: p.torch.mean(t, dim=dims, keepdim=keep)
    ours = lambda: getattr(mg, name)(m, axes if axes is not None else (), keep)  # noqa: E731
    return ours, lambda: p.refs.selecting_amax.apply(t, dims if m.ndim else (), keep, name == "amin", True)


def op_transpose(p: Program, x: tuple) -> tuple | None:
    """transpose(d0, d1) swaps two dims (PyTorch); permute reorders all."""
    m, t = x
    if m.ndim < 2:
        return None
    if p.rng.random() < 0.5:
        a, b = (int(v) for v in p.rng.choice(m.ndim, 2, replace=False))
        p.text.append(f"  transpose({a}, {b})")
        return lambda: m.transpose(a, b), lambda: t.transpose(a, b)
    order = [int(v) for v in p.rng.permutation(m.ndim)]
    p.text.append(f"  permute{order}")
    return lambda: m.permute(*order), lambda: t.permute(*order)


def op_pieces(p: Program, x: tuple) -> tuple | None:
    """One piece of chunk/split/unbind (PyTorch's sizes), or topk's values."""
    m, t = x
    if m.ndim == 0:
        return None
    dim = int(p.rng.integers(m.ndim))
    kind = p.choose(["chunk", "split", "unbind", "topk"])
    size = m.shape[dim]
    if kind == "topk":
        # PyTorch leaves the order of ties unspecified (and so which tied element gets the gradient)
        if np.isnan(m.numpy()).any() or torch_program_ops.ties(m.numpy(), dim):
            return None
        k = int(p.rng.integers(0, size + 1))
        largest = bool(p.rng.integers(2))
        p.text.append(f"  topk({k}, dim={dim}, largest={largest})")
        return (lambda: mg.topk(m, k, dim=dim, largest=largest),
                lambda: p.torch.topk(t, k, dim=dim, largest=largest))
    if kind == "unbind" and size == 0:
        return None
    arg = int(p.rng.integers(1, 4))
    pieces = {"chunk": lambda v, f: f.chunk(v, arg, dim=dim), "split": lambda v, f: f.split(v, arg, dim=dim),
              "unbind": lambda v, f: f.unbind(v, dim=dim)}[kind]
    count = len(pieces(t, p.torch))
    if count == 0:
        return None
    i = int(p.rng.integers(count))
    p.text.append(f"  {kind}({arg}, dim={dim})[{i}]")
    return lambda: pieces(m, mg)[i], lambda: pieces(t, p.torch)[i]


def op_max_dim(p: Program, x: tuple) -> tuple | None:
    """PyTorch's max/min(dim): values and indices, the gradient to the returned index."""
    m, t = x
    if m.ndim == 0:
        return None
    dim, keep, smallest = int(p.rng.integers(-m.ndim, m.ndim)), bool(p.rng.integers(2)), bool(p.rng.integers(2))
    p.text.append(f"  {'min' if smallest else 'max'}(dim={dim}, keepdim={keep})")
    return (lambda: (mg.min if smallest else mg.max)(m, dim=dim, keepdim=keep),
            lambda: (p.torch.min if smallest else p.torch.max)(t, dim=dim, keepdim=keep))


def softmax_like(name: str) -> Callable:
    def op(p: Program, x: tuple) -> tuple | None:
        if x[0].ndim == 0:
            return None
        dim = int(p.rng.integers(-x[0].ndim, x[0].ndim))
        p.text.append(f"  dim={dim}")
        return lambda: getattr(mg, name)(x[0], dim=dim), lambda: getattr(p.torch, name)(x[1], dim=dim)
    return op


def op_masked_fill(p: Program, x: tuple) -> tuple:
    """masked_fill with a mask that broadcasts to x; the filled places get no gradient."""
    m, t = x
    mask = np.asarray(p.rng.random(p.partner_shape(m.shape)) < 0.5)
    if mask.ndim > m.ndim or any(a not in (1, b) for a, b in zip(mask.shape[::-1], m.shape[::-1])):
        return None   # the mask must broadcast to x's shape without growing it
    value = p.choose([0.0, -1.5, INF, NAN])
    p.text.append(f"  mask {mask.tolist()} value {value}")
    return (lambda: mg.masked_fill(m, mg.tensor(mask), value),
            lambda: p.torch.masked_fill(t, p.torch.from_numpy(mask), value))


def op_reshape(p: Program, x: tuple) -> tuple:
    return lambda: x[0].reshape(-1), lambda: x[1].reshape(-1)


def op_swapaxes(p: Program, x: tuple) -> tuple | None:
    if x[0].ndim < 2:
        return None
    a, b = (int(v) for v in p.rng.choice(x[0].ndim, 2, replace=False))
    p.text.append(f"  axes {a}, {b}")
    return lambda: mg.swapaxes(x[0], a, b), lambda: p.torch.swapaxes(x[1], a, b)


def op_expand_dims(p: Program, x: tuple) -> tuple:
    axis = int(p.rng.integers(-x[0].ndim - 1, x[0].ndim + 1))
    p.text.append(f"  axis {axis}")
    return lambda: mg.expand_dims(x[0], axis), lambda: p.torch.unsqueeze(x[1], axis)


def op_slice(p: Program, x: tuple) -> tuple | None:
    if x[0].ndim == 0:
        return None
    axis = int(p.rng.integers(x[0].ndim))
    start, stop = p.choose([None, 0, 1, -1, -2]), p.choose([None, 1, 2, -1, 3])
    index = (slice(None),) * axis + (slice(start, stop, p.choose([1, 1, 2])),)
    p.text.append(f"  [{index}]")
    return lambda: x[0][index], lambda: x[1][index]


def op_index(p: Program, x: tuple) -> tuple | None:
    """An int, a repeated integer list (gradients accumulate) or a boolean mask."""
    m, t = x
    kind = p.rng.integers(3)
    if kind == 2:
        p.text.append("  [x > 0]")
        return lambda: m[m > 0], lambda: t[t > 0]
    if m.ndim == 0 or m.shape[0] == 0:
        return None
    index: Any = int(p.rng.integers(-m.shape[0], m.shape[0])) if kind == 0 else \
        [int(i) for i in p.rng.integers(0, m.shape[0], 4)]
    p.text.append(f"  [{index}]")
    return lambda: m[index], lambda: t[index]


def op_cat(p: Program, x: tuple) -> tuple | None:
    shape = x[0].shape
    if not shape:
        return None
    axis = int(p.rng.integers(len(shape)))
    other = p.leaf(shape[:axis] + (int(p.rng.integers(0, 3)),) + shape[axis + 1:])
    p.text.append(f"  with {other[0].shape} on dim {axis}")
    return lambda: mg.cat([x[0], other[0]], dim=axis), lambda: p.torch.cat([x[1], other[1]], dim=axis)


def op_stack(p: Program, x: tuple) -> tuple:
    other = p.leaf(x[0].shape)
    axis = int(p.rng.integers(x[0].ndim + 1))
    p.text.append(f"  dim {axis}")
    return lambda: mg.stack([x[0], other[0]], dim=axis), lambda: p.torch.stack([x[1], other[1]], dim=axis)


def op_broadcast(p: Program, x: tuple) -> tuple:
    shape = (2,) + tuple(x[0].shape)
    return lambda: mg.broadcast_to(x[0], shape), lambda: p.torch.broadcast_to(x[1], shape)


OPS: dict = {
    "neg": unary(mg.neg, "neg"), "exp": unary(mg.exp, "exp"), "log": unary(mg.log, "log"),
    "sqrt": unary(mg.sqrt, "sqrt"), "tanh": unary(mg.tanh, "tanh"), "sigmoid": unary(mg.sigmoid, "sigmoid"),
    "relu": unary(mg.relu, "relu"), "sin": unary(mg.sin, "sin"), "cos": unary(mg.cos, "cos"),
    "abs": op_abs, "pow_scalar": op_pow_scalar, "rpow": op_rpow, "scalar_arith": op_scalar_arith,
    "clip": op_clip_scalar, "clip_tensor": op_clip_tensor,
    "add": binary("+"), "sub": binary("-"), "mul": binary("*"), "div": binary("/"), "pow": binary("**"),
    "maximum": binary("maximum"), "minimum": binary("minimum"), "where": binary("where"),
    "matmul": op_matmul,
    "sum": reduction("sum"), "mean": reduction("mean"), "var": reduction("var"),
    "logsumexp": reduction("logsumexp"), "max": reduction("max"), "min": reduction("min"),
    "max_dim": op_max_dim, "norm": op_norm, "torch_reduction": op_torch_reduction,
    "transpose": op_transpose, "pieces": op_pieces, "masked_fill": op_masked_fill,
    "softmax": softmax_like("softmax"), "log_softmax": softmax_like("log_softmax"),
    "reshape": op_reshape, "swapaxes": op_swapaxes, "expand_dims": op_expand_dims, "slice": op_slice,
    "index": op_index, "cat": op_cat, "stack": op_stack, "broadcast_to": op_broadcast,
    **torch_program_ops.OPS,
}
NAMES = sorted(OPS)


def run_program(torch: Any, seed: int, shape: tuple, names: list) -> None:
    """Run one program in both frameworks; raise AssertionError naming the program at a mismatch."""
    p = Program(torch, seed)
    x = p.leaf(shape)
    mismatches: list = []
    try:
        for name in names:
            p.text.append(f"{name}:")
            thunks = OPS[name](p, x)
            if thunks is None:
                p.text.append("  does not apply")
                continue
            ours, theirs = (_outcome(thunk) for thunk in thunks)
            p.text.append(f"  -> ours {_describe(ours)}, torch {_describe(theirs)}")
            if isinstance(ours, Exception) or isinstance(theirs, Exception):
                assert isinstance(ours, Exception) and isinstance(theirs, Exception), "only one side raised"
                break
            if isinstance(ours, tuple):   # (values, indices)
                assert_ieee_close(ours[1], theirs[1], f"indices of {name}")
                ours, theirs = ours[0], theirs[0]
            assert_ieee_close(ours, theirs, f"value of {name}")
            # Both frameworks go on from the same numbers, forward and backward: without this, a
            # last-bit difference (exp, a sum's order) grows through ill-conditioned ops (sin of 1e12,
            # rounding noise divided by 0) or flips a tie, and the sign of a zero at a tie of 0 and -0
            # is not even fixed within PyTorch (its scalar and vector loops differ). Each op is thus
            # compared on identical inputs and an identical gradient from above.
            if any(ours is value[0] for value in p.values + p.leaves):
                ours = mg.clone(ours)   # an op that gives back its input (atleast_1d of a vector): a node of its own
            if theirs.requires_grad and ours.requires_grad:
                ours.retain_grad()
                theirs = p.refs.resync.apply(theirs, torch.from_numpy(ours.numpy().copy()), ours, mismatches,
                                         f"gradient of the output of {name} (op {len(p.values)})")
            x = (ours, theirs)
            p.values.append(x)
        upstream = p.data(x[0].shape)
        p.text.append(f"backward with {upstream.tolist()}")
        x[0].backward(mg.tensor(upstream))
        x[1].backward(torch.tensor(upstream))
        assert not mismatches, mismatches[0]
        for i, (m, t) in enumerate(p.leaves):
            # no gradient and a gradient of zeros are the same answer (PyTorch itself gives either for
            # norm(x, 0), depending on what lies between it and the leaf)
            ours = m.grad.numpy() if m.grad is not None else np.zeros(m.shape)
            theirs = np.zeros(m.shape) if t.grad is None or t.grad._is_zerotensor() else t.grad   # sgn's: lazy
            assert_ieee_close(ours, theirs, f"gradient of leaf {i} {m.shape}")
    except AssertionError as failure:
        raise AssertionError(f"{failure}\nprogram (seed {seed}):\n" + "\n".join(p.text)) from None


def _outcome(thunk: Callable) -> Any:
    try:
        return thunk()
    except Exception as error:  # noqa: BLE001 - both sides must raise, or neither
        return error


def _describe(value: Any) -> str:
    if isinstance(value, Exception):
        return f"raised {type(value).__name__}: {str(value)[:80]}"
    if isinstance(value, tuple):
        value = value[0]
    return f"shape {tuple(value.shape)}"
