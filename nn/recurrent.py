"""Recurrent cells (``RNNCell``, ``LSTMCell``, ``GRUCell``) and sequence layers (``RNN``, ``LSTM``, ``GRU``).

Everything here is written with the engine's primitive ops (matmul, add, mul,
sigmoid, tanh, chunk, where …); nothing has a hand-written backward. A
sequence layer runs its cell's step once per time step, so the graph it
records *is* the unrolled network, and ``loss.backward()`` is back-propagation
through time. Every op a layer records is labelled with its name scope
``<module>/l{k}/t{t}`` (``l{k}_reverse`` for the backward direction), and each
step's new hidden state is tagged ``"h"`` (cell state ``"c"``) for the
visualiser.

Parameter names, shapes, gate order and initialisation U(-1/√H, 1/√H) follow
PyTorch, so a ``torch.nn.LSTM`` state dict converted with ``.numpy()`` loads
as-is.

The step functions (``rnn_step``, ``lstm_step``, ``gru_step``) are the cells'
math, shared by the cells and the layers. They take ``gates_x``, the input's
contribution ``x @ W_ihᵀ + b_ih`` already computed: a layer computes it for
all time steps in one matmul before its loop.
"""

from __future__ import annotations

import contextlib
import gc
import math
import numbers
import warnings
from typing import Any

import numpy

import minigrad as mg
from minigrad import backend
from minigrad.autograd import tag
from minigrad.tensor import Tensor

from . import init
from .functional import dropout
from .module import Module, Parameter

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell", "gru_step", "lstm_step", "rnn_step"]

State = Any  # a Tensor (RNN, GRU) or a tuple (h, c) (LSTM)


# --- the cells' math ----------------------------------------------------------

def rnn_step(gates_x: Tensor, h: Tensor, weight_hh_t: Tensor, bias_hh: Tensor | None,
             nonlinearity: str = "tanh") -> Tensor:
    """h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh).

    gates_x: (B, H) = x W_ihᵀ + b_ih; h: (B, H); weight_hh_t: (H, H) = W_hhᵀ; returns h': (B, H).
    """
    pre = gates_x + h @ weight_hh_t
    if bias_hh is not None:
        pre = pre + bias_hh
    return pre.tanh() if nonlinearity == "tanh" else pre.relu()


def lstm_step(gates_x: Tensor, h: Tensor, c: Tensor, weight_hh_t: Tensor, bias_hh: Tensor | None,
              peepholes: tuple | None = None, coupled: bool = False,
              fused: bool = False) -> tuple[Tensor, Tensor]:
    """One LSTM step; returns (h', c').

    gates = x W_ihᵀ + b_ih + h W_hhᵀ + b_hh, split in order i, f, g, o (f, g, o when coupled)::

        i = σ(gates_i [+ w_ci * c])      f = σ(gates_f [+ w_cf * c])
        g = tanh(gates_g)                c' = f * c + i * g     (coupled: i = 1 - f)
        o = σ(gates_o [+ w_co * c'])     h' = o * tanh(c')

    gates_x: (B, G·H) with G = 4 (3 when coupled); h, c: (B, H); weight_hh_t: (H, G·H);
    ``peepholes`` = (w_ci or None, w_cf, w_co), each (H,). ``fused`` computes the
    gate nonlinearities and the state update in one op (``minigrad.ops.fused``).
    """
    gates = gates_x + h @ weight_hh_t
    if bias_hh is not None:
        gates = gates + bias_hh
    if fused:
        from minigrad.ops.fused import lstm_gates  # noqa: PLC0415 - optional, loaded on use

        return lstm_gates(gates, c)
    if coupled:
        f, g, o = gates.chunk(3, axis=-1)
        i = None
    else:
        i, f, g, o = gates.chunk(4, axis=-1)
    if peepholes is not None:
        weight_ci, weight_cf, weight_co = peepholes
        if i is not None:
            i = i + weight_ci * c
        f = f + weight_cf * c
    f = f.sigmoid()
    g = g.tanh()
    if i is None:
        c = f * c + (1 - f) * g
    else:
        c = f * c + i.sigmoid() * g
    if peepholes is not None:
        o = o + weight_co * c
    h = o.sigmoid() * c.tanh()
    return h, c


