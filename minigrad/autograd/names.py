"""PyTorch's names of graph nodes, for ``grad_fn.name()``.

A node's ``name`` is minigrad's op name (``"mul"``, ``"matmul"``), the string the
visualiser, anomaly messages, ``repr`` (``grad_fn=<mul>``) and ``mg.compile`` read.
It is an :class:`OpName`: a ``str`` equal to that name in every way (``==``,
hashing, formatting, ``in``), which called gives PyTorch's spelling of the node,
``node.name() == "MulBackward0"``, so the graph walks that PyTorch tutorials teach
print PyTorch's names.

Each ``Function`` subclass gets its ``OpName`` once, when the class is made
(``Function.__init_subclass__``). An op that names its node per call (``op.name =
"sum"``) stores a plain ``str``; ``Tensor.grad_fn`` and ``next_functions`` swap it
for an equal ``OpName`` when they hand the node out (:func:`named`), so the ops'
forward path pays nothing. Where PyTorch's node depends on the call (``x.sum()``
is ``SumBackward0``, ``x.sum(0)`` is ``SumBackward1``; ``matmul`` is ``MmBackward0``
for two matrices, ``MvBackward0`` for a matrix and a vector), :func:`named` reads
the node (its axis, its inputs' shapes) the same way.
"""

from __future__ import annotations

from typing import Any

__all__ = ["OpName", "named", "pytorch_edges", "pytorch_slots", "pytorch_spelling", "respelled", "spelled"]


class OpName(str):
    """An op's name (a ``str``: ``"matmul"``) that, called, gives PyTorch's (``"MmBackward0"``).

    ``pytorch``: PyTorch's spelling; by default :func:`pytorch_spelling` of the name.
    """

    pytorch: str

    def __new__(cls, name: str, pytorch: str | None = None) -> OpName:
        self = super().__new__(cls, name)
        self.pytorch = pytorch_spelling(name) if pytorch is None else pytorch
        return self

    def __call__(self) -> str:
        """PyTorch's name of the node, as ``torch``'s ``grad_fn.name()``: ``"MulBackward0"``."""
        return self.pytorch


# where PyTorch's node has another name than our op's, CamelCased (without "Backward0")
_SPELLINGS = {
    "matmul": "Mm", "concat": "Cat", "clip": "Clamp", "clamp": "Clamp", "astype": "ToCopy", "to_device": "ToCopy",
    "reshape": "View", "flatten": "View", "ravel": "View", "broadcast_to": "Expand", "chunk": "Split",
    "norm": "LinalgVectorNorm", "getitem": "Slice", "linalg.norm": "LinalgVectorNorm",
    "contiguous": "Clone", "movedim": "Permute", "log1p": "Log1P", "medianall": "Median", "nanmean": "Div",
    # PyTorch's linalg functions record the node of the op they call: the _ex variant, the full decomposition
    "linalg.inv": "LinalgInvEx", "linalg.cholesky": "LinalgCholeskyEx", "linalg.solve": "LinalgSolveEx",
    "linalg.lu_factor": "LinalgLuFactorEx", "linalg.svdvals": "LinalgSvd", "linalg.eigvalsh": "LinalgEigh",
    "linalg.eigvals": "LinalgEig",
    "fft_c2c": "FftC2C", "fft_r2c": "FftR2C", "fft_c2r": "FftC2R", "real": "Select", "imag": "Select",
    "tensor_split": "Slice", "unflatten": "View", "take_along_dim": "Gather", "pad": "ConstantPadNd",
    # the functions PyTorch has only in torch.special record torch.special's nodes
    "log_ndtr": "SpecialLogNdtr", "ndtri": "SpecialNdtri", "i0e": "SpecialI0E", "i1": "SpecialI1",
    "i1e": "SpecialI1E", "xlog1py": "SpecialXlog1Py", "entr": "SpecialEntr", "zeta": "SpecialZeta",
    "erfcx": "SpecialErfcx", "gammainc": "Igamma", "gammaincc": "Igammac",
}
# where PyTorch's overload number is not 0 (its second signature: a dim, a scalar bound)
_NUMBERED = {"clip": 1, "clamp": 1, "max": 1, "min": 1, "median": 1, "squeeze": 1}


def pytorch_spelling(name: str) -> str:
    """PyTorch's node name for the op ``name``: ``"log_softmax"`` → ``"LogSoftmaxBackward0"``.

    The op's name CamelCased (``_`` and ``.`` separate words), or the PyTorch op it
    is where the two differ (``"matmul"`` → ``"MmBackward0"``), then ``Backward``
    and PyTorch's overload number (0 for most).
    """
    camel = _SPELLINGS.get(name)
    if camel is None:
        camel = "".join(word[:1].upper() + word[1:] for word in name.replace(".", "_").split("_"))
    return f"{camel}Backward{_NUMBERED.get(name, 0)}"


