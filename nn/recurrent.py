"""Recurrent sequence layers: ``RNN``, ``LSTM`` and ``GRU``, stacked and optionally bidirectional.

A layer runs its cell's step (``nn/cells.py``) once per time step, so the graph
it records *is* the unrolled network, and ``loss.backward()`` is
back-propagation through time. Every op a layer records is labelled with its
name scope ``<module>/l{k}/t{t}`` (``l{k}_reverse`` for the backward
direction), and each step's new hidden state is tagged ``"h"`` (cell state
``"c"``) for the visualiser.

Parameter names, shapes, gate order and initialisation U(-1/√H, 1/√H) follow
PyTorch, so a ``torch.nn.LSTM`` state dict converted with ``.numpy()`` loads
as-is. Variable-length batches come either padded with ``lengths=`` or packed
(:class:`nn.utils.rnn.PackedSequence`), as in PyTorch. ``nn.LSTM(..., proj_size=P)`` is
PyTorch's LSTM with projections: the hidden state is P wide, the cell state H.

``compile=True`` (every layer) runs each layer's loop over time, one direction at
a time, through ``mg.compile``: the first forward for an input signature (shapes,
dtypes, which tensors require grad, the longest and shortest of ``lengths``)
records the loop's ops, later forwards replay them as one ``compiled`` node per
layer and direction, drawn by ``mg.viz`` as the same ``t{t}`` steps eager mode
records. Outputs and gradients equal eager mode's bit for bit
(tests/nn/test_recurrent_compile.py); bench/RESULTS.md has the speed. Under
``detect_anomaly`` the layer runs eagerly.
"""

from __future__ import annotations

from typing import Any

import minigrad as mg
from minigrad import Tensor

from ._compile_switch import CompileSwitch
from ._dropout import dropout
from ._recurrent_checks import (
    LengthMasks,
    RecurrentInputError,
    RecurrentStateError,
    as_input,
    check_cell_flags,
    check_finite_steps,
    check_layer_options,
    check_lstm_options,
    check_nonlinearity,
    check_proj_size,
    check_size,
    check_states,
    check_weight_dtypes,
    length_masks,
    pytorch_input_message,
    refuse_base,
    refuse_proj_size,
    torch_keywords,
)
from .cells import (
    add_parameters,
    float16_linear,
    gate_shapes,
    gru_step,
    is_float16,
    loop_weight,
    lstm_options_repr,
    lstm_step,
    peephole_shapes,
    reset_uniform,
    result_dtype,
    rnn_step,
    unread_weight,
)
from .module import Module, Parameter
from .utils.parametrize import is_parametrized
from .utils.rnn import PackedSequence, pack_like, pad_packed_sequence

__all__ = ["GRU", "LSTM", "RNN", "RNNBase"]

State = Any  # a Tensor (RNN, GRU) or a tuple (h, c) (LSTM)


