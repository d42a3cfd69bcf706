"""``mg.save`` / ``mg.load`` (also ``nn.save`` / ``nn.load``): checkpoints as ``.npz``, never with pickle.

What can be saved: a state dict (name → Tensor, NumPy array or Python
scalar: bool, int of any size, float, complex, str, bytes, bytearray or None), or any
nesting of dicts, OrderedDicts, lists and tuples of those — for example
``{"model": model.state_dict(), "optimizer": opt.state_dict(), "step": 1200}``.

Layout on disk: an ordinary NumPy ``.npz`` archive. Each array sits under the
path of its keys joined by ``/`` (``model/encoder.weight_hh_l0``,
``optimizer/state/0/exp_avg``, ``step``), so ``numpy.load`` reads it as is.
One extra entry, ``__minigrad__``, holds the nesting as JSON text (which
containers are dicts, OrderedDicts, lists or tuples; whether an entry was an int, a float,
a bool, a string or None) so ``load`` gives back the same structure, with
arrays as ``mg.Tensor``s and scalars as Python scalars. As ``torch.save``
keeps them, an OrderedDict loads as one, with its ``_metadata`` (the module
versions ``Module.state_dict()`` records, which ``load_state_dict`` reads);
an int beyond int64 is stored as hexadecimal text. A ``.npz`` without that
entry loads too: its keys are split on ``/`` into nested dicts.

As ``torch.save``, a tensor keeps what it was beyond its values: one that
required grad is loaded requiring grad (an ``nn.Parameter`` as a Parameter),
the same Tensor saved twice loads as one object, and a host tensor that views
memory beyond itself (a slice, a transpose) loads as a view with its strides and
storage offset, sharing memory with the other tensors saved from that memory.
As ``torch.save`` saves a view's whole storage, that memory is saved too: as the
saved tensor that is all of it, or else under a hidden key
``__minigrad__/storage/<n>``. Each entry still holds its own values, so
``numpy.load`` reads every key.

Saving to a path is atomic: the archive is written to a temporary file in the
same folder, flushed to disk (fsync) and renamed over ``path``, so a crash
never leaves a half-written checkpoint under the real name. As ``open(path, "wb")``
would, a symlink is written through (its target is replaced), a file that
exists keeps its permissions, and a device or FIFO (``/dev/null``) is written
to, not replaced. A binary file
object (``io.BytesIO``, ``open(..., "wb")``) is written in place.

Loading treats the file as hostile (see :mod:`minigrad._checkpoint_reader`):
every failure is a :class:`CheckpointError` naming the file and the key.
"""

from __future__ import annotations

import errno
import io
import json
import os
import stat
import tempfile
import zipfile
from collections import OrderedDict
from typing import Any, BinaryIO

import numpy

from . import backend
from ._checkpoint_reader import (
    LAYOUT_KEY,
    MAX_CONTAINER_DEPTH,
    MAX_JSON_DEPTH,
    MAX_RATIO,
    MAX_SCALAR_BYTES,
    STORAGE_PREFIX,
    CheckpointError,
    CheckpointNotFoundError,
    _json_depth,
    _whole_elements,
    read_checkpoint,
    supported_dtype,
)
from .tensor import Tensor
from .versions import memory_owner

try:   # NumPy 2
    from numpy.lib.array_utils import byte_bounds
except ImportError:  # pragma: no cover - NumPy 1
    from numpy import byte_bounds

__all__ = ["CheckpointError", "CheckpointNotFoundError", "add_safe_globals", "clear_safe_globals", "get_safe_globals",
           "load", "safe_globals", "save"]

_FORMAT = 1


# --- save -----------------------------------------------------------------------

