"""Op entries for the random programs of tests/test_fuzz_torch.py: the ops of ``minigrad/ops/special.py``,
``pointwise.py``, ``arrange.py``, ``index_write.py``, ``combine.py``, ``statistics.py``, ``order_stats.py``,
``distance.py`` and ``scan.py``'s ``logcumsumexp``. tests/support/torch_programs.py merges ``OPS`` into its table.

Each entry is ``(program, (m, t)) -> (minigrad thunk, torch thunk)`` or None where it does not apply, with
its random choices and new leaves made first, once for both sides (see torch_programs.py). Several ops of
one kind share an entry, so that the table's uniform draw does not favour the kinds with many spellings.

Domains. An op whose gradient goes to one element among equals (kthvalue, quantile, median with a dim,
msort) is not applied to lines with ties (two equal values, ±inf included, or two NaNs): PyTorch leaves
the index it picks unspecified there. ``mode`` keeps its ties (minigrad follows PyTorch's CPU rule on lines
of up to 16 elements) but not NaN, as do ``cummax``/``cummin`` (both give the latest index). Every other
input an op is not applied to has its one-line reason where the entry returns None: PyTorch raising or
contradicting itself, or the two grouping the same products otherwise (rounding, overflow, inf - inf).
The references (aminmax, logcumsumexp, var_mean's mean, dist with p = 0) are
test_fuzz_torch.py's documented deviations.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

import minigrad as mg

INF = float("inf")


def ties(values: np.ndarray, axis: int | None) -> bool:
    """True when a line along ``axis`` (all elements when None) holds two equal values (±inf too) or two NaNs."""
    lines = values.reshape(-1) if axis is None or values.ndim == 0 else np.moveaxis(values, axis, -1)
    ordered = np.sort(lines, axis=-1)   # NaN last
    return bool((ordered[..., 1:] == ordered[..., :-1]).any() or (np.isnan(lines).sum(axis=-1) > 1).any())


def constant_lines(values: np.ndarray, dims: tuple) -> bool:
    """True when a line of two or more elements over ``dims`` is constant (to 1e-12): its std is rounding
    noise (minigrad's two-pass mean is off by an ulp, PyTorch's one-pass is exact and masks the gradient
    where std == 0), and so is the std's gradient, noise / noise."""
    lines = values.reshape(1) if values.ndim == 0 else values
    dims = dims or tuple(range(lines.ndim))
    if lines.size == 0 or int(np.prod([lines.shape[d] for d in dims])) < 2:
        return False
    with np.errstate(all="ignore"):
        return bool((np.ptp(lines, axis=dims) <= 1e-12 * np.abs(lines).max(axis=dims)).any())


def _constant(p: Any, array: np.ndarray) -> tuple:
    """An index or a mask (no gradient) as a (minigrad, torch) pair of tensors."""
    return mg.tensor(array), p.torch.from_numpy(array.copy())


def _ints(p: Any, array: np.ndarray) -> tuple:
    return _constant(p, np.asarray(array, dtype=np.int64))


def _same(p: Any, fn: Callable, *pairs: tuple) -> tuple:
    """Thunks that call ``fn(lib, *tensors)`` with minigrad and with torch (one spelling for both)."""
    return lambda: fn(mg, *(pair[0] for pair in pairs)), lambda: fn(p.torch, *(pair[1] for pair in pairs))


def _dims(dims: Any, ndim: int) -> tuple:
    """PyTorch's ``dim`` (None, an int or a tuple) as a tuple of dims."""
    if dims is None:
        return tuple(range(ndim))
    return (dims,) if isinstance(dims, int) else tuple(dims)


def _dim(p: Any, ndim: int) -> int:
    """One dim of a tensor with ``ndim`` dims, maybe negative (0 for a 0-d tensor)."""
    return int(p.rng.integers(-ndim, ndim)) if ndim else 0


# --- pointwise ---------------------------------------------------------------------------------------

def pointwise(names: list) -> Callable:
    """One of ``names``, spelled the same in minigrad and torch."""
    def op(p: Any, x: tuple) -> tuple | None:
        name = p.choose(names)
        if name == "sinc" and ((x[0].numpy() != 0) & (np.abs(x[0].numpy()) < 1e-3)).any():
            return None   # PyTorch's sinc' = (πx cos πx - sin πx) / (πx²) cancels near 0 (minigrad's: the series)
        if name in ("asin", "acos", "atanh", "acosh") and (np.abs(np.abs(x[0].numpy()) - 1) < 1e-5).any():
            return None   # 1 ∓ x² near |x| = 1 keeps few digits: PyTorch's kernel fuses -x·x + 1 (FMA), NumPy not
        p.text.append(f"  {name}")
        return _same(p, lambda lib, v: getattr(lib, name)(v), x)
    return op


