"""Round 17: the device sweep (tests/support/device_sweep.py) on the strict CuPy stand-in, and what it found there.

Found: ``kthvalue``'s indices on a GPU were a slice of the whole sort order (strides (4, 2) for a (3, 2) result,
PyTorch's are contiguous (2, 1)).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

import minigrad as mg
from minigrad import backend
from tests.support import device_sweep

pytestmark = pytest.mark.gpu
CASES = device_sweep.fixed_cases()   # built at collection: the tables' modules import torch and hypothesis


def test_a_handful_of_sweep_cases_agree_on_both_devices() -> None:
    sources: dict[str, list] = {}
    for i, (source, op, fn) in enumerate(CASES):
        sources.setdefault(source, []).append((i, op, fn))
    picked = [(i, f"{source}:{op}", fn) for source, rows in sources.items()
              for i, op, fn in rows[:: len(rows) // 2 + 1]]   # one or two of each source
    picked += [(seed, *device_sweep.program_case(seed)[1:]) for seed in itertools.islice(itertools.count(9000), 4)]
    real_gpu = not getattr(backend.cupy_module(), "is_strict_stand_in", False)
    for i, name, fn in picked:
        problems = device_sweep.check(fn, seed=i)
        if real_gpu:   # CuPy's results of transposed or batched-LAPACK inputs are C order (README, Devices): known
            problems = [p for p in problems if "stride" not in p]
        assert problems == [], f"case {i} ({name})"


def test_the_sweep_sees_a_difference() -> None:
    """Its comparison is not vacuous: a result that depends on the device is reported."""
    def differs(lib: device_sweep.Lib) -> Any:
        x = lib.leaf(np.arange(6.0).reshape(2, 3))
        return x * 2 if lib.device == "cpu" else (x * 2).T.contiguous().T   # a view: CuPy keeps its layout too
    assert any("stride" in p for p in device_sweep.check(differs, seed=0))


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_kthvalue_indices_on_a_gpu_are_contiguous_as_torch(dim: int, keepdim: bool, torch: Any) -> None:
    a = np.random.default_rng(0).standard_normal((3, 2, 4))
    values, indices = mg.kthvalue(mg.tensor(a, device="cuda"), 2, dim=dim, keepdim=keepdim)
    expected = torch.kthvalue(torch.tensor(a), 2, dim=dim, keepdim=keepdim)
    assert indices.device.type == "cuda"
    assert indices.stride() == expected.indices.stride() and values.stride() == expected.values.stride()
    np.testing.assert_array_equal(indices.cpu().numpy(), expected.indices.numpy())


@pytest.mark.parametrize("like", ["empty_like", "zeros_like", "ones_like"])
@pytest.mark.parametrize("layout", ["transposed", "channels_last"])
def test_an_in_place_write_into_a_like_of_a_non_contiguous_tensor_as_torch(like: str, layout: str, torch: Any) -> None:
    """``torch.empty_like(x).copy_(x)`` with ``x`` transposed or channels-last and requiring grad: the new tensor
    keeps x's layout through a permuted view of its own memory, which minigrad's in-place ops refused as a view of
    another tensor ("in-place op on a view of another tensor"), on both devices."""
    a = np.random.default_rng(3).standard_normal((2, 3, 4, 5))

    def run(lib: Any, device: str | None = None) -> tuple:
        leaf = lib.tensor(a, requires_grad=True, **({"device": device} if device else {}))
        x = leaf.transpose(1, 3) if layout == "transposed" else leaf.contiguous(memory_format=lib.channels_last)
        y = getattr(lib, like)(x).copy_(x * 2)
        (y * y).sum().backward()
        return y, leaf.grad

    (ty, tgrad), (my, mgrad) = run(torch), run(mg, "cuda")
    assert my.stride() == ty.stride() and my.device.type == "cuda"
    np.testing.assert_allclose(my.detach().cpu().numpy(), ty.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(mgrad.cpu().numpy(), tgrad.numpy(), rtol=1e-12)
    my, mgrad = run(mg)
    np.testing.assert_allclose(mgrad.numpy(), tgrad.numpy(), rtol=1e-12)
