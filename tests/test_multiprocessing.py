"""``minigrad.multiprocessing`` (torch.multiprocessing): Hogwild training and ``spawn``-style workers, each program
run with torch's and minigrad's imports (only the import lines differ), plus how tensors cross a ``Queue``.

* ``HOGWILD`` mirrors pytorch/examples' mnist_hogwild (https://github.com/pytorch/examples/tree/main/mnist_hogwild):
  ``model.share_memory()``, then ``mp.Process(target=train, args=(rank, model, ...))`` workers, each with its own
  SGD optimizer, updating the shared weights in place. Two events make the workers take turns, so the result is
  deterministic: it must equal the same training run in one process, and torch's.
* ``WORKERS`` is the usual ``spawn`` pattern: ``fn(rank, *args)`` workers sending tensors back through a Queue and
  staying alive until the parent took them (the sender passes the memory on demand, in PyTorch as here). It uses
  ``start_processes(start_method="fork")``: ``spawn`` always uses the "spawn" start method, which needs ``fn``
  importable and a fresh interpreter (a second of start-up, over this file's budget).

Every test forks, so each skips where ``os.fork`` is missing.
"""

from __future__ import annotations

import os
import pickle
import sys
from typing import Any

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from tests.test_pytorch_programs import MINIGRAD_IMPORTS, TORCH_IMPORTS, _program, _twin_models

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork() (the 'fork' start method)")

TORCH_IMPORTS_MP = TORCH_IMPORTS + "import torch.multiprocessing as mp\n"
MINIGRAD_IMPORTS_MP = MINIGRAD_IMPORTS + "import minigrad.multiprocessing as mp\n"

HOGWILD = '''
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        return F.log_softmax(self.fc2(F.relu(self.fc1(x))), dim=1)


def make_model():
    return Net()


def train(rank, model, data, target, steps, turns):
    if rank > 0:
        turns[rank - 1].wait()
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
    for step in range(steps):
        optimizer.zero_grad()
        loss = F.nll_loss(model(data[rank]), target[rank])
        loss.backward()
        optimizer.step()
    turns[rank].set()


def hogwild(model, data, target, steps, num_processes=2):
    ctx = mp.get_context("fork")
    model.share_memory()
    turns = [ctx.Event() for _ in range(num_processes)]
    processes = []
    for rank in range(num_processes):
        p = ctx.Process(target=train, args=(rank, model, data, target, steps, turns))
        p.start()
        processes.append(p)
    for p in processes:
        p.join()
    return [p.exitcode for p in processes]


def in_one_process(model, data, target, steps, num_processes=2):
    turns = [mp.Event() for _ in range(num_processes)]
    for rank in range(num_processes):
        train(rank, model, data, target, steps, turns)
'''

WORKERS = '''
def work(rank, results, done):
    x = torch.arange(6, dtype=torch.float32).reshape(2, 3).contiguous() * (rank + 1)
    out = torch.zeros(2, 3)
    out.copy_(x.pow(2).sum(dim=0, keepdim=True))
    results.put((rank, out, out.sum().item()))
    done.wait()


def run_workers(nprocs):
    ctx = mp.get_context("fork")
    results, done = ctx.Queue(), ctx.Event()
    context = mp.start_processes(work, args=(results, done), nprocs=nprocs, join=False, start_method="fork")
    got = sorted((results.get(timeout=30) for _ in range(nprocs)), key=lambda r: r[0])
    done.set()
    while not context.join():
        pass
    return got, [p.exitcode for p in context.processes]
'''


def test_the_programs_differ_only_in_their_imports() -> None:
    for source in (HOGWILD, WORKERS):
        assert "import" not in source and "minigrad" not in source


@pytest.fixture
def torch_optim_loaded(torch: Any) -> Any:
    """torch, its one-time optimizer imports (torch._dynamo) done here, in setup, not in each forked worker; and one
    intra-op thread while the test forks: a forked child whose parent has run torch's OpenMP pool can hang in its
    first parallel op (libgomp is not fork-safe; seen once in the full suite, a child stuck in log_softmax)."""
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)


