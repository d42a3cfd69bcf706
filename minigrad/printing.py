"""How tensors print: PyTorch's layout and number format, and ``set_printoptions``.

``repr(x)`` reads as PyTorch's ``repr`` of the same values::

    tensor([[ 1.5000, -0.2500],
            [ 3.0000,  0.0010]], dtype=float64, requires_grad=True)

The rules, as PyTorch applies them (``torch/_tensor_str.py`` describes the same behaviour):

* One number format for the whole tensor, chosen from its finite non-zero values (those shown
  when the tensor is summarized): whole numbers print as ``3.``; otherwise ``precision`` digits
  after the point, or scientific notation (``1.0000e-05``) when the largest magnitude is over
  1000 times the smallest, over 1e8, or the smallest is under 1e-4 (``sci_mode`` forces it on or
  off). Every element is right-aligned to the widest; nan/inf/zeros do not count towards the width.
  Integers and bools print as Python prints them, right-aligned too. A complex element is its real
  part then its imaginary part (each with its own format) and ``j``.
* Rows wrap at ``linewidth``; dims nest with one more space of indent per level and one blank
  line between blocks per dim below the top. Past ``threshold`` elements only ``edgeitems`` items
  show at each end of every dim, with ``...`` between.
* Suffixes after the values: the device (when it is not the default device), ``size=`` (empty
  tensors of other than 1 dim), the dtype (when it is not the default: float, its complex pair,
  int64 and bool need none), ``grad_fn=<MulBackward0>`` (the node's PyTorch name, ``grad_fn.name()``) or
  ``requires_grad=True``; one that would pass ``linewidth`` starts a new line.

minigrad's own wording: the dtype is NumPy's name (``dtype=float64``, PyTorch's ``torch.float64``).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy

from . import backend, dtypes
from .arguments import as_bool
from .recording import note_read

__all__ = ["PRINT_OPTIONS", "get_printoptions", "set_printoptions", "tensor_repr"]

# The options in force (PyTorch's names and defaults); set_printoptions changes them.
PRINT_OPTIONS: dict = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}
_PROFILES = {"default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
             "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
             "full": {"precision": 4, "threshold": math.inf, "edgeitems": 3, "linewidth": 80}}


def set_printoptions(precision: int | None = None, threshold: float | None = None, edgeitems: int | None = None,
                     linewidth: int | None = None, profile: str | None = None, sci_mode: bool | None = None) -> None:
    """How tensors print, as ``torch.set_printoptions``.

    ``precision``: digits after the point (4); ``threshold``: the element count past which a summary
    (``...``) is shown (1000; ``math.inf`` never summarizes); ``edgeitems``: items kept at each end of
    every dim in a summary (3); ``linewidth``: characters per line (80); ``profile``: ``"default"``,
    ``"short"`` (precision 2, edgeitems 2) or ``"full"`` (no summary), applied first, then the other
    options given; ``sci_mode``: True or False forces scientific notation on or off, None lets each
    tensor choose. As in PyTorch, every call sets ``sci_mode`` (leaving it out means None).
    """
    if profile is not None and profile not in _PROFILES:
        raise ValueError(f"set_printoptions: profile must be one of {sorted(_PROFILES)}, got {profile!r}")
    given = {"precision": precision, "threshold": threshold, "edgeitems": edgeitems, "linewidth": linewidth}
    given = {k: v for k, v in given.items() if v is not None}
    for key, value in given.items():   # everything checked before anything changes
        allowed = numbers.Real if key == "threshold" else numbers.Integral   # threshold=math.inf: PyTorch's idiom
        if isinstance(value, bool) or not isinstance(value, allowed) or not value >= 0:
            kind = "a non-negative number" if key == "threshold" else "a non-negative int"
            raise TypeError(f"set_printoptions: {key} must be {kind}, got {value!r}")
        if isinstance(value, numbers.Integral):
            given[key] = int(value)   # a NumPy int is kept as a Python one
    if sci_mode is not None:
        sci_mode = as_bool(sci_mode, "set_printoptions", "sci_mode")
    if profile is not None:
        PRINT_OPTIONS.update(_PROFILES[profile])
    PRINT_OPTIONS.update(given, sci_mode=sci_mode)


def get_printoptions() -> dict:
    """The options in force, as a dict ``set_printoptions(**options)`` takes (``torch._tensor_str``'s;
    PyTorch has no top-level ``get_printoptions``, so neither has ``mg``)."""
    return dict(PRINT_OPTIONS)


# --- one format for all the numbers of a tensor ------------------------------------------------------------

class _NumberFormat:
    """How each number of one tensor (or of the real or imaginary parts of a complex one) prints.

    ``values``: a host array of the numbers shown (all of them, or a summary's edges).
    """

    def __init__(self, values: numpy.ndarray, precision: int, sci_mode: bool | None) -> None:
        self.floating = values.dtype.kind == "f"
        self.precision = precision
        self.whole = True          # every finite value is a whole number: `3.` and no digits after the point
        self.scientific = False
        self.width = 1
        if not self.floating:      # ints and bools: as Python prints them
            self.width = max([1] + [len(str(v)) for v in values.ravel().tolist()])
            return
        flat = values.astype(numpy.float64).ravel()   # float16 and float32 widen exactly
        shown = flat[numpy.isfinite(flat) & (flat != 0)]
        if shown.size == 0:        # only zeros, nan and inf: whole-number format
            return
        magnitudes = numpy.abs(shown)
        smallest, largest = float(magnitudes.min()), float(magnitudes.max())
        self.whole = bool((shown == numpy.ceil(shown)).all())
        if sci_mode is None:
            self.scientific = largest / smallest > 1000.0 or largest > 1.0e8 or smallest < 1.0e-4
        else:
            self.scientific = sci_mode
        # nan, inf and zeros do not count towards the width (as in PyTorch: `tensor([1., -inf])`)
        self.width = max(len(self._text(v)) for v in shown.tolist())

    def _text(self, value: Any) -> str:
        """``value`` without padding."""
        if not self.floating:
            return str(value)
        if self.scientific:
            return f"{value:.{self.precision}e}"
        if self.whole:
            return f"{value:.0f}" if math.isinf(value) or math.isnan(value) else f"{value:.0f}."
        return f"{value:.{self.precision}f}"

    def __call__(self, value: Any) -> str:
        """``value`` right-aligned to the width of the widest finite non-zero number."""
        return self._text(value).rjust(self.width)


class _ElementFormat:
    """Text of one element: a real number, or a complex one as ``real`` then ``±imag`` and ``j``."""

    def __init__(self, values: numpy.ndarray, precision: int, sci_mode: bool | None) -> None:
        self.complex = values.dtype.kind == "c"
        if self.complex:
            self.real = _NumberFormat(values.real, precision, sci_mode)
            self.imag: _NumberFormat | None = _NumberFormat(values.imag, precision, sci_mode)
            self.width = self.real.width + self.imag.width + 1   # the `j`
        else:
            self.real, self.imag = _NumberFormat(values, precision, sci_mode), None
            self.width = self.real.width

    def __call__(self, value: Any) -> str:
        if self.imag is None:
            return self.real(value)
        imaginary = (self.imag(value.imag) + "j").lstrip()
        sign = "" if imaginary[0] in "+-" else "+"
        return self.real(value.real) + sign + imaginary


# --- layout ----------------------------------------------------------------------------------------------------

def _shown_part(array: Any, edgeitems: int) -> tuple[numpy.ndarray, list[bool]]:
    """A summary's shown items: ``edgeitems`` at each end of every dim longer than twice that, copied to
    the host (only these leave a GPU), and for each dim whether it was cut."""
    xp = backend.array_module(array)
    cut = []
    for axis, size in enumerate(array.shape):
        cut.append(size > 2 * edgeitems)
        if cut[-1]:
            before = (slice(None),) * axis
            array = xp.concatenate([array[before + (slice(0, edgeitems),)],
                                    array[before + (slice(size - edgeitems, size),)]], axis=axis)
    return backend.to_numpy(array), cut


def _vector(values: numpy.ndarray, cut: bool, indent: int, element: _ElementFormat, options: dict) -> str:
    """``[a, b, c, ...]`` of a 1-d host array, wrapped so each line fits ``linewidth`` after ``indent``."""
    texts = [element(v) for v in values.tolist()]
    if cut:
        texts.insert(options["edgeitems"], " ...")
    per_line = max(1, (options["linewidth"] - indent) // (element.width + 2))   # `, ` after each
    lines = [", ".join(texts[start:start + per_line]) for start in range(0, len(texts), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nested(values: numpy.ndarray, cuts: list[bool], indent: int, element: _ElementFormat, options: dict) -> str:
    """The bracketed text of a host array of any number of dims, its first bracket at column ``indent``."""
    if values.ndim == 0:
        return element(values.item())
    if values.ndim == 1:
        return _vector(values, cuts[0], indent, element, options)
    blocks = [_nested(block, cuts[1:], indent + 1, element, options) for block in values]
    if cuts[0]:
        blocks.insert(options["edgeitems"], "...")
    # one more newline between blocks per dim below: a blank line between matrices of a 3-d tensor
    return "[" + ("," + "\n" * (values.ndim - 1) + " " * (indent + 1)).join(blocks) + "]"


def _values_text(array: Any, indent: int, options: dict) -> str:
    """The bracketed values of a non-empty array (NumPy or CuPy) with the options in force."""
    summarize = array.size > options["threshold"]
    edgeitems = options["edgeitems"]
    if summarize and edgeitems == 0 and array.ndim > 0:
        return "[...]"
    if summarize:
        values, cuts = _shown_part(array, edgeitems)
    else:
        values, cuts = backend.to_numpy(array), [False] * array.ndim
    element = _ElementFormat(values, options["precision"], options["sci_mode"])
    return _nested(values, cuts, indent, element, options)


def _shows_device(device: backend.Device) -> bool:
    """PyTorch names the device unless it is the default device's type (and, for a GPU, the current one)."""
    if device.type != backend.get_default_device().type:
        return True
    return device.type == "cuda" and device.index != backend.Device("cuda").index


def _with_suffixes(text: str, suffixes: list[str], indent: int, linewidth: int) -> str:
    """``text`` then ``, suffix`` for each, each that would pass ``linewidth`` on a new line at ``indent``.

    A dtype is measured as PyTorch spells it (``dtype=torch.float64``, six characters more), so the lines break
    where PyTorch's break."""
    # PyTorch's measure of the line so far: two more than the last line's length (room for ", ")
    used = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        width = len(suffix) + (len("torch.") if suffix.startswith("dtype=") else 0)
        if used + width + 2 > linewidth:
            text += ",\n" + " " * indent + suffix
            used = indent + width
        else:
            text += ", " + suffix
            used += width + 2
    return text + ")"


def _is_parameter_class(cls: type) -> bool:
    """Whether ``cls`` is ``nn.Parameter`` itself (the engine never imports nn)."""
    return cls.__name__ == "Parameter" and cls.__module__.split(".")[0] == "nn"


def tensor_repr(tensor: Any) -> str:
    """``repr(tensor)`` in PyTorch's layout (``Tensor.__repr__``; a Parameter adds its own first line).

    As PyTorch's, a Tensor or an ``nn.Parameter`` prints as ``tensor(...)``, a subclass as ``MyTensor(...)``,
    and a subclass of Parameter as ``Parameter(MyParameter(...))``."""
    note_read(tensor, "__repr__")   # inside an mg.compile capture: printing reads the values
    options = PRINT_OPTIONS
    array = tensor.data
    if hasattr(array, "requires_grad"):   # p.data = <a Tensor>: say so rather than fail inside the layout
        return f"<Tensor whose .data holds a {type(array).__name__}, not an array: assign arrays to .data>"
    classes = type(tensor).__mro__
    plain = classes[0].__module__ == "minigrad.tensor" or _is_parameter_class(classes[0])
    prefix = "tensor(" if plain else f"{classes[0].__name__}("
    indent = len(prefix)
    suffixes = []
    if _shows_device(tensor.device):
        suffixes.append(f"device='{tensor.device}'")
    if array.size == 0:
        text = "[]"
        if array.ndim != 1:   # NumPy's and PyTorch's way to tell `tensor([])` from an empty (0, 3)
            suffixes.append(f"size={tuple(int(n) for n in array.shape)}")
        if array.dtype != dtypes.get_default_dtype():   # no value shows an int or a bool here
            suffixes.append(f"dtype={array.dtype}")
    else:
        text = _values_text(array, indent, options)
        if not options["edgeitems"]:
            suffixes.append(f"size={tuple(int(n) for n in array.shape)}")
        default = (dtypes.get_default_dtype(), dtypes.default_complex_dtype(), dtypes.int64, dtypes.bool_)
        if array.dtype not in default:
            suffixes.append(f"dtype={array.dtype}")
    if tensor._node is not None:   # PyTorch's name of the node (grad_fn.name()), as PyTorch prints it
        suffixes.append(f"grad_fn=<{tensor.grad_fn.name()}>")
    elif tensor.requires_grad:
        suffixes.append("requires_grad=True")
    text = _with_suffixes(prefix + text, suffixes, indent, options["linewidth"])
    if not plain and any(_is_parameter_class(cls) for cls in classes):
        text = f"Parameter({text})"
    return text
