"""Programs in the style of nanoGPT and makemore, the most-copied modern PyTorch code, run unchanged on minigrad:
only the imports differ.

The program texts are our own rewrites, not copies: each keeps the PyTorch calls, argument forms, module and
state_dict names and habits of the public program it mirrors, in the same roles, with our own names, comments
and docstrings, at a tiny size on generated data (the helpers and the imports-only rule come from
tests/test_pytorch_programs.py):

* ``MODEL_PY`` mirrors model.py of nanoGPT (https://github.com/karpathy/nanoGPT/blob/master/model.py): a
  layer norm with an optional bias through ``F.layer_norm``; causal attention with ``self.flash =
  hasattr(torch.nn.functional, 'scaled_dot_product_attention')`` and, without it, a ``tril`` buffer named
  ``bias`` and ``masked_fill(-inf)``; ``split(n_embd, dim=2)``/``view``/``transpose``/``contiguous``; a GELU
  feed-forward; ``nn.ModuleDict``/``nn.ModuleList`` under nanoGPT's state_dict names; weight tying;
  ``self.apply(self._init_module)`` and the smaller ``c_proj`` init; ``get_num_params``;
  ``cross_entropy(ignore_index=-1)``; the ``x[:, [-1], :]`` inference path; ``configure_optimizers`` with two
  AdamW groups and its ``inspect.signature(torch.optim.AdamW)`` look for ``fused``; ``crop_block_size``;
  ``@torch.no_grad() generate`` with temperature, ``topk`` and ``multinomial``. No ``from_pretrained``
  (it needs ``transformers``).
* ``TRAIN_PY`` mirrors nanoGPT's train.py (https://github.com/karpathy/nanoGPT/blob/master/train.py) without
  DDP: ``data/<dataset>/{train,val}.bin`` read through ``np.memmap``, settings replaced by ``exec`` of a
  ``configurator.py`` (the test writes it, as nanoGPT's config files are), ``torch.cuda.amp.GradScaler``,
  gradient accumulation, ``clip_grad_norm_``, the cosine lr with warmup, an ``estimate_loss``, checkpoints
  through ``torch.save``/``torch.load`` and the ``_orig_mod.`` fix-up loop, ``torch.compile``, and ``wandb``
  logging (a recording stand-in module: it gives the eval losses at full precision).
* ``SAMPLE_PY`` mirrors nanoGPT's sample.py (https://github.com/karpathy/nanoGPT/blob/master/sample.py). The
  dataset's vocabulary is ``meta.json`` read with ``json.load`` where nanoGPT pickles a ``meta.pkl``.
* ``MAKEMORE_MLP`` mirrors the character MLP with batch norm written out by hand from "Building makemore
  Part 3" of Neural Networks: Zero to Hero (https://github.com/karpathy/nn-zero-to-hero, notebook
  lectures/makemore/makemore_part3_bn.ipynb), with fewer steps.

Random draws: the two engines' generators differ. nanoGPT's weights (``torch.nn.init.normal_``), its batches
(``torch.randint``) and samples (``torch.multinomial``), and makemore's ``torch.randn``/``randint``/
``multinomial`` (whose ``generator=g`` the programs still pass) read, in both libraries alike, one NumPy stream
of the same seed (``_shared_streams``), so every number can be compared; dropout masks cannot be shared, so the
dropout runs are checked for what does not depend on them. ``model = torch.compile(model)`` runs with
minigrad's ``mg.compile`` against torch eager (torch's inductor takes half a minute for the tiny model).
The sources are compiled without this file's ``from __future__`` flags (``_module``): a program's dataclass
must see real annotations, as when its author runs it.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import (
    MINIGRAD_IMPORTS,
    TORCH_IMPORTS,
    _assert_same_weights,
    _copy_weights,
    _program,
)

# model.py's imports, then train.py's and sample.py's (which import the model as `from model import GPTConfig, GPT`)
MODEL_IMPORTS = {
    "torch": """\
import math
import inspect
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F
""",
    "minigrad": """\
import math
import inspect
from dataclasses import dataclass

import minigrad as torch
import minigrad.nn as nn
from minigrad.nn import functional as F
""",
}
SCRIPT_IMPORTS = {
    "torch": """\
import os
import time
import math
import json
from contextlib import nullcontext

import numpy as np
import torch

from model import GPTConfig, GPT
""",
    "minigrad": """\
import os
import time
import math
import json
from contextlib import nullcontext

import numpy as np
import minigrad as torch

