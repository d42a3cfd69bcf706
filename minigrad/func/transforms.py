"""The differentiating transforms of ``torch.func``: :func:`grad`, :func:`grad_and_value`, :func:`vjp`,
:func:`jvp`, :func:`jacrev`, :func:`jacfwd` and :func:`hessian`, on minigrad's reverse-mode engine.

Each call runs ``func`` once with recording on (also under ``mg.no_grad()``) on stand-ins for the inputs
it differentiates, then ``mg.autograd.grad`` over the recorded graph. The differentiated inputs may be
pytrees (tuples, lists, dicts of Tensors, e.g. a model's parameters for :func:`functional_call`); the
results have the same structure. Nothing's ``.grad`` changes and the inputs need not require grad.

Levels. A transform called outside any other gives, as torch.func's, results that stay differentiable by
ordinary autograd w.r.t. whatever outside the transform requires grad: a differentiated input that requires
grad (its stand-in is then a view of it, ``x.view_as(x)``) or a tensor ``func`` closes over (a model's
parameters). So ``grad(f)(x).sum().backward()`` fills ``x.grad`` with second derivatives, a MAML inner
step ``p - lr * grad(loss)(params, ...)[k]`` keeps its second-order term and a gradient penalty reaches the
critic's parameters. That needs ``mg.autograd.grad(..., create_graph=True)`` (:mod:`minigrad.higher_order`):
where the engine has no higher-order rule for an op involved it raises NotImplementedError, never a detached
result (``mg.no_grad()`` around the call, or detached parameters, say no gradient through it is wanted).
When nothing outside requires grad (or grad mode is off), the gradients are first-order and the results
detached (``requires_grad=False``); finding out is one walk over the recorded graph, which stops at the
first tensor from outside. A result that does not depend on anything outside comes back detached.
A transform called while another differentiates (``hessian``, ``jacrev(jacrev(f))``, ``grad(grad(f))``)
is *nested*: its stand-ins stay connected to the outer ones and it always asks for a differentiable
result (unless called under ``no_grad`` in a reverse transform's function, which then does not track it, as
torch's). :func:`vmap` is not a level: it only loops, so ``vmap(grad(f))`` (per-sample gradients) is one
top-level ``grad`` per sample. Tensor hooks registered inside follow torch.func's levels (``hook_owner``).

:func:`jvp` and :func:`jacfwd` use forward AD (:mod:`minigrad.autograd.forward_ad`), which sees through
``mg.no_grad()`` blocks in ``func`` as PyTorch's; :func:`jacfwd` costs one backward per input element (after
one recording and one double-backward), :func:`jacrev` one per output element.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from typing import Any, Callable, Iterator

from .. import backend
from ..autograd import forward_ad
from ..autograd import grad as autograd_grad
from ..constructors import zeros_like
from ..hooks import current_level, transform_level
from ..ops import stack, where
from ..ops.inference import inference_mode
from ..recording import inside_transform, is_recording, record_grad
from ..tensor import Tensor
from ..versions import memory_owner
from . import _pytree
from .vmap import _VmapLevel, check_randomness, inputs_level, outer_hook_owner, randomness_checked, recording_mark

__all__ = ["grad", "grad_and_value", "hessian", "jacfwd", "jacrev", "jvp", "vjp"]

_local = threading.local()


def _depth() -> int:
    """How many transforms are differentiating ``func`` calls on this thread right now."""
    return getattr(_local, "depth", 0)


@contextlib.contextmanager
def _level(args: Any, level: object | None = None) -> Iterator[None]:
    """Around a transform's call of ``func`` on ``args``: one level deeper; ``backward()`` inside raises, as torch's;
    the tensors of ``args`` may be written in place (see :func:`~.vmap.passed_to_every_level`); tensor hooks
    registered inside run only in ``level``'s walks (:meth:`_Level.differentiate`; none for a forward transform)."""
    _local.depth = _depth() + 1
    owners = {id(memory_owner(t.data)) for t in _pytree.flatten(args)[0] if isinstance(t, Tensor)}
    try:
        with inside_transform(), inputs_level(owners), transform_level(_ForwardLevel() if level is None else level):
            yield
    finally:
        _local.depth -= 1


# --- argnums and stand-ins -----------------------------------------------------------------------------------------


def _wrap_argnum(argnum: Any, num_args: int) -> int:
    if not isinstance(argnum, int) or isinstance(argnum, bool):
        raise RuntimeError(f"argnum must be int, got: {type(argnum)}")
    if 0 <= argnum < num_args:
        return argnum
    if -num_args <= argnum < 0:
        return argnum + num_args
    raise RuntimeError(f"Got argnum={argnum}, but only {num_args} positional inputs")


def _argnums(argnums: Any, num_args: int) -> int | tuple:
    """``argnums`` checked and made non-negative, as torch's ``_slice_argnums``."""
    if isinstance(argnums, int) and not isinstance(argnums, bool):
        return _wrap_argnum(argnums, num_args)
    if not isinstance(argnums, tuple):
        raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")
    wrapped = tuple(_wrap_argnum(a, num_args) for a in argnums)
    if not wrapped:
        raise RuntimeError("argnums must be non-empty")
    if len(set(wrapped)) != len(wrapped):
        raise RuntimeError(f"argnums elements must be unique, got {wrapped}")
    return wrapped


