"""Graph drawing (minigrad.viz): DOT structure, zoom levels, ghosts, gradient overlay, files, CLI."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import graphviz
import pytest

import minigrad as mg
import nn
from minigrad import viz
from minigrad.autograd import retain_grad, tag

ROOT = Path(__file__).resolve().parents[2]

# --- reading DOT text back ------------------------------------------------------------------------------

_NODE = re.compile(r'^\t+(\w+) \[label=(".*?(?<!\\)"|<.*>|\w+)')
_EDGE = re.compile(r"^\t+(\w+) -> (\w+)(?: \[(.*)\])?$")
_OPEN = re.compile(r"^\t+subgraph (\w+) \{$")
_LABEL = re.compile(r'label=(".*?(?<!\\)"|\w+)')


class Dot:
    """Clusters (nested, labelled), nodes (id → label, cluster) and edges of a drawn graph."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.clusters: dict[str, dict] = {}
        self.nodes: dict[str, str] = {}
        self.home: dict[str, str | None] = {}
        self.edges: list[tuple[str, str, str]] = []
        stack: list[str] = []
        for line in source.splitlines():
            if m := _OPEN.match(line):
                name = m.group(1)
                self.clusters[name] = {"label": None, "parent": stack[-1] if stack else None, "nodes": []}
                stack.append(name)
            elif line.strip() == "}":
                if stack:
                    stack.pop()
            elif line.strip().startswith("graph [") and stack:
                label = _LABEL.search(line)
                self.clusters[stack[-1]]["label"] = label.group(1).strip('"') if label else None
            elif m := _EDGE.match(line):
                self.edges.append((m.group(1), m.group(2), m.group(3) or ""))
            elif m := _NODE.match(line):
                self.nodes[m.group(1)] = m.group(2).strip('"')
                self.home[m.group(1)] = stack[-1] if stack else None
                if stack:
                    self.clusters[stack[-1]]["nodes"].append(m.group(1))

    def title(self, cluster: str) -> str:
        return self.clusters[cluster]["label"].split("\\n")[0]

    def path(self, cluster: str | None) -> str:
        parts = []
        while cluster is not None:
            parts.append(self.title(cluster))
            cluster = self.clusters[cluster]["parent"]
        return "/".join(reversed(parts))

    def by_path(self) -> dict[str, str]:
        return {self.path(name): name for name in self.clusters}

    def inside(self, cluster: str) -> list[str]:
        """Node ids in a cluster and its sub-clusters."""
        ids = list(self.clusters[cluster]["nodes"])
        for name, info in self.clusters.items():
            if info["parent"] == cluster:
                ids += self.inside(name)
        return ids

    def ops(self, ids: list[str]) -> list[str]:
        return [i for i in ids if re.fullmatch(r"n\d+", i)]

    def labelled(self, text: str) -> list[str]:
        return [i for i, label in self.nodes.items() if text in label]


def steps_of(dot: Dot, layer_path: str) -> list[str]:
    """The time-step clusters directly inside the cluster at ``layer_path``, in t order."""
    layer = dot.by_path()[layer_path]
    found = {dot.title(n): n for n, info in dot.clusters.items() if info["parent"] == layer}
    return [found[k] for k in sorted(found, key=lambda t: int(t[1:]))]


def run_layer(kind: str, steps: int, hidden: int = 4, batch: int = 2, inputs: int = 3, **options):
    layer = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind](inputs, hidden, **options)
    output, state = layer(mg.randn(steps, batch, inputs))
    return output, state


def unrolled_rnn(steps: int, hidden: int = 3):
    """A tanh RNN unrolled by hand with scopes rnn/l0/t{t}; returns (loss, [h_t])."""
    w_hh = nn.Parameter(mg.randn(hidden, hidden) * 0.5)
    w_ih = nn.Parameter(mg.randn(hidden, 2) * 0.5)
    w_hh.name, w_ih.name = "rnn.weight_hh_l0", "rnn.weight_ih_l0"
    x = mg.randn(steps, 2, 2)
    h = mg.zeros(2, hidden)
    states = []
    with mg.name_scope("rnn"), mg.name_scope("l0"):
        for t in range(steps):
            with mg.name_scope(f"t{t}"):
                h = tag((x[t] @ w_ih.T + h @ w_hh.T).tanh(), "h")
                retain_grad(h)
                states.append(h)
    return (h ** 2).sum(), states


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


