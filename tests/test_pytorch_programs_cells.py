"""Three programs built on recurrent cells written by hand, run unchanged on minigrad: only the import lines differ.

minigrad exists for recurrent models whose unrolled graph can be drawn; these programs write their own cells
and loops over time instead of calling ``nn.LSTM``. Each is our own rewrite of a well-known public PyTorch
program: it keeps the original's PyTorch calls and habits in the same roles, with our own names, structure and
comments, a small model, a few steps and generated data (the helpers and the rule come from
tests/test_pytorch_programs.py):

* ``CONV_LSTM`` mirrors ndrplz/ConvLSTM_pytorch (https://github.com/ndrplz/ConvLSTM_pytorch): a ``ConvLSTMCell``
  whose one ``nn.Conv2d(in + hidden, 4 * hidden, kernel, padding=kernel // 2, bias=bias)`` reads
  ``torch.cat([input_tensor, h_cur], dim=1)``, gates cut with ``torch.split(combined_conv, hidden_dim, dim=1)``,
  ``init_hidden`` with ``torch.zeros(..., device=self.conv.weight.device)``, a multi-layer ``ConvLSTM`` with
  ``batch_first`` (``permute(1, 0, 2, 3, 4)``), ``return_all_layers`` and per-layer sizes, looping over
  ``seq_len`` into ``torch.stack(output_inner, dim=1)``; trained for next-frame prediction (``MSELoss``, Adam)
  on a generated moving square;
* ``HAND_WRITTEN_CELLS`` gathers the hand-written cells of pytorch/benchmarks' ``custom_lstms.py`` (a
  layer-normalised LSTM: ``nn.LayerNorm(4 * H)`` on the input and hidden gate pre-activations, ``nn.LayerNorm(H)``
  on c, ``gates.chunk(4, 1)``), a peephole LSTM (Gers & Schmidhuber) and a GRU-D cell (Che et al., "Recurrent
  Neural Networks for Multivariate Time Series with Missing Values": trainable exponential decays of the last
  observation and of h), each unrolled in a Python loop over a ``pad_sequence``-padded batch of the adding
  problem, lengths handled with masks (``h = torch.where(mask_t.unsqueeze(1), h_new, h)``); and truncated BPTT
  over one long stream with ``h.detach()`` in the word-language-model example's ``repackage_hidden`` recursion
  over tuples;
* ``POINTER_NETWORK`` is a pointer network (Vinyals et al., 2015) that learns to sort short number sequences:
  an ``nn.LSTM`` encoder, an ``nn.LSTMCell`` decoder, additive attention
  ``self.v(torch.tanh(self.W1(enc) + self.W2(dec).unsqueeze(1))).squeeze(-1)``, chosen positions masked with
  ``masked_fill(mask, float('-inf'))``, ``log_softmax`` + ``nll_loss`` on teacher-forced pointers, the chosen
  input fed back with ``torch.gather(enc, 1, idx.unsqueeze(-1).expand(-1, -1, H))``, the mask updated with
  ``scatter(1, idx, True)``, greedy decoding with ``argmax``.

Each program also runs on minigrad with its cells' (or its model's) ``forward`` wrapped in ``mg.compile``, set
from the test so that the source stays the same: the compiled run must equal minigrad's eager run bit for bit.
One unrolled step graph is drawn with ``mg.viz.draw`` and its DOT structure checked: a torch program cannot name
its loop's steps, so the test opens a ``t{k}`` name scope around each cell call (without it, all the calls of one
cell share the cell's cluster).

What the programs found: ``mask.scatter(1, idx, True)`` was refused (a Python bool was not taken as a number;
fixed in ``ops/index.py`` and, for ``reduce=``, ``ops/index_write.py``). Compiling each cell's step on its own
(one node per call) is not bit-identical to eager when a weight reaches its op through another op inside the call
(a conv's ``weight.reshape``): the per-call gradients are summed in another order than eager's walk sums them
(``test_per_step_compile_sums_a_shared_weights_gradient_in_eagers_order``, an expected failure); compiling the
whole loop is bit-identical.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import MINIGRAD_IMPORTS, TORCH_IMPORTS, _copy_weights, _program

TORCH_IMPORTS_CELLS = TORCH_IMPORTS + """\
from torch.nn.utils.rnn import pad_sequence
"""

MINIGRAD_IMPORTS_CELLS = MINIGRAD_IMPORTS + """\
from minigrad.nn.utils.rnn import pad_sequence
"""


CONV_LSTM = '''
class ConvLSTMCell(nn.Module):
    """One ConvLSTM step on feature maps: input (B, C_in, H, W) and state (h, c), each (B, C_hidden, H, W).

    The input and h, stacked on channels, pass one convolution that gives the four gates' pre-activations.
    """

    def __init__(self, input_dim, hidden_dim, kernel_size, bias):
        super(ConvLSTMCell, self).__init__()
        self.input_dim = input_dim
        self.hidden_dim = hidden_dim
        self.kernel_size = kernel_size
        self.padding = kernel_size[0] // 2, kernel_size[1] // 2   # 'same' maps for odd kernels
        self.bias = bias
        self.conv = nn.Conv2d(in_channels=self.input_dim + self.hidden_dim,
                              out_channels=4 * self.hidden_dim,
                              kernel_size=self.kernel_size,
                              padding=self.padding,
                              bias=self.bias)

    def forward(self, input_tensor, cur_state):
        h_cur, c_cur = cur_state
        combined = torch.cat([input_tensor, h_cur], dim=1)
        combined_conv = self.conv(combined)
        cc_i, cc_f, cc_o, cc_g = torch.split(combined_conv, self.hidden_dim, dim=1)
        i = torch.sigmoid(cc_i)
        f = torch.sigmoid(cc_f)
        o = torch.sigmoid(cc_o)
        g = torch.tanh(cc_g)
        c_next = f * c_cur + i * g
        h_next = o * torch.tanh(c_next)
        return h_next, c_next

    def init_hidden(self, batch_size, image_size):
        height, width = image_size
        return (torch.zeros(batch_size, self.hidden_dim, height, width, device=self.conv.weight.device),
                torch.zeros(batch_size, self.hidden_dim, height, width, device=self.conv.weight.device))


class ConvLSTM(nn.Module):
    """A stack of ConvLSTM cells run over time.

    input: (B, T, C, H, W) if batch_first else (T, B, C, H, W). Returns (layer_outputs, last_states): for the
    last layer only, or every layer with return_all_layers; each output (B, T, C_hidden, H, W), each state [h, c].
    """

    def __init__(self, input_dim, hidden_dim, kernel_size, num_layers,
                 batch_first=False, bias=True, return_all_layers=False):
        super(ConvLSTM, self).__init__()
        self._check_kernel_size_consistency(kernel_size)
        kernel_size = self._extend_for_multilayer(kernel_size, num_layers)   # one entry per layer
        hidden_dim = self._extend_for_multilayer(hidden_dim, num_layers)
        if not len(kernel_size) == len(hidden_dim) == num_layers:
            raise ValueError('Inconsistent list length.')
        self.input_dim = input_dim
        self.hidden_dim = hidden_dim
        self.kernel_size = kernel_size
        self.num_layers = num_layers
        self.batch_first = batch_first
        self.bias = bias
        self.return_all_layers = return_all_layers
        cell_list = []
        for i in range(0, self.num_layers):
            cur_input_dim = self.input_dim if i == 0 else self.hidden_dim[i - 1]
            cell_list.append(ConvLSTMCell(input_dim=cur_input_dim, hidden_dim=self.hidden_dim[i],
                                          kernel_size=self.kernel_size[i], bias=self.bias))
        self.cell_list = nn.ModuleList(cell_list)

    def forward(self, input_tensor, hidden_state=None):
        if not self.batch_first:
            input_tensor = input_tensor.permute(1, 0, 2, 3, 4)   # (T, B, C, H, W) -> (B, T, C, H, W)
        b, _, _, height, width = input_tensor.size()
        if hidden_state is not None:
            raise NotImplementedError('a given initial state is not supported')
        hidden_state = self._init_hidden(batch_size=b, image_size=(height, width))
        layer_output_list = []
        last_state_list = []
        seq_len = input_tensor.size(1)
        cur_layer_input = input_tensor
        for layer_idx in range(self.num_layers):
            h, c = hidden_state[layer_idx]
            output_inner = []
            for t in range(seq_len):
                h, c = self.cell_list[layer_idx](input_tensor=cur_layer_input[:, t, :, :, :], cur_state=[h, c])
                output_inner.append(h)
            layer_output = torch.stack(output_inner, dim=1)
            cur_layer_input = layer_output
            layer_output_list.append(layer_output)
            last_state_list.append([h, c])
        if not self.return_all_layers:
            layer_output_list = layer_output_list[-1:]
            last_state_list = last_state_list[-1:]
        return layer_output_list, last_state_list

    def _init_hidden(self, batch_size, image_size):
        init_states = []
        for i in range(self.num_layers):
            init_states.append(self.cell_list[i].init_hidden(batch_size, image_size))
        return init_states

    @staticmethod
    def _check_kernel_size_consistency(kernel_size):
        if not (isinstance(kernel_size, tuple) or
                (isinstance(kernel_size, list) and all([isinstance(elem, tuple) for elem in kernel_size]))):
            raise ValueError('`kernel_size` must be tuple or list of tuples')

    @staticmethod
    def _extend_for_multilayer(param, num_layers):
        if not isinstance(param, list):
            param = [param] * num_layers
        return param


class NextFramePredictor(nn.Module):
    """Frames (B, T, 1, H, W) -> the predicted next frames (B, T, 1, H, W), intensities in (0, 1)."""

    def __init__(self, hidden_dims=(5, 3)):
        super().__init__()
        self.convlstm = ConvLSTM(1, list(hidden_dims), [(3, 3), (1, 1)], len(hidden_dims),
                                 batch_first=True, return_all_layers=True)
        self.head = nn.Conv2d(hidden_dims[-1], 1, kernel_size=1)

    def forward(self, frames):
        layer_outputs, _ = self.convlstm(frames)
        top = layer_outputs[-1]
        b, t, c, height, width = top.shape
        return torch.sigmoid(self.head(top.reshape(b * t, c, height, width))).view(b, t, 1, height, width)


def make_model():
    return NextFramePredictor()


def train(model, clips, steps, lr=0.02):
    """clips: (B, T + 1, H, W) array; each step predicts frames 1..T from frames 0..T-1."""
    frames = torch.from_numpy(clips).unsqueeze(2)
    inputs, targets = frames[:, :-1], frames[:, 1:]
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    criterion = nn.MSELoss()
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = criterion(model(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def layer_outputs(model, clips):
    """What ConvLSTM returns for every layer, fed time-major (batch_first=False) through a twin of the stack."""
    frames = torch.from_numpy(clips).unsqueeze(2)
    time_major = ConvLSTM(1, model.convlstm.hidden_dim, model.convlstm.kernel_size, model.convlstm.num_layers,
                          batch_first=False, return_all_layers=False)
    time_major.load_state_dict(model.convlstm.state_dict())
    with torch.no_grad():
        outputs, states = model.convlstm(frames)
        last_only, last_state = time_major(frames.transpose(0, 1))
    return ([o.numpy() for o in outputs], [[h.numpy(), c.numpy()] for h, c in states],
            [o.numpy() for o in last_only], [[h.numpy(), c.numpy()] for h, c in last_state])
'''


HAND_WRITTEN_CELLS = '''
class LayerNormLSTMCell(nn.Module):
    """An LSTM step with layer norm on both gate pre-activations (4H each) and on the new cell (H).

    x: (B, I), state (h, c): (B, H) each -> (h, c).
    """

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.randn(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.randn(4 * hidden_size, hidden_size))
        self.layernorm_i = nn.LayerNorm(4 * hidden_size)
        self.layernorm_h = nn.LayerNorm(4 * hidden_size)
        self.layernorm_c = nn.LayerNorm(hidden_size)

    def forward(self, input, state):
        hx, cx = state
        igates = self.layernorm_i(torch.mm(input, self.weight_ih.t()))
        hgates = self.layernorm_h(torch.mm(hx, self.weight_hh.t()))
        gates = igates + hgates
        ingate, forgetgate, cellgate, outgate = gates.chunk(4, 1)
        ingate = torch.sigmoid(ingate)
        forgetgate = torch.sigmoid(forgetgate)
        cellgate = torch.tanh(cellgate)
        outgate = torch.sigmoid(outgate)
        cy = self.layernorm_c((forgetgate * cx) + (ingate * cellgate))
        hy = outgate * torch.tanh(cy)
        return hy, cy

    def initial_state(self, inputs):
        zeros = inputs.new_zeros(inputs.size(0), self.hidden_size)
        return zeros, zeros


class PeepholeLSTMCell(nn.Module):
    """An LSTM step whose gates also see the cell: i and f the old c, o the new one (diagonal weights, (H,))."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.x2h = nn.Linear(input_size, 4 * hidden_size)
        self.h2h = nn.Linear(hidden_size, 4 * hidden_size, bias=False)
        self.peep_i = nn.Parameter(torch.zeros(hidden_size))
        self.peep_f = nn.Parameter(torch.zeros(hidden_size))
        self.peep_o = nn.Parameter(torch.zeros(hidden_size))
        bound = 1.0 / math.sqrt(hidden_size)
        for p in (self.peep_i, self.peep_f, self.peep_o):
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x, state):
        h, c = state
        gates = self.x2h(x) + self.h2h(h)
        i, f, g, o = gates.chunk(4, 1)
        i = torch.sigmoid(i + self.peep_i * c)
        f = torch.sigmoid(f + self.peep_f * c)
        c_new = f * c + i * torch.tanh(g)
        o = torch.sigmoid(o + self.peep_o * c_new)
        return o * torch.tanh(c_new), c_new

    def initial_state(self, inputs):
        zeros = inputs.new_zeros(inputs.size(0), self.hidden_size)
        return zeros, zeros