def op_logit(p: Any, x: tuple) -> tuple | None:
    """logit with no clamp (NaN outside [0, 1]), a negative eps (no clamp either) or a clamp to [eps, 1 - eps]."""
    eps = p.choose([None, None, 0.25, 0.0, -1.0])
    values = x[0].numpy()
    if eps is not None and eps >= 0 and np.isnan(values).any():
        return None   # PyTorch's gradient at x = NaN is 0 in its vector loop, NaN in its scalar loop
    if ((values == 0) & np.signbit(values)).any() and eps != 0.25:
        return None   # PyTorch's gradient at x = -0.0 is -gy·inf in its vector loop, gy·inf in its scalar loop
    p.text.append(f"  eps={eps}")
    return _same(p, lambda lib, v: lib.logit(v, eps), x)


def op_nan_to_num(p: Any, x: tuple) -> tuple:
    """nan_to_num; its default bounds (±1.8e308) only where x holds no infinity: sums of the largest float
    overflow at different places in the two frameworks (one BLAS fuses a·b + c into one rounding, one not)."""
    nan, posinf, neginf = p.choose([(0.0, None, None), (1.5, 2.0, -3.0), (-1.0, None, 0.0)])
    if np.isinf(x[0].numpy()).any():
        posinf, neginf = 2.5 if posinf is None else posinf, -0.5 if neginf is None else neginf
    p.text.append(f"  nan={nan} posinf={posinf} neginf={neginf}")
    return _same(p, lambda lib, v: lib.nan_to_num(v, nan=nan, posinf=posinf, neginf=neginf), x)


def op_binary_special(p: Any, x: tuple) -> tuple | None:
    """A two-input function of x and a partner that broadcasts with it (either one first)."""
    name = p.choose(["hypot", "xlogy", "logaddexp2", "copysign", "fmax", "fmin", "atan2", "float_power",
                     "remainder", "fmod"])
    other = p.partner(x[0].shape)
    swap = p.rng.random() < 0.4
    a, b = (other, x) if swap else (x, other)
    p.text.append(f"  {name} with {tuple(other[0].shape)}{' (swapped)' if swap else ''}")
    return _same(p, lambda lib, u, v: getattr(lib, name)(u, v), a, b)


def op_div_rounding(p: Any, x: tuple) -> tuple:
    """div(a, b, rounding_mode=floor|trunc): a step function, so a zero gradient; b a tensor or a number."""
    mode = p.choose(["floor", "trunc"])
    if p.rng.random() < 0.3:
        c = p.choose([2.0, -0.5, 0.0, INF, 0.1])
        p.text.append(f"  {mode} by {c}")
        return _same(p, lambda lib, v: lib.div(v, c, rounding_mode=mode), x)
    other = p.partner(x[0].shape)
    swap = p.rng.random() < 0.3
    a, b = (other, x) if swap else (x, other)
    p.text.append(f"  {mode} with {tuple(other[0].shape)}{' (swapped)' if swap else ''}")
    return _same(p, lambda lib, u, v: lib.div(u, v, rounding_mode=mode), a, b)


def op_addc(p: Any, x: tuple) -> tuple | None:
    """addcmul / addcdiv of three tensors that broadcast together, x in a random role."""
    name = p.choose(["addcmul", "addcdiv"])
    value = p.choose([1, 2.0, -0.5, 0.0])
    args = [x, p.partner(x[0].shape), p.partner(x[0].shape)]
    order = [int(i) for i in p.rng.permutation(3)]
    args = [args[i] for i in order]
    if name == "addcdiv" and args[1][0] is args[2][0]:   # t1 / t1: its gradient v/t - v·t/t² is rounding noise
        args[2] = p.leaf(tuple(args[2][0].shape))
    # minigrad composes x + (value·t1)·t2 (or / t2): the gradient of a broadcast t1 is Σ(grad)·t2·value,
    # PyTorch's Σ(grad·(t2·value)), and t2's -Σ(grad)·(y / t2) against -Σ(grad·value·t1 / (t2·t2)). They
    # agree up to rounding while the factors are finite and nothing over- or underflows; elsewhere they
    # differ (inf - inf = NaN against Σ(grad)·inf, 0·NaN over an empty broadcast against 0)
    try:
        broadcast = any(a[0].shape != np.broadcast_shapes(*(a[0].shape for a in args)) for a in args)
    except ValueError:
        broadcast = False
    factors = np.concatenate([a[0].numpy().ravel() for a in args[1:]])
    if broadcast and (not np.isfinite(factors).all() or (name == "addcdiv" and (args[2][0].numpy() == 0).any())):
        return None
    magnitudes = np.abs(np.concatenate([a[0].numpy().ravel() for a in args]))
    magnitudes = magnitudes[np.isfinite(magnitudes) & (magnitudes > 0)]
    if ((magnitudes > 1e150) | (magnitudes < 1e-150)).any():
        return None
    p.text.append(f"  {name} value={value} of {[tuple(a[0].shape) for a in args]} (x at {order.index(0)})")
    return _same(p, lambda lib, s, t1, t2: getattr(lib, name)(s, t1, t2, value=value), *args)


# --- rearranging ---------------------------------------------------------------------------------------

