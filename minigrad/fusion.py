"""Elementwise ops of a captured program fused into generated GPU kernels (``mg.compile(mode="max-autotune")``).

On a GPU a replayed recurrent step is launch-bound: each of its small
elementwise ops is one to three CuPy kernels, and launching them costs more than
their arithmetic. With ``mode="max-autotune"`` (or ``"max-autotune-no-cudagraphs"``),
a capture on CuPy arrays groups each run of consecutive elementwise ops whose
inputs and outputs all have one shape and dtype (an LSTM step's three sigmoids,
two tanhs, two products and ``addcmul``) into one op, :class:`FusedOps`, whose
forward is one kernel and whose backward is another. The kernels are generated
by ``cupy.fuse`` from the ops' own ``forward`` and ``backward`` methods, called
on its tracing proxies in the order the capture recorded them (backward in
reverse, with the group's gradient sums): the math is still written once, in
the op classes.

The values are those of the ops one by one up to the last bits (the generated
code may contract ``a * b + c`` into one fused multiply-add), so unlike the
default replay this mode is not bit-identical to eager; PyTorch's
``torch.compile`` is not either. A gradient that does not reach one of a group's
outputs counts as zeros inside the group. Captures on the CPU are not changed
(NumPy has no kernel generator), nor are ops of other kinds, broadcasting ones,
or ops with a constant operand. The drawing shows a group as one ``fused`` node.

``cupy.fuse``'s proxies hide array shapes, which ``Mul``/``AddCMul``/``Add``/``Sub``
read to tell whether a gradient must be summed back over broadcast axes; every
array of a group has the group's shape, so while tracing (only then: ``cupy.fuse``
calls the traced functions only to trace) the proxies report it.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator

from . import backend
from .autograd import Function
from .capture import fresh_op
from .ops.elementwise import Add, AddCMul, Mul, Sigmoid, Sub, Tanh

__all__ = ["FUSABLE", "FusedOps", "fuse_elementwise", "proxies_with_shape"]

# the op classes whose forward and backward cupy.fuse can trace as they are written; each takes no parameter
# (an alpha, a slope), so groups of the same classes wired the same way can share one pair of kernels
# (FusedOps' key): a class added here that has one must put it in that key
FUSABLE = (Sigmoid, Tanh, Mul, AddCMul, Add, Sub)

# the array proxies of CuPy's two tracers (cupy/_core/fusion.pyx, and _fusion_interface.py's newer one)
_PROXIES = [("fusion", "_FusionVarScalar"), ("fusion", "_FusionVarArray"), ("_fusion_interface", "_VariableProxy")]


@contextlib.contextmanager
def proxies_with_shape(cp: Any, shape: tuple) -> Iterator[None]:
    """While ``cupy.fuse`` traces a function, its array proxies report ``shape`` (every array of a group has it)."""
    core = getattr(cp, "_core", None)   # (the strict CuPy stand-in of the tests has none: its fuse runs op by op)
    proxies = [getattr(getattr(core, module, None), name, None) for module, name in _PROXIES]
    proxies = [proxy for proxy in proxies if proxy is not None]
    before = [proxy.__dict__.get("shape") for proxy in proxies]
    for proxy in proxies:
        proxy.shape = property(lambda self: shape)
    try:
        yield
    finally:
        for proxy, old in zip(proxies, before):
            if old is None:
                del proxy.shape
            else:
                proxy.shape = old


_SHARED: dict = {}   # a group's structure -> (found, forward kernel, backward kernel)


class FusedOps(Function):
    """A run of captured elementwise ops as one op: one generated kernel forward, one backward.

    ``members``: ``(op, input slots, m)`` per op in recording order, where a slot is ``("in", j)``
    (the group's input j) or ``("out", k)`` (member k's output). Its outputs are the members'
    outputs, one per member, all of ``shape``; ``needs_grad`` says which inputs want a gradient.
    """

    name = "fused"
    multiple = True

    def __init__(self, members: list[tuple[Function, list, int]], n_inputs: int, shape: tuple,
                 needs_grad: tuple, cp: Any) -> None:
        self.members = [(fresh_op(op), slots, m) for op, slots, m in members]
        self.n_outputs = len(members)
        self.n_inputs = n_inputs
        self.group_shape = shape
        self.needs_grad = needs_grad
        self.xp = cp
        self.scope = members[0][0].scope
        self.out_meta = tuple(meta for op, _slots, _m in members for meta in op.out_meta)
        # groups of the same ops wired the same way (a recurrent layer's steps) share one pair of kernels,
        # traced once from the first group's members
        key = (cp, n_inputs, tuple((type(op), tuple(slots), tuple(op.needs_grad)) for op, slots, _m in members))
        first = _SHARED.get(key)
        if first is None:
            # what the traces find (a dict: the copies a capture makes of this op share it): where each
            # member's saved arrays are, which inputs get a gradient
            self.found: dict[str, Any] = {"saved": [], "n_kept": 0, "grad_inputs": []}
            self.forward_kernel = cp.fuse(kernel_name="minigrad_fused_forward")(self._trace_forward)
            self.backward_kernel = cp.fuse(kernel_name="minigrad_fused_backward")(self._trace_backward)
            # one call at a time: a trace sets the shared members' attributes (on the stand-in, every call)
            first = _SHARED[key] = (self.found, self.forward_kernel, self.backward_kernel, threading.Lock())
        self.found, self.forward_kernel, self.backward_kernel, self.lock = first

    # --- what cupy.fuse traces: the members' own code ---------------------------

    def _trace_forward(self, *inputs: Any) -> tuple:
        with proxies_with_shape(self.xp, self.group_shape):   # (cupy.fuse calls this only to trace)
            return self._forward_members(inputs)

    def _trace_backward(self, *arrays: Any) -> tuple:
        with proxies_with_shape(self.xp, self.group_shape):
            return self._backward_members(arrays)

    def _forward_members(self, inputs: tuple) -> tuple:
        values: list = []
        for op, slots, _m in self.members:
            values.append(op.forward(*(inputs[j] if kind == "in" else values[j] for kind, j in slots)))
        # the members' saved arrays: an input or a member's output is passed to the backward as it is,
        # anything else becomes one more output of the forward kernel
        position = {id(x): ("in", j) for j, x in enumerate(inputs)}
        position.update({id(y): ("out", m) for m, y in enumerate(values)})
        kept: list = []
        layout: list = []
        for op, _slots, _m in self.members:
            saved = op.__dict__.get("saved")
            if not saved:
                layout.append(None)
                continue
            for x in saved:
                if id(x) not in position:
                    position[id(x)] = ("kept", len(kept))
                    kept.append(x)
            layout.append([position[id(x)] for x in saved])
        self.found["saved"], self.found["n_kept"] = layout, len(kept)
        return (*values, *kept)

    def _backward_members(self, arrays: tuple) -> tuple:
        n, n_in = self.n_outputs, self.n_inputs
        grads: dict = {("out", m): g for m, g in enumerate(arrays[:n])}
        where = {"in": arrays[n:n + n_in], "out": arrays[n + n_in:2 * n + n_in], "kept": arrays[2 * n + n_in:]}
        for (op, slots, m), layout in zip(reversed(self.members), reversed(self.found["saved"])):
            g = grads.pop(("out", m))
            if layout is not None:
                op.saved = tuple(where[kind][j] for kind, j in layout)
            result = op.backward(g)
            result = result if type(result) is tuple else (result,)
            for slot, needs, r in zip(slots, op.needs_grad, result):
                if needs and r is not None:
                    grads[slot] = r if slot not in grads else grads[slot] + r
        self.found["grad_inputs"] = [j for j in range(n_in) if ("in", j) in grads]
        # a kernel's outputs are new arrays: copy a gradient that is an argument, or one returned twice
        seen = {id(x) for x in arrays}
        out = []
        for j in self.found["grad_inputs"]:
            g = grads[("in", j)]
            out.append(g.copy() if id(g) in seen else g)
            seen.add(id(g))
        return tuple(out)

    # --- the op --------------------------------------------------------------------

    def forward(self, *inputs: Any) -> tuple:
        with self.lock:
            results = self.forward_kernel(*inputs)
        results = results if type(results) is tuple else (results,)
        outputs = results[:self.n_outputs]
        self.saved = (inputs, outputs, results[self.n_outputs:])
        return tuple(outputs)

    def backward(self, *grads: Any) -> tuple:
        inputs, outputs, kept = self.saved
        zeros = None
        filled = []
        for g in grads:   # a gradient that did not reach an output counts as zeros
            if g is None:
                zeros = self.xp.zeros(self.group_shape, dtype=outputs[0].dtype) if zeros is None else zeros
                g = zeros
            filled.append(g)
        with self.lock:
            results = self.backward_kernel(*filled, *inputs, *outputs, *kept)
        results = results if type(results) is tuple else (results,)
        out: list = [None] * self.n_inputs
        for j, g in zip(self.found["grad_inputs"], results):
            out[j] = g
        return tuple(out)

    def kept_for_backward(self) -> tuple:
        inputs, outputs, kept = self.saved
        return (*inputs, *outputs, *kept)


def _eligible(step: tuple, input_shapes: list) -> bool:
    op, refs, n_out, shapes, recorded, params = step
    if type(op) not in FUSABLE or n_out != 1 or not recorded or params or op.hooks or op.retained:
        return False
    if any(ref[0] == "c" for ref in refs if type(ref) is not int):
        return False   # a Python number or raw array operand
    return all(s == shapes[0] for s in input_shapes)


def fuse_elementwise(tracer: Any, min_ops: int = 2) -> int:
    """Group runs of fusable ops in ``tracer.steps`` (a capture on CuPy arrays) into :class:`FusedOps`.

    Rewrites the steps and every reference to their outputs; returns the number of groups made.
    Captures on the host are left alone.
    """
    cp = backend.cupy_module(required=False)
    if cp is None or not hasattr(cp, "fuse") or not tracer.steps:
        return 0
    steps = tracer.steps

    def shape_of(ref: Any) -> Any:
        if type(ref) is int:
            ref = ("x", ref)
        if ref[0] == "c":   # a constant operand: not on the device as a tensor
            return None, None, False
        if ref[0] == "x":
            data = tracer.externals[ref[1]].data
            return data.shape, data.dtype, isinstance(data, cp.ndarray)
        step = steps[ref[1]]
        return step[3][ref[2]], step[0].out_meta[ref[2]][1] if step[0].out_meta else None, True

    runs: list[list[int]] = []
    current: list[int] = []
    key = None
    for k, step in enumerate(steps):
        metas = [shape_of(ref) for ref in step[1]]
        this = (step[3][0], metas[0][1]) if metas else None
        ok = (metas and all(on_device for _s, _d, on_device in metas)
              and _eligible(step, [s for s, _d, _g in metas]) and all(d == metas[0][1] for _s, d, _g in metas))
        if ok and (not current or this == key):
            current.append(k)
        else:
            if len(current) >= min_ops:
                runs.append(current)
            current = [k] if ok else []
        key = this if ok else None
    if len(current) >= min_ops:
        runs.append(current)
    if not runs:
        return 0

    new_steps: list = []
    where: dict[int, tuple[int, int]] = {}   # old step -> (new step, output index there)
    starts = {run[0]: run for run in runs}
    k = 0
    while k < len(steps):
        run = starts.get(k)
        if run is None:
            where[k] = (len(new_steps), 0)
            new_steps.append(steps[k])
            k += 1
            continue
        group = len(new_steps)
        inputs: list = []          # the group's input refs (old numbering)
        members = []
        needs = []
        for m, old in enumerate(run):
            op, refs = steps[old][0], steps[old][1]
            slots = []
            for position, ref in enumerate(refs):
                if type(ref) is not int and ref[0] == "o" and ref[1] in where and where[ref[1]][0] == group:
                    slots.append(("out", where[ref[1]][1]))
                else:
                    if ref not in inputs:
                        inputs.append(ref)
                        needs.append(False)
                    j = inputs.index(ref)
                    needs[j] = needs[j] or bool(op.needs_grad[position])
                    slots.append(("in", j))
            members.append((op, slots, m))
            where[old] = (group, m)
        shape = steps[run[0]][3][0]
        fused = FusedOps(members, len(inputs), shape, tuple(needs), cp)
        new_steps.append((fused, inputs, len(run), tuple(steps[old][3][0] for old in run), True, []))
        k = run[-1] + 1

    def renumber(ref: Any) -> Any:
        if type(ref) is int or ref[0] != "o":
            return ref
        new, offset = where[ref[1]]
        return ("o", new, offset + ref[2])

    tracer.steps = [(op, [renumber(r) for r in refs], *rest) for op, refs, *rest in new_steps]
    for key_, ref in list(tracer.slot_of.items()):
        tracer.slot_of[key_] = renumber(ref)
    for key_, ref in list(tracer.array_ref.items()):
        tracer.array_ref[key_] = renumber(ref)
    tracer.constant_steps = [where[k][0] for k in tracer.constant_steps]
    tracer.generators = [(where[k][0], generator) for k, generator in tracer.generators]
    return len(runs)
