"""Containers, as ``torch.nn``'s: ``Sequential`` (modules applied in turn), ``ModuleList``, ``ModuleDict``,
``ParameterList`` and ``ParameterDict``.

A container registers what it holds as its children (or parameters) by key, so the parent's state dict reads
``layers.0.weight``, ``heads.a.bias`` or ``plist.0``, as PyTorch's.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView

import minigrad as mg
from minigrad import Tensor

from ._compile_state import first_registration, mark_called, reregistered
from .hooks import REGISTRATION, registered
from .module import Module, Parameter, place_of, scope_part

__all__ = ["ModuleDict", "ModuleList", "ParameterDict", "ParameterList", "Sequential"]


class Sequential(Module):
    """Modules applied one after another: ``Sequential(Linear(2, 8), Tanh(), Linear(8, 1))``.

    Children are named ``0``, ``1``, … (or by the keys of one OrderedDict
    argument), so parameters read ``0.weight``, ``2.bias``. ``device=``/``dtype=``
    (the factory keywords every module takes, DESIGN §5; torch's Sequential has none)
    move the children there, as ``.to(device, dtype)`` would.
    """

    def __init__(self, *modules: Module, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            items = list(modules[0].items())
        else:
            items = [(str(i), m) for i, m in enumerate(modules)]
        for name, module in items:
            if module is not None and not isinstance(module, Module):
                raise TypeError(f"Sequential: item {name!r} is a {type(module).__name__}, not a Module")
            self.add_module(name, module)   # None: a placeholder child, as PyTorch's add_module
        if device is not None or dtype is not None:
            self.to(device=device, dtype=dtype)

    def forward(self, input: Any) -> Any:  # noqa: A002 - PyTorch's name
        """Each child in turn on the previous one's output: input of the first's shape → the last's output."""
        for module in self._modules.values():
            input = module(input)
        return input

    def append(self, module: Module | None) -> Sequential:
        """Add ``module`` (or a None placeholder, as PyTorch's) as the last child, named by its position; returns
        ``self``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"Sequential.append: expected a Module, got {type(module).__name__}")
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, sequential: Iterable[Module]) -> Sequential:
        """Append each module of ``sequential`` (any iterable of modules) in order; returns ``self``."""
        for module in sequential:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        """Put ``module`` before position ``index`` (as list.insert); the children are numbered anew."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.insert: expected a Module, got {type(module).__name__}")
        modules = list(self._modules.values())
        length = len(modules)
        if not hasattr(index, "__index__") or not -length <= index.__index__() <= length:
            raise IndexError(f"Sequential.insert: index {index!r} is out of range for {length} modules")
        at = index.__index__()
        position = at + length if at < 0 else at
        # as PyTorch's: the children from position on move up one key, set directly (no registration hook runs)
        reregistered()
        if "_called" in self.__dict__:
            mark_called(module.modules())
        for i in range(length, position - 1, -1):
            self._set_child(str(i), modules[i - 1] if i > position else module)
        return self

    def _set_child(self, key: str, module: Module | None) -> None:
        """``module`` as the child ``key``, set directly, as PyTorch's insert and renumbering do (no registration
        hook runs: PyTorch writes its ``_modules`` dict)."""
        self._modules[key] = self.__dict__[key] = module
        if module is not None:
            object.__setattr__(module, "_scope_name", key)   # (a container's property names its children)
            place_of(module).moved(place_of(self), key)

    def pop(self, key: int | slice) -> Any:
        """Remove and return the child (or a Sequential of the children) at ``key``."""
        module = self[key]
        del self[key]
        return module

    def _renumber(self, modules: list) -> None:
        """The children ``modules``, named 0, 1, … (as PyTorch renumbers after a deletion: no registration hook
        runs, as none does in PyTorch's ``__delitem__``/``pop``)."""
        for key in list(self._modules):
            delattr(self, key)
        reregistered()
        for i, module in enumerate(modules):
            self._set_child(str(i), module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index: int | slice) -> Any:
        """The module at ``index``; a slice is a Sequential of the same children under the same keys (``seq[1:]``
        holds ``1.weight``, as PyTorch's)."""
        if isinstance(index, slice):
            return type(self)(OrderedDict(list(self._modules.items())[index]))
        modules = list(self._modules.values())
        return modules[_list_index(index, len(modules), "Sequential")]

    def __setitem__(self, index: int, module: Module | None) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"Sequential: item {index!r} must be a Module, got {type(module).__name__}")
        keys = list(self._modules)
        setattr(self, keys[_list_index(index, len(keys), "Sequential")], module)

    def __delitem__(self, index: int | slice) -> None:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            del modules[index]
        else:
            del modules[_list_index(index, len(modules), "Sequential")]
        self._renumber(modules)

    def __add__(self, other: Sequential) -> Sequential:
        """A new Sequential of this one's modules, then ``other``'s, numbered 0, 1, … (the same module objects)."""
        if not isinstance(other, Sequential):
            raise ValueError("Sequential: the + operator supports only Sequential, but "
                             f"{type(other).__name__} is given")
        return Sequential(*self, *other)

    def __iadd__(self, other: Sequential) -> Sequential:
        if not isinstance(other, Sequential):
            raise ValueError("Sequential: the += operator supports only Sequential, but "
                             f"{type(other).__name__} is given")
        return self.extend(list(other))

    def _times(self, count: Any, operator: str) -> list:
        if isinstance(count, bool) or not isinstance(count, int):
            raise TypeError(f"Sequential: unsupported operand type(s) for {operator}: 'Sequential' and "
                            f"'{type(count).__name__}'")
        if count <= 0:
            raise ValueError(f"Sequential: non-positive multiplication factor {count}")
        return list(self) * count

    def __mul__(self, count: int) -> Sequential:
        """A new Sequential of this one's modules ``count`` times over (the same objects, so shared weights)."""
        return Sequential(*self._times(count, "*"))

    __rmul__ = __mul__

    def __imul__(self, count: int) -> Sequential:
        return self.extend(self._times(count, "*=")[len(self):])


