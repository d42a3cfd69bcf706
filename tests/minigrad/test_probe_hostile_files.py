"""mg.save / mg.load against damaged and hostile input: every failure a CheckpointError naming the file and what
is wrong, nothing executed or imported, no partial state; and round trips of everything torch.save keeps."""

from __future__ import annotations

import io
import os
import pickle
import random
import struct
import sys
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn
from tests.support.bad_checkpoints import LAYOUT, npy, npy_header, with_layout, write_zip


def saved(obj: Any) -> bytes:
    buffer = io.BytesIO()
    mg.save(obj, buffer)
    return buffer.getvalue()


def small_checkpoint() -> bytes:
    """A tiny file with one of each kind of entry (~2 KB)."""
    mg.manual_seed(1)
    return saved({"model": nn.Linear(2, 2).state_dict(), "step": 3, "lr": 0.5, "name": "x", "none": None,
                  "ids": [1, 2], "pair": (1.0, 2.0)})


def same(a: Any, b: Any) -> bool:
    """Structure, types, dtypes, shapes, bytes and requires_grad all equal."""
    if isinstance(a, dict):
        return type(b) is type(a) and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, mg.Tensor):
        return type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape \
            and a.requires_grad == b.requires_grad and a.numpy().tobytes() == b.numpy().tobytes()
    return type(a) is type(b) and a == b


def outcome(data: bytes) -> Any:
    """The loaded object, or the CheckpointError; anything else fails the test."""
    try:
        return mg.load(io.BytesIO(data))
    except mg.CheckpointError as error:
        assert "<BytesIO>" in str(error), str(error)
        return error


# --- damaged files --------------------------------------------------------------------------------------------

def test_every_truncation_of_a_small_file_is_a_checkpoint_error(tmp_path) -> None:
    data = small_checkpoint()
    for n in range(len(data)):
        assert isinstance(outcome(data[:n]), mg.CheckpointError), f"a prefix of {n} of {len(data)} bytes loaded"
    path = tmp_path / "cut.npz"
    for n in range(0, len(data), 97):   # from a path too: the message names it
        path.write_bytes(data[:n])
        with pytest.raises(mg.CheckpointError, match="cut.npz"):
            mg.load(path)


@pytest.mark.parametrize("seed", [0, 1])
def test_random_byte_flips_load_the_original_or_raise(seed: int) -> None:
    """A flipped bit either breaks the file (CheckpointError) or sits where it changes nothing (a timestamp):
    never a load of other values, other types or fewer entries."""
    data = small_checkpoint()
    original = mg.load(io.BytesIO(data))
    rng = random.Random(seed)
    for _ in range(200):
        damaged = bytearray(data)
        for _ in range(rng.choice((1, 1, 1, 4))):
            damaged[rng.randrange(len(damaged))] ^= 1 << rng.randrange(8)
        result = outcome(bytes(damaged))
        assert isinstance(result, mg.CheckpointError) or same(original, result), result


def test_a_damaged_zip_directory_never_loads_part_of_the_file() -> None:
    """Python's zipfile stops reading the directory where a damaged entry claims to end it, and lists only the
    members before it; that was a silent partial load (here: 'a' alone, as a plain .npz)."""
    data = bytearray(saved({"a": mg.ones(2), "b": mg.zeros(3), "n": 4}))
    first, end = data.find(b"PK\x01\x02"), data.rfind(b"PK\x05\x06")
    name_length = struct.unpack("<H", data[first + 28:first + 30])[0]
    data[first + 32:first + 34] = struct.pack("<H", end - first - 46 - name_length)   # a comment eating the rest
    assert len(zipfile.ZipFile(io.BytesIO(bytes(data))).infolist()) == 1
    with pytest.raises(mg.CheckpointError, match=r"<BytesIO> is a damaged .npz archive: its zip directory lists 1 "
                                                 r"of the 4 members"):
        mg.load(io.BytesIO(bytes(data)))


