"""Three vision programs of well-known shapes, run on torch and on minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program (the helpers and the rule come from
tests/test_pytorch_programs.py): it keeps the original's PyTorch calls in the same roles, with our own names,
structure and comments, tiny sizes, a few steps and generated boxes and images.

* ``DETECTION`` gathers the torchvision-free detection utilities that DETR, RetinaNet and Faster R-CNN
  re-implementations write by hand (https://github.com/facebookresearch/detr ``util/box_ops.py``, torchvision's
  ``ops/boxes.py``, ``models/detection/_utils.py`` and ``retinanet.py``): ``box_iou`` from
  ``torch.max(boxes1[:, None, :2], boxes2[:, :2])`` and ``(rb - lt).clamp(min=0)``, ``generalized_box_iou``, an NMS
  loop (``scores.argsort(descending=True)``, ``order[1:][iou <= thresh]``, ``keep.append(i.item())``,
  ``torch.tensor(keep, dtype=torch.long)``) and the class-offset ``batched_nms``, anchors from
  ``torch.meshgrid(shifts_y, shifts_x, indexing="ij")``, the ``BoxCoder`` (``torch.log(gt_w / ex_w)``,
  ``torch.exp(dw.clamp(max=math.log(1000. / 16)))``, strided ``rel_codes[:, 0::4]``), the ``Matcher``
  (``max(dim=0)``/``max(dim=1)``, ``torch.where(matched_vals < low, -1, idx)``, low-quality matches), balanced
  sampling with ``torch.nonzero(labels == 1).squeeze(1)`` and ``torch.randperm``, a hand-written
  ``sigmoid_focal_loss``, ``F.smooth_l1_loss(beta=1/9, reduction="sum")``, ``F.l1_loss`` and a GIoU loss, on a
  tiny single-scale detector trained with SGD, then score-thresholded, ``topk``'d and NMS'd at inference;
* ``CAPSULE_NET`` mirrors the capsule networks of Sabour et al. as the common PyTorch re-implementations write
  them (gram-ai/capsule-networks, higgsfield's Capsule-Network-Tutorial): a primary-capsule conv read as vectors,
  ``squash`` with ``torch.norm(s, dim=-1, keepdim=True)``, the 5-D broadcast
  ``torch.matmul(W, u[:, :, None, :, None]).squeeze(-1)`` with ``W`` an ``nn.Parameter(0.01 * torch.randn(...))``,
  three routing iterations (``F.softmax(b_ij, dim=2)``, ``(c_ij[..., None] * u_hat).sum(dim=1, keepdim=True)``,
  agreement on ``u_hat.detach()``), the margin loss with ``F.relu(0.9 - v_len) ** 2`` and
  ``torch.eye(10).index_select(dim=0, index=labels)``, a decoder fed the true class's capsule, Adam;
* ``IMAGE_OPS`` puts the image-processing ops of vision code into one restoration model: the spatial transformer
  of the PyTorch STN tutorial (https://pytorch.org/tutorials/intermediate/spatial_transformer_tutorial.html;
  ``theta.view(-1, 2, 3)`` initialised to the identity under ``no_grad``, ``F.affine_grid`` + ``F.grid_sample``),
  a sliding-window filter with ``F.unfold``/``F.fold``, the ESPCN super-resolution net of pytorch/examples
  (https://github.com/pytorch/examples/tree/main/super_resolution; ``F.pixel_shuffle``) over
  ``F.interpolate(mode="bicubic", align_corners=False)``, a total-variation loss by slicing, and the SSIM of
  Po-Hsun-Su/pytorch-ssim (https://github.com/Po-Hsun-Su/pytorch-ssim): a Gaussian window from
  ``torch.exp(-(x ** 2) / (2 * sigma ** 2))`` and ``torch.outer``, ``F.conv2d(groups=C)``.

Each program's losses, gradients (every step), final weights and its by-products (NMS keeps, matches, routing
coefficients, predicted affine maps) are compared, in float32 to 1e-5 and in float64 to ~1e-10. The anchor
sampling's ``torch.randperm`` reads the same numbers in both runs (``_shared_draws`` of
tests/test_pytorch_programs_vision.py). RetinaNet divides its losses by ``max(1, num_foreground)`` with
``num_foreground`` a 0-dim int64 tensor, which by NumPy 2's promotion (DESIGN §3) would make a float32 loss
float64 in minigrad: the program takes ``.item()`` of it, as the README says.

Regressions found by the programs: ``F.grid_sample(mode="nearest")`` left ``grid.grad`` None where PyTorch gives
zeros (so an optimizer skipped the localisation net that torch steps with momentum or weight decay), and a NaN
grid point made its garbage tap index reach ``gather``, which raised, where PyTorch reads 0 (zeros padding).
Float32 rounding, not a bug: NumPy's float32 ``exp`` is 1 ulp off torch's at some points, so the program builds
SSIM's Gaussian window in the images' dtype (pytorch-ssim builds it in float32 and ``type_as``'s it), and the
restorer trains with SGD, since Adam's first step moves every entry of theta by the same +-lr, which puts a
diagonal of sampling points exactly on pixel centres, bilinear sampling's kinks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
from tests.test_pytorch_programs import MINIGRAD_IMPORTS, TORCH_IMPORTS, _assert_same_weights, _program, _twin_models
from tests.test_pytorch_programs_vision import _shared_draws

DETECTION = '''
def box_area(boxes):
    """(N, 4) boxes as x1, y1, x2, y2 -> (N,) areas."""
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_iou_and_union(boxes1, boxes2):
    """(N, 4), (M, 4) -> IoU (N, M) and the union areas (N, M)."""
    area1 = box_area(boxes1)
    area2 = box_area(boxes2)
    lt = torch.max(boxes1[:, None, :2], boxes2[:, :2])   # (N, M, 2) top-left corner of the overlap
    rb = torch.min(boxes1[:, None, 2:], boxes2[:, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[:, :, 0] * wh[:, :, 1]
    union = area1[:, None] + area2 - inter
    return inter / union, union


def box_iou(boxes1, boxes2):
    return box_iou_and_union(boxes1, boxes2)[0]


def generalized_box_iou(boxes1, boxes2):
    """IoU less the share of the enclosing box that neither box covers (Rezatofighi et al.)."""
    iou, union = box_iou_and_union(boxes1, boxes2)
    lt = torch.min(boxes1[:, None, :2], boxes2[:, :2])
    rb = torch.max(boxes1[:, None, 2:], boxes2[:, 2:])
    wh = (rb - lt).clamp(min=0)
    enclosing = wh[:, :, 0] * wh[:, :, 1]
    return iou - (enclosing - union) / enclosing


def nms(boxes, scores, iou_threshold):
    """Indices of the boxes kept, best score first: each kept box drops the rest that overlap it too much."""
    order = scores.argsort(descending=True)
    keep = []
    while order.numel() > 0:
        i = order[0]
        keep.append(i.item())
        if order.numel() == 1:
            break
        iou = box_iou(boxes[i].unsqueeze(0), boxes[order[1:]])[0]
        order = order[1:][iou <= iou_threshold]
    return torch.tensor(keep, dtype=torch.long)


def batched_nms(boxes, scores, classes, iou_threshold):
    """NMS per class in one call: each class's boxes are shifted far from every other class's."""
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64)
    offsets = classes.to(boxes) * (boxes.max() + 1)
    return nms(boxes + offsets[:, None], scores, iou_threshold)


class AnchorGenerator(nn.Module):
    """Anchors (H * W * A, 4) for one feature map: A = len(sizes) * len(aspect_ratios) per cell."""

    def __init__(self, sizes=(4, 8), aspect_ratios=(0.5, 1.0, 2.0)):
        super().__init__()
        self.sizes, self.aspect_ratios = sizes, aspect_ratios
        self.cell_anchors = self.generate_anchors(sizes, aspect_ratios)

    def num_anchors_per_location(self):
        return len(self.sizes) * len(self.aspect_ratios)

    @staticmethod
    def generate_anchors(scales, aspect_ratios, dtype=torch.float32):
        scales = torch.as_tensor(scales, dtype=dtype)
        aspect_ratios = torch.as_tensor(aspect_ratios, dtype=dtype)
        h_ratios = torch.sqrt(aspect_ratios)
        w_ratios = 1 / h_ratios
        ws = (w_ratios[:, None] * scales[None, :]).view(-1)
        hs = (h_ratios[:, None] * scales[None, :]).view(-1)
        base_anchors = torch.stack([-ws, -hs, ws, hs], dim=1) / 2
        return base_anchors.round()

    def forward(self, image_size, feature_map):
        grid_height, grid_width = feature_map.shape[-2:]
        stride_h, stride_w = image_size[0] // grid_height, image_size[1] // grid_width
        base = self.cell_anchors.to(feature_map.dtype)
        shifts_x = torch.arange(0, grid_width, dtype=torch.int32).to(base) * stride_w
        shifts_y = torch.arange(0, grid_height, dtype=torch.int32).to(base) * stride_h
        shift_y, shift_x = torch.meshgrid(shifts_y, shifts_x, indexing="ij")
        shift_x = shift_x.reshape(-1)
        shift_y = shift_y.reshape(-1)
        shifts = torch.stack((shift_x, shift_y, shift_x, shift_y), dim=1)
        return (shifts.view(-1, 1, 4) + base.view(1, -1, 4)).reshape(-1, 4)


class BoxCoder:
    """Boxes <-> offsets (dx, dy, dw, dh) relative to reference boxes, scaled by weights."""

    def __init__(self, weights=(10.0, 10.0, 5.0, 5.0), bbox_xform_clip=math.log(1000.0 / 16)):
        self.weights = weights
        self.bbox_xform_clip = bbox_xform_clip

    def encode(self, reference_boxes, proposals):
        wx, wy, ww, wh = self.weights
        ex_widths = proposals[:, 2] - proposals[:, 0]
        ex_heights = proposals[:, 3] - proposals[:, 1]
        ex_ctr_x = proposals[:, 0] + 0.5 * ex_widths
        ex_ctr_y = proposals[:, 1] + 0.5 * ex_heights
        gt_widths = reference_boxes[:, 2] - reference_boxes[:, 0]
        gt_heights = reference_boxes[:, 3] - reference_boxes[:, 1]
        gt_ctr_x = reference_boxes[:, 0] + 0.5 * gt_widths
        gt_ctr_y = reference_boxes[:, 1] + 0.5 * gt_heights
        targets_dx = wx * (gt_ctr_x - ex_ctr_x) / ex_widths
        targets_dy = wy * (gt_ctr_y - ex_ctr_y) / ex_heights
        targets_dw = ww * torch.log(gt_widths / ex_widths)
        targets_dh = wh * torch.log(gt_heights / ex_heights)
        return torch.stack((targets_dx, targets_dy, targets_dw, targets_dh), dim=1)

    def decode(self, rel_codes, boxes):
        boxes = boxes.to(rel_codes.dtype)
        widths = boxes[:, 2] - boxes[:, 0]
        heights = boxes[:, 3] - boxes[:, 1]
        ctr_x = boxes[:, 0] + 0.5 * widths
        ctr_y = boxes[:, 1] + 0.5 * heights
        wx, wy, ww, wh = self.weights
        dx = rel_codes[:, 0::4] / wx
        dy = rel_codes[:, 1::4] / wy
        dw = rel_codes[:, 2::4] / ww
        dh = rel_codes[:, 3::4] / wh
        dw = torch.clamp(dw, max=self.bbox_xform_clip)   # no exp overflow for a wild prediction
        dh = torch.clamp(dh, max=self.bbox_xform_clip)
        pred_ctr_x = dx * widths[:, None] + ctr_x[:, None]
        pred_ctr_y = dy * heights[:, None] + ctr_y[:, None]
        pred_w = torch.exp(dw) * widths[:, None]
        pred_h = torch.exp(dh) * heights[:, None]
        x1 = pred_ctr_x - 0.5 * pred_w
        y1 = pred_ctr_y - 0.5 * pred_h
        x2 = pred_ctr_x + 0.5 * pred_w
        y2 = pred_ctr_y + 0.5 * pred_h
        return torch.stack((x1, y1, x2, y2), dim=2).flatten(1)


class Matcher:
    """Each anchor's ground-truth index, or -1 (background, IoU < low) or -2 (between the thresholds)."""
    BELOW_LOW_THRESHOLD = -1
    BETWEEN_THRESHOLDS = -2

    def __init__(self, high_threshold, low_threshold, allow_low_quality_matches=True):
        self.high_threshold, self.low_threshold = high_threshold, low_threshold
        self.allow_low_quality_matches = allow_low_quality_matches

    def __call__(self, match_quality_matrix):
        # match_quality_matrix: (G, A) IoU of each ground-truth box with each anchor
        matched_vals, matches = match_quality_matrix.max(dim=0)
        all_matches = matches.clone()
        matches = torch.where(matched_vals < self.low_threshold, self.BELOW_LOW_THRESHOLD, matches)
        between = (matched_vals >= self.low_threshold) & (matched_vals < self.high_threshold)
        matches[between] = self.BETWEEN_THRESHOLDS
        if self.allow_low_quality_matches:
            # every ground-truth box keeps the anchors it overlaps best, however weakly
            highest_quality_foreach_gt, _ = match_quality_matrix.max(dim=1)
            gt_pred_pairs = torch.where(match_quality_matrix == highest_quality_foreach_gt[:, None])
            pred_inds_to_update = gt_pred_pairs[1]
            matches[pred_inds_to_update] = all_matches[pred_inds_to_update]
        return matches


