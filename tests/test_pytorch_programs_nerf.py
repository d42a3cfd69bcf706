"""Neural rendering and coordinate networks, small, run unchanged on minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program: it keeps the original's PyTorch calls and
habits in the same roles, with our own names, structure and comments, a tiny model, a few steps and generated data
(the helpers and the rule come from tests/test_pytorch_programs.py):

* ``NERF`` follows yenchenlin/nerf-pytorch (``run_nerf.py``, ``run_nerf_helpers.py``): the positional encoding as a
  list of ``lambda`` closures over ``2. ** torch.linspace(...)`` frequencies, ``torch.cat``-ed; the NeRF MLP in an
  ``nn.ModuleList`` with a skip connection (``torch.cat([input_pts, h], -1)``), ``torch.split`` of points and view
  directions, a view-dependent colour branch; rays from ``torch.meshgrid(indexing='ij')`` and a camera-to-world
  matrix, pixels picked by ``coords[select_inds].long()``; stratified sampling (``linspace``, mid-points,
  ``torch.rand(z_vals.shape)``); ``raw2outputs`` (distances from ``z[..., 1:] - z[..., :-1]`` and a ``1e10``
  last column by ``torch.Tensor([1e10]).expand``, ``torch.norm``, density noise by ``torch.randn``,
  ``alpha = 1 - exp(-relu(sigma) * dists)``, transmittance by ``torch.cumprod`` of ``1 - alpha + 1e-10`` behind a
  column of ones, ``weights[..., None] * rgb`` summed over samples, depth, disparity and accumulation maps, a white
  background); hierarchical sampling ``sample_pdf`` (``cumsum`` of the normalised weights, ``torch.searchsorted(
  right=True)``, ``torch.max``/``torch.min`` clamps, ``torch.gather`` from ``expand``-ed rows, ``torch.where``),
  ``detach`` and ``torch.sort`` of the merged samples, a fine network; ``img2mse`` / ``mse2psnr``, Adam over both
  networks with the exponential learning-rate decay written into ``param_groups``;
* ``SIREN`` follows vsitzmann/siren's ``explore_siren.ipynb``: ``SineLayer`` (``sin(omega_0 * linear(x))``, the
  first layer's and the others' uniform init by ``weight.uniform_`` under ``torch.no_grad()``), coordinates that
  the model ``clone().detach().requires_grad_(True)``-s, ``get_mgrid`` by ``meshgrid``; the Poisson example: the
  network fits an image's Sobel gradients (``F.conv2d`` on an ``F.pad(mode='replicate')``-ed image) through
  ``torch.autograd.grad(create_graph=True)``, and its Laplacian (the divergence of that gradient) is read back;
* ``FOURIER_FEATURES`` follows the PyTorch port of Tancik et al.'s "Fourier Features Let Networks Learn High
  Frequency Functions" (ndahlquist/pytorch-fourier-feature-networks): a fixed Gaussian ``B`` (here a buffer),
  images ``permute``-d and ``reshape``-d through ``x @ B``, ``2 * math.pi * x``, ``torch.cat([sin, cos], dim=1)``,
  a 1x1-convolution MLP, MSE and Adam, against the plain coordinate network;
* ``HASH_GRID`` follows yashbhalgat/HashNeRF-pytorch (``hash_encoding.py``, ``utils.py``), instant-NGP's multi-
  resolution hash encoding: per-level resolutions from ``torch.exp``/``torch.log`` of tensor sizes and
  ``torch.floor``, voxel corners by ``floor(...).int()`` plus the eight ``BOX_OFFSETS`` (int64), the spatial hash
  (coordinates times the primes 1, 2654435761, 805459861, XOR-ed in place with ``^=``, int64 wraparound included,
  then ``% 2 ** log2_hashmap_size`` or ``&`` the mask), ``nn.Embedding`` tables with ``nn.init.uniform_``,
  trilinear interpolation of the eight corner embeddings, an MLP on the concatenated levels, MSE and Adam.

What the programs found in minigrad: an integer tensor with a Python int beyond its dtype (``int32 tensor *
2654435761``, ``x ^= 2 ** 40``) raised NumPy 2's OverflowError; PyTorch casts the number into the tensor's dtype
(two's complement) and so does minigrad now (``minigrad/arguments.py`` ``wrapped_ints``). Comparisons keep NumPy's
exact answer (``int32 tensor == 2 ** 32 + 1`` is False; PyTorch wraps the number and says True).

Ours on purpose (DESIGN §3, README "Coming from PyTorch"): an integer tensor mixed with a float32 tensor follows
NumPy 2's promotion (float64). HashNeRF multiplies the ``.int()`` corner indices by the float32 grid size and keeps
its resolutions as int64 tensors; here the corner positions are taken from the float ``floor`` before ``.int()``
and the resolutions are float32 tensors, which leaves torch's numbers unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import MINIGRAD_IMPORTS, TORCH_IMPORTS, _assert_same_weights, _twin_models
from tests.test_pytorch_programs_generative import _shared_draws

NERF = '''
def get_embedder(multires):
    """x (..., 3) -> (..., 3 + 3 * 2 * multires): x, then sin and cos of 2^k x for k < multires."""
    freq_bands = 2. ** torch.linspace(0., multires - 1, steps=multires)
    embed_fns = [lambda x: x]
    for freq in freq_bands:
        for p_fn in (torch.sin, torch.cos):
            embed_fns.append(lambda x, p_fn=p_fn, freq=freq: p_fn(x * freq))
    out_dim = 3 * (1 + 2 * multires)
    return (lambda x: torch.cat([fn(x) for fn in embed_fns], -1)), out_dim


class NeRF(nn.Module):
    """Encoded points and view directions (N, input_ch + input_ch_views) -> (N, 4): rgb logits and density."""

    def __init__(self, D=4, W=32, input_ch=3, input_ch_views=3, skips=(2,)):
        super(NeRF, self).__init__()
        self.input_ch, self.input_ch_views, self.skips = input_ch, input_ch_views, skips
        self.pts_linears = nn.ModuleList(
            [nn.Linear(input_ch, W)] + [nn.Linear(W + input_ch if i in skips else W, W) for i in range(D - 1)])
        self.views_linears = nn.ModuleList([nn.Linear(input_ch_views + W, W // 2)])
        self.feature_linear = nn.Linear(W, W)
        self.alpha_linear = nn.Linear(W, 1)
        self.rgb_linear = nn.Linear(W // 2, 3)

    def forward(self, x):
        input_pts, input_views = torch.split(x, [self.input_ch, self.input_ch_views], dim=-1)
        h = input_pts
        for i, layer in enumerate(self.pts_linears):
            h = F.relu(layer(h))
            if i in self.skips:
                h = torch.cat([input_pts, h], -1)
        alpha = self.alpha_linear(h)
        h = torch.cat([self.feature_linear(h), input_views], -1)
        for layer in self.views_linears:
            h = F.relu(layer(h))
        return torch.cat([self.rgb_linear(h), alpha], -1)


def get_rays(H, W, K, c2w):
    i, j = torch.meshgrid(torch.linspace(0, W - 1, W), torch.linspace(0, H - 1, H), indexing='ij')
    i, j = i.t(), j.t()
    dirs = torch.stack([(i - K[0][2]) / K[0][0], -(j - K[1][2]) / K[1][1], -torch.ones_like(i)], -1)
    rays_d = torch.sum(dirs[..., None, :] * c2w[:3, :3], -1)
    rays_o = c2w[:3, -1].expand(rays_d.shape)
    return rays_o, rays_d


def raw2outputs(raw, z_vals, rays_d, raw_noise_std=0., white_bkgd=False):
    """raw (N, S, 4), z_vals (N, S), rays_d (N, 3) -> rgb (N, 3), disparity, accumulation, depth (N,),
    weights (N, S)."""
    raw2alpha = lambda raw, dists, act_fn=F.relu: 1. - torch.exp(-act_fn(raw) * dists)
    dists = z_vals[..., 1:] - z_vals[..., :-1]
    dists = torch.cat([dists, torch.Tensor([1e10]).expand(dists[..., :1].shape)], -1)
    dists = dists * torch.norm(rays_d[..., None, :], dim=-1)
    rgb = torch.sigmoid(raw[..., :3])
    noise = 0.
    if raw_noise_std > 0.:
        noise = torch.randn(raw[..., 3].shape) * raw_noise_std
    alpha = raw2alpha(raw[..., 3] + noise, dists)
    transmittance = torch.cumprod(torch.cat([torch.ones((alpha.shape[0], 1)), 1. - alpha + 1e-10], -1), -1)
    weights = alpha * transmittance[:, :-1]
    rgb_map = torch.sum(weights[..., None] * rgb, -2)
    depth_map = torch.sum(weights * z_vals, -1)
    disp_map = 1. / torch.max(1e-10 * torch.ones_like(depth_map), depth_map / torch.sum(weights, -1))
    acc_map = torch.sum(weights, -1)
    if white_bkgd:
        rgb_map = rgb_map + (1. - acc_map[..., None])
    return rgb_map, disp_map, acc_map, weights, depth_map


def sample_pdf(bins, weights, N_samples, det=False):
    """Inverse-CDF samples (N, N_samples) of the piecewise-constant pdf ``weights`` (N, B - 1) over ``bins`` (N, B)."""
    weights = weights + 1e-5
    pdf = weights / torch.sum(weights, -1, keepdim=True)
    cdf = torch.cumsum(pdf, -1)
    cdf = torch.cat([torch.zeros_like(cdf[..., :1]), cdf], -1)
    if det:
        u = torch.linspace(0., 1., steps=N_samples)
        u = u.expand(list(cdf.shape[:-1]) + [N_samples])
    else:
        u = torch.rand(list(cdf.shape[:-1]) + [N_samples])
    u = u.contiguous()
    inds = torch.searchsorted(cdf, u, right=True)
    below = torch.max(torch.zeros_like(inds - 1), inds - 1)
    above = torch.min((cdf.shape[-1] - 1) * torch.ones_like(inds), inds)
    inds_g = torch.stack([below, above], -1)
    matched_shape = [inds_g.shape[0], inds_g.shape[1], cdf.shape[-1]]
    cdf_g = torch.gather(cdf.unsqueeze(1).expand(matched_shape), 2, inds_g)
    bins_g = torch.gather(bins.unsqueeze(1).expand(matched_shape), 2, inds_g)
    denom = cdf_g[..., 1] - cdf_g[..., 0]
    denom = torch.where(denom < 1e-5, torch.ones_like(denom), denom)
    t = (u - cdf_g[..., 0]) / denom
    return bins_g[..., 0] + t * (bins_g[..., 1] - bins_g[..., 0])


def batchify(fn, chunk):
    return lambda inputs: torch.cat([fn(inputs[i:i + chunk]) for i in range(0, inputs.shape[0], chunk)], 0)


def run_network(inputs, viewdirs, fn, embed_fn, embeddirs_fn, netchunk=64):
    inputs_flat = torch.reshape(inputs, [-1, inputs.shape[-1]])
    embedded = embed_fn(inputs_flat)
    input_dirs = viewdirs[:, None].expand(inputs.shape)
    embedded = torch.cat([embedded, embeddirs_fn(torch.reshape(input_dirs, [-1, input_dirs.shape[-1]]))], -1)
    outputs_flat = batchify(fn, netchunk)(embedded)
    return torch.reshape(outputs_flat, list(inputs.shape[:-1]) + [outputs_flat.shape[-1]])


def render_rays(rays_o, rays_d, near, far, nets, N_samples=8, N_fine=8, perturb=1., raw_noise_std=1.):
    embed_fn, embeddirs_fn = get_embedder(4)[0], get_embedder(2)[0]
    query = lambda pts, viewdirs, net: run_network(pts, viewdirs, net, embed_fn, embeddirs_fn)
    viewdirs = rays_d / torch.norm(rays_d, dim=-1, keepdim=True)
    viewdirs = torch.reshape(viewdirs, [-1, 3]).float()
    near, far = near * torch.ones_like(rays_d[..., :1]), far * torch.ones_like(rays_d[..., :1])
    t_vals = torch.linspace(0., 1., steps=N_samples)
    z_vals = near * (1. - t_vals) + far * t_vals
    if perturb > 0.:
        mids = .5 * (z_vals[..., 1:] + z_vals[..., :-1])
        upper = torch.cat([mids, z_vals[..., -1:]], -1)
        lower = torch.cat([z_vals[..., :1], mids], -1)
        z_vals = lower + (upper - lower) * torch.rand(z_vals.shape)
    pts = rays_o[..., None, :] + rays_d[..., None, :] * z_vals[..., :, None]
    raw = query(pts, viewdirs, nets['coarse'])
    rgb_map_0, disp_map_0, acc_map_0, weights, depth_map_0 = raw2outputs(raw, z_vals, rays_d, raw_noise_std, True)

    z_vals_mid = .5 * (z_vals[..., 1:] + z_vals[..., :-1])
    z_samples = sample_pdf(z_vals_mid, weights[..., 1:-1], N_fine, det=(perturb == 0.))
    z_samples = z_samples.detach()
    z_vals, _ = torch.sort(torch.cat([z_vals, z_samples], -1), -1)
    pts = rays_o[..., None, :] + rays_d[..., None, :] * z_vals[..., :, None]
    raw = query(pts, viewdirs, nets['fine'])
    rgb_map, disp_map, acc_map, fine_weights, depth_map = raw2outputs(raw, z_vals, rays_d, raw_noise_std, True)
    return {'rgb_map': rgb_map, 'disp_map': disp_map, 'acc_map': acc_map, 'depth_map': depth_map,
            'rgb0': rgb_map_0, 'weights': fine_weights, 'z_samples': z_samples}


img2mse = lambda x, y: torch.mean((x - y) ** 2)
mse2psnr = lambda x: -10. * torch.log(x) / torch.log(torch.Tensor([10.]))


def make_model():
    return nn.ModuleDict({'coarse': NeRF(input_ch=27, input_ch_views=15),
                          'fine': NeRF(input_ch=27, input_ch_views=15)})


def train(nets, image, pose, picks, lrate=5e-3, decay_rate=0.1, decay_steps=40):
    """image (H, W, 3), pose (3, 4), picks: one list of pixel numbers per step. A log of every step."""
    H, W = image.shape[:2]
    focal = 1.2 * W
    K = torch.Tensor([[focal, 0, 0.5 * W], [0, focal, 0.5 * H], [0, 0, 1]])
    rays_o, rays_d = get_rays(H, W, K, pose)
    coords = torch.stack(torch.meshgrid(torch.linspace(0, H - 1, H), torch.linspace(0, W - 1, W),
                                        indexing='ij'), -1)
    coords = torch.reshape(coords, [-1, 2])
    optimizer = torch.optim.Adam(params=list(nets.parameters()), lr=lrate, betas=(0.9, 0.999))
    log = []
    for global_step, select_inds in enumerate(picks):
        select_coords = coords[select_inds].long()
        batch_o = rays_o[select_coords[:, 0], select_coords[:, 1]]
        batch_d = rays_d[select_coords[:, 0], select_coords[:, 1]]
        target_s = image[select_coords[:, 0], select_coords[:, 1]]
        out = render_rays(batch_o, batch_d, 2., 6., nets)
        optimizer.zero_grad()
        img_loss = img2mse(out['rgb_map'], target_s)
        loss = img_loss + img2mse(out['rgb0'], target_s)
        psnr = mse2psnr(img_loss)
        loss.backward()
        optimizer.step()
        new_lrate = lrate * (decay_rate ** ((global_step + 1) / decay_steps))
        for param_group in optimizer.param_groups:
            param_group['lr'] = new_lrate
        log.append({'loss': loss.item(), 'psnr': psnr.item(),
                    'weights': out['weights'].detach().numpy(), 'depth': out['depth_map'].detach().numpy(),
                    'disp': out['disp_map'].detach().numpy(), 'acc': out['acc_map'].detach().numpy(),
                    'z_samples': out['z_samples'].numpy(),
                    'grads': {k: p.grad.numpy().copy() for k, p in nets.named_parameters()}})
    return log
'''


SIREN = '''
class SineLayer(nn.Module):
    """sin(omega_0 * (x W^T + b)); the first layer's weights U(-1/in, 1/in), the others' U(-c, c) with
    c = sqrt(6 / in) / omega_0, so the pre-activations stay in sine's useful range at any depth."""

    def __init__(self, in_features, out_features, bias=True, is_first=False, omega_0=30.):
        super().__init__()
        self.omega_0, self.is_first, self.in_features = omega_0, is_first, in_features
        self.linear = nn.Linear(in_features, out_features, bias=bias)
        self.init_weights()

    def init_weights(self):
        with torch.no_grad():
            if self.is_first:
                self.linear.weight.uniform_(-1 / self.in_features, 1 / self.in_features)
            else:
                bound = math.sqrt(6 / self.in_features) / self.omega_0
                self.linear.weight.uniform_(-bound, bound)

    def forward(self, input):
        return torch.sin(self.omega_0 * self.linear(input))


