"""nn.optim: twenty steps equal to torch.optim (float64, rel. < 1e-10), groups, state dicts, devices."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close

import minigrad as mg
import nn
from minigrad import backend
from nn import optim

RNG = np.random.default_rng(11)
X = RNG.standard_normal((16, 3))
Y = RNG.standard_normal((16, 2))

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, weight_decay=0.05)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.05, dampening=0.2)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.05)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99), weight_decay=0.1)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.1, maximize=True)),
    ("RMSprop", dict(lr=0.01, alpha=0.3)),
    ("RMSprop", dict(lr=0.01, alpha=0.6, centered=True)),
    ("Adam", dict(lr=0.05, betas=(0.3, 0.5))),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.3, eps=1e-6)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.02, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5, maximize=True)),
]


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(3, 5, dtype=mg.float64)
        self.out = nn.Linear(5, 2, dtype=mg.float64)

    def forward(self, x: mg.Tensor) -> mg.Tensor:
        return self.out(self.hidden(x).tanh())


def torch_twin(torch, model: MLP):
    twin = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2)).double()
    with torch.no_grad():
        for (_, ours), theirs in zip(model.named_parameters(), twin.parameters()):
            theirs.copy_(torch.from_numpy(ours.numpy()))
    return twin


def loss_of(model: MLP) -> mg.Tensor:
    return nn.functional.mse_loss(model(mg.tensor(X)), Y)


def train(optimizer, model, steps: int) -> None:
    for _ in range(steps):
        optimizer.zero_grad()
        loss_of(model).backward()
        optimizer.step()


def train_torch(torch, optimizer, twin, steps: int) -> None:
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(twin(torch.from_numpy(X)), torch.from_numpy(Y)).backward()
        optimizer.step()


def assert_same_parameters(model, twin) -> None:
    for (name, ours), theirs in zip(model.named_parameters(), twin.parameters()):
        assert_close(ours, theirs, what=name)


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_twenty_steps_equal_torch(torch, name, kwargs) -> None:
    model = MLP()
    twin = torch_twin(torch, model)
    ours = getattr(optim, name)(model.parameters(), **kwargs)
    theirs = getattr(torch.optim, name)(twin.parameters(), **kwargs)
    arrays = [p.data for p in model.parameters()]
    for _ in range(4):
        train(ours, model, 5)
        train_torch(torch, theirs, twin, 5)
        assert_same_parameters(model, twin)
    t_state = theirs.state_dict()["state"]
    for index, entries in ours.state_dict()["state"].items():
        assert set(entries) == set(t_state[index]), name   # the same state, by PyTorch's names
        for key, value in entries.items():
            expected = t_state[index][key]
            assert_close(value if isinstance(value, mg.Tensor) else np.float64(value), expected, what=key)
    for p, array in zip(model.parameters(), arrays):
        assert p.data is array and p.is_leaf  # updated in place, nothing recorded


def test_param_groups_equal_torch(torch) -> None:
    model = MLP()
    twin = torch_twin(torch, model)
    groups = [{"params": model.hidden.parameters(), "lr": 0.01, "weight_decay": 0.2},
              {"params": model.out.parameters()}]
    t_groups = [{"params": twin[0].parameters(), "lr": 0.01, "weight_decay": 0.2},
                {"params": twin[2].parameters()}]
    ours = optim.Adam(groups, lr=0.05)
    theirs = torch.optim.Adam(t_groups, lr=0.05)
    assert ours.param_groups[1]["lr"] == 0.05 and ours.param_groups[0]["weight_decay"] == 0.2
    train(ours, model, 5)
    train_torch(torch, theirs, twin, 5)
    assert_same_parameters(model, twin)


@pytest.mark.parametrize("name", ["Adagrad", "RMSprop", "SGD"])
def test_param_groups_of_other_optimizers_equal_torch(torch, name) -> None:
    model = MLP()
    twin = torch_twin(torch, model)
    extra = {"Adagrad": dict(lr_decay=0.1), "RMSprop": dict(centered=True), "SGD": dict(momentum=0.8)}[name]
    groups = [{"params": model.hidden.parameters(), "lr": 0.02, "weight_decay": 0.2, **extra},
              {"params": model.out.parameters()}]
    t_groups = [{"params": twin[0].parameters(), "lr": 0.02, "weight_decay": 0.2, **extra},
                {"params": twin[2].parameters()}]
    ours, theirs = getattr(optim, name)(groups, lr=0.05), getattr(torch.optim, name)(t_groups, lr=0.05)
    train(ours, model, 10)
    train_torch(torch, theirs, twin, 10)
    assert_same_parameters(model, twin)


@pytest.mark.parametrize("name,kwargs", CONFIGS[::3], ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS[::3])])
def test_a_torch_state_dict_loads_and_continues_as_torch(torch, name, kwargs) -> None:
    """PyTorch's optimizer state dict, converted with .numpy(), loads; both then take the same steps."""
    model = MLP()
    twin = torch_twin(torch, model)
    theirs = getattr(torch.optim, name)(twin.parameters(), **kwargs)
    train_torch(torch, theirs, twin, 3)
    with torch.no_grad():
        for p, q in zip(model.parameters(), twin.parameters()):
            p.data[...] = q.numpy()
    converted = theirs.state_dict()
    converted["state"] = {i: {k: (v.numpy() if hasattr(v, "numpy") else v) for k, v in entries.items()}
                          for i, entries in converted["state"].items()}
    ours = getattr(optim, name)(model.parameters(), lr=1.0)
    ours.load_state_dict(converted)
    train(ours, model, 4)
    train_torch(torch, theirs, twin, 4)
    assert_same_parameters(model, twin)


