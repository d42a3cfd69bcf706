"""In-place ops, PyTorch's way: ``x -= y``, ``add_``, ``mul_``, ``zero_``, ``fill_``, ``copy_``, ``x[i] = v`` ….

Each changes ``x.data`` in place and returns ``x`` itself, so a Parameter stays
the same object (and registered in its Module), and bumps the version counter
that backward checks saved arrays against.

Recording follows PyTorch:

* under ``no_grad``, or when nothing involved requires grad, the array is
  simply overwritten;
* on a leaf that requires grad it raises PyTorch's error (the leaf's value
  would no longer be the one its gradient is for);
* on a non-leaf (or a leaf that does not require grad, with an operand that
  does) the op is recorded like its out-of-place twin applied to a copy of the
  old value, and ``x`` becomes that node's output: gradients stay exact.

Views made while recording by basic indexing (``v = x[index]``), by reshape,
view, flatten, unsqueeze, squeeze, transpose, permute, ``t`` and ``T``, by
diagonal, unfold and as_strided, and the parts of tensor_split (hsplit, vsplit,
dsplit) share x's memory and are tracked: an in-place op on ``v`` is written
through the base (``x[index] = ...``; all of x replaced by the new value put
back in x's layout; or, for diagonal, unfold and as_strided, the new value
scattered into x where v reads x's memory, as_strided_scatter's op), so x's
graph records it, and an in-place op on ``x`` re-points the graphs of its live
views (and of their views), as PyTorch's view tracking does. A recorded
in-place op on a part of split, chunk or unbind (which PyTorch refuses too), or
on a view made under ``no_grad``, would leave the other tensor's graph stale,
so it raises instead.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import numpy

from .. import backend
from ..autograd import Function
from ..autograd.engine import plain_class
from ..autograd.graph import result_saved_after_write, saves_copies
from ..autograd.names import spelled
from ..constructors import SampleDtypeError, _fill_in, rand, randn
from ..dtypes import can_cast
from ..recording import _state, enable_grad, is_recording
from ..tensor import Tensor, _address, cast_as_torch
from ..versions import INPLACE, memory_owner
from ._util import (
    ArgumentTypeError,
    DtypeMismatchError,
    ShapeMismatchError,
    in_int64,
    last_backward,
    note_random_op,
    number,
    refuse_complex_alpha,
    scale_given_first,
    sum_to,
    unwrap,
)
from .complex_ops import ViewAsComplex, ViewAsReal
from .elementwise import (
    Where,
    _integral,
    add,
    clip,
    div,
    exp,
    log,
    mul,
    neg,
    refuse_bool_subtraction,
    relu,
    sigmoid,
    sqrt,
    sub,
    tanh,
)
from .elementwise import abs as abs_op  # not the builtins' names: this module also reads Python numbers
from .elementwise import pow as pow_op
from .join import _PartOf
from .scatters import _EmbedStrided
from .shape import (
    _PLAIN,
    NO_GRAD_VIEW,
    BroadcastTo,
    Clone,
    GetItem,
    Reshape,
    Transpose,
    _index_arrays,
    _torch_index,
    _uint8_mask_fill,
    astype,
    getitem,
    made_under_no_grad,
)
from .strided import STRIDED_VIEWS_OF_VIEWS, AsStrided, _may_overlap, _places, _span

LEAF_ERROR = "a leaf Variable that requires grad is being used in an in-place operation."


class InplaceCastError(TypeError, RuntimeError):
    """The result of an in-place op cannot be cast to the tensor's dtype (PyTorch raises a RuntimeError)."""


def _requires_grad(value: Any) -> bool:
    return isinstance(value, Tensor) and value.requires_grad


def _refuse_conj_copy(x: Tensor, name: str) -> None:
    """A write into (a view of) a ``conj()`` result, read-only x: a read-only complex copy (ops/complex_ops.Conj),
    which a write would change without reaching the tensor it conjugates (PyTorch's conj is a lazy view whose
    writes do)."""
    owner = memory_owner(x.data)
    if getattr(owner, "dtype", None) is not None and owner.dtype.kind == "c" and not _memory_writable(owner):
        raise RuntimeError(f"{name}: the tensor written in place (shape {x.shape}) is read-only: a conj() "
                           "result is a copy in minigrad, not PyTorch's lazy conjugate view whose writes reach the "
                           "conjugated tensor; use conj_physical() (or clone()) for a writable conjugate")


def _memory_writable(owner: Any) -> bool:
    """Whether the memory owner ``memory_owner`` found is writable: an array's flag, or for the memoryview a
    ``frombuffer`` tensor views (no flags), whether its buffer is."""
    flags = getattr(owner, "flags", None)
    return bool(getattr(flags, "writeable", True)) if flags is not None else not getattr(owner, "readonly", False)


def _check_writable(x: Tensor, name: str) -> None:
    """PyTorch's refusal of an in-place write where elements share memory (an ``expand``-ed tensor), and
    of one into a read-only view (overlapping ``unfold`` windows), naming the op and the shape; a write into
    a ``conj()`` result (a read-only copy here) says so."""
    data = x.data
    if data.size and any(n > 1 and step == 0 for n, step in zip(data.shape, data.strides)):   # empty: no element
        raise RuntimeError(f"{name}: unsupported operation: more than one element of the written-to tensor "
                           f"(shape {x.shape}, an expanded view) refers to a single memory location. Please clone() "
                           "the tensor before performing the operation.")
    if not getattr(data.flags, "writeable", True) and not _writable_again(data):
        _refuse_conj_copy(x, name)
        raise RuntimeError(f"{name}: the tensor written in place (shape {x.shape}) is read-only: it views a "
                           "non-writable NumPy array (from_numpy/as_tensor/from_dlpack of it; PyTorch would write "
                           "into it, with a warning) or overlapping windows of unfold or as_strided; clone() it first.")


def _writable_again(data: Any) -> bool:
    """Make ``data`` writable where PyTorch writes it: a part of an ``expand``-ed view whose elements no longer
    share memory (``b.expand(2, 3)[:, :1]``, read-only as NumPy's broadcast_to made it) of writable memory.
    Read-only memory (from_numpy of a read-only array, a conj() copy) and overlapping windows stay refused."""
    if data.size and _may_overlap(data.shape, data.strides) or not _memory_writable(memory_owner(data)):
        return False
    try:
        data.flags.writeable = True
    except ValueError:   # NumPy refuses for a view of a read-only view (broadcast_to's, or an as_strided array of
        pass   # one: b.expand(3, 2).diagonal(-2)): _write writes through a writable alias (_writable) instead
    return True


def _refuse_overlap(written: Any, read: Any, name: str) -> None:
    """PyTorch's refusal when an in-place op reads an operand (array ``read``) that shares some, but not all, of
    the memory it writes (array ``written``): ``x[1:].add_(x[:-1])``, ``x.copy_(x.t())``. The same array, or the
    same elements in the same layout, is fine (``x.add_(x)``). Where PyTorch cannot tell (strided operands whose
    elements do overlap) its result depends on the order it writes in, so this refuses them too."""
    if read is written or getattr(read, "base", None) is None and getattr(written, "base", None) is None:
        return   # one array, or two arrays that each own their memory: the cheap, common cases
    if memory_owner(read) is not memory_owner(written) or not read.size or not written.size:
        return
    if _address(read) == _address(written) and read.dtype == written.dtype and _layout(read) == _layout(written):
        return   # the same elements in the same order (x[:] = x, x.view(6).add_(x.view(2, 3).view(6)))
    if _part_of_each(read, written):
        return
    xp = backend.array_module(written)
    if not xp.may_share_memory(read, written):   # the memory spans do not meet: cheap, no element compared
        return
    try:   # (CuPy's exact answer runs a kernel: only reached for spans that meet)
        overlap = getattr(xp, "shares_memory", xp.may_share_memory)(read, written)
    except Exception:  # noqa: BLE001 - NumPy's TooHardError: cannot tell, so refuse rather than guess
        overlap = True
    if overlap:
        raise RuntimeError(f"{name}: unsupported operation: some elements of the input tensor (shape {read.shape}) "
                           f"and the written-to tensor (shape {written.shape}) refer to a single memory location. "
                           "Please clone() the tensor before performing the operation.")


def _part_of_each(read: Any, written: Any) -> bool:
    """Whether ``read`` is the real or imaginary part of complex ``written``'s elements, element i of each other's
    (``x.copy_(x.real)``, ``x[1] = x[1].imag``): each element reads only itself, as PyTorch allows. Not for one
    element, whose part PyTorch's memory check sees as a partial overlap and refuses (``x[0, 1] = x[0, 1].real``)."""
    return (written.dtype.kind == "c" and read.size > 1 and read.shape == written.shape
            and read.strides == written.strides and 2 * read.itemsize == written.itemsize
            and _address(read) - _address(written) in (0, read.itemsize))


def _layout(array: Any) -> tuple:
    """``array``'s (size, stride) pairs, leaving out dimensions of size 1 (which no element steps along)."""
    return tuple((n, step) for n, step in zip(array.shape, array.strides) if n != 1)