class Siren(nn.Module):
    def __init__(self, in_features, hidden_features, hidden_layers, out_features, first_omega_0=30.,
                 hidden_omega_0=30.):
        super().__init__()
        layers = [SineLayer(in_features, hidden_features, is_first=True, omega_0=first_omega_0)]
        for _ in range(hidden_layers):
            layers.append(SineLayer(hidden_features, hidden_features, omega_0=hidden_omega_0))
        final_linear = nn.Linear(hidden_features, out_features)
        with torch.no_grad():
            bound = math.sqrt(6 / hidden_features) / hidden_omega_0
            final_linear.weight.uniform_(-bound, bound)
        layers.append(final_linear)
        self.net = nn.Sequential(*layers)

    def forward(self, coords):
        coords = coords.clone().detach().requires_grad_(True)   # the derivatives are taken w.r.t. this input
        return self.net(coords), coords


def gradient(y, x, grad_outputs=None):
    if grad_outputs is None:
        grad_outputs = torch.ones_like(y)
    return torch.autograd.grad(y, [x], grad_outputs=grad_outputs, create_graph=True)[0]


def divergence(y, x):
    div = 0.
    for i in range(y.shape[-1]):
        div += torch.autograd.grad(y[..., i], x, torch.ones_like(y[..., i]), create_graph=True)[0][..., i:i + 1]
    return div


