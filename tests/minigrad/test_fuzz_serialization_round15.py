"""Round 15: mg.save / mg.load and state round trips, compared with torch.save / torch.load(weights_only=True).

One regression test per root cause the differential fuzzer found (the fuzzer itself lives outside the repo).
"""

from __future__ import annotations

import copy
import io
import json
import zipfile
from collections import OrderedDict
from typing import Any

import numpy as np
import pytest

import minigrad as mg


def mg_round_trip(obj: Any) -> Any:
    buffer = io.BytesIO()
    mg.save(obj, buffer)
    buffer.seek(0)
    return mg.load(buffer)


def torch_round_trip(torch: Any, obj: Any) -> Any:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


# --- OrderedDict (a state dict's type) and its _metadata ---------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: OrderedDict([("b", 1), ("a", 2.5)]),
    lambda: {"outer": OrderedDict([("x", None)]), "plain": {"y": 1}},
    lambda: [OrderedDict(), {}],
])
def test_ordered_dicts_load_as_ordered_dicts(torch: Any, make: Any) -> None:
    def types(obj: Any) -> Any:
        if isinstance(obj, dict):
            return type(obj).__name__, [(k, types(v)) for k, v in obj.items()]
        if isinstance(obj, (list, tuple)):
            return type(obj).__name__, [types(v) for v in obj]
        return type(obj).__name__
    assert types(mg_round_trip(make())) == types(torch_round_trip(torch, make()))


def test_a_state_dicts_metadata_survives_save_and_load(torch: Any) -> None:
    """torch keeps ``_metadata`` (each module's ``_version``); BatchNorm's load_state_dict reads it: a version-2
    state dict without ``num_batches_tracked`` is then a missing key, as in torch."""
    def check(lib: Any, save_load: Any) -> tuple:
        model = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.BatchNorm1d(2))
        state = model.state_dict()
        loaded = save_load(state)
        del loaded["1.num_batches_tracked"]
        missing = model.load_state_dict(loaded, strict=False).missing_keys
        return type(loaded).__name__, dict(loaded._metadata), missing

    ours = check(mg, mg_round_trip)
    theirs = check(torch, lambda obj: torch_round_trip(torch, obj))
    assert ours == theirs


def test_malformed_metadata_is_refused_on_save() -> None:
    state = OrderedDict(w=mg.ones(2))
    state._metadata = {"": object()}
    with pytest.raises(TypeError, match="_metadata of the object"):
        mg.save(state, io.BytesIO())


# --- ints beyond int64 ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [2 ** 63, -(2 ** 63) - 1, 2 ** 70, -(3 ** 200), 1 << 2000,
                                   [1, 2 ** 64], {"ids": (2 ** 100, 5)}], ids=range(7))
def test_ints_beyond_int64_round_trip(torch: Any, value: Any) -> None:
    ours = mg_round_trip({"v": value})
    assert ours == torch_round_trip(torch, {"v": value}) == {"v": value}
    assert type(ours["v"]) is type(value)


def test_text_too_long_for_a_checkpoint_is_refused_on_save_not_on_load() -> None:
    """load refuses a scalar entry over 1 MiB; save used to write one (a checkpoint that never loads)."""
    with pytest.raises(ValueError, match="key 's' is a str of 2,097,152 bytes"):
        mg.save({"s": "a" * (1 << 19)}, io.BytesIO())
    text = "é" * (1 << 18)   # 1 MiB exactly: loads back
    assert mg_round_trip({"s": text}) == {"s": text}


# --- tensors sharing memory -------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda lib: (lambda x: [x, x.expand(3, 4)])(lib.arange(4.0)),
    lambda lib: (lambda x: [x.expand(2, 3, 4), x])(lib.arange(4.0).reshape(1, 4)),
    lambda lib: (lambda x: [x, x[1:].unsqueeze(0).expand(2, 3)])(lib.arange(4.0)),
])
def test_expanded_views_stay_views_of_their_saved_base(torch: Any, make: Any) -> None:
    """An expanded (stride 0) view saved with its base loads as a view of it, as torch's shared storage:
    writing to the base shows through, and writing to the view raises."""
    def outcome(loaded: list, add_: Any) -> tuple:
        base, view = (loaded[0], loaded[1]) if loaded[0].dim() <= loaded[1].dim() else (loaded[1], loaded[0])
        add_(base)
        try:
            add_(view)
            raised = None
        except RuntimeError:
            raised = RuntimeError
        return view.shape, view.numpy().tolist() if isinstance(view, mg.Tensor) else view.tolist(), raised

    ours = outcome(mg_round_trip(make(mg)), lambda t: t.add_(1))
    theirs = outcome(torch_round_trip(torch, make(torch)), lambda t: t.add_(1))
    assert (tuple(ours[0]), ours[1], ours[2]) == (tuple(theirs[0]), theirs[1], theirs[2])
    assert np.shares_memory(*(t.data for t in mg_round_trip(make(mg))))


# --- generator states -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda lib: lib.zeros(3, dtype=lib.uint8),       # the wrong size: RuntimeError
    lambda lib: lib.zeros(2, 64, dtype=lib.uint8),   # the wrong shape: RuntimeError
    lambda lib: lib.zeros(56 if lib is mg else 5056),   # not uint8: TypeError
    lambda lib: [1, 2],                              # not a tensor: TypeError
    lambda lib: {"state": 1},
], ids=["size", "shape", "float", "list", "dict"])
def test_a_bad_generator_state_raises_torchs_class(torch: Any, make: Any) -> None:
    for setter, torch_setter in ((mg.set_rng_state, torch.set_rng_state),
                                 (mg.Generator().set_state, torch.Generator().set_state)):
        with pytest.raises(Exception) as theirs:
            torch_setter(make(torch))
        with pytest.raises(theirs.type, match="uint8 tensor|a state from"):
            setter(make(mg))


