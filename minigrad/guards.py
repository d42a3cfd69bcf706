"""What a compiled function reads besides its Tensor arguments, and how ``mg.compile`` checks it is unchanged.

A replay does not run the function, so everything Python-level the capture relied on must be part of the
call's signature or checked before a replay (``Compiled`` in :mod:`minigrad.compile` does both):

* :func:`describe` — a non-Tensor argument's part of the signature: numbers and strings by type and
  value (``2``, ``2.0`` and ``True`` are three), the Tensors inside tuples, lists, dicts and plain
  objects as inputs;
* :func:`watched` / :func:`unchanged` — the closure cells, default arguments and globals the function's code
  reads (and its helpers': the functions it reads, the forwards of a module's own classes), compared by
  identity on every replay;
* :func:`find_statics` / :func:`statics_hold` — the Python numbers and strings it may read inside lists,
  dicts, objects, Python modules and classes (``cfg.scale``, ``hp["lr"]``), and those lists' and dicts'
  lengths: checked on every replay, and compared before and after a capture (a function that changes
  them, ``log.append(y)``, ``self.calls += 1``, has a Python side effect a replay would skip);
* :func:`find_paths` / :func:`paths_hold` — the tensors it read (and modules holding them) inside
  lists, dicts and plain objects (``params[0]``, ``self.w``), checked by following the same path;
* :func:`aliases` / :func:`aliases_hold` — an argument that was also another argument, or also a
  variable the function reads (``f(x, x)``, ``f(w)`` with ``w`` in its closure);
* :func:`autograd_state` — what a function may change on a Tensor argument (hooks, ``requires_grad``).

``compiled`` below is a :class:`~minigrad.compile.Compiled`: its ``fn`` and the ``cells``, ``names``,
``owner`` and ``words`` that :func:`watched` found.
"""

from __future__ import annotations

import collections
import functools
import math
import operator
import random
import sys
import types
import weakref
from typing import Any, NamedTuple, Sequence

import numpy

from . import backend
from .generators import Generator
from .tensor import Tensor

__all__ = ["EMPTY_CELL", "Slot", "Watched", "aliases", "aliases_hold", "autograd_state", "describe", "find_forwards",
           "find_paths", "find_statics", "forwards_hold", "is_module", "moved", "paths_hold", "static", "static_moved",
           "statics_hold", "unchanged", "watched"]

EMPTY_CELL = object()   # a closure cell not yet filled, or a path that leads nowhere now

PATH_DEPTH = 3      # how deep find_paths looks into lists, dicts and objects for the tensors a capture read
PATH_BREADTH = 64   # and how many items of one container it looks at
PATH_BUDGET = 2048  # and how many containers in all, per capture
ARRAY_ITEMS = 1024   # a NumPy array (or a list of numbers wider than PATH_BREADTH) it reads up to this size is
#                      guarded by its values (a larger one is not)
STATIC_BUDGET = 256  # Python numbers, strings and lengths find_statics keeps per capture (each checked per replay)
HELPERS = 1024      # functions besides fn itself whose closures and globals watched() guards
HELPER_ITEMS = 4096  # items of one list, tuple or dict that watched() looks into for functions

# packages whose functions read no user state: their helpers are not looked into (fn itself always is)
LIBRARIES = frozenset({"minigrad", "nn", "numpy", "builtins", "functools", "enum"})   # enum: an IntEnum's machinery

# types never looked into (Compiled is added by minigrad.compile: a compiled function holds its captures)
OPAQUE: tuple = (type, types.ModuleType, types.FunctionType, types.MethodType, Tensor, Generator)
# minigrad.compile's Compiled (set there): not looked into itself (its captures hold tensors), but through to the
# function or module it compiles, whose code and state a capture that calls it reads as its own
COMPILED: tuple = ()

_SCALARS = (int, float, bool, str, complex, type(None))
NUMPY_SCALARS = (numpy.number, numpy.bool_)   # numpy.float64(0.5), numpy.int64(3): numbers too, guarded as they are
_CALLABLES = (types.FunctionType, types.MethodType, types.BuiltinFunctionType, functools.partial)


def is_scalar(value: Any) -> bool:
    """A number or string guarded by its value: a Python one, a subclass's (an IntEnum member, a float
    subclass: their type and value, not their class's machinery), a NumPy scalar; None."""
    return isinstance(value, _SCALARS) or isinstance(value, NUMPY_SCALARS)


class Watched(NamedTuple):
    """What :func:`watched` found: closure ``cells`` (with their variables' ``cell_names``), ``names`` as
    ``(namespace, name)`` pairs, the ``owner`` its code knows as ``self`` (or None), the ``words`` its code
    names (attribute names and string constants), whether it calls the builtin ``print``, and the user
    ``functions`` whose code it runs (a replay checks their ``__code__``: an edit reloaded into the function
    object, as IPython's autoreload does, captures again)."""

    cells: tuple
    cell_names: tuple
    names: tuple
    owner: Any
    words: frozenset
    prints: bool
    functions: tuple = ()


