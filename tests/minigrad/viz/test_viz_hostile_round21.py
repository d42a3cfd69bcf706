"""Regressions found by fuzzing mg.viz with hostile text, paths and sizes (round 21; /tmp/fuzz21_viz_hostile.py).

The reference is Graphviz itself (the DOT text must parse and draw the user's text) and the same drawing made
with plain names (the same nodes, edges and clusters). Root causes: (1) a lone surrogate in a name (a name
made by ``os.fsdecode`` from bytes that are not UTF-8) made DOT text no UTF-8 encoder takes: ``render`` and
Jupyter's display raised UnicodeEncodeError; (2) ``render`` wrote the file in place, so a write that failed
part way (a full disk, a file size limit) left a partial picture and destroyed the earlier one; (3) a module
assigned to an empty attribute name (``setattr(model, "", layer)``, which PyTorch runs) could not be called:
its name scope ``""`` was refused.
"""

from __future__ import annotations

import html
import os
import re
import signal
import subprocess

import pytest

import minigrad as mg
import nn
from minigrad import viz


def _drawn(source: str) -> tuple[int, int, int, list[str]]:
    """Nodes, edges, clusters and text lines Graphviz draws for a DOT source (read back from its SVG)."""
    result = subprocess.run(["dot", "-Tsvg"], input=source.encode("utf-8"), capture_output=True, timeout=60)
    assert result.returncode == 0 and not result.stderr, result.stderr.decode(errors="replace")
    svg = result.stdout.decode()
    counts = [len(re.findall(rf'<g id="{kind}\d+" class="', svg)) for kind in ("node", "edge", "clust")]
    return (*counts, [html.unescape(text) for text in re.findall(r"<text[^>]*>(.*?)</text>", svg, re.S)])


def _loss(leaf: str, scope: str, op: str) -> mg.Tensor:
    """A small graph whose leaf, scope and custom Function carry the given names."""
    custom = type("Custom", (mg.autograd.Function,), {   # minigrad's style: its ``name`` is drawn
        "name": op, "forward": lambda self, a: a * 2, "backward": lambda self, g: g * 2})
    x = mg.randn(2, 3, requires_grad=True)
    x.name = leaf
    with mg.name_scope(scope):
        return (custom()(x.tanh()) ** 2).sum()


@pytest.mark.parametrize("name", ["a\udcffb", "\ud800", "x\udcff\\n&amp;"])
def test_a_name_with_a_lone_surrogate_is_drawn_as_python_writes_it(name, has_dot, tmp_path):
    """A leaf, scope or op named with a lone surrogate made ``render`` (and Jupyter's display of the drawing)
    raise UnicodeEncodeError; now the surrogate is drawn as ``\\udcff``, the rest of the name as written."""
    graph = viz.draw(_loss(name, name, name), show_grads=True)
    shown = name.encode("utf-8", "backslashreplace").decode()
    assert _drawn(graph.source)[3].count(shown) == 3   # the leaf, the scope's cluster and the op
    path = viz.render(_loss(name, name, name), path=tmp_path / "g", format="dot", collapse=0)
    assert shown.replace("\\", "\\\\").replace("&amp;", "&amp;amp;") in open(path, encoding="utf-8").read()
    graph._repr_mimebundle_()   # what Jupyter calls


@pytest.mark.parametrize("name", ['"]; x [label="', '"]; a -> b; c [label="', "<<b>x</b>>", "node", "subgraph",
                                  "a\\", "{x|y}", "\x01\x1b[31m\x7f", "\u202eRTL 🔥"])
def test_hostile_names_add_no_node_edge_or_cluster(name, has_dot):
    """A guard: a name written to DOT is text, never DOT syntax (the fuzzer found no injection)."""
    plain = _drawn(viz.draw(_loss("leaf", "scope", "op")).source)
    hostile = _drawn(viz.draw(_loss(name, name.replace("/", "|"), name)).source)
    assert hostile[:3] == plain[:3]


