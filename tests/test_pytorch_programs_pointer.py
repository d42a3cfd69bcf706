"""A pointer-generator summariser, small, run unchanged on minigrad: only the import lines differ.

``POINTER_GENERATOR`` is our own rewrite of the model of See, Liu and Manning, "Get To The Point: Summarization
with Pointer-Generator Networks" (2017), as the well-known PyTorch ports of it write it (e.g.
atulkum/pointer_summarizer): a bidirectional ``LSTM`` encoder over ``pack_padded_sequence(enforce_sorted=False)``
and ``pad_packed_sequence``, ``W_h`` applied to the flattened encoder outputs, a reduce-state ``Linear`` + ``relu``
for each of ``h`` and ``c`` of both directions, an ``LSTMCell`` decoder stepped in a Python loop with Bahdanau
attention (``W_s`` on ``cat(h, c)``, the coverage feature ``w_c * coverage``, ``v``, a softmax masked and
renormalised over the non-padding positions, ``bmm`` for the context vector), ``p_gen = sigmoid(Linear(cat(context,
s_t, x_t)))``, the vocabulary distribution extended with zeros for the articles' own OOV words and the copy mass
added by ``scatter_add(1, enc_batch_extend_vocab, (1 - p_gen) * attn)``, the gold extended ids' NLL from
``gather`` + ``log(p + eps)``, the coverage loss ``sum(min(attn, coverage))``, both masked by the decoder lengths,
``Adagrad(initial_accumulator_value=0.1)`` with ``clip_grad_norm_`` per module, and a greedy decoder that maps
extended ids >= the vocabulary size back to UNK before feeding them in.

The data is generated here: articles of in-vocabulary words and article-only OOV words (extended ids
``vocab + k``), summaries copied from the articles' starts, so both the generator and the pointer matter. The two
runs are compared step by step: total loss, NLL and coverage loss apart, the three clipped gradient norms, every
gradient, the final weights and the decoded extended ids.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import MINIGRAD_IMPORTS, TORCH_IMPORTS, _assert_same_weights, _twin_models

IMPORTS = (TORCH_IMPORTS + "from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence\n",
           MINIGRAD_IMPORTS + "from minigrad.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence\n")

VOCAB = 12
PAD, UNK, START, STOP = 0, 1, 2, 3


POINTER_GENERATOR = '''
PAD, UNK, START, STOP = 0, 1, 2, 3
EPS = 1e-12


class ArticleEncoder(nn.Module):
    """Article ids (B, T) and lengths (B,) to outputs (B, T, 2H), W_h of them flattened (B * T, 2H) and the
    bidirectional LSTM's last (h, c), each (2, B, H)."""

    def __init__(self, vocab_size, emb_dim, hidden_dim):
        super().__init__()
        self.hidden_dim = hidden_dim
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.lstm = nn.LSTM(emb_dim, hidden_dim, num_layers=1, batch_first=True, bidirectional=True)
        self.W_h = nn.Linear(hidden_dim * 2, hidden_dim * 2, bias=False)

    def forward(self, article, lengths):
        packed = pack_padded_sequence(self.embedding(article), lengths, batch_first=True, enforce_sorted=False)
        outputs, final = self.lstm(packed)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True)
        outputs = outputs.contiguous()
        features = self.W_h(outputs.view(-1, 2 * self.hidden_dim))
        return outputs, features, final


class ReduceState(nn.Module):
    """The encoder's (h, c) of both directions, (2, B, H) each, to the decoder's first (h, c), (B, H) each."""

    def __init__(self, hidden_dim):
        super().__init__()
        self.hidden_dim = hidden_dim
        self.reduce_h = nn.Linear(hidden_dim * 2, hidden_dim)
        self.reduce_c = nn.Linear(hidden_dim * 2, hidden_dim)

    def forward(self, final):
        h, c = final
        both_h = h.transpose(0, 1).contiguous().view(-1, self.hidden_dim * 2)
        both_c = c.transpose(0, 1).contiguous().view(-1, self.hidden_dim * 2)
        return F.relu(self.reduce_h(both_h)), F.relu(self.reduce_c(both_c))


