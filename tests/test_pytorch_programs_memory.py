"""Three memory-and-mixture programs, run unchanged on torch and on minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program: it keeps the original's PyTorch calls
and habits in the same roles, with our own names, structure and comments, a small model, a few steps and
generated data (the helpers and the rule come from tests/test_pytorch_programs.py and
tests/test_pytorch_programs_more.py):

* ``NTM_COPY`` follows loudinthecloud/pytorch-ntm (https://github.com/loudinthecloud/pytorch-ntm), a Neural
  Turing Machine on the copy task, simplified: an ``nn.LSTMCell`` controller whose initial state is a pair of
  ``nn.Parameter``\\ s, a memory bank ``torch.Tensor(N, M)`` registered as a buffer and filled by
  ``nn.init.uniform_``, read-vector biases kept as buffers *and* in a plain list (the list must see the values
  ``load_state_dict`` writes), content addressing by ``F.cosine_similarity(memory + 1e-16, key + 1e-16,
  dim=-1)`` and ``F.softmax(beta * similarity, dim=1)``, interpolation ``g * wc + (1 - g) * w_prev``, the
  circular shift written two ways (the read head: ``torch.cat([w[-1:], w, w[:1]])`` through ``F.conv1d`` one
  batch row at a time into ``result[b] = ...`` of a ``torch.zeros`` tensor; the write head: ``torch.roll`` and
  a weighted sum), sharpening ``w ** gamma / (torch.sum(w ** gamma, dim=1, keepdim=True) + 1e-16)``, erase and
  add writes with ``torch.matmul(w.unsqueeze(-1), e.unsqueeze(1))`` and ``torch.ger``, ``F.softplus``,
  ``torch.sigmoid``, ``F.relu``; the outputs gathered with ``y_out[i], _ = net()``, ``nn.BCELoss``,
  ``clip_grad_value_(params, 10)`` and ``RMSprop(momentum=0.9, alpha=0.95, lr=1e-4)``, on a 3-step copy task;
* ``MIXTURE_DENSITY`` follows Bishop's mixture density network as in hardmaru's pytorch MDN notebooks
  (https://github.com/hardmaru/pytorch_notebooks) on the inverted sine problem: ``pi = F.softmax(self.pi(h),
  -1)``, ``sigma = torch.exp(self.sigma(h))``, ``mu = self.mu(h)``, the negative log-likelihood by hand
  (``Normal(mu, sigma).log_prob(y.unsqueeze(-1))`` and ``torch.logsumexp(torch.log(pi) + log_prob, dim=-1)``)
  and through ``MixtureSameFamily(Categorical(logits=...), Normal(...))``, a 2-D target through
  ``Independent(Normal(...), 1)`` components, sampling by ``torch.multinomial(pi, 1)`` and ``torch.gather``
  with ``torch.randn_like`` noise; and a recurrent MDN (a GRU and a bivariate-normal mixture head, Graves'
  handwriting prediction simplified: ``rho = torch.tanh(...)``, the bivariate density written out,
  ``torch.clamp(min=1e-20)`` before the log, an end-of-stroke Bernoulli through ``F.binary_cross_entropy``);
* ``MEMORY_NETWORK`` follows the End-To-End Memory Networks of Sukhbaatar et al. as the public PyTorch ports
  write them (e.g. https://github.com/nmhkahn/MemN2N-pytorch) on bAbI-like generated stories: ``nn.Embedding``
  A and C per hop with adjacent weight tying (``self.C[i].weight = self.A[i + 1].weight``, B tied to A[0] and the
  answer layer to the last C), a position-encoding buffer, temporal encodings as ``nn.Parameter``,
  ``torch.sum(emb * pe, dim=2)``, ``F.softmax(torch.bmm(m, u.unsqueeze(2)).squeeze(2), dim=-1)`` over several
  hops, linear start (the softmax left out for the first epochs), ``clip_grad_norm_(params, 40)`` and SGD whose
  rate is halved every few epochs by ``for g in optimizer.param_groups: g['lr'] /= 2``.

Random draws: the two engines' generators differ, so the MDN's sampling reads the same numbers in both runs
(``_shared_noise`` for ``randn_like`` and ``randn``, the per-row inverse-CDF ``_shared_multinomial`` for
``torch.multinomial`` and ``Categorical.sample``); every other random number is an initial weight, copied from
torch's model by its state dict. The MDN and the memory network also run under ``set_default_dtype(float64)`` in
both libraries (1e-10).

What the programs (and probes of their habits) found, each with its regression test at the end:

* an in-place change of x after an op whose backward does not read x was refused, where PyTorch (which saves
  only what backward reads) runs it: ``x * 2``, ``x * mask``, ``x / c``, ``x @ W_frozen``, ``bmm``,
  ``einsum``, ``addcmul`` with constants (``Function.kept_for_backward``, ``ops._util.read_by_the_others``),
  and ``reciprocal``, ``rsqrt``, ``exp2``, ``tan``, ``frac``, whose derivatives read their result only;
* an in-place write into the result of ``repeat``/``tile``, ``roll`` without dims, ``max``/``min``/``median``/
  ``kthvalue`` values along a dim, or advanced indexing (``x[:, idx]``, ``index_select``) was refused as "a
  view of another tensor": NumPy returns these as views of a temporary of the op's own
  (``ops._util.fresh_memory``). A memory bank made with ``bias.repeat(B, 1, 1)`` and written row by row is
  the NTM habit it blocked.

Left as they are: PyTorch's ``binary_cross_entropy`` refuses a float32 target for a float64 input (minigrad
promotes, DESIGN §3), and ``binary_cross_entropy_with_logits`` then returns float32 (minigrad float64); an in-place
change after ``expm1`` is refused (its derivative reads x, exp(x), for accuracy in the tail, where PyTorch's reads
the result); minigrad accepts some in-place changes PyTorch refuses (after ``softplus``, ``layer_norm``,
``var``/``std``: their gradients read nothing that changed, and agree); an in-place write into ``F.unfold`` or
``quantile`` results is still refused.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import (
    MINIGRAD_IMPORTS,
    TORCH_IMPORTS,
    _assert_same_weights,
    _program,
    _twin_models,
)
from tests.test_pytorch_programs_more import _shared_noise
from tests.test_pytorch_programs_rl import _shared_multinomial

# the extra lines the programs import with; each line names the same thing in both
TORCH_IMPORTS_MEMORY = TORCH_IMPORTS + """\
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal
from torch.nn.utils import clip_grad_norm_, clip_grad_value_
"""

MINIGRAD_IMPORTS_MEMORY = MINIGRAD_IMPORTS + """\
from minigrad.distributions import Categorical, Independent, MixtureSameFamily, Normal
from minigrad.nn.utils import clip_grad_norm_, clip_grad_value_
"""


NTM_COPY = '''
def split_columns(matrix, widths):
    """(B, sum(widths)) -> a list of (B, width) column blocks, left to right."""
    assert matrix.size(1) == sum(widths)
    blocks, start = [], 0
    for width in widths:
        blocks.append(matrix[:, start:start + width])
        start += width
    return blocks


def circular_conv(w, s):
    """One row: w (N,) convolved circularly with a 3-tap shift kernel s (3,)."""
    wrapped = torch.cat([w[-1:], w, w[:1]])
    return F.conv1d(wrapped.view(1, 1, -1), s.view(1, 1, -1)).view(-1)


class Memory(nn.Module):
    """An N x M memory bank per batch row, addressed by content and location."""

    def __init__(self, N, M):
        super().__init__()
        self.N, self.M = N, M
        self.register_buffer("initial_memory", torch.Tensor(N, M))
        bound = 1 / math.sqrt(N + M)
        with torch.no_grad():
            nn.init.uniform_(self.initial_memory, -bound, bound)

    def reset(self, batch_size):
        self.batch_size = batch_size
        self.memory = self.initial_memory.clone().repeat(batch_size, 1, 1)   # (B, N, M)

    def read(self, w):
        return torch.matmul(w.unsqueeze(1), self.memory).squeeze(1)          # (B, M)

    def write(self, w, e, a):
        erase = torch.matmul(w.unsqueeze(-1), e.unsqueeze(1))                # (B, N, M)
        add = torch.stack([torch.ger(w[b], a[b]) for b in range(self.batch_size)])
        self.memory = self.memory * (1 - erase) + add

    def address(self, k, beta, g, s, gamma, w_prev, shift="conv"):
        similarity = F.cosine_similarity(self.memory + 1e-16, k.unsqueeze(1) + 1e-16, dim=-1)
        wc = F.softmax(beta * similarity, dim=1)
        wg = g * wc + (1 - g) * w_prev
        w_hat = self.shift_by_conv(wg, s) if shift == "conv" else self.shift_by_roll(wg, s)
        w_pow = w_hat ** gamma
        return w_pow / (torch.sum(w_pow, dim=1, keepdim=True) + 1e-16)

    def shift_by_conv(self, wg, s):
        result = torch.zeros(wg.size())
        for b in range(self.batch_size):
            result[b] = circular_conv(wg[b], s[b])
        return result

    def shift_by_grouped_conv(self, wg, s):
        # all rows at once: one group per row, each with its own kernel
        wrapped = torch.cat([wg[:, -1:], wg, wg[:, :1]], dim=1)
        return F.conv1d(wrapped.unsqueeze(0), s.unsqueeze(1), groups=wg.size(0)).squeeze(0)

    def shift_by_roll(self, wg, s):
        # out[i] = s0 w[i-1] + s1 w[i] + s2 w[i+1], as the convolutions above
        return sum(s[:, j:j + 1] * torch.roll(wg, 1 - j, dims=1) for j in range(3))


class Head(nn.Module):
    def __init__(self, memory, controller_size, widths, shift):
        super().__init__()
        self.memory, self.widths, self.shift = memory, widths, shift
        self.fc = nn.Linear(controller_size, sum(widths))
        nn.init.xavier_uniform_(self.fc.weight, gain=1.4)
        nn.init.normal_(self.fc.bias, std=0.01)

    def initial_state(self, batch_size):
        return torch.zeros(batch_size, self.memory.N)

    def address(self, k, beta, g, s, gamma, w_prev):
        beta = F.softplus(beta)
        g = torch.sigmoid(g)
        s = F.softmax(s, dim=1)
        gamma = 1 + F.softplus(gamma)
        return self.memory.address(k.clone(), beta, g, s, gamma, w_prev, self.shift)


class ReadHead(Head):
    def __init__(self, memory, controller_size):
        super().__init__(memory, controller_size, [memory.M, 1, 1, 3, 1], shift="conv")

    def is_read_head(self):
        return True

    def forward(self, h, w_prev):
        w = self.address(*split_columns(self.fc(h), self.widths), w_prev)
        return self.memory.read(w), w


class WriteHead(Head):
    def __init__(self, memory, controller_size):
        super().__init__(memory, controller_size, [memory.M, 1, 1, 3, 1, memory.M, memory.M], shift="roll")

    def is_read_head(self):
        return False

    def forward(self, h, w_prev):
        k, beta, g, s, gamma, e, a = split_columns(self.fc(h), self.widths)
        w = self.address(k, beta, g, s, gamma, w_prev)
        self.memory.write(w, torch.sigmoid(e), a)
        return w


class NTM(nn.Module):
    """Inputs (B, I) one step at a time -> outputs (B, O) in (0, 1), state carried in the module."""

    def __init__(self, num_inputs, num_outputs, controller_size, N, M):
        super().__init__()
        self.num_inputs, self.M = num_inputs, M
        self.memory = Memory(N, M)
        self.heads = nn.ModuleList([ReadHead(self.memory, controller_size), WriteHead(self.memory, controller_size)])
        self.initial_reads = []
        for index, head in enumerate(self.heads):
            if head.is_read_head():
                bias = torch.randn(1, M) * 0.01
                self.register_buffer("read{}_bias".format(index), bias)
                self.initial_reads.append(bias)
        self.controller = nn.LSTMCell(num_inputs + len(self.initial_reads) * M, controller_size)
        bound = 5 / math.sqrt(num_inputs + len(self.initial_reads) * M + controller_size)
        for p in self.controller.parameters():
            if p.dim() == 1:
                nn.init.constant_(p, 0)
            else:
                nn.init.uniform_(p, -bound, bound)
        self.h_bias = nn.Parameter(torch.randn(1, controller_size) * 0.05)
        self.c_bias = nn.Parameter(torch.randn(1, controller_size) * 0.05)
        self.fc = nn.Linear(controller_size + len(self.initial_reads) * M, num_outputs)
        nn.init.xavier_uniform_(self.fc.weight, gain=1)
        nn.init.normal_(self.fc.bias, std=0.01)

    def init_sequence(self, batch_size):
        self.batch_size = batch_size
        self.memory.reset(batch_size)
        reads = [r.clone().repeat(batch_size, 1) for r in self.initial_reads]
        controller = (self.h_bias.repeat(batch_size, 1), self.c_bias.repeat(batch_size, 1))
        self.state = reads, controller, [head.initial_state(batch_size) for head in self.heads]

    def forward(self, x=None):
        if x is None:
            x = torch.zeros(self.batch_size, self.num_inputs)
        prev_reads, controller_state, prev_weights = self.state
        h, c = self.controller(torch.cat([x] + prev_reads, dim=1), controller_state)
        reads, weights = [], []
        for head, w_prev in zip(self.heads, prev_weights):
            if head.is_read_head():
                r, w = head(F.relu(h), w_prev)   # the read head sees the rectified controller output
                reads.append(r)
            else:
                w = head(h, w_prev)
            weights.append(w)
        self.state = reads, (h, c), weights
        return torch.sigmoid(self.fc(torch.cat([h] + reads, dim=1))), self.state


def copy_batch(rng_bits, seq_len, width):
    """A copy-task batch from a (seq_len, B, width) 0/1 array: inputs with a delimiter channel, targets."""
    bits = torch.from_numpy(rng_bits)                     # int64 0/1
    batch_size = bits.size(1)
    inputs = torch.zeros(seq_len + 1, batch_size, width + 1)
    inputs[:seq_len, :, :width] = bits                    # cast to the float dtype on assignment
    inputs[seq_len, :, width] = 1.0
    return inputs, bits.to(torch.get_default_dtype())


def make_model(width=3, controller_size=12, N=8, M=4):
    return NTM(width + 1, width, controller_size, N, M)


def train(net, batches, lr=1e-4):
    criterion = nn.BCELoss()
    optimizer = optim.RMSprop(net.parameters(), momentum=0.9, alpha=0.95, lr=lr)
    losses, costs, grad_norms = [], [], []
    for X, Y in batches:
        optimizer.zero_grad()
        net.init_sequence(Y.size(1))
        for i in range(X.size(0)):
            net(X[i])
        y_out = torch.zeros(Y.size())
        for i in range(Y.size(0)):
            y_out[i], _ = net()
        loss = criterion(y_out, Y)
        loss.backward()
        clip_grad_value_([p for p in net.parameters() if p.grad is not None], 10)
        grad_norms.append([p.grad.norm().item() for p in net.parameters()])
        optimizer.step()
        binarized = (y_out.detach() > 0.5).float()
        costs.append(torch.sum(torch.abs(binarized - Y)).item() / Y.size(1))
        losses.append(loss.item())
    read_weights = net.state[2][0].detach()
    return losses, costs, grad_norms, read_weights.numpy().copy()
'''


MIXTURE_DENSITY = '''
ONE_OVER_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class MixtureDensityNetwork(nn.Module):
    """x (B, 1) -> mixture weights pi, scales sigma, means mu, each (B, K)."""

    def __init__(self, hidden, components):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(1, hidden), nn.Tanh())
        self.pi = nn.Linear(hidden, components)
        self.sigma = nn.Linear(hidden, components)
        self.mu = nn.Linear(hidden, components)

    def forward(self, x):
        h = self.body(x)
        pi = F.softmax(self.pi(h), -1)
        sigma = torch.exp(self.sigma(h))
        mu = self.mu(h)
        return pi, sigma, mu

    def distribution(self, x):
        h = self.body(x)
        return MixtureSameFamily(Categorical(logits=self.pi(h)), Normal(self.mu(h), torch.exp(self.sigma(h))))


def gaussian_density(y, mu, sigma):
    """The notebook's density by hand: y (B, 1) against every component (B, K)."""
    z = (y.expand_as(mu) - mu) * torch.reciprocal(sigma)
    return torch.exp(-0.5 * (z * z)) * torch.reciprocal(sigma) * ONE_OVER_SQRT_2PI