def gru_step(gates_x: Tensor, h: Tensor, weight_hh_t: Tensor, bias_hh: Tensor | None,
             fused: bool = False) -> Tensor:
    """One GRU step (PyTorch's convention); returns h'.

    With gates_x = x W_ihᵀ + b_ih and gates_h = h W_hhᵀ + b_hh, both split in order r, z, n::

        r = σ(x_r + h_r)    z = σ(x_z + h_z)    n = tanh(x_n + r * h_n)    h' = (1 - z) * n + z * h

    gates_x: (B, 3H); h: (B, H); weight_hh_t: (H, 3H).
    """
    gates_h = h @ weight_hh_t
    if bias_hh is not None:
        gates_h = gates_h + bias_hh
    if fused:
        from minigrad.ops.fused import gru_gates  # noqa: PLC0415 - optional, loaded on use

        return gru_gates(gates_x, gates_h, h)
    x_r, x_z, x_n = gates_x.chunk(3, axis=-1)
    h_r, h_z, h_n = gates_h.chunk(3, axis=-1)
    r = (x_r + h_r).sigmoid()
    z = (x_z + h_z).sigmoid()
    n = (x_n + r * h_n).tanh()
    return (1 - z) * n + z * h


# --- checks shared by cells and layers ------------------------------------------

def _check_size(owner: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)


def _check_nonlinearity(owner: str, nonlinearity: Any) -> str:
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"{owner}: unknown nonlinearity {nonlinearity!r}; expected 'tanh' or 'relu'")
    return nonlinearity


def _check_lstm_options(owner: str, peephole: bool, coupled: bool, fused: bool) -> None:
    if fused and (peephole or coupled):
        raise ValueError(f"{owner}: fused=True supports the plain LSTM only, not peephole=True or coupled=True")


def _as_input(owner: str, x: Any) -> Tensor:
    if not isinstance(x, Tensor):
        if not backend.is_array(x):
            raise TypeError(f"{owner}: input must be a Tensor, got {type(x).__name__}")
        x = mg.as_tensor(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{owner}: input must be a floating-point tensor, got {x.dtype} "
                        "(embed token ids with nn.Embedding first)")
    return x


def _check_states(owner: str, state: Any, names: tuple, expected: tuple, detail: str) -> tuple:
    """``state`` (a Tensor, or a tuple of ``len(names)`` Tensors) checked against ``expected``; as a tuple."""
    if len(names) == 1:
        states = (state,)
    elif isinstance(state, (tuple, list)) and len(state) == len(names):
        states = tuple(state)
    else:
        raise TypeError(f"{owner}: state must be a tuple ({', '.join(names)}), got {type(state).__name__}")
    for name, s in zip(names, states):
        if not isinstance(s, Tensor):
            raise TypeError(f"{owner}: state {name} must be a Tensor, got {type(s).__name__}")
        if s.shape != expected:
            raise ValueError(f"{owner}: expected state {name} of shape {expected} {detail}, got {s.shape}")
    return states


def _check_finite_steps(owner: str, x: Tensor, time_axis: int) -> None:
    """Under ``detect_anomaly``: name the first time step at which the input holds NaN/Inf.

    The layer projects all time steps in one matmul (scope ``l0``), so without this the anomaly
    would be reported there rather than at the step it belongs to (``l0/t3``).
    """
    bad = ~backend.array_module(x.data).isfinite(x.data)
    if not bool(bad.any()):
        return
    per_step = bad.any(axis=-1)                      # (T, B)
    if time_axis == 1:
        per_step = per_step.T
    t = int(per_step.any(axis=1).argmax())
    b = int(per_step[t].argmax())
    scope = mg.autograd.current_scope()
    raise mg.AnomalyError(
        f"detect_anomaly: the input of {owner} holds NaN/Inf, first at time step {t} (batch element {b}), "
        f"read by the step in scope '{scope + '/' if scope else ''}l0/t{t}'; "
        f"input {x.dtype}{x.shape} non-finite={int(bad.sum())}")


def _add_parameters(module: Module, suffix: str, shapes: dict, device: Any, dtype: Any) -> None:
    """Register ``name + suffix`` for each name → shape, each drawn from U(-1/√H, 1/√H) as PyTorch."""
    bound = 1.0 / math.sqrt(module.hidden_size)
    for name, shape in shapes.items():
        param = Parameter(mg.empty(shape, dtype=dtype or mg.float32, device=device))
        init.uniform_(param, -bound, bound)
        setattr(module, name + suffix, param)


