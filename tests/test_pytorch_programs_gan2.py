"""Three image-to-image and style-based GAN programs, run on torch and on minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program (the helpers and the rule come from
tests/test_pytorch_programs.py): it keeps the original's PyTorch calls and habits in the same roles, with our own
names, structure and comments, tiny images, a few steps and generated data.

* ``PIX2PIX`` follows the pix2pix model of junyanz/pytorch-CycleGAN-and-pix2pix
  (https://github.com/junyanz/pytorch-CycleGAN-and-pix2pix, ``models/networks.py`` and ``pix2pix_model.py``): a
  U-Net generator built recursively from skip blocks (``Conv2d`` stride 2 + ``LeakyReLU(0.2, True)`` down,
  ``ConvTranspose2d`` + ``ReLU(True)`` up, ``torch.cat([x, self.model(x)], 1)`` skips, ``BatchNorm2d`` with
  ``bias=False`` convolutions, ``Dropout(0.5)`` in the decoder, ``Tanh``), a PatchGAN discriminator on
  ``torch.cat((real_A, fake_B), 1)``, a ``GANLoss`` module whose labels are ``register_buffer``\\ s expanded with
  ``expand_as`` into ``BCEWithLogitsLoss``, ``λ·L1``, one ``Adam(betas=(0.5, 0.999))`` per network,
  ``set_requires_grad`` toggling of D's parameters around the generator step, and ``init_weights`` with
  ``normal_(0, 0.02)`` picked by class name through ``net.apply``; the dropout masks are shared draws;
* ``CYCLE_GAN`` follows the CycleGAN model of the same repository (``cycle_gan_model.py``, ``util/image_pool.py``):
  ResNet-block generators (``ReflectionPad2d`` + ``InstanceNorm2d`` made by ``functools.partial``, which also
  decides ``use_bias``, ``ConvTranspose2d(output_padding=1)`` up), LSGAN (``MSELoss``) adversarial losses, cycle and
  identity ``L1Loss``, a history ``ImagePool`` whose 50% replacement reads ``torch.rand``/``torch.randint`` (shared
  draws), ``Adam(itertools.chain(G_A.parameters(), G_B.parameters()))``, ``LambdaLR`` with the linear-decay rule,
  ``fake.detach()`` in the discriminator step;
* ``STYLE_GAN`` is StyleGAN2 cut small, after rosinality/stylegan2-pytorch
  (https://github.com/rosinality/stylegan2-pytorch, ``model.py`` and ``train.py``): equalized-learning-rate
  ``EqualLinear``/``EqualConv2d`` (weights ``randn`` scaled by ``1/sqrt(fan_in)`` at run time, the mapping network's
  ``lr_mul``), ``PixelNorm`` with ``torch.rsqrt``, a constant input, modulated and demodulated convolutions run as
  one grouped ``F.conv2d`` (weights ``(B*out, in, k, k)``, input viewed as ``(1, B*in, H, W)``, ``groups=B``),
  ``NoiseInjection`` (a learned scale on shared noise), ``ToRGB`` skips upsampled by ``F.interpolate``, a
  discriminator with the minibatch standard deviation (``var(0, unbiased=False)``, ``mean([2, 3, 4],
  keepdims=True)``, ``repeat``), the non-saturating logistic losses by ``F.softplus``, lazy R1 regularisation by
  ``torch.autograd.grad(create_graph=True)`` on real images (``real_image.requires_grad = True``) with the
  ``0 * real_pred[0]`` trick, style mixing (``torch.randn(2, B, D).unbind(0)``, a ``torch.randint`` injection
  index, ``unsqueeze(1).repeat`` and ``cat`` of the per-layer styles), lazy path-length regularisation (a second
  ``autograd.grad(create_graph=True)``, this one through the grouped modulated convolutions to the latents, with
  ``randn_like`` noise and a running mean kept by ``detach()``), the lazy-regularisation Adam betas
  ``(0 ** ratio, 0.99 ** ratio)``, an EMA generator made with ``copy.deepcopy`` and moved by
  ``mul_``/``add_(alpha=)`` under ``no_grad``, and a truncated sample from it around ``mean_latent``; in float32
  and float64.

Losses are compared step by step and every final weight and buffer (float32 to ~1e-5, float64 to ~1e-10).

What the programs found: every loss, gradient, schedule and weight agreed with torch on the first run (float32 and
float64, second-order gradients included). Not bugs: CycleGAN's convolutions keep their bias before an
``InstanceNorm2d(affine=False)`` (its ``use_bias`` rule), which subtracts it again, so those biases' true gradient is
0 and their Adam steps follow rounding noise (compared as ``noise_only``). Where the originals write
``p.data.mul_(...)`` or ``torch.unsqueeze(image.data, 0)`` these use ``no_grad`` and ``detach()``, minigrad's
``.data`` being the array (README). One leniency kept: torch's ``Adam`` refuses int betas such as ``(0, 0.99)``
("betas must be either both floats or both Tensors"), minigrad's takes them; the program uses float ratios, as
rosinality's does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import MINIGRAD_IMPORTS, TORCH_IMPORTS, _assert_same_weights, _twin_models
from tests.test_pytorch_programs_flow import _lean_torch  # noqa: F401 - autouse: torch lean, _dynamo imported in setup
from tests.test_pytorch_programs_generative import _shared_draws
from tests.test_pytorch_programs_gnn import _shared_dropout

TORCH_IMPORTS_GAN = "import copy\nimport functools\nimport itertools\n" + TORCH_IMPORTS
MINIGRAD_IMPORTS_GAN = "import copy\nimport functools\nimport itertools\n" + MINIGRAD_IMPORTS


PIX2PIX = '''
def init_weights(net, init_gain=0.02):
    """N(0, init_gain) for convolution weights, N(1, init_gain) for batch-norm scales, zero shifts."""
    def init_one(m):
        kind = m.__class__.__name__
        if hasattr(m, 'weight') and (kind.find('Conv') != -1 or kind.find('Linear') != -1):
            nn.init.normal_(m.weight, 0.0, init_gain)
            if hasattr(m, 'bias') and m.bias is not None:
                nn.init.constant_(m.bias, 0.0)
        elif kind.find('BatchNorm2d') != -1:
            nn.init.normal_(m.weight, 1.0, init_gain)
            nn.init.constant_(m.bias, 0.0)
    net.apply(init_one)


class SkipBlock(nn.Module):
    """One U-Net level around an inner block: down, inner, up, and (except outermost) the input cat'ed on.

    x (B, outer, H, W) -> (B, 2 * outer, H, W), or (B, out_channels, H, W) for the outermost level."""

    def __init__(self, outer_nc, inner_nc, input_nc=None, inner=None, outermost=False, innermost=False,
                 use_dropout=False):
        super(SkipBlock, self).__init__()
        self.outermost = outermost
        use_bias = False   # BatchNorm2d follows every inner convolution
        if input_nc is None:
            input_nc = outer_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
        downrelu = nn.LeakyReLU(0.2, True)
        downnorm = nn.BatchNorm2d(inner_nc)
        uprelu = nn.ReLU(True)
        upnorm = nn.BatchNorm2d(outer_nc)
        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1)
            layers = [downconv, inner, uprelu, upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
            layers = [downrelu, downconv, uprelu, upconv, upnorm]
        else:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
            layers = [downrelu, downconv, downnorm, inner, uprelu, upconv, upnorm]
            if use_dropout:
                layers = layers + [nn.Dropout(0.5)]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """(B, input_nc, 2**downs, 2**downs) -> (B, output_nc, same) in [-1, 1]; built from the innermost level out."""

    def __init__(self, input_nc, output_nc, num_downs, ngf=4, use_dropout=True):
        super(UnetGenerator, self).__init__()
        block = SkipBlock(ngf * 4, ngf * 4, innermost=True)
        for _ in range(num_downs - 4):
            block = SkipBlock(ngf * 4, ngf * 4, inner=block, use_dropout=use_dropout)
        block = SkipBlock(ngf * 2, ngf * 4, inner=block)
        block = SkipBlock(ngf, ngf * 2, inner=block)
        self.model = SkipBlock(output_nc, ngf, input_nc=input_nc, inner=block, outermost=True)

    def forward(self, x):
        return self.model(x)


class PatchDiscriminator(nn.Module):
    """(B, input_nc, H, W) -> one real/fake logit per overlapping patch (B, 1, H', W')."""

    def __init__(self, input_nc, ndf=4, n_layers=2, norm_layer=nn.BatchNorm2d):
        super(PatchDiscriminator, self).__init__()
        use_bias = norm_layer != nn.BatchNorm2d
        kw, padw = 4, 1
        sequence = [nn.Conv2d(input_nc, ndf, kernel_size=kw, stride=2, padding=padw), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            mult_prev, mult = mult, min(2 ** n, 8)
            sequence += [nn.Conv2d(ndf * mult_prev, ndf * mult, kernel_size=kw, stride=2, padding=padw, bias=use_bias),
                         norm_layer(ndf * mult), nn.LeakyReLU(0.2, True)]
        mult_prev, mult = mult, min(2 ** n_layers, 8)
        sequence += [nn.Conv2d(ndf * mult_prev, ndf * mult, kernel_size=kw, stride=1, padding=padw, bias=use_bias),
                     norm_layer(ndf * mult), nn.LeakyReLU(0.2, True)]
        sequence += [nn.Conv2d(ndf * mult, 1, kernel_size=kw, stride=1, padding=padw)]
        self.model = nn.Sequential(*sequence)

    def forward(self, x):
        return self.model(x)


class GANLoss(nn.Module):
    """The adversarial loss of logits against a constant label tensor the shape of the prediction."""

    def __init__(self, gan_mode, target_real_label=1.0, target_fake_label=0.0):
        super(GANLoss, self).__init__()
        self.register_buffer('real_label', torch.tensor(target_real_label))
        self.register_buffer('fake_label', torch.tensor(target_fake_label))
        if gan_mode == 'lsgan':
            self.loss = nn.MSELoss()
        elif gan_mode == 'vanilla':
            self.loss = nn.BCEWithLogitsLoss()
        else:
            raise NotImplementedError('gan mode %s not implemented' % gan_mode)

    def __call__(self, prediction, target_is_real):
        target = self.real_label if target_is_real else self.fake_label
        return self.loss(prediction, target.expand_as(prediction))


def set_requires_grad(nets, requires_grad=False):
    """Freeze (or unfreeze) every parameter of one network or a list of them."""
    if not isinstance(nets, list):
        nets = [nets]
    for net in nets:
        if net is not None:
            for param in net.parameters():
                param.requires_grad = requires_grad


def make_models(input_nc=1, output_nc=2):
    net_g = UnetGenerator(input_nc, output_nc, 5)
    net_d = PatchDiscriminator(input_nc + output_nc)
    init_weights(net_g)
    init_weights(net_d)
    return net_g, net_d


def train(net_g, net_d, pairs, lambda_l1=100.0, lr=0.0002):
    """One D step then one G step per (A, B) pair; returns each step's four losses and D's last gradients."""
    criterion_gan = GANLoss('vanilla')
    criterion_l1 = torch.nn.L1Loss()
    optimizer_g = torch.optim.Adam(net_g.parameters(), lr=lr, betas=(0.5, 0.999))
    optimizer_d = torch.optim.Adam(net_d.parameters(), lr=lr, betas=(0.5, 0.999))
    history = []
    for real_a, real_b in pairs:
        fake_b = net_g(real_a)
        # the discriminator: fake pairs (detached: no gradient into G) and real pairs
        set_requires_grad(net_d, True)
        optimizer_d.zero_grad()
        fake_ab = torch.cat((real_a, fake_b), 1)
        loss_d_fake = criterion_gan(net_d(fake_ab.detach()), False)
        real_ab = torch.cat((real_a, real_b), 1)
        loss_d_real = criterion_gan(net_d(real_ab), True)
        loss_d = (loss_d_fake + loss_d_real) * 0.5
        loss_d.backward()
        optimizer_d.step()
        # the generator: fool D (whose parameters take no gradient now) and stay near the target in L1
        set_requires_grad(net_d, False)
        optimizer_g.zero_grad()
        loss_g_gan = criterion_gan(net_d(fake_ab), True)
        loss_g_l1 = criterion_l1(fake_b, real_b) * lambda_l1
        loss_g = loss_g_gan + loss_g_l1
        loss_g.backward()
        optimizer_g.step()
        history.append([loss_d_fake.item(), loss_d_real.item(), loss_g_gan.item(), loss_g_l1.item()])
    d_grads = [p.grad.clone() for p in net_d.parameters()]
    return history, d_grads
'''


CYCLE_GAN = '''
class ResnetBlock(nn.Module):
    """x + two reflection-padded 3x3 convolutions (B, dim, H, W) -> (B, dim, H, W)."""

    def __init__(self, dim, norm_layer, use_dropout, use_bias):
        super(ResnetBlock, self).__init__()
        block = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=use_bias),
                 norm_layer(dim), nn.ReLU(True)]
        if use_dropout:
            block += [nn.Dropout(0.5)]
        block += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=use_bias),
                  norm_layer(dim)]
        self.conv_block = nn.Sequential(*block)

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """(B, input_nc, H, W) -> (B, output_nc, H, W) in [-1, 1]: 7x7 stem, two stride-2 downs, residual blocks,
    two transposed-convolution ups, 7x7 head."""

    def __init__(self, input_nc, output_nc, ngf=4, norm_layer=nn.BatchNorm2d, n_blocks=2, n_downsampling=2):
        super(ResnetGenerator, self).__init__()
        if type(norm_layer) == functools.partial:
            use_bias = norm_layer.func == nn.InstanceNorm2d
        else:
            use_bias = norm_layer == nn.InstanceNorm2d
        model = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0, bias=use_bias),
                 norm_layer(ngf), nn.ReLU(True)]
        for i in range(n_downsampling):
            mult = 2 ** i
            model += [nn.Conv2d(ngf * mult, ngf * mult * 2, kernel_size=3, stride=2, padding=1, bias=use_bias),
                      norm_layer(ngf * mult * 2), nn.ReLU(True)]
        mult = 2 ** n_downsampling
        for i in range(n_blocks):
            model += [ResnetBlock(ngf * mult, norm_layer=norm_layer, use_dropout=False, use_bias=use_bias)]
        for i in range(n_downsampling):
            mult = 2 ** (n_downsampling - i)
            model += [nn.ConvTranspose2d(ngf * mult, int(ngf * mult / 2), kernel_size=3, stride=2, padding=1,
                                         output_padding=1, bias=use_bias),
                      norm_layer(int(ngf * mult / 2)), nn.ReLU(True)]
        model += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, x):
        return self.model(x)


class PatchDiscriminator(nn.Module):
    """(B, input_nc, H, W) -> per-patch scores (B, 1, H', W'), instance-normalised."""

    def __init__(self, input_nc, ndf=4, norm_layer=nn.BatchNorm2d):
        super(PatchDiscriminator, self).__init__()
        use_bias = type(norm_layer) == functools.partial and norm_layer.func == nn.InstanceNorm2d
        self.model = nn.Sequential(
            nn.Conv2d(input_nc, ndf, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, kernel_size=4, stride=1, padding=1, bias=use_bias), norm_layer(ndf * 2),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, 1, kernel_size=4, stride=1, padding=1))

    def forward(self, x):
        return self.model(x)


class ImagePool():
    """A history of generated images: once full, each new image is, with probability 1/2, swapped for a random
    stored one (which is returned instead), so D also sees older fakes."""

    def __init__(self, pool_size):
        self.pool_size = pool_size
        self.num_imgs = 0
        self.images = []

    def query(self, images):
        if self.pool_size == 0:
            return images
        return_images = []
        for image in images:
            image = torch.unsqueeze(image.detach(), 0)
            if self.num_imgs < self.pool_size:
                self.num_imgs = self.num_imgs + 1
                self.images.append(image)
                return_images.append(image)
            elif torch.rand(1).item() > 0.5:
                random_id = torch.randint(0, self.pool_size, (1,)).item()
                tmp = self.images[random_id].clone()
                self.images[random_id] = image
                return_images.append(tmp)
            else:
                return_images.append(image)
        return torch.cat(return_images, 0)


def make_models(channels=2):
    norm_layer = functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    return (ResnetGenerator(channels, channels, norm_layer=norm_layer),
            ResnetGenerator(channels, channels, norm_layer=norm_layer),
            PatchDiscriminator(channels, norm_layer=norm_layer),
            PatchDiscriminator(channels, norm_layer=norm_layer))


def set_requires_grad(nets, requires_grad=False):
    for net in nets:
        for param in net.parameters():
            param.requires_grad = requires_grad


def train(net_g_a, net_g_b, net_d_a, net_d_b, batches, n_epochs=2, n_epochs_decay=3, lr=0.0002,
          lambda_a=10.0, lambda_b=10.0, lambda_idt=0.5, pool_size=3):
    """G_A: A -> B judged by D_A, G_B: B -> A judged by D_B; one G step then one D step per batch, one scheduler
    step per batch (an "epoch" here). Returns the losses of each step and the learning rates."""
    criterion_gan = nn.MSELoss()
    criterion_cycle = torch.nn.L1Loss()
    criterion_idt = torch.nn.L1Loss()
    fake_a_pool, fake_b_pool = ImagePool(pool_size), ImagePool(pool_size)
    optimizer_g = torch.optim.Adam(itertools.chain(net_g_a.parameters(), net_g_b.parameters()), lr=lr,
                                   betas=(0.5, 0.999))
    optimizer_d = torch.optim.Adam(itertools.chain(net_d_a.parameters(), net_d_b.parameters()), lr=lr,
                                   betas=(0.5, 0.999))

    def lambda_rule(epoch):
        return 1.0 - max(0, epoch + 1 - n_epochs) / float(n_epochs_decay + 1)

    schedulers = [optim.lr_scheduler.LambdaLR(o, lr_lambda=lambda_rule) for o in (optimizer_g, optimizer_d)]

    def gan_loss(prediction, is_real):
        target = torch.ones_like(prediction) if is_real else torch.zeros_like(prediction)
        return criterion_gan(prediction, target)

    def backward_d_basic(net_d, real, fake):
        loss_d_real = gan_loss(net_d(real), True)
        loss_d_fake = gan_loss(net_d(fake.detach()), False)
        loss_d = (loss_d_real + loss_d_fake) * 0.5
        loss_d.backward()
        return loss_d

    history, rates = [], []
    for real_a, real_b in batches:
        fake_b = net_g_a(real_a)
        rec_a = net_g_b(fake_b)
        fake_a = net_g_b(real_b)
        rec_b = net_g_a(fake_a)
        set_requires_grad([net_d_a, net_d_b], False)
        optimizer_g.zero_grad()
        idt_a = net_g_a(real_b)   # G_A fed a B image should leave it as it is (A and B have the same channels)
        loss_idt_a = criterion_idt(idt_a, real_b) * lambda_b * lambda_idt
        idt_b = net_g_b(real_a)
        loss_idt_b = criterion_idt(idt_b, real_a) * lambda_a * lambda_idt
        loss_g_a = gan_loss(net_d_a(fake_b), True)
        loss_g_b = gan_loss(net_d_b(fake_a), True)
        loss_cycle_a = criterion_cycle(rec_a, real_a) * lambda_a
        loss_cycle_b = criterion_cycle(rec_b, real_b) * lambda_b
        loss_g = loss_g_a + loss_g_b + loss_cycle_a + loss_cycle_b + loss_idt_a + loss_idt_b
        loss_g.backward()
        optimizer_g.step()
        set_requires_grad([net_d_a, net_d_b], True)
        optimizer_d.zero_grad()
        loss_d_a = backward_d_basic(net_d_a, real_b, fake_b_pool.query(fake_b))
        loss_d_b = backward_d_basic(net_d_b, real_a, fake_a_pool.query(fake_a))
        optimizer_d.step()
        for scheduler in schedulers:
            scheduler.step()
        rates.append(optimizer_g.param_groups[0]['lr'])
        history.append([loss.item() for loss in (loss_g_a, loss_g_b, loss_cycle_a, loss_cycle_b, loss_idt_a,
                                                 loss_idt_b, loss_d_a, loss_d_b)])
    return history, rates
'''


STYLE_GAN = """
def fused_leaky_relu(x, bias, negative_slope=0.2, scale=2 ** 0.5):
    \"\"\"leaky_relu(x + bias) * sqrt(2), the bias (C,) on dim 1 of x (B, C, ...).\"\"\"
    rest_dim = [1] * (x.ndim - bias.ndim - 1)
    return F.leaky_relu(x + bias.view(1, bias.shape[0], *rest_dim), negative_slope=negative_slope) * scale


