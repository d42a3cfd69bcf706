"""Structured control flow as PyTorch spells it: ``mg.cond`` (torch.cond) and ``mg.while_loop`` (torch.while_loop).

PyTorch captures both branches, or the loop's condition and body, as graphs (through ``torch.compile``), so
that export keeps the control flow. Eagerly both mean a Python ``if``/``while``, and that is what they are
here: the predicate is read with ``bool()`` (inside an ``mg.compile`` capture that read makes the call run
eagerly, with a ``CompileWarning``, so a replay never takes a frozen branch), the ops the branch or the body
runs are recorded like any others, and gradients flow through the branch taken and every iteration run, as
torch's ``CondAutogradOp``/``WhileLoopAutogradOp`` give.

torch traces the branch not taken too, and its autograd op gives every tensor that branch reads a zero
gradient, not None (an optimizer with momentum or weight decay then moves those parameters, where a Python
``if`` leaves them alone). So here, while grad is recorded, the other branch also runs (under
``fork_rng``: its random draws are undone), its graph is walked for the leaves that require grad, and the
output passes through one op that sends those leaves zeros; its outputs must match the taken branch's in
structure, shape and dtype, as torch requires. Under ``no_grad`` only the taken branch runs. A branch not
taken that changes a tensor in place (a BatchNorm's running statistics in training mode; torch's cond refuses
such mutations) raises ``RuntimeError`` rather than change state a second time: keep state updates out of the
branches.

Checked as torch checks, with torch's error class (``RuntimeError``): a tensor predicate has one element; the
branches, condition and body are callable; operands are (nested tuples, lists, dicts of) tensors, and carried
inputs tensors or ints; an output is never one of the inputs (torch: "return ``x.clone()``"); the condition
gives a boolean scalar; the body returns as many values as it carries, each with the carried value's shape
and dtype.
"""

from __future__ import annotations

from typing import Any, Callable

from .autograd import Function
from .generators import fork_rng
from .recording import is_recording
from .tensor import Tensor
from .versions import INPLACE


def _leaves(tree: Any) -> list:
    """The leaves of nested tuples, lists and dicts (torch's pytree), in order."""
    if isinstance(tree, (tuple, list)):
        return [leaf for item in tree for leaf in _leaves(item)]
    if isinstance(tree, dict):
        return [leaf for item in tree.values() for leaf in _leaves(item)]
    return [tree]


def _refuse_aliases(op: str, outputs: Any, inputs: Any) -> None:
    """torch refuses an output that is one of the inputs (its captured graphs may not alias them)."""
    given = {id(leaf) for leaf in _leaves(inputs) if isinstance(leaf, Tensor)}
    for leaf in _leaves(outputs):
        if isinstance(leaf, Tensor) and id(leaf) in given:
            raise RuntimeError(f"{op}: an output is one of the inputs itself (shape {leaf.shape}); torch's {op} "
                               "refuses input-to-output aliasing: return x.clone() instead of x")


def cond(pred: bool | int | float | Tensor, true_fn: Callable, false_fn: Callable,
         operands: tuple | list = ()) -> Any:
    """``true_fn(*operands)`` if ``pred`` else ``false_fn(*operands)`` (torch.cond).

    ``pred``: a Python bool/number, or a tensor of one element (any shape, read by its truth value, as
    torch reads it). ``operands``: a tuple or list of tensors (nested tuples, lists and dicts of tensors
    allowed). Returns what the branch returns; its outputs may not be the operands themselves.
    """
    if not callable(true_fn) or not callable(false_fn):
        raise RuntimeError("cond: expected both branches (true_fn, false_fn) to be callable, got "
                           f"{type(true_fn).__name__} and {type(false_fn).__name__}")
    if isinstance(pred, (bool, int, float)):   # torch: a Python constant picks its branch, nothing else checked
        return true_fn(*operands) if pred else false_fn(*operands)
    if not isinstance(pred, Tensor):
        raise RuntimeError(f"cond: expected pred to be a bool or a tensor, got {type(pred).__name__}")
    if pred.numel() != 1:
        raise RuntimeError(f"cond: expected pred to be a bool or a single-element tensor, got shape {pred.shape}")
    if not isinstance(operands, (tuple, list)) or not all(isinstance(t, Tensor) for t in _leaves(operands)):
        raise RuntimeError("cond: expected operands to be a tuple or list (possibly nested in dicts, lists, "
                           f"tuples) of tensors only, got {type(operands).__name__} "
                           f"{[type(t).__name__ for t in _leaves(operands)]}")
    taken, other = (true_fn, false_fn) if bool(pred) else (false_fn, true_fn)
    outputs = taken(*operands)
    _refuse_aliases("cond", outputs, operands)
    if not is_recording():
        return outputs
    reads = _leaves_read(other, operands, outputs)
    if not reads:
        return outputs
    return _map_tensors(outputs, lambda t: _ZeroGradients()(t, *reads) if t.dtype.kind in "fc" else t)


