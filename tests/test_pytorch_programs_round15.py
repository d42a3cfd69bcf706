"""Three contrastive-learning programs, small, run unchanged on torch and on minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program: it keeps the original's PyTorch calls and
habits in the same roles, with our own names, structure and comments, a tiny model, a few steps and generated
images and token strings (the helpers and the rule come from tests/test_pytorch_programs.py and
tests/test_pytorch_programs_generative.py). Each runs in float32 (1e-5) and in float64, where the losses, the last
gradients and the final weights must agree to 1e-10.

* ``CLIP`` follows openai/CLIP's ``model.py`` and mlfoundations/open_clip's training loop: a ``LayerNorm`` subclass
  that hands back the input's dtype (``x.to(orig_type)``), ``QuickGELU`` (``x * torch.sigmoid(1.702 * x)``),
  ``ResidualAttentionBlock`` on a sequence-first ``nn.MultiheadAttention(need_weights=False, attn_mask=...)``
  with an ``nn.Sequential(OrderedDict([...]))`` MLP, an additive causal mask built by ``torch.empty(n, n)``,
  ``fill_(float("-inf"))`` and ``triu_(1)`` and moved with ``.to(dtype=x.dtype, device=x.device)`` on each call, a
  ``VisionTransformer`` (patches by a strided ``Conv2d``, ``reshape``/``permute``, a class token added to
  ``torch.zeros(..., dtype=x.dtype, device=x.device)``, ``x @ self.proj``), ``initialize_parameters`` with
  ``nn.init.normal_`` on ``in_proj_weight`` and the rest, the text's end token pooled by
  ``x[torch.arange(x.shape[0]), text.argmax(dim=-1)]``, a ``dtype`` property and ``.type(self.dtype)``, the
  learnable temperature ``nn.Parameter(torch.ones([]) * math.log(1 / 0.07))`` read by ``.exp()`` (CLIP writes
  ``np.log(1 / 0.07)``: a NumPy float64 scalar keeps its dtype here, README "Coming from PyTorch", so that
  parameter would be float64; ``math.log`` is the documented spelling); training as
  open_clip does it: AdamW over two parameter groups picked by ``p.ndim < 2 or "ln" in n or "bias" in n or
  "logit_scale" in n``, ``betas=(0.9, 0.98), eps=1e-6``, the warmup-cosine ``assign_learning_rate``, the symmetric
  cross entropy with ``torch.arange`` labels (CLIP's ``logits_per_image.t()`` form and open_clip's ``ClipLoss``
  over ``F.normalize``-d features) or open_clip's ``SigLipLoss`` (a learnable ``logit_bias`` added in place with
  ``logits += logit_bias``, labels ``2 * torch.eye(n) + -torch.ones((n, n))``, ``-F.logsigmoid(labels * logits)
  .sum() / n``), ``clip_grad_norm_``, the scale clamped after each step with
  ``model.logit_scale.clamp_(0, math.log(100))`` under ``torch.no_grad()``; then zero-shot classification with
  prompt ensembles (``/=`` of norms in place, ``torch.stack(..., dim=1)``, ``(100.0 * f @ W).softmax(dim=-1)``,
  ``topk``) under ``@torch.no_grad()``.
* ``SIMCLR`` follows sthalles/SimCLR (``simclr.py``, ``models/resnet_simclr.py``, ``utils.accuracy``, the linear
  evaluation notebook) with Spijkervet/SimCLR's ``NT_Xent`` computed beside it: the backbone's ``fc`` wrapped in an
  MLP head (``nn.Sequential(nn.Linear(dim_mlp, dim_mlp), nn.ReLU(), self.backbone.fc)``), a
  ``ContrastiveLearningViewGenerator`` of two views concatenated into one batch, the torchvision-style
  augmentations written on tensors (a random resized crop by ``F.affine_grid``/``F.grid_sample(padding_mode=
  "reflection")``, a flip by ``torch.flip(x, dims=[3])`` under ``torch.where``, torchvision's tensor ``ColorJitter``
  and grayscale code (``_blend`` with ``clamp``, ``unbind(dim=-3)``, the hue through ``_rgb2hsv``/``_hsv2rgb``: bool
  masks times floats, ``torch.fmod``, ``torch.floor``, an int32 ``% 6``, ``torch.einsum("...ijk, ...xijk ->
  ...xjk", ...)`` with spaces, the four adjustments in a ``torch.randperm(4)`` order read by ``if fn_id == 0``),
  a Gaussian blur by a depthwise ``F.conv2d(groups=3)`` after ``F.pad(mode="reflect")``),
  ``info_nce_loss`` (``labels.unsqueeze(0) == labels.unsqueeze(1)``, ``torch.eye(dtype=torch.bool)``,
  ``similarity_matrix[~mask].view(...)``, ``[labels.bool()]``, ``torch.cat([positives, negatives], dim=1)``), the
  ``NT_Xent`` module (``mask.fill_diagonal_(0)``, ``nn.CosineSimilarity(dim=2)`` of ``z.unsqueeze(1)`` and
  ``z.unsqueeze(0)``, ``torch.diag(sim, ±N)``, ``CrossEntropyLoss(reduction="sum")`` then ``loss /= N``), the
  ``accuracy`` helper (``topk(maxk, 1, True, True)``, ``pred.eq(target.view(1, -1).expand_as(pred))``,
  ``correct_k.mul_(100.0 / batch_size)``), Adam with weight decay under ``CosineAnnealingLR``; then the linear
  probe: the head replaced by a zero-initialised Linear, the rest frozen by ``requires_grad = False`` over
  ``named_parameters()``, ``filter(lambda p: p.requires_grad, ...)``, SGD with momentum, ``backbone.eval()``.
* ``MOCO`` follows facebookresearch/moco (``moco/builder.py``, ``main_moco.py``) as single-GPU ports write it: the
  key encoder a second copy frozen by ``requires_grad = False`` (its ``param_k.data.copy_(param_q.data)`` written
  ``with torch.no_grad(): param_k.copy_(param_q)``, minigrad's ``.data`` being the NumPy array by design, README
  "Coming from PyTorch"), the ``mlp`` hack that wraps ``fc`` in an MLP, the momentum update kept in MoCo's own
  form ``param_k.data = param_k.data * self.m + param_q.data * (1.0 - self.m)`` (it runs in both), a queue
  buffer ``torch.randn(dim, K)`` normalised with ``nn.functional.normalize`` and re-assigned over the buffer, a
  ``queue_ptr`` buffer read by ``int(...)`` and written by ``self.queue_ptr[0] = ptr``, the enqueue
  ``self.queue[:, ptr:ptr + batch_size] = keys.T``, shuffle-BN by ``torch.randperm``/``torch.argsort``, the
  logits by ``torch.einsum("nc,nc->n", [q, k])`` and ``torch.einsum("nc,ck->nk", [q, self.queue.clone().detach()])``
  (operands passed as a list), ``logits /= self.T``, ``@torch.no_grad()`` methods, ``TwoCropsTransform``, the
  cosine ``adjust_learning_rate``, SGD with momentum and weight decay.

Random draws: the two engines' generators differ, so ``randn``/``rand``/``randint`` read one NumPy stream per
library with the same seed (``_shared_draws`` of tests/test_pytorch_programs_generative.py), and ``randperm`` a
NumPy permutation stream (``_shared_randperm`` below).
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import _twin_models
from tests.test_pytorch_programs_generative import _shared_draws

TORCH_IMPORTS_CL = """\
import math
from collections import OrderedDict
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import optim
"""

MINIGRAD_IMPORTS_CL = """\
import math
from collections import OrderedDict
import minigrad as torch
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad import optim
"""

CLIP = '''
class LayerNorm(nn.LayerNorm):
    """CLIP's LayerNorm: computed in float32 for half inputs, handed back in the input's dtype."""

    def forward(self, x):
        orig_type = x.dtype
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.to(orig_type)


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, d_model, n_head, attn_mask=None):
        super().__init__()
        self.attn = nn.MultiheadAttention(d_model, n_head)
        self.ln_1 = LayerNorm(d_model)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(d_model, d_model * 4)),
            ("gelu", QuickGELU()),
            ("c_proj", nn.Linear(d_model * 4, d_model)),
        ]))
        self.ln_2 = LayerNorm(d_model)
        self.attn_mask = attn_mask

    def attention(self, x):
        self.attn_mask = self.attn_mask.to(dtype=x.dtype, device=x.device) if self.attn_mask is not None else None
        return self.attn(x, x, x, need_weights=False, attn_mask=self.attn_mask)[0]

    def forward(self, x):
        x = x + self.attention(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class Transformer(nn.Module):
    def __init__(self, width, layers, heads, attn_mask=None):
        super().__init__()
        self.width = width
        self.layers = layers
        self.resblocks = nn.Sequential(*[ResidualAttentionBlock(width, heads, attn_mask) for _ in range(layers)])

    def forward(self, x):
        return self.resblocks(x)


class VisionTransformer(nn.Module):
    """Images (B, 3, R, R) -> embeddings (B, output_dim): patches by a strided conv, a class token, pre/post norms."""

    def __init__(self, input_resolution, patch_size, width, layers, heads, output_dim):
        super().__init__()
        self.input_resolution = input_resolution
        self.output_dim = output_dim
        self.conv1 = nn.Conv2d(in_channels=3, out_channels=width, kernel_size=patch_size, stride=patch_size,
                               bias=False)
        scale = width ** -0.5
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn((input_resolution // patch_size) ** 2 + 1, width))
        self.ln_pre = LayerNorm(width)
        self.transformer = Transformer(width, layers, heads)
        self.ln_post = LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))

    def forward(self, x):
        x = self.conv1(x)  # shape = [*, width, grid, grid]
        x = x.reshape(x.shape[0], x.shape[1], -1)  # shape = [*, width, grid ** 2]
        x = x.permute(0, 2, 1)  # shape = [*, grid ** 2, width]
        x = torch.cat([self.class_embedding.to(x.dtype) + torch.zeros(x.shape[0], 1, x.shape[-1], dtype=x.dtype,
                                                                      device=x.device), x], dim=1)
        x = x + self.positional_embedding.to(x.dtype)
        x = self.ln_pre(x)
        x = x.permute(1, 0, 2)  # NLD -> LND
        x = self.transformer(x)
        x = x.permute(1, 0, 2)  # LND -> NLD
        x = self.ln_post(x[:, 0, :])
        if self.proj is not None:
            x = x @ self.proj
        return x


class CLIP(nn.Module):
    def __init__(self, embed_dim, image_resolution, vision_layers, vision_width, vision_patch_size,
                 context_length, vocab_size, transformer_width, transformer_heads, transformer_layers,
                 init_logit_scale=math.log(1 / 0.07), init_logit_bias=None):
        super().__init__()
        self.context_length = context_length
        vision_heads = vision_width // 8
        self.visual = VisionTransformer(input_resolution=image_resolution, patch_size=vision_patch_size,
                                        width=vision_width, layers=vision_layers, heads=vision_heads,
                                        output_dim=embed_dim)
        self.transformer = Transformer(width=transformer_width, layers=transformer_layers, heads=transformer_heads,
                                       attn_mask=self.build_attention_mask())
        self.vocab_size = vocab_size
        self.token_embedding = nn.Embedding(vocab_size, transformer_width)
        self.positional_embedding = nn.Parameter(torch.empty(self.context_length, transformer_width))
        self.ln_final = LayerNorm(transformer_width)
        self.text_projection = nn.Parameter(torch.empty(transformer_width, embed_dim))
        self.logit_scale = nn.Parameter(torch.ones([]) * init_logit_scale)
        self.logit_bias = nn.Parameter(torch.ones([]) * init_logit_bias) if init_logit_bias is not None else None
        self.initialize_parameters()

    def initialize_parameters(self):
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        proj_std = (self.transformer.width ** -0.5) * ((2 * self.transformer.layers) ** -0.5)
        attn_std = self.transformer.width ** -0.5
        fc_std = (2 * self.transformer.width) ** -0.5
        for block in self.transformer.resblocks:
            nn.init.normal_(block.attn.in_proj_weight, std=attn_std)
            nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
            nn.init.normal_(block.mlp.c_fc.weight, std=fc_std)
            nn.init.normal_(block.mlp.c_proj.weight, std=proj_std)
        if self.text_projection is not None:
            nn.init.normal_(self.text_projection, std=self.transformer.width ** -0.5)

    def build_attention_mask(self):
        # additive causal mask, -inf above the diagonal (PyTorch uses an additive attention mask)
        mask = torch.empty(self.context_length, self.context_length)
        mask.fill_(float("-inf"))
        mask.triu_(1)  # zero out the lower diagonal
        return mask

    @property
    def dtype(self):
        return self.visual.conv1.weight.dtype

    def encode_image(self, image):
        return self.visual(image.type(self.dtype))

    def encode_text(self, text):
        x = self.token_embedding(text).type(self.dtype)  # [batch_size, n_ctx, d_model]
        x = x + self.positional_embedding.type(self.dtype)
        x = x.permute(1, 0, 2)  # NLD -> LND
        x = self.transformer(x)
        x = x.permute(1, 0, 2)  # LND -> NLD
        x = self.ln_final(x).type(self.dtype)
        # features from the eot embedding (the highest token id in each sequence)
        x = x[torch.arange(x.shape[0]), text.argmax(dim=-1)] @ self.text_projection
        return x

    def forward(self, image, text):
        image_features = self.encode_image(image)
        text_features = self.encode_text(text)
        image_features = image_features / image_features.norm(dim=1, keepdim=True)
        text_features = text_features / text_features.norm(dim=1, keepdim=True)
        logit_scale = self.logit_scale.exp()
        logits_per_image = logit_scale * image_features @ text_features.t()
        logits_per_text = logits_per_image.t()
        return logits_per_image, logits_per_text


def make_model(vocab_size=12, context_length=6, init_logit_scale=math.log(1 / 0.07), init_logit_bias=None):
    return CLIP(embed_dim=8, image_resolution=8, vision_layers=1, vision_width=16, vision_patch_size=4,
                context_length=context_length, vocab_size=vocab_size, transformer_width=16, transformer_heads=2,
                transformer_layers=2, init_logit_scale=init_logit_scale, init_logit_bias=init_logit_bias)


class ClipLoss(nn.Module):
    """open_clip's symmetric InfoNCE over one batch: (image features, text features, scale) -> scalar."""

    def get_ground_truth(self, device, num_logits):
        return torch.arange(num_logits, device=device, dtype=torch.long)

    def get_logits(self, image_features, text_features, logit_scale):
        logits_per_image = logit_scale * image_features @ text_features.T
        logits_per_text = logit_scale * text_features @ image_features.T
        return logits_per_image, logits_per_text

    def forward(self, image_features, text_features, logit_scale, output_dict=False):
        device = image_features.device
        logits_per_image, logits_per_text = self.get_logits(image_features, text_features, logit_scale)
        labels = self.get_ground_truth(device, logits_per_image.shape[0])
        total_loss = (F.cross_entropy(logits_per_image, labels) + F.cross_entropy(logits_per_text, labels)) / 2
        return {"contrastive_loss": total_loss} if output_dict else total_loss


