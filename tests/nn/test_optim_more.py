"""Adamax, NAdam, RAdam, Adadelta, Rprop and ASGD: every step equal to torch.optim's in float64 (rel. 1e-12).

Each optimizer runs twenty steps beside its PyTorch twin over three parameter groups with
different hyper-parameters; state dicts go ours → ours, PyTorch's → ours and ours → PyTorch
and the steps after the load still match; arguments and their checks follow PyTorch's.
"""

from __future__ import annotations

import copy
import inspect
import math

import numpy as np
import pytest
from helpers import assert_close

import minigrad as mg
import nn
from nn import optim
from tests.nn.test_optim import MLP, torch_twin  # the same small model and its PyTorch twin

RNG = np.random.default_rng(23)
X = RNG.standard_normal((16, 3))
Y = RNG.standard_normal((16, 2))
RTOL, ATOL = 1e-12, 1e-14

NAMES = ["Adamax", "NAdam", "RAdam", "Adadelta", "Rprop", "ASGD"]
SCALAR_STATE = {"NAdam": ("mu_product",), "ASGD": ("eta", "mu")}   # 0-d state entries, float32 in PyTorch

# (optimizer, constructor keywords); the parameter groups add GROUPS[name] on top
CONFIGS = [
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("Adamax", dict(lr=0.05, weight_decay=0.05, maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.05, betas=(0.8, 0.99), momentum_decay=0.01, weight_decay=0.1)),
    ("NAdam", dict(lr=0.05, weight_decay=0.2, decoupled_weight_decay=True)),
    ("NAdam", dict(lr=0.02, weight_decay=0.05, maximize=True)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.05, betas=(0.8, 0.9), weight_decay=0.1)),          # rectified from step 6 on
    ("RAdam", dict(lr=0.05, betas=(0.5, 0.6), weight_decay=0.2, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.02, betas=(0.9, 0.95), maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1)),
    ("Adadelta", dict(lr=0.5, weight_decay=0.05, maximize=True)),
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.1))),
    ("Rprop", dict(lr=0.02, maximize=True)),
    ("ASGD", dict()),
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=5, weight_decay=0.1)),  # averaging from step 6 on
    ("ASGD", dict(lr=0.02, lambd=0.1, t0=0, maximize=True)),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CONFIGS)]

# what the first group overrides (the second keeps the defaults, the third has its own lr)
GROUPS = {
    "Adamax": dict(lr=0.01, betas=(0.5, 0.9), weight_decay=0.3),
    "NAdam": dict(lr=0.01, momentum_decay=0.02, weight_decay=0.3, decoupled_weight_decay=True),
    "RAdam": dict(lr=0.01, betas=(0.7, 0.8), weight_decay=0.3),
    "Adadelta": dict(lr=2.0, rho=0.5, weight_decay=0.3),
    "Rprop": dict(lr=0.005, etas=(0.4, 1.3), step_sizes=(1e-4, 0.02)),
    "ASGD": dict(lr=0.01, lambd=0.05, alpha=1.0, t0=2, weight_decay=0.3),
}


def groups_of(params: list, name: str) -> list[dict]:
    """Three groups: the hidden layer with GROUPS[name], out.weight with the defaults, out.bias with lr/2."""
    lr = GROUPS[name]["lr"] / 2
    return [{"params": params[:2], **GROUPS[name]}, {"params": params[2:3]}, {"params": params[3:], "lr": lr}]


def step_ours(optimizer, model: MLP, x: np.ndarray = X) -> None:
    optimizer.zero_grad()
    nn.functional.mse_loss(model(mg.tensor(x)), Y).backward()
    optimizer.step()


def step_torch(torch, optimizer, twin, x: np.ndarray = X) -> None:
    optimizer.zero_grad()
    torch.nn.functional.mse_loss(twin(torch.from_numpy(x)), torch.from_numpy(Y)).backward()
    optimizer.step()


def assert_same_parameters(model, twin, what: str = "") -> None:
    for (name, ours), theirs in zip(model.named_parameters(), twin.parameters()):
        assert_close(ours, theirs, RTOL, ATOL, what=f"{what} {name}")