# in-place ops that write one value everywhere: where elements share memory (an expand-ed view) each copy gets the
# same value, so PyTorch allows them (the memory, and so every broadcast copy and the base, takes the value)
SAME_VALUE_WRITES = frozenset({"fill_", "zero_"})


# in-place ops whose tensor operand may share the written memory (read before anything is written: a fill's 0-d
# value, masked_scatter's source), or that check it themselves (setitem: the part written, not all of x)
NO_OVERLAP_CHECK = SAME_VALUE_WRITES | {"masked_fill_", "index_fill_", "masked_scatter_", "setitem"}


class _WritableAlias:
    """Describes ``array``'s elements as writable (``numpy.asarray`` of it views them) and keeps ``owner``, the
    memory's owner, alive as ``base``: how an expand-ed (read-only) NumPy view is written through (as_strided's
    way). For :data:`SAME_VALUE_WRITES`, or a part that cannot overlap (_writable_again), and only when the owner
    itself is writable."""

    def __init__(self, array: Any, owner: Any) -> None:
        self.__array_interface__ = {**array.__array_interface__, "data": (_address(array), False)}
        self.base = owner


def _writable(x: Tensor, name: str) -> Any:
    """``x``'s array, or a writable alias of its memory when it is a read-only NumPy view (expand-ed, or
    overlapping unfold windows) of writable memory (a fill of one value: :data:`SAME_VALUE_WRITES`)."""
    data = x.data
    if getattr(data.flags, "writeable", True) or type(data) is not numpy.ndarray:
        return data
    owner = memory_owner(data)
    if not _memory_writable(owner):
        _refuse_conj_copy(x, name)
        raise RuntimeError(f"{name}: the tensor written in place (shape {x.shape}) views read-only memory")
    return numpy.asarray(_WritableAlias(data, owner))


def _inplace(x: Tensor, name: str, compute: Callable[[Tensor], Tensor], *operands: Any) -> Tensor:
    """Write ``compute(old value of x)`` into ``x``'s array and keep the object; record it when needed.

    A view is written through its base, and a view of a view through the base's base …: one write per level, in
    a loop (a chain of 100,000 views needs no recursion); then each level's base node is named and told, innermost
    first, as a recursive write would."""
    through: list[tuple] = []   # (base, its node before, out, view, name) of each view written through its base
    step: tuple | None = (x, name, compute, operands)
    while step is not None:
        step = _write(*step, through)
    for base, before, out, view, level_name in reversed(through):
        if base._node is not None and base._node is not before:   # PyTorch's name of the base's new node
            base._node.name = spelled(str(base._node.name), "torch::autograd::CopySlices")
        if level_name in RESULT_SAVERS:
            saved_output_is(out, view)
    return x


def _write(x: Tensor, name: str, compute: Callable[[Tensor], Tensor], operands: tuple, through: list) -> tuple | None:
    """One level of :func:`_inplace`: write into ``x``, or, for a view, note it in ``through`` and return the
    write into its base (``x``, ``name``, ``compute``, ``operands`` of the next level)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
    if name not in SAME_VALUE_WRITES:
        _check_writable(x, name)
    if getattr(x, "_view", None) is NO_GRAD_VIEW and is_recording():
        _refuse_unrecorded_view_write(x, name)
    if name not in NO_OVERLAP_CHECK:
        for operand in operands:
            if isinstance(operand, Tensor):
                _refuse_overlap(x.data, operand.data, name)
    record = is_recording() and (x.requires_grad or any(_requires_grad(o) for o in operands))
    current = x
    view = getattr(x, "_view", None) if record else None
    if not record and getattr(x, "_view", None) and is_recording():
        _refuse_unrecorded_view_write(x, name)
    if record:
        if not through:   # a chain has one root: once
            _refuse_hook_view_write(x, name)
        if x._node is None and x.requires_grad:
            raise RuntimeError(f"{name}: {LEAF_ERROR} Update parameters under `with mg.no_grad():`, "
                               "or use the out-of-place op.")
        if (view or getattr(x.data, "base", None) is not None) and not through:   # a chain has one root: once
            _refuse_view_of_leaf(x, name)
        if not view:   # None, or () for the copy a reshape made: memory of its own
            if view is None and getattr(x.data, "base", None) is not None:
                if not _views_own_result(x):
                    raise RuntimeError(
                        f"{name}: in-place op on a view of another tensor (a part of split, chunk or unbind, which "
                        "PyTorch refuses too, or a view minigrad does not track) while recording gradients: "
                        "minigrad cannot update the other tensor's graph. Use the out-of-place op, or clone() the "
                        "view first.")
                x._view = ()   # memory of its own (the write below re-points x's node: not looked for again)
            view = None
        # the node keeps the old value, so the overwrite below cannot change what its backward reads
        current = Tensor._make(x.data.copy(), x.requires_grad, x._node, x._index)
        if view and STRIDED_VIEWS_OF_VIEWS:   # (only once as_strided has made a view of a view)
            view, current = _through_the_root(x, view, current)
    tracer = _state.get().checks   # mg.compile captures: the copy and the write are told (capture.Tracer)
    if tracer is True:
        tracer = None
    elif tracer and record:
        tracer.record_copy(current, x)
    out = compute(current)
    if out.shape != x.shape:
        raise ShapeMismatchError(f"{name}: the result has shape {out.shape} but the tensor written in place has "
                                 f"shape {x.shape} (an in-place op cannot change the shape)")
    if out.dtype != x.dtype:
        if not can_cast(out.dtype, x.dtype):   # PyTorch's rule: no float to int, nothing to bool
            raise InplaceCastError(f"{name}: result type {out.dtype} can't be cast to the dtype {x.dtype} "
                                   "of the tensor written in place")
        if record:
            out = astype(out, x.dtype)
    if record and name in RESULT_SAVERS:
        out = keep_result(name, out)
    if view is not None:
        # write through the base, whose graph then re-points x (as PyTorch's CopySlices)
        base, how = view
        if base.data.size and _may_overlap(base.data.shape, base.data.strides):
            # base's elements share memory (expand-ed, or overlapping unfold windows), so it cannot be written; x
            # is a part of it whose elements do not (b.expand(2, 3)[:, :1]; or a fill): x's values go where x
            # reads the nearest base of the chain that has a place per element, as PyTorch writes any view
            # through its base's as_strided (the views between read it again after the write)
            while _may_overlap(base.data.shape, base.data.strides) and (outer := getattr(base, "_view", None)) \
                    and outer[0] is not None:
                if isinstance(how, _PartOf):   # a part of split/chunk/unbind on the way: refused, as PyTorch's
                    how.scatter()
                base, how = outer
            if isinstance(how, _PartOf):
                how.scatter()
            how = None
        through.append((base, base._node, out, x, name))
        if isinstance(how, (Reshape, Transpose)):   # x is all of base, rearranged: base takes all of out
            return base, name, lambda _: _put_back(how, out, base.shape), (out,)
        if isinstance(how, BroadcastTo):   # x is all of base, expanded: the copies hold one value (a fill)
            return base, name, lambda _: _unexpand(out, base.shape), (out,)
        if how is None or isinstance(how, Function):   # diagonal, unfold, as_strided (or a part of an expand-ed
            # view, above): out goes where x reads base's memory
            return base, name, lambda cur: _scatter_back(how, cur, out, x, base, name), (out,)
        return _setitem_step(base, how, out, through=True)   # x is base[how]
    try:
        x.data[...] = out.data
    except ValueError:   # read-only: a fill of an expand-ed view, or a part of one NumPy cannot flag writable
        if getattr(x.data.flags, "writeable", True):
            raise
        _writable(x, name)[...] = out.data
    if tracer:
        tracer.record_write(name, x, out, record)
    if record:
        x._node, x._index, x._requires_grad = out._node, out._index, out._requires_grad
        _repoint_views(x)
    elif x._requires_grad:
        _note_unrecorded_hook_view_write(x, name)
    x._bump_version()
    if record and name in RESULT_SAVERS:
        saved_output_is(out, x)
    return None


# in-place ops whose PyTorch derivative reads the result (the tensor written in place), so that a later change of
# it makes backward raise; the others' derivatives read the old value (PyTorch saves a copy) or nothing. pow_ and
# float_power_ save it only for a tensor exponent, where minigrad's op saves its output too (so none is added).
RESULT_SAVERS = frozenset({"relu_", "sigmoid_", "tanh_", "exp_", "exp2_", "expm1_", "sqrt_", "rsqrt_", "reciprocal_",
                           "tan_", "copysign_", "hypot_", "cumprod_", "ldexp_", "sgn_", "elu_", "celu_", "selu_",
                           "leaky_relu_", "rrelu_", "pow_", "float_power_", "scatter_reduce_", "index_reduce_"})
_ONLY_WHERE_SAVED = frozenset({"pow_", "float_power_"})


def keep_result(name: str, out: Tensor) -> Tensor:
    """``out`` (the value an in-place op ``name`` writes) made by a node that saved it, for :func:`saved_output_is`:
    unchanged if its op saved it already (relu, exp, tanh …), else a clone whose node keeps it (elu_, cumprod_,
    sgn_ … are several ops, or need none of it): a clone's gradient passes through, at any order. No clone under
    ``allow_mutation_on_saved_tensors``, whose hooks copy what the op saved (a later change cannot reach it)."""
    node = out._node
    if (name not in RESULT_SAVERS or name in _ONLY_WHERE_SAVED or node is None
            or (type(node.saved) is tuple and any(s is out.data for s in node.saved)) or saves_copies()):
        return out
    kept = Clone()(out)
    if kept._node is not None:
        kept._node.saved = (kept.data,)   # read by the version check only
    return kept


def _write_result(x: Tensor, name: str, result: Tensor) -> Tensor:
    """``x.copy_(result)`` for nn's in-place activations (nn/_in_place.py: ``result`` is the activation of a clone
    of x, recorded), with :func:`keep_result` and :func:`saved_output_is` for an op of :data:`RESULT_SAVERS`, as
    :func:`_inplace` does for the Tensor's own (bound as ``Tensor._write_result`` in ops/__init__.py's method
    table: nn reaches it through the Tensor, as it uses no module of minigrad's ops)."""
    result = keep_result(name, result)
    copy_(x, result)
    if name in RESULT_SAVERS:
        saved_output_is(result, x)
    return x