def nll_by_hand(pi, sigma, mu, y):
    return torch.mean(-torch.log(torch.sum(gaussian_density(y.unsqueeze(-1), mu, sigma) * pi, dim=1)))


def nll_logsumexp(pi, sigma, mu, y):
    log_prob = Normal(mu, sigma).log_prob(y.unsqueeze(-1))           # (B, K)
    return -torch.logsumexp(torch.log(pi) + log_prob, dim=-1).mean()


def sample(pi, sigma, mu):
    """One draw per row: a component by its weight, then that component's normal."""
    k = torch.multinomial(pi, 1)                                     # (B, 1)
    mu_k, sigma_k = torch.gather(mu, 1, k), sigma.gather(1, k)
    return (mu_k + sigma_k * torch.randn_like(sigma_k)).squeeze(1), k.squeeze(1)


class MixtureDensity2D(nn.Module):
    """x (B, 1) -> a mixture of K diagonal normals over 2-D points, per row."""

    def __init__(self, hidden, components):
        super().__init__()
        self.components = components
        self.body = nn.Sequential(nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh())
        self.head = nn.Linear(hidden, components * 5)

    def forward(self, x):
        params = self.head(self.body(x))
        logits, mu, log_sigma = torch.split(params, [self.components, 2 * self.components, 2 * self.components], -1)
        mu = mu.view(-1, self.components, 2)
        sigma = log_sigma.view(-1, self.components, 2).exp()
        return MixtureSameFamily(Categorical(logits=logits), Independent(Normal(mu, sigma), 1))


