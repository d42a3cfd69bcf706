"""nn.save / nn.load: bit-exact .npz round trips, nesting and scalars, atomic writes, no pickles."""

from __future__ import annotations

import os
import pickle
import zipfile

import numpy as np
import pytest

import minigrad as mg
import nn


def exact(a: mg.Tensor, b: np.ndarray) -> None:
    assert isinstance(a, mg.Tensor)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.numpy().tobytes() == b.tobytes()


def test_state_dict_round_trip_is_bit_exact(tmp_path) -> None:
    odd = np.array([np.nan, -np.inf, np.inf, -0.0, 5e-324, 1e308])
    state = {
        "encoder.weight": mg.randn(4, 3),
        "encoder.bias": mg.randn(3, dtype=mg.float64),
        "odd": mg.tensor(odd),
        "counts": np.arange(6, dtype=np.int64).reshape(2, 3),
        "mask": np.array([True, False]),
        "scalar": mg.tensor(2.5),
        "transposed": np.arange(6.0).reshape(2, 3).T,  # not C-contiguous
    }
    path = nn.save(state, tmp_path / "model.npz")
    assert path == str(tmp_path / "model.npz") and os.listdir(tmp_path) == ["model.npz"]
    loaded = nn.load(path)
    assert list(loaded) == list(state)
    for key, value in state.items():
        expected = value.numpy() if isinstance(value, mg.Tensor) else value
        exact(loaded[key], np.ascontiguousarray(expected) if expected.ndim else expected)


def test_model_and_optimizer_checkpoint(tmp_path) -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    opt = nn.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.8, 0.95))
    model(mg.randn(5, 3)).sum().backward()
    opt.step()
    checkpoint = {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": 1200, "loss": 0.125,
                  "best": float("nan"), "done": False, "name": "run-1", "note": None,
                  "history": [0.5, 0.25], "shape": (3, 4)}
    nn.save(checkpoint, tmp_path / "ck.npz")
    back = nn.load(tmp_path / "ck.npz")
    assert back["step"] == 1200 and type(back["step"]) is int
    assert back["loss"] == 0.125 and np.isnan(back["best"]) and back["done"] is False
    assert back["name"] == "run-1" and back["note"] is None
    assert back["history"] == [0.5, 0.25] and back["shape"] == (3, 4)
    group = back["optimizer"]["param_groups"][0]
    assert group["lr"] == 3e-3 and group["betas"] == (0.8, 0.95) and group["params"] == [0, 1, 2, 3]
    assert back["optimizer"]["state"][0]["step"] == 1
    for key, value in model.state_dict().items():
        exact(back["model"][key], value.numpy())
    # a plain NumPy reader sees slash-joined keys
    with np.load(tmp_path / "ck.npz", allow_pickle=False) as archive:
        assert "model/0.weight" in archive.files and "optimizer/state/0/exp_avg" in archive.files
        assert archive["step"] == 1200


def test_plain_npz_loads_as_nested_dicts(tmp_path) -> None:
    path = tmp_path / "plain.npz"
    np.savez(path, **{"model/w": np.ones(2), "model/b": np.zeros(1), "step": np.array(3)})
    back = nn.load(path)
    assert sorted(back) == ["model", "step"] and sorted(back["model"]) == ["b", "w"]
    exact(back["model"]["w"], np.ones(2))


def test_save_writes_exactly_the_path_and_replaces_atomically(tmp_path, monkeypatch) -> None:
    target = tmp_path / "ck"  # no suffix added, as torch.save
    nn.save({"a": mg.ones(2)}, target)
    assert os.listdir(tmp_path) == ["ck"]
    original = target.read_bytes()
    calls = {"n": 0}
    real = np.lib.format.write_array

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", failing)
    with pytest.raises(OSError, match="disk full"):
        nn.save({"a": mg.zeros(2), "b": mg.zeros(3)}, target)
    assert target.read_bytes() == original  # the old checkpoint is intact
    assert os.listdir(tmp_path) == ["ck"]  # and no temporary file is left behind


def test_save_refuses_what_it_cannot_store(tmp_path) -> None:
    with pytest.raises(TypeError, match=r"key 'model'.*Sequential.*state_dict\(\)"):
        nn.save({"model": nn.Sequential()}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="key 'w' is an object array"):
        nn.save({"w": np.array([{}, 1], dtype=object)}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="cannot save key 'fn'"):
        nn.save({"fn": print}, tmp_path / "x.npz")
    assert not os.listdir(tmp_path)


def test_load_errors_name_the_file_and_the_key(tmp_path) -> None:
    missing = tmp_path / "missing.npz"
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        nn.load(missing)
    text = tmp_path / "notes.npz"
    text.write_text("not an archive")
    with pytest.raises(nn.CheckpointError, match="notes.npz is not an .npz archive"):
        nn.load(text)
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps({"w": np.ones(2)}))  # written, never loaded
    with pytest.raises(nn.CheckpointError, match="model.pkl .*never unpickles"):
        nn.load(pickled)
    single = tmp_path / "one.npy"
    np.save(single, np.ones(2))
    with pytest.raises(nn.CheckpointError, match="one.npy holds a single .npy array"):
        nn.load(single)


def test_object_arrays_are_refused_by_key(tmp_path) -> None:
    path = tmp_path / "evil.npz"
    np.savez(path, fine=np.ones(2), evil=np.array([{"x": 1}, None], dtype=object))  # numpy pickles this one
    with pytest.raises(nn.CheckpointError, match=r"evil.npz: key 'evil' holds an object \(pickled\) array"):
        nn.load(path)


def test_truncated_and_corrupt_files(tmp_path) -> None:
    good = tmp_path / "good.npz"
    nn.save({"weight": mg.randn(64, 64)}, good)
    data = good.read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(nn.CheckpointError, match="truncated.npz .*truncated or corrupt"):
        nn.load(truncated)
    # flip bytes inside the array payload: the zip directory is fine, the member's CRC is not
    corrupt = tmp_path / "corrupt.npz"
    with zipfile.ZipFile(good) as archive:
        offset = archive.getinfo("weight.npy").header_offset + 200
    corrupt.write_bytes(data[:offset] + bytes(b ^ 0xFF for b in data[offset:offset + 64]) + data[offset + 64:])
    with pytest.raises(nn.CheckpointError, match="corrupt.npz: cannot read key 'weight'"):
        nn.load(corrupt)


def test_load_to_device_and_into_a_module(tmp_path) -> None:
    model = nn.Linear(3, 2)
    nn.save(model.state_dict(), tmp_path / "m.npz")
    fresh = nn.Linear(3, 2)
    fresh.load_state_dict(nn.load(tmp_path / "m.npz", device="cpu"))
    np.testing.assert_array_equal(fresh.weight.numpy(), model.weight.numpy())
