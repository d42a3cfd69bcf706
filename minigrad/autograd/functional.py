"""PyTorch's ``torch.autograd.functional``: :func:`vjp`, :func:`jacobian`, :func:`jvp`, :func:`hessian`,
:func:`hvp` and :func:`vhp`.

Each takes ``func`` and its ``inputs`` (a Tensor or a tuple of Tensors), calls ``func`` on fresh
requires-grad copies of the inputs (``x.detach().requires_grad_()``, as PyTorch: a tensor the function
captures from outside is not one of its inputs) with recording on, even under ``mg.no_grad()``, and
runs :func:`minigrad.autograd.grad` over the recorded graph. Outputs and results come back detached, in
PyTorch's structures. An output that does not depend on an input gives zeros for it, or an error with
``strict=True`` (PyTorch's checks, in its order and with its messages: ``_check_requires_grad`` and
``_fill_in_zeros`` below are its helpers; with ``create_graph=True`` a result without a graph raises too).

With ``create_graph=True`` an input that requires grad is passed on as a view of itself instead (PyTorch's
``view_as``), and the results keep their graph, so they can be differentiated again w.r.t. the original
inputs (higher-order gradients, :mod:`minigrad.higher_order`). :func:`hessian` is the Jacobian of the gradient;
:func:`vhp` and :func:`hvp` differentiate the gradient once more along ``v`` (the Hessian is symmetric for
the twice continuously differentiable functions these are meant for, so ``hvp`` is ``vhp``'s product).

:func:`jvp` uses PyTorch's double-backward trick (two backward walks) for real inputs and outputs, where every
op involved has a higher-order rule (with ``strict=True`` too: its checks look at the trick's steps); otherwise
(complex, an op without one) J·v from the
Jacobian's rows, one backward per output element (two for a complex one, whose rows give ∂y/∂z and ∂y/∂z*):
exact, but slower for large outputs.
``jacobian(strategy="forward-mode")`` (PyTorch's limits: ``vectorize=True``, no ``create_graph`` or ``strict``)
gives the reverse-mode Jacobian in the outputs' dtypes, as PyTorch's forward mode does.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable

from .. import backend
from ..recording import record_grad
from ..tensor import Tensor
from .functions import create_graph_walk, grad

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp"]


def vjp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False) -> tuple:
    """``(func(*inputs), vᵀ·J)``, as ``torch.autograd.functional.vjp``.

    ``v``: one Tensor per output, each of that output's shape (it may be left out only when ``func``
    returns one Tensor with one element: then it is 1). Returns the outputs (detached; a Tensor or a
    tuple, as ``func`` returned) and the vector-Jacobian product, one Tensor per input of its shape and
    dtype (a Tensor or a tuple, as ``inputs`` was given).
    """
    is_inputs_tuple, inputs, outputs, is_outputs_tuple = _call(func, inputs, "vjp", strict, create_graph)
    if v is not None:
        _, v = _as_tuple(v, "v", "vjp")
        v = _requires_grad_copies(v, create_graph, need_graph=False)
        _validate_v(v, outputs, is_outputs_tuple)
    elif len(outputs) != 1 or outputs[0].numel() != 1:
        raise RuntimeError("The vector v can only be None if the user-provided function returns "
                           "a single Tensor with a single element.")
    grads = _grads(outputs, inputs, v, retain_graph=create_graph, create_graph=create_graph)
    result = _fill_in_zeros(grads, inputs, strict, create_graph, "back")
    return _unpack(_kept(outputs, create_graph), is_outputs_tuple), _unpack(result, is_inputs_tuple)


def jvp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False) -> tuple:
    """``(func(*inputs), J·v)``, as ``torch.autograd.functional.jvp``.

    ``v``: one Tensor per input, each of that input's shape (it may be left out only when there is one
    input with one element: then it is 1). Returns the outputs (detached) and the Jacobian-vector
    product, one Tensor per output of its shape and dtype (each a Tensor or a tuple, as ``func``
    returned). Computed by PyTorch's double-backward trick where it can be (see the module docstring), else
    from the rows of J (one backward per output element).
    """
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
    inputs = _requires_grad_copies(inputs, create_graph)
    if v is not None:
        _, v = _as_tuple(v, "v", "jvp")
        v = _requires_grad_copies(v, create_graph, need_graph=False)
        _validate_v(v, inputs, is_inputs_tuple)
    elif len(inputs) != 1 or inputs[0].numel() != 1:
        raise RuntimeError("The vector v can only be None if the input to the user-provided function is "
                           "a single Tensor with a single element.")
    outputs, is_outputs_tuple = _outputs(func, inputs, "jvp", strict)
    for i, out in enumerate(outputs):   # PyTorch's double-backward trick needs a zero like it that requires grad
        if out.dtype.kind not in "fc":
            raise RuntimeError(f"jvp: Only Tensors of floating point and complex dtype can require gradients (as "
                               f"PyTorch's double-backward trick asks of a zero like each output): output {i} has "
                               f"dtype {out.dtype}")
    if create_graph:
        return _jvp_with_graph(outputs, is_outputs_tuple, inputs, v, strict)
    products = None
    if all(t.dtype.kind == "f" for t in inputs + outputs) and \
            all(vi.dtype == x.dtype for vi, x in zip(v or (), inputs)):
        # PyTorch's double-backward trick where every op has a higher-order rule: a NaN or inf derivative then
        # stays in its own elements (J's rows would spread it: 0 * NaN) and ops run under no_grad count for nothing
        try:
            with record_grad():
                products = _detached(_jvp_with_graph(outputs, True, inputs, v, strict, create_graph=False)[1])
        except NotImplementedError:   # an op without one: from the rows of J
            pass
    if products is None:
        products = _jvp_by_rows(outputs, inputs, v, strict)
    return _unpack(_detached(outputs), is_outputs_tuple), _unpack(products, is_outputs_tuple)


def _jvp_by_rows(outputs: tuple, inputs: tuple, v: tuple | None, strict: bool) -> tuple:
    """J·v, one Tensor per output of its shape and dtype, from the rows of J: one backward per output element
    (two for a complex output, whose rows give ∂y/∂z and ∂y/∂z*), for what the double-backward trick does not
    take (complex values, ops without a higher-order rule). ``v``: one Tensor per input (None: 1 for a single
    one-element input)."""
    for x, vi in zip(inputs, v or ()):   # PyTorch's double-backward trick refuses these as grad_outputs
        if x.is_complex() != vi.is_complex():
            raise RuntimeError(f"jvp: for complex tensors, both v and the input must be complex or both real (as "
                               f"in PyTorch): v has dtype {vi.dtype} and the input {x.dtype}")
    vs = [t.data for t in v] if v is not None else [backend.array_module(inputs[0].data).ones_like(inputs[0].data)]
    used = [False] * len(inputs)     # input j reaches some output
    unreached = []                   # outputs that no input reaches
    result = []
    for i, out in enumerate(outputs):
        flat = backend.array_module(out.data).zeros(out.numel(), dtype=out.dtype)
        reached = False
        imaginary = _rows(out, inputs, 1j) if out.is_complex() else None   # the rows for grad_output i
        for k, rows in _rows(out, inputs):
            rows_i = next(imaginary)[1] if imaginary is not None else (None,) * len(inputs)
            for j, (row, row_i) in enumerate(zip(rows, rows_i)):
                if row is not None:
                    reached = used[j] = True
                    flat[k] += _jvp_term(row, row_i, vs[j], out.is_complex())
        if not reached and out.numel():
            unreached.append(i)
        result.append(_wrap(flat.reshape(out.shape)))
    if strict:   # PyTorch's order: an input no output depends on, then an output no input reaches
        for j, reached in enumerate(used):
            if not reached:
                raise RuntimeError(_INDEPENDENT["back"].format(i=j))
        for i in unreached:
            raise RuntimeError(_INDEPENDENT["back_trick"].format(i=i))
    return tuple(result)


def jacobian(func: Callable, inputs: Any, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode") -> Any:
    """The Jacobian of ``func`` at ``inputs``, as ``torch.autograd.functional.jacobian``.

    For output ``o`` and input ``x`` the block has shape ``o.shape + x.shape`` and ``x``'s dtype;
    ``J[i][j]`` is output i by input j when both are tuples, a tuple of blocks when one is, one Tensor
    when neither is. Computed one output element at a time (one backward each); ``vectorize=True``
    gives the same result the same way (as in PyTorch, it cannot be combined with ``strict=True``).
    ``strategy="forward-mode"`` (with ``vectorize=True``, as PyTorch requires) gives the same Jacobian in each
    output's dtype; complex inputs or outputs raise NotImplementedError there.
    """
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
                             'function has more outputs than inputs, "forward-mode" tends to be more performant. '
                             'Otherwise, prefer to use "reverse-mode".')
    forward = strategy == "forward-mode"
    if forward:
        _check_forward_mode(create_graph, strict, vectorize)
    is_inputs_tuple, inputs, outputs, is_outputs_tuple = _call(func, inputs, "jacobian", strict, create_graph)
    if vectorize and strict:   # after calling func and checking its outputs, as PyTorch
        raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and `vectorized=True` are not "
                           "supported together. Please either set `strict=False` or `vectorize=False`.")
    complex_out = next((out for out in outputs if out.is_complex()), None)
    if complex_out is not None and not forward:   # its rows would be conjugate-convention gradients, not J
        raise RuntimeError(f"jacobian: grad can be implicitly created only for real scalar outputs but got "
                           f"{complex_out.dtype} (as PyTorch's: differentiate mg.view_as_real(out) instead; a "
                           "hessian's gradient of complex inputs is complex too)")
    if create_graph:
        result = tuple(_jacobian_rows_with_graph(i, out, inputs, strict) for i, out in enumerate(outputs))
        if not is_inputs_tuple:
            result = tuple(blocks[0] for blocks in result)
        return result if is_outputs_tuple else result[0]
    if forward and any(t.is_complex() for t in inputs + outputs):
        raise NotImplementedError('jacobian: strategy="forward-mode" with complex inputs or outputs is not supported '
                                  '(its Jacobian is not the conjugate-free reverse-mode one); use "reverse-mode"')
    by_output = []
    for i, out in enumerate(outputs):
        blocks = [backend.array_module(x.data).zeros((out.numel(),) + x.shape, dtype=out.dtype if forward else x.dtype)
                  for x in inputs]   # forward mode: the output's dtype, as PyTorch
        for k, rows in _rows(out, inputs):
            for j, row in enumerate(rows):
                if row is not None:
                    blocks[j][k] = row
                elif strict:
                    raise RuntimeError(f"Output {i} of the user-provided function is independent of input {j}. "
                                       "This is not allowed in strict mode.")
        by_output.append(tuple(_wrap(block.reshape(out.shape + x.shape)) for block, x in zip(blocks, inputs)))
    result = tuple(by_output)
    if forward and is_inputs_tuple:   # PyTorch's forward mode gives lists (by output, then by input) here
        result = [list(blocks) for blocks in result]
        return result if is_outputs_tuple else result[0]
    if not is_inputs_tuple:
        result = tuple(blocks[0] for blocks in result)
    return result if is_outputs_tuple else result[0]


def hessian(func: Callable, inputs: Any, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode") -> Any:
    """The Hessian of a scalar ``func`` at ``inputs``, as ``torch.autograd.functional.hessian``.

    ``func`` returns one Tensor with one element. For inputs ``x_i`` and ``x_j`` the block ``H[i][j]`` has
    shape ``x_i.shape + x_j.shape``; a tuple of tuples of blocks when ``inputs`` is a tuple, one Tensor
    when it is a Tensor. The Jacobian of the gradient (the gradient computed with ``create_graph=True``).
    """
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def single_output(*inp: Tensor) -> Tensor:
        out = func(*inp)
        is_out_tuple, t_out = _as_tuple(out, "outputs of the user-provided function", "hessian")
        for i, t in enumerate(t_out if strict else ()):
            if not t.requires_grad:
                raise RuntimeError(f"Output {i} of the user-provided function does not require gradients. The "
                                   "outputs must be computed in a differentiable manner from the input when running "
                                   "in strict mode.")
        if is_out_tuple or not isinstance(out, Tensor):
            raise RuntimeError("The function given to hessian should return a single Tensor")
        if out.numel() != 1:
            raise RuntimeError("The Tensor returned by the function given to hessian should contain a single "
                               "element")
        return out.reshape(())

    def gradient(*inp: Tensor) -> tuple:
        jac = jacobian(single_output, inp, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
        return jac

    result = jacobian(gradient, inputs, create_graph=create_graph, strict=strict, vectorize=vectorize,
                      strategy=outer_jacobian_strategy)
    return result if is_inputs_tuple else result[0][0]   # one input: the one block of a 1-by-1 tuple


def _check_forward_mode(create_graph: bool, strict: bool, vectorize: bool) -> None:
    """PyTorch's limits on ``strategy="forward-mode"``, in its order and with its messages. Within them the
    Jacobian is the reverse-mode one (the same numbers), in the outputs' dtypes as PyTorch's forward mode."""
    if create_graph:
        raise NotImplementedError("torch.autograd.functional.jacobian: `create_graph=True` and "
                                  '`strategy="forward-mode"` are not supported together (yet). Please either set '
                                  '`create_graph=False` or `strategy="reverse-mode"`.')
    if strict:
        raise RuntimeError('torch.autograd.functional.jacobian: `strict=True` and `strategy="forward-mode"` are not '
                           'supported together (yet). Please either set `strict=False` or `strategy="reverse-mode"`.')
    if not vectorize:
        raise NotImplementedError("Computing Jacobian using forward-AD or forward-over-reverse Hessian is only "
                                  "implemented for `vectorize=True`.")


def vhp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False) -> tuple:
    """``(func(*inputs), vᵀ·H)`` for a scalar ``func``, as ``torch.autograd.functional.vhp``.

    ``v``: one Tensor per input, of its shape (it may be left out only for one input with one element).
    Returns the output (detached unless ``create_graph``) and one Tensor per input of its shape.
    """
    return _second_order(func, inputs, v, create_graph, strict, "vhp")


def hvp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False) -> tuple:
    """``(func(*inputs), H·v)`` for a scalar ``func``, as ``torch.autograd.functional.hvp``.

    Shapes as :func:`vhp`. The Hessian of a twice continuously differentiable function is symmetric, so
    H·v is computed as (vᵀ·H)ᵀ, one backward fewer than PyTorch's double-backward trick (used with ``strict=True``,
    whose checks look at its steps).
    """
    return _second_order(func, inputs, v, create_graph, strict, "hvp")


def _second_order(func: Callable, inputs: Any, v: Any, create_graph: bool, strict: bool, name: str) -> tuple:
    """vhp and hvp: the gradient with its graph, then its vector-Jacobian product with ``v``."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", name)
    inputs = _requires_grad_copies(inputs, create_graph)
    if v is not None:
        _, v = _as_tuple(v, "v", name)
        v = _requires_grad_copies(v, create_graph, need_graph=False)
        _validate_v(v, inputs, is_inputs_tuple)
    elif len(inputs) != 1 or inputs[0].numel() != 1:
        raise RuntimeError("The vector v can only be None if the input to the user-provided function is a single "
                           "Tensor with a single element.")
    outputs, is_outputs_tuple = _outputs(func, inputs, name, strict)
    if is_outputs_tuple or len(outputs) != 1:
        raise RuntimeError(f"The function given to {name} should return a single Tensor")
    if outputs[0].numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {name} should contain a single element")
    first = _grads(outputs, inputs, None, retain_graph=True, create_graph=True)
    _check_requires_grad(first, "jacobian", strict)
    if name == "hvp" and strict:
        # PyTorch's double-backward trick, for its strict checks: the Hessian applied to a dummy u that requires
        # grad (linear in u), then differentiated w.r.t. u along v
        dummies = tuple(_zeros_like(x).requires_grad_(True) for x in inputs)
        double_back = _grads(first, inputs, dummies, retain_graph=True, create_graph=True)
        second = _grads(double_back, dummies, v, retain_graph=create_graph, create_graph=create_graph)
        stage = "double_back_trick"
    else:   # vᵀ·H (also H·v: the Hessian is symmetric), one backward fewer
        second = _grads(first, inputs, v, retain_graph=create_graph, create_graph=create_graph)
        stage = "double_back"
    result = _fill_in_zeros(second, inputs, strict, create_graph, stage)
    return _unpack(_kept(outputs, create_graph), False), _unpack(result, is_inputs_tuple)


