"""Recurrent-cell variants written by hand, each unrolled in a Python loop, run unchanged on minigrad: only the
import lines differ.

Each program is our own rewrite of a well-known public PyTorch implementation (names, helpers and comments are
ours), cut to a tiny model and a few steps on generated sequences; the helpers and the rule come from
tests/test_pytorch_programs.py:

* ``TREE_LSTM`` mirrors the Child-Sum Tree-LSTM of Tai et al. as ported in dasguptar/treelstm.pytorch: a ``Tree``
  read from a parent-pointer list, Python recursion over the children, per-child forget gates
  ``self.fx(inputs).repeat(len(child_h), 1)``, leaves' zero states from
  ``inputs[0].detach().new(1, mem_dim).fill_(0.).requires_grad_()``, ``zip(*map(lambda x: x.state, children))``,
  ``torch.split``, ``F.sigmoid``/``F.tanh``, sentiment read at the root with ``F.cross_entropy``, Adagrad with
  weight decay stepping every second tree;
* ``ON_LSTM`` mirrors yikangshen/Ordered-Neurons: ``cumsoftmax = cumsum(softmax)``, master forget/input gates over
  chunks repeated to the hidden size (``unsqueeze(2).repeat(1, 1, chunk).view(-1, H)``), a ``LinearDropConnect``
  hidden-to-hidden weight whose ``bernoulli_`` mask on a ``new_empty(..., dtype=torch.bool)`` is drawn once per
  sequence and shared over its steps (``masked_fill``; ``weight * (1 - p)`` in eval), the layer's input
  projection as one call before the loop, the split-point distances, a tied decoder, SGD by hand with
  ``clip_grad_norm_``;
* ``SRU`` mirrors taolei87/sru's CPU path: one ``mm`` for every step's gates, ``view(T, B, bidir, d, k)``,
  ``u[..., 0]``, bias split with ``view(2, bidir, d)``, the elementwise loop writing ``h[t] = ...`` into a
  ``new_empty`` buffer, the highway term (``k == 3``: x itself; ``k == 4``: a projection), the backward direction
  by ``torch.flip`` of the inputs and of its outputs;
* ``PHASED_LSTM`` mirrors the Phased LSTM (Neil et al.) of its PyTorch ports: a time gate from
  ``torch.fmod(torch.fmod(t - s, tau) + tau, tau) / tau`` with a learnable period, shift and open ratio, leak
  only in training, nested ``torch.where``, irregular timestamps; the open fraction per step read with
  ``torch.remainder``;
* ``CLOCKWORK_RNN`` mirrors the Clockwork RNN (Koutník et al.): module periods as a ``repeat_interleave`` buffer,
  ``t % self.periods == 0`` picks the modules that update, a block-upper-triangular mask buffer on the recurrent
  weight (``F.linear(h, weight * mask)``), RMSprop on a generated waveform;
* ``SKIP_RNN`` mirrors the Skip RNN (Campos et al.): a straight-through ``round`` as a ``torch.autograd.Function``
  (identity gradient), the cumulative update probability, a budget loss on the number of updates;
* ``DILATED_RNN`` mirrors zalandoresearch/pytorch-dilated-rnn: GRUs run over the d interleaved sub-sequences
  as one batch ((T, B, H) padded with ``new_zeros`` rows to a multiple of d, then ``view``/``permute``/``reshape``
  to (T/d, B * d, H) and back), checked row for row against the original's ``torch.cat([inputs[j::rate, :, :]
  for j in range(rate)], 1)`` with ``torch.equal``;
* ``MULTIPLICATIVE_AND_NESTED_LSTM``: the multiplicative LSTM (Krause et al.: m = (W x) * (U h) drives the
  gates) and the Nested LSTM (Moniz & Krueger: the memory is an inner LSTM step), as character language models
  over truncated BPTT windows, Adam with ``clip_grad_norm_`` (also run in float64).

Random draws that the compared numbers depend on (the DropConnect masks) read one NumPy stream per engine of the
same seed (``_shared_bernoulli`` of tests/test_pytorch_programs_awd.py). ``.data`` is minigrad's NumPy array by
design, so the programs write ``next(self.parameters()).new_zeros(...)`` where ON-LSTM writes
``weight.data.new(...).zero_()`` and update with ``p.add_`` under ``no_grad``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import MINIGRAD_IMPORTS, TORCH_IMPORTS, _assert_same_weights, _twin_models
from tests.test_pytorch_programs_awd import _shared_bernoulli
from tests.test_pytorch_programs_flow import _lean_torch  # noqa: F401 - autouse: torch lean, _dynamo imported in setup

TREE_LSTM = '''
class Tree(object):
    """A parse-tree node: the position ``idx`` of its word in the sentence and its children."""

    def __init__(self):
        self.parent = None
        self.num_children = 0
        self.children = list()

    def add_child(self, child):
        child.parent = self
        self.num_children += 1
        self.children.append(child)

    def depth(self):
        return 1 + max([child.depth() for child in self.children], default=0)


def read_tree(parents):
    """The tree of a parent-pointer list (1-based parents, 0 for the root); node i reads word i."""
    nodes = [Tree() for _ in parents]
    root = None
    for idx, parent in enumerate(parents):
        nodes[idx].idx = idx
        if parent == 0:
            root = nodes[idx]
        else:
            nodes[parent - 1].add_child(nodes[idx])
    return root


class ChildSumTreeLSTM(nn.Module):
    """Child-Sum Tree-LSTM: a node reads its word x (in_dim,) and its children's states (n, mem_dim):

    h~ = sum_k h_k,  i, o, u = sigmoid/sigmoid/tanh(W x + U h~),  f_k = sigmoid(W_f x + U_f h_k) (one per child),
    c = i * u + sum_k f_k * c_k,  h = o * tanh(c)  -> c, h (1, mem_dim)."""

    def __init__(self, in_dim, mem_dim):
        super(ChildSumTreeLSTM, self).__init__()
        self.in_dim = in_dim
        self.mem_dim = mem_dim
        self.ioux = nn.Linear(self.in_dim, 3 * self.mem_dim)
        self.iouh = nn.Linear(self.mem_dim, 3 * self.mem_dim)
        self.fx = nn.Linear(self.in_dim, self.mem_dim)
        self.fh = nn.Linear(self.mem_dim, self.mem_dim)

    def node_forward(self, inputs, child_c, child_h):
        child_h_sum = torch.sum(child_h, dim=0, keepdim=True)
        iou = self.ioux(inputs) + self.iouh(child_h_sum)
        i, o, u = torch.split(iou, iou.size(1) // 3, dim=1)
        i, o, u = F.sigmoid(i), F.sigmoid(o), F.tanh(u)
        f = F.sigmoid(self.fh(child_h) + self.fx(inputs).repeat(len(child_h), 1))
        fc = torch.mul(f, child_c)
        c = torch.mul(i, u) + torch.sum(fc, dim=0, keepdim=True)
        h = torch.mul(o, F.tanh(c))
        return c, h

    def forward(self, tree, inputs):
        for idx in range(tree.num_children):
            self.forward(tree.children[idx], inputs)
        if tree.num_children == 0:
            child_c = inputs[0].detach().new(1, self.mem_dim).fill_(0.).requires_grad_()
            child_h = inputs[0].detach().new(1, self.mem_dim).fill_(0.).requires_grad_()
        else:
            child_c, child_h = zip(*map(lambda x: x.state, tree.children))
            child_c, child_h = torch.cat(child_c, dim=0), torch.cat(child_h, dim=0)
        tree.state = self.node_forward(inputs[tree.idx], child_c, child_h)
        return tree.state


class SentimentTreeLSTM(nn.Module):
    """Word ids (n,) and their tree -> class logits (1, classes) read from the root's h."""

    def __init__(self, vocab_size, in_dim, mem_dim, num_classes):
        super(SentimentTreeLSTM, self).__init__()
        self.emb = nn.Embedding(vocab_size, in_dim, padding_idx=0)
        self.childsumtreelstm = ChildSumTreeLSTM(in_dim, mem_dim)
        self.classifier = nn.Linear(mem_dim, num_classes)

    def forward(self, tree, sentence):
        inputs = self.emb(sentence)
        state, hidden = self.childsumtreelstm(tree, inputs)
        return self.classifier(hidden)


