"""``mg.compile`` against eager mode: an LSTM cell step, and a whole recurrent layer, with a profile.

    python -m bench.compile_step [--batch 16] [--hidden 64] [--steps 200] [--repeats 5] [--threads 1]
                                 [--cell lstm|gru|rnn] [--profile]

Two workloads, float32, on ``--threads`` BLAS threads, each forward + backward:

* ``cell step``: ``h, c = cell(x, (h0, c0))`` then ``(h * h).sum() + (c * c).sum()`` backward
  (an ``nn.LSTMCell(H, H)``, batch B), eager against ``mg.compile(step)``;
* ``layer``: ``nn.LSTM``/``GRU``/``RNN(H/2, H)`` over ``--steps`` time steps, loss = sum of the
  outputs: eager, ``compile=True`` (the layer replays its step) when the layer has it,
  the whole call captured (``mg.compile(lambda x: layer(x)[0])``: one node), and the
  hand-written NumPy peer of ``bench/lstm.py``.

The peers take turns, one call each per round; each number is the median over ``--repeats``
rounds. ``--profile`` then prints where a replayed layer call spends its time: per op
class, its count and the time inside the ops' own ``forward``/``backward`` (the NumPy
work, timed one call at a time), and what is left for the replay's own bookkeeping.
"""

from __future__ import annotations

import argparse
import collections
import inspect
import statistics
import time
from typing import Any, Callable

import numpy as np
from threadpoolctl import threadpool_limits

import minigrad as mg
import nn
from bench import steady_state
from bench.lstm import LAYERS, minigrad_step, numpy_step
from bench.numpy_lstm import recurrent_weights
from minigrad import codegen
from minigrad.capture import _Retrace

WARM_UP = 4   # calls before timing: a compiled peer captures, checks, replays, and writes its code (mg.compile)


def _rounds(peers: dict[str, Callable[[], Any]], repeats: int, calls: int = 1) -> dict[str, float]:
    """Median microseconds per call of each peer, the peers taking turns."""
    for step in peers.values():
        for _ in range(WARM_UP):
            step()
    times: dict[str, list[float]] = {name: [] for name in peers}
    for _ in range(repeats):
        for name, step in peers.items():
            start = time.perf_counter()
            for _ in range(calls):
                step()
            times[name].append((time.perf_counter() - start) / calls * 1e6)
    return {name: statistics.median(t) for name, t in times.items()}


def cell_peers(batch: int, hidden: int) -> dict[str, Callable[[], None]]:
    mg.manual_seed(0)
    cell = nn.LSTMCell(hidden, hidden)
    x = mg.randn(batch, hidden)
    h0 = mg.randn(batch, hidden, requires_grad=True)
    c0 = mg.randn(batch, hidden, requires_grad=True)

    def step(x: mg.Tensor, h: mg.Tensor, c: mg.Tensor) -> tuple:
        return cell(x, (h, c))

    def run(fn: Callable) -> Callable[[], None]:
        def call() -> None:
            h, c = fn(x, h0, c0)
            ((h * h).sum() + (c * c).sum()).backward()
        return call

    return {"eager": run(step), "compiled": run(mg.compile(step))}


def layer_peers(kind: str, batch: int, hidden: int, steps: int) -> tuple[dict, Any]:
    """The layer peers and the whole-call capture (for the profile)."""
    inputs = hidden // 2
    x = np.random.default_rng(0).standard_normal((steps, batch, inputs)).astype(np.float32)
    weights = recurrent_weights(kind, inputs, hidden, 0)
    peers = {"eager": minigrad_step(kind, x, weights)}
    if "compile" in inspect.signature(LAYERS[kind][0].__init__).parameters:
        peers["compile=True"] = minigrad_step(kind, x, weights, compile=True)
    model = LAYERS[kind][0](inputs, hidden)
    model.load_state_dict(weights)
    data = mg.tensor(x)
    whole = mg.compile(lambda t: model(t)[0])

    def captured() -> None:
        model.zero_grad()
        whole(data).sum().backward()

    peers["whole call captured"] = captured
    peers["numpy"] = numpy_step(kind, x, weights)
    return peers, (whole, data)