def _user_module(module: types.ModuleType) -> bool:
    """A Python module of the user's (not the libraries', not the standard library's), whose functions that a
    function names (``utils.helper(x)``) are its helpers."""
    top = (getattr(module, "__name__", None) or "").partition(".")[0]
    return top not in LIBRARIES and top not in sys.stdlib_module_names


def _library(function: Any) -> bool:
    return (getattr(function, "__module__", None) or "").partition(".")[0] in LIBRARIES


def code_function(fn: Any) -> tuple[Any, Any]:
    """The Python function whose code a call of ``fn`` runs and the object that code knows as ``self``: a
    function's own, a bound method's, a ``functools.partial``'s function's, a module's ``forward``, a
    callable object's ``__call__``; ``(None, None)`` for other callables (a builtin, a compiled function)."""
    if isinstance(fn, functools.partial):
        return code_function(fn.func)
    if isinstance(fn, types.FunctionType):
        return fn, None
    if isinstance(fn, types.MethodType):
        function, owner = code_function(fn.__func__)
        return function, fn.__self__
    if is_module(fn) and "forward" in vars(fn):   # model.forward = ...: what its __call__ runs
        function, _owner = code_function(vars(fn)["forward"])
        return function, fn
    call = getattr(type(fn), "forward" if is_module(fn) else "__call__", None)
    if isinstance(call, types.FunctionType) and not isinstance(fn, OPAQUE):
        return call, fn
    return None, None


def _codes(code: types.CodeType) -> list:
    """A code object and those nested in it (lambdas, inner functions, comprehensions)."""
    codes, stack = [], [code]
    while stack:
        code = stack.pop()
        codes.append(code)
        stack += [c for c in code.co_consts if isinstance(c, types.CodeType)]
    return codes


def _methods(kind: type) -> list:
    """The functions defined in a class and its bases outside the libraries (a user's methods, the functions of
    its static and class methods, and its properties' getters)."""
    return [f for base in kind.__mro__ for f in map(_function_of, vars(base).values())
            if isinstance(f, types.FunctionType) and not _library(f)]


def _function_of(attribute: Any) -> Any:
    """The function a class attribute runs: a staticmethod's or classmethod's, a property's getter; else itself."""
    if isinstance(attribute, (staticmethod, classmethod)):
        return attribute.__func__
    return attribute.fget if isinstance(attribute, property) else attribute


def _helpers_in(value: Any, depth: int = 0) -> list:
    """The user functions that code reading ``value`` may call: a function itself, a bound method's or a
    ``functools.partial``'s function, the methods of a plain object's, a module's (and its children's) or a
    class's own class, and those inside a list, tuple or dict (a dispatch table, two levels deep), and those of
    a compiled function's function (a compiled function called inside another one's capture runs eagerly)."""
    if isinstance(value, COMPILED):
        return _helpers_in(value.fn, depth)
    if isinstance(value, types.FunctionType):
        return [] if _library(value) else [value]
    if isinstance(value, types.MethodType):
        return _helpers_in(value.__func__) + _helpers_in(value.__self__, depth)
    if isinstance(value, functools.partial):
        return _helpers_in(value.func, depth)
    kind = type(value)
    if kind in (list, tuple, dict, collections.OrderedDict):
        if depth >= 2 or len(value) > HELPER_ITEMS:
            return []
        items = value.values() if isinstance(value, dict) else value
        return [helper for item in items for helper in _helpers_in(item, depth + 1)]
    if isinstance(value, type):
        return [] if _library(value) else _methods(value)
    if is_module(value):   # its classes' methods, and a forward set on an instance (model.forward = ...)
        return [f for kind in dict.fromkeys(type(m) for m in value.modules()) for f in _methods(kind)] + \
            [f for m in value.modules() if "forward" in vars(m) for f in _helpers_in(vars(m)["forward"], depth)]
    if _is_plain_object(value) and not _library(kind):
        return _methods(kind)
    return []


class Slot:
    """A value a function call reads that is not a variable: a default argument of a user function, or the
    arguments a ``functools.partial`` holds (``getattr(owner, attribute)[key]``, or ``getattr(owner, attribute)``
    when ``key`` is None). Read as a closure cell is (``cell_contents``; ValueError once it is gone), so that it
    is guarded as one: ``f.__defaults__ = (5.0,)``, an item of a default dict or ``partial.keywords`` changed."""

    __slots__ = ("owner", "attribute", "key")

    def __init__(self, owner: Any, attribute: str, key: int | str | None = None) -> None:
        self.owner, self.attribute, self.key = owner, attribute, key

    @property
    def cell_contents(self) -> Any:
        try:
            value = getattr(self.owner, self.attribute)
            return value if self.key is None else value[self.key]
        except (TypeError, LookupError):   # the defaults were removed or shortened
            raise ValueError(f"no {self.attribute}[{self.key!r}]") from None

    def __eq__(self, other: object) -> bool:   # watched() again finds equal slots: the captures still fit
        return type(other) is Slot and other.owner is self.owner and (other.attribute, other.key) == \
            (self.attribute, self.key)

    def __hash__(self) -> int:
        return hash((id(self.owner), self.attribute, self.key))


