"""Lead's round-24 fixes, each pinned against PyTorch's behaviour."""

from __future__ import annotations

import pytest

import minigrad as mg


@pytest.mark.parametrize(("args", "expected"), [(("cuda", 0), "cuda:0"), (("cuda", 1), "cuda:1"), (("cpu", 0), "cpu")])
def test_device_takes_a_type_and_an_index(args, expected):
    # PyTorch's torch.device("cuda", 1), common in multi-GPU scripts (ours took one string only).
    assert mg.device(*args) == expected


@pytest.mark.parametrize(("args", "error"), [(("cuda:0", 0), RuntimeError), (("cuda", -1), RuntimeError),
                                             (("cuda", "0"), TypeError), (("cuda", True), TypeError)])
def test_device_index_refused_as_pytorch_refuses_it(args, error):
    torch = pytest.importorskip("torch")
    with pytest.raises(error):
        torch.device(*args)
    with pytest.raises(error):
        mg.device(*args)
