"""Recurrent programs of "Dive into Deep Learning" (d2l.ai, PyTorch edition), run on torch and on minigrad.

Each program is our own rewrite of the book's code for its chapter, without the ``d2l`` package: the few helpers
the package provides (a vocabulary, the minibatch iterators, gradient clipping, the training loops, greedy
prediction, BLEU) are written inline in our own words, with the book's PyTorch calls in the same roles, tiny sizes,
a few steps and generated text. Only the import lines differ between the two runs (the rule and the helpers come
from tests/test_pytorch_programs.py).

* ``RNN_SCRATCH`` mirrors ch. 9.5, a character RNN language model from scratch: parameters as raw tensors from
  ``torch.randn(size=shape) * 0.01`` with ``requires_grad_(True)``, inputs by ``F.one_hot(X.T, V).type(...)``, the
  step ``torch.tanh(torch.mm(X, W_xh) + torch.mm(H, W_hh) + b_h)``, outputs ``torch.cat``-ed, gradient clipping by
  hand (``torch.sqrt(sum(torch.sum((p.grad ** 2)) for p in params))`` and ``p.grad[:] *= theta / norm``), SGD by
  hand (``param -= lr * param.grad / batch_size`` under ``no_grad``, ``param.grad.zero_()``), the random and the
  sequential minibatch iterators (Python's ``random``), the state ``detach_()``-ed between sequential batches,
  perplexity ``math.exp(total / count)`` and greedy prediction by ``int(y.argmax(dim=1).reshape(1))``; float32 and
  float64 (the book's one-hot is float32; here it takes the parameters' dtype so the float64 run stays float64);
* ``RNN_CONCISE`` mirrors ch. 9.6 and 10.1-10.4: an ``RNNModel`` around ``nn.RNN``/``nn.GRU``/``nn.LSTM``
  (``num_layers=2`` for the deep RNN, ``bidirectional=True`` for ch. 10.4) and a ``Linear`` head, ``begin_state``
  with ``torch.zeros`` (a tuple for LSTM), ``torch.optim.SGD``, the same clipping and loop;
* ``SEQ2SEQ`` mirrors ch. 10.7, machine translation by an encoder-decoder: a ``Vocab`` with reserved tokens,
  ``truncate_pad``, valid lengths ``(array != pad).type(torch.int32).sum(1)``, a ``TensorDataset`` read by a
  ``DataLoader``, ``Seq2SeqEncoder`` (``Embedding`` + 2-layer ``GRU``, ``permute(1, 0, 2)``), a decoder that
  concatenates the context ``state[-1].repeat(X.shape[0], 1, 1)`` to every step's input, ``sequence_mask``
  (``torch.arange(maxlen, dtype=torch.float32)[None, :] < valid_len[:, None]``, ``X[~mask] = value``), the masked
  softmax cross-entropy loss as a ``nn.CrossEntropyLoss`` subclass that sets ``self.reduction = 'none'`` and calls
  ``super().forward(pred.permute(0, 2, 1), label)``, ``nn.init.xavier_uniform_`` over ``Linear`` weights and the
  GRU's ``_flat_weights_names`` read through ``m._parameters``, teacher forcing (``torch.cat([bos, Y[:, :-1]], 1)``),
  ``Adam``, greedy prediction with ``Y.argmax(dim=2)`` and ``.type(torch.int32).item()``, BLEU in Python;
* ``BAHDANAU`` mirrors ch. 11.4, the same translation task with Bahdanau attention: ``masked_softmax`` (the scores
  ``reshape(-1, shape[-1])``-ed, ``torch.repeat_interleave(valid_lens, shape[1])``, masked to ``-1e6`` by writing
  into that view of a tensor in the graph), ``AdditiveAttention`` (``queries.unsqueeze(2) + keys.unsqueeze(1)``,
  ``tanh``, ``squeeze(-1)``, ``nn.Dropout`` on the weights, ``torch.bmm``), a decoder looping over the steps with the
  last layer's state as the query, the attention weights kept in a list behind a ``property``.

Random draws: ``torch.randn`` reads one NumPy stream in each run (``_shared_randn``, which also takes the book's
``size=`` keyword) and ``F.dropout`` keeps what one NumPy stream picks (``_shared_dropout``); the GRUs' inter-layer
dropout is 0 (the book passes the attention's rate there too; those masks would come from torch's own generator).
Compared: perplexities, losses and gradient norms step by step, predictions, BLEU, attention weights and the final
weights, float32 to ~1e-5 and float64 to ~1e-10.

What the programs found: ch. 11.4's ``masked_softmax`` raised "in-place op on a view of another tensor" where torch
runs: ``AdditiveAttention``'s scores come from ``w_v`` (a Linear without bias on a 4-D stack, so one GEMM whose result
NumPy reshapes back, an array with a ``.base``), and the masked write into ``scores.reshape(-1, K)`` took that
array for an untracked view of some other tensor's memory. ``matmul`` and ``@`` now mark such a result as owning its
memory (``fresh_memory``, minigrad/ops/linalg.py), as the ops that reshape their own temporaries already did; the
gradient through the write equals torch's (``test_masked_softmax_and_sequence_mask``). Everything else agreed with
torch on the first run, including the dtype rules the programs lean on (``int32.sum()`` is int64, a float32
``arange`` compared with int64 lengths, ``float32 * int64`` loss weights) and the other in-place writes
(``detach_`` of an RNN's returned state, ``grad[:] *=``, ``param -=`` under ``no_grad``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import _assert_same_weights, _program, _twin_models
from tests.test_pytorch_programs_flow import _lean_torch  # noqa: F401 - autouse: torch lean, _dynamo imported in setup
from tests.test_pytorch_programs_gnn import _shared_dropout

TORCH_IMPORTS_D2L = """\
import collections
import math
import random
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils import data
"""

MINIGRAD_IMPORTS_D2L = """\
import collections
import math
import random
import minigrad as torch
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.utils import data
"""


COMMON = '''
class Vocab:
    """Tokens to ids: '<unk>' is 0, the reserved tokens follow, then the tokens by descending count."""

    def __init__(self, tokens=(), min_freq=0, reserved_tokens=()):
        counts = collections.Counter(tokens)
        self.token_freqs = sorted(counts.items(), key=lambda pair: pair[1], reverse=True)
        self.idx_to_token = ['<unk>'] + list(reserved_tokens)
        for token, freq in self.token_freqs:
            if freq >= min_freq and token not in self.idx_to_token:
                self.idx_to_token.append(token)
        self.token_to_idx = {token: index for index, token in enumerate(self.idx_to_token)}

    def __len__(self):
        return len(self.idx_to_token)

    def __getitem__(self, tokens):
        if not isinstance(tokens, (list, tuple)):
            return self.token_to_idx.get(tokens, 0)
        return [self[token] for token in tokens]

    def to_tokens(self, indices):
        return [self.idx_to_token[int(index)] for index in indices]


def grad_clipping(net, theta):
    """Rescale all gradients together so that their global norm is at most theta; the norm before, as a float."""
    if isinstance(net, nn.Module):
        params = [p for p in net.parameters() if p.requires_grad]
    else:
        params = net.params
    norm = torch.sqrt(sum(torch.sum((p.grad ** 2)) for p in params))
    if norm > theta:
        for param in params:
            param.grad[:] *= theta / norm
    return float(norm)
'''


LANGUAGE_MODEL = '''
def seq_data_iter_random(corpus, batch_size, num_steps):
    """Minibatches (X, Y) of shape (B, T) from subsequences at shuffled offsets (Y is X one token on)."""
    corpus = corpus[random.randint(0, num_steps - 1):]
    num_subseqs = (len(corpus) - 1) // num_steps
    initial_indices = list(range(0, num_subseqs * num_steps, num_steps))
    random.shuffle(initial_indices)

    def data(pos):
        return corpus[pos: pos + num_steps]

    num_batches = num_subseqs // batch_size
    for i in range(0, batch_size * num_batches, batch_size):
        starts = initial_indices[i: i + batch_size]
        yield torch.tensor([data(j) for j in starts]), torch.tensor([data(j + 1) for j in starts])


def seq_data_iter_sequential(corpus, batch_size, num_steps):
    """Minibatches (X, Y) of shape (B, T) whose rows continue the previous batch's rows."""
    offset = random.randint(0, num_steps)
    num_tokens = ((len(corpus) - offset - 1) // batch_size) * batch_size
    Xs = torch.tensor(corpus[offset: offset + num_tokens])
    Ys = torch.tensor(corpus[offset + 1: offset + 1 + num_tokens])
    Xs, Ys = Xs.reshape(batch_size, -1), Ys.reshape(batch_size, -1)
    num_batches = Xs.shape[1] // num_steps
    for i in range(0, num_steps * num_batches, num_steps):
        yield Xs[:, i: i + num_steps], Ys[:, i: i + num_steps]


def sgd(params, lr, batch_size):
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()


def predict_ch8(prefix, num_preds, net, vocab, device):
    """Warm the state up on the prefix, then append num_preds greedy (argmax) characters."""
    state = net.begin_state(batch_size=1, device=device)
    outputs = [vocab[prefix[0]]]

    def get_input():
        return torch.tensor([outputs[-1]], device=device).reshape((1, 1))

    for y in prefix[1:]:
        _, state = net(get_input(), state)
        outputs.append(vocab[y])
    for _ in range(num_preds):
        y, state = net(get_input(), state)
        outputs.append(int(y.argmax(dim=1).reshape(1)))
    return ''.join([vocab.idx_to_token[i] for i in outputs])


def train_epoch_ch8(net, train_iter, loss, updater, device, use_random_iter, history, theta):
    state = None
    total, count = 0.0, 0
    for X, Y in train_iter:
        if state is None or use_random_iter:
            state = net.begin_state(batch_size=X.shape[0], device=device)
        else:
            if isinstance(net, nn.Module) and not isinstance(state, tuple):
                state.detach_()   # GRU/RNN: a tensor
            else:
                for s in state:   # LSTM, and the scratch model's (H,)
                    s.detach_()
        y = Y.T.reshape(-1)
        X, y = X.to(device), y.to(device)
        y_hat, state = net(X, state)
        l = loss(y_hat, y.long()).mean()
        if isinstance(updater, torch.optim.Optimizer):
            updater.zero_grad()
            l.backward()
            history['norm'].append(grad_clipping(net, theta))
            updater.step()
        else:
            l.backward()
            history['norm'].append(grad_clipping(net, theta))
            updater(batch_size=1)   # the loss is already a mean
        history['loss'].append(l.item())
        total += l.item() * y.numel()
        count += y.numel()
    return math.exp(total / count)


def train_ch8(net, corpus, vocab, lr, num_epochs, batch_size, num_steps, device, use_random_iter=False, seed=0,
              theta=1):
    random.seed(seed)
    loss = nn.CrossEntropyLoss()
    if isinstance(net, nn.Module):
        updater = torch.optim.SGD(net.parameters(), lr)
    else:
        def updater(batch_size):
            return sgd(net.params, lr, batch_size)
    history = {'ppl': [], 'loss': [], 'norm': []}
    for _ in range(num_epochs):
        if use_random_iter:
            batches = seq_data_iter_random(corpus, batch_size, num_steps)
        else:
            batches = seq_data_iter_sequential(corpus, batch_size, num_steps)
        history['ppl'].append(train_epoch_ch8(net, batches, loss, updater, device, use_random_iter, history,
                                                      theta))
    return history
'''


RNN_SCRATCH = COMMON + LANGUAGE_MODEL + '''
def get_params(vocab_size, num_hiddens, device, dtype=torch.float32):
    num_inputs = num_outputs = vocab_size

    def normal(shape):
        return torch.randn(size=shape, device=device, dtype=dtype) * 0.01

    W_xh = normal((num_inputs, num_hiddens))
    W_hh = normal((num_hiddens, num_hiddens))
    b_h = torch.zeros(num_hiddens, device=device, dtype=dtype)
    W_hq = normal((num_hiddens, num_outputs))
    b_q = torch.zeros(num_outputs, device=device, dtype=dtype)
    params = [W_xh, W_hh, b_h, W_hq, b_q]
    for param in params:
        param.requires_grad_(True)
    return params


def init_rnn_state(batch_size, num_hiddens, device, dtype=torch.float32):
    return (torch.zeros((batch_size, num_hiddens), device=device, dtype=dtype), )


def rnn(inputs, state, params):
    """inputs (T, B, V) one-hot, state (H (B, h),) -> logits (T * B, V), (H,)."""
    W_xh, W_hh, b_h, W_hq, b_q = params
    H, = state
    outputs = []
    for X in inputs:
        H = torch.tanh(torch.mm(X, W_xh) + torch.mm(H, W_hh) + b_h)
        Y = torch.mm(H, W_hq) + b_q
        outputs.append(Y)
    return torch.cat(outputs, dim=0), (H,)


class RNNModelScratch:
    """A recurrent net from raw parameters: token ids (B, T) -> logits (T * B, V)."""

    def __init__(self, vocab_size, num_hiddens, device, get_params, init_state, forward_fn, dtype=torch.float32):
        self.vocab_size, self.num_hiddens, self.dtype = vocab_size, num_hiddens, dtype
        self.params = get_params(vocab_size, num_hiddens, device, dtype)
        self.init_state, self.forward_fn = init_state, forward_fn

    def __call__(self, X, state):
        X = F.one_hot(X.T, self.vocab_size).type(self.dtype)
        return self.forward_fn(X, state, self.params)

    def begin_state(self, batch_size, device):
        return self.init_state(batch_size, self.num_hiddens, device, self.dtype)


def make_scratch(vocab_size, num_hiddens, dtype=torch.float32):
    return RNNModelScratch(vocab_size, num_hiddens, torch.device('cpu'), get_params, init_rnn_state, rnn, dtype)
'''


RNN_CONCISE = COMMON + LANGUAGE_MODEL + '''
class RNNModel(nn.Module):
    """A recurrent layer and a Linear head: token ids (B, T) -> logits (T * B, V)."""

    def __init__(self, rnn_layer, vocab_size, **kwargs):
        super(RNNModel, self).__init__(**kwargs)
        self.rnn = rnn_layer
        self.vocab_size = vocab_size
        self.num_hiddens = self.rnn.hidden_size
        if not self.rnn.bidirectional:
            self.num_directions = 1
            self.linear = nn.Linear(self.num_hiddens, self.vocab_size)
        else:
            self.num_directions = 2
            self.linear = nn.Linear(self.num_hiddens * 2, self.vocab_size)

    def forward(self, inputs, state):
        X = F.one_hot(inputs.T.long(), self.vocab_size)
        X = X.to(torch.float32)
        Y, state = self.rnn(X, state)
        output = self.linear(Y.reshape((-1, Y.shape[-1])))
        return output, state

    def begin_state(self, device, batch_size=1):
        shape = (self.num_directions * self.rnn.num_layers, batch_size, self.num_hiddens)
        if not isinstance(self.rnn, nn.LSTM):
            return torch.zeros(shape, device=device)
        return (torch.zeros(shape, device=device), torch.zeros(shape, device=device))


def make_model(kind, vocab_size, num_hiddens=8, num_layers=1, bidirectional=False):
    layer = getattr(nn, kind)(vocab_size, num_hiddens, num_layers, bidirectional=bidirectional)
    return RNNModel(layer, vocab_size=vocab_size)
'''


SEQ2SEQ = COMMON + '''
def truncate_pad(line, num_steps, padding_token):
    if len(line) > num_steps:
        return line[:num_steps]
    return line + [padding_token] * (num_steps - len(line))


def build_array_nmt(lines, vocab, num_steps):
    """Token lists -> ids (N, T) ending in <eos>, padded, and each row's valid length (N,)."""
    lines = [vocab[line] + [vocab['<eos>']] for line in lines]
    array = torch.tensor([truncate_pad(line, num_steps, vocab['<pad>']) for line in lines])
    valid_len = (array != vocab['<pad>']).type(torch.int32).sum(1)
    return array, valid_len


def load_data_nmt(pairs, batch_size, num_steps):
    source = [src.split(' ') for src, _ in pairs]
    target = [tgt.split(' ') for _, tgt in pairs]
    reserved = ['<pad>', '<bos>', '<eos>']
    src_vocab = Vocab([token for line in source for token in line], reserved_tokens=reserved)
    tgt_vocab = Vocab([token for line in target for token in line], reserved_tokens=reserved)
    src_array, src_valid_len = build_array_nmt(source, src_vocab, num_steps)
    tgt_array, tgt_valid_len = build_array_nmt(target, tgt_vocab, num_steps)
    dataset = data.TensorDataset(src_array, src_valid_len, tgt_array, tgt_valid_len)
    return data.DataLoader(dataset, batch_size, shuffle=False), src_vocab, tgt_vocab


class Seq2SeqEncoder(nn.Module):
    """Source ids (B, T) -> GRU outputs (T, B, H) and the final state (L, B, H)."""

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0, **kwargs):
        super().__init__(**kwargs)
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size, num_hiddens, num_layers, dropout=dropout)

    def forward(self, X, *args):
        X = self.embedding(X)
        X = X.permute(1, 0, 2)
        output, state = self.rnn(X)
        return output, state


