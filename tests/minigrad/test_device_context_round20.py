"""Round 20: ``with mg.device(...):`` sets the default device of factory functions in the block, as PyTorch 2's.

(It raised AttributeError: __enter__.) The GPU case runs on the strict CuPy stand-in in CI.
"""

from __future__ import annotations

import pytest

import minigrad as mg


def test_block_sets_and_restores_the_default() -> None:
    before = mg.get_default_device()
    with mg.device("cpu") as device:
        assert device == "cpu" and mg.get_default_device() == "cpu"
        assert mg.zeros(2).device == "cpu"
    assert mg.get_default_device() == before


def test_default_restored_after_an_error_and_when_nested() -> None:
    before = mg.get_default_device()
    with pytest.raises(KeyError):
        with mg.device("cpu"):
            with mg.device("cpu"):
                raise KeyError("user's")
    assert mg.get_default_device() == before


@pytest.mark.gpu
def test_cuda_block_makes_factories_allocate_there() -> None:
    with mg.device("cuda"):
        x = mg.ones(3)
        assert x.device.type == "cuda"
        with mg.device("cpu"):
            assert mg.arange(2).device == "cpu"
        assert mg.randn(2).device.type == "cuda"
    assert mg.ones(1).device == "cpu"
