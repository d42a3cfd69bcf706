"""The error-function family and exact GELU: minigrad against PyTorch CPU at 1e6 values, in one run.

    python -m bench.special [--repeats 5]

One thread on both sides (``threadpoolctl`` for NumPy's BLAS, ``torch.set_num_threads(1)``); each time is the
minimum over ``--repeats`` runs of one call's CPU time (``process_time``), forward only, on the same values
(standard normal for the functions of x, uniform in (0, 1) or (-1, 1) for the quantiles). Prints milliseconds
and the minigrad / PyTorch ratio.
"""

from __future__ import annotations

import argparse
import time
from typing import Callable

import numpy as np
from threadpoolctl import threadpool_limits

import minigrad as mg
import nn.functional as F  # noqa: N812


def _best(function: Callable[[object], object], argument: object, repeats: int) -> float:
    function(argument)
    times = []
    for _ in range(repeats):
        start = time.process_time()
        function(argument)
        times.append(time.process_time() - start)
    return min(times) * 1e3


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    import torch  # noqa: PLC0415 - the peer, only for this benchmark
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    normal, unit, signed = rng.standard_normal(10**6), rng.uniform(0, 1, 10**6), rng.uniform(-1, 1, 10**6)
    cases = [("erf", normal, mg.erf, torch.erf), ("erfc", normal, mg.erfc, torch.erfc),
             ("erfinv", signed, mg.erfinv, torch.erfinv), ("ndtri", unit, mg.special.ndtri, torch.special.ndtri),
             ("erfcx", normal, mg.special.erfcx, torch.special.erfcx), ("ndtr", normal, mg.special.ndtr,
                                                                        torch.special.ndtr),
             ("log_ndtr", normal, mg.special.log_ndtr, torch.special.log_ndtr),
             ("gelu", normal, F.gelu, torch.nn.functional.gelu)]
    print(f"# 1e6 values, one thread, min of {args.repeats} (CPU ms); NumPy {np.__version__}, "
          f"PyTorch {torch.__version__}")
    print(f"{'op':<10} {'dtype':<8} {'minigrad':>9} {'torch':>8} {'ratio':>7}")
    with threadpool_limits(1):
        for name, values, ours, theirs in cases:
            for dtype in ("float64", "float32"):
                x, t = mg.tensor(values.astype(dtype)), torch.tensor(values.astype(dtype))
                a, b = _best(ours, x, args.repeats), _best(theirs, t, args.repeats)
                print(f"{name:<10} {dtype:<8} {a:9.2f} {b:8.2f} {a / b:7.1f}")


if __name__ == "__main__":
    main()