class _Recurrent(Module):
    """What RNN, LSTM and GRU share: parameters per layer and direction, the loop over time.

    Subclasses pass their ``gate_count`` G, set ``n_states`` (2 for LSTM) and implement ``_step``; the
    methods after :meth:`_direction` are what they may change.
    ``proj_size`` P > 0 (LSTM only) registers ``weight_hr_l{k}`` (P, H) after each layer and
    direction's biases, as PyTorch, and makes h (and each direction's output) P wide.
    """

    n_states = 1
    compile = CompileSwitch()      # layer.compile: the compile= option, and callable as Module.compile

    def __new__(cls, *args: Any, **kwargs: Any) -> _Recurrent:
        refuse_base(cls, _Recurrent, "nn.RNNBase", "nn.RNN, nn.LSTM or nn.GRU")
        return super().__new__(cls)

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, bias: bool, batch_first: bool,
                 dropout: float, bidirectional: bool, gate_count: int, device: Any, dtype: Any,
                 compile: bool = False, proj_size: int = 0) -> None:
        super().__init__()
        owner = type(self).__name__
        self.input_size = check_size(owner, "input_size", input_size, python_int=True)
        self.hidden_size = check_size(owner, "hidden_size", hidden_size, python_int=True)
        self.num_layers = check_size(owner, "num_layers", num_layers)
        self.proj_size = check_proj_size(owner, proj_size, self.hidden_size)
        # the width of h_t and of each direction's output
        self._output_size = self.proj_size or self.hidden_size
        check_layer_options(owner, num_layers, dropout, bias, batch_first, bidirectional)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.gate_count = gate_count
        self.compile = bool(compile)
        # compile=True: one mg.compile of the loop over time per layer and direction, made on first use
        # (each keeps its own captures, one per input signature, across forwards)
        self._compiled_directions: dict[tuple[int, str], Any] = {}
        self._suffixes = ("", "_reverse") if bidirectional else ("",)
        for k in range(num_layers):
            layer_input = input_size if k == 0 else self._output_size * len(self._suffixes)
            shapes = gate_shapes(gate_count * hidden_size, layer_input, self._output_size, bias)
            if self.proj_size:
                shapes["weight_hr"] = (self.proj_size, hidden_size)
            for suffix in self._suffixes:
                add_parameters(self, f"_l{k}{suffix}", shapes, device, dtype)

    def __getstate__(self) -> dict:
        # copies and pickles carry the settings, not the captured programs (they hold op objects and
        # the first call's tensors); the copy captures its own on its first call
        state = super().__getstate__()
        state["_compiled_directions"] = {}
        return state

    def reset_parameters(self) -> None:
        """Draw every weight again from U(-1/√H, 1/√H), as at construction."""
        reset_uniform(self)

    def flatten_parameters(self) -> None:
        """Nothing to do (PyTorch needs it for cuDNN; kept so PyTorch code runs unchanged)."""

    # --- PyTorch's checking helpers, which layers subclassed in PyTorch code call from their own forward ---

    def check_input(self, input: Tensor, batch_sizes: Tensor | None) -> None:  # noqa: A002 - PyTorch's name
        """PyTorch's check of ``input``: (T, B, I) ((B, T, I) if ``batch_first``), or packed data (N, I) when
        ``batch_sizes`` is given, of the weights' dtype (ValueError); RuntimeError for a wrong rank or width."""
        weight_dtype = self._flat_weights[0].dtype
        if input.dtype != weight_dtype:
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype ({weight_dtype}). "
                             f"Convert input: input.to({weight_dtype}), or convert model: model.to({input.dtype})")
        rank = 2 if batch_sizes is not None else 3
        if input.ndim != rank:
            raise RecurrentInputError(f"input must have {rank} dimensions, got {input.ndim}")
        if input.shape[-1] != self.input_size:
            raise RecurrentInputError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                                      f"got {input.shape[-1]}")

    def get_expected_hidden_size(self, input: Tensor, batch_sizes: Tensor | None) -> tuple[int, int, int]:  # noqa: A002
        """h0's shape for ``input``: (D·num_layers, B, H) (P with ``proj_size`` P); B = ``batch_sizes[0]`` if given."""
        return self._expected_state_size(input, batch_sizes, self._output_size)

    def _expected_state_size(self, input: Tensor, batch_sizes: Tensor | None, width: int) -> tuple[int, int, int]:  # noqa: A002
        batch = int(batch_sizes[0]) if batch_sizes is not None else input.shape[0 if self.batch_first else 1]
        return (self.num_layers * len(self._suffixes), batch, width)

    def check_hidden_size(self, hx: Tensor, expected_hidden_size: tuple[int, int, int],
                          msg: str = "Expected hidden size {}, got {}") -> None:
        """A RuntimeError (``msg`` filled with the expected and the actual shape) unless ``hx`` has the shape."""
        if tuple(hx.shape) != tuple(expected_hidden_size):
            raise RecurrentStateError(msg.format(expected_hidden_size, list(hx.shape)))

    def check_forward_args(self, input: Tensor, hidden: Tensor, batch_sizes: Tensor | None) -> None:  # noqa: A002
        """:meth:`check_input`, then the shape of ``hidden`` (h0) for that input."""
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden, self.get_expected_hidden_size(input, batch_sizes))

    def permute_hidden(self, hx: Tensor, permutation: Tensor | None) -> Tensor:
        """``hx`` (D·num_layers, B, H) with its batch axis reordered by ``permutation`` (a PackedSequence's
        ``sorted_indices``; None leaves it as is)."""
        return hx if permutation is None else hx.index_select(1, permutation)

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters of each layer and direction, in PyTorch's order."""
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    @property
    def _all_weights(self) -> list[list[str]]:
        """The weight names of each layer and direction, in PyTorch's order (PyTorch's attribute, which
        weight-dropping code reads): those registered at construction, as PyTorch's, even once one is set to
        None or deleted."""
        return [[n for n in self._weight_names if n.endswith(f"_l{k}{suffix}")]
                for k in range(self.num_layers) for suffix in self._suffixes]

    @property
    def _flat_weights_names(self) -> list[str]:
        """:attr:`_all_weights` flattened (PyTorch's attribute)."""
        return [n for names in self._all_weights for n in names]

    @property
    def _flat_weights(self) -> list[Parameter]:
        """The parameters named by :attr:`_flat_weights_names` (PyTorch's attribute), None for one deleted."""
        return [getattr(self, n, None) for n in self._flat_weights_names]

    # --- forward: check the input and states, then run layer by layer, direction by direction, step by step ---

    def forward(self, x: Tensor | PackedSequence | None = None, state: State = None, lengths: Any = None, *,
                input: Tensor | PackedSequence | None = None,
                hx: State = None) -> tuple[Tensor | PackedSequence, State]:
        """Run over a sequence. x: (T, B, I), or (B, T, I) if ``batch_first``, or unbatched (T, I),
        or a :class:`~nn.utils.rnn.PackedSequence` (then the output is packed the same way).

        ``state``: h0 (RNN, GRU) or (h0, c0) (LSTM), each (D·num_layers, B, H) ((D·num_layers, H)
        unbatched), of the input's dtype and device, zeros when missing; D = 2 if bidirectional
        else 1. ``lengths``: B ints (list, NumPy array or integer Tensor), each in [1, T]: outputs
        past a sequence's end are zero, its final state is the one at its last real step, and the
        reverse direction starts at its own end, as a packed sequence in PyTorch; the padding's values
        are never read (NaN/Inf there reach neither the outputs nor the gradients).

        PyTorch's keyword names work too: ``input=`` for x, ``hx=`` for the state.

        Returns (output, h_n) or (output, (h_n, c_n)): output (T, B, D·H) ((B, T, D·H) if
        ``batch_first``; packed (Σ lengths, D·H) for a packed input), h_n and c_n
        (D·num_layers, B, H), in the input's batch order.

        An LSTM with ``proj_size`` P > 0 has P in place of H for h0, h_n and the output
        ((T, B, D·P)); c0 and c_n keep H.
        """
        owner = type(self).__name__
        x, state = torch_keywords(owner, x, state, input, hx)
        if is_parametrized(self):
            self._read_parametrized_as_pytorch()
        if isinstance(x, PackedSequence):
            if lengths is not None:
                raise ValueError(f"{owner}: a PackedSequence carries its own lengths; do not pass lengths= too")
            if x.data.ndim != 2 or x.data.shape[-1] != self.input_size:
                raise RecurrentInputError(f"{owner}: expected packed data of shape (total length, input_size="
                                          f"{self.input_size}), got {x.data.shape}. "
                                          + pytorch_input_message(owner, x.data, self.input_size, (2,)))
            padded, packed_lengths = pad_packed_sequence(x)
            padded = as_input(owner, padded, self._dtype_weight())
            return self._forward_padded(padded, state, packed_lengths, time_axis=0, unbatched=False, packed=x)
        x = as_input(owner, x, self._dtype_weight())
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            layout = "(batch, seq_len, input_size)" if self.batch_first else "(seq_len, batch, input_size)"
            raise RecurrentInputError(f"{owner}: expected input of shape {layout} or (seq_len, input_size) with "
                                      f"input_size={self.input_size}, got {x.shape}. "
                                      + pytorch_input_message(owner, x, self.input_size, (2, 3)))
        unbatched = x.ndim == 2
        if unbatched:
            return self._forward_padded(x.expand_dims(1), state, lengths, time_axis=0, unbatched=True)
        return self._forward_padded(x, state, lengths, time_axis=1 if self.batch_first else 0, unbatched=False)

    def _read_parametrized_as_pytorch(self) -> None:
        """Read each parametrized weight (``nn.utils.parametrize``) as often per forward as PyTorch's layer does,
        less the one read the loop over time makes: a parametrization can change state on each read
        (``parametrizations.spectral_norm`` runs its power iteration in training mode), so the weight the loop
        reads then has PyTorch's value. PyTorch's forward reads the first parametrized weight (in
        :attr:`_flat_weights_names` order) 4 times, each later one twice, and uses the last read."""
        reads = 4
        for name in self._flat_weights_names:
            if is_parametrized(self, name):
                for _ in range(reads - 1):     # recorded (not under no_grad): parametrize.cached() keeps the first
                    getattr(self, name)
                reads = 2

    def _dtype_weight(self) -> Tensor:
        """weight_ih_l0, whose dtype the input must have; parametrized, its original, read without running the
        parametrization (:meth:`_read_parametrized_as_pytorch` counts the reads)."""
        if is_parametrized(self, "weight_ih_l0"):
            return unread_weight(self, "weight_ih_l0")
        return self._weight("weight_ih_l0")

    def _forward_padded(self, x: Tensor, state: State, lengths: Any, time_axis: int, unbatched: bool,
                        packed: PackedSequence | None = None) -> tuple[Tensor | PackedSequence, State]:
        """``forward`` on a padded (T, B, I) or (B, T, I) input (unbatched: B = 1, squeezed on return); the output
        packed as ``packed`` when given (the input was)."""
        owner = type(self).__name__
        check_weight_dtypes(owner, x, ((name, self._parameters.get(name)) for name in self._flat_weights_names))
        steps, batch = x.shape[time_axis], x.shape[1 - time_axis]
        if steps == 0:
            raise RecurrentInputError(f"{owner}: the input has no time steps (shape {x.shape}). "
                                      "Expected sequence length to be larger than 0 in RNN")   # PyTorch's words
        masks = length_masks(owner, lengths, steps, batch, x.device, self._batch_hint(), time_axis)
        if masks is not None and masks.input_mask is not None:
            x = mg.where(masks.input_mask, x, 0.0)   # the padding, zeroed: its NaN/Inf would reach the weights' grads
        if mg.is_anomaly_enabled():
            check_finite_steps(owner, x, time_axis)
        batch_first = time_axis == 1
        if batch_first:   # as PyTorch's: the layers read the input transposed to time-major, and the output is
            x, time_axis = x.transpose(0, 1), 0   # transposed back last (PyTorch's strides and order of hooks)
        initial = self._initial_states(state, x, batch, unbatched)

        with mg.gc_paused():
            output, finals = self._run_layers(x, time_axis, initial, masks)
        if packed is not None:
            output = pack_like(output, packed)
        # made in PyTorch's order (the output, c_n, h_n, a batch_first output's transpose), which sets the order of
        # hooks on them in backward
        final_states = [mg.stack(f, axis=0) for f in finals[::-1]][::-1]
        if batch_first:
            output = output.transpose(0, 1)
        if unbatched:
            output = output.squeeze(1)
            final_states = [s.squeeze(1) for s in final_states]
        return output, (final_states[0] if self.n_states == 1 else tuple(final_states))

    def _initial_states(self, state: State, x: Tensor, batch: int, unbatched: bool) -> list:
        """Each state tensor as a list over layer·direction of (B, H) tensors (h: (B, P) with ``proj_size`` P)."""
        owner = type(self).__name__
        count = self.num_layers * len(self._suffixes)
        dtype = result_dtype(x, self._dtype_weight())
        # (name, width, the width's name): h is proj_size wide with a projection, c always hidden_size
        widths = [("h0", self._output_size, "proj_size" if self.proj_size else "hidden_size"),
                  ("c0", self.hidden_size, "hidden_size")][:self.n_states]
        if state is None:
            zeros = {size: mg.zeros((batch, size), dtype=dtype, device=x.device) for _, size, _ in widths}
            return [[zeros[size]] * count for _, size, _ in widths]
        expected = {}
        for name, size, size_name in widths:
            if unbatched:
                expected[name] = ((count, size), f"(num_layers * num_directions, {size_name})")
            else:
                expected[name] = ((count, batch, size), f"(num_layers * num_directions, batch, {size_name})"
                                  + self._batch_hint())
        states = check_states(owner, state, expected, x, dtype)
        return [mg.unbind(s.expand_dims(1) if unbatched else s, 0) for s in states]

    def _batch_hint(self) -> str:
        """Where the batch size came from, for errors that a batch_first mix-up causes."""
        layout = "(batch, seq_len, input_size)" if self.batch_first else "(seq_len, batch, input_size)"
        return f" (batch_first={self.batch_first}: the input is read as {layout})"

    def _run_layers(self, x: Tensor, time_axis: int, initial: list,
                    masks: LengthMasks | None) -> tuple[Tensor, list]:
        """Every layer and direction, layer by layer: (the last layer's output, the final states of each kind,
        h and for an LSTM c, each a list over layer·direction)."""
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
                    output, final = self._run_direction(layer_input, time_axis, k, suffix, start, masks)
                outputs.append(output)
                for i, s in enumerate(final):
                    finals[i].append(s)
            layer_input = outputs[0] if directions == 1 else mg.concat(outputs, axis=-1)
        return layer_input, finals

    def _run_direction(self, x: Tensor, time_axis: int, k: int, suffix: str, state: tuple,
                       masks: LengthMasks | None) -> tuple[Tensor, tuple]:
        """One layer, one direction, inside its ``l{k}[_reverse]`` scope: (output, final state).

        ``compile=True`` runs :meth:`_direction` through this layer and direction's ``mg.compile``:
        the whole loop over time is one captured program, replayed as one graph node (drawn as
        its ops in their ``t{t}`` scopes, as eager mode records them).
        """
        if masks is None:
            active, step_masks, shortest = x.shape[time_axis], None, 0
        else:
            active, step_masks, shortest = masks.active, masks.step_masks, masks.shortest
        if not self._compile_loops:
            return self._direction(x, time_axis, k, suffix, state, active, step_masks, shortest)
        compiled = self._compiled_directions.get((k, suffix))
        if compiled is None:
            compiled = self._compiled_directions[(k, suffix)] = mg.compile(self._direction)
        # the masks (and so the signature) are eager's: None before the shortest sequence's end. Masking
        # every step would let batches with other shortest lengths share a capture, but the extra
        # zero-gradient consumers change the order in which a state's gradients are summed (GRU: ulps)
        return compiled(x, time_axis, k, suffix, state, active, step_masks, shortest,
                        self._parameters_of(k, suffix))

    def _parameters_of(self, k: int, suffix: str) -> tuple:
        """The current parameters of layer ``k``, direction ``suffix`` (a replaced one included)."""
        end = f"_l{k}{suffix}"
        return tuple(p for name, p in self._parameters.items() if p is not None and name.endswith(end))

    def _direction(self, x: Tensor, time_axis: int, k: int, suffix: str, state: tuple, active: int,
                   step_masks: tuple | None, shortest: int, parameters: tuple = ()) -> tuple[Tensor, tuple]:
        """The loop over time of layer ``k``, direction ``suffix``: (output (T, B, H), final state tuple)
        (output and h: P wide with an LSTM's ``proj_size`` P).

        ``active``: the steps to run (the longest length); ``step_masks``: per step t a (B, 1) bool keep-mask
        (None without lengths), applied from step ``shortest`` on (the shortest sequence's end: before it every
        sequence is still running). Reads no tensor values, so
        ``mg.compile`` can capture it. ``parameters`` (:meth:`_parameters_of`) is not read: passing the
        tensors the loop reads through ``self`` as arguments makes a replay use the module's current
        parameter objects (a parameter replaced after the capture is picked up, not the captured one).
        """
        steps, batch = x.shape[time_axis], x.shape[1 - time_axis]
        weight_ih = self._weight(f"weight_ih_l{k}{suffix}")
        half = is_float16(x, weight_ih)     # float16: PyTorch's rounding (nn/cells.py), decided once per loop
        bias = self._input_bias(k, suffix, half)
        # the input's contribution at every step in one matmul: (T·B, I) @ (I, G·H)
        rows = x.reshape(steps * batch, x.shape[-1])
        # PyTorch's float16 linear rounds x W_ihᵀ + b_ih once, but adds the bias apart (a second rounding)
        # when it reads the input transposed: layer 0 of a batch_first layer (B, T > 1, no lengths)
        if half and not (k == 0 and not x.is_contiguous() and step_masks is None and steps > 1 and batch > 1):
            gates_x = float16_linear(rows, weight_ih.T, bias)
        else:
            gates_x = rows @ weight_ih.T
            if bias is not None:
                gates_x = gates_x + bias
        gates_x = self._per_step(gates_x.reshape(x.shape[0], x.shape[1], gates_x.shape[-1]), time_axis)
        weights = self._step_weights(k, suffix, active > 1, half)

        order = range(active - 1, -1, -1) if suffix else range(active)
        outputs: list[Any] = [None] * steps
        step, name_scope, tag = self._step, mg.name_scope, mg.tag   # looked up once: this loop is the hot path
        for t in order:
            with name_scope(f"t{t}"):
                new = step(gates_x[t], state, weights)
                if step_masks is not None and t >= shortest:
                    # finished sequences keep their state and output zeros
                    new = tuple(mg.where(step_masks[t], n, s) for n, s in zip(new, state))
                    outputs[t] = mg.where(step_masks[t], new[0], 0.0)
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

    # --- what RNN, LSTM and GRU change: the step, its weights, the input projection ---

    def _step(self, gates_x: Tensor, state: tuple, weights: tuple) -> tuple:
        """One time step: (gates_x (B, G·H), state tuple, weights) → new state tuple."""
        raise NotImplementedError

    def _step_weights(self, k: int, suffix: str, loop: bool, half: bool) -> tuple:
        """What :meth:`_step` takes as ``weights`` for layer ``k``, direction ``suffix``, made once per loop.

        Here (RNN): (W_hhᵀ, None, half): b_hh joins b_ih in the input projection (:meth:`_input_bias`),
        except in float16 (``half``): (W_hhᵀ, b_hh, True). GRU: (W_hhᵀ, b_hh, half); LSTM: (W_hhᵀ,
        W_hrᵀ or None, peepholes or None, b_hh in float16 else None, half). ``loop``: several steps
        will run, so W_hhᵀ comes as a :func:`~nn.cells.loop_weight` pair.
        """
        return self._transposed(f"weight_hh_l{k}{suffix}", loop), self._step_bias(k, suffix, half), half

    def _per_step(self, gates_x: Tensor, time_axis: int) -> list:
        """The input projection (T, B, G·H) (or (B, T, G·H)) cut into what each step takes: (B, G·H) per step."""
        return mg.unbind(gates_x, time_axis)

    def _input_bias(self, k: int, suffix: str, half: bool) -> Tensor | None:
        """The bias added to the input projection: b_ih + b_hh (both act outside the step's nonlinearity);
        b_ih alone in float16 (``half``), where PyTorch rounds h W_hhᵀ + b_hh on its own (:meth:`_step_bias`)."""
        if not self.bias:
            return None
        if half:
            return self._weight(f"bias_ih_l{k}{suffix}")
        return self._weight(f"bias_ih_l{k}{suffix}") + self._weight(f"bias_hh_l{k}{suffix}")

    def _step_bias(self, k: int, suffix: str, half: bool) -> Tensor | None:
        """The bias the step adds to h W_hhᵀ: b_hh in float16 (``half``), else None (:meth:`_input_bias`)."""
        return self._weight(f"bias_hh_l{k}{suffix}") if self.bias and half else None

    def _transposed(self, name: str, loop: bool) -> Tensor | tuple:
        """Parameter ``name`` transposed; for a loop of several steps a ``loop_weight`` pair, whose row-major
        copy makes each step's product faster for the price of one copy."""
        weight = self._weight(name)
        return loop_weight(weight) if loop else weight.T

    def _weight(self, name: str) -> Tensor:
        """The weight ``name`` as an attribute: a parameter, or the tensor a parametrization (``nn.utils.
        parametrize``, weight norm) computes from its own parameters. A weight set to None is PyTorch's
        TypeError (a GRU would otherwise run without it)."""
        weight = getattr(self, name)
        if weight is None:
            raise TypeError(f"{type(self).__name__}: {name} is None, expected a Tensor (PyTorch's layers read every "
                            f"weight they registered; build the layer with bias=False for one without biases)")
        if name not in self._parameters:   # computed by a parametrization: forward's dtype check saw its original
            check_weight_dtypes(type(self).__name__, self._dtype_weight(), ((name, weight),))
        return weight

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            text += f", proj_size={self.proj_size}"
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
        if self._compile_loops:
            text += ", compile=True"
        return text


