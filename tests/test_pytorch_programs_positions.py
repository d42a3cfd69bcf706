"""Position encodings and memory in transformers, small, run unchanged on minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program: it keeps the original's PyTorch calls
and habits in the same roles, with our own names, structure and comments, a tiny model, a few steps and
generated data (the helpers and the rule come from tests/test_pytorch_programs.py):

* ``ROPE_LM`` follows the rotary embeddings of Meta's llama ``model.py`` (``precompute_freqs_cis`` by
  ``torch.polar(torch.ones_like(freqs), freqs)`` of ``torch.outer`` angles, ``apply_rotary_emb`` by
  ``torch.view_as_complex`` of ``x.float().reshape(*x.shape[:-1], -1, 2)``, a complex product with the
  ``view``-broadcast table, ``torch.view_as_real(...).flatten(3)`` and ``type_as``), its ``RMSNorm`` by
  ``rsqrt``, SwiGLU feed-forward, grouped-query ``repeat_kv`` by ``[:, :, :, None, :].expand(...).reshape``,
  the ``triu(full(-inf))`` mask widened by ``torch.hstack`` for a cache, and the key/value cache written in
  place at ``start_pos`` under ``torch.inference_mode()``; and the rotate-half form of Hugging Face's
  ``LlamaRotaryEmbedding`` (``inv_freq`` and the ``cos_cached``/``sin_cached`` tables as non-persistent
  buffers from ``einsum("i,j->ij")`` and ``cat((freqs, freqs))``, re-registered when a longer sequence comes,
  ``rotate_half`` by ``cat((-x2, x1))``, the tables read at ``position_ids``), with the ``permute`` of the
  query/key weights that HF's conversion script uses to map one layout onto the other. Both train a tiny
  causal language model with AdamW, then decode greedily through the cache;
* ``BIASED_ENCODER`` puts attention biases in a small T5-style encoder classifier: ALiBi
  (ofirpress/attention_with_linear_biases:
  ``get_slopes`` with the closest power of two for a head count that is not one, ``torch.Tensor(list)``
  slopes as a buffer) or T5's relative position buckets (Hugging Face's ``T5Attention._relative_position_bucket``
  with ``log``, ``to(torch.long)``, ``torch.min``/``full_like``, ``torch.where``; ``compute_bias`` through an
  ``Embedding`` and ``permute([2, 0, 1])``, the first layer's bias shared by the later ones), the padding mask
  as ``(1.0 - mask) * torch.finfo(dtype).min``, ``scores += position_bias``, ``T5LayerNorm``; Adam;
* ``TRANSFORMER_XL`` follows kimiyoung/transformer-xl's ``mem_transformer.py``: ``PositionalEmbedding`` by
  ``torch.ger`` of a reversed float ``arange``, ``RelPartialLearnableMultiHeadAttn`` with the ``r_w_bias`` /
  ``r_r_bias`` terms, ``einsum`` over a tuple of operands in the ``ibnd,jbnd->ijbn`` layout, the ``_rel_shift``
  trick (here by ``F.pad`` of a zero column, ``view`` and a ``[1:]`` slice), ``mul_`` of the scores,
  ``masked_fill`` under a ``triu(new_ones(...), diagonal=1 + mlen).bool()`` mask, empty ``torch.empty(0)``
  memories concatenated with ``(T, B, D)`` hidden states, memories updated under ``torch.no_grad()`` with
  ``detach()``, ``LMOrderedIterator``-style segments, Adam with ``clip_grad_norm_`` and a cosine schedule;
  at evaluation, segment-by-segment recurrence must give the logits of one pass over the whole sequence;
* ``ABSOLUTE_POSITIONS`` follows the sine/cosine ``PositionalEncoding`` of the PyTorch transformer tutorial
  (a registered ``pe`` buffer from ``torch.exp(torch.arange(0, d, 2) * (-math.log(10000.0) / d))``, strided
  writes) and Hugging Face's ``BertEmbeddings`` (learned positions in an ``nn.Embedding``, ``position_ids``
  and ``token_type_ids`` buffers registered with ``persistent=False`` and ``expand``-ed to the batch): the
  state_dict keys, ``named_buffers``, ``double()`` (integer buffers keep their dtype), strict and non-strict
  ``load_state_dict`` of a checkpoint that still has ``position_ids``, and a few AdamW steps.

Ours on purpose (DESIGN §3, README "Coming from PyTorch"): an int64 tensor mixed with a float32 tensor or a
Python float follows NumPy 2's promotion (float64). Where the public programs multiply an int64 ``arange`` by a
float32 tensor (the tutorial's ``position * div_term``, ALiBi's ``slopes * arange``), the programs here name the
float dtype of that ``arange`` (``dtype=torch.float32``), which leaves torch's numbers unchanged. The tutorial's
``torch.arange(0, d, 2) * (-math.log(10000.0) / d)`` is kept as written: it is float64 here, and the strided
writes into the float32 ``pe`` buffer bring the table back to float32 (equal to torch's to 1e-6).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
from tests.test_pytorch_programs import MINIGRAD_IMPORTS, TORCH_IMPORTS, _twin_models

ROPE_LM = '''
def rope_table(head_dim, max_len, theta=10000.0):
    """e^{i t w_k} for positions t < max_len and w_k = theta^(-2k / head_dim): (max_len, head_dim / 2), complex64."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2)[: (head_dim // 2)].float() / head_dim))
    t = torch.arange(max_len, device=inv_freq.device, dtype=torch.float32)
    angles = torch.outer(t, inv_freq)
    return torch.polar(torch.ones_like(angles), angles)


def as_broadcast(table, x):
    """table (T, D/2) viewed as (1, T, 1, D/2) against x (B, T, H, D/2)."""
    assert table.shape == (x.shape[1], x.shape[-1])
    shape = [size if axis == 1 or axis == x.ndim - 1 else 1 for axis, size in enumerate(x.shape)]
    return table.view(*shape)


def rotate_pairs(xq, xk, table):
    """q, k (B, T, H, D): each neighbour pair (x[2k], x[2k+1]) turned as one complex number by e^{i t w_k}."""
    q_complex = torch.view_as_complex(xq.float().reshape(*xq.shape[:-1], -1, 2))
    k_complex = torch.view_as_complex(xk.float().reshape(*xk.shape[:-1], -1, 2))
    table = as_broadcast(table, q_complex)
    q_out = torch.view_as_real(q_complex * table).flatten(3)
    k_out = torch.view_as_real(k_complex * table).flatten(3)
    return q_out.type_as(xq), k_out.type_as(xk)


