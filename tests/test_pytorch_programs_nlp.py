"""Three NLP programs, small, run unchanged on minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program: it keeps the original's PyTorch calls
and habits in the same roles, with our own names, structure and comments, tiny vocabularies and generated
sentences (the helpers and the rule come from tests/test_pytorch_programs.py and tests/test_pytorch_programs_more.py):

* ``BILSTM_CRF`` mirrors the tutorial "Advanced: Making Dynamic Decisions and the Bi-LSTM CRF"
  (https://pytorch.org/tutorials/beginner/nlp/advanced_tutorial.html): ``nn.LSTM(E, H // 2, num_layers=1,
  bidirectional=True)`` started from ``torch.randn(2, 1, H // 2)`` states, a ``transitions`` Parameter from
  ``torch.randn`` whose START row and STOP column are set to -10000 (under ``torch.no_grad()``: the tutorial's
  ``self.transitions.data[...] = -10000`` cannot run here, since minigrad's ``.data`` is the NumPy array by
  design, README "Coming from PyTorch"), the forward algorithm from ``torch.full((1, K), -10000.)`` with a
  ``log_sum_exp`` written with the max trick, ``.view(1, -1).expand(1, K)`` and ``torch.cat(alphas).view(1, -1)``,
  the gold path's score over ``torch.cat([torch.tensor([START], dtype=torch.long), tags])``, Viterbi decoding
  with an ``argmax`` helper (``torch.max(vec, 1)`` then ``.item()``) and backtracking, ``SGD(lr=0.01,
  weight_decay=1e-4)``, ``model.zero_grad()``; beside it the batched, vectorised CRF of modern NER code
  (in the manner of kmkurn/pytorch-crf): ``torch.logsumexp(..., dim=1)``, ``torch.gather``, ``torch.where``
  under a bool mask, ``max(dim=1)`` back-pointers, over a batch-first bidirectional LSTM trained with Adam;
* ``SKIP_GRAM`` is word2vec's skip-gram with negative sampling as PyTorch ports write it: ``nn.Embedding(V, D)``
  in and out tables set with ``uniform_(-0.5 / D, 0.5 / D)`` and ``zero_()`` under ``no_grad``, negatives drawn
  by ``torch.multinomial(counts ** 0.75, n, replacement=True)``, ``F.logsigmoid((u * v).sum(-1))`` and
  ``torch.bmm(neg_v, u.unsqueeze(2)).squeeze()``, dense Adam (no SparseAdam: minigrad has no sparse tensors),
  nearest neighbours by ``F.cosine_similarity`` and by ``F.normalize`` + matmul + ``topk``;
* ``HIERARCHICAL_ATTENTION`` is the hierarchical attention network of Yang et al. (2016) for document
  classification as PyTorch ports write it: a word-level bidirectional ``nn.GRU(batch_first=True)`` over the
  documents' sentences, packed either the old way (``lengths.sort(0, descending=True)``, ``index_select``,
  ``pack_padded_sequence`` of sorted lengths, and the rows put back with the inverse permutation from
  ``argsort``) or with ``enforce_sorted=False``; ``pad_packed_sequence(batch_first=True, total_length=...)``;
  attention ``u = torch.tanh(self.W(h))``, ``self.context(u).squeeze(-1)``, ``masked_fill(~mask, float('-inf'))``,
  ``softmax``, ``torch.bmm(alpha.unsqueeze(1), h).squeeze(1)``; the sentence vectors scattered back into their
  documents by a bool-mask assignment; a sentence-level GRU and attention the same way; ``CrossEntropyLoss``,
  ``clip_grad_norm_``, Adam. ``test_recurrent_options_on_packed_batches`` then runs every option of the
  recurrent layers a user touches (RNN tanh/relu, GRU, LSTM with ``proj_size``; layers, directions,
  ``batch_first``, ``bias=False``, a given initial state, sorted and unsorted packs) in float64.

Random draws that are part of the computation compared (``torch.randn`` for the tutorial's initial LSTM state,
``torch.multinomial`` for the negatives) read one shared NumPy stream in both engines during the run
(``_shared_noise`` of tests/test_pytorch_programs_more.py and ``_shared_multinomial`` here).

Regression found while writing these: ``logsumexp``'s backward over a line of -inf (a CRF that forbids every way
into a tag) leaked NumPy's "invalid value" RuntimeWarning; it now gives PyTorch's NaN quietly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import _assert_same_weights, _program, _twin_models
from tests.test_pytorch_programs_more import MINIGRAD_IMPORTS_MORE, TORCH_IMPORTS_MORE, _shared_noise

TORCH_IMPORTS_NLP = TORCH_IMPORTS_MORE + """\
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence
"""

MINIGRAD_IMPORTS_NLP = MINIGRAD_IMPORTS_MORE + """\
from minigrad.nn.utils.rnn import PackedSequence, pad_packed_sequence
"""


BILSTM_CRF = '''
START_TAG = "<START>"
STOP_TAG = "<STOP>"


def argmax(vec):
    """The index of the largest entry of a (1, K) row, as a Python int."""
    _, idx = torch.max(vec, 1)
    return idx.item()


def as_ids(words, vocabulary):
    return torch.tensor([vocabulary[w] for w in words], dtype=torch.long)


def log_sum_exp(vec):
    """log(sum(exp(vec))) of a (1, K) row, with its largest entry taken out first for stability."""
    top = vec[0, argmax(vec)]
    top_broadcast = top.view(1, -1).expand(1, vec.size()[1])
    return top + torch.log(torch.sum(torch.exp(vec - top_broadcast)))


class BiLSTMTagger(nn.Module):
    """One sentence (T,) of word ids -> emission scores (T, K) from a bidirectional LSTM, and a linear-chain
    CRF on top: transitions[i, j] is the score of going to tag i from tag j."""

    def __init__(self, vocab_size, tag_ids, embedding_dim, hidden_dim):
        super(BiLSTMTagger, self).__init__()
        self.embedding_dim, self.hidden_dim = embedding_dim, hidden_dim
        self.tag_ids = tag_ids
        self.num_tags = len(tag_ids)
        self.word_embeds = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim // 2, num_layers=1, bidirectional=True)
        self.hidden2tag = nn.Linear(hidden_dim, self.num_tags)
        self.transitions = nn.Parameter(torch.randn(self.num_tags, self.num_tags))
        # nothing goes into START, nothing leaves STOP
        with torch.no_grad():
            self.transitions[tag_ids[START_TAG], :] = -10000
            self.transitions[:, tag_ids[STOP_TAG]] = -10000
        self.hidden = self.init_hidden()

    def init_hidden(self):
        return (torch.randn(2, 1, self.hidden_dim // 2), torch.randn(2, 1, self.hidden_dim // 2))

    def emissions(self, sentence):
        self.hidden = self.init_hidden()
        embeds = self.word_embeds(sentence).view(len(sentence), 1, -1)
        lstm_out, self.hidden = self.lstm(embeds, self.hidden)
        return self.hidden2tag(lstm_out.view(len(sentence), self.hidden_dim))

    def log_partition(self, feats):
        """log Z: the forward algorithm, one tag at a time, as the tutorial writes it."""
        alphas = torch.full((1, self.num_tags), -10000.)
        alphas[0][self.tag_ids[START_TAG]] = 0.
        for feat in feats:
            step = []
            for tag in range(self.num_tags):
                emit = feat[tag].view(1, -1).expand(1, self.num_tags)
                trans = self.transitions[tag].view(1, -1)
                step.append(log_sum_exp(alphas + trans + emit).view(1))
            alphas = torch.cat(step).view(1, -1)
        return log_sum_exp(alphas + self.transitions[self.tag_ids[STOP_TAG]])

    def path_score(self, feats, tags):
        score = torch.zeros(1)
        tags = torch.cat([torch.tensor([self.tag_ids[START_TAG]], dtype=torch.long), tags])
        for i, feat in enumerate(feats):
            score = score + self.transitions[tags[i + 1], tags[i]] + feat[tags[i + 1]]
        return score + self.transitions[self.tag_ids[STOP_TAG], tags[-1]]

    def viterbi(self, feats):
        back_pointers = []
        best = torch.full((1, self.num_tags), -10000.)
        best[0][self.tag_ids[START_TAG]] = 0
        for feat in feats:
            pointers, scores = [], []
            for tag in range(self.num_tags):
                candidates = best + self.transitions[tag]
                previous = argmax(candidates)
                pointers.append(previous)
                scores.append(candidates[0][previous].view(1))
            best = (torch.cat(scores) + feat).view(1, -1)
            back_pointers.append(pointers)
        final = best + self.transitions[self.tag_ids[STOP_TAG]]
        last = argmax(final)
        path = [last]
        for pointers in reversed(back_pointers):
            last = pointers[last]
            path.append(last)
        assert path.pop() == self.tag_ids[START_TAG]
        path.reverse()
        return final[0][path[-1]], path

    def neg_log_likelihood(self, sentence, tags):
        feats = self.emissions(sentence)
        return self.log_partition(feats) - self.path_score(feats, tags)

    def forward(self, sentence):
        return self.viterbi(self.emissions(sentence))


TAGS = {"B": 0, "I": 1, "O": 2, START_TAG: 3, STOP_TAG: 4}


def make_model(vocab_size):
    return BiLSTMTagger(vocab_size, TAGS, 5, 4)


def train(model, data, vocabulary, epochs):
    optimizer = optim.SGD(model.parameters(), lr=0.01, weight_decay=1e-4)
    with torch.no_grad():
        before = model(as_ids(data[0][0], vocabulary))
    losses = []
    for _ in range(epochs):
        for words, tags in data:
            model.zero_grad()
            sentence = as_ids(words, vocabulary)
            targets = torch.tensor([TAGS[t] for t in tags], dtype=torch.long)
            loss = model.neg_log_likelihood(sentence, targets)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    with torch.no_grad():
        after = model(as_ids(data[0][0], vocabulary))
    return losses, (before[0].item(), before[1]), (after[0].item(), after[1])


class BatchCRF(nn.Module):
    """A linear-chain CRF over a batch: emissions (B, T, K), tags (B, T), mask (B, T) bool, every row's
    mask a prefix starting with True. transitions[i, j] scores tag i followed by tag j."""

    def __init__(self, num_tags):
        super().__init__()
        self.start_transitions = nn.Parameter(torch.empty(num_tags))
        self.end_transitions = nn.Parameter(torch.empty(num_tags))
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags))
        for p in (self.start_transitions, self.end_transitions, self.transitions):
            nn.init.uniform_(p, -0.1, 0.1)

    def forward(self, emissions, tags, mask, reduction="mean"):
        """The log-likelihood of the tag sequences: (B,) for reduction "none", else its sum or mean."""
        llh = self.gold_score(emissions, tags, mask) - self.log_partition(emissions, mask)
        if reduction == "none":
            return llh
        return llh.sum() if reduction == "sum" else llh.mean()

    def gold_score(self, emissions, tags, mask):
        weights = mask.type_as(emissions)
        score = self.start_transitions[tags[:, 0]]
        score = score + (torch.gather(emissions, 2, tags.unsqueeze(2)).squeeze(2) * weights).sum(1)
        score = score + (self.transitions[tags[:, :-1], tags[:, 1:]] * weights[:, 1:]).sum(1)
        ends = mask.long().sum(dim=1) - 1
        last_tags = tags.gather(1, ends.unsqueeze(1)).squeeze(1)
        return score + self.end_transitions[last_tags]

    def log_partition(self, emissions, mask):
        score = self.start_transitions + emissions[:, 0]                 # (B, K)
        for i in range(1, emissions.size(1)):
            # (B, K, 1) + (K, K) + (B, 1, K): from tag j (dim 1) to tag k (dim 2)
            following = score.unsqueeze(2) + self.transitions + emissions[:, i].unsqueeze(1)
            score = torch.where(mask[:, i].unsqueeze(1), torch.logsumexp(following, dim=1), score)
        return torch.logsumexp(score + self.end_transitions, dim=1)

    def decode(self, emissions, mask):
        score = self.start_transitions + emissions[:, 0]
        history = []
        for i in range(1, emissions.size(1)):
            following = score.unsqueeze(2) + self.transitions + emissions[:, i].unsqueeze(1)
            best, indices = following.max(dim=1)
            score = torch.where(mask[:, i].unsqueeze(1), best, score)
            history.append(indices)
        score += self.end_transitions
        ends = mask.long().sum(dim=1) - 1
        paths = []
        for row in range(emissions.size(0)):
            _, last = score[row].max(dim=0)
            path = [last.item()]
            for indices in reversed(history[:ends[row]]):
                last = indices[row][path[-1]]
                path.append(last.item())
            path.reverse()
            paths.append(path)
        return score.max(dim=1).values, paths


class NERTagger(nn.Module):
    """Padded sentences (B, T) (id 0 is padding) -> CRF negative log-likelihood, or the best tag paths."""

    def __init__(self, vocab_size, num_tags, embedding_dim=6, hidden_dim=8):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim // 2, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(0.0)
        self.emit = nn.Linear(hidden_dim, num_tags)
        self.crf = BatchCRF(num_tags)
        self.init_lstm()

    def init_lstm(self):
        """The usual recipe: Xavier input weights, orthogonal recurrent weights, zero biases but the forget
        gate's (the second quarter of each bias vector), which starts at 1."""
        for name, param in self.lstm.named_parameters():
            if "weight_ih" in name:
                nn.init.xavier_uniform_(param)
            elif "weight_hh" in name:
                nn.init.orthogonal_(param)
            elif "bias" in name:
                quarter = param.size(0) // 4
                with torch.no_grad():
                    param.zero_()
                    param[quarter:2 * quarter].fill_(1.0)
        self.lstm.flatten_parameters()

    def features(self, words):
        out, _ = self.lstm(self.embedding(words))
        return self.emit(self.dropout(out))

    def forward(self, words, tags):
        mask = words != 0
        return -self.crf(self.features(words), tags, mask, reduction="mean")

    def decode(self, words):
        return self.crf.decode(self.features(words), words != 0)


