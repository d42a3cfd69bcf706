"""Five recommender programs, run on torch and on minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch recommender program (the helpers and the rule come
from tests/test_pytorch_programs.py): it keeps the original's PyTorch calls in the same roles, with our own names,
structure and comments, tiny sizes, a few steps and generated interactions.

* ``MATRIX_FACTORIZATION`` follows the biased matrix factorisation of the PyTorch recommender tutorials (e.g.
  https://github.com/maciejkula/spotlight's ``BilinearNet`` and the fast.ai collaborative-filtering lesson): user and
  item ``nn.Embedding`` factors and one-column bias embeddings, ``(p * q).sum(1)``, a global ``nn.Parameter`` bias,
  ``MSELoss`` with ``Adam(weight_decay=...)`` over a ``DataLoader(TensorDataset(...))``, RMSE under ``no_grad``; then
  the user as the mean of their history's items (``nn.EmbeddingBag(mode="mean")``, as YouTube-DNN-style and
  SVD++-style programs do), read as flat ids + ``offsets`` (ragged histories) or as a (B, L) matrix;
* ``NEURAL_CF`` follows NeuMF of guoyang9/NCF (https://github.com/guoyang9/NCF): a GMF tower (element-wise product of
  embeddings) and an MLP tower (``torch.cat`` of embeddings through ``Linear``/``ReLU`` halving the width), joined by
  ``torch.cat`` into one ``Linear`` predictor, ``normal_``/``xavier_uniform_``/``kaiming_uniform_(a=1,
  nonlinearity="sigmoid")`` initialisation, ``BCEWithLogitsLoss`` on positives and negatives drawn with
  ``torch.randint``, Adam, and leave-one-out hit ratio / NDCG at k with ``torch.topk`` and ``torch.take``;
* ``GRU4REC`` follows GRU4Rec (Hidasi et al. 2016) as its PyTorch ports write it
  (https://github.com/hungthanhpham94/GRU4REC-pytorch): session-parallel mini-batches over one ``nn.GRU``
  (``batch_first=False``, one step a call), the hidden row of a session that ends zeroed (by ``h * keep[:, None]``,
  ``index_fill``, ``masked_fill`` or the port's in-place ``h[:, ended, :] = 0``) and ``detach``'d, in-batch
  negatives ``logits = out @ item_emb(targets).T``, the TOP1 or BPR loss from ``logits.diag()``, and recall@k /
  MRR@k from ``topk``, ``expand_as``, ``nonzero`` and ``reciprocal``;
* ``SASREC`` follows pmixer/SASRec.pytorch (https://github.com/pmixer/SASRec.pytorch) with RecBole's right padding:
  ``nn.Embedding(padding_idx=0)`` items scaled by ``sqrt(d)``, learned positions, causal blocks of
  ``nn.MultiheadAttention`` (``attn_mask=~tril(ones(bool))`` and a ``key_padding_mask``, sequence-first by
  ``torch.transpose``) with a point-wise ``Conv1d`` feed-forward, or ``nn.TransformerEncoder`` under the same two
  masks, ``BCEWithLogitsLoss`` over positives and ``torch.randint`` negatives at the non-pad positions only
  (``torch.where(pos != 0)``), an ``torch.norm`` L2 term on the item table, Adam(betas=(0.9, 0.98)), and HR/NDCG@k
  from ``argsort().argsort()``;
* ``TWO_TOWER`` follows the sampling-bias-corrected two-tower retrieval of Yi et al. (RecSys 2019) as TorchRec /
  TFRS-style programs write it: two ``Embedding`` + MLP towers, ``F.normalize``, in-batch softmax with a
  temperature, the paper's streaming frequency estimate (``last_seen``/``delta`` buffers written by index) and its
  logQ correction ``logits - log(q)``, accidental in-batch hits masked by ``masked_fill(-inf)``,
  ``F.cross_entropy(logits, torch.arange(B))``, ``Adagrad``, and recall@k over the whole catalogue.

Negatives are drawn with ``torch.randint``; both engines read one NumPy stream (``_shared_randint``), so every number
of the two runs is compared: losses step by step, metrics, and the final weights (float32 to ~1e-5; the matrix
factorisation and the two-tower model also in float64, to ~1e-10).

What the programs found: every loss, metric and weight agreed with torch on the first run, and probes of the ops
they use (EmbeddingBag modes, padding, max_norm; take, index_fill, masked_fill, nonzero, topk, repeat_interleave;
attention under every mask pairing; Adagrad's options; DataLoader collation) found nothing new. Where they differ,
ours is kept: the attention key bias has a zero true gradient, so its Adam steps follow rounding noise and are
compared apart; torch's eval fast path gives NaN to a query with every key masked (left padding plus a key padding
mask) where its other paths and ours give 0 (the last SASRec test); torch's CPU ``embedding_bag`` with
``scale_grad_by_freq`` reads another index's count (tests/test_pytorch_programs_text.py); ``sparse=True`` and
``SparseAdam`` are refused (no sparse gradients, README), so the programs use dense tables and Adam/Adagrad.
"""

from __future__ import annotations

import importlib
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
from tests.test_pytorch_programs_flow import _lean_torch  # noqa: F401 - autouse: torch lean, _dynamo imported in setup
from tests.test_pytorch_programs_text import _shared_randint

