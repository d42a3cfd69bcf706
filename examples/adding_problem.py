"""The adding problem (Hochreiter & Schmidhuber 1997): RNN vs LSTM vs GRU over long sequences.

Each step carries two numbers: a value drawn from U(0, 1) and a marker that
is 1 at exactly two steps (one in each half of the sequence) and 0 elsewhere.
The target, read after the last step, is the sum of the two marked values.
Always answering 1 (the mean) scores an MSE of 1/6 ≈ 0.167; beating it means
carrying a value across up to T steps. A plain tanh RNN's gradient vanishes
over that distance and it stays near 0.167; LSTM and GRU learn the task.

    python -m examples.adding_problem                                # all three cells at T = 50, 100, 200
    python -m examples.adding_problem --cells lstm --lengths 100 --epochs 20
"""

from __future__ import annotations

import argparse

import numpy as np

import minigrad as mg
from examples import common
from minigrad import nn

F = nn.functional
RECURRENT = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
BASELINE_MSE = 1 / 6  # Var(U1 + U2) = 2/12: the error of always answering the mean, 1


class Adder(nn.Module):
    """RNN/LSTM/GRU → Linear on the final hidden state. x (T, B, 2) → prediction (B,)."""

    def __init__(self, cell: str, hidden_size: int, forget_bias: float = 0.0) -> None:
        super().__init__()
        self.rnn = RECURRENT[cell](2, hidden_size)
        self.head = nn.Linear(hidden_size, 1)
        if cell == "lstm" and forget_bias:   # gate order i, f, g, o: start with the forget gate open
            self.rnn.bias_ih_l0.data[hidden_size : 2 * hidden_size] += forget_bias

    def forward(self, x: mg.Tensor) -> mg.Tensor:
        output, _ = self.rnn(x)
        return self.head(output[-1]).squeeze(-1)


def make_batch(rng: np.random.Generator, length: int, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (T, B, 2) float32 — values and markers — and targets (B,) float32."""
    values = rng.random((length, batch)).astype(np.float32)
    markers = np.zeros((length, batch), dtype=np.float32)
    half = length // 2
    columns = np.arange(batch)
    first = rng.integers(0, half, size=batch)
    second = rng.integers(half, length, size=batch)
    markers[first, columns] = 1.0
    markers[second, columns] = 1.0
    targets = values[first, columns] + values[second, columns]
    return np.stack([values, markers], axis=-1), targets.astype(np.float32)


def train_one(cell: str, length: int, args: argparse.Namespace, device: str) -> tuple[float, list[float], float]:
    """Train one cell at one sequence length; (final held-out MSE, MSE per epoch, seconds)."""
    mg.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    val_x, val_y = make_batch(np.random.default_rng(10_000 + length), length, args.val_size)
    val_x, val_y = mg.tensor(val_x, device=device), mg.tensor(val_y, device=device)
    model = Adder(cell, args.hidden_size, args.forget_bias).to(device)
    optimizer = nn.optim.Adam(model.parameters(), lr=args.lr)
    stopwatch = common.Stopwatch()
    history = []
    for epoch in range(1, args.epochs + 1):
        bar = common.progress(range(args.steps_per_epoch), args, unit="batch",
                              desc=f"{cell} T={length} epoch {epoch}/{args.epochs}")
        total = 0.0
        with stopwatch:
            for step, _ in enumerate(bar, start=1):
                x, y = make_batch(rng, length, args.batch_size)
                loss = F.mse_loss(model(mg.tensor(x, device=device)), mg.tensor(y, device=device))
                optimizer.zero_grad()
                loss.backward()
                if args.clip > 0:
                    nn.utils.clip_grad_norm_(model.parameters(), args.clip)
                optimizer.step()
                total += common.check_loss(loss.item(), args, epoch, step, model=f"{cell} T={length}")
                bar.set_postfix(mse=f"{total / step:.4f}", refresh=False)
        bar.close()
        with mg.no_grad():
            model.eval()
            history.append(F.mse_loss(model(val_x), val_y).item())
            model.train()
        common.log(f"{cell:>4} T={length:<4} epoch {epoch:2d}/{args.epochs}  "
                   f"train MSE {total / args.steps_per_epoch:.4f}  held-out MSE {history[-1]:.4f}  "
                   f"(baseline {BASELINE_MSE:.3f}; {stopwatch.total / epoch:.1f} s/epoch)")
    common.save_checkpoint(model, args.out, f"adding_{cell}_T{length}")
    return history[-1], history, stopwatch.total


def build_parser() -> argparse.ArgumentParser:
    parser = common.parser("adding_problem", __doc__, epochs=30)
    add = parser.add_argument
    add("--cells", nargs="+", choices=sorted(RECURRENT), default=["rnn", "lstm", "gru"])
    add("--lengths", nargs="+", type=common.sequence_length, default=[50, 100, 200], help="sequence lengths T")
    add("--hidden-size", type=common.positive_int, default=64)
    add("--forget-bias", type=common.finite_float, default=1.0,
        help="added to the LSTM's forget-gate bias at initialisation (Jozefowicz et al. 2015; lstm only)")
    add("--steps-per-epoch", type=common.positive_int, default=50, help="batches of fresh random sequences per epoch")
    add("--batch-size", type=common.positive_int, default=64)
    add("--val-size", type=common.positive_int, default=500, help="held-out sequences per length (a fixed set)")
    add("--lr", type=common.positive_float, default=3e-3, help="Adam learning rate")
    add("--clip", type=common.nonnegative_float, default=1.0, help="clip the gradient norm to this (0: off)")
    return parser


def main(argv: list[str] | None = None) -> dict:
    parser = build_parser()
    args, given = common.parse(parser, argv)
    args.cells, args.lengths = common.distinct(args.cells), common.distinct(args.lengths)
    common.reject(parser, given, "--forget-bias", "lstm" not in args.cells,
                  f"with --cells {' '.join(args.cells)}: it sets the LSTM's forget gate (add lstm to --cells)")
    device = common.setup(args, files=[f"adding_{c}_T{t}.npz" for c in args.cells for t in args.lengths])
    common.log(f"adding problem: {args.epochs} epochs × {args.steps_per_epoch} batches of {args.batch_size}, "
               f"hidden {args.hidden_size}; always answering 1 gives MSE {BASELINE_MSE:.4f}")
    results: dict[str, dict[str, float]] = {}
    curves: dict[str, dict[str, list[float]]] = {}
    seconds = 0.0
    for length in args.lengths:
        for cell in args.cells:
            final, history, spent = train_one(cell, length, args, device)
            results.setdefault(cell, {})[str(length)] = final
            curves.setdefault(cell, {})[str(length)] = history
            seconds += spent
    common.log("\nheld-out MSE (baseline 0.167):")
    common.log("      " + "".join(f"T={length:<8}" for length in args.lengths))
    for cell in args.cells:
        common.log(f"{cell:>4}  " + "".join(f"{results[cell][str(length)]:<10.4f}" for length in args.lengths))
    runs = len(args.cells) * len(args.lengths)
    return common.finish(
        args, example="adding_problem", device=device, epochs=args.epochs, train_seconds=seconds,
        seconds_per_epoch=seconds / max(runs * args.epochs, 1),
        val_mse=results, baseline_mse=BASELINE_MSE, val_mse_per_epoch=curves, runs=runs,
        seconds_per_run=seconds / max(runs, 1), hidden_size=args.hidden_size,
    )


if __name__ == "__main__":
    common.run(main)
