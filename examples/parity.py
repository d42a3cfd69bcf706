"""Parity (the XOR recurrence): read a stream of bits, say whether an odd number of them were 1.

The answer after t bits is y_t = x_1 ⊕ … ⊕ x_t = y_{t-1} ⊕ x_t: one bit of
state, flipped by every 1 — the smallest task that needs a recurrent memory.
With --target running the model is told y_t at every step (many-to-many): it
learns the flip rule in a few hundred batches and then applies it to
sequences far longer than it was trained on. With --target final it is told
only the parity of the whole sequence (many-to-one): that answer tells it
nothing until it can already combine every bit, the loss surface is flat, and
in this program's budget every cell stays at chance even for 10 bits — the
point of intermediate targets. The held-out accuracy is that of the final
parity bit; --test-length sets the length of the longer test.

    python -m examples.parity                            # LSTM, running targets, length 20
    python -m examples.parity --cell rnn --target final --length 10
"""

from __future__ import annotations

import argparse

import numpy as np

import minigrad as mg
from examples import common
from minigrad import nn

F = nn.functional
RECURRENT = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class ParityModel(nn.Module):
    """RNN/LSTM/GRU → Linear. bits (T, B, 1) → one logit per step (T, B)."""

    def __init__(self, cell: str, hidden_size: int) -> None:
        super().__init__()
        self.rnn = RECURRENT[cell](1, hidden_size)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, bits: mg.Tensor) -> mg.Tensor:
        output, _ = self.rnn(bits)
        return self.head(output).squeeze(-1)


def make_bits(rng: np.random.Generator, length: int, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """Random bits (T, B, 1) float32 and their running parity (T, B) float32."""
    bits = rng.integers(0, 2, size=(length, batch))
    parity = np.cumsum(bits, axis=0) % 2
    return bits[..., None].astype(np.float32), parity.astype(np.float32)


def final_accuracy(model: ParityModel, bits: np.ndarray, parity: np.ndarray, device: str) -> float:
    """Share of sequences whose final parity bit the model gets right."""
    model.eval()
    with mg.no_grad():
        logits = model(mg.tensor(bits, device=device)).numpy()
    model.train()
    return float(((logits[-1] > 0) == (parity[-1] > 0.5)).mean())


def build_parser() -> argparse.ArgumentParser:
    parser = common.parser("parity", __doc__, epochs=10)
    add = parser.add_argument
    add("--cell", choices=sorted(RECURRENT), default="lstm")
    add("--hidden-size", type=common.positive_int, default=32)
    add("--length", type=common.positive_int, default=20, help="bits per training sequence")
    add("--test-length", type=common.positive_int, default=100, help="bits per sequence of the longer test")
    add("--target", choices=["running", "final"], default="running",
        help="loss on the parity after every bit, or only after the last")
    add("--steps-per-epoch", type=common.positive_int, default=100, help="batches of fresh random sequences per epoch")
    add("--batch-size", type=common.positive_int, default=64)
    add("--val-size", type=common.positive_int, default=1000, help="held-out sequences (a fixed set)")
    add("--lr", type=common.positive_float, default=1e-2, help="Adam learning rate")
    add("--clip", type=common.nonnegative_float, default=1.0, help="clip the gradient norm to this (0: off)")
    return parser


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    device = common.setup(args, files=["parity.npz", "parity.json"])
    rng = np.random.default_rng(args.seed)
    held_out = np.random.default_rng(10_000 + args.seed)   # never the training stream
    val_bits, val_parity = make_bits(held_out, args.length, args.val_size)
    long_bits, long_parity = make_bits(held_out, args.test_length, args.val_size)
    model = ParityModel(args.cell, args.hidden_size).to(device)
    optimizer = nn.optim.Adam(model.parameters(), lr=args.lr)
    common.log(f"parity of {args.length} bits ({args.target} targets), {args.cell.upper()} with "
               f"{args.hidden_size} units; chance is 50%")

    stopwatch = common.Stopwatch()
    accuracy = long_accuracy = 0.0
    for epoch in range(1, args.epochs + 1):
        bar = common.progress(range(args.steps_per_epoch), args, desc=f"epoch {epoch}/{args.epochs}", unit="batch")
        total = correct = 0.0
        with stopwatch:
            for step, _ in enumerate(bar, start=1):
                bits, parity = make_bits(rng, args.length, args.batch_size)
                logits = model(mg.tensor(bits, device=device))
                target = mg.tensor(parity, device=device)
                if args.target == "final":
                    logits, target = logits[-1], target[-1]
                loss = F.binary_cross_entropy_with_logits(logits, target)
                optimizer.zero_grad()
                loss.backward()
                if args.clip > 0:
                    nn.utils.clip_grad_norm_(model.parameters(), args.clip)
                optimizer.step()
                total += common.check_loss(loss.item(), args, epoch, step)
                correct += float(((logits.numpy() > 0) == (target.numpy() > 0.5)).mean())
                bar.set_postfix(loss=f"{total / step:.3f}", acc=f"{correct / step:.3f}", refresh=False)
        bar.close()
        accuracy = final_accuracy(model, val_bits, val_parity, device)
        common.log(f"epoch {epoch:2d}/{args.epochs}  loss {total / args.steps_per_epoch:.4f}  "
                   f"held-out accuracy {accuracy:.1%}  ({stopwatch.total / epoch:.2f} s/epoch)")
    long_accuracy = final_accuracy(model, long_bits, long_parity, device)
    common.log(f"on {args.test_length}-bit sequences (trained on {args.length}): {long_accuracy:.1%}")
    checkpoint = common.save_checkpoint(model, args.out, "parity", config=vars(args))
    return common.finish(
        args, example="parity", device=device, epochs=args.epochs, train_seconds=stopwatch.total,
        val_accuracy=accuracy, long_accuracy=long_accuracy, length=args.length, test_length=args.test_length,
        cell=args.cell, target=args.target, checkpoint=checkpoint,
    )


if __name__ == "__main__":
    common.run(main)
