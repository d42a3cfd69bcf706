"""Run a hot stretch of calls where CPython's frame stack has room for all of them.

CPython (3.11) keeps Python frames on a stack of 16 KB chunks and frees a
chunk as soon as the first frame in it returns. A loop whose callees' frames
just cross a chunk's end therefore maps and unmaps a chunk on *every* call:
~7 µs instead of ~0.03 µs for a trivial function, at one caller depth in
about 130 (which depth depends on where the caller's own frames happen to
end, so one process is hit and the next is not). A backward walk over a
200-node graph measured 3–5x slower at 3 caller depths in 120; a replayed
recurrent layer 1.8x.

A frame larger than a chunk never fits in the current one, so it always
starts a fresh chunk, twice a chunk's size, and everything it calls fits
after it. Entering such a frame costs ~16 µs (a fresh mapping and its first
page touches), so only long stretches of calls use it: the backward walk of
a large graph (:func:`minigrad.autograd.backward`) and the generated code of
a long replay (:mod:`minigrad.codegen`).
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["PAD_LINE", "in_fresh_chunk"]

_LOCALS = 2_100   # 8 bytes each: past a 16 KB chunk

# a statement for a generated function's body: locals that are never set, so its frame is large
PAD_LINE = "if False: " + " = ".join(f"_{i}" for i in range(_LOCALS)) + " = None"


def _padded_caller() -> Callable[..., Any]:
    namespace: dict = {}
    exec(f"def in_fresh_chunk(fn, *args):\n    {PAD_LINE}\n    return fn(*args)\n", namespace)  # noqa: S102
    return namespace["in_fresh_chunk"]


in_fresh_chunk: Callable[..., Any] = _padded_caller()
in_fresh_chunk.__doc__ = "``fn(*args)``, called from a frame larger than a frame-stack chunk (see the module)."
