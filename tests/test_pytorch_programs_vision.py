"""Three vision programs, tiny images, run unchanged on minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program: it keeps the original's PyTorch calls
and habits in the same roles, with our own names, structure and comments, a small model, a few steps and
generated images (3x8x8 and the like; the helpers and the rule come from tests/test_pytorch_programs.py):

* ``CIFAR_RESNET`` mirrors kuangliu/pytorch-cifar (https://github.com/kuangliu/pytorch-cifar) with the mixup
  training of facebookresearch/mixup-cifar10 (https://github.com/facebookresearch/mixup-cifar10): a
  ``BasicBlock`` of ``conv3x3``/``BatchNorm2d``/``ReLU(inplace=True)`` whose ``shortcut`` is an empty
  ``nn.Sequential`` or a strided 1x1 conv + BN, ``F.adaptive_avg_pool2d(out, 1)`` and ``torch.flatten(out, 1)``,
  ``kaiming_normal_(mode='fan_out', nonlinearity='relu')``/``constant_`` over ``self.modules()`` with
  ``isinstance``, ``SGD(momentum=0.9, nesterov=True, weight_decay=5e-4)`` under ``CosineAnnealingLR``,
  ``CrossEntropyLoss(label_smoothing=0.1)``, augmentation written with tensor ops (``F.pad(mode='reflect')``
  and a crop at offsets from ``torch.randint``, a horizontal ``torch.flip(x, dims=[3])`` on a ``torch.rand``
  mask), mixup (``index = torch.randperm(n)``, ``lam * x + (1 - lam) * x[index, :]``, the loss mixed the same
  way), ``model.eval()`` evaluation under ``torch.no_grad()`` counting ``predicted.eq(targets).sum().item()``;
* ``UNET`` mirrors milesial/Pytorch-UNet (https://github.com/milesial/Pytorch-UNet): ``DoubleConv``,
  ``Down`` (``nn.MaxPool2d(2)``), ``Up`` by ``nn.ConvTranspose2d(c, c // 2, 2, stride=2)`` or by
  ``nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True)``, ``F.pad`` to the skip connection's size
  (``diffY // 2, diffY - diffY // 2``) and ``torch.cat([x2, x1], dim=1)``; ``BCEWithLogitsLoss`` (one class) or
  ``CrossEntropyLoss`` + ``F.one_hot(...).permute(0, 3, 1, 2)`` (two classes) plus a dice loss over
  ``torch.sigmoid``/``F.softmax`` written with ``.flatten(1)`` and ``(2 * inter + eps) / (union + eps)``,
  ``RMSprop(lr, weight_decay, momentum)``, ``ReduceLROnPlateau(mode='max')`` on the validation dice,
  ``torch.nn.utils.clip_grad_value_``;
* ``SURGERY`` gathers the model-surgery habits of the "Finetuning torchvision models" tutorial
  (https://pytorch.org/tutorials/beginner/finetuning_torchvision_models_tutorial.html) and of detection/segmentation
  code that freezes BatchNorm, on a torchvision-free small ResNet: a feature extractor
  ``nn.Sequential(*list(model.children())[:-1])``, ``model.fc = nn.Linear(model.fc.in_features, n)``,
  ``model.layer1[0].conv1`` indexing into nested Sequentials, a state dict filtered with
  ``{k: v for k, v in sd.items() if not k.startswith('fc.')}`` and loaded with ``strict=False`` (the
  missing/unexpected keys compared with torch's), ``requires_grad_(False)`` on the BatchNorm parameters and
  ``m.eval()`` on the BatchNorm layers only, and ``torch.nn.utils.fuse_conv_bn_eval``.

Random draws that are part of the computation (crop offsets, flip masks, the mixup permutation) are made the
same numbers in both runs: ``torch.randint``/``torch.rand``/``torch.randperm`` of both libraries read, in call
order, one NumPy stream each of the same seed (``_shared_draws``); mixup's ``lam`` (``np.random.beta`` in the
original) is passed in, one Python float per step (an ``np.float64`` would upcast float32 images in minigrad,
which follows NumPy 2's promotion by design, DESIGN §3).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
from tests.test_pytorch_programs import (
    MINIGRAD_IMPORTS,
    TORCH_IMPORTS,
    _assert_same_weights,
    _program,
    _twin_models,
)

TORCH_IMPORTS_VISION = TORCH_IMPORTS + """\
from torch.optim.lr_scheduler import CosineAnnealingLR, ReduceLROnPlateau
"""

MINIGRAD_IMPORTS_VISION = MINIGRAD_IMPORTS + """\
from minigrad.optim.lr_scheduler import CosineAnnealingLR, ReduceLROnPlateau
"""


CIFAR_RESNET = '''
def conv3x3(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convs with BatchNorm, added to the input (or to its strided 1x1 projection)."""
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super(BasicBlock, self).__init__()
        self.conv1 = conv3x3(in_planes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != self.expansion * planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, self.expansion * planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(self.expansion * planes),
            )

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return self.relu(out)