def make_ner_model(vocab_size):
    return NERTagger(vocab_size, 3)


def train_ner(model, batches, steps, lr=0.05):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    losses = []
    for step in range(steps):
        words, tags = batches[step % len(batches)]
        optimizer.zero_grad()
        loss = model(words, tags)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        scores, paths = model.decode(batches[0][0])
    return losses, scores.numpy(), paths
'''


SKIP_GRAM = '''
class SkipGram(nn.Module):
    """Centre words (B,), context words (B,), negatives (B, k) -> the mean negative-sampling loss."""

    def __init__(self, vocab_size, dim):
        super().__init__()
        self.in_embed = nn.Embedding(vocab_size, dim)
        self.out_embed = nn.Embedding(vocab_size, dim)
        bound = 0.5 / dim
        with torch.no_grad():
            self.in_embed.weight.uniform_(-bound, bound)
            self.out_embed.weight.zero_()

    def forward(self, centre, context, negatives):
        u = self.in_embed(centre)                 # (B, D)
        v = self.out_embed(context)               # (B, D)
        neg_v = self.out_embed(negatives)         # (B, k, D)
        positive = F.logsigmoid(torch.clamp((u * v).sum(-1), min=-10, max=10))
        negative = torch.bmm(neg_v, u.unsqueeze(2)).squeeze()
        negative = F.logsigmoid(-torch.clamp(negative, min=-10, max=10)).sum(1)
        return -(positive + negative).mean()


