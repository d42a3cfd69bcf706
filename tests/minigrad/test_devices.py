"""Device plumbing that can be checked without a GPU.

The package must import and run with CuPy absent; asking for ``"cuda"`` then
fails with an error that says how to install CuPy; every op picks its array
module from its inputs (``self.xp``), and only ``minigrad.backend`` names NumPy
or CuPy inside an op. The same checks run on a real GPU in tests/test_gpu.py.
"""

from __future__ import annotations

import ast
import contextlib
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad import backend, generators

ROOT = Path(__file__).resolve().parents[2]

needs_no_gpu = pytest.mark.skipif(mg.cuda.is_available(), reason="a GPU is present: CUDA requests succeed here")


def test_package_imports_and_trains_without_cupy() -> None:
    """In a fresh interpreter where ``import cupy`` fails, nothing tries CuPy until CUDA is asked for."""
    script = textwrap.dedent("""
        import sys

        attempts = []

        class NoCupy:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("cupy", "cupyx"):
                    attempts.append(name)
                    raise ImportError(f"{name} is blocked for this test")
                return None

        sys.meta_path.insert(0, NoCupy())
        import minigrad as mg
        import nn
        from minigrad.ops import fused

        model = nn.LSTM(3, 4, fused=True)
        optimizer = nn.optim.Adam(model.parameters(), lr=0.01)
        output, _ = model(mg.randn(5, 2, 3))
        loss = (output * output).mean()
        loss.backward()
        optimizer.step()
        assert attempts == [], attempts
        assert mg.cuda.is_available() is False and mg.cuda.device_count() == 0
        assert attempts, "is_available() should have tried to import CuPy"
        try:
            mg.zeros(2, device="cuda")
        except RuntimeError as error:
            print("ERROR:", error)
        print("OK", float(loss.item()))
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout
    assert "pip install cupy-cuda" in result.stdout


@needs_no_gpu
@pytest.mark.parametrize("request_cuda", [
    lambda: mg.zeros(2, device="cuda"),
    lambda: mg.randn(2, 3, device="cuda"),
    lambda: mg.tensor([1.0, 2.0], device="cuda:0"),
    lambda: mg.ones(2).to("cuda"),
    lambda: mg.ones(2).cuda(),
    lambda: mg.set_default_device("cuda"),
], ids=["zeros", "randn", "tensor", "to", "cuda", "set_default_device"])
def test_asking_for_cuda_without_cupy_says_how_to_install(request_cuda: object) -> None:
    with pytest.raises(RuntimeError, match=r"CUDA was requested but is not available .*pip install cupy-cuda1\dx"):
        request_cuda()
    assert mg.get_default_device() == "cpu"


@needs_no_gpu
def test_module_to_cuda_without_cupy_raises_and_changes_nothing() -> None:
    nn = pytest.importorskip("nn")
    layer = nn.Linear(2, 3)
    before = layer.weight.data
    with pytest.raises(RuntimeError, match="pip install cupy-cuda"):
        layer.to("cuda")
    with pytest.raises(RuntimeError, match="pip install cupy-cuda"):
        nn.Linear(2, 3, device="cuda")
    assert layer.weight.data is before and layer.weight.device == "cpu"


@needs_no_gpu
def test_cuda_helpers_without_gpu() -> None:
    assert mg.cuda.is_available() is False
    assert mg.cuda.device_count() == 0
    assert mg.cuda.synchronize() is None
    assert backend.cupy_module(required=False) is None


def test_numpy_is_a_host_array() -> None:
    x = mg.randn(2, 3)
    host = x.numpy()
    assert type(host) is np.ndarray and host.shape == (2, 3)
    assert x.to("cpu") is x and x.cpu() is x


# --- the array-module switch ---------------------------------------------------

def _op_sources() -> list[Path]:
    return sorted((ROOT / "minigrad" / "ops").glob("*.py")) + [ROOT / "nn" / "functional.py"]


def test_op_forward_and_backward_never_name_numpy_or_cupy() -> None:
    """Inside every op's forward/backward, arrays come from ``self.xp`` (NumPy or CuPy), never a fixed module."""
    offenders = []
    for path in _op_sources():
        if not path.exists():
            continue
        tree = ast.parse(path.read_text())
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            for fn in (n for n in cls.body if isinstance(n, ast.FunctionDef)):
                if not ("forward" in fn.name or "backward" in fn.name):
                    continue
                for node in ast.walk(fn):
                    if isinstance(node, ast.Name) and node.id in ("numpy", "np", "cupy", "cupyx"):
                        offenders.append(f"{path.name}:{node.lineno} {cls.name}.{fn.name} uses {node.id}")
    assert not offenders, "\n".join(offenders)


def test_only_backend_imports_cupy() -> None:
    offenders = []
    for path in sorted((ROOT / "minigrad").rglob("*.py")) + sorted((ROOT / "nn").rglob("*.py")):
        if path.name == "backend.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name.split(".")[0] in ("cupy", "cupyx") for name in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, offenders


# --- CuPy-only paths, driven through a stand-in module ---------------------------

class _FakeRandom:
    def __init__(self, log: list) -> None:
        self.log = log
        self.current = [0]

    def seed(self, seed: int) -> None:
        self.log.append((self.current[0], seed))


def _fake_cupy(device_count: int, log: list) -> types.SimpleNamespace:
    random = _FakeRandom(log)

    @contextlib.contextmanager
    def device(index: int):
        previous, random.current[0] = random.current[0], index
        yield
        random.current[0] = previous

    runtime = types.SimpleNamespace(getDeviceCount=lambda: device_count)
    cuda = types.SimpleNamespace(runtime=runtime, Device=device)
    return types.SimpleNamespace(cuda=cuda, random=random, ndarray=type("ndarray", (), {}))


def test_manual_seed_seeds_every_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    log: list = []
    monkeypatch.setattr(backend, "_cupy", _fake_cupy(2, log))
    mg.manual_seed(123)
    assert log == [(0, 123), (1, 123)]
    assert generators.generator(mg.Device("cuda:1")) is backend._cupy.random
    assert log == [(0, 123), (1, 123)]            # already seeded: not again


def test_seed_given_before_cupy_loads_reaches_every_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    log: list = []
    monkeypatch.setattr(backend, "_cupy", None)               # CuPy not imported yet
    monkeypatch.setattr(backend, "cupy_module", lambda required=True: None)
    mg.manual_seed(7)
    assert log == []
    fake = _fake_cupy(3, log)
    monkeypatch.setattr(backend, "_cupy", fake)
    monkeypatch.setattr(backend, "cupy_module", lambda required=True: fake)
    assert generators.generator(mg.Device("cuda:0")) is fake.random
    assert log == [(0, 7), (1, 7), (2, 7)]
    generators.generator(mg.Device("cuda:0"))
    assert len(log) == 3                                      # once per seed


def test_device_of_a_gpu_array_names_its_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _fake_cupy(2, [])
    monkeypatch.setattr(backend, "_cupy", fake)
    on_gpu = [fake.ndarray() for _ in range(3)]
    for array, index in zip(on_gpu, (1, 0, 1)):
        array.device = types.SimpleNamespace(id=index)
    devices = [backend.device_of(a) for a in on_gpu]
    assert devices == ["cuda:1", "cuda:0", "cuda:1"] and [d.index for d in devices] == [1, 0, 1]
    assert devices[0] is devices[2]                    # built once per GPU, not once per call
    assert backend.device_of(np.zeros(2)) == "cpu"


def test_scatter_add_accumulates_repeated_indices_on_both_array_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support import strict_cupy  # noqa: PLC0415 - the CuPy stand-in: ufunc.at as CuPy has it

    strict_cupy.install(monkeypatch)
    for xp, put in ((np, np.asarray), (strict_cupy.module, strict_cupy.asarray)):
        target, index, values = put(np.zeros(3)), put(np.array([0, 0, 2])), put(np.ones(3))
        backend.scatter_add(xp, target, index, values)
        np.testing.assert_array_equal(strict_cupy.asnumpy(target), [2.0, 0.0, 1.0])   # repeated index accumulates
    with pytest.raises(TypeError, match="scatter_add: xp must be"):
        backend.scatter_add(None, np.zeros(3), np.array([0]), np.ones(1))
    with pytest.raises(TypeError, match="on_device: device must be"):
        mg.on_device(mg.zeros(1))


def test_errstate_is_a_no_op_for_cupy() -> None:
    before = np.geterr()
    with backend.errstate(types.SimpleNamespace(), over="raise"):   # any non-NumPy module
        assert np.geterr() == before
    with backend.errstate(np, over="raise"):
        assert np.geterr()["over"] == "raise"
