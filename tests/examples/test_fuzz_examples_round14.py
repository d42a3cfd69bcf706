"""Examples fuzz (round 14): command lines that raised a traceback (or ran for minutes first) are usage errors.

Each program runs in-process (``main(argv)``) in an empty folder and stops before training, so the file stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os

import pytest

from examples import common
from examples.markov_text import rnn_bits


def _usage_error(name: str, argv: list[str], tmp_path, monkeypatch, capsys) -> str:
    """``examples.<name>.main(argv)`` in ``tmp_path`` must exit 2 before training; returns its stderr."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as raised:
        importlib.import_module(f"examples.{name}").main([*argv, "--no-progress"])
    assert raised.value.code == 2
    return capsys.readouterr().err


# (example, argv, the option the message must name): each raised a traceback, or drew pairs for minutes first
USAGE_ERRORS = [
    ("parity", ["--seed", str(2**64)], "--seed"),                         # ValueError from mg.manual_seed
    ("sentiment", ["--seed", "123456789012345678901234567890"], "--seed"),
    ("adding_problem", ["--forget-bias", "1e39"], "--forget-bias"),     # inf in the float32 bias, NaN MSE
    ("vanishing_gradients", ["--forget-biases", "1", "1e39"], "--forget-biases"),
    ("parity", ["--lr", "1e308"], "--lr"),                              # inf in float32: every weight inf
    ("seq2seq", ["--task", "dates", "--pairs", "600000"], "--pairs"),   # ValueError after minutes of drawing
    ("seq2seq", ["--pairs", "1000001"], "--pairs"),
    ("seq2seq", ["--dropout", "0.5"], "--dropout"),                     # warned twice and ignored (one layer)
    ("markov_text", ["--text", "small", "--max-chars", "3000", "--max-order", "100"], "--max-order"),  # ValueError
    ("vanishing_gradients", ["--graph-steps", "1"], "--graph-steps"),   # make_batch: rng.integers(0, 0) ValueError
    ("dynamical_systems", ["--ar-noise", "1e308"], "--ar-noise"),       # inf series: LinAlgError from lstsq
]


@pytest.mark.parametrize(("name", "argv", "option"), USAGE_ERRORS,
                         ids=[f"{n}{' '.join(a)}" for n, a, _ in USAGE_ERRORS])
def test_fuzzed_options_are_usage_errors(name, argv, option, tmp_path, monkeypatch, capsys):
    error = _usage_error(name, [*argv, "--out", "out"], tmp_path, monkeypatch, capsys)
    assert "Traceback" not in error and option in error.strip().splitlines()[-1], error
    assert not any(tmp_path.iterdir()), f"{name} {argv} wrote {list(tmp_path.iterdir())}"


def test_largest_seed_is_torchs():
    assert common.random_seed(str(2**64 - 1)) == 2**64 - 1   # torch.manual_seed's largest
    with pytest.raises(argparse.ArgumentTypeError, match="2\\*\\*64"):
        common.random_seed(str(2**64))


BLOCKED = [("parity", "summary.json"), ("parity", "parity.npz"), ("parity", "parity.json"),
           ("vanishing_gradients", "lstm_b_f3.npz"), ("adding_problem", "adding_gru_T200.npz")]


@pytest.mark.parametrize(("name", "blocked"), BLOCKED)
def test_an_output_name_taken_by_a_folder_stops_before_training(name, blocked, tmp_path, monkeypatch, capsys):
    # the run trained, then nn.save / open raised (ValueError or IsADirectoryError traceback)
    (tmp_path / "out" / blocked).mkdir(parents=True)
    error = _usage_error(name, ["--out", "out"], tmp_path, monkeypatch, capsys)
    assert blocked in error and "--out" in error and "Traceback" not in error
    assert sorted(os.listdir(tmp_path / "out")) == [blocked]


def test_a_read_only_out_folder_stops_before_training(tmp_path, monkeypatch, capsys):
    # os.makedirs(exist_ok=True) accepts an existing read-only folder: PermissionError after training
    (tmp_path / "out").mkdir()
    monkeypatch.setattr(common.os, "access", lambda path, mode: False)   # as for a user without write permission
    error = _usage_error("sentiment", ["--out", "out"], tmp_path, monkeypatch, capsys)
    assert "cannot write in the --out folder" in error and "permission denied" in error


def test_rnn_summary_that_is_not_a_char_rnn_summary_is_not_used(tmp_path):
    # a JSON list / number / null raised AttributeError, a string or list val_bpc ValueError/TypeError when printed
    args = argparse.Namespace(text=common.TEXTS["small"], val_fraction=0.1, max_chars=0)
    run = {"example": "char_rnn", "text": common.TEXTS["small"], "val_fraction": 0.1, "max_chars": 0}
    contents = ["[1, 2]", "3.5", "null", json.dumps({**run, "val_bpc": "abc"}), json.dumps({**run, "val_bpc": [1]}),
                json.dumps({**run, "val_bpc": None}), '{"val_bpc": 2', "\x00\xff"]
    for i, content in enumerate(contents):
        path = tmp_path / f"s{i}.json"
        path.write_text(content)
        assert rnn_bits(str(path), args) is None, content
    (tmp_path / "good.json").write_text(json.dumps({**run, "val_bpc": 2}))
    assert rnn_bits(str(tmp_path / "good.json"), args) == 2.0
    assert rnn_bits(str(tmp_path / "good.json"), argparse.Namespace(**{**vars(args), "max_chars": 10})) is None
    assert rnn_bits(str(tmp_path), args) is None   # a folder


def test_device_cpu_with_an_index_is_the_cpu_as_in_torch():
    # `--device cpu:0` was a usage error; torch.device("cpu:0").type is "cpu" (torch not imported: this file is fast)
    assert common.device("cpu:0") == common.device("cpu:3") == "cpu"
    for bad in ["cpu:", "cpu:x", "cpux"]:
        with pytest.raises(argparse.ArgumentTypeError, match="must be cpu, cuda or cuda:N"):
            common.device(bad)


def test_sizes_beyond_this_machines_memory_are_a_one_line_error(tmp_path, monkeypatch, capsys):
    # `python -m examples.parity --hidden-size 1000000` ended in NumPy's _ArrayMemoryError traceback
    from examples import parity

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as raised:
        common.run(parity.main, ["--hidden-size", "1000000", "--out", "out", "--no-progress"])
    assert raised.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: out of memory: ") and "allocate" in error and "--hidden-size" in error
    assert len(error.splitlines()) == 1