def test_collapse_steps_draws_one_box_per_step_with_edges_between():
    output, _ = run_layer("lstm", 40)
    full = Dot(viz.draw(output.sum()).source)
    dot = Dot(viz.draw(output.sum(), collapse="steps").source)
    boxes = [i for i in dot.nodes if i.startswith("b")]
    assert len(boxes) == 40 and len(full.nodes) > 10 * 40
    assert len(dot.nodes) < 40 + 25                    # O(T): boxes plus a fixed number of others
    assert dot.nodes[boxes[3]].startswith("t3\\n")
    counts = {re.search(r"(\d+) ops", dot.nodes[b]).group(1) for b in boxes}
    assert len(counts) == 1 and "(2, 4) float32" in dot.nodes[boxes[0]]
    chain = {(a, b) for a, b, _ in dot.edges}
    assert all((f"b{t}", f"b{t + 1}") in chain for t in range(39))
    # h and c both flow to the next step: one edge labelled with its multiplicity
    assert any(a == "b0" and b == "b1" and "×2" in attrs for a, b, attrs in dot.edges)


def test_collapse_levels_and_scope_paths():
    output, _ = run_layer("gru", 4, num_layers=2)
    zero = Dot(viz.draw(output.sum(), collapse=0).source)
    assert [zero.nodes[i].split("\\n")[0] for i in zero.nodes if i.startswith("b")] == ["gru"]
    one = Dot(viz.draw(output.sum(), collapse=1).source)
    assert sorted(one.nodes[i].split("\\n")[0] for i in one.nodes if i.startswith("b")) == ["l0", "l1"]
    assert list(one.by_path()) == ["gru"]
    two = Dot(viz.draw(output.sum(), collapse=2).source)
    assert len([i for i in two.nodes if i.startswith("b")]) == 8
    # a scope path folds just that part; it may be given from the top or at any depth
    for path in ("gru/l1", "l1"):
        part = Dot(viz.draw(output.sum(), collapse=path).source)
        assert [part.nodes[i].split("\\n")[0] for i in part.nodes if i.startswith("b")] == ["l1"]
        assert len(steps_of(part, "gru/l0")) == 4
    with pytest.raises(ValueError, match="'encoder' matches no name scope"):
        viz.draw(output.sum(), collapse="encoder")


def test_collapse_counts_parameters_used_inside_a_box():
    loss, _ = unrolled_rnn(5)
    dot = Dot(viz.draw(loss, collapse="steps").source)
    assert not dot.labelled("weight_hh")             # used only inside the boxes: part of them
    assert all("2 params" in dot.nodes[i] for i in dot.nodes if i.startswith("b"))   # weight_ih, weight_hh
    single = Dot(viz.draw(loss, collapse="steps", params="single").source)
    assert len(single.labelled("weight_hh")) == 1   # the true node, an edge to every box
    assert len([e for e in single.edges if e[0] == single.labelled("weight_hh")[0]]) == 5


def test_ungrouped_has_no_clusters():
    output, _ = run_layer("rnn", 3)
    dot = Dot(viz.draw(output.sum(), group=None).source)
    assert not dot.clusters and len(dot.ops(list(dot.nodes))) > 3 * 3


def test_same_graph_gives_byte_identical_dot():
    def build(seed):
        mg.manual_seed(seed)
        output, (h, c) = run_layer("lstm", 6, bidirectional=True)
        loss = output.sum() + h.sum()
        loss.backward(retain_graph=True, retain_grads=True)
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


# --- gradient overlay -------------------------------------------------------------------------------------