class GRUDCell(nn.Module):
    """A GRU-D step: inputs (B, 3 * D) hold the values x, the observed mask m and the time since the last
    observation delta. A missing value decays from the last observation towards the feature mean, h decays
    with delta, then a GRU step reads [x_hat, h_hat, m]. State (h (B, H), x_last (B, D))."""

    def __init__(self, input_size, hidden_size, x_mean):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.register_buffer('x_mean', x_mean)
        self.decay_x = nn.Parameter(torch.full((input_size,), 0.1))   # diagonal, as in the paper
        self.decay_x_bias = nn.Parameter(torch.zeros(input_size))
        self.decay_h = nn.Linear(input_size, hidden_size)
        self.gates = nn.Linear(2 * input_size + hidden_size, 2 * hidden_size)
        self.candidate = nn.Linear(2 * input_size + hidden_size, hidden_size)

    def forward(self, inputs, state):
        h, x_last = state
        x, m, delta = inputs.split(self.input_size, dim=1)
        gamma_x = torch.exp(-F.relu(self.decay_x * delta + self.decay_x_bias))
        gamma_h = torch.exp(-F.relu(self.decay_h(delta)))
        x_hat = m * x + (1 - m) * (gamma_x * x_last + (1 - gamma_x) * self.x_mean)
        h = gamma_h * h
        r, z = torch.sigmoid(self.gates(torch.cat([x_hat, h, m], 1))).chunk(2, 1)
        n = torch.tanh(self.candidate(torch.cat([x_hat, r * h, m], 1)))
        h_new = (1 - z) * n + z * h
        return h_new, m * x + (1 - m) * x_last

    def initial_state(self, inputs):
        batch = inputs.size(0)
        return inputs.new_zeros(batch, self.hidden_size), self.x_mean.expand(batch, -1).clone()


