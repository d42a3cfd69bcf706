"""From dynamical systems to RNNs: fixed- and variable-order recurrences, AR(W) fitted two ways, and a GRU.

Every system is one recurrence on minigrad tensors (examples/recurrences.py), drawn next to its input:

* fixed order: moving averages (W = 5, 15, 30) of a noisy series, exponential growth and decay
  x_t = w0 + w1·x_{t−1}, an AR(4) process;
* variable order: exponential averages h_t = α·h_{t−1} + (1−α)·x_t, the running maximum and sum.

AR(W) is fitted to the AR(4) series by Adam on nn.Parameters (one-step MSE) and by numpy.linalg.lstsq;
both must agree with each other and with the true coefficients. The exponential average is a
one-unit linear RNN with fixed weights: its α is learned back from (x, h) pairs by BPTT. Finally, a
series whose next value repeats its first one, --delay steps back, beyond any window W < delay:
AR(W) cannot reach it and an nn.GRU, whose state carries the past, can. Both MSEs are printed.
The GRU runs on --device; the small recurrences and fits run on the host in float64.

    python -m examples.dynamical_systems
    python -m examples.dynamical_systems --delay 40 --bridge-window 10 --epochs 12
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import minigrad as mg
from examples import common
from examples.recurrences import (
    autoregressive,
    exponential_average,
    fit_ar_adam,
    fit_ar_least_squares,
    fit_linear_unit,
    lagged,
    moving_average,
    running_maximum,
    running_sum,
)
from minigrad import nn

F = nn.functional
GROWTH = ((0.0, 1.02), (0.0, 0.95), (1.0, 0.8), (0.0, -0.9))   # (w0, w1): growth, decay, to a fixed point, oscillation


class Recall(nn.Module):
    """GRU → Linear on its last output: series (T, B, 1) → the next value (B,)."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.gru = nn.GRU(1, hidden_size)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, series: mg.Tensor) -> mg.Tensor:
        output, _ = self.gru(series)
        return self.head(output[-1]).reshape(-1)


def recall_task(batch: int, delay: int, rng: np.random.Generator, distractor: float = 0.5) -> tuple[np.ndarray, ...]:
    """Series (delay, B) whose first value is a cue ~ N(0, 1) and the rest noise ~ N(0, distractor²);
    the value after them, the target (B,), repeats the cue: it depends on an input ``delay`` steps back."""
    series = distractor * rng.standard_normal((delay, batch))
    series[0] = rng.standard_normal(batch)
    return series.astype(np.float32), series[0].copy()


def build_parser() -> argparse.ArgumentParser:
    parser = common.parser("dynamical_systems", __doc__, epochs=8)
    add = parser.add_argument
    add("--length", type=common.positive_int, default=400, help="values per demonstration series")
    add("--windows", nargs="+", type=common.positive_int, default=[5, 15, 30], help="moving-average windows W")
    add("--alphas", nargs="+", type=common.probability, default=[0.5, 0.9, 0.97], help="exponential averages' α")
    add("--ar-coefficients", nargs="+", type=common.finite_float, default=[0.6, -0.3, 0.2, 0.15],
        help="a_1 … a_W of the generated AR(W) process (keep it stable: roots outside the unit circle)")
    add("--ar-noise", type=common.positive_float, default=0.5, help="standard deviation of the AR noise")
    add("--ar-length", type=common.positive_int, default=2000, help="values of the AR series (last 20%% held out)")
    add("--ar-steps", type=common.positive_int, default=2000, help="Adam steps of the AR fit")
    add("--alpha", type=common.probability, default=0.8, help="the α to learn back from (x, h) pairs")
    add("--alpha-steps", type=common.positive_int, default=400, help="Adam steps of the α fit")
    add("--delay", type=common.positive_int, default=20,
        help="the recall series' length: its target is its first value")
    add("--bridge-window", type=common.positive_int, default=5, help="the window W of the AR model on the recall task")
    add("--hidden-size", type=common.positive_int, default=32, help="GRU units on the recall task")
    add("--batch-size", type=common.positive_int, default=64)
    add("--steps-per-epoch", type=common.positive_int, default=50, help="batches of fresh recall series per epoch")
    add("--val-size", type=common.positive_int, default=500, help="held-out recall series (a fixed set)")
    add("--lr", type=common.positive_float, default=1e-2, help="Adam learning rate of the GRU")
    return parser


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Inputs that are each valid but do not fit together: a usage error before anything is written."""
    if args.length < max(args.windows):
        parser.error(f"--length {args.length}: the series is shorter than the window {max(args.windows)}")
    order = len(args.ar_coefficients)
    if args.ar_length < 10 * order + 10:
        parser.error(f"--ar-length {args.ar_length}: the series is too short to fit AR({order}), "
                     f"it needs at least {10 * order + 10} values")
    if np.abs(np.roots([1.0, *(-np.asarray(args.ar_coefficients))])).max() >= 1.0:
        parser.error(f"--ar-coefficients {args.ar_coefficients} give an unstable (exploding) process")
    if args.ar_noise > 1e100:   # the process is linear: a larger scale only overflows the fits' squares
        parser.error(f"--ar-noise {args.ar_noise:g} is too large: the AR series' squares would overflow float64 "
                     "(at most 1e100)")
    if not 0.0 < args.alpha < 1.0:
        parser.error(f"--alpha {args.alpha}: learning α back needs 0 < α < 1")
    if args.bridge_window >= args.delay:
        parser.error(f"--bridge-window {args.bridge_window} must be shorter than --delay {args.delay}: "
                     "otherwise the window sees the value it must recall and there is nothing to bridge")


def fixed_and_variable_order(args: argparse.Namespace, rng: np.random.Generator) -> dict:
    """The demonstration series and every recurrence's output on them (NumPy arrays, for the picture)."""
    t = np.arange(args.length)
    noisy = np.sin(2 * np.pi * t / 100) + 0.4 * rng.standard_normal(args.length)
    steps = np.zeros(40)
    with mg.no_grad():
        return {
            "noisy": noisy,
            "moving": {w: moving_average(noisy, w).numpy() for w in args.windows},
            "growth": {pair: autoregressive([pair[1]], steps, [1.0], bias=pair[0]).numpy() for pair in GROWTH},
            "exponential": {a: exponential_average(noisy, a, start=noisy[0]).numpy() for a in args.alphas},
            "maximum": running_maximum(noisy).numpy(),
            "sum": running_sum(noisy).numpy(),
        }


