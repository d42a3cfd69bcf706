"""``nn.save`` / ``nn.load``: state dicts and checkpoints as ``.npz``, never with pickle.

What can be saved: a state dict (name → Tensor, NumPy array or Python
scalar), or any nesting of dicts, lists and tuples of those — for example
``{"model": model.state_dict(), "optimizer": opt.state_dict(), "step": 1200}``.

Layout on disk: an ordinary NumPy ``.npz`` archive. Each array sits under the
path of its keys joined by ``/`` (``model/encoder.weight_hh_l0``,
``optimizer/state/0/exp_avg``, ``step``), so ``numpy.load`` reads it as is.
One extra entry, ``__minigrad__``, holds the nesting as JSON text (which
containers are dicts, lists or tuples; whether an entry was an int, a float,
a bool, a string or None) so ``nn.load`` gives back the same structure, with
arrays as ``mg.Tensor``s and scalars as Python scalars. A ``.npz`` without that
entry loads too: its keys are split on ``/`` into nested dicts.

Saving is atomic: the archive is written to a temporary file in the same
folder, flushed to disk (fsync) and renamed over ``path``, so a crash never
leaves a half-written checkpoint under the real name.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from typing import Any

import numpy

from minigrad import backend
from minigrad.tensor import Tensor

__all__ = ["CheckpointError", "load", "save"]

LAYOUT_KEY = "__minigrad__"
_FORMAT = 1


class CheckpointError(ValueError):
    """A file that ``nn.load`` cannot read as a checkpoint: the message names the file and the key."""


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
        return numpy.asarray(value, dtype=numpy.int64), "int"
    if isinstance(value, float):
        return numpy.asarray(value, dtype=numpy.float64), "float"
    if isinstance(value, str):
        return numpy.asarray(value), "str"
    return None


def _is_number_list(value: Any, kind: type) -> bool:
    return len(value) > 0 and all(type(v) is kind for v in value)


def _flatten(obj: Any, path: str, arrays: dict, where: str) -> Any:
    """Walk ``obj``: put arrays in ``arrays`` under their ``/`` path, return the JSON skeleton."""
    if obj is None:
        return {"none": True}
    leaf = _leaf_array(obj)
    if leaf is not None:
        array, kind = leaf
        if array.dtype.kind == "O":
            raise TypeError(f"nn.save: {where} is an object array; only numeric, bool and string arrays can be saved")
        if path in arrays:
            raise ValueError(f"nn.save: two entries map to the same archive key {path!r}; rename one of them")
        arrays[path] = array
        return {"leaf": path, "kind": kind}
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(f"nn.save: keys must be strings or ints, got {key!r} ({type(key).__name__}) in {where}")
            text = str(key)
            if not text:
                raise ValueError(f"nn.save: empty key in {where}")
            child = f"{path}/{text}" if path else text
            items.append([key, _flatten(value, child, arrays, f"key {child!r}")])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        # a list of plain ints or floats (e.g. a group's parameter indices) is one array
        for number in (int, float):
            if _is_number_list(obj, number) and path:
                if path in arrays:
                    raise ValueError(f"nn.save: two entries map to the same archive key {path!r}")
                arrays[path] = numpy.asarray(obj, dtype=numpy.int64 if number is int else numpy.float64)
                return {"leaf": path, "kind": f"{number.__name__}_{kind}"}
        children = [_flatten(v, f"{path}/{i}" if path else str(i), arrays, f"{where}[{i}]") for i, v in enumerate(obj)]
        return {kind: children}
    hint = " (save its state_dict() instead)" if hasattr(obj, "state_dict") else ""
    raise TypeError(f"nn.save: cannot save {where}, a {type(obj).__name__}{hint}: expected Tensors, arrays, "
                    "numbers, strings, None, and dicts/lists/tuples of those")


def save(obj: Any, path: str | os.PathLike) -> str:
    """Write ``obj`` (a state dict or a nesting of them) to ``path`` as ``.npz``, atomically.

    Writes exactly ``path`` (no suffix is added) and returns it as a string.
    Tensors on a GPU are copied to the host first. Raises TypeError naming
    the key of anything that is not a tensor, array, number, string or None.
    """
    path = os.fspath(path)
    arrays: dict = {}
    skeleton = _flatten(obj, "", arrays, "the object")
    if LAYOUT_KEY in arrays:
        raise ValueError(f"nn.save: the key {LAYOUT_KEY!r} is reserved")
    layout = json.dumps({"format": _FORMAT, "root": skeleton})
    folder = os.path.dirname(os.path.abspath(path))
    handle, temp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as file:
            with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
                for key, array in [*arrays.items(), (LAYOUT_KEY, numpy.asarray(layout))]:
                    with archive.open(key + ".npy", "w", force_zip64=True) as member:
                        numpy.lib.format.write_array(member, array, allow_pickle=False)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temp, 0o666 & ~_umask())   # mkstemp makes 0600; give the file the usual permissions
        os.replace(temp, path)
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

def _read(archive: Any, key: str, path: str) -> numpy.ndarray:
    try:
        return archive[key]
    except KeyError:
        raise CheckpointError(f"nn.load: {path}: key {key!r} is listed in the layout but missing from the archive "
                              "(file truncated or edited?)") from None
    except ValueError as error:
        if "pickle" in str(error).lower() or "object" in str(error).lower():
            raise CheckpointError(f"nn.load: {path}: key {key!r} holds an object (pickled) array; refusing to "
                                  "load it (nn.load never unpickles)") from None
        raise CheckpointError(f"nn.load: {path}: cannot read key {key!r}: {error}") from error
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise CheckpointError(f"nn.load: {path}: cannot read key {key!r} (file truncated or corrupt): "
                              f"{type(error).__name__}: {error}") from error


def _tensor(array: numpy.ndarray, device: Any) -> Tensor:
    data = array if device is None or device == backend.CPU else backend.to_device(array, device)
    return Tensor._make(data, False, None, 0)


def _rebuild(node: Any, archive: Any, path: str, device: Any) -> Any:
    if not isinstance(node, dict):
        raise CheckpointError(f"nn.load: {path}: malformed layout entry {node!r}")
    if "none" in node:
        return None
    if "leaf" in node:
        key, kind = node["leaf"], node.get("kind", "tensor")
        array = _read(archive, key, path)
        if kind == "tensor":
            return _tensor(array, device)
        if kind in ("int", "float", "bool", "str"):
            return {"int": int, "float": float, "bool": bool, "str": str}[kind](array.item())
        if kind in ("int_list", "float_list", "int_tuple", "float_tuple"):
            values = array.tolist()
            return tuple(values) if kind.endswith("tuple") else values
        raise CheckpointError(f"nn.load: {path}: key {key!r} has an unknown kind {kind!r} in the layout")
    if "dict" in node:
        return {key: _rebuild(child, archive, path, device) for key, child in node["dict"]}
    if "list" in node:
        return [_rebuild(child, archive, path, device) for child in node["list"]]
    if "tuple" in node:
        return tuple(_rebuild(child, archive, path, device) for child in node["tuple"])
    raise CheckpointError(f"nn.load: {path}: malformed layout entry {node!r}")


def load(path: str | os.PathLike, device: Any = None) -> Any:
    """Read a file written by :func:`save` (or any ``.npz``) without unpickling anything.

    Returns the saved structure with arrays as ``mg.Tensor``s (on ``device``,
    default the host) and scalars as Python scalars. A plain ``.npz`` without
    a minigrad layout gives nested dicts split on ``/``. Errors name the file
    and the key: a missing file (FileNotFoundError), a file that is not an
    ``.npz`` archive, a truncated archive, an object (pickled) array.
    """
    path = os.fspath(path)
    dev = backend.resolve_device(device) if device is not None else None
    if not os.path.exists(path):
        raise FileNotFoundError(f"nn.load: no such file: {path!r}")
    try:
        archive = numpy.load(path, allow_pickle=False)
    except ValueError as error:
        raise CheckpointError(f"nn.load: {path} is not an .npz archive (it looks like a pickle or an unknown "
                              f"format; nn.load never unpickles): {error}") from error
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise CheckpointError(f"nn.load: {path} is not a readable .npz archive (truncated or corrupt?): "
                              f"{type(error).__name__}: {error}") from error
    if not isinstance(archive, numpy.lib.npyio.NpzFile):
        raise CheckpointError(f"nn.load: {path} holds a single .npy array, not an .npz archive; "
                              "use numpy.load for it")
    with archive:
        if LAYOUT_KEY in archive.files:
            try:
                layout = json.loads(_read(archive, LAYOUT_KEY, path).item())
            except json.JSONDecodeError as error:
                raise CheckpointError(f"nn.load: {path}: the layout entry {LAYOUT_KEY!r} is not valid JSON: "
                                      f"{error}") from error
            return _rebuild(layout["root"], archive, path, dev)
        result: dict = {}
        for key in archive.files:
            parts = key.split("/")
            table = result
            for part in parts[:-1]:
                table = table.setdefault(part, {})
                if not isinstance(table, dict):
                    raise CheckpointError(f"nn.load: {path}: key {key!r} nests under an array")
            table[parts[-1]] = _tensor(_read(archive, key, path), dev)
        return result
