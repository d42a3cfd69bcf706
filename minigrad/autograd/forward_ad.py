"""PyTorch's ``torch.autograd.forward_ad``: dual tensors and their tangents (forward-mode products J·t).

::

    import minigrad.autograd.forward_ad as fwAD

    with fwAD.dual_level():
        x_dual = fwAD.make_dual(x, t)            # x with the tangent t (same shape)
        y = f(x_dual)
        y_primal, y_tangent = fwAD.unpack_dual(y)   # f(x), J_f(x)·t

minigrad has one differentiation engine, the reverse-mode one, and forward AD is built on it (each op's
derivative is written once, as its backward rule). Inside a dual level a dual tensor requires grad (an
identity op on a fresh leaf, sharing the primal's memory, so that in-place ops on it record as on any computed
tensor; or ``x.view_as(x)`` when ``x`` itself requires grad), so the ops on it record a graph as usual.
``unpack_dual(y).tangent`` is computed on demand, once per tensor (cached until the level exits), by the
double-vjp trick: with a dummy cotangent ``u`` of y's shape,
``g_k = J_kᵀu`` is the vector-Jacobian product w.r.t. each dual ``k`` (``create_graph=True``, so g is linear
in u with a graph), and ``Σ_k J_k·t_k`` is the gradient of ``Σ_k ⟨g_k, t_k⟩`` w.r.t. u. It needs the
higher-order rules of :mod:`minigrad.higher_order`: an op without one raises NotImplementedError naming it,
never a wrong tangent.

Forward-over-reverse (a Hessian-vector product): ``mg.autograd.grad`` called inside a dual level on outputs that
reach a dual keeps its graph (``create_graph=True``), so the gradient's tangent is H·t, as torch's gradients carry
tangents. Without ``create_graph`` the gradients are handed out as PyTorch's: not requiring grad, no ``grad_fn``,
the tangent (no graph) carried as by a tensor computed under no_grad; with it, the tangent is differentiable (it
keeps its graph) where the output depends on tensors outside the level that require grad (the primal, a model's
parameters). A plain ``backward()`` inside a level is first-order, as PyTorch's: ``.grad`` does not require grad;
the first accumulation into a leaf's ``.grad`` carries no tangent (PyTorch detaches it), a later one (in place) leaves
it carrying its own tangent plus the added gradient's; the gradients hooks see (tensor, ``grad_fn`` and leaf hooks),
a ``retain_grad()`` ``.grad``, and those of ``autograd.grad`` alike are first-order ones carrying their tangents. A
backward from roots that reach a dual runs the graph-keeping walk for that (``higher_order.backward`` with
``first_order``) and keeps the saved arrays (``retain_graph``), which the tangents read on demand (PyTorch computed
them with the ops), so a second backward through it does not raise. Hooks there run with grad mode off, as PyTorch's
(their ops on the gradients still carry tangents).

Grad mode, as PyTorch's forward AD: an op run under ``mg.no_grad()`` or ``set_grad_enabled(False)`` inside the
level on tensors carrying tangents is still recorded, for the tangent only: its result does not require grad
(``.backward`` through it raises, a reverse-mode gradient never flows through it) and carries its tangent,
through a node that only :func:`unpack_dual`'s walk passes (``engine.FORWARD_AD`` hooks this in). Under
``mg.inference_mode()`` results carry no tangent, as PyTorch's.

Complex tensors follow PyTorch's convention: the tangent is ∂f/∂z·t + ∂f/∂z̄·conj(t) (J·t for a holomorphic
op), which the double-vjp trick gives from the engine's complex gradients (PyTorch's conjugate convention),
where ``create_graph=True`` has a complex rule for every op involved.

Differences from PyTorch, all of the same origin (a tangent is derived from the recorded graph):
- dual tensors and the tensors recorded from them require grad and have a ``grad_fn`` inside the level (a custom
  Function's ``ctx.needs_input_grad`` is PyTorch's all the same: False for them, unless they also depend on a
  tensor from outside the level that requires grad or a reverse transform differentiates them);
- ``unpack_dual(y).primal`` of a computed ``y`` that also depends on tensors requiring grad outside the
  level is ``y`` itself (PyTorch: a view of y without the tangent);
- an in-place op that is not recorded (under ``no_grad``, or on a tensor computed under ``no_grad``, or on a
  ``.grad`` carrying a tangent: ``p.grad.mul_(c)``, ``clip_grad_norm_``) on a tensor carrying a tangent raises
  RuntimeError (PyTorch updates the tangent); recorded ones work;
- a complex tangent for a real primal raises NotImplementedError (PyTorch keeps the tangent complex);
- an in-place op on a tensor that an earlier op saved for its derivative (``b = a.exp(); b.mul_(2)``) raises
  RuntimeError, as reverse mode does (PyTorch's forward AD computes the tangent), and so does one on the dual of
  a primal that requires grad (a view of a leaf);
- the tangent of a result has the result's dtype (PyTorch: a float64 tangent of a float32 primal stays float64).
Only one level at a time, as PyTorch ("Nested forward mode AD is not supported").
"""

