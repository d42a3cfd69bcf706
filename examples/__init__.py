"""Runnable example programs, run from the checkout: ``python -m examples.<name> --help``.

Each program limits NumPy's BLAS threads itself when it starts (``--threads``,
see ``examples.common.limit_blas_threads``); importing an example changes nothing.
"""
