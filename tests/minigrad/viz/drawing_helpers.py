"""Reading drawn DOT text back (clusters, nodes, edges) and small graphs to draw, for the viz tests."""

from __future__ import annotations

import re
from pathlib import Path

import minigrad as mg
import nn

ROOT = Path(__file__).resolve().parents[3]   # the repository

# --- reading DOT text back ------------------------------------------------------------------------------

_NODE = re.compile(r'^\t+(\w+) \[label=(".*?(?<!\\)"|<.*>|\w+)')
_EDGE = re.compile(r"^\t+(\w+) -> (\w+)(?: \[(.*)\])?$")
_OPEN = re.compile(r"^\t+subgraph (\w+) \{$")
_LABEL = re.compile(r'label=(".*?(?<!\\)"|\w+)')


class Dot:
    """Clusters (nested, labelled), nodes (id → label, cluster) and edges of a drawn graph."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.clusters: dict[str, dict] = {}
        self.nodes: dict[str, str] = {}
        self.home: dict[str, str | None] = {}
        self.edges: list[tuple[str, str, str]] = []
        self.ranks: list[list[str]] = []   # anonymous {rank=same ...} groups: node ids
        stack: list[str] = []
        row: list[str] | None = None
        for line in source.splitlines():
            if m := _OPEN.match(line):
                name = m.group(1)
                self.clusters[name] = {"label": None, "parent": stack[-1] if stack else None, "nodes": []}
                stack.append(name)
            elif line.strip() == "{":
                row = []
            elif row is not None:
                if line.strip() == "}":
                    self.ranks.append(row)
                    row = None
                elif re.fullmatch(r"\w+", line.strip()):
                    row.append(line.strip())
            elif line.strip() == "}":
                if stack:
                    stack.pop()
            elif line.strip().startswith("graph [") and stack:
                label = _LABEL.search(line)
                self.clusters[stack[-1]]["label"] = label.group(1).strip('"') if label else None
            elif m := _EDGE.match(line):
                self.edges.append((m.group(1), m.group(2), m.group(3) or ""))
            elif m := _NODE.match(line):
                self.nodes[m.group(1)] = m.group(2).strip('"')
                self.home[m.group(1)] = stack[-1] if stack else None
                if stack:
                    self.clusters[stack[-1]]["nodes"].append(m.group(1))

    def title(self, cluster: str) -> str:
        return self.clusters[cluster]["label"].split("\\n")[0]

    def path(self, cluster: str | None) -> str:
        parts = []
        while cluster is not None:
            parts.append(self.title(cluster))
            cluster = self.clusters[cluster]["parent"]
        return "/".join(reversed(parts))

    def by_path(self) -> dict[str, str]:
        return {self.path(name): name for name in self.clusters}

    def inside(self, cluster: str) -> list[str]:
        """Node ids in a cluster and its sub-clusters."""
        ids = list(self.clusters[cluster]["nodes"])
        for name, info in self.clusters.items():
            if info["parent"] == cluster:
                ids += self.inside(name)
        return ids

    def ops(self, ids: list[str]) -> list[str]:
        return [i for i in ids if re.fullmatch(r"n\d+", i)]

    def labelled(self, text: str) -> list[str]:
        return [i for i, label in self.nodes.items() if text in label]


def steps_of(dot: Dot, layer_path: str) -> list[str]:
    """The time-step clusters directly inside the cluster at ``layer_path``, in t order."""
    layer = dot.by_path()[layer_path]
    found = {dot.title(n): n for n, info in dot.clusters.items() if info["parent"] == layer}
    return [found[k] for k in sorted(found, key=lambda t: int(t[1:]))]


def run_layer(kind: str, steps: int, hidden: int = 4, batch: int = 2, inputs: int = 3, **options):
    layer = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind](inputs, hidden, **options)
    output, state = layer(mg.randn(steps, batch, inputs))
    return output, state


def unrolled_rnn(steps: int, hidden: int = 3):
    """A tanh RNN unrolled by hand with scopes rnn/l0/t{t}; returns (loss, [h_t]) (each h_t keeps its .grad)."""
    w_hh = nn.Parameter(mg.randn(hidden, hidden) * 0.5)
    w_ih = nn.Parameter(mg.randn(hidden, 2) * 0.5)
    w_hh.name, w_ih.name = "rnn.weight_hh_l0", "rnn.weight_ih_l0"
    x = mg.randn(steps, 2, 2)
    h = mg.zeros(2, hidden)
    states = []
    with mg.name_scope("rnn"), mg.name_scope("l0"):
        for t in range(steps):
            with mg.name_scope(f"t{t}"):
                h = mg.tag((x[t] @ w_ih.T + h @ w_hh.T).tanh(), "h")
                h.retain_grad()
                states.append(h)
    return (h ** 2).sum(), states
