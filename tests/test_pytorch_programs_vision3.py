"""Four image programs of well-known shapes, run on torch and on minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program (the helpers and the rule come from
tests/test_pytorch_programs.py): it keeps the original's PyTorch calls in the same roles, with our own names,
structure and comments, tiny sizes, a few steps and generated images.

* ``SPATIAL_TRANSFORMER`` mirrors the whole classifier of the PyTorch tutorial "Spatial Transformer Networks"
  (https://pytorch.org/tutorials/intermediate/spatial_transformer_tutorial.html), where
  tests/test_pytorch_programs_detection.py's ``IMAGE_OPS`` only borrows its warp: a localisation ``nn.Sequential``
  (``Conv2d``, ``MaxPool2d(2, stride=2)``, ``ReLU(True)``), ``fc_loc`` whose last layer starts at the identity
  transform (``weight.zero_()``/``bias.copy_(torch.tensor([1, 0, 0, 0, 1, 0], dtype=torch.float))`` under
  ``no_grad``), ``F.affine_grid(theta, x.size())`` and ``F.grid_sample`` with ``align_corners`` both ways, the
  LeNet head (``Dropout2d``, ``F.max_pool2d``, ``x.view(-1, 40)``, ``F.dropout(training=self.training)``,
  ``F.log_softmax``), ``F.nll_loss``, ``SGD(momentum=0.5)``, and the tutorial's ``test()`` (``reduction="sum"``,
  ``output.max(1, keepdim=True)[1]``, ``pred.eq(target.view_as(pred)).sum().item()``); in float32 and float64;
* ``ESPCN`` mirrors pytorch/examples' super-resolution net (https://github.com/pytorch/examples/tree/main/
  super_resolution): ``nn.PixelShuffle`` after four convolutions initialised by ``nn.init.orthogonal_`` with
  ``calculate_gain("relu")``, trained with ``MSELoss`` and Adam on the luminance of generated images, its PSNR
  ``10 * math.log10(1 / mse.item())`` and per image by ``torch.log10``; the low-resolution inputs are made by
  ``F.pixel_unshuffle`` (a box filter: mean over the r^2 channels), which also gives a back-projection loss, and
  ``nn.PixelUnshuffle`` must undo ``F.pixel_shuffle`` exactly; in float32 and float64;
* ``FAST_STYLE`` mirrors pytorch/examples' fast neural style (https://github.com/pytorch/examples/tree/main/
  fast_neural_style; Johnson et al. 2016) with a tiny fixed random CNN in VGG-16's place: ``TransformerNet`` of
  ``ConvLayer`` (``nn.ReflectionPad2d(kernel_size // 2)`` + ``Conv2d``), ``nn.InstanceNorm2d(affine=True)``,
  residual blocks and an ``UpsampleConvLayer`` (``F.interpolate(mode="nearest", scale_factor=2)``); the loss net's
  slices returned as a ``namedtuple`` with ``requires_grad = False`` on its parameters, ``normalize_batch``
  (``batch.new_tensor(...).view(-1, 1, 1)`` and an in-place ``div_(255.0)`` on the transformer's output), Gram
  matrices ``features.bmm(features.transpose(1, 2)) / (ch * h * w)`` against ``style.repeat(batch, 1, 1, 1)``'s
  (``gram_style[:n_batch]``), content and style weights, a total-variation loss, Adam; then ``eval()`` stylising
  under ``no_grad`` with ``clamp(0, 255)``;
* ``CRNN_CTC`` mirrors meijieru/crnn.pytorch (https://github.com/meijieru/crnn.pytorch) with ``nn.CTCLoss``'s
  functional form in place of warp-ctc: a conv stack built by a nested ``convRelu(i, batchNormalization)`` with
  ``add_module('conv{0}'.format(i), ...)``, asymmetric pooling ``nn.MaxPool2d((2, 2), (2, 1), (0, 1))`` down to
  height 1, ``squeeze(2).permute(2, 0, 1)``, two ``BidirectionalLSTM`` (``recurrent.view(T * b, h)`` through a
  ``Linear``), ``weights_init`` by ``m.__class__.__name__`` and ``apply``, ``F.ctc_loss(log_softmax(2), targets,
  input_lengths, target_lengths, zero_infinity=True)`` with ``torch.IntTensor`` targets concatenated 1-D and one
  image too narrow for its text (an infinite loss, zeroed), Adam with ``betas=(0.5, 0.999)``, and greedy decoding
  (``max(2)``, ``transpose(1, 0).contiguous()``, ``torch.unique_consecutive``, blanks dropped).

Each program's losses, gradients (every step), metrics, outputs and final weights are compared, in float32 to
~1e-5 and in float64 to ~1e-10. Dropout runs with p = 0 in training (the two libraries' random streams differ).
tests/test_pytorch_programs_detection.py's ``IMAGE_OPS`` already borrows the STN warp and ESPCN's pixel shuffle,
and tests/test_pytorch_programs_interpret.py has Gatys' (optimisation-based) style transfer; the programs here are
the whole tutorial and example programs around them.

What the programs found (fixed in nn/_grid_sample.py): the spatial transformer starts at the identity warp, where
every grid point lies on a pixel centre, bilinear sampling's kink, so the last bit of each point decides which
side's slope the grid's (and so theta's) gradient takes. Its first-step gradient differed from torch's by O(1)
(float64 losses apart by 1e-4 from step 2): ``F.affine_grid`` built its pixel centres with NumPy's ``linspace``
(PyTorch: its own ``linspace(-1, 1, n) * (n - 1) / n``, in theta's dtype), and ``F.grid_sample``'s 4-D unnormalising
rounded twice where PyTorch's CPU kernel rounds once (a fused multiply-add). Also, with ``padding_mode="border"``
or ``"reflection"`` a point exactly on the border (the edge pixels' centres at the identity with
``align_corners=True``) passed the grid a gradient where PyTorch's clip passes 0. Not bugs: a convolution's bias
right before a norm layer has a zero true gradient (so has the last norm's bias in the style net's residual blocks:
the next convolution keeps a per-channel constant constant and ``in4`` removes it), so their Adam steps follow
rounding noise; the style net keeps those biases as the example has them and leaves them out of the weight
comparison, and the CRNN, whose batch norms would also carry that noise into their running means, writes
``bias=not batchNormalization``.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import MINIGRAD_IMPORTS, TORCH_IMPORTS, _twin_models
from tests.test_pytorch_programs_detection import _assert_close
from tests.test_pytorch_programs_flow import _lean_torch  # noqa: F401 - autouse: torch lean, _dynamo imported in setup

TORCH_IMPORTS_VISION3 = """\
from collections import namedtuple
""" + TORCH_IMPORTS

MINIGRAD_IMPORTS_VISION3 = """\
from collections import namedtuple
""" + MINIGRAD_IMPORTS


SPATIAL_TRANSFORMER = '''
class Net(nn.Module):
    """Digits (B, 1, 20, 20) to class log-probabilities (B, 10), read after a learned affine warp of the input."""

    def __init__(self, align_corners=False, dropout=0.5):
        super(Net, self).__init__()
        self.align_corners = align_corners
        self.dropout = dropout
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5)
        self.conv2 = nn.Conv2d(6, 10, kernel_size=5)
        self.conv2_drop = nn.Dropout2d(dropout)
        self.fc1 = nn.Linear(40, 16)
        self.fc2 = nn.Linear(16, 10)
        # the localisation net reads the image and regresses the six numbers of a 2x3 affine map
        self.localization = nn.Sequential(
            nn.Conv2d(1, 4, kernel_size=7),
            nn.MaxPool2d(2, stride=2),
            nn.ReLU(True),
            nn.Conv2d(4, 6, kernel_size=5),
            nn.MaxPool2d(2, stride=2),
            nn.ReLU(True),
        )
        self.fc_loc = nn.Sequential(nn.Linear(6 * 1 * 1, 16), nn.ReLU(True), nn.Linear(16, 3 * 2))
        with torch.no_grad():   # start at the identity warp
            self.fc_loc[2].weight.zero_()
            self.fc_loc[2].bias.copy_(torch.tensor([1, 0, 0, 0, 1, 0], dtype=torch.float))

    def stn(self, x):
        xs = self.localization(x)
        xs = xs.view(-1, 6 * 1 * 1)
        theta = self.fc_loc(xs)
        theta = theta.view(-1, 2, 3)
        grid = F.affine_grid(theta, x.size(), align_corners=self.align_corners)
        return F.grid_sample(x, grid, align_corners=self.align_corners)

    def forward(self, x):
        x = self.stn(x)
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = x.view(-1, 40)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, p=self.dropout, training=self.training)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def make_model(align_corners, dtype):
    model = Net(align_corners, dropout=0.0)
    return model.double() if dtype == "float64" else model


def train(model, images, labels, steps, lr=0.05, batch_size=8):
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.5)
    model.train()
    losses, grads = [], []
    for step in range(steps):
        start = (step * batch_size) % len(images)
        data, target = images[start:start + batch_size], labels[start:start + batch_size]
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        grads.append({name: p.grad.clone() for name, p in model.named_parameters()})
        optimizer.step()
        losses.append(loss.item())
    return losses, grads


@torch.no_grad()
def test(model, images, labels):
    model.eval()
    output = model(images)
    test_loss = F.nll_loss(output, labels, reduction="sum").item() / len(images)
    pred = output.max(1, keepdim=True)[1]
    correct = pred.eq(labels.view_as(pred)).sum().item()
    warped = model.stn(images[:4])
    return {"loss": test_loss, "correct": correct, "pred": pred, "warped": warped}
'''


ESPCN = '''
class Net(nn.Module):
    """Luminance (B, 1, H, W) to (B, 1, r H, r W): convolutions to r^2 channels, then a pixel shuffle."""

    def __init__(self, upscale_factor):
        super(Net, self).__init__()
        self.relu = nn.ReLU()
        self.conv1 = nn.Conv2d(1, 12, (5, 5), (1, 1), (2, 2))
        self.conv2 = nn.Conv2d(12, 12, (3, 3), (1, 1), (1, 1))
        self.conv3 = nn.Conv2d(12, 8, (3, 3), (1, 1), (1, 1))
        self.conv4 = nn.Conv2d(8, upscale_factor ** 2, (3, 3), (1, 1), (1, 1))
        self.pixel_shuffle = nn.PixelShuffle(upscale_factor)
        self._initialize_weights()

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = self.relu(self.conv3(x))
        return self.pixel_shuffle(self.conv4(x))

    def _initialize_weights(self):
        for conv in (self.conv1, self.conv2, self.conv3):
            nn.init.orthogonal_(conv.weight, nn.init.calculate_gain("relu"))
        nn.init.orthogonal_(self.conv4.weight)


def luminance(rgb):
    """RGB (B, 3, H, W) in [0, 1] to the Y of YCbCr (B, 1, H, W)."""
    weights = rgb.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (rgb * weights).sum(dim=1, keepdim=True)


def downscale(y, factor):
    """A box filter: each factor x factor block becomes its mean (space-to-depth, then the channel mean)."""
    return F.pixel_unshuffle(y, factor).mean(dim=1, keepdim=True)


def make_model(upscale_factor, dtype):
    model = Net(upscale_factor)
    return model.double() if dtype == "float64" else model


def train(model, batches, steps, upscale_factor, lr=0.01, back_projection=0.5):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    criterion = nn.MSELoss()
    unshuffle = nn.PixelUnshuffle(upscale_factor)
    history = {"loss": [], "psnr": []}
    grads = []
    for step in range(steps):
        target = luminance(batches[step % len(batches)])
        inputs = downscale(target, upscale_factor)
        optimizer.zero_grad()
        prediction = model(inputs)
        mse = criterion(prediction, target)
        # the prediction, box-filtered back down, should give the input again
        loss = mse + back_projection * criterion(unshuffle(prediction).mean(dim=1, keepdim=True), inputs)
        loss.backward()
        grads.append({name: p.grad.clone() for name, p in model.named_parameters()})
        optimizer.step()
        history["loss"].append(loss.item())
        history["psnr"].append(10 * math.log10(1 / mse.item()))
    return history, grads


@torch.no_grad()
def evaluate(model, images, upscale_factor):
    model.eval()
    target = luminance(images)
    features = model.conv4(model.relu(model.conv3(model.relu(model.conv2(model.relu(model.conv1(
        downscale(target, upscale_factor))))))))
    assert torch.equal(nn.PixelUnshuffle(upscale_factor)(F.pixel_shuffle(features, upscale_factor)), features)
    prediction = model(downscale(target, upscale_factor)).clamp(0, 1)
    per_image = F.mse_loss(prediction, target, reduction="none").mean(dim=(1, 2, 3))
    return {"prediction": prediction, "psnr": 10 * torch.log10(1 / per_image)}
'''


FAST_STYLE = '''
LossOutputs = namedtuple("LossOutputs", ["relu1", "relu2", "relu3"])


class LossNetwork(nn.Module):
    """A tiny fixed CNN in VGG-16's place: images (B, 3, H, W) to three ReLU feature maps."""

    def __init__(self, requires_grad=False):
        super(LossNetwork, self).__init__()
        self.slice1 = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(inplace=True))
        self.slice2 = nn.Sequential(nn.MaxPool2d(2, 2), nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(inplace=True))
        self.slice3 = nn.Sequential(nn.MaxPool2d(2, 2), nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(inplace=True))
        if not requires_grad:
            for param in self.parameters():
                param.requires_grad = False

    def forward(self, x):
        h1 = self.slice1(x)
        h2 = self.slice2(h1)
        h3 = self.slice3(h2)
        return LossOutputs(h1, h2, h3)


