"""Draw the recorded graph of a computation with Graphviz: see BPTT happen.

``draw(loss)`` walks the graph from its roots (iteratively, each node once)
and returns a ``graphviz.Digraph``:

* one box per op (op name, output shape, dtype) and one node per leaf tensor
  that requires grad (a parameter's module path such as
  ``encoder.weight_hh_l0``, or an input's name or shape); edges run in the
  direction data flows;
* one nested cluster per name scope (``lstm`` ⊃ ``l0`` ⊃ ``t3``), labelled with
  the scope's last component, so an unrolled recurrent layer reads as a row of
  time steps;
* ``params="ghost"``: a leaf used in several places is drawn as a small dashed
  copy beside each use, so no edge spans the whole picture;
* ``collapse``: fold scopes into single boxes (op count and output shape
  inside); with ``collapse="steps"`` every time step is one box, and an unroll
  of more than 100 steps keeps its first and last few (``steps_shown``) and
  draws the steps between as one node, and
  ``wrap=K`` lays the step boxes out in rows of K; a drawing too large to lay
  out (``max_nodes``) is refused at once;
* ``show_grads``: every edge is coloured and labelled by the norm of the
  gradient that flowed along it (log colour scale, with a legend) and each
  time step shows ‖∂L/∂h_t‖. ``draw`` observes a backward walk of the retained
  graph itself and never touches ``.grad``.

A replayed ``mg.compile`` call is drawn as the ops it stands for. Node ids
are numbered afresh in every call in walk order, so the same graph always
gives byte-identical DOT text. Drawing only reads the graph.

``render(loss, path="graph", format="svg")`` writes the picture (``"dot"``
needs no Graphviz binary). ``python -m minigrad.viz --help`` draws a built-in
model from the command line.

Modules: :mod:`.graph` (walk, compiled calls), :mod:`.scopes` (folding, elision),
:mod:`.gradients` (the backward observer), :mod:`.units` and :mod:`.layout`
(what is drawn where), :mod:`.style` (labels, colours), :mod:`.dot` (DOT
text), :mod:`.drawing` (``draw``), :mod:`.files` (``render``),
``__main__`` (the command line, the only place that loads ``nn``).
"""

from __future__ import annotations

from typing import Sequence

from .dot import Graph
from .drawing import MAX_NODES, STEPS_DRAWN_ALL, STEPS_SHOWN, DrawingTooLargeError, ElisionWarning, draw
from .files import FORMATS, DotNotFoundError, render

__all__ = ["DotNotFoundError", "DrawingTooLargeError", "ElisionWarning", "FORMATS", "Graph", "MAX_NODES",
           "STEPS_DRAWN_ALL", "STEPS_SHOWN", "draw", "main", "render"]


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (``python -m minigrad.viz``); loads ``nn`` only when called."""
    from .__main__ import main as cli  # noqa: PLC0415 - the CLI's demo models need nn

    return cli(argv)