def test_gradient_labels_only_with_show_grads():
    loss, states = unrolled_rnn(5)
    loss.backward(retain_graph=True, retain_grads=True)
    plain = viz.draw(loss).source
    assert "‖∂L/∂h‖" not in plain and "legend" not in plain and not re.search(r"\d\.\de[-+]\d\d", plain)
    dot = Dot(viz.draw(loss, show_grads=True).source)
    assert "legend" in dot.nodes and "log scale" in dot.nodes["legend"]
    for t, s in enumerate(steps_of(dot, "rnn/l0")):
        expected = math.sqrt(float((states[t].grad.numpy().astype("float64") ** 2).sum()))
        assert dot.clusters[s]["label"] == f"t{t}\\n‖∂L/∂h‖ {expected:.1e}"
    labelled = [attrs for _, _, attrs in dot.edges if re.search(r"xlabel=\"?\d\.\de[-+]\d\d", attrs)]
    assert len(labelled) >= len(dot.edges) - 2 and all("color=" in a for a in labelled)


def test_gradient_edge_label_is_the_norm_sent_along_it():
    w = mg.tensor([3.0, 4.0], requires_grad=True)
    w.name = "w"
    loss = (w * 1.0).sum()
    loss.backward(retain_graph=True, retain_grads=True)
    dot = Dot(viz.draw(loss, show_grads=True).source)
    (edge,) = [attrs for a, _, attrs in dot.edges if a == dot.labelled("w\\n")[0]]
    assert "1.4e+00" in edge   # ‖(1, 1)‖ = √2


def test_vanishing_gradient_of_an_rnn_shows_in_the_step_labels():
    output, _ = run_layer("rnn", 12, hidden=8)
    loss = output[-1].sum()
    loss.backward(retain_graph=True, retain_grads=True)
    dot = Dot(viz.draw(loss, collapse="steps", show_grads=True).source)
    norms = [float(re.search(r"‖∂L/∂h‖ (\S+)", dot.nodes[f"b{t}"]).group(1)) for t in range(12)]
    assert norms[0] < norms[-1] / 100


def test_show_grads_without_recorded_norms_says_what_to_call():
    loss, _ = unrolled_rnn(2)
    with pytest.raises(RuntimeError, match=r"backward\(retain_graph=True, retain_grads=True\)"):
        viz.draw(loss, show_grads=True)
    loss.backward()   # norms are kept only when asked
    with pytest.raises(RuntimeError, match="retain_grads=True"):
        viz.draw(loss, show_grads=True)


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


# --- files --------------------------------------------------------------------------------------------------

def test_render_dot_needs_no_binary_and_names_the_path(tmp_path, monkeypatch):
    loss, _ = unrolled_rnn(2)
    monkeypatch.setattr(viz.shutil, "which", lambda name: None)
    written = viz.render(loss, path=tmp_path / "graph", format="dot")
    assert written == str(tmp_path / "graph.dot")
    assert Path(written).read_text(encoding="utf-8") == viz.draw(loss).source
    assert viz.render(loss, path=str(tmp_path / "exact.dot"), format="dot") == str(tmp_path / "exact.dot")
    assert viz.render(loss, path=tmp_path / "new" / "g.gv", format="dot") == str(tmp_path / "new" / "g.gv.dot")
    with pytest.raises(viz.DotNotFoundError, match="apt-get install graphviz"):
        viz.render(loss, path=tmp_path / "graph", format="svg")
    with pytest.raises(ValueError, match="format must be one of svg, png, pdf, dot"):
        viz.render(loss, path=tmp_path / "graph", format="jpg")


def test_render_passes_draw_options(tmp_path):
    loss, _ = unrolled_rnn(3)
    written = viz.render(loss, path=tmp_path / "g", format="dot", collapse="steps", params="single")
    assert Path(written).read_text(encoding="utf-8") == viz.draw(loss, collapse="steps", params="single").source


def test_jupyter_shows_svg_or_says_how_to_install(has_dot, monkeypatch):
    loss, _ = unrolled_rnn(2)
    graph = viz.draw(loss)
    assert isinstance(graph, graphviz.Digraph)
    assert "<svg" in graph._repr_mimebundle_()["image/svg+xml"]
    monkeypatch.setenv("PATH", "")
    bundle = graph._repr_mimebundle_()
    assert "apt-get install graphviz" in bundle["text/plain"] and "digraph" in bundle["text/plain"]