class _ForwardLevel:
    """The level of a forward transform (jvp, jacfwd). Its tensors do not require grad in torch.func (forward AD
    runs no hook): a hook on a tensor made inside is not registered (:func:`~minigrad.hooks.transform_level`)."""

    batches = False   # jacfwd's sets True: torch's jacfwd is a vmap (a custom Function inside needs a vmap rule)

    def __init__(self) -> None:
        self.enclosing = current_level()
        self.start = recording_mark()   # taken before the duals are made: they are the level's tensors

    def hook_owner(self, tensor: Tensor) -> object | None:
        """None for a tensor made inside; else the enclosing level's answer (False outside every transform)."""
        return outer_hook_owner(self, tensor)


def _in_forward_transform() -> bool:
    """Whether the innermost transform whose function runs now (vmaps aside) is a forward one (jvp, jacfwd)."""
    level = current_level()
    while isinstance(level, _VmapLevel):
        level = level.enclosing
    return isinstance(level, _ForwardLevel) or (isinstance(level, _Level) and level.forward)


class _Level:
    """One call of a transform: its stand-ins for the differentiated inputs and whether the gradients must
    keep their graph (``create_graph``), because the transform is nested or because the computation reaches
    a tensor from outside that requires grad."""

    def __init__(self, api: str) -> None:
        self.api = api
        self.forward = api in ("jacfwd", "jvp")   # a forward transform computed in reverse mode (in a dual level)
        self.batches = api == "jacfwd"   # torch's jacfwd is a vmap: a custom Function inside needs a vmap rule
        # inside another transform's function; under no_grad there (and not in a forward transform's, whose forward
        # AD sees through no_grad) the enclosing transform does not track this one, as torch's: a top-level call
        self.nested = _depth() > 0 and (is_recording() or _in_forward_transform())
        self.outer = is_recording() and not self.nested   # results may stay differentiable w.r.t. outside
        self.own: set = set()     # ids of the stand-ins that are fresh leaves (the transform's own inputs)
        self.clean: set = set()   # nodes known to reach nothing from outside
        self.views: set = set()   # the nodes of the stand-ins that are views of inputs requiring grad
        self.create_graph = self.nested
        self.enclosing = current_level()   # the transform this one is called inside (its function or walk)
        self.start = recording_mark()   # ops recorded after it (stand-ins, func's ops) were made inside

    def stand_in(self, x: Any) -> Tensor:
        """What ``func`` gets for a differentiated input: a view of ``x`` when results may be differentiated
        w.r.t. it (nested, or ``x`` requires grad with grad mode on), else a fresh leaf."""
        if not isinstance(x, Tensor):
            raise ValueError(f"Thing passed to transform API must be Tensor, got {type(x)}")
        if x.requires_grad and (self.nested or self.outer or _carries_tangent(x)):
            self.create_graph = True   # (a dual's tangent: the gradients keep their graph for theirs, H·t)
            view = x.view_as(x)
            self.views.add(view._node)
            if view._node is not None:   # PyTorch's graph has no node for it: next_functions looks through it
                view._node.hidden = True
            return view
        leaf = x.detach().requires_grad_(True)
        self.own.add(id(leaf))
        return leaf

    def with_stand_ins(self, args: tuple, argnums: Any) -> tuple[list, Any]:
        """(the arguments with stand-ins at ``argnums``, the differentiated pytree: one arg's tree for an int
        ``argnums``, a tuple of trees for a tuple, every argument for None)."""
        args = list(args)
        positions = range(len(args)) if argnums is None else (argnums,) if isinstance(argnums, int) else argnums
        for i in positions:
            args[i] = _pytree.tree_map(self.stand_in, args[i])
        if isinstance(argnums, int):
            return args, args[argnums]
        return args, tuple(args[i] for i in positions)

    def hook_owner(self, tensor: Tensor) -> object | None:
        """For ``register_hook`` inside this level (:func:`~minigrad.hooks.transform_level`): this level for a
        tensor computed from its stand-ins (torch.func's tensors of this level: the hook runs in its walks only);
        None for one made inside from tensors of outside only (closed over, or an enclosing transform's), which
        torch's does not let require grad at this level; else the enclosing level's answer. A jacfwd or jvp computed
        in reverse mode (inside an open dual level) is a forward transform: None for its tensors, as _ForwardLevel's."""
        if self.owns(tensor):
            return None if self.forward else self
        return outer_hook_owner(self, tensor)

    def owns(self, tensor: Tensor) -> bool:
        """Whether ``tensor`` (an op's output) was computed from this level's stand-ins."""
        seen: set = set()
        stack = [tensor._node]
        while stack:
            node = stack.pop()
            if node in self.views:
                return True
            for edge in node.edges:
                if type(edge) is tuple:
                    if edge[0] not in seen:
                        seen.add(edge[0])
                        stack.append(edge[0])
                elif edge is not None and id(edge) in self.own:
                    return True
        return False

    def decide(self, outputs: list) -> None:
        """After ``func`` ran: keep the gradients' graph if ``outputs`` reach a tensor from outside."""
        if self.outer and not self.create_graph:
            self.create_graph = self.reaches_outside(outputs)

    def reaches_outside(self, tensors: list) -> bool:
        """Whether the graph of ``tensors`` reaches a tensor that requires grad other than this level's own
        stand-ins: an input that requires grad or a tensor ``func`` closed over. Iterative, each node once;
        it stops at the first such tensor (nodes of a walk that found none are remembered as clean)."""
        own, clean = self.own, self.clean
        seen: set = set()
        stack = []
        for t in tensors:
            if isinstance(t, Tensor) and t._requires_grad:
                node = t._node
                if node is None:
                    if id(t) not in own:
                        return True
                elif node not in seen and node not in clean:
                    seen.add(node)
                    stack.append(node)
        while stack:
            for edge in stack.pop().edges:
                if type(edge) is tuple:
                    node = edge[0]
                    if node not in seen and node not in clean:
                        seen.add(node)
                        stack.append(node)
                elif edge is not None and id(edge) not in own:
                    return True
        clean |= seen
        return False

    def unwrapped(self, tree: Any) -> Any:
        """``tree``'s Tensors as results: detached unless grad mode is on and they depend on a tensor from
        outside (as torch.func unwraps its level); nested, kept as they are. Inside a forward-AD dual level, one
        that depends on a dual and on nothing else outside that requires grad keeps its tangent, not requiring grad
        (as PyTorch's, whose duals do not require grad)."""
        if self.nested:
            return tree
        keep = is_recording()
        dual = forward_ad._level   # a forward-AD dual level open around the call: results carry their tangents

        def result(t: Any) -> Any:
            if not isinstance(t, Tensor) or not t._requires_grad:
                return t
            if keep and self.reaches_outside([t]) and (dual is None or dual.requires_grad_outside(t)):
                return t
            if dual is not None and _carries_tangent(t):   # as PyTorch's: not requiring grad, with the tangent
                return dual.first_order([t])[0]
            return t.detach()
        return result(tree) if isinstance(tree, Tensor) else _pytree.tree_map(result, tree)

    def differentiate(self, outputs: list, inputs: list, grad_outputs: list | None = None,
                      create_graph: bool | None = None, forward: bool = False) -> list:
        """One gradient per input (zeros where no output reaches it), as torch.func's ``_autograd_grad``:
        outputs that do not require grad are left out. Differentiable when this level decided so (or as
        ``create_graph`` says). ``forward``: the tangents of the double-vjp trick (forward AD's errors)."""
        if create_graph is None:
            create_graph = self.create_graph
        if grad_outputs is None:
            grad_outputs = [None] * len(outputs)
        kept = [(out, g) for out, g in zip(outputs, grad_outputs) if out.requires_grad]
        if not kept:
            return [zeros_like(x) for x in inputs]
        outs, gouts = [out for out, _ in kept], [g for _, g in kept]
        walk = forward_ad.forward_products if forward else autograd_grad
        with transform_level(self):   # the hooks func registered run in this walk only
            if not create_graph:
                grads = walk(outs, inputs, gouts, retain_graph=True, allow_unused=True)
            else:
                try:
                    grads = walk(outs, inputs, gouts, retain_graph=True, create_graph=True, allow_unused=True)
                except NotImplementedError as error:
                    raise NotImplementedError(self._no_create_graph(error)) from error
        return [zeros_like(x) if g is None else g for g, x in zip(grads, inputs)]

    def _no_create_graph(self, error: Exception) -> str:
        if self.nested:
            return (f"{self.api}: nested differentiation (hessian, jacrev(jacrev(f)), grad(grad(f)), or a transform "
                    "inside another that differentiates) needs a differentiable backward, mg.autograd.grad(..., "
                    f"create_graph=True), which minigrad cannot do here: {error}")
        return (f"{self.api}: the result would stay differentiable w.r.t. tensors outside the transform that require "
                "grad (a differentiated input that requires grad, or one the function closes over, e.g. a model's "
                "parameters), as torch.func's, which needs mg.autograd.grad(..., create_graph=True); minigrad "
                f"cannot do that here: {error}. If no gradient through this result is wanted, call the transform "
                "under `with mg.no_grad():` or pass/close over detached tensors (`p.detach()`), which gives "
                "first-order results")


