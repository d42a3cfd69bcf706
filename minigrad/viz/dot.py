"""DOT output: the returned Digraph, and units stated inside their nested scope clusters."""

from __future__ import annotations

import re
from typing import Any

import graphviz

from .scopes import parent
from .style import Scale, escape, norm_text, norms_text
from .units import Unit

INSTALL_HINT = (
    "install Graphviz: `apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS) "
    "or `conda install graphviz`"
)
GRAPH_ATTRS = {"fontname": "Helvetica", "fontsize": "11", "nodesep": "0.15", "ranksep": "0.25"}
NODE_ATTRS = {"shape": "box", "style": "rounded", "fontname": "Helvetica", "fontsize": "10", "height": "0.3",
              "margin": "0.06,0.03"}
EDGE_ATTRS = {"arrowsize": "0.6", "fontname": "Helvetica", "fontsize": "8"}


class Graph(graphviz.Digraph):
    """The ``graphviz.Digraph`` that :func:`minigrad.viz.draw` returns.

    It displays inline in Jupyter (as SVG) like any Digraph; without the
    ``dot`` binary it shows the DOT text and how to install Graphviz instead
    of a traceback.
    """

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict:
        try:
            return super()._repr_mimebundle_(include, exclude, **kwargs)
        except graphviz.ExecutableNotFound:
            return {"text/plain": f"(no Graphviz 'dot' binary to draw this graph: {INSTALL_HINT})\n{self.source}"}


def new_graph(rankdir: str) -> Graph:
    return Graph("minigrad", graph_attr={"rankdir": rankdir, **GRAPH_ATTRS}, node_attr=NODE_ATTRS,
                 edge_attr=EDGE_ATTRS)


def emit_clusters(graph: graphviz.Digraph, units: list[Unit], h_norms: dict[str, list[float]], scale: Scale | None,
                  rows: dict[str, list[list[Unit]]] | None = None, sent_back: dict[str, float] | None = None) -> None:
    """State every unit inside its (nested) scope cluster, in unit order.

    When the gradients are shown, a time-step cluster is labelled and coloured
    by ‖∂L/∂h‖, any other by ``sent_back`` (scope → norm of the gradients it sent back).
    ``rows`` (cluster scope → rows of units) puts each row at one rank.
    """
    members: dict[str, list[Unit]] = {}
    children: dict[str, list[str]] = {"": []}
    for unit in units:
        members.setdefault(unit.place, []).append(unit)
        path = unit.place
        # register the cluster and its ancestors, parents first
        chain = []
        while path and path not in children:
            chain.append(path)
            path = parent(path)
        for path in reversed(chain):
            children[path] = []
            children[parent(path)].append(path)
    names: dict[str, str] = {}
    taken: set[str] = set()
    for path in children:
        if not path:
            continue
        base = "cluster_" + re.sub(r"\W", "_", path, flags=re.ASCII)[:200]   # an id, not drawn: kept short
        name, k = base, 1
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        taken.add(name)
        names[path] = name

    def fill(target: graphviz.Digraph, path: str) -> None:
        for unit in members.get(path, ()):
            target.node(unit.node_id, label=graphviz.nohtml(unit.label), **_plain(unit.attrs))
        for row in (rows or {}).get(path, ()):
            same = graphviz.Digraph(graph_attr={"rank": "same"})   # anonymous: not a cluster
            for unit in row:
                same.node(unit.node_id)
            target.subgraph(same)
        for child in children[path]:
            label = child.rsplit("/", 1)[-1]
            attrs = {"label": escape(label), "style": "rounded", "color": "#9e9e9e", "fontsize": "10",
                     "tooltip": escape(child)}
            if scale is not None and child in h_norms:
                attrs["label"] = f"{escape(label)}\\n‖∂L/∂h‖ {norms_text(h_norms[child])}"
                attrs["color"] = scale.color(max(h_norms[child]))
                attrs["penwidth"] = "2"
            elif scale is not None and sent_back and child in sent_back:
                attrs["label"] = f"{escape(label)}\\ngrads sent back {norm_text(sent_back[child])}"
                attrs["color"] = scale.color(sent_back[child])
                attrs["penwidth"] = "2"
            sub = graphviz.Digraph(names[child], graph_attr=_plain(attrs))
            fill(sub, child)   # depth = scope nesting depth (a handful)
            target.subgraph(sub)

    fill(graph, "")


def _plain(attrs: dict[str, str]) -> dict[str, str]:
    """Attribute values as plain text: a name such as ``<pad>`` is not an HTML-like label to Graphviz."""
    return {key: graphviz.nohtml(value) for key, value in attrs.items()}