def laplace(y, x):
    return divergence(gradient(y, x), x)


def get_mgrid(sidelen, dim=2):
    """A (sidelen ** dim, dim) grid over [-1, 1]^dim, row-major."""
    tensors = tuple(dim * [torch.linspace(-1, 1, steps=sidelen)])
    return torch.stack(torch.meshgrid(*tensors, indexing='ij'), dim=-1).reshape(-1, dim)


def sobel_gradients(image):
    """image (1, 1, S, S) -> (S * S, 2): its Sobel derivatives along rows and columns, edges replicated."""
    sobel = torch.tensor([[-1., 0., 1.], [-2., 0., 2.], [-1., 0., 1.]])
    kernels = torch.stack([sobel.t(), sobel]).unsqueeze(1)   # (2, 1, 3, 3)
    grads = F.conv2d(F.pad(image, (1, 1, 1, 1), mode='replicate'), kernels)
    return grads.permute(0, 2, 3, 1).reshape(-1, 2)


def make_model():
    return Siren(in_features=2, hidden_features=16, hidden_layers=2, out_features=1)


def fit_gradients(model, image, steps, lr=1e-3):
    coords = get_mgrid(image.shape[-1])
    gt_grads = sobel_gradients(image)
    optim = torch.optim.Adam(lr=lr, params=model.parameters())
    log = []
    for _ in range(steps):
        model_output, coords_in = model(coords)
        image_grad = gradient(model_output, coords_in)
        loss = ((image_grad - gt_grads) ** 2).mean()
        optim.zero_grad()
        loss.backward()
        optim.step()
        log.append(loss.item())
    model_output, coords_in = model(coords)
    image_laplacian = laplace(model_output, coords_in)
    return log, model_output.detach().numpy(), image_laplacian.detach().numpy()