@pytest.mark.parametrize("earlier", [None, "the earlier drawing"])
def test_render_that_fails_part_way_leaves_no_partial_file_and_keeps_the_earlier_one(earlier, tmp_path):
    """A write cut short (here by a file size limit; a full disk does the same) left a truncated file and had
    already destroyed the earlier drawing at that path; now the file is written whole or not at all."""
    resource = pytest.importorskip("resource", reason="no file size limit to set (not POSIX)")
    target = tmp_path / "graph.dot"
    if earlier is not None:
        target.write_text(earlier)
    loss = _loss("x" * 900, "scope", "op")   # DOT text of about 2 KB
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # the write fails with EFBIG instead of a signal
    resource.setrlimit(resource.RLIMIT_FSIZE, (1_000, hard))
    try:
        with pytest.raises(OSError, match=re.escape(repr(str(target)))):
            viz.render(loss, path=tmp_path / "graph", format="dot")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)
    assert os.listdir(tmp_path) == ([] if earlier is None else ["graph.dot"])
    if earlier is not None:
        assert target.read_text() == earlier
    written = viz.render(loss, path=tmp_path / "graph", format="dot")   # without the limit it works
    assert os.path.getsize(written) > 1_000 and os.listdir(tmp_path) == ["graph.dot"]


def test_render_writes_through_a_symbolic_link(tmp_path):
    """Writing whole (a new file renamed over the old) still writes where a link points, as open() did."""
    (tmp_path / "real.dot").write_text("old")
    (tmp_path / "link.dot").symlink_to(tmp_path / "real.dot")
    viz.render(_loss("x", "s", "op"), path=tmp_path / "link", format="dot")
    assert (tmp_path / "link.dot").is_symlink() and (tmp_path / "real.dot").read_text().startswith("digraph")


def test_a_module_under_an_empty_attribute_name_is_called_and_drawn(torch):
    """``setattr(model, "", layer)`` is allowed by PyTorch, which then runs the model; minigrad raised
    ValueError in forward (name_scope refuses ""). The layer's scope is now drawn as ``''``."""

    def build(library):
        class Model(library.Module):
            def forward(self, x):
                return getattr(self, "")(x)

        model = Model()
        setattr(model, "", library.Linear(3, 2))
        return model

    ours, theirs = build(nn), build(torch.nn)
    ours.load_state_dict({k: mg.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    x = torch.randn(4, 3)
    out = ours(mg.tensor(x.numpy(), requires_grad=True))
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert abs(out.numpy() - theirs(x).detach().numpy()).max() < 1e-6
    assert "label=\"''\"" in viz.draw(out.sum()).source


def _nested_loss(depth: int) -> mg.Tensor:
    x = mg.randn(2, requires_grad=True)
    scopes = [mg.name_scope("s") for _ in range(depth)]
    for scope in scopes:
        scope.__enter__()
    try:
        return (x * 2).sum()
    finally:
        for scope in reversed(scopes):
            scope.__exit__(None, None, None)


def test_scopes_nested_a_thousand_deep_are_drawn(has_dot):
    """Scopes nested 1,000 deep (a recursive model) raised RecursionError (the clusters were written by
    recursion, and their text copied once per level: minutes at 3,000); now they are drawn in linear time."""
    nodes, edges, clusters, _ = _drawn(viz.draw(_nested_loss(1_000), show_grads=True).source)
    assert (nodes, edges, clusters) == (4, 2, 1_000)   # leaf, mul, sum, legend


def test_scopes_nested_deeper_than_graphviz_reads_are_refused_naming_the_way_out():
    """Past about 2,500 nested clusters dot's parser fails ("memory exhausted"); draw refuses past 2,000
    and says how to draw it anyway."""
    loss = _nested_loss(2_001)
    with pytest.raises(ValueError, match=r"nest 2,001 deep.*collapse=N.*group=None"):
        viz.draw(loss)
    assert viz.draw(loss, collapse=3).source.count("subgraph") == 3
    assert "subgraph" not in viz.draw(loss, group=None).source
