"""PyTorch-style custom autograd Functions: static ``forward(ctx, …)`` / ``backward(ctx, …)`` on Tensors.

PyTorch code writes its own differentiable ops like this, and it runs here unchanged::

    class Clamp(mg.autograd.Function):
        @staticmethod
        def forward(ctx, x, low):              # Tensors (and anything else) in, Tensors out
            ctx.save_for_backward(x)
            ctx.low = low
            return x.clamp(min=low)

        @staticmethod
        def backward(ctx, grad):               # one gradient per output → one per forward argument
            (x,) = ctx.saved_tensors
            return grad * (x > ctx.low), None   # None: no gradient for `low`

    y = Clamp.apply(x, 0.0)

``forward`` runs with gradient recording off; the call becomes one node of the graph, whose backward
calls ``backward`` without recording; with ``create_graph=True`` it records, as PyTorch's, so that the
gradient it returns can be differentiated again (unless it is decorated with :func:`once_differentiable`).
The ctx offers PyTorch's ``save_for_backward``/``saved_tensors`` (checked for in-place changes, freed
after backward and seen by ``saved_tensors_hooks``, as any op's saved values), ``needs_input_grad``,
``mark_non_differentiable``, ``mark_dirty`` (not on a view, nor on a tensor with live views: NotImplementedError)
and ``set_materialize_grads``; the ``setup_context`` form (``forward`` without ctx) works too. Integer and bool
outputs never require grad, values that are not Tensors among the outputs pass through (``backward`` gets
None for them; a forward without any Tensor output returns its value as it is, as PyTorch's), and a
gradient of a shape its input broadcasts to is summed down to the input's shape, as in PyTorch. A class whose
``forward`` is an ordinary method is one of the engine's own ops (``forward``/``backward`` on arrays, see
:class:`~minigrad.autograd.engine.Function`); for those, ``Op.apply(*inputs)`` is ``Op()(*inputs)``.

Inside ``mg.compile``, a call to a custom Function makes the captured call run eagerly (with a
``CompileWarning``): its ``forward`` is Python the replay cannot see into. Inside ``mg.func.vmap`` (a loop over the
examples), a Function's ``vmap`` staticmethod computes each example's forward where an input may be batched, as
PyTorch's batched call does (see ``custom_vmap.py``); as in PyTorch, a ``forward(ctx, …)`` Function raises inside
any ``mg.func`` transform (not ``linearize``), one without vmap support inside ``vmap``/``jacfwd``/``hessian``, and
one without ``jvp`` in forward AD on an input carrying a tangent (whose ``forward`` runs with forward AD off: its
outputs' tangents are ``jvp``'s). An output that shares an input's memory (the input returned as it is, or a view
of it) is, as in PyTorch, a view made inside a custom Function: an in-place change to it, or to its base after the
call, makes its use in backward raise.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading
import warnings
from typing import Any, Callable

from ..hooks import current_level
from ..recording import _state, no_grad, record_grad
from ..tensor import Tensor
from ..versions import INPLACE, memory_owner
from . import engine
from .custom_vmap import batched, run_vmap_rule, uses_vmap_rule, vmap_is_innermost, vmap_randomness
from .engine import Function, _dense
from .functions import grad
from .graph import unpacked

__all__ = ["DelayedError", "FunctionCtx", "once_differentiable"]


class FunctionCtx:
    """What ``forward`` (or ``setup_context``) leaves for ``backward``; PyTorch's ``ctx``.

    Any attribute may be set on it (``ctx.low = low``); tensors for the backward go through
    :meth:`save_for_backward`, as in PyTorch.
    """

    def __init__(self, needs_input_grad: tuple) -> None:
        self.needs_input_grad = needs_input_grad   # per forward argument: a Tensor that requires grad
        self._materialize_grads = True
        self._saved: tuple = ()
        self._non_differentiable: set[int] = set()
        self._node: _CustomNode | None = None   # during backward: the node, whose saved values saved_tensors reads
        self._recording = False                  # ... under create_graph=True
        self._dirty: tuple = ()
        self._saved_forward: tuple = ()   # save_for_forward's: what ``jvp`` reads as saved_tensors
        self._in_jvp = False
        self._freed = False   # a backward freed the saved tensors (reading them then raises, as PyTorch)
        self._recorded = False   # the call's node holds the saved tensors (forward, setup_context: read none)
        # PyTorch's public record of the calls below (None until made; to_save is None again once recorded)
        self.to_save: tuple | None = None
        self.dirty_tensors: tuple | None = None
        self.non_differentiable: tuple | None = None

    def save_for_backward(self, *tensors: Tensor | None) -> None:
        """Keep ``tensors`` (Tensors or None) for ``backward``, which reads them as ``ctx.saved_tensors``."""
        self._saved = self.to_save = _saveable("save_for_backward", tensors)

    def save_for_forward(self, *tensors: Tensor | None) -> None:
        """Keep ``tensors`` for ``jvp`` (forward AD), which reads them as ``ctx.saved_tensors``, as PyTorch's."""
        self._saved_forward = _saveable("save_for_forward", tensors)

    @property
    def saved_tensors(self) -> tuple:
        """The tensors given to :meth:`save_for_backward`. In ``backward`` they are the node's saved values: the
        engine checked them for in-place changes (RuntimeError, as PyTorch), and saved-tensor hooks' ``unpack_hook``
        runs on them at each read, as PyTorch's; a value the hooks replaced is a new Tensor (on the saved tensor's
        graph under ``create_graph=True``). In ``jvp``, the tensors given to :meth:`save_for_forward`; in ``forward``
        and ``setup_context``, ``()`` (as PyTorch's: the call is not recorded yet)."""
        if self._in_jvp:
            return self._saved_forward
        if self._freed:
            raise RuntimeError("Trying to backward through the graph a second time (or directly access saved tensors "
                               "after they have already been freed): a backward freed them. Specify "
                               "retain_graph=True in the first backward if you need to.")
        node = self._node
        if node is None:
            return self._saved if self._recorded else ()
        arrays = unpacked(node, node.saved)
        if self._recording:
            return tuple(node._on_graph(t, a) for t, a in zip(self._saved, arrays))
        return tuple(t if t is None or t.data is a else Tensor._make(a, False, None, 0)
                     for t, a in zip(self._saved, arrays))

    def mark_non_differentiable(self, *outputs: Tensor) -> None:
        """These outputs (returned by ``forward``) get no gradient and do not require grad (an index, a mask)."""
        for t in outputs:
            if not isinstance(t, Tensor):
                raise RuntimeError(f"mark_non_differentiable only accepts variable arguments, but got "
                                   f"{type(t).__name__}")
        self._non_differentiable.update(id(t) for t in outputs)
        self.non_differentiable = outputs

    def set_materialize_grads(self, value: bool) -> None:
        """With False, ``backward`` receives None for an output that got no gradient, instead of zeros."""
        if not isinstance(value, bool):   # as PyTorch's: a bool only
            raise TypeError(f"set_materialize_grads received an invalid combination of arguments - got "
                            f"({type(value).__name__}), but expected (bool)")
        self._materialize_grads = value

    def mark_dirty(self, *tensors: Tensor) -> None:
        """These inputs were changed in place by ``forward``, which returns them: each becomes that output (the
        same Tensor object, now with this call's node as its ``grad_fn``), as PyTorch's ``mark_dirty``."""
        self._dirty = self.dirty_tensors = tensors

    @property
    def saved_variables(self) -> tuple:
        """PyTorch's deprecated name of :attr:`saved_tensors` (a DeprecationWarning, as PyTorch's)."""
        warnings.warn("'saved_variables' is deprecated; use 'saved_tensors'", DeprecationWarning, stacklevel=2)
        return self.saved_tensors