# --- helpers: PyTorch's input/output conventions ------------------------------------------------------------------


def _as_tuple(value: Any, what: str, name: str) -> tuple[bool, tuple]:
    """(whether ``value`` was a tuple, ``value`` as a tuple of Tensors); PyTorch's TypeError otherwise."""
    is_tuple = isinstance(value, tuple)
    values = value if is_tuple else (value,)
    for i, t in enumerate(values):
        if not isinstance(t, Tensor):
            where = f"the value at index {i} has type {type(t)}" if is_tuple else f"the given {what} has type {type(t)}"
            raise TypeError(f"The {what} given to {name} must be either a Tensor or a tuple of Tensors but {where}.")
    return is_tuple, values


def _requires_grad_copies(inputs: tuple, create_graph: bool = False, need_graph: bool = True) -> tuple:
    """New leaf Tensors on the same arrays that require grad (PyTorch's ``_grad_preprocess``); with
    ``create_graph``, an input that requires grad becomes a view of itself, so results keep their graph to it.
    ``need_graph=False`` (the vectors ``v``): the others are plain detached tensors."""
    if create_graph:
        view_of = create_graph_walk().view_of
        with record_grad():   # also under no_grad, as PyTorch's (else the view had no graph and the results were 0)
            return tuple(view_of(x) if x.requires_grad else x.detach().requires_grad_(need_graph) for x in inputs)
    return tuple(x.detach().requires_grad_(need_graph) for x in inputs)


