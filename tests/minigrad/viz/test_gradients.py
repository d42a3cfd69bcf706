"""Graph drawing (minigrad.viz): the gradient overlay, taken by observing a backward walk of the retained graph."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from drawing_helpers import Dot, run_layer, steps_of, unrolled_rnn

import minigrad as mg
import nn
from minigrad import viz

_NORM = re.compile(r"(?:x?label)=\"?(?:×\d+ )?(\d\.\de[-+]\d\d|0)\b")


def test_gradient_labels_only_with_show_grads():
    loss, states = unrolled_rnn(5)
    loss.backward(retain_graph=True)
    plain = viz.draw(loss).source
    assert "‖∂L/∂h‖" not in plain and "legend" not in plain and not re.search(r"\d\.\de[-+]\d\d", plain)
    dot = Dot(viz.draw(loss, show_grads=True).source)
    assert "legend" in dot.nodes and "log scale" in dot.nodes["legend"]
    for t, s in enumerate(steps_of(dot, "rnn/l0")):
        expected = math.sqrt(float((states[t].grad.numpy().astype("float64") ** 2).sum()))
        assert dot.clusters[s]["label"] == f"t{t}\\n‖∂L/∂h‖ {expected:.1e}"


def test_every_edge_is_labelled_after_a_plain_retained_backward():
    output, _ = run_layer("lstm", 4, num_layers=2)
    loss = output[-1].sum()
    loss.backward(retain_graph=True)
    for options in ({"params": "single"}, {}, {"collapse": "steps"}, {"collapse": 1}):
        dot = Dot(viz.draw(loss, show_grads=True, **options).source)
        assert dot.edges
        for tail, head, attrs in dot.edges:   # with ghost params: hub anchors carry their edges' norm
            assert _NORM.search(attrs) and "color=" in attrs, (options, tail, head, attrs)


def test_gradient_edge_label_is_the_norm_sent_along_it():
    w = mg.tensor([3.0, 4.0], requires_grad=True)
    w.name = "w"
    loss = (w * 1.0).sum()
    dot = Dot(viz.draw(loss, show_grads=True).source)   # no backward needed at all
    (edge,) = [attrs for a, _, attrs in dot.edges if a == dot.labelled("w\\n")[0]]
    assert "1.4e+00" in edge   # ‖(1, 1)‖ = √2
    assert w.grad is None


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_drawing_leaves_every_grad_bit_identical(kind):
    layer = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind](3, 4, bidirectional=True)
    x = mg.randn(6, 2, 3, requires_grad=True)
    output, _ = layer(x)
    hidden = output * 1.0
    hidden.retain_grad()
    loss = (hidden[-1] ** 2).sum()
    loss.backward(retain_graph=True)
    tensors = [*layer.parameters(), x, hidden]
    before = [t.grad.numpy().copy() for t in tensors]
    grad_objects = [t.grad for t in tensors]
    for options in ({}, {"collapse": "steps"}, {"collapse": "steps", "steps_shown": 2}):
        viz.draw(loss, show_grads=True, **options)
    for t, old, obj in zip(tensors, before, grad_objects):
        assert t.grad is obj and t.grad.numpy().tobytes() == old.tobytes()
    loss.backward()   # the graph is still there for a second backward: gradients double
    for t, old in zip(tensors[:-1], before):
        np.testing.assert_allclose(t.grad.numpy(), 2 * old, rtol=1e-6)


def test_step_norms_match_the_engine_gradients():
    loss, states = unrolled_rnn(8)
    dot = Dot(viz.draw(loss, collapse="steps", steps_shown=None, show_grads=True).source)
    loss.backward()   # after drawing: the drawing did not free the graph
    for t in range(8):
        expected = math.sqrt(float((states[t].grad.numpy().astype("float64") ** 2).sum()))
        assert f"‖∂L/∂h‖ {expected:.1e}" in dot.nodes[f"b{t}"]


def test_vanishing_gradient_of_an_rnn_shows_in_the_step_labels():
    output, _ = run_layer("rnn", 12, hidden=8)
    loss = output[-1].sum()
    loss.backward(retain_graph=True)
    dot = Dot(viz.draw(loss, collapse="steps", steps_shown=None, show_grads=True).source)
    norms = [float(re.search(r"‖∂L/∂h‖ (\S+)", dot.nodes[f"b{t}"]).group(1)) for t in range(12)]
    assert norms[0] < norms[-1] / 100


def test_elided_steps_keep_their_gradient_range():
    loss, states = unrolled_rnn(12)
    dot = Dot(viz.draw(loss, collapse="steps", steps_shown=4, show_grads=True).source)
    loss.backward()
    (elided,) = [b for b in dot.nodes if b.startswith("b") and "elided" in dot.nodes[b]]
    norms = [math.sqrt(float((s.grad.numpy().astype("float64") ** 2).sum())) for s in states[2:10]]
    assert f"‖∂L/∂h‖ {min(norms):.1e} … {max(norms):.1e}" in dot.nodes[elided]
    assert "grads inside" in dot.nodes[elided]
    into = [attrs for a, b, attrs in dot.edges if b == elided and a.startswith("b")]
    out_of = [attrs for a, b, attrs in dot.edges if a == elided and b.startswith("b")]
    assert len(into) == len(out_of) == 1 and _NORM.search(into[0]) and _NORM.search(out_of[0])
    # the edge out of the elided run carries ∂L/∂h_9 to step 10
    assert f"{norms[-1]:.1e}" in out_of[0]


def test_two_losses_drawn_together_each_get_their_gradients():
    first, first_states = unrolled_rnn(3)
    with mg.name_scope("other"):
        second, second_states = unrolled_rnn(3)
    dot = Dot(viz.draw(first, second, show_grads=True).source)
    first.backward()
    second.backward()
    for path, states in (("rnn/l0", first_states), ("other/rnn/l0", second_states)):
        expected = math.sqrt(float((states[2].grad.numpy().astype("float64") ** 2).sum()))
        assert dot.clusters[steps_of(dot, path)[2]]["label"] == f"t2\\n‖∂L/∂h‖ {expected:.1e}"


def test_show_grads_needs_a_loss_and_a_kept_graph():
    loss, _ = unrolled_rnn(2)
    output, _ = run_layer("gru", 2)
    with pytest.raises(ValueError, match="needs a one-element root"):
        viz.draw(output, show_grads=True)
    loss.backward()   # frees the graph's saved arrays
    with pytest.raises(RuntimeError, match=r"backward\(retain_graph=True\)"):
        viz.draw(loss, show_grads=True)
    assert viz.draw(loss).source   # drawing without gradients needs no saved arrays


def test_step_norm_comes_from_a_cell_called_inside_the_step():
    cell = nn.LSTMCell(3, 4)
    state = None
    with mg.name_scope("loop"):
        for t in range(3):
            with mg.name_scope(f"t{t}"):
                state = cell(mg.randn(2, 3), state)   # ops in loop/t{t}/lstmcell
    loss = state[0].sum()
    loss.backward(retain_graph=True)
    dot = Dot(viz.draw(loss, collapse="steps", show_grads=True).source)
    boxes = [i for i in dot.nodes if i.startswith("b")]
    assert len(boxes) == 3 and all("‖∂L/∂h‖" in dot.nodes[b] for b in boxes)
    # the cell reads its weights at every call: one dashed copy per step
    assert len(Dot(viz.draw(loss).source).labelled("weight_hh\\n")) == 3


def test_show_grads_after_the_weights_changed_says_to_draw_before_the_step():
    layer = nn.RNN(2, 3)
    output, _ = layer(mg.randn(4, 1, 2))
    loss = output[-1].sum()
    loss.backward(retain_graph=True)
    nn.optim.SGD(layer.parameters(), lr=0.1).step()   # changes the weights the graph saved
    with pytest.raises(RuntimeError, match="before the weights change.*inplace"):
        viz.draw(loss, show_grads=True)


def _attr(attrs: str, name: str) -> str:
    return re.search(rf'\b{name}="?([^" \]]+)', attrs).group(1)


def test_every_cluster_is_labelled_by_the_gradient_it_sent_back():
    w = mg.tensor([3.0, 4.0], requires_grad=True)
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    w.name, x.name = "w", "x"
    with mg.name_scope("outer"):
        with mg.name_scope("inner"):
            a = w * 2.0             # sends 2·∂L/∂a = 2x to w
        b = a * x                   # sends x to a (inside outer) and a = 2w to x (from outside)
    loss = b.sum()
    dot = Dot(viz.draw(loss, show_grads=True).source)
    loss.backward(retain_graph=True)
    w_norm, x_norm = np.linalg.norm(w.grad.numpy()), np.linalg.norm(x.grad.numpy())   # √20, 10
    lines = {dot.title(c): line for c in dot.clusters
             for line in dot.source.splitlines() if f'label="{dot.title(c)}\\n' in line}
    assert f"inner\\ngrads sent back {w_norm:.1e}" in lines["inner"]
    # outer: what inner sent to w, and what b sent to x; b → a stays inside outer
    assert f"outer\\ngrads sent back {math.hypot(w_norm, x_norm):.1e}" in lines["outer"]
    # the same log colour scale as the edges: the w → inner edge carries exactly inner's norm
    (w_edge,) = [attrs for a, _, attrs in dot.edges if a == dot.labelled("w\\n")[0]]
    assert _attr(lines["inner"], "color") == _attr(w_edge, "color") != "#9e9e9e"
    assert _attr(lines["outer"], "color") not in ("#9e9e9e", _attr(w_edge, "color"))
    # folded into a box, inner says the same
    folded = Dot(viz.draw(loss, show_grads=True, collapse=1).source)
    (box,) = [i for i in folded.nodes if i.startswith("b")]
    assert f"grads sent back {w_norm:.1e}" in folded.nodes[box]


def test_layer_and_module_clusters_get_a_norm_and_a_colour():
    with mg.name_scope("model"):
        output, _ = run_layer("lstm", 3, bidirectional=True)
    loss = output[-1].sum()
    loss.backward(retain_graph=True)
    for options in ({}, {"collapse": "steps"}):
        source = viz.draw(loss, show_grads=True, **options).source
        assert source == viz.draw(loss, show_grads=True, **options).source   # deterministic
        dot = Dot(source)
        paths = dot.by_path()
        for path in ("model", "model/lstm", "model/lstm/l0", "model/lstm/l0_reverse"):
            label = dot.clusters[paths[path]]["label"]
            assert re.fullmatch(rf"{path.rsplit('/', 1)[-1]}\\n(grads sent back \d\.\de[-+]\d\d)", label), label
            line = next(s for s in source.splitlines() if f'label="{label}"' in s)
            assert "#9e9e9e" not in line and "penwidth=2" in line
        if not options:   # the step clusters keep ‖∂L/∂h_t‖
            assert all("‖∂L/∂h‖" in dot.clusters[c]["label"] for c in steps_of(dot, "model/lstm/l0"))