def _gate_shapes(rows: int, input_size: int, hidden_size: int, bias: bool) -> dict:
    """W_ih (G·H, I), W_hh (G·H, H) and, with ``bias``, b_ih, b_hh (G·H,)."""
    shapes = {"weight_ih": (rows, input_size), "weight_hh": (rows, hidden_size)}
    if bias:
        shapes.update(bias_ih=(rows,), bias_hh=(rows,))
    return shapes


def _peephole_shapes(hidden_size: int, coupled: bool) -> dict:
    """w_ci (absent when coupled), w_cf, w_co, each (H,)."""
    names = ("weight_cf", "weight_co") if coupled else ("weight_ci", "weight_cf", "weight_co")
    return dict.fromkeys(names, (hidden_size,))


def _result_dtype(x: Tensor, weight: Tensor) -> Any:
    return numpy.result_type(x.dtype, weight.dtype)


@contextlib.contextmanager
def _collector_paused() -> Any:
    """Pause Python's cyclic garbage collector while an unrolled graph is recorded.

    The loop makes thousands of graph objects and no reference cycles (reference
    counting frees them all); left running, the collector would rescan the growing
    graph again and again, a quarter of the forward time at small sizes.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --- cells ----------------------------------------------------------------------

class _Cell(Module):
    """What the three cells share: W_ih (G·H, I), W_hh (G·H, H), b_ih, b_hh (G·H,), G = ``gate_count``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, gate_count: int,
                 device: Any, dtype: Any) -> None:
        super().__init__()
        owner = type(self).__name__
        self.input_size = _check_size(owner, "input_size", input_size)
        self.hidden_size = _check_size(owner, "hidden_size", hidden_size)
        self.bias = bool(bias)
        self.gate_count = gate_count
        _add_parameters(self, "", _gate_shapes(gate_count * hidden_size, input_size, hidden_size, bias),
                        device, dtype)
        if not bias:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def _check(self, x: Any, state: Any, n_states: int) -> tuple[Tensor, tuple, bool]:
        """Validate ``x`` (B, I) or (I,) and the state; return (x, states as (B, H) tuple, unbatched)."""
        owner = type(self).__name__
        x = _as_input(owner, x)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{owner}: expected input of shape (batch, input_size={self.input_size}) or "
                             f"(input_size,), got {x.shape}")
        unbatched = x.ndim == 1
        if unbatched:
            x = x.expand_dims(0)
        batch = x.shape[0]
        if state is None:
            zeros = mg.zeros((batch, self.hidden_size), dtype=_result_dtype(x, self.weight_ih), device=x.device)
            return x, (zeros,) * n_states, unbatched
        expected = (self.hidden_size,) if unbatched else (batch, self.hidden_size)
        states = _check_states(owner, state, ("h", "c")[:n_states], expected,
                               f"for input of shape {(self.input_size,) if unbatched else x.shape}")
        return x, (tuple(s.expand_dims(0) for s in states) if unbatched else states), unbatched

    def _gates_x(self, x: Tensor) -> Tensor:
        gates_x = x @ self.weight_ih.T
        return gates_x + self.bias_ih if self.bias else gates_x

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            text += ", bias=False"
        return text


