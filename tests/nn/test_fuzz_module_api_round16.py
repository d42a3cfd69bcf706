"""nn.Module API against torch.nn.Module, round 16 (what the containers, state dicts and reprs fuzzing found):
ModuleDict/ParameterDict ``keys()`` are live, set-like views (a list compared unequal to a set of names),
None placeholders in Sequential/ModuleList/ModuleDict, ``nn.Parameter()`` with no data, which modules'
``_extra_state`` a load expects, and LayerNorm keeping the ``eps`` it was given."""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any, Callable

import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")

SIDES = [(torch, torch.nn), (mg, nn)]


def _text(value: Any) -> str:
    return repr(value).replace("torch.", "").replace("minigrad.", "")


def _both(case: Callable) -> None:
    """``case(T, N)`` on torch's side and on ours: the same answers."""
    theirs, ours = (case(T, N) for T, N in SIDES)
    assert ours == theirs


def _module_dict_views(T: Any, N: Any) -> tuple:
    d = N.ModuleDict({"b": N.ReLU(), "a": N.Tanh()})
    keys, values, items = d.keys(), d.values(), d.items()
    d["c"] = N.Identity()   # a view sees the new child
    return (list(keys), keys == {"a", "b", "c"}, sorted(keys & {"a", "z"}), len(values), "a" in keys,
            ("a", d["a"]) in items, [type(v).__name__ for v in values])


def _parameter_dict_views(T: Any, N: Any) -> tuple:
    d = N.ParameterDict({"b": T.ones(1), "a": T.ones(2)})
    keys = d.keys()
    d["c"] = T.ones(3)
    values, items = d.values(), d.items()
    return (list(keys), keys == {"a", "b", "c"}, sorted(keys - {"a"}), [tuple(v.shape) for v in values],
            [k for k, _ in items], list(values), hasattr(d.values(), "__next__"))


@pytest.mark.parametrize("case", [_module_dict_views, _parameter_dict_views])
def test_dict_container_keys_are_live_set_like_views_as_torch(case: Callable) -> None:
    """Was: lists, so ``d.keys() == {"a", "b"}`` was silently False and ``d.keys() - {...}`` a TypeError."""
    _both(case)


def _observe(m: Any) -> tuple:
    return (_text(m), [k for k, _ in m.named_modules()], [k for k, _ in m.named_modules(remove_duplicate=False)],
            [k for k, _ in m.named_parameters()], list(m.state_dict()), [k for k, _ in m.named_children()],
            [type(c).__name__ for c in m.children()], len(m) if hasattr(m, "__len__") else None)


def _list_with_none(T: Any, N: Any) -> Any:
    parent = N.Module()
    parent.layers = N.ModuleList([None, N.Linear(1, 1), None])
    parent.layers.append(None)
    parent.layers.insert(0, None)
    parent.layers[2] = None
    return _observe(parent), _observe(copy.deepcopy(parent)), [type(m).__name__ for m in parent.layers]


def _dict_with_none(T: Any, N: Any) -> Any:
    d = N.ModuleDict({"a": None, "b": N.ReLU()})
    d["c"] = None
    d.update([("e", None)])
    return _observe(d), [type(m).__name__ for m in d.values()]


def _sequential_with_none(T: Any, N: Any) -> Any:
    s = N.Sequential(N.ReLU(), None, N.Linear(1, 1))
    s.append(None)
    s[0] = None
    keyed = N.Sequential(OrderedDict(a=None, b=N.ReLU()))
    del s[1]
    return _observe(s), _observe(s[1:]), _observe(s * 2), _observe(keyed)


@pytest.mark.parametrize("case", [_list_with_none, _dict_with_none, _sequential_with_none])
def test_none_placeholders_in_containers_as_torch(case: Callable) -> None:
    """PyTorch's containers register None through add_module (a placeholder child); ours raised TypeError."""
    _both(case)


def test_calling_a_sequential_with_a_none_child_is_a_type_error_as_torch() -> None:
    for T, N in SIDES:
        with pytest.raises(TypeError):
            N.Sequential(N.ReLU(), None)(T.ones(1))


@pytest.mark.parametrize("args", [(), (None,), (None, False)])
def test_a_parameter_with_no_data_is_an_empty_one_as_torch(args: tuple) -> None:
    """Was: a TypeError (missing ``data``; None refused)."""
    _both(lambda T, N: (lambda p: (type(p).__name__, tuple(p.shape), str(p.dtype).replace("torch.", ""),
                                   p.requires_grad))(N.Parameter(*args)))