ONCE_DIFFERENTIABLE = "trying to differentiate twice a function that was marked with @once_differentiable"


def _saveable(name: str, tensors: tuple) -> tuple:
    """``tensors`` if each is a Tensor or None, else PyTorch's TypeError for ``ctx.<name>``."""
    for i, t in enumerate(tensors):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"{name} can only save Tensors or None, but argument {i} is of type {type(t).__name__}")
    return tensors


def once_differentiable(backward: Callable) -> Callable:
    """PyTorch's decorator for a ``backward`` that is not itself differentiable: it runs without recording even
    with ``create_graph=True``. As in PyTorch, where the gradients it receives require grad, the gradients it
    returns then require grad too, and differentiating them raises a RuntimeError; a double backward that does
    not need them is fine."""
    @functools.wraps(backward)
    def wrapper(ctx: Any, *grads: Any) -> Any:
        with no_grad():
            return backward(ctx, *grads)
    wrapper.once_differentiable = True
    return wrapper


class DelayedError(Function):
    """Stands for a gradient a ``once_differentiable`` backward returned: the gradient itself, whose own
    backward raises (PyTorch's ``DelayedError``), so only a double backward that needs it fails."""

    name = "once_differentiable"

    def forward(self, g: Any) -> Any:
        return g

    def backward(self, gg: Any) -> Any:
        raise RuntimeError(ONCE_DIFFERENTIABLE)