from __future__ import annotations

import contextlib
import sys
import threading
import types
import weakref
from typing import Any, Iterator, NamedTuple

from .. import backend
from .. import tensor as tensor_module
from ..hooks import forward_walk
from ..recording import is_recording, record_grad
from ..tensor import Tensor
from . import engine, functions
from .custom import _CustomNode
from .engine import Function
from .functions import grad

__all__ = ["UnpackedDualTensor", "dual_level", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual"]

class _ThisThread(threading.local):
    """This thread's dual level: one at a time in each thread (PyTorch's is one per process, but its torch.func
    transforms do not use it; here jacfwd, jvp and hessian open one, so threads get their own)."""

    level: Any = None   # the open _Level, or None
    number = -1         # torch's forward_ad._current_level: -1 outside any level


_here = _ThisThread()
_open = [0]   # levels open over all threads: the engine's hooks (_AnyThread) are installed while > 0
_open_lock = threading.Lock()


class NoSecondDerivative(RuntimeError):
    """Raised by the backward of a gradient that PyTorch does not differentiate either (ctc_loss's …): a
    RuntimeError in reverse mode, as PyTorch's; forward AD, which differentiates such a gradient for every tangent,
    raises NotImplementedError instead (:func:`forward_products`), PyTorch's class for an op without a forward
    derivative."""


def forward_products(*args: Any, **kwargs: Any) -> Any:
    """``grad(*args, **kwargs)`` for the second walk of the double-vjp trick (the tangents, J·t): a gradient
    without a derivative on the way raises NotImplementedError, as PyTorch's forward AD."""
    try:
        with forward_walk():
            return grad(*args, **kwargs)
    except NoSecondDerivative as error:
        raise NotImplementedError(f"Trying to use forward AD with an op that does not support it (nor does "
                                  f"PyTorch's forward AD): {error}") from error


class UnpackedDualTensor(NamedTuple):
    """``unpack_dual``'s result: the ``primal`` (a Tensor) and its ``tangent`` (a Tensor, or None)."""

    primal: Tensor
    tangent: Tensor | None


class _Dual(Function):
    """:func:`make_dual`'s result for a primal that does not require grad: the primal's memory, through an identity
    op on a fresh leaf (``root``: a zero-strided zero of the primal's shape, no memory shared, so that the dual is
    neither a leaf nor a view of one), so that in-place ops on the dual and its views record, as on PyTorch's."""

    complex_grad = True   # the identity

    @staticmethod
    def forward(ctx: Any, root: Tensor, primal: Tensor) -> Tensor:
        return Tensor._make(primal.data, False, None, 0)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple:
        return g, None


class _TangentOnly(Function):
    """The edge from a tensor computed under ``no_grad`` (which does not require grad) to the graph that gives
    its tangent: the walk of :func:`_tangent` passes through it, any other backward stops there (a reverse-mode
    gradient never flows through an op run under ``no_grad``)."""

    complex_grad = True   # the identity: a complex tangent passes unchanged

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        return Tensor._make(x.data, False, None, 0)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor | None:
        return g if _here.level is not None and _here.level.passing else None


class _ConstantFormulas(Function):
    """The identity on a tangent whose graph runs through ops run under no_grad that depend on tensors from outside
    the level that require grad: PyTorch takes those ops' tangent formulas as constants for reverse mode, the
    double-vjp trick differentiates them, so a gradient through it raises instead of giving other numbers."""

    complex_grad = True

    @staticmethod
    def forward(ctx: Any, tangent: Tensor) -> Tensor:
        return Tensor._make(tangent.data, False, None, 0)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        raise NotImplementedError(
            "forward AD: a gradient through a tangent (jvp's, unpack_dual's) w.r.t. tensors outside the dual level "
            "that require grad (a primal that requires grad, a model's parameters), where an op run under no_grad on "
            "its way depends on them: PyTorch treats that op's tangent formula as a constant there, which minigrad "
            "cannot do (its tangents come from a reverse-mode graph). Move the no_grad block out of the function, or "
            "pass detached tensors")


def _inference_mode() -> bool:
    """Whether ``mg.inference_mode()`` is on: PyTorch's forward AD gives no tangent inside it. (Read from the
    module of ops that defines it, when loaded: autograd sits below ops.)"""
    module = sys.modules.get("minigrad.ops.inference")
    return module is not None and module.is_inference_mode_enabled()


class _Level:
    """The open dual level: its dual tensors and the tangents computed so far."""

    def __init__(self) -> None:
        # (node, index) of each dual as made -> (dual, primal, tangent, handle): the handle a tensor on that
        # (node, index), what tangents are computed with respect to (an in-place op on the dual moves the dual on)
        self.views: dict = {}
        self.roots: dict = {}    # id(leaf) -> leaf: the fresh leaves under the duals (not tensors from outside)
        self.cache: dict = {}    # id(y) -> (y, y._node, tangent): tangents computed by unpack_dual
        # id(y) -> (weak reference to y, its _TangentOnly tensor, y's version): y computed under no_grad from
        # tensors carrying tangents (engine._tangent_only); the entry dies with y
        self.hidden: dict = {}
        self.passing = False     # True while _tangent's walk runs: _TangentOnly nodes let gradients through
        self.products = False    # True while _tangent's second walk (the products J·t) runs
        self.hidden_ops = 0      # how many ops ran under no_grad on tensors carrying tangents (hide), ever
        self.first_orders = 0    # how many first-order gradients were handed out (first_order), ever
        self.opaque = 0          # > 0 while a custom Function's forward runs: its ops under no_grad give no tangent

    # --- the engine's hooks (engine.FORWARD_AD passes them this thread's level while it is open) ---

    def carrier(self, x: Tensor) -> Tensor | None:
        """The tensor that requires grad and carries ``x``'s tangent, for an ``x`` computed under no_grad from
        tensors carrying tangents; None for any other tensor that does not require grad."""
        entry = self.hidden.get(id(x))
        if entry is None or entry[0]() is not x:
            return None
        if not self.current(x, entry):
            if entry[3] is not None:
                raise RuntimeError(f"forward AD: a .grad of shape {tuple(x.shape)} that carries a tangent (a backward "
                                   "inside the level added into it) was changed in place since, not by a backward "
                                   "(an in-place op, clip_grad_norm_, an optimizer): minigrad cannot update its "
                                   "tangent (PyTorch does); set .grad to None first, or change it out of place")
            raise RuntimeError(f"forward AD: a tensor of shape {tuple(x.shape)} that carries a tangent (computed "
                               "under no_grad from a dual tensor) was changed in place since; minigrad cannot update "
                               "its tangent (PyTorch does): use the out-of-place op")
        return entry[1]

    @staticmethod
    def current(x: Tensor, entry: tuple) -> bool:
        """Whether ``x``, carrying a tangent (its ``hidden`` entry), is as it was when it got it."""
        return x._version == entry[2] and (
            entry[3] is None or backend.array_module(x.data).array_equal(x.data, entry[3], equal_nan=True))

    def adding(self, leaves: Any) -> list:
        """Before a backward that reaches no dual adds into ``leaves``' ``.grad``: those carrying a tangent still
        current, for :meth:`added` (the add of a gradient without a tangent leaves their tangent as it was, as
        PyTorch's in-place add)."""
        carried = []
        for leaf in leaves:
            total = leaf._grad
            entry = None if total is None else self.hidden.get(id(total))
            if entry is not None and entry[0]() is total and entry[3] is not None and self.current(total, entry):
                carried.append((total, entry))
        return carried

    def added(self, carried: list) -> None:
        """After that backward: each such ``.grad`` keeps its tangent, with its new values and version."""
        for total, entry in carried:
            if self.hidden.get(id(total)) is entry:
                self.hidden[id(total)] = entry[:2] + (total._version, total.data.copy())

    def changed_in_place(self, x: Tensor) -> None:
        """Told by each in-place op (after it wrote ``x``): refuses one that leaves ``x``'s tangent stale, that is
        an in-place op not recorded (under no_grad) on a tensor carrying a tangent. PyTorch updates the tangent.
        Not inside a custom Function's forward (``opaque``): PyTorch runs it with forward grad off (its ``jvp``
        updates the tangent of an input it marks dirty)."""
        if self.opaque:
            return
        if x._requires_grad:
            stale = not is_recording() and self.reaches_dual([x if x._node is None else (x._node, x._index)])
        else:
            entry = self.hidden.get(id(x))
            stale = entry is not None and entry[0]() is x
        if stale:
            raise RuntimeError(f"forward AD: an in-place op changed a tensor of shape {tuple(x.shape)} that carries a "
                               "tangent without recording it (under no_grad, or computed under no_grad): minigrad "
                               "cannot update its tangent (PyTorch does). Use the out-of-place op, or run it with "
                               "grad mode on")

    def keeps_tangent(self, edges: list) -> bool:
        """For an op that does not record (grad mode off, or only inputs that carry tangents without requiring
        grad): whether an input carries a tangent, so that the op records for the tangent only."""
        roots = [edge for edge in edges if edge is not None]
        if not roots or self.opaque or _inference_mode():
            return False
        for edge in roots:
            if type(edge) is tuple and isinstance(edge[0], _CustomNode) and edge[0].op is _TangentOnly:
                return True
        return self.reaches_dual(roots)

    def carries_tangent(self, tensors: list) -> bool:
        """Whether one of ``tensors`` carries a tangent at this level (a dual, a tensor computed from one, or one
        computed under no_grad from one): a custom Function without ``jvp`` refuses it, as PyTorch's."""
        if _inference_mode():
            return False
        edges = []
        for t in tensors:
            if t._requires_grad:
                edges.append(t if t._node is None else (t._node, t._index))
            elif self.carrier(t) is not None:
                return True
        return bool(edges) and self.reaches_dual(edges)

    def requires_grad_outside(self, t: Tensor) -> bool:
        """For a ``t`` that requires grad: whether it does as PyTorch's would, not only as (a tensor computed from)
        this level's duals, that is whether its graph reaches a tensor from outside the level that requires grad
        (a custom Function's ``ctx.needs_input_grad``)."""
        return self.reached([t])[1]

    def hide(self, shadows: tuple, op: bool = True) -> tuple:
        """The tensors an op run under no_grad hands out for its recorded outputs ``shadows``: the same arrays,
        not requiring grad; each floating-point one carries its shadow's tangent. ``op`` False: first-order
        gradients (:meth:`first_order`), not an op of ``func`` (jacfwd's checks count those only)."""
        if op:
            self.hidden_ops += 1
        else:
            self.first_orders += 1
        results = []
        for shadow in shadows:
            y = Tensor._make(shadow.data, False, None, 0)
            if shadow.dtype.kind in "fc":
                self.carry(y, shadow)
            results.append(y)
        return tuple(results)

    def carry(self, y: Tensor, shadow: Tensor, written: bool = False) -> None:
        """``y`` (not requiring grad) carries ``shadow``'s tangent from now on (until ``y`` changes in place): as a
        tensor computed under no_grad, or (``written``) a leaf's ``.grad`` that a backward inside the level added
        into in place, which code writing its array directly (clip_grad_norm_, an optimizer) may change without a
        version: its values are kept to compare (:meth:`carrier` refuses a stale tangent)."""
        hidden = self.hidden
        with record_grad():
            carrier = _TangentOnly.apply(shadow)
        key = id(y)
        hidden[key] = (weakref.ref(y, lambda _, key=key: hidden.pop(key, None)), carrier, y._version,
                       y.data.copy() if written else None)
        self.cache.pop(key, None)   # (a .grad's tangent read before this add)

    def reaches_dual(self, edges: list) -> bool:
        """Whether the graph behind ``edges`` (a leaf or ``(node, index)`` each) reaches one of the level's
        duals; stops at the first."""
        seen: set = set()
        stack = list(edges)
        while stack:
            edge = stack.pop()
            if type(edge) is tuple:
                if edge in self.views:
                    return True
                if edge[0] not in seen:
                    seen.add(edge[0])
                    stack.extend(e for e in edge[0].edges if e is not None)
        return False

    def entry(self, t: Tensor) -> Any:
        """``t``'s (dual, primal, tangent, handle) if it is one of this level's duals as made, else None."""
        entry = None if t._node is None else self.views.get((t._node, t._index))
        return entry if entry is not None and entry[0] is t else None

    def reached(self, roots: list) -> tuple[list, bool]:
        """(the duals the graph of ``roots`` reaches, whether it also reaches a tensor that requires grad from
        outside the level). One iterative walk, each node once."""
        duals: dict = {}
        outside = False
        seen: set = set()
        stack = []

        def visit_edge(edge: Any) -> None:
            nonlocal outside
            if type(edge) is tuple:
                entry = self.views.get(edge)
                if entry is not None:
                    duals[id(entry[0])] = entry
                if edge[0] not in seen:
                    seen.add(edge[0])
                    stack.append(edge[0])
            elif edge is not None and self.roots.get(id(edge)) is not edge:
                outside = True

        for t in roots:
            if isinstance(t, Tensor) and t._requires_grad:
                visit_edge(t if t._node is None else (t._node, t._index))
        while stack:
            for edge in stack.pop().edges:
                visit_edge(edge)
        return list(duals.values()), outside

    def hidden_reaches_outside(self, y: Tensor) -> bool:
        """Whether an op run under no_grad on ``y``'s path (a _TangentOnly node) has inputs that depend on a
        tensor from outside the level that requires grad: PyTorch takes that op's tangent formula as a constant
        for reverse mode, where the double-vjp trick would differentiate it."""
        seen: set = set()
        stack = [(y._node, False)] if y._node is not None else []
        while stack:
            node, hidden = stack.pop()
            hidden = hidden or (isinstance(node, _CustomNode) and node.op is _TangentOnly)
            for edge in node.edges:
                if type(edge) is tuple:
                    if (edge[0], hidden) not in seen:
                        seen.add((edge[0], hidden))
                        stack.append((edge[0], hidden))
                elif hidden and edge is not None and self.roots.get(id(edge)) is not edge:
                    return True
        return False

    def needs_graph(self, roots: list) -> bool:
        """For ``mg.autograd.grad`` without ``create_graph`` inside the level: whether ``roots`` reach a dual, so
        that the gradients must keep their graph to carry tangents (forward-over-reverse); for ``backward``, so that
        it keeps the saved arrays that tangents read; not for the second walk of :func:`_tangent` (``products``)."""
        return not self.products and bool(self.reached(roots)[0])

    def first_order(self, grads: list) -> list:
        """The gradients of a ``grad`` that kept its graph only for their tangents (:meth:`needs_graph`), as
        PyTorch's first-order ones: not requiring grad, no ``grad_fn``, each carrying its tangent (H·t) as a tensor
        computed under no_grad does (:meth:`hide`)."""
        return [g if g is None or not g._requires_grad else self.hide((g,), op=False)[0] for g in grads]


class _AnyThread:
    """The engine's hooks while a level is open in some thread (``engine.FORWARD_AD``, ``functions.DUAL_LEVEL``,
    ``tensor.INPLACE_CHANGES``): this thread's level's, and none in a thread without one."""

    def carrier(self, x: Tensor) -> Tensor | None:
        level = _here.level
        return None if level is None else level.carrier(x)

    def keeps_tangent(self, edges: list) -> bool:
        level = _here.level
        return level is not None and level.keeps_tangent(edges)

    def requires_grad_outside(self, t: Tensor) -> bool:
        level = _here.level
        return level is None or level.requires_grad_outside(t)

    def hide(self, shadows: tuple) -> tuple:
        return _here.level.hide(shadows)   # only after keeps_tangent said True

    def carries_tangent(self, tensors: list) -> bool:
        level = _here.level
        return level is not None and level.carries_tangent(tensors)

    @contextlib.contextmanager
    def opaque(self) -> Iterator[None]:
        """Around a custom Function's forward (run under no_grad): its ops record no tangent, as PyTorch runs it
        with forward grad off (an output's tangent is ``jvp``'s; one marked non-differentiable has none)."""
        level = _here.level
        if level is None:
            yield
            return
        level.opaque += 1
        try:
            yield
        finally:
            level.opaque -= 1

    def reaches_dual(self, edges: list) -> bool:
        level = _here.level
        return level is not None and level.reaches_dual(edges)

    @property
    def passing(self) -> bool:
        level = _here.level
        return level is not None and level.passing

    def needs_graph(self, roots: list) -> bool:
        level = _here.level
        return level is not None and level.needs_graph(roots)

    def first_order(self, grads: list) -> list:
        return _here.level.first_order(grads)   # only after needs_graph said True

    def carry(self, y: Tensor, shadow: Tensor, written: bool = False) -> None:
        _here.level.carry(y, shadow, written)   # only after needs_graph said True

    def adding(self, leaves: Any) -> list:
        level = _here.level
        return [] if level is None else level.adding(leaves)

    def added(self, carried: list) -> None:
        _here.level.added(carried)   # only after adding found some

    def changed_in_place(self, x: Tensor) -> None:
        level = _here.level
        if level is not None:
            level.changed_in_place(x)


_ANY_THREAD = _AnyThread()


def _count_open(change: int) -> None:
    """``+1`` when a thread opens a level, ``-1`` when it closes it: the engine's hooks are installed while any
    thread has one open."""
    with _open_lock:
        _open[0] += change
        hooks = _open[0] > 0
        functions.DUAL_LEVEL[:] = [_ANY_THREAD.needs_graph, _ANY_THREAD.first_order, _ANY_THREAD.adding,
                                   _ANY_THREAD.added] if hooks else []
        engine.FORWARD_AD = _ANY_THREAD if hooks else None
        tensor_module.INPLACE_CHANGES[:] = [_ANY_THREAD.changed_in_place] if hooks else []


def enter_dual_level() -> int:
    """Open a dual level and return its number (0), as ``torch.autograd.forward_ad.enter_dual_level``.
    Only one level can be open in a thread (RuntimeError otherwise, as PyTorch); each thread has its own (PyTorch
    has one per process: another thread's dual_level raises there)."""
    if _here.level is not None:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    _here.level = _Level()
    _here.number = 0
    _count_open(1)
    return _here.number


def exit_dual_level(*, level: int | None = None) -> None:
    """Close the dual level ``level`` (default: the current one); its dual tensors lose their tangents."""
    if level is None:
        level = _here.number
    if level != _here.number:
        raise RuntimeError("Trying to exit a forward AD level that was not the last one that was created. "
                           "This is not supported.")
    if level < 0:
        raise RuntimeError("Dual level must be a positive number.")
    _here.level = None
    _here.number = level - 1
    _count_open(-1)


class dual_level:  # noqa: N801 - PyTorch's name
    """``with dual_level():`` opens a dual level for the block (``__enter__`` returns its number); also a
    decorator, as ``torch.autograd.forward_ad.dual_level``."""

    def __enter__(self) -> int:
        return enter_dual_level()

    def __exit__(self, *exc: object) -> None:
        exit_dual_level()

    def __call__(self, fn: Any) -> Any:
        import functools

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with dual_level():
                return fn(*args, **kwargs)
        return wrapper


def _check_level(level: int | None, api: str) -> _Level:
    if level is None:
        level = _here.number
    if _here.level is None or level < 0:
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, make sure to "
                           "enter_dual_level() first.")
    if level != _here.number:
        raise RuntimeError(f"Invalid level given to _{api}")
    return _here.level


