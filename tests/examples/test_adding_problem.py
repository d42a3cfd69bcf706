"""Smoke test of examples/adding_problem.py."""

from __future__ import annotations

import numpy as np

from examples.adding_problem import make_batch


def test_batches_mark_two_values_one_per_half():
    x, y = make_batch(np.random.default_rng(0), 10, 6)
    assert x.shape == (10, 6, 2) and y.shape == (6,)
    assert np.array_equal(x[:, :, 1].sum(axis=0), np.full(6, 2.0))
    assert np.array_equal(x[:5, :, 1].sum(axis=0), np.ones(6))
    np.testing.assert_allclose((x[:, :, 0] * x[:, :, 1]).sum(axis=0), y, rtol=1e-6)


def test_adding_problem_compares_cells(run_example, tmp_path):
    summary, stdout = run_example(
        "adding_problem", "--epochs", "1", "--steps-per-epoch", "2", "--lengths", "6", "12", "--hidden-size", "8",
        "--val-size", "20", "--out", str(tmp_path))
    assert set(summary["val_mse"]) == {"rnn", "lstm", "gru"}
    assert set(summary["val_mse"]["gru"]) == {"6", "12"}
    assert abs(summary["baseline_mse"] - 1 / 6) < 1e-5
    assert summary["runs"] == 6
    assert (tmp_path / "adding_lstm_T12.npz").exists()
