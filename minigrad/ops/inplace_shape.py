"""In-place shape changes, as PyTorch's: ``unsqueeze_``, ``squeeze_``, ``t_``, ``transpose_`` (``swapaxes_``,
``swapdims_``), ``resize_`` and ``resize_as_``.

Each keeps the tensor object and gives it the new shape. The four view-like ones make ``x.data`` a view of
its old array (the memory stays shared with anything that shared it), and follow PyTorch's recording rules:

* under ``no_grad``, or when x does not require grad, only the shape changes;
* on a leaf that requires grad (or a view of one) they raise PyTorch's error;
* on a non-leaf they are recorded as the out-of-place op (``x`` becomes that node's output), so gradients
  flow to what x was computed from.

Like every in-place op they bump x's version counter, so a backward that saved x's array raises, as
PyTorch's does. View tracking (ops/inplace.py) stays exact: when x is a tracked view (``x = base[0]``) or
has tracked views (``v = x[0]``), x's old self lives on as a hidden tensor that takes over those records,
and x becomes its view through the reshape or transpose, so in-place ops on any of them still update the
others' graphs, as PyTorch's view tracking does. ``resize_`` refuses a tensor that requires grad, as
PyTorch's; see its docstring for the storage rules.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from .. import backend
from ..autograd import Function
from ..autograd.names import spelled
from ..recording import is_recording, record_grad
from ..tensor import Tensor
from ._util import NOT_GIVEN, ShapeMismatchError, axis_alias, int_tuple, one_axis, required_dim, some_sizes, sum_to
from .inplace import LEAF_ERROR, _views_a_leaf
from .join import _PartOf
from .shape import (
    NO_GRAD_VIEW,
    Reshape,
    Transpose,
    _note_view,
    made_under_no_grad,
    method_dims,
    squeeze,
    swapaxes,
    unsqueeze,
)

__all__ = ["resize_", "resize_as_", "squeeze_", "swapaxes_", "swapdims_", "t_", "transpose_", "unsqueeze_"]


def _tracked_views(x: Tensor) -> list:
    """The live tensors whose view record says they view ``x``."""
    views = [ref() for ref in getattr(x, "_views", None) or ()]
    return [v for v in views if v is not None and (getattr(v, "_view", None) or (None,))[0] is x]


def _is_tracked_view(x: Tensor) -> bool:
    record = getattr(x, "_view", None)
    return bool(record) and record[0] is not None   # not () (own memory) nor NO_GRAD_VIEW (no base to follow)


def _check(x: Any, name: str) -> bool:
    """PyTorch's refusals for an in-place op on ``x``; returns whether the op is recorded."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
    view = getattr(x, "_view", None)
    if view and is_recording() and made_under_no_grad(x):
        raise RuntimeError(f"{name}: a view was created in no_grad mode and is being modified in place with grad "
                           "mode enabled (as PyTorch, this is refused). Make the view and the in-place op both "
                           "inside the no_grad block, or both outside.")
    record = is_recording() and x.requires_grad
    if record:
        if x._node is None:
            raise RuntimeError(f"{name}: {LEAF_ERROR} Change its shape under `with mg.no_grad():`, "
                               "or use the out-of-place op.")
        if (view or getattr(x.data, "base", None) is not None) and _views_a_leaf(x):
            raise RuntimeError(f"{name}: a view of a leaf Variable that requires grad is being used in an "
                               "in-place operation.")
        while view and view[0] is not None:   # a part of chunk/split/unbind, or a view of one: PyTorch refuses
            if isinstance(view[1], _PartOf):
                raise RuntimeError(f"{name}: in-place op on a view of another tensor (a part of {view[1].name}) "
                                   f"while recording gradients: {view[1].name} returns several views of one tensor, "
                                   "and PyTorch refuses in-place ops on them too. Use the out-of-place op, or "
                                   "clone() the part first.")
            view = getattr(view[0], "_view", None)
    return record


# PyTorch's nodes of the in-place shape changes (their own overloads)
_NODES = {"unsqueeze_": "UnsqueezeBackward1", "t_": "TBackward1", "transpose_": "TransposeBackward1",
          "swapaxes_": "TransposeBackward1", "swapdims_": "TransposeBackward1"}


