"""What a compiled function reads besides its Tensor arguments, and how ``mg.compile`` checks it is unchanged.

A replay does not run the function, so everything Python-level the capture relied on must be part of the
call's signature or checked before a replay (``Compiled`` in :mod:`minigrad.compile` does both):

* :func:`describe` — a non-Tensor argument's part of the signature: numbers and strings by type and
  value (``2``, ``2.0`` and ``True`` are three), the Tensors inside tuples, lists, dicts and plain
  objects as inputs;
* :func:`watched` / :func:`unchanged` — the closure cells and globals the function's code reads,
  compared by identity on every replay;
* :func:`find_paths` / :func:`paths_hold` — the tensors it read (and modules holding them) inside
  lists, dicts and plain objects (``params[0]``, ``self.w``), checked by following the same path;
* :func:`aliases` / :func:`aliases_hold` — an argument that was also another argument, or also a
  variable the function reads (``f(x, x)``, ``f(w)`` with ``w`` in its closure);
* :func:`autograd_state` — what a function may change on a Tensor argument (hooks, ``requires_grad``).

``compiled`` below is a :class:`~minigrad.compile.Compiled`: its ``fn`` and the ``cells``, ``names``
and ``namespace`` that :func:`watched` found.
"""

from __future__ import annotations

import collections
import math
import operator
import types
from typing import Any, Sequence

from . import backend
from .tensor import Tensor

__all__ = ["EMPTY_CELL", "aliases", "aliases_hold", "autograd_state", "describe", "find_paths", "is_module",
           "moved", "paths_hold", "static", "unchanged", "watched"]

EMPTY_CELL = object()   # a closure cell not yet filled, or a path that leads nowhere now

PATH_DEPTH = 3      # how deep find_paths looks into lists, dicts and objects for the tensors a capture read
PATH_BREADTH = 64   # and how many items of one container it looks at
PATH_BUDGET = 2048  # and how many containers in all, per capture

# types never looked into (Compiled is added by minigrad.compile: a compiled function holds its captures)
OPAQUE: tuple = (type, types.ModuleType, types.FunctionType, types.MethodType, Tensor)

_SCALARS = (int, float, bool, str, complex, type(None))


def watched(fn: Any) -> tuple[tuple, tuple, dict]:
    """The closure cells and the names of module globals that ``fn``'s code reads (a bound method's
    function's); nothing for other callables (a module: nn's guard covers its attributes)."""
    code, function = getattr(fn, "__code__", None), fn
    if code is None:
        function = getattr(fn, "__func__", None)
        code = getattr(function, "__code__", None)
    if code is None:
        return (), (), {}
    namespace = getattr(function, "__globals__", {})
    return tuple(function.__closure__ or ()), tuple(n for n in code.co_names if n in namespace), namespace


def unchanged(now: Sequence, then: Sequence) -> bool:
    """Guard values: the same objects, or equal numbers and strings (a new int of the same value is the same)."""
    if all(map(operator.is_, now, then)):   # the usual case, in C
        return True
    for a, b in zip(now, then):
        if a is not b and not (type(a) is type(b) and type(a) in (int, float, bool, str) and static(a) == static(b)):
            return False
    return True


def static(value: Any) -> Any:
    """A non-Tensor argument's part of the signature: its type and value, as ``2``, ``2.0`` and ``True``
    are equal in Python but give other results (an int tensor times 2 stays int); ``-0.0`` and NaN too."""
    kind = type(value)
    if kind is float:
        if value != value:
            return (kind, "nan")   # NaN != NaN: one signature for all NaNs, not one per call
        if value == 0.0:
            return (kind, value, math.copysign(1.0, value))
    return (kind, value)