from model import GPTConfig, GPT
""",
}

MODEL_PY = '''
class OptionalBiasLayerNorm(nn.Module):
    """Layer norm over the last dim, (..., size) -> (..., size), whose bias can be left out."""

    def __init__(self, size, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.bias = nn.Parameter(torch.zeros(size)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)

class CausalAttention(nn.Module):
    """Multi-head self-attention where position t reads positions 0..t only: (B, T, C) -> (B, T, C)."""

    def __init__(self, config):
        super().__init__()
        assert config.n_embd % config.n_head == 0
        self.n_head, self.n_embd, self.dropout = config.n_head, config.n_embd, config.dropout
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)   # q, k and v in one matmul
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        # the fused attention function arrived in PyTorch 2.0; before it, the mask is a buffer
        self.flash = hasattr(torch.nn.functional, 'scaled_dot_product_attention')
        if not self.flash:
            print("WARNING: using slow attention. The fused path needs F.scaled_dot_product_attention")
            n = config.block_size
            self.register_buffer("bias", torch.tril(torch.ones(n, n)).view(1, 1, n, n))

    def _split_heads(self, t, B, T):
        # (B, T, C) -> (B, n_head, T, C // n_head)
        return t.view(B, T, self.n_head, self.n_embd // self.n_head).transpose(1, 2)

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = (self._split_heads(t, B, T) for t in self.c_attn(x).split(self.n_embd, dim=2))
        if self.flash:
            y = torch.nn.functional.scaled_dot_product_attention(
                q, k, v, attn_mask=None, dropout_p=self.dropout if self.training else 0, is_causal=True)
        else:
            scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))   # (B, n_head, T, T)
            scores = scores.masked_fill(self.bias[:, :, :T, :T] == 0, float('-inf'))
            y = self.attn_dropout(F.softmax(scores, dim=-1)) @ v
        y = y.transpose(1, 2).contiguous().view(B, T, C)   # the heads side by side again
        return self.resid_dropout(self.c_proj(y))

class FeedForward(nn.Module):
    """Two Linear layers, 4 * n_embd wide in between, with GELU: (B, T, C) -> (B, T, C)."""

    def __init__(self, config):
        super().__init__()
        width = 4 * config.n_embd
        self.c_fc = nn.Linear(config.n_embd, width, bias=config.bias)
        self.activation = nn.GELU()
        self.c_proj = nn.Linear(width, config.n_embd, bias=config.bias)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.drop(self.c_proj(self.activation(self.c_fc(x))))

class TransformerBlock(nn.Module):
    """Pre-norm residual block: x + attention(norm(x)), then x + feed-forward(norm(x))."""

    def __init__(self, config):
        super().__init__()
        self.ln_1 = OptionalBiasLayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalAttention(config)
        self.ln_2 = OptionalBiasLayerNorm(config.n_embd, bias=config.bias)
        self.mlp = FeedForward(config)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))

@dataclass
class GPTConfig:
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    block_size: int = 1024   # the longest context
    vocab_size: int = 50304   # 50257 GPT-2 tokens, rounded up to a multiple of 64
    dropout: float = 0.0
    bias: bool = True   # biases in every Linear and norm, as in GPT-2

class GPT(nn.Module):
    """Decoder-only transformer whose output head shares the token embedding's matrix.

    idx: (B, T) token ids, T <= block_size; targets: (B, T), -1 where no loss is wanted.
    Returns logits (B, T, vocab_size) and the mean loss, or (B, 1, vocab_size) and None without targets.
    """

    def __init__(self, config):
        super().__init__()
        assert config.vocab_size is not None and config.block_size is not None
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            wpe=nn.Embedding(config.block_size, config.n_embd),
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([TransformerBlock(config) for _ in range(config.n_layer)]),
            ln_f=OptionalBiasLayerNorm(config.n_embd, bias=config.bias),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight   # tied: one Parameter, two modules

        self.apply(self._init_module)
        # each block adds two projections onto the residual stream: start them smaller
        residual_std = 0.02 / math.sqrt(2 * config.n_layer)
        for name, param in self.named_parameters():
            if name.endswith('c_proj.weight'):
                torch.nn.init.normal_(param, mean=0.0, std=residual_std)
        print(f"GPT with {self.get_num_params() / 1e6:.2f}M parameters")

    def _init_module(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            torch.nn.init.zeros_(module.bias)

    def get_num_params(self, non_embedding=True):
        """How many numbers the model holds, by default less the position table (the tied token table stays:
        it is the head's weight too)."""
        total = sum(p.numel() for p in self.parameters())
        return total - self.transformer.wpe.weight.numel() if non_embedding else total

    def forward(self, idx, targets=None):
        _, length = idx.size()
        assert length <= self.config.block_size, f"{length} tokens, but block_size is {self.config.block_size}"
        positions = torch.arange(0, length, dtype=torch.long, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(positions))
        for block in self.transformer.h:
            x = block(x)
        x = self.transformer.ln_f(x)
        if targets is None:
            # sampling needs the last position only; indexing with a list keeps the time dim
            return self.lm_head(x[:, [-1], :]), None
        logits = self.lm_head(x)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss

    def crop_block_size(self, block_size):
        """Shorten the context in place: fewer position rows, smaller causal masks."""
        assert block_size <= self.config.block_size
        self.config.block_size = block_size
        self.transformer.wpe.weight = nn.Parameter(self.transformer.wpe.weight[:block_size])
        for block in self.transformer.h:
            if hasattr(block.attn, 'bias'):
                block.attn.bias = block.attn.bias[:, :, :block_size, :block_size]

    def configure_optimizers(self, weight_decay, learning_rate, betas, device_type):
        """AdamW with two groups: tensors of 2 or more dims (matmul weights, embeddings) decay, the rest not."""
        trainable = {name: p for name, p in self.named_parameters() if p.requires_grad}
        matrices = [p for p in trainable.values() if p.dim() >= 2]
        vectors = [p for p in trainable.values() if p.dim() < 2]
        groups = [
            {'params': matrices, 'weight_decay': weight_decay},
            {'params': vectors, 'weight_decay': 0.0},
        ]
        for label, params in (("with", matrices), ("without", vectors)):
            print(f"{len(params)} tensors {label} weight decay: {sum(p.numel() for p in params):,} numbers")
        # newer AdamW versions take fused=True, which only CUDA tensors can use
        use_fused = 'fused' in inspect.signature(torch.optim.AdamW).parameters and device_type == 'cuda'
        extra_args = dict(fused=True) if use_fused else dict()
        print(f"fused AdamW: {use_fused}")
        return torch.optim.AdamW(groups, lr=learning_rate, betas=betas, **extra_args)

    def estimate_mfu(self, fwdbwd_per_iter, dt):
        """The fraction of an A100's bfloat16 peak (312e12 FLOP/s) that one iteration of dt seconds reached."""
        cfg = self.config
        # about 6 FLOPs per weight and token for forward plus backward, and the attention's own products
        flops_per_token = 6 * self.get_num_params() + 12 * cfg.n_layer * cfg.n_embd * cfg.block_size
        flops_per_second = flops_per_token * cfg.block_size * fwdbwd_per_iter / dt
        return flops_per_second / 312e12

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):
        """Append max_new_tokens sampled tokens to idx (B, T), each from the model's next-token distribution
        given at most block_size tokens before it; returns (B, T + max_new_tokens). Use eval() mode."""
        for _ in range(max_new_tokens):
            window = idx if idx.size(1) <= self.config.block_size else idx[:, -self.config.block_size:]
            logits, _ = self(window)
            logits = logits[:, -1, :] / temperature
            if top_k is not None:
                kth, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                logits[logits < kth[:, [-1]]] = -float('Inf')   # all but the k largest become impossible
            probs = F.softmax(logits, dim=-1)
            idx = torch.cat((idx, torch.multinomial(probs, num_samples=1)), dim=1)
        return idx
'''

TRAIN_PY = '''
# ---- settings (GPT-2 small on OpenWebText); configurator.py, run below, may replace any of them
out_dir = 'out'
init_from = 'scratch'   # or 'resume', from out_dir/ckpt.pt
eval_interval = 2000
eval_iters = 200
log_interval = 1
eval_only = False   # stop after the first evaluation
always_save_checkpoint = True   # save at every evaluation, not only when val loss improves
wandb_log = False
wandb_project = 'owt'
wandb_run_name = 'gpt2'
dataset = 'openwebtext'
batch_size = 12   # per micro-batch
block_size = 1024
gradient_accumulation_steps = 40   # micro-batches per optimizer step
n_layer = 12
n_head = 12
n_embd = 768
dropout = 0.0
bias = False
learning_rate = 6e-4   # the peak, after warmup
min_lr = 6e-5
weight_decay = 1e-1
beta1 = 0.9
beta2 = 0.95
grad_clip = 1.0   # 0.0: no clipping
decay_lr = True
warmup_iters = 2000
lr_decay_iters = 600000
max_iters = 600000
device = 'cuda'
dtype = 'bfloat16' if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else 'float16'
compile = True
setting_names = [k for k, v in globals().items() if not k.startswith('_') and isinstance(v, (int, float, bool, str))]
exec(open('configurator.py').read())
config = {k: globals()[k] for k in setting_names}   # what the run used, for wandb and the checkpoints

ddp = False   # one process: no torch.distributed in this copy
print(f"tokens per iteration will be: {gradient_accumulation_steps * batch_size * block_size:,}")
os.makedirs(out_dir, exist_ok=True)
torch.manual_seed(1337)
torch.backends.cuda.matmul.allow_tf32 = True
torch.backends.cudnn.allow_tf32 = True
device_type = 'cuda' if 'cuda' in device else 'cpu'
ptdtype = {'float32': torch.float32, 'bfloat16': torch.bfloat16, 'float16': torch.float16}[dtype]
ctx = nullcontext() if device_type == 'cpu' else torch.amp.autocast(device_type=device_type, dtype=ptdtype)

data_dir = os.path.join('data', dataset)
token_files = {'train': 'train.bin', 'val': 'val.bin'}

def get_batch(split):
    """batch_size random windows of the split's tokens: inputs x and next tokens y, both (batch_size, block_size)."""
    # a new memmap each call: one kept open grows its resident memory as it is read
    tokens = np.memmap(os.path.join(data_dir, token_files[split]), dtype=np.uint16, mode='r')
    starts = torch.randint(len(tokens) - block_size, (batch_size,))
    x = torch.stack([torch.from_numpy(tokens[i:i + block_size].astype(np.int64)) for i in starts])
    y = torch.stack([torch.from_numpy(tokens[i + 1:i + 1 + block_size].astype(np.int64)) for i in starts])
    if device_type == 'cuda':   # from pinned memory the copies can overlap the GPU's work
        return x.pin_memory().to(device, non_blocking=True), y.pin_memory().to(device, non_blocking=True)
    return x.to(device), y.to(device)

iter_num = 0
best_val_loss = 1e9

meta_path = os.path.join(data_dir, 'meta.json')
meta_vocab_size = None
if os.path.exists(meta_path):
    with open(meta_path) as f:
        meta_vocab_size = json.load(f)['vocab_size']
    print(f"vocab_size {meta_vocab_size} read from {meta_path}")

model_args = dict(n_layer=n_layer, n_head=n_head, n_embd=n_embd, block_size=block_size,
                  bias=bias, vocab_size=None, dropout=dropout)
