"""Reading a checkpoint archive as a hostile file: every failure is a :class:`CheckpointError`.

The checks run before anything large is allocated or anything deep is walked:

- the zip directory is read first and must list as many members as its end
  record declares (a damaged directory entry makes Python's zipfile drop the
  members after it silently: a partial checkpoint); only ``.npy`` members
  stored plainly or deflated (NumPy's two ways) are accepted, each name once;
- the sizes the directory declares may inflate at most ``max_ratio`` times the
  file's real size (a zip bomb is refused before anything is inflated);
- each member's ``.npy`` header must name one of minigrad's dtypes (bool,
  ints, uints, float16/32/64, complex64/128: no objects, strings, dates,
  records or the platform-dependent longdouble) and a shape of non-negative
  dims whose byte count equals the bytes the member holds, so a header
  claiming 10¹² elements is refused unread;
- the JSON layout entry has a size and a nesting limit, and every node of it is
  checked for its form; keys that collide (``a/b`` and ``a``) are refused, and
  so is a member the layout does not use (the archive was edited);
- an entry loaded as a view of another (``view_of``) or as the same tensor
  (``same_as``) must hold the values it shares, as ``numpy.load`` reads them;
  a view lies inside its base, in whole elements.

Anything else that goes wrong while the file is interpreted (a malformed value
deep in the layout) is still a :class:`CheckpointError` naming the file;
errors from placing the arrays on a device pass through unchanged.
"""

from __future__ import annotations

import json
import math
import re
import sys
import threading
import zipfile
from collections import OrderedDict
from typing import Any, BinaryIO, Callable, Sequence

import numpy

LAYOUT_KEY = "__minigrad__"
STORAGE_PREFIX = LAYOUT_KEY + "/storage/"   # the memory saved views share, where no saved tensor is all of it
MAX_RATIO = 200.0               # declared inflated size / size on disk
RATIO_FLOOR = 1 << 24           # archives inflating to under 16 MiB are never refused for their ratio
MAX_CONTAINER_DEPTH = 64        # dicts/lists/tuples inside one another
MAX_JSON_DEPTH = 3 * MAX_CONTAINER_DEPTH + 4   # a dict level is three JSON levels: {"dict": [[key, ...]]}
MAX_LAYOUT_BYTES = 64 << 20
MAX_SCALAR_BYTES = 1 << 20      # one str (4 bytes a character) or other scalar entry
_SCALAR_KINDS = {"int": ("iu", int), "float": ("fiu", float), "bool": ("b", bool), "str": ("U", str),
                 "complex": ("cfiu", complex), "bigint": ("U", lambda text: _hex_int(text))}
_TENSOR_KEYS = {"requires_grad", "parameter", "same_as", "view_of", "offset", "strides"}
_LIST_KINDS = {"int_list": "iu", "float_list": "fiu", "int_tuple": "iu", "float_tuple": "fiu"}
_BYTES_KINDS = {"bytes": bytes, "bytearray": bytearray}
_KIND_NAMES = {"U": "text", "iu": "an integer", "fiu": "a real number", "cfiu": "a number", "b": "a bool",
               "u": "uint8", "biufc": "a numeric or bool array"}
# minigrad's dtypes (PyTorch's that NumPy has): longdouble (f16/c32 in NumPy's codes) is left out, as its
# layout depends on the platform that wrote it (80-bit x86 extended or IEEE quad), and neither library has it
_DTYPES = {numpy.dtype(code).newbyteorder(order) for code in ("?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8",
                                                             "f2", "f4", "f8", "c8", "c16") for order in "<>"}
_MAX_BYTES = (1 << 63) - 1     # what a NumPy array may span (intp on 64-bit)
# NumPy reads an .npy header with ast.literal_eval, whose AST state CPython 3.11 shares between threads (a garbage
# collection inside one parse lets another thread's parse reset its depth count: SystemError "AST constructor
# recursion depth mismatch"), so two loads at once could fail as a corrupt file: one header at a time.
_HEADER_LOCK = threading.Lock()
_CHUNK = 16 << 20               # bytes read from a member at a time (more would briefly hold twice the array)


def supported_dtype(dtype: numpy.dtype) -> bool:
    """Whether ``dtype`` is one of minigrad's (what ``save`` writes and ``load`` reads as a tensor)."""
    return dtype in _DTYPES