def describe(value: Any, key: list, tensors: list) -> None:
    """Add a non-Tensor argument to the signature ``key``; the Tensors inside tuples, lists and dicts (and
    the Tensor attributes of a plain object) go to ``tensors``."""
    if isinstance(value, Tensor):
        data = value.data
        key.append((data.shape, data.dtype, backend.device_of(data), value.requires_grad))
        tensors.append(value)
    elif isinstance(value, (tuple, list)):   # named tuples too
        key.append((type(value), len(value)))
        for item in value:
            describe(item, key, tensors)
    elif type(value) in (dict, collections.OrderedDict):
        key.append((type(value), tuple(value)))
        for item in value.values():
            describe(item, key, tensors)
    else:
        key.append(static(value))
        if _is_plain_object(value):   # its attributes a function reads: numbers are static, Tensors inputs
            attributes = vars(value)
            if len(attributes) <= PATH_BREADTH:
                for name, item in attributes.items():
                    if type(item) in _SCALARS:
                        key.append((name, static(item)))
                    elif isinstance(item, Tensor):
                        key.append(name)
                        describe(item, key, tensors)


def is_module(value: Any) -> bool:
    """Whether ``value`` is an ``nn.Module`` (checked by its methods: this package does not import nn)."""
    return callable(getattr(value, "modules", None)) and callable(getattr(value, "parameters", None))


def _is_plain_object(value: Any) -> bool:
    """An instance of a user class hashed by identity (a config, a state holder), not a module or function."""
    kind = type(value)
    return kind.__hash__ is object.__hash__ and type(getattr(value, "__dict__", None)) is dict \
        and not issubclass(kind, OPAQUE) and not is_module(value)


def _is_container(value: Any) -> bool:
    """A list, tuple or dict, or an object whose attributes hold what it holds (a module too), that
    :func:`find_paths` looks into; not a class, a function, a Python module or a Tensor."""
    if type(value) in (list, tuple, dict):
        return len(value) <= PATH_BREADTH
    try:
        return type(getattr(value, "__dict__", None)) is dict and not isinstance(value, OPAQUE)
    except Exception:  # noqa: BLE001 - an odd object (a proxy): not looked into
        return False


def _children(value: Any) -> Any:
    """``(hop, item)`` for the items of a list, tuple or dict, or the attributes of an object."""
    if type(value) in (list, tuple):
        return [(("item", i), item) for i, item in enumerate(value)]
    if type(value) is dict:
        return [(("item", k), item) for k, item in value.items()]
    items = vars(value)
    return [] if len(items) > PATH_BREADTH else [(("attr", k), item) for k, item in items.items()]


def find_paths(compiled: Any, targets: list, arguments: bool = False) -> list:
    """Where ``targets`` sit inside the lists, tuples, dicts and plain objects the function reads (its
    closure, its globals, its ``self``): ``(root, hops, object)`` each.

    For the tensors a capture found on the way (the weights), or modules holding them, so that a replay
    sees ``params[0] = …`` or ``self.w = …`` (a tensor read straight from a variable is guarded already;
    one inside a module is nn's to guard). With ``arguments``, for the Tensor arguments, found in a
    variable too: the function may read the same tensor both ways (see :func:`aliases`).
    """
    wanted = {id(t): t for t in targets}
    roots: list = []
    for i, cell in enumerate(compiled.cells):
        try:
            roots.append((("cell", i), cell.cell_contents))
        except ValueError:   # a cell not yet filled
            pass
    roots += [(("global", name), compiled.namespace.get(name)) for name in compiled.names]
    owner = getattr(compiled.fn, "__self__", None)
    if owner is not None:
        roots.append((("self",), owner))
    paths, seen, found = [], set(), set()
    if arguments:
        for root, value in roots:
            if isinstance(value, Tensor) and wanted.get(id(value)) is value and id(value) not in found:
                found.add(id(value))
                paths.append((root, (), value))
    queue = collections.deque((root, (), value, 0) for root, value in roots
                              if _is_container(value) and not is_module(value))   # nn guards a module
    budget = PATH_BUDGET
    while queue and budget:
        budget -= 1
        root, hops, value, depth = queue.popleft()
        if is_module(value):
            if not arguments and id(value) not in found and any(
                    id(t) in wanted for t in (*value.parameters(), *getattr(value, "buffers", tuple)())):
                found.add(id(value))
                paths.append((root, hops, value))
            continue
        try:
            children = _children(value)
        except Exception:  # noqa: BLE001 - an odd object (a proxy): not looked into
            continue
        for hop, item in children:
            if isinstance(item, Tensor) and wanted.get(id(item)) is item:
                if id(item) not in found:
                    found.add(id(item))
                    paths.append((root, (*hops, hop), item))
            elif depth < PATH_DEPTH and id(item) not in seen and _is_container(item):
                seen.add(id(item))
                queue.append((root, (*hops, hop), item, depth + 1))
    return paths


