"""Control flow, TorchScript and compile habits of training programs, small, run unchanged on minigrad.

Each program is our own rewrite of code PyTorch users write around a model's control flow: it keeps the PyTorch
calls and habits in the same roles, with our own names, structure and comments, small models, a few steps and
generated data (the helpers and the rule come from tests/test_pytorch_programs.py):

* ``TORCHSCRIPT`` follows the TorchScript tutorial ("Introduction to TorchScript",
  https://pytorch.org/tutorials/beginner/Intro_to_TorchScript_tutorial.html) and the habit of scripting a model
  before training or saving it: a module written in TorchScript's subset (an annotated ``float`` attribute, a
  ``@torch.jit.ignore`` helper, a ``@torch.jit.export`` method, ``torch.jit.is_scripting()``), a loss function
  decorated with ``@torch.jit.script``, ``torch.jit.script(model)`` trained with Adam, then
  ``torch.jit.trace(model, example, check_trace=False)`` trained on, and the ``torch.jit.save``/``torch.jit.load``
  round trip (minigrad has no TorchScript archive: its ``jit.save`` raises ``NotImplementedError`` saying to
  save the state dict instead, minigrad/jit.py);
* ``BRANCHES`` uses ``torch.cond`` (a tensor predicate: which head a batch goes through) and
  ``torch.while_loop`` (a fixed-point refinement with a tensor stopping test) inside a model's ``forward``, the
  same model written with Python ``if``/``while`` on ``.item()``, each trained a few Adam steps with gradients
  through the branch taken, and under ``torch.compile(model, backend="eager")`` (a graph break at ``.item()``
  in torch, whose numbers are then its eager ones; minigrad's ``mg.compile`` runs such a call eagerly, so a
  replay never takes a frozen branch). torch.cond gives the tensors its other branch reads zero gradients, not
  None, so Adam moves them: ``mg.cond`` does the same. torch 2.13's while_loop gradients are wrong (a tensor the
  body reads gets one iteration's gradient, and one even when no iteration ran): minigrad's are compared with
  torch's Python ``while``, torch's while_loop with its forward values;
* ``ADAPTIVE_COMPUTATION_TIME`` follows Graves, "Adaptive Computation Time for Recurrent Neural Networks"
  (2016) on its parity task: an ``RNNCell`` pondering each input with a first-step flag, a sigmoid halting
  unit, a Python ``while`` that stops when every sample's cumulative halting probability reaches ``1 - eps``
  (``bool((total < limit).any())``), then per-sample halting weights from ``cumsum`` and comparisons: ``p_n``
  before the halting step, the remainder ``R = 1 - sum p`` at it (``torch.where``), the ponder cost ``N + R``
  added to the loss; Adam;
* ``EARLY_EXIT`` follows BranchyNet (Teerapittayanon et al., 2016): three stages with an exit classifier each,
  trained on the weighted sum of the exits' cross-entropies (the later exits' terms masked to the samples the
  earlier exits are unsure of, by ``masked_select`` and a float mask), and an ``@torch.no_grad()`` inference that
  routes each sample out at the first exit whose softmax entropy is under its threshold: boolean masks,
  ``nonzero``, ``index_select``, ``index_fill_``, index writes and a shrinking batch.

Each source runs twice, after torch's imports and after minigrad's, from the same initial weights; the losses,
predictions and final weights must agree (1e-5 relative in float32).
"""

from __future__ import annotations

import linecache
import sys
import types
import warnings
from typing import Any

import numpy as np
import pytest

import minigrad as mg
from tests.test_pytorch_programs import (
    MINIGRAD_IMPORTS,
    TORCH_IMPORTS,
    _assert_same_weights,
    _twin_models,
)