def _carries_tangent(x: Tensor) -> bool:
    """Whether ``x`` (requiring grad) carries a tangent of a forward-AD dual level open around the transform."""
    dual = forward_ad._level
    return dual is not None and dual.carries_tangent([x])


def _name(func: Any) -> str:
    if isinstance(func, functools.partial):
        return f"functools.partial({_name(func.func)}, ...)"
    return getattr(func, "__name__", repr(func))


# --- grad ---------------------------------------------------------------------------------------------------------


def grad_and_value(func: Callable, argnums: int | tuple = 0, has_aux: bool = False) -> Callable:
    """``func`` → a function returning ``(gradient, value)`` (``(gradient, (value, aux))`` with ``has_aux``),
    as ``torch.func.grad_and_value``.

    ``func`` must return a 0-d Tensor (or ``(0-d Tensor, aux)``). The gradient is taken w.r.t. the
    positional argument(s) ``argnums`` (an int, or a tuple: then a tuple of gradients), each a Tensor or a
    pytree of Tensors; each gradient has its input's shape, dtype and structure. Keyword arguments are
    passed through, not differentiated.
    """
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> tuple:
        level = _Level("grad")
        numbers = _argnums(argnums, len(args))
        with record_grad():
            args, diff = level.with_stand_ins(args, numbers)
            with _level((args, kwargs), level):
                output = func(*args, **kwargs)
            aux = None
            if has_aux:
                if not (isinstance(output, tuple) and len(output) == 2):
                    raise RuntimeError("grad_and_value(f)(*args): output of function f should be a tuple: "
                                       "(output, aux) if has_aux is True")
                output, aux = output
            if not isinstance(output, Tensor):
                raise RuntimeError("grad_and_value(f)(*args): Expected f(*args) to return a Tensor, got "
                                   f"{type(output)}")
            if output.ndim != 0:
                raise RuntimeError("grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got tensor "
                                   f"with {output.ndim} dims. Maybe you wanted to use the vjp or jacrev APIs instead?")
            if has_aux:
                _check_aux(aux)
            level.decide([output])
            flat, spec = _pytree.flatten(diff)
            grads = _pytree.unflatten(level.differentiate([output], flat), spec)
        if level.create_graph:   # first-order gradients have no graph
            grads = level.unwrapped(grads)
        value = level.unwrapped(output)
        if has_aux:
            return grads, (value, level.unwrapped(aux))
        return grads, value
    return wrapper


