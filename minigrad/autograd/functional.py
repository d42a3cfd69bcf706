"""PyTorch's ``torch.autograd.functional`` where first-order reverse mode is enough: :func:`vjp`,
:func:`jacobian` and :func:`jvp`.

Each takes ``func`` and its ``inputs`` (a Tensor or a tuple of Tensors), calls ``func`` on fresh
requires-grad copies of the inputs (``x.detach().requires_grad_()``, as PyTorch: a tensor the function
captures from outside is not one of its inputs) with recording on, even under ``mg.no_grad()``, and
runs :func:`minigrad.autograd.grad` over the recorded graph. Outputs and results come back detached, in
PyTorch's structures. An output that does not depend on an input gives zeros for it, or an error with
``strict=True`` (PyTorch's messages).

:func:`jvp` is J·v from the Jacobian's rows, one backward per output element: exact, but slower than
PyTorch's double-backward trick for large outputs. Everything that needs a second derivative
(:func:`hessian`, :func:`hvp`, :func:`vhp`, ``create_graph=True``) raises NotImplementedError: it needs a
differentiable backward (double backward), which minigrad does not have. So does
``jacobian(strategy="forward-mode")``: minigrad has no forward-mode AD.
"""

from __future__ import annotations

from typing import Any, Callable

from .. import backend
from ..recording import enable_grad
from ..tensor import Tensor
from .functions import grad

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp"]


def vjp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False) -> tuple:
    """``(func(*inputs), vᵀ·J)``, as ``torch.autograd.functional.vjp``.

    ``v``: one Tensor per output, each of that output's shape (it may be left out only when ``func``
    returns one Tensor with one element: then it is 1). Returns the outputs (detached; a Tensor or a
    tuple, as ``func`` returned) and the vector-Jacobian product, one Tensor per input of its shape and
    dtype (a Tensor or a tuple, as ``inputs`` was given).
    """
    _refuse_create_graph(create_graph, "vjp")
    is_inputs_tuple, inputs, outputs, is_outputs_tuple = _call(func, inputs, "vjp", strict)
    if v is not None:
        _, v = _as_tuple(v, "v", "vjp")
        v = tuple(t.detach() for t in v)
        _validate_v(v, outputs, is_outputs_tuple)
    elif len(outputs) != 1 or outputs[0].numel() != 1:
        raise RuntimeError("The vector v can only be None if the user-provided function returns "
                           "a single Tensor with a single element.")
    grads = _grads(outputs, inputs, v, retain_graph=False)
    for i, g in enumerate(grads):
        if g is None and strict:
            raise RuntimeError(f"The output of the user-provided function is independent of input {i}. "
                               "This is not allowed in strict mode.")
    result = tuple(_zeros_like(x) if g is None else _wrap(g) for g, x in zip(grads, inputs))
    return _unpack(_detached(outputs), is_outputs_tuple), _unpack(result, is_inputs_tuple)


def jvp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False) -> tuple:
    """``(func(*inputs), J·v)``, as ``torch.autograd.functional.jvp``.

    ``v``: one Tensor per input, each of that input's shape (it may be left out only when there is one
    input with one element: then it is 1). Returns the outputs (detached) and the Jacobian-vector
    product, one Tensor per output of its shape and dtype (each a Tensor or a tuple, as ``func``
    returned). Computed from the rows of J (one backward per output element), not with PyTorch's
    double-backward trick: exact, but slower for outputs with many elements.
    """
    _refuse_create_graph(create_graph, "jvp")
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
    inputs = _requires_grad_copies(inputs)
    if v is not None:
        _, v = _as_tuple(v, "v", "jvp")
        v = tuple(t.detach() for t in v)
        _validate_v(v, inputs, is_inputs_tuple)
    elif len(inputs) != 1 or inputs[0].numel() != 1:
        raise RuntimeError("The vector v can only be None if the input to the user-provided function is "
                           "a single Tensor with a single element.")
    outputs, is_outputs_tuple = _outputs(func, inputs, "jvp", strict)
    vs = [t.data for t in v] if v is not None else [backend.array_module(inputs[0].data).ones_like(inputs[0].data)]
    used = [False] * len(inputs)     # input j reaches some output
    unreached = []                   # outputs that no input reaches
    result = []
    for i, out in enumerate(outputs):
        flat = backend.array_module(out.data).zeros(out.numel(), dtype=out.dtype)
        reached = False
        for k, rows in _rows(out, inputs):
            for j, row in enumerate(rows):
                if row is not None:
                    reached = used[j] = True
                    flat[k] += (row * vs[j]).sum()
        if not reached and out.numel():
            unreached.append(i)
        result.append(_wrap(flat.reshape(out.shape)))
    if strict:   # PyTorch's order: an input no output depends on, then an output no input reaches
        for j, reached in enumerate(used):
            if not reached:
                raise RuntimeError(f"The output of the user-provided function is independent of input {j}. "
                                   "This is not allowed in strict mode.")
        for i in unreached:
            raise RuntimeError(f"The gradient with respect to the input is independent of entry {i} in the "
                               "grad_outputs when using the double backward trick to compute forward mode "
                               "gradients. This is not allowed in strict mode.")
    return _unpack(_detached(outputs), is_outputs_tuple), _unpack(tuple(result), is_outputs_tuple)


