"""Shared fixtures: optional PyTorch peer, GPU skipping, float64 seeds."""

from __future__ import annotations

import os
import shutil

# Tests use small arrays, where a multi-threaded BLAS only adds hand-offs between threads, and
# on a busy machine those stall for whole scheduler slices (3x slower recurrent tests here).
# Set before NumPy is imported; an explicit setting in the environment wins.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import pytest  # noqa: E402

import minigrad as mg  # noqa: E402


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    if mg.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="no GPU: CuPy is not installed or sees no CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture
def torch():
    """The torch module, or skip with the reason (CI installs torch==2.13.0)."""
    return pytest.importorskip("torch", reason="PyTorch is not installed (optional test peer)")


@pytest.fixture
def has_dot() -> bool:
    if shutil.which("dot") is None:
        pytest.skip("Graphviz 'dot' binary not found (apt-get install graphviz)")
    return True


@pytest.fixture(autouse=True)
def _seed() -> None:
    mg.manual_seed(0)