def test_100_step_lstm_at_op_level_renders_to_svg(has_dot, tmp_path):
    output, _ = run_layer("lstm", 100, hidden=8)
    written = viz.render(output[-1].sum(), path=tmp_path / "lstm100", format="svg")
    text = Path(written).read_text(encoding="utf-8")
    assert "<svg" in text and ">t99<" in text and ">t0<" in text


def test_1000_step_lstm_collapsed_renders_to_svg(has_dot, tmp_path):
    output, _ = run_layer("lstm", 1000, hidden=4, batch=1, inputs=2)
    written = viz.render(output[-1].sum(), path=tmp_path / "lstm1000.svg", format="svg", collapse="steps")
    assert written == str(tmp_path / "lstm1000.svg")
    text = Path(written).read_text(encoding="utf-8")
    assert "<svg" in text and ">t999</text>" in text


# --- command line ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("model", ["rnn", "lstm", "gru", "seq2seq"])
def test_cli_writes_dot_for_each_model(model, tmp_path, capsys):
    out = tmp_path / model
    assert viz.main(["--model", model, "--steps", "3", "--hidden", "4", "--format", "dot", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}.dot"
    dot = Dot((tmp_path / f"{model}.dot").read_text(encoding="utf-8"))
    layer = f"{model}/l0" if model != "seq2seq" else "seq2seq/encoder/l0"
    assert [dot.title(s) for s in steps_of(dot, layer)] == ["t0", "t1", "t2"]


def test_cli_options_reach_the_drawing(tmp_path, capsys):
    out = tmp_path / "g.dot"
    args = ["--model", "lstm", "--steps", "4", "--layers", "2", "--bidirectional", "--grads", "--collapse",
            "steps", "--format", "dot", "--out", str(out), "--batch", "3", "--input-size", "5"]
    assert viz.main(args) == 0
    dot = Dot(out.read_text(encoding="utf-8"))
    boxes = [i for i in dot.nodes if i.startswith("b")]
    assert len(boxes) == 16 and all("‖∂L/∂h‖" in dot.nodes[b] and "(3, 8) float32" in dot.nodes[b] for b in boxes)
    assert viz.main(["--model", "seq2seq", "--collapse", "nowhere", "--format", "dot", "--out", str(out)]) == 1
    assert "matches no name scope" in capsys.readouterr().err


@pytest.mark.parametrize("fmt, magic", [("svg", b"<?xml"), ("png", b"\x89PNG"), ("pdf", b"%PDF")])
def test_cli_writes_each_picture_format(fmt, magic, has_dot, tmp_path):
    out = tmp_path / "picture"
    assert viz.main(["--model", "gru", "--steps", "2", "--hidden", "3", "--format", fmt, "--out", str(out)]) == 0
    assert (tmp_path / f"picture.{fmt}").read_bytes().startswith(magic)


def test_python_dash_m_runs_the_cli(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "minigrad.viz", "--model", "rnn", "--steps", "2", "--format", "dot",
         "--out", str(tmp_path / "rnn")],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote {tmp_path / 'rnn'}.dot"
    assert (tmp_path / "rnn.dot").read_text(encoding="utf-8").startswith("digraph")


def test_step_norm_comes_from_a_cell_called_inside_the_step():
    cell = nn.LSTMCell(3, 4)
    state = None
    with mg.name_scope("loop"):
        for t in range(3):
            with mg.name_scope(f"t{t}"):
                state = cell(mg.randn(2, 3), state)   # ops in loop/t{t}/lstmcell
    loss = state[0].sum()
    loss.backward(retain_graph=True, retain_grads=True)
    dot = Dot(viz.draw(loss, collapse="steps", show_grads=True).source)
    boxes = [i for i in dot.nodes if i.startswith("b")]
    assert len(boxes) == 3 and all("‖∂L/∂h‖" in dot.nodes[b] for b in boxes)
    # the cell reads its weights at every call: one dashed copy per step
    assert len(Dot(viz.draw(loss).source).labelled("weight_hh\\n")) == 3
