"""A Luong-attention translator with scheduled sampling and batched beam search, run unchanged on minigrad: only
the import lines differ.

``LUONG_NMT`` is our own rewrite of the recurrent encoder-decoder of Luong, Pham and Manning, "Effective
Approaches to Attention-based Neural Machine Translation" (2015), as OpenNMT-py's RNN models write it
(https://github.com/OpenNMT/OpenNMT-py), cut to a tiny vocabulary and a few steps on a generated task (the helpers
and the rule come from tests/test_pytorch_programs.py). It keeps their PyTorch calls in the same roles:

* the encoder: ``Embedding(padding_idx=PAD)``, a time-major bidirectional ``LSTM`` of ``hidden // 2`` per direction
  over ``pack_padded_sequence(lengths.tolist(), enforce_sorted=False)`` and ``pad_packed_sequence(total_length=)``,
  the two directions' final states joined per layer with ``torch.cat([h[0:h.size(0):2], h[1:h.size(0):2]], 2)``
  (OpenNMT's ``_fix_enc_hidden``), the source mask ``arange(S) < lengths.unsqueeze(1)``;
* global attention with the three scores of the paper: ``dot`` (``bmm(h_t, h_s.transpose(1, 2))``), ``general``
  (a ``Linear`` without bias on the query first) and ``concat`` (``v . tanh(W [h_t; h_s])`` over ``h_t.expand``),
  padding scored ``masked_fill(~mask, float('-inf'))``, ``softmax``, the context by ``bmm`` and the attentional
  state ``tanh(linear_out(cat(context, h_t)))``;
* input feeding: a ``StackedLSTM`` of ``LSTMCell`` layers (dropout between them) reads ``cat(embedding, previous
  attentional state)``; a generator ``Sequential(Linear, LogSoftmax)`` whose weight is tied to the decoder's
  embedding;
* training: teacher forcing with scheduled sampling (Bengio et al. 2015), the truth kept per token where
  ``torch.empty(B).bernoulli_(ratio)`` says so, else the model's own ``argmax`` (or one coin per step for the whole
  batch, ``torch.empty(1).bernoulli_(ratio).item()``, the guess by ``topk(1)``), the ratio decaying as an inverse
  sigmoid ``k / (k + exp(i / k))``; ``NLLLoss(ignore_index=PAD, reduction='sum')`` divided by the number of target
  words, ``clip_grad_norm_``, SGD halved by ``StepLR``, ``uniform_(-0.1, 0.1)`` initialisation;
* decoding: a batched beam search over B x beam rows (the memory bank, mask and LSTM states tiled by
  ``index_select`` with ``repeat_interleave``), ``topk`` over the flattened beam x vocabulary scores,
  ``torch.div(..., rounding_mode='floor')`` and ``%`` back to beam and word, the states, input feed and prefixes
  reordered by ``index_select``, finished hypotheses kept in Python lists with the GNMT length penalty
  ``((5 + |Y|) / 6) ** alpha``, ended beams taken out with ``masked_fill(ended, float('-inf'))``; and greedy
  decoding, which a one-wide beam must reproduce.

The random draws compared are made the same in both runs: ``F.dropout`` (``_shared_dropout``) and
``Tensor.bernoulli_`` (``_shared_bernoulli``) of both libraries read one NumPy stream each of the same seed. The
two runs are compared step by step: the loss, the clipped gradient norm, the sampling ratio and every gradient,
then the final weights, the greedy words and every finished beam's words and score.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import MINIGRAD_IMPORTS, TORCH_IMPORTS, _assert_same_weights, _twin_models
from tests.test_pytorch_programs_awd import _shared_bernoulli
from tests.test_pytorch_programs_flow import _lean_torch  # noqa: F401 - autouse: torch lean, _dynamo imported in setup
from tests.test_pytorch_programs_gnn import _shared_dropout

IMPORTS = (TORCH_IMPORTS + "from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence\n",
           MINIGRAD_IMPORTS + "from minigrad.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence\n")

VOCAB = 10
PAD, BOS, EOS = 0, 1, 2


LUONG_NMT = '''
PAD, BOS, EOS = 0, 1, 2


class Encoder(nn.Module):
    """Source ids (S, B) and lengths (B,) -> memory bank (S, B, H) and the final (h, c), each (layers, B, H)."""

    def __init__(self, vocab_size, hidden_size, layers):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, hidden_size, padding_idx=PAD)
        self.rnn = nn.LSTM(hidden_size, hidden_size // 2, layers, bidirectional=True)

    def forward(self, src, lengths):
        packed = pack_padded_sequence(self.embedding(src), lengths.tolist(), enforce_sorted=False)
        memory, (h, c) = self.rnn(packed)
        memory, _ = pad_packed_sequence(memory, total_length=src.size(0))
        # (layers * 2, B, H/2) -> (layers, B, H): each layer's forward and backward states side by side
        h = torch.cat([h[0:h.size(0):2], h[1:h.size(0):2]], 2)
        c = torch.cat([c[0:c.size(0):2], c[1:c.size(0):2]], 2)
        return memory, (h, c)


class GlobalAttention(nn.Module):
    """Query (B, H) over the memory bank (B, S, H) with a mask (B, S): attentional state (B, H), weights (B, S)."""

    def __init__(self, dim, attn_type):
        super().__init__()
        self.attn_type = attn_type
        if attn_type == 'general':
            self.linear_in = nn.Linear(dim, dim, bias=False)
        elif attn_type == 'concat':
            self.W = nn.Linear(dim * 2, dim, bias=False)
            self.v = nn.Linear(dim, 1, bias=False)
        self.linear_out = nn.Linear(dim * 2, dim, bias=False)

    def score(self, h_t, h_s):
        """h_t (B, 1, H), h_s (B, S, H) -> scores (B, 1, S)."""
        if self.attn_type == 'dot':
            return torch.bmm(h_t, h_s.transpose(1, 2))
        if self.attn_type == 'general':
            return torch.bmm(self.linear_in(h_t), h_s.transpose(1, 2))
        both = torch.cat([h_t.expand(-1, h_s.size(1), -1), h_s], 2)
        return self.v(torch.tanh(self.W(both))).transpose(1, 2)

    def forward(self, query, memory, mask):
        align = self.score(query.unsqueeze(1), memory)
        align = align.masked_fill(~mask.unsqueeze(1), float('-inf'))
        weights = F.softmax(align, dim=-1)
        context = torch.bmm(weights, memory).squeeze(1)
        attn_h = torch.tanh(self.linear_out(torch.cat([context, query], 1)))
        return attn_h, weights.squeeze(1)


class StackedLSTM(nn.Module):
    """One step of LSTMCell layers: x (B, I), (h, c) each (layers, B, H) -> top output (B, H), new (h, c)."""

    def __init__(self, layers, input_size, hidden_size, dropout):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList()
        for _ in range(layers):
            self.layers.append(nn.LSTMCell(input_size, hidden_size))
            input_size = hidden_size

    def forward(self, x, hidden):
        h_0, c_0 = hidden
        h_1, c_1 = [], []
        for i, layer in enumerate(self.layers):
            h_1_i, c_1_i = layer(x, (h_0[i], c_0[i]))
            x = h_1_i
            if i + 1 != len(self.layers):
                x = self.dropout(x)
            h_1 += [h_1_i]
            c_1 += [c_1_i]
        return x, (torch.stack(h_1), torch.stack(c_1))


class InputFeedDecoder(nn.Module):
    """One step: previous words (B,), state, input feed (B, H) -> log-probabilities (B, V), state, attentional
    state (B, H) and attention weights (B, S)."""

    def __init__(self, vocab_size, hidden_size, layers, attn_type, dropout):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, hidden_size, padding_idx=PAD)
        self.rnn = StackedLSTM(layers, hidden_size * 2, hidden_size, dropout)
        self.attn = GlobalAttention(hidden_size, attn_type)
        self.dropout = nn.Dropout(dropout)
        self.generator = nn.Sequential(nn.Linear(hidden_size, vocab_size), nn.LogSoftmax(dim=-1))
        self.generator[0].weight = self.embedding.weight   # share_decoder_embeddings

    def forward(self, y_prev, state, input_feed, memory, mask):
        x = torch.cat([self.embedding(y_prev), input_feed], 1)
        rnn_out, state = self.rnn(x, state)
        attn_h, weights = self.attn(rnn_out, memory, mask)
        attn_h = self.dropout(attn_h)
        return self.generator(attn_h), state, attn_h, weights


class NMTModel(nn.Module):
    def __init__(self, vocab_size, hidden_size, layers, attn_type, dropout):
        super().__init__()
        self.encoder = Encoder(vocab_size, hidden_size, layers)
        self.decoder = InputFeedDecoder(vocab_size, hidden_size, layers, attn_type, dropout)
        self.hidden_size = hidden_size

    def encode(self, src, lengths):
        """Memory bank (B, S, H), the decoder's first state and the source mask (B, S)."""
        memory, state = self.encoder(src, lengths)
        mask = torch.arange(src.size(0)).unsqueeze(0) < lengths.unsqueeze(1)
        return memory.transpose(0, 1), state, mask


