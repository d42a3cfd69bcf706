"""Three more vision programs, tiny images, run unchanged on minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program: it keeps the original's PyTorch calls
and habits in the same roles, with our own names, structure and comments, a tiny model, a few steps and
generated images (the helpers and the rule come from tests/test_pytorch_programs.py):

* ``SWIN`` follows the Swin Transformer of microsoft/Swin-Transformer (``models/swin_transformer.py``): a strided
  ``Conv2d`` patch embedding read as ``flatten(2).transpose(1, 2)``, ``window_partition``/``window_reverse`` by
  ``view``/``permute(0, 1, 3, 2, 4, 5).contiguous()``, shifted windows by ``torch.roll(shifts=(-s, -s), dims=(1,
  2))`` and back, the shifted-window attention mask built by assigning region numbers to ``img_mask[:, h, w, :]``
  over ``slice`` triples, then ``masked_fill(attn_mask != 0, float(-100.0))``, registered as a buffer (``None`` in
  the unshifted blocks); a relative position bias table indexed by a registered ``relative_position_index`` made
  from ``torch.meshgrid``, ``torch.flatten``, broadcast differences, ``permute``, in-place ``+=``/``*=`` on its
  columns and ``sum(-1)``; the attention mask added per window through ``view(B_ // nW, nW, heads, N, N)``;
  ``PatchMerging`` by strided slicing ``x[:, 0::2, 0::2, :]`` …, ``torch.cat(..., -1)``, ``LayerNorm`` and a
  bias-free ``Linear``; ``DropPath`` (timm's stochastic depth: one ``torch.rand`` draw per sample, ``floor_``,
  shared by all its tokens) at rates from ``torch.linspace``; ``trunc_normal_`` through ``self.apply``; AdamW
  over two parameter groups (no decay for 1-D parameters and the bias table), ``clip_grad_norm_``;
* ``MAE`` follows facebookresearch/mae (``models_mae.py``): ``patchify`` by ``reshape`` + ``torch.einsum(
  'nchpwq->nhwpqc')`` and its inverse, random masking by ``torch.argsort`` of ``torch.rand(N, L)`` noise
  (``ids_shuffle``, ``ids_restore``, ``torch.gather`` with ``index.unsqueeze(-1).repeat(1, 1, D)``, the binary
  mask unshuffled by ``gather``), a ``cls_token`` ``expand``-ed and ``cat``-ed, the encoder on the visible
  patches only, ``mask_token.repeat`` appended and unshuffled with ``gather``, a narrower decoder, the loss on
  the masked patches only against per-patch normalised targets (``mean``/``var(dim=-1, keepdim=True)``, ``(var +
  1e-6) ** .5``), fixed 2-D sine-cosine position embeddings (written with torch ops where the original uses NumPy:
  ``torch.meshgrid``, ``torch.einsum('m,d->md')``, float64 frequencies) in ``nn.Parameter(..., requires_grad=
  False)`` filled under ``no_grad``, ``xavier_uniform_`` on a ``view`` of the patch-embedding weight, AdamW with
  ``betas=(0.9, 0.95)`` over layer-wise decayed parameter groups (MAE's ``param_groups_lrd``: each group carries
  its own ``"lr_scale"`` entry) and the per-iteration half-cycle cosine learning rate written into each group as
  ``lr * param_group["lr_scale"]``;
* ``SMALL_CNNS`` holds three mobile/dense networks as torchvision writes them: MobileNetV2 (``_make_divisible``,
  ``ConvBNReLU`` = ``Conv2d``/``BatchNorm2d``/``ReLU6(inplace=True)``, ``InvertedResidual`` with a depthwise
  ``Conv2d(groups=hidden)`` and a linear bottleneck, the residual when ``stride == 1 and inp == oup``), an
  EfficientNet-style MBConv block (``SiLU(inplace=True)``, squeeze-and-excitation by ``AdaptiveAvgPool2d(1)`` +
  1x1 convs + ``SiLU`` + ``Sigmoid`` gate, lukemelas' ``drop_connect`` from ``torch.rand([B, 1, 1, 1])``), and a
  DenseNet (``_DenseLayer`` with ``BatchNorm2d``-``ReLU(inplace=True)``-``Conv2d`` on ``torch.cat(inputs, 1)``,
  ``_DenseBlock(nn.ModuleDict)`` iterated with ``self.items()``, ``_Transition`` ending in ``AvgPool2d(2, 2)``,
  ``nn.Sequential(OrderedDict(...))`` features, ``F.relu(features, inplace=True)``); each trained a few steps by
  ``SGD(momentum=0.9, nesterov=True, weight_decay=...)`` on ``F.cross_entropy(label_smoothing=0.1)`` under
  ``CosineAnnealingLR`` or ``OneCycleLR`` (which cycles the momentum too), in float32 and in float64.

Random draws that are part of the computation (DropPath's and drop_connect's keep masks, MAE's masking noise) read
one NumPy stream of the same seed in both libraries (``_shared_draws`` of tests/test_pytorch_programs_generative.py),
so every number is compared: losses step by step, gradient norms, learning rates, masks and final weights, in
float32 (to 1e-5) and, after ``.double()`` from the same initial weights, in float64 (to 1e-10).

What the programs found: everything agreed with torch on the first run but one thing. MAE's parameter groups carry
their own ``"lr_scale"`` entry, which PyTorch keeps in the group (it takes any extra key) and minigrad's optimizers
refused as an unknown hyper-parameter; a group's own entries now ride along, in ``param_groups``, ``state_dict`` and
``load_state_dict`` (nn/optim/optimizer.py), while the hyper-parameter of another optimizer given to one without it
(``betas`` to SGD), which PyTorch ignores silently, still raises. Probing the layers around them: ``F.dropout1d``
and ``F.adaptive_avg_pool1d``/``adaptive_max_pool1d`` refused a 4-D input with a plain ValueError where torch
raises RuntimeError; it is now both (nn/_dropout.py, nn/_conv.py). By design (DESIGN §3): Swin V2's
``... / np.log2(8)`` divides by a NumPy float64 scalar, which makes float32 tensors float64 under NumPy 2's
promotion (write ``math.log2(8)``). Not bugs: a ``qkv.bias``'s key third has a zero
true gradient (softmax ignores a shift of a query's scores), so its AdamW steps follow rounding noise; it is left
out of the weight comparison.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn
from minigrad import optim
from tests.test_pytorch_programs import MINIGRAD_IMPORTS, TORCH_IMPORTS, _twin_models
from tests.test_pytorch_programs_flow import _lean_torch  # noqa: F401 - autouse: torch lean, _dynamo imported in setup
from tests.test_pytorch_programs_generative import _shared_draws

TORCH_IMPORTS_VISION2 = """\
from collections import OrderedDict
from functools import partial
""" + TORCH_IMPORTS

MINIGRAD_IMPORTS_VISION2 = """\
from collections import OrderedDict
from functools import partial
""" + MINIGRAD_IMPORTS


SWIN = '''
def window_partition(x, window_size):
    """(B, H, W, C) -> (B * windows, ws, ws, C): the feature map cut into non-overlapping square windows."""
    B, H, W, C = x.shape
    x = x.view(B, H // window_size, window_size, W // window_size, window_size, C)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, window_size, window_size, C)


def window_reverse(windows, window_size, H, W):
    """The inverse of window_partition: (B * windows, ws, ws, C) -> (B, H, W, C)."""
    B = int(windows.shape[0] / (H * W / window_size / window_size))
    x = windows.view(B, H // window_size, W // window_size, window_size, window_size, -1)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(B, H, W, -1)


def drop_path(x, drop_prob=0., training=False):
    """Stochastic depth: each sample's residual branch kept with probability 1 - drop_prob (one draw per sample,
    shared by all its tokens) and scaled up to keep the expectation."""
    if drop_prob == 0. or not training:
        return x
    keep_prob = 1 - drop_prob
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    random_tensor = keep_prob + torch.rand(shape, dtype=x.dtype, device=x.device)
    random_tensor.floor_()
    return x.div(keep_prob) * random_tensor


class DropPath(nn.Module):
    def __init__(self, drop_prob=None):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x):
        return drop_path(x, self.drop_prob, self.training)


class Mlp(nn.Module):
    def __init__(self, in_features, hidden_features):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_features, in_features)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class WindowAttention(nn.Module):
    """Multi-head self-attention inside each window (B_, N, C), N = ws * ws, plus a learned bias per relative
    offset of two positions and, for shifted windows, a (windows, N, N) mask of 0 and -100."""

    def __init__(self, dim, window_size, num_heads, qkv_bias=True):
        super().__init__()
        self.dim, self.window_size, self.num_heads = dim, window_size, num_heads
        self.scale = (dim // num_heads) ** -0.5
        Wh, Ww = window_size
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * Wh - 1) * (2 * Ww - 1), num_heads))
        coords = torch.stack(torch.meshgrid([torch.arange(Wh), torch.arange(Ww)], indexing="ij"))   # 2, Wh, Ww
        coords_flatten = torch.flatten(coords, 1)                                                 # 2, Wh*Ww
        relative_coords = coords_flatten[:, :, None] - coords_flatten[:, None, :]                # 2, N, N
        relative_coords = relative_coords.permute(1, 2, 0).contiguous()                          # N, N, 2
        relative_coords[:, :, 0] += Wh - 1   # offsets from 0
        relative_coords[:, :, 1] += Ww - 1
        relative_coords[:, :, 0] *= 2 * Ww - 1
        self.register_buffer("relative_position_index", relative_coords.sum(-1))
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=.02)
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, x, mask=None):
        B_, N, C = x.shape
        qkv = self.qkv(x).reshape(B_, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        q = q * self.scale
        attn = q @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)].view(N, N, -1)
        attn = attn + bias.permute(2, 0, 1).contiguous().unsqueeze(0)
        if mask is not None:
            nW = mask.shape[0]
            attn = attn.view(B_ // nW, nW, self.num_heads, N, N) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, self.num_heads, N, N)
        attn = self.softmax(attn)
        x = (attn @ v).transpose(1, 2).reshape(B_, N, C)
        return self.proj(x)


class SwinTransformerBlock(nn.Module):
    def __init__(self, dim, input_resolution, num_heads, window_size=2, shift_size=0, mlp_ratio=2.,
                 drop_path=0., norm_layer=nn.LayerNorm):
        super().__init__()
        self.dim, self.input_resolution, self.num_heads = dim, input_resolution, num_heads
        self.window_size, self.shift_size = window_size, shift_size
        if min(self.input_resolution) <= self.window_size:
            # the window covers the whole map: no partition, no shift
            self.shift_size = 0
            self.window_size = min(self.input_resolution)
        self.norm1 = norm_layer(dim)
        self.attn = WindowAttention(dim, (self.window_size, self.window_size), num_heads)
        self.drop_path = DropPath(drop_path) if drop_path > 0. else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        if self.shift_size > 0:
            H, W = self.input_resolution
            img_mask = torch.zeros((1, H, W, 1))
            regions = (slice(0, -self.window_size), slice(-self.window_size, -self.shift_size),
                       slice(-self.shift_size, None))
            cnt = 0
            for h in regions:
                for w in regions:
                    img_mask[:, h, w, :] = cnt
                    cnt += 1
            mask_windows = window_partition(img_mask, self.window_size).view(-1, self.window_size * self.window_size)
            attn_mask = mask_windows.unsqueeze(1) - mask_windows.unsqueeze(2)
            attn_mask = attn_mask.masked_fill(attn_mask != 0, float(-100.0)).masked_fill(attn_mask == 0, float(0.0))
        else:
            attn_mask = None
        self.register_buffer("attn_mask", attn_mask)

    def forward(self, x):
        H, W = self.input_resolution
        B, L, C = x.shape
        shortcut = x
        x = self.norm1(x).view(B, H, W, C)
        if self.shift_size > 0:
            shifted_x = torch.roll(x, shifts=(-self.shift_size, -self.shift_size), dims=(1, 2))
        else:
            shifted_x = x
        x_windows = window_partition(shifted_x, self.window_size).view(-1, self.window_size * self.window_size, C)
        attn_windows = self.attn(x_windows, mask=self.attn_mask).view(-1, self.window_size, self.window_size, C)
        shifted_x = window_reverse(attn_windows, self.window_size, H, W)
        if self.shift_size > 0:
            x = torch.roll(shifted_x, shifts=(self.shift_size, self.shift_size), dims=(1, 2))
        else:
            x = shifted_x
        x = shortcut + self.drop_path(x.view(B, H * W, C))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class PatchMerging(nn.Module):
    """(B, H*W, C) -> (B, H/2*W/2, 2C): each 2x2 neighbourhood's four tokens concatenated, normed, projected."""

    def __init__(self, input_resolution, dim, norm_layer=nn.LayerNorm):
        super().__init__()
        self.input_resolution, self.dim = input_resolution, dim
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = norm_layer(4 * dim)

    def forward(self, x):
        H, W = self.input_resolution
        B, L, C = x.shape
        x = x.view(B, H, W, C)
        x0 = x[:, 0::2, 0::2, :]
        x1 = x[:, 1::2, 0::2, :]
        x2 = x[:, 0::2, 1::2, :]
        x3 = x[:, 1::2, 1::2, :]
        x = torch.cat([x0, x1, x2, x3], -1).view(B, -1, 4 * C)
        return self.reduction(self.norm(x))


