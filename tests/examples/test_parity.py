"""Smoke test of examples/parity.py."""

from __future__ import annotations

import numpy as np

from examples.parity import make_bits


def test_running_parity_labels():
    bits, parity = make_bits(np.random.default_rng(0), 12, 5)
    assert bits.shape == (12, 5, 1) and parity.shape == (12, 5)
    assert np.array_equal(parity[-1], bits[:, :, 0].sum(axis=0) % 2)


def test_parity_runs(run_example, tmp_path):
    summary, stdout = run_example(
        "parity", "--epochs", "1", "--steps-per-epoch", "5", "--length", "8", "--test-length", "16",
        "--hidden-size", "8", "--val-size", "50", "--target", "final", "--cell", "rnn", "--out", str(tmp_path))
    assert 0.0 <= summary["val_accuracy"] <= 1.0 and 0.0 <= summary["long_accuracy"] <= 1.0
    assert summary["target"] == "final"
    assert "held-out accuracy" in stdout
    assert (tmp_path / "parity.npz").exists()
