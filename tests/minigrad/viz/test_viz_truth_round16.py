"""Regressions found by fuzzing whether the drawings of minigrad.viz tell the truth (round 16)."""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest
from drawing_helpers import Dot, steps_of

import minigrad as mg
import nn
from minigrad import viz

torch = pytest.importorskip("torch", reason="no torch")


def _torch_norm(g: torch.Tensor) -> float:
    """The true 2-norm of a float64 gradient (scaled: torch's norm of 1e-200s underflows to 0)."""
    largest = g.abs().max()
    return 0.0 if largest == 0 else float(largest * (g / largest).norm())


def _label_norm(label: str) -> float:
    return float(re.search(r"‖∂L/∂h‖ ([^\s\\]+)", label).group(1))


def test_a_float64_gradient_that_vanishes_below_1e_154_keeps_its_norm():
    """‖∂L/∂h_t‖ of the early steps of a long float64 unroll was drawn as 0 (its squares underflowed) though the
    gradient is nonzero; a gradient of 1e200s was drawn as inf."""
    rng = np.random.default_rng(0)
    weights = {"weight_ih_l0": rng.standard_normal((3, 2)) * 0.02, "weight_hh_l0": rng.standard_normal((3, 3)) * 0.02,
               "bias_ih_l0": np.zeros(3), "bias_hh_l0": np.zeros(3)}
    x = rng.standard_normal((120, 1, 2))
    layer = nn.RNN(2, 3).to(mg.float64)
    layer.load_state_dict({k: mg.tensor(v) for k, v in weights.items()})
    out, _ = layer(mg.tensor(x))
    dot = Dot(viz.draw(out[-1].sum(), show_grads=True).source)

    params = {k: torch.tensor(v, requires_grad=True) for k, v in weights.items()}
    h, states = torch.zeros(1, 3, dtype=torch.float64), []
    for t in range(120):
        h = torch.tanh(torch.tensor(x[t]) @ params["weight_ih_l0"].T + h @ params["weight_hh_l0"].T)
        h.retain_grad()
        states.append(h)
    h.sum().backward()
    want = [_torch_norm(s.grad) for s in states]
    assert 0 < want[0] < 1e-160   # torch's own h.grad.norm() is 0 here
    got = [_label_norm(dot.clusters[c]["label"]) for c in steps_of(dot, "rnn/l0")]
    assert len(got) == 120
    for t, (g, w) in enumerate(zip(got, want)):
        assert math.isclose(g, w, rel_tol=0.051), (t, g, w)

    x = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    with mg.name_scope("rnn"), mg.name_scope("t0"):
        h = mg.tag(x * 3.0, "h")
    label = Dot(viz.draw((h * 1e200).sum(), show_grads=True).source).clusters["cluster_rnn_t0"]["label"]
    assert label == "t0\\n‖∂L/∂h‖ 1.4e+200"


def _torch_lstm_states(layer: nn.LSTM, x: np.ndarray, loss_of) -> list[torch.Tensor]:
    """h_t of a one-layer LSTM unrolled in torch with ``layer``'s weights, each with its .grad of ``loss_of(out)``."""
    w = {k: torch.tensor(v.numpy(), requires_grad=True) for k, v in layer.state_dict().items()}
    hidden = layer.hidden_size
    h = torch.zeros(x.shape[1], hidden, dtype=torch.float64)
    c = torch.zeros_like(h)
    states = []
    for t in range(x.shape[0]):
        gates = torch.tensor(x[t]) @ w["weight_ih_l0"].T + w["bias_ih_l0"] + h @ w["weight_hh_l0"].T + w["bias_hh_l0"]
        i, f, g, o = gates.chunk(4, -1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        h.retain_grad()
        states.append(h)
    loss_of(torch.stack(states)).backward()
    return states


def test_a_fused_lstm_step_shows_the_gradient_of_its_h_output():
    """nn.LSTM(fused=True) makes h and c with one two-output op (lstm_gates); tagging c after h overwrote the op's
    tag, so no step showed ‖∂L/∂h‖ (they showed "grads sent back") and the op was labelled [c]."""
    mg.manual_seed(0)
    layer = nn.LSTM(2, 3, fused=True).to(mg.float64)
    x = np.random.default_rng(1).standard_normal((4, 2, 2))
    out, _ = layer(mg.tensor(x))
    dot = Dot(viz.draw((out ** 2).sum(), show_grads=True).source)
    states = _torch_lstm_states(layer, x, lambda out: (out ** 2).sum())
    labels = [dot.clusters[c]["label"] for c in steps_of(dot, "lstm/l0")]
    assert len(labels) == 4 and all("‖∂L/∂h‖" in label for label in labels), labels
    for label, h in zip(labels, states):
        assert math.isclose(_label_norm(label), h.grad.norm().item(), rel_tol=0.051)
    assert len(dot.labelled("lstm_gates  [h, c]")) == 4

    x = mg.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    with mg.name_scope("rnn"), mg.name_scope("t0"):
        first, second = mg.unbind(x * 1.0, 0)
        mg.tag(second, "h")   # output 1 of unbind: its gradient, not output 0's
    label = Dot(viz.draw((first * 10).sum() + second.sum(), show_grads=True).source).clusters["cluster_rnn_t0"]["label"]
    assert label == "t0\\n‖∂L/∂h‖ 1.4e+00"


def test_render_checks_that_its_path_names_a_file(tmp_path, capsys):
    """render(path="runs/") wrote a hidden "runs/.dot" (path="" a ".dot" in the working folder); a bytes path
    raised a TypeError from str.endswith; a file in the folder part raised FileExistsError; the CLI printed a
    traceback for these."""
    x = mg.randn(3, requires_grad=True)
    loss = (x * 2).sum()
    (tmp_path / "taken.dot").mkdir()
    (tmp_path / "afile").write_text("")
    for path, error, words in [(f"{tmp_path}/", ValueError, "must name a file"), ("", ValueError, "must name a file"),
                               (tmp_path / "taken.dot", IsADirectoryError, "it is a folder"),
                               (tmp_path / "afile" / "g", NotADirectoryError, "is a file, not a folder")]:
        with pytest.raises(error, match=words):
            viz.render(loss, path=path, format="dot")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "taken.dot"]
    written = viz.render(loss, path=bytes(tmp_path / "g b"), format="dot")
    assert written == str(tmp_path / "g b.dot") and open(written, encoding="utf-8").read().startswith("digraph")
    assert viz.main(["--model", "rnn", "--steps", "1", "--format", "dot", "--out", str(tmp_path / "afile" / "g")]) == 1
    assert "minigrad.viz: render: cannot write" in capsys.readouterr().err


