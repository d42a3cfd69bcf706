"""PyTorch's functional recurrent cells at the top level: ``torch.rnn_tanh_cell``, ``rnn_relu_cell``, ``lstm_cell``
and ``gru_cell`` (``mg.rnn_tanh_cell`` …, put on minigrad by nn/_toplevel.py). One step of the cell for given
weights, with PyTorch's arguments ``(input, hx, w_ih, w_hh, b_ih=None, b_hh=None)``.

The math is the cells' own (``rnn_step``, ``lstm_step``, ``gru_step`` in cells.py), after the input's
contribution ``input @ w_ihᵀ + b_ih``; the checks are PyTorch's, with its messages.
"""

from __future__ import annotations

from typing import Any

from minigrad import Tensor

from .cells import float16_linear, gru_step, is_float16, lstm_step, rnn_step

__all__ = ["gru_cell", "lstm_cell", "rnn_relu_cell", "rnn_tanh_cell"]


def _tensor(value: Any, name: str, what: str, position: int) -> Tensor:
    """``value`` if it is a Tensor, else PyTorch's TypeError for argument ``what`` of function ``name``."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{name}(): argument '{what}' (position {position}) must be Tensor, not "
                        f"{type(value).__name__}")
    return value


def _input_gates(name: str, input: Any, hx: tuple, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any,  # noqa: A002
                 gates: int) -> tuple:
    """(the input's contribution ``input @ w_ihᵀ + b_ih`` (B, gates · H), w_hhᵀ, b_hh), after PyTorch's checks;
    float16 rounds it once, as PyTorch's CPU ``addmm`` (:func:`~nn.cells.float16_linear`)."""
    x, w_ih, w_hh, b_ih, b_hh = _check_arguments(name, input, hx, w_ih, w_hh, b_ih, b_hh, gates)
    if is_float16(x, w_ih):
        return float16_linear(x, w_ih.T, b_ih), w_hh.T, b_hh
    gates_x = x @ w_ih.T
    if b_ih is not None:
        gates_x = gates_x + b_ih
    return gates_x, w_hh.T, b_hh


def _size(tensor: Tensor, dim: int, name: str, what: str) -> int:
    """``tensor.shape[dim]``, or PyTorch's IndexError when ``tensor`` has no such dim."""
    if tensor.ndim <= dim:
        raise IndexError(f"{name}: {what} must be 2-D, got shape {tensor.shape} (Dimension out of range)")
    return tensor.shape[dim]


def _check_arguments(name: str, input: Any, hx: tuple, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any,  # noqa: A002
                     gates: int) -> tuple:
    """(input, w_ih, w_hh, b_ih, b_hh) if they are Tensors whose shapes (:func:`_check_shapes`) and dtypes
    (:func:`_check_dtypes`) fit each other and the states ``hx``, else PyTorch's error for the first that does not.
    The biases come back as :func:`_bias` makes them: (gates · H,) or (B, gates · H)."""
    x = _tensor(input, name, "input", 1)
    w_ih, w_hh = _tensor(w_ih, name, "w_ih", 3), _tensor(w_hh, name, "w_hh", 4)
    b_ih = None if b_ih is None else _tensor(b_ih, name, "b_ih", 5)
    b_hh = None if b_hh is None else _tensor(b_hh, name, "b_hh", 6)
    _check_shapes(name, x, hx, w_ih, w_hh, b_ih, b_hh, gates)
    _check_dtypes(name, x, hx, w_ih, w_hh, b_ih, b_hh)
    return x, w_ih, w_hh, _bias(b_ih, x.shape[0], w_ih.shape[0]), _bias(b_hh, x.shape[0], w_hh.shape[0])


def _check_shapes(name: str, x: Tensor, hx: tuple, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None,
                  b_hh: Tensor | None, gates: int) -> None:
    """PyTorch's error for the first shape that does not fit, in PyTorch's order: the weights' rows, the input's
    width, each state's batch and width (a missing dim is IndexError, as PyTorch reads it), then every one 2-D and
    the biases (each expands to (B, gates · H), as PyTorch's). H is read from w_hh (gates · H, H); x (B, I), w_ih
    (gates · H, I), each state (B, H)."""
    hidden = _size(w_hh, 1, name, "w_hh")
    for what, weight in (("weight_ih", w_ih), ("weight_hh", w_hh)):
        if _size(weight, 0, name, what) != gates * hidden:
            raise RuntimeError(f"{name}: {what} first dim must be {gates} * hidden_size = {gates * hidden}, but got "
                               f"{weight.shape[0]}")
    if _size(x, 1, name, "input") != _size(w_ih, 1, name, "w_ih"):
        raise RuntimeError(f"{name}: input has inconsistent input_size: got {x.shape[1]} expected {w_ih.shape[1]} "
                           f"(input shape {x.shape}, w_ih shape {w_ih.shape})")
    for i, h in enumerate(hx):
        if x.shape[0] != _size(h, 0, name, f"hidden{i}"):
            raise RuntimeError(f"{name}: Input batch size {x.shape[0]} doesn't match hidden{i} batch size "
                               f"{h.shape[0]} (shape {h.shape})")
        if _size(h, 1, name, f"hidden{i}") != hidden:
            raise RuntimeError(f"{name}: hidden{i} has inconsistent hidden_size: got {h.shape[1]}, expected {hidden}")
    for what, tensor in (("input", x), ("w_ih", w_ih), ("w_hh", w_hh), *((f"hidden{i}", h) for i, h in enumerate(hx))):
        if tensor.ndim != 2:
            raise RuntimeError(f"{name}: {what} must be 2-D, got shape {tensor.shape}")
    target = (x.shape[0], gates * hidden)
    for what, bias in (("b_ih", b_ih), ("b_hh", b_hh)):
        if bias is not None and not _expands_to(bias.shape, target):
            # PyTorch adds the bias as addmm does: it must expand to (B, gates · H), as (gates · H,), (1,) or (B, 1)
            raise RuntimeError(f"{name}: {what} of shape {bias.shape} does not expand to {target} (batch, "
                               f"{gates} * hidden_size): the expanded size of the tensor must match the existing size "
                               "at non-singleton dimensions")


def _expands_to(shape: tuple, target: tuple) -> bool:
    """Whether a tensor of ``shape`` expands to ``target`` (PyTorch's ``expand``: no more dims, each 1 or equal)."""
    return len(shape) <= len(target) and all(s in (1, t) for s, t in zip(shape[::-1], target[::-1]))


def _bias(bias: Tensor | None, batch: int, width: int) -> Tensor | None:
    """A bias that expands to (B, width) (:func:`_check_shapes`) as the cells' math takes it: (width,), or
    (B, width) when it holds one row per batch element. Expanding keeps its gradient its own shape."""
    if bias is None or tuple(bias.shape) == (width,):
        return bias
    if bias.ndim == 2 and bias.shape[0] != 1:
        return bias.expand(batch, width)
    # a 0-d, (1,), (1, 1) or (1, width) bias: one row for every batch element, as a (width,) one
    return bias.reshape(bias.shape[-1:] or (1,)).expand(width)


def _check_dtypes(name: str, x: Tensor, hx: tuple, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None,
                  b_hh: Tensor | None) -> None:
    """PyTorch's error unless every tensor has the input's dtype: its matmuls refuse mixed dtypes, where NumPy's
    promotion would return a result of another dtype."""
    others = [*((f"hx[{i}]", h) for i, h in enumerate(hx)), ("w_ih", w_ih), ("w_hh", w_hh), ("b_ih", b_ih),
              ("b_hh", b_hh)]
    for what, tensor in others:
        if tensor is not None and tensor.dtype != x.dtype:
            raise RuntimeError(f"{name}: {what} is {tensor.dtype}, the input {x.dtype}: expected every tensor to have "
                               "the input's dtype (PyTorch: mat1 and mat2 must have the same dtype)")


def rnn_tanh_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,  # noqa: A002
                  b_hh: Tensor | None = None) -> Tensor:
    """torch.rnn_tanh_cell: h' = tanh(input w_ihᵀ + b_ih + hx w_hhᵀ + b_hh). input (B, I), hx (B, H), w_ih (H, I),
    w_hh (H, H), biases (H,) → (B, H)."""
    hx = _tensor(hx, "rnn_tanh_cell", "hx", 2)
    gates_x, w_hh_t, b_hh = _input_gates("rnn_tanh_cell", input, (hx,), w_ih, w_hh, b_ih, b_hh, 1)
    return rnn_step(gates_x, hx, w_hh_t, b_hh, "tanh")