def op_move(p: Any, x: tuple) -> tuple | None:
    """movedim, swapdims, select, unflatten, narrow_copy."""
    m = x[0]
    n, shape = m.ndim, m.shape
    kind = p.choose(["movedim", "swapdims", "select", "unflatten", "narrow_copy"])
    if kind == "movedim":
        k = min(n, int(p.rng.integers(1, 3))) if n else 1
        src = [int(d) - (n if p.rng.random() < 0.3 else 0) for d in p.rng.choice(max(n, 1), k, replace=False)]
        dst = [int(d) for d in p.rng.choice(max(n, 1), k, replace=False)]
        source, destination = (src[0], dst[0]) if k == 1 and p.rng.random() < 0.5 else (src, dst)
        p.text.append(f"  movedim({source}, {destination})")
        return _same(p, lambda lib, v: lib.movedim(v, source, destination), x)
    if n == 0:
        return None
    d = _dim(p, n)
    size = shape[d]
    if kind == "swapdims":
        e = _dim(p, n)
        p.text.append(f"  swapdims({d}, {e})")
        return _same(p, lambda lib, v: lib.swapdims(v, d, e), x)
    if kind == "select":
        if size == 0:
            return None
        i = int(p.rng.integers(-size, size))
        p.text.append(f"  select({d}, {i})")
        return _same(p, lambda lib, v: lib.select(v, d, i), x)
    if kind == "unflatten":
        sizes = p.choose([(size,), (1, size), (-1, 1), (size, 1, 1), (1, -1)])
        p.text.append(f"  unflatten({d}, {sizes})")
        return _same(p, lambda lib, v: lib.unflatten(v, d, sizes), x)
    start = int(p.rng.integers(0, size + 1))
    length = int(p.rng.integers(0, size - start + 1))
    p.text.append(f"  narrow_copy({d}, {start}, {length})")
    return _same(p, lambda lib, v: lib.narrow_copy(v, d, start, length), x)


def op_tile_rotate(p: Any, x: tuple) -> tuple | None:
    """tile, rot90, fliplr/flipud, diag_embed."""
    n = x[0].ndim
    kind = p.choose(["tile", "rot90", "flip", "diag_embed"])
    if kind == "tile":
        counts = tuple(int(c) for c in p.rng.choice([0, 1, 2, 2], int(p.rng.integers(1, 4))))
        p.text.append(f"  tile{counts}")
        return _same(p, lambda lib, v: lib.tile(v, counts), x)
    if kind == "flip":
        name = p.choose(["fliplr", "flipud"])
        if n < (2 if name == "fliplr" else 1):
            return None
        p.text.append(f"  {name}")
        return _same(p, lambda lib, v: getattr(lib, name)(v), x)
    if kind == "rot90":
        if n < 2:
            return None
        k = p.choose([-1, 0, 1, 2, 3, 5])
        dims = [int(d) for d in p.rng.choice(n, 2, replace=False)]
        dims[1] -= n if p.rng.random() < 0.3 else 0
        p.text.append(f"  rot90(k={k}, dims={dims})")
        return _same(p, lambda lib, v: lib.rot90(v, k, dims), x)
    if n == 0:
        return None
    offset = p.choose([0, 0, 1, -1, 2])
    dim1, dim2 = (int(d) - (n + 1) for d in p.rng.choice(n + 1, 2, replace=False))
    p.text.append(f"  diag_embed(offset={offset}, dim1={dim1}, dim2={dim2})")
    return _same(p, lambda lib, v: lib.diag_embed(v, offset, dim1, dim2), x)


def op_diagonal(p: Any, x: tuple) -> tuple | None:
    """diagonal(offset, dim1, dim2) of any two dims, or trace of a matrix."""
    n = x[0].ndim
    if n == 2 and p.rng.random() < 0.3:
        p.text.append("  trace")
        return _same(p, lambda lib, v: lib.trace(v), x)
    if n < 2:
        return None
    offset = p.choose([0, 0, 1, -1, 2, -3])
    dim1, dim2 = (int(d) for d in p.rng.choice(n, 2, replace=False))
    dim2 -= n if p.rng.random() < 0.3 else 0
    p.text.append(f"  diagonal(offset={offset}, dim1={dim1}, dim2={dim2})")
    return _same(p, lambda lib, v: lib.diagonal(v, offset, dim1, dim2), x)


def op_take(p: Any, x: tuple) -> tuple | None:
    """take_along_dim along a dim (indices may be negative, both broadcast), flattened, or take (repeats)."""
    m = x[0]
    n, shape, rng = m.ndim, m.shape, p.rng
    numel = int(np.prod(shape))
    kind = p.choose(["along_dim", "along_dim", "flat", "take"])
    if kind == "along_dim" and n:
        d = int(rng.integers(n))
        size = shape[d]
        index_shape = tuple((int(rng.integers(0, 4)) if size else 0) if i == d else
                            p.choose([s, 1, 2] if s == 1 else [s, s, 1]) for i, s in enumerate(shape))
        index = rng.integers(-size, size, index_shape) if size else np.zeros(index_shape, dtype=np.int64)
        pair = _ints(p, index)
        p.text.append(f"  take_along_dim(indices {index.tolist()}, dim={d})")
        return _same(p, lambda lib, v, i: lib.take_along_dim(v, i, dim=d), x, pair)
    if numel == 0:
        return None
    low = -numel if kind == "take" else 0
    index = rng.integers(low, numel, tuple(int(s) for s in rng.integers(0, 3, int(rng.integers(0, 3)))))
    pair = _ints(p, index)
    p.text.append(f"  {kind}(indices {index.tolist()})")
    if kind == "take":
        return _same(p, lambda lib, v, i: lib.take(v, i), x, pair)
    return _same(p, lambda lib, v, i: lib.take_along_dim(v, i), x, pair)


