"""Regressions found by fuzzing mg.viz with hostile names, odd graphs, every option and the CLI (round 18).

Root causes: (1) a name's ``&`` was read by Graphviz as the start of an HTML entity (``a&amp;b`` drawn
``a&b``), and a NUL ended the DOT string (dot: syntax error); (2) a name or scope longer than 16 KiB made
DOT text Graphviz cannot read (a quoted string or an id past its 16,384-byte limit).
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess

import pytest

import minigrad as mg
from minigrad import viz

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="no dot")


def _drawn_texts(source: str) -> list[str]:
    """The text lines Graphviz draws for a DOT source (read back from its SVG)."""
    result = subprocess.run(["dot", "-Tsvg"], input=source.encode("utf-8"), capture_output=True, timeout=60)
    assert result.returncode == 0 and not result.stderr, result.stderr.decode(errors="replace")
    return [html.unescape(text) for text in re.findall(r"<text[^>]*>(.*?)</text>", result.stdout.decode(), re.S)]


def _named_loss(name: str) -> mg.Tensor:
    x = mg.randn(2, 3, requires_grad=True)
    x.name = name
    with mg.name_scope(name):
        return (x * 2).tanh().sum()


@needs_dot
@pytest.mark.parametrize("name, drawn", [("a&amp;b", "a&amp;b"), ("&lt;pad&gt;", "&lt;pad&gt;"),
                                         ("&#;&#65;", "&#;&#65;"),
                                         ("n\x00ul", "n\u2400ul"), ("\\N&\\G", "\\N&\\G")])
@pytest.mark.parametrize("collapse", [None, 0])
def test_names_with_entities_or_nul_are_drawn_as_written(name, drawn, collapse):
    """A leaf and a scope named ``a&amp;b`` were drawn ``a&b`` (Graphviz reads entities in labels);
    a NUL in a name ended the DOT string and dot refused the whole drawing."""
    texts = _drawn_texts(viz.draw(_named_loss(name), collapse=collapse, show_grads=True).source)
    assert texts.count(drawn) == 2   # the leaf, and the cluster or the box


@needs_dot
@pytest.mark.parametrize("char, collapse", [("y", None), ("&", None), ("\\", 0), ("\U0001f525", 0)])
def test_names_longer_than_16_kib_give_dot_that_graphviz_reads(char, collapse):
    """A 20,000-character name (or scope) made a quoted string, and a scope a cluster id, past Graphviz's
    16,384-byte limit: dot failed with a syntax error. Now the name keeps its start and end around a ``…``."""
    name = char * 20_000
    texts = _drawn_texts(viz.draw(_named_loss(name), collapse=collapse).source)
    shortened = [text for text in texts if "…" in text]
    assert shortened and all(text == char * 500 + "…" + char * 499 for text in shortened)


@pytest.mark.parametrize("bad, named", [(["--steps", str(10 ** 20)], "--steps"),
                                        (["--hidden", str(10 ** 8)], "--hidden"),
                                        (["--batch", "4096", "--hidden", "4096"], "--batch 4096"),
                                        (["--out", ""], "--out")])
def test_cli_refuses_a_model_too_large_to_build_naming_the_argument(bad, named, tmp_path, capsys):
    """``--steps 10**20`` was a traceback from deep inside randn, ``--hidden 10**8`` was killed by the kernel for
    memory, ``--out ''`` wrote runs/viz/lstm.dot: now each is a usage error (exit 2) before anything is built."""
    argv = ["--format", "dot", "--out", str(tmp_path / "g"), *bad]
    with pytest.raises(SystemExit) as exit_:
        viz.main(argv)
    assert exit_.value.code == 2
    assert named in capsys.readouterr().err


@pytest.mark.parametrize("folder", ["/proc/no_such_process", "/proc/self/fdinfo"])
def test_render_says_which_path_it_cannot_write(folder, tmp_path, capsys):
    """A path render could not write (no such folder under /proc, no permission) raised a bare OSError such as
    ``[Errno 2] No such file or directory: '/proc/x'``, and the CLI printed just that."""
    if not os.path.isdir("/proc/self"):
        pytest.skip("needs /proc")
    x = mg.randn(3, requires_grad=True)
    target = f"{folder}/g.dot"
    with pytest.raises(OSError, match=f"^render: cannot write {re.escape(repr(target))}: "):
        viz.render((x * 2).sum(), path=target, format="dot")
    assert viz.main(["--steps", "1", "--format", "dot", "--out", target]) == 1
    assert f"minigrad.viz: render: cannot write {target!r}: " in capsys.readouterr().err


def test_an_elided_run_counts_every_step_scope_even_two_with_one_number():
    """Steps were keyed by number, so a user's ``t3`` and ``t03`` (or ``t٣``) in one layer overwrote each other:
    with steps_shown=2 two of them were drawn as boxes inside the elided run, which said "6 steps elided"
    (there were 8) and left their ‖∂L/∂h‖ out of its range."""
    x = mg.randn(3, requires_grad=True)
    h = x
    with mg.name_scope("rnn"):
        for step in ["t0", "t1", "t2", "t3", "t03", "t4", "t5", "t\u0663", "t6", "t7"]:
            with mg.name_scope(step):
                h = mg.tag(h.tanh() * 2, "h")
    source = viz.draw(h.sum(), collapse="steps", steps_shown=2).source
    boxes = re.findall(r'label="([^"\\]+)', source)
    assert [b for b in boxes if b.startswith("t")] == ["t0", "t1…t6", "t7"]
    assert "8 steps elided" in source


@pytest.mark.parametrize("path, error, words", [
    (None, TypeError, "path must be a str, bytes or os.PathLike, got NoneType"),
    (123, TypeError, "got int"),
    ("g\x00.dot", ValueError, "must not contain a NUL"),
])
def test_render_names_itself_for_a_path_that_is_no_path(path, error, words):
    """render(path=None) raised os.fsdecode's "expected str, bytes or os.PathLike object" and a path with a NUL
    open's "embedded null byte", after drawing: neither said which call or argument was wrong."""
    x = mg.randn(3, requires_grad=True)
    with pytest.raises(error, match=f"^render: .*{re.escape(words)}"):
        viz.render((x * 2).sum(), path=path, format="dot")