def sample_anchors(labels, batch_size_per_image=8, positive_fraction=0.5):
    """Balanced positives/negatives: 1 where an anchor is sampled as positive, 1 where as negative."""
    positive = torch.nonzero(labels == 1).squeeze(1)
    negative = torch.nonzero(labels == 0).squeeze(1)
    num_pos = int(batch_size_per_image * positive_fraction)
    num_pos = min(positive.numel(), num_pos)
    num_neg = min(negative.numel(), batch_size_per_image - num_pos)
    perm1 = torch.randperm(positive.numel(), device=positive.device)[:num_pos]
    perm2 = torch.randperm(negative.numel(), device=negative.device)[:num_neg]
    pos_idx_mask = torch.zeros_like(labels, dtype=torch.uint8)
    neg_idx_mask = torch.zeros_like(labels, dtype=torch.uint8)
    pos_idx_mask[positive[perm1]] = 1
    neg_idx_mask[negative[perm2]] = 1
    return pos_idx_mask, neg_idx_mask


def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2, reduction="none"):
    """Lin et al.'s focal loss on logits: cross entropy scaled down where the prediction is already right."""
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    if reduction == "mean":
        loss = loss.mean()
    elif reduction == "sum":
        loss = loss.sum()
    return loss


def giou_loss(boxes1, boxes2):
    """1 - GIoU of matching rows of two (N, 4) box sets, summed."""
    return (1 - torch.diag(generalized_box_iou(boxes1, boxes2))).sum()


