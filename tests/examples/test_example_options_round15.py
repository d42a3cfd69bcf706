"""Examples' command lines (round 15): options that would do nothing are usage errors, and a diverged training
run stops with exit 1 and saves nothing.

Each program runs in-process (``main(argv)``) with tiny settings in a temporary folder, so the file stays fast.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from examples import common
from minigrad import nn

ROOT = Path(__file__).resolve().parents[2]
F = nn.functional

# tiny runs of every example that trains (a few steps each), and the loss function its training step calls
TINY = {
    "adding_problem": (["--epochs", "1", "--steps-per-epoch", "2", "--cells", "lstm", "--lengths", "4",
                        "--hidden-size", "4", "--val-size", "4", "--batch-size", "8"], "mse_loss"),
    "char_rnn": (["--text", "small", "--max-chars", "2000", "--epochs", "1", "--hidden-size", "4",
                  "--embedding-size", "2", "--batch-size", "2", "--seq-len", "8", "--sample-length", "2"],
                 "cross_entropy"),
    "dynamical_systems": (["--length", "40", "--windows", "5", "--ar-length", "200", "--ar-steps", "5",
                           "--alpha-steps", "5", "--epochs", "1", "--steps-per-epoch", "2", "--delay", "4",
                           "--bridge-window", "2", "--hidden-size", "4", "--val-size", "8", "--batch-size", "8"],
                          "mse_loss"),
    "forecast": (["--epochs", "1", "--length", "100", "--window", "4", "--hidden-size", "4", "--series", "ar",
                  "--modes", "many-to-one", "--batch-size", "16"], "mse_loss"),
    "parity": (["--epochs", "1", "--steps-per-epoch", "2", "--hidden-size", "4", "--val-size", "8",
                "--batch-size", "8", "--length", "5", "--test-length", "6"], "binary_cross_entropy_with_logits"),
    "sentiment": (["--epochs", "1", "--reviews", "60", "--hidden-size", "4", "--embedding-size", "4",
                   "--batch-size", "16"], "cross_entropy"),
    "seq2seq": (["--epochs", "1", "--pairs", "100", "--hidden-size", "8", "--embedding-size", "4",
                 "--batch-size", "32", "--no-graph"], "cross_entropy"),
    "vanishing_gradients": (["--length", "6", "--hidden-size", "4", "--batch-size", "4", "--epochs", "1",
                             "--steps-per-epoch", "2", "--no-graph"], "mse_loss"),
}


def _main(name: str, argv: list[str], out: Path, monkeypatch, tmp_path: Path):
    """``examples.<name>.main(argv)`` run in ``tmp_path`` with output to ``out``."""
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(f"examples.{name}")
    return module.main([*argv, "--out", str(out), "--no-progress"])


def _usage_error(name: str, argv: list[str], tmp_path: Path, monkeypatch, capsys) -> str:
    """Assert ``argv`` is a usage error (exit 2) that writes nothing; returns stderr."""
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as raised:
        _main(name, argv, out, monkeypatch, tmp_path)
    error = capsys.readouterr().err
    assert raised.value.code == 2, f"{name} {argv}: exit {raised.value.code}\n{error}"
    assert not out.exists(), f"{name} {argv} made --out"
    assert "usage:" in error and "error:" in error
    return error


# --- options that would do nothing -----------------------------------------------------------------------------

# small sizes put before each case's options, so that a case that runs after all stays quick
SMALL = {
    "adding_problem": ["--epochs", "1", "--steps-per-epoch", "1", "--lengths", "4", "--hidden-size", "2",
                       "--val-size", "4", "--batch-size", "4"],
    "char_rnn": ["--epochs", "1", "--hidden-size", "4", "--embedding-size", "2", "--batch-size", "2", "--seq-len", "8",
                 "--sample-length", "2"],
    "forecast": ["--epochs", "1", "--hidden-size", "2", "--series", "ar", "--modes", "many-to-one"],
    "markov_text": ["--max-order", "2", "--word-orders", "1"],
    "sentiment": ["--epochs", "1", "--hidden-size", "2", "--embedding-size", "2"],
    "seq2seq": ["--epochs", "1", "--pairs", "100", "--hidden-size", "8", "--embedding-size", "4", "--batch-size", "32",
                "--no-graph"],
    "vanishing_gradients": ["--length", "6", "--hidden-size", "4", "--batch-size", "4"],
}

# (example, argv, the options the message must name): each used to run and silently ignore the first option
NO_EFFECT = [
    ("seq2seq", ["--peeky", "--attention"], ["--peeky", "--attention"]),
    ("seq2seq", ["--attention-size", "32"], ["--attention-size", "--attention"]),
    ("seq2seq", ["--compile", "--attention"], ["--compile", "--attention"]),
    ("seq2seq", ["--compile", "--teacher-forcing", "0.5"], ["--compile", "--teacher-forcing"]),
    ("seq2seq", ["--compile", "--no-peeky"], ["--compile", "--no-peeky"]),
    ("seq2seq", ["--compile", "--num-layers", "2"], ["--compile", "--num-layers"]),
    ("adding_problem", ["--forget-bias", "2", "--cells", "rnn", "gru"], ["--forget-bias", "--cells"]),
    ("vanishing_gradients", ["--forget-biases", "1", "--cells", "rnn"], ["--forget-biases", "--cells"]),
    ("vanishing_gradients", ["--lr", "0.1"], ["--lr", "--epochs"]),
    ("vanishing_gradients", ["--steps-per-epoch", "5", "--epochs", "0"], ["--steps-per-epoch", "--epochs"]),
    ("vanishing_gradients", ["--graph-steps", "5", "--no-graph"], ["--graph-steps", "--no-graph"]),
    ("char_rnn", ["--text", "small", "--max-chars", "10000000"], ["--max-chars", "--text"]),
    ("markov_text", ["--text", "small", "--max-chars", "10000000"], ["--max-chars", "--text"]),
    ("markov_text", ["--text", "small", "--words", "5", "--copy-span", "9"], ["--copy-span", "--words"]),
    # batch sizes larger than the data
    ("seq2seq", ["--pairs", "100", "--batch-size", "91"], ["--batch-size", "--pairs"]),
    ("sentiment", ["--reviews", "50", "--batch-size", "41"], ["--batch-size", "--reviews"]),
    ("forecast", ["--length", "100", "--window", "4", "--batch-size", "77"], ["--batch-size", "--length"]),
    # dropout 1 zeroes every activation: nothing can be learned
    ("char_rnn", ["--text", "small", "--dropout", "1"], ["--dropout"]),
    ("seq2seq", ["--num-layers", "2", "--dropout", "1"], ["--dropout"]),
]


@pytest.mark.parametrize(("name", "argv", "options"), NO_EFFECT, ids=[f"{n} {' '.join(a)}" for n, a, _ in NO_EFFECT])
def test_options_that_would_do_nothing_are_usage_errors(name, argv, options, tmp_path, monkeypatch, capsys):
    error = _usage_error(name, [*SMALL[name], *argv], tmp_path, monkeypatch, capsys)
    for option in options:
        assert option in error, f"{name} {argv}: the message does not name {option}:\n{error}"


def test_the_same_combinations_with_defaults_still_run(tmp_path, monkeypatch, capsys):
    """--attention turns off the default peeky decoder and the default --compile, as before; only given ones clash."""
    argv, _ = TINY["seq2seq"]
    summary = _main("seq2seq", [*argv, "--attention", "--attention-size", "4"], tmp_path / "a", monkeypatch, tmp_path)
    assert summary["attention"] is True and summary["peeky"] is False
    seq2seq = importlib.import_module("examples.seq2seq")
    for consistent in (["--attention", "--no-peeky", "--no-compile"], ["--compile", "--peeky"], ["--no-compile"]):
        parser = seq2seq.build_parser()
        seq2seq.check_combinations(parser, *common.parse(parser, consistent))   # no usage error


def test_batch_sizes_up_to_the_data_run(tmp_path, monkeypatch, capsys):
    # exactly the data: allowed; the default batch size over a small data set trains on one batch, with a note
    summary = _main("sentiment", ["--reviews", "50", "--batch-size", "40", "--epochs", "1", "--hidden-size", "2",
                                  "--embedding-size", "2"], tmp_path / "s", monkeypatch, tmp_path)
    assert summary["epochs"] == 1
    summary = _main("sentiment", ["--reviews", "20", "--epochs", "1", "--hidden-size", "2", "--embedding-size", "2"],
                    tmp_path / "t", monkeypatch, tmp_path)
    assert "note: the default --batch-size 64 is larger than the 16 training reviews" in capsys.readouterr().out


def test_parse_tells_given_options_from_defaults():
    parser = importlib.import_module("examples.seq2seq").build_parser()
    args, given = common.parse(parser, ["--no-peeky", "--hidden-size", "128", "--attention"])
    assert given == {"peeky", "hidden_size", "attention"}
    assert args.hidden_size == 128 and args.peeky is False and args.compile is True


# --- data files ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["char_rnn", "markov_text"])
def test_binary_empty_and_folder_texts_are_usage_errors(name, tmp_path, monkeypatch, capsys):
    binary = tmp_path / "zeros.bin"
    binary.write_bytes(b"\x00" * 5000)   # valid UTF-8, but no text
    error = _usage_error(name, ["--text", str(binary)], tmp_path, monkeypatch, capsys)
    assert "binary" in error and "--text" in error
    undecodable = tmp_path / "random.bin"
    undecodable.write_bytes(bytes(range(256)) * 20)
    assert "--text" in _usage_error(name, ["--text", str(undecodable)], tmp_path, monkeypatch, capsys)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert "too short" in _usage_error(name, ["--text", str(empty)], tmp_path, monkeypatch, capsys)
    assert "--text" in _usage_error(name, ["--text", str(tmp_path)], tmp_path, monkeypatch, capsys)


# --- training that diverges ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(TINY))
def test_a_nan_loss_stops_training_and_writes_no_checkpoint(name, tmp_path, monkeypatch, capsys):
    """The loss of every training step turned NaN (as a too-large --lr does): exit 1, a message, nothing saved."""
    argv, loss_name = TINY[name]
    original = getattr(F, loss_name)
    monkeypatch.setattr(F, loss_name, lambda *a, **k: original(*a, **k) * float("nan"))
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as raised:
        _main(name, argv, out, monkeypatch, tmp_path)
    error = capsys.readouterr().err
    assert raised.value.code == 1, error
    assert "training diverged: the loss is nan at epoch 1, step 1" in error
    assert "learning rate" in error and "try a smaller --lr" in error
    assert not [p.name for p in out.iterdir() if p.suffix in (".npz", ".json")]


def test_a_diverging_lr_keeps_the_good_checkpoint(tmp_path, monkeypatch, capsys):
    """forecast at --lr 1e20 (a real run: the loss reaches inf) must not overwrite the checkpoint of a good run."""
    argv, _ = TINY["forecast"]
    out = tmp_path / "out"
    _main("forecast", argv, out, monkeypatch, tmp_path)
    checkpoint = out / "forecast_ar_many-to-one.npz"
    good, summary = checkpoint.read_bytes(), (out / "summary.json").read_text()
    capsys.readouterr()
    with pytest.raises(SystemExit) as raised:
        _main("forecast", [*argv, "--lr", "1e20"], out, monkeypatch, tmp_path)
    error = capsys.readouterr().err
    assert raised.value.code == 1
    assert "training diverged: the loss is inf at epoch 1, step" in error and "--lr" in error
    assert "of ar many-to-one" in error
    assert checkpoint.read_bytes() == good and (out / "summary.json").read_text() == summary


def test_weights_that_went_nan_are_never_saved(tmp_path, capsys):
    """The last step can break the weights after a finite loss: save_checkpoint refuses them."""
    model = nn.Linear(2, 2)
    model.weight.data[0, 0] = float("nan")
    with pytest.raises(SystemExit) as raised:
        common.save_checkpoint(model, str(tmp_path), "broken", config={"a": 1})
    assert raised.value.code == 1
    assert "broken's weights weight hold nan or inf" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_diverged_run_as_a_program_exits_1_without_a_traceback(tmp_path):
    argv = ["--epochs", "1", "--steps-per-epoch", "3", "--cells", "lstm", "--lengths", "4", "--hidden-size", "4",
            "--val-size", "4", "--batch-size", "8", "--lr", "1e20", "--no-progress", "--out", str(tmp_path / "o")]
    result = subprocess.run([sys.executable, "-m", "examples.adding_problem", *argv], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "training diverged" in result.stderr
    assert not list((tmp_path / "o").iterdir())


# --- --help --------------------------------------------------------------------------------------------------------

HELP = ["adding_problem", "char_rnn", "dynamical_systems", "forecast", "markov_text", "parity", "sentiment", "seq2seq",
        "vanishing_gradients"]


@pytest.mark.parametrize("name", HELP)
def test_help_shows_every_options_default(name, capsys):
    parser = importlib.import_module(f"examples.{name}").build_parser()
    with pytest.raises(SystemExit) as raised:
        parser.parse_args(["--help"])
    assert raised.value.code == 0
    text = " ".join(capsys.readouterr().out.split())   # argparse wraps lines
    options = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    assert text.count("(default: ") == len(options)
    for action in options:
        assert action.option_strings[0] in text
