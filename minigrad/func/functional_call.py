"""``functional_call``: run a module with other tensors in place of its parameters and buffers, as
``torch.func.functional_call``.

The tensors are swapped into the module (dotted names, ``"encoder.weight_ih_l0"``) for the one call and
the originals put back afterwards, also when the call raises; the module computes with the given tensors,
so gradients flow to them and not to its own parameters. A plain Tensor (not a Parameter) may stand for a
parameter here, which ``Module.__setattr__`` refuses, so the swap writes the module's tables directly.

minigrad never imports ``nn`` (DESIGN §2), so the module is read through the attributes every
``nn.Module`` has: ``_parameters``/``_buffers`` (its registered tensors, also kept in its ``__dict__``),
``named_parameters``/``named_buffers`` and calling it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any, Iterator

from ..compile import add_guard
from ..ops import stack
from ..tensor import Tensor
from ..versions import INPLACE

__all__ = ["call_with", "functional_call", "reparametrized", "replace_all_batch_norm_modules_", "stack_module_state"]

_MISSING: Any = object()   # an attribute the module did not have before the swap

# mg.compile's guard: a capture holds the tensors it read, so one made with swapped-in tensors (or before a
# swap) must not replay after the module's tensors changed; installed on the first functional_call
_SWAPS = [0]
_GUARD_ADDED = [False]


def functional_call(module: Any, parameter_and_buffer_dicts: Any, args: Any = None, kwargs: dict | None = None, *,
                    tie_weights: bool = True, strict: bool = False) -> Any:
    """``module(*args, **kwargs)`` computed with the tensors of ``parameter_and_buffer_dicts`` in place of its
    parameters and buffers, as ``torch.func.functional_call``.

    ``parameter_and_buffer_dicts``: ``{dotted name: Tensor}``, or a tuple/list of such dicts with distinct
    keys (e.g. ``(params, buffers)``). A name the module does not have is set as a plain attribute for the
    call. ``args``: one argument or a tuple of them. ``tie_weights``: a tensor registered under several
    names (tied weights) is replaced under all of them when one name is given (two different values for
    one tied tensor raise). ``strict``: the names must be exactly the module's parameters and buffers.
    The module's own tensors are back in place afterwards (also after an exception); a module that
    assigns a new tensor to a buffer during the call leaves it in the given dict, as PyTorch's.
    """
    if isinstance(parameter_and_buffer_dicts, dict):
        tensors = parameter_and_buffer_dicts
    elif isinstance(parameter_and_buffer_dicts, Sequence) and not isinstance(parameter_and_buffer_dicts, str):
        if not all(isinstance(d, dict) for d in parameter_and_buffer_dicts):
            raise ValueError("Expected all elements of parameter_and_buffer_dicts to be dictionaries")
        counts: dict = {}
        for d in parameter_and_buffer_dicts:
            for key in d:
                counts[key] = counts.get(key, 0) + 1
        repeated = [key for key, n in counts.items() if n > 1]
        if repeated:
            raise ValueError(f"{repeated} appeared in multiple dictionaries; behavior of functional call is ambiguous")
        tensors = {k: v for d in parameter_and_buffer_dicts for k, v in d.items()}
    else:
        raise ValueError("Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of dicts, "
                         f"but got {type(parameter_and_buffer_dicts)}")
    return call_with(module, tensors, args, kwargs, tie_weights=tie_weights, strict=strict)


def call_with(module: Any, tensors: dict, args: Any = None, kwargs: dict | None = None, *,
              tie_weights: bool = True, strict: bool = False) -> Any:
    """``module(*args, **kwargs)`` with ``tensors`` (one dict) swapped in: :func:`functional_call` after
    its dicts were merged (``nn.utils.stateless.functional_call`` calls this directly)."""
    if not callable(module) or not hasattr(module, "_parameters"):
        raise TypeError(f"functional_call: expected an nn.Module, got {type(module).__name__}")
    if kwargs is None:
        kwargs = {}
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    with reparametrized(module, tensors, tie_weights=tie_weights, strict=strict):
        return module(*args, **kwargs)


@contextlib.contextmanager
def reparametrized(module: Any, tensors: dict, tie_weights: bool = False, strict: bool = False) -> Iterator[None]:
    """Inside the block ``module`` holds ``tensors`` (``{dotted name: Tensor}``) in place of its own; on exit
    (also by an exception) its own are back, and a tensor the module replaced meanwhile is written back into
    ``tensors`` (PyTorch's ``_reparametrize_module``)."""
    untied = _untie(module, tensors) if tie_weights else tensors
    if strict:
        _check_keys(module, untied)
    if not _GUARD_ADDED[0]:
        add_guard(lambda: _SWAPS[0])
        _GUARD_ADDED[0] = True
    originals: dict = {}
    try:
        for name, value in untied.items():
            originals[name] = _swap(module, name, value)
        _SWAPS[0] += 1
        watched = _buffers_as_they_are(module) if _inside_a_transform() else None
        yield
        if watched is not None:
            _refuse_changed_buffers(module, watched)
    finally:
        current = {name: _swap(module, name, originals[name]) for name in reversed(list(originals))}
        _SWAPS[0] += 1
        for name in tensors:
            if name in current and current[name] is not _MISSING:
                tensors[name] = current[name]


def _inside_a_transform() -> bool:
    from .transforms import _depth  # transforms imports this module's package: looked up when used
    from .vmap import vmap_depth
    return _depth() > 0 or vmap_depth() > 0


def _buffers_as_they_are(module: Any) -> list:
    """(name, buffer, its in-place version, a copy of its values) for each buffer the call may change."""
    return [(name, t, INPLACE.version(t.data), t.data.copy())
            for name, t in module.named_buffers(remove_duplicate=False) if t is not None]


def _refuse_changed_buffers(module: Any, watched: list) -> None:
    """A buffer changed in place during a call inside grad/vjp/vmap … (BatchNorm's running statistics in train
    mode): PyTorch refuses the in-place write to a tensor captured from outside the transform; so do we, with
    the buffers' values put back (nothing changes when the call fails). A buffer every transform got as an input
    (vmap: a mapped one, as ``stack_module_state``'s; grad: an argument) is written, as torch's."""
    from .vmap import passed_to_every_level, vmap_depth
    changed = [name for name, t, version, _ in watched
               if INPLACE.version(t.data) != version and not passed_to_every_level(t.data)
               and not (vmap_depth() == 0 and _writes_buffers_under_grad(module, name))]
    if not changed:
        return
    for _, t, _, values in watched:
        t.data[...] = values
    raise RuntimeError(
        f"functional_call: {_name(module)} changed its buffer(s) {', '.join(map(repr, changed))} in place inside a "
        "torch.func transform (grad, vjp, vmap …); PyTorch refuses an in-place write to a tensor captured from "
        "outside the transform, and so does minigrad (the buffers are as they were). A BatchNorm in train mode "
        "updates its running statistics this way: call model.eval(), or build it with track_running_stats=False")


def _named_tensors(module: Any) -> list[tuple[str, Tensor]]:
    """Every (dotted name, tensor) of the module's parameters and buffers, tied ones under each name."""
    return list(module.named_parameters(remove_duplicate=False)) + list(module.named_buffers(remove_duplicate=False))


def _untie(module: Any, tensors: dict) -> dict:
    """``tensors`` with each given tensor also under the other names its module tensor is tied to."""
    names_of: dict = {}
    for name, tensor in _named_tensors(module):
        names_of.setdefault(id(tensor), set()).add(name)
    tied = {name: names for names in names_of.values() if len(names) > 1 for name in names}
    given = [name for name in tensors if name in tied]
    for name in given:
        values = {id(tensors[other]) for other in tied[name] if other in tensors}
        if len(values) > 1:
            raise ValueError(f"functional_call got multiple values for keys {sorted(tied[name])}, which are tied. "
                             "Consider using tie_weights=False")
    untied = dict(tensors)
    for name in given:
        for other in tied[name]:
            untied[other] = tensors[name]
    return untied


def _check_keys(module: Any, tensors: dict) -> None:
    valid = {name for name, _ in _named_tensors(module)}
    missing, unexpected = sorted(valid - set(tensors)), sorted(set(tensors) - valid)
    messages = []
    if unexpected:
        messages.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
    if missing:
        messages.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
    if messages:
        raise RuntimeError(f"Error(s) in reparametrizing for {_name(module)}:\n\t" + "\n\t".join(messages))


def _writes_buffers_under_grad(module: Any, name: str) -> bool:
    """Whether the submodule owning buffer ``name`` says torch.func's grad/jvp/vjp let it write its buffers
    (InstanceNorm: torch's kernel updates the running estimates outside autograd's view; vmap refuses it)."""
    return bool(getattr(_submodule(module, name.rpartition(".")[0]), "_writes_buffers_under_grad", False))


def _name(module: Any) -> str:
    get_name = getattr(module, "_get_name", None)
    return get_name() if callable(get_name) else type(module).__name__


def _submodule(module: Any, path: str) -> Any:
    for attr in path.split(".") if path else ():
        parent = module
        try:
            module = getattr(parent, attr)
        except AttributeError as error:
            raise AttributeError(f"{_name(parent)} has no attribute `{attr}`") from error
        if not hasattr(module, "_parameters"):
            raise TypeError(f"submodule `{path}`: {module} is not an instance of nn.Module")
    return module


def _swap(module: Any, name: str, value: Any) -> Any:
    """Put ``value`` (a Tensor, None, or :data:`_MISSING`: remove) at dotted ``name``; the value it replaces."""
    if value is not _MISSING and value is not None and not isinstance(value, Tensor):
        raise TypeError(f"functional_call: {name!r} is a {type(value).__name__}, not a Tensor")
    prefix, _, attr = name.rpartition(".")
    if attr == "":
        raise KeyError('tensor name can\'t be empty string ""')
    owner = _submodule(module, prefix)
    for table in (owner._parameters, owner._buffers):
        if attr in table:
            original = table[attr]
            if value is _MISSING:
                del table[attr]
                owner.__dict__.pop(attr, None)
            else:
                table[attr] = value
                object.__setattr__(owner, attr, value)   # Module keeps registered tensors in __dict__ too
            return original
    original = getattr(owner, attr, _MISSING)
    if original is not _MISSING and original is not None and not isinstance(original, Tensor):
        raise TypeError(f"attribute `{attr}`: {original} is not an instance of Tensor")
    if value is not _MISSING:
        setattr(owner, attr, value)
    elif hasattr(owner, attr):
        delattr(owner, attr)
    return original


def stack_module_state(models: Any) -> tuple[dict, dict]:
    """``(params, buffers)``: each parameter and buffer of ``models`` (modules of one class, in one mode)
    stacked along a new dim 0, by name, as ``torch.func.stack_module_state``: for ensembling with
    ``vmap(lambda p, b, x: functional_call(models[0], (p, b), x), in_dims=(0, 0, None))``. The stacked
    parameters are new leaves (requiring grad when the models' do)."""
    models = list(models)
    if not models:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if not (all(m.training for m in models) or not any(m.training for m in models)):
        raise RuntimeError("stack_module_state: Expected all models to have the same training/eval mode.")
    if not all(type(m) is type(models[0]) for m in models):
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")
    all_params = [dict(m.named_parameters()) for m in models]
    all_buffers = [dict(m.named_buffers()) for m in models]
    params = {k: _stacked_leaf([p[k] for p in all_params], k) for k in all_params[0]}
    buffers = {k: _stacked_leaf([b[k] for b in all_buffers], k) for k in all_buffers[0]}
    return params, buffers


def _stacked_leaf(tensors: list, name: str) -> Tensor:
    requires = [t.requires_grad for t in tensors]
    if any(requires) and not all(requires):
        raise RuntimeError(f"Expected {name} from each model to have the same .requires_grad")
    return stack([t.detach() for t in tensors], dim=0).requires_grad_(all(requires))


def replace_all_batch_norm_modules_(root: Any) -> Any:
    """``root`` with every batch norm module in it (``BatchNorm1d/2d/3d`` and their kin, ``root`` included) made
    to keep no running statistics, in place, as ``torch.func.replace_all_batch_norm_modules_``: their
    ``running_mean``, ``running_var`` and ``num_batches_tracked`` become None and ``track_running_stats`` False, so
    they normalise with each batch's statistics and write nothing in place (what :func:`vmap` over a model needs).
    Returns ``root``."""
    for module in root.modules():
        if any(cls.__name__ == "_BatchNorm" for cls in type(module).__mro__) and module.track_running_stats:
            module.running_mean = None
            module.running_var = None
            module.num_batches_tracked = None
            module.track_running_stats = False
    return root