def op_index_write(p: Any, x: tuple) -> tuple | None:
    """index_add (repeated indices accumulate, alpha), index_copy (distinct indices), index_fill (a number
    or a 0-d tensor; negative indices)."""
    m = x[0]
    n, shape, rng = m.ndim, m.shape, p.rng
    kind = p.choose(["index_add", "index_copy", "index_fill"])
    d = _dim(p, n)
    size = shape[d] if n else 1
    if kind == "index_fill":
        count = int(rng.integers(0, 4))
        index = rng.integers(-size, size, count) if size else np.zeros(0, dtype=np.int64)
        value: Any = p.leaf(()) if rng.random() < 0.5 else p.choose([0.0, -1.5, INF])
        if isinstance(value, tuple):   # PyTorch's backward for a tensor value raises at negative indices
            index = np.where(index < 0, index + size, index)   # and, for a 0-d x, at an empty index
            if n == 0 and count == 0:
                return None
        pair = _ints(p, index)
        p.text.append(f"  index_fill({d}, {index.tolist()}, {'a 0-d leaf' if isinstance(value, tuple) else value})")
        if isinstance(value, tuple):
            return _same(p, lambda lib, v, i, w: lib.index_fill(v, d, i, w), x, pair, value)
        return _same(p, lambda lib, v, i: lib.index_fill(v, d, i, value), x, pair)
    if size == 0:
        return None
    if kind == "index_add":
        index = rng.integers(0, size, int(rng.integers(0, 4)))
    else:
        index = rng.permutation(size)[:int(rng.integers(0, size + 1))]
    if n == 0 and len(index) != 1:
        return None
    pair = _ints(p, index)
    source = p.leaf(shape[:d] + (len(index),) + shape[d + 1:] if n else ())
    alpha = p.choose([1, 2.0, -0.5]) if kind == "index_add" else 1
    p.text.append(f"  {kind}({d}, {index.tolist()}, source {tuple(source[0].shape)}, alpha={alpha})")
    if kind == "index_add":
        return _same(p, lambda lib, v, i, s: lib.index_add(v, d, i, s, alpha=alpha), x, pair, source)
    return _same(p, lambda lib, v, i, s: lib.index_copy(v, d, i, s), x, pair, source)


def op_masked_scatter(p: Any, x: tuple) -> tuple:
    """masked_scatter with a mask that broadcasts with x (either may grow) and a source of about enough elements."""
    mask = np.asarray(p.rng.random(p.partner_shape(x[0].shape)) < 0.5)
    try:
        count = int(np.broadcast_to(mask, np.broadcast_shapes(mask.shape, x[0].shape)).sum())
    except ValueError:
        count = 0
    source = p.leaf((max(count + int(p.rng.integers(-1, 3)), 0),))
    p.text.append(f"  mask {mask.tolist()}, source {tuple(source[0].shape)}")
    return _same(p, lambda lib, v, b, s: lib.masked_scatter(v, b, s), x, _constant(p, mask), source)


def op_diff(p: Any, x: tuple) -> tuple | None:
    """diff of order 0-3 along a dim, with prepend/append leaves maybe."""
    m = x[0]
    if m.ndim == 0:
        return None
    d = _dim(p, m.ndim)
    order = p.choose([1, 1, 2, 0, 3])
    ends = [None if p.rng.random() < 0.6 else
            p.leaf(m.shape[:d % m.ndim] + (int(p.rng.integers(0, 3)),) + m.shape[d % m.ndim + 1:]) for _ in "pa"]
    p.text.append(f"  diff(n={order}, dim={d}, prepend {ends[0] and tuple(ends[0][0].shape)}, "
                  f"append {ends[1] and tuple(ends[1][0].shape)})")
    if ends[0] is None and ends[1] is None:
        return _same(p, lambda lib, v: lib.diff(v, order, d), x)
    pairs = [e for e in ends if e is not None]

    def fn(lib: Any, v: Any, *extra: Any) -> Any:
        parts = iter(extra)
        before, after = (next(parts) if e is not None else None for e in ends)
        return lib.diff(v, order, d, prepend=before, append=after)
    return _same(p, fn, x, *pairs)