class TinyDetector(nn.Module):
    """Images (N, 3, 16, 16) -> class logits (N, HWA, C) and box offsets (N, HWA, 4) on one 4x4 feature map,
    plus an objectness logit (N, HWA) as a region proposal network scores anchors."""

    def __init__(self, num_classes=2, channels=8):
        super().__init__()
        self.num_classes = num_classes
        self.anchor_generator = AnchorGenerator()
        a = self.anchor_generator.num_anchors_per_location()
        self.backbone = nn.Sequential(
            nn.Conv2d(3, channels, 3, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, stride=2, padding=1), nn.ReLU(inplace=True))
        self.cls_logits = nn.Conv2d(channels, a * num_classes, 3, padding=1)
        self.bbox_reg = nn.Conv2d(channels, a * 4, 3, padding=1)
        self.objectness = nn.Conv2d(channels, a, 1)
        prior_probability = 0.01
        for layer in (self.cls_logits, self.bbox_reg, self.objectness):
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.constant_(layer.bias, 0)
        # background starts likely, as RetinaNet's classification head does
        nn.init.constant_(self.cls_logits.bias, -math.log((1 - prior_probability) / prior_probability))

    @staticmethod
    def flatten(x, k):
        n, _, h, w = x.shape
        x = x.view(n, -1, k, h, w).permute(0, 3, 4, 1, 2)
        return x.reshape(n, -1, k)

    def forward(self, images):
        features = self.backbone(images)
        anchors = self.anchor_generator(images.shape[-2:], features)
        cls = self.flatten(self.cls_logits(features), self.num_classes)
        reg = self.flatten(self.bbox_reg(features), 4)
        obj = self.flatten(self.objectness(features), 1).squeeze(-1)
        return cls, reg, obj, anchors


def detection_losses(model, images, targets, box_coder, matcher, proposal_matcher):
    """Focal classification loss, smooth-L1 + L1 + GIoU box losses, sampled objectness BCE."""
    cls, reg, obj, anchors = model(images)
    cls_losses, box_losses, l1_losses, giou_losses, obj_losses = [], [], [], [], []
    for i, target in enumerate(targets):
        gt_boxes, gt_labels = target["boxes"], target["labels"]
        iou = box_iou(gt_boxes, anchors)
        matched_idxs = matcher(iou)
        foreground = matched_idxs >= 0
        num_foreground = foreground.sum().item()   # a Python int: the losses stay in their own dtype
        gt_classes_target = torch.zeros_like(cls[i])
        gt_classes_target[foreground, gt_labels[matched_idxs[foreground]]] = 1.0
        valid = matched_idxs != matcher.BETWEEN_THRESHOLDS
        cls_losses.append(sigmoid_focal_loss(cls[i][valid], gt_classes_target[valid], reduction="sum")
                          / max(1, num_foreground))
        matched_gt = gt_boxes[matched_idxs[foreground]]
        fg_anchors = anchors[foreground]
        fg_reg = reg[i][foreground, :]
        target_regression = box_coder.encode(matched_gt, fg_anchors)
        box_losses.append(F.smooth_l1_loss(fg_reg, target_regression, beta=1 / 9, reduction="sum")
                          / max(1, num_foreground))
        l1_losses.append(F.l1_loss(fg_reg, target_regression, reduction="sum") / max(1, num_foreground))
        decoded = box_coder.decode(fg_reg, fg_anchors)
        giou_losses.append(giou_loss(decoded, matched_gt) / max(1, num_foreground))
        proposal_idxs = proposal_matcher(iou)
        labels = (proposal_idxs >= 0).to(obj.dtype)
        labels[proposal_idxs == -1] = 0.0
        labels[proposal_idxs == -2] = -1.0
        pos, neg = sample_anchors(labels)
        sampled = torch.where((pos + neg) > 0)[0]
        obj_losses.append(F.binary_cross_entropy_with_logits(obj[i][sampled], labels[sampled]))
    return {"classification": sum(cls_losses) / len(targets), "bbox_regression": sum(box_losses) / len(targets),
            "l1": sum(l1_losses) / len(targets), "giou": sum(giou_losses) / len(targets),
            "objectness": sum(obj_losses) / len(targets)}


def make_model():
    return TinyDetector()


