"""Adafactor (Shazeer & Stern 2018), as ``torch.optim.Adafactor``: second moments kept as a row and a
column factor for parameters of two or more dims, so their state is O(n + m), not O(n·m)."""

from __future__ import annotations

from typing import Any, Iterable

import minigrad as mg

from .checks import check_count, invalid, is_number, param_label
from .optimizer import Optimizer, StateShapeError, _python_number, lerp_, plus_, scale_type
from .ported import check_implementation


class FactorStateError(ValueError, AssertionError):
    """A loaded state whose moments are not those of its parameter's shape (a vector's ``variance`` for a matrix, its
    ``row_var``/``col_var`` for a vector: a state dict of another model, or its groups in another order): ValueError
    here, refused at the load; PyTorch loads it and its step raises AssertionError."""


__all__ = ["Adafactor"]


def _factor_shapes(shape: tuple) -> dict[str, tuple]:
    """The second-moment state of a parameter of ``shape``, by PyTorch's names: ``row_var`` (..., n, 1) and
    ``col_var`` (..., 1, m) for 2 or more dims, else ``variance`` of the parameter's shape."""
    if len(shape) > 1:
        return {"row_var": (*shape[:-1], 1), "col_var": (*shape[:-2], 1, shape[-1])}
    return {"variance": tuple(shape)}


def _norm(xp: Any, array: Any, axis: int | None = None) -> Any:
    """The 2-norm (over ``axis``, kept; or of everything), as ``torch.norm`` computes it: √(Σx²), for float16 in
    float32 and rounded once."""
    wide = array.astype(xp.promote_types(array.dtype, xp.float32), copy=False)
    squares = wide * wide
    total = squares.sum() if axis is None else squares.sum(axis=axis, keepdims=True)
    return xp.sqrt(total).astype(array.dtype, copy=False)


def _is_number_pair(eps: Any) -> bool:
    """``eps`` is two values, the first a number or None and the second a number (perhaps out of range)."""
    return (isinstance(eps, (tuple, list)) and len(eps) == 2 and (eps[0] is None or is_number(eps[0]))
            and is_number(eps[1]))


