"""Products with PyTorch's names: ``dot``, ``outer``, ``mm`` (and ``spmm``), ``addmm``, ``baddbmm`` and ``einsum``.

``einsum``'s backward is itself an einsum: the gradient of an operand is the
contraction of the output gradient with the other operands, written to that
operand's subscripts (indices it alone sums over are broadcast back).
"""

from __future__ import annotations

import operator
from typing import Any, Sequence

import numpy

from ..autograd import Function
from ..outputs import write_out
from ..recording import is_recording
from ..tensor import Tensor
from ._util import (
    FLOAT16,
    OUT_DTYPE,
    ArgumentTypeError,
    DtypeNotImplementedError,
    ShapeMismatchError,
    called_as,
    float16_in_float32,
    number,
    read_by_the_others,
    real_scalar,
    tensor_arg,
    unsupported,
)
from .elementwise import add, mul
from .linalg import MatMul, bmm
from .shape import astype, broadcast_to, reshape


def _shapes(name: str, a: Tensor, b: Tensor, want: str) -> ShapeMismatchError:
    return ShapeMismatchError(f"{name}: expects {want}, got shapes {a.shape} and {b.shape}")


def _named_product(name: str, a: Tensor, b: Tensor) -> Tensor:
    """``a @ b`` as one MatMul node named ``name`` (so its errors and graph node say ``dot``, ``mm`` …)."""
    op = MatMul()
    op.name = name
    return op(a, b)


def dot(input: Tensor, tensor: Tensor) -> Tensor:  # noqa: A002
    """The inner product of two 1-D tensors of the same length: a 0-d tensor (torch.dot)."""
    a, b = tensor_arg(input, "dot"), tensor_arg(tensor, "dot")
    if a.ndim != 1 or b.ndim != 1 or a.shape != b.shape:
        raise _shapes("dot", a, b, "two 1-D tensors of the same length")
    return _named_product("dot", a, b)


def outer(input: Tensor, vec2: Tensor) -> Tensor:  # noqa: A002
    """The outer product of 1-D tensors: (n,) and (m,) → (n, m) with out[i, j] = a[i] b[j] (torch.outer)."""
    a, b = tensor_arg(input, "outer"), tensor_arg(vec2, "outer")
    if a.ndim != 1 or b.ndim != 1:
        raise _shapes("outer", a, b, "two 1-D tensors")
    return mul(reshape(a, (-1, 1)), reshape(b, (1, -1)))


ger = outer


def mm(input: Tensor, mat2: Tensor, *, out_dtype: Any = None, out: Tensor | None = None) -> Tensor:  # noqa: A002
    """The matrix product of two 2-D tensors, (n, k) @ (k, m) → (n, m), no broadcasting (torch.mm)."""
    if out is not None:
        return write_out("mm", mm(input, mat2, out_dtype=out_dtype), out, "exact", inputs=(input, mat2),
                         overlap="any")   # (PyTorch's result is wrong when out shares a factor's memory)
    if out_dtype is not None:
        raise unsupported("mm", "out_dtype=", OUT_DTYPE)
    a, b = tensor_arg(input, "mm"), tensor_arg(mat2, "mm")
    if a.ndim != 2 or b.ndim != 2:
        raise _shapes("mm", a, b, "two 2-D tensors")
    return _named_product("mm", a, b)


def spmm(input: Tensor, mat2: Tensor) -> Tensor:  # noqa: A002
    """(n, k) @ (k, m) → (n, m), as torch.spmm (tkipf/pygcn's ``torch.spmm(adj, support)``). PyTorch's first
    matrix may be sparse; minigrad has dense tensors only (``mg.sparse_coo_tensor`` says so), so this is
    :func:`mm` under its own name."""
    a, b = tensor_arg(input, "spmm"), tensor_arg(mat2, "spmm")
    if a.ndim != 2 or b.ndim != 2:
        raise _shapes("spmm", a, b, "two 2-D tensors")
    return _named_product("spmm", a, b)