'''


FOURIER_FEATURES = '''
class GaussianFourierFeatureTransform(nn.Module):
    """Images (B, C, W, H) -> (B, 2 * mapping_size, W, H): [sin(2 pi x B), cos(2 pi x B)] per pixel, B ~ N(0, scale^2)
    fixed (a buffer: saved with the state dict, never trained)."""

    def __init__(self, num_input_channels, mapping_size=16, scale=10.):
        super().__init__()
        self._num_input_channels, self._mapping_size = num_input_channels, mapping_size
        self.register_buffer('_B', torch.randn((num_input_channels, mapping_size)) * scale)

    def forward(self, x):
        assert x.dim() == 4, 'Expected 4D input (got {}D input)'.format(x.dim())
        batches, channels, width, height = x.shape
        x = x.permute(0, 2, 3, 1).reshape(batches * width * height, channels)
        x = x @ self._B.to(x.device)
        x = x.view(batches, width, height, self._mapping_size).permute(0, 3, 1, 2)
        x = 2 * math.pi * x
        return torch.cat([torch.sin(x), torch.cos(x)], dim=1)


def coordinate_net(in_channels, hidden=16):
    return nn.Sequential(
        nn.Conv2d(in_channels, hidden, kernel_size=1), nn.ReLU(), nn.BatchNorm2d(hidden),
        nn.Conv2d(hidden, hidden, kernel_size=1), nn.ReLU(), nn.BatchNorm2d(hidden),
        nn.Conv2d(hidden, 3, kernel_size=1), nn.Sigmoid())


