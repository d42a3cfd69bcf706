"""Three PyTorch programs that work on autograd itself (input gradients, custom Functions), run on torch and on
minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program, cut to a small model, a few steps and
generated data (the helpers and the rule come from tests/test_pytorch_programs.py):

* ``ADVERSARIAL`` mirrors the tutorial "Adversarial Example Generation"
  (https://pytorch.org/tutorials/beginner/fgsm_tutorial.html): ``data.requires_grad = True``,
  ``output.max(1, keepdim=True)[1]``, ``init_pred.item() != target.item()``, ``F.nll_loss``,
  ``model.zero_grad()``, the input's gradient's ``sign()``, ``torch.clamp(perturbed, 0, 1)``, a ``denorm``
  with ``torch.tensor(mean).view(1, -1, 1, 1)``, re-normalisation as ``transforms.Normalize`` does it, and
  ``perturbed.squeeze().detach().cpu().numpy()``; then the iterated, projected attack (PGD) of the common
  robustness tutorials: ``torch.max(torch.min(x, x0 + eps), x0 - eps)``;
* ``DOMAIN_ADVERSARIAL`` mirrors the DANN of fungtion/DANN (https://github.com/fungtion/DANN): the gradient
  reversal layer as a ``torch.autograd.Function`` (``ctx.alpha``, ``x.view_as(x)``, ``grad_output.neg() *
  ctx.alpha``, ``return output, None``) called as ``ReverseLayerF.apply(feature, alpha)``, the alpha schedule
  ``2 / (1 + exp(-10 p)) - 1``, two ``NLLLoss`` heads; with a straight-through estimator of the binarised-
  network papers (``(x > 0).float()`` forward, identity backward through ``ctx.save_for_backward`` /
  ``ctx.saved_tensors`` / ``ctx.needs_input_grad``), and the ``ctx.mark_non_differentiable`` and
  ``ctx.set_materialize_grads(False)`` examples of PyTorch's "Extending PyTorch" notes;
* ``ATTRIBUTION`` mirrors CS231n's saliency maps (``X.requires_grad_()``, ``scores.gather(1, y.view(-1,
  1)).squeeze()``, ``scores.backward(torch.ones_like(scores))``, ``X.grad.abs().max(dim=1)[0]``) and
  integrated gradients as Captum's tutorials explain them (a ``torch.linspace(0, 1, steps)`` path from a
  baseline, ``torch.autograd.grad(outputs, inputs, grad_outputs=torch.ones_like(outputs))``), with the
  input-gradient habits around them: ``retain_graph=True`` twice, ``allow_unused=True`` giving None,
  ``backward(inputs=[x])``, ``x.grad.zero_()``, ``torch.set_grad_enabled(False)`` as a call and as a block,
  and ``torch.inference_mode()`` results (``is_inference()``; refused by autograd as torch refuses them).

``data.grad.data`` (the tutorial's spelling) is the NumPy array in minigrad, deliberately (README, "Coming from
PyTorch"), so the program reads ``data.grad``; ``test_grad_data_is_the_array`` pins the difference.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import (
    MINIGRAD_IMPORTS,
    TORCH_IMPORTS,
    _assert_same_weights,
    _copy_weights,
    _program,
    _twin_models,
)

TORCH_IMPORTS_AUTOGRAD = TORCH_IMPORTS + """\
from torch.autograd import Function
from torch.utils.data import DataLoader, TensorDataset
"""

MINIGRAD_IMPORTS_AUTOGRAD = MINIGRAD_IMPORTS + """\
from minigrad.autograd import Function
from minigrad.utils.data import DataLoader, TensorDataset
"""


ADVERSARIAL = '''
MEAN, STD = (0.1307,), (0.3081,)


class SmallLeNet(nn.Module):
    """(N, 1, 12, 12) normalised images to (N, 10) log-probabilities."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, kernel_size=3)
        self.conv2 = nn.Conv2d(4, 6, kernel_size=3)
        self.fc1 = nn.Linear(54, 16)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(self.conv2(x))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return F.log_softmax(self.fc2(x), dim=1)