def op_stack_split(p: Any, x: tuple) -> tuple | None:
    """hstack/vstack/dstack/column_stack with a leaf of x's shape, tensor_split's pieces, unfold, atleast_Nd."""
    m = x[0]
    n, shape, rng = m.ndim, m.shape, p.rng
    kind = p.choose(["stack", "tensor_split", "unfold", "atleast"])
    if kind == "stack":
        name = p.choose(["hstack", "vstack", "dstack", "column_stack"])
        other = p.leaf(shape)
        first = rng.random() < 0.5
        p.text.append(f"  {name} with a leaf {shape}{' first' if first else ''}")
        return _same(p, lambda lib, u, v: getattr(lib, name)([v, u] if first else [u, v]), x, other)
    if kind == "atleast":
        name = p.choose(["atleast_1d", "atleast_2d", "atleast_3d"])
        p.text.append(f"  {name}")
        return _same(p, lambda lib, v: getattr(lib, name)(v), x)
    if n == 0:
        return None
    d = _dim(p, n)
    size = shape[d]
    if kind == "unfold":
        window, step = int(rng.integers(0, size + 1)), int(rng.integers(1, 3))
        p.text.append(f"  unfold({d}, {window}, {step})")
        return _same(p, lambda lib, v: v.unfold(d, window, step), x)
    sections: Any = int(rng.integers(1, 4)) if rng.random() < 0.5 else \
        sorted(int(i) for i in rng.integers(-1, size + 2, int(rng.integers(1, 3))))
    try:
        i = int(rng.integers(len(p.torch.tensor_split(x[1].detach(), sections, dim=d))))
    except RuntimeError:
        i = 0   # both must raise
    p.text.append(f"  tensor_split({sections}, dim={d})[{i}]")
    return _same(p, lambda lib, v: lib.tensor_split(v, sections, dim=d)[i], x)


# --- products ----------------------------------------------------------------------------------------

def _some_shape(p: Any, max_ndim: int = 2) -> tuple:
    return tuple(int(s) for s in p.rng.integers(0, 3, int(p.rng.integers(0, max_ndim + 1))))


def op_products(p: Any, x: tuple) -> tuple | None:
    """kron, tensordot (an int or named dims), inner, mv, vdot, matrix_power, addmv/addr (beta, alpha)."""
    m = x[0]
    n, shape, rng = m.ndim, m.shape, p.rng
    kind = p.choose(["kron", "tensordot", "inner", "mv", "vdot", "matrix_power", "addmv", "addr"])
    if kind == "kron":
        other = p.leaf(_some_shape(p, 3))
        first = rng.random() < 0.5
        p.text.append(f"  kron with {tuple(other[0].shape)}{' first' if first else ''}")
        return _same(p, lambda lib, u, v: lib.kron(v, u) if first else lib.kron(u, v), x, other)
    if kind == "tensordot":
        if rng.random() < 0.5:
            k = int(rng.integers(0, min(n, 2) + 1))
            other = p.leaf(shape[n - k:] + _some_shape(p, 1))
            dims: Any = k
        else:   # dims of x paired with dims of the leaf at random places
            k = int(rng.integers(0, min(n, 2) + 1))
            mine = [int(d) for d in rng.choice(n, k, replace=False)] if n else []
            extra = _some_shape(p, 1)
            theirs = [int(d) for d in rng.permutation(k + len(extra))[:k]]
            rest = iter(extra)
            other = p.leaf(tuple(shape[mine[theirs.index(j)]] if j in theirs else next(rest)
                                 for j in range(k + len(extra))))
            dims = (mine, theirs)
        p.text.append(f"  tensordot with {tuple(other[0].shape)}, dims={dims}")
        return _same(p, lambda lib, u, v: lib.tensordot(u, v, dims), x, other)
    if kind == "inner":
        other = p.leaf(_some_shape(p, 1) + (shape[-1:] if n else ()))
        p.text.append(f"  inner with {tuple(other[0].shape)}")
        return _same(p, lambda lib, u, v: lib.inner(u, v), x, other)
    if kind == "mv":
        if n == 2:
            other = p.leaf((shape[1],))
            p.text.append(f"  mv(x, {tuple(other[0].shape)})")
            return _same(p, lambda lib, u, v: lib.mv(u, v), x, other)
        if n == 1:
            other = p.leaf((int(rng.integers(0, 3)), shape[0]))
            p.text.append(f"  mv({tuple(other[0].shape)}, x)")
            return _same(p, lambda lib, u, v: lib.mv(v, u), x, other)
        return None
    if kind == "vdot":
        if n != 1:
            return None
        other = p.leaf(shape)
        p.text.append("  vdot")
        return _same(p, lambda lib, u, v: lib.vdot(u, v), x, other)
    if kind == "matrix_power":
        if n < 2 or shape[-1] != shape[-2]:
            return None
        # (not 3: PyTorch multiplies (x @ x) @ x, minigrad x @ (x @ x); inf - inf lands elsewhere, also in the
        # gradients of an inf from above)
        power = p.choose([0, 1, 2])
        p.text.append(f"  matrix_power({power})")
        return _same(p, lambda lib, v: lib.matrix_power(v, power), x)
    # (no alpha = 0: PyTorch's BLAS call then skips the product, so NaN in it does not propagate; undocumented)
    beta, alpha = p.choose([1, 1, 0.5, 0.0]), p.choose([1, -2.0, 0.5])
    if kind == "addmv":   # x is the added input, broadcast to (rows,)
        rows = shape[-1] if n and rng.random() < 0.8 else int(rng.integers(1, 3))
        # PyTorch's addmv gives x's own shape, unbroadcast, when mat is (rows, 0) and beta != 0
        inner = int(rng.integers(0 if shape == (rows,) or beta == 0 else 1, 3))
        mat, vec = p.leaf((rows, inner)), p.leaf((inner,))
        p.text.append(f"  addmv(x, {tuple(mat[0].shape)}, {tuple(vec[0].shape)}, beta={beta}, alpha={alpha})")
        return _same(p, lambda lib, v, a, b: lib.addmv(v, a, b, beta=beta, alpha=alpha), x, mat, vec)
    sizes = (shape[-2] if n >= 2 else int(rng.integers(1, 3)), shape[-1] if n else int(rng.integers(1, 3)))
    vec1, vec2 = p.leaf(sizes[:1]), p.leaf(sizes[1:])
    p.text.append(f"  addr(x, {sizes[0]}, {sizes[1]}, beta={beta}, alpha={alpha})")
    return _same(p, lambda lib, v, a, b: lib.addr(v, a, b, beta=beta, alpha=alpha), x, vec1, vec2)


