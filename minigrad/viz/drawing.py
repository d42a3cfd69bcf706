"""``draw``: from the roots' recorded graph to a ``graphviz.Digraph``.

The steps, each in its own module: walk the graph (:mod:`.graph`), decide
which scopes fold into boxes and which time steps are elided
(:mod:`.scopes`), take gradient norms by observing a backward walk
(:mod:`.gradients`), place units and edges (:mod:`.layout`), label and colour
them (:mod:`.style`) and state them as DOT (:mod:`.dot`).
"""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any, Sequence

from ..hooks import CAPTURING, _LevelHook
from .dot import Graph, emit_clusters, new_graph
from .gradients import GradientNorms, combined, observe, sent_back
from .graph import expand_captured, flatten, tags_of, walk
from .layout import collect, place_leaves, reference_hubs, wrapped_rows
from .scopes import Elided, Fold, cached, enclosing_step, folder, outer_step, plan_elision, with_elision
from .style import Scale, edge_attrs, label_box, label_leaf, label_op
from .units import Unit

STEPS_SHOWN = 4          # time steps kept per layer when a long unroll is elided (first 2, last 2)
STEPS_DRAWN_ALL = 100    # steps_shown="auto" with collapse="steps": layers up to this long show every step
OP_LEVEL_LIMIT = 2_000   # drawn nodes past which an op-level drawing elides its middle steps
MAX_NODES = 20_000       # drawn nodes past which draw refuses: Graphviz would take many minutes


class DrawingTooLargeError(ValueError):
    """The drawing would have more nodes than ``max_nodes``: Graphviz could not lay it out in reasonable time."""


class ElisionWarning(UserWarning):
    """An op-level drawing was too large, so the middle time steps of each layer are drawn as one node."""


