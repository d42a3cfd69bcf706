"""Smoke test of examples/forecast.py."""

from __future__ import annotations

import numpy as np

from examples.forecast import make_series, windows


def test_windows_target_the_next_value():
    x, y = windows(np.arange(10, dtype=np.float32), 4)
    assert x.shape == (6, 4) and np.array_equal(y, x + 1)


def test_ar_series_is_normalised_with_a_noise_floor():
    series, floor = make_series("ar", 3000, np.random.default_rng(0))
    assert abs(series.std() - 1) < 1e-3 and 0 < floor < 1
    assert abs(make_series("sine", 50, np.random.default_rng(0))[1] - 0.01) < 1e-12


def test_forecast_runs_both_modes(run_example, tmp_path):
    summary, stdout = run_example(
        "forecast", "--epochs", "1", "--length", "300", "--window", "8", "--hidden-size", "8",
        "--series", "ar", "--out", str(tmp_path))
    assert set(summary["val_mse"]) == {"ar/many-to-one", "ar/many-to-many"}
    assert all(v > 0 for v in summary["naive_mse"].values())
    assert "naive last value" in stdout
    assert (tmp_path / "forecast_ar_many-to-one.npz").exists()