def assert_same_state(ours, theirs) -> None:
    """The same entries by PyTorch's names, in PyTorch's order, with the same values (and 0-d dtypes)."""
    t_state = theirs.state_dict()["state"]
    o_state = ours.state_dict()["state"]
    assert sorted(o_state) == sorted(t_state)
    for index, entries in o_state.items():
        assert list(entries) == list(t_state[index])
        for key, value in entries.items():
            expected = t_state[index][key]
            if key == "step":
                assert value == expected.item()
                continue
            assert_close(value, expected, RTOL, ATOL, what=key)
            assert str(value.dtype) == str(expected.dtype).removeprefix("torch."), key


def converted_from_torch(state_dict: dict) -> dict:
    """PyTorch's optimizer state dict with its tensors as NumPy arrays (what a user converts)."""
    state_dict = copy.deepcopy(state_dict)
    state_dict["state"] = {i: {k: (v.numpy() if hasattr(v, "numpy") else v) for k, v in entries.items()}
                           for i, entries in state_dict["state"].items()}
    return state_dict


def converted_to_torch(torch, state_dict: dict) -> dict:
    """Our optimizer state dict with its Tensors as torch tensors."""
    state_dict = copy.deepcopy(state_dict)
    state_dict["state"] = {i: {k: (torch.from_numpy(v.numpy()) if isinstance(v, mg.Tensor) else v)
                               for k, v in entries.items()} for i, entries in state_dict["state"].items()}
    return state_dict


# --- every step equal to PyTorch's ---

@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_twenty_steps_over_three_groups_equal_torch(torch, name, kwargs) -> None:
    model = MLP()
    twin = torch_twin(torch, model)
    ours = getattr(optim, name)(groups_of(list(model.parameters()), name), **kwargs)
    theirs = getattr(torch.optim, name)(groups_of(list(twin.parameters()), name), **kwargs)
    arrays = [p.data for p in model.parameters()]
    for step in range(20):
        step_ours(ours, model)
        step_torch(torch, theirs, twin)
        assert_same_parameters(model, twin, f"step {step + 1}")
    assert_same_state(ours, theirs)
    for p, array in zip(model.parameters(), arrays):
        assert p.data is array and p.is_leaf       # updated in place, nothing recorded


@pytest.mark.parametrize("name", NAMES)
def test_positional_arguments_keywords_and_defaults_are_torch_s(torch, name) -> None:
    ours = inspect.signature(getattr(optim, name)).parameters
    theirs = inspect.signature(getattr(torch.optim, name)).parameters
    ours = {k: v for k, v in ours.items() if k != "check_finite"}   # minigrad's own keyword-only extra
    assert list(ours) == list(theirs)
    for key, parameter in theirs.items():
        assert ours[key].kind == parameter.kind, key
        assert ours[key].default == parameter.default, key
    model = MLP()
    opt = getattr(optim, name)(model.parameters())
    theirs = getattr(torch.optim, name)(torch_twin(torch, model).parameters()).defaults
    assert list(opt.defaults.items()) == list(theirs.items())   # foreach, capturable ... too, in PyTorch's order


POSITIONAL = {
    "Adamax": (0.05, (0.8, 0.99), 1e-6, 0.1),
    "NAdam": (0.05, (0.8, 0.99), 1e-6, 0.1, 0.01, True),
    "RAdam": (0.05, (0.8, 0.9), 1e-6, 0.1, True),
    "Adadelta": (0.5, 0.8, 1e-5, 0.1),
    "Rprop": (0.05, (0.3, 1.5), (1e-3, 0.1)),
    "ASGD": (0.05, 0.01, 0.5, 5, 0.1, None, True),
}


@pytest.mark.parametrize("name", NAMES)
def test_positional_arguments_mean_what_they_mean_in_torch(torch, name) -> None:
    model = MLP()
    twin = torch_twin(torch, model)
    ours = getattr(optim, name)(model.parameters(), *POSITIONAL[name])
    theirs = getattr(torch.optim, name)(twin.parameters(), *POSITIONAL[name])
    for _ in range(5):
        step_ours(ours, model)
        step_torch(torch, theirs, twin)
    assert_same_parameters(model, twin)


# --- state dicts ---