def saved_output_is(out: Tensor, x: Tensor) -> None:
    """The op that made ``out`` (relu_, exp_, tanh_, sigmoid_, sqrt_ … save their output) now reads its saved
    output from ``x``'s array, which ``out``'s values were just written into: a later in-place change of x, of a
    view or base of x, or of a ``detach()``-ed alias, is then refused by backward, as PyTorch's (whose op saved
    x itself). Without this the node kept its own copy and backward went on silently with the old values.
    Only for the ops of :data:`RESULT_SAVERS`, and only where minigrad's op saved its output too."""
    result_saved_after_write(x.data)   # a checkpoint's recomputation: PyTorch packs the result now, after the write
    node = out._node
    saved, array = node.saved if node is not None else (), out.data
    if type(saved) is not tuple or node.epoch < 0 or not any(s is array for s in saved):
        return   # nothing saved the output (add_, mul_ by a number …), or saved_tensors_hooks packed it
    # the write (and, for a view, the write through its base) is the op's own: its version counts from now on,
    # unless another array it saved changed meanwhile (x.mul_(x) reads x): then backward refuses, as PyTorch's
    if not any(s is not array and INPLACE.changed_since(s, node.epoch) for s in saved if hasattr(s, "base")):
        node.epoch = INPLACE.epoch
    node.saved = tuple(x.data if s is array else s for s in saved)


def _repoint_views(base: Tensor) -> None:
    """Views of ``base`` (same memory: ``base[index]``, ``base.view(...)``, ``base.t()`` ...) now come from
    base's new node, as in PyTorch; so do views of those views (``base.t()[1:]``), at any depth."""
    stack = [base]
    while stack:
        parent = stack.pop()
        for ref in getattr(parent, "_views", None) or ():
            view = ref()
            record = getattr(view, "_view", None) if view is not None else None
            if record and record[0] is parent:
                fresh = _read(record[1], parent, base)
                view._node, view._index, view._requires_grad = fresh._node, fresh._index, fresh._requires_grad
                tracer = _state.get().checks
                if tracer and tracer is not True:   # mg.compile captures: later reads of the view read fresh
                    tracer.repoint(view, fresh)
                stack.append(view)


def _read(how: Any, base: Tensor, root: Tensor | None = None) -> Tensor:
    """The view ``how`` of ``base`` read again (a new node): ``base[how]`` for an index, else the same
    reshape or transpose as the op ``how`` that made the view. An as_strided view of a view of ``root`` (the
    tensor written) is read from root's memory, as PyTorch reads every view again through its base's as_strided:
    its places may lie outside base's elements (``b.as_strided((7, 3), (1, 1)).as_strided((9,), (2,))``), whose
    gradients a read from base would drop."""
    if type(how) is AsStrided and root is not None and root is not base and root.dtype == base.dtype:
        op = AsStrided(how.size, how.stride, how.geometry[3])
        op.name = how.name
        return op(root)
    if isinstance(how, Reshape):
        op = Reshape(how.shape)
    elif isinstance(how, Transpose):
        op = Transpose(how.axes)
    elif isinstance(how, Function):   # Diagonal, Unfold, AsStrided, Real, ViewAsReal: the same op again
        # (its own class: a dtype or complex gate may have swapped how's for a variant that needs how's notes)
        op = plain_class(how)(*(getattr(how, arg) for arg in how.view_args))
    else:
        return GetItem(how)(base)
    op.name = how.name
    return op(base)


