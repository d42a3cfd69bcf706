"""``python -m minigrad.viz``: render the unrolled graph of a built-in model.

    python -m minigrad.viz --model lstm --steps 3
    python -m minigrad.viz --model seq2seq --steps 1000 --collapse steps --grads --format svg

The models (``rnn``, ``lstm``, ``gru``, ``seq2seq``) are built from ``nn``
layers; this is the only module of ``minigrad`` that loads ``nn``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

import minigrad as mg
import nn
from minigrad.viz import (
    FORMATS,
    MAX_NODES,
    STEPS_DRAWN_ALL,
    STEPS_SHOWN,
    DotNotFoundError,
    DrawingTooLargeError,
    render,
)

VOCAB = 12   # the seq2seq demo's token ids
DEMO_VALUES = 1 << 28   # numbers a demo model may hold (weights and recorded values: 1 GiB of float32)
DEMO_OPS = 2_000_000    # ops it may record (each ~1 KiB of memory)


def _collapse_arg(text: str) -> int | str:
    if text.isdigit():
        return int(text)
    if not text.strip("/") or text.lstrip("-").isdigit():
        raise argparse.ArgumentTypeError(f"expected a count >= 0, 'steps' or a scope path, got {text!r}")
    return text


def _count_or_all(text: str) -> int | None:
    if text == "all":
        return None
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a count >= 0 or 'all', got {text!r}")
    return int(text)


def _steps_shown(text: str) -> int | str | None:
    return "auto" if text == "auto" else _count_or_all(text)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return int(text)


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not -(1 << 63) <= value < 1 << 64:
        raise argparse.ArgumentTypeError(f"expected an integer in [-2**63, 2**64) (as manual_seed), got {text!r}")
    return value


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m minigrad.viz",
        description="Render the unrolled computational graph of a built-in recurrent model.",
    )
    parser.add_argument("--model", choices=("rnn", "lstm", "gru", "seq2seq"), default="lstm")
    parser.add_argument("--steps", type=_positive, default=3, help="time steps T to unroll (default 3)")
    parser.add_argument("--hidden", type=_positive, default=8, help="hidden size H (default 8)")
    parser.add_argument("--layers", type=_positive, default=1, help="stacked layers (default 1)")
    parser.add_argument("--bidirectional", action="store_true")
    parser.add_argument("--batch", type=_positive, default=2, help="batch size B (default 2)")
    parser.add_argument("--input-size", type=_positive, default=4, help="input features I (default 4)")
    parser.add_argument("--collapse", type=_collapse_arg, default=None,
                        help="N (keep N scope levels open), 'steps', or a scope path such as 'encoder'")
    parser.add_argument("--steps-shown", type=_steps_shown, default="auto",
                        help=f"time steps kept per layer of a long unroll, the rest drawn as one node; "
                             f"'all' draws every step; 'auto' (default) draws every step of a layer of up to "
                             f"{STEPS_DRAWN_ALL} steps and keeps {STEPS_SHOWN} of a longer one")
    parser.add_argument("--max-nodes", type=_count_or_all, default=MAX_NODES,
                        help=f"refuse drawings with more nodes than this; 'all' lifts the limit (default {MAX_NODES})")
    parser.add_argument("--wrap", type=_positive, default=None,
                        help="lay the step boxes out in rows of this many steps, top to bottom (with --collapse)")
    parser.add_argument("--params", choices=("ghost", "single"), default="ghost")
    parser.add_argument("--grads", action="store_true",
                        help="colour edges by gradient norm (loss: sum of the last output; seq2seq: cross-entropy)")
    parser.add_argument("--no-shapes", action="store_true", help="leave shapes and dtypes out of the labels")
    parser.add_argument("--rankdir", choices=("LR", "TB"), default="LR")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="svg, png, pdf or dot (default: the --out path's ending when it names one, else svg)")
    parser.add_argument("--out", default=None, help="output path (default runs/viz/<model>.<format>)")
    parser.add_argument("--seed", type=_seed, default=0)
    return parser


def check_size(cli: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse, before building anything, a demo model whose weights or recorded graph would not fit in memory."""
    directions = 2 if args.bidirectional else 1
    layers = args.layers * directions * (2 if args.model == "seq2seq" else 1)   # recurrent layers unrolled
    width = max(args.input_size, directions * args.hidden)
    weights = layers * 4 * args.hidden * (width + args.hidden + 2)   # an LSTM's: 4 gates
    values = layers * args.steps * args.batch * args.hidden * 32      # about 8 gate-sized values per step
    ops = layers * args.steps * 10
    if weights + values > DEMO_VALUES or ops > DEMO_OPS:
        cli.error(
            f"--steps {args.steps}, --layers {args.layers}, --hidden {args.hidden}, --batch {args.batch} and "
            f"--input-size {args.input_size} make a model of about {weights + values:,} values and {ops:,} recorded "
            f"ops, more than this demo builds ({DEMO_VALUES:,} values, {DEMO_OPS:,} ops); pass smaller sizes "
            f"(the drawing depends only on --steps and --layers)"
        )


