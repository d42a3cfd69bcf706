"""PyTorch's storages (``torch.storage``): the memory a tensor views, as ``x.untyped_storage()`` and the deprecated
``x.storage()`` give it.

A minigrad tensor's memory is its array's: the array at the end of NumPy's ``.base`` chain (CuPy's likewise),
which every view of it shares. So ``a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()`` says
whether two tensors view the same memory, as PyTorch programs test it, and ``x.data_ptr()`` is
``x.untyped_storage().data_ptr() + x.storage_offset() * x.element_size()``.

``UntypedStorage`` reads that memory as bytes (``size()``, ``len()`` and ``nbytes()`` count bytes, items are
ints 0..255); ``TypedStorage`` as elements of the tensor's dtype. Both are read-only windows here: they keep
the memory alive and give ``data_ptr``, sizes, ``device``, ``tolist()`` and items, which is what programs use
them for; writing through a storage (``copy_``, ``fill_``, ``resize_``) raises NotImplementedError.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import numpy

from . import backend
from .arguments import ArgumentTypeError, ShapeMismatchError, allocating, as_dtype
from .constructors import tensor
from .dtypes import get_default_dtype

__all__ = ["TypedStorage", "UntypedStorage", "is_storage"]

TYPED_STORAGE_WARNING = ("TypedStorage is deprecated. It will be removed in the future and UntypedStorage will be the "
                         "only storage class. This should only matter to you if you are using storages directly.  To "
                         "access UntypedStorage directly, use tensor.untyped_storage() instead of tensor.storage()")
_warned = False   # PyTorch warns once per process


def warn_typed_storage(stacklevel: int = 3) -> None:
    """PyTorch's deprecation warning for TypedStorage, the first time only (as PyTorch's)."""
    global _warned
    if not _warned:
        _warned = True
        warnings.warn(TYPED_STORAGE_WARNING, UserWarning, stacklevel=stacklevel)


def root_array(array: Any) -> Any:
    """The array that owns ``array``'s memory: the end of its ``.base`` chain (NumPy's strided views hang from
    their array through a holder object, whose ``.base`` is followed too)."""
    root = array
    while True:
        base = root.base if backend.is_array(root.base) else getattr(root.base, "base", None)
        if not backend.is_array(base):
            return root
        root = base


def address(array: Any) -> int:
    """Where ``array``'s first element lies in memory (host or device)."""
    if type(array) is numpy.ndarray:
        return int(array.__array_interface__["data"][0])
    return int(array.data.ptr)


def _host_bytes(array: Any) -> numpy.ndarray:
    """The bytes of an array that owns its memory, as a 1-D host uint8 array (a copy from a GPU)."""
    host = array if type(array) is numpy.ndarray else array.get()
    if not (host.flags.c_contiguous or host.flags.f_contiguous):   # a broadcast or holder-made root: its bytes
        host = numpy.ascontiguousarray(host)
    return host.reshape(-1, order="A").view(numpy.uint8)


def _index(i: Any, size: int, name: str) -> int:
    if not isinstance(i, (int, numpy.integer)) or isinstance(i, bool):
        raise TypeError(f"{name}: can't index a storage with a {type(i).__name__}")
    i = int(i)
    if not -size <= i < size:
        raise IndexError(f"index {i} out of range for storage of size {size}")
    return i + size if i < 0 else i