class CoverageAttention(nn.Module):
    """e = v . tanh(W_h h_i + W_s s_t + w_c coverage_i), a softmax kept to the real positions and renormalised:
    context (B, 2H), attention (B, T) and the coverage after this step (B, T)."""

    def __init__(self, hidden_dim, use_coverage):
        super().__init__()
        self.use_coverage = use_coverage
        if use_coverage:
            self.W_c = nn.Linear(1, hidden_dim * 2, bias=False)
        self.W_s = nn.Linear(hidden_dim * 2, hidden_dim * 2)
        self.v = nn.Linear(hidden_dim * 2, 1, bias=False)

    def forward(self, s_t_hat, outputs, features, padding_mask, coverage):
        b, t_k, n = outputs.size()
        decoder_features = self.W_s(s_t_hat).unsqueeze(1).expand(b, t_k, n).contiguous().view(-1, n)
        attention_features = features + decoder_features
        if self.use_coverage:
            attention_features = attention_features + self.W_c(coverage.view(-1, 1))
        scores = self.v(torch.tanh(attention_features)).view(-1, t_k)
        attn = F.softmax(scores, dim=1) * padding_mask
        attn = attn / attn.sum(1, keepdim=True)
        context = torch.bmm(attn.unsqueeze(1), outputs).view(-1, n)
        if self.use_coverage:
            coverage = coverage.view(-1, t_k) + attn
        return context, attn, coverage


class PointerDecoder(nn.Module):
    """One step: the previous word (B,), state, context (B, 2H) -> the extended-vocabulary distribution
    (B, V + OOVs), the new state, context, attention, p_gen (B, 1) and coverage."""

    def __init__(self, vocab_size, emb_dim, hidden_dim, use_coverage):
        super().__init__()
        self.attention = CoverageAttention(hidden_dim, use_coverage)
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.x_context = nn.Linear(hidden_dim * 2 + emb_dim, emb_dim)
        self.lstm = nn.LSTMCell(emb_dim, hidden_dim)
        self.p_gen_linear = nn.Linear(hidden_dim * 4 + emb_dim, 1)
        self.out1 = nn.Linear(hidden_dim * 3, hidden_dim)
        self.out2 = nn.Linear(hidden_dim, vocab_size)

    def forward(self, y_prev, state, context, outputs, features, padding_mask, extra_zeros, extend_vocab,
                coverage):
        x = self.x_context(torch.cat((context, self.embedding(y_prev)), 1))
        h, c = self.lstm(x, state)
        s_t_hat = torch.cat((h, c), 1)
        context, attn, next_coverage = self.attention(s_t_hat, outputs, features, padding_mask, coverage)
        p_gen = torch.sigmoid(self.p_gen_linear(torch.cat((context, s_t_hat, x), 1)))
        vocab_dist = F.softmax(self.out2(self.out1(torch.cat((h, context), 1))), dim=1)
        vocab_part = p_gen * vocab_dist
        copy_part = (1 - p_gen) * attn
        if extra_zeros is not None:
            vocab_part = torch.cat([vocab_part, extra_zeros], 1)
        final_dist = vocab_part.scatter_add(1, extend_vocab, copy_part)
        return final_dist, (h, c), context, attn, p_gen, next_coverage


class PointerGenerator(nn.Module):
    def __init__(self, vocab_size, emb_dim, hidden_dim, use_coverage=True):
        super().__init__()
        self.encoder = ArticleEncoder(vocab_size, emb_dim, hidden_dim)
        self.reduce_state = ReduceState(hidden_dim)
        self.decoder = PointerDecoder(vocab_size, emb_dim, hidden_dim, use_coverage)
        self.decoder.embedding.weight = self.encoder.embedding.weight   # shared embeddings, as the ports do
        self.hidden_dim, self.use_coverage = hidden_dim, use_coverage


