"""What the ``nn`` package borrows from the engine's internals, in one place.

The import contract (pyproject.toml) keeps ``nn`` on minigrad's public API; the few internals its layers need
to behave as PyTorch's are re-exported here, so each one is a visible, reviewed choice:

* ``ArgumentTypeError``: PyTorch's RuntimeError/TypeError for an argument of the wrong kind (a bool tensor where
  an int or a number is read);
* ``fresh_memory``: marks an op's result that views a temporary of its own as owning that memory, so in-place ops
  may write it (a convolution's output);
* ``is_torch_tensor``: tells a PyTorch tensor without importing torch (``load_state_dict`` takes them);
* ``lay_out_as_torch``: a new result laid out in the strides PyTorch's TensorIterator gives it;
  ``gradient_layout``: an activation's input gradient laid out as PyTorch's backward kernel lays it out;
* ``kernels``: the building blocks of elementwise kernels (``select``, ``chunked``: ops/_kernels.py) that
  hardswish shares with the erf family.

Integer arguments go through :mod:`minigrad.int_arguments` directly (it is public).
"""

from __future__ import annotations

from .arguments import ArgumentTypeError
from .ops import _kernels as kernels
from .ops._util import fresh_memory
from .ops.iterator_layout import gradient_layout, lay_out_as_torch
from .tensor import is_torch_tensor

__all__ = ["ArgumentTypeError", "fresh_memory", "gradient_layout", "is_torch_tensor", "kernels", "lay_out_as_torch"]