def members_of(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def rezip(tmp_path: Path, name: str, members: list[tuple[str, bytes]]) -> Path:
    return write_zip(tmp_path / name, members)


def test_missing_extra_renamed_and_swapped_members(tmp_path) -> None:
    members = members_of(saved({"a": mg.ones(2), "b": {"c": mg.zeros(3)}, "n": 4}))
    cases = {
        "missing.npz": ([m for m in members if m[0] != "b/c.npy"], r"key 'b/c' is listed in the layout but missing"),
        "extra.npz": (members + [("x.npy", npy(np.ones(1)))], r"1 member\(s\) its layout does not use \(\['x'\]\)"),
        "renamed.npz": ([("z.npy" if m[0] == "a.npy" else m[0], m[1]) for m in members],
                        r"key 'a' is listed in the layout but missing"),
        "swapped.npz": ([(m[0], dict(members)["a.npy"] if m[0] == "n.npy" else m[1]) for m in members],
                        r"key 'n' has dtype float32 where its layout entry needs an integer"),
        "twice.npz": (members + [members[0]], r"key 'a' appears twice"),
        "folder_entry.npz": (members + [("sub/", b"")], r"member 'sub/' that is not an .npy array"),
    }
    for name, (edited, message) in cases.items():
        with pytest.raises(mg.CheckpointError, match=f"{name}.*{message}"):
            mg.load(rezip(tmp_path, name, edited))
    # without its layout member the rest is a plain .npz, which loads as nested dicts (numpy.load's view of it)
    plain = mg.load(rezip(tmp_path, "plain.npz", [m for m in members if m[0] != f"{LAYOUT}.npy"]))
    assert sorted(plain) == ["a", "b", "n"] and isinstance(plain["n"], mg.Tensor)


# --- hostile pickles: never unpickled, nothing imported or run ---------------------------------------------------

def hostile_pickles(marker: Path) -> dict[str, bytes]:
    command = f"touch {marker}".encode()
    return {
        "global_os_system": b"cos\nsystem\n(S'" + command + b"'\ntR.",
        "reduce_eval": b"cbuiltins\neval\n(S'__import__(\"colorsys\")'\ntR.",
        "inst": b"(S'" + command + b"'\nios\nsystem\n.",
        "stack_global": b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00\x8c\x08colorsys\x94\x8c\nrgb_to_hsv\x94"
                        b"\x93\x94G?\xf0\x00\x00\x00\x00\x00\x00K\x00K\x00\x87R.",
        "build": b"\x80\x02ccolorsys\nrgb_to_hsv\n)\x81}X\x01\x00\x00\x00a\x4b\x01sb.",
        "deep_nesting": b"\x80\x02" + b"(" * 100_000 + b"t" * 100_000 + b".",
        "recursion_bomb": b"\x80\x02]q\x00h\x00a" + b"]q\x01h\x01a" * 1000 + b".",
        "memo_abuse": b"\x80\x02]r\xff\xff\xff\xff" + b"j\xff\xff\xff\xff" * 10_000 + b".",
        "huge_lengths": b"\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\x7f" + b"X\xff\xff\xff\xff" + b".",
    }


def test_hostile_pickles_are_refused_unread_in_every_container(tmp_path, monkeypatch) -> None:
    """A pickle as a raw file (torch's legacy format), as torch.save's zip (its data.pkl, whichever member comes
    first) and as an object .npy member: each refused before a byte of it is interpreted."""
    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("mg.load unpickled something")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, forbidden)
    marker = tmp_path / "executed"
    imported_before = "colorsys" in sys.modules
    for case, payload in hostile_pickles(marker).items():
        raw = tmp_path / f"{case}.pkl"
        raw.write_bytes(payload)
        with pytest.raises(mg.CheckpointError, match=f"{case}.pkl is not an .npz archive.*never unpickles"):
            mg.load(raw)
        for order in ("version_first", "pickle_first"):
            members = [("archive/version", b"3\n"), ("archive/data.pkl", payload), ("archive/data/0", bytes(8))]
            torch_like = rezip(tmp_path, f"{case}_{order}.pt", members if order == "version_first"
                               else members[1:] + members[:1])
            with pytest.raises(mg.CheckpointError, match=f"{case}_{order}.pt is a PyTorch checkpoint.*never "
                                                         "unpickles.*Convert it once"):
                mg.load(torch_like)
        member = rezip(tmp_path, f"{case}.npz", [("w.npy", npy_header("|O", (1,), payload))])
        with pytest.raises(mg.CheckpointError, match=f"{case}.npz: key 'w' holds an object \\(pickled\\) array"):
            mg.load(member)
        with pytest.raises(mg.CheckpointError, match="<BytesIO>: key 'w' holds an object"):
            mg.load(io.BytesIO(member.read_bytes()))
    assert not marker.exists()
    assert imported_before or "colorsys" not in sys.modules


