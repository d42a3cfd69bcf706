"""Recurrent cells: the step functions (``rnn_step``, ``lstm_step``, ``gru_step``) and the three
cells built on them (``RNNCell``, ``LSTMCell``, ``GRUCell``).

Everything here is written with the engine's primitive ops (matmul, add, mul,
sigmoid, tanh, chunk …); nothing has a hand-written backward (``fused=True``
swaps the gate math for one engine op, ``mg.lstm_gates`` / ``mg.gru_gates``).
The step functions are the cells' math, shared with the sequence layers in
``nn/recurrent.py``. They take ``gates_x``, the input's contribution
``x @ W_ihᵀ + b_ih`` already computed: a layer computes it for all time steps in
one matmul before its loop.

float16 follows PyTorch's CPU rounding, op by op (``half=True``, which the cells and
layers pass once per call): each linear ``x W_ihᵀ + b_ih`` and ``h W_hhᵀ + b_hh``
summed in float32 and rounded once (:func:`float16_linear`), the two added in
float16, then every elementwise op rounded on its own (no ``addcmul``, no fused
gates), in PyTorch's order: LSTM c' = (f * c) + (i * g), GRU
n = tanh(x_n + h_n * r) and h' = ((h - n) * z) + n. float32 and float64 keep the
fused ops (``step_addmm``, ``addcmul``), which give those dtypes the same values.

Parameter names, shapes, gate order and initialisation U(-1/√H, 1/√H) follow
PyTorch, so a ``torch.nn.LSTMCell`` state dict converted with ``.numpy()``
loads as-is. A cell's new hidden state is tagged ``"h"`` (cell state ``"c"``)
for the visualiser.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

import minigrad as mg
from minigrad import Tensor, gru_gates, lstm_gates, step_addmm, step_matmul

from . import init
from ._recurrent_checks import (
    RecurrentInputError,
    RecurrentStateError,
    as_input,
    check_cell_flags,
    check_lstm_options,
    check_nonlinearity,
    check_size,
    check_states,
    check_weight_dtypes,
    pytorch_input_message,
    refuse_base,
    torch_keywords,
)
from .module import Module, Parameter
from .utils.parametrize import is_parametrized

__all__ = ["GRUCell", "LSTMCell", "RNNCell", "RNNCellBase", "RecurrentStateError", "float16_linear", "gru_step",
           "is_float16", "loop_weight", "lstm_step", "rnn_step", "torch_keywords"]

FLOAT16 = numpy.dtype("float16")


# --- the cells' math ----------------------------------------------------------

def loop_weight(weight: Tensor) -> tuple[Tensor, Tensor]:
    """A weight W (m, k) prepared for a loop over time: (Wᵀ, Wᵀ copied row-major), each (k, m).

    The step functions take it wherever they take a transposed weight, with the same values and
    gradients; their product ``h @ Wᵀ`` then runs from the copy (``mg.step_matmul``), which
    is faster on the CPU. The layers make one per loop, so the copy is paid once, not per step.
    """
    transposed = weight.T
    return transposed, transposed.detach().contiguous()


def _matmul(h: Tensor, weight_t: Tensor | tuple[Tensor, Tensor]) -> Tensor:
    """``h @ Wᵀ`` for a transposed weight or a :func:`loop_weight` pair."""
    if type(weight_t) is tuple:
        return step_matmul(h, *weight_t)
    return h @ weight_t


def _addmm(addend: Tensor, h: Tensor, weight_t: Tensor | tuple[Tensor, Tensor]) -> Tensor:
    """``addend + h @ Wᵀ``; for a :func:`loop_weight` pair one op (``mg.step_addmm``), a node fewer per step."""
    if type(weight_t) is tuple:
        return step_addmm(addend, h, *weight_t)
    return addend + h @ weight_t


def float16_linear(x: Tensor, weight_t: Tensor | tuple[Tensor, Tensor], bias: Tensor | None) -> Tensor:
    """``x @ Wᵀ + b`` of float16 tensors as PyTorch's CPU ``addmm`` rounds it: x (n, k), Wᵀ (k, m) (or a
    :func:`loop_weight` pair), b (m,), or (n, m) (a bias per row, as the functional cells take), or None → (n, m).

    The products are summed in float32, in order along k, the bias added last, and the sum rounded to
    float16 once (``x @ Wᵀ`` then ``+ b`` would round twice). NumPy's float16 matmul sums in float32 in
    that order, so the bias rides along as a last column of ones: ``[x, 1] @ [Wᵀ; b]`` (a bias per row:
    ``[x, I] @ [Wᵀ; b]``, whose added zeros are exact).
    """
    if type(weight_t) is tuple:
        weight_t = weight_t[0]
    if bias is None:
        return x @ weight_t
    if bias.ndim == 2:
        ones = mg.eye(x.shape[0], dtype=x.dtype, device=x.device)
        return mg.concat([x, ones], axis=-1) @ mg.concat([weight_t, bias], axis=0)
    ones = mg.ones((x.shape[0], 1), dtype=x.dtype, device=x.device)
    return mg.concat([x, ones], axis=-1) @ mg.concat([weight_t, bias.expand_dims(0)], axis=0)


def _gates(gates_x: Tensor, h: Tensor, weight_hh_t: Tensor | tuple[Tensor, Tensor], bias_hh: Tensor | None,
           half: bool) -> Tensor:
    """The gates' pre-activations ``gates_x + h W_hhᵀ + b_hh``: (B, G·H). float16 (``half``) as PyTorch:
    ``h W_hhᵀ + b_hh`` rounded once, then added to ``gates_x``; else ``gates_x + h W_hhᵀ`` as one op."""
    if half:
        return gates_x + float16_linear(h, weight_hh_t, bias_hh)
    gates = _addmm(gates_x, h, weight_hh_t)
    return gates if bias_hh is None else gates + bias_hh


def rnn_step(gates_x: Tensor, h: Tensor, weight_hh_t: Tensor, bias_hh: Tensor | None,
             nonlinearity: str = "tanh", half: bool | None = None) -> Tensor:
    """h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh).

    gates_x: (B, H) = x W_ihᵀ + b_ih; h: (B, H); weight_hh_t: (H, H) = W_hhᵀ (or ``loop_weight(W_hh)``,
    as for every transposed weight of the step functions); returns h': (B, H). ``half``: round as
    PyTorch's float16 (module docstring); None: when h is float16 (as for every step function).
    """
    if half is None:                    # not given (a layer gives it, checked once per loop): h's dtype says
        half = h.dtype == FLOAT16
    pre = _gates(gates_x, h, weight_hh_t, bias_hh, half)
    return pre.tanh() if nonlinearity == "tanh" else pre.relu()


def lstm_step(gates_x: Tensor, h: Tensor, c: Tensor, weight_hh_t: Tensor, bias_hh: Tensor | None,
              peepholes: tuple | None = None, coupled: bool = False,
              fused: bool = False, weight_hr_t: Tensor | None = None,
              half: bool | None = None) -> tuple[Tensor, Tensor]:
    """One LSTM step; returns (h', c').

    gates = x W_ihᵀ + b_ih + h W_hhᵀ + b_hh, split in the order i, f, g, o::

        i = σ(gates_i)    f = σ(gates_f)    g = tanh(gates_g)    o = σ(gates_o)
        c' = f * c + i * g
        h' = o * tanh(c')

    Three variants add to these equations, and compose:

    * peephole (``peepholes`` = (w_ci, w_cf, w_co), each (H,)): the input and forget gates
      also see the old cell, ``+ w_ci * c`` / ``+ w_cf * c``, the output gate the new one,
      ``+ w_co * c'``;
    * coupled (CIFG): there are no input-gate rows (split f, g, o) and i = 1 - f;
    * projection (``weight_hr_t`` = W_hrᵀ, (H, P); Sak et al. 2014, PyTorch's ``proj_size``):
      h' = (o * tanh(c')) W_hrᵀ, so h and h' are (B, P) while c and c' stay (B, H).

    gates_x: (B, G·H) with G = 4 (3 when coupled); h: (B, H), or (B, P) with a projection;
    c: (B, H); weight_hh_t: (H, G·H), or (P, G·H) with a projection. ``fused`` computes the gate
    nonlinearities and the state update as one op (``mg.lstm_gates``; no peephole or coupled
    gates; the projection is an ordinary matmul after it), except in float16, which rounds each op.
    """
    if half is None:
        half = h.dtype == FLOAT16
    gates = _gates(gates_x, h, weight_hh_t, bias_hh, half)
    if fused and not half:
        h_new, c_new = lstm_gates(gates, c)         # the plain update below, as one op
    elif peepholes is None and not coupled:
        h_new, c_new = _lstm_update(gates, c, half)
    else:
        h_new, c_new = _lstm_update_with_variants(gates, c, peepholes, coupled, half)
    if weight_hr_t is not None:      # projection: the hidden state is a linear map of the cell's output
        h_new = _matmul(h_new, weight_hr_t)
    return h_new, c_new


def _cell_update(f: Tensor, c: Tensor, i: Tensor, g: Tensor, half: bool) -> Tensor:
    """c' = f * c + i * g: (B, H). One op (``addcmul``), except in float16, where PyTorch rounds both products."""
    return f * c + i * g if half else mg.addcmul(f * c, i, g)