class MultiOutputMDN(nn.Module):
    """x (B, I) -> pi (B, K) through nn.Softmax(dim=1), sigma and mu (B, K, O)."""

    def __init__(self, in_features, out_features, components):
        super().__init__()
        self.out_features, self.components = out_features, components
        self.pi = nn.Sequential(nn.Linear(in_features, components), nn.Softmax(dim=1))
        self.sigma = nn.Linear(in_features, out_features * components)
        self.mu = nn.Linear(in_features, out_features * components)

    def forward(self, x):
        sigma = torch.exp(self.sigma(x)).view(-1, self.components, self.out_features)
        return self.pi(x), sigma, self.mu(x).view(-1, self.components, self.out_features)


def gaussian_probability(sigma, mu, target, log=False):
    """The density (or log density) of target (B, O) under each diagonal component: (B, K)."""
    target = target.unsqueeze(1).expand_as(mu)
    if log:
        ret = -torch.log(sigma) - 0.5 * math.log(2 * math.pi) - 0.5 * torch.pow((target - mu) / sigma, 2)
        return torch.sum(ret, 2)
    ret = (ONE_OVER_SQRT_2PI / sigma) * torch.exp(-0.5 * ((target - mu) / sigma) ** 2)
    return torch.prod(ret, 2)


def multi_output_loss(pi, sigma, mu, target):
    by_product = -torch.log(torch.sum(pi * gaussian_probability(sigma, mu, target), dim=1)).mean()
    by_log = -torch.logsumexp(torch.log(pi) + gaussian_probability(sigma, mu, target, log=True), dim=1).mean()
    return by_product, by_log