importlib.import_module("minigrad.nn")   # imported at collection, as torch is: its one-time cost is not a test's

TORCH_IMPORTS_RECSYS = TORCH_IMPORTS + """\
from torch.utils.data import DataLoader, TensorDataset
"""

MINIGRAD_IMPORTS_RECSYS = MINIGRAD_IMPORTS + """\
from minigrad.utils.data import DataLoader, TensorDataset
"""


MATRIX_FACTORIZATION = '''
class BiasedMF(nn.Module):
    """Explicit ratings r(u, i) = mu + b_u + b_i + p_u . q_i: (B,) user and item ids to (B,) predictions."""

    def __init__(self, users, items, factors):
        super().__init__()
        self.user_factors = nn.Embedding(users, factors)
        self.item_factors = nn.Embedding(items, factors)
        self.user_bias = nn.Embedding(users, 1)
        self.item_bias = nn.Embedding(items, 1)
        self.global_bias = nn.Parameter(torch.zeros(1))
        nn.init.normal_(self.user_factors.weight, std=0.1)
        nn.init.normal_(self.item_factors.weight, std=0.1)
        nn.init.zeros_(self.user_bias.weight)
        nn.init.zeros_(self.item_bias.weight)

    def forward(self, users, items):
        dot = (self.user_factors(users) * self.item_factors(items)).sum(1)
        return dot + self.user_bias(users).squeeze(1) + self.item_bias(items).squeeze(1) + self.global_bias


class HistoryMF(nn.Module):
    """A user is the mean embedding of the items in their history: flat ids (N,) with offsets (B,) for ragged
    histories, or a (B, L) id matrix for histories of one length; (B,) candidate items to (B,) ratings."""

    def __init__(self, items, factors):
        super().__init__()
        self.history = nn.EmbeddingBag(items, factors, mode='mean')
        self.item_factors = nn.Embedding(items, factors)
        self.item_bias = nn.Embedding(items, 1)
        nn.init.zeros_(self.item_bias.weight)

    def forward(self, history, items, offsets=None):
        user = self.history(history, offsets)
        return (user * self.item_factors(items)).sum(1) + self.item_bias(items).squeeze(1)


def make_model(users, items, factors=4):
    return BiasedMF(users, items, factors)


def make_history_model(items, factors=4):
    return HistoryMF(items, factors)


def ratings_loader(users, items, ratings, batch_size):
    dataset = TensorDataset(torch.from_numpy(users), torch.from_numpy(items), torch.from_numpy(ratings))
    return DataLoader(dataset, batch_size=batch_size, shuffle=False)


def fit(model, batches, epochs, lr=0.05, weight_decay=1e-3):
    """Each batch is (inputs..., ratings); the inputs go to the model as they are."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.MSELoss()
    model.train()
    history = []
    for _ in range(epochs):
        for *inputs, ratings in batches:
            optimizer.zero_grad()
            loss = loss_fn(model(*inputs), ratings.to(torch.get_default_dtype()))
            loss.backward()
            optimizer.step()
            history.append(loss.item())
    return history


@torch.no_grad()
def rmse(model, *inputs, ratings):
    model.eval()
    return torch.sqrt(F.mse_loss(model(*inputs), ratings)).item()
'''


NEURAL_CF = '''
class NeuMF(nn.Module):
    """(B,) users and items to (B,) logits: a generalised matrix factorisation tower and an MLP tower whose
    outputs are concatenated into one linear predictor."""

    def __init__(self, users, items, factors, layers):
        super().__init__()
        mlp_width = factors * 2 ** (layers - 1)
        self.gmf_users = nn.Embedding(users, factors)
        self.gmf_items = nn.Embedding(items, factors)
        self.mlp_users = nn.Embedding(users, mlp_width)
        self.mlp_items = nn.Embedding(items, mlp_width)
        tower = []
        for layer in range(layers):
            width = factors * 2 ** (layers - layer)
            tower += [nn.Dropout(p=0.0), nn.Linear(width, width // 2), nn.ReLU()]
        self.mlp = nn.Sequential(*tower)
        self.predict = nn.Linear(factors * 2, 1)
        for table in (self.gmf_users, self.gmf_items, self.mlp_users, self.mlp_items):
            nn.init.normal_(table.weight, std=0.01)
        for module in self.mlp:
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.kaiming_uniform_(self.predict.weight, a=1, nonlinearity='sigmoid')
        nn.init.zeros_(self.predict.bias)

    def forward(self, users, items):
        gmf = self.gmf_users(users) * self.gmf_items(items)
        mlp = self.mlp(torch.cat((self.mlp_users(users), self.mlp_items(items)), -1))
        return self.predict(torch.cat((gmf, mlp), -1)).view(-1)


def make_model(users, items, factors=4, layers=2):
    return NeuMF(users, items, factors, layers)


def with_negatives(users, items, item_count, negatives):
    """Each observed (user, item) as a positive plus ``negatives`` random items for the same user as negatives."""
    sampled = torch.randint(0, item_count, (users.shape[0] * negatives,))
    all_users = torch.cat((users, users.repeat_interleave(negatives)))
    all_items = torch.cat((items, sampled))
    labels = torch.cat((torch.ones(users.shape[0]), torch.zeros(sampled.shape[0])))
    return all_users, all_items, labels


def hit_and_ndcg(model, users, candidates, top_k):
    """Leave-one-out: row b of ``candidates`` (B, C) holds user b's held-out item first, then sampled items."""
    hits, ndcgs = [], []
    for user, items in zip(users, candidates):
        scores = model(user.repeat(items.shape[0]), items)
        _, indices = torch.topk(scores, top_k)
        recommended = torch.take(items, indices).tolist()
        target = items[0].item()
        if target in recommended:
            hits.append(1.0)
            ndcgs.append(1.0 / math.log2(recommended.index(target) + 2))
        else:
            hits.append(0.0)
            ndcgs.append(0.0)
    return sum(hits) / len(hits), sum(ndcgs) / len(ndcgs)


def train(model, users, items, item_count, epochs, batch_size=8, negatives=2, lr=0.01):
    users, items = torch.from_numpy(users), torch.from_numpy(items)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss()
    history = []
    for _ in range(epochs):
        model.train()
        all_users, all_items, labels = with_negatives(users, items, item_count, negatives)
        for start in range(0, all_users.shape[0], batch_size):
            batch = slice(start, start + batch_size)
            model.zero_grad()
            loss = loss_fn(model(all_users[batch], all_items[batch]), labels[batch])
            loss.backward()
            optimizer.step()
            history.append(loss.item())
    return history


@torch.no_grad()
def evaluate(model, users, candidates, top_k=3):
    model.eval()
    return hit_and_ndcg(model, torch.from_numpy(users), torch.from_numpy(candidates), top_k)
'''