def _leaf_array(value: Any) -> Any:
    """(array, kind) for a leaf, or None when ``value`` is not a leaf."""
    if isinstance(value, Tensor):
        return backend.to_numpy(value.data), "tensor"
    if backend.is_array(value):
        return backend.to_numpy(value), "tensor"
    if isinstance(value, numpy.generic):
        value = value.item()
    if isinstance(value, bool):
        return numpy.asarray(value), "bool"
    if isinstance(value, int):
        if not -(1 << 63) <= value < (1 << 63):   # Python's ints have no bound (hex text has no digit limit)
            return numpy.asarray(format(value, "x")), "bigint"
        return numpy.asarray(value, dtype=numpy.int64), "int"
    if isinstance(value, float):
        return numpy.asarray(value, dtype=numpy.float64), "float"
    if isinstance(value, complex):
        return numpy.asarray(value, dtype=numpy.complex128), "complex"
    if isinstance(value, str):
        if value.endswith("\x00"):
            raise ValueError("str")   # _flatten names the key
        return numpy.asarray(value), "str"
    if isinstance(value, (bytes, bytearray)):
        return numpy.frombuffer(bytes(value), dtype=numpy.uint8).copy(), \
            "bytearray" if isinstance(value, bytearray) else "bytes"
    return None


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_number_list(value: Any, kind: type) -> bool:
    return len(value) > 0 and all(type(v) is kind for v in value)


def _store(arrays: dict, path: str, array: numpy.ndarray) -> None:
    if path in arrays:
        raise ValueError(f"nn.save: two entries map to the same archive key {path!r}; rename one of them")
    arrays[path] = array


