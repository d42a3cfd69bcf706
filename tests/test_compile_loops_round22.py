"""mg.compile in whole training loops (round 22): captured steps against the same loop run eagerly and against
PyTorch, and Python-level random draws inside a compiled step (a replay would not draw them again)."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")


def _draw_python(x: mg.Tensor, layer: nn.Module) -> mg.Tensor:
    h = x
    for _ in range(random.randint(1, 3)):   # teacher forcing / random depth steered by Python's random module
        h = layer(h)
    return h.sum()


def _draw_numpy_global(x: mg.Tensor, layer: nn.Module) -> mg.Tensor:
    h = x
    for _ in range(int(np.random.randint(1, 4))):
        h = layer(h)
    return h.sum()


_RNG = np.random.default_rng(0)
_PRNG = random.Random(0)


def _draw_numpy_generator(x: mg.Tensor, layer: nn.Module) -> mg.Tensor:
    h = x
    for _ in range(int(_RNG.integers(1, 4))):   # a Generator read from a global
        h = layer(h)
    return h.sum()


def _draw_random_instance(x: mg.Tensor, layer: nn.Module) -> mg.Tensor:
    h = x
    for _ in range(_PRNG.randint(1, 3)):
        h = layer(h)
    return h.sum()


def _draw_argument(x: mg.Tensor, layer: nn.Module, rng: random.Random) -> mg.Tensor:
    h = x
    for _ in range(rng.randint(1, 3)):   # a generator passed in
        h = layer(h)
    return h.sum()


def _states() -> tuple:
    return random.getstate(), np.random.get_state(), _RNG.bit_generator.state, _PRNG.getstate()


def _restore(states: tuple) -> None:
    random.setstate(states[0])
    np.random.set_state(states[1])
    _RNG.bit_generator.state = states[2]
    _PRNG.setstate(states[3])


@pytest.mark.parametrize("fn", [_draw_python, _draw_numpy_global, _draw_numpy_generator, _draw_random_instance,
                                _draw_argument])
def test_a_step_that_draws_python_random_numbers_is_never_replayed_with_stale_draws(fn) -> None:
    # a replay ran the capture's number of layers whatever the new draw said (a stale loss and gradient)
    mg.manual_seed(0)
    layer = nn.Linear(3, 3, dtype=mg.float64)
    compiled = mg.compile(fn)
    x = mg.randn(2, 3, dtype=mg.float64)
    argument = random.Random(5)
    extra = (argument,) if fn is _draw_argument else ()
    random.seed(1)
    np.random.seed(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(12):
            before, state = _states(), argument.getstate()
            ours = compiled(x, layer, *extra)
            after, after_argument = _states(), argument.getstate()
            _restore(before)
            argument.setstate(state)
            expected = fn(x, layer, *extra)
            assert ours.item() == expected.item()
            assert (random.getstate(), argument.getstate()) == (after[0], after_argument)   # it drew once per call


def _lr_scaled_loop(lib, compiled: bool) -> list:
    """A training loop whose step reads the scheduler's lr through ``get_last_lr()`` (a method of a library object
    reading ``_last_lr``), changed by StepLR every 4 steps: after the first calls' checks."""
    tnn, optim = (nn, nn.optim) if lib is mg else (torch.nn, torch.optim)
    rs = np.random.default_rng(0)
    model = tnn.Linear(3, 2, dtype=lib.float64)
    with lib.no_grad():
        model.weight.copy_(lib.tensor(rs.standard_normal((2, 3))))
        model.bias.copy_(lib.tensor(rs.standard_normal(2)))
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)

    def step(x, y):
        return ((model(x) - y) ** 2).mean() + sched.get_last_lr()[0] * (model.weight ** 2).sum()

    f = mg.compile(step) if compiled else step
    losses = []
    for _ in range(12):
        x, y = lib.tensor(rs.standard_normal((4, 3))), lib.tensor(rs.standard_normal((4, 2)))
        opt.zero_grad()
        loss = f(x, y)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return losses + model.weight.detach().numpy().ravel().tolist()


