"""PyTorch habits with nn.Module, its containers and hooks, and with the optimizers, each against torch 2.13:
traversal and registration rules, None over a registered name, reprs, state-dict hooks, extra state and
``_load_from_state_dict`` overrides, backward hooks on an LSTM, Adam's ``decoupled_weight_decay``, the
optimizers' step and state-dict hooks, and trajectories with None gradients, lr changes and a reload."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn
from nn import optim

torch = pytest.importorskip("torch", reason="PyTorch is the reference for these tests")


def numpy_of(value: Any) -> np.ndarray:
    return value.detach().numpy() if isinstance(value, torch.Tensor) else value.numpy()


def outcome(call: Any) -> tuple[str, Any]:
    """("ok", result) or (the error's type name, None): what a call does, to compare ours with torch's."""
    try:
        return "ok", call()
    except (TypeError, KeyError, ValueError, AttributeError, RuntimeError) as error:
        return type(error).__name__, None


def error_kind(call: Any) -> str:
    kind = outcome(call)[0]
    return "RuntimeError" if kind == "StateDictError" else kind


# --- traversal and registration ---

def shared_tree(lib: Any) -> Any:
    """root(A=Sequential(Linear, Tanh), B=ReLU, C=A): a child shared under two names."""
    root = lib.Module()
    root.A = lib.Sequential(lib.Linear(1, 1), lib.Tanh())
    root.B = lib.ReLU()
    root.C = root.A
    return root


def test_named_children_give_a_shared_child_once_and_apply_runs_children_first_as_torch() -> None:
    ours, theirs = shared_tree(nn), shared_tree(torch.nn)
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()] == ["A", "B"]
    assert len(list(ours.children())) == 2
    visited: dict = {"ours": [], "theirs": []}
    ours.apply(lambda m: visited["ours"].append(type(m).__name__))
    theirs.apply(lambda m: visited["theirs"].append(type(m).__name__))
    assert visited["ours"] == visited["theirs"] == ["Linear", "Tanh", "Sequential", "ReLU", "Module"]


def three_parameters(lib: Any) -> Any:
    module = lib.Module()
    for name, size in (("a", 1), ("b", 2), ("c", 3)):
        setattr(module, name, lib.Parameter(mg.zeros(size) if lib is nn else torch.zeros(size)))
    return module


def test_none_over_a_parameter_keeps_its_place_as_in_torch() -> None:
    """A parameter set to None and back comes back in its place, so state-dict and optimizer order stay
    torch's (it used to move to the end)."""
    ours, theirs = three_parameters(nn), three_parameters(torch.nn)
    ours.b, theirs.b = None, None
    assert list(ours._parameters) == list(theirs._parameters) == ["a", "b", "c"]
    assert [n for n, _ in ours.named_parameters()] == ["a", "c"]
    ours.b, theirs.b = nn.Parameter(mg.ones(2)), torch.nn.Parameter(torch.ones(2))
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()] == ["a", "b", "c"]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.child, theirs.child = nn.ReLU(), torch.nn.ReLU()
    ours.child, theirs.child = None, None
    assert list(ours._modules) == list(theirs._modules) == ["child"]
    assert repr(ours).replace("Module", "M") == repr(theirs).replace("Module", "M")


REGISTRATIONS = {
    "buffer with a dot": lambda lib, m, t: m.register_buffer("a.b", t(1)),
    "buffer named ''": lambda lib, m, t: m.register_buffer("", t(1)),
    "buffer over an attribute": lambda lib, m, t: m.register_buffer("weight", t(1)),
    "buffer that is an int": lambda lib, m, t: m.register_buffer("count", 3),
    "parameter that is a plain Tensor": lambda lib, m, t: m.register_parameter("extra", t(1)),
    "parameter with a dot": lambda lib, m, t: m.register_parameter("a.b", lib.Parameter(t(1))),
    "parameter over an attribute": lambda lib, m, t: m.register_parameter("in_features", lib.Parameter(t(1))),
    "parameter named 7": lambda lib, m, t: m.register_parameter(7, lib.Parameter(t(1))),
    "module over a parameter": lambda lib, m, t: m.add_module("weight", lib.ReLU()),
    "int over a buffer": lambda lib, m, t: (m.register_buffer("count", t(1)), setattr(m, "count", 3)),
    "module over a parameter by setattr": lambda lib, m, t: setattr(m, "bias", lib.ReLU()),
    "train('yes')": lambda lib, m, t: m.train("yes"),
    "a new buffer, then a Parameter over it": lambda lib, m, t: (m.register_buffer("b", t(1)),
                                                                 setattr(m, "b", lib.Parameter(t(1))),
                                                                 list(m._buffers), list(m._parameters))[2:],
    "a child, then a Parameter over it": lambda lib, m, t: (setattr(m, "c", lib.ReLU()),
                                                             setattr(m, "c", lib.Parameter(t(1))),
                                                             list(m._modules), list(m._parameters))[2:],
    "a buffer, then a module over it": lambda lib, m, t: (m.register_buffer("b", t(1)), setattr(m, "b", lib.ReLU()),
                                                          list(m._buffers), list(m._modules))[2:],
}