def make_model(vocab_size, dim=8):
    return SkipGram(vocab_size, dim)


def skip_gram_pairs(corpus, window):
    pairs = []
    for i, centre in enumerate(corpus):
        for j in range(max(0, i - window), min(len(corpus), i + window + 1)):
            if j != i:
                pairs.append((centre, corpus[j]))
    return pairs


def train(model, corpus, vocab_size, epochs, window=2, batch_size=32, k=4, lr=0.05):
    counts = torch.bincount(torch.tensor(corpus), minlength=vocab_size).float()
    noise = counts ** 0.75
    noise = noise / noise.sum()
    pairs = torch.tensor(skip_gram_pairs(corpus, window), dtype=torch.long)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        for start in range(0, len(pairs), batch_size):
            batch = pairs[start:start + batch_size]
            negatives = torch.multinomial(noise, batch.size(0) * k, replacement=True).view(batch.size(0), k)
            optimizer.zero_grad()
            loss = model(batch[:, 0], batch[:, 1], negatives)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses, noise


@torch.no_grad()
def nearest(model, queries, k=3):
    """Each query's k nearest other words by cosine similarity, computed two ways."""
    table = model.in_embed.weight.detach()
    normed = F.normalize(table, p=2, dim=1)
    similarity = normed[queries] @ normed.t()                      # (Q, V)
    values, indices = similarity.topk(k + 1, dim=1)
    cosine = torch.stack([F.cosine_similarity(table[q].unsqueeze(0), table, dim=1) for q in queries])
    return values[:, 1:].numpy(), indices[:, 1:].tolist(), cosine.numpy()