class Normalize(nn.Module):
    """transforms.Normalize(mean, std) on a batch: (x - mean) / std per channel."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


def make_model():
    return SmallLeNet()


def pretrain(model, loader, epochs=6):
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    model.train()
    for _ in range(epochs):
        for data, target in loader:
            optimizer.zero_grad()
            loss = F.nll_loss(model(data), target)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses


def fgsm_attack(image, epsilon, data_grad):
    """One step of size epsilon along the sign of the loss's gradient, kept in the [0, 1] pixel range."""
    sign_data_grad = data_grad.sign()
    perturbed_image = image + epsilon * sign_data_grad
    perturbed_image = torch.clamp(perturbed_image, 0, 1)
    return perturbed_image


def denorm(batch, mean=MEAN, std=STD):
    """Normalised images back to pixels."""
    if isinstance(mean, (list, tuple)):
        mean = torch.tensor(mean)
    if isinstance(std, (list, tuple)):
        std = torch.tensor(std)
    return batch * std.view(1, -1, 1, 1) + mean.view(1, -1, 1, 1)


def attack(model, test_loader, epsilon):
    """FGSM on every correctly classified test image: the accuracy under attack and the examples made."""
    renormalize = Normalize(MEAN, STD)
    correct = 0
    attacked = 0
    adv_examples = []
    gradients = []
    model.eval()
    for data, target in test_loader:
        data.requires_grad = True
        output = model(data)
        init_pred = output.max(1, keepdim=True)[1]
        if init_pred.item() != target.item():
            continue
        attacked += 1
        loss = F.nll_loss(output, target)
        model.zero_grad()
        loss.backward()
        data_grad = data.grad   # the tutorial: data.grad.data (an array in one engine; see the docstring)
        gradients.append(data_grad.detach().numpy().copy())
        data_denorm = denorm(data)
        perturbed_data = fgsm_attack(data_denorm, epsilon, data_grad)
        perturbed_data_normalized = renormalize(perturbed_data)
        output = model(perturbed_data_normalized)
        final_pred = output.max(1, keepdim=True)[1]
        if final_pred.item() == target.item():
            correct += 1
        adv_ex = perturbed_data.squeeze().detach().cpu().numpy()
        adv_examples.append((init_pred.item(), final_pred.item(), adv_ex))
    final_acc = correct / float(len(test_loader))
    return final_acc, attacked, adv_examples, gradients


def pgd_attack(model, images, labels, eps, alpha, iters):
    """Projected gradient descent on the loss, in pixels: steps of alpha along the gradient's sign, projected
    back into the eps-ball around the original images and into [0, 1]."""
    original = images.clone().detach()
    x = images.clone().detach()
    losses = []
    for _ in range(iters):
        x.requires_grad = True
        loss = F.nll_loss(model(x), labels)
        model.zero_grad()
        loss.backward()
        losses.append(loss.item())
        adv = x + alpha * x.grad.sign()
        x = torch.max(torch.min(adv, original + eps), original - eps)
        x = torch.clamp(x, min=0, max=1).detach()
    return x, losses


def robust_accuracy(model, pixels, labels, eps=0.1, alpha=0.03, iters=4):
    pipeline = nn.Sequential(Normalize(MEAN, STD), model).eval()
    adversarial, losses = pgd_attack(pipeline, pixels, labels, eps, alpha, iters)
    with torch.no_grad():
        clean = (pipeline(pixels).argmax(1) == labels).float().mean().item()
        robust = (pipeline(adversarial).argmax(1) == labels).float().mean().item()
    distance = (adversarial - pixels).abs().max().item()
    return clean, robust, distance, losses, adversarial.numpy()
'''


DOMAIN_ADVERSARIAL = '''
class ReverseLayerF(Function):
    """Identity forward; the gradient negated and scaled by alpha on the way back."""

    @staticmethod
    def forward(ctx, x, alpha):
        ctx.alpha = alpha
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output):
        output = grad_output.neg() * ctx.alpha
        return output, None


