"""Three attention programs, small, run unchanged on minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program: it keeps the original's PyTorch calls
and habits in the same roles, with our own names, structure and comments, a tiny model, a few steps and
generated data (the helpers and the rule come from tests/test_pytorch_programs.py):

* ``VISION_TRANSFORMER`` follows the ViT of the common from-scratch tutorials (lucidrains' vit-pytorch, timm's
  ``VisionTransformer`` as "ViT from scratch" posts rewrite it): patches by ``nn.Conv2d(C, D, kernel_size=P,
  stride=P)`` then ``.flatten(2).transpose(1, 2)``, or by ``x.unfold(2, P, P).unfold(3, P, P)``, or by a
  reshape + permute (all three checked to agree); a zero ``cls_token`` ``.expand(B, -1, -1)`` and
  ``torch.cat((cls, x), dim=1)``, a learned ``pos_embed`` from ``torch.randn(1, N + 1, D) * .02``,
  ``nn.init.trunc_normal_(std=.02)`` through ``self.apply``; pre-norm blocks with ``nn.LayerNorm``,
  ``nn.GELU(approximate='tanh')``, and attention of three kinds: ``nn.MultiheadAttention(batch_first=True)``
  called with ``need_weights=True, average_attn_weights=False``, timm's hand-written one (``qkv.reshape(B, N,
  3, H, D // H).permute(2, 0, 3, 1, 4)``, ``unbind(0)``, ``(q @ k.transpose(-2, -1)) * self.scale``,
  ``attn.softmax(dim=-1)``), and ``F.scaled_dot_product_attention``; ``AdamW(betas=(0.9, 0.999))`` with weight
  decay on the matrices only, a warmup + cosine ``LambdaLR``, ``clip_grad_norm_``; the attention maps of the
  trained model are compared too;
* ``BERT_MLM`` is a BERT-style masked language model as the from-scratch BERT tutorials write it: token +
  position + segment embeddings, ``nn.TransformerEncoder(nn.TransformerEncoderLayer(..., dropout=0.0,
  activation='gelu', batch_first=True, norm_first=True), num_layers, enable_nested_tensor=False)`` under
  ``src_key_padding_mask=input_ids == pad_id``, Hugging Face's 15 % / 80-10-10 masking (``torch.rand(shape) <
  0.15``, ``torch.bernoulli(torch.full(shape, 0.8)).bool()``, ``torch.randint(vocab, shape)``), labels at
  ``-100`` elsewhere, ``F.cross_entropy(logits.view(-1, V), labels.view(-1), ignore_index=-100)``, the
  decoder's weight tied to the token embedding, accuracy over the masked positions by boolean indexing;
* ``TRANSLATION_TRANSFORMER`` mirrors the PyTorch tutorial "Language Translation with nn.Transformer"
  (https://pytorch.org/tutorials/beginner/translation_transformer.html) on generated sentence pairs:
  ``nn.Transformer(batch_first=False, dropout=0)``, ``nn.Transformer.generate_square_subsequent_mask`` and the
  tutorial's own mask from ``triu``, source/target/memory key padding masks, a sinusoidal
  ``PositionalEncoding`` (``torch.exp(torch.arange(0, d, 2) * (-math.log(10000.0) / d))``,
  ``register_buffer('pe', pe)``), ``CrossEntropyLoss(ignore_index=PAD)``, Adam with ``betas=(0.9, 0.98),
  eps=1e-9``, the tutorial's greedy decoder (``torch.ones(1, 1).fill_(start).type(torch.long)``, ``torch.max(prob,
  dim=1)``, ``torch.cat([ys, torch.ones(1, 1).type_as(src).fill_(next_word)], dim=0)``) and a small beam search
  with ``log_softmax``/``topk``/``gather``.

One habit is written differently: the tutorial's ``type_as(src.data)`` is ``type_as(src)``, since minigrad's
``.data`` is the NumPy array by design (README, "Coming from PyTorch", "Deliberately different").

Random draws: the initial weights are copied torch -> minigrad, so the initialisers' draws do not matter; the
masking draws of the MLM (``torch.rand``, ``torch.bernoulli``, ``torch.randint``) read, in both libraries alike
and only during the run, one NumPy stream each (``_shared_masking_draws``), so every number is compared.
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

VISION_TRANSFORMER = '''
class PatchEmbedding(nn.Module):
    """Images (B, C, H, W) to patch vectors (B, N, D), N = (H / P) * (W / P), by a strided convolution.

    ``mode`` picks how the patches are cut: "conv" (the convolution itself), "unfold" (Tensor.unfold twice, then
    the convolution's kernel as a matrix) or "reshape" (reshape + permute, the same matrix)."""

    def __init__(self, in_channels, dim, patch_size, mode="conv"):
        super().__init__()
        self.patch_size, self.mode = patch_size, mode
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x):
        if self.mode == "conv":
            return self.proj(x).flatten(2).transpose(1, 2)
        B, C, H, W = x.shape
        P = self.patch_size
        if self.mode == "unfold":
            patches = x.unfold(2, P, P).unfold(3, P, P)              # (B, C, H/P, W/P, P, P)
            patches = patches.permute(0, 2, 3, 1, 4, 5)
        else:
            patches = x.reshape(B, C, H // P, P, W // P, P).permute(0, 2, 4, 1, 3, 5)
        patches = patches.reshape(B, (H // P) * (W // P), C * P * P)
        kernel = self.proj.weight.reshape(self.proj.out_channels, -1)
        return patches @ kernel.t() + self.proj.bias


class HandAttention(nn.Module):
    """timm's attention: one qkv projection split into heads; scaled dot products by hand or by
    F.scaled_dot_product_attention. x (B, N, D) -> (B, N, D) and the weights (B, heads, N, N) (None if fused)."""

    def __init__(self, dim, num_heads, fused=False):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.fused = fused

    def forward(self, x):
        B, N, D = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, D // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        if self.fused:
            x, attn = F.scaled_dot_product_attention(q, k, v, dropout_p=0.0), None
        else:
            attn = (q @ k.transpose(-2, -1)) * self.scale
            attn = attn.softmax(dim=-1)
            x = attn @ v
        return self.proj(x.transpose(1, 2).reshape(B, N, D)), attn


class TorchAttention(nn.Module):
    """nn.MultiheadAttention as self-attention, with the weights of every head."""

    def __init__(self, dim, num_heads):
        super().__init__()
        self.mha = nn.MultiheadAttention(dim, num_heads, batch_first=True, dropout=0)

    def forward(self, x):
        return self.mha(x, x, x, need_weights=True, average_attn_weights=False)


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, dim, num_heads, mlp_ratio, attention):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        if attention == "mha":
            self.attn = TorchAttention(dim, num_heads)
        else:
            self.attn = HandAttention(dim, num_heads, fused=attention == "sdpa")
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(approximate='tanh'), nn.Dropout(0.0),
                                 nn.Linear(hidden, dim))

    def forward(self, x):
        y, attn = self.attn(self.norm1(x))
        x = x + y
        x = x + self.mlp(self.norm2(x))
        return x, attn


class ViT(nn.Module):
    """Images (B, C, S, S) to class logits (B, classes) and each block's attention weights."""

    def __init__(self, image_size=8, patch_size=4, in_channels=3, num_classes=3, dim=16, depth=2, heads=2,
                 mlp_ratio=2.0, attention="manual", patching="conv"):
        super().__init__()
        num_patches = (image_size // patch_size) ** 2
        self.patch_embed = PatchEmbedding(in_channels, dim, patch_size, patching)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, num_patches + 1, dim) * .02)
        self.blocks = nn.ModuleList([Block(dim, heads, mlp_ratio, attention) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)
        nn.init.trunc_normal_(self.pos_embed, std=.02)
        nn.init.trunc_normal_(self.cls_token, std=.02)
        self.apply(self._init_weights)

    def _init_weights(self, m):
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=.02)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.LayerNorm):
            nn.init.constant_(m.bias, 0)
            nn.init.constant_(m.weight, 1.0)

    def no_weight_decay(self):
        return {"pos_embed", "cls_token"}

    def forward(self, x):
        B = x.shape[0]
        x = self.patch_embed(x)
        cls_tokens = self.cls_token.expand(B, -1, -1)
        x = torch.cat((cls_tokens, x), dim=1)
        x = x + self.pos_embed
        maps = []
        for block in self.blocks:
            x, attn = block(x)
            maps.append(attn)
        x = self.norm(x)
        return self.head(x[:, 0]), maps