def _reshape_in_place(x: Any, name: str, make: Callable[[Tensor], Any], pytorch: str | None = None) -> Tensor:
    """Give ``x`` the shape of ``make(x)``: a Reshape or Transpose op (None: the shape stays), applied as a view
    of x's array; recorded when x is a non-leaf that requires grad (see the module docstring). ``pytorch``:
    PyTorch's name of the node (by default from ``_NODES``)."""
    record = _check(x, name)
    try:
        op = make(x)
    except (IndexError, ValueError, TypeError) as error:
        raise backend.reworded(error, f"{name}: {error}") from error
    if op is not None:
        op.name = spelled(name[:-1], pytorch or _NODES[name])
        views = _tracked_views(x)
        if views or _is_tracked_view(x):
            # x's old self, hidden, keeps x's place among the views; x becomes op(old), a view of it
            old = Tensor._make(x.data, x._requires_grad, x._node, x._index)
            record_before = getattr(x, "_view", None)
            if _is_tracked_view(x):
                _note_view(record_before[0], old, record_before[1])
            else:
                old._view = record_before
            for view in views:
                _note_view(old, view, view._view[1])
            x._views = []
            source = old
        else:
            source = x
        data_before = x.data
        out = op(source)
        x.data = out.data
        if record:
            x._node, x._index, x._requires_grad = out._node, out._index, out._requires_grad
        elif x._requires_grad and x._node is not None and out.shape != data_before.shape:
            with record_grad():   # under no_grad: a node that only checks the gradient's shape, as PyTorch's engine
                kept = _ShapeChangedWithoutGrad(name, tuple(data_before.shape))(
                    Tensor._make(data_before, True, x._node, x._index))
            kept.data = x.data
            x._node, x._index = kept._node, kept._index
        if source is x:   # no view records to keep: () marks memory of its own (x's array is now a view)
            before = getattr(x, "_view", None)
            if before is not NO_GRAD_VIEW:
                owns = before == () or (before is None and getattr(data_before, "base", None) is None)
                x._view = () if owns else None
        else:
            _note_view(old, x, op)
    x._bump_version()
    return x


class _ShapeChangedWithoutGrad(Function):
    """A non-leaf's shape changed in place under ``no_grad`` (``unsqueeze_``, ``t_`` …): PyTorch records nothing,
    and its engine sums a gradient of the new shape down to the shape the op that made x gave it, where that
    shape broadcasts to it (an unsqueeze_(0)), and raises otherwise. This node does the same; without it the
    gradient of the new shape went on into that op, which broadcast it into gradients of the wrong shape."""

    name = "shape_changed_without_grad"

    def __init__(self, op: str, shape: tuple) -> None:
        self.op, self.shape = op, shape

    def forward(self, x: Any) -> Any:
        return x

    def backward(self, gy: Any) -> Any:
        shape, got = self.shape, tuple(gy.shape)
        if len(shape) > len(got) or any(n != m and n != 1 for n, m in zip(shape[::-1], got[::-1])):
            raise RuntimeError(f"backward: {self.op} under no_grad changed the shape of a tensor that requires grad "
                               f"from {shape} to {got}; the gradient of shape {got} is not compatible with the "
                               f"shape {shape} its op made (PyTorch's 'invalid gradient'). Change the shape out of "
                               "place (x = x.unsqueeze(0)), or with gradients recorded.")
        return sum_to(gy, shape)


def _two_dims(x: Tensor, dim0: Any, dim1: Any, name: str) -> Transpose | None:
    swapaxes(Tensor._make(x.data, False, None, 0), dim0, dim1)   # PyTorch's checks and errors, on a stand-in
    if x.ndim == 0:
        return None
    axes = list(range(x.ndim))
    a, b = one_axis(dim0, x.ndim, name), one_axis(dim1, x.ndim, name)
    axes[a], axes[b] = axes[b], axes[a]
    return Transpose(tuple(axes))


def _new_shape(x: Tensor, make: Callable[[Tensor], Tensor]) -> Reshape:
    return Reshape(tuple(make(Tensor._make(x.data, False, None, 0)).shape))   # checked and shaped on a stand-in


def unsqueeze_(x: Tensor, dim: int = NOT_GIVEN, *, axis: Any = NOT_GIVEN) -> Tensor:
    """Insert a length-1 dim at ``dim`` in place: (*S) → S with a 1 at ``dim``. ``axis=`` is PyTorch's alias of
    ``dim=``."""
    if axis is not NOT_GIVEN or dim is NOT_GIVEN:
        dim = required_dim("unsqueeze_", dim, axis)
    return _reshape_in_place(x, "unsqueeze_", lambda cur: _insert_dim(cur, dim))


def _insert_dim(x: Tensor, dim: int) -> Reshape:
    shape = tuple(unsqueeze(Tensor._make(x.data, False, None, 0), dim).shape)   # checked and shaped on a stand-in
    return Reshape(shape, one_axis(dim, x.ndim + 1, "unsqueeze_"))


def squeeze_(x: Tensor, *dims: Any, dim: Any = NOT_GIVEN, axis: Any = NOT_GIVEN) -> Tensor:
    """Remove length-1 dims in place: all of them, or those of ``dim`` (an int, a tuple, or separate ints as
    PyTorch's ``x.squeeze_(0, 2)``) that have length 1. ``axis=`` is PyTorch's alias of ``dim=`` (a dim whose
    length is not 1 stays, as PyTorch's: NumPy has no in-place squeeze). ``dim=None`` is PyTorch's TypeError."""
    dim = axis_alias("squeeze_", dim, axis, NOT_GIVEN)
    if dim is None or any(d is None for d in dims):
        raise TypeError("squeeze_(): dim=None is not one of PyTorch's overloads (an int, a tuple of ints or no dim: "
                        "leave it out to squeeze every length-1 dim)")
    dim = method_dims("squeeze_", dims, None if dim is NOT_GIVEN else dim)
    return _reshape_in_place(x, "squeeze_", lambda cur: _new_shape(
        cur, lambda s: squeeze(s) if dim is None else squeeze(s, dim)),
        f"SqueezeBackward{3 if dim is None else 5 if isinstance(dim, (tuple, list)) else 4}")