def make_model(vocab_size, emb_dim=6, hidden_dim=5, use_coverage=True, dtype="float32"):
    model = PointerGenerator(vocab_size, emb_dim, hidden_dim, use_coverage)
    return model.double() if dtype == "float64" else model


def encoder_inputs(model, batch):
    """The batch's arrays as tensors and the encoder's outputs; the padding mask from the lengths."""
    article = torch.from_numpy(batch["article"])
    lengths = torch.from_numpy(batch["article_lengths"])
    extend_vocab = torch.from_numpy(batch["article_extended"])
    dtype = model.encoder.W_h.weight.dtype
    padding_mask = (torch.arange(article.size(1)).unsqueeze(0) < lengths.unsqueeze(1)).to(dtype)
    extra_zeros = None
    if batch["max_oovs"] > 0:
        extra_zeros = torch.zeros((article.size(0), batch["max_oovs"]), dtype=dtype)
    outputs, features, final = model.encoder(article, lengths)
    state = model.reduce_state(final)
    context = torch.zeros(article.size(0), 2 * model.hidden_dim, dtype=dtype)
    coverage = torch.zeros(article.size(), dtype=dtype) if model.use_coverage else None
    return outputs, features, padding_mask, extra_zeros, extend_vocab, state, context, coverage


def batch_loss(model, batch, cov_loss_wt=1.0):
    """The masked mean over the batch of (NLL + cov_loss_wt * coverage loss) per target word, and its two parts."""
    outputs, features, padding_mask, extra_zeros, extend_vocab, state, context, coverage = encoder_inputs(model, batch)
    dec_input = torch.from_numpy(batch["dec_input"])
    target = torch.from_numpy(batch["target"])
    dec_lengths = torch.from_numpy(batch["dec_lengths"]).to(padding_mask.dtype)
    dec_mask = (target != PAD).to(padding_mask.dtype)
    nll_steps, coverage_steps = [], []
    for di in range(dec_input.size(1)):
        final_dist, state, context, attn, p_gen, next_coverage = model.decoder(
            dec_input[:, di], state, context, outputs, features, padding_mask, extra_zeros, extend_vocab, coverage)
        gold_probs = torch.gather(final_dist, 1, target[:, di].unsqueeze(1)).squeeze()
        nll_steps.append(-torch.log(gold_probs + EPS) * dec_mask[:, di])
        if model.use_coverage:
            coverage_steps.append(torch.sum(torch.min(attn, coverage), 1) * dec_mask[:, di])
            coverage = next_coverage
    nll = torch.mean(torch.sum(torch.stack(nll_steps, 1), 1) / dec_lengths)
    if not model.use_coverage:
        return nll, nll, torch.zeros(())
    cov = torch.mean(torch.sum(torch.stack(coverage_steps, 1), 1) / dec_lengths)
    return nll + cov_loss_wt * cov, nll, cov


def train(model, batches, steps, lr=0.15, max_grad_norm=2.0):
    # the ports list encoder + decoder + reduce_state parameters, the shared embedding twice: torch warns that a
    # duplicate will be an error (pytorch/pytorch#40967) and some engines raise it now; model.parameters() lists it once
    optimizer = optim.Adagrad(model.parameters(), lr=lr, initial_accumulator_value=0.1)
    model.train()
    history = []
    for step in range(steps):
        batch = batches[step % len(batches)]
        optimizer.zero_grad()
        loss, nll, cov = batch_loss(model, batch)
        loss.backward()
        norms = [torch.nn.utils.clip_grad_norm_(module.parameters(), max_grad_norm).item()
                 for module in (model.encoder, model.decoder, model.reduce_state)]
        grads = {name: p.grad.detach().clone() for name, p in model.named_parameters()}
        optimizer.step()
        history.append({"loss": loss.item(), "nll": nll.item(), "coverage": cov.item(), "norms": norms,
                        "grads": grads})
    return history


