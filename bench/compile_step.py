"""Per-step time of an LSTM cell step (forward + backward), eager against ``mg.compile``.

    python -m bench.compile_step [--batch 16] [--hidden 64] [--steps 2000]

One step: ``h, c = cell(x, (h0, c0))`` then ``(h * h).sum() + (c * c).sum()`` backward, on one BLAS thread.
"""

from __future__ import annotations

import argparse
import statistics
import time

from threadpoolctl import threadpool_limits

import minigrad as mg
import nn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    mg.manual_seed(0)
    cell = nn.LSTMCell(args.hidden, args.hidden)
    x = mg.randn(args.batch, args.hidden)
    h0 = mg.randn(args.batch, args.hidden, requires_grad=True)
    c0 = mg.randn(args.batch, args.hidden, requires_grad=True)

    def step(x, h, c):
        return cell(x, (h, c))

    compiled = mg.compile(step)

    def run(fn) -> None:
        h, c = fn(x, h0, c0)
        ((h * h).sum() + (c * c).sum()).backward()

    times: dict = {"eager": [], "compiled": []}
    with threadpool_limits(1):
        for fn in (step, compiled):
            run(fn)
        for _ in range(5):
            for name, fn in (("eager", step), ("compiled", compiled)):
                start = time.process_time()
                for _ in range(args.steps):
                    run(fn)
                times[name].append((time.process_time() - start) / args.steps * 1e6)
    eager, comp = statistics.median(times["eager"]), statistics.median(times["compiled"])
    print(f"LSTMCell step B={args.batch} H={args.hidden}, fwd+bwd, median of 5: eager {eager:.1f} us, "
          f"compiled {comp:.1f} us, speedup {eager / comp:.2f}x")


if __name__ == "__main__":
    main()