class _CustomNode(Function):
    """The graph node of one ``Op.apply(…)``: its outputs were computed by ``Op.forward``; its backward
    calls ``Op.backward`` on Tensors and hands the engine one array (or None) per tensor input."""

    unpacks_lazily = True   # ctx.saved_tensors unpacks saved-tensor hooks' values at each read, as PyTorch

    def __init__(self, op: type, ctx: FunctionCtx, outputs: tuple, positions: list[int], n_args: int,
                 out_positions: list[int], n_results: int) -> None:
        self.name = op.__name__
        self.op, self.ctx = op, ctx
        # the arrays forward returned, for the one call that records this node (_apply drops them then: a graph
        # holds only what backward saved, as PyTorch's, so an output the user dropped is freed)
        self.results = tuple(t.data for t in outputs)
        self.out_dtypes = tuple(t.dtype for t in outputs)
        # id of each saved Tensor (kept alive by ctx._saved) that is one of forward's outputs -> which one
        self.saved_outputs = {id(t): i for t in ctx._saved if t is not None
                              for i, y in enumerate(outputs) if t.data is y.data}
        self.positions, self.n_args = positions, n_args   # where each tensor input sits among the arguments
        self.out_positions, self.n_results = out_positions, n_results   # the same for the Tensors forward returned
        self.multiple, self.n_outputs = len(outputs) > 1, len(outputs)
        self.shapes = [t.shape for t in outputs]
        # the arrays of ctx.save_for_backward, as any op's `saved`: the engine checks them for in-place changes
        # before backward, frees them after it (a second backward raises) and packs them with saved-tensor hooks
        self.saved = tuple(None if t is None else t.data for t in ctx._saved)

    @staticmethod
    def complex_grad(node: _CustomNode, arrays: Any) -> Any:
        """A Function's ``backward`` gives PyTorch's gradients as written (of complex values too: the conjugate
        Wirtinger convention is the author's, as in PyTorch): True unless it declares another ``complex_grad``
        (engine._complex_gate's marks; False refuses complex values)."""
        return getattr(node.op, "complex_grad", True)

    def forward(self, *arrays: Any) -> Any:
        return self.results if self.multiple else self.results[0]

    def _backward(self) -> Callable:
        """The Op's ``backward``, or its ``vjp`` (PyTorch's other name for it)."""
        defined = _defined(self.op)
        if "backward" in defined or "vjp" not in defined:
            if "backward" not in defined:
                raise NotImplementedError(f"{self.name}: you must implement either the backward or vjp method for "
                                          "your custom autograd.Function to use it with backward mode AD.")
            return self.op.backward
        return self.op.vjp

    def __getattr__(self, name: str) -> Any:
        """The ctx's attributes, as PyTorch's ``grad_fn`` of a custom Function is its ctx (``y.grad_fn.saved_tensors``,
        ``y.grad_fn.needs_input_grad``, anything ``forward`` set on ctx)."""
        if name.startswith("__") or name == "ctx":
            raise AttributeError(name)
        return getattr(self.ctx, name)

    def _per_output(self, grads: Any) -> list:
        """One gradient per value ``forward`` returned: None for one that is not a Tensor, as PyTorch's."""
        if self.n_results == len(grads):
            return list(grads)
        full = [None] * self.n_results
        for position, g in zip(self.out_positions, grads):
            full[position] = g
        return full

    def _refuse_changed_views(self) -> None:
        """PyTorch's error for an output that views an input's memory (see :func:`_note_views_of_inputs`) once
        that memory (its base, the output itself or another view) was changed in place after this call."""
        for k, array in self.views_of_inputs:
            if INPLACE.changed_since(array, self.view_epoch) is not None:
                raise RuntimeError(f"Output {self.out_positions[k]} of {self.name} is a view and its base or another "
                                   "view of its base has been modified inplace. This view was created inside a custom "
                                   "Function (or because an input was returned as-is) and the autograd logic to "
                                   "handle view+inplace would override the custom backward associated with the custom "
                                   "Function, leading to incorrect gradients. This behavior is forbidden. You can fix "
                                   "this by cloning the output of the custom Function.")

    def backward(self, *grads: Any) -> Any:
        self._refuse_changed_views()
        ctx, xp = self.ctx, self.xp
        if ctx._materialize_grads:
            grads = tuple(xp.zeros(shape, dtype=dtype) if g is None else g
                          for g, shape, dtype in zip(grads, self.shapes, self.out_dtypes))
        grads = self._per_output(grads)
        ctx._node = self
        try:
            with no_grad():
                result = self._backward()(ctx, *(None if g is None else Tensor._make(_dense(g), False, None, 0)
                                                 for g in grads))
        finally:
            ctx._node = None
        if engine.frees_saved() and ctx._saved:   # the walk frees this node's saved arrays: the ctx lets go too
            ctx._saved, ctx._freed = (), True
        arrays = []
        for g in self._per_input(result):
            arrays.append(None if g is None else g.data if isinstance(g, Tensor) else g)
        return tuple(arrays) if len(arrays) > 1 else arrays[0]

    def _per_input(self, result: Any) -> list:
        """``Op.backward``'s result checked: one gradient (or None) per tensor input, in their order."""
        result = result if isinstance(result, tuple) else (result,)
        if len(result) < self.n_args or any(g is not None for g in result[self.n_args:]):
            raise RuntimeError(f"{self.name}.backward returned an incorrect number of gradients (expected "
                               f"{self.n_args}, got {len(result)})")
        for i, g in enumerate(result[:self.n_args]):   # as PyTorch: a gradient for a non-Tensor argument is a bug
            if g is not None and i not in self.positions:
                raise RuntimeError(f"{self.name}.backward returned a gradient different than None at position "
                                   f"{i + 1}, but the corresponding forward input was not a Tensor")
        grads = []
        for k, position in enumerate(self.positions):
            g = result[position]
            if g is None or not self.needs_grad[k]:
                grads.append(None)
                continue
            data = g.data if isinstance(g, Tensor) else g
            shape = self.input_shapes[k]
            if getattr(data, "shape", None) != shape:
                g = self._summed_to(g, shape, position)
            if getattr(data, "dtype", None) is not None and data.dtype.kind == "c" and self.input_dtypes[k].kind != "c":
                raise RuntimeError(f"{self.name}.backward returned a complex gradient ({data.dtype}) at index "
                                   f"{position} for a real input ({self.input_dtypes[k]}); return its real part "
                                   "(PyTorch refuses it too)")
            grads.append(g)
        return grads

    def _summed_to(self, g: Any, shape: tuple, position: int) -> Any:
        """A gradient of a broadcast shape summed down to its input's ``shape``, as PyTorch takes it (the input's
        shape must expand to the gradient's); any other shape raises PyTorch's RuntimeError."""
        got = getattr(g, "shape", None)
        lead = -1 if got is None else len(got) - len(shape)
        if lead < 0 or any(size not in (1, n) for size, n in zip(shape, got[lead:])):
            raise RuntimeError(f"{self.name}.backward returned an invalid gradient at index {position}: got shape "
                               f"{type(g).__name__ if got is None else tuple(got)} but expected a shape "
                               f"compatible with {shape}")
        axes = tuple(range(lead)) + tuple(lead + i for i, size in enumerate(shape) if size == 1 and got[lead + i] != 1)
        summed = g.sum(dim=axes, keepdim=True) if isinstance(g, Tensor) else g.sum(axis=axes, keepdims=True)
        return summed.reshape(shape)

    def recorded_backward(self, grads: list) -> tuple:
        """``create_graph=True``: ``Op.backward`` on the gradient Tensors ``grads`` (one per output, None where
        none arrived) with recording on, as PyTorch runs it, so the gradients it returns can be differentiated
        again. A saved output becomes this node's output again (its derivative runs through this node); a
        saved input is the input itself. Returns one gradient Tensor (or None) per tensor input.

        For a forward-AD tangent (``engine.FORWARD_AD.passing``: forward_ad's double-vjp walk) of an Op that
        defines ``jvp``, the transpose of its ``jvp`` instead of ``backward``, so the tangent is ``jvp``'s, as
        PyTorch's forward AD (the two differ where ``backward`` is not the true derivative)."""
        level = engine.FORWARD_AD
        if level is not None and getattr(level, "passing", False) and "jvp" in _defined(self.op):
            return self._jvp_transposed(grads)
        self._refuse_changed_views()
        ctx, xp = self.ctx, self.xp
        if ctx._materialize_grads:
            grads = [Tensor._make(xp.zeros(shape, dtype=dtype), False, None, 0) if g is None else g
                     for g, shape, dtype in zip(grads, self.shapes, self.out_dtypes)]
        grads = self._per_output(grads)
        once = getattr(self._backward(), "once_differentiable", False)
        ctx._node, ctx._recording = self, True
        try:
            with record_grad():
                result = self._backward()(ctx, *grads)
        finally:
            ctx._node, ctx._recording = None, False
        out = []
        for g in self._per_input(result):
            if g is not None and not isinstance(g, Tensor):
                g = Tensor._make(g, False, None, 0)
            out.append(g)
        if once and any(g is not None and g.requires_grad for g in grads):
            # as PyTorch's once_differentiable: a gradient that would depend on the incoming ones raises when used
            out = [None if g is None else DelayedError()(Tensor._make(g.data, True, None, 0)) for g in out]
        return tuple(out)

    def _jvp_transposed(self, grads: list) -> tuple:
        """``Jᵀg`` of the linear map ``Op.jvp(ctx, *tangents)``: the gradient of ``Σ ⟨jvp(t), g⟩`` w.r.t. tangents
        ``t`` (zeros that require grad), with a graph, so forward AD's second vjp gives ``jvp(t)`` back."""
        # with set_materialize_grads(False), None for an input without a tangent (PyTorch's jvp gets None there)
        materialize, level = self.ctx._materialize_grads, engine.FORWARD_AD
        leaves = [Tensor._make(self.xp.zeros(shape, dtype=dtype), True, None, 0)
                  if materialize or (edge is not None and level.reaches_dual([edge])) else None
                  for shape, dtype, edge in zip(self.input_shapes, self.input_dtypes, self.edges)]
        with record_grad():   # (copies, which a jvp may change in place: that of an input marked dirty does)
            tangents = [None if t is None else t.clone() for t in leaves]
        args: list = [None] * self.n_args
        for position, t in zip(self.positions, tangents):
            args[position] = t
        self.ctx._in_jvp = True
        try:
            with record_grad():
                result = self.op.jvp(self.ctx, *args)
        finally:
            self.ctx._in_jvp = False
        result = result if isinstance(result, tuple) else (result,)
        if len(result) != self.n_results:
            raise RuntimeError(f"{self.name}: Function's jvp returned an invalid number of forward gradients "
                               f"(expected {self.n_results} but got {len(result)})")
        for position in self.out_positions:
            out = result[position]
            if out is not None and not isinstance(out, Tensor):
                raise RuntimeError(f"{self.name}: expected Variable or None (got {type(out).__name__}) for grad "
                                   f"output {position}.")
            if out is not None and bool(self.xp.any((out.data != 0) & self.xp.isfinite(out.data))):
                raise RuntimeError(f"{self.name}: its jvp gave a nonzero tangent (output {position}) for zero input "
                                   "tangents: minigrad's forward AD takes a custom Function's jvp as a linear map of "
                                   "the tangents (it transposes it), and a constant term cannot be carried. Return a "
                                   "linear function of the tangents.")
        self._check_view_tangents(result, tangents)
        pairs = [(out, g) for out, g in zip((result[p] for p in self.out_positions), grads)
                 if g is not None and isinstance(out, Tensor) and out.requires_grad]
        given = [t for t in leaves if t is not None]
        if not pairs or not given:
            return (None,) * len(tangents)
        summed = iter(grad([out for out, _ in pairs], given, [g for _, g in pairs], create_graph=True,
                           allow_unused=True))
        out = []
        for t, need in zip(tangents, self.needs_grad):
            g = None if t is None else next(summed)
            out.append(g if need else None)
        return tuple(out)

    def _check_view_tangents(self, result: tuple, tangents: list) -> None:
        """PyTorch's RuntimeError for an output that is a view of an input carrying a tangent (or that input returned
        as it is) whose tangent from ``jvp`` is not a view of that input's tangent."""
        level = engine.FORWARD_AD
        for k, i in getattr(self, "view_inputs", {}).items():
            t, out = tangents[i], result[self.out_positions[k]]
            if t is None or self.edges[i] is None or not level.reaches_dual([self.edges[i]]):
                continue
            if out is None or out is t or memory_owner(out.data) is not memory_owner(t.data):
                raise RuntimeError(f"{self.name}: A custom Function's forward is returning a view (or an input "
                                   f"as-is) but the jvp is not returning a view (output {self.out_positions[k]}): "
                                   "return a view of the input's tangent")

    def _on_graph(self, t: Any, unpacked: Any) -> Any:
        """A saved tensor as ``backward`` sees it under ``create_graph=True``: an output of ``forward`` (saved
        without a graph) as this node's output, anything else as it is; where saved-tensor hooks gave back other
        values (``unpacked``, the array), those values on the saved tensor's graph, as PyTorch's unpack."""
        if t is None:
            return None
        if unpacked is not None and unpacked is not t.data:
            return _AsUnpacked.apply(self._on_graph(t, None), Tensor._make(unpacked, False, None, 0))
        i = self.saved_outputs.get(id(t))
        if i is not None and not t.requires_grad and id(t) not in self.ctx._non_differentiable:
            return Tensor._make(t.data, True, self, i)
        return t



