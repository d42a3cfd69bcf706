"""One LSTM training step: minigrad's nn.LSTM against torch.nn.LSTM and a hand-written NumPy LSTM.

    python -m bench.lstm [--sizes all|small] [--repeats 5] [--threads 2] [--profile B,T,I,H]

A step is: forward over T steps from a zero state, loss = sum of the outputs,
backward to every weight (the input needs no gradient), as in training. All
peers run in the same process on the CPU in float32 (PyTorch with
``torch.set_num_threads(--threads)``, 2 by default; NumPy's BLAS uses its own
default, one thread per core, unless ``OPENBLAS_NUM_THREADS`` says otherwise),
with the same weights and the same batch. The peers take turns, one step each,
so that load from other processes hits them alike; each number is the median
over ``--repeats`` such rounds after a warm-up step. Peers:

* ``minigrad``: ``nn.LSTM`` from primitive ops (the unrolled graph);
* ``minigrad fused``: ``nn.LSTM(fused=True)``, the gate math as one op per step;
* ``torch``: ``torch.nn.LSTM`` (its native CPU kernel), if PyTorch is installed;
* ``numpy``: a plain-NumPy LSTM with hand-written BPTT (``bench/numpy_lstm.py``).

Before timing, ``gc.freeze()`` moves the objects that exist after the imports
(some 150,000 from ``import torch``) out of the cycle collector's reach, as in
``bench/overhead.py``: otherwise every full collection would rescan them and
bill the peer that happened to allocate (``--no-freeze`` skips it).

``--profile B,T,I,H`` runs cProfile over minigrad's step at that size instead
and prints the top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import platform
import pstats
import statistics
import time
from typing import Any, Callable

import numpy as np

import minigrad as mg
import nn
from bench.numpy_lstm import NumpyLSTM, lstm_weights

SIZES = [(32, 50, 64, 128), (64, 50, 256, 256), (64, 100, 512, 512), (16, 200, 32, 64)]
SMALL_SIZES = [(32, 50, 64, 128), (16, 200, 32, 64)]


def _time_ms(step: Callable[[], Any]) -> float:
    start = time.perf_counter()
    step()
    return (time.perf_counter() - start) * 1e3


def minigrad_step(x: np.ndarray, weights: dict, fused: bool = False) -> Callable[[], Any]:
    model = nn.LSTM(x.shape[2], weights["weight_hh_l0"].shape[1], fused=fused)
    model.load_state_dict(weights)
    inputs = mg.tensor(x)

    def step() -> None:
        model.zero_grad()
        output, _ = model(inputs)
        output.sum().backward()

    return step


def torch_step(torch: Any, x: np.ndarray, weights: dict) -> Callable[[], Any]:
    model = torch.nn.LSTM(x.shape[2], weights["weight_hh_l0"].shape[1])
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.copy_(torch.from_numpy(weights[name]))
    inputs = torch.from_numpy(x)

    def step() -> None:
        model.zero_grad(set_to_none=True)
        output, _ = model(inputs)
        output.sum().backward()

    return step


def numpy_step(x: np.ndarray, weights: dict) -> Callable[[], Any]:
    model = NumpyLSTM(*(weights[k] for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")))

    def step() -> None:
        output = model.forward(x)
        model.backward(np.ones_like(output))

    return step


def _torch(threads: int) -> Any:
    try:
        import torch  # noqa: PLC0415 - optional peer
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


def run(sizes: list[tuple[int, int, int, int]], repeats: int, threads: int = 2, freeze: bool = True) -> None:
    torch = _torch(threads)
    if freeze:
        gc.collect()
        gc.freeze()
    print(f"# LSTM training step (forward over T, loss = sum of outputs, backward), float32, CPU; "
          f"median of {repeats} steps (ms)")
    print(f"# {platform.processor() or platform.machine()}, Python {platform.python_version()}, NumPy {np.__version__}"
          + (f", PyTorch {torch.__version__} ({torch.get_num_threads()} threads)" if torch else ", no PyTorch")
          + f", OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}"
          + f", gc.freeze() {'on' if freeze else 'off'}")
    header = ["B", "T", "I", "H", "minigrad", "mg fused", "numpy", "torch", "mg/numpy", "mg/torch", "fused/torch"]
    print(" | ".join(f"{h:>9}" for h in header))
    for batch, steps, inputs, hidden in sizes:
        x = np.random.default_rng(0).standard_normal((steps, batch, inputs)).astype(np.float32)
        weights = lstm_weights(inputs, hidden, seed=1)
        peers = {"minigrad": minigrad_step(x, weights), "fused": minigrad_step(x, weights, fused=True),
                 "numpy": numpy_step(x, weights)}
        if torch is not None:
            peers["torch"] = torch_step(torch, x, weights)
        for step in peers.values():
            step()  # warm-up
        samples: dict[str, list[float]] = {name: [] for name in peers}
        for _ in range(repeats):
            for name, step in peers.items():
                samples[name].append(_time_ms(step))
        ms = {name: statistics.median(values) for name, values in samples.items()}
        t = ms.get("torch", float("nan"))
        row = [batch, steps, inputs, hidden]
        cells = [f"{v:>9}" for v in row] + [f"{ms['minigrad']:>9.1f}", f"{ms['fused']:>9.1f}",
                                              f"{ms['numpy']:>9.1f}", f"{t:>9.1f}",
                                              f"{ms['minigrad'] / ms['numpy']:>9.2f}", f"{ms['minigrad'] / t:>9.2f}",
                                              f"{ms['fused'] / t:>9.2f}"]
        print(" | ".join(cells), flush=True)


def profile(size: tuple[int, int, int, int], repeats: int) -> None:
    batch, steps, inputs, hidden = size
    x = np.random.default_rng(0).standard_normal((steps, batch, inputs)).astype(np.float32)
    step = minigrad_step(x, lstm_weights(inputs, hidden, seed=1))
    step()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeats):
        step()
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", choices=["all", "small"], default="all",
                        help="all four sizes, or the two quick ones")
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per peer and size (median reported)")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads for the PyTorch peer")
    parser.add_argument("--no-freeze", action="store_true", help="do not gc.freeze() the imported objects")
    parser.add_argument("--profile", metavar="B,T,I,H", help="cProfile minigrad's step at this size instead")
    args = parser.parse_args()
    if args.profile:
        size = tuple(int(v) for v in args.profile.split(","))
        if len(size) != 4:
            parser.error("--profile takes four integers B,T,I,H")
        profile(size, args.repeats)  # type: ignore[arg-type]
        return
    run(SIZES if args.sizes == "all" else SMALL_SIZES, args.repeats, args.threads, freeze=not args.no_freeze)


if __name__ == "__main__":
    main()
