"""Pruning and weight-reparametrisation programs, small, run unchanged on minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program: it keeps the original's PyTorch calls
and habits in the same roles, with our own names, structure and comments, a small model, a few steps and
generated data (the helpers and the rule come from tests/test_pytorch_programs.py):

* ``PRUNING_TUTORIAL`` follows the PyTorch tutorial "Pruning Tutorial"
  (https://pytorch.org/tutorials/intermediate/pruning_tutorial.html) on a LeNet-like CNN: ``random_unstructured``,
  ``l1_unstructured`` (a fraction and a count), ``ln_structured(n=2, dim=0)`` on top (the masks compose in a
  ``PruningContainer``, read back from ``module._forward_pre_hooks``), ``random_structured``, ``custom_from_mask``,
  a custom ``BasePruningMethod`` subclass whose ``compute_mask`` writes ``mask.view(-1)[::2] = 0``,
  ``global_unstructured(pruning_method=prune.L1Unstructured)`` over several ``(module, "weight")`` pairs,
  ``prune.is_pruned`` and ``prune.remove``; the ``weight_orig`` parameter / ``weight_mask`` buffer / forward
  pre-hook structure (``named_parameters``, ``named_buffers``, ``state_dict`` keys), sparsity percentages
  ``100. * float(torch.sum(w == 0)) / float(w.nelement())``, and SGD training that moves ``weight_orig`` while
  the pruned entries of ``weight`` stay 0;
* ``LOTTERY_TICKET`` follows the iterative magnitude pruning with rewinding of "The Lottery Ticket Hypothesis"
  (Frankle & Carbin; the common PyTorch re-implementations, e.g. rahulvigneswaran/Lottery-Ticket-Hypothesis-in-
  Pytorch): train an MLP, prune 20% of the remaining weights globally by magnitude, rewind the unpruned weights
  to their initial values (``weight_orig.copy_``), retrain, twice, and evaluate the ticket;
* ``SN_GAN`` follows the spectrally normalised GAN of Miyato et al. as PyTorch ports write it (e.g.
  christiancosgrove/pytorch-spectral-normalization-gan, the hinge loss and Adam(0, 0.9) of its ``main.py``):
  a convolutional discriminator whose layers are wrapped in ``nn.utils.spectral_norm`` (legacy: ``weight_orig``,
  ``weight_u``, ``weight_v``) or in ``nn.utils.parametrizations.spectral_norm`` (``parametrizations.weight.
  original``, ``.0._u``, ``.0._v``), a generator with a spectrally normalised ``ConvTranspose2d`` (output dim 1)
  and ``BatchNorm2d``; ``n_dis`` discriminator steps per generator step, then the discriminator in eval mode
  (no power iteration: the u/v buffers stay put) and ``remove_spectral_norm`` / ``remove_parametrizations``.

Random draws. PyTorch draws the initial u/v of spectral norm from its own generator: the buffers are in the state
dict, so they reach minigrad with the weights. The random pruning methods draw ``rand_like`` (unstructured) and
``rand`` (structured) in both libraries; the test gives both the same stream, so the masks agree too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import MINIGRAD_IMPORTS, TORCH_IMPORTS, _assert_same_weights, _twin_models
from tests.test_pytorch_programs_generative import _shared_draws
from tests.test_pytorch_programs_more import _shared_noise

TORCH_IMPORTS_PRUNE = TORCH_IMPORTS + """\
import torch.nn.utils.prune as prune
"""

MINIGRAD_IMPORTS_PRUNE = MINIGRAD_IMPORTS + """\
import minigrad.nn.utils.prune as prune
"""

IMPORTS = (TORCH_IMPORTS_PRUNE, MINIGRAD_IMPORTS_PRUNE)


PRUNING_TUTORIAL = '''
class LeNet(nn.Module):
    """Images (N, 1, 8, 8) to class scores (N, 3): two convolutions, max pooling, two linear layers."""

    def __init__(self):
        super(LeNet, self).__init__()
        self.conv1 = nn.Conv2d(1, 4, 3)            # (4, 6, 6) -> pooled (4, 3, 3)
        self.conv2 = nn.Conv2d(4, 6, 3, padding=1)
        self.fc1 = nn.Linear(6 * 3 * 3, 16)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.relu(self.conv2(x))
        x = x.view(-1, int(x.nelement() / x.shape[0]))
        return self.fc2(F.relu(self.fc1(x)))


class EveryOtherEntry(prune.BasePruningMethod):
    """Prunes every other entry of the tensor (flat order), on top of what is already pruned."""
    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t, default_mask):
        mask = default_mask.clone()
        mask.view(-1)[::2] = 0
        return mask


def every_other_unstructured(module, name):
    EveryOtherEntry.apply(module, name)
    return module


def make_model():
    return LeNet()


def sparsity(tensor):
    return 100. * float(torch.sum(tensor == 0)) / float(tensor.nelement())


def structure(module):
    """What the reparametrisation left on a module: its parameters, buffers, hooks and state-dict keys."""
    return {
        "parameters": [name for name, _ in module.named_parameters()],
        "buffers": [name for name, _ in module.named_buffers()],
        "hooks": [type(hook).__name__ for hook in module._forward_pre_hooks.values()],
        "state_dict": list(module.state_dict().keys()),
        "pruned": prune.is_pruned(module),
    }


def prune_step_by_step(model):
    """The tutorial's tour of the pruning functions on the first convolution, then a layer by layer pass."""
    report = {"before": structure(model.conv1)}
    module = model.conv1
    prune.random_unstructured(module, name="weight", amount=0.3)
    report["random"] = structure(module)
    report["random_sparsity"] = sparsity(module.weight)
    prune.l1_unstructured(module, name="bias", amount=1)
    prune.ln_structured(module, name="weight", amount=0.5, n=2, dim=0)
    for hook in module._forward_pre_hooks.values():
        if hook._tensor_name == "weight":   # the container holding the weight's pruning history
            break
    report["history"] = [type(method).__name__ for method in hook]
    report["conv1_weight_sparsity"] = sparsity(module.weight)
    report["zero_channels"] = [int(c) for c in range(4) if float(module.weight[c].detach().abs().sum()) == 0.0]
    report["model_keys"] = list(model.state_dict().keys())
    prune.remove(module, "weight")
    report["removed"] = structure(module)
    prune.random_structured(model.conv2, "weight", amount=2, dim=1)
    inputs_left = model.conv2.weight.detach().abs().sum(dim=(0, 2, 3))
    report["conv2_zero_inputs"] = [int(c) for c in range(4) if float(inputs_left[c]) == 0.0]
    prune.l1_unstructured(model.fc1, name="weight", amount=0.4)
    prune.custom_from_mask(model.fc2, name="bias", mask=torch.tensor([1.0, 0.0, 1.0]))
    every_other_unstructured(model.fc2, "weight")
    report["fc2_bias"] = model.fc2.bias.tolist()
    report["fc2_weight_mask"] = model.fc2.weight_mask.tolist()
    report["buffers"] = list(dict(model.named_buffers()).keys())
    return report