def make_dual(tensor: Tensor, tangent: Tensor, *, level: int | None = None) -> Tensor:
    """A dual tensor: ``tensor``'s values with the tangent ``tangent`` (same shape), as
    ``torch.autograd.forward_ad.make_dual``; only inside a dual level.

    Both must be floating-point or complex tensors on the same device (a complex tangent needs a complex
    primal); the tangent keeps its own dtype (as PyTorch's).
    The result shares ``tensor``'s memory (an in-place op on it changes ``tensor``, as PyTorch's); it is a view
    of ``tensor`` when that requires grad, so reverse-mode gradients still reach it.
    """
    current = _check_level(level, "make_dual")
    for what, t in (("primal", tensor), ("tangent", tangent)):
        if not isinstance(t, Tensor):
            raise TypeError(f"make_dual: expected the {what} to be a Tensor, got {type(t).__name__}")
        if t.dtype.kind not in "fc":
            raise ValueError(f"Expected {what} to be floating point or complex, but got: {t.dtype}")
    if tensor.dtype.kind == "f" and tangent.dtype.kind == "c":
        raise NotImplementedError(f"make_dual: a complex tangent ({tangent.dtype}) for a real primal ({tensor.dtype}) "
                                  "is not supported by minigrad's forward AD (PyTorch keeps it complex); make the "
                                  "primal complex, or take the real and imaginary parts of the tangent one at a time")
    if tangent.shape != tensor.shape:
        raise RuntimeError("Trying to set a forward gradient that has a different size than that of the original "
                           f"Tensor, this is not supported. Tensor is of size {list(tensor.shape)} while the given "
                           f"forward gradient is of size {list(tangent.shape)}.")
    if tangent.device != tensor.device:
        raise RuntimeError(f"make_dual: the tangent is on {tangent.device} and the primal on {tensor.device}; "
                           "they must be on the same device")
    if current.entry(tensor) is not None:
        raise RuntimeError(f"Making a dual Tensor based on a Tensor that already has a forward gradient at the same "
                           f"level {_here.number} is not supported.")
    return _dual_of(current, tensor, tangent)