# PyTorch's name for the sequence layers' base class (isinstance(m, nn.RNNBase) in weight-init code)
RNNBase = _Recurrent


class RNN(_Recurrent):
    """Elman RNN over a sequence, stacked and optionally bidirectional; each step is
    h_t = act(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh) (see :class:`~nn.cells.RNNCell`).

    Parameters ``weight_ih_l{k}[_reverse]`` (H, I) for k = 0 ((H, D·H) above), ``weight_hh_l{k}`` (H, H),
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` (H,). ``compile=True`` replays each direction's loop over time
    as one node (module docstring). See :meth:`forward` for shapes. The positional parameters are
    PyTorch's, in its order (``nonlinearity`` 4th, before ``bias``). ``proj_size`` is LSTM-only: giving
    it at all raises ValueError, as in PyTorch.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 *, compile: bool = False, device: Any = None, dtype: Any = None,
                 proj_size: int | None = None) -> None:
        refuse_proj_size("RNN", proj_size)
        nonlinearity = check_nonlinearity("RNN", nonlinearity)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, 1,
                         device, dtype, compile)
        self.nonlinearity = nonlinearity

    @property
    def mode(self) -> str:
        """PyTorch's name of the layer's kind: 'RNN_TANH' or 'RNN_RELU'."""
        return f"RNN_{self.nonlinearity.upper()}"

    def _step(self, gates_x: Tensor, state: tuple, weights: tuple) -> tuple:
        weight_hh_t, bias_hh, half = weights
        return (rnn_step(gates_x, state[0], weight_hh_t, bias_hh, self.nonlinearity, half),)


class LSTM(_Recurrent):
    """LSTM over a sequence, stacked and optionally bidirectional; each step is :class:`~nn.cells.LSTMCell`'s.

    The positional parameters are PyTorch's, in its order (``proj_size`` 8th, then ``device``,
    ``dtype``); this library's options ``peephole``, ``coupled``, ``fused``, ``compile`` are
    keyword-only.

    Parameters ``weight_ih_l{k}[_reverse]`` (4H, I) ((4H, D·H) above layer 0), ``weight_hh_l{k}``
    (4H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}`` (4H,), gate order i, f, g, o. ``proj_size=P`` > 0
    (LSTM with projections, Sak et al. 2014, as PyTorch) adds ``weight_hr_l{k}`` (P, H) after each
    layer and direction's biases: h_t = (o_t * tanh(c_t)) W_hrᵀ, so h is P wide, ``weight_hh_l{k}``
    is (4H, P), layers above 0 read D·P features, the output is (T, B, D·P) and h_n
    (D·num_layers, B, P), while c keeps H.

    Variants (not in PyTorch): ``peephole=True`` adds ``weight_ci_l{k}``, ``weight_cf_l{k}``,
    ``weight_co_l{k}`` (H,) after all of PyTorch's parameters; ``coupled=True`` drops the input
    gate (rows f, g, o: 3H; no ``weight_ci``). ``fused=True`` computes each step's gates with one
    op (not with peephole or coupled). ``proj_size`` composes with each of them: the peepholes
    see the cell (H wide), and the projection is an ordinary matmul after the gates, fused or not.
    ``compile=True`` replays each direction's loop over time as one node (module docstring).
    The state is a tuple (h, c).
    """

    n_states = 2
    mode = "LSTM"          # PyTorch's name of the layer's kind

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device: Any = None, dtype: Any = None, *, peephole: bool = False,
                 coupled: bool = False, fused: bool = False, compile: bool = False) -> None:
        check_cell_flags("LSTM", peephole=peephole, coupled=coupled, fused=fused)
        check_lstm_options("LSTM", peephole, coupled, fused)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         3 if coupled else 4, device, dtype, compile, proj_size)
        self.peephole, self.coupled, self.fused = bool(peephole), bool(coupled), bool(fused)
        if peephole:
            for k in range(num_layers):
                for suffix in self._suffixes:
                    add_parameters(self, f"_l{k}{suffix}", peephole_shapes(hidden_size, coupled), device, dtype)

    def get_expected_cell_size(self, input: Tensor, batch_sizes: Tensor | None) -> tuple[int, int, int]:  # noqa: A002
        """c0's shape for ``input``: (D·num_layers, B, H), H even with ``proj_size``."""
        return self._expected_state_size(input, batch_sizes, self.hidden_size)

    def check_forward_args(self, input: Tensor, hidden: tuple[Tensor, Tensor],  # noqa: A002
                           batch_sizes: Tensor | None) -> None:
        """:meth:`check_input`, then the shapes of (h0, c0) for that input."""
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden[0], self.get_expected_hidden_size(input, batch_sizes),
                               "Expected hidden[0] size {}, got {}")
        self.check_hidden_size(hidden[1], self.get_expected_cell_size(input, batch_sizes),
                               "Expected hidden[1] size {}, got {}")

    def permute_hidden(self, hx: tuple[Tensor, Tensor], permutation: Tensor | None) -> tuple[Tensor, Tensor]:
        """(h, c), each with its batch axis reordered by ``permutation`` (None leaves them as they are)."""
        if permutation is None:
            return hx
        return hx[0].index_select(1, permutation), hx[1].index_select(1, permutation)

    def _step_weights(self, k: int, suffix: str, loop: bool, half: bool) -> tuple:
        """(W_hhᵀ, W_hrᵀ or None, (w_ci, w_cf, w_co) or None, b_hh or None, half) for layer ``k``, direction
        ``suffix`` (b_hh in float16 only: :meth:`_step_bias`)."""
        end = f"_l{k}{suffix}"
        weight_hr_t = self._transposed(f"weight_hr{end}", loop) if self.proj_size else None
        peepholes = None
        if self.peephole:                  # w_ci is None when coupled
            peepholes = tuple(getattr(self, f"{n}{end}", None) for n in ("weight_ci", "weight_cf", "weight_co"))
        return self._transposed(f"weight_hh{end}", loop), weight_hr_t, peepholes, self._step_bias(k, suffix, half), half

    def _step(self, gates_x: Tensor, state: tuple, weights: tuple) -> tuple:
        weight_hh_t, weight_hr_t, peepholes, bias_hh, half = weights
        h, c = state
        return lstm_step(gates_x, h, c, weight_hh_t, bias_hh, peepholes, self.coupled, self.fused, weight_hr_t,
                         half)

    def extra_repr(self) -> str:
        return super().extra_repr() + lstm_options_repr(self)


