"""Finite-difference gradient checks in float64."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import numpy

from . import backend
from .tensor import Tensor


class GradcheckError(AssertionError, RuntimeError):
    """The analytic gradient disagrees with central finite differences (a RuntimeError, as PyTorch's
    ``torch.autograd.gradcheck.GradcheckError``, and an AssertionError, as minigrad's first one)."""


def _outputs(result: Any) -> list:
    if isinstance(result, Tensor):
        return [result]
    if isinstance(result, (tuple, list)):
        out = []
        for r in result:
            out.extend(_outputs(r))
        return out
    raise TypeError(f"gradcheck: fn must return a Tensor or a sequence of Tensors, got {type(result).__name__}")


def gradcheck(fn: Callable[..., Any], inputs: Sequence[Any], eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, seed: int = 0, *, raise_exception: bool = True, nondet_tol: float = 0.0,
              check_undefined_grad: bool = True, check_grad_dtypes: bool = False, check_batched_grad: bool = False,
              check_batched_forward_grad: bool = False, check_forward_ad: bool = False,
              check_backward_ad: bool = True, fast_mode: bool = False, masked: bool | None = None) -> bool:
    """Compare ``fn``'s analytic gradients with central differences, in float64.

    ``inputs`` are Tensors (those with ``requires_grad`` are checked; float
    ones are cast to float64 copies, complex ones to complex128) or other values
    passed through. The outputs are reduced to a scalar with fixed random weights
    w (``Σ Re(y · conj(w))``, complex w for a complex output), so one backward
    gives the analytic gradient and two evaluations per input element the
    numeric one (four for a complex input: its real and imaginary parts apart,
    ``dL/dx + i dL/dy``, PyTorch's convention for a complex gradient). Returns
    True or raises :class:`GradcheckError` naming the input and the element with
    the worst error (returns False instead with ``raise_exception=False``, as PyTorch's).

    PyTorch's options: ``check_backward_ad`` (default) checks the backward pass; ``check_forward_ad`` the
    forward-mode derivative (``mg.autograd.forward_ad``), one tangent per input element; ``fast_mode`` checks
    one random direction per input instead of every element (two evaluations per input); ``nondet_tol``: a
    second backward must give the same gradients within it (0: exactly); a backward along zero output gradients
    must give zero (or no) gradients (PyTorch's check that backward multiplies by grad_output; minigrad has no
    undefined gradients, so ``check_undefined_grad`` asks for nothing more); ``check_grad_dtypes``: each gradient
    has its input's dtype; ``check_batched_grad`` / ``check_batched_forward_grad``: gradients along a batch of output
    gradients (``is_grads_batched``) / tangents (``mg.func.vmap`` over ``mg.func.jvp``) equal those taken one
    at a time. ``masked`` concerns sparse inputs only, which minigrad has not: dense inputs check the same.
    """
    if not (check_forward_ad or check_backward_ad):   # PyTorch's AssertionErrors for options that conflict
        raise AssertionError("gradcheck: Expected at least one of check_forward_ad or check_backward_ad to be True")
    if check_batched_grad and not check_backward_ad:
        raise AssertionError("gradcheck: Setting check_batched_grad=True requires check_backward_ad to be True")
    if check_batched_forward_grad and not check_forward_ad:
        raise AssertionError("gradcheck: Setting check_batched_forward_grad=True requires check_forward_ad to be "
                             "True")
    options = _Options(eps, atol, rtol, seed, nondet_tol, check_undefined_grad, check_grad_dtypes, check_batched_grad,
                       check_batched_forward_grad, check_forward_ad, check_backward_ad, fast_mode)
    try:
        return _gradcheck(fn, inputs, options)
    except GradcheckError:
        if raise_exception:
            raise
        return False


class _Options(NamedTuple):
    """gradcheck's tolerances and PyTorch's check_* switches, passed together to the checks."""

    eps: float
    atol: float
    rtol: float
    seed: int
    nondet_tol: float
    check_undefined_grad: bool
    check_grad_dtypes: bool
    check_batched_grad: bool
    check_batched_forward_grad: bool
    check_forward_ad: bool
    check_backward_ad: bool
    fast_mode: bool


def _gradcheck(fn: Callable[..., Any], inputs: Sequence[Any], options: _Options) -> bool:
    """The checks in PyTorch's order: L = Σ Re(w̄ · y) over the outputs y with random weights w, its gradients
    (backward and/or forward mode) against central differences, element by element or (fast mode) along one random
    direction per input; then reentrancy, zero output gradients and the batched checks."""
    atol, rtol = options.atol, options.rtol
    if not callable(fn):
        raise TypeError(f"gradcheck: fn must be callable, got {type(fn).__name__}")
    leaves = _float64_leaves(_input_list(inputs, "gradcheck"))
    checked = _requiring_grad(leaves, "gradcheck")
    rng = numpy.random.default_rng(options.seed)
    first = _outputs(fn(*leaves))
    weights = _output_weights(first, rng)
    analytic = {}
    if options.check_backward_ad:
        analytic = dict(zip(checked, _backward_gradients(first, weights, leaves, checked, options.check_grad_dtypes)))
    fast = options.fast_mode
    directions = {i: _direction(rng, leaves[i]) if fast else None for i in checked}
    numeric = {i: _numeric_gradient(fn, leaves, i, weights, options.eps, directions[i]) for i in checked}

    failures: list = []   # (excess, message) of the worst element of each comparison
    if options.check_backward_ad:
        for i in checked:   # fast mode: the analytic gradient's derivative along the direction
            got = numpy.asarray((numpy.conj(analytic[i]) * directions[i]).real.sum()) if fast else analytic[i]
            failures.append(_worst(got, numeric[i], atol, rtol, f"input {i} (shape {leaves[i].shape})", "analytic",
                                   fast))
        if not any(failures):
            _check_reentrant(fn, leaves, checked, weights, analytic, options)
    if options.check_forward_ad:
        for i in checked:
            got = _forward_gradient(fn, leaves, i, weights, directions[i])
            failures.append(_worst(got, numeric[i], atol, rtol, f"input {i} (shape {leaves[i].shape})",
                                   "forward-mode", fast))
    failure = max((f for f in failures if f), default=None, key=lambda f: f[0])
    if failure is not None:
        raise GradcheckError(failure[1])
    if options.check_backward_ad:   # check_undefined_grad's too: an undefined output gradient is a zero one here
        _check_zero_output_grads(fn, leaves, checked)
    if options.check_batched_grad:
        _check_batched_grad(fn, leaves, checked, rng, atol, rtol)
    if options.check_batched_forward_grad:
        _check_batched_forward_grad(fn, leaves, checked, rng, atol, rtol)
    return True


def _input_list(inputs: Any, what: str) -> list:
    """``inputs`` as a list: a list or tuple, or one Tensor (as torch.autograd.gradcheck takes it); TypeError
    otherwise."""
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    if not isinstance(inputs, (list, tuple)):
        raise TypeError(f"{what}: inputs must be a Tensor or a list or tuple of Tensors, got {type(inputs).__name__}")
    return list(inputs)


def _requiring_grad(inputs: list, what: str) -> list:
    """The indices of the inputs that are Tensors requiring grad (the ones checked); ValueError if none is."""
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError(f"{what}: no input has requires_grad=True")
    return checked


def _float64_leaves(inputs: list) -> list:
    """``inputs`` with each float or complex Tensor copied to float64 (complex128) as a leaf that requires grad
    where it did; other inputs as they are."""
    leaves = []
    for x in inputs:
        if isinstance(x, Tensor) and x.dtype.kind in "fc":
            wide = numpy.complex128 if x.dtype.kind == "c" else numpy.float64
            leaf = Tensor._make(x.data.astype(wide, copy=True), False, None, 0)
            leaf.requires_grad = x.requires_grad
            leaves.append(leaf)
        else:
            leaves.append(x)
    return leaves


def _standard_normal(rng: numpy.random.Generator, shape: tuple, is_complex: bool) -> Any:
    """A host array of standard normal draws (complex: real parts drawn first, then imaginary parts); an array
    also for shape () (NumPy's arithmetic makes a 0-d complex one a scalar, which no element can be written to)."""
    values = rng.standard_normal(shape)
    return numpy.asarray(values + 1j * rng.standard_normal(shape)) if is_complex else values


def _on_device(array: Any, device: Any) -> Any:
    """Host ``array`` moved to ``device`` (as it is on the CPU)."""
    return backend.to_device(array, device) if device != backend.CPU else array


def _constant(array: Any, device: Any) -> Tensor:
    """Host ``array`` as a Tensor on ``device`` that does not require grad."""
    return Tensor._make(_on_device(array, device), False, None, 0)


def _output_weights(outputs: list, rng: numpy.random.Generator) -> list:
    """One random weight array w per output, of its shape and on its device (complex for a complex output); the
    outputs must be float64 or complex128."""
    weights = []
    for y in outputs:
        if y.dtype not in (numpy.float64, numpy.complex128):
            raise GradcheckError(f"gradcheck: an output is {y.dtype}; float64 (complex128) inputs must give float64 "
                                 "or complex128 outputs")
        weights.append(_on_device(_standard_normal(rng, y.shape, y.dtype.kind == "c"), y.device))
    return weights


def _backward_gradients(outputs: list, weights: list, leaves: list, checked: list, check_grad_dtypes: bool) -> list:
    """dL/dx of each checked input as a host array (zeros where no gradient arrives), L = Σ Re(w̄ · y) over the
    outputs that require grad, by one backward."""
    loss = None
    for y, w in zip(outputs, weights):
        if y.requires_grad:
            term = y * Tensor._make(w.conj() if w.dtype.kind == "c" else w, False, None, 0)
            term = (term.real if term.dtype.kind == "c" else term).sum()
            loss = term if loss is None else loss + term
    for i in checked:
        leaves[i].grad = None
    if loss is not None:
        loss.backward()
    for i in checked:
        _check_grad_layout(leaves[i], i, check_grad_dtypes)
    return [numpy.zeros(leaves[i].shape, leaves[i].dtype) if leaves[i].grad is None
            else backend.to_numpy(leaves[i].grad.data) for i in checked]


def _numeric_gradient(fn: Callable[..., Any], leaves: list, i: int, weights: list, eps: float,
                      direction: Any) -> Any:
    """dL/dx of input ``i`` by central differences (``dL/dx + i dL/dy`` for a complex input: a real and an
    imaginary step per element), an array of its shape; with ``direction``, the 0-d derivative along it alone. The
    input's array is perturbed in place (whatever its layout) and restored."""
    data = leaves[i].data

    def outputs() -> list:   # copied: a view of the input changes back
        return [numpy.array(backend.to_numpy(y.data), copy=True) for y in _outputs(fn(*leaves))]

    def central_difference(index: Any, step: Any) -> float:
        original = data[index].copy()
        data[index] = original + step
        plus = outputs()
        data[index] = original - step
        minus = outputs()
        data[index] = original
        # Σ w·(y(x + h) - y(x - h)): summing w·y first lost a small output's change to a large one's rounding
        # (erfcx(-7.1) = 1e22 next to erfcx(1.27) = 0.35 made that element's numeric derivative 0)
        return sum(float(((p - m) * numpy.conj(backend.to_numpy(w))).real.sum())
                   for p, m, w in zip(plus, minus, weights)) / (2 * eps)

    if direction is not None:
        return numpy.asarray(central_difference(..., eps * direction))
    leaf = leaves[i]
    gradient = numpy.zeros(leaf.shape, leaf.dtype)
    steps = (eps, 1j * eps) if leaf.dtype.kind == "c" else (eps,)
    for j in numpy.ndindex(leaf.shape):
        for step in steps:
            gradient[j] += central_difference(j, step) * (step / eps)
    return gradient


def _check_reentrant(fn: Callable[..., Any], leaves: list, checked: list, weights: list, analytic: dict,
                     options: _Options) -> None:
    """PyTorch's reentrancy check: a second backward gives the ``analytic`` gradients within ``nondet_tol``."""
    again = _backward_gradients(_outputs(fn(*leaves)), weights, leaves, checked, options.check_grad_dtypes)
    for i, second in zip(checked, again):
        if not (numpy.abs(second - analytic[i]) <= options.nondet_tol).all():
            raise GradcheckError(f"gradcheck: Backward is not reentrant, i.e., running backward with the same input "
                                 f"and grad_output twice gives different values for input {i}, although the "
                                 f"analytic gradient matches the numeric one. The tolerance for nondeterminism was "
                                 f"{options.nondet_tol}.")


def _direction(rng: numpy.random.Generator, leaf: Tensor) -> Any:
    """A random unit-norm direction of ``leaf``'s shape (complex for a complex leaf), on the host."""
    u = _standard_normal(rng, leaf.shape, leaf.dtype.kind == "c")
    norm = numpy.sqrt((numpy.abs(u) ** 2).sum())
    return u / norm if norm else u


def _worst(got: Any, numeric: Any, atol: float, rtol: float, what: str, kind: str,
           fast: bool) -> tuple | None:
    """(excess, message) for the element of ``got`` farthest outside ``numeric``'s tolerance, or None."""
    error = numpy.abs(got - numeric)
    excess = numpy.asarray(error - (atol + rtol * numpy.abs(numeric)))
    if (excess <= 0).all():   # also fails on NaN, which a `max() > 0` test lets through
        return None
    worst = numpy.unravel_index(int(excess.argmax()), excess.shape)   # argmax picks a NaN first
    size = float(excess[worst]) if excess[worst] == excess[worst] else float("inf")
    where = "along a random direction" if fast else f"at index {tuple(int(k) for k in worst)}"
    return size, (f"gradcheck: {what} disagrees {where}: {kind} {numpy.asarray(got)[worst]:.10g} vs numeric "
                  f"{numpy.asarray(numeric)[worst]:.10g} (abs error {error[worst]:.3g}, atol {atol}, rtol {rtol})")


def _check_grad_layout(leaf: Tensor, i: int, check_dtype: bool) -> None:
    """PyTorch's check_grad_dtypes: the gradient has its input's dtype and device."""
    if not check_dtype or leaf.grad is None:
        return
    if leaf.grad.dtype != leaf.dtype:
        raise GradcheckError(f"gradcheck: Gradient has dtype mismatch: input {i} is {leaf.dtype}, its gradient "
                             f"{leaf.grad.dtype}")
    if leaf.grad.device != leaf.device:
        raise GradcheckError(f"gradcheck: Gradient has device mismatch: input {i} is on {leaf.device}, its gradient "
                             f"on {leaf.grad.device}")


def _weighted_tangents(outputs: list, weights: list) -> float:
    """Σ Re(tangent · conj(w)) over the outputs' forward-mode tangents (none: 0)."""
    from .autograd import forward_ad  # autograd imports this module's package: imported when used

    total = 0.0
    for y, w in zip(outputs, weights):
        tangent = forward_ad.unpack_dual(y).tangent
        if tangent is not None:
            total += float((backend.to_numpy(tangent.data) * numpy.conj(backend.to_numpy(w))).real.sum())
    return total


def _forward_gradient(fn: Callable[..., Any], leaves: list, i: int, weights: list, direction: Any) -> Any:
    """dL/dx of input ``i`` from forward-mode derivatives (``dL/dx + i dL/dy`` for a complex input): one tangent
    per element, or, with ``direction``, the derivative along it alone."""
    from .autograd import forward_ad  # autograd imports this module's package: imported when used

    leaf = leaves[i]

    def along(tangent: Any) -> float:
        args = list(leaves)
        with forward_ad.dual_level():
            args[i] = forward_ad.make_dual(leaf.detach(), _constant(tangent, leaf.device))
            return _weighted_tangents(_outputs(fn(*args)), weights)

    if direction is not None:
        return numpy.asarray(along(direction.astype(leaf.dtype)))
    result = numpy.zeros(leaf.shape, leaf.dtype)
    for j in numpy.ndindex(leaf.shape):
        for step in ((1, 1j) if leaf.dtype.kind == "c" else (1,)):
            tangent = numpy.zeros(leaf.shape, leaf.dtype)
            tangent[j] = step
            result[j] += along(tangent) * step
    return result


def _check_zero_output_grads(fn: Callable[..., Any], leaves: list, checked: list) -> None:
    """A backward along zero output gradients gives zero (or no) gradients: PyTorch's check that backward
    multiplies by grad_output (always made) and its check_undefined_grad (undefined gradients are zeros here)."""
    from .autograd import grad  # autograd imports this module's package: imported when used

    outputs = [y for y in _outputs(fn(*leaves)) if y.requires_grad]
    if not outputs:
        return
    zeros = [Tensor._make(backend.array_module(y.data).zeros(y.shape, y.dtype), False, None, 0) for y in outputs]
    grads = grad(outputs, [leaves[i] for i in checked], zeros, allow_unused=True)
    for i, g in zip(checked, grads):
        if g is not None and not (backend.to_numpy(g.data) == 0).all():
            raise GradcheckError(f"gradcheck: backward not multiplied by grad_output: zero output gradients gave "
                                 f"a nonzero gradient for input {i}")


def _check_batched_grad(fn: Callable[..., Any], leaves: list, checked: list, rng: numpy.random.Generator,
                        atol: float, rtol: float) -> None:
    """PyTorch's check_batched_grad: gradients along a batch of 2 output gradients (``is_grads_batched``) equal
    those taken one at a time."""
    from .autograd import grad  # autograd imports this module's package: imported when used

    outputs = [y for y in _outputs(fn(*leaves)) if y.requires_grad]
    if not outputs:
        return
    wanted = [leaves[i] for i in checked]
    batches = [_constant(_standard_normal(rng, (2, *y.shape), y.dtype.kind == "c"), y.device) for y in outputs]
    batched = grad(outputs, wanted, batches, retain_graph=True, allow_unused=True, materialize_grads=True,
                   is_grads_batched=True)
    for b in range(2):
        single = grad(outputs, wanted, [g[b] for g in batches], retain_graph=True, allow_unused=True,
                      materialize_grads=True)
        for i, many, one in zip(checked, batched, single):
            failure = _worst(backend.to_numpy(many.data)[b], backend.to_numpy(one.data), atol, rtol,
                             f"input {i}'s batched gradient (row {b})", "batched", False)
            if failure is not None:
                raise GradcheckError(failure[1])


def _check_batched_forward_grad(fn: Callable[..., Any], leaves: list, checked: list, rng: numpy.random.Generator,
                                atol: float, rtol: float) -> None:
    """PyTorch's check_batched_forward_grad: for each input, ``mg.func.vmap`` over a forward-mode derivative
    (``forward_ad.make_dual`` of a batch of 2 tangents) gives the tangents taken one at a time."""
    from .autograd import forward_ad  # autograd imports this module's package: imported when used
    from .func import vmap  # func imports this module's package: imported when used

    for i in checked:
        def tangents_of(tangent: Tensor, i: int = i) -> tuple:
            args = list(leaves)
            with forward_ad.dual_level():
                args[i] = forward_ad.make_dual(leaves[i].detach(), tangent)
                outputs = _outputs(fn(*args))
                return tuple(forward_ad.unpack_dual(y).tangent if forward_ad.unpack_dual(y).tangent is not None
                             else y.detach() * 0 for y in outputs)

        x = leaves[i]
        batch = _constant(numpy.stack([_direction(rng, x) for _ in range(2)]).astype(x.dtype), x.device)
        try:
            batched = vmap(tangents_of)(batch)
        except RuntimeError as error:
            raise GradcheckError(f"gradcheck: While computing batched forward gradients of input {i}, got: "
                                 f"{error}") from error
        for b in range(2):
            for k, (many, one) in enumerate(zip(batched, tangents_of(batch[b]))):
                failure = _worst(backend.to_numpy(many.data)[b], backend.to_numpy(one.data), atol, rtol,
                                 f"output {k}'s batched forward gradient along input {i} (row {b})", "batched",
                                 False)
                if failure is not None:
                    raise GradcheckError(failure[1])


def gradgradcheck(fn: Callable[..., Any], inputs: Sequence[Any], grad_outputs: Sequence[Any] | None = None,
                  eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0, *,
                  gen_non_contig_grad_outputs: bool = False, raise_exception: bool = True, nondet_tol: float = 0.0,
                  check_undefined_grad: bool = True, check_grad_dtypes: bool = False,
                  check_batched_grad: bool = False, check_fwd_over_rev: bool = False, check_rev_over_rev: bool = True,
                  fast_mode: bool = False, masked: bool | None = None) -> bool:
    """Check ``fn``'s second derivatives against central differences of its gradient, in float64
    (``torch.autograd.gradgradcheck``).

    The gradient of ``fn``'s outputs (those that require grad) w.r.t. its inputs that require grad is
    computed with ``create_graph=True`` along ``grad_outputs`` (one per such output, of its shape; random
    ones by default), and :func:`gradcheck` checks that gradient as a function of the inputs and of
    ``grad_outputs``. Returns True or raises :class:`GradcheckError` (False with ``raise_exception=False``).
    PyTorch's options: ``check_rev_over_rev`` (default) checks that gradient's backward, ``check_fwd_over_rev``
    its forward-mode derivative; ``gen_non_contig_grad_outputs`` passes the output gradients as non-contiguous
    views; the others go to :func:`gradcheck`.
    """
    from .autograd import grad  # autograd imports this module's package: imported when used

    if not (check_fwd_over_rev or check_rev_over_rev):   # PyTorch's AssertionErrors for options that conflict
        raise AssertionError("gradgradcheck: Expected at least one of check_fwd_over_rev or check_rev_over_rev to be "
                             "True")
    for option, value in (("check_undefined_grad", check_undefined_grad), ("check_batched_grad", check_batched_grad)):
        if value and not check_rev_over_rev:
            raise AssertionError(f"gradgradcheck: Setting {option}=True requires check_rev_over_rev to be True")
    inputs = _input_list(inputs, "gradgradcheck")
    checked = _requiring_grad(inputs, "gradgradcheck")
    if grad_outputs is None:
        rng = numpy.random.default_rng(seed + 1)
        grad_outputs = [_constant(_standard_normal(rng, y.shape, y.dtype.kind == "c"), y.device)
                        for y in _outputs(fn(*inputs)) if y.requires_grad]
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    directions = []
    for g in grad_outputs:
        direction = Tensor._make(g.data if isinstance(g, Tensor) else g, False, None, 0)
        direction.requires_grad = True
        directions.append(direction)
    count = len(inputs)

    def gradient(*args: Any) -> Any:
        xs, gs = args[:count], args[count:]
        if gen_non_contig_grad_outputs:   # the same values, every other element of a wider array
            gs = [g.unsqueeze(-1).expand(*g.shape, 2).contiguous()[..., 0] for g in gs]
        outputs = [y for y in _outputs(fn(*xs)) if y.requires_grad]
        if len(outputs) != len(gs):
            raise ValueError(f"gradgradcheck: {len(gs)} grad_outputs for {len(outputs)} outputs that require grad")
        if not outputs:
            return [x * 0 for x in (xs[i] for i in checked)]
        return list(grad(outputs, [xs[i] for i in checked], list(gs), create_graph=True, allow_unused=True,
                         materialize_grads=True))

    return gradcheck(gradient, (*inputs, *directions), eps=eps, atol=atol, rtol=rtol, seed=seed,
                     raise_exception=raise_exception, nondet_tol=nondet_tol, check_undefined_grad=check_undefined_grad,
                     check_grad_dtypes=check_grad_dtypes, check_batched_grad=check_batched_grad,
                     check_forward_ad=check_fwd_over_rev, check_backward_ad=check_rev_over_rev, fast_mode=fast_mode,
                     masked=masked)
