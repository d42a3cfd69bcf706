"""Bad input, clear error, nothing lost.

A table of bad inputs across the public API. Each row names the exception type and the words its
message must contain: the op or module, and the offending shapes / dtypes / keys / values. After
every failure the model and the optimizer are exactly as before (parameters, gradients, optimizer
state and hyper-parameters compared array by array).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn

F = nn.functional

V, E, H, C = 10, 4, 3, 5     # vocabulary, embedding size = LSTM input_size, hidden size, classes
T, B = 7, 2                   # time steps, batch


class Tagger(nn.Module):
    """Embedding → LSTM → Linear: a tiny sequence tagger to break in every way."""

    def __init__(self, hidden: int = H) -> None:
        super().__init__()
        self.embed = nn.Embedding(V, E)
        self.encoder = nn.LSTM(E, hidden)
        self.head = nn.Linear(hidden, C)

    def forward(self, tokens: mg.Tensor) -> mg.Tensor:
        output, _ = self.encoder(self.embed(tokens))
        return self.head(output)


@dataclass
class World:
    model: Tagger
    optimizer: Any
    cells: dict
    files: dict
    tokens: mg.Tensor
    x: mg.Tensor           # (T, B, E) input of the LSTM
    logits: mg.Tensor      # (B, C)


@pytest.fixture
def world(tmp_path) -> World:
    mg.manual_seed(0)
    model = Tagger()
    optimizer = nn.optim.Adam(model.parameters(), lr=1e-2)
    tokens = mg.randint(0, V, (T, B))
    target = mg.randint(0, C, (T, B))
    for _ in range(2):   # optimizer state (exp_avg, step) and gradients exist
        optimizer.zero_grad()
        logits = model(tokens)
        F.cross_entropy(logits.reshape(T * B, C), target.reshape(T * B)).backward()
        optimizer.step()
    cells = {"rnn_cell": nn.RNNCell(E, H), "lstm_cell": nn.LSTMCell(E, H), "gru_cell": nn.GRUCell(E, H),
             "batch_first": nn.LSTM(E, H, batch_first=True)}

    files = {"good": tmp_path / "good.npz", "truncated": tmp_path / "truncated.npz", "text": tmp_path / "notes.txt",
             "pickle": tmp_path / "model.pkl", "object": tmp_path / "object.npz", "npy": tmp_path / "array.npy",
             "other": tmp_path / "other.npz", "missing": tmp_path / "missing.npz"}
    nn.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, files["good"])
    data = files["good"].read_bytes()
    files["truncated"].write_bytes(data[: len(data) // 2])
    files["text"].write_text("this is not a checkpoint\n")
    files["pickle"].write_bytes(pickle.dumps({"weight": np.ones(3)}))
    np.savez(files["object"], **{"encoder.weight_ih_l0": np.array([{"a": 1}, None], dtype=object)})
    np.save(files["npy"], np.ones(3))
    other = Tagger(hidden=H + 2)        # same names, other sizes: another architecture
    nn.save(other.state_dict(), files["other"])
    x = mg.randn(T, B, E)
    return World(model, optimizer, cells, files, tokens, x, mg.randn(B, C, requires_grad=True))


def snapshot(world: World) -> dict:
    """Copies of every array that a failed call must leave alone."""
    state: dict = {}
    for name, p in world.model.named_parameters():
        state[f"param {name}"] = p.numpy().copy()
        state[f"grad {name}"] = None if p.grad is None else p.grad.numpy().copy()
    for cell_name, cell in world.cells.items():
        for name, p in cell.named_parameters():
            state[f"{cell_name} {name}"] = p.numpy().copy()
    opt = world.optimizer.state_dict()
    for index, entries in opt["state"].items():
        for key, value in entries.items():
            state[f"opt state {index} {key}"] = value.numpy().copy() if isinstance(value, mg.Tensor) else value
    for i, group in enumerate(opt["param_groups"]):
        for key, value in group.items():
            state[f"opt group {i} {key}"] = value
    return state


def assert_unchanged(before: dict, after: dict) -> None:
    assert before.keys() == after.keys()
    for key in before:
        a, b = before[key], after[key]
        if isinstance(a, np.ndarray):
            assert isinstance(b, np.ndarray) and a.dtype == b.dtype, key
            np.testing.assert_array_equal(a, b, err_msg=key)
        else:
            assert a == b, f"{key}: {a!r} became {b!r}"


@dataclass
class Case:
    id: str
    call: Callable[[World], Any]
    error: type
    words: tuple


def lstm(w: World) -> Any:
    return w.model.encoder


CASES = [
    # --- wrong input size to a cell or a layer: names input_size and the shape it got
    Case("rnn_cell_input_size", lambda w: w.cells["rnn_cell"](mg.randn(B, E + 1)), ValueError,
         ("RNNCell", "input_size=4", "(2, 5)")),
    Case("lstm_cell_input_size", lambda w: w.cells["lstm_cell"](mg.randn(B, E + 2)), ValueError,
         ("LSTMCell", "input_size=4", "(2, 6)")),
    Case("gru_cell_input_size", lambda w: w.cells["gru_cell"](mg.randn(E - 1)), ValueError,
         ("GRUCell", "input_size=4", "(3,)")),
    Case("lstm_layer_input_size", lambda w: lstm(w)(mg.randn(T, B, E + 1)), ValueError,
         ("LSTM", "input_size=4", "(7, 2, 5)")),
    Case("lstm_layer_rank", lambda w: lstm(w)(mg.randn(T, B, 1, E)), ValueError,
         ("LSTM", "(seq_len, batch, input_size)", "(7, 2, 1, 4)")),
    Case("linear_in_features", lambda w: w.model.head(mg.randn(B, H + 1)), ValueError,
         ("in_features=3", "(2, 4)")),
    # --- wrong state
    Case("lstm_cell_state_shape", lambda w: w.cells["lstm_cell"](mg.randn(B, E), (mg.zeros(B, H), mg.zeros(B, H + 1))),
         ValueError, ("LSTMCell", "state c", "(2, 3)", "(2, 4)")),
    Case("lstm_cell_state_not_tuple", lambda w: w.cells["lstm_cell"](mg.randn(B, E), mg.zeros(B, H)), TypeError,
         ("LSTMCell", "(h, c)", "Tensor")),
    Case("rnn_cell_state_batch", lambda w: w.cells["rnn_cell"](mg.randn(B, E), mg.zeros(B + 1, H)), ValueError,
         ("RNNCell", "state h", "(2, 3)", "(3, 3)")),
    Case("lstm_layer_state_shape", lambda w: lstm(w)(w.x, (mg.zeros(2, B, H), mg.zeros(1, B, H))), ValueError,
         ("LSTM", "h0", "(1, 2, 3)", "(2, 2, 3)")),
    Case("lstm_layer_state_not_tuple", lambda w: lstm(w)(w.x, mg.zeros(1, B, H)), TypeError,
         ("LSTM", "(h0, c0)")),
    # --- batch_first confusion: a (T, B, I) input given to a batch_first layer reads as B=7 sequences
    Case("batch_first_state", lambda w: w.cells["batch_first"](w.x, (mg.zeros(1, B, H), mg.zeros(1, B, H))),
         ValueError, ("LSTM", "h0", "(1, 7, 3)", "(1, 2, 3)", "batch_first=True")),
    Case("batch_first_lengths", lambda w: w.cells["batch_first"](w.x, lengths=[7, 5]), ValueError,
         ("LSTM", "lengths", "(7)", "(2,)", "batch_first=True")),
    # --- lengths
    Case("lengths_longer_than_T", lambda w: lstm(w)(w.x, lengths=[8, 3]), ValueError,
         ("LSTM", "lengths", "[1, 7]", "[8, 3]")),
    Case("lengths_not_matching_B", lambda w: lstm(w)(w.x, lengths=[7, 5, 3]), ValueError,
         ("LSTM", "lengths", "batch (2)", "(3,)")),
    Case("lengths_not_integers", lambda w: lstm(w)(w.x, lengths=[7.0, 2.5]), TypeError,
         ("LSTM", "lengths", "integers", "float64")),
    Case("lengths_zero", lambda w: lstm(w)(w.x, lengths=[0, 3]), ValueError,
         ("LSTM", "lengths", "[1, 7]", "[0, 3]")),
    # --- empty sequences and batches
    Case("empty_sequence", lambda w: lstm(w)(mg.zeros(0, B, E)), ValueError,
         ("LSTM", "no time steps", "(0, 2, 4)")),
    Case("empty_token_sequence_to_model", lambda w: w.model(mg.zeros(0, B, dtype=mg.int64)), ValueError,
         ("LSTM", "no time steps", "(0, 2, 4)")),
    # --- targets
    Case("cross_entropy_float_targets", lambda w: F.cross_entropy(w.logits, mg.tensor([1.0, 2.0])), TypeError,
         ("cross_entropy", "integers", "float32")),
    Case("cross_entropy_target_too_large", lambda w: F.cross_entropy(w.logits, mg.tensor([1, C])), IndexError,
         ("cross_entropy", "out of range", "C=5", "5")),
    Case("cross_entropy_negative_target", lambda w: F.cross_entropy(w.logits, mg.tensor([-1, 0])), IndexError,
         ("cross_entropy", "out of range", "-1", "ignore_index=-100")),
    Case("cross_entropy_target_shape", lambda w: F.cross_entropy(w.logits, mg.tensor([0, 1, 2])), ValueError,
         ("cross_entropy", "target of shape (3,)", "(2, 5)")),
    Case("nll_loss_bool_targets", lambda w: F.nll_loss(w.logits, mg.tensor([True, False])), TypeError,
         ("nll_loss", "integers", "bool")),
    # --- dtypes where they matter
    Case("lstm_integer_input", lambda w: lstm(w)(mg.zeros(T, B, E, dtype=mg.int64)), TypeError,
         ("LSTM", "floating-point", "int64", "nn.Embedding")),
    Case("embedding_float_indices", lambda w: w.model.embed(mg.tensor([0.0, 1.0])), TypeError,
         ("embedding", "integers", "float32")),
    Case("embedding_index_out_of_range", lambda w: w.model.embed(mg.tensor([0, V])), IndexError,
         ("embedding", "10", "out of range", "[0, 9]")),
    Case("cross_entropy_integer_logits", lambda w: F.cross_entropy(mg.zeros(B, C, dtype=mg.int64), mg.tensor([0, 1])),
         TypeError, ("cross_entropy", "floating point", "int64")),
    Case("integer_tensor_requires_grad", lambda w: mg.tensor([1, 2], requires_grad=True), TypeError,
         ("floating-point", "int64")),
    Case("module_to_integer_dtype", lambda w: nn.Linear(2, 2).to(dtype=mg.int64), TypeError,
         ("Linear", "floating", "int64")),
    # --- hyper-parameters
    Case("nan_learning_rate", lambda w: nn.optim.Adam(w.model.parameters(), lr=float("nan")), ValueError,
         ("Adam", "learning rate", "nan")),
    Case("negative_learning_rate", lambda w: nn.optim.SGD(w.model.parameters(), lr=-0.1), ValueError,
         ("SGD", "learning rate", "-0.1")),
    Case("adam_betas", lambda w: nn.optim.Adam(w.model.parameters(), betas=(0.9, 1.5)), ValueError,
         ("Adam", "betas", "1.5")),
    Case("unknown_nonlinearity", lambda w: nn.RNN(E, H, nonlinearity="sigmoid"), ValueError,
         ("RNN", "nonlinearity", "'sigmoid'", "'tanh'", "'relu'")),
    Case("unknown_nonlinearity_cell", lambda w: nn.RNNCell(E, H, nonlinearity="gelu"), ValueError,
         ("RNNCell", "nonlinearity", "'gelu'")),
    Case("recurrent_dropout_above_one", lambda w: nn.LSTM(E, H, num_layers=2, dropout=1.5), ValueError,
         ("LSTM", "dropout", "[0, 1]", "1.5")),
    Case("recurrent_dropout_negative", lambda w: nn.GRU(E, H, num_layers=2, dropout=-0.1), ValueError,
         ("GRU", "dropout", "-0.1")),
    Case("dropout_module_p", lambda w: nn.Dropout(p=2.0), ValueError,
         ("Dropout", "dropout probability", "between 0 and 1", "2.0")),
    Case("functional_dropout_p", lambda w: F.dropout(w.x, p=-0.5), ValueError, ("dropout", "p", "-0.5")),
    Case("zero_hidden_size", lambda w: nn.LSTMCell(E, 0), ValueError, ("LSTMCell", "hidden_size", "0")),
    # --- files
    Case("load_truncated", lambda w: nn.load(w.files["truncated"]), ValueError,
         ("nn.load", "truncated.npz", "truncated or corrupt")),
    Case("load_text_file", lambda w: nn.load(w.files["text"]), ValueError, ("nn.load", "notes.txt", ".npz")),
    Case("load_pickle_file", lambda w: nn.load(w.files["pickle"]), ValueError,
         ("nn.load", "model.pkl", "never unpickles")),
    Case("load_object_array", lambda w: nn.load(w.files["object"]), ValueError,
         ("nn.load", "object.npz", "encoder.weight_ih_l0", "never unpickles")),
    Case("load_single_npy", lambda w: nn.load(w.files["npy"]), ValueError, ("nn.load", "array.npy", ".npz")),
    Case("load_missing_file", lambda w: nn.load(w.files["missing"]), FileNotFoundError,
         ("nn.load", "missing.npz")),
    Case("load_other_architecture", lambda w: w.model.load_state_dict(nn.load(w.files["other"])), ValueError,
         ("load_state_dict", "encoder.weight_hh_l0", "(20, 5)", "(12, 3)", "nothing was loaded")),
    Case("load_optimizer_state_from_other_model",
         lambda w: w.optimizer.load_state_dict(_other_optimizer_state()), ValueError,
         ("Adam.load_state_dict", "shape", "nothing was loaded")),
    Case("load_state_dict_missing_and_unexpected",
         lambda w: w.model.load_state_dict({**{k.replace("encoder", "decoder"): v
                                              for k, v in w.model.state_dict().items()}}),
         ValueError, ("missing key: encoder.weight_ih_l0", "unexpected key: decoder.weight_ih_l0")),
    Case("load_state_dict_string_array",
         lambda w: w.model.load_state_dict({**w.model.state_dict(), "head.bias": np.array(["a"] * C)}), ValueError,
         ("head.bias", "not a numeric array")),
    Case("save_a_module", lambda w: nn.save({"model": w.model}, w.files["good"].with_name("module.npz")), TypeError,
         ("nn.save", "'model'", "Tagger", "state_dict()")),
    # --- the engine
    Case("add_shapes", lambda w: mg.randn(2, 3) + mg.randn(4), ValueError, ("add", "(2, 3)", "(4,)")),
    Case("matmul_shapes", lambda w: mg.randn(2, 3) @ mg.randn(4, 5), ValueError, ("matmul", "(2, 3)", "(4, 5)")),
    Case("backward_non_scalar", lambda w: (w.logits * 2).backward(), RuntimeError, ("backward", "(2, 5)", "grad")),
    Case("backward_twice", lambda w: _backward_twice(w), RuntimeError, ("retain_graph=True",)),
    Case("reshape_size", lambda w: w.x.reshape(5, 5), ValueError, ("reshape", "(7, 2, 4)")),
    Case("axis_out_of_range", lambda w: w.x.sum(axis=3), IndexError, ("sum", "axis 3", "3 dimensions")),
    Case("split_unequal", lambda w: mg.split(w.x, 3, axis=0), ValueError, ("split", "7", "3")),
    Case("name_scope_slash", lambda w: mg.name_scope("a/b"), ValueError, ("name_scope", "'a/b'")),
    Case("unknown_device", lambda w: mg.zeros(2, device="tpu"), ValueError, ("'tpu'", "cpu", "cuda")),
]


def _other_optimizer_state() -> dict:
    other = Tagger(hidden=H + 2)
    opt = nn.optim.Adam(other.parameters())
    for p in other.parameters():
        p.grad = mg.ones_like(p)
    opt.step()
    return opt.state_dict()


def _backward_twice(w: World) -> None:
    loss = (w.logits * w.logits).sum()
    loss.backward()
    loss.backward()


def test_the_table_is_large_enough():
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_raises_a_clear_error_and_changes_nothing(case: Case, world: World) -> None:
    before = snapshot(world)
    with pytest.raises(case.error) as info:
        case.call(world)
    message = str(info.value)
    missing = [word for word in case.words if word not in message]
    assert not missing, f"{case.id}: message lacks {missing}:\n{message}"
    assert_unchanged(before, snapshot(world))


def test_the_world_still_trains_after_every_failure(world: World) -> None:
    """After the whole table of failures the model and optimizer still work (no half-applied state)."""
    for case in CASES:
        with pytest.raises(case.error):
            case.call(world)
    target = mg.randint(0, C, (T, B))
    losses = []
    for _ in range(5):
        world.optimizer.zero_grad()
        loss = F.cross_entropy(world.model(world.tokens).reshape(T * B, C), target.reshape(T * B))
        loss.backward()
        world.optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


# --- files: saves are atomic, loads never unpickle ----------------------------------------------------

def _checkpoint_files(folder: Any) -> list:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("crash_in", ["write_array", "fsync", "os.replace", "interrupt"])
def test_a_crash_mid_save_leaves_the_old_checkpoint_and_no_temp_file(crash_in: str, tmp_path, monkeypatch) -> None:
    path = tmp_path / "model.npz"
    old = nn.Linear(3, 2)
    nn.save(old.state_dict(), path)
    old_bytes = path.read_bytes()
    new = {"weight": mg.randn(50, 50), "bias": mg.randn(50), "step": 7}

    if crash_in == "write_array":
        real = np.lib.format.write_array
        calls = []

        def write_then_crash(file, array, *args, **kwargs):   # the second array is cut off half-way
            calls.append(1)
            if len(calls) == 2:
                file.write(b"\x93NUMPY partial")
                raise OSError(28, "No space left on device")
            return real(file, array, *args, **kwargs)

        monkeypatch.setattr(np.lib.format, "write_array", write_then_crash)
        expected: type = OSError
    elif crash_in == "fsync":
        monkeypatch.setattr("os.fsync", lambda fd: (_ for _ in ()).throw(OSError(5, "Input/output error")))
        expected = OSError
    elif crash_in == "os.replace":
        monkeypatch.setattr("os.replace", lambda src, dst: (_ for _ in ()).throw(PermissionError(13, "denied")))
        expected = PermissionError
    else:
        monkeypatch.setattr(np.lib.format, "write_array",
                            lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
        expected = KeyboardInterrupt

    with pytest.raises(expected):
        nn.save(new, path)
    monkeypatch.undo()
    assert path.read_bytes() == old_bytes, "the old checkpoint was damaged"
    assert _checkpoint_files(tmp_path) == ["model.npz"], "a temporary file was left behind"
    loaded = nn.load(path)
    np.testing.assert_array_equal(loaded["weight"].numpy(), old.weight.numpy())


CRASHING_SAVER = """
import sys
import minigrad as mg, nn
path = sys.argv[1]
states = [{"weight": mg.full((400, 400), float(k)), "tag": k} for k in (1, 2)]
nn.save(states[0], path)
print("ready", flush=True)
k = 0
while True:                       # overwrite the checkpoint again and again until killed
    k += 1
    nn.save(states[k % 2], path)