if init_from == 'scratch':
    print("Initializing a new model from scratch")
    model_args['vocab_size'] = meta_vocab_size if meta_vocab_size is not None else 50304
    model = GPT(GPTConfig(**model_args))
elif init_from == 'resume':
    print(f"Resuming training from {out_dir}")
    checkpoint = torch.load(os.path.join(out_dir, 'ckpt.pt'), map_location=device)
    # the network's shape is the checkpoint's; dropout may differ from the first run
    for k in ['n_layer', 'n_head', 'n_embd', 'block_size', 'bias', 'vocab_size']:
        model_args[k] = checkpoint['model_args'][k]
    model = GPT(GPTConfig(**model_args))
    state_dict = checkpoint['model']
    # state saved through a torch.compile wrapper names every entry '_orig_mod.<name>'
    prefix = '_orig_mod.'
    for k, v in list(state_dict.items()):
        if k.startswith(prefix):
            state_dict[k[len(prefix):]] = state_dict.pop(k)
    model.load_state_dict(state_dict)
    iter_num = checkpoint['iter_num']
    best_val_loss = checkpoint['best_val_loss']
if block_size < model.config.block_size:   # a shorter context than the checkpoint's
    model.crop_block_size(block_size)
    model_args['block_size'] = block_size
model.to(device)

scaler = torch.cuda.amp.GradScaler(enabled=(dtype == 'float16'))   # does nothing unless enabled
optimizer = model.configure_optimizers(weight_decay, learning_rate, (beta1, beta2), device_type)
if init_from == 'resume':
    optimizer.load_state_dict(checkpoint['optimizer'])
checkpoint = None   # drop the loaded copies

if compile:
    print("compiling the model")
    unoptimized_model = model
    model = torch.compile(model)

@torch.no_grad()
def estimate_loss():
    """The mean loss of eval_iters random batches of each split, measured in eval mode."""
    model.eval()
    means = {}
    for split in ['train', 'val']:
        losses = torch.zeros(eval_iters)
        for k in range(eval_iters):
            X, Y = get_batch(split)
            with ctx:
                _, loss = model(X, Y)
            losses[k] = loss.item()
        means[split] = losses.mean()
    model.train()
    return means

def get_lr(it):
    """Linear warmup to learning_rate, then half a cosine down to min_lr at lr_decay_iters, then min_lr."""
    if it < warmup_iters:
        return learning_rate * (it + 1) / (warmup_iters + 1)
    if it > lr_decay_iters:
        return min_lr
    progress = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
    assert 0 <= progress <= 1
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (learning_rate - min_lr)

if wandb_log:
    import wandb
    wandb.init(project=wandb_project, name=wandb_run_name, config=config)

X, Y = get_batch('train')
last_time = time.time()
steps_this_run = 0
raw_model = model.module if ddp else model
mfu_average = -1.0
while True:
    lr = get_lr(iter_num) if decay_lr else learning_rate
    for param_group in optimizer.param_groups:
        param_group['lr'] = lr

    if iter_num % eval_interval == 0:
        losses = estimate_loss()
        print(f"step {iter_num}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}")
        if wandb_log:
            wandb.log({"iter": iter_num, "train/loss": losses['train'], "val/loss": losses['val'],
                       "lr": lr, "mfu": mfu_average * 100})
        if losses['val'] < best_val_loss or always_save_checkpoint:
            best_val_loss = losses['val']
            if iter_num > 0:
                checkpoint = {
                    'model': raw_model.state_dict(),
                    'optimizer': optimizer.state_dict(),
                    'model_args': model_args,
                    'iter_num': iter_num,
                    'best_val_loss': best_val_loss,
                    'config': config,
                }
                print(f"saving checkpoint to {out_dir}")
                torch.save(checkpoint, os.path.join(out_dir, 'ckpt.pt'))
    if iter_num == 0 and eval_only:
        break

    # one optimizer step over several micro-batches: dividing each loss makes the summed gradients a mean
    for _ in range(gradient_accumulation_steps):
        with ctx:
            _, loss = model(X, Y)
            loss = loss / gradient_accumulation_steps
        X, Y = get_batch('train')   # read the next batch while the GPU runs this one
        scaler.scale(loss).backward()
    if grad_clip != 0.0:
        scaler.unscale_(optimizer)   # the norm of the true gradients, not of the scaled ones
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)

    now = time.time()
    dt, last_time = now - last_time, now
    if iter_num % log_interval == 0:
        last_loss = loss.item() * gradient_accumulation_steps   # the last micro-batch's, undivided
        if steps_this_run >= 5:   # the first steps include warm-up and compilation
            mfu = raw_model.estimate_mfu(batch_size * gradient_accumulation_steps, dt)
            mfu_average = mfu if mfu_average == -1.0 else 0.9 * mfu_average + 0.1 * mfu
        print(f"iter {iter_num}: loss {last_loss:.4f}, time {dt * 1000:.2f}ms, mfu {mfu_average * 100:.2f}%")
    iter_num += 1
    steps_this_run += 1
    if iter_num > max_iters:
        break
'''

SAMPLE_PY = '''
# ---- settings; configurator.py, run below, may replace any of them
init_from = 'resume'   # the model in out_dir/ckpt.pt
out_dir = 'out'
start = "\\n"   # the prompt every sample continues
num_samples = 10
max_new_tokens = 500
temperature = 0.8   # under 1 sharpens the next-token distribution, over 1 flattens it
top_k = 200   # draw among the top_k most likely tokens only
seed = 1337
device = 'cuda'
dtype = 'bfloat16' if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else 'float16'
compile = False
exec(open('configurator.py').read())

torch.manual_seed(seed)
torch.cuda.manual_seed(seed)
torch.backends.cuda.matmul.allow_tf32 = True
torch.backends.cudnn.allow_tf32 = True
device_type = 'cuda' if 'cuda' in device else 'cpu'
ptdtype = {'float32': torch.float32, 'bfloat16': torch.bfloat16, 'float16': torch.float16}[dtype]
ctx = nullcontext() if device_type == 'cpu' else torch.amp.autocast(device_type=device_type, dtype=ptdtype)

if init_from == 'resume':
    checkpoint = torch.load(os.path.join(out_dir, 'ckpt.pt'), map_location=device)
    model = GPT(GPTConfig(**checkpoint['model_args']))
    state_dict = checkpoint['model']
    prefix = '_orig_mod.'   # written by a torch.compile wrapper's state_dict
    for k, v in list(state_dict.items()):
        if k.startswith(prefix):
            state_dict[k[len(prefix):]] = state_dict.pop(k)
    model.load_state_dict(state_dict)
model.eval()
model.to(device)
if compile:
    model = torch.compile(model)

# the characters of the dataset the checkpoint was trained on, if its folder has them
meta_path = None
if init_from == 'resume' and 'dataset' in checkpoint.get('config', {}):
    meta_path = os.path.join('data', checkpoint['config']['dataset'], 'meta.json')
if meta_path is not None and os.path.exists(meta_path):
    print(f"Loading meta from {meta_path}")
    with open(meta_path) as f:
        meta = json.load(f)
    stoi, itos = meta['stoi'], meta['itos']

    def encode(text):
        return [stoi[ch] for ch in text]

    def decode(ids):
        return ''.join(itos[i] for i in ids)

x = torch.tensor(encode(start), dtype=torch.long, device=device)[None, ...]   # (1, len(start))
with torch.no_grad():
    with ctx:
        for _ in range(num_samples):
            y = model.generate(x, max_new_tokens, temperature=temperature, top_k=top_k)
            print(decode(y[0].tolist()))
            print('---------------')