class BasicLayer(nn.Module):
    def __init__(self, dim, input_resolution, depth, num_heads, window_size, drop_path, downsample=None):
        super().__init__()
        self.blocks = nn.ModuleList([
            SwinTransformerBlock(dim, input_resolution, num_heads, window_size,
                                 shift_size=0 if (i % 2 == 0) else window_size // 2, drop_path=drop_path[i])
            for i in range(depth)])
        self.downsample = downsample(input_resolution, dim=dim) if downsample is not None else None

    def forward(self, x):
        for blk in self.blocks:
            x = blk(x)
        if self.downsample is not None:
            x = self.downsample(x)
        return x


class PatchEmbed(nn.Module):
    def __init__(self, img_size, patch_size, in_chans, embed_dim):
        super().__init__()
        self.patches_resolution = [img_size // patch_size, img_size // patch_size]
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x):
        return self.norm(self.proj(x).flatten(2).transpose(1, 2))   # B, Ph*Pw, C


class SwinTransformer(nn.Module):
    def __init__(self, img_size=8, patch_size=2, in_chans=3, num_classes=3, embed_dim=8, depths=(2, 2),
                 num_heads=(2, 4), window_size=2, drop_path_rate=0.2):
        super().__init__()
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        resolution = self.patch_embed.patches_resolution
        dpr = [x.item() for x in torch.linspace(0, drop_path_rate, sum(depths))]   # stochastic depth decay rule
        self.layers = nn.ModuleList()
        for i_layer in range(len(depths)):
            layer = BasicLayer(dim=int(embed_dim * 2 ** i_layer),
                               input_resolution=(resolution[0] // (2 ** i_layer), resolution[1] // (2 ** i_layer)),
                               depth=depths[i_layer], num_heads=num_heads[i_layer], window_size=window_size,
                               drop_path=dpr[sum(depths[:i_layer]):sum(depths[:i_layer + 1])],
                               downsample=PatchMerging if (i_layer < len(depths) - 1) else None)
            self.layers.append(layer)
        self.num_features = int(embed_dim * 2 ** (len(depths) - 1))
        self.norm = nn.LayerNorm(self.num_features)
        self.avgpool = nn.AdaptiveAvgPool1d(1)
        self.head = nn.Linear(self.num_features, num_classes)
        self.apply(self._init_weights)

    def _init_weights(self, m):
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=.02)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.LayerNorm):
            nn.init.constant_(m.bias, 0)
            nn.init.constant_(m.weight, 1.0)

    def no_weight_decay_keywords(self):
        return {"relative_position_bias_table"}

    def forward(self, x):
        x = self.patch_embed(x)
        for layer in self.layers:
            x = layer(x)
        x = self.norm(x)                               # B, L, C
        x = torch.flatten(self.avgpool(x.transpose(1, 2)), 1)
        return self.head(x)