@pytest.mark.parametrize("case", list(REGISTRATIONS))
def test_registration_rules_and_their_errors_as_in_torch(case: str) -> None:
    """Each used to be accepted silently (a plain Tensor 'registered' as a parameter was not in
    parameters(); a dotted buffer name broke loading; an int over a buffer dropped it from the state dict)."""
    make = REGISTRATIONS[case]
    ours = outcome(lambda: make(nn, nn.Linear(2, 2), lambda n: mg.zeros(n)))
    theirs = outcome(lambda: make(torch.nn, torch.nn.Linear(2, 2), lambda n: torch.zeros(n)))
    assert ours == theirs


def test_set_submodule_adds_a_new_child_unless_strict_as_in_torch() -> None:
    ours, theirs = shared_tree(nn), shared_tree(torch.nn)
    ours.set_submodule("A.extra", nn.Tanh())
    theirs.set_submodule("A.extra", torch.nn.Tanh())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert error_kind(lambda: ours.set_submodule("A.other", nn.Tanh(), strict=True)) == \
        error_kind(lambda: theirs.set_submodule("A.other", torch.nn.Tanh(), strict=True)) == "AttributeError"


# --- printing ---

def custom_module(lib: Any, extra: str) -> Any:
    class Custom(lib.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = lib.Linear(2, 3)
            self.seq = lib.Sequential(lib.Linear(3, 3), lib.ReLU())

        def extra_repr(self) -> str:
            return extra

    class Leaf(lib.Module):
        def extra_repr(self) -> str:
            return extra

    return Custom(), Leaf()


@pytest.mark.parametrize("extra", ["hello=1", "a=1\nb=2", ""])
def test_repr_of_custom_modules_with_extra_repr_is_torchs(extra: str) -> None:
    for ours, theirs in zip(custom_module(nn, extra), custom_module(torch.nn, extra)):
        assert repr(ours) == repr(theirs)


def test_container_reprs_are_torchs() -> None:
    assert repr(nn.ModuleList()) == repr(torch.nn.ModuleList())
    for values in ([np.zeros(2, np.float32), np.ones((2, 3), np.float32)], [np.zeros(2, np.float32)], []):
        ours = nn.ParameterList([mg.tensor(v) for v in values])
        theirs = torch.nn.ParameterList([torch.tensor(v) for v in values])
        assert repr(ours) == repr(theirs).replace("torch.", "")


def test_parameter_dict_has_dicts_methods() -> None:
    params = nn.ParameterDict({"x": mg.zeros(1)})
    assert params.setdefault("y", mg.ones(1)) is params["y"]
    assert list(params.copy()) == ["x", "y"] and params.copy()["x"] is params["x"]
    assert list(params.fromkeys(["q", "r"], mg.zeros(1))) == ["q", "r"]
    assert list(params | nn.ParameterDict({"z": mg.zeros(1)})) == ["x", "y", "z"]
    assert list(reversed(params)) == ["y", "x"]
    key, value = params.popitem()
    assert key == "y" and isinstance(value, nn.Parameter) and list(params) == ["x"]
    params |= {"w": mg.zeros(1)}
    assert [n for n, _ in params.named_parameters()] == ["x", "w"]
    params.clear()
    assert len(params) == 0 and not list(params.parameters())


# --- state dicts: results, hooks, extra state, overrides ---

def test_load_state_dict_returns_torchs_incompatible_keys() -> None:
    ours = nn.Linear(2, 2).load_state_dict({"weight": np.ones((2, 2)), "zz": np.ones(1)}, strict=False)
    theirs = torch.nn.Linear(2, 2).load_state_dict({"weight": torch.ones(2, 2), "zz": torch.ones(1)}, strict=False)
    assert repr(ours) == repr(theirs) and ours == theirs
    assert repr(nn.Linear(2, 2).load_state_dict(nn.Linear(2, 2).state_dict())) == "<All keys matched successfully>"
    assert isinstance(ours, nn.LoadResult)


def test_a_torch_state_dict_of_parameters_loads_directly() -> None:
    theirs = torch.nn.Linear(3, 2)
    ours = nn.Linear(3, 2)
    ours.load_state_dict(theirs.state_dict(keep_vars=True))   # tensors that require grad
    np.testing.assert_array_equal(ours.weight.numpy(), numpy_of(theirs.weight))


def versioned_net(lib: Any) -> Any:
    """A model whose block has extra state and renames an old key in ``_load_from_state_dict`` (version 2)."""
    class Block(lib.Module):
        _version = 2

        def __init__(self) -> None:
            super().__init__()
            self.lin = lib.Linear(2, 2)
            self.counter = 0

        def get_extra_state(self) -> dict:
            return {"counter": self.counter}

        def set_extra_state(self, state: dict) -> None:
            self.counter = state["counter"]

        def _load_from_state_dict(self, state_dict: Any, prefix: str, metadata: dict, *rest: Any) -> None:
            if metadata.get("version", 1) < 2 and prefix + "old_w" in state_dict:
                state_dict[prefix + "lin.weight"] = state_dict.pop(prefix + "old_w")
            super()._load_from_state_dict(state_dict, prefix, metadata, *rest)

    net = lib.Module()
    net.a = Block()
    net.b = lib.Linear(2, 1)
    return net


def replaced_with_one_more_key(module: Any, state: Any, prefix: str, metadata: dict) -> Any:
    """A private-API state-dict hook whose result replaces the state dict."""
    new = type(state)(state)
    new._metadata = state._metadata
    new["added"] = state["b.bias"]
    return new


def hooks_log(lib: Any) -> list:
    """Everything the state-dict hooks of a versioned net see, through a save and an old checkpoint's load."""
    log: list = []
    net = versioned_net(lib)
    net.register_state_dict_pre_hook(lambda m, prefix, keep_vars: log.append(("pre", prefix, keep_vars)))
    net.a.register_state_dict_post_hook(lambda m, sd, prefix, meta: log.append(("post a", prefix, sorted(sd), meta)))
    net._register_state_dict_hook(replaced_with_one_more_key)
    net.a.counter = 5
    state = net.state_dict()
    log.append(("keys", list(state), dict(state._metadata)))
    old = {k: v for k, v in state.items() if k != "added"}
    old["a.old_w"] = old.pop("a.lin.weight")   # a checkpoint from before version 2, without metadata
    old["bogus"] = old["b.bias"]
    target = versioned_net(lib)
    target.register_load_state_dict_pre_hook(
        lambda m, sd, prefix, meta, strict, missing, unexpected, errors: log.append(("load pre", sorted(sd), strict)))
    target.a.register_load_state_dict_pre_hook(lambda m, sd, prefix, *rest: log.append(("load pre a", sorted(sd))))

    def drop_bogus(module: Any, keys: Any) -> None:
        log.append(("load post", list(keys.missing_keys), list(keys.unexpected_keys)))
        keys.unexpected_keys.remove("bogus")

    target.register_load_state_dict_post_hook(drop_bogus)
    result = target.load_state_dict(old)   # strict: the post-hook's edit makes it pass
    log.append(("result", repr(result), target.a.counter))
    np.testing.assert_array_equal(numpy_of(target.a.lin.weight), numpy_of(state["a.lin.weight"]))
    return log


def test_state_dict_hooks_extra_state_and_version_migration_as_torch() -> None:
    assert hooks_log(nn) == hooks_log(torch.nn)


def test_a_strict_load_a_post_hook_does_not_fix_changes_nothing() -> None:
    model = versioned_net(nn)
    before = {k: v.numpy().copy() for k, v in model.state_dict().items() if k != "a._extra_state"}
    seen = []
    model.register_load_state_dict_post_hook(lambda m, keys: seen.append(list(keys.missing_keys)))
    state = {k: np.full(v.shape, 7.0) for k, v in before.items() if k != "b.weight"}
    state["a._extra_state"] = {"counter": 9}
    with pytest.raises(nn.StateDictError, match="missing key: b.weight"):
        model.load_state_dict(state)
    assert seen == [["b.weight"]]   # the hook ran after the copy, as torch's; then everything was put back
    for key, value in model.state_dict().items():
        if key != "a._extra_state":
            np.testing.assert_array_equal(value.numpy(), before[key], err_msg=key)
    assert model.a.counter == 0


# --- hooks around calls ---

def forward_hooks_log(lib: Any, x: Any) -> list:
    module, log = lib.Linear(3, 2), []
    module.register_forward_pre_hook(lambda m, args: log.append("pre 1"))
    module.register_forward_pre_hook(lambda m, args: log.append("pre 0"), prepend=True)
    module.register_forward_pre_hook(lambda m, args, kwargs: log.append(("pre kw", kwargs)), with_kwargs=True)
    module.register_forward_hook(lambda m, args, out: log.append("post 1"))
    handle = module.register_forward_hook(lambda m, args, out: log.append("post 0"), prepend=True)
    module.register_forward_hook(lambda m, args, kwargs, out: log.append(("post kw", kwargs)), with_kwargs=True)
    module(x)
    handle.remove()
    module(x)
    return log


def test_forward_hook_order_with_prepend_kwargs_and_removal_as_torch() -> None:
    assert forward_hooks_log(nn, mg.ones(1, 3)) == forward_hooks_log(torch.nn, torch.ones(1, 3))


def test_full_backward_hooks_on_an_lstm_see_torchs_gradients() -> None:
    torch.manual_seed(0)
    theirs = torch.nn.LSTM(3, 4, batch_first=True).double()
    ours = nn.LSTM(3, 4, batch_first=True, dtype=mg.float64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    seen = []
    for lib, module in (("ours", ours), ("theirs", theirs)):
        record: dict = {}
        module.register_full_backward_pre_hook(lambda m, grad_out, r=record: r.setdefault("pre", grad_out) and None)
        module.register_full_backward_hook(lambda m, gi, go, r=record: r.update(gi=gi, go=go))
        inputs = mg.tensor(x, requires_grad=True) if lib == "ours" else torch.tensor(x, requires_grad=True)
        out, (h, c) = module(inputs)
        (out.sum() + (h * h).sum()).backward()
        seen.append(record)
    for key in ("pre", "gi", "go"):
        assert len(seen[0][key]) == len(seen[1][key]), key
        for a, b in zip(seen[0][key], seen[1][key]):
            assert (a is None) == (b is None), key
            if a is not None:
                np.testing.assert_allclose(numpy_of(a), numpy_of(b), rtol=1e-10, atol=1e-12, err_msg=key)


# --- optimizers ---

def adam_pair(**kwargs: Any) -> tuple:
    rng = np.random.default_rng(1)
    init = [rng.standard_normal((3, 2)), rng.standard_normal(2)]
    ours = [nn.Parameter(mg.tensor(a.copy())) for a in init]
    theirs = [torch.nn.Parameter(torch.tensor(a.copy())) for a in init]
    return ours, theirs


def test_adam_decoupled_weight_decay_is_adamw_as_in_torch() -> None:
    """``Adam(..., decoupled_weight_decay=True)`` (torch 2.13) used to be refused; it is a group setting,
    saved with the group, as AdamW's is."""
    ours, theirs = adam_pair()
    mine = optim.Adam([{"params": ours[:1]}, {"params": ours[1:], "decoupled_weight_decay": False}], lr=0.05,
                      weight_decay=0.2, decoupled_weight_decay=True)
    peer = torch.optim.Adam([{"params": theirs[:1]}, {"params": theirs[1:], "decoupled_weight_decay": False}],
                            lr=0.05, weight_decay=0.2, decoupled_weight_decay=True)
    for step in range(6):
        grads = [np.cos(np.arange(p.numpy().size) + step).reshape(p.shape) for p in ours]
        for p, q, g in zip(ours, theirs, grads):
            p.grad, q.grad = mg.tensor(g), torch.tensor(g)
        mine.step()
        peer.step()
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.numpy(), numpy_of(q), rtol=1e-12)
    assert [g["decoupled_weight_decay"] for g in mine.state_dict()["param_groups"]] == [True, False]
    for cls in ("Adam", "AdamW"):
        group = getattr(optim, cls)(ours).state_dict()["param_groups"][0]
        their_group = getattr(torch.optim, cls)(theirs).state_dict()["param_groups"][0]
        assert group["decoupled_weight_decay"] is their_group["decoupled_weight_decay"]
        assert set(group) <= set(their_group)


def step_hooks_log(lib: str) -> list:
    p = nn.Parameter(mg.ones(2)) if lib == "ours" else torch.nn.Parameter(torch.ones(2))
    opt = (optim if lib == "ours" else torch.optim).SGD([p], lr=0.1)
    log: list = []

    def closure(p: Any = p, opt: Any = opt, log: list = log) -> Any:
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        log.append("closure")
        return loss

    def swap(o: Any, args: tuple, kwargs: dict, log: list = log, closure: Any = closure) -> Any:
        log.append(("pre", args[0] is o, len(args), sorted(kwargs)))
        return (o,), {"closure": closure}   # every step gets the closure

    pre = opt.register_step_pre_hook(swap)
    post = opt.register_step_post_hook(lambda o, args, kwargs: log.append(("post", len(args), sorted(kwargs))))
    loss = opt.step()
    log.append(("loss", float(loss.detach().numpy() if lib == "theirs" else loss.numpy())))
    pre.remove()
    post.remove()
    assert opt.step() is None
    log.append(float(numpy_of(p)[0]))
    return log


def test_step_hooks_see_what_torchs_see_and_can_change_the_call() -> None:
    assert step_hooks_log("ours") == step_hooks_log("theirs")


def optimizer_state_hooks_log(lib: str) -> list:
    p = nn.Parameter(mg.ones(2)) if lib == "ours" else torch.nn.Parameter(torch.ones(2))
    opt = (optim if lib == "ours" else torch.optim).SGD([p], lr=0.1, momentum=0.9)
    log: list = []
    opt.register_state_dict_pre_hook(lambda o: log.append("save pre"))
    opt.register_state_dict_pre_hook(lambda o: log.append("save pre first"), prepend=True)
    opt.register_state_dict_post_hook(lambda o, sd: {**sd, "note": 1})
    opt.register_load_state_dict_pre_hook(lambda o, sd: log.append(("load pre", sorted(sd))) or
                                          {k: v for k, v in sd.items() if k != "note"})
    handle = opt.register_load_state_dict_post_hook(lambda o: log.append("load post"))
    state = opt.state_dict()
    state["param_groups"][0]["lr"] = 0.5
    opt.load_state_dict(state)
    handle.remove()
    opt.load_state_dict(state)
    log.append(opt.param_groups[0]["lr"])
    return log


def test_optimizer_state_dict_hooks_as_torch() -> None:
    ours = optimizer_state_hooks_log("ours")
    assert ours == optimizer_state_hooks_log("theirs")
    assert ours[:2] == ["save pre first", "save pre"]


def test_a_subclass_step_that_calls_super_runs_the_hooks_once() -> None:
    class Counting(optim.SGD):
        def step(self, closure: Any = None) -> Any:
            self.count = getattr(self, "count", 0) + 1
            return super().step(closure)

    p = nn.Parameter(mg.ones(2))
    p.grad = mg.ones(2)
    opt = Counting([p], lr=0.1)
    calls = []
    opt.register_step_pre_hook(lambda o, args, kwargs: calls.append("pre"))
    opt.register_step_post_hook(lambda o, args, kwargs: calls.append("post"))
    opt.step()
    assert calls == ["pre", "post"] and opt.count == 1
    np.testing.assert_allclose(p.numpy(), [0.9, 0.9])


OPTIMIZERS = [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, maximize=True, weight_decay=0.05)),
    ("Adam", dict(lr=0.05, amsgrad=True, maximize=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.05, amsgrad=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
    ("Adadelta", dict(lr=0.5, weight_decay=0.1)),
    ("Adamax", dict(lr=0.05, maximize=True)),
    ("NAdam", dict(lr=0.05, decoupled_weight_decay=True, weight_decay=0.1)),
    ("RAdam", dict(lr=0.05, weight_decay=0.1)),
    ("ASGD", dict(lr=0.05, t0=3, weight_decay=0.1)),
    ("Rprop", dict(lr=0.05)),
]


@pytest.mark.parametrize("name,kwargs", OPTIMIZERS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(OPTIMIZERS)])
def test_twenty_steps_with_none_and_zero_grads_an_lr_change_and_a_reload_from_torch(name: str, kwargs: dict) -> None:
    """Two groups; a parameter's gradient is None at some steps (skipped, state kept), zero at others
    (a step like any other); the first group's lr is halved at step 10; at step 12 a new optimizer loads
    torch's state dict (converted with .numpy()) and carries on."""
    rng = np.random.default_rng(7)
    shapes = [(3, 4), (4,), (2, 2), (5,)]
    init = [rng.standard_normal(s) for s in shapes]
    ours = [nn.Parameter(mg.tensor(a.copy())) for a in init]
    theirs = [torch.nn.Parameter(torch.tensor(a.copy())) for a in init]

    def groups(params: list, lr: float) -> list:
        return [{"params": params[:2]}, {"params": params[2:], "lr": lr}]

    mine = getattr(optim, name)(groups(ours, kwargs["lr"] / 2), **kwargs)
    peer = getattr(torch.optim, name)(groups(theirs, kwargs["lr"] / 2), **kwargs)
    for step in range(20):
        for i, (p, q) in enumerate(zip(ours, theirs)):
            if (step + i) % 5 == 3:
                p.grad = q.grad = None
                continue
            g = rng.standard_normal(shapes[i]) * (step % 4 != 1)
            p.grad, q.grad = mg.tensor(g), torch.tensor(g)
        if step == 10:
            mine.param_groups[0]["lr"] *= 0.5
            peer.param_groups[0]["lr"] *= 0.5
        if step == 12:
            state = copy.deepcopy(peer.state_dict())
            state["state"] = {i: {k: (v.numpy() if hasattr(v, "numpy") else v) for k, v in entries.items()}
                              for i, entries in state["state"].items()}
            mine = getattr(optim, name)(groups(ours, 1.0), **kwargs)
            mine.load_state_dict(state)
        mine.step()
        peer.step()
        for i, (p, q) in enumerate(zip(ours, theirs)):
            np.testing.assert_allclose(p.numpy(), numpy_of(q), rtol=1e-11, atol=1e-13, err_msg=f"step {step}, {i}")