def _scaled_sum(name: str, x: Any, product: Tensor, beta: Any, alpha: Any) -> Tensor:
    """beta * x + alpha * product, x broadcast to the product's shape; x is ignored when beta is 0 (its
    NaN and inf do not propagate), as PyTorch. Integer tensors refuse a float beta or alpha (PyTorch's
    addr does; its addmm/addmv/addbmm/baddbmm truncate them to ints, silently); bool tensors read them as
    truth values (``(beta and x) or (alpha and product)``), as PyTorch's. A complex beta or alpha needs complex
    tensors, except one with no imaginary part (PyTorch converts it to the tensors' dtype). addr refuses a bool
    beta or alpha unless the tensors are bool, as PyTorch's. addmm, addmv and addbmm with alpha = 0 ignore the
    product's values as PyTorch's (its addr and baddbmm compute 0 · product, NaN from a NaN operand)."""
    x = tensor_arg(x, name)
    if name == "addr" and not x.dtype == product.dtype == numpy.bool_:
        for what, value in (("beta", beta), ("alpha", alpha)):
            if isinstance(value, (bool, numpy.bool_)):
                raise ArgumentTypeError(f"addr: a bool {what} ({value!r}) needs bool tensors, got {x.dtype} and "
                                        f"{product.dtype} (PyTorch: Boolean {what} only supported for Boolean results)")
    beta, alpha = (number(int(v) if isinstance(v, bool) else v, name, what, complex_ok=True)   # True: a Scalar
                   for v, what in ((beta, "beta"), (alpha, "alpha")))
    if x.dtype.kind != "c" and product.dtype.kind != "c":
        beta, alpha = (real_scalar(name, what, value, numpy.result_type(x.dtype, product.dtype))
                       for what, value in (("beta", beta), ("alpha", alpha)))
    if x.dtype.kind in "iub" and product.dtype.kind in "iub":
        for what, value in (("beta", beta), ("alpha", alpha)):
            if isinstance(value, float):
                raise ArgumentTypeError(f"{name}: for integer tensors {what} must be an int, got {value!r}")
        if x.dtype == product.dtype == numpy.bool_:
            beta, alpha = bool(beta), bool(alpha)
    try:
        fits = tuple(numpy.broadcast_shapes(x.shape, product.shape)) == product.shape
    except ValueError:
        fits = False
    if not fits:
        raise ShapeMismatchError(f"{name}: input of shape {x.shape} does not broadcast to the product's shape "
                                 f"{product.shape}")
    if alpha == 0 and name in ("addmm", "addmv", "addbmm"):
        # BLAS's gemm/gemv never read the product's operands when alpha is 0: their NaN and inf do not leak, as
        # PyTorch's (its gradients still are alpha times theirs: a NaN operand gives the other a NaN gradient)
        scaled = _zeros_linked_to(name, product)
    else:
        scaled = product if alpha == 1 else mul(product, alpha)
    if beta == 0 and x.requires_grad and is_recording():
        return add(scaled, _zeros_linked_to(name, x))   # x still gets a (zero) gradient, as PyTorch's
    if beta == 0:
        return scaled
    return add(x if beta == 1 else mul(x, beta), scaled)


class _Ignored(Function):
    """Zeros of x's shape and dtype (NaN and inf in x do not leak), whose gradient to x is PyTorch's for an input
    scaled by beta = 0: ``g * 0`` (zeros, NaN where g is inf or NaN)."""

    complex_grad = True   # g * 0 is the conjugate-convention gradient too (see autograd.engine._complex_gate)

    def forward(self, x: Any) -> Any:
        return self.xp.zeros_like(x)

    def backward(self, gy: Any) -> Any:
        return gy * 0


def _zeros_linked_to(name: str, x: Tensor) -> Tensor:
    """Zeros of x's shape and dtype, linked to x's graph as PyTorch's ``beta = 0`` input (see :class:`_Ignored`)."""
    op = _Ignored()
    op.name = name
    return op(x)