def make_model(vocab_size, num_classes=3):
    return SentimentTreeLSTM(vocab_size, 6, 5, num_classes)


def train(model, dataset, epochs, batch_size=2, lr=0.05, wd=1e-4):
    """Adagrad over (parents, words, label) examples; gradients summed over ``batch_size`` trees per step."""
    optimizer = optim.Adagrad(filter(lambda p: p.requires_grad, model.parameters()), lr=lr, weight_decay=wd)
    model.train()
    history = []
    for epoch in range(epochs):
        optimizer.zero_grad()
        total_loss = 0.0
        for idx, (parents, words, label) in enumerate(dataset):
            tree = read_tree(parents)
            sentence = torch.tensor(words, dtype=torch.long)
            target = torch.tensor([label])
            output = model(tree, sentence)
            loss = F.cross_entropy(output, target)
            total_loss += loss.item()
            loss.backward()
            if (idx + 1) % batch_size == 0:
                optimizer.step()
                optimizer.zero_grad()
        history.append(total_loss / len(dataset))
    return history


@torch.no_grad()
def predict(model, dataset):
    model.eval()
    return [model(read_tree(p), torch.tensor(w)).argmax(1).item() for p, w, _ in dataset]
'''


ON_LSTM = '''
def cumsoftmax(x, dim=-1):
    """cumax: the cumulative sum of a softmax, a soft version of a binary (0 ... 0 1 ... 1) gate."""
    return torch.cumsum(F.softmax(x, dim=dim), dim=dim)


class LinearDropConnect(nn.Linear):
    """A Linear whose weight is dropped element-wise (DropConnect); one mask is drawn per sequence and kept."""

    def __init__(self, in_features, out_features, bias=True, dropout=0.):
        super(LinearDropConnect, self).__init__(in_features=in_features, out_features=out_features, bias=bias)
        self.dropout = dropout

    def sample_mask(self):
        if self.dropout == 0.:
            self._weight = self.weight
        else:
            mask = self.weight.new_empty(self.weight.size(), dtype=torch.bool)
            mask.bernoulli_(self.dropout)
            self._weight = self.weight.masked_fill(mask, 0.)

    def forward(self, input, sample_mask=False):
        if self.training:
            if sample_mask:
                self.sample_mask()
            return F.linear(input, self._weight, self.bias)
        return F.linear(input, self.weight * (1 - self.dropout), self.bias)


