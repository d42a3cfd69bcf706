"""Module state dicts, as PyTorch's: saving through each module's ``_save_to_state_dict`` and its hooks, and
loading through each module's ``_load_from_state_dict`` and its hooks, all or nothing.

Saving (``Module.state_dict``), per module: its state-dict pre-hooks ``hook(module, prefix, keep_vars)``,
its own parameters and persistent buffers (and ``_extra_state`` when the class defines ``get_extra_state``),
each child's ``state_dict``, then its post-hooks ``hook(module, state_dict, prefix, local_metadata)``. The
result is an OrderedDict whose ``_metadata`` records each module's ``_version``, as PyTorch's.

Loading (``Module.load_state_dict``) walks the modules as PyTorch does (each child sees the keys under its
prefix) and calls ``_load_from_state_dict``, which runs the load pre-hooks and then checks and loads each of
the module's own keys (and its extra state) at once, as PyTorch's, so a subclass that reads its tensors after
``super()._load_from_state_dict`` sees the new values; what each write replaced is kept. A value that is not
a numeric array of the right shape is not written and noted; when the walk ends with any such problem (or,
with ``strict``, a missing or unexpected key), everything written is put back before the error is raised, so
a failed load changes nothing (PyTorch keeps what it wrote). Each module's load post-hooks run as the walk
leaves its subtree, as PyTorch's, on an ``_IncompatibleKeys`` of the missing and unexpected keys found so far
(lists they may edit in place: clearing them lets a strict load pass); what they do stays when the load then
fails (as in PyTorch), only the tensors and extra states are put back.
A value that shares memory with another model tensor than its own (a swap of ``state_dict()`` values) is
copied before the walk, so it loads what it held.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Iterator, Mapping, NamedTuple

import numpy

import minigrad as mg
from minigrad import Tensor
from minigrad._nn_support import is_torch_tensor

__all__ = ["StateDictError", "_IncompatibleKeys", "keep_lazy_module", "load_module_state", "load_own_state",
           "save_module_state"]


class StateDictError(RuntimeError, ValueError):
    """A state dict does not fit the module: the message names every bad key."""


class PostHookReturnError(RuntimeError, AssertionError):
    """A ``load_state_dict`` post-hook returned a value: PyTorch asserts it returns None (AssertionError)."""


class _IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` returns, as PyTorch's: the keys the module has and the state dict lacks, and the
    keys the state dict has and the module lacks (lists, in the order found)."""

    missing_keys: list
    unexpected_keys: list

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return f"_IncompatibleKeys(missing_keys={self.missing_keys!r}, unexpected_keys={self.unexpected_keys!r})"

    __str__ = __repr__


def _hooks(module: Any, kind: str) -> list:
    """``module``'s state-dict hooks of ``kind`` as ``(hook, options)`` pairs, in calling order."""
    table = module.__dict__.get("_state_hooks")
    return list(table[kind].values()) if table else []


def own_state(module: Any) -> Iterator[tuple[str, Tensor]]:
    """(name, tensor) of ``module``'s own parameters, then its persistent buffers, skipping None."""
    for name, param in module._parameters.items():
        if param is not None:
            yield name, param
    transient = module.__dict__.get("_non_persistent", ())
    for name, buf in module._buffers.items():
        if buf is not None and name not in transient:
            yield name, buf


# --- saving ---

