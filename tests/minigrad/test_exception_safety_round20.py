"""Round 20 (exception safety): what a failure inside user code leaves behind, checked against live PyTorch.

Found by the differential fuzzer /tmp/fuzz20_exceptions.py (random programs with an exception injected in a hook,
a custom Function, a module hook, a closure, a collate_fn, a context manager …; after the failure it compares the
global state and a fixed follow-up program with torch's).
"""

import warnings
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn as mnn


class Boom(Exception):
    """The user's own exception: it must come out of the library unchanged (the same object)."""


def _leaf_grads_after_a_failing_backward(lib: Any, case: str, create_graph: bool) -> list:
    """Backward through ``(tanh(exp(a*b) + c) * a).sum() + (b*c).sum()`` where ``case`` raises midway; the
    leaves' ``.grad`` afterwards (the error must be the user's object)."""
    a = lib.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    b = lib.tensor(np.array([1.5, 0.25, -0.5]), requires_grad=True)
    c = lib.tensor(np.array([0.3]), requires_grad=True)
    error = Boom("user")

    def raise_(*_: Any) -> None:
        raise error

    class Twice(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            return x * 2

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            raise error

    h1 = Twice.apply(a) * b if case == "function_backward" else a * b
    h2 = (h1.exp() + c).tanh()
    loss = (h2 * a).sum() + (b * c).sum()
    if case == "node_hook":
        h1.grad_fn.register_hook(raise_)
    elif case == "node_prehook":
        h1.grad_fn.register_prehook(raise_)
    elif case == "tensor_hook":
        h1.register_hook(raise_)
    with pytest.raises(Boom) as info, warnings.catch_warnings():
        warnings.simplefilter("ignore")   # create_graph's reference-cycle warning
        loss.backward(create_graph=create_graph)
    assert info.value is error
    return [None if t.grad is None else t.grad.detach().numpy().tolist() for t in (a, b, c)]


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("case", ["node_hook", "node_prehook", "tensor_hook", "function_backward"])
def test_a_backward_that_raises_keeps_the_gradients_of_the_finished_leaves_as_pytorch(case: str, create_graph: bool,
                                                                                      torch: Any) -> None:
    """A node that raised (its hook, its backward): PyTorch has already added the gradient of each leaf whose every
    consumer ran before it (c here, through b*c and the add); minigrad changed no .grad at all, so a retry or the
    next step's backward summed differently from PyTorch's (c.grad once where PyTorch has it twice)."""
    ours = _leaf_grads_after_a_failing_backward(mg, case, create_graph)
    theirs = _leaf_grads_after_a_failing_backward(torch, case, create_graph)
    assert [g is None for g in ours] == [g is None for g in theirs]
    for mine, expected in zip(ours, theirs):
        if expected is not None:
            np.testing.assert_allclose(mine, expected, rtol=1e-12)


def _module_grads_after_a_failing_backward_hook(lib: Any, nn_lib: Any) -> list:
    """A full backward hook on the first Linear raises; then one good backward: every parameter's .grad."""
    lib.manual_seed(0)
    model = nn_lib.Sequential(nn_lib.Linear(3, 4), nn_lib.Tanh(), nn_lib.Linear(4, 2))
    with lib.no_grad():
        for i, p in enumerate(model.parameters()):
            p.copy_(lib.tensor(np.linspace(-1, 1, p.numel()).reshape(tuple(p.shape)) * (i + 1) / 3,
                               dtype=lib.float32))
    x = lib.tensor([[0.2, -0.5, 0.9]], requires_grad=True)

    def raise_(*_: Any) -> None:
        raise Boom("hook")
    handle = model[0].register_full_backward_hook(raise_)
    with pytest.raises(Boom):
        model(x).sum().backward()
    handle.remove()
    model(x).sum().backward()
    return [None if p.grad is None else p.grad.numpy() for p in model.parameters()]


def test_a_module_backward_hook_that_raises_leaves_the_later_layers_grads_as_pytorch(torch: Any) -> None:
    """The last Linear's gradients were complete when the first one's hook raised: PyTorch keeps them, so the
    next backward doubles them; minigrad had dropped them (half PyTorch's .grad after the retry)."""
    ours = _module_grads_after_a_failing_backward_hook(mg, mnn)
    theirs = _module_grads_after_a_failing_backward_hook(torch, torch.nn)
    for mine, expected in zip(ours, theirs):
        np.testing.assert_allclose(mine, expected, rtol=1e-5, atol=1e-7)


def _loader_events(lib: Any, num_workers: int, failing: str, iterable: bool) -> list:
    """next() over a DataLoader of 8 samples in batches of 2 whose ``failing`` part (the dataset, the collate_fn)
    raises at sample 2: each batch, or (class, whether it is the user's object) of what next() raised."""
    error = Boom("bad sample")

    class Samples(lib.utils.data.Dataset):
        def __len__(self) -> int:
            return 8

        def __getitem__(self, i: int) -> Any:
            if failing == "dataset" and i == 2:
                raise error
            return lib.tensor([float(i)])

    class Stream(lib.utils.data.IterableDataset):
        def __iter__(self) -> Any:
            for i in range(8):
                if failing == "dataset" and i == 2:
                    raise error
                yield lib.tensor([float(i)])

    def collate(batch: list) -> Any:
        if failing == "collate" and float(batch[0][0]) == 2:
            raise error
        return lib.stack(batch)
    loader = lib.utils.data.DataLoader(Stream() if iterable else Samples(), batch_size=2, collate_fn=collate,
                                       num_workers=num_workers)
    events: list = []
    batches = iter(loader)
    for _ in range(10):
        try:
            events.append(next(batches).flatten().tolist())
        except StopIteration:
            events.append("end")
            break
        except Boom as raised:
            events.append(("raised", raised is error))   # with workers, PyTorch re-raises a copy (ExceptionWrapper)
    return events


@pytest.mark.parametrize("iterable", [False, True])
@pytest.mark.parametrize("failing", ["dataset", "collate"])
@pytest.mark.parametrize("num_workers", [0, 2])
def test_a_dataloader_iterator_goes_on_after_a_batch_that_raised_as_pytorch(num_workers: int, failing: str,
                                                                            iterable: bool, torch: Any) -> None:
    """PyTorch's iterator raises the batch's error at that next() and gives the following batches after it (a
    stream whose generator raised ends, as a dead generator does); minigrad's pass was a generator that the error
    ended, so every later next() raised StopIteration and the rest of the epoch was silently skipped."""
    assert _loader_events(mg, num_workers, failing, iterable) == _loader_events(torch, num_workers, failing, iterable)


def _leaf_hooks_run(lib: Any, kind: str, raising: str, create_graph: bool) -> tuple:
    """Hooks of ``kind`` (tensor hooks / post-accumulate-grad hooks) on the three leaves of the graph above, the one
    on ``raising`` raising (or none): the order they ran in with which leaves had a .grad then, and the .grads."""
    a = lib.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    b = lib.tensor(np.array([1.5, 0.25, -0.5]), requires_grad=True)
    c = lib.tensor(np.array([0.3]), requires_grad=True)
    log: list = []
    error = Boom("leaf hook")

    def hook(name: str) -> Any:
        def run(_: Any) -> None:
            log.append((name, [t.grad is not None for t in (a, b, c)]))
            if name == raising:
                raise error
        return run
    for name, leaf in zip("abc", (a, b, c)):
        if kind == "post":
            leaf.register_post_accumulate_grad_hook(hook(name))
        else:
            leaf.register_hook(hook(name))
    loss = ((a * b).exp() + c).tanh().mul(a).sum() + (b * c).sum()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # create_graph's reference-cycle warning
            loss.backward(create_graph=create_graph)
    except Boom as raised:
        assert raised is error
    return log, [None if t.grad is None else t.grad.detach().numpy().tolist() for t in (a, b, c)]


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("raising", ["", "a", "b", "c"])
@pytest.mark.parametrize("kind", ["tensor", "post"])
def test_leaf_hooks_run_leaf_by_leaf_in_the_order_the_leaves_are_complete_as_pytorch(kind: str, raising: str,
                                                                                     create_graph: bool,
                                                                                     torch: Any) -> None:
    """PyTorch runs each leaf's AccumulateGrad (its hooks, the addition into .grad, its post-accumulate hooks) as
    soon as the leaf's last consumer ran: here c, then a, then b, and a post hook of a sees c.grad but not b.grad.
    minigrad ran every leaf's hooks first (in the order the leaves got their first gradient: b, c, a), then every
    addition, then every post hook: another order, hooks seeing other .grads, and a raising hook left no .grad at
    all (or all of them, for a post hook) where PyTorch keeps the leaves done before it."""
    ours = _leaf_hooks_run(mg, kind, raising, create_graph)
    theirs = _leaf_hooks_run(torch, kind, raising, create_graph)
    assert ours[0] == theirs[0]
    assert [g is None for g in ours[1]] == [g is None for g in theirs[1]]
    for mine, expected in zip(*(ours[1], theirs[1])):
        if expected is not None:
            np.testing.assert_allclose(mine, expected, rtol=1e-12)