"""


def test_a_killed_process_never_leaves_a_half_written_checkpoint(tmp_path) -> None:
    """SIGKILL a process in the middle of a stream of saves: the file under the real name always loads and
    is one complete checkpoint (temporary files of the killed write may remain, with their own names)."""
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "ckpt.npz"
    root = __file__.rsplit("/tests/", 1)[0]
    child = subprocess.Popen([sys.executable, "-c", CRASHING_SAVER, str(path)], stdout=subprocess.PIPE, text=True,
                             cwd=root)
    try:
        assert child.stdout.readline().strip() == "ready"
        time.sleep(0.3)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    loaded = nn.load(path)
    tag = loaded["tag"]
    assert tag in (1, 2)
    np.testing.assert_array_equal(loaded["weight"].numpy(), np.full((400, 400), float(tag), dtype=np.float32))
    assert all(name == "ckpt.npz" or name.endswith(".tmp") for name in _checkpoint_files(tmp_path))


def test_loading_never_unpickles(world: World, monkeypatch) -> None:
    import pickle as pickle_module

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("nn.load called the unpickler")

    monkeypatch.setattr(pickle_module, "load", refuse)
    monkeypatch.setattr(pickle_module, "loads", refuse)
    monkeypatch.setattr(pickle_module, "Unpickler", refuse)
    checkpoint = nn.load(world.files["good"])            # the normal path works without pickle
    assert set(checkpoint) == {"model", "optimizer"}
    world.model.load_state_dict(checkpoint["model"])
    world.optimizer.load_state_dict(checkpoint["optimizer"])
    for name in ("object", "pickle"):                     # the pickled ones are refused, naming file and key
        with pytest.raises(nn.CheckpointError, match="never unpickles"):
            nn.load(world.files[name])


# --- recurrent: the initial state must have the input's dtype and device (as PyTorch) ----------------

@pytest.mark.parametrize("state_dtype", ["int64", "bool", "complex64", "float64"])
@pytest.mark.parametrize("where", ["lstm", "gru", "rnn", "lstm_cell", "gru_cell", "rnn_cell"])
def test_recurrent_initial_state_of_wrong_dtype_is_refused(where: str, state_dtype: str, world: World) -> None:
    import nn as nn_
    from nn.cells import RecurrentStateError

    layers = {"lstm": world.model.encoder, "gru": nn_.GRU(E, H), "rnn": nn_.RNN(E, H),
              "lstm_cell": world.cells["lstm_cell"], "gru_cell": world.cells["gru_cell"],
              "rnn_cell": world.cells["rnn_cell"]}
    module = layers[where]
    owner = type(module).__name__
    is_cell = where.endswith("cell")
    x = world.x[0] if is_cell else world.x                           # float32
    shape = (B, H) if is_cell else (1, B, H)
    bad = mg.zeros(shape, dtype=state_dtype)
    state = (bad, mg.zeros(shape)) if "lstm" in where else bad
    before = snapshot(world)
    params = [p.numpy().copy() for p in module.parameters()]
    with pytest.raises(RecurrentStateError) as info:
        module(x, state)
    message = str(info.value)
    for word in (owner, "float32", state_dtype, "dtype"):
        assert word in message, f"{where}: message lacks {word!r}: {message}"
    assert isinstance(info.value, (RuntimeError, TypeError))
    assert_unchanged(before, snapshot(world))
    for a, p in zip(params, module.parameters()):
        np.testing.assert_array_equal(a, p.numpy())


def test_recurrent_state_dtype_follows_input_and_weights(world: World) -> None:
    """A float64 state is right for a float64 input to float64 weights; a float32 input to them is refused, as
    PyTorch refuses it (round 18: it was promoted)."""
    import nn as nn_

    layer = nn_.GRU(E, H, dtype=mg.float64)
    x64 = world.x.double()
    out, h = layer(x64, mg.zeros((1, B, H), dtype=mg.float64))
    assert out.dtype == np.float64 and h.dtype == np.float64
    out2, _ = layer(x64, h)                                          # h_n feeds the next chunk
    assert out2.dtype == np.float64
    with pytest.raises(nn_.RecurrentInputError, match="float32.*float64"):
        layer(world.x, h)


@pytest.mark.parametrize("case", [
    "deep_layout", "layout_not_json", "layout_bad_leaf", "layout_unknown_kind", "layout_missing_entry",
    "layout_not_text", "layout_duplicate_key", "layout_root_not_node", "layout_newer_format", "huge_header",
    "short_payload", "unicode_dtype", "datetime_dtype", "structured_dtype", "object_dtype",
    "collision_nested_then_flat", "collision_flat_then_nested", "duplicate_member", "zip_bomb", "bzip2_member",
    "foreign_member", "fifo", "folder"])
def test_nn_load_hostile_file_is_a_checkpoint_error_and_changes_nothing(case: str, world: World, tmp_path) -> None:
    """Each hostile file (tests/support/bad_checkpoints.py) fails with a CheckpointError naming the file and the
    key, within seconds (a FIFO must not hang), and leaves the model, optimizer and files as they were."""
    import os
    import threading

    from tests.support.bad_checkpoints import CASES

    if case == "fifo" and not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    build, words = CASES[case]
    path = build(tmp_path)
    regular = path.is_file()
    file_before = path.read_bytes() if regular else None
    good_before = world.files["good"].read_bytes()
    before = snapshot(world)
    outcome: list = []

    def attempt() -> None:
        try:
            world.model.load_state_dict(nn.load(path)["model"])
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 - checked below
            outcome.append(error)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(30)
    assert outcome, f"nn.load({path.name}) hung"
    error = outcome[0]
    assert isinstance(error, nn.CheckpointError) and isinstance(error, mg.CheckpointError), repr(error)
    for word in ("nn.load", path.name, *words):
        assert word in str(error), f"{case}: message lacks {word!r}: {error}"
    assert_unchanged(before, snapshot(world))
    assert world.files["good"].read_bytes() == good_before
    if regular:
        assert path.read_bytes() == file_before


def test_nn_load_missing_file_is_a_checkpoint_error_and_file_not_found(world: World) -> None:
    before = snapshot(world)
    with pytest.raises(nn.CheckpointError, match="missing.npz") as info:
        world.model.load_state_dict(nn.load(world.files["missing"]))
    assert isinstance(info.value, FileNotFoundError)
    assert_unchanged(before, snapshot(world))


@pytest.mark.parametrize("returned, words", [
    ("list", ("hook", "'w'", "returned a list", "None or a Tensor")),
    ("string", ("hook", "'w'", "returned a str")),
    ("wrong shape", ("hook", "'w'", "shape (3,)", "must keep", "(2, 3)")),
    ("wrong dtype", ("hook", "'w'", "dtype float64", "float32")),
    ("broadcastable scalar", ("hook", "'w'", "shape ()", "(2, 3)")),
])
def test_engine_hook_returning_a_non_gradient_raises_naming_the_tensor(returned: str, words: tuple) -> None:
    import numpy as np

    import minigrad as mg

    w = mg.randn(2, 3, requires_grad=True)
    w.name = "w"
    b = mg.randn(3, requires_grad=True)
    bad = {
        "list": lambda g: [1.0],
        "string": lambda g: "grad",
        "wrong shape": lambda g: mg.ones(3),
        "wrong dtype": lambda g: g.double(),
        "broadcastable scalar": lambda g: mg.tensor(1.0),
    }[returned]
    (w * b).sum().backward()
    before = (w.grad.numpy().copy(), b.grad.numpy().copy())
    w.register_hook(bad)
    with pytest.raises(mg.HookError) as info:
        (w * b).sum().backward()
    assert isinstance(info.value, (TypeError, ValueError, RuntimeError))
    for word in words:
        assert word in str(info.value), f"message lacks {word!r}: {info.value}"
    np.testing.assert_array_equal(w.grad.numpy(), before[0])   # no .grad changed, not even b's
    np.testing.assert_array_equal(b.grad.numpy(), before[1])


def test_engine_hook_on_an_intermediate_with_a_wrong_shape_names_the_op() -> None:
    import minigrad as mg

    x = mg.randn(2, 3, requires_grad=True)
    y = x.tanh()
    y.register_hook(lambda g: g.sum(axis=0))
    with pytest.raises(mg.HookError, match=r"output 0 of op 'tanh' \(shape \(2, 3\)\).*shape \(3,\)"):
        y.sum().backward()
    assert x.grad is None


def test_viz_drawing_too_large_to_lay_out_is_refused_before_layout_and_changes_nothing(tmp_path, monkeypatch):

    from minigrad import viz

    x = mg.randn(2, requires_grad=True)
    y = x
    for _ in range(20_500):   # no time steps, so nothing can be elided
        y = y * 1.0001
    loss = y.sum()
    from minigrad.viz import drawing  # noqa: PLC0415

    def laid_out(*args: object, **kwargs: object) -> None:
        raise AssertionError("render laid the graph out before refusing it")
    monkeypatch.setattr(drawing, "collect", laid_out)   # refused from the count, before the slow part
    with pytest.raises(viz.DrawingTooLargeError, match=r"more than max_nodes=20,000.*collapse=.*max_nodes=None"):
        viz.render(loss, path=tmp_path / "graph", format="dot")
    assert not list(tmp_path.iterdir()) and x.grad is None


def test_viz_show_grads_on_a_freed_graph_names_retain_graph():
    from minigrad import viz

    w = mg.randn(3, requires_grad=True)
    loss = (w.tanh() * 2.0).sum()
    loss.backward()
    grad = w.grad.numpy().copy()
    with pytest.raises(RuntimeError, match=r"loss.backward\(retain_graph=True\)"):
        viz.draw(loss, show_grads=True)
    assert w.grad.numpy().tobytes() == grad.tobytes()


# --- optimizers: all-or-nothing steps and loads (issue #13.5; helper NO) --------------------------------------

def _optim_force_grad(p: Any, grad: Any) -> None:
    """A gradient ``Tensor.grad``'s own check would refuse, set through its array (``p.grad.data = ...``)."""
    if p.grad is None:
        p.grad = mg.zeros_like(p)
    p.grad.data = grad.data if isinstance(grad, mg.Tensor) else grad