def _default_slots(f: types.FunctionType) -> list:
    """``(slot, name)`` for each default argument of ``f`` (none for a library's function)."""
    if _library(f):
        return []
    code = f.__code__
    positional = code.co_varnames[:code.co_argcount]
    defaults = f.__defaults__ or ()
    slots = [(Slot(f, "__defaults__", i), positional[len(positional) - len(defaults) + i])
             for i in range(len(defaults))]
    return slots + [(Slot(f, "__kwdefaults__", name), name) for name in f.__kwdefaults__ or {}]


def watched(fn: Any) -> Watched:
    """The closure cells and the names of module globals that ``fn``'s code reads, and those of the helpers
    it reads (functions in its closure or globals, also inside lists, tuples and dicts there, bound methods,
    the methods of its ``self``'s class and of the objects, modules and classes it reads, the forwards of a
    module's submodules; outside the libraries, up to ``HELPERS``: see :func:`_helpers_in`), compared on every
    replay; the words
    (attribute names, string constants) all that code names, for :func:`find_statics`."""
    function, owner = code_function(fn)
    if function is None:
        return Watched((), (), (), None, frozenset(), False)
    functions, queue = [function], [function]
    if owner is not None:
        modules = owner.modules() if is_module(owner) else (owner,)
        queue += [f for kind in dict.fromkeys(type(m) for m in modules) for f in _methods(kind)]
    cells, cell_names, names, words, calls = [], [], [], set(), {}
    if isinstance(fn, functools.partial):   # the arguments it holds (partial.keywords is a dict: changed in place)
        cells += [*(Slot(fn, "args", i) for i in range(len(fn.args))), *(Slot(fn, "keywords", k) for k in fn.keywords)]
        cell_names += [*(f"the partial's argument {i}" for i in range(len(fn.args))),
                       *(f"the partial's keyword {k!r}" for k in fn.keywords)]
    seen = {id(function)}
    while queue:
        f = queue.pop(0)
        if f is not function:
            if id(f) in seen or len(functions) > HELPERS:
                continue
            seen.add(id(f))
            functions.append(f)
        code, namespace = f.__code__, f.__globals__
        defaults = _default_slots(f)   # guarded as the closure's variables are
        cells += [*(f.__closure__ or ()), *(slot for slot, _name in defaults)]
        cell_names += [*code.co_freevars, *(f"{name} (a default argument)" for _slot, name in defaults)]
        own_words, helpers = set(), []
        for c in _codes(code):
            own_words.update(c.co_names)
            own_words.update(k for k in c.co_consts if type(k) is str)
            for name in c.co_names:
                if name in namespace:
                    names.append((namespace, name))
        if f is function or f.__name__ != "__init__":   # a module's __init__ never runs inside a call
            words |= own_words
        for value in (*(namespace.get(n) for n in code.co_names if n in namespace),
                      *(_contents(cell) for cell in f.__closure__ or ()),
                      *(_contents(slot) for slot, _name in defaults)):
            try:
                found = _helpers_in(value)
                if isinstance(value, types.ModuleType) and _user_module(value):   # utils.helper(x): its helpers
                    items = vars(value)
                    found += [h for name in own_words if name in items for h in _helpers_in(items[name])]
            except Exception:  # noqa: BLE001 - an odd object (a proxy): not looked into
                found = []
            for helper in found:
                helpers.append(helper)
                if id(helper) not in seen:
                    queue.append(helper)
        calls[id(f)] = (own_words, helpers, "print" in own_words and "print" not in namespace)   # the builtin
    names = list(dict.fromkeys((id(namespace), name) for namespace, name in names))
    namespaces = {id(f.__globals__): f.__globals__ for f in functions}
    return Watched(tuple(cells), tuple(cell_names), tuple((namespaces[i], name) for i, name in names), owner,
                   frozenset(words), _reaches_print(function, functions, calls),
                   tuple(f for f in functions if not _library(f)))


def _reaches_print(function: Any, functions: list, calls: dict) -> bool:
    """Whether code a call may run calls the builtin print: ``function``'s, the helpers it reads, the modules'
    forwards and operator methods, and the methods named in that code. A method named nowhere on the way (a
    module's ``__init__``, nanoGPT's ``configure_optimizers``) does not run inside the call."""
    methods: dict = {}
    for f in functions:
        methods.setdefault(f.__name__, []).append(f)
    stack = [function, *(f for f in functions if f.__name__ == "forward"
                         or f.__name__.startswith("__") and f.__name__ != "__init__")]
    reached = set()
    while stack:
        f = stack.pop()
        if id(f) in reached or id(f) not in calls:
            continue
        reached.add(id(f))
        own_words, helpers, prints = calls[id(f)]
        if prints:
            return True
        stack += helpers + [m for name in own_words for m in methods.get(name, ())]
    return False