class ONLSTMCell(nn.Module):
    """Ordered-neurons LSTM step: x (B, I) as ih(x) (B, 4H + 2C), state (h, c) (B, H) each, C = H / chunk_size.

    Master gates cf = cumax(.), ci = 1 - cumax(.) over the C chunks, repeated chunk_size times to H; where they
    overlap (w = cf * ci) the ordinary gates rule: f' = f * w + (cf - w), i' = i * w + (ci - w)."""

    def __init__(self, input_size, hidden_size, chunk_size, dropconnect=0.):
        super(ONLSTMCell, self).__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.chunk_size = chunk_size
        self.n_chunk = int(hidden_size / chunk_size)
        self.ih = nn.Sequential(nn.Linear(input_size, hidden_size * 4 + self.n_chunk * 2, bias=True))
        self.hh = LinearDropConnect(hidden_size, hidden_size * 4 + self.n_chunk * 2, bias=True, dropout=dropconnect)
        self.drop_weight_modules = [self.hh]

    def to_hidden(self, master):
        """(B, C) master gate -> (B, H): each chunk's value repeated over its chunk_size neurons."""
        return master.unsqueeze(2).repeat(1, 1, self.chunk_size).view(-1, self.hidden_size)

    def forward(self, input, hidden, transformed_input=None):
        hx, cx = hidden
        if transformed_input is None:
            transformed_input = self.ih(input)
        gates = transformed_input + self.hh(hx)
        cingate, cforgetgate = gates[:, :self.n_chunk * 2].chunk(2, 1)
        outgate, cell, ingate, forgetgate = gates[:, self.n_chunk * 2:].chunk(4, 1)

        cingate = 1. - cumsoftmax(cingate)
        cforgetgate = cumsoftmax(cforgetgate)
        distance_cforget = 1. - cforgetgate.sum(-1) / self.n_chunk
        distance_cin = cingate.sum(-1) / self.n_chunk
        cingate, cforgetgate = self.to_hidden(cingate), self.to_hidden(cforgetgate)

        ingate = F.sigmoid(ingate)
        forgetgate = F.sigmoid(forgetgate)
        cell = F.tanh(cell)
        outgate = F.sigmoid(outgate)

        overlap = cforgetgate * cingate
        forgetgate = forgetgate * overlap + (cforgetgate - overlap)
        ingate = ingate * overlap + (cingate - overlap)
        cy = forgetgate * cx + ingate * cell
        hy = outgate * F.tanh(cy)
        return hy, cy, (distance_cforget, distance_cin)

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        return weight.new_zeros(bsz, self.hidden_size), weight.new_zeros(bsz, self.hidden_size)

    def sample_masks(self):
        for m in self.drop_weight_modules:
            m.sample_mask()


class ONLSTMStack(nn.Module):
    """Layers of ONLSTMCell over (T, B, I): the input projection of a whole layer is one matmul."""

    def __init__(self, layer_sizes, chunk_size, dropconnect=0.):
        super(ONLSTMStack, self).__init__()
        self.cells = nn.ModuleList([ONLSTMCell(layer_sizes[i], layer_sizes[i + 1], chunk_size, dropconnect=dropconnect)
                                    for i in range(len(layer_sizes) - 1)])
        self.sizes = layer_sizes

    def init_hidden(self, bsz):
        return [c.init_hidden(bsz) for c in self.cells]

    def forward(self, input, hidden):
        length, batch_size, _ = input.size()
        if self.training:
            for c in self.cells:
                c.sample_masks()
        prev_state = list(hidden)
        prev_layer = input
        distances_forget, distances_in = [], []
        for l in range(len(self.cells)):
            curr_layer = [None] * length
            dist = [None] * length
            t_input = self.cells[l].ih(prev_layer)
            for t in range(length):
                hidden, cell, d = self.cells[l](None, prev_state[l], transformed_input=t_input[t])
                prev_state[l] = hidden, cell
                curr_layer[t] = hidden
                dist[t] = d
            prev_layer = torch.stack(curr_layer)
            dist_cforget, dist_cin = zip(*dist)
            distances_forget.append(torch.stack(dist_cforget))
            distances_in.append(torch.stack(dist_cin))
        return prev_layer, prev_state, (torch.stack(distances_forget), torch.stack(distances_in))


class ONLSTMLanguageModel(nn.Module):
    def __init__(self, ntoken, ninp, nhid, chunk_size, nlayers, dropconnect):
        super(ONLSTMLanguageModel, self).__init__()
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = ONLSTMStack([ninp] + [nhid] * (nlayers - 1) + [ninp], chunk_size=chunk_size,
                               dropconnect=dropconnect)
        self.decoder = nn.Linear(ninp, ntoken)
        self.decoder.weight = self.encoder.weight   # tied

    def forward(self, input, hidden):
        output, hidden, distances = self.rnn(self.encoder(input), hidden)
        return self.decoder(output.view(-1, output.size(2))), hidden, distances

    def init_hidden(self, bsz):
        return self.rnn.init_hidden(bsz)


def repackage_hidden(h):
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


def make_model(ntoken, dropconnect=0.3):
    return ONLSTMLanguageModel(ntoken, 8, 8, 2, 2, dropconnect)