def _outputs(func: Callable, inputs: tuple, name: str, strict: bool) -> tuple[tuple, bool]:
    """``func(*inputs)`` recorded (even under no_grad), as (tuple of outputs, whether it returned a tuple)."""
    with record_grad():
        result = func(*inputs)
    is_tuple, outputs = _as_tuple(result, "outputs of the user-provided function", name)
    if strict:
        for i, out in enumerate(outputs):
            if not out.requires_grad:
                raise RuntimeError(f"Output {i} of the user-provided function does not require gradients. The "
                                   "outputs must be computed in a differentiable manner from the input when running "
                                   "in strict mode.")
    return outputs, is_tuple


def _call(func: Callable, inputs: Any, name: str, strict: bool, create_graph: bool = False
          ) -> tuple[bool, tuple, tuple, bool]:
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", name)
    inputs = _requires_grad_copies(inputs, create_graph)
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


# PyTorch's messages for a missing gradient in strict mode, by the backward pass that found it
_INDEPENDENT = {
    "back": "The output of the user-provided function is independent of input {i}. This is not allowed in strict "
            "mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the grad_outputs when using "
                  "the double backward trick to compute forward mode gradients. This is not allowed in strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. This is not allowed in "
                   "strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry {i} in the grad_jacobian. "
                         "This is not allowed in strict mode as it prevents from using the double backward trick to "
                         "replace forward mode AD.",
}