def draw(*roots: Any, group: str | None = "scope", collapse: int | str | Sequence[str] | None = None,
         params: str = "ghost", show_shapes: bool = True, show_grads: bool = False, rankdir: str = "LR",
         steps_shown: int | str | None = "auto", max_nodes: int | None = MAX_NODES, wrap: int | None = None) -> Graph:
    """Draw the graph that produced ``roots`` (e.g. a loss, or ``output, h_n``).

    Args:
        roots: Tensors (or nested lists/tuples of them) whose history is drawn.
        group: ``"scope"``: one nested cluster per name scope; ``None``: no clusters.
        collapse: ``None`` (every op), an int N (keep N scope levels open, fold each
            scope at level N+1 into one box), ``"steps"`` (fold every ``t{t}`` scope)
            or a scope path / list of paths (fold just those, e.g. ``"encoder"``).
        params: ``"ghost"``: a leaf used in several places is drawn as a dashed
            copy at each use, and an op linked to many time steps (the ``unbind``
            of a layer's inputs, the ``stack`` of its outputs) as a dashed
            reference in each step, with one dashed anchor edge to the real node:
            long edges are what makes Graphviz's layout slow. ``"single"``: one
            node per leaf and every edge drawn as is.
        show_shapes: write output shapes and dtypes in the labels.
        show_grads: colour and label every edge by the norm of the gradient sent
            along it, each time step (cluster or box) by ‖∂L/∂h_t‖, and every other
            cluster or folded box by the gradient it sent back ("grads sent back"):
            √Σ‖g‖² over the edges entering it from outside (from other scopes'
            ops, inputs and parameters), i.e. what its ops passed on to everything
            they read, so a layer or module that shrinks or blows up the gradient
            stands out; colours use the edges' log scale. The gradients are those of
            the one-element roots (the losses): ``draw`` walks their retained
            graph's backward pass itself and never reads or changes ``.grad``, so
            call it before ``backward()`` or after ``backward(retain_graph=True)``.
            It runs no gradient hooks (a ``UserWarning`` says so when the graph has
            some: a hook may change what ``backward()`` sends on). A step whose scope
            ran twice (a layer called twice) lists both ‖∂L/∂h‖ values. Several losses are
            walked one by one and where they share ops their norms add as √Σ‖g‖² (not the
            norm of the summed gradient a backward of their sum sends). A checkpointed
            segment (one ``checkpoint`` node) reruns its function, whose own hooks then run
            as in ``backward()``. An error a node's backward raises (a custom Function's)
            propagates as ``backward()`` would raise it.
        rankdir: Graphviz direction, ``"LR"`` (time runs left to right), ``"TB"``, ...
        steps_shown: with ``collapse="steps"``, an int n: a layer with more than
            n + 1 time steps keeps its first ⌈n/2⌉ and last ⌊n/2⌋ steps and draws
            the steps between as one node (how many steps, ops and parameters it
            stands for; with show_grads, the range of ‖∂L/∂h‖ and of the gradients
            inside). ``"auto"`` (default): every step of a layer of up to 100 steps
            is one box, and a longer layer keeps 4. An op-level drawing of more
            than 2,000 nodes is elided the same way (n, or 4 for ``"auto"``), with
            an :class:`ElisionWarning`. ``None``: never elide.
        max_nodes: raise :class:`DrawingTooLargeError` (suggesting ``collapse=``)
            when more op nodes and boxes than this would be drawn (before the
            automatic elision of an op-level drawing; after ``collapse="steps"``
            and its elision); ``None``: no limit.
        wrap: lay each layer's time-step boxes out in rows of this many steps, the
            rows stacked top to bottom like lines of text (needs step boxes, e.g.
            ``collapse="steps"``; ``rankdir`` must then be ``"LR"`` or ``"TB"``).

    A replayed ``mg.compile`` call (one node of the graph) is drawn as the ops
    it stands for, in the scopes they were captured in rebased on the call's
    (a compiled recurrent step sits in its ``t{t}`` cluster), so a captured and
    an eager run give the same drawing, gradient overlay included (the call's
    backward runs once more with an observer).

    Returns:
        A :class:`Graph` (a ``graphviz.Digraph``): ``.source`` is the DOT text;
        it displays inline in Jupyter.
    """
    _check_options(group, params, rankdir, steps_shown, max_nodes, wrap)
    tensors = flatten(roots)
    recorded = walk(tensors)
    nodes, roots_of = expand_captured(tensors, recorded)   # a replayed mg.compile call: its ops
    root_leaves = [t for t in tensors if t._node is None and t.requires_grad]
    if not nodes and not root_leaves:
        raise ValueError(
            "draw: nothing to draw: the roots have no recorded history (were they computed under "
            "no_grad, or from tensors without requires_grad=True?)"
        )
    scope_counts = Counter(node.scope for node in nodes)
    base = cached(folder(collapse, scope_counts))
    if max_nodes is not None and collapse != "steps":
        # what was asked for is too large: say so, rather than elide steps from a graph this big
        _check_size(_count_drawn(scope_counts, base), max_nodes)
    fold, plan = _plan_folding(collapse, base, scope_counts, steps_shown)
    if max_nodes is not None:
        _check_size(_count_drawn(scope_counts, fold), max_nodes)
    grads = observe(tensors) if show_grads else None
    if grads is not None:
        _warn_about_hooks(recorded)

    units, unit_of, edges, leaf_uses = collect(nodes, fold, group == "scope", roots_of, plan, grads)
    units += place_leaves(leaf_uses, root_leaves, edges, params == "ghost", len(nodes))
    if params == "ghost":
        units += reference_hubs(edges, show_shapes)

    _number(units)
    # edges in the order of their heads, then tails: stable, and reads like the walk
    ordered = sorted(edges.items(), key=lambda item: (item[0][1].order, item[0][0].order))

    h_norms: dict[str, list[float]] = {}
    run_norms: dict[str, list[float]] = {}
    back: dict[str, float] = {}
    scale = None
    if grads is not None:
        h_norms, run_norms = _hidden_norms(grads, nodes, plan)
        back = sent_back(nodes, grads)
        inner = [n for unit in units if unit.kind == "box" for n in unit.inner_norms]
        steps = [n for values in h_norms.values() for n in values]
        scale = Scale([combined(edge.norms) for edge in edges.values()] + steps + inner + list(back.values()))

    for node, unit in unit_of.items():
        if unit.kind == "op":
            label_op(unit, node, show_shapes, node in roots_of)
    for unit in units:
        if unit.kind == "box":
            own = run_norms.get(unit.path, []) if unit.elided else h_norms.get(unit.path, [])
            label_box(unit, show_shapes, own, scale, None if unit.elided else back.get(unit.path))
        elif unit.kind in ("leaf", "ghost"):
            label_leaf(unit, show_shapes)

    rows = None
    if wrap is not None:
        rows = wrapped_rows(units, wrap)
        if not rows:
            has_steps = any(outer_step(scope) is not None for scope in scope_counts)
            hint = "pass collapse='steps' as well" if has_steps else "its graph has no time-step scope (t0, t1, ...)"
            raise ValueError(f"draw: wrap= lays out time-step boxes, and this drawing has none; {hint}")
    graph = new_graph("TB" if wrap is not None else rankdir)
    emit_clusters(graph, units, h_norms, scale, rows, back)
    for (tail, head), edge in ordered:
        graph.edge(tail.node_id, head.node_id, **edge_attrs(edge, scale, tail.kind == "box" or head.kind == "box"))
    if scale is not None:
        graph.node("legend", label=scale.legend(), shape="plaintext", style="")
    return graph