@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.05, amsgrad=True)),
                                         ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True)),
                                         ("Adagrad", dict(lr=0.1, lr_decay=0.01))])
def test_state_dict_round_trip_resumes_exactly(tmp_path, name, kwargs) -> None:
    mg.manual_seed(1)
    straight = MLP()
    mg.manual_seed(1)
    resumed = MLP()
    opt = getattr(optim, name)(straight.parameters(), **kwargs)
    train(opt, straight, 3)
    other = getattr(optim, name)(resumed.parameters(), **kwargs)
    train(other, resumed, 3)
    # checkpoint the second run through a file, rebuild model and optimizer, continue both
    nn.save({"model": resumed.state_dict(), "optimizer": other.state_dict()}, tmp_path / "ck.npz")
    checkpoint = nn.load(tmp_path / "ck.npz")
    fresh = MLP()
    fresh.load_state_dict(checkpoint["model"])
    fresh_opt = getattr(optim, name)(fresh.parameters(), lr=123.0)
    fresh_opt.load_state_dict(checkpoint["optimizer"])
    assert fresh_opt.param_groups[0]["lr"] == kwargs["lr"]
    train(opt, straight, 2)
    train(fresh_opt, fresh, 2)
    for a, b in zip(straight.parameters(), fresh.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_state_dict_layout_is_torch_like() -> None:
    model = MLP()
    opt = optim.Adam(model.parameters(), lr=0.01)
    train(opt, model, 2)
    state = opt.state_dict()
    assert sorted(state) == ["param_groups", "state"]
    assert state["param_groups"][0]["params"] == [0, 1, 2, 3]
    assert state["param_groups"][0]["betas"] == (0.9, 0.999)
    assert state["state"][0]["step"] == 2 and state["state"][0]["exp_avg"].shape == (5, 3)
    before = state["state"][0]["exp_avg"].numpy().copy()
    train(opt, model, 1)
    np.testing.assert_array_equal(state["state"][0]["exp_avg"].numpy(), before)  # a snapshot, not a live view


def test_bad_state_dict_changes_nothing() -> None:
    model = MLP()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    train(opt, model, 1)
    state = opt.state_dict()
    state["state"][1]["momentum_buffer"] = mg.zeros(7)
    state["param_groups"][0]["lr"] = 9.0
    target = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    with pytest.raises(ValueError, match=r"state\[1\]\['momentum_buffer'\]: shape \(7,\) .* shape \(5,\)"):
        target.load_state_dict(state)
    assert target.param_groups[0]["lr"] == 0.5 and not target.state
    with pytest.raises(ValueError, match="1 parameter group"):
        optim.SGD([{"params": [model.hidden.weight]}, {"params": [model.out.weight]}], lr=0.1).load_state_dict(state)


@pytest.mark.parametrize("lr", [float("nan"), -0.1])
@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop"])
def test_invalid_learning_rate_names_optimizer_and_value(name, lr) -> None:
    model = MLP()
    with pytest.raises(ValueError, match=rf"{name}: invalid learning rate lr={lr}"):
        getattr(optim, name)(model.parameters(), lr=lr)
    opt = getattr(optim, name)(model.parameters(), lr=0.1)
    opt.param_groups[0]["lr"] = lr  # e.g. a schedule gone wrong: caught at the next step
    loss_of(model).backward()
    with pytest.raises(ValueError, match=rf"{name}: invalid learning rate lr={lr}"):
        opt.step()


def test_argument_errors() -> None:
    model = MLP()
    with pytest.raises(ValueError, match="SGD: got an empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([model.hidden.weight * 2], lr=0.1)
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD(model.parameters(), lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="more than one group"):
        optim.SGD([{"params": [model.out.bias]}, {"params": [model.out.bias]}], lr=0.1)
    with pytest.raises(ValueError, match="Adam: invalid betas"):
        optim.Adam(model.parameters(), betas=(0.9, 1.5))
    with pytest.raises(TypeError, match="unknown hyper-parameter"):
        optim.SGD([{"params": model.parameters(), "betas": (0.9, 0.99)}], lr=0.1)


def test_zero_grad_and_parameters_without_grad() -> None:
    model = MLP()
    opt = optim.Adam(model.parameters(), lr=0.1)
    model.out(mg.tensor(X[:, :2].repeat(3, axis=1)[:, :5])).sum().backward()  # only `out` gets gradients
    hidden_before = model.hidden.weight.numpy().copy()
    opt.step()
    np.testing.assert_array_equal(model.hidden.weight.numpy(), hidden_before)
    assert model.hidden.weight not in opt.state
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    loss_of(model).backward()
    opt.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.numpy() == 0) for p in model.parameters())


