"""Name scopes: which box an op folds into (``collapse``), and eliding the middle of long unrolls.

A scope is the ``/``-joined path an op was recorded under, e.g.
``seq2seq/encoder/l0/t3``; a part ``t{t}`` marks a time step.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable, NamedTuple

STEP = re.compile(r"t\d+")

Fold = Callable[[str], "str | None"]   # scope → path of the box it is drawn in (None: drawn op by op)


def parent(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def common_scope(scopes: list[str]) -> str:
    """The deepest scope that contains all of ``scopes``."""
    parts = scopes[0].split("/") if scopes[0] else []
    for scope in scopes[1:]:
        other = scope.split("/") if scope else []
        k = 0
        while k < min(len(parts), len(other)) and parts[k] == other[k]:
            k += 1
        parts = parts[:k]
    return "/".join(parts)


def outer_step(scope: str) -> str | None:
    """The outermost time-step scope that contains ``scope`` (``lstm/l0/t3`` for ``lstm/l0/t3/cell``)."""
    parts = scope.split("/") if scope else []
    for k, part in enumerate(parts):
        if STEP.fullmatch(part):
            return "/".join(parts[:k + 1])
    return None


def enclosing_step(scope: str) -> str | None:
    """The deepest time-step scope (last part ``t{t}``) that contains ``scope``."""
    parts = scope.split("/") if scope else []
    for k in range(len(parts), 0, -1):
        if STEP.fullmatch(parts[k - 1]):
            return "/".join(parts[:k])
    return None


def match_scope(scope: str, pattern: list[str]) -> str | None:
    """The part of ``scope`` that ends with ``pattern``, matched from the top
    (``seq2seq/encoder``) or at any depth (``encoder``); None if absent."""
    parts = scope.split("/") if scope else []
    n = len(pattern)
    for k in range(len(parts) - n + 1):
        if parts[k:k + n] == pattern:
            return "/".join(parts[:k + n])
    return None


def folder(collapse: Any, scopes: Iterable[str]) -> Fold:
    """The fold for a ``collapse`` option: ``None``, an int (levels kept open), ``"steps"``, or scope paths."""
    if collapse is None:
        return lambda scope: None
    if isinstance(collapse, bool) or not isinstance(collapse, (int, str, list, tuple)):
        raise TypeError(
            f"draw: collapse must be None, an int (scope levels kept open), 'steps' or a scope path, "
            f"got {collapse!r}"
        )
    if isinstance(collapse, int):
        if collapse < 0:
            raise ValueError(f"draw: collapse={collapse} must be >= 0 (the number of scope levels kept open)")

        def by_depth(scope: str) -> str | None:
            parts = scope.split("/") if scope else []
            return "/".join(parts[:collapse + 1]) if len(parts) > collapse else None

        return by_depth
    if collapse == "steps":
        return outer_step
    paths = [collapse] if isinstance(collapse, str) else list(collapse)
    wanted = []
    for path in paths:
        if not isinstance(path, str) or not path.strip("/"):
            raise ValueError(f"draw: collapse scope paths must be non-empty strings, got {path!r}")
        wanted.append(path.strip("/").split("/"))
    known = [s for s in scopes if s]
    for pattern in wanted:
        if not any(match_scope(s, pattern) is not None for s in known):
            outer = sorted({"/".join(s.split("/")[:2]) for s in known})
            raise ValueError(
                f"draw: collapse={'/'.join(pattern)!r} matches no name scope in this graph; "
                f"scopes include: {', '.join(outer) or '(none)'}"
            )

    def by_path(scope: str) -> str | None:
        for pattern in wanted:
            match = match_scope(scope, pattern)
            if match is not None:
                return match
        return None

    return by_path


# --- eliding the middle of a long unroll ------------------------------------------------

class Elided(NamedTuple):
    """A run of time steps drawn as one node: ``lstm/l0/t3…t996`` stands for t3 to t996."""

    path: str       # the box's path: its layer's scope, then ``t{first}…t{last}``
    steps: int      # how many time steps it stands for


def plan_elision(scopes: Iterable[str], steps_shown: int, longer_than: int = 0) -> dict[str, Elided]:
    """Step scope → its elided run, for every layer with more than ``steps_shown`` + 1 steps
    (and more than ``longer_than``).

    Each layer (the scope holding ``t{t}`` scopes) keeps its first
    ⌈steps_shown/2⌉ and last ⌊steps_shown/2⌋ steps, by step number; the steps
    between become one run (eliding a single step would save nothing).
    """
    layers: dict[str, dict[str, None]] = {}   # layer → its step scopes, in walk order
    for scope in scopes:
        step = outer_step(scope)
        if step is not None:
            layers.setdefault(parent(step), {})[step] = None
    plan: dict[str, Elided] = {}
    for layer, steps in layers.items():
        if len(steps) <= max(steps_shown + 1, longer_than):
            continue
        # by step number; scopes with the same number (a user's t3 and t03) each count as a step
        order = sorted(steps, key=lambda step: int(step.rsplit("/", 1)[-1][1:]))
        head = (steps_shown + 1) // 2
        middle = order[head:len(order) - (steps_shown - head)]
        first, last = (step.rsplit("/", 1)[-1] for step in (middle[0], middle[-1]))
        run = Elided(f"{layer}/{first}…{last}" if layer else f"{first}…{last}", len(middle))
        for step in middle:
            plan[step] = run
    return plan


def with_elision(fold: Fold, plan: dict[str, Elided]) -> Fold:
    """``fold``, except that an op inside an elided step goes to its run's box
    (unless ``fold`` already puts it in a box that holds the whole layer)."""
    if not plan:
        return fold

    def elided_fold(scope: str) -> str | None:
        box = fold(scope)
        step = outer_step(scope)
        run = plan.get(step) if step is not None else None
        if run is not None and (box is None or len(box) >= len(step)):
            return run.path
        return box

    return elided_fold


def cached(fold: Fold) -> Fold:
    """``fold`` remembered per scope: a long unroll has thousands of ops in few distinct scopes."""
    memo: dict[str, str | None] = {}

    def lookup(scope: str) -> str | None:
        try:
            return memo[scope]
        except KeyError:
            box = memo[scope] = fold(scope)
            return box

    return lookup
