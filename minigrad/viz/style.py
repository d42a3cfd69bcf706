"""How units and edges look: labels, fills, and the log colour scale of gradient norms.

To add a style, change the attributes a ``label_*`` function or
:func:`edge_attrs` sets (any Graphviz node/edge attribute works); the
layout never looks at them.
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterable, Sequence

import numpy

from ..autograd import Function
from .gradients import combined
from .graph import is_parameter, tags_of
from .units import Edge, Unit

# Gradient colour scale, small → large norm: faded grey-blue to dark red.
PALETTE = ("#c8d0dc", "#8fb3d9", "#3d7cc9", "#6a3fa0", "#c2185b", "#b71c1c")
NO_GRAD_COLOR = "#b0b0b0"
PARAMETER_FILL, INPUT_FILL, BOX_FILL, ELIDED_FILL, HIDDEN_FILL = "#fff4cc", "#e3f2e1", "#f2f2f2", "#e6e6e6", "#dbe9f6"
ENTITY_START = re.compile(r"&(?=#|\w+;)")   # Graphviz reads "&lt;", "&#65;", even "&#;" in a label as entities
NAME_LIMIT = 1_000   # characters of a name drawn: escaped, at most 7 bytes each, well inside Graphviz's 16 KiB


def escape(text: str) -> str:
    """A user's name as Graphviz label text that reads back as written: a backslash is not an escape
    (``\\N``), an ``&`` does not start an entity (``&lt;`` is written ``&amp;lt;``), and a NUL, which
    would end the DOT string, is drawn as ``␀``. A lone surrogate (a name made by ``os.fsdecode`` from
    bytes that are not UTF-8), which no UTF-8 text can hold, is drawn as Python writes it: ``\\udcff``.
    A name longer than ``NAME_LIMIT`` characters keeps its start and end around a ``…`` (Graphviz cannot
    read a quoted string past 16,384 bytes)."""
    if len(text) > NAME_LIMIT:
        text = f"{text[:NAME_LIMIT // 2]}…{text[-(NAME_LIMIT // 2 - 1):]}"
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")   # before backslashes are doubled
    text = ENTITY_START.sub("&amp;", text.replace("\\", "\\\\"))
    return text.replace("\x00", "\u2400")


def shape_text(shape: Any, dtype: Any) -> str:
    return f"{tuple(int(d) for d in shape)} {numpy.dtype(dtype).name}"


def meta_text(metas: Sequence[tuple]) -> str:
    """``(shape, dtype)`` pairs as label lines: ``3 × (2, 4) float32`` when they agree."""
    texts = [shape_text(shape, dtype) for shape, dtype in metas]
    if not texts:
        return ""
    if len(set(texts)) == 1:
        return texts[0] if len(texts) == 1 else f"{len(texts)} × {texts[0]}"
    distinct = list(dict.fromkeys(texts))
    return "\\n".join(distinct[:3]) + ("\\n…" if len(distinct) > 3 else "")


def norm_text(value: float) -> str:
    return "0" if value == 0 else f"{value:.1e}"


def range_text(values: Sequence[float]) -> str:
    low, high = min(values), max(values)
    return norm_text(low) if low == high else f"{norm_text(low)} … {norm_text(high)}"


def norms_text(values: Sequence[float]) -> str:
    """Each value (a time step that ran twice: both ‖∂L/∂h‖), or their range past three."""
    if len(values) <= 3:
        return ", ".join(norm_text(v) for v in values)
    return f"{range_text(values)} ({len(values)} values)"


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("s" if count != 1 else "")   # plain digits: easy to read back


class Scale:
    """Log-scale colours for gradient norms between the smallest and largest seen."""

    def __init__(self, values: Iterable[float | None]) -> None:
        logs = [math.log10(v) for v in values if v is not None and v > 0 and math.isfinite(v)]
        self.low = math.floor(min(logs)) if logs else 0.0
        self.high = math.ceil(max(logs)) if logs else 1.0
        if self.high <= self.low:
            self.high = self.low + 1

    def fraction(self, value: float) -> float:
        position = (math.log10(value) - self.low) / (self.high - self.low)
        return min(1.0, max(0.0, position))

    def color(self, value: float | None) -> str:
        if value is None or value <= 0 or not math.isfinite(value):
            return NO_GRAD_COLOR
        position = self.fraction(value) * (len(PALETTE) - 1)
        k = min(int(position), len(PALETTE) - 2)
        w = position - k
        a, b = PALETTE[k], PALETTE[k + 1]
        rgb = [round((1 - w) * int(a[i:i + 2], 16) + w * int(b[i:i + 2], 16)) for i in (1, 3, 5)]
        return "#" + "".join(f"{c:02x}" for c in rgb)

    def width(self, value: float | None) -> str:
        if value is None or value <= 0 or not math.isfinite(value):
            return "0.8"
        return f"{0.8 + 2.7 * self.fraction(value):.2f}"

    def legend(self) -> str:
        """An HTML-like Graphviz label: one coloured cell per power of ten."""
        steps = int(self.high - self.low)
        stride = max(1, math.ceil(steps / 8))
        exponents = [*range(int(self.low), int(self.high), stride), int(self.high)]   # the top always shown
        cells = "".join(
            f'<td bgcolor="{self.color(10.0 ** e)}"><font point-size="9">1e{e}</font></td>' for e in exponents
        )
        return (
            '<<table border="0" cellborder="1" cellspacing="0" cellpadding="4">'
            f'<tr><td colspan="{len(exponents)}">gradient norm (log scale)</td></tr>'
            f"<tr>{cells}</tr></table>>"
        )


def label_op(unit: Unit, node: Function, show_shapes: bool, is_root: bool) -> None:
    tags = tags_of(node)
    labels = list(dict.fromkeys(tags[j] for j in sorted(tags)))   # a fused LSTM step: [h, c]
    title = node.name + (f"  [{', '.join(labels)}]" if labels else "")
    lines = [escape(title)]
    if show_shapes and node.out_meta:
        lines.append(meta_text(node.out_meta))
    unit.label = "\\n".join(lines)
    if "h" in labels:
        unit.attrs = {"style": "rounded,filled", "fillcolor": HIDDEN_FILL}
    if is_root:
        unit.attrs = {**unit.attrs, "penwidth": "2"}


def label_box(unit: Unit, show_shapes: bool, h_norms: list[float], scale: Scale | None,
              sent_back: float | None = None) -> None:
    """A folded scope: its name, what it holds, the shapes leaving it, and with show_grads ‖∂L/∂h‖
    (a time step) or else ``sent_back``, the norm of the gradients it sent to everything it read.

    An elided run of steps says how many steps, ops and parameters it stands
    for and, with show_grads, the range of the gradients inside it.
    """
    count = plural(unit.ops, "op")
    if unit.params:
        count += ", " + plural(len(unit.params), "param")
    if unit.elided is not None:
        count = plural(unit.elided.steps, "step") + " elided\\n" + count
    lines = [escape(unit.path.rsplit("/", 1)[-1]), count]
    if show_shapes and unit.outputs:
        lines.append(meta_text(list(dict.fromkeys(unit.outputs))))
    attrs = {"shape": "box", "style": "rounded,filled", "fillcolor": BOX_FILL, "tooltip": escape(unit.path)}
    if unit.elided is not None:
        attrs.update(style="rounded,filled,dashed", fillcolor=ELIDED_FILL)
    if h_norms and scale is not None:
        lines.append(f"‖∂L/∂h‖ {range_text(h_norms) if unit.elided else norms_text(h_norms)}")
        attrs["color"] = scale.color(max(h_norms))
        attrs["penwidth"] = "2"
    elif sent_back is not None and scale is not None:
        lines.append(f"grads sent back {norm_text(sent_back)}")
        attrs["color"] = scale.color(sent_back)
        attrs["penwidth"] = "2"
    inner = [n for n in unit.inner_norms if n is not None]
    if inner and scale is not None:
        lines.append(f"grads inside {range_text(inner)}")
    if unit.is_root:
        attrs["penwidth"] = "2"
    unit.label = "\\n".join(lines)
    unit.attrs = attrs


def label_leaf(unit: Unit, show_shapes: bool) -> None:
    leaf = unit.leaf
    parameter = is_parameter(leaf)
    name = leaf.name
    lines = [escape(str(name))] if name else []
    if show_shapes or not lines:
        lines.append(shape_text(leaf.shape, leaf.dtype) if show_shapes else "leaf")
    unit.label = "\\n".join(lines)
    fill = PARAMETER_FILL if parameter else INPUT_FILL
    if unit.kind == "ghost":
        unit.attrs = {"style": "dashed,filled", "fillcolor": fill, "fontsize": "8", "height": "0.2",
                      "color": "#888888"}
    else:
        unit.attrs = {"style": "filled", "fillcolor": fill, "shape": "box" if parameter else "ellipse"}
    if unit.is_root:
        unit.attrs["penwidth"] = "2"


def edge_attrs(edge: Edge, scale: Scale | None, boxed: bool) -> dict[str, str]:
    """Style of one edge. Gradient labels between boxes get room in the layout
    (``label``); other labels are placed after layout (``xlabel``), which keeps
    big graphs fast."""
    if edge.anchor:   # count: how many scopes the hub links to; norms: along all the hub's edges
        value = combined(edge.norms) if scale is not None else None
        return {"style": "dashed", "color": "#999999", "arrowhead": "none", "fontcolor": "#777777",
                "xlabel": f"×{edge.count}" + ("" if value is None else f" {norm_text(value)}")}
    attrs: dict[str, str] = {}
    texts = []
    if edge.indices:
        attrs["taillabel"] = ",".join(str(i) for i in edge.indices)
    if edge.count > 1:
        texts.append(f"×{edge.count}")
    if scale is not None:
        value = combined(edge.norms)
        attrs["color"] = scale.color(value)
        attrs["penwidth"] = scale.width(value)
        if value is None:
            attrs["style"] = "dashed"
        else:
            texts.append(norm_text(value))
            attrs["fontcolor"] = attrs["color"]
    if texts:
        roomy = boxed and scale is not None
        attrs["label" if roomy else "xlabel"] = " ".join(texts)
    return attrs
