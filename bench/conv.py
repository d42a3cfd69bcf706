"""Convolution and pooling: minigrad against PyTorch CPU, time and memory, in one run.

    python -m bench.conv [--repeats 5] [--dtype float32|float64|both] [--only NAME]

Each case runs forward plus ``backward`` of the output's sum (forward alone where its name says so), one thread on
both sides (``threadpoolctl`` limits NumPy's BLAS to one thread, ``torch.set_num_threads(1)``); the time is the
minimum over ``--repeats`` runs of the mean CPU time of a few calls (``process_time``: a loaded machine's waits
land on neither peer). Memory: what the recorded graph keeps after forward (``tracemalloc``'s growth over the
inputs, the output included) for minigrad; for PyTorch the distinct storages its graph saves
(``saved_tensors_hooks``) plus the output. Both are given as multiples of the inputs' bytes. Prints a table with
milliseconds per call and the minigrad / PyTorch ratio (below 1 means minigrad is faster).
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from typing import Any, Callable

import numpy as np

import minigrad as mg
import nn
import nn.functional as F  # noqa: N812


def _cases() -> list[tuple[str, list[tuple], dict, str]]:
    """(name, input shapes (x first, then weights/bias), keyword arguments, function name)."""
    return [
        ("conv2d mnist1 (64,1,28,28) k3 ->32", [(64, 1, 28, 28), (32, 1, 3, 3), (32,)], {}, "conv2d"),
        ("conv2d mnist2 (64,32,14,14) k3 p1 ->64", [(64, 32, 14, 14), (64, 32, 3, 3), (64,)], {"padding": 1},
         "conv2d"),
        ("conv2d cifar (32,3,32,32) k3 p1 ->64", [(32, 3, 32, 32), (64, 3, 3, 3), (64,)], {"padding": 1}, "conv2d"),
        ("conv2d stride2 (32,64,16,16) k3 s2 p1", [(32, 64, 16, 16), (64, 64, 3, 3), (64,)],
         {"stride": 2, "padding": 1}, "conv2d"),
        ("conv2d dilation2 (32,32,16,16) k3 d2 p2", [(32, 32, 16, 16), (32, 32, 3, 3), (32,)],
         {"dilation": 2, "padding": 2}, "conv2d"),
        ("conv2d depthwise (32,64,16,16) k3 g64", [(32, 64, 16, 16), (64, 1, 3, 3), (64,)],
         {"padding": 1, "groups": 64}, "conv2d"),
        ("conv2d 1x1 (32,64,16,16) ->128", [(32, 64, 16, 16), (128, 64, 1, 1), (128,)], {}, "conv2d"),
        ("conv1d (32,16,256) k5 p2 ->32", [(32, 16, 256), (32, 16, 5), (32,)], {"padding": 2}, "conv1d"),
        ("conv3d (8,4,16,16,16) k3 p1 ->8", [(8, 4, 16, 16, 16), (8, 4, 3, 3, 3), (8,)], {"padding": 1}, "conv3d"),
        ("conv_transpose2d (32,64,8,8) k2 s2 ->32", [(32, 64, 8, 8), (64, 32, 2, 2), (32,)], {"stride": 2},
         "conv_transpose2d"),
        ("conv_transpose2d (32,32,8,8) k3 s2 p1 op1", [(32, 32, 8, 8), (32, 16, 3, 3), (16,)],
         {"stride": 2, "padding": 1, "output_padding": 1}, "conv_transpose2d"),
        ("max_pool2d k2 s2 (64,32,28,28)", [(64, 32, 28, 28)], {"kernel_size": 2, "stride": 2}, "max_pool2d"),
        ("max_pool2d k3 s2 p1 (64,32,28,28)", [(64, 32, 28, 28)], {"kernel_size": 3, "stride": 2, "padding": 1},
         "max_pool2d"),
        ("avg_pool2d k2 s2 (64,32,28,28)", [(64, 32, 28, 28)], {"kernel_size": 2, "stride": 2}, "avg_pool2d"),
        ("avg_pool2d k3 s2 p1 (64,32,28,28)", [(64, 32, 28, 28)], {"kernel_size": 3, "stride": 2, "padding": 1},
         "avg_pool2d"),
        ("adaptive_avg_pool2d 1 (64,128,7,7)", [(64, 128, 7, 7)], {"output_size": 1}, "adaptive_avg_pool2d"),
        ("batch_norm2d train (64,32,28,28)", [(64, 32, 28, 28), (32,), (32,)], {}, "batch_norm"),
        ("batch_norm2d train NHWC (64,32,28,28)", [(64, 32, 28, 28), (32,), (32,)],
         {"layout": "channels_last"}, "batch_norm"),
        ("batch_norm2d forward NHWC (64,32,28,28)", [(64, 32, 28, 28), (32,), (32,)],
         {"layout": "channels_last", "forward": True}, "batch_norm"),
        ("batch_norm2d train running (8,16,4,4)", [(8, 16, 4, 4), (16,), (16,)], {"running": True}, "batch_norm"),
        ("batch_norm2d forward running (8,16,4,4)", [(8, 16, 4, 4), (16,), (16,)], {"running": True, "forward": True},
         "batch_norm"),
    ]


_RUNNING: dict = {}   # (library, channels, dtype) -> the running estimates a "running" batch_norm case moves


def _call(lib: Any, fn: str, tensors: list, kwargs: dict) -> Any:
    """``fn`` of ``lib``'s functional on ``tensors``; a batch_norm case's keywords are the bench's own:
    ``running`` (moves running estimates, as a module in training does), ``layout`` and ``forward`` (see main)."""
    functional = F if lib is mg else __import__("torch").nn.functional
    if fn == "batch_norm":
        x, w, b = tensors
        running = (None, None)
        if kwargs.get("running"):
            channels = x.shape[1]
            running = _RUNNING.setdefault((lib.__name__, channels, str(x.dtype)),
                                          (lib.zeros(channels, dtype=x.dtype), lib.ones(channels, dtype=x.dtype)))
        return functional.batch_norm(x, *running, w, b, training=True)
    return getattr(functional, fn)(*tensors, **kwargs)


def _time(step: Callable[[], Any], repeats: int) -> float:
    """The minimum over ``repeats`` of the mean CPU time of a call, in milliseconds (enough calls for ~50 ms): this
    process's time, not wall time, so a shared machine's load does not land on either peer."""
    step()
    start = time.process_time()
    step()
    once = time.process_time() - start
    calls = max(1, min(20, int(0.05 / max(once, 1e-6))))
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(calls):
            step()
        best = min(best, (time.process_time() - start) / calls)
    return best * 1e3


def _ours_held(tensors: list, fn: str, kwargs: dict) -> int:
    """Bytes minigrad's graph and output hold after forward (tracemalloc sees NumPy's allocations)."""
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    y = _call(mg, fn, tensors, kwargs)
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del y
    return held


def _torch_held(torch: Any, tensors: list, fn: str, kwargs: dict) -> int:
    """Bytes of the distinct storages PyTorch's graph saves, plus its output (inputs not counted)."""
    inputs = {t.untyped_storage().data_ptr() for t in tensors}
    seen: dict = {}

    def pack(t: Any) -> Any:
        storage = t.untyped_storage()
        if storage.data_ptr() not in inputs:
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = _call(torch, fn, tensors, kwargs)
    if y.untyped_storage().data_ptr() not in seen:
        seen[y.untyped_storage().data_ptr()] = y.untyped_storage().nbytes()
    return sum(seen.values())


