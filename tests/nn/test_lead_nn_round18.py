"""Round 18 (lead): recurrent layers and cells refuse an input of another dtype than their weights, as PyTorch's
(they promoted it, so a float64 batch into a float32 LSTM silently trained in float64)."""
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn

CASES = [("LSTM", "float32", "float64"), ("GRU", "float32", "float16"), ("RNN", "float64", "float32"),
         ("LSTMCell", "float32", "float64"), ("GRUCell", "float64", "float32"), ("RNNCell", "float32", "float64")]


@pytest.mark.parametrize(("layer", "weights", "given"), CASES)
def test_an_input_of_another_dtype_is_refused_as_in_pytorch(torch: Any, layer: str, weights: str, given: str) -> None:
    shape = (2, 3) if layer.endswith("Cell") else (4, 2, 3)
    data = np.random.default_rng(0).standard_normal(shape).astype(given)
    ours = getattr(nn, layer)(3, 5, dtype=getattr(mg, weights))
    theirs = getattr(torch.nn, layer)(3, 5, dtype=getattr(torch, weights))
    with pytest.raises((RuntimeError, ValueError)) as torch_error:
        theirs(torch.from_numpy(data))
    with pytest.raises(type(torch_error.value), match=f"{given}.*{weights}"):
        ours(mg.tensor(data))


def test_a_packed_input_of_another_dtype_is_refused(torch: Any) -> None:
    data = mg.tensor(np.ones((4, 2, 3)))          # float64 into a float32 layer
    packed = nn.utils.rnn.pack_padded_sequence(data, [4, 3])
    with pytest.raises(ValueError, match="float64"):
        nn.GRU(3, 5)(packed)
    assert nn.GRU(3, 5)(packed.to(mg.float32))[1].dtype == mg.float32


def test_a_child_named_with_a_slash_runs_and_is_drawn_as_named(torch: Any) -> None:
    """PyTorch allows "/" in a child's name (only "." and "" are refused); ours raised in forward, where the name
    became a name scope, and ModuleDict refused it."""
    theirs = torch.nn.Sequential()
    theirs.add_module("a/b", torch.nn.Linear(2, 2))
    ours = nn.Sequential()
    ours.add_module("a/b", nn.Linear(2, 2))
    assert list(dict(ours.named_parameters())) == list(dict(theirs.named_parameters())) == ["a/b.weight", "a/b.bias"]
    y = ours(mg.ones(1, 2))
    assert y.shape == (1, 2) and "a\u2215b" in mg.viz.draw(y).source
    assert nn.ModuleDict({"x/y": nn.Linear(2, 3)})["x/y"](mg.ones(1, 2)).shape == (1, 3)
