"""One recurrent training step: minigrad's nn.LSTM/GRU/RNN against torch.nn's and hand-written NumPy layers.

    python -m bench.lstm [--cells lstm,gru,rnn] [--sizes all|small] [--repeats 5] [--block 3]
                         [--threads 1] [--profile B,T,I,H]

A step is: forward over T steps from a zero state, loss = sum of the outputs,
backward to every weight (the input needs no gradient), as in training. All
peers run in the same process on the CPU in float32 with ``--threads`` threads
(``torch.set_num_threads`` for PyTorch, ``threadpoolctl`` for NumPy's BLAS; 1 by
default), with the same weights and the same batch. The peers take turns, ``--block``
steps each, so that load from other processes hits them alike; the last step of each
turn is timed, as a training loop runs its step again and again (the first step after
another peer's pays for caches and heap pages that peer left behind: 1.12x for a
compiled small layer). Each number is the median over ``--repeats`` such rounds after
four warm-up steps (a compiled layer captures, replays, then writes its code). Peers:

* ``minigrad``: ``nn.LSTM`` (``GRU``, ``RNN``) from primitive ops, eager (the unrolled graph);
* ``compiled``: the same layer with ``compile=True``: its step captured once and replayed;
* ``fused``: ``nn.LSTM``/``nn.GRU(fused=True)``, the gate math as one op per step;
* ``torch``: ``torch.nn.LSTM`` (its native CPU kernel), if PyTorch is installed;
* ``numpy``: a plain-NumPy layer with hand-written BPTT (``bench/numpy_lstm.py``, ``bench/numpy_gru.py``).

Before timing, each peer's outputs and weight gradients are compared with the NumPy peer's
and the largest relative difference is printed.

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
import inspect
import platform
import pstats
import statistics
import time
from typing import Any, Callable

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

import minigrad as mg
import nn
from bench import steady_state
from bench.numpy_gru import NumpyGRU, NumpyRNN
from bench.numpy_lstm import NumpyLSTM, recurrent_weights

WARM_UP = 3   # steps per peer before timing (see codegen.REPLAYS_FIRST)
SIZES = [(32, 50, 64, 128), (64, 50, 256, 256), (64, 100, 512, 512), (16, 200, 32, 64)]
SMALL_SIZES = [(32, 50, 64, 128), (16, 200, 32, 64)]
LAYERS = {"lstm": (nn.LSTM, NumpyLSTM, "LSTM"), "gru": (nn.GRU, NumpyGRU, "GRU"), "rnn": (nn.RNN, NumpyRNN, "RNN")}
WEIGHT_NAMES = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


def _time_ms(step: Callable[[], Any]) -> float:
    start = time.perf_counter()
    step()
    return (time.perf_counter() - start) * 1e3


def _accepts(layer: type, option: str) -> bool:
    return option in inspect.signature(layer.__init__).parameters


def minigrad_step(cell: str, x: np.ndarray, weights: dict, **options: Any) -> Callable[[], dict]:
    """One step of nn.LSTM/GRU/RNN with ``options`` (``fused=True``, ``compile=True``); returns the gradients."""
    model = LAYERS[cell][0](x.shape[2], weights["weight_hh_l0"].shape[1], **options)
    model.load_state_dict(weights)
    inputs = mg.tensor(x)

    def step() -> dict:
        model.zero_grad()
        output, _ = model(inputs)
        output.sum().backward()
        return {"output": output.data, **{k[:-3]: getattr(model, k).grad.data for k in WEIGHT_NAMES}}

    return step


def torch_step(torch: Any, cell: str, x: np.ndarray, weights: dict) -> Callable[[], dict]:
    model = getattr(torch.nn, LAYERS[cell][2])(x.shape[2], weights["weight_hh_l0"].shape[1])
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.copy_(torch.from_numpy(weights[name]))
    inputs = torch.from_numpy(x)

    def step() -> dict:
        model.zero_grad(set_to_none=True)
        output, _ = model(inputs)
        output.sum().backward()
        return {"output": output.detach().numpy(),
                **{k[:-3]: getattr(model, k).grad.numpy() for k in WEIGHT_NAMES}}

    return step


def numpy_step(cell: str, x: np.ndarray, weights: dict) -> Callable[[], dict]:
    model = LAYERS[cell][1](*(weights[k] for k in WEIGHT_NAMES))

    def step() -> dict:
        output = model.forward(x)
        return {"output": output, **model.backward(np.ones_like(output))}

    return step


def peers_for(cell: str, x: np.ndarray, weights: dict, torch: Any) -> dict[str, Callable[[], dict]]:
    layer = LAYERS[cell][0]
    peers = {"minigrad": minigrad_step(cell, x, weights)}
    if _accepts(layer, "compile"):
        peers["compiled"] = minigrad_step(cell, x, weights, compile=True)
    if cell != "rnn" and _accepts(layer, "fused"):
        peers["fused"] = minigrad_step(cell, x, weights, fused=True)
    peers["numpy"] = numpy_step(cell, x, weights)
    if torch is not None:
        peers["torch"] = torch_step(torch, cell, x, weights)
    return peers


def _largest_difference(results: dict[str, dict]) -> float:
    """The largest relative difference of any peer's output or weight gradient from the NumPy peer's."""
    reference = results["numpy"]
    worst = 0.0
    for result in results.values():
        for key, value in reference.items():
            scale = float(np.abs(value).max()) or 1.0
            worst = max(worst, float(np.abs(np.asarray(result[key]) - value).max()) / scale)
    return worst


def _torch(threads: int) -> Any:
    try:
        import torch  # noqa: PLC0415 - optional peer
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


def run(cells: list[str], sizes: list[tuple[int, int, int, int]], repeats: int, threads: int = 1,
        freeze: bool = True, block: int = 3) -> None:
    torch = _torch(threads)
    if freeze:
        gc.collect()
        gc.freeze()
    blas = ", ".join(f"{i['internal_api']} {i['num_threads']} thread(s)" for i in threadpool_info()
                     if i["user_api"] == "blas")
    print(f"# recurrent training step (forward over T, loss = sum of outputs, backward), float32, CPU; "
          f"median of {repeats} rounds, the last of {block} steps per peer and round (ms)")
    print(f"# {platform.processor() or platform.machine()}, Python {platform.python_version()}, NumPy {np.__version__}"
          f" ({blas})" + (f", PyTorch {torch.__version__} ({torch.get_num_threads()} threads)" if torch else
                          ", no PyTorch") + f", gc.freeze() {'on' if freeze else 'off'}")
    for cell in cells:
        for batch, steps, inputs, hidden in sizes:
            x = np.random.default_rng(0).standard_normal((steps, batch, inputs)).astype(np.float32)
            weights = recurrent_weights(cell, inputs, hidden, seed=1)
            peers = peers_for(cell, x, weights, torch)
            difference = _largest_difference({name: step() for name, step in peers.items()})
            for step in peers.values():   # the warm-up: a compiled layer captures, replays, then writes its code
                for _ in range(WARM_UP):
                    step()
            samples: dict[str, list[float]] = {name: [] for name in peers}
            for _ in range(repeats):
                for name, step in peers.items():
                    for _ in range(block - 1):
                        step()
                    samples[name].append(_time_ms(step))
            ms = {name: statistics.median(values) for name, values in samples.items()}
            ratios = {f"{name}/{peer}": ms[name] / ms[peer] for name in ("minigrad", "compiled", "fused")
                      for peer in ("numpy", "torch") if name in ms and peer in ms}
            print(f"{cell:>5} B={batch} T={steps} I={inputs} H={hidden}: "
                  + "  ".join(f"{name} {value:.1f}" for name, value in ms.items()) + " ms | "
                  + "  ".join(f"{name} {value:.2f}" for name, value in ratios.items())
                  + f" | largest difference {difference:.1e}", flush=True)


def profile(cell: str, size: tuple[int, int, int, int], repeats: int, **options: Any) -> None:
    batch, steps, inputs, hidden = size
    x = np.random.default_rng(0).standard_normal((steps, batch, inputs)).astype(np.float32)
    step = minigrad_step(cell, x, recurrent_weights(cell, inputs, hidden, seed=1), **options)
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
    parser.add_argument("--cells", default="lstm", help="comma-separated: lstm, gru, rnn")
    parser.add_argument("--sizes", choices=["all", "small"], default="all",
                        help="all four sizes, or the two quick ones")
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per peer and size (median reported)")
    parser.add_argument("--block", type=int, default=3, help="steps per peer and round (the last is timed)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS and PyTorch threads")
    parser.add_argument("--no-freeze", action="store_true", help="do not gc.freeze() the imported objects")
    parser.add_argument("--profile", metavar="B,T,I,H", help="cProfile minigrad's step at this size instead")
    parser.add_argument("--profile-compiled", action="store_true", help="profile the compiled step")
    args = parser.parse_args()
    steady_state()
    cells = [c.strip() for c in args.cells.split(",")]
    unknown = [c for c in cells if c not in LAYERS]
    if unknown:
        parser.error(f"unknown cell(s) {unknown}; choose from {sorted(LAYERS)}")
    with threadpool_limits(limits=args.threads):
        if args.profile:
            size = tuple(int(v) for v in args.profile.split(","))
            if len(size) != 4:
                parser.error("--profile takes four integers B,T,I,H")
            options = {"compile": True} if args.profile_compiled else {}
            profile(cells[0], size, args.repeats, **options)  # type: ignore[arg-type]
            return
        if args.block < 1:
            parser.error("--block must be at least 1")
        run(cells, SIZES if args.sizes == "all" else SMALL_SIZES, args.repeats, args.threads,
            freeze=not args.no_freeze, block=args.block)


if __name__ == "__main__":
    main()
