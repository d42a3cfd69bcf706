"""Integer-argument leftovers of round 24, each against PyTorch 2.13: its int64 slots (``chunk``'s chunks, a
diagonal's offset, ``linspace``'s steps, ``one_hot``'s num_classes) refuse an object with only ``__index__`` (a 0-d
NumPy array too) where its SymInt slots take one; ``hsplit``'s and ``count_nonzero``'s int[] overloads read one as a
list; layers pass their sizes to ``torch.empty`` as given (``nn.Linear(True, 3)``); ``dim=None`` is a TypeError for
softmax, log_softmax, cat and stack (not for ``nn.functional.softmax``)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn
import nn.functional as F

torch = pytest.importorskip("torch", reason="no torch")


class _Index:
    def __index__(self) -> int:
        return 3


def _outcome(call: Callable, lib: Any, value: Any) -> Any:
    """``call``'s shapes (or the class of what it raised: minigrad's ArgumentTypeError is TypeError and
    RuntimeError, PyTorch's parser raises either by op)."""
    try:
        out = call(lib, value(lib) if callable(value) else value)
    except (TypeError, RuntimeError) as error:
        return "ArgumentTypeError" if type(error).__name__ in ("TypeError", "RuntimeError") else type(error).__name__
    parts = out if isinstance(out, (tuple, list)) else (out,)
    return [tuple(p.shape) if hasattr(p, "shape") else p for p in parts]


def _libs(lib: Any) -> tuple:
    return (nn, F) if lib is mg else (torch.nn, torch.nn.functional)


def x6(lib: Any) -> Any:
    return lib.arange(36.0).reshape(6, 6)


SLOTS = {   # int64 slots (PyTorch refuses __index__) and SymInt ones (it takes it)
    "chunk": lambda lib, v: x6(lib).chunk(v), "diagonal": lambda lib, v: x6(lib).diagonal(v),
    "tril": lambda lib, v: x6(lib).tril(v), "diag_embed": lambda lib, v: lib.ones(2).diag_embed(v),
    "linspace": lambda lib, v: lib.linspace(0, 1, v),
    "one_hot": lambda lib, v: _libs(lib)[1].one_hot(lib.tensor([0]), v), "round": lambda lib, v: x6(lib).round(
        decimals=v), "unfold": lambda lib, v: x6(lib).unfold(0, v, 1), "rot90": lambda lib, v: x6(lib).rot90(v),
    "diff": lambda lib, v: x6(lib).diff(v), "histc": lambda lib, v: x6(lib).histc(v),
    "tril_indices": lambda lib, v: lib.tril_indices(v, 3),
    "polygamma": lambda lib, v: lib.polygamma(v, lib.ones(2)),
    "group_norm": lambda lib, v: _libs(lib)[1].group_norm(lib.ones(1, 3, 2), v),
    # SymInt slots
    "narrow start": lambda lib, v: x6(lib).narrow(0, v, 2), "narrow length": lambda lib, v: x6(lib).narrow(0, 0, v),
    "tensor_split": lambda lib, v: x6(lib).tensor_split(v), "unsafe_split": lambda lib, v: x6(lib).unsafe_split(v),
    "select_scatter": lambda lib, v: x6(lib).select_scatter(lib.zeros(6), 0, v),
    "slice_scatter": lambda lib, v: x6(lib).slice_scatter(lib.zeros(2, 6), 0, None, None, v),
    "topk": lambda lib, v: x6(lib).topk(v).values, "select": lambda lib, v: x6(lib).select(0, v),
    "randperm": lambda lib, v: lib.randperm(v), "eye": lambda lib, v: lib.eye(v),
    # int[] overloads: one index, one dim
    "hsplit": lambda lib, v: x6(lib).hsplit(v),
    "count_nonzero": lambda lib, v: lib.ones(2, 3, 4, 5).count_nonzero(v),
}


@pytest.mark.parametrize("value", [_Index(), np.array(3), lambda lib: lib.tensor(3)],
                         ids=["__index__", "numpy_0d", "tensor_0d"])
@pytest.mark.parametrize("slot", list(SLOTS))
def test_int_slots_read_index_objects_as_torch(slot: str, value: Any) -> None:
    """minigrad took an object with only ``__index__`` in every int slot, computing where PyTorch's int64 slots
    raise; ``hsplit(np.array(3))`` split into 3 sections where PyTorch's int[] overload splits at index 3 (a
    silently different result). 30 of these cells differed."""
    call = SLOTS[slot]
    assert _outcome(call, mg, value) == _outcome(call, torch, value)


def test_hsplit_of_an_index_object_is_one_split_point_as_torch() -> None:
    x = mg.arange(36.0).reshape(6, 6)
    parts = x.hsplit(np.array(2))
    assert [tuple(p.shape) for p in parts] == [(6, 2), (6, 4)]
    assert [tuple(p.shape) for p in x.hsplit(np.int64(2))] == [(6, 3), (6, 3)]   # an int: sections