GRU4REC = '''
class GRU4Rec(nn.Module):
    """One step of every session of a mini-batch: (B,) current items and a (1, B, H) state to (B, H) outputs
    and the next state; items are scored against a separate output embedding (B, H) @ (N, H).T."""

    def __init__(self, items, hidden):
        super().__init__()
        self.hidden_size = hidden
        self.item_embedding = nn.Embedding(items, hidden)
        self.gru = nn.GRU(hidden, hidden, num_layers=1)
        self.output_embedding = nn.Embedding(items, hidden)
        self.output_bias = nn.Embedding(items, 1)
        nn.init.zeros_(self.output_bias.weight)

    def forward(self, items, state):
        outputs, state = self.gru(self.item_embedding(items).unsqueeze(0), state)
        return outputs.squeeze(0), state

    def scores(self, outputs, items=None):
        """(B, H) outputs to (B, B) logits against ``items`` (the batch's targets), or (B, N) against all items."""
        if items is None:
            return outputs @ self.output_embedding.weight.T + self.output_bias.weight.T
        return outputs @ self.output_embedding(items).T + self.output_bias(items).T

    def init_hidden(self, batch_size):
        return torch.zeros(1, batch_size, self.hidden_size)


def session_parallel(clicks, starts, batch_size):
    """Yields (inputs (B,), targets (B,), rows whose session just ended and was replaced): the first ``batch_size``
    sessions run side by side; when one ends the next unused session takes its row. ``starts`` holds each
    session's first click position and, last, the number of clicks."""
    sessions = len(starts) - 1
    rows = list(range(batch_size))
    start = [starts[s] for s in rows]
    end = [starts[s + 1] for s in rows]
    next_session = batch_size
    ended = []
    while True:
        shortest = min(e - s for s, e in zip(start, end))
        targets = [clicks[s] for s in start]
        for offset in range(shortest - 1):
            inputs = targets
            targets = [clicks[s + offset + 1] for s in start]
            yield torch.tensor(inputs), torch.tensor(targets), ended
            ended = []
        start = [s + shortest - 1 for s in start]
        ended = [row for row in rows if end[row] - start[row] <= 1]
        for row in ended:
            if next_session >= sessions:
                return
            start[row], end[row] = starts[next_session], starts[next_session + 1]
            next_session += 1


def reset_hidden(state, ended, how):
    """The (1, B, H) state with the rows of ended sessions zeroed (``how`` picks one of the ports' spellings)."""
    if not ended:
        return state
    if how == 'multiply':
        keep = torch.ones(state.shape[1])
        keep[ended] = 0
        return state * keep[:, None]
    if how == 'index_fill':
        return state.index_fill(1, torch.tensor(ended), 0.0)
    if how == 'masked_fill':
        mask = torch.zeros(state.shape[1], dtype=torch.bool)
        mask[torch.tensor(ended)] = True
        return state.masked_fill(mask[None, :, None], 0.0)
    state[:, ended, :] = 0      # the ports' in-place form, on a state already detached
    return state


def top1_loss(logits):
    """Ranks the positive (the diagonal) above each in-batch negative, plus a score regulariser."""
    difference = logits - logits.diag().view(-1, 1).expand_as(logits)
    return torch.sigmoid(difference).mean() + torch.sigmoid(logits ** 2).mean()


def bpr_loss(logits):
    difference = logits.diag().view(-1, 1).expand_as(logits) - logits
    return -torch.mean(F.logsigmoid(difference))


def recall_and_mrr(logits, targets, k):
    _, indices = torch.topk(logits, k, -1)
    targets = targets.view(-1, 1).expand_as(indices)
    hits = (targets == indices).nonzero()
    if len(hits) == 0:
        return 0.0, 0.0
    recall = hits[:, :-1].size(0) / targets.size(0)
    ranks = (hits[:, -1] + 1).float()
    mrr = torch.sum(torch.reciprocal(ranks)).item() / targets.size(0)
    return recall, mrr


def make_model(items, hidden=6):
    return GRU4Rec(items, hidden)


def train(model, clicks, starts, batch_size, loss_name, how, lr=0.05):
    loss_fn = top1_loss if loss_name == 'top1' else bpr_loss
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    state = model.init_hidden(batch_size)
    history = []
    for inputs, targets, ended in session_parallel(clicks, starts, batch_size):
        state = reset_hidden(state.detach(), ended, how)
        optimizer.zero_grad()
        outputs, state = model(inputs, state)
        loss = loss_fn(model.scores(outputs, targets))
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    return history


@torch.no_grad()
def evaluate(model, clicks, starts, batch_size, k=3):
    model.eval()
    state = model.init_hidden(batch_size)
    recalls, mrrs = [], []
    for inputs, targets, ended in session_parallel(clicks, starts, batch_size):
        state = reset_hidden(state, ended, 'multiply')
        outputs, state = model(inputs, state)
        recall, mrr = recall_and_mrr(model.scores(outputs), targets, k)
        recalls.append(recall)
        mrrs.append(mrr)
    return recalls, mrrs
'''