def _dual_of(current: _Level, tensor: Tensor, tangent: Tensor, own_leaf: bool = False) -> Tensor:
    """:func:`make_dual`'s dual once checked. ``own_leaf``: ``tensor`` is a fresh leaf that requires grad and that
    only the caller (a transform's stand-in) holds: the dual is an identity op on it, not a view of it, so that
    ``func``'s in-place ops on the dual record (not on its views: they view a leaf's memory)."""
    with record_grad():
        if tensor.requires_grad and not own_leaf:   # reverse mode still reaches `tensor` through the dual
            dual, primal = tensor.view_as(tensor), tensor.view_as(tensor)
        else:
            if own_leaf:
                root = tensor
            else:
                xp = backend.array_module(tensor.data)
                zero = xp.broadcast_to(xp.zeros((), dtype=tensor.dtype), tuple(tensor.shape))
                root = Tensor._make(zero, True, None, 0)
            current.roots[id(root)] = root
            primal = tensor.detach()
            dual = _Dual.apply(root, primal)
    handle = Tensor._make(dual.data, True, dual._node, dual._index)
    current.views[(dual._node, dual._index)] = (dual, primal, tangent, handle)
    return dual


def _make_own_dual(tensor: Tensor, tangent: Tensor) -> Tensor:
    """:func:`make_dual` of a transform's own stand-in leaf (see :func:`_dual_of`), in the open level."""
    assert _here.level is not None and tensor._node is None and tensor.requires_grad
    return _dual_of(_here.level, tensor, tangent, own_leaf=True)