# --- hostile headers, sizes and layouts -------------------------------------------------------------------------

HEADER_CASES = {
    "negative_shape": (npy_header("<f4", (-2, -2), bytes(16)), r"shape \(-2, -2\), which has a negative dimension"),
    "negative_one": (npy_header("<f4", (-1, 4), bytes(16)), r"shape \(-1, 4\), which has a negative dimension"),
    "int64_overflow": (npy_header("<f4", (2**62, 2**62, 0), b""), r"more bytes than an array can hold"),
    "beyond_int64": (npy_header("<f8", (2**64, 0), b""), r"more bytes than an array can hold"),
    "huge": (npy_header("<f8", (10**12,), bytes(64)), r"8,000,000,000,000 bytes\) but the entry holds 64"),
    "longdouble": (npy_header("<f16", (1,), bytes(16)), r"dtype <f16 .*minigrad's dtypes"),
    "clongdouble": (npy_header("<c32", (1,), bytes(32)), r"dtype <c32 .*minigrad's dtypes"),
    "bytes_dtype": (npy_header("|S4", (1,), bytes(4)), r"dtype \|S4"),
    "void_dtype": (npy_header("|V4", (1,), bytes(4)), r"dtype \|V4"),
    "datetime": (npy_header("<M8[s]", (1,), bytes(8)), r"dtype <M8\[s\]"),
    "subarray": (npy_header("(2,)<f4", (1,), bytes(8)), r"has dtype"),
    "version_3": (b"\x93NUMPY\x03\x00" + bytes(12), r"header of version \(3, 0\)"),
    "header_code": (b"\x93NUMPY\x01\x00\x40\x00{'descr': __import__('os').system('true'), 'shape': (1,)}",
                    r"cannot read key 'w'"),
    "header_length_lie": (b"\x93NUMPY\x02\x00\xf0\xff\xff\xff{", r"cannot read key 'w'"),
    "nested_header": (b"\x93NUMPY\x01\x00\x76\x00" + b"(" * 100 + b")" * 17 + b"\n", r"cannot read key 'w'"),
}


@pytest.mark.parametrize("case", list(HEADER_CASES))
def test_hostile_npy_headers(case: str, tmp_path) -> None:
    member, message = HEADER_CASES[case]
    with pytest.raises(mg.CheckpointError, match=f"{case}.npz: .*{message}"):
        mg.load(rezip(tmp_path, f"{case}.npz", [("w.npy", member)]))


def two_tensors(node: dict, stored: np.ndarray | None = None) -> tuple[dict, dict]:
    layout = {"format": 1, "root": {"dict": [["a", {"leaf": "w"}], ["b", node]]}}
    return layout, {"w": np.ones(2, np.float32), "v": np.ones(1, np.float32) if stored is None else stored}