def prune_globally(model, amount=0.2):
    """Magnitude pruning over all weights together; the percentage that went in each layer."""
    parameters_to_prune = (
        (model.conv1, "weight"),
        (model.conv2, "weight"),
        (model.fc1, "weight"),
        (model.fc2, "weight"),
    )
    prune.global_unstructured(parameters_to_prune, pruning_method=prune.L1Unstructured, amount=amount)
    layers = {name: sparsity(module.weight) for name, module in model.named_children()}
    total = sum(float(torch.sum(m.weight == 0)) for m, _ in parameters_to_prune)
    layers["global"] = 100. * total / sum(float(m.weight.nelement()) for m, _ in parameters_to_prune)
    return layers


def train(model, images, labels, steps, lr=0.1):
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-3)
    criterion = nn.CrossEntropyLoss()
    losses = []
    for step in range(steps):
        optimizer.zero_grad()
        loss = criterion(model(images), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def make_permanent(model):
    for module in model.modules():
        for name in ("weight", "bias"):
            if hasattr(module, name + "_mask"):
                prune.remove(module, name)
    return model
'''


LOTTERY_TICKET = '''
class MLP(nn.Module):
    def __init__(self, features=10, hidden=24, classes=4):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(features, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, classes),
        )

    def forward(self, x):
        return self.layers(x)


def make_model():
    return MLP()


def prunable(model):
    return [(module, "weight") for module in model.modules() if isinstance(module, nn.Linear)]


def fit(model, x, y, epochs, lr=0.05):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    losses = []
    for epoch in range(epochs):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@torch.no_grad()
def accuracy(model, x, y):
    model.eval()
    correct = (model(x).argmax(dim=1) == y).sum().item()
    model.train()
    return correct / len(y)


def rewind(model, initial_state):
    """Back to the initial weights where unpruned: weight_orig (and the biases) copied from the first state."""
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, nn.Linear):
                module.weight_orig.copy_(initial_state[name + ".weight"])
                module.bias.copy_(initial_state[name + ".bias"])


