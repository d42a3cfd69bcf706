"""All-or-nothing optimizer steps and loads (issue #13.5), 0-d Tensor learning rates, thread safety.

A step that raises leaves every parameter and the whole optimizer state bit-identical; a
``load_state_dict`` that raises takes nothing. Each failure is checked for its type and words.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import minigrad as mg
import nn
from nn import optim

RNG = np.random.default_rng(3)
X = RNG.standard_normal((8, 3))
Y = RNG.standard_normal((8, 2))

OPTIMIZERS = [
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("AdamW", dict(lr=0.05)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.1)),
]
IDS = [name for name, _ in OPTIMIZERS]


def three_params() -> list[mg.Tensor]:
    return [mg.tensor(RNG.standard_normal(shape), requires_grad=True) for shape in ((3, 2), (2,), (4,))]


def give_grads(params: list[mg.Tensor]) -> None:
    for p in params:
        p.grad = mg.tensor(RNG.standard_normal(p.shape))


def stepped(name: str, kwargs: dict, steps: int = 2, **extra) -> tuple[list[mg.Tensor], optim.Optimizer]:
    params = three_params()
    opt = getattr(optim, name)(params, **kwargs, **extra)
    for _ in range(steps):
        give_grads(params)
        opt.step()
    return params, opt


def snapshot(params: list[mg.Tensor], opt: optim.Optimizer) -> dict:
    """Every parameter, gradient, state entry and hyper-parameter as plain copies."""
    copy = {f"param {i}": p.numpy().copy() for i, p in enumerate(params)}
    copy.update({f"grad {i}": None if p.grad is None else p.grad.numpy().copy() for i, p in enumerate(params)})
    state = opt.state_dict()
    for index, entries in state["state"].items():
        for key, value in entries.items():
            copy[f"state {index} {key}"] = value.numpy().copy() if isinstance(value, mg.Tensor) else value
    for g, group in enumerate(state["param_groups"]):
        for key, value in group.items():
            copy[f"group {g} {key}"] = value.item() if isinstance(value, mg.Tensor) else value
    return copy


def assert_unchanged(before: dict, after: dict) -> None:
    assert before.keys() == after.keys()
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            assert after[key].dtype == value.dtype, key
            np.testing.assert_array_equal(after[key], value, err_msg=key)   # bit-identical (NaN == NaN too)
        else:
            assert after[key] == value or (value != value and after[key] != after[key]), key   # NaN stays NaN


def set_grad(p: mg.Tensor, grad: mg.Tensor) -> None:
    """Give ``p`` a gradient ``Tensor.grad``'s own check would refuse, through its array (as code writing
    ``p.grad.data = ...`` can), so that the step's checks are what is tested."""
    if p.grad is None:
        p.grad = mg.zeros_like(p)
    p.grad.data = grad.data


# --- step() ---

def assert_step_fails(params: list[mg.Tensor], opt: optim.Optimizer, error: type, pattern: str) -> None:
    """``opt.step()`` raises ``error`` matching ``pattern``, and no parameter, gradient or state changed."""
    before = snapshot(params, opt)
    with pytest.raises(error, match=pattern):
        opt.step()
    assert_unchanged(before, snapshot(params, opt))


BAD_GRADS = {
    "shape": (1, mg.zeros(3, dtype=mg.float64), ValueError,
              r"{name}.step: parameter 1 \(shape \(2,\)\) has a gradient of shape \(3,\)"),
    "dtype": (2, mg.zeros(4, dtype=mg.float32), TypeError, r"parameter 2 .* is float64 but its gradient is float32"),
}


@pytest.mark.parametrize("name,kwargs", OPTIMIZERS, ids=IDS)
@pytest.mark.parametrize("bad", list(BAD_GRADS))
def test_a_bad_grad_on_a_later_parameter_changes_nothing(name, kwargs, bad) -> None:
    index, grad, error, pattern = BAD_GRADS[bad]
    params, opt = stepped(name, kwargs)
    give_grads(params)
    good = params[index].grad.data
    set_grad(params[index], grad)
    assert_step_fails(params, opt, error, pattern.format(name=name))
    before = params[0].numpy().copy()
    params[index].grad.data = good                     # fixed: the step goes through
    opt.step()
    assert not np.array_equal(params[0].numpy(), before)