def _handle(dual: Tensor) -> Tensor:
    """The tensor that the tangents are computed with respect to for ``dual``, just made by :func:`make_dual`
    (it stays on the dual as made when an in-place op later changes the dual)."""
    assert _here.level is not None
    return _here.level.views[(dual._node, dual._index)][3]


def unpack_dual(tensor: Tensor, *, level: int | None = None) -> UnpackedDualTensor:
    """``(primal, tangent)`` of ``tensor``, as ``torch.autograd.forward_ad.unpack_dual``.

    Outside a dual level, ``(tensor, None)``. Inside: for a tensor computed from dual tensors, the tangent
    is J·t summed over the duals it depends on (of ``tensor``'s shape), computed on the first call and
    cached; None for a tensor that depends on none (a constant, an integer result such as ``argmax``).
    """
    if level is None:
        level = _here.number
    if level < 0 or _here.level is None:
        return UnpackedDualTensor(tensor, None)
    if level != _here.number:
        raise RuntimeError("Invalid level given to _unpack_dual")
    if not isinstance(tensor, Tensor):
        raise TypeError(f"unpack_dual: expected a Tensor, got {type(tensor).__name__}")
    entry = _here.level.entry(tensor)
    if entry is not None:
        return UnpackedDualTensor(entry[1], entry[2])
    cached = _here.level.cache.get(id(tensor))
    carrier = None if tensor._requires_grad else _here.level.carrier(tensor)   # computed under no_grad
    if cached is not None and cached[0] is tensor and cached[1] is tensor._node:
        tangent, outside = cached[2], cached[3]
    else:
        tangent, outside = _tangent(_here.level, tensor if carrier is None else carrier, carrier is not None)
        _here.level.cache[id(tensor)] = (tensor, tensor._node, tangent, outside)
    return UnpackedDualTensor(tensor if outside else tensor.detach(), tangent)