LAYOUT_CASES = {
    "same_as_list": (two_tensors({"leaf": "v", "kind": "tensor", "same_as": [1]}),
                     r"'same_as' must name an earlier tensor entry, got \[1\]"),
    "same_as_dict": (two_tensors({"leaf": "v", "kind": "tensor", "same_as": {}}), r"'same_as' must name"),
    "stride_overflow": (two_tensors({"leaf": "v", "kind": "tensor", "view_of": "w", "offset": 0,
                                     "strides": [10**30]}), r"key 'v' claims to be a view of 'w' that does not fit"),
    "stride_2_63": (two_tensors({"leaf": "v", "kind": "tensor", "view_of": "w", "offset": 0, "strides": [2**63, 4]},
                                np.ones((1, 2), np.float32)), r"does not fit"),
    "offset_beyond": (two_tensors({"leaf": "v", "kind": "tensor", "view_of": "w", "offset": 2**70, "strides": [4]}),
                      r"does not fit"),
    "negative_offset": (two_tensors({"leaf": "v", "kind": "tensor", "view_of": "w", "offset": -4,
                                     "strides": [4]}), r"does not fit"),
    "duplicate_json_key": ('{"format": 1, "root": {"none": true}, "root": {"leaf": "w"}}',
                           r"not valid JSON: an object names \['root'\] twice"),
    "unused_member": (({"format": 1, "root": {"none": True}}, {"w": np.ones(2)}), r"does not use \(\['w'\]\)"),
    "int_holding_float": (({"format": 1, "root": {"leaf": "w", "kind": "int"}}, {"w": np.array(2.5)}),
                          r"key 'w' has dtype float64 where its layout entry needs an integer"),
    "bytes_holding_floats": (({"format": 1, "root": {"leaf": "w", "kind": "bytes"}}, {"w": np.ones(2)}),
                             r"key 'w' has dtype float64 where its layout entry needs uint8"),
    "huge_int": ('{"format": 1, "root": {"leaf": "w", "kind": "int", "x": ' + "9" * 5000 + "}}", r"not valid JSON"),
}


@pytest.mark.parametrize("case", list(LAYOUT_CASES))
def test_hostile_layouts(case: str, tmp_path) -> None:
    spec, message = LAYOUT_CASES[case]
    layout, arrays = spec if isinstance(spec, tuple) else (spec, {"w": np.ones(2, np.float32)})
    with pytest.raises(mg.CheckpointError, match=f"{case}.npz: .*{message}"):
        mg.load(with_layout(tmp_path / f"{case}.npz", layout, arrays))


def test_a_member_lying_about_its_inflated_size_is_never_inflated_past_it(tmp_path) -> None:
    """A deflated member that says it holds 80 bytes of float64 but inflates to 64 MiB: read up to the declared
    size only (then its CRC fails), whatever max_ratio says."""
    path = tmp_path / "liar.npz"
    header = npy_header("<f8", (10,), b"")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("w.npy", header + bytes(64 << 20))
    data = bytearray(path.read_bytes())
    small = struct.pack("<I", len(header) + 80)
    central = data.rfind(b"PK\x01\x02")
    data[central + 24:central + 28] = small   # uncompressed size in the directory
    data[22:26] = small                        # and in the local header
    path.write_bytes(bytes(data))
    tracemalloc.start()
    try:
        for ratio in (None, 200.0):
            with pytest.raises(mg.CheckpointError, match="liar.npz: cannot read key 'w'"):
                mg.load(path, max_ratio=ratio)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"{peak:,} bytes allocated"


# --- paths and file objects -----------------------------------------------------------------------------------

def test_paths_that_are_not_checkpoints(tmp_path) -> None:
    with pytest.raises(mg.CheckpointError, match=f"{tmp_path} is a folder, not a regular file"):
        mg.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="nowhere.npz"):
        mg.load(tmp_path / "nowhere.npz")
    with pytest.raises(mg.CheckpointError, match=r"invalid file name '.*a\\x00b': it holds a NUL byte"):
        mg.load(str(tmp_path / "a\x00b"))
    for wrong in (os.fsencode(tmp_path / "x.npz"), saved({"w": mg.ones(1)})):
        with pytest.raises(TypeError, match=r"got bytes \(a path: decode it with os.fsdecode.*io.BytesIO"):
            mg.load(wrong)
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    with pytest.raises(mg.CheckpointError, match="empty.npz is not an .npz archive"):
        mg.load(empty)
    if os.geteuid() != 0:   # root reads anything
        locked = tmp_path / "locked.npz"
        mg.save({"w": mg.ones(1)}, locked)
        locked.chmod(0)
        with pytest.raises(mg.CheckpointError, match="cannot open .*locked.npz: Permission denied"):
            mg.load(locked)
    with pytest.raises(ValueError, match=r"invalid file name '.*a\\x00b': it holds a NUL byte"):
        mg.save({"w": mg.ones(1)}, str(tmp_path / "a\x00b"))


