"""Four detection and long-input programs, run on torch and on minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program (the helpers and the rule come from
tests/test_pytorch_programs.py): it keeps the original's PyTorch calls in the same roles, with our own names,
structure and comments, tiny sizes, a few steps and generated data.

* ``DETR`` mirrors facebookresearch/detr (https://github.com/facebookresearch/detr: ``models/detr.py``,
  ``transformer.py``, ``matcher.py``, ``position_encoding.py``, ``backbone.py``, ``util/box_ops.py``,
  ``util/misc.py``): ``nested_tensor_from_tensor_list`` (images of two sizes ``copy_``'d into the rows of a zero
  batch while zipping over it, the mask cleared the same way), a tiny conv backbone with ``FrozenBatchNorm2d``
  buffers, the mask brought to the feature size with ``F.interpolate(mask[None].float(), size=...).to(torch.bool)``,
  ``PositionEmbeddingSine`` (``cumsum`` of the valid pixels, ``temperature ** (2 * (dim_t // 2) / d)``,
  ``stack(...).flatten(3)``), encoder and decoder layers whose queries and keys carry the positions, cloned with
  ``copy.deepcopy`` and ``xavier_uniform_``'d, every decoder layer's normed output kept, object queries with
  ``tgt = torch.zeros_like(query_embed)``; the Hungarian matcher's cost (``-out_prob[:, tgt_ids]``,
  ``torch.cdist(p=1)``, ``-generalized_box_iou``) solved by an exact search over ``itertools.permutations`` where
  DETR calls scipy; the set criterion (``torch.full_like``/``torch.cat`` of the matched indices,
  ``CrossEntropyLoss(weight=empty_weight)`` with the no-object ``eos_coef``, L1 and GIoU on the matched pairs,
  auxiliary losses of the earlier decoder layers, the logged ``class_error`` from ``topk``/``eq``/``mul_`` and
  ``cardinality_error``, ``num_boxes`` behind the ``torch.distributed`` guards); ``AdamW`` with a second
  parameter group for the backbone's lower lr, ``clip_grad_norm_``; ``PostProcess``'s scaling by int64 image sizes;
* ``YOLO`` mirrors the YOLOv1 loss as the well-known from-scratch re-implementations write it
  (aladdinpersson's Machine-Learning-Collection, ``YOLO/loss.py``, ``dataset.py``, ``utils.py``): the dataset's
  cell encoding by item assignment, IoU of the two predicted boxes of each cell with the target,
  ``torch.max(ious, dim=0)`` picking the responsible box, the in-place
  ``box_predictions[..., 2:4] = torch.sign(...) * torch.sqrt(torch.abs(... + 1e-6))``, ``torch.flatten(end_dim=-2)``
  / ``flatten(start_dim=1)``, ``MSELoss(reduction="sum")`` under the ``lambda_coord``/``lambda_noobj`` weights,
  on a tiny darknet-like conv net with ``BatchNorm2d``, ``LeakyReLU(0.1)`` and ``MaxPool2d``; then
  ``convert_cellboxes`` (``arange(S).repeat(...)``, ``argmax``, ``cat`` of int and float columns), a list NMS and
  the mAP with ``Counter``, ``cumsum``, ``torch.divide`` and ``torch.trapz``;
* ``PERCEIVER`` mirrors lucidrains/perceiver-pytorch (https://github.com/lucidrains/perceiver-pytorch): the
  Fourier features of the pixel positions (``torch.linspace``, ``torch.meshgrid(indexing="ij")``, ``sin``/``cos``
  of ``x * scales * pi``, the scales indexed with ``(None,) * k + (Ellipsis,)``), a learned latent array reading
  the flattened input through ``nn.MultiheadAttention(kdim=..., vdim=...)``, pre-norm latent self-attention and
  feed-forward blocks, logits from the mean of the latents;
* ``LONGFORMER`` mirrors the sliding-window attention of allenai/longformer and Hugging Face's
  ``LongformerSelfAttention`` three ways in one program: Hugging Face's chunked route (``view`` + ``as_strided``
  overlapping chunks, ``einsum`` over a tuple of operands, the pad-and-reinterpret ``view`` of swapped sizes,
  diagonals copied by slice assignment into ``new_zeros``, ``-inf`` written in place by ``tril().flip`` masks and
  ``full_like(...).where``, ``_pad_and_diagonalize``'s pad and views for the values, padded and global keys
  removed by a ``finfo.min`` mask sent through the same route), a direct route (each query's window taken with
  ``Tensor.unfold`` for keys and ``as_strided`` over ``stride()`` for values, ``masked_fill`` of out-of-range
  keys) and a dense (T, T) masked attention; a global token 0 with its own projections attends to everything and
  is read by every token. The three routes must agree in value and gradient in each engine.

Each program's losses (every step), matchings, responsible-box choices, attention maps, detections and final
weights are compared, in float32 to 1e-5 and, where the program is cheap, in float64 to 1e-10. Where an int64
tensor meets a float32 one (YOLO's ``bestbox``, DETR's image sizes, YOLO's ``cat`` of class ids and boxes), torch
keeps float32 and minigrad follows NumPy 2's promotion to float64 (DESIGN §3): the loss casts ``bestbox``, as a
program that means one dtype writes it; the evaluation code runs unchanged and its float64 values agree to float32
rounding. Softmax ignores a shift of all scores, so attention key biases get a zero gradient and Adam's float32
steps there follow rounding noise: their query and value parts are compared.

Found by the programs: ``torch.distributed`` was missing (DETR's ``is_dist_avail_and_initialized`` guard);
``minigrad.distributed`` now answers ``is_available()``/``is_initialized()`` False (one process, no process
groups) and names that for anything else.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
import minigrad.distributed as dist
from tests.test_pytorch_programs import MINIGRAD_IMPORTS, TORCH_IMPORTS, _assert_same_weights, _twin_models
from tests.test_pytorch_programs_flow import _lean_torch  # noqa: F401 - autouse: torch lean, _dynamo imported in setup

# DETR clones its layers with copy.deepcopy and its matcher here searches the orderings with itertools;
# YOLO's mAP counts the boxes of each image with a Counter
_STANDARD_LIBRARY = "import copy\nfrom collections import Counter\nfrom itertools import permutations\n"
TORCH_IMPORTS_DETECTION2 = TORCH_IMPORTS + "import torch.distributed as dist\n" + _STANDARD_LIBRARY
MINIGRAD_IMPORTS_DETECTION2 = MINIGRAD_IMPORTS + "import minigrad.distributed as dist\n" + _STANDARD_LIBRARY

DETR = '''
def box_cxcywh_to_xyxy(boxes):
    """(..., 4) centre, size -> corners."""
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], dim=-1)


def box_area(boxes):
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def generalized_box_iou(boxes1, boxes2):
    """(N, 4), (M, 4) corner boxes -> (N, M) GIoU = IoU - (hull - union) / hull."""
    area1, area2 = box_area(boxes1), box_area(boxes2)
    lt = torch.max(boxes1[:, None, :2], boxes2[:, :2])
    rb = torch.min(boxes1[:, None, 2:], boxes2[:, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[:, :, 0] * wh[:, :, 1]
    union = area1[:, None] + area2 - inter
    iou = inter / union
    hull_lt = torch.min(boxes1[:, None, :2], boxes2[:, :2])
    hull_rb = torch.max(boxes1[:, None, 2:], boxes2[:, 2:])
    hull_wh = (hull_rb - hull_lt).clamp(min=0)
    hull = hull_wh[:, :, 0] * hull_wh[:, :, 1]
    return iou - (hull - union) / hull


class FrozenBatchNorm2d(nn.Module):
    """BatchNorm2d whose statistics and affine terms are buffers (never trained)."""

    def __init__(self, channels, eps=1e-5):
        super().__init__()
        self.register_buffer("weight", torch.ones(channels))
        self.register_buffer("bias", torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))
        self.eps = eps

    def forward(self, x):
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        shift = self.bias - self.running_mean * scale
        return x * scale.reshape(1, -1, 1, 1) + shift.reshape(1, -1, 1, 1)


class SinePositions(nn.Module):
    """A padding mask (B, H, W), True on padding -> (B, 2 * num_pos_feats, H, W) sine/cosine of the normalised
    cumulative row and column counts of the valid pixels."""

    def __init__(self, num_pos_feats=8, temperature=10000, scale=2 * math.pi):
        super().__init__()
        self.num_pos_feats, self.temperature, self.scale = num_pos_feats, temperature, scale

    def forward(self, mask):
        valid = ~mask
        y_embed = valid.cumsum(1, dtype=torch.float32)
        x_embed = valid.cumsum(2, dtype=torch.float32)
        eps = 1e-6
        y_embed = y_embed / (y_embed[:, -1:, :] + eps) * self.scale
        x_embed = x_embed / (x_embed[:, :, -1:] + eps) * self.scale
        dim_t = torch.arange(self.num_pos_feats, dtype=torch.float32)
        dim_t = self.temperature ** (2 * (dim_t // 2) / self.num_pos_feats)
        pos_x = x_embed[:, :, :, None] / dim_t
        pos_y = y_embed[:, :, :, None] / dim_t
        pos_x = torch.stack((pos_x[:, :, :, 0::2].sin(), pos_x[:, :, :, 1::2].cos()), dim=4).flatten(3)
        pos_y = torch.stack((pos_y[:, :, :, 0::2].sin(), pos_y[:, :, :, 1::2].cos()), dim=4).flatten(3)
        return torch.cat((pos_y, pos_x), dim=3).permute(0, 3, 1, 2)


class MLP(nn.Module):
    def __init__(self, input_dim, hidden_dim, output_dim, num_layers):
        super().__init__()
        sizes = [hidden_dim] * (num_layers - 1)
        self.layers = nn.ModuleList(nn.Linear(n, k) for n, k in zip([input_dim] + sizes, sizes + [output_dim]))

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = F.relu(layer(x)) if i < len(self.layers) - 1 else layer(x)
        return x


def nested_tensor_from_tensor_list(tensor_list):
    """Images of different sizes (3, H_i, W_i) -> a zero-padded batch (B, 3, H, W) and its mask (B, H, W),
    True on padding."""
    max_size = [max(sizes) for sizes in zip(*[image.shape for image in tensor_list])]
    batch_shape = [len(tensor_list)] + max_size
    b, c, h, w = batch_shape
    tensor = torch.zeros(batch_shape, dtype=tensor_list[0].dtype)
    mask = torch.ones((b, h, w), dtype=torch.bool)
    for image, padded, m in zip(tensor_list, tensor, mask):   # each row of the batch is a view written in place
        padded[: image.shape[0], : image.shape[1], : image.shape[2]].copy_(image)
        m[: image.shape[1], : image.shape[2]] = False
    return tensor, mask


def _get_clones(module, n):
    return nn.ModuleList([copy.deepcopy(module) for _ in range(n)])


class EncoderLayer(nn.Module):
    """Post-norm self-attention layer whose queries and keys carry the positions, values do not."""

    def __init__(self, d_model, nhead, dim_feedforward):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=0.0)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)

    def forward(self, src, src_key_padding_mask, pos):
        q = k = src + pos
        src = self.norm1(src + self.self_attn(q, k, value=src, key_padding_mask=src_key_padding_mask)[0])
        return self.norm2(src + self.linear2(F.relu(self.linear1(src))))


class DecoderLayer(nn.Module):
    """Self-attention among the object queries, then cross-attention to the image memory."""

    def __init__(self, d_model, nhead, dim_feedforward):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=0.0)
        self.multihead_attn = nn.MultiheadAttention(d_model, nhead, dropout=0.0)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)

    def forward(self, tgt, memory, memory_key_padding_mask, pos, query_pos):
        q = k = tgt + query_pos
        tgt = self.norm1(tgt + self.self_attn(q, k, value=tgt)[0])
        attended = self.multihead_attn(query=tgt + query_pos, key=memory + pos, value=memory,
                                       key_padding_mask=memory_key_padding_mask)[0]
        tgt = self.norm2(tgt + attended)
        return self.norm3(tgt + self.linear2(F.relu(self.linear1(tgt))))


class Transformer(nn.Module):
    """Features (B, D, H, W), mask (B, H, W), queries (Q, D), positions (B, D, H, W) -> every decoder layer's
    normed output (L, B, Q, D) and the memory (B, D, H, W)."""

    def __init__(self, d_model=16, nhead=2, num_encoder_layers=1, num_decoder_layers=2, dim_feedforward=32):
        super().__init__()
        self.encoder_layers = _get_clones(EncoderLayer(d_model, nhead, dim_feedforward), num_encoder_layers)
        self.decoder_layers = _get_clones(DecoderLayer(d_model, nhead, dim_feedforward), num_decoder_layers)
        self.decoder_norm = nn.LayerNorm(d_model)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(self, src, mask, query_embed, pos_embed):
        bs, c, h, w = src.shape
        src = src.flatten(2).permute(2, 0, 1)   # (HW, B, D)
        pos_embed = pos_embed.flatten(2).permute(2, 0, 1)
        query_embed = query_embed.unsqueeze(1).repeat(1, bs, 1)   # (Q, B, D)
        mask = mask.flatten(1)
        memory = src
        for layer in self.encoder_layers:
            memory = layer(memory, mask, pos_embed)
        output = torch.zeros_like(query_embed)
        intermediate = []
        for layer in self.decoder_layers:
            output = layer(output, memory, mask, pos_embed, query_embed)
            intermediate.append(self.decoder_norm(output))
        return torch.stack(intermediate).transpose(1, 2), memory.permute(1, 2, 0).view(bs, c, h, w)


class TinyDETR(nn.Module):
    """A list of images (3, H_i, W_i) -> class logits and boxes of each decoder layer: (L, B, Q, classes + 1)
    and (L, B, Q, 4), boxes as sigmoid centre/size."""

    def __init__(self, num_classes=3, hidden_dim=16, num_queries=5):
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), FrozenBatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 12, 3, stride=2, padding=1, bias=False), FrozenBatchNorm2d(12), nn.ReLU())
        self.position = SinePositions(hidden_dim // 2)
        self.input_proj = nn.Conv2d(12, hidden_dim, kernel_size=1)
        self.query_embed = nn.Embedding(num_queries, hidden_dim)
        self.transformer = Transformer(hidden_dim)
        self.class_embed = nn.Linear(hidden_dim, num_classes + 1)
        self.bbox_embed = MLP(hidden_dim, hidden_dim, 4, 3)

    def forward(self, image_list):
        images, mask = nested_tensor_from_tensor_list(image_list)
        features = self.backbone(images)
        mask = F.interpolate(mask[None].float(), size=features.shape[-2:]).to(torch.bool)[0]
        hs = self.transformer(self.input_proj(features), mask, self.query_embed.weight, self.position(mask))[0]
        return self.class_embed(hs), self.bbox_embed(hs).sigmoid()


def best_assignment(cost):
    """cost (Q, T), T <= Q <= 6 -> (query indices, target indices) of the cheapest one-to-one match, sorted by
    query (an exact search over all orderings, where DETR calls scipy's linear_sum_assignment)."""
    queries, targets = cost.shape
    rows = list(range(targets))
    best, best_cost = None, None
    for perm in permutations(range(queries), targets):
        total = cost[list(perm), rows].sum().item()
        if best_cost is None or total < best_cost:
            best, best_cost = perm, total
    pairs = sorted(zip(best, rows))
    return (torch.as_tensor([p[0] for p in pairs], dtype=torch.int64),
            torch.as_tensor([p[1] for p in pairs], dtype=torch.int64))


@torch.no_grad()
def hungarian_match(logits, boxes, targets, cost_class=1.0, cost_bbox=5.0, cost_giou=2.0):
    batch, queries = logits.shape[:2]
    out_prob = logits.flatten(0, 1).softmax(-1)
    out_bbox = boxes.flatten(0, 1)
    tgt_ids = torch.cat([t["labels"] for t in targets])
    tgt_bbox = torch.cat([t["boxes"] for t in targets])
    cost = (cost_bbox * torch.cdist(out_bbox, tgt_bbox, p=1) - cost_class * out_prob[:, tgt_ids]
            - cost_giou * generalized_box_iou(box_cxcywh_to_xyxy(out_bbox), box_cxcywh_to_xyxy(tgt_bbox)))
    cost = cost.view(batch, queries, -1)
    sizes = [len(t["boxes"]) for t in targets]
    return [best_assignment(c[i]) for i, c in enumerate(cost.split(sizes, -1))]


def is_dist_avail_and_initialized():
    if not dist.is_available():
        return False
    if not dist.is_initialized():
        return False
    return True


def get_world_size():
    if not is_dist_avail_and_initialized():
        return 1
    return dist.get_world_size()


@torch.no_grad()
def accuracy(output, target, topk=(1,)):
    """Top-k accuracies in percent of output (N, C) against target (N,)."""
    maxk = max(topk)
    batch_size = target.size(0)
    _, pred = output.topk(maxk, 1, True, True)
    pred = pred.t()
    correct = pred.eq(target.view(1, -1).expand_as(pred))
    return [correct[:k].view(-1).float().sum(0).mul_(100.0 / batch_size) for k in topk]


class SetCriterion(nn.Module):
    def __init__(self, num_classes, eos_coef=0.1):
        super().__init__()
        self.num_classes = num_classes
        empty_weight = torch.ones(num_classes + 1)
        empty_weight[-1] = eos_coef
        self.register_buffer("empty_weight", empty_weight)

    def single(self, logits, boxes, targets, num_boxes):
        indices = hungarian_match(logits, boxes, targets)
        batch_idx = torch.cat([torch.full_like(src, i) for i, (src, _) in enumerate(indices)])
        src_idx = torch.cat([src for (src, _) in indices])
        target_classes = torch.full(logits.shape[:2], self.num_classes, dtype=torch.int64)
        target_classes[batch_idx, src_idx] = torch.cat([t["labels"][j] for t, (_, j) in zip(targets, indices)])
        loss_ce = nn.CrossEntropyLoss(weight=self.empty_weight)(logits.transpose(1, 2), target_classes)
        src_boxes = boxes[batch_idx, src_idx]
        target_boxes = torch.cat([t["boxes"][j] for t, (_, j) in zip(targets, indices)], dim=0)
        loss_bbox = F.l1_loss(src_boxes, target_boxes, reduction="none").sum() / num_boxes
        giou = generalized_box_iou(box_cxcywh_to_xyxy(src_boxes), box_cxcywh_to_xyxy(target_boxes))
        loss_giou = (1 - torch.diag(giou)).sum() / num_boxes
        losses = {"loss_ce": loss_ce, "loss_bbox": loss_bbox, "loss_giou": loss_giou}
        with torch.no_grad():   # logged, not trained: the matched queries' top-1 error and the count error
            matched_classes = torch.cat([t["labels"][j] for t, (_, j) in zip(targets, indices)])
            losses["class_error"] = 100 - accuracy(logits[batch_idx, src_idx], matched_classes)[0]
            card_pred = (logits.argmax(-1) != logits.shape[-1] - 1).sum(1)
            tgt_lengths = torch.as_tensor([len(t["labels"]) for t in targets])
            losses["cardinality_error"] = F.l1_loss(card_pred.float(), tgt_lengths.float())
        return losses, indices

    def forward(self, all_logits, all_boxes, targets):
        # the average number of target boxes over the processes, for normalisation
        num_boxes = sum(len(t["labels"]) for t in targets)
        num_boxes = torch.as_tensor([num_boxes], dtype=torch.float, device=all_logits.device)
        if is_dist_avail_and_initialized():
            dist.all_reduce(num_boxes)
        num_boxes = torch.clamp(num_boxes / get_world_size(), min=1).item()
        losses, indices = self.single(all_logits[-1], all_boxes[-1], targets, num_boxes)
        for i in range(all_logits.shape[0] - 1):   # auxiliary losses on the earlier decoder layers
            aux, _ = self.single(all_logits[i], all_boxes[i], targets, num_boxes)
            losses.update({k + f"_{i}": v for k, v in aux.items()})
        return losses, indices


@torch.no_grad()
def postprocess(logits, boxes, target_sizes):
    """The last layer's (B, Q, classes + 1) logits and (B, Q, 4) boxes -> per image: scores, labels and
    corner boxes in pixels of target_sizes (B, 2) = (height, width), int64 as a dataset gives them."""
    prob = F.softmax(logits[-1], -1)
    scores, labels = prob[..., :-1].max(-1)
    img_h, img_w = target_sizes.unbind(1)
    scale_fct = torch.stack([img_w, img_h, img_w, img_h], dim=1)
    corners = box_cxcywh_to_xyxy(boxes[-1]) * scale_fct[:, None, :]
    return [{"scores": s, "labels": lab, "boxes": b} for s, lab, b in zip(scores, labels, corners)]


def make_model():
    return TinyDETR()


def train(model, batches, lr=1e-3, lr_backbone=1e-4, max_norm=0.1):
    criterion = SetCriterion(num_classes=3, eos_coef=0.1)
    weight_dict = {"loss_ce": 1.0, "loss_bbox": 5.0, "loss_giou": 2.0}
    weight_dict.update({k + f"_{i}": v for i in range(1) for k, v in list(weight_dict.items())})
    param_dicts = [
        {"params": [p for n, p in model.named_parameters() if "backbone" not in n and p.requires_grad]},
        {"params": [p for n, p in model.named_parameters() if "backbone" in n and p.requires_grad],
         "lr": lr_backbone},
    ]
    optimizer = torch.optim.AdamW(param_dicts, lr=lr, weight_decay=1e-4)
    history, matches = [], []
    model.train()
    for image_list, targets in batches:
        logits, boxes = model(image_list)
        loss_dict, indices = criterion(logits, boxes, targets)
        loss = sum(loss_dict[k] * weight_dict[k] for k in loss_dict.keys() if k in weight_dict)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        optimizer.step()
        history.append({k: v.item() for k, v in loss_dict.items()})
        matches.append([(src.tolist(), tgt.tolist()) for src, tgt in indices])
    model.eval()
    image_list, targets = batches[0]
    logits, boxes = model(image_list)
    sizes = torch.as_tensor([list(image.shape[1:]) for image in image_list])
    return history, matches, postprocess(logits, boxes, sizes)
'''

YOLO = '''
def intersection_over_union(boxes_preds, boxes_labels):
    """(..., 4) midpoint boxes (x, y, w, h) -> (..., 1) IoU."""
    box1_x1 = boxes_preds[..., 0:1] - boxes_preds[..., 2:3] / 2
    box1_y1 = boxes_preds[..., 1:2] - boxes_preds[..., 3:4] / 2
    box1_x2 = boxes_preds[..., 0:1] + boxes_preds[..., 2:3] / 2
    box1_y2 = boxes_preds[..., 1:2] + boxes_preds[..., 3:4] / 2
    box2_x1 = boxes_labels[..., 0:1] - boxes_labels[..., 2:3] / 2
    box2_y1 = boxes_labels[..., 1:2] - boxes_labels[..., 3:4] / 2
    box2_x2 = boxes_labels[..., 0:1] + boxes_labels[..., 2:3] / 2
    box2_y2 = boxes_labels[..., 1:2] + boxes_labels[..., 3:4] / 2
    x1, y1 = torch.max(box1_x1, box2_x1), torch.max(box1_y1, box2_y1)
    x2, y2 = torch.min(box1_x2, box2_x2), torch.min(box1_y2, box2_y2)
    intersection = (x2 - x1).clamp(0) * (y2 - y1).clamp(0)
    box1_area = abs((box1_x2 - box1_x1) * (box1_y2 - box1_y1))
    box2_area = abs((box2_x2 - box2_x1) * (box2_y2 - box2_y1))
    return intersection / (box1_area + box2_area - intersection + 1e-6)


class YoloLoss(nn.Module):
    """predictions (N, S*S*(C+5B)), target (N, S, S, C+5): per cell C class scores, then for each of the
    B = 2 boxes a confidence and x, y, w, h; the target holds one box (its confidence is 'object here')."""

    def __init__(self, S=3, B=2, C=4):
        super().__init__()
        self.mse = nn.MSELoss(reduction="sum")
        self.S, self.B, self.C = S, B, C
        self.lambda_noobj = 0.5
        self.lambda_coord = 5

    def forward(self, predictions, target):
        C = self.C
        predictions = predictions.reshape(-1, self.S, self.S, C + self.B * 5)
        iou_b1 = intersection_over_union(predictions[..., C + 1:C + 5], target[..., C + 1:C + 5])
        iou_b2 = intersection_over_union(predictions[..., C + 6:C + 10], target[..., C + 1:C + 5])
        ious = torch.cat([iou_b1.unsqueeze(0), iou_b2.unsqueeze(0)], dim=0)
        iou_maxes, bestbox = torch.max(ious, dim=0)   # the box with the higher IoU is responsible
        # bestbox is int64: torch's int64 * float32 gives float32, NumPy 2's promotion float64, so the
        # program casts it, as code that means one dtype writes it
        bestbox = bestbox.to(predictions.dtype)
        exists_box = target[..., C:C + 1]   # the identity of object i

        box_predictions = exists_box * (bestbox * predictions[..., C + 6:C + 10]
                                        + (1 - bestbox) * predictions[..., C + 1:C + 5])
        box_targets = exists_box * target[..., C + 1:C + 5]
        box_predictions[..., 2:4] = torch.sign(box_predictions[..., 2:4]) * torch.sqrt(
            torch.abs(box_predictions[..., 2:4] + 1e-6))
        box_targets[..., 2:4] = torch.sqrt(box_targets[..., 2:4])
        box_loss = self.mse(torch.flatten(box_predictions, end_dim=-2), torch.flatten(box_targets, end_dim=-2))

        pred_box = bestbox * predictions[..., C + 5:C + 6] + (1 - bestbox) * predictions[..., C:C + 1]
        object_loss = self.mse(torch.flatten(exists_box * pred_box), torch.flatten(exists_box * target[..., C:C + 1]))

        no_object_loss = self.mse(torch.flatten((1 - exists_box) * predictions[..., C:C + 1], start_dim=1),
                                  torch.flatten((1 - exists_box) * target[..., C:C + 1], start_dim=1))
        no_object_loss = no_object_loss + self.mse(
            torch.flatten((1 - exists_box) * predictions[..., C + 5:C + 6], start_dim=1),
            torch.flatten((1 - exists_box) * target[..., C:C + 1], start_dim=1))

        class_loss = self.mse(torch.flatten(exists_box * predictions[..., :C], end_dim=-2),
                              torch.flatten(exists_box * target[..., :C], end_dim=-2))
        loss = self.lambda_coord * box_loss + object_loss + self.lambda_noobj * no_object_loss + class_loss
        return loss, iou_maxes, bestbox


class TinyYolo(nn.Module):
    """Images (N, 3, 24, 24) -> (N, S*S*(C+5B)): a conv stack, then LeakyReLU(0.1) fully connected layers."""

    def __init__(self, split_size=3, num_boxes=2, num_classes=4):
        super().__init__()
        self.darknet = nn.Sequential(
            nn.Conv2d(3, 6, kernel_size=3, stride=2, padding=1, bias=False), nn.BatchNorm2d(6), nn.LeakyReLU(0.1),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Conv2d(6, 8, kernel_size=3, stride=1, padding=1, bias=False), nn.BatchNorm2d(8), nn.LeakyReLU(0.1),
            nn.MaxPool2d(kernel_size=2, stride=2))
        S, B, C = split_size, num_boxes, num_classes
        self.fcs = nn.Sequential(nn.Flatten(), nn.Linear(8 * S * S, 32), nn.Dropout(0.0), nn.LeakyReLU(0.1),
                                 nn.Linear(32, S * S * (C + B * 5)))

    def forward(self, x):
        return self.fcs(torch.flatten(self.darknet(x), start_dim=1))


def encode_labels(boxes, S=3, B=2, C=4):
    """(n, 5) rows of class, x, y, w, h (image fractions) -> the (S, S, C + 5B) target: one box per cell, its
    x, y relative to the cell and w, h in cells."""
    label_matrix = torch.zeros((S, S, C + 5 * B))
    for box in boxes:
        class_label, x, y, width, height = box.tolist()
        class_label = int(class_label)
        i, j = int(S * y), int(S * x)
        x_cell, y_cell = S * x - j, S * y - i
        width_cell, height_cell = width * S, height * S
        if label_matrix[i, j, C] == 0:   # a cell holds one object
            label_matrix[i, j, C] = 1
            label_matrix[i, j, C + 1:C + 5] = torch.tensor([x_cell, y_cell, width_cell, height_cell])
            label_matrix[i, j, class_label] = 1
    return label_matrix


def convert_cellboxes(predictions, S=3, C=4):
    """(N, S*S*(C+10)) -> (N, S, S, 6): class, confidence, x, y, w, h (image fractions) of each cell's better box."""
    predictions = predictions.to("cpu")
    batch_size = predictions.shape[0]
    predictions = predictions.reshape(batch_size, S, S, C + 10)
    bboxes1 = predictions[..., C + 1:C + 5]
    bboxes2 = predictions[..., C + 6:C + 10]
    scores = torch.cat((predictions[..., C].unsqueeze(0), predictions[..., C + 5].unsqueeze(0)), dim=0)
    best_box = scores.argmax(0).unsqueeze(-1)
    best_boxes = bboxes1 * (1 - best_box) + best_box * bboxes2
    cell_indices = torch.arange(S).repeat(batch_size, S, 1).unsqueeze(-1)
    x = 1 / S * (best_boxes[..., :1] + cell_indices)
    y = 1 / S * (best_boxes[..., 1:2] + cell_indices.permute(0, 2, 1, 3))
    w_y = 1 / S * best_boxes[..., 2:4]
    converted_bboxes = torch.cat((x, y, w_y), dim=-1)
    predicted_class = predictions[..., :C].argmax(-1).unsqueeze(-1)
    best_confidence = torch.max(predictions[..., C], predictions[..., C + 5]).unsqueeze(-1)
    return torch.cat((predicted_class, best_confidence, converted_bboxes), dim=-1)


def cellboxes_to_boxes(out, S=3):
    converted_pred = convert_cellboxes(out).reshape(out.shape[0], S * S, -1)
    converted_pred[..., 0] = converted_pred[..., 0].long()
    return [[[x.item() for x in converted_pred[ex_idx, bbox_idx, :]] for bbox_idx in range(S * S)]
            for ex_idx in range(out.shape[0])]


def non_max_suppression(bboxes, iou_threshold, threshold):
    """Lists [class, confidence, x, y, w, h] -> those kept: above threshold, no same-class overlap."""
    bboxes = sorted([box for box in bboxes if box[1] > threshold], key=lambda box: box[1], reverse=True)
    kept = []
    while bboxes:
        chosen_box = bboxes.pop(0)
        bboxes = [box for box in bboxes if box[0] != chosen_box[0] or intersection_over_union(
            torch.tensor(chosen_box[2:]), torch.tensor(box[2:])) < iou_threshold]
        kept.append(chosen_box)
    return kept


def mean_average_precision(pred_boxes, true_boxes, iou_threshold=0.5, num_classes=4):
    """Boxes as [image, class, confidence, x, y, w, h] -> the mean over classes of the precision-recall area."""
    average_precisions = []
    epsilon = 1e-6
    for c in range(num_classes):
        detections = [d for d in pred_boxes if d[1] == c]
        ground_truths = [t for t in true_boxes if t[1] == c]
        amount_bboxes = Counter([gt[0] for gt in ground_truths])
        for key, val in amount_bboxes.items():
            amount_bboxes[key] = torch.zeros(val)
        detections.sort(key=lambda x: x[2], reverse=True)
        TP = torch.zeros((len(detections)))
        FP = torch.zeros((len(detections)))
        total_true_bboxes = len(ground_truths)
        if total_true_bboxes == 0:
            continue
        for detection_idx, detection in enumerate(detections):
            ground_truth_img = [bbox for bbox in ground_truths if bbox[0] == detection[0]]
            best_iou, best_gt_idx = 0, None
            for idx, gt in enumerate(ground_truth_img):
                iou = intersection_over_union(torch.tensor(detection[3:]), torch.tensor(gt[3:]))
                if iou > best_iou:
                    best_iou, best_gt_idx = iou, idx
            if best_iou > iou_threshold and amount_bboxes[detection[0]][best_gt_idx] == 0:
                TP[detection_idx] = 1
                amount_bboxes[detection[0]][best_gt_idx] = 1
            else:
                FP[detection_idx] = 1
        TP_cumsum = torch.cumsum(TP, dim=0)
        FP_cumsum = torch.cumsum(FP, dim=0)
        recalls = TP_cumsum / (total_true_bboxes + epsilon)
        precisions = torch.divide(TP_cumsum, (TP_cumsum + FP_cumsum + epsilon))
        precisions = torch.cat((torch.tensor([1]), precisions))
        recalls = torch.cat((torch.tensor([0]), recalls))
        average_precisions.append(torch.trapz(precisions, recalls))
    return sum(average_precisions) / len(average_precisions)


def make_model(dtype="float32"):
    return TinyYolo().to(getattr(torch, dtype))


def train(model, batches, lr=2e-3):
    loss_fn = YoloLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    history, responsible = [], []
    for x, boxes in batches:
        y = torch.stack([encode_labels(image_boxes) for image_boxes in boxes]).to(x.dtype)
        out = model(x)
        loss, iou_maxes, bestbox = loss_fn(out, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(loss.item())
        responsible.append(bestbox.detach().numpy())
    return history, responsible


@torch.no_grad()
def evaluate(model, batches, iou_threshold=0.5, threshold=0.1):
    model.eval()
    pred_boxes, true_boxes = [], []
    train_idx = 0
    for x, boxes in batches:
        labels = torch.stack([encode_labels(image_boxes) for image_boxes in boxes])
        true_bboxes = cellboxes_to_boxes(labels)
        bboxes = cellboxes_to_boxes(model(x))
        for idx in range(x.shape[0]):
            for nms_box in non_max_suppression(bboxes[idx], iou_threshold=iou_threshold, threshold=threshold):
                pred_boxes.append([train_idx] + nms_box)
            for box in true_bboxes[idx]:
                if box[1] > threshold:
                    true_boxes.append([train_idx] + box)
            train_idx += 1
    model.train()
    # the true boxes, some shifted, among the predictions: a precision-recall curve that is not flat zero
    oracle = [box[:4] + [box[4] + 0.1 * (i % 3)] + box[5:] for i, box in enumerate(true_boxes)]
    return (pred_boxes, true_boxes, float(mean_average_precision(pred_boxes, true_boxes)),
            float(mean_average_precision(pred_boxes + oracle, true_boxes)))
'''

PERCEIVER = '''
def fourier_encode(x, max_freq, num_bands=4):
    """(..., n) positions in [-1, 1] -> (..., n, 2 * num_bands + 1): sin and cos at num_bands frequencies
    up to max_freq / 2, and the position itself."""
    x = x.unsqueeze(-1)
    orig_x = x
    scales = torch.linspace(1.0, max_freq / 2, num_bands, dtype=x.dtype)
    scales = scales[(*((None,) * (len(x.shape) - 1)), Ellipsis)]
    x = x * scales * math.pi
    x = torch.cat([x.sin(), x.cos()], dim=-1)
    return torch.cat((x, orig_x), dim=-1)


class PreNormResidual(nn.Module):
    def __init__(self, dim, fn):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x):
        return x + self.fn(self.norm(x))


class FeedForward(nn.Module):
    def __init__(self, dim, mult=2):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, dim * mult), nn.GELU(), nn.Linear(dim * mult, dim))

    def forward(self, x):
        return self.net(x)


class SelfAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)

    def forward(self, x):
        return self.attn(x, x, x, need_weights=False)[0]


class PerceiverLite(nn.Module):
    """Images (B, H, W, C) -> class logits (B, classes). The input, with Fourier features of its pixel
    positions appended, is read by a small latent array through cross-attention (kdim = vdim = input width),
    then the latents attend to themselves; the class is read from their mean."""

    def __init__(self, input_channels=3, axis=(6, 6), num_freq_bands=3, max_freq=6.0, num_latents=4,
                 latent_dim=12, heads=2, depth=2, num_classes=3):
        super().__init__()
        self.axis, self.num_freq_bands, self.max_freq = axis, num_freq_bands, max_freq
        input_dim = input_channels + len(axis) * (2 * num_freq_bands + 1)
        self.latents = nn.Parameter(torch.randn(num_latents, latent_dim))
        self.input_norm = nn.LayerNorm(input_dim)
        self.latent_norm = nn.LayerNorm(latent_dim)
        self.cross_attn = nn.MultiheadAttention(latent_dim, 1, kdim=input_dim, vdim=input_dim, batch_first=True)
        self.cross_ff = PreNormResidual(latent_dim, FeedForward(latent_dim))
        self.layers = nn.ModuleList()
        for _ in range(depth):
            self.layers.append(nn.ModuleList([PreNormResidual(latent_dim, SelfAttention(latent_dim, heads)),
                                              PreNormResidual(latent_dim, FeedForward(latent_dim))]))
        self.to_logits = nn.Sequential(nn.LayerNorm(latent_dim), nn.Linear(latent_dim, num_classes))

    def positions(self, dtype):
        axis_pos = [torch.linspace(-1.0, 1.0, steps=size, dtype=dtype) for size in self.axis]
        pos = torch.stack(torch.meshgrid(*axis_pos, indexing="ij"), dim=-1)   # (H, W, 2)
        enc_pos = fourier_encode(pos, self.max_freq, self.num_freq_bands)   # (H, W, 2, 2 * bands + 1)
        return enc_pos.reshape(*enc_pos.shape[:-2], -1)

    def forward(self, data):
        b = data.shape[0]
        enc_pos = self.positions(data.dtype).unsqueeze(0).expand(b, *self.axis, -1)
        data = torch.cat((data, enc_pos), dim=-1).reshape(b, -1, data.shape[-1] + enc_pos.shape[-1])
        x = self.latents.unsqueeze(0).repeat(b, 1, 1)
        context = self.input_norm(data)
        attended, weights = self.cross_attn(self.latent_norm(x), context, context)
        x = self.cross_ff(x + attended)
        for attn, ff in self.layers:
            x = ff(attn(x))
        return self.to_logits(x.mean(dim=-2)), weights