class DomainAdversarialNet(nn.Module):
    """Features shared by a label head and (through the reversal) a domain head; both give log-probabilities."""

    def __init__(self, features=6, classes=3):
        super().__init__()
        self.feature = nn.Sequential(nn.Linear(features, 12), nn.ReLU(True), nn.Linear(12, 8), nn.ReLU(True))
        self.class_classifier = nn.Sequential(nn.Linear(8, 8), nn.ReLU(True), nn.Linear(8, classes),
                                              nn.LogSoftmax(dim=1))
        self.domain_classifier = nn.Sequential(nn.Linear(8, 8), nn.ReLU(True), nn.Linear(8, 2),
                                               nn.LogSoftmax(dim=1))

    def forward(self, input_data, alpha):
        feature = self.feature(input_data)
        reverse_feature = ReverseLayerF.apply(feature, alpha)
        class_output = self.class_classifier(feature)
        domain_output = self.domain_classifier(reverse_feature)
        return class_output, domain_output


def make_model():
    return DomainAdversarialNet()


def train_dann(my_net, source_loader, target_loader, n_epoch=2, lr=0.01):
    optimizer = optim.Adam(my_net.parameters(), lr=lr)
    loss_class = torch.nn.NLLLoss()
    loss_domain = torch.nn.NLLLoss()
    len_dataloader = min(len(source_loader), len(target_loader))
    history = []
    for epoch in range(n_epoch):
        data_target_iter = iter(target_loader)
        for i, (s_img, s_label) in enumerate(source_loader):
            p = float(i + epoch * len_dataloader) / n_epoch / len_dataloader
            alpha = 2. / (1. + math.exp(-10 * p)) - 1
            my_net.zero_grad()
            batch_size = len(s_label)
            domain_label = torch.zeros(batch_size).long()
            class_output, domain_output = my_net(input_data=s_img, alpha=alpha)
            err_s_label = loss_class(class_output, s_label)
            err_s_domain = loss_domain(domain_output, domain_label)
            t_img, = next(data_target_iter)
            domain_label = torch.ones(len(t_img)).long()
            _, domain_output = my_net(input_data=t_img, alpha=alpha)
            err_t_domain = loss_domain(domain_output, domain_label)
            err = err_t_domain + err_s_domain + err_s_label
            err.backward()
            optimizer.step()
            history.append((alpha, err_s_label.item(), err_s_domain.item(), err_t_domain.item()))
    return history


def reversal_gradients(alpha):
    """The reversal layer alone: forward is the identity (a new tensor), backward gives -alpha * grad."""
    x = torch.arange(6.).view(2, 3).requires_grad_()
    y = ReverseLayerF.apply(x, alpha)
    (y * torch.tensor([1., 2., 3.])).sum().backward()
    return y.detach().numpy(), y is x, y.requires_grad, x.grad.numpy()


class StraightThroughStep(Function):
    """Binarise in the forward pass; pass the gradient straight through where |x| <= 1 (hard-tanh's)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (x > 0).float()

    @staticmethod
    def backward(ctx, grad_output):
        x, = ctx.saved_tensors
        grad_input = None
        if ctx.needs_input_grad[0]:
            grad_input = grad_output.clone()
            grad_input[x.abs() > 1] = 0
        return grad_input


class BinaryActivationNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(6, 10)
        self.out = nn.Linear(10, 3)

    def forward(self, x):
        return self.out(StraightThroughStep.apply(self.hidden(x)))


def make_binary_model():
    return BinaryActivationNet()


def train_binary(model, inputs, labels, steps=6, lr=0.1):
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(inputs), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def needs_input_grad_seen(x, w):
    """What ctx.needs_input_grad says for a tensor that needs grad, one that does not, and a number."""
    seen = []

    class Scale(Function):
        @staticmethod
        def forward(ctx, a, b, factor):
            seen.append(ctx.needs_input_grad)
            ctx.factor = factor
            return a * b * factor

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output * ctx.factor, grad_output * ctx.factor, None

    Scale.apply(x, w, 2.0).sum().backward()
    return seen


class SortWithIndices(Function):
    """Sorted values (differentiable) and their indices (marked non-differentiable)."""

    @staticmethod
    def forward(ctx, x):
        values, indices = x.sort(dim=-1)
        ctx.mark_non_differentiable(indices)
        ctx.save_for_backward(indices)
        return values, indices

    @staticmethod
    def backward(ctx, grad_values, grad_indices):
        indices, = ctx.saved_tensors
        grad_input = torch.zeros_like(grad_values)
        grad_input.scatter_(-1, indices, grad_values)
        return grad_input


ARRIVED = []


class SplitScale(Function):
    """Two outputs, 2x and x**2; with set_materialize_grads(False) an unused output's gradient arrives as None."""

    @staticmethod
    def forward(ctx, x):
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(x)
        return x * 2, x ** 2

    @staticmethod
    def backward(ctx, grad_double, grad_square):
        ARRIVED.append((grad_double is None, grad_square is None))
        x, = ctx.saved_tensors
        grad_input = torch.zeros_like(x)
        if grad_double is not None:
            grad_input = grad_input + 2 * grad_double
        if grad_square is not None:
            grad_input = grad_input + 2 * x * grad_square
        return grad_input


