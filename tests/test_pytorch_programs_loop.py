"""Three training-loop programs, small, run unchanged on minigrad: only the import lines differ.

Each program is our own rewrite of training-loop code that PyTorch users write again and again: it keeps the
PyTorch calls and habits in the same roles, with our own names, structure and comments, small models, a few
steps and generated data (the helpers and the rule come from tests/test_pytorch_programs.py):

* ``FINETUNE`` follows the "Transfer learning for computer vision" and "Finetuning torchvision models"
  tutorials (https://pytorch.org/tutorials/beginner/transfer_learning_tutorial.html): a small convolutional
  "backbone" with a new head assigned over the old one, the backbone frozen with
  ``for p in model.backbone.parameters(): p.requires_grad = False`` and unfrozen later, the head alone in
  the optimizer and the backbone brought in with ``optimizer.add_param_group``, parameter groups with their
  own learning rates, no weight decay on biases and norm weights (``p.ndim < 2``), ``LambdaLR`` warmup,
  ``SequentialLR([LinearLR, CosineAnnealingLR], milestones=[3])``, ``CosineAnnealingWarmRestarts`` stepped
  with fractional epochs, gradient accumulation over micro-batches (``loss / accum_steps``),
  ``zero_grad(set_to_none=True)`` and ``scheduler.get_last_lr()``;
* ``CHECKPOINT_RESUME`` follows the "Saving and loading a general checkpoint" recipe
  (https://pytorch.org/tutorials/recipes/recipes/saving_and_loading_a_general_checkpoint.html): a dict of
  epoch, model, optimizer and scheduler state dicts and the last loss written with ``torch.save``, read back
  with ``torch.load(path, weights_only=True)`` into a fresh model, optimizer and scheduler (Adam under
  ``OneCycleLR``, SGD with momentum under ``ReduceLROnPlateau``), training continued;
* ``HOOKS`` gathers the inspection habits of the "Forward and backward function hooks" docs
  (https://pytorch.org/docs/stable/notes/modules.html#module-hooks) and of EMA training code: forward hooks
  that store activations in a dict, a forward pre-hook that rewrites the input, a full backward hook that
  records gradient norms, ``p.register_hook(lambda g: g.clamp(-c, c))`` on every parameter,
  ``parameters_to_vector``/``vector_to_parameters``, ``model.apply``, ``named_modules`` filtered with
  ``isinstance``, the trainable-parameter count, ``clip_grad_norm_(error_if_nonfinite=True, foreach=True)``,
  and an EMA of the weights kept both by ``AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(d))`` and
  by hand with ``ema_p.mul_(d).add_(p.detach(), alpha=1 - d)`` under ``torch.no_grad()``.

Each source runs twice, after the torch imports and after minigrad's, from the same initial weights; the
losses, learning rates, recorded tensors and final weights must agree (1e-5 relative in float32).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import MINIGRAD_IMPORTS, TORCH_IMPORTS, _twin_models

TORCH_IMPORTS_LOOP = TORCH_IMPORTS + """\
from torch.optim import lr_scheduler
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.nn.utils import parameters_to_vector, vector_to_parameters
"""

MINIGRAD_IMPORTS_LOOP = MINIGRAD_IMPORTS + """\
from minigrad.optim import lr_scheduler
from minigrad.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from minigrad.nn.utils import parameters_to_vector, vector_to_parameters
"""


FINETUNE = '''
class Backbone(nn.Module):
    """A stand-in for a pretrained feature extractor: images (B, 1, 8, 8) -> features (B, 12)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 6, 3, padding=1, bias=False)   # BatchNorm follows
        self.bn = nn.BatchNorm2d(6)
        self.pool = nn.AdaptiveAvgPool2d((2, 2))
        self.proj = nn.Linear(24, 12)
        self.norm = nn.LayerNorm(12)

    def forward(self, images):
        h = self.pool(F.relu(self.bn(self.conv(images))))
        return F.relu(self.norm(self.proj(torch.flatten(h, 1))))


class Classifier(nn.Module):
    def __init__(self, pretrained_classes=10):
        super().__init__()
        self.backbone = Backbone()
        self.head = nn.Linear(12, pretrained_classes)

    def forward(self, images):
        return self.head(self.backbone(images))


def make_model(classes):
    model = Classifier()
    model.head = nn.Linear(model.head.in_features, classes)   # a new head for the new task
    return model