def _optim_expect(world: World, call: Callable[[], Any], error: type, words: tuple) -> None:
    """``call`` raises ``error`` with every word, and the model, gradients and optimizer are as before."""
    before = snapshot(world)
    with pytest.raises(error) as info:
        call()
    missing = [word for word in words if word not in str(info.value)]
    assert not missing, f"message lacks {missing}:\n{info.value}"
    assert_unchanged(before, snapshot(world))


def test_optim_step_with_a_wrongly_shaped_grad_on_the_second_parameter(world: World) -> None:
    params = list(world.model.parameters())
    _optim_force_grad(params[1], mg.zeros(3))
    _optim_expect(world, world.optimizer.step, ValueError,
                  ("Adam.step", "parameter 1", "encoder.weight_ih_l0", "gradient of shape (3,)"))


def test_optim_step_with_a_grad_of_another_dtype(world: World) -> None:
    params = list(world.model.parameters())
    _optim_force_grad(params[2], mg.zeros(params[2].shape, dtype=mg.float64))
    _optim_expect(world, world.optimizer.step, TypeError, ("Adam.step", "parameter 2", "float32", "float64"))


def test_optim_step_with_a_nan_grad_when_check_finite(world: World) -> None:
    import nn as nn_module

    opt = nn_module.optim.Adam(world.model.parameters(), lr=1e-2, check_finite=True)
    params = list(world.model.parameters())
    params[3].grad.data[0] = float("nan")
    _optim_expect(world, opt.step, ValueError, ("Adam.step", "parameter 3", "1 non-finite", "check_finite=True"))
    assert not opt.state


