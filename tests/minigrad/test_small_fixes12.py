"""Small differences from torch 2.13 that sweeps found, each pinned against live torch: ``gather`` with an
empty index (any shape, any dtype) and its int32/int64 rule for a non-empty one, ``F.batch_norm`` on an empty
1-D input, and ``vmap`` of a function returning a Python value (``item``, ``allclose``, ``equal``). The ``out=``
of ``lerp tanh maximum addcmul atan2`` is in tests/minigrad/test_out_keyword.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn.functional as F


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int32", "int64", "float32"])
@pytest.mark.parametrize("shape", [(2, 0), (0,), (0, 5, 5)])
def test_gather_takes_an_empty_index_of_any_shape_and_dtype(torch: Any, dtype: str, shape: tuple) -> None:
    for lib in (torch, mg):
        x = lib.arange(3.0, requires_grad=True)
        result = lib.gather(x, 0, lib.zeros(shape, dtype=getattr(lib, dtype)))
        assert tuple(result.shape) == shape and result.requires_grad
        result.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), np.zeros(3))
    with pytest.raises(IndexError):   # the dim is still checked
        mg.gather(mg.arange(3.0), 1, mg.zeros((2, 0), dtype=mg.uint8))


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16"])
def test_gather_refuses_a_small_integer_index_as_torch(torch: Any, dtype: str) -> None:
    for lib in (torch, mg):
        with pytest.raises(RuntimeError, match="Expected dtype int32/int64 for index"):
            lib.gather(lib.arange(3.0), 0, lib.zeros(2, dtype=getattr(lib, dtype)))
    assert mg.gather(mg.arange(3.0), 0, mg.ones(2, dtype=mg.int32)).tolist() == [1.0, 1.0]


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("channels", [None, 0, 3])
def test_batch_norm_of_an_empty_1d_input_is_empty_as_torch(torch: Any, training: bool, channels: Any) -> None:
    results = []
    for lib, functional in ((torch, torch.nn.functional), (mg, F)):
        stats = (lib.zeros(channels), lib.ones(channels)) if channels is not None else (None, None)
        weight = lib.ones(3, requires_grad=True)
        out = functional.batch_norm(lib.ones(0), *stats, weight=weight, bias=lib.zeros(3), training=training)
        out.sum().backward()
        results.append((tuple(out.shape), str(out.dtype).replace("torch.", ""), weight.grad.tolist(),
                        [s.tolist() for s in stats if s is not None]))
    assert results[0] == results[1]


def test_batch_norm_other_small_inputs_as_torch(torch: Any) -> None:
    for lib in (torch, mg):
        with pytest.raises(ValueError, match="2D or 3D|2-D"):   # the module still wants (N, C) or (N, C, L)
            lib.nn.BatchNorm1d(3)(lib.ones(0))
        with pytest.raises(ValueError, match="more than 1 value per channel"):
            lib.nn.BatchNorm1d(3)(lib.ones(1, 3))
        bn = lib.nn.BatchNorm1d(3)
        assert tuple(bn(lib.ones(0, 3)).shape) == (0, 3) and bn.running_var.tolist() == [1.0] * 3


@pytest.mark.parametrize("name", ["item", "allclose", "equal"])
def test_vmap_of_a_python_value_raises_a_runtime_error_too(torch: Any, name: str) -> None:
    calls = {"item": lambda lib: lambda x: x.sum().item(), "allclose": lambda lib: lambda x: lib.allclose(x, x),
             "equal": lambda lib: lambda x: lib.equal(x, x)}
    for lib in (torch, mg):
        with pytest.raises(RuntimeError):
            lib.func.vmap(calls[name](lib))(lib.ones(2, 3))
    with pytest.raises(ValueError, match="must only return Tensors"):   # torch's class for a plain Python value
        mg.func.vmap(lambda x: 1.0)(mg.ones(2))