def set_backbone_trainable(model, trainable):
    for p in model.backbone.parameters():
        p.requires_grad = trainable


def count_trainable(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def feature_extraction(model, batches, epochs, accum_steps=2):
    """The backbone frozen; only the head trains, under a linear warmup, gradients summed over micro-batches."""
    set_backbone_trainable(model, False)
    trainable = count_trainable(model)
    optimizer = optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.1, momentum=0.9)
    warmup = 4
    scheduler = lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup))
    loss_fn = nn.CrossEntropyLoss()
    losses, lrs = [], []
    model.train()
    optimizer.zero_grad(set_to_none=True)
    for epoch in range(epochs):
        for i, (images, labels) in enumerate(batches):
            loss = loss_fn(model(images), labels) / accum_steps
            loss.backward()
            losses.append(loss.item() * accum_steps)
            if (i + 1) % accum_steps == 0:
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                scheduler.step()
                lrs.append(scheduler.get_last_lr()[0])
    frozen_grads = [p.grad is None for p in model.backbone.parameters()]
    return losses, lrs, trainable, frozen_grads


def gradual_unfreezing(model, batches, steps, unfreeze_at=3):
    """The head first, then the backbone joins the optimizer with its own, smaller learning rate."""
    set_backbone_trainable(model, False)
    optimizer = optim.SGD(model.head.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    losses, group_lrs, counts = [], [], []
    for step in range(steps):
        if step == unfreeze_at:
            set_backbone_trainable(model, True)
            optimizer.add_param_group({'params': model.backbone.parameters(), 'lr': 0.005})
        images, labels = batches[step % len(batches)]
        optimizer.zero_grad()
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        group_lrs.append([group['lr'] for group in optimizer.param_groups])
        counts.append(count_trainable(model))
    return losses, group_lrs, counts


def discriminative_lrs(model, batches, steps):
    """All layers train; the backbone at a tenth of the head's rate, warmup then cosine decay."""
    set_backbone_trainable(model, True)
    optimizer = optim.SGD([{'params': model.backbone.parameters(), 'lr': 1e-3},
                           {'params': model.head.parameters()}], lr=1e-2, momentum=0.9, nesterov=True)
    scheduler = lr_scheduler.SequentialLR(
        optimizer,
        [lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=3),
         lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps - 3)],
        milestones=[3])
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    losses, lrs = [], []
    for step in range(steps):
        images, labels = batches[step % len(batches)]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        lrs.append(scheduler.get_last_lr())
    return losses, lrs