@pytest.mark.parametrize("name,kwargs", OPTIMIZERS, ids=IDS)
def test_check_finite_refuses_a_nan_gradient_before_any_change(name, kwargs) -> None:
    params, opt = stepped(name, kwargs, check_finite=True)
    give_grads(params)
    params[2].grad.data[1] = np.nan
    params[2].grad.data[3] = np.inf
    assert_step_fails(params, opt, ValueError, r"parameter 2 .* has 2 non-finite gradient value\(s\)")
    # without the opt-in, as in PyTorch, the NaN goes through
    loose = getattr(optim, name)(params, **kwargs)
    loose.step()
    assert np.isnan(params[2].numpy()[1])


@pytest.mark.parametrize("name,kwargs", OPTIMIZERS, ids=IDS)
@pytest.mark.parametrize("bad", ["lr_nan", "negative_eps", "weight_decay_inf", "lr_string"])
def test_a_bad_hyper_parameter_set_between_steps_changes_nothing(name, kwargs, bad) -> None:
    params, opt = stepped(name, kwargs)
    give_grads(params)
    key, value = {"lr_nan": ("lr", float("nan")), "negative_eps": ("eps", -1.0),
                  "weight_decay_inf": ("weight_decay", float("inf")), "lr_string": ("lr", "0.1")}[bad]
    if key not in opt.param_groups[0]:
        key, value = "lr", -1.0
    opt.param_groups[0][key] = value
    assert_step_fails(params, opt, ValueError, rf"{name}: invalid .*{key}=")


def test_bad_betas_and_nesterov_between_steps_change_nothing() -> None:
    params, opt = stepped("Adam", dict(lr=0.01))
    give_grads(params)
    opt.param_groups[0]["betas"] = (0.9, 1.5)
    assert_step_fails(params, opt, ValueError, r"Adam: invalid betas=\(0.9, 1.5\)")
    params, opt = stepped("SGD", dict(lr=0.1, momentum=0.9, nesterov=True))
    give_grads(params)
    opt.param_groups[0]["dampening"] = 0.5
    assert_step_fails(params, opt, ValueError, "nesterov momentum needs momentum > 0 and dampening = 0")


def test_a_corrupted_state_is_refused_at_the_step() -> None:
    params, opt = stepped("Adam", dict(lr=0.01))
    del opt.state[params[1]]["exp_avg"]
    give_grads(params)
    before = {i: p.numpy().copy() for i, p in enumerate(params)}
    step_before = opt.state[params[0]]["step"]
    with pytest.raises(ValueError, match=r"Adam.step: state\[1\] .* lacks \['exp_avg'\]"):
        opt.step()
    for i, p in enumerate(params):
        np.testing.assert_array_equal(p.numpy(), before[i])
    assert opt.state[params[0]]["step"] == step_before


# --- 0-d Tensor learning rates ---

@pytest.mark.parametrize("name,kwargs", OPTIMIZERS, ids=IDS)
def test_a_tensor_lr_is_read_at_each_step(name, kwargs) -> None:
    lr = kwargs["lr"]
    mg.manual_seed(4)
    a = three_params()
    b = [mg.tensor(p.numpy().copy(), requires_grad=True) for p in a]
    tensor_lr = mg.tensor(lr, dtype=mg.float64)
    with_tensor = getattr(optim, name)(a, **{**kwargs, "lr": tensor_lr})
    with_float = getattr(optim, name)(b, **kwargs)
    for step in range(4):
        if step == 2:                      # changed in place: the next step uses the new value
            tensor_lr.data[...] = lr / 2
            with_float.param_groups[0]["lr"] = lr / 2
        grads = [RNG.standard_normal(p.shape) for p in a]
        for p, q, g in zip(a, b, grads):
            p.grad, q.grad = mg.tensor(g), mg.tensor(g)
        with_tensor.step()
        with_float.step()
        for p, q in zip(a, b):
            np.testing.assert_array_equal(p.numpy(), q.numpy())
    assert with_tensor.param_groups[0]["lr"] is tensor_lr


