"""Shared fixtures: optional PyTorch peer, GPU skipping, float64 seeds."""

from __future__ import annotations

import gc
import os
import shutil

# Tests use small arrays, where a multi-threaded BLAS only adds hand-offs between threads, and
# on a busy machine those stall for whole scheduler slices (3x slower recurrent tests here).
# Set before NumPy is imported; an explicit setting in the environment wins.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import pytest  # noqa: E402

import minigrad as mg  # noqa: E402

REAL_GPU = mg.cuda.is_available()

# A compiled program's replays run as generated straight-line code once its replays have taken as
# long as writing it will (minigrad/codegen.py); tests replay a program a few times, so they write
# it from the first replay on: every replay test runs the code users' training loops run.
# tests/minigrad/test_codegen.py compares the code with the plans' loops, and tests the rule.
from minigrad import codegen  # noqa: E402

codegen.REPLAYS_FIRST = 0
codegen.SECONDS_PER_OP = 0.0


@pytest.fixture(autouse=True)
def _gpu_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> object:
    """GPU tests run on the real GPU when there is one, else on the strict CuPy stand-in.

    The stand-in (tests/support/strict_cupy.py) is NumPy underneath but refuses implicit host
    copies and mixing with NumPy arrays, as CuPy does, so the GPU code paths are tested in CI.
    """
    if REAL_GPU or request.node.get_closest_marker("gpu") is None:
        return None
    from tests.support import strict_cupy  # noqa: PLC0415 - loaded only for GPU tests

    return strict_cupy.install(monkeypatch)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--soak", action="store_true", default=False,
                     help="long fuzz runs (tests/test_fuzz_torch.py: 50,000 programs instead of 2,000; "
                          "tests/test_fuzz.py: 1,000 examples per test instead of 30); not in CI")


@pytest.fixture
def torch():
    """The torch module, or skip with the reason (CI installs torch==2.13.0)."""
    return pytest.importorskip("torch", reason="PyTorch is not installed (optional test peer)")


@pytest.fixture(scope="module")
def torch_optim_loaded() -> None:
    """torch.optim's first step imports its compiler machinery (about 2 s): once per module, outside the tests'
    timings (``pytestmark = pytest.mark.usefixtures("torch_optim_loaded")``)."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (optional test peer)")
    p = torch.ones(1, requires_grad=True)
    p.grad = torch.ones(1)
    torch.optim.SGD([p], lr=0.1).step()


@pytest.fixture
def has_dot() -> bool:
    if shutil.which("dot") is None:
        pytest.skip("Graphviz 'dot' binary not found (apt-get install graphviz)")
    return True


@pytest.fixture(autouse=True)
def _seed() -> None:
    mg.manual_seed(0)


# The cycle collector's full collections walk every tracked object, and a session holds millions that never die
# (modules, 13,000 collected items with their parameters, torch): a gc.collect() in a test (test_leaks.py samples
# between training steps) cost ~0.3 s instead of ~1 ms, and the automatic full collections a minute of the run.
# Objects alive when a module's first test starts are moved out of the collector's generations (gc.freeze); what
# a test creates is collected and counted (gc.get_objects) exactly as before.
_frozen_at = [""]


def pytest_collection_finish(session: pytest.Session) -> None:
    gc.collect()
    gc.freeze()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.nodeid.split("::")[0] != _frozen_at[0]:
        _frozen_at[0] = item.nodeid.split("::")[0]
        gc.collect()
        gc.freeze()
