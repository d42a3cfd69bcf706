"""Checkpoints keep what ``torch.save``/``torch.load`` keep beyond a tensor's values, found by probing against
PyTorch: ``requires_grad`` (and ``nn.Parameter``), one Tensor saved twice loading as one object, and a view
of another saved tensor loading as a view of it (shared memory); ints beyond int64 and foreign tensors are
refused with errors that name the key and what to do. A tampered sharing entry is refused, never followed.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn


def _round_trip(obj: Any) -> Any:
    buffer = io.BytesIO()
    mg.save(obj, buffer)
    buffer.seek(0)
    return mg.load(buffer)


def _torch_round_trip(torch: Any, obj: Any) -> Any:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return torch.load(buffer)


def test_requires_grad_and_parameters_survive_as_in_torch(torch: Any) -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    p = nn.Parameter(mg.tensor([3.0]))
    theirs = _torch_round_trip(torch, {"x": torch.tensor([1.0, 2.0], requires_grad=True),
                                       "p": torch.nn.Parameter(torch.tensor([3.0])), "c": torch.ones(1)})
    back = _round_trip({"x": x, "p": p, "c": mg.ones(1), "y": x * 2})
    assert back["x"].requires_grad == theirs["x"].requires_grad is True and back["x"].is_leaf
    assert type(back["p"]) is nn.Parameter and type(theirs["p"]) is torch.nn.Parameter and back["p"].requires_grad
    assert back["c"].requires_grad == theirs["c"].requires_grad is False
    assert back["y"].requires_grad and back["y"].is_leaf   # a non-leaf loads as a leaf requiring grad, as torch
    (back["x"] * 3).sum().backward()
    np.testing.assert_array_equal(back["x"].grad.numpy(), [3.0, 3.0])
    model = nn.Linear(2, 2)
    assert all(type(v) is nn.Parameter for v in _round_trip(model.state_dict(keep_vars=True)).values())
    assert not any(v.requires_grad for v in _round_trip(model.state_dict()).values())   # state_dict detaches


def test_shared_tensors_and_views_load_sharing_memory_as_in_torch(torch: Any) -> None:
    base = np.arange(12.0).reshape(3, 4)
    x = mg.tensor(base)
    views = {"rows": lambda t: t[1:, ::-1], "t": lambda t: t.T, "flat": lambda t: t.reshape(12)}
    back = _round_trip({**{k: f(x) for k, f in views.items()}, "x": x, "again": x})   # views before their base
    theirs = _torch_round_trip(torch, {"x": torch.tensor(base), "again": None})
    assert back["again"] is back["x"]
    for key, f in views.items():
        np.testing.assert_array_equal(back[key].numpy(), f(x).numpy())
        assert np.shares_memory(back[key].data, back["x"].data), key
    back["x"].data[2, 3] = -1.0   # as torch's loaded views see a write into their base
    assert back["rows"].numpy()[1, 0] == back["t"].numpy()[3, 2] == back["flat"].numpy()[11] == -1.0
    t = theirs["x"]
    shared = _torch_round_trip(torch, {"x": t, "v": t[1:]})
    shared["x"][1, 0] = -1.0
    assert shared["v"][0, 0] == -1.0
    parts = _round_trip({"a": x[:1], "b": x[1:]})   # views of a tensor that was not saved stay apart
    assert not np.shares_memory(parts["a"].data, parts["b"].data)
    np.testing.assert_array_equal(parts["b"].numpy(), base[1:])


def test_the_archive_still_holds_every_entry_for_numpy() -> None:
    x = mg.tensor(np.arange(6.0))
    buffer = io.BytesIO()
    mg.save({"x": x, "v": x[2:4], "same": x}, buffer)
    buffer.seek(0)
    with np.load(buffer) as data:
        np.testing.assert_array_equal(data["v"], [2.0, 3.0])
        np.testing.assert_array_equal(data["same"], np.arange(6.0))


def _tampered(obj: Any, change: Any) -> io.BytesIO:
    """``obj`` saved, with ``change(layout)`` applied to its JSON layout."""
    buffer = io.BytesIO()
    mg.save(obj, buffer)
    buffer.seek(0)
    out = io.BytesIO()
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "__minigrad__.npy":
                layout = json.loads(str(np.load(io.BytesIO(data))))
                change(layout["root"]["dict"])
                text = io.BytesIO()
                np.save(text, np.asarray(json.dumps(layout)))
                data = text.getvalue()
            target.writestr(name, data)
    out.seek(0)
    return out


@pytest.mark.parametrize("change, message", [
    (lambda items: items[1][1].update(offset=40), "does not fit"),
    (lambda items: items[1][1].update(offset=0), "holds other values"),
    (lambda items: items[1][1].update(strides=[-8]), "holds other values"),
    (lambda items: items[1][1].update(view_of="v"), "malformed"),
    (lambda items: items[0][1].update(view_of="v"), "malformed"),
    (lambda items: items[0][1].update(same_as="v"), "malformed"),
    (lambda items: items[0][1].update(requires_grad=1), "malformed"),
    (lambda items: items[0][1].update(bogus=1), "malformed"),
])
def test_tampered_sharing_entries_are_refused(change: Any, message: str) -> None:
    x = mg.tensor(np.arange(6.0))
    with pytest.raises(mg.CheckpointError, match=message):
        mg.load(_tampered({"x": x, "v": x[1:3]}, change))


def test_requires_grad_on_an_integer_entry_is_refused() -> None:
    def mark(items: list) -> None:
        items[0][1]["requires_grad"] = True
    with pytest.raises(mg.CheckpointError, match="requires_grad but has dtype int64"):
        mg.load(_tampered({"i": mg.tensor([1, 2])}, mark))


def test_unsavable_values_are_named_clearly(torch: Any) -> None:
    assert _round_trip({"big": 2 ** 70, "ids": [1, 2 ** 64]}) == {"big": 2 ** 70, "ids": [1, 2 ** 64]}   # as torch
    with pytest.raises(TypeError, match=r"key 'a', a torch\.Tensor \(convert it with \.numpy\(\) first\)"):
        mg.save({"a": torch.ones(2)}, io.BytesIO())
    assert _round_trip({"ids": [1, -(2 ** 63), 2 ** 63 - 1]}) == {"ids": [1, -(2 ** 63), 2 ** 63 - 1]}