def make_model(mapping):
    if mapping == 'none':
        return coordinate_net(2)
    return nn.Sequential(GaussianFourierFeatureTransform(2, 16, scale=10.), coordinate_net(32))


def train(model, target, steps, lr=1e-2):
    side = target.shape[-1]
    xy = torch.stack(torch.meshgrid(torch.linspace(0, 1, side), torch.linspace(0, 1, side), indexing='ij'))
    xy = xy.unsqueeze(0)                                  # (1, 2, side, side)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.mse_loss(model(xy), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
'''


HASH_GRID = '''
BOX_OFFSETS = torch.tensor([[[i, j, k] for i in [0, 1] for j in [0, 1] for k in [0, 1]]])


def hash(coords, log2_hashmap_size, use_mask=False):
    """Integer corners (..., 3) int64 -> table rows (...,): XOR of coordinate * prime, wrapping in 64 bits."""
    primes = [1, 2654435761, 805459861, 3674653429, 2097192037, 1434869437, 2165219737]
    xor_result = torch.zeros_like(coords)[..., 0]
    for i in range(coords.shape[-1]):
        xor_result ^= coords[..., i] * primes[i]
    if use_mask:
        return torch.tensor((1 << log2_hashmap_size) - 1).to(xor_result.device) & xor_result
    return xor_result % (2 ** log2_hashmap_size)


