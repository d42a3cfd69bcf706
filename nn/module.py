"""``nn.Module`` and ``nn.Parameter``: parameters registered by attribute assignment."""

from __future__ import annotations

import copy
import inspect
import warnings
from typing import Any, Iterator, Mapping

import numpy

import minigrad as mg
from minigrad import Tensor, memory_formats
from minigrad.legacy import legacy_dtype, legacy_type

from . import _state_dict
from ._buffer import buffer_persistence
from ._compile_state import TrainingFlag, first_registration, give_serial, mark_called, reregistered, set_mode
from ._state_dict import (
    StateDictError,
    _IncompatibleKeys,
    load_module_state,
    load_own_state,
    own_state,
    save_module_state,
)
from .hooks import (
    REGISTRATION,
    ModuleHooks,
    call_with_hooks,
    has_hooks,
    register_module_backward_hook,
    register_module_buffer_registration_hook,
    register_module_forward_hook,
    register_module_forward_pre_hook,
    register_module_full_backward_hook,
    register_module_full_backward_pre_hook,
    register_module_module_registration_hook,
    register_module_parameter_registration_hook,
    registered,
)


class Place:
    """Where a module sits: its key in the module that registered it last and that module's place (``parent``,
    None for a root). A parameter's ``name`` is read through its module's place, so registering a module (or
    renumbering a container) is O(1): nothing below it is renamed, its path is read when a name is."""

    __slots__ = ("key", "parent")

    def __init__(self) -> None:
        self.key: str | None = None
        self.parent: Place | None = None

    def moved(self, parent: Place, key: str) -> None:
        """This module is now the child ``key`` of the module whose place is ``parent``."""
        self.key, self.parent = key, parent

    def path(self, name: str) -> str:
        """``name`` under this place: ``"encoder.layers.0." + name`` (a cycle of registrations ends the path)."""
        parts, place, seen = [name], self, set()
        while place is not None and place.parent is not None and id(place) not in seen:
            seen.add(id(place))
            parts.append(place.key)
            place = place.parent
        return ".".join(reversed(parts))


def place_of(module: Any) -> Place:
    """``module``'s :class:`Place` (made on first use: a module whose ``__init__`` skipped Module's has none)."""
    place = module.__dict__.get("_place")
    if place is None:
        place = Place()
        object.__setattr__(module, "_place", place)
    return place


_TENSOR_NAME = Tensor.__dict__["name"]   # the slot behind Tensor.name