class Seq2SeqDecoder(nn.Module):
    """Target ids (B, T) and the state -> logits (B, T, V); the encoder's last top state is every step's context."""

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0, **kwargs):
        super().__init__(**kwargs)
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers, dropout=dropout)
        self.dense = nn.Linear(num_hiddens, vocab_size)

    def init_state(self, enc_outputs, *args):
        return enc_outputs[1]

    def forward(self, X, state):
        X = self.embedding(X).permute(1, 0, 2)
        context = state[-1].repeat(X.shape[0], 1, 1)
        X_and_context = torch.cat((X, context), 2)
        output, state = self.rnn(X_and_context, state)
        output = self.dense(output).permute(1, 0, 2)
        return output, state


class EncoderDecoder(nn.Module):
    def __init__(self, encoder, decoder, **kwargs):
        super(EncoderDecoder, self).__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, enc_X, dec_X, *args):
        enc_outputs = self.encoder(enc_X, *args)
        dec_state = self.decoder.init_state(enc_outputs, *args)
        return self.decoder(dec_X, dec_state)


def sequence_mask(X, valid_len, value=0):
    """X (N, T) with the entries past each row's valid length set to value, in place."""
    maxlen = X.size(1)
    mask = torch.arange((maxlen), dtype=torch.float32, device=X.device)[None, :] < valid_len[:, None]
    X[~mask] = value
    return X