def no_decay_on_biases_and_norms(model, batches, epochs, accum_steps=2):
    """AdamW without decay on 1-D parameters, warm restarts stepped with fractional epochs."""
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    no_decay_names = [n for n, p in model.named_parameters() if p.ndim < 2]
    optimizer = optim.AdamW([{'params': decay, 'weight_decay': 0.05},
                             {'params': no_decay, 'weight_decay': 0.0}], lr=3e-3)
    scheduler = lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=2, T_mult=2, eta_min=1e-4)
    iters = len(batches) // accum_steps
    losses, lrs = [], []
    for epoch in range(epochs):
        optimizer.zero_grad(set_to_none=True)
        for i, (images, labels) in enumerate(batches):
            loss = F.cross_entropy(model(images), labels)
            (loss / accum_steps).backward()
            losses.append(loss.item())
            if (i + 1) % accum_steps == 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=2.0)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                scheduler.step(epoch + ((i + 1) // accum_steps) / iters)
                lrs.append(list(scheduler.get_last_lr()))
    return losses, lrs, no_decay_names


@torch.no_grad()
def accuracy(model, batches):
    model.eval()
    correct = total = 0
    for images, labels in batches:
        correct += (model(images).argmax(dim=1) == labels).sum().item()
        total += labels.numel()
    model.train()
    return correct / total
'''


CHECKPOINT_RESUME = '''
USE_AMP = False   # a run's setting (True on a GPU); off, the scaler and autocast pass everything through


class SequenceClassifier(nn.Module):
    """Sequences (B, T, 3) through a GRU; the last state read out to (B, classes)."""

    def __init__(self, classes=3):
        super().__init__()
        self.gru = nn.GRU(3, 8, batch_first=True)
        self.out = nn.Sequential(nn.Dropout(0.0), nn.Linear(8, classes))

    def forward(self, x):
        _, h = self.gru(x)
        return self.out(h[-1])


def make_model():
    return SequenceClassifier()


def make_training(model, recipe, total_steps):
    if recipe == 'adam_onecycle':
        optimizer = optim.Adam(model.parameters(), lr=1e-3)
        scheduler = lr_scheduler.OneCycleLR(optimizer, max_lr=0.05, total_steps=total_steps)
    else:
        optimizer = optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
        scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, mode='min', factor=0.5, patience=1, threshold=0.5)
    scaler = torch.amp.GradScaler('cuda', enabled=USE_AMP)   # mixed precision on a GPU only
    return optimizer, scheduler, scaler


def train_epoch(model, optimizer, scheduler, scaler, batches, per_batch):
    model.train()
    criterion = nn.CrossEntropyLoss()
    losses = []
    for x, y in batches:
        optimizer.zero_grad()
        with torch.autocast(device_type='cpu', dtype=torch.bfloat16, enabled=USE_AMP):
            loss = criterion(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        if per_batch:
            scheduler.step()
        losses.append(loss.item())
    return losses, loss


@torch.no_grad()
def validate(model, batches):
    model.eval()
    return sum(F.cross_entropy(model(x), y).item() for x, y in batches) / len(batches)


def fit(model, optimizer, scheduler, scaler, recipe, batches, start_epoch, end_epoch, history):
    loss = None
    for epoch in range(start_epoch, end_epoch):
        losses, loss = train_epoch(model, optimizer, scheduler, scaler, batches, recipe == 'adam_onecycle')
        val = validate(model, batches)
        if recipe != 'adam_onecycle':
            scheduler.step(val)
        history['loss'] += losses
        history['val'].append(val)
        history['lr'].append(optimizer.param_groups[0]['lr'])
    return loss


def save_checkpoint(path, epoch, model, optimizer, scheduler, scaler, loss):
    torch.save({
        'epoch': epoch,
        'model_state_dict': model.state_dict(),
        'optimizer_state_dict': optimizer.state_dict(),
        'scheduler_state_dict': scheduler.state_dict(),
        'scaler_state_dict': scaler.state_dict(),
        'loss': loss.item(),
    }, path)


def run(model, recipe, batches, epochs, path=None, stop_after=None):
    """Train for ``epochs``; with ``stop_after``, stop there, checkpoint, and go on in fresh objects."""
    optimizer, scheduler, scaler = make_training(model, recipe, epochs * len(batches))
    history = {'loss': [], 'val': [], 'lr': []}
    if stop_after is None:
        fit(model, optimizer, scheduler, scaler, recipe, batches, 0, epochs, history)
        return model, history, None
    loss = fit(model, optimizer, scheduler, scaler, recipe, batches, 0, stop_after, history)
    save_checkpoint(path, stop_after - 1, model, optimizer, scheduler, scaler, loss)
    del model, optimizer, scheduler, scaler
    model = make_model()
    optimizer, scheduler, scaler = make_training(model, recipe, epochs * len(batches))
    checkpoint = torch.load(path, weights_only=True)
    model.load_state_dict(checkpoint['model_state_dict'])
    optimizer.load_state_dict(checkpoint['optimizer_state_dict'])
    scheduler.load_state_dict(checkpoint['scheduler_state_dict'])
    if USE_AMP:
        scaler.load_state_dict(checkpoint['scaler_state_dict'])
    start = checkpoint['epoch'] + 1
    fit(model, optimizer, scheduler, scaler, recipe, batches, start, epochs, history)
    return model, history, (checkpoint['epoch'], checkpoint['loss'])
'''


HOOKS = '''
class SmallCNN(nn.Module):
    """Images (B, 1, 6, 6) -> logits (B, 3)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(16, 10)
        self.fc2 = nn.Linear(10, 3)

    def forward(self, x):
        x = self.pool(F.relu(self.bn(self.conv(x))))
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


def init_weights(m):
    if isinstance(m, nn.Linear):
        nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.ones_(m.weight)
        nn.init.constant_(m.bias, 0.1)


def make_model():
    model = SmallCNN()
    model.apply(init_weights)
    return model


def inspect(model):
    layers = [name for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return layers, trainable


def train(model, batches, steps, clip=0.05, decay=0.9):
    activation = {}

    def get_activation(name):
        def hook(module, inputs, output):
            activation[name] = output.detach()
        return hook

    grad_norms = []

    def record_grad_norms(module, grad_input, grad_output):
        grad_norms.append((grad_input[0].norm().item(), grad_output[0].norm().item()))

    handles = [model.conv.register_forward_hook(get_activation('conv')),
               model.fc1.register_forward_hook(get_activation('fc1')),
               model.fc1.register_forward_pre_hook(lambda module, args: (args[0] * 0.5,)),
               model.fc2.register_full_backward_hook(record_grad_norms)]
    for p in model.parameters():
        p.register_hook(lambda g: g.clamp(-clip, clip))

    ema_model = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.999))
    shadow = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    losses, norms, features = [], [], []
    for step in range(steps):
        x, y = batches[step % len(batches)]
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0, error_if_nonfinite=True,
                                                    foreach=True).item())
        optimizer.step()
        ema_model.update_parameters(model)
        with torch.no_grad():
            for n, p in model.named_parameters():
                shadow[n].mul_(decay).add_(p.detach(), alpha=1 - decay)
        losses.append(loss.item())
        features.append((activation['conv'].mean().item(), activation['fc1'].abs().sum().item()))
    for handle in handles:
        handle.remove()
    model(batches[0][0])   # removed: nothing more is recorded
    return losses, norms, grad_norms, features, ema_model, shadow, len(grad_norms)


def flat_round_trip(model):
    """The parameters as one vector, scaled, written back."""
    vec = parameters_to_vector(model.parameters())
    vector_to_parameters(vec * 2.0, model.parameters())
    return vec.detach().numpy().copy(), parameters_to_vector(model.parameters()).detach().numpy().copy()


def clip_nonfinite(model, x, y):
    """A NaN gradient with error_if_nonfinite=True raises."""
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    model.fc2.weight.grad[0, 0] = float('nan')
    try:
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0, error_if_nonfinite=True)
    except RuntimeError as error:
        return type(error).__name__
    return False
'''


PROGRAMS = (FINETUNE, CHECKPOINT_RESUME, HOOKS)


def _twins(source: str, *args: Any) -> tuple:
    """Both programs and their ``make_model(*args)``, minigrad's loaded with torch's initial weights."""
    return _twin_models(source, *args, imports=(TORCH_IMPORTS_LOOP, MINIGRAD_IMPORTS_LOOP))


def _same_state(ours: Any, theirs: Any, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    mine = {k: v.numpy() for k, v in ours.state_dict().items()}
    peer = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert mine.keys() == peer.keys()
    for name in mine:
        np.testing.assert_allclose(mine[name], peer[name], rtol=rtol, atol=atol, err_msg=name)


def test_the_programs_differ_only_in_their_imports() -> None:
    for torch_line, mg_line in zip(TORCH_IMPORTS_LOOP.splitlines(), MINIGRAD_IMPORTS_LOOP.splitlines()):
        assert torch_line.replace("torch", "minigrad") == mg_line or torch_line.startswith(("import", "from torch"))
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. fine-tuning


def _images(lib: Any, count: int, batch_size: int, seed: int) -> list:
    """(images (B, 1, 8, 8), labels (B,)) batches; the class sets which quadrant is bright."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        labels = rng.integers(0, 3, batch_size)
        images = rng.standard_normal((batch_size, 1, 8, 8)) * 0.3
        for row, label in enumerate(labels):
            images[row, 0, 4 * (label % 2):4 * (label % 2) + 4, 4 * (label // 2):4 * (label // 2) + 4] += 1.0
        batches.append((lib.from_numpy(images.astype(np.float32)), lib.from_numpy(labels.astype(np.int64))))
    return batches


def test_finetuning_loop(torch: Any) -> None:
    torch_program, torch_model, mg_program, mg_model, initial = _twins(FINETUNE, 3)
    torch_batches = _images(torch_program["torch"], 4, 6, 0)
    batches = _images(mg_program["torch"], 4, 6, 0)

    ours = mg_program["feature_extraction"](mg_model, batches, 2)
    theirs = torch_program["feature_extraction"](torch_model, torch_batches, 2)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-5, atol=1e-6)
    assert ours[1] == pytest.approx(theirs[1]) and theirs[1][:4] == pytest.approx([0.05, 0.075, 0.1, 0.1])
    assert ours[2:] == theirs[2:] and ours[2] == 12 * 3 + 3 and all(ours[3])
    backbone = {k: v for k, v in initial.items() if k.startswith("backbone.") and "running" not in k
                and "num_batches" not in k}
    for name, value in backbone.items():   # frozen: unchanged, though BatchNorm's statistics moved
        np.testing.assert_array_equal(mg_model.state_dict()[name].numpy(), value.numpy(), err_msg=name)
    _same_state(mg_model, torch_model)

    ours = mg_program["gradual_unfreezing"](mg_model, batches, 6)
    theirs = torch_program["gradual_unfreezing"](torch_model, torch_batches, 6)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-5, atol=1e-6)
    assert ours[1] == theirs[1] and ours[1][-1] == [0.05, 0.005] and ours[2] == theirs[2]
    _same_state(mg_model, torch_model)

    ours = mg_program["discriminative_lrs"](mg_model, batches, 8)
    theirs = torch_program["discriminative_lrs"](torch_model, torch_batches, 8)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-6)
    _same_state(mg_model, torch_model)

    ours = mg_program["no_decay_on_biases_and_norms"](mg_model, batches, 3)
    theirs = torch_program["no_decay_on_biases_and_norms"](torch_model, torch_batches, 3)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-6)
    assert ours[2] == theirs[2]
    _same_state(mg_model, torch_model, rtol=1e-4, atol=1e-5)
    assert mg_program["accuracy"](mg_model, batches) == torch_program["accuracy"](torch_model, torch_batches)