def _check_requires_grad(tensors: tuple, kind: str, strict: bool) -> None:
    """PyTorch's ``_check_requires_grad``: with ``strict``, each of ``tensors`` (the gradients of the inputs or the
    first derivatives of a hessian, vhp or hvp) must exist and require grad; its messages."""
    if not strict:
        return
    for i, t in enumerate(tensors):
        if t is None:
            raise RuntimeError(_INDEPENDENT["back"].format(i=i))
        if not t.requires_grad:
            if kind == "jacobian":
                raise RuntimeError("While computing the hessian, found that the jacobian of the user-provided function "
                                   f"with respect to input {i} is independent of the input. This is not allowed in "
                                   "strict mode. You should ensure that your function is twice differentiable and "
                                   "that the jacobian depends on the inputs (this would be violated by a linear "
                                   "function for example).")
            raise RuntimeError(f"The gradient with respect to input {i} is independent of the inputs of the "
                               "user-provided function. This is not allowed in strict mode.")


def _without_graph(what: str, i: int) -> str:
    """PyTorch's strict-mode message for a ``what`` ("jacobian" or "hessian") result without a graph under
    ``create_graph=True``."""
    return (f"The {what} of the user-provided function is independent of input {i}. This is not allowed in strict "
            "mode when create_graph=True.")


