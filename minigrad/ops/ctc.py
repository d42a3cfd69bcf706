"""Connectionist temporal classification loss (Graves et al., 2006): ``ctc_loss``, as PyTorch's.

The loss of one sequence is -log p(l | x): the log-probability summed over every alignment of the
target l (length S) to the T frames of log_probs, where an alignment may repeat a label on
consecutive frames and put blanks anywhere. It is the alpha-beta recursion over the extended
target l' = (blank, l1, blank, l2, …, lS, blank) of length 2S + 1, in log space:

    alpha_0(0) = y_0(blank)    alpha_0(1) = y_0(l'_1)    (y_t(k) = log_probs[t, k])
    alpha_t(s) = y_t(l'_s) + logsumexp(alpha_{t-1}(s), alpha_{t-1}(s-1), [alpha_{t-1}(s-2)])
    loss = -logsumexp(alpha_{T-1}(2S), alpha_{T-1}(2S-1))

where the skip from s-2 is allowed when l'_s is a label that differs from l'_{s-2} (so two equal
labels in a row need a blank between them). beta runs the same recursion backwards from the end.

The gradient is PyTorch's, for every t below the sequence's input length:

    grad[t, k] = exp(y_t(k)) - exp(logsumexp_{s: l'_s = k}(alpha_t(s) + beta_t(s)) + loss - y_t(k))

The first term is the derivative of a log_softmax: this is the gradient with respect to the
*logits* of a log_softmax whose output is ``log_probs``. PyTorch assumes ``log_probs`` are
normalised and uses it as the gradient with respect to ``log_probs``; through a log_softmax the
extra ``exp(y)`` cancels exactly, so training is right, but on unnormalised ``log_probs`` it is not
the derivative of the loss (a finite-difference check of ``ctc_loss`` alone fails, in PyTorch as
here: check it through a log_softmax). An impossible alignment (a target longer than its input
allows) has an infinite loss and a NaN gradient, as PyTorch's; ``zero_infinity`` makes both 0.

Batch and extended-label positions are vectorised; the only Python loops run over time.
"""

from __future__ import annotations

import operator
from typing import Any

from .. import backend
from ..autograd import Function
from ..tensor import Tensor, float32, float64, int64
from ._util import ArgumentTypeError, DtypeNotImplementedError, tensor_arg

__all__ = ["CTC", "CTCLossError", "ctc_loss"]

NAME = "ctc_loss"
_REDUCTIONS = {"none": "none", "mean": "mean", "sum": "sum", 0: "none", 1: "mean", 2: "sum"}   # torch's enum too


class CTCLossError(ValueError, RuntimeError):
    """Lengths or targets that do not fit log_probs: a ValueError, and the RuntimeError PyTorch raises."""


class CTCRankError(CTCLossError, IndexError):
    """A 0-d log_probs, whose size(1) PyTorch reads: a CTCLossError, and the IndexError PyTorch raises."""


def _logsumexp3(xp: Any, a: Any, b: Any, c: Any) -> Any:
    """log(e^a + e^b + e^c) elementwise, -inf where all three are -inf (as PyTorch's kernel)."""
    top = xp.maximum(xp.maximum(a, b), c)
    top = xp.where(top == -xp.inf, top.dtype.type(0), top)
    return xp.log(xp.exp(a - top) + xp.exp(b - top) + xp.exp(c - top)) + top


def _first(xp: Any, bad: Any) -> tuple:
    """The (row, column) of the first True of a 2-D bool array (an error's position; one host copy)."""
    flat = int(xp.argmax(bad.reshape(-1)))
    return divmod(flat, bad.shape[1])