class UntypedStorage:
    """The bytes a tensor views (torch.UntypedStorage): ``x.untyped_storage()``.

    ``UntypedStorage(n, device=None)`` makes ``n`` zero bytes. ``size()``, ``len()`` and ``nbytes()`` count
    bytes; ``s[i]`` is byte i (an int), ``s[i:j]`` a storage of those bytes (a copy here).
    """

    def __init__(self, *args: Any, device: Any = None) -> None:
        if len(args) > 1:
            raise TypeError(f"UntypedStorage: takes a size or a sequence of byte values, got {len(args)} arguments")
        data = args[0] if args else 0
        dev = backend.resolve_device("cpu" if device is None else device)
        if isinstance(data, (int, numpy.integer)) and not isinstance(data, bool):
            host = _zeros("UntypedStorage", data, numpy.uint8)
        else:
            try:
                host = numpy.asarray(list(data), dtype=numpy.uint8)
            except (TypeError, ValueError, OverflowError) as error:
                raise TypeError(f"UntypedStorage: takes a size or a sequence of byte values (ints in [0, 255]), "
                                f"got {type(data).__name__}") from error
        self._array = backend.to_device(host, dev) if dev.type != "cpu" else host

    @classmethod
    def _of(cls, array: Any) -> UntypedStorage:
        storage = object.__new__(cls)
        storage._array = root_array(array)
        return storage

    def data_ptr(self) -> int:
        """The address of the first byte."""
        return address(self._array)

    def nbytes(self) -> int:
        """The number of bytes."""
        return int(self._array.nbytes)

    def size(self) -> int:
        """The number of bytes (PyTorch's UntypedStorage.size())."""
        return self.nbytes()

    def __len__(self) -> int:
        return self.nbytes()

    def element_size(self) -> int:
        """1: an untyped storage's items are bytes."""
        return 1

    @property
    def device(self) -> backend.Device:
        return backend.device_of(self._array)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def type(self) -> str:
        """The class's qualified name, as PyTorch's ``storage.type()``: ``"minigrad.storage.UntypedStorage"``."""
        return "minigrad.storage.UntypedStorage"

    def tolist(self) -> list:
        """The bytes as ints 0..255."""
        return _host_bytes(self._array).tolist()

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return UntypedStorage(_host_bytes(self._array)[i].tolist(), device=self.device)
        return int(_host_bytes(self._array)[_index(i, self.nbytes(), "UntypedStorage")])

    def __iter__(self) -> Any:
        return iter(self.tolist())

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, UntypedStorage) and other._array is self._array

    def __hash__(self) -> int:
        return id(self._array)

    def __repr__(self) -> str:
        head = "\n".join(f" {b}" for b in self.tolist())
        tail = f"[minigrad.storage.UntypedStorage(device={self.device}) of size {self.nbytes()}]"
        return f"{head}\n{tail}" if head else tail

    def untyped(self) -> UntypedStorage:
        """Itself: an untyped storage is already bytes."""
        return self

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        """``copy_``, ``fill_``, ``resize_``: NotImplementedError (storages are read-only views of a tensor)."""
        raise NotImplementedError("minigrad's storages are read-only views of a tensor's memory: write through "
                                  "the tensor (x.copy_(), x.fill_(), x.resize_())")

    copy_ = fill_ = resize_ = _refuse