def train(model, data, ntoken, steps, bptt=4, lr=1.0, clip=0.25):
    """SGD by hand over (T, B) token columns, state detached between windows; -> losses and the eval loss."""
    model.train()
    hidden = model.init_hidden(data.size(1))
    history = []
    for i in range(0, steps * bptt, bptt):
        inputs, targets = data[i:i + bptt], data[i + 1:i + 1 + bptt].reshape(-1)
        hidden = [repackage_hidden(h) for h in hidden]
        model.zero_grad()
        output, hidden, (dist_forget, dist_in) = model(inputs, hidden)
        loss = F.cross_entropy(output, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(p.grad, alpha=-lr)
        history.append(loss.item())
    model.eval()
    with torch.no_grad():
        output, _, (dist_forget, dist_in) = model(data[:-1], model.init_hidden(data.size(1)))
        eval_loss = F.cross_entropy(output, data[1:].reshape(-1)).item()
    return history, eval_loss, dist_forget
'''


SRU = '''
class SRUCell(nn.Module):
    """One SRU layer over x (T, B, n_in); all the matrix work is one matmul before the loop:

    u = x W  -> (x~, f, r[, x']) per direction,  f = sigmoid(. + b_f), r = sigmoid(. + b_r),
    c_t = (c_{t-1} - x~_t) * f_t + x~_t,  h_t = (tanh(c_t) - x'_t) * r_t + x'_t (highway: x' = x when sizes allow).
    The backward direction is the same loop over the time-flipped inputs, flipped back."""

    def __init__(self, n_in, n_out, bidirectional=False):
        super(SRUCell, self).__init__()
        self.n_in, self.n_out = n_in, n_out
        self.bidirectional = bidirectional
        out_size = n_out * 2 if bidirectional else n_out
        self.k = 4 if n_in != out_size else 3
        self.size_per_dir = n_out * self.k
        self.weight = nn.Parameter(torch.Tensor(n_in, self.size_per_dir * 2 if bidirectional else self.size_per_dir))
        self.bias = nn.Parameter(torch.Tensor(n_out * 4 if bidirectional else n_out * 2))
        self.init_weight()

    def init_weight(self):
        val_range = (3.0 / self.n_in) ** 0.5
        with torch.no_grad():
            self.weight.uniform_(-val_range, val_range)
            self.bias.zero_()

    def recurrence(self, x_tilde, forget, reset, x_prime, c_prev):
        """One direction over time: (T, B, d) each and c (B, d) -> h (T, B, d), last c (B, d)."""
        h = x_tilde.new_empty(x_tilde.size())
        for t in range(x_tilde.size(0)):
            c_t = (c_prev - x_tilde[t]) * forget[t] + x_tilde[t]
            h[t] = (c_t.tanh() - x_prime[t]) * reset[t] + x_prime[t]
            c_prev = c_t
        return h, c_prev

    def forward(self, input, c0=None):
        assert input.dim() == 3
        length, batch, d = input.size(0), input.size(1), self.n_out
        bidir = 2 if self.bidirectional else 1
        if c0 is None:
            c0 = input.new_zeros(batch, d * bidir)
        u = input.view(-1, self.n_in).mm(self.weight).view(length, batch, bidir, d, self.k)
        forget_bias, reset_bias = self.bias.view(2, bidir, d)
        x_tilde = u[..., 0]
        forget = (u[..., 1] + forget_bias).sigmoid()
        reset = (u[..., 2] + reset_bias).sigmoid()
        x_prime = input.view(length, batch, bidir, d) if self.k == 3 else u[..., 3]
        outputs, finals = [], []
        for di in range(bidir):
            parts = [x_tilde[:, :, di], forget[:, :, di], reset[:, :, di], x_prime[:, :, di]]
            if di == 1:
                parts = [torch.flip(p, [0]) for p in parts]
            h, c = self.recurrence(*parts, c0.view(batch, bidir, d)[:, di])
            outputs.append(h.flip(0) if di == 1 else h)
            finals.append(c)
        return torch.cat(outputs, dim=-1), torch.stack(finals, dim=1).view(batch, -1)


class SRU(nn.Module):
    def __init__(self, input_size, hidden_size, num_layers=2, bidirectional=False):
        super(SRU, self).__init__()
        out_size = hidden_size * 2 if bidirectional else hidden_size
        self.rnn_lst = nn.ModuleList([SRUCell(input_size if i == 0 else out_size, hidden_size, bidirectional)
                                      for i in range(num_layers)])

    def forward(self, input, c0=None):
        prevx, lstc = input, []
        for i, rnn in enumerate(self.rnn_lst):
            h, c = rnn(prevx, None if c0 is None else c0[i])
            prevx = h
            lstc.append(c)
        return prevx, torch.stack(lstc)


class SequenceClassifier(nn.Module):
    def __init__(self, input_size, hidden_size, num_classes):
        super(SequenceClassifier, self).__init__()
        self.rnn = SRU(input_size, hidden_size, num_layers=2, bidirectional=True)
        self.out = nn.Linear(2 * hidden_size, num_classes)

    def forward(self, x):
        output, cells = self.rnn(x)
        return self.out(output.mean(0)), cells


def make_model(input_size, num_classes):
    return SequenceClassifier(input_size, 4, num_classes)


def train(model, x, y, steps, lr=0.02):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    history = []
    for _ in range(steps):
        optimizer.zero_grad()
        logits, cells = model(torch.from_numpy(x))
        loss = F.cross_entropy(logits, torch.from_numpy(y))
        loss.backward()
        optimizer.step()
        history.append((loss.item(), cells.abs().sum().item()))
    return history
'''


PHASED_LSTM = '''
class PhasedLSTMCell(nn.Module):
    """An LSTMCell whose update is let through by a time gate k_t (B, H), per neuron period tau, shift s, open
    ratio r_on and leak alpha: phi = ((t - s) mod tau) / tau,
    k = 2 phi / r_on (first half of the open phase), 2 - 2 phi / r_on (second half), alpha phi (closed);
    c = k * c~ + (1 - k) * c, h likewise. x (B, I), t (B, 1) timestamps."""

    def __init__(self, input_size, hidden_size, leak=1e-3, ratio_on=0.1, period_init_max=8.0):
        super(PhasedLSTMCell, self).__init__()
        self.hidden_size = hidden_size
        self.lstm = nn.LSTMCell(input_size, hidden_size)
        self.tau = nn.Parameter(torch.zeros(hidden_size).uniform_(0, math.log(period_init_max)).exp())
        self.phase = nn.Parameter(torch.zeros(hidden_size).uniform_(0, 1) * self.tau.detach())
        self.r_on = nn.Parameter(torch.full((hidden_size,), ratio_on))
        self.leak = leak

    def phase_of(self, t):
        # fmod keeps the sign of (t - s); a second fmod after adding tau brings it into [0, tau)
        return torch.fmod(torch.fmod(t - self.phase, self.tau) + self.tau, self.tau) / self.tau

    def time_gate(self, t):
        phi = self.phase_of(t)
        up = 2 * phi / self.r_on
        down = 2 - up
        closed = self.leak * phi if self.training else torch.zeros_like(phi)
        return torch.where(phi < 0.5 * self.r_on, up, torch.where(phi < self.r_on, down, closed))

    def forward(self, x, t, state):
        h, c = state
        h_tilde, c_tilde = self.lstm(x, (h, c))
        k = self.time_gate(t)
        return k * h_tilde + (1 - k) * h, k * c_tilde + (1 - k) * c


class PhasedClassifier(nn.Module):
    def __init__(self, input_size, hidden_size, num_classes):
        super(PhasedClassifier, self).__init__()
        self.cell = PhasedLSTMCell(input_size, hidden_size)
        self.out = nn.Linear(hidden_size, num_classes)

    def forward(self, x, times):
        """x (B, T, I), times (B, T) -> logits (B, classes) and the mean openness per step (T,)."""
        h = x.new_zeros(x.size(0), self.cell.hidden_size)
        state = (h, h)
        openness = []
        for step in range(x.size(1)):
            t = times[:, step:step + 1]
            state = self.cell(x[:, step], t, state)
            openness.append((torch.remainder(t - self.cell.phase, self.cell.tau) < self.cell.r_on * self.cell.tau)
                            .float().mean())
        return self.out(state[0]), torch.stack(openness)


def make_model(num_classes=2):
    return PhasedClassifier(1, 6, num_classes)


def train(model, x, times, y, steps, lr=0.01):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    history = []
    for _ in range(steps):
        optimizer.zero_grad()
        logits, openness = model(x, times)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    model.eval()
    with torch.no_grad():
        logits, openness = model(x, times)
    return history, logits, openness
'''


CLOCKWORK_RNN = '''
class ClockworkRNN(nn.Module):
    """Hidden units in modules of ``module_size``, module i with period periods[i] (fastest first); at step t
    only the modules with t % period == 0 update. A module reads itself and the slower ones: the recurrent
    weight is masked to block-upper-triangular. x (B, T, I) -> outputs (B, T, O)."""

    def __init__(self, input_size, module_size, periods, output_size):
        super(ClockworkRNN, self).__init__()
        hidden_size = module_size * len(periods)
        self.hidden_size = hidden_size
        self.input_to_hidden = nn.Linear(input_size, hidden_size)
        self.hidden_to_hidden = nn.Linear(hidden_size, hidden_size, bias=False)
        self.hidden_to_output = nn.Linear(hidden_size, output_size)
        mask = torch.zeros(hidden_size, hidden_size)
        for i in range(len(periods)):
            mask[i * module_size:(i + 1) * module_size, i * module_size:] = 1
        self.register_buffer('mask', mask)
        self.register_buffer('periods', torch.tensor(periods).repeat_interleave(module_size))

    def forward(self, x):
        h = x.new_zeros(x.size(0), self.hidden_size)
        outputs = []
        for t in range(x.size(1)):
            active = (t % self.periods) == 0
            pre = self.input_to_hidden(x[:, t]) + F.linear(h, self.hidden_to_hidden.weight * self.mask)
            h = torch.where(active, torch.tanh(pre), h)
            outputs.append(self.hidden_to_output(h))
        return torch.stack(outputs, dim=1)


def make_model():
    return ClockworkRNN(1, 3, [1, 2, 4, 8], 1)


def train(model, signal, steps, lr=0.01):
    """Generate the signal (B, T, 1) from a zero input and its first value: RMSprop on the MSE."""
    optimizer = optim.RMSprop(model.parameters(), lr=lr)
    inputs = torch.zeros_like(signal)
    inputs[:, 0] = signal[:, 0]
    history = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.mse_loss(model(inputs), signal)
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    return history
'''


SKIP_RNN = '''
class STERound(torch.autograd.Function):
    """Round in the forward pass, identity in the backward pass (straight-through estimator)."""

    @staticmethod
    def forward(ctx, x):
        return x.round()

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output


class SkipLSTMCell(nn.Module):
    """An LSTMCell that learns to skip state updates. u_t = round(u~_t) in {0, 1}; the new state is used when u_t
    is 1 and the old one copied when 0; the update probability grows by du = sigmoid(W c_t + b) while skipping:
    u~_{t+1} = u_t du_t + (1 - u_t)(u~_t + min(du_t, 1 - u~_t)). State (h, c, u~) (B, H), (B, H), (B, 1)."""

    def __init__(self, input_size, hidden_size):
        super(SkipLSTMCell, self).__init__()
        self.hidden_size = hidden_size
        self.cell = nn.LSTMCell(input_size, hidden_size)
        self.update_prob = nn.Linear(hidden_size, 1)
        nn.init.constant_(self.update_prob.bias, -0.3)   # start by skipping about every other step

    def initial_state(self, x):
        zeros = x.new_zeros(x.size(0), self.hidden_size)
        return zeros, zeros, x.new_ones(x.size(0), 1)

    def forward(self, x, state):
        h, c, update_prob_prev = state
        update_gate = STERound.apply(update_prob_prev)
        new_h, new_c = self.cell(x, (h, c))
        delta = torch.sigmoid(self.update_prob(new_c))
        h = update_gate * new_h + (1 - update_gate) * h
        c = update_gate * new_c + (1 - update_gate) * c
        cumulative = update_prob_prev + torch.min(delta, 1 - update_prob_prev)
        update_prob = update_gate * delta + (1 - update_gate) * cumulative
        return (h, c, update_prob), update_gate


class SkipClassifier(nn.Module):
    def __init__(self, input_size, hidden_size, num_classes):
        super(SkipClassifier, self).__init__()
        self.cell = SkipLSTMCell(input_size, hidden_size)
        self.out = nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        """x (T, B, I) -> logits (B, classes), update gates (T, B, 1)."""
        state = self.cell.initial_state(x[0])
        gates = []
        for t in range(x.size(0)):
            state, gate = self.cell(x[t], state)
            gates.append(gate)
        return self.out(state[0]), torch.stack(gates)


def make_model(num_classes=2):
    return SkipClassifier(2, 6, num_classes)


def train(model, x, y, steps, lr=0.02, budget_weight=0.01):
    """Adam on cross entropy + the budget loss (the weighted mean number of updates per sequence)."""
    optimizer = optim.Adam(model.parameters(), lr=lr)
    history = []
    for _ in range(steps):
        optimizer.zero_grad()
        logits, gates = model(x)
        task_loss = F.cross_entropy(logits, y)
        budget_loss = budget_weight * gates.sum(0).mean()
        loss = task_loss + budget_loss
        loss.backward()
        optimizer.step()
        history.append((task_loss.item(), budget_loss.item(), gates.sum().item()))
    return history
'''


DILATED_RNN = '''
class DilatedRNN(nn.Module):
    """Stacked GRUs, layer l reading every dilations[l]-th step: (T, B, H) is padded to a multiple of d,
    permuted and reshaped to (T/d, B * d, H) so that the d interleaved sub-sequences run as one batch, and put
    back."""

    def __init__(self, input_size, hidden_size, dilations):
        super(DilatedRNN, self).__init__()
        self.dilations = dilations
        self.cells = nn.ModuleList([nn.GRU(input_size if i == 0 else hidden_size, hidden_size)
                                    for i in range(len(dilations))])

    def _pad_inputs(self, inputs, rate):
        n_steps = inputs.size(0)
        if n_steps % rate == 0:
            return inputs, n_steps // rate
        dilated_steps = n_steps // rate + 1
        zeros_ = inputs.new_zeros(dilated_steps * rate - n_steps, inputs.size(1), inputs.size(2))
        return torch.cat((inputs, zeros_)), dilated_steps

    def _dilate(self, inputs, rate):
        steps, batch, size = inputs.size()
        # step k * rate + j of sequence b becomes step k of sub-sequence b * rate + j
        return inputs.view(steps // rate, rate, batch, size).permute(0, 2, 1, 3).reshape(steps // rate, -1, size)

    def _undilate(self, outputs, rate):
        steps, dilated_batch, size = outputs.size()
        batch = dilated_batch // rate
        return outputs.view(steps, batch, rate, size).permute(0, 2, 1, 3).reshape(steps * rate, batch, size)

    def _prepare_inputs(self, inputs, rate):
        # the original's form, sub-sequence j first: the same rows in another batch order
        return torch.cat([inputs[j::rate, :, :] for j in range(rate)], 1)

    def forward(self, inputs):
        n_steps = inputs.size(0)
        for cell, rate in zip(self.cells, self.dilations):
            padded, dilated_steps = self._pad_inputs(inputs, rate)
            dilated = self._dilate(padded, rate)
            batch_first_order = dilated.view(dilated_steps, -1, rate, dilated.size(2)).transpose(1, 2)
            assert torch.equal(batch_first_order.reshape(dilated.size()), self._prepare_inputs(padded, rate))
            dilated_outputs, _ = cell(dilated)
            inputs = self._undilate(dilated_outputs, rate)[:n_steps]
        return inputs


class DilatedClassifier(nn.Module):
    def __init__(self, input_size, hidden_size, num_classes):
        super(DilatedClassifier, self).__init__()
        self.drnn = DilatedRNN(input_size, hidden_size, [1, 2, 4])
        self.linear = nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        """x (B, T, I) batch-first -> logits (B, classes) from the last step."""
        outputs = self.drnn(x.permute(1, 0, 2))
        return self.linear(outputs[-1])


def make_model(num_classes=3):
    return DilatedClassifier(1, 5, num_classes)


def train(model, x, y, steps, lr=0.05):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    history = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    return history
'''


MULTIPLICATIVE_AND_NESTED_LSTM = '''
class MultiplicativeLSTMCell(nn.Module):
    """mLSTM: an input-dependent recurrent transition m = (W_mx x) * (W_mh h), then the LSTM gates read x and m.
    x (B, I), state (h, c) (B, H) each."""

    def __init__(self, input_size, hidden_size):
        super(MultiplicativeLSTMCell, self).__init__()
        self.hidden_size = hidden_size
        self.wmx = nn.Linear(input_size, hidden_size, bias=False)
        self.wmh = nn.Linear(hidden_size, hidden_size, bias=False)
        self.wx = nn.Linear(input_size, 4 * hidden_size)
        self.wm = nn.Linear(hidden_size, 4 * hidden_size, bias=False)

    def forward(self, x, state):
        h, c = state
        m = self.wmx(x) * self.wmh(h)
        i, f, o, u = (self.wx(x) + self.wm(m)).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(u)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)

    def init_state(self, batch, like):
        zeros = like.new_zeros(batch, self.hidden_size)
        return zeros, zeros


class NestedLSTMCell(nn.Module):
    """Nested LSTM: the outer cell's memory is an inner LSTM cell. The outer gates give the inner step's
    input i * tanh(g) and its hidden state f * c_{t-1}; the outer c_t is the inner cell's output h~.
    State (h, c, inner c) (B, H) each."""

    def __init__(self, input_size, hidden_size):
        super(NestedLSTMCell, self).__init__()
        self.hidden_size = hidden_size
        self.outer = nn.Linear(input_size + hidden_size, 4 * hidden_size)
        self.inner = nn.Linear(2 * hidden_size, 4 * hidden_size)

    def inner_step(self, inner_input, inner_hidden, inner_cell):
        i, f, o, g = self.inner(torch.cat([inner_input, inner_hidden], dim=1)).chunk(4, 1)
        inner_cell = torch.sigmoid(f) * inner_cell + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(inner_cell), inner_cell

    def forward(self, x, state):
        h, c, inner_cell = state
        i, f, o, g = self.outer(torch.cat([x, h], dim=1)).chunk(4, 1)
        c, inner_cell = self.inner_step(torch.sigmoid(i) * torch.tanh(g), torch.sigmoid(f) * c, inner_cell)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c, inner_cell)

    def init_state(self, batch, like):
        zeros = like.new_zeros(batch, self.hidden_size)
        return zeros, zeros, zeros