def _contents(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:   # a cell not yet filled
        return EMPTY_CELL


def unchanged(now: Sequence, then: Sequence) -> bool:
    """Guard values: the same objects, or equal numbers and strings (a new int of the same value is the same)."""
    if all(map(operator.is_, now, then)):   # the usual case, in C
        return True
    for a, b in zip(now, then):
        if a is not b and not (type(a) is type(b) and is_scalar(a) and static(a) == static(b)):
            return False
    return True


def static(value: Any) -> Any:
    """A non-Tensor argument's part of the signature: its type and value, as ``2``, ``2.0`` and ``True``
    are equal in Python but give other results (an int tensor times 2 stays int); ``-0.0`` and NaN too, also
    in a complex number's parts and in NumPy's scalars (``numpy.float64(-0.0) == 0.0``)."""
    kind = type(value)
    if kind is float or isinstance(value, numpy.floating):
        return (kind, *_float_part(value))
    if kind is complex or isinstance(value, numpy.complexfloating):
        return (kind, _float_part(value.real), _float_part(value.imag))
    return (kind, value)


def _float_part(value: Any) -> tuple:
    """A float's (or a complex number's part's) key in :func:`static`: every NaN alike, ``-0.0`` apart from 0.0."""
    if value != value:
        return ("nan",)   # NaN != NaN: one signature for all NaNs, not one per call
    if value == 0.0:
        return (value, math.copysign(1.0, value))
    return (value,)


def describe(value: Any, key: list, tensors: list, words: frozenset = frozenset(), depth: int = 0) -> None:
    """Add a non-Tensor argument to the signature ``key``; the Tensors inside tuples, lists and dicts (and
    the Tensor attributes of a plain object) go to ``tensors``. A plain object's lists, tuples, dicts and plain
    objects that the function's code names (``words``: ``state.hs[0]``, ``batch.meta.scale``) are described
    too, ``PATH_DEPTH`` objects deep: a replay reads them as it reads the object's own attributes."""
    if isinstance(value, Tensor):
        data = value.data
        key.append((data.shape, data.strides, data.dtype, backend.device_of(data), value.requires_grad))
        if names_grad(words):   # ``if p.grad is not None:`` on an argument: whether it has one (see grads_passed)
            key.append(("grad", value._grad is None))
        tensors.append(value)
    elif names_grad(words) and is_module(value):   # ``for p in model.parameters(): p.grad ...``
        key.append(static(value))
        key.extend(("grad", p._grad is None) for p in value.parameters())
    elif isinstance(value, (tuple, list, collections.deque)):   # named tuples too
        key.append((type(value), len(value)))
        for item in value:
            describe(item, key, tensors, words, depth)
    elif type(value) in _DICTS:
        key.append((type(value), tuple(value)))
        for item in value.values():
            describe(item, key, tensors, words, depth)
    else:
        key.append(static(value))
        if _is_plain_object(value):   # its attributes a function reads: numbers are static, Tensors inputs
            attributes = vars(value)
            if len(attributes) <= PATH_BREADTH:
                for name, item in attributes.items():
                    if is_scalar(item):
                        key.append((name, static(item)))
                    elif isinstance(item, Tensor):
                        key.append(name)
                        describe(item, key, tensors)
                    elif name not in words:
                        continue
                    elif type(item) in _CALLABLES or is_module(item):   # a helper or layer it calls: which one
                        key.append((name, static(item)))
                    elif type(item) is numpy.ndarray:   # a small one by its values, as find_statics guards one
                        key.append((name, _marker(item)))
                    elif depth < PATH_DEPTH and (type(item) in (tuple, list, collections.deque) or
                                                 type(item) in _DICTS or _is_plain_object(item)):
                        key.append(name)
                        describe(item, key, tensors, words, depth + 1)


def names_grad(words: Any) -> bool:
    """Whether code with these names may read or drop gradients (``p.grad``, ``model.zero_grad()``,
    ``nn.utils.clip_grad_value_(...)``)."""
    if type(words) is frozenset:   # a compiled function's own words: once
        return _frozen_names_grad(words)
    return "grad" in words or "zero_grad" in words or any(w.startswith("clip_grad") for w in words)


@functools.lru_cache(maxsize=256)
def _frozen_names_grad(words: frozenset) -> bool:
    return "grad" in words or "zero_grad" in words or any(w.startswith("clip_grad") for w in words)


def grads_passed(words: frozenset, args: tuple, kwargs: dict) -> bool:
    """Whether a function that names ``grad`` is passed a tensor with a gradient (in a tuple, list or dict too)
    or a module whose parameters have one: a capture would hold that gradient as a constant, while the next
    backward (after ``zero_grad()``) makes another; such a call runs eagerly (the signature has which of them
    have none)."""
    if not names_grad(words):
        return False
    stack = [*args, *kwargs.values()]
    while stack:
        value = stack.pop()
        if isinstance(value, Tensor):
            if value._grad is not None:
                return True
        elif type(value) in (tuple, list, collections.deque):
            stack.extend(value)
        elif type(value) in _DICTS:
            stack.extend(value.values())
        elif is_module(value) and any(p._grad is not None for p in value.parameters()):
            return True
    return False


def is_module(value: Any) -> bool:
    """Whether ``value`` is an ``nn.Module`` (checked by its methods: this package does not import nn)."""
    return callable(getattr(value, "modules", None)) and callable(getattr(value, "parameters", None))


def _is_plain_object(value: Any) -> bool:
    """An instance of a user class hashed by identity (a config, a state holder), not a module or function."""
    kind = type(value)
    return kind.__hash__ is object.__hash__ and type(getattr(value, "__dict__", None)) is dict \
        and not issubclass(kind, OPAQUE) and not is_module(value)


def _is_container(value: Any) -> bool:
    """A list, tuple, deque or dict (an OrderedDict, a defaultdict too), or an object whose attributes hold what it
    holds (a module too), that :func:`find_paths` looks into; not a class, a function, a Python module or a Tensor."""
    if type(value) in (list, tuple, collections.deque) or type(value) in _DICTS:
        return len(value) <= PATH_BREADTH
    try:
        return type(getattr(value, "__dict__", None)) is dict and not isinstance(value, OPAQUE)
    except Exception:  # noqa: BLE001 - an odd object (a proxy): not looked into
        return False


def _children(value: Any) -> Any:
    """``(hop, item)`` for the items of a list, tuple, deque or dict, or the attributes of an object."""
    if type(value) in (list, tuple, collections.deque):
        return [(("item", i), item) for i, item in enumerate(value)]
    if type(value) in _DICTS:
        return [(("item", k), item) for k, item in list(value.items())]   # list: one step (other threads)
    items = vars(value)
    if len(items) > PATH_BREADTH:
        return []
    own = [(("attr", k), item) for k, item in list(items.items())]
    return own + (_class_items(value) if not is_module(value) else [])


def find_paths(compiled: Any, targets: list, arguments: bool = False, modules: dict | None = None) -> list:
    """Where ``targets`` sit inside the lists, tuples, dicts and plain objects the function reads (its
    closure, its globals, its ``self``): ``(root, hops, object)`` each.

    For the tensors a capture found on the way (the weights), or modules holding them, so that a replay
    sees ``params[0] = …`` or ``self.w = …`` (a tensor read straight from a variable is guarded already;
    one inside a module is nn's to guard). With ``arguments``, for the Tensor arguments, found in a
    variable too: the function may read the same tensor both ways (see :func:`aliases`). ``modules``, if
    given, gets every module on the way (by id).
    """
    wanted = {id(t): t for t in targets}
    roots = _roots(compiled)
    paths, seen, found = [], set(), set()
    if arguments:
        for root, value in roots:
            if isinstance(value, Tensor) and wanted.get(id(value)) is value and id(value) not in found:
                found.add(id(value))
                paths.append((root, (), value))
    # (root, hops, value, depth, whether nn guards it: a module that is a variable or another module's child)
    queue = collections.deque((root, (), value, 0, is_module(value)) for root, value in roots
                              if _is_container(value) or isinstance(value, COMPILED))
    budget = PATH_BUDGET
    while queue and budget:
        budget -= 1
        root, hops, value, depth, registered = queue.popleft()
        if isinstance(value, COMPILED):   # what it compiles: a module (its lists, its children's forwards)
            if _is_container(value.fn):
                queue.append((root, (*hops, ("attr", "fn")), value.fn, depth, registered))
            continue
        if is_module(value):   # nn guards its parameters, buffers and children; not its lists and dicts
            if modules is not None:
                modules[id(value)] = value
            if wanted and not arguments and not registered and id(value) not in found and any(
                    id(t) in wanted for t in (*value.parameters(), *getattr(value, "buffers", tuple)())):
                found.add(id(value))
                paths.append((root, hops, value))
            for hop, item, child in _module_containers(value):   # a module tree counts as one level, however deep
                if id(item) not in seen:
                    seen.add(id(item))
                    queue.append((root, (*hops, hop), item, depth, child))
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
            elif (depth < PATH_DEPTH or is_module(item)) and id(item) not in seen and _is_container(item):
                # (a module at the last level too: a tensor it holds is a leaf there, as a tensor item is)
                seen.add(id(item))
                queue.append((root, (*hops, hop), item, depth + 1, False))
    return paths


def _module_containers(module: Any) -> list:
    """``(hop, item, is a child)`` for a module's children and the lists, tuples, deques, dicts and objects kept as
    its public attributes (``self.extra = [mask]``: a tensor put in one later is not a registration nn counts)."""
    # list(...): one step, as another thread's forward may set an attribute on a shared module meanwhile
    items = [(("attr", name), child, True) for name, child in list(getattr(module, "_modules", {}).items())
             if child is not None]
    return items + [(("attr", name), item, False) for name, item in list(vars(module).items())
                    if name[0] != "_" and _is_container(item) and not is_module(item)]


def _roots(compiled: Any) -> list:
    """``(root, value)`` for the variables the function's code reads (closure cells, globals) and its ``self``."""
    roots = [(("cell", i), value) for i, cell in enumerate(compiled.cells)
             if (value := _contents(cell)) is not EMPTY_CELL]
    roots += [(("global", i), namespace.get(name)) for i, (namespace, name) in enumerate(compiled.names)]
    if compiled.owner is not None:
        roots.append((("self",), compiled.owner))
    return roots


def _root_name(compiled: Any, root: tuple) -> str:
    return compiled.cell_names[root[1]] if root[0] == "cell" else \
        compiled.names[root[1]][1] if root[0] == "global" else "self"


def follow(compiled: Any, root: tuple, hops: tuple) -> Any:
    """The object at ``root`` (a closure cell, a global, the bound method's ``self``) then ``hops``."""
    try:
        if root[0] == "cell":
            value = compiled.cells[root[1]].cell_contents
        elif root[0] == "global":
            namespace, name = compiled.names[root[1]]
            value = namespace.get(name)
        else:
            value = compiled.owner
        for kind, name in hops:
            if kind == "attr":
                value = getattr(value, name)
            elif kind == "grad":
                value = _grad_of(value)
            elif type(value) is not collections.defaultdict or name in value:
                value = value[name]
            else:   # a key removed from a defaultdict: reading it would add it
                return EMPTY_CELL
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
    for root, hops, target in paths:
        if follow(compiled, root, hops) is not target:
            return f"{_path_text(compiled, root, hops)} (a tensor or module it reads)"
    return "a tensor it reads"


def _path_text(compiled: Any, root: tuple, hops: tuple) -> str:
    text = _root_name(compiled, root)
    for kind, name in hops:
        text += f".{name}" if kind in ("attr", "grad") else f"[{name!r}]"
    return text


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
    hooks = () if node is None else tuple((node.hooks or {}).get(t._index, ()))   # not another thread's grad's
    return (t.requires_grad, id(t.data), id(t._grad), t.name, id(node), len(t._hooks or ()),
            len(getattr(t, "_post_hooks", None) or ()), sum(getattr(hook, "walk", None) is None for hook in hooks),
            node is not None and t._index in (node.retained or {}))


_LISTS = (list, collections.deque)   # the mutable sequences and mappings find_statics guards the lengths of
_DICTS = (dict, collections.OrderedDict, collections.defaultdict, collections.Counter)


def _marker(value: Any) -> Any:
    """What :func:`find_statics` keeps of a value: a number's or string's type and value, a list's, deque's or
    dict's type and length (an item appended), a set's items, a small NumPy array's or wide list of numbers'
    values, a function or method itself (a dispatch table's entry swapped), an nn module's counts of children,
    parameters and buffers (one added), a Python or NumPy random generator's state (a draw moves it), None for
    anything else (a tensor: guarded elsewhere)."""
    kind = type(value)
    if is_scalar(value):
        return static(value)
    if kind in _LISTS or kind in _DICTS:
        if kind is list and PATH_BREADTH < len(value) <= ARRAY_ITEMS and \
                all(map(is_scalar, value)):
            return (kind, tuple(map(static, value)))   # a wide list of numbers (its items are not looked into)
        return (kind, len(value))
    if kind is numpy.ndarray and value.size <= ARRAY_ITEMS:   # ``x * float(table[0])``: its values
        return (kind, value.shape, value.dtype.str, value.tobytes())
    if is_module(value) and not isinstance(value, type):   # a layer appended to a ModuleList the code iterates
        return ("module", len(value._modules), len(value._parameters), len(value._buffers))
    if kind is set:   # ``if name in skip:``: its items (a wide one, its length)
        return (kind, frozenset(value) if len(value) <= PATH_BREADTH else len(value))
    if kind in (types.FunctionType, types.MethodType, functools.partial):   # a helper in a table: which one
        return (kind, value)
    if isinstance(value, PYTHON_GENERATORS):   # ``rng.integers(1, 3)`` steering a loop: a draw moves it
        return (kind, generator_state(value))
    if kind is _GradOf:
        return value
    return None


class _GradOf:
    """Which tensor a tensor's ``.grad`` is (a weak reference; None for no gradient), guarded for the tensors a
    function that reads or drops gradients reaches (``if p.grad is not None:``, ``opt.step()``,
    ``opt.zero_grad()``, ``clip_grad_value_``): a capture made without gradients replayed nothing once backward
    gave them, one that dropped them did not drop them again, one that read them kept reading the old ones. Equal
    only to a mark of the same living tensor (an ``id`` could be the next gradient's)."""

    __slots__ = ("ref",)

    def __init__(self, grad: Tensor | None) -> None:
        self.ref = None if grad is None else weakref.ref(grad)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _GradOf):
            return NotImplemented
        if self.ref is None or other.ref is None:
            return self.ref is other.ref
        mine = self.ref()
        return mine is not None and mine is other.ref()

    __hash__ = None   # type: ignore[assignment]


