"""nn.Module's own API against torch's, where a probe found them apart: named_modules' memo, attributes set before
Module.__init__, the name checks of register_*/add_module, get_*/set_submodule errors, to_empty, Module.type,
__dir__, del training, hook handles' id, and the containers' keys, orders and errors. Each test runs the same code
on torch.nn and on nn."""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import Any, Callable

import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="PyTorch is the reference for these tests")


def _error(fn: Callable[[], Any]) -> BaseException:
    with pytest.raises(Exception) as info:
        fn()
    return info.value


def _message(error: BaseException) -> str:
    """The message, with torch's ``"."`` read as ``'.'`` (ours quotes it so, for a readable KeyError)."""
    return (str(error.args[0]) if error.args else "").replace('"."', "'.'")


def _same_error(ours: Callable[[], Any], theirs: Callable[[], Any]) -> None:
    """Both raise; ours is an instance of torch's exception class and its message holds torch's."""
    mine, reference = _error(ours), _error(theirs)
    assert isinstance(mine, type(reference)), (mine, reference)
    assert _message(reference) in _message(mine), (_message(mine), _message(reference))


def _tree(lib: Any) -> Any:
    model = lib.Sequential(lib.Linear(2, 3), lib.Sequential(lib.ReLU(), lib.Linear(3, 1)))
    model.shared = model[0]
    return model


def test_named_modules_fills_the_memo_it_is_given_and_skips_what_it_holds() -> None:
    for lib in (nn, torch.nn):
        model = _tree(lib)
        memo: set = set()
        assert len(list(model.named_modules(memo=memo))) == 5 and len(memo) == 5
        names = [n for n, _ in model.named_modules(memo={model[1]}, prefix="m", remove_duplicate=False)]
        assert names == ["m", "m.0", "m.shared"], lib


def test_plain_attributes_may_be_set_before_module_init_as_in_torch() -> None:
    for lib, tensor in ((nn, mg.zeros), (torch.nn, torch.zeros)):
        class Early(lib.Module):
            library = lib

            def __init__(self) -> None:
                self.width = 3   # before super().__init__(), as some models do
                super().__init__()
                self.layer = self.library.Linear(self.width, 1)

        assert Early().width == 3 and [n for n, _ in Early().named_parameters()] == ["layer.weight", "layer.bias"]
        for value, what in ((lib.Parameter(tensor(1)), "parameters"), (lib.ReLU(), "module")):
            class Late(lib.Module):
                def __init__(self, value: Any = value) -> None:
                    self.p = value

            with pytest.raises(AttributeError, match=f"cannot assign {what} before Module.__init__"):
                Late()


@pytest.mark.parametrize("name, kind", [("a.b", KeyError), ("", KeyError), ("training", KeyError),
                                        ("weight", KeyError), (3, TypeError)])
def test_register_and_add_module_refuse_names_as_torch(name: Any, kind: type) -> None:
    ours, theirs = nn.Linear(2, 2), torch.nn.Linear(2, 2)
    calls = [(lambda m, lib: m.add_module(name, lib.ReLU())), (lambda m, lib: m.register_module(name, lib.ReLU())),
             (lambda m, lib: m.register_buffer(name, (mg if lib is nn else torch).zeros(1)))]
    if name != "weight":
        calls.append(lambda m, lib: m.register_parameter(name, lib.Parameter((mg if lib is nn else torch).zeros(1))))
    for call in calls:
        _same_error(lambda call=call: call(ours, nn), lambda call=call: call(theirs, torch.nn))
        assert isinstance(_error(lambda call=call: call(ours, nn)), kind)
    _same_error(lambda: ours.add_module("x", 3), lambda: theirs.add_module("x", 3))


@pytest.mark.parametrize("call", [
    lambda m: m.get_submodule("5"), lambda m: m.get_submodule("0.x"), lambda m: m.get_submodule("0.weight"),
    lambda m: m.get_parameter("0.foo"), lambda m: m.get_parameter("1.running_mean"),
    lambda m: m.get_parameter("0.in_features"), lambda m: m.get_parameter("7.weight"),
    lambda m: m.get_buffer("1.foo"), lambda m: m.get_buffer("1.weight"), lambda m: m.get_buffer("1.eps"),
    lambda m: m.set_submodule("5", type(m[0])(1, 1), strict=True), lambda m: m.set_submodule("", type(m[0])(1, 1)),
    lambda m: m.set_submodule("0", 3), lambda m: m.set_submodule("3.x", type(m[0])(1, 1)),
    lambda m: m.set_submodule("0.weight", type(m[0])(1, 1)), lambda m: m.set_submodule("0.in_features", m[0]),
])
def test_lookups_by_path_fail_with_torchs_errors(call: Callable) -> None:
    def build(lib: Any) -> Any:
        return lib.Sequential(lib.Linear(2, 2), lib.BatchNorm1d(2))
    _same_error(lambda: call(build(nn)), lambda: call(build(torch.nn)))


def test_to_empty_keeps_the_objects_shapes_and_dtypes() -> None:
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3)).double()
    params = list(model.parameters())
    assert model.to_empty(device="cpu") is model
    assert all(a is b for a, b in zip(model.parameters(), params))
    reference = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3)).double().to_empty(device="cpu")
    assert [(n, t.shape, str(t.dtype)) for n, t in model.state_dict().items()] == \
        [(n, tuple(t.shape), str(t.dtype).replace("torch.", "")) for n, t in reference.state_dict().items()]
    assert model[0].to_empty(device="cpu", recurse=False) is model[0]
    with pytest.raises(TypeError):
        model.to_empty("cpu")   # device is keyword-only, as torch's