def make_model(attention, patching):
    return ViT(attention=attention, patching=patching)


def make_optimizer(model, lr, weight_decay):
    """AdamW, decaying only the matrices (not biases, norms, cls_token or pos_embed)."""
    skip = model.no_weight_decay()
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if param.ndim < 2 or name in skip:
            no_decay.append(param)
        else:
            decay.append(param)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return optim.AdamW(groups, lr=lr, betas=(0.9, 0.999))


def warmup_cosine(optimizer, warmup_steps, total_steps):
    def lr_lambda(step):
        if step < warmup_steps:
            return float(step + 1) / float(max(1, warmup_steps))
        progress = float(step - warmup_steps) / float(max(1, total_steps - warmup_steps))
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    return optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)


def train(model, images, labels, steps, batch_size=4, lr=3e-3):
    optimizer = make_optimizer(model, lr, weight_decay=0.05)
    scheduler = warmup_cosine(optimizer, warmup_steps=2, total_steps=steps)
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    losses, norms, lrs = [], [], []
    model.train()
    for step in range(steps):
        first = (step * batch_size) % len(images)
        x = torch.from_numpy(images[first:first + batch_size])
        y = torch.from_numpy(labels[first:first + batch_size])
        logits, _ = model(x)
        loss = criterion(logits, y)
        optimizer.zero_grad()
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)))
        optimizer.step()
        lrs.append(scheduler.get_last_lr()[0])
        scheduler.step()
        losses.append(loss.item())
    return losses, norms, lrs


