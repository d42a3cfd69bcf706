"""``nn.Buffer``, as ``torch.nn.Buffer`` (PyTorch ≥ 2.5): ``self.running = nn.Buffer(t)`` registers a buffer.

As PyTorch's, ``nn.Buffer(data, persistent=True)`` gives a plain Tensor (``data`` detached, sharing its array and
keeping its ``requires_grad``) marked as a buffer; ``isinstance(t, nn.Buffer)`` is True for a marked tensor.
Assigning one to a Module attribute registers it with ``register_buffer(name, t, persistent)``
(``Module.__setattr__``), with PyTorch's checks (a parameter's or a child module's name refuses it, an attribute
that is neither a buffer nor registered raises a KeyError).
"""

from __future__ import annotations

import weakref
from typing import Any

import minigrad as mg
from minigrad import Tensor

__all__ = ["Buffer", "buffer_persistence"]

# id(marked tensor) → (weak reference to it, persistent). A Tensor has __slots__, so PyTorch's attributes on
# the tensor live here; keyed by id, since a Tensor's == is elementwise (a WeakKeyDictionary would compare them).
_MARKED: dict[int, tuple[weakref.ref, bool]] = {}


def _mark(tensor: Tensor, persistent: bool) -> None:
    key = id(tensor)
    _MARKED[key] = (weakref.ref(tensor, lambda _, key=key: _MARKED.pop(key, None)), persistent)


def buffer_persistence(value: Any) -> bool | None:
    """``persistent`` of a tensor made by :class:`Buffer`, None for any other value."""
    entry = _MARKED.get(id(value))
    return entry[1] if entry is not None and entry[0]() is value else None


class _BufferMeta(type):
    def __instancecheck__(cls, instance: Any) -> bool:
        return buffer_persistence(instance) is not None


class Buffer(Tensor, metaclass=_BufferMeta):
    """A tensor to register as a module buffer: ``nn.Buffer(data=None, *, persistent=True)`` → a Tensor.

    ``data``: a Tensor (None: an empty float tensor of shape (0,)). ``persistent=False`` keeps it out of the
    state dict.
    """

    def __new__(cls, data: Tensor | None = None, *, persistent: bool = True) -> Tensor:  # type: ignore[misc]
        if data is None:
            data = mg.empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"nn.Buffer: data must be a Tensor, got {type(data).__name__}")
        if not isinstance(persistent, bool):
            raise TypeError(f"nn.Buffer: persistent must be a bool, got {persistent!r}")
        buffer = data.detach().requires_grad_(data.requires_grad)
        _mark(buffer, persistent)
        return buffer