'''


HIERARCHICAL_ATTENTION = '''
class AttentionPool(nn.Module):
    """Annotations h (N, L, D) under a mask (N, L) bool -> their attention-weighted sum (N, D) and the weights
    (N, L): u = tanh(W h + b), score = u . context, softmax over the positions the mask keeps."""

    def __init__(self, dim, attention_dim):
        super().__init__()
        self.W = nn.Linear(dim, attention_dim)
        self.context = nn.Linear(attention_dim, 1, bias=False)

    def forward(self, h, mask):
        u = torch.tanh(self.W(h))
        scores = self.context(u).squeeze(-1)
        scores = scores.masked_fill(~mask, float('-inf'))
        alpha = F.softmax(scores, dim=1)
        return torch.bmm(alpha.unsqueeze(1), h).squeeze(1), alpha


def run_sorted(rnn, x, lengths):
    """The old habit: sort the batch by length, pack the sorted batch, and put the rows back afterwards."""
    sorted_lengths, order = lengths.sort(0, descending=True)
    packed = pack_padded_sequence(x.index_select(0, order), sorted_lengths, batch_first=True)
    out, _ = rnn(packed)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
    return out.index_select(0, torch.argsort(order))


def run_unsorted(rnn, x, lengths):
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, _ = rnn(packed)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
    return out


class HierarchicalAttentionNet(nn.Module):
    """Documents (B, S, W) of word ids, the words in each sentence (B, S) (0: no such sentence) and the
    sentences in each document (B,) -> class scores (B, C), word weights (N, W) for the N real sentences, and
    sentence weights (B, S)."""

    def __init__(self, vocab_size, num_classes, embed_dim=6, word_hidden=5, sentence_hidden=4, attention_dim=6,
                 old_habit=False):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.word_rnn = nn.GRU(embed_dim, word_hidden, bidirectional=True, batch_first=True)
        self.word_attention = AttentionPool(2 * word_hidden, attention_dim)
        self.sentence_rnn = nn.GRU(2 * word_hidden, sentence_hidden, bidirectional=True, batch_first=True)
        self.sentence_attention = AttentionPool(2 * sentence_hidden, attention_dim)
        self.classifier = nn.Linear(2 * sentence_hidden, num_classes)
        self.run = run_sorted if old_habit else run_unsorted

    def forward(self, documents, sentence_lengths, document_lengths):
        batch, sentences, words = documents.shape
        lengths = sentence_lengths.view(-1)
        real = lengths > 0
        tokens = documents.view(-1, words)[real]                       # (N, W)
        lengths = lengths[real]
        h = self.run(self.word_rnn, self.embedding(tokens), lengths)
        word_mask = torch.arange(words).unsqueeze(0) < lengths.unsqueeze(1)
        sentence_vectors, word_alpha = self.word_attention(h, word_mask)
        # back into the documents: sentences that do not exist stay zero (and are masked below)
        grid = sentence_vectors.new_zeros(batch * sentences, sentence_vectors.size(1))
        grid[real] = sentence_vectors
        grid = grid.view(batch, sentences, -1)
        h = self.run(self.sentence_rnn, grid, document_lengths)
        sentence_mask = torch.arange(sentences).unsqueeze(0) < document_lengths.unsqueeze(1)
        document_vectors, sentence_alpha = self.sentence_attention(h, sentence_mask)
        return self.classifier(document_vectors), word_alpha, sentence_alpha