def sample_components(pi, sigma, mu):
    """One draw per row; as in the public code, the gathers read the picked component's first output
    only (an index smaller than the input in dim 2), broadcast over the output dims."""
    picks = Categorical(pi).sample().view(pi.size(0), 1, 1)
    noise = torch.randn((sigma.size(2), sigma.size(0)), requires_grad=False)
    scale = sigma.gather(1, picks).detach().squeeze()
    mean = mu.detach().gather(1, picks).squeeze()
    return (noise * scale + mean).transpose(0, 1)


class StrokeMDN(nn.Module):
    """Pen offsets (B, T, 3) -> the parameters of each next offset's distribution: an end-of-stroke
    probability and a mixture of K bivariate normals."""

    def __init__(self, hidden, components):
        super().__init__()
        self.components = components
        self.rnn = nn.GRU(3, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1 + 6 * components)

    def forward(self, strokes, state=None):
        out, state = self.rnn(strokes, state)
        params = self.head(out)
        eos_logit, pi_logit, mu1, mu2, log_s1, log_s2, rho = torch.split(
            params, [1] + [self.components] * 6, dim=-1)
        eos = torch.sigmoid(-eos_logit)
        pi = F.softmax(pi_logit, dim=-1)
        return eos, pi, mu1, mu2, torch.exp(log_s1), torch.exp(log_s2), torch.tanh(rho), state


def bivariate_normal(x1, x2, mu1, mu2, s1, s2, rho):
    """N(x | mu, s, rho) of each component, written out (Graves 2013, eq. 24-25)."""
    z1, z2 = (x1 - mu1) / s1, (x2 - mu2) / s2
    z = z1 ** 2 + z2 ** 2 - 2 * rho * z1 * z2
    one_minus = 1 - rho ** 2
    return torch.exp(-z / (2 * one_minus)) / (2 * math.pi * s1 * s2 * torch.sqrt(one_minus))


def stroke_loss(outputs, targets):
    eos, pi, mu1, mu2, s1, s2, rho, _ = outputs
    density = bivariate_normal(targets[..., 0:1], targets[..., 1:2], mu1, mu2, s1, s2, rho)
    mixture = torch.sum(pi * density, dim=-1)
    position = -torch.log(torch.clamp(mixture, min=1e-20))
    pen = F.binary_cross_entropy(eos.squeeze(-1), targets[..., 2], reduction='none')
    return (position + pen).mean()


def make_model(hidden=8, components=3):
    return MixtureDensityNetwork(hidden, components)


def make_2d(hidden=8, components=3):
    return MixtureDensity2D(hidden, components)


def make_multi_output(in_features=2, out_features=2, components=3):
    return MultiOutputMDN(in_features, out_features, components)


def train_multi_output(model, x, target, steps, lr=0.02):
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    losses = []
    for step in range(steps):
        by_product, by_log = multi_output_loss(*model(x), target)
        optimizer.zero_grad()
        by_log.backward()
        optimizer.step()
        losses.append([by_product.item(), by_log.item()])
    return losses


def make_strokes(hidden=8, components=2):
    return StrokeMDN(hidden, components)