def rnn_relu_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,  # noqa: A002
                  b_hh: Tensor | None = None) -> Tensor:
    """torch.rnn_relu_cell: h' = relu(input w_ihᵀ + b_ih + hx w_hhᵀ + b_hh); shapes as :func:`rnn_tanh_cell`."""
    hx = _tensor(hx, "rnn_relu_cell", "hx", 2)
    gates_x, w_hh_t, b_hh = _input_gates("rnn_relu_cell", input, (hx,), w_ih, w_hh, b_ih, b_hh, 1)
    return rnn_step(gates_x, hx, w_hh_t, b_hh, "relu")


def lstm_cell(input: Tensor, hx: Any, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,  # noqa: A002
              b_hh: Tensor | None = None) -> tuple:
    """torch.lstm_cell: one LSTM step (gates i, f, g, o), returning (h', c'). input (B, I), hx = (h, c) each (B, H),
    w_ih (4H, I), w_hh (4H, H), biases (4H,)."""
    name = "lstm_cell"
    if not isinstance(hx, (tuple, list)):
        raise TypeError(f"{name}(): argument 'hx' (position 2) must be tuple of Tensors, not {type(hx).__name__}")
    if len(hx) != 2:
        raise RuntimeError(f"{name}: lstm_cell expects two hidden states, got {len(hx)}")
    h, c = (_tensor(state, name, "hx", 2) for state in hx)
    gates_x, w_hh_t, b_hh = _input_gates(name, input, (h, c), w_ih, w_hh, b_ih, b_hh, 4)
    return lstm_step(gates_x, h, c, w_hh_t, b_hh)


def gru_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,  # noqa: A002
             b_hh: Tensor | None = None) -> Tensor:
    """torch.gru_cell: one GRU step (gates r, z, n; PyTorch's convention), returning h'. input (B, I), hx (B, H),
    w_ih (3H, I), w_hh (3H, H), biases (3H,)."""
    hx = _tensor(hx, "gru_cell", "hx", 2)
    gates_x, w_hh_t, b_hh = _input_gates("gru_cell", input, (hx,), w_ih, w_hh, b_ih, b_hh, 3)
    return gru_step(gates_x, hx, w_hh_t, b_hh)
