"""Runnable example programs: ``python -m examples.<name> --help``."""

import os

# The examples multiply small matrices (batch 128 × a few hundred). There one
# BLAS thread is as fast as several, and on a machine whose cores are busy with
# other work, OpenBLAS threads waiting for each other make every matmul ~10x
# slower. Set OPENBLAS_NUM_THREADS yourself to override.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