class RNNCell(_Cell):
    """Elman cell: h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), act = tanh or relu.

    Parameters: ``weight_ih`` (H, I), ``weight_hh`` (H, H), ``bias_ih``, ``bias_hh`` (H,),
    all U(-1/√H, 1/√H). ``cell(x, state=None)``: x (B, I) or (I,); state h (B, H) or (H,), zeros
    if missing; returns h' of h's shape.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 *, device: Any = None, dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = _check_nonlinearity("RNNCell", nonlinearity)

    def forward(self, x: Tensor, state: Tensor | None = None) -> Tensor:
        x, (h,), unbatched = self._check(x, state, 1)
        h = tag(rnn_step(self._gates_x(x), h, self.weight_hh.T, self.bias_hh, self.nonlinearity), "h")
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
    ``cell(x, state=None)``: x (B, I) or (I,); state (h, c), zeros if missing; returns (h', c'), each (B, H) or (H,).
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, peephole: bool = False,
                 coupled: bool = False, *, fused: bool = False, device: Any = None, dtype: Any = None) -> None:
        _check_lstm_options("LSTMCell", peephole, coupled, fused)
        super().__init__(input_size, hidden_size, bias, 3 if coupled else 4, device, dtype)
        self.peephole, self.coupled, self.fused = bool(peephole), bool(coupled), bool(fused)
        if peephole:
            _add_parameters(self, "", _peephole_shapes(hidden_size, coupled), device, dtype)

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        x, (h, c), unbatched = self._check(x, state, 2)
        peepholes = (getattr(self, "weight_ci", None), self.weight_cf, self.weight_co) if self.peephole else None
        h, c = lstm_step(self._gates_x(x), h, c, self.weight_hh.T, self.bias_hh, peepholes, self.coupled,
                         self.fused)
        h, c = tag(h, "h"), tag(c, "c")
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)

    def extra_repr(self) -> str:
        return super().extra_repr() + _lstm_options(self)


def _lstm_options(module: Module) -> str:
    """The LSTM variants switched on, for a module's repr: ", peephole=True" etc."""
    return "".join(f", {option}=True" for option in ("peephole", "coupled", "fused") if getattr(module, option))


