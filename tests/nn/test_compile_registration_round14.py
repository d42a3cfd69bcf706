"""A compiled model sees a layer, parameter or buffer registered after its first call (round 14).

A first registration into a module that was called (or into a container in its tree) counts as a re-registration
(nn/_compile_state.py), so the next compiled call is captured again instead of replaying a capture that never saw
the new entry; building modules that were never called counts nothing, so captures keep replaying.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import minigrad as mg
import nn
from nn._compile_state import _REREGISTRATIONS


class Layers(nn.Module):
    """Applies every child of ``self.layers`` (a ModuleList, a Sequential's children or a ModuleDict's values)."""

    def __init__(self, layers: nn.Module) -> None:
        super().__init__()
        self.layers = layers

    def forward(self, x):
        for layer in (self.layers.values() if isinstance(self.layers, nn.ModuleDict) else self.layers):
            x = layer(x)
        return x


class Children(nn.Module):
    """Applies every direct child, multiplies by every parameter and adds every buffer."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Linear(3, 3)

    def forward(self, x):
        for child in self.children():
            x = child(x)
        for param in self.parameters(recurse=False):
            x = x * param
        for buf in self.buffers(recurse=False):
            x = x + buf
        return x


def _replayed_then_changed(model: nn.Module, change, compiled=None) -> tuple:
    """(compiled result, eager result) after three compiled calls of ``model`` (the last ones replays), then
    ``change(model)``."""
    compiled = mg.compile(model) if compiled is None else compiled
    x = mg.arange(6, dtype=mg.float32).reshape(2, 3) / 6
    for _ in range(3):
        compiled(x)
    change(model)
    return compiled(x).numpy(), model(x).numpy()


def _linear() -> nn.Linear:
    return nn.Linear(3, 3)


@pytest.mark.parametrize("change", [
    lambda m: m.layers.append(_linear()),
    lambda m: m.layers.extend([nn.Tanh(), _linear()]),
    lambda m: m.layers.insert(0, nn.Tanh()),
    lambda m: m.layers.__iadd__([nn.Sigmoid()]),
], ids=["append", "extend", "insert", "iadd"])
def test_a_module_list_grown_after_the_first_call(change):
    mg.manual_seed(0)
    got, want = _replayed_then_changed(Layers(nn.ModuleList([_linear()])), change)
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("change", [
    lambda m: m.append(nn.Tanh()),
    lambda m: m.extend([_linear(), nn.Sigmoid()]),
    lambda m: m.insert(1, nn.Tanh()),
    lambda m: m.add_module("extra", nn.Tanh()),
    lambda m: m.register_module("extra", nn.Sigmoid()),
], ids=["append", "extend", "insert", "add_module", "register_module"])
def test_a_sequential_grown_after_the_first_call(change):
    mg.manual_seed(0)
    got, want = _replayed_then_changed(nn.Sequential(_linear()), change)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_a_module_dict_entry_added_after_the_first_call():
    mg.manual_seed(0)
    got, want = _replayed_then_changed(Layers(nn.ModuleDict({"a": _linear()})),
                                       lambda m: m.layers.__setitem__("b", nn.Tanh()))
    np.testing.assert_allclose(got, want, rtol=1e-6)
    got, want = _replayed_then_changed(Layers(nn.ModuleDict({"a": _linear()})),
                                       lambda m: m.layers.update({"b": _linear()}))
    np.testing.assert_allclose(got, want, rtol=1e-6)


class Scaled(nn.Module):
    """Multiplies by every entry of a ParameterList and adds every value of a ParameterDict."""

    def __init__(self) -> None:
        super().__init__()
        self.scales = nn.ParameterList([mg.full((3,), 2.0)])
        self.shifts = nn.ParameterDict({"a": mg.ones(3)})

    def forward(self, x):
        for scale in self.scales:
            x = x * scale
        for shift in self.shifts.values():
            x = x + shift
        return x


@pytest.mark.parametrize("change", [
    lambda m: m.scales.append(mg.full((3,), 3.0)),
    lambda m: m.scales.extend([nn.Parameter(mg.full((3,), 0.5))]),
    lambda m: m.scales.append(4.0),   # a plain object is kept as it is (not registered), yet iterated over
    lambda m: m.shifts.__setitem__("b", nn.Parameter(mg.full((3,), 5.0))),
    lambda m: m.shifts.update({"c": mg.full((3,), -1.0)}),
    lambda m: m.shifts.setdefault("d", mg.full((3,), 7.0)),
    lambda m: m.shifts.__setitem__("e", 10.0),
], ids=["list-append", "list-extend", "list-append-object", "dict-setitem", "dict-update", "dict-setdefault",
        "dict-setitem-object"])
def test_a_parameter_container_grown_after_the_first_call(change):
    got, want = _replayed_then_changed(Scaled(), change)
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("change", [
    lambda m: setattr(m, "extra", nn.Tanh()),
    lambda m: m.add_module("extra", nn.Tanh()),
    lambda m: m.register_module("extra", nn.Tanh()),
    lambda m: setattr(m, "gain", nn.Parameter(mg.full((3,), 2.0))),
    lambda m: m.register_parameter("gain", nn.Parameter(mg.full((3,), 2.0))),
    lambda m: m.register_buffer("offset", mg.full((3,), 4.0)),
    lambda m: m.register_buffer("offset", mg.full((3,), 4.0), persistent=False),
    lambda m: setattr(m, "offset", nn.Buffer(mg.full((3,), 4.0))),
], ids=["setattr-module", "add_module", "register_module", "setattr-parameter", "register_parameter",
        "register_buffer", "register_buffer-transient", "nn.Buffer"])