def set_weight_decay(model, skip_keywords=()):
    has_decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if len(param.shape) == 1 or name.endswith(".bias") or any(k in name for k in skip_keywords):
            no_decay.append(param)
        else:
            has_decay.append(param)
    return [{"params": has_decay}, {"params": no_decay, "weight_decay": 0.}]


def make_model():
    return SwinTransformer()


def train(model, images, labels, steps, lr=2e-3):
    optimizer = optim.AdamW(set_weight_decay(model, model.no_weight_decay_keywords()), lr=lr, weight_decay=0.05)
    model.train()
    losses, norms = [], []
    for step in range(steps):
        samples, targets = torch.from_numpy(images[step % len(images)]), torch.from_numpy(labels[step % len(labels)])
        outputs = model(samples)
        loss = F.cross_entropy(outputs, targets)
        optimizer.zero_grad()
        loss.backward()
        norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0).item())
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(images[0]))
    return losses, norms, logits.numpy()
'''


MAE = '''
def get_1d_sincos_pos_embed_from_grid(embed_dim, pos):
    """pos: any shape of M positions -> (M, D): sines then cosines of the positions at D/2 frequencies."""
    omega = torch.arange(embed_dim // 2, dtype=torch.float64) / (embed_dim / 2.)
    omega = 1. / 10000 ** omega
    out = torch.einsum("m,d->md", pos.reshape(-1).double(), omega)
    return torch.cat([torch.sin(out), torch.cos(out)], dim=1)


def get_2d_sincos_pos_embed(embed_dim, grid_size, cls_token=False):
    """(grid_size * grid_size (+ 1), embed_dim): half the channels encode the row, half the column."""
    grid_h = torch.arange(grid_size, dtype=torch.float32)
    grid_w = torch.arange(grid_size, dtype=torch.float32)
    grid = torch.stack(torch.meshgrid(grid_w, grid_h, indexing="xy"), dim=0)   # w goes first, as np.meshgrid
    grid = grid.reshape([2, 1, grid_size, grid_size])
    emb_h = get_1d_sincos_pos_embed_from_grid(embed_dim // 2, grid[0])
    emb_w = get_1d_sincos_pos_embed_from_grid(embed_dim // 2, grid[1])
    pos_embed = torch.cat([emb_h, emb_w], dim=1)
    if cls_token:
        pos_embed = torch.cat([torch.zeros([1, embed_dim], dtype=pos_embed.dtype), pos_embed], dim=0)
    return pos_embed


class PatchEmbed(nn.Module):
    def __init__(self, img_size, patch_size, in_chans, embed_dim):
        super().__init__()
        self.num_patches = (img_size // patch_size) ** 2
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4).unbind(0)
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, N, C))


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio=2., norm_layer=nn.LayerNorm):
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = Attention(dim, num_heads)
        self.norm2 = norm_layer(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, int(dim * mlp_ratio)), nn.GELU(), nn.Linear(int(dim * mlp_ratio), dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class MaskedAutoencoderViT(nn.Module):
    def __init__(self, img_size=8, patch_size=2, in_chans=3, embed_dim=16, depth=2, num_heads=2,
                 decoder_embed_dim=8, decoder_depth=1, decoder_num_heads=2, mlp_ratio=2.,
                 norm_layer=partial(nn.LayerNorm, eps=1e-6), norm_pix_loss=True):
        super().__init__()
        # encoder
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        num_patches = self.patch_embed.num_patches
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, embed_dim), requires_grad=False)   # fixed
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, mlp_ratio, norm_layer=norm_layer)
                                     for i in range(depth)])
        self.norm = norm_layer(embed_dim)
        # decoder
        self.decoder_embed = nn.Linear(embed_dim, decoder_embed_dim, bias=True)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dim))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, decoder_embed_dim), requires_grad=False)
        self.decoder_blocks = nn.ModuleList([Block(decoder_embed_dim, decoder_num_heads, mlp_ratio,
                                                   norm_layer=norm_layer) for i in range(decoder_depth)])
        self.decoder_norm = norm_layer(decoder_embed_dim)
        self.decoder_pred = nn.Linear(decoder_embed_dim, patch_size ** 2 * in_chans, bias=True)
        self.patch_size, self.norm_pix_loss = patch_size, norm_pix_loss
        self.initialize_weights()

    def initialize_weights(self):
        grid = int(self.patch_embed.num_patches ** .5)
        with torch.no_grad():
            self.pos_embed.copy_(get_2d_sincos_pos_embed(self.pos_embed.shape[-1], grid, True).float().unsqueeze(0))
            self.decoder_pos_embed.copy_(
                get_2d_sincos_pos_embed(self.decoder_pos_embed.shape[-1], grid, True).float().unsqueeze(0))
        w = self.patch_embed.proj.weight   # initialised as a Linear's: (out, in * p * p)
        nn.init.xavier_uniform_(w.view([w.shape[0], -1]))
        nn.init.normal_(self.cls_token, std=.02)
        nn.init.normal_(self.mask_token, std=.02)
        self.apply(self._init_weights)

    def _init_weights(self, m):
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.LayerNorm):
            nn.init.constant_(m.bias, 0)
            nn.init.constant_(m.weight, 1.0)

    def patchify(self, imgs):
        """(N, 3, H, W) -> (N, L, p*p*3)"""
        p = self.patch_size
        h = w = imgs.shape[2] // p
        x = imgs.reshape(shape=(imgs.shape[0], 3, h, p, w, p))
        x = torch.einsum("nchpwq->nhwpqc", x)
        return x.reshape(shape=(imgs.shape[0], h * w, p ** 2 * 3))

    def unpatchify(self, x):
        """(N, L, p*p*3) -> (N, 3, H, W)"""
        p = self.patch_size
        h = w = int(x.shape[1] ** .5)
        x = x.reshape(shape=(x.shape[0], h, w, p, p, 3))
        x = torch.einsum("nhwpqc->nchpwq", x)
        return x.reshape(shape=(x.shape[0], 3, h * p, h * p))

    def random_masking(self, x, mask_ratio):
        """Keep a random (1 - mask_ratio) of each sample's patches: the sample's patches sorted by noise, the
        first len_keep kept. Returns the kept patches, the mask (0 kept, 1 removed) and the unshuffling order."""
        N, L, D = x.shape
        len_keep = int(L * (1 - mask_ratio))
        noise = torch.rand(N, L, device=x.device)
        ids_shuffle = torch.argsort(noise, dim=1)   # ascend: small is keep, large is remove
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        ids_keep = ids_shuffle[:, :len_keep]
        x_masked = torch.gather(x, dim=1, index=ids_keep.unsqueeze(-1).repeat(1, 1, D))
        mask = torch.ones([N, L], device=x.device)
        mask[:, :len_keep] = 0
        mask = torch.gather(mask, dim=1, index=ids_restore)
        return x_masked, mask, ids_restore

    def forward_encoder(self, x, mask_ratio):
        x = self.patch_embed(x)
        x = x + self.pos_embed[:, 1:, :]
        x, mask, ids_restore = self.random_masking(x, mask_ratio)
        cls_token = self.cls_token + self.pos_embed[:, :1, :]
        cls_tokens = cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat((cls_tokens, x), dim=1)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x), mask, ids_restore

    def forward_decoder(self, x, ids_restore):
        x = self.decoder_embed(x)
        mask_tokens = self.mask_token.repeat(x.shape[0], ids_restore.shape[1] + 1 - x.shape[1], 1)
        x_ = torch.cat([x[:, 1:, :], mask_tokens], dim=1)                 # no cls token
        x_ = torch.gather(x_, dim=1, index=ids_restore.unsqueeze(-1).repeat(1, 1, x.shape[2]))   # unshuffle
        x = torch.cat([x[:, :1, :], x_], dim=1)                          # cls token back
        x = x + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            x = blk(x)
        x = self.decoder_pred(self.decoder_norm(x))
        return x[:, 1:, :]

    def forward_loss(self, imgs, pred, mask):
        target = self.patchify(imgs)
        if self.norm_pix_loss:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + 1.e-6) ** .5
        loss = (pred - target) ** 2
        loss = loss.mean(dim=-1)                       # mean loss per patch
        return (loss * mask).sum() / mask.sum()        # on removed patches only

    def forward(self, imgs, mask_ratio=0.75):
        latent, mask, ids_restore = self.forward_encoder(imgs, mask_ratio)
        pred = self.forward_decoder(latent, ids_restore)
        return self.forward_loss(imgs, pred, mask), pred, mask