class CTC(Function):
    """The CTC loss per sequence (the op; ``nn.CTCLoss`` is the module): log_probs (T, N, C), targets
    (N, S) padded or (sum of lengths,) concatenated, input_lengths and target_lengths (N,) integers →
    (N,) losses. Only log_probs gets a gradient. The lengths and targets are checked here, on each
    call's values (an ``mg.compile`` replay checks its own)."""

    name = NAME

    def __init__(self, blank: int, zero_infinity: bool) -> None:
        self.blank, self.zero_infinity = blank, zero_infinity

    def forward(self, log_probs: Any, targets: Any, input_lengths: Any, target_lengths: Any) -> Any:
        with backend.on_device(backend.device_of(log_probs)):
            return self._forward(log_probs, targets, input_lengths.astype(int64), target_lengths.astype(int64))

    def _forward(self, log_probs: Any, targets: Any, input_lengths: Any, target_lengths: Any) -> Any:
        xp, blank = self.xp, self.blank
        steps, batch, classes = log_probs.shape
        labels = self._labels(log_probs.shape, targets, input_lengths, target_lengths)   # (N, S), blank-padded
        width = 2 * labels.shape[1] + 1
        extended = xp.full((batch, width), blank, dtype=int64)                   # l' (N, 2S + 1)
        extended[:, 1::2] = labels
        skip = xp.zeros((batch, width), dtype=bool)                              # may s be reached from s - 2?
        skip[:, 2:] = (extended[:, 2:] != blank) & (extended[:, 2:] != extended[:, :-2])
        rows = xp.arange(batch)
        picked = log_probs[:, rows[:, None], extended]                           # y_t(l'_s): (T, N, 2S + 1)

        minus_inf = log_probs.dtype.type(-xp.inf)
        alpha = xp.empty((steps, batch, width), dtype=log_probs.dtype)
        alpha[0] = minus_inf
        alpha[0, :, 0] = picked[0, :, 0]
        if width > 1:
            alpha[0, :, 1] = xp.where(target_lengths > 0, picked[0, :, 1], minus_inf)
        previous = xp.full((batch, width + 2), minus_inf, dtype=log_probs.dtype)   # alpha_{t-1}, two -inf in front
        with backend.errstate(xp, divide="ignore", invalid="ignore"):
            for t in range(1, steps):
                previous[:, 2:] = alpha[t - 1]
                from_skip = xp.where(skip, previous[:, :-2], minus_inf)
                alpha[t] = picked[t] + _logsumexp3(xp, previous[:, 2:], previous[:, 1:-1], from_skip)

            last = alpha[xp.maximum(input_lengths - 1, 0), rows]                   # alpha at each sequence's end
            end_blank = last[rows, 2 * target_lengths]
            end_label = xp.where(target_lengths > 0, last[rows, xp.maximum(2 * target_lengths - 1, 0)], minus_inf)
            loss = -xp.logaddexp(end_blank, end_label)
        # no frames: the empty target has probability 1, any other 0 (PyTorch's case)
        empty = xp.where(target_lengths == 0, log_probs.dtype.type(0), log_probs.dtype.type(xp.inf))
        loss = xp.where(input_lengths == 0, empty, loss)
        self.saved = (log_probs, picked, alpha, extended, skip, loss, input_lengths, target_lengths)
        if self.zero_infinity:
            return xp.where(loss == xp.inf, log_probs.dtype.type(0), loss)
        return loss

    def _labels(self, shape: tuple, targets: Any, input_lengths: Any, target_lengths: Any) -> Any:
        """The targets as (N, S) int64, padded with blanks past each target length, after the checks
        PyTorch makes (and two it does not: no target may be the blank or fall outside [0, C))."""
        xp, blank = self.xp, self.blank
        steps, batch, classes = shape
        low_in, high_in, low_target, high_target, total = (int(v) for v in xp.stack([
            input_lengths.min(), input_lengths.max(), target_lengths.min(), target_lengths.max(),
            target_lengths.sum()]).tolist())
        for what, lengths, low in (("input_lengths", input_lengths, low_in), ("target_lengths", target_lengths,
                                                                              low_target)):
            if low < 0:
                where = int(xp.argmin(lengths))
                raise CTCLossError(f"{NAME}: {what} must be >= 0, got {low} for batch element {where}")
        if high_in > steps:
            where = int(xp.argmax(input_lengths))
            raise CTCLossError(f"{NAME}: input_lengths must be at most T={steps} (log_probs of shape {shape}), got "
                               f"{high_in} for batch element {where}")
        if targets.ndim == 2:   # padded (N, S)
            width = targets.shape[1]
            if high_target > width:
                where = int(xp.argmax(target_lengths))
                raise CTCLossError(f"{NAME}: target_lengths must be at most S={width} (padded targets of shape "
                                   f"{targets.shape}), got {high_target} for batch element {where}")
            labels = targets.astype(int64)
        else:                   # concatenated (sum(target_lengths),)
            if total != targets.shape[0]:
                raise CTCLossError(f"{NAME}: concatenated targets of shape {targets.shape} must hold "
                                   f"sum(target_lengths) = {total} labels")
            width = high_target
            start = xp.cumsum(target_lengths) - target_lengths
            index = start[:, None] + xp.arange(width)
            labels = targets.astype(int64)[xp.where(xp.arange(width) < target_lengths[:, None], index, 0)] \
                if width else xp.zeros((batch, 0), dtype=int64)
        inside = xp.arange(width) < target_lengths[:, None]
        bad = inside & ((labels == blank) | (labels < 0) | (labels >= classes))
        if bool(bad.any()):
            row, column = _first(xp, bad)
            value = int(labels[row, column])
            why = "is the blank" if value == blank else f"is outside the label range [0, {classes - 1}]"
            raise CTCLossError(f"{NAME}: target {value} (batch element {row}, position {column}) {why}: targets must "
                               f"be labels in [0, {classes - 1}] other than blank={blank} (log_probs of shape "
                               f"{shape}, targets of shape {targets.shape})")
        return xp.where(inside, labels, blank)

    def backward(self, gy: Any) -> tuple:
        with backend.on_device(backend.device_of(gy)):
            return self._backward(gy), None, None, None

    def _backward(self, gy: Any) -> Any:
        xp = self.xp
        log_probs, picked, alpha, extended, skip, loss, input_lengths, target_lengths = self.saved
        steps, batch, classes = log_probs.shape
        width = extended.shape[1]
        minus_inf = log_probs.dtype.type(-xp.inf)
        rows = xp.arange(batch)
        # beta starts at each sequence's last frame, on its final blank and final label
        positions = xp.arange(width)
        ends = (positions == 2 * target_lengths[:, None]) | \
            ((positions == 2 * target_lengths[:, None] - 1) & (target_lengths[:, None] > 0))
        skip_ahead = xp.zeros((batch, width), dtype=bool)      # may s + 2 be reached from s?
        skip_ahead[:, :-2] = skip[:, 2:]
        following = xp.full((batch, width + 2), minus_inf, dtype=log_probs.dtype)   # beta_{t+1}, two -inf after
        # exp(log(alpha_t(s) beta_t(s)) + loss - y_t(l'_s)) for each position: the class sums of these are
        # exp(lcab + loss - y) in PyTorch's formula
        shares = xp.empty_like(alpha)
        with backend.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
            for t in range(steps - 1, -1, -1):
                from_skip = xp.where(skip_ahead, following[:, 2:], minus_inf)
                beta = picked[t] + _logsumexp3(xp, following[:, :-2], following[:, 1:-1], from_skip)
                beta = xp.where((input_lengths == t + 1)[:, None], xp.where(ends, picked[t], minus_inf), beta)
                following[:, :-2] = beta
                shares[t] = xp.exp(alpha[t] + beta + loss[:, None] - picked[t])
            per_class = xp.zeros(steps * batch * classes, dtype=log_probs.dtype)
            cells = (xp.arange(steps)[:, None, None] * batch + rows[:, None]) * classes + extended
            backend.scatter_add(xp, per_class, cells.reshape(-1), shares.reshape(-1))
            grad = xp.exp(log_probs) - per_class.reshape(steps, batch, classes)
        # PyTorch's NaNs: an infinite loss, or a class of probability 0, gives exp(-inf + inf) there
        undefined = (loss == xp.inf)[:, None] | (log_probs == -xp.inf)
        grad = xp.where(undefined, log_probs.dtype.type(xp.nan), grad)
        frames = (xp.arange(steps)[:, None] < input_lengths)[:, :, None]       # no gradient past each input's end
        keep = frames & (loss != xp.inf)[:, None] if self.zero_infinity else frames
        return xp.where(keep, grad * gy[:, None], log_probs.dtype.type(0))


