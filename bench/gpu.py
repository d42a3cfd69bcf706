"""One LSTM training step on a GPU: minigrad (primitive ops, and fused) against torch.nn.LSTM (cuDNN).

    python -m bench.gpu [--repeats 20] [--warmup 3] [--sizes 64,100,512,512 64,100,1024,1024] [--tf32]

A step is: forward over T steps from a zero state, loss = sum of the outputs,
backward to every weight (the input needs no gradient), then an SGD update,
as in training. All peers run in the same process on the same GPU in float32,
start from the same weights and read the same batch. Each step is timed with
the GPU synchronised before and after it; a number is the median over
``--repeats`` steps (default 20) after ``--warmup`` untimed steps, with the
peers interleaved so that clock and load changes hit them alike. Peers:

* ``minigrad``: ``nn.LSTM`` from primitive ops on CuPy (the unrolled graph);
* ``compiled``: ``nn.LSTM(compile=True)``: the primitive-op steps captured once and replayed
  (``mg.compile``), no per-node bookkeeping;
* ``fused``: ``nn.LSTM(fused=True)``: each step's gate math is one CuPy
  elementwise kernel forward and one backward (``minigrad.ops.fused``);
* ``torch``: ``torch.nn.LSTM`` on CUDA (cuDNN), if PyTorch with CUDA is installed.
  TF32 tensor-core math is switched off for it (``--tf32`` allows it), so that
  both sides do float32 arithmetic (CuPy's matmuls are plain float32 unless
  ``CUPY_TF32=1``).

Before timing, the first-step losses of the three peers are compared (same
weights, same batch) and their largest relative difference is printed.
Without a GPU the script says so and exits with status 0.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from typing import Any, Callable

import numpy as np

import minigrad as mg
from bench.numpy_lstm import recurrent_weights
from minigrad import backend

SIZES = [(64, 100, 512, 512), (64, 100, 1024, 1024)]
TARGETS = {"fused": 2.0, "minigrad": 4.0, "compiled": 4.0}   # issue 7: times cuDNN allowed at H=1024


def _sgd_step(model: Any, optimizer: Any, inputs: Any) -> Callable[[], Any]:
    """One training step of a minigrad or torch LSTM (same spelling): loss = sum of outputs, backward, update.

    ``zero_grad()`` drops the gradients in both (PyTorch's default ``set_to_none=True``).
    """

    def step() -> Any:
        optimizer.zero_grad()
        output, _ = model(inputs)
        loss = output.sum()
        loss.backward()
        optimizer.step()
        return loss

    return step


def minigrad_step(x: np.ndarray, weights: dict, device: str, lr: float, **options: Any) -> Callable[[], Any]:
    """``options``: ``fused=True`` (hand-written kernels) or ``compile=True`` (captured and replayed steps)."""
    import nn  # noqa: PLC0415 - the library under test, imported once a GPU is known to exist

    model = nn.LSTM(x.shape[2], weights["weight_hh_l0"].shape[1], device=device, **options)
    model.load_state_dict(weights)
    optimizer = nn.optim.SGD(model.parameters(), lr=lr)
    return _sgd_step(model, optimizer, mg.tensor(x, device=device))


def torch_step(torch: Any, x: np.ndarray, weights: dict, device: str, lr: float) -> Callable[[], Any]:
    model = torch.nn.LSTM(x.shape[2], weights["weight_hh_l0"].shape[1]).to(device)
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.copy_(torch.from_numpy(weights[name]))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    return _sgd_step(model, optimizer, torch.from_numpy(x).to(device))


def _torch_cuda(device: str, tf32: bool) -> Any:
    try:
        import torch  # noqa: PLC0415 - optional peer
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    torch.backends.cudnn.enabled = True
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.cuda.set_device(int(device.split(":")[1]) if ":" in device else 0)
    return torch


def _timed_ms(step: Callable[[], Any], synchronize: Callable[[], None]) -> float:
    synchronize()
    start = time.perf_counter()
    step()
    synchronize()
    return (time.perf_counter() - start) * 1e3


def interleaved_medians(peers: dict[str, Callable[[], Any]], repeats: int, warmup: int,
                        synchronize: Callable[[], None]) -> tuple[dict[str, float], dict[str, float]]:
    """(first-step loss, median ms) per peer: the first step from identical weights (the peers must agree
    before their times mean anything), ``warmup - 1`` more untimed, then ``repeats`` timed, interleaved."""
    losses = {name: float(step().item()) for name, step in peers.items()}
    for _ in range(max(warmup - 1, 0)):
        for step in peers.values():
            step()
    samples: dict[str, list[float]] = {name: [] for name in peers}
    for _ in range(repeats):
        for name, step in peers.items():
            samples[name].append(_timed_ms(step, synchronize))
    return losses, {name: statistics.median(values) for name, values in samples.items()}


def _describe(torch: Any, device: str) -> str:
    cp = backend.cupy_module()
    index = mg.Device(device).index or 0
    props = cp.cuda.runtime.getDeviceProperties(index)
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    runtime = cp.cuda.runtime.runtimeGetVersion()
    text = (f"# {name} ({device}), CUDA runtime {runtime // 1000}.{runtime % 1000 // 10}, CuPy {cp.__version__}, "
            f"NumPy {np.__version__}, Python {platform.python_version()}")
    if torch is not None:
        text += (f", PyTorch {torch.__version__} (cuDNN {torch.backends.cudnn.version()}, "
                 f"TF32 {'on' if torch.backends.cudnn.allow_tf32 else 'off'})")
    else:
        text += ", no PyTorch with CUDA (torch column skipped)"
    return text


def run(sizes: list[tuple[int, int, int, int]], repeats: int, warmup: int, device: str, lr: float,
        tf32: bool = False) -> None:
    torch = _torch_cuda(device, tf32)
    cp = backend.cupy_module()

    def synchronize() -> None:
        mg.cuda.synchronize()
        if torch is not None:
            torch.cuda.synchronize()

    print(f"# LSTM training step (forward, backward, SGD update), float32, GPU; "
          f"median of {repeats} steps after {warmup} warm-up steps (ms)")
    print(_describe(torch, device))
    notes = []
    for batch, steps, inputs, hidden in sizes:
        size = f"{batch},{steps},{inputs},{hidden}"
        x = np.random.default_rng(0).standard_normal((steps, batch, inputs)).astype(np.float32)
        weights = recurrent_weights("lstm", inputs, hidden, seed=1)
        peers = {"minigrad": minigrad_step(x, weights, device, lr),
                 "compiled": minigrad_step(x, weights, device, lr, compile=True),
                 "fused": minigrad_step(x, weights, device, lr, fused=True)}
        if torch is not None:
            peers["torch"] = torch_step(torch, x, weights, device, lr)
        losses, ms = interleaved_medians(peers, repeats, warmup, synchronize)
        spread = max(abs(v - losses["minigrad"]) for v in losses.values()) / max(abs(losses["minigrad"]), 1e-30)
        notes.append(f"# {size}: first-step loss " + ", ".join(f"{k} {v:.7g}" for k, v in losses.items())
                     + f"; largest relative difference {spread:.1e}")
        t = ms.get("torch", float("nan"))
        print(f"B={batch} T={steps} I={inputs} H={hidden}: " + "  ".join(f"{k} {v:.1f}" for k, v in ms.items())
              + " ms | " + "  ".join(f"{k}/torch {v / t:.2f}" for k, v in ms.items() if k != "torch"), flush=True)
        if torch is not None and hidden == 1024:
            for peer, allowed in TARGETS.items():
                ratio = ms[peer] / t
                notes.append(f"# target at {size}: {peer} within {allowed:g}x of cuDNN: {ratio:.2f}x, "
                             + ("met" if ratio <= allowed else "NOT met"))
        del peers
        cp.get_default_memory_pool().free_all_blocks()
        if torch is not None:
            torch.cuda.empty_cache()
    print("\n".join(notes))


def _size(text: str) -> tuple[int, int, int, int]:
    values = tuple(int(v) for v in text.split(","))
    if len(values) != 4 or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"a size is four positive integers B,T,I,H, got {text!r}")
    return values  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=_size, nargs="+", default=SIZES, metavar="B,T,I,H",
                        help="sizes to time (default: 64,100,512,512 64,100,1024,1024)")
    parser.add_argument("--repeats", type=int, default=20, help="timed steps per peer and size (median reported)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (kernel builds, allocator)")
    parser.add_argument("--device", default="cuda", help="cuda or cuda:N")
    parser.add_argument("--lr", type=float, default=1e-4, help="SGD learning rate of the update in each step")
    parser.add_argument("--tf32", action="store_true", help="let PyTorch/cuDNN use TF32 tensor cores (off: float32)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if not mg.cuda.is_available():
        print("bench.gpu: no CUDA GPU is available here (CuPy is not installed or sees no device), so there is "
              "nothing to time.\nOn a machine with an NVIDIA GPU: pip install cupy-cuda12x (or cupy-cuda13x) and "
              "torch, then run: python -m bench.gpu")
        return 0
    run(args.sizes, args.repeats, args.warmup, args.device, args.lr, args.tf32)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