def _check_size(drawn: int, max_nodes: int) -> None:
    if drawn > max_nodes:
        raise DrawingTooLargeError(
            f"draw: this drawing would have {drawn:,} nodes, more than max_nodes={max_nodes:,}: Graphviz "
            f"cannot lay that out in reasonable time. Pass collapse='steps' (one box per time step, the "
            f"middle of a long unroll elided), collapse=N (fold the scopes below level N) or a scope path "
            f"such as collapse='encoder'; or max_nodes=None to draw it anyway (an op-level drawing then "
            f"elides the middle time steps past {OP_LEVEL_LIMIT:,} nodes, unless steps_shown=None)"
        )


def _number(units: list[Unit]) -> None:
    """Sort the units into one stable order and number them per kind (``n0``, ``b3``, ...):
    ids never depend on memory addresses, so the same graph gives the same DOT text."""
    units.sort(key=lambda u: u.order)
    counters = dict.fromkeys("nbpgr", 0)
    for unit in units:
        letter = {"op": "n", "box": "b", "leaf": "p", "ghost": "g", "ref": "r"}[unit.kind]
        unit.node_id = f"{letter}{counters[letter]}"
        counters[letter] += 1


def _hidden_norms(grads: GradientNorms, nodes: list,
                  plan: dict[str, Elided]) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """‖∂L/∂h‖ per scope (one value per op tagged ``"h"`` in it, in walk order: a module called
    twice records both calls in the same ``t{t}`` scopes), and per elided run the values of its steps.

    A time step also takes them from a scope nested deeper (a cell module
    called inside t3: ``t3/lstmcell``); the scope of the last such op wins.
    """
    own: dict[str, list[float]] = {}
    latest: dict[str, str] = {}   # time step → the scope (itself or one inside it) of its last "h" op
    run_norms: dict[str, list[float]] = {}
    for node in nodes:
        value = grads.hidden_of(node) if "h" in tags_of(node).values() else None
        if value is None:
            continue
        own.setdefault(node.scope, []).append(value)
        step = enclosing_step(node.scope)
        if step is not None:
            latest[step] = node.scope
        run = plan.get(outer_step(node.scope) or "")
        if run is not None:
            run_norms.setdefault(run.path, []).append(value)
    return {**own, **{step: own[scope] for step, scope in latest.items()}}, run_norms


def _user_hooks(hooks: dict | None) -> bool:
    """Whether a node's hook table (output index → hooks) holds a user's hook that ``backward()`` would run: not the
    capturing hook another thread's ``autograd.grad`` puts there for its walk (marked with ``walk``), nor one
    registered inside a ``mg.func`` transform, which runs only in that transform's own walk; read from a snapshot."""
    return bool(hooks) and any(getattr(hook, "walk", None) is None and not _other_level(hook)
                               for table in list(hooks.values()) for hook in tuple(table))


def _other_level(hook: Any) -> bool:
    """Whether ``hook`` belongs to a ``mg.func`` transform level other than the one running now (a backward outside
    it passes the hook without running it: :func:`~minigrad.hooks.transform_level`)."""
    if not isinstance(hook, _LevelHook):
        return False
    now = getattr(CAPTURING, "level", None)
    return now is None or hook.level() is not now   # (a level that ended: its weak reference is dead)


