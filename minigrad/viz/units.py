"""The records a drawing is made of: units (drawn nodes) and edges between them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .scopes import Elided


@dataclass(eq=False, slots=True)   # eq=False: units are dict keys by identity
class Unit:
    """One drawn node: an op, a folded scope (box), a leaf, a ghost copy of a leaf, or a
    reference (a dashed stand-in, next to a time step, for an op that many steps share)."""

    kind: str                 # "op", "box", "leaf", "ghost" or "ref"
    place: str                # the scope of the cluster that holds it ("" when ungrouped)
    home: str                 # its own scope (a box: the folded path), used to find hubs
    order: tuple              # sort key: where it comes in the DOT text
    title: str = ""           # op name or box name, for references
    path: str = ""            # box: the folded scope
    leaf: Any = None          # leaf / ghost: the tensor
    weights: list | None = None   # op computed from parameters only (e.g. weight_hh.T): them
    meta: tuple = ()          # op: its node's out_meta
    label: str = ""
    attrs: dict = field(default_factory=dict)
    ops: int = 0              # box: ops inside
    params: dict = field(default_factory=dict)    # box: parameters used inside (keys, in first-use order)
    outputs: list = field(default_factory=list)   # box: (shape, dtype) of the values leaving it
    node_id: str = ""
    is_root: bool = False
    elided: Elided | None = None                      # box standing for a run of time steps
    inner_norms: list = field(default_factory=list)   # elided box: gradient norms along the edges inside it


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
