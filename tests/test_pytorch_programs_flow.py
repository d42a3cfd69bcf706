"""Three dense-correspondence and recurrent-vision programs, run on torch and on minigrad: only the imports differ.

Each program is our own rewrite of a well-known public PyTorch program (the helpers and the rule come from
tests/test_pytorch_programs.py): it keeps the original's PyTorch calls in the same roles, with our own names,
structure and comments, tiny sizes, a few steps and generated images.

* ``RAFT`` mirrors princeton-vl/RAFT (https://github.com/princeton-vl/RAFT), cut to one small scale: a feature
  encoder (``Conv2d`` + ``InstanceNorm2d``) run on both images at once (``torch.cat`` on the batch, ``torch.split``
  back), a context encoder (``BatchNorm2d``) split into ``tanh`` hidden state and ``relu`` input, the all-pairs
  correlation volume ``torch.matmul(f1.transpose(1, 2), f2) / torch.sqrt(torch.tensor(dim).float())``, its pyramid
  by ``F.avg_pool2d``, the lookup of a ``(2r+1)^2`` window around ``coords1`` with ``F.grid_sample(align_corners=True)``
  (coordinates from ``torch.meshgrid(indexing="ij")``, ``torch.stack(..., axis=-1)`` and ``flip``), a ConvGRU
  update operator (z, r, q gates) iterated with ``coords1 = coords1.detach()`` and ``coords1 + delta_flow``,
  flow upsampled by ``F.interpolate(mode="bilinear", align_corners=True)``, the gamma-weighted sequence loss with a
  validity mask and end-point-error metrics (``epe.view(-1)[valid.view(-1)]``), ``AdamW`` under ``OneCycleLR``
  (``anneal_strategy="linear"``, ``cycle_momentum=False``), ``clip_grad_norm_``;
* ``VIDEO_AUTOENCODER`` follows the LSTM video autoencoder of Srivastava et al. ("Unsupervised Learning of Video
  Representations using LSTMs", 2015) as PyTorch re-implementations write it, with a GRU: a conv frame encoder
  run on all frames of all clips at once (``torch.cat`` then ``torch.split(features, lengths)``), clips of
  different lengths packed with ``pack_sequence(enforce_sorted=False)``, an ``nn.GRU`` encoder whose ``h_n`` comes
  back in the clips' own order, ``pad_packed_sequence`` outputs read by a future-feature predictor, an unconditioned
  ``nn.GRUCell`` decoder that reconstructs each clip in reverse (``clip.flip(0)``, ``pad_sequence``), losses masked
  by ``torch.arange(T)[None] < lengths[:, None]``, Adam;
* ``UNSUPERVISED_FLOW`` mirrors the photometric losses of unsupervised optical flow (UnFlow, Meister et al. 2018,
  and ARFlow, https://github.com/lliuz/ARFlow ``utils/warp_utils.py`` and ``losses/flow_loss.py``): backward
  warping with ``F.grid_sample(padding_mode="border", align_corners=True)`` of a pixel grid built by
  ``arange(W).repeat(B, H, 1)`` and ``transpose``, scaled to [-1, 1] by writing into ``zeros_like`` slices; the
  forward-backward consistency occlusion mask (``flow12 + warp(flow21)`` against ``0.01 * |.|^2 + 0.5``); the
  Charbonnier penalty ``(x ** 2 + eps ** 2) ** alpha``; monodepth2's SSIM (``nn.ReflectionPad2d`` +
  ``nn.AvgPool2d(3, 1)``, ``torch.clamp``); and the edge-aware first-order smoothness loss
  (``x[:, :, :, 1:] - x[:, :, :, :-1]`` weighted by ``torch.exp(-alpha * |image gradient|)``), Adam; in float32
  and in float64.

* ``PREDRNN`` mirrors thuml/predrnn-pytorch (https://github.com/thuml/predrnn-pytorch), PredRNN-V2 cut small: the
  ``SpatioTemporalLSTMCell`` (``nn.Conv2d(bias=False)`` + ``nn.LayerNorm([C, H, W])``, seven/four/three gates cut by
  ``torch.split(..., num_hidden, dim=1)``, forget bias 1, a spatiotemporal memory m zigzagging up the layers and
  on to the next step), frames cut into patch channels by ``reshape``/``permute``, scheduled sampling
  ``mask * frames[:, t] + (1 - mask) * x_gen``, and the memory-decoupling loss
  ``torch.abs(torch.cosine_similarity(F.normalize(adapter(delta_c)), F.normalize(adapter(delta_m)), dim=2))``.

ConvLSTM video prediction is already in tests/test_pytorch_programs_cells.py. Each program's losses, gradients,
metrics and final weights are compared (float32 to ~1e-5, float64 to ~1e-10).

What the programs found: every value, gradient and schedule agreed with torch on the first run. Probing the ops
they use for torch's error paths found ``F.grid_sample``/``F.affine_grid``'s shape and dtype errors raised plain
``ValueError``/``TypeError`` where torch raises ``RuntimeError`` (so a program's ``except RuntimeError`` let them
through); they are now both (``nn/_grid_sample.py``). Run on a GPU (minigrad on CuPy against torch on the CPU),
``x.type_as(cuda_tensor)`` cast the dtype but left x on the CPU, where PyTorch's type string moves it (ARFlow's
``mesh_grid(...).type_as(x)``); it moves now (``minigrad/ops/creation.py``). Still different on a GPU, by DESIGN §3
(an op on two devices raises): RAFT's ``corr / torch.sqrt(torch.tensor(dim).float())`` divides a CUDA tensor by a
CPU 0-dim tensor, which PyTorch allows as a scalar. Not bugs: the convolutions' ``bias`` before a norm layer has a
zero true gradient, so its Adam steps follow rounding noise and would drift apart (the encoders here use
``bias=False``, as most such code does); ``.float() + float64 0-dim`` gives float64 by NumPy's promotion (DESIGN §3).
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import MINIGRAD_IMPORTS, TORCH_IMPORTS, _assert_same_weights, _twin_models
from tests.test_pytorch_programs_detection import _assert_close

TORCH_IMPORTS_FLOW = TORCH_IMPORTS + """\
from torch.nn.utils.rnn import pack_sequence, pad_packed_sequence, pad_sequence
"""

MINIGRAD_IMPORTS_FLOW = MINIGRAD_IMPORTS + """\
from minigrad.nn.utils.rnn import pack_sequence, pad_packed_sequence, pad_sequence
"""


RAFT = '''
def coords_grid(batch, height, width, device):
    """Pixel coordinates (B, 2, H, W), channel 0 the x (column) and channel 1 the y (row) of each pixel."""
    rows, columns = torch.meshgrid(torch.arange(height, device=device), torch.arange(width, device=device),
                                   indexing="ij")
    coords = torch.stack([rows, columns], dim=0).flip(0).float()
    return coords[None].repeat(batch, 1, 1, 1)


def bilinear_sampler(image, coords):
    """Sample image (N, C, H, W) at pixel coordinates coords (N, h, w, 2) (x, y) with align_corners=True."""
    height, width = image.shape[-2:]
    xs, ys = coords.split([1, 1], dim=-1)
    xs = 2 * xs / (width - 1) - 1
    ys = 2 * ys / (height - 1) - 1
    return F.grid_sample(image, torch.cat([xs, ys], dim=-1), align_corners=True)


def upflow(flow, factor):
    """Flow (B, 2, H, W) at factor times the resolution; the displacements scale with it."""
    size = (factor * flow.shape[2], factor * flow.shape[3])
    return factor * F.interpolate(flow, size=size, mode="bilinear", align_corners=True)


class CorrBlock:
    """All-pairs correlation of two feature maps and its pooled pyramid, looked up in a window around coords."""

    def __init__(self, fmap1, fmap2, num_levels=2, radius=1):
        self.num_levels, self.radius = num_levels, radius
        corr = CorrBlock.corr(fmap1, fmap2)
        batch, h1, w1, dim, h2, w2 = corr.shape
        corr = corr.reshape(batch * h1 * w1, dim, h2, w2)
        self.corr_pyramid = [corr]
        for _ in range(num_levels - 1):
            corr = F.avg_pool2d(corr, 2, stride=2)
            self.corr_pyramid.append(corr)

    @staticmethod
    def corr(fmap1, fmap2):
        batch, dim, height, width = fmap1.shape
        fmap1 = fmap1.view(batch, dim, height * width)
        fmap2 = fmap2.view(batch, dim, height * width)
        corr = torch.matmul(fmap1.transpose(1, 2), fmap2)
        corr = corr.view(batch, height, width, 1, height, width)
        return corr / torch.sqrt(torch.tensor(dim).float())

    def __call__(self, coords):
        r = self.radius
        coords = coords.permute(0, 2, 3, 1)
        batch, h1, w1, _ = coords.shape
        levels = []
        for level in range(self.num_levels):
            dx = torch.linspace(-r, r, 2 * r + 1, device=coords.device)
            dy = torch.linspace(-r, r, 2 * r + 1, device=coords.device)
            delta = torch.stack(torch.meshgrid(dy, dx, indexing="ij"), axis=-1)
            centroid = coords.reshape(batch * h1 * w1, 1, 1, 2) / 2 ** level
            window = centroid + delta.view(1, 2 * r + 1, 2 * r + 1, 2)
            sampled = bilinear_sampler(self.corr_pyramid[level], window)
            levels.append(sampled.view(batch, h1, w1, -1))
        return torch.cat(levels, dim=-1).permute(0, 3, 1, 2).contiguous().float()


class Encoder(nn.Module):
    """Images (B, 3, H, W) (or a list of such batches, run as one) to features (B, D, H/2, W/2)."""

    def __init__(self, output_dim, norm_fn="instance"):
        super().__init__()
        norm = {"instance": nn.InstanceNorm2d, "batch": nn.BatchNorm2d}[norm_fn]
        # no biases before the norms, which would cancel them
        self.conv1 = nn.Conv2d(3, 8, kernel_size=3, stride=2, padding=1, bias=False)
        self.norm1 = norm(8)
        self.conv2 = nn.Conv2d(8, 8, kernel_size=3, padding=1, bias=False)
        self.norm2 = norm(8)
        self.relu = nn.ReLU(inplace=True)
        self.out = nn.Conv2d(8, output_dim, kernel_size=1)

    def forward(self, x):
        is_list = isinstance(x, (tuple, list))
        if is_list:
            batch_dim = x[0].shape[0]
            x = torch.cat(x, dim=0)
        x = self.relu(self.norm1(self.conv1(x)))
        x = x + self.relu(self.norm2(self.conv2(x)))
        x = self.out(x)
        if is_list:
            x = torch.split(x, [batch_dim, batch_dim], dim=0)
        return x


class ConvGRU(nn.Module):
    """h' = (1 - z) * h + z * q, z, r and q convolutions of [h, x] (q of [r * h, x])."""

    def __init__(self, hidden_dim, input_dim):
        super().__init__()
        self.convz = nn.Conv2d(hidden_dim + input_dim, hidden_dim, 3, padding=1)
        self.convr = nn.Conv2d(hidden_dim + input_dim, hidden_dim, 3, padding=1)
        self.convq = nn.Conv2d(hidden_dim + input_dim, hidden_dim, 3, padding=1)

    def forward(self, h, x):
        hx = torch.cat([h, x], dim=1)
        z = torch.sigmoid(self.convz(hx))
        r = torch.sigmoid(self.convr(hx))
        q = torch.tanh(self.convq(torch.cat([r * h, x], dim=1)))
        return (1 - z) * h + z * q