# ----------------------------------------------------------------------------- 2. checkpoint and resume


def _sequences(lib: Any, count: int, seed: int) -> list:
    """(x (4, 5, 3), y (4,)) batches; the class is the channel with the largest sum."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        x = rng.standard_normal((4, 5, 3)).astype(np.float32)
        y = x.sum(axis=1).argmax(axis=1).astype(np.int64)
        batches.append((lib.from_numpy(x), lib.from_numpy(y)))
    return batches


def _arrays(model: Any) -> dict:
    """A model's state dict as NumPy copies (either engine)."""
    return {k: np.array(v.detach().numpy()) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("recipe", ["adam_onecycle", "sgd_plateau"])
def test_checkpoint_and_resume(torch: Any, tmp_path: Any, recipe: str) -> None:
    """Stopped after 2 of 5 epochs, saved, loaded into fresh objects and continued: the very run that was never
    stopped, in each engine (bit for bit), and the same run in both (ReduceLROnPlateau's bad-epoch count
    crosses the checkpoint and halves the lr right after it)."""
    torch_program, torch_model, mg_program, mg_model, initial = _twins(CHECKPOINT_RESUME)
    epochs, stop_after, per_epoch = 5, 2, 3
    results = {}
    for name, program, model in (("mg", mg_program, mg_model), ("torch", torch_program, torch_model)):
        data = _sequences(program["torch"], per_epoch, 1)
        start = {k: program["torch"].from_numpy(v.numpy().copy()) for k, v in initial.items()}
        straight_history = program["run"](model, recipe, data, epochs)[1]
        straight = _arrays(model)
        model.load_state_dict(start)
        resumed, history, saved = program["run"](model, recipe, data, epochs, str(tmp_path / f"{name}.pt"), stop_after)
        assert history == straight_history, name
        assert saved == (stop_after - 1, straight_history["loss"][stop_after * per_epoch - 1])
        for key, value in _arrays(resumed).items():
            np.testing.assert_array_equal(value, straight[key], err_msg=f"{name} {key}")
        results[name] = history, resumed
    ours, theirs = results["mg"][0], results["torch"][0]
    for key in ("loss", "val"):
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5, atol=1e-6, err_msg=key)
    assert ours["lr"] == pytest.approx(theirs["lr"])
    if recipe == "sgd_plateau":
        assert theirs["lr"] == pytest.approx([0.2, 0.2, 0.1, 0.1, 0.1])
    _same_state(results["mg"][1], results["torch"][1], rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- 3. hooks and inspection


def test_hooks_inspection_and_ema(torch: Any) -> None:
    torch_program, torch_model, mg_program, mg_model, initial = _twins(HOOKS)
    assert mg_program["inspect"](mg_model) == torch_program["inspect"](torch_model) == (
        ["conv", "fc1", "fc2"], 4 * 9 + 4 + 8 + 16 * 10 + 10 + 10 * 3 + 3)
    rng = np.random.default_rng(2)
    data = []
    for _ in range(3):
        x = rng.standard_normal((5, 1, 6, 6)).astype(np.float32)
        data.append((x, (x[:, 0, :3].sum(axis=(1, 2)) > 0).astype(np.int64) + (x[:, 0, 3:].sum(axis=(1, 2)) > 0)))
    batches = [(mg_program["torch"].from_numpy(x), mg_program["torch"].from_numpy(y)) for x, y in data]
    torch_batches = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in data]
    ours = mg_program["train"](mg_model, batches, 6)
    theirs = torch_program["train"](torch_model, torch_batches, 6)
    for index, name in enumerate(("losses", "norms", "grad_norms", "features")):
        np.testing.assert_allclose(ours[index], theirs[index], rtol=1e-5, atol=1e-6, err_msg=name)
    assert ours[6] == theirs[6] == 6   # the backward hook ran once per step, and not after its removal
    _same_state(mg_model, torch_model)
    _same_state(ours[4], theirs[4])    # AveragedModel: n_averaged and module.* (the EMA weights)
    for name, value in theirs[5].items():
        np.testing.assert_allclose(ours[5][name].numpy(), value.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(ours[4](batches[0][0]).detach().numpy(),
                               theirs[4](torch_batches[0][0]).detach().numpy(), rtol=1e-5, atol=1e-6)
    flat, doubled = mg_program["flat_round_trip"](mg_model)
    torch_flat, torch_doubled = torch_program["flat_round_trip"](torch_model)
    np.testing.assert_allclose(flat, torch_flat, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(doubled, flat * 2)
    np.testing.assert_allclose(doubled, torch_doubled, rtol=1e-5, atol=1e-6)
    assert mg_program["clip_nonfinite"](mg_model, *batches[0])
    assert torch_program["clip_nonfinite"](torch_model, *torch_batches[0])


def test_autocast_takes_bfloat16_and_the_torch_cuda_amp_spellings(monkeypatch: pytest.MonkeyPatch) -> None:
    """``torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_amp)`` (raised TypeError: no bfloat16 in NumPy,
    though autocast changes no dtype either way) and ``from torch.cuda.amp import GradScaler, autocast`` with
    that module's arguments (raised ModuleNotFoundError; ``autocast(enabled=...)`` raised for a missing device)."""
    import minigrad as mg  # noqa: PLC0415

    with mg.autocast(device_type="cpu", dtype=mg.bfloat16, enabled=False):
        assert (mg.ones(2) * 2).dtype == mg.float32
    assert mg.autocast("cuda", dtype="bfloat16", enabled=False).fast_dtype == "bfloat16"
    from minigrad.cuda.amp import GradScaler, autocast  # noqa: PLC0415

    assert mg.cuda.amp.autocast is autocast and mg.cuda.amp.GradScaler is GradScaler
    with autocast(enabled=False):
        pass
    assert autocast().device_type == "cuda"
    monkeypatch.setattr(mg.backend, "cuda_is_available", lambda: True)
    assert GradScaler(1024.0).get_scale() == 1024.0   # the first argument is init_scale, not a device
    assert GradScaler(enabled=False).get_scale() == 1.0


@pytest.mark.parametrize("kind", ["register_full_backward_hook", "register_full_backward_pre_hook"])
def test_a_module_backward_hook_must_keep_the_gradients_shape_and_dtype(torch: Any, kind: str) -> None:
    """A module's backward (pre-)hook returning a gradient of another shape or dtype: PyTorch raises RuntimeError;
    minigrad sent the wrong-shaped gradient on, silently broadcast into the weights' gradients."""
    import minigrad as mg  # noqa: PLC0415
    import nn  # noqa: PLC0415

    for replace in (lambda g: g[:1], lambda g: g.double()):
        for lib, layers in ((torch, torch.nn), (mg, nn)):
            model = layers.Sequential(layers.Linear(3, 4), layers.Linear(4, 2))
            getattr(model[1], kind)(lambda module, *grads, replace=replace: (replace(grads[0][0]),))
            with pytest.raises(RuntimeError):
                model(lib.ones(5, 3)).sum().backward()
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    getattr(model[1], kind)(lambda module, *grads: (grads[0][0] * 2,))   # same shape and dtype: taken
    model(mg.ones(5, 3)).sum().backward()
    assert model[0].bias.grad.shape == (4,)