def _grad_of(value: Any) -> Any:
    """:class:`_GradOf` of a tensor (EMPTY_CELL for anything else)."""
    if not isinstance(value, Tensor):
        return EMPTY_CELL
    return _GradOf(value._grad)


PYTHON_GENERATORS = (random.Random, numpy.random.Generator, numpy.random.RandomState, numpy.random.BitGenerator)


def generator_state(value: Any) -> Any:
    """A Python or NumPy random generator's state as a comparable value (a draw or a seed changes it)."""
    if isinstance(value, random.Random):
        return value.getstate()
    if isinstance(value, numpy.random.RandomState):
        _name, key, position, has_gauss, gauss = value.get_state()
        return key.tobytes(), position, has_gauss, gauss
    bits = value.bit_generator if isinstance(value, numpy.random.Generator) else value
    return _plain(bits.state)


def _plain(state: Any) -> Any:
    """A bit generator's state dict with its arrays as bytes (comparable with ``==``)."""
    if isinstance(state, dict):
        return tuple((k, _plain(v)) for k, v in state.items())
    return state.tobytes() if isinstance(state, numpy.ndarray) else state


def _state_children(value: Any, words: set) -> list:
    """The items of a list, tuple or dict, the attributes of a plain object that the code names, a
    module's public attributes that hold Python state (its numbers are nn's to guard) and its children, a
    Python module's or class's attributes that the code names: ``(hop, item)`` each."""
    kind = type(value)
    if kind in (list, tuple, collections.deque):
        return [(("item", i), item) for i, item in enumerate(value)] if len(value) <= PATH_BREADTH else []
    if kind in _DICTS:
        if len(value) > PATH_BREADTH:   # a wide table: the items whose keys the code names (``hp["lr"]``)
            return [(("item", k), value[k]) for k in words if k in value]
        return [(("item", k), item) for k, item in list(value.items()) if type(k) in _SCALARS]
    if isinstance(value, (type, types.ModuleType)):
        name = value.__module__ if isinstance(value, type) else value.__name__
        if not isinstance(name, str) or name.partition(".")[0] in LIBRARIES:
            return []
        items = vars(value)
        return [(("attr", name), items[name]) for name in words if name in items]
    if is_module(value):
        methods = _methods(type(value))
        words.update(w for f in methods if f.__name__ != "__init__" for c in _codes(f.__code__) for w in c.co_names)
        # a container only its __init__ names (REINFORCE's ``self.rewards = []``, filled by the loop) is not read
        set_up = {w for f in methods if f.__name__ == "__init__" for c in _codes(f.__code__) for w in c.co_names}
        items = vars(value)
        children = [(("attr", name), item) for name, item in list(getattr(value, "_modules", {}).items())
                    if item is not None]
        if names_grad(words):   # ``p.grad`` read of its parameters (``for p in self.parameters()``): see _GradOf
            children += [(("attr", name), item) for name, item in list(getattr(value, "_parameters", {}).items())
                         if item is not None]
        return children + [(("attr", name), item) for name, item in list(items.items()) if name[0] != "_"
                           and (name in words or name not in set_up)
                           and type(item) not in _SCALARS and not isinstance(item, OPAQUE) and not is_module(item)] \
            + _class_state(value, words, items)
    if _is_container(value):
        if not _library(kind):   # its methods may read attributes fn's own code does not name
            words.update(w for f in _methods(kind) for c in _codes(f.__code__) for w in c.co_names)
        else:   # a library object's methods the code calls read attributes too (``sched.get_last_lr()``)
            _library_reads(kind, words)
        items = vars(value)   # however many it has: the attributes the code names
        return [(("attr", name), items[name]) for name in words if name in items] + _class_state(value, words, items)
    return []


