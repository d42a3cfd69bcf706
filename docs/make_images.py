"""Regenerate the README's pictures of unrolled graphs (docs/img/).

    python docs/make_images.py [--format svg|png] [--out docs/img]

1. ``lstm_3_steps``: a 3-step LSTM at op level (the CLI:
   ``python -m minigrad.viz --model lstm --steps 3 --out docs/img/lstm_3_steps.svg``);
2. ``lstm_50_steps_collapsed``: a 50-step LSTM, one box per time step, the first
   and last two kept and the 46 between drawn as one node (the CLI:
   ``python -m minigrad.viz --model lstm --steps 50 --collapse steps --steps-shown 4
   --out docs/img/lstm_50_steps_collapsed.svg``; without ``--steps-shown`` all 50 boxes are drawn);
3. ``rnn_vs_lstm_gradients``: the gradient overlay of an RNN next to an LSTM
   trained on the same task, drawn in one picture with one colour scale, every
   step shown (``steps_shown=None``).

The task for (3): each sequence has 20 steps of one N(0, 1) feature; the
target is 0.5·sign(x_0), the sign of the *first* input, read from hidden unit 0
at the last step (mean squared error). Both models have 16 hidden units and
are trained with Adam (lr 1e-2, batch 32) for 500 steps from the same seed; the
LSTM's forget-gate biases start at 1, as is usual (Jozefowicz et al., 2015).
The picture is the backward pass of one fresh batch.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy

import minigrad as mg
import nn
from minigrad import viz

STEPS, BATCH, HIDDEN, TRAIN_STEPS = 20, 32, 16, 500


def cli(*args: str) -> None:
    code = viz.main(list(args))
    if code != 0:
        sys.exit(code)


def memory_batch(rng: numpy.random.Generator) -> tuple[mg.Tensor, mg.Tensor]:
    """x: (T, B, 1) standard normal; target: (B,) 0.5·sign(x at t=0)."""
    x = rng.standard_normal((STEPS, BATCH, 1)).astype(numpy.float32)
    return mg.tensor(x), mg.tensor(0.5 * numpy.sign(x[0, :, 0]))


def memory_loss(layer: nn.Module, x: mg.Tensor, target: mg.Tensor) -> mg.Tensor:
    output, _ = layer(x)
    return ((output[-1][:, 0] - target) ** 2).mean()


def trained(kind: str) -> nn.Module:
    mg.manual_seed(0)
    layer = nn.RNN(1, HIDDEN) if kind == "rnn" else nn.LSTM(1, HIDDEN)
    if kind == "lstm":   # gate rows are ordered i, f, g, o
        for name in ("bias_ih_l0", "bias_hh_l0"):
            getattr(layer, name).data[HIDDEN:2 * HIDDEN] = 1.0
    optimizer = nn.optim.Adam(layer.parameters(), lr=1e-2)
    rng = numpy.random.default_rng(0)
    for _ in range(TRAIN_STEPS):
        loss = memory_loss(layer, *memory_batch(rng))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return layer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--format", choices=("svg", "png"), default="svg")
    parser.add_argument("--out", default=os.path.join("docs", "img"))
    args = parser.parse_args()
    out = args.out
    cli("--model", "lstm", "--steps", "3", "--format", args.format, "--out", os.path.join(out, "lstm_3_steps"))
    cli("--model", "lstm", "--steps", "50", "--collapse", "steps", "--steps-shown", "4", "--format", args.format,
        "--out", os.path.join(out, "lstm_50_steps_collapsed"))

    losses = []
    batch = memory_batch(numpy.random.default_rng(1))
    for kind in ("rnn", "lstm"):
        loss = memory_loss(trained(kind), *batch)
        losses.append(loss)   # draw(show_grads=True) takes the gradients itself; no backward needed
        print(f"{kind}: loss after {TRAIN_STEPS} training steps {loss.item():.4f}")
    written = viz.render(*losses, path=os.path.join(out, "rnn_vs_lstm_gradients"), format=args.format,
                         collapse="steps", steps_shown=None, show_grads=True, show_shapes=False, rankdir="TB")
    print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
