"""DESIGN §5, read literally: "Every module constructor also takes ``device=None, dtype=None``".

The modules §5 names (Linear, Embedding, Dropout, Sequential, the cells and the sequence layers) take both
factory keywords; torch's Sequential has none, ours moves its children as ``.to(device, dtype)`` would.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn

NAMED = [("Linear", (3, 4)), ("Embedding", (5, 3)), ("Dropout", (0.1,)), ("RNNCell", (3, 4)),
         ("LSTMCell", (3, 4)), ("GRUCell", (3, 4)), ("RNN", (3, 4)), ("LSTM", (3, 4)), ("GRU", (3, 4))]


def test_every_named_module_takes_device_and_dtype():
    for name, args in NAMED:
        module = getattr(nn, name)(*args, device="cpu", dtype=mg.float64)
        assert all(p.dtype == np.float64 and p.device == "cpu" for p in module.parameters()), name
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2), device="cpu", dtype=mg.float64)
    assert [p.dtype for p in model.parameters()] == [np.float64] * 4
    out = model(mg.randn(2, 3, dtype=mg.float64))
    assert out.shape == (2, 2) and out.dtype == np.float64


def test_sequential_factory_keywords_keep_defaults_and_refuse_integer_dtypes():
    first = nn.Linear(3, 4)
    model = nn.Sequential(first, device=None, dtype=None)
    assert model[0] is first and first.weight.dtype == np.float32
    with pytest.raises(TypeError, match="floating"):
        nn.Sequential(nn.Linear(3, 4), dtype=mg.int64)
