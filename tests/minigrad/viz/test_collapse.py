"""Graph drawing (minigrad.viz): folding scopes into boxes, eliding the middle of long unrolls, size limits."""

from __future__ import annotations

import re
import subprocess
import warnings

import pytest
from drawing_helpers import Dot, run_layer, steps_of, unrolled_rnn

import minigrad as mg
from minigrad import viz
from minigrad.viz import drawing


def boxes(dot: Dot) -> list[str]:
    return [i for i in dot.nodes if i.startswith("b")]


def titles(dot: Dot) -> list[str]:
    return [dot.nodes[b].split("\\n")[0] for b in boxes(dot)]


# --- one box per step / per scope --------------------------------------------------------------------------

def test_collapse_steps_draws_one_box_per_step_with_edges_between():
    output, _ = run_layer("lstm", 40)
    full = Dot(viz.draw(output.sum()).source)
    dot = Dot(viz.draw(output.sum(), collapse="steps", steps_shown=None).source)
    assert len(boxes(dot)) == 40 and len(full.nodes) > 10 * 40
    assert len(dot.nodes) < 40 + 25                    # O(T): boxes plus a fixed number of others
    assert dot.nodes["b3"].startswith("t3\\n")
    counts = {re.search(r"(\d+) ops", dot.nodes[b]).group(1) for b in boxes(dot)}
    assert len(counts) == 1 and "(2, 4) float32" in dot.nodes["b0"]
    chain = {(a, b) for a, b, _ in dot.edges}
    assert all((f"b{t}", f"b{t + 1}") in chain for t in range(39))
    # h and c both flow to the next step: one edge labelled with its multiplicity
    assert any(a == "b0" and b == "b1" and "×2" in attrs for a, b, attrs in dot.edges)


def test_collapse_levels_and_scope_paths():
    output, _ = run_layer("gru", 4, num_layers=2)
    zero = Dot(viz.draw(output.sum(), collapse=0).source)
    assert titles(zero) == ["gru"]
    one = Dot(viz.draw(output.sum(), collapse=1).source)
    assert sorted(titles(one)) == ["l0", "l1"]
    assert list(one.by_path()) == ["gru"]
    two = Dot(viz.draw(output.sum(), collapse=2).source)
    assert len(boxes(two)) == 8
    # a scope path folds just that part; it may be given from the top or at any depth
    for path in ("gru/l1", "l1"):
        part = Dot(viz.draw(output.sum(), collapse=path).source)
        assert titles(part) == ["l1"]
        assert len(steps_of(part, "gru/l0")) == 4
    with pytest.raises(ValueError, match="'encoder' matches no name scope"):
        viz.draw(output.sum(), collapse="encoder")


def test_collapse_counts_parameters_used_inside_a_box():
    loss, _ = unrolled_rnn(5)
    dot = Dot(viz.draw(loss, collapse="steps", steps_shown=None).source)
    assert not dot.labelled("weight_hh")             # used only inside the boxes: part of them
    assert all("2 params" in dot.nodes[b] for b in boxes(dot))   # weight_ih, weight_hh
    single = Dot(viz.draw(loss, collapse="steps", params="single", steps_shown=None).source)
    assert len(single.labelled("weight_hh")) == 1   # the true node, an edge to every box
    assert len([e for e in single.edges if e[0] == single.labelled("weight_hh")[0]]) == 5


# --- eliding the middle of a long unroll ------------------------------------------------------------------

def test_long_unroll_keeps_first_and_last_steps_and_one_node_for_the_rest():
    output, _ = run_layer("lstm", 40)
    every = Dot(viz.draw(output.sum(), collapse="steps", steps_shown=None).source)
    per_step = int(re.search(r"(\d+) ops", every.nodes["b0"]).group(1))
    dot = Dot(viz.draw(output.sum(), collapse="steps", steps_shown=4).source)
    assert titles(dot) == ["t0", "t1", "t2…t37", "t38", "t39"]
    elided = dot.nodes["b2"]
    assert "36 steps elided" in elided and f"{36 * per_step} ops, 1 param" in elided
    assert "(2, 4) float32" in elided                        # the shapes leaving it
    assert {(f"b{k}", f"b{k + 1}") for k in range(4)} <= {(a, b) for a, b, _ in dot.edges}
    assert "dashed" in dot.source.split("\tb2 [", 1)[1].split("\n")[0]
    # the same layer cluster holds the kept steps and the elided node
    assert [dot.path(dot.home[b]) for b in boxes(dot)] == ["lstm/l0"] * 5


@pytest.mark.parametrize("shown, expected", [
    (2, ["t0", "t1…t8", "t9"]),
    (3, ["t0", "t1", "t2…t8", "t9"]),
    (0, ["t0…t9"]),
    (8, ["t0", "t1", "t2", "t3", "t4…t5", "t6", "t7", "t8", "t9"]),
    (9, [f"t{t}" for t in range(10)]),     # eliding one step would save nothing
    (None, [f"t{t}" for t in range(10)]),
])
def test_steps_shown_sets_how_many_steps_are_kept(shown, expected):
    loss, _ = unrolled_rnn(10)
    assert titles(Dot(viz.draw(loss, collapse="steps", steps_shown=shown).source)) == expected