def _lstm_update(gates: Tensor, c: Tensor, half: bool = False) -> tuple[Tensor, Tensor]:
    """The plain LSTM after its matmuls: gates (B, 4H) in order i, f, g, o, c (B, H) → (o * tanh(c'), c')."""
    i, f, g, o = gates.chunk(4, axis=-1)
    i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
    c_new = _cell_update(f, c, i, g, half)
    return o * c_new.tanh(), c_new


def _lstm_update_with_variants(gates: Tensor, c: Tensor, peepholes: tuple | None,
                               coupled: bool, half: bool = False) -> tuple[Tensor, Tensor]:
    """:func:`_lstm_update` with peephole and/or coupled gates (:func:`lstm_step`'s docstring).

    gates: (B, 3H) in order f, g, o when ``coupled``, else (B, 4H); ``peepholes``: (w_ci or None, w_cf, w_co).
    """
    if coupled:                      # coupled: no input-gate rows
        f, g, o = gates.chunk(3, axis=-1)
    else:
        i, f, g, o = gates.chunk(4, axis=-1)
    if peepholes is not None:        # peephole: the input and forget gates see the old cell
        weight_ci, weight_cf, weight_co = peepholes
        f = f + weight_cf * c
        if not coupled:
            i = i + weight_ci * c
    f = f.sigmoid()
    if coupled:
        i = 1 - f                    # coupled: what is not forgotten is written
    else:
        i = i.sigmoid()
    g = g.tanh()
    c_new = _cell_update(f, c, i, g, half)
    if peepholes is not None:        # peephole: the output gate sees the new cell
        o = o + weight_co * c_new
    return o.sigmoid() * c_new.tanh(), c_new