'''


MAKEMORE_IMPORTS = {
    "torch": TORCH_IMPORTS + "import random\n",
    "minigrad": MINIGRAD_IMPORTS + "import random\n",
}

MAKEMORE_MLP = '''
names = open('names.txt', 'r').read().splitlines()
letters = sorted(set(''.join(names)))
char_to_id = {ch: i + 1 for i, ch in enumerate(letters)}
char_to_id['.'] = 0   # one token pads the context before a name and marks its end
id_to_char = {i: ch for ch, i in char_to_id.items()}
vocab_size = len(id_to_char)
context_size = 3   # how many previous characters predict the next one

def make_examples(names):
    """Each character of each name (and its end) with the context_size ids before it: X (N, context_size), Y (N,)."""
    contexts, targets = [], []
    for name in names:
        window = [0] * context_size
        for ch in name + '.':
            contexts.append(window)
            targets.append(char_to_id[ch])
            window = window[1:] + [char_to_id[ch]]
    X, Y = torch.tensor(contexts), torch.tensor(targets)
    print(X.shape, Y.shape)
    return X, Y

random.seed(42)
random.shuffle(names)
train_end, val_end = int(0.8 * len(names)), int(0.9 * len(names))
X_train, Y_train = make_examples(names[:train_end])
X_val, Y_val = make_examples(names[train_end:val_end])
X_test, Y_test = make_examples(names[val_end:])

embedding_dim, hidden_size = 10, 200
fan_in = embedding_dim * context_size
g = torch.Generator().manual_seed(2147483647)
table = torch.randn((vocab_size, embedding_dim), generator=g)
# tanh's gain over sqrt(fan_in); no hidden bias, since the batch norm subtracts the mean anyway
W_hidden = torch.randn((fan_in, hidden_size), generator=g) * (5/3) / (fan_in**0.5)
W_out = torch.randn((hidden_size, vocab_size), generator=g) * 0.01   # nearly uniform first predictions
b_out = torch.randn(vocab_size, generator=g) * 0

# batch norm by hand: a learned scale and shift, and running statistics for use after training
bn_gain = torch.ones((1, hidden_size))
bn_shift = torch.zeros((1, hidden_size))
running_mean = torch.zeros((1, hidden_size))
running_std = torch.ones((1, hidden_size))

params = [table, W_hidden, W_out, b_out, bn_gain, bn_shift]
print(sum(p.nelement() for p in params))
for p in params:
    p.requires_grad = True

def preactivation(x):
    """x: (N, context_size) ids -> (N, hidden_size), the hidden layer before its batch norm."""
    emb = table[x]   # (N, context_size, embedding_dim)
    return emb.view(emb.shape[0], -1) @ W_hidden

def batch_norm(h, mean, std):
    return bn_gain * (h - mean) / std + bn_shift

max_steps, batch_size = 120, 32
log10_losses = []
for step in range(max_steps):
    rows = torch.randint(0, X_train.shape[0], (batch_size,), generator=g)
    Xb, Yb = X_train[rows], Y_train[rows]
    pre = preactivation(Xb)
    batch_mean = pre.mean(0, keepdim=True)
    batch_std = pre.std(0, keepdim=True)   # unbiased, torch.std's default
    pre = batch_norm(pre, batch_mean, batch_std)
    with torch.no_grad():   # the running statistics stay out of the graph
        running_mean = 0.999 * running_mean + 0.001 * batch_mean
        running_std = 0.999 * running_std + 0.001 * batch_std
    logits = torch.tanh(pre) @ W_out + b_out
    loss = F.cross_entropy(logits, Yb)

    for p in params:
        p.grad = None
    loss.backward()
    lr = 0.1 if step < 60 else 0.01
    for p in params:
        p.data += -lr * p.grad

    if step % 20 == 0:
        print(f'step {step:4d} of {max_steps}: loss {loss.item():.4f}')
    log10_losses.append(loss.log10().item())

@torch.no_grad()
def split_loss(split):
    x, y = {'train': (X_train, Y_train), 'val': (X_val, Y_val), 'test': (X_test, Y_test)}[split]
    pre = batch_norm(preactivation(x), running_mean, running_std)
    loss = F.cross_entropy(torch.tanh(pre) @ W_out + b_out, y)
    print(split, 'loss', loss.item())

split_loss('train')
split_loss('val')

# after training: the statistics of the whole training set, for sampling
with torch.no_grad():
    pre = preactivation(X_train)
    full_mean = pre.mean(0, keepdim=True)
    full_std = pre.std(0, keepdim=True)

g = torch.Generator().manual_seed(2147483647 + 10)
for _ in range(20):
    window, drawn = [0] * context_size, []
    while True:
        pre = batch_norm(preactivation(torch.tensor([window])), full_mean, full_std)
        probs = F.softmax(torch.tanh(pre) @ W_out + b_out, dim=1)   # (1, vocab_size)
        ix = torch.multinomial(probs, num_samples=1, generator=g).item()
        window = window[1:] + [ix]
        drawn.append(ix)
        if ix == 0:   # the end token
            break
    print(''.join(id_to_char[i] for i in drawn))