SASREC = '''
class PointWiseFeedForward(nn.Module):
    """Two kernel-1 convolutions over (B, L, H) with a residual connection."""

    def __init__(self, hidden, dropout):
        super().__init__()
        self.conv1 = nn.Conv1d(hidden, hidden, kernel_size=1)
        self.dropout1 = nn.Dropout(p=dropout)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv1d(hidden, hidden, kernel_size=1)
        self.dropout2 = nn.Dropout(p=dropout)

    def forward(self, inputs):
        outputs = self.dropout2(self.conv2(self.relu(self.dropout1(self.conv1(inputs.transpose(-1, -2))))))
        return outputs.transpose(-1, -2) + inputs


class SASRec(nn.Module):
    """Item sequences (B, L), right-padded with 0, to features (B, L, H): position t sees items 0..t only."""

    def __init__(self, items, max_length, hidden, heads, blocks, encoder='mha', dropout=0.0):
        super().__init__()
        self.encoder_kind = encoder
        self.item_emb = nn.Embedding(items + 1, hidden, padding_idx=0)
        self.pos_emb = nn.Embedding(max_length, hidden)
        self.emb_dropout = nn.Dropout(p=dropout)
        if encoder == 'mha':
            self.attention_norms = nn.ModuleList()
            self.attention_layers = nn.ModuleList()
            self.forward_norms = nn.ModuleList()
            self.forward_layers = nn.ModuleList()
            for _ in range(blocks):
                self.attention_norms.append(nn.LayerNorm(hidden, eps=1e-8))
                self.attention_layers.append(nn.MultiheadAttention(hidden, heads, dropout=dropout))
                self.forward_norms.append(nn.LayerNorm(hidden, eps=1e-8))
                self.forward_layers.append(PointWiseFeedForward(hidden, dropout))
        else:
            layer = nn.TransformerEncoderLayer(hidden, heads, dim_feedforward=2 * hidden, dropout=dropout,
                                               batch_first=True, norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, blocks, enable_nested_tensor=False)
        self.last_norm = nn.LayerNorm(hidden, eps=1e-8)

    def log2feats(self, sequences):
        features = self.item_emb(sequences) * self.item_emb.embedding_dim ** 0.5
        positions = torch.arange(sequences.shape[1]).unsqueeze(0).expand_as(sequences)
        features = self.emb_dropout(features + self.pos_emb(positions))
        padding = sequences == 0
        features = features * ~padding.unsqueeze(-1)
        length = sequences.shape[1]
        causal = ~torch.tril(torch.ones((length, length), dtype=torch.bool))
        if self.encoder_kind == 'mha':
            for i in range(len(self.attention_layers)):
                features = torch.transpose(features, 0, 1)
                queries = self.attention_norms[i](features)
                attended, _ = self.attention_layers[i](queries, features, features, attn_mask=causal,
                                                       key_padding_mask=padding)
                features = torch.transpose(queries + attended, 0, 1)
                features = self.forward_layers[i](self.forward_norms[i](features))
                features = features * ~padding.unsqueeze(-1)
        else:
            features = self.encoder(features, mask=causal, src_key_padding_mask=padding)
        return self.last_norm(features)

    def forward(self, sequences, positives, negatives):
        features = self.log2feats(sequences)
        positive_logits = (features * self.item_emb(positives)).sum(dim=-1)
        negative_logits = (features * self.item_emb(negatives)).sum(dim=-1)
        return positive_logits, negative_logits

    def predict(self, sequences, lengths, candidates):
        """(B, C) candidate logits from the feature at each sequence's last item."""
        features = self.log2feats(sequences)
        last = features[torch.arange(sequences.shape[0]), lengths - 1]
        return self.item_emb(candidates).matmul(last.unsqueeze(-1)).squeeze(-1)


def make_model(items, max_length, encoder='mha'):
    return SASRec(items, max_length, hidden=8, heads=2, blocks=2, encoder=encoder)


def train(model, sequences, targets, item_count, epochs, batch_size=4, lr=0.005, l2_emb=1e-3):
    sequences, targets = torch.from_numpy(sequences), torch.from_numpy(targets)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.98))
    criterion = nn.BCEWithLogitsLoss()
    history = []
    for _ in range(epochs):
        model.train()
        for start in range(0, sequences.shape[0], batch_size):
            inputs, positives = sequences[start:start + batch_size], targets[start:start + batch_size]
            negatives = torch.randint(1, item_count + 1, positives.shape) * (positives != 0)
            positive_logits, negative_logits = model(inputs, positives, negatives)
            positive_labels = torch.ones(positive_logits.shape)
            negative_labels = torch.zeros(negative_logits.shape)
            optimizer.zero_grad()
            indices = torch.where(positives != 0)
            loss = criterion(positive_logits[indices], positive_labels[indices])
            loss += criterion(negative_logits[indices], negative_labels[indices])
            for param in model.item_emb.parameters():
                loss += l2_emb * torch.norm(param)
            loss.backward()
            optimizer.step()
            history.append(loss.item())
    return history


@torch.no_grad()
def evaluate(model, sequences, lengths, candidates, k=3):
    """HR@k and NDCG@k of the true next item, the first column of ``candidates``."""
    model.eval()
    logits = model.predict(torch.from_numpy(sequences), torch.from_numpy(lengths), torch.from_numpy(candidates))
    ranks = (-logits).argsort(dim=1).argsort(dim=1)[:, 0]
    hit = ranks < k
    ndcg = torch.where(hit, 1.0 / torch.log2(ranks.float() + 2), torch.zeros(ranks.shape))
    return hit.float().mean().item(), ndcg.mean().item(), logits
'''