class RotaryCache(nn.Module):
    """cos and sin of t * w_k, (cached_len, D), each frequency twice: the half-split layout's tables."""

    def __init__(self, dim, max_position_embeddings=8, base=10000):
        super().__init__()
        inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self._set_cos_sin_cache(max_position_embeddings, self.inv_freq.device, torch.get_default_dtype())

    def _set_cos_sin_cache(self, seq_len, device, dtype):
        self.max_seq_len_cached = seq_len
        t = torch.arange(self.max_seq_len_cached, device=device, dtype=self.inv_freq.dtype)
        freqs = torch.einsum("i,j->ij", t, self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos_cached", emb.cos().to(dtype), persistent=False)
        self.register_buffer("sin_cached", emb.sin().to(dtype), persistent=False)

    def forward(self, x, seq_len=None):
        if seq_len > self.max_seq_len_cached:   # a longer sequence than cached: rebuild the tables
            self._set_cos_sin_cache(seq_len, x.device, x.dtype)
        return self.cos_cached[:seq_len].to(dtype=x.dtype), self.sin_cached[:seq_len].to(dtype=x.dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rotate_halves(q, k, cos, sin, position_ids, unsqueeze_dim=1):
    """q, k (B, H, T, D); cos, sin (cached_len, D) read at position_ids (B, T): feature k turns with k + D/2."""
    cos = cos[position_ids].unsqueeze(unsqueeze_dim)
    sin = sin[position_ids].unsqueeze(unsqueeze_dim)
    return (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def _norm(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)

    def forward(self, x):
        return self._norm(x.float()).type_as(x) * self.weight


def repeat_kv(x, n_rep):
    """(B, T, KV, D) -> (B, T, KV * n_rep, D): each key/value head serves n_rep query heads."""
    batch, length, kv_heads, head_dim = x.shape
    if n_rep == 1:
        return x
    return (x[:, :, :, None, :].expand(batch, length, kv_heads, n_rep, head_dim)
            .reshape(batch, length, kv_heads * n_rep, head_dim))


class Attention(nn.Module):
    def __init__(self, dim, n_heads, n_kv_heads, style, max_batch, max_len):
        super().__init__()
        self.n_heads, self.n_kv_heads, self.style = n_heads, n_kv_heads, style
        self.n_rep = n_heads // n_kv_heads
        self.head_dim = dim // n_heads
        self.wq = nn.Linear(dim, n_heads * self.head_dim, bias=False)
        self.wk = nn.Linear(dim, n_kv_heads * self.head_dim, bias=False)
        self.wv = nn.Linear(dim, n_kv_heads * self.head_dim, bias=False)
        self.wo = nn.Linear(n_heads * self.head_dim, dim, bias=False)
        if style == "half":
            self.rotary_emb = RotaryCache(self.head_dim, max_position_embeddings=max_len // 2)
        # the inference cache: plain attributes, not buffers, written in place at start_pos
        self.cache_k = torch.zeros((max_batch, max_len, n_kv_heads, self.head_dim))
        self.cache_v = torch.zeros((max_batch, max_len, n_kv_heads, self.head_dim))

    def forward(self, x, start_pos, table, mask, use_cache=False):
        bsz, seqlen, _ = x.shape
        xq = self.wq(x).view(bsz, seqlen, self.n_heads, self.head_dim)
        xk = self.wk(x).view(bsz, seqlen, self.n_kv_heads, self.head_dim)
        xv = self.wv(x).view(bsz, seqlen, self.n_kv_heads, self.head_dim)
        if self.style == "complex":
            xq, xk = rotate_pairs(xq, xk, table)
        else:
            position_ids = torch.arange(start_pos, start_pos + seqlen, dtype=torch.long, device=x.device)
            position_ids = position_ids.unsqueeze(0).expand(bsz, -1)
            cos, sin = self.rotary_emb(xv, seq_len=start_pos + seqlen)
            q, k = rotate_halves(xq.transpose(1, 2), xk.transpose(1, 2), cos, sin, position_ids)
            xq, xk = q.transpose(1, 2), k.transpose(1, 2)
        if use_cache:
            self.cache_k = self.cache_k.to(xq)
            self.cache_v = self.cache_v.to(xq)
            self.cache_k[:bsz, start_pos: start_pos + seqlen] = xk
            self.cache_v[:bsz, start_pos: start_pos + seqlen] = xv
            keys = self.cache_k[:bsz, : start_pos + seqlen]
            values = self.cache_v[:bsz, : start_pos + seqlen]
        else:
            keys, values = xk, xv
        keys = repeat_kv(keys, self.n_rep).transpose(1, 2)          # (B, H, S, D)
        values = repeat_kv(values, self.n_rep).transpose(1, 2)
        xq = xq.transpose(1, 2)
        scores = torch.matmul(xq, keys.transpose(2, 3)) / math.sqrt(self.head_dim)
        if mask is not None:
            scores = scores + mask
        scores = F.softmax(scores.float(), dim=-1).type_as(xq)
        output = torch.matmul(scores, values)
        return self.wo(output.transpose(1, 2).contiguous().view(bsz, seqlen, -1))


class FeedForward(nn.Module):
    def __init__(self, dim, hidden_dim):
        super().__init__()
        self.w1 = nn.Linear(dim, hidden_dim, bias=False)
        self.w2 = nn.Linear(hidden_dim, dim, bias=False)
        self.w3 = nn.Linear(dim, hidden_dim, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self, dim, n_heads, n_kv_heads, style, max_batch, max_len):
        super().__init__()
        self.attention = Attention(dim, n_heads, n_kv_heads, style, max_batch, max_len)
        self.feed_forward = FeedForward(dim, 2 * dim)
        self.attention_norm = RMSNorm(dim)
        self.ffn_norm = RMSNorm(dim)

    def forward(self, x, start_pos, table, mask, use_cache):
        h = x + self.attention(self.attention_norm(x), start_pos, table, mask, use_cache)
        return h + self.feed_forward(self.ffn_norm(h))


class RotaryLM(nn.Module):
    """Token ids (B, T) -> logits (B, T, V), float32; style "complex" (llama) or "half" (HF)."""

    def __init__(self, vocab, style, dim=16, n_layers=2, n_heads=4, n_kv_heads=2, max_batch=3, max_len=12):
        super().__init__()
        self.n_heads, self.n_kv_heads = n_heads, n_kv_heads
        self.tok_embeddings = nn.Embedding(vocab, dim)
        self.layers = nn.ModuleList([Block(dim, n_heads, n_kv_heads, style, max_batch, max_len)
                                     for _ in range(n_layers)])
        self.norm = RMSNorm(dim)
        self.output = nn.Linear(dim, vocab, bias=False)
        self.freqs_cis = rope_table(dim // n_heads, max_len * 2)

    def forward(self, tokens, start_pos=0, use_cache=False):
        _bsz, seqlen = tokens.shape
        h = self.tok_embeddings(tokens)
        self.freqs_cis = self.freqs_cis.to(h.device)
        table = self.freqs_cis[start_pos: start_pos + seqlen]
        mask = None
        if seqlen > 1:
            mask = torch.full((seqlen, seqlen), float("-inf"), device=tokens.device)
            mask = torch.triu(mask, diagonal=1)
            mask = torch.hstack([torch.zeros((seqlen, start_pos), device=tokens.device), mask]).type_as(h)
        for layer in self.layers:
            h = layer(h, start_pos, table, mask, use_cache)
        return self.output(self.norm(h)).float()


def make_model(vocab, style):
    return RotaryLM(vocab, style)


def permute(w, n_heads):
    """A q/k weight (H * D, dim) from the neighbour-pair layout to the half-split one, per head."""
    dim1, dim2 = w.shape
    return w.view(n_heads, dim1 // n_heads // 2, 2, dim2).transpose(1, 2).reshape(dim1, dim2)


def as_half_style(model, vocab):
    """The same network with the rotate-half rotary embedding: q/k weights permuted, all else copied."""
    other = make_model(vocab, "half")
    state = model.state_dict()
    for name in list(state):
        if name.endswith("wq.weight"):
            state[name] = permute(state[name], model.n_heads)
        elif name.endswith("wk.weight"):
            state[name] = permute(state[name], model.n_kv_heads)
    other.load_state_dict(state)
    return other


def train(model, tokens, steps, lr=0.01):
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.1)
    tokens = torch.from_numpy(tokens)
    losses, grads = [], []
    for _ in range(steps):
        logits = model(tokens[:, :-1])
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), tokens[:, 1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grads.append({name: p.grad.numpy().copy() for name, p in model.named_parameters()})
        optimizer.step()
        losses.append(loss.item())
    return losses, grads


@torch.inference_mode()
def generate(model, prompt, new_tokens):
    """Greedy decoding through the cache (the prompt at once, then one token a call), and the logits of one
    uncached pass over the result at the same positions: (tokens, cached logits, uncached logits)."""
    tokens = torch.from_numpy(prompt)
    step_logits = [model(tokens, start_pos=0, use_cache=True)[:, -1]]
    for _ in range(new_tokens):
        next_token = torch.argmax(step_logits[-1], dim=-1)
        tokens = torch.cat([tokens, next_token[:, None]], dim=1)
        step_logits.append(model(next_token[:, None], start_pos=tokens.shape[1] - 1, use_cache=True)[:, -1])
    full = model(tokens)[:, prompt.shape[1] - 1:]
    return tokens.numpy(), torch.stack(step_logits, dim=1).numpy(), full.numpy()
'''


BIASED_ENCODER = '''
def get_slopes(n):
    """ALiBi's slope per head: 2^(-8/n) to the powers 1..n for n a power of two; otherwise those of the closest
    smaller power of two, then every other slope of twice that many."""
    def power_of_two_slopes(n):
        start = 2 ** (-2 ** -(math.log2(n) - 3))
        return [start * start ** i for i in range(n)]

    if math.log2(n).is_integer():
        return power_of_two_slopes(n)
    closest = 2 ** math.floor(math.log2(n))
    return power_of_two_slopes(closest) + get_slopes(2 * closest)[0::2][: n - closest]


def relative_position_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
    """Key minus query offsets (Q, K), int64 -> bucket ids in [0, num_buckets): exact buckets for small
    distances, logarithmic ones up to max_distance, everything further in the last; the sign gets half the
    buckets when bidirectional."""
    relative_buckets = 0
    if bidirectional:
        num_buckets //= 2
        relative_buckets += (relative_position > 0).to(torch.long) * num_buckets
        relative_position = torch.abs(relative_position)
    else:
        relative_position = -torch.min(relative_position, torch.zeros_like(relative_position))
    max_exact = num_buckets // 2
    is_small = relative_position < max_exact
    if_large = max_exact + (
        torch.log(relative_position.float() / max_exact)
        / math.log(max_distance / max_exact)
        * (num_buckets - max_exact)
    ).to(torch.long)
    if_large = torch.min(if_large, torch.full_like(if_large, num_buckets - 1))
    relative_buckets += torch.where(is_small, relative_position, if_large)
    return relative_buckets


class T5LayerNorm(nn.Module):
    def __init__(self, hidden_size, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        variance = hidden_states.to(torch.float32).pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        if self.weight.dtype in [torch.float16, torch.bfloat16]:
            hidden_states = hidden_states.to(self.weight.dtype)
        return self.weight * hidden_states


class BiasedSelfAttention(nn.Module):
    """x (B, T, D) -> (B, T, D) and the (B or 1, H, T, T) additive bias it used (mask included)."""

    def __init__(self, d_model, n_heads, kind, has_bias, num_buckets=8, max_distance=16):
        super().__init__()
        self.n_heads, self.kind, self.has_bias = n_heads, kind, has_bias
        self.d_head = d_model // n_heads
        self.num_buckets, self.max_distance = num_buckets, max_distance
        self.q = nn.Linear(d_model, d_model, bias=False)
        self.k = nn.Linear(d_model, d_model, bias=False)
        self.v = nn.Linear(d_model, d_model, bias=False)
        self.o = nn.Linear(d_model, d_model, bias=False)
        if kind == "t5" and has_bias:
            self.relative_attention_bias = nn.Embedding(num_buckets, n_heads)
        if kind == "alibi":
            self.register_buffer("slopes", torch.Tensor(get_slopes(n_heads)), persistent=False)

    def compute_bias(self, query_length, key_length, device=None):
        if self.kind == "alibi":   # symmetric in an encoder: -slope * |i - j|
            context = torch.arange(query_length, device=device, dtype=self.slopes.dtype)[:, None]
            memory = torch.arange(key_length, device=device, dtype=self.slopes.dtype)[None, :]
            distance = (memory - context).abs().unsqueeze(0).expand(self.n_heads, -1, -1)
            return (-self.slopes.unsqueeze(1).unsqueeze(1) * distance).unsqueeze(0)
        context = torch.arange(query_length, dtype=torch.long, device=device)[:, None]
        memory = torch.arange(key_length, dtype=torch.long, device=device)[None, :]
        buckets = relative_position_bucket(memory - context, bidirectional=True, num_buckets=self.num_buckets,
                                           max_distance=self.max_distance)
        values = self.relative_attention_bias(buckets)          # (Q, K, H)
        return values.permute([2, 0, 1]).unsqueeze(0)          # (1, H, Q, K)

    def forward(self, hidden_states, mask=None, position_bias=None):
        batch_size, seq_length = hidden_states.shape[:2]

        def shape(states):
            return states.view(batch_size, -1, self.n_heads, self.d_head).transpose(1, 2)

        def unshape(states):
            return states.transpose(1, 2).contiguous().view(batch_size, -1, self.n_heads * self.d_head)

        query, key, value = shape(self.q(hidden_states)), shape(self.k(hidden_states)), shape(self.v(hidden_states))
        scores = torch.matmul(query, key.transpose(3, 2))
        if position_bias is None:
            if self.kind == "t5" and not self.has_bias:
                position_bias = torch.zeros((1, self.n_heads, seq_length, seq_length), device=scores.device,
                                            dtype=scores.dtype)
            else:
                position_bias = self.compute_bias(seq_length, seq_length, device=scores.device)
            if mask is not None:
                position_bias = position_bias + mask
        scores += position_bias
        weights = F.softmax(scores.float(), dim=-1).type_as(scores)
        return self.o(unshape(torch.matmul(weights, value))), position_bias


class EncoderLayer(nn.Module):
    def __init__(self, d_model, n_heads, kind, has_bias, d_ff):
        super().__init__()
        self.attn_norm = T5LayerNorm(d_model)
        self.SelfAttention = BiasedSelfAttention(d_model, n_heads, kind, has_bias)
        self.ff_norm = T5LayerNorm(d_model)
        self.wi = nn.Linear(d_model, d_ff, bias=False)
        self.wo = nn.Linear(d_ff, d_model, bias=False)

    def forward(self, h, mask, position_bias):
        attended, position_bias = self.SelfAttention(self.attn_norm(h), mask, position_bias)
        h = h + attended
        return h + self.wo(F.relu(self.wi(self.ff_norm(h)))), position_bias


class BiasedEncoder(nn.Module):
    """Token ids (B, T) with a 0/1 padding mask (B, T) -> class logits (B, C)."""

    def __init__(self, vocab, n_classes, kind, d_model=12, n_heads=6, n_layers=2, d_ff=24):
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, d_model)
        self.block = nn.ModuleList([EncoderLayer(d_model, n_heads, kind, i == 0, d_ff) for i in range(n_layers)])
        self.final_layer_norm = T5LayerNorm(d_model)
        self.classifier = nn.Linear(d_model, n_classes)

    def forward(self, input_ids, attention_mask):
        h = self.embed_tokens(input_ids)
        extended = attention_mask[:, None, None, :].to(dtype=h.dtype)
        extended = (1.0 - extended) * torch.finfo(h.dtype).min
        position_bias = None
        for layer in self.block:
            h, position_bias = layer(h, extended, position_bias)
        h = self.final_layer_norm(h)
        keep = attention_mask.unsqueeze(-1).type_as(h)
        return self.classifier((h * keep).sum(1) / keep.sum(1).clamp(min=1.0))


def make_model(vocab, n_classes, kind):
    return BiasedEncoder(vocab, n_classes, kind)


def bucket_tables(length):
    offsets = torch.arange(length)[None, :] - torch.arange(length)[:, None]
    return (relative_position_bucket(offsets, True, 8, 16).numpy(),
            relative_position_bucket(offsets, False, 8, 16).numpy(),
            relative_position_bucket(offsets * 7, True, 32, 128).numpy())


def train(model, ids, mask, labels, steps, lr=0.02):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    ids, mask, labels = torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(labels)
    losses, grads = [], []
    for _ in range(steps):
        loss = F.cross_entropy(model(ids, mask), labels)
        optimizer.zero_grad()
        loss.backward()
        grads.append({name: p.grad.numpy().copy() for name, p in model.named_parameters()})
        optimizer.step()
        losses.append(loss.item())
    first = model.block[0].SelfAttention
    return losses, grads, first.compute_bias(5, 5).detach().numpy()
'''


TRANSFORMER_XL = '''
class PositionalEmbedding(nn.Module):
    """Relative distances (R,), float -> sine and cosine codes (R, 1, D)."""

    def __init__(self, demb):
        super().__init__()
        self.demb = demb
        inv_freq = 1 / (10000 ** (torch.arange(0.0, demb, 2.0) / demb))
        self.register_buffer("inv_freq", inv_freq)

    def forward(self, pos_seq, bsz=None):
        sinusoid_inp = torch.ger(pos_seq, self.inv_freq)
        pos_emb = torch.cat([sinusoid_inp.sin(), sinusoid_inp.cos()], dim=-1)
        if bsz is not None:
            return pos_emb[:, None, :].expand(-1, bsz, -1)
        return pos_emb[:, None, :]


class PositionwiseFF(nn.Module):
    def __init__(self, d_model, d_inner, dropout=0.0):
        super().__init__()
        self.CoreNet = nn.Sequential(nn.Linear(d_model, d_inner), nn.ReLU(inplace=True), nn.Dropout(dropout),
                                     nn.Linear(d_inner, d_model), nn.Dropout(dropout))
        self.layer_norm = nn.LayerNorm(d_model)

    def forward(self, inp):
        return self.layer_norm(inp + self.CoreNet(inp))


class RelPartialLearnableMultiHeadAttn(nn.Module):
    def __init__(self, n_head, d_model, d_head):
        super().__init__()
        self.n_head, self.d_head = n_head, d_head
        self.qkv_net = nn.Linear(d_model, 3 * n_head * d_head, bias=False)
        self.r_net = nn.Linear(d_model, n_head * d_head, bias=False)
        self.o_net = nn.Linear(n_head * d_head, d_model, bias=False)
        self.layer_norm = nn.LayerNorm(d_model)
        self.scale = 1 / (d_head ** 0.5)

    @staticmethod
    def _rel_shift(x):
        """x (Q, R, B, H), column j for distance R - 1 - j -> x[i, j] for distance i + (R - Q) - j: shifted
        row by row through a zero column in front and a view of one more row."""
        x_padded = F.pad(x, (0, 0, 0, 0, 1, 0))
        x_padded = x_padded.view(x.size(1) + 1, x.size(0), *x.size()[2:])
        return x_padded[1:].view_as(x)

    def forward(self, w, r, r_w_bias, r_r_bias, attn_mask=None, mems=None):
        qlen, rlen, bsz = w.size(0), r.size(0), w.size(1)
        if mems is not None:
            w_heads = self.qkv_net(torch.cat([mems, w], 0))
        else:
            w_heads = self.qkv_net(w)
        r_head_k = self.r_net(r)
        w_head_q, w_head_k, w_head_v = torch.chunk(w_heads, 3, dim=-1)
        w_head_q = w_head_q[-qlen:]
        klen = w_head_k.size(0)
        w_head_q = w_head_q.view(qlen, bsz, self.n_head, self.d_head)
        w_head_k = w_head_k.view(klen, bsz, self.n_head, self.d_head)
        w_head_v = w_head_v.view(klen, bsz, self.n_head, self.d_head)
        r_head_k = r_head_k.view(rlen, self.n_head, self.d_head)
        AC = torch.einsum("ibnd,jbnd->ijbn", (w_head_q + r_w_bias, w_head_k))        # content terms
        BD = self._rel_shift(torch.einsum("ibnd,jnd->ijbn", (w_head_q + r_r_bias, r_head_k)))   # position terms
        attn_score = AC + BD
        attn_score.mul_(self.scale)
        if attn_mask is not None and attn_mask.any().item():
            attn_score = attn_score.float().masked_fill(attn_mask[:, :, :, None], -float("inf")).type_as(attn_score)
        attn_prob = F.softmax(attn_score, dim=1)
        attn_vec = torch.einsum("ijbn,jbnd->ibnd", (attn_prob, w_head_v))
        attn_vec = attn_vec.contiguous().view(attn_vec.size(0), attn_vec.size(1), self.n_head * self.d_head)
        return self.layer_norm(w + self.o_net(attn_vec))


class DecoderLayer(nn.Module):
    def __init__(self, n_head, d_model, d_head, d_inner):
        super().__init__()
        self.dec_attn = RelPartialLearnableMultiHeadAttn(n_head, d_model, d_head)
        self.pos_ff = PositionwiseFF(d_model, d_inner)

    def forward(self, dec_inp, r, r_w_bias, r_r_bias, dec_attn_mask=None, mems=None):
        return self.pos_ff(self.dec_attn(dec_inp, r, r_w_bias, r_r_bias, attn_mask=dec_attn_mask, mems=mems))


class MemTransformerLM(nn.Module):
    """Segments (T, B) of ids, with the previous segments' hidden states as memory, -> per-token losses (T, B)."""

    def __init__(self, n_token, n_layer=2, n_head=2, d_model=12, d_head=6, d_inner=24, mem_len=6, clamp_len=-1):
        super().__init__()
        self.n_token, self.n_layer, self.mem_len, self.clamp_len = n_token, n_layer, mem_len, clamp_len
        self.word_emb = nn.Embedding(n_token, d_model)
        self.drop = nn.Dropout(0.0)
        self.layers = nn.ModuleList([DecoderLayer(n_head, d_model, d_head, d_inner) for _ in range(n_layer)])
        self.pos_emb = PositionalEmbedding(d_model)
        self.r_w_bias = nn.Parameter(torch.Tensor(n_head, d_head))
        self.r_r_bias = nn.Parameter(torch.Tensor(n_head, d_head))
        self.out_layer = nn.Linear(d_model, n_token)
        nn.init.normal_(self.r_w_bias, 0.0, 0.02)
        nn.init.normal_(self.r_r_bias, 0.0, 0.02)

    def init_mems(self):
        if self.mem_len <= 0:
            return None
        param = next(self.parameters())
        return [torch.empty(0, dtype=param.dtype, device=param.device) for _ in range(self.n_layer + 1)]

    def _update_mems(self, hids, mems, mlen, qlen):
        if mems is None:
            return None
        assert len(hids) == len(mems), "len(hids) != len(mems)"
        with torch.no_grad():
            new_mems = []
            end_idx = mlen + max(0, qlen)
            beg_idx = max(0, end_idx - self.mem_len)
            for i in range(len(hids)):
                cat = torch.cat([mems[i], hids[i]], dim=0)
                new_mems.append(cat[beg_idx:end_idx].detach())
        return new_mems

    def _forward(self, dec_inp, mems=None):
        qlen, bsz = dec_inp.size()
        word_emb = self.word_emb(dec_inp)
        mlen = mems[0].size(0) if mems is not None else 0
        klen = mlen + qlen
        dec_attn_mask = torch.triu(word_emb.new_ones(qlen, klen), diagonal=1 + mlen).bool()[:, :, None]
        pos_seq = torch.arange(klen - 1, -1, -1.0, device=word_emb.device, dtype=word_emb.dtype)
        if self.clamp_len > 0:
            pos_seq.clamp_(max=self.clamp_len)
        pos_emb = self.drop(self.pos_emb(pos_seq))
        core_out = self.drop(word_emb)
        hids = [core_out]
        for i, layer in enumerate(self.layers):
            mems_i = None if mems is None else mems[i]
            core_out = layer(core_out, pos_emb, self.r_w_bias, self.r_r_bias, dec_attn_mask=dec_attn_mask,
                             mems=mems_i)
            hids.append(core_out)
        core_out = self.drop(core_out)
        return core_out, self._update_mems(hids, mems, mlen, qlen)

    def forward(self, data, target, *mems):
        if not mems:
            mems = self.init_mems()
        tgt_len = target.size(0)
        hidden, new_mems = self._forward(data, mems=mems)
        logits = self.out_layer(hidden[-tgt_len:])
        loss = F.cross_entropy(logits.view(-1, self.n_token), target.reshape(-1), reduction="none").view(tgt_len, -1)
        if new_mems is None:
            return [loss]
        return [loss] + new_mems


class LMOrderedIterator:
    """One id stream as bsz columns, read in consecutive (bptt, bsz) segments with their next-token targets."""

    def __init__(self, data, bsz, bptt):
        self.bsz, self.bptt = bsz, bptt
        n_step = data.size(0) // bsz
        self.data = data.narrow(0, 0, n_step * bsz).view(bsz, -1).t().contiguous()

    def get_batch(self, i, bptt=None):
        seq_len = min(bptt or self.bptt, self.data.size(0) - 1 - i)
        return self.data[i:i + seq_len], self.data[i + 1:i + 1 + seq_len], seq_len

    def __iter__(self):
        for i in range(0, self.data.size(0) - 1, self.bptt):
            yield self.get_batch(i)


def make_model(n_token):
    return MemTransformerLM(n_token)


def train(model, stream, epochs, lr=0.01, bsz=2, tgt_len=4):
    iterator = LMOrderedIterator(torch.from_numpy(stream), bsz, tgt_len)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    total = epochs * len(range(0, iterator.data.size(0) - 1, tgt_len))
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, total, eta_min=0.0)
    model.train()
    losses, mem_lengths, grads = [], [], []
    for _ in range(epochs):
        mems = tuple()
        for data, target, seq_len in iterator:
            model.zero_grad()
            ret = model(data, target, *mems)
            loss, mems = ret[0], ret[1:]
            loss = loss.float().mean().type_as(loss)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
            mem_lengths.append(mems[0].size(0))
            grads.append({name: p.grad.numpy().copy() for name, p in model.named_parameters()})
    return losses, mem_lengths, grads


def segments_against_one_pass(model, stream, tgt_len=3):
    """Eval: the hidden states of the segments read one after another with memories long enough to hold the
    whole past, and those of one pass over the whole stream, (T, 1, D) each."""
    model.eval()
    model.mem_len = len(stream)
    data = torch.from_numpy(stream)[:, None]
    with torch.no_grad():
        whole, _ = model._forward(data, mems=model.init_mems())
        mems, parts = model.init_mems(), []
        for start in range(0, len(stream), tgt_len):
            hidden, mems = model._forward(data[start:start + tgt_len], mems=mems)
            parts.append(hidden)
    return whole.numpy(), torch.cat(parts, 0).numpy(), [m.size(0) for m in mems]
'''


ABSOLUTE_POSITIONS = '''
class PositionalEncoding(nn.Module):
    """x (T, B, D) plus sines (even features) and cosines (odd ones) of the position, a fixed buffer."""

    def __init__(self, d_model, dropout=0.0, max_len=32):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, 1, d_model)
        pe[:, 0, 0::2] = torch.sin(position * div_term)
        pe[:, 0, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe)

    def forward(self, x):
        return self.dropout(x + self.pe[:x.size(0)])


class Embeddings(nn.Module):
    """Words, token types and learned absolute positions, summed and normalised: ids (B, T) -> (B, T, D)."""

    def __init__(self, vocab, hidden, max_position_embeddings=16, type_vocab_size=2):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, hidden, padding_idx=0)
        self.position_embeddings = nn.Embedding(max_position_embeddings, hidden)
        self.token_type_embeddings = nn.Embedding(type_vocab_size, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=1e-12)
        self.dropout = nn.Dropout(0.0)
        self.register_buffer("position_ids", torch.arange(max_position_embeddings).expand((1, -1)), persistent=False)
        self.register_buffer("token_type_ids", torch.zeros(self.position_ids.size(), dtype=torch.long),
                             persistent=False)

    def forward(self, input_ids, token_type_ids=None, position_ids=None, past_key_values_length=0):
        input_shape = input_ids.size()
        seq_length = input_shape[1]
        if position_ids is None:
            position_ids = self.position_ids[:, past_key_values_length: seq_length + past_key_values_length]
        if token_type_ids is None:
            if hasattr(self, "token_type_ids"):
                token_type_ids = self.token_type_ids[:, :seq_length].expand(input_shape[0], seq_length)
            else:
                token_type_ids = torch.zeros(input_shape, dtype=torch.long, device=self.position_ids.device)
        embeddings = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        embeddings += self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(embeddings))


class Tagger(nn.Module):
    """ids (B, T) -> tag logits (B, T, C): learned positions, then the fixed sine code, one encoder layer."""

    def __init__(self, vocab, n_tags, hidden=8):
        super().__init__()
        self.hidden = hidden
        self.embeddings = Embeddings(vocab, hidden)
        self.pos_encoder = PositionalEncoding(hidden)
        self.encoder = nn.TransformerEncoderLayer(hidden, 2, dim_feedforward=16, dropout=0.0)
        self.head = nn.Linear(hidden, n_tags)

    def forward(self, input_ids, token_type_ids=None):
        x = self.embeddings(input_ids, token_type_ids) * math.sqrt(self.hidden)
        x = self.pos_encoder(x.transpose(0, 1))                       # (T, B, D)
        return self.head(self.encoder(x).transpose(0, 1))


def make_model(vocab, n_tags):
    return Tagger(vocab, n_tags)


def describe(model):
    """What the module tree says about its buffers and its checkpoint."""
    state = model.state_dict()
    buffers = dict(model.named_buffers())
    old_checkpoint = dict(state)
    old_checkpoint["embeddings.position_ids"] = model.embeddings.position_ids.clone()
    result = model.load_state_dict(old_checkpoint, strict=False)
    try:
        model.load_state_dict(old_checkpoint)
        strict_error = None
    except RuntimeError as error:
        strict_error = "embeddings.position_ids" in str(error)   # torch's wording and ours differ (README)
    doubled = make_model(5, 3).double()
    return {
        "state_keys": list(state),
        "buffers": {name: (tuple(b.shape), str(b.dtype).split(".")[-1]) for name, b in buffers.items()},
        "position_ids_stride": model.embeddings.position_ids.stride()[1:],   # a size-1 dim's stride is free
        "missing": list(result.missing_keys),
        "unexpected": list(result.unexpected_keys),
        "strict_error": strict_error,
        "doubled": {name: str(b.dtype).split(".")[-1] for name, b in doubled.named_buffers()},
        "pe": model.pos_encoder.pe.numpy().copy(),
    }


def train(model, ids, types, tags, steps, lr=0.01):
    optimizer = optim.AdamW(model.parameters(), lr=lr)
    ids, types, tags = torch.from_numpy(ids), torch.from_numpy(types), torch.from_numpy(tags)
    losses, grads = [], []
    for step in range(steps):
        logits = model(ids, types if step % 2 else None)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), tags.reshape(-1), ignore_index=-100)
        optimizer.zero_grad()
        loss.backward()
        grads.append({name: p.grad.numpy().copy() for name, p in model.named_parameters()})
        optimizer.step()
        losses.append(loss.item())
    return losses, grads