class _Saver:
    """What :func:`save` has met so far: the arrays by archive key, and each tensor it saved, to find the same
    tensor saved again (``same_as``) and host views of one saved tensor (``view_of``)."""

    def __init__(self) -> None:
        self.arrays: dict = {}
        self.tensors: dict = {}   # id(Tensor) -> (path, Tensor): the object is kept so the id stays its own
        self.host: list = []      # (path, node, original numpy array) per tensor saved from the host
        self.storages = 0         # hidden storage entries written (see link_views)

    def tensor_node(self, obj: Any, array: numpy.ndarray, path: str) -> dict:
        node: dict = {"leaf": path, "kind": "tensor"}
        if isinstance(obj, Tensor):
            first = self.tensors.get(id(obj))
            if first is not None:
                node["same_as"] = first[0]
                return node
            self.tensors[id(obj)] = (path, obj)
            if obj.requires_grad:
                node["requires_grad"] = True
            if type(obj).__name__ == "Parameter" and type(obj).__module__.split(".")[0] == "nn":
                node["parameter"] = True
            data = obj.data
        else:
            data = obj
        if type(data) is numpy.ndarray:   # (an empty one too: a view keeps its storage offset, as torch's)
            self.host.append((path, node, data))
        return node

    def link_views(self) -> None:
        """Save host tensors that view one memory as views, as ``torch.save`` saves a tensor's whole storage:
        the memory's owner (a C-contiguous array) is the storage. A saved tensor that is all of it serves as
        it; else it is saved once more under a hidden key (``STORAGE_PREFIX`` + n). Each other tensor of that
        memory is marked a view of the storage (byte offset and strides), so it loads with its strides and
        storage offset, sharing memory with the other tensors saved from it."""
        groups: dict = {}
        for entry in self.host:
            groups.setdefault(id(memory_owner(entry[2])), []).append(entry)
        for entries in groups.values():
            root, dtype = memory_owner(entries[0][2]), entries[0][2].dtype
            if not (isinstance(root, numpy.ndarray) and root.flags.c_contiguous and root.nbytes % dtype.itemsize == 0
                    and all(e[2].dtype == dtype for e in entries)):
                self.link_to_largest(entries)   # several dtypes (torch refuses them), or an owner in F order
                continue
            start = byte_bounds(root)[0]
            entries = [entry for entry in entries if _in_elements(entry[2], start)]
            if not entries:
                continue
            whole = [path for path, _, data in entries
                     if data.flags.c_contiguous and data.nbytes == root.nbytes and _address(data) == start]
            if whole:
                base_path = whole[0]
            else:
                base_path, self.storages = f"{STORAGE_PREFIX}{self.storages}", self.storages + 1
                storage = numpy.ndarray((root.nbytes // dtype.itemsize,), dtype, buffer=root)
                _store(self.arrays, base_path, storage)
            for path, node, data in entries:
                if path != base_path:
                    node.update(view_of=base_path, offset=_address(data) - start,
                                strides=[int(st) for st in data.strides])

    @staticmethod
    def link_to_largest(entries: list) -> None:
        """Mark each tensor whose memory lies inside the largest C-contiguous one of ``entries`` (one root
        buffer) and has its dtype as a view of it (byte offset and strides)."""
        bases = [e for e in entries if e[2].flags.c_contiguous]
        if len(entries) < 2 or not bases:
            return
        base_path, _, base = max(bases, key=lambda e: e[2].nbytes)   # the first of the largest
        start, end = byte_bounds(base)
        for path, node, data in entries:
            low, high = byte_bounds(data)
            if path != base_path and data.dtype == base.dtype and start <= low and high <= end \
                    and _in_elements(data, start):
                node.update(view_of=base_path, offset=_address(data) - start,
                            strides=[int(st) for st in data.strides])


def _address(array: numpy.ndarray) -> int:
    return int(array.__array_interface__["data"][0])


def _in_elements(array: numpy.ndarray, start: int) -> bool:
    """Whether ``array`` starts a whole number of its elements after address ``start`` and its strides are whole
    elements, as a torch view's storage offset and strides are (``np.ndarray(..., offset=2)`` over float32 memory
    is not: such an array is saved on its own, not as a view). The loader's own check of a view's offset and
    strides, so that every view saved loads."""
    return _whole_elements(_address(array) - start, array.strides, array.itemsize)


def _flatten(obj: Any, path: str, saver: _Saver, where: str, depth: int = 0) -> Any:
    """Walk ``obj``: put arrays in ``saver.arrays`` under their ``/`` path, return the JSON skeleton."""
    arrays = saver.arrays
    if depth > MAX_CONTAINER_DEPTH:
        # load refuses deeper layouts (a hostile file must not exhaust the stack), so never write one
        raise ValueError(f"nn.save: {where} is nested more than {MAX_CONTAINER_DEPTH} containers deep")
    if obj is None:
        return {"none": True}
    try:
        leaf = _leaf_array(obj)
    except ValueError:
        # NumPy's text arrays drop trailing NULs: the string would load shorter than it was saved
        raise ValueError(f"nn.save: {where} is a str ending in '\\x00', which .npz text cannot keep "
                         "(save it as bytes: s.encode())") from None
    if leaf is not None:
        array, kind = leaf
        if kind == "tensor" and not supported_dtype(array.dtype):
            what = "an object array" if array.dtype.kind == "O" else f"an array of dtype {array.dtype}"
            raise TypeError(f"nn.save: {where} is {what}; only numeric and bool arrays of minigrad's dtypes "
                            "(bool, int8-64, uint8-64, float16/32/64, complex64/128) can be saved "
                            "(strings as Python str)")
        if kind != "tensor" and array.nbytes > MAX_SCALAR_BYTES:   # load refuses it: never write it
            what = "an int" if kind == "bigint" else f"a {kind}"
            raise ValueError(f"nn.save: {where} is {what} of {array.nbytes:,} bytes as .npz text, more than the "
                             f"{MAX_SCALAR_BYTES:,} a checkpoint's scalar may hold (save a str as bytes: s.encode())")
        _store(arrays, path, array)
        return saver.tensor_node(obj, array, path) if kind == "tensor" else {"leaf": path, "kind": kind}
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            layout_key = _layout_key(key, where)
            text = str(key)
            if not text or "/" in text:
                raise ValueError(f"nn.save: key {key!r} in {where} is empty or contains '/' "
                                 "('/' joins the keys of nested entries in the archive)")
            if "\x00" in text or not text.isprintable() and not _utf8(text):
                # a zip member name ends at a NUL, and must be UTF-8: the file would not load back
                raise ValueError(f"nn.save: key {key!r} in {where} holds a NUL or a lone surrogate, which "
                                 "an archive member's name cannot")
            child = f"{path}/{text}" if path else text
            items.append([layout_key, _flatten(value, child, saver, f"key {child!r}", depth + 1)])
        if not isinstance(obj, OrderedDict):
            return {"dict": items}
        metadata = getattr(obj, "_metadata", None)
        return {"odict": items} if metadata is None else {"odict": items, "metadata": _metadata(metadata, where)}
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        # a list of plain ints or floats (e.g. a group's parameter indices) is one array
        for number in (int, float):
            if _is_number_list(obj, number) and path and \
                    (number is float or all(-(1 << 63) <= v < (1 << 63) for v in obj)):
                _store(arrays, path, numpy.asarray(obj, dtype=numpy.int64 if number is int else numpy.float64))
                return {"leaf": path, "kind": f"{number.__name__}_{kind}"}
        children = [_flatten(v, f"{path}/{i}" if path else str(i), saver, f"{where}[{i}]", depth + 1)
                    for i, v in enumerate(obj)]
        return {kind: children}
    hint = " (save its state_dict() instead)" if hasattr(obj, "state_dict") else \
        " (convert it with .numpy() first)" if hasattr(obj, "numpy") and hasattr(obj, "shape") else ""
    kind = type(obj).__qualname__ if type(obj).__module__ in ("builtins", "minigrad.tensor") or \
        type(obj).__module__.split(".")[0] in ("minigrad", "nn") \
        else f"{type(obj).__module__.split('.')[0]}.{type(obj).__qualname__}"
    raise TypeError(f"nn.save: cannot save {where}, a {kind}{hint}: expected minigrad Tensors, NumPy/CuPy "
                    "arrays, numbers, strings, bytes, None, and dicts/lists/tuples of those")


def _layout_key(key: Any, where: str) -> Any:
    """A dict key as the layout's JSON holds it: a str or an int as is; a bool, None, a float or a tuple of
    those (torch.save's other usual keys) tagged, as ``{"key": {"tuple": [1, {"none": true}]}}``."""
    def tagged(value: Any) -> Any:
        if isinstance(value, bool):
            return {"bool": value}
        if isinstance(value, (str, int)):
            return value
        if value is None:
            return {"none": True}
        if isinstance(value, float):
            return {"float": value}
        if isinstance(value, tuple):
            return {"tuple": [tagged(v) for v in value]}
        raise TypeError(f"nn.save: keys must be strings, ints, bools, floats, None or tuples of those, got "
                        f"{key!r} ({type(value).__name__}) in {where}")
    value = tagged(key)
    return value if isinstance(value, (str, int)) else {"key": value}


def _metadata(metadata: Any, where: str) -> dict:
    """An OrderedDict's ``_metadata`` (``Module.state_dict()``'s: module prefix → ``{"version": 1}``) as JSON."""
    scalars = (type(None), bool, int, float, str)
    if not isinstance(metadata, dict) or not all(
            isinstance(prefix, str) and isinstance(entry, dict)
            and all(isinstance(name, str) and type(value) in scalars for name, value in entry.items())
            for prefix, entry in metadata.items()):
        raise TypeError(f"nn.save: the _metadata of {where} must map strings to dicts of strings to None, bool, "
                        f"int, float or str (as Module.state_dict() records them), got {metadata!r}"[:400])
    return {prefix: dict(entry) for prefix, entry in metadata.items()}


def _write_archive(file: BinaryIO, arrays: dict, layout: str) -> None:
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for key, array in [*arrays.items(), (LAYOUT_KEY, numpy.asarray(layout))]:
            with archive.open(key + ".npy", "w", force_zip64=True) as member:
                numpy.lib.format.write_array(member, array, allow_pickle=False)


def save(obj: Any, f: str | os.PathLike | BinaryIO) -> str | None:
    """Write ``obj`` (a state dict or a nesting of them) to ``f`` as ``.npz``, as ``torch.save``.

    ``f`` is a path (written atomically, exactly that name: no suffix is added;
    the path is returned as a string) or a binary file object open for
    writing (written at its current position; returns None). Tensors on a GPU
    are copied to the host first. Raises TypeError naming the key of anything
    that is not a tensor, numeric array, number, string or None.
    """
    saver = _Saver()
    skeleton = _flatten(obj, "", saver, "the object")
    saver.link_views()
    arrays = saver.arrays
    if LAYOUT_KEY in arrays:
        raise ValueError(f"nn.save: the key {LAYOUT_KEY!r} is reserved")
    layout = json.dumps({"format": _FORMAT, "root": skeleton})
    if _json_depth(layout) > MAX_JSON_DEPTH:   # load refuses deeper layouts: never write one
        raise ValueError(f"nn.save: the object's nesting (with its tuple keys) is deeper than the {MAX_JSON_DEPTH} "
                         "JSON levels a checkpoint's layout may have")
    if hasattr(f, "write") and not isinstance(f, (str, bytes, os.PathLike)):
        name = getattr(f, "name", None) or f"<{type(f).__name__}>"
        if isinstance(f, io.TextIOBase):
            raise TypeError(f"nn.save: {name} is open in text mode; open it in binary mode ('wb')")
        if getattr(f, "closed", False) is True:
            raise ValueError(f"nn.save: {name} is closed")
        writable = getattr(f, "writable", None)
        if callable(writable) and not writable():
            raise io.UnsupportedOperation(f"nn.save: {name} is not open for writing; open it with 'wb'")
        _write_archive(f, arrays, layout)
        return None
    if not isinstance(f, (str, os.PathLike)):
        raise TypeError(f"nn.save: f must be a path or a binary file object open for writing, got {type(f).__name__}")
    path = os.fspath(f)
    if "\x00" in path:
        raise ValueError(f"nn.save: invalid file name {path!r}: it holds a NUL byte")
    if not path or os.path.isdir(path) or path.endswith(("/", os.sep)):
        # checked first: '' would write a temporary file next to the working folder, then fail to rename it
        raise ValueError(f"nn.save: invalid file name: {path!r} (a file path is needed, not a folder)")
    # a symlink is written through, as open(path, "wb") (torch.save) writes: its target is replaced, not the link
    target = os.path.realpath(path) if os.path.islink(path) else os.path.abspath(path)
    if os.path.islink(target):   # realpath stops inside a loop of links, where open(path, "wb") raises ELOOP
        raise OSError(errno.ELOOP, f"nn.save: cannot write {path}: its symbolic links form a loop", path)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise FileNotFoundError(errno.ENOENT, f"nn.save: parent directory {folder} does not exist", path)
    try:   # an existing file keeps its permissions (a private checkpoint stays private), as open(path, "wb") keeps them
        existing = os.stat(target).st_mode
    except OSError:
        existing = None
    if existing is not None and not stat.S_ISREG(existing):
        # a device or FIFO (/dev/null) is written to as open(path, "wb") writes, never replaced by a file
        buffer = io.BytesIO()   # zip reads back its position, which a device does not keep
        _write_archive(buffer, arrays, layout)
        with open(target, "wb") as file:
            file.write(buffer.getbuffer())
        return path
    mode = stat.S_IMODE(existing) if existing is not None else 0o666 & ~_umask()   # mkstemp makes 0600
    try:
        handle, temp = tempfile.mkstemp(prefix=os.path.basename(target) + ".", suffix=".tmp", dir=folder)
    except OSError as error:   # name the file asked for, not the temporary one
        raise type(error)(error.errno, f"nn.save: cannot write {path}: cannot create a file in {folder}: "
                                       f"{error.strerror}", path) from None
    try:
        with os.fdopen(handle, "wb") as file:
            _write_archive(file, arrays, layout)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        if os.path.exists(temp):
            os.remove(temp)
        raise
    _sync_folder(folder)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _sync_folder(folder: str) -> None:
    """fsync the folder so the rename itself is on disk (POSIX; skipped where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- load -----------------------------------------------------------------------

def _open_regular(path: str) -> BinaryIO:
    """Open ``path`` for reading only if it is a regular file; a FIFO or a device raises at once.

    O_NONBLOCK makes opening a FIFO return instead of waiting for a writer;
    the type is then checked on the opened descriptor (no race with a rename).
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise CheckpointNotFoundError(f"nn.load: no such file: {path!r}") from None
    except OSError as error:
        raise CheckpointError(f"nn.load: cannot open {path}: {error.strerror or error}") from error
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else \
                "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) \
                else "not a regular file"
            raise CheckpointError(f"nn.load: {path} is {kind}, not a regular file; only regular files are read")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read_all(f: Any, name: str) -> io.BytesIO:
    """The rest of a stream that cannot seek (or a duck-typed reader with ``read`` only), in memory."""
    try:
        data = f.read()
    except Exception as error:  # noqa: BLE001 - an unreadable stream is the file's failure
        raise CheckpointError(f"nn.load: {name} cannot be read: {type(error).__name__}: {error}") from None
    if isinstance(data, str):
        raise TypeError(f"nn.load: {name} gives text; open it in binary mode ('rb')")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"nn.load: {name}.read() gave a {type(data).__name__}, not bytes")
    return io.BytesIO(data)


def _parameter_class() -> type:
    """``nn.Parameter``, for a tensor saved as one (imported here, on use: the engine never imports nn itself)."""
    import minigrad
    return minigrad.nn.Parameter


def load(f: str | os.PathLike | BinaryIO, device: Any = None, *, map_location: Any = None,
         weights_only: bool = True, max_ratio: float | None = MAX_RATIO) -> Any:
    """Read a checkpoint written by :func:`save` (or any numeric ``.npz``), as ``torch.load``.

    ``f`` is a path or a binary file object open for reading (anything with
    ``read()``, as ``torch.load`` takes; one that cannot seek is read into
    memory first). Returns the
    saved structure with arrays as ``mg.Tensor``s (on ``device``, default the
    host; ``map_location`` is PyTorch's spelling of it: a device, a dict from the saved location, here always
    ``"cpu"``, to the new one, or PyTorch's ``fn(storage, location)`` given each host tensor and ``"cpu"``,
    returning the tensor to keep or None) and scalars as Python
    scalars. As ``torch.load``: a tensor saved requiring grad requires grad (a
    Parameter is an ``nn.Parameter``), one Tensor saved twice is one object, and
    on the host a tensor saved as a view of another shares its memory. A plain
    ``.npz`` without a minigrad layout gives nested dicts split on ``/``.
    Nothing is ever unpickled (``weights_only`` is accepted for PyTorch's
    sake; loading is always weights-only).

    Every failure raises :class:`CheckpointError` naming the file and the key:
    a missing file (also a FileNotFoundError), a FIFO or device, a file that is
    not an ``.npz`` archive, a truncated or corrupt one, an entry whose dtype is
    not numeric or bool, a header whose shape does not match the bytes stored,
    a tampered or too deeply nested layout, two keys that collide, a damaged zip
    directory or a member the layout does not use (nothing is loaded from an
    archive that lost or gained members), or an archive that would inflate
    more than ``max_ratio`` times its size on disk (pass ``max_ratio=None`` for
    a file you trust). What placing the arrays on ``device`` raises passes
    through unchanged.
    """
    if device is not None and map_location is not None and device != map_location:
        raise TypeError(f"nn.load: give device= or map_location=, not both ({device!r}, {map_location!r})")
    target = device if device is not None else map_location
    if isinstance(target, dict):   # PyTorch's {saved location: new location}; arrays are saved from the host
        target = target.get("cpu")
    place = target if callable(target) and not isinstance(target, str) else None
    dev = backend.resolve_device(target) if target is not None and place is None else None

    def make(array: numpy.ndarray, requires_grad: bool = False, parameter: bool = False) -> Tensor:
        cls = _parameter_class() if parameter else Tensor
        if place is not None:   # PyTorch's map_location(storage, location): a host tensor and "cpu"
            moved = place(Tensor._make(array, False, None, 0), "cpu")
            array = array if moved is None else moved.data if isinstance(moved, Tensor) else moved
            if not backend.is_array(array):
                raise TypeError(f"nn.load: map_location returned a {type(moved).__name__}, not a tensor or None")
        elif dev is not None and dev.type != "cpu":
            array = backend.to_device(array, dev)
        return cls._make(array, requires_grad, None, 0)

    if hasattr(f, "read") and not isinstance(f, (str, bytes, os.PathLike)):
        name = str(getattr(f, "name", None) or f"<{type(f).__name__}>")
        if isinstance(f, io.TextIOBase):
            raise TypeError(f"nn.load: {name} is open in text mode; open it in binary mode ('rb')")
        if getattr(f, "closed", False) is True:
            raise ValueError(f"nn.load: {name} is closed")
        if not isinstance(f, io.IOBase) or not f.seekable():
            f = _read_all(f, name)   # zip needs to seek (its directory sits at the end) on a real file object
        return read_checkpoint(f, name, max_ratio, make)
    name = os.fspath(f) if isinstance(f, os.PathLike) else f
    if isinstance(name, bytes):
        raise TypeError("nn.load: f must be a path or a binary file object open for reading, got bytes (a path: "
                        "decode it with os.fsdecode(path); the file's contents: wrap them in io.BytesIO)")
    if not isinstance(name, str):
        raise TypeError(f"nn.load: f must be a path or a binary file object open for reading, "
                        f"got {type(f).__name__}")
    if "\x00" in name:
        raise CheckpointError(f"nn.load: invalid file name {name!r}: it holds a NUL byte")
    with _open_regular(name) as file:
        return read_checkpoint(file, name, max_ratio, make)


# --- PyTorch's allowlist for unpickling (torch.serialization.add_safe_globals) ------------------------------------
# PyTorch's weights_only torch.load unpickles only the globals on this list. mg.load never unpickles anything, so
# the list allows nothing more here: it is kept so that programs that register their classes before loading run, and
# get_safe_globals reads it back as PyTorch's does.
_safe_globals: list = []


def _checked_globals(globals_: Any, name: str) -> list:
    if not isinstance(globals_, (list, tuple)):   # PyTorch iterates it: a bare class is its TypeError
        raise TypeError(f"{name}: expected a list of classes or functions (or (class, name) pairs), got "
                        f"{type(globals_).__name__}")
    return list(globals_)


def add_safe_globals(safe_globals: list) -> None:
    """Add classes or functions (or ``(class, "module.name")`` pairs) to the allowlist, as
    ``torch.serialization.add_safe_globals``; nothing else changes (:func:`load` never unpickles)."""
    _safe_globals.extend(_checked_globals(safe_globals, "add_safe_globals"))


def get_safe_globals() -> list:
    """The allowlist :func:`add_safe_globals` built (a copy)."""
    return list(_safe_globals)


def clear_safe_globals() -> None:
    """Empty the allowlist."""
    _safe_globals.clear()


class safe_globals:  # noqa: N801 - PyTorch's name
    """``with mg.serialization.safe_globals([MyClass]):``: the allowlist extended for the block, as PyTorch's."""

    def __init__(self, safe_globals: list) -> None:
        self.safe_globals = _checked_globals(safe_globals, "safe_globals")

    def __enter__(self) -> None:
        self._before = list(_safe_globals)
        _safe_globals.extend(self.safe_globals)

    def __exit__(self, *exc: Any) -> None:
        _safe_globals[:] = self._before