class PackedDataHAN(HierarchicalAttentionNet):
    """The same network, the same parameters, written on PackedSequence.data as some popular ports write it:
    packing the documents by their sentence counts drops the missing sentences, the packed data (N, W) is the
    batch of real sentences; the attention scores are computed on the packed words, exponentiated after
    subtracting their maximum, and padded back through a PackedSequence built by hand. Word weights come out in
    the packed order of the sentences."""

    def attend(self, attention, packed):
        """Attention over a packed batch: the padded annotations (N, L, D) weighted by softmax scores."""
        scores = attention.context(torch.tanh(attention.W(packed.data))).squeeze(1)
        scores = torch.exp(scores - scores.max())
        scores, _ = pad_packed_sequence(PackedSequence(data=scores, batch_sizes=packed.batch_sizes,
                                                       sorted_indices=packed.sorted_indices,
                                                       unsorted_indices=packed.unsorted_indices), batch_first=True)
        alpha = scores / torch.sum(scores, dim=1, keepdim=True)
        h, _ = pad_packed_sequence(packed, batch_first=True)
        return (h * alpha.unsqueeze(2)).sum(dim=1), alpha

    def forward(self, documents, sentence_lengths, document_lengths):
        by_document = pack_padded_sequence(documents, lengths=document_lengths.tolist(), batch_first=True,
                                           enforce_sorted=False)
        lengths = pack_padded_sequence(sentence_lengths, lengths=document_lengths.tolist(), batch_first=True,
                                       enforce_sorted=False).data
        by_sentence = pack_padded_sequence(self.embedding(by_document.data), lengths=lengths.tolist(),
                                           batch_first=True, enforce_sorted=False)
        words, _ = self.word_rnn(by_sentence)
        sentence_vectors, word_alpha = self.attend(self.word_attention, words)
        sentences, _ = self.sentence_rnn(PackedSequence(data=sentence_vectors, batch_sizes=by_document.batch_sizes,
                                                        sorted_indices=by_document.sorted_indices,
                                                        unsorted_indices=by_document.unsorted_indices))
        document_vectors, sentence_alpha = self.attend(self.sentence_attention, sentences)
        # pad to the full width, as the other forms give it
        sentence_alpha = F.pad(sentence_alpha, (0, documents.size(1) - sentence_alpha.size(1)))
        word_alpha = F.pad(word_alpha, (0, documents.size(2) - word_alpha.size(1)))
        return self.classifier(document_vectors), word_alpha, sentence_alpha


def make_model(vocab_size, num_classes, habit="unsorted"):
    if habit == "packed_data":
        return PackedDataHAN(vocab_size, num_classes)
    return HierarchicalAttentionNet(vocab_size, num_classes, old_habit=habit == "sorted")


def train(model, batches, steps, lr=0.02, clip=1.0):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    criterion = nn.CrossEntropyLoss()
    losses, norms, first_grads = [], [], None
    model.train()
    for step in range(steps):
        documents, sentence_lengths, document_lengths, labels = batches[step % len(batches)]
        optimizer.zero_grad()
        scores, _, _ = model(documents, sentence_lengths, document_lengths)
        loss = criterion(scores, labels)
        loss.backward()
        if first_grads is None:
            first_grads = {name: p.grad.clone() for name, p in model.named_parameters()}
        norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), clip).item())
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        scores, word_alpha, sentence_alpha = model(*batches[0][:3])
    return losses, norms, first_grads, scores.argmax(1).tolist(), word_alpha.numpy(), sentence_alpha.numpy()