def _is_pytorch_style(op: type) -> bool:
    return isinstance(op.__dict__.get("forward"), staticmethod) or any(
        isinstance(base.__dict__.get("forward"), staticmethod) for base in op.__mro__[1:] if base is not Function)


def _apply(op: type, *args: Any, **kwargs: Any) -> Any:
    """``Op.apply(*args)``: run a PyTorch-style ``Op.forward`` and record one node for the call."""
    if not _is_pytorch_style(op):   # one of the engine's ops: apply is calling it
        return op(**kwargs)(*args)
    setup = "setup_context" in _defined(op)
    if kwargs or setup:
        args = _bind(op, args, kwargs, setup)
    recording = _state.get()
    tracer = recording.checks
    if tracer not in (True, False) and hasattr(tracer, "note_eager"):
        tracer.note_eager(f"it calls the custom autograd Function {op.__name__}, whose forward the replay "
                          "cannot see into")
    if (current_level() is not None or FUNCTIONALIZING.depth) and _users(op):
        _check_transforms(op, setup)
    positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    # as PyTorch's: whether each input requires grad, also under no_grad (where no node is recorded)
    needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
    if engine.FORWARD_AD is not None and any(needs) and not _reverse_transform_innermost():
        # PyTorch's duals do not require grad (minigrad's do: forward AD runs on the reverse-mode graph)
        needs = tuple(need and engine.FORWARD_AD.requires_grad_outside(a) for a, need in zip(args, needs))
    randomness = vmap_randomness()
    # (as PyTorch's, a call on inputs none of which is mapped runs forward, not the rule)
    rule = randomness is not None and uses_vmap_rule(op, "vmap" in _defined(op)) and batched(args)
    if rule and vmap_is_innermost():   # the rule is the call, as PyTorch's
        return run_vmap_rule(op, args, randomness)
    ctx = FunctionCtx(needs)
    result = _run_forward(op, ctx, args, setup, rule, randomness)
    results = result if isinstance(result, tuple) else (result,)
    out_positions = [i for i, y in enumerate(results) if isinstance(y, Tensor)]   # other values pass through
    outputs = tuple(results[i] for i in out_positions)
    if ctx._dirty and randomness is not None and getattr(op, "generate_vmap_rule", False) and batched(args):
        raise RuntimeError(f"{op.__name__}: Some elements marked as dirty during the forward method were not returned "
                           "as output. The inputs that are modified inplace must all be outputs of the Function. "
                           "(PyTorch's generate_vmap_rule=True runs forward on unwrapped copies inside vmap: "
                           "mark_dirty there raises this; write a vmap staticmethod)")
    _check_dirty(op, ctx, args, outputs)
    # inputs returned as they are (not marked dirty): PyTorch's outputs are views of them, not the inputs
    as_is = {id(y) for y in outputs if any(y is a for a in args) and not any(y is x for x in ctx._dirty)}
    if setup:
        _refuse_saved_as_is(op, ctx, as_is, recording.grad and any(needs))
    if not outputs:   # nothing to differentiate: the value as it is, as PyTorch's
        return result
    if engine.FORWARD_AD is not None and _users(op):
        _check_jvp(op, args)
    node = _CustomNode(op, ctx, outputs, positions, len(args), out_positions, len(results))
    made = _returned_tensors(_record(node, op, ctx, args, outputs, as_is), outputs, args, ctx)
    if not isinstance(result, tuple):
        return made[0]
    results = list(results)
    for position, y in zip(out_positions, made):
        results[position] = y
    return tuple(results)


