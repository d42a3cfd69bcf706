"""Checks of the recurrent cells' and layers' arguments (``nn/cells.py``, ``nn/recurrent.py``), kept here so the
modules that do the math read like the math.

Constructor arguments: sizes, flags, ``proj_size``, ``dropout``. Forward arguments: PyTorch's keyword names, the
input, the initial states, the ``lengths`` of a padded batch (made into per-step masks) and, under
``detect_anomaly``, NaN/Inf in the input. Each error names the module, and its class is PyTorch's (the error
classes below subclass several builtins where PyTorch and older minigrad code disagree, or where PyTorch's class
depends on which of its own lines meets the bad argument first).
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any, NamedTuple

import numpy

import minigrad as mg
from minigrad import Tensor


class RecurrentInputError(RuntimeError, TypeError, ValueError):
    """An input a recurrent cell or layer cannot read: the wrong size, number of dims or dtype, or no time steps.

    PyTorch raises RuntimeError for a wrong ``input_size`` or an empty sequence, ValueError for a wrong
    number of dims or a layer's integer input (a cell's: RuntimeError); this is all three (TypeError too,
    which minigrad raised for a non-floating input), so ``except`` clauses written for either work.
    """


class RecurrentStateError(RuntimeError, TypeError, ValueError):
    """A recurrent state of the wrong kind, shape, dtype or device for its input.

    PyTorch raises RuntimeError for these; the TypeError/ValueError bases keep
    ``except TypeError`` / ``except ValueError`` code working.
    """


class RecurrentStateKindError(RecurrentStateError, IndexError, AttributeError):
    """A state that is not a Tensor (an LSTM's: not a pair of Tensors), or a Tensor where an LSTM takes (h0, c0).

    PyTorch's layers and cells fail on one inside their own code, with whatever that code meets first:
    AttributeError (``'int' object has no attribute 'dim'``, for a number, list, array, None or a tuple where a
    Tensor belongs), IndexError (an LSTM's state a Tensor or a 1-tuple), TypeError or RuntimeError; this is each.
    """


class InputKindError(TypeError, AttributeError):
    """An input that is not a Tensor (nor an array): TypeError, and PyTorch's AttributeError (its layers and cells
    read ``input.dim()`` first: ``'list' object has no attribute 'dim'``)."""


class LengthsShapeError(RecurrentInputError, IndexError):
    """``lengths`` not one per sequence of the batch. PyTorch, which packs the batch, raises RuntimeError or
    IndexError (``index_select(): Index is supposed to be a vector``, ``index out of range in self``)."""


# --- constructor arguments -------------------------------------------------------

def refuse_base(cls: type, base: type, name: str, instead: str) -> None:
    """A base class kept for ``isinstance`` checks (PyTorch's ``nn.RNNBase``/``nn.RNNCellBase``) is not built
    directly here: its arguments differ from PyTorch's (``mode`` first), so a call written for PyTorch fails."""
    if cls is base:
        raise TypeError(f"{name} is the base class of the recurrent modules, for isinstance checks; build {instead}")


def check_size(owner: str, name: str, value: Any, python_int: bool = False) -> int:
    """``value`` as a positive int (ValueError for ≤ 0), read as PyTorch reads it: ``python_int``, its sequence
    layers' ``isinstance(value, int)`` test of input_size and hidden_size (a bool is the int 0 or 1, a NumPy int its
    TypeError); else any integer its later use takes (num_layers' ``range``, a cell's ``torch.empty`` sizes): a
    Python or NumPy int, a bool, a 0-d integer array or tensor. Anything else is a TypeError."""
    if not (isinstance(value, int) if python_int else isinstance(value, numbers.Integral) or (
            isinstance(value, (numpy.ndarray, Tensor)) and value.ndim == 0 and numpy.dtype(value.dtype).kind in "iub")):
        raise TypeError(f"{owner}: {name} should be of type int, got {type(value).__name__} {value!r:.40}"
                        + (" (PyTorch's isinstance(int) test: pass int(...))" if python_int else ""))
    value = int(value)
    if value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)


def check_nonlinearity(owner: str, nonlinearity: Any) -> str:
    """``nonlinearity`` if it is 'tanh' or 'relu' (an RNN's), else ValueError (PyTorch's)."""
    if not isinstance(nonlinearity, str) or nonlinearity not in ("tanh", "relu"):
        hint = ""
        if owner == "RNN" and not isinstance(nonlinearity, str):
            hint = " (nn.RNN's 4th positional argument is the nonlinearity, before bias, in PyTorch's order)"
        raise ValueError(f"{owner}: unknown nonlinearity {nonlinearity!r}; expected 'tanh' or 'relu'{hint}")
    return nonlinearity


def check_cell_flags(owner: str, **flags: Any) -> None:
    """A cell's keyword options must be bools (or NumPy bools): TypeError otherwise."""
    for option, value in flags.items():
        if not isinstance(value, (bool, numpy.bool_)):
            raise TypeError(f"{owner}: {option} must be True or False, got {value!r}")


def check_lstm_options(owner: str, peephole: bool, coupled: bool, fused: bool) -> None:
    """The fused gate op computes the plain LSTM only: ValueError with peephole or coupled gates."""
    if fused and (peephole or coupled):
        raise ValueError(f"{owner}: fused=True supports the plain LSTM only, not peephole=True or coupled=True")


def check_layer_options(owner: str, num_layers: int, dropout: Any, bias: Any, batch_first: Any,
                        bidirectional: Any = False) -> None:
    """A sequence layer's ``dropout`` (a number in [0, 1]; a warning when one layer makes it moot) and its
    ``bias``/``batch_first``/``bidirectional`` (bools: PyTorch's TypeError, else batch_first="False" would read
    as True)."""
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0 <= dropout <= 1:
        raise ValueError(f"{owner}: dropout should be a number in range [0, 1] representing the "
                         f"probability of an element being zeroed, got {dropout!r}")
    if dropout > 0 and num_layers == 1:
        # stacklevel: this function, _Recurrent.__init__, the subclass's __init__, the caller
        warnings.warn(f"{owner}: dropout is applied between recurrent layers, so dropout={dropout} with "
                      "num_layers=1 has no effect", stacklevel=4)
    for flag, value in (("bias", bias), ("batch_first", batch_first), ("bidirectional", bidirectional)):
        if not isinstance(value, (bool, numpy.bool_)):
            raise TypeError(f"{owner}: {flag} should be of type bool, got {type(value).__name__} {value!r}")


def check_proj_size(owner: str, proj_size: Any, hidden_size: int) -> int:
    """``proj_size`` as an int in [0, hidden_size), or the error PyTorch raises."""
    if isinstance(proj_size, bool):
        # nn.LSTM's 8th positional parameter is proj_size: a bool there is most likely meant as peephole
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
    """``proj_size`` is an LSTM option only: PyTorch's RNN and GRU raise ValueError when it is given at all."""
    if proj_size is not None:
        raise ValueError(f"{owner}: proj_size argument is only supported for LSTM, not RNN or GRU "
                         f"(got proj_size={proj_size!r})")


# --- forward arguments -----------------------------------------------------------

def torch_keywords(owner: str, x: Any, state: Any, input: Any, hx: Any) -> tuple[Any, Any]:  # noqa: A002
    """(x, state) from a forward's arguments, where PyTorch's keyword names ``input=`` and ``hx=`` may stand
    for ``x`` and ``state``; naming one twice is a TypeError."""
    if input is not None:
        if x is not None:
            raise TypeError(f"{owner}: got the input twice, positionally and as input=")
        x = input
    if hx is not None:
        if state is not None:
            raise TypeError(f"{owner}: got the state twice, as state= (or positionally) and as hx=")
        state = hx
    if x is None:
        raise InputKindError(f"{owner}: forward() missing the input (positional, or input=)")
    return x, state


def as_input(owner: str, x: Any, weight: Tensor) -> Tensor:
    """``x`` as a floating-point or complex Tensor of ``weight``'s dtype (arrays are wrapped), or a TypeError naming
    ``owner`` (a RecurrentInputError for another dtype: PyTorch's layers and cells refuse one, they do not promote;
    complex layers compute as PyTorch's, with its complex tanh and sigmoid)."""
    if not isinstance(x, Tensor):
        if not mg.is_array(x):
            raise InputKindError(f"{owner}: input must be a Tensor, got {type(x).__name__}")
        x = mg.as_tensor(x)
    if x.dtype.kind not in "fc":
        raise RecurrentInputError(f"{owner}: input must be a floating-point or complex tensor, got {x.dtype} "
                                  "(embed token ids with nn.Embedding first)")
    if x.dtype != weight.dtype:
        raise RecurrentInputError(f"{owner}: input dtype ({x.dtype}) does not match weight dtype ({weight.dtype}). "
                                  f"Convert input: input.to({weight.dtype}), or convert model: model.to({x.dtype})")
    return x


def check_weight_dtypes(owner: str, x: Tensor, weights: Any) -> None:
    """A RecurrentInputError (PyTorch's RuntimeError) unless each of ``weights`` (``(name, Tensor or None)``
    pairs: every weight and bias the forward reads, a parametrized one's original) has the input ``x``'s dtype.
    PyTorch's layers and cells refuse a weight of another dtype (one assigned as a Parameter of its own dtype, say)
    with "self and mat2 must have the same dtype"; NumPy's promotion would give a float64 result instead."""
    dtype = x.data.dtype   # (the arrays' dtypes: cheaper than Tensor.dtype, read per cell call)
    for name, weight in weights:
        if weight is not None and weight.data.dtype != dtype:
            raise RecurrentInputError(f"{owner}: {name} is {weight.dtype}, the input and weight_ih {x.dtype}: "
                                      "expected every weight and bias to have the same dtype (PyTorch: self and "
                                      f"mat2 must have the same dtype); convert the model: model.to({x.dtype})")


def pytorch_input_message(owner: str, x: Tensor, input_size: int, ranks: tuple) -> str:
    """PyTorch's words for an input ``x`` of the wrong rank (``ranks``: the ones accepted) or width, so that code
    matching PyTorch's message still matches: a layer's "input.size(-1) must be equal to input_size. Expected 3,
    got 4", a cell's "input has inconsistent input_size: got 4 expected 3"; for the wrong rank "LSTM: Expected
    input to be 2D or 3D, got 4D instead" (a cell's: 1D or 2D)."""
    if x.ndim not in ranks:
        tensor = " tensor" if owner == "RNN" else ""     # PyTorch's nn.RNN says "tensor", the others do not
        return f"{owner}: Expected input to be {'D or '.join(map(str, ranks))}D, got {x.ndim}D{tensor} instead"
    if 1 in ranks:          # a cell
        return f"input has inconsistent input_size: got {x.shape[-1]} expected {input_size}"
    return f"input.size(-1) must be equal to input_size. Expected {input_size}, got {x.shape[-1]}"


def check_states(owner: str, state: Any, expected: dict, x: Tensor, dtype: Any) -> tuple:
    """``state`` (a Tensor, or a tuple of one Tensor per name of ``expected``) checked against the input ``x``.

    ``expected`` maps each state's name to (its shape, how that shape reads, for the error). Each
    state must have its shape, the step's ``dtype`` (the input's, unless the weights promote it)
    and ``x``'s device, as PyTorch requires: a wrong dtype would otherwise promote the outputs
    silently, a wrong device fail deep inside an op. Returns a tuple.
    """
    names = tuple(expected)
    if len(names) == 1:
        states = (state,)
    elif isinstance(state, (tuple, list)) and len(state) == len(names):
        states = tuple(state)
    else:
        raise RecurrentStateKindError(f"{owner}: state must be a tuple ({', '.join(names)}), "
                                      f"got {type(state).__name__}")
    for name, s in zip(names, states):
        shape, detail = expected[name]
        if not isinstance(s, Tensor):
            raise RecurrentStateKindError(f"{owner}: state {name} must be a Tensor, got {type(s).__name__}")
        if s.shape != shape:
            pytorch = _pytorch_state_message(owner, names, name, states, shape, x)
            raise RecurrentStateError(f"{owner}: expected state {name} of shape {shape} {detail}, got {s.shape}"
                                      + (f". {pytorch}" if pytorch else ""))
        if s.dtype != dtype:
            source = "the input's dtype" if dtype == x.dtype else f"the {x.dtype} input promoted with the weights"
            raise RecurrentStateError(f"{owner}: expected state {name} of dtype {dtype} ({source}), got {s.dtype}")
        if s.device != x.device:
            raise RecurrentStateError(f"{owner}: expected state {name} on device {x.device} (the input's device), "
                                      f"got {s.device}")
    return states


def _pytorch_state_message(owner: str, names: tuple, name: str, states: tuple, shape: tuple, x: Tensor) -> str:
    """PyTorch's words for state ``name`` not having ``shape``, so that code matching PyTorch's message still matches.

    A layer's states are named h0 (and c0), a cell's h (and c). Layers: "Expected hidden size (2, 2, 4), got
    [2, 3, 4]" (an LSTM's "hidden[0]"/"hidden[1]"), or, for a state of the wrong rank, "For batched 3-D input, hx
    should also be 3-D but got 2-D tensor". Cells: "Input batch size 2 doesn't match hidden0 batch size 3", or
    "hidden0 has inconsistent hidden_size: got 5, expected 4", or for a state of a rank no input has, "GRUCell:
    Expected hidden to be 1D or 2D, got 3D instead" (an LSTMCell's "hx[0]"/"hx[1]").
    """
    got = states[names.index(name)]
    if name.endswith("0"):                  # a layer's h0 / c0
        if got.ndim != len(shape):
            batched = "batched 3-D" if len(shape) == 3 else "unbatched 2-D"
            if len(names) == 1:
                return f"For {batched} input, hx should also be {len(shape)}-D but got {got.ndim}-D tensor"
            ranks = ", ".join(f"{s.ndim}-D" if isinstance(s, Tensor) else "?" for s in states)
            return f"For {batched} input, hx and cx should also be {len(shape)}-D but got ({ranks}) tensors"
        which = "hidden" if len(names) == 1 else f"hidden[{names.index(name)}]"
        return f"Expected {which} size {shape}, got {list(got.shape)}"
    hidden = f"hidden{names.index(name)}"   # a cell's h / c
    if got.ndim not in (1, 2):
        which = "hidden" if len(names) == 1 else f"hx[{names.index(name)}]"
        return f"{owner}: Expected {which} to be 1D or 2D, got {got.ndim}D instead"
    if got.ndim != len(shape):
        return ""
    if len(shape) == 2 and got.shape[0] != shape[0]:
        return f"Input batch size {x.shape[0]} doesn't match {hidden} batch size {got.shape[0]}"
    return f"{hidden} has inconsistent hidden_size: got {got.shape[-1]}, expected {shape[-1]}"


class LengthMasks(NamedTuple):
    """A padded batch's ``lengths`` as the loop over time uses them (T steps, B sequences)."""

    active: int                   # the steps to run: the longest length
    step_masks: tuple             # per step t < active, a (B, 1) bool Tensor: is sequence b still running?
    shortest: int                 # the shortest length: steps before it need no mask
    input_mask: Tensor | None     # (T, B, 1) ((B, T, 1) batch-first) bool: is x[t, b] real? None if none is padding


def length_masks(owner: str, lengths: Any, steps: int, batch: int, device: Any, batch_hint: str,
                 time_axis: int = 0) -> LengthMasks | None:
    """``lengths`` (B ints or whole floats, each in [1, steps]) as :class:`LengthMasks`; None without lengths (or
    for an empty batch). ``batch_hint`` ends a wrong-size error."""
    if lengths is None:
        return None
    if isinstance(lengths, Tensor):
        values = lengths.numpy()
    else:
        values = mg.to_numpy(lengths) if mg.is_array(lengths) else numpy.asarray(lengths)
    if values.size == 0 and batch == 0:          # lengths=[] for an empty batch (NumPy reads [] as float64)
        return None
    # whole floats (``mask.sum(1)`` of a float mask) are read as PyTorch's packing reads them; a fraction, which
    # packing would cut silently, is refused
    if values.dtype.kind == "f" and bool(numpy.all(numpy.isfinite(values) & (values == numpy.round(values)))):
        values = values.astype(numpy.int64)
    if values.dtype.kind not in "iu":
        raise TypeError(f"{owner}: lengths must be integers (a list, NumPy array or integer Tensor) or whole "
                        f"numbers, got dtype {values.dtype}: {values.tolist()}")
    # wrong lengths are RecurrentInputErrors: RuntimeError, as PyTorch's packing raises, and ValueError
    if values.ndim != 1 or values.shape[0] != batch:
        raise LengthsShapeError(f"{owner}: lengths must hold one length per sequence of the batch ({batch}), "
                                f"got shape {values.shape}" + batch_hint)
    if values.min() < 1 or values.max() > steps:
        pytorch = (". Length of all samples has to be greater than 0, but found an element in 'lengths' that is "
                   "<= 0") if values.min() < 1 else ""
        raise RecurrentInputError(f"{owner}: lengths must each be in [1, {steps}] (the input has {steps} time "
                                  f"steps), got {values.tolist()}{pytorch}")
    active, shortest = int(values.max()), int(values.min())
    keep = mg.to_device(numpy.arange(active)[:, None, None] < values[None, :, None], device)   # (T', B, 1)
    input_mask = None
    if shortest < steps:
        input_mask = numpy.arange(steps)[:, None, None] < values[None, :, None]                  # (T, B, 1)
        input_mask = mg.as_tensor(mg.to_device(input_mask.swapaxes(0, 1) if time_axis else input_mask, device))
    return LengthMasks(active, tuple(mg.as_tensor(keep[t]) for t in range(active)), shortest, input_mask)


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