def jacobian(func: Callable, inputs: Any, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode") -> Any:
    """The Jacobian of ``func`` at ``inputs``, as ``torch.autograd.functional.jacobian``.

    For output ``o`` and input ``x`` the block has shape ``o.shape + x.shape`` and ``x``'s dtype;
    ``J[i][j]`` is output i by input j when both are tuples, a tuple of blocks when one is, one Tensor
    when neither is. Computed one output element at a time (one backward each); ``vectorize=True``
    gives the same result the same way (as in PyTorch, it cannot be combined with ``strict=True``).
    ``strategy="forward-mode"`` raises NotImplementedError: minigrad has reverse mode only.
    """
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
                             'function has more outputs than inputs, "forward-mode" tends to be more performant. '
                             'Otherwise, prefer to use "reverse-mode".')
    if strategy == "forward-mode":
        raise NotImplementedError('jacobian: strategy="forward-mode" is not supported: minigrad has reverse-mode '
                                  'autograd only; strategy="reverse-mode" (the default) gives the same Jacobian')
    _refuse_create_graph(create_graph, "jacobian")
    if vectorize and strict:
        raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and `vectorized=True` are not "
                           "supported together. Please either set `strict=False` or `vectorize=False`.")
    is_inputs_tuple, inputs, outputs, is_outputs_tuple = _call(func, inputs, "jacobian", strict)
    by_output = []
    for i, out in enumerate(outputs):
        blocks = [backend.array_module(x.data).zeros((out.numel(),) + x.shape, dtype=x.dtype) for x in inputs]
        for k, rows in _rows(out, inputs):
            for j, row in enumerate(rows):
                if row is not None:
                    blocks[j][k] = row
                elif strict:
                    raise RuntimeError(f"Output {i} of the user-provided function is independent of input {j}. "
                                       "This is not allowed in strict mode.")
        by_output.append(tuple(_wrap(block.reshape(out.shape + x.shape)) for block, x in zip(blocks, inputs)))
    result = tuple(by_output)
    if not is_inputs_tuple:
        result = tuple(blocks[0] for blocks in result)
    return result if is_outputs_tuple else result[0]


def hessian(func: Callable, inputs: Any, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode") -> Any:
    """Not supported: a Hessian needs double backward (see the module's docstring)."""
    raise _second_derivative("hessian")


def hvp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False) -> tuple:
    """Not supported: a Hessian-vector product needs double backward (see the module's docstring)."""
    raise _second_derivative("hvp")


def vhp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False) -> tuple:
    """Not supported: a vector-Hessian product needs double backward (see the module's docstring)."""
    raise _second_derivative("vhp")


# --- helpers: PyTorch's input/output conventions ------------------------------------------------------------------


def _second_derivative(name: str) -> NotImplementedError:
    return NotImplementedError(
        f"torch.autograd.functional.{name} is not supported by minigrad: second derivatives need double backward "
        "(a differentiable backward), which minigrad does not have; jacobian, vjp and jvp (first derivatives) work")