def _users(op: type) -> bool:
    """Whether ``op`` is the user's (not one of minigrad's own Functions)."""
    return op.__module__.split(".")[0] not in ("minigrad", "nn")


def _reverse_transform_innermost() -> bool:
    """Whether the innermost ``mg.func`` transform whose function runs now (vmaps aside) differentiates in reverse
    mode (grad, vjp, jacrev; its ``_Level`` has an ``api`` and is not ``forward``): its inputs require grad there,
    as torch.func's, also inside a dual level."""
    level = current_level()
    while level is not None and getattr(level, "batches", False) and not hasattr(level, "api"):
        level = level.enclosing
    return level is not None and hasattr(level, "api") and not level.forward


class _Functionalizing(threading.local):
    depth = 0   # > 0 while this thread runs a function under mg.func.functionalize


FUNCTIONALIZING = _Functionalizing()

FUNCTORCH_SETUP = ("In order to use an autograd.Function with functorch transforms (vmap, grad, jvp, jacrev, ...), it "
                   "must override the setup_context staticmethod. For more details, please see "
                   "https://pytorch.org/docs/main/notes/extending.func.html")


def _check_transforms(op: type, setup: bool) -> None:
    """PyTorch's refusals, before its forward runs, for the user's Function ``op`` applied inside a ``mg.func``
    transform: inside any (vmap, grad, vjp, jacrev, jvp, jacfwd, hessian; not linearize) a ``forward(ctx, …)``
    without ``setup_context``; inside a batching one (vmap, and jacfwd/hessian, which are vmaps in PyTorch) one
    without a ``vmap`` staticmethod or ``generate_vmap_rule=True``; inside ``functionalize`` any (PyTorch has no
    functionalization rule for a custom Function). All RuntimeError."""
    if not setup:
        raise RuntimeError(f"{op.__name__}: {FUNCTORCH_SETUP}")
    if FUNCTIONALIZING.depth:
        raise RuntimeError(f"{op.__name__}: NYI: Functionalize rule for custom_function_call (PyTorch's "
                           "functionalize cannot run a custom autograd.Function; call it outside functionalize)")
    if "vmap" not in _defined(op) and not getattr(op, "generate_vmap_rule", False):
        level = current_level()
        while level is not None and not getattr(level, "batches", False):
            level = getattr(level, "enclosing", None)
        if level is not None:
            raise RuntimeError(f"You tried to vmap over {op.__name__}, but it does not have vmap support. Please "
                               "override and implement the vmap staticmethod or set generate_vmap_rule=True. For "
                               "more details, please see https://pytorch.org/docs/main/notes/extending.func.html")