def grad(func: Callable, argnums: int | tuple = 0, has_aux: bool = False) -> Callable:
    """``func`` → a function returning the gradient of ``func``'s 0-d output (``(gradient, aux)`` with
    ``has_aux``), as ``torch.func.grad``; see :func:`grad_and_value` for ``argnums``.

    ``grad(loss)(params, x, y)`` with ``params`` a dict gives a dict of the same keys; inside
    :func:`vmap`, ``vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y)`` gives per-sample gradients.
    """
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        grads, value = grad_and_value(func, argnums, has_aux)(*args, **kwargs)
        if has_aux:
            return grads, value[1]
        return grads
    return wrapper


# --- vjp ----------------------------------------------------------------------------------------------------------


def _call_for_outputs(func: Callable, args: list, kwargs: dict, has_aux: bool, api: str,
                      level: _Level | _ForwardLevel | None = None) -> tuple:
    """``func(*args)`` at a new level (``level``'s walks run the hooks registered inside): (output, aux, flat
    outputs, output spec), outputs checked as torch's ``api`` (vjp refuses integer and bool outputs; jvp takes
    them, their tangents zeros of their dtype)."""
    with _level((args, kwargs), level):
        output = func(*args, **kwargs)
    aux = None
    if has_aux:
        if not (isinstance(output, tuple) and len(output) == 2):
            raise RuntimeError(f"{api}(f, *primals): output of function f should be a tuple: (output, aux) "
                               "if has_aux is True")
        output, aux = output
    flat, spec = _pytree.flatten(output)
    if (len(flat) == 1 and flat[0] is None) or not flat:
        raise RuntimeError(f"{api}(f, *primals): Expected f to be a function that has non-empty output "
                           f"(got output = {flat})")
    for out in flat:
        if not isinstance(out, Tensor):
            raise RuntimeError(f"{api}(f, *primals): expected f(*primals) to return only tensors, "
                               f"got unsupported type {type(out)}")
        if out.dtype.kind not in "fc" and api == "vjp":   # torch.func's jvp/jacfwd give zero tangents to them
            raise RuntimeError(f"{api}(f, ...): All outputs of f must be floating-point or complex Tensors, got "
                               f"Tensor with dtype {out.dtype}")
    if has_aux:
        _check_aux(aux)
    return output, aux, flat, spec


def _check_aux(aux: Any) -> None:
    """torch.func's: the auxiliary output (``has_aux``) holds Tensors only, in any pytree (a Python number or None
    raises its RuntimeError)."""
    for leaf in _pytree.flatten(aux)[0]:
        if not isinstance(leaf, Tensor):
            raise RuntimeError(f"Expected tensors, got unsupported type {type(leaf)}")


def vjp(func: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """``(func(*primals), vjp_fn)`` (``(output, vjp_fn, aux)`` with ``has_aux``), as ``torch.func.vjp``.

    ``vjp_fn(cotangents)``: ``cotangents`` has the structure and shapes of ``func``'s output; returns a
    tuple with one vector-Jacobian product per primal, each of that primal's shape, dtype and structure.
    ``vjp_fn`` may be called many times; as torch's, ``vjp_fn(cotangents, create_graph=None)`` keeps the
    products differentiable (w.r.t. the primals, tensors ``func`` closed over and the cotangents, where
    those require grad) when grad mode is on; ``create_graph=False`` gives first-order, detached ones.
    """
    level = _Level("vjp")
    with record_grad():
        args, diff = level.with_stand_ins(primals, None)
        output, aux, flat_out, out_spec = _call_for_outputs(func, args, {}, has_aux, "vjp", level)
        level.decide(flat_out)
    flat_diff, diff_spec = _pytree.flatten(diff)

    def vjp_fn(cotangents: Any, retain_graph: bool = True, create_graph: bool | None = None) -> tuple:
        flat_cot, cot_spec = _pytree.flatten(cotangents)
        if cot_spec != out_spec:
            raise RuntimeError("Expected pytree structure of cotangents to be the same as pytree structure of "
                               f"outputs to the function. cotangents: {cot_spec.pprint()}, "
                               f"primal output: {out_spec.pprint()}")
        for i, (cot, out) in enumerate(zip(flat_cot, flat_out)):
            if not isinstance(cot, Tensor):
                raise TypeError(f"vjp_fn: cotangent {i} is a {type(cot).__name__}, not a Tensor")
            if cot.shape != out.shape:
                raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {tuple(cot.shape)} and "
                                   f"output[{i}] has a shape of {tuple(out.shape)}.")
        inside = level.nested or _depth() > 0
        if create_graph is None:   # torch: differentiable when grad mode is on (and there is something to reach)
            create_graph = inside or (is_recording() and (level.create_graph or any(
                cot.requires_grad for cot in flat_cot)))
        with record_grad():
            grads = _pytree.unflatten(level.differentiate(flat_out, flat_diff, flat_cot, inside or create_graph),
                                      diff_spec)
        return level.unwrapped(grads) if create_graph and not inside else grads

    if has_aux:
        return level.unwrapped(output), vjp_fn, level.unwrapped(aux)
    return level.unwrapped(output), vjp_fn