def profile(compiled: Any, args: tuple, repeats: int) -> None:
    """Per op class: count, time in the ops' forward and backward, and the replay's bookkeeping.

    ``compiled`` is an ``mg.compile``-d function that was called with ``args``.
    """
    compiled(*args)
    program = next(iter(compiled.programs.values()))
    arrays = tuple(t.data for t in (*args, *program.weights))
    forward_time: collections.Counter = collections.Counter()
    backward_time: collections.Counter = collections.Counter()
    counts = collections.Counter(op.name for op, *_ in program.forward_plan)

    def timed(fn: Callable, name: str, into: collections.Counter) -> Callable:
        def call(*args: Any) -> Any:
            start = time.perf_counter()
            result = fn(*args)
            into[name] += time.perf_counter() - start
            return result
        return call

    plain = program.forward_plan, program.backward_plan, program.forward_code, program.backward_code
    totals = {"forward": 0.0, "backward": 0.0}
    for _ in range(repeats):
        start = time.perf_counter()
        outputs, saved = program.run(arrays)
        totals["forward"] += time.perf_counter() - start
        grads = tuple(np.ones_like(y) for y in outputs)
        start = time.perf_counter()
        program.backward(saved, grads)
        totals["backward"] += time.perf_counter() - start
    try:   # the same straight-line code, with every op's forward and backward timed
        program.forward_plan = [(op, timed(f, op.name, forward_time), *rest) for op, f, *rest in plain[0]]
        program.backward_plan = [(op, timed(b, op.name, backward_time), *rest) for op, b, *rest in plain[1]]
        program.forward_code = codegen.write_forward(program, _Retrace)
        program.backward_code = codegen.write_backward(program)
        for _ in range(repeats):
            outputs, saved = program.run(arrays)
            program.backward(saved, grads)
    finally:
        program.forward_plan, program.backward_plan, program.forward_code, program.backward_code = plain
    ms = 1e3 / repeats
    print(f"\nprofile of one replayed call ({len(program.forward_plan)} ops, {len(program.backward_plan)} backwards), "
          "ms per call:")
    print(f"  {'op':12} {'count':>6} {'forward':>9} {'backward':>9}")
    for name, count in counts.most_common():
        print(f"  {name:12} {count:>6} {forward_time[name] * ms:>9.2f} {backward_time[name] * ms:>9.2f}")
    inside_f, inside_b = sum(forward_time.values()) * ms, sum(backward_time.values()) * ms
    print(f"  {'ops total':12} {'':>6} {inside_f:>9.2f} {inside_b:>9.2f}")
    print(f"  {'replay total':12} {'':>6} {totals['forward'] * ms:>9.2f} {totals['backward'] * ms:>9.2f}")
    print(f"  bookkeeping (replay total - ops; backward also values the ProductSum weight gradients): "
          f"{totals['forward'] * ms - inside_f:.2f} + {totals['backward'] * ms - inside_b:.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--steps", type=int, default=200, help="time steps of the layer workload")
    parser.add_argument("--cell", choices=sorted(LAYERS), default="lstm", help="the layer workload's kind")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (threadpoolctl)")
    parser.add_argument("--profile", action="store_true", help="profile the replayed layer call")
    args = parser.parse_args(argv)
    steady_state()
    with threadpool_limits(limits=args.threads):
        cell = _rounds(cell_peers(args.batch, args.hidden), args.repeats, calls=200)
        print(f"LSTMCell step B={args.batch} H={args.hidden}, fwd+bwd (us): eager {cell['eager']:.1f}, "
              f"compiled {cell['compiled']:.1f}, eager/compiled {cell['eager'] / cell['compiled']:.2f}")
        peers, (whole, data) = layer_peers(args.cell, args.batch, args.hidden, args.steps)
        layer = _rounds(peers, args.repeats)
        print(f"{args.cell} layer B={args.batch} T={args.steps} I={args.hidden // 2} H={args.hidden}, fwd+bwd (ms): "
              + ", ".join(f"{name} {us / 1e3:.2f}" for name, us in layer.items()) + " | "
              + ", ".join(f"{name}/numpy {us / layer['numpy']:.2f}" for name, us in layer.items() if name != "numpy"))
        if args.profile:
            profile(whole, (data,), args.repeats)


if __name__ == "__main__":
    main()