def _all_float16(*values: Any) -> bool:
    """Whether every one of ``values`` is a float16 tensor: PyTorch's float16 addmm and baddbmm compute in float32
    and round once (the product and the sum each rounded would land a float16 step off)."""
    return all(isinstance(v, Tensor) and v.dtype == FLOAT16 for v in values)


def addmm(input: Any, mat1: Tensor, mat2: Tensor, *, beta: Any = 1, alpha: Any = 1,  # noqa: A002
          out_dtype: Any = None) -> Tensor:
    """beta · x + alpha · (mat1 @ mat2): (n, k) @ (k, m), x broadcast to (n, m) (torch.addmm)."""
    if out_dtype is not None:
        raise unsupported("addmm", "out_dtype=", OUT_DTYPE)
    if _all_float16(input, mat1, mat2):
        return addmm(input.float(), mat1.float(), mat2.float(), beta=beta, alpha=alpha).half()
    try:
        return _scaled_sum("addmm", input, mm(mat1, mat2), beta, alpha)
    except ValueError as error:   # named as addmm, not its mm or add
        raise called_as("addmm", error, input, mat1, mat2) from None


def baddbmm(input: Any, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1,  # noqa: A002
            out_dtype: Any = None) -> Tensor:
    """beta · x + alpha · bmm(batch1, batch2): (B, n, k) @ (B, k, m), x broadcast to (B, n, m)."""
    if out_dtype is not None:
        raise unsupported("baddbmm", "out_dtype=", OUT_DTYPE)
    if _all_float16(input, batch1, batch2):
        return baddbmm(input.float(), batch1.float(), batch2.float(), beta=beta, alpha=alpha).half()
    try:
        return _scaled_sum("baddbmm", input, bmm(batch1, batch2), beta, alpha)
    except ValueError as error:   # named as baddbmm, not its bmm or add
        raise called_as("baddbmm", error, input, batch1, batch2) from None


# --- einsum ----------------------------------------------------------------------------------------

def _parse(equation: str, operands: tuple) -> tuple:
    """``(input subscripts, output subscripts)`` with ``...`` spelled out as capital letters and the
    implicit output (the indices seen once, sorted) made explicit."""
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a str, got {type(equation).__name__}")
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(operands):
        raise ShapeMismatchError(f"einsum: the equation {equation!r} has {len(inputs)} operands but {len(operands)} "
                                 "tensors were given")
    ellipsis_dims = max((t.ndim - len(sub.replace("...", "")) for sub, t in zip(inputs, operands)
                         if "..." in sub), default=0)
    # letters the equation does not use name the dims of '...'
    spare = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in eq]
    spelled = []
    for sub, t in zip(inputs, operands):
        letters = sub.replace("...", "")
        if not letters.isalpha() and letters:
            raise ShapeMismatchError(f"einsum: subscripts must be letters (and '...'), got {sub!r} in {equation!r}")
        if sub.count("...") > 1:
            raise ShapeMismatchError(f"einsum: more than one ellipsis in the subscripts {sub!r} of {equation!r}")
        if "..." in sub:
            extra = t.ndim - len(letters)
            if extra < 0:
                raise ShapeMismatchError(f"einsum: {sub!r} has more indices than the operand's {t.ndim} dims")
            sub = sub.replace("...", "".join(spare[ellipsis_dims - extra:ellipsis_dims]))
        if len(sub) != t.ndim:
            raise ShapeMismatchError(f"einsum: subscripts {sub!r} for an operand of shape {t.shape} in {equation!r}")
        spelled.append(sub)
    broadcast = "".join(spare[:ellipsis_dims])
    if arrow:
        if rhs.count("...") > 1:
            raise ShapeMismatchError(f"einsum: more than one ellipsis in the output subscripts {rhs!r}")
        out = rhs.replace("...", broadcast)
        if not out.isalpha() and out:
            raise ShapeMismatchError(f"einsum: output subscripts must be letters, got {rhs!r}")
        if len(set(out)) != len(out):
            raise ShapeMismatchError(f"einsum: output subscript repeated in {rhs!r}")
        seen = set("".join(spelled))
        for letter in out:
            if letter not in seen:
                raise ShapeMismatchError(f"einsum: output subscript {letter!r} does not appear in the inputs")
    else:
        counts: dict = {}
        for letter in "".join(spelled):
            counts[letter] = counts.get(letter, 0) + 1
        out = broadcast + "".join(sorted(k for k, v in counts.items() if v == 1 and k not in broadcast))
    return spelled, out


