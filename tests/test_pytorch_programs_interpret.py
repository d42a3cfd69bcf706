"""Four PyTorch programs that optimise or differentiate with respect to their inputs, run on torch and on minigrad:
only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program (the helpers and the rule come from
tests/test_pytorch_programs.py), cut to a tiny random CNN, a few steps and generated images:

* ``STYLE_TRANSFER`` mirrors the PyTorch tutorial "Neural Transfer Using PyTorch"
  (https://pytorch.org/tutorials/advanced/neural_style_tutorial.html) on a tiny random CNN in place of VGG-19:
  ``ContentLoss``/``StyleLoss`` modules that store ``self.loss`` and pass their input through, the Gram matrix
  ``torch.mm(features, features.t()).div(a * b * c * d)``, a ``Normalization`` module from
  ``torch.tensor(mean).view(-1, 1, 1)``, the layers re-added one by one to a fresh ``nn.Sequential`` with
  ``add_module`` (``nn.ReLU(inplace=False)`` swapped in), the model cut after its last loss module by slicing,
  ``input_image.requires_grad_(True)``, ``model.requires_grad_(False)``, ``optim.LBFGS([input_image])`` stepped with a
  closure that clamps the image first, plus a total-variation loss. The tutorial's ``input_img.data.clamp_(0, 1)``
  is written ``with torch.no_grad(): input_image.clamp_(0, 1)`` (minigrad's ``.data`` is the array: README);
* ``DEEP_DREAM`` follows the DeepDream programs written for PyTorch (e.g. the gradient-ascent loop of
  eriklindernoren/PyTorch-Deep-Dream and of the Lucent/"pytorch-deepdream" repositories): an intermediate
  activation captured by ``register_forward_hook`` (``handle.remove()`` after), gradient ascent on the image's
  ``norm``, the gradient normalised by its mean absolute value, random jitter by ``torch.roll(shifts, dims)``
  undone after each step, and octaves made by ``F.interpolate(mode="bilinear", align_corners=False)`` with the
  detail carried from octave to octave;
* ``ADVERSARIAL_ATTACKS`` mirrors Madry et al.'s PGD as torchattacks (https://github.com/Harry24k/adversarial-attacks-
  pytorch) and advertorch write it: L-inf PGD with a uniform random start, ``grad.sign()`` steps and projection by
  ``torch.clamp(x, min=x0 - eps, max=x0 + eps)``; L2 PGD with a random start inside the ball, steps along the
  normalised gradient and projection by ``torch.renorm(delta, p=2, dim=0, maxnorm=eps)``; Carlini-Wagner L2 with
  the ``w`` variable in tanh space (``atanh`` of the clamped image), ``optim.Adam([w])``, the f function from the
  true logit (``gather``) and the best other one (``masked_fill(one_hot, -inf).max(1)`` and ``topk(2)``),
  ``torch.clamp(real - other, min=-kappa)`` and the per-example best adversarial kept by masks; then adversarial
  training of the model on its own PGD examples (``model.eval()`` to attack, ``model.train()`` to learn);
* ``ATTRIBUTION`` mirrors the attribution methods as Captum (https://captum.ai) and the pytorch-grad-cam and
  utkuozbulak/pytorch-cnn-visualizations repositories write them: Integrated Gradients over a batch of
  interpolated images (``torch.linspace``, one ``torch.autograd.grad`` call, the trapezoid rule both by hand and by
  ``torch.trapezoid``), SmoothGrad (noisy copies from ``randn_like``), Grad-CAM
  (``register_forward_hook`` and ``register_full_backward_hook`` on the last conv layer, channel weights from the
  gradient's mean over H, W, ``F.relu((weights * activations).sum(1))``, ``F.interpolate`` to the input size),
  guided backprop (``register_full_backward_hook`` on every ``nn.ReLU`` returning ``(grad_input[0].clamp(min=0),)``)
  and input x gradient.

Random draws (the attacks' random starts, SmoothGrad's noise, DeepDream's jitter) come from
tests/test_pytorch_programs_generative.py's ``_shared_draws``, so both runs read the same numbers. Images,
attributions and losses are compared step by step: float32 to ~1e-5, float64 to ~1e-10. FGSM and a plain
PGD loop, CS231n saliency and a first integrated-gradients path are in tests/test_pytorch_programs_autograd.py.

What the programs found: every value and gradient agreed with torch on the first run, and probes of the ops
around them (hooks used twice, on containers, under ``no_grad``, returning None; gradients at the kinks of
``clamp``/``max``/``norm``/``renorm``/``topk`` ties; ``LBFGS`` with ``strong_wolfe``; ``trapezoid``; every
``F.interpolate`` mode) agreed too, error classes included. Two differences are by design and pinned at the end:
a full backward hook on an in-place ReLU works (torch refuses it), and the deprecated ``register_backward_hook``
is refused by name. Not a bug: Carlini-Wagner started at ``w = atanh(2x - 1)`` on an example that is already
misclassified has a zero f term, and what gradient is left, of ``||tanh(w) / 2 + 1/2 - x||^2``, is float
rounding noise that Adam's first steps (``g / (sqrt(g^2) + eps)``) scale up to the learning rate; two
implementations of ``tanh``/``atanh`` then take different steps (on torch alone, a different libm would too), so
the attack here is run on the model's own predictions, where the f term carries a true gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import MINIGRAD_IMPORTS, TORCH_IMPORTS, _assert_same_weights, _twin_models
from tests.test_pytorch_programs_detection import _assert_close
from tests.test_pytorch_programs_flow import _lean_torch  # noqa: F401 - autouse: torch lean, _dynamo imported in setup
from tests.test_pytorch_programs_generative import _shared_draws

STYLE_TRANSFER = '''
class ContentLoss(nn.Module):
    """Passes its input through; remembers the mean squared distance of it to the content features."""

    def __init__(self, target):
        super(ContentLoss, self).__init__()
        self.target = target.detach()   # a fixed target, not a value to differentiate

    def forward(self, input):
        self.loss = F.mse_loss(input, self.target)
        return input


def gram_matrix(input):
    """Features (a, b, c, d) -> their (a * b, a * b) Gram matrix, divided by the element count."""
    a, b, c, d = input.size()
    features = input.view(a * b, c * d)
    G = torch.mm(features, features.t())
    return G.div(a * b * c * d)


class StyleLoss(nn.Module):
    """Passes its input through; remembers how far its Gram matrix is from the style image's."""

    def __init__(self, target_feature):
        super(StyleLoss, self).__init__()
        self.target = gram_matrix(target_feature).detach()

    def forward(self, input):
        G = gram_matrix(input)
        self.loss = F.mse_loss(G, self.target)
        return input


