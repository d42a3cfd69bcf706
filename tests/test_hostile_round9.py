"""Round 9 of hostile input: damaged checkpoint files (Hypothesis mutations, nesting bombs, real PyTorch files),
saves that fail or meet symlinks and private files, hostile state dicts (the model unchanged after any error), and
threads (compiled functions, grad mode, DataLoader workers and the shared global generator)."""

from __future__ import annotations

import io
import os
import stat
import sys
import tempfile
import threading
import tracemalloc
import warnings
import zipfile
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_limits

import minigrad as mg
import nn
from minigrad.utils.data import DataLoader, Dataset

FEW = settings(max_examples=40, deadline=None, derandomize=True,
               suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def saved(obj: Any) -> bytes:
    buffer = io.BytesIO()
    mg.save(obj, buffer)
    return buffer.getvalue()


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _sources() -> list[bytes]:
    mg.manual_seed(0)
    shared = mg.randn(4, 4)
    deflated = io.BytesIO()
    np.savez_compressed(deflated, a=np.arange(50.0), b=np.ones((3, 3), np.int32))
    return [saved({"model": nn.Linear(3, 2).state_dict(), "step": 3, "lr": 0.5, "name": "x", "none": None,
                   "ids": [1, 2], "pair": (1.0, 2.0), "raw": b"ab"}),
            saved({"w": shared, "view": shared[1:3], "again": shared, "p": nn.Parameter(mg.ones(2))}),
            deflated.getvalue()]


SOURCES = _sources()


@st.composite
def damaged(draw: Callable) -> bytes:
    """One of the sources with 1-4 flips, truncations, insertions, deletions, swaps or 32-bit overwrites."""
    data = bytearray(SOURCES[draw(st.integers(0, len(SOURCES) - 1))])
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        how = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "swap", "word"]))
        if how == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif how == "truncate":
            del data[at:]
        elif how == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif how == "delete":
            del data[at:at + draw(st.integers(1, 16))]
        elif how == "swap":
            other, size = draw(st.integers(0, len(data) - 1)), draw(st.integers(1, 64))
            a, b = bytes(data[at:at + size]), bytes(data[other:other + size])
            if len(a) == len(b):
                data[at:at + size], data[other:other + size] = b, a
        else:   # sizes, offsets and counts of the zip records set to extremes
            word = draw(st.sampled_from([0, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 1 << 20]))
            data[at:at + 4] = word.to_bytes(4, "little")
    return bytes(data)


# --- files ------------------------------------------------------------------------------------------------------

@FEW
@given(damaged())
def test_a_damaged_file_loads_or_raises_a_checkpoint_error_without_allocating_much(data: bytes) -> None:
    tracemalloc.start()
    try:
        mg.load(io.BytesIO(data))
    except mg.CheckpointError as error:
        assert "<BytesIO>" in str(error), str(error)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < 32 << 20, f"{peak:,} bytes allocated"


def test_a_plain_npz_nested_deeper_than_save_writes_is_refused() -> None:
    """A plain .npz's keys nest on '/': a 65-part key (save refuses what it would give) is a nesting bomb; a
    zip member name may hold 32,000 parts, whose dicts then break repr, deepcopy and save."""
    for parts, loads in ((64, True), (65, False), (20_000, False)):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("/".join(["a"] * parts) + ".npy", npy(np.ones(1)))
        if loads:
            mg.save(mg.load(io.BytesIO(buffer.getvalue())), io.BytesIO())   # loads and saves back
        else:
            with pytest.raises(mg.CheckpointError, match=f"<BytesIO>: key 'a/a/.* has {parts} parts between "
                                                         "'/'s: nested more than 64 containers deep"):
                mg.load(io.BytesIO(buffer.getvalue()))