class SigLipLoss(nn.Module):
    """open_clip's sigmoid loss (Zhai et al. 2023): every image-text pair a binary problem, +1 on the diagonal."""

    def get_ground_truth(self, device, dtype, num_logits, negative_only=False):
        labels = -torch.ones((num_logits, num_logits), device=device, dtype=dtype)
        if not negative_only:
            labels = 2 * torch.eye(num_logits, device=device, dtype=dtype) + labels
        return labels

    def get_logits(self, image_features, text_features, logit_scale, logit_bias=None):
        logits = logit_scale * image_features @ text_features.T
        if logit_bias is not None:
            logits += logit_bias
        return logits

    def forward(self, image_features, text_features, logit_scale, logit_bias, output_dict=False):
        logits = self.get_logits(image_features, text_features, logit_scale, logit_bias)
        labels = self.get_ground_truth(image_features.device, image_features.dtype, image_features.shape[0])
        loss = -F.logsigmoid(labels * logits).sum() / image_features.shape[0]
        return {"contrastive_loss": loss} if output_dict else loss


def assign_learning_rate(optimizer, new_lr):
    for param_group in optimizer.param_groups:
        param_group["lr"] = new_lr


def cosine_lr(optimizer, base_lr, warmup_length, steps):
    def _lr_adjuster(step):
        if step < warmup_length:
            lr = base_lr * (step + 1) / warmup_length
        else:
            e = step - warmup_length
            es = steps - warmup_length
            lr = 0.5 * (1 + math.cos(math.pi * e / es)) * base_lr
        assign_learning_rate(optimizer, lr)
        return lr
    return _lr_adjuster