class MaskedSoftmaxCELoss(nn.CrossEntropyLoss):
    """pred (B, T, V), label (B, T), valid_len (B,) -> each sequence's mean loss over T, padding weighted 0."""

    def forward(self, pred, label, valid_len):
        weights = torch.ones_like(label)
        weights = sequence_mask(weights, valid_len)
        self.reduction = 'none'
        unweighted_loss = super(MaskedSoftmaxCELoss, self).forward(pred.permute(0, 2, 1), label)
        weighted_loss = (unweighted_loss * weights).mean(dim=1)
        return weighted_loss


def xavier_init_weights(m):
    if type(m) == nn.Linear:
        nn.init.xavier_uniform_(m.weight)
    if type(m) == nn.GRU:
        for param in m._flat_weights_names:
            if "weight" in param:
                nn.init.xavier_uniform_(m._parameters[param])


def make_model(src_vocab_size, tgt_vocab_size, attention=False, embed_size=8, num_hiddens=8, num_layers=2,
               dropout=0.1):
    encoder = Seq2SeqEncoder(src_vocab_size, embed_size, num_hiddens, num_layers)
    if attention:
        decoder = Seq2SeqAttentionDecoder(tgt_vocab_size, embed_size, num_hiddens, num_layers, dropout)
    else:
        decoder = Seq2SeqDecoder(tgt_vocab_size, embed_size, num_hiddens, num_layers)
    net = EncoderDecoder(encoder, decoder)
    net.apply(xavier_init_weights)
    return net


