"""Round 20, leftovers A: optimizers' implementation keys (foreach, fused, capturable, differentiable) as
torch.optim's, Adafactor's eps, and containers built deep or long (fuzzer: /tmp/fuzz20_optflags.py)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn
from nn import optim

torch = pytest.importorskip("torch", reason="no torch")

pytestmark = pytest.mark.usefixtures("torch_optim_loaded")

NAMES = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop",
         "LBFGS", "Adafactor"]


def _params(lib: Any, dtype: Any = np.float64, requires_grad: bool = True) -> list:
    rng = np.random.default_rng(0)
    return [lib.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=requires_grad)
            for shape in ((3, 2), (4,))]


def _grads(lib: Any, step: int, dtype: Any = np.float64) -> list:
    rng = np.random.default_rng(100 + step)
    return [lib.tensor(rng.standard_normal(shape).astype(dtype)) for shape in ((3, 2), (4,))]


@pytest.mark.parametrize("name", NAMES)
def test_defaults_groups_and_state_dict_keep_torch_s_implementation_keys_in_its_order(name: str) -> None:
    # foreach/fused/capturable/differentiable were missing from defaults, param_groups and state_dict()
    theirs = getattr(torch.optim, name)(_params(torch), foreach=True) if name != "LBFGS" else \
        torch.optim.LBFGS(_params(torch))
    ours = getattr(optim, name)(_params(mg), foreach=True) if name != "LBFGS" else optim.LBFGS(_params(mg))
    assert list(ours.defaults.items()) == list(theirs.defaults.items())
    assert list(ours.param_groups[0])[1:] == list(theirs.param_groups[0])[1:]
    assert [(k, v) for k, v in ours.state_dict()["param_groups"][0].items()] == \
        [(k, v) for k, v in theirs.state_dict()["param_groups"][0].items()]


def _to_ours(state_dict: dict) -> dict:
    state_dict = copy.deepcopy(state_dict)
    state_dict["state"] = {i: {k: (mg.tensor(v.numpy()) if isinstance(v, torch.Tensor) else v) for k, v in e.items()}
                           for i, e in state_dict["state"].items()}
    return state_dict


def _to_torch(state_dict: dict) -> dict:
    state_dict = copy.deepcopy(state_dict)
    state_dict["state"] = {i: {k: (torch.from_numpy(np.array(v.numpy())) if isinstance(v, mg.Tensor) else v)
                               for k, v in e.items()} for i, e in state_dict["state"].items()}
    return state_dict


def _run(lib: Any, name: str, kwargs: dict, load: dict | None = None, convert: Any = None) -> tuple:
    """Six steps; the state dict after three (a copy); with ``load``, a new optimizer loads it after three."""
    params = _params(lib)
    opt_module = torch.optim if lib is torch else optim
    opt, saved = getattr(opt_module, name)(params, **kwargs), None
    for step in range(6):
        if step == 3:
            saved = copy.deepcopy(opt.state_dict())
            if load is not None:
                opt = getattr(opt_module, name)(params, **kwargs)
                opt.load_state_dict(convert(load))
        for p, g in zip(params, _grads(lib, step)):
            p.grad = g
        opt.step()
    return [p.detach().numpy().copy() for p in params], saved, opt


@pytest.mark.parametrize("name, kwargs", [
    ("SGD", dict(lr=0.1, momentum=0.9, fused=True)), ("Adam", dict(amsgrad=True, foreach=True)),
    ("AdamW", dict(fused=True)), ("Adagrad", dict(lr_decay=0.01, fused=True)),
    ("RMSprop", dict(centered=True, momentum=0.5, foreach=False)), ("NAdam", dict(foreach=True)),
    ("ASGD", dict(t0=1, lambd=0.1, foreach=True)), ("Rprop", dict(foreach=False)), ("Adafactor", dict(foreach=True)),
])
def test_state_dicts_go_both_ways_with_their_keys_and_equal_steps(name: str, kwargs: dict) -> None:
    # PyTorch's keys were dropped at a load (and absent from ours); ASGD's foreach step rounded as its loop does
    theirs, t_saved, _ = _run(torch, name, kwargs)
    ours, o_saved, _ = _run(mg, name, kwargs)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-13, atol=1e-15)
    plain = {k: v for k, v in kwargs.items() if k not in ("foreach", "fused")}   # the keys come from the load
    reference = _run(torch, name, plain, load=t_saved, convert=copy.deepcopy)[0]   # (a load casts 0-d state)
    loaded_ours = _run(mg, name, plain, load=t_saved, convert=_to_ours)
    loaded_theirs = _run(torch, name, plain, load=o_saved, convert=_to_torch)
    for values, opt in (loaded_ours[::2], loaded_theirs[::2]):
        for a, b in zip(values, reference):
            np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
        assert {k: v for k, v in opt.param_groups[0].items() if k != "params"} == \
            {k: v for k, v in t_saved["param_groups"][0].items() if k != "params"}


@pytest.mark.parametrize("name, kwargs, requires_grad", [
    ("Adam", dict(capturable=True), True), ("RMSprop", dict(capturable=True), False),
    ("NAdam", dict(capturable=True), True), ("ASGD", dict(capturable=True), True),
    ("Adam", dict(differentiable=True), True), ("SGD", dict(lr=0.1, differentiable=True), True),
    ("Adadelta", dict(differentiable=True, foreach=True), False), ("Rprop", dict(differentiable=True), True),
    ("Adam", dict(capturable=True, fused=True), True),
])
def test_capturable_and_differentiable_are_taken_and_refused_where_torch_s_cpu_step_raises(
        name: str, kwargs: dict, requires_grad: bool) -> None:
    # both were refused by the constructor (ValueError); PyTorch takes them and its CPU step raises AssertionError
    # (capturable wants CUDA tensors; foreach under differentiable) or RuntimeError (a leaf changed in place), and a
    # fused capturable step runs
    outcomes = []
    for lib, opt_module in ((torch, torch.optim), (mg, optim)):
        params = _params(lib, requires_grad=requires_grad)
        opt = getattr(opt_module, name)(params, **kwargs)
        assert all(opt.param_groups[0][k] == v for k, v in kwargs.items())
        if "foreach" not in kwargs:     # (PyTorch's foreach step asserts differentiable=False with no gradient too)
            opt.step()                  # no gradient: nothing to refuse
        for p, g in zip(params, _grads(lib, 0)):
            p.grad = g
        try:
            opt.step()
            outcomes.append(params[0].detach().numpy().copy())
        except (AssertionError, RuntimeError) as error:
            outcomes.append(type(error))
    theirs, ours = outcomes
    if isinstance(theirs, type):
        assert isinstance(ours, type) and issubclass(ours, theirs), (ours, theirs)
    else:
        np.testing.assert_allclose(ours, theirs, rtol=1e-13)


def test_differentiable_with_a_non_leaf_is_refused_clearly() -> None:
    # PyTorch optimizes a non-leaf under differentiable=True (autograd through the step); minigrad does not
    p = mg.ones(2, requires_grad=True) * 2
    with pytest.raises(NotImplementedError, match="differentiable=True with a non-leaf"):
        optim.SGD([p], lr=0.1, differentiable=True)
    with pytest.raises(TypeError, match="differentiable must be True or False, got None"):
        optim.Adam(_params(mg), differentiable=None)


_ABSENT = object()


def _adafactor_outcome(lib: Any, opt_module: Any, group_eps: Any = _ABSENT, eps: Any = _ABSENT) -> Any:
    """The stepped values, or where it raised: ('ctor' | 'step', the error's class)."""
    p, q = (lib.tensor(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True),
            lib.tensor(np.ones(3), requires_grad=True))
    groups = [{"params": [p]}, {"params": [q]} if group_eps is _ABSENT else {"params": [q], "eps": group_eps}]
    try:
        opt = opt_module.Adafactor(groups) if eps is _ABSENT else opt_module.Adafactor(groups, eps=eps)
    except Exception as error:   # noqa: BLE001 (the class is what is compared)
        return "ctor", type(error)
    p.grad, q.grad = lib.tensor(np.full((2, 3), 0.5)), lib.tensor(np.full(3, 0.25))
    try:
        opt.step()
    except Exception as error:   # noqa: BLE001
        return "step", type(error)
    return p.detach().numpy().tolist(), q.detach().numpy().tolist()


@pytest.mark.parametrize("group_eps, eps", [
    (0, _ABSENT), (1e-3, _ABSENT), (None, _ABSENT), ("x", _ABSENT), ((1e-3,), _ABSENT), ((None, 1e-3, 1), _ABSENT),
    ((None, 0), _ABSENT), ((0, 1e-3), _ABSENT), ([None, 0.0], _ABSENT),
    (_ABSENT, 0), (_ABSENT, 1e-3), (_ABSENT, None), (_ABSENT, (1e-3,)), (_ABSENT, [None, 0.0]),
])
def test_adafactor_takes_a_group_s_malformed_eps_and_its_step_refuses_it_as_torch_s(group_eps: Any, eps: Any) -> None:
    # a group's eps that is no pair (eps=0, a float, None, a str, 1 or 3 values) was refused when the group was
    # added; PyTorch takes it and its step() raises (unpacking it). The constructor's eps is checked there by both.
    theirs = _adafactor_outcome(torch, torch.optim, group_eps, eps)
    ours = _adafactor_outcome(mg, optim, group_eps, eps)
    if isinstance(theirs[1], type):
        assert ours[0] == theirs[0] and issubclass(ours[1], theirs[1]), (ours, theirs)
    else:
        np.testing.assert_allclose(np.array(ours[0]), np.array(theirs[0]), rtol=1e-13)
        np.testing.assert_allclose(np.array(ours[1]), np.array(theirs[1]), rtol=1e-13)


# --- containers built deep or long: registration names nothing below the child (it read every descendant) ---

def _counting_walks(monkeypatch: Any) -> list:
    """Each call of Module.named_modules (what walking a subtree goes through) from now on."""
    calls: list = []
    walk = nn.Module.named_modules

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(type(self).__name__)
        return walk(self, *args, **kwargs)

    monkeypatch.setattr(nn.Module, "named_modules", counted)
    return calls


def test_nesting_sequentials_walks_no_subtree_and_names_the_parameters_from_the_root(monkeypatch) -> None:
    # each registration renamed the child's whole subtree: 3,000 nested Sequentials took 9 s (PyTorch: 0.2 s)
    calls = _counting_walks(monkeypatch)
    ours, theirs = nn.Linear(2, 2), torch.nn.Linear(2, 2)
    for _ in range(200):
        ours, theirs = nn.Sequential(ours), torch.nn.Sequential(theirs)
    assert calls == []
    names = [name for name, _ in theirs.named_parameters()]
    assert [name for name, _ in ours.named_parameters()] == names
    assert [p.name for p in ours.parameters()] == names      # the name a drawing shows: its path from the root
    outer = nn.Module()
    outer.model = ours                                       # registered again: the names follow
    assert [p.name for p in ours.parameters()] == [f"model.{name}" for name in names]


@pytest.mark.parametrize("container", ["ModuleList", "Sequential"])
def test_insert_moves_the_later_children_up_without_registering_them_again_as_torch(monkeypatch, container) -> None:
    # insert renumbered every child through the registration path (hooks, a walk of each subtree): quadratic
    # in a loop of insert(0, m), and PyTorch runs no registration hook there at all
    from nn.module import register_module_module_registration_hook
    results = []
    for lib, register in ((torch.nn, torch.nn.modules.module.register_module_module_registration_hook),
                          (nn, register_module_module_registration_hook)):
        made = lib.ModuleList([lib.Linear(1, 1), lib.ReLU()]) if container == "ModuleList" else \
            lib.Sequential(lib.Linear(1, 1), lib.ReLU())
        hooked: list = []
        handle = register(lambda module, name, child, hooked=hooked: hooked.append(name))
        calls = _counting_walks(monkeypatch) if lib is nn else []
        try:
            for index, child in ((1, lib.Tanh()), (0, lib.Linear(2, 2)), (4, lib.Sigmoid()), (2, lib.Linear(3, 3))):
                made.insert(index, child)
        finally:
            handle.remove()
        assert calls == []
        results.append((hooked, [(k, type(m).__name__) for k, m in made.named_children()],
                        [k for k, _ in made.named_parameters()], list(made.state_dict())))
        if lib is nn:
            assert [p.name for p in made.parameters()] == results[-1][2]
    assert results[1] == results[0]


@pytest.mark.parametrize("name, kwargs, group", [
    ("RMSprop", dict(foreach=True, centered=True), dict(foreach=None)), ("SGD", dict(lr=0.1, fused=True),
                                                                          dict(fused=None)),
    ("Rprop", dict(foreach=False), dict(foreach=None)), ("Adam", dict(fused=False), dict(fused=True)),
])
def test_a_group_s_own_implementation_flag_is_taken_as_torch_s(name: str, kwargs: dict, group: dict) -> None:
    # a group's foreach=None under a constructor's True (a bool default) was refused as "must be True or False"
    values, groups = [], []
    for lib, opt_module in ((torch, torch.optim), (mg, optim)):
        params = _params(lib)
        opt = getattr(opt_module, name)([{"params": params[:1]}, {"params": params[1:], "lr": 0.05, **group}],
                                        **kwargs)
        for step in range(3):
            for p, g in zip(params, _grads(lib, step)):
                p.grad = g
            opt.step()
        values.append([p.detach().numpy().copy() for p in params])
        groups.append(opt.state_dict()["param_groups"])
    assert groups[1] == groups[0]
    for ours, theirs in zip(values[1], values[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-13)