class FusedLeakyReLU(nn.Module):
    def __init__(self, channel):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channel))

    def forward(self, x):
        return fused_leaky_relu(x, self.bias)


class PixelNorm(nn.Module):
    def forward(self, x):
        return x * torch.rsqrt(torch.mean(x ** 2, dim=1, keepdim=True) + 1e-8)


class EqualLinear(nn.Module):
    \"\"\"A linear layer whose N(0, 1) weights are scaled by lr_mul / sqrt(in_dim) at every call (equalized learning
    rate); lr_mul < 1 also slows the bias. (B, in_dim) -> (B, out_dim).\"\"\"

    def __init__(self, in_dim, out_dim, bias=True, bias_init=0, lr_mul=1, activation=None):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim).div_(lr_mul))
        self.bias = nn.Parameter(torch.zeros(out_dim).fill_(bias_init)) if bias else None
        self.activation = activation
        self.scale = (1 / math.sqrt(in_dim)) * lr_mul
        self.lr_mul = lr_mul

    def forward(self, x):
        if self.activation:
            return fused_leaky_relu(F.linear(x, self.weight * self.scale), self.bias * self.lr_mul)
        return F.linear(x, self.weight * self.scale, bias=self.bias * self.lr_mul)


class EqualConv2d(nn.Module):
    \"\"\"Conv2d with N(0, 1) weights scaled by 1/sqrt(in_channel * k * k) at every call.\"\"\"

    def __init__(self, in_channel, out_channel, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channel, in_channel, kernel_size, kernel_size))
        self.scale = 1 / math.sqrt(in_channel * kernel_size ** 2)
        self.stride, self.padding = stride, padding
        self.bias = nn.Parameter(torch.zeros(out_channel)) if bias else None

    def forward(self, x):
        return F.conv2d(x, self.weight * self.scale, bias=self.bias, stride=self.stride, padding=self.padding)


