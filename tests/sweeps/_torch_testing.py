"""Load PyTorch's own test databases (``op_db``, ``module_db``) for the sweeps in this folder.

They live in ``torch.testing._internal``, which imports ``expecttest`` (a test-only package the PyTorch wheel
does not depend on). When it is missing, a stand-in with the one name those modules use is registered first.
"""

from __future__ import annotations

import sys
import types
import unittest


def _ensure_expecttest() -> None:
    try:
        import expecttest  # noqa: F401, PLC0415
    except ImportError:
        stand_in = types.ModuleType("expecttest")
        stand_in.ACCEPT = False
        stand_in.TestCase = type("TestCase", (unittest.TestCase,), {})
        sys.modules["expecttest"] = stand_in


_ensure_expecttest()