def diagonal_expansion(sub: str) -> tuple:
    """For an operand's subscripts ``sub`` that repeat an index (``"bii"``: it is read on its diagonal): its
    letters once (``"bi"``), one pair per repeat that ties a fresh letter to the repeated one (``["ij"]``), and
    ``sub`` with the repeats renamed (``"bij"``). ``einsum("bi,ij->bij", g, eye)`` writes a gradient g indexed
    by the letters once back on that diagonal, zeros elsewhere."""
    spare = (c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in sub)
    pairs, renamed = [], ""
    for i, letter in enumerate(sub):
        fresh = next(spare) if letter in sub[:i] else letter
        if fresh != letter:
            pairs.append(letter + fresh)
        renamed += fresh
    return "".join(dict.fromkeys(sub)), pairs, renamed


_AT_ONCE = 16   # operands one NumPy einsum call contracts, at most (NumPy takes fewer than 64; its path search slows)
_LARGE = 1 << 14   # elements of an operand from which a pair is contracted by NumPy's optimize=True (BLAS)


def _contract(xp: Any, inputs: list, output: str, arrays: Sequence[Any]) -> Any:
    """``xp.einsum`` of ``inputs -> output`` (subscripts without ``...``) on ``arrays``, any number of them: more
    than :data:`_AT_ONCE` are contracted a group at a time, left to right (as PyTorch's, which takes any number),
    each group down to the indices the rest or the output still need."""
    inputs, arrays = list(inputs), list(arrays)
    while len(arrays) > _AT_ONCE:
        head, rest = inputs[:_AT_ONCE], inputs[_AT_ONCE:]
        needed = set(output).union(*rest)
        kept = "".join(dict.fromkeys(letter for sub in head for letter in sub if letter in needed))
        part = xp.einsum(",".join(head) + "->" + kept, *arrays[:_AT_ONCE], optimize=True)
        inputs, arrays = [kept, *rest], [part, *arrays[_AT_ONCE:]]
    # NumPy's optimize=True contracts a pair with BLAS (tensordot) where it can: 13x faster for a 1000x1000 "ij,jk"
    # than its own loops; its path search costs ~30 µs a call, so small pairs keep the loops
    large = max((a.size for a in arrays), default=0) >= _LARGE
    return xp.einsum(",".join(inputs) + "->" + output, *arrays, optimize=len(arrays) > 2 or large)


