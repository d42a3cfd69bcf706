"""Round 25: AMP and SWA training loops against PyTorch 2.13, step by step.

A throwaway driver ran 400 random GradScaler loops on the CPU (float64/float32 models, one or two optimizers of
SGD/Adam/AdamW/RMSprop, init_scale/growth/backoff/interval, enabled=False, inf/NaN/huge losses and gradients,
unscale_ then clip_grad_norm_, update(new_scale), a state-dict resume midway), 400 SWA loops (AveragedModel with
the default average, get_swa/ema_avg_fn, get_swa/ema_multi_avg_fn, a custom avg_fn, use_buffers; SWALR cos/linear
with anneal_epochs 0-5, one swa_lr per group, after CosineAnnealingLR/StepLR; update_bn over a DataLoader, a list
of (input, target) and plain tensors, BatchNorm momentum None/float) and 300 EMA-by-hand loops (lerp_, mul_().add_(),
copy_, .data =, sub_, in place on state_dict() values, load_state_dict between two models). All agreed in float64 to
1e-10; the one difference found: a decay given as a Tensor or a bool, which PyTorch's get_ema_avg_fn and
get_ema_multi_avg_fn take, was refused. The loops below keep a few of those cases.
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn as mnn

torch = pytest.importorskip("torch", reason="no torch")
mswa = mnn.optim.swa_utils

pytestmark = pytest.mark.usefixtures("torch_optim_loaded")


def _lib(name: str) -> types.SimpleNamespace:
    if name == "torch":
        import torch.optim.swa_utils as tswa

        return types.SimpleNamespace(T=torch, nn=torch.nn, optim=torch.optim, swa=tswa, amp=torch.amp,
                                     sched=torch.optim.lr_scheduler, tensor=lambda a: torch.from_numpy(np.array(a)))
    return types.SimpleNamespace(T=mg, nn=mnn, optim=mnn.optim, swa=mswa, amp=mg.amp,
                                 sched=mnn.optim.lr_scheduler, tensor=lambda a: mg.tensor(np.array(a)))


def _numpy(x: Any) -> np.ndarray:
    return np.array(x.detach().numpy() if hasattr(x, "detach") else x, dtype=np.float64)


def _close(a: Any, b: Any, where: str) -> None:
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            _close(a[key], b[key], f"{where} {key}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{where}[{i}]")
    else:
        np.testing.assert_allclose(_numpy(a), _numpy(b), rtol=1e-10, atol=1e-12, equal_nan=True, err_msg=where)


def _model(L: Any, seed: int, batch_norm: bool) -> Any:
    rng = np.random.default_rng(seed)
    layers = [L.nn.Linear(3, 4, bias=not batch_norm)] + ([L.nn.BatchNorm1d(4)] if batch_norm else [])
    model = L.nn.Sequential(*layers, L.nn.Tanh(), L.nn.Linear(4, 2)).double()
    model.load_state_dict({k: L.tensor(rng.standard_normal(tuple(v.shape)) if v.is_floating_point() else 0)
                           for k, v in model.state_dict().items()})
    return model


def _amp_loop(L: Any, two_optimizers: bool, bad: dict, clip: bool) -> list:
    """A GradScaler loop: inf/NaN losses (``bad``) skip steps and back the scale off; a resume at step 2."""
    rng = np.random.default_rng(7)
    model = _model(L, 0, batch_norm=False)
    first, second = list(model[0].parameters()), list(model[2].parameters())
    opts = ([L.optim.Adam(first, lr=0.01), L.optim.SGD(second, lr=0.1, momentum=0.9)] if two_optimizers
            else [L.optim.AdamW(first + second, lr=0.01)])
    settings = {"init_scale": 2.0**10, "growth_factor": 3.0, "backoff_factor": 0.25, "growth_interval": 2}
    scaler = L.amp.GradScaler("cpu", **settings)
    records = []
    for step in range(6):
        x, y = L.tensor(rng.standard_normal((5, 3))), L.tensor(rng.standard_normal((5, 2)))
        for opt in opts:
            opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean() * bad.get(step, 1.0)
        scaler.scale(loss).backward()
        if clip:
            for opt in opts:
                scaler.unscale_(opt)
            L.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        for opt in opts:
            scaler.step(opt)
        scaler.update()
        if step == 2:
            state = scaler.state_dict()
            scaler = L.amp.GradScaler("cpu", **settings)
            scaler.load_state_dict(state)
        records.append({"scale": scaler.get_scale(), "state": dict(scaler.state_dict()),
                        "model": {k: _numpy(v) for k, v in model.state_dict().items()}})
    return records


@pytest.mark.parametrize("two_optimizers", [False, True])
@pytest.mark.parametrize("bad,clip", [({1: float("inf"), 3: float("nan")}, False), ({0: float("inf")}, True),
                                      ({4: -float("inf")}, True)])
def test_grad_scaler_loops_follow_torch_step_by_step(two_optimizers: bool, bad: dict, clip: bool) -> None:
    ours, theirs = _amp_loop(_lib("mg"), two_optimizers, bad, clip), _amp_loop(_lib("torch"), two_optimizers, bad, clip)
    for step, (a, b) in enumerate(zip(ours, theirs)):
        _close(a, b, f"step {step}")


def _swa_loop(L: Any, avg: str, use_buffers: bool, strategy: str, anneal_epochs: int) -> list:
    rng = np.random.default_rng(3)
    model = _model(L, 1, batch_norm=True)
    params = list(model.parameters())
    opt = L.optim.SGD([{"params": params[:1]}, {"params": params[1:], "lr": 0.05}], lr=0.1, momentum=0.5)
    make = {"default": dict, "ema": lambda: {"avg_fn": L.swa.get_ema_avg_fn(L.tensor(0.75))},
            "ema_multi": lambda: {"multi_avg_fn": L.swa.get_ema_multi_avg_fn(L.T.tensor(0.9, dtype=L.T.float64))},
            "swa_multi": lambda: {"multi_avg_fn": L.swa.get_swa_multi_avg_fn()}}[avg]
    averaged = L.swa.AveragedModel(model, use_buffers=use_buffers, **make())
    warmup = L.sched.CosineAnnealingLR(opt, T_max=5)
    swa = None
    records = []
    for step in range(6):
        x, y = L.tensor(rng.standard_normal((3, 3))), L.tensor(rng.standard_normal((3, 2)))
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()
        if step >= 2:
            swa = swa or L.swa.SWALR(opt, swa_lr=[0.02, 0.01], anneal_epochs=anneal_epochs,
                                     anneal_strategy=strategy)
            averaged.update_parameters(model)
            swa.step()
        else:
            warmup.step()
        records.append({"lr": [g["lr"] for g in opt.param_groups],
                        "averaged": {k: _numpy(v) for k, v in averaged.state_dict().items()}})
    data = [L.tensor(rng.standard_normal((3, 3))) for _ in range(3)]
    L.swa.update_bn([(d, 0) for d in data], averaged)
    averaged.eval()
    records.append({"averaged": {k: _numpy(v) for k, v in averaged.state_dict().items()},
                    "out": _numpy(averaged(data[0]))})
    return records


@pytest.mark.parametrize("avg,use_buffers,strategy,anneal_epochs", [
    ("default", False, "cos", 2), ("ema", True, "linear", 3), ("ema_multi", False, "cos", 0),
    ("swa_multi", False, "linear", 1)])
def test_swa_loops_follow_torch_step_by_step(avg: str, use_buffers: bool, strategy: str, anneal_epochs: int) -> None:
    ours = _swa_loop(_lib("mg"), avg, use_buffers, strategy, anneal_epochs)
    theirs = _swa_loop(_lib("torch"), avg, use_buffers, strategy, anneal_epochs)
    for step, (a, b) in enumerate(zip(ours, theirs)):
        _close(a, b, f"step {step}")


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64"])
@pytest.mark.parametrize("value", [0.9, 0.3, 1.0])
def test_ema_decay_as_a_tensor_or_a_bool_as_torchs(dtype: str, value: float) -> None:
    """PyTorch takes a decay Tensor (by its value in its dtype: float32 0.9 is 0.89999998) or a bool; minigrad
    refused both (TypeError)."""
    import torch.optim.swa_utils as tswa

    value = float(value >= 0.5) if dtype == "int64" else value
    rng = np.random.default_rng(0)
    start, new = rng.standard_normal(6), rng.standard_normal(6)
    for make, multi in ((mswa.get_ema_avg_fn, False), (mswa.get_ema_multi_avg_fn, True)):
        t_make = getattr(tswa, make.__name__)
        results = []
        for L, build, decay in ((mg, make, mg.tensor(value).to(getattr(mg, dtype))),
                                (torch, t_make, torch.tensor(value).to(getattr(torch, dtype)))):
            averaged, current = L.tensor(start.copy()), L.tensor(new.copy())
            if multi:
                build(decay)([averaged], [current], 1)
            else:
                averaged = build(decay)(averaged, current, 1)
            results.append(_numpy(averaged))
        np.testing.assert_allclose(*results, rtol=1e-15, atol=1e-16, err_msg=f"{make.__name__} {dtype}")
        bools = [_numpy(L_make(True)(L.tensor(start.copy()), L.tensor(new.copy()), 1))
                 for L, L_make in ((mg, mswa.get_ema_avg_fn), (torch, tswa.get_ema_avg_fn))]
        np.testing.assert_array_equal(*bools)


def test_ema_decay_refusals_as_torchs() -> None:
    with pytest.raises(ValueError, match=r"get_ema_avg_fn: invalid decay value 2\.0"):
        mswa.get_ema_avg_fn(mg.tensor(2.0))
    with pytest.raises(TypeError, match="get_ema_multi_avg_fn: decay must be .*0-d Tensor.*got Tensor"):
        mswa.get_ema_multi_avg_fn(mg.tensor([0.5]))   # PyTorch's _foreach_lerp_: TypeError for a 1-d weight
    with pytest.raises(TypeError, match="get_ema_avg_fn: decay must be a number"):
        mswa.get_ema_avg_fn("0.5")