def test_file_objects_as_torch_load_takes_them(tmp_path) -> None:
    data = saved({"w": mg.arange(3.0), "n": 2})

    class ReadOnly:   # only read(), as some wrappers give
        def __init__(self) -> None:
            self.stream = io.BytesIO(data)

        def read(self, size: int = -1) -> bytes:
            return self.stream.read(size)

    class TorchStyle(ReadOnly):   # what torch.load asks of a file-like: read, readline, seek, tell
        def readline(self) -> bytes:
            return self.stream.readline()

        def seek(self, *args: int) -> int:
            return self.stream.seek(*args)

        def tell(self) -> int:
            return self.stream.tell()

    for stream in (io.BytesIO(data), ReadOnly(), TorchStyle(), io.BufferedReader(io.BytesIO(data))):
        back = mg.load(stream)
        assert back["n"] == 2 and back["w"].numpy().tolist() == [0.0, 1.0, 2.0]
    path = tmp_path / "w.npz"
    path.write_bytes(data)
    with open(path, "rb") as file:
        assert mg.load(file)["n"] == 2
    closed = io.BytesIO(data)
    closed.close()
    with pytest.raises(ValueError, match="<BytesIO> is closed"):
        mg.load(closed)
    with pytest.raises(ValueError, match="<BytesIO> is closed"):
        mg.save({"w": mg.ones(1)}, closed)
    with open(path, "rb") as file, pytest.raises(io.UnsupportedOperation, match="w.npz is not open for writing"):
        mg.save({"w": mg.ones(1)}, file)
    assert path.read_bytes() == data

    class Sink(io.RawIOBase):   # a stream that cannot seek (a pipe, a socket)
        def __init__(self) -> None:
            self.parts: list[bytes] = []

        def writable(self) -> bool:
            return True

        def write(self, chunk: Any) -> int:
            self.parts.append(bytes(chunk))
            return len(chunk)

    sink = Sink()
    mg.save({"w": mg.arange(3.0), "n": 2}, sink)
    assert mg.load(io.BytesIO(b"".join(sink.parts)))["n"] == 2


# --- no partial state -----------------------------------------------------------------------------------------

def test_a_failed_load_into_a_model_leaves_it_bit_identical() -> None:
    """For every truncation and many flips of a checkpoint of *other* weights: the model ends with all its old
    weights (the load failed) or all the new ones (the damage changed nothing), never a mix."""
    mg.manual_seed(2)
    source, model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2)), nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    data = saved(source.state_dict())
    old = {k: v.numpy().tobytes() for k, v in model.state_dict().items()}
    new = {k: v.numpy().tobytes() for k, v in source.state_dict().items()}
    rng = random.Random(3)
    damaged = [data[:n] for n in range(0, len(data), 7)]
    for _ in range(150):
        flipped = bytearray(data)
        flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        damaged.append(bytes(flipped))
    loaded = 0
    for blob in damaged:
        try:
            model.load_state_dict(mg.load(io.BytesIO(blob)))
            loaded += 1
        except mg.CheckpointError:
            pass
        now = {k: v.numpy().tobytes() for k, v in model.state_dict().items()}
        assert now == (new if loaded else old)
    assert loaded, "no flip landed in a harmless field (the invariant above was not exercised both ways)"


def test_a_loaded_state_that_does_not_fit_changes_nothing(tmp_path) -> None:
    model = nn.Linear(3, 2)
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    for name, state in {"shape.npz": {"weight": mg.zeros(2, 4), "bias": mg.zeros(2)},
                        "text.npz": {"weight": "zeros", "bias": mg.zeros(2)},
                        "missing.npz": {"bias": mg.zeros(2)},
                        "complex.npz": {"weight": mg.zeros(2, 3, dtype=mg.complex64), "bias": mg.zeros(2)}}.items():
        mg.save(state, tmp_path / name)
        with pytest.raises(nn.StateDictError, match="nothing was loaded"):
            model.load_state_dict(mg.load(tmp_path / name))
        for key, value in model.state_dict().items():
            assert value.numpy().tobytes() == before[key].tobytes(), (name, key)