'''

PROGRAMS = (BILSTM_CRF, SKIP_GRAM, HIERARCHICAL_ATTENTION)


def _twins(source: str, *args: Any, factory: str = "make_model", **kwargs: Any) -> tuple:
    """Both programs and their models, minigrad's loaded with torch's initial weights."""
    return _twin_models(source, *args, imports=(TORCH_IMPORTS_NLP, MINIGRAD_IMPORTS_NLP), factory=factory, **kwargs)


def _shared_multinomial(monkeypatch: pytest.MonkeyPatch, torch: Any, seed: int) -> None:
    """``torch.multinomial(weights, n, replacement=True)`` of a 1-D weight vector, in both libraries, draws from
    one NumPy stream each (same seed), so the negatives are the same words in both runs."""
    import minigrad as mg  # noqa: PLC0415

    for lib in (torch, mg):
        rng = np.random.default_rng(seed)

        def multinomial(weights: Any, num_samples: int, replacement: bool = False, *,
                        rng: np.random.Generator = rng, lib: Any = lib, **kwargs: Any) -> Any:
            assert replacement and weights.ndim == 1 and not kwargs
            p = np.asarray(weights.tolist(), dtype=np.float64)
            return lib.from_numpy(rng.choice(p.size, num_samples, p=p / p.sum()).astype(np.int64))

        monkeypatch.setattr(lib, "multinomial", multinomial)


@pytest.fixture
def no_onednn(torch: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """torch without oneDNN for the run: its CPU LSTM builds a new oneDNN primitive for every new sequence length
    (about 50 ms each), which the per-sentence programs here would pay again and again. The numbers compared are
    the same either way."""
    monkeypatch.setattr(torch.backends.mkldnn, "enabled", False)
    return torch


def test_the_programs_differ_only_in_their_imports() -> None:
    torch_lines, mg_lines = TORCH_IMPORTS_NLP.splitlines(), MINIGRAD_IMPORTS_NLP.splitlines()
    assert len(torch_lines) == len(mg_lines) == 9
    for torch_line, mg_line in zip(torch_lines[5:], mg_lines[5:]):
        assert torch_line.replace("torch", "minigrad") == mg_line
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. BiLSTM-CRF

_WORDS = "alice bob paris rome went to saw the city in".split()
_NAMES = {"alice", "bob", "paris", "rome"}


def _tagged_sentences(count: int, seed: int) -> list:
    """Sentences of 3-6 words; names are B (or I after a name), everything else O."""
    rng = np.random.default_rng(seed)
    data = []
    for _ in range(count):
        words = [_WORDS[int(i)] for i in rng.integers(0, len(_WORDS), int(rng.integers(3, 7)))]
        tags = []
        for i, word in enumerate(words):
            tags.append("O" if word not in _NAMES else "I" if i and words[i - 1] in _NAMES else "B")
        data.append((words, tags))
    return data


def test_bilstm_crf_tutorial(no_onednn: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tutorial's per-sentence CRF: forward algorithm, gold path score, Viterbi before and after training;
    the initial LSTM states drawn with torch.randn read the same shared stream in both engines."""
    vocabulary = {w: i for i, w in enumerate(_WORDS)}
    data = _tagged_sentences(6, 0)
    _shared_noise(monkeypatch, no_onednn, 1)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(BILSTM_CRF, len(vocabulary))
    # the constructor's writes under no_grad reached the parameter, in both
    transitions = mg_model.transitions.detach().numpy()
    assert (transitions[3, :] == -10000).all() and (transitions[:, 4] == -10000).all()
    expected = torch_program["train"](torch_model, data, vocabulary, 2)
    losses, before, after = mg_program["train"](mg_model, data, vocabulary, 2)
    np.testing.assert_allclose(losses, expected[0], rtol=1e-5, atol=1e-5)
    for ours, theirs in ((before, expected[1]), (after, expected[2])):
        assert ours[0] == pytest.approx(theirs[0], rel=1e-5) and ours[1] == theirs[1]
    _assert_same_weights(torch_model, mg_model, initial)


def _padded_batches(namespace: dict, seed: int, count: int, batch_size: int = 4) -> list:
    """(words (B, T), tags (B, T)) batches, lengths 2-6 with at least one full row; tags: 0 B, 1 I, 2 O."""
    lib = namespace["torch"]
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        lengths = rng.integers(2, 7, batch_size)
        lengths[int(rng.integers(batch_size))] = 6
        words = np.zeros((batch_size, 6), dtype=np.int64)
        tags = np.zeros((batch_size, 6), dtype=np.int64)   # past the end: anything, the mask drops it
        for row, length in enumerate(lengths):
            ids = rng.integers(1, 11, length)
            words[row, :length] = ids
            tags[row, :length] = np.where(ids > 6, np.where(np.roll(ids, 1) > 6, 1, 0), 2)
        batches.append((lib.from_numpy(words), lib.from_numpy(tags)))
    return batches


def test_batched_crf_over_a_bilstm(no_onednn: Any) -> None:
    """The vectorised CRF (logsumexp over a dim, gather, where under a mask, max back-pointers) over a
    batch-first bidirectional LSTM, trained with Adam; the decoded paths and their scores agree."""
    torch_program, torch_model, mg_program, mg_model, initial = _twins(BILSTM_CRF, 11, factory="make_ner_model")
    torch_batches, batches = _padded_batches(torch_program, 2, 3), _padded_batches(mg_program, 2, 3)
    expected = torch_program["train_ner"](torch_model, torch_batches, 8)
    losses, scores, paths = mg_program["train_ner"](mg_model, batches, 8)
    np.testing.assert_allclose(losses, expected[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scores, expected[1], rtol=1e-5, atol=1e-5)
    assert paths == expected[2] and [len(p) for p in paths] == (batches[0][0] != 0).sum(1).tolist()
    # padding_idx=0 keeps the padding row's gradient at zero, so Adam never moves it
    _assert_same_weights(torch_model, mg_model, initial)
    np.testing.assert_array_equal(mg_model.embedding.weight.detach().numpy()[0], initial["embedding.weight"].numpy()[0])


def test_batched_crf_matches_the_tutorials_crf() -> None:
    """Within minigrad: the batched CRF's log-likelihood of each sentence is the tutorial's -(log Z - gold) when
    its start/end/transition scores are the tutorial's START column, STOP row and transposed matrix."""
    import minigrad as mg  # noqa: PLC0415

    program = _program(BILSTM_CRF, MINIGRAD_IMPORTS_NLP)
    rng = np.random.default_rng(3)
    tutorial = program["make_model"](11)
    with mg.no_grad():
        tutorial.transitions[:3, :3] = mg.from_numpy(rng.standard_normal((3, 3)).astype(np.float32))
        tutorial.transitions[:3, 3] = mg.from_numpy(rng.standard_normal(3).astype(np.float32))
        tutorial.transitions[4, :3] = mg.from_numpy(rng.standard_normal(3).astype(np.float32))
    crf = program["BatchCRF"](3)
    full = tutorial.transitions.detach()
    crf.load_state_dict({"start_transitions": full[:3, 3], "end_transitions": full[4, :3],
                         "transitions": full[:3, :3].t()})
    emissions = mg.from_numpy(rng.standard_normal((2, 5, 3)).astype(np.float32))
    tags = mg.from_numpy(rng.integers(0, 3, (2, 5)))
    mask = mg.tensor([[True] * 5, [True] * 3 + [False] * 2])
    llh = crf(emissions, tags, mask, reduction="none")
    for row, length in enumerate((5, 3)):
        # the tutorial's START and STOP columns: never reached, since every way into them scores -10000
        feats, row_tags = mg.cat([emissions[row, :length], mg.zeros(length, 2)], 1), tags[row, :length]
        nll = tutorial.log_partition(feats) - tutorial.path_score(feats, row_tags)
        assert llh[row].item() == pytest.approx(-nll.item(), rel=1e-5)
        score, path = tutorial.viterbi(feats)
        batched_score, batched_paths = crf.decode(emissions[row:row + 1, :length], mask[row:row + 1, :length])
        assert batched_paths[0] == path and batched_score.item() == pytest.approx(score.item(), rel=1e-5)


def test_logsumexp_of_an_impossible_line_is_nan_without_a_numpy_warning(torch: Any) -> None:
    """A CRF whose constraints forbid every way into a tag sums exp over a line of -inf: log Z is -inf and the
    gradient NaN in both, and minigrad's backward no longer leaks NumPy's "invalid value" RuntimeWarning."""
    import warnings  # noqa: PLC0415

    import minigrad as mg  # noqa: PLC0415

    scores = [[-np.inf] * 3, [0.0, 1.0, 2.0]]
    results = []
    for lib in (torch, mg):
        x = lib.tensor(scores, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            y = lib.logsumexp(x, dim=1)
            y.sum().backward()
        results.append((y.detach().numpy(), x.grad.numpy()))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-6)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-6)   # NaN where torch has NaN
    assert np.isnan(results[1][1][0]).all()


# ----------------------------------------------------------------------------- 2. skip-gram


def _topic_corpus(seed: int, length: int = 120) -> list:
    """Word ids 0-11 in three topics of four words; the text stays within a topic for a while."""
    rng = np.random.default_rng(seed)
    corpus, topic = [], 0
    for _ in range(length):
        if rng.random() < 0.15:
            topic = int(rng.integers(3))
        corpus.append(4 * topic + int(rng.integers(4)))
    return corpus


def test_skip_gram_with_negative_sampling(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Negatives from torch.multinomial over counts ** 0.75 (a shared stream here), logsigmoid and bmm scores,
    Adam, and nearest neighbours from normalised matmul + topk and from cosine_similarity."""
    corpus = _topic_corpus(4)
    _shared_multinomial(monkeypatch, torch, 5)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(SKIP_GRAM, 12)
    assert not mg_model.out_embed.weight.detach().numpy().any()   # zero_() under no_grad
    expected, torch_noise = torch_program["train"](torch_model, corpus, 12, 2)
    losses, noise = mg_program["train"](mg_model, corpus, 12, 2)
    np.testing.assert_allclose(noise.numpy(), torch_noise.numpy(), rtol=1e-6)
    np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-6)
    assert losses[0] == pytest.approx(5 * np.log(2), rel=1e-6)   # zero out-table: every score is 0
    _assert_same_weights(torch_model, mg_model, initial)
    values, neighbours, cosine = mg_program["nearest"](mg_model, [0, 5])
    torch_values, torch_neighbours, torch_cosine = torch_program["nearest"](torch_model, [0, 5])
    np.testing.assert_allclose(values, torch_values, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cosine, torch_cosine, rtol=1e-5, atol=1e-6)
    assert neighbours == torch_neighbours


# ----------------------------------------------------------------------------- 3. hierarchical attention


def _documents(namespace: dict, seed: int, count: int, batch_size: int = 3) -> list:
    """Batches of (documents (B, 4, 5), words per sentence (B, 4), sentences per document (B,), labels (B,)):
    the label decides which half of the vocabulary its documents mostly use."""
    lib = namespace["torch"]
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        documents = np.zeros((batch_size, 4, 5), dtype=np.int64)
        sentence_lengths = np.zeros((batch_size, 4), dtype=np.int64)
        document_lengths = rng.integers(1, 5, batch_size)
        document_lengths[0] = 4
        labels = rng.integers(0, 2, batch_size)
        for b in range(batch_size):
            for s in range(document_lengths[b]):
                n = int(rng.integers(1, 6))
                sentence_lengths[b, s] = n
                documents[b, s, :n] = rng.integers(1, 7, n) + 6 * (rng.random(n) < 0.8) * labels[b]
        batches.append(tuple(lib.from_numpy(a) for a in (documents, sentence_lengths, document_lengths, labels)))
    return batches


@pytest.mark.parametrize("habit", ["unsorted", "sorted", "packed_data"])
def test_hierarchical_attention_network(no_onednn: Any, habit: str) -> None:
    """Losses, clipped gradient norms, the first step's gradients, predictions and both levels' attention
    weights agree; padded words and missing sentences get exactly zero attention. ``habit``: packs made with
    enforce_sorted=False, sorted by hand, or the attention computed on PackedSequence.data."""
    twins = _twins(HIERARCHICAL_ATTENTION, 13, 2, habit=habit)
    torch_program, torch_model, mg_program, mg_model, initial = twins
    torch_batches, batches = _documents(torch_program, 6, 2), _documents(mg_program, 6, 2)
    expected = torch_program["train"](torch_model, torch_batches, 3)
    losses, norms, grads, predictions, word_alpha, sentence_alpha = mg_program["train"](mg_model, batches, 3)
    np.testing.assert_allclose(losses, expected[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(norms, expected[1], rtol=1e-5, atol=1e-6)
    assert grads.keys() == expected[2].keys()
    for name, grad in grads.items():
        np.testing.assert_allclose(grad.numpy(), expected[2][name].numpy(), rtol=1e-4, atol=1e-6, err_msg=name)
    assert predictions == expected[3]
    np.testing.assert_allclose(word_alpha, expected[4], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(sentence_alpha, expected[5], rtol=1e-5, atol=1e-7)
    assert (sentence_alpha[batches[0][2].numpy()[:, None] <= np.arange(4)] == 0).all()
    word_lengths = batches[0][1].numpy().reshape(-1)
    if habit == "packed_data":   # the sentences in packed order: by time step, then by document length
        word_lengths = batches[0][1].numpy()[np.argsort(-batches[0][2].numpy(), kind="stable")].T.reshape(-1)
    assert (word_alpha[word_lengths[word_lengths > 0][:, None] <= np.arange(5)] == 0).all()
    # the context vector's score is shift-free under softmax only through W's bias; every weight is compared
    _assert_same_weights(torch_model, mg_model, initial)


_RNN_OPTIONS = [
    ("RNN", {"nonlinearity": "tanh"}),
    ("LSTM", {"num_layers": 3, "dropout": 0.5}),   # dropout between layers, off in eval()
    ("RNN", {"nonlinearity": "relu", "num_layers": 2, "bidirectional": True}),
    ("GRU", {"num_layers": 2, "bidirectional": True, "batch_first": True}),
    ("GRU", {"bias": False, "bidirectional": True}),
    ("LSTM", {"num_layers": 2, "batch_first": True}),
    ("LSTM", {"bidirectional": True, "proj_size": 2}),
    ("LSTM", {"num_layers": 2, "bidirectional": True, "proj_size": 2, "bias": False, "batch_first": True}),
]


@pytest.mark.parametrize(("kind", "options"), _RNN_OPTIONS, ids=[f"{k}-{'-'.join(o)}" for k, o in _RNN_OPTIONS])
def test_recurrent_options_on_packed_batches(torch: Any, kind: str, options: dict) -> None:
    """Each option a user touches on packed, unsorted, float64 batches with a given initial state, and on the
    same batch padded: outputs, final states, and the gradients of the input, the initial state and every
    weight, to 1e-10."""
    import minigrad as mg  # noqa: PLC0415
    from minigrad import nn as mg_nn  # noqa: PLC0415

    rng = np.random.default_rng(7)
    torch.manual_seed(0)
    torch_rnn = getattr(torch.nn, kind)(3, 4, **options).double().eval()
    rnn = getattr(mg_nn, kind)(3, 4, **options).double().eval()
    rnn.load_state_dict({k: mg.from_numpy(v.detach().numpy().copy()) for k, v in torch_rnn.state_dict().items()})
    batch_first = options.get("batch_first", False)
    lengths = [3, 5, 1, 4]
    x = rng.standard_normal((4, 5, 3) if batch_first else (5, 4, 3))
    layers = options.get("num_layers", 1) * (2 if options.get("bidirectional") else 1)
    states = [rng.standard_normal((layers, 4, options.get("proj_size") or 4))]
    if kind == "LSTM":
        states.append(rng.standard_normal((layers, 4, 4)))
    results = []
    for lib, pack, pad, module in ((torch, torch.nn.utils.rnn.pack_padded_sequence,
                                    torch.nn.utils.rnn.pad_packed_sequence, torch_rnn),
                                   (mg, mg_nn.utils.rnn.pack_padded_sequence,
                                    mg_nn.utils.rnn.pad_packed_sequence, rnn)):
        inputs = lib.tensor(x, requires_grad=True)
        initial = [lib.tensor(s, requires_grad=True) for s in states]
        packed = pack(inputs, lib.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
        out, final = module(packed, tuple(initial) if kind == "LSTM" else initial[0])
        padded, out_lengths = pad(out, batch_first=batch_first, total_length=6)
        final = list(final) if kind == "LSTM" else [final]
        # and the same layer on the padded batch, every step run, from the same state
        full, full_final = module(inputs, tuple(initial) if kind == "LSTM" else initial[0])
        padded = lib.cat([padded, full], 1 if batch_first else 0)
        final += list(full_final) if kind == "LSTM" else [full_final]
        loss = (padded ** 2).sum() + sum((f * (i + 1)).sum() for i, f in enumerate(final))
        loss.backward()
        grads = [inputs.grad] + [s.grad for s in initial] + [p.grad for _, p in module.named_parameters()]
        results.append((padded, out_lengths, final, grads))
    (t_padded, t_lengths, t_final, t_grads), (padded, out_lengths, final, grads) = results
    assert tuple(padded.shape) == tuple(t_padded.shape) and out_lengths.tolist() == t_lengths.tolist() == lengths
    np.testing.assert_allclose(padded.numpy(), t_padded.detach().numpy(), rtol=1e-10, atol=1e-12)
    for ours, theirs in zip(final, t_final):
        np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert len(grads) == len(t_grads)
    for i, (ours, theirs) in enumerate(zip(grads, t_grads)):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-9, atol=1e-12, err_msg=str(i))