def global_hooks_log(lib: Any, register: Any, x: Any) -> list:
    model = lib.Sequential(lib.Linear(3, 2), lib.Tanh())
    log: list = []
    model[0].register_forward_hook(lambda m, args, out: log.append(("own", type(m).__name__)))
    def post(module: Any, args: tuple, kwargs: dict, out: Any) -> None:
        log.append(("post", type(module).__name__))

    handles = [register.register_module_forward_pre_hook(lambda m, args: log.append(("pre", type(m).__name__))),
               register.register_module_forward_hook(post, with_kwargs=True)]
    try:
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    model(x)
    return log


def test_global_forward_hooks_run_for_every_module_before_its_own_as_torch() -> None:
    ours = global_hooks_log(nn, nn.module, mg.ones(1, 3))
    assert ours == global_hooks_log(torch.nn, torch.nn.modules.module, torch.ones(1, 3))
    assert ours[:4] == [("pre", "Sequential"), ("pre", "Linear"), ("post", "Linear"), ("own", "Linear")]


@pytest.mark.gpu
def test_on_the_gpu_a_load_and_an_undone_load_keep_the_arrays_on_the_device() -> None:
    model = versioned_net(nn).to("cuda")
    source = versioned_net(nn)
    state = {k: v.numpy() for k, v in source.state_dict().items() if k != "a._extra_state"}
    model.load_state_dict(state, strict=False)
    np.testing.assert_array_equal(model.a.lin.weight.numpy(), state["a.lin.weight"])
    assert model.a.lin.weight.device.type == "cuda"
    model.register_load_state_dict_post_hook(lambda m, keys: None)
    with pytest.raises(nn.StateDictError, match="missing key: a._extra_state"):
        model.load_state_dict({k: v + 1 for k, v in state.items()})
    np.testing.assert_array_equal(model.a.lin.weight.numpy(), state["a.lin.weight"])
    assert model.a.lin.weight.device.type == "cuda"
    opt = optim.Adam(model.parameters(), lr=0.1, decoupled_weight_decay=True, weight_decay=0.1)
    calls = []
    opt.register_step_post_hook(lambda o, args, kwargs: calls.append(len(args)))
    for p in model.parameters():
        p.grad = mg.ones_like(p)
    opt.step()
    assert calls == [1] and model.b.weight.device.type == "cuda"
