"""An LSTM step's elementwise ops fused into one GPU kernel by tracing the ops' own code (``cupy.fuse``).

    python -m bench.gpu_fusion [--sizes 64,1024 64,512 32,128 16,64] [--repeats 200]

Issue #14 asks whether capture lets a recurrent step's elementwise chain become
one CuPy kernel without writing its math a second time. After the step's matrix
product, the primitive-op LSTM step runs eight elementwise ops (nn/cells.py)::

    f = σ(a_f)   i = σ(a_i)   g = tanh(a_g)   c' = addcmul(f * c, i, g)   o = σ(a_o)   h' = o * tanh(c')

and their eight backwards in reverse. This script runs that chain, forward and
backward, three ways on the same (B, 4H) gates and (B, H) cell:

* ``ops``: the op classes (``Sigmoid``, ``Tanh``, ``Mul``, ``AddCMul``) one by
  one on CuPy arrays, as eager mode and ``mg.compile``'s replay launch them
  (each op one to three kernels);
* ``traced``: the *same* ``forward``/``backward`` methods called inside
  ``cupy.fuse``, which records their array calls and generates one kernel for
  the forward chain and one for the backward (plus one concatenation of the four
  gate gradients, split's backward). Nothing is written twice: the kernels come
  from the op classes' code. ``cupy.fuse`` hides shapes from the traced code and
  our ops read them to decide whether to sum broadcast gradients, so the trace
  is told the chain's (B, H) shape (every array in the chain has it);
* ``hand``: ``LSTMGates``, the hand-written ``ElementwiseKernel`` pair behind
  ``nn.LSTM(fused=True)``.

Before timing, ``traced`` and ``hand`` are compared with ``ops`` (largest
absolute difference of h', c' and the gradients; a generated kernel may contract
``a * b + c`` into one fused multiply-add, which changes last bits). A number is
the mean time of one forward + backward of the chain, over ``--repeats`` calls
between two synchronisations (µs), float32.

Then a whole LSTM training step (as ``bench.gpu``: forward over T, loss = sum of
the outputs, backward, SGD update; median ms) with the generated kernels in place
of the hand-written ones: ``nn.LSTM(fused=True)`` runs ``LSTMGates``, whose GPU
half is swapped for the traced chain while that peer runs (``generated``), next to
``compiled`` (``compile=True``: the primitive ops replayed), ``fused`` (the
hand-written kernels), ``autotune`` (the layer compiled whole with
``mode="max-autotune"``: the capture fuses each step's elementwise ops itself,
``minigrad.fusion``) and ``torch.nn.LSTM`` (cuDNN).

Without a GPU the script checks the chain against minigrad's autograd on NumPy
(the same values and gradients as an ``nn.LSTM`` step's ops) and says there is
nothing to time.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import time
from typing import Any, Callable, Iterator

import numpy as np

import minigrad as mg
from minigrad import backend
from minigrad.fusion import proxies_with_shape
from minigrad.ops.elementwise import AddCMul, Mul, Sigmoid, Tanh
from minigrad.ops.fused import LSTMGates

SIZES = [(64, 1024), (64, 512), (32, 128), (16, 64)]
STEP_SIZES = [(64, 100, 1024, 1024), (64, 100, 512, 512), (32, 50, 64, 128), (16, 200, 32, 64)]


def _op(cls: type, xp: Any, n_inputs: int, saved: tuple | None = None) -> Any:
    """An op object as the engine sets one up: its array module, every input wanting a gradient."""
    op = cls()
    op.xp, op.needs_grad = xp, (True,) * n_inputs
    if saved is not None:
        op.saved = saved
    return op


def chain_forward(xp: Any, a_i: Any, a_f: Any, a_g: Any, a_o: Any, c: Any) -> tuple:
    """(h', c', and what the backward reads: f, i, g, o, tanh(c')) from the gate pre-activations and c."""
    f = _op(Sigmoid, xp, 1).forward(a_f)
    i = _op(Sigmoid, xp, 1).forward(a_i)
    g = _op(Tanh, xp, 1).forward(a_g)
    f_c = _op(Mul, xp, 2).forward(f, c)
    c_new = _op(AddCMul, xp, 3).forward(f_c, i, g)
    o = _op(Sigmoid, xp, 1).forward(a_o)
    tanh_c = _op(Tanh, xp, 1).forward(c_new)
    h_new = _op(Mul, xp, 2).forward(o, tanh_c)
    return h_new, c_new, f, i, g, o, tanh_c


def chain_backward(xp: Any, grad_h: Any, grad_c: Any, f: Any, i: Any, g: Any, o: Any, tanh_c: Any,
                   c: Any) -> tuple:
    """(d a_i, d a_f, d a_g, d a_o, d c): the eight ops' backwards in the engine's order."""
    out_mul = _op(Mul, xp, 2, (o, tanh_c))
    out_mul.shapes = None
    grad_o, grad_tanh_c = out_mul.backward(grad_h)
    grad_c_new = _op(Tanh, xp, 1, (tanh_c,)).backward(grad_tanh_c)
    grad_c_new = grad_c + grad_c_new          # the next step's cell gradient, then the one through h'
    update = _op(AddCMul, xp, 3, (i, g))
    update.shapes = None
    update.shape_a = update.shape_y = _SHAPE.get()
    grad_f_c, grad_i, grad_g = update.backward(grad_c_new)
    grad_a_o = _op(Sigmoid, xp, 1, (o,)).backward(grad_o)
    grad_a_g = _op(Tanh, xp, 1, (g,)).backward(grad_g)
    grad_a_i = _op(Sigmoid, xp, 1, (i,)).backward(grad_i)
    forget_mul = _op(Mul, xp, 2, (f, c))
    forget_mul.shapes = None
    grad_f, grad_c_old = forget_mul.backward(grad_f_c)
    grad_a_f = _op(Sigmoid, xp, 1, (f,)).backward(grad_f)
    return grad_a_i, grad_a_f, grad_a_g, grad_a_o, grad_c_old


class _Shape:
    """The chain's (B, H) shape, for the traced ops' bookkeeping (``cupy.fuse`` proxies hide it)."""

    value: tuple = ()

    def get(self) -> tuple:
        return self.value


_SHAPE = _Shape()


@contextlib.contextmanager
def _traced_with_shape(cp: Any, shape: tuple) -> Iterator[None]:
    """While tracing, the proxies report the chain's shape (``minigrad.fusion.proxies_with_shape``), and so does
    ``_SHAPE`` for the ``AddCMul`` that ``chain_backward`` sets up."""
    _SHAPE.value = shape
    with proxies_with_shape(cp, shape):
        yield


def _split(gates: Any) -> tuple:
    hidden = gates.shape[-1] // 4
    return tuple(gates[..., k * hidden:(k + 1) * hidden] for k in range(4))


def run_ops(xp: Any, gates: Any, c: Any, grad_h: Any, grad_c: Any) -> tuple:
    h_new, c_new, *kept = chain_forward(xp, *_split(gates), c)
    *grad_gates, grad_c_old = chain_backward(xp, grad_h, grad_c, *kept, c)
    return h_new, c_new, xp.concatenate(grad_gates, axis=1), grad_c_old


def traced_chain(cp: Any) -> tuple[Callable, Callable]:
    """The chain's forward and backward, each one kernel that ``cupy.fuse`` generates from the ops' code."""
    def forward_chain(a_i: Any, a_f: Any, a_g: Any, a_o: Any, c: Any) -> tuple:
        return chain_forward(cp, a_i, a_f, a_g, a_o, c)

    def backward_chain(grad_h: Any, grad_c: Any, f: Any, i: Any, g: Any, o: Any, tanh_c: Any, c: Any) -> tuple:
        return chain_backward(cp, grad_h, grad_c, f, i, g, o, tanh_c, c)

    return (cp.fuse(kernel_name="lstm_chain_forward")(forward_chain),
            cp.fuse(kernel_name="lstm_chain_backward")(backward_chain))


def traced_runner(cp: Any) -> Callable:
    forward, backward = traced_chain(cp)

    def run(gates: Any, c: Any, grad_h: Any, grad_c: Any) -> tuple:
        with _traced_with_shape(cp, c.shape):
            h_new, c_new, *kept = forward(*_split(gates), c)
            *grad_gates, grad_c_old = backward(grad_h, grad_c, *kept, c)
        return h_new, c_new, cp.concatenate(grad_gates, axis=1), grad_c_old

    return run


def run_hand(gates: Any, c: Any, grad_h: Any, grad_c: Any) -> tuple:
    op = _op(LSTMGates, backend.cupy_module(), 2)
    h_new, c_new = op.forward(gates, c)
    grad_gates, grad_c_old = op.backward(grad_h, grad_c)
    return h_new, c_new, grad_gates, grad_c_old


@contextlib.contextmanager
def generated_gates(cp: Any) -> Iterator[None]:
    """While open, ``LSTMGates`` on a GPU runs the traced chain's kernels instead of its hand-written ones.

    It keeps the ops' saved arrays (f, i, g, o, tanh(c'), c) instead of the hand-written kernels' layout.
    """
    forward, backward = _TRACED.get(id(cp)) or _TRACED.setdefault(id(cp), traced_chain(cp))

    def forward_kernel(self: Any, gates: Any, c: Any, hidden: int) -> tuple:
        with _traced_with_shape(cp, c.shape):
            h_new, c_new, *kept = forward(*_split(gates), c)
        self.saved = (*kept, c)
        return h_new, c_new

    def backward_kernel(self: Any, grad_h: Any, grad_c: Any) -> tuple:
        *kept, c = self.saved
        grad_h = cp.zeros_like(c) if grad_h is None else grad_h
        grad_c = cp.zeros_like(c) if grad_c is None else grad_c
        with _traced_with_shape(cp, c.shape):
            *grad_gates, grad_c_old = backward(grad_h, grad_c, *kept, c)
        return ((cp.concatenate(grad_gates, axis=-1) if self.needs_grad[0] else None),
                (grad_c_old if self.needs_grad[1] else None))

    before = LSTMGates._forward_kernel, LSTMGates._backward_kernel
    LSTMGates._forward_kernel, LSTMGates._backward_kernel = forward_kernel, backward_kernel
    try:
        yield
    finally:
        LSTMGates._forward_kernel, LSTMGates._backward_kernel = before


_TRACED: dict[int, tuple[Callable, Callable]] = {}


def _with_generated_gates(cp: Any, step: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        with generated_gates(cp):
            return step()

    return run


def autotune_step(x: np.ndarray, weights: dict, lr: float) -> Callable[[], Any]:
    """bench.gpu's step of an ``nn.LSTM`` compiled whole with ``mode="max-autotune"`` (minigrad.fusion: each
    step's elementwise ops fused by the capture itself, for any cell)."""
    import nn  # noqa: PLC0415
    from bench.gpu import _sgd_step  # noqa: PLC0415

    model = nn.LSTM(x.shape[2], weights["weight_hh_l0"].shape[1], device="cuda")
    model.load_state_dict(weights)
    model.compile(mode="max-autotune")
    return _sgd_step(model, nn.optim.SGD(model.parameters(), lr=lr), mg.tensor(x, device="cuda"))


def time_training_steps(cp: Any, sizes: list[tuple[int, int, int, int]], repeats: int, warmup: int) -> None:
    """bench.gpu's LSTM training step with the generated kernels, beside the primitive ops, fused and cuDNN."""
    from bench.gpu import _torch_cuda, interleaved_medians, minigrad_step, torch_step  # noqa: PLC0415
    from bench.numpy_lstm import recurrent_weights  # noqa: PLC0415

    torch = _torch_cuda("cuda", tf32=False)

    def synchronize() -> None:
        cp.cuda.runtime.deviceSynchronize()
        if torch is not None:
            torch.cuda.synchronize()

    print(f"# LSTM training step, float32, median of {repeats} steps after {warmup} warm-up steps (ms)")
    for batch, steps, inputs, hidden in sizes:
        x = np.random.default_rng(0).standard_normal((steps, batch, inputs)).astype(np.float32)
        weights = recurrent_weights("lstm", inputs, hidden, seed=1)
        peers = {"compiled": minigrad_step(x, weights, "cuda", 1e-4, compile=True),
                 "autotune": autotune_step(x, weights, 1e-4),
                 "generated": _with_generated_gates(cp, minigrad_step(x, weights, "cuda", 1e-4, fused=True)),
                 "fused": minigrad_step(x, weights, "cuda", 1e-4, fused=True)}
        if torch is not None:
            peers["torch"] = torch_step(torch, x, weights, "cuda", 1e-4)
        losses, ms = interleaved_medians(peers, repeats, warmup, synchronize)
        t = ms.get("torch", float("nan"))
        print(f"B={batch} T={steps} I={inputs} H={hidden}: " + "  ".join(f"{k} {v:.1f}" for k, v in ms.items())
              + " ms | " + "  ".join(f"{k}/torch {v / t:.2f}" for k, v in ms.items() if k != "torch")
              + " | first-step losses " + ", ".join(f"{k} {v:.7g}" for k, v in losses.items()), flush=True)
        del peers
        cp.get_default_memory_pool().free_all_blocks()


def check_on_host(batch: int = 5, hidden: int = 7) -> float:
    """The chain against minigrad's autograd on the same ops (NumPy, float64): the largest difference."""
    rng = np.random.default_rng(0)
    gates, c = rng.standard_normal((batch, 4 * hidden)), rng.standard_normal((batch, hidden))
    grad_h, grad_c = rng.standard_normal((batch, hidden)), rng.standard_normal((batch, hidden))
    _SHAPE.value = (batch, hidden)
    ours = run_ops(np, gates, c, grad_h, grad_c)
    gates_t, c_t = mg.tensor(gates, requires_grad=True), mg.tensor(c, requires_grad=True)
    i, f, g, o = gates_t.chunk(4, axis=-1)
    f, i, g = f.sigmoid(), i.sigmoid(), g.tanh()
    c_new = mg.addcmul(f * c_t, i, g)
    h_new = o.sigmoid() * c_new.tanh()
    mg.autograd.backward([h_new, c_new], [mg.tensor(grad_h), mg.tensor(grad_c)])
    reference = (h_new.data, c_new.data, gates_t.grad.data, c_t.grad.data)
    return max(float(np.abs(a - b).max()) for a, b in zip(ours, reference))


def _time_us(run: Callable[[], Any], repeats: int, synchronize: Callable[[], None]) -> float:
    run()
    synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        run()
    synchronize()
    return (time.perf_counter() - start) / repeats * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=[f"{b},{h}" for b, h in SIZES], metavar="B,H")
    parser.add_argument("--repeats", type=int, default=200, help="chain calls per timing (mean reported)")
    parser.add_argument("--steps", nargs="*", default=[",".join(map(str, size)) for size in STEP_SIZES],
                        metavar="B,T,I,H", help="training-step sizes (none: skip the training steps)")
    parser.add_argument("--step-repeats", type=int, default=10, help="timed training steps per peer")
    args = parser.parse_args(argv)
    difference = check_on_host()
    print(f"# host check: the chain against minigrad's autograd (float64), largest difference {difference:.1e}")
    if not mg.cuda.is_available():
        print("bench.gpu_fusion: no CUDA GPU is available here, so there is nothing to fuse or time.")
        return 0 if difference < 1e-12 else 1
    cp = backend.cupy_module()
    try:
        traced = traced_runner(cp)
    except Exception as error:   # noqa: BLE001 - the experiment reports what stops the trace
        print(f"# traced: cupy.fuse could not be set up: {type(error).__name__}: {error}")
        traced = None
    print(f"# chain forward + backward, float32, mean of {args.repeats} calls (us); CuPy {cp.__version__}")
    for text in args.sizes:
        batch, hidden = (int(v) for v in text.split(","))
        rng = np.random.default_rng(1)
        arrays = [cp.asarray(rng.standard_normal(shape).astype(np.float32))
                  for shape in ((batch, 4 * hidden), (batch, hidden), (batch, hidden), (batch, hidden))]
        _SHAPE.value = (batch, hidden)
        peers: dict[str, Callable[[], Any]] = {"ops": functools.partial(run_ops, cp, *arrays),
                                               "hand": functools.partial(run_hand, *arrays)}
        if traced is not None:
            peers["traced"] = functools.partial(traced, *arrays)
        reference = peers["ops"]()
        line = []
        for name in list(peers):
            try:
                values = peers[name]()
            except Exception as error:   # noqa: BLE001 - the experiment reports what stops the trace
                print(f"# {name} at B={batch} H={hidden} failed: {type(error).__name__}: {error}")
                del peers[name]
                continue
            gap = max(float(cp.abs(a - b).max()) for a, b in zip(values, reference))
            line.append(f"{name} vs ops {gap:.1e}")
        times = {name: _time_us(run, args.repeats, cp.cuda.runtime.deviceSynchronize) for name, run in peers.items()}
        print(f"B={batch} H={hidden}: " + "  ".join(f"{k} {v:.1f}" for k, v in times.items())
              + " | " + "  ".join(f"{k}/ops {v / times['ops']:.2f}" for k, v in times.items() if k != "ops")
              + " | " + ", ".join(line), flush=True)
    if args.steps and traced is not None:
        sizes = [tuple(int(v) for v in text.split(",")) for text in args.steps]
        time_training_steps(cp, sizes, args.step_repeats, warmup=2)   # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