def make_model():
    return MaskedAutoencoderViT()


def get_layer_id(name, num_layers):
    """0 for the embeddings, i + 1 for encoder block i, num_layers for everything after the encoder."""
    if name in ("cls_token", "pos_embed") or name.startswith("patch_embed"):
        return 0
    if name.startswith("blocks."):
        return int(name.split(".")[1]) + 1
    return num_layers


def param_groups_lrd(model, weight_decay=0.05, layer_decay=.75):
    """Parameter groups by (layer, decay or not), each with its "lr_scale" = layer_decay ** (depth above it)."""
    num_layers = len(model.blocks) + 1
    layer_scales = [layer_decay ** (num_layers - i) for i in range(num_layers + 1)]
    param_groups = {}
    for n, p in model.named_parameters():
        if not p.requires_grad:
            continue   # the fixed position embeddings
        if p.ndim == 1 or n in ("cls_token", "mask_token"):
            g_decay, this_decay = "no_decay", 0.
        else:
            g_decay, this_decay = "decay", weight_decay
        layer_id = get_layer_id(n, num_layers)
        group_name = "layer_%d_%s" % (layer_id, g_decay)
        if group_name not in param_groups:
            param_groups[group_name] = {"lr_scale": layer_scales[layer_id], "weight_decay": this_decay, "params": []}
        param_groups[group_name]["params"].append(p)
    return list(param_groups.values())


