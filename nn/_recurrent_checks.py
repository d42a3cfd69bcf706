"""Checks of a recurrent layer's arguments and inputs (``nn/recurrent.py``): ``proj_size``, the ``lengths``
of a padded batch (made into per-step masks), and, under ``detect_anomaly``, NaN/Inf in the input."""

from __future__ import annotations

import numbers
from typing import Any

import numpy

import minigrad as mg
from minigrad import Tensor


class RecurrentInputError(RuntimeError, TypeError, ValueError):
    """An input a recurrent cell or layer cannot read: the wrong size, number of dims or dtype, or no time steps.

    PyTorch raises RuntimeError for a wrong ``input_size`` or an empty sequence, ValueError for a wrong
    number of dims or a layer's integer input (a cell's: RuntimeError); this is all three (TypeError too,
    which minigrad raised for a non-floating input), so ``except`` clauses written for either work.
    """


def check_proj_size(owner: str, proj_size: Any, hidden_size: int) -> int:
    """``proj_size`` as an int in [0, hidden_size), or the error PyTorch raises."""
    if isinstance(proj_size, bool):
        # the 8th positional argument of nn.LSTM was peephole before it became PyTorch's proj_size
        raise TypeError(f"{owner}: proj_size must be an integer, got {proj_size!r}; peephole and coupled are "
                        f"keyword-only: nn.LSTM(..., peephole={proj_size!r})")
    if not isinstance(proj_size, numbers.Integral):
        # PyTorch: TypeError (a float proj_size fails as a tensor size)
        raise TypeError(f"{owner}: proj_size should be of type int, got {type(proj_size).__name__} {proj_size!r}")
    if proj_size < 0:
        raise ValueError(f"{owner}: proj_size should be a positive integer or zero to disable projections, "
                         f"got {proj_size!r}")
    if proj_size >= hidden_size:
        raise ValueError(f"{owner}: proj_size has to be smaller than hidden_size ({hidden_size}), got {proj_size}")
    return int(proj_size)


def refuse_proj_size(owner: str, proj_size: Any) -> None:
    """``proj_size`` is an LSTM option only (PyTorch raises ValueError for RNN and GRU too)."""
    if proj_size:
        raise ValueError(f"{owner}: proj_size argument is only supported for LSTM, not RNN or GRU "
                         f"(got proj_size={proj_size!r})")


def check_finite_steps(owner: str, x: Tensor, time_axis: int) -> None:
    """Under ``detect_anomaly``: name the first time step at which the input holds NaN/Inf.

    The layer projects all time steps in one matmul (scope ``l0``), so without this the anomaly
    would be reported there rather than at the step it belongs to (``l0/t3``).
    """
    bad = ~mg.array_module(x.data).isfinite(x.data)
    if not bool(bad.any()):
        return
    per_step = bad.any(axis=-1)                      # (T, B)
    if time_axis == 1:
        per_step = per_step.T
    t = int(per_step.any(axis=1).argmax())
    b = int(per_step[t].argmax())
    with mg.name_scope("l0") as scope:               # the full scope the step would be recorded in
        pass
    raise mg.AnomalyError(
        f"detect_anomaly: the input of {owner} holds NaN/Inf, first at time step {t} (batch element {b}), "
        f"read by the step in scope '{scope}/t{t}'; input {x.dtype}{x.shape} non-finite={int(bad.sum())}")


def length_masks(owner: str, lengths: Any, steps: int, batch: int, device: Any, batch_hint: str,
                 time_axis: int = 0) -> tuple | None:
    """``lengths`` (B ints, each in [1, steps]) as (steps to run: the longest length, per step a (B, 1) bool
    keep-mask Tensor, the shortest length, the input's keep-mask: (T, B, 1) ((B, T, 1) for ``time_axis`` 1)
    bool Tensor, None when no sequence is shorter than T); None without lengths (or for an empty batch).
    ``batch_hint`` ends a wrong-size error."""
    if lengths is None:
        return None
    if isinstance(lengths, Tensor):
        values = lengths.numpy()
    else:
        values = mg.to_numpy(lengths) if mg.is_array(lengths) else numpy.asarray(lengths)
    if values.size == 0 and batch == 0:          # lengths=[] for an empty batch (NumPy reads [] as float64)
        return None
    if values.dtype.kind not in "iu":
        raise TypeError(f"{owner}: lengths must be integers (a list, NumPy array or integer Tensor), "
                        f"got dtype {values.dtype}")
    if values.ndim != 1 or values.shape[0] != batch:
        raise ValueError(f"{owner}: lengths must hold one length per sequence of the batch ({batch}), "
                         f"got shape {values.shape}" + batch_hint)
    if values.min() < 1 or values.max() > steps:
        raise ValueError(f"{owner}: lengths must each be in [1, {steps}] (the input has {steps} time steps), "
                         f"got {values.tolist()}")
    active, shortest = int(values.max()), int(values.min())
    keep = mg.to_device(numpy.arange(active)[:, None, None] < values[None, :, None], device)   # (T', B, 1)
    # the padding must not reach the gradients: a NaN/Inf there would make 0 · NaN = NaN in the weights' grads
    inputs = None
    if shortest < steps:
        inputs = numpy.arange(steps)[:, None, None] < values[None, :, None]                      # (T, B, 1)
        inputs = mg.as_tensor(mg.to_device(inputs.swapaxes(0, 1) if time_axis else inputs, device))
    return active, tuple(mg.as_tensor(keep[t]) for t in range(active)), shortest, inputs