def _list_index(index: Any, length: int, name: str) -> int:
    """``index`` (anything with ``__index__``, a bool too, as a list's) as a position in ``range(length)``."""
    if not hasattr(index, "__index__"):
        raise TypeError(f"{name}: indices must be integers or slices, got {type(index).__name__}")
    index = index.__index__()
    if not -length <= index < length:
        raise IndexError(f"{name}: index {index} is out of range for {length} modules")
    return index % length


class _Container(Module):
    """A module that holds children by key; each child's name scope is ``<container>.<key>``.

    A container has no ``forward``: its parent calls the children, and
    ``layers.0`` then labels the ops of ``self.layers[0]`` as its parameter
    path ``layers.0.weight`` does.
    """

    @property
    def _scope_name(self) -> str:
        return self.__dict__["_container_scope"]

    @_scope_name.setter
    def _scope_name(self, name: str) -> None:
        self.__dict__["_container_scope"] = name
        for key, child in self._modules.items():
            if child is not None:
                object.__setattr__(child, "_scope_name", f"{name}.{scope_part(key)}")

    def _put(self, key: str, module: Module | None, hooks: bool = True) -> None:
        """Register ``module`` as the child ``key`` (None: a placeholder, as PyTorch's add_module allows);
        ``hooks=False``: without the registration hooks (PyTorch's ``ModuleList.insert`` sets the child directly)."""
        if REGISTRATION["module"] and hooks:   # PyTorch's containers register through add_module, which runs them
            module = registered("module", self, key, module)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}: {type(module).__name__} is not a Module subclass (key {key!r})")
        if self._modules.get(key, module) is not module:
            reregistered()
        elif key not in self._modules:
            first_registration(self)   # counted once the tree it is in was called (see Module.__call__)
        self._modules[key] = module
        if module is None:
            return
        if "_called" in self.__dict__:
            mark_called(module.modules())
        self._keyed(key, module)

    def _keyed(self, key: str, module: Module) -> None:
        """``module``, held at ``key``, scoped and named from there (``layers.0``, its ``layers.0.weight``)."""
        object.__setattr__(module, "_scope_name", f"{self._scope_name}.{scope_part(key)}")
        place_of(module).moved(place_of(self), key)

    def __len__(self) -> int:
        return len(self._modules)

    def __getattr__(self, name: str) -> Module:
        # only reached when normal lookup fails: `model.heads.score` as in PyTorch
        modules = self.__dict__.get("_modules", {})
        if name in modules:
            return modules[name]
        raise AttributeError(f"{type(self).__name__} has no attribute or module {name!r}")


