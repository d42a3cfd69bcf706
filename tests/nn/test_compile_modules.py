"""mg.compile with nn modules: a compiled module is used as the module, and train/eval modes are part of
every signature (a capture made with dropout on is never replayed in eval mode)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import minigrad as mg
import nn


def _model() -> nn.Module:
    mg.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Dropout(0.5), nn.Linear(8, 2))


def test_a_compiled_module_is_used_as_the_module() -> None:
    model = _model()
    compiled = mg.compile(model)
    assert [id(p) for p in compiled.parameters()] == [id(p) for p in model.parameters()]
    assert list(compiled.state_dict()) == list(model.state_dict())
    assert compiled.eval() is compiled and not model.training and not compiled.training
    assert compiled.train() is compiled and model.training
    compiled.load_state_dict({k: v * 0 for k, v in model.state_dict().items()})
    assert float(model[0].weight.abs().sum().item()) == 0.0
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        compiled.nope  # noqa: B018


def test_a_compiled_module_trains_with_an_optimizer_on_its_parameters() -> None:
    model = _model().eval()
    reference = copy.deepcopy(model)
    compiled = mg.compile(model)
    x, target = mg.randn(16, 3, dtype=mg.float32), mg.randn(16, 2, dtype=mg.float32)
    for net in (compiled, reference):
        optimizer = nn.optim.SGD(net.parameters(), lr=0.1)
        for _ in range(5):
            optimizer.zero_grad()
            ((net(x) - target) ** 2).mean().backward()
            optimizer.step()
    for a, b in zip(model.parameters(), reference.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("wrap", ["module", "function"])
def test_eval_after_a_capture_in_training_mode_does_not_replay_the_dropout(wrap: str) -> None:
    model = _model()
    compiled = mg.compile(model) if wrap == "module" else mg.compile(lambda t: model(t))
    x = mg.randn(4, 3)
    for _ in range(4):   # captured, checked and replayed with dropout on
        trained = compiled(x)
    assert (trained.numpy() != model.eval()(x).numpy()).any()
    model.eval()
    for _ in range(4):
        np.testing.assert_array_equal(compiled(x).numpy(), model(x).numpy())
    model.train()
    mg.manual_seed(1)
    replayed = compiled(x).numpy()
    mg.manual_seed(1)
    np.testing.assert_array_equal(replayed, model(x).numpy())   # the training-mode capture again
    assert len(compiled.programs) == 2


def test_a_single_module_switched_by_assigning_training_counts_too() -> None:
    model = _model()
    compiled = mg.compile(lambda t: model(t))
    x = mg.randn(4, 3)
    for _ in range(3):
        compiled(x)
    model[2].training = False   # only the dropout, as PyTorch allows
    np.testing.assert_array_equal(compiled(x).numpy(), compiled(x).numpy())
    np.testing.assert_array_equal(compiled(x).numpy(), model(x).numpy())


def test_a_copy_of_a_module_has_a_mode_of_its_own() -> None:
    model = _model()
    compiled = mg.compile(model)
    x = mg.randn(4, 3)
    for _ in range(3):
        compiled(x)
    clone = copy.deepcopy(model).eval()   # the copy's eval must not look like the original's
    assert model.training and not clone.training and clone._serial != model._serial
    mg.manual_seed(3)
    replayed = compiled(x).numpy()
    mg.manual_seed(3)
    np.testing.assert_array_equal(replayed, model(x).numpy())


def test_module_compile_compiles_in_place_and_a_copy_compiles_itself() -> None:
    model = _model().eval()
    eager = [t.numpy() for t in (model(mg.ones(2, 3)),)]
    model.compile(mode="reduce-overhead")
    x = mg.ones(2, 3)
    for _ in range(4):
        np.testing.assert_array_equal(model(x).numpy(), eager[0])
    assert len(model._compiled_call.programs) == 1
    clone = copy.deepcopy(model)
    with mg.no_grad():
        clone[3].bias.add_(1.0)
    np.testing.assert_allclose(clone(x).numpy(), eager[0] + 1.0, rtol=1e-6)   # the copy's own weights
    np.testing.assert_array_equal(model(x).numpy(), eager[0])
    assert clone._compiled_call is not model._compiled_call


def test_torch_compile_keywords_are_taken() -> None:
    f = mg.compile(lambda t: t * t.sum().item(), fullgraph=True)
    with pytest.raises(mg.CompileError, match=r"fullgraph=True.*\.item\(\)"):
        f(mg.ones(3))
    assert mg.compile(len, disable=True) is len
    g = mg.compile(dynamic=True, backend="eager", options={"a": 1}, name="g")(lambda t: t + 1)
    assert g(mg.ones(2)).numpy().tolist() == [2.0, 2.0]
    with pytest.raises(ValueError, match="unknown mode 'fast'"):
        mg.compile(len, mode="fast")
    with pytest.raises(ValueError, match="unknown backend"):
        mg.compile(len, backend="tvm")
    with pytest.raises(TypeError, match="expected a function or a module"):
        mg.compile(3)


@pytest.mark.parametrize("change", ["parameter", "sequential item", "module list item", "child module", "double"])
def test_a_replaced_parameter_or_child_module_is_read_anew_not_replayed_stale(change: str) -> None:
    mg.manual_seed(5)
    holder = nn.Module()
    holder.body = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    holder.extra = nn.ModuleList([nn.Identity()])

    def run(t: mg.Tensor) -> mg.Tensor:
        return holder.extra[0](holder.body(t))
    compiled = mg.compile(run)
    x = mg.randn(2, 3)
    for _ in range(4):
        compiled(x)
    if change == "parameter":
        holder.body[0].weight = nn.Parameter(mg.randn(4, 3))
    elif change == "sequential item":
        holder.body[2] = nn.Linear(4, 2)
    elif change == "module list item":
        holder.extra[0] = nn.Tanh()
    elif change == "child module":
        holder.extra = nn.ModuleList([nn.Sigmoid()])
    else:
        holder.double()
        x = x.double()
    np.testing.assert_array_equal(compiled(x).numpy(), run(x).numpy())


def test_sequential_items_are_set_deleted_inserted_and_popped_as_in_pytorch() -> None:
    torch = pytest.importorskip("torch", reason="PyTorch is the reference")
    ours = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.ReLU(), nn.Sigmoid())
    theirs = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Tanh(), torch.nn.ReLU(), torch.nn.Sigmoid())
    for seq, lib in ((ours, nn), (theirs, torch.nn)):
        seq[1] = lib.Identity()
        del seq[2]
        seq.insert(1, lib.Sigmoid())
        seq.pop(0)
        seq.extend([lib.Tanh()])
        del seq[0:1]
    assert list(ours._modules) == list(theirs._modules)
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]


def test_a_plain_attribute_assigned_after_a_capture_is_not_replayed_stale() -> None:
    """Dropout's p, LeakyReLU's slope, a tensor kept as a plain attribute (of the module or of a child):
    assigning a new value makes the next call capture again, as a replaced parameter does."""
    x = mg.ones(2, 4)

    class Shifted(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin, self.shift = nn.Linear(4, 4), mg.zeros(4)

        def forward(self, x: mg.Tensor) -> mg.Tensor:
            return self.lin(x) + self.shift

    drop, leaky, shifted = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5)), nn.LeakyReLU(0.1), Shifted()
    outer = nn.Sequential(shifted)
    cases = [(drop, lambda: setattr(drop[1], "p", 0.0)), (leaky, lambda: setattr(leaky, "negative_slope", 0.5)),
             (shifted, lambda: setattr(shifted, "shift", mg.ones(4))),
             (outer, lambda: setattr(shifted, "shift", mg.full((4,), 2.0)))]
    for module, change in cases:
        compiled = mg.compile(module)
        for _ in range(4):
            compiled(x - 2)
        change()
        mg.manual_seed(0)
        got = compiled(x - 2)
        mg.manual_seed(0)
        np.testing.assert_array_equal(got.numpy(), module(x - 2).numpy())
