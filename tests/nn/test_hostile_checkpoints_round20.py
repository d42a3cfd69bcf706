"""Round 20: hostile checkpoint files (fuzzed with /tmp/fuzz20_files.py): view records that reach outside their
storage or inside an element, valid views torch round-trips, and save targets that are loops of links."""

from __future__ import annotations

import errno
import io
import json
import os
import signal
import tracemalloc
import zipfile
from typing import Any

import numpy as np
import pytest

import minigrad as mg

LAYOUT = "__minigrad__"


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def archive(arrays: dict, layout: Any) -> io.BytesIO:
    """An .npz holding ``arrays`` and the layout entry ``layout`` (JSON-able)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for key, array in {**arrays, LAYOUT: np.asarray(json.dumps(layout))}.items():
            z.writestr(key + ".npy", npy(array))
    buffer.seek(0)
    return buffer


def raw_layout(text: str) -> io.BytesIO:
    """An .npz holding only a layout entry of ``text``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(LAYOUT + ".npy", npy(np.asarray(text)))
    buffer.seek(0)
    return buffer


def saved(obj: Any) -> io.BytesIO:
    buffer = io.BytesIO()
    mg.save(obj, buffer)
    buffer.seek(0)
    return buffer


# --- views: whole elements only, a size-1 dim may have any stride --------------------------------------------

@pytest.mark.parametrize("offset, strides", [(1, [4]), (0, [6]), (2, [8]), (10, [-4])])
def test_a_view_inside_an_element_is_refused(offset: int, strides: list) -> None:
    """A crafted view at a byte offset or stride that is not a whole float32 loaded with stride() and
    storage_offset() that were not its own (offset 1 byte reported as 0, stride 6 bytes as 1)."""
    base = np.arange(8, dtype=np.float32)
    stored = np.ndarray((3,), np.float32, buffer=base, offset=offset, strides=tuple(strides)).copy()
    layout = {"format": 1, "root": {"dict": [["b", {"leaf": "b"}], ["v", {"leaf": "v", "kind": "tensor",
                                              "view_of": "b", "offset": offset, "strides": strides}]]}}
    with pytest.raises(mg.CheckpointError, match=r"<BytesIO>: key 'v' claims to be a view of 'b' that does not fit"):
        mg.load(archive({"b": base, "v": stored}, layout))


@pytest.mark.parametrize("pick", [lambda x: x[::100], lambda x: x[3::20], lambda x: x.reshape(2, 5)[:, ::9],
                                  lambda x: x.reshape(10, 1)[7:8, :]])
def test_views_with_a_long_stride_on_a_size_1_dim_round_trip_as_torch(torch: Any, pick: Any) -> None:
    """``x[::100]`` (one element, stride 100 elements, beyond the storage) saved fine but load refused it."""
    ours, theirs = mg.arange(10.0), torch.arange(10.0)
    loaded = mg.load(saved({"x": ours, "v": pick(ours)}))
    buffer = io.BytesIO()
    torch.save({"x": theirs, "v": pick(theirs)}, buffer)
    buffer.seek(0)
    expected = torch.load(buffer)["v"]
    view = loaded["v"]
    assert view.tolist() == expected.tolist()
    assert view.storage_offset() == expected.storage_offset()
    assert view.stride()[-1] == expected.stride()[-1] or view.shape[-1] == 1
    assert np.shares_memory(view.numpy(), loaded["x"].numpy())


def test_arrays_at_a_byte_offset_inside_an_element_save_on_their_own() -> None:
    """NumPy arrays over float32 memory at a byte offset of 2 (or a stride of 6 bytes) were saved as views that
    load refused: they are saved on their own, and the other views of that memory still share it."""
    root = np.arange(10, dtype=np.float32)
    odd = np.ndarray((2,), np.float32, buffer=root, offset=2)
    skew = np.ndarray((2,), np.float32, buffer=root, offset=4, strides=(6,))
    for obj in ({"r": root, "v": odd, "a": root[2:5]}, {"v": odd}, {"v": skew, "a": root[::2]}):
        loaded = mg.load(saved(obj))
        for key, value in obj.items():
            assert loaded[key].numpy().tobytes() == value.tobytes(), key
    loaded = mg.load(saved({"r": root, "v": odd, "a": root[2:5]}))
    assert np.shares_memory(loaded["a"].numpy(), loaded["r"].numpy()) and loaded["a"].storage_offset() == 2


