"""Regressions found by differential fuzzing of minigrad.viz against DESIGN.md §4 (round 14)."""

from __future__ import annotations

import html
import re
import subprocess
import warnings

import numpy as np
import pytest
from drawing_helpers import Dot

import minigrad as mg
import nn
from minigrad import viz


def _tagged_loss() -> tuple[mg.Tensor, mg.Tensor]:
    mg.manual_seed(0)
    x = mg.randn(2, 3, requires_grad=True)
    with mg.name_scope("rnn"), mg.name_scope("t0"):
        h = mg.tag((x * 3).tanh(), "h")
    h.retain_grad()
    return (h ** 2).sum(), h


def test_a_loss_given_twice_is_observed_once():
    """draw(loss, loss, show_grads=True) showed every norm √2 times too large (the loss was walked twice)."""
    loss, h = _tagged_loss()
    once = viz.draw(loss, show_grads=True).source
    assert viz.draw(loss, loss, show_grads=True).source == once
    assert viz.draw(loss, [loss, (loss,)], show_grads=True).source == once
    label = Dot(once).clusters["cluster_rnn_t0"]["label"]
    loss.backward()
    want = float((h.grad.numpy().astype("float64") ** 2).sum() ** 0.5)
    assert re.search(r"‖∂L/∂h‖ (\S+)", label).group(1) == f"{want:.1e}"


@pytest.mark.parametrize("bad", [["--collapse", "-1"], ["--collapse", ""], ["--collapse", "/"], ["--wrap", "2"],
                                 ["--seed", str(2 ** 64)], ["--seed", "x"]])
def test_cli_refuses_invalid_options_with_exit_2(bad, tmp_path, capsys):
    """These options can never draw anything: a usage error (exit 2) before the model is built, not exit 1
    (--seed 2**64 was a traceback from manual_seed)."""
    with pytest.raises(SystemExit) as exit_:
        viz.main(["--model", "rnn", "--steps", "1", *bad, "--format", "dot", "--out", str(tmp_path / "g")])
    assert exit_.value.code == 2
    assert bad[0] in capsys.readouterr().err
    assert not (tmp_path / "g.dot").exists()


def test_wrap_without_time_steps_does_not_suggest_collapse_steps():
    """wrap= on a graph without t{t} scopes said "pass collapse='steps' as well" even when it had been passed."""
    x = mg.randn(2, 3, requires_grad=True)
    with mg.name_scope("block"):
        loss = (x * 2).sum()
    for collapse in ("steps", 0, None):
        with pytest.raises(ValueError, match=r"no time-step scope \(t0, t1, ...\)"):
            viz.draw(loss, collapse=collapse, wrap=2)


def test_cli_writes_the_out_path_whose_upper_case_ending_gave_the_format(tmp_path, capsys):
    """`--out g.DOT` took the format from the ending but wrote g.DOT.dot."""
    out = tmp_path / "g.DOT"
    assert viz.main(["--model", "rnn", "--steps", "1", "--hidden", "2", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("digraph")
    assert [p.name for p in tmp_path.iterdir()] == ["g.DOT"]
    assert capsys.readouterr().out.strip() == f"wrote {out}"


def test_complex_gradient_norms_count_the_imaginary_part(torch):
    """The norm of a complex gradient dropped its imaginary part (NumPy's cast to float64, a ComplexWarning)."""
    x = mg.tensor(np.array([1 + 2j, 3 - 1j], dtype=np.complex64), requires_grad=True)
    with mg.name_scope("rnn"), mg.name_scope("t0"):
        h = mg.tag(x * (2 + 1j), "h")
    loss = h.abs().sum()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        label = Dot(viz.draw(loss, show_grads=True).source).clusters["cluster_rnn_t0"]["label"]
    tx = torch.tensor([1 + 2j, 3 - 1j], dtype=torch.complex64, requires_grad=True)
    th = tx * (2 + 1j)
    th.retain_grad()
    th.abs().sum().backward()
    assert re.search(r"‖∂L/∂h‖ (\S+)", label).group(1) == f"{th.grad.norm().item():.1e}" == "1.4e+00"


@pytest.mark.parametrize("name", ["<pad>", "<a&b>", "<i>x<i>"])
def test_names_in_angle_brackets_are_plain_text(name, has_dot):
    """A parameter or scope named like ``<pad>`` was written as an HTML-like label (``label=<pad>``): Graphviz
    drew "pad", or failed on ``<a&b>``."""
    x = mg.randn(3, requires_grad=True)
    w = nn.Parameter(mg.randn(3))
    w.name = name
    with mg.name_scope(name):
        loss = (x * w).sum()
    for options in ({"show_shapes": False}, {"collapse": 0, "show_shapes": False}):
        source = viz.draw(loss, **options).source
        assert f'"{name}' in source and f"={name}" not in source
        result = subprocess.run(["dot", "-Tsvg"], input=source.encode(), capture_output=True)
        assert result.returncode == 0, result.stderr
        assert html.escape(name, quote=False) in result.stdout.decode()


def test_show_grads_runs_no_module_backward_hook() -> None:
    """draw(show_grads=True) observes a backward and changes nothing: a module's backward hooks do not run."""
    layer, calls = nn.Linear(3, 2), []
    layer.register_full_backward_hook(lambda module, grad_input, grad_output: calls.append("full"))
    layer.register_full_backward_pre_hook(lambda module, grad_output: calls.append("pre"))
    loss = layer(mg.randn(4, 3, requires_grad=True)).sum()
    loss.backward(retain_graph=True)
    assert calls == ["pre", "full"]
    mg.viz.draw(loss, show_grads=True)
    assert calls == ["pre", "full"]
