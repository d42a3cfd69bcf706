"""Finite-difference gradient checks in float64."""

from __future__ import annotations

from typing import Any, Callable, Sequence

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
              rtol: float = 1e-3, seed: int = 0, *, raise_exception: bool = True) -> bool:
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
    """
    try:
        return _gradcheck(fn, inputs, eps, atol, rtol, seed)
    except GradcheckError:
        if raise_exception:
            raise
        return False


def _gradcheck(fn: Callable[..., Any], inputs: Sequence[Any], eps: float, atol: float, rtol: float,
               seed: int) -> bool:
    if not callable(fn):
        raise TypeError(f"gradcheck: fn must be callable, got {type(fn).__name__}")
    if isinstance(inputs, Tensor):   # one Tensor, as torch.autograd.gradcheck takes it
        inputs = (inputs,)
    if not isinstance(inputs, (list, tuple)):
        raise TypeError(f"gradcheck: inputs must be a Tensor or a list or tuple of Tensors, got "
                        f"{type(inputs).__name__}")
    rng = numpy.random.default_rng(seed)
    leaves = []
    for x in inputs:
        if isinstance(x, Tensor) and x.dtype.kind in "fc":
            wide = numpy.complex128 if x.dtype.kind == "c" else numpy.float64
            leaf = Tensor._make(x.data.astype(wide, copy=True), False, None, 0)
            leaf.requires_grad = x.requires_grad
            leaves.append(leaf)
        else:
            leaves.append(x)
    checked = [i for i, x in enumerate(leaves) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True")

    first = _outputs(fn(*leaves))
    weights = []
    for y in first:
        if y.dtype not in (numpy.float64, numpy.complex128):
            raise GradcheckError(f"gradcheck: an output is {y.dtype}; float64 (complex128) inputs must give float64 "
                                 "or complex128 outputs")
        w = rng.standard_normal(y.shape)
        if y.dtype.kind == "c":
            w = w + 1j * rng.standard_normal(y.shape)
        weights.append(backend.to_device(w, y.device) if y.device != backend.CPU else w)

    def objective() -> list:   # the outputs, copied (a view of the input changes back), weighted after differencing
        return [numpy.array(backend.to_numpy(y.data), copy=True) for y in _outputs(fn(*leaves))]

    def weighted_difference(plus: list, minus: list) -> float:
        # Σ w·(y(x + h) - y(x - h)): summing w·y first lost a small output's change to a large one's rounding
        # (erfcx(-7.1) = 1e22 next to erfcx(1.27) = 0.35 made that element's numeric derivative 0)
        return sum(float(((p - m) * numpy.conj(backend.to_numpy(w))).real.sum())
                   for p, m, w in zip(plus, minus, weights))

    loss = None
    for y, w in zip(first, weights):
        if y.requires_grad:
            term = y * Tensor._make(w.conj() if w.dtype.kind == "c" else w, False, None, 0)
            term = (term.real if term.dtype.kind == "c" else term).sum()
            loss = term if loss is None else loss + term
    for i in checked:
        leaves[i].grad = None
    if loss is not None:
        loss.backward()

    failure = None   # (excess, input index, message) of the worst element over every input
    for i in checked:
        leaf = leaves[i]
        analytic = numpy.zeros(leaf.shape, leaf.dtype) if leaf.grad is None else backend.to_numpy(leaf.grad.data)
        numeric = numpy.zeros(leaf.shape, leaf.dtype)
        data = leaf.data   # written element by element: the input perturbed in place, whatever its layout
        steps = (eps, 1j * eps) if leaf.dtype.kind == "c" else (eps,)   # a complex input: dL/dx + i dL/dy
        for j in numpy.ndindex(leaf.shape):
            original = data[j].copy()
            for step in steps:
                data[j] = original + step
                plus = objective()
                data[j] = original - step
                minus = objective()
                data[j] = original
                numeric[j] += weighted_difference(plus, minus) / (2 * eps) * (step / eps)
        error = numpy.abs(analytic - numeric)
        excess = error - (atol + rtol * numpy.abs(numeric))
        if not (excess <= 0).all():   # also fails on NaN, which a `max() > 0` test lets through
            worst = numpy.unravel_index(int(excess.argmax()), excess.shape)   # argmax picks a NaN first
            size = float(excess[worst]) if excess[worst] == excess[worst] else float("inf")
            if failure is None or size > failure[0]:
                failure = (size, (
                    f"gradcheck: input {i} (shape {leaf.shape}) disagrees at index {tuple(int(k) for k in worst)}: "
                    f"analytic {analytic[worst]:.10g} vs numeric {numeric[worst]:.10g} "
                    f"(abs error {error[worst]:.3g}, atol {atol}, rtol {rtol})"))
    if failure is not None:
        raise GradcheckError(failure[1])
    return True


def gradgradcheck(fn: Callable[..., Any], inputs: Sequence[Any], grad_outputs: Sequence[Any] | None = None,
                  eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0, *,
                  raise_exception: bool = True) -> bool:
    """Check ``fn``'s second derivatives against central differences of its gradient, in float64
    (``torch.autograd.gradgradcheck``).

    The gradient of ``fn``'s outputs (those that require grad) w.r.t. its inputs that require grad is
    computed with ``create_graph=True`` along ``grad_outputs`` (one per such output, of its shape; random
    ones by default), and :func:`gradcheck` checks that gradient as a function of the inputs and of
    ``grad_outputs``. Returns True or raises :class:`GradcheckError` (False with ``raise_exception=False``).
    """
    from .autograd import grad  # autograd imports this module's package: imported when used

    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    if not isinstance(inputs, (list, tuple)):
        raise TypeError(f"gradgradcheck: inputs must be a Tensor or a list or tuple of Tensors, got "
                        f"{type(inputs).__name__}")
    inputs = list(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradgradcheck: no input has requires_grad=True")
    if grad_outputs is None:
        rng = numpy.random.default_rng(seed + 1)
        grad_outputs = []
        for y in _outputs(fn(*inputs)):
            if y.requires_grad:
                w = rng.standard_normal(y.shape)
                if y.dtype.kind == "c":
                    w = w + 1j * rng.standard_normal(y.shape)
                grad_outputs.append(Tensor._make(backend.to_device(w, y.device) if y.device != backend.CPU else w,
                                                 False, None, 0))
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
        outputs = [y for y in _outputs(fn(*xs)) if y.requires_grad]
        if len(outputs) != len(gs):
            raise ValueError(f"gradgradcheck: {len(gs)} grad_outputs for {len(outputs)} outputs that require grad")
        if not outputs:
            return [x * 0 for x in (xs[i] for i in checked)]
        return list(grad(outputs, [xs[i] for i in checked], list(gs), create_graph=True, allow_unused=True,
                         materialize_grads=True))

    return gradcheck(gradient, (*inputs, *directions), eps=eps, atol=atol, rtol=rtol, seed=seed,
                     raise_exception=raise_exception)