class Einsum(Function):
    # multilinear, so holomorphic in each operand: PyTorch's gradient conjugates the others (autograd.engine)
    complex_grad = "holomorphic"

    def __init__(self, inputs: list, output: str) -> None:
        self.inputs, self.output = inputs, output
        # an operand read on a diagonal (an index repeated in its subscripts): how its gradient goes back there
        self.diagonals = [diagonal_expansion(s) if len(set(s)) != len(s) else None for s in inputs]

    def forward(self, *arrays: Any) -> Any:
        # an operand's gradient reads the others' values and its own shape and dtype only: each operand is kept
        # where another one takes a gradient (as PyTorch's), the shapes and dtypes always (``metas``)
        needs = self.needs_grad or (True,) * len(arrays)
        wanted = sum(needs)
        self.saved = tuple(a if wanted - needs[k] else None for k, a in enumerate(arrays))
        self.metas = tuple((a.shape, a.dtype) for a in arrays)
        if all(a.dtype == FLOAT16 for a in arrays):   # in float32, rounded once, as PyTorch's (NumPy's rounds often)
            return self.xp.asarray(float16_in_float32(lambda *a: _contract(self.xp, self.inputs, self.output, a),
                                                      *arrays))
        return self.xp.asarray(_contract(self.xp, self.inputs, self.output, arrays))

    def backward(self, gy: Any) -> tuple:
        xp, arrays = self.xp, self.saved   # (None where no gradient reads it: see forward)
        grads = []
        for k, (sub, (array_shape, array_dtype)) in enumerate(zip(self.inputs, self.metas)):
            if not self.needs_grad[k]:
                grads.append(None)
                continue
            others = [(s, a) for j, (s, a) in enumerate(zip(self.inputs, arrays)) if j != k]
            available = set(self.output).union(*(set(s) for s, _ in others))
            diagonal = self.diagonals[k]
            once = sub if diagonal is None else diagonal[0]   # a repeated index once: the diagonal's gradient
            shape = tuple(array_shape[sub.index(letter)] for letter in once)
            kept = "".join(letter for letter in once if letter in available)
            subs = [self.output] + [s for s, _ in others]
            factors = [gy, *[a for _, a in others]]
            if all(a.dtype == FLOAT16 for a in factors):
                g = xp.asarray(float16_in_float32(lambda *a, subs=subs, kept=kept: _contract(xp, subs, kept, a),
                                                  *factors))
            else:
                g = xp.asarray(_contract(xp, subs, kept, factors))
            # a broadcast (size-1) '...' dim of this operand sums back
            squeezed = tuple(i for i, letter in enumerate(kept) if shape[once.index(letter)] == 1 != g.shape[i])
            if squeezed:
                g = g.sum(axis=squeezed, keepdims=True)
            # indices only this operand had were summed in the forward: every element got all of gy
            g = xp.broadcast_to(g.reshape(tuple(n if c in available else 1 for n, c in zip(shape, once))), shape)
            if diagonal is not None:   # back onto the diagonal the forward read, zeros elsewhere
                _, pairs, renamed = diagonal
                eyes = [xp.eye(array_shape[sub.index(pair[0])], dtype=g.dtype) for pair in pairs]
                g = xp.einsum(",".join([once, *pairs]) + "->" + renamed, g, *eyes)
            if g.dtype.kind == "c" and array_dtype.kind != "c":   # a real operand of a complex product
                g = g.real
            grads.append(g.astype(array_dtype, copy=True))
        return tuple(grads)

    kept_for_backward = read_by_the_others   # an operand's gradient reads the others' values, its own shape only


def _sublist_letters(sublist: Any) -> str:
    """A sublist of the sublist form (``[0, 1]``, ``[Ellipsis, 2]``) as subscripts: 0-25 are 'A'-'Z', 26-51
    'a'-'z', as PyTorch's."""
    if not isinstance(sublist, (list, tuple)):
        raise TypeError(f"einsum: in the sublist form each operand is followed by a list of subscripts, got "
                        f"{type(sublist).__name__}")
    letters = ""
    for n in sublist:
        if n is Ellipsis:
            letters += "..."
            continue
        try:   # any integer (a NumPy one, True as 1), as PyTorch's
            n = operator.index(n)
        except TypeError:
            raise TypeError(f"einsum: a subscript in a sublist must be an int, got {n!r:.40}") from None
        if not 0 <= n < 52:
            raise ValueError(f"einsum(): subscript in subscript list is not within the valid range [0, 52), got "
                             f"{n!r}")
        letters += chr(ord("A") + n) if n < 26 else chr(ord("a") + n - 26)
    return letters


def _sublist_equation(args: tuple) -> tuple:
    """``einsum(a, [0, 1], b, [1, 2], [0, 2])`` (operands each followed by its sublist, then an optional output
    sublist) as ``("Ab,bc->Ac"-like equation, operands)``."""
    pairs = args[:len(args) - len(args) % 2]
    operands = pairs[0::2]
    equation = ",".join(_sublist_letters(s) for s in pairs[1::2])
    if len(args) % 2:
        equation += "->" + _sublist_letters(args[-1])
    return equation, operands