def fit_ar(args: argparse.Namespace, rng: np.random.Generator) -> dict:
    """Generate the AR(W) series, fit it two ways, and score one-step forecasts on its held-out end."""
    true = np.asarray(args.ar_coefficients, dtype=np.float64)
    order = len(true)
    noise = args.ar_noise * rng.standard_normal(args.ar_length + 200)
    with mg.no_grad():
        series = autoregressive(true, noise, np.zeros(order)).numpy()[200:]   # drop the start-up transient
    split = int(0.8 * len(series))
    least_squares = fit_ar_least_squares(series[:split], order)
    bar = lambda steps: common.progress(steps, args, desc="AR fit by Adam", unit="step")   # noqa: E731
    adam, _ = fit_ar_adam(series[:split], order, steps=args.ar_steps, progress=bar)
    lags, following = lagged(series[split - order :], order)
    forecast = lags @ adam
    return {"series": series, "split": split, "true": true, "least_squares": least_squares, "adam": adam,
            "forecast": forecast, "mse": float(((forecast - following) ** 2).mean()), "noise_floor": args.ar_noise**2}


def bridge(args: argparse.Namespace, rng: np.random.Generator, device: str) -> dict:
    """AR(W) by least squares and a GRU on the recall task; held-out MSE of each."""
    train_series, train_target = recall_task(args.batch_size * args.steps_per_epoch, args.delay, rng)
    val_series, val_target = recall_task(args.val_size, args.delay, rng)
    window = args.bridge_window
    weights = np.linalg.lstsq(train_series[-window:].T, train_target, rcond=None)[0]
    ar_mse = float(((val_series[-window:].T @ weights - val_target) ** 2).mean())

    model = Recall(args.hidden_size).to(device)
    optimizer = nn.optim.Adam(model.parameters(), lr=args.lr)
    stopwatch = common.Stopwatch()
    val_x = mg.tensor(val_series[:, :, None], device=device)
    gru_mse = float("nan")
    for epoch in range(1, args.epochs + 1):
        bar = common.progress(range(args.steps_per_epoch), args, desc=f"GRU epoch {epoch}/{args.epochs}", unit="batch")
        with stopwatch:
            for step, _ in enumerate(bar, start=1):
                series, target = recall_task(args.batch_size, args.delay, rng)
                loss = F.mse_loss(model(mg.tensor(series[:, :, None], device=device)),
                                  mg.tensor(target.astype(np.float32), device=device))
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                mse = common.check_loss(loss.item(), args, epoch, step, model="the recall GRU")
                bar.set_postfix(mse=f"{mse:.4f}", refresh=False)
        with mg.no_grad():
            gru_mse = float(((mg.to_numpy(model(val_x).data) - val_target) ** 2).mean())
        common.log(f"GRU epoch {epoch:2d}/{args.epochs}  held-out MSE {gru_mse:.4f}  (AR({window}) {ar_mse:.4f}; "
                   f"{stopwatch.total / epoch:.1f} s/epoch)")
    with mg.no_grad():
        shown = mg.to_numpy(model(val_x[:, :200]).data)
    return {"model": model, "ar_mse": ar_mse, "gru_mse": gru_mse, "variance": float(val_target.var()),
            "seconds": stopwatch.total, "target": val_target[:200], "gru": shown,
            "ar": val_series[-window:, :200].T @ weights}


