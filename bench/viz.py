"""Drawing an unrolled LSTM: time from ``draw`` to a finished SVG, and the SVG's width.

    python -m bench.viz [--timeout 30] [--no-peer]

An ``nn.LSTM(input_size=32, hidden_size=32)`` runs over a batch of 8 for T
steps; the loss is the sum of the last output. Timed (once per row, the graph
already built): ``mg.viz.draw(loss, ...)`` and Graphviz ``dot -Tsvg`` on its
DOT text, which is what ``mg.viz.render`` does. Rows:

* T = 10, 50, 100 at op level (every op drawn; ghost weights and references);
* T = 1,000 with ``collapse="steps"`` (the default view: the first and last
  two steps, the 996 between as one node), with and without ``show_grads``;
* T = 1,000 with ``collapse="steps", steps_shown=None`` (one box for every step);
* T = 2,000 at op level with ``steps_shown=None``: 24,000 ops, refused
  (``DrawingTooLargeError``); the time to the refusal.

Peer, in the same run: the same op-level graphs drawn the way small
frameworks usually draw them (micrograd, DeZero): one node per op and per
weight, every edge drawn as is, no clusters (``params="single", group=None``);
its ``dot`` is stopped after ``--timeout`` seconds.

Targets: 100 steps at op level under 5 s (issue 5); 1,000 steps collapsed at
most 2,000 pt wide and under 0.5 s (issue 11); a drawing too large to lay out
refused within 1 s (issue 13).
"""

from __future__ import annotations

import argparse
import platform
import re
import shutil
import subprocess
import sys
import time

import numpy

import minigrad as mg
import nn
from minigrad import viz

HIDDEN, BATCH, INPUT = 32, 8, 32
# (T, label, draw options, target seconds, target width in pt)
ROWS = [
    (10, "op level", {}, None, None),
    (50, "op level", {}, None, None),
    (100, "op level", {}, 5.0, None),
    (1000, "steps", {"collapse": "steps"}, 0.5, 2000),
    (1000, "steps, grads", {"collapse": "steps", "show_grads": True}, None, 2000),
    (1000, "steps, all", {"collapse": "steps", "steps_shown": None}, 3.0, None),
    (2000, "op, all", {"steps_shown": None}, 1.0, None),
]


def lstm_loss(steps: int) -> mg.Tensor:
    """The graph to draw: LSTM(32, 32) over (T, 8, 32), loss = sum of the last output."""
    mg.manual_seed(0)
    model = nn.LSTM(INPUT, HIDDEN)
    output, _ = model(mg.randn(steps, BATCH, INPUT))
    return output[-1].sum()


def time_svg(loss: mg.Tensor, timeout: float, **options: object) -> dict:
    """Seconds for draw and for dot -Tsvg, DOT size, node count and SVG width (time None if dot ran out of
    time); a refused drawing gives the seconds to the refusal as ``refused``."""
    start = time.perf_counter()
    try:
        source = viz.draw(loss, **options).source
    except viz.DrawingTooLargeError:
        return {"refused": time.perf_counter() - start}
    drawn = time.perf_counter()
    width = None
    try:
        result = subprocess.run(["dot", "-Tsvg"], input=source.encode("utf-8"), capture_output=True,
                                timeout=timeout)
        finished = time.perf_counter() if result.returncode == 0 else None
        match = re.search(rb'<svg width="(\d+)pt"', result.stdout)
        width = int(match.group(1)) if match else None
    except subprocess.TimeoutExpired:
        finished = None
    nodes = len(re.findall(r"^\t+\w+ \[label=", source, flags=re.MULTILINE))
    return {
        "draw": drawn - start,
        "total": None if finished is None else finished - start,
        "kib": len(source.encode("utf-8")) / 1024,
        "nodes": nodes,
        "width": width,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.viz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=30.0, help="stop the peer's dot after this many seconds")
    parser.add_argument("--no-peer", action="store_true", help="skip the one-node-per-weight peer")
    args = parser.parse_args(argv)
    if shutil.which("dot") is None:
        print("bench.viz: Graphviz 'dot' is not installed (apt-get install graphviz)", file=sys.stderr)
        return 1
    version = subprocess.run(["dot", "-V"], capture_output=True, text=True).stderr.strip()
    print(f"LSTM(input_size={INPUT}, hidden_size={HIDDEN}), batch {BATCH}; loss = sum of the last output")
    print(f"Python {platform.python_version()}, NumPy {numpy.__version__}, {version}\n")
    header = f"{'T':>5} {'view':<14} {'draw s':>7} {'to SVG s':>9} {'DOT KiB':>8} {'nodes':>6} {'width pt':>9}"
    if not args.no_peer:
        header += f"   {'peer (flat, shared nodes): to SVG s':>36} {'nodes':>6} {'ratio':>6}"
    print(header)
    met = True
    for steps, view, options, target, max_width in ROWS:
        loss = lstm_loss(steps)
        row = time_svg(loss, timeout=args.timeout * 5, **options)
        if "refused" in row:
            line = f"{steps:>5} {view:<14} refused (DrawingTooLargeError) after {row['refused']:.2f} s"
            ok = target is None or row["refused"] < target
            met = met and ok
            print(line + (f"   target < {target:.0f} s: {'met' if ok else 'MISSED'}" if target else ""), flush=True)
            continue
        total = "stopped" if row["total"] is None else f"{row['total']:.2f}"
        width = "-" if row["width"] is None else str(row["width"])
        line = (f"{steps:>5} {view:<14} {row['draw']:>7.2f} {total:>9} {row['kib']:>8.0f} {row['nodes']:>6} "
                f"{width:>9}")
        if not args.no_peer and not options:
            peer = time_svg(loss, timeout=args.timeout, params="single", group=None)
            if peer["total"] is None:
                line += f"   {'> ' + format(args.timeout, '.0f') + ' (stopped)':>36} {peer['nodes']:>6} {'':>6}"
            else:
                line += f"   {peer['total']:>36.2f} {peer['nodes']:>6} {peer['total'] / row['total']:>5.1f}x"
        if target is not None:
            ok = row["total"] is not None and row["total"] < target
            met = met and ok
            line += f"   target < {target:g} s: {'met' if ok else 'MISSED'}"
        if max_width is not None:
            ok = row["width"] is not None and row["width"] <= max_width
            met = met and ok
            line += f"   width <= {max_width} pt: {'met' if ok else 'MISSED'}"
        print(line, flush=True)
    print("\nall targets met" if met else "\nsome targets missed")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