class ModuleList(_Container):
    """A list of modules whose parameters the parent registers (``layers.0.weight``, …)."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __repr__(self) -> str:
        """PyTorch's layout, with runs of children that print alike as one line: ``(0-2): 3 x ReLU()``."""
        texts = [repr(module) for module in self]
        if not texts:
            return f"{self._get_name()}()"
        runs: list[list] = []   # [first index, last index, text]
        for i, text in enumerate(texts):
            if runs and runs[-1][2] == text:
                runs[-1][1] = i
            else:
                runs.append([i, i, text])
        lines = [(f"({first}): " if first == last else f"({first}-{last}): {last - first + 1} x ")
                 + text.replace("\n", "\n  ") for first, last, text in runs]
        return f"{self._get_name()}(\n  " + "\n  ".join(lines) + "\n)"

    def _reindex(self, modules: list) -> None:
        reregistered()
        self._modules.clear()
        for i, module in enumerate(modules):   # as PyTorch's renumbering after a deletion: no registration hook
            self._put(str(i), module, hooks=False)

    def append(self, module: Module | None) -> ModuleList:
        """Add ``module`` (or a None placeholder) at the end; returns ``self``."""
        self._put(str(len(self._modules)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Append each of ``modules`` in order; returns ``self``."""
        if not isinstance(modules, Iterable) or (isinstance(modules, Module)
                                                  and not isinstance(modules, (ModuleList, Sequential))):
            raise TypeError(f"ModuleList.extend should be called with an iterable, but got {type(modules).__name__}")
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Put ``module`` before position ``index`` (as list.insert); the children after it move up one key.
        As PyTorch's, no registration hook runs (it sets the children directly)."""
        if module is not None and not isinstance(module, Module):   # (before anything moves)
            raise TypeError(f"ModuleList.insert: {type(module).__name__} is not a Module subclass")
        modules = list(self._modules.values())
        modules.insert(index, module)          # (list.insert's errors, and its reading of ``index``)
        count, at = len(modules) - 1, index.__index__()
        position = max(0, count + at) if at < 0 else min(at, count)   # where list.insert put it
        reregistered()
        scope, place, children = self._scope_name, place_of(self), self._modules
        for i in range(count, position, -1):  # (a key of digits needs no scope_part)
            key = str(i)
            moved = children[key] = modules[i]
            if moved is not None:
                object.__setattr__(moved, "_scope_name", f"{scope}.{key}")
                place_of(moved).moved(place, key)
        self._put(str(position), module, hooks=False)

    def pop(self, key: int | slice) -> Any:
        """Remove and return the module (or the ModuleList of a slice) at ``key``; the rest are numbered anew."""
        module = self[key]
        del self[key]
        return module

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def __getitem__(self, index: int | slice) -> Any:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return type(self)(modules[index])
        return modules[_list_index(index, len(modules), "ModuleList")]

    def __setitem__(self, index: int, module: Module) -> None:
        self._put(str(_list_index(index, len(self._modules), "ModuleList")), module)

    def __delitem__(self, index: int | slice) -> None:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            del modules[index]
        else:
            del modules[_list_index(index, len(modules), "ModuleList")]
        self._reindex(modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        return ModuleList(list(self) + list(other))


class ModuleDict(_Container):
    """A dict of modules (insertion order) whose parameters the parent registers (``heads.a.weight``)."""

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def _check_key(self, key: Any) -> str:
        """PyTorch's checks of a child's name (``add_module``'s); a ``/`` is drawn as "∕" in its scope."""
        if not isinstance(key, str):
            raise TypeError(f"ModuleDict: module name should be a string. Got {type(key).__name__}")
        if "." in key:
            raise KeyError(f"ModuleDict: module name can't contain '.', got: {key}")
        if key == "":
            raise KeyError("ModuleDict: module name can't be empty string \"\"")
        if key not in self._modules and hasattr(self, key):
            raise KeyError(f"ModuleDict: attribute '{key}' already exists")
        return key

    def __getitem__(self, key: str) -> Module:
        if key not in self._modules:
            raise KeyError(f"ModuleDict: no module {key!r} (keys: {list(self._modules)})")
        return self._modules[key]

    def __setitem__(self, key: str, module: Module | None) -> None:
        if module is not None and not isinstance(module, Module):   # checked before the key, as add_module
            raise TypeError(f"ModuleDict: {type(module).__name__} is not a Module subclass (key {key!r})")
        self._put(self._check_key(key), module)

    def __delitem__(self, key: str) -> None:
        self.pop(key)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._modules))

    def keys(self) -> KeysView[str]:
        """The children's names, in insertion order: a live, set-like view, as PyTorch's (a dict's keys())."""
        return self._modules.keys()

    def values(self) -> ValuesView[Module]:
        """The children, in insertion order (a live view, as PyTorch's)."""
        return self._modules.values()

    def items(self) -> ItemsView[str, Module]:
        """(name, child) pairs, in insertion order (a live, set-like view, as PyTorch's)."""
        return self._modules.items()

    def pop(self, key: str) -> Module:
        """Remove the child ``key`` and return it."""
        module = self[key]
        del self._modules[key]
        reregistered()
        return module

    def clear(self) -> None:
        """Remove every child."""
        if self._modules:
            reregistered()
        self._modules.clear()

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add or replace children from a mapping or from (name, module) pairs, in their order."""
        if isinstance(modules, (Mapping, ModuleDict)):
            pairs = list(modules.items())
        elif isinstance(modules, Iterable):
            pairs = list(modules)
        else:
            raise TypeError("ModuleDict.update: expected a mapping or an iterable of (key, module) pairs, got "
                            f"{type(modules).__name__}")
        for i, pair in enumerate(pairs):
            if not isinstance(pair, Iterable) or isinstance(pair, (str, Module)):
                raise TypeError(f"ModuleDict.update: element #{i} is a {type(pair).__name__}, not a (key, module) pair")
            pair = tuple(pair)
            if len(pair) != 2:
                raise ValueError(f"ModuleDict.update: element #{i} has length {len(pair)}; 2 is required")
            self[pair[0]] = pair[1]


def _described(p: Parameter, typename: bool = False) -> str:
    """How PyTorch's ParameterList prints an entry: ``Parameter containing: [float32 of size 2x3]``; ParameterDict
    names the tensor type instead of the dtype (``typename``): ``[minigrad.FloatTensor of size 2x3]``."""
    device = f" ({p.device})" if p.device.type != "cpu" else ""
    kind = mg.typename(p) if typename else p.dtype
    return f"Parameter containing: [{kind} of size {'x'.join(map(str, p.shape))}{device}]"


def _as_entry(value: Any) -> Any:
    """What PyTorch's ParameterList keeps for ``value``: a Tensor made a Parameter, any other object as it is (a
    plain attribute, in no ``parameters()`` and no state dict)."""
    return Parameter(value) if isinstance(value, Tensor) and not isinstance(value, Parameter) else value


def _described_entry(value: Any) -> str:
    """A ParameterList line's text: the tensor's, or PyTorch's ``Object of type: int`` for any other object."""
    return _described(value) if isinstance(value, Tensor) else f"Object of type: {type(value).__name__}"


