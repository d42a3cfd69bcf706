"""examples/recurrences.py against closed-form NumPy answers, and a smoke run of examples/dynamical_systems.py."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from examples import dynamical_systems
from examples.recurrences import (
    autoregressive,
    exponential_average,
    fit_ar_adam,
    fit_ar_least_squares,
    fit_linear_unit,
    lagged,
    linear_unit,
    moving_average,
    running_maximum,
    running_sum,
)

RNG = np.random.default_rng(7)
SERIES = RNG.standard_normal(120)


@pytest.mark.parametrize("window", [1, 2, 5, 15, 30, 120])
def test_moving_average_matches_the_window_mean(window):
    expected = np.array([SERIES[t - window + 1 : t + 1].mean() for t in range(window - 1, len(SERIES))])
    got = moving_average(SERIES, window).numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got, np.convolve(SERIES, np.ones(window) / window, "valid"), atol=1e-12)


@pytest.mark.parametrize(("alpha", "start"), [(0.0, 0.0), (0.5, 0.0), (0.9, 2.0), (1.0, 3.0)])
def test_exponential_average_matches_its_closed_form(alpha, start):
    t = np.arange(len(SERIES))
    # h_t = (1 − α) Σ_{j ≤ t} α^{t−j} x_j + α^{t+1} h_{−1}
    weights = np.tril(alpha ** np.clip(t[:, None] - t[None, :], 0, None))
    expected = (1 - alpha) * weights @ SERIES + alpha ** (t + 1) * start
    np.testing.assert_allclose(exponential_average(SERIES, alpha, start).numpy(), expected, atol=1e-12)


def test_exponential_average_runs_over_a_batch():
    batch = RNG.standard_normal((30, 4))
    whole = exponential_average(batch, 0.7).numpy()
    for column in range(4):
        np.testing.assert_allclose(whole[:, column], exponential_average(batch[:, column], 0.7).numpy(), atol=1e-14)


def test_running_summaries_match_numpy():
    np.testing.assert_array_equal(running_maximum(SERIES).numpy(), np.maximum.accumulate(SERIES))
    np.testing.assert_allclose(running_sum(SERIES).numpy(), np.cumsum(SERIES), atol=1e-12)
    np.testing.assert_array_equal(running_maximum(SERIES[:1]).numpy(), SERIES[:1])


def test_growth_and_decay_match_the_closed_form():
    # x_t = w0 + w1 x_{t−1}: x_t = w1^t (x_0 − x*) + x*, with fixed point x* = w0 / (1 − w1)
    for w0, w1 in [(0.0, 1.05), (0.0, 0.9), (1.0, 0.5), (2.0, -0.8)]:
        got = autoregressive([w1], np.zeros(30), [1.0], bias=w0).numpy()
        fixed = w0 / (1 - w1)
        t = np.arange(1, 31)
        np.testing.assert_allclose(got, w1**t * (1.0 - fixed) + fixed, rtol=1e-12, atol=1e-12)


def test_autoregressive_matches_a_direct_loop():
    coefficients = np.array([0.5, -0.2, 0.1])
    noise = RNG.standard_normal(50)
    expected = [0.3, -0.1, 0.2]
    for t in range(50):
        expected.append(coefficients @ np.array(expected[-1:-4:-1]) + noise[t])
    np.testing.assert_allclose(autoregressive(coefficients, noise, [0.3, -0.1, 0.2]).numpy(), expected[3:], atol=1e-12)


def _ar4(length=3000, seed=3):
    rng = np.random.default_rng(seed)
    true = np.array([0.6, -0.3, 0.2, 0.15])
    return true, autoregressive(true, 0.5 * rng.standard_normal(length + 200), np.zeros(4)).numpy()[200:]


def test_ar_fit_by_adam_agrees_with_least_squares_on_a_generated_ar4():
    true, series = _ar4()
    least_squares = fit_ar_least_squares(series, 4)
    adam, loss = fit_ar_adam(series, 4, steps=1500)
    assert np.abs(adam - least_squares).max() < 1e-3
    assert np.abs(least_squares - true).max() < 0.1          # sampling error of 3,000 values
    lags, following = lagged(series, 4)
    assert loss == pytest.approx(((lags @ adam - following) ** 2).mean(), rel=1e-6)
    assert loss == pytest.approx(0.25, rel=0.1)              # the noise variance: the floor


def test_lagged_lays_out_the_lags():
    lags, following = lagged(np.arange(6.0), 2)
    np.testing.assert_array_equal(lags, [[1, 0], [2, 1], [3, 2], [4, 3]])
    np.testing.assert_array_equal(following, [2, 3, 4, 5])


def test_alpha_is_recovered_by_a_one_unit_linear_recurrence():
    inputs = RNG.standard_normal((40, 16))
    for alpha in (0.3, 0.8):
        states = exponential_average(inputs, alpha).numpy()
        weight_hh, weight_xh, loss = fit_linear_unit(inputs, states, steps=400)
        assert abs(weight_hh - alpha) < 1e-3
        assert abs(weight_xh - (1 - alpha)) < 1e-3


def test_linear_unit_is_differentiable_through_time():
    inputs = mg.tensor(RNG.standard_normal((6, 2)))
    weight = mg.tensor(0.7, dtype=mg.float64, requires_grad=True)
    linear_unit(inputs, weight, 0.3).sum().backward()
    # d/dw Σ_t h_t by finite differences
    def total(w):
        return linear_unit(inputs, w, 0.3).sum().item()
    numeric = (total(0.7 + 1e-6) - total(0.7 - 1e-6)) / 2e-6
    assert weight.grad.item() == pytest.approx(numeric, rel=1e-6)


def test_recurrences_refuse_bad_input():
    with pytest.raises(ValueError, match="shorter than the window 30"):
        moving_average(SERIES[:10], 30)
    with pytest.raises(ValueError, match="at least 1"):
        moving_average(SERIES, 0)
    with pytest.raises(ValueError, match="too short for order 4"):
        lagged(SERIES[:4], 4)
    with pytest.raises(ValueError, match="alpha must lie in"):
        exponential_average(SERIES, 1.5)
    with pytest.raises(ValueError, match="start values"):
        autoregressive([0.5, 0.1], np.zeros(3), [1.0])


@pytest.mark.parametrize(("argv", "words"), [
    (["--length", "20", "--windows", "5", "30"], "shorter than the window 30"),
    (["--ar-length", "20"], "too short to fit AR(4)"),
    (["--ar-coefficients", "1.2"], "unstable"),
    (["--bridge-window", "20", "--delay", "20"], "must be shorter than --delay"),
    (["--alpha", "1"], "0 < α < 1"),
])
def test_dynamical_systems_bad_input_is_a_usage_error_and_writes_nothing(argv, words, tmp_path, monkeypatch,
                                                                          capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as raised:
        dynamical_systems.main([*argv, "--out", str(tmp_path / "out")])
    assert raised.value.code == 2
    assert words in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_dynamical_systems_runs_and_the_gru_beats_ar_past_the_window(run_example, tmp_path):
    summary, stdout = run_example(
        "dynamical_systems", "--length", "120", "--ar-length", "600", "--ar-steps", "600", "--alpha-steps", "150",
        "--epochs", "4", "--steps-per-epoch", "25", "--delay", "8", "--bridge-window", "3", "--hidden-size", "16",
        "--val-size", "200", "--out", str(tmp_path), timeout=60)
    assert summary["ar_agreement"] < 1e-3
    assert summary["ar_bridge_mse"] > 0.7          # AR(3) cannot see the value 8 steps back: about its variance
    assert summary["val_mse"] < 0.5 * summary["ar_bridge_mse"]
    assert abs(summary["alpha_learned"] - 0.8) < 1e-2
    assert (tmp_path / "dynamical_systems.png").stat().st_size > 10_000
    assert (tmp_path / "dynamical_systems.npz").exists()
    assert "AR(4)" in stdout and "GRU" in stdout


@pytest.mark.gpu
def test_dynamical_systems_runs_on_cuda(tmp_path):
    """--device cuda: on a real GPU, or else on the strict CuPy stand-in (refuses implicit host copies)."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    runner = ["-m"] if mg.cuda.is_available() and not getattr(mg.array_module(mg.zeros(1, device="cuda").data),
                                                                "is_strict_stand_in", False) \
        else ["-m", "tests.support.run_with_strict_cupy"]
    result = subprocess.run(
        [sys.executable, *runner, "examples.dynamical_systems", "--device", "cuda", "--length", "60",
         "--ar-length", "200", "--ar-steps", "50", "--alpha-steps", "10", "--epochs", "1", "--steps-per-epoch", "3",
         "--delay", "6", "--bridge-window", "2", "--hidden-size", "8", "--val-size", "20", "--no-progress",
         "--out", str(tmp_path)],
        cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert '"device": "cuda:0"' in result.stdout.splitlines()[-1]
