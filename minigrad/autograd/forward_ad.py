"""PyTorch's ``torch.autograd.forward_ad``: dual tensors and their tangents (forward-mode products J·t).

::

    import minigrad.autograd.forward_ad as fwAD

    with fwAD.dual_level():
        x_dual = fwAD.make_dual(x, t)            # x with the tangent t (same shape)
        y = f(x_dual)
        y_primal, y_tangent = fwAD.unpack_dual(y)   # f(x), J_f(x)·t

minigrad has one differentiation engine, the reverse-mode one, and forward AD is built on it (each op's
derivative is written once, as its backward rule). Inside a dual level a dual tensor requires grad (a fresh
leaf sharing the primal's memory, or ``x.view_as(x)`` when ``x`` itself requires grad), so the ops on it
record a graph as usual. ``unpack_dual(y).tangent`` is computed on demand, once per tensor (cached until
the level exits), by the double-vjp trick: with a dummy cotangent ``u`` of y's shape,
``g_k = J_kᵀu`` is the vector-Jacobian product w.r.t. each dual ``k`` (``create_graph=True``, so g is linear
in u with a graph), and ``Σ_k J_k·t_k`` is the gradient of ``Σ_k ⟨g_k, t_k⟩`` w.r.t. u. It needs the
higher-order rules of :mod:`minigrad.higher_order`: an op without one raises NotImplementedError naming it,
never a wrong tangent.

Forward-over-reverse (a Hessian-vector product): ``mg.autograd.grad`` and ``backward`` called inside a dual
level on outputs that reach a dual keep their graph (``create_graph=True``), so the gradient's tangent is
H·t, as torch's gradients carry tangents. The tangent is differentiable (it keeps its graph) where the
output depends on tensors outside the level that require grad (the primal, a model's parameters).

Differences from PyTorch, all of the same origin (a tangent is derived from the recorded graph):
- dual tensors and the tensors computed from them require grad and have a ``grad_fn`` inside the level;
- ops run under ``mg.no_grad()`` inside the level record nothing, so their results carry no tangent
  (PyTorch's forward AD ignores grad mode);
- ``unpack_dual(y).primal`` of a computed ``y`` that also depends on tensors requiring grad outside the
  level is ``y`` itself (PyTorch: a view of y without the tangent);
- complex dual tensors raise NotImplementedError.
Only one level at a time, as PyTorch ("Nested forward mode AD is not supported").
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .. import backend
from ..recording import enable_grad
from ..tensor import Tensor
from . import functions
from .functions import grad

__all__ = ["UnpackedDualTensor", "dual_level", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual"]

_current_level = -1   # as torch's module global: -1 outside any level


class UnpackedDualTensor(NamedTuple):
    """``unpack_dual``'s result: the ``primal`` (a Tensor) and its ``tangent`` (a Tensor, or None)."""

    primal: Tensor
    tangent: Tensor | None


class _Level:
    """The open dual level: its dual tensors and the tangents computed so far."""

    def __init__(self) -> None:
        self.leaves: dict = {}   # id(dual) -> (dual, primal, tangent) for a dual that is a fresh leaf
        self.views: dict = {}    # (node, index) -> (dual, primal, tangent) for a dual x.view_as(x)
        self.cache: dict = {}    # id(y) -> (y, y._node, tangent): tangents computed by unpack_dual

    def entry(self, t: Tensor) -> Any:
        """``t``'s (dual, primal, tangent) if it is one of this level's duals, else None."""
        if t._node is None:
            entry = self.leaves.get(id(t))
        else:
            entry = self.views.get((t._node, t._index))
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
            elif edge is not None:
                entry = self.leaves.get(id(edge))
                if entry is not None and entry[0] is edge:
                    duals[id(edge)] = entry
                else:
                    outside = True

        for t in roots:
            if isinstance(t, Tensor) and t._requires_grad:
                visit_edge(t if t._node is None else (t._node, t._index))
        while stack:
            for edge in stack.pop().edges:
                visit_edge(edge)
        return list(duals.values()), outside

    def needs_graph(self, roots: list) -> bool:
        """For ``mg.autograd.grad``/``backward`` inside the level: whether ``roots`` reach a dual, so that the
        gradients must keep their graph to carry tangents (forward-over-reverse)."""
        return bool(self.reached(roots)[0])


_level: _Level | None = None


def enter_dual_level() -> int:
    """Open a dual level and return its number (0), as ``torch.autograd.forward_ad.enter_dual_level``.
    Only one level can be open (RuntimeError otherwise, as PyTorch)."""
    global _current_level, _level
    if _level is not None:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    _level = _Level()
    _current_level = 0
    functions.DUAL_LEVEL[:] = [_level.needs_graph]
    return _current_level


def exit_dual_level(*, level: int | None = None) -> None:
    """Close the dual level ``level`` (default: the current one); its dual tensors lose their tangents."""
    global _current_level, _level
    if level is None:
        level = _current_level
    if level != _current_level:
        raise RuntimeError("Trying to exit a forward AD level that was not the last one that was created. "
                           "This is not supported.")
    if level < 0:
        raise RuntimeError("Dual level must be a positive number.")
    _level = None
    _current_level = level - 1
    functions.DUAL_LEVEL[:] = []


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
        level = _current_level
    if _level is None or level < 0:
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, make sure to "
                           "enter_dual_level() first.")
    if level != _current_level:
        raise RuntimeError(f"Invalid level given to _{api}")
    return _level