def _lengths(value: Any, batch: int, device: Any, what: str) -> Tensor:
    """Lengths (a Tensor, an array, a list or tuple of ints, or one int) as an integer Tensor (N,) on
    ``device``."""
    if isinstance(value, Tensor) or backend.is_array(value):
        tensor = tensor_arg(value, NAME)
        if tensor.dtype.kind not in "iu":
            raise ArgumentTypeError(f"{NAME}: {what} must be integers, got dtype {tensor.dtype} (shape "
                                    f"{tensor.shape})")
        if tensor.device != device:
            tensor = tensor.to(device)
    else:
        items = [value] if hasattr(value, "__index__") else value   # one int (unbatched)
        try:
            if not isinstance(items, (list, tuple)) or any(isinstance(v, bool) for v in items):
                raise TypeError
            numbers = [operator.index(v) for v in items]
        except TypeError:
            raise TypeError(f"{NAME}: {what} must be a Tensor of integers or a list/tuple of ints, got "
                            f"{value!r:.80}") from None
        try:
            tensor = Tensor._make(backend.make_array(numbers, int64, device), False, None, 0)
        except OverflowError:
            raise CTCLossError(f"{NAME}: {what} must fit in int64, got {numbers!r:.80}") from None
    if tensor.numel() != batch:
        raise CTCLossError(f"{NAME}: {what} must hold one length per batch element (N={batch}), got shape "
                           f"{tuple(tensor.shape)}")
    return tensor.reshape(batch)