def _warn_about_hooks(nodes: list) -> None:
    """Warn that the gradient norms leave out the hooks on op outputs: ``backward()`` runs them (they may
    replace the gradients it sends on), the observed backward walk does not (drawing runs no user code)."""
    hooked = list(dict.fromkeys(node.name for node in nodes if node.runs_user_hooks or _user_hooks(node.hooks)))
    if hooked:
        warnings.warn(
            f"draw(show_grads=True): gradient hooks (Tensor.register_hook, grad_fn hooks, a module's backward "
            f"hooks) are registered on the outputs of {', '.join(hooked[:3])}{', …' if len(hooked) > 3 else ''}; "
            f"backward() runs them and a hook may replace the gradient it sends on, but draw does not run them: "
            f"the norms drawn are those of the gradients without the hooks",
            UserWarning, stacklevel=3,
        )


def _check_options(group: Any, params: Any, rankdir: Any, steps_shown: Any, max_nodes: Any, wrap: Any) -> None:
    if group not in ("scope", None):
        raise ValueError(f"draw: group must be 'scope' or None, got {group!r}")
    if params not in ("ghost", "single"):
        raise ValueError(f"draw: params must be 'ghost' or 'single', got {params!r}")
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"draw: rankdir must be one of LR, RL, TB, BT, got {rankdir!r}")
    if steps_shown == "auto":
        steps_shown = None
    for name, value, least in (("steps_shown", steps_shown, 0), ("max_nodes", max_nodes, 0), ("wrap", wrap, 1)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            also = " or 'auto'" if name == "steps_shown" else ""
            raise TypeError(f"draw: {name} must be an int{also} or None, got {value!r}")
        if value is not None and value < least:
            raise ValueError(f"draw: {name}={value} must be >= {least} (or None)")
    if wrap is not None and rankdir not in ("LR", "TB"):
        raise ValueError(f"draw: wrap= lays rows left to right, stacked top to bottom; rankdir={rankdir!r} "
                         "cannot be combined with it (use 'LR' or 'TB')")


def _plan_folding(collapse: Any, base: Fold, scope_counts: Counter,
                  steps_shown: int | str | None) -> tuple[Fold, dict[str, Elided]]:
    """The fold (scope → box path or None) and the elided step runs, given the fold ``collapse`` asks for."""
    if steps_shown is None:
        return base, {}
    auto = steps_shown == "auto"
    kept = STEPS_SHOWN if auto else steps_shown
    if collapse == "steps":   # "auto": each step its own box, unless the layer is too long to read as a row
        plan = plan_elision(scope_counts, kept, STEPS_DRAWN_ALL if auto else 0)
        return (cached(with_elision(base, plan)), plan) if plan else (base, {})
    plan = plan_elision(scope_counts, kept)
    if not plan:
        return base, {}
    ops = _count_drawn(scope_counts, base)
    if ops <= OP_LEVEL_LIMIT:
        return base, {}
    fold = cached(with_elision(base, plan))
    if _count_drawn(scope_counts, fold) >= ops:   # the steps were folded already: nothing to elide
        return base, {}
    runs = {run.path: run for run in plan.values()}
    warnings.warn(
        f"draw: {ops:,} nodes are too many to lay out quickly, so each layer's first and last time steps "
        f"are drawn op by op (steps_shown={kept}) and the steps between as one node "
        f"({', '.join(f'{path}: {run.steps:,} steps' for path, run in list(runs.items())[:4])}"
        f"{', …' if len(runs) > 4 else ''}). Pass steps_shown=None to draw every op, or "
        f"collapse='steps' for one box per time step",
        ElisionWarning, stacklevel=3,
    )
    return fold, plan


def _count_drawn(scope_counts: Counter, fold: Fold) -> int:
    """Op nodes and boxes the fold would draw (leaves and their copies not counted)."""
    boxes = set()
    ops = 0
    for scope, count in scope_counts.items():
        box = fold(scope)
        if box is None:
            ops += count
        else:
            boxes.add(box)
    return ops + len(boxes)