def _library_reads(kind: type, words: set) -> None:
    """Add to ``words`` the names that the methods of a library class (an optimizer, a scheduler) named in
    ``words`` read, and those of the methods they call through ``self`` (``opt.step()`` reads ``p.grad`` in a
    helper; ``sched.get_last_lr()`` reads ``_last_lr``)."""
    done: set = set()
    pending = list(words)
    while pending:
        function = _function_of(getattr(kind, pending.pop(), None))
        while isinstance(function, types.FunctionType) and function not in done:   # a decorated one's too
            done.add(function)
            names = {w for c in _codes(function.__code__) for w in c.co_names}
            pending += names - words
            words |= names
            function = getattr(function, "__wrapped__", None)


def _class_state(value: Any, words: set, items: dict) -> list:
    """The attributes the code names that an object reads from its class, a user class (``self.K`` with
    ``K = 0.5`` in the class body; an assignment ``Cls.K = 2.0`` changes what every instance reads): the
    numbers, strings and containers (see :func:`_held`), as ``(hop, item)``."""
    found = []
    for name in words:
        if name in items:
            continue
        for base in type(value).__mro__:
            attributes = vars(base)
            if name in attributes:
                item = attributes[name]
                if not _library(base) and (is_scalar(item) or _held(item)):
                    found.append((("attr", name), item))
                break
    return found