def greedy_decode(model, batch, max_steps):
    """Extended ids (B, max_steps) picked one at a time (an article OOV picked is fed back as UNK), and each
    step's two best log-probabilities (B, max_steps, 2), as a beam search's topk reads them."""
    model.eval()
    with torch.no_grad():
        outputs, features, padding_mask, extra_zeros, extend_vocab, state, context, coverage = encoder_inputs(
            model, batch)
        vocab_size = model.decoder.out2.out_features
        y_prev = torch.full((outputs.size(0),), START, dtype=torch.long)
        picked, best_log_probs = [], []
        for _ in range(max_steps):
            final_dist, state, context, attn, p_gen, coverage = model.decoder(
                y_prev, state, context, outputs, features, padding_mask, extra_zeros, extend_vocab, coverage)
            top_log_probs, _ = torch.topk(torch.log(final_dist), 2)
            best = final_dist.argmax(dim=1)
            picked.append(best)
            best_log_probs.append(top_log_probs)
            y_prev = best.masked_fill(best >= vocab_size, UNK)
    return torch.stack(picked, 1).tolist(), torch.stack(best_log_probs, 1).tolist()
'''


def _batch(rng: np.random.Generator, size: int, summary_len: int = 3, with_oovs: bool = True) -> dict:
    """Articles of words 4..VOCAB-1 and (``with_oovs``) article OOVs (ids VOCAB + k, UNK in the encoder's input),
    lengths unsorted; the summary is the article's first `summary_len` words (its ids extended), then STOP."""
    lengths = rng.integers(summary_len, 7, size)
    lengths[int(rng.integers(size))] = 6   # pad_packed_sequence pads to the longest: make it the array's width
    width = int(lengths.max())
    article = np.full((size, width), PAD, dtype=np.int64)
    extended = np.full((size, width), PAD, dtype=np.int64)
    dec_input = np.full((size, summary_len + 1), PAD, dtype=np.int64)
    target = np.full((size, summary_len + 1), PAD, dtype=np.int64)
    dec_lengths = np.zeros(size, dtype=np.int64)
    max_oovs = 0
    for row in range(size):
        n = int(lengths[row])
        words = rng.integers(4, VOCAB + 2 * with_oovs, n)   # VOCAB, VOCAB + 1: this article's OOVs
        oovs = sorted({int(w) for w in words if w >= VOCAB})
        ext = np.array([VOCAB + oovs.index(int(w)) if w >= VOCAB else w for w in words])
        max_oovs = max(max_oovs, len(oovs))
        article[row, :n] = np.where(words >= VOCAB, UNK, words)
        extended[row, :n] = ext
        m = int(rng.integers(1, summary_len + 1))      # summaries of different lengths: the decoder mask matters
        summary = ext[:m]
        dec_input[row, 0] = START
        dec_input[row, 1:m + 1] = np.where(summary >= VOCAB, UNK, summary)
        target[row, :m] = summary
        target[row, m] = STOP
        dec_lengths[row] = m + 1
    return {"article": article, "article_lengths": lengths.astype(np.int64), "article_extended": extended,
            "dec_input": dec_input, "target": target, "dec_lengths": dec_lengths, "max_oovs": max_oovs}


@pytest.fixture(autouse=True)
def _dynamo_in_setup(torch: Any) -> None:
    """torch's first optimizer imports torch._dynamo (~1 s, once per process): imported here, it counts as setup."""
    importlib.import_module("torch._dynamo")


def test_the_program_differs_only_in_its_imports() -> None:
    assert IMPORTS[0].count("\n") == IMPORTS[1].count("\n")
    assert "import" not in POINTER_GENERATOR and "minigrad" not in POINTER_GENERATOR
    assert "mg." not in POINTER_GENERATOR


def _compare(history: list, expected: list, rtol: float, atol: float) -> None:
    for step, (ours, theirs) in enumerate(zip(history, expected)):
        for key in ("loss", "nll", "coverage", "norms"):
            np.testing.assert_allclose(ours[key], theirs[key], rtol=rtol, atol=atol, err_msg=f"step {step} {key}")
        assert ours["grads"].keys() == theirs["grads"].keys()
        for name, grad in ours["grads"].items():
            np.testing.assert_allclose(grad.numpy(), theirs["grads"][name].numpy(), rtol=rtol, atol=atol,
                                       err_msg=f"step {step} grad {name}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pointer_generator_with_coverage(torch: Any, dtype: str) -> None:
    rng = np.random.default_rng(5)
    batches = [_batch(rng, 4) for _ in range(3)]
    steps = 6
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(
        POINTER_GENERATOR, VOCAB, dtype=dtype, imports=IMPORTS)
    expected = torch_program["train"](torch_model, batches, steps)
    history = mg_program["train"](mg_model, batches, steps)
    rtol, atol = (1e-5, 1e-6) if dtype == "float32" else (1e-10, 1e-12)
    _compare(history, expected, rtol, atol)
    assert all(step["coverage"] > 0 for step in expected)   # the coverage loss is live, not a zero
    _assert_same_weights(torch_model, mg_model, initial)
    for batch in batches[:2]:
        ids, log_probs = mg_program["greedy_decode"](mg_model, batch, 4)
        torch_ids, torch_log_probs = torch_program["greedy_decode"](torch_model, batch, 4)
        assert ids == torch_ids
        np.testing.assert_allclose(log_probs, torch_log_probs, rtol=rtol, atol=atol)
    # an article OOV was picked (and fed back as UNK): the copy path decides a word
    assert any(i >= VOCAB for row in torch_program["greedy_decode"](torch_model, batches[1], 4)[0] for i in row)


def test_pointer_generator_without_coverage_or_oovs(torch: Any) -> None:
    """No coverage (no W_c, coverage None) and no article OOVs (extra_zeros None): the plain pointer-generator."""
    rng = np.random.default_rng(6)
    batches = [_batch(rng, 3, with_oovs=False) for _ in range(2)]
    assert all(batch["max_oovs"] == 0 for batch in batches)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(
        POINTER_GENERATOR, VOCAB, use_coverage=False, imports=IMPORTS)
    assert not any("W_c" in name for name in mg_model.state_dict())
    expected = torch_program["train"](torch_model, batches, 4)
    history = mg_program["train"](mg_model, batches, 4)
    _compare(history, expected, 1e-5, 1e-6)
    _assert_same_weights(torch_model, mg_model, initial)
    assert mg_program["greedy_decode"](mg_model, batches[0], 3)[0] == torch_program["greedy_decode"](
        torch_model, batches[0], 3)[0]


def test_the_ports_parameter_list_with_the_tied_embedding_twice(torch: Any) -> None:
    """The ports hand Adagrad encoder + decoder + reduce_state parameters, the shared embedding in both: torch
    warns that a duplicate parameter will be an error (pytorch/pytorch#40967) and steps it twice; minigrad raises
    that error now (a clear refusal, not a second step), so the program above passes model.parameters()."""
    torch_program, torch_model, mg_program, mg_model, _ = _twin_models(POINTER_GENERATOR, VOCAB, imports=IMPORTS)

    def ports_params(model: Any) -> list:
        return (list(model.encoder.parameters()) + list(model.decoder.parameters())
                + list(model.reduce_state.parameters()))

    with pytest.warns(UserWarning, match="duplicate parameters"):
        torch_program["optim"].Adagrad(ports_params(torch_model), lr=0.15, initial_accumulator_value=0.1)
    duplicate = r"Adagrad: parameter decoder\.embedding\.weight appears in more than one group or twice"
    with pytest.raises(ValueError, match=duplicate):
        mg_program["optim"].Adagrad(ports_params(mg_model), lr=0.15, initial_accumulator_value=0.1)