def train_seq2seq(net, data_iter, lr, num_epochs, tgt_vocab, device):
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    loss = MaskedSoftmaxCELoss()
    net.train()
    history = {'loss': [], 'norm': [], 'tokens': [], 'int64_tokens': []}
    for _ in range(num_epochs):
        for batch in data_iter:
            optimizer.zero_grad()
            X, X_valid_len, Y, Y_valid_len = [x.to(device) for x in batch]
            bos = torch.tensor([tgt_vocab['<bos>']] * Y.shape[0], device=device).reshape(-1, 1)
            dec_input = torch.cat([bos, Y[:, :-1]], 1)   # teacher forcing
            Y_hat, _ = net(X, dec_input, X_valid_len)
            l = loss(Y_hat, Y, Y_valid_len)
            l.sum().backward()
            history['norm'].append(grad_clipping(net, 1))
            num_tokens = Y_valid_len.sum()
            optimizer.step()
            with torch.no_grad():
                history['loss'].append(float(l.sum()) / int(num_tokens))
                history['tokens'].append(int(num_tokens))
                history['int64_tokens'].append(num_tokens.dtype == torch.int64)
    return history


def predict_seq2seq(net, src_sentence, src_vocab, tgt_vocab, num_steps, device, save_attention_weights=False):
    net.eval()
    src_tokens = src_vocab[src_sentence.lower().split(' ')] + [src_vocab['<eos>']]
    enc_valid_len = torch.tensor([len(src_tokens)], device=device)
    src_tokens = truncate_pad(src_tokens, num_steps, src_vocab['<pad>'])
    enc_X = torch.unsqueeze(torch.tensor(src_tokens, dtype=torch.long, device=device), dim=0)
    enc_outputs = net.encoder(enc_X, enc_valid_len)
    dec_state = net.decoder.init_state(enc_outputs, enc_valid_len)
    dec_X = torch.unsqueeze(torch.tensor([tgt_vocab['<bos>']], dtype=torch.long, device=device), dim=0)
    output_seq, attention_weight_seq = [], []
    for _ in range(num_steps):
        Y, dec_state = net.decoder(dec_X, dec_state)
        dec_X = Y.argmax(dim=2)
        pred = dec_X.squeeze(dim=0).type(torch.int32).item()
        if save_attention_weights:
            attention_weight_seq.append(net.decoder.attention_weights)
        if pred == tgt_vocab['<eos>']:
            break
        output_seq.append(pred)
    return ' '.join(tgt_vocab.to_tokens(output_seq)), attention_weight_seq