def test_optim_step_with_a_bad_lr_set_between_steps(world: World) -> None:
    world.optimizer.param_groups[0]["lr"] = float("nan")
    before = snapshot(world)
    world.optimizer.param_groups[0]["lr"] = 1e-2
    snapshot_lr_ok = snapshot(world)
    world.optimizer.param_groups[0]["lr"] = float("nan")
    with pytest.raises(ValueError, match=r"Adam: invalid learning rate lr=nan .*param_groups\[0\]"):
        world.optimizer.step()
    world.optimizer.param_groups[0]["lr"] = 1e-2
    assert_unchanged(snapshot_lr_ok, snapshot(world))     # step counts and moments untouched
    assert before.keys() == snapshot_lr_ok.keys()


def test_optim_tensor_lr_that_is_not_0d(world: World) -> None:
    _optim_expect(world, lambda: nn.optim.Adam(world.model.parameters(), lr=mg.tensor([0.1, 0.2])), TypeError,
                  ("Adam", "Tensor lr must be 0-d", "(2,)"))


def test_optim_tensor_weight_decay(world: World) -> None:
    _optim_expect(world, lambda: nn.optim.SGD(world.model.parameters(), lr=0.1, weight_decay=mg.tensor(0.1)),
                  TypeError, ("SGD", "weight_decay is a Tensor", "only lr"))