class ConvLayer(nn.Module):
    """Reflection padding of half the kernel, then the convolution: the size is kept (or divided by stride)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride):
        super(ConvLayer, self).__init__()
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x):
        return self.conv2d(self.reflection_pad(x))


class ResidualBlock(nn.Module):
    def __init__(self, channels):
        super(ResidualBlock, self).__init__()
        self.conv1 = ConvLayer(channels, channels, kernel_size=3, stride=1)
        self.in1 = nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = ConvLayer(channels, channels, kernel_size=3, stride=1)
        self.in2 = nn.InstanceNorm2d(channels, affine=True)
        self.relu = nn.ReLU()

    def forward(self, x):
        residual = x
        out = self.relu(self.in1(self.conv1(x)))
        out = self.in2(self.conv2(out))
        return out + residual


class UpsampleConvLayer(nn.Module):
    """Nearest-neighbour upsampling, then a ConvLayer (in place of a transposed convolution's checkerboards)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, upsample=None):
        super(UpsampleConvLayer, self).__init__()
        self.upsample = upsample
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x):
        x_in = x
        if self.upsample:
            x_in = F.interpolate(x_in, mode="nearest", scale_factor=self.upsample)
        return self.conv2d(self.reflection_pad(x_in))


class TransformerNet(nn.Module):
    """Images (B, 3, H, W) in 0..255 to stylised images of the same size (H, W even)."""

    def __init__(self):
        super(TransformerNet, self).__init__()
        self.conv1 = ConvLayer(3, 4, kernel_size=5, stride=1)
        self.in1 = nn.InstanceNorm2d(4, affine=True)
        self.conv2 = ConvLayer(4, 8, kernel_size=3, stride=2)
        self.in2 = nn.InstanceNorm2d(8, affine=True)
        self.res1 = ResidualBlock(8)
        self.res2 = ResidualBlock(8)
        self.deconv1 = UpsampleConvLayer(8, 4, kernel_size=3, stride=1, upsample=2)
        self.in4 = nn.InstanceNorm2d(4, affine=True)
        self.deconv3 = ConvLayer(4, 3, kernel_size=5, stride=1)
        self.relu = nn.ReLU()

    def forward(self, X):
        y = self.relu(self.in1(self.conv1(X)))
        y = self.relu(self.in2(self.conv2(y)))
        y = self.res1(y)
        y = self.res2(y)
        y = self.relu(self.in4(self.deconv1(y)))
        return self.deconv3(y)