TWO_TOWER = '''
class Tower(nn.Module):
    """(B,) ids to (B, D) unit vectors: an embedding and a small MLP."""

    def __init__(self, count, embed, out):
        super().__init__()
        self.embedding = nn.Embedding(count, embed)
        self.mlp = nn.Sequential(nn.Linear(embed, 2 * out), nn.ReLU(), nn.Linear(2 * out, out))

    def forward(self, ids):
        return F.normalize(self.mlp(self.embedding(ids)), dim=-1)


class TwoTower(nn.Module):
    """In-batch softmax retrieval with the streaming frequency estimate and logQ correction of Yi et al.: an item
    seen every ``delta`` steps on average is sampled into a batch with probability q ~ 1 / delta."""

    def __init__(self, users, items, embed=6, out=4, temperature=0.1, alpha=0.1):
        super().__init__()
        self.query_tower = Tower(users, embed, out)
        self.candidate_tower = Tower(items, embed, out)
        self.temperature = temperature
        self.alpha = alpha
        self.register_buffer('step', torch.zeros((), dtype=torch.long))
        self.register_buffer('last_seen', torch.zeros(items, dtype=torch.long))
        self.register_buffer('delta', torch.ones(items))

    @torch.no_grad()
    def update_frequencies(self, items):
        self.step += 1
        gap = (self.step - self.last_seen[items]).to(self.delta.dtype)
        self.delta[items] = (1 - self.alpha) * self.delta[items] + self.alpha * gap
        self.last_seen[items] = self.step

    def forward(self, users, items):
        """(B, B) logits of every user against every item of the batch; the diagonal holds the positives."""
        logits = self.query_tower(users) @ self.candidate_tower(items).T / self.temperature
        logits = logits + torch.log(self.delta[items])      # - log q with q = 1 / delta
        same_item = items.unsqueeze(0) == items.unsqueeze(1)
        accidental = same_item & ~torch.eye(items.shape[0], dtype=torch.bool)
        return logits.masked_fill(accidental, float('-inf'))


def make_model(users, items):
    return TwoTower(users, items)


def train(model, users, items, epochs, batch_size=6, lr=0.2):
    users, items = torch.from_numpy(users), torch.from_numpy(items)
    optimizer = torch.optim.Adagrad(model.parameters(), lr=lr)
    history = []
    for _ in range(epochs):
        model.train()
        for batch_users, batch_items in zip(users.split(batch_size), items.split(batch_size)):
            model.update_frequencies(batch_items)
            logits = model(batch_users, batch_items)
            labels = torch.arange(batch_users.shape[0])
            loss = F.cross_entropy(logits, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history.append(loss.item())
    return history


@torch.no_grad()
def recall_at_k(model, users, items, item_count, k=3):
    model.eval()
    queries = model.query_tower(torch.from_numpy(users))
    catalogue = model.candidate_tower(torch.arange(item_count))
    top = (queries @ catalogue.T).topk(k, dim=1).indices
    return (top == torch.from_numpy(items)[:, None]).any(dim=1).float().mean().item()
'''

PROGRAMS = (MATRIX_FACTORIZATION, NEURAL_CF, GRU4REC, SASREC, TWO_TOWER)


def _twins(source: str, *args: Any, **kwargs: Any) -> tuple:
    return _twin_models(source, *args, imports=(TORCH_IMPORTS_RECSYS, MINIGRAD_IMPORTS_RECSYS), **kwargs)


def _both(torch: Any) -> tuple:
    import minigrad as mg  # noqa: PLC0415

    return torch, mg


def _close(ours: Any, theirs: Any, dtype: str = "float32") -> None:
    tolerance = {"rtol": 1e-5, "atol": 1e-6} if dtype == "float32" else {"rtol": 1e-10, "atol": 1e-12}
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), **tolerance)


