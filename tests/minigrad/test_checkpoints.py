"""mg.save / mg.load: file objects, PyTorch's spellings, and hostile files (every failure a CheckpointError)."""

from __future__ import annotations

import io
import os
import threading

import numpy as np
import pytest

import minigrad as mg
import nn
from tests.support.bad_checkpoints import CASES


def load_with_timeout(path: os.PathLike, seconds: float = 20.0) -> BaseException | None:
    """mg.load(path) in a daemon thread: a load that blocks (e.g. opening a FIFO) fails the test, never hangs it."""
    outcome: list = []

    def run() -> None:
        try:
            mg.load(path)
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 - handed to the test
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"mg.load({path}) did not return within {seconds} s"
    return outcome[0]


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_file_raises_a_checkpoint_error_naming_file_and_key(case: str, tmp_path) -> None:
    if case == "fifo" and not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    build, words = CASES[case]
    path = build(tmp_path)
    error = load_with_timeout(path)   # a load that hangs (a FIFO, a zip bomb) fails there, after a timeout
    assert isinstance(error, mg.CheckpointError), f"{type(error).__name__}: {error}"
    message = str(error)
    for word in (path.name, *words):
        assert word in message, f"{word!r} missing from: {message}"


def test_a_device_and_a_missing_file(tmp_path) -> None:
    if os.path.exists("/dev/null"):
        error = load_with_timeout("/dev/null")
        assert isinstance(error, mg.CheckpointError) and "/dev/null is a device" in str(error)
    with pytest.raises(mg.CheckpointError, match="missing.npz") as info:
        mg.load(tmp_path / "missing.npz")
    assert isinstance(info.value, FileNotFoundError)   # what torch.load raises, for `except FileNotFoundError`


def test_the_ratio_limit_can_be_lifted_for_a_trusted_file(tmp_path) -> None:
    path = CASES["zip_bomb"][0](tmp_path)
    weight = mg.load(path, max_ratio=None)["weight"]
    assert weight.shape == (8 << 20,) and not weight.numpy().any()
    compressed = tmp_path / "small_zeros.npz"     # small compressed files are never refused for their ratio
    np.savez_compressed(compressed, w=np.zeros(100_000))
    assert mg.load(compressed)["w"].shape == (100_000,)


def test_a_failed_load_leaves_the_model_unchanged(tmp_path) -> None:
    model = nn.Linear(3, 2)
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    good = tmp_path / "good.npz"
    mg.save(model.state_dict(), good)
    data = good.read_bytes()
    bad = tmp_path / "bad.npz"
    bad.write_bytes(data.replace(b"'shape': (2, 3)", b"'shape': (9, 9)"))   # tamper with one header
    with pytest.raises(mg.CheckpointError, match=r"bad.npz: .*key 'weight'"):
        model.load_state_dict(mg.load(bad))
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[key])


def test_save_and_load_through_file_objects(tmp_path) -> None:
    state = {"w": mg.randn(3, 4), "step": 5, "names": ["a", "b"], "pair": (1.5, 2.5)}
    buffer = io.BytesIO()
    assert mg.save(state, buffer) is None
    buffer.seek(0)
    back = mg.load(buffer)
    assert back["step"] == 5 and back["names"] == ["a", "b"] and back["pair"] == (1.5, 2.5)
    np.testing.assert_array_equal(back["w"].numpy(), state["w"].numpy())
    path = tmp_path / "opened.npz"
    with open(path, "wb") as file:
        nn.save(state, file)
    with open(path, "rb") as file:
        assert nn.load(file, map_location="cpu")["step"] == 5
    assert mg.load(path, weights_only=True)["step"] == 5


def test_load_reads_a_stream_that_cannot_seek() -> None:
    buffer = io.BytesIO()
    mg.save({"w": mg.ones(2)}, buffer)

    class Pipe(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, target) -> int:
            chunk = self.data.read(len(target))
            target[:len(chunk)] = chunk
            return len(chunk)

    assert mg.load(Pipe(buffer.getvalue()))["w"].shape == (2,)


def test_file_object_errors_name_the_stream() -> None:
    with pytest.raises(mg.CheckpointError, match="<BytesIO> is not an .npz archive"):
        mg.load(io.BytesIO(b"garbage"))
    with pytest.raises(TypeError, match="f must be a path or a binary file object"):
        mg.load(42)
    with pytest.raises(TypeError, match="give device= or map_location=, not both"):
        mg.load(io.BytesIO(), device="cpu", map_location="cuda")


def test_pytorch_spellings_are_the_nn_ones() -> None:
    assert mg.save is nn.save and mg.load is nn.load and mg.CheckpointError is nn.CheckpointError
    assert issubclass(mg.CheckpointError, ValueError)


def test_save_refuses_what_load_would_refuse(tmp_path) -> None:
    with pytest.raises(TypeError, match=r"key 'when' is an array of dtype datetime64\[D\]"):
        mg.save({"when": np.array(["2026-01-01"], dtype="datetime64[D]")}, tmp_path / "x.npz")
    deep: list = []
    node = deep
    for _ in range(100):
        node.append([])
        node = node[0]
    with pytest.raises(ValueError, match="nested more than 64 containers deep"):
        mg.save({"deep": deep}, tmp_path / "x.npz")
    with pytest.raises(ValueError, match="contains '/'"):
        mg.save({"a/b": mg.ones(1)}, tmp_path / "x.npz")
    assert not os.listdir(tmp_path)


def test_text_mode_files_are_refused_with_the_fix(tmp_path) -> None:
    path = tmp_path / "model.npz"
    text_mode = r"model.npz is open in text mode; open it in binary mode \('wb'\)"
    with open(path, "w") as file, pytest.raises(TypeError, match=text_mode):
        mg.save({"w": mg.ones(2)}, file)
    mg.save({"w": mg.ones(2)}, path)
    with open(path) as file, pytest.raises(TypeError, match=r"open it in binary mode \('rb'\)"):
        mg.load(file)