def make_model(dtype="float32"):
    return PerceiverLite().to(getattr(torch, dtype))


def train(model, batches, lr=3e-3):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    history = []
    for x, y in batches:
        logits, weights = model(x)
        loss = loss_fn(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append((loss.item(), weights.detach().numpy()))
    return history
'''

LONGFORMER = '''
class SlidingWindowSelfAttention(nn.Module):
    """x (B, T, D), padding_mask (B, T) True on padding -> (B, T, D). Token t attends to tokens t-w .. t+w and
    to the global token 0; token 0 attends to every token through its own projections (Longformer's global
    attention). Written twice: `sliding` gathers each query's window of keys (unfold) and values (as_strided)
    from the padded sequences, `dense` masks the full (T, T) score matrix."""

    def __init__(self, dim, heads, window):
        super().__init__()
        self.heads, self.window, self.head_dim = heads, window, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.global_qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def split_heads(self, x):
        b, t, _ = x.shape
        return x.view(b, t, self.heads, self.head_dim).transpose(1, 2)   # (B, H, T, hd)

    def global_row(self, x, padding_mask):
        """Token 0's output (B, H, 1, hd): its global query against every token's global keys."""
        gq, gk, gv = (self.split_heads(p) for p in self.global_qkv(x).chunk(3, dim=-1))
        scores = (gq[:, :, :1] / math.sqrt(self.head_dim)) @ gk.transpose(-1, -2)
        scores = scores.masked_fill(padding_mask[:, None, None], float("-inf"))
        return F.softmax(scores, dim=-1) @ gv

    def sliding(self, x, padding_mask):
        b, t, _ = x.shape
        w = self.window
        q, k, v = (self.split_heads(p) for p in self.qkv(x).chunk(3, dim=-1))
        q = q / math.sqrt(self.head_dim)
        k_windows = F.pad(k, (0, 0, w, w)).unfold(2, 2 * w + 1, 1)   # (B, H, T, hd, 2w + 1)
        v_pad = F.pad(v, (0, 0, w, w)).contiguous()   # (B, H, T + 2w, hd)
        s = v_pad.stride()
        v_windows = v_pad.as_strided((b, self.heads, t, 2 * w + 1, self.head_dim), (s[0], s[1], s[2], s[2], s[3]))
        local = torch.einsum("bhtd,bhtdw->bhtw", q, k_windows)
        key_pos = torch.arange(t).unsqueeze(1) + torch.arange(-w, w + 1)   # (T, 2w + 1)
        inside = (key_pos > 0) & (key_pos < t)   # past the ends: masked; token 0: read through the global column
        key_valid = (~padding_mask)[:, key_pos.clamp(0, t - 1)] & inside   # (B, T, 2w + 1)
        local = local.masked_fill(~key_valid[:, None], float("-inf"))
        to_global = (q * k[:, :, :1]).sum(-1, keepdim=True)   # (B, H, T, 1)
        weights = F.softmax(torch.cat([to_global, local], dim=-1), dim=-1)
        out = weights[..., :1] * v[:, :, :1] + torch.einsum("bhtw,bhtwd->bhtd", weights[..., 1:], v_windows)
        out = torch.cat([self.global_row(x, padding_mask), out[:, :, 1:]], dim=2)
        return self.out(out.transpose(1, 2).reshape(b, t, -1))

    def dense(self, x, padding_mask):
        b, t, _ = x.shape
        q, k, v = (self.split_heads(p) for p in self.qkv(x).chunk(3, dim=-1))
        i = torch.arange(t)
        allowed = ((i[:, None] - i[None, :]).abs() <= self.window) | (i[None, :] == 0)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        scores = scores.masked_fill(~allowed | padding_mask[:, None, None], float("-inf"))
        out = F.softmax(scores, dim=-1) @ v
        out = torch.cat([self.global_row(x, padding_mask), out[:, :, 1:]], dim=2)
        return self.out(out.transpose(1, 2).reshape(b, t, -1))

    def chunked(self, x, padding_mask):
        """Hugging Face's Longformer route: windows as overlapping chunks of 2w queries (T a multiple of 2w)."""
        b, t, d = x.shape
        w = self.window
        q, k, v = (p.view(b, t, self.heads, self.head_dim) for p in self.qkv(x).chunk(3, dim=-1))   # (B, T, H, hd)
        q = q / math.sqrt(self.head_dim)
        scores = sliding_chunks_query_key_matmul(q, k, w)   # (B, T, H, 2w + 1)
        # keys that are padding or global leave the windows: a large negative score, added through the same route
        removed = (padding_mask | (torch.arange(t) == 0))[:, :, None, None]
        float_mask = removed.type_as(q).masked_fill(removed, torch.finfo(q.dtype).min)
        scores += sliding_chunks_query_key_matmul(float_mask.new_ones(size=float_mask.size()), float_mask, w)
        global_scores = torch.einsum("blhd,bshd->blhs", q, k[:, :1])   # (B, T, H, 1)
        probs = F.softmax(torch.cat((global_scores, scores), dim=-1), dim=-1)
        out = torch.einsum("blhs,bshd->blhd", probs.narrow(-1, 0, 1), v[:, :1])
        out = out + sliding_chunks_matmul_attn_probs_value(probs.narrow(-1, 1, 2 * w + 1), v, w)
        out = torch.cat([self.global_row(x, padding_mask), out.transpose(1, 2)[:, :, 1:]], dim=2)
        return self.out(out.transpose(1, 2).reshape(b, t, -1))

    def forward(self, x, padding_mask, impl="sliding"):
        return getattr(self, impl)(x, padding_mask)


def chunk(hidden_states, w):
    """(BH, T, hd) -> (BH, T / w - 1, 2w, hd): windows of 2w rows overlapping by w, a strided view."""
    hidden_states = hidden_states.view(hidden_states.size(0), hidden_states.size(1) // (w * 2), w * 2,
                                       hidden_states.size(2))
    chunk_size = list(hidden_states.size())
    chunk_size[1] = chunk_size[1] * 2 - 1
    chunk_stride = list(hidden_states.stride())
    chunk_stride[1] = chunk_stride[1] // 2
    return hidden_states.as_strided(size=chunk_size, stride=chunk_stride)


def pad_and_transpose_last_two_dims(x, padding):
    """Pads, then reads the padded block with its last two sizes swapped (a reinterpretation, not a transpose)."""
    x = F.pad(x, padding)
    return x.view(*x.size()[:-2], x.size(-1), x.size(-2))


def mask_invalid_locations(input_tensor, affected_seq_len):
    """-inf, in place, where the first and last w queries' windows reach past the sequence."""
    beginning_mask_2d = input_tensor.new_ones(affected_seq_len, affected_seq_len + 1).tril().flip(dims=[0])
    beginning_mask = beginning_mask_2d[None, :, None, :]
    ending_mask = beginning_mask.flip(dims=(1, 3))
    beginning_input = input_tensor[:, :affected_seq_len, :, : affected_seq_len + 1]
    beginning_mask = beginning_mask.expand(beginning_input.size())
    input_tensor[:, :affected_seq_len, :, : affected_seq_len + 1] = torch.full_like(
        beginning_input, -float("inf")).where(beginning_mask.bool(), beginning_input)
    ending_input = input_tensor[:, -affected_seq_len:, :, -(affected_seq_len + 1):]
    ending_mask = ending_mask.expand(ending_input.size())
    input_tensor[:, -affected_seq_len:, :, -(affected_seq_len + 1):] = torch.full_like(
        ending_input, -float("inf")).where(ending_mask.bool(), ending_input)


def sliding_chunks_query_key_matmul(query, key, w):
    """query, key (B, T, H, hd) -> each query's scores against keys t-w .. t+w, (B, T, H, 2w + 1)."""
    batch_size, seq_len, num_heads, head_dim = query.size()
    chunks_count = seq_len // w - 1
    query = chunk(query.transpose(1, 2).reshape(batch_size * num_heads, seq_len, head_dim), w)
    key = chunk(key.transpose(1, 2).reshape(batch_size * num_heads, seq_len, head_dim), w)
    chunked_scores = torch.einsum("bcxd,bcyd->bcxy", (query, key))   # (BH, chunks, 2w, 2w)
    chunked_scores = pad_and_transpose_last_two_dims(chunked_scores, padding=(0, 0, 0, 1))
    diagonal = chunked_scores.new_zeros((batch_size * num_heads, chunks_count + 1, w, w * 2 + 1))
    # the upper triangles of the chunks are the windows' right halves, the lower triangles their left halves
    diagonal[:, :-1, :, w:] = chunked_scores[:, :, :w, : w + 1]
    diagonal[:, -1, :, w:] = chunked_scores[:, -1, w:, : w + 1]
    diagonal[:, 1:, :, :w] = chunked_scores[:, :, -(w + 1): -1, w + 1:]
    diagonal[:, 0, 1:w, 1:w] = chunked_scores[:, 0, : w - 1, 1 - w:]
    diagonal = diagonal.view(batch_size, num_heads, seq_len, 2 * w + 1).transpose(2, 1)
    mask_invalid_locations(diagonal, w)
    return diagonal


def pad_and_diagonalize(chunked):
    """(BH, C, w, L) -> (BH, C, w, w + L): row r shifted right by r, through a pad and two views."""
    total_num_heads, num_chunks, window_overlap, hidden_dim = chunked.size()
    chunked = F.pad(chunked, (0, window_overlap + 1))
    chunked = chunked.view(total_num_heads, num_chunks, -1)[:, :, :-window_overlap]
    chunked = chunked.view(total_num_heads, num_chunks, window_overlap, window_overlap + hidden_dim)
    return chunked[:, :, :, :-1]


def sliding_chunks_matmul_attn_probs_value(attn_probs, value, w):
    """attn_probs (B, T, H, 2w + 1), value (B, T, H, hd) -> (B, T, H, hd)."""
    batch_size, seq_len, num_heads, head_dim = value.size()
    chunks_count = seq_len // w - 1
    chunked_attn_probs = attn_probs.transpose(1, 2).reshape(batch_size * num_heads, seq_len // w, w, 2 * w + 1)
    value = value.transpose(1, 2).reshape(batch_size * num_heads, seq_len, head_dim)
    padded_value = F.pad(value, (0, 0, w, w), value=-1)
    stride = padded_value.stride()
    chunked_value = padded_value.as_strided(size=(batch_size * num_heads, chunks_count + 1, 3 * w, head_dim),
                                            stride=(stride[0], w * stride[1], stride[1], stride[2]))
    context = torch.einsum("bcwd,bcdh->bcwh", (pad_and_diagonalize(chunked_attn_probs), chunked_value))
    return context.view(batch_size, num_heads, seq_len, head_dim).transpose(1, 2)


class LongformerLite(nn.Module):
    """Token ids (B, T) with padding 0 -> class logits (B, classes), read from the global token 0."""

    def __init__(self, vocab=10, dim=8, heads=2, window=2, max_len=12, num_classes=2):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim, padding_idx=0)
        self.position = nn.Embedding(max_len, dim)
        self.attn = SlidingWindowSelfAttention(dim, heads, window)
        self.norm1 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.norm2 = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, tokens, impl="chunked"):
        padding_mask = tokens == 0
        padding_mask[:, 0] = False   # token 0 is the global [CLS] slot
        x = self.embed(tokens) + self.position(torch.arange(tokens.shape[1]))
        x = self.norm1(x + self.attn(x, padding_mask, impl))
        x = self.norm2(x + self.ff(x))
        return self.head(x[:, 0])