class CheckpointError(ValueError):
    """A file that ``nn.load`` / ``mg.load`` cannot read as a checkpoint: the message names the file and the key."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """The checkpoint file does not exist (a FileNotFoundError too, as ``torch.load`` raises)."""


class _PassThrough(Exception):  # noqa: N818 - a carrier, never seen outside this module
    """Carries an exception raised by ``make`` (placing an array on a device) past the guard that turns every
    other failure while reading into a CheckpointError."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(error)
        self.error = error


def _is_torch_member(name: str) -> bool:
    return name == "data.pkl" or name.endswith("/data.pkl")


class _Archive:
    """The members of an ``.npz`` zip, checked for form and size before any is read."""

    def __init__(self, file: BinaryIO, name: str, max_ratio: float | None) -> None:
        self.name = name
        start = file.tell()   # a stream is read from where it stands, as torch.load reads it
        size = file.seek(0, 2) - start
        file.seek(start)
        head = file.read(8)
        file.seek(start)
        if head.startswith(b"\x93NUMPY"):
            raise self.file_error("holds a single .npy array, not an .npz archive; use numpy.load for it")
        try:
            self.zip = zipfile.ZipFile(file)
        except Exception as error:  # noqa: BLE001 - any failure of a hostile file is a CheckpointError
            if head.startswith(b"PK"):
                raise self.file_error(f"is not a readable .npz archive (truncated or corrupt?): "
                                 f"{type(error).__name__}: {error}") from None
            raise self.file_error("is not an .npz archive (it looks like a pickle or an unknown format; "
                             "nn.load never unpickles)") from None
        self.entries: dict[str, zipfile.ZipInfo] = {}
        total = 0
        members = self.zip.infolist()
        # zipfile finds the archive from the stream's end: make sure it is the one that starts here (not the
        # last of two saved one after the other, nor one after other data)
        begins = min((info.header_offset for info in members), default=self.zip.start_dir)
        if begins < start:
            raise self.file_error(f"is read from position {start:,}, inside the .npz archive that begins at byte "
                                  f"{begins:,}; seek to the archive's start to load it")
        if begins > start:
            where = "the file's start" if start == 0 else f"the stream's position {start:,}"
            raise self.file_error(f"holds other data at {where}: the .npz archive it ends with begins at byte "
                                  f"{begins:,} (two checkpoints saved one after the other, or a damaged file?); "
                                  "seek to the archive to load it")
        if any(_is_torch_member(info.filename) for info in members):   # first: its other members are not .npy
            raise self.file_error(
                "is a PyTorch checkpoint (torch.save's zip with a pickle inside); minigrad never unpickles. "
                "Convert it once with PyTorch: numpy.savez(out, **{k: v.numpy() for k, v in "
                "torch.load(path, weights_only=True).items()}), then load that .npz")
        declared = self._declared_members(file)
        if declared is not None and declared != len(members):
            raise self.file_error(f"is a damaged .npz archive: its zip directory lists {len(members)} of the "
                                  f"{declared} members it declares (truncated or corrupt?)")
        for info in members:
            if not info.filename.endswith(".npy"):
                raise self.file_error(f"holds a member {info.filename!r} that is not an .npy array")
            key = info.filename[:-4]
            if key in self.entries:
                raise self.error(f"key {key!r} appears twice in the archive")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or info.flag_bits & 1:
                raise self.error(f"key {key!r} is encrypted or compressed with method {info.compress_type}; "
                                 "only stored and deflated members (NumPy's) are read")
            if info.compress_size > size or (info.compress_type == zipfile.ZIP_STORED
                                             and info.file_size != info.compress_size):
                raise self.error(f"key {key!r} declares {info.file_size:,} bytes ({info.compress_size:,} stored) "
                                 f"but the file has {size:,} bytes (truncated or tampered)")
            self.entries[key] = info
            total += info.file_size
        if max_ratio is not None and total > max(max_ratio * size, RATIO_FLOOR):
            raise self.file_error(f"would inflate to {total:,} bytes from {size:,} on disk (more than {max_ratio:g} "
                             "times: a zip bomb?); refusing to decompress it. Pass max_ratio=None to load a "
                             "file you trust")

    @staticmethod
    def _declared_members(file: BinaryIO) -> int | None:
        """The member count the zip's end record declares (None where this Python's zipfile cannot say)."""
        end_record = getattr(zipfile, "_EndRecData", None)   # the routine zipfile itself reads the record with
        if end_record is None:   # pragma: no cover - every CPython since 2.x has it
            return None
        record = end_record(file)
        return record[getattr(zipfile, "_ECD_ENTRIES_TOTAL", 4)] if record else None

    def error(self, text: str) -> CheckpointError:
        """An error about one part of the file: ``nn.load: <file>: <text>``."""
        return CheckpointError(f"nn.load: {self.name}: {text}")

    def file_error(self, text: str) -> CheckpointError:
        """An error about the file as a whole: ``nn.load: <file> <text>``."""
        return CheckpointError(f"nn.load: {self.name} {text}")

    def array(self, key: str, kinds: str = "biufc", limit: int | None = None) -> numpy.ndarray:
        """The array under ``key``, whose dtype kind must be one of ``kinds``."""
        info = self.entries.get(key)
        if info is None:
            raise self.error(f"key {key!r} is listed in the layout but missing from the archive "
                             "(file truncated or edited?)")
        try:
            return self._read(key, info, kinds, limit)
        except CheckpointError:
            raise
        except Exception as error:  # noqa: BLE001 - zlib, struct, CRC, header parsing: all mean a bad file
            raise self.error(f"cannot read key {key!r} (file truncated or corrupt?): "
                             f"{type(error).__name__}: {error}") from None

    def _read(self, key: str, info: zipfile.ZipInfo, kinds: str, limit: int | None) -> numpy.ndarray:
        with self.zip.open(info) as member:
            version = numpy.lib.format.read_magic(member)
            if version not in ((1, 0), (2, 0)):
                raise self.error(f"key {key!r} has an .npy header of version {version}, not 1.0 or 2.0")
            with _HEADER_LOCK:
                read_header = numpy.lib.format.read_array_header_1_0 if version == (1, 0) else \
                    numpy.lib.format.read_array_header_2_0
                shape, fortran, dtype = read_header(member)
            if dtype.hasobject:
                raise self.error(f"key {key!r} holds an object (pickled) array; refusing to load it "
                                 "(nn.load never unpickles)")
            if dtype.fields is not None or dtype.subdtype is not None or \
                    (dtype not in _DTYPES if dtype.kind != "U" or "U" not in kinds else dtype.kind not in kinds):
                raise self.error(f"key {key!r} has dtype {dtype.str} ({dtype}); only numeric and bool arrays of "
                                 "minigrad's dtypes (bool, int8-64, uint8-64, float16/32/64, complex64/128) are "
                                 "loaded")
            if dtype.kind not in kinds:
                raise self.error(f"key {key!r} has dtype {dtype} where its layout entry needs "
                                 f"{_KIND_NAMES.get(kinds, kinds)} (tampered?)")
            if any(n < 0 for n in shape) or math.prod(n for n in shape if n) * dtype.itemsize > _MAX_BYTES:
                raise self.error(f"key {key!r}: its header claims shape {shape}, which has a negative dimension "
                                 "or more bytes than an array can hold (tampered?)")
            count = math.prod(shape)
            needed = count * dtype.itemsize
            stored = info.file_size - member.tell()
            if needed != stored:
                raise self.error(f"key {key!r}: its header claims shape {shape} of {dtype} ({needed:,} bytes) but "
                                 f"the entry holds {stored:,} bytes (file truncated or tampered)")
            if limit is not None and needed > limit:
                raise self.error(f"key {key!r} is {needed:,} bytes, more than the {limit:,} allowed for it")
            try:
                array = numpy.empty(count, dtype)
            except MemoryError:
                raise self.error(f"key {key!r} needs {needed:,} bytes, more memory than is free") from None
            buffer = memoryview(array.view(numpy.uint8)) if count else memoryview(b"")
            filled = 0
            while filled < needed:
                got = member.readinto(buffer[filled:filled + _CHUNK])   # zip reads a whole request into a copy
                if not got:
                    raise self.error(f"key {key!r} ends after {filled:,} of {needed:,} bytes (file truncated?)")
                filled += got
        if fortran:
            array = array.reshape(shape[::-1]).T.copy()   # C order, as the engine's ops expect
        else:
            array = array.reshape(shape)
        if not dtype.isnative:
            array = array.astype(dtype.newbyteorder("="))
        if dtype.kind == "b":   # a bool byte other than 0 or 1 (a tampered file) is made 1, as C's bool expects
            array = array.view(numpy.uint8).astype(numpy.bool_)
        if dtype.kind == "U" and array.size and dtype.itemsize and \
                int(array.reshape(-1).view(numpy.uint32).max()) > sys.maxunicode:
            # NumPy's .item() would build a str CPython cannot hold (its operations raise SystemError)
            raise self.error(f"key {key!r} holds text with a code point beyond U+10FFFF, which is not Unicode "
                             "(tampered?)")
        return array