class ResNet(nn.Module):
    """Images (N, 3, H, W) to class logits (N, num_classes): a stem, one stage per entry of num_blocks."""

    def __init__(self, block, num_blocks, widths=(4, 8), num_classes=4):
        super(ResNet, self).__init__()
        self.in_planes = widths[0]
        self.conv1 = conv3x3(3, widths[0])
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.layer1 = self._make_layer(block, widths[0], num_blocks[0], stride=1)
        self.layer2 = self._make_layer(block, widths[1], num_blocks[1], stride=2)
        self.linear = nn.Linear(widths[1] * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, block, planes, num_blocks, stride):
        strides = [stride] + [1] * (num_blocks - 1)
        layers = []
        for stride in strides:
            layers.append(block(self.in_planes, planes, stride))
            self.in_planes = planes * block.expansion
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer2(self.layer1(out))
        out = F.adaptive_avg_pool2d(out, 1)
        out = torch.flatten(out, 1)
        return self.linear(out)


def make_model():
    return ResNet(BasicBlock, [1, 2])


def random_crop(images, padding=2):
    """One crop position for the batch, drawn with torch.randint, from the reflect-padded images."""
    height, width = images.shape[2], images.shape[3]
    padded = F.pad(images, (padding, padding, padding, padding), mode='reflect')
    top, left = torch.randint(0, 2 * padding + 1, (2,)).tolist()
    return padded[:, :, top:top + height, left:left + width]


def random_flip(images):
    """Mirror a random half of the batch left to right."""
    flip = torch.rand(images.size(0)) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), torch.flip(images, dims=[3]), images)


def mixup_data(x, y, lam):
    batch_size = x.size()[0]
    index = torch.randperm(batch_size)
    mixed_x = lam * x + (1 - lam) * x[index, :]
    y_a, y_b = y, y[index]
    return mixed_x, y_a, y_b


def mixup_criterion(criterion, pred, y_a, y_b, lam):
    return lam * criterion(pred, y_a) + (1 - lam) * criterion(pred, y_b)


device = 'cuda' if torch.cuda.is_available() else 'cpu'
torch.backends.cudnn.benchmark = True


def train(model, batches, lams, epochs, lr=0.1):
    model = model.to(device)
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    scheduler = CosineAnnealingLR(optimizer, T_max=epochs)
    losses, progress, lrs = [], [], []
    step = 0
    for epoch in range(epochs):
        model.train()
        train_loss, correct, total = 0, 0, 0
        for batch_idx, (inputs, targets) in enumerate(batches):
            inputs, targets = inputs.to(device), targets.to(device)
            inputs = random_flip(random_crop(inputs))
            lam = lams[step]
            inputs, targets_a, targets_b = mixup_data(inputs, targets, lam)
            outputs = model(inputs)
            loss = mixup_criterion(criterion, outputs, targets_a, targets_b, lam)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            train_loss += loss.item()
            _, predicted = torch.max(outputs.data, 1)
            total += targets.size(0)
            # a tensor, as mixup-cifar10 keeps it; the progress line formats it with %.3f and %d
            correct += (lam * predicted.eq(targets_a.data).cpu().sum().float()
                        + (1 - lam) * predicted.eq(targets_b.data).cpu().sum().float())
            progress.append('Loss: %.3f | Acc: %.3f%% (%d/%d)'
                            % (train_loss / (batch_idx + 1), 100. * correct / total, correct, total))
            losses.append(loss.item())
            step += 1
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
    return losses, progress, lrs