class Adafactor(Optimizer):
    """Adafactor, as ``torch.optim.Adafactor`` (its defaults, its use of ``lr`` and ``eps``).

    At step t with G the gradient (negated with ``maximize``):
    β̂₂ = 1 - t^beta2_decay, ρ = min(lr, 1/√t), α = max(eps2, RMS(p))·ρ (before decay),
    p ← p·(1 - lr·weight_decay);
    for p of 2+ dims (factored over the last two, (…, n, m)): R ← β̂₂R + (1-β̂₂)·mean_m(G²) (…, n, 1),
    C ← β̂₂C + (1-β̂₂)·mean_n(G²) (…, 1, m), V = R·C / max(mean_n(R), eps1);
    else V ← β̂₂V + (1-β̂₂)G² (the parameter's shape);
    U = G / max(√V, eps1), p ← p - α · U / max(1, RMS(U)/d).
    ``eps=(eps1, eps2)``; eps1=None means the machine epsilon of the group's (first stepped) dtype.
    State, by PyTorch's names: ``step`` and ``row_var``/``col_var`` or ``variance``.
    A complex parameter is taken by the constructor but refused by ``step()`` once it has a gradient, as PyTorch's.
    """

    accepts_complex = True   # the constructor takes a complex parameter, as PyTorch's; step() refuses it

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, beta2_decay: float = -0.8,
                 eps: tuple[float | None, float] = (None, 1e-3), d: float = 1.0, weight_decay: float = 0.0, *,
                 foreach: bool | None = None, maximize: bool = False, check_finite: bool = False) -> None:
        check_implementation("Adafactor", foreach)
        eps = tuple(eps) if isinstance(eps, list) else eps
        super().__init__(params, dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize), check_finite=check_finite)

    def add_param_group(self, param_group: dict) -> None:
        """As the base, but a group's own ``eps`` that is no pair of numbers (or None) is taken, as PyTorch takes
        it, and refused by ``step()`` (where PyTorch's unpacking of it raises); a pair of numbers out of range
        is refused here."""
        if not isinstance(param_group, dict) or "eps" not in param_group or _is_number_pair(param_group["eps"]):
            super().add_param_group(param_group)
            return
        super().add_param_group({**param_group, "eps": self.defaults["eps"]})
        self.param_groups[-1]["eps"] = param_group["eps"]

    def _hyper(self, group: dict) -> dict:
        eps = group.get("eps", self.defaults["eps"])
        hyper = super()._hyper({k: v for k, v in group.items() if k != "eps"})   # (the base wants one number)
        if not isinstance(eps, (tuple, list)) or len(eps) != 2:
            raise invalid(eps, f"{self._name}: eps must be a pair (eps1 or None, eps2), got {eps!r}", pair=True)
        eps1, eps2 = eps
        if eps1 is not None and (not is_number(eps1) or not 0.0 <= eps1 < float("inf")):
            raise invalid(eps1, f"{self._name}: epsilon1 should be None or a finite number >= 0 but is: {eps1!r}")
        if not is_number(eps2) or not 0.0 <= eps2 < float("inf"):
            raise invalid(eps2, f"{self._name}: epsilon2 should be a finite number >= 0 but is: {eps2!r}")
        beta2_decay, d = hyper["beta2_decay"], hyper["d"]
        if not is_number(beta2_decay) or not -float("inf") < beta2_decay <= 0.0:
            raise invalid(beta2_decay, f"{self._name}: beta2_decay should be a finite number <= 0 but is: "
                                       f"{beta2_decay!r}")
        if not is_number(d) or not 1.0 <= d < float("inf"):
            raise invalid(d, f"{self._name}: clipping threshold d should be a finite number >= 1 but is: {d!r}")
        hyper["eps"] = _python_number(tuple(eps))
        return hyper

    def _grad_array(self, p: mg.Tensor, index: int, where: str) -> Any:
        """As the base; a parameter with no elements is refused here, before any update (its step divides by its
        size: PyTorch's raises ZeroDivisionError in the middle of its step)."""
        grad = super()._grad_array(p, index, where)
        if grad is not None and p.data.size == 0:
            raise ZeroDivisionError(f"{where}: {param_label(p, index)} has no elements; "
                                    "Adafactor's step divides by a parameter's size (PyTorch's raises "
                                    "ZeroDivisionError too): leave it out of the optimizer or give it grad None")
        return grad

    def _checked_state(self, p: mg.Tensor, index: int, entries: Any, hyper: dict, where: str) -> dict:
        """``step`` and the factors of ``p``'s shape (:func:`_factor_shapes`), converted to ``p``'s device/dtype."""
        label = f"state[{index}]"
        if not isinstance(entries, dict):
            raise TypeError(f"{where}: {label} is a {type(entries).__name__}, not a dict")
        if not entries:
            return {}
        shapes = _factor_shapes(tuple(p.shape))
        expected = {"step", *shapes}
        if entries.keys() != expected:
            raise FactorStateError(f"{where}: {label} (of {param_label(p, index)}) must hold {sorted(expected)} (the "
                             f"second moments of a {len(p.shape)}-dim parameter), it has {sorted(entries)}")
        converted = {}
        for key, value in entries.items():
            if key == "step":
                converted[key] = check_count(value, f"{where}: {label}['step']")
                continue
            array = value.data if isinstance(value, mg.Tensor) else value
            if mg.is_array(array) and tuple(array.shape) != shapes[key]:
                raise StateShapeError(f"{where}: {label}[{key!r}] has shape {tuple(array.shape)}; "
                                      f"{param_label(p, index)} needs {shapes[key]}")
            converted[key] = self._checked_array(value, p, f"{where}: {label}[{key!r}]", index, shape=shapes[key])
        return converted

    def _update(self, param: Any, grad: Any, state: dict, hyper: dict) -> None:
        xp = mg.array_module(param)
        g = -grad if hyper["maximize"] else grad
        lr, weight_decay, d = hyper["lr"], hyper["weight_decay"], hyper["d"]
        eps1, eps2 = hyper["eps"]
        if eps1 is None:
            # PyTorch's: the first parameter stepped in the group fixes it for the whole group
            eps1 = hyper.setdefault("_machine_eps", float(xp.finfo(param.dtype).eps))
        if not state:
            state["step"] = 0
            for key, shape in _factor_shapes(param.shape).items():
                state[key] = xp.zeros(shape, dtype=param.dtype)
        step = state["step"] = state["step"] + 1
        t = float(step)
        weight = t ** hyper["beta2_decay"]          # 1 - β̂₂
        rho = min(lr, 1 / t ** 0.5)
        alpha = max(eps2, _norm(xp, param).item() / param.size ** 0.5) * rho
        if weight_decay != 0:
            param *= scale_type(param, hyper)(1 - lr * weight_decay)
        if g.ndim > 1:
            row_var, col_var = state["row_var"], state["col_var"]
            row_mean = _norm(xp, g, axis=-1)
            row_mean *= row_mean
            row_mean /= g.shape[-1]
            lerp_(row_var, row_mean, weight)
            col_mean = _norm(xp, g, axis=-2)
            col_mean *= col_mean
            col_mean /= g.shape[-2]
            lerp_(col_var, col_mean, weight)
            estimate = row_var @ col_var            # (…, n, 1) @ (…, 1, m): the outer product
            estimate /= xp.maximum(row_var.mean(axis=-2, keepdims=True), eps1)
        else:
            variance = state["variance"]
            lerp_(variance, g * g, weight)
            estimate = variance.copy()
        # eps1 squared: it bounds √V below by eps1
        xp.maximum(estimate, eps1 * eps1, out=estimate)
        # rsqrt_: 1/√x, for float16 in float32 and rounded once
        root = estimate if estimate.dtype.itemsize >= 4 else estimate.astype(xp.float32)   # (a new array)
        xp.sqrt(root, out=root)
        update = xp.divide(1, root, out=root).astype(param.dtype, copy=False)
        update *= g
        denom = max(1.0, _norm(xp, update).item() / (update.size ** 0.5 * d))
        if hyper["foreach"]:    # PyTorch's foreach step: the update scaled in place (see scale_type), then added
            update *= scale_type(param, hyper)(-alpha / denom)
            param += update
        else:
            plus_(param, update, -alpha / denom)
