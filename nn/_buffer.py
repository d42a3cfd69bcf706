"""``nn.Buffer``, as ``torch.nn.Buffer`` (PyTorch ≥ 2.5): ``self.running = nn.Buffer(t)`` registers a buffer.

As PyTorch's, ``nn.Buffer(data, persistent=True)`` gives a plain Tensor (``data`` detached, sharing its array and
keeping its ``requires_grad``) with the attributes ``_is_buffer = True`` and ``persistent``;
``isinstance(t, nn.Buffer)`` is True for such a tensor (and for its ``copy.copy``, ``copy.deepcopy`` and pickled
copies, which keep a tensor's attributes; not for results of ops or ``detach()``). Assigning one to a Module
attribute registers it with ``register_buffer(name, t, persistent)`` (``Module.__setattr__``), with PyTorch's checks
(a parameter's or a child module's name refuses it, an attribute that is neither a buffer nor registered raises a
KeyError).
"""

from __future__ import annotations

from typing import Any

import minigrad as mg
from minigrad import Tensor

__all__ = ["Buffer", "buffer_persistence"]


def _mark(tensor: Tensor, persistent: Any) -> None:
    """Make ``tensor`` an ``nn.Buffer`` (PyTorch's attributes)."""
    tensor.persistent = persistent   # type: ignore[attr-defined]
    tensor._is_buffer = True   # type: ignore[attr-defined]


def buffer_persistence(value: Any) -> bool | None:
    """``persistent`` of a tensor made by :class:`Buffer` (as a bool), None for any other value."""
    if not isinstance(value, Tensor) or not getattr(value, "_is_buffer", False):
        return None
    return bool(getattr(value, "persistent", True))


class _BufferMeta(type):
    def __instancecheck__(cls, instance: Any) -> bool:
        """``isinstance(t, nn.Buffer)``: a tensor marked as a buffer; a subclass of Buffer checks its own class,
        as PyTorch's."""
        if cls is Buffer and buffer_persistence(instance) is not None:
            return True
        return super().__instancecheck__(instance)


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
        buffer = data.detach().requires_grad_(data.requires_grad)
        _mark(buffer, persistent)
        return buffer