@torch.no_grad()
def attention_maps(model, images):
    """The predicted classes, and each block's attention of the class token over the patches (B, heads, N)."""
    model.eval()
    logits, maps = model(torch.from_numpy(images))
    return logits.argmax(dim=-1).tolist(), [m[:, :, 0, 1:].numpy() for m in maps if m is not None]
'''


BERT_MLM = '''
PAD, CLS, SEP, MASK = 0, 1, 2, 3
FIRST_WORD = 4


class BertMLM(nn.Module):
    """Token ids (B, T) and segment ids (B, T) to vocabulary logits (B, T, V): summed embeddings, a pre-norm
    encoder that ignores the padding, a transform head and a decoder tied to the token embedding."""

    def __init__(self, vocab_size, d_model=16, nhead=2, dim_feedforward=32, num_layers=2, max_len=16):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab_size, d_model, padding_idx=PAD)
        self.pos_emb = nn.Embedding(max_len, d_model)
        self.seg_emb = nn.Embedding(2, d_model)
        self.emb_norm = nn.LayerNorm(d_model)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout=0.0, activation='gelu',
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.transform = nn.Sequential(nn.Linear(d_model, d_model), nn.GELU(), nn.LayerNorm(d_model))
        self.decoder = nn.Linear(d_model, vocab_size)
        self.decoder.weight = self.tok_emb.weight   # weight tying

    def forward(self, input_ids, segment_ids):
        B, T = input_ids.shape
        positions = torch.arange(T, device=input_ids.device).unsqueeze(0).expand(B, T)
        x = self.tok_emb(input_ids) + self.pos_emb(positions) + self.seg_emb(segment_ids)
        x = self.emb_norm(x)
        x = self.encoder(x, src_key_padding_mask=input_ids == PAD)
        return self.decoder(self.transform(x))


def mask_tokens(input_ids, vocab_size, mlm_probability=0.15):
    """Hugging Face's rule: pick 15 % of the real words; 80 % of those become MASK, 10 % a random word, 10 %
    stay. Returns the corrupted ids and the labels (-100 where nothing is to be predicted)."""
    labels = input_ids.clone()
    inputs = input_ids.clone()
    special = input_ids < FIRST_WORD
    masked = (torch.rand(input_ids.shape) < mlm_probability) & ~special
    labels[~masked] = -100
    replaced = torch.bernoulli(torch.full(labels.shape, 0.8)).bool() & masked
    inputs[replaced] = MASK
    randomized = torch.bernoulli(torch.full(labels.shape, 0.5)).bool() & masked & ~replaced
    random_words = torch.randint(vocab_size, labels.shape, dtype=torch.long)
    inputs[randomized] = random_words[randomized]
    return inputs, labels


def make_model(vocab_size):
    return BertMLM(vocab_size)


def masked_accuracy(logits, labels):
    masked = labels != -100
    predictions = logits.argmax(dim=-1)
    return (predictions[masked] == labels[masked]).float().mean().item(), int(masked.sum())


def train(model, batches, vocab_size, steps, lr=5e-3):
    optimizer = optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    losses, accuracies, counts = [], [], []
    model.train()
    for step in range(steps):
        ids, segments = batches[step % len(batches)]
        input_ids, segment_ids = torch.from_numpy(ids), torch.from_numpy(segments)
        inputs, labels = mask_tokens(input_ids, vocab_size)
        logits = model(inputs, segment_ids)
        loss = F.cross_entropy(logits.view(-1, vocab_size), labels.view(-1), ignore_index=-100)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        accuracy, count = masked_accuracy(logits.detach(), labels)
        losses.append(loss.item())
        accuracies.append(accuracy)
        counts.append(count)
    return losses, accuracies, counts