def gram_matrix(y):
    (b, ch, h, w) = y.size()
    features = y.view(b, ch, w * h)
    features_t = features.transpose(1, 2)
    return features.bmm(features_t) / (ch * h * w)


def normalize_batch(batch):
    """0..255 images to ImageNet-normalised ones (in place on the batch, as the example does)."""
    mean = batch.new_tensor([0.485, 0.456, 0.406]).view(-1, 1, 1)
    std = batch.new_tensor([0.229, 0.224, 0.225]).view(-1, 1, 1)
    batch = batch.div_(255.0)
    return (batch - mean) / std


def total_variation(y):
    return (torch.sum(torch.abs(y[:, :, :, :-1] - y[:, :, :, 1:]))
            + torch.sum(torch.abs(y[:, :, :-1, :] - y[:, :, 1:, :])))


def make_model():
    return TransformerNet(), LossNetwork(requires_grad=False)


def train(transformer, vgg, batches, style, steps, content_weight=1e3, style_weight=2e3, tv_weight=3e-2, lr=1e-2):
    optimizer = optim.Adam(transformer.parameters(), lr)
    mse_loss = nn.MSELoss()
    style = style.repeat(len(batches[0]), 1, 1, 1)
    features_style = vgg(normalize_batch(style))
    gram_style = [gram_matrix(y) for y in features_style]
    transformer.train()
    history = {"content": [], "style": [], "tv": [], "total": []}
    grads = []
    for step in range(steps):
        x = batches[step % len(batches)].clone()   # normalize_batch writes into it
        n_batch = len(x)
        optimizer.zero_grad()
        y = transformer(x)
        tv_loss = tv_weight * total_variation(y)
        y = normalize_batch(y)
        x = normalize_batch(x)
        features_y = vgg(y)
        features_x = vgg(x)
        content_loss = content_weight * mse_loss(features_y.relu2, features_x.relu2)
        style_loss = 0.
        for ft_y, gm_s in zip(features_y, gram_style):
            gm_y = gram_matrix(ft_y)
            style_loss += mse_loss(gm_y, gm_s[:n_batch, :, :])
        style_loss *= style_weight
        total_loss = content_loss + style_loss + tv_loss
        total_loss.backward()
        grads.append({name: p.grad.clone() for name, p in transformer.named_parameters()})
        optimizer.step()
        for key, value in (("content", content_loss), ("style", style_loss), ("tv", tv_loss), ("total", total_loss)):
            history[key].append(value.item())
    return history, grads


