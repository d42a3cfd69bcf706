"""A plain-NumPy LSTM with hand-written back-propagation through time: the benchmark's baseline.

The same equations as ``nn.LSTM`` (PyTorch's gate order i, f, g, o), written the
way one would by hand for speed: the input projection of every step in one
GEMM, the gate activations of a step written into one preallocated array, and
each weight gradient summed over time with one GEMM after the backward loop.
"""

from __future__ import annotations

import numpy as np

GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def recurrent_weights(cell: str, input_size: int, hidden_size: int, seed: int) -> dict[str, np.ndarray]:
    """One layer's weights with PyTorch's default init U(-1/√H, 1/√H), as float32 host arrays keyed as
    the state dicts of ``nn.{LSTM,GRU,RNN}`` and ``torch.nn.{LSTM,GRU,RNN}`` (``weight_ih_l0`` (G·H, I), ...)."""
    rng = np.random.default_rng(seed)
    bound = 1 / np.sqrt(hidden_size)
    rows = GATES[cell] * hidden_size
    shapes = {"weight_ih_l0": (rows, input_size), "weight_hh_l0": (rows, hidden_size),
              "bias_ih_l0": (rows,), "bias_hh_l0": (rows,)}
    return {k: rng.uniform(-bound, bound, s).astype(np.float32) for k, s in shapes.items()}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    out = np.exp(-x)
    out += 1
    np.reciprocal(out, out=out)
    return out


class NumpyLayer:
    """One recurrent layer's weights as PyTorch names them: weight_ih (G·H, I), weight_hh (G·H, H), biases (G·H,)."""

    def __init__(self, weight_ih: np.ndarray, weight_hh: np.ndarray, bias_ih: np.ndarray,
                 bias_hh: np.ndarray) -> None:
        self.weight_ih, self.weight_hh = weight_ih, weight_hh
        self.bias_ih, self.bias_hh = bias_ih, bias_hh
        self.hidden_size = weight_hh.shape[1]


class NumpyLSTM(NumpyLayer):
    """One-layer LSTM (gates i, f, g, o): forward and hand-written BPTT."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (T, B, I) → outputs h_1 … h_T: (T, B, H); zero initial state. Keeps what backward needs."""
        steps, batch, inputs = x.shape
        hidden = self.hidden_size
        gates_x = x.reshape(steps * batch, inputs) @ self.weight_ih.T
        gates_x += self.bias_ih + self.bias_hh
        gates_x = gates_x.reshape(steps, batch, 4 * hidden)
        weight_hh_t = self.weight_hh.T
        h = np.zeros((steps + 1, batch, hidden), dtype=x.dtype)       # h[t + 1] is h_t
        c = np.zeros((steps + 1, batch, hidden), dtype=x.dtype)
        acts = np.empty((steps, batch, 4 * hidden), dtype=x.dtype)   # σ(i), σ(f), tanh(g), σ(o)
        tanh_c = np.empty((steps, batch, hidden), dtype=x.dtype)
        for t in range(steps):
            a = acts[t]
            np.matmul(h[t], weight_hh_t, out=a)
            a += gates_x[t]
            a[:, :2 * hidden] = _sigmoid(a[:, :2 * hidden])
            np.tanh(a[:, 2 * hidden:3 * hidden], out=a[:, 2 * hidden:3 * hidden])
            a[:, 3 * hidden:] = _sigmoid(a[:, 3 * hidden:])
            i, f, g, o = a[:, :hidden], a[:, hidden:2 * hidden], a[:, 2 * hidden:3 * hidden], a[:, 3 * hidden:]
            np.multiply(f, c[t], out=c[t + 1])
            c[t + 1] += i * g
            np.tanh(c[t + 1], out=tanh_c[t])
            np.multiply(o, tanh_c[t], out=h[t + 1])
        self.saved = (x, h, c, acts, tanh_c)
        return h[1:]

    def backward(self, grad_output: np.ndarray, input_grad: bool = False) -> dict:
        """grad_output: dL/d(outputs) (T, B, H) → gradients of the four weights (and ``input`` if asked)."""
        x, h, c, acts, tanh_c = self.saved
        steps, batch, inputs = x.shape
        hidden = self.hidden_size
        grad_gates = np.empty_like(acts)
        grad_h = np.zeros((batch, hidden), dtype=x.dtype)
        grad_c = np.zeros((batch, hidden), dtype=x.dtype)
        for t in range(steps - 1, -1, -1):
            a = acts[t]
            i, f, g, o = a[:, :hidden], a[:, hidden:2 * hidden], a[:, 2 * hidden:3 * hidden], a[:, 3 * hidden:]
            grad_h += grad_output[t]
            # through h = o * tanh(c)
            grad_c += grad_h * o * (1 - tanh_c[t] ** 2)
            d = grad_gates[t]
            d[:, 3 * hidden:] = grad_h * tanh_c[t] * o * (1 - o)
            # through c' = f * c + i * g
            d[:, :hidden] = grad_c * g * i * (1 - i)
            d[:, hidden:2 * hidden] = grad_c * c[t] * f * (1 - f)
            d[:, 2 * hidden:3 * hidden] = grad_c * i * (1 - g * g)
            np.matmul(d, self.weight_hh, out=grad_h)
            grad_c *= f
        flat = grad_gates.reshape(steps * batch, 4 * hidden)
        grad_bias = flat.sum(axis=0)
        grads = {
            "weight_ih": flat.T @ x.reshape(steps * batch, inputs),
            "weight_hh": flat.T @ h[:-1].reshape(steps * batch, hidden),
            "bias_ih": grad_bias,
            "bias_hh": grad_bias.copy(),
        }
        if input_grad:
            grads["input"] = (flat @ self.weight_ih).reshape(steps, batch, inputs)
        return grads