def test(model, batches):
    model.eval()
    criterion = nn.CrossEntropyLoss()
    test_loss, correct, total = 0, 0, 0
    with torch.no_grad():
        for inputs, targets in batches:
            inputs, targets = inputs.to(device), targets.to(device)
            outputs = model(inputs)
            test_loss += criterion(outputs, targets).item()
            _, predicted = outputs.max(1)
            total += targets.size(0)
            correct += predicted.eq(targets).sum().item()
    return test_loss / len(batches), 100. * correct / total, correct


def save_checkpoint(model, acc, epoch, path):
    state = {'net': model.state_dict(), 'acc': acc, 'epoch': epoch}
    torch.save(state, path)


def resume(path):
    """A fresh model from a checkpoint: its weights, and the accuracy and epoch saved with them."""
    model = make_model().to(device)
    checkpoint = torch.load(path)
    model.load_state_dict(checkpoint['net'])
    return model, checkpoint['acc'], checkpoint['epoch']
'''


UNET = '''
DTYPE = torch.float32   # what the images are cast to; a test sets float64 (and model.double()) for a tight check


class DoubleConv(nn.Module):
    """(conv 3x3 => BN => ReLU) twice; the spatial size is kept."""

    def __init__(self, in_channels, out_channels, mid_channels=None):
        super().__init__()
        if not mid_channels:
            mid_channels = out_channels
        self.double_conv = nn.Sequential(
            nn.Conv2d(in_channels, mid_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(mid_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x):
        return self.double_conv(x)


class Down(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels))

    def forward(self, x):
        return self.maxpool_conv(x)


class Up(nn.Module):
    """Upsample x1, pad it to the skip connection x2's size, concatenate, double conv."""

    def __init__(self, in_channels, out_channels, bilinear=True):
        super().__init__()
        if bilinear:
            self.up = nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True)
            self.conv = DoubleConv(in_channels, out_channels, in_channels // 2)
        else:
            self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
            self.conv = DoubleConv(in_channels, out_channels)

    def forward(self, x1, x2):
        x1 = self.up(x1)
        diffY = x2.size()[2] - x1.size()[2]
        diffX = x2.size()[3] - x1.size()[3]
        x1 = F.pad(x1, [diffX // 2, diffX - diffX // 2, diffY // 2, diffY - diffY // 2])
        x = torch.cat([x2, x1], dim=1)
        return self.conv(x)


class UNet(nn.Module):
    """Images (N, C, H, W) to mask logits (N, n_classes, H, W); H and W need not be powers of two."""

    def __init__(self, n_channels, n_classes, bilinear=False, width=4):
        super(UNet, self).__init__()
        self.n_channels, self.n_classes, self.bilinear = n_channels, n_classes, bilinear
        factor = 2 if bilinear else 1
        self.inc = DoubleConv(n_channels, width)
        self.down1 = Down(width, 2 * width)
        self.down2 = Down(2 * width, 4 * width // factor)
        self.up1 = Up(4 * width, 2 * width // factor, bilinear)
        self.up2 = Up(2 * width, width, bilinear)
        self.outc = nn.Conv2d(width, n_classes, kernel_size=1)

    def forward(self, x):
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x = self.up1(x3, x2)
        x = self.up2(x, x1)
        return self.outc(x)


def make_model(n_classes, bilinear):
    return UNet(n_channels=3, n_classes=n_classes, bilinear=bilinear)


def dice_coeff(probs, target, epsilon=1e-6):
    """Mean over the batch of 2 |P & T| / (|P| + |T|); probs and target (N, ...) of the same shape."""
    probs, target = probs.flatten(1), target.flatten(1)
    inter = (probs * target).sum(dim=1)
    union = probs.sum(dim=1) + target.sum(dim=1)
    union = torch.where(union == 0, 2 * inter, union)   # both empty: a perfect score
    return ((2 * inter + epsilon) / (union + epsilon)).mean()


def multiclass_dice_coeff(probs, target, epsilon=1e-6):
    return dice_coeff(probs.flatten(0, 1), target.flatten(0, 1), epsilon)


def dice_loss(probs, target, multiclass=False):
    fn = multiclass_dice_coeff if multiclass else dice_coeff
    return 1 - fn(probs, target)


def mask_loss(model, masks_pred, true_masks, criterion):
    if model.n_classes == 1:
        target = true_masks.to(masks_pred.dtype)   # .float() in the original, whose run is float32 throughout
        loss = criterion(masks_pred.squeeze(1), target)
        return loss + dice_loss(torch.sigmoid(masks_pred.squeeze(1)), target)
    loss = criterion(masks_pred, true_masks)
    return loss + dice_loss(
        F.softmax(masks_pred, dim=1).float(),
        F.one_hot(true_masks, model.n_classes).permute(0, 3, 1, 2).float(),
        multiclass=True)


@torch.inference_mode()
def evaluate(model, batches):
    model.eval()
    dice_score = 0
    for images, true_masks in batches:
        images = images.to(dtype=DTYPE, memory_format=torch.channels_last)
        mask_pred = model(images)
        if model.n_classes == 1:
            mask_pred = (torch.sigmoid(mask_pred) > 0.5).float()
            dice_score += dice_coeff(mask_pred.squeeze(1), true_masks.float())
        else:
            assert true_masks.min() >= 0 and true_masks.max() < model.n_classes
            mask_true = F.one_hot(true_masks, model.n_classes).permute(0, 3, 1, 2).float()
            mask_pred = F.one_hot(mask_pred.argmax(dim=1), model.n_classes).permute(0, 3, 1, 2).float()
            dice_score += multiclass_dice_coeff(mask_pred[:, 1:], mask_true[:, 1:])
    model.train()
    return dice_score / max(len(batches), 1)


def train_model(model, train_batches, val_batches, epochs, learning_rate=1e-2, weight_decay=1e-8,
                momentum=0.9, gradient_clipping=1.0, amp=False):
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    model = model.to(memory_format=torch.channels_last)
    optimizer = optim.RMSprop(model.parameters(), lr=learning_rate, weight_decay=weight_decay, momentum=momentum,
                              foreach=True)
    scheduler = ReduceLROnPlateau(optimizer, 'max', patience=0, factor=0.5)   # the goal: maximise the dice
    grad_scaler = torch.amp.GradScaler(enabled=amp)
    criterion = nn.CrossEntropyLoss() if model.n_classes > 1 else nn.BCEWithLogitsLoss()
    losses, scores, lrs = [], [], []
    for epoch in range(1, epochs + 1):
        model.train()
        for images, true_masks in train_batches:
            assert images.shape[1] == model.n_channels
            images = images.to(device=device, dtype=DTYPE, memory_format=torch.channels_last)
            true_masks = true_masks.to(device=device, dtype=torch.long)
            with torch.autocast(device.type if device.type != 'mps' else 'cpu', enabled=amp):
                masks_pred = model(images)
                loss = mask_loss(model, masks_pred, true_masks, criterion)
            optimizer.zero_grad(set_to_none=True)
            grad_scaler.scale(loss).backward()
            grad_scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_value_(model.parameters(), gradient_clipping)
            grad_scaler.step(optimizer)
            grad_scaler.update()
            losses.append(loss.item())
        val_score = evaluate(model, val_batches)
        scheduler.step(val_score)
        scores.append(float(val_score))
        lrs.append(optimizer.param_groups[0]['lr'])
    return losses, scores, lrs


def predict_img(model, image, height, width, out_threshold=0.5):
    """One image (C, h, w) to a 0/1 (or class id) mask resized to (height, width), as a NumPy array."""
    model.eval()
    image = image.unsqueeze(0).to(dtype=DTYPE)
    with torch.no_grad():
        output = model(image).cpu()
        output = F.interpolate(output, (height, width), mode='bilinear')
        if model.n_classes > 1:
            mask = output.argmax(dim=1)
        else:
            mask = torch.sigmoid(output) > out_threshold
    return mask[0].long().squeeze().numpy()
'''


SURGERY = '''
class Block(nn.Module):
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + identity)


class SmallResNet(nn.Module):
    """A torchvision-shaped ResNet in miniature: conv1/bn1/relu/maxpool, layer1, layer2, avgpool, fc."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.layer1 = nn.Sequential(Block(4, 4), Block(4, 4))
        self.layer2 = nn.Sequential(Block(4, 8, stride=2))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(8, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def make_model():
    return SmallResNet(num_classes=10)


def pretrain(model, images, labels, steps=3):
    """A few ordinary steps, so the running statistics are not the defaults."""
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        F.cross_entropy(model(images), labels).backward()
        optimizer.step()


def extract_features(model, images):
    """Everything but the classifier: (N, 8, 1, 1) pooled features, flattened to (N, 8)."""
    backbone = nn.Sequential(*list(model.children())[:-1])
    backbone.eval()
    with torch.no_grad():
        return torch.flatten(backbone(images), 1), len(backbone), type(backbone[-1]).__name__


def reset_linear(layer):
    """nn.Linear's own reset_parameters, as custom layers copy it."""
    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5))
    if layer.bias is not None:
        fan_in, _ = nn.init._calculate_fan_in_and_fan_out(layer.weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        nn.init.uniform_(layer.bias, -bound, bound)


def new_head(model, num_classes):
    """A fresh model for num_classes, loaded with the old one's weights except its classifier."""
    fresh = SmallResNet(num_classes=10)
    fresh.fc = nn.Linear(fresh.fc.in_features, num_classes)
    reset_linear(fresh.fc)
    state = model.state_dict()
    kept = {k: v for k, v in state.items() if not k.startswith('fc.')}
    kept['stale.weight'] = torch.zeros(1)   # a key the model does not have
    result = fresh.load_state_dict(kept, strict=False)
    missing, unexpected = result
    full = fresh.load_state_dict(fresh.state_dict())
    return (fresh, sorted(result.missing_keys), sorted(result.unexpected_keys), list(missing), list(unexpected),
            repr(result), repr(full), full == ([], []))


def freeze_bn(model):
    """BatchNorm layers keep their statistics (eval) and their affine parameters (no grad)."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
            m.weight.requires_grad_(False)
            m.bias.requires_grad_(False)


def finetune(model, images, labels, steps=4):
    model.train()
    freeze_bn(model)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=1e-4)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    first = model.layer1[0].conv1
    return (losses, len(params), first.weight.shape, model.layer1[0].bn1.training, model.training,
            model.layer1[0].bn1.weight.grad is None)


def fuse_first_block(model, images):
    """conv1 + bn1 of layer1[0] folded into one conv (eval mode); outputs before and after."""
    model.eval()
    block = model.layer1[0]
    with torch.no_grad():
        x = model.maxpool(model.relu(model.bn1(model.conv1(images))))
        before = block.bn1(block.conv1(x))
        fused = torch.nn.utils.fuse_conv_bn_eval(block.conv1, block.bn1)
        after = fused(x)
    return before, after, fused.bias is not None, fused.weight.requires_grad
'''


PROGRAMS = (CIFAR_RESNET, UNET, SURGERY)


def _twins(source: str, *args: Any) -> tuple:
    """Both programs and their models, minigrad's loaded with torch's initial weights."""
    return _twin_models(source, *args, imports=(TORCH_IMPORTS_VISION, MINIGRAD_IMPORTS_VISION))


def _shared_draws(monkeypatch: pytest.MonkeyPatch, torch: Any, seed: int) -> None:
    """``torch.randint``/``rand``/``randperm`` of both libraries draw, in call order, from one NumPy stream each
    of the same seed, so the crops, flips and mixup permutations are the same numbers in both runs."""
    for lib in (torch, mg):
        rng = np.random.default_rng(seed)

        def randint(low: int, high: int, size: tuple, rng: np.random.Generator = rng, lib: Any = lib) -> Any:
            return lib.from_numpy(rng.integers(low, high, size).astype(np.int64))

        def rand(*size: int, rng: np.random.Generator = rng, lib: Any = lib) -> Any:
            return lib.from_numpy(rng.random(size).astype(np.float32))

        def randperm(n: int, rng: np.random.Generator = rng, lib: Any = lib) -> Any:
            return lib.from_numpy(rng.permutation(n).astype(np.int64))

        monkeypatch.setattr(lib, "randint", randint)
        monkeypatch.setattr(lib, "rand", rand)
        monkeypatch.setattr(lib, "randperm", randperm)


def test_the_programs_differ_only_in_their_imports() -> None:
    assert TORCH_IMPORTS_VISION.count("\n") == MINIGRAD_IMPORTS_VISION.count("\n") == 6
    last_torch, last_mg = TORCH_IMPORTS_VISION.splitlines()[-1], MINIGRAD_IMPORTS_VISION.splitlines()[-1]
    assert last_torch.replace("torch", "minigrad") == last_mg
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. CIFAR ResNet with mixup


def _cifar_batches(lib: Any, count: int, batch_size: int, seed: int, dtype: str = "float32") -> list:
    """(images (B, 3, 8, 8), labels (B,)) batches; the label picks which colour channel is brighter."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        labels = rng.integers(0, 4, batch_size)
        images = rng.standard_normal((batch_size, 3, 8, 8)) * 0.5
        for row, label in enumerate(labels):
            images[row, label % 3] += 1.0 if label < 3 else -1.0
        batches.append((lib.from_numpy(images.astype(dtype)), lib.from_numpy(labels.astype(np.int64))))
    return batches


def _assert_same_state(torch_model: Any, mg_model: Any, rtol: float, atol: float) -> None:
    """Every entry of the two state dicts (parameters, running statistics, counters) agrees."""
    theirs = {k: v.detach().numpy() for k, v in torch_model.state_dict().items()}
    ours = {k: v.numpy() for k, v in mg_model.state_dict().items()}
    assert list(ours) == list(theirs)
    for name in ours:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=rtol, atol=atol, err_msg=name)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cifar_resnet_with_augmentation_mixup_and_cosine_lr(dtype: str, torch: Any, monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Any) -> None:
    torch_program, torch_model, mg_program, mg_model, initial = _twins(CIFAR_RESNET)
    lib = mg_program["torch"]
    # kaiming_normal_(fan_out) drew minigrad's own conv weights with std sqrt(2 / (out * k * k)) before the copy
    fresh = mg_program["make_model"]()
    assert np.std(fresh.layer2[0].conv2.weight.numpy()) == pytest.approx(np.sqrt(2 / (8 * 9)), rel=0.25)
    assert np.all(fresh.layer2[0].shortcut[1].weight.numpy() == 1) and len(fresh.layer1[0].shortcut) == 0
    if dtype == "float64":
        torch_model.double()
        mg_model.double()
    # Python floats: mixup-cifar10's np.random.beta returns an np.float64, which by NumPy 2's rules (DESIGN §3,
    # tests/minigrad/test_tensor.py) is not a weak scalar, so `lam * x` would be float64 here and float32 in torch
    lams = [float(lam) for lam in np.random.default_rng(9).beta(1.0, 1.0, 6)]
    _shared_draws(monkeypatch, torch, 5)
    expected = torch_program["train"](torch_model, _cifar_batches(torch, 3, 8, 0, dtype), lams, 2)
    losses, progress, lrs = mg_program["train"](mg_model, _cifar_batches(lib, 3, 8, 0, dtype), lams, 2)
    rtol, atol = (1e-10, 1e-12) if dtype == "float64" else (1e-5, 1e-5)
    np.testing.assert_allclose(losses, expected[0], rtol=rtol, atol=atol)
    assert progress == expected[1] and progress[0].startswith("Loss: ")
    assert lrs == pytest.approx(expected[2]) and lrs == pytest.approx([0.05, 0.0])   # cosine, 0.1 to 0 in 2
    if dtype == "float64":
        _assert_same_state(torch_model, mg_model, rtol=1e-10, atol=1e-12)
    else:
        _assert_same_weights(torch_model, mg_model, initial)
    ours = mg_program["test"](mg_model, _cifar_batches(lib, 2, 8, 1, dtype))
    theirs = torch_program["test"](torch_model, _cifar_batches(torch, 2, 8, 1, dtype))
    assert ours[0] == pytest.approx(theirs[0], rel=rtol) and ours[1:] == theirs[1:]
    assert isinstance(ours[2], int)
    if dtype == "float32":
        mg_program["save_checkpoint"](mg_model, ours[1], 2, str(tmp_path / "ckpt.pth"))
        reloaded, acc, epoch = mg_program["resume"](str(tmp_path / "ckpt.pth"))
        assert (acc, epoch) == (ours[1], 2)
        assert mg_program["test"](reloaded, _cifar_batches(lib, 2, 8, 1)) == ours


def test_cifar_augmentation_with_minigrads_own_draws() -> None:
    """Unpatched randint/rand/randperm: every augmented image is the crop of its reflect-padded original at
    one offset, mirrored or not; mixup mixes each image with the one the permutation names; a seed repeats."""
    program = _program(CIFAR_RESNET, MINIGRAD_IMPORTS_VISION)
    lib = program["torch"]
    images, labels = _cifar_batches(lib, 1, 8, 2)[0]
    padded = np.pad(images.numpy(), ((0, 0), (0, 0), (2, 2), (2, 2)), mode="reflect")
    runs = []
    for _ in range(2):
        lib.manual_seed(11)
        augmented = program["random_flip"](program["random_crop"](images))
        mixed, y_a, y_b = program["mixup_data"](augmented, labels, 0.25)
        runs.append((augmented.numpy(), mixed.numpy(), y_b.numpy()))
        assert augmented.shape == images.shape and augmented.dtype == lib.float32 and y_b.dtype == lib.int64
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][2], runs[1][2])
    augmented, mixed, y_b = runs[0]
    offsets = [(top, left) for top in range(5) for left in range(5)
               if all(np.array_equal(a, p[:, top:top + 8, left:left + 8])
                      or np.array_equal(a, p[:, top:top + 8, left:left + 8][:, :, ::-1])
                      for a, p in zip(augmented, padded))]
    assert len(offsets) >= 1
    partner = [np.isclose(mixed[row] - 0.25 * augmented[row], 0.75 * augmented).all(axis=(1, 2, 3)) for row in range(8)]
    index = [int(np.flatnonzero(found)[0]) for found in partner]
    assert sorted(index) == list(range(8)) and y_b.tolist() == labels.numpy()[index].tolist()