def _json_depth(text: str) -> int:
    """The deepest nesting of brackets in JSON ``text`` (brackets inside strings do not count).

    Escapes go first, then strings: each pass is linear (one pattern for both backtracked quadratically over a
    string of escaped quotes, ``"\\"\\"\\"...``, a hang on a 40 KB layout)."""
    strings = re.sub(r'"[^"]*"', "", re.sub(r"\\.", "", text, flags=re.DOTALL))
    brackets = re.sub(r"[^\[\]{}]", "", strings)
    depth = deepest = 0
    for char in brackets:
        depth += 1 if char in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


class _Layout:
    """Rebuilds the saved structure from the JSON layout, checking each node's form."""

    def __init__(self, archive: _Archive, make: Callable[[numpy.ndarray], Any]) -> None:
        self.archive, self.make = archive, make
        self.used: set[str] = set()
        self.tensors: dict = {}   # archive key -> the Tensor built for it (``same_as`` gives it again)
        self.host: dict = {}      # archive key -> its host array, for the ``view_of`` entries that share it
        self.bases: set = set()   # the keys some ``view_of`` names (see :meth:`find_bases`)

    def find_bases(self, root: Any) -> None:
        """The keys ``view_of`` entries name, found before building so a base keeps its host array."""
        stack = [root]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                if isinstance(node.get("view_of"), str):
                    self.bases.add(node["view_of"])
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)

    def bad(self, where: str, text: str) -> CheckpointError:
        return self.archive.error(f"the layout entry {LAYOUT_KEY!r} is malformed at {where}: {text}")

    def build(self, node: Any, where: str, depth: int) -> Any:
        if depth > MAX_CONTAINER_DEPTH:
            raise self.bad(where, f"nested more than {MAX_CONTAINER_DEPTH} containers deep")
        if not isinstance(node, dict) or len(node) not in (1, 2) and "leaf" not in node:
            raise self.bad(where, f"expected a node object, got {_short(node)}")
        if "none" in node and len(node) == 1:
            return None
        if "leaf" in node:
            return self.leaf(node, where)
        (form, children), = node.items() if len(node) == 1 else ((None, None),)
        if form == "dict" and isinstance(children, list):
            return self.mapping(children, where, depth)
        if "odict" in node and set(node) <= {"odict", "metadata"} and isinstance(node["odict"], list):
            result = OrderedDict(self.mapping(node["odict"], where, depth))
            if "metadata" in node:
                result._metadata = self.metadata(node["metadata"], where)  # type: ignore[attr-defined]
            return result
        if form in ("list", "tuple") and isinstance(children, list):
            items = [self.build(child, f"{where}[{i}]", depth + 1) for i, child in enumerate(children)]
            return items if form == "list" else tuple(items)
        raise self.bad(where, f"unknown node {_short(node)}")

    def mapping(self, children: list, where: str, depth: int) -> dict:
        result: dict = {}
        for item in children:
            if not (isinstance(item, list) and len(item) == 2):
                raise self.bad(where, f"a dict item must be [key, node], got {_short(item)}")
            key, child = item
            key = _dict_key(key, self.bad, where)
            if key in result:
                raise self.archive.error(f"key {key!r} appears twice in {where} (keys collide)")
            result[key] = self.build(child, f"{where}/{key}" if where != "the root" else repr(key), depth + 1)
        return result

    def metadata(self, value: Any, where: str) -> OrderedDict:
        """An OrderedDict's ``_metadata``: module prefix → dict of strings to None, bool, int, float or str."""
        scalars = (type(None), bool, int, float, str)
        if not isinstance(value, dict) or not all(
                isinstance(entry, dict) and all(isinstance(v, scalars) for v in entry.values())
                for entry in value.values()):
            raise self.bad(where, f"'metadata' must map prefixes to dicts of scalars, got {_short(value)}")
        return OrderedDict((prefix, dict(entry)) for prefix, entry in value.items())

    def leaf(self, node: dict, where: str) -> Any:
        key, kind = node.get("leaf"), node.get("kind", "tensor")
        extra = set(node) - {"leaf", "kind"}
        if not isinstance(key, str) or not isinstance(kind, str) or \
                (extra and (kind != "tensor" or extra - _TENSOR_KEYS)):
            raise self.bad(where, f"expected {{'leaf': key, 'kind': kind}}, got {_short(node)}")
        if key == LAYOUT_KEY or key in self.used:
            raise self.archive.error(f"key {key!r} is used twice by the layout (keys collide)")
        self.used.add(key)
        if kind == "tensor":
            return self.tensor(key, node, where)
        if kind in _SCALAR_KINDS:
            kinds, convert = _SCALAR_KINDS[kind]
            array = self.archive.array(key, kinds, limit=MAX_SCALAR_BYTES)
            if array.ndim:
                raise self.archive.error(f"key {key!r} should hold one {kind} but has shape {array.shape}")
            return convert(array.item())
        if kind in _LIST_KINDS:
            array = self.archive.array(key, _LIST_KINDS[kind])
            if array.ndim != 1:
                raise self.archive.error(f"key {key!r} should hold a list of numbers but has shape {array.shape}")
            values = array.tolist()
            return tuple(values) if kind.endswith("tuple") else values
        if kind in _BYTES_KINDS:
            array = self.archive.array(key, "u")
            if array.ndim != 1 or array.dtype != numpy.uint8:
                raise self.archive.error(f"key {key!r} should hold {kind} as uint8 of one dimension but has "
                                         f"dtype {array.dtype} shape {array.shape}")
            return _BYTES_KINDS[kind](array.tobytes())
        raise self.archive.error(f"key {key!r} has an unknown kind {kind!r} in the layout")

    def tensor(self, key: str, node: dict, where: str) -> Any:
        """A tensor entry: the same Tensor as an earlier one (``same_as``), a view of another entry's array
        (``view_of``, ``offset``, ``strides`` in bytes), or its own array; ``requires_grad``/``parameter``."""
        for flag in ("requires_grad", "parameter"):
            if node.get(flag, False) is not True and flag in node:
                raise self.bad(where, f"{flag!r} must be true when present, got {_short(node[flag])}")
        if "same_as" in node:
            first = node["same_as"]
            if set(node) - {"leaf", "kind", "same_as"} or not isinstance(first, str) or first not in self.tensors:
                raise self.bad(where, f"'same_as' must name an earlier tensor entry, got {_short(first)}")
            # save stores the tensor's values under both keys (numpy.load reads each): they must agree
            stored, saved = self.archive.array(key), self.archive.array(first)
            if stored.dtype != saved.dtype or stored.shape != saved.shape or stored.tobytes() != saved.tobytes():
                raise self.archive.error(f"key {key!r} is marked as the same tensor as {first!r} but holds other "
                                         f"values ({stored.dtype} {stored.shape}; {saved.dtype} {saved.shape}) "
                                         "(tampered?)")
            return self.tensors[first]
        if "view_of" in node:
            array = self.view(key, node, where)
        else:
            array = self.host.get(key)
            if array is None:
                array = self.archive.array(key)
                if key in self.bases:
                    self.host[key] = array
        flags = {flag: True for flag in ("requires_grad", "parameter") if node.get(flag)}
        if flags.get("requires_grad") and array.dtype.kind not in "fc":
            raise self.archive.error(f"key {key!r} is marked requires_grad but has dtype {array.dtype} "
                                     "(only float tensors require grad)")
        tensor = self.make(array, **flags) if flags else self.make(array)
        self.tensors[key] = tensor
        return tensor

    def view(self, key: str, node: dict, where: str) -> numpy.ndarray:
        """The entry ``key`` as a view of the array of entry ``node['view_of']``, checked to lie inside it and to
        hold the values stored under ``key``."""
        base_key, offset, strides = node.get("view_of"), node.get("offset"), node.get("strides")
        if not isinstance(base_key, str) or base_key == key or base_key == LAYOUT_KEY \
                or not _is_int(offset) or not isinstance(strides, list) or not all(map(_is_int, strides)):
            raise self.bad(where, f"'view_of' needs a key, an int 'offset' and int 'strides', got {_short(node)}")
        base = self.host.get(base_key)
        if base is None:
            if base_key not in self.bases or base_key in self.tensors or base_key not in self.archive.entries:
                raise self.bad(where, f"'view_of' names {base_key!r}, which is not a tensor entry to share")
            base = self.host[base_key] = self.archive.array(base_key)
            if base_key.startswith(STORAGE_PREFIX):   # a hidden storage: no leaf names it
                self.used.add(base_key)
        stored = self.archive.array(key)
        low = offset + sum((n - 1) * st for n, st in zip(stored.shape, strides) if st < 0)
        high = offset + sum((n - 1) * st for n, st in zip(stored.shape, strides) if st > 0) + stored.itemsize
        # an empty view reads nothing: only where it starts must lie in the base
        inside = 0 <= low and high <= base.nbytes if stored.size else 0 <= offset <= base.nbytes
        if stored.dtype != base.dtype or len(strides) != stored.ndim or not base.flags.c_contiguous \
                or not _whole_elements(offset, strides, stored.itemsize) or not inside:
            raise self.archive.error(f"key {key!r} claims to be a view of {base_key!r} that does not fit in it "
                                     f"(dtype {stored.dtype} shape {stored.shape} offset {offset} strides {strides}; "
                                     f"the base is {base.dtype} {base.shape}) (tampered?)")
        view = numpy.ndarray(stored.shape, stored.dtype, buffer=base, offset=offset, strides=tuple(strides))
        if not stored.size:   # an empty view: where it starts (torch's storage offset) and its strides only
            return view
        if numpy.ascontiguousarray(view).tobytes() != numpy.ascontiguousarray(stored).tobytes():
            raise self.archive.error(f"key {key!r} is marked as a view of {base_key!r} but holds other values "
                                     "(tampered?)")
        return view