def test_a_handful_of_steps_is_not_elided():
    output, _ = run_layer("gru", 5)
    assert titles(Dot(viz.draw(output.sum(), collapse="steps", steps_shown=4).source)) == [f"t{t}" for t in range(5)]


def test_by_default_every_step_of_a_layer_up_to_100_steps_is_one_box():
    """DESIGN §4: with collapse="steps" every t{t} scope is one box; past 100 steps the middle is elided."""
    output, _ = run_layer("lstm", 100, hidden=2, batch=1, inputs=1)
    dot = Dot(viz.draw(output.sum(), collapse="steps").source)
    assert titles(dot) == [f"t{t}" for t in range(100)]
    assert all("\\n10 ops," in dot.nodes[b] for b in boxes(dot))   # one step's ops in each box
    output, _ = run_layer("lstm", 101, hidden=2, batch=1, inputs=1)
    assert titles(Dot(viz.draw(output.sum(), collapse="steps").source)) == ["t0", "t1", "t2…t98", "t99", "t100"]
    assert len(titles(Dot(viz.draw(output.sum(), collapse="steps", steps_shown=None).source))) == 101


def test_each_layer_and_direction_is_elided_on_its_own():
    output, (h, c) = run_layer("lstm", 12, num_layers=2, bidirectional=True)
    dot = Dot(viz.draw(output.sum(), collapse="steps", steps_shown=4).source)
    by_layer: dict[str, list] = {}
    for b in boxes(dot):
        by_layer.setdefault(dot.path(dot.home[b]), []).append(dot.nodes[b].split("\\n")[0])
    assert set(by_layer) == {"lstm/l0", "lstm/l0_reverse", "lstm/l1", "lstm/l1_reverse"}
    for layer, names in by_layer.items():
        assert sorted(names) == sorted(["t0", "t1", "t2…t9", "t10", "t11"]), layer


def test_elided_deterministic_dot():
    first, second = unrolled_rnn(30)[0], unrolled_rnn(30)[0]
    assert viz.draw(first, collapse="steps", steps_shown=4).source == viz.draw(second, collapse="steps",
                                                                               steps_shown=4).source