class CharModel(nn.Module):
    def __init__(self, cell_type, vocab_size, embed_size, hidden_size):
        super(CharModel, self).__init__()
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.cell = cell_type(embed_size, hidden_size)
        self.out = nn.Linear(hidden_size, vocab_size)

    def forward(self, chars, state=None):
        """chars (B, T) -> logits (B, T, V), the last state."""
        x = self.embed(chars)
        if state is None:
            state = self.cell.init_state(chars.size(0), self.out.weight)
        outputs = []
        for t in range(chars.size(1)):
            h, state = self.cell(x[:, t], state)
            outputs.append(h)
        return self.out(torch.stack(outputs, 1)), state


def make_model(kind, vocab_size):
    cell_type = MultiplicativeLSTMCell if kind == 'mlstm' else NestedLSTMCell
    return CharModel(cell_type, vocab_size, 5, 7)


def train(model, text, steps, seq_length=5, lr=0.01):
    """Truncated BPTT over the (B, N) streams: Adam, the state detached between windows."""
    optimizer = optim.Adam(model.parameters(), lr=lr)
    state = None
    history = []
    for step in range(steps):
        start = step * seq_length
        inputs, targets = text[:, start:start + seq_length], text[:, start + 1:start + 1 + seq_length]
        if state is not None:
            state = tuple(s.detach() for s in state)
        optimizer.zero_grad()
        logits, state = model(inputs, state)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        history.append(loss.item())
    return history