def _optim_state_without(world: World, key: str, value: Any = None) -> dict:
    state = world.optimizer.state_dict()
    if value is None:
        del state["state"][1][key]
    else:
        state["state"][1][key] = value
    return state


@pytest.mark.parametrize("key,value,error,words", [
    ("exp_avg", None, ValueError, ("Adam.load_state_dict", "state[1]", "lacks ['exp_avg']", "nothing was loaded")),
    ("exp_avg_sq", np.ones((4 * H, E), dtype=np.int64), TypeError,
     ("Adam.load_state_dict", "state[1]['exp_avg_sq']", "int64", "floating point", "nothing was loaded")),
    ("step", -3, ValueError, ("state[1]['step']", "-3", "nothing was loaded")),
    ("step", 2.5 + 0j, ValueError, ("state[1]['step']", "nothing was loaded")),
    ("momentum_buffer", np.zeros((4 * H, E), dtype=np.float32), ValueError,
     ("state[1]", "unknown entries ['momentum_buffer']", "nothing was loaded")),
], ids=["missing_exp_avg", "int_exp_avg_sq", "negative_step", "complex_step", "unknown_entry"])
def test_optim_load_state_dict_with_a_broken_entry(world: World, key, value, error, words) -> None:
    state = _optim_state_without(world, key, value)
    _optim_expect(world, lambda: world.optimizer.load_state_dict(state), error, words)