def test_a_layer_called_twice_shows_both_calls_gradients_at_each_step():
    """Both calls of one LSTM record their steps in the same lstm/l0/t{t} scopes: each step showed only the last
    call's ‖∂L/∂h_t‖, and the first call's values were nowhere in the drawing."""
    mg.manual_seed(0)
    layer = nn.LSTM(2, 3).to(mg.float64)
    rng = np.random.default_rng(2)
    xa, xb = rng.standard_normal((3, 1, 2)), rng.standard_normal((3, 1, 2)) * 5
    a, _ = layer(mg.tensor(xa))
    b, _ = layer(mg.tensor(xb))
    dot = Dot(viz.draw((a ** 2).sum() + (b * 10).sum(), show_grads=True).source)
    first = _torch_lstm_states(layer, xa, lambda out: (out ** 2).sum())
    second = _torch_lstm_states(layer, xb, lambda out: (out * 10).sum())
    labels = [dot.clusters[c]["label"] for c in steps_of(dot, "lstm/l0")]
    assert labels == [f"t{t}\\n‖∂L/∂h‖ {h.grad.norm().item():.1e}, {g.grad.norm().item():.1e}"
                      for t, (h, g) in enumerate(zip(first, second))]


def test_the_legend_reaches_the_largest_gradient_norm():
    """The legend's cells stepped from the smallest decade by a stride and could stop short of the largest: norms
    from 1e-10 to 8.7 showed cells up to 1e0 while the largest edges were drawn in the darker colour of 1e1."""
    x = mg.randn(3, requires_grad=True)
    loss = (x * 1e-10).sum() + (x * 5).sum()
    legend = Dot(viz.draw(loss, show_grads=True).source).nodes["legend"]
    exponents = [int(e) for e in re.findall(r">1e(-?\d+)<", legend)]
    assert exponents[0] == -10 and exponents[-1] == 1 and len(exponents) <= 10


def test_show_grads_warns_that_hooks_which_may_change_gradients_are_not_run():
    """A hook on an op's output (or a module's backward hook) that replaces the gradient changes what backward()
    sends on, but draw's observed walk runs no user code: the drawn norms silently differed from backward's."""
    x = mg.ones(3, requires_grad=True)
    y = x * 2
    loss = (y * 3).sum()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        viz.draw(loss, show_grads=True)   # no hook: no warning
    y.register_hook(lambda g: g * 100)
    with pytest.warns(UserWarning, match=r"hooks .* on the outputs of mul; .* draw does not run them"):
        source = viz.draw(loss, show_grads=True).source
    assert 'xlabel="1.0e+01"' in source   # what x's edge carries without the hook (3·2·1 per element)
    layer = nn.Linear(3, 2)
    layer.register_full_backward_hook(lambda module, grad_input, grad_output: (grad_input[0] * 100,))
    with pytest.warns(UserWarning, match="on the outputs of backward_hook"):
        viz.draw(layer(mg.randn(4, 3, requires_grad=True)).sum(), show_grads=True)