class TypedStorage:
    """A tensor's memory read as elements of its dtype (torch.TypedStorage, deprecated): ``x.storage()``.

    ``size()`` and ``len()`` count elements, ``element_size()`` is the dtype's size, ``s[i]`` is element i (a
    Python number); ``data_ptr()`` and ``nbytes()`` are the untyped storage's.
    """

    def __init__(self, *args: Any, device: Any = None, dtype: Any = None, wrap_storage: Any = None,
                 _internal: bool = False) -> None:
        """PyTorch's forms: ``TypedStorage()`` (empty), ``TypedStorage(size, dtype=, device=)`` (zeros here, where
        PyTorch's memory is uninitialised), ``TypedStorage(sequence, dtype=, device=)``, and
        ``TypedStorage(wrap_storage=untyped, dtype=)``; ``dtype`` defaults to the default float dtype. minigrad's
        own ``TypedStorage(untyped, dtype)`` reads a tensor's memory (``x.storage()``)."""
        if len(args) == 2 and isinstance(args[0], UntypedStorage) and wrap_storage is None:   # x.storage()'s
            (wrap_storage, dtype), args = args, ()
        else:
            warn_typed_storage()
        if wrap_storage is not None:
            if args or device is not None or dtype is None or not isinstance(wrap_storage, UntypedStorage):
                raise ArgumentTypeError("TypedStorage: wrap_storage= takes an UntypedStorage and a dtype=, with no "
                                        f"other argument (got {type(wrap_storage).__name__}, {len(args)} positional "
                                        f"arguments, dtype={dtype}, device={device})")
            self._untyped_storage = wrap_storage
            self.dtype = as_dtype(dtype, "TypedStorage")
            return
        dtype = get_default_dtype() if dtype is None else as_dtype(dtype, "TypedStorage")
        self._untyped_storage = UntypedStorage._of(_typed_array(args, dtype, device))
        self.dtype = numpy.dtype(dtype)

    def data_ptr(self) -> int:
        """The address of the first byte (the untyped storage's)."""
        return self._untyped_storage.data_ptr()

    def nbytes(self) -> int:
        """The number of bytes (the untyped storage's)."""
        return self._untyped_storage.nbytes()

    def element_size(self) -> int:
        """Bytes per element: the dtype's itemsize."""
        return int(self.dtype.itemsize)

    def size(self) -> int:
        """The number of elements."""
        return self.nbytes() // self.element_size()

    def __len__(self) -> int:
        return self.size()

    @property
    def device(self) -> backend.Device:
        return self._untyped_storage.device

    @property
    def is_cuda(self) -> bool:
        return self._untyped_storage.is_cuda

    def untyped(self) -> UntypedStorage:
        """The same memory read as bytes."""
        return self._untyped_storage

    def type(self) -> str:
        """The class's qualified name, as PyTorch's ``storage.type()``: ``"minigrad.storage.TypedStorage"``."""
        return "minigrad.storage.TypedStorage"

    def _values(self) -> numpy.ndarray:
        data = _host_bytes(self._untyped_storage._array)
        return data[:self.size() * self.element_size()].view(self.dtype)

    def tolist(self) -> list:
        """The elements as Python numbers."""
        return self._values().tolist()

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            raise RuntimeError("slices are only supported in UntypedStorage.__getitem__")
        return self._values()[_index(i, self.size(), "TypedStorage")].item()

    def __iter__(self) -> Any:
        return iter(self.tolist())

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, TypedStorage) and other.dtype == self.dtype \
            and other._untyped_storage == self._untyped_storage

    def __hash__(self) -> int:
        return hash((self._untyped_storage, self.dtype))

    def __repr__(self) -> str:
        head = "\n".join(f" {v}" for v in self.tolist())
        tail = f"[minigrad.storage.TypedStorage(dtype={self.dtype}, device={self.device}) of size {self.size()}]"
        return f"{head}\n{tail}" if head else tail

    copy_ = fill_ = resize_ = UntypedStorage._refuse


def _zeros(name: str, size: int, dtype: Any) -> numpy.ndarray:
    """``size`` zeros (size,) of ``dtype`` on the host for a new storage; a negative size is refused."""
    if size < 0:   # PyTorch: RuntimeError from its allocator
        raise ShapeMismatchError(f"{name}: a size must be non-negative, got {int(size)}")
    with allocating(name):
        return numpy.zeros(int(size), dtype=dtype)


def _typed_array(args: tuple, dtype: Any, device: Any) -> Any:
    """The array (n,) of ``TypedStorage(size)`` (zeros) or ``TypedStorage(sequence)`` on ``device``, with PyTorch's
    checks of the arguments and of each value."""
    data = args[0] if args else 0
    if len(args) > 1 or isinstance(data, (float, UntypedStorage)):   # PyTorch's invalid combination
        raise ArgumentTypeError(f"TypedStorage: takes a size or a sequence of values, with dtype= and device= "
                                f"keywords, got {', '.join(type(a).__name__ for a in args)}")
    if isinstance(data, (int, numpy.integer)):
        values = _zeros("TypedStorage", data, dtype)
    else:
        if isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
            raise TypeError(f"TypedStorage: takes a size or a sequence of values, got {type(data).__name__!r}")
        values = tensor(list(data), dtype=dtype).numpy().reshape(-1)   # PyTorch's checks of each value
    dev = backend.resolve_device("cpu" if device is None else device)
    return backend.to_device(values, dev) if dev.type != "cpu" else values


def is_storage(obj: Any) -> bool:
    """Whether ``obj`` is a storage (torch.is_storage): ``x.untyped_storage()``, ``x.storage()``."""
    return isinstance(obj, (UntypedStorage, TypedStorage))