def _targets(value: Any, batch: int, device: Any, batched: bool) -> Tensor:
    """Targets as an integer Tensor on ``device``: (N, S) padded, or (sum of target lengths,) concatenated."""
    if not (isinstance(value, Tensor) or backend.is_array(value)):
        try:
            value = backend.make_array(value, None, device)
        except (TypeError, ValueError):
            raise TypeError(f"{NAME}: targets must be a Tensor of integer labels, got {type(value).__name__}") \
                from None
    tensor = tensor_arg(value, NAME)
    if tensor.dtype.kind not in "biu":
        raise TypeError(f"{NAME}: targets must be integer labels, got dtype {tensor.dtype} (shape {tensor.shape})")
    if tensor.ndim not in (1, 2):
        raise CTCLossError(f"{NAME}: targets must be (N, S) padded or (sum(target_lengths),) concatenated, got "
                           f"shape {tensor.shape}")
    if tensor.ndim == 2 and tensor.shape[0] != batch:
        form = "N" if batched else "1 for unbatched log_probs"
        raise CTCLossError(f"{NAME}: padded targets of shape {tensor.shape} must have one row per batch element "
                           f"({form}={batch})")
    return tensor if tensor.device == device else tensor.to(device)


def ctc_loss(log_probs: Tensor, targets: Any, input_lengths: Any, target_lengths: Any, blank: int = 0,
             reduction: str | int = "mean", zero_infinity: bool = False) -> Tensor:
    """The CTC loss, as ``torch.ctc_loss`` and ``torch.nn.functional.ctc_loss``.

    log_probs: (T, N, C) log-probabilities (usually a log_softmax over C), or (T, C) unbatched;
    float32 or float64. targets: (N, S) labels padded past each target length, or 1-D
    (sum(target_lengths),) concatenated; no label may be ``blank``. input_lengths, target_lengths:
    (N,) integers (Tensors, lists or tuples), each input length <= T (a shorter sequence's frames
    past its end are ignored and get no gradient), each target length <= S.

    ``reduction``: ``'none'`` gives the (N,) losses (a 0-d one unbatched), ``'sum'`` their sum,
    ``'mean'`` the mean over the batch of each loss divided by its target length (clamped to >= 1);
    torch's enum 0/1/2 also works. ``zero_infinity``: an impossible alignment's infinite loss, and
    its gradient, become 0. The gradient with respect to log_probs is PyTorch's (module docstring).
    """
    lp = tensor_arg(log_probs, NAME)
    if lp.dtype not in (float32, float64):
        raise DtypeNotImplementedError(f"{NAME}: log_probs must be float32 or float64, got {lp.dtype} (shape "
                                       f"{lp.shape})")
    if lp.ndim not in (2, 3):
        error = CTCRankError if lp.ndim == 0 else CTCLossError
        raise error(f"{NAME}: log_probs must be (T, N, C), or (T, C) unbatched, got shape {lp.shape}")
    if lp.numel() == 0:
        raise CTCLossError(f"{NAME}: log_probs must not be empty, got shape {lp.shape}")
    try:
        if isinstance(blank, bool):
            raise TypeError
        blank = operator.index(blank)
    except TypeError:
        raise TypeError(f"{NAME}: blank must be an int, got {blank!r}") from None
    classes = lp.shape[-1]
    if not 0 <= blank < classes:
        raise CTCLossError(f"{NAME}: blank must be in the label range [0, {classes - 1}] (log_probs of shape "
                           f"{lp.shape}), got {blank}")
    if isinstance(reduction, bool) or not isinstance(reduction, (str, int)) or reduction not in _REDUCTIONS:
        raise ValueError(f"{NAME}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if not isinstance(zero_infinity, bool):
        raise TypeError(f"{NAME}: zero_infinity must be a bool, got {zero_infinity!r}")
    batched = lp.ndim == 3
    if not batched:
        lp = lp.unsqueeze(1)
    batch = lp.shape[1]
    targets = _targets(targets, batch, lp.device, batched)
    input_lengths = _lengths(input_lengths, batch, lp.device, "input_lengths")
    target_lengths = _lengths(target_lengths, batch, lp.device, "target_lengths")
    losses = CTC(blank, zero_infinity)(lp, targets, input_lengths, target_lengths)
    reduction = _REDUCTIONS[reduction]
    if reduction == "mean":
        return (losses / target_lengths.astype(lp.dtype).clip(min=1)).mean()
    if reduction == "sum":
        return losses.sum()
    return losses if batched else losses.reshape(())
