"""Per-op overhead: minigrad against PyTorch eager on tiny tensors, in one run.

    python -m bench.overhead [--repeats 7] [--iterations 20000] [--chain 1000]

On 2x2 inputs the arithmetic is free, so the time is the engine's own
bookkeeping: making nodes, wrapping outputs, walking the graph backward.
Three workloads, each timed as the median of ``--repeats`` runs:

* ``a*b+a``: forward with grad recording plus ``backward`` (2 op nodes);
  minigrad vs PyTorch eager (``torch.set_num_threads(1)``), and plain NumPy
  doing the same arithmetic and its hand-written gradient as a floor;
* ``a*b+a forward only``: the same without backward (recording still on);
* a chain of ``--chain`` small adds, forward + backward: microseconds per node.

Prints a table with microseconds per iteration and the minigrad / PyTorch
ratio (below 1 means minigrad is cheaper).

Before timing, ``gc.freeze()`` moves the objects that exist after the imports
into the permanent generation (``--no-freeze`` skips it). Without it, the
cycle collector's full passes walk everything ``import torch`` created
(~150,000 objects) and that cost lands on whichever peer allocates Python
objects, i.e. minigrad: ~40% on the add chain, a property of the process, not
of the engine.
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import time
from typing import Any, Callable

import numpy as np

import minigrad as mg


def _median_us(steps: dict[str, Callable[[], Any]], iterations: int, repeats: int) -> dict[str, float]:
    """For each peer, the median over ``repeats`` of the mean CPU time per call, in microseconds.

    The peers take turns within each repeat, so a burst of load from other
    processes hits all of them alike. CPU time of this process
    (``time.process_time``), not wall time: on a shared machine the time spent
    descheduled is not the engine's. Every peer runs on this one thread
    (PyTorch with ``set_num_threads(1)``; its CPU backward runs on the caller).
    """
    for step in steps.values():  # warm-up
        for _ in range(max(iterations // 10, 1)):
            step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.process_time()
            for _ in range(iterations):
                step()
            times[name].append((time.process_time() - start) / iterations * 1e6)
    return {name: statistics.median(t) for name, t in times.items()}


def engine_steps(lib: Any, chain: int) -> dict[str, Callable[[], Any]]:
    """The three workloads on an autograd engine: ``lib`` is ``minigrad`` or ``torch`` (same spelling)."""
    a = lib.randn(2, 2, requires_grad=True)
    b = lib.randn(2, 2, requires_grad=True)
    one = lib.ones(2, 2)

    def fwd_bwd() -> None:
        y = a * b + a
        y.backward(one)

    def fwd() -> None:
        a * b + a

    def add_chain() -> None:
        y = a
        for _ in range(chain):
            y = y + b
        y.backward(one)

    return {"fwd_bwd": fwd_bwd, "fwd": fwd, "chain": add_chain}


def numpy_steps(chain: int) -> dict[str, Callable[[], Any]]:
    """The same arithmetic and its gradient written by hand: the floor for any engine."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 2)), rng.standard_normal((2, 2))
    grads = {"a": np.zeros((2, 2)), "b": np.zeros((2, 2))}
    one = np.ones((2, 2))

    def fwd_bwd() -> None:
        a * b + a
        grads["a"] += one * b + one
        grads["b"] += one * a

    def fwd() -> None:
        a * b + a

    def add_chain() -> None:
        y = a
        for _ in range(chain):
            y = y + b
        grads["a"] += one
        grads["b"] += chain * one

    return {"fwd_bwd": fwd_bwd, "fwd": fwd, "chain": add_chain}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats; the median is reported")
    parser.add_argument("--iterations", type=int, default=20000, help="calls per repeat for a*b+a")
    parser.add_argument("--chain", type=int, default=1000, help="length of the add chain")
    parser.add_argument("--no-freeze", action="store_true", help="do not gc.freeze() the imported objects")
    args = parser.parse_args(argv)

    try:
        import torch  # noqa: PLC0415 - optional peer

        torch.set_num_threads(1)
    except ImportError:
        torch = None

    chain_iterations = max(args.iterations // args.chain, 5)
    peers: dict[str, dict[str, Callable[[], Any]]] = {"minigrad": engine_steps(mg, args.chain)}
    if torch is not None:
        peers["torch"] = engine_steps(torch, args.chain)
    peers["numpy"] = numpy_steps(args.chain)
    if not args.no_freeze:
        gc.collect()
        gc.freeze()

    rows = [
        ("a*b+a forward+backward (us/iter)", "fwd_bwd", args.iterations, 1),
        ("a*b+a forward only (us/iter)", "fwd", args.iterations, 1),
        (f"add chain x{args.chain}, fwd+bwd (us/node)", "chain", chain_iterations, args.chain),
    ]
    results: dict[str, dict[str, float]] = {}
    for label, key, iterations, per in rows:
        medians = _median_us({name: steps[key] for name, steps in peers.items()}, iterations, args.repeats)
        results[label] = {name: us / per for name, us in medians.items()}

    print(f"python {platform.python_version()}, numpy {np.__version__}, "
          f"torch {torch.__version__ if torch is not None else 'not installed'}; "
          f"median of {args.repeats} repeats; 2x2 float32 (numpy: float64); "
          f"gc.freeze() {'off' if args.no_freeze else 'on'}")
    names = list(peers)
    header = f"{'workload':<40}" + "".join(f"{n:>12}" for n in names)
    if torch is not None:
        header += f"{'minigrad/torch':>16}"
    print(header)
    print("-" * len(header))
    for label, by_peer in results.items():
        line = f"{label:<40}" + "".join(f"{by_peer[n]:>12.2f}" for n in names)
        if torch is not None:
            line += f"{by_peer['minigrad'] / by_peer['torch']:>16.2f}"
        print(line)


if __name__ == "__main__":
    main()
