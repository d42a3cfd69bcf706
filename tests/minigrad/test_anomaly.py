"""``mg.detect_anomaly()``: the first NaN/Inf in a forward output or a gradient raises, naming the op,
its name scope and the statistics of its inputs. Off by default, and nearly free when off."""

from __future__ import annotations

import time

import numpy as np
import pytest

import minigrad as mg
import nn


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
    # w's only consumer (mul) ran before the error: its gradient is in, as PyTorch's engine adds it (round 20)
    np.testing.assert_allclose(w.grad.numpy(), [0.0, 2 * (1 - np.tanh(2.0) ** 2)], rtol=1e-6)


def test_backward_is_checked_only_inside_the_context():
    x = mg.tensor([0.0, 4.0], requires_grad=True)
    with mg.detect_anomaly():
        y = x.sqrt().sum()
    with np.errstate(divide="ignore"):
        y.backward()      # outside the context: no check, inf lands in the grad
    assert np.isinf(x.grad.numpy()[0])


def test_a_leaf_gradient_that_overflows_only_when_its_uses_are_summed():
    """Each use of w sends a finite gradient (3e38); their sum over 10 uses is inf. No op made it,
    so the check after backward names the leaf."""
    w = mg.tensor([1e-10], requires_grad=True)
    w.name = "encoder.weight_hh_l0"
    with mg.detect_anomaly():
        loss = mg.stack([(w * 3e38).sum() for _ in range(10)]).sum()   # forward: 3e29, finite
        with pytest.raises(mg.AnomalyError) as info, np.errstate(over="ignore"):
            loss.backward()
    message = str(info.value)
    assert "leaf 'encoder.weight_hh_l0' of shape (1,)" in message and "sum over its uses" in message


def test_an_intermediate_gradient_that_overflows_when_summed_over_consumers():
    x = mg.tensor([1e-10], requires_grad=True)
    with mg.detect_anomaly():
        with mg.name_scope("shared"):
            h = x * 1.0
        loss = mg.stack([(h * 3e38).sum() for _ in range(10)]).sum()
        with pytest.raises(mg.AnomalyError) as info, np.errstate(over="ignore", invalid="ignore"):
            loss.backward()
    message = str(info.value)
    assert "backward of 'mul' in scope 'shared'" in message
    assert "the sum over its output's consumers, already held NaN/Inf" in message


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
    flag = mg.recording._state   # the per-thread context variable the engine reads once per op
    start = time.perf_counter()
    for _ in range(100_000):
        if flag.get().checks:
            pass
    test_cost = (time.perf_counter() - start) / 100_000
    with capsys.disabled():
        print(f"\n[detect_anomaly] per op: off {off * 1e6:.2f} us, on {on * 1e6:.2f} us "
              f"({on / off:.2f}x); the off-path flag test costs ~{test_cost * 1e9:.0f} ns "
              f"({test_cost / off:.2%} of an op)")
    assert off > 0 and on > 0


# --- with the recurrent layers ------------------------------------------------------------------


def test_lstm_input_with_a_nan_at_one_time_step_names_that_step():
    mg.manual_seed(0)
    lstm = nn.LSTM(4, 8)                      # a root module: its scope is "lstm"
    x = mg.randn(6, 2, 4)
    x.data[3, 1, 2] = np.nan
    with mg.detect_anomaly(), pytest.raises(mg.AnomalyError) as info:
        lstm(x)
    message = str(info.value)
    assert "'lstm/l0/t3'" in message and "time step 3 (batch element 1)" in message
    assert "float32(6, 2, 4) non-finite=1" in message
    out, _ = lstm(x)                          # off: no check, the NaN just flows
    assert np.isnan(out.numpy()[3:, 1]).all() and np.isfinite(out.numpy()[:3]).all()


def test_batch_first_lstm_names_the_time_step_not_the_batch_row():
    lstm = nn.LSTM(4, 8, batch_first=True)
    x = mg.randn(2, 6, 4)
    x.data[0, 5, 0] = np.inf                  # batch row 0, step 5
    x.data[1, 2, 3] = np.nan                  # batch row 1, step 2: the first in time
    with mg.detect_anomaly(), pytest.raises(mg.AnomalyError, match=r"time step 2 \(batch element 1\).*'lstm/l0/t2'"):
        lstm(x)


def test_an_exploding_rnn_is_caught_at_the_step_that_overflows():
    """relu RNN with a huge recurrent weight: h grows ~1e9x per step and overflows float32 at one step;
    the error names that step's scope and shows the huge (finite) inputs."""
    mg.manual_seed(0)
    model = nn.Sequential(nn.RNN(4, 8, nonlinearity="relu"))
    rnn = model[0]
    with mg.no_grad():
        rnn.weight_hh_l0.data[...] = np.abs(rnn.weight_hh_l0.data) * 1e9
        rnn.weight_ih_l0.data[...] = np.abs(rnn.weight_ih_l0.data)
    x = mg.rand(10, 2, 4)
    with mg.detect_anomaly(), pytest.raises(mg.AnomalyError) as info, np.errstate(over="ignore"):
        model(x)
    message = str(info.value)
    assert "in scope 'sequential/0/l0/t" in message and "non-finite=0" in message and "e+3" in message
    step = int(message.split("/t")[1].split("'")[0])
    with mg.no_grad(), np.errstate(over="ignore", invalid="ignore"):
        out, _ = model(x)
    finite_steps = np.isfinite(out.numpy()).all(axis=(1, 2))
    assert finite_steps[:step].all() and not finite_steps[step]     # the named step is the first bad one


def test_exploding_gradients_through_time_are_caught_at_the_step_that_overflows():
    """Forward stays finite (a tiny input grows 1e5x per step), but the gradient flowing back through
    time grows 1e5x per step too and overflows; the backward error names that step."""
    mg.manual_seed(0)
    rnn = nn.RNN(3, 4, nonlinearity="relu", bias=False)
    with mg.no_grad():
        rnn.weight_ih_l0.data[...] = np.abs(rnn.weight_ih_l0.data)
        rnn.weight_hh_l0.data[...] = np.abs(rnn.weight_hh_l0.data) * 1e5
    x = mg.rand(10, 2, 3) * 1e-30
    with mg.detect_anomaly():
        out, _ = rnn(x)
        assert np.isfinite(out.numpy()).all()
        with pytest.raises(mg.AnomalyError) as info, np.errstate(over="ignore"):
            out.sum().backward()
    message = str(info.value)
    assert "backward of 'addmm' in scope 'rnn/l0/t" in message and "non-finite=0" in message
    step = int(message.split("'rnn/l0/t")[1].split("'")[0])
    assert 0 < step < 9          # somewhere inside the unroll, not at its ends
