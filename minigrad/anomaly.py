"""The checks behind ``detect_anomaly``: find the first NaN/Inf and name the op that made it.

The engine calls these only while anomaly mode is on (``mg.detect_anomaly()``,
per thread); they never run otherwise. Each error names the op, its name scope
(``lstm/l0/t37``) and statistics of the arrays involved.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from . import backend


class AnomalyError(RuntimeError):
    """A NaN or Inf appeared in a forward output or a gradient under detect_anomaly."""


def stats(arrays: Sequence[Any]) -> str:
    """``float32(2, 3) min=… max=… non-finite=1; …``: what a reader needs to find the bad value."""
    parts = []
    for a in arrays:
        if not backend.is_array(a):
            parts.append(repr(a))
            continue
        if a.size == 0 or a.dtype.kind not in "fc":
            parts.append(f"{a.dtype}{tuple(a.shape)}")
            continue
        finite = a[backend.array_module(a).isfinite(a)]
        span = f"min={float(finite.min()):.4g} max={float(finite.max()):.4g}" if finite.size else "no finite values"
        bad = a.size - finite.size
        parts.append(f"{a.dtype}{tuple(a.shape)} {span} non-finite={bad}")
    return "; ".join(parts)


def all_finite(a: Any) -> bool:
    if not backend.is_array(a) or a.dtype.kind not in "fc":
        return True
    return bool(backend.array_module(a).isfinite(a).all())


def where(name: str, scope: str) -> str:
    """``'matmul' in scope 'rnn/l0/t2'``."""
    return f"'{name}'" + (f" in scope '{scope}'" if scope else " (no name scope)")


def check_forward(name: str, scope: str, outputs: Sequence[Any], arrays: Sequence[Any]) -> None:
    """Raise if an op's forward produced NaN/Inf, saying whether an input already held one."""
    for y in outputs:
        if not all_finite(y):
            source = "" if all(all_finite(a) for a in arrays) else " (an input already held NaN/Inf)"
            raise AnomalyError(
                f"detect_anomaly: forward of {where(name, scope)} produced NaN/Inf{source}; "
                f"inputs: {stats(arrays)}"
            )


def check_backward(name: str, scope: str, grads_in: Sequence[Any], grads_out: Sequence[Any]) -> None:
    """Raise if an op's backward sent a NaN/Inf gradient to one of its inputs."""
    for i, g in enumerate(grads_in):
        if g is not None and not all_finite(g):
            incoming = [o for o in grads_out if o is not None]
            # each gradient was checked where it was made, so a bad incoming one is the sum over consumers
            source = "" if all(all_finite(o) for o in incoming) else \
                " (its incoming gradient, the sum over its output's consumers, already held NaN/Inf)"
            raise AnomalyError(
                f"detect_anomaly: backward of {where(name, scope)} produced a NaN/Inf gradient for "
                f"input {i}{source}; incoming gradients: {stats(incoming)}"
            )


def check_leaves(leaves: Iterable[Any]) -> None:
    """After a backward: a leaf's ``.grad`` sums all its uses (and earlier backward calls), which can
    overflow although every op's own gradient was finite."""
    for leaf in leaves:
        if leaf.grad is not None and not all_finite(leaf.grad.data):
            name = f"'{leaf.name}'" if leaf.name else "(unnamed)"
            raise AnomalyError(
                f"detect_anomaly: the gradient accumulated into leaf {name} of shape {leaf.shape} holds "
                f"NaN/Inf although each op's gradient was finite: the sum over its uses (e.g. a weight "
                f"shared by many time steps) or over backward calls overflowed; grad: {stats([leaf.grad.data])}"
            )