'''


# ----------------------------------------------------------------------------- running the scripts

CHARS = "\nabcdefghij"   # the character-level vocabulary (11 symbols)
TINY = dict(n_layer=2, n_head=2, n_embd=16, block_size=8, bias=True, dropout=0.0)


def _libraries(torch: Any) -> dict:
    import minigrad  # noqa: PLC0415

    return {"torch": torch, "minigrad": minigrad}


def _module(monkeypatch: pytest.MonkeyPatch, name: str, source: str, imports: str) -> dict:
    """Run ``source`` below ``imports`` as the module ``name`` (registered in sys.modules, as a script's
    ``from model import GPT`` needs), compiled without this file's ``from __future__`` flags (a dataclass in
    a program must see real annotations, as when its author runs it)."""
    module = types.ModuleType(name)
    monkeypatch.setitem(sys.modules, name, module)
    exec(compile(imports + source, name, "exec", dont_inherit=True), module.__dict__)   # noqa: S102
    return module.__dict__


def _shared_streams(monkeypatch: pytest.MonkeyPatch, lib: Any, seed: int) -> None:
    """``torch.randn``, ``torch.randint``, ``torch.multinomial`` and ``torch.nn.init.normal_`` of ``lib`` draw, in
    call order, from NumPy streams seeded with ``seed``: the two engines' generators differ, and with this both runs
    read the same numbers (same initial weights, same batches, same samples) without any change to the programs."""
    randint_rng, multinomial_rng, normal_rng, randn_rng = (np.random.default_rng(seed + k) for k in range(4))

    def randint(*args: Any, generator: Any = None, **kwargs: Any) -> Any:
        low, high, size = (0, *args) if len(args) == 2 else args
        assert not kwargs or kwargs == {"dtype": lib.long}, kwargs
        return lib.from_numpy(randint_rng.integers(low, high, tuple(size)).astype(np.int64))

    def multinomial(probs: Any, num_samples: int, replacement: bool = False, *, generator: Any = None) -> Any:
        assert num_samples == 1
        p = np.asarray(probs.detach().cpu().numpy(), dtype=np.float64).reshape(-1, probs.shape[-1])
        cdf = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
        u = multinomial_rng.random((p.shape[0], 1))
        picks = np.minimum((cdf < u).sum(axis=1), p.shape[1] - 1)
        return lib.from_numpy(picks.reshape(*probs.shape[:-1], 1).astype(np.int64)).to(probs.device)

    def normal_(tensor: Any, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Any:
        values = normal_rng.standard_normal(tuple(tensor.shape)) * std + mean
        with lib.no_grad():
            tensor.copy_(lib.from_numpy(values.astype(np.float32)).to(tensor.device))
        return tensor

    def randn(*size: Any, generator: Any = None, **kwargs: Any) -> Any:
        shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
        assert not kwargs, kwargs
        return lib.from_numpy(randn_rng.standard_normal(shape).astype(np.float32))

    monkeypatch.setattr(lib, "randn", randn)
    monkeypatch.setattr(lib, "randint", randint)
    monkeypatch.setattr(lib, "multinomial", multinomial)
    monkeypatch.setattr(lib.nn.init, "normal_", normal_)


def _prepare(directory: Path) -> None:
    """data/chars/{train,val}.bin and meta.json as nanoGPT's shakespeare_char/prepare.py writes them (the meta
    as JSON where prepare.py pickles), from a learnable generated text: each character mostly the one 3 on."""
    rng = np.random.default_rng(0)
    ids = np.cumsum(np.where(rng.random(600) < 0.85, 3, 1)) % len(CHARS)
    data = directory / "data" / "chars"
    data.mkdir(parents=True)
    ids[:500].astype(np.uint16).tofile(data / "train.bin")
    ids[500:].astype(np.uint16).tofile(data / "val.bin")
    stoi = {ch: i for i, ch in enumerate(CHARS)}
    (data / "meta.json").write_text(json.dumps({"vocab_size": len(CHARS), "itos": list(CHARS), "stoi": stoi}))


def _run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, lib: Any, engine: str, script: str,
         config: dict, seed: int = 0) -> tuple:
    """Run train.py or sample.py of ``engine`` in its own folder after a configurator.py holding ``config``.

    Returns (namespace, stdout, wandb.log records)."""
    directory = tmp_path / engine
    if not directory.exists():
        _prepare(directory)
    (directory / "configurator.py").write_text("".join(f"{k} = {v!r}\n" for k, v in config.items()))
    monkeypatch.chdir(directory)
    records: list = []
    monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace(init=lambda **kwargs: None, log=records.append))
    _shared_streams(monkeypatch, lib, seed)
    _module(monkeypatch, "model", MODEL_PY, MODEL_IMPORTS[engine])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        namespace = _module(monkeypatch, script, TRAIN_PY if script == "train" else SAMPLE_PY, SCRIPT_IMPORTS[engine])
    return namespace, out.getvalue(), records


def _iteration_losses(stdout: str) -> list:
    return [float(loss) for loss in re.findall(r"^iter \d+: loss ([\d.]+),", stdout, flags=re.M)]


TRAIN_CONFIG = dict(
    out_dir="out", eval_interval=3, eval_iters=2, log_interval=1, always_save_checkpoint=True,
    wandb_log=True, dataset="chars", gradient_accumulation_steps=2, batch_size=4, **TINY,
    learning_rate=1e-2, max_iters=6, weight_decay=1e-1, beta1=0.9, beta2=0.99, grad_clip=1.0,
    warmup_iters=2, lr_decay_iters=6, min_lr=1e-3, device="cpu", dtype="float32", compile=False,
)


def _both(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, torch: Any, script: str, config: dict,
          mg_config: dict | None = None) -> tuple:
    libs = _libraries(torch)
    theirs = _run(monkeypatch, tmp_path, libs["torch"], "torch", script, config)
    ours = _run(monkeypatch, tmp_path, libs["minigrad"], "minigrad", script, {**config, **(mg_config or {})})
    return theirs, ours


def _assert_same_training(theirs: tuple, ours: tuple) -> None:
    (torch_ns, torch_out, torch_records), (mg_ns, mg_out, mg_records) = theirs, ours
    losses, expected = _iteration_losses(mg_out), _iteration_losses(torch_out)
    assert len(losses) == len(expected) > 0
    np.testing.assert_allclose(losses, expected, atol=1.5e-4)   # printed with 4 decimals
    assert [r["iter"] for r in mg_records] == [r["iter"] for r in torch_records]
    for ours_record, theirs_record in zip(mg_records, torch_records):
        assert ours_record["lr"] == pytest.approx(theirs_record["lr"], rel=1e-12)
        for key in ("train/loss", "val/loss"):
            assert float(ours_record[key]) == pytest.approx(float(theirs_record[key]), rel=1e-5), key
    assert mg_ns["iter_num"] == torch_ns["iter_num"]
    ours_sd = {k: v.numpy() for k, v in mg_ns["model"].state_dict().items()}
    theirs_sd = {k: v.detach().numpy() for k, v in torch_ns["model"].state_dict().items()}
    assert list(ours_sd) == list(theirs_sd)
    _assert_close_weights(ours_sd, theirs_sd)


def _assert_close_weights(ours: dict, theirs: dict) -> None:
    """Equal weights, but for the key part of ``c_attn.bias``: its true gradient is exactly 0 (softmax ignores
    a shift of all of a query's scores), so AdamW steps it by float rounding noise (~1e-9 gradients), which
    differs between any two implementations; it is only checked to stay near its start (0)."""
    for name, value in theirs.items():
        if name.endswith("attn.c_attn.bias"):
            n_embd = value.shape[0] // 3
            keys = slice(n_embd, 2 * n_embd)
            np.testing.assert_allclose(ours[name][keys], value[keys], atol=1e-3, err_msg=name)
            ours, theirs = {**ours, name: np.delete(ours[name], keys)}, {**theirs, name: np.delete(value, keys)}
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-4, atol=1e-5, err_msg=name)


def _assert_same_checkpoints(torch: Any, tmp_path: Path) -> None:
    """Each engine's out/ckpt.pt, read back with its own torch.load: the same entries and numbers."""
    import minigrad  # noqa: PLC0415

    theirs = torch.load(tmp_path / "torch" / "out" / "ckpt.pt", map_location="cpu", weights_only=False)
    ours = minigrad.load(str(tmp_path / "minigrad" / "out" / "ckpt.pt"), map_location="cpu")
    assert list(ours) == list(theirs) == ["model", "optimizer", "model_args", "iter_num", "best_val_loss", "config"]
    assert ours["model_args"] == theirs["model_args"]
    chosen = {"compile": None, "device": None, "dtype": None}   # what a test sets apart for minigrad's run
    assert {**ours["config"], **chosen} == {**theirs["config"], **chosen}
    assert ours["iter_num"] == theirs["iter_num"]
    assert float(ours["best_val_loss"]) == pytest.approx(float(theirs["best_val_loss"]), rel=1e-5)
    assert list(ours["model"]) == list(theirs["model"])
    _assert_close_weights({k: v.numpy() for k, v in ours["model"].items()},
                          {k: v.numpy() for k, v in theirs["model"].items()})
    for ours_group, theirs_group in zip(ours["optimizer"]["param_groups"], theirs["optimizer"]["param_groups"]):
        assert ours_group["params"] == theirs_group["params"]
        for key in ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"):
            assert ours_group[key] == theirs_group[key], key
    assert list(ours["optimizer"]["state"]) == list(theirs["optimizer"]["state"])
    for index, state in theirs["optimizer"]["state"].items():
        assert float(ours["optimizer"]["state"][index]["step"]) == float(state["step"])
        for key in ("exp_avg", "exp_avg_sq"):
            np.testing.assert_allclose(ours["optimizer"]["state"][index][key].numpy(), state[key].numpy(),
                                       rtol=1e-4, atol=1e-6, err_msg=f"{index}.{key}")


SAMPLE_CONFIG = dict(out_dir="out", start="\nab", num_samples=3, max_new_tokens=10, temperature=0.8, top_k=5,
                     device="cpu", dtype="float32", compile=False)


def _samples(stdout: str) -> list:
    """The decoded samples sample.py prints, each followed by a line of dashes."""
    printed = stdout[stdout.index("Loading meta from"):].split("\n", 1)[1]
    return printed.split("\n---------------\n")[:-1]


def test_the_programs_differ_only_in_their_imports() -> None:
    for imports in (MODEL_IMPORTS, SCRIPT_IMPORTS, MAKEMORE_IMPORTS):
        theirs, ours = imports["torch"].splitlines(), imports["minigrad"].splitlines()
        assert len(theirs) == len(ours)
        assert [line.replace("minigrad as torch", "torch").replace("minigrad", "torch") for line in ours] == theirs
    for source in (MODEL_PY, TRAIN_PY, SAMPLE_PY, MAKEMORE_MLP):
        assert "minigrad" not in source and "mg." not in source
        # train.py imports wandb only where wandb logging is on (a stand-in module here)
        assert [line.strip() for line in source.splitlines() if "import " in line] == (
            ["import wandb"] if source is TRAIN_PY else [])


def test_nanogpt_train_resume_and_sample(torch: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """train.py from scratch (flash attention path, gradient accumulation, clipping through the disabled
    GradScaler, cosine lr with warmup, estimate_loss, checkpoints), train.py again with init_from='resume',
    then sample.py (top-k temperature sampling from the checkpoint): every number equals torch's."""
    theirs, ours = _both(monkeypatch, tmp_path, torch, "train", TRAIN_CONFIG)
    _assert_same_training(theirs, ours)
    assert ours[0]["model"].transformer.h[0].attn.flash
    assert not any(name.endswith(".attn.bias") for name in ours[0]["model"].state_dict())
    assert [r["iter"] for r in ours[2]] == [0, 3, 6]
    losses = _iteration_losses(ours[1])
    assert len(losses) == 7 and losses[-1] < losses[0] - 0.2
    _assert_same_checkpoints(torch, tmp_path)
    # the tied weights stay one Parameter through training, saving and loading
    model = ours[0]["model"]
    assert model.transformer.wte.weight is model.lm_head.weight
    assert model.get_num_params() == theirs[0]["model"].get_num_params() == 6768
    assert model.get_num_params(non_embedding=False) == 6768 + 8 * 16

    resume = {**TRAIN_CONFIG, "init_from": "resume", "max_iters": 9}
    theirs, ours = _both(monkeypatch, tmp_path, torch, "train", resume)
    _assert_same_training(theirs, ours)
    assert [r["iter"] for r in ours[2]] == [6, 9] and ours[0]["iter_num"] == 10
    assert "Resuming training from out" in ours[1]
    _assert_same_checkpoints(torch, tmp_path)

    theirs, ours = _both(monkeypatch, tmp_path, torch, "sample", SAMPLE_CONFIG)
    samples = _samples(ours[1])
    assert samples == _samples(theirs[1]) and len(samples) == 3
    assert all(len(sample) == 3 + 10 and sample.startswith("\nab") and set(sample) <= set(CHARS) for sample in samples)
    assert not ours[0]["model"].training and ours[0]["y"].shape == (1, 13)


def _twin_gpts(monkeypatch: pytest.MonkeyPatch, torch: Any, **config: Any) -> tuple:
    """model.py's GPT in each engine, each initialised by its own ``_init_module``; minigrad's then loads torch's
    state dict (both names of the tied embedding, and the slow path's buffers, as PyTorch's state dicts have them).
    Returns (torch_model, mg_model, initial state dict)."""
    models, modules = [], []
    torch.manual_seed(0)
    for engine in ("torch", "minigrad"):
        module = _module(monkeypatch, "model", MODEL_PY, MODEL_IMPORTS[engine])
        with contextlib.redirect_stdout(io.StringIO()):
            models.append(module["GPT"](module["GPTConfig"](**{**TINY, "vocab_size": len(CHARS), **config})))
        modules.append(module)
    initial = _copy_weights(models[0], modules[1])
    models[1].load_state_dict(initial)
    assert models[1].transformer.wte.weight is models[1].lm_head.weight   # still tied after loading
    return models[0], models[1], initial


def _batch(lib: Any, seed: int, batch: int = 3, length: int = 8) -> tuple:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, len(CHARS), (batch, length))
    y = rng.integers(0, len(CHARS), (batch, length))
    y[0, :3] = -1   # ignore_index=-1
    return lib.from_numpy(x), lib.from_numpy(y)


@pytest.mark.parametrize("flash", [True, False], ids=["flash", "slow_attention"])
def test_nanogpt_model_with_dropout_eval_generate_and_crop(torch: Any, monkeypatch: pytest.MonkeyPatch,
                                                             flash: bool) -> None:
    """GPT with dropout=0.2 in both attention paths (the slow one as on PyTorch < 2.0: no
    F.scaled_dot_product_attention, a causal ``bias`` buffer and masked_fill with -inf): eval() gives torch's
    logits, loss and gradients and greedy generate() (top_k=1 through the engines' own multinomial); train()
    draws dropout masks; crop_block_size as model surgery, then generate() past the block size."""
    import minigrad  # noqa: PLC0415

    if not flash:
        for lib in (torch, minigrad):
            monkeypatch.delattr(lib.nn.functional, "scaled_dot_product_attention")
    torch_model, mg_model, initial = _twin_gpts(monkeypatch, torch, dropout=0.2)
    assert mg_model.transformer.h[1].attn.flash == flash == torch_model.transformer.h[1].attn.flash
    buffers = [name for name, _ in mg_model.named_buffers()]
    assert buffers == [name for name, _ in torch_model.named_buffers()]
    assert buffers == ([] if flash else ["transformer.h.0.attn.bias", "transformer.h.1.attn.bias"])
    x, y = _batch(minigrad, 2)
    tx, ty = _batch(torch, 2)

    mg_model.eval()
    torch_model.eval()
    logits, loss = mg_model(x, y)
    torch_logits, torch_loss = torch_model(tx, ty)
    np.testing.assert_allclose(logits.detach().numpy(), torch_logits.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert loss.item() == pytest.approx(torch_loss.item(), rel=1e-6)
    loss.backward()
    torch_loss.backward()
    grads = {name: p.grad.numpy() for name, p in mg_model.named_parameters()}
    torch_grads = {name: p.grad.numpy() for name, p in torch_model.named_parameters()}
    assert list(grads) == list(torch_grads)
    for name in grads:
        np.testing.assert_allclose(grads[name], torch_grads[name], rtol=1e-4, atol=1e-7, err_msg=name)
    last, none = mg_model(x)
    assert last.shape == (3, 1, len(CHARS)) and none is None   # the inference path: lm_head on x[:, [-1], :]
    np.testing.assert_allclose(last.numpy(), torch_logits.detach().numpy()[:, [-1], :], rtol=1e-5, atol=1e-6)
    start = np.array([[1, 4, 7]])
    greedy = mg_model.generate(minigrad.tensor(start), 6, temperature=0.8, top_k=1)
    torch_greedy = torch_model.generate(torch.tensor(start), 6, temperature=0.8, top_k=1)
    assert greedy.tolist() == torch_greedy.tolist() and greedy.shape == (1, 9) and greedy.dtype == minigrad.int64

    mg_model.train()
    first, second = mg_model(x, y)[1].item(), mg_model(x, y)[1].item()
    assert first != second and np.isfinite([first, second]).all()   # fresh dropout masks each call
    minigrad.manual_seed(3)
    again = mg_model(x, y)[1].item()
    minigrad.manual_seed(3)
    assert mg_model(x, y)[1].item() == again

    # a few AdamW steps from configure_optimizers, in eval mode (no dropout), as a fine-tuning loop would
    mg_model.eval()
    optimizers = [model.configure_optimizers(0.1, 1e-2, (0.9, 0.95), "cpu") for model in (mg_model, torch_model)]
    for step in range(3):
        for model, optimizer, lib in zip((mg_model, torch_model), optimizers, (minigrad, torch)):
            optimizer.zero_grad(set_to_none=True)
            model(*_batch(lib, 10 + step))[1].backward()
            lib.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
    assert [len(group["params"]) for group in optimizers[0].param_groups] == [10, 18]
    # the key part of c_attn.bias has a zero true gradient: AdamW steps it by float noise (_assert_close_weights)
    _assert_same_weights(torch_model, mg_model, initial,
                         noise_only=("transformer.h.0.attn.c_attn.bias", "transformer.h.1.attn.c_attn.bias"))

    mg_model.crop_block_size(4)
    torch_model.crop_block_size(4)
    assert mg_model.transformer.wpe.weight.shape == (4, 16) and mg_model.config.block_size == 4
    assert isinstance(mg_model.transformer.wpe.weight, minigrad.nn.Parameter)
    assert [(k, tuple(v.shape)) for k, v in mg_model.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in torch_model.state_dict().items()]
    # forward's targets.view(-1) needs contiguous targets, in both (a column slice is not)
    cropped = mg_model(x[:, :4].contiguous(), y[:, :4].contiguous())[1].item()
    assert cropped == pytest.approx(torch_model(tx[:, :4].contiguous(), ty[:, :4].contiguous())[1].item(), rel=1e-6)
    with pytest.raises(RuntimeError, match="view"):
        mg_model(x[:, :4], y[:, :4])
    with pytest.raises(RuntimeError, match="view"):
        torch_model(tx[:, :4], ty[:, :4])
    greedy = mg_model.generate(minigrad.tensor(start), 5, top_k=1)   # idx[:, -block_size:] once it is longer
    assert greedy.tolist() == torch_model.generate(torch.tensor(start), 5, top_k=1).tolist()
    minigrad.manual_seed(0)
    sampled = mg_model.generate(minigrad.tensor(start), 20, temperature=1.5, top_k=3).numpy()
    assert sampled.shape == (1, 23) and ((0 <= sampled) & (sampled < len(CHARS))).all()
    with minigrad.no_grad():   # every drawn token is one of the 3 most likely at its step
        for t in range(3, 23):
            logits, _ = mg_model(minigrad.tensor(sampled[:, max(0, t - 4):t]))
            assert sampled[0, t] in np.argsort(logits.numpy()[0, -1])[-3:]


def test_nanogpt_slow_attention_train_and_compiled_resume(torch: Any, monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    """train.py on the slow attention path, minigrad with compile=True (``model = torch.compile(model)``)
    against torch eager; the checkpoints carry the causal buffers; then both resume from checkpoints whose keys
    carry the ``_orig_mod.`` prefix torch.compile's module gives, through train.py's fix-up loop."""
    import minigrad  # noqa: PLC0415

    for lib in (torch, minigrad):
        monkeypatch.delattr(lib.nn.functional, "scaled_dot_product_attention")
    theirs, ours = _both(monkeypatch, tmp_path, torch, "train", TRAIN_CONFIG, mg_config={"compile": True})
    assert "WARNING: using slow attention." in ours[1] and "compiling the model" in ours[1]
    assert ours[0]["model"]._orig_mod is ours[0]["unoptimized_model"]
    # every call replayed: a print in GPT.__init__ / configure_optimizers (never run by a call) sent it to eager
    assert len(ours[0]["model"].programs) >= 2 and not ours[0]["model"].eager
    _assert_same_training(theirs, ours)
    _assert_same_checkpoints(torch, tmp_path)
    assert "transformer.h.1.attn.bias" in ours[0]["model"].state_dict()
    # torch.compile's module names its state with the prefix (wrapping compiles nothing yet; compiling the tiny
    # model would take half a minute); minigrad's compiled module does not (README), so its checkpoint loads
    # into the plain model as it is. Both resume here from checkpoints with the prefix, as torch writes them.
    assert all(k.startswith("_orig_mod.") for k in torch.compile(theirs[0]["model"]).state_dict())
    assert list(ours[0]["model"].state_dict()) == list(theirs[0]["model"].state_dict())
    for lib, engine in ((torch, "torch"), (minigrad, "minigrad")):
        path = tmp_path / engine / "out" / "ckpt.pt"
        checkpoint = lib.load(str(path), **({"weights_only": False} if lib is torch else {}))
        checkpoint["model"] = {"_orig_mod." + k: v for k, v in checkpoint["model"].items()}
        lib.save(checkpoint, str(path))
    resume = {**TRAIN_CONFIG, "init_from": "resume", "max_iters": 8}
    theirs, ours = _both(monkeypatch, tmp_path, torch, "train", resume, mg_config={"compile": True})
    _assert_same_training(theirs, ours)
    assert not any(k.startswith("_orig_mod.") for k in ours[0]["state_dict"])


def test_nanogpt_trains_with_dropout_compiled_and_eager(torch: Any, monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    """train.py with dropout=0.1 (the masks are the engine's own, so only the run itself is checked): eager and
    compiled both train, and the same seed repeats the compiled run."""
    import minigrad  # noqa: PLC0415

    config = {**TRAIN_CONFIG, "dropout": 0.1, "max_iters": 4, "eval_interval": 4}
    runs = {}
    for name, compiled in (("eager", False), ("compiled", True), ("compiled_again", True)):
        namespace, stdout, records = _run(monkeypatch, tmp_path, minigrad, "minigrad", "train",
                                          {**config, "compile": compiled, "out_dir": f"out_{name}"})
        runs[name] = _iteration_losses(stdout)
        assert len(runs[name]) == 5 and np.isfinite(runs[name]).all() and runs[name][-1] < runs[name][0]
        assert all(m.p == 0.1 for m in namespace["raw_model"].modules() if isinstance(m, minigrad.nn.Dropout))
        if compiled:   # replayed, not run eagerly: train and eval signatures captured, none left to eager
            assert len(namespace["model"].programs) >= 2 and not namespace["model"].eager
    # the replays draw the dropout masks from the generator as eager mode does, in the same order
    assert runs["compiled"] == runs["compiled_again"] == runs["eager"]


# ----------------------------------------------------------------------------- makemore


def _names(path: Path) -> None:
    """names.txt: 300 made-up names over all 26 letters (vowel/consonant alternation, so there is something to
    learn), one a line, as the lecture's file."""
    rng = np.random.default_rng(12)
    vowels, consonants = "aeiouy", "bcdfghjklmnpqrstvwxz"
    names = []
    for _ in range(300):
        start = int(rng.integers(2))
        names.append("".join(rng.choice(list(vowels if (k + start) % 2 else consonants))
                             for k in range(int(rng.integers(3, 8)))))
    assert len(set("".join(names))) == 26
    path.write_text("\n".join(names) + "\n")


def _makemore(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, engine: str, lib: Any, shared: bool) -> tuple:
    directory = tmp_path / engine
    directory.mkdir(exist_ok=True)
    _names(directory / "names.txt")
    monkeypatch.chdir(directory)
    if shared:
        _shared_streams(monkeypatch, lib, 20)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        namespace = _program(MAKEMORE_MLP, MAKEMORE_IMPORTS[engine])
    return namespace, out.getvalue()


def test_makemore_mlp_with_hand_written_batchnorm(torch: Any, monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    """The makemore MLP with batch norm written out by hand (after the lecture's part 3): raw tensors made
    ``requires_grad`` in a loop, ``table[Xb]``, ``emb.view(emb.shape[0], -1)``, ``pre.std(0, keepdim=True)``
    (unbiased), running statistics under ``no_grad``, ``p.grad = None``, the update ``p.data += -lr * p.grad``
    (minigrad's ``.data`` is the NumPy array: the Tensor on the right is added into it in place), the
    ``@torch.no_grad()`` split loss and sampling with ``multinomial(..., generator=g).item()``.

    The two engines' ``torch.Generator`` streams differ, so here ``randn``/``randint``/``multinomial`` read one
    shared NumPy stream in both (``_shared_streams``; the ``generator=g`` arguments stay in the program and are
    passed along): the initial weights, the batches and the sampled names are then the same numbers."""
    import minigrad  # noqa: PLC0415

    torch_ns, torch_out = _makemore(monkeypatch, tmp_path, "torch", torch, shared=True)
    mg_ns, mg_out = _makemore(monkeypatch, tmp_path, "minigrad", minigrad, shared=True)
    x_train = mg_ns["X_train"]
    assert mg_ns["vocab_size"] == 27 and x_train.dtype == minigrad.int64 and x_train.shape[1] == 3
    assert x_train.shape == tuple(torch_ns["X_train"].shape)
    np.testing.assert_allclose(mg_ns["log10_losses"], torch_ns["log10_losses"], rtol=2e-5, atol=2e-6)
    assert mg_ns["log10_losses"][-1] < mg_ns["log10_losses"][0] - 0.08   # log10 of the loss: 3.3 -> 2.6
    for name in ("table", "W_hidden", "W_out", "b_out", "bn_gain", "bn_shift", "running_mean", "running_std",
                 "full_mean", "full_std"):
        ours, theirs = mg_ns[name], torch_ns[name]
        assert isinstance(ours.data, np.ndarray), name   # `p.data += ...` kept the arrays
        np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
    for p in mg_ns["params"]:
        assert p.is_leaf and p.requires_grad and p.grad is not None and p.grad_fn is None
    assert not mg_ns["running_mean"].requires_grad and not mg_ns["running_std"].requires_grad
    printed = [line.split() for line in mg_out.splitlines()]
    torch_printed = [line.split() for line in torch_out.splitlines()]
    assert len(printed) == len(torch_printed) == 3 + 1 + 6 + 2 + 20
    # make_examples's print(X.shape, Y.shape): `(N, 3) (N,)` here (x.shape is a tuple, README), torch.Size there
    assert [re.findall(r"\d+", " ".join(line)) for line in printed[:3]] == [
        re.findall(r"\d+", " ".join(line)) for line in torch_printed[:3]]
    assert printed[3] == torch_printed[3] == [str(27 * 10 + 30 * 200 + 200 * 27 + 27 + 200 + 200)]
    np.testing.assert_allclose([float(p[-1]) for p in printed[4:12]], [float(p[-1]) for p in torch_printed[4:12]],
                               rtol=1e-5, atol=1e-4)   # the every-20-steps losses (4 decimals), then split losses
    assert printed[12:] == torch_printed[12:]   # the 20 sampled names
    assert all(name[0].endswith(".") and set(name[0][:-1]) <= set("abcdefghijklmnopqrstuvwxyz")
               for name in printed[12:])


def test_makemore_mlp_with_its_own_generator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The same program on minigrad's own ``torch.Generator().manual_seed(2147483647)`` stream: the lecture's
    init scales come out (table ~ N(0, 1), W_hidden ~ (5/3)/sqrt(30) N(0, 1), b_out = 0), it trains, its
    sampled names are names, and a second run repeats the first number for number."""
    import minigrad  # noqa: PLC0415

    runs = [_makemore(monkeypatch, tmp_path, "minigrad", minigrad, shared=False) for _ in range(2)]
    (ns, out), (again, again_out) = runs
    assert out == again_out and ns["log10_losses"] == again["log10_losses"]
    losses = ns["log10_losses"]
    assert losses[-1] < losses[0] - 0.08 and np.isfinite(losses).all()
    names = out.splitlines()[-20:]
    assert all(name.endswith(".") and set(name[:-1]) <= set(ns["letters"]) for name in names)
    # the first draws of a fresh run, with the lecture's seed, before training changes them
    g = minigrad.Generator().manual_seed(2147483647)
    c = minigrad.randn((27, 10), generator=g)
    w1 = minigrad.randn((30, 200), generator=g) * (5 / 3) / (30 ** 0.5)
    assert abs(float(c.std()) - 1) < 0.15 and abs(float(w1.std()) - (5 / 3) / 30 ** 0.5) < 0.02
    assert (ns["b_out"].numpy() != 0).any()   # b_out starts at randn * 0 and trains


def test_the_data_update_of_the_lecture_is_in_place() -> None:
    """``p.data += -lr * p.grad``: minigrad's ``.data`` is the NumPy array and the right side a Tensor; NumPy
    hands the Tensor to minigrad (``__array_ufunc__``), which adds its array into ``p.data`` in place: the same
    array, the same leaf, values as torch's ``p.data += -lr * p.grad``. Its other spellings too."""
    import minigrad  # noqa: PLC0415

    p = minigrad.tensor([1.0, -2.0, 3.0], requires_grad=True)
    array = p.data
    (p * p).sum().backward()
    p.data += -0.1 * p.grad
    assert p.data is array and isinstance(p.data, np.ndarray) and p.data.dtype == np.float32
    np.testing.assert_allclose(p.numpy(), [0.8, -1.6, 2.4], rtol=1e-6)
    assert p.is_leaf and p.requires_grad and p.grad_fn is None
    p.data -= 0.5 * p.grad
    p.data *= minigrad.tensor(2.0)
    assert p.data is array
    np.testing.assert_allclose(p.numpy(), [-0.4, 0.8, -1.2], rtol=1e-6)


def test_assigning_a_tensor_to_data_is_caught_at_the_next_use() -> None:
    """``p.data = p.data - lr * p.grad`` (micrograd's and older PyTorch code's spelling): PyTorch replaces p's
    data with the new tensor's. Here ``.data`` is the array and a plain slot, so the Tensor lands in it; the
    next op on p and its repr say so (never a silent result), and the in-place spelling works."""
    import minigrad  # noqa: PLC0415

    p = minigrad.tensor([1.0, 2.0], requires_grad=True)
    (p * p).sum().backward()
    p.data = p.data - 0.1 * p.grad
    with pytest.raises(TypeError, match=r"mul: an input's .data holds a Tensor, not an array"):
        p * 2
    assert "assign arrays to .data" in repr(p)
    p.data = np.array([1.0, 2.0])
    p.data -= 0.1 * p.grad
    assert (p * 2).sum().item() == pytest.approx(4.8)


# ----------------------------------------------------------------------------- on the GPU


def _gpu_config(config: dict) -> dict:
    """``config`` on ``device='cuda'`` with train.py's own dtype choice: bfloat16 if supported, else float16 and
    an enabled GradScaler (minigrad has no bfloat16; autocast changes no dtype, so the math stays float32 and
    the scaler's powers of two scale and unscale exactly)."""
    return {**{k: v for k, v in config.items() if k != "dtype"}, "device": "cuda"}


@pytest.mark.gpu
def test_nanogpt_train_on_the_gpu_as_written(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import minigrad  # noqa: PLC0415

    _run(monkeypatch, tmp_path, minigrad, "minigrad", "train", _gpu_config({**TRAIN_CONFIG, "max_iters": 1}))


@pytest.mark.gpu
def test_nanogpt_train_and_sample_on_the_gpu(torch: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """train.py and sample.py with ``device='cuda'`` (pinned batches moved with non_blocking=True, the model,
    the checkpoint loaded with map_location='cuda'), float16 with an enabled GradScaler: torch's CPU float32
    numbers (configure_optimizers passes ``fused=True`` there: how PyTorch computes a step, the same numbers)."""
    import minigrad  # noqa: PLC0415

    theirs = _run(monkeypatch, tmp_path, torch, "torch", "train", TRAIN_CONFIG)
    ours = _run(monkeypatch, tmp_path, minigrad, "minigrad", "train", _gpu_config(TRAIN_CONFIG))
    assert ours[0]["dtype"] == "float16" and ours[0]["scaler"].is_enabled() and ours[0]["scaler"].get_scale() == 2**16
    assert ours[0]["model"].lm_head.weight.device.type == "cuda" and ours[0]["X"].device.type == "cuda"
    _assert_same_training(theirs, ours)
    _assert_same_checkpoints(torch, tmp_path)
    theirs = _run(monkeypatch, tmp_path, torch, "torch", "sample", SAMPLE_CONFIG)
    ours = _run(monkeypatch, tmp_path, minigrad, "minigrad", "sample", _gpu_config(SAMPLE_CONFIG))
    assert _samples(ours[1]) == _samples(theirs[1]) and ours[0]["y"].device.type == "cuda"


@pytest.mark.gpu
def test_the_data_update_of_the_lecture_on_the_gpu() -> None:
    import minigrad  # noqa: PLC0415

    p = minigrad.tensor([1.0, -2.0, 3.0], requires_grad=True, device="cuda")
    array = p.data
    (p * p).sum().backward()
    p.data += -0.1 * p.grad
    assert p.data is array
    np.testing.assert_allclose(p.numpy(), [0.8, -1.6, 2.4], rtol=1e-6)