class GRU(_Recurrent):
    """GRU over a sequence, stacked and optionally bidirectional; each step is :class:`~nn.cells.GRUCell`'s.

    Parameters ``weight_ih_l{k}[_reverse]`` (3H, I) ((3H, D·H) above layer 0), ``weight_hh_l{k}``
    (3H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}`` (3H,), gate order r, z, n. ``fused=True`` computes
    each step's gates with one op; ``compile=True`` replays each direction's loop over time as one
    node (module docstring). ``proj_size`` is LSTM-only: giving it at all raises ValueError, as in PyTorch.
    """

    mode = "GRU"           # PyTorch's name of the layer's kind

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 *, fused: bool = False, compile: bool = False, device: Any = None, dtype: Any = None,
                 proj_size: int | None = None) -> None:
        refuse_proj_size("GRU", proj_size)
        check_cell_flags("GRU", fused=fused)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, 3,
                         device, dtype, compile)
        self.fused = bool(fused)

    def _per_step(self, gates_x: Tensor, time_axis: int) -> list:
        # the step splits its input's columns into (r, z) and n: split all steps' at once, a node fewer per step
        if self.fused:
            return super()._per_step(gates_x, time_axis)
        hidden = gates_x.shape[-1] // 3
        x_rz, x_n = gates_x.split([2 * hidden, hidden], dim=-1)
        return list(zip(mg.unbind(x_rz, time_axis), mg.unbind(x_n, time_axis)))

    def _input_bias(self, k: int, suffix: str, half: bool) -> Tensor | None:
        # b_hn sits inside r * (h W_hnᵀ + b_hn), so b_hh stays in the step
        return self._weight(f"bias_ih_l{k}{suffix}") if self.bias else None

    def _step_weights(self, k: int, suffix: str, loop: bool, half: bool) -> tuple:
        bias_hh = self._weight(f"bias_hh_l{k}{suffix}") if self.bias else None
        return self._transposed(f"weight_hh_l{k}{suffix}", loop), bias_hh, half

    def _step(self, gates_x: Tensor, state: tuple, weights: tuple) -> tuple:
        weight_hh_t, bias_hh, half = weights
        return (gru_step(gates_x, state[0], weight_hh_t, bias_hh, self.fused, half),)

    def extra_repr(self) -> str:
        return super().extra_repr() + (", fused=True" if self.fused else "")
