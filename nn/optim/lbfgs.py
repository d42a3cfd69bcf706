"""L-BFGS, as ``torch.optim.LBFGS``: ``step(closure)`` runs up to ``max_iter`` quasi-Newton iterations.

L-BFGS keeps the last ``history_size`` pairs s = x_{k+1} - x_k, y = g_{k+1} - g_k
and applies the inverse-Hessian approximation they define to the gradient with
the two-loop recursion (Nocedal & Wright, Algorithm 7.4), starting from
H₀ = (sᵀy / yᵀy)·I. A pair is kept only when sᵀy > 1e-10 (the curvature
condition), so H stays positive definite. The step along the direction is
``lr`` (the first iteration: min(1, 1/‖g‖₁)·lr), or the step a strong-Wolfe
line search finds with ``line_search_fn="strong_wolfe"``.

The iteration and stopping rules are PyTorch's, so that both take the same
steps: stop after ``max_iter`` iterations or ``max_eval`` closure calls, when
max|g| ≤ ``tolerance_grad``, when the directional derivative is above
-``tolerance_change``, or when the step or the change of the loss falls below
``tolerance_change``. The history survives from one ``step`` to the next.

All parameters are viewed as one flat vector (in group order); they must share
one device and dtype. A complex parameter enters it as PyTorch's ``view_as_real``
does, its real and imaginary parts interleaved, so the vector, its dot products
and the state (``d``, ``prev_flat_grad``, the history) are real, as PyTorch's.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

import minigrad as mg

from .checks import check_count, check_number, invalid, is_number, param_label
from .line_search import Trial, divide, strong_wolfe
from .optimizer import Optimizer, bump_version, check_written

__all__ = ["LBFGS"]

_VECTORS = ("d", "prev_flat_grad")
_VECTOR_LISTS = ("old_dirs", "old_stps")
_NUMBERS = ("t", "H_diag", "prev_loss")


class LineSearchError(ValueError, RuntimeError):
    """An unknown ``line_search_fn``: ValueError here (refused by the constructor), RuntimeError in PyTorch (at
    the step that would search)."""


class LBFGS(Optimizer):
    """L-BFGS with an optional strong-Wolfe line search, as ``torch.optim.LBFGS`` (one parameter group only).

    ``step(closure)``: ``closure()`` clears the gradients, computes the loss,
    calls ``backward()`` and returns the loss; it runs several times per step.
    ``step`` returns the loss of its first call.
    """

    complex_as_real = True   # a complex parameter enters the flat vector as its real and imaginary parts, as PyTorch's

    def __init__(self, params: Iterable[Any], lr: float = 1, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None, *, check_finite: bool = False) -> None:
        if max_eval is None and isinstance(max_iter, (int, np.integer)) and not isinstance(max_iter, bool):
            max_eval = max_iter * 5 // 4
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change, history_size=history_size,
                                      line_search_fn=line_search_fn), check_finite=check_finite)

    def add_param_group(self, param_group: dict) -> None:
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups): "
                             "it optimizes all parameters as one vector")
        super().add_param_group(param_group)

    def _hyper(self, group: dict) -> dict:
        hyper = super()._hyper(group)
        for key in ("max_iter", "max_eval", "history_size"):
            value = hyper[key]
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:   # (a NumPy int too)
                raise invalid(value, f"{self._name}: invalid {key}={value!r} (must be an int >= 1)")
        for key in ("tolerance_grad", "tolerance_change"):
            if not is_number(hyper[key]) or not hyper[key] >= 0:
                raise invalid(hyper[key], f"{self._name}: invalid {key}={hyper[key]!r} (must be a number >= 0)")
        if hyper["line_search_fn"] not in (None, "strong_wolfe"):
            raise LineSearchError(f"{self._name}: line_search_fn={hyper['line_search_fn']!r}; only None and "
                                  "'strong_wolfe' are supported")
        return hyper

    # --- the parameters as one flat vector ---

    @property
    def _params(self) -> list[mg.Tensor]:
        return self.param_groups[0]["params"]

    def _check_params(self, where: str) -> None:
        first = self._params[0]
        for i, p in enumerate(self._params):
            if p.device != first.device or p.dtype != first.dtype:
                raise ValueError(f"{where}: {param_label(p, i)} is {p.dtype} on {p.device}, {param_label(first, 0)} "
                                 f"is {first.dtype} on {first.device}; LBFGS needs one dtype and device")
            check_written(p, i, where)

    def _flat_params(self) -> Any:
        xp = mg.array_module(self._params[0].data)
        return xp.concatenate([_as_real(xp, p.data) for p in self._params])

    def _flat_grad(self, where: str) -> Any:
        """Every gradient checked (shape, dtype, device, finiteness if asked), then concatenated; None counts as 0."""
        xp = mg.array_module(self._params[0].data)
        parts = []
        for i, p in enumerate(self._params):
            grad = self._grad_array(p, i, where)
            parts.append(xp.zeros(_real_size(p), dtype=p.data.real.dtype) if grad is None else _as_real(xp, grad))
        return xp.concatenate(parts)

    def _set_params(self, flat: Any) -> None:
        offset = 0
        for p in self._params:
            p.data[...] = _part(flat, offset, p)
            offset += _real_size(p)

    def _move(self, t: float, direction: Any) -> None:
        """x ← x + t·direction, parameter by parameter, in place."""
        offset = 0
        for p in self._params:
            p.data += t * _part(direction, offset, p)
            offset += _real_size(p)

    # --- the step ---

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """Run up to ``max_iter`` L-BFGS iterations; returns the first loss ``closure()`` gave.

        All-or-nothing: if a check or the closure raises, the parameters are put
        back as they were and the state is unchanged.
        """
        where = "LBFGS.step"
        if closure is None or not callable(closure):
            raise TypeError(f"{where}: needs a closure that clears the gradients, computes the loss, calls "
                            "backward() and returns the loss")
        hyper = self._checked_hyper(self.param_groups[0], "param_groups[0], checked by step()")
        self._check_params(where)
        first = self._params[0]
        state = self._checked_state(first, 0, self.state.get(first, {}), hyper, where)

        def evaluate() -> tuple[Any, float, Any]:
            with mg.enable_grad():
                loss = closure()
            with mg.no_grad():
                return loss, float(loss.item() if isinstance(loss, mg.Tensor) else loss), self._flat_grad(where)

        with mg.no_grad():
            start = self._flat_params()
        try:
            loss, new_state = self._iterate(evaluate, hyper, state)
        except BaseException:
            with mg.no_grad():
                self._set_params(start)
            raise
        finally:
            for p in self._params:
                bump_version(p)
        self.state[first] = new_state
        return loss

    def _iterate(self, evaluate: Callable[[], tuple[Any, float, Any]], hyper: dict, state: dict) -> tuple[Any, dict]:
        """The L-BFGS iterations of one ``step``; returns (first loss, new state) and leaves the parameters moved."""
        # a Tensor lr as a Python float: PyTorch's step lengths mix it with float64 0-d Tensors (1/|g|₁), which
        # win the promotion, so its arithmetic runs in float64 on the Tensor's value (Adam's runs in float32)
        lr, tolerance_change = float(hyper["lr"]), hyper["tolerance_change"]
        func_evals, n_iter = state.get("func_evals", 0), state.get("n_iter", 0)
        first_loss, loss, flat_grad = evaluate()
        func_evals += 1
        evals_this_step = 1
        if flat_grad.size == 0 or abs(flat_grad).max().item() <= hyper["tolerance_grad"]:
            return first_loss, {**state, "func_evals": func_evals, "n_iter": n_iter}
        xp = mg.array_module(flat_grad)
        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps = list(state.get("old_dirs", [])), list(state.get("old_stps", []))
        ro, h_diag = list(state.get("ro", [])), state.get("H_diag", 1)
        al = state.get("al")            # the two-loop's last alphas, kept in the state as PyTorch's (history_size long)
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")
        iteration = 0
        while iteration < hyper["max_iter"]:
            iteration += 1
            n_iter += 1
            if n_iter == 1:
                d = -flat_grad
                old_dirs, old_stps, ro, h_diag = [], [], [], 1     # (an int until a pair is kept, as PyTorch's)
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = y @ s                  # 0-d in the vectors' dtype, as PyTorch's y.dot(s) (ro and H_diag too)
                if float(ys) > 1e-10:       # curvature condition: keep the pair
                    if len(old_dirs) == hyper["history_size"]:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(xp.asarray(1.0 / ys))     # (0-d arrays: Tensors in the state dict, as PyTorch's)
                    h_diag = xp.asarray(ys / (y @ y))
                d, alphas = _two_loop(-flat_grad, old_dirs, old_stps, ro, h_diag)
                al = list(al) if al is not None else [None] * hyper["history_size"]
                al[:len(alphas)] = [xp.asarray(a, dtype=d.dtype) for a in alphas]   # 0-d arrays, as PyTorch's
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss
            if n_iter == 1:
                # PyTorch's min(1, 1/|g|₁)·lr: a 0-d Tensor of g's dtype where 1/|g|₁ < 1, its product with lr too
                # (kept a NumPy scalar of that dtype: the line search then computes in it, as PyTorch's)
                dtype, wide = flat_grad.dtype.type, xp.promote_types(flat_grad.dtype, xp.float32).type
                inverse = dtype(divide(1.0, xp.abs(flat_grad).sum().item()))
                t = dtype(wide(inverse) * wide(lr)) if inverse < 1.0 else lr
            else:
                t = lr
            slope = flat_grad.dtype.type((flat_grad @ d).item())   # (a 0-d Tensor in PyTorch's)
            if slope > -tolerance_change:   # not a descent direction (any more)
                break
            if hyper["line_search_fn"] is not None:
                x = self._flat_params()

                def along(step: float, x: Any = x, d: Any = d) -> tuple[float, Any]:
                    self._move(step, d)
                    _, value, grad = evaluate()
                    self._set_params(x)
                    return value, grad

                # the search's evaluations count against max_eval, as PyTorch's (max_ls=max_eval - evaluations so
                # far): with max_eval=1 the first trial step is taken as it is
                # the start is at the int t = 0, as PyTorch's, so a search that keeps it leaves state['t'] the int 0
                found, ls_evals = strong_wolfe(along, d, t, Trial(0, loss, flat_grad, slope),
                                               max_ls=max(hyper["max_eval"] - evals_this_step, 0))
                loss, flat_grad, t = found.loss, found.grad, found.t
                self._move(t, d)
                optimal = abs(flat_grad).max().item() <= hyper["tolerance_grad"]
            else:
                self._move(t, d)
                ls_evals = 0
                optimal = False
                if iteration != hyper["max_iter"]:
                    # the loss and gradient at the new point start the next iteration
                    _, loss, flat_grad = evaluate()
                    optimal = abs(flat_grad).max().item() <= hyper["tolerance_grad"]
                    ls_evals = 1
            evals_this_step += ls_evals
            func_evals += ls_evals
            if (iteration == hyper["max_iter"] or evals_this_step >= hyper["max_eval"] or optimal
                    or abs(d * t).max().item() <= tolerance_change or abs(loss - prev_loss) < tolerance_change):
                break
        # t is a NumPy scalar where PyTorch's is a 0-d Tensor (a first step, a trial the search computed): kept so
        new_state = {"func_evals": func_evals, "n_iter": n_iter, "d": d,
                     "t": xp.asarray(t) if isinstance(t, np.generic) else t, "old_dirs": old_dirs,
                     "old_stps": old_stps, "ro": ro, "H_diag": h_diag, "prev_flat_grad": prev_flat_grad,
                     "prev_loss": prev_loss}
        if al is not None:
            new_state["al"] = al
        return first_loss, new_state

    # --- state: one entry, under the first parameter, for the whole vector ---

    def _state_keys(self, hyper: dict) -> tuple[set, set]:
        return {"func_evals", "n_iter"}, {*_VECTORS, *_VECTOR_LISTS, *_NUMBERS, "ro", "al"}

    def _checked_state(self, p: mg.Tensor, index: int, entries: Any, hyper: dict, where: str) -> dict:
        """A loaded LBFGS state (kept on the first parameter, as PyTorch's), checked and converted: the counts,
        the vectors over all parameters (size,) in ``p``'s device and real dtype, the numbers and the history
        lists; H_diag, ``ro`` and ``al`` as 0-d arrays in d's dtype, as the step makes them."""
        if not isinstance(entries, dict) or not entries:
            return super()._checked_state(p, index, entries, hyper, where)
        required, optional = self._state_keys(hyper)
        label = "LBFGS state"
        missing, unknown = sorted(required - entries.keys()), sorted(set(entries) - required - optional)
        if missing or unknown:
            raise ValueError(f"{where}: {label} lacks {missing} / has unknown entries {unknown}")
        if index != 0:
            raise ValueError(f"{where}: {label} belongs to the first parameter, found it for parameter {index}")
        size = sum(_real_size(q) for q in self._params)
        converted = {key: check_count(entries[key], f"{where}: {label} {key!r}", integral=True)
                     for key in ("func_evals", "n_iter")}
        if "d" not in entries:              # stopped at once so far: no direction, no history
            return converted
        problems = sorted({*_VECTORS, *_VECTOR_LISTS, *_NUMBERS, "ro"} - entries.keys())
        if problems:
            raise ValueError(f"{where}: {label} has a direction 'd' but lacks {problems}")
        for key in _VECTORS:
            converted[key] = self._checked_array(entries[key], p, f"{where}: {label} {key!r}", 0, shape=(size,))
        xp, dtype = mg.array_module(converted["d"]), converted["d"].real.dtype   # (complex parameters: real scalars)

        def scalar(v: Any, what: str) -> Any:
            """A 0-d array in d's dtype (as the step makes them: PyTorch's 0-d Tensors); None kept."""
            if v is None or (mg.is_array(v) and v.shape == () and v.dtype == dtype and mg.array_module(v) is xp):
                return v
            return xp.asarray(check_number(v, what), dtype)

        for key in _NUMBERS:
            value, what = entries[key], f"{where}: {label} {key!r}"
            if key != "prev_loss" and (mg.is_array(value) or isinstance(value, mg.Tensor)):
                converted[key] = scalar(value, what)    # t and H_diag: PyTorch's 0-d Tensors stay 0-d arrays
            elif key == "H_diag" and type(value) is int:
                converted[key] = value                  # 1 until a curvature pair is kept, as PyTorch's
            else:
                converted[key] = check_number(value, what)
        lists = {key: entries[key] for key in (*_VECTOR_LISTS, "ro")}
        if not all(isinstance(v, (list, tuple)) for v in lists.values()) or len({len(v) for v in lists.values()}) != 1:
            raise ValueError(f"{where}: {label} 'old_dirs', 'old_stps' and 'ro' must be lists of one length")
        for key in _VECTOR_LISTS:
            converted[key] = [self._checked_array(v, p, f"{where}: {label} {key}[{i}]", 0, shape=(size,))
                              for i, v in enumerate(entries[key])]
        if p.dtype.kind == "c":             # the vectors are real (a loaded state may come in p's complex dtype)
            xp = mg.array_module(p.data)
            for key in (*_VECTORS, *_VECTOR_LISTS):
                value = converted[key]
                converted[key] = [xp.ascontiguousarray(v.real) for v in value] if isinstance(value, list) else \
                    xp.ascontiguousarray(value.real)
        # 1/(yᵀs) of each pair: 0-d arrays, as the step makes them (a Python float would not keep d's dtype)
        converted["ro"] = [scalar(v, f"{where}: {label} ro[{i}]") for i, v in enumerate(entries["ro"])]
        if "al" in entries:
            if not isinstance(entries["al"], (list, tuple)):
                raise ValueError(f"{where}: {label} 'al' must be a list, got {type(entries['al']).__name__}")
            converted["al"] = [scalar(v, f"{where}: {label} al[{i}]") for i, v in enumerate(entries["al"])]
        return converted


def _real_size(p: mg.Tensor) -> int:
    """How many entries ``p`` takes in the flat vector: 2 per complex element."""
    return p.data.size * (2 if p.dtype.kind == "c" else 1)


def _as_real(xp: Any, array: Any) -> Any:
    """``array`` flat, a complex one as ``view_as_real(array).view(-1)`` (real and imaginary parts interleaved)."""
    flat = xp.ascontiguousarray(array).reshape(-1)
    return flat.view(flat.real.dtype) if flat.dtype.kind == "c" else flat


def _part(flat: Any, offset: int, p: mg.Tensor) -> Any:
    """``p``'s slice of the flat vector in ``p``'s shape (and complex dtype)."""
    part = flat[offset:offset + _real_size(p)]
    return (part.view(p.dtype) if p.dtype.kind == "c" else part).reshape(p.shape)


def _two_loop(q: Any, old_dirs: list, old_stps: list, ro: list, h_diag: float) -> tuple[Any, list]:
    """(H·q, the alphas) for the L-BFGS inverse-Hessian approximation H built from pairs (s, y) = (old_stps, old_dirs).

    The coefficients are 0-d in q's dtype on its device (without a host read per pair), as PyTorch's 0-d Tensors
    (its ro, H_diag and alphas: float32 for float32 parameters, rounded there)."""
    alphas: list = [None] * len(old_dirs)
    for i in range(len(old_dirs) - 1, -1, -1):
        alphas[i] = (old_stps[i] @ q) * ro[i]
        q = _added(q, old_dirs[i], -alphas[i])
    r = q * h_diag
    for i in range(len(old_dirs)):
        beta = (old_dirs[i] @ r) * ro[i]
        r = _added(r, old_stps[i], alphas[i] - beta)
    return r, alphas


def _added(x: Any, v: Any, a: Any) -> Any:
    """x + a·v, as PyTorch's ``x.add_(v, alpha=a)`` with a 0-d ``a`` of x's dtype (computed in float32 for float16)."""
    wide = mg.array_module(x).promote_types(x.dtype, "float32")
    return (x + a.astype(wide) * v).astype(x.dtype, copy=False)