TORCHSCRIPT = '''
@torch.jit.script
def smooth_l1(prediction, target, beta: float = 1.0):
    """Huber-style loss, elementwise then averaged: quadratic under beta, linear beyond."""
    error = torch.abs(prediction - target)
    return torch.where(error < beta, 0.5 * error * error / beta, error - 0.5 * beta).mean()


class GatedRegressor(nn.Module):
    """Features (B, 4) -> predictions (B, 1): a gated hidden layer (tanh value times sigmoid gate) and a
    scaled linear read-out, in the subset of Python TorchScript compiles."""

    scale: float

    def __init__(self, features=4, hidden=8):
        super().__init__()
        self.value = nn.Linear(features, hidden)
        self.gate = nn.Linear(features, hidden)
        self.readout = nn.Linear(hidden, 1)
        self.scale = 0.5

    def forward(self, x):
        hidden = torch.tanh(self.value(x)) * torch.sigmoid(self.gate(x))
        if not torch.jit.is_scripting():
            hidden = hidden + 0.0   # eager-only code path: the same values
        return self.readout(hidden) * self.scale

    @torch.jit.export
    def gates(self, x):
        return torch.sigmoid(self.gate(x))

    @torch.jit.ignore
    def trainable(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


def make_model():
    return GatedRegressor()


def fit(runner, parameters, batches, lr=0.05):
    optimizer = optim.Adam(parameters, lr=lr)
    losses = []
    for inputs, targets in batches:
        optimizer.zero_grad()
        loss = smooth_l1(runner(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def train(model, batches):
    """Script the model and train through it, then trace it and train on: one set of weights throughout."""
    scripted = torch.jit.script(model)
    losses = fit(scripted, scripted.parameters(), batches[:3])
    traced = torch.jit.trace(model, batches[0][0], check_trace=False)
    losses += fit(traced, model.parameters(), batches[3:])
    with torch.no_grad():
        probe = batches[0][0]
        agree = [(scripted(probe) - model(probe)).abs().max().item(), (traced(probe) - model(probe)).abs().max().item()]
        gates = scripted.gates(probe)
    return losses, agree, gates, model.trainable()


def save_and_reload(scripted, path, probe):
    """The deployment habit: write the scripted module, read it back without its class, run it."""
    torch.jit.save(scripted, path)
    loaded = torch.jit.load(path)
    with torch.no_grad():
        return loaded(probe)
'''


BRANCHES = '''
class TwoHeaded(nn.Module):
    """Inputs (B, 4) -> outputs (B, 3): a tanh encoder, then one of two heads for the whole batch, chosen by
    the sign of the batch's mean activation; ``style`` says how the choice is written."""

    def __init__(self, style):
        super().__init__()
        self.style = style
        self.encoder = nn.Linear(4, 6)
        self.smooth = nn.Linear(6, 3)
        self.sharp = nn.Linear(6, 3)

    def smooth_head(self, hidden):
        return self.smooth(hidden)

    def sharp_head(self, hidden):
        return 2.0 * F.relu(self.sharp(hidden))

    def forward(self, x):
        hidden = torch.tanh(self.encoder(x))
        if self.style == "cond":
            return torch.cond(hidden.mean() > 0, self.smooth_head, self.sharp_head, (hidden,))
        if hidden.mean().item() > 0:
            return self.smooth_head(hidden)
        return self.sharp_head(hidden)


class FixedPoint(nn.Module):
    """Inputs (B, 4) -> outputs (B, 2): iterate h <- tanh(W h + U x) from zeros until the update is small or
    ``max_steps`` steps have run, then read h out."""

    def __init__(self, style, hidden=5, max_steps=4, tolerance=0.05):
        super().__init__()
        self.style, self.max_steps, self.tolerance = style, max_steps, tolerance
        self.inject = nn.Linear(4, hidden)
        self.recur = nn.Linear(hidden, hidden, bias=False)
        self.readout = nn.Linear(hidden, 2)

    def forward(self, x):
        drive = self.inject(x)
        state = torch.zeros_like(drive)
        delta = torch.ones(())
        if self.style == "while_loop":
            def keep_going(step, state, delta):
                return (step < self.max_steps) & (delta > self.tolerance)

            def update(step, state, delta):
                new_state = torch.tanh(self.recur(state) + drive)
                return step + 1, new_state, (new_state - state).abs().max()

            step, state, delta = torch.while_loop(keep_going, update, (torch.tensor(0), state, delta))
        else:
            step = 0
            while step < self.max_steps and delta.item() > self.tolerance:
                new_state = torch.tanh(self.recur(state) + drive)
                step, state, delta = step + 1, new_state, (new_state - state).abs().max()
        return self.readout(state)


def make_model(head_style, loop_style):
    return TwoHeaded(head_style), FixedPoint(loop_style)


def train(models, batches, compiled=False, lr=0.05):
    heads, loop = models
    if compiled:
        heads, loop = torch.compile(heads, backend="eager"), torch.compile(loop, backend="eager")
    optimizer = optim.Adam(list(heads.parameters()) + list(loop.parameters()), lr=lr)
    losses = []
    for inputs, head_targets, loop_targets in batches:
        optimizer.zero_grad()
        loss = F.mse_loss(heads(inputs), head_targets) + F.cross_entropy(loop(inputs), loop_targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
'''