def test_generator_states_survive_a_checkpoint() -> None:
    mg.manual_seed(11)
    mg.randn(3)   # a draw leaves a cached normal behind in some generators
    generator = mg.Generator().manual_seed(5)
    mg.rand(2, generator=generator)
    saved = mg_round_trip({"rng": mg.get_rng_state(), "gen": generator.get_state()})
    expected = mg.randn(4).tolist(), mg.rand(4, generator=generator).tolist()
    mg.manual_seed(0)
    mg.set_rng_state(saved["rng"])
    generator = mg.Generator().set_state(saved["gen"])
    assert (mg.randn(4).tolist(), mg.rand(4, generator=generator).tolist()) == expected


# --- dict keys beyond str and int ---------------------------------------------------------------------------------

@pytest.mark.parametrize("obj", [
    {(1, 2): "pair", ("a", (None, 2.5)): 1},
    {1.5: 2, float("inf"): 3, None: 4, True: 5},
    OrderedDict([((0, "w"), [1, 2]), (-0.5, {"x": (1,)})]),
    {("layer", 0): mg.ones(2)},
], ids=["tuples", "scalars", "ordered", "tensor"])
def test_torchs_other_dict_keys_round_trip(torch: Any, obj: Any) -> None:
    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return type(value).__name__, [(k, type(k).__name__, plain(v)) for k, v in value.items()]
        if isinstance(value, (list, tuple)):
            return type(value).__name__, [plain(v) for v in value]
        return value.tolist() if hasattr(value, "tolist") else value
    as_torch = {k: torch.ones(2) if isinstance(v, mg.Tensor) else v for k, v in obj.items()}
    as_torch = type(obj)(as_torch)
    assert plain(mg_round_trip(obj)) == plain(torch_round_trip(torch, as_torch))


def test_unsupported_and_tampered_keys_are_named() -> None:
    with pytest.raises(TypeError, match=r"keys must be strings, ints, bools, floats, None or tuples.*frozenset"):
        mg.save({frozenset({1}): 1}, io.BytesIO())
    with pytest.raises(ValueError, match="contains '/'"):
        mg.save({("a/b", 1): 1}, io.BytesIO())
    with pytest.raises(ValueError, match="deeper than the 196 JSON levels"):
        key: Any = 1
        for _ in range(100):
            key = (key,)
        mg.save({key: 1}, io.BytesIO())


@pytest.mark.parametrize("old, new", [('{"bool": true}', '{"bool": 1}'), ('{"bool": true}', '{"set": [1]}'),
                                      ('{"key": {"bool": true}}', '{"key": 1, "x": 2}')])
def test_a_tampered_key_is_refused(old: str, new: str) -> None:
    buffer = io.BytesIO()
    mg.save({True: 1}, buffer)
    with zipfile.ZipFile(buffer) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    layout = np.load(io.BytesIO(members["__minigrad__.npy"])).item()
    assert old in json.dumps(json.loads(layout))
    text = io.BytesIO()
    np.save(text, np.asarray(json.dumps(json.loads(layout)).replace(old, new)))
    members["__minigrad__.npy"] = text.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    out.seek(0)
    with pytest.raises(mg.CheckpointError, match="malformed.*dict key"):
        mg.load(out)


# --- copy.deepcopy ----------------------------------------------------------------------------------------------

def test_deepcopy_copies_grads_of_tensors_not_of_parameters_and_never_hooks(torch: Any) -> None:
    """torch's Tensor.__deepcopy__ copies ``.grad``, Parameter.__deepcopy__ makes a new Parameter of the
    values (so a copied model has no grads); neither copies hooks."""
    def outcome(lib: Any) -> list:
        leaf = lib.ones(3, requires_grad=True)
        param = lib.nn.Parameter(lib.ones(3))
        model = lib.nn.Linear(2, 1)
        model(lib.ones(1, 2)).sum().backward()
        calls: list = []
        for t in (leaf, param):
            t.grad = lib.full((3,), 5.0)
            t.register_hook(lambda g: g * 2)
            t.register_post_accumulate_grad_hook(lambda p: calls.append(1))
        leaf2, param2, model2 = copy.deepcopy([leaf, param, model])
        grads = [None if t.grad is None else t.grad.tolist() for t in (leaf2, param2, *model2.parameters())]
        for t in (leaf2, param2):
            t.grad = None
            (t * 1).sum().backward()
        return [grads, leaf2.grad.tolist(), param2.grad.tolist(), calls, type(param2).__name__]

    assert outcome(mg) == outcome(torch)


@pytest.mark.parametrize("pick", [
    lambda base: [base, base[0], base.t()],
    lambda base: [base[1:], base],
    lambda base: [base[0], base[1]],                          # views copied together, without their base
    lambda base: [base[0].unsqueeze(0).expand(3, 3), base],  # an expanded view: writing to it raises
])
def test_deepcopy_keeps_views_sharing_memory_as_torch(torch: Any, pick: Any) -> None:
    """torch deep-copies a tensor's storage once per deepcopy: tensors that shared memory still do, with the
    same strides; a Parameter is cloned (it shares nothing)."""
    def outcome(lib: Any) -> list:
        copies = copy.deepcopy(pick(lib.arange(9.0).reshape(3, 3)))
        results = []
        for i, target in enumerate(copies):
            try:
                target.add_(10.0 ** i)
                results.append(None)
            except RuntimeError:
                results.append(RuntimeError)
        return results + [[t.tolist() for t in copies], [tuple(t.stride()) for t in copies]]

    assert outcome(mg) == outcome(torch)