@pytest.mark.parametrize("name,kwargs", CONFIGS[::2], ids=IDS[::2])
def test_our_state_dict_through_a_file_resumes_as_torch_resumes(torch, tmp_path, name, kwargs) -> None:
    """Save after 3 steps, rebuild model and optimizer from the file, take 4 more: as PyTorch does the same."""
    model = MLP()
    twin = torch_twin(torch, model)
    ours = getattr(optim, name)(groups_of(list(model.parameters()), name), **kwargs)
    theirs = getattr(torch.optim, name)(groups_of(list(twin.parameters()), name), **kwargs)
    straight = MLP()
    straight.load_state_dict(model.state_dict())
    straight_opt = getattr(optim, name)(groups_of(list(straight.parameters()), name), **kwargs)
    for _ in range(3):
        step_ours(ours, model)
        step_ours(straight_opt, straight)
        step_torch(torch, theirs, twin)
    nn.save({"model": model.state_dict(), "optimizer": ours.state_dict()}, tmp_path / "checkpoint.npz")
    checkpoint = nn.load(tmp_path / "checkpoint.npz")
    fresh = MLP()
    fresh.load_state_dict(checkpoint["model"])
    fresh_opt = getattr(optim, name)(groups_of(list(fresh.parameters()), name), lr=123.0)
    fresh_opt.load_state_dict(checkpoint["optimizer"])
    assert [g["lr"] for g in fresh_opt.param_groups] == [g["lr"] for g in ours.param_groups]
    t_fresh = getattr(torch.optim, name)(groups_of(list(twin.parameters()), name), lr=123.0)
    t_fresh.load_state_dict(theirs.state_dict())
    for _ in range(4):
        step_ours(fresh_opt, fresh)
        step_ours(straight_opt, straight)
        step_torch(torch, t_fresh, twin)
    assert_same_parameters(fresh, twin, "resumed")
    assert_same_state(fresh_opt, t_fresh)
    if name not in SCALAR_STATE:       # nothing is cast on load: bit-identical to the run that never stopped
        for a, b in zip(straight.parameters(), fresh.parameters()):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_a_torch_state_dict_loads_and_continues_as_torch(torch, name, kwargs) -> None:
    """PyTorch's state dict, converted with .numpy(), loads into ours and the steps after match PyTorch's own load."""
    model = MLP()
    twin = torch_twin(torch, model)
    theirs = getattr(torch.optim, name)(groups_of(list(twin.parameters()), name), **kwargs)
    for _ in range(3):
        step_torch(torch, theirs, twin)
    with torch.no_grad():
        for p, q in zip(model.parameters(), twin.parameters()):
            p.data[...] = q.numpy()
    ours = getattr(optim, name)(groups_of(list(model.parameters()), name), lr=1.0)
    ours.load_state_dict(converted_from_torch(theirs.state_dict()))
    for group, t_group in zip(ours.param_groups, theirs.param_groups):
        for key, value in group.items():
            if key != "params":
                assert value == t_group[key], key
    # PyTorch's load casts the 0-d state to the parameters' dtype (float64 here); ours too
    t_loaded = getattr(torch.optim, name)(groups_of(list(twin.parameters()), name), lr=1.0)
    t_loaded.load_state_dict(theirs.state_dict())
    assert_same_state(ours, t_loaded)
    for _ in range(4):
        step_ours(ours, model)
        step_torch(torch, t_loaded, twin)
    assert_same_parameters(model, twin)


@pytest.mark.parametrize("name,kwargs", CONFIGS[1::2], ids=IDS[1::2])
def test_our_state_dict_loads_into_torch_and_continues_as_ours(torch, name, kwargs) -> None:
    model = MLP()
    twin = torch_twin(torch, model)
    ours = getattr(optim, name)(groups_of(list(model.parameters()), name), **kwargs)
    for _ in range(3):
        step_ours(ours, model)
    with torch.no_grad():
        for p, q in zip(model.parameters(), twin.parameters()):
            q.copy_(torch.from_numpy(p.numpy()))
    theirs = getattr(torch.optim, name)(groups_of(list(twin.parameters()), name), lr=1.0)
    theirs.load_state_dict(converted_to_torch(torch, ours.state_dict()))
    ours.load_state_dict(ours.state_dict())         # the same load on our side (0-d state cast to float64)
    for _ in range(4):
        step_ours(ours, model)
        step_torch(torch, theirs, twin)
    assert_same_parameters(model, twin)
    assert_same_state(ours, theirs)