ADAPTIVE_COMPUTATION_TIME = '''
class PonderingRNN(nn.Module):
    """Bit sequences (B, T, I) -> parity logits (B, 2) and the mean ponder cost: an RNN cell that thinks a
    variable number of steps about each input (ACT): h_t = sum_n w_n s_t^n, where the halting weights w_n are
    p_n up to the halting step N and the remainder R = 1 - sum_{n<N} p_n at it."""

    def __init__(self, input_size, hidden_size, max_ponder=4, epsilon=0.05):
        super().__init__()
        self.cell = nn.RNNCell(input_size + 1, hidden_size)
        self.halt = nn.Linear(hidden_size, 1)
        self.readout = nn.Linear(hidden_size, 2)
        self.max_ponder, self.limit = max_ponder, 1.0 - epsilon
        nn.init.constant_(self.halt.bias, -1.0)   # start by pondering a few steps

    def ponder(self, x, state):
        """One input (B, I) and state (B, H) -> the next state (B, H) and the ponder cost N + R (B,)."""
        batch = x.size(0)
        states, probs = [], []
        total = x.new_zeros(batch)
        while len(states) < self.max_ponder:
            flag = x.new_full((batch, 1), 1.0 if not states else 0.0)   # marks the first step on this input
            state = self.cell(torch.cat([flag, x], dim=1), state)
            p = torch.sigmoid(self.halt(state)).squeeze(1)
            states.append(state)
            probs.append(p)
            total = total + p
            if not bool((total < self.limit).any()):   # every sample has halted
                break
        probs, states = torch.stack(probs, dim=1), torch.stack(states, dim=1)   # (B, N), (B, N, H)
        steps = probs.size(1)
        reached = torch.cumsum(probs, dim=1) >= self.limit
        reached = reached | (torch.arange(steps) == steps - 1)   # the last step halts whoever is left
        halted_before = torch.cumsum(reached.long(), dim=1) - reached.long() > 0
        running = ~reached & ~halted_before                        # steps before the halting step
        at_halt = reached & ~halted_before                         # the halting step itself
        remainder = 1.0 - (probs * running.float()).sum(dim=1)
        weights = torch.where(running, probs, torch.where(at_halt, remainder.unsqueeze(1), torch.zeros_like(probs)))
        new_state = (weights.unsqueeze(2) * states).sum(dim=1)
        ponder_cost = running.float().sum(dim=1) + 1.0 + remainder
        return new_state, ponder_cost

    def forward(self, bits):
        state = bits.new_zeros(bits.size(0), self.cell.hidden_size)
        costs = []
        for t in range(bits.size(1)):
            state, cost = self.ponder(bits[:, t], state)
            costs.append(cost)
        return self.readout(state), torch.stack(costs, dim=1).sum(dim=1).mean()


def make_model():
    return PonderingRNN(input_size=3, hidden_size=10)


def train(model, batches, time_penalty=0.01, lr=0.01):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    history = []
    for bits, parity in batches:
        optimizer.zero_grad()
        logits, ponder = model(bits)
        loss = F.cross_entropy(logits, parity) + time_penalty * ponder
        loss.backward()
        optimizer.step()
        history.append((loss.item(), ponder.item()))
    return history
'''