def op_cross(p: Any, x: tuple) -> tuple | None:
    """cross / linalg.cross along a dim of size 3, with a partner of the same number of dims (1s broadcast)."""
    m = x[0]
    threes = [d for d, s in enumerate(m.shape) if s == 3]
    if not threes:
        return None
    d = p.choose(threes) - (m.ndim if p.rng.random() < 0.3 else 0)
    other = p.leaf(tuple(s if i == d % m.ndim or p.rng.random() < 0.6 else 1 for i, s in enumerate(m.shape)))
    first = p.rng.random() < 0.3
    a, b = (other, x) if first else (x, other)
    if p.rng.random() < 0.5:
        p.text.append(f"  linalg.cross with {tuple(other[0].shape)}, dim={d}{' (swapped)' if first else ''}")
        return (lambda: mg.linalg_cross(a[0], b[0], dim=d), lambda: p.torch.linalg.cross(a[1], b[1], dim=d))
    p.text.append(f"  cross with {tuple(other[0].shape)}, dim={d}{' (swapped)' if first else ''}")
    return _same(p, lambda lib, u, v: lib.cross(u, v, dim=d), a, b)


# --- statistics --------------------------------------------------------------------------------------

def op_nan_reduction(p: Any, x: tuple) -> tuple:
    """nansum / nanmean over None, a dim or two dims."""
    name = p.choose(["nansum", "nanmean"])
    dims, keep = p.axes(x[0].ndim), bool(p.rng.integers(2))
    p.text.append(f"  {name}(dim={dims}, keepdim={keep})")
    return _same(p, lambda lib, v: getattr(lib, name)(v, dim=dims, keepdim=keep), x)


def op_spread_mean(p: Any, x: tuple) -> tuple | None:
    """var_mean / std_mean (correction 0-2, or unbiased=), both outputs stacked. The reference's mean is
    torch.mean's (test_fuzz_torch.py's documented deviation: PyTorch's var_mean gives NaN for ±inf).

    PyTorch gets every dim by name, as the other reductions here: with no dim and no degrees of freedom
    (correction >= n) its gradient is grad · where(x == mean, NaN, inf), +inf whatever the sign of x - mean
    (-inf at x = NaN), where with dims it is minigrad's 2 (x - mean) / (n - correction) · grad. A 0-d x has
    only the first path, so it gets correction 0 only.
    """
    m, t = x
    name = p.choose(["var_mean", "std_mean"])
    dims, keep = p.axes(m.ndim), bool(p.rng.integers(2))
    how: dict = p.choose([{}, {"correction": 0}, {"correction": 2}, {"unbiased": False}])
    if m.ndim == 0 and how not in ({"correction": 0}, {"unbiased": False}):
        return None
    if name == "std_mean" and constant_lines(m.numpy(), _dims(dims, m.ndim)):
        return None
    p.text.append(f"  {name}(dim={dims}, keepdim={keep}, {how})")
    torch, named = p.torch, _dims(dims, m.ndim) if m.ndim else None
    return (lambda: mg.stack(getattr(mg, name)(m, dim=dims, keepdim=keep, **how)),
            lambda: torch.stack([getattr(torch, name)(t, dim=named, keepdim=keep, **how)[0],
                                 torch.mean(t, dim=named, keepdim=keep)]))


def op_aminmax(p: Any, x: tuple) -> tuple:
    """aminmax over all dims or one, min and max stacked; the reference: amin/amax with torch.max()'s rule."""
    m, t = x
    dim = None if p.rng.random() < 0.4 else _dim(p, m.ndim)
    keep = bool(p.rng.integers(2))
    p.text.append(f"  aminmax(dim={dim}, keepdim={keep})")

    def reference() -> Any:
        dims = () if m.ndim == 0 else tuple(range(m.ndim)) if dim is None else (dim % m.ndim,)
        ends = [p.refs.selecting_amax.apply(t, dims, keep, smallest, True) for smallest in (True, False)]
        return p.torch.stack(ends)

    return lambda: mg.stack(list(mg.aminmax(m, dim=dim, keepdim=keep))), reference