def _fill_in_zeros(grads: tuple, refs: tuple, strict: bool, create_graph: bool, stage: str) -> tuple:
    """PyTorch's ``_fill_in_zeros``: zeros like ``refs[i]`` where ``grads[i]`` is None; with ``strict`` a None
    raises, and so does (with ``create_graph``) a result without a graph, with the message of the ``stage``."""
    result = []
    for i, (g, ref) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(_INDEPENDENT[stage].format(i=i))
            g = _zeros_like(ref)
        elif strict and create_graph and not g.requires_grad:
            raise RuntimeError(_without_graph("hessian" if stage.startswith("double") else "jacobian", i))
        result.append(_wrap(g))
    return tuple(result)


def _grads(outputs: tuple, inputs: tuple, grad_outputs: Any, retain_graph: bool, create_graph: bool = False) -> tuple:
    """One gradient array (a Tensor with its graph, with ``create_graph``) or None where no output reaches it,
    per input; outputs that do not require grad are left out, as PyTorch's ``_autograd_grad`` does."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    kept = [(out, g) for out, g in zip(outputs, grad_outputs) if out is not None and out.requires_grad]
    if not kept:
        return (None,) * len(inputs)
    with record_grad() if create_graph else contextlib.nullcontext():   # PyTorch's: grad mode on for create_graph
        grads = grad([out for out, _ in kept], list(inputs), [g for _, g in kept], retain_graph=retain_graph,
                     create_graph=create_graph, allow_unused=True)
    return grads if create_graph else tuple(None if g is None else g.data for g in grads)


def _jacobian_rows_with_graph(i: int, out: Tensor, inputs: tuple, strict: bool) -> tuple:
    """``jacobian(create_graph=True)``'s blocks for output ``i``: its rows (gradients with their graph) stacked."""
    stack = create_graph_walk().stack_tensors
    n = out.numel()
    rows: list = [[] for _ in inputs]
    xp = backend.array_module(out.data)
    for k in range(n):
        one_hot = xp.zeros(n, dtype=out.dtype)
        one_hot[k] = 1
        grads = _grads((out,), inputs, (one_hot.reshape(out.shape),), retain_graph=True, create_graph=True)
        for j, (g, x) in enumerate(zip(grads, inputs)):
            if g is not None and strict and not g.requires_grad:   # PyTorch's message names the output's index
                raise RuntimeError(_without_graph("jacobian", i))
            if g is None:
                if strict:
                    raise RuntimeError(f"Output {i} of the user-provided function is independent of input {j}. "
                                       "This is not allowed in strict mode.")
                g = _zeros_like(x)
            rows[j].append(g)
    with record_grad():   # the blocks keep the rows' graph, also under no_grad
        return tuple((stack(r, dim=0) if r else _wrap(backend.array_module(x.data).zeros((0,) + x.shape, x.dtype)))
                     .reshape(tuple(out.shape) + tuple(x.shape)) for r, x in zip(rows, inputs))


