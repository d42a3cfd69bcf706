"""DOT output: the returned Digraph, and units stated inside their nested scope clusters."""

from __future__ import annotations

import re
from collections import Counter
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
MAX_DEPTH = 2_000   # cluster nesting drawn: dot's parser stops near 2,500 (its stack holds 10,000 entries, 4 a level)


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
    depth = max((path.count("/") + 1 for path in children if path), default=0)
    if depth > MAX_DEPTH:
        raise ValueError(
            f"draw: name scopes nest {depth:,} deep, more than the {MAX_DEPTH:,} levels of clusters drawn "
            f"(Graphviz cannot read about 2,500); pass collapse=N (fold each scope below level N into one box) "
            f"or group=None (no clusters)"
        )
    names: dict[str, str] = {}
    taken: set[str] = set()
    suffix: Counter = Counter()   # base → the last number tried after it (a deep scope's ids share their start)
    for path in children:
        if not path:
            continue
        base = name = "cluster_" + re.sub(r"\W", "_", path, flags=re.ASCII)[:200]   # an id, not drawn: kept short
        while name in taken:
            suffix[base] += 1
            name = f"{base}_{suffix[base]}"
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

    fill(graph, "")
    # Each cluster's lines go straight into the graph's body, indented by depth, as Digraph.subgraph would
    # nest them: a walk with a stack (scopes may nest a thousand deep), each line written once.
    stack: list[tuple[str, int]] = [(path, 1) for path in reversed(children[""])]
    while stack:
        path, depth = stack.pop()
        if depth < 0:   # every scope inside it written: close it
            graph.body.append("\t" * -depth + "}\n")
            continue
        cluster = graphviz.Digraph(names[path], graph_attr=_plain(_cluster_attrs(path, h_norms, scale, sent_back)))
        fill(cluster, path)
        graph.body += ["\t" * depth + line for line in list(cluster.__iter__(subgraph=True))[:-1]]
        stack += [(path, -depth), *((child, depth + 1) for child in reversed(children[path]))]


def _cluster_attrs(path: str, h_norms: dict[str, list[float]], scale: Scale | None,
                   sent_back: dict[str, float] | None) -> dict[str, str]:
    """A scope cluster's label (its last part; with gradients its ‖∂L/∂h‖ or the gradients it sent back),
    colour and tooltip (the whole path)."""
    label = path.rsplit("/", 1)[-1]
    attrs = {"label": escape(label), "style": "rounded", "color": "#9e9e9e", "fontsize": "10",
             "tooltip": escape(path)}
    if scale is not None and path in h_norms:
        attrs["label"] = f"{escape(label)}\\n‖∂L/∂h‖ {norms_text(h_norms[path])}"
        attrs["color"] = scale.color(max(h_norms[path]))
        attrs["penwidth"] = "2"
    elif scale is not None and sent_back and path in sent_back:
        attrs["label"] = f"{escape(label)}\\ngrads sent back {norm_text(sent_back[path])}"
        attrs["color"] = scale.color(sent_back[path])
        attrs["penwidth"] = "2"
    return attrs


def _plain(attrs: dict[str, str]) -> dict[str, str]:
    """Attribute values as plain text: a name such as ``<pad>`` is not an HTML-like label to Graphviz."""
    return {key: graphviz.nohtml(value) for key, value in attrs.items()}