LAYERS = {
    "Linear in": lambda lib, v: _libs(lib)[0].Linear(v, 3).weight,
    "Linear out": lambda lib, v: _libs(lib)[0].Linear(3, v).weight,
    "Embedding num": lambda lib, v: _libs(lib)[0].Embedding(v, 3).weight,
    "Embedding dim": lambda lib, v: _libs(lib)[0].Embedding(3, v).weight,
    "EmbeddingBag num": lambda lib, v: _libs(lib)[0].EmbeddingBag(v, 3).weight,
    "Bilinear in1": lambda lib, v: _libs(lib)[0].Bilinear(v, 2, 3).weight,
    "Bilinear out": lambda lib, v: _libs(lib)[0].Bilinear(2, 2, v).weight,
    "LazyLinear out": lambda lib, v: _libs(lib)[0].LazyLinear(v)(lib.ones(1, 2)),
}


@pytest.mark.parametrize("value", [True, _Index(), np.array(3), lambda lib: lib.tensor(3),
                                   lambda lib: lib.tensor([3]), lambda lib: lib.tensor(True), 2.0],
                         ids=["True", "__index__", "numpy_0d", "tensor_0d", "tensor_1", "bool_tensor", "float"])
@pytest.mark.parametrize("layer", list(LAYERS))
def test_layer_sizes_read_as_torch_empty_reads_them(layer: str, value: Any) -> None:
    """PyTorch's Linear/Embedding/Bilinear/EmbeddingBag hand their sizes to ``torch.empty`` as given: its size
    list takes an ``__index__`` object, a one-element integer tensor and a bool that is not the first size
    (``nn.Linear(True, 3)`` has a (3, 1) weight, ``nn.Embedding(True, 3)`` is a TypeError). minigrad refused
    them all (34 of these cells)."""
    call = LAYERS[layer]
    ours = _outcome(call, mg, value)
    assert ours == _outcome(call, torch, value)
    if isinstance(ours, list) and layer == "Linear in":   # the size is kept as an int
        assert type(nn.Linear(value(mg) if callable(value) else value, 3).in_features) is int


def test_linear_of_true_trains_as_torch() -> None:
    layer = nn.Linear(True, 2)
    assert layer.in_features == 1 and tuple(layer.weight.shape) == (2, 1)
    layer(mg.ones(4, 1)).sum().backward()
    assert tuple(layer.weight.grad.shape) == (2, 1)


NONE_DIM = {
    "x.softmax": lambda lib: lib.ones(2, 3).softmax(None),
    "x.log_softmax": lambda lib: lib.ones(2, 3).log_softmax(None),
    "softmax": lambda lib: lib.softmax(lib.ones(2, 3), None),
    "log_softmax dim=": lambda lib: lib.log_softmax(lib.ones(2, 3), dim=None),
    "cat": lambda lib: lib.cat([lib.ones(2), lib.ones(2)], None),
    "cat dim=": lambda lib: lib.cat([lib.ones(2), lib.ones(2)], dim=None),
    "concat": lambda lib: lib.concat([lib.ones(2), lib.ones(2)], dim=None),
    "stack": lambda lib: lib.stack([lib.ones(2), lib.ones(2)], None),
    "cat legacy empty": lambda lib: lib.cat([lib.ones(0), lib.ones(0)], None),
    "F.softmax": lambda lib: _libs(lib)[1].softmax(lib.ones(2, 3), None),   # infers dim 1 (and warns)
    "F.log_softmax": lambda lib: _libs(lib)[1].log_softmax(lib.ones(2, 3), dim=None),
    "x.softmax default": lambda lib: lib.ones(2, 3).softmax(1),
    "cat default": lambda lib: lib.cat([lib.ones(2), lib.ones(2)]),
    "stack default": lambda lib: lib.stack([lib.ones(2), lib.ones(2)]),
}


@pytest.mark.filterwarnings("ignore:Implicit dimension choice")
@pytest.mark.parametrize("case", list(NONE_DIM))
def test_dim_none_is_torchs_type_error(case: str) -> None:
    """``dim=None`` meant "the default dim" here (softmax over the last, cat over the first): PyTorch's
    TypeError (9 of these cells computed). ``nn.functional.softmax(x, None)`` still infers the dim, as PyTorch's."""
    call = NONE_DIM[case]
    assert _outcome(lambda lib, _: call(lib), mg, 0) == _outcome(lambda lib, _: call(lib), torch, 0)


def test_numpy_axis_spellings_still_work() -> None:
    x = mg.arange(6.0).reshape(2, 3)
    assert mg.softmax(x, axis=0).shape == (2, 3)
    assert mg.cat([x, x], axis=1).shape == (2, 6) and mg.stack([x, x], axis=-1).shape == (2, 3, 2)
    with pytest.raises(TypeError, match="not both"):
        mg.cat([x, x], 0, axis=1)