def _jvp_with_graph(outputs: tuple, is_outputs_tuple: bool, inputs: tuple, v: Any, strict: bool,
                    create_graph: bool = True) -> tuple:
    """``jvp`` by PyTorch's double-backward trick (its strict checks and messages): the vector-Jacobian product with
    a dummy ``u`` that requires grad is linear in ``u``; its gradient w.r.t. ``u`` along ``v`` is J·v (with its
    graph, with ``create_graph``)."""
    dummies = tuple(_wrap(backend.array_module(out.data).zeros_like(out.data)).requires_grad_(True)
                    for out in outputs)
    vjps = _grads(outputs, inputs, dummies, retain_graph=True, create_graph=True)
    _check_requires_grad(vjps, "grad_inputs", strict)
    if v is None:
        v = (_wrap(backend.array_module(inputs[0].data).ones_like(inputs[0].data)),)
    result = _grads(vjps, dummies, v, retain_graph=create_graph, create_graph=create_graph)
    result = _fill_in_zeros(result, outputs, strict, create_graph, "back_trick")
    return _unpack(outputs, is_outputs_tuple), _unpack(result, is_outputs_tuple)


def _rows(out: Tensor, inputs: tuple, scale: complex = 1) -> Any:
    """For each element k of ``out`` (flattened): (k, d out[k] / d input, an array or None per input): the
    gradients for a grad_output of ``scale`` at k (``1j`` for the second row of a complex output)."""
    n = out.numel()
    if not out.requires_grad:
        for k in range(n):
            yield k, (None,) * len(inputs)
        return
    xp = backend.array_module(out.data)
    for k in range(n):
        one_hot = xp.zeros(n, dtype=out.dtype)
        one_hot[k] = scale
        yield k, _grads((out,), inputs, (one_hot.reshape(out.shape),), retain_graph=True)