class ParameterList(Module):
    """A list of parameters registered as ``0``, ``1``, … (``plist.0`` in the state dict), as
    ``torch.nn.ParameterList``; a Tensor put in becomes a Parameter, any other object is kept as it is (a plain
    attribute, in no ``parameters()``), as PyTorch's."""

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__()
        self.__dict__["_size"] = 0
        if values is not None:
            self.extend(values)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """A ParameterList holds parameters and is not called: PyTorch's RuntimeError."""
        raise RuntimeError("ParameterList should not be called.")

    def __len__(self) -> int:
        return self.__dict__.get("_size", len(self._parameters))   # (a list pickled before _size: its parameters)

    def __iter__(self) -> Iterator[Any]:
        return iter([getattr(self, str(i)) for i in range(len(self))])

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return ParameterList(list(self)[index])
        return getattr(self, str(_list_index(index, len(self), "ParameterList")))

    def __setitem__(self, index: int, value: Any) -> None:
        setattr(self, str(_list_index(index, len(self), "ParameterList")), _as_entry(value))

    def append(self, value: Any) -> ParameterList:
        """Add ``value`` (a Tensor made a Parameter) at the end; returns ``self``."""
        size = len(self)
        entry = _as_entry(value)
        if not isinstance(entry, Parameter):   # a plain object: not registered, yet iterated over
            first_registration(self)
        setattr(self, str(size), entry)
        self.__dict__["_size"] = size + 1
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        """Append each of ``values`` in order; returns ``self``."""
        if not isinstance(values, Iterable) or isinstance(values, Tensor):
            raise TypeError(f"ParameterList.extend should be called with an iterable, but got {type(values).__name__}")
        for value in values:
            self.append(value)
        return self

    def __iadd__(self, values: Iterable[Any]) -> ParameterList:
        return self.extend(values)

    def extra_repr(self) -> str:
        """One line per entry: its index, dtype and size (and its device off the CPU), or its object type."""
        return "\n".join(f"  ({i}): {_described_entry(p)}" for i, p in enumerate(self))