def train(model, x, y, steps, lr=0.01):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    losses, grads = [], []
    for step in range(steps):
        pi, sigma, mu = model(x)
        loss = nll_logsumexp(pi, sigma, mu, y)
        other = nll_by_hand(pi, sigma, mu, y)
        mixture = -model.distribution(x).log_prob(y).mean()
        optimizer.zero_grad()
        loss.backward()
        grads.append(model.pi.weight.grad.clone())
        optimizer.step()
        losses.append([loss.item(), other.item(), mixture.item()])
    return losses, torch.stack(grads).numpy()


def mixture_summary(model, x, y):
    with torch.no_grad():
        mixture = model.distribution(x)
        return [t.numpy() for t in (mixture.mean, mixture.variance, mixture.cdf(y), mixture.log_prob(y))]


def train_2d(model, x, points, steps, lr=0.01):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    losses = []
    for step in range(steps):
        loss = -model(x).log_prob(points).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def train_strokes(model, strokes, steps, lr=0.005, clip=1.0):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    inputs, targets = strokes[:, :-1], strokes[:, 1:]
    losses, norms = [], []
    for step in range(steps):
        optimizer.zero_grad()
        loss = stroke_loss(model(inputs), targets)
        loss.backward()
        norms.append(clip_grad_norm_(model.parameters(), clip).item())
        optimizer.step()
        losses.append(loss.item())
    return losses, norms
'''


MEMORY_NETWORK = '''
def position_encoding(sentence_size, embedding_dim):
    """l_kj = (1 - j/J) - (k/d)(1 - 2j/J), as a (J, d) matrix (Sukhbaatar et al., section 4.1)."""
    j = torch.arange(1., sentence_size + 1).unsqueeze(1)    # (J, 1)
    k = torch.arange(1., embedding_dim + 1).unsqueeze(0)    # (1, d)
    return (1 - j / sentence_size) - (k / embedding_dim) * (1 - 2 * j / sentence_size)


class MemN2N(nn.Module):
    """Stories (B, S, J) and queries (B, J) of word ids -> answer logits (B, V)."""

    def __init__(self, vocab_size, embedding_dim, sentence_size, memory_size, hops=3):
        super().__init__()
        self.hops = hops
        self.linear_start = True
        self.A = nn.ModuleList([nn.Embedding(vocab_size, embedding_dim, padding_idx=0) for _ in range(hops)])
        self.C = nn.ModuleList([nn.Embedding(vocab_size, embedding_dim, padding_idx=0) for _ in range(hops)])
        for layer in list(self.A) + list(self.C):
            nn.init.normal_(layer.weight, 0, 0.1)
        for i in range(hops - 1):
            self.C[i].weight = self.A[i + 1].weight       # adjacent weight tying
        self.B = self.A[0]
        self.TA = nn.Parameter(torch.randn(1, memory_size, embedding_dim).normal_(0, 0.1))
        self.TC = nn.Parameter(torch.randn(1, memory_size, embedding_dim).normal_(0, 0.1))
        self.W = nn.Linear(embedding_dim, vocab_size, bias=False)
        self.W.weight = self.C[-1].weight
        self.register_buffer("pe", position_encoding(sentence_size, embedding_dim))

    def forward(self, story, query):
        u = torch.sum(self.B(query) * self.pe, dim=1)                     # (B, d)
        attention = []
        for hop in range(self.hops):
            m = torch.sum(self.A[hop](story) * self.pe, dim=2) + self.TA    # (B, S, d)
            c = torch.sum(self.C[hop](story) * self.pe, dim=2) + self.TC
            scores = torch.bmm(m, u.unsqueeze(2)).squeeze(2)                 # (B, S)
            p = scores if self.linear_start else F.softmax(scores, dim=-1)
            o = torch.bmm(p.unsqueeze(1), c).squeeze(1)
            u = u + o
            attention.append(p.detach())
        return self.W(u), torch.stack(attention, 1)


def make_model(vocab_size, sentence_size, memory_size, embedding_dim=10):
    return MemN2N(vocab_size, embedding_dim, sentence_size, memory_size)


def train(model, stories, queries, answers, epochs, batch_size=4, lr=0.01, linear_start_epochs=2, halve_every=3):
    optimizer = optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss(reduction='sum')
    stories, queries, answers = torch.from_numpy(stories), torch.from_numpy(queries), torch.from_numpy(answers)
    history = []
    for epoch in range(epochs):
        if epoch == linear_start_epochs:
            model.linear_start = False
        if epoch > 0 and epoch % halve_every == 0:
            for g in optimizer.param_groups:
                g['lr'] /= 2
        total, correct = 0.0, 0
        for start in range(0, len(answers), batch_size):
            rows = slice(start, start + batch_size)
            s, q, a = stories[rows], queries[rows], answers[rows]
            optimizer.zero_grad()
            logits, _ = model(s, q)
            loss = loss_fn(logits, a)
            loss.backward()
            clip_grad_norm_(model.parameters(), 40)
            optimizer.step()
            total += loss.item()
            correct += (logits.argmax(1) == a).sum().item()
        history.append((total, correct, optimizer.param_groups[0]['lr']))
    with torch.no_grad():
        _, attention = model(stories[:2], queries[:2])
    return history, attention.numpy()