def einsum(equation: Any, *operands: Any) -> Tensor:
    """Einstein summation as torch.einsum: ``einsum("bij,bjk->bik", a, b)``; operands may also come as one
    list, or in the sublist form ``einsum(a, [0, 1], b, [1, 2], [0, 2])`` (0-25 name 'A'-'Z', 26-51 'a'-'z',
    ``Ellipsis`` is '...'). Explicit (``->``) and implicit outputs and ``...`` work, and an index repeated inside
    one operand reads its diagonal (``einsum("ii", K)`` is the trace, ``einsum("bii->bi", K)`` the diagonals). A
    dim of size 1 broadcasts against the same index's size in the other operands, as PyTorch's."""
    if not isinstance(equation, str) and operands:   # the sublist form
        equation, operands = _sublist_equation((equation, *operands))
    elif len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ShapeMismatchError("einsum: give at least one operand")
    tensors = tuple(tensor_arg(t, "einsum") for t in operands)
    inputs, output = _parse(equation, tensors)
    for index, (sub, t) in enumerate(zip(inputs, tensors)):
        for letter in set(sub):
            sizes = {t.shape[i] for i, seen in enumerate(sub) if seen == letter}
            if len(sizes) > 1:
                raise ShapeMismatchError(f"einsum: subscript {letter!r} is repeated for operand {index} but the sizes "
                                         f"don't match, {' != '.join(map(str, sorted(sizes)))} ({equation!r}, "
                                         f"shape {t.shape})")
    size = {}
    for letter in set("".join(inputs)):
        sizes = {t.shape[s.index(letter)] for s, t in zip(inputs, tensors) if letter in s}
        if len(sizes - {1}) > 1:
            raise ShapeMismatchError(f"einsum: index {letter!r} has sizes {sorted(sizes)} in {equation!r} "
                                     f"(shapes {[t.shape for t in tensors]})")
        size[letter] = min(sizes - {1}, default=1)
    shapes = [t.shape for t in tensors]
    # a dim of size 1 broadcasts to its index's size in the other operands, as PyTorch's (its gradient sums back)
    tensors = tuple(t if t.shape == (wanted := tuple(size[letter] for letter in s)) else broadcast_to(t, wanted)
                    for s, t in zip(inputs, tensors))
    operands = _summed_integers(inputs, output, tensors, shapes)
    summed = "".join(sorted(letter for letter in set("".join(inputs)) - set(output) if size[letter] > 1))
    if len(operands) > 1 and all(t.dtype.kind == "b" for t in operands) and summed and all(size[c] for c in output):
        # a contraction of bools: PyTorch's runs bmm, which has no bool kernel (NumPy's would OR the ANDs); an index
        # of size 1 is only squeezed, one of size 0 gives an empty product (False), and an empty result runs no bmm
        raise DtypeNotImplementedError(f"einsum: not implemented for 'Bool' (bool operands summed over {summed!r} in "
                                       f"{equation!r}), as in PyTorch")
    return Einsum(inputs, output)(*operands)


def _summed_integers(inputs: list, output: str, tensors: tuple, shapes: list) -> tuple:
    """Integer and bool operands as PyTorch's einsum takes them: it first sums an operand over the indices only
    it has (not in the output, and of size 1 in every other operand that has them; ``shapes`` are the operands'
    own, before broadcasting) with ``sum``, which gives int64; a lone operand, over every index not in the
    output. Then the result is int64 (exact where the narrow dtype would wrap around) and the operands are cast
    to it; PyTorch itself refuses some of those mixes, minigrad computes them. Beside a floating or complex
    operand nothing is cast: the result promotes to that dtype (PyTorch's ``sum`` first widens the integers it
    sums, never the floats)."""
    if all(t.dtype.kind not in "biu" or t.dtype == numpy.int64 for t in tensors) \
            or any(t.dtype.kind in "fc" for t in tensors):
        return tensors
    for k, (sub, shape) in enumerate(zip(inputs, shapes)):
        for letter in set(sub) - set(output):
            others = [shapes[j][s.index(letter)] for j, s in enumerate(inputs) if j != k and letter in s]
            if len(tensors) == 1 or (shape[sub.index(letter)] != 1 and all(n == 1 for n in others)):
                return tuple(astype(t, numpy.int64) for t in tensors)
    return tensors
