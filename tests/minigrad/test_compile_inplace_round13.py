"""mg.compile replays in-place writes: a train-mode BatchNorm's running statistics and ``inplace=True`` activations
give eager's values, gradients, buffers and version counters bit for bit, and what a replay cannot do runs eagerly."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import minigrad as mg
import nn
from minigrad.compile import CompileWarning


def _model(seed: int, dtype: object = None) -> nn.Module:
    mg.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(inplace=True), nn.Flatten(),
                          nn.Linear(64, 6), nn.BatchNorm1d(6, momentum=0.3), nn.LeakyReLU(0.1, inplace=True),
                          nn.Linear(6, 2), nn.Hardtanh(inplace=True))
    return model if dtype is None else model.to(dtype)


def _state(model: nn.Module) -> list:
    return [(n, b.data.copy(), b._version) for n, b in model.named_buffers()]


def test_batchnorm_train_and_inplace_activations_replay_bit_identical() -> None:
    eager, model = _model(0), _model(0)
    compiled = mg.compile(model)
    opt_e, opt_c = nn.optim.SGD(eager.parameters(), lr=0.1), nn.optim.SGD(model.parameters(), lr=0.1)
    rng = np.random.default_rng(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        for step in range(7):
            x = mg.tensor(rng.standard_normal((5, 3, 6, 6)).astype(np.float32))
            ye, yc = eager(x), compiled(x)
            assert np.array_equal(ye.data, yc.data), step
            ye.square().sum().backward()
            yc.square().sum().backward()
            for (name, a), (_, b) in zip(eager.named_parameters(), model.named_parameters()):
                assert np.array_equal(a.grad.data, b.grad.data), (step, name)
            for (name, a, va), (_, b, vb) in zip(_state(eager), _state(model)):
                assert np.array_equal(a, b) and va == vb, (step, name, va, vb)
            opt_e.step(), opt_c.step(), opt_e.zero_grad(), opt_c.zero_grad()
        program = next(iter(compiled.programs.values()))
        assert program.verified and not compiled.eager and len(compiled.programs) == 1   # replayed, not eager
        assert int(model[1].num_batches_tracked.item()) == 7
        # eval: captured again (the mode is part of the signature), the running statistics read, not written
        eager.eval(), model.eval()
        with mg.no_grad():   # the activations write into the computed tensors, not recorded
            for _ in range(3):
                x = mg.tensor(rng.standard_normal((2, 3, 6, 6)).astype(np.float32))
                assert np.array_equal(eager(x).data, compiled(x).data)
    for (name, a, va), (_, b, vb) in zip(_state(eager), _state(model)):
        assert np.array_equal(a, b) and va == vb, name


def test_batchnorm_running_stats_match_torch(torch: object) -> None:
    bn = nn.BatchNorm1d(3, momentum=0.2).double()
    tbn = torch.nn.BatchNorm1d(3, momentum=0.2).double()
    step = mg.compile(lambda x: bn(x).relu_())
    rng = np.random.default_rng(2)
    for _ in range(5):
        x = rng.standard_normal((8, 3))
        y = step(mg.tensor(x, requires_grad=True))
        ty = torch.relu_(tbn(torch.tensor(x, requires_grad=True)))
        np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bn.running_mean.data, tbn.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.data, tbn.running_var.numpy(), rtol=1e-12)
    assert int(bn.num_batches_tracked.item()) == int(tbn.num_batches_tracked) == 5
    assert len(step.programs) == 1 and not step.eager


def test_version_counter_of_a_written_buffer_is_seen_outside() -> None:
    bn = nn.BatchNorm1d(3)
    w = mg.ones(3, requires_grad=True)
    compiled = mg.compile(bn)
    rng = np.random.default_rng(3)
    for _ in range(4):   # capture, checks, replays
        compiled(mg.tensor(rng.standard_normal((4, 3)).astype(np.float32)))
    saved = w * bn.running_mean   # saves the buffer; the replay below writes it
    before = bn.running_mean._version
    compiled(mg.tensor(rng.standard_normal((4, 3)).astype(np.float32)))
    assert bn.running_mean._version == before + 1   # one copy_, as eager (PyTorch's kernel writes it without a bump)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        saved.sum().backward()


def test_what_a_replay_cannot_do_runs_eagerly_and_raises_as_eager() -> None:
    w = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    buf = mg.zeros(3)

    def saved_then_written(x: mg.Tensor) -> mg.Tensor:
        y = (x * w).sigmoid()
        y.mul_(2.0)   # sigmoid saved y: eager's backward raises
        return y

    def buffer_saved_then_written(x: mg.Tensor) -> mg.Tensor:
        y = w * buf * x
        with mg.no_grad():
            buf.add_(1.0)
        return y

    def view_then_written(x: mg.Tensor) -> mg.Tensor:
        h = x * w
        with mg.no_grad():
            v = h[0:2]   # a view made under no_grad: sees the write in eager mode
        h.relu_()
        return h * 1.0, v * 1.0

    x = mg.tensor([-1.0, 0.5, 2.0])
    for fn in (saved_then_written, buffer_saved_then_written):
        compiled = mg.compile(fn)
        with pytest.warns(CompileWarning, match="in place"):
            y = compiled(x)
        for _ in range(2):   # eager for this signature from now on, without warning again
            with pytest.raises(RuntimeError, match="modified by an inplace operation"):
                y.sum().backward()
            y = compiled(x)
        assert compiled.eager and not compiled.programs
    compiled = mg.compile(view_then_written)
    for _ in range(3):
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            got = compiled(x)
        want = view_then_written(x)
        assert all(np.array_equal(a.data, b.data) for a, b in zip(got, want))
    assert compiled.eager and not compiled.programs
    # an argument that requires grad written in place while recording: the caller's graph changes, eager
    compiled = mg.compile(lambda t: nn.functional.relu(t, inplace=True))
    with pytest.warns(CompileWarning, match="argument"):
        compiled(x * w)


def test_write_undone_when_a_replay_captures_again() -> None:
    count = mg.zeros((), dtype=mg.int64)
    total = mg.zeros(())

    def fn(x: mg.Tensor) -> mg.Tensor:
        with mg.no_grad():
            count.add_(1)
            total.add_(x.sum())
        return x[x > 0] * 2.0   # a data-dependent shape: another count of positives captures again

    compiled = mg.compile(fn)
    values = [[1.0, -1.0, 2.0], [3.0, 4.0, -5.0], [1.0, 2.0, 3.0], [-1.0, -2.0, 3.0], [2.0, 2.0, -2.0]]
    for v in values:
        assert np.array_equal(compiled(mg.tensor(v)).data, fn(mg.tensor(v)).data)
    assert int(count.item()) == 2 * len(values)   # compiled and eager: once each per call
    assert float(total.item()) == 2 * sum(map(sum, values))


def test_gradients_through_inplace_activation_with_gradcheck() -> None:
    w = mg.tensor(np.random.default_rng(4).standard_normal((3, 3)), requires_grad=True)

    def fn(x: mg.Tensor) -> mg.Tensor:
        h = x @ w
        h.mul_(0.5)
        h.relu_()   # saves its output: an elu_ on h itself would make backward raise, as torch's
        g = h + 0.25
        nn.functional.elu_(g)
        return (g * x).sum(dim=1)

    compiled = mg.compile(fn)
    x = mg.tensor(np.random.default_rng(5).standard_normal((4, 3)), requires_grad=True)
    for _ in range(4):
        compiled(x)
    assert len(compiled.programs) == 1 and not compiled.eager
    assert mg.gradcheck(compiled, (x,))
    ge = mg.autograd.grad(fn(x).sum(), (x, w))
    gc = mg.autograd.grad(compiled(x).sum(), (x, w))
    assert all(np.array_equal(a.data, b.data) for a, b in zip(ge, gc))


def test_views_of_a_tensor_written_while_recording() -> None:
    """Views eager re-points after a recorded write (a transpose read later, a reshape written through) are read
    as eager reads them: values and gradients bit for bit."""
    w = mg.tensor(np.random.default_rng(6).standard_normal((3, 4)), requires_grad=True)

    def fn(x: mg.Tensor) -> tuple:
        h = x @ w
        t = h.t()
        h.mul_(0.5)           # t is re-pointed: it reads the new value
        flat = h.reshape(-1)
        flat.relu_()          # written through its base h (after it, as torch's, nothing may change h)
        return t * 2.0, h, flat

    compiled = mg.compile(fn)
    x = mg.tensor(np.random.default_rng(7).standard_normal((2, 3)), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        for _ in range(4):
            got, want = compiled(x), fn(x)
            assert all(np.array_equal(a.data, b.data) for a, b in zip(got, want))
            ge = mg.autograd.grad(sum((o * o).sum() for o in want), (x, w))
            gc = mg.autograd.grad(sum((o * o).sum() for o in got), (x, w))
            assert all(np.array_equal(a.data, b.data) for a, b in zip(ge, gc))
    assert len(compiled.programs) == 1 and not compiled.eager


def test_a_backward_inside_runs_eagerly() -> None:
    """A training step with its backward and update inside (now that its in-place update alone would be
    captured): a replay would skip the backward and reuse the capture's gradients, so it runs eagerly."""
    w = mg.ones(3, requires_grad=True)

    def step(x: mg.Tensor) -> mg.Tensor:
        loss = (w * x).sum()
        loss.backward()
        with mg.no_grad():
            w.sub_(0.5 * w.grad)
        return loss.detach()

    compiled = mg.compile(step)
    with pytest.warns(CompileWarning, match="backward"):
        compiled(mg.tensor([1.0, 2.0, 3.0]))
    for _ in range(2):
        compiled(mg.tensor([1.0, 2.0, 3.0]))
    # eager: the gradient x accumulates (x, 2x, 3x), each update subtracts half the running sum: 1 - 3x
    assert np.array_equal(w.grad.data, [3.0, 6.0, 9.0])
    assert np.array_equal(w.data, [-2.0, -5.0, -8.0])


