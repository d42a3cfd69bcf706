"""Graph drawing (minigrad.viz): clusters per scope, labels, ghost parameters, deterministic DOT, the walk."""

from __future__ import annotations

import re

import pytest
from drawing_helpers import Dot, run_layer, steps_of, unrolled_rnn

import minigrad as mg
import nn
from minigrad import viz

# --- structure --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_one_cluster_per_time_step_with_equal_op_counts(kind):
    output, _ = run_layer(kind, 5)
    dot = Dot(viz.draw(output.sum()).source)
    steps = steps_of(dot, f"{kind}/l0")
    assert [dot.title(s) for s in steps] == [f"t{t}" for t in range(5)]
    counts = [len(dot.ops(dot.inside(s))) for s in steps]
    assert counts[0] > 0 and len(set(counts)) == 1, counts
    for s in steps:   # exactly one op tagged h per step
        assert sum("[h]" in dot.nodes[i] for i in dot.inside(s)) == 1


def test_bidirectional_two_layers_nest_layer_direction_step():
    output, (h_n, c_n) = run_layer("lstm", 3, num_layers=2, bidirectional=True)
    dot = Dot(viz.draw(output.sum(), h_n, c_n).source)
    paths = dot.by_path()
    for layer in ("l0", "l0_reverse", "l1", "l1_reverse"):
        assert f"lstm/{layer}" in paths
        assert [dot.title(s) for s in steps_of(dot, f"lstm/{layer}")] == ["t0", "t1", "t2"]
    counts = {len(dot.ops(dot.inside(s))) for layer in ("l0", "l1_reverse") for s in steps_of(dot, f"lstm/{layer}")}
    assert len(counts) == 1


def test_labels_ops_shapes_dtypes_and_parameter_paths():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.LSTM(3, 4)

        def forward(self, x):
            return self.encoder(x)[0]

    x = mg.randn(2, 5, 3, requires_grad=True)
    source = viz.draw(Model()(x).sum()).source
    assert "encoder.weight_hh_l0" in source and "encoder.bias_ih_l0" in source
    assert "sigmoid\\n(5, 4) float32" in source
    assert "(2, 5, 3) float32" in source   # an unnamed input is labelled by its shape
    plain = viz.draw(Model()(x).sum(), show_shapes=False).source
    assert "float32" not in plain and "sigmoid" in plain


def test_constants_are_not_drawn_and_named_inputs_are():
    w = mg.randn(3, requires_grad=True)
    w.name = "w"
    source = viz.draw((w * mg.ones(3) + 2.0).sum()).source
    dot = Dot(source)
    assert dot.labelled("w\\n(3,) float32")
    assert len(dot.nodes) == 4   # w, mul, add, sum: the constant ones(3) is not drawn


def test_ghost_parameters_one_copy_per_use_single_one_node():
    loss, _ = unrolled_rnn(6)
    ghost = Dot(viz.draw(loss, params="ghost").source)
    single = Dot(viz.draw(loss, params="single").source)
    assert len(ghost.labelled("rnn.weight_hh_l0")) == 6
    assert len(single.labelled("rnn.weight_hh_l0")) == 1
    steps = steps_of(ghost, "rnn/l0")
    for s in steps:   # each copy sits in the step that uses it, drawn dashed
        copies = [i for i in ghost.inside(s) if "weight_hh" in ghost.nodes[i]]
        assert len(copies) == 1 and "dashed" in ghost.source.split(f"\t{copies[0]} [", 1)[1].split("\n")[0]
    assert len(single.edges) == len(ghost.edges)   # same edges, different tails


def test_layer_weights_drawn_beside_each_step_and_no_edge_grows_with_T():
    def far_edges(steps):
        output, _ = run_layer("lstm", steps)
        dot = Dot(viz.draw(output.sum()).source)
        where = {}
        for t, s in enumerate(steps_of(dot, "lstm/l0")):
            for i in dot.inside(s):
                where[i] = t
        assert len(dot.labelled("transpose(weight_hh_l0)")) == steps   # a copy per step
        spans = [abs(where[a] - where[b]) for a, b, _ in dot.edges if a in where and b in where]
        assert max(spans) <= 1                     # steps only talk to their neighbours
        return sum((a in where) != (b in where) for a, b, _ in dot.edges)

    assert far_edges(6) == far_edges(12)   # edges leaving the steps do not grow with T
    output, _ = run_layer("lstm", 6)
    assert len(Dot(viz.draw(output.sum(), params="single").source).labelled("weight_hh_l0")) == 1








def test_ungrouped_has_no_clusters():
    output, _ = run_layer("rnn", 3)
    dot = Dot(viz.draw(output.sum(), group=None).source)
    assert not dot.clusters and len(dot.ops(list(dot.nodes))) > 3 * 3


def test_same_graph_gives_byte_identical_dot():
    def build(seed):
        mg.manual_seed(seed)
        output, (h, c) = run_layer("lstm", 6, bidirectional=True)
        loss = output.sum() + h.sum()
        loss.backward(retain_graph=True)
        return loss, h, c

    first, keep = build(1), build(1)      # keep both alive: different object addresses
    for options in ({}, {"collapse": "steps"}, {"params": "single"}, {"show_grads": True}):
        assert viz.draw(*first, **options).source == viz.draw(*keep, **options).source
    assert re.search(r"\bn0 \[", viz.draw(first[0]).source)   # ids numbered afresh per call


def test_long_chains_are_walked_iteratively_each_node_once():
    x = mg.randn(2, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    source = viz.draw(y.sum(), group=None).source
    assert source.count('label="mul\\n') == 5000
    # a node used many times is drawn once
    z = x * 2.0
    dot = Dot(viz.draw((z + z + z).sum()).source)
    assert len(dot.labelled("mul")) == 1


def test_several_roots_and_nested_root_lists():
    output, (h, c) = run_layer("lstm", 3)
    together = Dot(viz.draw(output, (h, c)).source)
    assert len(together.labelled("stack")) >= 2   # output and h_n / c_n
    assert together.source == viz.draw([output, [h, c]]).source


# --- bad input --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("options, error, words", [
    ({"params": "shared"}, ValueError, "params must be 'ghost' or 'single'"),
    ({"group": "layer"}, ValueError, "group must be 'scope' or None"),
    ({"collapse": -1}, ValueError, "collapse=-1 must be >= 0"),
    ({"collapse": 1.5}, TypeError, "collapse must be None, an int"),
    ({"rankdir": "up"}, ValueError, "rankdir must be one of"),
])
def test_bad_options_are_named(options, error, words):
    loss, _ = unrolled_rnn(2)
    with pytest.raises(error, match=re.escape(words)):
        viz.draw(loss, **options)


def test_bad_roots_are_named():
    with pytest.raises(TypeError, match="roots must be Tensors"):
        viz.draw("loss")
    with pytest.raises(ValueError, match="no recorded history"):
        viz.draw(mg.randn(3).sum())