def make_model(vocab_size, attn_type, hidden_size=6, layers=2, dropout=0.2, dtype='float32', init_range=0.1):
    model = NMTModel(vocab_size, hidden_size, layers, attn_type, dropout)
    for p in model.parameters():
        nn.init.uniform_(p, -init_range, init_range)
    return model.double() if dtype == 'float64' else model


def sampling_ratio(i, k=2.0):
    """The probability of feeding the truth at update i: an inverse sigmoid decay."""
    return k / (k + math.exp(i / k))


def batch_loss(model, src, lengths, tgt, ratio, per_token=True):
    """Summed NLL over target words / their number; tgt (T, B) starts with BOS. Each step feeds the true previous
    word where a Bernoulli(ratio) draw says so, else the model's own best guess: one draw per word (per_token), or
    one per step for the whole batch (the tutorials' ``random.random() < ratio``)."""
    memory, state, mask = model.encode(src, lengths)
    input_feed = memory.new_zeros(memory.size(0), model.hidden_size)
    y_prev = tgt[0]
    outputs = []
    for t in range(1, tgt.size(0)):
        log_probs, state, input_feed, _ = model.decoder(y_prev, state, input_feed, memory, mask)
        outputs.append(log_probs)
        if per_token:
            use_truth = torch.empty(tgt.size(1)).bernoulli_(ratio).bool()
            y_prev = torch.where(use_truth, tgt[t], log_probs.argmax(1))
        elif torch.empty(1).bernoulli_(ratio).item() == 1:
            y_prev = tgt[t]
        else:
            _, top = log_probs.topk(1)
            y_prev = top.squeeze(1).detach()
    log_probs = torch.stack(outputs)                    # (T - 1, B, V)
    criterion = nn.NLLLoss(ignore_index=PAD, reduction='sum')
    words = tgt[1:].ne(PAD).sum().item()
    return criterion(log_probs.view(-1, log_probs.size(-1)), tgt[1:].reshape(-1)) / words