def ctx_features(x):
    x = x.clone().requires_grad_()
    values, indices = SortWithIndices.apply(x)
    flags = (values.requires_grad, indices.requires_grad, indices.dtype == torch.long)
    (values * torch.arange(1., x.shape[-1] + 1)).sum().backward()
    sort_grad = x.grad.numpy().copy()
    x.grad = None
    ARRIVED.clear()
    double, square = SplitScale.apply(x)
    double.sum().backward()
    only_double = x.grad.numpy().copy()
    x.grad = None
    double, square = SplitScale.apply(x)
    (double.sum() + square.sum()).backward()
    both = x.grad.numpy().copy()
    return flags, sort_grad, list(ARRIVED), only_double, both
'''


ATTRIBUTION = '''
class TinyConvNet(nn.Module):
    """(N, 3, 8, 8) images to (N, 4) class scores."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 5, kernel_size=3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(20, 4)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(torch.tanh(self.conv(x))), 1))


def make_model():
    return TinyConvNet()


def compute_saliency_maps(X, y, model):
    """|d score_y / d X|, its largest value over the colour channels: (N, H, W)."""
    model.eval()
    X = X.clone()
    X.requires_grad_()
    scores = model(X)
    scores = scores.gather(1, y.view(-1, 1)).squeeze()
    scores.backward(torch.ones_like(scores))
    saliency = X.grad.abs().max(dim=1)[0]
    return saliency.numpy(), [p.grad is None for p in model.parameters()]


def integrated_gradients(model, x, target, steps=9, baseline=None):
    """(x - baseline) times the average gradient of the target's score along the straight path (trapezoid)."""
    if baseline is None:
        baseline = torch.zeros_like(x)
    alphas = torch.linspace(0, 1, steps)
    path = baseline + alphas.view(-1, 1, 1, 1) * (x - baseline)
    path.requires_grad_()
    outputs = model(path)[:, target]
    grads, = torch.autograd.grad(outputs, path, grad_outputs=torch.ones_like(outputs))
    average = ((grads[:-1] + grads[1:]) / 2).mean(dim=0, keepdim=True)
    attributions = (x - baseline) * average
    with torch.no_grad():
        gap = (model(x)[0, target] - model(baseline)[0, target]).item()
    return attributions.numpy(), gap, path.grad is None


def gradient_habits(model, x):
    """retain_graph twice, allow_unused, backward(inputs=...), grad.zero_(), set_grad_enabled both ways."""
    record = {}
    x = x.clone().requires_grad_()
    unused = torch.ones(3, requires_grad=True)
    scores = model(x)
    first, second = scores[:, 0].sum(), scores[:, 1].sum()
    first.backward(retain_graph=True)
    record["first"] = x.grad.clone().numpy()
    x.grad.zero_()
    second.backward(retain_graph=True)
    record["second"] = x.grad.clone().numpy()
    (first + second).backward()
    record["sum_accumulated"] = x.grad.numpy().copy()
    model.zero_grad(set_to_none=True)
    x.grad = None
    scores = model(x)
    gx, gu = torch.autograd.grad(scores.sum(), [x, unused], retain_graph=True, allow_unused=True)
    record["unused_is_none"] = gu is None
    record["gx"] = gx.numpy()
    scores.sum().backward(inputs=[x])
    record["only_x"] = [p.grad is None for p in model.parameters()], x.grad is not None
    record["x_grad_equals_gx"] = x.grad.numpy().copy()
    torch.set_grad_enabled(False)
    plain = model(x)
    record["off_by_call"] = (plain.requires_grad, torch.is_grad_enabled())
    torch.set_grad_enabled(True)
    with torch.set_grad_enabled(False):
        inside = model(x)
    record["off_by_block"] = (inside.requires_grad, torch.is_grad_enabled(), model(x).requires_grad)
    return record