def find_ticket(model, x, y, rounds=2, rate=0.2, epochs=5):
    initial_state = {k: v.clone() for k, v in model.state_dict().items()}
    history = {"dense": fit(model, x, y, epochs)}
    for round_ in range(rounds):
        prune.global_unstructured(prunable(model), pruning_method=prune.L1Unstructured, amount=rate)
        rewind(model, initial_state)
        history[f"round{round_}"] = fit(model, x, y, epochs)
        kept = sum(int(m.weight_mask.sum()) for m, _ in prunable(model))
        history[f"kept{round_}"] = kept / sum(m.weight_mask.numel() for m, _ in prunable(model))
    history["accuracy"] = accuracy(model, x, y)
    history["masks"] = [m.weight_mask.tolist() for m, _ in prunable(model)]
    history["rewound_zero"] = all(bool((m.weight[m.weight_mask == 0] == 0).all()) for m, _ in prunable(model))
    return history
'''


SN_GAN = '''
Z_DIM = 6


def sn_layer(kind):
    return {"legacy": nn.utils.spectral_norm, "parametrization": nn.utils.parametrizations.spectral_norm}[kind]


class Generator(nn.Module):
    """Noise (N, Z_DIM) to images (N, 1, 8, 8) in [-1, 1]."""

    def __init__(self, kind):
        super().__init__()
        sn = sn_layer(kind)
        self.project = nn.Linear(Z_DIM, 8 * 4 * 4)
        self.body = nn.Sequential(
            sn(nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1)),   # the output dim of its weight is 1
            nn.BatchNorm2d(4),
            nn.ReLU(True),
            nn.Conv2d(4, 1, 3, padding=1),
            nn.Tanh(),
        )

    def forward(self, z):
        return self.body(self.project(z).view(-1, 8, 4, 4))


class Discriminator(nn.Module):
    """Images (N, 1, 8, 8) to one unbounded score each (N, 1); every layer spectrally normalised."""

    def __init__(self, kind, power_iterations=1):
        super().__init__()
        sn = sn_layer(kind)
        self.features = nn.Sequential(
            sn(nn.Conv2d(1, 8, 3, stride=2, padding=1), n_power_iterations=power_iterations),
            nn.LeakyReLU(0.1),
            sn(nn.Conv2d(8, 8, 3, stride=2, padding=1)),
            nn.LeakyReLU(0.1),
        )
        self.score = sn(nn.Linear(8 * 2 * 2, 1))

    def forward(self, x):
        return self.score(self.features(x).flatten(1))


def make_model(kind):
    return Generator(kind), Discriminator(kind, power_iterations=2)


def train(G, D, real, steps, n_dis=2, batch_size=4, lr=2e-3):
    optim_D = optim.Adam(filter(lambda p: p.requires_grad, D.parameters()), lr=lr, betas=(0.0, 0.9))
    optim_G = optim.Adam(G.parameters(), lr=lr, betas=(0.0, 0.9))
    history = []
    for step in range(steps):
        for _ in range(n_dis):
            z = torch.randn(batch_size, Z_DIM)
            optim_D.zero_grad()
            d_loss = nn.ReLU()(1.0 - D(real)).mean() + nn.ReLU()(1.0 + D(G(z).detach())).mean()   # hinge
            d_loss.backward()
            optim_D.step()
        z = torch.randn(batch_size, Z_DIM)
        optim_G.zero_grad()
        g_loss = -D(G(z)).mean()
        g_loss.backward()
        optim_G.step()
        history.append((d_loss.item(), g_loss.item()))
    return history


def sigma(layer, kind):
    """The spectral norm's current estimate uᵀ W v of one layer (W as a matrix, output dim first)."""
    if kind == "legacy":
        u, v, weight = layer.weight_u, layer.weight_v, layer.weight_orig
    else:
        u, v = layer.parametrizations.weight[0]._u, layer.parametrizations.weight[0]._v
        weight = layer.parametrizations.weight.original
    return torch.dot(u, torch.mv(weight.reshape(weight.shape[0], -1), v)).item()


@torch.no_grad()
def evaluate(D, images, kind):
    D.eval()
    first, second = D(images), D(images)   # no power iteration in eval mode: the same scores twice
    sigmas = [sigma(layer, kind) for layer in (D.features[0], D.features[2], D.score)]
    D.train()
    return first.flatten().tolist(), second.flatten().tolist(), sigmas