def _jvp_term(row: Any, row_i: Any, v: Any, complex_out: bool) -> Any:
    """Σ (∂y/∂z · v + ∂y/∂z* · conj(v)) for one output element y and one input z, from its rows in PyTorch's
    convention: the gradient for grad_output g is conj(g)·∂y/∂z* + g·conj(∂y/∂z), so ``row`` (g = 1) and
    ``row_i`` (g = i; None for a real y, where ∂y/∂z* = conj(∂y/∂z)) give both derivatives. Real y and z: Σ row·v."""
    if row_i is None and row.dtype.kind != "c" and v.dtype.kind != "c":
        return (row * v).sum()
    if row_i is None:
        row_i = 0
    by_conj, by_z_conj = (row + 1j * row_i) / 2, (row - 1j * row_i) / 2   # ∂y/∂z*, conj(∂y/∂z)
    term = (by_z_conj.conj() * v + by_conj * v.conj()).sum()
    return term if complex_out else term.real


def _wrap(array: Any) -> Tensor:
    """An array as a Tensor; a Tensor (a gradient with its graph) as it is."""
    return array if isinstance(array, Tensor) else Tensor._make(array, False, None, 0)


def _kept(outputs: tuple, create_graph: bool) -> tuple:
    """The outputs as returned: detached, or with their graph with ``create_graph`` (``_grad_postprocess``)."""
    return outputs if create_graph else _detached(outputs)


def _zeros_like(x: Tensor) -> Tensor:
    return _wrap(backend.array_module(x.data).zeros_like(x.data))


def _detached(tensors: tuple) -> tuple:
    return tuple(t.detach() for t in tensors)


def _unpack(values: tuple, is_tuple: bool) -> Any:
    return values if is_tuple else values[0]