EARLY_EXIT = '''
class BranchyNet(nn.Module):
    """Features (B, 10) -> logits (B, C) at each of three exits, one after each stage."""

    def __init__(self, features=10, classes=4, width=12):
        super().__init__()
        self.stages = nn.ModuleList([nn.Sequential(nn.Linear(features, width), nn.ReLU()),
                                     nn.Sequential(nn.Linear(width, width), nn.ReLU()),
                                     nn.Sequential(nn.Linear(width, width), nn.Tanh())])
        self.exits = nn.ModuleList([nn.Linear(width, classes) for _ in range(3)])

    def forward(self, x):
        outputs = []
        for stage, head in zip(self.stages, self.exits):
            x = stage(x)
            outputs.append(head(x))
        return outputs


def entropy(logits):
    """Entropy of each row's softmax (B,)."""
    return -(F.softmax(logits, dim=1) * F.log_softmax(logits, dim=1)).sum(dim=1)


def make_model():
    return BranchyNet()


def train(model, batches, exit_weights=(1.0, 0.6, 0.3), unsure=1.2, lr=0.02):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    history = []
    for inputs, labels in batches:
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = exit_weights[0] * F.cross_entropy(outputs[0], labels)
        # the later exits learn from the samples the first exit is unsure of
        pending = (entropy(outputs[0]) > unsure).detach()
        share = pending.float()
        for weight, logits in zip(exit_weights[1:], outputs[1:]):
            per_sample = F.cross_entropy(logits, labels, reduction="none")
            loss = loss + weight * (per_sample * share).sum() / share.sum().clamp(min=1.0)
        confident = F.softmax(outputs[0], dim=1).max(dim=1).values.masked_select(~pending)
        loss.backward()
        optimizer.step()
        history.append((loss.item(), int(pending.sum()), confident.sum().item()))
    return history


@torch.no_grad()
def predict(model, inputs, thresholds=(1.3, 1.36)):
    """Each sample leaves at the first exit whose entropy is under its threshold (the last exit takes the rest):
    the predicted class (B,) and the exit each sample left by (B,)."""
    model.eval()
    predictions = torch.full((inputs.size(0),), -1, dtype=torch.long)
    exit_taken = torch.zeros(inputs.size(0), dtype=torch.long)
    remaining = torch.arange(inputs.size(0))
    hidden = inputs
    for k, (stage, head) in enumerate(zip(model.stages, model.exits)):
        hidden = stage(hidden)
        logits = head(hidden)
        if k < len(thresholds):
            leaving = entropy(logits) < thresholds[k]
        else:
            leaving = torch.ones(logits.size(0), dtype=torch.bool)
        leaving_ids = remaining[leaving]
        predictions[leaving_ids] = logits[leaving].argmax(dim=1)
        exit_taken.index_fill_(0, leaving_ids, k)
        staying = torch.nonzero(~leaving).squeeze(1)
        remaining = remaining.index_select(0, staying)
        hidden = hidden.index_select(0, staying)
        if remaining.numel() == 0:
            break
    model.train()
    return predictions, exit_taken
'''

SOURCES = (TORCHSCRIPT, BRANCHES, ADAPTIVE_COMPUTATION_TIME, EARLY_EXIT)


def test_the_programs_differ_only_in_their_imports() -> None:
    assert MINIGRAD_IMPORTS.count("\n") == TORCH_IMPORTS.count("\n")   # the line numbers TorchScript reads agree
    for source in SOURCES:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


def _data(seed: int, *specs: tuple) -> tuple:
    """NumPy arrays from one stream: ("f", shape) normal float32, ("c", shape, k) int64 classes below k,
    ("b", shape) float32 bits."""
    rng = np.random.default_rng(seed)
    out = []
    for kind, shape, *rest in specs:
        if kind == "f":
            out.append(rng.normal(size=shape).astype(np.float32))
        elif kind == "c":
            out.append(rng.integers(0, rest[0], size=shape).astype(np.int64))
        else:
            out.append(rng.integers(0, 2, size=shape).astype(np.float32))
    return tuple(out)