class ModulatedConv2d(nn.Module):
    \"\"\"x (B, in, H, W) and style (B, style_dim) -> (B, out, H', W'): each sample's weights are the shared
    weights scaled per input channel by its style (and, demodulated, renormalised per output channel), and all
    B convolutions run as one grouped convolution.\"\"\"

    def __init__(self, in_channel, out_channel, kernel_size, style_dim, demodulate=True, upsample=False):
        super().__init__()
        self.kernel_size, self.in_channel, self.out_channel = kernel_size, in_channel, out_channel
        self.upsample, self.demodulate = upsample, demodulate
        self.scale = 1 / math.sqrt(in_channel * kernel_size ** 2)
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(1, out_channel, in_channel, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_channel, bias_init=1)

    def forward(self, x, style):
        batch, in_channel, height, width = x.shape
        style = self.modulation(style).view(batch, 1, in_channel, 1, 1)
        weight = self.scale * self.weight * style                       # (B, out, in, k, k)
        if self.demodulate:
            demod = torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8)    # (B, out)
            weight = weight * demod.view(batch, self.out_channel, 1, 1, 1)
        weight = weight.view(batch * self.out_channel, in_channel, self.kernel_size, self.kernel_size)
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode='nearest')
            height, width = 2 * height, 2 * width
        x = x.view(1, batch * in_channel, height, width)
        out = F.conv2d(x, weight, padding=self.padding, groups=batch)
        _, _, height, width = out.shape
        return out.view(batch, self.out_channel, height, width)


