"""Round 21: Parameter, Buffer and Tensor subclasses and Python's object protocols, compared with live torch
(found by /tmp/fuzz21_subclass.py)."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")   # torch's __array__
@pytest.mark.parametrize("call", [
    lambda x: np.array(x),
    lambda x: np.array(x, dtype=np.float32),
    lambda x: np.array(x, copy=True),
    lambda x: np.asarray(x),
    lambda x: np.array(x, dtype=np.float64),
])
def test_numpy_array_of_a_tensor_is_a_copy_as_torch(call: Any) -> None:
    """``numpy.array(x)`` (NumPy's copy=True) shared the tensor's memory: writing into the "copy" changed the
    tensor. ``numpy.asarray`` shares, as PyTorch's."""
    outcomes = []
    for lib in (mg, torch):
        x = lib.ones(3)
        call(x)[0] = 9
        outcomes.append(x.tolist())
    assert outcomes[0] == outcomes[1]


def test_array_protocol_copy_keyword() -> None:
    """NumPy 2's ``__array__(dtype, copy)``: copy=True copies, copy=False where a copy is needed raises ValueError
    (torch's ``__array__`` takes no copy keyword)."""
    x = mg.ones(3)
    x.__array__(copy=True)[0] = 9
    assert x.tolist() == [1.0, 1.0, 1.0]
    assert np.shares_memory(np.array(x, copy=False), x.numpy())   # no copy needed, none made
    with pytest.raises(ValueError, match="Unable to avoid copy"):
        np.array(x, dtype=np.float64, copy=False)


@pytest.mark.parametrize("attr", ["data", "grad"])
def test_deleting_data_or_grad_as_torch(attr: str) -> None:
    """``del x.data`` left a tensor without its array (torch: RuntimeError); ``del x.grad`` raised AttributeError
    (torch: the gradient becomes None)."""
    outcomes = []
    for lib in (mg, torch):
        x = lib.ones(2, requires_grad=True)
        (x * 2).sum().backward()
        try:
            delattr(x, attr)
            outcomes.append(("ok", x.grad, x.tolist()))
        except Exception as error:  # noqa: BLE001 - compared below
            outcomes.append(("raise", type(error)))
    ours, theirs = outcomes
    assert ours[0] == theirs[0]
    if ours[0] == "raise":
        assert issubclass(ours[1], theirs[1])
    else:
        assert ours[1] is None and theirs[1] is None and ours[2] == theirs[2]


@pytest.mark.parametrize("how", ["attribute", "vars", "copy", "deepcopy", "pickle", "detach", "op"])
def test_plain_tensor_takes_attributes_as_torch(how: str) -> None:
    """``x.foo = 1`` on a plain tensor raised AttributeError (Tensor had only __slots__); PyTorch allows it, and
    copy/deepcopy/pickle carry the attribute while ops and detach() do not."""
    def run(lib: Any) -> Any:
        x = lib.ones(2)
        x.foo = "x"
        if how == "attribute":
            return x.foo
        if how == "vars":
            return vars(x)
        y = {"copy": copy.copy, "deepcopy": copy.deepcopy, "pickle": lambda t: pickle.loads(pickle.dumps(t)),
             "detach": lambda t: t.detach(), "op": lambda t: t + 1}[how](x)
        return type(y).__name__, getattr(y, "foo", None), y.tolist()
    assert run(mg) == run(torch)


@pytest.mark.parametrize("how", ["copy", "deepcopy", "pickle", "detach", "module_deepcopy", "subclass",
                                 "persistent", "persistent_int"])
def test_buffer_marks_as_torch(how: str) -> None:
    """``isinstance(t, nn.Buffer)`` was False for copies of a buffer (a side table keyed by id), True for any
    instance check of a Buffer subclass, and ``b.persistent`` did not exist; PyTorch's Buffer is a plain tensor with
    the attributes ``_is_buffer`` and ``persistent``."""
    def run(lib: Any, lnn: Any) -> Any:
        b = lnn.Buffer(lib.ones(2), persistent=False)
        if how == "persistent":
            return b.persistent, lnn.Buffer(lib.ones(1)).persistent
        if how == "persistent_int":
            m = lnn.Module()
            m.b = lnn.Buffer(lib.ones(2), persistent=0)
            m.c = lnn.Buffer(lib.ones(2), persistent=1)
            return list(m.state_dict()), [n for n, _ in m.named_buffers()]
        if how == "subclass":
            class MyBuffer(lnn.Buffer):
                pass
            return isinstance(b, MyBuffer), isinstance(b, lnn.Buffer), isinstance(lib.ones(1), lnn.Buffer)
        if how == "module_deepcopy":
            m = lnn.Module()
            m.b = b
            c = copy.deepcopy(m)
            c2 = lnn.Module()
            c2.b = c.b   # registered again as a non-persistent buffer
            return isinstance(c.b, lnn.Buffer), list(c2.state_dict()), [n for n, _ in c2.named_buffers()]
        y = {"copy": copy.copy, "deepcopy": copy.deepcopy, "pickle": lambda t: pickle.loads(pickle.dumps(t)),
             "detach": lambda t: t.detach()}[how](b)
        return isinstance(y, lnn.Buffer), getattr(y, "persistent", None)
    assert run(mg, nn) == run(torch, torch.nn)