def evaluate(model, ids, segments, vocab_size):
    """Every real word masked in turn is too slow here: mask the even positions of the words at once."""
    model.eval()
    input_ids, segment_ids = torch.from_numpy(ids), torch.from_numpy(segments)
    labels = torch.full(input_ids.shape, -100, dtype=torch.long)
    chosen = (input_ids >= FIRST_WORD) & (torch.arange(input_ids.size(1)) % 2 == 0)
    labels[chosen] = input_ids[chosen]
    inputs = input_ids.masked_fill(chosen, MASK)
    with torch.no_grad():
        logits = model(inputs, segment_ids)
        loss = F.cross_entropy(logits.view(-1, vocab_size), labels.view(-1), ignore_index=-100)
    return loss.item(), masked_accuracy(logits, labels)[0], logits[chosen].numpy()
'''


TRANSLATION_TRANSFORMER = '''
PAD_IDX, BOS_IDX, EOS_IDX = 0, 1, 2


class PositionalEncoding(nn.Module):
    """Adds sin/cos positions to (T, B, D) embeddings."""

    def __init__(self, d_model, dropout=0.0, max_len=64):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, 1, d_model)
        pe[:, 0, 0::2] = torch.sin(position * div_term)
        pe[:, 0, 1::2] = torch.cos(position * div_term)
        self.register_buffer('pe', pe)

    def forward(self, x):
        return self.dropout(x + self.pe[:x.size(0)])


class TokenEmbedding(nn.Module):
    def __init__(self, vocab_size, emb_size):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_size)
        self.emb_size = emb_size

    def forward(self, tokens):
        return self.embedding(tokens.long()) * math.sqrt(self.emb_size)


class Seq2SeqTransformer(nn.Module):
    """Source ids (S, B) and shifted target ids (T, B) to target logits (T, B, V)."""

    def __init__(self, num_encoder_layers, num_decoder_layers, emb_size, nhead, src_vocab_size, tgt_vocab_size,
                 dim_feedforward=32, dropout=0.0):
        super().__init__()
        self.transformer = nn.Transformer(d_model=emb_size, nhead=nhead, num_encoder_layers=num_encoder_layers,
                                          num_decoder_layers=num_decoder_layers, dim_feedforward=dim_feedforward,
                                          dropout=dropout, batch_first=False)
        self.generator = nn.Linear(emb_size, tgt_vocab_size)
        self.src_tok_emb = TokenEmbedding(src_vocab_size, emb_size)
        self.tgt_tok_emb = TokenEmbedding(tgt_vocab_size, emb_size)
        self.positional_encoding = PositionalEncoding(emb_size, dropout=dropout)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(self, src, trg, src_mask, tgt_mask, src_padding_mask, tgt_padding_mask, memory_key_padding_mask):
        src_emb = self.positional_encoding(self.src_tok_emb(src))
        tgt_emb = self.positional_encoding(self.tgt_tok_emb(trg))
        outs = self.transformer(src_emb, tgt_emb, src_mask, tgt_mask, None,
                                src_padding_mask, tgt_padding_mask, memory_key_padding_mask)
        return self.generator(outs)

    def encode(self, src, src_mask):
        return self.transformer.encoder(self.positional_encoding(self.src_tok_emb(src)), src_mask)

    def decode(self, tgt, memory, tgt_mask):
        return self.transformer.decoder(self.positional_encoding(self.tgt_tok_emb(tgt)), memory, tgt_mask)


def generate_square_subsequent_mask(sz):
    """The tutorial's causal mask: 0 on and below the diagonal, -inf above."""
    mask = (torch.triu(torch.ones((sz, sz))) == 1).transpose(0, 1)
    mask = mask.float().masked_fill(mask == 0, float('-inf')).masked_fill(mask == 1, float(0.0))
    return mask


def create_mask(src, tgt):
    src_seq_len, tgt_seq_len = src.shape[0], tgt.shape[0]
    tgt_mask = nn.Transformer.generate_square_subsequent_mask(tgt_seq_len)
    src_mask = torch.zeros((src_seq_len, src_seq_len)).type(torch.bool)
    src_padding_mask = (src == PAD_IDX).transpose(0, 1)
    tgt_padding_mask = (tgt == PAD_IDX).transpose(0, 1)
    return src_mask, tgt_mask, src_padding_mask, tgt_padding_mask


def make_model(src_vocab, tgt_vocab):
    return Seq2SeqTransformer(2, 2, 16, 2, src_vocab, tgt_vocab)