def _check_jvp(op: type, args: tuple) -> None:
    """In forward AD, after ``op``'s forward ran: PyTorch's NotImplementedError for a Function without ``jvp``
    applied to an input that carries a tangent (a dual, or a tensor computed from one)."""
    forward = engine.FORWARD_AD   # (not None: the caller checked)
    if "jvp" not in _defined(op) and forward.carries_tangent([a for a in args if isinstance(a, Tensor)]):
        raise NotImplementedError(f"{op.__name__}: You must implement the jvp function for custom autograd.Function "
                                  "to use it with forward mode AD.")


def _run_forward(op: type, ctx: FunctionCtx, args: tuple, setup: bool, rule: bool, randomness: str | None) -> Any:
    """What ``op``'s forward returns for ``args``, computed without recording, ``ctx`` filled: by ``forward(ctx,
    …)`` itself, or by ``setup_context`` after a ``forward`` without ctx (or after the ``vmap`` rule: ``rule``)."""
    forward_ad = engine.FORWARD_AD   # (as PyTorch's, forward's own ops give no tangent: jvp gives the outputs')
    with no_grad(), (forward_ad.opaque() if forward_ad is not None else contextlib.nullcontext()):
        if rule:   # (a grad transform inside the vmap: forward's values by the rule, the gradient by backward)
            result = run_vmap_rule(op, args, randomness)
            op.setup_context(ctx, args, result)
        elif setup:
            result = op.forward(*args)
            op.setup_context(ctx, args, result)
        else:
            result = op.forward(ctx, *args)
    return result