'''


PROGRAMS = (TREE_LSTM, ON_LSTM, SRU, PHASED_LSTM, CLOCKWORK_RNN, SKIP_RNN, DILATED_RNN, MULTIPLICATIVE_AND_NESTED_LSTM)


def test_the_programs_differ_only_in_their_imports() -> None:
    assert TORCH_IMPORTS.count("\n") == MINIGRAD_IMPORTS.count("\n") == 5
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


def _assert_weights_match(torch_model: Any, mg_model: Any, initial: dict, rtol: float = 1e-5) -> None:
    """The shared check (same keys, weights moved), then each final weight to ``rtol`` (atol ``rtol / 10``)."""
    _assert_same_weights(torch_model, mg_model, initial)
    theirs = torch_model.state_dict()
    for name, value in mg_model.state_dict().items():
        expected = theirs[name].detach().numpy()
        np.testing.assert_allclose(value.numpy(), expected, rtol=rtol, atol=rtol / 10, err_msg=name)


def _random_parents(rng: np.random.Generator, size: int) -> list:
    """A random tree over ``size`` words as a 1-based parent list (node 0 the root)."""
    return [0] + [int(rng.integers(1, i + 1)) for i in range(1, size)]


def test_child_sum_tree_lstm(torch: Any) -> None:
    rng = np.random.default_rng(0)
    dataset = [(_random_parents(rng, n), rng.integers(1, 9, n).tolist(), int(rng.integers(0, 3))) for n in (4, 3, 5, 2)]
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(TREE_LSTM, 9)
    expected = torch_program["train"](torch_model, dataset, 3)
    losses = mg_program["train"](mg_model, dataset, 3)
    np.testing.assert_allclose(losses, expected, rtol=1e-5)
    _assert_weights_match(torch_model, mg_model, initial)
    assert mg_program["predict"](mg_model, dataset) == torch_program["predict"](torch_model, dataset)


def test_on_lstm_language_model(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _shared_bernoulli(monkeypatch, torch, seed=3)
    rng = np.random.default_rng(1)
    vocab, steps = 7, 4
    stream = (np.cumsum(np.where(rng.random((4 * steps + 1, 3)) < 0.8, 2, 1), axis=0) % vocab).astype(np.int64)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(ON_LSTM, vocab)
    expected, expected_eval, expected_dist = torch_program["train"](torch_model, torch.from_numpy(stream), vocab, steps)
    mg = mg_program["torch"]
    losses, eval_loss, dist = mg_program["train"](mg_model, mg.from_numpy(stream), vocab, steps)
    np.testing.assert_allclose(losses, expected, rtol=1e-5)
    np.testing.assert_allclose(eval_loss, expected_eval, rtol=1e-5)
    np.testing.assert_allclose(dist.numpy(), expected_dist.numpy(), rtol=1e-5, atol=1e-6)
    _assert_weights_match(torch_model, mg_model, initial)


def test_sru_bidirectional(torch: Any) -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 4, 3)).astype(np.float32)
    y = (x[:, :, 0].sum(0) > 0).astype(np.int64) + (x[-1, :, 1] > 0)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(SRU, 3, 3)
    expected = torch_program["train"](torch_model, x, y, 4)
    history = mg_program["train"](mg_model, x, y, 4)
    np.testing.assert_allclose(history, expected, rtol=1e-5)
    _assert_weights_match(torch_model, mg_model, initial)


def test_phased_lstm_on_irregular_timestamps(torch: Any) -> None:
    rng = np.random.default_rng(3)
    times = np.cumsum(rng.uniform(0.2, 1.5, (4, 7)), axis=1).astype(np.float32)
    periods = np.array([2.0, 5.0, 2.0, 5.0], dtype=np.float32)[:, None]
    x = np.sin(2 * np.pi * times / periods)[..., None].astype(np.float32)
    y = np.array([0, 1, 0, 1])
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(PHASED_LSTM)
    args = [(t.from_numpy(x), t.from_numpy(times), t.from_numpy(y)) for t in (torch, mg_program["torch"])]
    expected, expected_logits, expected_open = torch_program["train"](torch_model, *args[0], 4)
    losses, logits, openness = mg_program["train"](mg_model, *args[1], 4)
    np.testing.assert_allclose(losses, expected, rtol=1e-5)
    np.testing.assert_allclose(logits.numpy(), expected_logits.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(openness.numpy(), expected_open.numpy())
    _assert_weights_match(torch_model, mg_model, initial)


def test_clockwork_rnn(torch: Any) -> None:
    steps = np.arange(16, dtype=np.float32)
    signal = np.stack([np.sin(steps / 2) + 0.5 * np.sin(steps / 5), np.cos(steps / 3)])[..., None]
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(CLOCKWORK_RNN)
    expected = torch_program["train"](torch_model, torch.from_numpy(signal.copy()), 4)
    losses = mg_program["train"](mg_model, mg_program["torch"].from_numpy(signal.copy()), 4)
    np.testing.assert_allclose(losses, expected, rtol=1e-5)
    _assert_weights_match(torch_model, mg_model, initial)
    # the mask kept the weight's lower blocks out of the graph: their gradient is 0, so they never moved
    mask = mg_model.mask.numpy() == 0
    np.testing.assert_array_equal(mg_model.hidden_to_hidden.weight.numpy()[mask],
                                  initial["hidden_to_hidden.weight"].numpy()[mask])


def test_skip_rnn_with_straight_through_rounding(torch: Any) -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 4, 2)).astype(np.float32)
    y = (x[0, :, 0] > 0).astype(np.int64)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(SKIP_RNN)
    expected = torch_program["train"](torch_model, torch.from_numpy(x), torch.from_numpy(y), 4)
    mg = mg_program["torch"]
    history = mg_program["train"](mg_model, mg.from_numpy(x), mg.from_numpy(y), 4)
    np.testing.assert_allclose(history, expected, rtol=1e-5)
    _assert_weights_match(torch_model, mg_model, initial)
    assert 0 < expected[-1][2] < x.shape[0] * x.shape[1]   # some steps were skipped, some not


def test_dilated_rnn(torch: Any) -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 7, 1)).astype(np.float32)   # 7 steps: padded for dilations 2 and 4
    y = np.array([0, 1, 2])
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(DILATED_RNN)
    expected = torch_program["train"](torch_model, torch.from_numpy(x), torch.from_numpy(y), 4)
    mg = mg_program["torch"]
    losses = mg_program["train"](mg_model, mg.from_numpy(x), mg.from_numpy(y), 4)
    np.testing.assert_allclose(losses, expected, rtol=1e-5)
    _assert_weights_match(torch_model, mg_model, initial)


@pytest.mark.parametrize("kind", ["mlstm", "nlstm"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_multiplicative_and_nested_lstm(torch: Any, kind: str, dtype: str) -> None:
    rng = np.random.default_rng(6)
    text = (np.cumsum(rng.integers(1, 3, (2, 21)), axis=1) % 6).astype(np.int64)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(MULTIPLICATIVE_AND_NESTED_LSTM, kind, 6)
    mg = mg_program["torch"]
    torch_model.to(getattr(torch, dtype))
    mg_model.to(getattr(mg, dtype))
    expected = torch_program["train"](torch_model, torch.from_numpy(text), 4)
    losses = mg_program["train"](mg_model, mg.from_numpy(text), 4)
    rtol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(losses, expected, rtol=rtol)
    _assert_weights_match(torch_model, mg_model, initial, rtol=rtol)
