"""Graph drawing (minigrad.viz): writing files (render) and the command line (python -m minigrad.viz)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import graphviz
import pytest
from drawing_helpers import ROOT, Dot, run_layer, steps_of, unrolled_rnn

from minigrad import viz
from minigrad.viz.__main__ import main

# --- files --------------------------------------------------------------------------------------------------

def test_render_dot_needs_no_binary_and_names_the_path(tmp_path, monkeypatch):
    loss, _ = unrolled_rnn(2)
    monkeypatch.setattr("shutil.which", lambda name: None)
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
    written = viz.render(output[-1].sum(), path=tmp_path / "lstm1000.svg", format="svg", collapse="steps",
                         steps_shown=None)   # every step: still renders
    assert written == str(tmp_path / "lstm1000.svg")
    text = Path(written).read_text(encoding="utf-8")
    assert "<svg" in text and ">t999</text>" in text and ">t500</text>" in text



# --- command line ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("model", ["rnn", "lstm", "gru", "seq2seq"])
def test_cli_writes_dot_for_each_model(model, tmp_path, capsys):
    out = tmp_path / model
    assert main(["--model", model, "--steps", "3", "--hidden", "4", "--format", "dot", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}.dot"
    dot = Dot((tmp_path / f"{model}.dot").read_text(encoding="utf-8"))
    layer = f"{model}/l0" if model != "seq2seq" else "seq2seq/encoder/l0"
    assert [dot.title(s) for s in steps_of(dot, layer)] == ["t0", "t1", "t2"]


def test_cli_options_reach_the_drawing(tmp_path, capsys):
    out = tmp_path / "g.dot"
    args = ["--model", "lstm", "--steps", "4", "--layers", "2", "--bidirectional", "--grads", "--collapse",
            "steps", "--format", "dot", "--out", str(out), "--batch", "3", "--input-size", "5"]
    assert main(args) == 0
    dot = Dot(out.read_text(encoding="utf-8"))
    boxes = [i for i in dot.nodes if i.startswith("b")]
    assert len(boxes) == 16 and all("‖∂L/∂h‖" in dot.nodes[b] and "(3, 8) float32" in dot.nodes[b] for b in boxes)
    assert main(["--model", "seq2seq", "--collapse", "nowhere", "--format", "dot", "--out", str(out)]) == 1
    assert "matches no name scope" in capsys.readouterr().err


@pytest.mark.parametrize("fmt, magic", [("svg", b"<?xml"), ("png", b"\x89PNG"), ("pdf", b"%PDF")])
def test_cli_writes_each_picture_format(fmt, magic, has_dot, tmp_path):
    out = tmp_path / "picture"
    assert main(["--model", "gru", "--steps", "2", "--hidden", "3", "--format", fmt, "--out", str(out)]) == 0
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


def test_cli_elides_long_unrolls_and_refuses_huge_drawings(tmp_path, capsys):
    out = tmp_path / "g.dot"
    base = ["--model", "rnn", "--hidden", "2", "--batch", "1", "--input-size", "1", "--format", "dot",
            "--out", str(out)]
    assert main([*base, "--steps", "30", "--collapse", "steps", "--steps-shown", "4"]) == 0
    names = [label.split("\\n")[0] for i, label in Dot(out.read_text(encoding="utf-8")).nodes.items() if i[0] == "b"]
    assert names == ["t0", "t1", "t2…t27", "t28", "t29"]
    assert main([*base, "--steps", "101", "--collapse", "steps"]) == 0   # the default, 'auto': long layers elided
    names = [label.split("\\n")[0] for i, label in Dot(out.read_text(encoding="utf-8")).nodes.items() if i[0] == "b"]
    assert names == ["t0", "t1", "t2…t98", "t99", "t100"]
    assert main([*base, "--steps", "30", "--collapse", "steps", "--steps-shown", "all"]) == 0
    assert len([i for i in Dot(out.read_text(encoding="utf-8")).nodes if i[0] == "b"]) == 30
    capsys.readouterr()
    assert main([*base, "--steps", "30", "--max-nodes", "50", "--steps-shown", "all"]) == 1
    assert "more than max_nodes=50" in capsys.readouterr().err
    assert main([*base, "--steps", "30", "--collapse", "steps", "--steps-shown", "all", "--wrap", "10"]) == 0
    assert [len(row) for row in Dot(out.read_text(encoding="utf-8")).ranks] == [10, 10, 10]
    for bad in (["--steps-shown", "some"], ["--wrap", "0"]):
        with pytest.raises(SystemExit):
            main([*base, *bad])


def test_cli_seq2seq_is_built_from_nn_layers(tmp_path):
    out = tmp_path / "s.dot"
    assert main(["--model", "seq2seq", "--steps", "2", "--bidirectional", "--layers", "2", "--grads",
                 "--format", "dot", "--out", str(out)]) == 0
    dot = Dot(out.read_text(encoding="utf-8"))
    paths = dot.by_path()
    assert {"seq2seq/encoder/l1_reverse/t1", "seq2seq/decoder/l1/t1"} <= set(paths)
    assert dot.labelled("encoder.weight_hh_l0") and dot.labelled("output.weight")


def test_only_the_cli_imports_nn():
    sources = [p for p in (ROOT / "minigrad").rglob("*.py") if p.name != "__main__.py" or p.parent.name != "viz"]
    importing = [p for p in sources if re.search(r"^\s*(import nn\b|from nn\b)", p.read_text(encoding="utf-8"), re.M)]
    assert importing == []


def test_importing_viz_needs_neither_nn_nor_dot():
    code = ("import sys, minigrad as mg; assert 'minigrad.viz' not in sys.modules; mg.viz.draw; "
            "assert 'nn' not in sys.modules and 'minigrad.viz.__main__' not in sys.modules; print('ok')")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={"PATH": "", "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_cli_takes_the_format_from_the_out_path_when_none_is_given(tmp_path):
    assert main(["--model", "rnn", "--steps", "2", "--out", str(tmp_path / "g.dot")]) == 0
    assert (tmp_path / "g.dot").read_text(encoding="utf-8").startswith("digraph")   # not g.dot.svg
    assert not (tmp_path / "g.dot.svg").exists()
    assert main(["--model", "rnn", "--steps", "2", "--format", "dot", "--out", str(tmp_path / "h.txt")]) == 0
    assert (tmp_path / "h.txt.dot").exists()   # an explicit --format wins: render's path rule
