"""Variable-length sequences, as ``torch.nn.utils.rnn``: padding, packing and back.

A batch of sequences of different lengths is either *padded*, one (T, B, *)
tensor (``(B, T, *)`` with ``batch_first``) whose rows past a sequence's end hold
``padding_value``, or *packed*, a :class:`PackedSequence` that keeps only the
real steps. The packed layout is PyTorch's: the sequences are ordered by
decreasing length, ``data`` (Σ lengths, *) holds time step 0 of every sequence,
then time step 1 of every sequence still running, and so on, and
``batch_sizes[t]`` says how many sequences run at step t.

Every conversion here is one gather (``x[index]``) of the rows of a differentiable
tensor, so gradients flow through packing and unpacking into the padded input.
``nn.RNN``/``nn.LSTM``/``nn.GRU`` accept a PackedSequence and return one.
"""

from __future__ import annotations

import numbers
from typing import Any, NamedTuple

import numpy

import minigrad as mg
from minigrad import Tensor

from ._tie_order import descending_order

__all__ = ["PackedSequence", "PackingError", "invert_permutation", "pack_padded_sequence", "pack_sequence",
           "pad_packed_sequence", "pad_sequence", "unpack_sequence", "unpad_sequence"]


class PackingError(ValueError, RuntimeError):
    """Lengths or sequences that cannot be padded or packed. PyTorch raises RuntimeError for most of
    these and ValueError for some; this is both."""


class _LengthsNotVectorError(PackingError, IndexError):
    """``lengths`` that are not 1-D: PyTorch's RuntimeError or IndexError (which one depends on enforce_sorted)."""


class _NoBatchAxisError(PackingError, IndexError):
    """An input to pack with fewer than 2 dims: PyTorch's IndexError (it reads a batch axis that is not there)."""


