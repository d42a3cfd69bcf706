"""Smoke test of examples/vanishing_gradients.py: the RNN's gradient fades faster than the LSTM's."""

from __future__ import annotations

import json


def test_vanishing_gradients_measures_plots_and_draws(run_example, tmp_path):
    summary, stdout = run_example(
        "vanishing_gradients", "--length", "20", "--hidden-size", "8", "--batch-size", "4",
        "--forget-biases", "3", "--graph-steps", "4", "--epochs", "1", "--steps-per-epoch", "2",
        "--out", str(tmp_path))
    ratios = summary["first_to_last_ratio"]
    assert set(ratios) == {"rnn", "lstm b_f=3", "rnn (trained)", "lstm b_f=3 (trained)"}
    assert ratios["rnn"] < ratios["lstm b_f=3"]
    assert (tmp_path / "gradient_norms.png").stat().st_size > 0
    curves = json.loads((tmp_path / "gradient_norms.json").read_text())
    assert len(curves["rnn"]) == 20
    assert set(summary["graphs"]) == {"rnn", "lstm b_f=3"}
    for path in summary["graphs"].values():
        text = open(path, encoding="utf-8").read()
        assert text.count("∂L/∂h") == 4   # one label per time-step box of the 4-step graph