'''

PROGRAMS = (ROPE_LM, BIASED_ENCODER, TRANSFORMER_XL, ABSOLUTE_POSITIONS)


def _assert_same_state(torch_model: Any, mg_model: Any, rtol: float = 1e-4, atol: float = 1e-6,
                       noisy: dict | None = None) -> None:
    """The same state dicts (names in order, dtypes, values). ``noisy``: name -> (index, atol) of entries whose
    true gradient is 0 or nearly (float32 cancellation), so Adam's normalised steps follow rounding noise there
    and only agree to a fraction of a step."""
    ours = {k: v.numpy() for k, v in mg_model.state_dict().items()}
    theirs = {k: v.detach().numpy() for k, v in torch_model.state_dict().items()}
    assert list(ours) == list(theirs)
    for name in ours:
        assert ours[name].dtype == theirs[name].dtype, name
        mine, expected = ours[name].copy(), theirs[name].copy()
        if noisy and name in noisy:
            index, noise_atol = noisy[name]
            np.testing.assert_allclose(mine[index], expected[index], atol=noise_atol, err_msg=name)
            mine[index] = expected[index] = 0.0
        np.testing.assert_allclose(mine, expected, rtol=rtol, atol=atol, err_msg=name)


def _assert_same_grads(grads: list, expected: list, rtol: float = 1e-4, atol: float = 1e-6) -> None:
    assert len(grads) == len(expected)
    for step, (ours, theirs) in enumerate(zip(grads, expected)):
        assert list(ours) == list(theirs)
        for name in ours:
            assert ours[name].dtype == theirs[name].dtype, name
            np.testing.assert_allclose(ours[name], theirs[name], rtol=rtol, atol=atol, err_msg=f"{name} step {step}")


def test_the_programs_differ_only_in_their_imports() -> None:
    assert TORCH_IMPORTS.count("\n") == MINIGRAD_IMPORTS.count("\n")   # _twin_models' default imports
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


def _tokens(vocab: int, rows: int, length: int, seed: int) -> np.ndarray:
    """A learnable stream per row: a random start, then steps of a row-dependent stride (mod vocab)."""
    rng = np.random.default_rng(seed)
    starts, strides = rng.integers(0, vocab, (rows, 1)), rng.integers(1, 3, (rows, 1))
    return ((starts + strides * np.arange(length)[None, :]) % vocab).astype(np.int64)


# ----------------------------------------------------------------------------- 1. rotary embeddings


@pytest.mark.parametrize("style", ["complex", "half"])
def test_rotary_language_model_trains_and_decodes_through_the_cache(torch: Any, style: str) -> None:
    vocab = 11
    tokens = _tokens(vocab, 3, 8, seed=0)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(ROPE_LM, vocab, style)
    assert mg_model.freqs_cis.dtype == np.complex64 and mg_model.freqs_cis.shape == (24, 2)
    np.testing.assert_allclose(mg_model.freqs_cis.numpy(), torch_model.freqs_cis.numpy(), rtol=1e-6, atol=1e-7)
    assert list(mg_model.state_dict()) == list(torch_model.state_dict())   # no cache, table or rotary buffer
    expected = torch_program["train"](torch_model, tokens, 3)
    losses, grads = mg_program["train"](mg_model, tokens, 3)
    np.testing.assert_allclose(losses, expected[0], rtol=1e-5)
    _assert_same_grads(grads, expected[1])
    _assert_same_state(torch_model, mg_model)
    assert not np.array_equal(mg_model.output.weight.numpy(), initial["output.weight"].numpy())
    prompt = tokens[:2, :3]
    expected = torch_program["generate"](torch_model, prompt, 4)
    out, cached, full = mg_program["generate"](mg_model, prompt, 4)
    np.testing.assert_array_equal(out, expected[0])
    np.testing.assert_allclose(cached, full, rtol=1e-4, atol=1e-5)   # the cache gives the uncached logits
    np.testing.assert_allclose(cached, expected[1], rtol=1e-4, atol=1e-5)
    if style == "half":   # the cache of cos/sin grew from 6 to the 7 positions decoded
        assert mg_model.layers[0].attention.rotary_emb.max_seq_len_cached == 7
        assert mg_model.layers[0].attention.rotary_emb.cos_cached.shape == (7, 4)


def test_the_two_rotary_layouts_are_one_network_after_the_weight_permutation(torch: Any) -> None:
    vocab = 11
    tokens = _tokens(vocab, 2, 6, seed=1)
    results = []
    torch_program, torch_model, mg_program, mg_model, _ = _twin_models(ROPE_LM, vocab, "complex")
    for program, model in ((torch_program, torch_model), (mg_program, mg_model)):
        lib = program["torch"]
        half = program["as_half_style"](model, vocab)
        with lib.no_grad():
            ids = lib.from_numpy(tokens)
            results.append((model(ids).numpy(), half(ids).numpy()))
    np.testing.assert_allclose(results[0][0], results[0][1], rtol=1e-4, atol=1e-5)   # torch: the program is right
    np.testing.assert_allclose(results[1][0], results[1][1], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- 2. ALiBi and T5 buckets


def test_alibi_slopes_and_t5_buckets(torch: Any) -> None:
    torch_program, _, mg_program, _, _ = _twin_models(BIASED_ENCODER, 7, 3, "t5")
    for heads in (8, 6, 12):
        assert mg_program["get_slopes"](heads) == torch_program["get_slopes"](heads)
    ours, theirs = mg_program["bucket_tables"](12), torch_program["bucket_tables"](12)
    for mine, expected in zip(ours, theirs):
        assert mine.dtype == expected.dtype == np.int64
        np.testing.assert_array_equal(mine, expected)
    assert ours[0].max() == 7 and ours[1].max() == 6 and ours[2].max() == 30   # the log buckets are reached


@pytest.mark.parametrize("kind", ["alibi", "t5"])
def test_encoder_with_alibi_or_t5_relative_attention_bias(torch: Any, kind: str) -> None:
    vocab, classes = 9, 3
    ids = _tokens(vocab, 4, 10, seed=2)
    mask = np.ones_like(ids)
    mask[1, 7:], mask[3, 5:] = 0, 0
    ids[mask == 0] = 0
    labels = (ids[:, 0] % classes).astype(np.int64)
    torch_program, torch_model, mg_program, mg_model, _ = _twin_models(BIASED_ENCODER, vocab, classes, kind)
    if kind == "alibi":
        assert "slopes" not in mg_model.block[0].SelfAttention.state_dict()
        assert mg_model.block[0].SelfAttention.slopes.dtype == np.float32
    expected = torch_program["train"](torch_model, ids, mask, labels, 3)
    losses, grads, bias = mg_program["train"](mg_model, ids, mask, labels, 3)
    np.testing.assert_allclose(losses, expected[0], rtol=1e-5)
    _assert_same_grads(grads, expected[1])
    assert bias.dtype == expected[2].dtype == np.float32 and bias.shape == (1, 6, 5, 5)
    np.testing.assert_allclose(bias, expected[2], rtol=1e-5, atol=1e-7)
    _assert_same_state(torch_model, mg_model)


# ----------------------------------------------------------------------------- 3. Transformer-XL


def test_transformer_xl_segment_recurrence_with_relative_positions(torch: Any) -> None:
    vocab = 8
    stream = _tokens(vocab, 1, 26, seed=3)[0]
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(TRANSFORMER_XL, vocab)
    expected = torch_program["train"](torch_model, stream, 2)
    losses, mem_lengths, grads = mg_program["train"](mg_model, stream, 2)
    np.testing.assert_allclose(losses, expected[0], rtol=1e-5)
    assert mem_lengths == expected[1] == [4, 6, 6, 4, 6, 6]
    _assert_same_grads(grads, expected[2])
    # r_net's last columns read the slowest cosines, ~1 at every distance: a near-constant row of scores
    noisy = {f"layers.{i}.dec_attn.r_net.weight": (np.s_[:, 9:], 2e-3) for i in range(2)}
    _assert_same_state(torch_model, mg_model, noisy=noisy)
    assert not np.array_equal(mg_model.r_r_bias.numpy(), initial["r_r_bias"].numpy())
    whole, parts, lengths = mg_program["segments_against_one_pass"](mg_model, stream[:9])
    expected = torch_program["segments_against_one_pass"](torch_model, stream[:9])
    np.testing.assert_allclose(parts, whole, rtol=1e-4, atol=1e-5)   # the memories and _rel_shift line up
    np.testing.assert_allclose(whole, expected[0], rtol=1e-4, atol=1e-5)
    assert lengths == expected[2] == [9, 9, 9]


def test_cat_leaves_out_1d_empty_tensors_as_torch(torch: Any) -> None:
    """torch.cat's legacy rule, which Transformer-XL's ``torch.empty(0)`` memories rely on: a (0,) tensor joins
    tensors of any dims, still promotes the dtype and gets an empty gradient; numpy's ``axis=`` refuses it."""
    for lib in (torch, mg):
        empty = lib.empty(0, dtype=lib.float64, requires_grad=True)
        x = lib.ones(2, 3, requires_grad=True)
        joined = lib.cat([empty, x, lib.empty(0)], dim=1)
        assert tuple(joined.shape) == (2, 3) and joined.dtype == lib.float64
        (joined * joined).sum().backward()
        assert tuple(empty.grad.shape) == (0,) and empty.grad.dtype == lib.float64
        np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 2.0, np.float32))
        assert tuple(lib.cat([lib.empty(0), lib.empty(0)]).shape) == (0,)
        assert tuple(lib.cat([lib.ones(2, 3), lib.empty(0, dtype=lib.int64)], -1).shape) == (2, 3)
        with pytest.raises(IndexError):
            lib.cat([lib.empty(0), x], dim=2)
    with pytest.raises(ValueError, match="dimension"):
        mg.cat([mg.empty(0), mg.ones(2, 3)], axis=0)


# ----------------------------------------------------------------------------- 4. absolute positions


def test_sinusoidal_buffer_and_learned_positions_with_non_persistent_buffers(torch: Any) -> None:
    vocab, tags = 5, 3
    ids = _tokens(vocab, 3, 6, seed=4)
    types = (np.arange(6)[None, :] >= 3).repeat(3, axis=0).astype(np.int64)
    labels = ((ids + types) % tags).astype(np.int64)
    labels[0, -1] = -100
    torch_program, torch_model, mg_program, mg_model, _ = _twin_models(ABSOLUTE_POSITIONS, vocab, tags)
    ours, theirs = mg_program["describe"](mg_model), torch_program["describe"](torch_model)
    np.testing.assert_allclose(ours.pop("pe"), theirs.pop("pe"), rtol=1e-6, atol=1e-6)
    assert ours == theirs
    assert "embeddings.position_ids" not in ours["state_keys"] and "pos_encoder.pe" in ours["state_keys"]
    assert ours["doubled"]["embeddings.position_ids"] == "int64" and ours["doubled"]["pos_encoder.pe"] == "float64"
    expected = torch_program["train"](torch_model, ids, types, labels, 4)
    losses, grads = mg_program["train"](mg_model, ids, types, labels, 4)
    np.testing.assert_allclose(losses, expected[0], rtol=1e-5)
    _assert_same_grads(grads, expected[1])
    # the key bias adds one constant to a row of scores: its true gradient is 0
    _assert_same_state(torch_model, mg_model, noisy={"encoder.self_attn.in_proj_bias": (np.s_[8:16], 0.05)})