def _whole_elements(offset: int, strides: Sequence[int], itemsize: int) -> bool:
    """Whether a view's byte ``offset`` and ``strides`` are whole elements, as torch's (which count elements) are;
    a stride must fit an intp, but a dim of size 1 may have any (``x[::100]``)."""
    return offset % itemsize == 0 and all(-_MAX_BYTES - 1 <= st <= _MAX_BYTES and st % itemsize == 0
                                          for st in strides)


def _dict_key(key: Any, bad: Callable[[str, str], CheckpointError], where: str) -> Any:
    """A dict key from the layout: a str or an int, or ``{"key": tagged}`` for a bool, None, a float or a tuple
    (see ``serialization._layout_key``)."""
    def untag(value: Any) -> Any:
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            return value
        if isinstance(value, dict) and len(value) == 1:
            (tag, inner), = value.items()
            if tag == "bool" and isinstance(inner, bool):
                return inner
            if tag == "none" and inner is True:
                return None
            if tag == "float" and isinstance(inner, float):
                return inner
            if tag == "tuple" and isinstance(inner, list):
                return tuple(untag(v) for v in inner)
        raise bad(where, f"a dict key must be a string, an int or a tagged key, got {_short(key)}")
    if isinstance(key, dict) and set(key) == {"key"}:
        return untag(key["key"])
    if isinstance(key, bool) or not isinstance(key, (str, int)):
        raise bad(where, f"a dict key must be a string, an int or a tagged key, got {_short(key)}")
    return key