class _ZeroGradients(Function):
    """The output itself; its backward also sends zeros to the other inputs (the leaves the branch not taken
    reads), as torch.cond's autograd op does."""

    complex_grad = True   # the gradient passes through unchanged

    def forward(self, output: Any, *leaves: Any) -> Any:
        self.leaf_meta = [(leaf.shape, leaf.dtype) for leaf in leaves]
        return output

    def backward(self, gy: Any) -> tuple:
        return (gy, *[self.xp.zeros(shape, dtype) for shape, dtype in self.leaf_meta])


def _map_tensors(tree: Any, fn: Callable) -> Any:
    if isinstance(tree, (tuple, list)):
        return type(tree)(_map_tensors(item, fn) for item in tree)
    if isinstance(tree, dict):
        return {key: _map_tensors(item, fn) for key, item in tree.items()}
    return fn(tree) if isinstance(tree, Tensor) else tree


def _leaves_read(branch: Callable, operands: Any, taken_outputs: Any) -> list:
    """The leaves requiring grad that ``branch`` (the one not taken) reads: it runs, its random draws undone,
    and its graph is walked back. Its outputs must match the taken branch's (torch traces both and checks)."""
    changes = INPLACE.thread_changes()
    with fork_rng():
        outputs = branch(*operands)
    if INPLACE.thread_changes() != changes:   # running it changed state the taken branch may change too
        raise RuntimeError("cond: the branch not taken changes a tensor in place (a BatchNorm's running statistics "
                           "in training mode, an in-place op on an input or a buffer); torch.cond refuses branches "
                           "that mutate state, and here it would have changed twice: move the update out of the "
                           "branches, or use a Python if")
    taken, other = _leaves(taken_outputs), _leaves(outputs)
    shapes = [(t.shape, t.dtype) if isinstance(t, Tensor) else type(t).__name__ for t in taken]
    other_shapes = [(t.shape, t.dtype) if isinstance(t, Tensor) else type(t).__name__ for t in other]
    if shapes != other_shapes:
        raise RuntimeError(f"cond: the branches must return the same structure, shapes and dtypes, got {shapes} "
                           f"from the branch taken and {other_shapes} from the other")
    found: dict = {}
    seen: set = set()
    stack = []
    for t in other:
        if isinstance(t, Tensor) and t.requires_grad:
            if t._node is None:
                found[id(t)] = t
            else:
                stack.append(t._node)
    while stack:
        for edge in stack.pop().edges:
            if type(edge) is tuple:
                if edge[0] not in seen:
                    seen.add(edge[0])
                    stack.append(edge[0])
            elif edge is not None:
                found[id(edge)] = edge
    return list(found.values())


def _loop_condition(value: Any) -> bool:
    if isinstance(value, bool) or (isinstance(value, Tensor) and value.shape == () and value.dtype == bool):
        return bool(value)
    described = f"a tensor of shape {value.shape} and dtype {value.dtype}" if isinstance(value, Tensor) else value
    raise RuntimeError(f"while_loop: cond_fn must return a boolean scalar tensor or a bool, got {described}")


def while_loop(cond_fn: Callable, body_fn: Callable, carried_inputs: tuple | list) -> tuple | list:
    """``while cond_fn(*vals): vals = body_fn(*vals)``, then ``vals`` (torch.while_loop).

    ``carried_inputs``: a tuple or list of tensors and ints; ``cond_fn`` returns a 0-d bool tensor or a
    bool; ``body_fn`` returns a tuple or list of as many values, each tensor with its carried value's shape
    and dtype, none of them an input itself. A loop that runs no iteration returns clones of the inputs.
    """
    if not callable(cond_fn) or not callable(body_fn):
        raise RuntimeError("while_loop: expected cond_fn and body_fn to be callable")
    if not isinstance(carried_inputs, (tuple, list)):
        raise RuntimeError(f"while_loop: carried_inputs must be a tuple or list, got {type(carried_inputs).__name__}")
    if not all(isinstance(v, (Tensor, int)) for v in _leaves(carried_inputs)):
        raise RuntimeError("while_loop: expected carried_inputs to hold tensors and ints only, got "
                           f"{[type(v).__name__ for v in _leaves(carried_inputs)]}")
    carried = tuple(carried_inputs)
    if not _loop_condition(cond_fn(*carried)):
        return tuple(v.clone() if isinstance(v, Tensor) else v for v in carried)
    while True:
        outputs = body_fn(*carried)
        if not isinstance(outputs, (tuple, list)) or len(outputs) != len(carried):
            got = f"{len(outputs)} values" if isinstance(outputs, (tuple, list)) else type(outputs).__name__
            raise RuntimeError(f"while_loop: body_fn must return a tuple of {len(carried)} values (one per "
                               f"carried input), got {got}")
        for index, (old, new) in enumerate(zip(carried, outputs)):
            if isinstance(old, Tensor) and (not isinstance(new, Tensor) or new.shape != old.shape
                                            or new.dtype != old.dtype):
                got = f"shape {new.shape} {new.dtype}" if isinstance(new, Tensor) else type(new).__name__
                raise RuntimeError(f"while_loop: body_fn's output {index} must keep the carried input's shape "
                                   f"{old.shape} and dtype {old.dtype}, got {got}")
        _refuse_aliases("while_loop", outputs, carried)
        carried = outputs
        if not _loop_condition(cond_fn(*carried)):
            return carried