def inference_results(model, x):
    """Reference scores made under inference_mode: inference tensors, which autograd refuses to save, as a
    clone is not refused."""
    with torch.inference_mode():
        reference = model(x)
        inside = torch.is_inference_mode_enabled()
    record = {"flags": (reference.is_inference(), reference.requires_grad, x.is_inference(), inside,
                        torch.is_inference_mode_enabled())}
    errors = []
    try:
        reference.requires_grad_()
    except RuntimeError as error:
        errors.append(type(error).__name__)
    try:
        loss = F.mse_loss(model(x), reference)
        loss.backward()
    except RuntimeError as error:
        errors.append(type(error).__name__)
    model.zero_grad()
    loss = F.mse_loss(model(x), reference.clone())
    loss.backward()
    record["errors"] = errors
    record["clone_loss"] = loss.item()
    record["clone_is_inference"] = reference.clone().is_inference()
    record["reference"] = reference.numpy()
    return record
'''

PROGRAMS = (ADVERSARIAL, DOMAIN_ADVERSARIAL, ATTRIBUTION)


def _twins(source: str, factory: str = "make_model") -> tuple:
    """Both programs, and ``factory``'s model in each, minigrad's loaded with torch's initial weights."""
    return _twin_models(source, imports=(TORCH_IMPORTS_AUTOGRAD, MINIGRAD_IMPORTS_AUTOGRAD), factory=factory)


def _loader(program: dict, *arrays: np.ndarray, batch_size: int = 1) -> Any:
    lib = program["torch"]
    return program["DataLoader"](program["TensorDataset"](*(lib.from_numpy(a) for a in arrays)), batch_size)


def test_the_programs_differ_only_in_their_imports() -> None:
    assert TORCH_IMPORTS_AUTOGRAD.count("\n") == MINIGRAD_IMPORTS_AUTOGRAD.count("\n") == 7
    for torch_line, mg_line in zip(TORCH_IMPORTS_AUTOGRAD.splitlines()[5:], MINIGRAD_IMPORTS_AUTOGRAD.splitlines()[5:]):
        assert torch_line.replace("torch", "minigrad") == mg_line
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. FGSM and PGD


def _band_images(count: int, seed: int) -> tuple:
    """Pixels in [0, 1], (count, 1, 12, 12): the label is the brightest of 5 horizontal bands (classes 0-4)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 5, count)
    pixels = rng.random((count, 1, 12, 12)) * 0.5
    for row, label in enumerate(labels):
        pixels[row, 0, 2 * label + 1:2 * label + 3] += 0.5
    return pixels.astype(np.float32), labels.astype(np.int64)


def test_fgsm_and_pgd_attacks(torch: Any) -> None:
    pixels, labels = _band_images(48, 0)
    normalised = ((pixels - 0.1307) / 0.3081).astype(np.float32)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(ADVERSARIAL)
    losses = mg_program["pretrain"](mg_model, _loader(mg_program, normalised[:32], labels[:32], batch_size=8))
    expected = torch_program["pretrain"](torch_model, _loader(torch_program, normalised[:32], labels[:32],
                                                              batch_size=8))
    np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-6)
    _assert_same_weights(torch_model, mg_model, initial)
    # the attacks from the same trained weights (24 float32 steps leave ~1e-5 relative differences, which
    # the input gradients of small entries amplify)
    mg_model.load_state_dict(_copy_weights(torch_model, mg_program))
    accuracies = []
    for epsilon in (0.0, 0.1):
        ours = mg_program["attack"](mg_model, _loader(mg_program, normalised[32:], labels[32:]), epsilon)
        theirs = torch_program["attack"](torch_model, _loader(torch_program, normalised[32:], labels[32:]), epsilon)
        assert ours[:2] == theirs[:2] and ours[1] >= 3   # accuracy under attack, images attacked
        for our_grad, their_grad in zip(ours[3], theirs[3]):
            np.testing.assert_allclose(our_grad, their_grad, rtol=1e-4, atol=1e-8)
        for (init, final, example), (init_t, final_t, example_t) in zip(ours[2], theirs[2]):
            assert (init, final) == (init_t, final_t) and example.shape == (12, 12)
            np.testing.assert_allclose(example, example_t, rtol=1e-5, atol=1e-6)
        accuracies.append(ours[0])
    assert accuracies[1] < accuracies[0]
    clean, robust, distance, pgd_losses, adversarial = mg_program["robust_accuracy"](
        mg_model, mg_program["torch"].from_numpy(pixels[32:]), mg_program["torch"].from_numpy(labels[32:]))
    expected = torch_program["robust_accuracy"](torch_model, torch.from_numpy(pixels[32:]),
                                                torch.from_numpy(labels[32:]))
    assert (clean, robust) == expected[:2] and robust < clean
    assert distance == pytest.approx(expected[2]) and distance <= 0.1 + 1e-6
    np.testing.assert_allclose(pgd_losses, expected[3], rtol=1e-5)
    assert pgd_losses[-1] > pgd_losses[0]   # the attack climbs the loss
    np.testing.assert_allclose(adversarial, expected[4], rtol=1e-5, atol=1e-6)


def test_grad_data_is_the_array() -> None:
    """The tutorial's ``data.grad.data``: PyTorch's is a Tensor; minigrad's ``.data`` is the array, deliberately
    (README, "Deliberately different"), so ``np.sign`` reads it where the tutorial calls ``.sign()``."""
    import minigrad as mg  # noqa: PLC0415

    x = mg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x * mg.tensor([-1.0, 0.0, 2.0])).sum().backward()
    assert isinstance(x.grad.data, np.ndarray)
    np.testing.assert_array_equal(np.sign(x.grad.data), [-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(x.grad.sign().numpy(), [-1.0, 0.0, 1.0])


# ----------------------------------------------------------------------------- 2. DANN and custom Functions


def test_dann_with_gradient_reversal(torch: Any) -> None:
    rng = np.random.default_rng(1)
    source = rng.standard_normal((24, 6)).astype(np.float32)
    source_labels = (source[:, 0] > 0).astype(np.int64) + (source[:, 1] > 0.5)
    target = (rng.standard_normal((24, 6)) * 1.5 + 0.5).astype(np.float32)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(DOMAIN_ADVERSARIAL)
    history = mg_program["train_dann"](mg_model, _loader(mg_program, source, source_labels, batch_size=6),
                                       _loader(mg_program, target, batch_size=6))
    expected = torch_program["train_dann"](torch_model, _loader(torch_program, source, source_labels, batch_size=6),
                                           _loader(torch_program, target, batch_size=6))
    assert len(history) == 8 and history[0][0] == 0.0
    np.testing.assert_allclose(history, expected, rtol=1e-5, atol=1e-6)
    _assert_same_weights(torch_model, mg_model, initial)
    for alpha in (0.0, 0.5):
        ours, theirs = mg_program["reversal_gradients"](alpha), torch_program["reversal_gradients"](alpha)
        np.testing.assert_array_equal(ours[0], theirs[0])
        assert ours[1:3] == theirs[1:3] == (False, True)
        np.testing.assert_array_equal(ours[3], theirs[3])
        np.testing.assert_array_equal(ours[3], -alpha * np.tile([1.0, 2.0, 3.0], (2, 1)))


def test_straight_through_estimator(torch: Any) -> None:
    rng = np.random.default_rng(2)
    inputs = rng.standard_normal((16, 6)).astype(np.float32)
    labels = rng.integers(0, 3, 16)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(DOMAIN_ADVERSARIAL, "make_binary_model")
    losses = mg_program["train_binary"](mg_model, mg_program["torch"].from_numpy(inputs),
                                        mg_program["torch"].from_numpy(labels))
    expected = torch_program["train_binary"](torch_model, torch.from_numpy(inputs), torch.from_numpy(labels))
    np.testing.assert_allclose(losses, expected, rtol=1e-5)
    _assert_same_weights(torch_model, mg_model, initial)
    for program in (mg_program, torch_program):
        lib = program["torch"]
        seen = program["needs_input_grad_seen"](lib.ones(2, requires_grad=True), lib.ones(2))
        assert seen == [(True, False, False)]


def test_ctx_mark_non_differentiable_and_set_materialize_grads(torch: Any) -> None:
    x = np.array([[3.0, 1.0, 2.0], [0.5, -1.0, 4.0]], dtype=np.float32)
    ours = _program(DOMAIN_ADVERSARIAL, MINIGRAD_IMPORTS_AUTOGRAD)
    theirs = _program(DOMAIN_ADVERSARIAL, TORCH_IMPORTS_AUTOGRAD)
    result = ours["ctx_features"](ours["torch"].from_numpy(x))
    expected = theirs["ctx_features"](torch.from_numpy(x))
    assert result[0] == expected[0] == (True, False, True)
    assert result[2] == expected[2] == [(False, True), (False, False)]
    for mine, reference in zip(result[1:2] + result[3:], expected[1:2] + expected[3:]):
        np.testing.assert_array_equal(mine, reference)


# ----------------------------------------------------------------------------- 3. saliency, integrated gradients


def _images(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((count, 3, 8, 8)).astype(np.float32)


def test_saliency_maps_and_integrated_gradients(torch: Any) -> None:
    images = _images(4, 3)
    classes = np.array([0, 3, 1, 3])
    torch_program, torch_model, mg_program, mg_model, initial = _twins(ATTRIBUTION)
    mg = mg_program["torch"]
    saliency, untouched = mg_program["compute_saliency_maps"](mg.from_numpy(images), mg.from_numpy(classes), mg_model)
    expected, untouched_t = torch_program["compute_saliency_maps"](torch.from_numpy(images),
                                                                   torch.from_numpy(classes), torch_model)
    assert saliency.shape == (4, 8, 8)
    np.testing.assert_allclose(saliency, expected, rtol=1e-5, atol=1e-8)
    assert untouched == untouched_t == [False] * 4   # the backward also reached the parameters
    attributions, gap, no_path_grad = mg_program["integrated_gradients"](mg_model, mg.from_numpy(images[:1]), 2)
    expected = torch_program["integrated_gradients"](torch_model, torch.from_numpy(images[:1]), 2)
    np.testing.assert_allclose(attributions, expected[0], rtol=1e-5, atol=1e-8)
    assert gap == pytest.approx(expected[1], rel=1e-5) and no_path_grad and expected[2]
    assert attributions.sum() == pytest.approx(gap, rel=0.1)   # completeness, up to the path's discretisation


def test_input_gradient_habits(torch: Any) -> None:
    images = _images(2, 4)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(ATTRIBUTION)
    ours = mg_program["gradient_habits"](mg_model, mg_program["torch"].from_numpy(images))
    theirs = torch_program["gradient_habits"](torch_model, torch.from_numpy(images))
    assert ours.keys() == theirs.keys()
    for key, value in ours.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_allclose(value, theirs[key], rtol=1e-5, atol=1e-8, err_msg=key)
        else:
            assert value == theirs[key], key
    np.testing.assert_allclose(ours["sum_accumulated"], ours["first"] + 2 * ours["second"], rtol=1e-5, atol=1e-8)
    assert ours["only_x"] == ([True] * 4, True) and ours["unused_is_none"]
    assert ours["off_by_call"] == (False, False) and ours["off_by_block"] == (False, True, True)


def test_inference_mode_results(torch: Any) -> None:
    """The scores under ``inference_mode`` are the same numbers. What differs is documented (minigrad/ops/
    inference.py): minigrad makes no inference tensors, so ``is_inference()`` is False and autograd accepts the
    tensor that PyTorch refuses (``requires_grad_()``, saving it for a backward) with the same values, where
    PyTorch's program needs a ``clone()``. Being more permissive gives no different number: the clone path,
    which both run, agrees."""
    images = _images(2, 5)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(ATTRIBUTION)
    ours = mg_program["inference_results"](mg_model, mg_program["torch"].from_numpy(images))
    theirs = torch_program["inference_results"](torch_model, torch.from_numpy(images))
    assert theirs["flags"] == (True, False, False, True, False)
    assert ours["flags"] == (False, False, False, True, False)   # reference.is_inference(): no inference tensors
    assert theirs["errors"] == ["RuntimeError", "RuntimeError"] and ours["errors"] == []
    assert ours["clone_loss"] == theirs["clone_loss"] == 0.0
    assert ours["clone_is_inference"] is theirs["clone_is_inference"] is False
    np.testing.assert_allclose(ours["reference"], theirs["reference"], rtol=1e-5, atol=1e-7)


# ----------------------------------------------------------------------------- regressions found by the programs


def test_a_gradient_of_the_wrong_shape_raises_runtime_error_as_torch(torch: Any) -> None:
    """``y.backward(g)`` / ``grad(grad_outputs=)`` with the wrong shape: PyTorch raises RuntimeError (minigrad
    raised ValueError only; the class now is both)."""
    import minigrad as mg  # noqa: PLC0415

    for lib in (torch, mg):
        x = lib.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError):
            (x * 2).backward(lib.ones(2))
        with pytest.raises(RuntimeError):
            lib.autograd.grad(x * 2, x, grad_outputs=lib.ones(1))
    with pytest.raises(ValueError, match=r"grad has shape \(2,\) but the tensor has shape \(3,\)"):
        (mg.ones(3, requires_grad=True) * 2).backward(mg.ones(2))


KEYWORD_FUNCTIONS = """
SEEN = []


class Scale(Function):
    @staticmethod
    def forward(ctx, x, factor=2.0, shift=0.0):
        ctx.factor = factor
        SEEN.append(ctx.needs_input_grad)
        return x * factor + shift

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.factor, None, None


class ScaleSetup(Function):
    @staticmethod
    def forward(x, factor=2.0):
        return x * factor

    @staticmethod
    def setup_context(ctx, inputs, output):
        SEEN.append(len(inputs))
        ctx.factor = inputs[1]

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.factor, None


def run(x):
    results = []
    for fn, args, kwargs in ((Scale, (x,), {"factor": 3.0}), (Scale, (), {"x": x}), (Scale, (x,), {"shift": 1.0}),
                             (Scale, (x, 1.0), {"factor": 5.0}), (Scale, (x,), {"scale": 1.0}),
                             (ScaleSetup, (x,), {}), (ScaleSetup, (x,), {"factor": 4.0})):
        x.grad = None
        SEEN.clear()
        try:
            y = fn.apply(*args, **kwargs)
        except TypeError as error:
            results.append(("TypeError", str(error).split("() ")[-1].replace("got multiple", "multiple")))
            continue
        y.sum().backward()
        results.append((y.tolist(), x.grad.tolist(), SEEN[0]))
    return results
"""


def test_function_apply_binds_keywords_as_torch(torch: Any) -> None:
    """``Function.apply(x, factor=3.0)``: PyTorch binds keywords to forward's positional parameters (they count in
    ``needs_input_grad``; a keyword may not skip one), and with ``setup_context`` fills in the defaults, which
    ``setup_context`` reads among ``inputs``. minigrad refused keywords, and gave ``setup_context`` no defaults."""
    ours = _program(KEYWORD_FUNCTIONS, MINIGRAD_IMPORTS_AUTOGRAD)["run"](
        _program("", MINIGRAD_IMPORTS_AUTOGRAD)["torch"].ones(2, requires_grad=True))
    theirs = _program(KEYWORD_FUNCTIONS, TORCH_IMPORTS_AUTOGRAD)["run"](torch.ones(2, requires_grad=True))
    assert ours == theirs
    assert theirs[0] == ([3.0, 3.0], [3.0, 3.0], (True, False)) and theirs[1][2] == (True,)
    assert theirs[2] == ("TypeError", "missing required argument: 'factor' (position 1)")
    assert theirs[3] == ("TypeError", "multiple values for argument 'factor'")
    assert theirs[4] == ("TypeError", "got an unexpected keyword argument 'scale'")
    assert theirs[5:] == [([2.0, 2.0], [2.0, 2.0], 2), ([4.0, 4.0], [4.0, 4.0], 2)]   # the default among inputs