def test_a_tensor_lr_equals_torch(torch) -> None:
    start = RNG.standard_normal((3, 2))
    ours, theirs = mg.tensor(start.copy(), requires_grad=True), torch.tensor(start.copy(), requires_grad=True)
    opt = optim.Adam([ours], lr=mg.tensor(0.05, dtype=mg.float64))
    t_opt = torch.optim.Adam([theirs], lr=torch.tensor(0.05, dtype=torch.float64))
    for _ in range(5):
        g = RNG.standard_normal((3, 2))
        ours.grad, theirs.grad = mg.tensor(g), torch.from_numpy(g.copy())
        opt.step()
        t_opt.step()
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-10)


@pytest.mark.parametrize("lr", [mg.tensor([0.1, 0.2]), mg.tensor(1, dtype=mg.bool_)], ids=["1-d", "bool"])
def test_a_tensor_lr_that_is_not_a_0d_number_is_refused_at_construction(lr) -> None:
    with pytest.raises(TypeError, match="a Tensor lr must be 0-d and real"):
        optim.Adam(three_params(), lr=lr)


def test_other_tensor_hyper_parameters_are_refused_at_construction() -> None:
    with pytest.raises(TypeError, match="hyper-parameter weight_decay is a Tensor; only lr may be"):
        optim.SGD(three_params(), lr=0.1, weight_decay=mg.tensor(0.1))


def test_a_nan_tensor_lr_fails_the_step_without_bumping_the_state() -> None:
    lr = mg.tensor(0.01, dtype=mg.float64)
    params, opt = stepped("Adam", dict(lr=lr))
    lr.data[...] = np.nan
    give_grads(params)
    assert_step_fails(params, opt, ValueError, "Adam: invalid learning rate lr=nan")


# --- load_state_dict ---

def _broken(state: dict, how: str) -> dict:
    entries = state["state"][1]
    group = state["param_groups"][0]
    if how == "missing_exp_avg":
        del entries["exp_avg"]
    elif how == "int_exp_avg_sq":
        entries["exp_avg_sq"] = mg.tensor(np.ones(2, dtype=np.int64))
    elif how == "wrong_shape":
        entries["exp_avg"] = mg.zeros(5)
    elif how == "negative_step":
        entries["step"] = -1
    elif how == "string_step":
        entries["step"] = "3"
    elif how == "unknown_entry":
        entries["momentum_buffer"] = mg.zeros(2)
    elif how == "amsgrad_without_max":
        group["amsgrad"] = True
    elif how == "unknown_group_key":
        group["nesterov"] = True
    elif how == "bad_betas":
        group["betas"] = (0.9, 2.0)
    elif how == "too_few_params":
        group["params"] = group["params"][:2]
    elif how == "duplicate_index":
        group["params"] = [0, 0, 2]
    elif how == "unlisted_state":
        state["state"][7] = dict(entries)
    elif how == "state_not_dict":
        state["state"][1] = [1, 2]
    return state


BROKEN = {
    "missing_exp_avg": (ValueError, r"state\[1\] .* lacks \['exp_avg'\]"),
    "int_exp_avg_sq": (TypeError, r"state\[1\]\['exp_avg_sq'\]: dtype int64; optimizer state must be floating"),
    "wrong_shape": (ValueError, r"state\[1\]\['exp_avg'\]: shape \(5,\) in the state, parameter 1 .* shape \(2,\)"),
    "negative_step": (ValueError, r"state\[1\]\['step'\] must be a count .* got -1"),
    "string_step": (ValueError, r"state\[1\]\['step'\] must be a count .* got '3'"),
    "unknown_entry": (ValueError, r"state\[1\] has unknown entries \['momentum_buffer'\]"),
    "amsgrad_without_max": (ValueError, r"lacks \['max_exp_avg_sq'\]"),
    "unknown_group_key": (ValueError, r"unknown hyper-parameter\(s\) \['nesterov'\] for Adam"),
    "bad_betas": (ValueError, r"Adam: invalid betas=\(0.9, 2.0\)"),
    "too_few_params": (ValueError, "param_groups\\[0\\] has 2 parameters in the state dict, 3 here"),
    "duplicate_index": (ValueError, "parameter index 0 is listed twice"),
    "unlisted_state": (ValueError, "state for parameter index 7, which no group lists"),
    "state_not_dict": (TypeError, r"state\[1\] is a list, not a dict"),
}