def test_writes_a_replay_would_misplace_run_eagerly() -> None:
    """A tensor made inside fn and then written (a replay would keep changing the capture's), and a no_grad write
    after a recorded in-place op on the same tensor (a replay would write into what that op saved)."""
    def made_inside(x: mg.Tensor) -> mg.Tensor:
        acc = mg.zeros(3)
        with mg.no_grad():
            acc.add_(x)
        return x * acc

    w = mg.tensor([0.5, -1.0, 2.0], requires_grad=True)

    def written_twice(x: mg.Tensor) -> mg.Tensor:
        h = x * w
        h.relu_()
        with mg.no_grad():
            h.mul_(3.0)
        return h * w

    x = mg.tensor([1.0, 2.0, 3.0])
    for fn in (made_inside, written_twice):
        compiled = mg.compile(fn)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(4):
                got, want = compiled(x), fn(x)
                assert np.array_equal(got.data, want.data), fn.__name__
        assert compiled.eager and not compiled.programs, fn.__name__
        assert any("in place" in str(c.message) for c in caught if issubclass(c.category, CompileWarning))
    compiled = mg.compile(written_twice)
    for _ in range(3):   # relu_ saved its output, h, which the no_grad write changed: backward raises, as torch's
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            compiled(x).sum().backward()