def train(model, batches, steps, lr=0.01):
    box_coder = BoxCoder()
    matcher = Matcher(0.5, 0.4, allow_low_quality_matches=True)
    proposal_matcher = Matcher(0.7, 0.3, allow_low_quality_matches=True)
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    history, grads = [], []
    for step in range(steps):
        images, targets = batches[step % len(batches)]
        loss_dict = detection_losses(model, images, targets, box_coder, matcher, proposal_matcher)
        losses = sum(loss for loss in loss_dict.values())
        optimizer.zero_grad()
        losses.backward()
        grads.append({name: p.grad.clone() for name, p in model.named_parameters()})
        optimizer.step()
        history.append({k: v.item() for k, v in loss_dict.items()})
    return history, grads


@torch.no_grad()
def postprocess(model, images, score_thresh=0.05, nms_thresh=0.5, detections_per_img=5):
    """Per image: the boxes, scores and labels that survive the score threshold and class-wise NMS."""
    model.eval()
    box_coder = BoxCoder()
    cls, reg, _, anchors = model(images)
    results = []
    for i in range(images.shape[0]):
        scores_all = torch.sigmoid(cls[i]).flatten()
        keep_idxs = scores_all > score_thresh
        scores = scores_all[keep_idxs]
        topk_idxs = torch.where(keep_idxs)[0]
        num_topk = min(20, topk_idxs.size(0))
        scores, idxs = scores.topk(num_topk)
        topk_idxs = topk_idxs[idxs]
        anchor_idxs = torch.div(topk_idxs, model.num_classes, rounding_mode="floor")
        labels = topk_idxs % model.num_classes
        boxes = box_coder.decode(reg[i][anchor_idxs], anchors[anchor_idxs])
        boxes = boxes.clamp(min=0, max=images.shape[-1])
        keep = batched_nms(boxes, scores, labels, nms_thresh)[:detections_per_img]
        results.append({"boxes": boxes[keep], "scores": scores[keep], "labels": labels[keep]})
    return results
'''

CAPSULE_NET = '''
NUM_CLASSES = 10


def squash(s, dim=-1, eps=1e-8):
    """Shrink a capsule's vector to length |s|^2 / (1 + |s|^2), keeping its direction."""
    norm = torch.norm(s, dim=dim, keepdim=True)
    squared = norm ** 2
    return (squared / (1 + squared)) * s / (norm + eps)


class PrimaryCaps(nn.Module):
    """Feature maps (B, C, H, W) -> capsules (B, num_caps * H' * W', caps_dim): one strided conv whose channels
    are read as num_caps vectors of caps_dim per position."""

    def __init__(self, in_channels=8, num_caps=4, caps_dim=4, kernel_size=3, stride=2):
        super(PrimaryCaps, self).__init__()
        self.caps_dim = caps_dim
        self.capsules = nn.Conv2d(in_channels, num_caps * caps_dim, kernel_size, stride=stride)

    def forward(self, x):
        u = self.capsules(x)                       # (B, num_caps * caps_dim, H', W')
        batch_size = u.size(0)
        u = u.view(batch_size, -1, self.caps_dim, u.size(2), u.size(3))
        u = u.permute(0, 1, 3, 4, 2).contiguous().view(batch_size, -1, self.caps_dim)
        return squash(u)


class DigitCaps(nn.Module):
    """Primary capsules (B, R, in_dim) -> class capsules (B, num_caps, out_dim) by routing by agreement."""

    def __init__(self, num_routes=36, in_dim=4, num_caps=NUM_CLASSES, out_dim=6, routing_iters=3):
        super(DigitCaps, self).__init__()
        self.num_routes, self.num_caps, self.routing_iters = num_routes, num_caps, routing_iters
        self.W = nn.Parameter(0.01 * torch.randn(1, num_routes, num_caps, out_dim, in_dim))

    def forward(self, u):
        # (1, R, J, out, in) @ (B, R, 1, in, 1) -> (B, R, J, out, 1): every route's vote for every class
        u_hat = torch.matmul(self.W, u[:, :, None, :, None]).squeeze(-1)
        u_hat_detached = u_hat.detach()   # the intermediate iterations do not back-propagate into the votes
        b_ij = torch.zeros(u.size(0), self.num_routes, self.num_caps, device=u.device, dtype=u.dtype)
        for iteration in range(self.routing_iters):
            c_ij = F.softmax(b_ij, dim=2)
            if iteration == self.routing_iters - 1:
                s_j = (c_ij[..., None] * u_hat).sum(dim=1, keepdim=True)
                v_j = squash(s_j)
            else:
                s_j = (c_ij[..., None] * u_hat_detached).sum(dim=1, keepdim=True)
                v_j = squash(s_j)
                b_ij = b_ij + (u_hat_detached * v_j).sum(-1)
        self.last_coupling = c_ij.detach()
        return v_j.squeeze(1)


class CapsNet(nn.Module):
    """Images (B, 1, 12, 12) -> class capsules (B, 10, 6) and reconstructions (B, 144)."""

    def __init__(self):
        super(CapsNet, self).__init__()
        self.conv1 = nn.Conv2d(1, 8, kernel_size=5)
        self.primary = PrimaryCaps()
        self.digits = DigitCaps()
        self.decoder = nn.Sequential(
            nn.Linear(6 * NUM_CLASSES, 32), nn.ReLU(inplace=True),
            nn.Linear(32, 144), nn.Sigmoid())

    def forward(self, x, labels):
        v = self.digits(self.primary(F.relu(self.conv1(x))))
        # the reconstruction reads only the true class's capsule
        y = torch.eye(NUM_CLASSES).to(x.device).index_select(dim=0, index=labels)
        reconstruction = self.decoder((v * y[:, :, None]).view(x.size(0), -1))
        return v, reconstruction


def margin_loss(v, labels, m_plus=0.9, m_minus=0.1, lam=0.5):
    v_len = torch.norm(v, dim=-1)                    # (B, 10): each class capsule's length is its probability
    y = torch.eye(NUM_CLASSES).index_select(dim=0, index=labels)
    present = F.relu(m_plus - v_len) ** 2
    absent = F.relu(v_len - m_minus) ** 2
    return (y * present + lam * (1.0 - y) * absent).sum(dim=1).mean()


def capsule_loss(images, labels, v, reconstruction):
    recon = F.mse_loss(reconstruction, images.view(images.size(0), -1), reduction="sum") / images.size(0)
    return margin_loss(v, labels) + 0.0005 * recon


def make_model():
    return CapsNet()