def train(model, images, texts, steps, batch_size=4, lr=5e-3, wd=0.1, loss_type="clip"):
    """open_clip's training loop: AdamW with no decay on gains, biases and the scale, a warmup-cosine lr, the scale
    clamped to ln(100) after each step. Returns per-step losses, scales, gradient norms, the last grads."""
    exclude = lambda n, p: p.ndim < 2 or "bn" in n or "ln" in n or "bias" in n or "logit_scale" in n
    include = lambda n, p: not exclude(n, p)
    named_parameters = list(model.named_parameters())
    gain_or_bias_params = [p for n, p in named_parameters if exclude(n, p) and p.requires_grad]
    rest_params = [p for n, p in named_parameters if include(n, p) and p.requires_grad]
    optimizer = optim.AdamW([{"params": gain_or_bias_params, "weight_decay": 0.},
                             {"params": rest_params, "weight_decay": wd}], lr=lr, betas=(0.9, 0.98), eps=1e-6)
    scheduler = cosine_lr(optimizer, lr, 2, steps)
    loss_fn = SigLipLoss() if loss_type == "siglip" else ClipLoss()
    model.train()
    log = {"loss": [], "logit_scale": [], "grad_norm": [], "lr": []}
    for step in range(steps):
        log["lr"].append(scheduler(step))
        start = (step * batch_size) % images.size(0)
        image, text = images[start:start + batch_size], texts[start:start + batch_size]
        optimizer.zero_grad()
        if loss_type == "clip":
            logits_per_image, logits_per_text = model(image, text)
            ground_truth = torch.arange(len(image), dtype=torch.long, device=image.device)
            loss_img, loss_txt = nn.CrossEntropyLoss(), nn.CrossEntropyLoss()
            total_loss = (loss_img(logits_per_image, ground_truth) + loss_txt(logits_per_text, ground_truth)) / 2
        else:
            image_features = F.normalize(model.encode_image(image), dim=-1)
            text_features = F.normalize(model.encode_text(text), dim=-1)
            extra = (model.logit_bias,) if loss_type == "siglip" else ()
            total_loss = loss_fn(image_features, text_features, model.logit_scale.exp(), *extra)
        total_loss.backward()
        log["grad_norm"].append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0, norm_type=2.0)))
        optimizer.step()
        # Note: we clamp to 4.6052 = ln(100), as in the original paper.
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        log["loss"].append(total_loss.item())
        log["logit_scale"].append(model.logit_scale.item())
    grads = {n: p.grad.numpy().copy() for n, p in model.named_parameters() if p.grad is not None}
    return log, grads