def _adam_step(lib: Any, dtype: Any, repeats: int) -> float:
    """One training step of a small CNN (2 conv + pool + linear, Adam) on a (64, 1, 28, 28) batch."""
    rng = np.random.default_rng(0)
    images = rng.standard_normal((64, 1, 28, 28)).astype(dtype)
    labels = rng.integers(0, 10, 64)
    if lib is mg:
        model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(32 * 7 * 7, 10)).to(dtype=mg.float64 if dtype == np.float64
                                                                         else mg.float32)
        optimizer = nn.optim.Adam(model.parameters())
        x, y = mg.tensor(images), mg.tensor(labels)
        loss_fn = F.cross_entropy
    else:
        torch = lib
        tnn = torch.nn
        model = tnn.Sequential(tnn.Conv2d(1, 16, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                               tnn.Conv2d(16, 32, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                               tnn.Flatten(), tnn.Linear(32 * 7 * 7, 10)).to(
            torch.float64 if dtype == np.float64 else torch.float32)
        optimizer = torch.optim.Adam(model.parameters())
        x, y = torch.from_numpy(images), torch.from_numpy(labels)
        loss_fn = torch.nn.functional.cross_entropy

    def step() -> None:
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    return _time(step, repeats)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    parser.add_argument("--only", default=None, help="run the cases whose name contains this")
    args = parser.parse_args(argv)
    import torch
    from threadpoolctl import threadpool_limits
    torch.set_num_threads(1)
    dtypes = [np.float32, np.float64] if args.dtype == "both" else [np.dtype(args.dtype).type]
    with threadpool_limits(limits=1):
        print(f"{'case':44s} {'dtype':8s} {'ours ms':>9s} {'torch ms':>9s} {'ratio':>6s} "
              f"{'ours mem':>9s} {'torch mem':>9s}  (memory: multiples of the inputs)")
        for dtype in dtypes:
            rng = np.random.default_rng(0)
            for name, shapes, kwargs, fn in _cases():
                if args.only and args.only not in name:
                    continue
                arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
                ours = [mg.tensor(a, requires_grad=True) for a in arrays]
                theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
                if kwargs.get("layout") == "channels_last":   # x in NHWC memory (each library's own copy)
                    ours[0] = ours[0].detach().to(memory_format=mg.channels_last).requires_grad_()
                    theirs[0] = theirs[0].detach().to(memory_format=torch.channels_last).requires_grad_()
                backward = not kwargs.get("forward")   # "forward": times forward alone

                def ours_step(ours: list = ours, fn: str = fn, kwargs: dict = kwargs,
                              backward: bool = backward) -> None:
                    y = _call(mg, fn, ours, kwargs)
                    if backward:
                        y.sum().backward()

                def torch_step(theirs: list = theirs, fn: str = fn, kwargs: dict = kwargs,
                               backward: bool = backward) -> None:
                    y = _call(torch, fn, theirs, kwargs)
                    if backward:
                        y.sum().backward()
                mine, peer = _time(ours_step, args.repeats), _time(torch_step, args.repeats)
                size = sum(a.nbytes for a in arrays)
                held_ours = _ours_held(ours, fn, kwargs) / size
                held_torch = _torch_held(torch, theirs, fn, kwargs) / size
                print(f"{name:44s} {np.dtype(dtype).name:8s} {mine:9.3f} {peer:9.3f} {mine / peer:6.2f} "
                      f"{held_ours:9.2f} {held_torch:9.2f}", flush=True)
            if not args.only or args.only in "cnn adam step":
                mine, peer = _adam_step(mg, dtype, args.repeats), _adam_step(torch, dtype, args.repeats)
                print(f"{'small CNN Adam step (64,1,28,28)':44s} {np.dtype(dtype).name:8s} {mine:9.3f} {peer:9.3f} "
                      f"{mine / peer:6.2f}", flush=True)


if __name__ == "__main__":
    main()