def gru_step(gates_x: Tensor, h: Tensor, weight_hh_t: Tensor, bias_hh: Tensor | None,
             fused: bool = False, half: bool | None = None) -> Tensor:
    """One GRU step (PyTorch's convention); returns h'.

    With gates_x = x W_ihᵀ + b_ih and gates_h = h W_hhᵀ + b_hh, both split in order r, z, n::

        r = σ(x_r + h_r)    z = σ(x_z + h_z)    n = tanh(x_n + r * h_n)    h' = (1 - z) * n + z * h

    r and z are computed together (one add, one σ over both gates' columns), and h' as
    n + z * (h - n), as PyTorch computes it: the same values in fewer ops. In float16 (``half``) each
    product is rounded on its own, as PyTorch's: n = tanh(x_n + h_n * r), h' = ((h - n) * z) + n.

    gates_x: (B, 3H), or its columns already split, ((B, 2H), (B, H)) (a layer splits all steps' at
    once); h: (B, H); weight_hh_t: (H, 3H). ``fused`` computes everything after the matmul as one op
    (``mg.gru_gates``; it takes gates_x whole), except in float16.
    """
    if half is None:
        half = h.dtype == FLOAT16
    if half:
        gates_h = float16_linear(h, weight_hh_t, bias_hh)
    else:
        gates_h = _matmul(h, weight_hh_t) if bias_hh is None else _addmm(bias_hh, h, weight_hh_t)
    if fused and not half:
        return gru_gates(gates_x, gates_h, h)
    hidden = h.shape[-1]
    x_rz, x_n = gates_x if type(gates_x) is tuple else gates_x.split([2 * hidden, hidden], dim=-1)
    h_rz, h_n = gates_h.split([2 * hidden, hidden], dim=-1)
    r, z = (x_rz + h_rz).sigmoid().chunk(2, dim=-1)
    if half:
        n = (x_n + h_n * r).tanh()
        return (h - n) * z + n
    n = mg.addcmul(x_n, r, h_n).tanh()   # x_n + r * h_n, one op
    return mg.addcmul(n, z, h - n)       # n + z * (h - n)