def _tensors(lib: Any, batches: list) -> list:
    """Each batch's arrays as ``lib``'s tensors (torch or minigrad: the same numbers)."""
    return [tuple(lib.from_numpy(array.copy()) for array in batch) for batch in batches]


# ----------------------------------------------------------------------------------------------- TorchScript

@pytest.fixture
def scriptable(monkeypatch: pytest.MonkeyPatch) -> None:
    """TorchScript reads a function's source through ``inspect``: the programs' text under their file name
    ("program"), as the torch program runs it (minigrad's imports have as many lines, so line numbers agree)."""
    text = TORCH_IMPORTS + TORCHSCRIPT
    monkeypatch.setitem(linecache.cache, "program", (len(text), None, text.splitlines(True), "program"))


def test_scripted_and_traced_model_trains_as_torch(torch: Any, scriptable: None, tmp_path: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # both engines: TorchScript is deprecated in 2.13
        torch_program, theirs, mg_program, ours, initial = _twin_models(TORCHSCRIPT)
        arrays = [_data(step, ("f", (6, 4)), ("f", (6, 1))) for step in range(5)]
        batches, mg_batches = _tensors(torch, arrays), _tensors(mg, arrays)
        their_losses, their_agree, their_gates, their_count = torch_program["train"](theirs, batches)
        our_losses, our_agree, our_gates, our_count = mg_program["train"](ours, mg_batches)
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-5)
    assert our_agree == their_agree == [0.0, 0.0]   # scripted and traced modules run the model's own weights
    np.testing.assert_allclose(our_gates.numpy(), their_gates.numpy(), rtol=1e-5)
    assert our_count == their_count == 4 * 8 * 2 + 8 * 2 + 8 + 1
    _assert_same_weights(theirs, ours, initial)
    # the deployment round trip: torch's archive runs without the class; minigrad says what to do instead
    probe = batches[0][0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        reloaded = torch_program["save_and_reload"](torch.jit.script(theirs), str(tmp_path / "model.pt"), probe)
    np.testing.assert_allclose(reloaded.numpy(), theirs(probe).detach().numpy())
    with pytest.raises(NotImplementedError, match=r"mg\.jit\.save.*state_dict"):
        mg_program["save_and_reload"](ours, str(tmp_path / "ours.pt"), mg_batches[0][0])
    assert not (tmp_path / "ours.pt").exists()


def test_jit_script_and_trace_are_the_objects_themselves() -> None:
    class Counter(mg.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = mg.nn.Linear(2, 1)
            self.calls = 0

        def forward(self, x: mg.Tensor) -> mg.Tensor:
            self.calls += 1
            return self.linear(x)

    model = Counter()
    with pytest.warns(DeprecationWarning, match="torch.jit.script"):
        assert mg.jit.script(model) is model
    with pytest.warns(DeprecationWarning, match="torch.jit.trace"):
        assert mg.jit.trace(model, mg.ones(3, 2)) is model
    assert model.calls == 1   # the tracing run, as torch's with check_trace=False; nothing recorded
    assert model.linear.weight.grad is None
    with pytest.warns(DeprecationWarning):
        assert mg.jit.trace(model, example_kwarg_inputs={"x": mg.ones(1, 2)}) is model
    with pytest.raises(NotImplementedError, match=r"mg\.jit\.load.*load_state_dict"):
        mg.jit.load("model.pt")
    assert mg.jit.ignore(len) is len and mg.jit.ignore(drop=True)(len) is len and mg.jit.unused(len) is len
    assert not mg.jit.is_scripting() and not mg.jit.is_tracing() and mg.jit.annotate(int, 3) == 3


# ------------------------------------------------------------------------------------------ cond, while_loop

BRANCH_DATA = [_data(10 + step, ("f", (5, 4)), ("f", (5, 3)), ("c", (5,), 2)) for step in range(4)]


def _importable(monkeypatch: pytest.MonkeyPatch, program: dict) -> None:
    """torch.compile (hence torch.cond and torch.while_loop) imports the module of the globals a traced function
    reads: the exec'd program as module "program", while the test runs."""
    module = types.ModuleType("program")
    module.__dict__.update(program)
    monkeypatch.setitem(sys.modules, "program", module)


def test_cond_and_while_loop_train_as_python_control_flow_and_as_torch(torch: Any,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """torch.cond / torch.while_loop, and the same models with Python if/while on .item(), eager and compiled.

    torch.while_loop's gradients are wrong in torch 2.13 (its docstring: "doesn't support training currently"):
    a tensor the body reads gets the gradient of one iteration, not of all (``s + w`` run twice gives w.grad 1,
    not 2). minigrad's count every iteration, so its while_loop runs are compared with torch's Python ``while``,
    whose gradients are right, and torch's while_loop with its forward values only.
    """
    def runs(lib: Any, program: dict, head: str, loop: str, compiled: bool, models: tuple) -> list:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mg.CompileWarning)   # .item() inside: those calls run eagerly
            return program["train"](models, _tensors(lib, BRANCH_DATA), compiled=compiled)

    # torch.compile(backend="eager") runs torch's eager ops between graph breaks, so its numbers are eager's: the
    # compiled runs are compared with torch's eager runs (compiling costs torch ~0.6 s of this file's budget)
    cases = {("cond", "while_loop", False): ("cond", "python", False),
             ("cond", "while_loop", True): ("cond", "python", False),
             ("python", "python", False): ("python", "python", False),
             ("python", "python", True): ("python", "python", False)}
    theirs_by_case: dict = {}
    for (head, loop, compiled), reference in cases.items():
        torch_program, _, mg_program, ours, initial = _twin_models(BRANCHES, head, loop)
        our_losses = runs(mg, mg_program, head, loop, compiled, ours)
        if reference not in theirs_by_case:
            torch_program, theirs, _, _, _ = _twin_models(BRANCHES, *reference[:2])
            _importable(monkeypatch, torch_program)
            theirs_by_case[reference] = runs(torch, torch_program, *reference, theirs), theirs, torch_program
        their_losses, theirs, torch_program = theirs_by_case[reference]
        np.testing.assert_allclose(our_losses, their_losses, rtol=1e-5)
        for their_model, our_model, start in zip(theirs, ours, initial):
            _assert_same_weights(their_model, our_model, start)
    # torch's while_loop computes the trained model's forward as its Python loop does, and as ours
    _importable(monkeypatch, torch_program)
    their_loop, our_loop = torch_program["FixedPoint"]("while_loop"), mg_program["FixedPoint"]("while_loop")
    their_loop.load_state_dict(theirs[1].state_dict())
    our_loop.load_state_dict({k: mg.from_numpy(v.numpy().copy()) for k, v in theirs[1].state_dict().items()})
    with torch.no_grad():
        expected = theirs[1](torch.from_numpy(BRANCH_DATA[0][0]))
        np.testing.assert_allclose(their_loop(torch.from_numpy(BRANCH_DATA[0][0])).numpy(), expected.numpy())
    np.testing.assert_allclose(our_loop(mg.from_numpy(BRANCH_DATA[0][0])).detach().numpy(), expected.numpy(),
                               rtol=1e-5)


def test_the_branch_taken_gets_the_gradients() -> None:
    x = mg.tensor([0.5, -1.0], requires_grad=True)
    w = mg.tensor([2.0, 3.0], requires_grad=True)
    for pred, grad_w in ((mg.tensor(True), [0.5, -1.0]), (mg.tensor([0.0]), [1.0, 1.0]), (False, [1.0, 1.0])):
        w.grad = None
        mg.cond(pred, lambda a: a * w, lambda a: a + w, (x,)).sum().backward()
        np.testing.assert_array_equal(w.grad.numpy(), grad_w)
    pair = mg.cond(mg.tensor(1), lambda a, b: [a * 2, b * 3], lambda a, b: [a + 1, b - 1], [x, w])
    assert isinstance(pair, list) and pair[1].tolist() == [6.0, 9.0]


def test_the_branch_not_taken_gives_what_it_reads_zero_gradients() -> None:
    """torch.cond's autograd op sends zeros (not None) to every tensor the other branch reads, so Adam's moments
    move them as torch's do; the other branch's random draws are undone; a Python bool pred, or no_grad, runs
    the taken branch alone (torch's eager path gives None there)."""
    x = mg.tensor([0.5, -1.0], requires_grad=True)
    used, unused = mg.nn.Linear(2, 2), mg.nn.Linear(2, 2)
    mg.manual_seed(3)
    expected_draw = mg.rand(1).item()
    mg.manual_seed(3)
    out = mg.cond(x.sum() < 0, used, lambda a: mg.nn.functional.dropout(unused(a), 0.5), (x,))
    assert mg.rand(1).item() == expected_draw   # the dropout in the other branch drew nothing for good
    out.sum().backward()
    assert used.weight.grad is not None and unused.weight.grad.tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert unused.bias.grad.tolist() == [0.0, 0.0]
    unused.zero_grad(set_to_none=True)
    mg.cond(True, used, unused, (x,)).sum().backward()
    with mg.no_grad():
        mg.cond(x.sum() < 0, used, unused, (x,))
    assert unused.weight.grad is None
    with pytest.raises(RuntimeError, match="same structure, shapes and dtypes"):
        mg.cond(x.sum() < 0, used, lambda a: a.sum(), (x,))


def test_a_branch_not_taken_that_changes_state_is_refused() -> None:
    """Running the other branch must not change state a second time (a BatchNorm in training mode updates its
    running statistics): refused, as torch.cond refuses branches that mutate; no_grad runs the taken one alone."""
    x = mg.tensor([[0.5, -1.0], [2.0, 0.0]], requires_grad=True)
    norm = mg.nn.BatchNorm1d(2)
    with pytest.raises(RuntimeError, match="branch not taken changes a tensor in place"):
        mg.cond(x.sum() > 0, norm, lambda a: norm(a) * 2, (x,))
    with mg.no_grad():
        before = norm.num_batches_tracked.item()
        mg.cond(x.sum() > 0, norm, lambda a: norm(a) * 2, (x,))
    assert norm.num_batches_tracked.item() == before + 1   # once: the taken branch's update


def test_while_loop_carries_gradients_through_every_iteration() -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    step, y = mg.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v * x), (mg.tensor(0), x))
    assert step.item() == 3
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 32.0])   # d/dx x^4
    no_step = mg.while_loop(lambda i, v: i < 0, lambda i, v: (i + 1, v), (mg.tensor(0), x))
    assert isinstance(no_step, tuple) and no_step[1] is not x and no_step[1].tolist() == [1.0, 2.0]
    assert mg.while_loop(lambda i, v: i < 2, lambda i, v: [i + 1, v * 2], [0, x])[0] == 2