def _graph_of(tensor: Tensor) -> Tensor:
    """``tensor``, or for one computed under no_grad inside the open level from tensors carrying tangents, the
    tensor that requires grad and carries its tangent (the graph :func:`linearize` differentiates)."""
    carrier = None if _here.level is None or tensor._requires_grad else _here.level.carrier(tensor)
    return tensor if carrier is None else carrier


def _passing_grad(*args: Any, **kwargs: Any) -> Any:
    """``grad(*args, **kwargs)`` through the ops the open level ran under no_grad (their _TangentOnly nodes)."""
    assert _here.level is not None
    _here.level.passing = True
    try:
        with forward_walk():
            return grad(*args, **kwargs)
    except NoSecondDerivative as error:   # forward AD through a gradient without a derivative (jacfwd(jacrev(f)))
        raise NotImplementedError(f"Trying to use forward AD with an op that does not support it (nor does "
                                  f"PyTorch's forward AD): {error}") from error
    except RuntimeError as error:
        if "modified by an inplace operation" not in str(error):
            raise
        raise RuntimeError(f"forward AD: minigrad computes tangents from the reverse-mode graph, and an in-place op "
                           f"changed a tensor an earlier op saved for its derivative (PyTorch's forward AD allows "
                           f"this); use the out-of-place op, or .clone() before the in-place one. {error}") from error
    finally:
        _here.level.passing = False


