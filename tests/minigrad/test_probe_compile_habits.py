"""mg.compile used with torch.compile's habits: each case compares compiled calls with eager ones.

A replay must never differ silently from eager: Python values read through containers and objects
(``cfg.scale``, ``hp["lr"]``) are guarded, Python side effects inside (``log.append``, a counter, print)
run the call eagerly with a CompileWarning, and whole training steps equal eager's numbers.
"""

from __future__ import annotations

import functools
import types
import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn
import nn.functional as F

X = mg.tensor([1.0, 2.0])


class Config:
    """A plain object holding hyper-parameters, as training scripts keep them."""

    def __init__(self) -> None:
        self.scale = 2.0

    def get_scale(self) -> float:
        return self.scale


CFG = Config()
HP = {"scale": 2.0}
WS = [2.0]
CFGMOD = types.ModuleType("cfgmod")
CFGMOD.SCALE = 2.0
STATE = {"train": True}


class Klass:
    scale = 2.0


def _helper() -> float:
    return CFG.scale


class Holder:
    def __init__(self) -> None:
        self.s = 2.0

    def f(self, x: mg.Tensor) -> mg.Tensor:
        return x * self.s

    def __call__(self, x: mg.Tensor) -> mg.Tensor:
        return x * self.s


class WithContainers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(2, 2)
        self.cfg = {"s": 2.0}
        self.obj = Config()
        self.lst = [2.0]

    def forward(self, x: mg.Tensor) -> mg.Tensor:
        return self.lin(x) * self.cfg["s"] * self.obj.scale * self.lst[0]


def _case(name: str) -> tuple[Callable, Callable[[], None], Callable[[], None]]:
    """(fn, change, restore) for one way a Python value read by fn changes between calls."""
    if name == "object attribute":
        return (lambda x: x * CFG.scale), lambda: setattr(CFG, "scale", 3.0), lambda: setattr(CFG, "scale", 2.0)
    if name == "dict item":
        return (lambda x: x * HP["scale"]), lambda: HP.update(scale=3.0), lambda: HP.update(scale=2.0)
    if name == "list item":
        return (lambda x: x * WS[0]), lambda: WS.__setitem__(0, 3.0), lambda: WS.__setitem__(0, 2.0)
    if name == "python module attribute":
        return (lambda x: x * CFGMOD.SCALE), lambda: setattr(CFGMOD, "SCALE", 3.0), \
            lambda: setattr(CFGMOD, "SCALE", 2.0)
    if name == "class attribute":
        return (lambda x: x * Klass.scale), lambda: setattr(Klass, "scale", 3.0), lambda: setattr(Klass, "scale", 2.0)
    if name == "read by a helper":
        return (lambda x: x * _helper()), lambda: setattr(CFG, "scale", 3.0), lambda: setattr(CFG, "scale", 2.0)
    if name == "read by a method":
        return (lambda x: x * CFG.get_scale()), lambda: setattr(CFG, "scale", 3.0), \
            lambda: setattr(CFG, "scale", 2.0)
    if name == "dropout flag in a dict":
        return (lambda x: F.dropout(x, 0.5, training=STATE["train"])), lambda: STATE.update(train=False), \
            lambda: STATE.update(train=True)
    holder = Holder()
    if name == "bound method's self":
        return holder.f, lambda: setattr(holder, "s", 3.0), lambda: None
    if name == "callable object":
        return holder, lambda: setattr(holder, "s", 3.0), lambda: None
    model = WithContainers()
    change = {"module's dict": lambda: model.cfg.update(s=3.0),
              "module's object": lambda: setattr(model.obj, "scale", 3.0),
              "module's list": lambda: model.lst.__setitem__(0, 3.0)}[name]
    return model, change, lambda: None


@pytest.mark.parametrize("name", ["object attribute", "dict item", "list item", "python module attribute",
                                  "class attribute", "read by a helper", "read by a method", "dropout flag in a dict",
                                  "bound method's self", "callable object", "module's dict", "module's object",
                                  "module's list"])
def test_a_python_value_read_through_a_container_is_not_replayed_stale(name: str) -> None:
    fn, change, restore = _case(name)
    compiled = mg.compile(fn)
    try:
        for _ in range(4):   # captured, checked, replayed
            mg.manual_seed(0)
            compiled(X)
        change()
        mg.manual_seed(0)
        got = compiled(X).numpy()
        mg.manual_seed(0)
        np.testing.assert_array_equal(got, fn(X).numpy())
    finally:
        restore()


def test_python_side_effects_inside_run_eagerly_with_a_warning(capsys: pytest.CaptureFixture) -> None:
    log: list = []
    counter = {"calls": 0}

    class Trainer:
        def __init__(self) -> None:
            self.calls = 0

        def step(self, x: mg.Tensor) -> mg.Tensor:
            self.calls += 1
            return x * 2

    def appends(x: mg.Tensor) -> mg.Tensor:
        y = x * 2
        log.append(y)
        return y

    def counts(x: mg.Tensor) -> mg.Tensor:
        counter["calls"] += 1
        return x * 2

    def prints(x: mg.Tensor) -> mg.Tensor:
        print("step")
        return x * 2

    trainer = Trainer()
    for fn, what in [(appends, "log"), (counts, "counter['calls']"), (trainer.step, "self.calls"), (prints, "print")]:
        compiled = mg.compile(fn)
        with pytest.warns(mg.CompileWarning, match=f"runs eagerly.*{what.replace('[', '.').replace(']', '.')}"):
            for _ in range(4):
                compiled(X)
    assert len(log) == 4 and counter["calls"] == 4 and trainer.calls == 4
    assert capsys.readouterr().out == "step\n" * 4
    with pytest.raises(mg.CompileError, match="print"):
        mg.compile(prints, fullgraph=True)(X)