# --- parameters shared by cells and layers -------------------------------------

def add_parameters(module: Module, suffix: str, shapes: dict, device: Any, dtype: Any) -> None:
    """Register ``name + suffix`` for each name → shape, each drawn from U(-1/√H, 1/√H) as PyTorch."""
    bound = 1.0 / math.sqrt(module.hidden_size)
    names = module.__dict__.setdefault("_weight_names", [])   # in registration order (PyTorch's)
    for name, shape in shapes.items():
        param = Parameter(mg.empty(shape, dtype=dtype or mg.get_default_dtype(), device=device))
        init.uniform_(param, -bound, bound)
        setattr(module, name + suffix, param)
        names.append(name + suffix)


def reset_uniform(module: Module) -> None:
    """Draw every parameter of a cell or layer again from U(-1/√H, 1/√H), as at construction (PyTorch's
    ``reset_parameters``)."""
    bound = 1.0 / math.sqrt(module.hidden_size)
    for param in module.parameters():
        init.uniform_(param, -bound, bound)


def gate_shapes(rows: int, input_size: int, hidden_size: int, bias: bool) -> dict:
    """W_ih (G·H, I), W_hh (G·H, H) and, with ``bias``, b_ih, b_hh (G·H,).

    ``hidden_size`` is h's width: an LSTM's ``proj_size`` when it projects, and ``rows`` is G·H.
    """
    shapes = {"weight_ih": (rows, input_size), "weight_hh": (rows, hidden_size)}
    if bias:
        shapes.update(bias_ih=(rows,), bias_hh=(rows,))
    return shapes


def peephole_shapes(hidden_size: int, coupled: bool) -> dict:
    """w_ci (absent when coupled), w_cf, w_co, each (H,)."""
    names = ("weight_cf", "weight_co") if coupled else ("weight_ci", "weight_cf", "weight_co")
    return dict.fromkeys(names, (hidden_size,))


def result_dtype(x: Tensor, weight: Tensor) -> Any:
    """The dtype of a step's outputs: the input's and the weights' promoted."""
    return numpy.result_type(x.dtype, weight.dtype)


def unread_weight(module: Module, name: str) -> Tensor:
    """``module.<name>`` for its dtype and device only: a parametrized one's original, read without running the
    parametrization. A parametrization can change state on each read (``parametrizations.spectral_norm`` runs its
    power iteration in training mode), so a forward reads a weight for its value as often as PyTorch's does."""
    if not is_parametrized(module, name):
        return getattr(module, name)
    originals = module.parametrizations[name]
    return originals.original if hasattr(originals, "original") else originals.original0


def is_float16(x: Tensor, weight: Tensor) -> bool:
    """Whether a step of ``x`` with ``weight`` computes in float16 (PyTorch's float16 rounding, module docstring)."""
    return result_dtype(x, weight) == FLOAT16


def lstm_options_repr(module: Module) -> str:
    """The LSTM variants switched on, for a module's repr: ", peephole=True" etc."""
    return "".join(f", {option}=True" for option in ("peephole", "coupled", "fused") if getattr(module, option))


# --- cells ----------------------------------------------------------------------