def test_the_programs_differ_only_in_their_imports() -> None:
    assert TORCH_IMPORTS_RECSYS.count("\n") == MINIGRAD_IMPORTS_RECSYS.count("\n") == 6
    last_torch, last_mg = TORCH_IMPORTS_RECSYS.splitlines()[-1], MINIGRAD_IMPORTS_RECSYS.splitlines()[-1]
    assert last_torch.replace("torch", "minigrad") == last_mg
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. matrix factorisation


def _ratings(count: int, users: int, items: int, seed: int) -> tuple:
    """(users (count,) int64, items (count,) int64, ratings (count,) float32) from hidden rank-2 tastes."""
    rng = np.random.default_rng(seed)
    taste, trait = rng.standard_normal((users, 2)), rng.standard_normal((items, 2))
    u, i = rng.integers(0, users, count), rng.integers(0, items, count)
    r = 3 + (taste[u] * trait[i]).sum(1) + 0.3 * rng.standard_normal(count)
    return u.astype(np.int64), i.astype(np.int64), r.astype(np.float32)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_biased_matrix_factorisation(dtype: str, torch: Any) -> None:
    """Embedding factors and biases, (p * q).sum(1), Adam with weight decay over a DataLoader; RMSE after."""
    users, items, ratings = _ratings(40, 7, 9, 0)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(MATRIX_FACTORIZATION, 7, 9)
    runs = []
    for program, model, lib in ((mg_program, mg_model, None), (torch_program, torch_model, None)):
        lib = program["torch"]
        previous = lib.get_default_dtype()
        if dtype == "float64":
            model.double()
            lib.set_default_dtype(lib.float64)
        try:
            history = program["fit"](model, program["ratings_loader"](users, items, ratings, 8), 2)
            score = program["rmse"](model, lib.from_numpy(users), lib.from_numpy(items),
                                    ratings=lib.from_numpy(ratings.astype(dtype)))
        finally:
            lib.set_default_dtype(previous)
        runs.append((history, score))
    (history, score), (expected_history, expected_score) = runs
    assert len(history) == 10
    _close(history, expected_history, dtype)
    _close(score, expected_score, dtype)
    if dtype == "float32":
        _assert_same_weights(torch_model, mg_model, initial)
    for name, weights in mg_model.state_dict().items():
        assert weights.dtype == np.dtype(dtype), name
        _close(weights.numpy(), torch_model.state_dict()[name].detach().numpy(), dtype)