def save_module_state(module: Any, destination: dict | None, prefix: str, keep_vars: bool) -> dict:
    """``module.state_dict(destination=..., prefix=..., keep_vars=...)``, PyTorch's walk (see the module doc).

    A loop, not a recursion, so a model nested thousands deep saves (PyTorch's recursion stops near 1,000): each
    module's own entries, then its children's, then its post-hooks; a child whose class overrides ``state_dict``
    is called instead, as PyTorch's walk calls it."""
    if destination is None:
        destination = OrderedDict()
        destination._metadata = OrderedDict()
    result = destination
    # Module's state_dict (the first class of the root's to define it; nn.module imports this module, not back)
    base_method = next(c.__dict__["state_dict"] for c in reversed(type(module).__mro__) if "state_dict" in c.__dict__)
    pending: list[tuple] = [("enter", module, prefix, None)]   # (step, module, its prefix, its local metadata)
    walking: set[int] = set()   # the modules entered and not finished: the current one's ancestors (and itself)
    while pending:
        step, current, at, local_metadata = pending.pop()
        if step == "call":   # its class's own state_dict, called as PyTorch's walk calls it (its return value unused)
            current.state_dict(destination=destination, prefix=at, keep_vars=keep_vars)
        elif step == "finish":   # after its children: its post-hooks
            walking.discard(id(current))
            result = _post_hooks(current, destination, at, local_metadata)
        else:
            if id(current) in walking:   # PyTorch's recursion never ends either (RecursionError); ours grew keys
                raise RecursionError(f"state_dict: {type(current).__name__} at {at[:-1]!r} contains itself (a module "
                                     "is its own descendant), so its state dict has no end")
            walking.add(id(current))
            local_metadata = {"version": getattr(current, "_version", 1)}
            metadata = getattr(destination, "_metadata", None)
            if metadata is not None:
                metadata[at[:-1]] = local_metadata
            for hook, _ in _hooks(current, "state_dict_pre"):
                hook(current, at, keep_vars)
            current._save_to_state_dict(destination, at, keep_vars)
            pending.append(("finish", current, at, local_metadata))
            pending.extend(("enter" if _walked_here(child, base_method) else "call", child, f"{at}{name}.", None)
                           for name, child in reversed(current._modules.items()) if child is not None)
    return result   # the root's: a private post-hook of a child may return a new dict, which its caller drops


def _walked_here(module: Any, base_method: Any) -> bool:
    """Whether ``module.state_dict`` is ``base_method`` (Module's own: its children are walked in
    :func:`save_module_state`'s loop), not a subclass's override or an instance's attribute."""
    return type(module).state_dict is base_method and "state_dict" not in module.__dict__


def _post_hooks(module: Any, destination: dict, prefix: str, local_metadata: dict) -> dict:
    """``module``'s state-dict post-hooks, in order; a private hook (``_register_state_dict_hook``) may return a
    new dict, which the later hooks and ``module.state_dict``'s caller get."""
    for hook, options in _hooks(module, "state_dict"):
        result = hook(module, destination, prefix, local_metadata)
        if options.get("public"):
            if result is not None:
                raise RuntimeError(f"{type(module).__name__}: a state_dict post-hook (register_state_dict_post_hook) "
                                   "must return None; change the state dict in place")
        elif result is not None:
            destination = result
    return destination


# --- loading ---

class _Load:
    """One ``load_state_dict`` call (or one hand call of ``_load_from_state_dict``): what was written, to put
    back if the load fails, and the problems found."""

    def __init__(self) -> None:
        self.undo: list = []       # functions that put back one write each, in the order written
        self.problems: list = []   # lines naming a key whose value could not be loaded
        self.written: list = []    # the tensors copied into: their version counters move once the load holds

    def put_back(self) -> None:
        """Undo every write (a failed load): the arrays hold what they held, their versions unchanged."""
        for undo in reversed(self.undo):
            undo()
        self.undo.clear()
        self.written.clear()

    def bump_versions(self) -> None:
        """Count the copies as in-place changes (a graph that saved the old values then refuses a backward)."""
        for target in self.written:
            bump = getattr(target, "_bump_version", None)
            if bump is not None:
                bump()
        self.written.clear()


_ACTIVE = threading.local()


