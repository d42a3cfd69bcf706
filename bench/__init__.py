"""Benchmarks, run as ``python -m bench.<name>``; their results are in bench/RESULTS.md."""

from minigrad import codegen


def steady_state() -> None:
    """Time ``mg.compile``'s programs as a long training loop runs them: as generated code after their first replays.

    By default a program is written out as code only once its replays have taken as long as the
    writing will (``codegen.worth_writing``: after a few dozen steps of a training loop); the
    benchmarks time the steps that come after, so they write each program after ``REPLAYS_FIRST``.
    """
    codegen.SECONDS_PER_OP = 0.0
