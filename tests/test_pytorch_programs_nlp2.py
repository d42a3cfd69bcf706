"""Four more NLP programs, small, run unchanged on minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program: it keeps the original's PyTorch calls and
habits in the same roles, with our own names, structure and comments, tiny vocabularies and generated sentences
(the helpers and the rule come from tests/test_pytorch_programs.py and tests/test_pytorch_programs_more.py):

* ``ESIM`` is the Enhanced Sequential Inference Model of Chen et al. (2017) for natural language inference, as
  PyTorch ports write it (in the manner of coetaur0/ESIM): ``nn.Embedding(padding_idx=0)``, a bidirectional
  ``nn.LSTM(batch_first=True)`` over ``pack_padded_sequence(enforce_sorted=False)`` read back with
  ``pad_packed_sequence(total_length=...)``, the soft alignment ``e = a.bmm(b.transpose(1, 2))`` normalised both
  ways by a masked softmax (either ``masked_fill(mask == 0, float('-inf'))`` or the additive ``(1 - mask) * -1e7``
  trick), the enhancement ``torch.cat([a, ã, a - ã, a * ã], dim=-1)``, a Linear + ReLU projection, a composition
  BiLSTM, masked average and max pooling, a tanh MLP with ``nn.Dropout``, ``F.cross_entropy``,
  ``clip_grad_norm_`` and Adam; run in float32 and, with ``model.double()``, in float64;
* ``BIDAF`` is the Bi-Directional Attention Flow of Seo et al. (2017) for extractive question answering, as
  PyTorch ports write it: character embeddings read by an ``nn.Conv1d`` and a max over time, a 2-layer highway
  network, a contextual BiLSTM, the trilinear similarity ``[c; q; c∘q] · w`` computed by broadcasting (no
  ``(B, T, J, 6H)`` tensor), context-to-query attention and query-to-context attention (softmax over the rows'
  maxima), a 2-layer modeling BiLSTM, start and end logits through a masked ``log_softmax``, the NLL of the gold
  span, Adadelta (lr 0.5, as the paper) with an exponential moving average of the weights, and span decoding by
  the outer product of start and end probabilities, ``torch.triu`` minus ``triu(diagonal=max_len)`` for the
  longest answer, and ``argmax`` over the flattened matrix;
* ``HAN_TEXTCNN_FASTTEXT``: the hierarchical attention network of Yang et al. (2016) in its unpacked form
  (documents as ``(docs, sentences, words)`` of padded ids, word- and sentence-level ``nn.GRU(bidirectional=True)``
  over the padded batch, attention ``u = tanh(W h)``, ``u · u_w`` and a masked softmax written as
  ``exp(s - max) * mask / sum``, so that an all-padding sentence gets zero weights rather than NaN; the packed form
  is in tests/test_pytorch_programs_nlp.py) trained with momentum SGD; Kim's (2014) TextCNN (several
  ``nn.Conv1d`` widths, ``F.max_pool1d(h, h.size(2))`` over time, dropout, the l2 max-norm constraint on the
  output rows with ``renorm_`` under ``no_grad``) trained with Adadelta; and fastText (Joulin et al., 2017) as the
  PyTorch text classification tutorial writes it: ``nn.EmbeddingBag(mode='mean')`` over word ids plus hashed
  bigram ids, flat ``text`` with ``offsets`` from ``cumsum``, SGD with a linearly decaying ``LambdaLR``.

Dropout masks come from each engine's own generator: here ``F.dropout`` (which ``nn.Dropout`` calls) draws its
keep-mask from one shared NumPy stream in both engines during the runs (``_shared_dropout`` of
tests/test_pytorch_programs_gnn.py). The modeling LSTM's own between-layer dropout draws inside the layer, so the
BiDAF program sets it to 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import _assert_same_weights, _twin_models
from tests.test_pytorch_programs_flow import _lean_torch  # noqa: F401 - a fixture, used by name
from tests.test_pytorch_programs_gnn import _shared_dropout
from tests.test_pytorch_programs_nlp import MINIGRAD_IMPORTS_NLP, TORCH_IMPORTS_NLP

pytestmark = pytest.mark.usefixtures("_lean_torch")


ESIM = '''
def sort_by_lengths(batch, lengths):
    """The rows of batch by decreasing length, the sorted lengths, and the index that puts them back."""
    sorted_lengths, sorting_index = lengths.sort(0, descending=True)
    sorted_batch = batch.index_select(0, sorting_index)
    positions = torch.arange(0, len(lengths))
    _, reverse_mapping = sorting_index.sort(0, descending=False)
    return sorted_batch, sorted_lengths, positions.index_select(0, reverse_mapping)


def encode(lstm, embedded, lengths, packing):
    """A BiLSTM over a padded batch (B, L, E) of lengths (B,): (B, L, 2H), zeros past each length. packing:
    "unsorted" (enforce_sorted=False) or "sorted" (the rows sorted by length first and put back after)."""
    if packing == "unsorted":
        packed = pack_padded_sequence(embedded, lengths.cpu(), batch_first=True, enforce_sorted=False)
    else:
        embedded, lengths, restoration_index = sort_by_lengths(embedded, lengths)
        packed = pack_padded_sequence(embedded, lengths, batch_first=True)
    outputs, _ = lstm(packed)
    outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=embedded.size(1))
    return outputs if packing == "unsorted" else outputs.index_select(0, restoration_index)


def masked_softmax(scores, mask, style):
    """softmax over the last axis of scores (B, L, K), keys where mask (B, 1, K) is 0 left out: filled with -inf,
    pushed down by (1 - mask) * -1e7, or (ESIM's own) zeroed after the softmax and the rest renormalised."""
    if style == "fill":
        return F.softmax(scores.masked_fill(mask == 0, float("-inf")), dim=-1)
    if style == "additive":
        return F.softmax(scores + (1 - mask) * -1e7, dim=-1)
    shape = scores.size()
    flat_scores = scores.view(-1, shape[-1])
    flat_mask = mask.expand_as(scores).contiguous().view(-1, shape[-1])
    result = F.softmax(flat_scores * flat_mask, dim=-1) * flat_mask
    result = result / (result.sum(dim=-1, keepdim=True) + 1e-13)
    return result.view(*shape)


def replace_masked(tensor, mask, value):
    """tensor (B, L, D) with the positions where mask (B, L) is 0 set to value."""
    mask = mask.unsqueeze(1).transpose(2, 1)
    return tensor * mask + value * (1.0 - mask)


def pool(v, mask):
    """Average and max of v (B, L, D) over the real positions of mask (B, L): (B, 2D)."""
    average = torch.sum(v * mask.unsqueeze(1).transpose(2, 1), dim=1) / torch.sum(mask, dim=1, keepdim=True)
    largest, _ = replace_masked(v, mask, -1e7).max(dim=1)
    return torch.cat([average, largest], dim=1)


class RNNDropout(nn.Dropout):
    """Dropout of whole features of a (B, L, D) batch: one mask per sequence, the same at every step."""

    def forward(self, sequences):
        ones = sequences.new_ones(sequences.shape[0], sequences.shape[-1])
        mask = F.dropout(ones, self.p, self.training, inplace=False)
        return mask.unsqueeze(1) * sequences


def init_weights(module):
    """Xavier for the Linear layers; LSTM input weights Xavier, recurrent ones orthogonal, the forget gate's
    bias 1 (PyTorch's gate order is i, f, g, o)."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        nn.init.constant_(module.bias, 0.0)
    elif isinstance(module, nn.LSTM):
        for suffix in ("l0", "l0_reverse"):
            nn.init.xavier_uniform_(getattr(module, "weight_ih_" + suffix))
            nn.init.orthogonal_(getattr(module, "weight_hh_" + suffix))
            nn.init.constant_(getattr(module, "bias_ih_" + suffix), 0.0)
            nn.init.constant_(getattr(module, "bias_hh_" + suffix), 0.0)
            with torch.no_grad():
                getattr(module, "bias_hh_" + suffix)[module.hidden_size:2 * module.hidden_size] = 1.0


class ESIM(nn.Module):
    """Premise (B, Lp) and hypothesis (B, Lh) ids, 0 = padding, with their lengths -> logits (B, classes)."""

    def __init__(self, vocab_size, embed_size, hidden_size, classes=3, dropout=0.5, mask_style="fill",
                 packing="unsorted"):
        super().__init__()
        self.mask_style, self.packing = mask_style, packing
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=0)
        self.rnn_dropout = RNNDropout(p=dropout)
        self.encoder = nn.LSTM(embed_size, hidden_size, batch_first=True, bidirectional=True)
        self.projection = nn.Sequential(nn.Linear(4 * 2 * hidden_size, hidden_size), nn.ReLU())
        self.composition = nn.LSTM(hidden_size, hidden_size, batch_first=True, bidirectional=True)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(4 * 2 * hidden_size, hidden_size),
                                        nn.Tanh(), nn.Dropout(p=dropout), nn.Linear(hidden_size, classes))
        self.apply(init_weights)

    def enhance(self, a, a_aligned, mask, lengths):
        m = torch.cat([a, a_aligned, a - a_aligned, a * a_aligned], dim=-1)
        projected = self.rnn_dropout(self.projection(m))
        return pool(encode(self.composition, projected, lengths, self.packing), mask)

    def forward(self, premises, premise_lengths, hypotheses, hypothesis_lengths):
        like = self.embedding.weight
        premise_mask = (premises != 0).to(like.dtype)
        hypothesis_mask = (hypotheses != 0).to(like.dtype)
        a = encode(self.encoder, self.rnn_dropout(self.embedding(premises)), premise_lengths, self.packing)
        b = encode(self.encoder, self.rnn_dropout(self.embedding(hypotheses)), hypothesis_lengths, self.packing)
        e = a.bmm(b.transpose(2, 1).contiguous())                            # (B, Lp, Lh)
        a_aligned = masked_softmax(e, hypothesis_mask.unsqueeze(1), self.mask_style).bmm(b)
        b_aligned = masked_softmax(e.transpose(1, 2).contiguous(), premise_mask.unsqueeze(1), self.mask_style).bmm(a)
        a_aligned = a_aligned * premise_mask.unsqueeze(-1)
        b_aligned = b_aligned * hypothesis_mask.unsqueeze(-1)
        v = torch.cat([self.enhance(a, a_aligned, premise_mask, premise_lengths),
                       self.enhance(b, b_aligned, hypothesis_mask, hypothesis_lengths)], dim=-1)
        return self.classifier(v)


def make_model(vocab_size, mask_style="fill", packing="unsorted"):
    return ESIM(vocab_size, embed_size=6, hidden_size=5, mask_style=mask_style, packing=packing)


def train(model, batches, epochs, dtype_name="float32"):
    """Adam on cross-entropy with the gradient norm clipped at 10, the learning rate halved when the epoch's
    accuracy stops rising; the losses of each step, the learning rates, then the accuracy and the probabilities
    of the last batch under eval() and no_grad()."""
    if dtype_name == "float64":
        model.double()
    optimizer = optim.Adam(model.parameters(), lr=4e-3)
    scheduler = optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.5, patience=0)
    losses, rates = [], []
    for _ in range(epochs):
        model.train()
        for premises, premise_lengths, hypotheses, hypothesis_lengths, labels in batches:
            optimizer.zero_grad()
            logits = model(premises, premise_lengths, hypotheses, hypothesis_lengths)
            loss = F.cross_entropy(logits, labels)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            optimizer.step()
            losses.append(loss.item())
        model.eval()
        correct, total = 0, 0
        with torch.no_grad():
            for premises, premise_lengths, hypotheses, hypothesis_lengths, labels in batches:
                probabilities = F.softmax(model(premises, premise_lengths, hypotheses, hypothesis_lengths), dim=-1)
                correct += (probabilities.argmax(dim=1) == labels).sum().item()
                total += labels.size(0)
        scheduler.step(correct / total)
        rates.append(optimizer.param_groups[0]["lr"])
    return losses, rates, correct / total, probabilities.numpy()
'''


BIDAF = '''
class CharCNN(nn.Module):
    """Characters (B, T, C) -> word vectors (B, T, filters): embedding, Conv1d over the characters, max over them."""

    def __init__(self, chars, char_dim, filters, width):
        super().__init__()
        self.embedding = nn.Embedding(chars, char_dim, padding_idx=0)
        self.conv = nn.Conv1d(char_dim, filters, width)

    def forward(self, chars):
        batch, length, letters = chars.size()
        x = self.embedding(chars.view(-1, letters)).transpose(1, 2)        # (B * T, char_dim, C)
        x, _ = F.relu(self.conv(x)).max(dim=2)
        return x.view(batch, length, -1)


class Highway(nn.Module):
    """x <- g * relu(W x) + (1 - g) * x with g = sigmoid(V x), layer after layer."""

    def __init__(self, size, layers=2):
        super().__init__()
        self.transforms = nn.ModuleList([nn.Linear(size, size) for _ in range(layers)])
        self.gates = nn.ModuleList([nn.Linear(size, size) for _ in range(layers)])

    def forward(self, x):
        for transform, gate in zip(self.transforms, self.gates):
            g = torch.sigmoid(gate(x))
            x = g * F.relu(transform(x)) + (1 - g) * x
        return x


def masked_log_softmax(logits, mask):
    """log_softmax over the last axis with the padded positions (mask 0) pushed to -1e30 first."""
    return F.log_softmax(mask * logits + (1 - mask) * -1e30, dim=-1)


class BiDAF(nn.Module):
    """Context (B, T) and question (B, J) word ids, 0 = padding, with their characters (B, T, C) and (B, J, C)
    -> log-probabilities of the answer's start and end (B, T) each."""

    def __init__(self, words, chars, word_dim=6, char_dim=4, filters=5, width=3, hidden=4, dropout=0.2):
        super().__init__()
        self.dropout = dropout
        self.word_embedding = nn.Embedding(words, word_dim, padding_idx=0)
        self.char_cnn = CharCNN(chars, char_dim, filters, width)
        self.highway = Highway(word_dim + filters)
        self.context_lstm = nn.LSTM(word_dim + filters, hidden, batch_first=True, bidirectional=True)
        self.similarity_weight = nn.Parameter(torch.empty(3 * 2 * hidden).uniform_(-0.3, 0.3))
        self.similarity_bias = nn.Parameter(torch.zeros(1))
        # the program's between-layer dropout is 0 here: its masks are drawn inside the layer
        self.modeling_lstm = nn.LSTM(8 * hidden, hidden, num_layers=2, batch_first=True, bidirectional=True)
        self.end_lstm = nn.LSTM(2 * hidden, hidden, batch_first=True, bidirectional=True)
        self.start_out = nn.Linear(10 * hidden, 1)
        self.end_out = nn.Linear(10 * hidden, 1)

    def embed(self, words, chars):
        x = torch.cat([self.word_embedding(words), self.char_cnn(chars)], dim=-1)
        x = self.highway(F.dropout(x, self.dropout, training=self.training))
        return self.context_lstm(x)[0]

    def similarity(self, c, q):
        """S[b, t, j] = w · [c_t; q_j; c_t * q_j] + bias, by broadcasting: (B, T, J)."""
        w_c, w_q, w_cq = torch.chunk(self.similarity_weight, 3)
        s = (c @ w_c).unsqueeze(2) + (q @ w_q).unsqueeze(1) + torch.matmul(c * w_cq, q.transpose(1, 2))
        return s + self.similarity_bias

    def forward(self, context, context_chars, question, question_chars):
        c_mask = (context != 0).float()
        q_mask = (question != 0).float()
        c = self.embed(context, context_chars)                                   # (B, T, 2H)
        q = self.embed(question, question_chars)                                 # (B, J, 2H)
        s = self.similarity(c, q)
        a = F.softmax(s.masked_fill(q_mask.unsqueeze(1) == 0, -1e30), dim=2)      # context-to-query
        c2q = torch.bmm(a, q)
        row_max = torch.max(s.masked_fill(q_mask.unsqueeze(1) == 0, -1e30), dim=2)[0]
        b = F.softmax(row_max.masked_fill(c_mask == 0, -1e30), dim=1)             # query-to-context
        q2c = torch.bmm(b.unsqueeze(1), c).expand(-1, c.size(1), -1)
        g = torch.cat([c, c2q, c * c2q, c * q2c], dim=-1)                         # (B, T, 8H)
        m = self.modeling_lstm(F.dropout(g, self.dropout, training=self.training))[0]
        m2 = self.end_lstm(m)[0]
        start = self.start_out(torch.cat([g, m], dim=-1)).squeeze(-1)
        end = self.end_out(torch.cat([g, m2], dim=-1)).squeeze(-1)
        return masked_log_softmax(start, c_mask), masked_log_softmax(end, c_mask)


def make_model(words, chars):
    return BiDAF(words, chars)


def decode(log_p_start, log_p_end, max_len):
    """The most probable span start <= end < start + max_len of each row: (starts, ends) as lists."""
    p_start, p_end = log_p_start.exp(), log_p_end.exp()
    joint = p_start.unsqueeze(2) * p_end.unsqueeze(1)                        # (B, T, T)
    length = joint.size(1)
    ones = torch.ones(length, length)
    legal = torch.triu(ones) - torch.triu(ones, diagonal=max_len)
    best = (joint * legal).view(joint.size(0), -1).argmax(dim=-1)
    starts = torch.div(best, length, rounding_mode="floor")
    return starts.tolist(), (best % length).tolist()


def train(model, batches, epochs, max_len=3):
    """Adadelta (lr 0.5) on the gold span's NLL with an EMA of the weights (decay 0.9); the losses, then the spans
    decoded by the averaged weights and their exact-match rate."""
    optimizer = optim.Adadelta(model.parameters(), lr=0.5)
    shadow = {name: p.detach().clone() for name, p in model.named_parameters()}
    losses = []
    for _ in range(epochs):
        model.train()
        for context, context_chars, question, question_chars, y_start, y_end in batches:
            optimizer.zero_grad()
            log_p_start, log_p_end = model(context, context_chars, question, question_chars)
            loss = F.nll_loss(log_p_start, y_start) + F.nll_loss(log_p_end, y_end)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            with torch.no_grad():
                for name, p in model.named_parameters():
                    shadow[name].mul_(0.9).add_(p, alpha=0.1)
            losses.append(loss.item())
    model.load_state_dict(shadow, strict=False)
    model.eval()
    spans, hits, total = [], 0, 0
    with torch.no_grad():
        for context, context_chars, question, question_chars, y_start, y_end in batches:
            starts, ends = decode(*model(context, context_chars, question, question_chars), max_len)
            spans.append((starts, ends))
            hits += sum(s == a and e == b for s, e, a, b in zip(starts, ends, y_start.tolist(), y_end.tolist()))
            total += len(starts)
    return losses, spans, hits / total
'''


HAN_TEXTCNN_FASTTEXT = '''
class AttentionPool(nn.Module):
    """A BiGRU over (N, L, D) with mask (N, L), then the attention sum over L: (N, 2H)."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.gru = nn.GRU(input_size, hidden_size, batch_first=True, bidirectional=True)
        self.project = nn.Linear(2 * hidden_size, 2 * hidden_size)
        self.context = nn.Parameter(torch.empty(2 * hidden_size, 1).uniform_(-0.1, 0.1))

    def forward(self, x, mask):
        h, _ = self.gru(x)
        u = torch.tanh(self.project(h))
        scores = torch.matmul(u, self.context).squeeze(-1)                # (N, L)
        weights = torch.exp(scores - scores.max(dim=1, keepdim=True)[0]) * mask
        weights = weights / (weights.sum(dim=1, keepdim=True) + 1e-10)
        return (weights.unsqueeze(-1) * h).sum(dim=1), weights


class HAN(nn.Module):
    """Documents (D, S, W) of word ids, 0 = padding -> logits (D, classes) and the sentence weights (D, S)."""

    def __init__(self, vocab_size, embed_size, word_hidden, sentence_hidden, classes):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=0)
        self.words = AttentionPool(embed_size, word_hidden)
        self.sentences = AttentionPool(2 * word_hidden, sentence_hidden)
        self.fc = nn.Linear(2 * sentence_hidden, classes)

    def forward(self, documents):
        docs, sentences, words = documents.shape
        word_mask = (documents != 0).float()
        flat = documents.view(docs * sentences, words)
        sentence_vectors, _ = self.words(self.embedding(flat), word_mask.view(docs * sentences, words))
        sentence_mask = (word_mask.sum(dim=2) > 0).float()
        document, weights = self.sentences(sentence_vectors.view(docs, sentences, -1), sentence_mask)
        return self.fc(document), weights


class TextCNN(nn.Module):
    """Sentences (B, L) of ids -> logits (B, classes): Conv1d of each width, max over time, dropout, Linear."""

    def __init__(self, vocab_size, embed_size, filters, widths, classes, dropout=0.5):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=0)
        self.convs = nn.ModuleList([nn.Conv1d(embed_size, filters, w) for w in widths])
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(filters * len(widths), classes)

    def forward(self, x):
        x = self.embedding(x).permute(0, 2, 1)                              # (B, E, L)
        pooled = []
        for conv in self.convs:
            h = F.relu(conv(x))
            pooled.append(F.max_pool1d(h, h.size(2)).squeeze(2))
        return self.fc(self.dropout(torch.cat(pooled, 1)))


class FastText(nn.Module):
    """Flat ids (N,) with bag offsets (B,) -> logits (B, classes): the mean of each bag's vectors, then Linear."""

    def __init__(self, vocab_size, buckets, dim, classes):
        super().__init__()
        self.bag = nn.EmbeddingBag(vocab_size + buckets, dim, mode="mean")
        self.fc = nn.Linear(dim, classes)
        with torch.no_grad():
            self.bag.weight.uniform_(-1.0 / dim, 1.0 / dim)
            self.fc.weight.zero_()
            self.fc.bias.zero_()

    def forward(self, text, offsets):
        return self.fc(self.bag(text, offsets))


def make_model(vocab_size, classes, buckets):
    return (HAN(vocab_size, 5, 4, 4, classes), TextCNN(vocab_size, 5, 3, (2, 3, 4), classes),
            FastText(vocab_size, buckets, 6, classes))


def with_bigrams(ids, vocab_size, buckets):
    """The word ids followed by their bigrams' ids, hashed into buckets after the vocabulary."""
    return ids + [vocab_size + (a * 116049371 + b) % buckets for a, b in zip(ids, ids[1:])]


def collate(sentences, vocab_size, buckets):
    """Ragged sentences as one flat id tensor and the offsets where each bag starts."""
    bags = [torch.tensor(with_bigrams(s, vocab_size, buckets), dtype=torch.int64) for s in sentences]
    offsets = torch.tensor([0] + [len(b) for b in bags[:-1]]).cumsum(dim=0)
    return torch.cat(bags), offsets


def train_han(model, documents, labels, steps):
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        logits, weights = model(documents)
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, weights.detach().numpy()


def train_textcnn(model, sentences, labels, steps, max_norm=3.0):
    optimizer = optim.Adadelta(model.parameters(), rho=0.95, eps=1e-6)
    losses = []
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(sentences), labels)
        loss.backward()
        optimizer.step()
        with torch.no_grad():                       # Kim's l2 constraint on each class's weight row
            model.fc.weight.renorm_(2, 0, max_norm)
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        return losses, model(sentences).argmax(1).tolist()