def jvp(func: Callable, primals: Any, tangents: Any, *, strict: bool = False, has_aux: bool = False) -> tuple:
    """``(func(*primals), J·tangents)`` (and ``aux`` with ``has_aux``), as ``torch.func.jvp``.

    ``primals`` and ``tangents``: tuples of Tensors of the same shapes. Computed by forward AD
    (:mod:`minigrad.autograd.forward_ad`: two backward walks per output), so ops that ``func`` runs under
    ``mg.no_grad()`` still contribute, as in PyTorch, whose forward AD ignores grad mode. Inside an open dual
    level (one level at a time) it falls back to the rows of J in reverse mode (one backward per output
    element); NotImplementedError there if ``func`` runs ops under ``no_grad`` on tensors carrying tangents.
    """
    for what, value in (("primals", primals), ("tangents", tangents)):
        if not isinstance(value, tuple):
            raise RuntimeError(f"jvp(f, primals, tangents): Expected {what} to be a tuple. E.g. it should be "
                               f"valid to call f(*{what}).")
    flat_p, p_spec = _pytree.flatten(primals)
    flat_t, t_spec = _pytree.flatten(tangents)
    if p_spec != t_spec:
        raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to have the same python "
                           f"structure. For example, if primals is a tuple of 3 tensors, tangents also must be. "
                           f"Got primals with structure {p_spec.pprint()} and tangents with structure "
                           f"{t_spec.pprint()}")
    for p, t in zip(flat_p, flat_t):
        if not isinstance(p, Tensor) or not isinstance(t, Tensor):
            raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to only contain Tensors")
        if p.shape != t.shape:
            raise RuntimeError(f"jvp(f, primals, tangents): Expected primals and tangents to have the same shape, "
                               f"got {tuple(p.shape)} and {tuple(t.shape)}")
    if not flat_p:
        raise RuntimeError("jvp(f, primals, tangents): Expected primals to contain at least one Tensor.")
    # the tangents are read after func ran: one sharing memory with a primal (jvp(f, (x,), (x,))) is copied
    # first, so a write of func into that primal in place does not change it (torch reads it before)
    owners = {id(memory_owner(p.data)) for p in flat_p}
    flat_t = [t.clone() if id(memory_owner(t.data)) in owners else t for t in flat_t]
    if forward_ad._level is None:
        return _forward_jvp(func, flat_p, p_spec, flat_t, has_aux)
    jac_fn = _jacobian(func, tuple(range(len(primals))), has_aux, None, "jvp", with_output=True)
    jac, output, aux = _reverse_in_open_level(jac_fn, primals, "jvp")
    flat_out, out_spec = _pytree.flatten(output)
    flat_jac = _pytree.flatten(jac)[0]   # output-major: for each output, one block per flat primal
    results = []
    for i, out in enumerate(flat_out):
        blocks = flat_jac[i * len(flat_p):(i + 1) * len(flat_p)]
        total = zeros_like(out)
        if out.numel() and out.dtype.kind in "fc":   # an integer output: a zero tangent of its dtype
            for block, t in zip(blocks, flat_t):
                total = total + (block.reshape(out.numel(), -1) @ t.reshape(-1).to(block.dtype)).reshape(out.shape)
        results.append(total)
    jvp_out = _pytree.unflatten(results, out_spec)
    if has_aux:
        return output, jvp_out, aux
    return output, jvp_out


# --- Jacobians ----------------------------------------------------------------------------------------------------


def _zeros(shape: tuple, like: Tensor) -> Tensor:
    return Tensor._make(backend.array_module(like.data).zeros(shape, dtype=like.dtype), False, None, 0)


def _one_hot(out: Tensor, k: int) -> Tensor:
    xp = backend.array_module(out.data)
    row = xp.zeros(out.numel(), dtype=out.dtype)
    row[k] = 1
    return Tensor._make(row.reshape(out.shape), False, None, 0)


# ops whose tangent formula in PyTorch reads an input's primal (a product with it, or its sign): there a tangent
# or Jacobian requires grad when that primal does, a constant one too (t * 3 does); the others' (indexing, sums,
# negation, concatenation, max) are linear in the tangents alone
_PRIMAL_READING = frozenset({"mul", "div", "matmul", "mm", "bmm", "mv", "dot", "einsum", "relu", "leaky_relu",
                             "abs", "hardtanh", "clamp", "threshold", "sign", "reads_input"})