def adjust_learning_rate(optimizer, epoch, lr, min_lr, warmup_epochs, epochs):
    """Linear warmup, then a half-cycle cosine down to min_lr; epoch may be fractional (per iteration)."""
    if epoch < warmup_epochs:
        lr = lr * epoch / warmup_epochs
    else:
        progress = (epoch - warmup_epochs) / (epochs - warmup_epochs)
        lr = min_lr + (lr - min_lr) * 0.5 * (1. + math.cos(math.pi * progress))
    for param_group in optimizer.param_groups:
        if "lr_scale" in param_group:
            param_group["lr"] = lr * param_group["lr_scale"]
        else:
            param_group["lr"] = lr
    return lr


def train(model, images, steps, lr=1e-3):
    optimizer = optim.AdamW(param_groups_lrd(model), lr=lr, betas=(0.9, 0.95))
    model.train(True)
    losses, lrs, masks = [], [], []
    for step in range(steps):
        adjust_learning_rate(optimizer, step / len(images), lr, 1e-5, 1, steps / len(images))
        lrs.append([group["lr"] for group in optimizer.param_groups])
        samples = torch.from_numpy(images[step % len(images)])
        loss, pred, mask = model(samples, mask_ratio=0.75)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        masks.append(mask.numpy())
    with torch.no_grad():
        loss, pred, mask = model(torch.from_numpy(images[0]))
        reconstruction = model.unpatchify(pred)
        round_trip = model.unpatchify(model.patchify(torch.from_numpy(images[0])))
    return losses, lrs, masks, reconstruction.numpy(), round_trip.numpy()