def load_own_state(module: Any, state_dict: Mapping[str, Any], prefix: str, local_metadata: dict, strict: bool,
                   missing_keys: list, unexpected_keys: list, error_msgs: list, extra_state: bool) -> None:
    """``Module._load_from_state_dict``: the load pre-hooks, then ``module``'s own keys checked and loaded (what
    they replace kept, to put back if the whole load fails), missing and unexpected keys as PyTorch finds them."""
    load = getattr(_ACTIVE, "load", None)
    if load is None:   # called by hand, outside load_state_dict: this module's own keys, all or nothing
        _ACTIVE.load = load = _Load()
        try:
            load_own_state(module, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                           error_msgs, extra_state)
        except BaseException:
            load.put_back()
            raise
        finally:
            _ACTIVE.load = None
        error_msgs.extend(problem.strip() for problem in load.problems)
        if load.problems:
            load.put_back()
        load.bump_versions()
        return
    for hook, _ in _hooks(module, "load_pre"):
        hook(module, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)
    assign = bool(local_metadata.get("assign_to_params_buffers"))
    local = dict(own_state(module))
    for name, tensor in local.items():
        key = prefix + name
        if key in state_dict:
            _load_one(load, module, name, key, tensor, state_dict[key], assign)
        elif strict:
            missing_keys.append(key)
    extra_key = prefix + "_extra_state"
    if extra_state:
        if extra_key in state_dict:
            old = module.get_extra_state()
            module.set_extra_state(state_dict[extra_key])
            load.undo.append(lambda: module.set_extra_state(old))
        elif strict:
            missing_keys.append(extra_key)
    elif strict and extra_key in state_dict:
        unexpected_keys.append(extra_key)
    if strict:
        for key in state_dict:
            if not key.startswith(prefix) or key == extra_key:
                continue
            first, dot, _ = key[len(prefix):].partition(".")
            if (dot and first not in module._modules) or (not dot and first not in local):
                unexpected_keys.append(key)


def keep_lazy_module(module: Any) -> None:
    """A lazy module's ``_load_from_state_dict`` is about to give its placeholders their shapes (and the module
    its plain class): if the load fails, the module and its placeholders are put back as they are now."""
    load = getattr(_ACTIVE, "load", None)
    if load is None:
        return
    kind, attributes = type(module), {k: set(v) if type(v) is set else v for k, v in module.__dict__.items()}
    placeholders = [(tensor, type(tensor), tensor.data) for tensor in (*module._parameters.values(),
                                                                       *module._buffers.values())
                    if _is_placeholder(tensor)]

    def undo() -> None:
        for tensor, placeholder_kind, array in placeholders:
            tensor.data = array   # (the placeholder's array, set while it is still a Parameter or Tensor)
            object.__setattr__(tensor, "__class__", placeholder_kind)
        module.__dict__.clear()
        module.__dict__.update(attributes)
        object.__setattr__(module, "__class__", kind)

    load.undo.append(undo)


def _load_one(load: _Load, module: Any, name: str, key: str, target: Tensor, value: Any, assign: bool) -> None:
    """Check ``value`` for ``module``'s tensor ``name`` (at ``key``) and load it: copied into the tensor's array
    (cast to its dtype, to its device, as PyTorch's copy) or, with ``assign``, set as the module's attribute (as
    PyTorch's ``assign``); what it replaced is kept in ``load.undo``. A problem is noted and nothing written."""
    array, problem = _check_value(key, target, value, assign)
    if problem:
        load.problems.append(problem)
    if array is None:
        return
    if assign:
        # as PyTorch's assign: the module holds the state dict's tensor itself where it can (a Parameter for a
        # parameter, any Tensor for a buffer), else a new one around the value (no copy), set as an attribute
        # (registration hooks run; the old tensor, its .grad and an optimizer holding it stay apart; tied
        # weights come apart, each name its own tensor)
        setattr(module, name, _assigned(module, name, target, value, array))
        load.undo.append(lambda: setattr(module, name, target))
        return
    old = target.data.copy()
    _put(target, array)
    load.undo.append(lambda: _put(target, old))
    load.written.append(target)