def _reads_primal(tensor: Tensor, stops: set) -> bool:
    """Whether the graph of ``tensor``, down to the nodes in ``stops`` (the transform's inputs), has an op of
    :data:`_PRIMAL_READING`."""
    seen: set = set()
    stack = [tensor._node] if tensor._node is not None else []
    while stack:
        node = stack.pop()
        if node in stops:
            continue
        if node.name in _PRIMAL_READING:
            return True
        for edge in node.edges:
            if type(edge) is tuple and edge[0] not in seen:
                seen.add(edge[0])
                stack.append(edge[0])
    return False


def _owned(level: _Level, tensor: Tensor) -> bool:
    """Whether ``tensor`` was computed from ``level``'s stand-ins (False for a leaf or a constant)."""
    return tensor._node is not None and level.owns(tensor)


def _zero_link(value: Tensor, source: Tensor) -> Tensor:
    """``value`` (shape ``source.shape`` + more dims) unchanged, but depending on ``source`` with a zero gradient:
    torch.func's forward-mode results (jvp's tangents, jacfwd's Jacobians) require grad where the function's
    output does and an op of it reads a primal (:data:`_PRIMAL_READING`), a constant one included, and a backward
    through them gives zeros."""
    never = Tensor._make(backend.array_module(value.data).zeros((), dtype=bool), False, None, 0)
    return where(never, source.reshape(tuple(source.shape) + (1,) * (value.ndim - source.ndim)), value)


def _forward_jvp(func: Callable, flat_p: list, p_spec: Any, flat_t: list, has_aux: bool) -> tuple:
    """:func:`jvp` in a dual level of its own: the primals made dual with their tangents, each output unpacked
    (a zero tangent for one that does not depend on them); ``aux`` without tangents. Under ``mg.inference_mode()``
    too, as torch.func's (the mode is off while ``func`` runs; forward AD itself gives no tangents inside it).
    Called with grad mode off (``no_grad``, ``inference_mode``), the outputs and tangents have no graph, as
    torch's (``func`` is recorded here only for the tangents)."""
    recording, start = is_recording(), recording_mark()
    with forward_ad.dual_level(), inference_mode(False):
        level = _ForwardLevel()
        duals = [forward_ad.make_dual(p, t) for p, t in zip(flat_p, flat_t)]
        output, aux, flat_out, out_spec = _call_for_outputs(func, list(_pytree.unflatten(duals, p_spec)), {},
                                                            has_aux, "jvp", level)
        primals_out, tangents_out = [], []
        for out in flat_out:
            primal, tangent = forward_ad.unpack_dual(out)
            primals_out.append(primal)
            tangent = zeros_like(primal) if tangent is None else tangent
            if primal.requires_grad and not tangent.requires_grad and is_recording() \
                    and _reads_primal(primal, {p._node for p in flat_p}):
                tangent = _zero_link(tangent, primal)
            tangents_out.append(tangent)
        if has_aux:
            flat_aux, aux_spec = _pytree.flatten(aux)
            aux = _pytree.unflatten([forward_ad.unpack_dual(a).primal if isinstance(a, Tensor) else a
                                     for a in flat_aux], aux_spec)
    if not recording:   # aux too, where func computed it (not a tensor from outside returned as it is)
        primals_out, tangents_out = [t.detach() for t in primals_out], [t.detach() for t in tangents_out]
        if has_aux:
            aux = _pytree.tree_map(lambda a: a.detach() if isinstance(a, Tensor) and a._node is not None
                                   and a._node.seq > start else a, aux)
    output, jvp_out = _pytree.unflatten(primals_out, out_spec), _pytree.unflatten(tangents_out, out_spec)
    return (output, jvp_out, aux) if has_aux else (output, jvp_out)


def _jacobian(func: Callable, argnums: Any, has_aux: bool, randomness: str | None, api: str,
              with_output: bool = False) -> Callable:
    """jacrev/jacfwd's body: the Jacobian blocks in torch.func's structure, output-major."""
    @functools.wraps(func)
    def wrapper(*args: Any) -> Any:
        real_only = api in ("jacrev", "jacfwd")   # torch.func's refuse complex inputs (all, not only argnums'), outputs
        if real_only:
            _error_if_complex(api, args, is_input=True)
        level = _Level(api)
        if randomness is not None:
            check_randomness(randomness)
        numbers = _argnums(argnums, len(args))
        with record_grad():
            args, diff = level.with_stand_ins(args, numbers)
            with randomness_checked(randomness or "different", 1):
                output, aux, flat_out, out_spec = _call_for_outputs(func, args, {}, has_aux,
                                                                    "vjp" if api == "jacrev" else "jvp", level)
            if real_only:
                _error_if_complex(api, flat_out, is_input=False)
            level.decide(flat_out)
            flat_diff, diff_spec = _pytree.flatten(diff)
            per_output = []
            for out in flat_out:
                rows: list = [[] for _ in flat_diff]
                for k in range(out.numel() if out.dtype.kind in "fc" else 0):   # an integer output: zeros
                    for j, g in enumerate(level.differentiate([out], flat_diff, [_one_hot(out, k)],
                                                              forward=api != "jacrev")):   # hooks: not run
                        rows[j].append(g)
                blocks = [stack(column, dim=0).reshape(tuple(out.shape) + tuple(x.shape)) if column
                          else _zeros(tuple(out.shape) + tuple(x.shape), x if out.dtype.kind in "fc" else out)
                          for x, column in zip(flat_diff, rows)]
                per_output.append(_pytree.unflatten(blocks, diff_spec))
        result = _pytree.unflatten(per_output, out_spec)
        if level.create_graph:   # first-order blocks have no graph
            result = level.unwrapped(result)
        if with_output:
            return result, level.unwrapped(output), level.unwrapped(aux)
        if has_aux:
            return result, level.unwrapped(aux)
        return result
    return wrapper