def _hex_int(text: str) -> int:
    """An int saved beyond int64, as ``format(value, "x")`` writes it (``-`` then hex digits, nothing else)."""
    if not re.fullmatch(r"-?[0-9a-f]+", text):
        raise ValueError(f"an int beyond int64 must be hexadecimal text, got {_short(text)}")
    return int(text, 16)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _nested_dicts(archive: _Archive, make: Callable[[numpy.ndarray], Any]) -> dict:
    """A plain ``.npz``: keys split on ``/`` into nested dicts; ``a/b`` and ``a`` together collide."""
    result: dict = {}
    for key in archive.entries:
        parts = key.split("/")
        if not all(parts):
            raise archive.error(f"key {key!r} has an empty part between '/'s")
        if len(parts) > MAX_CONTAINER_DEPTH:   # a layout's limit: nothing nested deeper than save writes
            raise archive.error(f"key {_short(key)} has {len(parts)} parts between '/'s: nested more than "
                                f"{MAX_CONTAINER_DEPTH} containers deep (tampered?)")
        table = result
        for depth, part in enumerate(parts[:-1]):
            table = table.setdefault(part, {})
            if not isinstance(table, dict):
                raise archive.error(f"key {key!r} collides with key {'/'.join(parts[:depth + 1])!r}, an array")
        if parts[-1] in table:
            raise archive.error(f"key {key!r} collides with the keys nested under it")
        table[parts[-1]] = make(archive.array(key))
    return result