def op_kthvalue(p: Any, x: tuple) -> tuple | None:
    m = x[0]
    d = _dim(p, m.ndim)
    size = m.shape[d] if m.ndim else 1
    if size == 0 or ties(m.numpy(), d if m.ndim else None):
        return None
    k, keep = int(p.rng.integers(1, size + 1)), bool(p.rng.integers(2))
    p.text.append(f"  kthvalue({k}, dim={d}, keepdim={keep})")
    return _same(p, lambda lib, v: lib.kthvalue(v, k, d, keep), x)


def op_running_extreme(p: Any, x: tuple) -> tuple:
    """cummax / cummin (values and indices; ties and NaNs give the latest index, in both)."""
    name, d = p.choose(["cummax", "cummin"]), _dim(p, x[0].ndim)
    p.text.append(f"  {name}(dim={d})")
    return _same(p, lambda lib, v: getattr(lib, name)(v, d), x)


def op_logcumsumexp(p: Any, x: tuple) -> tuple:
    d = _dim(p, x[0].ndim)
    p.text.append(f"  logcumsumexp(dim={d})")
    return lambda: mg.logcumsumexp(x[0], d), lambda: p.refs.nan_keeping_logcumsumexp.apply(x[1], d)


def op_quantile(p: Any, x: tuple) -> tuple | None:
    """quantile / nanquantile: q a number or a 1-D tensor, over all elements or a dim, every interpolation."""
    m = x[0]
    name = p.choose(["quantile", "nanquantile"])
    dim = None if p.rng.random() < 0.4 else _dim(p, m.ndim)
    if ties(m.numpy(), dim if m.ndim else None):
        return None
    keep = bool(p.rng.integers(2))
    interpolation = p.choose(["linear", "lower", "higher", "midpoint", "nearest"])
    q: Any = p.choose([0.0, 0.25, 0.5, 0.3, 1.0])
    if p.rng.random() < 0.3:
        q = np.array(p.rng.choice([0.0, 0.25, 0.5, 0.75, 1.0, 0.1], int(p.rng.integers(0, 3))))
        pair = (mg.tensor(q), p.torch.from_numpy(q))
        p.text.append(f"  {name}(q={q.tolist()}, dim={dim}, keepdim={keep}, interpolation={interpolation})")
        return _same(p, lambda lib, v, w: getattr(lib, name)(v, w, dim, keep, interpolation=interpolation), x, pair)
    p.text.append(f"  {name}(q={q}, dim={dim}, keepdim={keep}, interpolation={interpolation})")
    return _same(p, lambda lib, v: getattr(lib, name)(v, q, dim, keep, interpolation=interpolation), x)


def op_median_mode(p: Any, x: tuple) -> tuple | None:
    """median / nanmedian of all elements (equal elements share the gradient), or with a dim (no ties);
    mode along a dim of at most 16; msort (no ties along dim 0)."""
    m = x[0]
    values = m.numpy()
    kind = p.choose(["median", "nanmedian", "median_dim", "nanmedian_dim", "mode", "msort"])
    if kind in ("median", "nanmedian"):
        p.text.append(f"  {kind}()")
        return _same(p, lambda lib, v: getattr(lib, kind)(v), x)
    d = _dim(p, m.ndim)
    size = m.shape[d] if m.ndim else 1
    if kind == "mode":   # PyTorch sorts with <, which leaves the order of a line with a NaN undefined
        if size > 16 or np.isnan(values).any():
            return None
        keep = bool(p.rng.integers(2))
        p.text.append(f"  mode(dim={d}, keepdim={keep})")
        return _same(p, lambda lib, v: lib.mode(v, d, keep), x)
    if kind == "msort":
        if ties(values, 0 if m.ndim else None):
            return None
        p.text.append("  msort")
        return _same(p, lambda lib, v: lib.msort(v), x)
    if ties(values, d if m.ndim else None):
        return None
    name, keep = kind[:-4], bool(p.rng.integers(2))
    p.text.append(f"  {name}(dim={d}, keepdim={keep})")
    return _same(p, lambda lib, v: getattr(lib, name)(v, d, keep), x)