def jacrev(func: Callable, argnums: int | tuple = 0, *, has_aux: bool = False, chunk_size: int | None = None,
           _preallocate_and_copy: bool = False) -> Callable:
    """``func`` → a function returning its Jacobian w.r.t. the argument(s) ``argnums``, as
    ``torch.func.jacrev``.

    For an output ``o`` and a differentiated input ``x`` the block has shape ``o.shape + x.shape``;
    the result has the structure of ``func``'s output, each output holding the structure of the
    input(s) (a tuple over ``argnums`` when it is a tuple). With ``has_aux``: ``(jacobian, aux)``.
    One backward per output element; ``chunk_size`` (rows per batched backward in PyTorch) is accepted
    and does not change the result. So a tensor hook registered inside ``func`` (and a custom Function's
    ``backward``) runs once per row of the Jacobian, with that row's gradient; PyTorch's batched backward runs it
    once, on all rows (the values are the same; only side effects, such as counting calls, differ).
    """
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")
    return _jacobian(func, argnums, has_aux, None, "jacrev")


def _error_if_complex(api: str, tree: Any, is_input: bool) -> None:
    """torch.func's jacrev and jacfwd refuse complex inputs and outputs (RuntimeError, its message)."""
    for idx, arg in enumerate(_pytree.flatten(tree)[0]):
        if isinstance(arg, Tensor) and arg.dtype.kind == "c":
            raise RuntimeError(f"{api}: Expected all {'inputs' if is_input else 'outputs'} to be real but received "
                               f"complex tensor at flattened input idx: {idx}")


def _forward_jacobian(func: Callable, argnums: Any, has_aux: bool, randomness: str) -> Callable:
    """jacfwd's body in forward mode: ``func`` runs once in a dual level of its own, its differentiated inputs
    duals (so ops it runs under ``mg.no_grad()`` count, as torch's forward AD); the recording is turned into
    t ↦ J·t by the double-vjp trick (as :func:`~minigrad.func.linearize`), then applied to each standard basis
    vector of the inputs: one backward per input element. Inside a dual level the caller opened (one level at
    a time), the reverse-mode :func:`_jacobian`."""
    reverse = _jacobian(func, argnums, has_aux, randomness, "jacfwd")

    @functools.wraps(func)
    def wrapper(*args: Any) -> Any:
        _error_if_complex("jacfwd", args, is_input=True)
        if forward_ad._level is not None:
            return _reverse_in_open_level(reverse, args)
        level = _Level("jacfwd")
        check_randomness(randomness)
        numbers = _argnums(argnums, len(args))
        positions = (numbers,) if isinstance(numbers, int) else range(len(args)) if numbers is None else numbers
        for x in _pytree.flatten([args[i] for i in positions])[0]:   # torch's make_dual error, before the stand-ins'
            if isinstance(x, Tensor) and x.dtype.kind not in "fc":
                raise ValueError(f"Expected primal to be floating point or complex, but got: {x.dtype}")
        with record_grad():
            args, diff = level.with_stand_ins(args, numbers)
            flat_diff, diff_spec = _pytree.flatten(diff)
            with forward_ad.dual_level(), inference_mode(False):   # as jvp's: torch.func's ignore the mode
                forward_level = _ForwardLevel()
                forward_level.batches = True
                duals = [forward_ad._make_own_dual(x, _zeros(tuple(x.shape), x)) if id(x) in level.own
                         else forward_ad.make_dual(x, _zeros(tuple(x.shape), x)) for x in flat_diff]
                handles = [forward_ad._handle(d) for d in duals]   # what func's in-place ops on duals leave
                args = _with_duals(args, numbers, duals, diff_spec)
                with randomness_checked(randomness, 1):
                    output, aux, flat_out, out_spec = _call_for_outputs(func, args, {}, has_aux, "jvp",
                                                                        forward_level)
                _error_if_complex("jacfwd", flat_out, is_input=False)
                carriers = [forward_ad._graph_of(out) for out in flat_out]
                # which outputs carry a tangent (depend on a dual): torch's tangent of another is a zero, no graph
                carries = [bool(forward_ad._level.reached([out])[0]) for out in carriers]
                level.decide(carriers)
                if level.create_graph and forward_ad._level.hidden_ops:
                    raise NotImplementedError(
                        "jacfwd: func ran ops under no_grad on the differentiated inputs, and the Jacobian must stay "
                        "differentiable (nested in another transform, e.g. jacrev(jacfwd(f)), or w.r.t. tensors "
                        "outside that require grad); PyTorch treats the tangent formulas of those ops as constants "
                        "there, which minigrad cannot do (its tangents come from a reverse-mode graph). Move the "
                        "no_grad block out of func, or call the transform under mg.no_grad() / on detached tensors")
                kept = [i for i, out in enumerate(carriers) if out.requires_grad and out.numel()]
                dummies = [_zeros(tuple(carriers[i].shape), carriers[i]).requires_grad_(True) for i in kept]
                vjps: list = [None] * len(duals)
                if kept:
                    try:
                        vjps = list(forward_ad._passing_grad([carriers[i] for i in kept], handles, dummies,
                                                             retain_graph=True, create_graph=True, allow_unused=True))
                    except NotImplementedError as error:
                        raise NotImplementedError(
                            f"jacfwd: the Jacobian is computed from the reverse-mode graph with create_graph=True, "
                            f"which is not available here: {error}") from error
                # aux and the output without their tangents
                output, aux = _pytree.tree_map(_primal, output), _pytree.tree_map(_primal, aux)
            # columns[i][j]: J of kept output i w.r.t. input j, one row per element of input j
            columns: list = [[[] for _ in duals] for _ in kept]
            for j, (g, x) in enumerate(zip(vjps, flat_diff)):
                if g is None or not g.requires_grad:
                    continue
                for k in range(x.numel()):
                    products = level.differentiate([g], dummies, [_one_hot(g, k)], forward=True)
                    for i, product in enumerate(products):
                        columns[i][j].append(product)
            per_output = []
            for i, out in enumerate(flat_out):
                blocks = []
                for j, x in enumerate(flat_diff):
                    shape = tuple(out.shape) + tuple(x.shape)
                    column = columns[kept.index(i)][j] if i in kept else []
                    if column:   # (x.numel(), *out.shape) -> out.shape + x.shape
                        block = stack(column, dim=0).reshape(x.numel(), out.numel()).transpose(0, 1).reshape(shape)
                    else:
                        block = _zeros(shape, out)
                    primal = _primal(out)
                    # as torch's: linked where the output depends on a differentiated input (else its tangent
                    # is a zero without a graph) and its block does not already
                    if (level.outer or level.nested) and primal.requires_grad and carries[i] \
                            and not _owned(level, block) and level.reaches_outside([primal]) \
                            and _reads_primal(primal, level.views):
                        block = _zero_link(block, primal)
                    blocks.append(block)
                per_output.append(_pytree.unflatten(blocks, diff_spec))
        result = _pytree.unflatten(per_output, out_spec)
        if level.create_graph:   # first-order blocks have no graph
            result = level.unwrapped(result)
        if has_aux:
            return result, level.unwrapped(aux)
        return result
    return wrapper