def _refuse_saved_as_is(op: type, ctx: FunctionCtx, as_is: set, recorded: bool) -> None:
    """PyTorch's error (with ``setup_context``) for an input returned as it is (ids ``as_is``) and saved for
    backward; ``recorded``: whether the call records a node."""
    if any(_differentiable(t, ctx, recorded) or not t.requires_grad
           for t in ctx._saved if t is not None and id(t) in as_is):
        raise RuntimeError(f"{op.__name__}: An input that has been returned as-is as output is being saved for "
                           "backward. This is not supported if you override setup_context. You should return and "
                           "save a view of the input instead, e.g. with x.view_as(x) or setup ctx inside the forward "
                           "function itself.")


def _record(node: _CustomNode, op: type, ctx: FunctionCtx, args: tuple, outputs: tuple, as_is: set) -> list:
    """``node`` applied to the call's Tensor arguments: one new Tensor per Tensor forward returned (``outputs``),
    on the graph where it records. The ctx's saved tensors are the node's from then on."""
    for key in as_is & node.saved_outputs.keys():   # a saved input returned as it is is saved as an input, as PyTorch's
        del node.saved_outputs[key]
    node.views_of_inputs = ()
    inputs = [args[i] for i in node.positions]
    if _users(op):   # the user's backward may read a leaf's .grad
        engine._NodeHooks.registered = node.user_code = True    # in the walk: accumulate leaves once complete
        _note_views_of_inputs(node, ctx, inputs, outputs)   # (minigrad's own: identities)
    node.input_shapes = [x.shape for x in inputs]
    node.input_dtypes = [x.dtype for x in inputs]
    made = node(*inputs)
    del node.results
    ctx.to_save, ctx._recorded = None, True   # as PyTorch's: the node holds them now (and lets them go in backward)
    return list(made) if isinstance(made, tuple) else [made]


def _returned_tensors(made: list, outputs: tuple, args: tuple, ctx: FunctionCtx) -> list:
    """The Tensors ``apply`` returns, as PyTorch's: ``made`` (the node's, one per Tensor forward returned:
    ``outputs``), except an input marked dirty (re-pointed at the node), a Tensor forward made itself that takes
    no gradient, and a Tensor returned twice (one Tensor, the last output's)."""
    for k, (y, original) in enumerate(zip(made, outputs)):   # as PyTorch: int and bool outputs never differentiable
        if id(original) in ctx._non_differentiable or y.dtype.kind not in "fc":
            y._requires_grad, y._node = False, None
        if any(original is x for x in ctx._dirty):   # the input itself is the output, with this node
            if y._node is not None:
                original._node, original._index, original._requires_grad = y._node, y._index, True
                made[k] = original
            elif not original.requires_grad:   # (under no_grad, one that requires grad gives a view, as PyTorch's)
                made[k] = original
        elif y._node is None and not original.requires_grad and not any(original is a for a in args):
            made[k] = original   # as PyTorch: forward's own tensor (a view it made under no_grad stays one)
    if current_level() is not None:   # inside a mg.func transform, as torch.func's: one output each
        return made
    last = {id(original): k for k, original in enumerate(outputs)}
    for k, original in enumerate(outputs):   # a Tensor forward returned twice (not an input): the last output's
        if last[id(original)] != k and not any(original is a for a in args):
            made[k] = made[last[id(original)]]
    return made


def _note_views_of_inputs(node: _CustomNode, ctx: FunctionCtx, inputs: list, outputs: tuple) -> None:
    """Outputs that share an input's memory (the input returned as it is, or a view of it; not one marked dirty),
    as PyTorch's views made inside a custom Function: one returned as it is becomes a view of that input (an
    in-place op on it while recording raises, as on any view minigrad does not track), and the node notes the
    shared memory, so that its backward refuses to run once that memory changed in place (PyTorch's error)."""
    owners = {id(memory_owner(x.data)): (i, x.data) for i, x in enumerate(inputs)}
    node.views_of_inputs, node.view_epoch = [], INPLACE.epoch
    # output k -> the tensor input it views: forward AD checks jvp's tangent for it (as PyTorch's, not inside the
    # mg.func transforms, whose jvp takes any tangent)
    node.view_inputs = {}
    check_tangents = current_level() is None
    results = list(node.results)
    for k, y in enumerate(outputs):
        i, owner = owners.get(id(memory_owner(y.data)), (None, None))
        if owner is None or any(y is x for x in ctx._dirty):
            continue
        node.views_of_inputs.append((k, owner))
        if check_tangents:
            node.view_inputs[k] = i
        if any(y.data is x.data for x in inputs):
            results[k] = y.data.view()
    node.results = tuple(results)