def stylize(transformer, content_image):
    transformer.eval()
    with torch.no_grad():
        output = transformer(content_image.unsqueeze(0))
    return output[0].clamp(0, 255)
'''


CRNN_CTC = '''
ALPHABET = "0123456789"


class BidirectionalLSTM(nn.Module):
    """(T, b, nIn) to (T, b, nOut): a bidirectional LSTM, then one Linear applied to every step."""

    def __init__(self, nIn, nHidden, nOut):
        super(BidirectionalLSTM, self).__init__()
        self.rnn = nn.LSTM(nIn, nHidden, bidirectional=True)
        self.embedding = nn.Linear(nHidden * 2, nOut)

    def forward(self, input):
        recurrent, _ = self.rnn(input)
        T, b, h = recurrent.size()
        t_rec = recurrent.view(T * b, h)
        output = self.embedding(t_rec)   # (T * b, nOut)
        return output.view(T, b, -1)


class CRNN(nn.Module):
    """Text images (b, nc, 8, W) to per-column class scores (W / 2 + 2, b, nclass)."""

    def __init__(self, imgH, nc, nclass, nh):
        super(CRNN, self).__init__()
        assert imgH == 8, "imgH must be 8 in this cut-down net"
        ks = [3, 3, 3, 3]
        ps = [1, 1, 1, 1]
        ss = [1, 1, 1, 1]
        nm = [4, 8, 8, 12]
        cnn = nn.Sequential()

        def convRelu(i, batchNormalization=False):
            nIn = nc if i == 0 else nm[i - 1]
            nOut = nm[i]
            cnn.add_module('conv{0}'.format(i),
                           nn.Conv2d(nIn, nOut, ks[i], ss[i], ps[i], bias=not batchNormalization))
            if batchNormalization:
                cnn.add_module('batchnorm{0}'.format(i), nn.BatchNorm2d(nOut))
            cnn.add_module('relu{0}'.format(i), nn.ReLU(True))

        convRelu(0)
        cnn.add_module('pooling{0}'.format(0), nn.MaxPool2d(2, 2))                   # 4 x W/2
        convRelu(1, True)
        cnn.add_module('pooling{0}'.format(1), nn.MaxPool2d((2, 2), (2, 1), (0, 1)))  # 2 x W/2+1
        convRelu(2, True)
        cnn.add_module('pooling{0}'.format(2), nn.MaxPool2d((2, 2), (2, 1), (0, 1)))  # 1 x W/2+2
        convRelu(3)
        self.cnn = cnn
        self.rnn = nn.Sequential(BidirectionalLSTM(nm[-1], nh, nh), BidirectionalLSTM(nh, nh, nclass))

    def forward(self, input):
        conv = self.cnn(input)
        b, c, h, w = conv.size()
        assert h == 1, "the height of conv must be 1"
        conv = conv.squeeze(2)
        conv = conv.permute(2, 0, 1)   # (w, b, c)
        return self.rnn(conv)