def _reverse_in_open_level(reverse: Callable, args: tuple, api: str = "jacfwd") -> Any:
    """jacfwd inside a dual level the caller (or an outer jacfwd) opened: in reverse mode, which would miss what
    ops under no_grad contribute to the Jacobian, so it raises where such ops ran on tensors carrying tangents."""
    level = forward_ad._level
    before = level.hidden_ops
    result = reverse(*args)
    if level.hidden_ops != before:
        raise NotImplementedError(f"{api} inside an open dual level (a forward_ad.dual_level block, or jacfwd/jvp "
                                  "inside jacfwd) is computed in reverse mode, and func ran ops under no_grad on "
                                  "tensors carrying tangents, which forward mode differentiates (PyTorch's) and "
                                  "reverse mode does not; minigrad has one dual level at a time. Move the no_grad "
                                  "block out of func, or use jacrev/vjp")
    return result


def _primal(t: Any) -> Any:
    return forward_ad.unpack_dual(t).primal if isinstance(t, Tensor) else t


def _with_duals(args: list, argnums: Any, duals: list, spec: Any) -> list:
    """``args`` with the duals in place of the stand-ins at ``argnums`` (the structure of ``with_stand_ins``)."""
    args = list(args)
    tree = _pytree.unflatten(duals, spec)
    if isinstance(argnums, int):
        args[argnums] = tree
    else:
        positions = range(len(args)) if argnums is None else argnums
        for i, sub in zip(positions, tree):
            args[i] = sub
    return args


def jacfwd(func: Callable, argnums: int | tuple = 0, has_aux: bool = False, *, randomness: str = "error") -> Callable:
    """``func`` → a function returning its Jacobian w.r.t. the argument(s) ``argnums``, as
    ``torch.func.jacfwd``: the structure of :func:`jacrev`'s; with ``has_aux``: ``(jacobian, aux)``.

    Forward mode, as torch's: ops ``func`` runs under ``mg.no_grad()`` contribute; one backward per input
    element (after one recording of ``func`` and one double-backward), so the cost grows with the input's size.
    Complex inputs or outputs raise RuntimeError, as torch's. ``randomness`` as :func:`vmap`'s: ``"error"``
    raises if ``func`` draws random numbers (on the host stream). Inside an open dual level (the caller's, or
    an outer jacfwd's: one level at a time) it falls back to reverse mode, and raises NotImplementedError if
    ``func`` runs ops under ``no_grad`` on tensors carrying tangents (they would count for nothing). Nested
    or differentiable w.r.t. tensors outside (see :func:`jacrev`), such ops raise NotImplementedError too:
    torch takes their tangent formulas as constants there.
    """
    return _forward_jacobian(func, argnums, has_aux, randomness)


def hessian(func: Callable, argnums: int | tuple = 0) -> Callable:
    """``jacfwd(jacrev(func, argnums), argnums)``, as ``torch.func.hessian``: blocks of shape
    ``o.shape + x.shape + x.shape``. As torch's, an op ``func`` runs under ``mg.no_grad()`` is a constant to the
    inner jacrev and differentiated by the outer jacfwd (forward mode). Needs nested differentiation: where
    ``mg.autograd.grad(..., create_graph=True)`` is not available for the ops involved, it raises
    NotImplementedError."""
    return jacfwd(jacrev(func, argnums), argnums)
