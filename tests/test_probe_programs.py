"""Regression tests for what porting more PyTorch programs (tests/test_pytorch_programs.py) found missing.

* ``torch.autograd.Variable`` (older RNN tutorials: ``from torch.autograd import Variable``,
  ``Variable(torch.zeros(...))`` for hidden states): ``minigrad/autograd/variable.py``.

The short program text below is written here in that pre-0.4 style; it copies no particular tutorial.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from helpers import assert_close

import minigrad as mg


def test_variable_as_torchs_legacy_wrapper(torch: Any) -> None:
    from minigrad.autograd import Variable  # noqa: PLC0415 - spelled as older programs import it

    data = np.arange(3, dtype=np.float32)
    for lib, wrap in ((mg, Variable), (torch, torch.autograd.Variable)):
        t = lib.from_numpy(data.copy())
        v = wrap(t, requires_grad=True)
        assert v is not t and v.requires_grad and v.is_leaf and not t.requires_grad
        assert isinstance(t, wrap) and isinstance(v, lib.Tensor)
        assert wrap(v * 2).grad_fn is None and not wrap(v * 2).requires_grad   # detached from the graph
        with lib.no_grad():
            v[0] = 7.0
        assert t[0].item() == 7.0   # the same memory
        with pytest.warns(UserWarning, match="volatile was removed"):
            wrap(t, volatile=True)
        with pytest.raises(TypeError, match="Variable data has to be a tensor, but got list"):
            wrap([1.0])
    assert issubclass(mg.Tensor, Variable)


def test_an_old_tutorial_rnn_with_variables_as_torch(torch: Any) -> None:
    """The hidden state made as ``Variable(torch.zeros(...))`` and the input as ``Variable(x)`` (pre-0.4 code)."""
    source = """
def run(weights, x):
    rnn = torch.nn.GRU(3, 4)
    rnn.load_state_dict(weights)
    hidden = Variable(torch.zeros(1, x.size(1), 4))
    output, hidden = rnn(Variable(x, requires_grad=True), hidden)
    loss = output.pow(2).mean()
    loss.backward()
    return loss.item(), rnn.weight_hh_l0.grad
"""
    weights = torch.nn.GRU(3, 4).state_dict()
    x = np.random.default_rng(12).standard_normal((5, 2, 3)).astype(np.float32)
    results = []
    for lib in (torch, mg):
        namespace = {"torch": lib, "Variable": lib.autograd.Variable}
        exec(source, namespace)   # noqa: S102 - our own program text
        state = {k: lib.from_numpy(v.numpy().copy()) for k, v in weights.items()}
        results.append(namespace["run"](state, lib.from_numpy(x.copy())))
    (loss, grad), (torch_loss, torch_grad) = results[1], results[0]
    assert loss == pytest.approx(torch_loss, rel=1e-5)
    assert_close(grad, torch_grad, rtol=1e-4, atol=1e-6, what="weight_hh_l0 gradient")


def test_weight_init_code_finds_the_recurrent_base_classes_and_copy_errors_name_shapes(torch: Any) -> None:
    """``isinstance(m, nn.RNNBase)`` / ``nn.RNNCellBase`` as in PyTorch's weight-init loops; a copy_ whose
    source does not broadcast names both shapes."""
    for lib in (mg.nn, torch.nn):
        layers = [lib.LSTM(2, 3), lib.GRU(2, 3), lib.RNN(2, 3), lib.LSTMCell(2, 3), lib.Linear(2, 3)]
        assert [isinstance(m, lib.RNNBase) for m in layers] == [True, True, True, False, False]
        assert [isinstance(m, lib.RNNCellBase) for m in layers] == [False, False, False, True, False]
    for base in (mg.nn.RNNBase, mg.nn.RNNCellBase):   # torch's take mode first: a call written for it fails
        with pytest.raises(TypeError, match="isinstance"):
            base("LSTM", 3, 4)
    with mg.no_grad(), pytest.raises(ValueError, match=r"source of shape \(3, 3\).*\(3, 4\)"):
        mg.nn.Linear(4, 3).weight.copy_(mg.ones(3, 3))