@pytest.mark.parametrize("how", list(BROKEN))
def test_load_state_dict_checks_everything_before_taking_anything(how) -> None:
    source_params, source = stepped("Adam", dict(lr=0.02, betas=(0.8, 0.9)), steps=3)
    params, opt = stepped("Adam", dict(lr=0.01), steps=1)
    before = snapshot(params, opt)
    error, words = BROKEN[how]
    with pytest.raises(error, match=words):
        opt.load_state_dict(_broken(source.state_dict(), how))
    assert_unchanged(before, snapshot(params, opt))
    opt.load_state_dict(source.state_dict())            # the good one still loads
    assert opt.param_groups[0]["betas"] == (0.8, 0.9) and opt.state[params[0]]["step"] == 3


def test_a_float_step_from_pytorch_loads() -> None:
    params, opt = stepped("Adam", dict(lr=0.01))
    state = opt.state_dict()
    for entries in state["state"].values():
        entries["step"] = np.array(2.0, dtype=np.float32)     # PyTorch keeps step as a float Tensor
    fresh = optim.Adam(params, lr=0.01)
    fresh.load_state_dict(state)
    assert fresh.state[params[0]]["step"] == 2.0
    give_grads(params)
    fresh.step()
    assert fresh.state[params[0]]["step"] == 3.0


# --- threads ---

def _make(seed: int) -> tuple:
    """Model, head, optimizer and data; built in the main thread, as the global RNG is shared."""
    mg.manual_seed(seed)
    model = nn.LSTM(3, 4, dtype=mg.float64)
    head = nn.Linear(4, 2, dtype=mg.float64)
    opt = optim.Adam(list(model.parameters()) + list(head.parameters()), lr=0.01)
    return model, head, opt, np.random.default_rng(seed).standard_normal((5, 2, 3))


def _train(parts: tuple, results: dict, key: str) -> None:
    model, head, opt, data = parts
    for _ in range(15):
        opt.zero_grad()
        output, _ = model(mg.tensor(data))
        nn.functional.mse_loss(head(output[-1]), mg.tensor(Y[:2])).backward()
        opt.step()
    results[key] = [p.numpy().copy() for p in list(model.parameters()) + list(head.parameters())]


def test_two_threads_stepping_their_own_optimizers_match_sequential_runs() -> None:
    sequential: dict = {}
    _train(_make(1), sequential, "a")
    _train(_make(2), sequential, "b")
    threaded: dict = {}
    parts = {"a": _make(1), "b": _make(2)}
    threads = [threading.Thread(target=_train, args=(parts[key], threaded, key)) for key in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for key in ("a", "b"):
        for ours, expected in zip(threaded[key], sequential[key]):
            np.testing.assert_array_equal(ours, expected)


# --- a step is an in-place change, as in PyTorch ---

@pytest.mark.parametrize("name,kwargs", OPTIMIZERS, ids=IDS)
def test_backward_through_a_graph_saved_before_a_step_raises_as_in_torch(torch, name, kwargs) -> None:
    weight = mg.tensor(RNG.standard_normal((3, 2)), requires_grad=True)
    t_weight = torch.tensor(weight.numpy(), requires_grad=True)
    opt, t_opt = getattr(optim, name)([weight], **kwargs), getattr(torch.optim, name)([t_weight], **kwargs)
    weight.grad, t_weight.grad = mg.ones_like(weight), torch.ones_like(t_weight)
    loss, t_loss = (weight * weight).sum(), (t_weight * t_weight).sum()   # mul saves the weight
    opt.step()
    t_opt.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        t_loss.backward()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()             # not a gradient silently computed with the stepped weights