def model_loss(args: argparse.Namespace) -> mg.Tensor:
    """Build the named model, run it forward and return its loss."""
    mg.manual_seed(args.seed)
    if args.model in ("rnn", "lstm", "gru"):
        layer_class = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[args.model]
        model = layer_class(args.input_size, args.hidden, num_layers=args.layers, bidirectional=args.bidirectional)
        output, _ = model(mg.randn(args.steps, args.batch, args.input_size))
        return output[-1].sum()
    return seq2seq_loss(args)


def seq2seq_loss(args: argparse.Namespace) -> mg.Tensor:
    """An encoder–decoder from nn layers: embedding, LSTM encoder, LSTM decoder started from the
    encoder's final state (directions summed), linear read-out, cross-entropy; scopes ``seq2seq/…``."""
    model = nn.Module()   # only a parent, so the parts are named (seq2seq/encoder/l0/t3, encoder.weight_hh_l0)
    model.embedding = nn.Embedding(VOCAB, args.input_size)
    model.encoder = nn.LSTM(args.input_size, args.hidden, num_layers=args.layers, bidirectional=args.bidirectional)
    model.decoder = nn.LSTM(args.input_size, args.hidden, num_layers=args.layers)
    model.output = nn.Linear(args.hidden, VOCAB)
    source = mg.randint(1, VOCAB, (args.steps, args.batch))
    target = mg.randint(1, VOCAB, (args.steps, args.batch))
    with mg.name_scope("seq2seq"):
        _, state = model.encoder(model.embedding(source))
        if args.bidirectional:   # (2L, B, H) → (L, B, H): the two directions of each layer summed
            state = tuple(s.reshape(args.layers, 2, args.batch, args.hidden).sum(axis=1) for s in state)
        decoded, _ = model.decoder(model.embedding(target), state)
        logits = model.output(decoded)
        return nn.functional.cross_entropy(logits.reshape(-1, VOCAB), target.reshape(-1))


def main(argv: Sequence[str] | None = None) -> int:
    """Build, run and draw a model; print where the picture went (exit 1 if it could not be drawn)."""
    cli = parser()
    args = cli.parse_args(argv)
    if args.wrap is not None and args.collapse is None:
        cli.error("--wrap lays out the boxes of time steps: pass --collapse steps (or N) as well")
    if args.out == "":
        cli.error("argument --out: expected a file path, got ''")
    check_size(cli, args)
    if args.format is None:   # `--out graph.png` means PNG
        ending = os.path.splitext(args.out or "")[1].lstrip(".").lower()
        args.format = ending if ending in FORMATS else "svg"
    out = args.out or os.path.join("runs", "viz", f"{args.model}.{args.format}")
    loss = model_loss(args)
    try:
        written = render(loss, path=out, format=args.format, collapse=args.collapse, params=args.params,
                         show_shapes=not args.no_shapes, show_grads=args.grads, rankdir=args.rankdir,
                         steps_shown=args.steps_shown, max_nodes=args.max_nodes, wrap=args.wrap)
    except (DotNotFoundError, DrawingTooLargeError, ValueError, OSError) as error:   # OSError: the --out path
        print(f"minigrad.viz: {error}", file=sys.stderr)
        return 1
    if written != out and os.path.splitext(out)[1].lower() == "." + args.format:
        os.replace(written, out)   # `--out graph.PNG`: the file named (render would add ".png")
        written = out
    print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