'''


SMALL_CNNS = '''
def _make_divisible(v, divisor, min_value=None):
    """v rounded to the nearest multiple of divisor, never below min_value nor 10 % below v."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class ConvBNReLU(nn.Sequential):
    def __init__(self, in_planes, out_planes, kernel_size=3, stride=1, groups=1):
        padding = (kernel_size - 1) // 2
        super().__init__(
            nn.Conv2d(in_planes, out_planes, kernel_size, stride, padding, groups=groups, bias=False),
            nn.BatchNorm2d(out_planes),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    """1x1 expansion, 3x3 depthwise, 1x1 linear projection (no activation: the linear bottleneck)."""

    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(ConvBNReLU(inp, hidden_dim, kernel_size=1))
        layers.extend([
            ConvBNReLU(hidden_dim, hidden_dim, stride=stride, groups=hidden_dim),
            nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),
            nn.BatchNorm2d(oup),
        ])
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, num_classes=3, width_mult=1.0, round_nearest=4, dropout=0.0):
        super().__init__()
        input_channel, last_channel = 8, 32
        inverted_residual_setting = [
            # t, c, n, s
            [1, 8, 1, 1],
            [4, 12, 2, 2],
        ]
        input_channel = _make_divisible(input_channel * width_mult, round_nearest)
        self.last_channel = _make_divisible(last_channel * max(1.0, width_mult), round_nearest)
        features = [ConvBNReLU(3, input_channel, stride=2)]
        for t, c, n, s in inverted_residual_setting:
            output_channel = _make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                stride = s if i == 0 else 1
                features.append(InvertedResidual(input_channel, output_channel, stride, expand_ratio=t))
                input_channel = output_channel
        features.append(ConvBNReLU(input_channel, self.last_channel, kernel_size=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.last_channel, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.features(x)
        x = nn.functional.adaptive_avg_pool2d(x, (1, 1))
        return self.classifier(torch.flatten(x, 1))


def drop_connect(inputs, p, training):
    """Drop the whole residual branch of a sample with probability p (one uniform draw per sample)."""
    if not training:
        return inputs
    batch_size = inputs.shape[0]
    keep_prob = 1 - p
    random_tensor = keep_prob
    random_tensor += torch.rand([batch_size, 1, 1, 1], dtype=inputs.dtype, device=inputs.device)
    binary_tensor = torch.floor(random_tensor)
    return inputs / keep_prob * binary_tensor


class SqueezeExcitation(nn.Module):
    def __init__(self, input_channels, squeeze_channels):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = nn.SiLU()
        self.scale_activation = nn.Sigmoid()

    def forward(self, input):
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(input)))))
        return scale * input


class MBConvBlock(nn.Module):
    """Expansion 1x1, depthwise kxk, squeeze-and-excitation, projection 1x1, and the identity skip with
    drop_connect when the shapes allow."""

    def __init__(self, inp, oup, expand_ratio, kernel_size, stride, se_ratio=0.25, drop_connect_rate=0.2):
        super().__init__()
        hidden = inp * expand_ratio
        self.id_skip = stride == 1 and inp == oup
        self.drop_connect_rate = drop_connect_rate
        self._expand_conv = nn.Conv2d(inp, hidden, 1, bias=False)
        self._bn0 = nn.BatchNorm2d(hidden, momentum=0.01, eps=1e-3)
        self._depthwise_conv = nn.Conv2d(hidden, hidden, kernel_size, stride, padding=kernel_size // 2,
                                         groups=hidden, bias=False)
        self._bn1 = nn.BatchNorm2d(hidden, momentum=0.01, eps=1e-3)
        self._se = SqueezeExcitation(hidden, max(1, int(inp * se_ratio)))
        self._project_conv = nn.Conv2d(hidden, oup, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(oup, momentum=0.01, eps=1e-3)
        self._swish = nn.SiLU(inplace=True)

    def forward(self, inputs):
        x = self._swish(self._bn0(self._expand_conv(inputs)))
        x = self._swish(self._bn1(self._depthwise_conv(x)))
        x = self._bn2(self._project_conv(self._se(x)))
        if self.id_skip:
            if self.drop_connect_rate:
                x = drop_connect(x, p=self.drop_connect_rate, training=self.training)
            x = x + inputs
        return x


class EfficientNetLite(nn.Module):
    def __init__(self, num_classes=3):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.SiLU(inplace=True))
        self.blocks = nn.Sequential(MBConvBlock(8, 8, 2, 3, 1), MBConvBlock(8, 12, 2, 3, 2, drop_connect_rate=0.),
                                    MBConvBlock(12, 12, 2, 3, 1))
        self.head = nn.Sequential(nn.Conv2d(12, 24, 1, bias=False), nn.BatchNorm2d(24), nn.SiLU(inplace=True),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(24, num_classes))

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))


class _DenseLayer(nn.Module):
    def __init__(self, num_input_features, growth_rate, bn_size):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, kernel_size=1, stride=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, stride=1, padding=1, bias=False)

    def bn_function(self, inputs):
        concated_features = torch.cat(inputs, 1)
        return self.conv1(self.relu1(self.norm1(concated_features)))

    def forward(self, input):
        prev_features = [input] if isinstance(input, torch.Tensor) else input
        bottleneck_output = self.bn_function(prev_features)
        return self.conv2(self.relu2(self.norm2(bottleneck_output)))


class _DenseBlock(nn.ModuleDict):
    def __init__(self, num_layers, num_input_features, bn_size, growth_rate):
        super().__init__()
        for i in range(num_layers):
            self.add_module("denselayer%d" % (i + 1),
                            _DenseLayer(num_input_features + i * growth_rate, growth_rate, bn_size))

    def forward(self, init_features):
        features = [init_features]
        for name, layer in self.items():
            features.append(layer(features))
        return torch.cat(features, 1)


class _Transition(nn.Sequential):
    def __init__(self, num_input_features, num_output_features):
        super().__init__()
        self.norm = nn.BatchNorm2d(num_input_features)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(num_input_features, num_output_features, kernel_size=1, stride=1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


class DenseNet(nn.Module):
    def __init__(self, growth_rate=4, block_config=(2, 2), num_init_features=8, bn_size=2, num_classes=3):
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(3, num_init_features, kernel_size=3, stride=1, padding=1, bias=False)),
            ("norm0", nn.BatchNorm2d(num_init_features)),
            ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        ]))
        num_features = num_init_features
        for i, num_layers in enumerate(block_config):
            block = _DenseBlock(num_layers, num_features, bn_size, growth_rate)
            self.features.add_module("denseblock%d" % (i + 1), block)
            num_features = num_features + num_layers * growth_rate
            if i != len(block_config) - 1:
                trans = _Transition(num_features, num_features // 2)
                self.features.add_module("transition%d" % (i + 1), trans)
                num_features = num_features // 2
        self.features.add_module("norm5", nn.BatchNorm2d(num_features))
        self.classifier = nn.Linear(num_features, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0)

    def forward(self, x):
        features = self.features(x)
        out = F.relu(features, inplace=True)
        out = F.adaptive_avg_pool2d(out, (1, 1))
        return self.classifier(torch.flatten(out, 1))


def make_model(name):
    return {"mobilenet_v2": MobileNetV2, "efficientnet": EfficientNetLite, "densenet": DenseNet}[name]()


def train(model, images, labels, steps, schedule, lr=0.1):
    dtype = next(model.parameters()).dtype
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=4e-5)
    if schedule == "cosine":
        scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    else:
        scheduler = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    model.train()
    losses, lrs, momenta = [], [], []
    for step in range(steps):
        inputs = torch.from_numpy(images[step % len(images)]).to(dtype)
        targets = torch.from_numpy(labels[step % len(labels)])
        loss = F.cross_entropy(model(inputs), targets, label_smoothing=0.1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        lrs.append(optimizer.param_groups[0]["lr"])
        momenta.append(optimizer.param_groups[0]["momentum"])
        scheduler.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(images[0]).to(dtype))
    return losses, lrs, momenta, logits.numpy()
'''

PROGRAMS = (SWIN, MAE, SMALL_CNNS)


def _twins(source: str, *args: Any) -> tuple:
    return _twin_models(source, *args, imports=(TORCH_IMPORTS_VISION2, MINIGRAD_IMPORTS_VISION2))


def _images(seed: int, count: int, batch: int = 4, size: int = 8, classes: int = 3) -> tuple:
    """``count`` batches of (batch, 3, size, size) float32 images whose class shifts one channel's mean, labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, (count, batch))
    images = rng.standard_normal((count, batch, 3, size, size)) * 0.5
    for index in np.ndindex(count, batch):
        images[index][labels[index] % 3] += 1.0
    return images.astype(np.float32), labels.astype(np.int64)


