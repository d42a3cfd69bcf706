"""Shared host memory for tensors, and how a tensor crosses a process boundary (torch.multiprocessing.reductions).

``Tensor.share_memory_`` moves a tensor's array into a ``SharedBuffer``: a shared mapping of a memory file
(``os.memfd_create`` on Linux, an unlinked temporary file elsewhere) whose descriptor the buffer keeps open. A
process forked afterwards maps the same pages; any other process gets them through the descriptor, which
``multiprocessing`` passes along when it pickles the tensor (a ``Queue``, a ``Pipe``, a ``Pool`` task, or the
arguments of a ``spawn``/``forkserver`` ``Process``): the reducer registered here sends the descriptor and the
array's layout (dtype, shape, strides, offset), and the receiver maps the same memory, so writes on either side
show on the other, as PyTorch's. Before that a tensor not yet shared moves into shared memory in place, as
PyTorch moves its storage (the sender's tensor ``is_shared()`` afterwards); a tensor that is a view of another
(``base[idx]``) goes as a shared copy instead, so the sender's view keeps aliasing its base: the receiver's
writes to it do not reach the sender (PyTorch would share the base's whole storage).

What crosses is the array and ``requires_grad``; the gradient, hooks and graph do not (PyTorch's rule). A tensor
that requires grad and is not a leaf, and a GPU tensor (CUDA IPC), raise instead. Only ``multiprocessing``'s own
pickler uses these reducers: ``pickle.dumps`` and ``copy.deepcopy`` still copy the numbers, and minigrad never
loads a pickle from a file.
"""

from __future__ import annotations

import mmap
import os
import tempfile
from multiprocessing import reduction
from typing import Any

import numpy

_TENSOR_CLASS: list = []   # minigrad.tensor.Tensor, once `register` has seen it (this module cannot import it)


class SharedBuffer(mmap.mmap):
    """A read-write shared mapping of a memory file, holding the file's descriptor ``fd`` for as long as it
    lives, so that the memory can be handed to another process. Closes the descriptor when collected."""

    fd: int

    def __del__(self) -> None:
        fd, self.fd = getattr(self, "fd", -1), -1
        if fd >= 0:
            os.close(fd)