def test_module_type_casts_every_parameter_and_buffer_as_torch() -> None:
    def dtypes(module: Any) -> list[str]:
        return [str(t.dtype).replace("torch.", "") for t in [*module.parameters(), *module.buffers()]]
    ours, theirs = nn.BatchNorm1d(2), torch.nn.BatchNorm1d(2)
    assert ours.type(mg.float64) is ours and dtypes(ours) == dtypes(theirs.type(torch.float64))
    assert "int64" not in dtypes(ours)   # num_batches_tracked cast too, as torch's
    assert dtypes(nn.BatchNorm1d(2).type(mg.DoubleTensor)) == dtypes(torch.nn.BatchNorm1d(2).type(torch.DoubleTensor))
    assert dtypes(nn.BatchNorm1d(2).double()) == dtypes(torch.nn.BatchNorm1d(2).double())   # ints stay
    _same_error(lambda: nn.Linear(1, 1).type(mg.int64), lambda: torch.nn.Linear(1, 1).type(torch.int64))
    with pytest.raises(TypeError, match="nn.Module.to only accepts floating point or complex dtypes"):
        nn.Linear(1, 1).to(mg.int64)


def test_dir_leaves_out_numbered_children_and_training_can_be_deleted() -> None:
    for lib in (nn, torch.nn):
        model = lib.Sequential(lib.Linear(1, 1))
        names = dir(model)
        assert names == sorted(names) and "0" not in names and "forward" in names and "training" in names
        plist = lib.ParameterList([torch.zeros(1) if lib is torch.nn else mg.zeros(1)])
        assert not any(name[0].isdigit() for name in dir(plist))
        del model.training
        assert "training" not in model.__dict__


def test_hook_handles_have_increasing_ids() -> None:
    for module in (nn.Identity(), torch.nn.Identity()):
        first, second = module.register_forward_hook(lambda *a: None), module.register_forward_pre_hook(lambda *a: None)
        assert isinstance(first.id, int) and second.id > first.id


def test_module_list_extend_and_pop_as_torch() -> None:
    _same_error(lambda: nn.ModuleList().extend(3), lambda: torch.nn.ModuleList().extend(3))
    _same_error(lambda: nn.ModuleList().extend(nn.ReLU()), lambda: torch.nn.ModuleList().extend(torch.nn.ReLU()))
    _same_error(lambda: nn.ModuleList().append(3), lambda: torch.nn.ModuleList().append(3))
    for lib in (nn, torch.nn):
        layers = lib.ModuleList([lib.ReLU(), lib.Tanh()])
        assert type(layers.pop(key=0)).__name__ == "ReLU" and len(layers) == 1
        assert type(lib.Sequential(lib.Tanh()).pop(key=-1)).__name__ == "Tanh"


@pytest.mark.parametrize("key", [1, "a.b", "", "training", "update"])
def test_module_dict_refuses_keys_as_torch(key: Any) -> None:
    _same_error(lambda: nn.ModuleDict().__setitem__(key, nn.ReLU()),
                lambda: torch.nn.ModuleDict().__setitem__(key, torch.nn.ReLU()))


def test_parameter_dict_orders_and_errors_as_torch() -> None:
    def keys(lib: Any, values: Any) -> list[str]:
        return list(lib.ParameterDict(values).keys())
    zeros = {nn: mg.zeros, torch.nn: torch.zeros}
    for build in (lambda lib: {"b": zeros[lib](1), "a": zeros[lib](2)},   # a plain dict: sorted keys, as torch's
                  lambda lib: OrderedDict([("b", zeros[lib](1)), ("a", zeros[lib](2))]),
                  lambda lib: [("b", zeros[lib](1)), ("a", zeros[lib](2))]):
        assert keys(nn, build(nn)) == keys(torch.nn, build(torch.nn))
    ours, theirs = nn.ParameterDict(), torch.nn.ParameterDict()
    ours.update({"z": mg.zeros(1), "c": mg.zeros(1)})
    theirs.update({"z": torch.zeros(1), "c": torch.zeros(1)})
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()] == ["c", "z"]
    for call in (lambda d, lib: d.update(3), lambda d, lib: d.update([("a", zeros[lib](1), 3)]),
                 lambda d, lib: d.__setitem__("a.b", zeros[lib](1)),
                 lambda d, lib: d.__setitem__("update", zeros[lib](1))):
        _same_error(lambda call=call: call(ours, nn), lambda call=call: call(theirs, torch.nn))
    for call in (lambda d: d["missing"], lambda d: d.pop("missing")):   # torch's raises an AttributeError
        assert isinstance(_error(lambda call=call: call(ours)), type(_error(lambda call=call: call(theirs))))
        assert isinstance(_error(lambda call=call: call(ours)), KeyError)   # a KeyError too, as a mapping's
    with pytest.raises(KeyError, match=re.escape("attribute 'training' already exists")):
        ours["training"] = mg.zeros(1)   # torch's drops its training flag for it; refused here
    assert ours.training is True