def test_scalar_state_is_float32_until_a_load_casts_it_as_torch_does() -> None:
    model = MLP()
    opt = optim.NAdam(model.parameters())
    step_ours(opt, model)
    state = opt.state_dict()
    assert state["state"][0]["mu_product"].dtype == np.float32 and state["state"][0]["mu_product"].shape == ()
    opt.load_state_dict(state)
    assert opt.state[model.hidden.weight]["mu_product"].dtype == np.float64
    asgd = optim.ASGD(model.parameters())
    step_ours(asgd, model)
    assert asgd.state[model.out.bias]["eta"].dtype == np.float32
    assert float(asgd.state[model.out.bias]["eta"]) == float(np.float32(0.01 / (1 + 1e-4 * 0.01) ** 0.75))


def test_decoupled_weight_decay_is_a_group_setting_and_loads_with_the_group() -> None:
    model = MLP()
    source = optim.RAdam([{"params": model.hidden.parameters(), "decoupled_weight_decay": True},
                          {"params": model.out.parameters()}], weight_decay=0.1)
    assert [g["decoupled_weight_decay"] for g in source.param_groups] == [True, False]
    step_ours(source, model)
    target = optim.RAdam([{"params": model.hidden.parameters()}, {"params": model.out.parameters()}],
                         decoupled_weight_decay=True)
    target.load_state_dict(source.state_dict())
    assert [g["decoupled_weight_decay"] for g in target.param_groups] == [True, False]
    state = source.state_dict()
    state["param_groups"][0]["decoupled_weight_decay"] = "yes"
    with pytest.raises(TypeError, match="decoupled_weight_decay must be True or False.*nothing was loaded"):
        target.load_state_dict(state)


@pytest.mark.parametrize("name", NAMES)
def test_a_bad_state_entry_is_refused_and_nothing_loads(name) -> None:
    model = MLP()
    opt = getattr(optim, name)(model.parameters())
    step_ours(opt, model)
    good = opt.state_dict()
    for how in ("missing", "shape", "scalar"):
        state = copy.deepcopy(good)
        entries = state["state"][1]
        array_key = [k for k in entries if k != "step" and k not in SCALAR_STATE.get(name, ())][0]
        if how == "missing":
            del entries[array_key]
            error, words = ValueError, rf"state\[1\] .* lacks \['{array_key}'\]"
        elif how == "shape":
            entries[array_key] = mg.zeros(7, dtype=mg.float64)
            error, words = ValueError, rf"state\[1\]\['{array_key}'\]: shape \(7,\)"
        elif name in SCALAR_STATE:
            key = SCALAR_STATE[name][0]
            entries[key] = mg.zeros(3)
            error, words = TypeError, rf"state\[1\]\['{key}'\]: must be a 0-d floating"
        else:
            continue
        target = getattr(optim, name)(model.parameters(), lr=0.5)
        with pytest.raises(error, match=words):
            target.load_state_dict(state)
        assert not target.state
        assert target.param_groups[0]["lr"] == 0.5


# --- arguments and their checks ---