def _memory_file(nbytes: int) -> int:
    """A new descriptor of an anonymous memory file of ``nbytes`` bytes (not inherited across exec)."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("minigrad-shared", os.MFD_CLOEXEC)
    else:   # macOS and the BSDs: an unlinked file, in RAM where /dev/shm exists
        folder = "/dev/shm" if os.path.isdir("/dev/shm") else None
        fd, path = tempfile.mkstemp(prefix="minigrad-shared-", dir=folder)
        os.unlink(path)
    os.ftruncate(fd, nbytes)
    return fd


def _map(fd: int, nbytes: int) -> SharedBuffer:
    """The buffer mapping ``nbytes`` bytes of memory file ``fd`` (the buffer takes ownership of ``fd``)."""
    try:
        buffer = SharedBuffer(fd, nbytes)   # MAP_SHARED, read-write
    except BaseException:
        os.close(fd)
        raise
    buffer.fd = fd
    return buffer


def _root(array: numpy.ndarray) -> numpy.ndarray | None:
    """The flat array made by ``numpy.frombuffer`` over a SharedBuffer that ``array`` views, or None."""
    while isinstance(array, numpy.ndarray):
        base = array.base
        if isinstance(base, memoryview):
            return array if isinstance(base.obj, SharedBuffer) else None
        array = base
    return None


def shared_copy(array: numpy.ndarray) -> numpy.ndarray:
    """A C-contiguous copy of host ``array`` (any shape, dtype) in a new SharedBuffer."""
    buffer = _map(_memory_file(max(array.nbytes, 1)), max(array.nbytes, 1))
    shared = numpy.frombuffer(buffer, dtype=array.dtype, count=array.size).reshape(array.shape)
    shared[...] = array
    return shared


def is_shared_array(array: Any) -> bool:
    """Whether ``array`` lies in shared memory (a SharedBuffer, or an anonymous shared ``mmap``)."""
    while isinstance(array, numpy.ndarray) and array.base is not None:
        array = array.base
    return isinstance(array, memoryview) and isinstance(array.obj, mmap.mmap)


def _array_handle(array: numpy.ndarray) -> tuple:
    """How a shared array crosses: its buffer's descriptor (``DupFd``: duplicated into the receiving process),
    the buffer's size and the array's layout within it: ``(fd, nbytes, dtype, shape, strides, offset)``."""
    root = _root(array)
    buffer = root.base.obj
    offset = array.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    return reduction.DupFd(buffer.fd), len(buffer), array.dtype.str, array.shape, array.strides, offset


def _rebuild_array(fd: Any, nbytes: int, dtype: str, shape: tuple, strides: tuple, offset: int) -> numpy.ndarray:
    """The receiving side of ``_array_handle``: map the same memory file and lay the array over it."""
    root = numpy.frombuffer(_map(fd.detach(), nbytes), dtype=numpy.uint8)
    return numpy.ndarray(shape, numpy.dtype(dtype), buffer=root, offset=offset, strides=strides)


def _rebuild_tensor(cls: type, handle: tuple, requires_grad: bool) -> Any:
    """The receiving side of ``reduce_tensor``: a leaf of class ``cls`` over the shared array (a Parameter gets
    ``requires_grad`` through its constructor, as PyTorch's ``rebuild_tensor``)."""
    array = _rebuild_array(*handle)
    tensor_class = _TENSOR_CLASS[0] if _TENSOR_CLASS else _tensor_class(cls)
    tensor = tensor_class(array, dtype=array.dtype)
    if cls is tensor_class:
        return tensor.requires_grad_(requires_grad) if requires_grad else tensor
    return cls(tensor, requires_grad=requires_grad)


def _tensor_class(cls: type) -> type:
    """minigrad's Tensor among ``cls``'s bases (a spawned process rebuilds before anything registered it)."""
    return next(base for base in cls.__mro__ if base.__module__ == "minigrad.tensor" and base.__name__ == "Tensor")


def reduce_tensor(tensor: Any) -> tuple:
    """``multiprocessing``'s pickling of a tensor: its array through shared memory (moving a tensor not yet
    shared there in place, a view as a shared copy: see the module docstring), plus ``requires_grad``."""
    if tensor.requires_grad and not tensor.is_leaf:
        raise RuntimeError("Cowardly refusing to serialize non-leaf tensor which requires_grad, since autograd "
                           "does not support crossing process boundaries.  If you just want to transfer the data, "
                           "call detach() on the tensor before serializing (e.g., putting it on the queue).")
    if tensor.device.type != "cpu":
        raise NotImplementedError(f"minigrad.multiprocessing: cannot send a tensor on {tensor.device} to another "
                                  "process (no CUDA IPC in minigrad); send tensor.cpu() and move it back there")
    array = tensor.data
    if _root(array) is None:
        if getattr(tensor, "_view", None) is None and not is_shared_array(array):
            tensor.share_memory_()   # in place, as PyTorch moves the storage
            array = tensor.data
        if _root(array) is None:   # a view, or shared before through an anonymous mapping: a shared copy
            array = shared_copy(array)
    return _rebuild_tensor, (type(tensor), _array_handle(array), bool(tensor.requires_grad))


def register(tensor_class: type) -> None:
    """Register ``reduce_tensor`` with multiprocessing's pickler for ``tensor_class`` and each of its subclasses
    defined so far (Parameter …): the pickler looks reducers up by exact class, as it does for PyTorch's."""
    if not _TENSOR_CLASS:
        _TENSOR_CLASS.append(tensor_class)
    pending = [tensor_class]
    while pending:
        cls = pending.pop()
        reduction.register(cls, reduce_tensor)
        pending.extend(cls.__subclasses__())