def make_cell(kind, input_size, hidden_size, x_mean=None):
    if kind == 'layernorm':
        return LayerNormLSTMCell(input_size, hidden_size)
    if kind == 'peephole':
        return PeepholeLSTMCell(input_size, hidden_size)
    return GRUDCell(input_size, hidden_size, torch.as_tensor(x_mean, dtype=torch.float32))


class MaskedRecurrentRegressor(nn.Module):
    """Runs a cell over a padded batch (B, T, F), keeping each row's state once its sequence has ended;
    a linear read-out of the last real h gives one number per row."""

    def __init__(self, cell):
        super().__init__()
        self.cell = cell
        self.readout = nn.Linear(cell.hidden_size, 1)

    def forward(self, padded, lengths, state=None):
        steps = padded.size(1)
        mask = torch.arange(steps, device=padded.device).unsqueeze(0) < lengths.unsqueeze(1)   # (B, T)
        if state is None:
            state = self.cell.initial_state(padded[:, 0])
        for t in range(steps):
            mask_t = mask[:, t]
            new_state = self.cell(padded[:, t], state)
            state = tuple(torch.where(mask_t.unsqueeze(1), new, old) for new, old in zip(new_state, state))
        return self.readout(state[0]).squeeze(1), state


def make_model(kind, input_size=2, hidden_size=6, x_mean=None):
    return MaskedRecurrentRegressor(make_cell(kind, input_size, hidden_size, x_mean))