def _held(item: Any) -> bool:
    """Whether a class attribute holds state a capture may read: a list, tuple, deque, dict or plain object (not a
    method, a property or a nested class)."""
    return type(item) in (list, tuple, collections.deque) or type(item) in _DICTS or _is_plain_object(item)


def _class_items(value: Any) -> list:
    """``(hop, item)`` for the tensors, modules and containers (:func:`_held`) that an object reads from its user
    class and not from its own attributes (``table = {...}`` in the class body), for :func:`find_paths`."""
    own, found = vars(value), {}
    for base in type(value).__mro__:
        if _library(base):
            continue
        for name, item in vars(base).items():
            if name[0] != "_" and name not in own and name not in found and \
                    (isinstance(item, Tensor) or is_module(item) or _held(item)):
                found[name] = item
    return [(("attr", name), item) for name, item in found.items()]


def find_forwards(compiled: Any) -> list:
    """``(module, its class's forward, its own forward or None)`` (the module by a weak reference) for each module
    the function reads (its ``self``, its variables' modules and their children, modules in the lists, dicts and
    objects it reads): a replay checks that none had its forward replaced, on the class (``Model.forward = ...``)
    or on the instance (``model.forward = ...``), which its ``__call__`` would run (:func:`forwards_hold`)."""
    modules: dict = {}
    find_paths(compiled, [], modules=modules)
    return [(weakref.ref(m), getattr(type(m), "forward", None), vars(m).get("forward")) for m in modules.values()]


