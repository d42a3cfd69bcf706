"""Every example's command line refuses nonsense with a usage error (exit 2) and writes nothing (issue 13.8)."""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from examples import common

# example → options with nonsense values (each example's own names for batch size and epochs)
NONSENSE = {
    "adding_problem": [["--batch-size", "0"], ["--epochs", "-1"], ["--lr", "0"], ["--hidden-size", "0"]],
    "char_rnn": [["--batch-size", "0"], ["--epochs", "-1"], ["--dropout", "1.5"], ["--seq-len", "0"],
                 ["--text", "no/such/file.txt"], ["--val-fraction", "1"]],
    "dynamical_systems": [["--batch-size", "0"], ["--epochs", "-1"], ["--alphas", "2"], ["--length", "-5"]],
    "forecast": [["--batch-size", "0"], ["--epochs", "-1"], ["--window", "0"], ["--lr", "nan"]],
    "markov_text": [["--max-order", "0"], ["--words", "-1"], ["--word-orders", "0"], ["--text", "missing.txt"]],
    "parity": [["--batch-size", "0"], ["--epochs", "-1"], ["--lr", "-0.1"], ["--length", "0"]],
    "sentiment": [["--batch-size", "0"], ["--epochs", "-1"], ["--val-fraction", "0"]],
    "seq2seq": [["--batch-size", "0"], ["--epochs", "-1"], ["--dropout", "-0.1"], ["--teacher-forcing", "1.1"]],
    "vanishing_gradients": [["--batch-size", "0"], ["--epochs", "-1"], ["--length", "0"]],
}
BAD_DEVICES = ["tpu", "cuda:x", "gpu0", ""]
CASES = [(name, argv) for name, lists in NONSENSE.items() for argv in lists]
CASES += [(name, ["--device", device]) for name in NONSENSE for device in BAD_DEVICES[:2]]


def _usage_error(name: str, argv: list[str], tmp_path, monkeypatch, capsys) -> str:
    """Run ``examples.<name>.main(argv)`` in an empty folder; assert exit 2 and that the folder stays empty."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    module = importlib.import_module(f"examples.{name}")
    with pytest.raises(SystemExit) as raised:
        module.main([*argv, "--out", str(out), "--no-progress"])
    assert raised.value.code == 2, f"{name} {argv}: exit {raised.value.code}"
    assert not any(tmp_path.iterdir()), f"{name} {argv} wrote {list(tmp_path.iterdir())}"
    error = capsys.readouterr().err
    assert "usage:" in error and "error:" in error
    return error


@pytest.mark.parametrize(("name", "argv"), CASES, ids=[f"{n}{' '.join(a)}" for n, a in CASES])
def test_examples_refuse_nonsense_options(name, argv, tmp_path, monkeypatch, capsys):
    error = _usage_error(name, argv, tmp_path, monkeypatch, capsys)
    assert argv[0] in error   # the message names the option


def test_examples_help_lists_the_house_options(capsys):
    for name in NONSENSE:
        module = importlib.import_module(f"examples.{name}")
        with pytest.raises(SystemExit) as raised:
            module.main(["--help"])
        assert raised.value.code == 0
        text = capsys.readouterr().out
        for option in ("--device", "--seed", "--threads", "--out", "--no-progress"):
            assert option in text, f"{name} --help lacks {option}"


@pytest.mark.parametrize(("function", "good", "bad"), [
    (common.positive_int, {"1": 1, "12": 12}, ["0", "-1", "1.5", "x", ""]),
    (common.nonnegative_int, {"0": 0, "7": 7}, ["-1", "2.0", "nan"]),
    (common.positive_float, {"0.1": 0.1, "3e-3": 3e-3}, ["0", "-1e-3", "nan", "inf", "x"]),
    (common.nonnegative_float, {"0": 0.0, "5": 5.0}, ["-0.5", "inf", "nan"]),
    (common.probability, {"0": 0.0, "1": 1.0, "0.25": 0.25}, ["-0.01", "1.01", "nan"]),
    (common.fraction, {"0.1": 0.1, "0.5": 0.5}, ["0", "1", "-0.2", "nan"]),
])
def test_examples_argument_types(function, good, bad):
    for text, value in good.items():
        assert function(text) == value
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError):
            function(text)


def test_examples_device_type():
    assert common.device("cpu") == "cpu"
    assert common.device("CPU") == "cpu"
    for name in BAD_DEVICES:
        with pytest.raises(argparse.ArgumentTypeError, match="cpu, cuda or cuda:N"):
            common.device(name)
    if not common.mg.cuda.is_available():
        with pytest.raises(argparse.ArgumentTypeError, match="GPU"):
            common.device("cuda")
        with pytest.raises(argparse.ArgumentTypeError, match="GPU"):
            common.device("cuda:3")


def test_examples_text_file_type(tmp_path):
    assert common.text_file("small").endswith("us_documents.txt")
    assert common.text_file("kjv").endswith("kjv_genesis_ruth.txt")
    path = tmp_path / "t.txt"
    path.write_text("hello")
    assert common.text_file(str(path)) == str(path)
    for bad in (str(tmp_path), str(tmp_path / "missing.txt")):
        with pytest.raises(argparse.ArgumentTypeError, match="shipped texts"):
            common.text_file(bad)


def test_examples_limit_blas_threads_takes_effect():
    before = {info["filepath"]: info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}
    try:
        common.limit_blas_threads(1)
        assert all(info["num_threads"] == 1 for info in threadpool_info() if info["user_api"] == "blas")
    finally:
        for count in set(before.values()):
            threadpool_limits(limits=count, user_api="blas")


def test_examples_importing_changes_no_environment():
    threads = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    env = {k: v for k, v in os.environ.items() if k not in threads}
    code = "import os, examples.char_rnn; print(os.environ.get('OPENBLAS_NUM_THREADS'))"
    result = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None"