# --- what save refuses (it would not load back as saved) ------------------------------------------------------

def test_save_refuses_what_would_not_load_back(tmp_path) -> None:
    path = tmp_path / "x.npz"
    with pytest.raises(ValueError, match=r"key 'a\\x00b' in the object holds a NUL"):
        mg.save({"a\x00b": mg.ones(1)}, path)   # zip would cut the member name at the NUL
    with pytest.raises(ValueError, match="lone surrogate"):
        mg.save({"\udc80": mg.ones(1)}, path)
    with pytest.raises(ValueError, match=r"key 's' is a str ending in '\\x00'.*s.encode\(\)"):
        mg.save({"s": "ab\x00"}, path)          # NumPy's text arrays drop trailing NULs
    with pytest.raises(TypeError, match=r"key 'w' is an array of dtype float128.*minigrad's dtypes"):
        mg.save({"w": np.ones(2, np.longdouble)}, path)
    assert not os.listdir(tmp_path)


# --- round trips ----------------------------------------------------------------------------------------------

DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32",
          "float64", "complex64", "complex128"]


def test_every_dtype_and_shape_round_trips_bit_exact() -> None:
    state = {}
    for dtype in DTYPES:
        for shape in [(), (0,), (2, 0, 3), (3, 4)]:
            values = (np.arange(int(np.prod(shape))) % 3).astype(dtype).reshape(shape)
            state[f"{dtype}{shape}"] = mg.tensor(values)
            state[f"{dtype}{shape}_array"] = values
    state["big_endian"] = np.arange(3, dtype=">f4")
    state["fortran"] = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    back = mg.load(io.BytesIO(saved(state)))
    for key, value in state.items():
        expected = np.array(value.numpy() if isinstance(value, mg.Tensor) else value, order="C")
        got = back[key].numpy()
        assert got.dtype == expected.dtype.newbyteorder("=") and got.shape == expected.shape, key
        assert np.array_equal(got, expected) and got.dtype.isnative, key


def test_scalars_and_containers_torch_weights_only_accepts() -> None:
    obj = {"int": -(2**63), "float": float("inf"), "complex": 1.5 - 2j, "str": "ünï☃", "empty": "", "bytes": b"\x00ab",
           "bytearray": bytearray(b"\xff\x00"), "none": None, "bool": True, 3: "int key", "list": [1, 2.5, "s"],
           "tuple": (mg.ones(1), []), "nested": {"a": {"b": [(), {}]}},
           "numpy_scalars": [np.float16(1.5), np.int32(3), np.bool_(False), np.complex64(1j), np.bytes_(b"z")]}
    back = mg.load(io.BytesIO(saved(obj)))
    expected = {**obj, "numpy_scalars": [1.5, 3, False, 1j, b"z"]}
    assert same(expected, back)