def test_state_follows_a_dtype_change() -> None:
    model = nn.Linear(3, 2)
    opt = optim.Adam(model.parameters(), lr=0.01)
    loss = nn.functional.mse_loss(model(mg.tensor(X.astype(np.float32))), Y[:, :2].astype(np.float32))
    loss.backward()
    opt.step()
    assert opt.state[model.weight]["exp_avg"].dtype == np.float32
    model.double()
    model.zero_grad()
    nn.functional.mse_loss(model(mg.tensor(X)), Y[:, :2]).backward()
    opt.step()
    assert opt.state[model.weight]["exp_avg"].dtype == np.float64
    assert model.weight.dtype == np.float64


@pytest.mark.gpu
def test_state_follows_a_device_move_to_gpu() -> None:
    cpu_model, gpu_model = MLP(), MLP()
    gpu_model.load_state_dict(cpu_model.state_dict())
    cpu_opt = optim.Adam(cpu_model.parameters(), lr=0.05)
    gpu_opt = optim.Adam(gpu_model.parameters(), lr=0.05)
    train(cpu_opt, cpu_model, 2)
    train(gpu_opt, gpu_model, 2)
    gpu_model.to("cuda")
    for _ in range(3):
        cpu_opt.zero_grad()
        loss_of(cpu_model).backward()
        cpu_opt.step()
        gpu_opt.zero_grad()
        nn.functional.mse_loss(gpu_model(mg.tensor(X, device="cuda")), mg.tensor(Y, device="cuda")).backward()
        gpu_opt.step()
    assert backend.device_of(gpu_opt.state[gpu_model.hidden.weight]["exp_avg_sq"]).type == "cuda"
    for a, b in zip(cpu_model.parameters(), gpu_model.parameters()):
        assert b.device.type == "cuda"
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.gpu
@pytest.mark.parametrize("name,kwargs", CONFIGS[::2], ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS[::2])])
def test_on_the_gpu_same_steps_as_on_the_cpu(name, kwargs) -> None:
    cpu_model, gpu_model = MLP(), MLP()
    gpu_model.load_state_dict(cpu_model.state_dict())
    gpu_model.to("cuda")
    cpu_opt = getattr(optim, name)(cpu_model.parameters(), **kwargs)
    gpu_opt = getattr(optim, name)(gpu_model.parameters(), **kwargs)
    x, y = mg.tensor(X, device="cuda"), mg.tensor(Y, device="cuda")
    for _ in range(5):
        train(cpu_opt, cpu_model, 1)
        gpu_opt.zero_grad()
        nn.functional.mse_loss(gpu_model(x), y).backward()
        gpu_opt.step()
    for a, b in zip(cpu_model.parameters(), gpu_model.parameters()):
        assert b.device.type == "cuda"
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)
    state = gpu_opt.state_dict()                # a snapshot on the device; loads back onto it
    gpu_opt.load_state_dict(state)
