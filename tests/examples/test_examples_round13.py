"""Examples QA (round 13): sizes that used to crash or print NaN are usage errors, checkpoints load back, seeds repeat.

Each program runs in-process (``main(argv)``) with tiny settings, in an empty folder, so the file stays fast.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import runpy
import warnings
from pathlib import Path

import numpy as np
import pytest

from minigrad import nn

# (example, argv, the option the usage error must name): each once raised a traceback or printed NaN
TOO_SMALL = [
    ("seq2seq", ["--pairs", "1"], "--pairs"),                                    # ValueError from load_task
    ("seq2seq", ["--pairs", "10", "--val-fraction", "0.95"], "--pairs"),
    ("adding_problem", ["--lengths", "5", "1"], "--lengths"),                   # rng.integers(0, 0): ValueError
    ("vanishing_gradients", ["--length", "1"], "--length"),                     # same, through make_batch
    ("forecast", ["--length", "20", "--window", "30"], "--window"),             # no window at all: NaN MSE
    ("forecast", ["--length", "50", "--window", "20"], "--window"),             # no held-out window: NaN MSE
    ("sentiment", ["--reviews", "1"], "--reviews"),                             # nothing to train on
    ("char_rnn", ["--text", "small", "--max-chars", "3000", "--prime", "Ωmega"], "--prime"),  # Ω silently dropped
    ("vanishing_gradients", ["--forget-biases", "1", "nan"], "--forget-biases"),  # NaN gradient norms
    ("adding_problem", ["--forget-bias", "inf"], "--forget-bias"),
    ("dynamical_systems", ["--ar-coefficients", "0.5", "nan"], "--ar-coefficients"),  # LinAlgError traceback
]


def _main(name: str, argv: list[str], out) -> dict:
    return importlib.import_module(f"examples.{name}").main([*argv, "--out", str(out), "--no-progress"])


@pytest.mark.parametrize(("name", "argv", "option"), TOO_SMALL, ids=[f"{n}{' '.join(a)}" for n, a, _ in TOO_SMALL])
def test_sizes_that_leave_nothing_are_usage_errors(name, argv, option, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as raised:
        _main(name, argv, tmp_path / "out")
    assert raised.value.code == 2
    assert not any(tmp_path.iterdir()), f"{name} {argv} wrote {list(tmp_path.iterdir())}"
    error = capsys.readouterr().err
    assert "usage:" in error and option in error, error


LIBRARIES = [("markov_chains", "markov_text"), ("recurrences", "dynamical_systems")]


@pytest.mark.parametrize(("library", "program"), LIBRARIES)
def test_library_modules_run_as_programs_point_to_theirs(library, program):
    # `python -m examples.markov_chains --help` printed nothing and exited 0
    with pytest.raises(SystemExit) as raised:
        runpy.run_path(importlib.util.find_spec(f"examples.{library}").origin, run_name="__main__")
    assert isinstance(raised.value.code, str) and f"examples.{program}" in raised.value.code


def test_smallest_sizes_that_fit_run_clean(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # one held-out review: the two kinds it is not have no accuracy (was NaN with a RuntimeWarning)
        summary = _main("sentiment", ["--reviews", "2", "--epochs", "1", "--hidden-size", "4", "--embedding-size", "4"],
                        tmp_path / "s")
        by_kind = summary["val_accuracy_by_kind"]
        assert sorted(by_kind) == ["contrast", "negated", "plain"]
        measured = [v for v in by_kind.values() if v is not None]
        assert len(measured) == 1 and measured[0] == summary["val_accuracy"]
        assert "none held out" in capsys.readouterr().out
        # length 2 is the shortest adding problem (one marker in each half)
        summary = _main("adding_problem", ["--lengths", "2", "--cells", "rnn", "--epochs", "1",
                                           "--steps-per-epoch", "1", "--val-size", "4", "--hidden-size", "2"],
                        tmp_path / "a")
        assert np.isfinite(summary["val_mse"]["rnn"]["2"])
        # window 4 of 40 values: 28 training windows, 4 held out after a gap of 4
        summary = _main("forecast", ["--length", "40", "--window", "4", "--epochs", "1", "--hidden-size", "2",
                                     "--series", "ar", "--modes", "many-to-one"], tmp_path / "f")
        assert all(value is not None and np.isfinite(value) for value in summary["val_mse"].values())
        # the default prime keeps the characters a custom text has (here: no capital A)
        (tmp_path / "t.txt").write_text("and it came to pass, said the text.\n" * 40)
        summary = _main("char_rnn", ["--text", str(tmp_path / "t.txt"), "--epochs", "1", "--batch-size", "2",
                                     "--seq-len", "8", "--hidden-size", "4", "--embedding-size", "2",
                                     "--sample-length", "3"], tmp_path / "c")
        assert summary["sample"].startswith("nd it came to pass, ")


def test_char_rnn_checkpoint_loads_back_and_gives_its_bits(tmp_path, monkeypatch):
    from examples.char_rnn import CharModel, Text, evaluate_bits, split_point

    monkeypatch.chdir(tmp_path)
    argv = ["--text", "small", "--max-chars", "1500", "--epochs", "1", "--batch-size", "4", "--seq-len", "8",
            "--hidden-size", "8", "--embedding-size", "4", "--cell", "gru", "--sample-length", "5", "--seed", "3"]
    summary = _main("char_rnn", argv, tmp_path / "a")
    config = json.loads((tmp_path / "a" / "char_rnn.json").read_text())
    model = CharModel(len(config["vocab"]), config["embedding_size"], config["hidden_size"], config["num_layers"],
                      config["cell"], config["dropout"])
    model.load_state_dict(nn.load(summary["checkpoint"]))   # strict: same names and shapes
    raw = Path(summary["text"]).read_text(encoding="utf-8")[: config["max_chars"]]
    text = Text(raw)
    assert text.vocab == config["vocab"]
    held_out = text.ids[split_point(len(text.ids), config["val_fraction"]):]
    assert evaluate_bits(model, held_out, "cpu") == pytest.approx(summary["val_bpc"], rel=1e-5)
    # the same --seed repeats the run exactly (weights and sample); another seed does not
    again = _main("char_rnn", argv, tmp_path / "b")
    first, second = nn.load(summary["checkpoint"]), nn.load(again["checkpoint"])
    assert all(np.array_equal(first[k].numpy(), second[k].numpy()) for k in first)
    assert (again["val_bpc"], again["sample"]) == (summary["val_bpc"], summary["sample"])
    other = nn.load(_main("char_rnn", [*argv[:-1], "4"], tmp_path / "c")["checkpoint"])
    assert not all(np.array_equal(first[k].numpy(), other[k].numpy()) for k in first)


@pytest.mark.parametrize("name", ["parity", "sentiment"])
def test_an_out_folder_that_cannot_be_made_is_a_clear_error(name, tmp_path, monkeypatch, capsys):
    # --out naming a file raised FileExistsError from os.makedirs (a traceback)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken").write_text("keep me")
    with pytest.raises(SystemExit) as raised:
        importlib.import_module(f"examples.{name}").main(["--out", "taken", "--no-progress"])
    assert raised.value.code == 2
    assert "--out" in capsys.readouterr().err and (tmp_path / "taken").read_text() == "keep me"


def test_repeated_list_values_run_once(tmp_path, monkeypatch, capsys):
    # `--cells rnn rnn --lengths 2 2` trained four models, printed four epoch lines and reported one result
    monkeypatch.chdir(tmp_path)
    argv = ["--cells", "rnn", "rnn", "--lengths", "2", "2", "--epochs", "1", "--steps-per-epoch", "1",
            "--val-size", "2", "--hidden-size", "2"]
    summary = _main("adding_problem", argv, tmp_path / "a")
    assert summary["runs"] == 1 and capsys.readouterr().out.count("rnn T=2") == 1
    summary = _main("forecast", ["--series", "ar", "ar", "--modes", "many-to-one", "many-to-one", "--length", "40",
                                 "--window", "4", "--epochs", "1", "--hidden-size", "2"], tmp_path / "f")
    assert list(summary["val_mse"]) == ["ar/many-to-one"] and capsys.readouterr().out.count("many-to-one  epoch") == 1