def _histories(users: int, items: int, seed: int, ragged: bool) -> tuple:
    """Per user: a history of 1..4 items (3 when not ragged), a candidate item and its rating (float32)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 5, users) if ragged else np.full(users, 3)
    ids = rng.integers(0, items, int(lengths.sum())).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    candidates = rng.integers(0, items, users).astype(np.int64)
    ratings = (3 + np.sin(candidates) + np.add.reduceat(np.cos(ids), offsets) / lengths).astype(np.float32)
    return ids, offsets, lengths, candidates, ratings


def _history_batches(lib: Any, data: tuple, batch_size: int, two_d: bool) -> list:
    """Batches of (history, candidates, offsets, ratings) with 1-D ids + offsets, or (history (B, L), candidates,
    ratings) for the 2-D form."""
    ids, offsets, lengths, candidates, ratings = data
    batches = []
    for start in range(0, len(offsets), batch_size):
        rows = slice(start, start + batch_size)
        first, last = offsets[start], offsets[rows][-1] + lengths[rows][-1]
        history = lib.from_numpy(ids[first:last].copy())
        target, rating = lib.from_numpy(candidates[rows].copy()), lib.from_numpy(ratings[rows].copy())
        if two_d:
            batches.append((history.view(-1, int(lengths[0])), target, rating))
        else:
            batches.append((history, target, lib.from_numpy(offsets[rows] - first), rating))
    return batches


@pytest.mark.parametrize("two_d", [False, True], ids=["offsets", "2d"])
def test_history_matrix_factorisation_with_mean_embedding_bags(two_d: bool, torch: Any) -> None:
    """The user as EmbeddingBag(mode='mean') of their history, flat ids + offsets (ragged) or (B, L) ids."""
    data = _histories(12, 10, 1, ragged=not two_d)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(MATRIX_FACTORIZATION, 10,
                                                                       factory="make_history_model")
    history = mg_program["fit"](mg_model, _history_batches(_both(torch)[1], data, 5, two_d), 2)
    expected = torch_program["fit"](torch_model, _history_batches(torch, data, 5, two_d), 2)
    assert len(history) == 6
    _close(history, expected)
    _assert_same_weights(torch_model, mg_model, initial)
    assert not np.array_equal(mg_model.state_dict()["history.weight"].numpy(), initial["history.weight"].numpy())


def test_mean_bags_read_the_same_from_offsets_and_from_a_matrix(torch: Any) -> None:
    """Histories of one length: the offsets form and the (B, L) form give the same user vectors, in each engine."""
    ids, offsets, *_ = _histories(6, 10, 2, ragged=False)
    for lib in _both(torch):
        lib.manual_seed(0)
        bag = lib.nn.EmbeddingBag(10, 4, mode="mean")
        flat = bag(lib.from_numpy(ids), lib.from_numpy(offsets))
        matrix = bag(lib.from_numpy(ids).view(6, 3))
        np.testing.assert_allclose(flat.detach().numpy(), matrix.detach().numpy(), rtol=1e-6)


# ----------------------------------------------------------------------------- 2. NeuMF


def _implicit(users: int, items: int, seed: int, per_user: int = 3) -> tuple:
    """(users, items) of observed interactions (int64), and per user a held-out item first then 5 others."""
    rng = np.random.default_rng(seed)
    taste = rng.integers(0, 2, users)
    observed = [(u, int(rng.integers(0, items // 2)) * 2 + int(taste[u]))
                for u in range(users) for _ in range(per_user)]
    u, i = (np.array(column, dtype=np.int64) for column in zip(*observed))
    held_out = (rng.integers(0, items // 2, users) * 2 + taste).astype(np.int64)
    others = (rng.integers(0, items // 2, (users, 5)) * 2 + 1 - taste[:, None]).astype(np.int64)
    return u, i, np.arange(users, dtype=np.int64), np.concatenate([held_out[:, None], others], axis=1)


def test_neural_collaborative_filtering(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """GMF and MLP towers joined into one predictor, BCEWithLogitsLoss on positives and randint negatives
    (one shared stream), Adam; leave-one-out HR@3 and NDCG@3 through topk and take."""
    users, items, eval_users, candidates = _implicit(6, 10, 3)
    _shared_randint(monkeypatch, torch, 4)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(NEURAL_CF, 6, 10)
    history = mg_program["train"](mg_model, users, items, 10, 2)
    expected = torch_program["train"](torch_model, users, items, 10, 2)
    assert len(history) == 14
    _close(history, expected)
    _close(mg_program["evaluate"](mg_model, eval_users, candidates),
           torch_program["evaluate"](torch_model, eval_users, candidates))
    _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- 3. GRU4Rec


def _sessions(count: int, items: int, seed: int) -> tuple:
    """Clicks (a flat list of item ids) and session starts (count + 1 positions): sessions of 2..5 clicks that
    mostly walk item -> item + 1."""
    rng = np.random.default_rng(seed)
    clicks, starts = [], [0]
    for _ in range(count):
        item = int(rng.integers(0, items))
        for _ in range(int(rng.integers(2, 6))):
            clicks.append(item)
            item = (item + 1) % items if rng.random() < 0.8 else int(rng.integers(0, items))
        starts.append(len(clicks))
    return clicks, starts


@pytest.mark.parametrize(("loss_name", "how"), [("top1", "index_fill"), ("bpr", "assign")])
def test_gru4rec_session_parallel(loss_name: str, how: str, torch: Any) -> None:
    """Session-parallel GRU steps, ended sessions' state rows zeroed, in-batch TOP1/BPR loss, Adam; recall@3 and
    MRR@3 over all items after."""
    clicks, starts = _sessions(16, 8, 5)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(GRU4REC, 8)
    history = mg_program["train"](mg_model, clicks, starts, 3, loss_name, how)
    expected = torch_program["train"](torch_model, clicks, starts, 3, loss_name, how)
    assert len(history) > 8
    _close(history, expected)
    recalls, mrrs = mg_program["evaluate"](mg_model, clicks, starts, 3)
    _close((recalls, mrrs), torch_program["evaluate"](torch_model, clicks, starts, 3))
    assert 0 < max(mrrs) <= max(recalls) <= 1
    _assert_same_weights(torch_model, mg_model, initial)


def test_gru4rec_state_resets_agree(torch: Any) -> None:
    """The four spellings of the ended-session reset give one (1, B, H) state, with its gradient, in both."""
    state = np.random.default_rng(9).standard_normal((1, 4, 3))
    results = []
    for imports, lib in zip((TORCH_IMPORTS_RECSYS, MINIGRAD_IMPORTS_RECSYS), _both(torch)):
        program = _program(GRU4REC, imports)
        for how in ("multiply", "index_fill", "masked_fill", "assign"):
            leaf = lib.tensor(state, requires_grad=True)
            reset = program["reset_hidden"](leaf * 1, [0, 2], how)
            (reset * lib.arange(12.0, dtype=lib.float64).view(1, 4, 3)).sum().backward()
            results.append((reset.detach().numpy(), leaf.grad.numpy()))
    expected = state * np.array([0, 1, 0, 1])[None, :, None]
    for values, grad in results:
        np.testing.assert_array_equal(values, expected)
        np.testing.assert_array_equal(grad, np.arange(12.0).reshape(1, 4, 3) * np.array([0, 1, 0, 1])[None, :, None])


# ----------------------------------------------------------------------------- 4. SASRec


def _item_sequences(count: int, items: int, max_length: int, seed: int) -> tuple:
    """Right-padded (count, L) inputs and targets (next items; 0 on padding), lengths, and (count, 5) eval
    candidates: the true next item first, then four others (ids 1..items)."""
    rng = np.random.default_rng(seed)
    inputs = np.zeros((count, max_length), dtype=np.int64)
    targets = np.zeros_like(inputs)
    lengths = rng.integers(2, max_length + 1, count)
    candidates = np.zeros((count, 5), dtype=np.int64)
    for row, length in enumerate(lengths):
        walk = (int(rng.integers(0, items)) + np.arange(length + 2) * int(rng.integers(1, 3))) % items + 1
        inputs[row, :length], targets[row, :length] = walk[:length], walk[1:length + 1]
        candidates[row] = [walk[length], *rng.choice(np.setdiff1d(np.arange(1, items + 1), walk[length]), 4)]
    return inputs, targets, lengths.astype(np.int64), candidates


@pytest.mark.parametrize("encoder", ["mha", "layer"])
def test_sasrec_causal_attention_with_padding(encoder: str, torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Causal MultiheadAttention blocks with a key padding mask (or TransformerEncoder under both masks), BCE over
    the non-pad positions with shared randint negatives, an L2 norm on the item table, Adam; HR/NDCG@3 after."""
    inputs, targets, lengths, candidates = _item_sequences(8, 9, 5, 6)
    _shared_randint(monkeypatch, torch, 7)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(SASREC, 9, 5, encoder)
    history = mg_program["train"](mg_model, inputs, targets, 9, 2)
    expected = torch_program["train"](torch_model, inputs, targets, 9, 2)
    assert len(history) == 4
    _close(history, expected)
    hr, ndcg, logits = mg_program["evaluate"](mg_model, inputs, lengths, candidates)
    expected_hr, expected_ndcg, expected_logits = torch_program["evaluate"](torch_model, inputs, lengths, candidates)
    _close(logits.numpy(), expected_logits.numpy())
    _close((hr, ndcg), (expected_hr, expected_ndcg))
    # the key bias adds q . b_k to all scores of a query alike, so softmax makes its true gradient 0 and its Adam
    # steps follow the sign of rounding noise: compared apart from the query and value biases
    prefix = "attention_layers.{}." if encoder == "mha" else "encoder.layers.{}.self_attn."
    in_biases = tuple(prefix.format(block) + "in_proj_bias" for block in range(2))
    _assert_same_weights(torch_model, mg_model, initial, noise_only=in_biases)
    for name in in_biases:
        ours, theirs = mg_model.state_dict()[name].numpy(), torch_model.state_dict()[name].numpy()
        _close(np.delete(ours, np.s_[8:16]), np.delete(theirs, np.s_[8:16]))
    assert not mg_model.item_emb.weight.numpy()[0].any()          # padding_idx: row 0 stays zero