# --- layouts ---------------------------------------------------------------------------------------------------

def test_a_layout_string_of_escaped_quotes_is_read_in_linear_time() -> None:
    """The layout's depth check backtracked quadratically over ``"\\"\\"\\"...`` (20 s for 40 KB of layout,
    hours for the 64 MB allowed): a hostile file hung mg.load. A 400,000-quote layout now fails at once as JSON.
    The alarm is a watchdog for the hang (about a thousand times the time the load takes), not a timing check."""
    layout = '{"format": 1, "root": "' + '\\"' * 400_000

    def hung(*_: Any) -> None:
        raise TimeoutError("mg.load hung on the layout's depth check")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        with pytest.raises(mg.CheckpointError, match="<BytesIO>: the layout entry '__minigrad__' is not valid JSON"):
            mg.load(raw_layout(layout))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("point", [0x110000, 0xFFFFFFFF])
@pytest.mark.parametrize("where", ["leaf", "layout"])
def test_text_beyond_unicode_is_refused(point: int, where: str) -> None:
    """A str entry whose UTF-32 holds a code point past U+10FFFF loaded as a str CPython cannot hold (``s[1]``
    raised SystemError: invalid maximum character passed to PyUnicode_New)."""
    text = np.frombuffer(np.array([ord("a"), point, ord("b")], "<u4").tobytes(), "<U3").reshape(())
    key = "s" if where == "leaf" else LAYOUT
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(f"{key}.npy", npy(text))
        if where == "leaf":
            layout = {"format": 1, "root": {"dict": [["k", {"leaf": "s", "kind": "str"}]]}}
            z.writestr(LAYOUT + ".npy", npy(np.asarray(json.dumps(layout))))
    buffer.seek(0)
    with pytest.raises(mg.CheckpointError, match=f"<BytesIO>: key '{key}' holds text with a code point beyond"):
        mg.load(buffer)
    assert mg.load(saved({"k": "a\U0010ffff\ud800b"}))["k"] == "a\U0010ffff\ud800b"


def test_bool_bytes_other_than_0_and_1_load_as_true() -> None:
    """A tampered bool entry holding bytes 2 and 255 loaded them as is: NumPy reads them as True, but their bytes
    (``.view(uint8)``, ``tobytes()``, a GPU kernel's C bool) were not 1."""
    raw = np.frombuffer(b"\x02\x01\x00\xff", np.bool_).copy()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("m.npy", npy(raw))
    buffer.seek(0)
    loaded = mg.load(buffer)["m"]
    assert loaded.numpy().view(np.uint8).tolist() == [1, 1, 0, 1]
    assert loaded.tolist() == [True, True, False, True]


@pytest.mark.parametrize("other", [np.ones(7, np.int8), np.arange(4.0) + 1, np.arange(4.0).reshape(2, 2)])
def test_an_entry_marked_same_as_another_must_hold_its_values(other: np.ndarray) -> None:
    """A tampered entry marked ``same_as`` an earlier one loaded as that one whatever it held (numpy.load of the
    same file gave its own values): now its values are checked, as a view's are."""
    layout = {"format": 1, "root": {"dict": [["a", {"leaf": "a"}], ["b", {"leaf": "b", "same_as": "a"}]]}}
    with pytest.raises(mg.CheckpointError, match="<BytesIO>: key 'b' is marked as the same tensor as 'a' but holds"):
        mg.load(archive({"a": np.arange(4.0), "b": other}, layout))
    loaded = mg.load(archive({"a": np.arange(4.0), "b": np.arange(4.0)}, layout))
    assert loaded["b"] is loaded["a"]
    tied = mg.arange(3.0)
    loaded = mg.load(saved({"x": tied, "y": [tied, tied[1:]]}))
    assert loaded["y"][0] is loaded["x"] and np.shares_memory(loaded["y"][1].numpy(), loaded["x"].numpy())


