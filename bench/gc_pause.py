"""Does pausing the cyclic garbage collector while a recurrent layer records its graph still pay?

    python -m bench.gc_pause [--repeats 15] [--heap 0,150000]

The recurrent layers record their loop over time inside ``mg.gc_paused()``
(minigrad/memory.py). This times one training step of ``nn.LSTM`` (forward
over T steps, loss = sum of the outputs, backward) as it is, and with the pause
replaced by a no-op, at a few sizes (B, T, I, H), on one BLAS thread. The two
variants take turns, step by step, so that load from other processes hits both
alike; each number is the median over ``--repeats`` steps after a warm-up.

``--heap`` lists numbers of extra long-lived objects kept alive during the run
(0: a small program; 150,000: about what ``import torch`` leaves behind), since
each full collection walks every object the program holds.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import statistics
import time
from typing import Any, Callable

import numpy as np
from threadpoolctl import threadpool_limits

import minigrad as mg
import nn

SIZES = [(1, 25, 10, 100), (32, 50, 64, 128), (16, 200, 32, 64), (8, 1000, 16, 32)]


def training_step(batch: int, steps: int, inputs: int, hidden: int) -> Callable[[], None]:
    mg.manual_seed(0)
    model = nn.LSTM(inputs, hidden)
    x = mg.randn(steps, batch, inputs)

    def step() -> None:
        model.zero_grad()
        output, _ = model(x)
        output.sum().backward()

    return step


def compare(step: Callable[[], None], repeats: int) -> tuple[float, float]:
    """Median milliseconds per step with the layer's pause and without it."""
    paused = mg.gc_paused
    times: dict[bool, list[float]] = {True: [], False: []}
    try:
        for _ in range(repeats):
            for pause in (True, False):
                # the layer looks mg.gc_paused up at each call, so this swaps the pause out
                mg.gc_paused = paused if pause else contextlib.nullcontext
                start = time.perf_counter()
                step()
                times[pause].append((time.perf_counter() - start) * 1e3)
    finally:
        mg.gc_paused = paused
    return statistics.median(times[True]), statistics.median(times[False])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15, help="timed steps per variant and size (median)")
    parser.add_argument("--heap", default="0,150000", help="comma-separated numbers of extra live objects")
    args = parser.parse_args(argv)
    heaps = [int(v) for v in args.heap.split(",")]
    print(f"Python {platform.python_version()}, NumPy {np.__version__}, one BLAS thread; "
          f"median of {args.repeats} steps, ms")
    print(f"{'extra objects':>13}  {'(B, T, I, H)':>18}  {'paused':>8}  {'running':>8}  {'running/paused':>14}")
    with threadpool_limits(1):
        for extra in heaps:
            ballast: list[Any] = [(i, [i]) for i in range(extra)]   # long-lived, tracked by the collector
            for size in SIZES:
                step = training_step(*size)
                step()
                paused, running = compare(step, args.repeats)
                print(f"{extra:>13}  {str(size):>18}  {paused:8.2f}  {running:8.2f}  {running / paused:14.2f}",
                      flush=True)
            del ballast


if __name__ == "__main__":
    main()
