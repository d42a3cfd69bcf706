"""Run a module as ``__main__`` with the strict CuPy stand-in as the GPU (for example programs in tests).

    python -m tests.support.run_with_strict_cupy examples.seq2seq --device cuda ...
"""

from __future__ import annotations

import runpy
import sys

from tests.support import strict_cupy

if __name__ == "__main__":
    module_name = sys.argv[1]
    sys.argv = [module_name, *sys.argv[2:]]
    strict_cupy.install()
    runpy.run_module(module_name, run_name="__main__", alter_sys=True)
