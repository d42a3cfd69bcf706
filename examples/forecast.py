"""Time-series forecasting with an LSTM: one step ahead on a noisy sine and an AR(2) series.

Two set-ups of the same LSTM over windows of --window values:

* many-to-one: read the window, predict the next value from the last hidden state;
* many-to-many: predict the next value after every step of the window (every
  prefix is a training example); its last prediction is scored.

Each is compared on the held-out end of the series with the naive forecast
"tomorrow equals today" (the last value) and with the
noise floor (the variance of the added noise: no forecast can do better; for the
AR(2) series the true AR predictor reaches it).

    python -m examples.forecast                                  # both series, both set-ups
    python -m examples.forecast --series ar --modes many-to-one --epochs 30
"""

from __future__ import annotations

import argparse

import numpy as np

import minigrad as mg
from examples import common
from minigrad import nn

F = nn.functional
MODES = ("many-to-one", "many-to-many")
AR_COEFFICIENTS = (1.6, -0.8)   # x_t = 1.6 x_{t-1} - 0.8 x_{t-2} + ε: a damped oscillation
AR_NOISE = 0.1


def make_series(name: str, length: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """The series (length,) float32, and its noise floor: the variance of the unpredictable noise,
    below which no one-step forecast's MSE can go (for AR(2) the true predictor reaches it)."""
    t = np.arange(length)
    if name == "sine":
        noise = 0.1
        series = np.sin(2 * np.pi * t / 25) + 0.5 * np.sin(2 * np.pi * t / 9.3) + noise * rng.standard_normal(length)
        return series.astype(np.float32), noise**2
    a1, a2 = AR_COEFFICIENTS
    series = np.zeros(length + 100)
    noise = AR_NOISE * rng.standard_normal(length + 100)
    for i in range(2, length + 100):
        series[i] = a1 * series[i - 1] + a2 * series[i - 2] + noise[i]
    series = series[100:]  # drop the start-up transient
    scale = series.std()
    return (series / scale).astype(np.float32), (AR_NOISE / scale) ** 2


def windows(series: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (N, width) and next values (N, width): y[i, s] = series[i + s + 1]."""
    n = len(series) - width
    index = np.arange(n)[:, None] + np.arange(width)[None, :]
    return series[index], series[index + 1]


def split_point(length: int, window: int, val_fraction: float) -> int:
    """Training windows of a ``length``-value series: the first this many; held out: those from it + ``window``."""
    return int(max(length - window, 0) * (1 - val_fraction))


class Forecaster(nn.Module):
    """LSTM → Linear. x (T, B, 1) → a forecast of the next value after every step (T, B)."""

    def __init__(self, hidden_size: int, num_layers: int) -> None:
        super().__init__()
        self.rnn = nn.LSTM(1, hidden_size, num_layers)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x: mg.Tensor, last_only: bool) -> mg.Tensor:
        output, _ = self.rnn(x)
        if last_only:
            output = output[-1:]
        return self.head(output).squeeze(-1)


def train_one(series_name: str, mode: str, args: argparse.Namespace, device: str) -> dict:
    mg.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    series, floor = make_series(series_name, args.length, np.random.default_rng(args.data_seed))
    x, y = windows(series, args.window)
    split = split_point(args.length, args.window, args.val_fraction)
    # held-out windows start after the last training target, so no value is shared
    train_x, train_y, val_x, val_y = x[:split], y[:split], x[split + args.window :], y[split + args.window :]
    last_only = mode == "many-to-one"
    model = Forecaster(args.hidden_size, args.num_layers).to(device)
    optimizer = nn.optim.Adam(model.parameters(), lr=args.lr)
    val_input = mg.tensor(val_x.T[..., None], device=device)
    stopwatch = common.Stopwatch()
    history = []
    for epoch in range(1, args.epochs + 1):
        bar = common.progress(common.batches(len(train_x), args.batch_size, rng), args, unit="batch",
                              desc=f"{series_name} {mode} epoch {epoch}/{args.epochs}")
        total = 0.0
        with stopwatch:
            for step, index in enumerate(bar, start=1):
                prediction = model(mg.tensor(train_x[index].T[..., None], device=device), last_only)
                target = train_y[index].T[-1:] if last_only else train_y[index].T
                loss = F.mse_loss(prediction, mg.tensor(target, device=device))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += common.check_loss(loss.item(), args, epoch, step, model=f"{series_name} {mode}")
                bar.set_postfix(mse=f"{total / step:.4f}", refresh=False)
        bar.close()
        model.eval()
        with mg.no_grad():
            forecast = model(val_input, last_only=True).numpy()[-1]
        model.train()
        history.append(float(((forecast - val_y[:, -1]) ** 2).mean()))
        common.log(f"{series_name:>4} {mode:<12} epoch {epoch:2d}/{args.epochs}  held-out MSE {history[-1]:.4f}  "
                   f"({stopwatch.total / epoch:.2f} s/epoch)")
    naive = float(((val_x[:, -1] - val_y[:, -1]) ** 2).mean())
    common.save_checkpoint(model, args.out, f"forecast_{series_name}_{mode}")
    return {"val_mse": history[-1], "naive_mse": naive, "noise_floor": floor, "history": history,
            "seconds": stopwatch.total}


def build_parser() -> argparse.ArgumentParser:
    parser = common.parser("forecast", __doc__, epochs=15)
    add = parser.add_argument
    add("--series", nargs="+", choices=["sine", "ar"], default=["sine", "ar"])
    add("--modes", nargs="+", choices=MODES, default=list(MODES))
    add("--length", type=common.positive_int, default=2000, help="values per series")
    add("--window", type=common.positive_int, default=32, help="values the model reads before forecasting")
    add("--hidden-size", type=common.positive_int, default=32)
    add("--num-layers", type=common.positive_int, default=1)
    add("--batch-size", type=common.positive_int, default=64)
    add("--lr", type=common.positive_float, default=3e-3, help="Adam learning rate")
    add("--val-fraction", type=common.fraction, default=0.2, help="held-out share at the end of each series")
    add("--data-seed", type=common.nonnegative_int, default=1234, help="seed of the generated series")
    return parser


def main(argv: list[str] | None = None) -> dict:
    parser = build_parser()
    args, given = common.parse(parser, argv)
    args.series, args.modes = common.distinct(args.series), common.distinct(args.modes)
    split = split_point(args.length, args.window, args.val_fraction)
    if split < 1 or args.length - args.window - split - args.window < 1:
        parser.error(f"--length {args.length} is too short for --window {args.window} with --val-fraction "
                     f"{args.val_fraction}: it needs a training window and a held-out window {args.window} "
                     "values after it")
    common.check_batch_size(parser, args, given, split,
                            f"training windows of a series (--length {args.length:,}, --window {args.window}, "
                            f"--val-fraction {args.val_fraction:g})")
    device = common.setup(args, files=[f"forecast_{s}_{m}.npz" for s in args.series for m in args.modes])
    results = {}
    for series_name in args.series:
        for mode in args.modes:
            results[f"{series_name}/{mode}"] = train_one(series_name, mode, args, device)
    common.log("\nheld-out one-step MSE:")
    for key, r in results.items():
        common.log(f"  {key:<18} LSTM {r['val_mse']:.4f}   naive last value {r['naive_mse']:.4f}"
                   f"   ratio {r['val_mse'] / r['naive_mse']:.2f}   noise floor {r['noise_floor']:.4f}")
    seconds = sum(r["seconds"] for r in results.values())
    return common.finish(
        args, example="forecast", device=device, epochs=args.epochs, train_seconds=seconds,
        seconds_per_epoch=seconds / max(len(results) * args.epochs, 1),
        val_mse={k: r["val_mse"] for k, r in results.items()},
        naive_mse={k: r["naive_mse"] for k, r in results.items()},
        noise_floor={k: r["noise_floor"] for k, r in results.items()},
        hidden_size=args.hidden_size, window=args.window,
    )


if __name__ == "__main__":
    common.run(main)