def train(model, batches, steps, per_token=True, lr=1.0, max_grad_norm=1.0):
    optimizer = optim.SGD(model.parameters(), lr=lr)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)
    model.train()
    history = []
    for step in range(steps):
        src, lengths, tgt = batches[step % len(batches)]
        ratio = sampling_ratio(step)
        optimizer.zero_grad()
        loss = batch_loss(model, torch.from_numpy(src), torch.from_numpy(lengths), torch.from_numpy(tgt), ratio,
                          per_token)
        loss.backward()
        norm = nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        grads = {name: p.grad.detach().clone() for name, p in model.named_parameters()}
        optimizer.step()
        scheduler.step()
        history.append({"loss": loss.item(), "norm": norm.item(), "ratio": ratio, "grads": grads})
    return history


def greedy_decode(model, src, lengths, max_len):
    """The argmax words (B, max_len) and their log-probabilities (B, max_len)."""
    model.eval()
    with torch.no_grad():
        memory, state, mask = model.encode(src, lengths)
        input_feed = memory.new_zeros(memory.size(0), model.hidden_size)
        y_prev = torch.full((memory.size(0),), BOS, dtype=torch.long)
        words, best_log_probs = [], []
        for _ in range(max_len):
            log_probs, state, input_feed, _ = model.decoder(y_prev, state, input_feed, memory, mask)
            best, y_prev = log_probs.max(1)
            words.append(y_prev)
            best_log_probs.append(best)
    return torch.stack(words, 1).tolist(), torch.stack(best_log_probs, 1).tolist()