class _MissingKey(KeyError, AttributeError):
    """A key a ParameterDict lacks: a KeyError, and the AttributeError PyTorch's raises."""


class ParameterDict(Module):
    """A dict of parameters by name (insertion order), as ``torch.nn.ParameterDict``; a Tensor put in
    becomes a Parameter, any other object is kept as it is (a plain attribute, in no ``parameters()``), as
    PyTorch's."""

    def __init__(self, parameters: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None) -> None:
        super().__init__()
        self.__dict__["_keys"] = {}
        if parameters is not None:
            self.update(parameters)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """A ParameterDict holds parameters and is not called: PyTorch's RuntimeError."""
        raise RuntimeError("ParameterDict should not be called.")

    @property
    def _entries(self) -> dict:
        """The keys in insertion order (a dict pickled before ``_keys``: its parameters')."""
        return self.__dict__.get("_keys", self._parameters)

    def _check_key(self, key: Any) -> str:
        """PyTorch's checks of a parameter's name (``register_parameter``'s)."""
        if not isinstance(key, str):
            raise TypeError(f"ParameterDict: parameter name should be a string. Got {type(key).__name__}")
        if "." in key:
            raise KeyError(f"ParameterDict: parameter name can't contain '.', got: {key}")
        if key == "":
            raise KeyError("ParameterDict: parameter name can't be empty string \"\"")
        if key not in self._entries and hasattr(self, key):   # a method's name (or `training`)
            raise KeyError(f"ParameterDict: attribute '{key}' already exists")
        return key

    def __getitem__(self, key: str) -> Any:
        if not isinstance(key, str):
            raise TypeError(f"ParameterDict: a key must be a string, got {type(key).__name__} ({key!r})")
        if key not in self._entries:
            raise _MissingKey(f"ParameterDict: no parameter {key!r} (keys: {list(self._entries)})")
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        key, entry = self._check_key(key), _as_entry(value)
        if key not in self._entries and not isinstance(entry, Parameter):   # a plain object, yet iterated over
            first_registration(self)
        setattr(self, key, entry)
        if "_keys" in self.__dict__:
            self._keys[key] = None

    def __delitem__(self, key: str) -> None:
        if key not in self._entries:   # any key (not only a string), as PyTorch's `del self._keys[key]`
            raise _MissingKey(f"ParameterDict: no parameter {key!r} (keys: {list(self._entries)})")
        delattr(self, key)
        self.__dict__.get("_keys", {}).pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def keys(self) -> KeysView[str]:
        """The names, in insertion order: a live, set-like view, as PyTorch's."""
        return self._entries.keys()

    def values(self) -> Iterator[Any]:
        """The parameters (and other objects), in insertion order: a generator, as PyTorch's."""
        return (getattr(self, key) for key in list(self._entries))

    def items(self) -> Iterator[tuple[str, Any]]:
        """(name, parameter) pairs, in insertion order: a generator, as PyTorch's."""
        return ((key, getattr(self, key)) for key in list(self._entries))

    def get(self, key: str, default: Any = None) -> Any:
        """The entry ``key``, or ``default`` when there is none."""
        return getattr(self, key) if key in self._entries else default

    def pop(self, key: str) -> Any:
        """Remove the entry ``key`` and return it."""
        value = self[key]
        del self[key]
        return value

    def update(self, parameters: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> None:
        """As PyTorch's: an OrderedDict, a ParameterDict or pairs in their order, any other mapping (a plain
        dict) in sorted key order."""
        if isinstance(parameters, (OrderedDict, ParameterDict)):
            pairs = list(parameters.items())
        elif isinstance(parameters, Mapping):
            pairs = sorted(parameters.items())
        elif isinstance(parameters, Iterable):
            pairs = list(parameters)
        else:
            raise TypeError("ParametersDict.update should be called with an iterable of key/value pairs, but got "
                            f"{type(parameters).__name__}")
        for i, pair in enumerate(pairs):
            if not isinstance(pair, Iterable):
                raise TypeError(f"ParameterDict update sequence element #{i} should be Iterable; is"
                                f"{type(pair).__name__}")
            pair = tuple(pair)
            if len(pair) != 2:
                raise ValueError(f"ParameterDict update sequence element #{i} has length {len(pair)}; 2 is required")
            self[pair[0]] = pair[1]

    def setdefault(self, key: str, default: Any = None) -> Parameter:
        """``self[key]``, first set to ``default`` if absent (as dict's)."""
        if key not in self:
            self[key] = default
        return self[key]

    def popitem(self) -> tuple[str, Any]:
        """Remove and return the last (key, parameter) inserted."""
        if not self._entries:
            raise KeyError("ParameterDict.popitem: the dict is empty")
        key = next(reversed(self._entries))
        return key, self.pop(key)

    def clear(self) -> None:
        """Remove every entry."""
        for key in list(self._entries):
            del self[key]

    def copy(self) -> ParameterDict:
        """A new ParameterDict holding the same Parameter objects."""
        return ParameterDict(self.items())

    def fromkeys(self, keys: Iterable[str], default: Any = None) -> ParameterDict:
        """A new ParameterDict with each of ``keys`` set to ``default``."""
        return ParameterDict((key, default) for key in keys)

    def __reversed__(self) -> Iterator[str]:
        return reversed(list(self._entries))

    def __or__(self, other: ParameterDict) -> ParameterDict:
        merged = self.copy()
        merged.update(other)
        return merged

    def __ror__(self, other: ParameterDict) -> ParameterDict:
        merged = other.copy()
        merged.update(self)
        return merged

    def __ior__(self, other: ParameterDict) -> ParameterDict:
        self.update(other)
        return self

    def extra_repr(self) -> str:
        """One line per entry: its name, tensor type and size (and its device off the CPU), or its object type."""
        return "\n".join(f"  ({key}): {_described(p, typename=True)}" if isinstance(p, Tensor)
                         else f"  ({key}): Object of type: {type(p).__name__}" for key, p in self.items())