W = mg.tensor([1.0, 1.0])
SCALE = 2.0


class ReadsGlobals(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(2, 2)

    def forward(self, x: mg.Tensor) -> mg.Tensor:
        return self.lin(x) * W * SCALE


def _times_w(x: mg.Tensor, s: float) -> mg.Tensor:
    return x * W * s


def test_globals_read_by_a_partial_or_a_module_forward_are_guarded() -> None:
    global W, SCALE
    model = ReadsGlobals()
    cases = [functools.partial(_times_w, s=2.0), model, mg.compile(model)._orig_mod]
    for fn in cases:
        compiled = mg.compile(fn)
        for _ in range(4):
            compiled(X)
        try:
            W, SCALE = mg.tensor([5.0, 5.0]), 3.0
            np.testing.assert_array_equal(compiled(X).numpy(), fn(X).numpy())
        finally:
            W, SCALE = mg.tensor([1.0, 1.0]), 2.0


def _train(compiled: bool, variant: str, steps: int = 5) -> tuple[list, list]:
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8) if variant == "batchnorm" else nn.ReLU(),
                          nn.Dropout(0.3), nn.Linear(8, 2))
    opt = nn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = nn.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)

    def step(x: mg.Tensor, y: mg.Tensor) -> Any:
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        if variant == "clip":
            nn.utils.clip_grad_norm_(model.parameters(), 0.1)
        opt.step()
        if variant == "scheduler":
            scheduler.step()
        return loss.item() if variant == "item" else loss

    fn = mg.compile(step) if compiled else step
    forward = mg.compile(model) if compiled else model
    losses = []
    for i in range(steps):
        mg.manual_seed(10 + i)
        x, y = mg.randn(3 + i % 2, 4), mg.randn(3 + i % 2, 2)
        if variant == "lr":
            opt.param_groups[0]["lr"] = 0.1 / (i + 1)
        if variant == "modes":
            model.train() if i % 2 else model.eval()
        if variant == "requires_grad":
            model[0].weight.requires_grad_(i % 2 == 0)
        if variant == "load_state_dict" and i == 2:
            model.load_state_dict({k: v * 0.5 for k, v in model.state_dict().items()})
        if variant in ("forward only", "batchnorm"):   # the module compiled, the step eager
            opt.zero_grad()
            loss = F.mse_loss(forward(x), y)
            loss.backward()
            opt.step()
        else:
            loss = fn(x, y)
        losses.append(loss if isinstance(loss, float) else loss.numpy().tolist())
    return losses, [t.numpy() for t in (*model.parameters(), *model.buffers())]


@pytest.mark.parametrize("variant", ["plain", "clip", "scheduler", "item", "lr", "modes", "requires_grad",
                                     "load_state_dict", "forward only", "batchnorm"])
def test_a_compiled_training_step_equals_eager(variant: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mg.CompileWarning)   # a whole step changes weights in place: eager
        eager_losses, eager_state = _train(False, variant)
        losses, state = _train(True, variant)
    assert losses == eager_losses
    for a, b in zip(state, eager_state, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_replay_raises_what_eager_raises() -> None:
    compiled = mg.compile(lambda a, b: a @ b + a.sum())
    for _ in range(3):
        compiled(mg.ones(2, 3), mg.ones(3, 2))
    for args in [(mg.ones(2, 3), mg.ones(4, 2)), (mg.ones(2, 3), mg.ones(3, 2, dtype=mg.int64) @ mg.ones(2, 2))]:
        try:
            (lambda a, b: a @ b + a.sum())(*args)
        except Exception as error:  # noqa: BLE001 - the eager error, whatever its type
            expected: Any = error
        else:
            expected = None
        if expected is None:
            compiled(*args)
        else:
            with pytest.raises(type(expected)) as raised:
                compiled(*args)
            assert str(raised.value) == str(expected)


def test_a_generator_argument_draws_as_eager() -> None:
    def noisy(x: mg.Tensor, generator: mg.Generator) -> mg.Tensor:
        return x + mg.randn(2, generator=generator)

    compiled = mg.compile(noisy)
    eager_generator, generator = mg.Generator().manual_seed(7), mg.Generator().manual_seed(7)
    for _ in range(4):
        np.testing.assert_array_equal(compiled(X, generator).numpy(), noisy(X, eager_generator).numpy())


def test_torch_names_orig_mod_reset_and_decorator_forms() -> None:
    model = nn.Linear(2, 2)
    compiled = mg.compile(model)
    assert compiled._orig_mod is model and "Linear" in repr(compiled)
    assert list(compiled.state_dict()) == ["weight", "bias"]   # no "_orig_mod." prefix: loads into the module
    with pytest.raises(AttributeError):
        mg.compile(lambda x: x)._orig_mod   # noqa: B018 - the attribute read is the test

    @mg.compile(fullgraph=True, dynamic=False, mode="reduce-overhead", backend="inductor")
    def double(x: mg.Tensor) -> mg.Tensor:
        return x * 2

    @mg.compile
    def triple(x: mg.Tensor) -> mg.Tensor:
        return x * 3

    assert double(X).numpy().tolist() == [2.0, 4.0] and triple(X).numpy().tolist() == [3.0, 6.0]
    assert double.programs and triple.programs
    mg.compiler.reset()
    assert not double.programs and not triple.programs
    assert double(X).numpy().tolist() == [2.0, 4.0]
    assert mg.compile(disable=True)(model) is model