@pytest.mark.parametrize("call, message", [
    (lambda x: mg.cond(x > 0, mg.sin, mg.cos, (x,)), "single-element tensor, got shape"),
    (lambda x: mg.cond("yes", mg.sin, mg.cos, (x,)), "a bool or a tensor, got str"),
    (lambda x: mg.cond(x.sum() > 0, mg.sin, mg.cos, (x, 2)), "tensors only"),
    (lambda x: mg.cond(x.sum() > 0, mg.sin, None, (x,)), "callable"),
    (lambda x: mg.cond(x.sum() > 0, lambda a: a, mg.cos, (x,)), "x.clone"),
    (lambda x: mg.while_loop(lambda v: v.sum(), lambda v: (v * 2,), (x,)), "boolean scalar tensor"),
    (lambda x: mg.while_loop(lambda v: v.sum() < 9, lambda v: v * 2, (x,)), "tuple of 1 values"),
    (lambda x: mg.while_loop(lambda v: v.sum() < 9, lambda v: (mg.cat([v, v]),), (x,)), "keep the carried"),
    (lambda x: mg.while_loop(lambda v: v.sum() < 9, lambda v: (v,), (x,)), "x.clone"),
    (lambda x: mg.while_loop(lambda v: v.sum() < 9, lambda v: (v * 2,), x), "tuple or list"),
    (lambda x: mg.while_loop(lambda v: v.sum() < 9, lambda v: (v * 2,), (x, "a")), "tensors and ints"),
])
def test_cond_and_while_loop_refuse_what_torch_refuses(call: Any, message: str) -> None:
    with pytest.raises(RuntimeError, match=message):   # torch's class for each (its dynamo errors included)
        call(mg.ones(3))