def load_module_state(root: Any, state: Mapping[str, Any], strict: bool, assign: bool) -> _IncompatibleKeys:
    """``root.load_state_dict(state, strict, assign)``: PyTorch's walk, all or nothing (see the module doc)."""
    name = f"{type(root).__name__}.load_state_dict"
    if not isinstance(state, Mapping):
        raise TypeError(f"{name}: expected a mapping of name → array, got {type(state).__name__}")
    metadata = getattr(state, "_metadata", None)
    state = OrderedDict(state)   # the hooks may edit it; never the caller's
    bad_keys = [key for key in state if not isinstance(key, str)]
    if bad_keys:   # PyTorch fails on key.startswith; say which key
        raise TypeError(f"{name}: state dict keys must be strings (dotted names), got {bad_keys[0]!r} "
                        f"({type(bad_keys[0]).__name__}); nothing was loaded")
    if not assign:
        _copy_aliases(root, state)
    if metadata is not None:
        state._metadata = metadata
    missing: list = []
    unexpected: list = []
    errors: list = []
    load = _Load()
    previous, _ACTIVE.load = getattr(_ACTIVE, "load", None), load
    try:
        try:
            _walk(root, state, "", metadata, assign, (missing, unexpected, errors))
        finally:
            _ACTIVE.load = previous
        problems = load.problems + [f"  {message}" for message in errors]
        if problems or (strict and (missing or unexpected)):
            raise StateDictError(f"{name}: the state dict does not fit; nothing was loaded:\n"
                                 + "\n".join(problems + _key_lines(strict, missing, unexpected)))
        load.bump_versions()
        result = _IncompatibleKeys(missing, unexpected)
    except BaseException:
        load.put_back()
        raise
    return result


def _copy_aliases(root: Any, state: dict) -> None:
    """Replace by a copy each value of ``state`` that shares memory with a tensor of ``root`` other than the one
    its key names (``{"a": sd["b"], "b": sd["a"]}``): written in turn, a swap would load b twice."""
    tensors = [*root.named_parameters(remove_duplicate=False), *root.named_buffers(remove_duplicate=False)]
    roots = {id(_root(tensor.data)) for _, tensor in tensors}
    named = dict(tensors)
    for key, value in state.items():
        array = value.data if isinstance(value, Tensor) else value
        if not mg.is_array(array) or id(_root(array)) not in roots:
            continue
        own = named.get(key)
        if own is None or _root(own.data) is not _root(array):
            state[key] = value.detach().clone() if isinstance(value, Tensor) else array.copy()


def _walk(module: Any, local: dict, prefix: str, metadata: Any, assign: bool, lists: tuple) -> None:
    """PyTorch's ``load`` recursion: ``module._load_from_state_dict`` on the keys under ``prefix``, then each
    child (a shared child under each of its names) on the keys under its own prefix, then ``module``'s load
    post-hooks on the missing and unexpected keys found so far (lists they may edit in place)."""
    local_metadata = dict(metadata.get(prefix[:-1], {})) if metadata is not None else {}
    if assign:
        local_metadata["assign_to_params_buffers"] = assign
    module._load_from_state_dict(local, prefix, local_metadata, True, *lists)
    for name, child in module._modules.items():
        if child is not None:
            child_prefix = f"{prefix}{name}."
            child_local = OrderedDict((k, v) for k, v in local.items() if k.startswith(child_prefix))
            _walk(child, child_local, child_prefix, metadata, assign, lists)
    keys = _IncompatibleKeys(lists[0], lists[1])
    for hook, _ in _hooks(module, "load_post"):
        if hook(module, keys) is not None:
            raise PostHookReturnError(f"{type(module).__name__}: a load_state_dict post-hook must return None; to "
                                      "change the missing or unexpected keys, edit incompatible_keys' lists in place")


def _key_lines(strict: bool, missing: list, unexpected: list) -> list[str]:
    if not strict:
        return []
    return [f"  missing key: {k}" for k in missing] + [f"  unexpected key: {k}" for k in unexpected]


def _as_array(value: Any) -> Any:
    """A state-dict value as an array (a Tensor's, a NumPy/CuPy array, a PyTorch tensor's), or None."""
    array = value.data if isinstance(value, Tensor) else value
    if mg.is_array(array):
        return array
    if hasattr(value, "detach") and hasattr(value, "cpu"):   # a PyTorch tensor, e.g. from state_dict(keep_vars=True)
        value = value.detach().cpu()
        if hasattr(value, "resolve_conj"):   # its lazy conjugate and negative bits, which numpy() refuses
            value = value.resolve_conj().resolve_neg()
    try:
        return numpy.asarray(value)
    except Exception:  # noqa: BLE001 - reported with the key
        return None


def _is_placeholder(tensor: Any) -> bool:
    """Whether ``tensor`` is a lazy module's placeholder (``nn.parameter.is_lazy``, not imported here:
    nn.parameter imports nn.module, which imports this module)."""
    return hasattr(type(tensor), "cls_to_become")