def test_large_op_level_drawing_is_elided_with_a_warning():
    output, _ = run_layer("rnn", 1_100, hidden=2, batch=1, inputs=1)   # 2 ops a step
    loss = output[-1].sum()
    with pytest.warns(viz.ElisionWarning, match=r"steps_shown=None to draw every op.*collapse='steps'"):
        dot = Dot(viz.draw(loss).source)
    steps = [dot.title(s) for s in steps_of(dot, "rnn/l0")]
    assert steps == ["t0", "t1", "t1098", "t1099"]             # kept steps still drawn op by op
    assert titles(dot) == ["t2…t1097"] and "1096 steps elided" in dot.nodes["b0"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        every = Dot(viz.draw(loss, steps_shown=None).source)   # asked for every op: no elision, no warning
        small = Dot(viz.draw(run_layer("rnn", 20)[0].sum()).source)
    assert len(steps_of(every, "rnn/l0")) == 1_100 and len(steps_of(small, "rnn/l0")) == 20


# --- too large to lay out ---------------------------------------------------------------------------------

def chain(length: int) -> mg.Tensor:
    x = mg.randn(2, requires_grad=True)
    y = x
    for _ in range(length):
        y = y * 1.0001
    return y.sum()


def _no_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make laying out fail: a refusal must come from counting, before any layout work (the slow part)."""
    def laid_out(*args: object, **kwargs: object) -> None:
        raise AssertionError("draw laid the graph out before refusing it")
    monkeypatch.setattr(drawing, "collect", laid_out)


def test_too_large_drawing_raises_before_laying_out_and_suggests_collapse(monkeypatch):
    loss = chain(25_000)   # no time steps: nothing to elide
    _no_layout(monkeypatch)
    with pytest.raises(viz.DrawingTooLargeError, match=r"25,001 nodes, more than max_nodes=20,000.*collapse="):
        viz.draw(loss)
    assert isinstance(viz.DrawingTooLargeError("x"), ValueError)


def test_max_nodes_is_an_explicit_override():
    loss = chain(300)
    with pytest.raises(viz.DrawingTooLargeError, match="max_nodes=100"):
        viz.draw(loss, max_nodes=100)
    assert viz.draw(loss, max_nodes=None, group=None).source.count('label="mul\\n') == 300
    assert viz.draw(loss, max_nodes=301, group=None).source.count('label="mul\\n') == 300
    with pytest.raises(viz.DrawingTooLargeError):   # the folded count is what matters
        viz.draw(unrolled_rnn(30)[0], collapse="steps", steps_shown=None, max_nodes=20)
    assert viz.draw(unrolled_rnn(30)[0], collapse="steps", steps_shown=4, max_nodes=20)


def test_unrolled_op_level_drawing_past_the_limit_is_refused_not_elided(monkeypatch):
    output, _ = run_layer("lstm", 2_040, hidden=2, batch=1, inputs=1)   # 10 ops a step
    loss = output[-1].sum()
    with monkeypatch.context() as patch:
        _no_layout(patch)
        for options in ({}, {"steps_shown": None}, {"collapse": 3}):
            with pytest.raises(viz.DrawingTooLargeError, match=r"20,\d\d\d nodes.*collapse='steps'"):
                viz.draw(loss, **options)
    with pytest.warns(viz.ElisionWarning):   # the override: drawn, its middle steps elided
        dot = Dot(viz.draw(loss, max_nodes=None).source)
    assert [dot.title(s) for s in steps_of(dot, "lstm/l0")] == ["t0", "t1", "t2038", "t2039"]
    steps = Dot(viz.draw(loss, collapse="steps").source)   # what the error suggests
    assert titles(steps) == ["t0", "t1", "t2…t2037", "t2038", "t2039"]


@pytest.mark.parametrize("options, error, words", [
    ({"steps_shown": -1}, ValueError, "steps_shown=-1 must be >= 0"),
    ({"steps_shown": 2.0}, TypeError, "steps_shown must be an int or 'auto' or None"),
    ({"steps_shown": "some"}, TypeError, "steps_shown must be an int or 'auto' or None"),
    ({"max_nodes": True}, TypeError, "max_nodes must be an int or None"),
])
def test_bad_elision_options_are_named(options, error, words):
    with pytest.raises(error, match=re.escape(words)):
        viz.draw(unrolled_rnn(2)[0], **options)


def test_1000_step_lstm_collapsed_is_narrow(has_dot):
    """Its speed is bench.viz's to measure (~0.15 s), not a test's."""
    mg.manual_seed(0)
    output, _ = run_layer("lstm", 1000, hidden=32, batch=8, inputs=32)
    loss = output[-1].sum()
    source = viz.draw(loss, collapse="steps").source
    svg = subprocess.run(["dot", "-Tsvg"], input=source.encode(), capture_output=True, check=True).stdout.decode()
    width = int(re.search(r'<svg width="(\d+)pt"', svg).group(1))
    assert width <= 2000 and ">t999</text>" in svg and "996 steps elided" in svg


# --- wrapping a long row -------------------------------------------------------------------------------------

def test_wrap_lays_step_boxes_out_in_rows_top_to_bottom():
    loss, _ = unrolled_rnn(12)
    source = viz.draw(loss, collapse="steps", steps_shown=None, wrap=5).source
    dot = Dot(source)
    assert "rankdir=TB" in source
    names = [[dot.nodes[i].split("\\n")[0] for i in row] for row in dot.ranks]
    assert names == [["t0", "t1", "t2", "t3", "t4"], ["t5", "t6", "t7", "t8", "t9"], ["t10", "t11"]]
    # same nodes and edges as the unwrapped drawing: only the layout changes
    plain = Dot(viz.draw(loss, collapse="steps", steps_shown=None).source)
    assert plain.nodes == dot.nodes and plain.edges == dot.edges and not plain.ranks


def test_wrap_keeps_each_layer_in_its_own_rows_and_counts_an_elided_run_as_one_box():
    output, _ = run_layer("gru", 12, bidirectional=True)
    dot = Dot(viz.draw(output.sum(), collapse="steps", steps_shown=4, wrap=3).source)
    names = [[dot.nodes[i].split("\\n")[0] for i in row] for row in dot.ranks]
    assert names == [["t0", "t1", "t2…t9"], ["t10", "t11"], ["t11", "t10", "t2…t9"], ["t1", "t0"]]
    assert all(len({dot.home[i] for i in row}) == 1 for row in dot.ranks)   # a row never spans two layers


@pytest.mark.parametrize("options, error, words", [
    ({"wrap": 0, "collapse": "steps"}, ValueError, "wrap=0 must be >= 1"),
    ({"wrap": "5", "collapse": "steps"}, TypeError, "wrap must be an int or None"),
    ({"wrap": 4, "collapse": "steps", "rankdir": "RL"}, ValueError, "rankdir='RL' cannot be combined"),
    ({"wrap": 4}, ValueError, "pass collapse='steps' as well"),
])
def test_bad_wrap_is_named(options, error, words):
    with pytest.raises(error, match=re.escape(words)):
        viz.draw(unrolled_rnn(6)[0], **options)


def test_wrapped_drawing_renders(has_dot):
    output, _ = run_layer("lstm", 20)
    svg = viz.draw(output[-1].sum(), collapse="steps", steps_shown=None, wrap=5, show_grads=True).pipe("svg")
    width, height = (int(v) for v in re.search(rb'<svg width="(\d+)pt" height="(\d+)pt"', svg).groups())
    assert height > width / 3 and b">t19</text>" in svg