# (optimizer, keywords, PyTorch refuses them too, error, words of our message)
BAD_ARGUMENTS = [
    ("Adamax", dict(lr=-0.1), True, ValueError, r"Adamax: invalid learning rate lr=-0.1"),
    ("Adamax", dict(betas=(1.0, 0.9)), True, ValueError, r"Adamax: invalid betas=\(1.0, 0.9\)"),
    ("Adamax", dict(betas=(0.9, -0.1)), True, ValueError, r"Adamax: invalid betas"),
    ("Adamax", dict(eps=-1e-8), True, ValueError, r"Adamax: invalid eps=-1e-08"),
    ("Adamax", dict(weight_decay=-0.1), True, ValueError, r"Adamax: invalid weight_decay=-0.1"),
    ("NAdam", dict(momentum_decay=-0.1), True, ValueError, r"NAdam: invalid momentum_decay=-0.1"),
    ("NAdam", dict(betas=(0.9, 1.0)), True, ValueError, r"NAdam: invalid betas"),
    ("NAdam", dict(decoupled_weight_decay="yes"), False, TypeError, r"NAdam: decoupled_weight_decay must be True"),
    ("RAdam", dict(betas=(0.9, 1.5)), True, ValueError, r"RAdam: invalid betas"),
    ("RAdam", dict(eps=-1.0), True, ValueError, r"RAdam: invalid eps"),
    ("RAdam", dict(weight_decay=-1.0), True, ValueError, r"RAdam: invalid weight_decay"),
    ("Adadelta", dict(rho=1.5), True, ValueError, r"Adadelta: invalid rho=1.5"),
    ("Adadelta", dict(rho=-0.1), True, ValueError, r"Adadelta: invalid rho"),
    ("Adadelta", dict(eps=-1.0), True, ValueError, r"Adadelta: invalid eps"),
    ("Adadelta", dict(lr=-1.0), True, ValueError, r"Adadelta: invalid learning rate"),
    ("Rprop", dict(etas=(1.5, 2.0)), True, ValueError, r"Rprop: invalid etas=\(1.5, 2.0\)"),
    ("Rprop", dict(etas=(0.5, 0.9)), True, ValueError, r"Rprop: invalid etas"),
    ("Rprop", dict(etas=(0.0, 1.2)), True, ValueError, r"Rprop: invalid etas"),
    ("Rprop", dict(step_sizes=(1.0, 0.1)), False, ValueError, r"Rprop: invalid step_sizes=\(1.0, 0.1\)"),
    ("Rprop", dict(lr=-0.1), True, ValueError, r"Rprop: invalid learning rate"),
    ("ASGD", dict(lr=-0.1), True, ValueError, r"ASGD: invalid learning rate"),
    ("ASGD", dict(weight_decay=-0.1), True, ValueError, r"ASGD: invalid weight_decay"),
    ("ASGD", dict(lambd=-1.0), False, ValueError, r"ASGD: invalid lambd=-1.0"),
    ("ASGD", dict(t0=math.nan), False, ValueError, r"ASGD: invalid t0=nan"),
    ("ASGD", dict(alpha=-0.5), False, ValueError, r"ASGD: invalid alpha=-0.5"),
]


@pytest.mark.parametrize("name,kwargs,torch_too,error,words", BAD_ARGUMENTS,
                         ids=[f"{n}-{'-'.join(k)}-{i}" for i, (n, k, *_) in enumerate(BAD_ARGUMENTS)])
def test_bad_hyper_parameters_are_refused_as_in_torch(torch, name, kwargs, torch_too, error, words) -> None:
    model = MLP()
    with pytest.raises(error, match=words):
        getattr(optim, name)(model.parameters(), **kwargs)
    with pytest.raises(error, match=words):           # in a group too, with the group named
        getattr(optim, name)([{"params": model.parameters(), **kwargs}])
    if torch_too:
        with pytest.raises(ValueError):
            getattr(torch.optim, name)(torch_twin(torch, model).parameters(), **kwargs)


@pytest.mark.parametrize("name,kwargs,torch_too,error,words", BAD_ARGUMENTS[::3],
                         ids=[f"{n}-{i}" for i, (n, *_) in enumerate(BAD_ARGUMENTS[::3])])
def test_a_bad_hyper_parameter_set_between_steps_changes_nothing(name, kwargs, torch_too, error, words) -> None:
    model = MLP()
    opt = getattr(optim, name)(model.parameters())
    step_ours(opt, model)
    before = [p.numpy().copy() for p in model.parameters()]
    state_before = copy.deepcopy({i: {k: (v.numpy() if isinstance(v, mg.Tensor) else v) for k, v in e.items()}
                                  for i, e in opt.state_dict()["state"].items()})
    opt.param_groups[0].update(kwargs)
    opt.zero_grad()
    nn.functional.mse_loss(model(mg.tensor(X)), Y).backward()
    with pytest.raises(error, match=words):
        opt.step()
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.numpy(), b)
    for i, entries in opt.state_dict()["state"].items():
        for key, value in entries.items():
            np.testing.assert_array_equal(value.numpy() if isinstance(value, mg.Tensor) else value,
                                          state_before[i][key])