def test_optim_load_state_dict_with_a_bad_group(world: World) -> None:
    state = world.optimizer.state_dict()
    state["param_groups"][0]["betas"] = (0.9, 1.0)
    _optim_expect(world, lambda: world.optimizer.load_state_dict(state), ValueError,
                  ("Adam", "betas", "1.0", "nothing was loaded"))
    state = world.optimizer.state_dict()
    state["param_groups"][0]["momentum"] = 0.9
    _optim_expect(world, lambda: world.optimizer.load_state_dict(state), ValueError,
                  ("unknown hyper-parameter(s) ['momentum']", "nothing was loaded"))
    state = world.optimizer.state_dict()
    state["param_groups"][0]["params"] = state["param_groups"][0]["params"][:-1]
    _optim_expect(world, lambda: world.optimizer.load_state_dict(state), ValueError,
                  ("param_groups[0]", "parameters in the state dict", "nothing was loaded"))


def test_optim_lbfgs_bad_arguments(world: World) -> None:
    params = list(world.model.parameters())
    _optim_expect(world, lambda: nn.optim.LBFGS(params, line_search_fn="armijo"), ValueError,
                  ("LBFGS", "line_search_fn='armijo'", "strong_wolfe"))
    _optim_expect(world, lambda: nn.optim.LBFGS(params).step(), TypeError, ("LBFGS.step", "closure"))
    _optim_expect(world, lambda: nn.optim.LBFGS([{"params": params[:2]}, {"params": params[2:]}]), ValueError,
                  ("LBFGS", "parameter groups"))


def test_optim_lbfgs_bad_grad_in_the_closure(world: World) -> None:
    params = list(world.model.parameters())
    opt = nn.optim.LBFGS(params)

    def closure() -> Any:
        _optim_force_grad(params[0], mg.zeros(2))
        return mg.tensor(1.0)

    before = snapshot(world)
    with pytest.raises(ValueError, match=r"LBFGS.step: parameter 0 .* gradient of shape \(2,\)"):
        opt.step(closure)
    after = snapshot(world)
    for key in before:                     # the closure changed the gradient; nothing else changed
        if not key.startswith("grad "):
            assert_unchanged({key: before[key]}, {key: after[key]})
    assert not opt.state


def test_optim_scheduler_bad_arguments(world: World) -> None:
    from nn.optim import lr_scheduler

    _optim_expect(world, lambda: lr_scheduler.StepLR(world.optimizer, step_size=0), ValueError,
                  ("StepLR", "step_size", "0"))
    _optim_expect(world, lambda: lr_scheduler.ReduceLROnPlateau(world.optimizer, factor=2.0), ValueError,
                  ("ReduceLROnPlateau", "Factor should be < 1.0"))
    _optim_expect(world, lambda: lr_scheduler.ReduceLROnPlateau(world.optimizer, mode="up"), ValueError,
                  ("ReduceLROnPlateau", "mode 'up' is unknown"))
    _optim_expect(world, lambda: lr_scheduler.ExponentialLR(world.optimizer, gamma=0.9, last_epoch=4), KeyError,
                  ("initial_lr", "param_groups[0]"))


def test_optim_scheduler_bad_state_dict(world: World) -> None:
    from nn.optim import lr_scheduler

    scheduler = lr_scheduler.StepLR(world.optimizer, step_size=3)
    good = scheduler.state_dict()
    for bad, words in [({"base_lrs": [0.1, 0.2]}, ("StepLR.load_state_dict", "base_lrs", "one value per")),
                       ({"last_epoch": "3"}, ("StepLR.load_state_dict", "last_epoch", "'3'")),
                       ({"gamma_typo": 0.5}, ("StepLR.load_state_dict", "unknown entries ['gamma_typo']"))]:
        before = snapshot(world)
        with pytest.raises(ValueError) as info:
            scheduler.load_state_dict({**good, **bad})
        assert all(word in str(info.value) for word in words), str(info.value)
        assert scheduler.state_dict() == good
        assert_unchanged(before, snapshot(world))


def test_nn_module_plain_tensor_over_a_parameter_is_refused_and_changes_nothing(world: World) -> None:
    """`model.head.weight = model.head.weight * 2` would silently drop the weight from parameters() (and from
    the optimizer's view of the model); PyTorch raises a TypeError, and so does nn.Module."""
    before = snapshot(world)
    names = [n for n, _ in world.model.named_parameters()]
    with pytest.raises(TypeError) as info:
        world.model.head.weight = world.model.head.weight * 2
    for word in ("Linear", "cannot assign", "'weight'", "nn.Parameter"):
        assert word in str(info.value)
    assert [n for n, _ in world.model.named_parameters()] == names
    assert_unchanged(before, snapshot(world))


def test_nn_load_stored_member_lying_about_its_size_is_refused_even_without_a_ratio_limit(world: World,
                                                                                         tmp_path) -> None:
    from tests.support.bad_checkpoints import stored_size_lie

    path = stored_size_lie(tmp_path)
    before = snapshot(world)
    with pytest.raises(nn.CheckpointError) as info:
        world.model.load_state_dict(nn.load(path, max_ratio=None)["model"])
    for word in ("nn.load", "liar.npz", "'weight'", "declares"):
        assert word in str(info.value)
    assert_unchanged(before, snapshot(world))


def test_ops_as_tensor_refuses_object_string_and_datetime_arrays():
    import re

    import numpy as np
    import pytest

    import minigrad as mg

    for array in (np.array([1, "a"], dtype=object), np.array([1.0, 2.0], dtype=object), np.array(["ab"]),
                  np.array(["2020-01-01"], dtype="datetime64[D]")):
        message = f"as_tensor: cannot make a tensor of dtype {array.dtype} (numbers only"
        with pytest.raises(TypeError, match=re.escape(message)):
            mg.as_tensor(array)
    assert mg.as_tensor(np.array([True])).dtype == np.bool_   # numbers and bools still wrap without a copy
    numbers = np.arange(3.0)
    assert mg.as_tensor(numbers).data is numbers


def test_fuzz_like_constructors_refuse_array_devices_dtypes_and_fill_values():
    """``device or x.device`` asked an array for its truth value; ``numpy.dtype([])`` is an empty record."""
    import numpy as np
    import pytest

    import minigrad as mg

    x = mg.tensor([1.0, 2.0], requires_grad=True)
    before = x.numpy().copy()
    for name, call in (("zeros_like", lambda d: mg.zeros_like(x, device=d)),
                       ("ones_like", lambda d: mg.ones_like(x, device=d)),
                       ("full_like", lambda d: mg.full_like(x, 1.0, device=d)),
                       ("rand_like", lambda d: mg.rand_like(x, device=d)),
                       ("randn_like", lambda d: mg.randn_like(x, device=d))):
        with pytest.raises(TypeError) as info:
            call(np.array([]))
        for word in (name, "device", "'cpu'"):
            assert word in str(info.value), (name, str(info.value))
        assert call(None).device == x.device   # None still means x's device
    with pytest.raises(TypeError) as info:
        mg.ones_like(x, dtype=[])
    assert "ones_like" in str(info.value) and "dtype" in str(info.value)
    for fill in (np.array([]), np.array([1.0, 2.0]), None, "a"):
        with pytest.raises(TypeError) as info:
            mg.full_like(x, fill)
        assert "full_like" in str(info.value) and "'fill_value'" in str(info.value) and "number" in str(info.value)
    with pytest.raises(TypeError, match="full\\(\\): argument 'fill_value' must be a number, not ndarray"):
        mg.full((2,), np.array([1.0, 2.0]))
    assert mg.full_like(x, mg.tensor(3.0)).tolist() == [3.0, 3.0]   # a 0-d tensor is a number, as in PyTorch
    assert mg.full((2,), np.float64(2.5)).tolist() == [2.5, 2.5]
    np.testing.assert_array_equal(x.numpy(), before)
    assert x.grad is None and x.requires_grad