def test_a_compiled_cond_never_replays_the_other_branch() -> None:
    """mg.compile over mg.cond: the predicate is read, so each call runs eagerly and takes its own branch."""
    scale = mg.tensor([2.0, 3.0], requires_grad=True)

    def pick(x: mg.Tensor) -> mg.Tensor:
        return mg.cond(x.sum() > 0, lambda a: a * scale, lambda a: a - scale, (x,))

    compiled = mg.compile(pick)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mg.CompileWarning)
        for values in ([1.0, 1.0], [-1.0, -1.0], [1.0, 2.0], [-3.0, 1.0]):
            x = mg.tensor(values)
            np.testing.assert_array_equal(compiled(x).numpy(), pick(x).numpy())


# ------------------------------------------------------------------------------ ACT and early-exit classifiers

def test_adaptive_computation_time(torch: Any) -> None:
    torch_program, theirs, mg_program, ours, initial = _twin_models(ADAPTIVE_COMPUTATION_TIME)
    batches = []
    for step in range(4):
        (bits,) = _data(20 + step, ("b", (6, 3, 3)))
        batches.append((bits, (bits.sum(axis=(1, 2)) % 2).astype(np.int64)))
    their_history = torch_program["train"](theirs, _tensors(torch, batches))
    our_history = mg_program["train"](ours, _tensors(mg, batches))
    np.testing.assert_allclose(our_history, their_history, rtol=1e-5)
    assert all(3.0 < ponder <= 3 * 4 + 3 for _, ponder in our_history)   # between 1 and max_ponder steps per input
    _assert_same_weights(theirs, ours, initial)