def _assert_state_close(mg_model: Any, torch_model: Any, rtol: float, atol: float) -> None:
    """Every parameter and buffer of the two trained models, by name. The key third of a ``qkv.bias`` is left out:
    softmax ignores a shift of all of a query's scores, so its true gradient is 0 and its Adam steps follow the sign
    of rounding noise, which differs between any two implementations."""
    ours = {k: v.numpy() for k, v in mg_model.state_dict().items()}
    theirs = {k: v.detach().numpy() for k, v in torch_model.state_dict().items()}
    assert ours.keys() == theirs.keys()
    for name, value in theirs.items():
        if name.endswith("qkv.bias"):
            third = len(value) // 3
            ours[name], value = np.delete(ours[name], np.s_[third:2 * third]), np.delete(value, np.s_[third:2 * third])
        np.testing.assert_allclose(ours[name], value, rtol=rtol, atol=atol, err_msg=name)


def _restart_in_float64(torch: Any, torch_model: Any, mg_model: Any, initial: dict) -> None:
    """Both models back at the initial weights, then ``.double()``."""
    torch_model.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in initial.items()})
    mg_model.load_state_dict(initial)
    torch_model.double()
    mg_model.double()


def test_the_programs_differ_only_in_their_imports() -> None:
    assert TORCH_IMPORTS_VISION2.splitlines()[:2] == MINIGRAD_IMPORTS_VISION2.splitlines()[:2]
    assert TORCH_IMPORTS_VISION2.endswith(TORCH_IMPORTS) and MINIGRAD_IMPORTS_VISION2.endswith(MINIGRAD_IMPORTS)
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. Swin Transformer


