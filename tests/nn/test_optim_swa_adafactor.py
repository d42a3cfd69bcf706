"""Adafactor, Muon and swa_utils (AveragedModel, SWALR, update_bn, the averaging functions) against torch.optim.

Adafactor and the averaging recipes of PyTorch's documentation (SWA with SWALR and update_bn, EMA)
run step by step beside their PyTorch twins with the weights copied over: float64 to 1e-12, float32
to float32 rounding. Muon's Newton–Schulz runs in bfloat16 in PyTorch; minigrad rounds to bfloat16
where PyTorch does, so its steps agree to bfloat16 rounding (most bit for bit).
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from helpers import assert_close

import minigrad as mg
import nn
from nn import optim
from nn.optim import swa_utils
from nn.optim.muon import orthogonalised

SHAPES = [(4, 3), (3,), (2, 3, 5), ()]         # factored (2-D, 3-D), a vector and a scalar for Adafactor
TOL = {"float64": (1e-12, 1e-14), "float32": (2e-5, 1e-6)}


def grads_for(shapes: list, steps: int, seed: int = 0) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(shape) for shape in shapes] for _ in range(steps)]


def twins(torch, shapes: list, dtype: str, seed: int = 1) -> tuple[list, list]:
    """The same random parameters as minigrad Parameters and torch tensors that require grad."""
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(shape).astype(dtype) for shape in shapes]
    ours = [nn.Parameter(mg.tensor(a.copy())) for a in arrays]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    return ours, theirs


def step_both(torch, ours_opt, theirs_opt, ours, theirs, grads) -> None:
    for p, q, g in zip(ours, theirs, grads):
        p.grad = mg.tensor(g.astype(p.dtype))
        q.grad = torch.from_numpy(g.astype(p.dtype))
    ours_opt.step()
    theirs_opt.step()


def assert_same(ours, theirs, dtype: str, what: str = "") -> None:
    rtol, atol = TOL[dtype]
    for i, (p, q) in enumerate(zip(ours, theirs)):
        assert_close(p, q, rtol, atol, what=f"{what} parameter {i}")


def assert_same_state(ours_opt, theirs_opt, dtype: str) -> None:
    rtol, atol = TOL[dtype]
    o_state, t_state = ours_opt.state_dict()["state"], theirs_opt.state_dict()["state"]
    assert sorted(o_state) == sorted(t_state)
    for index, entries in o_state.items():
        assert list(entries) == list(t_state[index]), index        # PyTorch's names, in its order
        for key, value in entries.items():
            if key == "step":
                assert value == t_state[index][key].item()
            else:
                assert_close(value, t_state[index][key], rtol, atol, what=f"{index} {key}")


def to_torch_state(torch, state_dict: dict) -> dict:
    state_dict = copy.deepcopy(state_dict)
    state_dict["state"] = {i: {k: (torch.from_numpy(v.numpy()) if isinstance(v, mg.Tensor)
                                   else torch.tensor(float(v)) if k == "step" else v) for k, v in entries.items()}
                           for i, entries in state_dict["state"].items()}
    return state_dict


def from_torch_state(state_dict: dict) -> dict:
    state_dict = copy.deepcopy(state_dict)
    state_dict["state"] = {i: {k: v.numpy() for k, v in entries.items()} for i, entries in state_dict["state"].items()}
    return state_dict


# --- Adafactor ---

ADAFACTOR_CONFIGS = [
    dict(),
    dict(lr=0.05, beta2_decay=-0.5, eps=(1e-20, 1e-2), d=1.5, weight_decay=0.1),
    dict(lr=0.2, weight_decay=0.05, maximize=True, foreach=True),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kwargs", ADAFACTOR_CONFIGS, ids=["defaults", "all-set", "maximize"])
def test_adafactor_steps_equal_torch(torch, kwargs, dtype) -> None:
    ours, theirs = twins(torch, SHAPES, dtype)
    groups = lambda ps: [{"params": ps[:2]}, {"params": ps[2:], "lr": 0.03}]   # noqa: E731
    ours_opt = optim.Adafactor(groups(ours), **kwargs)
    theirs_opt = torch.optim.Adafactor(groups(theirs), **kwargs)
    for step, grads in enumerate(grads_for(SHAPES, 12)):
        step_both(torch, ours_opt, theirs_opt, ours, theirs, grads)
        assert_same(ours, theirs, dtype, f"step {step + 1}")
    assert_same_state(ours_opt, theirs_opt, dtype)
    state = ours_opt.state[ours[0]]
    assert state["row_var"].shape == (4, 1) and state["col_var"].shape == (1, 3)
    assert ours_opt.state[ours[2]]["col_var"].shape == (2, 1, 5) and "variance" in ours_opt.state[ours[1]]


def test_adafactor_signature_and_defaults_are_torch_s(torch) -> None:
    import inspect
    ours = inspect.signature(optim.Adafactor).parameters
    theirs = inspect.signature(torch.optim.Adafactor).parameters
    for name, parameter in theirs.items():
        assert name in ours and ours[name].default == parameter.default and ours[name].kind == parameter.kind, name
    p = nn.Parameter(mg.ones(2, 2))
    assert optim.Adafactor([p]).param_groups[0]["eps"] == (None, 1e-3)


def test_adafactor_state_dicts_go_both_ways(torch) -> None:
    ours, theirs = twins(torch, SHAPES, "float64")
    ours_opt, theirs_opt = optim.Adafactor(ours, lr=0.05), torch.optim.Adafactor(theirs, lr=0.05)
    grads = grads_for(SHAPES, 8, seed=3)
    for g in grads[:3]:
        step_both(torch, ours_opt, theirs_opt, ours, theirs, g)
    # ours → torch and torch → ours, then both continue as the originals do
    ours2, theirs2 = twins(torch, SHAPES, "float64")
    with torch.no_grad():
        for p, q, p2, q2 in zip(ours, theirs, ours2, theirs2):
            p2.data[...] = p.data
            q2.copy_(q)
    ours_loaded = optim.Adafactor(ours2, lr=1.0)
    ours_loaded.load_state_dict(from_torch_state(theirs_opt.state_dict()))
    theirs_loaded = torch.optim.Adafactor(theirs2, lr=1.0)
    theirs_loaded.load_state_dict(to_torch_state(torch, ours_opt.state_dict()))
    assert ours_loaded.param_groups[0]["lr"] == 0.05
    for g in grads[3:]:
        step_both(torch, ours_opt, theirs_opt, ours, theirs, g)
        step_both(torch, ours_loaded, theirs_loaded, ours2, theirs2, g)
    assert_same(ours2, theirs, "float64", "loaded from torch")
    assert_same(ours, theirs2, "float64", "torch loaded ours")
    assert_same_state(ours_loaded, theirs_opt, "float64")


def test_adafactor_refuses_bad_values_naming_itself_and_the_shape() -> None:
    p = nn.Parameter(mg.ones(4, 3, dtype=mg.float64))
    for kwargs, words in [(dict(beta2_decay=0.5), "beta2_decay"), (dict(d=0.5), "threshold d"),
                          (dict(eps=(-1.0, 1e-3)), "epsilon1"), (dict(eps=(None, -1.0)), "epsilon2"),
                          (dict(lr=-1.0), "learning rate"), (dict(weight_decay=-1.0), "weight_decay")]:
        with pytest.raises(ValueError, match=f"Adafactor.*{words}"):
            optim.Adafactor([p], **kwargs)
    opt = optim.Adafactor([p])
    p.grad = mg.ones(4, 3, dtype=mg.float64)
    opt.step()
    state = opt.state_dict()
    state["state"][0]["row_var"] = np.zeros((3, 1))
    with pytest.raises(ValueError, match=r"Adafactor.load_state_dict.*row_var.*shape \(3, 1\).*\(4, 3\).*\(4, 1\)"):
        opt.load_state_dict(state)
    state["state"][0] = {"step": 1, "variance": np.zeros((4, 3))}
    with pytest.raises(ValueError, match=r"row_var.*2-dim"):
        opt.load_state_dict(state)


# --- Muon ---

def bf16_step_tolerance(lr: float, shape: tuple, steps: int) -> float:
    """What differing bfloat16 roundings can move a parameter by: a few bfloat16 steps of the update, per step."""
    return steps * lr * max(1.0, (shape[0] / shape[1]) ** 0.5) * 2.0 ** -5


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kwargs", [dict(lr=0.02), dict(lr=0.05, nesterov=False, weight_decay=0.0, momentum=0.9),
                                    dict(lr=0.01, adjust_lr_fn="match_rms_adamw", ns_steps=3)],
                         ids=["defaults", "plain-momentum", "match-rms-adamw"])
def test_muon_steps_follow_torch(torch, kwargs, dtype) -> None:
    shapes = [(6, 4), (3, 8)]
    ours, theirs = twins(torch, shapes, dtype)
    ours_opt, theirs_opt = optim.Muon(ours, **kwargs), torch.optim.Muon(theirs, **kwargs)
    steps = 6
    for grads in grads_for(shapes, steps, seed=5):
        step_both(torch, ours_opt, theirs_opt, ours, theirs, grads)
    for p, q, shape in zip(ours, theirs, shapes):
        difference = np.abs(p.numpy() - q.detach().numpy())
        assert difference.max() <= bf16_step_tolerance(kwargs["lr"], shape, steps), difference.max()
        if dtype == "float64":      # where every bfloat16 value agrees (here: all), the steps agree to rounding
            assert np.mean(difference < 1e-12) >= 0.9, difference
    assert list(ours_opt.state_dict()["state"][0]) == list(theirs_opt.state_dict()["state"][0]) == ["momentum_buffer"]


def test_muon_newton_schulz_rounds_as_torch_s_bfloat16(torch) -> None:
    from torch.optim._muon import _zeropower_via_newtonschulz
    rng = np.random.default_rng(7)
    equal = total = 0
    for shape in [(4, 6), (6, 4), (8, 8), (5, 12)]:
        for _ in range(5):
            g = rng.standard_normal(shape)
            ours = orthogonalised(np, g, (3.4445, -4.7750, 2.0315), 5, 1e-7)
            theirs = _zeropower_via_newtonschulz(torch.from_numpy(g), (3.4445, -4.7750, 2.0315), 5, 1e-7)
            theirs = theirs.float().numpy()
            assert ours.shape == theirs.shape == shape
            assert np.abs(ours - theirs).max() <= 2.0 ** -5 * np.abs(theirs).max()
            equal += int((ours == theirs).sum())
            total += ours.size
    assert equal >= 0.9 * total, f"only {equal} of {total} elements equal torch's bfloat16 values"


def test_muon_signature_and_refusals_are_torch_s(torch) -> None:
    import inspect
    ours = inspect.signature(optim.Muon).parameters
    for name, parameter in inspect.signature(torch.optim.Muon).parameters.items():
        assert name in ours and ours[name].default == parameter.default, name
    bias = nn.Parameter(mg.zeros(5))
    with pytest.raises(ValueError, match=r"Muon only supports 2D parameters.*shape \(5,\)"):
        optim.Muon([nn.Parameter(mg.zeros(5, 3)), bias])
    opt = optim.Muon([nn.Parameter(mg.zeros(5, 3))])
    with pytest.raises(ValueError, match=r"Muon only supports 2D.*shape \(2, 3, 4\)"):
        opt.add_param_group({"params": [nn.Parameter(mg.zeros(2, 3, 4))]})
    with pytest.raises(ValueError, match="Muon.*adjust learning rate function 'other'"):
        optim.Muon([nn.Parameter(mg.zeros(5, 3))], adjust_lr_fn="other")
    with pytest.raises(ValueError, match="Muon.*ns_steps"):
        optim.Muon([nn.Parameter(mg.zeros(5, 3))], ns_steps=100)


def test_sparse_adam_is_absent() -> None:
    assert not hasattr(optim, "SparseAdam")      # PyTorch's takes sparse gradients only; minigrad has none


# --- swa_utils: the documentation's recipes ---

X = np.random.default_rng(11).standard_normal((24, 3))
Y = np.random.default_rng(12).standard_normal((24, 2))


def models(torch, dtype: str):
    """A small net with a batch norm, ours and its PyTorch twin with the same weights."""
    ours = nn.Sequential(nn.Linear(3, 6), nn.BatchNorm1d(6), nn.Tanh(), nn.Linear(6, 2))
    ours.to(dtype=getattr(mg, dtype))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.BatchNorm1d(6), torch.nn.Tanh(),
                                 torch.nn.Linear(6, 2)).to(getattr(torch, dtype))
    with torch.no_grad():
        for p, q in zip(ours.state_dict().values(), theirs.state_dict().values()):
            q.copy_(torch.from_numpy(np.asarray(p.numpy())))
    return ours, theirs


def loader(torch=None, dtype: str = "float64") -> list:
    batches = [(X[i:i + 8].astype(dtype), Y[i:i + 8].astype(dtype)) for i in range(0, 24, 8)]
    if torch is None:
        return [(mg.tensor(x), mg.tensor(y)) for x, y in batches]
    return [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]


def epoch(model, opt, batches, loss) -> None:
    for x, y in batches:
        opt.zero_grad()
        loss(model(x), y).backward()
        opt.step()


def assert_same_model(ours, theirs, dtype: str, what: str) -> None:
    rtol, atol = TOL[dtype]
    o_state, t_state = ours.state_dict(), theirs.state_dict()
    assert list(o_state) == list(t_state), what
    for key, value in o_state.items():
        assert_close(value, t_state[key], rtol, atol, what=f"{what} {key}")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_swa_recipe_with_cosine_then_swalr_and_update_bn(torch, dtype) -> None:
    ours, theirs = models(torch, dtype)
    o_opt = optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    t_opt = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    o_swa, t_swa = swa_utils.AveragedModel(ours), torch.optim.swa_utils.AveragedModel(theirs)
    o_sched = optim.lr_scheduler.CosineAnnealingLR(o_opt, T_max=12)
    t_sched = torch.optim.lr_scheduler.CosineAnnealingLR(t_opt, T_max=12)
    o_swa_sched = swa_utils.SWALR(o_opt, swa_lr=0.05, anneal_epochs=3)
    t_swa_sched = torch.optim.swa_utils.SWALR(t_opt, swa_lr=0.05, anneal_epochs=3)
    o_batches, t_batches = loader(None, dtype), loader(torch, dtype)
    for i in range(12):
        epoch(ours, o_opt, o_batches, nn.functional.mse_loss)
        epoch(theirs, t_opt, t_batches, torch.nn.functional.mse_loss)
        if i > 4:
            o_swa.update_parameters(ours)
            t_swa.update_parameters(theirs)
            o_swa_sched.step()
            t_swa_sched.step()
        else:
            o_sched.step()
            t_sched.step()
        assert o_opt.param_groups[0]["lr"] == pytest.approx(t_opt.param_groups[0]["lr"], rel=1e-15, abs=0)
        assert_same_model(ours, theirs, dtype, f"epoch {i}")
    assert_same_model(o_swa, t_swa, dtype, "averaged")
    assert list(o_swa.state_dict())[:2] == ["n_averaged", "module.0.weight"] and int(o_swa.n_averaged.item()) == 7
    swa_utils.update_bn(o_batches, o_swa)
    torch.optim.swa_utils.update_bn(t_batches, t_swa)
    assert_same_model(o_swa, t_swa, dtype, "after update_bn")
    assert o_swa.module[1].momentum == 0.1 and o_swa.training
    o_swa.eval()
    t_swa.eval()
    assert_close(o_swa(mg.tensor(X.astype(dtype))), t_swa(torch.from_numpy(X.astype(dtype))), *TOL[dtype])


@pytest.mark.parametrize("make", [
    lambda u: u.AveragedModel_(multi_avg_fn=u.get_ema_multi_avg_fn(0.9)),
    lambda u: u.AveragedModel_(multi_avg_fn=u.get_ema_multi_avg_fn(0.8), use_buffers=True),
    lambda u: u.AveragedModel_(avg_fn=u.get_ema_avg_fn(0.7)),
    lambda u: u.AveragedModel_(avg_fn=lambda avg, new, n: 0.9 * avg + 0.1 * new),
    lambda u: u.AveragedModel_(multi_avg_fn=u.get_swa_multi_avg_fn()),
    lambda u: u.AveragedModel_(avg_fn=u.get_swa_avg_fn(), use_buffers=True),
    lambda u: u.AveragedModel_(use_buffers=True),
], ids=["ema-multi", "ema-multi-buffers", "ema", "lambda", "swa-multi", "swa-buffers", "default-buffers"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_ema_recipes_average_each_step_as_torch(torch, make, dtype) -> None:
    ours, theirs = models(torch, dtype)

    class Maker:
        def __init__(self, module, model) -> None:
            self.module, self.model = module, model

        def __getattr__(self, name):
            if name == "AveragedModel_":
                return lambda **kw: self.module.AveragedModel(self.model, **kw)
            return getattr(self.module, name)

    o_ema, t_ema = make(Maker(swa_utils, ours)), make(Maker(torch.optim.swa_utils, theirs))
    # (SGD: Adam would blow up the rounding noise of the zero gradient of the bias before the batch norm)
    o_opt = optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    t_opt = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    for _ in range(3):
        for (x, y), (tx, ty) in zip(loader(None, dtype), loader(torch, dtype)):
            o_opt.zero_grad()
            nn.functional.mse_loss(ours(x), y).backward()
            o_opt.step()
            o_ema.update_parameters(ours)
            t_opt.zero_grad()
            torch.nn.functional.mse_loss(theirs(tx), ty).backward()
            t_opt.step()
            t_ema.update_parameters(theirs)
    assert_same_model(o_ema, t_ema, dtype, "averaged")


def test_swalr_linear_after_multiplicative_lr_per_group_lrs_and_state(torch) -> None:
    def build(lib, params):
        opt = lib.optim.SGD([{"params": params[:1]}, {"params": params[1:], "lr": 0.3}], lr=1.0)
        schedule = lib.optim.lr_scheduler.MultiplicativeLR(opt, lr_lambda=lambda epoch: 0.9)
        swa = (swa_utils if lib is not torch else torch.optim.swa_utils).SWALR(
            opt, anneal_strategy="linear", anneal_epochs=4, swa_lr=[0.05, 0.01])
        return opt, schedule, swa

    ours_p, theirs_p = twins(torch, [(2,), (3,)], "float64")
    o_opt, o_sched, o_swa = build(type("lib", (), {"optim": optim}), ours_p)
    t_opt, t_sched, t_swa = build(torch, theirs_p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")            # scheduler steps without optimizer steps
        for i in range(10):
            (o_swa if i > 3 else o_sched).step()
            (t_swa if i > 3 else t_sched).step()
            assert [g["lr"] for g in o_opt.param_groups] == pytest.approx([g["lr"] for g in t_opt.param_groups],
                                                                           rel=1e-15)
            if i == 6:
                saved = o_swa.state_dict()
                assert set(saved) == set(t_swa.state_dict()) - {"_get_lr_called_within_step"}
                o_opt2 = optim.SGD([{"params": ours_p[:1]}, {"params": ours_p[1:]}], lr=1.0)
                o_opt2.load_state_dict(o_opt.state_dict())          # swa_lr in the groups loads
                assert [g["swa_lr"] for g in o_opt2.param_groups] == [0.05, 0.01]
    resumed = swa_utils.SWALR(o_opt, swa_lr=0.5, anneal_strategy="cos")
    resumed.load_state_dict(saved)
    assert resumed.anneal_func is swa_utils.SWALR._linear_anneal and resumed.anneal_epochs == 4
    assert o_swa.get_last_lr() == pytest.approx(t_swa.get_last_lr(), rel=1e-15)


def test_swalr_anneal_epochs_zero_jumps_to_swa_lr(torch) -> None:
    p, q = twins(torch, [(2,)], "float64")
    o_opt, t_opt = optim.SGD(p, lr=1.0), torch.optim.SGD(q, lr=1.0)
    o_s = swa_utils.SWALR(o_opt, swa_lr=0.25, anneal_epochs=0)
    t_s = torch.optim.swa_utils.SWALR(t_opt, swa_lr=0.25, anneal_epochs=0)
    assert o_opt.param_groups[0]["lr"] == t_opt.param_groups[0]["lr"] == 0.25
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        o_s.step()
        t_s.step()
    assert o_opt.param_groups[0]["lr"] == t_opt.param_groups[0]["lr"]


def test_swa_errors_name_what_is_wrong() -> None:
    model = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="only one of avg_fn and multi_avg_fn"):
        swa_utils.AveragedModel(model, avg_fn=swa_utils.get_swa_avg_fn(), multi_avg_fn=swa_utils.get_swa_multi_avg_fn())
    averaged = swa_utils.AveragedModel(model)
    with pytest.raises(ValueError, match=r"parameters 0 has shape \(2, 3\) in the averaged model but \(2, 4\)"):
        averaged.update_parameters(nn.Linear(4, 2))
    for fn in (swa_utils.get_ema_avg_fn, swa_utils.get_ema_multi_avg_fn):
        with pytest.raises(ValueError, match="decay"):
            fn(1.5)
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="SWALR: anneal_strategy"):
        swa_utils.SWALR(opt, swa_lr=0.05, anneal_strategy="step")
    with pytest.raises(ValueError, match="SWALR: anneal_epochs"):
        swa_utils.SWALR(opt, swa_lr=0.05, anneal_epochs=-1)
    with pytest.raises(ValueError, match="swa_lr must have the same length"):
        swa_utils.SWALR(opt, swa_lr=[0.05, 0.01])
    with pytest.raises(TypeError, match="get_swa_multi_avg_fn.*int64"):
        swa_utils.get_swa_multi_avg_fn()([mg.tensor([1, 2])], [mg.tensor([3, 4])], 1)
    swa_utils.update_bn([mg.ones(2, 3)], model)         # no batch norm: nothing to do


@pytest.mark.gpu
def test_on_the_gpu_same_as_on_the_cpu() -> None:
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal(s) for s in [(4, 3), (3,)]]
    results = []
    for device in ("cpu", "cuda"):
        params = [nn.Parameter(mg.tensor(a, device=device)) for a in arrays]
        ada = optim.Adafactor(params, lr=0.05, weight_decay=0.1)
        muon = optim.Muon([nn.Parameter(mg.tensor(arrays[0], device=device))], lr=0.02)
        model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).to(dtype=mg.float64)
        model.load_state_dict({k: mg.tensor(np.full(v.shape, 0.5)) if v.dtype.kind == "f" else v
                               for k, v in model.state_dict().items()})
        # (made from the CPU model and moved by device=: the CuPy stand-in cannot deepcopy its arrays)
        ema = swa_utils.AveragedModel(model, device, multi_avg_fn=swa_utils.get_ema_multi_avg_fn(0.9))
        swa = swa_utils.AveragedModel(model, device)
        model.to(device)
        for step in range(3):
            for p, g in zip(params + muon.param_groups[0]["params"], [a * (step + 1) for a in arrays + arrays[:1]]):
                p.grad = mg.tensor(g, device=device)
            ada.step()
            muon.step()
            with mg.no_grad():
                model[0].weight.add_(0.1 * (step + 1))
            ema.update_parameters(model)
            swa.update_parameters(model)
        swa_utils.update_bn([mg.tensor(X[:8], device=device)], swa)
        assert swa.n_averaged.device.type == device.split(":")[0]
        averaged = [v.numpy() for v in ema.state_dict().values()] + [v.numpy() for v in swa.state_dict().values()]
        results.append([p.numpy() for p in params] + [muon.param_groups[0]["params"][0].numpy()] + averaged)
    swa_start = len(results[0]) - len(swa.state_dict())
    for i, (a, b) in enumerate(zip(*results)):
        if i == 2:      # Muon: a GPU's float32 sums may round a bfloat16 value the other way
            np.testing.assert_allclose(a, b, atol=bf16_step_tolerance(0.02, a.shape, 3))
        elif i >= swa_start:    # PyTorch's GPU path lerps by 1/(n+1) rounded to float32 (its default dtype)
            np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-12)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