'''


PROGRAMS = (NTM_COPY, MIXTURE_DENSITY, MEMORY_NETWORK)


def _twins(source: str, *args: Any, factory: str = "make_model") -> tuple:
    """Both programs and their ``factory(*args)``, minigrad's loaded with torch's initial weights."""
    return _twin_models(source, *args, imports=(TORCH_IMPORTS_MEMORY, MINIGRAD_IMPORTS_MEMORY), factory=factory)


@pytest.fixture
def float64_default(torch: Any) -> Any:
    """Both libraries' default dtype float64 for the test, restored after it."""
    import minigrad as mg  # noqa: PLC0415

    before = torch.get_default_dtype(), mg.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    mg.set_default_dtype(mg.float64)
    yield torch
    torch.set_default_dtype(before[0])
    mg.set_default_dtype(before[1])


def test_the_programs_differ_only_in_their_imports() -> None:
    torch_lines, mg_lines = TORCH_IMPORTS_MEMORY.splitlines(), MINIGRAD_IMPORTS_MEMORY.splitlines()
    assert len(torch_lines) == len(mg_lines) == 7
    for torch_line, mg_line in zip(torch_lines[5:], mg_lines[5:]):
        assert torch_line.replace("torch", "minigrad") == mg_line
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. Neural Turing Machine


def test_ntm_copy_task(torch: Any) -> None:
    rng = np.random.default_rng(0)
    seq_len, width, batch_size, steps = 3, 3, 2, 3
    bits = [rng.integers(0, 2, (seq_len, batch_size, width)) for _ in range(steps)]
    torch_program, torch_model, mg_program, mg_model, initial = _twins(NTM_COPY)
    # the read bias sits in a plain list as well as in the buffers: it must hold torch's loaded values
    np.testing.assert_array_equal(mg_model.initial_reads[0].numpy(), torch_model.initial_reads[0].numpy())
    expected = torch_program["train"](torch_model, [torch_program["copy_batch"](b, seq_len, width) for b in bits])
    got = mg_program["train"](mg_model, [mg_program["copy_batch"](b, seq_len, width) for b in bits])
    for ours, theirs in zip(got, expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    _assert_same_weights(torch_model, mg_model, initial)


def test_ntm_circular_shift_three_ways(float64_default: Any) -> None:
    """Per-row conv1d into ``result[b] = ...`` of a ``torch.zeros`` (the default dtype), one grouped conv1d, and
    torch.roll: one shift, in both engines."""
    rng = np.random.default_rng(1)
    wg, s, weights = rng.random((3, 5)), rng.random((3, 3)), rng.random((3, 5))
    results = []
    for imports in (TORCH_IMPORTS_MEMORY, MINIGRAD_IMPORTS_MEMORY):
        program = _program(NTM_COPY, imports)
        lib, memory = program["torch"], program["Memory"](5, 2)
        memory.reset(3)
        for shift in (memory.shift_by_conv, memory.shift_by_grouped_conv, memory.shift_by_roll):
            w, kernel = lib.tensor(wg, requires_grad=True), lib.tensor(s, requires_grad=True)
            shifted = shift(w, kernel)
            (shifted * lib.tensor(weights)).sum().backward()
            results.append([shifted.detach().numpy(), w.grad.numpy(), kernel.grad.numpy()])
    assert results[0][0].dtype == results[-1][0].dtype == np.float64
    for result in results[1:]:
        for ours, theirs in zip(result, results[0]):
            np.testing.assert_allclose(ours, theirs, rtol=1e-12)


# ----------------------------------------------------------------------------- 2. Mixture density networks


def _inverted_sine(count: int, seed: int) -> tuple:
    """Bishop's inverse problem: y uniform, x = 7 sin(0.75 y) + 0.5 y + noise; the net maps x (N, 1) to y (N,)."""
    rng = np.random.default_rng(seed)
    y = rng.uniform(-10.5, 10.5, count).astype(np.float32)
    x = (7 * np.sin(0.75 * y) + 0.5 * y + rng.normal(0, 1, count)).astype(np.float32)
    return x[:, None] / 10, y / 10


def test_mixture_density_network(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = _inverted_sine(32, 5)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(MIXTURE_DENSITY)
    runs = []
    for program, model in ((torch_program, torch_model), (mg_program, mg_model)):
        lib = program["torch"]
        xs, ys = lib.from_numpy(x), lib.from_numpy(y)
        losses, grads = program["train"](model, xs, ys, 6)
        runs.append((losses, grads, program["mixture_summary"](model, xs, ys)))
    (expected, expected_grads, expected_summary), (losses, grads, summary) = runs
    np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(losses)[:, 1:], np.asarray(losses)[:, :2], rtol=1e-5)   # three ways, one NLL
    np.testing.assert_allclose(grads, expected_grads, rtol=1e-4, atol=1e-6)
    for ours, theirs in zip(summary, expected_summary):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    _assert_same_weights(torch_model, mg_model, initial)

    # sampling: the same component picks and the same noise in both engines
    import minigrad as mg  # noqa: PLC0415

    _shared_noise(monkeypatch, torch, seed=7)
    for lib in (torch, mg):
        _shared_multinomial(monkeypatch, lib, seed=8)
    draws = []
    for program, model in ((torch_program, torch_model), (mg_program, mg_model)):
        with program["torch"].no_grad():
            values, picks = program["sample"](*model(program["torch"].from_numpy(x)))
        draws.append((values.numpy(), picks.numpy()))
    np.testing.assert_array_equal(draws[1][1], draws[0][1])
    np.testing.assert_allclose(draws[1][0], draws[0][0], rtol=1e-5, atol=1e-6)


def test_mixture_density_network_in_2d(torch: Any) -> None:
    rng = np.random.default_rng(6)
    t = rng.uniform(-1, 1, (24, 1)).astype(np.float32)
    # two branches per x: a point on either side of a circle
    side = np.where(rng.random(24) < 0.5, 1.0, -1.0)[:, None]
    points = np.concatenate([np.cos(np.pi * t), side * np.sin(np.pi * t)], 1).astype(np.float32)
    points += rng.normal(0, 0.05, points.shape).astype(np.float32)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(MIXTURE_DENSITY, factory="make_2d")
    expected = torch_program["train_2d"](torch_model, torch.from_numpy(t), torch.from_numpy(points), 5)
    mg = mg_program["torch"]
    losses = mg_program["train_2d"](mg_model, mg.from_numpy(t), mg.from_numpy(points), 5)
    np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-6)
    _assert_same_weights(torch_model, mg_model, initial)


def test_multi_output_mixture_density_network(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(11)
    x = rng.normal(size=(16, 2)).astype(np.float32)
    target = np.stack([x[:, 0] * x[:, 1], np.abs(x[:, 0]) - x[:, 1]], 1).astype(np.float32)
    twins = _twins(MIXTURE_DENSITY, factory="make_multi_output")
    torch_program, torch_model, mg_program, mg_model, initial = twins
    expected = torch_program["train_multi_output"](torch_model, torch.from_numpy(x), torch.from_numpy(target), 5)
    mg = mg_program["torch"]
    losses = mg_program["train_multi_output"](mg_model, mg.from_numpy(x), mg.from_numpy(target), 5)
    np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(losses)[:, 0], np.asarray(losses)[:, 1], rtol=1e-5)
    _assert_same_weights(torch_model, mg_model, initial)

    _shared_noise(monkeypatch, torch, seed=12)   # torch.randn((O, B))
    for lib in (torch, mg):
        _shared_multinomial(monkeypatch, lib, seed=13)   # Categorical(pi).sample()
    draws = []
    for program, model in ((torch_program, torch_model), (mg_program, mg_model)):
        with program["torch"].no_grad():
            draws.append(program["sample_components"](*model(program["torch"].from_numpy(x))).numpy())
    assert draws[1].shape == draws[0].shape == (16, 2)
    np.testing.assert_allclose(draws[1], draws[0], rtol=1e-5, atol=1e-6)


def test_recurrent_mixture_density_network_on_strokes(torch: Any) -> None:
    rng = np.random.default_rng(9)
    steps = np.arange(9)[None, :] * 0.7 + rng.uniform(0, 6, (4, 1))
    strokes = np.stack([np.cos(steps) * 0.5, np.sin(2 * steps) * 0.3, (rng.random((4, 9)) < 0.2)], -1)
    strokes = strokes.astype(np.float32)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(MIXTURE_DENSITY, factory="make_strokes")
    expected = torch_program["train_strokes"](torch_model, torch.from_numpy(strokes), 5)
    got = mg_program["train_strokes"](mg_model, mg_program["torch"].from_numpy(strokes), 5)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- 3. End-to-end memory network


def _babi_like(count: int, seed: int) -> tuple:
    """Stories (count, 4, 4) of "name went to place" sentences (newest last, zero rows pad), queries
    "where is name" (count, 4), answers: the place the named person went to last. Ids: 0 pads."""
    rng = np.random.default_rng(seed)
    names, places = [1, 2, 3], [4, 5, 6, 7]
    went, to, where, is_ = 8, 9, 10, 11
    stories = np.zeros((count, 4, 4), dtype=np.int64)
    queries = np.zeros((count, 4), dtype=np.int64)
    answers = np.zeros(count, dtype=np.int64)
    for row in range(count):
        length = int(rng.integers(2, 5))
        last = {}
        for slot in range(length):
            name, place = int(rng.choice(names)), int(rng.choice(places))
            stories[row, slot, :4] = [name, went, to, place]
            last[name] = place
        asked = int(rng.choice(list(last)))
        queries[row, :3] = [where, is_, asked]
        answers[row] = last[asked]
    return stories, queries, answers


def test_end_to_end_memory_network(torch: Any) -> None:
    stories, queries, answers = _babi_like(12, 10)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(MEMORY_NETWORK, 12, 4, 4)
    # the tied embeddings are one parameter in both models
    assert mg_model.C[0].weight is mg_model.A[1].weight and mg_model.W.weight is mg_model.C[-1].weight
    assert len(list(mg_model.parameters())) == len(list(torch_model.parameters()))
    expected, expected_attention = torch_program["train"](torch_model, stories, queries, answers, 7)
    history, attention = mg_program["train"](mg_model, stories, queries, answers, 7)
    np.testing.assert_allclose(history, expected, rtol=1e-5, atol=1e-5)
    assert [lr for _, _, lr in history] == [0.01] * 3 + [0.005] * 3 + [0.0025]
    np.testing.assert_allclose(attention, expected_attention, rtol=1e-5, atol=1e-6)
    _assert_same_weights(torch_model, mg_model, initial)


def test_mixture_density_and_memory_network_in_float64(float64_default: Any) -> None:
    """The same programs under ``set_default_dtype(float64)`` in both libraries agree to 1e-10."""
    torch = float64_default
    x, y = (a.astype(np.float64) for a in _inverted_sine(16, 5))
    torch_program, torch_model, mg_program, mg_model, _ = _twins(MIXTURE_DENSITY)
    mg = mg_program["torch"]
    expected = torch_program["train"](torch_model, torch.from_numpy(x), torch.from_numpy(y), 3)
    got = mg_program["train"](mg_model, mg.from_numpy(x), mg.from_numpy(y), 3)
    assert got[1].dtype == expected[1].dtype == np.float64
    for ours, theirs in zip(got, expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)

    stories, queries, answers = _babi_like(8, 12)
    torch_program, torch_model, mg_program, mg_model, _ = _twins(MEMORY_NETWORK, 12, 4, 4)
    assert mg_model.pe.dtype == np.float64 and mg_model.TA.dtype == np.float64
    expected, expected_attention = torch_program["train"](torch_model, stories, queries, answers, 4)
    history, attention = mg_program["train"](mg_model, stories, queries, answers, 4)
    np.testing.assert_allclose(history, expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(attention, expected_attention, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------- regressions the programs found


def _constant(lib: Any, x: Any) -> Any:
    return lib.tensor([1.0, 0.0, 2.0], dtype=x.dtype)


@pytest.mark.parametrize("scaled", [
    lambda lib, x: x * 0.5, lambda lib, x: 2 * x, lambda lib, x: x.mul(3), lambda lib, x: x * _constant(lib, x),
    lambda lib, x: x / _constant(lib, x).add(1), lambda lib, x: x @ _constant(lib, x),
    lambda lib, x: lib.nn.functional.linear(x, _constant(lib, x).view(1, 3)),
    lambda lib, x: lib.bmm(x.unsqueeze(0), _constant(lib, x).view(1, 3, 1)),
    lambda lib, x: lib.einsum("ij,j->i", x, _constant(lib, x)),
    lambda lib, x: lib.addcmul(_constant(lib, x), x, _constant(lib, x)),
    lambda lib, x: x.reciprocal(), lambda lib, x: (x + 1).rsqrt() * x.exp2(), lambda lib, x: x.tan(),
    lambda lib, x: x.frac(),
], ids=["mul", "rmul", "mul_method", "mask", "div", "matmul", "linear", "bmm", "einsum", "addcmul",
        "reciprocal", "rsqrt_exp2", "tan", "frac"])
def test_an_op_whose_backward_does_not_read_x_lets_x_change_in_place(torch: Any, scaled: Any) -> None:
    """``y = x * 0.5`` (or ``x * mask``, ``x / c``, ``x @ W`` with no gradient for the constant, or ``1 / x``
    whose derivative reads y) then an in-place change of x before backward: PyTorch keeps nothing of x for such
    an op, so the backward is allowed (an in-place activation after a scaled copy); minigrad refused it. The
    gradients, and second derivatives through the op, are PyTorch's."""
    import minigrad as mg  # noqa: PLC0415

    results = []
    for lib in (torch, mg):
        leaf = lib.tensor([[1.0, -2.0, 3.0], [0.5, -1.0, 4.0]], dtype=lib.float64, requires_grad=True)
        hidden = leaf * leaf / 7
        out = scaled(lib, hidden)
        hidden[0] = 0.0                  # in place, after the product saw it
        hidden.relu_()
        (out.sum() + hidden.sum()).backward(retain_graph=True)
        first = leaf.grad.clone()
        (grad,) = lib.autograd.grad(scaled(lib, leaf * leaf).sum(), leaf, create_graph=True)
        (second,) = lib.autograd.grad((grad * grad).sum(), leaf)
        results.append([t.detach().numpy() for t in (out, first, grad, second)])
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize("make", [
    lambda lib, leaf, h, weight: leaf * h * _constant(lib, leaf), lambda lib, leaf, h, weight: leaf / h,
    lambda lib, leaf, h, weight: h @ weight, lambda lib, leaf, h, weight: lib.addcmul(_constant(lib, leaf), leaf, h),
    lambda lib, leaf, h, weight: lib.einsum("i,i->", leaf, h),
], ids=["mul", "div", "matmul", "addcmul", "einsum"])
def test_a_product_still_refuses_a_change_to_what_its_backward_reads(torch: Any, make: Any) -> None:
    """Each product reads h (for the other operand's gradient, or as the divisor): changed in place, refused."""
    import minigrad as mg  # noqa: PLC0415

    for lib in (torch, mg):
        leaf = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
        hidden = leaf * 1
        out = make(lib, leaf, hidden, lib.ones(3, 2, requires_grad=True))
        hidden.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            out.sum().backward()


@pytest.mark.parametrize("make", [
    lambda lib, x: x.repeat(2, 1, 1), lambda lib, x: x.roll(1), lambda lib, x: x.tile((1, 2)),
    lambda lib, x: x.max(1)[0], lambda lib, x: x.min(dim=0).values,
    lambda lib, x: x.index_select(1, lib.tensor([2, 0])), lambda lib, x: x[:, lib.tensor([2, 0, 2])],
    lambda lib, x: x.median(1)[0], lambda lib, x: x.kthvalue(2, 1)[0],
], ids=["repeat", "roll", "tile", "max", "min", "index_select", "advanced_index", "median", "kthvalue"])
def test_an_ops_fresh_result_can_be_written_in_place(torch: Any, make: Any) -> None:
    """``memory = bias.repeat(B, 1, 1)`` then ``memory[0] = ...`` (a memory bank written row by row), or
    ``values.add_(1)`` after ``x.max(1)``: the result owns its memory in PyTorch and takes the write. NumPy hands
    some results back as a view of a temporary of its own (``tile``, ``roll`` without dims, advanced indexing
    along a later dim, a squeezed ``take_along_axis``), which minigrad took for a view of another tensor and
    refused."""
    import minigrad as mg  # noqa: PLC0415

    results = []
    for lib in (torch, mg):
        leaf = lib.tensor([[1.5, -2.0, 3.0], [0.5, 1.25, -2.5]], dtype=lib.float64, requires_grad=True)
        out = make(lib, leaf * leaf)
        out[0] = out[0] * 3 + 1
        out.add_(leaf.sum())
        (out * lib.arange(out.numel(), dtype=lib.float64).view(out.shape)).sum().backward()
        results.append((out.detach().numpy(), leaf.grad.numpy()))
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_a_view_of_another_tensors_memory_is_still_refused() -> None:
    import minigrad as mg  # noqa: PLC0415

    leaf = mg.tensor([[1.5, -2.0, 3.0], [0.5, 1.25, -2.5]], requires_grad=True)
    whole = leaf * 2
    first, _ = whole.split(1)
    with pytest.raises(RuntimeError, match="view of another tensor"):
        first.add_(1)
    del whole   # the other piece still holds the memory
    with pytest.raises(RuntimeError, match="view of another tensor"):
        first.add_(1)