class _PackedSequenceFields(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(_PackedSequenceFields):
    """A batch of sequences that keeps only their real steps (PyTorch's layout).

    * ``data``: (Σ lengths, *), the steps ordered by time, then by sorted sequence;
    * ``batch_sizes``: (T_max,) int64 on the CPU, the number of sequences still running at each step;
    * ``sorted_indices``: (B,) int64, the batch position of the i-th longest sequence (None when the
      batch came sorted, ``enforce_sorted=True``);
    * ``unsorted_indices``: (B,) int64, its inverse permutation (None likewise).

    Build one with :func:`pack_padded_sequence` or :func:`pack_sequence`. Built by hand, it takes
    PyTorch's forms: ``PackedSequence(data, batch_sizes, sorted_indices)`` derives ``unsorted_indices``
    (without it, unpacking would leave the batch in sorted order), and ``PackedSequence((data, batch_sizes))``.
    """

    __slots__ = ()

    def __new__(cls, data: Any, batch_sizes: Any = None, sorted_indices: Any = None,
                unsorted_indices: Any = None) -> PackedSequence:
        if batch_sizes is None:
            if not (isinstance(data, (tuple, list)) and len(data) == 2):
                raise TypeError("PackedSequence: give (data, batch_sizes), either as two arguments or as one pair, "
                                f"got {type(data).__name__} and no batch_sizes")
            data, batch_sizes = data
        if unsorted_indices is None and sorted_indices is not None:
            device = sorted_indices.device if isinstance(sorted_indices, Tensor) else "cpu"
            unsorted_indices = _index_tensor(numpy.argsort(_permutation("sorted_indices", sorted_indices),
                                                           kind="stable"), device)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """``data.to(...)``; the indices follow the data's device, ``batch_sizes`` stays on the CPU."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        device = data.device
        indices = [None if i is None else i.to(device) for i in (self.sorted_indices, self.unsorted_indices)]
        return PackedSequence(data, self.batch_sizes, *indices)

    def cpu(self) -> PackedSequence:
        return self.to("cpu")

    def cuda(self) -> PackedSequence:
        return self.to("cuda")

    def float(self) -> PackedSequence:
        return self.to(mg.float32)

    def double(self) -> PackedSequence:
        return self.to(mg.float64)

    def half(self) -> PackedSequence:
        return self.to(mg.float16)

    def long(self) -> PackedSequence:
        return self.to(mg.int64)

    def int(self) -> PackedSequence:
        return self.to(mg.int32)

    def short(self) -> PackedSequence:
        return self.to(mg.int16)

    def char(self) -> PackedSequence:
        return self.to(mg.int8)

    def byte(self) -> PackedSequence:
        return self.to(mg.uint8)

    def is_pinned(self) -> bool:
        """False: minigrad has no pinned host memory."""
        return False

    @property
    def is_cuda(self) -> bool:
        return self.data.device.type == "cuda"


# --- index arithmetic on the host ---------------------------------------------------

def _lengths_array(owner: str, lengths: Any, batch: int, minimum: int = 1) -> numpy.ndarray:
    """``lengths`` (list, array or integer Tensor) as a 1-D int64 NumPy array of ``batch`` values ≥ ``minimum``."""
    if isinstance(lengths, Tensor):
        values = lengths.numpy()
    elif mg.is_array(lengths):
        values = mg.to_numpy(lengths)
    else:
        values = numpy.asarray(lengths)
    # PyTorch reads lengths as int64 (``lengths = mask.sum(1)`` of a float mask packs); a fraction would be cut
    # silently there, so it is refused here
    whole = values.dtype.kind == "f" and bool(numpy.all(numpy.isfinite(values) & (values == numpy.round(values))))
    if values.dtype.kind not in "iu" and not whole:
        raise TypeError(f"{owner}: lengths must be integers (a list, NumPy array or integer Tensor) or whole "
                        f"numbers, got dtype {values.dtype}: {values.tolist()}")
    if values.ndim != 1:   # PyTorch: RuntimeError (enforce_sorted) or index_select's IndexError (unsorted)
        raise _LengthsNotVectorError(f"{owner}: lengths must be 1-D (one per sequence, batch_size {batch}), got "
                                     f"lengths of shape {values.shape}")
    if values.shape[0] != batch:
        raise PackingError(f"{owner}: expected len(lengths) to be equal to batch_size ({batch}), "
                         f"got lengths of shape {values.shape}")
    if batch and values.min() < minimum:
        if minimum == 1:        # PyTorch's words
            raise PackingError(f"{owner}: Length of all samples has to be greater than 0, but found an element "
                               f"in 'lengths' that is <= 0: {values.tolist()}")
        raise PackingError(f"{owner}: every length must be at least {minimum}, got {values.tolist()}")
    return values.astype(numpy.int64)


def _offsets(batch_sizes: numpy.ndarray) -> numpy.ndarray:
    """Where each time step's rows start in ``data``: (T_max,)."""
    return numpy.concatenate(([0], numpy.cumsum(batch_sizes)[:-1])).astype(numpy.int64)


def _sorted_lengths(batch_sizes: numpy.ndarray) -> numpy.ndarray:
    """The length of the i-th longest sequence, from how many run at each step: (B,)."""
    batch = int(batch_sizes[0]) if batch_sizes.size else 0
    return (batch_sizes[None, :] > numpy.arange(batch)[:, None]).sum(axis=1).astype(numpy.int64)


def _gather(source: Tensor, index: numpy.ndarray) -> Tensor:
    """``source[index]`` with the index on the source's device (one differentiable gather)."""
    return source[mg.to_device(index, source.device)]


def _host(indices: Any) -> numpy.ndarray | None:
    """Indices or batch sizes (a Tensor, an array or a list; None stays None) as host int64."""
    if indices is None:
        return None
    if isinstance(indices, Tensor):
        return indices.numpy().astype(numpy.int64)
    return (mg.to_numpy(indices) if mg.is_array(indices) else numpy.asarray(indices)).astype(numpy.int64)


def _index_tensor(values: numpy.ndarray, device: Any) -> Tensor:
    return mg.tensor(values.astype(numpy.int64), device=device)


# --- padded → packed ---------------------------------------------------------------

def _pack_rows(padded: Tensor, batch_sizes: numpy.ndarray, order: numpy.ndarray, batch_first: bool) -> Tensor:
    """``data`` for a padded (T, B, *) ((B, T, *)) tensor: the rows (t, order[s]) for s < batch_sizes[t]."""
    steps, batch = (padded.shape[1], padded.shape[0]) if batch_first else padded.shape[:2]
    t = numpy.repeat(numpy.arange(batch_sizes.size), batch_sizes)
    s = numpy.arange(t.size) - _offsets(batch_sizes)[t]
    b = order[s]
    flat = b * steps + t if batch_first else t * batch + b
    return _gather(padded.reshape((steps * batch, *padded.shape[2:])), flat)


def pack_padded_sequence(input: Any, lengths: Any, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch: ``input`` (T, B, *) ((B, T, *) if ``batch_first``), ``lengths`` B ints in [1, T].

    With ``enforce_sorted`` the lengths must be in decreasing order (a ``ValueError`` otherwise),
    else the sequences are sorted here, in PyTorch's order (sequences of equal length in a batch of more
    than 16 are not in batch order: ``nn/utils/_tie_order.py``), and the permutation is kept in
    ``sorted_indices``. Gradients flow back into ``input``.
    """
    if not isinstance(input, Tensor):
        if not mg.is_array(input):
            raise TypeError(f"pack_padded_sequence: input must be a Tensor, got {type(input).__name__}")
        input = mg.as_tensor(input)
    if input.ndim < 2:
        raise _NoBatchAxisError(f"pack_padded_sequence: input must have a time and a batch axis, got shape "
                                f"{input.shape}")
    steps, batch = (input.shape[1], input.shape[0]) if batch_first else input.shape[:2]
    values = _lengths_array("pack_padded_sequence", lengths, batch)
    if batch == 0:
        raise PackingError(f"pack_padded_sequence: the batch is empty (input shape {input.shape})")
    if values.max() > steps:
        raise PackingError(f"pack_padded_sequence: every length must be at most the input's {steps} time steps "
                         f"(batch_first={batch_first}), got {values.tolist()}")
    if enforce_sorted:
        if numpy.any(numpy.diff(values) > 0):
            raise PackingError(f"pack_padded_sequence: `lengths` array must be sorted in decreasing order when "
                               f"`enforce_sorted` is True, got {values.tolist()}; pass enforce_sorted=False to "
                               "sort them here")
        order, sorted_indices, unsorted_indices = numpy.arange(batch), None, None
    else:
        order = descending_order(values)          # PyTorch's order, ties included (nn/utils/_tie_order.py)
        sorted_indices = _index_tensor(order, input.device)
        unsorted_indices = _index_tensor(numpy.argsort(order, kind="stable"), input.device)
    batch_sizes = (values[order][None, :] > numpy.arange(int(values.max()))[:, None]).sum(axis=1)
    data = _pack_rows(input, batch_sizes, order, batch_first)
    return PackedSequence(data, mg.tensor(batch_sizes.astype(numpy.int64), device="cpu"),
                          sorted_indices, unsorted_indices)


def pack_like(padded: Tensor, like: PackedSequence) -> PackedSequence:
    """Pack a time-major padded (T ≥ T_max, B, *) tensor with the layout (batch sizes, order) of ``like``."""
    batch_sizes = _host(like.batch_sizes)
    sorted_indices = _permutation("sorted_indices", like.sorted_indices, int(batch_sizes[0]))
    order = numpy.arange(int(batch_sizes[0])) if sorted_indices is None else sorted_indices
    data = _pack_rows(padded, batch_sizes, order, batch_first=False)
    return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)


# --- packed → padded ---------------------------------------------------------------

def _checked_layout(sequence: PackedSequence) -> tuple[numpy.ndarray, numpy.ndarray | None]:
    """(``batch_sizes`` (T_max,), ``unsorted_indices`` (B,) or None) of ``sequence`` as host int64, checked to
    describe ``sequence.data`` (PyTorch raises where they do not): batch sizes that are integers, never grow and
    count no more rows than ``data`` has (PyTorch reads the first ones), and indices that are a permutation of
    the batch. A hand-built PackedSequence that failed one would read the padding row, or a sequence twice."""
    raw = sequence.batch_sizes
    raw = raw.numpy() if isinstance(raw, Tensor) else (mg.to_numpy(raw) if mg.is_array(raw) else numpy.asarray(raw))
    if raw.ndim != 1 or raw.dtype.kind not in "iu":
        problem = f"batch_sizes must be a 1-D integer tensor, got {raw.dtype} of shape {raw.shape}"
    elif raw.size and (raw.min() < 0 or numpy.any(numpy.diff(raw) > 0)):
        problem = f"batch_sizes must not grow (sequences sorted by decreasing length), got {raw.tolist()}"
    elif raw.sum() > sequence.data.shape[0]:
        problem = f"batch_sizes count {int(raw.sum())} rows ({raw.tolist()}), but its data has {sequence.data.shape[0]}"
    else:
        return raw.astype(numpy.int64), _permutation("unsorted_indices", sequence.unsorted_indices,
                                                     int(raw[0]) if raw.size else 0)
    raise PackingError(f"pad_packed_sequence: the PackedSequence's {problem}")


def _permutation(name: str, indices: Any, batch: int | None = None) -> numpy.ndarray | None:
    """A PackedSequence's ``indices`` (None stays None) as host int64, checked to be a permutation of its
    ``batch`` positions (of as many as it has if None): PackingError otherwise."""
    values = _host(indices)
    if values is not None and not numpy.array_equal(numpy.sort(values), numpy.arange(
            values.size if batch is None else batch)):
        raise PackingError(f"PackedSequence: {name} must be a permutation of the batch's positions 0 … "
                           f"{(values.size if batch is None else batch) - 1}, got {values.tolist()}")
    return values


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """Undo :func:`pack_padded_sequence`: returns (padded, lengths).

    padded: (T, B, *) ((B, T, *) if ``batch_first``) in the original batch order, with
    ``padding_value`` past each sequence's end; T = ``total_length`` if given (an int or a 0-d
    integer Tensor, at least the longest length), else the longest length. lengths: (B,) int64 on the CPU.
    """
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence: expected a PackedSequence, got {type(sequence).__name__}")
    data = sequence.data
    batch_sizes, sorted_position = _checked_layout(sequence)      # sorted_position: batch position b → its rank s
    steps, batch = batch_sizes.size, int(batch_sizes[0])
    if isinstance(total_length, Tensor) and total_length.ndim == 0 and total_length.dtype.kind in "iu":
        total_length = int(total_length.item())     # a 0-d integer tensor, as PyTorch takes it
    if total_length is not None:
        if isinstance(total_length, bool) or not isinstance(total_length, numbers.Integral):
            raise TypeError(f"pad_packed_sequence: total_length must be an int, got {type(total_length).__name__} "
                            f"{total_length!r}")
        if total_length < steps:
            raise PackingError(f"pad_packed_sequence: Expected total_length to be at least the length of the "
                               f"longest sequence in input, but got total_length={total_length} and max sequence "
                               f"length being {steps}")
        steps_out = int(total_length)
    else:
        steps_out = steps
    if sorted_position is None:
        sorted_position = numpy.arange(batch)
    t = numpy.arange(steps_out)[:, None]
    s = sorted_position[None, :]
    running = t < steps
    bs = numpy.where(running, batch_sizes[numpy.minimum(t, steps - 1)], 0)
    offsets = _offsets(batch_sizes)[numpy.minimum(t, steps - 1)]
    padding_row = data.shape[0]                                # the row appended below
    index = numpy.where(s < bs, offsets + s, padding_row)      # (T, B)
    if batch_first:
        index = index.T
    padding = mg.full((1, *data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    rows = _gather(mg.concat([data, padding], axis=0), index.reshape(-1))
    padded = rows.reshape((*index.shape, *data.shape[1:]))
    lengths = _sorted_lengths(batch_sizes)[sorted_position]
    return padded, mg.tensor(lengths, device="cpu")


# --- lists of sequences ------------------------------------------------------------

def _check_sequences(owner: str, sequences: Any) -> list[Tensor]:
    if isinstance(sequences, Tensor):
        sequences = list(mg.unbind(sequences, 0))
    sequences = list(sequences)
    if not sequences:
        raise PackingError(f"{owner}: received an empty list of sequences")
    for i, s in enumerate(sequences):
        if not isinstance(s, Tensor):
            if not mg.is_array(s):
                raise TypeError(f"{owner}: sequence {i} must be a Tensor, got {type(s).__name__}")
            sequences[i] = s = mg.as_tensor(s)
        if s.ndim == 0:
            raise PackingError(f"{owner}: sequence {i} is 0-d; each sequence must be (L, *)")
    first = sequences[0]
    for i, s in enumerate(sequences[1:], 1):
        if s.shape[1:] != first.shape[1:] or s.dtype != first.dtype or s.device != first.device:
            raise PackingError(f"{owner}: every sequence must have the same trailing shape, dtype and device; "
                             f"sequence 0 is {first.dtype}{first.shape} on {first.device}, "
                             f"sequence {i} is {s.dtype}{s.shape} on {s.device}")
    return sequences


def pad_sequence(sequences: Any, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack sequences of shapes (L_i, *) into one padded (T, B, *) tensor ((B, T, *) if ``batch_first``).

    T = max L_i; the missing steps hold ``padding_value``, after each sequence (``padding_side="right"``)
    or before it (``"left"``). Gradients flow back into every sequence.
    """
    if padding_side not in ("right", "left"):
        raise PackingError(f"pad_sequence: padding_side must be 'right' or 'left', got {padding_side!r}")
    sequences = _check_sequences("pad_sequence", sequences)
    lengths = numpy.array([s.shape[0] for s in sequences], dtype=numpy.int64)
    steps = int(lengths.max())
    t = numpy.arange(steps)[:, None]
    starts = numpy.concatenate(([0], numpy.cumsum(lengths)[:-1]))[None, :]
    first_real = 0 if padding_side == "right" else steps - lengths[None, :]      # step of each row 0
    position = t - first_real
    padding_row = int(lengths.sum())
    index = numpy.where((position >= 0) & (position < lengths[None, :]), starts + position, padding_row)
    if batch_first:
        index = index.T
    first = sequences[0]
    padding = mg.full((1, *first.shape[1:]), padding_value, dtype=first.dtype, device=first.device)
    rows = _gather(mg.concat([*sequences, padding], axis=0), index.reshape(-1))
    return rows.reshape((*index.shape, *first.shape[1:]))


def pack_sequence(sequences: Any, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences (L_i, *), each L_i ≥ 1 (decreasing with ``enforce_sorted``)."""
    sequences = _check_sequences("pack_sequence", sequences)
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences: Tensor, lengths: Any, batch_first: bool = False) -> list[Tensor]:
    """Undo :func:`pad_sequence`: the list of (L_i, *) sequences of a right-padded batch (a length may be 0)."""
    batch = padded_sequences.shape[0 if batch_first else 1]
    values = _lengths_array("unpad_sequence", lengths, batch, minimum=0)
    if batch_first:
        return [padded_sequences[b, :int(n)] for b, n in enumerate(values)]
    return [padded_sequences[:int(n), b] for b, n in enumerate(values)]


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """Undo :func:`pack_sequence`: the list of (L_i, *) sequences, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The inverse of a 1-D int64 ``permutation`` (``out[permutation[i]] = i``), as torch's (None gives None):
    it turns a PackedSequence's ``sorted_indices`` into its ``unsorted_indices``."""
    if permutation is None:
        return None
    permutation = mg.as_tensor(permutation)
    positions = mg.arange(permutation.numel(), dtype=permutation.dtype, device=permutation.device)
    return mg.empty_like(permutation).scatter(0, permutation, positions)