class Normalization(nn.Module):
    def __init__(self, mean, std):
        super(Normalization, self).__init__()
        # (C, 1, 1) so that they broadcast against images (B, C, H, W)
        self.mean = torch.tensor(mean).view(-1, 1, 1)
        self.std = torch.tensor(std).view(-1, 1, 1)

    def forward(self, img):
        return (img - self.mean) / self.std


def make_model(dtype="float32"):
    """The feature network: a stand-in for VGG's first blocks (random weights, eval mode)."""
    cnn = nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(6, 6, 3, padding=1), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(inplace=True),
    )
    return cnn.to(getattr(torch, dtype)).eval()


def get_style_model_and_losses(cnn, mean, std, style_image, content_image,
                               content_layers=("conv_4",), style_layers=("conv_1", "conv_2", "conv_3", "conv_4")):
    normalization = Normalization(mean, std)
    content_losses, style_losses = [], []
    model = nn.Sequential(normalization)
    i = 0
    for layer in cnn.children():
        if isinstance(layer, nn.Conv2d):
            i += 1
            name = "conv_{}".format(i)
        elif isinstance(layer, nn.ReLU):
            name = "relu_{}".format(i)
            layer = nn.ReLU(inplace=False)   # the in-place one would overwrite what the loss modules keep
        elif isinstance(layer, nn.MaxPool2d):
            name = "pool_{}".format(i)
        else:
            raise RuntimeError("Unrecognized layer: {}".format(layer.__class__.__name__))
        model.add_module(name, layer)
        if name in content_layers:
            target = model(content_image).detach()
            content_loss = ContentLoss(target)
            model.add_module("content_loss_{}".format(i), content_loss)
            content_losses.append(content_loss)
        if name in style_layers:
            target_feature = model(style_image).detach()
            style_loss = StyleLoss(target_feature)
            model.add_module("style_loss_{}".format(i), style_loss)
            style_losses.append(style_loss)
    # cut off what follows the last loss module
    for i in range(len(model) - 1, -1, -1):
        if isinstance(model[i], ContentLoss) or isinstance(model[i], StyleLoss):
            break
    model = model[:(i + 1)]
    return model, style_losses, content_losses