def _refuse_create_graph(create_graph: Any, name: str) -> None:
    if create_graph:
        raise NotImplementedError(
            f"{name}: create_graph=True (a differentiable result, for second derivatives) is not supported: second "
            "derivatives need double backward, which minigrad does not have; leave create_graph=False")


def _as_tuple(value: Any, what: str, name: str) -> tuple[bool, tuple]:
    """(whether ``value`` was a tuple, ``value`` as a tuple of Tensors); PyTorch's TypeError otherwise."""
    is_tuple = isinstance(value, tuple)
    values = value if is_tuple else (value,)
    for i, t in enumerate(values):
        if not isinstance(t, Tensor):
            where = f"the value at index {i} has type {type(t)}" if is_tuple else f"the given {what} has type {type(t)}"
            raise TypeError(f"The {what} given to {name} must be either a Tensor or a tuple of Tensors but {where}.")
    return is_tuple, values


def _requires_grad_copies(inputs: tuple) -> tuple:
    """New leaf Tensors on the same arrays that require grad (PyTorch's ``_grad_preprocess``)."""
    return tuple(x.detach().requires_grad_(True) for x in inputs)


def _outputs(func: Callable, inputs: tuple, name: str, strict: bool) -> tuple[tuple, bool]:
    """``func(*inputs)`` recorded (even under no_grad), as (tuple of outputs, whether it returned a tuple)."""
    with enable_grad():
        result = func(*inputs)
    is_tuple, outputs = _as_tuple(result, "outputs of the user-provided function", name)
    if strict:
        for i, out in enumerate(outputs):
            if not out.requires_grad:
                raise RuntimeError(f"Output {i} of the user-provided function does not require gradients. The "
                                   "outputs must be computed in a differentiable manner from the input when running "
                                   "in strict mode.")
    return outputs, is_tuple


def _call(func: Callable, inputs: Any, name: str, strict: bool) -> tuple[bool, tuple, tuple, bool]:
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", name)
    inputs = _requires_grad_copies(inputs)
    outputs, is_outputs_tuple = _outputs(func, inputs, name, strict)
    return is_inputs_tuple, inputs, outputs, is_outputs_tuple


def _validate_v(v: tuple, other: tuple, is_other_tuple: bool) -> None:
    """``v`` has one Tensor per entry of ``other``, each of its shape (PyTorch's messages)."""
    if len(other) != len(v):
        if is_other_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(other)} but got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for i, (el_v, el_other) in enumerate(zip(v, other)):
        if el_v.shape != el_other.shape:
            prefix = f"Entry {i} in " if is_other_tuple else ""
            raise RuntimeError(f"{prefix}v has invalid size: should be {tuple(el_other.shape)} but got "
                               f"{tuple(el_v.shape)}.")


def _grads(outputs: tuple, inputs: tuple, grad_outputs: Any, retain_graph: bool) -> tuple:
    """One gradient array (or None where no output reaches it) per input; outputs that do not require
    grad are left out, as PyTorch's ``_autograd_grad`` does."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    kept = [(out, g) for out, g in zip(outputs, grad_outputs) if out.requires_grad]
    if not kept:
        return (None,) * len(inputs)
    grads = grad([out for out, _ in kept], list(inputs), [g for _, g in kept], retain_graph=retain_graph,
                 allow_unused=True)
    return tuple(None if g is None else g.data for g in grads)


def _rows(out: Tensor, inputs: tuple) -> Any:
    """For each element k of ``out`` (flattened): (k, d out[k] / d input, an array or None per input)."""
    n = out.numel()
    if not out.requires_grad:
        for k in range(n):
            yield k, (None,) * len(inputs)
        return
    xp = backend.array_module(out.data)
    for k in range(n):
        one_hot = xp.zeros(n, dtype=out.dtype)
        one_hot[k] = 1
        yield k, _grads((out,), inputs, (one_hot.reshape(out.shape),), retain_graph=True)


def _wrap(array: Any) -> Tensor:
    return Tensor._make(array, False, None, 0)


def _zeros_like(x: Tensor) -> Tensor:
    return _wrap(backend.array_module(x.data).zeros_like(x.data))


def _detached(tensors: tuple) -> tuple:
    return tuple(t.detach() for t in tensors)


def _unpack(values: tuple, is_tuple: bool) -> Any:
    return values if is_tuple else values[0]