def test_real_pytorch_files_are_refused_unread(torch, tmp_path) -> None:
    model = torch.nn.Linear(2, 2)
    torch.save(model.state_dict(), tmp_path / "zip.pt")
    torch.save(model.state_dict(), tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(mg.CheckpointError, match=r"zip.pt is a PyTorch checkpoint .*never unpickles.*Convert it"):
        mg.load(tmp_path / "zip.pt")
    with pytest.raises(mg.CheckpointError, match=r"legacy.pt is not an .npz archive .*never unpickles"):
        mg.load(tmp_path / "legacy.pt")


def test_non_ascii_paths_folders_and_missing_files(tmp_path) -> None:
    path = tmp_path / "modèle_日本.npz"
    mg.save({"w": mg.arange(3.0)}, path)
    np.testing.assert_array_equal(mg.load(path)["w"].numpy(), [0.0, 1.0, 2.0])
    with pytest.raises(FileNotFoundError, match="nö_such.npz"):
        mg.load(tmp_path / "nö_such.npz")
    with pytest.raises(mg.CheckpointError, match="is a folder, not a regular file"):
        mg.load(tmp_path)


def test_a_save_that_fails_half_way_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch) -> None:
    path = tmp_path / "ckpt.npz"
    mg.save({"w": mg.ones(3)}, path)
    before = path.read_bytes()
    write = np.lib.format.write_array
    calls = []

    def disk_full(file: Any, array: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 2:
            file.write(b"x" * 100)
            raise OSError(28, "No space left on device")
        write(file, array, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", disk_full)
    with pytest.raises(OSError, match="No space left"):
        mg.save({"w": mg.zeros(3), "v": mg.zeros(2)}, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["ckpt.npz"]


def test_a_folder_that_takes_no_new_file_is_named_not_the_temporary(tmp_path, monkeypatch) -> None:
    def refused(*args: Any, **kwargs: Any) -> None:
        raise PermissionError(13, "Permission denied", str(tmp_path / "ckpt.npz.x1y2.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    with pytest.raises(PermissionError, match=f"cannot write {tmp_path}/ckpt.npz: cannot create a file in "
                                              f"{tmp_path}: Permission denied") as caught:
        mg.save({"w": mg.ones(1)}, tmp_path / "ckpt.npz")
    assert caught.value.filename == str(tmp_path / "ckpt.npz")


def test_a_save_writes_through_a_symlink_and_keeps_a_files_permissions(tmp_path) -> None:
    """As open(path, 'wb') (torch.save): the link stays a link to the new checkpoint, and a private (0600) file
    stays private; a new file gets the usual permissions."""
    (tmp_path / "runs").mkdir()
    target = tmp_path / "runs" / "step100.npz"
    mg.save({"w": mg.ones(1)}, target)
    target.chmod(0o600)
    link = tmp_path / "latest.npz"
    link.symlink_to(target)
    mg.save({"w": mg.ones(5)}, link)
    assert link.is_symlink() and mg.load(target)["w"].shape == (5,)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    fresh = tmp_path / "fresh.npz"
    mg.save({"w": mg.ones(1)}, fresh)
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~mask


def test_a_save_to_a_fifo_writes_into_it_and_never_replaces_it(tmp_path) -> None:
    """As open(path, 'wb'): a FIFO (or a device: mg.save(obj, '/dev/null') as root replaced /dev/null with a
    regular file, the atomic rename put the temporary file in its place) is written to and stays what it was."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    mg.save({"w": mg.arange(3.0)}, fifo)
    reader.join(timeout=10)
    assert stat.S_ISFIFO(fifo.stat().st_mode) and os.listdir(tmp_path) == ["pipe"]
    np.testing.assert_array_equal(mg.load(io.BytesIO(received[0]))["w"].numpy(), [0.0, 1.0, 2.0])


# --- load_state_dict --------------------------------------------------------------------------------------------

class Extra(nn.Module):
    """A Linear, a BatchNorm (an int buffer) and an extra state that must be an int."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 2)
        self.norm = nn.BatchNorm1d(2)
        self.count = 0

    def get_extra_state(self) -> int:
        return self.count

    def set_extra_state(self, state: Any) -> None:
        if not isinstance(state, int):
            raise TypeError(f"Extra: the extra state must be an int, got {type(state).__name__}")
        self.count = state


def snapshot(module: nn.Module) -> dict:
    state = {k: (v.numpy().copy(), v.dtype) if isinstance(v, mg.Tensor) else v for k, v in module.state_dict().items()}
    state["grads"] = [None if p.grad is None else p.grad.numpy().copy() for p in module.parameters()]
    return state


def unchanged(before: dict, after: dict) -> bool:
    def equal(a: Any, b: Any) -> bool:
        if isinstance(a, tuple):
            return a[1] == b[1] and np.array_equal(a[0], b[0], equal_nan=True)
        if isinstance(a, list):
            return len(a) == len(b) and all(x is y is None or np.array_equal(x, y) for x, y in zip(a, b))
        return a == b
    return before.keys() == after.keys() and all(equal(before[k], after[k]) for k in before)


HOSTILE_VALUES = {
    "string": "abc", "none": None, "object": np.array([1, None], dtype=object), "complex": np.ones(2, np.complex64),
    "text": np.array(["a", "b"]), "dates": np.array([1, 2], "M8[s]"), "wrong_shape": np.ones(7, np.float32),
    "ragged": [[1.0], [1.0, 2.0]],
}


@FEW
@given(st.dictionaries(st.sampled_from(["lin.weight", "lin.bias", "norm.weight", "norm.running_mean",
                                        "norm.num_batches_tracked", "_extra_state", "lin.nope", 0]),
                       st.sampled_from(sorted(HOSTILE_VALUES)), min_size=1, max_size=4),
       st.booleans(), st.booleans())
def test_a_hostile_state_dict_changes_nothing(bad: dict, strict: bool, assign: bool) -> None:
    """A good state dict with some keys replaced by hostile values (or an int key, or an extra state that
    set_extra_state refuses): any error leaves every parameter, buffer, gradient and the extra state as they were."""
    mg.manual_seed(1)
    model = Extra()
    for p in model.parameters():
        p.grad = mg.ones(*p.shape)
    good = {k: v.numpy() * 0 + 7 if isinstance(v, mg.Tensor) else 5 for k, v in model.state_dict().items()}
    state = {**good, **{k: HOSTILE_VALUES[v] for k, v in bad.items()}}
    before = snapshot(model)
    try:
        model.load_state_dict(state, strict=strict, assign=assign)
    except (TypeError, ValueError, RuntimeError):
        assert unchanged(before, snapshot(model))
    else:   # only a key the model does not have, and strict=False ignores it
        assert set(bad) == {"lin.nope"} and not strict


def test_set_extra_state_raising_after_the_arrays_were_copied_puts_them_back() -> None:
    """The arrays are copied before the extra states are set: one set_extra_state that raises undoes both the
    arrays and the extra states set before it (PyTorch happens to set a parent's extra state first)."""
    class Two(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = Extra(), Extra()

    model = Two()
    state = {k: v.numpy() + 1 if isinstance(v, mg.Tensor) else 3 for k, v in model.state_dict().items()}
    state["b._extra_state"] = "three"
    before = snapshot(model)
    with pytest.raises(TypeError, match="the extra state must be an int, got str"):
        model.load_state_dict(state)
    assert unchanged(before, snapshot(model)) and model.a.count == 0


def test_keys_must_be_strings() -> None:
    model = nn.Sequential(nn.Linear(2, 2))
    state = {**model.state_dict(), 0: mg.ones(1)}
    for strict in (True, False):
        with pytest.raises(TypeError, match=r"Sequential.load_state_dict: state dict keys must be strings .*got 0 "
                                            r"\(int\); nothing was loaded"):
            model.load_state_dict(state, strict=strict)


def test_assign_refuses_an_integer_array_for_a_parameter_that_requires_grad(torch) -> None:
    """As PyTorch ('Only Tensors of floating point and complex dtype can require gradients'); a buffer takes it."""
    model = nn.Linear(2, 2)
    with pytest.raises(nn.StateDictError, match="weight: dtype int64 cannot be assigned to a tensor that requires"):
        model.load_state_dict({"weight": np.ones((2, 2), np.int64), "bias": np.zeros(2, np.float32)}, assign=True)
    assert model.weight.dtype == np.float32 and model.weight.requires_grad
    theirs = torch.nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match="floating point and complex dtype can require gradients"):
        theirs.load_state_dict({"weight": torch.ones(2, 2, dtype=torch.int64), "bias": torch.zeros(2)}, assign=True)
    norm = nn.BatchNorm1d(2)
    state = {k: v.numpy() for k, v in norm.state_dict().items()}
    norm.load_state_dict({**state, "running_mean": np.ones(2, np.int64)}, assign=True)
    assert norm.running_mean.dtype == np.int64


def test_values_torch_accepts_load_as_torch_loads_them(torch) -> None:
    """An int array into float weights (cast), NaNs, a transposed view, a tensor that requires grad, a PyTorch
    tensor: the same parameters as torch's load_state_dict gives."""
    ours, theirs = nn.Linear(3, 2), torch.nn.Linear(3, 2)
    weight = np.arange(6, dtype=np.int64).reshape(2, 3)
    for value in (weight, mg.tensor(weight.T.astype(np.float64)).T, mg.tensor(weight, dtype=mg.float32,
                                                                              requires_grad=False)):
        bias = mg.tensor([np.nan, 1.0], requires_grad=True)
        ours.load_state_dict({"weight": value, "bias": bias})
        theirs.load_state_dict({"weight": torch.tensor(weight), "bias": torch.tensor([np.nan, 1.0])})
        np.testing.assert_array_equal(ours.weight.numpy(), theirs.weight.detach().numpy())
        np.testing.assert_array_equal(ours.bias.numpy(), theirs.bias.detach().numpy())
        assert ours.weight.dtype == np.float32 and ours.weight.requires_grad and ours.weight.is_leaf
    ours.load_state_dict({k: v for k, v in theirs.state_dict().items()})
    np.testing.assert_array_equal(ours.weight.numpy(), theirs.weight.detach().numpy())


def test_optimizer_state_dicts_that_do_not_fit_change_nothing() -> None:
    mg.manual_seed(2)
    a, b = nn.Linear(2, 2), nn.Linear(3, 1)
    opt = nn.optim.Adam([{"params": a.parameters()}, {"params": b.parameters(), "lr": 0.1}])
    for p in [*a.parameters(), *b.parameters()]:
        p.grad = mg.ones(*p.shape)
    opt.step()
    state = opt.state_dict()
    groups = [dict(g) for g in state["param_groups"]]
    shorter = [dict(groups[0]), {**groups[1], "params": groups[1]["params"][:1]}]
    bad_state = {0: {**state["state"][0], "exp_avg": mg.ones(7)}, **{k: v for k, v in state["state"].items() if k}}
    before = ([g["lr"] for g in opt.param_groups], {k: np.array(v["exp_avg"].numpy()) for k, v in
                                                   opt.state_dict()["state"].items()})
    cases = [({"state": state["state"], "param_groups": groups[:1]}, "1 parameter group"),
             ({"state": state["state"], "param_groups": shorter}, r"param_groups\[1\] has 1 parameters"),
             ({"state": state["state"]}, "expected a dict with 'state' and 'param_groups'"),
             ({"state": bad_state, "param_groups": groups}, r"exp_avg'\]: shape \(7,\)"),
             ({"state": state["state"], "param_groups": [{**groups[0], "lr": "fast"}, groups[1]]},
              "invalid learning rate")]
    for bad, message in cases:
        with pytest.raises(ValueError, match=f"Adam.load_state_dict: .*{message}|{message}.*nothing was loaded"):
            opt.load_state_dict(bad)
        after = ([g["lr"] for g in opt.param_groups], {k: np.array(v["exp_avg"].numpy()) for k, v in
                                                      opt.state_dict()["state"].items()})
        assert after[0] == before[0] and all(np.array_equal(after[1][k], before[1][k]) for k in before[1])


# --- threads ----------------------------------------------------------------------------------------------------

def _in_threads(*targets: Callable[[], Any]) -> list:
    results: list = [None] * len(targets)
    errors: list = []

    def run(i: int, target: Callable[[], Any]) -> None:
        try:
            results[i] = target()
        except BaseException as error:  # noqa: BLE001 - re-raised in the main thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i, t)) for i, t in enumerate(targets)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    if errors:
        raise errors[0]
    return results


def test_one_compiled_function_called_from_four_threads_at_once_matches_eager() -> None:
    """First calls race to capture (several shapes and a static int, so several captures at once); every
    output and gradient equals eager mode's, bit for bit."""
    mg.manual_seed(3)
    weight = mg.randn(8, 8, requires_grad=True)

    def fn(x: mg.Tensor, y: mg.Tensor, steps: int) -> mg.Tensor:
        h = x
        for _ in range(steps):
            h = (h @ weight).tanh()
        return (h * y).sum(dim=1)

    inputs = {b: (mg.randn(b, 8), mg.randn(b, 8)) for b in (2, 3, 4, 5)}
    with threadpool_limits(1):
        def run(b: int, k: int) -> tuple:
            out = fn(*inputs[b], k)
            return out.numpy(), mg.autograd.grad(out.sum(), [weight])[0].numpy()
        expected = {(b, k): run(b, k) for b in inputs for k in (1, 2)}
        compiled = mg.compile(fn)
        start = threading.Barrier(4)

        def work(t: int) -> list:
            start.wait()
            got = []
            for i in range(8):
                b, k = (2, 3, 4, 5)[(t + i) % 4], 1 + i % 2
                out = compiled(*inputs[b], k)
                got.append(((b, k), out.numpy(), mg.autograd.grad(out.sum(), [weight])[0].numpy()))
            return got

        for got in _in_threads(*[lambda t=t: work(t) for t in range(4)]):
            for key, out, grad in got:
                np.testing.assert_array_equal(out, expected[key][0])
                np.testing.assert_array_equal(grad, expected[key][1])


def test_no_grad_in_one_thread_does_not_reach_a_compiled_call_in_another() -> None:
    weight = mg.randn(4, 4, requires_grad=True)
    compiled = mg.compile(lambda x: (x @ weight).tanh().sum())
    x = mg.randn(3, 4)
    start = threading.Barrier(2)

    def without() -> set:
        start.wait()
        with mg.no_grad():
            return {compiled(x).requires_grad for _ in range(20)}

    def with_grad() -> set:
        start.wait()
        flags = set()
        for _ in range(20):
            out = compiled(x)
            flags.add(out.requires_grad)
            out.backward()
        return flags

    assert _in_threads(without, with_grad) == [{False}, {True}]


class Noisy(Dataset):
    """Items drawn from mg's generator: inside a DataLoader worker from that worker's own stream."""

    def __len__(self) -> int:
        return 20

    def __getitem__(self, i: int) -> tuple:
        return mg.tensor(np.full(3, i, np.float32)) + mg.rand(3), mg.tensor(i % 2)


def _train(seed: int, workers: int) -> list:
    generator = mg.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))
    with mg.no_grad():
        for p in model.parameters():
            p.copy_(mg.randn(*p.shape, generator=generator) * 0.3)
    optimizer = nn.optim.Adam(model.parameters(), lr=0.01)
    loader = DataLoader(Noisy(), batch_size=5, shuffle=True, generator=generator, num_workers=workers)
    for _ in range(2):
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
    return [p.numpy().copy() for p in model.parameters()]


def test_two_models_trained_in_two_threads_with_dataloader_workers_equal_sequential_runs() -> None:
    """Each loader's workers draw from their own streams (seeded by the loader's generator), so two threads
    training at once give the sequential runs' parameters bit for bit."""
    with threadpool_limits(1):
        sequential = [_train(1, 2), _train(2, 2)]
        threaded = _in_threads(lambda: _train(1, 2), lambda: _train(2, 2))
    for seq, par in zip(sequential, threaded):
        for a, b in zip(seq, par):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(sequential[0][0], sequential[1][0])


def test_the_global_generator_is_shared_by_threads_as_torchs(torch) -> None:
    """mg.manual_seed in one thread reseeds the stream every thread draws from, as torch.manual_seed does (its
    default generator is process-wide); per-thread streams are mg.Generator objects."""
    def reseeded_elsewhere(lib: Any) -> bool:
        lib.manual_seed(5)
        first = np.asarray(lib.randn(2)).copy()
        lib.manual_seed(5)
        lib.randn(2)
        _in_threads(lambda: lib.manual_seed(5))
        return np.array_equal(first, np.asarray(lib.randn(2)))

    assert reseeded_elsewhere(mg) and reseeded_elsewhere(torch)
    own = _in_threads(lambda: mg.randn(3, generator=mg.Generator().manual_seed(7)).numpy(),
                      lambda: mg.randn(3, generator=mg.Generator().manual_seed(7)).numpy())
    np.testing.assert_array_equal(*own)


def test_another_threads_in_place_ops_do_not_make_a_capture_run_eagerly() -> None:
    """A capture watched a global in-place counter: an optimizer step in another thread during it made the
    function run eagerly for good, warning that it 'changes a tensor in place'. Now each thread's own count."""
    weight = mg.randn(16, 16, requires_grad=True)

    def deep(x: mg.Tensor) -> mg.Tensor:
        h = x
        for _ in range(300):
            h = (h @ weight).tanh()
        return h.sum()

    compiled = mg.compile(deep)
    capturing, done = threading.Event(), threading.Event()
    counter = mg.zeros(4)

    def other() -> int:
        capturing.wait()
        bumps = 0
        while not done.is_set():
            counter.add_(1.0)
            bumps += 1
        return bumps

    def capture() -> None:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                capturing.set()
                compiled(mg.randn(2, 16)).backward()
            assert not [w for w in caught if "in place" in str(w.message)]
        finally:
            done.set()

    bumps = _in_threads(other, capture)[0]
    assert bumps > 0 and compiled.programs and not compiled.eager

    def changes(x: mg.Tensor) -> mg.Tensor:
        with mg.no_grad():
            counter.add_(1.0)
        return (x * 2).sum()

    before = counter.data.copy()
    compiled = mg.compile(changes)
    for _ in range(4):   # fn's own are still seen: captured, and each replay writes once, as eager
        compiled(mg.ones(2))
    assert np.array_equal(counter.data, before + 4) and compiled.programs and not compiled.eager