def bleu(pred_seq, label_seq, k):
    """Clipped n-gram precisions for n = 1..k, weighted 1/2^n, times a brevity penalty."""
    pred_tokens, label_tokens = pred_seq.split(' '), label_seq.split(' ')
    len_pred, len_label = len(pred_tokens), len(label_tokens)
    score = math.exp(min(0, 1 - len_label / len_pred))
    for n in range(1, k + 1):
        num_matches, label_subs = 0, collections.defaultdict(int)
        for i in range(len_label - n + 1):
            label_subs[' '.join(label_tokens[i: i + n])] += 1
        for i in range(len_pred - n + 1):
            if label_subs[' '.join(pred_tokens[i: i + n])] > 0:
                num_matches += 1
                label_subs[' '.join(pred_tokens[i: i + n])] -= 1
        score *= math.pow(num_matches / max(len_pred - n + 1, 1), math.pow(0.5, n))
    return score
'''


BAHDANAU = SEQ2SEQ + '''
def masked_softmax(X, valid_lens):
    """Softmax over the last axis of X (B, Q, K), keys past each valid length masked out (-1e6)."""
    if valid_lens is None:
        return nn.functional.softmax(X, dim=-1)
    shape = X.shape
    if valid_lens.dim() == 1:
        valid_lens = torch.repeat_interleave(valid_lens, shape[1])
    else:
        valid_lens = valid_lens.reshape(-1)
    X = sequence_mask(X.reshape(-1, shape[-1]), valid_lens, value=-1e6)
    return nn.functional.softmax(X.reshape(shape), dim=-1)