class GRUCell(_Cell):
    """GRU cell (PyTorch's convention, gate order r, z, n)::

        r = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr)
        z = σ(x W_izᵀ + b_iz + h W_hzᵀ + b_hz)
        n = tanh(x W_inᵀ + b_in + r * (h W_hnᵀ + b_hn))
        h' = (1 - z) * n + z * h

    Parameters: ``weight_ih`` (3H, I), ``weight_hh`` (3H, H), ``bias_ih``, ``bias_hh`` (3H,).
    ``cell(x, state=None)``: x (B, I) or (I,); state h, zeros if missing; returns h' of h's shape. ``fused=True``
    computes the gates with one op.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *, fused: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)
        self.fused = bool(fused)

    def forward(self, x: Tensor, state: Tensor | None = None) -> Tensor:
        x, (h,), unbatched = self._check(x, state, 1)
        h = tag(gru_step(self._gates_x(x), h, self.weight_hh.T, self.bias_hh, self.fused), "h")
        return h.squeeze(0) if unbatched else h

    def extra_repr(self) -> str:
        return super().extra_repr() + (", fused=True" if self.fused else "")


# --- sequence layers --------------------------------------------------------------

class _Recurrent(Module):
    """What RNN, LSTM and GRU share: parameters per layer and direction, the loop over time.

    Subclasses pass their ``gate_count`` G, set ``n_states`` (2 for LSTM) and implement ``_step``.
    """

    n_states = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, bias: bool, batch_first: bool,
                 dropout: float, bidirectional: bool, gate_count: int, device: Any, dtype: Any) -> None:
        super().__init__()
        owner = type(self).__name__
        self.input_size = _check_size(owner, "input_size", input_size)
        self.hidden_size = _check_size(owner, "hidden_size", hidden_size)
        self.num_layers = _check_size(owner, "num_layers", num_layers)
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0 <= dropout <= 1:
            raise ValueError(f"{owner}: dropout should be a number in range [0, 1] representing the "
                             f"probability of an element being zeroed, got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{owner}: dropout is applied between recurrent layers, so dropout={dropout} with "
                          "num_layers=1 has no effect", stacklevel=3)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.gate_count = gate_count
        self._suffixes = ("", "_reverse") if bidirectional else ("",)
        for k in range(num_layers):
            layer_input = input_size if k == 0 else hidden_size * len(self._suffixes)
            shapes = _gate_shapes(gate_count * hidden_size, layer_input, hidden_size, bias)
            for suffix in self._suffixes:
                _add_parameters(self, f"_l{k}{suffix}", shapes, device, dtype)

    def flatten_parameters(self) -> None:
        """Nothing to do (PyTorch needs it for cuDNN; kept so PyTorch code runs unchanged)."""

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters of each layer and direction, in PyTorch's order."""
        groups = []
        for k in range(self.num_layers):
            for suffix in self._suffixes:
                names = [n for n, _ in self.named_parameters() if n.endswith(f"_l{k}{suffix}")]
                groups.append([getattr(self, n) for n in names])
        return groups

    # --- the loop over time ---

    def _step(self, gates_x: Tensor, state: tuple, weights: tuple) -> tuple:
        """One time step: (gates_x (B, G·H), state tuple, weights) → new state tuple."""
        raise NotImplementedError

    def _step_weights(self, k: int, suffix: str) -> tuple:
        """(W_hhᵀ, the per-step hidden bias or None, …) for layer ``k`` and direction ``suffix``."""
        return self._weight(f"weight_hh_l{k}{suffix}").T, None

    def _input_bias(self, k: int, suffix: str) -> Tensor | None:
        """The bias added to the input projection: b_ih + b_hh (both act outside the step's nonlinearity)."""
        if not self.bias:
            return None
        return self._weight(f"bias_ih_l{k}{suffix}") + self._weight(f"bias_hh_l{k}{suffix}")

    def _weight(self, name: str) -> Parameter:
        return self._parameters[name]

    def forward(self, x: Tensor, state: State = None, lengths: Any = None) -> tuple[Tensor, State]:
        """Run over a sequence. x: (T, B, I), or (B, T, I) if ``batch_first``, or unbatched (T, I).

        ``state``: h0 (RNN, GRU) or (h0, c0) (LSTM), each (D·num_layers, B, H) ((D·num_layers, H)
        unbatched), zeros when missing; D = 2 if bidirectional else 1. ``lengths``: B ints
        (list, NumPy array or integer Tensor), each in [1, T]: outputs past a sequence's end are
        zero, its final state is the one at its last real step, and the reverse direction starts
        at its own end, as a packed sequence in PyTorch.

        Returns (output, h_n) or (output, (h_n, c_n)): output (T, B, D·H) ((B, T, D·H) if
        ``batch_first``), h_n and c_n (D·num_layers, B, H).
        """
        owner = type(self).__name__
        x = _as_input(owner, x)
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            layout = "(batch, seq_len, input_size)" if self.batch_first else "(seq_len, batch, input_size)"
            raise ValueError(f"{owner}: expected input of shape {layout} or (seq_len, input_size) with "
                             f"input_size={self.input_size}, got {x.shape}")
        unbatched = x.ndim == 2
        time_axis = 1 if self.batch_first and not unbatched else 0
        if unbatched:
            x = x.expand_dims(1)
            time_axis = 0
        steps, batch = x.shape[time_axis], x.shape[1 - time_axis]
        if steps == 0:
            raise ValueError(f"{owner}: the input has no time steps (shape {x.shape})")
        initial = self._initial_states(state, x, batch, unbatched)
        keep = self._length_masks(lengths, steps, batch, x.device)
        if mg.is_anomaly_enabled():
            _check_finite_steps(owner, x, time_axis)

        with _collector_paused():
            output, finals = self._run_layers(x, time_axis, initial, keep)
        if unbatched:
            output = output.squeeze(1)
        final_states = [mg.stack(f, axis=0) for f in finals]
        if unbatched:
            final_states = [s.squeeze(1) for s in final_states]
        return output, (final_states[0] if self.n_states == 1 else tuple(final_states))

    def _run_layers(self, x: Tensor, time_axis: int, initial: list, keep: tuple | None) -> tuple[Tensor, list]:
        """Every layer and direction: (last layer's output, final states per state kind)."""
        directions = len(self._suffixes)
        finals: list[list[Tensor]] = [[] for _ in range(self.n_states)]
        layer_input = x
        for k in range(self.num_layers):
            if k > 0 and self.dropout > 0 and self.training:
                layer_input = dropout(layer_input, self.dropout, training=True)
            outputs = []
            for d, suffix in enumerate(self._suffixes):
                with mg.name_scope(f"l{k}{suffix}"):
                    start = tuple(s[k * directions + d] for s in initial)
                    output, final = self._run_direction(layer_input, time_axis, k, suffix, start, keep)
                outputs.append(output)
                for i, s in enumerate(final):
                    finals[i].append(s)
            layer_input = outputs[0] if directions == 1 else mg.concat(outputs, axis=-1)
        return layer_input, finals

    def _run_direction(self, x: Tensor, time_axis: int, k: int, suffix: str, state: tuple,
                       keep: tuple | None) -> tuple[Tensor, tuple]:
        """One layer, one direction, inside its ``l{k}[_reverse]`` scope: (output, final state)."""
        steps, batch = x.shape[time_axis], x.shape[1 - time_axis]
        # the input's contribution at every step in one matmul: (T·B, I) @ (I, G·H)
        gates_x = x.reshape(steps * batch, x.shape[-1]) @ self._weight(f"weight_ih_l{k}{suffix}").T
        bias = self._input_bias(k, suffix)
        if bias is not None:
            gates_x = gates_x + bias
        gates_x = mg.unbind(gates_x.reshape(x.shape[0], x.shape[1], gates_x.shape[-1]), time_axis)
        weights = self._step_weights(k, suffix)

        if keep is None:
            active, masks = steps, None
        else:
            active, masks = keep
        order = range(active - 1, -1, -1) if suffix else range(active)
        outputs: list[Any] = [None] * steps
        step, name_scope = self._step, mg.name_scope   # looked up once: this loop is the hot path
        for t in order:
            with name_scope(f"t{t}"):
                new = step(gates_x[t], state, weights)
                if masks is not None and masks[t] is not None:
                    # finished sequences keep their state and output zeros
                    new = tuple(mg.where(masks[t], n, s) for n, s in zip(new, state))
                    outputs[t] = mg.where(masks[t], new[0], 0.0)
                else:
                    outputs[t] = new[0]
                tag(new[0], "h")
                if len(new) == 2:
                    tag(new[1], "c")
                state = new
        if active < steps:
            padding = mg.zeros(outputs[0].shape, dtype=outputs[0].dtype, device=x.device)
            outputs[active:] = [padding] * (steps - active)
        return mg.stack(outputs, axis=time_axis), state

    # --- input checks ---

    def _initial_states(self, state: State, x: Tensor, batch: int, unbatched: bool) -> list:
        """Each state tensor as a list over layer·direction of (B, H) tensors."""
        owner = type(self).__name__
        count = self.num_layers * len(self._suffixes)
        if state is None:
            dtype = _result_dtype(x, self._weight("weight_ih_l0"))
            zeros = mg.zeros((batch, self.hidden_size), dtype=dtype, device=x.device)
            return [[zeros] * count for _ in range(self.n_states)]
        if unbatched:
            expected, detail = (count, self.hidden_size), "(num_layers * num_directions, hidden_size)"
        else:
            expected = (count, batch, self.hidden_size)
            detail = "(num_layers * num_directions, batch, hidden_size)" + self._batch_hint()
        states = _check_states(owner, state, ("h0", "c0")[:self.n_states], expected, detail)
        return [mg.unbind(s.expand_dims(1) if unbatched else s, 0) for s in states]

    def _length_masks(self, lengths: Any, steps: int, batch: int, device: Any) -> tuple | None:
        """(number of steps to run, per step a (B, 1) keep-mask Tensor or None when all are kept)."""
        if lengths is None:
            return None
        owner = type(self).__name__
        if isinstance(lengths, Tensor):
            values = lengths.numpy()
        else:
            values = backend.to_numpy(lengths) if backend.is_array(lengths) else numpy.asarray(lengths)
        if values.dtype.kind not in "iu":
            raise TypeError(f"{owner}: lengths must be integers (a list, NumPy array or integer Tensor), "
                            f"got dtype {values.dtype}")
        if values.ndim != 1 or values.shape[0] != batch:
            raise ValueError(f"{owner}: lengths must hold one length per sequence of the batch ({batch}), "
                             f"got shape {values.shape}" + self._batch_hint())
        if values.min() < 1 or values.max() > steps:
            raise ValueError(f"{owner}: lengths must each be in [1, {steps}] (the input has {steps} time steps), "
                             f"got {values.tolist()}")
        keep = numpy.arange(steps)[:, None, None] < values[None, :, None]    # (T, B, 1)
        if device != backend.CPU:
            keep = backend.to_device(keep, device)
        shortest = int(values.min())
        masks = [None if t < shortest else mg.as_tensor(keep[t]) for t in range(steps)]
        return int(values.max()), masks

    def _batch_hint(self) -> str:
        """Where the batch size came from, for errors that a batch_first mix-up causes."""
        layout = "(batch, seq_len, input_size)" if self.batch_first else "(seq_len, batch, input_size)"
        return f" (batch_first={self.batch_first}: the input is read as {layout})"

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text