class Parameter(Tensor):
    """A Tensor that a Module registers as a trainable parameter (requires grad).

    Its ``name`` is its path from the module tree's root (``"encoder.0.weight"``), read through the
    :class:`Place` of the module that registered it last; a name set by hand is kept until it is registered.
    """

    @property
    def name(self) -> str | None:   # type: ignore[override]
        owner = self.__dict__.get("_named_by")
        return _TENSOR_NAME.__get__(self, Tensor) if owner is None else owner[0].path(owner[1])

    @name.setter
    def name(self, value: str | None) -> None:
        self.__dict__.pop("_named_by", None)
        _TENSOR_NAME.__set__(self, value)

    def _register_as(self, place: Place, name: str) -> None:
        """Named ``name`` in the module at ``place`` (its path read when the name is)."""
        _TENSOR_NAME.__set__(self, name)
        self.__dict__["_named_by"] = (place, name)

    def __deepcopy__(self, memo: dict) -> Parameter:
        new = super().__deepcopy__(memo)   # (the name as it reads now, set by hand)
        owner = self.__dict__.get("_named_by")
        if owner is not None:              # the copy's name follows the copied module's place
            new.__dict__["_named_by"] = copy.deepcopy(owner, memo)
        return new

    def __new__(cls, data: Any = None, requires_grad: bool = True) -> Parameter:
        """``nn.Parameter(data=None, requires_grad=True)``: a leaf sharing ``data``'s array (None: an empty float
        tensor of shape (0,)), made here as PyTorch's, so a subclass's ``__new__`` may return
        ``super().__new__(cls, data)`` and its ``__init__`` take other arguments."""
        parameter = object.__new__(cls)
        parameter._fill(data, requires_grad)
        return parameter

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Nothing (``__new__`` made it; a subclass's ``__new__`` may take other arguments, which Python passes
        here too), but for a subclass's ``__init__`` calling it with arguments (``super().__init__(data,
        requires_grad)``), which makes the parameter from them again."""
        if type(self).__init__ is not Parameter.__init__ and (args or kwargs):
            self._fill(*args, **kwargs)

    def _fill(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:   # PyTorch's Parameter(): an empty one of the default dtype
            data = mg.empty(0)
        if not isinstance(data, Tensor):   # an array keeps its dtype; a list gets the default float (mg.Tensor's)
            data = Tensor(data, dtype=getattr(data, "dtype", None))
        self._initialize(data.data, None, requires_grad, None)   # shares the array

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


_state_dict.PARAMETER_CLASS = Parameter   # (nn._state_dict wraps assigned arrays in it)
LoadResult = _IncompatibleKeys   # what load_state_dict returns (PyTorch's name is _IncompatibleKeys)
__all__ = ["LoadResult", "Module", "Parameter", "StateDictError", "register_module_forward_hook",
           "register_module_forward_pre_hook", "register_module_full_backward_hook",
           "register_module_full_backward_pre_hook", "register_module_backward_hook",
           "register_module_buffer_registration_hook",
           "register_module_module_registration_hook", "register_module_parameter_registration_hook"]


def _addindent(text: str, spaces: int) -> str:
    """``text`` with every line but the first indented by ``spaces`` (blank lines stay empty), as PyTorch's
    ``nn.modules.module._addindent``, which custom ``__repr__``s call."""
    first, *rest = text.split("\n")
    return "\n".join([first, *((" " * spaces + line) if line.strip() else "" for line in rest)])


_NO_ATTRIBUTE = object()   # inspect.getattr_static's default: the class has no such attribute

# values compared by value when an attribute is assigned again (the same number is no change)
_PLAIN = frozenset({int, float, bool, str, type(None)})



def scope_part(name: str) -> str:
    """A child module's name as a part of its graph scope: PyTorch allows "/" in ``add_module`` names, which
    ``mg.name_scope`` reads as nesting, so it is drawn as the division slash "∕"; and an empty name
    (``setattr(model, "", layer)``), which no scope can have, as ``''``."""
    return name.replace("/", "\u2215") or "''"


def _own_tensors(module: Any, recurse: bool = True) -> list:
    """The parameters then the buffers of ``module``'s tree, each once, read with Module's own methods: the
    conversions (``to``, ``type``, ``share_memory``, ``to_empty``) reach every tensor, as PyTorch's ``_apply``,
    where a subclass overrides ``parameters()``/``named_parameters()``/``buffers()`` to list fewer (say, the
    trainable ones only)."""
    return [tensor for table in ("_parameters", "_buffers")
            for _, tensor in Module._named_members(module, table, "", recurse, True)]


def _overrides_apply(root: Any) -> bool:
    """Whether a module of ``root``'s tree has its own ``_apply`` (walked over ``_modules``, not ``modules()``,
    which a subclass may override)."""
    seen, stack = set(), [root]
    while stack:
        module = stack.pop()
        if id(module) in seen:
            continue
        seen.add(id(module))
        if type(module)._apply is not Module._apply:
            return True
        stack.extend(child for child in module._modules.values() if child is not None)
    return False


def _retell_requires_grad(tensor: Any) -> None:
    """After a parameter's array was replaced by one of another dtype (half(), to(dtype), type()): its
    ``requires_grad_(True)`` again, so that the engine hears of a float16 (or complex) tensor requiring grad as it
    does when one is made (each input's gradient then comes in its dtype where dtypes mix, as in PyTorch)."""
    if tensor.requires_grad and tensor.is_leaf:
        tensor.requires_grad_(True)


class Module(ModuleHooks):
    """Base class of every layer and model.

    Assigning a :class:`Parameter`, a Module or a buffer (``register_buffer``)
    to an attribute registers it, in definition order. Calling a module runs
    ``forward`` inside a name scope named by its attribute name in its parent
    (a root module: its class name in lower case), so every op it records is
    labelled ``encoder/l0/t3``-style for the visualiser. Hooks: :class:`nn.hooks.ModuleHooks`.
    """

    training = TrainingFlag()   # a read inside mg.compile puts the flag in the captured call's signature
    _version: int = 1   # saved in the state dict's _metadata; a subclass's _load_from_state_dict may read it

    def __init__(self) -> None:
        # _place first: copy.deepcopy and pickle copy a module's attributes in this order, so a parent's place is
        # copied before its children's places point to it (after them, each leaf's copy climbed the whole chain,
        # halving the nesting depth that copies reach)
        object.__setattr__(self, "_place", Place())
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_buffers", {})
        self.__dict__["training"] = True   # a new module is in no signature: nothing to tell mg.compile
        give_serial(self)
        object.__setattr__(self, "_scope_name", type(self).__name__.lower())

    def __getstate__(self) -> dict:
        # a copy carries compile()'s settings, not its captures (they hold this module's op objects), and is
        # not called yet
        state = self.__dict__.copy()
        state.pop("_compiled_call", None)
        state.pop("_called", None)
        return state

    def __setstate__(self, state: dict) -> None:
        """A copy (copy.copy, copy.deepcopy) is a module of its own: its own serial for its mode, and its
        own ``compile()`` if this one was compiled."""
        self.__dict__.update(state)
        give_serial(self)
        if "_compile_options" in state:
            self.compile(**state["_compile_options"])

    # --- registration ---

    def __setattr__(self, name: str, value: Any) -> None:
        """PyTorch's rules: a Parameter registers as a parameter and a Module as a child (each dropping any
        buffer or child of that name); a registered parameter takes only a Parameter or None, a child only a
        Module, a Parameter or None, a buffer only a Tensor (it stays a buffer), a Module, a Parameter or None.
        None keeps the name registered, in its place (a later Parameter returns to the same place)."""
        if "_parameters" not in self.__dict__:   # before Module.__init__: plain attributes only, as PyTorch's
            if isinstance(value, (Parameter, Module)) or buffer_persistence(value) is not None:
                what = "parameters" if isinstance(value, Parameter) else "module" if isinstance(value, Module) \
                    else "buffer"
                raise AttributeError(f"{type(self).__name__}: cannot assign {what} before Module.__init__() call")
            object.__setattr__(self, name, value)
            return
        if name == "training":   # model.training = False, as model.eval() does for one module
            set_mode(self, bool(value))
            return
        if isinstance(value, Parameter) and name not in self._parameters and ("." in name or name == ""):
            self._check_new_name(name, "_parameters", "parameter")   # PyTorch's register_parameter KeyError
        if isinstance(value, Parameter) and name not in self._parameters and self._class_has(name):
            # a method or class attribute (forward, cuda, a property): PyTorch's register_parameter refuses it
            raise KeyError(f"{type(self).__name__}: attribute '{name}' already exists")
        as_parameter = isinstance(value, Parameter)   # what a registration hook returns for it is one, as PyTorch's
        if REGISTRATION["module"] or REGISTRATION["parameter"] or REGISTRATION["buffer"]:
            value = self._through_registration_hooks(name, value)
        if not as_parameter:
            self._check_replacement(name, value)
        old = self.__dict__.get(name, value)
        if old is not value and not (type(old) is type(value) and type(value) in _PLAIN and old == value):
            # a registered tensor or module, or a plain attribute a forward may read (Dropout's p, a tensor
            # kept as an attribute), replaced: mg.compile's guard, so that no capture replays the old one
            reregistered()
        elif name not in self.__dict__ and (as_parameter or isinstance(value, Module)):
            first_registration(self)   # counted once this module was called: a forward may iterate over them
        if as_parameter:
            self._forget(name, self._buffers, self._modules)
            self._parameters[name] = value
            if isinstance(value, Parameter):
                value._register_as(place_of(self), name)
            elif isinstance(value, Tensor):
                value.name = name
        elif name in self._parameters:   # None
            self._parameters[name] = None
        elif isinstance(value, Module):
            self._forget(name, self._parameters, self._buffers)
            self._modules[name] = value
            if "_called" in self.__dict__:   # added to a called tree: a first registration into it counts too
                mark_called(value.modules())
            object.__setattr__(value, "_scope_name", scope_part(name))
            place_of(value).moved(place_of(self), name)   # its parameters' names now read "name.…"
        elif name in self._modules:      # None
            self._modules[name] = None
        elif buffer_persistence(value) is not None:   # nn.Buffer(t, persistent=...): registered as PyTorch's
            self.register_buffer(name, value, buffer_persistence(value))
            return
        elif name in self._buffers:      # a Tensor or None: a buffer stays a buffer (and in the state dict)
            self._buffers[name] = value
        object.__setattr__(self, name, value)

    def _class_has(self, name: str) -> bool:
        """Whether the class defines ``name`` (a method, a class attribute, a property that answers), which
        PyTorch's ``register_parameter`` finds once the instance's own attribute of that name is dropped."""
        attr = inspect.getattr_static(type(self), name, _NO_ATTRIBUTE)
        if isinstance(attr, property):
            return hasattr(self, name)
        return attr is not _NO_ATTRIBUTE

    def _through_registration_hooks(self, name: str, value: Any) -> Any:
        """``value`` through the global registration hooks that PyTorch's ``__setattr__`` runs for it: a
        Parameter's, a Module's (or None for a child), a buffer's (a Tensor or None for a buffer)."""
        if isinstance(value, Parameter):
            return registered("parameter", self, name, value)
        if name in self._parameters:
            return value
        if isinstance(value, Module) or (value is None and name in self._modules):
            return registered("module", self, name, value)
        if name in self._buffers and (value is None or isinstance(value, Tensor)) \
                and buffer_persistence(value) is None:
            return registered("buffer", self, name, value)
        return value

    def _forget(self, name: str, *tables: dict) -> None:
        for table in tables:
            table.pop(name, None)
        self.__dict__.get("_non_persistent", set()).discard(name)

    def _check_replacement(self, name: str, value: Any) -> None:
        """PyTorch's rule: a registered parameter is replaced only by a Parameter (or None), a child
        module only by a Module or a Parameter (or None), a buffer by anything but a non-Tensor; a plain
        Tensor would silently drop out of ``parameters()``."""
        if value is None or isinstance(value, Parameter):
            return
        if name in self._parameters:
            raise TypeError(f"{type(self).__name__}: cannot assign a {type(value).__name__} as parameter {name!r} "
                            "(nn.Parameter or None expected); to change its values in place, write "
                            f"`with mg.no_grad(): self.{name}.copy_(...)` or `self.{name}.data[...] = ...`")
        if name in self._modules and not isinstance(value, Module):
            raise TypeError(f"{type(self).__name__}: cannot assign a {type(value).__name__} as child module "
                            f"{name!r} (nn.Module or None expected)")
        if name in self._buffers and not isinstance(value, (Module, Tensor)):
            raise TypeError(f"{type(self).__name__}: cannot assign a {type(value).__name__} as buffer {name!r} "
                            "(a Tensor or None expected)")

    def __delattr__(self, name: str) -> None:
        if name == "training" and "training" in self.__dict__:   # PyTorch's flag is a plain attribute
            del self.__dict__["training"]
            return
        for table in (self._parameters, self._modules, self._buffers):
            if name in table and table.pop(name) is not None:
                reregistered()
        self.__dict__.get("_non_persistent", set()).discard(name)
        object.__delattr__(self, name)

    def _check_new_name(self, name: Any, table: str, what: str) -> None:
        """PyTorch's checks of a name given to ``register_parameter``/``register_buffer``/``add_module``."""
        owner = type(self).__name__
        if table not in self.__dict__:
            raise AttributeError(f"{owner}: cannot assign {what} before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"{owner}: {what} name should be a string. Got {type(name).__name__}")
        if "." in name:
            raise KeyError(f"{owner}: {what} name can't contain '.', got: {name} (a name is a string without '.': "
                           "dots join the names of a path)")
        if name == "":
            raise KeyError(f"{owner}: {what} name can't be empty string \"\"")
        if hasattr(self, name) and name not in self.__dict__[table]:
            raise KeyError(f"{owner}: attribute '{name}' already exists")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` under ``name`` (None: the name stays registered with no value, e.g. ``bias=False``).
        As PyTorch: the name must be new (or a parameter's) and ``param`` a Parameter, not a plain Tensor."""
        self._check_new_name(name, "_parameters", "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"{type(self).__name__}: cannot assign '{type(param).__name__}' object to parameter "
                            f"{name!r} (nn.Parameter or None required)")
        if isinstance(param, Parameter) and not param.is_leaf:
            raise ValueError(f"{type(self).__name__}: cannot assign a non-leaf Tensor to parameter {name!r}")
        if param is None:   # registered with no value, as PyTorch's: a later plain Tensor is refused, not kept
            if self._parameters.get(name) is not None:
                reregistered()
            elif name not in self._parameters:
                first_registration(self)
            self._parameters[name] = None
            object.__setattr__(self, name, None)
            return
        setattr(self, name, param)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """A non-trainable tensor moved by ``to()`` and saved in the state dict (unless ``persistent=False``)."""
        self._check_new_name(name, "_buffers", "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"{type(self).__name__}: cannot assign '{type(tensor).__name__}' object to buffer "
                            f"{name!r} (a Tensor or None required)")
        if REGISTRATION["buffer"]:
            tensor = registered("buffer", self, name, tensor)
        if self._buffers.get(name, tensor) is not tensor:
            reregistered()
        elif name not in self._buffers:
            first_registration(self)
        self._buffers[name] = tensor
        transient = self.__dict__.setdefault("_non_persistent", set())
        if persistent:
            transient.discard(name)
        else:
            transient.add(name)
        object.__setattr__(self, name, tensor)

    @property
    def _non_persistent_buffers_set(self) -> set:
        """PyTorch's name for the names of this module's buffers that ``state_dict`` leaves out (``persistent=
        False``): code that edits it (``._non_persistent_buffers_set.add(name)``) changes what is saved, as
        PyTorch's."""
        return self.__dict__.setdefault("_non_persistent", set())

    @_non_persistent_buffers_set.setter
    def _non_persistent_buffers_set(self, names: set) -> None:
        self.__dict__["_non_persistent"] = set(names)

    # --- calling ---

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation each call runs (``module(x)`` calls it through the hooks); subclasses define it."""
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if "_called" not in self.__dict__:   # its first call: from now on a layer added to its tree is counted
            mark_called(self.modules())        # (mg.compile captures again), while building modules is not
        compiled = self.__dict__.get("_compiled_call")
        if compiled is not None:   # module.compile(): calls go through mg.compile
            return compiled(*args, **kwargs)
        return self._call(*args, **kwargs)

    def _call(self, *args: Any, **kwargs: Any) -> Any:
        if has_hooks(self):
            return call_with_hooks(self, args, kwargs)
        with mg.name_scope(self._scope_name):
            return self.forward(*args, **kwargs)

    def compile(self, **kwargs: Any) -> None:
        """Compile this module's calls in place, as PyTorch's ``Module.compile``: ``mg.compile``'s
        keywords (``fullgraph=True`` …); the module stays this module (its parameters, modes, state dict)."""
        object.__setattr__(self, "_compiled_call", mg.compile(self._call, **kwargs))
        object.__setattr__(self, "_compile_options", dict(kwargs))

    # --- traversal ---

    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """(dotted path, module) for this module and every descendant; a shared one once (unless
        ``remove_duplicate=False``). ``memo``: modules to skip, as PyTorch's."""
        seen = set() if memo is None else memo   # modules (hashed by identity, as PyTorch's memo)
        line: list[int] = []   # (remove_duplicate=False) ids of the modules from self down to the last one yielded
        stack = [(prefix, self, 0)]
        while stack:
            path, module, depth = stack.pop()
            if module in seen:
                continue
            if remove_duplicate:
                seen.add(module)
            else:   # a module that is its own descendant: PyTorch's recursion stops (RecursionError), ours would not
                del line[depth:]
                if id(module) in line:
                    raise RecursionError(f"named_modules: {type(module).__name__} at {path!r} contains itself (a "
                                         "module is its own descendant), so remove_duplicate=False never ends")
                line.append(id(module))
            yield path, module
            children = [(f"{path}.{n}" if path else n, m, depth + 1)
                        for n, m in module._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self, remove_duplicate: bool = True) -> Iterator[Module]:
        """This module and every descendant, once each (unless ``remove_duplicate=False``), depth first (as
        :meth:`named_modules`)."""
        for _, module in self.named_modules(remove_duplicate=remove_duplicate):
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, child) of the direct children; one shared under two names comes once, as PyTorch's."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        """The direct children, once each, in registration order."""
        for _, module in self.named_children():
            yield module

    def _named_members(self, table: str, prefix: str, recurse: bool,
                       remove_duplicate: bool) -> Iterator[tuple[str, Any]]:
        """(dotted path, tensor) of each module's ``_parameters`` or ``_buffers``, in definition order."""
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else iter([(prefix, self)])
        for path, module in modules:
            for name, value in getattr(module, table).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{path}.{name}" if path else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted path, parameter) in definition order; a shared parameter once (unless
        ``remove_duplicate=False``); ``recurse=False``: this module's own only."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter in definition order, a shared one once; ``recurse=False``: this module's own only."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """(dotted path, buffer), as :meth:`named_parameters`."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every buffer, as :meth:`parameters`."""
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    # --- by name ---

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as the child ``name`` (as ``setattr``; None leaves a placeholder)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}.add_module: {type(module).__name__} is not a Module subclass")
        self._check_new_name(name, "_modules", "module")
        if module is None and REGISTRATION["module"]:
            module = registered("module", self, name, module)
        if module is None:
            if self._modules.get(name) is not None:
                reregistered()
            elif name not in self._modules:
                first_registration(self)
            self._modules[name] = None
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, module)

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        """The module at dotted path ``target`` (``""``: this one); PyTorch's AttributeErrors name the missing
        part, or the one that is not a Module."""
        module = self
        if target == "":
            return module
        for part in target.split("."):
            if not hasattr(module, part):
                raise AttributeError(f"{module._get_name()} has no attribute `{part}`")
            module = getattr(module, part)
            if not isinstance(module, Module):
                raise AttributeError(f"`{part}` is not an nn.Module")
        return module

    def set_submodule(self, target: str, module: Module, strict: bool = False) -> None:
        """Set the module at dotted path ``target`` (its parent must exist); ``strict=True``: only replace one
        that exists, as PyTorch's (a ValueError for an empty target or a non-Module, as PyTorch's)."""
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        if not isinstance(module, Module):
            raise ValueError(f"`module` is not an nn.Module, found {type(module)}")
        parent, _, name = target.rpartition(".")
        owner = self.get_submodule(parent)
        if strict and not hasattr(owner, name):
            raise AttributeError(f"{owner._get_name()} has no attribute `{name}`")
        if hasattr(owner, name) and not isinstance(getattr(owner, name), Module):
            raise AttributeError(f"`{name}` is not an nn.Module")
        setattr(owner, name, module)

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at dotted path ``target`` (``"layer.weight"``)."""
        module, name = self._owner_of(target)
        value = getattr(module, name)
        if not isinstance(value, Parameter):
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return value

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at dotted path ``target``."""
        module, name = self._owner_of(target)
        value = getattr(module, name)
        if name not in module._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        return value

    def _owner_of(self, target: str) -> tuple[Module, str]:
        """(the module that holds the attribute at dotted path ``target``, the attribute's name)."""
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if not hasattr(module, name):
            raise AttributeError(f"{module._get_name()} has no attribute `{name}`")
        return module, name

    def apply(self, fn: Any) -> Module:
        """``fn(module)`` on each child's tree (``children()`` order), then on this module, as PyTorch's."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # --- modes and gradients ---

    def train(self, mode: bool = True) -> Module:
        """Set ``training`` to ``mode`` on this module, then ``child.train(mode)`` on each child, as PyTorch's: a
        child's own ``train`` override (e.g. one keeping its batch norms in eval) runs from its parent's
        ``train()``/``eval()``; returns ``self``."""
        if not isinstance(mode, (bool, numpy.bool_)):
            raise ValueError(f"{type(self).__name__}.train: training mode is expected to be boolean, got {mode!r}")
        mode = bool(mode)
        set_mode(self, mode)
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        """``train(False)``: dropout off, batch norm uses its running statistics; returns ``self``."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's ``.grad`` (set to None, as PyTorch's default), or fill it with zeros
        in place (``set_to_none=False``)."""
        for param in self.parameters():
            if set_to_none or param.grad is None:
                param.grad = None
                continue
            grad = param.grad   # the same .grad tensor, out of any graph and zeroed, as PyTorch's
            if grad.grad_fn is not None:
                grad.detach_()
            else:
                grad.requires_grad_(False)
            grad.zero_()   # an in-place change (its version moves on), as PyTorch's

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` on every parameter (e.g. ``False`` to freeze); returns ``self``."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    # --- devices and dtypes ---

    def to(self, device: Any = None, dtype: Any = None, non_blocking: bool = False, *,
           memory_format: Any = None, tensor: Tensor | None = None, copy: Any = None) -> Module:
        """Move (in place) every parameter and buffer to ``device`` and/or cast floats to ``dtype``.

        Parameters keep their identity, so an optimizer built before the move
        still holds them (its state follows on its next step). As in PyTorch (and
        ``Tensor.to``), a dtype may also come first: ``model.to(mg.float64)``, or a
        tensor whose device and dtype to take: ``model.to(x)``. ``non_blocking`` is
        accepted and changes nothing (copies are synchronous). ``memory_format=mg.channels_last``
        lays the 4-D parameters and buffers out NHWC (``channels_last_3d``: the 5-D ones), as PyTorch's.
        ``tensor=x`` is PyTorch's keyword spelling of ``model.to(x)``; ``copy`` is refused, as PyTorch's.
        """
        if copy is not None:
            raise RuntimeError(f"{type(self).__name__}.to() does not accept copy argument")
        if tensor is not None:
            if device is not None or dtype is not None or not isinstance(tensor, Tensor):
                raise TypeError(f"{type(self).__name__}.to(): tensor= takes a Tensor, and no device or dtype beside "
                                f"it; got {type(tensor).__name__}")
            device = tensor
        fmt = memory_formats.check(memory_format, "to")
        if fmt is mg.channels_last or fmt is mg.channels_last_3d:
            rank = 4 if fmt is mg.channels_last else 5
        else:
            fmt = rank = None   # contiguous_format / preserve_format: parameters are kept as they are
        if isinstance(device, Tensor):
            device, dtype = device.device, device.dtype if dtype is None else dtype
        if dtype is None and isinstance(device, (numpy.dtype, type)):
            device, dtype = None, device
        dev = mg.resolve_device(device) if device is not None else None
        dt = numpy.dtype(dtype) if dtype is not None else None
        if dt is not None and dt.kind not in "fc":
            raise TypeError(f"{type(self).__name__}.to: nn.Module.to only accepts floating point or complex dtypes, "
                            f"but got desired dtype={dt}")
        return self._convert_tensors(dt, "fc", dev, fmt, rank)

    def _convert_tensors(self, dt: numpy.dtype | None, kinds: str, dev: Any = None, fmt: Any = None,
                         rank: int | None = None) -> Module:
        """Cast the parameters and buffers whose dtype kind is in ``kinds`` to ``dt`` (a complex one to a real
        ``dt`` keeps its real part, with a warning, as PyTorch's), move every one to ``dev`` and lay the
        ``rank``-D ones out as ``fmt``, in place (each tensor, and its ``.grad``, keeps its identity)."""
        tensors = _own_tensors(self)
        if dt is not None and dt.kind != "c" and any(t.dtype.kind == "c" and t.dtype.kind in kinds for t in tensors):
            warnings.warn(f"{type(self).__name__}: casting complex parameters or buffers to {dt} discards the "
                          "imaginary part", UserWarning, stacklevel=3)

        def convert(array: Any, is_float: bool) -> Any:
            if dt is not None and is_float and array.dtype != dt:
                array = (array.real if array.dtype.kind == "c" and dt.kind != "c" else array).astype(dt)
            if dev is not None:
                array = mg.to_device(array, dev)
            if fmt is not None and array.ndim == rank:
                array = memory_formats.lay_out(array, fmt, f"{type(self).__name__}.to")
            return array

        if _overrides_apply(self):
            # a module of the tree has its own _apply (e.g. casting a plain tensor attribute too): PyTorch routes
            # every conversion through _apply, so here a tree with one goes that way, with the same conversion
            def fn(tensor: Any) -> Any:
                array = convert(tensor.data, tensor.dtype.kind in kinds)
                return tensor if array is tensor.data else mg.as_tensor(array)

            return self._apply(fn)
        for tensor in tensors:
            is_float = tensor.dtype.kind in kinds
            tensor.data = convert(tensor.data, is_float)
            if tensor.grad is not None:
                tensor.grad.data = convert(tensor.grad.data, is_float)
            _retell_requires_grad(tensor)
        return self

    def _apply(self, fn: Any, recurse: bool = True) -> Module:
        """PyTorch's ``_apply``: children first (``recurse``), then ``fn`` on each parameter (its result becomes
        the parameter's data: the object is kept), on each gradient, and on each buffer (replaced by the result),
        without recording; returns ``self``."""
        if recurse:
            for child in self.children():
                child._apply(fn)
        with mg.no_grad():
            for param in self._parameters.values():
                if param is None:
                    continue
                param.data = fn(param).data
                if param.grad is not None:
                    param.grad.data = fn(param.grad).data
                _retell_requires_grad(param)
            for name, buf in self._buffers.items():
                if buf is not None:   # the attribute too (forward reads self.running_mean), without the hooks
                    new = self._buffers[name] = fn(buf)
                    object.__setattr__(self, name, new)
                    if new is not buf:
                        reregistered()   # mg.compile: no capture replays the old buffer
        return self

    def to_empty(self, *, device: Any, recurse: bool = True) -> Module:
        """Give every parameter and buffer an uninitialised array of its shape and dtype on ``device`` (the
        objects are kept), as PyTorch's ``to_empty``; ``recurse=False``: this module's own only."""
        dev = mg.resolve_device(device) if device is not None else None
        tensors = _own_tensors(self, recurse)
        for tensor in tensors:
            target = tensor.device if dev is None else dev
            tensor.data = mg.empty(tensor.shape, dtype=tensor.dtype, device=target).data
        return self

    def cpu(self) -> Module:
        """Move every parameter and buffer to the CPU (in place); returns ``self``."""
        return self.to("cpu")

    def cuda(self, device: int | None = None) -> Module:
        """Move every parameter and buffer to ``cuda`` (``cuda:device``) in place; returns ``self``."""
        return self.to("cuda" if device is None else f"cuda:{device}")

    def double(self) -> Module:
        """Cast the floating-point parameters and buffers to float64 in place; returns ``self``."""
        return self._convert_tensors(numpy.dtype(mg.float64), "f")   # complex ones stay complex, as PyTorch's

    def float(self) -> Module:
        """Cast the floating-point parameters and buffers to float32 in place; returns ``self``."""
        return self._convert_tensors(numpy.dtype(mg.float32), "f")   # complex ones stay complex, as PyTorch's

    def half(self) -> Module:
        """Cast the floating-point parameters and buffers to float16 in place; returns ``self``."""
        return self._convert_tensors(numpy.dtype(mg.float16), "f")   # complex ones stay complex, as PyTorch's

    def bfloat16(self) -> Module:
        """Refused with a TypeError: NumPy has no bfloat16 (use :meth:`half` or :meth:`float`)."""
        raise TypeError(f"{type(self).__name__}.bfloat16: NumPy has no bfloat16; use half() (float16) or float()")

    def type(self, dst_type: Any) -> Module:
        """Cast every parameter and buffer (integer buffers too) to ``dst_type`` (a dtype or a legacy type such
        as ``mg.DoubleTensor``), as PyTorch's ``Module.type``; a tensor that requires grad takes only a float."""
        dt = mg.backend.as_dtype(legacy_dtype(dst_type), f"{type(self).__name__}.type")
        tensors = _own_tensors(self)
        legacy = legacy_type(dst_type)   # a legacy type names a device too: mg.cuda.FloatTensor moves, as t.type(T)
        if legacy is not None and any((t.device.type == "cuda") != (legacy.device_type == "cuda") for t in tensors):
            self.to(legacy.device_type)
            tensors = _own_tensors(self)
        if dt.kind not in "fc" and any(t.requires_grad for t in tensors):
            raise RuntimeError(f"{type(self).__name__}.type: data set to a tensor that requires gradients must be "
                               f"floating point or complex dtype, got {dt}")
        for tensor in tensors:
            if tensor.dtype != dt:
                tensor.data = tensor.data.astype(dt)
                if tensor.grad is not None:
                    tensor.grad.data = tensor.grad.data.astype(dt)
                _retell_requires_grad(tensor)
        return self

    def share_memory(self) -> Module:
        """Move every parameter, buffer and gradient into shared memory (``Tensor.share_memory_``), as PyTorch's:
        a process forked after this trains the same weights (Hogwild, A3C)."""
        for tensor in _own_tensors(self):
            tensor.share_memory_()
            if tensor.grad is not None:
                tensor.grad.share_memory_()
        return self

    # --- state ---

    def state_dict(self, *args: Any, destination: dict | None = None, prefix: str = "",
                   keep_vars: bool = False) -> dict:
        """Dotted name → Tensor sharing the parameter's (or buffer's) array, as PyTorch's: this module's
        parameters, its persistent buffers, then each child's (a shared one under each name), through the
        state-dict hooks. Keys start with ``prefix``, go into ``destination`` if given (else a new OrderedDict
        whose ``_metadata`` holds each module's ``_version``); ``keep_vars=True`` gives the Parameters."""
        if args:   # PyTorch's old positional form (destination, prefix, keep_vars): a keyword given wins
            if len(args) > 3:
                raise TypeError(f"{type(self).__name__}.state_dict: at most 3 positional arguments, got {len(args)}")
            warnings.warn("Positional args are being deprecated, use kwargs instead. Refer to "
                          "https://pytorch.org/docs/main/generated/torch.nn.Module.html#torch.nn.Module.state_dict"
                          " for details.", FutureWarning, stacklevel=2)
            destination = args[0] if destination is None else destination
            prefix = args[1] if len(args) > 1 and prefix == "" else prefix
            keep_vars = args[2] if len(args) > 2 and keep_vars is False else keep_vars
        return save_module_state(self, destination, prefix, keep_vars)

    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        """This module's own entries (not its children's) into ``destination``; override to save more."""
        for name, tensor in own_state(self):
            destination[prefix + name] = tensor if keep_vars else tensor.detach()
        if self._has_extra_state():
            destination[prefix + "_extra_state"] = self.get_extra_state()

    def get_extra_state(self) -> Any:
        """Override (with ``set_extra_state``) to save any object under ``<prefix>_extra_state``."""
        raise RuntimeError(f"{type(self).__name__}: get_extra_state() is called only when a subclass defines it")

    def set_extra_state(self, state: Any) -> None:
        """Override (with ``get_extra_state``) to take back what ``get_extra_state`` saved."""
        raise RuntimeError(f"{type(self).__name__}: the state dict has _extra_state but the module does not "
                           "implement set_extra_state()")

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False) -> LoadResult:
        """Copy arrays from ``state_dict`` (Tensors, NumPy arrays, PyTorch tensors) into this module.

        PyTorch's walk (each module's ``_load_from_state_dict`` and load hooks; each module's keys are
        loaded as it is reached, so an override sees its new values after ``super()``), all or nothing: if
        anything is wrong everything written is put back and :class:`StateDictError` names each
        missing, unexpected and mis-shaped key. Values are cast to each parameter's dtype and copied
        to its device, into its array, as PyTorch does (a graph that saved the
        old values then refuses a backward, as after any in-place change).
        ``assign=True`` makes each parameter and buffer take the given array itself
        (its dtype and device; no copy), as PyTorch's ``assign``. Returns ``_IncompatibleKeys(missing_keys,
        unexpected_keys)``.
        """
        return load_module_state(self, state_dict, strict, assign)

    def _load_from_state_dict(self, state_dict: Mapping[str, Any], prefix: str, local_metadata: dict, strict: bool,
                              missing_keys: list, unexpected_keys: list, error_msgs: list) -> None:
        """This module's own keys (under ``prefix``) of ``state_dict``, as PyTorch's: runs the load pre-hooks,
        loads the keys it has (put back if the whole load fails), notes missing and unexpected keys; override to
        rename or convert keys, then call this (its tensors hold the loaded values when it returns)."""
        load_own_state(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs,
                       type(self).set_extra_state is not Module.set_extra_state)

    def _has_extra_state(self) -> bool:
        """Whether ``state_dict`` saves ``_extra_state``: the class defines ``get_extra_state`` (a load expects
        the key when it defines ``set_extra_state``, as PyTorch's)."""
        return type(self).get_extra_state is not Module.get_extra_state

    def __dir__(self) -> list[str]:
        """As PyTorch's: the attributes, parameters, buffers and children, without names that start with a digit
        (``Sequential``'s ``0``, ``1`` …)."""
        names = {*super().__dir__(), *self._parameters, *self._modules, *self._buffers}   # a container's children
        return sorted(name for name in names if not name[:1].isdigit())

    # --- printing ---

    def extra_repr(self) -> str:
        """The text inside this module's ``repr`` parentheses (its settings); subclasses override it."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        """PyTorch's layout: ``Name(extra)`` on one line, else the extra lines then ``(child): repr``, indented."""
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = []
        for name, module in self._modules.items():   # a loop, not a comprehension (a frame per level of nesting)
            child_lines.append(f"({name}): " + _addindent(repr(module), 2))
        if len(extra_lines) == 1 and not child_lines:
            return f"{self._get_name()}({extra_lines[0]})"
        lines = extra_lines + child_lines
        if not lines:
            return f"{self._get_name()}()"
        return f"{self._get_name()}(\n  " + "\n  ".join(lines) + "\n)"
