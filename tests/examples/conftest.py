"""Run an example program as a user would and read the JSON summary on its last line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = {"example", "device", "epochs", "train_seconds", "seconds_per_epoch"}


def _run(name: str, *args: str, timeout: float = 60.0) -> tuple[dict, str]:
    """``python -m examples.<name> args`` from the repository root → (summary, stdout)."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, "-m", f"examples.{name}", *args, "--no-progress"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )
    assert result.returncode == 0, f"examples.{name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    lines = result.stdout.strip().splitlines()
    assert lines, f"examples.{name} printed nothing"
    summary = json.loads(lines[-1])
    assert isinstance(summary, dict)
    missing = REQUIRED - summary.keys()
    assert not missing, f"summary of examples.{name} lacks {sorted(missing)}: {summary}"
    assert summary["example"] == name
    assert summary["device"] == "cpu"
    assert summary["train_seconds"] > 0
    return summary, result.stdout


@pytest.fixture
def run_example():
    """``run_example(name, *args)`` → (summary dict, stdout)."""
    return _run
