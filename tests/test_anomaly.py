"""``mg.detect_anomaly()``: the first NaN/Inf in a forward output or a gradient raises, naming the op,
its name scope and the statistics of its inputs. Off by default, and nearly free when off."""

from __future__ import annotations

import time

import numpy as np
import pytest

import minigrad as mg


def test_off_by_default_and_nan_flows_silently():
    assert not mg.is_anomaly_enabled()
    x = mg.tensor([-1.0, 0.0], requires_grad=True)
    with np.errstate(all="ignore"):
        y = (x.log() + x.sqrt()).sum()          # NaN forward, inf backward: no error
        y.backward()
    assert np.isnan(y.item())
    assert np.isinf(x.grad.numpy()[1])


def test_forward_raises_at_the_first_bad_op_with_scope_and_stats():
    x = mg.tensor([-1.0, 2.0, 3.0], requires_grad=True)
    with mg.detect_anomaly(), mg.name_scope("encoder"), mg.name_scope("t2"):
        y = x * 2.0            # finite: passes
        with pytest.raises(mg.AnomalyError) as info, np.errstate(all="ignore"):
            y.log().exp().sum()   # log makes the NaN; exp and sum must not be blamed
    message = str(info.value)
    assert "forward of 'log'" in message
    assert "'encoder/t2'" in message
    assert "float32(3,)" in message and "min=-2 max=6" in message and "non-finite=0" in message
    assert "exp" not in message.split("inputs:")[0]
    assert np.isfinite(y.numpy()).all()


def test_forward_names_an_input_that_already_held_nan():
    x = mg.tensor([np.nan, 1.0, 2.0])
    with mg.detect_anomaly(), pytest.raises(mg.AnomalyError, match=r"'mul'.*already held NaN.*non-finite=1"):
        x * 3.0


def test_zero_dimensional_results_are_checked():
    # NumPy returns a scalar (not an ndarray) for a full reduction: it must still be checked
    x = mg.tensor([np.inf, -np.inf])
    with mg.detect_anomaly(), pytest.raises(mg.AnomalyError, match="forward of 'sum'"), np.errstate(all="ignore"):
        x.sum()
    a = mg.tensor([1e30, 1e30])
    with mg.detect_anomaly(), pytest.raises(mg.AnomalyError, match="forward of 'matmul'"), np.errstate(all="ignore"):
        a @ a               # 1-D @ 1-D: a 0-d result that overflows float32


def test_multi_output_ops_are_checked():
    x = mg.tensor([[1.0, np.inf], [2.0, 3.0]])
    with mg.detect_anomaly(), pytest.raises(mg.AnomalyError, match="forward of 'unbind'"):
        mg.unbind(x, axis=0)
    with mg.detect_anomaly(), pytest.raises(mg.AnomalyError, match="forward of 'split'"):
        mg.split(x, 2, axis=1)


def test_checked_under_no_grad_with_the_scope_named():
    x = mg.tensor([0.0, 1.0])
    with mg.detect_anomaly(), mg.no_grad(), mg.name_scope("decoder"):
        with pytest.raises(mg.AnomalyError, match="forward of 'log' in scope 'decoder'"), np.errstate(all="ignore"):
            x.log()


def test_backward_raises_at_the_first_bad_gradient():
    # sqrt(0) is fine forward, but its gradient 1/(2*sqrt(0)) is inf
    x = mg.tensor([0.0, 4.0], requires_grad=True)
    w = mg.tensor([1.0, 1.0], requires_grad=True)
    with mg.detect_anomaly():
        with mg.name_scope("layer"):
            y = (x.sqrt() * w).tanh().sum()
        with pytest.raises(mg.AnomalyError) as info, np.errstate(divide="ignore"):
            y.backward()
    message = str(info.value)
    assert "backward of 'sqrt' in scope 'layer'" in message
    assert "input 0" in message
    assert "incoming gradients: float32(2,)" in message and "non-finite=0" in message
    assert x.grad is None                         # raised before reaching the leaf
    assert w.grad is not None                     # the branch before sqrt had already run


def test_backward_is_checked_only_inside_the_context():
    x = mg.tensor([0.0, 4.0], requires_grad=True)
    with mg.detect_anomaly():
        y = x.sqrt().sum()
    with np.errstate(divide="ignore"):
        y.backward()      # outside the context: no check, inf lands in the grad
    assert np.isinf(x.grad.numpy()[0])


def test_time_step_scope_of_an_unrolled_recurrence():
    """A hand-written tanh RNN with the scope layout of nn.RNN: the NaN at step 3 is reported as lstm/l0/t3."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 2, 3)).astype(np.float32)
    x[3, 1, 0] = np.nan
    w = mg.tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    u = mg.tensor(rng.standard_normal((4, 4)).astype(np.float32), requires_grad=True)
    h = mg.zeros(2, 4)
    steps = mg.unbind(mg.tensor(x), 0)
    with mg.detect_anomaly(), pytest.raises(mg.AnomalyError) as info:
        with mg.name_scope("lstm"), mg.name_scope("l0"):
            for t, x_t in enumerate(steps):
                with mg.name_scope(f"t{t}"):
                    h = (x_t @ w + h @ u).tanh()
    assert "in scope 'lstm/l0/t3'" in str(info.value)
    assert "'matmul'" in str(info.value)


def test_state_restored_after_exit_nesting_and_errors():
    assert not mg.is_anomaly_enabled()
    with mg.detect_anomaly():
        assert mg.is_anomaly_enabled()
        with mg.detect_anomaly(enabled=False):
            assert not mg.is_anomaly_enabled()
            with np.errstate(all="ignore"):
                mg.tensor([-1.0]).log()   # no check here
        assert mg.is_anomaly_enabled()
    assert not mg.is_anomaly_enabled()
    with pytest.raises(mg.AnomalyError), mg.detect_anomaly(), np.errstate(all="ignore"):
        mg.tensor([-1.0]).log()
    assert not mg.is_anomaly_enabled()


def test_anomaly_error_is_a_runtime_error():
    assert issubclass(mg.AnomalyError, RuntimeError)


def test_cost_when_off_is_printed(capsys):
    """Micro-timing (printed, never asserted): per-op time with the check off vs on."""
    x = mg.randn(8, 8, requires_grad=True)

    def run(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            y = x
            for _ in range(10):
                y = (y * 0.5).tanh()
            y.sum().backward()
        return (time.perf_counter() - start) / (n * 21)

    run(20)
    off = min(run(100) for _ in range(3))
    with mg.detect_anomaly():
        on = min(run(100) for _ in range(3))
    flag = mg.autograd._anomaly
    start = time.perf_counter()
    for _ in range(100_000):
        if flag:
            pass
    test_cost = (time.perf_counter() - start) / 100_000
    with capsys.disabled():
        print(f"\n[detect_anomaly] per op: off {off * 1e6:.2f} us, on {on * 1e6:.2f} us "
              f"({on / off:.2f}x); the off-path flag test costs ~{test_cost * 1e9:.0f} ns "
              f"({test_cost / off:.2%} of an op)")
    assert off > 0 and on > 0