def train(model, sequences, targets, steps, lr=0.01, batch_size=4):
    """sequences: a list of (L_i, F) arrays; the adding problem's targets (N,)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for step in range(steps):
        start = (step * batch_size) % len(sequences)
        rows = sequences[start:start + batch_size]
        padded = pad_sequence([torch.from_numpy(s) for s in rows], batch_first=True)
        lengths = torch.tensor([len(s) for s in rows])
        target = torch.from_numpy(targets[start:start + batch_size])
        prediction, _ = model(padded, lengths)
        loss = F.mse_loss(prediction, target)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    return losses


def repackage_hidden(h):
    """Wraps hidden states in new Tensors, to detach them from their history."""
    if isinstance(h, torch.Tensor):
        return h.detach()
    else:
        return tuple(repackage_hidden(v) for v in h)


def train_truncated(model, stream, running_sums, bptt, lr=0.01):
    """One long (B, T, F) stream read in windows of bptt steps, the state carried over but detached; the
    target after each window is the running sum of the marked values so far ((B, T) array)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    stream = torch.from_numpy(stream)
    batch, total, _ = stream.shape
    hidden = None
    losses = []
    for start in range(0, total, bptt):
        if hidden is not None:
            hidden = repackage_hidden(hidden)
        window = stream[:, start:start + bptt]
        target = torch.from_numpy(running_sums[:, start + window.size(1) - 1])
        lengths = torch.full((batch,), window.size(1), dtype=torch.long)
        prediction, hidden = model(window, lengths, hidden)
        loss = F.mse_loss(prediction, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, [s.detach().numpy() for s in hidden]
'''


POINTER_NETWORK = '''
class PointerNetwork(nn.Module):
    """Reads a sequence of numbers (B, N) and points, step by step, at its positions in sorted order.

    forward(values, targets=None) -> log-probabilities over the positions (B, N, N) and the chosen
    positions (B, N): teacher-forced with targets, greedy (argmax) without.
    """

    def __init__(self, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.embedding = nn.Linear(1, hidden_size)
        self.encoder = nn.LSTM(hidden_size, hidden_size, batch_first=True)
        self.decoder = nn.LSTMCell(hidden_size, hidden_size)
        self.W1 = nn.Linear(hidden_size, hidden_size, bias=False)
        self.W2 = nn.Linear(hidden_size, hidden_size, bias=False)
        self.v = nn.Linear(hidden_size, 1, bias=False)
        self.go = nn.Parameter(torch.zeros(hidden_size))   # the first decoder input

    def forward(self, values, targets=None):
        batch, n = values.shape
        H = self.hidden_size
        embedded = self.embedding(values.unsqueeze(-1))        # (B, N, H)
        enc, (h_n, c_n) = self.encoder(embedded)               # (B, N, H)
        dec, cell = h_n[-1], c_n[-1]
        dec_input = self.go.unsqueeze(0).expand(batch, -1)
        mask = torch.zeros(batch, n, dtype=torch.bool, device=values.device)
        log_probs, pointers = [], []
        for step in range(n):
            dec, cell = self.decoder(dec_input, (dec, cell))
            scores = self.v(torch.tanh(self.W1(enc) + self.W2(dec).unsqueeze(1))).squeeze(-1)   # (B, N)
            scores = scores.masked_fill(mask, float('-inf'))   # a position is pointed at once
            log_p = F.log_softmax(scores, dim=-1)
            idx = targets[:, step] if targets is not None else log_p.argmax(dim=-1)
            log_probs.append(log_p)
            pointers.append(idx)
            mask = mask.scatter(1, idx.unsqueeze(1), True)
            idx = idx.unsqueeze(1)                               # (B, 1)
            dec_input = torch.gather(embedded, 1, idx.unsqueeze(-1).expand(-1, -1, H)).squeeze(1)
        return torch.stack(log_probs, dim=1), torch.stack(pointers, dim=1)


def make_model(hidden_size=8):
    return PointerNetwork(hidden_size)


def sort_targets(values):
    return torch.argsort(values, dim=1)


def train(model, values, steps, lr=0.02, batch_size=6):
    values = torch.from_numpy(values)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for step in range(steps):
        start = (step * batch_size) % values.size(0)
        batch = values[start:start + batch_size]
        targets = sort_targets(batch)
        log_probs, _ = model(batch, targets)
        n = batch.size(1)
        loss = F.nll_loss(log_probs.reshape(-1, n), targets.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@torch.no_grad()
def evaluate(model, values):
    values = torch.from_numpy(values)
    model.eval()
    log_probs, pointers = model(values)
    model.train()
    exact = (pointers == sort_targets(values)).all(dim=1).float().mean().item()
    return pointers.tolist(), log_probs.exp().numpy(), exact
'''

PROGRAMS = (CONV_LSTM, HAND_WRITTEN_CELLS, POINTER_NETWORK)


# --- generated data ----------------------------------------------------------------------------------------

def _moving_squares(rng: np.random.Generator, clips: int = 2, frames: int = 5, size: int = 6) -> np.ndarray:
    """(clips, frames, size, size) float32: a 2x2 square bouncing off the borders, one pixel a frame."""
    out = np.zeros((clips, frames, size, size), np.float32)
    for clip in range(clips):
        row, col = rng.integers(0, size - 2, 2)
        d_row, d_col = rng.choice([-1, 1], 2)
        for frame in range(frames):
            out[clip, frame, row:row + 2, col:col + 2] = 1.0
            if not 0 <= row + d_row <= size - 2:
                d_row = -d_row
            if not 0 <= col + d_col <= size - 2:
                d_col = -d_col
            row, col = row + d_row, col + d_col
    return out


def _adding_problem(rng: np.random.Generator, count: int, dtype: Any = np.float32) -> tuple:
    """``count`` sequences of 3 to 6 steps (value, marker); the target is the sum of the two marked values."""
    sequences, targets = [], []
    for _ in range(count):
        length = int(rng.integers(3, 7))
        values, markers = rng.random(length), np.zeros(length)
        markers[rng.choice(length, 2, replace=False)] = 1.0
        sequences.append(np.stack([values, markers], 1).astype(dtype))
        targets.append(values @ markers)
    return sequences, np.array(targets, dtype)


def _with_missing_values(rng: np.random.Generator, sequences: list) -> list:
    """GRU-D's inputs (L, 6): values with ~30% of the first feature missing (zeroed), the observed mask, and
    the steps since each feature was last observed."""
    out = []
    for seq in sequences:
        observed = np.ones_like(seq)
        observed[:, 0] = rng.random(len(seq)) < 0.7
        delta = np.zeros_like(seq)
        for t in range(1, len(seq)):
            delta[t] = np.where(observed[t - 1] > 0, 1.0, delta[t - 1] + 1.0)
        out.append(np.concatenate([seq * observed, observed, delta], 1))
    return out


# --- helpers -----------------------------------------------------------------------------------------------

def _three_models(source: str, *args: Any, **kwargs: Any) -> tuple:
    """(torch program, torch model, minigrad program, eager model, model to compile, initial weights): the
    three models start from the torch model's weights."""
    torch_program = _program(source, TORCH_IMPORTS_CELLS)
    mg_program = _program(source, MINIGRAD_IMPORTS_CELLS)
    torch_program["torch"].manual_seed(0)
    torch_model = torch_program["make_model"](*args, **kwargs)
    initial = _copy_weights(torch_model, mg_program)
    eager, compiled = mg_program["make_model"](*args, **kwargs), mg_program["make_model"](*args, **kwargs)
    eager.load_state_dict(initial)
    compiled.load_state_dict(initial)
    return torch_program, torch_model, mg_program, eager, compiled, initial


def _compile_forward(module: Any) -> Any:
    """``module.forward`` replaced, on this instance only, by its ``mg.compile``d self (the source is unchanged)."""
    import minigrad as mg  # noqa: PLC0415

    module.forward = mg.compile(module.forward)
    return module.forward


def _assert_replayed(compiled: Any) -> None:
    """The compiled forward was captured and replayed: no signature fell back to eager."""
    assert compiled.programs and not compiled.eager, compiled.eager


def _weights(model: Any) -> dict:
    return {k: v.detach().numpy() for k, v in model.state_dict().items()}


def _assert_same_bits(eager: Any, compiled: Any) -> None:
    ours, theirs = _weights(eager), _weights(compiled)
    assert ours.keys() == theirs.keys()
    for name in ours:
        np.testing.assert_array_equal(theirs[name], ours[name], err_msg=name)


def _assert_close_weights(torch_model: Any, mg_model: Any, initial: dict, rtol: float = 1e-4,
                          atol: float = 1e-5) -> None:
    ours, theirs = _weights(mg_model), _weights(torch_model)
    assert ours.keys() == theirs.keys()
    for name in ours:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=rtol, atol=atol, err_msg=name)
    assert any(not np.array_equal(ours[k], initial[k].numpy()) for k in ours)


# --- the tests ---------------------------------------------------------------------------------------------

def test_the_programs_differ_only_in_their_imports() -> None:
    assert TORCH_IMPORTS_CELLS.count("\n") == MINIGRAD_IMPORTS_CELLS.count("\n") == 6
    assert TORCH_IMPORTS_CELLS.splitlines()[5].replace("torch", "minigrad") == MINIGRAD_IMPORTS_CELLS.splitlines()[5]
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


def test_conv_lstm_next_frame_prediction_eager_and_compiled(torch: Any) -> None:
    """The ConvLSTM stack trains as torch's; with its loop over layers and time compiled, bit for bit as eager."""
    clips = _moving_squares(np.random.default_rng(0))
    torch_program, torch_model, mg_program, eager, compiled, initial = _three_models(CONV_LSTM)
    forward = _compile_forward(compiled.convlstm)
    expected = torch_program["train"](torch_model, clips, 4)
    losses = mg_program["train"](eager, clips, 4)
    np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-6)
    _assert_close_weights(torch_model, eager, initial)
    assert mg_program["train"](compiled, clips, 4) == losses
    _assert_replayed(forward)
    _assert_same_bits(eager, compiled)
    # return_all_layers gives every layer's outputs and [h, c]; a time-major twin (batch_first=False, last layer)
    theirs = torch_program["layer_outputs"](torch_model, clips)
    ours = mg_program["layer_outputs"](eager, clips)
    assert [o.shape for o in ours[0]] == [o.shape for o in theirs[0]] == [(2, 5, 5, 6, 6), (2, 5, 3, 6, 6)]
    assert len(ours[2]) == len(ours[3]) == 1
    np.testing.assert_array_equal(ours[2][0], ours[0][-1])
    for mine, reference in zip(ours, theirs):
        np.testing.assert_allclose(np.concatenate([np.ravel(x) for x in mine]),
                                   np.concatenate([np.ravel(x) for x in reference]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("kind", "dtype"), [("layernorm", np.float32), ("peephole", np.float32),
                                             ("grud", np.float32), ("layernorm", np.float64)])
def test_hand_written_cells_on_the_adding_problem(torch: Any, kind: str, dtype: Any) -> None:
    """Each cell unrolled over a padded batch with masks trains as torch's; the model's forward compiled
    (the loop, the masks' where, the cell) gives eager's numbers bit for bit."""
    rng = np.random.default_rng(1)
    sequences, targets = _adding_problem(rng, 12, dtype)
    if kind == "grud":
        sequences = _with_missing_values(rng, sequences)
    x_mean = np.array([0.5, 1 / 3], np.float32)
    torch_program, torch_model, mg_program, eager, compiled, initial = _three_models(
        HAND_WRITTEN_CELLS, kind, x_mean=x_mean)
    if dtype == np.float64:
        for model in (torch_model, eager, compiled):
            model.double()
    forward = _compile_forward(compiled)
    expected = torch_program["train"](torch_model, sequences, targets, 5)
    losses = mg_program["train"](eager, sequences, targets, 5)
    tight = dtype == np.float64
    np.testing.assert_allclose(losses, expected, rtol=1e-10 if tight else 1e-5, atol=1e-12 if tight else 1e-6)
    _assert_close_weights(torch_model, eager, initial, *((1e-10, 1e-12) if tight else ()))
    assert mg_program["train"](compiled, sequences, targets, 5) == losses
    _assert_replayed(forward)
    _assert_same_bits(eager, compiled)


def test_truncated_bptt_with_repackage_hidden(torch: Any) -> None:
    """One long stream in windows of 3 steps, the (h, c) tuple detached by the recursion between windows."""
    rng = np.random.default_rng(2)
    stream = rng.random((3, 8, 2)).astype(np.float32)
    stream[..., 1] = rng.random((3, 8)) < 0.3
    running_sums = np.cumsum(stream[..., 0] * stream[..., 1], 1).astype(np.float32)
    torch_program, torch_model, mg_program, eager, compiled, initial = _three_models(HAND_WRITTEN_CELLS, "peephole")
    forward = _compile_forward(compiled)
    expected, torch_state = torch_program["train_truncated"](torch_model, stream, running_sums, 3)
    losses, state = mg_program["train_truncated"](eager, stream, running_sums, 3)
    assert len(losses) == 3   # windows of 3, 3 and 2 steps
    np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-6)
    for ours, theirs in zip(state, torch_state):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    _assert_close_weights(torch_model, eager, initial)
    compiled_losses, compiled_state = mg_program["train_truncated"](compiled, stream, running_sums, 3)
    assert compiled_losses == losses
    _assert_replayed(forward)
    for ours, theirs in zip(compiled_state, state):
        np.testing.assert_array_equal(ours, theirs)
    _assert_same_bits(eager, compiled)


def test_pointer_network_sorts(torch: Any) -> None:
    """Teacher-forced training and greedy decoding as torch's; the compiled model bit for bit as eager.

    In float64: W2's gradient nearly cancels (W2 dec shifts every position's score alike, and softmax ignores a
    shift; only tanh's curvature is left), so in float32 Adam's normalised steps carry its rounding noise (~1e-4).
    """
    values = np.random.default_rng(3).random((18, 5))
    torch_program, torch_model, mg_program, eager, compiled, initial = _three_models(POINTER_NETWORK)
    for model in (torch_model, eager, compiled):
        model.double()
    forward = _compile_forward(compiled)
    expected = torch_program["train"](torch_model, values, 6)
    losses = mg_program["train"](eager, values, 6)
    np.testing.assert_allclose(losses, expected, rtol=1e-10, atol=1e-12)
    _assert_close_weights(torch_model, eager, initial, 1e-9, 1e-12)
    assert mg_program["train"](compiled, values, 6) == losses
    _assert_same_bits(eager, compiled)
    pointers, probs, exact = mg_program["evaluate"](eager, values[:6])
    torch_pointers, torch_probs, torch_exact = torch_program["evaluate"](torch_model, values[:6])
    assert pointers == torch_pointers and exact == torch_exact
    np.testing.assert_allclose(probs, torch_probs, rtol=1e-9, atol=1e-12)
    assert all(sorted(row) == list(range(5)) for row in pointers)   # the mask lets each position out once
    assert (probs[:, -1] > 0).sum(axis=1).tolist() == [1] * 6        # the last step has one position left
    compiled_pointers, compiled_probs, _ = mg_program["evaluate"](compiled, values[:6])   # greedy, replayed
    assert compiled_pointers == pointers
    np.testing.assert_array_equal(compiled_probs, probs)
    _assert_replayed(forward)


def _number_steps(cell: Any, steps: int) -> None:
    """Each call of ``cell`` inside a name scope ``t{k}`` (k = calls so far mod ``steps``), set from the test:
    a loop written in the program cannot name its steps in a torch program, so its cell's calls would share
    one cluster."""
    import minigrad as mg  # noqa: PLC0415

    forward, calls = cell.forward, iter(range(10**6))

    def stepped(*args: Any, **kwargs: Any) -> Any:
        with mg.name_scope(f"t{next(calls) % steps}"):
            return forward(*args, **kwargs)

    cell.forward = stepped


def test_unrolled_conv_lstm_draws_one_cluster_per_layer_and_step() -> None:
    """mg.viz.draw(loss) of the ConvLSTM: a cluster per layer, inside it one per time step holding that step's
    convolution; the repeated steps hold the same ops. The compiled model draws byte for byte as eager."""
    import re  # noqa: PLC0415

    import minigrad as mg  # noqa: PLC0415

    program = _program(CONV_LSTM, MINIGRAD_IMPORTS_CELLS)
    mg.manual_seed(0)
    model, compiled = program["make_model"](), program["make_model"]()
    compiled.load_state_dict(model.state_dict())
    frames = mg.from_numpy(_moving_squares(np.random.default_rng(0), frames=4)).unsqueeze(2)   # 3 steps
    forward = _compile_forward(compiled.convlstm)
    dots = []
    for net in (model, compiled, compiled):   # eager, then the capture, then a replay
        loss = program["nn"].functional.mse_loss(net(frames[:, :-1]), frames[:, 1:])
        loss.backward(retain_graph=True)
        dots.append((mg.viz.draw(loss).source, mg.viz.draw(loss, show_grads=True, collapse="steps").source))
    _assert_replayed(forward)
    assert dots[1] == dots[2] == dots[0]   # a replayed call is drawn as the ops it stands for

    for cell in model.convlstm.cell_list:
        _number_steps(cell, 3)
    loss = program["nn"].functional.mse_loss(model(frames[:, :-1]), frames[:, 1:])
    dot = mg.viz.draw(loss).source
    layer = "cluster_nextframepredictor_convlstm_cell_list_{}"
    clusters = re.findall(r"subgraph (cluster_\w+) \{", dot)
    for k in (0, 1):
        steps = [c for c in clusters if re.fullmatch(layer.format(k) + r"_t\d", c)]
        assert steps == [layer.format(k) + f"_t{t}" for t in range(3)]
        assert all(step + "_conv" in clusters for step in steps)
    boxes = re.findall(r'label="(t\d)\\n(\d+) ops, 2 params', mg.viz.draw(loss, collapse="steps").source)
    assert [t for t, _ in boxes] == ["t0", "t1", "t2"] * 2
    counts = [int(n) for _, n in boxes]
    # layer 0's first step: its input and zero state need no gradient, so the cat and unfold are not recorded
    assert counts[1] == counts[2] == counts[3] == counts[4] == counts[5] > counts[0]


def test_per_step_compiled_cells_agree_with_eager_to_rounding() -> None:
    """Each ConvLSTM cell's forward compiled on its own (one graph node per step): same losses, and weights equal
    to eager's up to float32 rounding of the conv weights' gradient sums (see the next test)."""
    import minigrad as mg  # noqa: PLC0415

    program = _program(CONV_LSTM, MINIGRAD_IMPORTS_CELLS)
    mg.manual_seed(0)
    eager, compiled = program["make_model"](), program["make_model"]()
    compiled.load_state_dict(eager.state_dict())
    forwards = [_compile_forward(cell) for cell in compiled.convlstm.cell_list]
    clips = _moving_squares(np.random.default_rng(0))
    losses = program["train"](eager, clips, 3)
    np.testing.assert_allclose(program["train"](compiled, clips, 3), losses, rtol=1e-6)
    for forward in forwards:
        _assert_replayed(forward)
    ours, theirs = _weights(eager), _weights(compiled)
    for name in ours:
        np.testing.assert_allclose(theirs[name], ours[name], rtol=1e-5, atol=1e-7, err_msg=name)


def test_per_step_compile_sums_a_shared_weights_gradient_in_eagers_order() -> None:
    """A weight reached through an op inside each compiled call (``w.reshape``) gets its per-call gradients summed in
    eager's order: both walks run the ready op recorded last first (PyTorch's order; eager's walk took the op made
    ready last, and summed g0 + g1 + g2 where the replays summed g2 + g1 + g0, a last-bit float32 difference)."""
    import minigrad as mg  # noqa: PLC0415

    def weight_gradient(compiled: bool) -> np.ndarray:
        rng = np.random.default_rng(0)
        w = mg.tensor(rng.standard_normal(16).astype(np.float32), requires_grad=True)

        def step(x: Any, h: Any) -> Any:
            return mg.tanh(x + w.reshape(1, 16) * h)

        f = mg.compile(step) if compiled else step
        h = mg.zeros(3, 16)
        for _ in range(4):
            h = f(mg.from_numpy(rng.standard_normal((3, 16)).astype(np.float32)), h)
        h.sum().backward()
        return w.grad.numpy()

    np.testing.assert_array_equal(weight_gradient(True), weight_gradient(False))


def test_scatter_writes_a_python_bool(torch: Any) -> None:
    """``mask.scatter(1, idx, True)`` (the pointer network's mask update) as torch's: a bool is a number."""
    import minigrad as mg  # noqa: PLC0415

    index = [[1], [3], [0]]
    for dtype in ("bool", "float32", "int64"):
        ours = mg.zeros(3, 4, dtype=dtype)
        theirs = torch.zeros(3, 4, dtype=getattr(torch, dtype))
        for call in (lambda x, i: x.scatter(1, i, True), lambda x, i: x.scatter(1, i, value=True),
                     lambda x, i: x.scatter(1, i, True, reduce="add"), lambda x, i: x.clone().scatter_(1, i, True)):
            got, expected = call(ours, mg.tensor(index)), call(theirs, torch.tensor(index))
            assert str(got.dtype) == str(expected.dtype).removeprefix("torch.")
            np.testing.assert_array_equal(got.numpy(), expected.numpy())
    with pytest.raises(TypeError, match="scatter_add: src must be a Tensor"):
        mg.zeros(3, 4).scatter_add(1, mg.tensor(index), True)