@pytest.mark.parametrize("name", NAMES)
def test_implementation_keywords_are_kept_and_refused_where_torch_s_cpu_step_raises(name) -> None:
    model = MLP()
    make = getattr(optim, name)
    make(model.parameters(), foreach=None, capturable=False, differentiable=False)
    make(model.parameters(), foreach=False)
    assert make(model.parameters(), foreach=True).param_groups[0]["foreach"] is True   # how, not what: taken
    for key, error in (("capturable", AssertionError), ("differentiable", RuntimeError)):
        opt = make(model.parameters(), **{key: True})     # taken by the constructor, as PyTorch's
        assert opt.param_groups[0][key] is True
        opt.step()                                        # no gradients: nothing to refuse
        for p in model.parameters():
            p.grad = mg.ones_like(p)
        with pytest.raises(error, match=rf"{name}.step: {key}=True is not supported"):
            opt.step()
        for p in model.parameters():
            p.grad = None
    with pytest.raises(TypeError, match=rf"{name}: foreach must be True, False or None"):
        make(model.parameters(), foreach="yes")


def test_a_torch_state_dict_with_implementation_keys_loads(torch) -> None:
    """PyTorch's groups carry foreach/capturable/differentiable: they load with the group, as PyTorch's."""
    model = MLP()
    twin = torch_twin(torch, model)
    theirs = torch.optim.Adamax(twin.parameters(), foreach=False)
    step_torch(torch, theirs, twin)
    state = converted_from_torch(theirs.state_dict())
    assert {"foreach", "capturable", "differentiable"} <= state["param_groups"][0].keys()
    ours = optim.Adamax(model.parameters())
    ours.load_state_dict(state)
    assert ours.param_groups[0]["foreach"] is False


# --- gradients that are None or zero ---

@pytest.mark.parametrize("name,kwargs", CONFIGS[1::3], ids=IDS[1::3])
def test_none_grads_are_skipped_and_zero_grads_are_not_as_in_torch(torch, name, kwargs) -> None:
    model = MLP()
    twin = torch_twin(torch, model)
    ours, theirs = getattr(optim, name)(model.parameters(), **kwargs), getattr(torch.optim, name)(
        twin.parameters(), **kwargs)
    hidden = model.hidden(mg.tensor(X)).tanh().numpy()
    # only `out` gets gradients: the hidden layer keeps its values and gets no state
    before = model.hidden.weight.numpy().copy()
    nn.functional.mse_loss(model.out(mg.tensor(hidden)), Y).backward()
    torch.nn.functional.mse_loss(twin[2](torch.from_numpy(hidden)), torch.from_numpy(Y)).backward()
    ours.step()
    theirs.step()
    np.testing.assert_array_equal(model.hidden.weight.numpy(), before)
    assert model.hidden.weight not in ours.state and not theirs.state[twin[0].weight]
    assert_same_parameters(model, twin, "out only")
    for _ in range(2):
        step_ours(ours, model)
        step_torch(torch, theirs, twin)
    # zero gradients (set_to_none=False) are a step like any other
    ours.zero_grad(set_to_none=False)
    theirs.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.numpy() == 0) for p in model.parameters())
    ours.step()
    theirs.step()
    assert_same_parameters(model, twin, "zero grads")
    assert_same_state(ours, theirs)
    # set_to_none (the default): nothing steps, the state stays
    ours.zero_grad()
    theirs.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    snapshot = [p.numpy().copy() for p in model.parameters()]
    ours.step()
    theirs.step()
    for p, b in zip(model.parameters(), snapshot):
        np.testing.assert_array_equal(p.numpy(), b)
    assert_same_state(ours, theirs)


# --- 0-d Tensor learning rates, check_finite, devices ---

@pytest.mark.parametrize("name", NAMES)
def test_a_tensor_lr_is_read_at_each_step(name) -> None:
    mg.manual_seed(5)
    a = MLP()
    b = MLP()
    b.load_state_dict(a.state_dict())
    lr = mg.tensor(0.03, dtype=mg.float64)
    with_tensor = getattr(optim, name)(a.parameters(), lr=lr)
    with_float = getattr(optim, name)(b.parameters(), lr=0.03)
    for step in range(4):
        if step == 2:
            lr.data[...] = 0.01
            with_float.param_groups[0]["lr"] = 0.01
        step_ours(with_tensor, a)
        step_ours(with_float, b)
        for p, q in zip(a.parameters(), b.parameters()):
            np.testing.assert_array_equal(p.numpy(), q.numpy())