def forwards_hold(forwards: list) -> bool:
    """Whether every module of :func:`find_forwards` still runs the forward it ran."""
    for ref, forward, own in forwards:
        module = ref()
        if module is not None and (getattr(type(module), "forward", None) is not forward
                                   or module.__dict__.get("forward") is not own):
            return False
    return True


def find_statics(compiled: Any) -> list:
    """The Python state the function may read besides tensors and its variables: ``(root, hops, marker)``
    for each number and string inside the lists, tuples, dicts, plain objects (the attributes its code
    names), Python modules and classes (likewise) and a module's public containers that it reads, and for
    each list's and dict's length (see :func:`_marker`).

    A replay checks them (:func:`statics_hold`): a capture holds such a value as a constant (``x * cfg.scale``)
    or followed a branch on it. Compared before and after a capture, they also show a Python side effect
    that a replay would skip (``log.append(y)``, ``stats["calls"] += 1``).
    """
    words = set(compiled.words)
    entries: list = []
    seen: set = set()
    queue = collections.deque((root, (), value, 0) for root, value in _roots(compiled) if type(value) not in _SCALARS)
    budget = PATH_BUDGET
    while queue and budget and len(entries) < STATIC_BUDGET:
        root, hops, value, depth = queue.popleft()
        if isinstance(value, COMPILED):   # what it compiles (its own attributes are its captures)
            queue.append((root, (*hops, ("attr", "fn")), value.fn, depth))
            continue
        marker = _marker(value)
        if marker is not None:
            entries.append((root, hops, marker))
        elif isinstance(value, Tensor) and names_grad(words):
            entries.append((root, (*hops, ("grad", "grad")), _grad_of(value)))
        if is_scalar(value) or id(value) in seen or depth > PATH_DEPTH:
            continue
        seen.add(id(value))
        budget -= 1
        try:
            children = _state_children(value, words)
        except Exception:  # noqa: BLE001 - an odd object (a proxy): not looked into
            continue
        step = 0 if is_module(value) else 1   # a module tree counts as one level, however deep
        queue.extend((root, (*hops, hop), item, depth + step) for hop, item in children)
    return entries


def statics_hold(compiled: Any, entries: list) -> bool:
    """Whether every value :func:`find_statics` found is still what it was."""
    for root, hops, marker in entries:
        if _marker(follow(compiled, root, hops)) != marker:
            return False
    return True


def static_moved(compiled: Any, entries: list) -> str:
    """The first value of :func:`statics_hold` that changed, in words (``cfg.scale``, ``hp['lr']``)."""
    for root, hops, marker in entries:
        if _marker(follow(compiled, root, hops)) != marker:
            return f"{_path_text(compiled, root, hops)} (a Python value it reads)"
    return "a Python value it reads"