_CACHE: dict = {}


def _op_name(name: str, pytorch: str | None = None) -> OpName:
    """One shared :class:`OpName` per ``(name, pytorch)``: handing nodes out allocates nothing after the first."""
    key = (name, pytorch)
    found = _CACHE.get(key)
    if found is None:
        if len(_CACHE) > 10_000:   # names made per call (a custom Function's class) cannot grow it forever
            _CACHE.clear()
        found = _CACHE[key] = OpName(name, pytorch)
    return found


def spelled(name: str, pytorch: str) -> OpName:
    """The op name ``name`` whose PyTorch spelling is ``pytorch`` (shared, made once): an op sets it as its
    node's ``name`` where PyTorch's node depends on the call (``x.squeeze(0)`` is ``SqueezeBackward1``)."""
    return _op_name(name, pytorch)


def respelled(out: Any, input: Any, name: str, pytorch: str) -> Any:  # noqa: A002
    """``out`` (a Tensor an op made from ``input``), its new node, made by the op ``name``, spelled ``pytorch``
    in PyTorch's terms (``clamp_min`` runs ``clip``: ``ClampMinBackward0``); returns ``out``."""
    node = out._node
    if node is not None and out is not input and node.name == name:
        node.name = _op_name(name, pytorch)
    return out


def named(node: Any) -> Any:
    """``node``, its ``name`` an :class:`OpName` whose PyTorch spelling fits this call; returns the node.

    Cheap when there is nothing to do (a class's own name that does not depend on
    the call): ``Tensor.grad_fn`` calls it on every access.
    """
    name = node.name
    if type(name) is str or (name in _BY_NODE and "name" not in node.__dict__):
        rule = _BY_NODE.get(name)
        try:
            pytorch = rule(node) if rule is not None else _custom_spelling(node)
        except (AttributeError, TypeError, IndexError, ValueError):   # a node of another shape: the usual spelling
            pytorch = None
        node.name = _op_name(str(name), pytorch)
    return node


def _custom_spelling(node: Any) -> str | None:
    """``"MyFnBackward"`` for a node of a PyTorch-style ``MyFn.apply(...)``, as PyTorch names it; else None."""
    op = getattr(node, "op", None)
    if getattr(node, "ctx", None) is not None and isinstance(op, type) and node.name == op.__name__:
        return f"{op.__name__}Backward"
    return None


# --- names that depend on the call ------------------------------------------------------------------------------

def _input_ndims(node: Any) -> list:
    """The number of dims of each input of ``node`` (None where unknown: a constant, once saved arrays are freed)."""
    saved = node.saved
    if type(saved) is tuple and len(saved) == len(node.edges) and all(hasattr(a, "ndim") for a in saved):
        return [a.ndim for a in saved]
    ndims = []
    for edge in node.edges:
        if type(edge) is tuple:
            meta = edge[0].out_meta
            ndims.append(len(meta[edge[1]][0]) if len(meta) > edge[1] else None)
        else:
            ndims.append(None if edge is None else edge.ndim)
    return ndims


def _matmul(node: Any) -> str:
    """PyTorch's ``matmul`` picks a kernel by the operands' dims: dot, mv, mm, or a folded mm/bmm and a view."""
    a, b = (_input_ndims(node) + [None, None])[:2]
    if a is None or b is None:   # a constant operand whose array was freed: the output's dims tell most
        out = len(node.out_meta[0][0]) if node.out_meta else 2
        return {0: "DotBackward0", 1: "MvBackward0", 2: "MmBackward0"}.get(out, "UnsafeViewBackward0")
    if a > 2 or b > 2:
        return "UnsafeViewBackward0"
    return {(1, 1): "DotBackward0", (2, 1): "MvBackward0", (1, 2): "SqueezeBackward4"}.get((a, b), "MmBackward0")


def _reduction(node: Any) -> str:
    """``x.sum()`` is ``SumBackward0``, ``x.sum(dim)`` ``SumBackward1`` (mean, prod the same); max/min the reverse."""
    axis = getattr(node, "axis", getattr(node, "axes", None))
    camel = pytorch_spelling(node.name)[:-len("Backward0")]
    if node.name in ("max", "min"):   # PyTorch's max(dim) (values, indices) is overload 0, max() overload 1
        return f"{camel}Backward{0 if axis is not None else 1}"
    return f"{camel}Backward{0 if axis is None else 1}"


def _getitem(node: Any) -> str:
    """PyTorch indexes dim by dim; the node is the last step's: an int selects, a slice slices, None unsqueezes."""
    if not getattr(node, "basic", True):
        return "IndexBackward0"
    index = node.index if type(node.index) is tuple else (node.index,)
    for item in reversed(index):
        if item is None:
            return "UnsqueezeBackward0"
        if isinstance(item, slice):
            if item != slice(None):
                return "SliceBackward0"
        elif item is not Ellipsis:
            return "SelectBackward0"
    return "AliasBackward0"