@pytest.mark.parametrize("name", NAMES)
def test_check_finite_refuses_a_nan_gradient(name) -> None:
    model = MLP()
    opt = getattr(optim, name)(model.parameters(), check_finite=True)
    step_ours(opt, model)
    before = [p.numpy().copy() for p in model.parameters()]
    opt.zero_grad()
    nn.functional.mse_loss(model(mg.tensor(X)), Y).backward()
    model.out.bias.grad.data[0] = np.nan
    with pytest.raises(ValueError, match=r"parameter 3 .* non-finite gradient"):
        opt.step()
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.numpy(), b)


@pytest.mark.gpu
@pytest.mark.parametrize("name,kwargs", CONFIGS[::2], ids=IDS[::2])
def test_on_the_gpu_same_steps_as_on_the_cpu(name, kwargs) -> None:
    cpu_model, gpu_model = MLP(), MLP()
    gpu_model.load_state_dict(cpu_model.state_dict())
    gpu_model.to("cuda")
    cpu_opt = getattr(optim, name)(cpu_model.parameters(), **kwargs)
    gpu_opt = getattr(optim, name)(gpu_model.parameters(), **kwargs)
    x, y = mg.tensor(X, device="cuda"), mg.tensor(Y, device="cuda")
    for _ in range(5):
        step_ours(cpu_opt, cpu_model)
        gpu_opt.zero_grad()
        nn.functional.mse_loss(gpu_model(x), y).backward()
        gpu_opt.step()
    for a, b in zip(cpu_model.parameters(), gpu_model.parameters()):
        assert b.device.type == "cuda"
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)
    gpu_opt.load_state_dict(gpu_opt.state_dict())      # a snapshot on the device; loads back onto it
    gpu_opt.zero_grad()
    nn.functional.mse_loss(gpu_model(x), y).backward()
    gpu_opt.step()


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "LBFGS", "Adamax", "NAdam", "RAdam",
                                  "Adadelta", "Rprop", "ASGD"])
def test_every_optimizer_takes_pytorchs_positional_arguments_in_pytorchs_order(torch, name: str) -> None:
    """A PyTorch call with positional arguments means the same here (RMSprop's 8th is capturable, not maximize)."""
    def positional(cls: type) -> list:
        return [p.name for p in inspect.signature(cls.__init__).parameters.values()
                if p.kind is p.POSITIONAL_OR_KEYWORD and p.name != "self"]
    ours, theirs = positional(getattr(optim, name)), positional(getattr(torch.optim, name))
    assert ours == theirs[:len(ours)], f"{name}: ours {ours}, torch {theirs}"


def test_pytorchs_implementation_keywords_how_taken_what_refused() -> None:
    """foreach/fused choose how PyTorch computes a step: taken, the same numbers; capturable/differentiable
    are refused by a step, where PyTorch's CPU step raises."""
    p = nn.Parameter(mg.ones(2))
    assert optim.RMSprop([p], 0.01, 0.99, 1e-8, 0.0, 0.0, False, True).defaults["capturable"] is True   # 8th
    p.grad = mg.ones(2)
    with pytest.raises(RuntimeError, match="differentiable=True is not supported"):
        optim.Adam([p], lr=0.1, differentiable=True).step()
    with pytest.raises(TypeError, match="fused must be True, False or None"):
        optim.AdamW([p], lr=0.1, fused="yes")
    optim.Adagrad([p], 0.01, 0.0, 0.0, 0.0, 1e-10, True)   # PyTorch's 7th positional: foreach
    for cls in (optim.SGD, optim.Adam, optim.AdamW):
        results = []
        for flags in ({}, {"foreach": True}, {"fused": True}):
            q = nn.Parameter(mg.tensor([1.0, -2.0]))
            opt = cls([q], lr=0.1, **flags)
            for _ in range(3):
                opt.zero_grad()
                (q * q).sum().backward()
                opt.step()
            results.append(q.numpy().copy())
        np.testing.assert_array_equal(results[1], results[0])
        np.testing.assert_array_equal(results[2], results[0])