def remove_norms(G, D, kind):
    """Bake 1 / sigma into plain weights; the scores must not change (eval mode: no iteration)."""
    D.eval()
    with torch.no_grad():
        before = D(torch.ones(2, 1, 8, 8))
    for layer in (D.features[0], D.features[2], D.score):
        if kind == "legacy":
            nn.utils.remove_spectral_norm(layer)
        else:
            nn.utils.parametrize.remove_parametrizations(layer, "weight")
    with torch.no_grad():
        after = D(torch.ones(2, 1, 8, 8))
    return before.flatten().tolist(), after.flatten().tolist(), sorted(D.state_dict().keys())
'''

PROGRAMS = (PRUNING_TUTORIAL, LOTTERY_TICKET, SN_GAN)


def test_the_programs_differ_only_in_their_imports() -> None:
    assert TORCH_IMPORTS_PRUNE.count("\n") == MINIGRAD_IMPORTS_PRUNE.count("\n") == 6
    assert TORCH_IMPORTS_PRUNE.splitlines()[-1].replace("torch", "minigrad") == MINIGRAD_IMPORTS_PRUNE.splitlines()[-1]
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Any:
    """torch on one intra-op thread in each test, restored after (as in test_pytorch_programs_tabular.py): on
    tensors this small its thread pool only costs, most of all on a busy two-core machine."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (optional test peer)")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _assert_close(ours: Any, theirs: Any, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    np.testing.assert_allclose(np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64),
                               rtol=rtol, atol=atol)


def _share_rand_like(monkeypatch: pytest.MonkeyPatch, torch: Any) -> None:
    """torch's ``RandomUnstructured`` draws ``torch.rand_like(t)``; after :func:`_shared_draws` it reads the shared
    ``rand`` stream (minigrad's draws ``rand(*t.shape)``, the same numbers)."""
    rand = torch.rand
    monkeypatch.setattr(torch, "rand_like", lambda t, **kwargs: rand(*t.shape, dtype=t.dtype))


# ----------------------------------------------------------------------------- 1. the pruning tutorial


def _images(count: int, seed: int) -> tuple:
    """(count, 1, 8, 8) float32 images whose label (0..2) is the brightest third of rows, int64 labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, count)
    images = rng.random((count, 1, 8, 8)).astype(np.float32) * 0.5
    for i, label in enumerate(labels):
        images[i, 0, 3 * label:3 * label + 2] += 1.0
    return images, labels.astype(np.int64)


def test_pruning_tutorial(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _shared_draws(monkeypatch, torch, seed=3)
    _share_rand_like(monkeypatch, torch)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(PRUNING_TUTORIAL, imports=IMPORTS)
    reports = [program["prune_step_by_step"](model)
               for program, model in ((torch_program, torch_model), (mg_program, mg_model))]
    assert reports[1] == reports[0]
    theirs = reports[0]
    assert theirs["random"]["parameters"] == ["bias", "weight_orig"]
    assert theirs["random"]["buffers"] == ["weight_mask"] and theirs["random"]["hooks"] == ["RandomUnstructured"]
    assert theirs["history"] == ["RandomUnstructured", "LnStructured"] and len(theirs["zero_channels"]) == 2
    assert theirs["removed"]["parameters"] == ["bias_orig", "weight"]
    assert len(theirs["conv2_zero_inputs"]) == 2   # the same random channels in both (shared draws)

    images, labels = _images(12, seed=1)
    runs = []
    for program, model in ((torch_program, torch_model), (mg_program, mg_model)):
        tensor = program["torch"]
        x, y = tensor.from_numpy(images), tensor.from_numpy(labels)
        layers = program["prune_globally"](model)
        losses = program["train"](model, x, y, steps=4)
        zero = program["sparsity"](model.fc1.weight)
        program["make_permanent"](model)
        runs.append((layers, losses, zero, sorted(model.state_dict().keys()), program["prune"].is_pruned(model)))
    (torch_layers, torch_losses, torch_zero, torch_keys, torch_pruned), ours = runs[0], runs[1]
    assert ours[0] == pytest.approx(torch_layers) and torch_layers["global"] > 20.0   # on top of the earlier masks
    _assert_close(ours[1], torch_losses)
    assert ours[2] == torch_zero >= torch_layers["fc1"]   # the pruned entries stayed 0 through training
    assert ours[3] == torch_keys and not ours[4] and not torch_pruned
    _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- 2. lottery ticket


def test_lottery_ticket_with_rewinding(torch: Any) -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((32, 10)).astype(np.float32)
    y = (x[:, :4].argmax(axis=1)).astype(np.int64)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(LOTTERY_TICKET, imports=IMPORTS)
    histories = [program["find_ticket"](model, program["torch"].from_numpy(x), program["torch"].from_numpy(y))
                 for program, model in ((torch_program, torch_model), (mg_program, mg_model))]
    theirs, ours = histories
    assert ours["masks"] == theirs["masks"] and ours["rewound_zero"] and theirs["rewound_zero"]
    for key in ("dense", "round0", "round1"):
        _assert_close(ours[key], theirs[key], rtol=1e-4)
    assert ours["kept0"] == theirs["kept0"] and ours["kept1"] == theirs["kept1"] == pytest.approx(0.64, abs=0.01)
    assert ours["accuracy"] == theirs["accuracy"]
    _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- 3. SN-GAN


@pytest.mark.parametrize("kind", ["legacy", "parametrization"])
def test_sn_gan_hinge_loss(torch: Any, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    torch_program, (torch_G, torch_D), mg_program, (mg_G, mg_D), (initial_G, initial_D) = _twin_models(
        SN_GAN, kind, imports=IMPORTS)
    _shared_noise(monkeypatch, torch, seed=7)
    real = np.tanh(np.random.default_rng(2).standard_normal((4, 1, 8, 8))).astype(np.float32)
    torch_history = torch_program["train"](torch_G, torch_D, torch.from_numpy(real), steps=2)
    mg_history = mg_program["train"](mg_G, mg_D, mg_program["torch"].from_numpy(real), steps=2)
    _assert_close(mg_history, torch_history, rtol=1e-4, atol=1e-5)
    # the bias before BatchNorm has a true gradient of 0: Adam steps it (and the running mean) by rounding noise
    _assert_same_weights(torch_G, mg_G, initial_G, noise_only=("body.0.bias", "body.1.running_mean"))
    _assert_same_weights(torch_D, mg_D, initial_D)   # the u/v buffers included

    probe = np.linspace(-1, 1, 2 * 64, dtype=np.float32).reshape(2, 1, 8, 8)
    theirs = torch_program["evaluate"](torch_D, torch.from_numpy(probe), kind)
    ours = mg_program["evaluate"](mg_D, mg_program["torch"].from_numpy(probe), kind)
    assert theirs[0] == theirs[1] and ours[0] == ours[1]
    _assert_close(ours[0] + ours[2], theirs[0] + theirs[2], rtol=1e-4, atol=1e-5)   # scores, sigmas
    _assert_same_weights(torch_D, mg_D, initial_D)

    theirs = torch_program["remove_norms"](torch_G, torch_D, kind)
    ours = mg_program["remove_norms"](mg_G, mg_D, kind)
    _assert_close(ours[:2], theirs[:2], rtol=1e-4, atol=1e-5)
    _assert_close(ours[1], ours[0], rtol=1e-5, atol=1e-6)
    assert ours[2] == theirs[2]


# ----------------------------------------------------------------------------- regression tests of the fixes


def test_module_hook_tables_are_live_views_as_in_pytorch(torch: Any) -> None:
    """``module._forward_pre_hooks`` / ``_forward_hooks`` (PyTorch's private ordered dicts, which the pruning
    tutorial reads): key -> hook in registration order, deleting an entry unregisters the hook."""
    import minigrad as mg  # noqa: PLC0415
    from minigrad import nn as mg_nn  # noqa: PLC0415

    results = []
    for lib, nn in ((torch, torch.nn), (mg, mg_nn)):
        layer, calls = nn.Linear(2, 2), []
        assert len(layer._forward_pre_hooks) == 0 and list(layer._backward_hooks.values()) == []

        def first(module: Any, args: Any, calls: list = calls) -> None:
            calls.append("first")

        def second(module: Any, args: Any, calls: list = calls) -> None:
            calls.append("second")

        def after(module: Any, args: Any, output: Any, calls: list = calls) -> None:
            calls.append("after")

        handle = layer.register_forward_pre_hook(first)
        layer.register_forward_pre_hook(second)
        layer.register_forward_hook(after)
        table = layer._forward_pre_hooks
        assert list(table.values()) == [first, second] and list(layer._forward_hooks.values()) == [after]
        layer(lib.ones(1, 2))
        del table[next(iter(table))]   # the first hook, through the view
        layer(lib.ones(1, 2))
        handle.remove()   # already gone: nothing happens
        assert [table[key] for key in table] == [second] and "second" in repr(table)
        results.append(calls)
    assert results[1] == results[0] == ["first", "second", "after", "second", "after"]