def _transpose(node: Any) -> str:
    """``x.T`` (all dims reversed) is PyTorch's permute; ``transpose(d0, d1)`` its transpose."""
    return "PermuteBackward0" if getattr(node, "axes", None) is None else "TransposeBackward0"


def _pow(node: Any) -> str:
    """``x ** 2`` is ``PowBackward0``, ``x ** y`` ``PowBackward1`` (y a tensor, needing grad or not), ``2 ** x``
    ``PowBackward2``. The node keeps its operands (arrays, or the number) in ``saved`` until its backward."""
    saved = node.saved
    if type(saved) is tuple and len(saved) >= 2:
        base, exponent = (hasattr(operand, "ndim") for operand in saved[:2])
    else:   # freed by a backward: the edges tell a tensor that needs grad only
        base, exponent = (edge is not None for edge in (list(node.edges) + [None, None])[:2])
    if not exponent:
        return "PowBackward0"
    return "PowBackward2" if not base else "PowBackward1"


def _tensor_operand(node: Any) -> str:
    """``fmod``/``remainder`` by a tensor are PyTorch's overload 1 (by a number 0); ``clamp`` with a tensor bound
    its overload 0 (number bounds 1). The node keeps the operand (an array, or the number) in ``saved``."""
    camel = pytorch_spelling(node.name)[:-len("Backward0")]
    if node.name in ("fmod", "remainder"):
        return f"{camel}Backward{1 if hasattr(node.saved[1], 'ndim') else 0}"
    return f"{camel}Backward{0 if any(hasattr(bound, 'ndim') for bound in node.saved[1:]) else 1}"


def _input_dtypes(node: Any) -> list:
    """The dtype of each input of ``node`` (None where unknown: a constant)."""
    dtypes = []
    for edge in node.edges:
        if type(edge) is tuple:
            meta = edge[0].out_meta
            dtypes.append(meta[edge[1]][1] if len(meta) > edge[1] else None)
        else:
            dtypes.append(getattr(edge, "dtype", None))
    return dtypes


def _fft(node: Any) -> str:
    """PyTorch transforms a real input of a one-dim ``fft`` one-sided (``FftR2CBackward0``), and takes the
    conjugate of that for ``ifft``/``ihfft`` (``ConjBackward0``); over more dims it transforms complex."""
    real = [dtype is not None and dtype.kind != "c" for dtype in _input_dtypes(node)] == [True]
    if node.name == "fft_c2c" and not (real and len(node.axes) == 1):
        return "FftC2CBackward0"
    if getattr(node, "inverse", False) or getattr(node, "conjugate", False):
        return "ConjBackward0" if len(node.axes) == 1 else "FftC2CBackward0"
    return "FftR2CBackward0"


def _setitem(node: Any) -> str:
    """PyTorch's ``x[index] = value``: an index that only views x whole (``:``, ``...``) fills or copies x
    itself; one of index arrays only puts into x (``IndexPutBackward0``); any other first takes a view and
    writes into it (``CopySlices``). The node's index is after ``_index_arrays``: arrays, ints, slices."""
    index = node.index if type(node.index) is tuple else (node.index,)
    shape, viewed, advanced = node.out_meta[0][0], False, False
    at = 0   # the dim an item indexes: from the start before an Ellipsis, from the end after it
    for position, item in enumerate(index):
        if item is Ellipsis:
            at = len(shape) - sum(_dims_taken(rest) for rest in index[position + 1:])
        elif getattr(item, "ndim", 0):
            advanced = True
        elif isinstance(item, slice):
            viewed = viewed or item.indices(shape[at]) != (0, shape[at], 1)
        else:   # an int, None, a bool
            viewed = True
        at += _dims_taken(item) if item is not Ellipsis else 0
    if viewed:
        return "torch::autograd::CopySlices"
    if advanced:
        return "IndexPutBackward0"
    return "FillBackward3" if tuple(node.value_shape) == () else "torch::autograd::CopyBackwards"


def _dims_taken(item: Any) -> int:
    """How many dims of the indexed tensor an index item takes: a bool mask its dims, None and a bool none."""
    if item is None or isinstance(item, bool) or item is Ellipsis:
        return 0
    return item.ndim if getattr(item, "dtype", None) is not None and item.dtype.kind == "b" else 1