def test_a_child_parameter_or_buffer_added_after_the_first_call(change):
    mg.manual_seed(0)
    got, want = _replayed_then_changed(Children(), change)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_a_placeholder_registered_after_the_first_call_captures_again():
    """``register_parameter(name, None)``/``add_module(name, None)``: the name is registered (with no value)."""
    class Names(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(mg.ones(3))

        def forward(self, x):
            return x * len(self._parameters) + len(self._modules)

    for change in (lambda m: m.register_parameter("bias", None), lambda m: m.add_module("head", None)):
        got, want = _replayed_then_changed(Names(), change)
        np.testing.assert_array_equal(got, want)


def test_a_layer_added_to_a_nested_container_captures_again():
    """Only the root is called by the compiled function: the whole tree it holds is marked by that first call."""
    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = Layers(nn.ModuleList([_linear()]))

        def forward(self, x):
            return self.body(x)

    mg.manual_seed(0)
    got, want = _replayed_then_changed(Outer(), lambda m: m.body.layers.append(nn.Tanh()))
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_a_container_assigned_after_the_first_call_counts_what_is_added_to_it_later():
    """A ModuleList (never called itself) put into a called model is marked with it: a layer appended to it after
    more replays captures again."""
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.first = _linear()

        def forward(self, x):
            x = self.first(x)
            for layer in getattr(self, "more", ()):
                x = layer(x)
            return x

    mg.manual_seed(0)
    model = Model()
    compiled = mg.compile(model)
    got, want = _replayed_then_changed(model, lambda m: setattr(m, "more", nn.ModuleList()), compiled)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    got, want = _replayed_then_changed(model, lambda m: m.more.append(nn.Tanh()), compiled)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    got, want = _replayed_then_changed(model, lambda m: m.more[0].add_module("inner", _linear()), compiled)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_module_compile_sees_a_layer_appended_after_the_first_call():
    mg.manual_seed(0)
    model = nn.Sequential(_linear())
    model.compile()
    got, want = _replayed_then_changed(model, lambda m: m.append(nn.Tanh()), model)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_building_modules_inside_a_compiled_function_keeps_replaying():
    """Modules built (and filled) by the function itself were never called before: no registration counts, so
    the counter never moves and the capture replays."""
    mg.manual_seed(0)
    lin = _linear()

    def fn(x):
        drop = nn.Dropout(0.0)
        seq = nn.Sequential(lin, nn.Tanh())   # a new container of a layer that was called
        seq.append(nn.Identity())
        holder = nn.Module()
        holder.register_buffer("b", mg.ones(3))
        holder.add_module("inner", nn.ModuleList([nn.ReLU()]))
        holder.inner.append(nn.Identity())
        plist = nn.ParameterList()
        plist.append(mg.ones(3))
        return drop(seq(x)) + holder.b + seq[1:](x)

    compiled = mg.compile(fn)
    x = mg.ones(2, 3)
    compiled(x)
    before = _REREGISTRATIONS[0]
    for _ in range(3):
        out = compiled(x)
    assert _REREGISTRATIONS[0] == before
    assert compiled.recaptures == 0
    np.testing.assert_allclose(out.numpy(), fn(x).numpy(), rtol=1e-6)


def test_constructing_a_model_counts_nothing():
    before = _REREGISTRATIONS[0]
    model = Layers(nn.ModuleList([_linear()]))
    model.layers.append(nn.Tanh())
    model.register_buffer("b", mg.ones(3))
    model.extra = nn.Sequential()
    model.extra.append(nn.ReLU())
    assert _REREGISTRATIONS[0] == before


def test_a_copy_of_a_called_model_is_not_called_yet():
    """A copy is a module of its own: registrations into it count only once it is called."""
    model = Layers(nn.ModuleList([_linear()]))
    model(mg.ones(2, 3))
    twin = copy.deepcopy(model)
    before = _REREGISTRATIONS[0]
    twin.layers.append(nn.Tanh())
    assert _REREGISTRATIONS[0] == before
    twin(mg.ones(2, 3))
    twin.layers.append(nn.Tanh())
    assert _REREGISTRATIONS[0] > before


# A container (or a model) that no compiled call ever *calls* is never marked as called; a first registration into
# it is seen by the capture's guard on the module's counts of children, parameters and buffers (guards._marker).


def _compiled_then_changed(fn, change) -> tuple:
    compiled = mg.compile(fn)
    x = mg.arange(6, dtype=mg.float32).reshape(2, 3) / 6
    for _ in range(3):
        compiled(x)
    change()
    return compiled(x).numpy(), fn(x).numpy()


def test_a_module_list_only_iterated_by_the_compiled_function():
    mg.manual_seed(0)
    layers = nn.ModuleList([_linear()])

    def fn(x):
        for layer in layers:
            x = layer(x)
        return x

    got, want = _compiled_then_changed(fn, lambda: layers.append(nn.Tanh()))
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_a_parameter_list_only_iterated_by_the_compiled_function():
    scales = nn.ParameterList([mg.full((3,), 2.0)])

    def fn(x):
        for scale in scales:
            x = x * scale
        return x

    got, want = _compiled_then_changed(fn, lambda: scales.append(mg.full((3,), 3.0)))
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_a_compiled_forward_of_a_model_never_called():
    mg.manual_seed(0)
    model = nn.Sequential(_linear())
    got, want = _compiled_then_changed(model.forward, lambda: model.append(nn.Tanh()))
    np.testing.assert_allclose(got, want, rtol=1e-6)