def train(model, batches, lr=1e-2):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    losses, couplings, grads, accuracy = [], [], [], []
    for images, labels in batches:
        optimizer.zero_grad()
        v, reconstruction = model(images, labels)
        loss = capsule_loss(images, labels, v, reconstruction)
        loss.backward()
        grads.append({name: p.grad.clone() for name, p in model.named_parameters()})
        couplings.append(model.digits.last_coupling.clone())
        optimizer.step()
        predicted = v.norm(dim=-1).argmax(dim=1)
        accuracy.append((predicted == labels).float().mean().item())
        losses.append(loss.item())
    return losses, couplings, grads, accuracy
'''

IMAGE_OPS = '''
class SpatialTransformer(nn.Module):
    """Images (N, C, H, W) resampled through an affine map that a small localisation network predicts;
    the map starts as the identity."""

    def __init__(self, channels=3, size=8):
        super(SpatialTransformer, self).__init__()
        self.localization = nn.Sequential(
            nn.Conv2d(channels, 4, kernel_size=3), nn.MaxPool2d(2, stride=2), nn.ReLU(True))
        self.flat = 4 * ((size - 2) // 2) ** 2
        self.fc_loc = nn.Sequential(nn.Linear(self.flat, 8), nn.ReLU(True), nn.Linear(8, 3 * 2))
        with torch.no_grad():
            self.fc_loc[2].weight.zero_()
            self.fc_loc[2].bias.copy_(torch.tensor([1, 0, 0, 0, 1, 0], dtype=torch.float))

    def forward(self, x):
        xs = self.localization(x)
        xs = xs.view(-1, self.flat)
        theta = self.fc_loc(xs).view(-1, 2, 3)
        grid = F.affine_grid(theta, x.size(), align_corners=False)
        return F.grid_sample(x, grid, align_corners=False), theta


class ESPCN(nn.Module):
    """Low-resolution images (N, C, H, W) -> (N, C, rH, rW): bicubic upsampling plus a residual from convs to
    C * r^2 channels and a pixel shuffle that moves each group of r^2 channels into an r x r block (Shi et al.)."""

    def __init__(self, channels=3, upscale_factor=2, width=8):
        super(ESPCN, self).__init__()
        self.upscale_factor = upscale_factor
        self.conv1 = nn.Conv2d(channels, width, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(width, width // 2, kernel_size=3, padding=1)
        self.conv3 = nn.Conv2d(width // 2, channels * upscale_factor ** 2, kernel_size=3, padding=1)

    def forward(self, x):
        base = F.interpolate(x, scale_factor=self.upscale_factor, mode="bicubic", align_corners=False)
        h = torch.tanh(self.conv1(x))
        h = torch.tanh(self.conv2(h))
        return base + F.pixel_shuffle(self.conv3(h), self.upscale_factor)


class LocalMeanFilter(nn.Module):
    """A sliding-window smoother written with unfold/fold: each 3x3 window's learned weighted mean is spread back
    over the window's pixels, and every pixel averages what the windows covering it gave it."""

    def __init__(self, kernel_size=3):
        super(LocalMeanFilter, self).__init__()
        self.kernel_size = kernel_size
        self.weight = nn.Parameter(torch.full((kernel_size * kernel_size,), 1.0 / kernel_size ** 2))

    def forward(self, x):
        n, c, h, w = x.shape
        k = self.kernel_size
        patches = F.unfold(x, kernel_size=k, padding=k // 2, stride=1)      # (N, C * k * k, L)
        patches = patches.view(n, c, k * k, -1)
        window_mean = (patches * self.weight[:, None]).sum(dim=2, keepdim=True)
        spread = window_mean.expand(-1, -1, k * k, -1).reshape(n, c * k * k, -1)
        summed = F.fold(spread, output_size=(h, w), kernel_size=k, padding=k // 2, stride=1)
        counts = F.fold(F.unfold(torch.ones_like(x), kernel_size=k, padding=k // 2), output_size=(h, w),
                        kernel_size=k, padding=k // 2)
        return summed / counts


def tv_loss(image):
    """Total variation: squared differences of vertical and horizontal neighbours, per image."""
    batch_size = image.size(0)
    h_tv = torch.pow(image[:, :, 1:, :] - image[:, :, :-1, :], 2).sum()
    w_tv = torch.pow(image[:, :, :, 1:] - image[:, :, :, :-1], 2).sum()
    return (h_tv + w_tv) / batch_size


def gaussian(window_size, sigma, dtype=torch.float32):
    x = torch.arange(window_size, dtype=dtype) - window_size // 2
    gauss = torch.exp(-(x ** 2) / (2 * sigma ** 2))
    return gauss / gauss.sum()


def create_window(window_size, channel, sigma=1.5, dtype=torch.float32):
    _1d = gaussian(window_size, sigma, dtype)
    _2d = torch.outer(_1d, _1d)[None, None]
    return _2d.expand(channel, 1, window_size, window_size).contiguous()


def ssim(img1, img2, window_size=5, size_average=True):
    """Structural similarity with a Gaussian window, one depthwise conv (groups=C) per statistic."""
    channel = img1.size(1)
    window = create_window(window_size, channel, dtype=img1.dtype)
    pad = window_size // 2
    mu1 = F.conv2d(img1, window, padding=pad, groups=channel)
    mu2 = F.conv2d(img2, window, padding=pad, groups=channel)
    mu1_sq, mu2_sq, mu1_mu2 = mu1.pow(2), mu2.pow(2), mu1 * mu2
    sigma1_sq = F.conv2d(img1 * img1, window, padding=pad, groups=channel) - mu1_sq
    sigma2_sq = F.conv2d(img2 * img2, window, padding=pad, groups=channel) - mu2_sq
    sigma12 = F.conv2d(img1 * img2, window, padding=pad, groups=channel) - mu1_mu2
    C1, C2 = 0.01 ** 2, 0.03 ** 2
    ssim_map = ((2 * mu1_mu2 + C1) * (2 * sigma12 + C2)) / ((mu1_sq + mu2_sq + C1) * (sigma1_sq + sigma2_sq + C2))
    if size_average:
        return ssim_map.mean()
    return ssim_map.mean(1).mean(1).mean(1)


class Restorer(nn.Module):
    """Align (spatial transformer), denoise (unfold/fold filter), then super-resolve (ESPCN) 8x8 images."""

    def __init__(self):
        super(Restorer, self).__init__()
        self.stn = SpatialTransformer()
        self.denoise = LocalMeanFilter()
        self.upscale = ESPCN()

    def forward(self, x):
        aligned, theta = self.stn(x)
        return self.upscale(self.denoise(aligned)), theta


def make_model():
    return Restorer()


def train(model, batches, lr=0.05, tv_weight=1e-3):
    # SGD: Adam's first step moves theta by +-lr in every entry, which puts the sampling points of one diagonal
    # exactly on pixel centres, where bilinear sampling has a kink and float32 rounding picks the side
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    history, grads, thetas = [], [], []
    for low, high in batches:
        optimizer.zero_grad()
        output, theta = model(low)
        l1 = F.l1_loss(output, high)
        structure = 1 - ssim(output, high)
        loss = l1 + 0.5 * structure + tv_weight * tv_loss(output)
        loss.backward()
        grads.append({name: p.grad.clone() for name, p in model.named_parameters()})
        thetas.append(theta.detach().clone())
        optimizer.step()
        history.append((loss.item(), l1.item(), structure.item()))
    return history, grads, thetas
'''


PROGRAMS = (DETECTION, CAPSULE_NET, IMAGE_OPS)


def _twins(source: str, *args: Any) -> tuple:
    return _twin_models(source, *args, imports=(TORCH_IMPORTS, MINIGRAD_IMPORTS))


def _shared_randperm(monkeypatch: pytest.MonkeyPatch, torch: Any, seed: int) -> None:
    """``_shared_draws``, its ``randperm`` also taking the ``device=`` the sampler passes."""
    _shared_draws(monkeypatch, torch, seed)
    for lib in (torch, mg):
        monkeypatch.setattr(lib, "randperm", lambda n, device=None, draw=lib.randperm: draw(n))


def _to_numpy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _to_numpy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_numpy(v) for v in value]
    if hasattr(value, "detach"):
        return value.detach().numpy()
    return value


def _assert_close(ours: Any, theirs: Any, rtol: float, atol: float, where: str = "") -> None:
    """Nested dicts/lists of tensors and numbers agree (tensors also in dtype and shape)."""
    ours, theirs = _to_numpy(ours), _to_numpy(theirs)
    if isinstance(theirs, dict):
        assert list(ours) == list(theirs), where
        for key in theirs:
            _assert_close(ours[key], theirs[key], rtol, atol, f"{where}.{key}")
    elif isinstance(theirs, list):
        assert len(ours) == len(theirs), where
        for k, (a, b) in enumerate(zip(ours, theirs)):
            _assert_close(a, b, rtol, atol, f"{where}[{k}]")
    elif isinstance(theirs, np.ndarray):
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape, (where, ours.dtype, theirs.dtype)
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=where)
    else:
        assert ours == pytest.approx(theirs, rel=rtol, abs=atol), where


def test_the_programs_differ_only_in_their_imports() -> None:
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. detection


def _detection_batches(lib: Any, count: int, seed: int, dtype: str = "float32", batch_size: int = 2,
                       size: int = 16) -> list:
    """(images (B, 3, 16, 16), targets): one or two boxes per image, each a bright rectangle in the channel
    of its class (0 or 1)."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        images = rng.standard_normal((batch_size, 3, size, size)) * 0.1
        targets = []
        for image in images:
            boxes, labels = [], []
            for _ in range(int(rng.integers(1, 3))):
                width, height = rng.integers(4, 10, 2)
                x, y = rng.integers(0, size - width), rng.integers(0, size - height)
                label = int(rng.integers(0, 2))
                image[label, y:y + height, x:x + width] += 1.0
                boxes.append([x, y, x + width, y + height])
                labels.append(label)
            targets.append({"boxes": lib.from_numpy(np.array(boxes, dtype=dtype)),
                            "labels": lib.from_numpy(np.array(labels, dtype=np.int64))})
        batches.append((lib.from_numpy(images.astype(dtype)), targets))
    return batches


def _box_utilities(program: dict, boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray) -> dict:
    """Every utility of the detection program on the same boxes (float64), with the IoU/GIoU gradients."""
    lib = program["torch"]
    first = lib.tensor(boxes, requires_grad=True)
    second = lib.tensor(boxes[::-1] + 0.5, requires_grad=True)
    iou = program["box_iou"](first, second)
    giou = program["generalized_box_iou"](first, second)
    weights = lib.from_numpy(np.cos(np.arange(iou.numel())).reshape(iou.shape))
    ((iou + 2 * giou) * weights).sum().backward()
    anchors = program["AnchorGenerator"]()((16, 16), lib.zeros(1, 8, 4, 4, dtype=lib.float64))
    coder = program["BoxCoder"]()
    codes = coder.encode(first.detach(), anchors[24:31])
    logits = lib.tensor(np.linspace(-3, 3, 12).reshape(3, 4), requires_grad=True)
    targets = lib.tensor((np.arange(12).reshape(3, 4) % 3 == 0).astype(np.float64))
    focal = program["sigmoid_focal_loss"](logits, targets, reduction="mean")
    focal.backward()
    match_quality = program["box_iou"](first.detach()[:3], anchors)
    return {
        "iou": iou, "giou": giou, "first.grad": first.grad, "second.grad": second.grad,
        "nms": program["nms"](first.detach(), lib.tensor(scores), 0.3),
        "batched_nms": program["batched_nms"](first.detach(), lib.tensor(scores), lib.tensor(classes), 0.3),
        "cell_anchors": program["AnchorGenerator"]().cell_anchors, "anchors": anchors,
        "codes": codes, "decoded": coder.decode(codes, anchors[24:31]),
        "clipped": coder.decode(lib.full((1, 4), 100.0, dtype=lib.float64), anchors[:1]),
        "matches": program["Matcher"](0.5, 0.4)(match_quality),
        "matches_strict": program["Matcher"](0.5, 0.4, allow_low_quality_matches=False)(match_quality),
        "focal": focal, "logits.grad": logits.grad,
    }


def test_detection_box_utilities(torch: Any) -> None:
    """IoU and GIoU with their gradients, NMS keeps, anchors, the box coding round trip and its exp clip, the
    matcher with and without low-quality matches, the focal loss and its gradient: the same in float64."""
    rng = np.random.default_rng(3)
    corners = rng.uniform(0, 8, (7, 2))
    boxes = np.concatenate([corners, corners + rng.uniform(2, 6, (7, 2))], axis=1)
    scores, classes = rng.random(7), rng.integers(0, 2, 7)
    ours = _box_utilities(_program(DETECTION, MINIGRAD_IMPORTS), boxes, scores, classes)
    theirs = _box_utilities(_program(DETECTION, TORCH_IMPORTS), boxes, scores, classes)
    _assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
    assert 1 < len(ours["nms"]) < 7 and ours["nms"].dtype == mg.int64 and ours["nms"][0].item() == scores.argmax()
    assert len(ours["batched_nms"]) >= len(ours["nms"])
    assert ours["anchors"].shape == (4 * 4 * 6, 4)
    np.testing.assert_allclose(ours["decoded"].numpy(), boxes, rtol=1e-12)     # encode then decode
    assert np.all(np.abs(ours["clipped"].numpy()) < 1e4)                        # exp(dw) clipped at 1000 / 16
    assert (ours["matches"] >= 0).sum() > (ours["matches_strict"] >= 0).sum()   # the low-quality matches
    assert set(ours["matches_strict"].tolist()) <= {-2, -1, 0, 1, 2}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_tiny_detector_training_and_inference(dtype: str, torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four SGD steps of the focal + smooth-L1 + L1 + GIoU + sampled-objectness losses: each loss, every
    gradient, the final weights; then thresholding, top-k, decoding, clamping and class-wise NMS."""
    torch_program, torch_model, mg_program, mg_model, initial = _twins(DETECTION)
    lib = mg_program["torch"]
    if dtype == "float64":
        torch_model.double()
        mg_model.double()
    _shared_randperm(monkeypatch, torch, 4)
    expected = torch_program["train"](torch_model, _detection_batches(torch, 2, 0, dtype), 4)
    result = mg_program["train"](mg_model, _detection_batches(lib, 2, 0, dtype), 4)
    rtol, atol = (1e-10, 1e-12) if dtype == "float64" else (1e-5, 1e-6)
    _assert_close(result, expected, rtol=rtol, atol=atol)
    assert all(set(losses) == {"classification", "bbox_regression", "l1", "giou", "objectness"}
               for losses in result[0])
    if dtype == "float32":
        _assert_same_weights(torch_model, mg_model, initial)
    images = _detection_batches(lib, 1, 5, dtype)[0][0]
    detections = mg_program["postprocess"](mg_model, images, score_thresh=0.01)
    expected = torch_program["postprocess"](torch_model, torch.from_numpy(images.numpy()), score_thresh=0.01)
    _assert_close(detections, expected, rtol=rtol, atol=1e-5 if dtype == "float32" else 1e-10)
    assert all(0 < len(found["boxes"]) <= 5 and found["labels"].dtype == mg.int64 for found in detections)


# ----------------------------------------------------------------------------- 2. capsule network


def _digit_batches(lib: Any, count: int, seed: int, dtype: str = "float32", batch_size: int = 4) -> list:
    """(images (B, 1, 12, 12) with a bright block whose place says the class, labels (B,) in 0..9)."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        labels = rng.integers(0, 10, batch_size)
        images = rng.random((batch_size, 1, 12, 12)) * 0.2
        for image, label in zip(images, labels):
            row, column = label % 5 * 2, label // 5 * 6
            image[0, row:row + 3, column:column + 5] = 1.0
        batches.append((lib.from_numpy(images.astype(dtype)), lib.from_numpy(labels.astype(np.int64))))
    return batches


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_capsule_network_dynamic_routing(dtype: str, torch: Any) -> None:
    """Three Adam steps: the margin + reconstruction losses, the last routing iteration's coupling coefficients,
    every gradient (W's through the 5-D broadcast matmul) and the final weights."""
    torch_program, torch_model, mg_program, mg_model, initial = _twins(CAPSULE_NET)
    lib = mg_program["torch"]
    # minigrad's own W: 0.01 * randn, before the copy
    assert np.std(mg_program["make_model"]().digits.W.numpy()) == pytest.approx(0.01, rel=0.1)
    if dtype == "float64":
        torch_model.double()
        mg_model.double()
    expected = torch_program["train"](torch_model, _digit_batches(torch, 3, 0, dtype))
    result = mg_program["train"](mg_model, _digit_batches(lib, 3, 0, dtype))
    rtol, atol = (1e-10, 1e-14) if dtype == "float64" else (1e-5, 1e-9)
    _assert_close(result, expected, rtol=rtol, atol=atol)
    couplings = result[1][-1].numpy()
    assert couplings.shape == (4, 36, 10)
    np.testing.assert_allclose(couplings.sum(axis=2), 1.0, rtol=1e-6)          # a softmax over the classes
    assert couplings.std() > 0                                                  # routing moved off uniform
    assert result[0][-1] < result[0][0]
    if dtype == "float32":
        _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- 3. image-processing ops


def _image_pairs(lib: Any, count: int, seed: int, dtype: str = "float32", batch_size: int = 2) -> list:
    """(low (B, 3, 8, 8), high (B, 3, 16, 16)): smooth patterns, the low one 2x2-averaged, shifted a pixel
    and noisy, so the model has to align, denoise and upscale."""
    rng = np.random.default_rng(seed)
    rows, columns = np.mgrid[0:16, 0:16] / 16
    pairs = []
    for _ in range(count):
        high = np.stack([np.stack([np.sin(rng.uniform(2, 6) * columns + rng.uniform(0, 3))
                                   * np.cos(rng.uniform(2, 6) * rows) for _ in range(3)])
                         for _ in range(batch_size)])
        low = high.reshape(batch_size, 3, 8, 2, 8, 2).mean(axis=(3, 5))
        low = np.roll(low, 1, axis=3) + 0.05 * rng.standard_normal(low.shape)
        pairs.append((lib.from_numpy(low.astype(dtype)), lib.from_numpy(high.astype(dtype))))
    return pairs


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_spatial_transformer_espcn_ssim_restorer(dtype: str, torch: Any) -> None:
    """Three SGD steps on L1 + SSIM + total variation: the losses, every gradient (the localisation net's
    through grid_sample and affine_grid), the predicted affine maps, the final weights."""
    torch_program, torch_model, mg_program, mg_model, initial = _twins(IMAGE_OPS)
    lib = mg_program["torch"]
    fresh = mg_program["make_model"]()
    assert not fresh.stn.fc_loc[2].weight.numpy().any()
    assert fresh.stn.fc_loc[2].bias.tolist() == [1, 0, 0, 0, 1, 0]
    if dtype == "float64":
        torch_model.double()
        mg_model.double()
    expected = torch_program["train"](torch_model, _image_pairs(torch, 3, 0, dtype))
    result = mg_program["train"](mg_model, _image_pairs(lib, 3, 0, dtype))
    rtol, atol = (1e-10, 1e-13) if dtype == "float64" else (1e-5, 1e-7)
    _assert_close(result, expected, rtol=rtol, atol=atol)
    # the first step samples through the identity map: grid_sample gave the image back
    np.testing.assert_array_equal(result[2][0].numpy(), np.tile(np.eye(2, 3), (2, 1, 1)))
    assert not np.allclose(result[2][-1].numpy(), np.eye(2, 3))
    assert result[0][-1][0] < result[0][0][0]
    if dtype == "float32":
        _assert_same_weights(torch_model, mg_model, initial)


def test_image_ops_pieces(torch: Any) -> None:
    """The pieces alone in float64, with input gradients: the identity spatial transformer returns its input, the
    unfold/fold filter with uniform weights is the 3x3 mean over the in-image neighbours, the Gaussian window sums
    to 1 and SSIM(x, x) is 1, ESPCN's output is (N, C, 2H, 2W)."""
    pieces = []
    for program in (_program(IMAGE_OPS, TORCH_IMPORTS), _program(IMAGE_OPS, MINIGRAD_IMPORTS)):
        lib = program["torch"]
        program["torch"].manual_seed(0)
        model = program["make_model"]().double()
        low, high = _image_pairs(lib, 1, 1, "float64")[0]
        low.requires_grad_(True)
        aligned, theta = model.stn(low)
        filtered = model.denoise(low)
        upscaled = model.upscale(low)
        window = program["create_window"](5, 3, dtype=lib.float64)
        same, other = program["ssim"](high, high), program["ssim"](high, high.flip(3), size_average=False)
        (aligned.sum() + (filtered * filtered).sum() + upscaled.mean() + program["tv_loss"](upscaled)).backward()
        pieces.append({"aligned": aligned, "filtered": filtered, "shape": tuple(upscaled.shape), "window": window,
                       "same": same, "other": other, "low.grad": low.grad, "low": low})
    ours, theirs = pieces[1], pieces[0]
    for name in ("aligned", "filtered", "window", "same", "other"):
        _assert_close(ours[name], theirs[name], rtol=1e-12, atol=1e-13, where=name)
    low = ours["low"].detach().numpy()
    np.testing.assert_allclose(ours["aligned"].detach().numpy(), low, atol=1e-12)
    def box_sum(image: np.ndarray) -> np.ndarray:   # the 3x3 sums over a zero-padded (..., 8, 8)
        padded = np.pad(image, [(0, 0)] * (image.ndim - 2) + [(1, 1), (1, 1)])
        return sum(padded[..., i:i + 8, j:j + 8] for i in range(3) for j in range(3))

    # uniform weights: each window's mean, averaged over the windows that cover the pixel
    ninth = float(np.float32(1 / 9))   # the weights were made in float32
    expected = box_sum(box_sum(low) * ninth) / box_sum(np.ones((8, 8)))
    np.testing.assert_allclose(ours["filtered"].detach().numpy(), expected, rtol=1e-12)
    assert ours["shape"] == (2, 3, 16, 16) and ours["same"].item() == pytest.approx(1.0)
    assert ours["window"].shape == (3, 1, 5, 5) and ours["window"].sum().item() == pytest.approx(3.0)


# ----------------------------------------------------------------------------- regressions found by the programs


@pytest.mark.parametrize(("padding_mode", "align_corners"), [("zeros", False), ("border", True), ("reflection", False)])
def test_grid_sample_nearest_gives_the_grid_a_zero_gradient(padding_mode: str, align_corners: bool,
                                                            torch: Any) -> None:
    """``grid_sample(mode="nearest")``: the grid's gradient is zeros, as PyTorch's (it was None, so a spatial
    transformer's localisation net had no ``.grad`` and SGD with momentum/weight decay skipped what torch steps).
    A NaN point of the grid reads 0 with zeros padding, as PyTorch's (its garbage index made ``gather`` raise), the
    gradients stay finite; under ``no_grad`` nothing is added to the output."""
    rng = np.random.default_rng(0)
    images = rng.standard_normal((2, 3, 5, 6))
    theta = np.eye(2, 3) + 0.2 * rng.standard_normal((2, 2, 3))
    results = []
    for lib in (torch, mg):
        F = lib.nn.functional
        x = lib.tensor(images, requires_grad=True)
        weights = lib.nn.Parameter(lib.tensor(theta))
        optimizer = lib.optim.SGD([weights], lr=0.1, momentum=0.9, weight_decay=0.01)
        for _ in range(2):
            optimizer.zero_grad()
            grid = F.affine_grid(weights, (2, 3, 4, 7), align_corners=align_corners)
            out = F.grid_sample(x, grid, mode="nearest", padding_mode=padding_mode, align_corners=align_corners)
            (out * lib.from_numpy(np.cos(np.arange(out.numel())).reshape(out.shape))).sum().backward()
            optimizer.step()
        nan_grid = lib.tensor(rng.uniform(-1, 1, (2, 4, 7, 2)), requires_grad=True)
        with lib.no_grad():
            nan_grid[0, 0, 0, 0] = float("nan")
        F.grid_sample(x.detach(), nan_grid, mode="nearest", align_corners=align_corners).sum().backward()
        results.append((out.detach().numpy(), x.grad.numpy(), weights.grad.numpy(), weights.detach().numpy(),
                        nan_grid.grad.numpy()))
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    assert not results[1][2].any() and not results[1][4].any()
    with mg.no_grad():
        grid = mg.tensor(rng.uniform(-1, 1, (2, 4, 7, 2)), requires_grad=True)
        out = mg.nn.functional.grid_sample(mg.tensor(images), grid, mode="nearest", align_corners=False)
    assert out.grad_fn is None


@pytest.mark.gpu
def test_grid_sample_nearest_on_the_gpu_path() -> None:
    """The nearest-mode fixes on ``cuda`` (the strict CuPy stand-in where there is no GPU): the same output and
    gradients as on the host, the grid's zeros included, with a NaN grid point."""
    rng = np.random.default_rng(1)
    images, points = rng.standard_normal((2, 3, 5, 6)), rng.uniform(-1.2, 1.2, (2, 4, 7, 2))
    points[1, 2, 3, 0] = np.nan
    results = []
    for device in ("cpu", "cuda"):
        x = mg.tensor(images, device=device, requires_grad=True)
        grid = mg.tensor(points, device=device, requires_grad=True)
        out = mg.nn.functional.grid_sample(x, grid, mode="nearest", align_corners=False)
        (out * out).sum().backward()
        results.append([t.numpy() for t in (out, x.grad, grid.grad)])
    for host, device in zip(*results):
        np.testing.assert_array_equal(device, host)
    assert results[0][1].any() and not results[0][2].any() and results[0][0][1, :, 2, 3].tolist() == [0, 0, 0]