def get_voxel_vertices(xyz, bounding_box, resolution, log2_hashmap_size, use_mask):
    box_min, box_max = bounding_box
    keep_mask = xyz == torch.max(torch.min(xyz, box_max), box_min)
    if not torch.all(xyz <= box_max) or not torch.all(xyz >= box_min):
        xyz = torch.clamp(xyz, min=box_min, max=box_max)
    grid_size = (box_max - box_min) / resolution
    bottom_left = torch.floor((xyz - box_min) / grid_size)
    bottom_left_idx = bottom_left.int()
    voxel_min_vertex = bottom_left * grid_size + box_min
    voxel_max_vertex = voxel_min_vertex + torch.tensor([1.0, 1.0, 1.0]) * grid_size
    voxel_indices = bottom_left_idx.unsqueeze(1) + BOX_OFFSETS            # (B, 8, 3) int64
    return voxel_min_vertex, voxel_max_vertex, hash(voxel_indices, log2_hashmap_size, use_mask), keep_mask


class HashEmbedder(nn.Module):
    def __init__(self, bounding_box, n_levels=4, n_features_per_level=2, log2_hashmap_size=6,
                 base_resolution=2, finest_resolution=16, use_mask=False):
        super().__init__()
        self.bounding_box, self.n_levels, self.use_mask = bounding_box, n_levels, use_mask
        self.n_features_per_level, self.log2_hashmap_size = n_features_per_level, log2_hashmap_size
        self.base_resolution = torch.tensor(base_resolution, dtype=torch.float32)
        self.finest_resolution = torch.tensor(finest_resolution, dtype=torch.float32)
        self.out_dim = n_levels * n_features_per_level
        self.b = torch.exp((torch.log(self.finest_resolution) - torch.log(self.base_resolution)) / (n_levels - 1))
        self.embeddings = nn.ModuleList([nn.Embedding(2 ** log2_hashmap_size, n_features_per_level)
                                         for _ in range(n_levels)])
        for i in range(n_levels):
            nn.init.uniform_(self.embeddings[i].weight, a=-0.0001, b=0.0001)

    def trilinear_interp(self, x, voxel_min_vertex, voxel_max_vertex, voxel_embedds):
        """x (B, 3), corners (B, 3), corner embeddings (B, 8, F) -> (B, F); corner k = 4 i + 2 j + l."""
        weights = (x - voxel_min_vertex) / (voxel_max_vertex - voxel_min_vertex)
        c00 = voxel_embedds[:, 0] * (1 - weights[:, 0][:, None]) + voxel_embedds[:, 4] * weights[:, 0][:, None]
        c01 = voxel_embedds[:, 1] * (1 - weights[:, 0][:, None]) + voxel_embedds[:, 5] * weights[:, 0][:, None]
        c10 = voxel_embedds[:, 2] * (1 - weights[:, 0][:, None]) + voxel_embedds[:, 6] * weights[:, 0][:, None]
        c11 = voxel_embedds[:, 3] * (1 - weights[:, 0][:, None]) + voxel_embedds[:, 7] * weights[:, 0][:, None]
        c0 = c00 * (1 - weights[:, 1][:, None]) + c10 * weights[:, 1][:, None]
        c1 = c01 * (1 - weights[:, 1][:, None]) + c11 * weights[:, 1][:, None]
        return c0 * (1 - weights[:, 2][:, None]) + c1 * weights[:, 2][:, None]

    def forward(self, x):
        x_embedded_all = []
        for i in range(self.n_levels):
            resolution = torch.floor(self.base_resolution * self.b ** i)
            voxel_min_vertex, voxel_max_vertex, hashed_voxel_indices, keep_mask = get_voxel_vertices(
                x, self.bounding_box, resolution, self.log2_hashmap_size, self.use_mask)
            voxel_embedds = self.embeddings[i](hashed_voxel_indices)
            x_embedded_all.append(self.trilinear_interp(x, voxel_min_vertex, voxel_max_vertex, voxel_embedds))
        keep_mask = keep_mask.sum(dim=-1) == keep_mask.shape[-1]
        return torch.cat(x_embedded_all, dim=-1), keep_mask