def _scatter_back(how: Function | None, current: Tensor, value: Tensor, view: Tensor, base: Tensor,
                  name: str) -> Tensor:
    """``current`` (base's old value) with ``value`` (the new value of ``view``, which ``how`` made from base)
    written where view reads base: diagonal_scatter for a diagonal; for unfold and as_strided (and ``how`` None: a
    view of an expand-ed view of base), as_strided_scatter's op, with the places in base's own layout worked out
    from the two arrays' strides and addresses."""
    scatter = getattr(how, "scatter", None)
    if scatter is not None:   # diagonal: diagonal_scatter, with the view's own arguments (also on a GPU)
        return scatter(current, value, *(getattr(how, arg) for arg in how.view_args))
    b, v = base.data, view.data   # unfold, as_strided: views on the CPU only (a part of an expand-ed view: any)
    # a real or imaginary part of a view of a complex base (b.expand(2, 3).imag[0]): the places are in base's
    # (real, imaginary) pairs, as view_as_real's, in the part's units
    pairs = b.dtype.kind == "c" and v.dtype.kind != "c"
    item, b_shape = v.itemsize if pairs else b.itemsize, b.shape
    b_strides, v_strides = tuple(s // item for s in b.strides), tuple(s // item for s in v.strides)
    if pairs:
        b_shape, b_strides = b_shape + (2,), b_strides + (1,)
    offset = (_address(v) - _address(b)) // item
    storage = _span(b_shape, b_strides, 0)[1] if b.size else 0
    inside = memory_owner(v) is memory_owner(b) and all(s >= 0 for s in b_strides)
    if inside and v.size:
        low, high = _span(v.shape, v_strides, offset)
        inside = 0 <= low and high <= storage
        if inside and storage != math.prod(b_shape):   # base has gaps (a strided base): are view's places base's?
            xp = backend.array_module(b)
            covered = xp.zeros(storage, dtype=bool)
            covered[_places(xp, b_shape, b_strides, 0)] = True
            inside = bool(covered[_places(xp, v.shape, v_strides, offset)].all())
    if not inside:
        raise RuntimeError(f"{name}: the view written in place (shape {view.shape}) reads memory outside the tensor "
                           f"it was made from (shape {base.shape}; an as_strided view past its elements): minigrad "
                           "cannot write it through while recording. Use the out-of-place op, or clone() first.")
    if pairs:
        embed = _EmbedStrided(b_strides, storage, tuple(v.shape), v_strides, offset)(ViewAsReal()(current), value)
        return ViewAsComplex()(embed)
    return _EmbedStrided(b_strides, storage, tuple(v.shape), v_strides, offset)(current, value)


def _put_back(how: Reshape | Transpose, value: Tensor, shape: tuple) -> Tensor:
    """``value`` (the new value of a view made by ``how``) in the layout of its base, of ``shape``."""
    if isinstance(how, Reshape):
        return Reshape(shape)(value)
    if how.axes is None:
        return Transpose(None)(value)
    inverse = [0] * len(how.axes)
    for i, a in enumerate(how.axes):
        inverse[a] = i
    return Transpose(tuple(inverse))(value)


def _unexpand(value: Tensor, shape: tuple) -> Tensor:
    """``value`` (the new value of an expand-ed view, every copy alike) as its base of ``shape``: the first copy
    along each dim the expand added or stretched from 1."""
    lead = value.ndim - len(shape)
    index = (0,) * lead + tuple(slice(0, 1) if n == 1 else slice(None) for n in shape)
    return getitem(value, index)


def _views_own_result(x: Tensor) -> bool:
    """Whether ``x``'s array views memory that only its own node holds: an array the node saved (max, min, norm,
    logsumexp, median … of all elements return their saved keepdims result reshaped). No other tensor reads that
    memory, so an in-place op on x is recorded as on any output; the node's version check then refuses a backward
    through it, as PyTorch's (whose op saved x itself)."""
    if any(k == x._index for k, _ in getattr(x._node, "views_of_inputs", ())):   # a custom Function's output that
        return False                                                             # views its input: PyTorch refuses
    saved = getattr(x._node, "saved", None)
    owner = memory_owner(x.data)
    return type(saved) is tuple and any(hasattr(s, "base") and memory_owner(s) is owner for s in saved)


def _refuse_unrecorded_view_write(x: Tensor, name: str) -> None:
    """PyTorch's refusals of an in-place op, with grad mode on, on a view ``x`` (``x._view`` set) that nothing
    records: one made under no_grad of a tensor that requires grad, or one made before its base became a leaf
    that requires grad (PyTorch's views read their base's flag)."""
    if made_under_no_grad(x):
        raise RuntimeError(f"{name}: a view was created in no_grad mode and is being modified in place with grad "
                           "mode enabled (as PyTorch, this is refused: nothing would update the graph of the "
                           "tensor it views). Make the view and the in-place op both inside the no_grad block, or "
                           "both outside.")
    _refuse_view_of_leaf(x, name)


def _hooked_call_tensor(x: Tensor) -> Tensor | None:
    """The input or output of a module call with backward hooks that ``x`` is, or is a view of (the root of its
    views), else None: its node is one of nn/hooks.py's identity ops (``runs_user_hooks``)."""
    root = x
    while (view := getattr(root, "_view", None)) and view[0] is not None:
        root = view[0]
    node = root._node
    return root if node is not None and node.runs_user_hooks else None


def _refuse_hook_view_write(x: Tensor, name: str) -> None:
    """PyTorch's refusal of a recorded in-place op on an input or output of a module call with backward hooks, or
    on a view of one: its ``BackwardHookFunction`` hands them through as views made inside a custom Function, whose
    backward (the hooks) an in-place op would bypass (:func:`_hooked_call_tensor`)."""
    root = _hooked_call_tensor(x)
    if root is not None:
        what = f"Output {root._index} of BackwardHookFunction" if root is x else \
            f"A view (shape {tuple(x.shape)}) made from output {root._index} of BackwardHookFunction"
        raise RuntimeError(f"{name}: {what} is a view and is being modified inplace. This view was created inside a "
                           "custom Function (or because an input was returned as-is) and the autograd logic to handle "
                           "view+inplace would override the custom backward associated with the custom Function, "
                           "leading to incorrect gradients. This behavior is forbidden. You can fix this by cloning "
                           "the output of the custom Function (here: the module's input or output while it has "
                           "full backward hooks; e.g. nn.ReLU(inplace=True) refuses them).")


class _ChangedHookView(Function):
    """What an input or output of a hooked module call (or a view of one) records after an in-place change that
    nothing recorded (under no_grad): PyTorch refuses any later use of it in a recorded op (its grad_fn is
    re-read after the version changed); here the backward through such a use raises, with PyTorch's message."""

    name = "backward_hook_view_changed"

    def __init__(self, message: str) -> None:
        self.message = message

    def forward(self, x: Any) -> Any:
        return x

    def backward(self, gy: Any) -> Any:
        raise RuntimeError(self.message)


def _note_unrecorded_hook_view_write(x: Tensor, name: str) -> None:
    """After an in-place op that nothing recorded on ``x`` (which requires grad): if ``x`` is an input or output of
    a hooked module call, or a view of one made while recording, ``x`` and that tensor now lead to a
    :class:`_ChangedHookView` node, so that a backward through a later use refuses it, as PyTorch's."""
    if STRIDED_VIEWS_OF_VIEWS:   # (only once as_strided has made a view of a view)
        _reread_views_of_root(x)
    root = _hooked_call_tensor(x)
    if root is None:
        return
    message = (f"{name}: Output {root._index} of BackwardHookFunction is a view and its base or another view of its "
               "base has been modified inplace (under no_grad). This view was created inside a custom Function (or "
               "because an input was returned as-is) and the autograd logic to handle view+inplace would override "
               "the custom backward associated with the custom Function, leading to incorrect gradients. This "
               "behavior is forbidden. You can fix this by cloning the output of the custom Function.")
    with enable_grad():
        for tensor in {id(t): t for t in (root, x)}.values():
            changed = _ChangedHookView(message)(tensor)
            tensor._node, tensor._index = changed._node, changed._index
        _repoint_views(root)   # its other views made while recording read it again: their backward refuses too


def _through_the_root(x: Tensor, view: tuple, current: Tensor) -> tuple:
    """``x`` (a view, written while recording) when its chain of views holds an as_strided view of a view (whose
    places may lie outside that view's elements): ``((root, None), current)``, x written through the root of the
    chain (its places worked out from the two arrays, :func:`_scatter_back`), and ``current`` (x's old value)
    read again from the root, the as_strided level from the root's memory, as PyTorch's CopySlices writes a view
    through its base's as_strided and hands the old value's gradient to the base. Through the view between,
    places outside its elements were refused (the write) or got no gradient (the old value). Else ``view`` and
    ``current`` unchanged."""
    chain = [(x, view)]
    while (outer := getattr(chain[-1][1][0], "_view", None)) and outer[0] is not None:
        chain.append((chain[-1][1][0], outer))
    if not any(type(how) is AsStrided and getattr(parent, "_view", None) for _, (parent, how) in chain):
        return view, current
    root = chain[-1][1][0]
    for _, (_, how) in chain:
        if isinstance(how, _PartOf):   # a part of split/chunk/unbind on the way: refused, as PyTorch's
            how.scatter()
    fresh = root
    for _, (parent, how) in reversed(chain):
        fresh = _read(how, fresh if parent is not root else root, root)
    return (root, None), Tensor._make(current.data, fresh._requires_grad, fresh._node, fresh._index)


def _root_of(x: Tensor) -> Tensor:
    """The tensor at the top of ``x``'s chain of views (x itself if it is none)."""
    while (view := getattr(x, "_view", None)) and view[0] is not None:
        x = view[0]
    return x


def _reread_views_of_root(x: Tensor) -> None:
    """After an in-place op that nothing recorded on ``x`` (or a view or base of it): the views of the root of x's
    views are read again from it, an as_strided view of a view from the root's memory, as PyTorch reads every view
    whose version moved again through its base's as_strided at its next use. Read from the view between, the
    places of ``b[:, 1:3].as_strided((1,), (2,), 4)`` outside that view's elements got no gradient where PyTorch's
    go into b (under no_grad; without any write PyTorch drops them too, as minigrad)."""
    root = _root_of(x)
    if root._requires_grad and getattr(root, "_views", None):
        with enable_grad():
            _repoint_views(root)


def _refuse_view_of_leaf(x: Tensor, name: str) -> None:
    """PyTorch's error for an in-place op on a view of a leaf that requires grad."""
    if _views_a_leaf(x):
        raise RuntimeError(f"{name}: a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation.")


def _views_a_leaf(x: Tensor) -> bool:
    """Whether ``x`` shares the memory of a leaf that requires grad: the root of its chain of views is
    one, or was made from one by a view op (views of such leaves are not recorded)."""
    while True:
        view = getattr(x, "_view", None)
        if not view or view[0] is None:   # (NO_GRAD_VIEW names no base)
            break
        x = view[0]
    if x._node is None:
        return x.requires_grad
    owner = memory_owner(x.data)
    return any(isinstance(e, Tensor) and e.requires_grad and memory_owner(e.data) is owner
               for e in getattr(x._node, "edges", None) or ())


def _fill(name: str, mask: Any, value: Any, contiguous: bool = False,
          contiguous_gradient: bool = False) -> Callable[[Tensor], Tensor]:
    """``where(mask, value, old)`` as an op named ``name``: the gradient to the old value is 0 where filled.
    ``contiguous``: the result and the old value's gradient are C-contiguous (out-of-place ``masked_fill``), else
    NumPy's ``where`` layout; ``contiguous_gradient``: that gradient only (``masked_fill_``: PyTorch's
    grad.masked_fill(mask, 0) fills a C-order clone; ``copy_``: zeros_like(grad, contiguous)).

    ``mask=True`` fills everything (Where keeps the Python bool, no array: saved-tensor hooks see none, as
    PyTorch's CopyBackwards and FillBackward save no tensor).
    """
    def compute(current: Tensor) -> Tensor:
        op = Where()
        op.name, op.c_order, op.c_order_gradient = name, contiguous, contiguous or contiguous_gradient
        if mask is True:
            with backend.on_device(current.device):   # where Where makes its 0-d condition array
                return op(True, value, current)
        return op(mask, value, current)
    return compute


_NUMBERS = (int, float, complex, numpy.number, numpy.bool_)


def _dtype_of(x: Tensor, value: Any, name: str = "fill_") -> Any:
    """``value`` in ``x``'s dtype: a fill keeps the dtype of what it fills. A Tensor is cast (differentiably); a
    number is converted as PyTorch converts it (2.7 → 2, 2.7 → True, -1 → 255 in uint8) and refused where that
    overflows (NaN or 300 into uint8, 1e39 into float32: RuntimeError), as :func:`number_in`."""
    if isinstance(value, Tensor):
        return astype(value, x.dtype) if value.dtype != x.dtype else value
    return number_in(x, value, name) if isinstance(value, _NUMBERS) else value


def _item_fits(x: Tensor, value: Any, name: str) -> Any:
    """``value``; a 0-d Tensor of another dtype than ``x``'s first checked as PyTorch's masked_fill and index_fill
    check its ``item()`` (300 into uint8 raises, -1 wraps to 255) where a cast would wrap or saturate."""
    if isinstance(value, Tensor) and value.dtype != x.dtype and value.ndim == 0:
        _fill_in(value.item(), x.dtype, name)
    return value


def number_in(x: Tensor, value: Any, name: str) -> Any:
    """A Python or NumPy number written into ``x`` (a fill, a masked or indexed write), as a scalar of x's dtype:
    checked as PyTorch checks it (RuntimeError "value cannot be converted to type ... without overflow"), so
    NumPy neither stores the minimum int for NaN, wraps 300 into uint8, saturates, nor promotes x's dtype."""
    return x.dtype.type(_fill_in(value, x.dtype, name))


# --- the ops -------------------------------------------------------------------

def _scaled_update(x: Tensor, other: Any, alpha: Any, ufunc_name: str) -> bool:
    """``x ∘= alpha * other`` straight into ``x``'s array when nothing records it; False if the case is not plain.

    Plain: not recorded (``no_grad``, or nothing requires grad), ``other`` a Tensor of ``x``'s shape,
    floating dtype and device, ``alpha`` a Python number — an optimizer's ``p.add_(p.grad, alpha=-lr)``.
    The same two roundings as the general path (``alpha·other`` in x's dtype, then ``x ∘ that``), in
    place instead of through two new arrays and a copy back.
    """
    if (not isinstance(other, Tensor) or type(alpha) not in (int, float)
            or (is_recording() and (x.requires_grad or other.requires_grad))) or _state.get().checks:
        return False   # (while mg.compile captures, the general path: its ops and its write are captured)
    data, operand = x.data, other.data
    name = "add_" if ufunc_name == "add" else "sub_"
    if getattr(x, "_view", None) and is_recording():
        _refuse_unrecorded_view_write(x, name)
    _refuse_overlap(data, operand, name)
    if (type(operand) is not type(data) or operand.dtype != data.dtype or data.dtype.kind != "f"
            or not getattr(data.flags, "writeable", True)   # expand-ed or overlapping: the general path refuses it
            or operand.shape != data.shape
            or (type(data) is not numpy.ndarray and backend.device_of(operand) != backend.device_of(data))):
        return False
    xp = backend.array_module(data)
    if alpha != 1:
        operand = xp.multiply(operand, alpha)
    getattr(xp, ufunc_name)(data, operand, out=data)
    if x._requires_grad and (x._node is not None or STRIDED_VIEWS_OF_VIEWS):   # (a parameter's update: a leaf,
        _note_unrecorded_hook_view_write(x, name)   # nothing to look at, unless its views may need reading again)
    x._bump_version()
    return True


def in_dtype_of(x: Tensor, *operands: Any, scalar_in_float32: bool = False) -> tuple:
    """``operands`` of an in-place op on ``x`` as PyTorch computes with them: an integer or bool tensor operand of a
    floating or complex ``x`` is cast first to the floating dtype of the computation (x's, or a wider floating tensor
    operand's). PyTorch computes in that dtype: float32 ``x += int32 2**24 + 1`` adds 16777216.0, where NumPy would
    add in float64 and round once (16777218). ``scalar_in_float32`` (mul_ and div_): a 0-d operand of a float16 x
    is read in float32 instead, as PyTorch's mul and div read a one-number tensor (``x *= int 2049`` multiplies by
    2049, not by float16's 2048). One dtype-kind check per tensor operand."""
    for operand in operands:   # (a loop, not any(): in-place ops are hot)
        if isinstance(operand, Tensor) and operand.dtype.kind in "biu":
            break
    else:
        return operands
    if x.dtype.kind not in "fc":
        return operands
    floats = (o.dtype for o in operands if isinstance(o, Tensor) and o.dtype.kind in "fc")
    target = numpy.result_type(x.dtype, *floats)
    if scalar_in_float32 and target == numpy.float16 and operands[0].ndim == 0:
        target = numpy.dtype(numpy.float32)
    return tuple(astype(o, target) if isinstance(o, Tensor) and o.dtype.kind in "biu" else o for o in operands)


def add_(x: Tensor, other: Any, alpha: Any = 1) -> Tensor:
    """``x += alpha * other`` in place (``alpha`` a number; PyTorch's deprecated ``x.add_(alpha, other)`` too)."""
    if isinstance(alpha, Tensor) and scale_given_first("add_", other, alpha, "alpha"):   # one check per call
        other, alpha = alpha, other
    if type(alpha) is not int and type(alpha) is not float:   # a Python int or float passes as it is (hot path)
        alpha = number(alpha, "add_", "alpha", complex_ok=True)
        refuse_complex_alpha("add_", alpha, x, other)
    if isinstance(x, Tensor) and _scaled_update(x, other, alpha, "add"):
        return x
    return _inplace(x, "add_", lambda cur: add(cur, scaled(*in_dtype_of(cur, other), alpha, cur)), other)


def sub_(x: Tensor, other: Any, alpha: Any = 1) -> Tensor:
    """``x -= alpha * other`` in place (``alpha`` a number; PyTorch's deprecated ``x.sub_(alpha, other)`` too)."""
    if isinstance(alpha, Tensor) and scale_given_first("sub_", other, alpha, "alpha"):   # one check per call
        other, alpha = alpha, other
    if type(alpha) is not int and type(alpha) is not float:   # a Python int or float passes as it is (hot path)
        alpha = number(alpha, "sub_", "alpha", complex_ok=True)
        refuse_complex_alpha("sub_", alpha, x, other)
    refuse_bool_subtraction(x, other)
    if isinstance(x, Tensor) and _scaled_update(x, other, alpha, "subtract"):
        return x
    return _inplace(x, "sub_", lambda cur: sub(cur, scaled(*in_dtype_of(cur, other), alpha, cur)), other)


def scaled(b: Any, alpha: Any, a: Any = None) -> Any:
    """``alpha * b`` as torch.add/sub (and ``add_``/``sub_``) compute it; a tensor ``b`` is first cast to the dtype
    of ``a ∘ b`` (PyTorch computes ``alpha * b`` in the result's dtype: a uint8 ``b`` times 2 must not wrap at 256
    before it is added to a float). A float ``alpha`` with integer ``a`` and ``b`` raises, as PyTorch."""
    if isinstance(alpha, (float, numpy.floating)) and a is not None and _integral(a) and _integral(b):
        raise ArgumentTypeError(f"For integral input tensors, argument alpha must not be a floating point number "
                                f"(got {alpha!r}; dtypes {a.dtype} and {getattr(b, 'dtype', type(b).__name__)}), "
                                "as in PyTorch")
    if alpha == 1:
        return b
    if not isinstance(b, Tensor):
        if isinstance(b, bool) and getattr(a, "dtype", None) == numpy.bool_:   # bool x + 2 * True stays bool
            return b and alpha != 0
        if type(alpha) is int and type(b) in (int, bool) and getattr(getattr(a, "dtype", None), "kind", "") in "iu" \
                and hasattr(a, "dtype"):
            _fill_in(alpha, a.dtype, "alpha")   # an int tensor and a number: alpha must fit the tensor's dtype
        return b * alpha if isinstance(b, (int, float, complex, numpy.number)) else mul(b, alpha)
    if isinstance(a, Tensor) or backend.is_array(a):
        common = numpy.result_type(a.dtype, b.dtype)
    elif a is not None:
        common = numpy.result_type(b.dtype, a)
    else:
        common = b.dtype
    if common.kind == "b":   # True + 2 * True stays bool in PyTorch: alpha * b is b (alpha non-zero)
        return astype(mul(b, alpha), bool)
    if common.kind in ("i", "u") and type(alpha) is int:   # PyTorch converts alpha into the result's dtype:
        _fill_in(alpha, common, "alpha")                   # 300 for int8 raises (NumPy wrapped it to 44)
    return mul(b if b.dtype == common else astype(b, common), alpha)


def mul_(x: Tensor, other: Any) -> Tensor:
    """``x *= other`` in place: ``other`` broadcasts to x's shape (x does not grow)."""
    return _inplace(x, "mul_", lambda cur: mul(cur, *in_dtype_of(cur, other, scalar_in_float32=True)), other)


def div_(x: Tensor, other: Any) -> Tensor:
    """``x /= other`` in place (true division: an integer tensor raises, as in PyTorch)."""
    return _inplace(x, "div_", lambda cur: div(cur, *in_dtype_of(cur, other, scalar_in_float32=True)), other)


def clamp_(x: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 - PyTorch's names
    """Clamp into [min, max] in place; tensor bounds broadcast to x's shape (x does not grow)."""
    return _inplace(x, "clamp_", lambda cur: clip(cur, *in_dtype_of(cur, min, max)), min, max)


def zero_(x: Tensor) -> Tensor:
    """Fill with zeros in place (False for bool); the shape and dtype stay."""
    return _inplace(x, "zero_", _fill("zero_", True, _dtype_of(x, 0)))   # False for a bool x


def fill_(x: Tensor, value: Any) -> Tensor:
    """Fill with ``value`` (a number or a 0-d tensor) in place."""
    if isinstance(value, Tensor) and value.ndim:   # PyTorch refuses even a one-element (1,) value
        raise ShapeMismatchError(f"fill_ only supports a number or a 0-dimension value tensor, got a tensor of "
                                 f"shape {value.shape}")
    if isinstance(value, Tensor):   # PyTorch's fill with a tensor value refuses memory shared by elements
        _check_writable(x, "fill_")
    name = spelled("fill_", "FillBackward3" if isinstance(value, Tensor) else "FillBackward2")   # PyTorch's nodes
    value = _dtype_of(x, value)
    return _inplace(x, "fill_", _fill(name, True, value), value)


def copy_(x: Tensor, src: Any, non_blocking: bool = False) -> Tensor:
    """Copy ``src`` (broadcast to x's shape, cast to its dtype, moved to its device) into ``x``.
    ``non_blocking`` changes nothing (copies are synchronous here), as in :meth:`Tensor.to`."""
    if not isinstance(non_blocking, bool):
        raise TypeError(f"copy_: non_blocking must be a bool, got {non_blocking!r}")
    if isinstance(src, Tensor):
        _refuse_overlap(x.data, src.data, "copy_")   # before a cast copies it, as PyTorch checks the memory
        src = _dtype_of(x, src.to(x.device) if src.device != x.device else src)
    elif backend.is_array(src) or isinstance(src, (list, tuple, int, float, complex)):   # complex: its real part
        src = _cast(_value_array(src, x, "copy_"), x.dtype)
    else:
        raise TypeError(f"copy_: expected a Tensor or an array to copy from, got {type(src).__name__}")
    fill = _fill(_COPY, True, src, contiguous_gradient=True)   # PyTorch's CopyBackwards: zeros_like(grad, contiguous)

    def compute(current: Tensor) -> Tensor:   # checked once _inplace has refused a leaf, as PyTorch's order
        if src.shape != x.shape and not _broadcasts_to(tuple(src.shape), tuple(x.shape)):
            raise ShapeMismatchError(f"copy_: the source of shape {tuple(src.shape)} does not broadcast to the "
                                     f"shape of the tensor copied into, {tuple(x.shape)}")
        return fill(current)
    return _inplace(x, "copy_", compute, src)


def _broadcasts_to(shape: tuple, target: tuple) -> bool:
    """Whether an array of ``shape`` broadcasts to ``target`` (NumPy's rule, one way)."""
    if len(shape) > len(target):
        return False
    return all(n == 1 or n == m for n, m in zip(shape[::-1], target[::-1]))


def _bool_mask(mask: Any, name: str) -> Any:
    data = unwrap(mask)
    if not backend.is_array(data) or data.dtype != numpy.bool_:
        raise ArgumentTypeError(f"{name}: mask must be a bool tensor, got "
                                f"{getattr(data, 'dtype', type(data).__name__)}")
    return mask


def _real_part_only(x: Tensor, value: Any, name: str) -> Any:
    """``value`` for a masked or indexed write into ``x``: into a real tensor PyTorch refuses a complex value with
    a non-zero imaginary part (NumPy would keep the real part: a silent wrong result), and takes a complex
    Python number with a zero one as its real part. Into a bool tensor any complex value converts (True where
    it is not 0), as PyTorch's."""
    data = value.data if isinstance(value, Tensor) else value
    number = isinstance(data, (complex, numpy.complexfloating))
    if x.dtype.kind in "cb" or not (number or backend.is_array(data) and data.dtype.kind == "c"):
        return value
    if data.imag != 0 if number else bool((data.imag != 0).any()):
        what = f"value {data!r}" if number else "a complex value with a non-zero imaginary part"
        raise RuntimeError(f"{name}: {what} cannot be converted to type {x.dtype} without overflow")
    return data.real if number else value


def masked_fill(input: Tensor, mask: Any, value: Any) -> Tensor:  # noqa: A002
    """``value`` where the bool ``mask`` (broadcast to x) is True, else ``x``; x's dtype is kept."""
    x = input
    if not isinstance(x, Tensor):
        raise TypeError(f"masked_fill: expected a Tensor, got {type(x).__name__}")
    if isinstance(value, Tensor) and value.ndim:
        raise ShapeMismatchError(f"masked_fill: value must be a number or a 0-d tensor, got shape {value.shape}")
    name = _MASKED_FILL_TENSOR if isinstance(value, Tensor) else "masked_fill"
    value = _item_fits(x, _real_part_only(x, value, "masked_fill"), "masked_fill")
    return _fill(name, _bool_mask(mask, "masked_fill"), _dtype_of(x, value, "masked_fill"), contiguous=True)(x)


def masked_fill_(x: Tensor, mask: Any, value: Any) -> Tensor:
    """:func:`masked_fill` in place: the bool mask broadcasts to x's shape (x does not grow); ``value`` is a
    number or a 0-d tensor."""
    if isinstance(value, Tensor) and value.ndim:
        raise ShapeMismatchError(f"masked_fill_: value must be a number or a 0-d tensor, got shape {value.shape}")
    name = spelled("masked_fill_", "MaskedFillBackward1") if isinstance(value, Tensor) else "masked_fill_"
    value = _dtype_of(x, _item_fits(x, _real_part_only(x, value, "masked_fill_"), "masked_fill_"), "masked_fill_")
    return _inplace(x, "masked_fill_", _fill(name, _bool_mask(mask, "masked_fill_"), value, contiguous_gradient=True),
                    value)


# PyTorch's nodes: copy_'s, and masked_fill's overload with a Tensor value
_COPY = spelled("copy_", "torch::autograd::CopyBackwards")
_MASKED_FILL_TENSOR = spelled("masked_fill", "MaskedFillBackward1")


class SetItem(Function):
    """``x[index] = value`` out of place: a copy of x with the indexed part replaced.

    Gradient: none to the overwritten part of x; the indexed part of the
    incoming gradient to ``value`` (summed back to its shape).
    """

    name = "setitem"
    complex_grad = True   # linear: the backward below is PyTorch's for complex values too (autograd.engine)

    def __init__(self, index: Any, order: str = "C") -> None:
        self.index, self.order = index, order   # order "K": the copy keeps x's layout (index_put's, as PyTorch's)

    def forward(self, x: Any, value: Any) -> Any:
        self.index = index = _index_arrays(self.index, self.xp, x.shape)
        if not _is_basic(index):   # index arrays: freed by a backward without retain_graph (a second one raises,
            self.saved = (index,)  # as PyTorch's index_put)
        self.value_shape = getattr(value, "shape", ())
        self.value_dtype = getattr(value, "dtype", None)
        out = x.copy(order=self.order)
        try:
            out[index] = _written(self.xp, value, x.dtype)
        except (IndexError, ValueError) as error:
            first = _first_write_error(x, index, self.value_shape, error)
            if first is not None:
                raise first from error
            self.index = _in_range(index)   # the part has no elements: nothing written, no gradient read
        return out

    def kept_for_backward(self) -> tuple:
        """The index arrays too: an index tensor changed in place after ``y[i] = v`` makes backward raise, as
        PyTorch's (which saves it), instead of reading the gradient at the places it names now."""
        return (self.saved, self.index)

    def backward(self, gy: Any) -> tuple:
        gx = gv = None
        if self.needs_grad[0]:
            gx = self.xp.array(gy, copy=True)   # a 0-d gradient may come as a NumPy scalar
            gx[self.index] = 0
        if self.needs_grad[1]:
            gv = sum_to(self.xp.asarray(gy[self.index]), self.value_shape)
            if self.value_dtype is not None:
                if gv.dtype.kind == "c" and self.value_dtype.kind != "c":   # a real value written into complex x
                    gv = gv.real
                gv = gv.astype(self.value_dtype, copy=False)
        if self.saved and last_backward(self):   # the index arrays go with saved, as PyTorch's IndexPutBackward0
            self.index = _shells(self.index)      # frees them; their dims stay for grad_fn.name() (autograd.names)
        return gx, gv


def _shells(index: Any) -> Any:
    """``index`` with each array replaced by an empty host array of its number of dims and dtype."""
    def shell(item: Any) -> Any:
        return numpy.empty((0,) * item.ndim, item.dtype) if backend.is_array(item) else item
    return tuple(shell(item) for item in index) if type(index) is tuple else shell(index)


def setitem(x: Tensor, index: Any, value: Any) -> None:
    """``x[index] = value`` in place (``Tensor.__setitem__``); recorded as :class:`SetItem` when needed.

    ``value`` is a Tensor, an array, a number or a (nested) list of numbers.
    """
    write = _setitem_step(x, index, value)
    if write is not None:
        target, name, compute, operands = write
        _inplace(target, name, compute, *operands)


def _setitem_step(x: Tensor, index: Any, value: Any, through: bool = False) -> tuple | None:
    """:func:`setitem`'s checks, and its write when it is not recorded (then None); else the recorded write, as
    :func:`_inplace`'s arguments (``x``, ``"setitem"``, ``compute``, ``operands``), for ``_inplace`` to run.
    ``through``: the write into a view's base (``index`` is the view's own; its chain's root was checked once)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"setitem: expected a Tensor, got {type(x).__name__}")
    if isinstance(value, _NUMBERS):   # checked to fit x's dtype as PyTorch's fills check it ...
        if type(value) is int:   # PyTorch reads an int as an int64 first, whatever x's dtype: 2**63 raises
            in_int64(value, "setitem", "value")
        if x.dtype == numpy.float16:   # ... though its setitem casts into float16 (70000 → inf) where a fill refuses
            with numpy.errstate(over="ignore"):
                value = numpy.float16(_fill_in(value, numpy.dtype(numpy.float64), "setitem"))
        else:
            value = number_in(x, value, "setitem")
    elif not isinstance(value, Tensor):
        value = _value_array(value, x, "setitem")
    if getattr(value, "ndim", 0) and value.shape[0] == 1:
        lead = next((i for i, n in enumerate(value.shape) if n != 1), value.ndim)
        value = value.reshape(value.shape[lead:])   # PyTorch drops a value's leading 1s (NumPy's masks refuse them)
    if type(index) not in _PLAIN and getattr(value, "ndim", 0) == 0 and _uint8_mask_fill(_without_selects(index)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            x.detach()[index]   # an index that does not fit raises its IndexError first, as PyTorch's
        raise ArgumentTypeError(f"setitem: a uint8 mask is deprecated and PyTorch's fill with a one-element value "
                                f"refuses it (masked_fill_ only supports boolean masks); use a bool mask "
                                f"(tensor shape {x.shape})")
    basic = _is_basic(index)
    if not basic or isinstance(value, (complex, numpy.complexfloating)):   # a slice keeps a tensor's real part
        value = _real_part_only(x, value, "setitem")
    first, index = _torch_index(index, x.ndim)
    if first is not None:   # PyTorch selects with the ints first: write into that view
        return _setitem_step(getitem(x, first), index, value, through)
    if isinstance(value, Tensor) and value.dtype != x.dtype and not _is_basic(index):   # (0-d int tensors: ints)
        _index_put_dtype(x, index, value)
    if isinstance(value, Tensor) and value.ndim:   # (a 0-d value is a fill: read first)
        _refuse_overlap(x.data if not basic else _part(x, index), value.data, "setitem")
    elif isinstance(value, Tensor) and basic and value.data.base is not None:   # a 0-d view (of x?)
        part = _part(x, index)
        if not part.ndim:   # into one element: PyTorch's copy_, which checks the memory (else a fill, read first)
            _refuse_overlap(part, value.data, "setitem")
    # (a value that requires grad, written into an integer or bool tensor, is cast: no gradient, as PyTorch's copy_)
    record = is_recording() and (x.requires_grad or _requires_grad(value) and x.dtype.kind in "fc")
    if not record and getattr(x, "_view", None) and is_recording() and (
            made_under_no_grad(x) or _views_a_leaf(x)):
        if basic:   # PyTorch selects first: an index that does not fit raises its IndexError first (not index_put_'s)
            x.detach()[index]
        _refuse_unrecorded_view_write(x, "setitem")
    if not record:
        if isinstance(value, Tensor) and value.device != x.device:
            if value.ndim or value.device.type != "cpu":
                raise ValueError(f"setitem: value is on {value.device} but the tensor is on {x.device}")
            value = value.to(x.device)   # a 0-dim CPU value is read as a number, as PyTorch's
        target = x.data
        if not getattr(target.flags, "writeable", True):   # a view of shared memory: expanded, unfold windows
            target = _read_only_target(x, index, basic)
        arrays = None
        try:
            xp = backend.array_module(x.data)
            arrays = _index_arrays(index, xp, x.shape)
            target[arrays] = _written(xp, unwrap(value), x.dtype)
        except (IndexError, ValueError, TypeError) as error:
            message = f"setitem: {error} (tensor shape {x.shape})"
            if type(error) is ValueError or "boolean array indexing assignment" in str(error):
                error = ShapeMismatchError(message)   # a value that does not fit: PyTorch's RuntimeError
            if arrays is not None and isinstance(error, (ShapeMismatchError, IndexError)):
                error = _first_write_error(x.data, arrays, getattr(value, "shape", ()), error)
            if error is not None:
                raise backend.reworded(error, f"setitem: {str(error).removeprefix('setitem: ')}") from None
        except OverflowError:   # a Python number beyond an integer dtype's range: PyTorch's RuntimeError
            raise RuntimeError(f"setitem: value {value!r} cannot be converted to type {x.dtype} without overflow") \
                from None
        if x._requires_grad:
            _note_unrecorded_hook_view_write(x, "setitem")
        x._bump_version()
        return None
    if basic and x.requires_grad and not through and (x._node is None or getattr(x.data, "base", None) is not None
                                                      and _views_a_leaf(x)):
        x.detach()[index]   # refused below (a leaf): PyTorch selects first, so an index that does not fit raises its
        # IndexError first (an advanced index is index_put_'s, which refuses the leaf first)
    return x, "setitem", lambda cur: SetItem(index)(cur, value), (value,)


def _first_write_error(data: Any, index: Any, value_shape: tuple, error: Exception) -> Exception | None:
    """The error PyTorch raises first for ``data[index] = value`` (NumPy arrays) that NumPy refused with ``error``
    (an index out of range, or a value that does not fit): an indexed dim of size 0 (IndexError), then a value
    that does not broadcast to the indexed part (RuntimeError), then an index out of range (IndexError); None
    where PyTorch raises nothing (an index out of range into a part with no elements: nothing is written)."""
    try:
        shape = data[_in_range(index)].shape   # the indexed part's shape, every integer index moved into range
    except IndexError as empty:
        return empty
    if len(value_shape) > len(shape) or any(v not in (1, n) for v, n in zip(value_shape[::-1], shape[::-1])):
        return error if isinstance(error, ShapeMismatchError) else ShapeMismatchError(
            f"setitem: shape mismatch: value of shape {tuple(value_shape)} cannot be broadcast to the indexing "
            f"result of shape {shape}")
    return error if math.prod(shape) else None


def _in_range(index: Any) -> tuple:
    """``index`` (NumPy's: arrays, ints, slices …) with each integer array's entries 0: the same shape of part."""
    parts = index if type(index) is tuple else (index,)
    return tuple(backend.array_module(p).zeros_like(p) if backend.is_array(p) and p.dtype.kind in "iu" else p
                 for p in parts)


def _without_selects(index: Any) -> Any:
    """``index`` without its 0-d integer tensors, which PyTorch reads as ints (selects) before the tensor parts."""
    if type(index) is not tuple:
        return index
    return tuple(p for p in index if not (isinstance(p, Tensor) and p.ndim == 0 and p.dtype.kind == "i"))


def _is_basic(index: Any) -> bool:
    """Whether ``index`` is ints, slices, None and ``...`` only (a write through it is a view's ``copy_``)."""
    return type(index) in _PLAIN or type(index) is tuple and all(type(p) in _PLAIN for p in index)


def _cast(value: Any, dtype: Any) -> Any:
    """``value`` (an array or a scalar) in ``dtype`` with the values of PyTorch's ``copy_`` (a float into uint8
    through int64: 3.5151007e9 is 28, NumPy's direct cast gives 0), silently; itself when it has that dtype."""
    return cast_as_torch(value, dtype) if getattr(value, "dtype", dtype) != dtype else value


def _written(xp: Any, value: Any, dtype: Any) -> Any:
    """``value`` (an array or a number) cast to ``dtype`` for ``array[index] = value`` on every device (a signed
    zero kept on CuPy: :func:`backend.assignable`)."""
    return backend.assignable(xp, _cast(value, dtype), dtype)


def _index_put_dtype(x: Tensor, index: Any, value: Tensor) -> None:
    """PyTorch's check of an advanced-index write (``index_put_``) of a tensor ``value`` of another dtype than
    ``x``'s: a one-element value into a single bool mask is a ``masked_fill_`` (its number must fit x's dtype:
    RuntimeError); anything else raises its RuntimeError (the dtypes must match; basic indexing casts)."""
    parts = [p for p in (index if type(index) is tuple else (index,)) if type(p) not in _PLAIN]
    if value.ndim == 0 and len(parts) == 1:   # (a one-element value's leading 1s are dropped: 0-d)
        data = parts[0].data if isinstance(parts[0], Tensor) else parts[0]
        try:
            mask = backend.is_array(data) and data.dtype == numpy.bool_ or numpy.asarray(data).dtype == numpy.bool_
        except (TypeError, ValueError):   # a ragged list: not a mask
            mask = False
        if mask:
            _fill_in(value.item(), x.dtype, "setitem")
            return
    try:   # indices that do not broadcast, or a mask of another shape: PyTorch's IndexError first (bounds come later)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            x.detach()[index]
    except IndexError as error:
        if "out of bounds" not in str(error):
            raise backend.reworded(error, f"setitem: {str(error).removeprefix('getitem: ')}") from None
    raise DtypeMismatchError(f"setitem: Index put requires the source and destination dtypes match, got {x.dtype} "
                             f"for the destination and {value.dtype} for the source (an advanced index into a tensor "
                             f"of shape {x.shape}: cast the value with .to({x.dtype}))")


def _read_only_target(x: Tensor, index: Any, basic: bool) -> Any:
    """Where ``x[index] = value`` writes when x's array is a read-only view (``expand``, ``unfold`` windows): as
    PyTorch, a part (a basic index) whose elements each have memory of their own is written through, into the
    memory x views (so every copy of it changes: a writable alias of x's array, as fill_'s); a part whose elements
    share memory raises PyTorch's RuntimeError; an advanced index (PyTorch: deprecated) NotImplementedError."""
    part = x.detach()[index]   # an index that does not fit raises its IndexError first, as PyTorch's
    _refuse_conj_copy(part, "setitem")
    expanded = any(n > 1 and step == 0 for n, step in zip(x.data.shape, x.data.strides))
    what = "an expanded view" if expanded else "a read-only view (a part of an expanded tensor, or of unfold windows)"
    if not basic:
        raise NotImplementedError(f"setitem: an advanced index (a list, tensor or mask) into {what} of shape "
                                  f"{x.shape} is not supported (PyTorch deprecates it): clone() it first, or write "
                                  "through ints and slices")
    if part.data.size and _may_overlap(part.data.shape, part.data.strides):   # empty: no element to share
        raise RuntimeError(f"setitem: unsupported operation: more than one element of the written-to part (shape "
                           f"{part.shape}) of {what} of shape {x.shape} refers to a single memory location. Please "
                           "clone() the tensor first.")
    return _writable(x, "setitem")


def _part(x: Tensor, index: Any) -> Any:
    """The view of ``x``'s array that a basic ``index`` selects (x's array if the index does not fit: raised later)."""
    try:
        arrays = _index_arrays(index, backend.array_module(x.data), x.shape)
        part = x.data[arrays]
        if not backend.is_array(part):   # all integers: NumPy's scalar, a copy; with ``...`` the 0-d view
            part = x.data[(*arrays, ...) if isinstance(arrays, tuple) else (arrays, ...)]
        return part
    except (IndexError, TypeError, ValueError):
        return x.data


def _value_array(value: Any, x: Tensor, name: str) -> Any:
    """A non-Tensor value written into ``x`` (an array, a number, a nested list) as an array on x's device."""
    if backend.is_array(value):
        if value.dtype.kind not in backend.NUMERIC_KINDS:
            raise TypeError(f"{name}: can't write an array of dtype {value.dtype} into a tensor (numbers only)")
        return backend.to_device(value, x.device)
    if not isinstance(value, (list, tuple, int, float, complex, numpy.number, numpy.bool_)):
        # NumPy would store None as NaN and parse strings as numbers: PyTorch refuses both
        raise TypeError(f"{name}: can't write a {type(value).__name__} into a tensor "
                        "(expected a number, a list of numbers, an array or a Tensor)")
    try:
        host = numpy.asarray(value)
    except (TypeError, ValueError) as error:   # ragged lists, lists of Tensors of different shapes ...
        message = f"{name}: cannot write this {type(value).__name__} into a tensor: {error}"
        raise backend.reworded(error, message) from error
    if host.dtype.kind not in backend.NUMERIC_KINDS:
        raise TypeError(f"{name}: can't write a {type(value).__name__} holding {host.dtype} values into a tensor "
                        "(numbers only)")
    return backend.to_device(host, x.device)


# --- in-place twins of unary math, and random fills ----------------------------------------------

def _unary_(name: str, op: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    def method(x: Tensor) -> Tensor:
        return _inplace(x, name, op)
    method.__name__ = name
    method.__doc__ = f"``x = x.{name[:-1]}()`` in place (the gradient as the out-of-place op)."
    return method


exp_ = _unary_("exp_", exp)
log_ = _unary_("log_", log)
tanh_ = _unary_("tanh_", tanh)
sigmoid_ = _unary_("sigmoid_", sigmoid)
relu_ = _unary_("relu_", relu)
neg_ = _unary_("neg_", neg)
sqrt_ = _unary_("sqrt_", sqrt)


def abs_(x: Tensor) -> Tensor:
    """``x = x.abs()`` in place; a complex x is refused, as PyTorch refuses it (its result is real)."""
    if isinstance(x, Tensor) and x.dtype.kind == "c":
        raise ArgumentTypeError(f"abs_: in-place abs is not supported for complex tensors (dtype {x.dtype}, shape "
                                f"{x.shape}): the result is real; use x.abs()")
    return _inplace(x, "abs_", abs_op)


def pow_(x: Tensor, exponent: Any) -> Tensor:
    """``x **= exponent`` in place: ``exponent`` broadcasts to x's shape (x does not grow)."""
    return _inplace(x, "pow_", lambda cur: pow_op(cur, *in_dtype_of(cur, exponent)), exponent)


def uniform_(x: Tensor, a: float = 0.0, b: float = 1.0, *, generator: Any = None, **bounds: Any) -> Tensor:
    """Fill with samples of U(a, b) from ``generator`` or the device's generator (see ``manual_seed``).
    PyTorch's keywords for a and b are ``from`` (a Python keyword: ``uniform_(**{"from": -1, "to": 1})``)
    and ``to``."""
    if bounds:
        if not set(bounds) <= {"from", "to"}:
            raise TypeError(f"uniform_: unexpected keyword {sorted(set(bounds) - {'from', 'to'})[0]!r} (the bounds "
                            "are a and b, or PyTorch's from and to)")
        a, b = bounds.get("from", a), bounds.get("to", b)
    a, b = number(a, "uniform_", "a"), number(b, "uniform_", "b")
    _check_uniform_bounds(x, a, b)
    note_random_op("uniform_", into=x)
    sample = rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    # as PyTorch's: a and b rounded to x's (real) dtype first, and a sample rounded up to b there is a instead:
    # [a, b), each number of the dtype in it as likely (uniform_(1000, 1001) in float16: 1000 and 1000.5 half the
    # time each); complex: both parts so
    real = numpy.finfo(x.dtype).dtype
    a, b = numpy.asarray(a, real)[()], numpy.asarray(b, real)[()]
    value = sample * (float(b) - float(a)) + (complex(a, a) if x.dtype.kind == "c" else a)
    if a < b:
        if x.dtype.kind == "c":
            real_part, imag_part = value.real, value.imag
            value = masked_fill(real_part, real_part >= b, a) + 1j * masked_fill(imag_part, imag_part >= b, a)
        else:
            value = masked_fill(value, value >= b, a)
    return _inplace(x, "uniform_", _fill("uniform_", True, value))


def _check_uniform_bounds(x: Tensor, a: float, b: float) -> None:
    """PyTorch's checks of ``uniform_(a, b)``, in its order: x floating point or complex (NotImplementedError),
    a and b finite and within x's (real) dtype's range, a <= b, and b - a within that range too (RuntimeError):
    else the samples would be inf or NaN."""
    if x.dtype.kind not in "fc":
        raise SampleDtypeError(f"uniform_: not implemented for dtype {x.dtype} (floating point or complex tensors, "
                               "as PyTorch)")
    limit = float(numpy.finfo(x.dtype).max)
    for value, what in ((a, "from (a)"), (b, "to (b)")):
        if not -limit <= value <= limit:   # NaN too
            raise ShapeMismatchError(f"uniform_: {what} = {value} is out of bounds for dtype {x.dtype} (finite, "
                                     f"within ±{limit:g})")
    if a > b:
        raise ShapeMismatchError(f"uniform_: expects a range [a, b) with a <= b, got a={a} > b={b}")
    if b - a > limit:
        raise ShapeMismatchError(f"uniform_: expects b - a <= {limit:g} (the largest {x.dtype}), got a={a} and "
                                 f"b={b}: the samples would overflow")


def normal_(x: Tensor, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> Tensor:
    """Fill with samples of N(mean, std²) from ``generator`` or the device's generator (see ``manual_seed``)."""
    mean, std = number(mean, "normal_", "mean"), number(std, "normal_", "std")
    if not std >= 0:
        raise RuntimeError(f"normal_: expects std >= 0.0, but found std {std}")
    note_random_op("normal_", into=x)
    sample = randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    centre = complex(mean, mean) if x.dtype.kind == "c" else mean   # complex: both parts about mean, as PyTorch
    return _inplace(x, "normal_", _fill("normal_", True, sample * std + centre))