def train(model, batches, steps):
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=PAD_IDX)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, betas=(0.9, 0.98), eps=1e-9)
    model.train()
    losses = []
    for step in range(steps):
        src, tgt = (torch.from_numpy(a) for a in batches[step % len(batches)])
        tgt_input = tgt[:-1, :]
        src_mask, tgt_mask, src_padding_mask, tgt_padding_mask = create_mask(src, tgt_input)
        logits = model(src, tgt_input, src_mask, tgt_mask, src_padding_mask, tgt_padding_mask, src_padding_mask)
        optimizer.zero_grad()
        tgt_out = tgt[1:, :]
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def greedy_decode(model, src, src_mask, max_len, start_symbol):
    memory = model.encode(src, src_mask)
    ys = torch.ones(1, 1).fill_(start_symbol).type(torch.long)
    for i in range(max_len - 1):
        tgt_mask = generate_square_subsequent_mask(ys.size(0)).type(torch.bool)
        out = model.decode(ys, memory, tgt_mask)
        out = out.transpose(0, 1)
        prob = model.generator(out[:, -1])
        _, next_word = torch.max(prob, dim=1)
        next_word = next_word.item()
        ys = torch.cat([ys, torch.ones(1, 1).type_as(src).fill_(next_word)], dim=0)
        if next_word == EOS_IDX:
            break
    return ys


def beam_search(model, src, max_len, beam_size=3):
    """Keeps the beam_size best prefixes by summed log-probability; a finished prefix only extends by PAD at
    no cost. Returns the best prefix (L,) and its score."""
    memory = model.encode(src, torch.zeros(src.size(0), src.size(0)).type(torch.bool))   # (S, 1, D)
    ys = torch.full((1, 1), BOS_IDX, dtype=torch.long)          # (L, K)
    scores = torch.zeros(1)
    for _ in range(max_len - 1):
        k = ys.size(1)
        mask = nn.Transformer.generate_square_subsequent_mask(ys.size(0))
        out = model.decode(ys, memory.expand(-1, k, -1), mask)
        log_probs = F.log_softmax(model.generator(out[-1]), dim=-1)             # (K, V)
        finished = (ys[-1] == EOS_IDX) | (ys[-1] == PAD_IDX)
        stay = torch.full_like(log_probs, float('-inf'))
        stay[:, PAD_IDX] = 0.0
        log_probs = torch.where(finished.unsqueeze(1), stay, log_probs)
        vocab = log_probs.size(-1)
        total = (scores.unsqueeze(1) + log_probs).view(-1)
        scores, flat = total.topk(min(beam_size, total.numel()))
        origin = torch.div(flat, vocab, rounding_mode='floor')
        words = flat % vocab
        ys = ys.gather(1, origin.unsqueeze(0).expand(ys.size(0), -1))
        ys = torch.cat([ys, words.unsqueeze(0)], dim=0)
        if bool(((words == EOS_IDX) | (words == PAD_IDX)).all()):
            break
    best = scores.argmax()
    return ys[:, best], scores[best].item()


@torch.no_grad()
def translate(model, sources, max_len):
    model.eval()
    greedy, beams = [], []
    for row in sources:
        src = torch.from_numpy(row).view(-1, 1)
        src_mask = torch.zeros(src.size(0), src.size(0)).type(torch.bool)
        greedy.append(greedy_decode(model, src, src_mask, max_len, BOS_IDX).flatten().tolist())
        words, score = beam_search(model, src, max_len)
        beams.append((words.tolist(), score))
    return greedy, beams
