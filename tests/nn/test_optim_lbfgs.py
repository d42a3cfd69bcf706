"""nn.optim.LBFGS: whole trajectories equal torch.optim.LBFGS's (float64), with and without strong Wolfe."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn
from nn import optim
from nn.optim.line_search import cubic_minimizer

RNG = np.random.default_rng(5)
M = RNG.standard_normal((6, 6))
A = M @ M.T + 0.5 * np.eye(6)
B = RNG.standard_normal((6, 1))
X_SEQ = RNG.standard_normal((5, 4, 2))     # (T, B, I) for the LSTM regression
Y_SEQ = RNG.standard_normal((4, 1))


def quadratic(lib, params):
    """½xᵀAx - bᵀx with x (6, 1) assembled from a (2, 3) and a (3,) parameter (flattening is exercised)."""
    first, second = params
    if lib is mg:
        x = mg.concat([first.reshape(6, 1)[:3], second.reshape(3, 1)], axis=0)
        return 0.5 * (x * (mg.tensor(A) @ x)).sum() - (mg.tensor(B) * x).sum()
    x = lib.cat([first.reshape(6, 1)[:3], second.reshape(3, 1)])
    return 0.5 * (x * (lib.from_numpy(A) @ x)).sum() - (lib.from_numpy(B) * x).sum()


def rosenbrock(lib, params):
    (x,) = params
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


PROBLEMS = {
    "quadratic": (quadratic, lambda: [RNG.standard_normal((2, 3)), RNG.standard_normal(3)]),
    "rosenbrock": (rosenbrock, lambda: [np.array([-1.5, 2.0])]),
}

SETTINGS = [
    dict(),
    dict(line_search_fn="strong_wolfe"),
    dict(lr=0.1, max_iter=5, history_size=3),
    dict(line_search_fn="strong_wolfe", history_size=2, max_iter=7),
    dict(line_search_fn="strong_wolfe", max_iter=4, max_eval=6, tolerance_change=1e-5),
]


def follow_torch(torch, objective, start, kwargs, steps, rtol):
    """Run both optimizers step by step; after each step the loss, parameters and counters agree."""
    ours = [mg.tensor(a.copy(), requires_grad=True) for a in start]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in start]
    opt, t_opt = optim.LBFGS(ours, **kwargs), torch.optim.LBFGS(theirs, **kwargs)

    def closure():
        opt.zero_grad()
        loss = objective(mg, ours)
        loss.backward()
        return loss

    def t_closure():
        t_opt.zero_grad()
        loss = objective(torch, theirs)
        loss.backward()
        return loss

    for step in range(steps):
        loss, t_loss = opt.step(closure), t_opt.step(t_closure)
        np.testing.assert_allclose(loss.item(), t_loss.item(), rtol=rtol, err_msg=f"loss at step {step}")
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=rtol, atol=1e-12,
                                       err_msg=f"parameters after step {step}")
        state, t_state = opt.state[ours[0]], t_opt.state[theirs[0]]
        assert (state["func_evals"], state["n_iter"]) == (t_state["func_evals"], t_state["n_iter"]), step
        assert len(state.get("old_dirs", [])) == len(t_state.get("old_dirs", []))
    return opt, ours


@pytest.mark.parametrize("kwargs", SETTINGS, ids=[str(i) for i in range(len(SETTINGS))])
def test_quadratic_trajectory_equals_torch(torch, kwargs) -> None:
    follow_torch(torch, quadratic, PROBLEMS["quadratic"][1](), kwargs, steps=5, rtol=1e-9)


@pytest.mark.parametrize("kwargs,steps", [(SETTINGS[0], 2), (SETTINGS[1], 6), (SETTINGS[2], 4), (SETTINGS[3], 5),
                                          (SETTINGS[4], 5)], ids=[str(i) for i in range(len(SETTINGS))])
def test_rosenbrock_trajectory_equals_torch(torch, kwargs, steps) -> None:
    # Rosenbrock without a line search overshoots wildly after a few steps, where the last bits of
    # the two libraries' arithmetic start to matter; the steps compared stop before that.
    opt, (x,) = follow_torch(torch, rosenbrock, PROBLEMS["rosenbrock"][1](), kwargs, steps, rtol=1e-7)
    if kwargs.get("line_search_fn") == "strong_wolfe" and steps == 6:
        np.testing.assert_allclose(x.numpy(), [1.0, 1.0], atol=1e-4)   # and it does find the minimum


class Regressor(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(2, 3, dtype=mg.float64)
        self.head = nn.Linear(3, 1, dtype=mg.float64)

    def forward(self, x: mg.Tensor) -> mg.Tensor:
        output, _ = self.lstm(x)
        return self.head(output[-1])


@pytest.mark.parametrize("kwargs", [dict(max_iter=5), dict(line_search_fn="strong_wolfe", max_iter=5,
                                                           history_size=4)])
def test_lstm_regression_trajectory_equals_torch(torch, kwargs) -> None:
    model = Regressor()
    t_lstm, t_head = torch.nn.LSTM(2, 3).double(), torch.nn.Linear(3, 1).double()
    t_params = list(t_lstm.parameters()) + list(t_head.parameters())
    with torch.no_grad():
        for ours, theirs in zip(model.parameters(), t_params):
            theirs.copy_(torch.from_numpy(ours.numpy()))
    opt, t_opt = optim.LBFGS(model.parameters(), **kwargs), torch.optim.LBFGS(t_params, **kwargs)
    x, y = mg.tensor(X_SEQ), mg.tensor(Y_SEQ)

    def closure():
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        return loss

    def t_closure():
        t_opt.zero_grad()
        loss = torch.nn.functional.mse_loss(t_head(t_lstm(torch.from_numpy(X_SEQ))[0][-1]), torch.from_numpy(Y_SEQ))
        loss.backward()
        return loss

    losses = []
    for step in range(4):
        loss, t_loss = opt.step(closure), t_opt.step(t_closure)
        losses.append(loss.item())
        np.testing.assert_allclose(loss.item(), t_loss.item(), rtol=1e-8, err_msg=f"step {step}")
        for ours, theirs in zip(model.parameters(), t_params):
            np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-7, atol=1e-10)
    assert closure().item() < losses[0] / 2       # it learns


def test_cubic_minimizer_is_exact_on_a_cubic() -> None:
    # φ(t) = (t - 2)² (t + 1) has its local minimum at t = 2; two points with slopes determine it
    phi = lambda t: (t - 2) ** 2 * (t + 1)        # noqa: E731
    slope = lambda t: 2 * (t - 2) * (t + 1) + (t - 2) ** 2   # noqa: E731
    assert cubic_minimizer(0.5, phi(0.5), slope(0.5), 3.0, phi(3.0), slope(3.0)) == pytest.approx(2.0)
    assert cubic_minimizer(3.0, phi(3.0), slope(3.0), 0.5, phi(0.5), slope(0.5)) == pytest.approx(2.0)
    assert cubic_minimizer(0.5, phi(0.5), slope(0.5), 3.0, phi(3.0), slope(3.0), bounds=(0.0, 1.5)) == 1.5
    # no real minimiser (the cubic through these has no turning point): the middle of the bounds
    assert cubic_minimizer(0.0, 0.0, 1.0, 1.0, 2 / 3, 1.0) == 0.5


def test_state_dict_round_trip_resumes_exactly(tmp_path) -> None:
    def make():
        x = mg.tensor([-1.2, 1.0], dtype=mg.float64, requires_grad=True)
        opt = optim.LBFGS([x], line_search_fn="strong_wolfe", max_iter=3, history_size=4)

        def closure():
            opt.zero_grad()
            loss = rosenbrock(mg, [x])
            loss.backward()
            return loss
        return x, opt, closure

    x, opt, closure = make()
    y, other, other_closure = make()
    for _ in range(2):
        opt.step(closure)
        other.step(other_closure)
    nn.save(other.state_dict(), tmp_path / "lbfgs.npz")
    z, fresh, fresh_closure = make()
    z.data[...] = y.data
    fresh.load_state_dict(nn.load(tmp_path / "lbfgs.npz"))
    for _ in range(3):
        opt.step(closure)
        fresh.step(fresh_closure)
    np.testing.assert_array_equal(x.numpy(), z.numpy())
    assert fresh.state[z]["n_iter"] == opt.state[x]["n_iter"]


def test_a_failing_closure_leaves_parameters_and_state_unchanged() -> None:
    x = mg.tensor([-1.2, 1.0], dtype=mg.float64, requires_grad=True)
    opt = optim.LBFGS([x], line_search_fn="strong_wolfe", max_iter=2)
    calls, fail_at = [], [None]

    def closure():
        calls.append(1)
        if len(calls) == fail_at[0]:
            raise RuntimeError("data loader broke")
        opt.zero_grad()
        loss = rosenbrock(mg, [x])
        loss.backward()
        return loss

    opt.step(closure)
    before, state = x.numpy().copy(), opt.state_dict()
    fail_at[0] = len(calls) + 2             # inside the line search of the next step, parameters moved
    with pytest.raises(RuntimeError, match="data loader broke"):
        opt.step(closure)
    np.testing.assert_array_equal(x.numpy(), before)
    after = opt.state_dict()
    assert after["state"][0]["n_iter"] == state["state"][0]["n_iter"]
    assert after["state"][0]["func_evals"] == state["state"][0]["func_evals"]
    np.testing.assert_array_equal(after["state"][0]["d"].numpy(), state["state"][0]["d"].numpy())
    opt.step(closure)                       # and it carries on
    assert opt.state[x]["n_iter"] == state["state"][0]["n_iter"] + 1   # max_eval = 2 stops it after one


def test_argument_errors() -> None:
    x, y = mg.zeros(2, requires_grad=True), mg.zeros(3, requires_grad=True)
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [x]}, {"params": [y]}])
    with pytest.raises(ValueError, match="line_search_fn='backtracking'"):
        optim.LBFGS([x], line_search_fn="backtracking")
    with pytest.raises(ValueError, match="max_iter=0"):
        optim.LBFGS([x], max_iter=0)
    with pytest.raises(TypeError, match="needs a closure"):
        optim.LBFGS([x]).step()
    assert optim.LBFGS([x], max_iter=8).param_groups[0]["max_eval"] == 10   # max_iter * 5 // 4, as PyTorch


@pytest.mark.gpu
@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_on_the_gpu_same_trajectory_as_on_the_cpu(line_search_fn) -> None:
    start = PROBLEMS["quadratic"][1]()
    runs = {}
    for device in ("cpu", "cuda"):
        params = [mg.tensor(a.copy(), requires_grad=True, device=device) for a in start]
        opt = optim.LBFGS(params, line_search_fn=line_search_fn, max_iter=6)
        diagonal, vector = mg.tensor(np.diag(A)[:6], device=device), mg.tensor(B[:6, 0], device=device)

        def closure(params=params, opt=opt, diagonal=diagonal, vector=vector):
            # a coupled quadratic without matmul: ½Σ a_i x_i² + 0.3 Σ x_i x_{i+1} - bᵀx
            opt.zero_grad()
            x = mg.concat([params[0].reshape(6)[:3], params[1]], axis=0)
            loss = 0.5 * (diagonal * x * x).sum() + 0.3 * (x[:-1] * x[1:]).sum() - (vector * x).sum()
            loss.backward()
            return loss

        for _ in range(3):
            opt.step(closure)
        assert opt.state[params[0]]["d"].__class__ is params[0].data.__class__   # state lives on the device
        runs[device] = [p.numpy() for p in params]
    for a, b in zip(runs["cpu"], runs["cuda"]):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_a_torch_lbfgs_state_loads_and_continues_as_torch(torch) -> None:
    start = PROBLEMS["quadratic"][1]()
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in start]
    t_opt = torch.optim.LBFGS(theirs, line_search_fn="strong_wolfe", max_iter=3, history_size=5)

    def t_closure():
        t_opt.zero_grad()
        loss = quadratic(torch, theirs)
        loss.backward()
        return loss

    t_opt.step(t_closure)
    t_opt.step(t_closure)

    def numpy_of(value):
        if isinstance(value, list):
            return [numpy_of(v) for v in value]
        return value.detach().numpy() if hasattr(value, "detach") else value

    converted = t_opt.state_dict()
    converted["state"] = {i: {k: numpy_of(v) for k, v in entries.items()} for i, entries in converted["state"].items()}
    ours = [mg.tensor(t.detach().numpy().copy(), requires_grad=True) for t in theirs]
    opt = optim.LBFGS(ours)
    opt.load_state_dict(converted)

    def closure():
        opt.zero_grad()
        loss = quadratic(mg, ours)
        loss.backward()
        return loss

    for _ in range(2):
        opt.step(closure)
        t_opt.step(t_closure)
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-9, atol=1e-12)