def plot(path: str, demo: dict, ar: dict, recall: dict, args: argparse.Namespace) -> None:
    """Six panels: each system next to its input, the AR forecasts, the recall predictions."""
    import matplotlib  # noqa: PLC0415 - only for the picture

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    noisy = demo["noisy"]
    ax = axes[0, 0]
    ax.plot(noisy, color="lightgrey", label="input")
    for w, values in demo["moving"].items():
        ax.plot(np.arange(w - 1, len(noisy)), values, label=f"moving average W={w}")
    ax.set_title("fixed order: moving averages")
    ax = axes[0, 1]
    for (w0, w1), values in demo["growth"].items():
        ax.plot(np.concatenate([[1.0], values]), label=f"w0={w0:g}, w1={w1:g}")
    ax.set_title("fixed order: $x_t = w_0 + w_1 x_{t-1}$")
    ax = axes[0, 2]
    count = min(100, len(ar["forecast"]))   # the first (up to) 100 held-out values
    shown = np.arange(ar["split"], ar["split"] + count)
    ax.plot(shown, ar["series"][shown], color="grey", label=f"AR({len(ar['true'])}) series (held out)")
    ax.plot(shown, ar["forecast"][:count], label=f"one-step forecast (MSE {ar['mse']:.3f})")
    ax.set_title("fixed order: AR fitted by Adam = lstsq")
    ax = axes[1, 0]
    ax.plot(noisy, color="lightgrey", label="input")
    for alpha, values in demo["exponential"].items():
        ax.plot(values, label=f"exponential average α={alpha:g}")
    ax.set_title("variable order: exponential averages")
    ax = axes[1, 1]
    ax.plot(noisy, color="lightgrey", label="input")
    ax.plot(demo["maximum"], label="running maximum")
    ax.plot(demo["sum"] / 10, label="running sum / 10")
    ax.set_title("variable order: running summaries")
    ax = axes[1, 2]
    ax.scatter(recall["target"], recall["ar"], s=8, label=f"AR({args.bridge_window}): MSE {recall['ar_mse']:.3f}")
    ax.scatter(recall["target"], recall["gru"], s=8, label=f"GRU: MSE {recall['gru_mse']:.3f}")
    ax.plot([-3, 3], [-3, 3], color="grey", linewidth=0.8)
    ax.set_xlabel(f"true next value (the input {args.delay} steps back)")
    ax.set_ylabel("predicted")
    ax.set_title("the bridge: past the window, only the RNN remembers")
    for ax in axes.flat:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    parser = build_parser()
    args = parser.parse_args(argv)
    check(parser, args)
    device = common.setup(args, files=["dynamical_systems.npz", "dynamical_systems.json", "dynamical_systems.png"])
    rng = np.random.default_rng(args.seed)

    demo = fixed_and_variable_order(args, rng)
    ar = fit_ar(args, rng)
    order = len(ar["true"])
    common.log(f"AR({order}) on {ar['split']:,} values:  a_1 … a_{order}")
    for name in ("true", "least_squares", "adam"):
        common.log(f"  {name:>13}: " + "  ".join(f"{a:+.4f}" for a in ar[name]))
    agree = float(np.abs(ar["adam"] - ar["least_squares"]).max())
    common.log(f"  Adam vs lstsq: max difference {agree:.2e};  lstsq vs true: "
               f"{np.abs(ar['least_squares'] - ar['true']).max():.3f} (sampling error of a finite series)")
    common.log(f"  one-step forecast MSE on the held-out 20%: {ar['mse']:.4f} (noise floor {ar['noise_floor']:.4f})")

    x = rng.standard_normal((50, 16))
    with mg.no_grad():
        h = exponential_average(x, args.alpha).numpy()
    bar = lambda steps: common.progress(steps, args, desc="learning α", unit="step")   # noqa: E731
    weight_hh, weight_xh, _ = fit_linear_unit(x, h, steps=args.alpha_steps, progress=bar)
    common.log(f"exponential average as a one-unit linear RNN: learned w_hh = {weight_hh:.5f}, w_xh = {weight_xh:.5f} "
               f"(α = {args.alpha:g}, 1 − α = {1 - args.alpha:g}; error {abs(weight_hh - args.alpha):.1e})")

    recall = bridge(args, rng, device)
    common.log(f"recall the value {args.delay} steps back (target variance {recall['variance']:.3f}): "
               f"AR({args.bridge_window}) held-out MSE {recall['ar_mse']:.4f}, GRU {recall['gru_mse']:.4f}")
    picture = os.path.join(args.out, "dynamical_systems.png")
    plot(picture, demo, ar, recall, args)
    checkpoint = common.save_checkpoint(recall["model"], args.out, "dynamical_systems", config=vars(args))
    common.log(f"picture: {picture}\ncheckpoint (the recall GRU): {checkpoint}")
    return common.finish(
        args, example="dynamical_systems", device=device, epochs=args.epochs, train_seconds=recall["seconds"],
        val_mse=recall["gru_mse"], ar_bridge_mse=recall["ar_mse"], bridge_variance=recall["variance"],
        ar_forecast_mse=ar["mse"], ar_noise_floor=ar["noise_floor"], ar_true=ar["true"].tolist(),
        ar_least_squares=ar["least_squares"].tolist(), ar_adam=ar["adam"].tolist(), ar_agreement=agree,
        alpha=args.alpha, alpha_learned=weight_hh, picture=picture, checkpoint=checkpoint,
    )


if __name__ == "__main__":
    common.run(main)