@torch.no_grad()
def zero_shot(model, images, class_prompts):
    """Zero-shot classification: prompts per class averaged into one normalised classifier column each."""
    model.eval()
    weights = []
    for prompts in class_prompts:
        class_embeddings = model.encode_text(prompts)
        class_embeddings /= class_embeddings.norm(dim=-1, keepdim=True)
        class_embedding = class_embeddings.mean(dim=0)
        class_embedding /= class_embedding.norm()
        weights.append(class_embedding)
    zeroshot_weights = torch.stack(weights, dim=1)
    image_features = model.encode_image(images)
    image_features /= image_features.norm(dim=-1, keepdim=True)
    text_probs = (100.0 * image_features @ zeroshot_weights).softmax(dim=-1)
    top_probs, top_labels = text_probs.cpu().topk(2, dim=-1)
    return text_probs.numpy(), top_probs.numpy(), top_labels.numpy()
'''


SIMCLR = '''
class SmallResNet(nn.Module):
    """A two-block ResNet-style backbone: images (B, 3, H, W) -> features (B, out_dim) through ``fc``."""

    def __init__(self, num_classes, width=8):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(width, width, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(x + self.bn2(self.conv2(x)))
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


class ResNetSimCLR(nn.Module):
    def __init__(self, out_dim):
        super().__init__()
        self.backbone = SmallResNet(num_classes=out_dim)
        dim_mlp = self.backbone.fc.in_features
        # add mlp projection head
        self.backbone.fc = nn.Sequential(nn.Linear(dim_mlp, dim_mlp), nn.ReLU(), self.backbone.fc)

    def forward(self, x):
        return self.backbone(x)


def make_model(out_dim=6):
    return ResNetSimCLR(out_dim)


def random_resized_crop(x, out_size, scale=(0.5, 1.0)):
    """One random box per image (area fraction in ``scale``, aspect 1), resampled bilinearly to out_size."""
    n = x.size(0)
    area = scale[0] + (scale[1] - scale[0]) * torch.rand(n, dtype=x.dtype)
    side = area.sqrt()
    cx = (1 - side) * (2 * torch.rand(n, dtype=x.dtype) - 1)
    cy = (1 - side) * (2 * torch.rand(n, dtype=x.dtype) - 1)
    theta = torch.zeros(n, 2, 3, dtype=x.dtype)
    theta[:, 0, 0] = side
    theta[:, 1, 1] = side
    theta[:, 0, 2] = cx
    theta[:, 1, 2] = cy
    grid = F.affine_grid(theta, [n, x.size(1), out_size, out_size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _blend(img1, img2, ratio):
    bound = 1.0
    return (ratio * img1 + (1.0 - ratio) * img2).clamp(0, bound).to(img1.dtype)


def rgb_to_grayscale(img, num_output_channels=1):
    r, g, b = img.unbind(dim=-3)
    l_img = (0.2989 * r + 0.587 * g + 0.114 * b).to(img.dtype)
    l_img = l_img.unsqueeze(dim=-3)
    if num_output_channels == 3:
        return l_img.expand(img.shape)
    return l_img


def _rgb2hsv(img):
    r, g, b = img.unbind(dim=-3)
    maxc = torch.max(img, dim=-3).values
    minc = torch.min(img, dim=-3).values
    # grayscale pixels: hue undefined, saturation 0; the divisions below must not see a zero
    eqc = maxc == minc
    cr = maxc - minc
    ones = torch.ones_like(maxc)
    s = cr / torch.where(eqc, ones, maxc)
    cr_divisor = torch.where(eqc, ones, cr)
    rc = (maxc - r) / cr_divisor
    gc = (maxc - g) / cr_divisor
    bc = (maxc - b) / cr_divisor
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = hr + hg + hb
    h = torch.fmod((h / 6.0 + 1.0), 1.0)
    return torch.stack((h, s, maxc), dim=-3)


def _hsv2rgb(img):
    h, s, v = img.unbind(dim=-3)
    i = torch.floor(h * 6.0)
    f = (h * 6.0) - i
    i = i.to(dtype=torch.int32)
    p = torch.clamp((v * (1.0 - s)), 0.0, 1.0)
    q = torch.clamp((v * (1.0 - s * f)), 0.0, 1.0)
    t = torch.clamp((v * (1.0 - s * (1.0 - f))), 0.0, 1.0)
    i = i % 6
    mask = i.unsqueeze(dim=-3) == torch.arange(6, device=i.device).view(-1, 1, 1)
    a1 = torch.stack((v, q, p, p, t, v), dim=-3)
    a2 = torch.stack((t, v, v, q, p, p), dim=-3)
    a3 = torch.stack((p, p, t, v, v, q), dim=-3)
    a4 = torch.stack((a1, a2, a3), dim=-4)
    return torch.einsum("...ijk, ...xijk -> ...xjk", mask.to(dtype=img.dtype), a4)


def adjust_hue(img, hue_factor):
    orig_dtype = img.dtype
    img = _rgb2hsv(img)
    h, s, v = img.unbind(dim=-3)
    h = (h + hue_factor) % 1.0
    img = torch.stack((h, s, v), dim=-3)
    img_hue_adj = _hsv2rgb(img)
    return img_hue_adj.to(orig_dtype)


def color_jitter(x, brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1):
    """torchvision's ColorJitter on tensors (its functional code), one factor per image, the four adjustments in
    the random order of ``torch.randperm(4)``."""
    n = x.size(0)
    b, c, s = (1 + spread * (2 * torch.rand(n, 1, 1, 1, dtype=x.dtype) - 1)
               for spread in (brightness, contrast, saturation))
    h = hue * (2 * torch.rand(n, 1, 1, dtype=x.dtype) - 1)
    fn_idx = torch.randperm(4)
    for fn_id in fn_idx:
        if fn_id == 0:
            x = _blend(x, torch.zeros_like(x), b)
        elif fn_id == 1:
            x = _blend(x, torch.mean(rgb_to_grayscale(x).to(x.dtype), dim=(-3, -2, -1), keepdim=True), c)
        elif fn_id == 2:
            x = _blend(x, rgb_to_grayscale(x), s)
        elif fn_id == 3:
            x = adjust_hue(x, h)
    return x


def gaussian_blur(x, kernel_size=3, sigma=1.0):
    half = (kernel_size - 1) * 0.5
    t = torch.linspace(-half, half, steps=kernel_size, dtype=x.dtype)
    pdf = torch.exp(-0.5 * (t / sigma).pow(2))
    kernel1d = pdf / pdf.sum()
    kernel2d = torch.mm(kernel1d[:, None], kernel1d[None, :])
    kernel = kernel2d.expand(x.shape[-3], 1, kernel2d.shape[0], kernel2d.shape[1])
    x = F.pad(x, [kernel_size // 2] * 4, mode="reflect")
    return F.conv2d(x, kernel, groups=x.shape[-3])


def simclr_view(x, out_size):
    """SimCLR's augmentation pipeline on a batch: crop, flip, jitter (p=0.8), grayscale (p=0.2), blur."""
    x = random_resized_crop(x, out_size)
    flip = torch.rand(x.size(0), dtype=x.dtype) < 0.5
    x = torch.where(flip[:, None, None, None], torch.flip(x, dims=[3]), x)
    jitter = torch.rand(x.size(0), dtype=x.dtype) < 0.8
    x = torch.where(jitter.view(-1, 1, 1, 1), color_jitter(x), x)
    gray = torch.rand(x.size(0), dtype=x.dtype) < 0.2
    x = torch.where(gray.view(-1, 1, 1, 1), rgb_to_grayscale(x, num_output_channels=3), x)
    return gaussian_blur(x)


class ContrastiveLearningViewGenerator(object):
    """Take two random crops of one image as the query and key."""

    def __init__(self, base_transform, n_views=2):
        self.base_transform = base_transform
        self.n_views = n_views

    def __call__(self, x):
        return [self.base_transform(x) for i in range(self.n_views)]


def accuracy(output, target, topk=(1,)):
    """Computes the accuracy over the k top predictions for the specified values of k"""
    with torch.no_grad():
        maxk = max(topk)
        batch_size = target.size(0)
        _, pred = output.topk(maxk, 1, True, True)
        pred = pred.t()
        correct = pred.eq(target.view(1, -1).expand_as(pred))
        res = []
        for k in topk:
            correct_k = correct[:k].reshape(-1).float().sum(0, keepdim=True)
            res.append(correct_k.mul_(100.0 / batch_size))
        return res


def info_nce_loss(features, batch_size, n_views=2, temperature=0.07):
    """sthalles/SimCLR's form: positives and negatives picked out of the similarity matrix by boolean masks."""
    labels = torch.cat([torch.arange(batch_size) for i in range(n_views)], dim=0)
    labels = (labels.unsqueeze(0) == labels.unsqueeze(1)).float()
    features = F.normalize(features, dim=1)
    similarity_matrix = torch.matmul(features, features.T)
    # discard the main diagonal from both: labels and similarities matrix
    mask = torch.eye(labels.shape[0], dtype=torch.bool)
    labels = labels[~mask].view(labels.shape[0], -1)
    similarity_matrix = similarity_matrix[~mask].view(similarity_matrix.shape[0], -1)
    # select and combine multiple positives
    positives = similarity_matrix[labels.bool()].view(labels.shape[0], -1)
    # select only the negatives the negatives
    negatives = similarity_matrix[~labels.bool()].view(similarity_matrix.shape[0], -1)
    logits = torch.cat([positives, negatives], dim=1)
    labels = torch.zeros(logits.shape[0], dtype=torch.long)
    logits = logits / temperature
    return logits, labels


class NT_Xent(nn.Module):
    """Spijkervet/SimCLR's form: cosine similarities of all 2N pairs, positives off two diagonals."""

    def __init__(self, batch_size, temperature):
        super().__init__()
        self.batch_size = batch_size
        self.temperature = temperature
        self.mask = self.mask_correlated_samples(batch_size)
        self.criterion = nn.CrossEntropyLoss(reduction="sum")
        self.similarity_f = nn.CosineSimilarity(dim=2)

    def mask_correlated_samples(self, batch_size):
        N = 2 * batch_size
        mask = torch.ones((N, N), dtype=bool)
        mask = mask.fill_diagonal_(0)
        for i in range(batch_size):
            mask[i, batch_size + i] = 0
            mask[batch_size + i, i] = 0
        return mask

    def forward(self, z_i, z_j):
        N = 2 * self.batch_size
        z = torch.cat((z_i, z_j), dim=0)
        sim = self.similarity_f(z.unsqueeze(1), z.unsqueeze(0)) / self.temperature
        sim_i_j = torch.diag(sim, self.batch_size)
        sim_j_i = torch.diag(sim, -self.batch_size)
        positive_samples = torch.cat((sim_i_j, sim_j_i), dim=0).reshape(N, 1)
        negative_samples = sim[self.mask].reshape(N, -1)
        labels = torch.zeros(N).to(positive_samples.device).long()
        logits = torch.cat((positive_samples, negative_samples), dim=1)
        loss = self.criterion(logits, labels)
        loss /= N
        return loss


def train(model, images, epochs, batch_size=4, lr=3e-3, temperature=0.5, size=6):
    """SimCLR pre-training: two views per image, both in one batch, InfoNCE (checked against NT-Xent), Adam with
    weight decay and cosine annealing; top-1/top-5 of the positive among the 2N - 1 candidates."""
    optimizer = torch.optim.Adam(model.parameters(), lr, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * 2, eta_min=0, last_epoch=-1)
    criterion = torch.nn.CrossEntropyLoss()
    nt_xent = NT_Xent(batch_size, temperature)
    views = ContrastiveLearningViewGenerator(lambda x: simclr_view(x, size), n_views=2)
    log = {"loss": [], "nt_xent": [], "top1": [], "top5": [], "lr": []}
    model.train()
    for epoch_counter in range(epochs):
        for start in range(0, images.size(0), batch_size):
            batch = views(images[start:start + batch_size])
            batch = torch.cat(batch, dim=0)
            features = model(batch)
            logits, labels = info_nce_loss(features, batch_size, temperature=temperature)
            loss = criterion(logits, labels)
            log["nt_xent"].append(nt_xent(*features.chunk(2)).item())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            top1, top5 = accuracy(logits, labels, topk=(1, 5))
            log["loss"].append(loss.item())
            log["top1"].append(top1[0].item())
            log["top5"].append(top5[0].item())
            log["lr"].append(scheduler.get_last_lr()[0])
            scheduler.step()
    return log


def linear_evaluation(model, images, labels, num_classes, epochs=3, lr=0.1):
    """The linear probe: the backbone frozen, its projection head replaced by one zero-initialised Linear."""
    model.backbone.fc = nn.Linear(model.backbone.fc[0].in_features, num_classes).to(images.dtype)
    nn.init.zeros_(model.backbone.fc.weight)
    nn.init.zeros_(model.backbone.fc.bias)
    model.zero_grad()  # drop the pre-training's gradients (set to None)
    for name, param in model.backbone.named_parameters():
        if name not in ["fc.weight", "fc.bias"]:
            param.requires_grad = False
    parameters = list(filter(lambda p: p.requires_grad, model.parameters()))
    assert len(parameters) == 2  # fc.weight, fc.bias
    model.backbone.eval()
    optimizer = torch.optim.SGD(parameters, lr=lr, momentum=0.9)
    criterion = torch.nn.CrossEntropyLoss()
    losses = []
    for epoch in range(epochs):
        logits = model(images)
        loss = criterion(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    frozen = all(p.grad is None for n, p in model.backbone.named_parameters() if not n.startswith("fc."))
    top1 = accuracy(model(images), labels, topk=(1,))[0].item()
    return losses, top1, frozen, model.backbone.fc.weight.detach().numpy()
'''


MOCO = '''
class Encoder(nn.Module):
    """A small conv encoder with a BatchNorm (MoCo's shuffle-BN matters for it): (B, 3, H, W) -> (B, num_classes)."""

    def __init__(self, num_classes=128, width=8):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                                      nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.fc(self.features(x))


class MoCo(nn.Module):
    """Build a MoCo model with: a query encoder, a key encoder, and a queue
    https://arxiv.org/abs/1911.05722"""

    def __init__(self, base_encoder, dim=128, K=65536, m=0.999, T=0.07, mlp=False):
        super(MoCo, self).__init__()
        self.K = K
        self.m = m
        self.T = T
        # create the encoders
        self.encoder_q = base_encoder(num_classes=dim)
        self.encoder_k = base_encoder(num_classes=dim)
        if mlp:  # hack: brute-force replacement
            dim_mlp = self.encoder_q.fc.weight.shape[1]
            self.encoder_q.fc = nn.Sequential(nn.Linear(dim_mlp, dim_mlp), nn.ReLU(), self.encoder_q.fc)
            self.encoder_k.fc = nn.Sequential(nn.Linear(dim_mlp, dim_mlp), nn.ReLU(), self.encoder_k.fc)
        for param_q, param_k in zip(self.encoder_q.parameters(), self.encoder_k.parameters()):
            with torch.no_grad():
                param_k.copy_(param_q)  # initialize
            param_k.requires_grad = False  # not update by gradient
        # create the queue
        self.register_buffer("queue", torch.randn(dim, K))
        self.queue = nn.functional.normalize(self.queue, dim=0)
        self.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.long))

    @torch.no_grad()
    def _momentum_update_key_encoder(self):
        """Momentum update of the key encoder"""
        for param_q, param_k in zip(self.encoder_q.parameters(), self.encoder_k.parameters()):
            param_k.data = param_k.data * self.m + param_q.data * (1.0 - self.m)

    @torch.no_grad()
    def _dequeue_and_enqueue(self, keys):
        batch_size = keys.shape[0]
        ptr = int(self.queue_ptr)
        assert self.K % batch_size == 0  # for simplicity
        # replace the keys at ptr (dequeue and enqueue)
        self.queue[:, ptr:ptr + batch_size] = keys.T
        ptr = (ptr + batch_size) % self.K  # move pointer
        self.queue_ptr[0] = ptr

    @torch.no_grad()
    def _batch_shuffle_single_gpu(self, x):
        """Batch shuffle, for making use of BatchNorm (the one-process form of _batch_shuffle_ddp)."""
        idx_shuffle = torch.randperm(x.shape[0])
        idx_unshuffle = torch.argsort(idx_shuffle)
        return x[idx_shuffle], idx_unshuffle

    @torch.no_grad()
    def _batch_unshuffle_single_gpu(self, x, idx_unshuffle):
        return x[idx_unshuffle]

    def forward(self, im_q, im_k):
        """Input: a batch of query images and a batch of key images. Output: logits, targets."""
        # compute query features
        q = self.encoder_q(im_q)  # queries: NxC
        q = nn.functional.normalize(q, dim=1)
        # compute key features
        with torch.no_grad():  # no gradient to keys
            self._momentum_update_key_encoder()  # update the key encoder
            # shuffle for making use of BN
            im_k, idx_unshuffle = self._batch_shuffle_single_gpu(im_k)
            k = self.encoder_k(im_k)  # keys: NxC
            k = nn.functional.normalize(k, dim=1)
            # undo shuffle
            k = self._batch_unshuffle_single_gpu(k, idx_unshuffle)
        # compute logits (Einstein sum is more intuitive)
        # positive logits: Nx1
        l_pos = torch.einsum("nc,nc->n", [q, k]).unsqueeze(-1)
        # negative logits: NxK
        l_neg = torch.einsum("nc,ck->nk", [q, self.queue.clone().detach()])
        # logits: Nx(1+K)
        logits = torch.cat([l_pos, l_neg], dim=1)
        # apply temperature
        logits /= self.T
        # labels: positive key indicators
        labels = torch.zeros(logits.shape[0], dtype=torch.long)
        # dequeue and enqueue
        self._dequeue_and_enqueue(k)
        return logits, labels


def make_model(mlp=True):
    return MoCo(Encoder, dim=8, K=16, m=0.99, T=0.2, mlp=mlp)


class TwoCropsTransform:
    """Take two random crops of one image as the query and key."""

    def __init__(self, base_transform):
        self.base_transform = base_transform

    def __call__(self, x):
        q = self.base_transform(x)
        k = self.base_transform(x)
        return [q, k]


def augment(x, size=6):
    """A random crop (one offset per batch, drawn with randint), a per-image flip, brightness, noise."""
    top, left = torch.randint(0, x.size(-1) - size + 1, (2,)).tolist()
    x = x[:, :, top:top + size, left:left + size]
    flip = torch.rand(x.size(0), 1, 1, 1, dtype=x.dtype) < 0.5
    x = torch.where(flip, x.flip(3), x)
    x = x * (0.8 + 0.4 * torch.rand(x.size(0), 1, 1, 1, dtype=x.dtype))
    return x + 0.05 * torch.randn(x.shape, dtype=x.dtype)


def adjust_learning_rate(optimizer, epoch, lr, epochs, cos=True, schedule=(120, 160)):
    """Decay the learning rate based on schedule"""
    if cos:  # cosine lr schedule
        lr *= 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))
    else:  # stepwise lr schedule
        for milestone in schedule:
            lr *= 0.1 if epoch >= milestone else 1.0
    for param_group in optimizer.param_groups:
        param_group["lr"] = lr


def accuracy(output, target, topk=(1,)):
    """Computes the accuracy over the k top predictions for the specified values of k"""
    with torch.no_grad():
        maxk = max(topk)
        batch_size = target.size(0)
        _, pred = output.topk(maxk, 1, True, True)
        pred = pred.t()
        correct = pred.eq(target.view(1, -1).expand_as(pred))
        res = []
        for k in topk:
            correct_k = correct[:k].reshape(-1).float().sum(0, keepdim=True)
            res.append(correct_k.mul_(100.0 / batch_size))
        return res


def train(model, images, epochs, batch_size=4, lr=0.03, cos=True):
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr, momentum=0.9, weight_decay=1e-4)
    transform = TwoCropsTransform(augment)
    log = {"loss": [], "acc1": [], "acc5": [], "lr": [], "queue_ptr": []}
    for epoch in range(epochs):
        adjust_learning_rate(optimizer, epoch, lr, epochs, cos=cos)
        model.train()
        for start in range(0, images.size(0), batch_size):
            im = transform(images[start:start + batch_size])
            output, target = model(im_q=im[0], im_k=im[1])
            loss = criterion(output, target)
            acc1, acc5 = accuracy(output, target, topk=(1, 5))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            log["loss"].append(loss.item())
            log["acc1"].append(acc1[0].item())
            log["acc5"].append(acc5[0].item())
            log["lr"].append(optimizer.param_groups[0]["lr"])
            log["queue_ptr"].append(int(model.queue_ptr))
    frozen = all(p.grad is None and not p.requires_grad for p in model.encoder_k.parameters())
    return log, model.queue.numpy().copy(), frozen
'''



PROGRAMS = (CLIP, SIMCLR, MOCO)


def _twins(source: str, float64: bool, *args: Any) -> tuple:
    """Both programs and their models, minigrad's loaded with torch's initial weights, ``.double()`` for float64."""
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(
        source, *args, imports=(TORCH_IMPORTS_CL, MINIGRAD_IMPORTS_CL))
    if float64:
        torch_model.double()
        mg_model.double()
    return torch_program, torch_model, mg_program, mg_model, initial


def _shared_randperm(monkeypatch: pytest.MonkeyPatch, torch: Any, seed: int) -> None:
    """``randperm`` of both libraries from one NumPy permutation stream each of the same seed."""
    import minigrad  # noqa: PLC0415

    for lib in (torch, minigrad):
        rng = np.random.default_rng(seed)

        def randperm(n: int, *, _lib: Any = lib, _rng: Any = rng, **kwargs: Any) -> Any:
            return _lib.from_numpy(_rng.permutation(n))

        monkeypatch.setattr(lib, "randperm", randperm)


def _tolerance(float64: bool) -> float:
    return 1e-10 if float64 else 1e-5


def _assert_close(ours: Any, theirs: Any, tol: float, name: str) -> None:
    np.testing.assert_allclose(np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64),
                               rtol=tol, atol=tol, err_msg=name)


def _assert_same_state(torch_model: Any, mg_model: Any, initial: dict, tol: float, key_bias: int = 0) -> None:
    """The same parameters and buffers (names, dtypes, values) after training, and they moved.

    ``key_bias``: the attention width when the model has ``nn.MultiheadAttention``: the key part of each
    ``in_proj_bias`` has a true gradient of 0 (the softmax cancels q . b_k), so Adam moves it by the sign of
    rounding noise, in either engine; it is left out.
    """
    theirs = {k: v.detach().numpy() for k, v in torch_model.state_dict().items()}
    ours = {k: v.numpy() for k, v in mg_model.state_dict().items()}
    assert list(ours) == list(theirs)
    for name, value in ours.items():
        assert value.dtype == theirs[name].dtype, name
        if name.endswith("in_proj_bias") and key_bias:
            value, theirs[name] = (np.delete(v, np.s_[key_bias:2 * key_bias]) for v in (value, theirs[name]))
        _assert_close(value, theirs[name], tol, name)
    assert any(not np.allclose(ours[k], initial[k].numpy()) for k in ours)


def _images(count: int, channels: int, size: int, seed: int, dtype: Any) -> np.ndarray:
    """(count, channels, size, size) smooth random images in [0, 1]: a few blobs of random colour."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    centres = rng.random((count, 3, 2))
    colours = rng.random((count, 3, channels))
    blobs = np.exp(-((yy - centres[..., 0, None, None]) ** 2 + (xx - centres[..., 1, None, None]) ** 2) / 0.05)
    return np.clip(np.einsum("nbhw,nbc->nchw", blobs, colours), 0, 1).astype(dtype)


def test_the_programs_differ_only_in_their_imports() -> None:
    torch_lines, mg_lines = TORCH_IMPORTS_CL.splitlines(), MINIGRAD_IMPORTS_CL.splitlines()
    assert len(torch_lines) == len(mg_lines) == 6
    assert torch_lines[:2] == mg_lines[:2]
    for torch_line, mg_line in zip(torch_lines[3:], mg_lines[3:]):
        assert torch_line.replace("torch", "minigrad") == mg_line
    for source in PROGRAMS:
        # torchvision's ``img.dtype`` is no ``mg.``
        assert "import" not in source and "minigrad" not in source and not re.search(r"\bmg\.", source)


# ----------------------------------------------------------------------------- 1. CLIP


def _captions(images: np.ndarray, seed: int, context: int = 6, vocab: int = 12) -> np.ndarray:
    """(count, context) int64 token strings: a start token 1, words naming each image's brightest channel and
    quadrant (ids 2..10), the end token (vocab - 1, the highest id), zero padding."""
    rng = np.random.default_rng(seed)
    tokens = np.zeros((len(images), context), dtype=np.int64)
    for row, image in enumerate(images):
        channel = int(image.mean(axis=(1, 2)).argmax())
        half = image.shape[-1] // 2
        quadrant = int(np.argmax([image[:, :half, :half].sum(), image[:, :half, half:].sum(),
                                  image[:, half:, :half].sum(), image[:, half:, half:].sum()]))
        words = [2 + channel, 5 + quadrant] + ([9 + int(rng.integers(0, 2))] if rng.random() < 0.5 else [])
        tokens[row, :len(words) + 2] = [1, *words, vocab - 1]
    return tokens


@pytest.mark.parametrize("float64", [False, True], ids=["float32", "float64"])
@pytest.mark.parametrize("loss_type", ["clip", "open_clip", "siglip"])
def test_clip_contrastive_training_and_zero_shot(torch: Any, float64: bool, loss_type: str) -> None:
    """Losses, learnable temperature, grad norms, lrs, last gradients and weights; zero-shot probs. SigLIP starts
    its scale just over ln(100) (with a learnable bias of -10), so that the clamp after the first step engages."""
    tol = _tolerance(float64)
    dtype = np.float64 if float64 else np.float32
    images = _images(12, 3, 8, seed=0, dtype=dtype)
    texts = _captions(images, seed=1)
    init = (math.log(100) + 0.01, -10.0) if loss_type == "siglip" else (math.log(1 / 0.07), None)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(CLIP, float64, 12, 6, *init)
    mg = mg_program["torch"]
    expected, expected_grads = torch_program["train"](torch_model, torch.from_numpy(images), torch.from_numpy(texts),
                                                      6, loss_type=loss_type)
    log, grads = mg_program["train"](mg_model, mg.from_numpy(images), mg.from_numpy(texts), 6, loss_type=loss_type)
    for key in expected:
        _assert_close(log[key], expected[key], tol, key)
    assert expected_grads.keys() == grads.keys()
    for name, grad in grads.items():
        assert grad.dtype == expected_grads[name].dtype, name
        _assert_close(grad, expected_grads[name], tol, name)
    _assert_same_state(torch_model, mg_model, initial, tol, key_bias=16)
    if loss_type == "siglip":
        assert log["logit_scale"][0] == pytest.approx(math.log(100), abs=1e-6)   # the clamp engaged
    prompts = [texts[texts[:, 1] == 2 + c][:3] for c in range(3)]
    prompts = [p if len(p) else texts[:1] for p in prompts]
    theirs = torch_program["zero_shot"](torch_model, torch.from_numpy(images), [torch.from_numpy(p) for p in prompts])
    ours = mg_program["zero_shot"](mg_model, mg.from_numpy(images), [mg.from_numpy(p) for p in prompts])
    for name, mine, reference in zip(("probs", "top_probs"), ours, theirs):
        _assert_close(mine, reference, tol, name)
    np.testing.assert_array_equal(ours[2], theirs[2])
    assert ours[0].dtype == theirs[0].dtype and ours[2].dtype == theirs[2].dtype


# ----------------------------------------------------------------------------- 2. SimCLR


@pytest.mark.parametrize("float64", [False, True], ids=["float32", "float64"])
def test_simclr_info_nce_nt_xent_and_linear_probe(torch: Any, monkeypatch: pytest.MonkeyPatch, float64: bool) -> None:
    """Two augmented views per image from one shared random stream per engine: InfoNCE and NT-Xent losses, top-1/5,
    lrs, BatchNorm statistics and weights; then the linear probe's losses, accuracy and head."""
    tol = _tolerance(float64)
    dtype = np.float64 if float64 else np.float32
    images = _images(8, 3, 8, seed=2, dtype=dtype)
    labels = images.mean(axis=(2, 3)).argmax(axis=1)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(SIMCLR, float64)
    mg = mg_program["torch"]
    _shared_draws(monkeypatch, torch, seed=3)
    _shared_randperm(monkeypatch, torch, seed=7)
    log = mg_program["train"](mg_model, mg.from_numpy(images), 2)
    expected = torch_program["train"](torch_model, torch.from_numpy(images), 2)
    assert log.keys() == expected.keys()
    for key in expected:
        _assert_close(log[key], expected[key], tol, key)
    _assert_close(log["nt_xent"], log["loss"], tol, "NT-Xent is InfoNCE")
    _assert_same_state(torch_model, mg_model, initial, tol)
    ours = mg_program["linear_evaluation"](mg_model, mg.from_numpy(images), mg.from_numpy(labels), 3)
    theirs = torch_program["linear_evaluation"](torch_model, torch.from_numpy(images), torch.from_numpy(labels), 3)
    _assert_close(ours[0], theirs[0], tol, "probe losses")
    assert ours[1] == pytest.approx(theirs[1], abs=tol)
    assert ours[2] and theirs[2]
    _assert_close(ours[3], theirs[3], tol, "probe weights")


# ----------------------------------------------------------------------------- 3. MoCo


@pytest.mark.parametrize("float64", [False, True], ids=["float32", "float64"])
@pytest.mark.parametrize("mlp", [True, False], ids=["v2_mlp", "v1"])
def test_moco_queue_momentum_encoder_and_shuffle_bn(torch: Any, monkeypatch: pytest.MonkeyPatch, float64: bool,
                                                     mlp: bool) -> None:
    """Losses, accuracies, lrs, queue pointers, the final queue, both encoders' weights and BatchNorm statistics."""
    tol = _tolerance(float64)
    dtype = np.float64 if float64 else np.float32
    images = _images(8, 3, 8, seed=4, dtype=dtype)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(MOCO, float64, mlp)
    mg = mg_program["torch"]
    _shared_draws(monkeypatch, torch, seed=5)
    _shared_randperm(monkeypatch, torch, seed=6)
    log, queue, frozen = mg_program["train"](mg_model, mg.from_numpy(images), 3)
    expected, expected_queue, expected_frozen = torch_program["train"](torch_model, torch.from_numpy(images), 3)
    assert log.keys() == expected.keys()
    for key in expected:
        _assert_close(log[key], expected[key], tol, key)
    assert log["queue_ptr"] == expected["queue_ptr"] == [4, 8, 12, 0, 4, 8]
    assert queue.dtype == expected_queue.dtype
    _assert_close(queue, expected_queue, tol, "queue")
    assert frozen and expected_frozen
    _assert_same_state(torch_model, mg_model, initial, tol)