class AdditiveAttention(nn.Module):
    """queries (B, Q, q), keys (B, K, k), values (B, K, v) -> (B, Q, v); the weights (B, Q, K) are kept."""

    def __init__(self, key_size, query_size, num_hiddens, dropout, **kwargs):
        super(AdditiveAttention, self).__init__(**kwargs)
        self.W_k = nn.Linear(key_size, num_hiddens, bias=False)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=False)
        self.w_v = nn.Linear(num_hiddens, 1, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens):
        queries, keys = self.W_q(queries), self.W_k(keys)
        features = queries.unsqueeze(2) + keys.unsqueeze(1)
        features = torch.tanh(features)
        scores = self.w_v(features).squeeze(-1)
        self.attention_weights = masked_softmax(scores, valid_lens)
        return torch.bmm(self.dropout(self.attention_weights), values)


class Seq2SeqAttentionDecoder(nn.Module):
    """Target ids (B, T) and (encoder outputs, state, valid lengths) -> logits (B, T, V), one step at a time."""

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0, **kwargs):
        super(Seq2SeqAttentionDecoder, self).__init__(**kwargs)
        self.attention = AdditiveAttention(num_hiddens, num_hiddens, num_hiddens, dropout)
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers)
        self.dense = nn.Linear(num_hiddens, vocab_size)

    def init_state(self, enc_outputs, enc_valid_lens, *args):
        outputs, hidden_state = enc_outputs
        return (outputs.permute(1, 0, 2), hidden_state, enc_valid_lens)

    def forward(self, X, state):
        enc_outputs, hidden_state, enc_valid_lens = state
        X = self.embedding(X).permute(1, 0, 2)
        outputs, self._attention_weights = [], []
        for x in X:
            query = torch.unsqueeze(hidden_state[-1], dim=1)
            context = self.attention(query, enc_outputs, enc_outputs, enc_valid_lens)
            x = torch.cat((context, torch.unsqueeze(x, dim=1)), dim=-1)
            out, hidden_state = self.rnn(x.permute(1, 0, 2), hidden_state)
            outputs.append(out)
            self._attention_weights.append(self.attention.attention_weights)
        outputs = self.dense(torch.cat(outputs, dim=0))
        return outputs.permute(1, 0, 2), [enc_outputs, hidden_state, enc_valid_lens]

    @property
    def attention_weights(self):
        return self._attention_weights