def _unique_keys(pairs: list) -> dict:
    """A JSON object that names no key twice (``json`` would keep the last silently)."""
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set = set()
        twice = sorted({key for key, _ in pairs if key in seen or seen.add(key)})
        raise ValueError(f"an object names {_short(twice)} twice")
    return result


def read_checkpoint(file: BinaryIO, name: str, max_ratio: float | None,
                    make: Callable[[numpy.ndarray], Any]) -> Any:
    """The structure saved in ``file`` (called ``name`` in errors), arrays passed through ``make``.

    Every failure is a :class:`CheckpointError` naming ``name``, except what ``make`` itself raises (a device
    that cannot take the array), which passes through unchanged.
    """
    if max_ratio is not None and (isinstance(max_ratio, bool) or not max_ratio > 0):
        raise ValueError(f"nn.load: max_ratio must be a positive number or None, got {max_ratio!r}")
    try:
        archive = _Archive(file, name, max_ratio)
    except CheckpointError:
        raise
    except Exception as error:  # noqa: BLE001 - an unreadable stream
        raise CheckpointError(f"nn.load: {name} cannot be read: {type(error).__name__}: {error}") from None

    def guarded(array: numpy.ndarray, **flags: bool) -> Any:
        try:
            return make(array, **flags)
        except Exception as error:  # noqa: BLE001 - the device's error, not the file's
            raise _PassThrough(error) from None

    try:
        return _interpret(archive, guarded)
    except CheckpointError:
        raise
    except _PassThrough as carried:
        raise carried.error from None
    except Exception as error:  # noqa: BLE001 - any other failure of a hostile file is the file's
        raise archive.file_error(f"cannot be read (tampered or corrupt?): {type(error).__name__}: {error}") from None