def test_left_padded_queries_with_every_key_masked_read_zeros_in_eval_too(torch: Any) -> None:
    """pmixer's SASRec pads on the left; with a key padding mask too, the first queries of a short sequence see
    no key. torch's scaled-dot-product path gives those rows 0 (as its training-mode MultiheadAttention with
    need_weights=False and TransformerEncoderLayer do); its eval/no_grad fast path gives NaN there instead, its two
    paths disagreeing. Ours takes the 0 in both modes, so eval reads what training read: compared with torch's
    training-mode numbers (no dropout, so train and eval compute the same thing)."""
    rng = np.random.default_rng(10)
    x = rng.standard_normal((2, 4, 8)).astype(np.float32)
    padding = np.array([[True, True, False, False], [False, False, False, False]])
    outputs = []
    for lib in _both(torch):
        lib.manual_seed(0)
        layer = lib.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
        if lib is torch:
            weights = {k: v.detach().numpy().copy() for k, v in layer.state_dict().items()}
        else:
            layer.load_state_dict({k: lib.from_numpy(v) for k, v in weights.items()})
        causal = ~lib.tril(lib.ones((4, 4), dtype=lib.bool))
        layer.train(lib is torch)
        with lib.no_grad():
            outputs.append(layer(lib.from_numpy(x), src_mask=causal, src_key_padding_mask=lib.from_numpy(padding)))
    expected, ours = (out.numpy() for out in outputs)
    assert np.isfinite(ours).all()
    _close(ours, expected)


# ----------------------------------------------------------------------------- 5. two towers with logQ


def _user_item_pairs(count: int, users: int, items: int, seed: int) -> tuple:
    """(users, items) int64 pairs with a popularity skew (Zipf-like) and a user-dependent taste."""
    rng = np.random.default_rng(seed)
    u = rng.integers(0, users, count)
    popular = np.minimum(rng.zipf(1.6, count) - 1, items - 1)
    i = np.where(rng.random(count) < 0.5, popular, (u * 3 + rng.integers(0, 2, count)) % items)
    return u.astype(np.int64), i.astype(np.int64)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_two_tower_in_batch_softmax_with_logq_correction(dtype: str, torch: Any) -> None:
    """Normalised towers, in-batch softmax with a temperature, the streaming frequency estimate's logQ
    correction and masked accidental hits, cross_entropy against arange, Adagrad; recall@3 after."""
    users, items = _user_item_pairs(24, 5, 8, 8)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(TWO_TOWER, 5, 8)
    if dtype == "float64":
        torch_model.double()
        mg_model.double()
    history = mg_program["train"](mg_model, users, items, 2)
    expected = torch_program["train"](torch_model, users, items, 2)
    assert len(history) == 8 and all(np.isfinite(history))
    _close(history, expected, dtype)
    recall = mg_program["recall_at_k"](mg_model, users, items, 8)
    _close(recall, torch_program["recall_at_k"](torch_model, users, items, 8))
    for name, weights in mg_model.state_dict().items():
        _close(weights.numpy(), torch_model.state_dict()[name].numpy(), dtype if name.endswith("weight") or
               name.endswith("bias") else "float32")
    if dtype == "float32":
        _assert_same_weights(torch_model, mg_model, initial)
    assert (mg_model.delta.numpy() != 1).sum() > 3                 # the frequency estimate moved