def follow(compiled: Any, root: tuple, hops: tuple) -> Any:
    """The object at ``root`` (a closure cell, a global, the bound method's ``self``) then ``hops``."""
    try:
        value = compiled.cells[root[1]].cell_contents if root[0] == "cell" else \
            compiled.namespace.get(root[1]) if root[0] == "global" else compiled.fn.__self__
        for kind, name in hops:
            value = getattr(value, name) if kind == "attr" else value[name]
    except (AttributeError, LookupError, TypeError, ValueError):
        return EMPTY_CELL
    return value


def paths_hold(compiled: Any, paths: list) -> bool:
    """Whether every weight or module :func:`find_paths` found in a list, dict or object is still there."""
    for root, hops, target in paths:
        if follow(compiled, root, hops) is not target:
            return False
    return True


def moved(compiled: Any, paths: list) -> str:
    """The first path of :func:`paths_hold` that no longer holds, in words (``params['w']``, ``self.w``)."""
    function = getattr(compiled.fn, "__func__", compiled.fn)
    for root, hops, target in paths:
        if follow(compiled, root, hops) is not target:
            text = function.__code__.co_freevars[root[1]] if root[0] == "cell" else \
                root[1] if root[0] == "global" else "self"
            for kind, name in hops:
                text += f".{name}" if kind == "attr" else f"[{name!r}]"
            return f"{text} (a tensor or module it reads)"
    return "a tensor it reads"


def aliases(compiled: Any, tensors: list) -> list:
    """What a capture assumed about its Tensor arguments being one tensor: the same tensor passed twice
    (``f(x, x)``), two sharing one array, or an argument the function can also read from a variable or a
    container (``f(w)`` with ``w`` in its closure). Its ops then read the one tensor through one
    argument, so it replays only while that still holds (:func:`aliases_hold`)."""
    checks: list = []
    first_object: dict = {}
    first_array: dict = {}
    for k, t in enumerate(tensors):
        i = first_object.setdefault(id(t), k)
        j = first_array.setdefault(id(t.data), k)
        if i != k or j != k:
            checks.append(("same", i if i != k else j, k))
    position = {id(t): k for k, t in enumerate(tensors)}
    checks += [("path", root, hops, position[id(t)]) for root, hops, t in find_paths(compiled, tensors, True)]
    return checks


def aliases_hold(compiled: Any, checks: list, tensors: list) -> bool:
    """Whether the arguments are one tensor where the capture's were (see :func:`aliases`)."""
    for check in checks:
        if check[0] == "same":
            a, b = tensors[check[1]], tensors[check[2]]
            if a is not b and a.data is not b.data:
                return False
        elif follow(compiled, check[1], check[2]) is not tensors[check[3]]:
            return False
    return True


def autograd_state(t: Tensor) -> tuple:
    """What a function may change on a Tensor argument that a replay would not: compared before and after a
    capture (hooks and retain_grad on it, requires_grad_(), .grad, .data or .name set, detach_())."""
    node = t._node
    return (t.requires_grad, id(t.data), id(t._grad), t.name, id(node), len(t._hooks or ()),
            len(getattr(t, "_post_hooks", None) or ()),
            0 if node is None else len((node.hooks or {}).get(t._index, ())),
            node is not None and t._index in (node.retained or {}))