class HashField(nn.Module):
    def __init__(self, use_mask=False):
        super().__init__()
        box = (torch.tensor([-1.0, -1.0, -1.0]), torch.tensor([1.0, 1.0, 1.0]))
        self.embed = HashEmbedder(box, use_mask=use_mask)
        self.mlp = nn.Sequential(nn.Linear(self.embed.out_dim, 16), nn.ReLU(), nn.Linear(16, 1))

    def forward(self, x):
        features, keep_mask = self.embed(x)
        return self.mlp(features).squeeze(-1), keep_mask


def make_model(use_mask):
    return HashField(use_mask)


def train(model, points, values, steps, lr=1e-2):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.99), eps=1e-15)
    log = []
    for _ in range(steps):
        prediction, keep_mask = model(points)
        loss = F.mse_loss(prediction, values)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        log.append((loss.item(), int(keep_mask.sum())))
    return log
'''

PROGRAMS = (NERF, SIREN, FOURIER_FEATURES, HASH_GRID)


def _twins(source: str, *args: Any) -> tuple:
    return _twin_models(source, *args, imports=(TORCH_IMPORTS, MINIGRAD_IMPORTS))


def test_the_programs_differ_only_in_their_imports() -> None:
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. NeRF


def test_nerf_volume_rendering_and_hierarchical_sampling(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    side = 6
    image = rng.random((side, side, 3)).astype(np.float32)
    pose = np.concatenate([np.eye(3), [[0.1], [-0.2], [4.0]]], axis=1).astype(np.float32)
    picks = [rng.choice(side * side, size=8, replace=False).tolist() for _ in range(3)]
    torch_program, torch_nets, mg_program, mg_nets, initial = _twins(NERF)
    _shared_draws(monkeypatch, torch, seed=1)
    expected = torch_program["train"](torch_nets, torch.from_numpy(image), torch.from_numpy(pose), picks)
    mg_torch = mg_program["torch"]
    log = mg_program["train"](mg_nets, mg_torch.from_numpy(image), mg_torch.from_numpy(pose), picks)
    for step, (ours, theirs) in enumerate(zip(log, expected)):
        for key in ("loss", "psnr"):
            np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5, err_msg=f"{key} step {step}")
        for key in ("weights", "depth", "disp", "acc", "z_samples"):
            assert ours[key].dtype == theirs[key].dtype == np.float32, key
            np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-4, atol=1e-6, err_msg=f"{key} step {step}")
        for name, grad in theirs["grads"].items():
            np.testing.assert_allclose(ours["grads"][name], grad, rtol=1e-3, atol=1e-6, err_msg=f"{name} step {step}")
    assert log[0]["weights"].shape == (8, 16)
    _assert_same_weights(torch_nets, mg_nets, initial)


# ----------------------------------------------------------------------------- 2. SIREN


def test_siren_fits_image_gradients_through_autograd_grad(torch: Any) -> None:
    side = 8
    u = np.linspace(-1, 1, side, dtype=np.float32)
    img = (np.sin(3 * u)[:, None] * np.cos(2 * u)[None, :]).astype(np.float32)[None, None]
    torch_program, torch_model, mg_program, mg_model, initial = _twins(SIREN)
    expected = torch_program["fit_gradients"](torch_model, torch.from_numpy(img), 4)
    losses, output, laplacian = mg_program["fit_gradients"](mg_model, mg_program["torch"].from_numpy(img), 4)
    np.testing.assert_allclose(losses, expected[0], rtol=1e-4)
    np.testing.assert_allclose(output, expected[1], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(laplacian, expected[2], rtol=1e-3, atol=1e-3)
    _assert_same_weights(torch_model, mg_model, initial)
    first = mg_program["make_model"]().net[1].linear.weight.numpy()   # minigrad's own uniform_ init, in bounds
    assert np.abs(first).max() <= np.sqrt(6 / 16) / 30 and np.abs(first).max() > 0.5 * np.sqrt(6 / 16) / 30


# ----------------------------------------------------------------------------- 3. Fourier features


@pytest.mark.parametrize("mapping", ["none", "gauss"])
def test_fourier_feature_network(torch: Any, mapping: str) -> None:
    rng = np.random.default_rng(0)
    target = rng.random((1, 3, 8, 8)).astype(np.float32)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(FOURIER_FEATURES, mapping)
    expected = torch_program["train"](torch_model, torch.from_numpy(target), 5)
    losses = mg_program["train"](mg_model, mg_program["torch"].from_numpy(target), 5)
    np.testing.assert_allclose(losses, expected, rtol=1e-4)
    # without the mapping, channels of the first convolution that stay positive on the [0, 1] grid pass ReLU whole,
    # so BatchNorm cancels their bias: its true gradient is 0 and Adam steps on rounding noise (and so does the mean)
    _assert_same_weights(torch_model, mg_model, initial,
                         noise_only=("0.bias", "2.running_mean") if mapping == "none" else ())


# ----------------------------------------------------------------------------- 4. hash encoding


@pytest.mark.parametrize("use_mask", [False, True])
def test_hash_grid_encoding(torch: Any, use_mask: bool) -> None:
    rng = np.random.default_rng(0)
    points = rng.uniform(-1.1, 1.1, (32, 3)).astype(np.float32)   # a few outside the box: clamped, masked
    values = np.sin(3 * points).sum(axis=1).astype(np.float32)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(HASH_GRID, use_mask)
    mg_torch = mg_program["torch"]
    corners = rng.integers(-2**40, 2**40, (5, 8, 3))   # int64 products overflow: both wrap the same way
    np.testing.assert_array_equal(mg_program["hash"](mg_torch.from_numpy(corners), 6, use_mask).numpy(),
                                  torch_program["hash"](torch.from_numpy(corners), 6, use_mask).numpy())
    expected = torch_program["train"](torch_model, torch.from_numpy(points), torch.from_numpy(values), 4)
    log = mg_program["train"](mg_model, mg_torch.from_numpy(points), mg_torch.from_numpy(values), 4)
    assert [kept for _, kept in log] == [kept for _, kept in expected]
    np.testing.assert_allclose([loss for loss, _ in log], [loss for loss, _ in expected], rtol=1e-5)
    _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- what the programs found


def test_a_python_int_beyond_an_integer_dtype_wraps_as_torch(torch: Any) -> None:
    import minigrad as mg  # noqa: PLC0415

    def cases(lib: Any) -> list:
        x = lib.tensor([1, 3, -70000], dtype=lib.int32)
        inplace = x.clone()
        inplace *= 2654435761
        xored = x.clone()
        xored ^= 2 ** 40 + 5
        return [x * 2654435761, 2654435761 - x, x % 2654435761, x // 2654435761, x & 2654435761,
                lib.bitwise_xor(x, 805459861 * 4), inplace, xored, lib.tensor([3]) * 2 ** 63,
                lib.tensor([1], dtype=lib.uint8) * -1]

    for ours, theirs in zip(cases(mg), cases(torch)):
        assert ours.dtype == theirs.numpy().dtype
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    with pytest.raises(OverflowError):   # beyond 64 bits: both refuse
        mg.tensor([1]) + 2 ** 70
    # comparisons cast the int into the dtype too, as PyTorch's (2 ** 32 + 1 is 1 in int32)
    assert (mg.tensor([1], dtype=mg.int32) == 2 ** 32 + 1).item() == (torch.tensor([1], dtype=torch.int32)
                                                                       == 2 ** 32 + 1).item() is True


def test_wrapped_python_ints_replay_under_compile() -> None:
    import minigrad as mg  # noqa: PLC0415

    def hashed(x: Any, w: Any) -> Any:
        return ((x * 2654435761 ^ 805459861 * 4) % 64).float() * w

    compiled, w = mg.compile(hashed), mg.ones(3, requires_grad=True)
    for i in range(3):   # the capture, then replays of the wrapped constants
        x = mg.tensor([1, 3, 70000 * i], dtype=mg.int32)
        np.testing.assert_array_equal(compiled(x, w).numpy(), hashed(x, w).numpy())
    assert compiled(x, w).tolist() == [37.0, 7.0, 52.0]   # torch's numbers
