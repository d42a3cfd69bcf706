"""``mg.load(f, map_location=...)`` in every form ``torch.load`` takes: a device, a dict from the saved location,
and ``fn(storage, location)`` (``lambda storage, loc: storage``, older code's way to load a GPU checkpoint)."""

from __future__ import annotations

import io

import numpy as np
import pytest

import minigrad as mg
import nn


def _saved() -> tuple[io.BytesIO, dict]:
    state = nn.Linear(2, 3).state_dict()
    buffer = io.BytesIO()
    mg.save({"model": state, "epoch": 3}, buffer)
    buffer.seek(0)
    return buffer, state


@pytest.mark.parametrize("where", ["cpu", mg.device("cpu"), {"cuda:0": "cpu"}, {"cpu": "cpu"},
                                   lambda storage, loc: storage, lambda storage, loc: None])
def test_forms_that_keep_tensors_on_the_host(where: object) -> None:
    buffer, state = _saved()
    loaded = mg.load(buffer, map_location=where)
    assert loaded["epoch"] == 3
    for key, value in state.items():
        assert loaded["model"][key].device == "cpu"
        np.testing.assert_array_equal(loaded["model"][key].numpy(), value.numpy())


def test_a_function_sees_each_host_tensor_and_its_location() -> None:
    buffer, state = _saved()
    seen = []
    mg.load(buffer, map_location=lambda storage, loc: seen.append((tuple(storage.shape), loc)))
    assert sorted(seen) == sorted((tuple(v.shape), "cpu") for v in state.values())


def test_a_function_returning_something_else_is_refused() -> None:
    buffer, _ = _saved()
    with pytest.raises(TypeError, match="map_location returned a int"):
        mg.load(buffer, map_location=lambda storage, loc: 3)


@pytest.mark.gpu
@pytest.mark.parametrize("where", ["cuda", {"cpu": "cuda:0"}, lambda storage, loc: storage.cuda()])
def test_forms_that_move_tensors_to_the_gpu(where: object) -> None:
    buffer, state = _saved()
    loaded = mg.load(buffer, map_location=where)
    for key, value in state.items():
        assert loaded["model"][key].device.type == "cuda"
        np.testing.assert_array_equal(loaded["model"][key].numpy(), value.numpy())