def _check_value(key: str, target: Tensor, value: Any, assign: bool) -> tuple[Any, str | None]:
    """(the array to load into ``target`` at ``key``, or None; the problem, or None): a problem names a value that
    is not a numeric array, has another shape, or would be copied into a read-only array."""
    if _is_placeholder(target) and _is_placeholder(value):   # a lazy module's into a lazy module's: nothing to
        return None, None                                     # load, the target stays a placeholder (PyTorch's)
    if not (isinstance(value, Tensor) or mg.is_array(value) or is_torch_tensor(value)):
        # PyTorch's RuntimeError ("expected torch.Tensor or Tensor-like object"): a list, a number or a NumPy
        # scalar is no tensor (a NumPy array is taken, DESIGN.md §5)
        kind = type(value)
        kind = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
        return None, f"  {key}: expected a Tensor or an array, got {kind} (wrap it in mg.tensor(...))"
    array = _as_array(value)
    if array is None or array.dtype.kind not in "biufc":
        kind = type(value).__name__ if array is None else f"dtype {array.dtype}"
        return None, f"  {key}: not a numeric array ({kind})"
    if array.dtype.kind == "c" and target.dtype.kind != "c":   # PyTorch drops the imaginary part, warning
        return None, f"  {key}: complex values ({array.dtype}) for a real tensor ({target.dtype})"
    if target.ndim == 0 and tuple(array.shape) == (1,):   # PyTorch 0.3's checkpoints: a scalar saved as a
        array = array.reshape(())                          # 1-element vector loads, as PyTorch's
    if tuple(array.shape) != target.shape:
        return None, f"  {key}: shape {tuple(array.shape)} in the state dict, {target.shape} in the model"
    if assign and target.requires_grad and array.dtype.kind not in "fc":
        return None, (f"  {key}: dtype {array.dtype} cannot be assigned to a tensor that requires grad "
                      "(only float and complex tensors can require gradients)")
    flags = getattr(target.data, "flags", None)
    if not assign and flags is not None and not getattr(flags, "writeable", True):
        return None, f"  {key}: the model's array is read-only (load with assign=True)"
    return array, None


def _assigned(module: Any, name: str, target: Tensor, value: Any, array: Any) -> Tensor:
    """What ``module``'s ``name`` holds after an assign load of ``value`` (read as ``array``): ``value`` itself if it
    is a tensor of the kind (a Parameter of any class for a parameter, given ``target``'s ``requires_grad``; any
    Tensor for a buffer), else a new one holding ``array`` (no copy): an ``nn.Parameter``, or a plain Tensor for a
    buffer, as PyTorch's."""
    if name in module._parameters:
        # PyTorch's: a Parameter of any class is kept (a plain one for a subclass's parameter too), anything else
        # becomes a plain nn.Parameter (never the module's Parameter subclass, whose constructor may differ)
        if isinstance(value, _parameter_class()) and value.data is array:
            value.requires_grad_(target.requires_grad)
            return value
        return _parameter_class()(array, requires_grad=target.requires_grad)
    if isinstance(value, Tensor) and value.data is array:
        return value
    return Tensor._new(array, dtype=array.dtype)


def _parameter_class() -> type:
    """``nn.Parameter``: nn.module, which defines it and imports this module, sets ``PARAMETER_CLASS``."""
    return PARAMETER_CLASS


PARAMETER_CLASS: type = Tensor   # nn.Parameter, once nn.module has defined it


def _root(array: Any) -> Any:
    """The array that owns ``array``'s memory (the end of its ``.base`` chain)."""
    while getattr(array, "base", None) is not None and mg.is_array(array.base):
        array = array.base
    return array


def _put(target: Tensor, array: Any) -> None:
    """Copy ``array`` into ``target``'s array (cast to its dtype, to its device); the version moves later."""
    new = mg.to_device(mg.to_numpy(array), target.device) if target.device.type != "cpu" else mg.to_numpy(array)
    mg.array_module(target.data).copyto(target.data, new, casting="unsafe")