def total_variation(img):
    return (torch.mean(torch.abs(img[:, :, 1:, :] - img[:, :, :-1, :]))
            + torch.mean(torch.abs(img[:, :, :, 1:] - img[:, :, :, :-1])))


def run_style_transfer(cnn, content_image, style_image, input_image, num_steps=4, style_weight=1000.0,
                       content_weight=1.0, tv_weight=0.1, max_iter=3):
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    model, style_losses, content_losses = get_style_model_and_losses(cnn, mean, std, style_image, content_image)
    input_image.requires_grad_(True)
    model.eval()
    model.requires_grad_(False)
    optimizer = optim.LBFGS([input_image], max_iter=max_iter)
    history = []
    run = [0]
    while run[0] <= num_steps:
        def closure():
            with torch.no_grad():
                input_image.clamp_(0, 1)
            optimizer.zero_grad()
            model(input_image)
            style_score = 0
            content_score = 0
            for sl in style_losses:
                style_score += sl.loss
            for cl in content_losses:
                content_score += cl.loss
            style_score *= style_weight
            content_score *= content_weight
            tv_score = tv_weight * total_variation(input_image)
            loss = style_score + content_score + tv_score
            loss.backward()
            run[0] += 1
            history.append([style_score.item(), content_score.item(), tv_score.item()])
            return style_score + content_score + tv_score
        optimizer.step(closure)
    with torch.no_grad():
        input_image.clamp_(0, 1)
    names = [name for name, _ in model.named_children()]
    return input_image.detach(), history, names
'''

DEEP_DREAM = '''
class LayerActivations:
    """Keeps the output of one module on each forward pass, through a forward hook."""

    def __init__(self, module):
        self.calls = 0
        self.handle = module.register_forward_hook(self.hook)

    def hook(self, module, input, output):
        self.calls += 1
        self.output = output

    def remove(self):
        self.handle.remove()


def make_model():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(),
        nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
    ).eval()


def dream_step(model, activations, image, lr, jitter):
    """One gradient-ascent step on the norm of the hooked activation, the image jittered by a random roll."""
    shift_y, shift_x = torch.randint(-jitter, jitter + 1, (2,)).tolist()
    image = torch.roll(image, shifts=(shift_y, shift_x), dims=(-2, -1))
    image = image.detach().requires_grad_(True)
    model.zero_grad()
    model(image)
    loss = activations.output.norm()
    loss.backward()
    grad = image.grad
    grad = grad / (grad.abs().mean() + 1e-8)   # normalised: the step size does not depend on the scale
    with torch.no_grad():
        image += lr * grad
        image.clamp_(-1.5, 1.5)
    image = torch.roll(image.detach(), shifts=(-shift_y, -shift_x), dims=(-2, -1))
    return image, loss.item()


def deep_dream(model, layer, base_image, octaves=3, octave_scale=1.4, steps=3, lr=0.02, jitter=2):
    activations = LayerActivations(layer)
    pyramid = [base_image]
    for _ in range(octaves - 1):
        height, width = pyramid[-1].shape[-2:]
        smaller = (int(height / octave_scale), int(width / octave_scale))
        pyramid.append(F.interpolate(pyramid[-1], size=smaller, mode="bilinear", align_corners=False))
    detail = torch.zeros_like(pyramid[-1])
    losses, images = [], []
    for octave, octave_base in enumerate(reversed(pyramid)):
        if octave > 0:
            detail = F.interpolate(detail, size=octave_base.shape[-2:], mode="bilinear", align_corners=False)
        image = octave_base + detail
        for _ in range(steps):
            image, loss = dream_step(model, activations, image, lr, jitter)
            losses.append(loss)
        images.append(image)
        detail = image - octave_base
    activations.remove()
    calls = activations.calls
    model(base_image)   # the hook is gone: this pass is not counted
    return images, losses, [calls, activations.calls]