def _tangent(level: _Level, y: Tensor, under_no_grad: bool = False) -> tuple[Tensor | None, bool]:
    """(J·t of ``y`` summed over the level's duals it reaches, or None; whether y reaches tensors from outside
    that require grad), by the double-vjp trick (see the module docstring). ``under_no_grad``: ``y`` carries the
    tangent of a tensor computed under no_grad, whose tangent PyTorch computes under no_grad too (no graph)."""
    if not y._requires_grad:
        return None, False
    duals, outside = level.reached([y])
    if not duals:
        return None, outside
    xp = backend.array_module(y.data)
    dummy = Tensor._make(xp.zeros_like(y.data), True, None, 0)
    with record_grad():
        try:   # through the _TangentOnly nodes of ops run under no_grad
            vjps = _passing_grad([y], [handle for _, _, _, handle in duals], [dummy], retain_graph=True,
                                 create_graph=True, allow_unused=True)
        except NotImplementedError as error:
            raise NotImplementedError(f"forward AD (unpack_dual): minigrad computes tangents from the reverse-mode "
                                      f"graph with create_graph=True, which is not available here: {error}") from error
        kept = [(g, t if t.dtype == g.dtype else t.to(g.dtype)) for g, (_, _, t, _) in zip(vjps, duals)
                if g is not None and g.requires_grad]
        tangent = None
        if kept:
            # g reaches the duals: grad would keep the graph for forward-over-reverse; the tangent is J·t, with
            # a graph only where y depends on tensors from outside that require grad, or a tangent requires grad
            # (as PyTorch's: J·t is then differentiable w.r.t. t)
            graph = not under_no_grad and (outside or any(t.requires_grad for _, t in kept))
            level.products = True   # this walk keeps no graph for forward-over-reverse
            try:
                (tangent,) = forward_products([g for g, _ in kept], [dummy], [t for _, t in kept],
                                              retain_graph=graph, create_graph=graph, allow_unused=True)
            finally:
                level.products = False
        if tangent is not None and tangent.requires_grad and outside and (level.hidden_ops or level.first_orders) and \
                level.hidden_reaches_outside(y):
            tangent = _ConstantFormulas.apply(tangent)   # its values are right, a gradient through it would not be
    if tangent is None:   # y depends on the duals, with a derivative that is zero everywhere
        tangent = Tensor._make(xp.zeros_like(y.data), False, None, 0)
    return tangent, outside


class _Module(types.ModuleType):
    """This module: ``forward_ad._level`` and ``forward_ad._current_level`` (as torch's module global) read this
    thread's level (mg.func's transforms look at ``_level``)."""

    @property
    def _level(self) -> Any:
        return _here.level

    @property
    def _current_level(self) -> int:
        return _here.number


sys.modules[__name__].__class__ = _Module