def test_a_layout_format_must_be_the_int_1() -> None:
    """``"format": true`` and ``1.0`` (== 1 in Python) loaded as format 1; save writes the int 1 only."""
    for text in ('{"format": true, "root": {"none": true}}', '{"format": 1.0, "root": {"none": true}}'):
        with pytest.raises(mg.CheckpointError, match="<BytesIO>: the layout format .* is not 1"):
            mg.load(raw_layout(text))
    assert mg.load(raw_layout('{"format": 1, "root": {"none": true}}')) is None


# --- memory ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_loading_a_large_entry_holds_it_once(compression: int) -> None:
    """An entry was read in one request, which zipfile answers with copies: loading a tensor peaked at three
    times its size. It is read in 16 MiB chunks now, so the peak is the array plus two chunks."""
    size = 96 << 20
    mg.load(saved({"warm": mg.ones(1)}))   # imports on first use are not the load's memory
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as z:
        z.writestr("w.npy", npy(np.zeros(size // 8)))
    buffer.seek(0)
    tracemalloc.start()
    try:
        loaded = mg.load(buffer, max_ratio=None)   # zeros deflate 1000-fold
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert loaded["w"].shape == (size // 8,)
    assert peak < size * 3 // 2, f"{peak:,} bytes at peak for a {size:,}-byte entry"


# --- save targets ---------------------------------------------------------------------------------------------

def test_saving_to_a_loop_of_links_raises_eloop_as_open_does(tmp_path) -> None:
    """A symlink loop was replaced by a regular file (the links broken); open(path, "wb") and torch.save raise."""
    a, b = tmp_path / "a", tmp_path / "b"
    os.symlink(b, a)
    os.symlink(a, b)
    with pytest.raises(OSError) as info:
        mg.save({"w": mg.ones(2)}, a)
    assert info.value.errno == errno.ELOOP and str(a) in str(info.value)
    assert os.path.islink(a) and os.path.islink(b)
    assert sorted(os.listdir(tmp_path)) == ["a", "b"]


# --- scheduler and GradScaler states ----------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [{"last_epoch": float("inf")}, {"last_epoch": float("nan")},
                                 {"_step_count": float("-inf")}, {"last_epoch": "tensor"}])
def test_a_scheduler_state_with_a_non_finite_epoch_is_refused_whole(bad: dict) -> None:
    """last_epoch=inf raised OverflowError from int(), nan a bare 'cannot convert float NaN to integer', and a
    2-element tensor NotOneElementError: each is a ValueError naming the entry, and nothing changes."""
    if bad.get("last_epoch") == "tensor":
        bad = {"last_epoch": mg.tensor([1, 2])}
    optimizer = mg.optim.SGD([mg.ones(2, requires_grad=True)], lr=0.1)
    scheduler = mg.optim.lr_scheduler.StepLR(optimizer, 2)
    before = repr(scheduler.state_dict())
    key = next(iter(bad))
    with pytest.raises(ValueError, match=f"StepLR.load_state_dict: {key} must be an int"):
        scheduler.load_state_dict({**scheduler.state_dict(), **bad})
    assert repr(scheduler.state_dict()) == before


@pytest.mark.parametrize("bad", [{"scale": "abc"}, {"scale": [1.0]}, {"scale": 2 ** 2000}, {"scale": "tensor"},
                                 {"_growth_tracker": float("nan")}, {"growth_factor": 1 + 0j}])
def test_a_grad_scaler_state_that_is_not_finite_numbers_is_refused_by_name(bad: dict) -> None:
    """float() of the entry escaped as a bare TypeError / OverflowError / NotOneElementError naming nothing."""
    from minigrad.amp import GradScaler

    if bad.get("scale") == "tensor":
        bad = {"scale": mg.ones(2)}
    scaler = GradScaler("cpu", init_scale=4.0)
    state = {**scaler.state_dict(), **bad}
    before = dict(scaler.__dict__)
    key = next(iter(bad))
    with pytest.raises(ValueError, match=f"GradScaler.load_state_dict: {key} must be a finite number"):
        scaler.load_state_dict(state)
    assert {k: repr(v) for k, v in scaler.__dict__.items()} == {k: repr(v) for k, v in before.items()}