'''

ADVERSARIAL_ATTACKS = '''
class SmallNet(nn.Module):
    def __init__(self, classes=4):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(4, 6, 3, padding=1), nn.Tanh())
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(6 * 4 * 4, 16), nn.ReLU(), nn.Linear(16, classes))

    def forward(self, x):
        return self.classifier(self.features(x))


def make_model(dtype="float32"):
    return SmallNet().to(getattr(torch, dtype))


def pgd_linf(model, images, labels, eps=0.1, alpha=0.03, steps=4, random_start=True):
    images = images.clone().detach()
    adv = images.clone().detach()
    if random_start:
        adv = adv + (torch.rand(*images.shape, dtype=images.dtype) * 2 - 1) * eps
        adv = torch.clamp(adv, min=0, max=1).detach()
    losses = []
    for _ in range(steps):
        adv.requires_grad = True
        cost = F.cross_entropy(model(adv), labels)
        grad = torch.autograd.grad(cost, adv, retain_graph=False, create_graph=False)[0]
        adv = adv.detach() + alpha * grad.sign()
        adv = torch.clamp(adv, min=images - eps, max=images + eps)   # back into the eps-box around the images
        adv = torch.clamp(adv, min=0, max=1).detach()
        losses.append(cost.item())
    return adv, losses


def pgd_l2(model, images, labels, eps=0.5, alpha=0.2, steps=4, eps_for_division=1e-10):
    images = images.clone().detach()
    batch_size = len(images)
    # a random start inside the L2 ball: a random direction, a random radius
    delta = torch.randn_like(images)
    norms = delta.view(batch_size, -1).norm(p=2, dim=1).view(batch_size, 1, 1, 1)
    radius = torch.rand(batch_size, dtype=images.dtype).view(batch_size, 1, 1, 1)
    delta = delta / norms * radius * eps
    adv = torch.clamp(images + delta, min=0, max=1).detach()
    losses = []
    for _ in range(steps):
        adv.requires_grad = True
        cost = F.cross_entropy(model(adv), labels)
        grad = torch.autograd.grad(cost, adv)[0]
        grad_norms = torch.norm(grad.view(batch_size, -1), p=2, dim=1) + eps_for_division
        grad = grad / grad_norms.view(batch_size, 1, 1, 1)
        adv = adv.detach() + alpha * grad
        delta = torch.renorm(adv - images, p=2, dim=0, maxnorm=eps)
        adv = torch.clamp(images + delta, min=0, max=1).detach()
        losses.append(cost.item())
    return adv, losses


def tanh_space(x):
    return 1 / 2 * (torch.tanh(x) + 1)


def inverse_tanh_space(x):
    return torch.atanh(torch.clamp(x * 2 - 1, min=-0.999, max=0.999))