def _interpret(archive: _Archive, make: Callable[[numpy.ndarray], Any]) -> Any:
    """The structure the archive's layout describes (nested dicts for a plain ``.npz``), every member used."""
    if LAYOUT_KEY not in archive.entries:
        return _nested_dicts(archive, make)
    text = archive.array(LAYOUT_KEY, kinds="U", limit=MAX_LAYOUT_BYTES)
    if text.ndim:
        raise archive.error(f"the layout entry {LAYOUT_KEY!r} should be one string, got shape {text.shape}")
    text = str(text.item())
    depth = _json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise archive.error(f"the layout entry {LAYOUT_KEY!r} is nested {depth} levels deep, more than the "
                            f"{MAX_JSON_DEPTH} allowed (tampered?)")
    try:
        layout = json.loads(text, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as error:
        raise archive.error(f"the layout entry {LAYOUT_KEY!r} is not valid JSON: {error}") from None
    if not isinstance(layout, dict) or "root" not in layout:
        raise archive.error(f"the layout entry {LAYOUT_KEY!r} has no 'root' (tampered?)")
    if type(layout.get("format")) is not int or layout["format"] != 1:   # not true, nor 1.0
        raise archive.error(f"the layout format {_short(layout.get('format'))} is not 1 "
                            "(written by a newer minigrad?)")
    builder = _Layout(archive, make)
    builder.find_bases(layout["root"])
    result = builder.build(layout["root"], "the root", 0)
    unused = sorted(set(archive.entries) - builder.used - {LAYOUT_KEY})
    if unused:
        raise archive.error(f"the archive holds {len(unused)} member(s) its layout does not use ({_short(unused)}): "
                            "it was edited or damaged; nothing was loaded")
    return result