def train_fasttext(model, sentences, labels, steps, vocab_size, buckets):
    text, offsets = collate(sentences, vocab_size, buckets)
    optimizer = optim.SGD(model.parameters(), lr=0.5)
    schedule = optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 - step / steps)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(text, offsets), labels)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    return losses, optimizer.param_groups[0]["lr"]
'''

PROGRAMS = (ESIM, BIDAF, HAN_TEXTCNN_FASTTEXT)


def _twins(source: str, *args: Any, **kwargs: Any) -> tuple:
    return _twin_models(source, *args, imports=(TORCH_IMPORTS_NLP, MINIGRAD_IMPORTS_NLP), **kwargs)


def test_the_programs_differ_only_in_their_imports() -> None:
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


def _assert_close_weights(torch_model: Any, mg_model: Any, rtol: float) -> None:
    """Every entry of the two final state dicts within rtol (and rtol absolute, for entries near 0)."""
    theirs = torch_model.state_dict()
    for name, value in mg_model.state_dict().items():
        np.testing.assert_allclose(value.numpy(), theirs[name].detach().numpy(), rtol=rtol, atol=rtol, err_msg=name)


def _as_tensors(lib: Any, arrays: tuple) -> tuple:
    return tuple(lib.from_numpy(a) for a in arrays)


def _padded(rng: np.random.Generator, rows: int, longest: int, vocab: int) -> tuple:
    """Ids (rows, longest) int64, each row 1..longest real ids then zeros, and the lengths (rows,) int64."""
    lengths = rng.integers(1, longest + 1, rows)
    ids = rng.integers(1, vocab, (rows, longest)) * (np.arange(longest) < lengths[:, None])
    return ids.astype(np.int64), lengths.astype(np.int64)


# ----------------------------------------------------------------------------- 1. ESIM


def _nli_batches(seed: int, count: int, vocab: int = 12) -> list:
    """Premise/hypothesis pairs whose label is how many of the hypothesis's ids occur in the premise (0, 1, 2+)."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        premises, premise_lengths = _padded(rng, 4, 5, vocab)
        hypotheses, hypothesis_lengths = _padded(rng, 4, 4, vocab)
        shared = [len(set(p[p > 0]) & set(h[h > 0])) for p, h in zip(premises, hypotheses)]
        batches.append((premises, premise_lengths, hypotheses, hypothesis_lengths, np.minimum(shared, 2)))
    return batches


@pytest.mark.parametrize(("dtype_name", "mask_style", "packing"),
                         [("float32", "fill", "unsorted"), ("float32", "renormalise", "sorted"),
                          ("float64", "additive", "unsorted")])
def test_esim(torch: Any, monkeypatch: pytest.MonkeyPatch, dtype_name: str, mask_style: str, packing: str) -> None:
    import minigrad as mg  # noqa: PLC0415

    batches = _nli_batches(0, 2)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(ESIM, 12, mask_style=mask_style,
                                                                        packing=packing)
    _shared_dropout(monkeypatch, torch, seed=1)
    expected = torch_program["train"](torch_model, [_as_tensors(torch, b) for b in batches], 2, dtype_name)
    got = mg_program["train"](mg_model, [_as_tensors(mg, b) for b in batches], 2, dtype_name)
    rtol = 1e-5 if dtype_name == "float32" else 1e-10
    np.testing.assert_allclose(got[0], expected[0], rtol=rtol, atol=rtol)
    assert got[1:3] == expected[1:3]
    assert got[3].dtype == expected[3].dtype == np.dtype(dtype_name)
    np.testing.assert_allclose(got[3], expected[3], rtol=rtol, atol=rtol)
    _assert_same_weights(torch_model, mg_model, initial)
    _assert_close_weights(torch_model, mg_model, rtol)


# ----------------------------------------------------------------------------- 2. BiDAF


def _qa_batches(seed: int, count: int, words: int = 10, chars: int = 7) -> list:
    """Contexts (3, 7) and questions (3, 3) with characters (.., 5); the answer is the span of the context that
    starts at the first occurrence of the question's first id and runs one more word (ends clipped to the length)."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        context, context_lengths = _padded(rng, 3, 7, words)
        question, _ = _padded(rng, 3, 3, words)
        starts = rng.integers(0, context_lengths)
        question[:, 0] = context[np.arange(3), starts]
        starts = np.argmax(context == question[:, :1], axis=1)
        ends = np.minimum(starts + 1, context_lengths - 1)
        spell = rng.integers(1, chars, (words, 5)) * (np.arange(5) < rng.integers(3, 6, words)[:, None])
        batches.append((context, spell[context] * (context > 0)[..., None], question,
                        spell[question] * (question > 0)[..., None], starts.astype(np.int64), ends.astype(np.int64)))
    return batches


def test_bidaf(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import minigrad as mg  # noqa: PLC0415

    batches = _qa_batches(0, 2)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(BIDAF, 10, 7)
    _shared_dropout(monkeypatch, torch, seed=2)
    expected = torch_program["train"](torch_model, [_as_tensors(torch, b) for b in batches], 2)
    got = mg_program["train"](mg_model, [_as_tensors(mg, b) for b in batches], 2)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-5, atol=1e-5)
    assert got[1:] == expected[1:]
    _assert_same_weights(torch_model, mg_model, initial)
    _assert_close_weights(torch_model, mg_model, 1e-5)


# ----------------------------------------------------------------------------- 3. HAN, TextCNN, fastText


def test_han_textcnn_fasttext(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import minigrad as mg  # noqa: PLC0415

    rng = np.random.default_rng(3)
    vocab, classes, buckets = 12, 3, 20
    documents = np.stack([_padded(rng, 3, 4, vocab)[0] for _ in range(4)])
    documents[1, 2] = 0                                               # a padding sentence
    labels = documents.max(axis=(1, 2)) % classes
    sentences = _padded(rng, 6, 6, vocab)[0]
    sentence_labels = sentences[:, 0] % classes
    ragged = [list(s[s > 0]) for s in sentences]
    torch_program, torch_models, mg_program, mg_models, initials = _twins(HAN_TEXTCNN_FASTTEXT, vocab, classes, buckets)
    _shared_dropout(monkeypatch, torch, seed=4)
    for lib, program, (han, cnn, fasttext), results in ((torch, torch_program, torch_models, expected := []),
                                                       (mg, mg_program, mg_models, got := [])):
        results.append(program["train_han"](han, lib.from_numpy(documents), lib.from_numpy(labels), 3))
        results.append(program["train_textcnn"](cnn, lib.from_numpy(sentences), lib.from_numpy(sentence_labels), 3))
        results.append(program["train_fasttext"](fasttext, ragged, lib.from_numpy(sentence_labels), 4, vocab, buckets))
    for (losses, other), (expected_losses, expected_other) in zip(got, expected):
        np.testing.assert_allclose(losses, expected_losses, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(other, expected_other, rtol=1e-5, atol=1e-6)
    assert not got[0][1][1, 2].any()                                  # the padding sentence got no weight
    for torch_model, mg_model, initial in zip(torch_models, mg_models, initials):
        _assert_same_weights(torch_model, mg_model, initial)
        _assert_close_weights(torch_model, mg_model, 1e-5)


# ----------------------------------------------------------------------------- regressions found on the way


@pytest.mark.parametrize("call", ["t.renorm(t.ones(2, 2), 2, 0, -1.0)", "t.renorm(t.ones(2, 2), 0, 0, 1.0)",
                                  "t.ones(3).renorm(2, 0, 1.0)", "t.ones(3).renorm_(2, 0, 1.0)"])
def test_renorm_argument_errors_are_runtime_errors_as_in_torch(torch: Any, call: str) -> None:
    """A program's ``except RuntimeError`` around Kim's max-norm constraint catches minigrad's error as torch's
    (it was a bare ValueError); ValueError still catches it too."""
    import minigrad as mg  # noqa: PLC0415

    for t in (torch, mg):
        with pytest.raises(RuntimeError, match="renorm"):
            eval(call, {"t": t})   # noqa: S307 - our own call text
    with pytest.raises(ValueError, match="renorm"):
        eval(call, {"t": mg})   # noqa: S307 - our own call text