class NoiseInjection(nn.Module):
    \"\"\"image + a learned per-channel scale times one noise map per sample, (B, 1, H, W).\"\"\"

    def __init__(self, channel):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, channel, 1, 1))

    def forward(self, image, noise=None):
        if noise is None:
            batch, _, height, width = image.shape
            noise = torch.randn(batch, 1, height, width, dtype=image.dtype, device=image.device)
        return image + self.weight * noise


class ConstantInput(nn.Module):
    def __init__(self, channel, size=4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channel, size, size))

    def forward(self, style):
        return self.input.repeat(style.shape[0], 1, 1, 1)


class StyledConv(nn.Module):
    def __init__(self, in_channel, out_channel, kernel_size, style_dim, upsample=False):
        super().__init__()
        self.conv = ModulatedConv2d(in_channel, out_channel, kernel_size, style_dim, upsample=upsample)
        self.noise = NoiseInjection(out_channel)
        self.activate = FusedLeakyReLU(out_channel)

    def forward(self, x, style, noise=None):
        return self.activate(self.noise(self.conv(x, style), noise=noise))


class ToRGB(nn.Module):
    \"\"\"A modulated 1x1 convolution (not demodulated) to image channels, plus the previous scale's image
    upsampled.\"\"\"

    def __init__(self, in_channel, image_channels, style_dim):
        super().__init__()
        self.conv = ModulatedConv2d(in_channel, image_channels, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, image_channels, 1, 1))

    def forward(self, x, style, skip=None):
        out = self.conv(x, style) + self.bias
        if skip is not None:
            out = out + F.interpolate(skip, scale_factor=2, mode='bilinear', align_corners=False)
        return out