def test_early_exit_classifier(torch: Any) -> None:
    torch_program, theirs, mg_program, ours, initial = _twin_models(EARLY_EXIT)
    batches = [_data(30 + step, ("f", (8, 10)), ("c", (8,), 4)) for step in range(4)]
    their_history = torch_program["train"](theirs, _tensors(torch, batches))
    our_history = mg_program["train"](ours, _tensors(mg, batches))
    assert [h[1] for h in our_history] == [h[1] for h in their_history]
    np.testing.assert_allclose(our_history, their_history, rtol=1e-5)
    _assert_same_weights(theirs, ours, initial)
    (inputs,) = _data(40, ("f", (12, 10)))
    their_predictions, their_exits = torch_program["predict"](theirs, torch.from_numpy(inputs))
    our_predictions, our_exits = mg_program["predict"](ours, mg.from_numpy(inputs))
    np.testing.assert_array_equal(our_exits.numpy(), their_exits.numpy())
    np.testing.assert_array_equal(our_predictions.numpy(), their_predictions.numpy())
    assert ours.training and len(set(our_exits.tolist())) > 1   # the routing sent samples out at several exits


@pytest.mark.gpu
def test_cond_and_while_loop_on_the_gpu() -> None:
    x = mg.tensor([0.5, -1.0], device="cuda", requires_grad=True)
    used, unused = mg.nn.Linear(2, 2, device="cuda"), mg.nn.Linear(2, 2, device="cuda")
    mg.cond(x.sum() < 0, used, unused, (x,)).sum().backward()
    assert unused.weight.grad.device == x.device and not unused.weight.grad.cpu().numpy().any()
    step, y = mg.while_loop(lambda i, v: i < 2, lambda i, v: (i + 1, used(v)), (mg.tensor(0, device="cuda"), x))
    assert step.item() == 2 and y.device == x.device