def signature(obj: Any, is_tensor: Any, describe: Any, tensors: list) -> Any:
    """A library-neutral picture of a loaded object: containers and scalars as they are, each tensor as
    (class, requires_grad, dtype, shape, values, index of the first identical object)."""
    if isinstance(obj, dict):
        return {k: signature(v, is_tensor, describe, tensors) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(signature(v, is_tensor, describe, tensors) for v in obj)
    if is_tensor(obj):
        first = next((i for i, t in enumerate(tensors) if t is obj), len(tensors))
        tensors.append(obj)
        return (*describe(obj), first)
    return obj


def test_same_structure_as_torch_save_and_load(torch) -> None:
    """torch.save + torch.load(weights_only=True) and mg.save + mg.load give the same object: Parameters stay
    Parameters, requires_grad stays, one tensor saved twice is one object, a view shares its base's memory."""
    def build(lib: Any, parameter: Any) -> dict:
        base = lib.arange(12.0).reshape(3, 4)
        return {"base": base, "T": base.T, "row": base[1], "again": base, "p": parameter(lib.ones(2)),
                "rg": lib.ones(2, requires_grad=True), "n": 3, "f": 0.5, "c": 1j, "s": "x", "b": b"ab",
                "none": None, "ints": [1, 2], "pair": (1.0, 2.0), "empty": lib.zeros(0, 3), "zero_d": lib.tensor(5),
                "deep": [[{"k": (lib.ones(1, dtype=lib.float64),)}]]}

    buffer = io.BytesIO()
    torch.save(build(torch, torch.nn.Parameter), buffer)
    buffer.seek(0)
    theirs = torch.load(buffer, weights_only=True)
    ours = mg.load(io.BytesIO(saved(build(mg, nn.Parameter))))

    def describe_torch(t: Any) -> tuple:
        return (type(t).__name__, t.requires_grad, str(t.dtype).replace("torch.", ""), tuple(t.shape),
                t.detach().numpy().tolist())

    def describe_ours(t: mg.Tensor) -> tuple:
        return (type(t).__name__, t.requires_grad, str(t.dtype), t.shape, t.numpy().tolist())

    assert signature(ours, lambda t: isinstance(t, mg.Tensor), describe_ours, []) == \
        signature(theirs, torch.is_tensor, describe_torch, [])
    for view in ("T", "row"):
        assert theirs[view].untyped_storage().data_ptr() == theirs["base"].untyped_storage().data_ptr()
        assert np.shares_memory(ours[view].numpy(), ours["base"].numpy())
    ours["base"][0, 0] = 100.0   # a write through the base shows in its views, as in torch
    assert ours["T"].numpy()[0, 0] == 100.0


def test_optimizer_and_model_checkpoint_resumes(tmp_path) -> None:
    mg.manual_seed(4)
    model = nn.Linear(2, 3)
    opt = nn.optim.Adam(model.parameters(), lr=1e-3)
    model(mg.randn(4, 2)).sum().backward()
    opt.step()
    mg.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 1}, tmp_path / "ck.pt")
    back = mg.load(tmp_path / "ck.pt")
    fresh = nn.Linear(2, 3)
    fresh.load_state_dict(back["model"])
    resumed = nn.optim.Adam(fresh.parameters(), lr=1e-3)
    resumed.load_state_dict(back["optimizer"])
    assert same(opt.state_dict(), resumed.state_dict()) and back["epoch"] == 1
    assert fresh.weight.numpy().tobytes() == model.weight.numpy().tobytes()


def test_a_device_error_while_loading_is_not_blamed_on_the_file(monkeypatch) -> None:
    """Placing an array (on a GPU that is full, say) can fail; that error passes through as it is, while every
    failure of the file itself is a CheckpointError."""
    data = saved({"w": mg.ones(2)})

    def full(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("out of device memory")

    monkeypatch.setattr(mg.Tensor, "_make", staticmethod(full))
    with pytest.raises(RuntimeError, match="out of device memory") as info:
        mg.load(io.BytesIO(data))
    assert not isinstance(info.value, mg.CheckpointError)


def test_a_stream_is_read_from_where_it_stands() -> None:
    """As torch.load: the archive is the one at the stream's position. zipfile finds an archive from the stream's
    end, so two checkpoints saved one after the other loaded the second from position 0, silently."""
    stream = io.BytesIO(b"header")
    stream.seek(6)
    mg.save({"a": 1}, stream)
    second = stream.tell()
    mg.save({"a": 2}, stream)
    stream.seek(second)
    assert mg.load(stream) == {"a": 2}
    for position in (0, 6):
        stream.seek(position)
        with pytest.raises(mg.CheckpointError, match=f"<BytesIO> holds other data at .*begins at byte {second:,} "
                                                     r"\(two checkpoints saved one after the other"):
            mg.load(stream)
    alone = io.BytesIO(b"header")
    alone.seek(6)
    mg.save({"a": 3}, alone)
    alone.seek(6)
    assert mg.load(alone) == {"a": 3}
    alone.seek(9)
    with pytest.raises(mg.CheckpointError, match="read from position 9, inside the .npz archive that begins at "
                                                 "byte 6"):
        mg.load(alone)