class _Cell(Module):
    """What the three cells share: W_ih (G·H, I), W_hh (G·H, H), b_ih, b_hh (G·H,), G = ``gate_count``."""

    def __new__(cls, *args: Any, **kwargs: Any) -> _Cell:
        refuse_base(cls, _Cell, "nn.RNNCellBase", "nn.RNNCell, nn.LSTMCell or nn.GRUCell")
        return super().__new__(cls)

    def __init__(self, input_size: int, hidden_size: int, bias: bool, gate_count: int,
                 device: Any, dtype: Any) -> None:
        super().__init__()
        owner = type(self).__name__
        self.input_size = check_size(owner, "input_size", input_size)
        self.hidden_size = check_size(owner, "hidden_size", hidden_size)
        self.bias = bool(bias)
        self.gate_count = gate_count
        add_parameters(self, "", gate_shapes(gate_count * hidden_size, input_size, hidden_size, bias), device, dtype)
        if not bias:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def reset_parameters(self) -> None:
        """Draw every weight again from U(-1/√H, 1/√H), as at construction."""
        reset_uniform(self)

    def _inputs(self, x: Any, state: Any, n_states: int) -> tuple[Tensor, tuple, bool]:
        """A forward's arguments made ready for the step: (x (B, I), the states, each (B, H), unbatched).

        ``x`` is (B, I) or (I,) (unbatched: made (1, I) here, squeezed again by ``forward``); ``state``
        is h, (h, c) or None for zeros.
        """
        x = self._check_input(x)
        unbatched = x.ndim == 1
        if unbatched:
            x = x.expand_dims(0)
        return x, self._initial_states(state, x, unbatched, n_states), unbatched

    def _check_input(self, x: Any) -> Tensor:
        """``x`` as a floating-point Tensor of shape (B, I) or (I,), or RecurrentInputError."""
        owner = type(self).__name__
        x = as_input(owner, x, unread_weight(self, "weight_ih"))
        check_weight_dtypes(owner, x, self._parameters.items())
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise RecurrentInputError(f"{owner}: expected input of shape (batch, input_size={self.input_size}) or "
                                      f"(input_size,), got {x.shape}. "
                                      + pytorch_input_message(owner, x, self.input_size, (1, 2)))
        return x

    def _initial_states(self, state: Any, x: Tensor, unbatched: bool, n_states: int) -> tuple:
        """``state`` checked against the batched ``x`` (B, I) and made (B, H) each; zeros when None."""
        batch = x.shape[0]
        dtype = result_dtype(x, unread_weight(self, "weight_ih"))
        if state is None:
            zeros = mg.zeros((batch, self.hidden_size), dtype=dtype, device=x.device)
            return (zeros,) * n_states
        shape = (self.hidden_size,) if unbatched else (batch, self.hidden_size)
        detail = f"for input of shape {(self.input_size,) if unbatched else x.shape}"
        states = check_states(type(self).__name__, state, dict.fromkeys(("h", "c")[:n_states], (shape, detail)),
                              x, dtype)
        return tuple(s.expand_dims(0) for s in states) if unbatched else states

    def _gates_x(self, x: Tensor, half: bool) -> Tensor:
        """x W_ihᵀ + b_ih: (B, G·H); rounded once in float16 (``half``), as PyTorch's."""
        weight_ih = self._read("weight_ih")
        if half:
            return float16_linear(x, weight_ih.T, self.bias_ih)
        gates_x = x @ weight_ih.T
        return gates_x + self.bias_ih if self.bias else gates_x

    def _read(self, name: str) -> Tensor:
        """The weight ``name``; one a parametrization computes must keep its original's dtype (``_check_input``
        checked the originals), as PyTorch refuses a weight of another dtype than the input."""
        weight = getattr(self, name)
        if name not in self._parameters:
            check_weight_dtypes(type(self).__name__, unread_weight(self, "weight_ih"), ((name, weight),))
        return weight

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            text += ", bias=False"
        return text


# PyTorch's name for the cells' base class (weight-init code tests isinstance(m, nn.RNNCellBase))
RNNCellBase = _Cell