def _differentiable(y: Tensor, ctx: FunctionCtx, recorded: bool) -> bool:
    """Whether output ``y`` of a call that records a node (``recorded``) gets this node: PyTorch's rule."""
    return recorded and id(y) not in ctx._non_differentiable and y.dtype.kind in "fc"


def _check_dirty(op: type, ctx: FunctionCtx, args: tuple, outputs: tuple) -> None:
    """``ctx.mark_dirty``'s tensors: inputs that ``forward`` returned, and that minigrad can re-point (PyTorch's
    errors otherwise; a view, or a tensor with live views, would leave the other tensor's graph stale)."""
    for x in ctx._dirty:
        if not any(x is y for y in outputs):
            raise RuntimeError(f"{op.__name__}: some elements marked as dirty during the forward method were not "
                               "returned as output. The inputs that are modified inplace must all be outputs of "
                               "the Function.")
        if not any(x is a for a in args):   # forward's own tensor: an output as any other (PyTorch warns)
            warnings.warn("ctx.mark_dirty() received a tensor that was not an input. Only input Tensors that have "
                          "been mutated should be passed to ctx.mark_dirty().", UserWarning, stacklevel=3)
            INPLACE.bump(x.data)
            continue
        if x._node is None and x.requires_grad and _state.get().grad:
            raise RuntimeError(f"{op.__name__}: a leaf Variable that requires grad (shape {tuple(x.shape)}) has been "
                               "used in an in-place operation (ctx.mark_dirty).")
        if _state.get().grad and _views_a_leaf(x):
            raise RuntimeError(f"{op.__name__}: a view of a leaf Variable that requires grad (shape "
                               f"{tuple(x.shape)}) is being used in an in-place operation (ctx.mark_dirty).")
        views = [ref for ref in getattr(x, "_views", None) or () if ref() is not None]
        if getattr(x, "_view", None) or getattr(x.data, "base", None) is not None or views:
            raise NotImplementedError(f"{op.__name__}: ctx.mark_dirty on a view, or on a tensor with live views "
                                      f"(shape {tuple(x.shape)}), is not supported: minigrad cannot update the other "
                                      "tensor's graph. clone() it before the call.")
        INPLACE.bump(x.data)   # as PyTorch's: a tensor marked dirty counts one more change


def _views_a_leaf(x: Tensor) -> bool:
    """Whether ``x`` is a view whose chain of views starts at a leaf that requires grad."""
    root = x
    while (view := getattr(root, "_view", None)) and view[0] is not None:
        root = view[0]
    return root is not x and root._node is None and root.requires_grad


def _bind(op: type, args: tuple, kwargs: dict, defaults: bool) -> tuple:
    """``Op.apply``'s arguments as ``forward``'s positional ones, as PyTorch binds them: keywords by name;
    with ``setup_context`` the defaults too (``setup_context`` sees them among ``inputs``), without it a
    keyword may not skip a parameter. Every positional argument counts in ``ctx.needs_input_grad``."""
    parameters = list(inspect.signature(op.forward).parameters.values())
    try:
        bound = inspect.Signature(parameters if defaults else parameters[1:]).bind(*args, **kwargs)   # [0]: ctx
    except TypeError as error:
        raise TypeError(f"{op.__name__}.forward() {error}") from None
    if defaults:
        bound.apply_defaults()
    if bound.kwargs:
        positional = [p.name for p in bound.signature.parameters.values()]
        missing = next((i for i, name in enumerate(positional) if name not in bound.arguments), None)
        if missing is None or not set(bound.kwargs) <= set(positional):
            raise TypeError(f"{op.__name__}.apply: forward's keyword-only arguments {sorted(bound.kwargs)} are not "
                            "supported (PyTorch's apply binds keywords to positional parameters only)")
        raise TypeError(f"{op.__name__}.forward() missing required argument: '{positional[missing]}' (position "
                        f"{missing})")
    return bound.args


def _defined(op: type) -> set:
    """The names the user's classes define (not Function's own)."""
    return {name for base in op.__mro__ if base is not Function and base is not object for name in base.__dict__}


def _refuse_call(self: Function, *args: Any) -> Any:
    raise RuntimeError(f"{type(self).__name__} is a PyTorch-style autograd Function (a static forward): call "
                       f"{type(self).__name__}.apply(...), not an instance (PyTorch's RuntimeError: legacy autograd "
                       "function with non-static forward method is deprecated)")


Function.apply = classmethod(_apply)
Function._pytorch_style_call = _refuse_call   # used by Function.__init_subclass__ for static-forward classes


class _AsUnpacked(Function):
    """``values`` on the graph of ``tensor`` (its gradient passes through): a saved tensor that saved-tensor hooks
    gave back with other values, as ``backward`` reads it under ``create_graph=True``."""

    @staticmethod
    def forward(ctx: Any, tensor: Tensor, values: Tensor) -> Tensor:
        return values

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple:
        return g, None