def test_a_step_reading_the_schedulers_last_lr_is_not_replayed_with_a_stale_lr() -> None:
    # the replay kept the capture's lr (0.1) after StepLR halved it: losses and weights drifted from eager's
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = _lr_scaled_loop(mg, True)
    assert ours == _lr_scaled_loop(mg, False)
    np.testing.assert_allclose(ours, _lr_scaled_loop(torch, False), rtol=1e-12, atol=1e-12)


def _grad_norm_of(x, net):
    total = (x * 0).sum()
    for p in net.parameters():
        if p.grad is not None:
            total = total + (p.grad ** 2).sum()
    return total


def _zeroing_loss_of(net, x, y):
    net.zero_grad()
    return ((net(x) - y) ** 2).mean()


def _grad_reading_loop(lib, compiled: bool, variant: str) -> list:
    """A loop whose compiled part reads the parameters' ``.grad``: ``opt.step()`` or ``clip_grad_value_`` compiled
    alone (first called before any backward), ``opt.zero_grad()`` (or the model's, passed in) inside the compiled
    loss, or a gradient norm over ``p.grad`` (of the model it reads, or of the one it is passed)."""
    tnn, optim = (nn, nn.optim) if lib is mg else (torch.nn, torch.optim)
    rs = np.random.default_rng(1)
    model = tnn.Linear(3, 2, dtype=lib.float64)
    with lib.no_grad():
        model.weight.copy_(lib.tensor(rs.standard_normal((2, 3))))
        model.bias.copy_(lib.tensor(rs.standard_normal(2)))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step() -> None:
        opt.step()

    def clip() -> None:
        tnn.utils.clip_grad_value_(model.parameters(), 0.01)

    def zeroing_loss(x, y):
        opt.zero_grad()
        return ((model(x) - y) ** 2).mean()

    def grad_norm(x):
        total = (x * 0).sum()
        for p in model.parameters():
            if p.grad is not None:
                total = total + (p.grad ** 2).sum()
        return total

    wrap = mg.compile if compiled else (lambda f: f)
    step_fn = wrap(clip) if variant == "clip_grad_value" else wrap(step)
    loss_fn = wrap(zeroing_loss) if variant == "zero_grad" else wrap(_zeroing_loss_of)
    norm_fn = wrap(grad_norm) if variant == "grad_norm" else wrap(_grad_norm_of)
    out = []
    for it in range(10):
        x, y = lib.tensor(rs.standard_normal((4, 3))), lib.tensor(rs.standard_normal((4, 2)))
        if variant in ("step", "clip_grad_value"):
            if it < 2:   # no gradients yet: the step (or clipping) does nothing
                if lib is mg or variant == "step":   # (PyTorch's foreach clip_grad_value_ raises on no gradients)
                    step_fn()
                continue
            opt.zero_grad()
            ((model(x) - y) ** 2).mean().backward()
            step_fn()
            if variant == "clip_grad_value":
                out.append(model.weight.grad.abs().max().item())
                opt.step()
        elif variant in ("zero_grad", "zero_grad_of_an_argument"):
            (loss_fn(x, y) if variant == "zero_grad" else loss_fn(model, x, y)).backward()
            out.append(model.bias.grad.sum().item())
            opt.step()
        else:
            out.append((norm_fn(x) if variant == "grad_norm" else norm_fn(x, model)).item())
            if it >= 3:
                opt.zero_grad(set_to_none=it % 2 == 0)
                ((model(x) - y) ** 2).mean().backward()
                opt.step()
    return out + model.weight.detach().numpy().ravel().tolist()


@pytest.mark.parametrize("variant", ["step", "clip_grad_value", "zero_grad", "zero_grad_of_an_argument", "grad_norm",
                                     "grad_norm_of_an_argument"])
def test_a_compiled_step_that_reads_grads_sees_whether_they_are_there(variant: str) -> None:
    # opt.step() (or clip_grad_value_) captured before any backward replayed nothing afterwards (a gradient
    # that took a freed one's id was taken for it); opt.zero_grad() inside a compiled loss
    # was skipped by replays (gradients accumulated); a norm over p.grad stayed the capture's 0.0 (the model read
    # through a closure or passed as an argument)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = _grad_reading_loop(mg, True, variant)
    assert ours == _grad_reading_loop(mg, False, variant)
    np.testing.assert_allclose(ours, _grad_reading_loop(torch, False, variant), rtol=1e-12, atol=1e-12)
