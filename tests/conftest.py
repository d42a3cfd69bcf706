"""Shared fixtures: optional PyTorch peer, GPU skipping, float64 seeds."""

from __future__ import annotations

import shutil

import pytest

import minigrad as mg


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