def test_hogwild_two_forked_workers_train_the_shared_model(torch_optim_loaded: Any) -> None:
    rng = np.random.default_rng(0)
    data_np, target_np = rng.standard_normal((2, 5, 4)).astype(np.float32), rng.integers(0, 3, (2, 5))
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(
        HOGWILD, imports=(TORCH_IMPORTS_MP, MINIGRAD_IMPORTS_MP))
    sequential = mg_program["make_model"]()
    sequential.load_state_dict(initial)
    weights = []
    for program, model in ((torch_program, torch_model), (mg_program, mg_model), (mg_program, sequential)):
        lib = program["torch"]
        data, target = lib.tensor(data_np), lib.tensor(target_np)
        if model is sequential:
            program["in_one_process"](model, data, target, 3)
        else:
            assert program["hogwild"](model, data, target, 3) == [0, 0]
            assert all(p.is_shared() for p in model.parameters())
        weights.append({k: v.detach().numpy().copy() for k, v in model.state_dict().items()})
    for name, value in initial.items():
        assert not np.allclose(weights[1][name], value.numpy()), f"{name}: the workers' updates did not reach it"
        np.testing.assert_allclose(weights[1][name], weights[2][name], rtol=1e-6, atol=1e-7, err_msg=name)
        np.testing.assert_allclose(weights[1][name], weights[0][name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_workers_send_tensors_through_a_queue(torch: Any) -> None:
    outcomes = []
    for imports in (TORCH_IMPORTS_MP, MINIGRAD_IMPORTS_MP):
        program = _program(WORKERS, imports)
        got, exitcodes = program["run_workers"](2)
        assert exitcodes == [0, 0] and [rank for rank, _, _ in got] == [0, 1]
        outcomes.append([(t.numpy().copy(), total) for _, t, total in got])
        assert all(t.is_shared() for _, t, _ in got)   # it came as shared memory
    for (theirs, their_total), (ours, our_total) in zip(*outcomes):
        np.testing.assert_array_equal(ours, theirs)
        assert our_total == their_total


def _raise(rank: int, message: str) -> None:
    if rank == 1:
        raise ValueError(message)


def _exit(rank: int, code: int) -> None:
    os._exit(code if rank == 0 else 0)


@pytest.mark.parametrize("lib_name", ["torch", "minigrad"])
def test_start_processes_reports_a_failed_worker_as_torch(lib_name: str, torch: Any) -> None:
    mp = torch.multiprocessing if lib_name == "torch" else mg.multiprocessing
    with pytest.raises(mp.ProcessRaisedException) as raised:
        mp.start_processes(_raise, args=("bad rank",), nprocs=2, start_method="fork")
    assert raised.value.error_index == 1 and isinstance(raised.value.error_pid, int)
    assert "-- Process 1 terminated with the following error:" in str(raised.value)
    assert "ValueError: bad rank" in str(raised.value)
    with pytest.raises(mp.ProcessExitedException, match="process 0 terminated with exit code 3") as exited:
        mp.start_processes(_exit, args=(3,), nprocs=2, start_method="fork")
    assert exited.value.exit_code == 3 and exited.value.error_index == 0


def test_spawn_always_uses_the_spawn_start_method(monkeypatch: pytest.MonkeyPatch) -> None:
    spawn_module = sys.modules["minigrad.multiprocessing.spawn"]   # the attribute `spawn` is the function
    calls = []
    monkeypatch.setattr(spawn_module, "start_processes", lambda *args, **kwargs: calls.append((args, kwargs)))
    with pytest.warns(FutureWarning, match="only supports start_method=spawn"):
        mg.multiprocessing.spawn(_raise, args=("x",), nprocs=2, start_method="fork")
    assert calls == [((_raise, ("x",), 2, True, False), {"start_method": "spawn"})]


def _fill_what_comes(queue: Any, done: Any) -> None:
    for value in (10.0, 2.0):
        tensor = queue.get(timeout=30)
        with mg.no_grad():
            tensor.fill_(value)
    done.set()


def test_a_tensor_shared_through_a_queue_is_the_same_memory() -> None:
    """Shared after the fork, so only the descriptor the Queue passed can explain the child's writes showing
    here: a plain tensor moves into shared memory in place (as PyTorch's storage), a Parameter stays one."""
    ctx = mg.multiprocessing.get_context("fork")
    queue, done = ctx.Queue(), ctx.Event()
    process = ctx.Process(target=_fill_what_comes, args=(queue, done))
    process.start()
    plain, param = mg.zeros(2, 3, dtype=mg.float64), nn.Parameter(mg.ones(3))
    queue.put(plain)
    queue.put(param)
    assert done.wait(timeout=30)
    process.join(timeout=30)
    assert process.exitcode == 0 and plain.is_shared() and param.is_shared()
    np.testing.assert_array_equal(plain.numpy(), np.full((2, 3), 10.0))
    np.testing.assert_array_equal(param.detach().numpy(), np.full(3, 2.0))


def test_what_crosses_and_what_refuses() -> None:
    from multiprocessing.reduction import ForkingPickler  # noqa: PLC0415

    param = nn.Parameter(mg.arange(6.0).reshape(2, 3).contiguous())
    param.grad = mg.ones(2, 3)
    back = pickle.loads(ForkingPickler.dumps(param))   # noqa: S301 - our own bytes, this process
    assert type(back) is type(param) and back.requires_grad and back.grad is None   # torch's rule: no grad
    with mg.no_grad():
        back[0, 0] = 7.0
    assert param.is_shared() and param.detach().numpy()[0, 0] == 7.0
    column = param.detach()[:, 1]   # a strided view of shared memory crosses as that view
    back = pickle.loads(ForkingPickler.dumps(column))   # noqa: S301
    np.testing.assert_array_equal(back.numpy(), [1.0, 4.0])
    with pytest.raises(RuntimeError, match="non-leaf tensor which requires_grad"):
        ForkingPickler.dumps(param * 2)
    copied = pickle.loads(pickle.dumps(param))   # noqa: S301 - plain pickle still copies the numbers
    assert not copied.is_shared()


def test_the_namespace_and_sharing_strategies(torch: Any) -> None:
    mp = mg.multiprocessing
    assert mg.multiprocessing is __import__("minigrad.multiprocessing").multiprocessing
    for name in ("Process", "Queue", "SimpleQueue", "Pool", "Manager", "Event", "Lock", "Value", "Array",
                 "get_context", "set_start_method", "get_start_method", "get_all_start_methods", "cpu_count",
                 "current_process", "spawn", "start_processes", "ProcessContext"):
        assert hasattr(mp, name) and hasattr(torch.multiprocessing, name), name
    assert set(torch.multiprocessing.get_all_sharing_strategies()) <= mp.get_all_sharing_strategies()
    before = mp.get_sharing_strategy()
    mp.set_sharing_strategy("file_system")
    assert mp.get_sharing_strategy() == "file_system"
    mp.set_sharing_strategy(before)
    with pytest.raises(AssertionError, match="invalid sharing strategy"):
        mp.set_sharing_strategy("cuda_ipc")