# ----------------------------------------------------------------------------- 2. U-Net


def _mask_batches(lib: Any, count: int, batch_size: int, seed: int, height: int = 10, width: int = 6) -> list:
    """(images (B, 3, H, W), masks (B, H, W) of 0/1): the mask marks where the first channel is bright."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        masks = (rng.random((batch_size, height, width)) < 0.4).astype(np.int64)
        images = rng.standard_normal((batch_size, 3, height, width)) * 0.5
        images[:, 0] += 1.5 * masks
        batches.append((lib.from_numpy(images.astype(np.float32)), lib.from_numpy(masks)))
    return batches


@pytest.mark.parametrize(("n_classes", "bilinear", "dtype"), [(1, False, "float32"), (2, True, "float32"),
                                                           (1, False, "float64")])
def test_unet_with_dice_rmsprop_and_plateau(n_classes: int, bilinear: bool, dtype: str, torch: Any) -> None:
    """Odd sizes (10x6 -> 5x3 -> 2x1) so the decoder pads; transposed convs with BCE, bilinear with CE.

    RMSprop divides each step by the gradient's running RMS, so a weight whose gradient is float32 cancellation
    noise (up1's first conv at the kernel row that meets the padded row: 2.5e-6 summed from terms near 1e-3,
    where the two engines' orders of summation differ by 1e-9) still takes a full-sized step: in float32 the
    final weights are compared to 2e-4; float64 shows the programs agree to 1e-10.
    """
    torch_program, torch_model, mg_program, mg_model, initial = _twins(UNET, n_classes, bilinear)
    lib = mg_program["torch"]
    if dtype == "float64":
        for program, model in ((torch_program, torch_model), (mg_program, mg_model)):
            program["DTYPE"] = program["torch"].float64
            model.double()
    rtol, atol = (1e-10, 1e-12) if dtype == "float64" else (1e-5, 1e-5)
    expected = torch_program["train_model"](torch_model, _mask_batches(torch, 2, 2, 0), _mask_batches(torch, 1, 2, 1),
                                            3)
    result = mg_program["train_model"](mg_model, _mask_batches(lib, 2, 2, 0), _mask_batches(lib, 1, 2, 1), 3)
    for name, ours, theirs in zip(("losses", "scores", "lrs"), result, expected):
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=name)
    # the validation dice falls, so mode='max' halves the rate after every epoch (patience=0)
    assert result[2] == pytest.approx(expected[2]) and expected[2] == pytest.approx([1e-2, 5e-3, 2.5e-3])
    _assert_same_state(torch_model, mg_model, rtol=rtol, atol=1e-10 if dtype == "float64" else 2e-4)
    assert not np.array_equal(mg_model.outc.weight.numpy(), initial["outc.weight"].numpy())
    image = _mask_batches(lib, 1, 1, 3)[0][0][0]
    mask = mg_program["predict_img"](mg_model, image, 20, 12)
    torch_mask = torch_program["predict_img"](torch_model, torch.from_numpy(image.numpy()), 20, 12)
    assert mask.shape == (20, 12) and mask.dtype == np.int64 and set(np.unique(mask)) <= {0, 1}
    assert (mask != torch_mask).mean() < 0.01   # a logit at the threshold may fall either side in float32


# ----------------------------------------------------------------------------- 3. model surgery


def _labelled_images(lib: Any, count: int, seed: int, classes: int = 10) -> tuple:
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((count, 3, 8, 8)).astype(np.float32)
    return lib.from_numpy(images), lib.from_numpy(rng.integers(0, classes, count).astype(np.int64))


def test_model_surgery_head_swap_frozen_batchnorm_and_fusion(torch: Any) -> None:
    torch_program, torch_model, mg_program, mg_model, initial = _twins(SURGERY)
    lib = mg_program["torch"]
    torch_images, torch_labels = _labelled_images(torch, 6, 0)
    images, labels = _labelled_images(lib, 6, 0)
    torch_program["pretrain"](torch_model, torch_images, torch_labels)
    mg_program["pretrain"](mg_model, images, labels)
    _assert_same_weights(torch_model, mg_model, initial)

    features, depth, last = mg_program["extract_features"](mg_model, images)
    torch_features, torch_depth, torch_last = torch_program["extract_features"](torch_model, torch_images)
    np.testing.assert_allclose(features.numpy(), torch_features.numpy(), rtol=1e-5, atol=1e-6)
    assert (depth, last) == (torch_depth, torch_last) == (7, "AdaptiveAvgPool2d")

    fresh, *keys = mg_program["new_head"](mg_model, 3)
    torch_fresh, *torch_keys = torch_program["new_head"](torch_model, 3)
    assert keys == torch_keys
    assert keys[0] == ["fc.bias", "fc.weight"] and keys[1] == ["stale.weight"] and keys[2] == ["fc.weight", "fc.bias"]
    assert keys[4] == "_IncompatibleKeys(missing_keys=['fc.weight', 'fc.bias'], unexpected_keys=['stale.weight'])"
    assert keys[5:] == ["<All keys matched successfully>", True]
    bound = 1 / np.sqrt(8)   # reset_linear's: kaiming_uniform_(a=sqrt(5)) and the bias from the fan in
    assert np.abs(fresh.fc.bias.numpy()).max() <= bound and np.abs(fresh.fc.weight.numpy()).max() <= bound
    fresh.fc.load_state_dict({k: lib.from_numpy(v.detach().numpy()) for k, v in torch_fresh.fc.state_dict().items()})
    fresh_initial = {k: v.clone() for k, v in fresh.state_dict().items()}

    three = labels % 3
    result = mg_program["finetune"](fresh, images, three)
    expected = torch_program["finetune"](torch_fresh, torch_images, torch_labels % 3)
    np.testing.assert_allclose(result[0], expected[0], rtol=1e-5, atol=1e-6)
    assert tuple(result[2]) == tuple(expected[2]) == (4, 4, 3, 3)
    assert result[1:2] + result[3:] == expected[1:2] + expected[3:] == (10, False, True, True)
    _assert_same_weights(torch_fresh, fresh, fresh_initial)
    # the frozen layers kept their statistics and their affine parameters
    for name in ("bn1.running_mean", "layer1.0.bn1.running_var", "layer2.0.downsample.1.weight"):
        np.testing.assert_array_equal(fresh.state_dict()[name].numpy(), fresh_initial[name].numpy())

    before, after, has_bias, requires_grad = mg_program["fuse_first_block"](fresh, images)
    torch_before, torch_after, *torch_flags = torch_program["fuse_first_block"](torch_fresh, torch_images)
    np.testing.assert_allclose(after.numpy(), before.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(after.numpy(), torch_after.numpy(), rtol=1e-5, atol=1e-5)
    assert [has_bias, requires_grad] == torch_flags


# ----------------------------------------------------------------------------- regressions found by the programs


@pytest.mark.parametrize("shape", [(4, 5), (3, 6, 2, 2), (2, 3, 1, 4, 5), (0, 3)])
def test_calculate_fan_in_and_fan_out_by_torchs_private_name(shape: tuple, torch: Any) -> None:
    """``nn.init._calculate_fan_in_and_fan_out`` (private in torch, called by the ``reset_parameters`` copied
    from nn.Linear): the same fans as torch's, for a tensor or an array of any dtype, ValueError below 2-D."""
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))
    assert mg.nn.init._calculate_fan_in_and_fan_out(mg.empty(*shape)) == expected
    assert mg.nn.init._calculate_fan_in_and_fan_out(np.zeros(shape, dtype=np.int64)) == expected
    with pytest.raises(ValueError, match="2 dimensions"):
        mg.nn.init._calculate_fan_in_and_fan_out(mg.empty(*shape[:1]))
    with pytest.raises(ValueError):
        torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape[:1]))