def make_model(dtype="float32"):
    return LongformerLite().to(getattr(torch, dtype))


def train(model, batches, lr=1e-2):
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    history = []
    for tokens, labels in batches:
        loss = F.cross_entropy(model(tokens), labels)
        with torch.no_grad():
            dense_loss = F.cross_entropy(model(tokens, "dense"), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append((loss.item(), dense_loss.item()))
    return history


def both_ways(model, tokens):
    """The three attentions' outputs and their gradients for the same tokens."""
    x = model.embed(tokens).detach().requires_grad_()
    padding_mask = tokens == 0
    padding_mask[:, 0] = False
    results = []
    for impl in ("chunked", "sliding", "dense"):
        out = model.attn(x, padding_mask, impl)
        (grad,) = torch.autograd.grad((out * out).sum(), [x])
        results.append((out.detach().numpy(), grad.numpy()))
    return results
'''


PROGRAMS = (DETR, YOLO, PERCEIVER, LONGFORMER)


def _twins(source: str, *args: Any) -> tuple:
    return _twin_models(source, *args, imports=(TORCH_IMPORTS_DETECTION2, MINIGRAD_IMPORTS_DETECTION2))


def test_the_programs_differ_only_in_their_imports() -> None:
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


def test_distributed_guards_take_the_single_process_branch(torch: Any) -> None:
    """``torch.distributed``'s guards (DETR's ``is_dist_avail_and_initialized``) exist and say: no process group."""
    assert mg.distributed is dist
    assert dist.is_available() is False and dist.is_initialized() is False
    assert torch.distributed.is_initialized() is False   # torch's own answer in one process
    with pytest.raises(AttributeError, match="no torch.distributed process groups"):
        dist.all_reduce(mg.ones(1))


def _assert_same_weights_but_key_biases(torch_model: Any, mg_model: Any, initial: dict, biases: list,
                                        dim: int) -> None:
    """``_assert_same_weights``, where each of ``biases`` is stacked query, key, value biases (3 * dim,): softmax
    ignores a shift of all scores, so the key biases get a zero gradient, and Adam's float32 steps follow the sign
    of rounding noise there; their query and value parts are compared."""
    _assert_same_weights(torch_model, mg_model, initial, noise_only=tuple(biases))
    ours, theirs = mg_model.state_dict(), torch_model.state_dict()
    query_and_value = np.r_[0:dim, 2 * dim:3 * dim]
    for name in biases:
        np.testing.assert_allclose(ours[name].numpy()[query_and_value], theirs[name].detach().numpy()[query_and_value],
                                   rtol=1e-4, atol=1e-5, err_msg=name)


def _detr_batches(lib: Any, count: int, seed: int) -> list:
    """(two images (3, 16, 16) and (3, 16, 12), their targets): 2 to 4 boxes (cx, cy, w, h) of 3 classes each."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        images = [lib.tensor(rng.normal(size=(3, 16, width)).astype(np.float32)) for width in (16, 12)]
        targets = []
        for _ in range(2):
            n = int(rng.integers(2, 5))
            boxes = np.concatenate([rng.uniform(0.3, 0.7, (n, 2)), rng.uniform(0.1, 0.4, (n, 2))], axis=1)
            targets.append({"labels": lib.tensor(rng.integers(0, 3, n)),
                            "boxes": lib.tensor(boxes.astype(np.float32))})
        batches.append((images, targets))
    return batches


def test_detr_set_prediction_with_exact_matching(torch: Any) -> None:
    torch_program, torch_model, mg_program, mg_model, initial = _twins(DETR)
    expected, expected_matches, expected_detections = torch_program["train"](
        torch_model, _detr_batches(torch_program["torch"], 3, 0))
    history, matches, detections = mg_program["train"](mg_model, _detr_batches(mg_program["torch"], 3, 0))
    assert matches == expected_matches
    assert history[0].keys() == expected[0].keys() and "loss_giou_0" in history[0]   # auxiliary losses
    for ours, theirs in zip(history, expected):
        for key in theirs:
            assert ours[key] == pytest.approx(theirs[key], rel=1e-5, abs=1e-5), key
    _assert_same_weights(torch_model, mg_model, initial)
    for ours, theirs in zip(detections, expected_detections):
        np.testing.assert_array_equal(ours["labels"].numpy(), theirs["labels"].numpy())
        np.testing.assert_allclose(ours["scores"].numpy(), theirs["scores"].numpy(), rtol=1e-5)
        np.testing.assert_allclose(ours["boxes"].numpy(), theirs["boxes"].numpy(), rtol=1e-5, atol=1e-5)
        # float32 boxes times the int64 image sizes: float32 in torch, float64 by NumPy 2's promotion (DESIGN §3)
        assert ours["boxes"].dtype == np.float64 and str(theirs["boxes"].dtype) == "torch.float32"


def _yolo_batches(lib: Any, count: int, seed: int, dtype: str) -> list:
    """(images (4, 3, 24, 24), per image 1 to 3 boxes (n, 5): class of 4, x, y, w, h as image fractions)."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        images = lib.tensor(rng.normal(size=(4, 3, 24, 24)).astype(dtype))
        boxes = []
        for _ in range(4):
            n = int(rng.integers(1, 4))
            rows = np.concatenate([rng.integers(0, 4, (n, 1)), rng.uniform(0.05, 0.95, (n, 2)),
                                   rng.uniform(0.1, 0.5, (n, 2))], axis=1)
            boxes.append(lib.tensor(rows.astype(np.float32)))
        batches.append((images, boxes))
    return batches


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_yolov1_loss(dtype: str, torch: Any) -> None:
    torch_program, torch_model, mg_program, mg_model, initial = _twins(YOLO, dtype)
    rtol = 1e-5 if dtype == "float32" else 1e-10
    torch_batches, mg_batches = _yolo_batches(torch_program["torch"], 4, 1, dtype), _yolo_batches(
        mg_program["torch"], 4, 1, dtype)
    expected, expected_best = torch_program["train"](torch_model, torch_batches)
    history, best = mg_program["train"](mg_model, mg_batches)
    np.testing.assert_allclose(history, expected, rtol=rtol)
    for ours, theirs in zip(best, expected_best):
        np.testing.assert_array_equal(ours, theirs)
    _assert_same_weights(torch_model, mg_model, initial)
    # evaluation: cells to boxes, NMS and mAP; the int64 best-box and cell indices times float boxes are float64
    # by NumPy 2's promotion (DESIGN §3), float32 in torch, so float32 values agree to float32 rounding
    pred_boxes, true_boxes, *mean_aps = mg_program["evaluate"](mg_model, mg_batches[:2])
    expected_pred, expected_true, *expected_maps = torch_program["evaluate"](torch_model, torch_batches[:2])
    assert len(pred_boxes) == len(expected_pred) > 0 and len(true_boxes) == len(expected_true) > 0
    np.testing.assert_allclose(pred_boxes, expected_pred, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(true_boxes, expected_true, rtol=1e-6)
    assert mean_aps == pytest.approx(expected_maps, rel=1e-6)
    assert 0.2 < mean_aps[1] < 1


def _images(lib: Any, count: int, seed: int, dtype: str) -> list:
    """(images (3, 6, 6, 3) channels last, labels (3,)): the class is the brightest channel."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        labels = rng.integers(0, 3, 3)
        images = rng.normal(size=(3, 6, 6, 3)) + 1.5 * np.eye(3)[labels][:, None, None, :]
        batches.append((lib.tensor(images.astype(dtype)), lib.tensor(labels)))
    return batches


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_perceiver_latent_cross_attention(dtype: str, torch: Any) -> None:
    torch_program, torch_model, mg_program, mg_model, initial = _twins(PERCEIVER, dtype)
    rtol = 1e-5 if dtype == "float32" else 1e-10
    expected = torch_program["train"](torch_model, _images(torch_program["torch"], 4, 2, dtype))
    history = mg_program["train"](mg_model, _images(mg_program["torch"], 4, 2, dtype))
    for (loss, weights), (torch_loss, torch_weights) in zip(history, expected):
        assert loss == pytest.approx(torch_loss, rel=rtol)
        assert weights.shape == (3, 4, 36)   # each latent's weights over the 36 pixels
        np.testing.assert_allclose(weights, torch_weights, rtol=rtol, atol=rtol * 1e-2)
    biases = ["cross_attn.in_proj_bias"] + [f"layers.{i}.0.fn.attn.in_proj_bias" for i in range(2)]
    _assert_same_weights_but_key_biases(torch_model, mg_model, initial, biases, 12)


def _token_batches(lib: Any, count: int, seed: int) -> list:
    """(tokens (3, 12) with a [CLS] 1 first and 0-padding at the end, labels): the class says whether 9 occurs."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        tokens = np.zeros((3, 12), dtype=np.int64)
        for row, length in enumerate(rng.integers(6, 13, 3)):
            tokens[row, 0] = 1
            tokens[row, 1:length] = rng.integers(2, 10, length - 1)
        batches.append((lib.tensor(tokens), lib.tensor((tokens == 9).any(axis=1).astype(np.int64))))
    return batches


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_longformer_sliding_window_attention(dtype: str, torch: Any) -> None:
    torch_program, torch_model, mg_program, mg_model, initial = _twins(LONGFORMER, dtype)
    rtol = 1e-5 if dtype == "float32" else 1e-10
    tokens = _token_batches(torch_program["torch"], 1, 4)[0][0].numpy()
    results = {}
    for name, program, model in (("torch", torch_program, torch_model), ("minigrad", mg_program, mg_model)):
        results[name] = program["both_ways"](model, program["torch"].tensor(tokens))
        (chunked, chunked_grad), *others = results[name]
        for out, grad in others:   # the sliding and dense routes compute the same attention
            np.testing.assert_allclose(out, chunked, rtol=rtol, atol=rtol * 1e-2, err_msg=name)
            np.testing.assert_allclose(grad, chunked_grad, rtol=rtol, atol=rtol * 1e-2, err_msg=name)
    for ours, theirs in zip(results["minigrad"], results["torch"]):
        np.testing.assert_allclose(ours[0], theirs[0], rtol=rtol, atol=rtol * 1e-2)
        np.testing.assert_allclose(ours[1], theirs[1], rtol=rtol, atol=rtol * 1e-2)
    expected = torch_program["train"](torch_model, _token_batches(torch_program["torch"], 4, 5))
    history = mg_program["train"](mg_model, _token_batches(mg_program["torch"], 4, 5))
    np.testing.assert_allclose(history, expected, rtol=rtol)
    np.testing.assert_allclose([h[0] for h in history], [h[1] for h in history], rtol=rtol)   # sliding == dense
    _assert_same_weights_but_key_biases(torch_model, mg_model, initial, ["attn.qkv.bias", "attn.global_qkv.bias"], 8)
