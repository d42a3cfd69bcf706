"""What the recurrent cell and layer tests share: tolerances, weight copying, PyTorch comparisons,
an independent NumPy peephole/coupled LSTM, and a graph walk."""

from __future__ import annotations

from typing import Any

import numpy as np

import minigrad as mg
import nn
from tests.helpers import assert_close


def tol(dtype: Any) -> dict:
    return {"rtol": 1e-10, "atol": 1e-12} if np.dtype(dtype) == np.float64 else {"rtol": 1e-5, "atol": 1e-6}


def copy_weights(module: nn.Module, torch_module: Any) -> None:
    """Load a torch module's state dict as-is (names must match exactly)."""
    module.load_state_dict({k: v.detach().numpy() for k, v in torch_module.state_dict().items()})


def weighted_sum(tensors: list, torch: Any = None) -> Any:
    """Σ w_i · t_i with fixed random weights (same on both sides) so every output element matters."""
    total = 0
    for i, t in enumerate(tensors):
        w = np.random.default_rng(100 + i).standard_normal(tuple(t.shape))
        if torch is None:
            total = total + (t * mg.tensor(w, dtype=t.dtype)).sum()
        else:
            total = total + (t * torch.from_numpy(w).to(t.dtype)).sum()
    return total


def leaf(array: np.ndarray, dtype: Any) -> mg.Tensor:
    return mg.tensor(array.astype(dtype), requires_grad=True)


def torch_leaf(torch: Any, array: np.ndarray, dtype: Any) -> Any:
    return torch.tensor(array.astype(dtype), requires_grad=True)


def assert_same_param_grads(module: nn.Module, torch_module: Any, dtype: Any) -> None:
    torch_params = dict(torch_module.named_parameters())
    names = [n for n, _ in module.named_parameters()]
    assert names == list(torch_params), "parameter names/order differ from PyTorch's"
    for name, param in module.named_parameters():
        assert param.grad is not None, f"{name} got no gradient"
        assert_close(param.grad, torch_params[name].grad, **tol(dtype), what=f"grad of {name}")


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-v))


def numpy_lstm_reference(x: np.ndarray, h: np.ndarray, c: np.ndarray, p: dict, peephole: bool,
                         coupled: bool) -> tuple:
    """Gers & Schmidhuber / CIFG equations, written directly: x (T, B, I) → (outputs, h, c)."""
    hidden = h.shape[-1]
    outputs = []
    for x_t in x:
        a = x_t @ p["weight_ih"].T + p["bias_ih"] + h @ p["weight_hh"].T + p["bias_hh"]
        blocks = [a[:, k * hidden:(k + 1) * hidden] for k in range(a.shape[1] // hidden)]
        if coupled:
            a_f, a_g, a_o = blocks
        else:
            a_i, a_f, a_g, a_o = blocks
        if peephole:
            a_f = a_f + p["weight_cf"] * c
            if not coupled:
                a_i = a_i + p["weight_ci"] * c
        f = _sigmoid(a_f)
        i = 1 - f if coupled else _sigmoid(a_i)
        c = f * c + i * np.tanh(a_g)
        if peephole:
            a_o = a_o + p["weight_co"] * c
        h = _sigmoid(a_o) * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs), h, c


def cell_params(cell: nn.Module) -> dict:
    return {name: p.numpy() for name, p in cell.named_parameters()}


def functional(module: nn.Module, names: list, fn: Any) -> Any:
    """fn(*inputs) with the module's parameters ``names`` replaced by the trailing inputs (for gradcheck)."""
    def call(*args: Any) -> Any:
        inputs, params = args[:len(args) - len(names)], args[len(args) - len(names):]
        saved = {n: module._parameters[n] for n in names}
        try:
            for n, p in zip(names, params):
                module._parameters[n] = p
                object.__setattr__(module, n, p)
            return fn(*inputs)
        finally:
            for n, p in saved.items():
                module._parameters[n] = p
                object.__setattr__(module, n, p)
    return call


def walk(root: mg.Tensor) -> list:
    nodes, seen, stack = [], set(), [root._node]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        nodes.append(node)
        stack.extend(e[0] for e in node.edges if type(e) is tuple)
    return nodes