def cw_l2(model, images, labels, c=2.0, kappa=0.0, steps=5, lr=0.05, use_topk=False):
    images = images.clone().detach()
    w = inverse_tanh_space(images).detach()
    w.requires_grad = True
    best_adv = images.clone().detach()
    best_l2 = 1e10 * torch.ones((len(images),), dtype=images.dtype)
    mse = nn.MSELoss(reduction="none")
    flatten = nn.Flatten()
    optimizer = optim.Adam([w], lr=lr)
    history = []
    for _ in range(steps):
        adv = tanh_space(w)
        current_l2 = mse(flatten(adv), flatten(images)).sum(dim=1)
        l2_loss = current_l2.sum()
        outputs = model(adv)
        real = outputs.gather(1, labels.unsqueeze(1)).squeeze(1)
        if use_topk:
            top2 = outputs.topk(2, dim=1)
            other = torch.where(top2.indices[:, 0] == labels, top2.values[:, 1], top2.values[:, 0])
        else:
            one_hot = F.one_hot(labels, num_classes=outputs.shape[1]).bool()
            other = outputs.masked_fill(one_hot, float("-inf")).max(dim=1)[0]
        f_loss = torch.clamp(real - other, min=-kappa).sum()
        cost = l2_loss + c * f_loss
        optimizer.zero_grad()
        cost.backward()
        optimizer.step()
        predicted = torch.argmax(outputs.detach(), 1)
        fooled = (predicted != labels).float()
        mask = fooled * (best_l2 > current_l2.detach()).float()
        best_l2 = mask * current_l2.detach() + (1 - mask) * best_l2
        mask = mask.view([-1] + [1] * (images.dim() - 1))
        best_adv = mask * adv.detach() + (1 - mask) * best_adv
        history.append([cost.item(), f_loss.item(), best_l2.clone()])
    return best_adv, history