def test_fuzz_arange_checks_its_numbers_step_and_dtype():
    import numpy as np
    import pytest

    import minigrad as mg

    with pytest.raises(TypeError) as info:
        mg.arange(mg.tensor(0.25), 3, None, dtype=",")   # numpy.dtype(",") raised a SyntaxError
    assert "arange" in str(info.value) and "','" in str(info.value) and "not a dtype" in str(info.value)
    with pytest.raises(ValueError, match="arange: step must be nonzero"):
        mg.arange(0, 5, 0)                          # NumPy raised a ZeroDivisionError
    with pytest.raises(ValueError, match="arange: unsupported range"):
        mg.arange(0, float("inf"))
    for bad, what in ((("a",), "end"), ((0, [3]), "end"), ((None, 3), "start"), ((0, 3, "x"), "step"),
                      ((0, 3, 1j), "step")):
        with pytest.raises(TypeError) as info:
            mg.arange(*bad)
        assert "arange" in str(info.value) and f"'{what}'" in str(info.value)
    assert mg.arange(mg.tensor(0.25), 3).tolist() == [0.25, 1.25, 2.25]   # a 0-d tensor is a number
    assert mg.arange(0, 5, None).tolist() == [0, 1, 2, 3, 4] and mg.arange(0, 5, None).dtype == mg.int64
    with pytest.raises(ValueError, match="inconsistent with step sign"):   # as PyTorch's
        mg.arange(1, 0, 0.5)
    np.testing.assert_array_equal(mg.arange(1, stop=0, step=0.5).numpy(), np.arange(1, 0, 0.5, dtype=np.float32))


def test_fuzz_as_tensor_checks_dtype_and_device_before_anything_else():
    import numpy as np
    import pytest

    import minigrad as mg

    array = np.array([1.0, 2.0])
    t = mg.tensor([1.0, 2.0])
    for data in (array, t, [1.0]):
        with pytest.raises(TypeError) as info:
            mg.as_tensor(data, 0)
        assert "as_tensor" in str(info.value) and "dtype" in str(info.value)
        with pytest.raises(TypeError) as info:
            mg.as_tensor(data, device=np.array([]))
        assert "as_tensor" in str(info.value) and "device" in str(info.value)
    with pytest.raises(ValueError, match="as_tensor: unknown device 'tpu'"):
        mg.as_tensor(t, device="tpu")
    assert mg.as_tensor(t, mg.float64).dtype == mg.float64 and t.dtype == mg.float32
    assert mg.as_tensor(t, "float32") is t
    assert array.tolist() == [1.0, 2.0] and t.tolist() == [1.0, 2.0]


def test_fuzz_yes_no_arguments_take_bools_only_as_in_pytorch():
    """``bool(array)`` raised NumPy's ambiguity error; ``bool("no")`` is True."""
    import numpy as np
    import pytest

    import minigrad as mg

    x = mg.tensor([1.0])
    for bad in (np.array([]), "no", [True]):
        with pytest.raises(TypeError) as info:
            mg.detect_anomaly(bad)
        assert "detect_anomaly(): argument 'enabled' must be bool, not" in str(info.value)
        assert not mg.is_anomaly_enabled()
        with pytest.raises(TypeError) as info:
            mg.set_grad_enabled(bad)
        assert "set_grad_enabled(): argument 'mode' must be bool" in str(info.value)
        assert mg.is_grad_enabled()
        with pytest.raises(TypeError) as info:
            x.requires_grad_(bad)
        assert f"requires_grad_(): argument 'requires_grad' must be bool, not {type(bad).__name__}" in str(info.value)
        assert not x.requires_grad
        for name, make in (("tensor", lambda b=bad: mg.tensor([1.0], requires_grad=b)),
                           ("zeros", lambda b=bad: mg.zeros(2, requires_grad=b)),
                           ("ones_like", lambda b=bad: mg.ones_like(x, requires_grad=b)),
                           ("randperm", lambda b=bad: mg.randperm(3, requires_grad=b))):
            with pytest.raises(TypeError) as info:
                make()
            assert f"{name}(): argument 'requires_grad' must be bool" in str(info.value)
    with mg.detect_anomaly(np.True_):   # NumPy's bool is a bool
        assert mg.is_anomaly_enabled()
    assert x.requires_grad_(np.True_).requires_grad is True


def test_fuzz_tag_refuses_non_tensors_and_non_string_labels():
    import pytest

    import minigrad as mg

    x = mg.tensor([1.0], requires_grad=True)
    y = x * 2
    mg.tag(y, "h")
    with pytest.raises(TypeError, match="tag: expected a Tensor, got int"):
        mg.tag(0, "h")
    with pytest.raises(TypeError, match="tag: the label must be a string, got int"):
        mg.tag(y, 3)
    assert y.grad_fn.tag == "h"


def test_fuzz_add_and_sub_alpha_must_be_a_number():
    import numpy as np
    import pytest

    import minigrad as mg

    x, y = mg.tensor([1.0, 2.0]), mg.tensor([3.0, 4.0])
    version = x._version
    for name, call in (("add", lambda a: x.add(y, alpha=a)), ("sub", lambda a: x.sub(y, alpha=a)),
                       ("add_", lambda a: x.add_(y, alpha=a)), ("sub_", lambda a: x.sub_(y, alpha=a)),
                       ("add_", lambda a: x.__iadd__(y, a))):
        for bad in (np.array([]), np.array([1.0, 2.0]), "2", None):
            with pytest.raises(TypeError) as info:
                call(bad)
            assert f"{name}: alpha must be a number, got {type(bad).__name__}" in str(info.value)
    assert x.tolist() == [1.0, 2.0] and x._version == version
    assert x.add(y, alpha=mg.tensor(2.0)).tolist() == [7.0, 10.0]   # a 0-d tensor alpha works, as in PyTorch