class Generator(nn.Module):
    \"\"\"z (B, style_dim) -> images (B, image_channels, size, size) and the styles w (B, style_dim).\"\"\"

    def __init__(self, size=8, style_dim=8, n_mlp=2, channels=4, image_channels=1, lr_mlp=0.01):
        super().__init__()
        layers = [PixelNorm()]
        for _ in range(n_mlp):
            layers.append(EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activation='fused_lrelu'))
        self.style = nn.Sequential(*layers)
        self.input = ConstantInput(channels)
        self.conv1 = StyledConv(channels, channels, 3, style_dim)
        self.to_rgb1 = ToRGB(channels, image_channels, style_dim)
        self.convs, self.to_rgbs = nn.ModuleList(), nn.ModuleList()
        self.style_dim, self.n_latent = style_dim, int(math.log(size, 2)) * 2 - 2
        resolution = 4
        while resolution < size:
            self.convs.append(StyledConv(channels, channels, 3, style_dim, upsample=True))
            self.convs.append(StyledConv(channels, channels, 3, style_dim))
            self.to_rgbs.append(ToRGB(channels, image_channels, style_dim))
            resolution *= 2

    def forward(self, styles, return_latents=False, inject_index=None, truncation=1, truncation_latent=None):
        \"\"\"styles: a list of one or two z (B, style_dim); two mix at inject_index. -> images and, with
        return_latents, the per-layer styles (B, n_latent, style_dim).\"\"\"
        styles = [self.style(s) for s in styles]
        if truncation < 1:
            styles = [truncation_latent + truncation * (style - truncation_latent) for style in styles]
        if len(styles) < 2:
            latent = styles[0].unsqueeze(1).repeat(1, self.n_latent, 1)
        else:
            if inject_index is None:
                inject_index = torch.randint(1, self.n_latent, (1,)).item()
            latent = styles[0].unsqueeze(1).repeat(1, inject_index, 1)
            latent2 = styles[1].unsqueeze(1).repeat(1, self.n_latent - inject_index, 1)
            latent = torch.cat([latent, latent2], 1)
        out = self.conv1(self.input(latent), latent[:, 0])
        skip = self.to_rgb1(out, latent[:, 1])
        i = 1
        for conv1, conv2, to_rgb in zip(self.convs[::2], self.convs[1::2], self.to_rgbs):
            out = conv2(conv1(out, latent[:, i]), latent[:, i + 1])
            skip = to_rgb(out, latent[:, i + 2], skip)
            i += 2
        return skip, (latent if return_latents else None)

    def mean_latent(self, n_latent):
        latent_in = torch.randn(n_latent, self.style_dim, dtype=self.input.input.dtype)
        return self.style(latent_in).mean(0, keepdim=True)