class RNNCell(_Cell):
    """Elman cell: h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), act = tanh or relu.

    Parameters: ``weight_ih`` (H, I), ``weight_hh`` (H, H), ``bias_ih``, ``bias_hh`` (H,),
    all U(-1/√H, 1/√H). ``cell(x, state=None)``: x (B, I) or (I,); state h (B, H) or (H,), zeros
    if missing, of x's dtype and device; returns h' of h's shape.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = check_nonlinearity("RNNCell", nonlinearity)

    def forward(self, x: Tensor | None = None, state: Tensor | None = None, *, input: Tensor | None = None,
                hx: Tensor | None = None) -> Tensor:
        """x (B, I) or (I,), state h (B, H) or (H,) → h' (B, H) or (H,). PyTorch's ``input=``, ``hx=`` work too."""
        x, state = torch_keywords("RNNCell", x, state, input, hx)
        x, (h,), unbatched = self._inputs(x, state, 1)
        half = is_float16(x, unread_weight(self, "weight_ih"))
        weight_hh_t = self._read("weight_hh").T
        h = mg.tag(rnn_step(self._gates_x(x, half), h, weight_hh_t, self.bias_hh, self.nonlinearity, half), "h")
        return h.squeeze(0) if unbatched else h

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text + (f", nonlinearity={self.nonlinearity}" if self.nonlinearity != "tanh" else "")


class LSTMCell(_Cell):
    """LSTM cell (gate order i, f, g, o, as PyTorch)::

        i = σ(x W_iiᵀ + b_ii + h W_hiᵀ + b_hi [+ w_ci * c])
        f = σ(x W_ifᵀ + b_if + h W_hfᵀ + b_hf [+ w_cf * c])
        g = tanh(x W_igᵀ + b_ig + h W_hgᵀ + b_hg)
        c' = f * c + i * g
        o = σ(x W_ioᵀ + b_io + h W_hoᵀ + b_ho [+ w_co * c'])
        h' = o * tanh(c')

    Parameters: ``weight_ih`` (4H, I), ``weight_hh`` (4H, H), ``bias_ih``, ``bias_hh`` (4H,).
    ``peephole=True`` adds the bracketed diagonal peepholes ``weight_ci``, ``weight_cf``,
    ``weight_co`` (each (H,); Gers & Schmidhuber 2000). ``coupled=True`` (CIFG) drops the
    input gate, i = 1 - f: the weights are then (3H, ·) in order f, g, o and there is no
    ``weight_ci``. ``fused=True`` computes the gates with one op (plain LSTM only).
    ``cell(x, state=None)``: x (B, I) or (I,); state (h, c) of x's dtype and device, zeros if
    missing; returns (h', c'), each (B, H) or (H,).
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None, dtype: Any = None,
                 *, peephole: bool = False, coupled: bool = False, fused: bool = False) -> None:
        # PyTorch's positional order (device, dtype after bias): our cell options are keywords
        check_cell_flags("LSTMCell", peephole=peephole, coupled=coupled, fused=fused)
        check_lstm_options("LSTMCell", peephole, coupled, fused)
        super().__init__(input_size, hidden_size, bias, 3 if coupled else 4, device, dtype)
        self.peephole, self.coupled, self.fused = bool(peephole), bool(coupled), bool(fused)
        if peephole:
            add_parameters(self, "", peephole_shapes(hidden_size, coupled), device, dtype)

    def forward(self, x: Tensor | None = None, state: tuple[Tensor, Tensor] | None = None, *,
                input: Tensor | None = None, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        """x (B, I) or (I,), state (h, c) each (B, H) or (H,) → (h', c'). PyTorch's ``input=``, ``hx=`` work too."""
        x, state = torch_keywords("LSTMCell", x, state, input, hx)
        x, (h, c), unbatched = self._inputs(x, state, 2)
        peepholes = (getattr(self, "weight_ci", None), self.weight_cf, self.weight_co) if self.peephole else None
        half = is_float16(x, unread_weight(self, "weight_ih"))
        h, c = lstm_step(self._gates_x(x, half), h, c, self._read("weight_hh").T, self.bias_hh, peepholes, self.coupled,
                         self.fused, half=half)
        h, c = mg.tag(h, "h"), mg.tag(c, "c")
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)

    def extra_repr(self) -> str:
        return super().extra_repr() + lstm_options_repr(self)


class GRUCell(_Cell):
    """GRU cell (PyTorch's convention, gate order r, z, n)::

        r = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr)
        z = σ(x W_izᵀ + b_iz + h W_hzᵀ + b_hz)
        n = tanh(x W_inᵀ + b_in + r * (h W_hnᵀ + b_hn))
        h' = (1 - z) * n + z * h

    Parameters: ``weight_ih`` (3H, I), ``weight_hh`` (3H, H), ``bias_ih``, ``bias_hh`` (3H,).
    ``cell(x, state=None)``: x (B, I) or (I,); state h of x's dtype and device, zeros if missing;
    returns h' of h's shape. ``fused=True`` computes the gates with one op.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None, *, fused: bool = False) -> None:
        check_cell_flags("GRUCell", fused=fused)
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)
        self.fused = bool(fused)

    def forward(self, x: Tensor | None = None, state: Tensor | None = None, *, input: Tensor | None = None,
                hx: Tensor | None = None) -> Tensor:
        """x (B, I) or (I,), state h (B, H) or (H,) → h' (B, H) or (H,). PyTorch's ``input=``, ``hx=`` work too."""
        x, state = torch_keywords("GRUCell", x, state, input, hx)
        x, (h,), unbatched = self._inputs(x, state, 1)
        half = is_float16(x, unread_weight(self, "weight_ih"))
        h = mg.tag(gru_step(self._gates_x(x, half), h, self._read("weight_hh").T, self.bias_hh, self.fused, half), "h")
        return h.squeeze(0) if unbatched else h

    def extra_repr(self) -> str:
        return super().extra_repr() + (", fused=True" if self.fused else "")
