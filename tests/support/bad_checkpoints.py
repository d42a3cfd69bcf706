"""Hostile checkpoint files for the tests of ``mg.load``: each builder writes one into a folder.

``CASES`` maps a case name to (builder, words): the builder takes a folder and
returns the path to load; ``words`` are what the CheckpointError message must
contain (besides the file name).
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

LAYOUT = "__minigrad__"


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def npy_header(descr: str, shape: tuple, payload: bytes) -> bytes:
    """An .npy member whose header says ``descr`` and ``shape`` whatever ``payload`` holds."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue() + payload


def write_zip(path: Path, members: list[tuple[str, bytes]], compression: int = zipfile.ZIP_STORED) -> Path:
    import warnings

    with warnings.catch_warnings():   # zipfile warns about duplicate names, which one case wants
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(path, "w", compression=compression) as archive:
            for name, data in members:
                archive.writestr(name, data)
    return path


def with_layout(path: Path, layout: Any, arrays: dict | None = None) -> Path:
    """A minigrad-style archive whose layout entry is ``layout`` (a JSON-able object, or raw text)."""
    text = layout if isinstance(layout, str) else json.dumps(layout)
    members = [(f"{k}.npy", npy(v)) for k, v in (arrays or {}).items()]
    return write_zip(path, members + [(f"{LAYOUT}.npy", npy(np.asarray(text)))])


def deep_layout(folder: Path) -> Path:
    node = '{"list": [' * 900 + '{"none": true}' + "]}" * 900   # too deep for json.dumps itself
    return with_layout(folder / "deep.npz", '{"format": 1, "root": ' + node + "}")


def zip_bomb(folder: Path) -> Path:
    """64 MiB of zeros deflated to ~64 KiB: a 1,000-fold inflation."""
    path = folder / "bomb.npz"
    zero = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("weight.npy", "w", force_zip64=True) as member:
            member.write(npy_header("<f8", (8 << 20,), b""))
            for _ in range(64):
                member.write(zero)
    return path


def stored_size_lie(folder: Path) -> Path:
    """A plainly stored member whose directory entry claims 8 TB: even max_ratio=None must not trust it."""
    path = write_zip(folder / "liar.npz", [("weight.npy", npy_header("<f8", (10**12,), bytes(64)))])
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("weight.npy")
    claimed = (8 * 10**12 + len(npy_header("<f8", (10**12,), b""))).to_bytes(8, "little")
    # rewrite the sizes as ZIP64 is not used here: patch the 4-byte fields where they fit, else cap at 0xFFFFFFFE
    small = min(int.from_bytes(claimed, "little"), 0xFFFFFFFE).to_bytes(4, "little")
    central = data.rfind(b"PK\x01\x02")
    data[central + 24:central + 28] = small             # uncompressed size in the central directory
    data[info.header_offset + 22:info.header_offset + 26] = small   # and in the local header
    path.write_bytes(bytes(data))
    return path


def fifo(folder: Path) -> Path:
    path = folder / "pipe.npz"
    os.mkfifo(path)
    return path


def folder_itself(folder: Path) -> Path:
    path = folder / "folder.npz"
    path.mkdir()
    return path


def plain(name: str, arrays: dict) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        return write_zip(folder / name, [(f"{k}.npy", npy(v)) for k, v in arrays.items()])
    return build


CASES: dict[str, tuple[Callable[[Path], Path], tuple]] = {
    "deep_layout": (deep_layout, ("nested", "levels deep")),
    "layout_not_json": (lambda d: with_layout(d / "badjson.npz", "{not json"), ("not valid JSON",)),
    "layout_bad_leaf": (lambda d: with_layout(d / "badleaf.npz", {"format": 1, "root": {"dict": [["w", {"leaf": 7}]]}}),
                        ("malformed", "'w'")),
    "layout_unknown_kind": (lambda d: with_layout(d / "kind.npz", {"format": 1, "root": {"dict": [
        ["step", {"leaf": "step", "kind": "pickle"}]]}}, {"step": np.array(3)}), ("unknown kind", "'step'")),
    "layout_missing_entry": (lambda d: with_layout(d / "ghost.npz", {"format": 1, "root": {"dict": [
        ["w", {"leaf": "ghost"}]]}}), ("'ghost'", "missing")),
    "layout_not_text": (lambda d: write_zip(d / "numlayout.npz", [(f"{LAYOUT}.npy", npy(np.ones(3)))]),
                        ("'__minigrad__'", "float64")),
    "layout_duplicate_key": (lambda d: with_layout(d / "dupkey.npz", {"format": 1, "root": {"dict": [
        ["w", {"none": True}], ["w", {"none": True}]]}}), ("'w'", "twice")),
    "layout_root_not_node": (lambda d: with_layout(d / "root.npz", {"format": 1, "root": 5}), ("malformed",)),
    "layout_newer_format": (lambda d: with_layout(d / "newer.npz", {"format": 99, "root": {"none": True}}),
                            ("format", "99")),
    "huge_header": (lambda d: write_zip(d / "huge.npz", [("weight.npy", npy_header("<f8", (10**12,), bytes(64)))]),
                    ("'weight'", "(1000000000000,)", "bytes")),
    "short_payload": (lambda d: write_zip(d / "short.npz", [("weight.npy", npy_header("<f4", (4, 4), bytes(10)))]),
                      ("'weight'", "64 bytes", "holds 10")),
    "unicode_dtype": (plain("text.npz", {"encoder.weight": np.array(["a", "b"])}), ("'encoder.weight'", "<U1")),
    "datetime_dtype": (plain("dates.npz", {"when": np.array(["2026-01-01"], dtype="datetime64[D]")}),
                       ("'when'", "datetime64")),
    "structured_dtype": (plain("records.npz", {"w": np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")])}),
                         ("'w'", "dtype")),
    "object_dtype": (plain("objects.npz", {"w": np.array([{"a": 1}, None], dtype=object)}),
                     ("'w'", "never unpickles")),
    "collision_nested_then_flat": (plain("clash1.npz", {"a/b": np.ones(2), "a": np.ones(2)}), ("'a'", "collides")),
    "collision_flat_then_nested": (plain("clash2.npz", {"a": np.ones(2), "a/b": np.ones(2)}), ("'a/b'", "collides")),
    "duplicate_member": (lambda d: write_zip(d / "twice.npz", [("w.npy", npy(np.ones(2))), ("w.npy", npy(np.ones(3)))]),
                         ("'w'", "twice")),
    "zip_bomb": (zip_bomb, ("inflate", "zip bomb", "max_ratio")),
    "bzip2_member": (lambda d: write_zip(d / "bz.npz", [("w.npy", npy(np.ones(2)))], zipfile.ZIP_BZIP2),
                     ("'w'", "compressed with method 12")),
    "foreign_member": (lambda d: write_zip(d / "readme.npz", [("readme.txt", b"hello")]), ("readme.txt", ".npy")),
    "stored_size_lie": (stored_size_lie, ("'weight'", "declares", "tampered")),
    "fifo": (fifo, ("FIFO", "not a regular file")),
    "folder": (folder_itself, ("folder", "not a regular file")),
}
