"""The records a drawing is made of: units (drawn nodes) and edges between them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .scopes import Elided


class Unit:
    """One drawn node: an op, a folded scope (box), a leaf, a ghost copy of a leaf, or a
    reference (a dashed stand-in, next to a time step, for an op that many steps share)."""

    __slots__ = ("kind", "place", "home", "order", "title", "path", "leaf", "weights", "meta", "label", "attrs",
                 "ops", "params", "outputs", "node_id", "is_root", "elided", "inner_norms")

    def __init__(self, kind: str, place: str, home: str, order: tuple) -> None:
        self.kind = kind
        self.place = place        # the scope of the cluster that holds it ("" when ungrouped)
        self.home = home          # its own scope (a box: the folded path), used to find hubs
        self.order = order        # sort key: where it comes in the DOT text
        self.title = ""           # op name or box name, for references
        self.path = ""            # box: the folded scope
        self.leaf: Any = None     # leaf / ghost: the tensor
        self.weights: list | None = None   # op computed from parameters only (e.g. weight_hh.T): them
        self.meta: tuple = ()     # op: its node's out_meta
        self.label = ""
        self.attrs: dict = {}
        self.ops = 0              # box: ops inside
        self.params: dict = {}    # box: parameters used inside (keys; dict keeps first-use order)
        self.outputs: list = []   # box: (shape, dtype) of the values leaving it
        self.node_id = ""
        self.is_root = False
        self.elided: Elided | None = None   # box standing for a run of time steps
        self.inner_norms: list = []         # elided box: gradient norms along the edges inside it


@dataclass
class Edge:
    """One drawn edge, standing for ``count`` recorded edges between the same two units."""

    count: int = 0
    norms: list = field(default_factory=list)      # gradient norm along each recorded edge (None: none flowed)
    indices: list = field(default_factory=list)    # which outputs of a multi-output op it carries
    anchor: bool = False                           # the dashed tie from a hub to its references


class Edges(dict):
    """(tail unit, head unit) → :class:`Edge`."""

    def add(self, tail: Unit, head: Unit, norms: list, indices: list, count: int = 1) -> Edge:
        edge = self.get((tail, head))
        if edge is None:
            edge = self[(tail, head)] = Edge()
        edge.count += count
        edge.norms.extend(norms)
        edge.indices.extend(i for i in indices if i not in edge.indices)
        return edge