'''

PROGRAMS = (VISION_TRANSFORMER, BERT_MLM, TRANSLATION_TRANSFORMER)

# the translation program warns in both libraries, as the tutorial does in torch
pytestmark = [pytest.mark.filterwarnings("ignore:enable_nested_tensor is True"),
              pytest.mark.filterwarnings("ignore:.*mismatched")]


def _twins(source: str, *args: Any) -> tuple:
    """Both namespaces and models, the minigrad model loaded with the torch model's initial weights."""
    return _twin_models(source, *args)


def _shared_masking_draws(monkeypatch: pytest.MonkeyPatch, torch: Any, seed: int) -> None:
    """``torch.rand``, ``torch.bernoulli`` and ``torch.randint`` of both libraries draw, in call order, from NumPy
    streams of the same seed (one set per library), so both runs mask the same tokens."""
    import minigrad as mg  # noqa: PLC0415

    for lib in (torch, mg):
        rand_rng, bernoulli_rng, randint_rng = (np.random.default_rng(seed + k) for k in range(3))

        def rand(*size: Any, lib: Any = lib, rng: np.random.Generator = rand_rng, **kwargs: Any) -> Any:
            shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
            assert not kwargs, kwargs
            return lib.from_numpy(rng.random(shape).astype(np.float32))

        def bernoulli(p: Any, lib: Any = lib, rng: np.random.Generator = bernoulli_rng) -> Any:
            probs = p.numpy()
            return lib.from_numpy((rng.random(probs.shape) < probs).astype(probs.dtype))

        def randint(*args: Any, lib: Any = lib, rng: np.random.Generator = randint_rng, **kwargs: Any) -> Any:
            low, high, size = (0, *args) if len(args) == 2 else args
            assert kwargs.get("dtype") in (None, lib.long), kwargs
            return lib.from_numpy(rng.integers(low, high, tuple(size)).astype(np.int64))

        monkeypatch.setattr(lib, "rand", rand)
        monkeypatch.setattr(lib, "bernoulli", bernoulli)
        monkeypatch.setattr(lib, "randint", randint)


def _assert_same_trained_weights(torch_model: Any, mg_model: Any, initial: dict) -> None:
    """``_assert_same_weights``, with the key third of each packed q/k/v bias left out.

    Softmax ignores a shift of one query's scores, and the key bias shifts them so: its true gradient is 0,
    and its Adam steps follow the sign of rounding noise, different in any two implementations. The query and
    value thirds of the same bias are compared."""
    packed = [name for name in initial if name.endswith(("in_proj_bias", "qkv.bias"))]
    _assert_same_weights(torch_model, mg_model, initial, noise_only=tuple(packed))
    ours, theirs = mg_model.state_dict(), torch_model.state_dict()
    for name in packed:
        third = len(initial[name]) // 3
        keep = np.r_[0:third, 2 * third:3 * third]
        np.testing.assert_allclose(ours[name].numpy()[keep], theirs[name].detach().numpy()[keep], rtol=1e-4,
                                   atol=1e-5, err_msg=name)


def test_the_programs_differ_only_in_their_imports() -> None:
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. vision transformer


def _images(count: int, seed: int) -> tuple:
    """(count, 3, 8, 8) float32 images whose label (0-2) is the brightest channel, and the labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, count)
    images = rng.standard_normal((count, 3, 8, 8)).astype(np.float32) * 0.5
    images[np.arange(count), labels] += 1.0
    return images, labels.astype(np.int64)


@pytest.mark.parametrize(("attention", "patching", "dtype"), [("mha", "conv", "float32"),
                                                            ("manual", "unfold", "float32"),
                                                            ("sdpa", "reshape", "float32"),
                                                            ("mha", "reshape", "float64")])
def test_vision_transformer(torch: Any, attention: str, patching: str, dtype: str) -> None:
    images, labels = _images(16, 0)
    images, tolerance = images.astype(dtype), {"float32": 1e-5, "float64": 1e-10}[dtype]
    torch_program, torch_model, mg_program, mg_model, initial = _twins(VISION_TRANSFORMER, attention, patching)
    if dtype == "float64":
        torch_model.double()
        mg_model.double()
    expected = torch_program["train"](torch_model, images, labels, 6)
    result = mg_program["train"](mg_model, images, labels, 6)
    for name, ours, theirs in zip(("losses", "norms", "lrs"), result, expected):
        np.testing.assert_allclose(ours, theirs, rtol=tolerance, atol=tolerance / 10, err_msg=name)
    assert expected[2][:3] == pytest.approx([1.5e-3, 3e-3, 3e-3])   # warmup, then the cosine
    _assert_same_trained_weights(torch_model, mg_model, initial)
    predicted, maps = mg_program["attention_maps"](mg_model, images[:5])
    torch_predicted, torch_maps = torch_program["attention_maps"](torch_model, images[:5])
    assert predicted == torch_predicted
    assert len(maps) == len(torch_maps) == (0 if attention == "sdpa" else 2)
    for ours, theirs in zip(maps, torch_maps):
        assert ours.shape == theirs.shape == (5, 2, 4)   # every head kept (average_attn_weights=False)
        assert ours.dtype == theirs.dtype == dtype
        np.testing.assert_allclose(ours, theirs, rtol=tolerance, atol=tolerance / 10)


def test_vit_patchings_agree(torch: Any) -> None:
    """The convolution, Tensor.unfold and reshape + permute cut the same patches (minigrad and torch)."""
    images, _ = _images(2, 1)
    for imports in (MINIGRAD_IMPORTS, TORCH_IMPORTS):
        program = _program(VISION_TRANSFORMER, imports)
        embed = program["PatchEmbedding"](3, 5, 4)
        x = program["torch"].from_numpy(images)
        by_conv = embed(x).detach().numpy()
        for mode in ("unfold", "reshape"):
            embed.mode = mode
            np.testing.assert_allclose(embed(x).detach().numpy(), by_conv, rtol=1e-5, atol=1e-6, err_msg=mode)


# ----------------------------------------------------------------------------- 2. BERT masked language model


def _sentence_pairs(rng: np.random.Generator, count: int, vocab_size: int, length: int = 12) -> tuple:
    """[CLS] a [SEP] b [SEP] PAD...: each word mostly follows the one before; segment ids 0 then 1."""
    ids = np.zeros((count, length), dtype=np.int64)
    segments = np.zeros((count, length), dtype=np.int64)
    words = vocab_size - 4
    for row in range(count):
        first, second = int(rng.integers(2, 5)), int(rng.integers(2, 5))
        stream = 4 + (int(rng.integers(words)) + np.cumsum(np.where(rng.random(first + second) < 0.9, 1, 2))) % words
        sentence = [1, *stream[:first], 2, *stream[first:], 2]
        ids[row, :len(sentence)] = sentence
        segments[row, first + 2:len(sentence)] = 1
    return ids, segments


def test_bert_masked_language_model(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    vocab_size, steps = 14, 8
    rng = np.random.default_rng(2)
    batches = [_sentence_pairs(rng, 6, vocab_size) for _ in range(4)]
    torch_program, torch_model, mg_program, mg_model, initial = _twins(BERT_MLM, vocab_size)
    assert mg_model.decoder.weight is mg_model.tok_emb.weight   # still tied after load_state_dict
    _shared_masking_draws(monkeypatch, torch, 5)
    expected = torch_program["train"](torch_model, batches, vocab_size, steps)
    result = mg_program["train"](mg_model, batches, vocab_size, steps)
    np.testing.assert_allclose(result[0], expected[0], rtol=1e-5, atol=1e-6, err_msg="losses")
    assert result[1:] == expected[1:] and min(expected[2]) > 0   # accuracies and how many were masked
    _assert_same_trained_weights(torch_model, mg_model, initial)
    ids, segments = _sentence_pairs(np.random.default_rng(3), 4, vocab_size)
    loss, accuracy, logits = mg_program["evaluate"](mg_model, ids, segments, vocab_size)
    torch_loss, torch_accuracy, torch_logits = torch_program["evaluate"](torch_model, ids, segments, vocab_size)
    assert loss == pytest.approx(torch_loss, rel=1e-5) and accuracy == torch_accuracy
    np.testing.assert_allclose(logits, torch_logits, rtol=1e-5, atol=1e-5)


def test_bert_masking_with_each_engines_own_draws(torch: Any) -> None:
    """mask_tokens on each library's own ``rand``/``bernoulli``/``full``/``randint``: what does not depend on the
    draws (shapes, dtypes, the label rule, the specials never picked, the rough rate) is the same."""
    ids = np.tile(_sentence_pairs(np.random.default_rng(6), 1, 14, length=40)[0], (50, 1))
    for imports in (TORCH_IMPORTS, MINIGRAD_IMPORTS):
        program = _program(BERT_MLM, imports)
        lib = program["torch"]
        lib.manual_seed(0)
        inputs, labels = program["mask_tokens"](lib.from_numpy(ids), 14)
        assert inputs.dtype == labels.dtype == lib.int64 and tuple(inputs.shape) == tuple(labels.shape) == ids.shape
        inputs, labels = inputs.numpy(), labels.numpy()
        picked = labels != -100
        assert (labels[picked] == ids[picked]).all() and (inputs[~picked] == ids[~picked]).all()
        assert (ids[picked] >= 4).all() and 0.08 < picked.sum() / (ids >= 4).sum() < 0.22
        assert 0.65 < (inputs[picked] == 3).mean() < 0.95   # 80 % become MASK


# ----------------------------------------------------------------------------- 3. translation transformer


def _reversal_batches(rng: np.random.Generator, count: int, vocab_size: int, batch_size: int = 4) -> list:
    """(src (S, B), tgt (T, B)) int64 batches, sequence-first: BOS words EOS PAD..., the target the source's
    words reversed and shifted by one."""
    batches = []
    for _ in range(count):
        lengths = rng.integers(2, 6, batch_size)
        src = np.zeros((lengths.max() + 2, batch_size), dtype=np.int64)
        tgt = np.zeros_like(src)
        for column, n in enumerate(lengths):
            words = rng.integers(3, vocab_size, n)
            src[:n + 2, column] = [1, *words, 2]
            tgt[:n + 2, column] = [1, *(3 + (words[::-1] - 2) % (vocab_size - 3)), 2]
        batches.append((src, tgt))
    return batches


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_translation_transformer(torch: Any, dtype: str) -> None:
    vocab_size, tolerance = 10, {"float32": 1e-5, "float64": 1e-10}[dtype]
    steps, rows = (16, 3) if dtype == "float32" else (6, 1)   # float64: a shorter run, to keep the suite fast
    batches = _reversal_batches(np.random.default_rng(4), 3, vocab_size)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(TRANSLATION_TRANSFORMER, vocab_size,
                                                                       vocab_size)
    if dtype == "float64":
        torch_model.double()
        mg_model.double()
    expected = torch_program["train"](torch_model, batches, steps)
    losses = mg_program["train"](mg_model, batches, steps)
    np.testing.assert_allclose(losses, expected, rtol=tolerance, atol=tolerance)
    assert mg_model.positional_encoding.pe.dtype == torch_model.positional_encoding.pe.numpy().dtype
    _assert_same_trained_weights(torch_model, mg_model, initial)
    sources = [batches[0][0][:, column] for column in range(rows)]
    greedy, beams = mg_program["translate"](mg_model, sources, 7)
    torch_greedy, torch_beams = torch_program["translate"](torch_model, sources, 7)
    assert greedy == torch_greedy and all(row[0] == 1 for row in greedy)
    assert [words for words, _ in beams] == [words for words, _ in torch_beams]
    np.testing.assert_allclose([s for _, s in beams], [s for _, s in torch_beams], rtol=tolerance)
    if dtype == "float32":   # the beam keeps a prefix the greedy decoder drops (and so stops sooner)
        assert beams[0][0][:3] == [1, 3, 2] and greedy[0] == [1, 3, 3, 2]


def test_positional_encoding_follows_numpy_promotion() -> None:
    """DESIGN 3: ``torch.arange(0, d, 2) * (-math.log(10000.0) / d)`` (int64 times a Python float) is float64 in
    minigrad, NumPy 2's rule (torch: float32). The tutorial writes the sines into ``torch.zeros(...)``, float32,
    so its buffer is float32 in both; only the rounding of the angles differs (by float32's last bit)."""
    import math  # noqa: PLC0415

    import minigrad as mg  # noqa: PLC0415

    div_term = mg.exp(mg.arange(0, 8, 2) * (-math.log(10000.0) / 8))
    assert div_term.dtype == mg.float64
    pe = _program(TRANSLATION_TRANSFORMER, MINIGRAD_IMPORTS)["PositionalEncoding"](8).pe
    assert pe.dtype == mg.float32 and pe.shape == (64, 1, 8)
    position = np.arange(64.0)[:, None] * np.exp(np.arange(0, 8, 2) * (-math.log(10000.0) / 8))
    np.testing.assert_allclose(pe.numpy()[:, 0, 0::2], np.sin(position), atol=1e-7)
    np.testing.assert_allclose(pe.numpy()[:, 0, 1::2], np.cos(position), atol=1e-7)


# ----------------------------------------------------------------------------- regressions the programs found


@pytest.mark.parametrize(("layer_kw", "warns"), [({}, True), ({"batch_first": True}, False),
                                                  ({"batch_first": True, "norm_first": True}, True),
                                                  ({"batch_first": True, "bias": False}, True),
                                                  ({"batch_first": True, "nhead": 1}, True),
                                                  ({"batch_first": True, "activation": "gelu"}, False)])
def test_encoder_warns_as_torch_when_nested_tensor_cannot_be_used(torch: Any, layer_kw: dict, warns: bool) -> None:
    """torch warns at construction when ``enable_nested_tensor`` (the default) cannot be honoured, naming why
    (the translation program's ``nn.Transformer(batch_first=False)``, a pre-norm BERT encoder); ours did not."""
    import warnings  # noqa: PLC0415

    from minigrad import nn  # noqa: PLC0415

    messages = []
    for lib in (torch.nn, nn):
        kw = {"nhead": 2, **layer_kw}
        layer = lib.TransformerEncoderLayer(8, kw.pop("nhead"), 12, **kw)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            encoder = lib.TransformerEncoder(layer, 1)
            lib.TransformerEncoder(layer, 1, enable_nested_tensor=False)   # never warns
        messages.append(([str(w.message) for w in caught if "nested" in str(w.message)], encoder.use_nested_tensor))
    assert messages[1] == messages[0]
    assert bool(messages[0][0]) == warns