'''

PROGRAMS = (RNN_SCRATCH, RNN_CONCISE, SEQ2SEQ, BAHDANAU)


def _twins(source: str, *args: Any, **kwargs: Any) -> tuple:
    return _twin_models(source, *args, imports=(TORCH_IMPORTS_D2L, MINIGRAD_IMPORTS_D2L), **kwargs)


def _shared_randn(monkeypatch: pytest.MonkeyPatch, torch: Any, seed: int) -> None:
    """``torch.randn`` of both libraries draws, in call order, from one float32 NumPy stream each (same seed);
    it takes the shape as positional sizes or the ``size=`` keyword, as the book writes it, and casts to ``dtype``."""
    import minigrad as mg  # noqa: PLC0415

    for lib in (torch, mg):
        rng = np.random.default_rng(seed)

        def randn(*sizes: Any, size: Any = None, dtype: Any = None, device: Any = None, rng: np.random.Generator = rng,
                  lib: Any = lib) -> Any:
            shape = tuple(size) if size is not None else sizes
            shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
            assert str(device or "cpu") == "cpu"
            return lib.from_numpy(rng.standard_normal(shape).astype(np.float32)).to(dtype or lib.float32)

        monkeypatch.setattr(lib, "randn", randn)


def _corpus(seed: int, length: int) -> str:
    """A character stream (7 letters and space) where each character mostly follows from the one before."""
    rng = np.random.default_rng(seed)
    letters = "abcdefg "
    text = "".join(letters[i] for i in np.cumsum(np.where(rng.random(length) < 0.85, 3, 1)) % len(letters))
    return text


def _assert_close(ours: Any, theirs: Any, tol: float, what: str) -> None:
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=tol, atol=tol, err_msg=what)


def test_the_programs_differ_only_in_their_imports() -> None:
    assert TORCH_IMPORTS_D2L.replace("import torch\n", "import minigrad as torch\n").replace(
        "torch.", "minigrad.").replace("from torch", "from minigrad") == MINIGRAD_IMPORTS_D2L
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. RNN from scratch (ch. 9.5)


@pytest.mark.parametrize("dtype, tol", [("float32", 1e-5), ("float64", 1e-10)])
def test_rnn_language_model_from_scratch(torch: Any, monkeypatch: pytest.MonkeyPatch, dtype: str, tol: float) -> None:
    """Raw parameters, one-hot inputs, hand-written clipping and SGD, both minibatch iterators, greedy prediction."""
    _shared_randn(monkeypatch, torch, seed=0)
    text = _corpus(0, 160)
    results = []
    for imports in (TORCH_IMPORTS_D2L, MINIGRAD_IMPORTS_D2L):
        program = _program(RNN_SCRATCH, imports)
        lib = program["torch"]
        vocab = program["Vocab"](list(text))
        corpus = [vocab[ch] for ch in text]
        runs = {}
        for use_random_iter in (False, True):
            net = program["make_scratch"](len(vocab), 12, getattr(lib, dtype))
            history = program["train_ch8"](net, corpus, vocab, 1.0, 2, 4, 5, lib.device("cpu"),
                                           use_random_iter=use_random_iter, seed=1, theta=0.15)
            prediction = program["predict_ch8"]("ab", 8, net, vocab, lib.device("cpu"))
            runs[use_random_iter] = (history, prediction, [p.detach().numpy().copy() for p in net.params],
                                     str(net.params[0].dtype).replace("torch.", ""))
        results.append(runs)
    theirs, ours = results
    for use_random_iter in (False, True):
        (history, prediction, params, dt), (expected, expected_prediction, expected_params, expected_dt) = (
            ours[use_random_iter], theirs[use_random_iter])
        assert dt == expected_dt == dtype
        assert len(history["loss"]) == len(expected["loss"]) >= 8
        for key in ("ppl", "loss", "norm"):
            _assert_close(history[key], expected[key], tol, f"{key} random={use_random_iter}")
        assert min(expected["norm"]) < 0.15 < max(expected["norm"])   # clipped on some steps only
        assert prediction == expected_prediction and len(prediction) == 10
        for name, mine, reference in zip(("W_xh", "W_hh", "b_h", "W_hq", "b_q"), params, expected_params):
            _assert_close(mine, reference, tol, name)
        assert np.abs(params[2]).max() > 0   # the zero-initialised bias moved


# ----------------------------------------------------------------------------- 2. concise RNN/GRU/LSTM (ch. 9.6, 10)


def test_concise_rnn_gru_lstm_deep_and_bidirectional(torch: Any) -> None:
    """nn.RNN, nn.GRU, nn.LSTM, a 2-layer LSTM and a bidirectional 2-layer LSTM behind one RNNModel, SGD."""
    text = _corpus(1, 80)
    for kind, layers, bidirectional in (("RNN", 1, False), ("GRU", 1, False), ("LSTM", 1, False),
                                        ("LSTM", 2, False), ("LSTM", 2, True)):
        vocab_size = len(set(text)) + 1
        torch_program, torch_model, mg_program, mg_model, initial = _twins(
            RNN_CONCISE, kind, vocab_size, num_layers=layers, bidirectional=bidirectional)
        runs = []
        for program, model in ((torch_program, torch_model), (mg_program, mg_model)):
            vocab = program["Vocab"](list(text))
            assert len(vocab) == vocab_size
            corpus = [vocab[ch] for ch in text]
            cpu = program["torch"].device("cpu")
            history = program["train_ch8"](model, corpus, vocab, 1.0, 2, 3, 5, cpu, seed=2)
            runs.append((history, program["predict_ch8"]("ab", 6, model, vocab, cpu)))
        (expected, expected_prediction), (history, prediction) = runs
        what = f"{kind} layers={layers} bidirectional={bidirectional}"
        for key in ("ppl", "loss", "norm"):
            _assert_close(history[key], expected[key], 1e-5, f"{what}: {key}")
        assert prediction == expected_prediction, what
        _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- 3. and 4. translation (ch. 10.7, 11.4)

_SOURCE_WORDS = ["go", "run", "i", "we", "lost", "home", "now", "win"]
_TARGET_WORDS = {"go": "va", "run": "cours", "i": "je", "we": "nous", "lost": "perdu", "home": "maison",
                 "now": "maintenant", "win": "gagne"}


def _pairs(seed: int, count: int) -> list:
    """(English, "French") sentence pairs of 1-4 words; the translation is word by word, in reverse order."""
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(count):
        words = [_SOURCE_WORDS[int(i)] for i in rng.integers(0, len(_SOURCE_WORDS), int(rng.integers(1, 5)))]
        pairs.append((" ".join(words), " ".join(_TARGET_WORDS[w] for w in reversed(words))))
    return pairs


@pytest.mark.parametrize("attention", [False, True], ids=["context", "bahdanau"])
def test_seq2seq_translation(torch: Any, monkeypatch: pytest.MonkeyPatch, attention: bool) -> None:
    """Encoder-decoder translation with masked softmax CE, xavier init, teacher forcing, Adam, greedy prediction
    and BLEU; with ``attention`` the decoder attends over the encoder's outputs (Bahdanau, dropout on the weights)."""
    _shared_dropout(monkeypatch, torch, seed=3)
    pairs = _pairs(4, 8)
    num_steps = 6
    source = BAHDANAU if attention else SEQ2SEQ
    _, src_vocab, tgt_vocab = _program(source, TORCH_IMPORTS_D2L)["load_data_nmt"](pairs, 4, num_steps)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(
        source, len(src_vocab), len(tgt_vocab), attention=attention)
    runs = []
    for program, model in ((torch_program, torch_model), (mg_program, mg_model)):
        data_iter, src_vocab, tgt_vocab = program["load_data_nmt"](pairs, 4, num_steps)
        cpu = program["torch"].device("cpu")
        history = program["train_seq2seq"](model, data_iter, 0.02, 3, tgt_vocab, cpu)
        translations, scores, weights = [], [], []
        for english, french in pairs[:4]:
            translation, attention_seq = program["predict_seq2seq"](model, english, src_vocab, tgt_vocab, num_steps,
                                                                   cpu, save_attention_weights=attention)
            translations.append(translation)
            scores.append(program["bleu"](translation, french, k=2))
            if attention:
                lib = program["torch"]
                weights.append(lib.cat([step[0][0][0] for step in attention_seq], 0).detach().numpy().copy())
        runs.append((history, translations, scores, weights))
    (expected, expected_translations, expected_scores, expected_weights), ours = runs
    history, translations, scores, weights = ours
    assert len(history["loss"]) == 6
    for key in ("loss", "norm"):
        _assert_close(history[key], expected[key], 1e-5, key)
    assert history["tokens"] == expected["tokens"] and all(history["int64_tokens"]) and all(expected["int64_tokens"])
    assert translations == expected_translations
    assert scores == pytest.approx(expected_scores)
    for mine, reference in zip(weights, expected_weights):
        _assert_close(mine, reference, 1e-5, "attention weights")
        assert mine.shape == reference.shape
    _assert_same_weights(torch_model, mg_model, initial)
    # minigrad's own xavier_init_weights (overwritten above by torch's draws) reached the GRUs' weights by name
    fresh = mg_program["make_model"](len(src_vocab), len(tgt_vocab), attention=attention)
    for name, param in fresh.named_parameters():
        if ".rnn.weight_hh" in name:
            bound = np.sqrt(6 / sum(param.shape))
            assert 1 / np.sqrt(param.shape[1]) < np.abs(param.detach().numpy()).max() <= bound, name


def test_masked_softmax_and_sequence_mask(torch: Any) -> None:
    """The book's masked_softmax on 2-D and 1-D valid lengths, and its gradient through the masked write into the
    reshaped scores, against torch's (float64)."""
    torch_program, mg_program = _program(BAHDANAU, TORCH_IMPORTS_D2L), _program(BAHDANAU, MINIGRAD_IMPORTS_D2L)
    rng = np.random.default_rng(5)
    scores = rng.standard_normal((2, 3, 4))
    upstream = rng.standard_normal((2, 3, 4))
    results = []
    for program in (torch_program, mg_program):
        lib = program["torch"]
        row = []
        for valid in (lib.tensor([2, 3]), lib.tensor([[1, 3, 4], [2, 2, 1]])):
            x = lib.tensor(scores, requires_grad=True)
            # as AdditiveAttention's scores: a stack times a matrix (one GEMM reshaped back), squeezed
            y = program["masked_softmax"]((x.unsqueeze(-1) @ lib.full((1, 1), 1.5, dtype=x.dtype)).squeeze(-1), valid)
            (y * lib.tensor(upstream)).sum().backward()
            row += [y.detach().numpy().copy(), x.grad.numpy().copy()]
        results.append(row)
    for name, mine, reference in zip(("1-D", "1-D grad", "2-D", "2-D grad"), results[1], results[0]):
        _assert_close(mine, reference, 1e-10, name)
    assert results[1][0][0, :, 2:].max() < 1e-300   # masked keys get no weight