def make_dual(tensor: Tensor, tangent: Tensor, *, level: int | None = None) -> Tensor:
    """A dual tensor: ``tensor``'s values with the tangent ``tangent`` (same shape), as
    ``torch.autograd.forward_ad.make_dual``; only inside a dual level.

    Both must be floating-point tensors on the same device; the tangent keeps its own dtype (as PyTorch's).
    The result shares ``tensor``'s memory; it is a view of ``tensor`` when that requires grad, so
    reverse-mode gradients still reach it.
    """
    current = _check_level(level, "make_dual")
    for what, t in (("primal", tensor), ("tangent", tangent)):
        if not isinstance(t, Tensor):
            raise TypeError(f"make_dual: expected the {what} to be a Tensor, got {type(t).__name__}")
        if t.dtype.kind not in "fc":
            raise ValueError(f"Expected {what} to be floating point or complex, but got: {t.dtype}")
        if t.dtype.kind == "c":
            raise NotImplementedError(f"make_dual: minigrad's forward AD takes real floating-point tensors only; "
                                      f"got a complex {what} ({t.dtype})")
    if tangent.shape != tensor.shape:
        raise RuntimeError("Trying to set a forward gradient that has a different size than that of the original "
                           f"Tensor, this is not supported. Tensor is of size {list(tensor.shape)} while the given "
                           f"forward gradient is of size {list(tangent.shape)}.")
    if tangent.device != tensor.device:
        raise RuntimeError(f"make_dual: the tangent is on {tangent.device} and the primal on {tensor.device}; "
                           "they must be on the same device")
    if current.entry(tensor) is not None:
        raise RuntimeError(f"Making a dual Tensor based on a Tensor that already has a forward gradient at the same "
                           f"level {_current_level} is not supported.")
    with enable_grad():
        if tensor.requires_grad:   # reverse mode still reaches `tensor` through the dual (and the primal)
            dual, primal = tensor.view_as(tensor), tensor.view_as(tensor)
            current.views[(dual._node, dual._index)] = (dual, primal, tangent)
        else:
            dual, primal = tensor.detach().requires_grad_(True), tensor.detach()
            current.leaves[id(dual)] = (dual, primal, tangent)
    return dual


def unpack_dual(tensor: Tensor, *, level: int | None = None) -> UnpackedDualTensor:
    """``(primal, tangent)`` of ``tensor``, as ``torch.autograd.forward_ad.unpack_dual``.

    Outside a dual level, ``(tensor, None)``. Inside: for a tensor computed from dual tensors, the tangent
    is J·t summed over the duals it depends on (of ``tensor``'s shape), computed on the first call and
    cached; None for a tensor that depends on none (a constant, an integer result such as ``argmax``).
    """
    if level is None:
        level = _current_level
    if level < 0 or _level is None:
        return UnpackedDualTensor(tensor, None)
    if level != _current_level:
        raise RuntimeError("Invalid level given to _unpack_dual")
    if not isinstance(tensor, Tensor):
        raise TypeError(f"unpack_dual: expected a Tensor, got {type(tensor).__name__}")
    entry = _level.entry(tensor)
    if entry is not None:
        return UnpackedDualTensor(entry[1], entry[2])
    cached = _level.cache.get(id(tensor))
    if cached is not None and cached[0] is tensor and cached[1] is tensor._node:
        tangent, outside = cached[2], cached[3]
    else:
        tangent, outside = _tangent(_level, tensor)
        _level.cache[id(tensor)] = (tensor, tensor._node, tangent, outside)
    return UnpackedDualTensor(tensor if outside else tensor.detach(), tangent)


def _tangent(level: _Level, y: Tensor) -> tuple[Tensor | None, bool]:
    """(J·t of ``y`` summed over the level's duals it reaches, or None; whether y reaches tensors from outside
    that require grad), by the double-vjp trick (see the module docstring)."""
    if not y._requires_grad:
        return None, False
    duals, outside = level.reached([y])
    if not duals:
        return None, outside
    if y.dtype.kind == "c":
        raise NotImplementedError(f"unpack_dual: minigrad's forward AD takes real tensors only; got a complex "
                                  f"{y.dtype} tensor of shape {tuple(y.shape)}")
    xp = backend.array_module(y.data)
    dummy = Tensor._make(xp.zeros_like(y.data), True, None, 0)
    with enable_grad():
        try:
            vjps = grad([y], [d for d, _, _ in duals], [dummy], retain_graph=True, create_graph=True,
                        allow_unused=True)
        except NotImplementedError as error:
            raise NotImplementedError(f"forward AD (unpack_dual): minigrad computes tangents from the reverse-mode "
                                      f"graph with create_graph=True, which is not available here: {error}") from error
        kept = [(g, t if t.dtype == g.dtype else t.to(g.dtype)) for g, (_, _, t) in zip(vjps, duals)
                if g is not None and g.requires_grad]
        tangent = None
        if kept:
            (tangent,) = grad([g for g, _ in kept], [dummy], [t for _, t in kept], retain_graph=outside,
                              create_graph=outside, allow_unused=True)
    if tangent is None:   # y depends on the duals, with a derivative that is zero everywhere
        tangent = Tensor._make(xp.zeros_like(y.data), False, None, 0)
    return tangent, outside
