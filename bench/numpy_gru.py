"""Plain-NumPy GRU and tanh-RNN layers with hand-written back-propagation through time: benchmark baselines.

The same equations as ``nn.GRU`` / ``nn.RNN`` (PyTorch's conventions; GRU gate order r, z, n with
``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``), written the way one would by hand for speed, as
``bench/numpy_lstm.py`` is: the input projection of every step in one GEMM, and each weight gradient
summed over time with one GEMM after the backward loop.
"""

from __future__ import annotations

import numpy as np

from bench.numpy_lstm import NumpyLayer, _sigmoid


class NumpyGRU(NumpyLayer):
    """One-layer GRU; weights as PyTorch: weight_ih (3H, I), weight_hh (3H, H), bias_ih, bias_hh (3H,)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (T, B, I) → outputs h_1 … h_T: (T, B, H); zero initial state. Keeps what backward needs."""
        steps, batch, inputs = x.shape
        hidden = self.hidden_size
        gates_x = (x.reshape(steps * batch, inputs) @ self.weight_ih.T + self.bias_ih).reshape(steps, batch, -1)
        weight_hh_t = self.weight_hh.T
        h = np.zeros((steps + 1, batch, hidden), dtype=x.dtype)       # h[t + 1] is h_t
        gates_h = np.empty((steps, batch, 3 * hidden), dtype=x.dtype)   # W_h h + b_h for r, z, n
        acts = np.empty((steps, batch, 3 * hidden), dtype=x.dtype)      # σ(r), σ(z), tanh(n)
        for t in range(steps):
            gh = gates_h[t]
            np.matmul(h[t], weight_hh_t, out=gh)
            gh += self.bias_hh
            a = acts[t]
            a[:, :2 * hidden] = _sigmoid(gates_x[t, :, :2 * hidden] + gh[:, :2 * hidden])
            r, z = a[:, :hidden], a[:, hidden:2 * hidden]
            np.tanh(gates_x[t, :, 2 * hidden:] + r * gh[:, 2 * hidden:], out=a[:, 2 * hidden:])
            n = a[:, 2 * hidden:]
            h[t + 1] = n + z * (h[t] - n)                                 # (1 - z) * n + z * h
        self.saved = (x, h, gates_h, acts)
        return h[1:]

    def backward(self, grad_output: np.ndarray) -> dict:
        """grad_output: dL/d(outputs) (T, B, H) → gradients of the four weights."""
        x, h, gates_h, acts = self.saved
        steps, batch, inputs = x.shape
        hidden = self.hidden_size
        grad_x_gates = np.empty_like(acts)     # d(W_i x + b_i) for r, z, n
        grad_h_gates = np.empty_like(acts)     # d(W_h h + b_h) for r, z, n
        grad_h = np.zeros((batch, hidden), dtype=x.dtype)
        for t in range(steps - 1, -1, -1):
            a = acts[t]
            r, z, n = a[:, :hidden], a[:, hidden:2 * hidden], a[:, 2 * hidden:]
            grad_h += grad_output[t]
            grad_n = grad_h * (1 - z) * (1 - n * n)
            dx, dh = grad_x_gates[t], grad_h_gates[t]
            dx[:, hidden:2 * hidden] = grad_h * (h[t] - n) * z * (1 - z)
            dx[:, :hidden] = grad_n * gates_h[t, :, 2 * hidden:] * r * (1 - r)
            dx[:, 2 * hidden:] = grad_n
            dh[:, :2 * hidden] = dx[:, :2 * hidden]
            dh[:, 2 * hidden:] = grad_n * r
            grad_h = grad_h * z + dh @ self.weight_hh
        flat_x = grad_x_gates.reshape(steps * batch, 3 * hidden)
        flat_h = grad_h_gates.reshape(steps * batch, 3 * hidden)
        return {"weight_ih": flat_x.T @ x.reshape(steps * batch, inputs),
                "weight_hh": flat_h.T @ h[:-1].reshape(steps * batch, hidden),
                "bias_ih": flat_x.sum(axis=0), "bias_hh": flat_h.sum(axis=0)}


class NumpyRNN(NumpyLayer):
    """One-layer tanh RNN; weights as PyTorch: weight_ih (H, I), weight_hh (H, H), bias_ih, bias_hh (H,)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (T, B, I) → outputs h_1 … h_T: (T, B, H); zero initial state."""
        steps, batch, inputs = x.shape
        hidden = self.hidden_size
        pre = x.reshape(steps * batch, inputs) @ self.weight_ih.T
        pre += self.bias_ih + self.bias_hh
        pre = pre.reshape(steps, batch, hidden)
        weight_hh_t = self.weight_hh.T
        h = np.zeros((steps + 1, batch, hidden), dtype=x.dtype)
        for t in range(steps):
            np.matmul(h[t], weight_hh_t, out=h[t + 1])
            h[t + 1] += pre[t]
            np.tanh(h[t + 1], out=h[t + 1])
        self.saved = (x, h)
        return h[1:]

    def backward(self, grad_output: np.ndarray) -> dict:
        x, h = self.saved
        steps, batch, inputs = x.shape
        hidden = self.hidden_size
        grad_pre = np.empty((steps, batch, hidden), dtype=x.dtype)
        grad_h = np.zeros((batch, hidden), dtype=x.dtype)
        for t in range(steps - 1, -1, -1):
            grad_h += grad_output[t]
            np.multiply(grad_h, 1 - h[t + 1] * h[t + 1], out=grad_pre[t])
            grad_h = grad_pre[t] @ self.weight_hh
        flat = grad_pre.reshape(steps * batch, hidden)
        grad_bias = flat.sum(axis=0)
        return {"weight_ih": flat.T @ x.reshape(steps * batch, inputs),
                "weight_hh": flat.T @ h[:-1].reshape(steps * batch, hidden),
                "bias_ih": grad_bias, "bias_hh": grad_bias.copy()}