def beam_search(model, src, lengths, beam_size, max_len, alpha=0.6):
    """Per source: the finished hypotheses [(normalised score, words, raw score)], best first; a hypothesis ends
    at EOS (included) or at max_len words."""
    model.eval()
    with torch.no_grad():
        memory, state, mask = model.encode(src, lengths)
        batch = memory.size(0)
        tile = torch.arange(batch).repeat_interleave(beam_size)
        memory, mask = memory.index_select(0, tile), mask.index_select(0, tile)
        state = tuple(s.index_select(1, tile) for s in state)
        input_feed = memory.new_zeros(batch * beam_size, model.hidden_size)
        scores = torch.full((batch, beam_size), float('-inf'), dtype=memory.dtype)
        scores[:, 0] = 0.0                              # all beams start equal: only the first one is live
        scores = scores.view(-1)
        prefixes = torch.full((batch * beam_size, 1), BOS, dtype=torch.long)
        finished = [[] for _ in range(batch)]
        offsets = (torch.arange(batch) * beam_size).unsqueeze(1)
        for step in range(max_len):
            log_probs, state, input_feed, _ = model.decoder(prefixes[:, -1], state, input_feed, memory, mask)
            vocab = log_probs.size(1)
            total = (scores.unsqueeze(1) + log_probs).view(batch, beam_size * vocab)
            top_scores, top_ids = total.topk(beam_size, dim=1)
            origin = torch.div(top_ids, vocab, rounding_mode='floor')
            words = top_ids % vocab
            select = (origin + offsets).view(-1)
            prefixes = torch.cat([prefixes.index_select(0, select), words.view(-1, 1)], 1)
            state = tuple(s.index_select(1, select) for s in state)
            input_feed = input_feed.index_select(0, select)
            scores = top_scores.view(-1)
            ended = words.view(-1).eq(EOS)
            if step == max_len - 1:
                ended.fill_(True)
            for row in ended.nonzero().view(-1).tolist():
                score = scores[row].item()
                if score == float('-inf'):
                    continue
                penalty = ((5 + step + 1) / 6) ** alpha
                finished[row // beam_size].append((score / penalty, prefixes[row, 1:].tolist(), score))
            scores = scores.masked_fill(ended, float('-inf'))
            if all(len(f) >= beam_size for f in finished):
                break
    return [sorted(f, key=lambda hyp: -hyp[0]) for f in finished]
'''


def _batch(rng: np.random.Generator, size: int) -> tuple:
    """Sources (S, B) of words 3..VOCAB-1 with unsorted lengths 2..5 (one of 5), their targets (T, B): BOS, the
    source reversed with every word moved on by one (wrapping within 3..VOCAB-1), EOS, PAD after."""
    lengths = rng.integers(2, 6, size)
    lengths[int(rng.integers(size))] = 5
    src = np.full((5, size), PAD, dtype=np.int64)
    tgt = np.full((7, size), PAD, dtype=np.int64)
    for col, n in enumerate(lengths):
        words = rng.integers(3, VOCAB, n)
        src[:n, col] = words
        tgt[0, col] = BOS
        tgt[1:n + 1, col] = 3 + (words[::-1] - 2) % (VOCAB - 3)
        tgt[n + 1, col] = EOS
    return src, lengths.astype(np.int64), tgt


def test_the_program_differs_only_in_its_imports() -> None:
    assert IMPORTS[0].count("\n") == IMPORTS[1].count("\n")
    assert "import" not in LUONG_NMT and "minigrad" not in LUONG_NMT and "mg." not in LUONG_NMT


def _compare(history: list, expected: list, rtol: float, atol: float) -> None:
    for step, (ours, theirs) in enumerate(zip(history, expected, strict=True)):
        for key in ("loss", "norm", "ratio"):
            np.testing.assert_allclose(ours[key], theirs[key], rtol=rtol, atol=atol, err_msg=f"step {step} {key}")
        assert ours["grads"].keys() == theirs["grads"].keys()
        for name, grad in ours["grads"].items():
            np.testing.assert_allclose(grad.numpy(), theirs["grads"][name].numpy(), rtol=rtol, atol=atol,
                                       err_msg=f"step {step} grad {name}")


@pytest.mark.parametrize(("attn_type", "dtype", "per_token"), [
    ("dot", "float32", True), ("general", "float32", False), ("concat", "float32", True), ("concat", "float64", False)])
def test_luong_input_feeding_with_scheduled_sampling_and_beam_search(torch: Any, monkeypatch: pytest.MonkeyPatch,
                                                                     attn_type: str, dtype: str,
                                                                     per_token: bool) -> None:
    """Six SGD steps under scheduled sampling and dropout (losses, norms, every gradient), the final weights, then
    greedy decoding and a beam search of width 3 (every finished hypothesis: words, raw and normalised scores)."""
    import minigrad as mg  # noqa: PLC0415

    rng = np.random.default_rng(11)
    batches = [_batch(rng, 3) for _ in range(3)]
    steps = 6
    _shared_dropout(monkeypatch, torch, 7)
    _shared_bernoulli(monkeypatch, torch, 8)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(
        LUONG_NMT, VOCAB, attn_type, dtype=dtype, imports=IMPORTS)
    # the generator's weight is the decoder embedding: one parameter, listed once
    assert mg_model.decoder.generator[0].weight is mg_model.decoder.embedding.weight
    expected = torch_program["train"](torch_model, batches, steps, per_token)
    history = mg_program["train"](mg_model, batches, steps, per_token)
    rtol, atol = (1e-5, 1e-6) if dtype == "float32" else (1e-10, 1e-12)
    _compare(history, expected, rtol, atol)
    assert expected[0]["ratio"] > 0.6 > 0.2 > expected[-1]["ratio"]
    assert mg_model.decoder.embedding.weight.dtype == getattr(mg, dtype)
    _assert_same_weights(torch_model, mg_model, initial)
    ours = {k: v.numpy() for k, v in mg_model.state_dict().items()}
    for name, value in torch_model.state_dict().items():
        np.testing.assert_allclose(ours[name], value.numpy(), rtol=rtol * 10, atol=atol * 10, err_msg=name)

    src, lengths, _ = batches[0]
    _compare_decoding(torch, torch_program, torch_model, mg_program, mg_model, src, lengths, rtol, atol)
    # the trained model ends almost at once: decode a model of wide random weights too, whose beams run long, its
    # EOS made likelier (the same in both) so that hypotheses of several lengths finish
    torch_program, torch_model, mg_program, mg_model, _ = _twin_models(
        LUONG_NMT, VOCAB, attn_type, dtype=dtype, init_range=1.2, imports=IMPORTS)
    for lib, model in ((torch, torch_model), (mg, mg_model)):
        with lib.no_grad():
            model.decoder.generator[0].bias[EOS] += 1.0
    greedy_words, beams = _compare_decoding(torch, torch_program, torch_model, mg_program, mg_model, src, lengths,
                                            rtol, atol)
    # every source gets at least three hypotheses, of several lengths; some leave the greedy path
    assert all(len(hyps) >= 3 for hyps in beams)
    assert len({len(words) for hyps in beams for _, words, _ in hyps}) > 1
    assert any(words != greedy[:len(words)] for hyps, greedy in zip(beams, greedy_words) for _, words, _ in hyps)


def _compare_decoding(torch: Any, torch_program: dict, torch_model: Any, mg_program: dict, mg_model: Any,
                      src: np.ndarray, lengths: np.ndarray, rtol: float, atol: float) -> tuple:
    """Greedy decoding, beams of width 3 and 1, in both: the same words and scores; the one-wide beam is the
    greedy path cut at EOS. Returns torch's greedy words and width-3 hypotheses."""
    import minigrad as mg  # noqa: PLC0415

    runs = {}
    for name, program, model, module in (("torch", torch_program, torch_model, torch),
                                         ("mg", mg_program, mg_model, mg)):
        args = (model, module.from_numpy(src), module.from_numpy(lengths))
        runs[name] = (program["greedy_decode"](*args, 6), program["beam_search"](*args, 3, 6),
                      program["beam_search"](*args, 1, 6))
    (greedy, beams, narrow), (torch_greedy, torch_beams, torch_narrow) = runs["mg"], runs["torch"]
    assert greedy[0] == torch_greedy[0]
    np.testing.assert_allclose(greedy[1], torch_greedy[1], rtol=rtol, atol=atol)
    for ours_hyps, theirs_hyps in zip(beams + narrow, torch_beams + torch_narrow, strict=True):
        assert [words for _, words, _ in ours_hyps] == [words for _, words, _ in theirs_hyps]
        np.testing.assert_allclose([h[0] for h in ours_hyps], [h[0] for h in theirs_hyps], rtol=rtol, atol=atol)
        np.testing.assert_allclose([h[2] for h in ours_hyps], [h[2] for h in theirs_hyps], rtol=rtol, atol=atol)
    for row, hyps in enumerate(torch_narrow):
        (_, words, raw), = hyps
        cut = torch_greedy[0][row].index(EOS) + 1 if EOS in torch_greedy[0][row] else 6
        assert words == torch_greedy[0][row][:cut]
        np.testing.assert_allclose(raw, sum(torch_greedy[1][row][:cut]), rtol=rtol)
    return torch_greedy[0], torch_beams
