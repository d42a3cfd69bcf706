"""Python opcodes executed per training step: the eager engine's bookkeeping, counted instead of timed.

    python -m bench.opcount [--warmup 6]

On a shared machine timings move by ±10 % between runs; the number of Python opcodes a step
executes does not (``sys.settrace`` with ``f_trace_opcodes``), so a change of 1 % in the engine's
own work shows in one run. Counted after ``--warmup`` steps (compiled steps capture and write
their code during the first few):

* ``char_rnn_tiny``: one iteration of ``bench.char_rnn_tiny``'s eager and compiled peers (batch 1,
  hidden 100, 25 steps: forward, backward, Adagrad);
* ``nn.LSTM``/``GRU``/``RNN(8, 16)`` on a (6, 4, 8) input, forward and backward of the output's
  sum, eager and with ``compile=True``.

A compiled program is written out as straight-line code once its replays have taken as long as the
writing would (``minigrad.codegen.worth_writing``): a timing, so which step gets the code varies from
run to run. Here the rule's time threshold is set to zero, so every compiled step counted runs its
written code, as a training loop's steps do after the first few dozen.

The counts include NumPy's Python-level wrappers but not the C code under them: they measure
bookkeeping, not arithmetic. Compare two trees by running this in each.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable

import minigrad as mg
import nn
from bench import char_rnn_tiny
from minigrad import codegen


def opcodes(step: Callable[[], object]) -> int:
    """The Python opcodes one call of ``step`` executes (every frame, library code included)."""
    count = 0

    def tracer(frame, event, arg):  # noqa: ANN001, ANN202 - sys.settrace's signature
        nonlocal count
        frame.f_trace_opcodes = True
        if event == "opcode":
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        step()
    finally:
        sys.settrace(None)
    return count


def _char_rnn(compiled: bool, warmup: int) -> int:
    data, vocab = char_rnn_tiny._data()
    iteration = char_rnn_tiny.minigrad_peer(char_rnn_tiny._weights(vocab), vocab, char_rnn_tiny._chunks(data),
                                            compiled)
    for i in range(warmup):
        iteration(i)
    return opcodes(lambda: iteration(warmup))


def _layer(kind: str, compiled: bool, warmup: int) -> int:
    mg.manual_seed(0)
    layer = getattr(nn, kind)(8, 16, compile=compiled) if compiled else getattr(nn, kind)(8, 16)
    x = mg.randn(6, 4, 8)

    def step() -> None:
        out, _ = layer(x)
        out.sum().backward()

    for _ in range(warmup):
        step()
    return opcodes(step)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warmup", type=int, default=6, help="steps run before the counted one")
    args = parser.parse_args(argv)
    codegen.SECONDS_PER_OP = 0.0   # written after codegen.REPLAYS_FIRST replays, whatever this machine's speed
    print(f"# Python opcodes per step (after {args.warmup} warm-up steps); Python {sys.version.split()[0]}")
    print(f"{'workload':<22} {'eager':>10} {'compiled':>10}")
    rows = [("char_rnn_tiny", lambda c: _char_rnn(c, args.warmup))]
    rows += [(f"nn.{kind}(8, 16)", lambda c, kind=kind: _layer(kind, c, args.warmup))
             for kind in ("LSTM", "GRU", "RNN")]
    for name, count in rows:
        print(f"{name:<22} {count(False):>10,} {count(True):>10,}")


if __name__ == "__main__":
    main()