def weights_init(m):
    classname = m.__class__.__name__
    with torch.no_grad():
        if classname.find('Conv') != -1:
            m.weight.normal_(0.0, 0.2)
        elif classname.find('BatchNorm') != -1:
            m.weight.normal_(1.0, 0.02)
            m.bias.fill_(0)


def make_model():
    crnn = CRNN(8, 1, len(ALPHABET) + 1, 8)
    crnn.apply(weights_init)
    return crnn


def encode(texts):
    """Texts to (concatenated class ids, lengths) as int32, class 0 the CTC blank."""
    ids = [ALPHABET.index(char) + 1 for text in texts for char in text]
    return torch.IntTensor(ids), torch.IntTensor([len(text) for text in texts])


def decode(log_probs, input_lengths):
    """Greedy CTC decoding: the best class per column, runs collapsed, blanks dropped."""
    _, preds = log_probs.max(2)
    preds = preds.transpose(1, 0).contiguous()
    texts = []
    for row, length in zip(preds, input_lengths.tolist()):
        collapsed = torch.unique_consecutive(row[:length])
        texts.append("".join(ALPHABET[i - 1] for i in collapsed.tolist() if i != 0))
    return texts


def train(crnn, batches, steps, lr=0.01):
    optimizer = optim.Adam(crnn.parameters(), lr=lr, betas=(0.5, 0.999))
    crnn.train()
    history, grads = [], []
    for step in range(steps):
        images, texts, widths = batches[step % len(batches)]
        targets, target_lengths = encode(texts)
        optimizer.zero_grad()
        log_probs = crnn(images).log_softmax(2)
        input_lengths = torch.IntTensor([w // 2 + 2 for w in widths])   # columns that saw the text
        loss = F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
                          zero_infinity=True)
        loss.backward()
        grads.append({name: p.grad.clone() for name, p in crnn.named_parameters()})
        optimizer.step()
        history.append(loss.item())
    return history, grads


@torch.no_grad()
def evaluate(crnn, images, texts):
    crnn.eval()
    log_probs = crnn(images).log_softmax(2)
    input_lengths = torch.IntTensor([log_probs.size(0)] * images.size(0))
    predictions = decode(log_probs, input_lengths)
    n_correct = sum(prediction == text for prediction, text in zip(predictions, texts))
    return {"log_probs": log_probs, "predictions": predictions, "accuracy": n_correct / len(texts)}
'''

PROGRAMS = (SPATIAL_TRANSFORMER, ESPCN, FAST_STYLE, CRNN_CTC)


def _twins(source: str, *args: Any, **kwargs: Any) -> tuple:
    return _twin_models(source, *args, imports=(TORCH_IMPORTS_VISION3, MINIGRAD_IMPORTS_VISION3), **kwargs)


def _assert_weights(torch_model: Any, mg_model: Any, initial: dict, rtol: float, atol: float,
                    noise_only: tuple = ()) -> None:
    """The same final weights (buffers included) in both, and they moved from ``initial``."""
    ours = {k: v.numpy() for k, v in mg_model.state_dict().items()}
    theirs = {k: v.detach().numpy() for k, v in torch_model.state_dict().items()}
    assert ours.keys() == theirs.keys()
    for name in set(ours) - set(noise_only):
        assert ours[name].dtype == theirs[name].dtype, name
        np.testing.assert_allclose(ours[name], theirs[name], rtol=rtol, atol=atol, err_msg=name)
    assert any(not np.array_equal(ours[k], initial[k].numpy()) for k in ours)


def test_the_programs_differ_only_in_their_imports() -> None:
    torch_lines, mg_lines = TORCH_IMPORTS_VISION3.splitlines(), MINIGRAD_IMPORTS_VISION3.splitlines()
    assert torch_lines[0] == mg_lines[0] == "from collections import namedtuple" and len(torch_lines) == len(mg_lines)
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# A 3x5 bitmap font: each digit's rows, left to right, "#" inked.
_FONT = {
    "0": ("###", "#.#", "#.#", "#.#", "###"), "1": (".#.", "##.", ".#.", ".#.", "###"),
    "2": ("###", "..#", "###", "#..", "###"), "3": ("###", "..#", ".##", "..#", "###"),
    "4": ("#.#", "#.#", "###", "..#", "..#"), "5": ("###", "#..", "###", "..#", "###"),
    "6": ("###", "#..", "###", "#.#", "###"), "7": ("###", "..#", ".#.", ".#.", ".#."),
    "8": ("###", "#.#", "###", "#.#", "###"), "9": ("###", "#.#", "###", "..#", "###"),
}


def _glyph(digit: str) -> np.ndarray:
    return np.array([[c == "#" for c in row] for row in _FONT[digit]], dtype=np.float64)


# ----------------------------------------------------------------------------- 1. spatial transformer


def _digits(lib: Any, dtype: str, count: int, seed: int) -> tuple:
    """(images (count, 1, 20, 20), labels (count,)): each digit drawn 2x at a random place, plus faint noise."""
    rng = np.random.default_rng(seed)
    images = rng.random((count, 1, 20, 20)) * 0.1
    labels = rng.integers(0, 10, count)
    for k, label in enumerate(labels):
        glyph = np.kron(_glyph(str(label)), np.ones((2, 2)))   # 10 x 6
        top, left = rng.integers(0, 11), rng.integers(0, 15)
        images[k, 0, top:top + 10, left:left + 6] += glyph
    return lib.from_numpy(images.astype(dtype)), lib.from_numpy(labels.astype(np.int64))


@pytest.mark.parametrize(("align_corners", "dtype", "rtol"),
                         [(False, "float32", 1e-5), (True, "float32", 1e-5), (False, "float64", 1e-10),
                          (True, "float64", 1e-10)])
def test_spatial_transformer_classifier(torch: Any, align_corners: bool, dtype: str, rtol: float) -> None:
    import minigrad as mg  # noqa: PLC0415

    torch_program, torch_model, mg_program, mg_model, initial = _twins(SPATIAL_TRANSFORMER, align_corners, dtype)
    steps = 4
    expected = torch_program["train"](torch_model, *_digits(torch, dtype, 16, 0), steps)
    result = mg_program["train"](mg_model, *_digits(mg, dtype, 16, 0), steps)
    atol = 1e-6 if dtype == "float32" else 1e-12
    _assert_close(result, expected, rtol=rtol, atol=atol)
    # the localisation net learned something: the warp left the identity
    assert np.abs(expected[1][-1]["fc_loc.2.weight"].numpy()).max() > 1e-4
    _assert_weights(torch_model, mg_model, initial, rtol=10 * rtol, atol=10 * atol)
    ours = mg_program["test"](mg_model, *_digits(mg, dtype, 12, 1))
    theirs = torch_program["test"](torch_model, *_digits(torch, dtype, 12, 1))
    _assert_close(ours, theirs, rtol=10 * rtol, atol=10 * atol)
    assert not mg_model.training


# ----------------------------------------------------------------------------- 2. ESPCN


def _rgb(lib: Any, dtype: str, count: int, seed: int, size: int = 12) -> list:
    """Batches of smooth RGB images (2, 3, size, size) in [0, 1]."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:size, 0:size]
    batches = []
    for _ in range(count):
        phases, frequencies = rng.random((2, 3, 1, 1)) * 6, 0.2 + rng.random((2, 3, 2, 1, 1)) * 0.6
        image = 0.5 + 0.4 * np.sin(frequencies[:, :, 0] * xs + phases) * np.cos(frequencies[:, :, 1] * ys)
        batches.append(lib.from_numpy(image.astype(dtype)))
    return batches


@pytest.mark.parametrize(("dtype", "rtol"), [("float32", 1e-5), ("float64", 1e-10)])
def test_espcn_super_resolution_with_pixel_shuffle(torch: Any, dtype: str, rtol: float) -> None:
    import minigrad as mg  # noqa: PLC0415

    torch_program, torch_model, mg_program, mg_model, initial = _twins(ESPCN, 3, dtype)
    steps = 5
    expected = torch_program["train"](torch_model, _rgb(torch, dtype, 2, 0), steps, 3)
    result = mg_program["train"](mg_model, _rgb(mg, dtype, 2, 0), steps, 3)
    atol = 1e-6 if dtype == "float32" else 1e-12
    _assert_close(result, expected, rtol=rtol, atol=atol)
    assert expected[0]["loss"][-1] < expected[0]["loss"][0]
    # the loss adds the back-projection term to the MSE, so it bounds the PSNR from below
    assert all(psnr > 10 * math.log10(1 / loss) for psnr, loss in zip(expected[0]["psnr"], expected[0]["loss"]))
    _assert_weights(torch_model, mg_model, initial, rtol=10 * rtol, atol=10 * atol)
    ours = mg_program["evaluate"](mg_model, _rgb(mg, dtype, 1, 7)[0], 3)
    theirs = torch_program["evaluate"](torch_model, _rgb(torch, dtype, 1, 7)[0], 3)
    _assert_close(ours, theirs, rtol=10 * rtol, atol=10 * atol)
    assert ours["prediction"].shape == (2, 1, 12, 12)


# ----------------------------------------------------------------------------- 3. fast neural style


def _style_images(lib: Any, seed: int) -> tuple:
    """(content batches [(2, 3, 8, 8)] * 2 in 0..255, a striped style image (1, 3, 8, 8))."""
    rng = np.random.default_rng(seed)
    batches = [lib.from_numpy((rng.random((2, 3, 8, 8)) * 255).astype(np.float32)) for _ in range(2)]
    stripes = (np.arange(8)[None, None, :, None] + np.arange(8)[None, None, None, :]) % 4 < 2
    style = np.where(stripes, np.array([230.0, 40.0, 60.0])[None, :, None, None], 20.0)
    return batches, lib.from_numpy(style.astype(np.float32))


def test_fast_neural_style_transformer_net(torch: Any) -> None:
    import minigrad as mg  # noqa: PLC0415

    torch_program, (torch_net, torch_vgg), mg_program, (mg_net, mg_vgg), (initial, _) = _twins(FAST_STYLE)
    steps = 4
    expected = torch_program["train"](torch_net, torch_vgg, *_style_images(torch, 0), steps)
    result = mg_program["train"](mg_net, mg_vgg, *_style_images(mg, 0), steps)
    # zero true gradients (rounding noise only): a convolution's bias right before an instance norm, and the last
    # norm's bias in each residual block, a per-channel constant that the next convolution keeps constant (reflection
    # padding) and in4 removes
    noise_only = tuple(name for name, _ in torch_net.named_parameters()
                       if name.endswith("bias") and "conv" in name and not name.startswith("deconv3"))
    noise_only += ("res1.in2.bias", "res2.in2.bias")
    assert len(noise_only) == 9
    _assert_close(result[0], expected[0], rtol=1e-5, atol=1e-6)
    for step, (ours, theirs) in enumerate(zip(result[1], expected[1])):
        for name in noise_only:
            scale = np.abs(theirs[name.replace("bias", "weight")].numpy()).max()
            assert np.abs(theirs[name].numpy()).max() < 1e-4 * scale and np.abs(ours[name].numpy()).max() < 1e-4 * scale
            del ours[name], theirs[name]
        for name in theirs:   # float32 sums of large terms that cancel: an absolute tolerance on the gradient's scale
            want = theirs[name].numpy()
            np.testing.assert_allclose(ours[name].numpy(), want, rtol=1e-4, atol=1e-5 * np.abs(want).max(),
                                       err_msg=f"step {step} {name}")
    history = expected[0]
    assert history["total"][-1] < history["total"][0]
    assert min(history["content"][0], history["style"][0], history["tv"][0]) > 0.01 * history["total"][0]
    _assert_weights(torch_net, mg_net, initial, rtol=1e-4, atol=1e-5, noise_only=noise_only)
    assert all(not p.requires_grad and p.grad is None for p in mg_vgg.parameters())
    content = _style_images(torch, 3)[0][0][0]
    ours = mg_program["stylize"](mg_net, mg.from_numpy(content.numpy().copy()))
    theirs = torch_program["stylize"](torch_net, content)
    _assert_close(ours, theirs, rtol=1e-4, atol=1e-3)


# ----------------------------------------------------------------------------- 4. CRNN with CTC


def _text_lines(lib: Any, count: int, seed: int, width: int = 24) -> list:
    """Batches (images (4, 1, 8, width), texts, widths): 1-5 digits at 4 columns each, the rest blank; the last
    line's width is cut to 2 columns, too narrow for its text (an infeasible CTC alignment)."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        images = rng.random((4, 1, 8, width)) * 0.1
        texts, widths = [], []
        for k in range(4):
            text = "".join(str(d) for d in rng.integers(0, 10, rng.integers(1, 6)))
            for position, char in enumerate(text):
                images[k, 0, 1:6, 1 + 4 * position:4 + 4 * position] += _glyph(char)
            texts.append(text if k < 3 else text + "00")
            widths.append(4 * len(text) + 2 if k < 3 else 2)
        batches.append((lib.from_numpy(images.astype(np.float32)), texts, widths))
    return batches


def test_crnn_with_ctc_loss_and_greedy_decoding(torch: Any) -> None:
    import minigrad as mg  # noqa: PLC0415

    torch_program, torch_model, mg_program, mg_model, initial = _twins(CRNN_CTC)
    steps = 5
    expected = torch_program["train"](torch_model, _text_lines(torch, 2, 0), steps)
    result = mg_program["train"](mg_model, _text_lines(mg, 2, 0), steps)
    _assert_close(result, expected, rtol=1e-5, atol=1e-6)
    assert all(np.isfinite(expected[0])) and expected[0][-1] < expected[0][0]
    _assert_weights(torch_model, mg_model, initial, rtol=1e-4, atol=1e-5)
    images, texts, _ = _text_lines(torch, 1, 5)[0]
    theirs = torch_program["evaluate"](torch_model, images, texts)
    ours = mg_program["evaluate"](mg_model, mg.from_numpy(images.numpy().copy()), texts)
    assert ours.pop("predictions") == theirs.pop("predictions")
    _assert_close(ours, theirs, rtol=1e-4, atol=1e-5)
    # the last line is too narrow for its text: without zero_infinity its loss is infinite, in both (eval mode)
    per_line = []
    for lib, program, model in ((mg, mg_program, mg_model), (torch, torch_program, torch_model)):
        images, texts, widths = _text_lines(lib, 1, 0)[0]
        targets, target_lengths = program["encode"](texts)
        lengths = lib.IntTensor([w // 2 + 2 for w in widths])
        per_line.append(lib.nn.functional.ctc_loss(model(images).log_softmax(2), targets, lengths, target_lengths,
                                                   reduction="none"))
    _assert_close(per_line[0], per_line[1], rtol=1e-5, atol=1e-6)
    assert np.isinf(per_line[1][3].item()) and np.isfinite(per_line[1][:3].detach().numpy()).all()


# ----------------------------------------------------------------------------- regressions found by the programs


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_identity_warp_grid_gradient_takes_torchs_side_of_each_pixel_centre(torch: Any, dtype: str) -> None:
    """At the identity warp every grid point lies on a pixel centre, bilinear sampling's kink: the grid's gradient
    is one side's slope, picked by the last bit of the point (affine_grid's linspace, grid_sample's unnormalising,
    which PyTorch's 2-D CPU kernel fuses into one multiply-add), and on the edge pixels' centres the clip of border and
    reflection padding passes no gradient. 3-D is PyTorch's unfused kernel."""
    import minigrad as mg  # noqa: PLC0415

    rng = np.random.default_rng(4)
    for size in ((2, 1, 7, 20), (1, 2, 13, 11), (1, 1, 3, 5, 6)):
        images = rng.random(size).astype(dtype)
        theta = np.zeros((size[0], len(size) - 2, len(size) - 1), dtype)
        theta[:, range(len(size) - 2), range(len(size) - 2)] = 1
        for align_corners, padding_mode in itertools.product((False, True), ("zeros", "border", "reflection")):
            grads, outs = [], []
            for lib in (mg, torch):
                matrices = lib.tensor(theta.copy(), requires_grad=True)
                grid = lib.nn.functional.affine_grid(matrices, size, align_corners=align_corners)
                out = lib.nn.functional.grid_sample(lib.tensor(images), grid, align_corners=align_corners,
                                                    padding_mode=padding_mode)
                (out * lib.tensor(images)).sum().backward()
                grads.append(matrices.grad)
                outs.append(out)
            where = f"{size} align_corners={align_corners} {padding_mode}"
            _assert_close(outs[0], outs[1], rtol=1e-6, atol=1e-7, where=where)
            _assert_close(grads[0], grads[1], rtol=1e-4 if dtype == "float32" else 1e-10, atol=1e-4, where=where)
