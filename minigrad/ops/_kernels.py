"""Building blocks for elementwise kernels written from array ops (the same code runs on NumPy and CuPy): a
function made of pieces, each piece evaluated only on its own elements (:func:`pieces`, :func:`where_split`), a
branch-free choice between two arrays (:func:`select`), a long array run through in cache-sized chunks
(:func:`chunked`), and a square split so that its leading part is exact (:func:`split_square`).

The erf family (``error_function.py``, ``special_functions.py``), lgamma (``gamma.py``), the Bessel functions and
nn's hardswish are built on them. Each gives the bits ``xp.where`` over whole arrays would give.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from .. import backend


def pieces(xp: Any, key: Any, edges: Sequence[float], functions: Sequence[Callable], *values: Any) -> Any:
    """``functions[k](*values)`` on the elements with ``edges[k-1] <= key < edges[k]`` (the last function takes the
    rest, NaN keys too), each run on its own elements only and not at all where it has none; a new array of
    ``key``'s shape in the functions' dtype (they must give one dtype). ``values``: arrays of ``key``'s shape
    (``key`` itself when none given). On the host the elements are gathered by index (``flatnonzero`` + ``take``:
    a boolean index or ``where`` over a random mask is several times slower in NumPy); on a GPU every function runs
    on every element, chosen by ``where`` (a boolean index there reads its count back to the host), so each must
    give finite junk outside its piece."""
    values = values or (key,)
    if xp is not backend.numpy:
        out = functions[-1](*values)
        for edge, function in zip(reversed(edges), reversed(functions[:-1])):
            out = xp.where(key < edge, function(*values), out)
        return out
    keys = key.reshape(-1)
    which = xp.zeros(keys.shape, dtype=xp.int8)   # each element's piece: how many edges lie at or below its key
    for edge in edges:
        xp.add(which, keys >= edge, out=which, casting="unsafe")
    which[xp.isnan(keys)] = len(edges)
    return _gathered(xp, key.shape, which, functions, values)


def where_split(xp: Any, mask: Any, if_true: Callable, if_false: Callable, x: Any) -> Any:
    """``xp.where(mask, if_true(x), if_false(x))`` (``mask``: ``x``'s shape) with each function run on its own
    elements of ``x`` only, as :func:`pieces` (for a mask no ``key < edge`` spells, such as ``a <= 30``), so a
    series or continued fraction that one branch needs is not run over the whole array; the same bits, as long as
    both give one dtype. On a GPU both run on every element."""
    if xp is not backend.numpy:
        return xp.where(mask, if_true(x), if_false(x))
    return _gathered(xp, x.shape, mask.reshape(-1), (if_false, if_true), (x,))   # piece 0: mask False


def _gathered(xp: Any, shape: tuple, which: Any, functions: Sequence[Callable], values: tuple) -> Any:
    """On the host: ``functions[k](*values)`` on the elements where the flat ``which`` is k, gathered by index,
    into a new array of ``shape``; a function with no elements is not run; one with all of them on the whole
    (flattened) arrays, which may be views of ``values``: the functions must not write to their arguments."""
    flats = [v.reshape(-1) for v in values]
    out = None   # an array of its own (not a view: the engine refuses in-place changes of untracked views)
    for piece, function in enumerate(functions):
        inside = xp.flatnonzero(which == piece)
        if inside.size == which.size:
            result = xp.asarray(function(*flats))
            if result.shape == shape and result.base is None:
                return result
            out = xp.empty(shape, dtype=result.dtype)
            out.reshape(-1)[...] = result.reshape(-1)
            return out
        if inside.size:
            part = function(*(flat.take(inside) for flat in flats))
            if out is None:
                out = xp.empty(shape, dtype=part.dtype)
            out.reshape(-1)[inside] = part
    return out


def select(xp: Any, mask: Any, if_true: Any, if_false: Any) -> Any:
    """``xp.where(mask, if_true, if_false)`` bit for bit; for two float32 or float64 arrays of the mask's shape on
    the host by bit masks (NumPy's ``where`` branches on each element: 3× slower over a random mask)."""
    if_true, if_false = xp.asarray(if_true), xp.asarray(if_false)
    if (xp is not backend.numpy or if_true.dtype != if_false.dtype or if_true.dtype.itemsize not in (4, 8)
            or not if_true.shape == if_false.shape == xp.shape(mask) or not if_true.shape):
        return xp.where(mask, if_true, if_false)
    bits = xp.int64 if if_true.dtype.itemsize == 8 else xp.int32
    chosen = mask.astype(bits)
    xp.negative(chosen, out=chosen)   # all ones where mask
    low = if_false.view(bits)
    out = xp.empty(if_true.shape, dtype=if_true.dtype)   # its own memory, written through an integer view
    word = out.view(bits)
    xp.bitwise_xor(if_true.view(bits), low, out=word)
    word &= chosen
    word ^= low
    return out


CHUNK = 1 << 16   # elements per chunk (512 KiB of float64)


def chunked(xp: Any, function: Callable, x: Any, *others: Any) -> Any:
    """``function(x, *others)`` (elementwise) run over ``CHUNK`` elements at a time on the host, so that its dozens
    of temporaries stay in the cache and NumPy reuses their memory (1e6 float64 erf: 20 ms whole, 10 ms chunked); on
    a GPU in one go. ``others``: arrays of ``x``'s shape, chunked alike, or scalars and 0-d arrays, given whole (any
    other shape: no chunks). The same values bit for bit, in a new array of ``x``'s shape."""
    shapes = [getattr(other, "shape", ()) for other in others]
    if xp is not backend.numpy or x.size <= CHUNK or any(shape not in ((), x.shape) for shape in shapes):
        return function(x, *others)
    flats = [x.reshape(-1)] + [other.reshape(-1) if shape else other for other, shape in zip(others, shapes)]
    out = filled = None   # its own memory (a view would be refused in-place changes)
    for start in range(0, x.size, CHUNK):
        part = function(*(flat[start:start + CHUNK] if getattr(flat, "ndim", 0) else flat for flat in flats))
        if out is None:
            out = xp.empty(x.shape, dtype=part.dtype)
            filled = out.reshape(-1)
        filled[start:start + CHUNK] = part
    return out


def split_square(xp: Any, a: Any) -> tuple:
    """a² as z² + (a - z)(a + z), z = a with the low half of its mantissa cleared: (z², (a - z)(a + z)), z² exact,
    and -z² - 0.5625 too (float32: 11 bits of z kept). A float64 or float32 array."""
    bits = xp.int64 if a.dtype.itemsize == 8 else xp.int32
    z = (a.view(bits) & (-(1 << 32) if a.dtype.itemsize == 8 else -(1 << 13))).view(a.dtype)
    return z * z, (a - z) * (a + z)