class RNN(_Recurrent):
    """Elman RNN over a sequence, stacked and optionally bidirectional; each step is
    h_t = act(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh) (see :class:`RNNCell`).

    Parameters ``weight_ih_l{k}[_reverse]`` (H, I) for k = 0 ((H, D·H) above), ``weight_hh_l{k}`` (H, H),
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` (H,). See :meth:`forward` for shapes.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 nonlinearity: str = "tanh", *, device: Any = None, dtype: Any = None) -> None:
        if isinstance(bias, str):
            raise TypeError(f"RNN: bias must be a bool, got {bias!r}; pass the nonlinearity by keyword: "
                            f"nn.RNN(..., nonlinearity={bias!r})")
        nonlinearity = _check_nonlinearity("RNN", nonlinearity)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, 1,
                         device, dtype)
        self.nonlinearity = nonlinearity

    def _step(self, gates_x: Tensor, state: tuple, weights: tuple) -> tuple:
        weight_hh_t, bias_hh = weights
        return (rnn_step(gates_x, state[0], weight_hh_t, bias_hh, self.nonlinearity),)

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text + (f", nonlinearity={self.nonlinearity}" if self.nonlinearity != "tanh" else "")


class LSTM(_Recurrent):
    """LSTM over a sequence, stacked and optionally bidirectional; each step is :class:`LSTMCell`'s.

    Parameters ``weight_ih_l{k}[_reverse]`` (4H, I) ((4H, D·H) above layer 0), ``weight_hh_l{k}``
    (4H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}`` (4H,), gate order i, f, g, o; with ``peephole=True``
    also ``weight_ci_l{k}``, ``weight_cf_l{k}``, ``weight_co_l{k}`` (H,); with ``coupled=True`` the
    input gate is dropped (rows f, g, o: 3H; no ``weight_ci``). ``fused=True`` computes each step's
    gates with one op (plain LSTM only). The state is a tuple (h, c).
    """

    n_states = 2

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 peephole: bool = False, coupled: bool = False, *, fused: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        _check_lstm_options("LSTM", peephole, coupled, fused)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         3 if coupled else 4, device, dtype)
        self.peephole, self.coupled, self.fused = bool(peephole), bool(coupled), bool(fused)
        if peephole:
            for k in range(num_layers):
                for suffix in self._suffixes:
                    _add_parameters(self, f"_l{k}{suffix}", _peephole_shapes(hidden_size, coupled), device, dtype)

    def _step_weights(self, k: int, suffix: str) -> tuple:
        peepholes = None
        if self.peephole:
            peepholes = tuple(self._parameters.get(f"{name}_l{k}{suffix}")
                              for name in ("weight_ci", "weight_cf", "weight_co"))
        return self._weight(f"weight_hh_l{k}{suffix}").T, peepholes

    def _step(self, gates_x: Tensor, state: tuple, weights: tuple) -> tuple:
        weight_hh_t, peepholes = weights
        h, c = state
        return lstm_step(gates_x, h, c, weight_hh_t, None, peepholes, self.coupled, self.fused)

    def extra_repr(self) -> str:
        return super().extra_repr() + _lstm_options(self)


class GRU(_Recurrent):
    """GRU over a sequence, stacked and optionally bidirectional; each step is :class:`GRUCell`'s.

    Parameters ``weight_ih_l{k}[_reverse]`` (3H, I) ((3H, D·H) above layer 0), ``weight_hh_l{k}``
    (3H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}`` (3H,), gate order r, z, n. ``fused=True`` computes
    each step's gates with one op.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 *, fused: bool = False, device: Any = None, dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, 3,
                         device, dtype)
        self.fused = bool(fused)

    def _input_bias(self, k: int, suffix: str) -> Tensor | None:
        # b_hn sits inside r * (h W_hnᵀ + b_hn), so b_hh stays in the step
        return self._weight(f"bias_ih_l{k}{suffix}") if self.bias else None

    def _step_weights(self, k: int, suffix: str) -> tuple:
        bias_hh = self._weight(f"bias_hh_l{k}{suffix}") if self.bias else None
        return self._weight(f"weight_hh_l{k}{suffix}").T, bias_hh

    def _step(self, gates_x: Tensor, state: tuple, weights: tuple) -> tuple:
        weight_hh_t, bias_hh = weights
        return (gru_step(gates_x, state[0], weight_hh_t, bias_hh, self.fused),)

    def extra_repr(self) -> str:
        return super().extra_repr() + (", fused=True" if self.fused else "")