class ConvLayer(nn.Sequential):
    def __init__(self, in_channel, out_channel, kernel_size, downsample=False, activate=True):
        layers = [nn.AvgPool2d(2)] if downsample else []
        layers.append(EqualConv2d(in_channel, out_channel, kernel_size, padding=kernel_size // 2,
                                  bias=not activate))
        if activate:
            layers.append(FusedLeakyReLU(out_channel))
        super().__init__(*layers)


class ResBlock(nn.Module):
    def __init__(self, in_channel, out_channel):
        super().__init__()
        self.conv1 = ConvLayer(in_channel, in_channel, 3)
        self.conv2 = ConvLayer(in_channel, out_channel, 3, downsample=True)
        self.skip = ConvLayer(in_channel, out_channel, 1, downsample=True, activate=False)

    def forward(self, x):
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2)


class Discriminator(nn.Module):
    \"\"\"images (B, image_channels, size, size) -> logits (B, 1), with the minibatch standard deviation as one
    more feature map before the last convolution.\"\"\"

    def __init__(self, size=8, channels=4, image_channels=1):
        super().__init__()
        convs = [ConvLayer(image_channels, channels, 1)]
        while size > 4:
            convs.append(ResBlock(channels, channels))
            size //= 2
        self.convs = nn.Sequential(*convs)
        self.stddev_group, self.stddev_feat = 2, 1
        self.final_conv = ConvLayer(channels + 1, channels, 3)
        self.final_linear = nn.Sequential(EqualLinear(channels * 4 * 4, channels, activation='fused_lrelu'),
                                          EqualLinear(channels, 1))

    def forward(self, x):
        out = self.convs(x)
        batch, channel, height, width = out.shape
        group = min(batch, self.stddev_group)
        stddev = out.view(group, -1, self.stddev_feat, channel // self.stddev_feat, height, width)
        stddev = torch.sqrt(stddev.var(0, unbiased=False) + 1e-8)
        stddev = stddev.mean([2, 3, 4], keepdims=True).squeeze(2)
        stddev = stddev.repeat(group, 1, height, width)
        out = self.final_conv(torch.cat([out, stddev], 1))
        return self.final_linear(out.view(batch, -1))


def make_models():
    return Generator(), Discriminator()


def requires_grad(model, flag=True):
    for p in model.parameters():
        p.requires_grad = flag


def accumulate(model1, model2, decay=0.999):
    \"\"\"model1's parameters moved towards model2's: p1 = decay * p1 + (1 - decay) * p2.\"\"\"
    par1, par2 = dict(model1.named_parameters()), dict(model2.named_parameters())
    with torch.no_grad():
        for k in par1.keys():
            par1[k].mul_(decay).add_(par2[k], alpha=1 - decay)


def d_logistic_loss(real_pred, fake_pred):
    return F.softplus(-real_pred).mean() + F.softplus(fake_pred).mean()


def d_r1_loss(real_pred, real_image):
    grad_real, = torch.autograd.grad(outputs=real_pred.sum(), inputs=real_image, create_graph=True)
    return grad_real.pow(2).reshape(grad_real.shape[0], -1).sum(1).mean()


def g_nonsaturating_loss(fake_pred):
    return F.softplus(-fake_pred).mean()


def g_path_regularize(fake_image, latents, mean_path_length, decay=0.01):
    \"\"\"How far the image moves per unit of latent, pulled towards its running mean (path-length penalty).\"\"\"
    noise = torch.randn_like(fake_image) / math.sqrt(fake_image.shape[2] * fake_image.shape[3])
    grad, = torch.autograd.grad(outputs=(fake_image * noise).sum(), inputs=latents, create_graph=True)
    path_lengths = torch.sqrt(grad.pow(2).sum(2).mean(1))
    path_mean = mean_path_length + decay * (path_lengths.mean() - mean_path_length)
    path_penalty = (path_lengths - path_mean).pow(2).mean()
    return path_penalty, path_mean.detach(), path_lengths


def mixing_noise(batch, latent_dim, prob, dtype):
    \"\"\"One z per sample, or (with probability prob) two to mix.\"\"\"
    if prob > 0 and torch.rand(1).item() < prob:
        return torch.randn(2, batch, latent_dim, dtype=dtype).unbind(0)
    return [torch.randn(batch, latent_dim, dtype=dtype)]


def train(generator, discriminator, images, lr=0.002, r1=10.0, d_reg_every=2, g_reg_every=2, mixing=0.5,
          path_regularize=2.0, path_batch_shrink=2, ema_decay=0.9):
    \"\"\"Per batch of real images: a logistic D step, every d_reg_every-th step a lazy R1 step, a non-saturating
    G step, every g_reg_every-th step a lazy path-length step, and the EMA update. Returns the losses of each
    step and the EMA generator.\"\"\"
    g_ema = copy.deepcopy(generator)
    g_ema.eval()
    accumulate(g_ema, generator, 0)
    g_reg_ratio, d_reg_ratio = g_reg_every / (g_reg_every + 1), d_reg_every / (d_reg_every + 1)
    g_optim = optim.Adam(generator.parameters(), lr=lr * g_reg_ratio, betas=(0 ** g_reg_ratio, 0.99 ** g_reg_ratio))
    d_optim = optim.Adam(discriminator.parameters(), lr=lr * d_reg_ratio,
                         betas=(0 ** d_reg_ratio, 0.99 ** d_reg_ratio))
    dtype = next(generator.parameters()).dtype
    mean_path_length = 0
    history = []
    for i, real_image in enumerate(images):
        batch = real_image.shape[0]
        requires_grad(generator, False)
        requires_grad(discriminator, True)
        fake_image, _ = generator(mixing_noise(batch, generator.style_dim, mixing, dtype))
        fake_pred, real_pred = discriminator(fake_image), discriminator(real_image)
        d_loss = d_logistic_loss(real_pred, fake_pred)
        discriminator.zero_grad()
        d_loss.backward()
        d_optim.step()
        losses = [d_loss.item(), real_pred.mean().item(), fake_pred.mean().item()]
        if i % d_reg_every == 0:
            real_image.requires_grad = True
            real_pred = discriminator(real_image)
            r1_loss = d_r1_loss(real_pred, real_image)
            discriminator.zero_grad()
            (r1 / 2 * r1_loss * d_reg_every + 0 * real_pred[0]).backward()
            d_optim.step()
            losses.append(r1_loss.item())
        requires_grad(generator, True)
        requires_grad(discriminator, False)
        fake_image, _ = generator(mixing_noise(batch, generator.style_dim, mixing, dtype))
        g_loss = g_nonsaturating_loss(discriminator(fake_image))
        generator.zero_grad()
        g_loss.backward()
        g_optim.step()
        losses.append(g_loss.item())
        if i % g_reg_every == 0:
            path_batch_size = max(1, batch // path_batch_shrink)
            fake_image, latents = generator(mixing_noise(path_batch_size, generator.style_dim, mixing, dtype),
                                            return_latents=True)
            path_loss, mean_path_length, path_lengths = g_path_regularize(fake_image, latents, mean_path_length)
            generator.zero_grad()
            weighted_path_loss = path_regularize * g_reg_every * path_loss
            if path_batch_shrink:
                weighted_path_loss += 0 * fake_image[0, 0, 0, 0]
            weighted_path_loss.backward()
            g_optim.step()
            losses += [path_loss.item(), mean_path_length.item(), path_lengths.mean().item()]
        accumulate(g_ema, generator, ema_decay)
        history.append(losses)
    with torch.no_grad():
        mean = g_ema.mean_latent(16)
        sample, _ = g_ema([torch.randn(4, g_ema.style_dim, dtype=dtype)], truncation=0.7, truncation_latent=mean)
    return history, g_ema, sample
"""

PROGRAMS = (PIX2PIX, CYCLE_GAN, STYLE_GAN)


def _twins(source: str, *args: Any, **kwargs: Any) -> tuple:
    return _twin_models(source, *args, imports=(TORCH_IMPORTS_GAN, MINIGRAD_IMPORTS_GAN), factory="make_models",
                        **kwargs)


def _smooth_images(count: int, channels: int, size: int, seed: int) -> np.ndarray:
    """(count, channels, size, size) float32 in (-1, 1): random 4x4 fields blown up by nearest repetition and
    blurred once, through tanh."""
    rng = np.random.default_rng(seed)
    coarse = rng.standard_normal((count, channels, 4, 4))
    fine = coarse.repeat(size // 4, axis=2).repeat(size // 4, axis=3)
    fine = (fine + np.roll(fine, 1, -1) + np.roll(fine, 1, -2)) / 3
    return np.tanh(fine).astype(np.float32)


def _assert_close_weights(torch_model: Any, mg_model: Any, rtol: float, atol: float) -> None:
    ours = {k: v.numpy() for k, v in mg_model.state_dict().items()}
    theirs = {k: v.detach().numpy() for k, v in torch_model.state_dict().items()}
    assert ours.keys() == theirs.keys()
    for name, value in theirs.items():
        assert ours[name].dtype == value.dtype, name
        np.testing.assert_allclose(ours[name], value, rtol=rtol, atol=atol, err_msg=name)


def _biases_before_instance_norm(model: Any) -> tuple:
    """Names of the convolution biases that an ``InstanceNorm2d(affine=False)`` right after subtracts again: their
    true gradient is 0, so their Adam steps follow float rounding noise (CycleGAN's ``use_bias`` keeps them)."""
    names = []
    for prefix, module in model.named_modules():
        children = list(module.named_children())
        for (name, layer), (_, after) in zip(children, children[1:]):
            if type(after).__name__ == "InstanceNorm2d" and getattr(layer, "bias", None) is not None:
                names.append(f"{prefix}.{name}.bias".lstrip("."))
    return tuple(names)


def test_the_programs_differ_only_in_their_imports() -> None:
    assert TORCH_IMPORTS_GAN.splitlines()[:3] == MINIGRAD_IMPORTS_GAN.splitlines()[:3]
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. pix2pix


def test_pix2pix_unet_patchgan(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three D + G steps on 32x32 pairs; the decoder's Dropout(0.5) masks are shared draws."""
    images_a = _smooth_images(6, 1, 32, 0)
    images_b = np.concatenate([images_a ** 2 * 2 - 1, -images_a], axis=1)
    torch_program, torch_models, mg_program, mg_models, initials = _twins(PIX2PIX)
    _shared_dropout(monkeypatch, torch, 1)
    mg = mg_program["torch"]
    history, d_grads = mg_program["train"](*mg_models, [(mg.from_numpy(images_a[i:i + 2]),
                                                         mg.from_numpy(images_b[i:i + 2])) for i in (0, 2, 4)])
    expected, expected_grads = torch_program["train"](*torch_models, [
        (torch.from_numpy(images_a[i:i + 2]), torch.from_numpy(images_b[i:i + 2])) for i in (0, 2, 4)])
    np.testing.assert_allclose(history, expected, rtol=1e-5, atol=1e-6)
    # D's gradients are still those of its own step: the G step left its frozen parameters alone
    for ours, theirs in zip(d_grads, expected_grads):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-6)
    for torch_model, mg_model, initial in zip(torch_models, mg_models, initials):
        _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- 2. CycleGAN


def test_cycle_gan_with_image_pool_and_linear_decay(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three G + D steps on 12x12 two-channel images; the pool's coin flips and picks are shared draws."""
    images_a = _smooth_images(6, 2, 12, 2)
    images_b = np.flip(_smooth_images(6, 2, 12, 3), -1).copy()
    torch_program, torch_models, mg_program, mg_models, initials = _twins(CYCLE_GAN)
    _shared_draws(monkeypatch, torch, 4)
    mg = mg_program["torch"]
    history, rates = mg_program["train"](*mg_models, [(mg.from_numpy(images_a[i:i + 2]),
                                                       mg.from_numpy(images_b[i:i + 2])) for i in range(0, 6, 2)])
    expected, expected_rates = torch_program["train"](*torch_models, [
        (torch.from_numpy(images_a[i:i + 2]), torch.from_numpy(images_b[i:i + 2])) for i in range(0, 6, 2)])
    np.testing.assert_allclose(history, expected, rtol=1e-5, atol=1e-6)
    assert rates == pytest.approx(expected_rates) and rates == pytest.approx([0.0002, 0.00015, 0.0001])
    for torch_model, mg_model, initial in zip(torch_models, mg_models, initials):
        noise_only = _biases_before_instance_norm(torch_model)
        assert len(noise_only) == (9 if "Generator" in type(torch_model).__name__ else 1)
        _assert_same_weights(torch_model, mg_model, initial, noise_only=noise_only)


# ----------------------------------------------------------------------------- 3. StyleGAN-lite


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_style_gan_modulated_convolutions_and_r1(torch: Any, monkeypatch: pytest.MonkeyPatch, dtype: str) -> None:
    """Three steps (R1 at steps 0 and 2) on 8x8 images; latents and noise maps are shared draws."""
    images = _smooth_images(12, 1, 8, 5).astype(dtype)
    torch_program, torch_models, mg_program, mg_models, initials = _twins(STYLE_GAN)
    if dtype == "float64":
        for model in (*torch_models, *mg_models):
            model.double()
    _shared_draws(monkeypatch, torch, 6)
    mg = mg_program["torch"]
    history, g_ema, sample = mg_program["train"](*mg_models, [mg.from_numpy(images[i:i + 4]) for i in (0, 4, 8)])
    expected, expected_ema, expected_sample = torch_program["train"](
        *torch_models, [torch.from_numpy(images[i:i + 4]) for i in (0, 4, 8)])
    assert [len(step) for step in history] == [len(step) for step in expected] == [8, 4, 8]
    rtol, atol = (1e-5, 1e-6) if dtype == "float32" else (1e-10, 1e-12)
    for ours, theirs in zip(history, expected):
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)
    wrtol, watol = (1e-4, 1e-5) if dtype == "float32" else (1e-9, 1e-11)
    for torch_model, mg_model in zip((*torch_models, expected_ema), (*mg_models, g_ema)):
        _assert_close_weights(torch_model, mg_model, wrtol, watol)
    np.testing.assert_allclose(sample.numpy(), expected_sample.numpy(), rtol=wrtol, atol=watol)
    assert sample.shape == (4, 1, 8, 8) and str(sample.dtype).endswith(dtype)
    assert not np.array_equal(mg_models[0].input.input.detach().numpy(), initials[0]["input.input"].numpy())
