"""Every PyTorch-style spelling of the nn and optim imports gives the one real module object."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SPELLINGS = {
    "import minigrad.nn": "import minigrad.nn\nm = minigrad.nn",
    "import minigrad.nn as nn2": "import minigrad.nn as m",
    "import minigrad.nn.functional": "import minigrad.nn.functional\nm = minigrad.nn.functional",
    "import minigrad.nn.functional as F": "import minigrad.nn.functional as m",
    "from minigrad.nn import functional": "from minigrad.nn import functional as m",
    "import minigrad.optim": "import minigrad.optim\nm = minigrad.optim",
    "from minigrad import optim": "from minigrad import optim as m",
    "from minigrad import nn": "from minigrad import nn as m",
    "import minigrad as mg; mg.nn": "import minigrad as mg\nm = mg.nn",
    "import minigrad as mg; mg.optim": "import minigrad as mg\nm = mg.optim",
}
REAL = {"nn": "nn", "functional": "nn.functional", "optim": "nn.optim"}


def _program(spelling: str) -> str:
    real = REAL["functional" if "functional" in spelling else "optim" if "optim" in spelling else "nn"]
    return SPELLINGS[spelling] + f"""
import sys, importlib
real = importlib.import_module({real!r})
assert m is real, (m, real)
copies = [k for k, v in sys.modules.items() if getattr(v, "__file__", None) == real.__file__]
assert all(sys.modules[k] is real for k in copies), copies
import nn
assert nn.Module is importlib.import_module("minigrad.nn").Module
print("ok")
"""


@pytest.fixture(scope="module")
def fresh_interpreters():
    """Every spelling's program, each in its own new process, all started at once (they wait on imports)."""
    processes = {spelling: subprocess.Popen([sys.executable, "-c", _program(spelling)], cwd=ROOT, text=True,
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for spelling in SPELLINGS}
    yield processes
    for process in processes.values():
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.mark.parametrize("spelling", list(SPELLINGS))
def test_each_spelling_in_a_fresh_interpreter_gives_the_real_module(spelling: str, fresh_interpreters) -> None:
    """Run first thing in a new process, so the alias is what loads the module."""
    process = fresh_interpreters[spelling]
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0 and stdout.strip() == "ok", stderr


def test_aliases_and_top_level_names_are_identical_objects() -> None:
    import minigrad.nn
    import minigrad.nn.functional
    import minigrad.optim
    from minigrad.nn import Linear
    from minigrad.nn.functional import cross_entropy
    from minigrad.optim import Adam

    import minigrad
    import nn
    from minigrad import nn as nn_from
    from minigrad import optim

    assert minigrad.nn is nn and nn_from is nn and sys.modules["minigrad.nn"] is nn
    assert minigrad.nn.functional is nn.functional and sys.modules["minigrad.nn.functional"] is nn.functional
    assert minigrad.optim is nn.optim and optim is nn.optim and sys.modules["minigrad.optim"] is nn.optim
    assert Linear is nn.Linear and cross_entropy is nn.functional.cross_entropy and Adam is nn.optim.Adam
    assert nn.__name__ == "nn" and nn.functional.__name__ == "nn.functional"   # the real names, not the alias
    assert minigrad.save is nn.save and minigrad.load is nn.load and minigrad.CheckpointError is nn.CheckpointError


def test_a_missing_submodule_is_named_in_the_error() -> None:
    with pytest.raises(ModuleNotFoundError, match="minigrad.nn.no_such_module"):
        import minigrad.nn.no_such_module  # noqa: F401
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        import minigrad

        minigrad.nothing  # noqa: B018


def test_importing_the_engine_does_not_import_nn() -> None:
    program = "import sys, minigrad\nassert 'nn' not in sys.modules, sorted(sys.modules)\nprint('ok')"
    result = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_deeper_submodules_alias_too() -> None:
    import minigrad.nn.utils.rnn
    import minigrad.optim.lr_scheduler

    import nn

    assert minigrad.optim.lr_scheduler is nn.optim.lr_scheduler
    assert minigrad.nn.utils.rnn is nn.utils.rnn
    assert minigrad.utils.data.DataLoader.__module__.startswith("minigrad.utils.data")   # the engine's own
