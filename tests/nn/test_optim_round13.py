"""A 0-d Tensor lr steps and schedules in the Tensor's dtype, as PyTorch's tensor arithmetic does.

torch.tensor(0.01) is float32: torch.optim.Adam computes lr / (1 - beta1^t) as a float32 0-d Tensor (so a
float64 parameter moves by a float32-rounded step size), AdamW's 1 - lr·weight_decay likewise, and a
scheduler's lr·gamma is a float32 product. minigrad read such an lr as a Python float and computed in
float64: float64 parameters drifted from PyTorch's by ~1e-9 after one step, and scheduled lrs differed in
the last float32 bits. LBFGS is the exception: its step lengths meet float64 0-d Tensors first, so PyTorch
runs them in float64, and so do we. Each case below is checked against torch, exactly or to 1e-13.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from nn import optim
from nn.optim import lr_scheduler as mls

torch = pytest.importorskip("torch", reason="no torch")

RNG = np.random.default_rng(13)
INIT = [RNG.standard_normal((3, 4)), RNG.standard_normal(5)]
NOISE = RNG.standard_normal((8, 17))


def _grad(x: np.ndarray, k: int, t: int) -> np.ndarray:
    return np.cos(3 * x) + 0.5 * x + 0.3 * NOISE[t, : x.size].reshape(x.shape) * (k + 1)


OPTIMIZERS = [
    ("Adam", dict(weight_decay=0.1)),
    ("Adam", dict(weight_decay=0.1, decoupled_weight_decay=True, amsgrad=True)),
    ("AdamW", dict(maximize=True)),
    ("Adamax", dict(weight_decay=0.1)),
    ("NAdam", dict(momentum_decay=0.1, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(weight_decay=0.1, decoupled_weight_decay=True)),
    ("Adagrad", dict(lr_decay=0.05, initial_accumulator_value=0.2)),
    ("Adadelta", dict(weight_decay=0.1)),
    ("RMSprop", dict(momentum=0.9, centered=True)),
    ("Rprop", dict()),
    ("ASGD", dict(lambd=0.1, t0=3)),
    ("Adafactor", dict(weight_decay=0.1)),
    ("SGD", dict(momentum=0.9, nesterov=True, weight_decay=0.1)),
]


@pytest.mark.parametrize("lr_dtype", ["float32", "float64"])
def test_a_tensor_lr_steps_as_pytorchs_in_its_dtype(lr_dtype: str) -> None:
    for name, kw in OPTIMIZERS:
        runs = []
        for lib in (torch, mg):
            params = [lib.tensor(a.copy(), dtype=lib.float64, requires_grad=True) for a in INIT]
            cls = getattr(torch.optim if lib is torch else optim, name)
            # a second group with a float lr: only the Tensor's group computes in float32
            opt = cls([{"params": params[:1], "lr": lib.tensor(0.03, dtype=getattr(lib, lr_dtype))},
                       {"params": params[1:], "lr": 0.02}], foreach=False, **kw)
            steps = []
            for t in range(6):
                for k, p in enumerate(params):
                    p.grad = lib.tensor(_grad(p.detach().numpy(), k, t))
                opt.step()
                steps.append([p.detach().numpy().copy() for p in params])
            runs.append(steps)
        for t, (ours, theirs) in enumerate(zip(runs[1], runs[0])):
            for k, (a, b) in enumerate(zip(ours, theirs)):
                np.testing.assert_allclose(a, b, rtol=0, atol=1e-13, err_msg=f"{name} {kw} step {t} param {k}")


def test_lbfgs_with_a_float32_tensor_lr_steps_as_pytorchs() -> None:
    a = RNG.standard_normal((4, 4))
    a = a @ a.T + np.eye(4)
    results = []
    for lib, cls in ((torch, torch.optim.LBFGS), (mg, optim.LBFGS)):
        x = lib.tensor(INIT[1][:4].copy(), dtype=lib.float64, requires_grad=True)
        opt = cls([x], lr=lib.tensor(0.5), max_iter=6, history_size=3)

        def closure(x=x, lib=lib, opt=opt):
            opt.zero_grad()
            v = x.detach().numpy()
            x.grad = lib.tensor(a @ v + 0.4 * v ** 3)
            return lib.tensor(0.5 * v @ a @ v + 0.1 * np.sum(v ** 4))

        results.append([(float(opt.step(closure)), x.detach().numpy().copy()) for _ in range(3)])
    for (ours_loss, ours), (loss, theirs) in zip(results[1], results[0]):
        assert ours_loss == pytest.approx(loss, rel=1e-14)
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-13)


SCHEDULES = [
    lambda s, o: s.ExponentialLR(o, 0.93),
    lambda s, o: s.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=7),
    lambda s, o: s.PolynomialLR(o, total_iters=9, power=0.5),
    lambda s, o: s.CosineAnnealingLR(o, 6, eta_min=0.001),
    lambda s, o: s.CosineAnnealingWarmRestarts(o, 3, T_mult=2, eta_min=0.001),
    lambda s, o: s.LambdaLR(o, lambda e: 1 / (1 + 0.3 * e)),
    lambda s, o: s.MultiplicativeLR(o, lambda e: 0.9),
    lambda s, o: s.MultiStepLR(o, [2, 5], gamma=0.3),
    lambda s, o: s.SequentialLR(o, [s.LinearLR(o, 0.1, total_iters=3), s.ExponentialLR(o, 0.9)], milestones=[4]),
    lambda s, o: s.ChainedScheduler([s.ConstantLR(o, 0.5, total_iters=3), s.ExponentialLR(o, 0.95)]),
]


def test_a_float32_tensor_lr_is_scheduled_in_float32_as_pytorchs() -> None:
    import warnings

    for i, build in enumerate(SCHEDULES):
        lrs = []
        for lib, sched_module, cls in ((torch, torch.optim.lr_scheduler, torch.optim.SGD), (mg, mls, optim.SGD)):
            p = lib.tensor(np.ones(2), requires_grad=True)
            opt = cls([{"params": [p], "lr": lib.tensor(0.1)}], momentum=0.9)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sched = build(sched_module, opt)
                seen = []
                for _ in range(12):
                    opt.step()
                    sched.step()
                    seen.append((opt.param_groups[0]["lr"].item(), float(sched.get_last_lr()[0])))
            lrs.append(seen)
        assert lrs[1] == lrs[0], f"schedule {i}"