def test_swin_transformer_shifted_windows(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two stages (shifted and unshifted windows, patch merging), DropPath masks from shared draws, AdamW over two
    parameter groups, clip_grad_norm_: losses, norms, final weights and eval logits as torch's."""
    images, labels = _images(0, 3)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(SWIN)
    block = mg_model.layers[0].blocks[1]
    torch_block = torch_model.layers[0].blocks[1]
    # the buffers: the relative position index and the shifted-window mask (None in the unshifted blocks)
    np.testing.assert_array_equal(block.attn.relative_position_index.numpy(),
                                  torch_block.attn.relative_position_index.numpy())
    assert block.attn.relative_position_index.dtype == mg_program["torch"].int64
    np.testing.assert_array_equal(block.attn_mask.numpy(), torch_block.attn_mask.numpy())
    assert mg_model.layers[0].blocks[0].attn_mask is None
    assert [name for name, _ in mg_model.named_buffers()] == [name for name, _ in torch_model.named_buffers()]
    x = torch_program["torch"].randn(2, 4, 4, 3)
    windows = mg_program["window_partition"](mg_program["torch"].from_numpy(x.numpy()), 2)
    np.testing.assert_array_equal(windows.numpy(), torch_program["window_partition"](x, 2).numpy())
    np.testing.assert_array_equal(mg_program["window_reverse"](windows, 2, 4, 4).numpy(), x.numpy())
    _shared_draws(monkeypatch, torch, 0)
    expected = torch_program["train"](torch_model, images, labels, 4)
    losses, norms, logits = mg_program["train"](mg_model, images, labels, 4)
    np.testing.assert_allclose(losses, expected[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(norms, expected[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logits, expected[2], rtol=1e-5, atol=1e-5)
    _assert_state_close(mg_model, torch_model, rtol=1e-5, atol=1e-6)
    assert any(not np.array_equal(v.numpy(), initial[k].numpy()) for k, v in mg_model.state_dict().items())
    # float64: .double() converts the float mask buffer too and keeps the int64 index
    _restart_in_float64(torch, torch_model, mg_model, initial)
    assert block.attn_mask.dtype == mg_program["torch"].float64
    assert block.attn.relative_position_index.dtype == mg_program["torch"].int64
    expected = torch_program["train"](torch_model, images.astype(np.float64), labels, 2)
    losses, norms, logits = mg_program["train"](mg_model, images.astype(np.float64), labels, 2)
    np.testing.assert_allclose(losses, expected[0], rtol=1e-10)
    np.testing.assert_allclose(norms, expected[1], rtol=1e-10)
    np.testing.assert_allclose(logits, expected[2], rtol=1e-10, atol=1e-12)
    _assert_state_close(mg_model, torch_model, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------- 2. MAE


def test_masked_autoencoder(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sin-cos position embeddings each engine computes, then training on the masked patches (masking noise
    from shared draws): losses, learning rates, masks, reconstructions and final weights as torch's."""
    images, _ = _images(1, 2)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(MAE)
    fresh = mg_program["make_model"]()   # its own fixed embeddings, before the copy of torch's weights
    for name in ("pos_embed", "decoder_pos_embed"):
        np.testing.assert_allclose(getattr(fresh, name).numpy(), getattr(torch_model, name).detach().numpy(),
                                   rtol=1e-6, atol=1e-7, err_msg=name)
        assert not getattr(fresh, name).requires_grad
    _shared_draws(monkeypatch, torch, 1)
    expected = torch_program["train"](torch_model, images, 4)
    losses, lrs, masks, reconstruction, round_trip = mg_program["train"](mg_model, images, 4)
    np.testing.assert_allclose(losses, expected[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lrs, expected[1], rtol=1e-12)
    assert len(lrs[-1]) == 8 and len(set(lrs[-1])) == 4   # four layers' scales, with and without decay
    for ours, theirs in zip(masks, expected[2]):
        np.testing.assert_array_equal(ours, theirs)
        assert (ours.sum(1) == 12).all()   # 75 % of the 16 patches masked
    np.testing.assert_allclose(reconstruction, expected[3], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(round_trip, images[0])
    np.testing.assert_array_equal(round_trip, expected[4])
    _assert_state_close(mg_model, torch_model, rtol=1e-5, atol=1e-6)
    assert any(not np.array_equal(v.numpy(), initial[k].numpy()) for k, v in mg_model.state_dict().items())
    _restart_in_float64(torch, torch_model, mg_model, initial)
    expected = torch_program["train"](torch_model, images.astype(np.float64), 2)
    losses, lrs, masks, reconstruction, round_trip = mg_program["train"](mg_model, images.astype(np.float64), 2)
    np.testing.assert_allclose(losses, expected[0], rtol=1e-10)
    np.testing.assert_allclose(reconstruction, expected[3], rtol=1e-10, atol=1e-12)
    _assert_state_close(mg_model, torch_model, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------- 3. MobileNetV2, MBConv, DenseNet


@pytest.mark.parametrize(("name", "schedule"), [("mobilenet_v2", "cosine"), ("efficientnet", "onecycle"),
                                                ("densenet", "onecycle")])
def test_small_cnns_with_nesterov_sgd(torch: Any, monkeypatch: pytest.MonkeyPatch, name: str, schedule: str) -> None:
    """A few Nesterov SGD steps with label smoothing under a schedule, in float32 then float64 from the same
    initial weights: losses, learning rates, momenta, eval logits, weights and BatchNorm statistics."""
    images, labels = _images(2, 3)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(SMALL_CNNS, name)
    for dtype_name, steps, rtol, atol in (("float32", 3, 1e-5, 1e-6), ("float64", 2, 1e-10, 1e-12)):
        if dtype_name == "float64":
            _restart_in_float64(torch, torch_model, mg_model, initial)
        _shared_draws(monkeypatch, torch, 3)
        expected = torch_program["train"](torch_model, images, labels, steps, schedule)
        losses, lrs, momenta, logits = mg_program["train"](mg_model, images, labels, steps, schedule)
        np.testing.assert_allclose(losses, expected[0], rtol=rtol, atol=atol, err_msg=dtype_name)
        assert lrs == pytest.approx(expected[1], rel=1e-12) and momenta == pytest.approx(expected[2], rel=1e-12)
        np.testing.assert_allclose(logits, expected[3], rtol=rtol, atol=atol, err_msg=dtype_name)
        _assert_state_close(mg_model, torch_model, rtol=rtol, atol=atol)


def test_a_parameter_group_keeps_the_programs_own_entries() -> None:
    """As PyTorch's: a group's own keys (MAE's "lr_scale", a "name") stay in the group, in the state dict and
    through load_state_dict; another optimizer's hyper-parameter is still refused as a mistake."""
    weight, bias = mg.ones(2, 2, requires_grad=True), mg.zeros(2, requires_grad=True)
    optimizer = optim.AdamW([{"params": [weight], "lr_scale": 0.5, "name": "decay"},
                             {"params": [bias], "lr_scale": 1.0, "weight_decay": 0.0}], lr=1e-3)
    assert [group["lr_scale"] for group in optimizer.param_groups] == [0.5, 1.0]
    assert optimizer.param_groups[0]["name"] == "decay" and optimizer.param_groups[0]["weight_decay"] == 0.01
    (weight.sum() + bias.sum()).backward()
    optimizer.step()
    state = optimizer.state_dict()
    assert state["param_groups"][0]["lr_scale"] == 0.5 and state["param_groups"][0]["name"] == "decay"
    state["param_groups"][0]["lr_scale"] = 0.25
    optimizer.load_state_dict(state)
    assert optimizer.param_groups[0]["lr_scale"] == 0.25
    with pytest.raises(TypeError, match=r"unknown hyper-parameter\(s\) \['betas'\]"):
        optim.SGD([{"params": [weight], "betas": (0.9, 0.99)}], lr=0.1)
    state["param_groups"][0]["momentum"] = 0.9
    with pytest.raises(ValueError, match=r"unknown hyper-parameter\(s\) \['momentum'\]"):
        optimizer.load_state_dict(state)


@pytest.mark.parametrize("call", ["dropout1d", "adaptive_avg_pool1d", "adaptive_max_pool1d"])
def test_one_dimensional_layers_refuse_a_4d_input_as_runtime_error_too(call: str) -> None:
    """torch raises RuntimeError for a 4-D input to these 1-D functions (a program's ``except RuntimeError``);
    ours is a ValueError that is also a RuntimeError."""
    args = (0.5,) if call == "dropout1d" else (1,)
    with pytest.raises(RuntimeError, match="expected a 2-D") as error:
        getattr(nn.functional, call)(mg.ones(2, 3, 4, 4), *args)
    assert isinstance(error.value, ValueError)