def adversarial_training(model, batches, epochs=2, eps=0.1, alpha=0.04, attack_steps=3, lr=0.05):
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    history = []
    for _ in range(epochs):
        for images, labels in batches:
            model.eval()
            adv, _ = pgd_linf(model, images, labels, eps=eps, alpha=alpha, steps=attack_steps)
            model.train()
            loss = F.cross_entropy(model(adv), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                clean_accuracy = (model(images).argmax(1) == labels).float().mean()
            history.append([loss.item(), clean_accuracy.item()])
    return history
'''

ATTRIBUTION = '''
class Classifier(nn.Module):
    def __init__(self, classes=5):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(4, 6, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(6 * 4 * 4, classes)

    def forward(self, x):
        x = self.pool(self.relu2(self.conv2(self.relu1(self.conv1(x)))))
        return self.fc(torch.flatten(x, 1))


def make_model(dtype="float32"):
    return Classifier().to(getattr(torch, dtype)).eval()


def integrated_gradients(model, image, target, baseline=None, steps=8):
    """Trapezoid-rule IG along the straight path baseline -> image: (x - x') * mean of the path gradients."""
    if baseline is None:
        baseline = torch.zeros_like(image)
    alphas = torch.linspace(0, 1, steps + 1, dtype=image.dtype).view(-1, 1, 1, 1)
    path = (baseline + alphas * (image - baseline)).requires_grad_()
    scores = model(path)[:, target]
    grads, = torch.autograd.grad(scores, path, grad_outputs=torch.ones_like(scores))
    average = ((grads[:-1] + grads[1:]) / 2).mean(dim=0, keepdim=True)
    attribution = (image - baseline) * average
    by_trapezoid = (image - baseline) * torch.trapezoid(grads, dx=1.0 / steps, dim=0)
    with torch.no_grad():
        gap = model(image)[0, target] - model(baseline)[0, target]
    return attribution, by_trapezoid, attribution.sum() - gap


def vanilla_gradient(model, image, target):
    image = image.clone().requires_grad_(True)
    model.zero_grad()
    model(image)[0, target].backward()
    return image.grad.detach()


def smooth_grad(model, image, target, samples=4, noise_level=0.15):
    sigma = noise_level * (image.max() - image.min())
    total = torch.zeros_like(image)
    for _ in range(samples):
        noisy = image + torch.randn_like(image) * sigma
        total += vanilla_gradient(model, noisy, target)
    return total / samples


def input_times_gradient(model, image, target):
    return image * vanilla_gradient(model, image, target)


class GradCAM:
    def __init__(self, model, target_layer):
        self.model = model
        self.handles = [target_layer.register_forward_hook(self.save_activation),
                        target_layer.register_full_backward_hook(self.save_gradient)]

    def save_activation(self, module, input, output):
        self.activations = output.detach()

    def save_gradient(self, module, grad_input, grad_output):
        self.gradients = grad_output[0].detach()

    def __call__(self, images, targets=None):
        self.model.zero_grad()
        scores = self.model(images)
        if targets is None:
            targets = scores.argmax(dim=1)
        scores.gather(1, targets.view(-1, 1)).sum().backward()
        weights = self.gradients.mean(dim=(2, 3), keepdim=True)
        cam = F.relu((weights * self.activations).sum(dim=1, keepdim=True))
        cam = F.interpolate(cam, size=images.shape[-2:], mode="bilinear", align_corners=False)
        low = cam.amin(dim=(2, 3), keepdim=True)
        high = cam.amax(dim=(2, 3), keepdim=True)
        return (cam - low) / (high - low + 1e-8), targets

    def remove(self):
        for handle in self.handles:
            handle.remove()


def guided_backprop(model, image, target):
    """The gradient with only positive gradients let back through every ReLU."""
    def clamp_negative(module, grad_input, grad_output):
        return (torch.clamp(grad_input[0], min=0.0),)

    handles = [m.register_full_backward_hook(clamp_negative) for m in model.modules() if isinstance(m, nn.ReLU)]
    try:
        saliency = vanilla_gradient(model, image, target)
    finally:
        for handle in handles:
            handle.remove()
    return saliency


def explain(model, images, rows=None):
    """Every method on the first ``rows`` images (all by default), Grad-CAM on the whole batch."""
    results = {}
    targets = model(images).argmax(dim=1).tolist()
    for row, target in enumerate(targets[:rows]):
        image = images[row:row + 1]
        ig, ig_trapezoid, completeness = integrated_gradients(model, image, target)
        results["ig_{}".format(row)] = ig
        results["ig_trapezoid_{}".format(row)] = ig_trapezoid
        results["completeness_{}".format(row)] = completeness.item()
        results["smooth_{}".format(row)] = smooth_grad(model, image, target)
        results["input_x_grad_{}".format(row)] = input_times_gradient(model, image, target)
        results["guided_{}".format(row)] = guided_backprop(model, image, target)
        results["plain_after_guided_{}".format(row)] = vanilla_gradient(model, image, target)
    cam = GradCAM(model, model.conv2)
    results["cam"], chosen = cam(images)
    cam.remove()
    results["cam_targets"] = chosen.tolist()
    results["targets"] = targets
    return results
'''

PROGRAMS = (STYLE_TRANSFER, DEEP_DREAM, ADVERSARIAL_ATTACKS, ATTRIBUTION)


def _twins(source: str, *args: Any) -> tuple:
    return _twin_models(source, *args, imports=(TORCH_IMPORTS, MINIGRAD_IMPORTS))


def _images(lib: Any, shape: tuple, seed: int, dtype: str = "float32") -> Any:
    """Smooth random images in [0, 1]: a blurred noise field."""
    rng = np.random.default_rng(seed)
    noise = rng.random(shape)
    smooth = (noise + np.roll(noise, 1, -1) + np.roll(noise, 1, -2) + np.roll(noise, (1, 1), (-2, -1))) / 4
    return lib.from_numpy(smooth.astype(dtype))


def test_the_programs_differ_only_in_their_imports() -> None:
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. neural style transfer


@pytest.mark.parametrize("dtype, rtol", [("float32", 1e-5), ("float64", 1e-10)])
def test_neural_style_transfer_with_lbfgs_on_the_image(torch: Any, dtype: str, rtol: float) -> None:
    import minigrad as mg  # noqa: PLC0415

    torch_program, torch_cnn, mg_program, mg_cnn, _ = _twins(STYLE_TRANSFER, dtype)
    shape = (1, 3, 8, 8)
    theirs = torch_program["run_style_transfer"](torch_cnn, _images(torch, shape, 0, dtype),
                                                 _images(torch, shape, 1, dtype), _images(torch, shape, 2, dtype))
    ours = mg_program["run_style_transfer"](mg_cnn, _images(mg, shape, 0, dtype),
                                            _images(mg, shape, 1, dtype), _images(mg, shape, 2, dtype))
    _assert_close(list(ours[:2]), list(theirs[:2]), rtol=rtol, atol=rtol)
    assert ours[2] == theirs[2]
    history = theirs[1]
    assert sum(history[-1]) < 0.5 * sum(history[0])   # the image moved toward the style and content
    assert theirs[2][-1] == "style_loss_4" and "relu_4" not in theirs[2]


# ----------------------------------------------------------------------------- 2. DeepDream


def test_deep_dream_octaves_with_a_forward_hook_and_rolled_jitter(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import minigrad as mg  # noqa: PLC0415

    torch_program, torch_model, mg_program, mg_model, _ = _twins(DEEP_DREAM)
    _shared_draws(monkeypatch, torch, 3)
    base = (1, 3, 11, 11)
    theirs = torch_program["deep_dream"](torch_model, torch_model[3], _images(torch, base, 4) * 2 - 1)
    ours = mg_program["deep_dream"](mg_model, mg_model[3], _images(mg, base, 4) * 2 - 1)
    _assert_close(list(ours), list(theirs), rtol=1e-5, atol=1e-5)
    assert theirs[2] == [9, 9] and [tuple(image.shape[-2:]) for image in theirs[0]] == [(5, 5), (7, 7), (11, 11)]
    assert theirs[1][2] > theirs[1][0]   # gradient ascent raises the activation's norm


# ----------------------------------------------------------------------------- 3. adversarial attacks


def _digits(lib: Any, count: int, seed: int, dtype: str = "float32") -> tuple:
    """(images (count, 1, 8, 8) in [0, 1], labels (count,)): the label says which quadrant is bright."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, count)
    images = rng.random((count, 1, 8, 8)) * 0.3
    for row, label in enumerate(labels):
        top, left = divmod(int(label), 2)
        images[row, 0, 4 * top:4 * top + 4, 4 * left:4 * left + 4] += 0.6
    return lib.from_numpy(images.astype(dtype)), lib.from_numpy(labels.astype(np.int64))


@pytest.mark.parametrize("dtype, rtol", [("float32", 1e-5), ("float64", 1e-10)])
def test_pgd_linf_pgd_l2_and_carlini_wagner(torch: Any, monkeypatch: pytest.MonkeyPatch, dtype: str,
                                            rtol: float) -> None:
    import minigrad as mg  # noqa: PLC0415

    torch_program, torch_model, mg_program, mg_model, _ = _twins(ADVERSARIAL_ATTACKS, dtype)
    _shared_draws(monkeypatch, torch, 5)
    results = []
    for program, model, lib in ((torch_program, torch_model, torch), (mg_program, mg_model, mg)):
        images, labels = _digits(lib, 6, 0, dtype)
        predicted = model(images).argmax(1)
        results.append({
            "linf": program["pgd_linf"](model, images, labels),
            "l2": program["pgd_l2"](model, images, labels),
            # C&W attacks the model's own predictions: on a misclassified row its f term is 0 from the start, and
            # the gradient left, of ||tanh(atanh(x)) - x||^2, is rounding noise that Adam scales up to lr-sized
            # steps (g / (sqrt(g^2) + eps)): any two implementations of tanh/atanh then take different steps
            "cw": program["cw_l2"](model, images, predicted, use_topk=dtype == "float64"),
        })
    theirs, ours = results
    _assert_close(ours, theirs, rtol=rtol, atol=rtol)
    images, _ = _digits(torch, 6, 0, dtype)
    assert float((theirs["linf"][0] - images).abs().max()) <= 0.1 + 1e-6
    assert float((theirs["l2"][0] - images).flatten(1).norm(dim=1).max()) <= 0.5 + 1e-6
    assert theirs["linf"][1][-1] > theirs["linf"][1][0]   # the attacks raise the loss


def test_adversarial_training_on_pgd_examples(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import minigrad as mg  # noqa: PLC0415

    torch_program, torch_model, mg_program, mg_model, initial = _twins(ADVERSARIAL_ATTACKS)
    _shared_draws(monkeypatch, torch, 7)
    theirs = torch_program["adversarial_training"](torch_model, [_digits(torch, 8, seed) for seed in (1, 2)])
    ours = mg_program["adversarial_training"](mg_model, [_digits(mg, 8, seed) for seed in (1, 2)])
    _assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- 4. attribution


@pytest.mark.parametrize("dtype, rtol", [("float32", 1e-5), ("float64", 1e-10)])
def test_integrated_gradients_smoothgrad_gradcam_and_guided_backprop(torch: Any, monkeypatch: pytest.MonkeyPatch,
                                                                     dtype: str, rtol: float) -> None:
    import minigrad as mg  # noqa: PLC0415

    torch_program, torch_model, mg_program, mg_model, _ = _twins(ATTRIBUTION, dtype)
    _shared_draws(monkeypatch, torch, 9)
    rows = 2 if dtype == "float32" else 1
    theirs = torch_program["explain"](torch_model, _images(torch, (2, 3, 8, 8), 6, dtype), rows)
    ours = mg_program["explain"](mg_model, _images(mg, (2, 3, 8, 8), 6, dtype), rows)
    _assert_close(ours, theirs, rtol=rtol, atol=rtol)
    guided, plain = theirs["guided_0"].numpy(), theirs["plain_after_guided_0"].numpy()
    assert not np.allclose(guided, plain)   # the hooks changed the gradient, and were removed after
    image = _images(torch, (2, 3, 8, 8), 6, dtype)[:1].numpy()
    np.testing.assert_allclose(theirs["input_x_grad_0"].numpy(), image * plain, rtol=1e-6)
    assert theirs["cam"].shape == (2, 1, 8, 8) and theirs["cam_targets"] == theirs["targets"]


# ----------------------------------------------------------------------------- what the programs found


def _relu_net(lib: Any, inplace: bool) -> tuple:
    """(Linear 3 -> 4, ReLU) with fixed weights, and the ReLU module."""
    linear, relu = lib.nn.Linear(3, 4), lib.nn.ReLU(inplace=inplace)
    with lib.no_grad():
        linear.weight.copy_(lib.from_numpy(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)))
        linear.bias.fill_(0.1)
    return lib.nn.Sequential(linear, relu), relu


def _guided_gradient(lib: Any, inplace: bool) -> np.ndarray:
    net, relu = _relu_net(lib, inplace)
    relu.register_full_backward_hook(lambda module, grad_input, grad_output: (grad_input[0].clamp(min=0),))
    x = lib.from_numpy(np.array([[0.5, -1.0, 2.0], [1.0, 0.3, -0.2]], dtype=np.float32)).requires_grad_(True)
    (net(x) * lib.from_numpy(np.array([1.0, -2.0, 3.0, -1.0], dtype=np.float32))).sum().backward()
    return x.grad.numpy()


def test_guided_backprop_hook_on_an_in_place_relu(torch: Any) -> None:
    """Guided-backprop code written for ``nn.ReLU(inplace=True)`` models (VGG's): torch refuses a full backward
    hook on an in-place module ("Output 0 of BackwardHookFunctionBackward is a view and is being modified
    inplace"), so such programs swap in out-of-place ReLUs first. minigrad ran it (with the out-of-place
    gradient) until round 21; it now refuses it as torch does (ops/inplace.py's _refuse_hook_view_write)."""
    import minigrad as mg  # noqa: PLC0415

    with pytest.raises(RuntimeError, match="inplace"):
        _guided_gradient(torch, inplace=True)
    with pytest.raises(RuntimeError, match="Output 0 of BackwardHookFunction is a view and is being modified inplace"):
        _guided_gradient(mg, inplace=True)
    expected = _guided_gradient(torch, inplace=False)
    np.testing.assert_allclose(_guided_gradient(mg, inplace=False), expected, rtol=1e-6)


def test_the_deprecated_backward_hook_is_refused_by_name() -> None:
    """Older guided-backprop programs (utkuozbulak/pytorch-cnn-visualizations) call ``register_backward_hook``;
    its gradients are those of the module's last op, so minigrad refuses it and names the full hook
    (nn/hooks.py) rather than give a silently different answer on a multi-op module."""
    import minigrad as mg  # noqa: PLC0415

    _, relu = _relu_net(mg, inplace=False)
    with pytest.raises(NotImplementedError, match="register_full_backward_hook"):
        relu.register_backward_hook(lambda module, grad_input, grad_output: None)