def op_distance(p: Any, x: tuple) -> tuple | None:
    """cdist between x (…, P, M) and a leaf (…, R, M) whose batch dims broadcast, or dist to a partner."""
    m = x[0]
    if p.rng.random() < 0.4:
        order = p.choose([0, 1, 2, 3, INF, -INF, 0.5])
        other = p.partner(m.shape)
        p.text.append(f"  dist with {tuple(other[0].shape)}, p={order}")
        if order == 0:   # torch.dist(p=0)'s backward raises (an undefined gradient): the same norm, spelled out
            return lambda: mg.dist(x[0], other[0], 0), lambda: p.torch.linalg.vector_norm(x[1] - other[1], 0)
        return _same(p, lambda lib, u, v: lib.dist(u, v, order), x, other)
    if m.ndim < 2:
        return None
    order = p.choose([0, 1, 2, 3, INF, 0.5, 1.5])
    batch = tuple(1 if p.rng.random() < 0.3 else s for s in m.shape[:-2])[int(p.rng.integers(0, m.ndim - 1)):]
    other = p.leaf(batch + (int(p.rng.integers(0, 3)), m.shape[-1]))
    with np.errstate(all="ignore"):   # (inf - inf is a NaN difference too)
        differences = m.numpy()[..., :, None, :] - other[0].numpy()[..., None, :, :]
    if (order in (0, 1, INF) and np.isnan(differences).any()) or (order == INF and np.isinf(differences).any()):
        # PyTorch's cdist with a NaN difference: p=0 gives NaN (its vector_norm(p=0) counts 1, as minigrad);
        # p=1's gradient there is NaN (vector_norm(p=1)'s is 0, as minigrad's); p=inf keeps its running max
        # (std::max(max, NaN)), so drops the NaN. p=inf's gradient is NaN wherever a distance is infinite.
        return None
    first = p.rng.random() < 0.3
    p.text.append(f"  cdist with {tuple(other[0].shape)}, p={order}{' (swapped)' if first else ''}")
    return _same(p, lambda lib, u, v: lib.cdist(v, u, order) if first else lib.cdist(u, v, order), x, other)


def _cov_norm_factor(values: np.ndarray, correction: int, weights: dict) -> float:
    """torch.cov's divisor: n - correction, or with weights w (fweights · aweights) Σw - correction·Σ(w·aw)/Σw."""
    n = values.shape[-1] if values.ndim else 1
    fw, aw = weights.get("fweights"), weights.get("aweights")
    if fw is None and aw is None:
        return n - correction
    w = (np.ones(n) if fw is None else fw.astype(np.float64)) * (1.0 if aw is None else aw)
    if not w.sum() or not correction:
        return float(w.sum())
    return float(w.sum() - correction * ((w * aw).sum() / w.sum() if aw is not None else 1.0))


def op_cov(p: Any, x: tuple) -> tuple | None:
    """cov (correction 0-2, integer fweights, positive aweights that get a gradient) or corrcoef."""
    m = x[0]
    if m.ndim > 2:
        return None
    if p.rng.random() < 0.25:
        with np.errstate(all="ignore"):
            r = np.corrcoef(m.numpy()) if m.ndim == 2 and m.numpy().size else np.zeros(0)
        if (np.abs(r) > 1 - 1e-9).any():   # clipped at ±1: a last-bit difference decides the side of the bound
            return None
        p.text.append("  corrcoef")
        return _same(p, lambda lib, v: lib.corrcoef(v), x)
    observations = m.shape[-1] if m.ndim else 1
    correction = p.choose([1, 1, 0, 2])
    pairs, names = [x], []
    weights = observations != 1   # PyTorch raises (an in-place write to a view) for one weighted observation
    if weights and p.rng.random() < 0.3:
        pairs.append(_ints(p, p.rng.integers(0, 4, observations)))
        names.append("fweights")
    # (aweights of two observations cancel out of cov, so their gradient is rounding noise: three or more)
    if weights and observations > 2 and p.rng.random() < 0.3:
        pairs.append(p.leaf((observations,), p.rng.uniform(0.1, 2.0, observations)))
        names.append("aweights")
    if _cov_norm_factor(m.numpy(), correction, dict(zip(names, (pair[0].numpy() for pair in pairs[1:])))) <= 0:
        return None   # no degrees of freedom: cov divides by 0, so a rounding-level numerator decides NaN or ±inf
    p.text.append(f"  cov(correction={correction}, {', '.join(names)})")
    return _same(p, lambda lib, v, *w: lib.cov(v, correction=correction, **dict(zip(names, w))), *pairs)


OPS: dict = {
    "trig": pointwise(["tan", "asin", "acos", "atan"]),
    "hyperbolic": pointwise(["sinh", "cosh", "asinh", "acosh", "atanh"]),
    "special_unary": pointwise(["sinc", "erfc", "deg2rad", "rad2deg", "frac", "sgn"]),
    "logit": op_logit, "nan_to_num": op_nan_to_num, "binary_special": op_binary_special,
    "div_rounding": op_div_rounding, "addc": op_addc,
    "move": op_move, "tile_rotate": op_tile_rotate, "diagonal": op_diagonal, "take": op_take,
    "index_write": op_index_write, "masked_scatter": op_masked_scatter, "diff": op_diff,
    "stack_split": op_stack_split, "products": op_products, "cross": op_cross,
    "nan_reduction": op_nan_reduction, "spread_mean": op_spread_mean, "aminmax": op_aminmax,
    "kthvalue": op_kthvalue, "running_extreme": op_running_extreme, "logcumsumexp": op_logcumsumexp,
    "quantile": op_quantile, "median_mode": op_median_mode, "distance": op_distance, "cov": op_cov,
}