_BY_NODE = {"matmul": _matmul, "sum": _reduction, "mean": _reduction, "prod": _reduction, "max": _reduction,
            "min": _reduction, "getitem": _getitem, "transpose": _transpose, "pow": _pow, "fmod": _tensor_operand,
            "remainder": _tensor_operand, "clip": _tensor_operand, "clamp": _tensor_operand, "fft_c2c": _fft,
            "fft_r2c": _fft, "setitem": _setitem,
            # a scalar value (no src) is PyTorch's overload 1; a Tensor weight of lerp (no number) too
            "scatter": lambda node: f"ScatterBackward{int(node.src_shape is None)}",
            "lerp": lambda node: f"LerpBackward{int(node.weight is None)}",
            "nanmedian": lambda node: f"NanmedianBackward{int(getattr(node, 'axis', None) is not None)}",
            # torch.diag of a vector builds a matrix with diag_embed; of a matrix it takes a (copied) diagonal
            "diag": lambda node: "DiagEmbedBackward0" if len(node.in_shape) == 1 else "DiagonalBackward0_copy",
            # nn's max and average pools (one op each, nn._conv.MaxPool, AvgPool): PyTorch's 2-D/3-D node (its 1-D
            # one pools in 2-D and squeezes, so its node is a SqueezeBackward1: ours keeps the usual spelling there)
            "max_pool": lambda node: f"MaxPool{len(node.unfold.kernel)}DWithIndicesBackward0"
            if len(node.unfold.kernel) > 1 else None,
            "avg_pool": lambda node: f"AvgPool{len(node.unfold.kernel)}DBackward0" if len(node.unfold.kernel) > 1
            else None}


# --- next_functions: the inputs PyTorch's node has an edge for ---------------------------------------------------

# Our node has one edge per input of the op; PyTorch's has one per differentiable Tensor argument of its
# overload: none for a condition or mask, an index, or a Python number (a Scalar argument). By PyTorch's
# node name, the positions of our inputs that its node keeps, in its order.
_EDGES = {
    "WhereBackward0": (1, 2),                                   # where(condition, x, y)
    "MaskedFillBackward0": (2,), "MaskedFillBackward1": (2, 1),   # masked_fill(mask, value, x)
    "IndexFillBackward0": (2,), "IndexFillBackward1": (2, 1),     # index_fill(index, value, x)
    "MaskedScatterBackward0": (0, 2),                           # masked_scatter(x, mask, source)
    "ScatterBackward1": (0,),                                   # scatter(x, value) of a number value
    "PowBackward0": (0,), "PowBackward2": (1,), "RsubBackward1": (1,),
    "RemainderBackward0": (0,), "FmodBackward0": (0,),
    "ClampBackward1": (0,), "ClampMinBackward0": (0,), "ClampMaxBackward0": (0,),
    "GeluBackward0": (0,),                                      # gelu(x, cdf): the exact form's Φ(x), no graph
}


# PyTorch's node has an edge (None) for an optional Tensor argument not given: convolution's bias. By PyTorch's
# node name, how many inputs its node always has.
_WIDTHS = {"ConvolutionBackward0": 3}


def pytorch_slots(node: Any, count: int) -> tuple | None:
    """Which of ``node``'s ``count`` inputs each input of PyTorch's node is, in PyTorch's order: a position, or
    None for an input PyTorch's node has and ours does not (a ``clamp`` bound or a convolution's bias not given);
    None when the two are the same. ``next_functions`` and the ``grad_inputs`` of ``grad_fn.register_hook``'s
    hooks both follow it. An op whose inputs depend on the call says so itself: its ``pytorch_inputs()`` (nn's
    batch norm: x, eps, momentum and the running estimates, then weight and bias where given)."""
    own = getattr(node, "pytorch_inputs", None)
    if own is not None:
        return own()
    pytorch = named(node).name()
    kept = _EDGES.get(pytorch)
    if kept is not None and count > max(kept):
        return kept
    if pytorch == "ClampBackward0" and count == 2:
        # clip(x, bound): the bound given is min or max, the other None, as PyTorch's clamp(x, min, max)
        return (0, 1, None) if getattr(node, "has_low", False) else (0, None, 1)
    width = _WIDTHS.get(pytorch)
    if width is not None and count < width:
        return (*range(count), *(None,) * (width - count))
    return None


def pytorch_edges(node: Any, pairs: tuple) -> tuple:
    """``pairs`` (one ``(fn, index)`` per input of ``node``) as PyTorch's ``next_functions`` has them: without
    the inputs its node has no edge for (``where``'s condition, a mask, a number), and ``(None, 0)`` for an
    optional input not given (PyTorch's ``ClampBackward0`` always has ``(x, min, max)``, its
    ``ConvolutionBackward0`` ``(x, weight, bias)``): see :func:`pytorch_slots`."""
    slots = pytorch_slots(node, len(pairs))
    return pairs if slots is None else tuple((None, 0) if at is None else pairs[at] for at in slots)
