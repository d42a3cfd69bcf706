"""Round 20: an optimizer refuses to step a parameter whose elements share memory, as PyTorch does.

``load_state_dict(assign=True)`` of an expanded tensor (as a tampered or hand-built checkpoint can hold) made
every row one memory location: the in-place update wrote one value to all rows without an error.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")
pytestmark = pytest.mark.usefixtures("torch_optim_loaded")

NAMES = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop",
         "LBFGS", "Adafactor"]


def _stepped(lib: str, name: str, writable: bool) -> str:
    """Load an expanded (4, 3) weight with assign=True, take one step; the exception class, or 'ok'."""
    if lib == "torch":
        weight = torch.arange(3.0).expand(4, 3)
        model, optim, ones = torch.nn.Linear(3, 4, bias=False), torch.optim, torch.ones
    else:
        base = np.arange(3.0, dtype=np.float32)    # writable: as a loaded view; else a read-only expand()
        array = np.lib.stride_tricks.as_strided(base, (4, 3), (0, 4))
        weight = mg.from_numpy(array) if writable else mg.tensor(base).expand(4, 3)
        model, optim, ones = nn.Linear(3, 4, bias=False), nn.optim, mg.ones
    model.load_state_dict({"weight": weight}, assign=True)
    opt = getattr(optim, name)(model.parameters(), lr=0.1)

    def closure():
        opt.zero_grad()
        loss = model(ones(2, 3)).sum()
        loss.backward()
        return loss

    closure()
    try:
        opt.step(closure) if name == "LBFGS" else opt.step()
    except Exception as error:     # noqa: BLE001 - the class is what is compared
        return type(error).__name__
    return "ok"


@pytest.mark.parametrize("name", NAMES)
def test_expanded_parameter_is_refused_as_torch(name: str) -> None:
    expected = _stepped("torch", name, writable=True)
    assert expected == "RuntimeError"
    for writable in (True, False):
        assert _stepped("mg", name, writable) == expected


def test_refusal_changes_nothing() -> None:
    array = np.lib.stride_tricks.as_strided(np.arange(3.0), (4, 3), (0, 8))
    model = nn.Linear(3, 4, bias=False, dtype=mg.float64)
    model.load_state_dict({"weight": mg.from_numpy(array)}, assign=True)
    opt = nn.optim.SGD(model.parameters(), lr=0.1)
    model(mg.ones(2, 3, dtype=mg.float64)).sum().backward()
    with pytest.raises(RuntimeError, match=r"SGD\.step: .*refers to a single memory location"):
        opt.step()
    np.testing.assert_array_equal(array[0], [0.0, 1.0, 2.0])
