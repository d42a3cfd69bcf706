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
