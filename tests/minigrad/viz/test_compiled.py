"""Graph drawing (minigrad.viz) of mg.compile replays: a replayed step is drawn as the ops it stands for."""

from __future__ import annotations

import pytest
from drawing_helpers import Dot, steps_of

import minigrad as mg
import nn
from minigrad import viz


def lstm_loss(compile: bool, **options) -> mg.Tensor:
    mg.manual_seed(0)
    layer = nn.LSTM(3, 4, compile=compile, **options)
    x = mg.randn(3, 2, 3)
    layer(x)                   # compile=True: the first call captures each direction's loop over time
    output, _ = layer(x)       # ... and this one replays it
    return output[-1].sum()


@pytest.mark.parametrize("options", [{}, {"collapse": "steps"}, {"collapse": "steps", "show_grads": True},
                                     {"show_grads": True}, {"params": "single"}, {"collapse": 1}])
def test_captured_lstm_draws_like_eager(options):
    eager, captured = lstm_loss(False), lstm_loss(True)
    assert any(node.name == "compiled" for node in _nodes(captured))   # the replay: one node per direction
    assert viz.draw(captured, **options).source == viz.draw(eager, **options).source


def test_captured_two_layer_bidirectional_lstm_draws_like_eager():
    eager = lstm_loss(False, num_layers=2, bidirectional=True)
    captured = lstm_loss(True, num_layers=2, bidirectional=True)
    for options in ({}, {"collapse": "steps"}):
        assert viz.draw(captured, **options).source == viz.draw(eager, **options).source
    dot = Dot(viz.draw(captured).source)
    for layer in ("l0", "l0_reverse", "l1", "l1_reverse"):
        steps = steps_of(dot, f"lstm/{layer}")
        assert [dot.title(s) for s in steps] == ["t0", "t1", "t2"]
        assert len({len(dot.ops(dot.inside(s))) for s in steps}) == 1   # replayed steps hold all their ops


def test_captured_step_keeps_the_scopes_opened_inside_it():
    def run(step):
        w = mg.randn(4, 4, requires_grad=True)
        w.name = "w"
        h = mg.zeros(2, 4)
        with mg.name_scope("loop"):
            for t in range(4):
                with mg.name_scope(f"t{t}"):
                    h = mg.tag(step(mg.randn(2, 4), h, w), "h")
        return h.sum()

    def step(x, h, w):
        with mg.name_scope("cell"):
            return (x + h @ w).tanh()

    mg.manual_seed(1)
    eager = run(step)
    mg.manual_seed(1)
    captured = run(mg.compile(step))
    assert viz.draw(captured).source == viz.draw(eager).source
    assert "loop/t3/cell" in Dot(viz.draw(captured).source).by_path()
    both = [viz.draw(loss, collapse="steps", show_grads=True).source for loss in (eager, captured)]
    assert both[0] == both[1] and "‖∂L/∂h‖" in both[0]


def _nodes(loss: mg.Tensor) -> list:
    from minigrad.viz.graph import walk

    return walk([loss])


def test_a_captured_loop_over_time_draws_its_steps():
    def run(loop):
        w = mg.randn(3, 3, requires_grad=True)
        w.name = "w"
        with mg.name_scope("rnn"):
            return loop(mg.randn(5, 2, 3), mg.zeros(2, 3), w).sum()

    def loop(xs, h, w):
        for t in range(xs.shape[0]):
            with mg.name_scope(f"t{t}"):
                h = mg.tag((xs[t] + h @ w).tanh(), "h")
        return h

    compiled = mg.compile(loop)
    mg.manual_seed(2)
    eager = run(loop)
    mg.manual_seed(2)
    run(compiled)            # captures
    mg.manual_seed(2)
    captured = run(compiled)  # replays: one node for the whole loop
    assert [n.name for n in _nodes(captured)].count("compiled") == 1
    for options in ({}, {"collapse": "steps"}, {"collapse": "steps", "steps_shown": 2}, {"show_grads": True},
                    {"collapse": "steps", "show_grads": True}):
        assert viz.draw(captured, **options).source == viz.draw(eager, **options).source
    assert viz.draw(captured, collapse="steps", show_grads=True).source.count("‖∂L/∂h‖") == 5


def test_a_whole_layer_captured_as_one_node_draws_like_eager():
    mg.manual_seed(0)
    layer = nn.GRU(3, 4, num_layers=2, bidirectional=True)
    x = mg.randn(5, 2, 3)
    whole = mg.compile(lambda inputs: layer(inputs))
    eager = layer(x)[0][-1].sum()
    for _ in range(3):   # captures, then checks its frozen values against fresh runs (mg.compile's VERIFY_CALLS)
        whole(x)
    captured = whole(x)[0][-1].sum()
    assert [n.name for n in _nodes(captured)].count("compiled") == 1
    for options in ({}, {"collapse": "steps"}, {"collapse": 1}, {"show_grads": True}):
        assert viz.draw(captured, **options).source == viz.draw(eager, **options).source


def test_drawing_a_replay_with_gradients_leaves_every_grad_bit_identical():
    mg.manual_seed(0)
    layer = nn.LSTM(3, 4, compile=True)
    output, _ = layer(mg.randn(4, 2, 3))
    loss = output[-1].sum()
    loss.backward(retain_graph=True)
    before = [p.grad.numpy().tobytes() for p in layer.parameters()]
    viz.draw(loss, show_grads=True)
    assert [p.grad.numpy().tobytes() for p in layer.parameters()] == before