def _extra_state_loads(T: Any, N: Any, getter: bool, setter: bool) -> tuple:
    """What a load expects of a module that defines only ``get_extra_state`` or only ``set_extra_state``."""
    namespace: dict = {}
    if getter:
        namespace["get_extra_state"] = lambda self: {"v": 1}
    if setter:
        namespace["set_extra_state"] = lambda self, state: None
    module = type("Extra", (N.Module,), namespace)()
    state = module.state_dict()
    try:
        module.load_state_dict(state)
        strict = "ok"
    except RuntimeError:
        strict = "RuntimeError"
    result = module.load_state_dict(state, strict=False)
    return list(state), strict, result.missing_keys, result.unexpected_keys


@pytest.mark.parametrize("getter, setter", [(True, False), (False, True), (True, True)])
def test_a_load_expects_extra_state_where_set_extra_state_is_defined_as_torch(getter: bool, setter: bool) -> None:
    """PyTorch saves ``_extra_state`` where ``get_extra_state`` is defined and loads it where ``set_extra_state``
    is; ours asked ``get_extra_state`` for both (a module defining only set_extra_state loaded {} silently)."""
    _both(lambda T, N: _extra_state_loads(T, N, getter, setter))


@pytest.mark.parametrize("make", [
    lambda N: N.LayerNorm(4, eps=1), lambda N: N.RMSNorm([2, 3], eps=2), lambda N: N.GroupNorm(2, 4, eps=1),
    lambda N: N.BatchNorm2d(3, eps=2, momentum=1), lambda N: N.InstanceNorm1d(3, eps=1, affine=True),
    lambda N: N.LazyBatchNorm1d(eps=1), lambda N: N.TransformerEncoderLayer(4, 2, 8, layer_norm_eps=3),
])
def test_a_normalization_keeps_the_eps_it_was_given_as_torch(make: Callable) -> None:
    """Was: ``eps`` stored as float(eps), so ``LayerNorm(4, eps=1)`` printed ``eps=1.0`` (PyTorch: ``eps=1``)."""
    _both(lambda T, N: (_text(make(N)), type(make(N).eps).__name__ if hasattr(make(N), "eps") else None))


def _outcome(action: Callable) -> Any:
    """``action()``'s result as text, or the class of what it raised (KeyError for PyTorch's AttributeError-or-
    KeyError lookups, which ours raise as both)."""
    try:
        return _text(action())
    except (KeyError, AttributeError):
        return "KeyError"
    except Exception as error:  # noqa: BLE001 - the class is what is compared
        return type(error).__name__


def _indexed_by_a_bool(T: Any, N: Any) -> list:
    seq = lambda: N.Sequential(N.ReLU(), N.Tanh(), N.Sigmoid())   # noqa: E731
    mods = lambda: N.ModuleList([N.ReLU(), N.Tanh()])   # noqa: E731
    params = lambda: N.ParameterList([T.ones(1), T.ones(2)])   # noqa: E731
    return [_outcome(action) for action in [
        lambda: seq()[True], lambda: mods()[True], lambda: tuple(params()[True].shape), lambda: seq().pop(True),
        lambda: (lambda s: (s.__delitem__(True), s)[1])(seq()),
        lambda: (lambda m: (m.__setitem__(True, N.ELU()), m)[1])(mods()), lambda: N.Sequential()[False]]]


def _dict_keys_checked_as_torch(T: Any, N: Any) -> list:
    params = lambda: N.ParameterDict({"a": T.ones(1)})   # noqa: E731
    return [_outcome(action) for action in [
        lambda: params()[1], lambda: params().pop(1), lambda: params().__delitem__(1), lambda: 1 in params(),
        lambda: N.ModuleDict().__setitem__("", 3), lambda: N.ModuleDict().update([("training", 3)])]]


@pytest.mark.parametrize("case", [_indexed_by_a_bool, _dict_keys_checked_as_torch])
def test_container_indices_and_keys_are_checked_as_torch(case: Callable) -> None:
    """Was: a bool index a TypeError (PyTorch's and a list's: ``True`` is 1); a non-string ParameterDict key a
    KeyError (PyTorch's TypeError); ``ModuleDict['']= 3`` a KeyError (PyTorch checks the value first)."""
    _both(case)


@pytest.mark.parametrize("name", ["blocks.0", "", "a.b.c"])
def test_a_parameter_assigned_under_a_dotted_or_empty_name_is_a_key_error_as_torch(name: str) -> None:
    """Was: ``setattr(m, "blocks.0", Parameter(...))`` registered a parameter whose state-dict key read as a
    child's path (PyTorch's register_parameter refuses it); a module under such a name stays allowed, as PyTorch's."""
    for T, N in SIDES:
        m = N.Module()
        with pytest.raises(KeyError):
            setattr(m, name, N.Parameter(T.ones(1)))
        assert list(m.state_dict()) == [] and list(m.parameters()) == []
    _both(lambda T, N: (lambda m: (setattr(m, "x.y", N.Linear(1, 1)), list(m.state_dict()))[1])(N.Module()))