class MotionEncoder(nn.Module):
    def __init__(self, corr_planes):
        super().__init__()
        self.convc1 = nn.Conv2d(corr_planes, 12, 1, padding=0)
        self.convf1 = nn.Conv2d(2, 8, 5, padding=2)
        self.conv = nn.Conv2d(12 + 8, 14, 3, padding=1)

    def forward(self, flow, corr):
        cor = F.relu(self.convc1(corr))
        flo = F.relu(self.convf1(flow))
        out = F.relu(self.conv(torch.cat([cor, flo], dim=1)))
        return torch.cat([out, flow], dim=1)


class FlowHead(nn.Module):
    def __init__(self, input_dim, hidden_dim):
        super().__init__()
        self.conv1 = nn.Conv2d(input_dim, hidden_dim, 3, padding=1)
        self.conv2 = nn.Conv2d(hidden_dim, 2, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.conv2(self.relu(self.conv1(x)))


class UpdateBlock(nn.Module):
    """One refinement: motion features, a ConvGRU step, a flow update and (for convex upsampling) a mask."""

    def __init__(self, corr_planes, input_dim, hidden_dim, mask_factor=None):
        super().__init__()
        self.encoder = MotionEncoder(corr_planes)
        self.gru = ConvGRU(hidden_dim, input_dim + 16)
        self.flow_head = FlowHead(hidden_dim, 16)
        self.mask = None
        if mask_factor is not None:
            self.mask = nn.Sequential(
                nn.Conv2d(hidden_dim, 16, 3, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(16, mask_factor ** 2 * 9, 1, padding=0))

    def forward(self, net, inp, corr, flow):
        motion = self.encoder(flow, corr)
        net = self.gru(net, torch.cat([inp, motion], dim=1))
        delta_flow = self.flow_head(net)
        up_mask = None if self.mask is None else 0.25 * self.mask(net)   # scaled down to balance the gradients
        return net, up_mask, delta_flow


class RAFT(nn.Module):
    """Two images (B, 3, H, W), values 0..255, to a list of flow estimates (B, 2, H, W), one per iteration.

    The small model upsamples the 1/2-resolution flow bilinearly, the large one by a learned convex combination
    of each coarse pixel's 3x3 neighbours.
    """

    def __init__(self, small=True, hidden_dim=8, context_dim=8, corr_levels=2, corr_radius=1, mixed_precision=False):
        super().__init__()
        self.hidden_dim, self.context_dim = hidden_dim, context_dim
        self.corr_levels, self.corr_radius = corr_levels, corr_radius
        self.mixed_precision = mixed_precision
        self.fnet = Encoder(output_dim=16, norm_fn="instance")
        self.cnet = Encoder(output_dim=hidden_dim + context_dim, norm_fn="batch")
        corr_planes = corr_levels * (2 * corr_radius + 1) ** 2
        self.update_block = UpdateBlock(corr_planes, context_dim, hidden_dim, mask_factor=None if small else 2)

    def freeze_bn(self):
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()

    def initialize_flow(self, image):
        batch, _, height, width = image.shape
        coords0 = coords_grid(batch, height // 2, width // 2, device=image.device)
        coords1 = coords_grid(batch, height // 2, width // 2, device=image.device)
        return coords0, coords1

    def upsample_flow(self, flow, mask, factor=2):
        """Flow (N, 2, H, W) to (N, 2, factor H, factor W): each fine pixel a softmax-weighted sum of the 3x3
        coarse neighbours of its coarse pixel (mask (N, factor^2 * 9, H, W))."""
        N, _, H, W = flow.shape
        mask = mask.view(N, 1, 9, factor, factor, H, W)
        mask = torch.softmax(mask, dim=2)
        up_flow = F.unfold(factor * flow, [3, 3], padding=1)
        up_flow = up_flow.view(N, 2, 9, 1, 1, H, W)
        up_flow = torch.sum(mask * up_flow, dim=2)
        up_flow = up_flow.permute(0, 1, 4, 2, 5, 3)
        return up_flow.reshape(N, 2, factor * H, factor * W)

    def forward(self, image1, image2, iters=3, test_mode=False):
        image1 = 2 * (image1 / 255.0) - 1.0
        image2 = 2 * (image2 / 255.0) - 1.0
        with torch.autocast(device_type="cuda", enabled=self.mixed_precision):
            fmap1, fmap2 = self.fnet([image1, image2])
        corr_fn = CorrBlock(fmap1.float(), fmap2.float(), num_levels=self.corr_levels, radius=self.corr_radius)
        with torch.autocast(device_type="cuda", enabled=self.mixed_precision):
            cnet = self.cnet(image1)
            net, inp = torch.split(cnet, [self.hidden_dim, self.context_dim], dim=1)
            net, inp = torch.tanh(net), torch.relu(inp)
        coords0, coords1 = self.initialize_flow(image1)
        predictions = []
        for _ in range(iters):
            coords1 = coords1.detach()   # each iteration's update learns from its own step only
            corr = corr_fn(coords1)
            flow = coords1 - coords0
            with torch.autocast(device_type="cuda", enabled=self.mixed_precision):
                net, up_mask, delta_flow = self.update_block(net, inp, corr, flow)
            coords1 = coords1 + delta_flow
            if up_mask is None:
                flow_up = upflow(coords1 - coords0, 2)
            else:
                flow_up = self.upsample_flow(coords1 - coords0, up_mask)
            predictions.append(flow_up)
        if test_mode:
            return coords1 - coords0, flow_up
        return predictions


def sequence_loss(flow_preds, flow_gt, valid, gamma=0.8, max_flow=400):
    """Gamma-weighted L1 over the iterations (the last counts most), and end-point-error metrics."""
    n_predictions = len(flow_preds)
    flow_loss = 0.0
    mag = torch.sum(flow_gt ** 2, dim=1).sqrt()
    valid = (valid >= 0.5) & (mag < max_flow)
    for i in range(n_predictions):
        i_weight = gamma ** (n_predictions - i - 1)
        i_loss = (flow_preds[i] - flow_gt).abs()
        flow_loss += i_weight * (valid[:, None] * i_loss).mean()
    epe = torch.sum((flow_preds[-1] - flow_gt) ** 2, dim=1).sqrt()
    epe = epe.view(-1)[valid.view(-1)]
    metrics = {"epe": epe.mean().item(), "1px": (epe < 1).float().mean().item(),
               "3px": (epe < 3).float().mean().item()}
    return flow_loss, metrics


def make_model(small=True):
    return RAFT(small=small)


def train(model, batches, steps, lr=4e-3, wdecay=1e-4, epsilon=1e-8, clip=1.0, gamma=0.8, iters=3,
          mixed_precision=False):
    optimizer = optim.AdamW(model.parameters(), lr=lr, weight_decay=wdecay, eps=epsilon)
    scheduler = optim.lr_scheduler.OneCycleLR(optimizer, lr, steps + 2, pct_start=0.25, cycle_momentum=False,
                                              anneal_strategy="linear")
    scaler = torch.amp.GradScaler(enabled=mixed_precision)
    model.train()
    history = {"loss": [], "norm": [], "lr": [], "epe": [], "1px": []}
    gradients = None
    for step in range(steps):
        image1, image2, flow, valid = batches[step % len(batches)]
        optimizer.zero_grad()
        flow_predictions = model(image1, image2, iters=iters)
        loss, metrics = sequence_loss(flow_predictions, flow, valid, gamma)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        if gradients is None:
            gradients = {name: p.grad.clone() for name, p in model.named_parameters()}
        scaler.step(optimizer)
        scheduler.step()
        scaler.update()
        history["loss"].append(loss.item())
        history["norm"].append(norm.item())
        history["lr"].append(scheduler.get_last_lr()[0])
        history["epe"].append(metrics["epe"])
        history["1px"].append(metrics["1px"])
    return history, gradients


@torch.no_grad()
def evaluate(model, image1, image2, iters=4):
    model.eval()
    return model(image1, image2, iters=iters, test_mode=True)
'''


VIDEO_AUTOENCODER = '''
class FrameEncoder(nn.Module):
    """Frames (N, 1, 8, 8) to feature vectors (N, F)."""

    def __init__(self, feature_size):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, kernel_size=3, stride=2, padding=1)
        self.fc = nn.Linear(4 * 4 * 4, feature_size)

    def forward(self, frames):
        return torch.tanh(self.fc(F.relu(self.conv(frames)).flatten(1)))


class VideoAutoencoder(nn.Module):
    """A list of clips (T_i, 1, 8, 8) of different lengths to their reversed reconstructions (B, T_max, 64),
    the clip codes (B, H) and each step's prediction of the next frame's features (B, T_max - 1, F)."""

    def __init__(self, feature_size=12, hidden_size=16, frame_pixels=64):
        super().__init__()
        self.hidden_size = hidden_size
        self.frames = FrameEncoder(feature_size)
        self.encoder = nn.GRU(feature_size, hidden_size, batch_first=True)
        self.decoder = nn.GRUCell(feature_size, hidden_size)
        self.reconstruct = nn.Linear(hidden_size, frame_pixels)
        self.predict = nn.Linear(hidden_size, feature_size)

    def forward(self, clips):
        lengths = [len(clip) for clip in clips]
        features = self.frames(torch.cat(clips, dim=0))
        per_clip = torch.split(features, lengths)
        packed = pack_sequence(list(per_clip), enforce_sorted=False)
        outputs, h_n = self.encoder(packed)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True)
        code = h_n[-1]                                          # back in the clips' own order
        h = code
        blank = code.new_zeros(len(clips), self.frames.fc.out_features)
        reconstructions = []
        for _ in range(max(lengths)):                           # unconditioned: the decoder reads nothing
            h = self.decoder(blank, h)
            reconstructions.append(self.reconstruct(h))
        future = self.predict(outputs[:, :-1])
        return torch.stack(reconstructions, dim=1), code, future, pad_sequence(per_clip, batch_first=True)


def make_model():
    return VideoAutoencoder()


def masked_losses(model, clips):
    reconstructions, code, future, features = model(clips)
    lengths = torch.tensor([len(clip) for clip in clips])
    steps = reconstructions.shape[1]
    mask = (torch.arange(steps)[None, :] < lengths[:, None]).float()                  # (B, T_max)
    target = pad_sequence([clip.flip(0).flatten(1) for clip in clips], batch_first=True)
    pixel_loss = F.binary_cross_entropy_with_logits(reconstructions, target, reduction="none").mean(-1)
    reconstruction = (pixel_loss * mask).sum() / mask.sum()
    next_mask = mask[:, 1:]
    feature_error = ((future - features[:, 1:].detach()) ** 2).mean(-1)
    prediction = (feature_error * next_mask).sum() / next_mask.sum()
    return reconstruction, prediction, code


def train(model, batches, steps, lr=0.01, clip=1.0):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    history = {"reconstruction": [], "prediction": [], "norm": []}
    codes = []
    for step in range(steps):
        clips = batches[step % len(batches)]
        optimizer.zero_grad()
        reconstruction, prediction, code = masked_losses(model, clips)
        (reconstruction + 0.5 * prediction).backward()
        history["norm"].append(float(nn.utils.clip_grad_norm_(model.parameters(), clip)))
        optimizer.step()
        history["reconstruction"].append(reconstruction.item())
        history["prediction"].append(prediction.item())
        codes.append(code.detach())
    return history, codes
'''


UNSUPERVISED_FLOW = '''
def mesh_grid(batch, height, width):
    """Pixel coordinates (B, 2, H, W): channel 0 the x, channel 1 the y."""
    x_base = torch.arange(0, width).repeat(batch, height, 1)
    y_base = torch.arange(0, height).repeat(batch, width, 1).transpose(1, 2)
    return torch.stack([x_base, y_base], 1)


def norm_grid(v_grid):
    """Pixel coordinates (B, 2, H, W) to grid_sample's [-1, 1] grid (B, H, W, 2)."""
    _, _, height, width = v_grid.size()
    v_grid_norm = torch.zeros_like(v_grid)
    v_grid_norm[:, 0, :, :] = 2.0 * v_grid[:, 0, :, :] / (width - 1) - 1.0
    v_grid_norm[:, 1, :, :] = 2.0 * v_grid[:, 1, :, :] / (height - 1) - 1.0
    return v_grid_norm.permute(0, 2, 3, 1)


def flow_warp(x, flow12, pad="border", mode="bilinear"):
    """x (B, C, H, W) read at p + flow12(p): image 2 warped back onto image 1."""
    batch, _, height, width = x.size()
    base_grid = mesh_grid(batch, height, width).type_as(x)
    return F.grid_sample(x, norm_grid(base_grid + flow12), mode=mode, padding_mode=pad, align_corners=True)


def occlusion_mask(flow12, flow21, scale=0.01, bias=0.5):
    """1 where forward and warped backward flow fail to cancel (forward-backward consistency), else 0."""
    flow21_warped = flow_warp(flow21, flow12, pad="zeros")
    difference = flow12 + flow21_warped
    magnitude = (flow12 * flow12).sum(1, keepdim=True) + (flow21_warped * flow21_warped).sum(1, keepdim=True)
    return ((difference * difference).sum(1, keepdim=True) > scale * magnitude + bias).float()


def charbonnier(x, alpha=0.45, eps=1e-3):
    return (x ** 2 + eps ** 2) ** alpha


class SSIM(nn.Module):
    """Per-pixel (1 - SSIM) / 2 of two images over 3x3 windows (reflection-padded), clamped to [0, 1]."""

    def __init__(self):
        super().__init__()
        self.mu_x_pool = nn.AvgPool2d(3, 1)
        self.mu_y_pool = nn.AvgPool2d(3, 1)
        self.sig_x_pool = nn.AvgPool2d(3, 1)
        self.sig_y_pool = nn.AvgPool2d(3, 1)
        self.sig_xy_pool = nn.AvgPool2d(3, 1)
        self.refl = nn.ReflectionPad2d(1)
        self.C1 = 0.01 ** 2
        self.C2 = 0.03 ** 2

    def forward(self, x, y):
        x, y = self.refl(x), self.refl(y)
        mu_x, mu_y = self.mu_x_pool(x), self.mu_y_pool(y)
        sigma_x = self.sig_x_pool(x ** 2) - mu_x ** 2
        sigma_y = self.sig_y_pool(y ** 2) - mu_y ** 2
        sigma_xy = self.sig_xy_pool(x * y) - mu_x * mu_y
        numerator = (2 * mu_x * mu_y + self.C1) * (2 * sigma_xy + self.C2)
        denominator = (mu_x ** 2 + mu_y ** 2 + self.C1) * (sigma_x + sigma_y + self.C2)
        return torch.clamp((1 - numerator / denominator) / 2, 0, 1)


def ternary_loss(image, warped, max_distance=1):
    """Census-transform distance per pixel (B, 1, H, W): each pixel's soft sign pattern against its neighbours,
    compared between the image and its warped twin; 0 on the border that the patches cannot cover."""
    patch_size = 2 * max_distance + 1

    def rgb_to_grayscale(x):
        return (x[:, 0, :, :] * 0.2989 + x[:, 1, :, :] * 0.5870 + x[:, 2, :, :] * 0.1140).unsqueeze(1)

    def ternary_transform(x):
        intensities = rgb_to_grayscale(x) * 255
        out_channels = patch_size * patch_size
        weights = torch.eye(out_channels).view((out_channels, 1, patch_size, patch_size)).type_as(x)
        patches = F.conv2d(intensities, weights, padding=max_distance)
        transformed = patches - intensities
        return transformed / torch.sqrt(0.81 + torch.pow(transformed, 2))

    def hamming_distance(t1, t2):
        dist = torch.pow(t1 - t2, 2)
        return torch.mean(dist / (0.1 + dist), 1, keepdim=True)

    n, _, h, w = image.size()
    inner = torch.ones(n, 1, h - 2 * max_distance, w - 2 * max_distance).type_as(image)
    mask = F.pad(inner, [max_distance] * 4)
    return hamming_distance(ternary_transform(image), ternary_transform(warped)) * mask


def gradient(data):
    dy = data[:, :, 1:] - data[:, :, :-1]
    dx = data[:, :, :, 1:] - data[:, :, :, :-1]
    return dx, dy


def smooth_grad_1st(flow, image, alpha=10.0):
    """Edge-aware smoothness: flow gradients, down-weighted where the image has an edge."""
    img_dx, img_dy = gradient(image)
    weights_x = torch.exp(-torch.mean(torch.abs(img_dx), 1, keepdim=True) * alpha)
    weights_y = torch.exp(-torch.mean(torch.abs(img_dy), 1, keepdim=True) * alpha)
    dx, dy = gradient(flow)
    return (weights_x * dx.abs()).mean() / 2.0 + (weights_y * dy.abs()).mean() / 2.0


class FlowNet(nn.Module):
    """Two images (B, 3, H, W) to the flows 1->2 and 2->1 (B, 2, H, W), in pixels."""

    def __init__(self, max_flow=3.0):
        super().__init__()
        self.max_flow = max_flow
        self.net = nn.Sequential(
            nn.Conv2d(6, 12, 3, padding=1), nn.LeakyReLU(0.1, inplace=True),
            nn.Conv2d(12, 12, 3, padding=1), nn.LeakyReLU(0.1, inplace=True),
            nn.Conv2d(12, 2, 3, padding=1))

    def forward(self, img1, img2):
        flow12 = self.max_flow * torch.tanh(self.net(torch.cat([img1, img2], 1)))
        flow21 = self.max_flow * torch.tanh(self.net(torch.cat([img2, img1], 1)))
        return flow12, flow21


class UnsupervisedFlowLoss(nn.Module):
    """Photometric (Charbonnier, SSIM, census) loss of the occlusion-masked warps in both directions, plus
    edge-aware smoothness, at full and half resolution (images area-downsampled, flows pooled and halved)."""

    def __init__(self, w_ssim=0.85, w_charbonnier=0.15, w_ternary=0.5, w_smooth=0.5, w_scales=(1.0, 0.5)):
        super().__init__()
        self.ssim = SSIM()
        self.w_ssim, self.w_charbonnier, self.w_ternary = w_ssim, w_charbonnier, w_ternary
        self.w_smooth, self.w_scales = w_smooth, w_scales

    def photometric(self, image, reconstruction, visible):
        loss = self.w_charbonnier * charbonnier(image - reconstruction) * visible
        loss = loss.mean() + self.w_ssim * self.ssim(reconstruction * visible, image * visible).mean()
        loss = loss + self.w_ternary * (ternary_loss(image, reconstruction) * visible).mean()
        return loss / visible.mean()

    def one_scale(self, flow12, flow21, img1, img2):
        visible1 = 1 - occlusion_mask(flow12, flow21)
        visible2 = 1 - occlusion_mask(flow21, flow12)
        img1_recons = flow_warp(img2, flow12)
        img2_recons = flow_warp(img1, flow21)
        photometric = self.photometric(img1, img1_recons, visible1) + self.photometric(img2, img2_recons, visible2)
        smooth = smooth_grad_1st(flow12, img1) + smooth_grad_1st(flow21, img2)
        return photometric + self.w_smooth * smooth, 1 - visible1.mean().item()

    def forward(self, flow12, flow21, img1, img2):
        total, occluded = 0, []
        for scale, weight in enumerate(self.w_scales):
            if scale > 0:
                h, w = img1.shape[2] // 2, img1.shape[3] // 2
                img1 = F.interpolate(img1, (h, w), mode="area")
                img2 = F.interpolate(img2, (h, w), mode="area")
                flow12, flow21 = F.avg_pool2d(flow12, 2) / 2, F.avg_pool2d(flow21, 2) / 2
            loss, fraction = self.one_scale(flow12, flow21, img1, img2)
            total = total + weight * loss
            occluded.append(fraction)
        return total, occluded


def make_model(dtype="float32"):
    return FlowNet().to(getattr(torch, dtype))


def train(model, pairs, steps, lr=0.01):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    criterion = UnsupervisedFlowLoss()
    losses, occluded, gradients = [], [], []
    for step in range(steps):
        img1, img2 = pairs[step % len(pairs)]
        optimizer.zero_grad()
        flow12, flow21 = model(img1, img2)
        loss, occluded_fraction = criterion(flow12, flow21, img1, img2)
        loss.backward()
        gradients.append([p.grad.clone() for p in model.parameters()])
        optimizer.step()
        losses.append(loss.item())
        occluded.append(occluded_fraction)
    return losses, occluded, gradients
'''


PREDRNN = '''
def reshape_patch(frames, patch_size):
    """Frames (B, T, C, H, W) to patch channels (B, T, C * p * p, H / p, W / p)."""
    b, t, c, h, w = frames.shape
    x = frames.reshape(b, t, c, h // patch_size, patch_size, w // patch_size, patch_size)
    x = x.permute(0, 1, 2, 4, 6, 3, 5)
    return x.reshape(b, t, c * patch_size * patch_size, h // patch_size, w // patch_size)


class SpatioTemporalLSTMCell(nn.Module):
    """PredRNN's ST-LSTM step: the usual (h, c) plus a spatiotemporal memory m that zigzags through the
    layers; x, h and m each pass one convolution (+ LayerNorm over (C, H, W)), cut into gates by torch.split."""

    def __init__(self, in_channel, num_hidden, width, filter_size, stride=1):
        super().__init__()
        self.num_hidden = num_hidden
        self.padding = filter_size // 2
        self._forget_bias = 1.0

        def conv_norm(channels_in, gates):
            return nn.Sequential(
                nn.Conv2d(channels_in, num_hidden * gates, kernel_size=filter_size, stride=stride,
                          padding=self.padding, bias=False),
                nn.LayerNorm([num_hidden * gates, width, width]))

        self.conv_x = conv_norm(in_channel, 7)
        self.conv_h = conv_norm(num_hidden, 4)
        self.conv_m = conv_norm(num_hidden, 3)
        self.conv_o = conv_norm(num_hidden * 2, 1)
        self.conv_last = nn.Conv2d(num_hidden * 2, num_hidden, kernel_size=1, stride=1, padding=0, bias=False)

    def forward(self, x_t, h_t, c_t, m_t):
        i_x, f_x, g_x, i_x_prime, f_x_prime, g_x_prime, o_x = torch.split(self.conv_x(x_t), self.num_hidden, dim=1)
        i_h, f_h, g_h, o_h = torch.split(self.conv_h(h_t), self.num_hidden, dim=1)
        i_m, f_m, g_m = torch.split(self.conv_m(m_t), self.num_hidden, dim=1)

        i_t = torch.sigmoid(i_x + i_h)
        f_t = torch.sigmoid(f_x + f_h + self._forget_bias)
        g_t = torch.tanh(g_x + g_h)
        delta_c = i_t * g_t
        c_new = f_t * c_t + delta_c

        i_t_prime = torch.sigmoid(i_x_prime + i_m)
        f_t_prime = torch.sigmoid(f_x_prime + f_m + self._forget_bias)
        g_t_prime = torch.tanh(g_x_prime + g_m)
        delta_m = i_t_prime * g_t_prime
        m_new = f_t_prime * m_t + delta_m

        mem = torch.cat((c_new, m_new), 1)
        o_t = torch.sigmoid(o_x + o_h + self.conv_o(mem))
        h_new = o_t * torch.tanh(self.conv_last(mem))
        return h_new, c_new, m_new, delta_c, delta_m


class PredRNN(nn.Module):
    """Patch frames (B, T, C, H, W) and a scheduled-sampling mask (B, T - input_length - 1, C, H, W) to the
    predicted frames 1..T-1 (B, T - 1, C, H, W) and the memory-decoupling loss (PredRNN-V2)."""

    def __init__(self, num_hidden=(4, 4), channels=4, width=4, filter_size=3, input_length=3):
        super().__init__()
        self.num_layers, self.num_hidden, self.input_length = len(num_hidden), list(num_hidden), input_length
        cells = []
        for i in range(self.num_layers):
            in_channel = channels if i == 0 else num_hidden[i - 1]
            cells.append(SpatioTemporalLSTMCell(in_channel, num_hidden[i], width, filter_size))
        self.cell_list = nn.ModuleList(cells)
        self.conv_last = nn.Conv2d(num_hidden[-1], channels, kernel_size=1, stride=1, padding=0, bias=False)
        self.adapter = nn.Conv2d(num_hidden[0], num_hidden[0], 1, stride=1, padding=0, bias=False)

    def forward(self, frames, mask_true):
        batch, total, _, height, width = frames.shape
        next_frames, h_t, c_t, delta_c_list, delta_m_list, decouple_loss = [], [], [], [], [], []
        for i in range(self.num_layers):
            zeros = torch.zeros([batch, self.num_hidden[i], height, width], device=frames.device)
            h_t.append(zeros)
            c_t.append(zeros)
            delta_c_list.append(zeros)
            delta_m_list.append(zeros)
        memory = torch.zeros([batch, self.num_hidden[0], height, width], device=frames.device)
        x_gen = None
        for t in range(total - 1):
            if t < self.input_length:
                net = frames[:, t]
            else:   # scheduled sampling: the true frame where the mask says so, else the model's own guess
                mask = mask_true[:, t - self.input_length]
                net = mask * frames[:, t] + (1 - mask) * x_gen
            h_t[0], c_t[0], memory, delta_c, delta_m = self.cell_list[0](net, h_t[0], c_t[0], memory)
            delta_c_list[0] = F.normalize(self.adapter(delta_c).view(batch, self.num_hidden[0], -1), dim=2)
            delta_m_list[0] = F.normalize(self.adapter(delta_m).view(batch, self.num_hidden[0], -1), dim=2)
            for i in range(1, self.num_layers):
                h_t[i], c_t[i], memory, delta_c, delta_m = self.cell_list[i](h_t[i - 1], h_t[i], c_t[i], memory)
                delta_c_list[i] = F.normalize(self.adapter(delta_c).view(batch, self.num_hidden[i], -1), dim=2)
                delta_m_list[i] = F.normalize(self.adapter(delta_m).view(batch, self.num_hidden[i], -1), dim=2)
            x_gen = self.conv_last(h_t[self.num_layers - 1])
            next_frames.append(x_gen)
            for i in range(self.num_layers):
                decouple_loss.append(
                    torch.mean(torch.abs(torch.cosine_similarity(delta_c_list[i], delta_m_list[i], dim=2))))
        decouple_loss = torch.mean(torch.stack(decouple_loss, dim=0))
        return torch.stack(next_frames, dim=1), decouple_loss


def make_model():
    return PredRNN()


def train(model, videos, masks, steps, lr=3e-3, beta=0.1, patch_size=2):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    mse = nn.MSELoss()
    losses, decouple = [], []
    for step in range(steps):
        frames = reshape_patch(videos[step % len(videos)], patch_size)
        optimizer.zero_grad()
        next_frames, decouple_loss = model(frames, masks[step % len(masks)])
        loss = mse(next_frames, frames[:, 1:]) + beta * decouple_loss
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        decouple.append(decouple_loss.item())
    return losses, decouple
'''

PROGRAMS = (RAFT, VIDEO_AUTOENCODER, PREDRNN, UNSUPERVISED_FLOW)


@pytest.fixture(autouse=True)
def _lean_torch(monkeypatch: pytest.MonkeyPatch) -> Any:
    """torch on one intra-op thread and without oneDNN in each test, restored after: on maps this small its
    oneDNN convolutions build a new primitive for each new shape (~2 ms a call) and its thread pool only costs.
    The numbers compared are the same either way. torch's first optimizer imports torch._dynamo (~1 s, once per
    process, whichever test of the suite comes first): imported here, it counts as setup, as ``import torch`` does;
    so does minigrad's own first import of ``nn`` (~0.7 s), when no earlier test made it."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (optional test peer)")
    importlib.import_module("torch._dynamo")
    importlib.import_module("minigrad.nn")
    monkeypatch.setattr(torch.backends.mkldnn, "enabled", False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _twins(source: str, *args: Any, **kwargs: Any) -> tuple:
    return _twin_models(source, *args, imports=(TORCH_IMPORTS_FLOW, MINIGRAD_IMPORTS_FLOW), **kwargs)


def test_the_programs_differ_only_in_their_imports() -> None:
    assert TORCH_IMPORTS_FLOW.splitlines()[-1].replace("torch", "minigrad") == MINIGRAD_IMPORTS_FLOW.splitlines()[-1]
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. RAFT


def _shifted_pairs(lib: Any, count: int, seed: int, size: int = 16, batch: int = 2) -> list:
    """(image1, image2, flow, valid): smooth random images 0..255 with image2(x + d) = image1(x) for a per-batch
    integer displacement d (so the true flow is d everywhere); the last column is marked invalid."""
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(count):
        dx, dy = (int(v) for v in rng.integers(-1, 2, 2))
        big = rng.random((batch, 3, size + 4, size + 4))
        big = (big + np.roll(big, 1, -1) + np.roll(big, 1, -2)) / 3 * 255
        image2 = big[:, :, 2:2 + size, 2:2 + size]
        image1 = big[:, :, 2 + dy:2 + dy + size, 2 + dx:2 + dx + size]
        flow = np.zeros((batch, 2, size, size))
        flow[:, 0], flow[:, 1] = dx, dy
        valid = np.ones((batch, size, size))
        valid[:, :, -1] = 0
        pairs.append(tuple(lib.from_numpy(a.astype(np.float32)) for a in (image1, image2, flow, valid)))
    return pairs


@pytest.mark.parametrize("small", [True, False], ids=["bilinear-upsampling", "convex-upsampling"])
def test_raft_all_pairs_correlation_and_conv_gru_updates(torch: Any, small: bool) -> None:
    import minigrad as mg  # noqa: PLC0415

    torch_program, torch_model, mg_program, mg_model, initial = _twins(RAFT, small)
    steps = 4
    expected, expected_grads = torch_program["train"](torch_model, _shifted_pairs(torch, 2, 0), steps)
    history, grads = mg_program["train"](mg_model, _shifted_pairs(mg, 2, 0), steps)
    _assert_close(history, expected, rtol=1e-5, atol=1e-5)
    _assert_close(grads, expected_grads, rtol=1e-4, atol=1e-6)
    assert expected["lr"][0] > expected["lr"][-1] > 0   # one-cycle: up, then linearly down
    _assert_same_weights(torch_model, mg_model, initial)
    image1, image2, _, _ = _shifted_pairs(torch, 1, 5)[0]
    ours = mg_program["evaluate"](mg_model, *_shifted_pairs(mg, 1, 5)[0][:2])
    theirs = torch_program["evaluate"](torch_model, image1, image2)
    _assert_close(ours, theirs, rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- 2. video autoencoder


def _clips(lib: Any, count: int, seed: int, lengths: tuple = (3, 5, 2, 4)) -> list:
    """Batches of clips (T_i, 1, 8, 8) of a bright 3x3 square moving by a fixed step, lengths unsorted."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        clips = []
        for length in lengths:
            frames = np.zeros((length, 1, 8, 8), dtype=np.float32)
            (x, y), (vx, vy) = rng.integers(0, 3, 2), rng.integers(-1, 2, 2)
            for t in range(length):
                px, py = int(np.clip(x + 2 + vx * t, 0, 5)), int(np.clip(y + 2 + vy * t, 0, 5))
                frames[t, 0, py:py + 3, px:px + 3] = 1.0
            clips.append(lib.from_numpy(frames))
        batches.append(clips)
    return batches


def test_video_autoencoder_on_packed_clips_of_different_lengths(torch: Any) -> None:
    import minigrad as mg  # noqa: PLC0415

    torch_program, torch_model, mg_program, mg_model, initial = _twins(VIDEO_AUTOENCODER)
    steps = 5
    expected, expected_codes = torch_program["train"](torch_model, _clips(torch, 2, 1), steps)
    history, codes = mg_program["train"](mg_model, _clips(mg, 2, 1), steps)
    _assert_close(history, expected, rtol=1e-5, atol=1e-6)
    _assert_close(codes, expected_codes, rtol=1e-5, atol=1e-6)
    assert expected["reconstruction"][-1] < expected["reconstruction"][0]
    _assert_same_weights(torch_model, mg_model, initial)


def _videos(lib: Any, count: int, seed: int, steps: int = 5) -> tuple:
    """Videos (2, T, 1, 8, 8) of a bright 2x2 square bouncing around, and scheduled-sampling masks
    (2, T - 4, 4, 4, 4): per sample and step all ones (feed the true frame) or all zeros (feed the guess)."""
    rng = np.random.default_rng(seed)
    videos, masks = [], []
    for _ in range(count):
        video = np.zeros((2, steps, 1, 8, 8), dtype=np.float32)
        for b in range(2):
            (x, y), (vx, vy) = rng.integers(0, 6, 2), rng.choice([-1, 1], 2)
            for t in range(steps):
                video[b, t, 0, y:y + 2, x:x + 2] = 1.0
                vx, vy = (-vx if not 0 <= x + vx <= 6 else vx), (-vy if not 0 <= y + vy <= 6 else vy)
                x, y = x + vx, y + vy
        coins = (rng.random((2, steps - 4, 1, 1, 1)) < 0.5).astype(np.float32)
        videos.append(lib.from_numpy(video))
        masks.append(lib.from_numpy(np.broadcast_to(coins, (2, steps - 4, 4, 4, 4)).copy()))
    return videos, masks


def test_predrnn_spatiotemporal_memory_with_scheduled_sampling(torch: Any) -> None:
    import minigrad as mg  # noqa: PLC0415

    torch_program, torch_model, mg_program, mg_model, initial = _twins(PREDRNN)
    expected = torch_program["train"](torch_model, *_videos(torch, 2, 3), 3)
    result = mg_program["train"](mg_model, *_videos(mg, 2, 3), 3)
    _assert_close(result, expected, rtol=1e-5, atol=1e-6)
    _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- 4. unsupervised flow


def _image_pairs(lib: Any, dtype: str, count: int, seed: int, size: int = 12) -> list:
    """Smooth random images (2, 3, H, W) and the same images shifted by a fractional displacement."""
    rng = np.random.default_rng(seed)
    pairs = []
    ys, xs = np.mgrid[0:size, 0:size]
    for _ in range(count):
        phases, frequencies = rng.random((2, 3, 1, 1)) * 6, 0.3 + rng.random((2, 3, 1, 1)) * 0.5
        shift = rng.random(2) * 2 - 1
        image1 = np.sin(frequencies * xs + phases) * np.cos(frequencies * ys + phases) * 0.5 + 0.5
        image2 = (np.sin(frequencies * (xs - shift[0]) + phases) * np.cos(frequencies * (ys - shift[1]) + phases)
                  * 0.5 + 0.5)
        pairs.append((lib.from_numpy(image1.astype(dtype)), lib.from_numpy(image2.astype(dtype))))
    return pairs


@pytest.mark.parametrize("dtype, rtol", [("float32", 1e-5), ("float64", 1e-10)])
def test_unsupervised_flow_photometric_occlusion_and_smoothness_losses(torch: Any, dtype: str, rtol: float) -> None:
    import minigrad as mg  # noqa: PLC0415

    torch_program, torch_model, mg_program, mg_model, initial = _twins(UNSUPERVISED_FLOW, dtype)
    steps = 4
    expected = torch_program["train"](torch_model, _image_pairs(torch, dtype, 2, 2), steps)
    result = mg_program["train"](mg_model, _image_pairs(mg, dtype, 2, 2), steps)
    _assert_close(result, expected, rtol=rtol, atol=rtol)
    assert 0 < max(fractions[0] for fractions in expected[1]) < 1   # some pixels are occluded, not all
    _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- what the programs found


@pytest.mark.parametrize("case", ["batch", "last-dim", "rank", "empty", "bicubic-5d", "dtype", "int-grid", "theta"])
def test_grid_sample_shape_and_dtype_errors_are_also_runtime_errors(torch: Any, case: str) -> None:
    """PyTorch raises RuntimeError where minigrad raised a plain ValueError/TypeError: a program's
    ``except RuntimeError`` (as flow code writes around grid_sample) let ours through. Both classes now."""
    import minigrad as mg  # noqa: PLC0415

    def call(lib: Any) -> None:
        F = lib.nn.functional
        x, grid = lib.zeros(2, 3, 4, 4), lib.zeros(2, 2, 2, 2)
        if case == "batch":
            F.grid_sample(x, lib.zeros(3, 2, 2, 2), align_corners=True)
        elif case == "last-dim":
            F.grid_sample(x, lib.zeros(2, 2, 2, 3), align_corners=True)
        elif case == "rank":
            F.grid_sample(x[0], lib.zeros(3, 2, 2), align_corners=True)
        elif case == "empty":
            F.grid_sample(lib.zeros(2, 3, 0, 4), grid, align_corners=True)
        elif case == "bicubic-5d":
            F.grid_sample(lib.zeros(1, 2, 2, 2, 2), lib.zeros(1, 2, 2, 2, 3), mode="bicubic", align_corners=True)
        elif case == "dtype":
            F.grid_sample(x, grid.double(), align_corners=True)
        elif case == "int-grid":
            F.grid_sample(x, grid.long(), align_corners=True)
        else:
            F.affine_grid(lib.zeros(2, 2, 3), (3, 1, 4, 4), align_corners=False)

    with pytest.raises(RuntimeError):
        call(torch)
    with pytest.raises(RuntimeError, match="grid"):
        call(mg)
    with pytest.raises(TypeError if case in ("dtype", "int-grid") else ValueError):
        call(mg)


def test_type_as_moves_to_the_other_tensors_device(monkeypatch: pytest.MonkeyPatch) -> None:
    """ARFlow's ``mesh_grid(...).type_as(image)`` (and the census transform's ``torch.eye(...).type_as(image)``) build
    on the CPU and rely on type_as to follow a CUDA image there: it cast the dtype only, so on a GPU the grid stayed
    on the CPU and the next op raised. The device is passed now (checked on a GPU in the test below)."""
    import minigrad as mg  # noqa: PLC0415

    seen = []
    real_to = mg.Tensor.to

    def to(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("device"))
        return real_to(self, *args, **kwargs)

    monkeypatch.setattr(mg.Tensor, "to", to)
    other = mg.zeros(2, dtype=mg.float64)
    grid = mg.arange(3).type_as(other)
    assert grid.dtype == mg.float64 and seen == [other.device]
    same = mg.zeros(2)
    assert same.type_as(mg.ones(1)) is same   # nothing to change: the tensor itself, as PyTorch


@pytest.mark.gpu
def test_type_as_follows_a_gpu_tensor() -> None:
    """On the GPU, or the strict CuPy stand-in without one."""
    import minigrad as mg  # noqa: PLC0415

    image = mg.zeros(1, 3, 4, 4, device="cuda")
    assert str(mg.arange(4).type_as(image).device).startswith("cuda")
    assert str(image.type_as(mg.zeros(1, dtype=mg.float64)).device) == "cpu"