def t_(x: Tensor) -> Tensor:
    """Transpose a 2-D tensor in place, (m, n) → (n, m); 0-d and 1-D stay as they are. More dims raise."""
    if isinstance(x, Tensor) and x.ndim > 2:
        raise ShapeMismatchError(f"t_: expects a tensor with <= 2 dimensions, but self is {x.ndim}D (shape {x.shape})")
    return _reshape_in_place(x, "t_", lambda cur: Transpose((1, 0)) if cur.ndim == 2 else None)


def transpose_(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap dims ``dim0`` and ``dim1`` in place: x (…, A, …, B, …) becomes (…, B, …, A, …), same memory."""
    return _reshape_in_place(x, "transpose_", lambda cur: _two_dims(cur, dim0, dim1, "transpose_"))


def swapaxes_(x: Tensor, axis0: int, axis1: int) -> Tensor:
    """:func:`transpose_` (PyTorch's ``swapaxes_`` spelling)."""
    return _reshape_in_place(x, "swapaxes_", lambda cur: _two_dims(cur, axis0, axis1, "swapaxes_"))


def swapdims_(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """:func:`transpose_` (PyTorch's ``swapdims_`` spelling)."""
    return _reshape_in_place(x, "swapdims_", lambda cur: _two_dims(cur, dim0, dim1, "swapdims_"))


def resize_(x: Tensor, *sizes: Any, size: Any = None, memory_format: Any = None) -> Tensor:
    """Give ``x`` the shape ``sizes`` (ints or one sequence, or ``size=``) in place, as ``torch.Tensor.resize_``.

    The elements are read in x's memory order: shrinking keeps the first ∏sizes of them (x's array becomes
    a view of its old one); growing keeps them all and adds zeros after them, in new memory (PyTorch leaves
    new elements uninitialised). Refused, with an error naming the case: a tensor that requires grad (as
    PyTorch); one that is not C-contiguous (PyTorch reads its storage order: call ``contiguous()`` first);
    shrinking a tensor that is, or has, a view tracked for autograd (``x[0]`` made while recording: its
    place in the shrunk memory has no index; resize a ``clone()``). The same shape changes nothing.
    ``memory_format`` is accepted (arrays are C-ordered).
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"resize_: expected a Tensor, got {type(x).__name__}")
    if size is not None:   # PyTorch's keyword
        if sizes:
            raise TypeError("resize_: give the sizes once, positionally or as size=")
        sizes = (size,)
    if len(some_sizes("resize_", sizes, "size")) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    shape = int_tuple(sizes, "resize_", "size")
    if any(n < 0 for n in shape):
        raise ShapeMismatchError(f"resize_: sizes must be non-negative, got {shape}")
    if x.requires_grad:
        raise RuntimeError(f"resize_: cannot resize variables that require grad (shape {x.shape} → {shape})")
    if shape == x.shape:
        return x
    data = x.data
    if not data.flags.c_contiguous:
        raise NotImplementedError(f"resize_: the tensor (shape {x.shape}) is not C-contiguous; PyTorch would read "
                                  "its storage order, which minigrad does not model: call .contiguous() first")
    count, flat = math.prod(shape), data.reshape(-1)   # a view: the array is contiguous
    views = _tracked_views(x)
    if count <= flat.size:
        if views or _is_tracked_view(x):
            raise NotImplementedError(f"resize_: shrinking a tensor (shape {x.shape} → {shape}) that is a view, or "
                                      "has views, tracked for autograd (x[i], x.view(...) made while recording) is "
                                      "not supported; resize a clone() of it")
        before = getattr(x, "_view", None)
        x.data = flat[:count].reshape(shape)
        if before is not NO_GRAD_VIEW:
            x._view = () if before == () or (before is None and getattr(data, "base", None) is None) else None
    else:
        xp = backend.array_module(data)
        with backend.on_device(x.device):
            grown = xp.zeros(count, dtype=data.dtype)
        grown[:flat.size] = flat
        x.data = grown.reshape(shape)
        for view in views:   # they keep the old memory, which x no longer shares
            view._view = None
        x._view, x._views = (), []
    x._bump_version()
    return x


def resize_as_(x: Tensor, the_template: Tensor, memory_format: Any = None) -> Tensor:
    """:func:`resize_` to the shape of ``the_template``."""
    if not isinstance(the_template, Tensor):
        raise TypeError(f"resize_as_: the template must be a Tensor, got {type(the_template).__name__}")
    return resize_(x, the_template.shape)


METHODS = {name: globals()[name] for name in __all__}