def test_fuzz_setitem_and_copy_refuse_none_strings_and_ragged_lists():
    """``x[0] = None`` stored NaN (NumPy's reading of None); a ragged list leaked NumPy's ValueError."""
    import pytest

    import minigrad as mg

    for recording in (False, True):
        leaf = mg.tensor([1.0, 2.0], requires_grad=recording)
        x = leaf * 1 if recording else leaf
        version = x._version
        for bad in (None, "a", {"a": 1}, [None], ["a"]):
            with pytest.raises(TypeError) as info:
                x[0] = bad
            assert "setitem" in str(info.value) and type(bad).__name__ in str(info.value)
        with pytest.raises(ValueError) as info:
            x[:] = [mg.tensor(1.0), mg.tensor([])]
        assert "setitem" in str(info.value) and "list" in str(info.value)
        with pytest.raises(ValueError) as info:
            x.copy_([mg.tensor(1.0), mg.tensor([])])
        assert "copy_" in str(info.value) and "list" in str(info.value)
        with pytest.raises(TypeError, match="copy_: can't write a list holding <U1 values into a tensor"):
            x.copy_(["a", "b"])
        assert x.tolist() == [1.0, 2.0] and x._version == version
    x = mg.tensor([1.0, 2.0])
    x[0] = 5
    x[1:] = [7.0]
    assert x.tolist() == [5.0, 7.0]


def test_fuzz_array_interop_refuses_what_is_not_an_array():
    import numpy as np
    import pytest

    import minigrad as mg

    for bad in ([1, 2], None, mg.tensor([1.0])):
        with pytest.raises(TypeError) as info:
            mg.to_device(bad, "cpu")   # came back unchanged on the CPU, failed only on a GPU
        assert "to_device: expected a NumPy or CuPy array, got" in str(info.value)
    for bad in (None, "ab", {"a": 1}):
        with pytest.raises(TypeError) as info:
            mg.to_numpy(bad)
        assert "to_numpy" in str(info.value) and type(bad).__name__ in str(info.value)
    with pytest.raises(ValueError, match="to_numpy: cannot make an array of this list"):
        mg.to_numpy([[1], [1, 2]])
    with pytest.raises(ValueError, match="make_array: "):
        mg.make_array([[1], [1, 2]], None, "cpu")
    for bad in (",", [], np.array([1.0]), 0, "U3", object):
        with pytest.raises(TypeError) as info:
            mg.make_array([1], bad, "cpu")
        assert "make_array" in str(info.value) and "dtype" in str(info.value)
    assert mg.to_numpy(mg.tensor([1.0])).tolist() == [1.0]
    assert mg.to_device(np.float32(2.0), "cpu") == 2.0   # NumPy scalars (norms, sums) are arrays enough


def test_fuzz_dtype_arguments_are_checked_everywhere():
    """``numpy.dtype(",")`` raises a SyntaxError, and ``numpy.dtype([])`` is an empty record type."""
    import pytest

    import minigrad as mg

    x = mg.tensor([1.0, 2.0], requires_grad=True)
    for name, call in (("to", lambda d: x.to(dtype=d)), ("astype", lambda d: x.astype(d)),
                       ("type", lambda d: x.type(d)), ("randperm", lambda d: mg.randperm(3, dtype=d)),
                       ("normal", lambda d: mg.normal(0.0, 1.0, (2,), dtype=d)),
                       ("zeros", lambda d: mg.zeros(2, dtype=d)), ("tensor", lambda d: mg.tensor([1], dtype=d)),
                       ("eye", lambda d: mg.eye(2, dtype=d))):
        for bad in (",", [], 0, "U3", object):
            with pytest.raises(TypeError) as info:
                call(bad)
            assert name in str(info.value) and "dtype" in str(info.value), (name, bad, str(info.value))
    assert x.to(dtype="float64").dtype == mg.float64 and x.astype(float).dtype == mg.float64
    assert x.dtype == mg.float32 and x.grad is None


def test_fuzz_save_refuses_empty_and_folder_paths(tmp_path, monkeypatch):
    """``mg.save(obj, "")`` wrote a temporary file next to the working folder, then failed to rename it."""
    import os

    import pytest

    import minigrad as mg

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    state = {"w": mg.tensor([1.0])}
    for path in ("", ".", "..", str(tmp_path), "sub/"):
        with pytest.raises(ValueError) as info:
            mg.save(state, path)
        assert "nn.save: invalid file name" in str(info.value) and repr(path) in str(info.value)
    with pytest.raises(FileNotFoundError) as info:
        mg.save(state, os.path.join("missing", "w.npz"))
    assert "nn.save: parent directory" in str(info.value) and "missing" in str(info.value)
    assert sorted(os.listdir(tmp_path)) == ["work"] and os.listdir(work) == []
    assert mg.save(state, "w.npz") == "w.npz" and mg.load("w.npz")["w"].tolist() == [1.0]


def test_fuzz_narrow_and_cross_entropy_name_their_bad_arguments():
    import pytest

    import minigrad as mg
    import nn

    x = mg.arange(6.0)
    for args in ((0, [1], 2), (0, 1, [2]), (0, 1.5, 2)):
        with pytest.raises(TypeError, match="narrow: start and length must be ints"):
            x.narrow(*args)
    assert x.narrow(0, mg.tensor(1), 2).tolist() == [1.0, 2.0]
    logits = mg.tensor(0.25, requires_grad=True)
    with pytest.raises(ValueError, match="cross_entropy: logits need a class dimension"):
        nn.functional.cross_entropy(logits, mg.tensor(0.25))
    assert logits.grad is None and x.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_fuzz_scatter_and_gather_name_a_ragged_index_list():
    import pytest

    import minigrad as mg

    x = mg.zeros(3)
    for name, call in (("scatter", lambda i: x.scatter_(0, i, 1.0)), ("gather", lambda i: x.gather(0, i))):
        with pytest.raises(ValueError) as info:
            call([mg.tensor(0.25), mg.tensor([])])
        assert name in str(info.value) and "index" in str(info.value), str(info.value)
    assert x.tolist() == [0.0, 0.0, 0.0]


def test_fuzz_comparison_with_a_string_names_the_op():
    """Re-raising NumPy's ``_UFuncNoLoopError`` as ``type(error)(message)`` failed (its __init__ takes more)."""
    import pytest

    import minigrad as mg

    x = mg.tensor([0, 1])
    for name, call in (("lt", lambda: x < ""), ("le", lambda: x <= ""), ("gt", lambda: x > ""),
                       ("ge", lambda: x >= "")):
        with pytest.raises(TypeError) as info:
            call()
        assert str(info.value).startswith(f"{name}: ") and "shapes (2,) and ()" in str(info.value)
    assert x.tolist() == [0, 1]


def test_fuzz_gelu_approximate_must_be_a_string():
    import numpy as np
    import pytest

    import minigrad as mg
    import nn

    x = mg.tensor([0.25], requires_grad=True)
    for bad in (np.array([]), np.array(["none"]), None, 0):
        with pytest.raises(TypeError) as info:
            nn.functional.gelu(x, approximate=bad)
        assert f"gelu(): argument 'approximate' must be str, not {type(bad).__name__}" in str(info.value)
    assert x.grad is None and x.tolist() == [0.25]
