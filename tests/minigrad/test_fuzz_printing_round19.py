"""Printing against PyTorch, round 19 (what /tmp/fuzz19_printing.py found): ``repr`` of tensors, Parameters and
Modules, character for character as PyTorch 2.13's (minigrad's dtype wording, ``dtype=float64``, aside).

Over ~30,000 drawn tensors (every dtype, 0-d to 6-d, zero-size, summaries, nan/inf/-0.0, magnitudes from 1e-14 to
1e14, views, ``requires_grad``, a float16/float32/float64 default dtype, every ``set_printoptions`` option) the
values, layout and suffixes already matched; what differed is tested here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

import minigrad as mg
import nn


def _in_our_words(text: str) -> str:
    return re.sub(r"dtype=torch\.(\w+)", r"dtype=\1", text)


# --- a Tensor subclass prints its class's name, as PyTorch's ``_str_intern`` ----------------------------------------

SUBCLASS_CASES = {
    "vector": lambda lib: lib.tensor([1.5, 2.0]),
    "wrapped_rows_indent_by_the_name": lambda lib: lib.arange(40.0).reshape(4, 10),
    "requires_grad": lambda lib: lib.tensor([1.5, -2.0], requires_grad=True),
    "int64_scalar": lambda lib: lib.tensor(3),
    "float64_empty": lambda lib: lib.zeros(2, 0, dtype=lib.float64),
}


@pytest.mark.parametrize("case", sorted(SUBCLASS_CASES))
def test_a_tensor_subclass_prints_its_name(torch: Any, case: str) -> None:
    """``class Marked(Tensor)``: PyTorch prints ``Marked([...])`` (and indents the rows by the name); it printed
    ``tensor([...])``."""
    class Marked(mg.Tensor):
        pass

    class TorchMarked(torch.Tensor):
        pass

    TorchMarked.__name__ = "Marked"
    ours = SUBCLASS_CASES[case](mg).detach().as_subclass(Marked)
    theirs = SUBCLASS_CASES[case](torch).detach().as_subclass(TorchMarked)
    if case == "requires_grad":
        ours, theirs = ours.requires_grad_(), theirs.requires_grad_()
    assert repr(ours) == _in_our_words(repr(theirs))
    assert str(ours) == repr(ours)


def test_a_parameter_subclass_prints_as_pytorchs(torch: Any) -> None:
    """A subclass of Parameter: ``Parameter containing:`` then ``Parameter(MyParameter([...], requires_grad=True))``
    (PyTorch's text); nn.Parameter itself and a plain Tensor stay ``tensor(...)``."""
    class MyParameter(nn.Parameter):
        pass

    class TorchMyParameter(torch.nn.Parameter):
        pass

    TorchMyParameter.__name__ = "MyParameter"
    assert repr(MyParameter(mg.tensor([1.5, 2.0]))) == repr(TorchMyParameter(torch.tensor([1.5, 2.0])))
    assert repr(nn.Parameter(mg.tensor([1.5, 2.0]))) == repr(torch.nn.Parameter(torch.tensor([1.5, 2.0])))
    assert repr(mg.tensor([1.5, 2.0])) == repr(torch.tensor([1.5, 2.0]))


# --- modules' extra_repr --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sizes", ["size", "list", "tuple"])
def test_unflatten_keeps_a_size_as_given(torch: Any, sizes: str) -> None:
    """``nn.Unflatten(0, mg.Size([2, 3]))`` prints ``unflattened_size=Size([2, 3])`` as PyTorch's (it printed the
    tuple ``(2, 3)``); a list stays a list, a tuple a tuple."""
    make = {"size": lambda lib: lib.Size([2, 3]), "list": lambda lib: [2, 3], "tuple": lambda lib: (2, 3)}[sizes]
    ours, theirs = nn.Unflatten(0, make(mg)), torch.nn.Unflatten(0, make(torch))
    assert repr(ours).replace("mg.", "") == repr(theirs).replace("torch.", "")
    assert ours(mg.ones(4, 6).T).shape == (2, 3, 4)
