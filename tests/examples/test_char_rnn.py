"""Smoke test of examples/char_rnn.py: a tiny model on the start of the small shipped text."""

from __future__ import annotations

import numpy as np
import pytest

from examples import char_rnn
from examples.char_rnn import Text, streams, unigram_bits


def test_streams_and_unigram_baseline():
    ids = np.arange(10)
    assert streams(ids, 3).tolist() == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    text = Text("abab")
    assert text.vocab == ["a", "b"] and text.decode(text.ids.tolist()) == "abab"
    # two equally frequent characters: exactly one bit each
    assert abs(unigram_bits(text.ids, text.ids, 2) - 1.0) < 1e-12


def test_char_rnn_runs_and_reports_bits_per_character(run_example, tmp_path):
    summary, stdout = run_example(
        "char_rnn", "--text", "small", "--epochs", "1", "--max-chars", "3000", "--hidden-size", "32",
        "--batch-size", "8", "--seq-len", "32", "--sample-length", "40", "--prime", "We hold ", "--cell", "gru",
        "--out", str(tmp_path))
    assert summary["val_bpc"] > 0 and summary["unigram_bpc"] > 0
    assert summary["sample"].startswith("We hold ")
    assert len(summary["sample"]) == len("We hold ") + 40
    assert "bits/char" in stdout
    assert (tmp_path / "char_rnn.npz").exists()


def test_char_rnn_summary_names_its_text_and_split(run_example, tmp_path):
    # markov_text puts char_rnn's bits/char beside its table only for a run on the same text and split
    summary, _ = run_example(
        "char_rnn", "--text", "small", "--epochs", "1", "--max-chars", "2000", "--hidden-size", "16",
        "--batch-size", "4", "--seq-len", "16", "--sample-length", "5", "--out", str(tmp_path))
    assert summary["text"].endswith("us_documents.txt")
    assert summary["val_fraction"] == 0.1 and summary["max_chars"] == 2000
    assert 0 < summary["train_cpu_seconds"]


def test_char_rnn_text_too_short_is_a_usage_error_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as raised:
        char_rnn.main(["--text", "small", "--batch-size", "1000", "--out", str(tmp_path / "out")])
    assert raised.value.code == 2
    assert "too short for --batch-size 1000" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
