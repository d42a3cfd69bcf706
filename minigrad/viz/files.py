"""``render``: write a drawing to a file (DOT text, or a picture made by Graphviz's ``dot``)."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import uuid
from typing import Any

from .dot import INSTALL_HINT
from .drawing import draw

FORMATS = ("svg", "png", "pdf", "dot")


class DotNotFoundError(RuntimeError):
    """The Graphviz ``dot`` binary is needed (to render SVG/PNG/PDF) but is not installed."""


def render(*roots: Any, path: str | os.PathLike, format: str = "svg", **draw_kwargs: Any) -> str:
    """Draw ``roots`` (see :func:`minigrad.viz.draw`) and write the picture; return the path written.

    ``path`` is used as is when it ends in ``.{format}``, else ``.{format}`` is
    appended. ``format="dot"`` writes the DOT text and needs no Graphviz
    binary; ``"svg"``, ``"png"`` and ``"pdf"`` run ``dot`` and raise
    :class:`DotNotFoundError` (saying how to install it) when it is missing.
    """
    if format not in FORMATS:
        raise ValueError(f"render: format must be one of {', '.join(FORMATS)}, got {format!r}")
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"render: path must be a str, bytes or os.PathLike, got {type(path).__name__}")
    target = os.fsdecode(path)
    if "\x00" in target:
        raise ValueError(f"render: path must not contain a NUL character, got {target!r}")
    if not os.path.basename(target):   # "" or "runs/": would write a hidden ".svg"
        raise ValueError(f"render: path must name a file (e.g. 'runs/graph'), got {target!r}")
    if not target.endswith("." + format):
        target = f"{target}.{format}"
    if format != "dot" and shutil.which("dot") is None:
        raise DotNotFoundError(
            f"render: format={format!r} needs the Graphviz 'dot' binary, which is not on PATH; "
            f"{INSTALL_HINT}; or pass format='dot' to write the DOT text only"
        )
    source = draw(*roots, **draw_kwargs).source
    if format == "dot":
        data = source.encode("utf-8")
    else:
        result = subprocess.run(["dot", f"-T{format}"], input=source.encode("utf-8"), capture_output=True)
        if result.returncode != 0:
            raise RuntimeError(f"render: dot -T{format} failed: {result.stderr.decode(errors='replace').strip()}")
        data = result.stdout
    folder = os.path.dirname(target)
    if folder:
        try:
            os.makedirs(folder, exist_ok=True)
        except FileExistsError:   # a file where a folder of the path should be
            raise NotADirectoryError(f"render: cannot write {target!r}: a part of {folder!r} is a file, "
                                     "not a folder") from None
        except OSError as error:   # no permission, a read-only file system (/proc), ...
            raise type(error)(f"render: cannot write {target!r}: {error.strerror or error}") from None
    if os.path.isdir(target):
        raise IsADirectoryError(f"render: cannot write {target!r}: it is a folder; pass a file name inside it")
    try:
        _write_whole(target, data)
    except OSError as error:   # no permission, a read-only or full disk, ...
        raise type(error)(f"render: cannot write {target!r}: {error.strerror or error}") from None
    return target


def _write_whole(target: str, data: bytes) -> None:
    """Write ``data`` to ``target`` whole or not at all: into a new file beside it, renamed over it once
    written, so a failed write (a full disk, a file size limit) leaves no partial picture and keeps the
    earlier one. A symbolic link is written through; a device or a pipe, and a file in a folder where no
    new file may be made, are written in place; a file the user may not write is refused, as ``open`` does."""
    final = os.path.realpath(target)
    if os.path.exists(final) and not os.access(final, os.W_OK):   # not replaced behind a read-only mode
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), final)
    if os.path.exists(final) and not os.path.isfile(final):   # /dev/stdout, a named pipe
        with open(final, "wb") as file:
            file.write(data)
        return
    temporary = os.path.join(os.path.dirname(final), f".{uuid.uuid4().hex}.minigrad-viz.tmp")
    try:
        file = open(temporary, "xb")   # noqa: SIM115 - closed below, removed if the write fails
    except PermissionError:
        if not os.path.isfile(final):
            raise
        with open(final, "wb") as file:   # the folder is read-only, the file itself writable
            file.write(data)
        return
    try:
        with file:
            file.write(data)
        os.replace(temporary, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
